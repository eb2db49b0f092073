"""Turns a grade report into Gradescope's results.json, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type hints only: the writers below serve callers that never grade (grade-all's parent)
    from autograder.config import Config
    from autograder.grader import GradeReport

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "gradescope_results.schema.json"


def top_output(files_found: list[str], notes: list[str], score: float, max_score: float,
               student_output: str) -> str:
    """What the student sees above the tests: files graded, problems, the score, printed output."""
    lines = [f"Graded files: {', '.join(files_found) or 'none'}", *notes, f"Score: {score:g} / {max_score:g}"]
    if student_output:
        lines.append("Output printed by your code (public tests only, trimmed):\n" + student_output)
    return "\n".join(lines)


def to_gradescope(report: GradeReport, config: Config) -> dict:
    """The results.json document: top-level score, output and one entry per test."""
    tests = []
    for r in report.tests:
        tests.append({
            "name": r.spec.full_name,
            "score": r.score,
            "max_score": r.spec.points,
            "status": "passed" if r.passed else "failed",
            "output": r.output,
            "visibility": config.hidden_visibility if r.spec.hidden else "visible",
        })
    return {
        "score": report.score,
        "execution_time": round(report.seconds, 3),
        "output": top_output(report.files_found, report.notes, report.score, report.max_score,
                             report.student_output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_text_atomic(path: str | Path, text: str, mode: int | None = None) -> None:
    """Write to a temporary file beside the target (with ``mode``, if given), then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json_atomic(path: str | Path, document: dict, mode: int | None = None) -> None:
    """Write JSON atomically (see write_text_atomic)."""
    write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n", mode)
