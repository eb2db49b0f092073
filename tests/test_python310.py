"""The grader runs on Python 3.10, Gradescope's default (HW_PY310 names that interpreter)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import ROOT, SOLUTIONS, TEMPLATES

PY310 = os.environ.get("HW_PY310", "")


@pytest.mark.skipif(not PY310, reason="HW_PY310 is not set (make test sets it when a Python 3.10 exists)")
@pytest.mark.parametrize("submission,full", [(SOLUTIONS, True), (TEMPLATES, False)], ids=["reference", "templates"])
def test_grade_under_python310(submission, full, tmp_path):
    version = subprocess.run([PY310, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == "(3, 10)"
    results = tmp_path / "r.json"
    proc = subprocess.run([PY310, "-m", "autograder", "grade", str(submission), "--results", str(results), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    total = sum(t["max_score"] for t in data["tests"])
    assert data["score"] == (total if full else 0)


@pytest.mark.skipif(not PY310, reason="HW_PY310 is not set (make test sets it when a Python 3.10 exists)")
def test_notebook_grading_and_kernel_checks_under_python310(tmp_path, config):
    """The native grader on a filled notebook, and the checks a notebook kernel runs, both on 3.10."""
    from autograder.notebooks import NBGRADER_SOURCE

    results = tmp_path / "r.json"
    proc = subprocess.run([PY310, "-m", "autograder", "grade", str(NBGRADER_SOURCE), "--results", str(results),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(results.read_text())["score"] == config.max_score
    script = f"""
import os
from pathlib import Path
from autograder import checks_api, recorded
from autograder.cli import _config
config = _config(None)
assert all(r.passed for r in recorded.write(Path({str(tmp_path / "checks")!r}), config, public_only=False))
os.environ["HW_RNN_CHECKS"] = {str(tmp_path / "checks")!r}
namespace = {{}}
for name in config.files:
    exec((Path({str(SOLUTIONS)!r}) / name).read_text(), namespace)
for test in config.tests:
    checks_api.run_test(test.function, test.name, namespace)
print("ran", len(config.tests))
"""
    proc = subprocess.run([PY310, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ran {len(config.tests)}"
