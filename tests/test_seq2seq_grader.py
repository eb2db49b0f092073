"""hw_seq2seq through the real engine: the grader, the Gradescope zip and the student bundle's self-check.

The engine loads the assignment from assignments/hw_seq2seq/ (its homework and behaviours modules) as it
loads hw_rnn; nothing in autograder/ names it.  These tests grade real submissions made from the
reference, the templates, the mutation corpus (tests/corpus/mutants_seq2seq.yaml) and the correct variants.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, bundle_verdicts
from seq2seq_support import FILES, MUTANTS, SOLUTIONS, VARIANTS, make_submission
from time_axes import check_time_wording

from autograder.config import command_config
from autograder.grading.grader import grade
from autograder.integrations import gradescope
from autograder.release import bundle as release
from autograder.release import templates

TEMPLATES = ROOT / "student_templates" / "hw_seq2seq"
CONFIG_PATH = ROOT / "assignments" / "hw_seq2seq" / "assignment.yaml"


@pytest.fixture(scope="module")
def s2s_config():
    return command_config(None, assignment="hw_seq2seq")


def lost(report) -> set[str]:
    """The functions that lost any points."""
    return {r.spec.function for r in report.tests if not r.passed}


def test_the_config_is_hw_seq2seqs_and_its_homework_comes_from_its_folder(s2s_config):
    assert s2s_config.assignment == "hw_seq2seq" and s2s_config.files == FILES
    assert s2s_config.homework.path == ROOT / "assignments" / "hw_seq2seq" / "homework.py"
    assert set(s2s_config.functions) == set(s2s_config.homework.functions)
    assert {"reverse_training", "reverse_decoding"} == set(s2s_config.homework.behaviours)
    assert "encoder_forward" in s2s_config.homework.sequence_functions


def test_reference_gets_full_marks(s2s_config):
    report = grade(SOLUTIONS, s2s_config)
    assert not report.grader_errors, report.grader_errors
    assert [r.spec.full_name for r in report.tests if not r.passed] == []
    assert report.score == s2s_config.max_score > 100
    kinds = {r.spec.kind for r in report.tests}
    assert {"forward", "gradcheck", "reference_gradient", "inputs_unchanged", "behaviour"} <= kinds


def test_templates_get_zero(s2s_config):
    report = grade(TEMPLATES, s2s_config)
    assert report.score == 0 and len(report.tests) == len(s2s_config.tests)
    assert all("is not implemented yet" in r.output for r in report.tests)


@pytest.fixture(scope="module")
def untimed_config(tmp_path_factory):
    """hw_seq2seq's s2s_config with time limits no machine load reaches: a variant written with loops trains 200 steps
    about ten times slower than the reference, and these tests are about what it computes, not how fast."""
    raw = yaml.safe_load(CONFIG_PATH.read_text())
    for key in ("reference", "templates"):
        raw[key] = str((CONFIG_PATH.parent / raw[key]).resolve())
    for key in ("homework", "behaviours"):
        raw[key] = str(CONFIG_PATH.parent / f"{key}.py")
    raw["limits"].update(call_seconds=600.0, batch_seconds=600.0, cpu_seconds=3600)
    path = tmp_path_factory.mktemp("untimed") / "assignment.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return command_config(str(path))


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_correct_variants_get_full_marks(variant, untimed_config, tmp_path):
    report = grade(make_submission(tmp_path / variant.name, base=variant), untimed_config)
    assert [r.spec.full_name for r in report.tests if not r.passed] == []
    assert report.score == untimed_config.max_score
    assert untimed_config.homework.path == CONFIG_PATH.parent / "homework.py"


def test_corpus_names_only_graded_functions(s2s_config):
    assert len(MUTANTS) >= 20 and len({m["name"] for m in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        assert mutant["breaks"] and set(mutant["breaks"]) <= set(s2s_config.functions), mutant["name"]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m["name"] for m in MUTANTS])
def test_mutant_loses_points_exactly_where_it_breaks(mutant, untimed_config, tmp_path):
    report = grade(make_submission(tmp_path / mutant["name"], mutant["edits"]), untimed_config)
    assert not report.grader_errors, report.grader_errors
    assert lost(report) == set(mutant["breaks"]), mutant["why"]
    for r in report.tests:
        if not r.passed:
            assert r.output and r.output != "passed"
            check_time_wording("hw_seq2seq", r.spec.function, r.output, r.spec.hidden)


def test_feedback_follows_hw_seq2seqs_homework_module(s2s_config, tmp_path):
    """Time steps (its TIME_AXES) and the stability hint (its STABILITY_HINT) come from hw_seq2seq's module."""
    by_name = {m["name"]: m for m in MUTANTS}
    edits = by_name["encoder_backward_no_recurrent_gradient"]["edits"]
    report = grade(make_submission(tmp_path / "a", edits), s2s_config)
    failed = [r.output for r in report.tests if r.spec.function == "encoder_backward" and not r.passed]
    assert failed and any("time step" in output for output in failed), failed
    report = grade(make_submission(tmp_path / "b", by_name["masked_cross_entropy_unstable"]["edits"]), s2s_config)
    failed = [r.output for r in report.tests if not r.passed]
    assert failed and all(s2s_config.homework.stability_hint in output for output in failed), failed
    assert "each position's maximum over its K scores" in s2s_config.homework.stability_hint


def test_the_stability_hint_names_the_axis_to_take_the_maximum_over(s2s_config, tmp_path):
    """A student who subtracts each sequence's maximum (a "row" of the batch: the mask's rows are sequences) is
    right on ordinary scores but not near 1000; the hint names the last axis, not a row."""
    mutant = {m["name"]: m for m in MUTANTS}["masked_cross_entropy_max_per_sequence"]
    report = grade(make_submission(tmp_path / "m", mutant["edits"]), s2s_config)
    failed = [r for r in report.tests if not r.passed]
    assert failed and all(r.spec.stability for r in failed), [r.spec.full_name for r in failed]
    for r in failed:
        assert "o.max(axis=-1, keepdims=True)" in r.output and "row" not in r.output, r.output


# -- the Gradescope zip --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gradescope_source(tmp_path_factory) -> Path:
    """The zip for hw_seq2seq, built by the command line as `make gradescope ASSIGNMENT=hw_seq2seq` does, unpacked."""
    out = tmp_path_factory.mktemp("dist") / "autograder.zip"
    proc = subprocess.run([sys.executable, "-m", "autograder.integrations.gradescope", "build",
                           "--assignment", "hw_seq2seq", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path_factory.mktemp("gs_root")
    root.chmod(0o755)
    return gradescope.unpack(out, root) / "source"


def test_gradescope_zip_holds_the_assignment_modules_and_reference_only(gradescope_source):
    manifest = json.loads((gradescope_source / gradescope.MANIFEST).read_text())
    assert manifest["assignment"] == "hw_seq2seq"
    assert manifest["config"] == "assignments/hw_seq2seq/assignment.yaml"
    for name in ("assignment.yaml", "homework.py", "behaviours.py"):
        assert (gradescope_source / "assignments" / "hw_seq2seq" / name).is_file(), name
    assert sorted(p.name for p in (gradescope_source / "solutions" / "hw_seq2seq").iterdir()) == sorted(FILES)
    assert not (gradescope_source / "assignments" / "hw_rnn").exists()
    assert not (gradescope_source / "solutions" / "hw_rnn").exists()


@pytest.mark.parametrize("which", ["reference", "templates", "mutant"])
def test_gradescope_zip_grades_an_upload(gradescope_source, s2s_config, which, tmp_path, validate_results):
    if which == "reference":
        upload = SOLUTIONS
    elif which == "templates":
        upload = TEMPLATES
    else:
        mutant = MUTANTS[0]
        upload = make_submission(tmp_path / "mutant", mutant["edits"])
    folder = tmp_path / "upload"
    folder.mkdir()
    for name in FILES:
        shutil.copyfile(upload / name, folder / name)
    document, log = gradescope.grade_upload(gradescope_source, folder, timeout=600)
    validate_results(document)
    total = sum(t["max_score"] for t in document["tests"])
    assert total == s2s_config.max_score and len(document["tests"]) == len(s2s_config.tests)
    assert any("hw_seq2seq" in line for line in log)
    if which == "reference":
        assert document["score"] == total
    elif which == "templates":
        assert document["score"] == 0
    else:
        lost_here = {t["name"].split(":", 1)[0] for t in document["tests"] if t["score"] < t["max_score"]}
        assert lost_here == set(MUTANTS[0]["breaks"])


# -- the student bundle ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(s2s_config, tmp_path_factory) -> Path:
    """release.build for hw_seq2seq, unzipped."""
    zipped = release.build(s2s_config, tmp_path_factory.mktemp("dist"))
    assert zipped.name == "hw_seq2seq.zip"
    target = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(target)
    return target / "hw_seq2seq"


def test_bundle_ships_the_templates_and_the_assignment_modules(bundle):
    for name in FILES:
        assert (bundle / name).read_text() == (TEMPLATES / name).read_text()
    public = bundle / "autograder" / "public"
    for name in ("homework.py", "behaviours.py"):
        assert (public / name).read_text() == (ROOT / "assignments" / "hw_seq2seq" / name).read_text()
    assert (bundle / "autograder" / "spec.py").is_file()
    assert not list(bundle.rglob("solutions*"))


def test_bundle_reveals_no_solution_and_no_hidden_test(bundle, s2s_config):
    files = {str(p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    release.refuse_leaks(s2s_config, files, (bundle / "README.md").read_text())  # raises ReleaseError on a leak
    code = release.solution_lines(s2s_config, (bundle / "README.md").read_text())
    assert len(code) > 50  # the scan has something to find
    hidden = [t for t in s2s_config.tests if t.hidden]
    seeds = [re.compile(rf"\bseed\W+{c['seed']}\b") for t in hidden for c in t.cases]
    for name, content in files.items():
        text = content.decode(errors="replace")
        assert not [line for line in code if line in text], name
        if name.endswith(".json"):
            assert not [p.pattern for p in seeds if p.search(text)], name
    # The scan does find solution code: a template with the reference's code in it stops the build.
    leaky = dict(files)
    leaky[FILES[0]] = (SOLUTIONS / FILES[0]).read_bytes()
    with pytest.raises(release.ReleaseError, match="would reveal"):
        release.refuse_leaks(s2s_config, leaky, (bundle / "README.md").read_text())


def _case_label(output: str) -> str:
    return output.split("): ", 1)[0] if output.startswith("case ") else output.split(":", 1)[0]


def test_self_check_agrees_with_the_grader(bundle, numpy_only_python, s2s_config, tmp_path):
    """The bundle's self-check (numpy only, in its own process) and `python -m autograder check` agree, test by test,
    on the reference, the templates and a few mutants."""
    mutants = [make_submission(tmp_path / m["name"], m["edits"]) for m in MUTANTS[:4]]
    folders = [SOLUTIONS, TEMPLATES, *mutants]
    ours: dict = {}

    def check_all() -> None:
        for folder in folders:
            proc = subprocess.run([sys.executable, "-m", "autograder", "check", str(folder), "--assignment",
                                   "hw_seq2seq"], cwd=ROOT, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, proc.stderr
            ours[folder] = proc.stdout

    theirs = bundle_verdicts(numpy_only_python, bundle, folders, tmp_path, meanwhile=check_all)
    public = {t.full_name for t in s2s_config.tests if not t.hidden}
    for folder in folders:
        got = theirs[str(folder)]
        assert got["tests"].keys() == public and not got["grader_errors"], got["grader_errors"]
        report = grade(folder, s2s_config, public_only=True)
        for r in report.tests:
            passed, output = got["tests"][r.spec.full_name]
            assert passed == r.passed, f"{folder.name}, {r.spec.full_name}: self-check {passed}, grader {r.passed}"
            if not passed:
                assert _case_label(output) == _case_label(r.output)
        # The command line's table counts the same passes.
        assert ours[folder].count("[PASS]") == sum(p for p, _ in got["tests"].values()), folder.name
    assert all(p for p, _ in theirs[str(SOLUTIONS)]["tests"].values())
    assert not any(p for p, _ in theirs[str(TEMPLATES)]["tests"].values())
    assert templates.stale(s2s_config.reference, s2s_config.templates, s2s_config.files) == []
