"""Folder trees whatever their depth.

Uploads and student code can nest folders deeper than Python's recursion limit (a zip of 1,200 nested
folders is 1 KB; a loop of ``os.mkdir``/``os.chdir`` makes thousands), and ``os.walk`` (before Python
3.12) and ``shutil.rmtree`` (before 3.13) recurse once per level: a RecursionError there would stop the
grading of a class.  ``walk`` keeps its own stack and does not enter folders deeper than ``MAX_DEPTH``;
``remove_tree`` hands a tree too deep for ``shutil.rmtree`` to ``rm -rf``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

# Folders more than this many levels below a submission are not looked into (a real upload nests a few,
# a home folder's path inside a zip some ten).
MAX_DEPTH = 64


def walk(top: str | Path, too_deep: list[str] | None = None, max_depth: int = MAX_DEPTH
         ) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top)`` top-down without following links, without recursion: (dirpath, dirnames, filenames),
    each name list sorted; the caller may prune ``dirnames`` in place.  A folder ``max_depth`` levels below
    ``top`` is listed in its parent's dirnames but not entered: its path is appended to ``too_deep``.  A folder
    that cannot be read (no permission, a path longer than the system allows) is skipped, as os.walk does."""
    stack = [(os.fspath(top), 0)]
    while stack:
        path, depth = stack.pop()
        try:
            with os.scandir(path) as found:
                entries = list(found)
        except OSError:
            continue
        dirs, files = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # a link to a folder is listed as a folder, as os.walk lists it
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(entry.name)
        dirs.sort()
        files.sort()
        yield path, dirs, files
        for name in reversed(dirs):
            sub = os.path.join(path, name)
            if os.path.islink(sub):
                continue
            if depth + 1 >= max_depth:
                if too_deep is not None:
                    too_deep.append(sub)
                continue
            stack.append((sub, depth + 1))


def remove_tree(path: str | Path) -> None:
    """``shutil.rmtree(path, ignore_errors=True)``, also for a tree nested deeper than the recursion limit
    (removed by ``rm -rf``, which walks any depth); what cannot be removed stays, as with ignore_errors."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:
        try:
            subprocess.run(["rm", "-rf", "--", os.fspath(path)], capture_output=True, check=False)
        except OSError:  # no rm (not a POSIX system): leave it, as ignore_errors would
            pass
