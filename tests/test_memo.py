"""Reference values kept on disk between processes (autograder/grading/memo.py): a warm grade gives exactly the
cold grade's results without running the reference, a changed or damaged file is never trusted, and nothing is
kept where student code could write."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from conftest import CONFIG, SOLUTIONS, grade_cli, make_submission, write_config

from autograder import config as config_module
from autograder.config import load_config
from autograder.grading import grader, memo
from autograder.sandbox.privileges import cache_folder, student_identity

EDITS = {
    # (Not a bug that leaves part of an np.empty array unwritten: its messages show whatever memory held.)
    "rnn_step_backward_db_doubled": [{"file": "rnn_layers.py", "find": "    db = da.sum(axis=0)\n",
                                      "replace": "    db = 2 * da.sum(axis=0)\n"}],
    "sigmoid_overflows": [{"file": "lstm_layers.py", "find": "def sigmoid(z):\n",
                           "replace": "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"}],
}
needs_uid = pytest.mark.skipif(student_identity() is None, reason="values are kept on disk only in the root mode")


def _results(submission, tmp_path, tag: str) -> dict:
    out = tmp_path / tag
    out.mkdir()
    _, results = grade_cli(submission, out)
    results.pop("execution_time", None)
    return results


@needs_uid
def test_a_warm_grade_gives_the_cold_grades_results(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    subs = [make_submission(tmp_path / "reference")]
    subs += [make_submission(tmp_path / name, edits) for name, edits in EDITS.items()]
    cold = [_results(s, tmp_path, f"cold-{s.name}") for s in subs]
    assert len(list((tmp_path / "cache").glob("*.bin"))) == 1
    assert len(list((tmp_path / "cache").glob("config-*.json"))) == 1  # the command keeps the parsed config
    warm = [_results(s, tmp_path, f"warm-{s.name}") for s in subs]
    assert cold == warm
    assert cold[0]["score"] == sum(t["max_score"] for t in cold[0]["tests"]) > cold[1]["score"]


@needs_uid
def test_warm_values_need_no_reference_call(tmp_path, monkeypatch):
    """Read back, the kept values answer every reference call of the reference's own grading that depends on the
    case alone: the one left is the loss at the parameters the student's training returned (check_trained_loss),
    which no one can know in advance."""
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    config = load_config(write_config(tmp_path))
    monkeypatch.setattr(memo, "INPUTS", {})
    monkeypatch.setattr(memo, "OUTPUTS", {})
    monkeypatch.setattr(memo, "_LOADED", {})
    cold = grader.grade(SOLUTIONS, config)
    monkeypatch.setattr(memo, "INPUTS", {})
    monkeypatch.setattr(memo, "OUTPUTS", {})
    monkeypatch.setattr(memo, "_LOADED", {})

    def refuse(*args, **kwargs):
        raise AssertionError("the reference ran")

    real = grader.load_reference(config)
    stub = {module: SimpleNamespace(**{fn: getattr(real[module], fn, refuse) if fn == "char_rnn_loss" else refuse
                                       for fn in config.functions}) for module in {f[:-3] for f in config.files}}
    monkeypatch.setattr(grader, "load_reference", lambda c: stub)
    warm = grader.grade(SOLUTIONS, config)
    assert not warm.grader_errors
    assert [(t.spec.full_name, t.passed, t.output) for t in warm.tests] == [
        (t.spec.full_name, t.passed, t.output) for t in cold.tests]


@needs_uid
def test_a_changed_reference_gets_another_file(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    reference = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, reference)
    config = load_config(write_config(tmp_path, reference=str(reference)))
    before = memo._file(config)
    (reference / "rnn_layers.py").write_text((reference / "rnn_layers.py").read_text() + "\n# changed\n")
    assert memo._file(config) != before
    assert memo._file(load_config(CONFIG)).parent == before.parent


@needs_uid
@pytest.mark.parametrize("damage", [b"", b"not a cache file at all", b"\x00\x00\x00\x05{\"bo"])
def test_a_damaged_file_is_not_trusted(tmp_path, monkeypatch, damage, capsys):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    sub = make_submission(tmp_path / "reference")
    cold = _results(sub, tmp_path, "cold")
    (kept,) = (tmp_path / "cache").glob("*.bin")
    kept.write_bytes(damage + kept.read_bytes()[: 1000 * len(damage)])
    again = _results(sub, tmp_path, "again")
    assert again == cold


def test_nothing_is_kept_without_a_separate_uid(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AUTOGRADER_DROP_PRIVILEGES", "0")
    assert cache_folder() is None
    config = load_config(write_config(tmp_path))
    assert memo._file(config) is None
    memo.save(config)
    assert not (tmp_path / "cache").exists()
    assert json.dumps(memo.containers({"a": (1, [2.0])})) == '{"a": [1, [2.0]]}'


@needs_uid
def test_a_folder_others_can_write_is_not_used(tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("AUTOGRADER_CACHE", str(shared))
    config = load_config(write_config(tmp_path))
    assert memo._file(config) is None
    assert "closed to others" in capsys.readouterr().err
    shared.chmod(0o700)
    assert memo._file(config).parent == shared


@needs_uid
def test_the_parsed_config_is_kept_as_json_and_read_back_equal(tmp_path, monkeypatch):
    """A config read twice gives the same Config, the second time from the JSON kept beside the values; a
    damaged copy is parsed again and replaced; YAML that JSON would change (a date) is never kept."""
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(config_module, "parsed_cache", cache_folder)  # as the commands set it (cli.py)
    path = write_config(tmp_path)
    first = load_config(path)
    (kept,) = (tmp_path / "cache").glob("config-*.json")
    assert json.loads(kept.read_text())["submission"]["files"] == list(first.files)
    assert load_config(path) == first
    kept.write_text('{"submission": ')  # damaged: parsed from the YAML again
    assert load_config(path) == first
    assert json.loads(kept.read_text())["submission"]["files"] == list(first.files)
    dated = tmp_path / "dated.yaml"
    dated.write_text(path.read_text() + "\nreleased: 2026-12-01\n")
    load_config(dated)
    assert len(list((tmp_path / "cache").glob("config-*.json"))) == 1


def test_no_parsed_config_is_kept_without_a_separate_uid(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AUTOGRADER_DROP_PRIVILEGES", "0")
    monkeypatch.setattr(config_module, "parsed_cache", cache_folder)
    load_config(write_config(tmp_path))
    assert not (tmp_path / "cache").exists()


def test_the_file_format_gives_back_exactly_what_it_kept():
    """Tuples, dicts (keys that look like the format's own markers included), non-finite floats and arrays of
    every numeric kind come back identical, the arrays read-only; what the format cannot hold is refused."""
    import numpy as np

    value = [np.zeros((0, 3)), np.arange(5.0), (1, 2.5, float("nan"), float("-inf"), -0.0, None, True, "x"),
             {"a": np.array(3), "t": {"d": [1]}, "big": np.array([[1, 2]], dtype=">i4")},
             np.ones(3, bool), np.arange(7, dtype=np.uint8)[::2], np.zeros((2, 0))]
    ((key, back),) = memo._loads(memo._dumps([(("inputs", "f", "case"), value)]))
    assert key == ["inputs", "f", "case"] and memo._identical(value, back)
    assert all(not a.flags.writeable for a in (back[0], back[1], back[4], back[5]))
    for refused in (np.float64(1.0), [object()], np.zeros(2, complex), {1: 2}):
        assert not memo._keepable(("inputs",), refused)


@needs_uid
def test_warm_gradchecks_draw_no_directions(tmp_path, monkeypatch):
    """The quick check's and the deciding plans' random directions are kept with the inputs: a warm grade
    draws none, and grades as the cold one did."""
    from autograder.grading import gradcheck

    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    config = load_config(write_config(tmp_path))
    sub = make_submission(tmp_path / "bug", EDITS["rnn_step_backward_db_doubled"])
    for name in ("INPUTS", "OUTPUTS", "_LOADED"):
        monkeypatch.setattr(memo, name, {})
    monkeypatch.setattr(grader, "_PLANS", {})
    cold = grader.grade(sub, config)
    for name in ("INPUTS", "OUTPUTS", "_LOADED"):
        monkeypatch.setattr(memo, name, {})
    monkeypatch.setattr(grader, "_PLANS", {})

    def refuse(*args, **kwargs):
        raise AssertionError("directions were drawn again")

    monkeypatch.setattr(gradcheck, "plan", refuse)
    monkeypatch.setattr(gradcheck, "quick_plan", refuse)
    warm = grader.grade(sub, config)
    assert not warm.grader_errors
    assert [(t.spec.full_name, t.passed, t.output) for t in warm.tests] == [
        (t.spec.full_name, t.passed, t.output) for t in cold.tests]
    assert not all(t.passed for t in warm.tests if t.spec.function == "rnn_step_backward")
