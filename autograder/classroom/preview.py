"""What a regrade would change, before it changes anything: ``python -m autograder regrade OUTDIR --dry-run``.

After the config, the tests or the reference solution change, every student is graded again with the
(new) config into a scratch folder outside OUTDIR, and each score that would change is listed: per
student and per test, the old and new score and the grader's new message.  Scores are compared as the
students see them (overrides.yaml applied, as a regrade keeps it).  Nothing in OUTDIR is written.
``regrade OUTDIR --all`` (with the same ``--config``) then applies it: grading is deterministic but for
time limits, so its grades.csv holds the previewed totals unless a change is marked as decided by one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder.classroom.batch import (
    BatchError,
    Options,
    _can_grade,
    _load_config,
    config_fingerprint,
    content_change,
    read_manifest,
    rediscover,
    run_batch,
)
from autograder.classroom.clusters import load_comments
from autograder.classroom.gradebook import (
    GradebookError,
    describe_stale,
    load_overrides,
    load_records,
    results_document,
    stale_overrides,
)
from autograder.config import content_digests
from autograder.files import remove_tree


@dataclass
class Change:
    student: str
    test: str  # "(status)" for a student who becomes, or stops being, an error row
    old: float | None  # None: the test (or a grade) did not exist
    new: float | None
    why: str


@dataclass
class Preview:
    changes: list[Change] = field(default_factory=list)
    totals: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # old, new (None: no grade)
    students: int = 0
    config_changed: bool = False
    changed_files: list[str] = field(default_factory=list)  # what was edited, when the same config file changed
    config: str = ""  # the --config given, if any: the regrade that applies this preview takes it too
    resubmitted: list[str] = field(default_factory=list)  # students whose submission changed since grading
    seconds: float = 0.0
    stale: list[dict] = field(default_factory=list)  # overrides the regrade would make stale (not applied)

    def changed_students(self) -> list[str]:
        return sorted({c.student for c in self.changes})


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]


def _total(doc: dict, record: dict) -> float | None:
    return doc["score"] if record.get("status") == "graded" else None


def diff(old_records: dict[str, dict], new_records: dict[str, dict], old_config, new_config, overrides: dict,
         comments: dict) -> Preview:
    """Every visible score that differs between two sets of records (overrides applied to both)."""
    result = Preview(students=len(new_records))
    for student in sorted(set(old_records) | set(new_records)):
        old, new = old_records.get(student), new_records.get(student)
        docs = [results_document(r, overrides.get(student, {}), cfg, comments.get(student, [])) if r else None
                for r, cfg in ((old, old_config), (new, new_config))]
        old_total = _total(docs[0], old) if old else None
        new_total = _total(docs[1], new) if new else None
        result.totals[student] = (old_total, new_total)
        if old and new and old.get("fingerprint") != new.get("fingerprint"):
            result.resubmitted.append(student)
        if (old or {}).get("status") != (new or {}).get("status"):
            why = new.get("reason", "") if new and new.get("status") != "graded" else "graded now"
            states = f"{(old or {}).get('status', 'absent')} -> {(new or {}).get('status', 'absent')}"
            result.changes.append(Change(student, "(status)", old_total, new_total, f"{states}: {_first_line(why)}"))
            continue
        old_tests = {t["name"]: t for t in docs[0]["tests"]} if docs[0] else {}
        new_tests = {t["name"]: t for t in docs[1]["tests"]} if docs[1] else {}
        for name in list(old_tests) + [n for n in new_tests if n not in old_tests]:
            a, b = old_tests.get(name), new_tests.get(name)
            if a and b and a["score"] == b["score"]:
                continue  # a changed max_score alone changes no grade (e.g. a score pinned by an override)
            if b is None:
                why = "the test is no longer in the config"
            elif a is None:
                why = "a new test: " + _first_line(b["output"])
            elif a["max_score"] != b["max_score"]:
                why = f"its points changed from {a['max_score']:g} to {b['max_score']:g}; " + _first_line(b["output"])
            else:
                why = f"{_first_line(b['output'])} (was: {_first_line(a['output'])})"
            if name in set((old or {}).get("time_limited", [])) | set((new or {}).get("time_limited", [])):
                why += (" [a call's time limit decided this score in one of the runs: another run, on a busier or "
                        "quieter machine, may decide it the other way]")
            result.changes.append(Change(student, name, a["score"] if a else None, b["score"] if b else None, why))
    return result


def preview(out: Path, options: Options, config_path: Path | None = None) -> Preview:
    """Grade everyone in OUTDIR again with ``config_path`` (default: OUTDIR's) in a scratch folder; diff.

    Raises BatchError when the submissions cannot be read or OUTDIR's overrides or comments are bad.
    """
    import time

    start = time.perf_counter()
    out = Path(out)
    manifest = read_manifest(out)
    old_config = _load_config(Path(manifest["config"])) if Path(manifest["config"]).exists() else None
    config_path = Path(config_path or manifest["config"])
    config = _load_config(config_path)
    _can_grade(config)
    layout = rediscover(manifest, config)
    old_records = load_records(out)
    try:
        overrides, comments = load_overrides(out), load_comments(out)
    except GradebookError as exc:
        raise BatchError(str(exc)) from None
    scratch = Path(tempfile.mkdtemp(prefix="hw_preview_"))
    try:
        scratch_out = scratch / "out"
        scratch_manifest = dict(manifest, config=str(config_path.resolve()), mapping=layout.mapping())
        outcome = run_batch(scratch_out, config_path, config, layout, layout.entries, scratch_manifest,
                            replace(options, similarity=False, lock=None), force=True)
        if outcome.interrupted:
            raise KeyboardInterrupt
        new_records = load_records(scratch_out)
    finally:
        remove_tree(scratch)
    result = diff(old_records, new_records, old_config or config, config, overrides, comments)
    result.stale = stale_overrides(new_records, overrides)
    result.config_changed = any(r.get("config") != config_fingerprint(config) for r in old_records.values())
    change = content_change(manifest, config, config_path, content_digests(config))
    result.changed_files = change["files"] if change else []
    result.config = str(config_path) if config_path.resolve() != Path(manifest["config"]).resolve() else ""
    result.seconds = time.perf_counter() - start
    return result


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def describe(result: Preview, out: Path) -> str:
    """The preview as a TA reads it: one line per changed score, then the totals that change."""
    lines = [f"regrade preview of {out}: {result.students} students graded again in a scratch folder in "
             f"{result.seconds:.1f} s; nothing in {out} was changed",
             "the config or the reference solution differs from the one these grades were made with"
             + (f" (edited since: {', '.join(result.changed_files)})" if result.changed_files else "")
             if result.config_changed else "the config and the reference solution are the ones these grades used"]
    if result.resubmitted:
        lines.append(f"submissions changed since grading: {', '.join(result.resubmitted)}")
    stale = describe_stale(result.stale, out)
    if stale:
        stale[0] = "after this regrade, " + stale[0]
    if not result.changes:
        lines.append("no score would change")
        return "\n".join(lines + stale)
    lines += ["", "student | test | old -> new | why"]
    for c in result.changes:
        lines.append(f"{c.student} | {c.test} | {_score(c.old)} -> {_score(c.new)} | {c.why}")
    lines += ["", "totals that would change:"]
    for student in result.changed_students():
        old, new = result.totals[student]
        lines.append(f"{student} | total | {_score(old)} -> {_score(new)}")
    lines += ["", *stale] if stale else []
    lines += ["", f"{len(result.changed_students())} of {result.students} students' scores would change; apply with "
              f"`python -m autograder regrade {out} --all`" + (f" --config {result.config}" if result.config else "")]
    return "\n".join(lines)
