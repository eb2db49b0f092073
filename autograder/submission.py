"""Finds the expected files in a submission folder and copies them safely (standard library only)."""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 5 << 20  # far above any honest solution file


class UnsafeFile(Exception):
    """Not a regular file of sane size (a link, a device, a huge file)."""


def read_regular(path: Path) -> bytes:
    """A file's bytes, refusing symbolic links and non-regular files even if one is swapped in meanwhile."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UnsafeFile(f"{path.name} cannot be opened as a plain file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path.name} is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise UnsafeFile(f"{path.name} is larger than {MAX_FILE_BYTES >> 20} MB")
        return f.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]


def find_files(submission: Path, expected: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The expected files present, and notes on missing ones (with a likely misnamed match)."""
    entries = sorted(submission.iterdir()) if submission.is_dir() else []
    present = [p.name for p in entries if p.is_file() and not p.is_symlink()]
    found, notes = [], []
    for name in expected:
        path = submission / name
        if path.is_symlink():
            notes.append(f"{name} is a symbolic link, which is not graded: submit the file itself")
            continue
        if name in present:
            if path.stat().st_size > MAX_FILE_BYTES:
                notes.append(f"{name} is larger than {MAX_FILE_BYTES >> 20} MB and was not graded")
                continue
            found.append(name)
            continue
        others = [p for p in present if p.endswith(".py") and p not in expected]
        close = difflib.get_close_matches(name.lower(), [p.lower() for p in others], n=1, cutoff=0.6)
        if close:
            actual = next(p for p in others if p.lower() == close[0])
            notes.append(f"{name} is missing; found {actual!r} instead: rename it to {name!r}")
        else:
            notes.append(f"{name} is missing from the submission")
    return found, notes
