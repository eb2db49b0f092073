"""hw_seq2seq's behaviour checks (assignments/hw_seq2seq/behaviours.py) on real submissions.

Here the checks run in-process (tests/test_seq2seq_grader.py runs them through the grader), with a
stand-in for the grader's ``Grading``: student calls run in-process on a loaded submission (the
reference, a correct variant or a mutant) and come back as the sandbox's ``Reply``; reference calls run
on the reference solution, as ``Grading.reference_call`` does.  The reference and the variants pass;
mutants that cannot learn the task
or decode it fail with the check's message.
"""

from __future__ import annotations

import copy
import importlib.util
import sys

import pytest
from seq2seq_support import ASSIGNMENT, CONFIG, MUTANTS, SOLUTIONS, VARIANTS, load_submission, make_submission

from autograder.grading.compare import Tolerance
from autograder.grading.grader import Failed, Grading
from autograder.sandbox.box import Reply

spec = importlib.util.spec_from_file_location("_assignment_hw_seq2seq_behaviours", ASSIGNMENT / "behaviours.py")
behaviours = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = behaviours
spec.loader.exec_module(behaviours)

REF = load_submission(SOLUTIONS)


class _Done:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply

    def result(self) -> Reply:
        return self.reply


class InProcessGrading:
    """The calls a behaviour check makes, without a child process."""

    uses_reference = True
    check_trained_loss, ordinary_error = Grading.check_trained_loss, Grading.ordinary_error
    forward_tol = Tolerance(1e-7, 1e-9)
    config = None  # _call_failed's: no missing-module note here

    def __init__(self, student: dict) -> None:
        self.student = student
        self._ordinary: dict = {}

    def student_call(self, fn, args: list, kwargs: dict | None = None) -> _Done:
        try:
            value = getattr(self.student[fn.module], fn.name)(*copy.deepcopy(args), **copy.deepcopy(kwargs or {}))
        except Exception as exc:
            return _Done(Reply(ok=False, error_type=type(exc).__name__, error=str(exc)))
        return _Done(Reply(ok=True, value=value))

    def reference_call(self, fn, args: list, kwargs: dict) -> dict:
        value = getattr(REF[fn.module], fn.name)(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        return dict(zip(fn.outputs, value)) if len(fn.outputs) > 1 else {fn.outputs[0]: value}

    reference_on = reference_call


def behaviour_cases() -> list[tuple[str, dict]]:
    return [(q["function"], c) for q in CONFIG["questions"] for t in q["tests"] if t["kind"] == "behaviour"
            for c in t["cases"]]


CASES = behaviour_cases()


def test_every_behaviour_case_names_a_check():
    assert {c["check"] for _, c in CASES} == set(behaviours.BEHAVIOURS)
    assert len(CASES) >= 3


@pytest.mark.parametrize("folder", [SOLUTIONS, *VARIANTS], ids=["reference", *[v.name for v in VARIANTS]])
def test_correct_submissions_pass_every_behaviour(folder, tmp_path):
    modules = load_submission(make_submission(tmp_path / "s", base=folder))
    for _, case in CASES:
        behaviours.BEHAVIOURS[case["check"]](InProcessGrading(modules), None, case)


@pytest.mark.parametrize("mutant, check, message", [
    ("decoder_forward_ignores_context", "reverse_training", "should fall below 0.05"),
    ("train_seq2seq_never_clips", None, None),  # clipping at max_norm 5 rarely bites: the task is still learned
    ("greedy_decode_feeds_start_token", "reverse_decoding", "held-out strings"),
    ("greedy_decode_returns_end_token", "reverse_decoding", "held-out strings"),
    ("rnn_step_forward_w_untransposed", "reverse_decoding", "held-out strings"),
])
def test_broken_submissions_fail_the_behaviours_they_break(mutant, check, message, tmp_path):
    edits = next(m for m in MUTANTS if m["name"] == mutant)["edits"]
    modules = load_submission(make_submission(tmp_path / mutant, edits))
    for _, case in CASES:
        run = behaviours.BEHAVIOURS[case["check"]]
        if case["check"] == check:
            with pytest.raises(Failed, match=message):
                run(InProcessGrading(modules), None, case)
        elif check is None:
            run(InProcessGrading(modules), None, case)


def test_a_crash_in_the_students_function_is_a_failure_with_its_reason(tmp_path):
    edits = [{"file": "seq2seq.py", "find": "    memory = {k: np.zeros_like(v) for k, v in params.items()}\n",
              "replace": "    memory = {}\n"}]
    modules = load_submission(make_submission(tmp_path / "crash", edits))
    case = next(c for _, c in CASES if c["check"] == "reverse_training")
    with pytest.raises(Failed, match="KeyError"):
        behaviours.reverse_training(InProcessGrading(modules), None, case)
