"""What the child runs: its program (child.py and the modules it needs, as source) and its environment.

Light on purpose (no numpy, no config): a single ``grade`` starts the fork
server from here before it imports anything else (``prestart_child``).
"""

from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_BOOT = """
import sys, types
for name in ("autograder", "autograder.sandbox"):
    pkg = types.ModuleType(name); pkg.__path__ = []; sys.modules[name] = pkg
sys.modules["autograder"].sandbox = pkg
for name, source in (("wire", {wire!r}), ("landlock", {landlock!r}), ("seccomp", {seccomp!r}),
                     ("confine", {confine!r})):
    mod = types.ModuleType("autograder.sandbox." + name); sys.modules[mod.__name__] = mod; setattr(pkg, name, mod)
    exec(compile(source, name + ".py", "exec"), mod.__dict__)
child = {{"__name__": "autograder_child"}}
exec(compile({child!r}, "child.py", "exec"), child)
if sys.argv[1:2] == ["fork-server"]:
    child["fork_server"](int(sys.argv[2]))
else:
    child["main"](sys.argv[1:])
"""
# The commands that run student code: their child's Python starts before anything else (``prestart_child``, from
# ``autograder/__main__.py`` before the grader's own imports, and from ``cli.main`` for callers in-process).
CHILD_COMMANDS = ("grade", "check")
# Environment variables the child may see; numeric libraries get one thread each
# so that a batch of children shares the cores fairly.
_ENV_PASSED = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_ENV_SET = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def child_environment() -> dict[str, str]:
    """The environment of a child (and of the fork server), its work folder aside."""
    return dict({k: os.environ[k] for k in _ENV_PASSED if k in os.environ}, **_ENV_SET)


def child_program() -> str:
    """The child's program, for ``python -I -c``: child.py and the modules it needs, as source."""
    return _BOOT.format(**{name: (_HERE / f"{name}.py").read_text(encoding="utf-8")
                           for name in ("wire", "landlock", "seccomp", "confine", "child")})


def prestart_child() -> None:
    """Start the Python that this process's children will be forked from (``forkserver.prestart``) now."""
    from autograder.sandbox import forkserver
    from autograder.sandbox.privileges import child_python

    forkserver.prestart(child_python(), child_program(), child_environment())
