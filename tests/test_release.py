"""The student bundle (`make release`): what is in it, what is not, and a self-check that agrees with the grader."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import (
    CONFIG,
    FILES,
    ROOT,
    SOLUTIONS,
    TEMPLATES,
    VARIANTS,
    bundle_verdicts,
    make_submission,
    run_cli,
    write_config,
)

from autograder.config import command_config
from autograder.grading.grader import grade
from autograder.release import bundle as release

CORPUS = yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@pytest.fixture(scope="module")
def members(release_bundle) -> dict[str, str]:
    """Every file of the zip, as text."""
    with zipfile.ZipFile(release_bundle) as bundle:
        return {name: bundle.read(name).decode() for name in bundle.namelist()}


@pytest.fixture(scope="module")
def unzipped(release_bundle, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(release_bundle) as bundle:
        bundle.extractall(target)
    return target / "hw_rnn"


def test_zip_and_folder_hold_the_student_files(release_bundle, members):
    folder = release_bundle.with_suffix("")
    on_disk = {str(p.relative_to(folder.parent)) for p in folder.rglob("*") if p.is_file()}
    assert on_disk == set(members)
    for name in (*FILES, "README.md", "CHECK_AND_SUBMIT.md", "check.py", "requirements.txt",
                 "autograder/__main__.py", "autograder/public/assignment.json", "autograder/public/expected.json",
                 "autograder/public/fingerprints.json"):
        assert f"hw_rnn/{name}" in members, name
    for name in FILES:
        assert members[f"hw_rnn/{name}"] == (TEMPLATES / name).read_text()
    assert members["hw_rnn/README.md"] == (CONFIG.parent / "README.md").read_text()
    # The checker is the grader's own code, copied, not a rewrite; tools for staff stay out.
    for module in ("grading/grader.py", "grading/compare.py", "grading/gradcheck.py", "spec.py", "grading/report.py",
                   "sandbox/wire.py", "sandbox/child.py", "grading/__init__.py", "sandbox/__init__.py"):
        assert members[f"hw_rnn/autograder/{module}"] == (ROOT / "autograder" / module).read_text()
    # The assignment's own modules (they build the tests' inputs and run its behaviour checks) sit beside the
    # shipped config, where Config.homework finds them.
    for module in ("homework.py", "behaviours.py"):
        assert members[f"hw_rnn/autograder/public/{module}"] == (CONFIG.parent / module).read_text()
    # (results.py is in: the table's clean_text lives there.)
    for staff_only in ("cli.py", "release/bundle.py", "release/templates.py", "integrations/gradescope.py",
                       "classroom/batch.py", "classroom/__init__.py", "integrations/__init__.py"):
        assert f"hw_rnn/autograder/{staff_only}" not in members
    assert not [n for n in members if "__pycache__" in n or n.endswith(".pyc") or "solutions" in n]
    assert "numpy" in members["hw_rnn/requirements.txt"] and "yaml" not in members["hw_rnn/requirements.txt"]


def _solution_code() -> list[str]:
    """Lines of the reference's solution regions that are not given anyway (in docstrings or the handout)."""
    inside, code, given = False, [], [(CONFIG.parent / "README.md").read_text()]
    for name in FILES:
        for line in (SOLUTIONS / name).read_text().splitlines():
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif len(line.strip()) > 12:
                (code if inside else given).append(line.strip())
    return [line for line in code if not any(line in g for g in given)]


def test_no_file_reveals_the_solutions(members):
    code = _solution_code()
    assert len(code) > 50  # the scan has something to find
    for name, text in members.items():
        leaked = [line for line in code if line in text]
        assert not leaked, f"{name} holds solution code: {leaked[:3]}"
        assert BEGIN not in text and END not in text, name


def test_no_file_reveals_the_hidden_tests(members, config):
    hidden = [t for t in config.tests if t.hidden]
    public = [t for t in config.tests if not t.hidden]
    assert hidden
    hidden_names = {t.name for t in hidden} - {t.name for t in public}
    patterns = []
    for t in hidden:
        for case in t.cases:
            shape = r"\W+".join(rf"{k}\W+{re.escape(str(v))}" for k, v in case.items() if k != "seed")
            patterns.append(re.compile(rf"\bseed\W+{case['seed']}\b"))
            patterns.append(re.compile(shape, re.IGNORECASE))  # YAML writes true, Python True
    # The patterns do find the hidden cases where they are written: in assignment.yaml and as JSON.
    full = CONFIG.read_text() + json.dumps([list(t.cases) for t in hidden])
    assert all(p.search(full) for p in patterns) and all(n in full for n in hidden_names)
    for name, text in members.items():
        assert not [n for n in hidden_names if n in text], name
        if name.endswith(".json"):
            assert '"hidden"' not in text and "hidden_visibility" not in text, name
        hits = [p.pattern for p in patterns if p.search(text)]
        assert not hits, f"{name} matches hidden seeds or shapes {hits[:3]}"
    shipped = json.loads(members["hw_rnn/autograder/public/assignment.json"])
    tests = [t for q in shipped["questions"] for t in q["tests"]]
    assert {t["visibility"] for t in tests} == {"public"}
    assert len(tests) == len(public)
    assert not {"reference", "templates", "hidden_visibility"} & set(shipped)
    public_cases = {json.dumps(c, sort_keys=True) for t in public for c in t.cases}
    record = json.loads(members["hw_rnn/autograder/public/expected.json"])
    assert record["records"]
    assert {json.dumps(r["case"], sort_keys=True) for r in record["records"]} <= public_cases


def test_self_check_passes_the_reference_and_fails_the_templates(unzipped, numpy_only_python, config, tmp_path):
    no_yaml = subprocess.run([numpy_only_python, "-c", "import yaml"], capture_output=True)
    assert no_yaml.returncode != 0, "the student's interpreter must have numpy only"
    public = [t for t in config.tests if not t.hidden]
    # The templates as shipped: with no folder named, check.py checks its own folder, wherever it is run from.
    proc = subprocess.run([numpy_only_python, str(unzipped / "check.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("[FAIL]") == len(public) and "[PASS]" not in proc.stdout
    assert " ".join(proc.stdout.split()).count("is not implemented yet") >= len(public)  # the table wraps lines
    assert "not meant to be edited" not in proc.stdout
    # Run in the bundle's own folder: the bundle's files are never taken for the student's.
    said = " ".join(proc.stdout.split())
    assert "autograder/" not in said and "Notebooks not graded" not in said and "CHECK_AND_SUBMIT" not in said
    assert "Not graded" not in said  # its handout and requirements.txt are the bundle's too
    assert f"{', '.join(FILES)} are unchanged from the released templates" in said
    # The reference copied in passes every public test, through the other entry point.
    student = tmp_path / "hw_rnn"
    shutil.copytree(unzipped, student)
    for name in FILES:
        shutil.copyfile(SOLUTIONS / name, student / name)
    proc = subprocess.run([numpy_only_python, "-m", "autograder", "check", "."], cwd=student, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("[PASS]") == len(public) and "[FAIL]" not in proc.stdout
    points = sum(t.points for t in public)
    assert f"{points:g} / {points:g}" in proc.stdout
    # Its last line says what the public tests leave out, the functions its table does not show included.
    only_hidden = [f for f in config.functions if all(t.hidden for t in config.tests if t.function == f)]
    assert only_hidden, "the quiz is graded by hidden tests only"
    named = ", ".join(f"{f}() in {config.module_of(f)}.py ({config.function_points[f]:g} points)" for f in only_hidden)
    assert (f"These are the public tests only: {points:g} of the {config.max_score:g} points. The hidden tests "
            f"({config.max_score - points:g} points) use other inputs and shapes; they also grade {named}, a function "
            "the table above does not show.") in proc.stdout


def test_self_check_says_which_quiz_answers_cannot_be_marked(unzipped, numpy_only_python, tmp_path):
    """The bundle knows the questions and the answer types (never the answers): a misspelt key or a str where a
    bool belongs is said at once, as the grader would."""
    record = json.loads((unzipped / "autograder" / "public" / "expected.json").read_text())
    assert record["answer_formats"] == {"answers": {"order_matters": "bool", "same_length_in_batch": "bool",
                                                    "state_is_linear": "bool", "markov_property": "int",
                                                    "s_t_plus_2": "int"}}
    student = tmp_path / "hw_rnn"
    shutil.copytree(unzipped, student)
    for name in FILES:
        shutil.copyfile(SOLUTIONS / name, student / name)
    quiz = student / "quiz.py"
    quiz.write_text(quiz.read_text().replace('"s_t_plus_2": 4', '"s_t_plus2": 4')
                    .replace('"order_matters": True', '"order_matters": "True"'))
    proc = subprocess.run([numpy_only_python, "check.py"], cwd=student, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    said = " ".join(proc.stdout.split())
    assert "no answer for 's_t_plus_2'" in said and "'s_t_plus2' is not a question" in said, said
    assert "'order_matters' is a str ('True'), the question asks for a bool" in said


def test_self_check_usage_errors(unzipped, numpy_only_python, tmp_path):
    proc = subprocess.run([numpy_only_python, "check.py", str(tmp_path / "nope")], cwd=unzipped,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    damaged = tmp_path / "damaged"
    shutil.copytree(unzipped, damaged)
    (damaged / "autograder" / "public" / "expected.json").write_text("{")
    proc = subprocess.run([numpy_only_python, "check.py"], cwd=damaged, capture_output=True, text=True)
    assert proc.returncode == 2 and "download the bundle again" in proc.stderr
    # A numpy that draws other test inputs than the one the record was made with is named, not graded.
    other = tmp_path / "other_numpy"
    shutil.copytree(unzipped, other)
    record = json.loads((other / "autograder" / "public" / "expected.json").read_text())
    forward = next(r for r in record["records"] if r["function"] == "rnn_forward")
    forward["inputs"][1] += 1.0  # the sum of the inputs this numpy would draw
    (other / "autograder" / "public" / "expected.json").write_text(json.dumps(record))
    proc = subprocess.run([numpy_only_python, "check.py"], cwd=other, capture_output=True, text=True)
    assert proc.returncode == 2 and "draws different test inputs" in proc.stderr and "rnn_forward" in proc.stderr


def _case_label(output: str) -> str:
    """Which case a failure names ("case 2 of 2 (seed 12, ...)"), or the message itself when general."""
    return output.split("): ", 1)[0] if output.startswith("case ") else output.split(":", 1)[0]


def test_self_check_agrees_with_the_grader(unzipped, numpy_only_python, config, tmp_path):
    from test_precision import SMALL_BACKWARD_BUG
    from test_precision import VARIANTS as FLOAT32

    mutants = [make_submission(tmp_path / m["name"], m["edits"]) for m in CORPUS]
    variants = [make_submission(tmp_path / v.name, base=v) for v in VARIANTS]
    # A float32 forward: its backward's numerical check replays the reference forward's recorded values.
    float32 = [make_submission(tmp_path / name, edits) for name, (edits, _, _) in FLOAT32.items()]
    float32.append(make_submission(tmp_path / "float32_small_backward_bug", SMALL_BACKWARD_BUG))
    folders = [SOLUTIONS, TEMPLATES, *variants, *mutants, *float32]
    ours: dict = {}

    def grade_all() -> None:
        for folder in folders:
            ours[folder] = {r.spec.full_name: r for r in grade(folder, config, public_only=True).tests}

    theirs = bundle_verdicts(numpy_only_python, unzipped, folders, tmp_path, meanwhile=grade_all)
    public = {t.full_name for t in config.tests if not t.hidden}
    failing = 0
    for folder in folders:
        got = theirs[str(folder)]
        assert got["tests"].keys() == ours[folder].keys() == public
        assert not got["grader_errors"], got["grader_errors"]
        for name, r in ours[folder].items():
            passed, output = got["tests"][name]
            assert passed == r.passed, f"{folder.name}, {name}: self-check {passed}, grader {r.passed}"
            if not passed:
                assert _case_label(output) == _case_label(r.output), (folder.name, name, output, r.output)
                failing += 1
    assert failing > 200  # the mutants do fail public tests, so agreement means something


# Faults the self-check survives in its own process (a memory hog is left out: there is no memory limit there).
IN_PROCESS_FAULTS = ("infinite_loop", "sleep", "sys_exit_in_call", "os_exit_in_call", "deep_recursion", "syntax_error",
                     "exit_at_import", "hang_at_import", "wrong_return_type", "nan_output")


def test_a_crash_in_one_function_costs_only_its_tests(unzipped, numpy_only_python, tmp_path):
    """The grader's fault corpus (test_faults.py), run in the self-check's process with short time limits."""
    from conftest import with_callers
    from test_faults import FAULTS

    data = tmp_path / "data"
    shutil.copytree(unzipped / "autograder" / "public", data)
    shipped = json.loads((data / "assignment.json").read_text())
    shipped["limits"].update(call_seconds=0.5, batch_seconds=2, import_seconds=0.5)
    (data / "assignment.json").write_text(json.dumps(shipped))
    folders = {name: make_submission(tmp_path / name, FAULTS[name][0]) for name in IN_PROCESS_FAULTS}
    theirs = bundle_verdicts(numpy_only_python, unzipped, list(folders.values()), tmp_path, data)
    for name, folder in folders.items():
        tests = theirs[str(folder)]["tests"]
        lost = {test.split(":")[0] for test, (passed, _) in tests.items() if not passed}
        assert lost == with_callers(FAULTS[name][1]), name
        assert FAULTS[name][2] in " ".join(output for _, output in tests.values()), name
def test_notebooks_go_in_and_solutions_in_them_stop_the_build(config, tmp_path):
    assignment = tmp_path / "assignment"
    assignment.mkdir()
    config_path = write_config(assignment)
    for name in ("README.md", "fingerprints.json"):
        shutil.copyfile(CONFIG.parent / name, assignment / name)
    cell = {"cell_type": "code", "metadata": {}, "source": ["from rnn_layers import rnn_forward\n"], "outputs": [],
            "execution_count": None}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (assignment / "explore.ipynb").write_text(json.dumps(notebook))
    bundle = release.build(command_config(str(config_path)), tmp_path / "out")
    with zipfile.ZipFile(bundle) as z:
        assert "hw_rnn/explore.ipynb" in z.namelist()
    cell["source"] = ["def rnn_step_backward(ds_next, cache):\n", "    x_t, s_prev, U, W, s_next = cache\n"]
    (assignment / "explore.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(release.ReleaseError, match="explore.ipynb would reveal"):
        release.build(command_config(str(config_path)), tmp_path / "out2")
    assert not (tmp_path / "out2" / "hw_rnn.zip").exists()


def test_build_is_reproducible_and_refuses_stale_templates(release_bundle, config, tmp_path):
    again = release.build(config, tmp_path / "again")
    assert again.read_bytes() == release_bundle.read_bytes()
    stale = tmp_path / "stale"
    shutil.copytree(TEMPLATES, stale)
    (stale / "rnn_layers.py").write_text((stale / "rnn_layers.py").read_text() + "\n# edited by hand\n")
    path = write_config(tmp_path, templates=str(stale))
    with pytest.raises(release.ReleaseError, match="make templates"):
        release.build(command_config(str(path)), tmp_path / "out")


def test_release_command_builds_the_bundle(tmp_path):
    proc = run_cli("release", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "hw_rnn.zip").is_file() and (tmp_path / "hw_rnn" / "check.py").is_file()
    assert "public tests" in proc.stdout
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    proc = run_cli("release", "--out", str(blocker / "out"))
    assert proc.returncode == 2 and "cannot write the bundle" in proc.stderr
