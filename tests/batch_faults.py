"""A grading function for grade-all's workers that breaks on purpose (``Options.grade_fn``).

A submission folder holding a marker file makes the grader process itself fail:
CRASH_GRADER kills it, RAISE_GRADER raises, HANG_GRADER never returns.  Anything
else is graded by the real grader.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from autograder.grader import grade as real_grade


def grade(folder: Path, config):
    if (folder / "CRASH_GRADER").exists():
        os.kill(os.getpid(), signal.SIGKILL)
    if (folder / "RAISE_GRADER").exists():
        raise RuntimeError("planted grader bug")
    if (folder / "HANG_GRADER").exists():
        time.sleep(600)
    return real_grade(folder, config)
