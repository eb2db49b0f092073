"""The checks a notebook's test cells call, under otter-grader and nbgrader alike.

    from autograder.checks_api import run_test
    run_test("FUNCTION", "TEST NAME", globals())

runs one test of the assignment config (by function and test name) on the
functions defined in the notebook's namespace, with the native grader's own
test code (``grader.Grading``: reference comparisons, numerical gradient
checks, in-place modification checks, stability, behaviours, quiz answers),
and raises ``CheckFailed`` (an AssertionError) with the grader's message when it
does not pass.  Both tools count a test cell or test case that raises as
failed and one that returns as passed, so a test earns its config points
exactly when the native grader would give them.

Reference values come from a checks folder: the tests as JSON and the
reference's recorded outputs on their cases, in the student bundle's format
(``selfcheck.load``, ``recorded.py``), never the reference solution itself.
The folder is the first found of: the one named by the environment variable
AUTOGRADER_CHECKS, then ``<assignment>_checks_full`` (every test: graders only)
and ``<assignment>_checks`` (the public tests: given to students), each looked
for next to this package and in the working directory.
"""

from __future__ import annotations

import os
import sys
import types
import warnings
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "AUTOGRADER_CHECKS"
PUBLIC_SUFFIX, FULL_SUFFIX = "_checks", "_checks_full"  # after the assignment's name (notebooks.checks_names)
_LOADED: dict[Path, tuple] = {}


class CheckFailed(AssertionError):
    """A test of the homework did not pass; the message says why."""


def checks_folder() -> Path:
    """Where the tests and reference values are read from."""
    from autograder.config import CONFIG_FILE

    named = os.environ.get(ENV_VAR)
    if named:
        if not (Path(named) / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{ENV_VAR}={named} is not a checks folder (no {CONFIG_FILE} in it)")
        return Path(named).resolve()
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        for suffix in (FULL_SUFFIX, PUBLIC_SUFFIX):
            found = sorted(p for p in base.glob(f"*{suffix}") if (p / CONFIG_FILE).is_file())
            if len(found) > 1:
                raise FileNotFoundError(f"several checks folders in {base} ({', '.join(p.name for p in found)}): "
                                        f"set {ENV_VAR} to the one this notebook's tests use")
            if found:
                return found[0].resolve()
    raise FileNotFoundError(f"no checks folder found: keep the folder <assignment>{PUBLIC_SUFFIX} that came with the "
                            f"notebook next to it (or set {ENV_VAR})")


def _checks(folder: Path) -> tuple:
    from autograder.release.selfcheck import load

    if folder not in _LOADED:
        _LOADED[folder] = load(folder)
    return _LOADED[folder]


class _NotebookFile(types.ModuleType):
    """A submission file as seen from the notebook: its names are the notebook's globals."""

    def __init__(self, name: str, namespace: Mapping[str, object]) -> None:
        super().__init__(name, f"the notebook's cells marked `# file: {name}.py`")
        self._namespace = namespace

    def __getattr__(self, attr: str):
        try:
            return self._namespace[attr]
        except KeyError:
            raise AttributeError(f"no {attr!r} is defined in the notebook yet (run the cell that defines it, "
                                 f"marked `# file: {self.__name__}.py`)") from None


def link_files(namespace: Mapping[str, object] | None = None) -> None:
    """Make ``import NAME`` of every submission file NAME.py in the notebook find the notebook's own functions.

    In the .py files, one file imports functions from another; in the notebook
    both are cells of one namespace, so each file name becomes a
    module whose attributes are that namespace's names.  Only the notebook's
    kernel is affected: the native grader runs the extracted files as they are.
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    for file in _checks(checks_folder())[0].files:
        name = file.removesuffix(".py")
        sys.modules[name] = _NotebookFile(name, namespace)


def run_test(function: str, name: str, namespace: Mapping[str, object] | None = None) -> None:
    """Run one test of the homework on the functions in ``namespace`` (the caller's globals by default).

    Returns quietly when the test passes; raises CheckFailed with the grader's
    feedback when it fails.
    """
    from autograder.environment import function_notes
    from autograder.grading.grader import Failed
    from autograder.grading.recorded import replaying
    from autograder.release.selfcheck import running_notes
    from autograder.sandbox.kernel_box import KernelBox

    if namespace is None:
        namespace = sys._getframe(1).f_globals
    folder = checks_folder()
    config, recorded = _checks(folder)
    test = next((t for t in config.tests if t.function == function and t.name == name), None)
    if test is None:
        raise LookupError(f"no test {function}: {name!r} in {folder} (hidden tests run only when graded)")
    # What fails only in the grader (a module it lacks, a numpy name it no longer has) fails here first.
    own = [f.removesuffix(".py") for f in config.files]
    used = [namespace[n] for n in dict.fromkeys((function, *_helpers(function, config.homework))) if n in namespace]
    blocking = [note for fn in used for note in function_notes(fn, namespace, config.environment, own)]
    if blocking:
        raise CheckFailed(f"{test.full_name}: " + "\n".join(dict.fromkeys(blocking)))
    with KernelBox(namespace, config.limits) as box, warnings.catch_warnings():
        # Student calls record their own warnings; nothing else may print (nbgrader zeroes a cell with stderr).
        warnings.simplefilter("ignore")
        try:
            replaying(recorded)(config, box, {}, {}).run(test)
        except Failed as exc:
            message = _in_cells(f"{test.full_name}: {exc}", config.files)
            for note in running_notes(config):
                message += f"\nNote: {note}"
            printed = box.output()
            if printed and not test.hidden:
                message += f"\nOutput printed by your code:\n{printed}"
            raise CheckFailed(message) from None


def check_answers(namespace: Mapping[str, object] | None = None) -> None:
    """Print whether the quiz functions' answers (in ``namespace``, the caller's globals by default) can be marked.

    The quiz is graded by hidden tests only, so no test cell says when ``answers()`` raises, returns no dict,
    misses a question or answers one with the wrong type (every answer would then be marked wrong): this says
    it with the grader's own check (``Grading.answer_problems``), using the questions and answer types of the
    checks folder, never the answers.  It prints (problems to stderr) and never raises, so the notebook tools run
    it like any cell.
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    problems, asked = _answer_problems(namespace)
    # A problem goes to stderr, which notebook front ends show in red (the cell is not graded: no tool counts it).
    out = sys.stderr if problems else sys.stdout
    for problem in problems:
        print(problem, file=out)
    if asked and not problems:
        print(f"{', '.join(f'{name}()' for name in asked)} can be marked: every question has an answer of the type "
              "it asks for.", file=out)
    if asked:
        print("Whether the answers are right is checked only when your notebook is graded.", file=out)


def assert_answers_can_be_marked(namespace: Mapping[str, object]) -> None:
    """An otter test case of no points for a quiz function, which hidden tests alone grade: AssertionError naming
    what keeps the answers in ``namespace`` from being marked (``check_answers``' problems), so that ``otter check``
    does not report such a question as passed when it has no public test to run."""
    problems, _ = _answer_problems(namespace)
    if problems:
        raise AssertionError("\n".join(problems))


def _answer_problems(namespace: Mapping[str, object]) -> tuple[list[str], list[str]]:
    """What keeps the quiz functions' answers from being marked, as a notebook reads it, and the quiz functions."""
    from autograder.grading.recorded import replaying
    from autograder.sandbox.kernel_box import KernelBox

    config, recorded = _checks(checks_folder())
    with KernelBox(namespace, config.limits) as box, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grading = replaying(recorded)(config, box, {}, {})
        grading.prefetch_answers()
        grading.collect_answers()
        problems = [_in_cells(f"{fn.name}() {problem}", config.files) for fn, problem in grading.answer_problems()]
        return problems, grading.quiz_functions()


def _in_cells(message: str, files: tuple[str, ...]) -> str:
    """A grader message as a notebook reads it: the code it names in FILE.py is the cell marked for that file."""
    for file in files:
        message = message.replace(f"`raise NotImplementedError` in {file} ",
                                  f"`raise NotImplementedError` in the cell marked `# file: {file}` ")
    return message


def _helpers(function: str, homework) -> tuple[str, ...]:
    """The graded functions a test of ``function`` also calls: its forward, for a backward's gradient checks."""
    gradient = homework.gradients.get(function)
    return (gradient.forward,) if gradient is not None else ()
