"""A grading function for grade-all's workers that breaks on purpose (``Options.grade_fn``).

A submission folder holding a marker file (a .py file, which is staged with the
student's files) makes the grader process itself fail:
CRASH_GRADER.py kills it, RAISE_GRADER.py raises, HANG_GRADER.py never returns; INTERRUPT_BATCH.py
sends the batch (the worker's parent) SIGINT, as a Ctrl-C would, and is then graded.  Anything
else is graded by the real grader.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from autograder.grading.grader import grade as real_grade


def grade(folder: Path, config):
    if (folder / "CRASH_GRADER.py").exists():
        os.kill(os.getpid(), signal.SIGKILL)
    if (folder / "RAISE_GRADER.py").exists():
        raise RuntimeError("planted grader bug")
    if (folder / "INTERRUPT_BATCH.py").exists():
        os.kill(os.getppid(), signal.SIGINT)
    if (folder / "HANG_GRADER.py").exists():
        time.sleep(600)
    return real_grade(folder, config)
