"""Runs the student's functions in this process, behind the interface the grader uses of a Sandbox.

The student bundle's self-check runs on the student's own machine, on the
student's own code, where the grader's child process would bring only platform
trouble (its resource limits are Linux-only in practice: macOS rejects an
address-space limit, Windows has no ``resource`` module).  So the calls run
here, through the child's own code (``child.Child``) and the grader's message
encoding (``wire``): arguments reach the student as fresh copies and results
come back as plain data, exactly as through the grader's pipe.

A failure in one call costs what it costs in the grader: an exception,
``sys.exit``, ``os._exit`` or running past the time limit fails only the tests
that needed that call, and the next call starts from freshly imported modules,
as the grader's next child would.  Time limits need interval timers (Linux,
macOS); on Windows a call that never returns stops the check (Ctrl-C).  A hard
crash of the interpreter itself ends the check.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from functools import lru_cache
from pathlib import Path

import numpy as np

from autograder.config import Limits
from autograder.files import remove_tree
from autograder.sandbox import wire
from autograder.sandbox.box import OUTPUT_KEEP, Hangs, Operations, Reply, timeout_fault
from autograder.sandbox.child import Child, _relative, _student_traceback

_NUMPY_DEFAULTS = np.geterr()  # what a fresh child starts with
# Student calls change sys.path, sys.modules, os._exit and the printed streams of the whole process, and the
# student's modules stay imported between calls: one box at a time, from entering it until it is closed.
_PROCESS_STATE = threading.RLock()
# Module files' real paths, looked up at every kill (once per fault): a module's file does not move.
_realpath = lru_cache(maxsize=8192)(os.path.realpath)


class _TimeUp(BaseException):
    """Raised inside a student call that ran past its time limit."""


class _Exited(BaseException):
    """Raised in place of os._exit, which would end the check itself."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _refuse_exit(status: int = 0) -> None:
    raise _Exited(status)


class _Deadline:
    """Raises _TimeUp in the main thread when its block runs past the limit (where interval timers exist)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        self.armed = False
        self.previous = None

    def _expire(self, signum, frame) -> None:
        if self.armed:
            self.armed = False
            raise _TimeUp

    def __enter__(self) -> _Deadline:
        if self.usable:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc) -> None:
        if self.usable:
            try:
                self.armed = False
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, self.previous)


def _roundtrip(message: dict) -> dict:
    """The message as the other end of the grader's pipe would decode it."""
    stream = wire.MessageStream()
    stream.feed(wire.encode(message))
    return stream.pop()


def _reply(raw: dict) -> Reply:
    """The same Reply the sandbox builds from the child's answer."""
    if type(raw.get("ok")) is not bool:
        return Reply(ok=False, error_type="Fault", fault="sent a malformed reply")
    return Reply.from_raw(raw)


class _Done:
    """A request, shaped like sandbox.Pending: answered at once, or at ``release`` when submitted while held."""

    def __init__(self, reply: Reply | None, box: InProcessBox | None = None) -> None:
        self.reply, self.box = reply, box

    def result(self) -> Reply:
        if self.reply is None:
            self.box.release()
        return self.reply


class InProcessBox(Operations):
    """The student's files, imported and called in this process."""

    def __init__(self, submission: Path, files: list[str], limits: Limits) -> None:
        self.limits = limits
        self.tmp = self._folder()
        self.workdir = self.tmp / "work"
        self.workdir.mkdir(exist_ok=True)
        for name in files:
            shutil.copyfile(Path(submission) / name, self.workdir / name)
        self.child: Child | None = None
        self._stdout, self._stderr = io.StringIO(), io.StringIO()
        self._numpy_state = dict(_NUMPY_DEFAULTS)
        self._held: list[tuple[_Done, dict, float]] = []  # submitted inside held(): answered at release
        self._hangs = Hangs()
        # Like the grader's child, student code sees only its own copied files, not the folders around it.
        here = Path(__file__).resolve().parents[2]
        self._hidden = {os.path.realpath(p) for p in ("", os.getcwd(), str(submission), str(here))}
        self._path_for: tuple[list[str], list[str]] | None = None  # sys.path as found -> as student code sees it

    def _folder(self) -> Path:
        """A new folder for this box's copies of the files (removed by ``close``)."""
        return Path(tempfile.mkdtemp(prefix="autograder_check_"))

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        if self.child is None:
            self.child = self._new_child()
            self._numpy_state = dict(_NUMPY_DEFAULTS)

    def _new_child(self) -> Child:
        return Child(str(self.workdir))

    def _traceback(self, exc: BaseException) -> str:
        """The failing call's traceback, student frames only."""
        return _student_traceback(exc, lambda name: name.startswith(str(self.workdir)), str(self.workdir))

    def kill(self) -> None:
        """Forget the student's modules and cached objects, as the grader forgets a faulty child."""
        self.child = None
        root = os.path.realpath(self.workdir) + os.sep
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and _realpath(file).startswith(root):
                del sys.modules[name]

    def close(self) -> None:
        self.kill()
        self._remove_folder()

    def _remove_folder(self) -> None:
        remove_tree(self.tmp)

    def __enter__(self) -> InProcessBox:
        _PROCESS_STATE.acquire()
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        finally:
            _PROCESS_STATE.release()

    # -- requests --------------------------------------------------------
    @contextlib.contextmanager
    def _student_side(self, seconds: float):
        """Student code's view of the process: its own numpy settings, printed output captured, a deadline."""
        saved_path, saved_exit = sys.path[:], os._exit
        saved_numpy = np.seterr(**self._numpy_state)
        if self._path_for is None or self._path_for[0] != saved_path:  # resolved once, not on every call
            self._path_for = (saved_path, [str(self.workdir)] + [p for p in saved_path
                                                                 if p and os.path.realpath(p) not in self._hidden])
        sys.path[:] = self._path_for[1]
        os._exit = _refuse_exit
        try:
            with contextlib.redirect_stdout(self._stdout), contextlib.redirect_stderr(self._stderr):
                with _Deadline(seconds):
                    yield
        finally:
            self._numpy_state = np.seterr(**saved_numpy)
            os._exit = saved_exit
            sys.path[:] = saved_path

    def submit(self, message: dict, seconds: float, needs=None) -> _Done:
        """Answer at once (``needs`` was answered by this runner just before, or failed), or at ``release``."""
        if self._holding:
            self._held.append((_Done(None, self), message, seconds))
            return self._held[-1][0]
        return _Done(self._answer(message, seconds))

    def release(self) -> None:
        held, self._held = self._held, []
        for done, message, seconds in held:
            done.reply = self._answer(message, seconds)

    def _answer(self, message: dict, seconds: float) -> Reply:
        """Run one request of the child protocol here and return what the grader would get (a function that
        never finishes is not called again: Hangs)."""
        calls = self._calls(message)
        reply = self._hangs.skipped(calls)
        if reply is None:
            reply = self._run(message, seconds)
            self._hangs.record(calls, reply)
        return reply

    def _calls(self, message: dict) -> tuple | None:
        """The function a request calls, as ``Hangs`` counts it."""
        return Hangs.key(message)

    def _run(self, message: dict, seconds: float) -> Reply:
        self.start()
        assert self.child is not None
        msg = _roundtrip(message)
        msg.pop("evaluation_seconds", None)  # the whole request's deadline (_Deadline) holds its one interval timer
        ops = {"import": self.child.op_import, "call": self.child.op_call, "call_many": self.child.op_call_many}
        printed = sum(self.mark())
        try:
            with self._student_side(seconds):
                raw = ops[msg["op"]](msg)
        except _TimeUp as exc:
            frames = [(f.filename, f.lineno or 0, f.name) for f in reversed(traceback.extract_tb(exc.__traceback__))]
            return timeout_fault(self._fault, seconds, frames, str(self.workdir), sum(self.mark()) - printed)
        except _Exited as exc:
            return self._fault(f"exited with status {exc.status}: os._exit was called (it would end the check)")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- student code may raise anything, SystemExit included
            raw = {"ok": False, "error_type": type(exc).__name__,
                   "error": wire.sent_error(_relative(str(exc), str(self.workdir))),
                   "traceback": self._traceback(exc)}
        try:
            raw = _roundtrip(raw)
        except Exception as exc:  # noqa: BLE001 -- e.g. a value that cannot be encoded
            raw = {"ok": False, "error_type": "ReplyError", "error": wire.sent_error(str(exc)), "traceback": ""}
        return _reply(raw)

    def _fault(self, reason: str, brief: str = "") -> Reply:
        self.kill()
        return Reply(ok=False, error_type="Fault", fault=reason, fault_brief=brief)

    def mark(self) -> tuple[int, int]:
        return len(self._stdout.getvalue()), len(self._stderr.getvalue())

    def output(self) -> str:
        """What the student's code printed so far (stdout then stderr), head and tail kept."""
        parts = []
        for name, buffer in (("stdout", self._stdout), ("stderr", self._stderr)):
            text = buffer.getvalue()
            if len(text) > 2 * OUTPUT_KEEP:
                text = f"{text[:OUTPUT_KEEP]}\n[... {len(text) - 2 * OUTPUT_KEEP} characters cut ...]\n" \
                       f"{text[-OUTPUT_KEEP:]}"
            if text:
                parts.append(f"--- {name} ---\n{text}")
        return "\n".join(parts)
