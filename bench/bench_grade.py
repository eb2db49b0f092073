"""How long grading one submission takes, end to end (`python -m autograder grade`).

Prints the median and 90th percentile wall time per submission for the
reference, the untouched templates and the whole mutant corpus
(tests/corpus/mutants.yaml, each mutant graded once per mode), plus the floor:
starting Python and importing numpy.  Each is measured twice in the same run,
interleaved so that the machine's load weighs on both alike:

* before: every small gradient checked coordinate by coordinate
  (``AUTOGRADER_FULL_GRADCHECK=1``, see autograder/grading/gradcheck.py);
* after: a few strict random directional derivatives first, the coordinates
  only when those do not confirm the gradients.

The summary gives grading the reference, and the median over the corpus, as
multiples of the floor (targets: 3x and 4x), with the load average.  The
grader's modules are byte-compiled first, as numpy's are.  Not a
test: these machines are shared, so the figures are for reading, not for
asserting.

    python bench/bench_grade.py [--repeat 15] [--mutants 0] [--baseline COMMIT]

``--baseline COMMIT`` makes "before" the grader of an earlier commit, in a
temporary git worktree, interleaved with this one in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.grading.gradcheck import FULL_CHECK_ENV  # noqa: E402 -- needs ROOT on the path

SOLUTIONS = ROOT / "solutions" / "hw_rnn"
CORPUS = ROOT / "tests" / "corpus" / "mutants.yaml"
MODES = (("before", "1"), ("after", "0"))  # the value of FULL_CHECK_ENV
TARGETS = {"reference": 3.0, "mutant corpus (median)": 4.0}


def mutants(folder: Path, limit: int) -> list[tuple[str, Path]]:
    """The corpus's submissions, built as tests/conftest.make_submission does; ``limit`` > 0 keeps that many,
    evenly spread over the corpus."""
    corpus = yaml.safe_load(CORPUS.read_text())
    if 0 < limit < len(corpus):
        corpus = corpus[:: len(corpus) // limit][:limit]
    built = []
    for entry in corpus:
        target = folder / entry["name"]
        shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
        for edit in entry["edits"]:
            path = target / edit["file"]
            path.write_text(path.read_text().replace(edit["find"], edit["replace"], 1))
        built.append((entry["name"], target))
    return built


def run_once(cmd: list[str], env: dict | None = None, cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def row(label: str, times: list[float]) -> str:
    times = sorted(times)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
    return f"{label:<48} median {statistics.median(times):6.3f} s   p90 {p90:6.3f} s   (n={len(times)})"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="gradings of the reference and the templates")
    parser.add_argument("--mutants", type=int, default=0, help="how many mutants of the corpus (0: all)")
    parser.add_argument("--baseline", help="a git commit: 'before' is the grader of that commit (checked out in a "
                                           "temporary worktree) instead of every coordinate checked")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_grade_"))
    envs = {mode: {**os.environ, FULL_CHECK_ENV: value} for mode, value in MODES}
    folders = {mode: ROOT for mode, _ in MODES}
    if args.baseline:
        envs["before"] = dict(os.environ)
        folders["before"] = tmp / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folders["before"]), args.baseline],
                       check=True, capture_output=True)

    def grade(folder: Path, mode: str) -> float:
        cmd = [sys.executable, "-m", "autograder", "grade", str(folder), "--results", str(tmp / "r.json"), "--quiet"]
        return run_once(cmd, envs[mode], folders[mode])

    try:
        # The floor imports numpy from its bytecode: the grader starts from bytecode too, as an installed tool
        # does, even where PYTHONDONTWRITEBYTECODE would have it compile every module on every run.
        for folder in set(folders.values()):
            subprocess.run([sys.executable, "-m", "compileall", "-q", "autograder", "solutions"], cwd=folder,
                           check=True, stdout=subprocess.DEVNULL)
        print(f"load average at the start: {load()}")
        singles = {"reference": SOLUTIONS, "templates": ROOT / "student_templates" / "hw_rnn"}
        floor: list[float] = []
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeat):
            floor.append(run_once([sys.executable, "-c", "import numpy"]))
            for label, folder in singles.items():
                for mode, _ in MODES:
                    times.setdefault((label, mode), []).append(grade(folder, mode))
        for _, folder in mutants(tmp / "corpus", args.mutants):
            for mode, _ in MODES:
                times.setdefault(("mutant corpus (median)", mode), []).append(grade(folder, mode))
        print(row("floor: python -c 'import numpy'", floor))
        for (label, mode), values in times.items():
            print(row(f"grade {label}, {mode}", values))
        base = statistics.median(floor)
        before_is = f"the grader of {args.baseline}" if args.baseline else "every coordinate checked"
        print(f"\nas multiples of the floor ({base:.3f} s); before = {before_is}, after = this grader")
        for label, target in TARGETS.items():
            before, after = (statistics.median(times[(label, mode)]) / base for mode, _ in MODES)
            print(f"  {label:<26} before {before:5.2f}x   after {after:5.2f}x   (target <= {target:g}x)")
        print(f"load average at the end: {load()}")
    finally:
        if args.baseline:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folders["before"])],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
