"""Checks folders: the tests a notebook's kernel can run, with the reference values they need.

A checks folder holds ``assignment.yaml`` (the assignment config cut down to
the tests it carries) and ``reference.bin`` (the reference solution's outputs
for every case of those tests, keyed by function and case, encoded with
``wire``: arrays and numbers, never code).  Students get the folder with the
public tests only, so neither the reference solution nor any hidden test
leaves the course staff; the graders (otter's autograder zip, nbgrader's
course folder) get the one with every test.

``CaseGrading`` is the grader's ``Grading`` with its reference calls answered
from such a table (or filling it, when recording from the real reference).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import yaml

from autograder import wire
from autograder.config import Config, check_cases, load_config
from autograder.grader import Grading, TestResult, load_reference
from autograder.homework import FUNCTIONS, Function, required_case_keys

CONFIG_NAME = "assignment.yaml"
VALUES_NAME = "reference.bin"
FORMAT = 1


def case_key(function: str, case: dict) -> str:
    return f"{function} {json.dumps(case, sort_keys=True)}"


class CaseGrading(Grading):
    """Grading whose expected values come from a table keyed by (function, case).

    With ``live`` reference modules it computes each value and stores it in
    the table (recording); without, it looks each one up (replaying).
    """

    def __init__(self, config: Config, box, values: dict, live: dict[str, ModuleType] | None = None) -> None:
        super().__init__(config, box, live or {}, {})
        self.values = values
        self.live = live
        self._case: dict | None = None

    # Every reference call happens inside one case of one test: remember which.
    def kind_forward(self, test, case):
        self._case = case
        super().kind_forward(test, case)

    def kind_inputs_unchanged(self, test, case):
        self._case = case
        super().kind_inputs_unchanged(test, case)

    def kind_gradcheck(self, test, case):
        self._case = case
        super().kind_gradcheck(test, case)

    def kind_reference_gradient(self, test, case):
        self._case = case
        super().kind_reference_gradient(test, case)

    def reference_call(self, fn: Function, args: list, kwargs: dict) -> dict:
        key = case_key(fn.name, self._case)
        if self.live is not None:
            outputs = super().reference_call(fn, args, kwargs)
            self.values[key] = {name: v for name, v in outputs.items() if name != "cache"}
            return outputs
        if key not in self.values:
            raise LookupError(f"no reference value was recorded for {fn.name} on the case {self._case}")
        outputs = dict(self.values[key])
        if "cache" in fn.outputs:
            outputs["cache"] = None  # only read by the reference's own backward, whose values are recorded too
        return outputs


def _cut_config(config: Config, public_only: bool) -> str:
    """The config's YAML with only the tests a checks folder carries."""
    raw = yaml.safe_load(config.path.read_text())
    raw["reference"] = raw["templates"] = "."  # values come from reference.bin
    for question in raw["questions"]:
        question["tests"] = [t for t in question["tests"] if not (public_only and t["visibility"] == "hidden")]
    raw["questions"] = [q for q in raw["questions"] if q["tests"]]
    which = "the public tests" if public_only else "every test"
    header = (f"# Generated from {config.path.name} by `make notebooks`: {which} of the homework, for the\n"
              "# checks run in a notebook's kernel (autograder/checks_api.py). Do not edit.\n")
    return header + yaml.safe_dump(raw, sort_keys=False, width=120)


def write(folder: Path, config: Config, public_only: bool) -> list[TestResult]:
    """Write a checks folder, recording the reference's values by grading the reference itself.

    Returns the results of that run: every test must pass, or the folder would be wrong.
    """
    from autograder.kernel_box import KernelBox

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(_cut_config(config, public_only))
    cut = load_config(folder / CONFIG_NAME, required_case_keys())
    reference = load_reference(config)
    namespace = {name: getattr(reference[FUNCTIONS[name].module], name) for name in FUNCTIONS}
    values: dict = {}
    grading = CaseGrading(cut, KernelBox(namespace), values, live=reference)
    results = []
    for test in cut.tests:
        try:
            grading.run(test)
            results.append(TestResult(test, True, "passed"))
        except Exception as exc:  # noqa: BLE001 -- reported to the caller, who refuses a failing reference
            results.append(TestResult(test, False, f"{type(exc).__name__}: {exc}"))
    (folder / VALUES_NAME).write_bytes(wire.encode({"format": FORMAT, "values": values}))
    return results


def load(folder: Path) -> tuple[Config, dict]:
    """The config and the recorded values of a checks folder."""
    folder = Path(folder)
    config = load_config(folder / CONFIG_NAME)
    check_cases(config, required_case_keys())
    reader = wire.MessageReader()
    reader.feed((folder / VALUES_NAME).read_bytes())
    if not reader.done:
        raise wire.WireError(f"{folder / VALUES_NAME} is truncated")
    message = reader.message()
    if message.get("format") != FORMAT or not isinstance(message.get("values"), dict):
        raise wire.WireError(f"{folder / VALUES_NAME} is not a reference table this version can read")
    return config, message["values"]
