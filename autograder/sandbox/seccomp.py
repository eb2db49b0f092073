"""No network for student code: a seccomp filter refuses every socket but a local (AF_UNIX) one.

The child receives hidden test inputs; with a network it could send them out
(a connection to a listener of the student's, during the hidden calls).  The
child installs this filter after Landlock and before importing any student
module, and every process it starts inherits it.  Refused with EACCES:
``socket()`` for any family but AF_UNIX (TCP, UDP, raw, packet sockets),
``io_uring_setup`` (io_uring makes sockets without ``socket()``), any system
call of another ABI than the interpreter's (i386 ``socketcall`` through
``int 0x80``, x32), so the filter cannot be stepped around.  Also refused: a
new user namespace (``unshare`` or ``clone`` with CLONE_NEWUSER; ``clone3``
answers ENOSYS, so the C library falls back to ``clone``): inside one, the
child would hold every capability over namespaces of its own, kernel surface
a grader has no use for.  AF_UNIX stays:
Python and numpy use it, and Landlock (from ABI 6) already scopes abstract
sockets; a named socket needs a path the child can reach.  Landlock from ABI
4 also refuses TCP bind and connect (landlock.py), a second lock on the same door.

Like ``landlock.py``, this module travels to the child as source and uses only
the standard library.  Source of the constants and layouts: the kernel's
``include/uapi/linux/seccomp.h``, ``filter.h``, ``audit.h`` and its system call tables;
Documentation/userspace-api/seccomp_filter.rst.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
import sys

# (AUDIT_ARCH, socket, io_uring_setup, seccomp, whether the ABI has x32 numbers to refuse, unshare, clone)
_ARCHES = {"x86_64": (0xC000003E, 41, 425, 317, True, 272, 56), "aarch64": (0xC00000B7, 198, 425, 277, False, 97, 220)}
_CLONE3 = 435  # the same number on both
_PR_SET_NO_NEW_PRIVS, _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC = 38, 1, 1
_X32_BIT = 0x40000000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _DENY = 0x7FFF0000, 0x00050000 | errno.EACCES  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EACCES
_NO_SUCH_CALL = 0x00050000 | errno.ENOSYS
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (args[0]'s low half, little-endian)
_AF_UNIX = 1
_CLONE_NEWUSER = 0x10000000


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(arch: str) -> bytes:
    """The BPF program for a machine (``platform.machine()``); KeyError for one this module does not know."""
    audit, socket_nr, io_uring_nr, _, x32, unshare_nr, clone_nr = _ARCHES[arch]
    ops = [_op(_LD_W_ABS, _ARCH), _op(_JEQ_K, audit, 1, 0), _op(_RET_K, _DENY), _op(_LD_W_ABS, _NR)]
    if x32:
        ops += [_op(_JGE_K, _X32_BIT, 0, 1), _op(_RET_K, _DENY)]
    ops += [_op(_JEQ_K, io_uring_nr, 0, 1), _op(_RET_K, _DENY),
            # clone3 passes its flags in memory a filter cannot read: "no such call" sends the C library
            # back to clone, whose flags it can (threads and processes start as before).
            _op(_JEQ_K, _CLONE3, 0, 1), _op(_RET_K, _NO_SUCH_CALL),
            # unshare and clone: refused with CLONE_NEWUSER (args[0]), the rest of the four ops allowed.
            _op(_JEQ_K, unshare_nr, 1, 0), _op(_JEQ_K, clone_nr, 0, 4),
            _op(_LD_W_ABS, _ARG0), _op(_JSET_K, _CLONE_NEWUSER, 0, 1), _op(_RET_K, _DENY), _op(_RET_K, _ALLOW),
            _op(_JEQ_K, socket_nr, 1, 0), _op(_RET_K, _ALLOW),
            _op(_LD_W_ABS, _ARG0), _op(_JEQ_K, _AF_UNIX, 0, 1), _op(_RET_K, _ALLOW), _op(_RET_K, _DENY)]
    return b"".join(ops)


def cut_network() -> str:
    """Install the filter on every thread of this process and what it starts later (TSYNC); a line saying what
    holds.  Never raises: where seccomp is missing the line says why."""
    if not sys.platform.startswith("linux") or platform.machine() not in _ARCHES:
        return f"network open: no seccomp filter for {sys.platform} {platform.machine()}"
    try:
        code = ctypes.create_string_buffer(program(platform.machine()))
        fprog = _Fprog(len(code.raw) // 8, ctypes.cast(code, ctypes.c_void_p))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        libc.syscall.restype = ctypes.c_long
        if libc.syscall(ctypes.c_long(_ARCHES[platform.machine()][3]), ctypes.c_uint(_SECCOMP_SET_MODE_FILTER),
                        ctypes.c_uint(_SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(fprog)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp(SET_MODE_FILTER): {errno.errorcode.get(err, err)}")
    except OSError as exc:
        return f"network open: {exc}"
    return "network cut: only local (AF_UNIX) sockets"
