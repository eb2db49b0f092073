"""hw_seq2seq gets the same score per function from the native grader, otter-grader and nbgrader.

The round trips of tests/test_tool_parity.py (hw_rnn) on the second assignment, whose notebooks
autograder/integrations/notebooks.py builds from assignments/hw_seq2seq/: `otter assign` then `otter run`
on each filled notebook, `nbgrader generate_assignment` then `nbgrader autograde` and `nbgrader export`
on all of them, and the native grader on the very notebooks each tool graded.  The submissions are the
reference, the untouched template and mutants of tests/corpus/mutants_seq2seq.yaml (one in `make test`,
all with `make parity`), each graded once per tool.  `otter assign` skips its own grading of the master's
solutions (``--no-run-tests``): the reference's `otter run` shows the same full marks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tool_releases
from seq2seq_support import MUTANTS as CORPUS
from seq2seq_support import make_submission

from autograder.config import command_config
from autograder.integrations.notebooks import dumps, fill, notebook_name
from integrations import tools

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="nbgrader 0.9.6 needs Python 3.11 or newer")

BY_NAME = {m["name"]: m for m in CORPUS}
# `make test`: one mutant, a bug in a function of one file (encoder.py) that a function of another file
# (seq2seq.py's seq2seq_loss, then train_seq2seq) calls: in the notebooks the files are cells that import
# each other by name.  `make parity` (HW_PARITY_ALL=1): the whole corpus.
MUTANTS = [m["name"] for m in CORPUS] if os.environ.get("HW_PARITY_ALL") else [
    "encoder_backward_no_recurrent_gradient"]
SUBMISSIONS = ["reference", "template", *MUTANTS]


@pytest.fixture(scope="module")
def s2s_config(tmp_path_factory):
    """hw_seq2seq's config with time limits no machine load reaches (as test_seq2seq_grader's untimed_config):
    three graders run at once here, and this module is about what each computes, not how fast.  The tools'
    checks folders are written from this same config, so all three grade under the same limits."""
    config = command_config(None, assignment="hw_seq2seq")
    limits = dataclasses.replace(config.limits, call_seconds=600.0, batch_seconds=600.0, cpu_seconds=3600)
    return dataclasses.replace(config, limits=limits)


def _notebooks(student_notebook: Path, folders: dict[str, Path], config) -> dict[str, dict]:
    """Each submission as a filled copy of a tool's student notebook; the template is that notebook untouched."""
    with tools.IN_PROCESS:  # the other tool's thread may be parsing too (tools.IN_PROCESS)
        notebooks = {"template": json.loads(student_notebook.read_text())}
        for name, folder in folders.items():
            notebooks[name] = fill(student_notebook, folder, config.files)
        return notebooks


def _through_otter(root: Path, folders: dict[str, Path], config, pool: ThreadPoolExecutor) -> dict:
    # The reference goes through `otter run` below (full marks asserted): otter assign need not grade it first.
    autograder_zip, student = tools.otter_assign(root / "otter", config, run_tests=False)
    paths = {}
    for name, notebook in _notebooks(student / notebook_name(config), folders, config).items():
        paths[name] = root / "otter_submissions" / name / notebook_name(config)
        paths[name].parent.mkdir(parents=True)
        paths[name].write_text(dumps(notebook))
    futures = {name: pool.submit(tools.otter_run, autograder_zip, path, path.parent / "out")
               for name, path in paths.items()}
    return {"scores": {name: f.result() for name, f in futures.items()}, "paths": paths, "student": student,
            "zip": autograder_zip}


def _through_nbgrader(root: Path, folders: dict[str, Path], config) -> dict:
    course = root / "nbgrader"
    release = tools.nbgrader_course(course, config)
    paths = {name: tools.nbgrader_submit(course, name, notebook, config)
             for name, notebook in _notebooks(release, folders, config).items()}
    scores, totals = tools.nbgrader_grade(course, config)
    return {"scores": scores, "totals": totals, "paths": paths, "release": release.parent}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, s2s_config):
    """Each tool's build and per-function scores, and the native grader's on each tool's notebooks."""
    root = tmp_path_factory.mktemp("seq2seq_parity")
    folders = {"reference": make_submission(root / "folders" / "reference")}
    for name in MUTANTS:
        folders[name] = make_submission(root / "folders" / name, BY_NAME[name]["edits"])
    return tools.grade_with_every_tool(root, folders, s2s_config, _through_otter, _through_nbgrader)


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_same_score_per_function_in_every_tool(name, graded, s2s_config):
    config = s2s_config
    native_otter, native_nbgrader = graded["native"]["otter", name], graded["native"]["nbgrader", name]
    assert set(native_otter) == set(config.functions)
    assert graded["otter"]["scores"][name] == native_otter
    assert graded["nbgrader"]["scores"][name] == native_nbgrader
    assert native_otter == native_nbgrader
    assert graded["nbgrader"]["totals"][name] == sum(native_nbgrader.values())
    lost = {f for f, score in native_otter.items() if score < config.function_points[f]}
    if name == "reference":
        assert not lost
        assert sum(native_otter.values()) == graded["nbgrader"]["totals"][name] == config.max_score
    elif name == "template":
        assert all(score == 0 for score in native_otter.values())
        assert graded["nbgrader"]["totals"][name] == 0
    else:
        assert lost == set(BY_NAME[name]["breaks"]), BY_NAME[name]["why"]


def test_otter_student_folder_has_no_solution_or_hidden_test(graded, s2s_config):
    tool_releases.check_otter_student_folder(graded["otter"]["student"], s2s_config)



def test_otter_autograder_zip_holds_every_test(graded, s2s_config):
    tool_releases.check_otter_zip(graded["otter"]["zip"], s2s_config)



def test_nbgrader_release_has_no_solution_or_hidden_test(graded, s2s_config):
    tool_releases.check_nbgrader_release(graded["nbgrader"]["release"], s2s_config)
