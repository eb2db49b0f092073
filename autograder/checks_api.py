"""The checks a notebook's test cells call, under otter-grader and nbgrader alike.

    from autograder.checks_api import run_test
    run_test("rnn_forward", "matches the reference", globals())

runs one test of the assignment config (by function and test name) on the
functions defined in the notebook's namespace, with the native grader's own
test code (``grader.Grading``: reference comparisons, numerical gradient
checks, in-place modification checks, stability), and raises ``CheckFailed``
(an AssertionError) with the grader's message when it does not pass.  Both
tools count a test cell or test case that raises as failed and one that
returns as passed, so a test earns its config points exactly when the native
grader would give them.

Reference values come from a checks folder (see ``recorded.py``), the first found of:
the folder named by the environment variable HW_RNN_CHECKS, then
``hw_rnn_checks_full`` (every test: graders only) and ``hw_rnn_checks`` (the
public tests: given to students), each looked for next to this package and in
the working directory.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "HW_RNN_CHECKS"
FOLDERS = ("hw_rnn_checks_full", "hw_rnn_checks")
_LOADED: dict[Path, tuple] = {}


class CheckFailed(AssertionError):
    """A test of the homework did not pass; the message says why."""


def checks_folder() -> Path:
    """Where the tests and reference values are read from."""
    from autograder.recorded import CONFIG_NAME

    named = os.environ.get(ENV_VAR)
    if named:
        if not (Path(named) / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{ENV_VAR}={named} is not a checks folder (no {CONFIG_NAME} in it)")
        return Path(named).resolve()
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        for name in FOLDERS:
            if (base / name / CONFIG_NAME).is_file():
                return (base / name).resolve()
    raise FileNotFoundError(f"no checks folder found: keep the folder {FOLDERS[1]} that came with the notebook "
                            "next to it (or set HW_RNN_CHECKS)")


def _checks(folder: Path) -> tuple:
    from autograder.recorded import load

    if folder not in _LOADED:
        _LOADED[folder] = load(folder)
    return _LOADED[folder]


def run_test(function: str, name: str, namespace: Mapping[str, object] | None = None) -> None:
    """Run one test of the homework on the functions in ``namespace`` (the caller's globals by default).

    Returns quietly when the test passes; raises CheckFailed with the grader's
    feedback when it fails.
    """
    from autograder.grader import Failed
    from autograder.kernel_box import KernelBox
    from autograder.recorded import CaseGrading

    if namespace is None:
        namespace = sys._getframe(1).f_globals
    folder = checks_folder()
    config, values = _checks(folder)
    test = next((t for t in config.tests if t.function == function and t.name == name), None)
    if test is None:
        raise LookupError(f"no test {function}: {name!r} in {folder} (hidden tests run only when graded)")
    box = KernelBox(namespace)
    with warnings.catch_warnings():
        # Student calls record their own warnings; anything else must not print (nbgrader zeroes stderr).
        warnings.simplefilter("ignore")
        try:
            CaseGrading(config, box, values).run(test)
        except Failed as exc:
            message = f"{test.full_name}: {exc}"
            printed = box.output()
            if printed and not test.hidden:
                message += f"\nOutput printed by your code:\n{printed}"
            raise CheckFailed(message) from None
