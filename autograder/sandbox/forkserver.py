"""A fork server: one pre-started child Python per grading process, from which each submission's child is forked.

A single ``grade`` or ``check`` starts it first thing (``prestart``), so the
child's Python and numpy load while the grader reads its configuration.

Starting Python and importing numpy costs a child about as much CPU as the
rest of grading a correct submission.  A process that grades many submissions
(a worker of ``grade-all``, see ``classroom/worker.py``) turns this on with
``enable()``: its first sandbox starts the server (the child's own program,
``child.fork_server``, with the children's environment and nothing else: no
submission, no reference, no secret ever reaches it), and every sandbox after
that asks it for a fork.  The forked process drops to the student's identity,
takes its limits (``confine.py``), seals itself with Landlock and serves
exactly as a freshly started child does; it is never reused for another
submission.  The server stays root, so a student's process can neither signal
nor trace it, and a child forked later starts from the server's memory, never
from an earlier child's.

When the server cannot be started or dies, sandboxes start fresh children
(``subprocess``) as before.  ``AUTOGRADER_FORK_SERVER=1`` turns the server on in
any grading process (the tests run attacks through it), ``=0`` off everywhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

_ENABLED = False
_SERVERS: dict[str, ForkServer | None] = {}
_LOCK = threading.Lock()
START_SECONDS = 300.0  # like box.START_SECONDS: a safety net on a loaded machine


def enable() -> None:
    """Fork every later child of this process from a fork server."""
    global _ENABLED
    _ENABLED = True


def prestart(python: str, program: str, env: dict[str, str]) -> None:
    """Turn the fork server on and start it now, without waiting: it imports numpy while this process reads
    its configuration, so the child of a single ``grade`` is ready sooner (``AUTOGRADER_FORK_SERVER=0``: not)."""
    if os.environ.get("AUTOGRADER_FORK_SERVER", "") != "0":
        enable()
        shared(python, program, env)


def shared(python: str, program: str, env: dict[str, str]) -> ForkServer | None:
    """This process's fork server for ``python`` (started on first use), or None when not enabled or broken."""
    switch = os.environ.get("AUTOGRADER_FORK_SERVER", "")
    if switch == "0" or not (_ENABLED or switch == "1"):
        return None
    with _LOCK:
        server = _SERVERS.get(python)
        if server is not None and server.alive():
            return server
        try:
            _SERVERS[python] = ForkServer(python, program, env)
        except (OSError, ValueError, TimeoutError) as exc:
            print(f"grader: no fork server ({type(exc).__name__}: {exc}); children start Python themselves",
                  file=sys.stderr)
            _SERVERS[python] = None
        return _SERVERS[python]


def server_pids() -> frozenset[int]:
    """The pids of this process's fork servers (``privileges.kill_strays`` must spare them)."""
    return frozenset(s.proc.pid for s in _SERVERS.values() if s is not None)


def peak_child_kb() -> int:
    """The largest peak memory (kB) of a child any fork server of this process reported."""
    return max((s.peak_kb for s in _SERVERS.values() if s is not None), default=0)


class ForkedChild:
    """A child forked by the server, with the part of ``subprocess.Popen``'s interface the sandbox uses."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: the signal), as ``Popen.wait``; TimeoutExpired when it still runs."""
        if self.returncode is None:
            self.returncode = self.server.wait(self.pid, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(f"forked child {self.pid}", timeout or 0)
        return self.returncode


class ForkServer:
    """The grader's side of ``child.fork_server``: a SOCK_SEQPACKET socket (one message per request)."""

    def __init__(self, python: str, program: str, env: dict[str, str]) -> None:
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.peak_kb = 0  # the largest peak memory of a child, as they end
        self._lock = threading.Lock()
        try:
            self.proc = subprocess.Popen([python, "-I", "-c", program, "fork-server", str(theirs.fileno())],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd="/", env=env,
                                         pass_fds=(theirs.fileno(),), start_new_session=True)
        finally:
            theirs.close()
        self._ready = False  # its first message says it has imported numpy: awaited on first use
        self._asked = 0  # requests sent; each reply carries its request's number

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _await_ready(self) -> None:
        self._sock.settimeout(START_SECONDS)
        try:
            json.loads(self._sock.recv(1 << 16) or b"null")["ready"]
        except (TypeError, KeyError, ValueError, OSError) as exc:
            raise OSError(f"the fork server did not start ({exc})") from None
        finally:
            self._sock.settimeout(None)
        self._ready = True

    def _ask(self, request: dict, fds: tuple[int, ...] = ()) -> dict:
        """Send a request and return its reply; a reply to an earlier request that was never read (its
        reader interrupted) is skipped by its id."""
        with self._lock:
            if not self._ready:
                self._await_ready()
            self._asked += 1
            socket.send_fds(self._sock, [json.dumps({**request, "id": self._asked}).encode()], list(fds))
            while True:
                data = self._sock.recv(1 << 16)
                if not data:
                    raise OSError("the fork server closed its socket")
                reply = json.loads(data)
                if reply.get("id") == self._asked:
                    return reply
                print(f"grader: skipped a fork server reply to an earlier request ({reply})", file=sys.stderr)

    def spawn(self, workdir, env: dict[str, str], limits: dict, flags: list[str],
              fds: tuple[int, int, int, int, int]) -> ForkedChild | None:
        """Fork a child serving in ``workdir`` on descriptors (request, reply, status, stdout, stderr); None when
        the server failed (the caller then starts a fresh Python)."""
        try:
            reply = self._ask({"op": "spawn", "workdir": str(workdir), "env": env, "limits": limits,
                               "flags": flags}, fds)
            return ForkedChild(self, int(reply["pid"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"grader: the fork server failed ({type(exc).__name__}: {exc}); starting Python instead",
                  file=sys.stderr)
            self.close()
            return None

    def wait(self, pid: int, timeout: float | None) -> int | None:
        """A forked child's exit code once it ended (waiting up to ``timeout`` seconds, None: until it does)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 5.0 if deadline is None else max(0.0, min(5.0, deadline - time.monotonic()))
            try:
                reply = self._ask({"op": "wait", "pid": pid, "timeout": step})
            except (OSError, ValueError):
                return -9  # the server is gone, and its children with their session: report a kill
            self.peak_kb = max(self.peak_kb, int(reply.get("peak_kb") or 0))
            if reply.get("code") is not None:
                return int(reply["code"])
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        try:
            self._sock.close()
        finally:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

