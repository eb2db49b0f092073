"""The grading contract end to end, through the real command line."""

from __future__ import annotations

import json
import re

import pytest
from conftest import SOLUTIONS, TEMPLATES, VARIANTS, grade_cli, make_submission, run_cli


def test_reference_scores_full_marks(tmp_path, validate_results):
    proc, results = grade_cli(SOLUTIONS, tmp_path)
    validate_results(results)
    total = sum(t["max_score"] for t in results["tests"])
    assert total >= 100
    assert results["score"] == total
    assert all(t["status"] == "passed" for t in results["tests"])


def test_templates_score_zero_and_say_what_to_implement(tmp_path, validate_results):
    proc, results = grade_cli(TEMPLATES, tmp_path)
    validate_results(results)
    assert results["score"] == 0
    for test in results["tests"]:
        assert test["score"] == 0
        assert "is not implemented yet" in test["output"], test
        assert "NotImplementedError" in test["output"]
        # It names the function to write (the graded one, or the one it needs first) and its file; a hidden
        # test of a function with inputs only the graded function (which stub raised, and where, is the student
        # code's choice: the public tests say).
        pattern = (r"\w+ is not implemented yet: replace its `raise NotImplementedError` in "
                   r"(rnn_layers|lstm_layers|char_rnn|sequence_models|quiz)\.py")
        hidden = r"\b\w+ or a function it calls is not implemented yet: replace the `raise NotImplementedError`"
        assert re.search(pattern, test["output"]) or (test["visibility"] != "visible"
                                                      and re.search(hidden, test["output"])), test


def test_a_stub_in_another_file_is_named_with_its_own_file(tmp_path):
    """rnn_backward still the template's stub, every other function done: char_rnn_loss's public tests send the
    student to rnn_layers.py, where the stub is, not to char_rnn.py."""
    stub = make_submission(tmp_path / "stub", [{"file": "rnn_layers.py", "find": "def rnn_backward(",
                                                "replace": "def rnn_backward(*args):\n    raise NotImplementedError("
                                                           "'rnn_backward is not implemented yet')\n\n\ndef _done("}])
    _, results = grade_cli(stub, tmp_path)
    loss = [t for t in results["tests"] if t["name"].startswith("char_rnn_loss:") and t["visibility"] == "visible"]
    assert loss and all(t["score"] == 0 for t in loss)
    for t in loss:
        assert "rnn_backward is not implemented yet: replace its `raise NotImplementedError` in rnn_layers.py" \
            in t["output"], t["output"]


def test_every_test_name_starts_with_its_function(tmp_path, config):
    _, results = grade_cli(SOLUTIONS, tmp_path)
    names = [t["name"] for t in results["tests"]]
    assert len(names) == len(set(names))
    for name in names:
        function, _, rest = name.partition(": ")
        assert function in config.functions and rest


def test_visibility_follows_the_config(tmp_path, config):
    _, results = grade_cli(SOLUTIONS, tmp_path)
    by_name = {t["name"]: t for t in results["tests"]}
    for spec in config.tests:
        expected = config.hidden_visibility if spec.hidden else "visible"
        assert by_name[spec.full_name]["visibility"] == expected


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda p: p.name)
def test_correct_variants_score_full_marks(variant, tmp_path):
    _, results = grade_cli(make_submission(tmp_path / variant.name, base=variant), tmp_path)
    failed = [(t["name"], t["output"]) for t in results["tests"] if t["status"] != "passed"]
    assert not failed
    assert len(VARIANTS) >= 4


def test_check_runs_public_tests_only(config):
    proc = run_cli("check", str(SOLUTIONS))
    assert proc.returncode == 0, proc.stderr
    public = [t for t in config.tests if not t.hidden]
    hidden = [t for t in config.tests if t.hidden]
    assert proc.stdout.count("[PASS]") == len(public)
    for t in hidden:
        assert t.name not in proc.stdout
    assert "seed 1" in proc.stdout or "PASS" in proc.stdout


def test_check_on_templates_fails_every_public_test(config):
    proc = run_cli("check", str(TEMPLATES))
    assert proc.returncode == 0
    assert proc.stdout.count("[FAIL]") == len([t for t in config.tests if not t.hidden])
    assert "[PASS]" not in proc.stdout


def test_missing_submission_folder_is_a_usage_error(tmp_path):
    proc = run_cli("grade", str(tmp_path / "nope"), "--results", str(tmp_path / "r.json"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
    assert not (tmp_path / "r.json").exists()


def test_bad_config_exits_nonzero_with_reason(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions: [")
    proc = run_cli("grade", str(SOLUTIONS), "--config", str(bad), "--results", str(tmp_path / "r.json"))
    assert proc.returncode == 2
    assert "not valid YAML" in proc.stderr


def test_missing_and_misnamed_files(tmp_path, validate_results):
    sub = make_submission(tmp_path / "sub")
    (sub / "lstm_layers.py").rename(sub / "lstm_layer.py")  # a near miss: letter case alone is graded
    _, results = grade_cli(sub, tmp_path)
    validate_results(results)
    assert "rename it to 'lstm_layers.py'" in results["output"]
    for t in results["tests"]:
        function = t["name"].split(":")[0]
        module_is_lstm = function.startswith("lstm") or function == "sigmoid"
        assert (t["score"] == 0) == module_is_lstm, t
        if module_is_lstm:
            assert "lstm_layers.py was not found" in t["output"]


def test_printed_output_and_warnings_of_correct_code_cost_nothing(tmp_path):
    sub = make_submission(tmp_path / "chatty", [
        {"file": "rnn_layers.py", "find": "    a = x_t @ U.T + s_prev @ W.T + b\n",
         "replace": "    import warnings\n    print('debug: step', x_t.shape)\n"
                    "    warnings.warn('just a note')\n    a = x_t @ U.T + s_prev @ W.T + b\n"},
    ])
    _, results = grade_cli(sub, tmp_path)
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    assert "debug: step" in results["output"]


def test_results_file_is_complete_json(tmp_path):
    _, results = grade_cli(TEMPLATES, tmp_path)
    text = json.dumps(results)
    assert "NaN" not in text and "Infinity" not in text


def test_reference_loads_safely_from_several_threads(config, monkeypatch):
    """Loading points plain module names (`rnn_layers`) at the reference: threads must not undo each other's."""
    import threading

    from autograder.grading import grader

    for _ in range(10):
        monkeypatch.setattr(grader, "_REFERENCE_CACHE", {})
        start, errors = threading.Barrier(6), []

        def load(start: threading.Barrier, errors: list) -> None:
            start.wait()
            try:
                grader.load_reference(config)
            except Exception as exc:  # noqa: BLE001 -- collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=load, args=(start, errors)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors


def test_a_tests_own_tolerance_applies_to_every_kind(tmp_path):
    """`tolerance` on a test replaces its kind's default: gradient checks too, not only forward tests."""
    import yaml
    from conftest import CONFIG, write_config

    questions = yaml.safe_load(CONFIG.read_text())["questions"]
    backward = next(q for q in questions if q["function"] == "rnn_step_backward")
    for test in backward["tests"]:
        if test["kind"] in ("gradcheck", "reference_gradient"):
            test["tolerance"] = {"rtol": 0.01, "atol": 0.0}
    (tmp_path / "loose").mkdir()
    loose = write_config(tmp_path / "loose", questions=questions)
    # dW off by one part in 1,000: beyond the default tolerances, within 1%.
    edits = [{"file": "rnn_layers.py", "find": "    dW = da.T @ s_prev\n",
              "replace": "    dW = 1.001 * (da.T @ s_prev)\n"}]
    submission = make_submission(tmp_path / "sub", edits)
    _, strict = grade_cli(submission, tmp_path)
    _, relaxed = grade_cli(submission, tmp_path / "loose", "--config", str(loose))

    def gradient_tests(results: dict) -> dict[str, bool]:
        return {t["name"]: t["score"] == t["max_score"] for t in results["tests"]
                if t["name"].startswith("rnn_step_backward:") and "modify" not in t["name"]}

    assert len(gradient_tests(strict)) == 4 and not any(gradient_tests(strict).values())
    assert all(gradient_tests(relaxed).values())


def test_a_submission_that_cannot_be_graded_gets_a_results_json_saying_why(tmp_path):
    """A folder whose only work is a damaged zip: grade exits 1 (not 2: the command ran) and results.json holds
    score 0, no test and the reason, for Gradescope to show the student."""
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "hw_rnn.zip").write_bytes(b"PK\x03\x04 cut short")
    results = tmp_path / "results.json"
    proc = run_cli("grade", str(folder), "--results", str(results))
    assert proc.returncode == 1 and "not graded: a zip in the submission could not be opened" in proc.stderr
    data = json.loads(results.read_text())
    assert data["score"] == 0 and data["tests"] == [] and "hw_rnn.zip is not a valid zip file" in data["output"]
    missing = run_cli("grade", str(tmp_path / "nowhere"), "--results", str(tmp_path / "r2.json"))
    assert missing.returncode == 2 and not (tmp_path / "r2.json").exists()  # the command's problem, not a grade
