"""The program that runs in the child process and calls the student's functions.

It is started by ``sandbox/box.py`` with ``python -I -c <source>``: the source of
``wire.py`` and of this file travel on the command line, so the child never
needs to read the grader's files.  It imports student modules from its working
folder (a temporary copy of the submission), answers one request at a time,
keeps non-plain results (caches) in a table behind integer handles, and sends
back only plain data.  It decides nothing about scores.
"""

from __future__ import annotations

import faulthandler
import gc
import importlib
import io
import os
import re
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable

import numpy as np

try:  # POSIX only: the self-check runs this module on Windows too (_cpu_seconds falls back)
    import resource
except ImportError:
    resource = None

from autograder.sandbox.wire import (
    MAX_REPLY_HEADER_BYTES,
    PRINTED_TICKS_MAX,
    Handle,
    MessageStream,
    output_cap,
    output_cut_line,
    sent_error,
    tick_unit,
    write_message,
)

MAX_WARNINGS = 20


def _resolve(value, handles: dict):
    """Replace handles in an argument tree by the objects they stand for."""
    if isinstance(value, Handle):
        if value.id not in handles:
            raise LookupError(f"unknown handle {value.id}")
        return handles[value.id]
    if type(value) in (list, tuple):
        return type(value)(_resolve(v, handles) for v in value)
    if type(value) is dict:
        return {k: _resolve(v, handles) for k, v in value.items()}
    return value


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(_copy(v) for v in value)
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    return value


def _edited(args: list, path: list) -> tuple[object, object, np.ndarray]:
    """The container holding args[path] (a list or dict), the key in it, and the array there."""
    container = args
    for key in path[:-1]:
        container = container[key]
    return container, path[-1], container[path[-1]]


class EvaluationTimeout(BaseException):
    """One evaluation of a batch ran past the call time limit (``evaluate_many``'s ``seconds``)."""


def _evaluation_alarm(signum, frame):
    raise EvaluationTimeout()


def evaluate_many(fn, args: list, kwargs: dict, plans: list[dict], outputs: list[int],
                  seconds: float | None = None) -> list[tuple]:
    """Call fn at many perturbed copies of the same arguments.

    Each plan edits one positional argument, at ``path`` (an argument index, then
    a dict key for a dict argument): with ``index`` an int array of shape (m,),
    evaluation j adds ``delta[j]`` to the flat coordinate ``index[j]``; with
    ``index`` None, it adds the array ``delta[j]`` to the whole argument.  A joint
    plan ({"paths", "deltas"}) edits several at once: evaluation j adds
    ``deltas[i][j]`` to the argument at ``paths[i]`` for every i.  The
    evaluations of all plans run in order; only the outputs at positions
    ``outputs`` are kept.  The grader uses the same function on the reference,
    in its own process.

    ``seconds``: each evaluation's time limit, as a call's (an interval timer raising EvaluationTimeout; the
    caller installs ``_evaluation_alarm`` for SIGALRM), so a function that never returns stops the batch after
    one call's limit, not the whole batch's.
    """
    values = []

    def run(call_args: list) -> None:
        if seconds:
            signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            result = fn(*call_args, **_copy(kwargs))
        finally:
            if seconds:
                signal.setitimer(signal.ITIMER_REAL, 0)
        if type(result) not in (tuple, list):
            result = (result,)
        values.append(tuple(result[k] if k < len(result) else None for k in outputs))

    for p in plans:
        if "paths" in p:
            edits = [(list(path), np.asarray(delta)) for path, delta in zip(p["paths"], p["deltas"])]
            for j in range(len(edits[0][1]) if edits else 0):
                call_args = _copy(args)
                for path, delta in edits:
                    container, key, target = _edited(call_args, path)
                    container[key] = target + delta[j]
                run(call_args)
            continue
        path, index, delta = list(p["path"]), p["index"], np.asarray(p["delta"])
        for j in range(len(delta)):
            call_args = _copy(args)
            container, key, target = _edited(call_args, path)
            if index is None:
                container[key] = target + delta[j]
            else:
                target.reshape(-1)[int(index[j])] += delta[j]
            run(call_args)
    return values


def stacked_outputs(values: list[tuple], outputs: int) -> list[np.ndarray]:
    """``evaluate_many``'s values as one (evaluations, ...) float64 array per output; raises on ragged or odd
    outputs."""
    return [np.stack([np.asarray(v[k], dtype=np.float64) for v in values]) for k in range(outputs)]


def _student_traceback(exc: BaseException, is_student: Callable[[str], bool], root: str | None = None) -> str:
    """The last frames of the failing call that ``is_student`` keeps (by file name), and the exception; files
    under ``root`` (the work folder) named relative to it."""
    # Source lines are read only for the frames kept (lookup_lines=False leaves them to format_list): reading
    # them for every frame would load numpy's own sources into a fresh child on each failing call.
    stack = traceback.TracebackException(type(exc), exc, exc.__traceback__, lookup_lines=False).stack
    frames = [f for f in stack if is_student(f.filename)]
    lines = traceback.format_list(frames[-6:])
    lines += traceback.format_exception_only(type(exc), exc)
    return _relative("".join(lines), root)[-3000:]


def _relative(text: str, root: str | None) -> str:
    """``text`` with the work folder's path cut from the files it names: the student knows the file by its name, not
    by the grader's temporary folder, whose random name would also make one bug's message differ between students."""
    return text.replace(root.rstrip("/") + "/", "") if root else text


class Child:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.handles: dict[int, object] = {}
        self.next_handle = 1

    def _new_handle_id(self) -> int:
        while self.next_handle in self.handles:  # the grader's named handles (keep_as) are taken
            self.next_handle += 1
        return self.next_handle

    def function(self, module: str, name: str):
        mod = importlib.import_module(module)
        fn = getattr(mod, name, None)
        if fn is None:
            run = sys.modules.get("_notebook_run")  # a notebook's cells ran (notebook_kernel.py): no module file
            if run is not None:
                raise AttributeError(f"no cell of the notebook that ran defined {name} (the notes above say which "
                                     "cells failed or did not run)")
            raise AttributeError(f"{module}.py has no function named {name!r}")
        return fn

    def op_import(self, msg: dict) -> dict:
        try:
            importlib.import_module(msg["module"])
        except SyntaxError as exc:
            # Valid code for the student's newer Python can be an error for this one: where the line holds what
            # newer Pythons added (an f-string, except*, a type statement, type parameters), say which one this is.
            if _NEWER_SYNTAX.search(exc.text or "") or "f-string" in str(exc.msg):
                version = ".".join(map(str, sys.version_info[:3]))
                exc.msg = (f"{exc.msg} [Python {version} runs this code; syntax that only a newer Python accepts, "
                           "such as an f-string reusing its quotes inside (3.12) or a starred index a[*i, j] (3.11), "
                           "is an error here]")
            raise
        # A notebook's modules run its cells (notebook_kernel.py) and keep what failed, for the student.
        notes = getattr(sys.modules.get("_notebook_run"), "notes", None)
        return {"ok": True, "value": [str(n)[:500] for n in notes[:20]] if isinstance(notes, list) else []}

    def op_call(self, msg: dict) -> dict:
        fn = self.function(msg["module"], msg["function"])
        args = _resolve(list(msg["args"]), self.handles)
        kwargs = _resolve(dict(msg.get("kwargs") or {}), self.handles)
        start, cpu, thread_cpu = time.perf_counter(), _cpu_seconds(), time.thread_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args, **kwargs)
        seconds, cpu, thread_cpu = time.perf_counter() - start, _cpu_seconds() - cpu, time.thread_time() - thread_cpu
        keep = msg.get("keep") or []
        # The grader may name the handles itself ("keep_as"), so that it can send a call that uses one (a
        # backward on its forward's cache) before this call is answered.
        named = msg.get("keep_as") or []
        if keep and type(result) in (tuple, list):
            result = list(result)
            for n, k in enumerate(keep):
                if k < len(result):
                    handle_id = named[n] if n < len(named) else self._new_handle_id()
                    self.handles[handle_id] = result[k]
                    result[k] = Handle(handle_id)
            result = tuple(result)
        back = msg.get("inputs_back", True)
        return {
            "ok": True,
            "value": result,
            # Handles resolve to caches: those stay here, only plain inputs go back.
            "args_after": [None if isinstance(sent, Handle) else a for sent, a in zip(msg["args"], args)] if back
            else [],
            "kwargs_after": kwargs if back else {},
            "warnings": [f"{w.category.__name__}: {w.message}"[:300] for w in caught[:MAX_WARNINGS]],
            "seconds": seconds,
            # The call's CPU time: of every thread (and waited child), and of the calling thread alone, the finer.
            "cpu": cpu,
            "thread_cpu": thread_cpu,
        }

    def op_call_many(self, msg: dict) -> dict:
        fn = self.function(msg["module"], msg["function"])
        seconds = msg.get("evaluation_seconds")
        previous = signal.signal(signal.SIGALRM, _evaluation_alarm) if seconds else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values = evaluate_many(fn, list(msg["args"]), dict(msg.get("kwargs") or {}), msg["plans"],
                                       msg["outputs"], seconds)
        except EvaluationTimeout as exc:
            # Where it was stopped (innermost first), as the grader's stack dump of a call past its time says it.
            frames = [(f.filename, f.lineno or 0, f.name) for f in reversed(traceback.extract_tb(exc.__traceback__))]
            return {"ok": False, "error_type": "EvaluationTimeout", "stopped_at": frames}
        finally:
            if seconds:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        # One (evaluations, ...) array per output is far cheaper to send than thousands of small ones.
        try:
            stacked = stacked_outputs(values, len(msg["outputs"]))
        except Exception:  # noqa: BLE001 -- ragged or odd outputs: send them as they are
            return {"ok": True, "values": values}
        return {"ok": True, "stacked": stacked}

    def op_drop(self, msg: dict) -> dict:
        for handle_id in msg.get("ids", []):
            self.handles.pop(handle_id, None)
        return {"ok": True}

    def serve(self, req_fd: int, resp_fd: int) -> None:
        ops = {"import": self.op_import, "call": self.op_call, "call_many": self.op_call_many, "drop": self.op_drop}
        requests = MessageStream()  # the grader may send the next requests before this one is answered
        while True:
            try:
                msg = requests.read_from(req_fd)
            except EOFError:
                return
            try:
                reply = ops[msg["op"]](msg)
            except BaseException as exc:  # noqa: BLE001 -- student code may raise anything, SystemExit included
                reply = {
                    "ok": False,
                    "error_type": type(exc).__name__,
                    "error": sent_error(_relative(str(exc), self.workdir)),
                    "traceback": _student_traceback(exc, lambda name: name.startswith(self.workdir), self.workdir),
                }
            # Printed output reaches its capture file before the grader reads it or kills this process.
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except BaseException:  # noqa: BLE001 -- student code may have replaced or closed the stream
                    pass
            try:
                write_message(resp_fd, reply, MAX_REPLY_HEADER_BYTES)
            except BaseException as exc:  # noqa: BLE001 -- e.g. a value that cannot be encoded
                write_message(resp_fd, {"ok": False, "error_type": "ReplyError", "error": sent_error(str(exc)),
                                        "traceback": ""})


def _cpu_seconds() -> float:
    """CPU seconds of this process's threads and of the children it waited for, to the microsecond
    (``getrusage``: a process CPU clock counts in 4 ms ticks once RLIMIT_CPU arms a timer, and a thread's clock
    misses work moved to another thread)."""
    if resource is None:
        return time.process_time()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _CappedOutput(io.RawIOBase):
    """A stream's file descriptor that keeps at most ``cap`` bytes in its file and drops the rest.

    The capture file has a size limit (RLIMIT_FSIZE): writing past it fails with EFBIG, which would fail the
    student's call.  So output stops short of the limit, with one line saying so, and later writes succeed
    without being kept: printing costs no points.
    """

    def __init__(self, fd: int, cap: int, cut_line: bytes) -> None:
        super().__init__()
        self._fd, self._cap, self._cut_line = fd, cap, cut_line
        try:  # the capture file outlives a restarted child: count what earlier children wrote
            self._size = os.fstat(fd).st_size
        except OSError:
            self._size = 0
        self._cut = self._size >= cap
        # Bytes dropped since the last tick, and ticks written (wire.tick_unit: the grader counts them).
        self._dropped, self._ticked = 0, max(0, self._size - cap - len(cut_line))

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data) -> int:
        n = len(data)
        if self._cut:
            self._count_dropped(n)
            return n
        try:
            if self._size + n <= self._cap:
                written = os.write(self._fd, data)
                self._size += written
                return written
            os.write(self._fd, bytes(data[:self._cap - self._size]))
            os.write(self._fd, self._cut_line)
        except OSError:  # the limit reached anyway (output written around the stream): keep nothing more
            self._ticked = PRINTED_TICKS_MAX
        self._cut = True
        self._count_dropped(n - max(0, self._cap - self._size))
        return n

    def _count_dropped(self, n: int) -> None:
        self._dropped += n
        ticks = 0
        while self._ticked + ticks < PRINTED_TICKS_MAX and self._dropped >= tick_unit(self._ticked + ticks):
            self._dropped -= tick_unit(self._ticked + ticks)
            ticks += 1
        if ticks:
            self._ticked += ticks
            try:
                os.write(self._fd, bytes(ticks))
            except OSError:
                self._ticked = PRINTED_TICKS_MAX


def _cap_output() -> None:
    """Replace sys.stdout and sys.stderr by streams that stop keeping output before the file size limit."""
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit == resource.RLIM_INFINITY or limit <= 0:
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            raw = _CappedOutput(stream.fileno(), output_cap(limit), output_cut_line(limit))
        except (AttributeError, OSError, ValueError):
            continue
        setattr(sys, name, io.TextIOWrapper(io.BufferedWriter(raw), encoding=stream.encoding, errors=stream.errors,
                                            line_buffering=stream.line_buffering))


def _seal(workdir: str) -> str:
    """Confine this process with Landlock (see landlock.py); a line saying what holds, for the grader's log."""
    try:
        from autograder.sandbox import landlock

        read, write = landlock.child_paths(workdir)
        return "sealed: " + landlock.seal(read, write)
    except Exception as exc:  # noqa: BLE001 -- any failure leaves the other defences, and is reported
        return f"not sealed: {exc}"


def fork_server(sock_fd: int) -> None:
    """Fork a fresh child per request of one grader process (``forkserver.py`` is the grader's side).

    This process has started Python and imported numpy once; it never imports
    student code, never reads a submission and never runs as the student: each
    request ({"op": "spawn"} with the child's five descriptors: request, reply,
    status, stdout, stderr) forks a process that confines itself
    (``confine.apply``) and serves as ``main`` does, so a child costs a fork
    instead of a Python start.  {"op": "wait", "pid", "timeout"} answers a
    child's exit code (None while it runs) and peak memory.  Ends when the
    grader closes the socket.
    """
    import json
    import signal
    import socket

    import numpy.random  # noqa: F401 -- most submissions use it: imported once here rather than in every child

    from autograder.sandbox import confine

    sock = socket.socket(fileno=sock_fd)
    exited: dict[int, tuple[int, int]] = {}  # pid: (exit code as subprocess gives it, peak memory in kB)

    def reap(*_) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exited[pid] = (os.waitstatus_to_exitcode(status), usage.ru_maxrss)

    signal.signal(signal.SIGCHLD, reap)
    # What is loaded now moves out of the collector's reach: a child's collections would otherwise walk (and,
    # by writing their headers, copy) every object inherited from this process.
    gc.freeze()
    try:
        sock.sendall(json.dumps({"ready": os.getpid()}).encode())
        _serve_forks(sock, exited, reap, confine)
    except OSError:  # the grader is gone (it stopped early, say on a bad argument): so is the need for forks
        return


def _serve_forks(sock, exited: dict, reap, confine) -> None:
    """``fork_server``'s loop: one request at a time, each answered with its ``id``."""
    import json
    import signal
    import socket

    while True:
        data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 8)
        if not data:
            return
        request = json.loads(data)
        answer = {"id": request.get("id")}  # the grader matches each reply to its request by this
        if request["op"] == "spawn":
            # The pid is answered once the child leads its own session: a grader that kills it at once (a
            # submission with nothing to import) kills its process group, which must then exist.
            settled_r, settled_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    sock.close()
                    os.close(settled_r)
                    os.setsid()
                    os.close(settled_w)
                    _forked(request, fds, confine)
                finally:
                    os._exit(70)
            os.close(settled_w)
            os.read(settled_r, 1)  # end of file: the child has called setsid (or died)
            os.close(settled_r)
            for fd in fds:
                os.close(fd)
            sock.sendall(json.dumps({**answer, "pid": pid}).encode())
        elif request["op"] == "wait":
            pid, deadline = request["pid"], time.monotonic() + request.get("timeout", 5.0)
            while pid not in exited and time.monotonic() < deadline:
                reap()
                if pid in exited:
                    break
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:  # not a child of this server (any more): nothing to wait for
                    exited.setdefault(pid, (-9, 0))
                    break
                time.sleep(0.001)
            code, peak = exited.pop(pid, (None, 0))
            sock.sendall(json.dumps({**answer, "code": code, "peak_kb": peak}).encode())


def _forked(request: dict, fds: list[int], confine) -> None:
    """In a child just forked from the fork server: become what ``subprocess`` would have started."""
    req_r, resp_w, status_w, out_fd, err_fd = fds
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    keep = {0, 1, 2, req_r, resp_w, status_w}
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
    workdir = request["workdir"]
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(request["env"])
    np.random.seed()  # fresh entropy, as a newly started Python would have (the server's state is shared)
    confine.apply(request["limits"])
    main([str(req_r), str(resp_w), workdir, str(status_w), *request.get("flags", [])])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 -- student code may have replaced or closed the stream
            pass
    os._exit(0)


# Syntax newer Pythons accept and older ones refuse: f-strings (3.12 lets them nest quotes), except* (3.11),
# type statements and type parameters (3.12).
# On the line of a SyntaxError: an f-string (3.12's), except* (3.11), a type statement or parameters (3.12), a
# starred index a[*i, j] (3.11).
_NEWER_SYNTAX = re.compile(r"""\b[fF][rR]?["']|\bexcept\s*\*|^\s*type\s+\w+.*=|\b(def|class)\s+\w+\[|"""
                           r"""[\w\])]\s*\[\s*\*\s*\w|[\w\])]\s*\[[^\[\]]*,\s*\*\s*\w""")


def main(argv: list[str]) -> None:
    """Serve requests: argv is the request fd, the reply fd, the work folder, a status fd and "no-landlock".

    The last two are optional; "no-landlock" leaves Landlock off (for tests that show what it stops).

    The status fd receives one line saying whether Landlock confines this
    process, then is closed; this happens before any student module is imported.
    """
    req_fd, resp_fd, workdir = int(argv[0]), int(argv[1]), argv[2]
    # Only the submission's folder, never the grader's, is importable.
    sys.path[:] = [workdir] + [p for p in sys.path if p and not p.startswith(workdir)]
    # The work folder is thrown away after grading: compiled student modules written there would only cost
    # file creations (a directory and one file per module, for every submission of a class).
    sys.dont_write_bytecode = True
    status = _seal(workdir) if "no-landlock" not in argv[4:] else "not sealed: turned off (AUTOGRADER_LANDLOCK=0)"
    from autograder.sandbox import seccomp

    status += "; " + seccomp.cut_network()  # after Landlock, which counts the threads; before any student module
    if len(argv) > 3:
        try:
            os.write(int(argv[3]), status.encode()[:4000] + b"\n")
            os.close(int(argv[3]))
        except OSError:
            pass
    _cap_output()
    # On the grader's signal when a call runs past its time, the stack goes to stderr, where the grader reads
    # (and cuts) it to say where the code was (box.py, WHERE_SIGNAL).  Student code may replace the handler.
    faulthandler.register(signal.SIGUSR2, file=2, all_threads=False)
    Child(workdir).serve(req_fd, resp_fd)


if __name__ == "__main__":
    main(sys.argv[1:])
