"""The self-check's in-process runner leaves the checker's own process as it found it."""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
from conftest import FILES, make_submission

from autograder.config import Limits
from autograder.sandbox.inprocess import InProcessBox
from autograder.sandbox.kernel_box import KernelBox


def test_student_state_stays_with_the_student(tmp_path):
    sub = make_submission(tmp_path / "sub", [
        {"file": "rnn_layers.py", "find": "import numpy as np\n",
         "replace": "import numpy as np\nnp.seterr(all='raise')\nprint('hello from the student')\n"},
        {"file": "lstm_layers.py", "find": "import numpy as np\n",
         "replace": "import numpy as np\nimport time\n\n\ndef nap():\n    time.sleep(30)\n"},
    ])
    before = (np.geterr(), sys.path[:], os._exit, signal.getsignal(signal.SIGALRM))
    with InProcessBox(sub, list(FILES), Limits(call_seconds=0.3)) as box:
        assert box.load("rnn_layers").ok and box.load("lstm_layers").ok
        assert (np.geterr(), sys.path, os._exit, signal.getsignal(signal.SIGALRM)) == before
        # The student's numpy settings hold in every later call of theirs, as in the grader's child.
        # (exp(-1000) underflows inside sigmoid, which numpy ignores by default.)
        assert box.call("lstm_layers", "sigmoid", [np.array([-1000.0])]).error_type == "FloatingPointError"
        assert (np.geterr(), sys.path, os._exit, signal.getsignal(signal.SIGALRM)) == before
        napped = box.call("lstm_layers", "nap", [])
        # Where it was stopped, in the student's file: the sleep's line in nap.
        line = (sub / "lstm_layers.py").read_text().splitlines().index("    time.sleep(30)") + 1
        assert napped.fault == ("did not finish within the time limit of 0.3 s; it was stopped in nap "
                                f"(lstm_layers.py, line {line})"), napped.fault
        assert napped.describe(hidden=True) == "did not finish within the time limit of 0.3 s"
        assert "rnn_layers" not in sys.modules  # the next call starts from fresh imports, like a new child
        assert box.call("lstm_layers", "sigmoid", [np.array([-1000.0])]).ok
        assert "hello from the student" in box.output()
        workdir = box.workdir
    assert (np.geterr(), sys.path, os._exit, signal.getsignal(signal.SIGALRM)) == before
    assert not workdir.exists()
    assert not [m for m in ("rnn_layers", "lstm_layers") if m in sys.modules]


def test_arguments_reach_the_student_as_copies(tmp_path):
    sub = make_submission(tmp_path / "sub", [
        {"file": "lstm_layers.py", "find": "import numpy as np\n",
         "replace": "import numpy as np\n\n\ndef scribble(a):\n    a[0] = 99.0\n    return a\n"}])
    original = np.zeros(3)
    with InProcessBox(sub, list(FILES), Limits()) as box:
        reply = box.call("lstm_layers", "scribble", [original])
    assert reply.ok and reply.value[0] == 99.0 and reply.args_after[0][0] == 99.0
    assert original[0] == 0.0


def test_a_call_that_never_returns_is_stopped_in_the_kernel_each_time():
    """The notebook tools' runner (KernelBox: the checks in otter's and nbgrader's kernel) stops a loop that never
    ends at the call time limit, call after call, whether it spins on the CPU or waits, and the next call runs as
    usual.  (In `make test` the parity test's quiz that never returns waits: tests/test_tool_parity.py.)"""
    def spin():
        while True:
            pass

    def wait():
        while True:
            time.sleep(1)

    namespace = {"spin": spin, "wait": wait, "add": lambda a, b: a + b}
    before = signal.getsignal(signal.SIGALRM)
    with KernelBox(namespace, Limits(call_seconds=0.3)) as box:
        for name in ("spin", "wait", "spin", "wait"):
            assert box.call("quiz", name, []).fault == "did not finish within the time limit of 0.3 s", name
            after = box.call("quiz", "add", [1, 2])
            assert after.ok and after.value == 3, name
    assert signal.getsignal(signal.SIGALRM) == before


def test_a_kernel_function_that_never_finishes_is_not_called_a_third_time_until_defined_again():
    """Across a kernel's checks (a box each), a function whose calls were all stopped at the limit is not called
    again after two: each call would wait out the limit; defined again (its cell run again), it is called."""
    def spin():
        while True:
            pass

    namespace = {"spin": spin}
    replies = []
    for _ in range(3):
        with KernelBox(namespace, Limits(call_seconds=0.3)) as box:
            replies.append(box.call("quiz", "spin", []))
    assert [r.timed_out for r in replies] == [True] * 3
    assert replies[2].fault == ("spin was not called again: its calls so far were all stopped at the time limit of "
                                "0.3 s, so this one would most likely wait as long (once it is fixed, run its cell "
                                "again)")
    namespace["spin"] = lambda: 1  # the cell run again, fixed
    with KernelBox(namespace, Limits(call_seconds=0.3)) as box:
        assert box.call("quiz", "spin", []).value == 1


def test_a_kernel_traceback_names_the_cell_as_ipython_does():
    """In a kernel, a failing call's traceback names the cell (`Cell In[1]`, as IPython's own tracebacks do), not
    the temporary file IPython compiled it to."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert shell.run_cell("def broken(x):\n    return x[5]\n", store_history=True).success
        with KernelBox(shell.user_ns, Limits()) as box:
            reply = box.call("m", "broken", [[1]])
    finally:
        InteractiveShell.clear_instance()
    assert reply.error_type == "IndexError"
    assert f'File "Cell In[{shell.execution_count - 1}]", line 2, in broken' in reply.traceback, reply.traceback
    assert reply.describe().endswith(f'(File "Cell In[{shell.execution_count - 1}]", line 2, in broken)')


LONG_RAISE = [{"file": "lstm_layers.py", "find": "import numpy as np\n",
               "replace": "import numpy as np\n\n\ndef shout():\n    raise ValueError('QWERTYUIOP ' * 60)\n"}]


def _whole_words(text: str) -> bool:
    """Whether every QWERTYUIOP of ``text`` is whole, one of them followed by the ellipsis of a cut."""
    import re

    words = re.findall(r"Q[A-Z]*", text)
    return bool(words) and set(words) == {"QWERTYUIOP"} and "QWERTYUIOP…" in text


def test_a_long_exception_text_is_cut_at_a_word_in_both_boxes(tmp_path):
    """An exception's text past what a message shows ends at a word with an ellipsis (it was cut mid-word, with
    no sign), in the self-check's box and in the grader's sandbox alike."""
    from autograder.sandbox.box import Sandbox
    from autograder.sandbox.privileges import child_python, student_identity

    sub = make_submission(tmp_path / "sub", LONG_RAISE)
    with InProcessBox(sub, list(FILES), Limits()) as box:
        assert box.load("lstm_layers").ok
        in_process = box.call("lstm_layers", "shout", [])
    with Sandbox(sub, list(FILES), Limits(), student_identity(), child_python()) as box:
        assert box.load("lstm_layers").ok
        sandboxed = box.call("lstm_layers", "shout", [])
    for reply in (in_process, sandboxed):
        assert reply.error_type == "ValueError" and len(reply.error) <= 500
        assert _whole_words(reply.error), reply.error


def test_a_notebooks_checks_share_one_work_folder(tmp_path, monkeypatch):
    """A notebook's test cells make one check each: they share one empty work folder, made on the first and kept
    to the kernel's end (making and removing one per check cost more than some checks), while the self-check's
    box, which copies the student's files, makes and removes its own."""
    import tempfile

    from autograder.sandbox import kernel_box

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(kernel_box, "_FOLDER", [])
    for _ in range(3):
        with KernelBox({"add": lambda a, b: a + b}, Limits(call_seconds=5)) as box:
            assert box.call("quiz", "add", [1, 2]).value == 3
    assert [p.name.startswith("autograder_check_") for p in tmp_path.iterdir()] == [True]
    with InProcessBox(make_submission(tmp_path / "sub"), list(FILES), Limits(call_seconds=5)):
        assert len(list(tmp_path.glob("autograder_check_*"))) == 2
    assert len(list(tmp_path.glob("autograder_check_*"))) == 1
