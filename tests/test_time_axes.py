"""Feedback names a time step (and T) only for arrays that have a time axis, at that axis, with the case's T.

A parameter gradient (dW (H, H)), a state of one step (ds0 (N, H)) or a dict of parameters has no time
axis: reading one of its axes as time once told a student with a transposed dW "time step 4; wrong at
every time step (T = 5)" on a case with T = 4.  These tests plant one wrong entry in every output and
gradient of every graded function of both assignments, at the first, the last and a random position,
and check the message the grader's comparison gives; then they grade real submissions with planted
faults and check every message of their feedback (tests/time_axes.py holds the truth, from the APIs).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import grade_cli, make_submission
from seq2seq_support import make_submission as make_seq2seq_submission
from time_axes import TIME_AXES, check_time_wording

from autograder.config import command_config
from autograder.grading.grader import Grading, grade, load_reference
from autograder.spec import named_outputs, upstream_gradients

ASSIGNMENTS = ("hw_rnn", "hw_seq2seq")
# Functions with no float array among their outputs: the quiz's answers, and integer tokens compared whole.
NO_FLOAT_ARRAYS = {"hw_rnn": {"answers", "sample"}, "hw_seq2seq": {"shift_targets", "greedy_decode"}}
KINDS = ("forward", "gradcheck", "reference_gradient", "inputs_unchanged")


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def grading(request) -> Grading:
    """The grader's comparison for one assignment, on the reference (no child: only check_output is called)."""
    config = command_config(None, assignment=request.param)
    return Grading(config, None, load_reference(config), {})


def function_cases(grading: Grading, function: str) -> list[dict]:
    """Every distinct case of the function's value tests (public and hidden), behaviour checks left out."""
    seen, cases = set(), []
    for test in grading.config.tests:
        if test.function != function or test.kind not in KINDS:
            continue
        for case in test.cases:
            key = json.dumps(case, sort_keys=True)
            if "check" not in case and key not in seen:
                seen.add(key)
                cases.append(case)
    return cases


def reference_values(grading: Grading, function: str, case: dict) -> dict:
    """The reference's outputs of ``function`` on ``case``; for a backward, on its forward's outputs and cache."""
    homework = grading.homework
    gradient = homework.gradients.get(function)
    if gradient is None or gradient.forward == function:
        fn = homework.functions[function]
        args, kwargs = homework.forward_inputs(function, case).call_args()
        return grading.reference_call(fn, args, kwargs)
    forward = homework.functions[gradient.forward]
    args, kwargs = homework.forward_inputs(forward.name, case).call_args()
    outputs = grading.reference_call(forward, args, kwargs)
    upstream = upstream_gradients(gradient, outputs, case)
    backward = homework.functions[function]
    module = grading.reference[backward.module]
    return named_outputs(backward, getattr(module, function)(*[upstream[n] for n in gradient.upstream],
                                                             outputs["cache"]))


def float_arrays(name: str, value) -> list[tuple[str, object, list[str]]]:
    """(label, array, path) for each float array of an output: the output itself, or a dict's entries."""
    if isinstance(value, dict):
        return [(f"{name}[{k!r}]", v, [k]) for k, v in value.items()
                if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
        return [(name, value, [])]
    return []


def positions(array: np.ndarray, seed: int) -> list[tuple[int, ...]]:
    """The first entry, the last and a random one."""
    flat = {0, array.size - 1, int(np.random.default_rng(seed).integers(array.size))}
    return [tuple(int(i) for i in np.unravel_index(k, array.shape)) for k in sorted(flat)]


def test_the_homework_modules_declare_the_time_axes_the_apis_document():
    for assignment in ASSIGNMENTS:
        homework = command_config(None, assignment=assignment).homework
        declared = {(f, out): axis for f, axes in homework.time_axes.items() for out, axis in axes.items()}
        assert declared == {k: axis for k, (axis, _) in TIME_AXES[assignment].items()}, assignment


def test_a_planted_wrong_entry_names_the_time_step_only_where_there_is_one(grading):
    assignment = grading.config.assignment
    tol = grading.reference_tol
    covered, time_named = set(), set()
    for function in grading.homework.functions:
        for case in function_cases(grading, function):
            expected = reference_values(grading, function, case)
            label = "case 1 of 1 (" + ", ".join(f"{k}={v}" for k, v in case.items()) + "): "
            for name, value in expected.items():
                if name == "cache":
                    continue
                for array_label, array, path in float_arrays(name, value):
                    truth = TIME_AXES[assignment].get((function, name)) if not path else None
                    if truth is not None:  # the table agrees with the reference's shapes
                        assert array.shape[truth[0]] == case[truth[1]], (function, name, array.shape, case)
                    for index in positions(array, case["seed"]):
                        wrong = array.copy()
                        wrong[index] += 1.0 + abs(wrong[index])
                        got = {**value, path[0]: wrong} if path else wrong
                        # As the value tests compare the output, and as the numerical check names the gradient.
                        checks = [(name, got, value)] + ([(array_label, wrong, array)] if path else [])
                        for checked, actual, want in checks:
                            mismatch = grading.check_output(function, checked, actual, want, tol)
                            assert mismatch is not None, (function, checked, index)
                            message = mismatch.message
                            assert f"at index {index}" in message, message
                            if truth is None:
                                assert "time step" not in message and "T = " not in message, (function, message)
                            else:
                                axis, key = truth
                                T = case[key]
                                steps = ("wrong at every time step" if T == 1 else
                                         f"wrong at time steps [{index[axis]}] but right at")
                                assert f", time step {index[axis]}; {steps}" in message, message
                                assert f"(T = {T})" in message, message
                                time_named.add((function, name))
                            assert check_time_wording(assignment, function, label + message) == (truth is not None)
                            assert "time step" not in mismatch.brief  # hidden tests name no position
                    covered.add(function)
    assert covered == set(grading.homework.functions) - NO_FLOAT_ARRAYS[assignment]
    assert time_named == set(TIME_AXES[assignment])


def test_the_check_refuses_the_message_the_ta_found():
    """The helper the other tests use fails on the wrong feedback (dW read as (N, T): T = 4 on a T = 1 case)."""
    message = ("case 1 of 1 (seed 31, N=2, T=1, D=3, H=4): does not match the numerical gradient of your "
               "rnn_forward: dW is wrong in 12 of 16 entries: worst relative error 1.54e+00 at index (3, 0), "
               "time step 0; wrong at every time step (T = 4) (got 0.0896775, expected -0.165761)")
    with pytest.raises(AssertionError, match="dW has no time axis"):
        check_time_wording("hw_rnn", "rnn_backward", message)
    wrong_T = message.replace("dW is", "dx is").replace("(3, 0)", "(1, 0, 2)")
    with pytest.raises(AssertionError, match="T should be T = 1"):
        check_time_wording("hw_rnn", "rnn_backward", wrong_T)


# -- the real grader on submissions with planted faults ------------------------------------------------------
RNN_FAULTS = {
    # The TA's case: dW transposed in rnn_step_backward reaches rnn_backward, char_rnn_loss, many_to_one_loss.
    "dW_transposed": [{"file": "rnn_layers.py", "find": "    dW = da.T @ s_prev\n",
                       "replace": "    dW = s_prev.T @ da\n"}],
    # States of one step: ds0 (N, H) of rnn_backward, dh0 (N, H) of lstm_backward.
    "states_and_parameters": [
        {"file": "rnn_layers.py", "find": "    return dx, ds_carry, dU, dW, db\n",
         "replace": "    return dx, 2 * ds_carry, dU, dW, db\n"},
        {"file": "lstm_layers.py", "find": "    return dx, dh_carry, grads\n",
         "replace": "    return dx, dh_carry + 1.0, grads\n"},
    ],
    # Arrays with a time axis wrong at their last step only: s of rnn_forward, h of lstm_forward.
    "last_step": [
        {"file": "rnn_layers.py", "find": "    return s, caches\n",
         "replace": "    s[:, -1] *= 1.5\n    return s, caches\n"},
        {"file": "lstm_layers.py", "find": "    return h, caches\n",
         "replace": "    h[:, -1] *= 1.5\n    return h, caches\n"},
    ],
}


@pytest.mark.parametrize("fault", sorted(RNN_FAULTS))
def test_hw_rnn_feedback_names_time_steps_only_for_time_axes(fault, tmp_path):
    _, results = grade_cli(make_submission(tmp_path / fault, RNN_FAULTS[fault]), tmp_path)
    failed = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert failed
    named = {t["name"]: check_time_wording("hw_rnn", t["name"].split(":", 1)[0], t["output"],
                                           hidden=t["visibility"] != "visible") for t in failed}
    outputs = {t["name"]: t["output"] for t in failed}
    if fault == "dW_transposed":
        backward = [n for n in outputs if n.startswith("rnn_backward:") and "inputs" not in n]
        assert backward and all("dW is wrong" in outputs[n] for n in backward), outputs
        assert not any(named.values()), outputs
    elif fault == "states_and_parameters":
        assert "ds0 is wrong" in outputs["rnn_backward: gradients match the reference"]
        assert "dh0 is wrong" in outputs["lstm_backward: gradients match the reference"]
        assert not any(named.values()), outputs
    else:
        for function, output in (("rnn_forward", "s"), ("lstm_forward", "h")):
            message = outputs[f"{function}: matches the reference"]
            assert f"{output} is wrong" in message and named[f"{function}: matches the reference"] == 1, message
            # The single-step test: wrong at its only step, T = 1 (the case's, not another axis' length).
            single = outputs[f"{function}: a single time step (T = 1)"]
            assert "time step 0; wrong at every time step (T = 1)" in single, single


SEQ2SEQ_FAULTS = {
    # context (N, H), ds0 (N, H): no time axis.
    "context_and_ds0": [
        {"file": "encoder.py", "find": "    return s, context, (steps, lengths)\n",
         "replace": "    return s, context * 1.5, (steps, lengths)\n"},
        {"file": "encoder.py", "find": "    return dx, ds_carry, dU, dW, db\n",
         "replace": "    return dx, ds_carry * 1.5, dU, dW, db\n"},
    ],
    # s (N, T_src, H) wrong at its last step: T is T_src.
    "encoder_last_step": [
        {"file": "encoder.py", "find": "    return s, context, (steps, lengths)\n",
         "replace": "    s = s.copy()\n    s[:, -1] += 1.0\n    return s, context, (steps, lengths)\n"},
    ],
}


@pytest.mark.parametrize("fault", sorted(SEQ2SEQ_FAULTS))
def test_hw_seq2seq_feedback_names_time_steps_only_for_time_axes(fault, tmp_path):
    config = command_config(None, assignment="hw_seq2seq")
    report = grade(make_seq2seq_submission(tmp_path / fault, SEQ2SEQ_FAULTS[fault]), config)
    assert not report.grader_errors, report.grader_errors
    failed = [r for r in report.tests if not r.passed]
    named = {r.spec.full_name: check_time_wording("hw_seq2seq", r.spec.function, r.output, r.spec.hidden)
             for r in failed}
    outputs = {r.spec.full_name: r.output for r in failed}
    encoder = [n for n in outputs if n.startswith("encoder_forward:") and "inputs" not in n]
    assert encoder, outputs
    if fault == "context_and_ds0":
        assert all("context is wrong" in outputs[n] for n in encoder if "hidden" not in outputs[n]), outputs
        assert any("ds0 is wrong" in outputs[n] for n in outputs if n.startswith("encoder_backward:")), outputs
        # (encoder_backward's numerical check, on the student's own forward, may name dx and its time steps.)
        about = [n for n in outputs if "context is wrong" in outputs[n] or "ds0 is wrong" in outputs[n]]
        assert about and not any(named[n] for n in about), outputs
    else:
        public = [n for n in encoder if not outputs[n].startswith("hidden")]
        assert public and all(named[n] == 1 for n in public), outputs
