"""hw_seq2seq's checks of what a function achieves rather than of its exact values.

The same form as hw_rnn's (assignments/hw_rnn/behaviours.py, see autograder/spec.py): each check runs the student's
function in the child, computes what it needs from the reference in the
grader's process (always through ``grading.reference_call``), and raises
``Failed`` with a message when the behaviour is wrong.  A test of kind
``behaviour`` names its check in each case (``check: reverse_training``).

The task is homework.reverse_task: reverse strings of 1 to 3 digits.
"""

from __future__ import annotations

import numpy as np

from autograder.config import TestSpec
from autograder.grading.compare import describe_type
from autograder.grading.grader import Failed, _call_failed, _unpack
from autograder.spec import Inputs, sibling

homework = sibling(__file__, "homework")  # this assignment's homework.py, as the grader loads it
FUNCTIONS = homework.FUNCTIONS


def _student(grading, name: str, args: list, kwargs: dict | None = None) -> dict:
    """Call the student's function; its named outputs, or Failed when the call fails."""
    fn = FUNCTIONS[name]
    reply = grading.student_call(fn, args, kwargs or {}).result()
    if not reply.ok:
        raise _call_failed(reply, fn)
    return _unpack(fn, reply.value)


def _train_args(case: dict) -> tuple[list, dict]:
    return Inputs(FUNCTIONS["train_seq2seq"], homework_inputs("train_seq2seq", case)).call_args()


def homework_inputs(name: str, case: dict) -> dict:
    """The inputs homework.py builds for one case of function ``name``."""
    return FUNCTIONS[name].build(case, np.random.default_rng(case["seed"]))


def _accuracy(grading, params: dict, held_out: list[np.ndarray], max_length: int) -> tuple[int, list]:
    """How many held-out strings the student's greedy_decode reverses exactly; and the first few it gets wrong."""
    right, wrong = 0, []
    for src in held_out:
        got = _student(grading, "greedy_decode", [params, src, homework.START, homework.END, max_length])["tokens"]
        if not isinstance(got, np.ndarray) or got.ndim != 1 or got.dtype.kind not in "iu":
            wanted = "greedy_decode should return a 1-D integer array, got "
            raise Failed(wanted + describe_type(got), brief=wanted + describe_type(got, hidden=True))
        if np.array_equal(got, src[::-1]):
            right += 1
        elif len(wrong) < 3:
            wrong.append(f"{''.join(map(str, src))} -> {' '.join(map(str, got.tolist()))}")
    return right, wrong


def reverse_training(grading, test: TestSpec, case: dict) -> None:
    """train_seq2seq on the reversal task from the grader's initial parameters.

    The losses must stay finite and the last one must fall below ``below``, and so
    must seq2seq_loss at the parameters it returns (``Grading.check_trained_loss``).
    """
    args, kwargs = _train_args(case)
    got = _student(grading, "train_seq2seq", args, kwargs)
    steps = case["steps"]
    losses = got["losses"]
    if not isinstance(losses, np.ndarray) or losses.shape != (steps,) or losses.dtype != np.float64:
        raise Failed(f"losses should be a float64 array of shape ({steps},), got {describe_type(losses)}",
                     brief=f"losses should be a float64 vector, got {describe_type(losses, hidden=True)}")
    if not np.all(np.isfinite(losses)):
        raise Failed("the loss became NaN or inf during training (are the gradients clipped?)")
    if not losses[-1] < case["below"]:
        # A hidden test's brief gives no figure the student's code returned (it could carry the inputs), nor the case.
        raise Failed(f"after {steps} steps the loss is {losses[-1]:.4g}, but it should fall below {case['below']:g} "
                     f"(it started at {losses[0]:.4g})",
                     brief="the loss does not fall below the threshold within the steps given")
    grading.check_trained_loss(FUNCTIONS["seq2seq_loss"], list(args[:6]), [got["params"], *args[1:6]],
                               case["below"], losses)


def reverse_decoding(grading, test: TestSpec, case: dict) -> None:
    """The student's greedy_decode, with parameters the reference trained, reverses held-out strings."""
    args, kwargs = _train_args(case)
    trained = grading.reference_call(FUNCTIONS["train_seq2seq"], args, kwargs)["params"]
    _, held_out = homework.reverse_task(case["seed"], case["train_size"])
    right, wrong = _accuracy(grading, trained, held_out, case["max_length"])
    if right < case["accuracy"] * len(held_out):
        summary = (f"your greedy_decode reverses {right} of {len(held_out)} held-out strings with parameters the "
                   f"reference trained; at least {case['accuracy']:.0%} should be right")
        raise Failed(f"{summary} (e.g. {'; '.join(wrong)})", brief=summary)


BEHAVIOURS = {"reverse_training": reverse_training, "reverse_decoding": reverse_decoding}
