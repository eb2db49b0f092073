"""Finds the expected files in a submission folder and copies them safely (standard library only)."""

from __future__ import annotations

import difflib
import os
import re
import stat
from dataclasses import dataclass, field
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
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # it grew after fstat
        raise UnsafeFile(f"{path.name} is larger than {MAX_FILE_BYTES >> 20} MB")
    return data


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


# -- uploads (Gradescope): find the expected files wherever and however the student uploaded them -------------------
_JUNK_DIRS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints"}
_DUPLICATE = re.compile(r"^(?P<stem>.+?)\s*\(\d+\)(?P<suffix>\.[^.]+)$")  # "rnn_layers (1).py" from a browser
MAX_ENTRIES = 2000  # files and folders looked at in one upload
SHOWN = 20  # names listed in feedback


@dataclass
class Upload:
    """What was uploaded and which file is graded as each expected name."""

    uploaded: list[str] = field(default_factory=list)  # relative paths, as shown to the student
    chosen: dict[str, str] = field(default_factory=dict)  # expected name -> relative path graded as it
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Files uploaded: {_names(self.uploaded)}"]
        lines += self.notes
        unused = [p for p in self.uploaded if p not in self.chosen.values()]
        if unused:
            lines.append(f"Not graded: {_names(unused)}")
        return "\n".join(lines)


def _names(paths: list[str]) -> str:
    if not paths:
        return "none"
    shown = ", ".join(paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def _printable(name: str) -> str:
    return os.fsencode(name).decode("utf-8", "replace")


def canonical_name(name: str) -> str:
    """The name a file was meant to have: letter case and a browser's " (1)" dropped."""
    match = _DUPLICATE.match(name)
    if match:
        name = match["stem"] + match["suffix"]
    return name.lower()


def _walk(upload: Path) -> tuple[list[tuple[str, Path]], list[str], bool]:
    """Regular files under upload as (relative path, path) without following links, the links, and whether the
    upload was too large to look at whole."""
    files, links, seen, truncated = [], [], 0, False
    for dirpath, dirnames, filenames in os.walk(upload, followlinks=False):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            if (here / d).is_symlink():
                links.append(_printable(str((here / d).relative_to(upload))))
            elif d not in _JUNK_DIRS and not d.startswith("."):
                kept.append(d)
        seen += len(kept) + len(filenames)
        if seen > MAX_ENTRIES:
            dirnames[:] = []
            truncated = True
            continue
        dirnames[:] = kept
        for f in sorted(filenames):
            if f.startswith(".") or f == "Thumbs.db":
                continue
            path = here / f
            rel = _printable(str(path.relative_to(upload)))
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                links.append(rel)
            elif stat.S_ISREG(mode):
                files.append((rel, path))
    return files, links, truncated


def _copy_regular(source: Path, target: Path) -> bool:
    """Copy a regular file without following a link; False when it is not one or is too large."""
    try:
        target.write_bytes(read_regular(source))
    except UnsafeFile:
        return False
    return True


def stage_upload(upload: Path, expected: tuple[str, ...], dest: Path) -> Upload:
    """Copy the files to grade from a student's upload into ``dest`` under their expected names.

    Accepted as an expected file: that exact name anywhere in the upload (nested
    in a folder), or the same name up to letter case and a browser's " (1)"
    suffix, when exactly one file fits.  Links are never followed (the grader
    runs as root; a link could point at its own files).  Other ``.py`` files are
    copied under their own names, so that ``find_files`` suggests a rename for a
    near miss.  A notebook is recognized, but only the ``.py`` files are graded.
    """
    files, links, truncated = _walk(upload)
    result = Upload(uploaded=[rel for rel, _ in files])
    if truncated:
        result.notes.append(f"The upload holds more than {MAX_ENTRIES} files and folders: only part of it was "
                            "looked at.")
    depth = {rel: rel.count("/") for rel, _ in files}
    by_rel = dict(files)
    for name in expected:
        exact = [rel for rel, _ in files if Path(rel).name == name]
        near = [rel for rel, _ in files if canonical_name(Path(rel).name) == canonical_name(name)]
        for candidates in (exact, near):
            if not candidates:
                continue
            top = min(depth[r] for r in candidates)
            best = [r for r in candidates if depth[r] == top]
            if len(best) > 1:
                result.notes.append(f"Several files could be {name}: {_names(best)}; none was graded as {name}. "
                                    f"Upload just one file named {name}.")
            elif not _copy_regular(by_rel[best[0]], dest / name):
                result.notes.append(f"{best[0]} is not a readable file of at most {MAX_FILE_BYTES >> 20} MB: "
                                    "not graded.")
            else:
                result.chosen[name] = best[0]
                fixes = ([f"name it {name}"] if Path(best[0]).name != name else []) + (
                    ["upload it at the top level (not inside a folder)"] if "/" in best[0] else [])
                if fixes:
                    result.notes.append(f"Graded {best[0]!r} as {name}. Next time, {' and '.join(fixes)}.")
            break
    copied = set(expected)
    for rel, path in files:
        base = Path(rel).name
        if rel not in result.chosen.values() and base.endswith(".py") and base not in copied:
            copied.add(base)
            _copy_regular(path, dest / base)
    for rel in links:
        result.notes.append(f"{rel} is a symbolic link: not graded (upload the file itself).")
    missing = [n for n in expected if n not in result.chosen]
    notebooks = [rel for rel in result.uploaded if rel.endswith(".ipynb")]
    if missing and notebooks:
        result.notes.append(f"Found the notebook {_names(notebooks)}: only .py files are graded here; upload "
                            f"{', '.join(missing)} as .py files.")
    return result
