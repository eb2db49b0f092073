"""The limits and identity a child takes on before it runs any student code.

One description (``spec``: plain data) and one function that applies it, used
twice: in the process ``subprocess`` forks just before it executes a fresh
child Python (``preexec_fn``), and in a child forked from the fork server
(``forkserver.py``), which applies it right after the fork.  Like ``wire.py``,
this module travels to the child as source and uses only the standard library.
"""

from __future__ import annotations

import os
import resource


def spec(cpu_seconds: int, memory_mb: int, file_mb: int, processes: int, uid: int | None,
         gid: int | None) -> dict:
    """The description ``apply`` takes: CPU seconds, address space and file size (MiB), and for a child with
    its own uid (``uid`` not None), the number of processes of that uid and the uid and gid."""
    return {"cpu_seconds": cpu_seconds, "memory_mb": memory_mb, "file_mb": file_mb, "processes": processes,
            "uid": uid, "gid": gid}


def apply(limits: dict) -> None:
    """Resource limits first, then the unprivileged identity (without supplementary groups), then a umask that
    keeps what the child writes to itself.  Raises OSError when any step fails: the child must not start."""
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 5))
    memory, size = limits["memory_mb"] << 20, limits["file_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:  # in a container with a memory limit (Gradescope's), the OOM killer takes student code first
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    if limits["uid"] is not None:
        # Counted per uid, and the uid is this child's alone: a fork bomb stops here.
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
        os.setgroups([])
        os.setgid(limits["gid"])
        os.setuid(limits["uid"])
    os.umask(0o077)
