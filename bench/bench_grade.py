"""How long grading one submission takes, end to end (`python -m autograder grade`).

Prints the median and 90th percentile wall time per submission for the
reference, the untouched templates and a few single-bug mutants, plus the
floor: starting Python and importing numpy.  Not a test: these machines are
shared, so the figures are for reading, not for asserting.

    python bench/bench_grade.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "hw_rnn"
MUTANTS = ("rnn_backward_no_recurrent_gradient", "lstm_gates_concat_order_swapped", "softmax_unstable_no_max_shift")


def mutant(folder: Path, name: str) -> Path | None:
    corpus = yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())
    entry = next((m for m in corpus if m["name"] == name), None)
    if entry is None:
        print(f"(mutant {name} not in the corpus: skipped)")
        return None
    folder.mkdir()
    for f in ("rnn_layers.py", "lstm_layers.py"):
        shutil.copyfile(SOLUTIONS / f, folder / f)
    for edit in entry["edits"]:
        path = folder / edit["file"]
        path.write_text(path.read_text().replace(edit["find"], edit["replace"]))
    return folder


def timed(cmd: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def row(label: str, times: list[float]) -> str:
    times = sorted(times)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
    return f"{label:<45} median {statistics.median(times):6.3f} s   p90 {p90:6.3f} s   (n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_grade_"))
    try:
        subjects = [("reference", SOLUTIONS), ("templates", ROOT / "student_templates" / "hw_rnn")]
        for name in MUTANTS:
            folder = mutant(tmp / name, name)
            if folder is not None:
                subjects.append((f"mutant {name}", folder))
        print(row("floor: python -c 'import numpy'", timed([sys.executable, "-c", "import numpy"], args.repeat)))
        every = []
        for label, folder in subjects:
            cmd = [sys.executable, "-m", "autograder", "grade", str(folder), "--results", str(tmp / "r.json"),
                   "--quiet"]
            times = timed(cmd, args.repeat)
            every += times
            print(row(f"grade {label}", times))
        print(row("grade, all submissions above", every))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
