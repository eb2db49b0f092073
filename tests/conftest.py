"""Shared helpers: paths, building submissions from the reference, running the real grader."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "assignments" / "hw_rnn" / "assignment.yaml"
SOLUTIONS = ROOT / "solutions" / "hw_rnn"
TEMPLATES = ROOT / "student_templates" / "hw_rnn"
SCHEMA = ROOT / "autograder" / "schema" / "gradescope_results.schema.json"
FILES = ("rnn_layers.py", "lstm_layers.py", "char_rnn.py", "sequence_models.py", "quiz.py")


def make_submission(folder: Path, edits: list[dict] = (), base: Path = SOLUTIONS) -> Path:
    """Copy a submission (the reference by default) and apply text edits {file, find, replace}."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(base / name, folder / name)
    for edit in edits:
        path = folder / edit["file"]
        text = path.read_text()
        assert text.count(edit["find"]) == 1, f"{edit['find']!r} must occur once in {edit['file']}"
        path.write_text(text.replace(edit["find"], edit["replace"]))
    return folder


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m autograder ...` as a user would."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def grade_cli(submission: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Grade through the command line; return the process and the parsed results.json."""
    results = tmp_path / f"results_{submission.name}.json"
    proc = run_cli("grade", str(submission), "--results", str(results), "--quiet", *extra)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(results.read_text())


def write_config(tmp_path: Path, **changes) -> Path:
    """A copy of the assignment config with absolute paths and top-level sections changed."""
    raw = yaml.safe_load(CONFIG.read_text())
    raw["reference"] = str(SOLUTIONS)
    raw["templates"] = str(TEMPLATES)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    path = tmp_path / "assignment.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def lost_functions(results: dict) -> set[str]:
    """The functions that lost any points."""
    return {t["name"].split(":", 1)[0] for t in results["tests"] if t["score"] < t["max_score"]}


@pytest.fixture(scope="session")
def validate_results():
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))

    def check(document: dict) -> None:
        errors = sorted(validator.iter_errors(document), key=str)
        assert not errors, "\n".join(e.message for e in errors[:5])

    return check


@pytest.fixture(scope="session")
def config():
    from autograder.cli import _config

    return _config(str(CONFIG))
