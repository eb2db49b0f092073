"""The grader runs on Python 3.10, Gradescope's default (HW_PY310 names that interpreter)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, SOLUTIONS, TEMPLATES, make_submission

PY310 = os.environ.get("HW_PY310", "")


def config_points() -> float:
    import yaml
    from conftest import CONFIG

    return sum(t["points"] for q in yaml.safe_load(CONFIG.read_text())["questions"] for t in q["tests"])


@pytest.mark.skipif(not PY310, reason="HW_PY310 is not set (make test sets it when a Python 3.10 exists)")
@pytest.mark.parametrize("submission,full", [(SOLUTIONS, True), (TEMPLATES, False)], ids=["reference", "templates"])
def test_grade_under_python310(submission, full, tmp_path):
    version = subprocess.run([PY310, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == "(3, 10)"
    results = tmp_path / "r.json"
    # The child runs on 3.10 too; pyenv's 3.10 is private to root here, so it keeps the grader's identity.
    env = {**os.environ, "AUTOGRADER_CHILD_PYTHON": "", "AUTOGRADER_DROP_PRIVILEGES": "0"}
    proc = subprocess.run([PY310, "-m", "autograder", "grade", str(submission), "--results", str(results), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    total = sum(t["max_score"] for t in data["tests"])
    assert data["score"] == (total if full else 0)


# one_hot indexing with a starred item (PEP 646): valid from Python 3.11, a SyntaxError in 3.10.
STAR_INDEX = [{"file": "char_rnn.py", "find": "    np.put_along_axis(out, indices[..., None], 1.0, axis=-1)\n",
               "replace": "    idx = np.indices(indices.shape, sparse=True)\n    out[*idx, indices] = 1.0\n"}]


@pytest.mark.skipif(not PY310, reason="HW_PY310 is not set (make test sets it when a Python 3.10 exists)")
def test_a_starred_index_is_named_before_and_when_310_fails_on_it(tmp_path):
    """Valid in the student's 3.11, where the grader's note warns of it; a SyntaxError in Gradescope's 3.10, whose
    message names the Python and the construct."""
    submission = make_submission(tmp_path / "star", STAR_INDEX)
    env = {**os.environ, "AUTOGRADER_CHILD_PYTHON": "", "AUTOGRADER_DROP_PRIVILEGES": "0"}
    for python in (PY310, sys.executable):
        results = tmp_path / f"{os.path.basename(python)}.json"
        proc = subprocess.run([python, "-m", "autograder", "grade", str(submission), "--results", str(results),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env=env if python == PY310 else os.environ)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(results.read_text())
        note = "char_rnn.py line 43: a starred item inside the brackets of an index"
        assert (note in data["output"]) == (python != PY310), data["output"]  # 3.10 cannot parse it to look
        one_hot = [t for t in data["tests"] if t["name"].startswith("one_hot:") and t["visibility"] == "visible"]
        if python == PY310:
            assert all(t["score"] == 0 for t in one_hot)
            assert all("Python 3.10" in t["output"] and "a starred index a[*i, j] (3.11)" in t["output"]
                       for t in one_hot), one_hot
        else:
            assert all(t["score"] == t["max_score"] for t in one_hot), one_hot


@pytest.mark.skipif(not PY310, reason="HW_PY310 is not set (make test sets it when a Python 3.10 exists)")
def test_grade_all_under_python310(tmp_path):
    from conftest import make_submission

    make_submission(tmp_path / "class" / "good")
    make_submission(tmp_path / "class" / "blank", base=TEMPLATES)
    (tmp_path / "class" / "broken.zip").write_bytes(b"not a zip")
    out = tmp_path / "out"
    proc = subprocess.run([PY310, "-m", "autograder", "grade-all", str(tmp_path / "class"), "--out", str(out),
                           "--jobs", "2", "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr  # the broken zip is an error row
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    full = f"{config_points():g}"
    assert [rows["good"]["total"], rows["good"]["max"]] == [full, full]
    assert [rows["blank"]["total"], rows["blank"]["max"]] == ["0", full]
    assert rows["broken"]["status"] == "error"
    assert (out / "charts" / "score_histogram.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not PY310, reason="HW_PY310 is not set (make test sets it when a Python 3.10 exists)")
def test_notebook_grading_and_kernel_checks_under_python310(tmp_path, config):
    """The native grader on a filled notebook, and the checks a notebook kernel runs, both on 3.10."""
    from conftest import NBGRADER_SOURCE

    results = tmp_path / "r.json"
    proc = subprocess.run([PY310, "-m", "autograder", "grade", str(NBGRADER_SOURCE), "--results", str(results),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(results.read_text())["score"] == config.max_score
    script = f"""
import os
from pathlib import Path
from autograder import checks_api
from autograder.integrations import notebooks
from autograder.config import command_config
config = command_config(None)
notebooks.write_checks(Path({str(tmp_path / "checks")!r}), config, public_only=False)
os.environ["AUTOGRADER_CHECKS"] = {str(tmp_path / "checks")!r}
namespace = notebooks.run_as_cells(Path({str(SOLUTIONS)!r}), config.files)
for test in config.tests:
    checks_api.run_test(test.function, test.name, namespace)
print("ran", len(config.tests))
"""
    proc = subprocess.run([PY310, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ran {len(config.tests)}"


@pytest.mark.skipif(not PY310, reason="HW_PY310 is not set (make test sets it when a Python 3.10 exists)")
def test_otter_run_under_python310(tmp_path, config):
    """otter-grader 7.0.0 grades the notebook on 3.10 too (nbgrader 0.9.6 needs 3.11: not here)."""
    from autograder.integrations.notebooks import dumps, fill
    from integrations import tools

    # Built on this Python; the reference is graded below, on 3.10, so otter assign need not grade it on this one.
    autograder_zip, student = tools.otter_assign(tmp_path / "otter", config, run_tests=False)
    notebook = tmp_path / "submission" / "hw_rnn.ipynb"
    notebook.parent.mkdir()
    notebook.write_text(dumps(fill(student / "hw_rnn.ipynb", SOLUTIONS, config.files)))
    scores = tools.otter_run(autograder_zip, notebook, tmp_path / "out", python=PY310)
    assert scores == config.function_points
