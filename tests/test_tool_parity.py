"""The same code gets the same score per function from the native grader, otter-grader and nbgrader.

Round trips through the real tools: `otter assign` then `otter run` on each
filled notebook, `nbgrader generate_assignment` then `nbgrader autograde` and
`nbgrader export` on all of them, and the native grader on the very notebooks
each tool graded. Otter's questions and nbgrader's test cells map to functions
(a question is named after its function; a cell's grade id is `<function>-t<k>`).
Each submission is graded once per tool. The same build also shows what each
tool hands to students, and what the notebook tools cannot guarantee.

`make test` sends one or more submissions of each kind through both tools: the
reference, the untouched template, correct code that warns and prints to
stderr, correct code whose quiz never returns (its endless loop waits), a
notebook that swaps the checks, nbgrader's tampered checks package, seven
mutants (one per kind of bug: ``MUTANTS``) and five notebook shapes
(``notebook_shapes.TOOL_SHAPES``). `make parity` (HW_PARITY_ALL=1) adds four
more mutants, every other shape of tests/notebook_shapes.py and a quiz whose
endless loop spins on the CPU (`make test` stops a spinning and a waiting loop
in the kernel's runner: tests/test_inprocess.py).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import notebook_shapes
import pytest
import test_precision
import tool_releases
import yaml
from conftest import TEMPLATES, make_submission, with_callers

from autograder.integrations.notebooks import ANSWERS_CHECK, dumps, fill, notebook_name, split_module
from autograder.submissions.extract import cell_file, cell_source
from integrations import tools

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="nbgrader 0.9.6 needs Python 3.11 or newer")

CORPUS = {m["name"]: m for m in yaml.safe_load((Path(__file__).parent / "corpus" / "mutants.yaml").read_text())}
# One per kind of bug in `make test`: wrong values in a function that others call (char_rnn.py and
# sequence_models.py import rnn_layers.py), an in-place change, warnings on extreme inputs, a bug only over
# time in a backward, a bug in another file (lstm_layers.py, char_rnn.py) and one only hidden tests see (quiz).
# `make parity` (HW_PARITY_ALL=1) adds a second of several kinds and the last file, sequence_models.py.
MUTANTS = ["rnn_step_forward_u_untransposed", "rnn_step_backward_modifies_ds_next",
           "rnn_backward_no_recurrent_gradient", "softmax_unstable_no_max_shift", "lstm_backward_no_cell_carry",
           "char_rnn_loss_targets_are_inputs", "quiz_s_t_plus_2_off_by_one"]
if os.environ.get("HW_PARITY_ALL"):
    MUTANTS += ["clip_gradients_in_place", "sigmoid_unstable", "lstm_gates_concat_order_swapped",
                "state_gradient_norms_without_tanh_derivative"]
# Correct code that warns and writes to stderr while it runs (nbgrader zeroes a cell that prints to stderr).
NOISY = [
    {"file": "rnn_layers.py", "find": "    N, T, _ = x.shape\n    s = np.empty",
     "replace": "    import sys\n    import warnings\n    warnings.warn('rnn_forward: this loop could be vectorized')\n"
                "    print('rnn_forward: starting', file=sys.stderr)\n    N, T, _ = x.shape\n    s = np.empty"},
    {"file": "lstm_layers.py", "find": "import numpy as np",
     "replace": "import sys\n\nimport numpy as np\n\nprint('lstm_layers: loaded', file=sys.stderr)"},
]
# Correct code but for a function that never returns: only its tests fail, each after the call time limit.  In
# `make test` the endless loop waits; `make parity` adds one that spins (each spinning call holds a core for the
# 5 s limit: five quiz tests in each tool's kernel).  Both are stopped alike (the kernel's interval timer, the
# grader's child time limit), and tests/test_inprocess.py stops both kinds in the kernel's runner.
WAIT, SPIN = "        time.sleep(1)\n", "        pass\n"
HANGS = {"hang": WAIT, **({"hang_spinning": SPIN} if os.environ.get("HW_PARITY_ALL") else {})}
# Notebooks saved in other shapes (tests/notebook_shapes.py): one or more per kind here, all with `make parity`.
SHAPES = list(notebook_shapes.SHAPES) if os.environ.get("HW_PARITY_ALL") else notebook_shapes.TOOL_SHAPES
if os.environ.get("HW_PARITY_SHAPES"):  # e.g. HW_PARITY_SHAPES=bom_in_cell,colab_paste: these shapes only
    SHAPES = os.environ["HW_PARITY_SHAPES"].split(",")
    if set(SHAPES) - set(notebook_shapes.SHAPES):  # a misspelt name must not shrink the run in silence
        raise ValueError(f"HW_PARITY_SHAPES names no shape: {sorted(set(SHAPES) - set(notebook_shapes.SHAPES))}")
# A forward computed in float32: its right backward keeps the numerical checks, the tools replaying the reference
# forward's recorded values as the grader computes them (tests/test_precision.py).
FLOAT32 = {"float32_forward": test_precision.VARIANTS["rnn_step_forward_casts_output"][0]}
SUBMISSIONS = ["reference", "template", "noisy", *HANGS, *FLOAT32, *MUTANTS, *(f"shape-{s}" for s in SHAPES)]
# The untouched template plus one unmarked cell that swaps the checks for a function that passes everything.
CHEAT = "import autograder.checks_api\n\nautograder.checks_api.run_test = lambda *args, **kwargs: None"
OTTER_CHECKED = "rnn_backward_no_recurrent_gradient"  # the submission a student checks with `otter check`


def _folders(root: Path) -> dict[str, Path]:
    folders = {"reference": make_submission(root / "reference"), "noisy": make_submission(root / "noisy", NOISY)}
    for name, loop in HANGS.items():
        folders[name] = make_submission(root / name, [{"file": "quiz.py", "find": "    return {\n",
                                                       "replace": "    import time\n\n    while True:\n" + loop +
                                                                  "    return {\n"}])
    for name in MUTANTS:
        folders[name] = make_submission(root / name, CORPUS[name]["edits"])
    for name, edits in FLOAT32.items():
        folders[name] = make_submission(root / name, edits)
    return folders


def _notebooks(student_notebook: Path, folders: dict[str, Path], config) -> dict[str, dict]:
    """Each submission as a filled copy of a tool's student notebook; the template is that notebook untouched."""
    with tools.IN_PROCESS:  # the other tool's thread may be parsing too (tools.IN_PROCESS)
        template = json.loads(student_notebook.read_text())
        notebooks = {"template": template}
        for name, folder in folders.items():
            notebooks[name] = fill(student_notebook, folder, config.files)
        cheat = copy.deepcopy(template)
        imports = next(i for i, c in enumerate(cheat["cells"]) if cell_source(c).startswith("import matplotlib"))
        cheat["cells"].insert(imports + 1, {"cell_type": "code", "id": "cheat", "metadata": {}, "source": CHEAT,
                                            "execution_count": None, "outputs": []})
        notebooks["cheat"] = cheat
        for shape in SHAPES:
            notebooks[f"shape-{shape}"] = notebook_shapes.SHAPES[shape][0](notebooks["reference"])
        return notebooks


def _write(notebooks: dict[str, dict], folder: Path) -> dict[str, Path]:
    paths = {}
    for name, notebook in notebooks.items():
        paths[name] = folder / name / "hw_rnn.ipynb"
        paths[name].parent.mkdir(parents=True)
        paths[name].write_text(dumps(notebook))
    return paths


def _through_otter(root: Path, folders: dict[str, Path], config, pool: ThreadPoolExecutor) -> dict:
    autograder_zip, student = tools.otter_assign(root / "otter", config)
    paths = _write(_notebooks(student / "hw_rnn.ipynb", folders, config), root / "otter_submissions")
    futures = {name: pool.submit(tools.otter_run, autograder_zip, path, path.parent / "out")
               for name, path in paths.items()}
    # A student's own check: `otter check` in a copy of the student folder, with their notebook in it.
    checking = root / "otter_student"
    tools.copy_tree(student, checking)
    (checking / "hw_rnn.ipynb").write_text(paths[OTTER_CHECKED].read_text())
    check = pool.submit(tools.run, ["otter", "check", "hw_rnn.ipynb"], checking)
    # And the untouched notebook, whose quiz cannot be marked (no public test grades the quiz).
    untouched = root / "otter_student_untouched"
    tools.copy_tree(student, untouched)
    check_untouched = pool.submit(tools.run, ["otter", "check", "hw_rnn.ipynb"], untouched)
    scores, refused = {}, {}
    for name, future in futures.items():
        try:
            scores[name] = future.result()
        except tools.ToolError as exc:  # otter refuses some notebooks outright (OTTER_REFUSES)
            refused[name] = str(exc)
    return {"scores": scores, "refused": refused, "paths": paths, "student": student, "zip": autograder_zip,
            "check": check.result().stdout, "check_untouched": check_untouched.result().stdout}


def _through_nbgrader(root: Path, folders: dict[str, Path], config) -> dict:
    course = root / "nbgrader"
    release = tools.nbgrader_course(course, config)
    notebooks = _notebooks(release, folders, config)
    for name, notebook in notebooks.items():
        tools.nbgrader_submit(course, name, notebook, config)
    # The template, handed in with the released checks package changed to pass everything.
    submitted = tools.nbgrader_submit(course, "tampered", notebooks["template"], config).parent
    tampered = tools.copy_tree(release.parent / "autograder", submitted / "autograder")
    (tampered / "checks_api.py").write_text("def run_test(*args, **kwargs):\n    return None\n")
    scores, totals = tools.nbgrader_grade(course, config)
    paths = {name: tools.nbgrader_submitted(course, name, config) for name in notebooks}
    return {"scores": scores, "totals": totals, "paths": paths, "release": release.parent}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, config):
    """Each tool's build and per-function scores, and the native grader's on each tool's notebooks."""
    root = tmp_path_factory.mktemp("parity")
    folders = _folders(root / "folders")
    return tools.grade_with_every_tool(root, folders, config, _through_otter, _through_nbgrader)


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_same_score_per_function_in_every_tool(name, graded, config):
    native_otter, native_nbgrader = graded["native"]["otter", name], graded["native"]["nbgrader", name]
    assert set(native_otter) == set(config.functions)
    otter_loses = with_callers(notebook_shapes.OTTER_LOSES.get(name[6:], set())) if name.startswith("shape-") else set()
    tools_lose = with_callers(notebook_shapes.TOOLS_LOSE.get(name[6:], set())) if name.startswith("shape-") else set()
    if tools_lose:  # by design (notebook_shapes.TOOLS_LOSE): both tools lose exactly these, the grader keeps them
        for tool in ("otter", "nbgrader"):
            scores = graded[tool]["scores"][name]
            assert {f for f in config.functions if scores[f] < config.function_points[f]} == tools_lose, tool
            assert {f: s for f, s in scores.items() if f not in tools_lose} == {
                f: s for f, s in graded["native"][tool, name].items() if f not in tools_lose}
        assert graded["native"]["otter", name] == graded["native"]["nbgrader", name] == config.function_points
        return
    if name[6:] in notebook_shapes.OTTER_REFUSES:  # a notebook not made from otter's release: otter grades nothing
        assert name not in graded["otter"]["scores"]
        assert "Received submission for assignment 'None'" in graded["otter"]["refused"][name]
    elif otter_loses:  # otter runs a retyped cell as saved; the notebook's own checks fail there first
        otter = graded["otter"]["scores"][name]
        assert {f for f in config.functions if otter[f] < config.function_points[f]} == otter_loses
        assert {f: s for f, s in otter.items() if f not in otter_loses} == {
            f: s for f, s in native_otter.items() if f not in otter_loses}
    else:
        assert graded["otter"]["scores"][name] == native_otter
    if name[6:] in notebook_shapes.NBGRADER_ZERO:  # no grade ids in the notebook: nbgrader finds no test passed
        assert set(graded["nbgrader"]["scores"][name].values()) == {0.0} and graded["nbgrader"]["totals"][name] == 0
    else:
        assert graded["nbgrader"]["scores"][name] == native_nbgrader
        assert graded["nbgrader"]["totals"][name] == sum(native_nbgrader.values())
    assert native_otter == native_nbgrader
    maxima = config.function_points
    lost = {f for f, score in native_otter.items() if score < maxima[f]}
    if name in ("reference", "noisy"):
        assert not lost
    elif name == "template":
        assert all(score == 0 for score in native_otter.values())
    elif name in HANGS:
        assert lost == {"answers"} and native_otter["answers"] == 0
    elif name in FLOAT32:
        assert "rnn_step_forward" in lost and "rnn_step_backward" not in lost, lost
    elif name.startswith("shape-"):
        assert lost == with_callers(notebook_shapes.SHAPES[name[6:]][1])
    else:
        assert lost == set(CORPUS[name]["breaks"]), CORPUS[name]["why"]


def test_the_quiz_cell_says_whether_answers_can_be_marked_in_the_tools_kernels(graded, config):
    """No public test grades the quiz: the cell after it (notebooks.ANSWERS_CHECK) prints in nbgrader's own run
    whether the answers can be marked, nothing of their values; otter's student notebook keeps it."""
    course = graded["nbgrader"]["release"].parent.parent

    def printed(name: str) -> str:
        autograded = course / "autograded" / name / config.assignment / notebook_name(config)
        cell = next(c for c in json.loads(autograded.read_text())["cells"] if ANSWERS_CHECK in cell_source(c))
        # (nbformat keeps a multi-line text as a list of lines)
        return "".join("".join(o["text"]) for o in cell["outputs"] if o.get("output_type") == "stream")

    for name in ("reference", "quiz_s_t_plus_2_off_by_one"):  # the mutant's answers are typed right, one is wrong
        assert printed(name).startswith("answers() can be marked: every question has an answer"), name
    assert printed("template").startswith("answers() cannot be marked: answers is not implemented yet")
    # (after the quiz's hidden test cells, which met the time limit twice: box.Hangs)
    assert printed("hang").startswith("answers() cannot be marked: answers was not called again: its calls so far "
                                      "were all stopped at the time limit of 5 s")
    student = json.loads((graded["otter"]["student"] / notebook_name(config)).read_text())
    assert any(ANSWERS_CHECK in cell_source(c) for c in student["cells"])


def test_replacing_the_released_checks_package_changes_nothing_in_nbgrader(graded):
    # autograde copies source/hw_rnn's files over the student's: the instructor's checks run.
    assert graded["nbgrader"]["totals"]["tampered"] == 0


def test_code_in_the_kernel_can_fool_both_notebook_tools_but_not_the_native_grader(graded, config):
    # The README says so: otter and nbgrader run the checks in the student's kernel, next to the student's code.
    assert graded["otter"]["scores"]["cheat"] == config.function_points
    assert graded["nbgrader"]["totals"]["cheat"] == config.max_score
    assert sum(graded["native"]["otter", "cheat"].values()) == 0
    assert sum(graded["native"]["nbgrader", "cheat"].values()) == 0


def test_otter_check_shows_a_student_the_grader_feedback(graded):
    out = graded["otter"]["check"]
    assert "rnn_forward results: All test cases passed!" in out
    assert "lstm_backward results: All test cases passed!" in out
    assert "rnn_backward - 2 result:" in out and "Test case failed" in out
    assert "wrong at time steps [0, 1, 2] but right at [3]" in out  # the native grader's own message
    # The quiz has only hidden tests: its question passes when its answers can be marked, and fails (for no
    # points) saying why when they cannot, rather than "All test cases passed!" with no test run.
    assert "answers results: All test cases passed!" in out
    untouched = graded["otter"]["check_untouched"]
    assert "answers results: All test cases passed!" not in untouched
    assert "answers() cannot be marked: answers is not implemented yet" in untouched, untouched


def test_otter_student_folder_has_no_solution_or_hidden_test(graded, config):
    tool_releases.check_otter_student_folder(graded["otter"]["student"], config)



def test_otter_autograder_zip_holds_every_test(graded, config):
    tool_releases.check_otter_zip(graded["otter"]["zip"], config)



def test_nbgrader_release_has_no_solution_or_hidden_test(graded, config):
    tool_releases.check_nbgrader_release(graded["nbgrader"]["release"], config)



@pytest.mark.parametrize("tool", ["otter", "nbgrader"])
def test_student_notebook_functions_are_the_native_templates(tool, graded, config):
    run = graded[tool]
    notebook = run["paths"]["template"] if tool == "otter" else run["release"] / "hw_rnn.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    for file in config.files:
        native = split_module(file, (TEMPLATES / file).read_text()).functions
        text = "\n\n".join(cell_source(c).split("\n", 1)[1] for c in cells if cell_file(c) == file)
        ours = split_module(file, text).functions
        assert ours.keys() == native.keys()
        for name in native:
            if tool == "otter":
                assert ours[name] == native[name]
            else:  # nbgrader's own stub: the same lines, without the function's name in the message
                assert ours[name] == native[name].replace(f'"{name} is not implemented yet"', "")
