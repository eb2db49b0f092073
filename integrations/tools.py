"""Drives the real otter-grader and nbgrader command lines on the homework (for tests and benchmarks).

The assignment is the Config's (``config.assignment``, whose notebook is
``notebooks.notebook_name(config)``): hw_rnn, hw_seq2seq or any other.
Every function runs the tools' own commands in subprocesses, with this
interpreter's environment (its bin folder first on PATH: nbgrader runs
``alembic`` by name), and reads their own outputs back: otter's results.json,
nbgrader's gradebook through ``nbgrader export``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder.config import Config
from autograder.grading.grader import grade
from autograder.integrations.notebooks import dumps, notebook_name, stage_nbgrader, stage_otter

# CPython 3.11's ast module is not thread-safe (two threads parsing at once can raise "SystemError: AST
# constructor recursion depth mismatch"): the in-process steps of the two tools' runs (staging a release,
# filling notebooks) take turns under this lock; their subprocesses still run side by side.
IN_PROCESS = threading.Lock()


class ToolError(Exception):
    """A tool's command failed; the message holds its output."""


def tool_env(python: str = sys.executable) -> dict[str, str]:
    """This process's environment with ``python``'s bin folder first on PATH and no checks folder forced."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("AUTOGRADER_CHECKS", None)  # each tool finds its own checks folder
    return env


def run(args: list[str], cwd: Path, timeout: float = 600, python: str = sys.executable) -> subprocess.CompletedProcess:
    """``python -m ARGS`` (this interpreter's by default), which must exit 0."""
    proc = subprocess.run([python, "-m", *args], cwd=cwd, env=tool_env(python), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise ToolError(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


# -- otter-grader ------------------------------------------------------------------
def otter_assign(build: Path, config: Config, run_tests: bool = True) -> tuple[Path, Path]:
    """`otter assign` on the staged master notebook: (the autograder zip, the student folder).

    ``run_tests``: otter's own check that the master's solutions get full marks (it grades the autograder
    notebook as `otter run` would: about 5 s of CPU); False (``--no-run-tests``) where the caller needs only the
    release or grades the reference through `otter run` itself.
    """
    with IN_PROCESS:
        master = stage_otter(build / "src", config)
    run(["otter", "assign", *([] if run_tests else ["--no-run-tests"]), str(master.relative_to(build)), "dist"],
        cwd=build)
    zips = sorted((build / "dist" / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise ToolError(f"otter assign made {len(zips)} autograder zips")
    return zips[0], build / "dist" / "student"


def otter_run(autograder_zip: Path, notebook: Path, out: Path, python: str = sys.executable) -> dict[str, float]:
    """`otter run` on one notebook: the score of each question (one question per function)."""
    out.mkdir(parents=True, exist_ok=True)
    run(["otter", "run", "--no-logo", "-a", str(autograder_zip), "-o", str(out), str(notebook)], cwd=out,
        python=python)
    results = json.loads((out / "results.json").read_text())
    return {t["name"]: float(t["score"]) for t in results["tests"] if "score" in t}


# -- nbgrader ------------------------------------------------------------------------
def nbgrader_course(course: Path, config: Config) -> Path:
    """A course folder with the assignment generated: the notebook of release/<assignment>, what students get."""
    with IN_PROCESS:
        stage_nbgrader(course, config)
    run(["nbgrader", "generate_assignment", config.assignment], cwd=course)
    return course / "release" / config.assignment / notebook_name(config)


def nbgrader_submitted(course: Path, student: str, config: Config) -> Path:
    """Where a student's notebook lies in the course folder: submitted/<student>/<assignment>/<notebook>."""
    return course / "submitted" / student / config.assignment / notebook_name(config)


def nbgrader_submit(course: Path, student: str, notebook: dict, config: Config) -> Path:
    """Hand in a notebook (nbformat's dict) for ``student``, as `nbgrader collect` would place it; its path."""
    path = nbgrader_submitted(course, student, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(notebook))
    return path


def nbgrader_grade(course: Path, config: Config) -> tuple[dict, dict]:
    """`nbgrader autograde` of every submission, then `nbgrader export`: per-function scores and totals."""
    run(["nbgrader", "autograde", config.assignment], cwd=course)
    run(["nbgrader", "export", "--exporter=function_scores_export.FunctionScoresExport", "--to=function_scores.csv"],
        cwd=course)
    run(["nbgrader", "export", "--to=grades.csv"], cwd=course)
    by_function: dict[str, dict[str, float]] = {}
    with open(course / "function_scores.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_function.setdefault(row["student_id"], {})[row["function"]] = float(row["score"])
    with open(course / "grades.csv", newline="") as f:
        totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    return by_function, totals


def copy_tree(source: Path, dest: Path) -> Path:
    """A copy of a folder (a tool's student folder, say), without Python's caches."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# -- all three on the same submissions ------------------------------------------------
def native_scores(notebook: Path, config: Config) -> dict[str, float]:
    """The native grader's points per function on one notebook (the one a tool graded)."""
    scores: dict[str, float] = {}
    for r in grade(notebook, config).tests:
        scores[r.spec.function] = scores.get(r.spec.function, 0.0) + r.score
    return scores


def grade_with_every_tool(root: Path, folders: dict[str, Path], config: Config,
                          through_otter: Callable[..., dict], through_nbgrader: Callable[..., dict]) -> dict:
    """Both tools on the same submissions, then the native grader on the very notebooks each tool graded.

    ``through_otter(root, folders, config, pool)`` and ``through_nbgrader(root, folders, config)`` return at least
    ``{"paths": {name: notebook}}``; the result is ``{"otter": ..., "nbgrader": ..., "native": {(tool, name):
    scores}}``.  Both tools at once, and two otter runs at a time: the work is mostly starting Python processes.
    """
    with ThreadPoolExecutor(max_workers=2) as runs, ThreadPoolExecutor(max_workers=1) as side:
        nbgrader_job = side.submit(through_nbgrader, root, folders, config)
        otter = through_otter(root, folders, config, runs)
        nbgrader = nbgrader_job.result()
    native = {(tool, name): native_scores(path, config)
              for tool, run in (("otter", otter), ("nbgrader", nbgrader)) for name, path in run["paths"].items()}
    return {"otter": otter, "nbgrader": nbgrader, "native": native}
