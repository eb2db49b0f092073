"""What one Gradescope run costs: CPU time and peak memory of run_autograder, children included.

Builds the zip, unzips it into a root laid out like Gradescope's, and runs its
run_autograder on the reference, the templates and a few single-bug mutants.
Per submission it prints the wall time here, the CPU time (user + system of
run_autograder and every process it waited for: the wrapper, the grader, the
student's child), the largest single process (max RSS) and the peak of all of
them together (RSS summed over the process tree, sampled every 10 ms).
Gradescope gives an autograder half a CPU and 768 MB by default: the wall time
there is about CPU time / 0.5.  Not a test: these machines are shared, so the
figures are for reading, not for asserting.

    python bench/bench_gradescope.py [--repeat 5] [--zip dist/autograder.zip]

As root, set AUTOGRADER_CHILD_PYTHON to a Python other users can run (`make bench-gradescope` does).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.integrations.gradescope import build, unpack  # noqa: E402

SOLUTIONS = ROOT / "solutions" / "hw_rnn"
CONFIG = ROOT / "assignments" / "hw_rnn" / "assignment.yaml"
FILES = tuple(yaml.safe_load(CONFIG.read_text())["submission"]["files"])  # every file students upload
MUTANTS = ("rnn_backward_no_recurrent_gradient", "lstm_gates_concat_order_swapped", "softmax_unstable_no_max_shift")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
CPU_SHARE = 0.5  # Gradescope's default
MEMORY_MB = 768  # Gradescope's default


def mutant(folder: Path, name: str) -> Path:
    corpus = yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())
    entry = next(m for m in corpus if m["name"] == name)
    folder.mkdir()
    for f in FILES:
        shutil.copyfile(SOLUTIONS / f, folder / f)
    for edit in entry["edits"]:
        path = folder / edit["file"]
        path.write_text(path.read_text().replace(edit["find"], edit["replace"]))
    return folder


def tree_rss_kb(top: int) -> int:
    """Resident memory of a process and all its descendants, in KB."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [top]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_once(zip_path: Path, submission: Path) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench_gs_root_"))
    os.chmod(root, 0o755)
    try:
        unpack(zip_path, root)
        for f in FILES:
            shutil.copyfile(submission / f, root / "submission" / f)
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
        start = time.perf_counter()
        proc = subprocess.Popen([str(root / "run_autograder")], cwd=root, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_kb(proc.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        results = json.loads((root / "results" / "results.json").read_text())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024,
            "tree_mb": peak[0] / 1024, "score": results["score"],
            "total": sum(t["max_score"] for t in results["tests"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--zip", type=Path, help="an autograder zip (default: build one from this repository)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_gs_"))
    try:
        zip_path = args.zip or build(tmp / "autograder.zip", ROOT / "assignments" / "hw_rnn" / "assignment.yaml")
        subjects = [("reference", SOLUTIONS), ("templates", ROOT / "student_templates" / "hw_rnn")]
        subjects += [(f"mutant {m}", mutant(tmp / m, m)) for m in MUTANTS]
        print(f"{'submission':<44} {'score':>9} {'wall s':>7} {'CPU s':>6} {'CPU/0.5':>7} "
              f"{'max RSS MB':>10} {'tree MB':>8}   (medians of {args.repeat}; tree: peak of the summed RSS)")
        worst_cpu = worst_tree = 0.0
        for label, folder in subjects:
            runs = [run_once(zip_path, folder) for _ in range(args.repeat)]

            def med(key: str, runs: list[dict] = runs) -> float:
                return statistics.median(r[key] for r in runs)

            worst_cpu = max(worst_cpu, max(r["cpu"] for r in runs))
            worst_tree = max(worst_tree, max(r["tree_mb"] for r in runs))
            print(f"{label:<44} {runs[0]['score']:>4g}/{runs[0]['total']:<4g} {med('wall'):>7.2f} {med('cpu'):>6.2f} "
                  f"{med('cpu') / CPU_SHARE:>7.2f} {med('max_rss_mb'):>10.1f} {med('tree_mb'):>8.1f}")
        print(f"\nworst of all runs: CPU {worst_cpu:.2f} s, so about {worst_cpu / CPU_SHARE:.1f} s of wall time on "
              f"half a CPU; peak memory of the whole tree {worst_tree:.0f} MB of Gradescope's {MEMORY_MB} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
