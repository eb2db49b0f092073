"""Finds the expected files in a submission folder and copies them safely (standard library only)."""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from autograder.files import MAX_DEPTH, remove_tree, walk
from autograder.text import disk_name

if TYPE_CHECKING:
    import zipfile

    from autograder.config import Config

MAX_FILE_BYTES = 5 << 20  # far above any honest solution file


class UnsafeFile(Exception):
    """Not a regular file of sane size (a link, a device, a huge file)."""


def read_regular(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, refusing symbolic links, non-regular files (even if one is swapped in meanwhile) and files
    over ``max_bytes``."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UnsafeFile(f"{path.name} cannot be opened as a plain file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path.name} is not a regular file")
        if info.st_size > max_bytes:
            raise UnsafeFile(f"{path.name} is larger than {max_bytes / 2**20:g} MB")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after fstat
        raise UnsafeFile(f"{path.name} is larger than {max_bytes / 2**20:g} MB")
    return data


MAX_HELPERS = 20  # .py files beside the graded ones that student code gets to import; more are no homework's


def helper_files(submission: Path, expected: tuple[str, ...]) -> list[str]:
    """The other ``.py`` files of a (staged) submission folder, by name: regular files of at most
    ``MAX_FILE_BYTES``, which the student's files may import (not graded)."""
    if not submission.is_dir():
        return []
    return sorted(p.name for p in submission.iterdir() if p.name.endswith(".py") and p.name not in expected
                  and p.is_file() and not p.is_symlink() and p.stat().st_size <= MAX_FILE_BYTES)


def helper_notes(helpers: list[str]) -> list[str]:
    """What the student should know of their helper modules (``helper_files``): those beyond the number copied,
    and those named like a module the child has loaded already (the standard library's, numpy), which an import
    then finds instead of the file."""
    notes = []
    if len(helpers) > MAX_HELPERS:
        notes.append(f"Only {MAX_HELPERS} of the {len(helpers)} other .py files are copied beside the graded files "
                     f"for them to import (by name); not copied: {', '.join(helpers[MAX_HELPERS:])}")
    clashes = [h for h in helpers[:MAX_HELPERS] if h[:-3] in sys.stdlib_module_names or h[:-3] == "numpy"]
    if clashes:
        notes.append(f"{', '.join(clashes)} {'has' if len(clashes) == 1 else 'have'} the name of a module of "
                     "Python's standard library or numpy, which the grader has loaded already: an import of that "
                     "name gets the library's module, not your file. Rename it")
    return notes


def workdir_files(submission: Path, expected: tuple[str, ...]) -> list[str]:
    """The names of the files the student's process gets from a (staged) submission folder: the expected files
    present (``find_files``), then the first ``MAX_HELPERS`` of ``helper_files``."""
    return find_files(submission, expected)[0] + helper_files(submission, expected)[:MAX_HELPERS]


def find_files(submission: Path, expected: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The expected files present, and notes on missing ones (with a likely misnamed match).

    A misnamed file is offered for one expected name at most: the name it resembles most (difflib's ratio,
    at least 0.6), so a file ``layer.py`` is never advised to become both ``layers.py`` and ``player.py``.
    """
    entries = sorted(submission.iterdir()) if submission.is_dir() else []
    present = [p.name for p in entries if p.is_file() and not p.is_symlink()]
    found, notes, absent = [], [], []
    for name in expected:
        path = submission / name
        if path.is_symlink():
            notes.append(f"{name} is a symbolic link, which is not graded: submit the file itself")
        elif name not in present:
            absent.append(name)
        elif path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"{name} is larger than {MAX_FILE_BYTES >> 20} MB and was not graded")
        else:
            found.append(name)
    others = [p for p in present if p.endswith(".py") and p not in expected]
    if absent and others:  # imported only then: a grade's start-up is on its critical path
        import difflib
    likeness = sorted((-difflib.SequenceMatcher(None, name.lower(), other.lower()).ratio(), expected.index(name),
                        other, name) for name in absent for other in others)
    renames: dict[str, str] = {}
    for minus_ratio, _, other, name in likeness:
        if -minus_ratio >= 0.6 and name not in renames and other not in renames.values():
            renames[name] = other
    missing = [name for name in absent if name not in renames]
    notes += [f"{name} is missing; found {renames[name]!r} instead: rename it to {name!r}"
              for name in absent if name in renames]
    if missing:  # one note for all of them: a class summary counts notes, and an empty folder is one problem
        listed = f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing from the submission"
        if len(missing) == len(expected):
            shown = ", ".join(present[:5]) + (" ..." if len(present) > 5 else "")
            listed = (f"the submission is empty: {listed}" if not entries else
                      f"no graded file was found: {listed}" + (f" (it holds {shown})" if present else ""))
        notes.append(listed)
    return found, notes


class SubmissionProblem(Exception):
    """One submission cannot be graded (bad zip, unsafe content); the message says why."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits on one student's zip, checked on the declared sizes and again while writing."""

    max_members: int = 2000
    max_file_mb: float = 20.0
    max_total_mb: float = 100.0
    max_ratio: float = 200.0  # uncompressed / compressed, for members over 1 MB


# -- zips: unpacked under limits (grade-all's student zips, zips given to `grade`, zips inside a submission) --------
def _shown(name: str, keep: int = 60) -> str:
    """A member's name for a message: its start and end when it is long."""
    return name if len(name) <= 2 * keep else f"{name[:keep]}...{name[-keep:]}"


def member_path(name: str) -> PurePosixPath:
    """The member's relative path; SubmissionProblem when it would land outside the folder."""
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    if path.is_absolute() or re.match(r"^[A-Za-z]:", normalized) or ".." in path.parts or "\0" in normalized:
        raise SubmissionProblem(f"zip refused: member {name!r} points outside the submission folder")
    return path


def _is_zip(path: Path) -> bool:
    import zipfile

    return zipfile.is_zipfile(path)


def extract_zip(archive: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> None:
    """Unpack a student's zip into ``dest`` (an empty folder), or raise SubmissionProblem."""
    import zipfile  # only for a zip: a grade's start-up is on its critical path

    max_file, max_total = int(limits.max_file_mb * 2**20), int(limits.max_total_mb * 2**20)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError):
        raise SubmissionProblem(f"{archive.name} is not a valid zip file") from None
    except OSError as exc:
        raise SubmissionProblem(f"{archive.name} cannot be read: {exc.strerror}") from None
    with zf:
        members = zf.infolist()
        if len(members) > limits.max_members:
            raise SubmissionProblem(f"zip refused: {len(members)} members (at most {limits.max_members})")
        declared = 0
        for info in members:
            if len(member_path(info.filename).parts) > MAX_DEPTH:
                raise SubmissionProblem(f"zip refused: {_shown(info.filename)!r} is nested "
                                        f"{len(member_path(info.filename).parts) - 1} folders deep "
                                        f"(at most {MAX_DEPTH})")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionProblem(f"zip refused: {info.filename!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise SubmissionProblem(f"zip refused: {info.filename!r} is password-protected")
            if info.file_size > max_file:
                raise SubmissionProblem(f"zip refused: {info.filename!r} unpacks to {info.file_size >> 20} MB "
                                        f"(at most {limits.max_file_mb:g} MB per file)")
            if info.file_size > 2**20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise SubmissionProblem(f"zip refused: {info.filename!r} is compressed more than "
                                        f"{limits.max_ratio:g} to 1 (a zip bomb?)")
            declared += info.file_size
        if declared > max_total:
            raise SubmissionProblem(f"zip refused: it unpacks to {declared >> 20} MB "
                                    f"(at most {limits.max_total_mb:g} MB)")
        root = dest.resolve()
        written = 0
        for info in members:
            rel = member_path(info.filename)
            if not rel.parts or info.is_dir():
                continue
            # The member's name is text; on disk it is its UTF-8 bytes whatever the locale (text.disk_name).
            target = (root / disk_name(rel.as_posix())).resolve()
            if root not in target.parents:
                raise SubmissionProblem(f"zip refused: member {info.filename!r} points outside the submission folder")
            out = open_member_file(target, info.filename)
            size = 0
            with _reading(archive, info):
                src = zf.open(info)
            with src, out:
                # The declared sizes may lie: count what is actually written.
                while True:
                    with _reading(archive, info):  # the data itself may be damaged: say so, whatever the codec
                        chunk = src.read(1 << 16)
                    if not chunk:
                        break
                    size += len(chunk)
                    written += len(chunk)
                    if size > max_file or written > max_total:
                        raise SubmissionProblem(f"zip refused: it unpacks to more than its declared size "
                                                f"and the limits ({limits.max_total_mb:g} MB)")
                    out.write(chunk)
            _keep_time(target, info)


# Errors writing a member that its name causes (a file and a folder of one name, a name longer than the system
# allows): the zip's, said to the student.  Others (a full disk) stay the grader's.
_NAME_ERRORS = frozenset({errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EINVAL, errno.EILSEQ})


def open_member_file(target: Path, name: str, what: str = "zip refused: member"):
    """``target`` opened for writing, its folders made; SubmissionProblem (``what`` and the name first) when the
    name cannot be a file here (``_NAME_ERRORS``)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return open(target, "wb")
    except OSError as exc:
        if exc.errno not in _NAME_ERRORS:
            raise
        raise SubmissionProblem(f"{what} {_shown(name)!r} cannot be unpacked ({os.strerror(exc.errno)}: "
                                "a file and a folder of the same name, or a name longer than file systems allow)"
                                ) from None


@functools.cache
def _damaged_errors() -> tuple[type[BaseException], ...]:
    """What reading a zip member raises on bad data: zipfile's own errors and each codec's (zlib.error for
    deflate, OSError from bz2, lzma.LZMAError), not only a bad CRC.  Built once: ``_reading`` guards every
    64 KB chunk."""
    import zipfile
    import zlib

    damaged: tuple = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError,
                      zlib.error, OSError)
    try:
        import lzma
        damaged += (lzma.LZMAError,)
    except ImportError:  # a Python built without lzma cannot open such members at all: NotImplementedError
        pass
    return damaged


@contextlib.contextmanager
def _reading(archive: Path, info):
    """SubmissionProblem "damaged" for what reading a member raises on bad data (``_damaged_errors``)."""
    try:
        yield  # reading only: writing the unpacked file (the grader's disk) is outside
    except _damaged_errors() as exc:
        raise SubmissionProblem(f"{archive.name} is damaged: {info.filename}: {exc}") from None


def _keep_time(target: Path, info: zipfile.ZipInfo) -> None:
    """Give an unpacked member the time the zip records (local time, as zip tools store it): which copy of a
    file is newer must not depend on the order of unpacking."""
    import time

    try:
        stamp = time.mktime((*info.date_time, 0, 0, -1))
        os.utime(target, (stamp, stamp))
    except (OverflowError, ValueError, OSError):
        pass


# -- one student's submission: where their work is, whatever the path, zip or upload -------------------------------
# The rule (README "Where the grader finds your work") lives here and only here: `grade`, `check`, `grade-all`,
# the Gradescope run and the student's `check.py` all call ``locate``.
# Files and folders no one writes by hand (operating systems', editors' and tools' own), wherever they lie: a
# class folder (layouts.py) or a submission.  Left out of grading, and listed as left out.
JUNK_DIRS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git", "node_modules"}
JUNK_FILES = {"Thumbs.db", "desktop.ini", ".DS_Store"}


def junk(name: str) -> bool:
    """Whether a file or folder name is junk (JUNK_DIRS, JUNK_FILES, or a name that begins with a dot)."""
    return name.startswith(".") or name in JUNK_DIRS or name in JUNK_FILES
# The OS's, nbgrader's and otter's own records (collect writes timestamp.txt, submit submission_secret.txt, otter's
# export zip __zip_filename__ beside its .OTTER_LOG).
_QUIET_FILES = {"thumbs.db", "desktop.ini", "timestamp.txt", "submission_secret.txt", "check_and_submit.md",
                "__zip_filename__"}
_BUNDLE_FILES = {"README.md", "requirements.txt"}  # the student bundle's, beside its check.py (release/bundle.py)
_RECEIPT = re.compile(r"receipt", re.IGNORECASE)  # an LMS's submission receipt
# How browsers, LMSs and file managers rename a file: "x (1).py" (Chrome, Edge), "x(1).py" (Firefox),
# "x-1.py" (Canvas resubmissions, Safari), "x - Copy.py" / "x - Copy (2).py" (Windows), "x copy.py" /
# "x copy 2.py" / "x 2.py" (macOS); and how students mark versions: "x_v2.py", "x_final.py".  The number orders
# copies: the highest is the newest, "final" after any number.  Canvas's download writes a name's spaces as
# hyphens ("x-(1).py", "x---Copy.py", "x-copy-2.py"): a hyphen counts as a space throughout.
_REWRITE = re.compile(r"^(?P<stem>.+?)(?:[\s-]*\((?P<a>\d{1,3})\)|-(?P<b>\d{1,3})"
                      r"|[\s-]+-[\s-]+copy(?:[\s-]*\((?P<c>\d{1,3})\))?"
                      r"|[\s-]+copy(?:[\s-]+(?P<d>\d{1,3}))?|\s+(?P<e>\d{1,2})|[_\s-]+v(?P<v>\d{1,3})"
                      r"|[_\s-]+(?P<f>final))$", re.IGNORECASE)
FINAL = 1000  # the copy number of a "final" version
MAX_ENTRIES = 2000  # files and folders looked at in one submission
MAX_NESTED_ZIPS = 5  # zips inside a submission that are opened
SHOWN = 20  # names listed in feedback


def shown_names(paths) -> str:
    """Paths for feedback: the first ``SHOWN``, then how many more."""
    paths = list(paths)
    if not paths:
        return "none"
    shown = ", ".join(paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


_NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def _printable(name: str) -> str:
    """A file name as text for messages: UTF-8 whatever the locale, bytes that are not UTF-8 and control
    characters as ``\\xNN`` (a name may hold a newline, and with it a line that reads as the grader's)."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return _NAME_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def name_match(found: str, expected: str) -> tuple[int, int] | None:
    """How ``found`` is a name for ``expected``: (0 exact, 1 letter case, 2 rewritten; copy number), or None.

    Rewritten: a browser's, LMS's or file manager's copy suffix (see ``_REWRITE``),
    in any letter case.  The copy number is 0 for the name itself.
    """
    if found == expected:
        return 0, 0
    if found.lower() == expected.lower():
        return 1, 0
    stem, dot, suffix = found.rpartition(".")
    match = _REWRITE.match(stem) if dot else None
    if match and f"{match['stem']}.{suffix}".lower() == expected.lower():
        return 2, _copy_number(match)
    return None


def _copy_number(match: re.Match) -> int:
    if match["f"]:
        return FINAL
    return next((int(match[g]) for g in "abcdev" if match[g]), 1)


def copy_rank(name: str) -> int:
    """How late a copy a file or folder name says it is: 0 for a plain name, its copy number for a rewritten
    one (``hw (2).zip``: 2, ``hw_v3``: 3, ``hw_final.zip``: after any number), for the newest-first order."""
    stem = name.rpartition(".")[0] if "." in name.lstrip(".") else name
    rank = 0
    while (match := _REWRITE.match(stem)) is not None:  # "hw_final (1)": both count
        rank += _copy_number(match)
        stem = match["stem"]
    return rank


def canonical_name(name: str) -> str:
    """The name a file was meant to have, in lower case: without a copy suffix (see ``name_match``)."""
    stem, dot, suffix = name.rpartition(".")
    match = _REWRITE.match(stem) if dot else None
    return (f"{match['stem']}.{suffix}" if match else name).lower()


def released_folder(folder: Path) -> bool:
    """A folder this toolkit releases beside the student's work (never the work itself).

    The ``autograder/`` package (nbgrader and otter releases hold ``checks_api.py``; the student bundle's
    self-check, ``release/selfcheck.py``) and a checks folder (``<assignment>_checks/``, the bundle's
    ``public/``: the tests and the recorded reference values).
    """
    from autograder.config import CONFIG_FILE, RECORD_FILE  # standard library at import time

    return ((folder / "checks_api.py").is_file() or (folder / "release" / "selfcheck.py").is_file()
            or ((folder / CONFIG_FILE).is_file() and (folder / RECORD_FILE).is_file()))


def _head(path: Path, size: int = 4096) -> bytes:
    """The first bytes of a regular file (links not followed); empty when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        return f.read(size) if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else b""


_CHECK_SCRIPT = re.compile(rb"from autograder\.(?:release\.)?selfcheck import main")


def _released_file(path: Path) -> bool:
    """The student bundle's ``check.py``, an otter test file, or an LMS or nbgrader record: not the student's work."""
    name = path.name.lower()
    if name in _QUIET_FILES or (_RECEIPT.search(name) and not name.endswith((".py", ".ipynb"))):
        return True
    if name.endswith(".py"):
        head = _head(path)
        # check.py of this bundle layout or of one released before the package had rooms
        return (name == "check.py" and _CHECK_SCRIPT.search(head) is not None) or \
            b"from otter.test_files import test_case" in head
    return False


@dataclass
class _Scan:
    files: list[tuple[str, Path]] = field(default_factory=list)  # (relative path, path): regular files
    links: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)  # the toolkit's own folders and files
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files no one writes by hand (__MACOSX/, .DS_Store, caches)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why) of zips not opened
    seen: int = 0
    zips: int = 0


def _scan(root: Path, scan: _Scan, prefix: str, unpack_to: Path | None, limits) -> None:
    """Walk ``root`` without following links; open the zips found in it (into ``unpack_to``)."""
    too_deep: list[str] = []
    for dirpath, dirnames, filenames in walk(root, too_deep):
        here = Path(dirpath)
        rel_here = prefix + _printable(str(here.relative_to(root))).removeprefix(".").lstrip("/")
        rel_here = rel_here + "/" if rel_here and not rel_here.endswith("/") else rel_here
        kept = []
        for d in sorted(dirnames):
            if (here / d).is_symlink():
                scan.links.append(rel_here + _printable(d))
            elif junk(d):
                scan.skipped.append(rel_here + _printable(d) + "/")
            elif released_folder(here / d):
                scan.released.append(rel_here + _printable(d) + "/")
            else:
                kept.append(d)
        scan.seen += len(kept) + len(filenames)
        if scan.seen > MAX_ENTRIES:
            dirnames[:] = []
            if not any("more than" in n for n in scan.notes):
                scan.notes.append(f"The submission holds more than {MAX_ENTRIES} files and folders: only part of "
                                  "it was looked at.")
            continue
        dirnames[:] = kept
        # Beside the student bundle's check.py, its handout and requirements are the bundle's, not the work.
        bundle = any(f.lower() == "check.py" and _released_file(here / f) for f in filenames)
        for f in sorted(filenames):
            if junk(f):
                scan.skipped.append(rel_here + _printable(f))
                continue
            path = here / f
            rel = rel_here + _printable(f)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                scan.links.append(rel)
            elif not stat.S_ISREG(mode):
                continue
            elif _released_file(path) or (bundle and f in _BUNDLE_FILES):
                scan.released.append(rel)
            elif f.lower().endswith(".zip") and unpack_to is not None:
                _open_zip(path, rel, scan, unpack_to, limits)
            else:
                scan.files.append((rel, path))
    if too_deep:
        deep = [prefix + _printable(os.path.relpath(d, root)) + "/" for d in too_deep]
        scan.skipped += deep
        scan.notes.append(f"{deep[0]} was not looked into: folders nested more than {MAX_DEPTH} deep are not.")


def _open_zip(path: Path, rel: str, scan: _Scan, unpack_to: Path, limits) -> None:
    """A zip inside a submission is looked into like a folder, under the limits of ``extract_zip``."""
    if scan.zips >= MAX_NESTED_ZIPS:
        scan.files.append((rel, path))
        scan.notes.append(f"{rel} was not opened: only {MAX_NESTED_ZIPS} zips in one submission are.")
        return
    scan.zips += 1
    folder = unpack_to / f"zip{scan.zips}"
    folder.mkdir(parents=True)
    try:
        extract_zip(path, folder, limits)
    except SubmissionProblem as exc:
        scan.files.append((rel, path))
        scan.notes.append(f"{rel} was not opened: {exc}")
        scan.refused.append((rel, str(exc)))
        return
    _scan(folder, scan, rel + "/", unpack_to, limits)


def _depth(rel: str) -> int:
    return rel.count("/")


def _text(path: Path) -> str:
    try:
        return read_regular(path).decode("utf-8", "replace")
    except UnsafeFile:
        return ""


def script_notebook(path: Path) -> bool:
    """A .py file that is a notebook exported as a script (``extract.exported_script``)."""
    from autograder.submissions.extract import exported_script

    return exported_script(_text(path))


def _graded_notebook(path: Path, functions: tuple[str, ...]) -> bool:
    """A notebook (or exported script) whose code is marked for the expected files or defines a graded function."""
    from autograder.submissions.extract import NotebookError, cell_file, cell_source, read_cells

    names = "|".join(map(re.escape, functions))
    defines = re.compile(rf"^\s*def\s+({names})\s*\(", re.MULTILINE) if functions else None
    if path.suffix.lower() == ".py":
        return script_notebook(path) or bool(defines and defines.search(_text(path)))
    try:
        cells = read_cells(path)
    except NotebookError:
        return False
    return any(cell_file(c) or (defines and c.get("cell_type") == "code" and defines.search(cell_source(c)))
               for c in cells)


@dataclass
class Located:
    """Where one submission's work was found, and what the student and the TA are told about it."""

    folder: Path  # holds the expected files under their names (or a notebook's extracted files): grade this
    chosen: dict[str, str] = field(default_factory=dict)  # expected name -> relative path graded as it
    notebook: str | None = None  # relative path of the notebook (or exported script) graded, if any
    notebook_path: Path | None = None  # where that notebook is on disk (within the submission or ``dest``)
    uploaded: list[str] = field(default_factory=list)  # every file of the submission, relative paths
    released: list[str] = field(default_factory=list)  # the toolkit's own folders and files, left out
    notes: list[str] = field(default_factory=list)  # for the student and the TA
    not_graded: list[str] = field(default_factory=list)  # every path of the submission left out (notes say why)
    attention: list[str] = field(default_factory=list)  # notes a TA may have to act on (a zip not opened, copies
    # that differ): grade-all --dry-run shows them before grading

    def as_found(self, names: list[str]) -> list[str]:
        """Graded file names as the submission holds them (inside a zipped folder: its path there); for a
        notebook, the notebook, with the files its cells were graded as (the upload holds no such files)."""
        if self.notebook is not None and names:
            return [f"{self.notebook} (its code graded as {', '.join(names)})"]
        return [self.chosen.get(name, name) for name in names]

    def summary(self) -> str:
        """The files seen, then the notes (Gradescope shows this above the tests)."""
        return "\n".join([f"Files uploaded: {shown_names(self.uploaded)}", *self.notes])


_TEMPORARY: list[Path] = []


@atexit.register
def _remove_temporary() -> None:
    for folder in _TEMPORARY:
        remove_tree(folder)


def locate_work(path: Path, config: Config, dest: Path | None = None,
                limits: ArchiveLimits | None = None) -> Located:
    """``locate`` with what it takes from the assignment's config (files, name, graded functions and the
    notebook time budget ``limits.notebook_seconds``), as every path that grades or checks calls it."""
    return locate(path, config.files, config.assignment, config.functions, dest, limits,
                  budget=config.limits.notebook_seconds)


def locate(path: Path, files: tuple[str, ...], assignment: str = "", functions: tuple[str, ...] = (),
           dest: Path | None = None, limits: ArchiveLimits | None = None, budget: float | None = None) -> Located:
    """Find a student's work in one submission and lay it out to grade.

    ``path`` is a folder, a zip, a single ``.py`` or ``.ipynb`` file, or a
    Gradescope upload.  ``files`` are the expected file names (``config.files``),
    ``assignment`` the config's assignment name (its notebook is
    ``<assignment>.ipynb``), ``functions`` the graded functions (a notebook that
    defines one is the student's).  The expected files are copied into a folder
    under ``dest`` (a temporary folder removed when this process exits if None);
    a notebook is turned into files by ``extract.prepare``.  The rule is
    documented in README.md ("Where the grader finds your work").

    Raises SubmissionProblem when ``path`` does not exist or a zip given as the
    submission cannot be opened safely; everything else becomes a note.
    """
    path = Path(path)
    limits = limits or ArchiveLimits()
    if dest is None:
        dest = Path(tempfile.mkdtemp(prefix="autograder_submission_"))
        _TEMPORARY.append(dest)
    dest.mkdir(parents=True, exist_ok=True)
    scan = _Scan()
    if path.is_symlink():
        raise SubmissionProblem(f"{path} is a symbolic link: give the file or folder itself")
    if path.is_dir():
        _scan(path, scan, "", dest / "unpacked", limits)
    elif path.is_file() and (path.suffix.lower() == ".zip" or _is_zip(path)):
        root = dest / "unpacked" / "zip0"
        root.mkdir(parents=True)
        extract_zip(path, root, limits)
        _scan(root, scan, "", dest / "unpacked", limits)
    elif path.is_file():
        scan.files.append((_printable(path.name), path))
    else:
        raise SubmissionProblem(f"submission {str(path)!r} does not exist (give the folder holding your .py files, "
                                "a zip of it, or your filled .ipynb notebook)")
    return _choose(scan, files, assignment, functions, dest / "submission", budget)


def _mtime(path: Path) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _best(scan: _Scan, name: str, among=None) -> list[tuple[tuple, str, Path]]:
    """The files that could be ``name``, best first (README, "Where the grader finds the work"): the shallowest;
    then the newest copy by its names, the file's and each folder's or zip's holding it (``work_final.zip`` over
    ``work.zip``, ``x (1).py`` over ``x.py``); then the exact name over another letter case; then the latest
    modified (zip members keep their recorded time); then by path."""
    ranked = []
    for rel, path in (among if among is not None else scan.files):
        how = name_match(rel.rpartition("/")[2], name)
        if how is not None:
            versions = tuple(-copy_rank(part) for part in rel.split("/"))
            ranked.append(((_depth(rel), versions, how[0] == 1, -_mtime(path), rel), rel, path))
    return sorted(ranked)


def _why_first(key: tuple, runner_up: tuple, data: bytes, other: Path) -> str:
    """Why ``_best`` put a file before the next candidate, as the note on several candidates says it, and
    whether their contents differ (then the TA may have to look: the rule chose, not the student)."""
    reasons = ("the shallowest", "the newest copy by its name", "its name's exact letter case",
               "the latest modified", "the first by path")
    reason = next((r for r, a, b in zip(reasons, key, runner_up) if a != b), reasons[-1])
    try:
        same = read_regular(other) == data
    except UnsafeFile:
        same = True
    return f" ({reason}" + ("" if same else f"; the next, {runner_up[-1]}, differs from it") + ")"


def _choose(scan: _Scan, files: tuple[str, ...], assignment: str, functions: tuple[str, ...],
            staged: Path, budget: float | None = None) -> Located:
    staged.mkdir(parents=True, exist_ok=True)
    result = Located(staged, uploaded=[rel for rel, _ in scan.files], released=scan.released,
                     notes=list(scan.notes), attention=[f"{rel} was not opened: {why}" for rel, why in scan.refused])
    taken: set[str] = set()  # relative paths claimed by an expected name
    for name in files:
        ranked = [r for r in _best(scan, name) if r[1] not in taken]
        if not ranked:
            continue
        others = [rel for _, rel, _ in ranked[1:]]
        taken.update(rel for _, rel, _ in ranked)
        why = ""
        for k, (key, rel, p) in enumerate(ranked):  # the best one that can be read
            try:
                data = read_regular(p)
            except UnsafeFile:
                result.notes.append(f"{rel} is not a readable file of at most {MAX_FILE_BYTES >> 20} MB: "
                                    "not graded.")
                continue
            (staged / name).write_bytes(data)
            result.chosen[name] = rel
            if Path(rel).name != name:  # a folder is fine (students zip folders), a different name is not
                result.notes.append(f"Graded {rel!r} as {name}. Next time, name it {name}.")
            others = [o for o in others if o != rel]
            if k + 1 < len(ranked):
                why = _why_first(key, ranked[k + 1][0], data, ranked[k + 1][2])
            break
        if others:
            result.notes.append(f"Several files could be {name}: graded {result.chosen.get(name, 'none')!r}{why}; "
                                f"not graded: {shown_names(others)}.")
            if "differs from it" in why:
                result.attention.append(result.notes[-1])
    for rel in scan.links:
        result.notes.append(f"{rel} is a symbolic link: not graded (submit the file itself).")
    notebooks = _notebooks(scan, taken)
    pick = _pick_notebook(notebooks, assignment, functions) if notebooks else None
    if result.chosen and pick and functions and _stub_files(staged, result.chosen, functions):
        # Untouched templates beside a filled notebook: the notebook is the work.
        if _filled_notebook(pick.path, functions):
            result.notes.append(f"The .py files ({shown_names(sorted(result.chosen.values()))}) are the untouched "
                                f"templates: the notebook {pick.rel} was graded instead.")
            for name in result.chosen:
                (staged / name).unlink()
            result.chosen.clear()
    if not result.chosen and pick is not None:
        from autograder.submissions.extract import prepare

        # The cells run in the child within ``budget`` seconds (extract.prepare's default when None).
        result.folder = prepare(pick.path, files, functions, **({"budget": budget} if budget else {}))[0]
        result.notebook, result.notebook_path = pick.rel, pick.path
        taken.add(pick.rel)
        kind = "the notebook" if pick.rel.lower().endswith(".ipynb") else "the notebook exported as a script"
        result.notes.append(f"Graded {kind} {pick.rel}" + (f" ({pick.why})." if pick.why else "."))
    copied: list[str] = []  # other .py files put beside the graded ones, for them to import
    if result.notebook is None:
        # Helper modules the student's files may import: the other .py files beside them (beside nothing: the
        # shallowest .py files, so that the grader can point out a near-miss name such as rnn_layer.py).
        py = [rel for rel, _ in scan.files if rel.endswith(".py") and rel not in taken]
        folders = {rel.rpartition("/")[0] for rel in result.chosen.values()}
        if not folders and py:
            folders = {min(py, key=_depth).rpartition("/")[0]}
        for rel, p in scan.files:
            base = p.name  # the name on disk (``rel`` is for messages: decoded, maybe not encodable here)
            if (rel not in taken and rel.rpartition("/")[0] in folders and base.endswith(".py")
                    and not (staged / base).exists() and not script_notebook(p)):
                try:
                    (staged / base).write_bytes(read_regular(p))
                    copied.append(rel)
                except UnsafeFile:
                    pass
    unused_notebooks = [rel for rel, p in scan.files if rel not in taken and (
        rel.lower().endswith(".ipynb") or (rel, p) in notebooks)]
    if unused_notebooks:
        why = "the .py files were graded" if result.chosen else (
            "one notebook is graded: see README, Where the grader finds the work" if result.notebook else
            f"none is named like the assignment ({assignment}.ipynb), has cells marked `# file: ...` or defines a "
            "graded function")
        result.notes.append(f"Notebooks not graded: {shown_names(unused_notebooks)} ({why}).")
    unused = [rel for rel in result.uploaded if rel not in taken and rel not in unused_notebooks]
    if copied and len(result.chosen) == len(files):  # with one missing, a copied file may be it misnamed
        result.notes.append(f"Copied beside the graded files for them to import (not graded themselves): "
                            f"{shown_names(copied)}.")
        unused = [rel for rel in unused if rel not in copied]
    if unused and (result.chosen or result.notebook):
        result.notes.append(f"Not graded: {shown_names(unused)}.")
    elif unused:
        result.notes.append(f"No file here has an expected name and no notebook of the assignment is here; "
                            f"the submission holds: {shown_names(unused)}.")
    if scan.skipped:
        result.notes.append(f"Left out, as files no one writes by hand: {shown_names(scan.skipped)}.")
    _check_refused(scan, result, files)
    graded = set(result.chosen.values()) | {result.notebook}
    result.not_graded = sorted({rel for rel in result.uploaded if rel not in graded} | set(scan.links)
                               | set(scan.skipped))
    return result


def _check_refused(scan: _Scan, result: Located, files: tuple[str, ...]) -> None:
    """SubmissionProblem when a zip inside the submission could not be opened and expected files are missing
    (no notebook graded instead): the zip may hold them, so grading what is left would score work never looked
    at; a broken or unsafe zip is a problem to fix (a new upload, then a regrade), as when it is the submission
    itself.  With every expected file found outside it, the note on the zip is enough."""
    missing = [name for name in files if name not in result.chosen]
    if not scan.refused or not missing or result.notebook is not None:
        return
    zips = "; ".join(f"{rel} ({why})" if rel.rpartition("/")[2] not in why else why for rel, why in scan.refused)
    found = f" (found: {shown_names(sorted(result.chosen.values()))})" if result.chosen else ""
    raise SubmissionProblem(f"a zip in the submission could not be opened: {zips}; {shown_names(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not found elsewhere in it{found}, so it "
                            "was not graded")


def _scratch(rel: str) -> bool:
    """A notebook Jupyter named on its own (``Untitled.ipynb``, ``Untitled1.ipynb``): graded only when it alone
    holds the work."""
    return rel.rpartition("/")[2].lower().startswith("untitled")


def _notebooks(scan: _Scan, taken: set[str]) -> list[tuple[str, Path]]:
    """Notebooks and exported scripts that could be the work; checkpoint copies are not."""
    out = []
    for rel, p in scan.files:
        low = p.name.lower()
        if rel in taken or low.endswith("-checkpoint.ipynb"):
            continue
        if low.endswith(".ipynb") or (low.endswith(".py") and script_notebook(p)):
            out.append((rel, p))
    return out


def _stub_files(staged: Path, chosen: dict[str, str], functions: tuple[str, ...]) -> bool:
    """Whether the chosen .py files define graded functions and all of them are still template stubs."""
    from autograder.submissions.extract import stub_only

    return stub_only([_text(staged / name) for name in chosen], functions)


def _filled_notebook(path: Path, functions: tuple[str, ...]) -> bool:
    """Whether a notebook defines graded functions and not all of them are template stubs (readable ones only)."""
    from autograder.submissions.extract import NotebookError, read, stub_only

    try:
        sources = [c.source for c in read(path) if c.kind == "code"]
    except NotebookError:
        return False
    defined = re.compile(rf"^\s*def\s+({'|'.join(map(re.escape, functions))})\s*\(", re.MULTILINE)
    return any(s and defined.search(s) for s in sources) and not stub_only(sources, functions)


@dataclass(frozen=True)
class _Pick:
    rel: str
    path: Path
    why: str = ""  # said in the notes when other notebooks were there


def _pick_notebook(notebooks: list[tuple[str, Path]], assignment: str, functions: tuple[str, ...]) -> _Pick | None:
    """The notebook to grade (README, "Where the grader finds the work"):

    1. a filled notebook (graded functions defined, not all template stubs) over an unfilled one, whatever
       their names: an untouched template never wins over the work;
    2. then a named notebook over Jupyter's ``Untitled*.ipynb``;
    3. then the one named like the assignment, else the one that holds the work (marked cells, graded
       functions), shallowest first.
    """
    others = len(notebooks) > 1
    why = ""
    if others and functions:
        filled = [(rel, p) for rel, p in notebooks if _filled_notebook(p, functions)]
        if filled and len(filled) < len(notebooks):
            left = sorted({rel for rel, _ in notebooks} - {rel for rel, _ in filled})
            why = f"it holds your work; {shown_names(left)} {'is' if len(left) == 1 else 'are'} unfilled"
            notebooks = filled
    named = [(rel, p) for rel, p in notebooks if not _scratch(rel)]
    if named and len(named) < len(notebooks):
        why = why or "a named notebook is graded before Jupyter's Untitled ones"
        notebooks = named
    if assignment:
        for ext in (".ipynb", ".py"):
            ranked = _best(_Scan(), f"{assignment}{ext}", among=notebooks)
            if ranked:
                return _Pick(ranked[0][1], ranked[0][2], why or ("named like the assignment" if others else ""))
    holding = [(rel, p) for rel, p in notebooks if _graded_notebook(p, functions)]
    holding.sort(key=lambda rp: (_depth(rp[0]), not rp[0].lower().endswith(".ipynb"), rp[0]))
    if not holding:
        return None
    return _Pick(*holding[0], why or ("its cells hold the work" if others else ""))


def uploaded_files(path: Path) -> list[str]:
    """The files of a submission as ``locate`` lists them (relative paths; zips inside it are not opened)."""
    path = Path(path)
    if not path.is_dir():
        return [_printable(path.name)] if path.is_file() else []
    scan = _Scan()
    _scan(path, scan, "", None, None)
    return [rel for rel, _ in scan.files]


def notebook_in(folder: Path, files: tuple[str, ...], assignment: str = "",
                functions: tuple[str, ...] = ()) -> Path | None:
    """The notebook ``locate`` would grade in ``folder`` (None when an expected file is there), copying nothing."""
    scan = _Scan()
    _scan(Path(folder), scan, "", None, None)
    if any(_best(scan, name) for name in files):
        return None
    best = _pick_notebook(_notebooks(scan, set()), assignment, functions)
    return best.path if best else None


def notebook_of(submission: Path, files: tuple[str, ...]) -> Path | None:
    """The notebook to grade: the submission itself (a notebook, or one exported as a script), or the notebook
    that ``submissions.locate``'s rule picks in a folder without the expected files (None: grade the folder)."""
    if submission.is_file() and (submission.suffix == ".ipynb" or
                                 (submission.suffix == ".py" and script_notebook(submission))):
        return submission
    if submission.is_dir():
        return notebook_in(submission, files)
    return None
