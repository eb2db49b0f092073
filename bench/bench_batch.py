"""How fast a whole class is graded (`python -m autograder grade-all`), and in how much memory.

Generates N synthetic submissions (the reference, the correct variants, the
single-bug mutants of tests/corpus/mutants.yaml, untouched and half-done
templates; one in ten zipped, a few broken zips), grades them with grade-all,
and prints submissions per minute, the median and 90th percentile time per
submission inside a worker, the peak memory of a worker and of a student's
process, and the time of a rerun that finds everything graded.  Then, on one
submission, the wall time of `otter run` and `nbgrader autograde` when they
are installed.  Not a test: the machines are shared, so the figures are for
reading, not for asserting.  Targets: 1,000 submissions in under 5 minutes on
2 cores; under 150 MB per worker.

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


def _grade_all(klass: Path, out: Path, jobs: int | None) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "autograder", "grade-all", str(klass), "--out", str(out), "--no-progress"]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - start, proc


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser.add_argument("--n", type=int, default=60 if quick else 1000, help="number of submissions")
    parser.add_argument("--jobs", type=int, help="workers (default: grade-all's, one per core)")
    parser.add_argument("--generate", type=Path, help="only write a class folder of --n submissions here")
    parser.add_argument("--keep", action="store_true", help="keep the class and OUTDIR (their path is printed)")
    args = parser.parse_args()
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
        seconds, proc = _grade_all(klass, out, args.jobs)
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"grade-all failed with exit status {proc.returncode}")
        records = [json.loads(p.read_text()) for p in (out / "raw").glob("*.json")]
        per = sorted(r["seconds"] for r in records if "seconds" in r and r["status"] == "graded")
        graded = sum(r["status"] == "graded" for r in records)
        worker_mb = max(r.get("worker_peak_kb", 0) for r in records) / 1024
        child_mb = max(r.get("child_peak_kb", 0) for r in records) / 1024
        rate = 60 * len(records) / seconds
        jobs = proc.stderr.split(" worker")[0].split()[-1] if " worker" in proc.stderr else "?"
        print(f"grade-all, {len(records)} submissions, {jobs} workers on {os.cpu_count()} cores: {seconds:.1f} s "
              f"wall ({rate:.0f} submissions per minute; target {TARGET_PER_MINUTE:.0f}: "
              f"{'met' if rate >= TARGET_PER_MINUTE else 'NOT met'})")
        print(f"  graded {graded}, could not grade {len(records) - graded} (exit status {proc.returncode})")
        print(f"  per submission in a worker: median {statistics.median(per):.3f} s, "
              f"p90 {per[int(0.9 * (len(per) - 1))]:.3f} s")
        main_mb = re.search(r"(\d+) MB for this process", proc.stderr)
        print(f"  peak memory: worker {worker_mb:.0f} MB (target < {TARGET_WORKER_MB}: "
              f"{'met' if worker_mb < TARGET_WORKER_MB else 'NOT met'}), student process {child_mb:.0f} MB, "
              f"grade-all's own process {main_mb.group(1) if main_mb else '?'} MB")
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
