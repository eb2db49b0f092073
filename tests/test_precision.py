"""Float32 arithmetic inside a forward: named as such, never blamed on a correct backward, and no message
prints two numbers that look equal."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import grade_cli, make_submission

from autograder.grading.compare import (
    FLOAT32_HINT,
    FLOAT32_MAYBE,
    Tolerance,
    check_array,
    check_scalar,
    imprecise,
    pair,
)

# Each computes one forward in float32 somewhere; every backward stays the reference's (correct).
VARIANTS = {
    "rnn_step_forward_casts_output": (
        [{"file": "rnn_layers.py", "find": "    s_next = np.tanh(a)\n",
          "replace": "    s_next = np.tanh(a).astype(np.float32)\n"}], "rnn_step_forward", "rnn_step_backward"),
    "rnn_step_forward_float32_weights": (
        [{"file": "rnn_layers.py", "find": "    a = x_t @ U.T + s_prev @ W.T + b\n",
          "replace": "    a = x_t @ U.astype(np.float32).T + s_prev @ W.astype(np.float32).T + b\n"}],
        "rnn_step_forward", "rnn_step_backward"),
    "lstm_step_forward_float32_cell": (
        [{"file": "lstm_layers.py", "find": "    c_next = f * c_prev + i * c_tilde\n",
          "replace": "    c_next = (f * c_prev + i * c_tilde).astype(np.float32).astype(np.float64)\n"}],
        "lstm_step_forward", "lstm_step_backward"),
    # Rounded through float32 and widened back: float64 outputs, and a cache whose rounding reaches the gradients.
    "rnn_step_forward_float32_tanh": (
        [{"file": "rnn_layers.py", "find": "    s_next = np.tanh(a)\n",
          "replace": "    s_next = np.tanh(a.astype(np.float32)).astype(np.float64)\n"}],
        "rnn_step_forward", "rnn_step_backward"),
    "lstm_step_forward_float32_cell_dtype": (
        [{"file": "lstm_layers.py", "find": "    c_next = f * c_prev + i * c_tilde\n",
          "replace": "    c_next = (f * c_prev + i * c_tilde).astype(np.float32)\n"}],
        "lstm_step_forward", "lstm_step_backward"),
    "output_forward_float32_weights": (
        [{"file": "rnn_layers.py", "find": "    o = s @ V.T + c\n",
          "replace": "    o = s @ V.T.astype(np.float32) + c\n"}],
        "output_forward", "output_backward"),
}

NUMBERS = re.compile(r"got (\S+?),? (?:but )?expected (\S+?)\)")


# A float32 forward beside a backward whose dW is off by 1e-3 relative: far beyond the numerical check's rtol
# (1e-5), far within the noise float32 puts in central differences of that forward (about 1e-7 |L| / h).
SMALL_BACKWARD_BUG = VARIANTS["rnn_step_forward_casts_output"][0] + [
    {"file": "rnn_layers.py", "find": "    dW = da.T @ s_prev\n", "replace": "    dW = (da.T @ s_prev) * 1.001\n"}]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_float32_forward_is_named_and_its_right_backward_keeps_its_points(name, tmp_path):
    """Central differences of a float32 forward cannot check a backward; the reference forward's, at the same
    points, stand in for them: the forward loses what its own tests find (float32 named), a right backward nothing
    (no double penalty; lstm_step_forward's float32 cell passes its own tests, at rtol 1e-7, and failed its
    backward's before)."""
    edits, forward, backward = VARIANTS[name]
    _, results = grade_cli(make_submission(tmp_path / name, edits), tmp_path)
    tests = {t["name"]: t for t in results["tests"]}
    numerical = [t for n, t in tests.items() if n.startswith(f"{backward}:") and "numerical" in n]
    assert numerical and all(t["score"] == t["max_score"] for t in numerical), numerical
    # Every test of the backward, against the reference's gradients too (its cache carries float32 rounding).
    own = [t for n, t in tests.items() if n.startswith(f"{backward}:")]
    assert all(t["score"] == t["max_score"] for t in own), [t for t in own if t["score"] < t["max_score"]]
    assert not any("the grader itself failed" in t["output"] for t in results["tests"])
    for t in results["tests"]:
        assert "not precise enough" not in t["output"], t["output"]
        if t["score"] < t["max_score"] and not t["name"].startswith(f"{backward}:"):
            # Forward values off by ~1e-7 (or float32 arrays) say float32, whichever function shows them, or
            # name the forward as the function to fix first (training's Adagrad steps magnify the error past
            # what float32 alone leaves).
            if "relative error" in t["output"] and "numerical" not in t["name"]:
                assert "float32" in t["output"] or f"call {forward}, which fails its own tests" in t["output"], (
                    t["name"], t["output"])
        for got, want in NUMBERS.findall(t["output"]):
            assert got != want, t["output"]


def test_a_float32_forward_does_not_hide_a_small_backward_bug(tmp_path):
    _, results = grade_cli(make_submission(tmp_path / "small", SMALL_BACKWARD_BUG), tmp_path)
    public = next(t for t in results["tests"]
                  if t["name"] == "rnn_step_backward: gradients match the numerical gradient of your rnn_step_forward")
    assert public["score"] == 0, public
    assert "the numerical gradient of the reference rnn_step_forward (yours is float32-like" in public["output"]
    assert "dW" in public["output"] and "not precise enough" not in public["output"], public["output"]
    # The hints name the backward whose error is the bug, not the forward that is only float32-like.
    for t in results["tests"]:
        if t["name"].startswith(("rnn_step_backward:", "rnn_backward:")) and t["score"] < t["max_score"]:
            assert "fails its own tests, and this" not in t["output"], t["output"]
        if t["name"].startswith("rnn_backward:") and t["score"] < t["max_score"]:
            assert "meant to call rnn_step_backward" in " ".join(t["output"].split()), t["output"]


def test_pair_shows_the_difference():
    assert pair(-0.4125871, -0.4125873) == "got -0.4125871, expected -0.4125873"
    assert pair(1.0, 1.0 + 2**-52) != "got 1, expected 1"
    assert pair(0.5, 0.25) == "got 0.5, expected 0.25"


def test_array_and_scalar_messages_show_distinct_numbers_and_name_float32():
    tol = Tolerance(1e-7, 1e-9)
    expected = np.random.default_rng(0).standard_normal((3, 4))
    rounded = expected * (1 + 4e-7)  # float32 arithmetic over a few operations
    found = check_array("s", rounded, expected, tol)
    assert found is not None and "float32" in found.message and "float32" in found.brief
    got, want = NUMBERS.findall(found.message)[0]
    assert got != want
    assert "float32" in check_array("s", expected.astype(np.float32), expected, tol).message
    scalar = check_scalar("loss", 1.2345678 * (1 + 3e-7), 1.2345678, tol)
    assert scalar is not None and "float32" in scalar.message
    assert "float32" in check_scalar("loss", np.float32(1.5), 1.5, tol).message
    # A real bug (a relative error near 1) is not called float32.
    assert not imprecise(expected * 1.5, expected) and imprecise(rounded, expected)
    assert not imprecise(expected + 1e-15, expected)


def test_float32_is_asserted_only_of_float32_numbers():
    """Values widened from float32 are float32 for sure; values off by 1e-6 that are not float32 numbers may be a
    bug that barely shows (a factor that a later normalisation divides out): the hint then says both."""
    tol = Tolerance(1e-7, 1e-9)
    expected = np.random.default_rng(1).standard_normal((4, 3))
    # A few float32 operations (about 4e-7), then widened: every value is a float32 number.
    widened = (expected * (1 + 4e-7)).astype(np.float32).astype(np.float64)
    assert FLOAT32_HINT in check_array("s", widened, expected, tol).message
    nudged = expected * (1 + 2e-6)
    found = check_array("s", nudged, expected, tol)
    assert FLOAT32_MAYBE in found.message and FLOAT32_MAYBE in found.brief
    assert FLOAT32_MAYBE in check_scalar("loss", 1.25 * (1 + 3e-7), 1.25, tol).message
    assert FLOAT32_HINT in check_scalar("loss", float(np.float32(1.2345678 * (1 + 4e-7))), 1.2345678, tol).message


def test_a_bug_an_update_rule_divides_out_is_not_called_float32(tmp_path):
    """db averaged over the batch instead of summed: Adagrad's step g / sqrt(m) hides the factor, so training
    differs from the reference by about 1e-6; that is not float32, and the message must not say it is."""
    edits = [{"file": "rnn_layers.py", "find": "    db = da.sum(axis=0)\n", "replace": "    db = da.mean(axis=0)\n"}]
    _, results = grade_cli(make_submission(tmp_path / "db_mean", edits), tmp_path)
    training = next(t for t in results["tests"] if t["name"] == "train_char_rnn: three steps match the reference")
    assert training["score"] == 0
    assert FLOAT32_MAYBE in training["output"] and FLOAT32_HINT not in training["output"], training["output"]


def test_a_float32_forward_does_not_excuse_a_backward_far_off(tmp_path):
    """float32 states in rnn_step_forward spoil central differences by about 1e-7 |L| / h; many_to_one_loss's
    missing 1/N is a factor of 2, far beyond that: its own check says it is wrong, not that it cannot tell."""
    edits = VARIANTS["rnn_step_forward_casts_output"][0] + [
        {"file": "sequence_models.py", "find": "    do /= N\n", "replace": ""}]
    _, results = grade_cli(make_submission(tmp_path / "both", edits), tmp_path)
    test = next(t for t in results["tests"]
                if t["name"] == "many_to_one_loss: gradients match the numerical gradient of your loss")
    assert test["score"] == 0 and "not precise enough" not in test["output"], test["output"]
    assert "the numerical gradient of the reference many_to_one_loss" in test["output"], test["output"]


def test_outputs_rounded_to_float32_within_tolerance_are_named_where_they_cost(tmp_path):
    """rnn_forward stores its states rounded through float32: right to 6e-8, so its own tests pass, but
    char_rnn_loss (the reference's code) then fails by float32-sized errors. The failing tests name rnn_forward
    as where the rounding is, and no caller is sent to fix char_rnn_loss, whose code is right."""
    edits = [{"file": "rnn_layers.py", "find": "        s[:, t] = s_prev\n",
              "replace": "        s[:, t] = s_prev.astype(np.float32)\n"}]
    _, results = grade_cli(make_submission(tmp_path / "rounded", edits), tmp_path)
    tests = {t["name"]: t for t in results["tests"]}
    assert all(t["score"] == t["max_score"] for n, t in tests.items() if n.startswith("rnn_forward:"))
    failed = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert failed and all(t["name"].split(":")[0] in ("char_rnn_loss", "train_char_rnn", "many_to_one_loss")
                          for t in failed), [t["name"] for t in failed]
    for t in failed:
        if t["visibility"] == "visible":
            assert "Hint: rnn_forward returns values rounded to float32" in t["output"], (t["name"], t["output"])
        assert "meant to call char_rnn_loss" not in t["output"], t["output"]
