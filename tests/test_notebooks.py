"""The notebook side without the tools: generated notebooks, grading a notebook, the in-kernel checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import NBGRADER_SOURCE, OTTER_MASTER, ROOT, SOLUTIONS, TEMPLATES, grade_cli, make_submission, run_cli

from autograder import checks_api
from autograder.grading.grader import grade
from autograder.integrations import notebooks
from autograder.integrations.notebooks import grade_id, split_module
from autograder.release import bundle as release
from autograder.release import selfcheck
from autograder.submissions import extract as extract_module
from autograder.submissions.extract import cell_file, cell_source, extract, prepare

CORPUS = yaml.safe_load((Path(__file__).parent / "corpus" / "mutants.yaml").read_text())


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _notebook(tmp_path: Path, cells: list[str | tuple[str, str]]) -> Path:
    """A notebook file from code cell sources (or (cell_type, source) pairs)."""
    made = []
    for k, cell in enumerate(cells):
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        made.append(notebooks._cell(kind, source, f"c{k}"))
    path = tmp_path / "hw_rnn.ipynb"
    path.write_text(json.dumps({"cells": made, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _namespace(folder: Path, monkeypatch) -> dict:
    """The student files as a notebook's cells (sys.modules, which link_files changes, is restored after the test)."""
    files = selfcheck.load(checks_api.checks_folder())[0].files
    for name in files:
        monkeypatch.setitem(sys.modules, name[:-3], None)
    return notebooks.run_as_cells(folder, files)


# -- the generated notebooks ---------------------------------------------------------
def test_committed_notebooks_are_up_to_date(config):
    assert notebooks.stale(config) == [], "run `make notebooks`"
    proc = subprocess.run([sys.executable, "-m", "autograder.integrations.notebooks", "check"], cwd=ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", [OTTER_MASTER, NBGRADER_SOURCE], ids=["otter", "nbgrader"])
def test_notebooks_are_valid_and_hold_each_function_once(path, config):
    nbformat.validate(nbformat.read(path, as_version=4))
    defined = []
    for cell in _cells(path):
        file = cell_file(cell)
        if file:
            assert file in config.files
            names = list(split_module(file, cell_source(cell).split("\n", 1)[1]).functions)
            assert all(config.module_of(n) == file[:-3] for n in names)
            defined += names
    assert sorted(defined) == sorted(config.functions)


def test_nbgrader_cells_are_the_config_tests(config):
    graded = [c for c in _cells(NBGRADER_SOURCE) if c["metadata"].get("nbgrader", {}).get("grade")]
    expected = []
    for function in config.functions:
        tests = [t for t in config.tests if t.function == function]
        expected += [(grade_id(t, k), t.points, t.hidden, t.function, t.name) for k, t in enumerate(tests, 1)]
    got = []
    for cell in graded:
        meta, source = cell["metadata"]["nbgrader"], cell_source(cell)
        call = next(line for line in source.splitlines() if line.startswith("run_test("))
        function, name = json.loads("[" + call[len("run_test("):].rsplit(",", 1)[0] + "]")
        got.append((meta["grade_id"], meta["points"], "### BEGIN HIDDEN TESTS" in source, function, name))
        assert meta["locked"] and not meta["solution"]
    assert got == expected
    assert sum(c["metadata"]["nbgrader"]["points"] for c in graded) == config.max_score


def test_otter_test_cases_are_the_config_tests(config):
    got, question = [], None
    for cell in _cells(OTTER_MASTER):
        source = cell_source(cell)
        if cell["cell_type"] == "raw" and source.startswith("# BEGIN QUESTION"):
            question = yaml.safe_load(source.split("\n", 1)[1])["name"]
        elif cell["cell_type"] == "code" and source.startswith('""" # BEGIN TEST CONFIG'):
            head, body = source.split('""" # END TEST CONFIG\n')
            settings = yaml.safe_load(head.split("\n", 1)[1])
            call = body.strip().splitlines()[-1].strip()
            got.append((question, settings["points"], settings["hidden"], call))
    # A function only hidden tests grade (the quiz) first gets a public case of no points: can it be marked?
    markable = {t.function for t in config.tests if t.kind == "quiz"} - {t.function for t in config.tests
                                                                        if not t.hidden}
    expected = [case for f in config.functions
                for case in ([(f, 0, False, "assert_answers_can_be_marked(env)")] if f in markable else [])
                + [(t.function, t.points, t.hidden, f"run_test({json.dumps(t.function)}, {json.dumps(t.name)}, env)")
                   for t in config.tests if t.function == f]]
    assert markable and got == expected


def test_source_notebook_holds_the_reference_solution(config):
    texts, notes = extract(NBGRADER_SOURCE, config.files)
    assert set(texts) == set(config.files) and not notes
    for file in config.files:
        ours = split_module(file, texts[file])
        reference = split_module(file, (SOLUTIONS / file).read_text())
        assert ours.functions == reference.functions and ours.prelude == reference.prelude


# -- the native grader on a notebook ---------------------------------------------------
def test_grade_command_takes_a_filled_notebook(tmp_path, validate_results, config):
    proc, results = grade_cli(NBGRADER_SOURCE, tmp_path)
    validate_results(results)
    assert results["score"] == config.max_score
    assert "graded the code cells of hw_rnn.ipynb" in results["output"]
    # Messages name cells by number, which Jupyter does not show: the note says how they count.
    assert "(a cell number counts every cell from 1 at the top, Markdown and Raw cells too)" in results["output"]
    # The upload holds a notebook, not the .py files its code was graded as: the first line says both.
    assert results["output"].startswith(f"Graded files: {NBGRADER_SOURCE.name} (its code graded as rnn_layers.py, "
                                        "lstm_layers.py,"), results["output"]


@pytest.mark.parametrize("marker", ["# file: rnn_layers.py\n", ""])
def test_the_notebook_runs_only_in_the_sandbox_child(marker, tmp_path, config):
    """Marked cells, or every cell as a kernel runs them: either way in the child, never in the grader."""
    path = _notebook(tmp_path, [
        f"{marker}import os\ndef rnn_step_forward(*args):\n    pass\n"
        "raise RuntimeError(f'ran in process {os.getpid()}')",
        f"{marker}import os\nprint('printed by', os.getpid())",
    ])
    before = set(extract_module._EXTRACTED)  # other tests in this process may keep theirs
    report = grade(path, config)
    assert report.score < config.max_score
    assert set(extract_module._EXTRACTED) <= before  # the extracted files are gone once graded
    ran = [n for n in report.notes if "ran in process" in n]
    assert ran and f"ran in process {os.getpid()}" not in ran[0]
    assert "printed by" in report.student_output and f"printed by {os.getpid()}" not in report.student_output


def test_extraction_follows_the_marker_convention(tmp_path, config):
    path = _notebook(tmp_path, [
        ("markdown", "# file: rnn_layers.py\nSome prose, not code!"),  # prose: stays Markdown (code would be restored)
        "# file: rnn_layers.py\nimport numpy as np",
        "scratch = 1",
        "\n# file: lstm_layers.py\n%time x = 1\ndef sigmoid(z):\n    !echo hi\n    return z",
        "# file: rnn_layers.py\ndef rnn_forward(x, s0, U, W, b):\n    return x",
        "# file: helpers.py\ndef helper():\n    pass",
        "# file: ../escape.py\nx = 1",
    ])
    texts, notes = extract(path, config.files)
    rnn = texts["rnn_layers.py"]
    assert rnn.index("import numpy as np") < rnn.index("def rnn_forward") and "scratch" not in rnn
    assert "not code!" not in rnn and "(cells 2 and 5)" in rnn
    assert "pass  # %time x = 1" in texts["lstm_layers.py"] and "    pass  # !echo hi" in texts["lstm_layers.py"]
    compile(texts["lstm_layers.py"], "lstm_layers.py", "exec")
    assert any("`# file: helpers.py` are not a graded file" in n for n in notes)
    folder, _ = prepare(path, config.files)
    assert sorted(p.name for p in folder.iterdir()) == sorted(config.files)  # each runs the cells (in the child)
    assert not list(tmp_path.rglob("escape.py")) and not list(folder.parent.glob("escape.py"))


def test_grade_all_grades_the_notebooks_of_an_nbgrader_course(tmp_path, config):
    """A submission folder holding only a notebook (nbgrader's submitted/STUDENT/hw_rnn/) is graded natively."""
    import csv

    for student, notebook in (("alice", json.loads(NBGRADER_SOURCE.read_text())),
                              ("bob", notebooks.fill(NBGRADER_SOURCE, TEMPLATES, config.files))):
        folder = tmp_path / "course" / "submitted" / student / "hw_rnn"
        folder.mkdir(parents=True)
        (folder / "hw_rnn.ipynb").write_text(notebooks.dumps(notebook))
    proc = run_cli("grade-all", str(tmp_path / "course"), "--out", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert rows["alice"]["total"] == f"{config.max_score:g}" and rows["bob"]["total"] == "0"
    assert "graded the code cells of hw_rnn.ipynb" in rows["bob"]["note"]


@pytest.mark.parametrize("content,reason", [
    ("{not json", "could not be read as a notebook"),
    ('{"cells": 3}', "is not a Jupyter notebook"),
    ('{"cells": [{"cell_type": "code", "source": "def rnn_forward(): pass"}]}', "no code cell of hw_rnn.ipynb defines"),
])
def test_broken_notebooks_score_zero_and_say_why(content, reason, tmp_path):
    path = tmp_path / "hw_rnn.ipynb"
    path.write_text(content)
    proc, results = grade_cli(path, tmp_path)
    assert proc.returncode == 0
    assert results["score"] == 0 and reason in results["output"]


def test_a_function_whose_cell_does_not_compile_is_said_missing_from_the_notebook(tmp_path):
    """rnn_backward's cell has an indentation slip: its tests say no cell that ran defined it (a notebook student
    has no rnn_layers.py to look in), and the note names the cell."""
    notebook = nbformat.read(NBGRADER_SOURCE, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "def rnn_backward(" in c.source)
    lines = cell.source.splitlines()
    body = next(i for i, ln in enumerate(lines) if ln.startswith("    ") and i > 0 and "def rnn_backward(" in
                "\n".join(lines[:i]))
    lines[body] = " " + lines[body]
    cell.source = "\n".join(lines)
    path = tmp_path / "hw_rnn.ipynb"
    nbformat.write(notebook, path)
    _, results = grade_cli(path, tmp_path)
    failed = [t for t in results["tests"] if t["name"].startswith("rnn_backward:") and t["visibility"] == "visible"]
    assert failed and all(t["score"] == 0 for t in failed)
    assert all("no cell of the notebook that ran defined rnn_backward" in t["output"] for t in failed), failed
    assert "rnn_layers.py has no function" not in json.dumps(results)
    assert "does not compile" in results["output"]


def test_missing_notebook_is_a_usage_error(tmp_path):
    proc = run_cli("grade", str(tmp_path / "nope.ipynb"), "--results", str(tmp_path / "r.json"))
    assert proc.returncode == 2 and "filled .ipynb notebook" in proc.stderr


# -- the checks the notebook's test cells call ---------------------------------------------
@pytest.fixture(scope="module")
def checks(tmp_path_factory, config):
    root = tmp_path_factory.mktemp("checks")
    for folder, public in (("hw_rnn_checks", True), ("hw_rnn_checks_full", False)):
        notebooks.write_checks(root / folder, config, public_only=public)
    return root


def test_public_checks_hold_no_hidden_test_or_value(checks, config):
    public, values = selfcheck.load(checks / "hw_rnn_checks")
    assert [t.full_name for t in public.tests] == [t.full_name for t in config.tests if not t.hidden]
    hidden_seeds = {c["seed"] for t in config.tests if t.hidden for c in t.cases}
    seeds = {r["case"]["seed"] for r in values.records.values()}
    assert seeds and not seeds & hidden_seeds
    full, all_values = selfcheck.load(checks / "hw_rnn_checks_full")
    assert full.tests == config.tests  # every test, tolerances included
    assert hidden_seeds & {r["case"]["seed"] for r in all_values.records.values()}  # (not every test needs one)
    folder = {f"hw_rnn_checks/{p.name}": p.read_bytes() for p in (checks / "hw_rnn_checks").iterdir()}
    release.refuse_leaks(config, folder, "")  # no solution line, hidden name or hidden case


def test_run_test_passes_the_reference_and_fails_the_templates(checks, monkeypatch, config):
    monkeypatch.setenv("AUTOGRADER_CHECKS", str(checks / "hw_rnn_checks"))
    reference, template = _namespace(SOLUTIONS, monkeypatch), _namespace(TEMPLATES, monkeypatch)
    for test in (t for t in config.tests if not t.hidden):
        checks_api.run_test(test.function, test.name, reference)
        with pytest.raises(checks_api.CheckFailed, match="is not implemented yet") as failed:
            checks_api.run_test(test.function, test.name, template)
        # A notebook has no .py file: the message names the cell marked for it.
        file = config.module_of(test.function) + ".py"
        assert f"`raise NotImplementedError` in the cell marked `# file: {file}` with your code" in str(
            failed.value), str(failed.value)
    hidden = next(t for t in config.tests if t.hidden)
    with pytest.raises(LookupError, match="hidden tests run only when graded"):
        checks_api.run_test(hidden.function, hidden.name, reference)


def test_the_quiz_cell_says_whether_answers_can_be_marked(checks, monkeypatch, capsys, config):
    """No public test grades the quiz: the cell after it (ANSWERS_CHECK, in both tools' notebooks) says what the
    native self-check's note says, with the public checks only, or that the answers can be marked."""
    monkeypatch.setenv("AUTOGRADER_CHECKS", str(checks / "hw_rnn_checks"))
    for path in (OTTER_MASTER, NBGRADER_SOURCE):
        sources = [cell_source(c) for c in _cells(path)]
        assert sources.index(notebooks.ANSWERS_CHECK) > max(k for k, s in enumerate(sources) if "def answers" in s)
    reference, template = _namespace(SOLUTIONS, monkeypatch), _namespace(TEMPLATES, monkeypatch)
    right = reference["answers"]()
    said = {}
    for name, answers in {
        "reference": reference["answers"], "template": template["answers"],
        "list": lambda: list(right), "raises": lambda: {}["x"],
        "wrong type and extra key": lambda: {**right, "order_matters": "yes", "extra": 1},
        "wrong value": lambda: {k: v if k != "s_t_plus_2" else 1 for k, v in right.items()},
    }.items():
        exec(cell_source({"source": notebooks.ANSWERS_CHECK}), {**reference, "answers": answers})
        printed = capsys.readouterr()
        said[name] = printed.out or printed.err
        # A problem goes to stderr (shown in red), whole; answers that can be marked to stdout.
        assert not (printed.out and printed.err) and bool(printed.out) == (name in ("reference", "wrong value")), name
    graded = "Whether the answers are right is checked only when your notebook is graded.\n"
    marked = "answers() can be marked: every question has an answer of the type it asks for.\n"
    assert said["reference"] == said["wrong value"] == marked + graded  # nothing said of right or wrong values
    assert said["template"] == ("answers() cannot be marked: answers is not implemented yet: replace its `raise "
                                "NotImplementedError` in the cell marked `# file: quiz.py` with your code\n" + graded)
    assert said["list"] == "answers() cannot be marked: answers() should return a dict, got a list\n" + graded
    assert said["raises"].startswith("answers() cannot be marked: raised KeyError: 'x'")
    assert said["wrong type and extra key"] == (
        "answers() has answers that count as wrong whatever is right: 'extra' is not a question; 'order_matters' is a "
        "str "
        "('yes'), the question asks for a bool.\n" + graded)


def test_checks_folder_is_found_next_to_the_notebook(checks, tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRADER_CHECKS", raising=False)
    (tmp_path / "hw_rnn_checks").symlink_to(checks / "hw_rnn_checks")
    monkeypatch.chdir(tmp_path)
    assert checks_api.checks_folder() == (checks / "hw_rnn_checks").resolve()
    monkeypatch.setenv("AUTOGRADER_CHECKS", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="AUTOGRADER_CHECKS"):
        checks_api.checks_folder()


def test_printing_and_warnings_of_student_code_stay_out_of_the_cell(checks, monkeypatch, capfd):
    monkeypatch.setenv("AUTOGRADER_CHECKS", str(checks / "hw_rnn_checks_full"))
    namespace = _namespace(SOLUTIONS, monkeypatch)
    forward = namespace["rnn_forward"]

    def noisy(*args):
        print("to stdout")
        print("to stderr", file=sys.stderr)
        warnings.warn("a warning", stacklevel=1)
        return forward(*args)

    namespace["rnn_forward"] = noisy
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the check would raise here
        checks_api.run_test("rnn_forward", "matches the reference", namespace)
        checks_api.run_test("rnn_forward", "matches the reference on hidden inputs", namespace)
    assert capfd.readouterr() == ("", "")
    namespace["rnn_forward"] = lambda *args: (print("debugging", file=sys.stderr), forward(*args)[0] * 2)[1:] + (
        None,)
    printed = r"(?s)s is wrong.*Output printed by your code:\n--- stderr ---\ndebugging"
    with pytest.raises(checks_api.CheckFailed, match=printed):
        checks_api.run_test("rnn_forward", "matches the reference", namespace)
    assert capfd.readouterr() == ("", "")


def test_kernel_checks_agree_with_the_corpus(checks, monkeypatch, tmp_path, config):
    """Every mutant loses points in the kernel in exactly the functions the native grader takes them from."""
    monkeypatch.setenv("AUTOGRADER_CHECKS", str(checks / "hw_rnn_checks_full"))
    for mutant in CORPUS:
        namespace = _namespace(make_submission(tmp_path / mutant["name"], mutant["edits"]), monkeypatch)
        lost = set()
        for test in config.tests:
            try:
                checks_api.run_test(test.function, test.name, namespace)
            except checks_api.CheckFailed:
                lost.add(test.function)
        assert lost == set(mutant["breaks"]), mutant["name"]


def test_a_file_imports_another_files_functions_from_the_notebook(checks, monkeypatch):
    """`from rnn_layers import rnn_forward` in a char_rnn.py cell gets the function the notebook defines."""
    monkeypatch.setenv("AUTOGRADER_CHECKS", str(checks / "hw_rnn_checks"))
    namespace = _namespace(TEMPLATES, monkeypatch)
    sentinel = namespace["rnn_forward"] = lambda *args: "the notebook's own"
    exec("from rnn_layers import rnn_forward as imported", namespace)
    assert namespace["imported"] is sentinel
    with pytest.raises(ImportError, match="cannot import name 'nothing_like_this'"):
        exec("from rnn_layers import nothing_like_this", namespace)
