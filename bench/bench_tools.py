"""Wall time to grade one notebook submission with `otter run`, `nbgrader autograde` and the native grader.

Builds the otter autograder zip and an nbgrader course in a temporary folder
(timed once), fills each tool's student notebook with the reference solution,
then times, in rounds so that all three see the same machine load:

- `otter run` on the filled notebook (a new process and kernel per submission);
- `nbgrader autograde <assignment> --student S --force` on the same code, one
  student per command, and once for a batch of students in one command;
- `python -m autograder grade <assignment>.ipynb` (the native grader on otter's notebook);
- the checks alone: every test through `checks_api.run_test` in this process,
  which is the grading work otter and nbgrader do inside their kernel.

Not a test: the machine is shared, so the figures are for reading.

    python bench/bench_tools.py [--assignment hw_rnn] [--repeat 3] [--batch 4]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.config import command_config  # noqa: E402 -- after the path is set
from autograder.integrations.notebooks import checks_names, dumps, fill, notebook_name, run_as_cells  # noqa: E402
from integrations import tools  # noqa: E402


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def row(label: str, times: list[float]) -> str:
    spread = f"min {min(times):6.2f} s   max {max(times):6.2f} s" if len(times) > 1 else ""
    return f"{label:<62} median {statistics.median(times):6.2f} s   {spread}   (n={len(times)})"


def checks_in_process(config, folder: Path, checks: Path) -> None:
    from autograder import checks_api

    os.environ[checks_api.ENV_VAR] = str(checks)
    namespace = run_as_cells(folder, config.files)
    for test in config.tests:
        checks_api.run_test(test.function, test.name, namespace)
    del os.environ[checks_api.ENV_VAR]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", help="assignments/NAME/assignment.yaml (default: the default assignment)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="students in the one-command nbgrader batch")
    args = parser.parse_args()
    config = command_config(None, assignment=args.assignment)
    reference, name = config.reference, notebook_name(config)
    tmp = Path(tempfile.mkdtemp(prefix="bench_tools_"))
    try:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; one submission = the reference solution")
        start = time.perf_counter()
        autograder_zip, student = tools.otter_assign(tmp / "otter", config)
        print(row("setup: otter assign (runs the solution once itself)", [time.perf_counter() - start]))
        start = time.perf_counter()
        course = tmp / "nbgrader"
        release = tools.nbgrader_course(course, config)
        print(row("setup: nbgrader generate_assignment", [time.perf_counter() - start]))

        otter_notebook = tmp / "submission" / name
        otter_notebook.parent.mkdir()
        otter_notebook.write_text(dumps(fill(student / name, reference, config.files)))
        filled = fill(release, reference, config.files)
        for k in range(args.batch):
            tools.nbgrader_submit(course, f"batch{k}", filled, config)
        tools.nbgrader_submit(course, "single", filled, config)
        results = tmp / "native.json"
        native = [sys.executable, "-m", "autograder", "grade", str(otter_notebook), "--results", str(results),
                  "--quiet"]

        rounds: dict[str, list[float]] = {"otter": [], "nbgrader": [], "native": [], "checks": []}
        for _ in range(args.repeat):
            rounds["otter"].append(timed(lambda: tools.otter_run(autograder_zip, otter_notebook, tmp / "out")))
            rounds["nbgrader"].append(timed(lambda: tools.run(
                ["nbgrader", "autograde", config.assignment, "--student=single", "--force"], cwd=course)))
            rounds["native"].append(timed(lambda: subprocess.run(native, cwd=ROOT, check=True)))
            rounds["checks"].append(timed(lambda: checks_in_process(
                config, reference, tmp / "otter" / "src" / checks_names(config)[1])))
        # Every student not graded yet (the batch: "single" was graded above), in one command.
        batch = timed(lambda: tools.run(["nbgrader", "autograde", config.assignment], cwd=course))
        print(row("otter run, one notebook", rounds["otter"]))
        print(row("nbgrader autograde, one student per command", rounds["nbgrader"]))
        print(row(f"nbgrader autograde, {args.batch} students in one command (per student)", [batch / args.batch]))
        print(row(f"native: python -m autograder grade {name}", rounds["native"]))
        print(row("the checks alone, in this process (all tests)", rounds["checks"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
