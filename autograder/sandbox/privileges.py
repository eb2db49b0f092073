"""Who student code runs as, and what that identity can reach.

When the grader runs as root (as on Gradescope), each submission's child runs
under a fresh unprivileged uid and gid (``UID_BASE`` + the grader's pid), with
no supplementary groups: no other process on the machine shares that identity,
so the child can read only world-readable files, write only its own work
folder, and all of its processes can be found and killed by uid at the end.
The grader refuses to start if the child's Python cannot be run by that uid or
if a secret (the config, the reference solution) is readable by it.

Run as an ordinary user, the child shares the grader's uid; the process-level
defences still apply (a separate process, limits, no pickling, results written
by the grader), but files the grader's user can read are readable by student
code too.  See docs/security.md.
"""

from __future__ import annotations

import ctypes
import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

UID_BASE = 1_000_000
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36


class PrivilegeError(Exception):
    """The grader runs as root but cannot separate student code safely."""


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int


def student_identity(grader_pid: int | None = None) -> Identity | None:
    """The identity of student code graded by ``grader_pid`` (this process) when running as root; None otherwise.

    ``AUTOGRADER_DROP_PRIVILEGES=0`` keeps root for the child (unsafe; only for
    a machine where no other Python is runnable by an unprivileged user).
    """
    if os.geteuid() != 0 or os.environ.get("AUTOGRADER_DROP_PRIVILEGES", "1") == "0":
        return None
    ident = UID_BASE + (os.getpid() if grader_pid is None else grader_pid)
    return Identity(ident, ident)


# Where `make child-python` builds a Python (with numpy) that every user can run.
BUILT_CHILD_PYTHONS = ("/opt/hw_rnn_child/bin/python",)


_REFUSED: set[Path] = set()  # cache folders found open to others (said once)


def cache_folder() -> Path | None:
    """Where the grader keeps what it computed between runs (the reference's values, the parsed config):
    ``AUTOGRADER_CACHE``, else ``~/.cache/autograder``, made if missing.

    None when student code shares this uid (it could write there), and when the folder is not this user's
    alone: a folder another user could write to could hold someone else's file under the expected name.
    """
    import sys

    if student_identity() is None:
        return None
    folder = Path(os.environ.get("AUTOGRADER_CACHE") or Path.home() / ".cache" / "autograder")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        if folder not in _REFUSED:
            _REFUSED.add(folder)
            print(f"grader: not keeping computed values in {folder}: it must belong to this user and be closed "
                  "to others (chmod 700)", file=sys.stderr)
        return None
    return folder


def child_python() -> str:
    """The interpreter for student code.

    ``AUTOGRADER_CHILD_PYTHON`` when set; otherwise the grader's own, unless
    student code runs under its own uid (root mode) and that uid cannot run it:
    then the first of ``BUILT_CHILD_PYTHONS`` it can run.  When none can,
    the grader's own is returned and ``check_separation`` says what to do.
    """
    import sys

    explicit = os.environ.get("AUTOGRADER_CHILD_PYTHON")
    if explicit:
        return explicit
    if student_identity() is None or runnable_by_others(sys.executable):
        return sys.executable
    return next((p for p in BUILT_CHILD_PYTHONS if runnable_by_others(p)), sys.executable)


def runnable_by_others(python: str) -> bool:
    """Whether an unprivileged user can run ``python`` (links followed, every parent folder entered)."""
    try:
        return _others_can(Path(os.path.realpath(python)), stat.S_IXOTH)
    except OSError:
        return False


def _others_can(path: Path, bits: int) -> bool:
    """Whether a user who is neither owner nor in the group has ``bits`` on path and can reach it."""
    path = Path(os.path.abspath(path))
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & bits)


def others_can_reach(path: Path) -> bool:
    """Whether an unprivileged user can enter the folder ``path``."""
    try:
        return _others_can(path, stat.S_IXOTH)
    except OSError:
        return False


def readable_by_others(path: Path) -> bool:
    try:
        return _others_can(path, stat.S_IROTH)
    except OSError:
        return False


def check_separation(python: str, secrets: list[Path]) -> None:
    """Raise PrivilegeError unless the child can run and cannot read the secrets."""
    real = Path(os.path.realpath(python))
    if not runnable_by_others(python):
        tried = "" if os.environ.get("AUTOGRADER_CHILD_PYTHON") else (
            " (nor any of " + ", ".join(BUILT_CHILD_PYTHONS) + ", which are missing or closed to other users)")
        raise PrivilegeError(
            f"student code would run as an unprivileged user, who cannot run {real}{tried}; set "
            "AUTOGRADER_CHILD_PYTHON to a Python (with numpy) that other users can run, e.g. a venv made from "
            "/usr/bin/python3 (`make child-python` builds one in /opt/hw_rnn_child)")
    readable = [os.path.abspath(p) for p in secrets if readable_by_others(p)]
    if readable:
        listed = ", ".join(readable[:5]) + (f" and {len(readable) - 5} more" if len(readable) > 5 else "")
        # Closing one folder above them all is enough (others can no longer enter it); never advise "/" or /home.
        top = os.path.commonpath(readable)
        folders = [top] if len(Path(top).parts) > 2 else sorted({os.path.dirname(p) for p in readable})
        repository = str(Path(__file__).resolve().parents[2])
        inside = all(os.path.commonpath([repository, p]) == repository for p in readable)
        raise PrivilegeError(
            f"these grader files are readable by student code (other users): {listed}; make them private: "
            f"chmod go-rwx {' '.join(folders)}" + (" (`make root-mode` does it for this repository)" if inside else ""))


def harden_grader() -> None:
    """Make this process non-dumpable and a subreaper (Linux; a no-op elsewhere).

    Non-dumpable: a child with the same uid can neither ptrace this process nor
    read its /proc files (environment, memory).  Subreaper: a student process
    that escapes its process group (setsid, double fork) is re-parented here
    instead of to init, so ``kill_strays`` can find it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _processes() -> list[tuple[int, int, int, int]]:
    """(pid, ppid, pgid, uid) of every process this one can see."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:  # os.open and os.read: no file object per process (grade-all scans once per student)
            fd = os.open(f"/proc/{entry.name}/stat", os.O_RDONLY)
            try:
                fields = os.read(fd, 4096).rsplit(b")", 1)[1].split()
            finally:
                os.close(fd)
            uid = entry.stat(follow_symlinks=False).st_uid
        except (OSError, IndexError):
            continue
        found.append((int(entry.name), int(fields[1]), int(fields[2]), uid))
    return found


def kill_identity(uid: int) -> int:
    """Kill every process of ``uid`` at once: 1 when there was any, 0 when none (or this process is not root).

    A scan of /proc and a kill per pid misses a process that forks and exits in a loop (its pid changes
    between the scan and the kill): it would outlive grading and, in a worker of ``grade-all``, share the
    next students' uid.  kill(-1) as that uid reaches them all in one step of the kernel, which fails a fork
    already signalled.  The forked process only changes identity and signals, then exits.
    """
    if os.geteuid() != 0:
        return 0
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal, itself excepted
            code = 0
        except BaseException:  # noqa: BLE001 -- never run the grader's code on in a forked copy
            pass
        os._exit(code)
    return int(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0)


def kill_strays(child_pgid: int, uid: int | None, keep: frozenset[int] = frozenset()) -> int:
    """Kill what student code left running; return how many processes were killed.

    Targets: the child's process group; with a dedicated uid, every process of
    that uid (all at once with ``kill_identity``, then by scan); and processes
    re-parented to this grader (escaped with setsid)
    that are in no process group of ours, except the pids in ``keep`` (the fork
    server, a child of this grader in its own session, which student code can
    neither start nor become).
    """
    me, my_pgid = os.getpid(), os.getpgid(0)
    killed = kill_identity(uid) if uid is not None else 0
    for pid, ppid, pgid, puid in _processes():
        if pid == me or pid in keep:
            continue
        stray = pgid == child_pgid or (uid is not None and puid == uid) or (ppid == me and pgid != my_pgid)
        if stray:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


# System V IPC objects (shared memory, semaphores, message queues) live in the kernel, not in a process: a
# student's survive grading (a 64 MB segment each, readable by anyone with its mode) and, in a worker of
# grade-all, the next student of the same uid could read them.  Their creator's uid is in /proc/sysvipc.
_IPC = {"shm": "shmctl", "sem": "semctl", "msg": "msgctl"}
_IPC_RMID = 0


def remove_ipc(uid: int) -> int:
    """Remove every System V IPC object created by ``uid``; return how many (0 when there is no /proc/sysvipc)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return 0
    removed = 0
    for kind, call in _IPC.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = [line.split() for line in f if line.strip()]
        except (OSError, ValueError):
            continue
        if "cuid" not in header or len(header) < 2:
            continue
        for row in rows:
            try:
                if int(row[header.index("cuid")]) != uid:
                    continue
                ident = int(row[1])  # the id column follows the key: shmid, semid, msqid
            except (ValueError, IndexError):
                continue
            args = (ident, 0, _IPC_RMID) if kind == "sem" else (ident, _IPC_RMID, None)
            removed += getattr(libc, call)(*args) == 0
    return removed
