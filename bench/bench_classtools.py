"""Figures for the class tools: ``python bench/bench_classtools.py [--students 500] [--preview-class 6]``.

1. The similarity report over a class of generated submissions: each student's files are drawn from
   the reference, the correct variants and the templates, with local names renamed at random (so no
   two are the same text), and hashes of wrong values for some failing tests.  Prints the seconds and
   the peak memory of this process (similarity only: nothing is graded).
2. ``regrade --dry-run`` (the preview) against a plain ``regrade --all`` on a small graded class,
   after a change of one test's points.

Prints figures; asserts nothing (not a test).  Needs AUTOGRADER_CHILD_PYTHON for part 2, as grading does.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.classroom.batch import default_jobs  # noqa: E402
from autograder.config import command_config  # noqa: E402

CONFIG = ROOT / "assignments" / "hw_rnn" / "assignment.yaml"
SOLUTIONS, TEMPLATES = ROOT / "solutions" / "hw_rnn", ROOT / "student_templates" / "hw_rnn"
VARIANTS = sorted(p for p in (ROOT / "tests" / "submissions" / "variants").iterdir() if p.is_dir())
LOCALS = ["cache", "out", "grads", "probs", "loss", "scores", "N", "H", "T", "D", "a", "da", "ds", "dh", "dc"]


def generated_class(out: Path, students: int, config, seed: int = 0) -> None:
    """OUTDIR-like folder: code/<id>/ and raw/<id>.json with wrong-value hashes, for similarity.report."""
    rng = random.Random(seed)
    tests = [t.full_name for t in config.tests]
    bugs = [{t: f"{rng.getrandbits(64):016x}" for t in rng.sample(tests, 5)} for _ in range(30)]
    for k in range(students):
        sid = f"s{k:04d}"
        folder = out / "code" / sid
        folder.mkdir(parents=True)
        for name in config.files:
            bases = [SOLUTIONS, TEMPLATES] + [v for v in VARIANTS if (v / name).exists()]
            text = (rng.choice(bases) / name).read_text()
            for local in rng.sample(LOCALS, 4):
                text = re.sub(rf"(?<![.\w]){local}\b", f"{local}_{rng.randrange(100)}", text)
            (folder / name).write_text(text)
        digests = dict(rng.choice(bugs)) if rng.random() < 0.6 else {}
        (out / "raw").mkdir(exist_ok=True)
        (out / "raw" / f"{sid}.json").write_text(json.dumps({"student": sid, "file": sid, "status": "graded",
                                                             "digests": digests, "results": {"tests": []}}))


def bench_similarity(students: int) -> None:
    from autograder.classroom import similarity

    config = command_config(str(CONFIG))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        generated_class(out, students, config)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        pairs, path = similarity.report(out, config, jobs=default_jobs())
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        flagged = sum(p.code_flag or p.values_flag for p in pairs)
        print(f"similarity over {students} generated submissions: {seconds:.1f} s, peak memory {peak / 1024:.0f} MB "
              f"(before: {before / 1024:.0f} MB); {len(pairs)} pairs with any evidence, {flagged} flagged; "
              f"report.html {path.stat().st_size / 1e6:.1f} MB")


def _cli(*args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return time.perf_counter() - start


def bench_preview(size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = yaml.safe_load(CONFIG.read_text())
        raw["reference"], raw["templates"] = str(SOLUTIONS), str(TEMPLATES)
        # The copy lives elsewhere: its homework and behaviours modules are the assignment's own.
        raw["homework"], raw["behaviours"] = str(CONFIG.parent / "homework.py"), str(CONFIG.parent / "behaviours.py")
        config = tmp / "assignment.yaml"
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        for k in range(size):
            shutil.copytree([SOLUTIONS, TEMPLATES, *VARIANTS][k % (2 + len(VARIANTS))], tmp / "class" / f"s{k}")
            for name in command_config(str(CONFIG)).files:  # variants hold only the files they rewrite
                if not (tmp / "class" / f"s{k}" / name).exists():
                    shutil.copy(SOLUTIONS / name, tmp / "class" / f"s{k}" / name)
        out = str(tmp / "out")
        first = _cli("grade-all", str(tmp / "class"), "--out", out, "--config", str(config), "--no-progress",
                     "--no-similarity")
        raw["questions"][0]["tests"][0]["points"] += 1
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        dry = _cli("regrade", out, "--dry-run", "--config", str(config), "--no-progress")
        real = _cli("regrade", out, "--all", "--config", str(config), "--no-progress")
        print(f"class of {size}: grade-all {first:.1f} s; regrade --dry-run {dry:.1f} s; regrade --all {real:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--preview-class", type=int, default=6)
    args = parser.parse_args()
    bench_similarity(args.students)
    if args.preview_class:
        bench_preview(args.preview_class)


if __name__ == "__main__":
    main()
