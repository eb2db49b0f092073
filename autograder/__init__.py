"""An autograder for numpy homework: the engine; each assignment lives in assignments/NAME/ (see README.md)."""

import atexit
import os
import sys
import threading


def finish(code: int | None) -> None:
    """End a command's process with exit status ``code`` (None: 0): the exit handlers run (temporary folders)
    and the standard streams are flushed, but Python's finalization, which tears the modules down one by one
    (some 15-25 ms with numpy and the grader loaded, on every grading's wall time), is skipped.  With other
    threads still running, or when flushing fails (a closed pipe), an ordinary exit instead."""
    code = code or 0
    if threading.active_count() == 1:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001 -- the ordinary exit reports it
            sys.exit(code)
        os._exit(code)
    sys.exit(code)
