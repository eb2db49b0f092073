"""A test scores only the property its name says: a wrong value costs the value tests, not "does not
modify its inputs" nor "stable ..." (a stub, raising NotImplementedError, still earns nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATES, grade_cli, make_submission

CORPUS = {m["name"]: m for m in yaml.safe_load((Path(__file__).parent / "corpus" / "mutants.yaml").read_text())}

# Wrong values, inputs untouched: each loses value tests of the function it is about, never that function's
# "does not modify its inputs" (a caller that then raises, such as train_char_rnn, cannot be checked and may).
WRONG_VALUES = {"softmax_mask_ignored_in_loss": "softmax_cross_entropy",
                "rnn_backward_no_recurrent_gradient": "rnn_backward",
                "rnn_step_forward_w_untransposed": "rnn_step_forward",
                "output_backward_dv_transposed": "output_backward",
                "lstm_step_backward_missing_dh_into_dc": "lstm_step_backward",
                "clip_gradients_squared_norm": "clip_gradients",
                "softmax_mask_ignored_in_gradient": "softmax_cross_entropy"}


def _by_name(results: dict) -> dict:
    return {t["name"]: t for t in results["tests"]}


@pytest.mark.parametrize("name", sorted(WRONG_VALUES))
def test_wrong_values_keep_the_inputs_unchanged_point(name, tmp_path):
    mutant, function = CORPUS[name], WRONG_VALUES[name]
    _, results = grade_cli(make_submission(tmp_path / name, mutant["edits"]), tmp_path)
    tests = _by_name(results)
    lost = [t for n, t in tests.items() if n.startswith(f"{function}:") and t["score"] < t["max_score"]]
    assert lost, f"{name} should still lose value tests of {function}"
    kept = tests[f"{function}: does not modify its inputs"]
    assert kept["score"] == kept["max_score"], kept["output"]


@pytest.mark.parametrize("name", ["softmax_shifts_scores_in_place", "clip_gradients_in_place",
                                  "rnn_step_backward_modifies_ds_next"])
def test_modifying_an_input_still_loses_it(name, tmp_path):
    mutant = CORPUS[name]
    _, results = grade_cli(make_submission(tmp_path / name, mutant["edits"]), tmp_path)
    test = _by_name(results)[f"{mutant['breaks'][0]}: does not modify its inputs"]
    assert test["score"] == 0 and "in place" in test["output"], test["output"]


def test_stubs_earn_nothing_for_unchanged_inputs(tmp_path):
    _, results = grade_cli(make_submission(tmp_path / "stubs", base=TEMPLATES), tmp_path)
    for t in results["tests"]:
        if t["name"].endswith("does not modify its inputs"):
            assert t["score"] == 0 and "not implemented" in t["output"], (t["name"], t["output"])


def test_a_stable_but_wrong_function_keeps_the_stability_points(tmp_path):
    # The mask ignored: wrong at any scale, but no overflow at 1000.
    _, results = grade_cli(make_submission(tmp_path / "mask", CORPUS["softmax_mask_ignored_in_loss"]["edits"]),
                           tmp_path)
    tests = _by_name(results)
    stable = tests["softmax_cross_entropy: stable for scores near 1000"]
    assert stable["score"] == stable["max_score"], stable["output"]
    assert tests["softmax_cross_entropy: sequences of different lengths (mask) and a fully masked sequence"][
        "score"] == 0


@pytest.mark.parametrize("name", ["softmax_unstable_no_max_shift", "sigmoid_unstable"])
def test_an_unstable_function_still_loses_the_stability_points(name, tmp_path):
    mutant = CORPUS[name]
    _, results = grade_cli(make_submission(tmp_path / name, mutant["edits"]), tmp_path)
    lost = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert any("stable" in t["name"] for t in lost), [t["name"] for t in lost]
