"""Runs student code in a child process and talks to it through ``wire``.

The child works in a fresh temporary folder holding only the student's files,
with a minimal environment, resource limits and its own process group.  Every
request has a wall-clock deadline; a child that hangs, dies or breaks the
protocol is killed with its whole group, the request is reported as a fault,
and the next request starts a fresh child.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.config import Config, Limits
from autograder.files import remove_tree
from autograder.sandbox import confine, forkserver
from autograder.sandbox.privileges import (
    Identity,
    PrivilegeError,
    check_separation,
    child_python,
    kill_strays,
    others_can_reach,
    remove_ipc,
    student_identity,
)
from autograder.sandbox.program import child_environment, child_program
from autograder.submissions.locate import read_regular, workdir_files
from autograder.text import shorten

if TYPE_CHECKING:
    from collections.abc import Callable

    from autograder.sandbox.wire import MessageStream

OUTPUT_KEEP = 2000  # characters kept from each end of the student's printed output
_LOGGED: set[bool] = set()  # whether this process has logged a sealed / an unsealed child yet
# How long a new child may take to start Python and numpy (not student code: the limits count from its
# status line on).  A safety net for a machine under heavy load, not a limit students meet.
START_SECONDS = 300.0


@dataclass
class Reply:
    """What came back from one request: a value, a student error, or a fault."""

    ok: bool
    value: object = None
    args_after: list = field(default_factory=list)
    kwargs_after: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    values: list = field(default_factory=list)
    stacked: list = field(default_factory=list)  # call_many: one (evaluations, ...) array per output
    error_type: str = ""
    error: str = ""
    traceback: str = ""
    fault: str = ""  # the child hung, died or broke the protocol
    fault_brief: str = ""  # the fault for a hidden test: without the exit status, signal or bytes student code chose
    timed_out: bool = False  # the fault is the call's time limit
    limit: float = 0.0  # that limit (s)
    cpu: float = 0.0  # a call's CPU time in the child (s), every thread's, as the child measured it (it could lie)
    thread_cpu: float = 0.0  # the calling thread's alone (finer for a short call)

    @classmethod
    def from_raw(cls, raw: dict) -> Reply:
        """A reply from the child's decoded message, every field checked for its type and capped."""
        from autograder.sandbox.wire import ERROR_CHARS, sent_error  # loaded already: the message came through it

        return cls(
            ok=raw["ok"],
            value=raw.get("value"),
            args_after=raw.get("args_after") if isinstance(raw.get("args_after"), list) else [],
            kwargs_after=raw.get("kwargs_after") if isinstance(raw.get("kwargs_after"), dict) else {},
            warnings=[str(w) for w in raw.get("warnings") or []][:20],
            values=raw.get("values") if isinstance(raw.get("values"), list) else [],
            stacked=raw.get("stacked") if isinstance(raw.get("stacked"), list) else [],
            error_type=str(raw.get("error_type", ""))[:100],
            error=shorten(sent_error(str(raw.get("error", ""))), ERROR_CHARS),
            traceback=str(raw.get("traceback", ""))[:3000],
            cpu=_seconds(raw.get("cpu")),
            thread_cpu=_seconds(raw.get("thread_cpu")),
        )

    @property
    def not_implemented(self) -> bool:
        return self.error_type == "NotImplementedError"

    def describe(self, function: str = "", module: str = "", hidden: bool = False) -> str:
        """One or two lines for feedback: what went wrong in the call.

        hidden: only that it raised.  Student code chooses its exception's text, its class (any of Python's
        and numpy's dozens, or one it makes), the file and line it raises from: each choice is a few bits a
        hidden test's message would carry out, and a few bits identify a case's seed.  The public tests of
        the same function, which usually fail the same way, show all of it.
        """
        if self.fault:
            return (self.fault_brief or self.fault) if hidden else self.fault
        if self.not_implemented:
            if hidden:  # which function raised it, and where, are the student code's choice: public tests say
                return (f"{function} or a function it calls is not implemented yet: replace the `raise "
                        "NotImplementedError` with your code (the public tests of this function show where)")
            # The template's message names the function that is missing (maybe a helper the call used), and the
            # innermost frame its file: not the graded function's when that called another file's stub.
            frames = _TRACEBACK_FRAME.findall(self.traceback)
            file = frames[-1][0].replace("\\", "/").rpartition("/")[2] if frames else ""
            # A graded notebook's cells are named "NAME.ipynb, cell 8" (extract.py, notebook_kernel.py).
            where = f" in {file}" if file.endswith(".py") or ", cell " in file else f" in {module}.py" if module else ""
            return f"{self.error or function + ' is not implemented yet'}: replace its `raise NotImplementedError`" \
                   f"{where} with your code"
        if hidden:
            return "raised an exception (the public tests of this function show which, where they fail too)"
        last = [ln.strip() for ln in self.traceback.strip().splitlines() if ln.strip().startswith("File ")]
        # The exception's text is the student code's: its lines after the first are indented under it, so that
        # none reads as a line of the grader's ("[PASS] ...").
        error = "\n    ".join(self.error.splitlines())
        text = f"raised {self.error_type}: {error}".rstrip(": ")
        return text + (f" ({last[-1]})" if last else "")


_FRAME = re.compile(r'File "([^"\n]+)", line (\d+) in (\S+)')
_TRACEBACK_FRAME = re.compile(r'File "([^"\n]+)", line (\d+), in (\S+)')  # a traceback's, not a stack dump's
# Where the child was when its time ran out: it dumps its stack (faulthandler, child.py) on this signal.
WHERE_SIGNAL = signal.SIGUSR2
# The dump ends with the outermost frame, the child program's own ("<string>" ... in <module>).
_DUMP_END = re.compile(rb"in <module>\n\Z")
WHERE_SECONDS = 30.0  # at most this long for the dump while the signal waits for the child to be scheduled
WHERE_QUIET_SECONDS = 1.0  # once the signal is taken, the dump (written at once by faulthandler) comes within this
PRINTED_NOTE_BYTES = 1 << 20  # printing this much during the call is named as a likely reason for the time


def timeout_detail(frames: list[tuple[str, int, str]], workdir: str, printed: int) -> str:
    """What follows "did not finish within the time limit" in a public test's message: the student's innermost
    frames (path, line, function; innermost first) when the call was stopped, and how much it printed during the
    call when that is enough to be the reason.  Empty when neither says anything."""
    own = [(Path(path).name, line, func) for path, line, func in frames
           if os.path.dirname(os.path.abspath(path)) == os.path.abspath(workdir)]
    text = ""
    if own:
        (name, line, func), callers = own[0], own[1:3]
        text = f"; it was stopped in {func} ({name}, line {line})"
        if callers:
            text += ", called from " + ", ".join(f"{f} ({n}, line {ln})" for n, ln, f in callers)
    if printed >= PRINTED_NOTE_BYTES:
        text += (f"; it had printed {printed / (1 << 20):.1f} MB during the call, and printing that much is slow: "
                 f"remove the prints")
    return text


HANG_STRIKES = 2  # calls of one function stopped at their time limit, none finished, before it is not called again


class Hangs:
    """Which student functions never finish: a function whose calls so far (``HANG_STRIKES`` of them, a gradient
    check's batch counting as one) were all stopped at the time limit is not called again, since each call would
    most likely wait its whole limit too (an endless loop would cost every test of the function and of those that
    call it).  One call that finished, even by raising, keeps it called: its hang then depends on the input.
    """

    def __init__(self, advice: str = "") -> None:
        self.advice = advice  # added to the reply of a call not made
        self.timeouts: dict[tuple, int] = {}
        self.finished: set[tuple] = set()
        self.seconds: dict[tuple, float] = {}

    @staticmethod
    def key(message: dict) -> tuple | None:
        """The function a request calls as (module, name), or None for a request that calls none (an import)."""
        return (message["module"], message["function"]) if message.get("op") in ("call", "call_many") else None

    def skipped(self, key: tuple | None) -> Reply | None:
        """The reply for a call not made, or None when the call is to be made; ``key`` ends with the function's
        name."""
        strikes = self.timeouts.get(key, 0) if key is not None else 0
        if strikes < HANG_STRIKES or key in self.finished:
            return None
        text = (f"{key[-1]} was not called again: its calls so far were all stopped at the time limit of "
                f"{self.seconds[key]:g} s, so this one would most likely wait as long{self.advice}")
        return Reply(ok=False, error_type="Fault", fault=text, fault_brief=text, timed_out=True)

    def record(self, key: tuple | None, reply: Reply) -> None:
        """Count a call's reply: a timeout is a strike, anything else (a value, an exception, a crash)
        finished."""
        if key is None or key in self.finished:
            return
        if reply.timed_out:
            self.timeouts[key] = self.timeouts.get(key, 0) + 1
            self.seconds[key] = reply.limit
        else:
            self.finished.add(key)


def timeout_fault(fault: Callable[[str, str], Reply], seconds: float, frames: list[tuple[str, int, str]],
                  workdir: str, printed: int) -> Reply:
    """The reply to a call stopped at its time limit of ``seconds``: ``fault(message, brief)`` (which ends what
    ran it) with where it was stopped (``timeout_detail``) and the limit, for ``Hangs`` to count."""
    plain = f"did not finish within the time limit of {seconds:g} s"
    reply = fault(plain + timeout_detail(frames, workdir, printed), plain)
    reply.timed_out, reply.limit = True, seconds
    return reply


def _limits_spec(limits: Limits, identity: Identity | None) -> dict:
    """What the child takes on before running student code (confine.py)."""
    return confine.spec(limits.cpu_seconds, limits.memory_mb, limits.file_mb, limits.processes,
                        identity.uid if identity else None, identity.gid if identity else None)


def _seconds(value) -> float:
    """A duration the child sent, checked: a float from 0 to 1e9, else 0."""
    return float(value) if type(value) is float and 0 <= value < 1e9 else 0.0


def _signal_pending(pid: int, signum: int) -> bool:
    """Whether ``signum`` waits, not delivered yet, for process ``pid`` (its /proc status; False when unknown, and
    when the process blocks it or is stopped: then it is not taken)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = [line.split() for line in f if line.startswith(("SigPnd:", "ShdPnd:", "SigBlk:", "State:"))]
        fields = {parts[0]: int(parts[1], 16) for parts in lines if len(parts) > 1 and parts[0] != "State:"}
    except (OSError, ValueError):
        return False
    if any(parts[0] == "State:" and parts[1:2] in (["T"], ["t"]) for parts in lines):
        return False
    bit = 1 << (signum - 1)
    return not fields.get("SigBlk:", 0) & bit and bool((fields.get("SigPnd:", 0) | fields.get("ShdPnd:", 0)) & bit)


def _stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped (SIGSTOP, SIGTSTP: its /proc state T or t); False when unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[:1] in (["T"], ["t"])
    except OSError:
        return False


class ChildStopped(Exception):
    """The child stopped itself while the grader waited for its reply: it cannot answer until killed."""


# While waiting for a reply, how often the child's state is looked at (a stopped child answers nothing).
STOPPED_POLL_SECONDS = 0.5


def check_can_grade(config: Config, identity: Identity | None = None, python: str | None = None) -> None:
    """Raise PrivilegeError (as root) when student code could not be separated from the config and the
    reference: what ``open_sandbox`` would raise for every submission, for a class to refuse once up front."""
    identity = identity if identity is not None else student_identity()
    if identity is not None:
        check_separation(python or child_python(), [config.path] + [config.reference / f for f in config.files])


def open_sandbox(submission: Path, config: Config) -> Sandbox:
    """A started sandbox on the submission's expected files, as the right identity.

    Raises PrivilegeError (as root) when student code could not be separated.
    """
    identity = student_identity()
    python = child_python()
    check_can_grade(config, identity, python)
    box = Sandbox(Path(submission), workdir_files(Path(submission), config.files), config.limits, identity, python)
    box.start()
    return box


class Operations:
    """The requests the grader makes, on top of a runner's ``submit(message, seconds)``.

    ``submit`` returns something whose ``.result()`` is the Reply: the sandbox
    sends to its child and collects later; the student bundle's in-process
    runner answers at once.
    """

    limits: Limits

    def submit(self, message: dict, seconds: float, needs=None):
        """Send a request; ``needs``: an earlier request whose kept handles this one uses."""
        raise NotImplementedError

    _holding = False  # inside held(): requests are kept, not sent

    @contextlib.contextmanager
    def held(self):
        """Keep the requests submitted inside the block, ready, and send them at ``release`` (in order); those
        submitted after it go at once, ahead of them.  For what must not reach student code before some point
        (hidden inputs, before every public test has run and the printed output is read) but can be made ready
        earlier.  Asking for a kept request's reply releases it and those kept before it."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def release(self) -> None:
        """Send the requests kept by ``held``."""
        raise NotImplementedError

    def request(self, message: dict, seconds: float) -> Reply:
        """Send one request and wait for its reply until the deadline."""
        return self.submit(message, seconds).result()

    def load(self, module: str, seconds: float | None = None) -> Reply:
        """Import a student module (within ``seconds``, the config's import limit by default)."""
        return self.submit_load(module, seconds).result()

    def submit_load(self, module: str, seconds: float | None = None):
        """Start importing a student module; ``.result()`` waits for it."""
        return self.submit({"op": "import", "module": module}, seconds or self.limits.import_seconds)

    def call(self, module: str, function: str, args: list, kwargs: dict | None = None, keep: tuple = ()) -> Reply:
        return self.submit_call(module, function, args, kwargs, keep).result()

    def submit_call(self, module: str, function: str, args: list, kwargs: dict | None = None,
                    keep: tuple = (), inputs_back: bool = True, keep_as: tuple = (), needs=None):
        """Call a student function; outputs at positions ``keep`` stay in the child behind handles (with the ids
        ``keep_as`` when given: a later request may then use ``Handle(id)`` before this one is answered, naming
        it as ``needs``).  ``inputs_back``: the reply brings the arguments back as the call left them
        (``args_after``)."""
        message = {"op": "call", "module": module, "function": function, "args": list(args),
                   "kwargs": kwargs or {}, "keep": list(keep), "keep_as": list(keep_as), "inputs_back": inputs_back}
        return self.submit(message, self.limits.call_seconds, needs)

    def submit_call_many(self, module: str, function: str, args: list, kwargs: dict, plans: list[dict],
                         outputs: list[int]):
        """Start ``call_many``; ``.result()`` waits for it."""
        # Each evaluation has a call's limit (child.evaluate_many), the batch its own.
        message = {"op": "call_many", "module": module, "function": function, "args": list(args),
                   "kwargs": kwargs, "plans": plans, "outputs": outputs, "evaluation_seconds": self.limits.call_seconds}
        return self.submit(message, self.limits.batch_seconds)

    def call_many(self, module: str, function: str, args: list, kwargs: dict, plans: list[dict],
                  outputs: list[int]) -> Reply:
        """Evaluate a function at perturbed arguments: ``plans`` as ``gradcheck.Plan.wire`` makes them, each
        {"path", "index": int64 array (m,) or None, "delta": float64 array (m,) or (m, *shape)}
        (see child.evaluate_many); the reply's ``stacked`` holds one (evaluations, ...) array per output."""
        return self.submit_call_many(module, function, args, kwargs, plans, outputs).result()


class Pending:
    """A request sent to the child whose reply is not collected yet.

    ``generation`` is the child it went to: a fault of an earlier request replaces that child, and the
    request is then sent again to the new one when its reply is wanted.
    """

    def __init__(self, box: Sandbox, data: bytes, seconds: float) -> None:
        self.box, self.data, self.seconds = box, data, seconds
        self.generation = box.generation
        self.submitted = time.monotonic()
        self.reply: Reply | None = None
        self.needs: Pending | None = None  # the request whose handles this one uses: it must run in the same child
        self.calls: tuple | None = None  # the function it calls (Hangs.key)

    def result(self) -> Reply:
        if self.reply is None:
            self.box._collect_until(self)
        assert self.reply is not None
        return self.reply


class _Replaced(Exception):
    """The child was replaced (an earlier request's fault) while a request was being written to it."""


class Sandbox(Operations):
    """One child per submission, replaced only after a fault."""

    def __init__(self, submission: Path, files: list[str], limits: Limits, identity: Identity | None = None,
                 python: str | None = None) -> None:
        self.limits = limits
        self.identity = identity
        self.python = python or sys.executable
        self.tmp = Path(tempfile.mkdtemp(prefix="autograder_sub_"))
        self.workdir = self.tmp / "work"
        self.workdir.mkdir(mode=0o700)
        for name in files:
            # Never through a link: as root, a link could pull the reference into the student's folder.
            (self.workdir / name).write_bytes(read_regular(submission / name))
        if identity is not None:
            # The child may pass through tmp (it holds the grader's capture files) and owns only work/.
            os.chmod(self.tmp, 0o711)
            if not others_can_reach(self.tmp):
                remove_tree(self.tmp)
                raise PrivilegeError(f"the temporary folder {self.tmp.parent} is not reachable by the student's "
                                     "uid: point TMPDIR at a folder other users can enter (such as /tmp)")
            for path in [self.workdir, *self.workdir.iterdir()]:
                os.chown(path, identity.uid, identity.gid)
        self.program = child_program()
        self.proc: subprocess.Popen | None = None
        self.generation = 0  # increases with every new child; handles die with theirs
        self._hangs = Hangs()
        # What the child said about its Landlock confinement ("sealed: ..." or "not sealed: why"), once known.
        self.confinement: str | None = None
        self._status_r: int | None = None
        self._queue: deque[Pending] = deque()  # sent to the current child, not answered yet, in order
        self._held: list[Pending] = []  # submitted inside held(), not sent until release()
        self._replies: MessageStream | None = None  # made once the child runs: wire imports numpy
        self._answered = 0.0  # when the child last answered (or started serving): the next request's clock starts
        self._printed = 0  # bytes printed (stdout and stderr) when the child last answered
        # Append mode: the child shares the file offset, so reading here never moves its writes.
        self._out = open(self.tmp / "stdout.txt", "a+b")
        self._err = open(self.tmp / "stderr.txt", "a+b")

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        if self.proc is not None:
            return
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        self._close_status()
        self._status_r, status_w = os.pipe()
        # Temporary files go to the work folder: under Landlock it is the only place the child may write.
        env = dict(child_environment(), HOME=str(self.workdir), TMPDIR=str(self.workdir))
        flags = ["no-landlock"] if os.environ.get("AUTOGRADER_LANDLOCK", "1") == "0" else []
        limits = _limits_spec(self.limits, self.identity)
        server = forkserver.shared(self.python, self.program, child_environment())
        self.proc = server.spawn(self.workdir, env, limits, flags, (req_r, resp_w, status_w, self._out.fileno(),
                                                                     self._err.fileno())) if server else None
        if self.proc is None:
            self.proc = subprocess.Popen(
                [self.python, "-I", "-c", self.program, str(req_r), str(resp_w), str(self.workdir), str(status_w),
                 *flags],
                stdin=subprocess.DEVNULL,
                stdout=self._out,
                stderr=self._err,
                cwd=self.workdir,
                env=env,
                pass_fds=(req_r, resp_w, status_w),
                start_new_session=True,
                preexec_fn=lambda: confine.apply(limits),
            )
        os.close(req_r)
        os.close(resp_w)
        os.close(status_w)
        os.set_blocking(self._req_w, False)
        from autograder.sandbox.wire import (  # after the child started: it loads numpy meanwhile
            MAX_REPLY_HEADER_BYTES,
            MessageStream,
        )

        self._replies = MessageStream(max_header=MAX_REPLY_HEADER_BYTES)
        self.generation += 1

    def kill(self) -> None:
        """Kill the child, its process group and anything that escaped it; forget the child (and the requests
        it had not answered: each is sent again to the next child when its reply is wanted)."""
        self._queue.clear()
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # cannot happen to a killed process; never hang the grader on it
            print(f"grader: child {self.proc.pid} did not end after SIGKILL", file=sys.stderr)
        kill_strays(self.proc.pid, self.identity.uid if self.identity else None, forkserver.server_pids())
        for fd in (self._req_w, self._resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None

    def close(self) -> None:
        self.kill()
        if self.identity is not None:  # its own uid: what System V IPC objects it made are its (privileges.py)
            remove_ipc(self.identity.uid)
        self._close_status()
        self._out.close()
        self._err.close()
        remove_tree(self.tmp)

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests --------------------------------------------------------
    def submit(self, message: dict, seconds: float, needs: Pending | None = None) -> Pending:
        """Send one request; collect its reply later with ``.result()``.

        Requests are pipelined: the grader may send several before it reads
        their replies, and computes reference values while the child works.
        The child answers them one at a time, in order, and each has its own
        time limit, counted from when the one before it was answered (or from
        the child's start), so a queue never shortens a request's time.
        """
        from autograder.sandbox import wire  # imported late: see _start_early in cli.py

        pending = Pending(self, wire.encode(message), seconds)
        pending.needs, pending.calls = needs, Hangs.key(message)
        if self._holding:
            self._held.append(pending)  # encoded already: release only writes it
        else:
            self._dispatch(pending)
        return pending

    def release(self) -> None:
        held, self._held = self._held, []
        for pending in held:
            self._dispatch(pending)

    def _holds(self, needed: Pending) -> bool:
        """Whether the current child holds what ``needed`` kept (or there is nothing to hold: it failed)."""
        if needed.reply is not None and not needed.reply.ok:
            return True
        return needed.generation == self.generation and (needed.reply is not None or needed in self._queue)

    def _dispatch(self, pending: Pending) -> None:
        """Write a request to the current child (a fresh one when there is none); on a fault, its reply.

        A request that uses an earlier one's handles goes to a child that ran that one: when a fault replaced
        the child in between, the earlier request is sent again first (itself when its reply is still due,
        else a copy whose reply nobody reads)."""
        redo = pending.needs is not None
        pending.reply = self._hangs.skipped(pending.calls)
        if pending.reply is not None:
            return
        while True:
            self.start()
            if redo and not self._holds(pending.needs):
                redo = False  # once: a copy that fails again leaves the handle missing, and the call says so
                needed = pending.needs
                self._dispatch(needed if needed.reply is None else Pending(self, needed.data, needed.seconds))
                continue  # (a fault there replaced the child)
            pending.generation, pending.submitted = self.generation, time.monotonic()
            try:
                self._send(pending)
            except _Replaced:
                continue
            except TimeoutError:
                pending.reply = self._timeout(pending.seconds)
                self._hangs.record(pending.calls, pending.reply)
                return
            except (EOFError, BrokenPipeError):
                if self._queue:  # the child died on an earlier request: that one gets the fault, this one a new child
                    self._drain()
                    continue
                pending.reply = self._fault(*self._death_reason())
                return
            self._queue.append(pending)
            return

    def _collect_until(self, pending: Pending) -> None:
        """Collect replies in order up to ``pending``'s, sending it again if a fault replaced its child."""
        if any(p is pending for p in self._held):
            self.release()
        while pending.reply is None:
            if pending.generation != self.generation or pending not in self._queue:
                self._dispatch(pending)
            else:
                self._collect_next()

    def _drain(self) -> None:
        """Collect every reply still outstanding."""
        while self._queue:
            self._collect_next()

    def _collect_next(self) -> None:
        from autograder.sandbox import wire

        pending = self._queue[0]
        self._await_start()
        deadline = max(pending.submitted, self._answered) + pending.seconds
        try:
            raw = self._receive(deadline)
        except TimeoutError:
            reply = self._timeout(pending.seconds)
        except EOFError:
            reply = self._fault(*self._death_reason())
        except ChildStopped:
            reply = self._fault("stopped its own process (a stop signal, SIGSTOP say): a stopped process cannot "
                                "answer, so the call was ended", "stopped its own process")
        except wire.WireError as exc:
            reply = self._fault(f"sent a malformed reply ({exc})", "sent a malformed reply")
        else:
            if type(raw.get("ok")) is not bool:
                reply = self._fault("sent a malformed reply")
            else:
                reply = Reply.from_raw(raw)
                self._queue.popleft()
                if reply.error_type == "EvaluationTimeout" and "stopped_at" in raw:  # (only a batch sends it)
                    reply = self._evaluation_timeout(raw.get("stopped_at"))
        pending.reply = reply
        self._hangs.record(pending.calls, reply)
        self._answered = time.monotonic()
        self._printed = self._printed_size()

    def _close_status(self) -> None:
        if self._status_r is not None:
            os.close(self._status_r)
            self._status_r = None

    def _await_start(self) -> None:
        """Wait until a new child has started Python and numpy and sealed itself: its status line (then EOF)
        arrives just before it serves, so time limits count student code only, however loaded the machine.

        The line says whether Landlock confines the child; it is logged once per process.  A child that
        dies first sends nothing: the request that follows reports why.
        """
        if self._status_r is None:
            return
        data, deadline = b"", time.monotonic() + START_SECONDS
        while len(data) < 8000:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._status_r], [], [], remaining)[0]:
                break
            chunk = os.read(self._status_r, 8000)
            if not chunk:
                break
            data += chunk
        self._close_status()
        self._answered = time.monotonic()
        self._printed = self._printed_size()
        line = data.decode(errors="replace").strip().splitlines()
        self.confinement = line[0][:4000] if line else "not sealed: the child said nothing about Landlock"
        sealed = self.confinement.startswith("sealed:")
        if sealed not in _LOGGED:
            _LOGGED.add(sealed)
            if sealed:
                print(f"grader: student code is confined by {self.confinement[len('sealed: '):]}", file=sys.stderr)
            else:
                print(f"grader: Landlock does not confine student code ({self.confinement[len('not sealed: '):]}); "
                      "the other defences hold (docs/security.md)", file=sys.stderr)

    def _fault(self, reason: str, brief: str = "") -> Reply:
        self.kill()
        return Reply(ok=False, error_type="Fault", fault=reason, fault_brief=brief)

    def _printed_size(self) -> int:
        """Bytes printed to stdout and stderr so far, those dropped past the cap included (wire.printed_bytes)."""
        from autograder.sandbox import wire

        limit = self.limits.file_mb << 20
        return sum(wire.printed_bytes(os.fstat(f.fileno()).st_size, limit) for f in (self._out, self._err))

    def _timeout(self, seconds: float) -> Reply:
        """The fault of a call past its time: where the child was (public tests only, the place being the
        student code's choice) and how much it printed meanwhile, then the child killed."""
        return timeout_fault(self._fault, seconds, self._stopped_at(), str(self.workdir),
                             self._printed_size() - self._printed)

    def _evaluation_timeout(self, frames) -> Reply:
        """A batch the child stopped at an evaluation past the call limit: the fault of a call past its time, where
        the child's own timer found it (``frames``: (path, line, function), innermost first, unchecked)."""
        where = [(f[0], f[1], f[2]) for f in (frames if isinstance(frames, list) else [])[:50]
                 if isinstance(f, (list, tuple)) and len(f) == 3 and isinstance(f[0], str) and type(f[1]) is int
                 and isinstance(f[2], str)]
        return timeout_fault(self._fault, self.limits.call_seconds, where, str(self.workdir),
                             self._printed_size() - self._printed)

    def _stopped_at(self) -> list[tuple[str, int, str]]:
        """The child's stack (innermost first) from the dump it writes to its stderr file on WHERE_SIGNAL; the
        dump is cut from that file again, so it never shows as printed output.  [] when none came in time."""
        if self.proc is None:
            return []
        start = os.fstat(self._err.fileno()).st_size
        try:
            os.kill(self.proc.pid, WHERE_SIGNAL)
        except OSError:
            return []
        # However loaded the machine: waited for while the signal is pending (the child not scheduled yet), then
        # until the dump is whole, for WHERE_QUIET_SECONDS at most once the signal is taken: a handler of the
        # student's own that writes on and on (or nothing) would otherwise hold every time limit's grading.
        deadline, taken, dump = time.monotonic() + WHERE_SECONDS, None, b""
        while time.monotonic() < deadline:
            time.sleep(0.01)
            size = os.fstat(self._err.fileno()).st_size
            if size > start:
                self._err.seek(start)
                dump = self._err.read(min(size - start, 1 << 16))
                if _DUMP_END.search(dump):
                    break
            if _signal_pending(self.proc.pid, WHERE_SIGNAL):
                taken = None
            elif taken is None:
                taken = time.monotonic()
            elif time.monotonic() - taken > WHERE_QUIET_SECONDS:
                break
        self._err.truncate(start)
        text = dump.decode(errors="replace")
        return [(path, int(line), func) for path, line, func in _FRAME.findall(text)]

    def _death_reason(self) -> tuple[str, str]:
        """Why the child stopped answering, and the same for a hidden test: without the status or signal, which
        student code chooses (it could say a hidden input that way)."""
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "closed the grading channel", ""
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:  # a real-time signal has no name
                name = f"signal {-code}"
            hint = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed, e.g. memory)", "SIGSEGV": " (crash)",
                    "SIGXFSZ": f" (more than {self.limits.file_mb} MB of printed output or files)"}
            return (f"the process was ended by {name}{hint.get(name, '')}",
                    "the process was ended by a signal (a limit, a crash or a kill)")
        return (f"the process exited with status {code} (sys.exit or os._exit in student code?)",
                "the process exited (sys.exit or os._exit in student code?)")

    def _send(self, pending: Pending) -> None:
        """Write a request.  When the pipe is full, replies to earlier requests are collected to make room (the
        child may be blocked writing them); with none outstanding, the child has the request's time to read."""
        view, deadline, generation = memoryview(pending.data), None, self.generation
        while view:
            try:
                view = view[os.write(self._req_w, view) :]
                continue
            except BlockingIOError:
                pass
            if self._queue:
                self._collect_next()
                if self.generation != generation or self.proc is None:
                    raise _Replaced
                continue
            self._await_start()
            if deadline is None:
                deadline = time.monotonic() + pending.seconds
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            select.select([], [self._req_w], [], remaining)

    def _receive(self, deadline: float) -> dict:
        assert self._replies is not None
        while not self._replies.done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([self._resp_r], [], [], min(remaining, STOPPED_POLL_SECONDS))
            if readable:
                chunk = os.read(self._resp_r, 1 << 20)
                if not chunk:
                    raise EOFError
                self._replies.feed(chunk)
            elif self.proc is not None and _stopped(self.proc.pid):
                raise ChildStopped
        return self._replies.pop()

    def mark(self) -> tuple[int, int]:
        """The sizes of the captured stdout and stderr once every request sent so far is answered."""
        self._drain()
        return tuple(os.fstat(f.fileno()).st_size for f in (self._out, self._err))

    def output(self) -> str:
        """What the student's code printed (stdout then stderr) once every request sent so far is answered,
        head and tail kept."""
        self._drain()
        parts = []
        for name, f in (("stdout", self._out), ("stderr", self._err)):
            from autograder.sandbox import wire

            # Ticks counting dropped output follow the cut line: they are not output.
            size = min(os.fstat(f.fileno()).st_size, wire.output_kept_end(self.limits.file_mb << 20))
            if size == 0:
                continue
            f.seek(0)
            if size <= 2 * OUTPUT_KEEP:
                text = f.read(size).decode(errors="replace")
            else:
                head = f.read(OUTPUT_KEEP).decode(errors="replace")
                f.seek(size - OUTPUT_KEEP)
                tail = f.read(OUTPUT_KEEP).decode(errors="replace")
                text = f"{head}\n[... {size - 2 * OUTPUT_KEEP} bytes not shown here ...]\n{tail}"
            parts.append(f"--- {name} ---\n{text}")
        return "\n".join(parts)
