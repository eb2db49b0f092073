"""Notebooks in every shape students save them get the score a kernel running them gives, on every native path.

The corpus (tests/notebook_shapes.py) changes how a filled notebook is laid out,
never what its code computes: each shape must lose exactly the functions that a
kernel running it top to bottom loses (usually none), through the native grader,
grade-all and the simulated Gradescope run alike (in `make test`, Gradescope's run takes one notebook per kind
of file and the tools' shapes: ``GRADESCOPE_SHAPES``; every shape with `make parity`).  otter-grader and nbgrader
grade the same shapes in tests/test_tool_parity.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import notebook_shapes as shapes
import pytest
import yaml
from conftest import NBGRADER_SOURCE, ROOT, grade_cli, make_submission, run_cli, with_callers

from autograder.grading.grader import grade
from autograder.integrations import gradescope
from autograder.integrations.notebooks import fill
from autograder.submissions.locate import script_notebook

CORPUS = {m["name"]: m for m in yaml.safe_load((Path(__file__).parent / "corpus" / "mutants.yaml").read_text())}
MUTANT = "rnn_backward_no_recurrent_gradient"  # a bug graded in a notebook without markers
SCRIPTS = ["nbconvert_script", "nbconvert_script_no_markers", "colab_script", "colab_script_magics"]


def _per_function(report) -> dict[str, float]:
    scores: dict[str, float] = {}
    for r in report.tests:
        scores[r.spec.function] = scores.get(r.spec.function, 0.0) + r.score
    return scores


def _nbconvert(notebook: dict, folder: Path) -> Path:
    """The notebook exported by the real `jupyter nbconvert --to python`."""
    source = folder / "export.ipynb"
    shapes.write(notebook, source)
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "python", str(source),
                           "--output", "hw_rnn"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    source.unlink()
    return folder / "hw_rnn.py"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, config) -> dict[str, tuple[Path, set[str]]]:
    """name -> (the submitted file, the functions whose tests it must lose)."""
    root = tmp_path_factory.mktemp("shapes")
    base = json.loads(NBGRADER_SOURCE.read_text())  # the nbgrader source notebook holds the reference solution
    made: dict[str, tuple[Path, set[str]]] = {}
    for name, (shape, lost) in shapes.SHAPES.items():
        path = root / name / "hw_rnn.ipynb"
        path.parent.mkdir()
        shapes.write(shape(base), path)
        made[name] = (path, with_callers(lost))
    (root / "nbconvert_script").mkdir()
    made["nbconvert_script"] = (_nbconvert(base, root / "nbconvert_script"), set())
    (root / "nbconvert_script_no_markers").mkdir()
    made["nbconvert_script_no_markers"] = (_nbconvert(shapes.no_markers(base), root / "nbconvert_script_no_markers"),
                                           set())
    for name, notebook in (("colab_script", base),
                           ("colab_script_magics", shapes.SHAPES["line_magics"][0](base))):
        path = root / name / "hw_rnn.py"
        path.parent.mkdir()
        path.write_text(shapes.colab_script(notebook))
        made[name] = (path, set())
    mutant = fill(NBGRADER_SOURCE, make_submission(root / "mutant_code", CORPUS[MUTANT]["edits"]), config.files)
    path = root / "mutant_no_markers" / "hw_rnn.ipynb"
    path.parent.mkdir()
    shapes.write(shapes.no_markers(mutant), path)
    made["mutant_no_markers"] = (path, set(CORPUS[MUTANT]["breaks"]))
    return made


NAMES = [*shapes.SHAPES, *SCRIPTS, "mutant_no_markers"]


@pytest.fixture(scope="module")
def native(corpus, config) -> dict[str, tuple[dict[str, float], list[str]]]:
    out = {}
    for name, (path, _) in corpus.items():
        report = grade(path, config)
        out[name] = (_per_function(report), report.notes)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_each_shape_loses_only_what_a_kernel_loses(name, corpus, native, config):
    scores, notes = native[name]
    full = config.function_points
    lost = {f for f in config.functions if scores.get(f, 0.0) < full[f]}
    assert lost == corpus[name][1], notes
    assert not any("could not be imported" in n for n in notes), notes


def _notes(native, name) -> str:
    return "\n".join(native[name][1])


def test_notes_name_the_cell_and_the_fix(native):
    assert "is a Markdown cell holding graded code: it was graded as code" in _notes(native, "markdown_cell")
    assert "make it a Code cell again" in _notes(native, "markdown_cell")
    assert "is a Raw cell holding graded code" in _notes(native, "raw_cell")
    assert "is a Markdown cell holding the code of rnn_step_backward: a kernel does not run it" in _notes(
        native, "markdown_cell_plain")
    stub = _notes(native, "stub_below_solution")
    assert "still the template's `raise NotImplementedError`, so the one in cell" in stub and "was graded" in stub
    assert "the template's" not in _notes(native, "solution_below_stub")
    assert "is defined further down, in cell" in _notes(native, "use_before_definition")
    assert "AssertionError: left over" in _notes(native, "raise_after_def")
    assert "(%%bash) was not run" in _notes(native, "bash_cell")
    assert "no cell is marked `# file: ...`" in _notes(native, "no_markers")
    assert "lstm_gates" in _notes(native, "no_markers_in_one_file")  # named as defined outside the marked cells
    for name in ("indentation_error", "indentation_error_unmarked"):
        notes = _notes(native, name)
        found = re.search(r"cell (\d+) does not compile, line \d+ \(IndentationError: unexpected indent", notes)
        assert found and "defines many_to_one_loss" not in notes, notes
        scratch = re.search(r"raised in cells ([\d, ]+(?: and \d+ more)?), which define no graded function", notes)
        assert not scratch or found[1] not in scratch[1].replace(",", " ").split(), notes


@pytest.mark.parametrize("name", ["no_markers", "nbformat_3", "vscode", "colab_paste", "nbconvert_script"])
def test_no_false_warning_about_the_template(name, native):
    assert "changes parts of the template" not in _notes(native, name)


def test_a_changed_signature_in_a_notebook_is_still_noticed(tmp_path, config):
    base = json.loads(NBGRADER_SOURCE.read_text())
    changed = shapes._edit("rnn_forward", lambda s: s.replace("def rnn_forward(x, s0, U, W, b)",
                                                              "def rnn_forward(x, s0, U, W, b=None)"))(base)
    path = tmp_path / "hw_rnn.ipynb"
    shapes.write(changed, path)
    notes = "\n".join(grade(path, config).notes)
    assert "changes parts of the template" in notes and "rnn_forward takes" in notes


def test_script_exports_are_recognised(corpus, config):
    for name in SCRIPTS:
        assert script_notebook(corpus[name][0]), name
    assert not script_notebook(ROOT / "solutions" / "hw_rnn" / "rnn_layers.py")


def test_a_cell_that_never_ends_costs_nothing_graded(tmp_path, config):
    """A scratch cell that loops forever is interrupted at the notebook's time budget; the rest still runs."""
    base = json.loads(NBGRADER_SOURCE.read_text())
    looping = shapes._insert("rnn_forward", "# file: rnn_layers.py\nwhile True:\n    try:\n        pass\n"
                                            "    except BaseException:\n        pass\n")(base)
    # A constant defined after the budget ran out is still defined (a graded function uses it).
    looping = shapes._edit("rnn_forward", lambda s: s.replace(
        "def rnn_forward(x, s0, U, W, b):",
        "SCALE = 1.0\n\n\ndef rnn_forward(x, s0, U, W, b):\n    assert SCALE == 1.0", 1))(looping)
    path = tmp_path / "hw_rnn.ipynb"
    shapes.write(looping, path)
    report = grade(path, config)
    assert report.score == config.max_score, report.notes
    assert any("interrupted when the notebook's time budget" in n for n in report.notes)


def test_grade_all_agrees_with_the_native_grader(corpus, native, tmp_path, config):
    """One student per shape in one class folder."""
    for name, (path, _) in corpus.items():
        (tmp_path / "class" / name).mkdir(parents=True)
        shutil.copyfile(path, tmp_path / "class" / name / path.name)
    proc = run_cli("grade-all", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        totals = {row["student_id"]: float(row["total"]) for row in csv.DictReader(f)}
    assert totals == {name: sum(scores.values()) for name, (scores, _) in native.items()}


@pytest.fixture(scope="module")
def gradescope_source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gs") / "autograder.zip"
    gradescope.build(out, ROOT / "assignments" / "hw_rnn" / "assignment.yaml")
    root = tmp_path_factory.mktemp("gs_root")
    gradescope.unpack(out, root)
    return root / "source"


# Through Gradescope's harness in `make test`: one notebook per kind of file (nbformat 4.5 and 3, exported
# scripts) and the shapes the tools grade; every shape with `make parity`.  The harness only delivers the upload:
# the shapes' content meets the same code as the native grader's, which grades every shape above.
GRADESCOPE_SHAPES = None if os.environ.get("HW_PARITY_ALL") else [
    *shapes.TOOL_SHAPES, "nbformat_3", "nbconvert_script", "colab_script_magics", "mutant_no_markers"]


def test_gradescope_agrees_with_the_native_grader(corpus, native, gradescope_source, tmp_path):
    for name, (path, _) in corpus.items():
        if GRADESCOPE_SHAPES is not None and name not in GRADESCOPE_SHAPES:
            continue
        upload = tmp_path / name
        upload.mkdir()
        shutil.copyfile(path, upload / path.name)
        results, log = gradescope.grade_upload(gradescope_source, upload)
        assert results["score"] == pytest.approx(sum(native[name][0].values())), (name, "\n".join(log))


def test_a_linked_or_huge_notebook_is_refused_with_a_reason(tmp_path, config):
    """A link could point at the instructors' own notebook, which holds the solution."""
    link = tmp_path / "linked" / "hw_rnn.ipynb"
    link.parent.mkdir()
    link.symlink_to(NBGRADER_SOURCE)
    report = grade(link, config)
    assert report.score == 0 and any("a link is never followed" in n for n in report.notes)
    huge = tmp_path / "huge" / "hw_rnn.ipynb"
    huge.parent.mkdir()
    with open(huge, "w") as f:
        f.write('{"cells": [], "pad": "')
        f.seek(51 << 20)
        f.write('"}')
    report = grade(huge, config)
    assert report.score == 0 and any("clear its outputs" in n for n in report.notes)


def test_a_filled_notebook_wins_over_untouched_templates(tmp_path, config):
    """Templates left beside the notebook, or the untouched notebook beside a filled copy: the work is graded."""
    filled = json.loads(NBGRADER_SOURCE.read_text())
    beside_templates = tmp_path / "carol"
    shutil.copytree(ROOT / "student_templates" / "hw_rnn", beside_templates)
    shapes.write(filled, beside_templates / "hw_rnn.ipynb")
    two_notebooks = tmp_path / "frank"
    two_notebooks.mkdir()
    template = fill(NBGRADER_SOURCE, ROOT / "student_templates" / "hw_rnn", config.files)
    shapes.write(template, two_notebooks / "hw_rnn.ipynb")
    shapes.write(filled, two_notebooks / "hw_rnn_final.ipynb")
    for folder, note in ((beside_templates, "are the untouched templates"), (two_notebooks, "hw_rnn_final.ipynb")):
        proc, results = grade_cli(folder, tmp_path)
        assert results["score"] == config.max_score and note in results["output"], results["output"]


def test_a_notebook_file_with_a_byte_order_mark_is_read(tmp_path, config):
    path = tmp_path / "hw_rnn.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + NBGRADER_SOURCE.read_bytes())
    assert grade(path, config).score == config.max_score
