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

import yaml

from autograder.config import Config
from autograder.grading.results import top_output, write_text_atomic

OVERRIDES = "overrides.yaml"
LOCK = ".lock"  # OUTDIR's writer lock; never deleted (a new file would be a second, unrelated lock)
EXIT_BUSY = 75  # sysexits' EX_TEMPFAIL: another command holds OUTDIR and --no-wait was given
OVERRIDES_HEADER = ("# Manual score changes, applied over the grader's results (raw/) in results/, feedback/ and\n"
                    "# grades.csv.  Written by `python -m autograder override OUTDIR --student ID --test NAME "
                    "--score X --reason ...`.\n")


class GradebookError(Exception):
    """A bad request on a graded class (unknown student or test, score out of range), or a bad overrides.yaml."""


class OutdirBusy(GradebookError):
    """Another command is writing OUTDIR and the caller chose not to wait."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
def read_edited_mapping(path: Path, expected: str) -> dict:
    """A YAML file people edit by hand, as a mapping ({} when absent); GradebookError naming the file otherwise."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise GradebookError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise GradebookError(f"{path}: expected {expected}, found a {type(data).__name__}")
    return data


def load_overrides(out: Path, records: dict[str, dict] | None = None) -> dict[str, dict[str, dict]]:
    """overrides.yaml as student -> test name -> {score, reason, when}, checked as the override command checks.

    The file is edited by hand too, so every entry is validated: a mapping of mappings, a score that
    is a finite number (not a bool, not .nan or .inf) and not negative, a text reason.  With
    ``records`` (the graded students, see load_records) also: the student is one of them and, when
    graded, the test is one of theirs and the score at most its max_score.  Raises GradebookError
    naming the file, the entry and the reason; nothing is written by a caller before this passes.
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
            _check_override(path, student, str(test), change, records)
        overrides[student] = {str(k): v for k, v in tests.items()}
    return overrides


def _check_override(path: Path, student: str, test: str, change: object, records: dict[str, dict] | None) -> None:
    """One entry of overrides.yaml, as the override command would accept it; GradebookError otherwise."""
    where = f"{path}: {student} / {test}"
    if not isinstance(change, dict):
        raise GradebookError(f"{where}: expected {{score: X, reason: TEXT}}, found {change!r}")
    score = change.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise GradebookError(f"{where}: the score must be a number, found {score!r}")
    if not math.isfinite(score) or score < 0:
        raise GradebookError(f"{where}: the score must be a finite number of at least 0, found {score!r}")
    if not isinstance(change.get("reason", ""), str):
        raise GradebookError(f"{where}: the reason must be a text, found {change.get('reason')!r}")
    if records is None:
        return
    record = records.get(student)
    if record is None:
        raise GradebookError(f"{where}: no graded student {student!r} in {path.parent}")
    if record.get("status") != "graded" or not record.get("results"):
        return  # an error row has no tests to check against; the override waits for a regrade
    tests = {t["name"]: t for t in record["results"]["tests"]}
    if test not in tests:
        raise GradebookError(f"{where}: {student} has no test named {test!r} (after a config change that renamed "
                             f"it, move or remove this entry); tests are named like {next(iter(tests), '')!r}")
    if score > tests[test]["max_score"]:
        raise GradebookError(f"{where}: score {score:g} is outside 0..{tests[test]['max_score']:g}")


def save_overrides(out: Path, overrides: dict) -> None:
    body = yaml.safe_dump({k: v for k, v in sorted(overrides.items()) if v}, sort_keys=False, allow_unicode=True)
    write_text_atomic(out / OVERRIDES, OVERRIDES_HEADER + (body if body.strip() != "{}" else ""))


def set_override(out: Path, records: dict[str, dict], student: str, test: str, score: float | None,
                 reason: str) -> tuple[str, float]:
    """Record (or, with score None, remove) an override; return the test's full name and its max score.

    ``records`` are all graded students (load_records): the rest of overrides.yaml is checked against them.
    """
    record = records[student]
    if record.get("status") != "graded" or not record.get("results"):
        raise GradebookError(f"{record['student']} could not be graded ({record.get('reason', '')}); "
                             "regrade it before overriding a test")
    tests = {t["name"]: t for t in record["results"]["tests"]}
    name = _match_test(test, list(tests))
    max_score = tests[name]["max_score"]
    overrides = load_overrides(out, records)
    mine = overrides.setdefault(record["student"], {})
    if score is None:
        if name not in mine:
            raise GradebookError(f"{record['student']} has no override on {name!r}")
        del mine[name]
    else:
        if not math.isfinite(score) or not 0 <= score <= max_score:
            raise GradebookError(f"score {score:g} is outside 0..{max_score:g} for {name!r}")
        if not reason.strip():
            raise GradebookError("give a --reason: the student sees it with the new score")
        mine[name] = {"score": score, "reason": reason.strip(), "when": now()}
    save_overrides(out, overrides)
    return name, max_score


def _match_test(query: str, names: list[str]) -> str:
    """The test named by its full name, or by a text that matches exactly one name."""
    if query in names:
        return query
    hits = [n for n in names if query.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise GradebookError(f"no test matches {query!r}; tests are named like {names[0]!r}")
    raise GradebookError(f"{query!r} matches {len(hits)} tests: " + "; ".join(hits[:6]))


# -- results.json ----------------------------------------------------------------------
def results_document(record: dict, overrides: dict[str, dict], config: Config,
                     comments: list[dict] | tuple = ()) -> dict:
    """The student's results.json: the grader's, with the staff's overrides and comments applied.

    ``comments`` are the student's entries of comments.yaml (clusters.load_comments): shown above the
    grader's output and kept in ``extra_data.comments``.
    """
    extra = {"student": record["student"], "status": record["status"], "graded_at": record.get("graded_at", "")}
    if comments:
        extra["comments"] = [{"text": c["text"], "cluster": c.get("cluster", ""), "when": c.get("when", "")}
                             for c in comments]
    staff = "".join(f"Comment from the course staff: {c['text']}\n\n" for c in comments)
    if record["status"] != "graded" or not record.get("results"):
        extra["reason"] = record.get("reason", "")
        why = f"This submission could not be graded automatically: {record.get('reason')}"
        return {"score": 0, "output": staff + why,
                "visibility": "visible", "stdout_visibility": "hidden", "tests": [], "extra_data": extra}
    doc = copy.deepcopy(record["results"])
    applied, unmatched = [], []
    by_name = {t["name"]: t for t in doc["tests"]}
    for name, change in overrides.items():
        test = by_name.get(name)
        if test is None:
            unmatched.append(name)
            continue
        old, new = test["score"], float(change["score"])
        test["score"] = new
        test["status"] = "passed" if new >= test["max_score"] else "failed"
        test["output"] = (f"Score changed by the course staff from {old:g} to {new:g}: {change.get('reason', '')}"
                          f"\n\n{test['output']}")
        applied.append({"test": name, "from": old, "to": new, "reason": change.get("reason", ""),
                        "when": change.get("when", "")})
    doc["score"] = sum(t["score"] for t in doc["tests"])
    if applied:
        extra["overrides"] = applied
        doc["output"] = top_output(record.get("files_found", []), record.get("notes", []), doc["score"],
                                   sum(t["max_score"] for t in doc["tests"]), record.get("student_output", ""))
    if unmatched:
        extra["unmatched_overrides"] = unmatched
    if staff:
        doc["output"] = staff + doc.get("output", "")
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


def row_note(record: dict) -> str:
    """One line for grades.csv: why a row has no grade, or what was wrong with the files."""
    if record["status"] != "graded":
        return record.get("reason", "")
    # Notes are sentences; joined into one cell they are clauses ("a; b", never "a.; b").
    firsts = [n.splitlines()[0].rstrip() for n in record.get("notes", []) if n.strip()]
    return "; ".join(f.removesuffix(".") if not f.endswith("..") else f for f in firsts)[:300]


def grades_csv(records: dict[str, dict], docs: dict[str, dict], config: Config) -> str:
    """One row per student: id, points per function, total, max, status, note, display name (from the LMS).

    Error rows leave scores empty.  The id is the LMS's (stable across downloads); the name may be empty.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", *config.functions, "total", "max", "status", "note", "name"])
    for student in sorted(records):
        record, doc = records[student], docs[student]
        if record["status"] == "graded":
            scores = function_scores(doc, config.functions)
            cells = [f"{scores[f]:g}" for f in config.functions] + [f"{doc['score']:g}"]
        else:
            cells = [""] * (len(config.functions) + 1)
        note = row_note(record)
        if doc.get("extra_data", {}).get("overrides"):
            note = "; ".join(filter(None, [note, f"{len(doc['extra_data']['overrides'])} score(s) changed by staff"]))
        for c in doc.get("extra_data", {}).get("comments", []):
            note = "; ".join(filter(None, [note, f"staff comment: {c['text'].splitlines()[0][:200]}"]))
        writer.writerow([student, *cells, f"{config.max_score:g}", record["status"], note, record.get("name", "")])
    return buf.getvalue()
