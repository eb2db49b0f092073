"""Landlock: the kernel confines the child to its own folder and the Python it runs on.

Landlock (Linux 5.13 and later, no privileges needed) lets a process give up
file system access for itself and every process it starts.  The child calls
``seal`` after importing numpy and before importing any student module: from
then on it may read and execute only the files its interpreter needs (its
prefixes, the standard library, site-packages, the system's programs and shared
libraries) and read and write only its work folder.  Everything else (the
grader's checkout, /tmp, /home, /proc, other sandboxes) is closed, even where
ordinary permissions would let its uid in.  Files opened before (the grading
channel, the output capture files) keep working.

Like ``wire.py``, this module travels to the child as source on its command
line and uses only the standard library.  Source of the constants and layouts:
the kernel's ``include/uapi/linux/landlock.h`` and Documentation/userspace-api/landlock.rst.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
import sysconfig

# The system call numbers (the generic table: the same on x86_64 and aarch64).
_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
# What a rule on a file (not a folder) may allow.
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # handled with no rule: no TCP port may be bound or reached

# The system's programs and shared libraries, and the few files the dynamic loader and time zones read.
SYSTEM_READ = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache",
               "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


class LandlockError(OSError):
    """Landlock is missing or refused to confine this process."""


def handled_fs(abi: int) -> int:
    """The file system rights a ruleset handles under an ABI version: all it knows of, none it does not."""
    if abi < 1:
        return 0
    bits = (1 << 13) - 1  # ABI 1: EXECUTE ... MAKE_SYM
    if abi >= 2:
        bits |= REFER
    if abi >= 3:
        bits |= TRUNCATE
    if abi >= 5:
        bits |= IOCTL_DEV
    return bits


def _syscalls():
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None or not sys.platform.startswith("linux"):
        raise LandlockError(0, f"Landlock is not supported here ({sys.platform} {platform.machine()})")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc, numbers


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled (never raises)."""
    try:
        libc, (create, _, _) = _syscalls()
    except (LandlockError, OSError, AttributeError):
        return 0
    version = libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def child_paths(workdir: str) -> tuple[list[str], list[str]]:
    """(read and execute, read and write) paths for a child working in ``workdir``.

    Read: this interpreter's prefixes (a venv and the Python it was made from),
    its standard library and site-packages, and the system's programs and
    libraries (``SYSTEM_READ``); write: the work folder alone.  Paths are
    resolved (links followed); missing ones are left out.
    """
    candidates = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable))]
    for scheme_path in ("stdlib", "platstdlib", "purelib", "platlib"):
        candidates.append(sysconfig.get_paths().get(scheme_path, ""))
    candidates += SYSTEM_READ
    found = {os.path.realpath(p) for p in candidates if p}
    found = sorted(p for p in found if p != "/" and os.path.exists(p))
    # A path inside another listed one adds nothing.
    read = [p for p in found if not any(p.startswith(q + "/") for q in found)]
    return read, [os.path.realpath(workdir)]


def _add_rule(libc, add_rule: int, ruleset: int, path: str, access: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY
        attr = ctypes.create_string_buffer(struct.pack("=QI", access, fd), 12)  # packed: u64 then s32
        if libc.syscall(add_rule, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), attr,
                        ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise LandlockError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def seal(read: list[str], write: list[str], devices: tuple[str, ...] = DEVICES) -> str:
    """Confine this process (and its future children) to ``read`` (read, execute) and ``write`` (everything).

    Also sets no_new_privs (Landlock requires it without CAP_SYS_ADMIN; it also
    stops setuid programs from regaining privileges) and, from ABI 6, scopes
    signals and abstract UNIX sockets to processes inside the same sandbox; from ABI 4, refuses every TCP
    bind and connect (seccomp.py refuses the sockets themselves).
    Returns a one-line description; raises LandlockError when Landlock is
    missing or a step fails (the process is then not confined by Landlock).
    """
    libc, (create, add_rule, restrict) = _syscalls()
    abi = abi_version()
    if abi < 1:
        raise LandlockError(0, "the kernel offers no Landlock (Linux 5.13 or later, enabled at boot)")
    # Landlock confines the calling thread and the threads and processes it starts later.
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    if threads > 1:
        raise LandlockError(0, f"{threads} threads run already and only the calling one would be confined")
    fs = handled_fs(abi)
    net = _NET_BIND_TCP | _NET_CONNECT_TCP
    if abi >= 6:
        attr = struct.pack("=QQQ", fs, net, _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
    elif abi >= 4:
        attr = struct.pack("=QQ", fs, net)
    else:
        attr = struct.pack("=Q", fs)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(create, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        reading = EXECUTE | READ_FILE | READ_DIR
        for path in read:
            _add_rule(libc, add_rule, ruleset, path, reading)
        for path in write:
            _add_rule(libc, add_rule, ruleset, path, fs)
        for path in devices:
            if os.path.exists(path):
                _add_rule(libc, add_rule, ruleset, path, READ_FILE | WRITE_FILE)
        # Its own /proc entry (limits, status, oom_score_adj), read only; not its children's, nor anyone else's.
        _add_rule(libc, add_rule, ruleset, f"/proc/{os.getpid()}", READ_FILE | READ_DIR)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise LandlockError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
        if libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise LandlockError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(ruleset)
    tcp = "; no TCP" if abi >= 4 else ""
    return (f"Landlock ABI {abi}: reads {', '.join(read)} and its own /proc entry; writes {', '.join(write)}"
            + tcp)
