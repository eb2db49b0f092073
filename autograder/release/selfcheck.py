"""The student bundle's self-check: the public tests on the student's own machine, with only numpy.

    python check.py [FOLDER]               (FOLDER defaults to the folder holding check.py)
    python -m autograder [check] [FOLDER]

It is the grader's own code, copied into the bundle by ``make release``: the
same tests, comparisons, numerical gradient checks, hints and table as
``python -m autograder check``.  What differs is where the reference values come
from (a record of the reference's outputs on the public cases, ``recorded.py``)
and where student code runs (in this process, ``inprocess.py``).  The data
lives in ``public/`` beside this file: the public tests as JSON, the record and
the template fingerprints.

This module imports only the standard library at the top, so that a missing
numpy or an old Python gets a plain message instead of a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "public"
BUNDLE = Path(__file__).resolve().parents[2]  # where the templates sit beside check.py


class CheckError(Exception):
    """The checker cannot run: a bad folder, damaged data, a missing requirement."""


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckError(f"the checker's data file {path} cannot be read ({exc}); download the bundle again") from None


def load(data: Path = DATA):
    """The public config and the recorded reference values."""
    from autograder.config import CONFIG_FILE, RECORD_FILE, ConfigError, check_config_cases, from_mapping
    from autograder.grading.recorded import Recorded

    try:
        config = from_mapping(_load_json(data / CONFIG_FILE), data / CONFIG_FILE)
        check_config_cases(config)
        recorded = Recorded(_load_json(data / RECORD_FILE))
    except (ConfigError, KeyError, TypeError) as exc:
        raise CheckError(f"the checker's data in {data} is damaged ({exc}); download the bundle again") from None
    return config, recorded


def run(submission: Path, data: Path = DATA):
    """Grade a submission (folder, zip, .py or .ipynb; see ``submissions.locate``) on the public tests; return the
    grader's GradeReport."""
    from autograder.grading.grader import grade
    from autograder.grading.recorded import replaying
    from autograder.sandbox.inprocess import InProcessBox
    from autograder.submissions.locate import SubmissionProblem, locate_work, workdir_files

    config, recorded = load(data)
    try:
        located = locate_work(Path(submission), config)
    except SubmissionProblem as exc:
        raise CheckError(str(exc)) from None
    mismatched = recorded.mismatched_inputs(config.homework)
    if mismatched:
        import numpy as np

        raise CheckError(f"this numpy ({np.__version__}) draws different test inputs from the one the checker was "
                         f"made with ({recorded.numpy}), e.g. for {mismatched[0]}; install the numpy version in "
                         "requirements.txt (pip install -r requirements.txt)")
    box = InProcessBox(located.folder, workdir_files(located.folder, config.files), config.limits)
    report = grade(located.folder, config, public_only=True, box=box, grading_class=replaying(recorded))
    report.notes[:0] = running_notes(config) + located.notes
    return report


def running_notes(config) -> list[str]:
    """Warnings when this Python or numpy is not one the grader runs (results here may then differ)."""
    import numpy as np

    from autograder.environment import numpy_notes, python_notes

    return python_notes(config.environment) + numpy_notes(config.environment, np.__version__)


def _requirements() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 -- a student may run an older Python: say so plainly
        raise CheckError(f"the checker needs Python 3.10 or newer; this is Python {sys.version.split()[0]}")
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise CheckError("numpy is not installed: run `pip install -r requirements.txt`") from None


def _folder(argv: list[str]) -> str:
    """The folder to check: `check` may come first, as in the grader's `python -m autograder check FOLDER`."""
    if argv and argv[0] == "check" and not Path("check").is_dir():
        argv = argv[1:]
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        raise CheckError("usage: python check.py [FOLDER]  (FOLDER holds your .py files; default: this folder)")
    return argv[0] if argv else str(BUNDLE)


def main(argv: list[str] | None = None) -> int:
    """Print the public-test table for a folder; exit 0 when checked, 2 when the check cannot run."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1])
        return 0
    try:
        _requirements()
        report = run(Path(_folder(argv)))
    except CheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from autograder.grading.report import public_only_line, table

    print(table(report))
    if report.student_output:
        print("\nOutput printed by your code:\n" + report.student_output)
    print("\n" + public_only_line(report))
    return 0
