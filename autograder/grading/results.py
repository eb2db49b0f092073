"""Turns a grade report into Gradescope's results.json, and writes every file the grader produces.

Whatever a student's code prints or raises ends up in these files, and
platforms store them in databases that refuse some text (PostgreSQL rejects
``\\u0000`` and lone surrogates).  So every string is cleaned on its way out
(``clean_text``): control characters other than newline and tab become visible
escapes (``\\x00``), bytes that were not UTF-8 become ``\\xNN``.  Files are
always UTF-8 whatever the locale.  A results path that is not a regular file
(``/dev/null``, a FIFO, ``/dev/stdout``) is written through, never replaced.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.text import clean, clean_text, counted  # noqa: F401 -- clean re-exported for the writers' callers

if TYPE_CHECKING:  # type hints only: the writers below serve callers that never grade (grade-all's parent)
    from autograder.config import Config
    from autograder.grading.grader import GradeReport

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schema" / "gradescope_results.schema.json"

class ResultsPathError(OSError):
    """The output path is something that can be neither replaced nor written (a directory, a socket, a disk)."""


def tolerant_stdio() -> None:
    """Make printing unable to crash: characters the terminal's encoding lacks are shown as escapes.

    Under a non-UTF-8 locale (LC_ALL=C), printing a student's "größe" would raise UnicodeEncodeError
    after grading; with backslashreplace it prints ``gr\\xf6\\xdfe`` instead.
    """
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):  # replaced by something that is not a TextIOWrapper, or closed
            pass


# When a test withheld now is shown, by its Gradescope visibility (Gradescope's autograder docs: "hidden",
# "after_due_date", "after_published", "visible").
SHOWN_WHEN = {"after_due_date": "shown after the due date", "after_published": "shown when grades are published",
              "hidden": "never shown"}


def withheld_text(withheld: list[dict]) -> str:
    """"32 hidden tests (45 points) count in the total and are shown when grades are published.": a sentence per
    visibility of the withheld tests (results.json's test entries)."""
    parts = []
    for visibility, when in SHOWN_WHEN.items():
        group = [t for t in withheld if t.get("visibility") == visibility]
        if group:
            many = len(group) > 1
            parts.append(f"{counted(len(group), 'hidden test')} ({sum(t['max_score'] for t in group):g} "
                         f"points) count{'' if many else 's'} in the total and {'are' if many else 'is'} {when}.")
    return " ".join(parts)


def top_output(files_found: list[str], notes: list[str], tests: list[dict], student_output: str,
               total: float | None = None, after_score: list[str] = ()) -> str:
    """What the student sees above the tests: files graded, problems, the score, printed output.

    ``tests``: results.json's test entries (score, max_score, visibility); ``total``: the score when all are
    shown, if not their sum (a staff penalty changes it); ``after_score``: lines that explain it (the staff's
    adjustment, an extension), as the feedback puts them.  While some tests are not
    visible, only the score on the visible ones is given, with how many are withheld: a total that
    counted them would let a student read hidden results (a quiz answer changed, the total moves).
    """
    shown = [t for t in tests if t.get("visibility", "visible") == "visible"]
    withheld = [t for t in tests if t.get("visibility", "visible") != "visible"]
    got, out_of = sum(t["score"] for t in shown), sum(t["max_score"] for t in shown)
    score = (f"Score on the tests shown: {got:g} / {out_of:g}. {withheld_text(withheld)}" if withheld
             else f"Score: {got if total is None else total:g} / {out_of:g}")
    lines = [f"Graded files: {', '.join(files_found) or 'none'}", *notes, score, *after_score]
    if student_output:
        lines.append("Output printed by your code (public tests only, trimmed):\n" + student_output)
    return "\n".join(lines)


def no_tests(output: str) -> dict:
    """A results.json that scores nothing and says why in ``output`` (score 0, no test; strings cleaned)."""
    return clean({"score": 0, "output": output, "visibility": "visible", "stdout_visibility": "hidden", "tests": []})


def could_not_grade(reason: str) -> dict:
    """The results.json of a submission that cannot be graded as it is (a damaged or unsafe zip): score 0, no
    test, and the reason, which is the student's to fix (a new upload)."""
    return no_tests(f"This submission could not be graded: {reason}. Fix it and submit again.")


def to_gradescope(report: GradeReport, config: Config) -> dict:
    """The results.json document: top-level score, output and one entry per test (strings cleaned)."""
    tests = []
    for r in report.tests:
        tests.append({
            "name": r.spec.full_name,
            "score": r.score,
            "max_score": r.spec.points,
            "status": "passed" if r.passed else "failed",
            "output": r.output,
            "visibility": config.hidden_visibility if r.spec.hidden else "visible",
        })
    # No execution_time (optional in the format): student code can stretch it on hidden inputs by sleeping,
    # and Gradescope would show it to the student.  The staff's records keep the seconds (grade-all's raw/).
    return clean({
        "score": report.score,
        "output": top_output(report.files_found, report.notes, tests, report.student_output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    })


def _through_proc(path: Path) -> bool:
    """Whether ``path`` is, or is a link chain through, /proc (/dev/stdout -> /proc/self/fd/1 -> ...)."""
    p = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on nested links
        p = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
        if p.startswith("/proc/"):
            return True
        if not os.path.islink(p):
            return False
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
    return False


def output_target(path: str | Path) -> tuple[Path, bool]:
    """Where to write ``path``, and whether to replace it atomically (True) or write through it (False).

    A regular file, or a path that does not exist yet, is replaced atomically; through a symlink, the
    file it points to is (the link stays).  Anything else is written through, never replaced: a
    character device (/dev/null, a terminal), a FIFO, and whatever /dev/stdout or /proc/self/fd/N
    stand for (a terminal, a pipe, or the file the shell opened).  Raises ResultsPathError for a
    directory, a socket or a block device.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path, True  # a new file (a dangling link is replaced by the file)
    if stat.S_ISREG(st.st_mode):
        if _through_proc(path):
            return path, False  # e.g. /dev/stdout redirected to a file: write where the shell opened it
        return Path(os.path.realpath(path)), True
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return path, False
    kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a block device" if stat.S_ISBLK(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
    raise ResultsPathError(f"{path} is {kind}: give the name of a file to write")


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc/self/status, 4.7+)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # elsewhere: set and restore (not thread-safe; the writers are single-threaded)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` (cleaned, UTF-8) to ``path``: atomically when it is a regular file, else through it.

    Atomically: a temporary file beside the target renamed into place, so a crash leaves the old file
    or the new one.  The file gets ``mode`` if given, else what a plain ``open(path, "w")`` would give
    (0666 less the umask): mkstemp's own 0600 would make grades.csv or summary.md unreadable to the
    course staff's group for no reason.  Callers writing something private pass ``mode=0o600``.
    Special files (see output_target) are opened and written, so ``/dev/null`` stays a device and a
    FIFO's reader gets the text; ``mode`` is ignored.
    """
    data = clean_text(text).encode("utf-8")
    target, atomic = output_target(path)
    if not atomic:
        # Appended, never truncated: a file behind /dev/stdout was opened by the shell, maybe with >>.
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


# What ASCII JSON shows of a string clean_text would change: a control character other than newline and tab
# (\b, \f, \r or \u00XX) or a surrogate.  An escaped backslash before such letters matches too: that
# only costs a cleaning that changes nothing.
_UNCLEAN = re.compile(r"\\(?:[bfr]|u00[01][0-9a-fA-F]|u007[fF]|u00[89][0-9a-fA-F]|u[dD][89a-fA-F])")


def write_json_atomic(path: str | Path, document: dict, mode: int | None = None, indent: int | None = 2) -> None:
    """Write JSON with every string cleaned (see clean_text), as write_text_atomic does.

    ASCII-only JSON (non-ASCII as ``\\uXXXX`` escapes of valid characters), hence UTF-8 for any reader.
    ``indent=None``: one line, written by json's C implementation (several times faster), for files no one reads.
    Raises ValueError on NaN or infinity: a score must be a number.
    """
    compact = json.dumps(document, allow_nan=False)  # json's C implementation: its escapes show what needs cleaning
    if _UNCLEAN.search(compact):
        document, compact = clean(document), None
    text = compact if indent is None and compact is not None else json.dumps(document, indent=indent,
                                                                               allow_nan=False)
    write_text_atomic(path, text + "\n", mode)
