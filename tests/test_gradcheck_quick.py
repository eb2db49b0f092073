"""The quick gradient check (random directional derivatives first, autograder/grading/gradcheck.py) decides nothing by
itself: on subtle bugs, one entry or one time step slightly off, and on correct code, the grader's verdicts and
messages are those of the coordinate-by-coordinate check it replaced (AUTOGRADER_FULL_GRADCHECK=1)."""

from __future__ import annotations

import pytest
import yaml
from conftest import CONFIG, ROOT, grade_cli, make_submission, write_config

from autograder.grading.gradcheck import FULL_CHECK_ENV

# Bugs far smaller than the corpus's: each fails the coordinate check in one place, by little.
SUBTLE = {
    "rnn_step_backward_one_bias_entry_off": (
        [{"file": "rnn_layers.py", "find": "    db = da.sum(axis=0)\n",
          "replace": "    db = da.sum(axis=0)\n    db[0] += 1e-4\n"}], "rnn_step_backward", "db"),
    "rnn_step_backward_dU_off_by_1e-4": (
        [{"file": "rnn_layers.py", "find": "    dU = da.T @ x_t\n", "replace": "    dU = 1.0001 * (da.T @ x_t)\n"}],
        "rnn_step_backward", "dU"),
    "rnn_backward_first_step_dx_off_by_1e-3": (
        [{"file": "rnn_layers.py", "find": "        dx[:, t] = dx_t\n",
          "replace": "        dx[:, t] = dx_t * (1.0 + 1e-3 * (t == 0))\n"}], "rnn_backward", "dx"),
    "lstm_step_backward_output_gate_bias_off_by_1e-3": (
        [{"file": "lstm_layers.py", "find": '        grads["b" + g] = d.sum(axis=0)\n',
          "replace": '        grads["b" + g] = d.sum(axis=0) * (1.0 + 1e-3 * (g == "o"))\n'}],
        "lstm_step_backward", "grads['bo']"),
}
VARIANTS = ROOT / "tests" / "submissions" / "variants"
BACKWARDS = ("rnn_step_backward", "rnn_backward", "lstm_step_backward", "lstm_backward", "output_backward",
             "softmax_cross_entropy")


def gradcheck_config(tmp_path, functions: tuple[str, ...]):
    """The assignment config with only the numerical gradient tests (public and hidden) of ``functions``."""
    questions = yaml.safe_load(CONFIG.read_text())["questions"]
    kept = []
    for q in questions:
        tests = [t for t in q["tests"] if t["kind"] == "gradcheck"] if q["function"] in functions else []
        if tests:
            kept.append({**q, "tests": tests})
    assert {q["function"] for q in kept} == set(functions)
    folder = tmp_path / "config"
    folder.mkdir()
    return write_config(folder, questions=kept)


def verdicts(submission, tmp_path, config, monkeypatch, full: bool) -> list[tuple]:
    monkeypatch.setenv(FULL_CHECK_ENV, "1" if full else "0")
    out = tmp_path / ("full" if full else "quick")
    out.mkdir()
    _, results = grade_cli(submission, out, "--config", str(config))
    return [(t["name"], t["score"], t["output"]) for t in results["tests"]]


@pytest.mark.parametrize("name", sorted(SUBTLE))
def test_a_subtle_bug_gets_the_coordinate_checks_verdict(name, tmp_path, monkeypatch):
    edits, backward, label = SUBTLE[name]
    config = gradcheck_config(tmp_path, (backward,))
    submission = make_submission(tmp_path / name, edits)
    quick = verdicts(submission, tmp_path, config, monkeypatch, full=False)
    full = verdicts(submission, tmp_path, config, monkeypatch, full=True)
    assert quick == full
    public = [(n, score, output) for n, score, output in quick if "hidden" not in n]
    assert public and all(score == 0 for _, score, _ in public)
    for _, _, output in public:
        # The coordinate check's words: the array and the entry that is wrong.
        assert "does not match the numerical gradient of your" in output and f"{label} " in output, output
        assert "index (" in output and "directional" not in output, output


@pytest.mark.parametrize("variant", ["reference", *sorted(p.name for p in VARIANTS.iterdir() if p.is_dir())])
def test_correct_code_passes_both_ways(variant, tmp_path, monkeypatch):
    config = gradcheck_config(tmp_path, BACKWARDS)
    submission = make_submission(tmp_path / variant, base=VARIANTS / variant if variant != "reference" else
                                 ROOT / "solutions" / "hw_rnn")
    quick = verdicts(submission, tmp_path, config, monkeypatch, full=False)
    assert quick == verdicts(submission, tmp_path, config, monkeypatch, full=True)
    assert len(quick) >= 2 * len(BACKWARDS) and all(output == "passed" for _, _, output in quick)
