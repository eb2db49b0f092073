"""Grades one submission.  The whole flow is here:

1. find the submission's files (and say which are missing or misnamed);
2. start one child process on a temporary copy of them (``sandbox``) and
   import each module there;
3. run every test of the config: build inputs from the case's seed and shapes,
   compute the expected values with the reference *in this process*, call the
   student's function in the child, and compare (``compare``); backward
   functions are checked against a numerical gradient of the student's own
   forward (``gradcheck``) and against the reference gradient;
4. add hints that need several tests (T = 1 right but T > 1 wrong, ...);
5. return a report that ``results`` and ``report`` turn into results.json and
   a terminal table.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from autograder import environment
from autograder.config import Config, TestSpec
from autograder.grading import compare, fingerprint, gradcheck, memo
from autograder.grading.compare import Mismatch, Tolerance, check_array, check_value, describe_type, unchanged
from autograder.sandbox.box import Pending, Reply, Sandbox, open_sandbox
from autograder.sandbox.wire import Handle, output_cap, printed_bytes
from autograder.spec import Function, Homework, input_summary, load_files, named_outputs, upstream_gradients
from autograder.submissions.extract import discard as discard_extracted
from autograder.submissions.extract import extracted_from
from autograder.submissions.extract import prepare as prepare_submission
from autograder.submissions.locate import MAX_HELPERS, find_files, helper_files, helper_notes, notebook_of
from autograder.text import listed


@dataclass
class TestResult:
    spec: TestSpec
    passed: bool
    output: str
    digest: str = ""  # of the wrong value a failed value check saw (compare.value_digest); never shown
    fault: str = ""  # failed because a call never returned or ended its process (Failed.fault): its kind
    pattern: str = ""  # the kind of wrong value found (compare.Mismatch.pattern, via Failed.pattern)

    @property
    def score(self) -> float:
        return self.spec.points if self.passed else 0.0


@dataclass
class GradeReport:
    tests: list[TestResult]
    files_found: list[str]
    notes: list[str]  # what the student should know about the submission as a whole
    student_output: str
    seconds: float
    grader_errors: list[str] = field(default_factory=list)
    # Of public-only grading (the self-check): the hidden tests' points and the functions only they grade.
    withheld: tuple[float, tuple[str, ...]] = (0.0, ())

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.spec.points for t in self.tests)


class Failed(Exception):
    """A test's verdict: the message says why it failed.

    ``general`` marks reasons that do not depend on the case (a missing
    function or file), so feedback does not tie them to one input.  ``brief``,
    when given, replaces the message in hidden tests: it must say nothing that
    depends on the hidden inputs (values, shapes), and repeat no text student
    code chose, which could carry them: its exception text, the names of its
    own classes, files and functions, the number of values it returned.
    """

    def __init__(self, message: str, general: bool = False, brief: str | None = None, digest: str = "",
                 fault: str = "", pattern: str = "") -> None:
        super().__init__(message)
        self.pattern = pattern  # compare.Mismatch.pattern of the wrong value, when a value was wrong
        self.general = general
        self.brief = brief
        self.digest = digest
        # A call hung or ended its process (box.Reply.fault): no value was found wrong.  FAULT_TIME_LIMIT when a
        # time limit stopped it (or a hang skipped it), a verdict another run on a busier machine may not share.
        self.fault = fault

    def text(self, hidden: bool) -> str:
        return self.brief if hidden and self.brief is not None else str(self)


def _call_failed(reply: Reply, fn: Function, prefix: str = "", config: Config | None = None) -> Failed:
    missing = _missing_module(reply, config) if config is not None else ""
    brief = _missing_module(reply, config, hidden=True) if config is not None else ""
    return Failed(prefix + reply.describe(fn.name, fn.module) + missing, general=reply.not_implemented,
                  brief=prefix + reply.describe(fn.name, fn.module, hidden=True) + brief, fault=_fault_kind(reply))


FAULT_TIME_LIMIT, FAULT_PROCESS = "time limit", "process"


def _fault_kind(reply: Reply) -> str:
    """What stopped a call that never returned a value (``Failed.fault``): "" when it returned or raised."""
    return "" if not reply.fault else FAULT_TIME_LIMIT if reply.timed_out else FAULT_PROCESS


def _missing_module(reply: Reply, config: Config, hidden: bool = False) -> str:
    """For an import that failed: that the grader's Python lacks the module, and what graded code may import;
    for a file not found, what the folder student code runs in holds.

    ``hidden``: without the module's name (read from the exception's text, which student code writes), unless
    it is one of the assignment's files."""
    if reply.error_type == "FileNotFoundError":
        # A data file read at import or in a call: the child's folder holds the .py files only.  Not in a hidden
        # test's message, which does not say what the code raised.
        return "" if hidden else (" (your code runs in a folder that holds only the graded .py files and the .py "
                                  "files beside them: other files of the submission, such as data, are not there; the "
                                  "tests give your functions their inputs)")
    if reply.error_type not in ("ModuleNotFoundError", "ImportError"):
        return ""
    found = re.search(r"No module named '([\w.]+)'", reply.error)
    if not found:
        return ""
    module, own = found.group(1), [f[:-3] for f in config.files]
    if module.split(".")[0] in own:  # one of the submission's own files is missing
        return f" ({module.split('.')[0]}.py, which this code imports, is missing from the submission)"
    if not config.environment.allows(module, own):
        if hidden:
            return f" (graded code may import only {config.environment.describe_allowed()})"
        return (f" ({environment.not_allowed(module, config.environment)}; a module of your own must be a .py file "
                "beside the graded files: folders are not copied)")
    return f" (the grader's Python does not have {'that module' if hidden else module})"


def _raised_in(reply: Reply, file: str) -> str:
    """Where an import of ``file`` failed when that is another file it imports (the last frame of the student's
    traceback, ``File "<module>.py", line N``), else empty."""
    frames = re.findall(r'File "([^"\n]+\.py)", line (\d+)', reply.traceback)
    if not frames or Path(frames[-1][0]).name == file:
        return ""
    return f" (the import fails in {Path(frames[-1][0]).name}, line {frames[-1][1]}, which {file} imports)"


_REFERENCE_CACHE: dict[Path, dict[str, ModuleType]] = {}
_REFERENCE_LOCK = threading.Lock()


def load_reference(config: Config) -> dict[str, ModuleType]:
    """Import the reference solution's modules in this process, once.

    Reference modules import each other by plain name (``from NAME import ...``
    for a submission file NAME.py), as students' do; while loading, those names point at the reference.
    """
    with _REFERENCE_LOCK:  # the plain names in sys.modules are shared by every thread
        return _load_reference(config)


def _load_reference(config: Config) -> dict[str, ModuleType]:
    if config.reference not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[config.reference] = load_files(config.reference, config.files,
                                                        f"_reference_{config.assignment}")
    return _REFERENCE_CACHE[config.reference]


# A backward is "slow" at this multiple of its forward's CPU time on every public case, when it takes this many
# seconds at least (below, the clock's and the interpreter's noise weigh too much).  Measured on the RNN homework's
# public cases: the reference and the correct variants (loops included) 0.7x to 2.1x; backwards that differentiate their
# forward numerically (complex step, central differences) 27x to 270x.
SLOW_BACKWARD = 10.0
SLOW_BACKWARD_CPU = 2e-4


def _unpack(fn: Function, value) -> dict:
    """Name the outputs of a call, or fail when the return value has the wrong form."""
    if len(fn.outputs) == 1:
        return named_outputs(fn, value)
    if not isinstance(value, (tuple, list)) or len(value) != len(fn.outputs):
        got = f"{len(value)} values" if isinstance(value, (tuple, list)) else describe_type(value)
        brief = "another number of values" if isinstance(value, (tuple, list)) else describe_type(value, hidden=True)
        expected = f"{fn.name} should return a tuple ({', '.join(fn.outputs)}), got "
        raise Failed(expected + got, brief=expected + brief)
    return named_outputs(fn, value)


def _counts(case: dict | None) -> frozenset[int] | None:
    """The case's sizes (its integer entries but the seed) and their pairwise products: the counts a factor
    between a wrong value and the expected one can be (``compare.check_array``'s ``counts``)."""
    if not case:
        return None
    sizes = [v for k, v in case.items() if k != "seed" and type(v) is int and v > 1]
    return frozenset(sizes + [a * b for i, a in enumerate(sizes) for b in sizes[i + 1:]])


def _with_float32_noise(tol: Tolerance, expected) -> Tolerance:
    """``tol`` with the error a right backward makes from a float32-like forward's cache: values rounded to
    about 1e-7 relative (FLOAT32_NOISE, 1e-6, with a margin) give gradient errors on the scale of the largest
    gradient entries, not of each entry, so an absolute FLOAT32_NOISE x max|expected| is added.  A real bug's
    error is of the order of the gradient itself, far beyond."""
    return Tolerance(tol.rtol, tol.atol + FLOAT32_NOISE * _largest(expected))


def _largest(value) -> float:
    """max |entry| of an array or number, or of a dict of them (an LSTM's parameter gradients); 0 when empty."""
    if isinstance(value, dict):
        return max((_largest(v) for v in value.values()), default=0.0)
    return float(np.max(np.abs(value))) if np.size(value) else 0.0


def _numerical_gradients(plans: list, losses: np.ndarray, step: float) -> list[np.ndarray]:
    """Each plan's numerical gradient (``gradcheck.numerical``) from its share of ``losses``, the batch's L per
    evaluation in the plans' order."""
    numerics, start = [], 0
    for p in plans:
        numerics.append(gradcheck.numerical(p, losses[start : start + p.evaluations], step))
        start += p.evaluations
    return numerics


def _unlike_passed(test: TestSpec, k: int) -> str:
    """For a public test's case ``k`` that failed after every case before it passed: the settings only this case
    has (keys the passing ones do not set), the likely place of the bug ("" when none, or hidden)."""
    if test.hidden or k == 0:
        return ""
    passed = test.cases[:k]
    own = [f"{key}={value}" for key, value in test.cases[k].items()
           if key != "seed" and not any(key in p for p in passed)]
    return f" (the case{'s' if k > 1 else ''} before it passed: only this one sets {', '.join(own)})" if own else ""


def _case_label(test: TestSpec, k: int, case: dict) -> str:
    if test.hidden:
        return f"hidden case {k + 1} of {len(test.cases)}: "
    shape = ", ".join(f"{key}={v}" for key, v in case.items() if key != "seed")
    return f"case {k + 1} of {len(test.cases)} (seed {case['seed']}{', ' + shape if shape else ''}): "


# How a note on quiz answers that cannot be marked begins (the self-check's last line points to such notes).
QUIZ_NOTE = "Quiz: "
# A stability test forgives wrong values as wrong as on ordinary inputs: at most this many times their relative error.
AS_WRONG = 10.0
FLOAT32_NOISE = 1e-6  # the relative error allowed in an imprecise forward's values (float32's is about 6e-8)
# (config path, backward, case key, tolerances) -> the case's deciding plans and quick plan (Grading.gradcheck_plans)
_PLANS: dict[tuple, tuple[list[gradcheck.Plan], gradcheck.JointPlan | None]] = {}
_CASE_KEYS: dict[int, tuple[dict, str]] = {}  # id of a case dict -> (the dict, kept so the id stays its own; key)


def case_key(case: dict) -> str:
    """A case as sorted JSON: the key of its memoised values and calls sent ahead.  Made once per case dict
    (a grading asks some seven hundred times; the config's cases are never changed)."""
    known = _CASE_KEYS.get(id(case))
    if known is not None and known[0] is case:
        return known[1]
    if len(_CASE_KEYS) > 4096:  # cases a check built on the fly, in a long-lived worker
        _CASE_KEYS.clear()
    key = json.dumps(case, sort_keys=True)
    _CASE_KEYS[id(case)] = (case, key)
    return key


class Grading:
    """The state of grading one submission: the child, the reference and a memo."""

    # Whether grade() imports the reference solution; the student bundle's subclass replays recorded values.
    uses_reference = True

    def __init__(self, config: Config, box: Sandbox, reference: dict[str, ModuleType], module_errors: dict) -> None:
        self.config = config
        self.homework = config.homework  # the assignment's functions, gradients and behaviours
        self.case: dict = {}  # the case being checked: every reference call belongs to it
        # (forward, hidden) for a forward whose outputs were float32-like in a gradient test of that visibility:
        # its failures are its precision's, which its backward's tests do not inherit (add_hints).
        self.imprecise_forwards: set[tuple[str, bool]] = set()
        # (function, hidden) whose outputs passed a forward test of that visibility as float32 numbers (rounded
        # through float32, close enough for its own tolerance): enough for a caller's float32-sized error.
        self.rounded_outputs: set[tuple[str, bool]] = set()
        # backward -> public case -> (its forward's CPU time, its own), in the child (slow_backward_notes).
        self.backward_cpu: dict[str, dict[tuple, tuple[float, float]]] = {}
        self.box = box
        self.reference = reference
        self.module_errors = module_errors
        tol = config.tolerances
        self.forward_tol = Tolerance(tol.forward_rtol, tol.forward_atol)
        self.reference_tol = Tolerance(tol.reference_rtol, tol.reference_atol)
        self.numeric_tol = Tolerance(tol.numeric_rtol, tol.numeric_atol)
        self._gradients: dict[tuple, dict] = {}
        self._answers: dict[str, dict | Failed] = {}  # each quiz function's answers, called once
        self._early_answers: dict[str, Pending] = {}  # quiz functions' calls sent ahead, by function
        self._early: dict[tuple, tuple[Pending, list, dict]] = {}  # calls sent ahead by prefetch
        self._early_quick: dict[tuple, Pending] = {}  # quick checks' evaluations sent ahead, by backward and case
        self._early_gradients: dict[tuple, dict] = {}  # forward and backward calls sent ahead, by backward and case
        self._handle_ids = itertools.count(1)  # the ids of the caches the child keeps (keep_as)
        # (function, case) -> {output: relative error} of the outputs an ordinary forward case got wrong,
        # as graded ({"*": inf}: the call failed)
        self._ordinary: dict[tuple, dict[str, float]] = {}

    # -- calls -----------------------------------------------------------
    def inputs(self, function: str, case: dict) -> tuple[list, dict]:
        """The forward inputs of a case (``homework.forward_inputs``): arguments and keyword arguments.

        Built once per process and case (a worker of grade-all grades a whole class); the arrays are shared
        and read-only, the lists and dicts holding them new on every call.
        """
        key = (self.config.path, function, case_key(case))
        if key not in memo.INPUTS:
            memo.INPUTS[key] = memo.read_only(self.homework.forward_inputs(function, case).call_args())
        return memo.containers(memo.INPUTS[key])

    def reference_call(self, fn: Function, args: list, kwargs: dict) -> dict:
        """The reference's named outputs on these arguments (arrays read-only).

        Computed once per process for the same function, case and inputs (``spec.input_summary``: the
        reference's calls are determined by the case, as the student bundle's record relies on too).
        """
        key = (self.config.reference, fn.name, case_key(self.case))
        summary = tuple(input_summary(fn, args, kwargs))
        known = memo.OUTPUTS.setdefault(key, {})
        if summary not in known:
            func = getattr(self.reference[fn.module], fn.name)
            known[summary] = memo.read_only(named_outputs(fn, func(*copy.deepcopy(args), **copy.deepcopy(kwargs))))
        return memo.containers(known[summary])

    def reference_on(self, fn: Function, args: list, kwargs: dict) -> dict | None:
        """The reference's named outputs on arguments the student's code made (trained parameters, say), or
        None where grading replays recorded values (the self-check, the notebook tools), which cannot answer
        for inputs no one knew in advance.  Never memoised: such inputs differ from student to student, and a
        student could shape theirs to share a memo entry's input summary."""
        if not self.uses_reference:
            return None
        func = getattr(self.reference[fn.module], fn.name)
        return named_outputs(fn, func(*copy.deepcopy(args), **copy.deepcopy(kwargs)))

    def ordinary_error(self, function: str, outputs: tuple[str, ...]) -> float | None:
        """How wrong ``function`` is everywhere: over the ordinary forward cases graded so far, the smallest
        relative error of ``outputs`` (0 when some case had them right, inf when every call failed); None
        when none was graded.  Above 0, the function has a bug, which shows on every input: the checks that
        would otherwise hold its values to the reference's judge it by its own.  Wrong on purpose on a single
        case does not get there."""
        found = [errors for (name, _), errors in self._ordinary.items() if name == function]
        if not found:
            return None
        return min(float("inf") if "*" in errors else max((errors.get(o, 0.0) for o in outputs), default=0.0)
                   for errors in found)

    def check_trained_loss(self, loss: Function, initial: list, trained: list, below: float,
                           losses: np.ndarray) -> None:
        """A training function's result is trained: Failed unless the parameters it returned (``trained[0]``) have
        the initial ones' (``initial[0]``) keys, shapes and dtype, the first of the ``losses`` it reported is
        the student's own ``loss`` (a scalar function) at ``initial`` (its arguments with the initial
        parameters), and the student's ``loss`` at ``trained`` (with the parameters it returned) is below
        ``below`` (reported losses alone could be made up); where grading has the reference, the reference's
        loss at ``trained`` must be below ``below`` too, unless the student's loss value is wrong on every
        ordinary forward case (``ordinary_error``: a bug the model learned around, such as a shifted one-hot
        code, which that function's tests score).  The self-check, with no reference, judges by the student's
        loss, and agrees with the grader on such bugs."""
        mismatch = compare.check_layout("params", trained[0], initial[0])
        if mismatch:
            raise Failed(mismatch.message, brief=mismatch.brief)
        name = loss.outputs[0]
        start, end = self.student_call(loss, initial), self.student_call(loss, trained)
        values = []
        for pending, what in ((start, "the initial parameters"), (end, "the parameters it returns")):
            reply = pending.result()
            if not reply.ok:
                raise _call_failed(reply, loss, f"evaluating {what} with your {loss.name}: ", config=self.config)
            value = _unpack(loss, reply.value)[name]
            # What the loss's own tests accept as a float (check_scalar): a 0-d float array too (an np.float64
            # arrives as one).
            if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "f":
                value = float(value)
            if type(value) not in (float, int) and not isinstance(value, np.floating):
                raise Failed(f"evaluating {what} with your {loss.name}: {name} should be a float, got "
                             f"{describe_type(value)}", brief=f"evaluating {what} with your {loss.name}: {name} "
                             f"should be a float, got {describe_type(value, hidden=True)}")
            values.append(float(value))
        if compare.check_scalar("the first loss", float(losses[0]), values[0], self.forward_tol) is not None:
            raise Failed(f"the first loss it reports, {losses[0]:.6g}, is not your {loss.name} at the initial "
                         f"parameters, {values[0]:.6g}: each reported loss is the one before that step's update",
                         brief=f"the first loss it reports is not your {loss.name} at the initial parameters")
        if not values[1] < below:  # NaN included
            raise Failed(f"your {loss.name} gives {values[1]:.4g} at the parameters it returns, not below "
                         f"{below:g}, though the last loss it reports is {losses[-1]:.4g}: return the parameters the "
                         "losses were computed with, updated",
                         brief=f"at the parameters it returns your {loss.name} is not below the threshold")
        reference = self.reference_on(loss, trained, {})
        if reference is None or reference[name] < below:
            return
        if (self.ordinary_error(loss.name, (name,)) or 0.0) > 0:
            return
        raise Failed(f"at the parameters it returns the reference's {loss.name} gives {reference[name]:.4g}, not "
                     f"below {below:g}, though yours gives {values[1]:.4g} there and matches the reference on its "
                     "own tests",
                     brief=f"at the parameters it returns the reference's {loss.name} is not below the threshold")

    def upstream(self, gradient, expected: dict, case: dict) -> dict:
        """``spec.upstream_gradients`` of a case, once per process (read-only arrays, a new dict)."""
        key = (self.config.path, "upstream", gradient.backward, case_key(case))
        if key not in memo.INPUTS:
            memo.INPUTS[key] = memo.read_only(upstream_gradients(gradient, expected, case))
        return dict(memo.INPUTS[key])

    def student_call(self, fn: Function, args: list, kwargs: dict | None = None,
                     inputs_back: bool = False, cache: Handle | None = None, needs: Pending | None = None) -> Pending:
        """Start a call of the student's function; ``.result()`` waits for it.  ``inputs_back``: the reply also
        brings the arguments as the call left them (``inputs_unchanged`` compares them).  The function's cache
        output stays in the child, behind ``cache`` when given (a later call may use it before this one is
        answered, naming this call as ``needs``)."""
        if self.module_errors.get(fn.module):
            raise Failed(self.module_errors[fn.module], general=True)
        keep = (fn.cache_index,) if fn.cache_index is not None else ()
        keep_as = (cache.id,) if keep and cache is not None else ()
        return self.box.submit_call(fn.module, fn.name, args, kwargs or {}, keep=keep, inputs_back=inputs_back,
                                    keep_as=keep_as, needs=needs)

    def forward_call(self, fn: Function, case: dict, inputs_back: bool = False) -> tuple[Pending, list, dict]:
        """The student's call of ``fn`` on the case's inputs, its arguments and keyword arguments (the call
        ``prefetch`` sent ahead, when it did)."""
        early = self._early.pop((fn.name, case_key(case), inputs_back), None)
        if early is not None:
            return early
        args, kwargs = self.inputs(fn.name, case)
        return self.student_call(fn, args, kwargs, inputs_back), args, kwargs

    def prefetch(self, tests: list[TestSpec]) -> None:
        """Send ahead the calls that forward and ``inputs_unchanged`` tests of forward functions make, the first
        call of behaviour checks that declare it, and the quick check's evaluations of gradcheck tests, so the
        child computes them while this process builds reference values and compares.  The requests are exactly
        those the tests make (``forward_call`` and ``_quick_gradients_pass`` take them over), only sent earlier."""
        try:
            for test in tests:
                if test.kind == "gradcheck":
                    self._prefetch_quick(test)
                    continue
                if test.kind == "behaviour":
                    self._prefetch_behaviour(test)
                    continue
                fn = self.homework.functions.get(test.function)
                if test.kind not in ("forward", "inputs_unchanged") or fn is None or self.module_errors.get(fn.module):
                    continue
                gradient = self.homework.gradients.get(fn.name)
                if test.kind == "inputs_unchanged" and gradient is not None and gradient.forward != fn.name:
                    continue  # a backward function: called after its forward, by student_gradients
                inputs_back = test.kind == "inputs_unchanged"
                for case in test.cases:
                    key = (fn.name, case_key(case), inputs_back)
                    if key not in self._early:
                        args, kwargs = self.inputs(fn.name, case)
                        self._early[key] = (self.student_call(fn, args, kwargs, inputs_back), args, kwargs)
        except Exception:  # noqa: BLE001 -- the test itself meets the problem again and reports it
            return

    def quiz_functions(self) -> list[str]:
        """The functions whose answers are graded (the config's quiz tests, hidden ones too)."""
        return list(dict.fromkeys(t.function for t in self.config.tests if t.kind == "quiz"))

    def prefetch_answers(self) -> None:
        """Send each quiz function's call (hidden questions' too): it takes no input, so it is asked before any
        hidden input reaches the child, and the answers it returns cannot carry one."""
        for name in self.quiz_functions():
            fn = self.homework.functions.get(name)
            if fn is not None and fn.name not in self._early_answers and not self.module_errors.get(fn.module):
                self._early_answers[fn.name] = self.student_call(fn, [])

    def _prefetch_behaviour(self, test: TestSpec) -> None:
        """Send the first call of each case's behaviour check, when the behaviours module declares it (``CALLS``:
        the check takes it with ``forward_call``)."""
        for case in test.cases:
            fn = self.homework.functions.get(self.homework.behaviour_calls.get(case.get("check"), ""))
            key = (fn.name, case_key(case), False) if fn is not None else None
            if fn is not None and not self.module_errors.get(fn.module) and key not in self._early:
                args, kwargs = self.inputs(fn.name, case)
                self._early[key] = (self.student_call(fn, args, kwargs), args, kwargs)

    def _prefetch_quick(self, test: TestSpec) -> None:
        """Send the quick check's evaluations of a gradcheck test's cases (they need only the case's inputs)."""
        g = self.homework.gradients[test.function]
        fwd = self.homework.functions[g.forward]
        if self.module_errors.get(fwd.module) or gradcheck.full_check_forced():
            return
        for case in test.cases:
            key = (g.backward, case_key(case))
            if key in self._early_quick:
                continue
            args, kwargs = self.inputs(fwd.name, case)
            quick = self.gradcheck_plans(g, fwd, case, args)[1]
            if quick is None:
                continue
            self._early_quick[key] = self.box.submit_call_many(fwd.module, fwd.name, args, kwargs, [quick.wire()],
                                                               _loss_outputs(g, fwd))

    def gradcheck_plans(self, g, fwd: Function, case: dict,
                        args: list) -> tuple[list[gradcheck.Plan], gradcheck.JointPlan | None]:
        """A gradcheck case's deciding plans and quick plan (``gradcheck.plan``, ``quick_plan``; None when a
        target is empty).

        They depend only on the case's inputs and the config's tolerances, so they are made once per process
        and case (a worker of grade-all grades a whole class): their arrays are shared and read-only.
        """
        tol = self.config.tolerances
        key = (self.config.path, g.backward, case_key(case), tol.step, tol.directions, tol.full_check_max_size)
        if key not in _PLANS:
            items = gradcheck.targets(args, [n for n in fwd.args if n not in fwd.optional_args], g.wrt, g.grads)
            # Their random directions are kept with the case's inputs (and on disk with them, memo.py).
            kept = (self.config.path, "plans", *key[1:])
            if kept not in memo.INPUTS:
                plans = gradcheck.plan(items, tol.step, tol.full_check_max_size, tol.directions, case["seed"])
                quick = (gradcheck.quick_plan(items, tol.step, tol.directions, case["seed"])
                         if all(t.value.size for t in items) else None)
                memo.INPUTS[kept] = memo.read_only([[gradcheck.plan_arrays(p) for p in plans],
                                                    list(quick.dirs) if quick else None])
            arrays, quick_dirs = memo.INPUTS[kept]
            plans = [gradcheck.Plan(t, **a) for t, a in zip(items, arrays)]
            quick = gradcheck.JointPlan(tuple(items), tuple(quick_dirs), tol.step) if quick_dirs is not None else None
            if quick is not None:
                memo.read_only(quick.wire())
            _PLANS[key] = plans, quick
        return _PLANS[key]

    def prefetch_gradients(self, tests: list[TestSpec]) -> None:
        """Send ahead the forward and backward calls of the gradient tests' cases (``gradient_calls``), once the
        reference is loaded: their arguments include the reference's upstream gradients."""
        saved = self.case
        try:
            for test in tests:
                gradient = self.homework.gradients.get(test.function)
                if gradient is None or gradient.backward != test.function:
                    continue
                if test.kind == "inputs_unchanged" and gradient.forward == test.function:
                    continue  # a loss's own inputs: a plain forward call (prefetch)
                if test.kind not in ("gradcheck", "reference_gradient", "inputs_unchanged"):
                    continue
                if self.module_errors.get(self.homework.functions[gradient.forward].module):
                    continue
                for case in test.cases:
                    key = (test.function, case_key(case))
                    if key not in self._gradients and key not in self._early_gradients:
                        self.case = case
                        self._early_gradients[key] = self.gradient_calls(test.function, case)
        except Exception:  # noqa: BLE001 -- the test itself meets the problem again and reports it
            return
        finally:
            self.case = saved

    def gradient_calls(self, backward: str, case: dict) -> dict:
        """Send the student's forward on a case and, right behind it, the backward on the cache that forward
        keeps in the child (a handle named here), with the reference's values they are checked against.

        The backward runs even when the forward's outputs turn out unusable; its reply is then never read
        (the forward's failure is the verdict), and a forward that raised left no cache to call it on.
        """
        g = self.homework.gradients[backward]
        fwd = self.homework.functions[g.forward]
        args, kwargs = self.inputs(fwd.name, case)
        cache = Handle(next(self._handle_ids)) if not g.scalar else None
        calls = {"g": g, "fwd": fwd, "args": args, "kwargs": kwargs,
                 "forward": self.student_call(fwd, args, kwargs, cache=cache)}
        calls["expected"] = expected = self.reference_call(fwd, args, kwargs)
        calls["upstream"] = upstream = self.upstream(g, expected, case)
        if not g.scalar:
            bwd = self.homework.functions[backward]
            calls["backward_args"] = bargs = [upstream[n] for n in g.upstream]
            calls["cache"] = cache
            if not self.module_errors.get(bwd.module):  # else the failure is said once the forward is checked
                calls["backward"] = self.student_call(bwd, [*bargs, cache], inputs_back=True,  # inputs_unchanged
                                                      needs=calls["forward"])
            calls["reference_grads"] = self.reference_call(bwd, bargs + [expected["cache"]], {})
        return calls

    def check_output(self, function: str, name: str, actual, expected, tol: Tolerance) -> Mismatch | None:
        """``check_value`` of ``function``'s output or gradient ``name``: time steps (and T) are named only
        for an array the homework gives a time axis (``TIME_AXES``), read from that axis."""
        return check_value(name, actual, expected, tol, self.homework.time_axis(function, name), _counts(self.case))

    # -- test kinds --------------------------------------------------------
    def run(self, test: TestSpec) -> None:
        """Run one test; raise Failed with the reason when it does not pass."""
        kind = getattr(self, f"kind_{test.kind}")
        for k, case in enumerate(test.cases):
            self.case = case
            try:
                kind(test, case)
            except Failed as exc:
                if exc.general:
                    raise Failed(exc.text(test.hidden), digest=exc.digest, fault=exc.fault,
                                 pattern=exc.pattern) from None
                raise Failed(_case_label(test, k, case) + exc.text(test.hidden) + _unlike_passed(test, k),
                             digest=exc.digest, fault=exc.fault, pattern=exc.pattern) from None

    def _verdict(self, mismatch: Mismatch | None, test: TestSpec) -> None:
        if mismatch is not None:
            # What this assignment says of that pattern in this function (a text without figures: hidden too).
            why = self.homework.pattern_hint(test.function, mismatch.pattern)
            why = f" ({why})" if why else ""
            raise Failed(mismatch.message + why, brief=mismatch.brief + why, digest=mismatch.digest,
                         pattern=mismatch.pattern)

    def kind_forward(self, test: TestSpec, case: dict) -> None:
        self._forward_reply(test, case)

    def tolerance(self, test: TestSpec, default: Tolerance) -> Tolerance:
        """The test's own tolerance (config ``tolerance``) if it has one, else its kind's default."""
        return Tolerance(*test.tolerance) if test.tolerance else default

    def _forward_reply(self, test: TestSpec, case: dict) -> tuple[Reply, list]:
        """Call the student's forward function on a case and check its outputs; return the reply."""
        fn = self.homework.functions[test.function]
        tol = self.tolerance(test, self.forward_tol)
        pending, args, kwargs = self.forward_call(fn, case)
        expected = self.reference_call(fn, args, kwargs)
        reply = pending.result()
        # An ordinary case's verdict, as graded: a stability test's exemption reads it (_wrong_on_ordinary_inputs).
        verdict = (fn.name, case_key(case)) if not test.stability else None
        if verdict:
            self._ordinary[verdict] = {"*": float("inf")}  # until the values are found
        if not reply.ok:
            raise _call_failed(reply, fn, config=self.config)
        got = _unpack(fn, reply.value)
        wrong = [(name, m) for name in fn.outputs if name != "cache"
                 and (m := self.check_output(fn.name, name, got[name], expected[name], tol))]
        # A wrong scalar (a norm, a loss) is named first: it sums up what the arrays beside it are computed from.
        wrong.sort(key=lambda item: np.ndim(expected[item[0]]) != 0 or isinstance(expected[item[0]], dict))
        mismatches = [m for _, m in wrong]
        errors = {n: _error(got[n], expected[n]) for n, _ in wrong}
        error = max(errors.values(), default=0.0)
        if verdict:
            self._ordinary[verdict] = errors
        if (mismatches and test.stability and _finite(got) and not reply.warnings and np.isfinite(error)
                and self._wrong_on_ordinary_inputs(test, error)):
            # Finite, silent and as wrong as on ordinary inputs: a bug the ordinary tests score, not instability.
            # (Not for an output that is no numbers at all, None say: "as wrong" is then no measure.)
            mismatches = []
        if mismatches:
            self._verdict(mismatches[0], test)
        if any(compare.float32_numbers(got[n], expected[n]) for n in fn.outputs if n != "cache"):
            self.rounded_outputs.add((fn.name, test.hidden))  # right within tolerance, but rounded: add_hints
        if test.stability and reply.warnings:
            # The warning's text and class are the student's to choose (see Reply.describe): hidden tests say
            # only that there was one.
            raise Failed(f"correct values, but it emitted a warning: {reply.warnings[0]}",
                         brief="correct values, but it emitted a warning")
        return reply, args + list(kwargs.values())

    def slow_backward_notes(self) -> list[str]:
        """A note for each backward function that took SLOW_BACKWARD times its forward's CPU time or more on every
        public case (two at least, and SLOW_BACKWARD_CPU seconds at least): backpropagation costs a few forward
        passes, a backward that differentiates its forward numerically two per input entry (hundreds even on the
        tests' small inputs).  Its values are right, so no test can fail it: the note is for the course staff
        (summary.md lists notes) and the student.  The child measures (getrusage, every thread), so code that wants
        to hide can: this finds the plain case."""
        notes = []
        for backward, cases in sorted(self.backward_cpu.items()):
            forward = self.homework.gradients[backward].forward
            if len(cases) < 2 or min(b for _, b in cases.values()) < SLOW_BACKWARD_CPU:
                continue
            ratio = min(b / max(f, 1e-6) for f, b in cases.values())
            if ratio >= SLOW_BACKWARD:
                notes.append(f"Note: {backward} took at least {ratio:.0f} times the CPU time of your {forward} on "
                             "the same inputs, where backpropagation usually costs a few forward passes, so the "
                             "course staff look at it by hand: a backward that differentiates its forward "
                             "numerically is not backpropagation, whatever its values (slow loops are fine).")
        return notes

    def _wrong_on_ordinary_inputs(self, test: TestSpec, error: float) -> bool:
        """Whether the function is as wrong on the first case of its first ordinary (not stability) public test
        as here, where its relative error is ``error``: wrong there too, by at least 1/AS_WRONG of it.

        That test's verdict when it was graded, if it was: asking again would let code that is right the first
        time it sees an input and wrong the second pass.  And "as wrong": code slightly wrong on purpose on the
        ordinary case would otherwise buy this exemption for the stability test's points."""
        fn = self.homework.functions[test.function]
        ordinary = next((t for t in self.config.tests if t.function == test.function and t.kind == "forward"
                         and not t.stability and not t.hidden), None)
        if ordinary is None:
            return False
        key = (fn.name, case_key(ordinary.cases[0]))
        if key not in self._ordinary:
            saved, self.case = self.case, ordinary.cases[0]
            try:
                self._forward_reply(ordinary, self.case)
            except Failed:
                pass
            finally:
                self.case = saved
        ordinary_errors = self._ordinary.get(key) or {}
        return bool(ordinary_errors) and error <= AS_WRONG * max(ordinary_errors.values())

    def kind_inputs_unchanged(self, test: TestSpec, case: dict) -> None:
        """Inputs come back as they went in; this scores only that, not the values returned.

        A call that raises (a stub's NotImplementedError included) cannot show what it does to its
        inputs, so it earns nothing, nor does one that returns None (or None for an output); wrong values,
        already failed by the value tests, cost nothing here.
        """
        fn = self.homework.functions[test.function]
        gradient = self.homework.gradients.get(fn.name)
        if gradient is not None and gradient.forward != fn.name:
            # A backward function: called on the upstream gradients and its own forward's cache.
            grads = self.student_gradients(fn.name, case)
            if grads["error"]:  # no backward reply to look at
                exc = grads["error"]
                if exc.general:
                    raise exc
                prefix = "could not be checked, since the call failed: "
                raise Failed(prefix + str(exc), brief=prefix + exc.text(True), fault=exc.fault) from None
            names, before, reply = list(gradient.upstream), grads["backward_args"], grads["backward_reply"]
            expected = grads.get("reference_grads") or {}
        else:
            pending, args, kwargs = self.forward_call(fn, case, inputs_back=True)
            expected = self.reference_call(fn, args, kwargs)
            reply = pending.result()
            if not reply.ok:
                prefix = "" if reply.not_implemented else "could not be checked, since the call failed: "
                raise _call_failed(reply, fn, prefix, config=self.config)
            before = args + list(kwargs.values())
            names = [n for n in fn.args if n not in fn.optional_args or n in reply.kwargs_after]
        # A call that returns nothing of what it computes (None, 0 or "" where an array belongs) shows only that it
        # did nothing: scored as no call at all.  Wrong values and shapes cost nothing here.
        got = _unpack(fn, reply.value)
        unlike = [n for n in fn.outputs if n != "cache" and not _same_kind(got[n], expected.get(n, got[n]))]
        if unlike:
            def said(n: str, hidden: bool) -> str:
                what = "None" if got[n] is None else describe_type(got[n], hidden=hidden)
                return f"{what} as {n} where {_kind_of(expected[n], sized=not hidden)} belongs"

            kinds, briefs = ", ".join(said(n, False) for n in unlike), ", ".join(said(n, True) for n in unlike)
            why = ": this test scores a call that computes its outputs without changing its inputs"
            raise Failed(f"returned {kinds}{why}", brief=f"returned {briefs}{why}")
        after = list(reply.args_after) + list(reply.kwargs_after.values())
        changed = [n for n, b, a in zip(names, before, after) if not unchanged(b, a)]
        if changed:
            raise Failed(f"modified its input {', '.join(changed)} in place; compute on new arrays and "
                         "containers (a = a + x instead of a += x when a is an input; a new dict instead of "
                         "assigning into the one passed in)")

    def student_gradients(self, backward: str, case: dict) -> dict:
        """The student's forward and backward on one case, shared by the gradient tests."""
        key = (backward, case_key(case))
        if key not in self._gradients:
            try:
                self._gradients[key] = self._student_gradients(backward, case)
            except Failed as exc:
                self._gradients[key] = {"error": exc, "backward_reply": None, "backward_args": []}
        result = self._gradients[key]
        return result

    def _student_gradients(self, backward: str, case: dict) -> dict:
        calls = self._early_gradients.pop((backward, case_key(case)), None)
        if calls is None:
            calls = self.gradient_calls(backward, case)
        g, fwd, expected = calls["g"], calls["fwd"], calls["expected"]
        reply = calls["forward"].result()
        needs = "" if fwd.name == backward else f"needs your {fwd.name} first: "
        if not reply.ok:
            raise _call_failed(reply, fwd, needs, config=self.config)
        got = _unpack(fwd, reply.value)
        for name in g.upstream:
            if not isinstance(got[name], np.ndarray) or got[name].shape != np.shape(expected[name]):
                # No expected shape here: hidden tests share this message.
                raise Failed(f"{needs}returned {name} of the wrong type or shape ({describe_type(got[name])})"
                             .replace(f" of shape {np.shape(got[name])}", ""),
                             brief=f"{needs}returned {name} of the wrong type or shape "
                                   f"({describe_type(got[name], hidden=True)})")
        # A forward computed in float32 spoils central differences (its ~1e-7 error over a step of 1e-5).
        imprecise_forward = any(compare.imprecise(got[n], expected[n])
                                for n in (*g.upstream, *((g.scalar, *g.grads) if g.scalar else ())))
        # Right at the case's inputs: then its values near them must be the reference's too (_same_nearby).
        forward_right = not any(check_value(n, got[n], expected[n], self.forward_tol)
                                for n in ((g.scalar,) if g.scalar else g.upstream))
        result = {"g": g, "fwd": fwd, "args": calls["args"], "kwargs": calls["kwargs"], "expected": expected,
                  "upstream": calls["upstream"], "error": "", "backward_reply": reply, "backward_args": [],
                  "imprecise_forward": imprecise_forward, "forward_right": forward_right}
        if g.scalar:
            result["grads"] = {name: got[name] for name in g.grads}
            return result
        bwd = self.homework.functions[backward]
        result["backward_args"] = calls["backward_args"]
        result["reference_grads"] = calls["reference_grads"]
        pending = calls.get("backward") or self.student_call(bwd, [*calls["backward_args"], calls["cache"]],
                                                             needs=calls["forward"])
        breply = result["backward_reply"] = pending.result()
        if not breply.ok:
            raise _call_failed(breply, bwd, config=self.config)
        result["grads"] = _unpack(bwd, breply.value)
        # The forward's own thread (a busy helper thread must not make it look slow), the backward's every thread
        # (work moved to another thread must not hide).
        result["cpu"] = (reply.thread_cpu, max(breply.cpu, breply.thread_cpu))
        return result

    def _gradient_case(self, test: TestSpec, case: dict) -> dict:
        result = self.student_gradients(test.function, case)
        if result["error"]:
            raise result["error"]
        if "cpu" in result and not test.hidden:  # (public calls only: the note says nothing of hidden ones)
            self.backward_cpu.setdefault(test.function, {})[case_key(case)] = result["cpu"]
        if result["imprecise_forward"]:
            self.imprecise_forwards.add((result["fwd"].name, test.hidden))
        return result

    def kind_reference_gradient(self, test: TestSpec, case: dict) -> None:
        r = self._gradient_case(test, case)
        g, expected = r["g"], r["expected"]
        want = {name: expected[name] for name in g.grads} if g.scalar else r["reference_grads"]
        for name in g.grads:
            tol = self.tolerance(test, self.reference_tol)
            if r["imprecise_forward"]:  # a float32-like forward's cache: its rounding reaches the gradients
                tol = _with_float32_noise(tol, want[name])
            self._verdict(self.check_output(g.backward, name, r["grads"][name], want[name], tol), test)

    def kind_gradcheck(self, test: TestSpec, case: dict) -> None:
        """The student's gradients against central differences of their own forward (see gradcheck.py).

        A few random joint directional derivatives are tried first; only when they do not confirm the
        gradients does ``gradcheck.plan`` (every coordinate of small inputs, directions per array of large
        ones) run, which decides and words the verdict.
        """
        r = self._gradient_case(test, case)
        g, fwd, tol = r["g"], r["fwd"], self.config.tolerances
        plans, quick = self.gradcheck_plans(g, fwd, case, r["args"])
        # Check every gradient's type and shape before spending any evaluations.
        for p in plans:
            got = _lookup(r["grads"], p.target.label)
            if not isinstance(got, np.ndarray) or got.shape != p.target.value.shape or got.dtype != np.float64:
                shape = "" if test.hidden else f" of shape {p.target.value.shape}"
                extra = f": {compare.FLOAT32_HINT}" if isinstance(got, np.ndarray) and got.dtype == np.float32 else ""
                what = describe_type(got, hidden=test.hidden)
                if test.hidden and isinstance(got, np.ndarray):  # no shape named, but which of the two is wrong
                    what += " of another shape" if got.shape != p.target.value.shape else f" of dtype {got.dtype}"
                raise Failed(f"{p.target.label} should be a float64 array{shape}, got {what}{extra}")
        numeric_tol = self.tolerance(test, self.numeric_tol)
        # A float32 forward's noise, not the gradient, would decide a quick check: it gets every coordinate.
        if not r["imprecise_forward"] and quick is not None and not gradcheck.full_check_forced():
            passed, losses = self._quick_gradients_pass(r, quick, numeric_tol)
            if passed:
                self._same_nearby(r, [quick], losses, numeric_tol)
                return
        reply, losses = self._numerical_losses(r, plans)
        if not reply.ok:
            raise _call_failed(reply, fwd, f"evaluating your {fwd.name} for the numerical gradient: ",
                               config=self.config)
        if losses is None:
            raise Failed(f"your {fwd.name} returned outputs of the wrong type or shape during the numerical check")
        if not np.all(np.isfinite(losses)):
            raise Failed(f"your {fwd.name} gave NaN or inf near these inputs, so its gradient cannot be checked")
        self._same_nearby(r, plans, losses, numeric_tol)
        numerics = _numerical_gradients(plans, losses, tol.step)
        # A forward that ignores all its inputs (a stub returning constants) is trivially "consistent" with a zero
        # gradient: that earns nothing.
        if max(float(np.max(np.abs(n))) for n in numerics) <= tol.numeric_atol:
            raise Failed(f"your {fwd.name} does not change when its inputs change (a constant or a stub?), "
                         "so there is no gradient to check")
        against = f"the numerical gradient of your {fwd.name}"
        mismatches = self._gradient_mismatches(r, plans, numerics, numeric_tol)
        reference = self.reference_losses(r, plans) if mismatches and r["imprecise_forward"] else None
        if reference is not None:
            # A float32-like forward (its own tests say so) is the reference's but for rounding, which central
            # differences magnify past any useful tolerance: the reference forward's numerical gradient at the
            # same points stands in for it, so a right backward is not failed for its forward's precision.
            numerics = _numerical_gradients(plans, reference, tol.step)
            mismatches = self._gradient_mismatches(r, plans, numerics, numeric_tol, float32=True)
            against = (f"the numerical gradient of the reference {fwd.name} (yours is float32-like, too imprecise "
                       "to differentiate: compute it in float64)")
        if not mismatches:
            return
        p, numeric, mismatch = mismatches[0]
        spoiled = ""
        if r["imprecise_forward"] and reference is None:
            # No reference forward (a record made without its values): float32-like outputs move each central difference
            # by up to 2 e |L| / 2h (e about 1e-7; FLOAT32_NOISE has a margin): a mismatch beyond that is the
            # backward's, whatever the forward's precision; within it, nothing can be told.
            noise = Tolerance(numeric_tol.rtol,
                              numeric_tol.atol + FLOAT32_NOISE * float(np.max(np.abs(losses))) / tol.step)
            if self._gradient_mismatches(r, [p], [numeric], noise):
                spoiled = (f"; (your {fwd.name} is also imprecise, float32-like: compute it in float64 too, but "
                           "this error is far larger than that explains)")
            else:
                spoiled = (f"; but your {fwd.name} is not precise enough for this check (its outputs are float32 "
                           f"or carry about 1e-7 relative error): the numerical gradient divides differences of "
                           f"its outputs by {2 * tol.step:g}, which magnifies that error, so this cannot tell "
                           f"whether {g.backward} is wrong. Compute {fwd.name} in float64 and check again")
        # The wrong gradient's digest, as a value check keeps it: a second signal of shared code.
        raise Failed(f"does not match {against}: {mismatch.text(test.hidden)}{spoiled}", digest=mismatch.digest)

    def _gradient_mismatches(self, r: dict, plans: list, numerics: list, tol: Tolerance,
                             float32: bool = False) -> list[tuple]:
        """(plan, numerical gradient, mismatch) of each plan whose gradient in the student's backward (``r``) does
        not match ``numerics`` (one per plan: every coordinate, or directional derivatives) within ``tol``
        (``float32``: plus the rounding a float32-like forward's cache leaves, ``_with_float32_noise``)."""
        found = []
        for p, numeric in zip(plans, numerics):
            allowed = _with_float32_noise(tol, numeric) if float32 else tol
            got = _lookup(r["grads"], p.target.label)
            if p.mode == "full":
                mismatch = self.check_output(r["g"].backward, p.target.label, got, numeric, allowed)
            else:
                mismatch = check_array(f"{p.target.label} (directional derivatives)",
                                       gradcheck.analytic_directional(p, got), numeric, allowed)
            if mismatch is not None:
                found.append((p, numeric, mismatch))
        return found

    def _numerical_losses(self, r: dict, plans: list, sent: Pending | None = None) -> tuple[Reply, np.ndarray | None]:
        """Run every evaluation of ``plans`` in the child in one batch (or take the reply of ``sent``, the same
        request sent ahead): its reply, and L per evaluation (shape (evaluations,)) or None when the forward's
        outputs came back malformed."""
        g, fwd = r["g"], r["fwd"]
        reply = sent.result() if sent is not None else self.box.call_many(
            fwd.module, fwd.name, r["args"], r["kwargs"], [p.wire() for p in plans], _loss_outputs(g, fwd))
        if not reply.ok:
            return reply, None
        shapes = [()] if g.scalar else [np.shape(r["expected"][n]) for n in g.upstream]
        stacked = _stacked_outputs(reply, shapes, sum(p.evaluations for p in plans))
        if stacked is None:
            return reply, None
        return reply, gradcheck.losses(stacked, [r["upstream"][n] for n in g.upstream], bool(g.scalar))

    def reference_losses(self, r: dict, plans: list) -> np.ndarray | None:
        """L per evaluation of ``plans`` (shape (evaluations,)) with the reference's forward in place of the
        student's, in this process (the reference never reaches the child).  The plans are the case's
        (gradcheck_plans), the quick one or the deciding ones: so are these values, kept with the case's inputs
        (and on disk with them, memo.py).  None where they are not known (a record made without them)."""
        g, fwd = r["g"], r["fwd"]
        key = (self.config.path, "nearby", g.backward, case_key(self.case), isinstance(plans[0], gradcheck.JointPlan))
        if key not in memo.INPUTS:
            from autograder.sandbox.child import evaluate_many, stacked_outputs

            outputs = _loss_outputs(g, fwd)
            values = evaluate_many(getattr(self.reference[fwd.module], fwd.name), copy.deepcopy(r["args"]),
                                   copy.deepcopy(r["kwargs"]), [p.wire() for p in plans], outputs)
            memo.INPUTS[key] = memo.read_only(gradcheck.losses(stacked_outputs(values, len(outputs)),
                                                               [r["upstream"][n] for n in g.upstream], bool(g.scalar)))
        return memo.INPUTS[key]

    def _same_nearby(self, r: dict, plans: list, losses: np.ndarray, numeric_tol: Tolerance) -> None:
        """Failed when the numerical gradient of the student's forward (central differences of ``losses``, one
        per evaluation of ``plans``) differs from the reference forward's at the same points beyond the gradient
        check's tolerance.  A forward that knows when it is being differentiated (by its call pattern or by
        reading the caller's frame) could otherwise return values consistent with any gradient its backward
        makes up.  A forward with a bug is left alone, its own gradient being what the check is for: one whose
        values are wrong on every ordinary forward case (``ordinary_error``; with none graded, at these inputs;
        a float32 forward among them).  Not where grading replays recorded values (no reference)."""
        if not self.uses_reference:
            return
        g, fwd, step = r["g"], r["fwd"], self.config.tolerances.step
        wrong = self.ordinary_error(fwd.name, (g.scalar,) if g.scalar else tuple(g.upstream))
        if wrong > 0 if wrong is not None else not r["forward_right"]:
            return
        reference = self.reference_losses(r, plans)
        # Every plan's evaluations come in (+h, -h) pairs, so the pairs of the whole batch are its differences.
        ours = (losses[0::2] - losses[1::2]) / (2 * step)
        theirs = (reference[0::2] - reference[1::2]) / (2 * step)
        tol = numeric_tol
        if r["imprecise_forward"]:
            # float32-like outputs (about 1e-7 relative error) move each difference by up to ~1e-7 |L| / h: allowed,
            # with a margin; the gradient check itself then says such a forward cannot be differentiated.
            tol = Tolerance(tol.rtol, tol.atol + FLOAT32_NOISE * float(np.max(np.abs(reference))) / (2 * step))
        if check_array("numerical gradient", ours, theirs, tol) is None:
            return
        if r["forward_right"]:
            raise Failed(f"your {fwd.name} matches the reference at these inputs but not near them (its numerical "
                         f"gradient there is not the reference's), so it cannot vouch for {g.backward}")
        raise Failed(f"your {fwd.name} is wrong at these inputs but right in some of its forward tests: fix it "
                     f"first; until then its numerical gradient cannot vouch for {g.backward}")

    def _quick_gradients_pass(self, r: dict, quick: gradcheck.JointPlan, numeric_tol: Tolerance
                              ) -> tuple[bool, np.ndarray | None]:
        """Whether random joint directional derivatives confirm the gradients (gradcheck.quick_plan), and the
        losses evaluated.

        False means "not confirmed", never "wrong": the caller then checks every coordinate.  A fault
        (the child hung or died) is final, though, since the full check would only meet it again.
        """
        tol = self.config.tolerances
        strict = Tolerance(gradcheck.QUICK_TOLERANCE * numeric_tol.rtol, gradcheck.QUICK_TOLERANCE * numeric_tol.atol)
        sent = self._early_quick.pop((r["g"].backward, case_key(self.case)), None)
        reply, losses = self._numerical_losses(r, [quick], sent)
        if reply.fault:
            fwd = r["fwd"]
            raise _call_failed(reply, fwd, f"evaluating your {fwd.name} for the numerical gradient: ",
                               config=self.config)
        if losses is None or not np.all(np.isfinite(losses)):
            return False, None
        numeric = gradcheck.numerical(quick, losses, tol.step)
        # |<n, d>| <= sqrt(size) max|n_i| for a unit d: past this, some coordinate moves by more than atol,
        # so the full check would not call the forward constant.
        size = sum(t.value.size for t in quick.targets)
        if not float(np.max(np.abs(numeric))) > np.sqrt(size) * tol.numeric_atol:
            return False, None
        got = quick.analytic([_lookup(r["grads"], t.label) for t in quick.targets])
        return check_array("directional derivatives", got, numeric, strict) is None, losses

    def kind_quiz(self, test: TestSpec, case: dict) -> None:
        """One answer of a quiz function (answers()): right or wrong, without revealing the right one."""
        fn = self.homework.functions[test.function]
        if fn.name not in self._answers:  # called once per grading, whatever the number of questions
            self._take_answers(fn, self._early_answers.pop(fn.name, None) or self.student_call(fn, []))
        answers = self._answers[fn.name]
        if isinstance(answers, Failed):
            raise answers
        key = case["question"]
        expected = self.reference_call(fn, [], {})[fn.outputs[0]][key]
        if key not in answers:
            raise Failed(f"no answer for {key!r} in the dict {fn.name}() returns", general=True)
        value = answers[key]
        if type(value) is not type(expected):
            raise Failed(f"{key!r}: not {_a(type(expected).__name__)}, as the question asks (you answered {value!r})",
                         general=True)
        if value != expected:
            raise Failed(f"{key!r}: incorrect (you answered {value!r})", general=True)

    def answer_format(self, fn: Function) -> dict[str, str] | None:
        """A quiz function's questions and the type name of each answer (the reference's), never the answers."""
        return answer_types(self.reference_call(fn, [], {})[fn.outputs[0]])

    def answer_notes(self) -> list[str]:
        """``answer_problems`` as notes naming the function's file (the self-check's and results.json's)."""
        return [f"{QUIZ_NOTE}{fn.module}.py's {fn.name}() {problem}" for fn, problem in self.answer_problems()]

    def answer_problems(self) -> list[tuple[Function, str]]:
        """What makes quiz answers unmarkable whatever is right, for every quiz function asked: a call that
        failed or returned no dict, keys missing or not asked, values of another type than the question asks (the
        call takes no input and the question's text names both, so this is public, even when only hidden tests
        grade the quiz).  Each as (function, "cannot be marked: ..." or "has answers that count as wrong
        whatever is right: ...")."""
        problems = []
        for name, answers in self._answers.items():
            fn = self.homework.functions[name]
            if isinstance(answers, Failed):
                problems.append((fn, f"cannot be marked: {str(answers).splitlines()[0]}"))
                continue
            expected = self.answer_format(fn)
            if expected is None:
                continue
            missing = [k for k in expected if k not in answers]
            unknown = [repr(k) for k in answers if k not in expected]
            typed = [f"{k!r} is {_a(type(answers[k]).__name__)} ({answers[k]!r}), the question asks for {_a(v)}"
                     for k, v in expected.items() if k in answers and type(answers[k]).__name__ != v]
            found = ([f"no answer for {', '.join(map(repr, missing))}"] if missing else []) + (
                [f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a question"] if unknown else []
            ) + typed
            if found:
                problems.append((fn, f"has answers that count as wrong whatever is right: {'; '.join(found)}."))
        return problems

    def _take_answers(self, fn: Function, pending: Pending) -> None:
        reply = pending.result()
        if not reply.ok:
            failed = _call_failed(reply, fn, config=self.config)
            # Asked before any hidden input reaches the child (collect_answers): its text can carry none, and the
            # quiz has no public test to show it, so its hidden tests show it whole.
            self._answers[fn.name] = Failed(str(failed), failed.general, brief=str(failed), fault=failed.fault)
        elif not isinstance(reply.value, dict):
            self._answers[fn.name] = Failed(f"{fn.name}() should return a dict, got {describe_type(reply.value)}",
                                            True)
        else:
            self._answers[fn.name] = {k: _plain_answer(v) for k, v in reply.value.items()}

    def collect_answers(self) -> None:
        """Take the quiz functions' answers now, before any hidden input reaches the child.  A call sent early
        and not answered (its child died on an earlier request) is sent again when its reply is wanted: after
        the hidden calls, it could return what they showed the student's code."""
        for name in list(self._early_answers):
            self._take_answers(self.homework.functions[name], self._early_answers.pop(name))

    def kind_behaviour(self, test: TestSpec, case: dict) -> None:
        """A check of what a function does rather than of its values (the assignment's behaviours module)."""
        check = self.homework.behaviours.get(case["check"])
        if check is None:
            # The config's fault, not the submission's: a grader error, never lost points.
            raise RuntimeError(f"the assignment has no behaviour check named {case['check']!r}")
        check(self, test, case)


def _error(actual, expected) -> float:
    """``compare.relative_error`` of an output, inf for one that is not numbers: how wrong, for AS_WRONG."""
    try:
        return compare.relative_error(actual, expected)
    except (TypeError, ValueError):
        return float("inf")


def _loss_outputs(g, fwd: Function) -> list[int]:
    """The positions of the forward's outputs the loss of a gradient check is made of."""
    return [fwd.outputs.index(g.scalar)] if g.scalar else [fwd.outputs.index(n) for n in g.upstream]


def _kind_of(value, sized: bool = True) -> str:
    """What kind of output ``value`` is, in words: an array (of how many entries, when ``sized``: never in a hidden
    test's brief, where it would tell a hidden case's sizes), a number, a dict (with its keys)."""
    if isinstance(value, dict):
        return f"a dict with the keys {', '.join(sorted(map(str, value)))}"
    if not np.ndim(value):
        return "a number"
    return f"an array of {np.size(value)} entries" if sized else "an array"


def _same_kind(got, expected) -> bool:
    """Whether ``got`` is an output of ``expected``'s kind: an array of as many entries for an array (of any shape
    or dtype: a transposed one is), a dict with its keys for a dict, a number or a 0-d array for a number.  None,
    an empty array or dict where values belong, are of no kind."""
    if got is None:
        return False
    if isinstance(expected, dict):
        return isinstance(got, dict) and set(expected) <= set(got)
    if isinstance(expected, np.ndarray) and expected.ndim:
        return isinstance(got, np.ndarray) and got.size == expected.size
    if isinstance(expected, (bool, int, float, complex, np.number, np.ndarray)):
        return isinstance(got, (int, float, np.number)) and not isinstance(got, bool) or (
            isinstance(got, np.ndarray) and got.ndim == 0)
    return True


def _finite(value) -> bool:
    """Whether every number in an output (array, float, dict of those) is finite; other types count as finite."""
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return bool(np.all(np.isfinite(value)))
    if isinstance(value, float):
        return bool(np.isfinite(value))
    return True


def _stacked_outputs(reply: Reply, shapes: list[tuple], count: int) -> list[np.ndarray] | None:
    """The child's (evaluations, ...) float64 arrays, or None when any is malformed."""
    if len(reply.stacked) != len(shapes):
        return None
    for array, shape in zip(reply.stacked, shapes):
        if not isinstance(array, np.ndarray) or array.dtype != np.float64 or array.shape != (count, *shape):
            return None
    return reply.stacked


def _lookup(grads: dict, label: str):
    """grads["dW"] or, for a label like "grads['Wf']", grads["grads"]["Wf"]."""
    if "[" in label:
        outer, key = label.split("[", 1)
        inner = grads.get(outer)
        return inner.get(key[1:-2]) if isinstance(inner, dict) else inner
    return grads.get(label)


# -- hints that need several tests ---------------------------------------------
def _all_single_step(test: TestSpec, time_keys: tuple[str, ...]) -> bool:
    """Whether every case of the test has sequences of one step (time keys absent count as 1)."""
    return bool(time_keys) and all(c.get(k, 1) == 1 for c in test.cases for k in time_keys)


def _a(noun: str) -> str:
    """The noun with its indefinite article: "an int", "a bool"."""
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _plain_answer(value):
    """A numpy scalar answer (``np.bool_``, ``np.int64``, a 0-d array: what a comparison or a numpy sum gives) as
    the Python bool, int or float it stands for, so it is marked like one; other values as they are."""
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0 and value.dtype.kind in "biuf":
        return value.item()
    return value


def answer_types(answers: dict) -> dict[str, str]:
    """Each question of a quiz function's answers and the type name of its answer (what the question asks for)."""
    return {str(k): type(v).__name__ for k, v in answers.items()}


_RAISED = "raised an exception (the public tests"  # a hidden test's brief of a call that raised (Reply.describe)
# Failures that are the function's own whatever it calls: its module never imported, or it is a stub.
_OWN_FAILURE = re.compile(r"\.py (could not be imported|was not found in the submission)|is not implemented yet")


def _depends_on(homework: Homework, function: str) -> frozenset[str]:
    """The graded functions whose bugs reach ``function``'s tests: those it calls, and a backward's forward."""
    gradient = homework.gradients.get(function)
    forward = {gradient.forward} - {function} if gradient is not None else set()
    return homework.calls.get(function, frozenset()) | forward


def add_hints(results: list[TestResult], homework: Homework, imprecise: set[tuple[str, bool]] = frozenset(),
              rounded: set[tuple[str, bool]] = frozenset()) -> None:
    """Hints that compare a function's tests with each other (or with its forward's).  A public test's hints
    are drawn from the public tests alone: a hint must never tell a student how a hidden test went.
    ``imprecise``: ``Grading.imprecise_forwards``; ``rounded``: ``Grading.rounded_outputs``."""
    _add_hints([r for r in results if not r.spec.hidden], homework, False, {f for f, h in imprecise if not h},
               {f for f, h in rounded if not h})
    _add_hints(results, homework, True, {f for f, _ in imprecise}, {f for f, _ in rounded})


def _add_hints(results: list[TestResult], homework: Homework, hidden: bool, imprecise: set[str] = frozenset(),
               rounded: set[str] = frozenset()) -> None:
    """``add_hints`` on the tests of one visibility, comparing them with ``results``; ``imprecise``: the
    forwards found float32-like (their backward's tests compare with the reference: no "fix it first");
    ``rounded``: functions whose passing outputs are float32 numbers."""
    time_keys = homework.time_keys
    by_function: dict[str, list[TestResult]] = {}
    for r in results:
        by_function.setdefault(r.spec.function, []).append(r)
    failing = {f for f, g in by_function.items() if any(not r.passed and not r.spec.stability for r in g)}
    # Failing only by float32-sized errors while calling a function whose outputs are float32 numbers: that
    # rounding explains them, so they are no function to fix first for their callers.
    explained = {f for f in failing if rounded & homework.calls.get(f, frozenset()) and all(
        r.pattern == "float32" for r in by_function[f] if not r.passed and not r.spec.stability)}
    for function, group in by_function.items():
        failed = [r for r in group if not r.passed and r.spec.hidden == hidden]
        if not failed:
            continue
        grad_kinds = ("gradcheck", "reference_gradient")
        gradient = homework.gradients.get(function)
        forward = gradient.forward if gradient is not None else None
        gradchecks = [r for r in group if r.spec.kind == "gradcheck"]
        # Every numerical check passes: the backward is the derivative of the student's own forward.
        consistent = bool(gradchecks) and all(r.passed for r in gradchecks)
        forward_broken = forward and forward != function and forward not in imprecise and any(
            not r.passed and r.spec.kind == "forward" and not r.spec.stability for r in by_function.get(forward, []))
        through_time = gradient is not None and gradient.forward != function and function in homework.sequence_functions
        # The failing functions this one is meant to call, leaving out those whose failures a deeper one explains
        # (a function it calls, or the forward whose outputs a backward's tests run on, unless that forward is only
        # float32-like: its rounding explains its callers' small errors, not its backward's).
        causes = sorted(f for f in (failing - explained) & homework.calls.get(function, frozenset())
                        if not failing & homework.calls.get(f, frozenset())
                        and not (failing - imprecise) & (_depends_on(homework, f) - homework.calls.get(f, frozenset())))
        # A wrong forward hands its backward wrong caches, a wrong step breaks every step: those hints come first.
        if through_time and not forward_broken and not causes and any(
                r.passed and r.spec.kind in grad_kinds and _all_single_step(r.spec, time_keys) for r in group):
            for r in failed:
                # (not after a call that never returned: no value was found wrong)
                if r.spec.kind in grad_kinds and not _all_single_step(r.spec, time_keys) and not r.fault:
                    r.output += ("\nHint: right for a single time step (T = 1) but wrong for longer sequences: "
                                 "check the gradient carried back through time (the recurrent path) and that "
                                 "parameter gradients are summed over the time steps.")
        if forward_broken:
            for r in failed:
                if _OWN_FAILURE.search(r.output.split("\n")[0]):
                    continue
                if consistent and r.spec.kind == "reference_gradient":
                    r.output += (f"\nHint: this backward is consistent with your own {forward} (its numerical "
                                 f"check passes), so fix {forward} first.")
                elif r.spec.kind == "reference_gradient":
                    r.output += (f"\nHint: your {forward} fails its own tests, and this test runs on what it "
                                 f"returns (its outputs and cache): fix {forward} first, then check this again.")
                elif r.spec.kind == "gradcheck":
                    r.output += (f"\nHint: your {forward} fails its own tests, and this check differentiates it "
                                 f"as you wrote it: a backward written for the correct {forward} fails here until "
                                 f"{forward} is fixed.")
        public = [r for r in group if not r.spec.hidden]  # none for a function only hidden tests grade (the quiz)
        if hidden and public and all(r.passed for r in public):
            for r in failed:
                if r.spec.hidden and _RAISED in r.output:
                    r.output += ("\nHint: it raises on hidden inputs only (every public test of this function "
                                 "passes): look for code that holds only for the public inputs' sizes, such as a "
                                 "size written as a number or a squeeze that also drops an axis of length 1.")
        ordinary = [r for r in group if r.spec.kind == "forward" and not r.spec.stability]
        if ordinary and all(r.passed for r in ordinary):
            for r in failed:
                if r.spec.stability:
                    r.output += "\nHint: " + homework.stability_hint_for(function)
        # A float32-sized error, no failing function to blame, and a function it calls that returns float32
        # numbers (close enough for its own tests): that rounding is enough, so say where it is.
        sources = sorted(f for f in rounded & homework.calls.get(function, frozenset()) if f not in failing)
        through = explained & homework.calls.get(function, frozenset())  # callees failing by that rounding alone
        if sources and not causes:
            for r in failed:
                if r.pattern == "float32" or through:
                    r.output += (f"\nHint: {listed(sources)} {'returns' if len(sources) == 1 else 'return'} values "
                                 "rounded to float32 (close enough for "
                                 f"{'its' if len(sources) == 1 else 'their'} own tests), which is enough for an "
                                 f"error this small here: compute {'it' if len(sources) == 1 else 'them'} in float64.")
        if causes:
            named = listed(causes)
            for r in failed:
                # A module that could not be imported (or is missing) says so itself: the calls never ran.
                if not r.spec.stability and not _OWN_FAILURE.search(r.output.split("\n")[0]):
                    r.output += (f"\nHint: {function} is meant to call {named}, which fail"
                                 f"{'s' if len(causes) == 1 else ''} {'its' if len(causes) == 1 else 'their'} own "
                                 f"tests: fix {'it' if len(causes) == 1 else 'them'} first, then check this again.")
                    if compare.FLOAT32_MAYBE in r.output:  # a failing callee explains a small error as well as float32
                        r.output += f" The small error above need not mean float32: a wrong {named} gives one too."


def grade(submission: Path, config: Config, public_only: bool = False, box: Sandbox | None = None,
          grading_class: type[Grading] = Grading) -> GradeReport:
    """Grade a submission folder or filled notebook; never raises for anything the submission does.

    ``box`` may be a sandbox already started on this submission (see cli.py), or
    anything with its interface (the student bundle runs code in-process);
    ``grading_class`` may be a subclass that gets reference values elsewhere.
    """
    start = time.perf_counter()
    # A filled notebook is graded as a kernel runs its cells, in the child (see extract.py).
    submission = Path(submission)
    notebook = notebook_of(submission, config.files)
    submission, extract_notes = prepare_submission(notebook or submission, config.files, config.functions,
                                                   budget=config.limits.notebook_seconds)
    found, notes = find_files(submission, config.files)
    notes = extract_notes + notes
    from_notebook = extracted_from(submission) is not None
    box = box or open_sandbox(submission, config)
    tests = [t for t in config.tests if not (public_only and t.hidden)]
    results: dict[int, TestResult] = {}
    grader_errors: list[str] = []
    with box:
        module_errors = {}
        # A notebook's first import runs its cells within their own budget (extract.py).
        seconds = config.limits.notebook_import_seconds if extracted_from(submission) else None
        loads = {file: box.submit_load(file[:-3], seconds) for file in config.files if file in found}
        if grading_class.uses_reference:
            memo.load(config)  # the kept inputs and plans (a few ms, while the child imports the files)
        for file in config.files:
            module = file[:-3]
            if file not in found:
                module_errors[module] = f"{file} was not found in the submission"
                continue
            reply = loads[file].result()
            # What a notebook's cells raised (extract.py): from a notebook's modules only, which run its cells
            # (any module could claim to: its notes would read as the grader's).
            if reply.ok and isinstance(reply.value, list) and from_notebook:
                notes += [str(n) for n in reply.value if str(n) not in notes]
            if not reply.ok:
                problem = reply.fault or f"{reply.error_type}: {reply.error}" + _missing_module(reply, config)
                module_errors[module] = f"{file} could not be imported: {problem}" + _raised_in(reply, file)
                notes.append(f"{file} could not be imported: {problem}\n{reply.traceback}".rstrip())
        grading = grading_class(config, box, {}, module_errors)
        public, hidden = [t for t in tests if not t.hidden], [t for t in tests if t.hidden]
        # The child works on the public forward calls while this process loads the reference and reads the files.
        grading.prefetch(public)
        if grading_class.uses_reference:
            grading.reference = load_reference(config)
        grading.prefetch_gradients(public)
        # Every quiz function is asked, hidden questions or not: it takes no input, and the format of its answers
        # (answer_notes) is for the self-check too.
        grading.prefetch_answers()
        if hidden:
            # Made ready (inputs, reference values, encoded) while the child works on the public calls, and
            # sent once every public test has run and the printed output is read (below).
            with box.held():
                grading.prefetch(hidden)
                grading.prefetch_gradients(hidden)
        # The student's helper modules beside the graded files are theirs to import, and their imports count too.
        helpers = helper_files(submission, config.files)
        present = [*found, *helpers[:MAX_HELPERS]]  # what the child got (locate.workdir_files)
        own = [f[:-3] for f in (*config.files, *present)]
        notes += helper_notes(helpers)
        for file in present:
            try:
                source = (submission / file).read_text(errors="replace")
                notes += environment.source_notes(file, source, config.environment, own)
            except Exception as exc:  # noqa: BLE001 -- a warning that costs no points must not stop grading
                grader_errors.append(f"environment notes for {file}: {type(exc).__name__}: {exc}")
        public_output, sizes = None, None
        order = sorted(range(len(tests)), key=lambda i: tests[i].hidden)
        for i in order:
            test = tests[i]
            if test.hidden and public_output is None:
                # Public tests first, all of them: a call a public test makes late (a gradient diagnosis, a
                # behaviour's later steps) must not run in a child that has seen hidden inputs, which it could
                # repeat in a message students read.  The printed output shown to students is read now, with
                # every public call answered and no hidden input sent: the child keeps its descriptors and could
                # later rewrite what it printed (clear O_APPEND, pwrite at offset 0).
                grading.collect_answers()
                public_output, sizes = box.output(), box.mark()  # the cut note below says nothing of hidden calls
                box.release()
            try:
                grading.run(test)
                results[i] = TestResult(test, True, "passed")
            except Failed as exc:
                results[i] = TestResult(test, False, str(exc), exc.digest, exc.fault, exc.pattern)
            except Exception as exc:  # noqa: BLE001 -- a grader bug must not cost the other tests
                grader_errors.append(f"{test.full_name}: {type(exc).__name__}: {exc}")
                results[i] = TestResult(test, False, "the grader itself failed on this test (not your code's "
                                        "fault); please tell the course staff")
        grading.collect_answers()
        notes += grading.answer_notes() + grading.slow_backward_notes()
        student_output = box.output() if public_output is None else public_output
        file_limit = config.limits.file_mb << 20
        sizes = sizes or box.mark()
        if any(size >= output_cap(file_limit) for size in sizes):
            # The child kept output up to the cap and dropped the rest: no call failed because of it.
            printed = sum(printed_bytes(size, file_limit) for size in sizes) / 2**20
            notes.append(f"Note: your code printed about {printed:.4g} MB{' in the public tests' if hidden else ''}; "
                         f"output past {output_cap(file_limit) / 2**20:.3g} MB is cut (printing costs no points, "
                         "but it slows grading down: remove the prints from your functions).")
    ordered = [results[i] for i in range(len(tests))]
    add_hints(ordered, config.homework, grading.imprecise_forwards, grading.rounded_outputs)
    try:
        notebook = extracted_from(submission)
        notes += (fingerprint.notebook_notes(notebook.notebook, notebook.sources, config.path) if notebook
                  else fingerprint.notes(submission, found, config.path))
    except Exception as exc:  # noqa: BLE001 -- a warning that costs no points must not stop grading
        grader_errors.append(f"template fingerprints: {type(exc).__name__}: {exc}")
    environment.forget_parsed()
    for err in grader_errors:
        print(f"grader error: {err}", file=sys.stderr)
    if grading_class.uses_reference:
        memo.save(config)
    discard_extracted(submission)  # a long-lived worker grades many notebooks
    return GradeReport(ordered, found, notes, student_output, time.perf_counter() - start, grader_errors,
                       config.hidden_part if public_only else (0.0, ()))
