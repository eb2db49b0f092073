"""Reference values recorded at release time and replayed by the student bundle's self-check.

The bundle must not contain the reference solution, yet its forward and
``reference_gradient`` tests need the reference's outputs.  ``make release``
grades the reference itself on the public tests with a ``Grading`` subclass that
records every reference call: the function, the case it belongs to, a summary
of its inputs and its outputs (caches are left out: only the reference's own
backward would read them, and that call is recorded too).  The self-check grades
with a subclass that answers the same calls from the record, so every check,
message and hint is the grader's own code.  The notebook's test cells replay
the same kind of record (``checks_api.py``): the public tests' for students,
every test's for the graders of otter-grader and nbgrader (``notebooks.py``).

The input summary (count, sum, sum of squares) catches a numpy that draws
different random inputs from the one the record was made with, which would
otherwise fail correct code.
"""

from __future__ import annotations

import json

import numpy as np

from autograder.grading.grader import Grading, answer_types
from autograder.spec import Function, Homework, input_summary


class RecordError(Exception):
    """The record lacks a call or does not match the inputs this numpy makes."""


def _key(function: str, case: dict) -> str:
    return json.dumps([function, case], sort_keys=True)


def _same_summary(got: list[float], want: list[float]) -> bool:
    return got[0] == want[0] and all(abs(g - w) <= 1e-9 * (1 + abs(w)) for g, w in zip(got[1:], want[1:]))


def encode(value):
    """A JSON value that decodes to exactly the same numbers (floats keep their repr)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return {"dtype": value.dtype.name, "shape": list(value.shape), "data": value.ravel().tolist()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v) for k, v in value.items()}}
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


def decode(node):
    if isinstance(node, dict) and "dict" in node:
        return {k: decode(v) for k, v in node["dict"].items()}
    if isinstance(node, dict):
        return np.array(node["data"], dtype=node["dtype"]).reshape(node["shape"])
    return node


class Recorder:
    """Collects the reference calls of one grading run."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.answer_formats: dict[str, dict[str, str]] = {}  # quiz function -> question -> type name
        self.losses: dict[str, dict] = {}  # the reference forward's L at each gradient check's evaluations

    def add_losses(self, backward: str, case: dict, losses: np.ndarray) -> None:
        self.losses.setdefault(_key(backward, case), {"backward": backward, "case": case,
                                                      "losses": [float(v) for v in losses]})

    def add(self, fn: Function, case: dict, args: list, kwargs: dict, outputs: dict) -> None:
        self.records.setdefault(_key(fn.name, case), {
            "function": fn.name,
            "case": case,
            "inputs": input_summary(fn, args, kwargs),
            "outputs": {name: encode(v) for name, v in outputs.items() if name != "cache"},
        })

    def grading_class(self) -> type[Grading]:
        recorder = self

        class Recording(Grading):
            def reference_call(self, fn: Function, args: list, kwargs: dict) -> dict:
                outputs = super().reference_call(fn, args, kwargs)
                recorder.add(fn, self.case, args, kwargs, outputs)
                return outputs

            def kind_gradcheck(self, test, case: dict) -> None:
                super().kind_gradcheck(test, case)
                # What a float32-like forward's check compares with instead of its own central differences
                # (Grading.kind_gradcheck): the reference's L at every evaluation of the case's deciding plans.
                r = self._gradient_case(test, case)
                plans, _ = self.gradcheck_plans(r["g"], r["fwd"], case, r["args"])
                recorder.add_losses(test.function, case, self.reference_losses(r, plans))

            def answer_format(self, fn: Function) -> dict[str, str] | None:
                # The questions and answer types only: the answers stay out of the record.
                recorder.answer_formats[fn.name] = answer_types(Grading.reference_call(self, fn, [], {})[fn.outputs[0]])
                return recorder.answer_formats[fn.name]

        return Recording

    def document(self, public_only: bool = True) -> dict:
        which = "public test cases" if public_only else "test cases, hidden ones included"
        return {
            "about": f"Reference outputs on the {which}, recorded by the grader on the reference solution.",
            "numpy": np.__version__,
            "records": [self.records[k] for k in sorted(self.records)],
            "answer_formats": self.answer_formats,
            "losses": [self.losses[k] for k in sorted(self.losses)],
        }


class Recorded:
    """A record loaded back: answers reference calls by function and case."""

    def __init__(self, document: dict) -> None:
        self.numpy = str(document.get("numpy", "?"))
        self.records = {_key(r["function"], r["case"]): r for r in document["records"]}
        self.answer_formats: dict[str, dict[str, str]] = dict(document.get("answer_formats") or {})
        self.losses = {_key(r["backward"], r["case"]): r["losses"] for r in document.get("losses") or []}

    def outputs(self, fn: Function, case: dict, args: list, kwargs: dict) -> dict:
        record = self.records.get(_key(fn.name, case))
        if record is None:
            raise RecordError(f"no recorded reference values for {fn.name} on case {case}")
        if not _same_summary(input_summary(fn, args, kwargs), record["inputs"]):
            raise RecordError(f"the inputs of {fn.name} on case {case} differ from the recorded ones "
                              f"(numpy {np.__version__} here, {self.numpy} when recorded)")
        values = {name: decode(v) for name, v in record["outputs"].items()}
        return {name: values.get(name) for name in fn.outputs}  # the cache stays None

    def mismatched_inputs(self, homework: Homework) -> list[str]:
        """The recorded forward cases whose inputs this numpy builds differently."""
        bad = []
        for record in self.records.values():
            fn = homework.functions[record["function"]]
            if fn.build is None:
                continue  # a backward call: its inputs come from its forward's
            args, kwargs = homework.forward_inputs(fn.name, record["case"]).call_args()
            if not _same_summary(input_summary(fn, args, kwargs), record["inputs"]):
                bad.append(f"{fn.name} {record['case']}")
        return bad


def replaying(recorded: Recorded) -> type[Grading]:
    """A Grading that takes every reference value from the record."""

    class Replay(Grading):
        uses_reference = False

        def reference_call(self, fn: Function, args: list, kwargs: dict) -> dict:
            return recorded.outputs(fn, self.case, args, kwargs)

        def answer_format(self, fn: Function) -> dict[str, str] | None:
            return recorded.answer_formats.get(fn.name)

        def reference_losses(self, r: dict, plans: list) -> np.ndarray | None:
            losses = recorded.losses.get(_key(r["g"].backward, self.case))
            return None if losses is None or len(losses) != sum(p.evaluations for p in plans) else np.array(losses)

        def quiz_functions(self) -> list[str]:
            # A public config has no quiz test (every answer is hidden): the record names the functions.
            return list(dict.fromkeys([*super().quiz_functions(), *recorded.answer_formats]))

    return Replay
