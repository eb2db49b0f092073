"""A graded class on disk: the grader's records, manual overrides, results.json and grades.csv.

``raw/<student>.json`` is what the grader said (never edited by hand);
``overrides.yaml`` holds the course staff's score changes.  Everything else
(``results/``, ``feedback/``, ``grades.csv``, ``summary.md``) is derived from
those two, so an override survives any regrade and a regrade never loses one.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import yaml

from autograder.config import Config
from autograder.results import top_output, write_text_atomic

OVERRIDES = "overrides.yaml"
OVERRIDES_HEADER = ("# Manual score changes, applied over the grader's results (raw/) in results/, feedback/ and\n"
                    "# grades.csv.  Written by `python -m autograder override OUTDIR --student ID --test NAME "
                    "--score X --reason ...`.\n")


class GradebookError(Exception):
    """A bad request on a graded class (unknown student or test, score out of range)."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_json(path: Path) -> dict | None:
    """A JSON file, or None when it is missing or unreadable (e.g. cut by a crash before this version)."""
    try:
        return json.loads(path.read_text())
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


# -- overrides -------------------------------------------------------------------
def load_overrides(out: Path) -> dict[str, dict[str, dict]]:
    path = out / OVERRIDES
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GradebookError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise GradebookError(f"{path}: expected student -> test name -> {{score, reason}}")
    for student, tests in data.items():
        for test, change in tests.items():
            if not isinstance(change, dict) or not isinstance(change.get("score"), (int, float)):
                raise GradebookError(f"{path}: {student} / {test}: needs a numeric score")
    return {str(k): v for k, v in data.items()}


def save_overrides(out: Path, overrides: dict) -> None:
    body = yaml.safe_dump({k: v for k, v in sorted(overrides.items()) if v}, sort_keys=False, allow_unicode=True)
    write_text_atomic(out / OVERRIDES, OVERRIDES_HEADER + (body if body.strip() != "{}" else ""))


def set_override(out: Path, record: dict, test: str, score: float | None, reason: str) -> tuple[str, float]:
    """Record (or, with score None, remove) an override; return the test's full name and its max score."""
    if record.get("status") != "graded" or not record.get("results"):
        raise GradebookError(f"{record['student']} could not be graded ({record.get('reason', '')}); "
                             "regrade it before overriding a test")
    tests = {t["name"]: t for t in record["results"]["tests"]}
    name = _match_test(test, list(tests))
    max_score = tests[name]["max_score"]
    overrides = load_overrides(out)
    mine = overrides.setdefault(record["student"], {})
    if score is None:
        if name not in mine:
            raise GradebookError(f"{record['student']} has no override on {name!r}")
        del mine[name]
    else:
        if not 0 <= score <= max_score:
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
def results_document(record: dict, overrides: dict[str, dict], config: Config) -> dict:
    """The student's results.json: the grader's, with the staff's overrides applied."""
    extra = {"student": record["student"], "status": record["status"], "graded_at": record.get("graded_at", "")}
    if record["status"] != "graded" or not record.get("results"):
        extra["reason"] = record.get("reason", "")
        return {"score": 0, "output": f"This submission could not be graded automatically: {record.get('reason')}",
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
    return "; ".join(n.splitlines()[0] for n in record.get("notes", []))[:300]


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
        writer.writerow([student, *cells, f"{config.max_score:g}", record["status"], note, record.get("name", "")])
    return buf.getvalue()
