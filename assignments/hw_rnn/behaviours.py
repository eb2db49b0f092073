"""hw_rnn's checks of what a function achieves rather than of its exact values.

Each check runs the student's function in the child (like every other test),
computes what it needs from the reference in the grader's process (always
through ``reference_call``, which the student bundle answers from recorded
values), and raises
``Failed`` with a message when the behaviour is wrong.  A test of kind
``behaviour`` names its check in each case (``check: hello_training``).
"""

from __future__ import annotations

import numpy as np

from autograder.config import TestSpec
from autograder.grading.compare import describe_type

# Loaded by the grader (autograder/spec.py) when a behaviour test first runs, once grader.py is loaded.
from autograder.grading.grader import Failed, _call_failed, _unpack
from autograder.spec import sibling

homework = sibling(__file__, "homework")  # this assignment's homework.py, as the grader loads it
FUNCTIONS, VOCAB = homework.FUNCTIONS, homework.VOCAB


def _student(grading, name: str, args: list, kwargs: dict | None = None) -> dict:
    """Call the student's function; its named outputs, or Failed when the call fails."""
    fn = FUNCTIONS[name]
    reply = grading.student_call(fn, args, kwargs or {}).result()
    if not reply.ok:
        raise _call_failed(reply, fn, config=grading.config)
    return _unpack(fn, reply.value)


def _call(grading, name: str, case: dict) -> tuple[dict, list]:
    """Call the student's function on the case's inputs (the call the grader sent ahead, see CALLS); its named
    outputs and the arguments."""
    fn = FUNCTIONS[name]
    pending, args, _ = grading.forward_call(fn, case)
    reply = pending.result()
    if not reply.ok:
        raise _call_failed(reply, fn, config=grading.config)
    return _unpack(fn, reply.value), args


def _float_vector(name: str, value, size: int) -> np.ndarray:
    """The value when it is a float64 vector of ``size`` entries, else Failed."""
    if not isinstance(value, np.ndarray) or value.shape != (size,) or value.dtype != np.float64:
        raise Failed(f"{name} should be a float64 array of shape ({size},), got {describe_type(value)}",
                     brief=f"{name} should be a float64 vector, got {describe_type(value, hidden=True)}")
    return value


def hello_training(grading, test: TestSpec, case: dict) -> None:
    """train_char_rnn on the case's text from the grader's initial parameters: the last loss it reports is low
    enough, and so is char_rnn_loss at the parameters it returns (``Grading.check_trained_loss``)."""
    got, args = _call(grading, "train_char_rnn", case)
    steps = case["steps"]
    losses = _float_vector("losses", got["losses"], steps)
    if not np.all(np.isfinite(losses)):
        raise Failed("the loss became NaN or inf during training (are the gradients clipped?)")
    if not losses[-1] < case["below"]:
        # A hidden test's brief gives no figure the student's code returned (it could carry the inputs), nor the case.
        raise Failed(f"after {steps} steps on {case['text']!r} the loss is {losses[-1]:.4g}, but it should fall "
                     f"below {case['below']:g} (it started at {losses[0]:.4g})",
                     brief="the loss does not fall below the threshold within the steps given")
    initial, x, y = args[0], args[1], args[2]
    s0 = np.zeros((x.shape[0], initial["W"].shape[0]))
    grading.check_trained_loss(FUNCTIONS["char_rnn_loss"], [initial, x, y, s0], [got["params"], x, y, s0],
                               case["below"], losses)


def hello_sampling(grading, test: TestSpec, case: dict) -> None:
    """Greedy sampling from the first character, with parameters the reference trained on the text."""
    args, kwargs = grading.inputs("train_char_rnn", case)  # kept with the case (memo.py): built once
    trained = grading.reference_call(FUNCTIONS["train_char_rnn"], args, kwargs)["params"]
    text = case["text"]
    got = _student(grading, "sample", [trained, VOCAB.index(text[0]), len(text) - 1, None, 0])["indices"]
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "iu" or got.shape != (len(text) - 1,):
        raise Failed(f"sample should return an integer array of shape ({len(text) - 1},), got {describe_type(got)}",
                     brief=f"sample should return an integer array, got {describe_type(got, hidden=True)}")
    if np.any((got < 0) | (got >= len(VOCAB))):
        raise Failed(f"sample returned indices outside the vocabulary: {got.tolist()}",
                     brief="sample returned indices outside the vocabulary")
    generated = "".join(VOCAB[i] for i in got)
    if generated != text[1:]:
        raise Failed(f"greedy sampling from {text[0]!r} with parameters trained on {text!r} gave {generated!r}; "
                     f"expected {text[1:]!r}",
                     brief="greedy sampling from the text's first character does not give the rest of it")


def gradient_rate(grading, test: TestSpec, case: dict) -> None:
    """The per-step factor by which ||dL/ds(t)|| changes going back in time, against the reference's."""
    got, args = _call(grading, "state_gradient_norms", case)
    T = case["T"]
    norms = _float_vector("norms", got["norms"], T)
    if not np.all(np.isfinite(norms)) or np.any(norms <= 0):
        raise Failed("norms should be positive and finite")
    expected = grading.reference_call(FUNCTIONS["state_gradient_norms"], args, {})["norms"]
    rate = (norms[0] / norms[-1]) ** (1 / (T - 1))
    want = (expected[0] / expected[-1]) ** (1 / (T - 1))
    if abs(rate - want) > 1e-6 * want:
        # The reciprocal factor: the norms listed last step first (norms[t] belongs at step t).
        reverse = (" (its reciprocal: are the norms in reverse time order? norms[t] is the norm at step t, "
                   "norms[T - 1] that of ds_last)") if abs(rate * want - 1) <= 1e-6 else ""
        raise Failed(f"going back in time your gradient norm changes by a factor of {rate:.6g} per step on average; "
                     f"expected {want:.6g}{reverse}",
                     brief="going back in time your gradient norm changes by the wrong factor"
                           + (" (the reciprocal of the right one)" if reverse else ""))


BEHAVIOURS = {"hello_training": hello_training, "hello_sampling": hello_sampling, "gradient_rate": gradient_rate}
# The function each check calls first on its case's inputs (through _call): the grader sends these calls ahead.
CALLS = {"hello_training": "train_char_rnn", "gradient_rate": "state_gradient_norms"}
