"""A graded class on disk: the grader's records, manual overrides, results.json and grades.csv.

``raw/<student>.json`` is what the grader said (never edited by hand);
``overrides.yaml`` holds the course staff's score changes.  Everything else
(``results/``, ``feedback/``, ``grades.csv``, ``summary.md``) is derived from
those two, so an override survives any regrade and a regrade never loses one.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import fcntl
import io
import json
import math
import os
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from autograder.config import Config
from autograder.grading.results import top_output, write_text_atomic
from autograder.submissions.layouts import LATE_NOTE
from autograder.text import shorten, spreadsheet_safe

OVERRIDES = "overrides.yaml"
OVERRIDE_FIELDS = ("score", "reason", "when", "grader_score")  # grader_score: the grader's score it replaced
PENALTY = "penalty"  # a student's total adjustment in overrides.yaml (test names always hold a colon)
PENALTY_FIELDS = ("points", "percent", "reason", "when")
EXTENSION = "extension"  # a student's deadline extension: {reason: "3 days, approved by prof", when}
EXTENSION_FIELDS = ("reason", "when")
GRADES = "grades.csv"
LOCK = ".lock"  # OUTDIR's writer lock; never deleted (a new file would be a second, unrelated lock)
EXIT_BUSY = 75  # sysexits' EX_TEMPFAIL: another command holds OUTDIR and --no-wait was given
OVERRIDES_HEADER = ("# Manual score changes, applied over the grader's results (raw/) in results/, feedback/ and\n"
                    "# grades.csv.  Written by `python -m autograder override OUTDIR --student ID --test NAME "
                    "--score X --reason ...`.\n")


class GradebookError(Exception):
    """A bad request on a graded class (unknown student or test, score out of range), or a bad overrides.yaml."""


class OutdirBusy(GradebookError):
    """Another command is writing OUTDIR and the caller chose not to wait."""


PENDING_NOTE = ("not final: the course staff's grading run was interrupted before this submission was graded "
                "again; this is the result of an earlier run")  # results.json's extra_data.pending
PENDING_LINE = PENDING_NOTE[:1].upper() + PENDING_NOTE[1:] + "."  # first in what the student reads
# How to grade the students an interrupted run left pending, whichever command it was (grade-all, grade-all
# --regrade, regrade): grade-all without --regrade grades them, and only them among those already graded.
RESUME = "run grade-all on the class folder again, without --regrade: it grades the pending students"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def likely_students(given: str, names: dict[str, str]) -> list[str]:
    """The ids ``given`` most likely means (``names``: id -> display name): the students whose name it is (any
    letter case or accents, its words in any order, or run together as Canvas's "lastfirst": "Alice Smith" is
    ``smithalice``; hyphens and apostrophes count for nothing there), else those whose name holds all its words
    (a first name alone), else the closest ids (difflib)."""
    import difflib

    whole, part = [], []
    words = _plain_words(given)
    orders = _joined_orders(words)
    for student, name in names.items():
        name_words = _plain_words(name or "")[:4]
        if not name_words:
            continue
        if orders & _joined_orders(name_words):
            whole.append(student)
        elif words and set(words) <= set(name_words):
            part.append(student)
    return whole or part or difflib.get_close_matches(given, list(names), n=3, cutoff=0.6)


def _plain_words(text: str) -> list[str]:
    """A name's words in lower case without accents (a comma separates words too: "Smith, Alice")."""
    import unicodedata

    text = unicodedata.normalize("NFKD", text.lower().replace(",", " "))
    return "".join(c for c in text if not unicodedata.combining(c)).split()


def _joined_orders(words: list[str]) -> set[str]:
    """The words run together in every order, letters and digits only (Canvas drops spaces and hyphens from
    "Smith-Jones, Mary" alike); none for more than four words (a sentence, not a name)."""
    import itertools

    if not words or len(words) > 4:
        return set()
    return {"".join(c for c in "".join(order) if c.isalnum()) for order in itertools.permutations(words)} - {""}


def no_such_student(student: str, records: dict[str, dict], out: Path) -> str:
    """The message for a student id OUTDIR does not hold, naming the likely ones (``likely_students``)."""
    return unknown_students([student], {s: str(r.get("name") or "") for s, r in records.items()}, out)


SHOWN_IDS = 5  # ids listed in a message about an unknown student


def unknown_students(given: list[str], names: dict[str, str], out: Path) -> str:
    """One line for ids OUTDIR does not hold (``names``: id -> display name of those it does): the likely ones
    for each (``likely_students``), and for those with none a few of OUTDIR's ids and where to find them all."""
    def who(student: str) -> str:
        return f"{student} ({names[student]})" if names.get(student) else student

    close = {s: likely_students(s, names) for s in given}
    hints = [f"did you mean {', '.join(map(who, close[s]))}?" if len(given) == 1 else
             f"for {s!r}, did you mean {', '.join(map(who, close[s]))}?" for s in given if close[s]]
    lost = [s for s in given if not close[s]]
    message = f"no graded student {', '.join(map(repr, given))} in {out}"
    if hints:
        message += "; " + "; ".join(hints)
    if not lost:
        return message + " Students are named by id, grades.csv's first column"
    nothing = f"no id or name like {'it' if len(given) == 1 else ', '.join(map(repr, lost))}"
    ids = sorted(names)
    if not ids:
        return f"{message} ({nothing}); it holds no graded student yet"
    listed = ", ".join(map(who, ids[:SHOWN_IDS])) + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS
                                                    else "")
    return (f"{message} ({nothing}); it holds {len(ids)} student{'s' if len(ids) != 1 else ''}: {listed} "
            "(grades.csv's first column lists every id)")


def read_json(path: Path) -> dict | None:
    """A JSON file, or None when it is missing or unreadable (e.g. cut by a crash before this version)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_records(out: Path) -> dict[str, dict]:
    """The grader's record of every student in OUTDIR, by student id."""
    records = {}
    for path in sorted((out / "raw").glob("*.json")):
        record = read_json(path)
        if isinstance(record, dict) and "student" in record:
            records[record["student"]] = record
    return records


# -- one writer at a time -----------------------------------------------------------
def _holder(fd: int) -> str:
    """Who holds (or last held) the lock, from the lock file's text; "" when it is empty."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "null")
        return (f"pid {info['pid']} on {info['host']} ({info['command']}, started {info['started']})"
                if isinstance(info, dict) else "")
    except (OSError, ValueError, KeyError):
        return "another command"


@contextlib.contextmanager
def outdir_lock(out: Path, command: str, wait: bool = True,
                say: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> Iterator[None]:
    """Hold OUTDIR's writer lock (``OUTDIR/.lock``) for the duration: one command writes OUTDIR at a time.

    ``fcntl.flock`` on the lock file: the kernel releases it when the holder exits, however it ends, so
    a killed command never leaves a lock to remove by hand.  The file names the holder (pid, host,
    command, start time) for the others' messages.  A second command waits, saying whom it waits for,
    or with ``wait=False`` raises OutdirBusy.  The lock file is emptied on release: finding it full means
    the last holder died (said as a note; the next command goes on, as after any interruption).
    OUTDIR must exist.  Not for network file systems whose flock is not shared between hosts.
    """
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd) or "another command"
            if not wait:
                raise OutdirBusy(f"{out} is in use by {holder}; run again when it has finished "
                                 "(or without --no-wait, to wait for it)") from None
            say(f"waiting: {out} is in use by {holder}; this command starts when that one ends (Ctrl-C to stop)")
            fcntl.flock(fd, fcntl.LOCK_EX)
        previous = _holder(fd)
        if previous:
            say(f"note: the last command on {out}, {previous}, ended without finishing; what it wrote is kept")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "started": now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


# -- overrides -------------------------------------------------------------------
def _yaml():
    """ruamel's round-trip YAML: keeps the comments people write, and refuses duplicate keys."""
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.allow_duplicate_keys = False
    rt.width = 4096  # a long reason stays on one line
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _plain(value: object) -> object:
    """ruamel's round-trip objects (CommentedMap, ScalarFloat, ScalarBoolean...) as plain Python data."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or type(value).__name__ == "ScalarBoolean":
        return bool(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    return value


def load_edited_document(path: Path):
    """A YAML file people edit by hand, as ruamel's round-trip document (None when absent or empty).

    GradebookError naming the file, the line and the reason when it does not parse, is not UTF-8, or
    repeats a key (two ``dave:`` blocks, one test twice: a plain YAML loader keeps only the last).
    """
    if not path.exists():
        return None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml().load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = str(exc.problem or exc).splitlines()[0]
        if "duplicate key" in problem:
            problem += (" (each student, and each test of a student, may appear only once: merge the two entries; "
                        "the earlier one is at line " + str(exc.context_mark.line + 1 if exc.context_mark else "?")
                        + ")")
        raise GradebookError(f"{path}:{line.strip()}: {problem}") from None
    except (YAMLError, ValueError) as exc:  # ValueError: UnicodeDecodeError and ruamel's own
        raise GradebookError(f"{path} is not valid YAML: {exc}") from None


def read_edited_mapping(path: Path, expected: str) -> dict:
    """A YAML file people edit by hand, as a plain mapping ({} when absent); GradebookError naming the file
    (and the line, see load_edited_document) otherwise."""
    data = _plain(load_edited_document(path)) or {}
    if not isinstance(data, dict):
        raise GradebookError(f"{path}: expected {expected}, found a {type(data).__name__}")
    return data


def save_edited(path: Path, header: str, update: Callable[[dict], None]) -> None:
    """Apply ``update`` to the round-trip document of ``path`` and write it back, keeping people's comments.

    ``update`` gets the top-level mapping (a ruamel CommentedMap) and changes it in place; entries it
    leaves empty are dropped.  A file that does not exist yet starts with ``header``.
    """
    from ruamel.yaml.comments import CommentedMap

    doc = load_edited_document(path)
    fresh = not isinstance(doc, dict)
    if fresh:
        doc = CommentedMap()
    update(doc)
    for key in [k for k, v in doc.items() if not v]:
        del doc[key]
    buf = io.StringIO()
    if doc:
        _yaml().dump(doc, buf)
    text = buf.getvalue()
    if fresh or not text.lstrip().startswith("#"):
        text = header + text if not text.startswith(header) else text
    write_text_atomic(path, text)


def load_overrides(out: Path, records: dict[str, dict] | None = None) -> dict[str, dict[str, dict]]:
    """overrides.yaml as student -> test name -> {score, reason, when, grader_score}, checked as ``override`` checks.

    A student may also hold one ``penalty`` entry: {points: P} or {percent: Q}, with a reason (see
    ``adjust``).  The file is edited by hand too, so every entry is validated: a mapping of mappings
    (no key twice), only the fields ``override`` writes, a score that is a finite number (not a bool,
    not .nan or .inf) and not negative, a reason that is not empty.  With ``records`` (the graded
    students, see load_records) also: the student is one of them; when graded, the test is one of
    theirs and the score at most its max_score; when not graded (an error row), the entry must have been
    recorded against a graded result (it holds ``grader_score``, as ``override`` writes), else it is
    refused with the message ``override`` gives.  Raises GradebookError naming the file, the entry and
    the reason; nothing is written by a caller before this passes.
    """
    path = out / OVERRIDES
    data = read_edited_mapping(path, "student -> test name -> {score, reason}")
    overrides: dict[str, dict[str, dict]] = {}
    for student, tests in data.items():
        student = str(student)  # an unquoted numeric id reads as a number
        if not isinstance(tests, dict):
            raise GradebookError(f"{path}: {student}: expected test name -> {{score, reason}}, found "
                                 f"{tests!r}")
        for test, change in tests.items():
            if str(test) == PENALTY:
                _check_penalty(path, student, change, records)
            elif str(test) == EXTENSION:
                _check_extension(path, student, change, records)
            else:
                _check_override(path, student, str(test), change, records)
        overrides[student] = {str(k): v for k, v in tests.items()}
    return overrides


def _check_fields(where: str, change: dict, allowed: tuple[str, ...]) -> None:
    unknown = [str(k) for k in change if k not in allowed]
    if unknown:
        raise GradebookError(f"{where}: unknown field{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; "
                             f"an entry may hold only {', '.join(allowed)}" +
                             (" (a late penalty is a student's `penalty: {points: -N, reason: ...}` entry, an "
                              "extension their `extension: {reason: ...}` entry)"
                              if any(k in ("extension", "late", "penalty") for k in unknown) else ""))


def _check_reason(where: str, change: dict) -> None:
    reason = change.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise GradebookError(f"{where}: give a reason (a text that is not empty): the student sees it with the "
                             f"new score; found {reason!r}")


def error_row_message(record: dict) -> str:
    """What ``override`` (and a hand edit of overrides.yaml) says about a student who could not be graded."""
    return (f"{record['student']} could not be graded ({record.get('reason', '')}); regrade it before "
            "changing a score")


def _check_override(path: Path, student: str, test: str, change: object, records: dict[str, dict] | None) -> None:
    """One entry of overrides.yaml, as the override command would accept it; GradebookError otherwise."""
    where = f"{path}: {student} / {test}"
    if not isinstance(change, dict):
        raise GradebookError(f"{where}: expected {{score: X, reason: TEXT}}, found {change!r}")
    _check_fields(where, change, OVERRIDE_FIELDS)
    for key in ("score", "grader_score"):
        score = change.get(key, 0)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise GradebookError(f"{where}: the {key.replace('_', ' ')} must be a number, found {score!r}")
        if not math.isfinite(score) or score < 0:
            raise GradebookError(f"{where}: the {key.replace('_', ' ')} must be a finite number of at least 0, "
                                 f"found {score!r}")
    if "score" not in change:
        raise GradebookError(f"{where}: no score (expected {{score: X, reason: TEXT}})")
    score = change["score"]
    _check_reason(where, change)
    if not isinstance(change.get("when", ""), str):
        raise GradebookError(f"{where}: when must be a text, found {change.get('when')!r}")
    if records is None:
        return
    record = records.get(student)
    if record is None:
        raise GradebookError(f"{where}: no graded student {student!r} in {path.parent}")
    if record.get("status") != "graded" or not record.get("results"):
        if "grader_score" not in change:  # never checked against a graded result: a hand edit on an error row
            raise GradebookError(f"{where}: {error_row_message(record)}")
        return  # recorded while graded; the submission broke since: the override waits for a regrade
    tests = {t["name"]: t for t in record["results"]["tests"]}
    if test not in tests:
        raise GradebookError(f"{where}: {student} has no test named {test!r} (after a config change that renamed "
                             f"it, move or remove this entry); tests are named like {next(iter(tests), '')!r}")
    if score > tests[test]["max_score"]:
        raise GradebookError(f"{where}: score {score:g} is outside 0..{tests[test]['max_score']:g}")


def _check_penalty(path: Path, student: str, change: object, records: dict[str, dict] | None) -> None:
    """A student's ``penalty`` entry: exactly one of points (any finite number: negative takes points off)
    or percent (-100..100, of the student's score), and a reason."""
    where = f"{path}: {student} / {PENALTY}"
    if not isinstance(change, dict):
        raise GradebookError(f"{where}: expected {{points: -N, reason: TEXT}} or {{percent: -Q, reason: TEXT}}, "
                             f"found {change!r}")
    _check_fields(where, change, PENALTY_FIELDS)
    given = [k for k in ("points", "percent") if k in change]
    if len(given) != 1:
        raise GradebookError(f"{where}: give exactly one of points or percent, found {given or 'neither'}")
    value = change[given[0]]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GradebookError(f"{where}: {given[0]} must be a finite number, found {value!r}")
    if given[0] == "percent" and not -100 <= value <= 100:
        raise GradebookError(f"{where}: percent {value:g} is outside -100..100")
    _check_reason(where, change)
    # An error row may hold one: it applies once the student is graded (a late zip that would not open).
    if records is not None and student not in records:
        raise GradebookError(f"{where}: no graded student {student!r} in {path.parent}")


def _check_extension(path: Path, student: str, change: object, records: dict[str, dict] | None) -> None:
    """A student's ``extension`` entry: {reason: TEXT (what was granted, by whom), when}; any student of OUTDIR."""
    where = f"{path}: {student} / {EXTENSION}"
    if not isinstance(change, dict):
        raise GradebookError(f"{where}: expected {{reason: TEXT}} (e.g. reason: 3 days, approved by prof), found "
                             f"{change!r}")
    _check_fields(where, change, EXTENSION_FIELDS)
    _check_reason(where, change)
    if not isinstance(change.get("when", ""), str):
        raise GradebookError(f"{where}: when must be a text, found {change.get('when')!r}")
    if records is not None and student not in records:
        raise GradebookError(f"{where}: no graded student {student!r} in {path.parent}")


def set_extension(out: Path, records: dict[str, dict], student: str, text: str | None) -> None:
    """Record (text None: remove) a student's extension; it changes no score (see shown_notes)."""
    entry = None
    if text is not None:
        entry = {"reason": text.strip(), "when": now()}
        _check_extension(out / OVERRIDES, student, entry, records)
    elif EXTENSION not in load_overrides(out, records).get(student, {}):
        raise GradebookError(f"{student} has no extension to remove")

    _save_student_entry(out, student, EXTENSION, entry)


def shown_notes(notes: list[str], extension: dict | None) -> list[str]:
    """A record's notes as shown, with an LMS late flag answered by the student's extension, if any."""
    if not extension:
        return list(notes)
    return [f"{n}, but within the extension granted by the course staff ({extension.get('reason', '')}): not late"
            if n == LATE_NOTE else n for n in notes]


def signed(number: float) -> str:
    """A penalty's or bonus's number with its sign ("-15", "+15"); "0" for none."""
    return f"{number:+g}" if number else "0"


def set_text(penalty: dict) -> str:
    """A ``penalty`` entry of overrides.yaml as set, always signed: "-15 points", "+15 points", "-10%"."""
    if "percent" in penalty:
        return f"{signed(float(penalty['percent']))}%"
    return f"{signed(float(penalty['points']))} points"


def describe_penalty(penalty: dict) -> str:
    """A penalty or bonus as set and as applied: "-15 points", "-15 points (applied: 0, the score cannot go below
    0)", "+15 points (applied: +5, capped at the maximum 100)", "-10% of 40 (-4 points)", "-15 points (applies
    once graded)" (extra_data.penalty)."""
    text = penalty["set"]
    if penalty.get("pending"):
        return f"{text} (applies once graded)"
    if text.endswith("%"):
        text += f" of {penalty['before']:g} ({penalty['intended']:+g} points)"
    if limit := _limit(penalty):
        text += f" (applied: {signed(penalty['points'])}, {limit})"
    return text


def _limit(penalty: dict) -> str:
    """Why a penalty or bonus applied less than it would ("capped at the maximum 100", "the score cannot go below
    0"); "" when it applied whole."""
    if math.isclose(penalty["points"], penalty["intended"], abs_tol=1e-9):
        return ""
    return f"capped at the maximum {penalty['max']:g}" if capped(penalty) else "the score cannot go below 0"


def labelled(penalty: dict) -> str:
    """A penalty or bonus named by its kind, then described: "bonus +15 points (applied: 0, capped at ...)"."""
    return f"{adjustment_kind(penalty)} {describe_penalty(penalty)}"


def applied_text(penalty: dict) -> str:
    """What a penalty or bonus (``extra_data.penalty``) changed, first: "-4 points (-10% of 40)", "0 points
    (+15 set, capped at the maximum 100)", "applies once graded"."""
    if penalty.get("pending"):
        return "applies once graded"
    why = [f"{penalty['set']} of {penalty['before']:g}"] if penalty["set"].endswith("%") else []
    if limit := _limit(penalty):
        why.append(f"{penalty['intended']:+g} set, {limit}")
    return f"{signed(penalty['points'])} points" + (f" ({'; '.join(why)})" if why else "")


def capped(penalty: dict | None) -> bool:
    """Whether a bonus (``extra_data.penalty``) was cut to keep the total at the maximum score."""
    return bool(penalty) and not penalty.get("pending") and penalty["intended"] > penalty["points"] + 1e-9


def adjustment_line(penalty: dict, total_withheld: bool) -> str:
    """What a student reads of their staff adjustment (``extra_data.penalty``).  While some tests are withheld
    (``total_withheld``), only what was set: how much of it applies (capped, floored, a percentage's points)
    would tell the hidden tests' score before grades are published."""
    if total_withheld and not penalty.get("pending"):
        # True whatever the hidden tests gave (a bonus on full marks adds nothing, and saying so would tell).
        how = ("added to the total; a total never goes above the maximum score" if adjustment_kind(penalty) == "bonus"
               else "taken from the total; a total never goes below 0")
        return f"Adjusted by the course staff: {penalty['set']}: {penalty['reason']} ({how})"
    return f"Adjusted by the course staff: {describe_penalty(penalty)}: {penalty['reason']}"


def adjustment_kind(penalty: dict) -> str:
    """"bonus" for a staff adjustment (``extra_data.penalty``) that adds points, else "penalty"."""
    return "bonus" if penalty["set"].startswith("+") else "penalty"


def _save_overrides(out: Path, update: Callable[[dict], None]) -> None:
    save_edited(out / OVERRIDES, OVERRIDES_HEADER, update)


def _save_student_entry(out: Path, student: str, key: str, entry: dict | None) -> None:
    """Set (entry None: delete) one student-level entry of overrides.yaml (a penalty, an extension), the
    rest of the file and its comments untouched."""
    def update(doc: dict) -> None:
        from ruamel.yaml.comments import CommentedMap

        name = next((k for k in doc if str(k) == student), student)
        entries = doc.setdefault(name, CommentedMap())
        if entry is None:
            del entries[key]
        else:
            entries[key] = CommentedMap(entry)

    _save_overrides(out, update)


def _grader_scores(record: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in (record.get("results") or {}).get("tests", [])}


def set_override(out: Path, records: dict[str, dict], student: str, test: str, score: float | None,
                 reason: str) -> tuple[str, float]:
    """Record (or, with score None, remove) an override; return the test's full name and its max score.

    ``records`` are all graded students (load_records): the rest of overrides.yaml is checked against them.
    The entry keeps the grader's score it replaces (``grader_score``): a later grade that changes that
    score makes the override stale (``stale_overrides``).  The rest of the file, the TA's comments
    included, is left as it is.
    """
    record = records[student]
    if record.get("status") != "graded" or not record.get("results"):
        raise GradebookError(error_row_message(record))
    tests = {t["name"]: t for t in record["results"]["tests"]}
    name = _match_test(test, list(tests))
    max_score = tests[name]["max_score"]
    overrides = load_overrides(out, records)
    mine = overrides.get(record["student"], {})
    if score is None:
        if name not in mine:
            raise GradebookError(f"{record['student']} has no override on {name!r}")
    else:
        if not math.isfinite(score) or not 0 <= score <= max_score:
            raise GradebookError(f"score {score:g} is outside 0..{max_score:g} for {name!r}")
        if not reason.strip():
            raise GradebookError("give a --reason: the student sees it with the new score")

    def update(doc: dict) -> None:
        from ruamel.yaml.comments import CommentedMap

        key = next((k for k in doc if str(k) == record["student"]), record["student"])
        entries = doc.setdefault(key, CommentedMap())
        if score is None:
            del entries[next(k for k in entries if str(k) == name)]
        else:
            entries[name] = CommentedMap(score=score, reason=reason.strip(), when=now(),
                                         grader_score=tests[name]["score"])

    _save_overrides(out, update)
    return name, max_score


def set_penalty(out: Path, records: dict[str, dict], student: str, value: str | None, reason: str) -> dict | None:
    """Record (value None: remove) a student's penalty: "-15" (points) or "-10%" (percent of their score).

    Returns the entry written (None when removed).  GradebookError on a bad value, a missing reason, or
    removing a penalty that is not there.  A student who could not be graded may get one: it applies
    once they are graded.
    """
    entry = None
    if value is not None:
        text = value.strip()
        try:
            number = float(text.rstrip("%"))
        except ValueError:
            raise GradebookError(f"--penalty takes points (-15) or a percentage (-10%), found {value!r}") from None
        if number and not text.startswith(("-", "+")):
            # "15" for "-15" would add the points it means to take: the sign is never guessed.
            raise GradebookError(f"--penalty {text}: write its sign: -{text} takes points off, +{text} adds them")
        entry = {"percent" if text.endswith("%") else "points": number, "reason": reason.strip(), "when": now()}
        _check_penalty(out / OVERRIDES, student, entry, records)
    if PENALTY not in load_overrides(out, records).get(student, {}) and entry is None:
        raise GradebookError(f"{student} has no penalty to remove")

    _save_student_entry(out, student, PENALTY, entry)
    return entry


def _match_test(query: str, names: list[str]) -> str:
    """The test named by its full name (in any case), or by a text that matches exactly one name."""
    if query in names:
        return query
    exact = [n for n in names if n.casefold() == query.strip().casefold()]
    if len(exact) == 1:
        return exact[0]
    hits = [n for n in names if query.strip().casefold() in n.casefold()]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise GradebookError(f"no test matches {query!r}; tests are named like {names[0]!r}")
    shown = 5
    raise GradebookError(f"{query!r} matches {len(hits)} tests: " + "; ".join(hits[:shown])
                         + (f"; and {len(hits) - shown} more" if len(hits) > shown else "")
                         + ": give the full name (any case) or a part only one test has")


def _stale(change: dict, now: float) -> bool:
    """Whether an override (with ``grader_score``) is to be reviewed against the grader's score ``now``: that
    score changed since it was set, to another than the override's own (the grader now agrees with it: moot)."""
    return float(change["grader_score"]) != now and float(change["score"]) != now


def stale_overrides(records: dict[str, dict], overrides: dict[str, dict[str, dict]]) -> list[dict]:
    """Overrides whose grader score changed since they were set: {student, test, score, reason, then, now}.

    ``then`` is the grader's score the override replaced (``grader_score``), ``now`` the grader's score
    in the current record, unless it is the override's own score (nothing to review).  A stale override is not
    applied (results_document) until the TA sets it again
    or removes it.  Entries written before ``grader_score`` was kept, and error rows, are not judged.
    """
    found = []
    for student in sorted(overrides):
        record = records.get(student)
        if not record or record.get("status") != "graded":
            continue
        scores = _grader_scores(record)
        for test, change in overrides[student].items():
            if test in (PENALTY, EXTENSION) or "grader_score" not in change or test not in scores:
                continue
            if _stale(change, scores[test]):
                found.append({"student": student, "test": test, "score": float(change["score"]),
                              "reason": change.get("reason", ""), "then": float(change["grader_score"]),
                              "now": scores[test]})
    return found


def describe_stale(stale: list[dict], out: Path | str = "OUTDIR") -> list[str]:
    """Lines for a command's output: each stale override, and what the TA can do about it."""
    if not stale:
        return []
    lines = [f"overrides to review: {len(stale)} override{'s' * (len(stale) != 1)} set against a grader score that "
             "has changed since; not applied (the grader's score counts) until you set or remove them:"]
    lines += [f"  {s['student']} | {s['test']} | grader {s['then']:g} -> {s['now']:g} | override {s['score']:g} "
              f"({s['reason']})" for s in stale]
    import shlex

    for s in stale:
        base = f"python -m autograder override {shlex.quote(str(out))} --student {shlex.quote(s['student'])} " \
               f"--test {shlex.quote(s['test'])}"
        lines.append(f"  {s['student']}: keep it: {base} --score {s['score']:g} --reason {shlex.quote(s['reason'])}")
        lines.append(f"  {s['student']}: drop it: {base} --remove")
    return lines


def adjust(total: float, penalty: dict) -> float:
    """The points a student's ``penalty`` entry adds to their score ``total`` (negative: taken off)."""
    if "percent" in penalty:
        return round(total * float(penalty["percent"]) / 100, 4)
    return float(penalty["points"])


# -- results.json ----------------------------------------------------------------------
def results_document(record: dict, overrides: dict[str, dict], config: Config,
                     comments: list[dict] | tuple = (), pending: bool = False) -> dict:
    """The student's results.json: the grader's, with the staff's overrides, penalty and comments applied.

    ``overrides`` are the student's entries of overrides.yaml: a stale one (the grader's score is no
    longer the one it replaced) is not applied and is listed in ``extra_data.stale_overrides``; a
    ``penalty`` changes the total (never below 0) and is kept in ``extra_data.penalty``.  ``comments``
    are the student's entries of comments.yaml (clusters.load_comments): shown above the grader's output
    and kept in ``extra_data.comments``.  ``pending``: an interrupted run was to grade the student again and did
    not: ``extra_data.pending`` says this earlier result is not final (grades.csv's row has no scores).
    """
    extra = {"student": record["student"], "status": record["status"], "graded_at": record.get("graded_at", "")}
    if pending:
        extra["pending"] = PENDING_NOTE
    head = f"{PENDING_LINE}\n\n" if pending else ""
    if comments:
        extra["comments"] = [{"text": c["text"], "cluster": c.get("cluster", ""), "when": c.get("when", "")}
                             for c in comments]
    staff = "".join(f"Comment from the course staff: {c['text']}\n\n" for c in comments)
    penalty, extension = overrides.get(PENALTY), overrides.get(EXTENSION)
    notes = shown_notes(record.get("notes", []), extension)
    if extension:
        extra["extension"] = {"reason": extension.get("reason", ""), "when": extension.get("when", ""),
                              "late_flag_answered": LATE_NOTE in record.get("notes", [])}
    if notes != record.get("notes", []):
        extra["notes"] = notes
    after_score: list[str] = []  # results.json's output explains the total below it, as the feedback does
    if penalty:
        extra["penalty"] = {"set": set_text(penalty), "reason": penalty.get("reason", ""),
                            "when": penalty.get("when", "")}
    if record["status"] != "graded" or not record.get("results"):
        extra["reason"] = record.get("reason", "")
        if penalty:
            extra["penalty"].update(points=0.0, intended=0.0, pending=True, given="applies once graded")
        # A grader failure's text is for the staff (extra_data.reason): it may quote what the student's code sent.
        why = ("This submission could not be graded automatically: " + (
            record.get("reason", "") if record.get("error_kind") == "submission" else
            "the grader itself failed on it (not something in your code); the course staff have been told"))
        return {"score": 0, "output": head + staff + why,
                "visibility": "visible", "stdout_visibility": "hidden", "tests": [], "extra_data": extra}
    doc = copy.deepcopy(record["results"])
    applied, unmatched, stale, moot = [], [], [], []
    by_name = {t["name"]: t for t in doc["tests"]}
    for name, change in overrides.items():
        if name in (PENALTY, EXTENSION):
            continue
        test = by_name.get(name)
        if test is None:
            unmatched.append(name)
            continue
        old, new = test["score"], float(change["score"])
        if "grader_score" in change and float(change["grader_score"]) != old:  # not applied: the grader's counts
            entry = {"test": name, "score": new, "reason": change.get("reason", ""),
                     "then": float(change["grader_score"]), "now": old}
            # The grader's score changed: to the override's own (moot, said so that it is not forgotten) or not.
            (stale if _stale(change, old) else moot).append(entry)
            continue
        test["score"] = new
        test["status"] = "passed" if new >= test["max_score"] else "failed"
        test["output"] = (f"Score changed by the course staff from {old:g} to {new:g}: {change.get('reason', '')}"
                          f"\n\n{test['output']}")
        applied.append({"test": name, "from": old, "to": new, "reason": change.get("reason", ""),
                        "when": change.get("when", "")})
    doc["score"] = sum(t["score"] for t in doc["tests"])
    if penalty:
        points = adjust(doc["score"], penalty)
        before = doc["score"]
        # A bonus never lifts the total above the maximum score, a penalty never takes it below 0.
        doc["score"] = min(config.max_score, max(0.0, before + points))
        kind = f"{set_text(penalty)} of {before:g}" if "percent" in penalty else "points"
        # points: what it changed; intended: what it would have changed without the limits 0 and max.
        extra["penalty"].update(points=round(doc["score"] - before, 4), intended=points, before=before, given=kind,
                                max=config.max_score)
        # Gradescope shows this output at once, the total only once no test is withheld.
        after_score.append(adjustment_line(extra["penalty"], any(t.get("visibility", "visible") != "visible"
                                                                 for t in doc["tests"])))
    if extension:
        after_score.append(f"Extension granted by the course staff: {extension.get('reason', '')}")
    if applied or penalty or extension:
        doc["output"] = top_output(record.get("files_found", []), notes, doc["tests"],
                                   record.get("student_output", ""), total=doc["score"], after_score=after_score)
    if applied:
        extra["overrides"] = applied
    if stale:
        extra["stale_overrides"] = stale
    if moot:
        extra["moot_overrides"] = moot
    if unmatched:
        extra["unmatched_overrides"] = unmatched
    if head or staff:
        doc["output"] = head + staff + doc.get("output", "")
    doc["extra_data"] = extra
    return doc


def function_scores(doc: dict, functions: tuple[str, ...]) -> dict[str, float]:
    """Points per graded function (a test's name starts with its function and a colon)."""
    scores = dict.fromkeys(functions, 0.0)
    for t in doc.get("tests", []):
        function = t["name"].split(":", 1)[0]
        if function in scores:
            scores[function] += t["score"]
    return scores


def row_note(record: dict, doc: dict | None = None) -> str:
    """One line for grades.csv: why a row has no grade, or what was wrong with the files (with ``doc``, the
    student's results document: the notes as shown, a late flag answered by an extension)."""
    if record["status"] != "graded":
        return record.get("reason", "")
    notes = ((doc or {}).get("extra_data") or {}).get("notes", record.get("notes", []))
    # Notes are sentences; joined into one cell they are clauses ("a; b", never "a.; b").
    firsts = [n.splitlines()[0].rstrip() for n in notes if n.strip()]
    return shorten("; ".join(f.removesuffix(".") if not f.endswith("..") else f for f in firsts), 300)


def grades_csv(records: dict[str, dict], docs: dict[str, dict], config: Config,
               current: set[str] | None = None, pending: dict[str, str] | None = None) -> str:
    """One row per student: id, points per function, total, max, status, note, display name (from the LMS).

    Error rows leave scores empty.  The id is the LMS's (stable across downloads); the name may be empty.
    ``current``: the students of the class folder as last read (None: all); a row of any other student
    is kept from an earlier run and says so in its note.  The total includes a staff penalty; the
    function columns do not.  ``pending``: student -> name of those an interrupted run was to grade (or
    grade again) and did not: a row with status ``pending`` and empty scores, so that nobody uploads a
    score that may be about to change; a student graded before keeps the earlier total and status in the
    note only ("not regraded yet ... earlier run: 40 / 60 (graded), 2024-...").
    """
    buf = io.StringIO()
    writer = _SpreadsheetSafe(csv.writer(buf, lineterminator="\n"))
    writer.writerow(["student_id", *config.functions, "total", "max", "status", "note", "name"])
    pending = pending or {}
    for student in sorted(records):
        record, doc = records[student], docs[student]
        extra = doc.get("extra_data", {})
        if student in pending:
            before = (f"{doc['score']:g} / {config.max_score:g} (graded)" if record["status"] == "graded"
                      else f"could not be graded ({shorten(record.get('reason', ''), 120)})")
            writer.writerow([student, *[""] * (len(config.functions) + 1), f"{config.max_score:g}", "pending",
                             f"not regraded yet: the run was interrupted; {RESUME} (the earlier run's result, not "
                             f"final: {before}, {record.get('graded_at', '')})",
                             record.get("name", "") or pending[student]])
            continue
        if record["status"] == "graded":
            scores = function_scores(doc, config.functions)
            cells = [f"{scores[f]:g}" for f in config.functions] + [f"{doc['score']:g}"]
        else:
            cells = [""] * (len(config.functions) + 1)
        parts = [row_note(record, doc)]
        if current is not None and student not in current:
            parts.insert(0, "not in the class folder any more (kept from an earlier run)")
        for o in extra.get("overrides", []):
            parts.append(f"staff set {o['test']} from {o['from']:g} to {o['to']:g}: {shorten(o['reason'], 120)}")
        if extra.get("stale_overrides"):
            parts.append(f"{len(extra['stale_overrides'])} override(s) to review (the grader's score changed "
                         "since; not applied)")
        if extra.get("penalty"):
            parts.append(f"{labelled(extra['penalty'])}: {extra['penalty']['reason']}")
        if extra.get("extension"):
            parts.append(f"extension: {extra['extension']['reason']}" + (
                " (the LMS's late flag is covered by it)" if extra["extension"]["late_flag_answered"] else ""))
        for c in extra.get("comments", []):
            parts.append(f"staff comment: {shorten(c['text'].splitlines()[0], 200)}")
        note = "; ".join(filter(None, parts))
        writer.writerow([student, *cells, f"{config.max_score:g}", record["status"], note, record.get("name", "")])
    for student, name in sorted(pending.items()):
        if student not in records:
            writer.writerow([student, *[""] * (len(config.functions) + 1), f"{config.max_score:g}", "pending",
                             f"not graded yet: the run was interrupted; {RESUME}", name])
    return buf.getvalue()


class _SpreadsheetSafe:
    """A csv writer whose text cells a spreadsheet cannot take for formulas (``text.spreadsheet_safe``): a note
    or a name can hold what a student wrote."""

    def __init__(self, writer) -> None:
        self._writer = writer

    def writerow(self, row: list) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])


# -- grades.csv is generated ---------------------------------------------------------------
GRADES_HASH = "grades_csv_sha256"  # batch.json's record of the grades.csv the toolkit last wrote


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def grades_differences(edited: str, expected: str, limit: int = 5) -> list[str]:
    """How an edited grades.csv differs from the one the toolkit would write: at most ``limit`` lines
    ("bug1: total 40 -> 45", "row bug3 deleted", "row x added", or that only the format changed:
    a BOM, ``;`` separators, Windows line ends), then "and N more"."""
    def rows(text: str) -> tuple[list[str], dict[str, list[str]]]:
        text = text.lstrip("\ufeff")
        first = text.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        header = table[0] if table else []
        return header, {r[0]: r for r in table[1:] if r}

    (head_e, edited_rows), (head_x, expected_rows) = rows(edited), rows(expected)
    found = []
    if head_e != head_x:
        found.append(f"header: {','.join(head_x)} -> {','.join(head_e)}")
    for student, row in expected_rows.items():
        if student not in edited_rows:
            found.append(f"row {student} deleted")
            continue
        for k, (old, new) in enumerate(zip(row, edited_rows[student])):
            if old != new:
                column = head_x[k] if k < len(head_x) else f"column {k + 1}"
                found.append(f"{student}: {column} {old or '(empty)'} -> {new or '(empty)'}")
    found += [f"row {s} added" for s in edited_rows if s not in expected_rows]
    if not found:
        return ["the same values; only the file's format changed (a BOM, ';' separators or Windows line ends: a "
                "re-save by a spreadsheet?)"]
    return found[:limit] + ([f"and {len(found) - limit} more"] if len(found) > limit else [])


def check_grades_csv(out: Path, manifest: dict, force: bool = False,
                     expected: Callable[[], str | None] | None = None) -> None:
    """Refuse (GradebookError) to go on when grades.csv was changed by hand since the toolkit wrote it.

    grades.csv is generated from raw/, overrides.yaml and comments.yaml; a hand edit (scores typed in,
    Excel's re-save with semicolons) would be lost by the next write.  With ``force`` the edited file
    is kept beside it as ``grades.edited-<time>.csv`` and the command goes on.  ``expected`` gives the
    grades.csv the toolkit would write now (None when it cannot tell): the refusal then names the first
    rows and cells that differ (grades_differences).
    """
    path = Path(out) / GRADES
    recorded = manifest.get(GRADES_HASH)
    if not recorded or not path.is_file() or _sha256(path) == recorded:
        return
    if force:
        keep = path.with_name(f"grades.edited-{datetime.now().strftime('%Y%m%d-%H%M%S')}.csv")
        keep.write_bytes(path.read_bytes())
        print(f"note: {path} was edited by hand; kept as {keep} and written again", file=sys.stderr)
        manifest[GRADES_HASH] = _sha256(path)  # this run may go on writing it
        return
    differences = []
    try:
        text = expected() if expected else None
        if text is not None:
            differences = grades_differences(path.read_text(encoding="utf-8", errors="replace"), text)
    except Exception:  # noqa: BLE001 -- the list is a help; the refusal stands without it
        differences = []
    said = ("; it differs in: " + "; ".join(differences) + ".") if differences else "."
    raise GradebookError(f"{path} was changed since the toolkit wrote it{said} It is generated (from raw/, "
                         f"overrides.yaml and comments.yaml) and this command would overwrite it. Your file is "
                         f"kept as it is. Move score changes into overrides.yaml: a test's score with python -m "
                         f"autograder override {out} --student ID --test NAME --score X --reason ...; a change of "
                         f"a student's total with ... --student ID --penalty -5 --reason ... (points, + to add; or "
                         f"--penalty=-10%); then delete or rename grades.csv; or run again with --force (your file "
                         f"is then kept as grades.edited-<time>.csv)")


def write_grades_csv(out: Path, text: str, manifest: dict, force: bool = False) -> str:
    """Write grades.csv (after check_grades_csv) and return its hash, to keep in batch.json."""
    check_grades_csv(out, manifest, force)
    write_text_atomic(Path(out) / GRADES, text)
    manifest[GRADES_HASH] = _sha256(Path(out) / GRADES)
    return manifest[GRADES_HASH]
