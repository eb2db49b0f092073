"""How fast a whole class is graded (`python -m autograder grade-all`), and in how much memory.

Generates N synthetic submissions (the reference, the correct variants, the
single-bug mutants of tests/corpus/mutants.yaml, untouched and half-done
templates; one in ten zipped, a few broken zips), grades them with grade-all,
and prints submissions per minute, the median and 90th percentile time per
submission inside a worker, the peak memory of a worker and of a student's
process, and the time of a rerun that finds everything graded.  The class is
graded twice in one run, interleaved with the floor (`python -c "import
numpy"`): with each student's child forked from the worker's fork server, and
with each child starting Python itself (``AUTOGRADER_FORK_SERVER=0``); the
cost per submission and core (wall x workers / submissions) is printed as a
multiple of the floor (target: 1x), beside the CPU of grading one submission
in one process with no child (``in_process``) and the part of it spent inside
the student's functions: what no sandbox can go below.  Then, on one
submission, the wall time of `otter run` and `nbgrader autograde` when they
are installed.  Not a test: the machines are shared, so the figures are for
reading, not for asserting.  Targets: 1,000 submissions in under 5 minutes on
2 cores; under 150 MB per worker; 1x the floor per submission and core.

    python bench/bench_batch.py [--n 1000] [--jobs J]     (BENCH_QUICK=1: --n 60)
    python bench/bench_batch.py --generate DIR --n 40      (only write a class folder)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "hw_rnn"
TEMPLATES = ROOT / "student_templates" / "hw_rnn"
VARIANTS = sorted(p.parent for p in (ROOT / "tests" / "submissions" / "variants").glob("*/rnn_layers.py"))
CONFIG = ROOT / "assignments" / "hw_rnn" / "assignment.yaml"
FILES = tuple(yaml.safe_load(CONFIG.read_text())["submission"]["files"])
TARGET_PER_MINUTE = 1000 / 5
TARGET_WORKER_MB = 150
TARGET_FLOOR_MULTIPLE = 1.0  # grade-all: wall x workers / submissions, against python -c "import numpy"


def _write(folder: Path, sources: dict[str, Path], edits: list[dict] = ()) -> None:
    folder.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(sources[name], folder / name)
    for edit in edits:
        path = folder / edit["file"]
        path.write_text(path.read_text().replace(edit["find"], edit["replace"]))


def generate(root: Path, n: int, seed: int = 0) -> dict[str, int]:
    """Write n student submissions under root; return how many of each kind."""
    rng = random.Random(seed)
    corpus = yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())
    root.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, int] = {}
    reference = {f: SOLUTIONS / f for f in FILES}
    for k in range(n):
        student = f"s{k:05d}"
        folder = root / student
        roll = rng.random()
        if k % 97 == 96:
            kind = "broken zip"
            (root / f"{student}.zip").write_bytes(b"PK\x03\x04 not really a zip")
            kinds[kind] = kinds.get(kind, 0) + 1
            continue
        if roll < 0.15:
            kind = "reference"
            _write(folder, reference)
        elif roll < 0.25:
            kind = "variant"
            variant = rng.choice(VARIANTS)
            # A variant holds the files it writes differently; the rest is the reference's.
            _write(folder, {f: variant / f if (variant / f).exists() else reference[f] for f in FILES})
        elif roll < 0.85:
            kind = "mutant"
            _write(folder, reference, rng.choice(corpus)["edits"])
        elif roll < 0.93:
            kind = "template"
            _write(folder, {f: TEMPLATES / f for f in FILES})
        else:
            kind = "half done"
            _write(folder, {**{f: TEMPLATES / f for f in FILES}, "rnn_layers.py": SOLUTIONS / "rnn_layers.py"})
        if k % 10 == 3:  # some students hand in a zip of their folder
            with zipfile.ZipFile(root / f"{student}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for name in FILES:
                    zf.write(folder / name, f"{student}/{name}")
            shutil.rmtree(folder)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _grade_all(klass: Path, out: Path, jobs: int | None, env: dict | None = None
               ) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "autograder", "grade-all", str(klass), "--out", str(out), "--no-progress"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - start, proc


def _floor(repeat: int = 5) -> float:
    """The median wall time of ``python -c "import numpy"`` (from bytecode, as the grader starts)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _verdicts(out: Path) -> dict:
    """Each student's per-test scores and messages (results.json without its timings)."""
    found = {}
    for path in (out / "raw").glob("*.json"):
        results = json.loads(path.read_text()).get("results") or {}
        found[path.name] = [(t.get("name"), t.get("score"), t.get("output") or "") for t in results.get("tests", [])]
    return found


def _workers(proc: subprocess.CompletedProcess) -> int:
    found = re.search(r"(\d+) workers?", proc.stderr)
    return int(found.group(1)) if found else os.cpu_count() or 1


def _other_tool(label: str, exe: str, env_var: str, command) -> str:
    """The wall time of another grader on one submission, when it is installed and configured."""
    if shutil.which(exe) is None:
        return f"{label}: not installed"
    target = os.environ.get(env_var)
    if not target:
        return f"{label}: installed; set {env_var} to time it on a submission (see bench/bench_batch.py)"
    start = time.perf_counter()
    proc = subprocess.run(command(target), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    return f"{label}: {seconds:.2f} s on one submission ({status})"


def in_process(klass: Path, limit: int) -> dict:
    """The CPU of grading each submission folder of ``klass`` in this process, with no child and no fork: the
    grader's own work plus the student's calls (``sandbox/inprocess.py``, messages still encoded as for a
    child), and the part of it spent inside the student's functions.  Medians in seconds over at most
    ``limit`` folders, after one grading that loads the reference."""
    sys.path.insert(0, str(ROOT))
    from autograder.config import command_config
    from autograder.grading.grader import grade, load_reference
    from autograder.sandbox import child
    from autograder.sandbox.inprocess import InProcessBox
    from autograder.submissions.locate import find_files

    config = command_config(str(CONFIG))
    load_reference(config)
    inside = [0.0]

    def timed(op):  # the student's function runs within these two operations of the child's server
        def run(self, msg):
            start = time.perf_counter()
            try:
                return op(self, msg)
            finally:
                inside[0] += time.perf_counter() - start
        return run

    child.Child.op_call, child.Child.op_call_many = timed(child.Child.op_call), timed(child.Child.op_call_many)
    folders = sorted(p for p in klass.iterdir() if p.is_dir())[: limit + 1]
    total, student = [], []
    for k, folder in enumerate(folders):
        inside[0] = 0.0
        start = time.process_time()
        grade(folder, config, box=InProcessBox(folder, find_files(folder, config.files)[0], config.limits))
        if k:  # the first loads the reference
            total.append(time.process_time() - start)
            student.append(inside[0])
    return {"graded": len(total), "total": statistics.median(total), "student": statistics.median(student)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser.add_argument("--n", type=int, default=60 if quick else 1000, help="number of submissions")
    parser.add_argument("--jobs", type=int, help="workers (default: grade-all's, one per core)")
    parser.add_argument("--generate", type=Path, help="only write a class folder of --n submissions here")
    parser.add_argument("--keep", action="store_true", help="keep the class and OUTDIR (their path is printed)")
    parser.add_argument("--in-process", type=Path, help=argparse.SUPPRESS)  # in_process() in its own Python
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(args.in_process, args.n)))
        return
    if args.generate:
        kinds = generate(args.generate, args.n)
        print(f"wrote {args.n} submissions to {args.generate}: "
              + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        klass, out = tmp / "class", tmp / "out"
        kinds = generate(klass, args.n)
        print(f"class of {args.n}: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
        # Before: each student's child starts Python and numpy (AUTOGRADER_FORK_SERVER=0); after: forked from
        # the worker's fork server.  Interleaved with the floor, in one run, so that load weighs on all alike.
        floors = [_floor()]
        before, proc_before = _grade_all(klass, tmp / "out-before", args.jobs, {"AUTOGRADER_FORK_SERVER": "0"})
        floors.append(_floor())
        seconds, proc = _grade_all(klass, out, args.jobs)
        floors.append(_floor())
        if proc.returncode not in (0, 1) or proc_before.returncode not in (0, 1):
            print(proc.stderr or proc_before.stderr, file=sys.stderr)
            raise SystemExit(f"grade-all failed with exit status {proc.returncode}")
        records = [json.loads(p.read_text()) for p in (out / "raw").glob("*.json")]
        per = sorted(r["seconds"] for r in records if "seconds" in r and r["status"] == "graded")
        graded = sum(r["status"] == "graded" for r in records)
        worker_mb = max(r.get("worker_peak_kb", 0) for r in records) / 1024
        child_mb = max(r.get("child_peak_kb", 0) for r in records) / 1024
        old = [json.loads(p.read_text()) for p in (tmp / "out-before" / "raw").glob("*.json")]
        old_worker_mb = max(r.get("worker_peak_kb", 0) for r in old) / 1024
        old_child_mb = max(r.get("child_peak_kb", 0) for r in old) / 1024
        now, then = _verdicts(out), _verdicts(tmp / "out-before")
        same = {k: [t[:2] for t in v] for k, v in now.items()} == {k: [t[:2] for t in v] for k, v in then.items()}
        # A bug that leaves part of an np.empty array unwritten reads whatever memory held: its message's figures
        # change from one grading to the next, whoever grades it.
        messages = sum(a != b for k in now for a, b in zip(now[k], then.get(k, [])))
        rate = 60 * len(records) / seconds
        jobs = _workers(proc)
        floor = statistics.median(floors)
        print(f"grade-all, {len(records)} submissions, {jobs} workers on {os.cpu_count()} cores: {seconds:.1f} s "
              f"wall ({rate:.0f} submissions per minute; target {TARGET_PER_MINUTE:.0f}: "
              f"{'met' if rate >= TARGET_PER_MINUTE else 'NOT met'}); each child starting Python: {before:.1f} s")
        print(f"  graded {graded}, could not grade {len(records) - graded} (exit status {proc.returncode}); "
              f"scores {'identical' if same else 'DIFFERENT'} both ways, {messages} messages differ")
        print(f"  per submission in a worker: median {statistics.median(per):.3f} s, "
              f"p90 {per[int(0.9 * (len(per) - 1))]:.3f} s")
        main_mb = re.search(r"(\d+) MB for this process", proc.stderr)
        print(f"  peak memory: worker {worker_mb:.0f} MB (target < {TARGET_WORKER_MB}: "
              f"{'met' if worker_mb < TARGET_WORKER_MB else 'NOT met'}; {old_worker_mb:.0f} MB with children "
              f"starting Python), student process {child_mb:.0f} MB ({old_child_mb:.0f} MB), "
              f"grade-all's own process {main_mb.group(1) if main_mb else '?'} MB")
        print(f"\nper submission and core (wall x workers / submissions), as multiples of the floor "
              f"(python -c 'import numpy', {floor:.3f} s, median of {5 * len(floors)}):")
        for label, wall in (("children forked from a fork server", seconds),
                            ("each child starting Python", before)):
            cost = wall * jobs / len(records)
            print(f"  {label:<36} {cost:.3f} s = {cost / floor:5.2f}x   (target <= {TARGET_FLOOR_MULTIPLE:g}x)")
        # The same work without any child: what no sandbox can go below.
        inproc = json.loads(subprocess.run([sys.executable, __file__, "--in-process", str(klass), "--n", "100"],
                                           check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        print(f"  one submission graded in one process, no child (CPU, median of {inproc['graded']}): "
              f"{inproc['total']:.3f} s = {inproc['total'] / floor:.2f}x,")
        print(f"    of which inside the student's functions {inproc['student']:.3f} s = "
              f"{inproc['student'] / floor:.2f}x: the calls the tests make, whoever runs them")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        again, proc = _grade_all(klass, out, args.jobs)
        print(f"  rerun with everything graded (resume): {again:.1f} s")
        one = next(p for p in sorted(klass.iterdir()) if p.is_dir())
        print(_other_tool("otter run", "otter", "BENCH_OTTER_AUTOGRADER",
                          lambda zip_path: ["otter", "run", "-a", zip_path, "-o", str(tmp / "otter"), str(one)]))
        print(_other_tool("nbgrader autograde", "nbgrader", "BENCH_NBGRADER_COURSE",
                          lambda course: ["nbgrader", "autograde", "hw_rnn", "--force",
                                          f"--CourseDirectory.root={course}"]))
        if args.keep:
            print(f"kept: {klass} and {out}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
