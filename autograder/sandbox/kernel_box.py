"""Calls functions defined in a notebook's kernel the way the grader calls a child.

``KernelBox`` is the student bundle's in-process runner (``inprocess.py``) with
one change: the student's functions are looked up by name in a namespace (the
notebook's globals) instead of imported from copied files.  Everything else is
the same code: requests and replies go through ``wire``'s encoding, the child's
own handlers (``child.Child``) make each call, printed output and warnings are
captured, and a call past its time limit fails only that check.  So the same
functions get the same verdicts in a notebook as in the native grader.

What it cannot give is the child's isolation: student code shares the kernel
(and its memory) with the checks.
"""

from __future__ import annotations

import atexit
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from autograder.config import Limits
from autograder.files import remove_tree
from autograder.sandbox.box import Hangs
from autograder.sandbox.child import Child, _student_traceback
from autograder.sandbox.inprocess import InProcessBox

_PACKAGE = str(Path(__file__).resolve().parents[1])


class _NamespaceChild(Child):
    """The child's request handlers, finding functions in a namespace instead of importing modules."""

    def __init__(self, namespace: Mapping[str, object]) -> None:
        super().__init__(workdir="")
        self.namespace = namespace

    def function(self, module: str, name: str):
        fn = self.namespace.get(name)
        if not callable(fn):
            raise AttributeError(f"no function named {name!r} is defined (it belongs in a cell marked "
                                 f"`# file: {module}.py`; run that cell first)")
        return fn


# The kernel's functions that never finish, across its checks: keyed by the function object, so a function
# defined again (its cell run again, fixed) is called again.
_HANGS = Hangs(advice=" (once it is fixed, run its cell again)")
_FOLDER: list[Path] = []  # one empty work folder for every check of this kernel, removed when it exits


class KernelBox(InProcessBox):
    """The grader's call interface, run in this process on the functions of a namespace."""

    def __init__(self, namespace: Mapping[str, object], limits: Limits) -> None:
        self.namespace = namespace
        super().__init__(Path.cwd(), [], limits)
        self._hangs = _HANGS

    def _calls(self, message: dict) -> tuple | None:
        key = Hangs.key(message)
        return key and (self.namespace.get(key[1]), key[1])

    def _folder(self) -> Path:
        # No file is copied (the functions live in the namespace): one folder serves every check, where a new one
        # per check cost a notebook's test cell more than some of its checks (removing a folder is slow on some
        # file systems).
        if not _FOLDER:
            _FOLDER.append(Path(tempfile.mkdtemp(prefix="autograder_check_")))
            atexit.register(remove_tree, _FOLDER[0])
        return _FOLDER[0]

    def _remove_folder(self) -> None:
        pass  # kept for the next check (_folder)

    def kill(self) -> None:
        self.child = None  # no modules of the student's to forget: the functions live in the namespace

    def _new_child(self) -> Child:
        return _NamespaceChild(self.namespace)

    def _traceback(self, exc: BaseException) -> str:
        # Notebook cells have no file of their own: keep every frame outside this package.
        return cell_names(_student_traceback(exc, lambda name: not name.startswith(_PACKAGE)))


_FILE = re.compile(r'File "([^"\n]+)"')


def cell_names(text: str) -> str:
    """``text`` with each notebook cell's code named as IPython's own tracebacks name it (``File "Cell In[12]"``),
    not by the temporary file the kernel compiled it to (``/tmp/ipykernel_2545/1947830099.py``, which means
    nothing to a student); unchanged outside IPython.  The names come from IPython's compiler
    (``CachingCompiler.format_code_name``, what its ``ultratb`` uses)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    name_of = getattr(getattr(shell, "compile", None), "format_code_name", None)
    if name_of is None:
        return text

    def named(match: re.Match) -> str:
        label = name_of(match.group(1))
        return f'File "{label[0]} {label[1]}"' if label else match.group(0)

    return _FILE.sub(named, text)
