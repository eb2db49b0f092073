"""One grading worker of ``grade-all``: ``python -m autograder.classroom.worker --config PATH``.

It imports the grader once, then reads one job per line on stdin (a JSON
object naming a submission) and answers one JSON line on stdout with the
grader's record.  Student code still runs in a child per submission
(``grader.grade`` starts it), forked from a fork server that started Python
and numpy once (``sandbox/forkserver.py``); this process pays the grader's own
start-up once, and keeps each case's inputs and reference outputs.  It ends
when stdin closes (so it never outlives the batch for long), on SIGTERM, and
ignores SIGINT: the batch decides what a Ctrl-C means.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path


def _peaks() -> dict:
    """Peak resident memory (kB on Linux) of this process and of its largest child so far (children forked by
    the fork server included)."""
    from autograder.sandbox import forkserver

    return {"worker_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "child_peak_kb": max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                                 forkserver.peak_child_kb())}


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


MAX_CODE_CHARS = 200_000  # per file kept for the similarity report; graded files are far smaller


def graded_code(located, files: tuple[str, ...]) -> dict[str, str]:
    """The text of each graded file as the student wrote it: the .py files chosen, or a notebook's graded cells.

    For a notebook, ``extract.extract``'s per-file text of the cells marked ``# file: <name>``; when no
    cell is marked (every code cell runs), all its code cells as one text under the notebook's name.
    Only the student's files: never the reference.  {} when nothing could be read.
    """
    from autograder.submissions import extract

    texts: dict[str, str] = {}
    try:
        if located.notebook_path is not None:
            texts, _ = extract.extract(Path(located.notebook_path), tuple(files))
            if not texts:
                code = [c.source for c in extract.read(Path(located.notebook_path)) if c.kind == "code" and c.source]
                texts = {Path(located.notebook).stem + ".py": "\n\n".join(code) + "\n"} if code else {}
        else:
            for name in located.chosen:
                texts[name] = (Path(located.folder) / name).read_text(encoding="utf-8", errors="replace")
    except Exception as exc:  # noqa: BLE001 -- a file we cannot read again only lacks from the similarity report
        print(f"graded code not kept: {type(exc).__name__}: {exc}", file=sys.stderr)
    return {name: text[:MAX_CODE_CHARS] for name, text in texts.items()}


def grade_job(job: dict, config, grade_fn) -> dict:
    """Grade one submission; never raises for anything the submission or the grader does."""
    from autograder.grading.grader import FAULT_TIME_LIMIT
    from autograder.grading.results import to_gradescope
    from autograder.submissions.layouts import ArchiveLimits, Entry, SubmissionProblem, prepare
    from autograder.submissions.locate import locate_work

    entry = Entry.from_job(job)
    start = time.perf_counter()
    record = {"status": "error", "error_kind": "", "reason": "", "results": None, "notes": [], "files_found": [],
              "student_output": ""}
    try:
        with tempfile.TemporaryDirectory(prefix="hw_job_") as tmp:
            limits = ArchiveLimits(**job["archive_limits"]) if job.get("archive_limits") else ArchiveLimits()
            folder = prepare(entry, Path(tmp), config.files, limits)
            located = locate_work(folder, config, Path(tmp) / "located", limits)
            record["code"] = graded_code(located, config.files)  # read before grading: the student's own text
            record["not_graded"] = list(located.not_graded)  # summary.md's "Not graded" table lists them
            report = grade_fn(located.folder, config)
            report.notes[:0] = located.notes
            record.update(results=to_gradescope(report, config), notes=list(report.notes),
                          files_found=located.as_found(report.files_found), student_output=report.student_output)
            # Hashes of wrong values (compare.value_digest) for the class's similarity report; never shown.
            record["digests"] = {t.spec.full_name: t.digest for t in getattr(report, "tests", []) if
                                 getattr(t, "digest", "")}
            # Tests a time limit decided (a call stopped, or skipped after such calls): another run may differ.
            record["time_limited"] = [t.spec.full_name for t in getattr(report, "tests", [])
                                      if getattr(t, "fault", "") == FAULT_TIME_LIMIT]
            if report.grader_errors:
                record.update(error_kind="grader", reason="the grader failed on some tests: "
                              + "; ".join(report.grader_errors)[:1000])
            else:
                record["status"] = "graded"
    except SubmissionProblem as exc:
        record.update(error_kind="submission", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 -- one submission must not stop the batch
        traceback.print_exc()
        record.update(error_kind="grader", reason=f"the grader failed: {type(exc).__name__}: {exc}"[:1000])
    record["seconds"] = round(time.perf_counter() - start, 4)
    record.update(_peaks())
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.classroom.worker")
    parser.add_argument("--config", required=True)
    parser.add_argument("--grade-fn", default="autograder.grading.grader:grade",
                        help="module:function that grades a folder")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    # The protocol owns the real stdout; anything else printed goes to stderr (the worker's log).
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from autograder.config import command_config

    config = command_config(args.config)
    from autograder.sandbox import forkserver

    forkserver.enable()  # each student's child is forked from one started Python, not started anew
    module, _, name = args.grade_fn.partition(":")
    grade_fn = getattr(importlib.import_module(module), name)
    from autograder.grading.grader import load_reference

    load_reference(config)
    channel.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        record = grade_job(job, config, grade_fn)
        try:
            line = json.dumps({"job": job["job"], "record": record}, allow_nan=False)
        except ValueError as exc:  # e.g. NaN in a results document: report it rather than write bad JSON
            record.update(status="error", error_kind="grader", results=None, reason=f"unencodable results: {exc}")
            line = json.dumps({"job": job["job"], "record": record}, default=str)
        try:
            channel.write(line + "\n")
        except BrokenPipeError:  # the batch is gone
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
