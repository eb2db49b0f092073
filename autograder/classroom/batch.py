"""Grades a whole class in parallel: ``python -m autograder grade-all SUBMISSIONS --out OUTDIR``.

A pool of worker processes (``autograder.classroom.worker``, one per core by default)
grades one submission at a time each; student code still runs in a child of
the worker.  This process hands out jobs, and writes each student's record
(``raw/``), results.json (``results/``) and feedback (``feedback/``) atomically
as soon as the student is done, so a crash or Ctrl-C loses at most the
submissions being graded at that moment.  A rerun skips every student whose
record is graded from the same submission content and the same config; a
submission that breaks the grader, or whose worker dies or hangs, becomes an
error row and the batch goes on.  At the end: ``grades.csv``, ``summary.md``
and the charts.

OUTDIR layout::

    batch.json        what was graded (input folder, layout, config, feedback visibility) and the
                      mapping: each student's id, name and files, what was not graded, what was not placed
    raw/<id>.json     the grader's record per student (never edited); "digests" hash failing tests' values
    code/<id>/        the student's graded source (.py files, or a notebook's graded cells), for similarity
    overrides.yaml    the staff's manual score changes
    comments.yaml     the staff's comments per student (clusters.py), shown in feedback and results
    results/<id>.json Gradescope results.json, overrides applied
    feedback/<id>.md  what the student sees
    grades.csv        one row per student, one column per function
    summary.md        item analysis, with charts/*.png
    logs/             the workers' stderr
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from autograder.classroom import analysis, feedback
from autograder.classroom.clusters import comments_to_review, load_comments
from autograder.classroom.gradebook import (
    GRADES_HASH,
    LOCK,
    RESUME,
    GradebookError,
    check_grades_csv,
    describe_stale,
    labelled,
    load_overrides,
    load_records,
    no_such_student,
    now,
    read_json,
    results_document,
    set_extension,
    set_override,
    set_penalty,
    stale_overrides,
    unknown_students,
    write_grades_csv,
)
from autograder.classroom.gradebook import grades_csv as make_grades_csv
from autograder.config import Config
from autograder.files import remove_tree
from autograder.grading.results import write_json_atomic, write_text_atomic
from autograder.submissions.layouts import (
    ArchiveLimits,
    Entry,
    Layout,
    LayoutError,
    describe_mapping,
    discover,
    fingerprint,
    safe_names,
    without_row,
)
from autograder.text import clean_text, counted, disk_name

MANIFEST = "batch.json"
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
# 3: every student found was graded or not, but some files or folders belong to no student (see summary.md).
EXIT_OK, EXIT_SOME_FAILED, EXIT_UNPLACED, EXIT_INTERRUPTED = 0, 1, 3, 130
DEAD_START_LIMIT = 3  # workers that die while starting: the setup is broken, stop


class BatchError(Exception):
    """The batch cannot run (bad input folder, OUTDIR of another class, broken worker setup)."""


@dataclass
class Options:
    jobs: int = 0  # 0: one worker per available core
    regrade: bool = False
    published: bool | None = None  # None: keep what OUTDIR's batch.json says
    after_due_date: bool | None = None
    assignment: str | None = None  # nbgrader: which assignment folder
    layout: str | None = None  # one of layouts.LAYOUTS; None: recognise it
    attempt: str | None = None  # which of several attempts of one student is graded (None: OUTDIR's, or latest)
    dry_run: bool = False  # print the student <-> files mapping; grade and write nothing
    timeout: float = 900.0  # one submission, end to end; the sandbox's own limits normally act first
    progress: bool | None = None  # None: a progress bar when stderr is a terminal
    grade_fn: str = "autograder.grading.grader:grade"
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    quiet: bool = False
    # grade-all: OUTDIR's writer lock, taken once the inputs are checked (it creates OUTDIR); None: no lock
    lock: Callable[[Path], contextlib.AbstractContextManager] | None = None
    similarity: bool = True  # grade-all: write similarity/report.html once the class is graded
    force: bool = False  # overwrite a grades.csv edited by hand (gradebook.check_grades_csv)


@dataclass
class Outcome:
    students: int = 0
    graded: int = 0
    errors: int = 0
    skipped: int = 0
    interrupted: bool = False
    unplaced: int = 0  # files or folders of the input that belong to no student
    ignored: int = 0  # files placed to a student but not graded (online text, receipts, other attempts)
    without_row: list[str] = field(default_factory=list)  # students with nothing to grade (layouts.without_row)
    seconds: float = 0.0
    jobs: int = 0
    seconds_per_submission: list[float] = field(default_factory=list)
    worker_peak_kb: int = 0
    child_peak_kb: int = 0
    stale: list[dict] = field(default_factory=list)  # overrides to review (gradebook.stale_overrides)
    review_comments: int = 0  # one student's comments written about an earlier submission (comments_to_review)
    reference_check: dict | None = None  # the reference's failed tests with this config (reference_check)
    gone: list[str] = field(default_factory=list)  # rows kept from an earlier run, not in the class folder now
    pending: int = 0  # interrupted: students this run was to (re)grade and did not (rows marked pending)
    similarity_interrupted: bool = False  # interrupted while writing the similarity report (grades all written)
    resume: str = "run the same command again"  # how to grade the pending students, once interrupted

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.unplaced:
            return EXIT_UNPLACED
        return EXIT_SOME_FAILED if self.errors else EXIT_OK


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def config_fingerprint(config: Config) -> str:
    """A change of the config, its homework or behaviours module or the reference solution makes every earlier
    record stale (``config.content_digests``)."""
    from autograder.config import content_digests, content_fingerprint

    return content_fingerprint(content_digests(config))


# -- the worker pool ---------------------------------------------------------------
class _Worker:
    def __init__(self, index: int, cmd: list[str], env: dict, log_dir: Path) -> None:
        self.index = index
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / f"worker-{index}.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        self.buffer = b""
        self.job: dict | None = None
        self.started = 0.0
        self.ready = False  # it said it has imported the grader

    def send(self, job: dict) -> bool:
        self.job, self.started = job, time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def stop(self, force: bool = False) -> None:
        """Close the job channel; with force, SIGTERM (the worker cleans up its sandbox) then SIGKILL."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if force and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=3 if force else 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def death(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if code < 0:
            return f"the grading process was ended by {signal.Signals(-code).name} while grading this submission"
        return f"the grading process exited with status {code} while grading this submission"


class Pool:
    """Worker processes fed one job at a time; a dead or hung worker costs only its job."""

    def __init__(self, size: int, config_path: Path, grade_fn: str, log_dir: Path, timeout: float) -> None:
        self.size = size
        self.cmd = [sys.executable, "-m", "autograder.classroom.worker", "--config", str(config_path),
                    "--grade-fn", grade_fn]
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
        # The grader's own numpy work is small: one thread per worker shares the cores fairly.
        self.env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.log_dir = log_dir
        self.timeout = timeout
        self.spawned = 0
        # Workers (and the sandboxes they start) make their temporary folders here, so that a worker
        # killed mid-submission leaves nothing behind once the batch ends.  Traversable by other users,
        # in case the student's process runs as one.
        self.tmp_root = Path(tempfile.mkdtemp(prefix="hw_batch_"))
        os.chmod(self.tmp_root, 0o711)
        self.env["TMPDIR"] = str(self.tmp_root)
        self.dead_before_ready = 0

    def _spawn(self, selector: selectors.BaseSelector) -> _Worker:
        worker = _Worker(self.spawned % self.size, self.cmd, self.env, self.log_dir)
        self.spawned += 1
        os.set_blocking(worker.proc.stdout.fileno(), False)
        selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        return worker

    def run(self, jobs: list[dict], on_record: Callable[[dict, dict], None]) -> None:
        pending = collections.deque(jobs)
        selector = selectors.DefaultSelector()
        # A slot holds a worker, or None once its worker is gone and no work was left for a new one.
        slots: list[_Worker | None] = [self._spawn(selector) for _ in range(min(self.size, len(jobs)))]
        try:
            while pending or any(w and w.job for w in slots):
                for i, w in enumerate(slots):
                    if pending and (w is None or w.job is None):
                        w = slots[i] = w or self._spawn(selector)
                        if not w.send(pending.popleft()):
                            self._retire(w, selector, on_record, pending)
                            slots[i] = None
                for key, _ in selector.select(timeout=1.0):
                    w = key.data
                    chunk = os.read(w.proc.stdout.fileno(), 1 << 20)
                    if not chunk:
                        self._retire(w, selector, on_record, pending)
                        slots[slots.index(w)] = None
                        continue
                    w.buffer += chunk
                    while b"\n" in w.buffer:
                        line, w.buffer = w.buffer.split(b"\n", 1)
                        try:
                            message = json.loads(line)
                        except ValueError:
                            message = {}  # never sent by a sound worker; its job ends as an error if it dies
                        if "ready" in message:
                            w.ready = True
                        elif "record" in message and w.job is not None and message["job"] == w.job["job"]:
                            job, w.job = w.job, None
                            on_record(job, message["record"])
                for i, w in enumerate(slots):
                    if w and w.job is not None and time.monotonic() - w.started > self.timeout:
                        self._retire(w, selector, on_record, pending,
                                     f"grading took longer than {self.timeout:g} s; it was stopped")
                        slots[i] = None
        finally:
            for w in filter(None, slots):
                try:
                    selector.unregister(w.proc.stdout)
                except (KeyError, ValueError):
                    pass
                w.stop(force=bool(w.job) or bool(pending))
            selector.close()
            remove_tree(self.tmp_root)

    def _retire(self, w: _Worker, selector, on_record, pending, reason: str = "") -> None:
        """Handle a worker that is gone: its job becomes an error row (or is retried if it never started)."""
        selector.unregister(w.proc.stdout)
        reason = reason or w.death()
        w.stop(force=True)
        job, w.job = w.job, None
        if not w.ready:
            # It died while starting, before any student's code: a setup problem, not this submission's.
            self.dead_before_ready += 1
            if self.dead_before_ready >= DEAD_START_LIMIT:
                log = self.log_dir / f"worker-{w.index}.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
                raise BatchError("the grading workers stop while starting: " + reason.split(" while ")[0] + "\n"
                                 + "\n".join(tail) + f"\n(see {self.log_dir})")
            if job is not None:
                pending.appendleft(job)
            return None
        if job is not None:
            on_record(job, {"status": "error", "error_kind": "grader", "reason": reason, "results": None})
        return None


# -- OUTDIR ------------------------------------------------------------------------
def _can_grade(config: Config) -> None:
    """BatchError once, before any student is graded, when no submission could be (as root: student code
    could read the config or the reference, or cannot run the child's Python)."""
    from autograder.sandbox.box import check_can_grade
    from autograder.sandbox.privileges import PrivilegeError

    try:
        check_can_grade(config)
    except PrivilegeError as exc:
        raise BatchError(str(exc)) from None


def reference_check(config: Config) -> dict | None:
    """The reference solution graded with ``config`` as a student would be (in this process: it is the course's
    own code): None when it gets full marks, else {score, max_score, failed: test names}.  A reference that
    fails a test means a wrong test, threshold or tolerance, which every student is graded with (Gradescope's
    setup makes the same check: ``gradescope.selftest``)."""
    from autograder.grading.grader import grade
    from autograder.sandbox.inprocess import InProcessBox
    from autograder.submissions.locate import find_files

    if config.reference is None or not Path(config.reference).is_dir():
        return None
    folder = Path(config.reference)
    report = grade(folder, config, box=InProcessBox(folder, find_files(folder, config.files)[0], config.limits))
    failed = [t.spec.full_name for t in report.tests if not t.passed]
    if not failed:
        return None
    return {"score": report.score, "max_score": report.max_score, "failed": failed}


def describe_reference_check(check: dict) -> str:
    """One line on a reference that does not get full marks (``reference_check``)."""
    shown = "; ".join(check["failed"][:5]) + (f"; and {len(check['failed']) - 5} more" if len(check["failed"]) > 5
                                              else "")
    return (f"warning: the reference solution scores {check['score']:g} of {check['max_score']:g} with this config "
            f"(it fails {shown}): a test, its threshold or its tolerance is wrong, and every student is graded with "
            "it; fix the config, then `regrade OUTDIR --all`")


def _load_config(path: Path, grading: bool = False) -> Config:
    """The config at ``path``, checked; with ``grading``, ConfigError (one line) up front when a file grading
    needs is missing: a worker would otherwise fail on it only after OUTDIR is written."""
    from autograder.config import check_config_cases, check_required_files, command_config

    config = command_config(str(path), cases=False)
    if grading:
        check_required_files(config, similarity=True)
    check_config_cases(config)
    return config


def recorded_config(out: Path, manifest: dict | None = None,
                    advice: str = "pass --config PATH or --assignment NAME to choose one") -> Path:
    """The config file OUTDIR was (last) graded with; BatchError, one line ending with ``advice``, when it is
    gone: a rerun never falls back on another config without being told to."""
    manifest = read_manifest(out) if manifest is None else manifest
    path = Path(manifest["config"])
    if not path.is_file():
        raise BatchError(f"{out} was graded with the config {path}, which is gone: {advice}")
    return path


def graded_config(out: Path, manifest: dict) -> Config:
    """The config OUTDIR was graded with, loaded, for a command that grades nothing (override, feedback,
    comment, similarity)."""
    return _load_config(recorded_config(out, manifest, advice=(
        f"put it back, or grade the class again with another: python -m autograder regrade {out} --all "
        "--config NEW.yaml")))


def content_change(manifest: dict | None, config: Config, config_path: Path, now_digests: dict[str, str]
                   ) -> dict | None:
    """How the content of ``config_path`` (now ``now_digests``, ``config.content_digests``) changed since
    ``manifest`` recorded it: {"when", "files"} (the changed files' paths), or None when it did not, when OUTDIR
    was graded with another config, or when its batch.json predates the record (``content``)."""
    from autograder.config import content_files

    recorded = (manifest or {}).get("content")
    if not isinstance(recorded, dict) or Path(manifest.get("config", "")).resolve() != Path(config_path).resolve():
        return None
    then = recorded.get("files") or {}
    changed = sorted(label for label in set(now_digests) | set(then) if now_digests.get(label) != then.get(label))
    if not changed:
        return None
    paths = content_files(config)
    return {"when": now(), "files": [str(paths.get(label, label)) for label in changed]}


def describe_content_change(change: dict, out: Path, config_path: Path, everyone: bool = True) -> str:
    """The note for a rerun whose config file is the same but whose content is not."""
    then = ("every student graded with the earlier content is graded again" if everyone else
            f"students not named keep grades made with the earlier content until regraded (regrade {out} --all)")
    return (f"note: the config {config_path} changed since {out} was graded with it ({', '.join(change['files'])} "
            f"edited): this run grades with its current content; {then}")


def read_manifest(out: Path) -> dict:
    manifest = read_json(Path(out) / MANIFEST)
    if not isinstance(manifest, dict):
        raise BatchError(f"{out} is not a grade-all output folder (no {MANIFEST}); run grade-all first")
    return manifest


def _job(index: int, entry: Entry, name: str, limits: ArchiveLimits) -> dict:
    return {"job": index, **entry.to_job(), "file": name, "archive_limits": asdict(limits)}


class _Writer:
    """Writes one student's record and derived files as soon as they are done."""

    def __init__(self, out: Path, config: Config, manifest: dict, config_hash: str, fingerprints: dict,
                 overrides: dict, comments: dict | None = None) -> None:
        self.out, self.config, self.manifest = out, config, manifest
        self.config_hash, self.fingerprints = config_hash, fingerprints
        self.overrides = overrides
        self.comments = comments or {}
        self.errors = 0
        self.seconds: list[float] = []
        self.worker_peak_kb = self.child_peak_kb = 0
        self.records: dict[str, dict] = {}
        self.docs: dict[str, dict] = {}  # each results document written, for grades.csv and summary.md

    def __call__(self, job: dict, result: dict) -> None:
        record = {"student": job["student"], "name": job.get("name", ""), "file": job["file"],
                  "source": job["source"], "label": job["label"], "kind": job["kind"],
                  "fingerprint": self.fingerprints[job["student"]], "config": self.config_hash,
                  "graded_at": now(), "notes": [], "files_found": [], "student_output": "", **result}
        # What the mapping decided (the attempt graded, a late submission) comes first in the student's note.
        record["notes"] = list(job.get("entry_notes", [])) + list(record.get("notes") or [])
        write_code(self.out, disk_name(job["file"]), record.pop("code", None) or {})
        # The grader's record holds hidden tests' messages and the value digests: private, as code/ is.
        write_json_atomic(self.out / "raw" / disk_name(f"{job['file']}.json"), record, mode=0o600, indent=None)
        self.records[record["student"]] = record
        self.docs[record["student"]] = render_student(self.out, record, self.overrides.get(record["student"], {}),
                                                      self.config, self.manifest,
                                                      self.comments.get(record["student"], []))
        if record["status"] != "graded":
            self.errors += 1
        if "seconds" in record:
            self.seconds.append(record["seconds"])
        self.worker_peak_kb = max(self.worker_peak_kb, record.get("worker_peak_kb", 0))
        self.child_peak_kb = max(self.child_peak_kb, record.get("child_peak_kb", 0))


def write_code(out: Path, file: str, code: dict[str, str]) -> None:
    """Keep the student's graded source under OUTDIR/code/<file>/ (the similarity report reads it).

    Only what the worker read from the submission (worker.graded_code): never the reference.  A
    regrade replaces the folder, so files the student no longer submits do not linger.
    """
    folder = out / "code" / file
    if folder.exists():
        shutil.rmtree(folder)
    for name, text in code.items():
        if Path(name).name == name and name.endswith(".py"):  # plain file names only, as extract makes them
            write_text_atomic(folder / name, text, mode=0o600)  # the student's work: private


def render_student(out: Path, record: dict, overrides: dict, config: Config, manifest: dict,
                   comments: list[dict] | tuple = (), pending: bool = False) -> dict:
    """Write the student's results/<id>.json and feedback/<id>.md; return the results document.  ``pending``:
    an interrupted run was to grade the student again and did not (the files say this result is not final)."""
    doc = results_document(record, overrides, config, comments, pending)
    write_json_atomic(out / "results" / disk_name(f"{record['file']}.json"), doc)
    text = feedback.render(record, doc, config, bool(manifest.get("published")), bool(manifest.get("after_due_date")))
    write_text_atomic(out / "feedback" / disk_name(f"{record['file']}.md"), text)
    return doc


def _expected_grades(out: Path, manifest: dict) -> Callable[[], str]:
    """The grades.csv the toolkit would write now, built on demand (for check_grades_csv's refusal)."""
    def build() -> str:
        config = _load_config(Path(manifest["config"]))
        records = load_records(out)
        overrides, comments = load_overrides(out, records), load_comments(out, records)
        docs = {s: results_document(r, overrides.get(s, {}), config, comments.get(s, [])) for s, r in records.items()}
        names = {e["id"]: e.get("name", "") for e in (manifest.get("mapping") or {}).get("students", [])}
        pending = {s: names.get(s, "") for s in (manifest.get("incomplete") or {}).get("missing", [])}
        return make_grades_csv(records, docs, config, current_students(manifest), pending)
    return build


def current_students(manifest: dict) -> set[str] | None:
    """The students of the class folder as batch.json's mapping last read it (None: no mapping)."""
    mapping = manifest.get("mapping")
    return {s["id"] for s in mapping.get("students", [])} if isinstance(mapping, dict) else None


def render_all(out: Path, config: Config, manifest: dict, only: set[str] | None = None,
               records: dict[str, dict] | None = None, overrides: dict | None = None,
               comments: dict | None = None, force: bool = False, docs: dict[str, dict] | None = None
               ) -> dict[str, dict]:
    """Rewrite results/ and feedback/ (of ``only`` the given students), grades.csv and summary.md.

    ``docs``: results documents already made from these records, overrides and comments (by student), not
    made again for students outside ``only``.

    GradebookError (before anything is written) when overrides.yaml or comments.yaml has a bad entry,
    or when grades.csv was edited by hand and not ``force`` (check_grades_csv).  batch.json is written
    again with the hash of the new grades.csv.
    """
    records = load_records(out) if records is None else records
    overrides = load_overrides(out, records) if overrides is None else overrides
    comments = load_comments(out, records) if comments is None else comments
    check_grades_csv(out, manifest, force, _expected_grades(out, manifest))
    made, docs = docs or {}, {}
    # Students an interrupted run left pending: their files (an earlier run's) are written again, marked.
    waiting = set((manifest.get("incomplete") or {}).get("missing", []))
    for student, record in records.items():
        if only is None or student in only or student in waiting:
            docs[student] = render_student(out, record, overrides.get(student, {}), config, manifest,
                                           comments.get(student, []), pending=student in waiting)
        elif student in made:
            docs[student] = made[student]
        else:
            docs[student] = results_document(record, overrides.get(student, {}), config, comments.get(student, []))
    current = current_students(manifest)
    names = {e["id"]: e.get("name", "") for e in (manifest.get("mapping") or {}).get("students", [])}
    pending = {s: names.get(s, "") for s in (manifest.get("incomplete") or {}).get("missing", [])}
    write_grades_csv(out, make_grades_csv(records, docs, config, current, pending), manifest, force)
    write_json_atomic(out / MANIFEST, manifest)
    write_text_atomic(out / "summary.md", analysis.summary(out, records, docs, config, manifest.get("mapping"),
                                                           incomplete=manifest.get("incomplete"),
                                                           content=manifest.get("content"),
                                                           content_changed=manifest.get("content_changed"),
                                                           reference_check=manifest.get("reference_check"),
                                                           review_comments=comments_to_review(records, comments)))
    return records


def _progress(total: int, skipped: int, options: Options):
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread
    disable = (None if options.progress is None else not options.progress) if not options.quiet else True
    return tqdm(total=total, desc="grading", unit="sub", disable=disable, dynamic_ncols=True, file=sys.stderr,
                postfix={"already graded": skipped} if skipped else None)


def _say(options: Options, text: str) -> None:
    if not options.quiet:
        print(text, file=sys.stderr)


def run_batch(out: Path, config_path: Path, config: Config, layout: Layout, entries: list[Entry], manifest: dict,
              options: Options, force: bool = False, pending: frozenset[str] = frozenset()) -> Outcome:
    """Grade ``entries`` (all of them when ``force``, else those without a current record, and those ``pending``:
    an interrupted run was to grade them again and did not) into OUTDIR.

    ``config`` is the config loaded from ``config_path`` (the workers load it again from the path).
    """
    start = time.perf_counter()
    # Ids as the records store them (clean_text): a folder name read under the C locale matches its record.
    entries = [replace(e, student=clean_text(e.student)) for e in entries]
    layout = replace(layout, entries=[replace(e, student=clean_text(e.student)) for e in layout.entries])
    config_hash = config_fingerprint(config)
    out.mkdir(parents=True, exist_ok=True)
    existing = load_records(out)
    # Checked before anything is written; applied as read now even if this run renames a test.
    overrides = load_overrides(out, existing)
    comments = load_comments(out, existing)
    check_grades_csv(out, manifest, options.force, _expected_grades(out, manifest))
    write_json_atomic(out / MANIFEST, manifest)
    _remove_partial_writes(out)
    names = safe_names(sorted({e.student for e in layout.entries} | set(existing)))
    for student, record in existing.items():
        names[student] = record.get("file", names[student])
    fingerprints, todo, skipped = {}, [], 0
    for entry in entries:
        fingerprints[entry.student] = fingerprint(entry)
        old = existing.get(entry.student)
        if (not force and old and old.get("status") == "graded" and old.get("fingerprint") == fingerprints[
                entry.student] and old.get("config") == config_hash and entry.student not in pending):
            skipped += 1
            continue
        todo.append(_job(len(todo), entry, names[entry.student], options.archive_limits))
    jobs = min(options.jobs or default_jobs(), max(1, len(todo)))
    writer = _Writer(out, config, manifest, config_hash, fingerprints, overrides, comments)
    mapping = manifest.get("mapping") or {}
    outcome = Outcome(students=len(entries), skipped=skipped, jobs=jobs, unplaced=len(mapping.get("unplaced", [])),
                      ignored=len(mapping.get("ignored", [])), without_row=without_row(mapping))
    if skipped:
        _say(options, f"{skipped} of {len(entries)} students already graded (same submission and config): skipped; "
                      "--regrade grades them again")
    if todo or manifest.get("reference_check", {}).get("config") != config_hash:
        # Before any student: a test the reference fails is wrong for every student (kept for summary.md).
        try:
            check = reference_check(config)
        except Exception as exc:  # noqa: BLE001 -- a check of the config: it must not stop the class's grading
            check = None
            _say(options, f"note: the reference solution could not be graded to check the config "
                          f"({type(exc).__name__}: {exc})")
        manifest["reference_check"] = {"config": config_hash, **(check or {})}
    outcome.reference_check = {k: v for k, v in manifest["reference_check"].items() if k != "config"} or None
    if outcome.reference_check:
        _say(options, describe_reference_check(outcome.reference_check))
    bar = _progress(len(todo), skipped, options)

    def on_record(job: dict, result: dict) -> None:
        writer(job, result)
        bar.update(1)
        if writer.errors:
            bar.set_postfix({"could not grade": writer.errors})

    # Entries that cannot be graded at all (duplicates, missing folders) need no worker.
    gradable = []
    for job in todo:
        if job["problem"]:
            on_record(job, {"status": "error", "error_kind": "submission", "reason": job["problem"], "results": None})
        else:
            gradable.append(job)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        Pool(jobs, config_path, options.grade_fn, out / "logs", options.timeout).run(gradable, on_record)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        bar.close()
    records = existing
    records.update(writer.records)
    if outcome.interrupted:
        missing = sorted(e.student for e in layout.entries if e.student not in records or (
            any(j["student"] == e.student for j in todo) and e.student not in writer.records))
        manifest["incomplete"] = {"when": now(), "missing": missing, "students": len(layout.entries)}
    else:
        manifest.pop("incomplete", None)
    # Students graded now are rendered already; others only when a crash left their files unwritten.
    unwritten = {s for s, r in records.items() if not all(
        (out / d / disk_name(f"{r['file']}{ext}")).exists() for d, ext in (("results", ".json"), ("feedback", ".md")))}
    render_all(out, config, manifest, only=unwritten, records=records, overrides=overrides, comments=comments,
               force=options.force, docs=writer.docs)
    outcome.stale = stale_overrides(records, overrides)
    outcome.review_comments = len(comments_to_review(records, comments))
    current = [records[e.student] for e in entries if e.student in records]
    # A student this run was to (re)grade and did not is pending, whatever an earlier run gave them.
    waiting = set((manifest.get("incomplete") or {}).get("missing", []))
    outcome.pending = sum(e.student in waiting for e in entries)
    outcome.graded = sum(r["status"] == "graded" and r["student"] not in waiting for r in current)
    outcome.errors = sum(r["status"] != "graded" and r["student"] not in waiting for r in current)
    outcome.seconds = time.perf_counter() - start
    outcome.seconds_per_submission = writer.seconds
    outcome.worker_peak_kb, outcome.child_peak_kb = writer.worker_peak_kb, writer.child_peak_kb
    outcome.gone = sorted(set(records) - {e.student for e in layout.entries})
    return outcome


def _remove_partial_writes(out: Path) -> None:
    """Temporary files of atomic writes that a killed batch left behind (the targets are intact)."""
    import re

    for folder in ("raw", "results", "feedback", ""):
        for path in (out / folder).glob(".*"):
            if path.is_file() and re.fullmatch(r"\..+\.(json|md|csv|yaml)\.\w+", path.name):
                path.unlink()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _manifest(submissions: Path, layout: Layout, config_path: Path, options: Options, old: dict | None,
              config_name: str) -> dict:
    old = old or {}
    return {
        "submissions": str(submissions.resolve()),
        "layout": layout.kind,
        "layout_root": str(layout.root.resolve()),
        "layout_option": options.layout if options.layout is not None else old.get("layout_option"),
        "attempt": layout.attempt,
        "mapping": layout.mapping(),
        "assignment": options.assignment if options.assignment is not None else old.get("assignment"),
        "config": str(Path(config_path).resolve()),
        "assignment_name": config_name,
        "published": options.published if options.published is not None else old.get("published", False),
        "after_due_date": (options.after_due_date if options.after_due_date is not None
                           else old.get("after_due_date", False)),
        "created": old.get("created", now()),
        **({GRADES_HASH: old[GRADES_HASH]} if old.get(GRADES_HASH) else {}),
        "updated": now(),
    }


def _check_same_class(out: Path, old: dict | None, submissions: Path, layout: Layout, config: Config,
                      config_path: Path) -> bool:
    """Whether OUTDIR's grades came from another folder of the same class (a new download): True.

    Raises BatchError when they are another class's: another assignment (its name; for an OUTDIR that did
    not record it, the config file when the folder moved), or another folder of another layout.  An edited
    config of the same assignment is a regrade, not another class.
    """
    if not old:
        return False
    moved = Path(old.get("submissions", "")) != submissions.resolve()
    same_assignment = (old["assignment_name"] == config.assignment if old.get("assignment_name")
                       else not moved or Path(old.get("config", "")) == Path(config_path).resolve())
    if not same_assignment or (moved and old.get("layout") != layout.kind):
        what = (f"a {old.get('layout')} layout" if old.get("layout") != layout.kind else
                f"assignment {old.get('assignment_name') or old.get('config')}")
        raise BatchError(f"{out} holds the grades of {old.get('submissions')} ({what}), another class or assignment "
                         f"than {submissions} ({layout.kind} layout, assignment {config.assignment}): choose "
                         "another --out")
    return moved


def _grading_config(out: Path, old: dict | None, given: Path | None) -> tuple[Path, str]:
    """``given``; else, for an OUTDIR that grade-all wrote, the config it was last graded with (as regrade does: a
    plain rerun must not undo a regrade with another config); else the default assignment's.  With the note to
    print once the config is known to be good: when it is not the one OUTDIR was graded with, or is that one
    though not given.  BatchError when that one is gone and none is given."""
    from autograder.config import ConfigError
    from autograder.config import config_path as default_config

    recorded = (old or {}).get("config")
    recorded = Path(recorded) if isinstance(recorded, str) else None
    if given is None and recorded is not None:
        recorded = recorded_config(out, old)
    try:
        chosen = Path(given) if given is not None else default_config()
    except ConfigError as exc:
        raise BatchError(str(exc)) from None
    if recorded is None or recorded.resolve() == chosen.resolve():
        return chosen, ""
    if given is not None:
        return chosen, (f"note: {out} was graded with {recorded}; this run grades with {chosen}, so every student "
                        "whose grade depends on the difference is graded again")
    return recorded, (f"note: grading with the config {out} was graded with, {recorded} (give --config or "
                      "--assignment to choose another)")


def grade_all(submissions: Path, out: Path, config_path: Path | None, options: Options) -> Outcome:
    """Grade every submission under ``submissions`` into ``out`` (see the module's docstring) with the config
    ``config_path`` (None: ``_grading_config``'s choice)."""
    submissions, out = Path(submissions), Path(out)
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {out} is a file: give a folder (a new or empty one, or one grade-all wrote)")
    old = read_json(out / MANIFEST) if (out / MANIFEST).exists() else None
    config_path, note = _grading_config(out, old, config_path)
    config = _load_config(config_path, grading=True)
    if old is None and out.exists() and any(p.name != LOCK for p in out.iterdir()):
        raise BatchError(f"{out} exists and is not a grade-all output folder: choose an empty or new --out")
    if note:
        _say(options, note)
    # Not given: the attempt OUTDIR was graded with (a plain rerun must not undo --attempt first), else the latest.
    attempt = options.attempt or (old or {}).get("attempt") or "latest"
    if not options.attempt and attempt != "latest":
        _say(options, f"note: grading the {attempt} attempt, as {out} was graded (--attempt to choose)")
    options = replace(options, attempt=attempt)
    try:
        layout = discover(submissions, config.files, options.assignment, config.assignment, options.layout,
                          options.attempt)
    except LayoutError as exc:
        raise BatchError(str(exc)) from None
    _check_same_class(out, old, submissions, layout, config, config_path)
    if options.dry_run:  # nothing is graded and nothing is written
        text, ungradable = describe_mapping(layout, config, options.archive_limits)
        print(text)
        if ungradable:
            print(f"cannot be graded as they are: {', '.join(ungradable)} (grading would make error rows of them; "
                  f"exit status {EXIT_SOME_FAILED})")
        # The exit status the run would have, as far as the submissions show it before any student code runs.
        return Outcome(students=len(layout.entries), unplaced=len(layout.unplaced), ignored=len(layout.ignored),
                       without_row=layout.without_row(), errors=len(ungradable))
    _can_grade(config)
    for note in layout.notes:
        _say(options, f"note: {note}")
    for item in layout.unplaced:
        _say(options, f"not placed to any student: {item['path']}: {item['reason']}")
    # OUTDIR is made and locked only now, when the inputs are known to be good; batch.json is read again
    # under the lock (a `feedback --published` that ran meanwhile changed it).
    with options.lock(out) if options.lock else contextlib.nullcontext():
        old = read_json(out / MANIFEST) if (out / MANIFEST).exists() else None
        if _check_same_class(out, old, submissions, layout, config, config_path):
            _say(options, f"note: the class folder changed (was {old.get('submissions')}, now "
                          f"{submissions.resolve()}): the same class and assignment, so the rows are kept; "
                          "students whose submission is unchanged are not graded again")
        manifest = _manifest(submissions, layout, config_path, options, old, config.assignment)
        _record_content(manifest, old, config, config_path, out, options, everyone=True)
        # Students an interrupted run was to (re)grade are graded now even if their record looks current: that
        # run may have been a --regrade, whose point was to grade them again.
        pending = frozenset(((old or {}).get("incomplete") or {}).get("missing", []))
        outcome = run_batch(out, Path(config_path), config, layout, layout.entries, manifest, options,
                            force=options.regrade, pending=pending)
        if options.regrade and outcome.interrupted:
            outcome.resume = f"{RESUME} (with --regrade, every student is graded again)"
        if options.similarity and not outcome.interrupted:
            _similarity_step(out, config, manifest, options, outcome)
        return outcome


def _record_content(manifest: dict, old: dict | None, config: Config, config_path: Path, out: Path,
                    options: Options, everyone: bool) -> None:
    """Keep the config's content in ``manifest`` (batch.json); when it changed since ``old`` recorded it, say so
    and keep that in ``manifest["content_changed"]`` (summary.md says it).  ``everyone``: this run grades every
    student whose record was made with other content (grade-all), not only some (regrade --student)."""
    from autograder.config import content_digests, content_fingerprint

    same = bool(old and old.get("config")) and Path(old["config"]).resolve() == Path(config_path).resolve()
    digests = content_digests(config)  # the files read once: the comparison, the old records' digest, the record
    change = content_change(old, config, config_path, digests)
    if change:
        _say(options, describe_content_change(change, out, config_path, everyone))
        manifest["content_changed"] = change
    elif same and old.get("content_changed"):
        manifest["content_changed"] = old["content_changed"]
    else:  # a first run, or another config: an earlier change of the old one is moot
        manifest.pop("content_changed", None)
    if same and "content" not in old:
        # An earlier version digested the config another way (without the homework modules): its records differ.
        digest = content_fingerprint(digests)  # what config_fingerprint gives
        if any(r.get("config") != digest for r in load_records(out).values()):
            _say(options, f"note: {out} was graded by an earlier version of this toolkit, which digested the config "
                          "without its homework modules: every student it graded is graded again"
                          + ("" if everyone else " (those not named now by the next grade-all)"))
    # batch.json's record of the config's content (content_change compares a rerun's with it).
    manifest["content"] = {"sha256": content_fingerprint(digests), "files": digests}


def _similarity_step(out: Path, config: Config, manifest: dict, options: Options, outcome: Outcome) -> None:
    """similarity_report after the grades are written; a Ctrl-C or SIGTERM during it marks summary.md.

    Every grade is on disk by then, but the report is missing or half-written: batch.json's "incomplete"
    records it (``similarity: True``), summary.md says it in its INCOMPLETE banner, and the command exits
    130.  Running the same command again (every student skipped) writes the report and clears the mark.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        similarity_report(out, config, options)
    except KeyboardInterrupt:
        outcome.interrupted = outcome.similarity_interrupted = True
        manifest["incomplete"] = {"when": now(), "missing": [], "students": outcome.students, "similarity": True}
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the marking short
        try:
            render_all(out, config, manifest, only=set(), force=options.force)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    finally:
        signal.signal(signal.SIGTERM, previous)


def similarity_report(out: Path, config: Config, options: Options) -> None:
    """similarity/report.html over the graded class; a failure here is said and costs no grade."""
    try:
        from autograder.classroom import similarity

        pairs, path = similarity.report(out, config, jobs=options.jobs or default_jobs())
    except Exception as exc:  # noqa: BLE001 -- the grades are written; the report is an extra
        _say(options, f"note: no similarity report: {type(exc).__name__}: {exc}")
        return
    _say(options, similarity.describe(pairs, path))


def rediscover(manifest: dict, config: Config) -> Layout:
    """The class folder of an OUTDIR read again, as batch.json says it was read (layout, attempt, assignment)."""
    try:
        return discover(Path(manifest["submissions"]), config.files, manifest.get("assignment"), config.assignment,
                        manifest.get("layout_option"), manifest.get("attempt", "latest"))
    except LayoutError as exc:
        raise BatchError(f"cannot read the submissions again: {exc}") from None


def regrade(out: Path, students: list[str] | None, options: Options, config_path: Path | None = None) -> Outcome:
    """Grade the named students of OUTDIR (None: everyone) again from their current submissions."""
    out = Path(out)
    manifest = read_manifest(out)
    similarity_owed = bool((manifest.get("incomplete") or {}).get("similarity"))
    config_path = Path(config_path or recorded_config(out, manifest))
    config = _load_config(config_path, grading=True)
    layout = rediscover(manifest, config)
    manifest["mapping"] = layout.mapping()
    by_id = {e.student: e for e in layout.entries}
    students = list(by_id) if students is None else students
    unknown = [s for s in students if s not in by_id]
    if unknown:
        graded = load_records(out)
        gone = [s for s in unknown if s in graded]
        if gone:  # graded once, and its submission has left the class folder since
            raise BatchError(f"no submission in {manifest['submissions']} for {', '.join(map(repr, gone))}, graded "
                             f"earlier in {out}: put it back in the class folder to grade it again")
        names = {s: str(r.get("name") or "") for s, r in graded.items()} | {e.student: e.name for e in layout.entries}
        raise BatchError(unknown_students(unknown, names, out))
    _can_grade(config)
    _record_content(manifest, dict(manifest), config, config_path, out, options, everyone=students == list(by_id))
    manifest.update(config=str(config_path.resolve()), assignment_name=config.assignment, updated=now())
    outcome = run_batch(out, config_path, config, layout, [by_id[s] for s in students], manifest, options,
                        force=True)
    if outcome.interrupted:
        outcome.resume = f"{RESUME} (the same regrade grades every student it names again)"
    # A similarity report made before this regrade compares code that has changed: make it again (also one
    # that an interrupted run did not finish).
    if ((out / "similarity").exists() or similarity_owed) and not outcome.interrupted:
        _similarity_step(out, config, manifest, options, outcome)
    return outcome


def override(out: Path, student: str, test: str | None, score: float | None, reason: str, force: bool = False,
             penalty: str | None = None, remove_penalty: bool = False, extension: str | None = None,
             remove_extension: bool = False) -> tuple[str, float, str]:
    """Change one test's score for one student (score None: remove the change), or their penalty (``penalty``
    "-15", "+5" or "-10%", or ``remove_penalty``), or their extension (``extension`` "3 days, approved by prof",
    or ``remove_extension``: no score changes), and rewrite what depends on it.

    Returns the test's full name and max score ("penalty" or "extension" and the class's max score), and for a
    penalty or bonus set, what it is and how it applies, with the total it gives ("bonus +15 points (applied: +5,
    capped at the maximum 100); total 100 / 100"; "" otherwise).
    """
    out = Path(out)
    manifest = read_manifest(out)
    records = load_records(out)
    if student not in records:
        raise BatchError(no_such_student(student, records, out))
    config = graded_config(out, manifest)
    try:
        check_grades_csv(out, manifest, force, _expected_grades(out, manifest))
        if penalty is not None or remove_penalty:
            set_penalty(out, records, student, penalty, reason)
            name, max_score = "penalty", config.max_score
        elif extension is not None or remove_extension:
            set_extension(out, records, student, extension)
            name, max_score = "extension", config.max_score
        else:
            name, max_score = set_override(out, records, student, test or "", score, reason)
    except GradebookError as exc:
        raise BatchError(str(exc)) from None
    render_all(out, config, manifest, only={student}, force=force)
    applied = ""
    if penalty is not None:
        doc = results_document(records[student], load_overrides(out, records).get(student, {}), config)
        applied = labelled(doc["extra_data"]["penalty"])
        if doc["extra_data"]["status"] == "graded":
            applied += f"; total {doc['score']:g} / {config.max_score:g}"
    return name, max_score, applied


def group_partners(out: Path, student: str) -> list[str]:
    """The other students who handed in ``student``'s submission with them (one group hand-in, graded once for
    each member): an override, penalty or extension is each member's own, so the staff are reminded of them."""
    from autograder.classroom.similarity import group_submissions

    groups = group_submissions(load_records(Path(out)))
    return sorted(s for s, source in groups.items() if s != student and source == groups.get(student))


def comment(out: Path, text: str, cluster: str | None = None, student: str | None = None,
            remove: bool = False, force: bool = False) -> tuple[list[str], list[str]]:
    """Attach a staff comment to a cluster's members or one student (see clusters.py); rewrite their files.

    Returns the students changed and those who had this comment already (clusters.add_comment).
    """
    from autograder.classroom.clusters import add_comment, independent_functions

    out = Path(out)
    manifest = read_manifest(out)
    records = load_records(out)
    config = graded_config(out, manifest)  # before comments.yaml changes
    try:
        check_grades_csv(out, manifest, force, _expected_grades(out, manifest))
        members, already = add_comment(out, records, text, cluster=cluster, student=student, remove=remove,
                                       independent=independent_functions(config))
    except GradebookError as exc:
        raise BatchError(str(exc)) from None
    render_all(out, config, manifest, only=set(members), records=records, force=force)
    return members, already


def rerender(out: Path, published: bool | None, after_due_date: bool | None, force: bool = False) -> dict:
    """Rewrite every student's feedback (e.g. after grades are published)."""
    out = Path(out)
    manifest = read_manifest(out)
    if published is not None:
        manifest["published"] = published
    if after_due_date is not None:
        manifest["after_due_date"] = after_due_date
    manifest["updated"] = now()
    config = graded_config(out, manifest)
    records = load_records(out)
    overrides = load_overrides(out, records)  # a bad overrides.yaml stops us before batch.json changes
    comments = load_comments(out, records)
    check_grades_csv(out, manifest, force, _expected_grades(out, manifest))
    write_json_atomic(out / MANIFEST, manifest)
    render_all(out, config, manifest, records=records, overrides=overrides, comments=comments, force=force)
    return manifest


def _own_peak_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def describe(outcome: Outcome, out: Path) -> str:
    """The closing lines: what was done, how fast, and where the files are."""
    lines = []
    if outcome.similarity_interrupted:
        lines.append("interrupted while writing the similarity report: every grade is written, the similarity "
                     "report was not; run the same command again (summary.md says so until then)")
    elif outcome.interrupted:
        lines.append(f"interrupted: {outcome.pending} of {outcome.students} students are pending (not graded, or "
                     "not graded again, by this run: their rows in grades.csv say status pending and have no "
                     f"scores); {outcome.resume} (summary.md and grades.csv are marked incomplete until then)")
    per = outcome.seconds_per_submission
    if per:
        rate = 60 * len(per) / outcome.seconds if outcome.seconds else 0
        lines.append(f"this run: {len(per)} submission{'s' * (len(per) != 1)} in {outcome.seconds:.1f} s with "
                     f"{outcome.jobs} worker{'s' * (outcome.jobs != 1)} "
                     f"({rate:.0f} per minute; median {statistics.median(per):.2f} s each); peak memory: "
                     f"{outcome.worker_peak_kb / 1024:.0f} MB per worker, {outcome.child_peak_kb / 1024:.0f} MB per "
                     f"student process, {_own_peak_kb() / 1024:.0f} MB for this process")
    lines.append(f"{outcome.graded} of {outcome.students} graded, {outcome.errors} could not be graded"
                 + (f", {outcome.pending} pending" if outcome.pending else "")
                 + (f", {outcome.skipped} already graded before" if outcome.skipped else ""))
    if outcome.ignored:
        lines.append(f"{outcome.ignored} files or folders of the download were not given to any student's grading "
                     "(the layout's choices: online text, receipts, other attempts or assignments): summary.md's "
                     "Not graded lists them, with every file left out inside a submission")
    if outcome.without_row:
        one = len(outcome.without_row) == 1
        lines.append(f"{counted(len(outcome.without_row), 'student')} of the download handed in nothing to grade "
                     f"and {'has' if one else 'have'} no row in grades.csv (enter {'that' if one else 'their'} grade "
                     "in the LMS yourself): "
                     f"{', '.join(outcome.without_row[:8])}{' ...' if len(outcome.without_row) > 8 else ''} "
                     "(summary.md's Not graded says what they handed in)")
    if outcome.unplaced:
        lines.append(f"{outcome.unplaced} files or folders belong to no student and were not graded: listed in "
                     f"summary.md (exit status {EXIT_UNPLACED})")
    if outcome.gone:
        lines.append(f"{len(outcome.gone)} students graded earlier are not in the class folder any more; their rows "
                     f"are kept (marked in grades.csv and summary.md): {', '.join(outcome.gone[:8])}"
                     f"{' ...' if len(outcome.gone) > 8 else ''}")
    if outcome.reference_check:
        lines.append(describe_reference_check(outcome.reference_check))
    lines += describe_stale(outcome.stale, out)
    if outcome.review_comments:
        lines.append(f"comments to review: {counted(outcome.review_comments, 'comment')} to one student written about "
                     "an earlier submission (summary.md's Comments to review lists them)")
    lines.append(f"grades: {out / 'grades.csv'}   summary: {out / 'summary.md'}   feedback: {out / 'feedback'}/")
    return "\n".join(lines)
