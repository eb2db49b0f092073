"""Finds the students' submissions in a class folder, and unpacks each one safely.

Layouts understood (``discover``):

* ``folders``: one entry per student, a folder or a ``.zip`` named after the student;
* ``gradescope``: Gradescope's "Export Submissions" (``submission_metadata.yml`` beside
  one ``submission_<id>/`` folder per submission; ids come from the metadata);
* ``nbgrader``: nbgrader's ``submitted/<student>/<assignment>/`` tree.

An entry that cannot be graded (two submissions for one id, a folder named in the
metadata but absent) keeps a ``problem`` and becomes an error row; only an input
that is not a class folder at all raises ``LayoutError``.  Zips are untrusted:
``extract_zip`` refuses path traversal, links, password protection and archives
that would unpack beyond the size limits, counting the bytes actually written.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autograder.submission import ArchiveLimits, SubmissionProblem, extract_zip  # noqa: F401 -- re-exported

SKIPPED_NAMES = {"__MACOSX", "__pycache__", ".DS_Store", "Thumbs.db"}


class LayoutError(Exception):
    """The input is not a class folder this module understands."""


@dataclass(frozen=True)
class Entry:
    """One student's submission, before grading."""

    student: str
    source: Path
    kind: str  # "folder" or "zip"
    label: str  # where it came from, relative to the class folder, for messages
    problem: str = ""  # why it cannot be graded, when it cannot


@dataclass
class Layout:
    kind: str
    root: Path
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)  # what was skipped, for the instructor


# -- discovery ---------------------------------------------------------------
def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in SKIPPED_NAMES


def discover(root: Path, files: tuple[str, ...], assignment: str | None = None,
             default_assignment: str = "") -> Layout:
    """The submissions under ``root``, in a stable order (by student id)."""
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".zip":
        raise LayoutError(f"{root} is a zip file: unzip it first (unzip {root.name} -d {root.stem}) "
                          "and give the folder")
    if not root.is_dir():
        raise LayoutError(f"submissions folder {str(root)!r} does not exist")
    if any((root / f).is_file() for f in files):
        raise LayoutError(f"{root} holds {', '.join(f for f in files if (root / f).is_file())} itself: it looks "
                          "like one submission; grade it with `python -m autograder grade`, or give the folder "
                          "that holds one folder or zip per student")
    gradescope = _gradescope_root(root)
    if gradescope is not None:
        layout = _gradescope(gradescope)
    elif root.name == "submitted" or (root / "submitted").is_dir():
        layout = _nbgrader(root if root.name == "submitted" else root / "submitted", assignment, default_assignment)
    else:
        layout = _folders(root)
    if not layout.entries:
        raise LayoutError(f"no submissions found in {root} (expected one folder or .zip per student, a Gradescope "
                          "export with submission_metadata.yml, or nbgrader's submitted/<student>/<assignment>/)")
    layout.entries = _mark_duplicates(layout.entries)
    return layout


def _gradescope_root(root: Path) -> Path | None:
    if (root / "submission_metadata.yml").is_file():
        return root
    # An unzipped export may keep its top folder (assignment_<id>_export/).
    subdirs = [p for p in root.iterdir() if p.is_dir() and _visible(p)]
    if len(subdirs) == 1 and (subdirs[0] / "submission_metadata.yml").is_file():
        return subdirs[0]
    return None


def _folders(root: Path) -> Layout:
    entries, notes = [], []
    for path in sorted(root.iterdir()):
        if not _visible(path):
            continue
        if path.is_dir():
            entries.append(Entry(path.name, path, "folder", path.name))
        elif path.is_file() and path.suffix.lower() == ".zip":
            entries.append(Entry(path.stem, path, "zip", path.name))
        else:
            notes.append(f"skipped {path.name}: neither a folder nor a .zip")
    return Layout("folders", root, entries, notes)


class _MetadataLoader(yaml.SafeLoader):
    """Safe YAML that reads unknown tags (Ruby objects in Gradescope's metadata) as plain data."""


def _plain(loader: yaml.Loader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_MetadataLoader.add_multi_constructor("!", _plain)


def _key(mapping: dict, name: str):
    """Gradescope writes Ruby symbols (``:sid:``); accept the plain name too."""
    if not isinstance(mapping, dict):
        return None
    return mapping.get(f":{name}", mapping.get(name))


def _gradescope(root: Path) -> Layout:
    path = root / "submission_metadata.yml"
    try:
        metadata = yaml.load(path.read_text(errors="replace"), Loader=_MetadataLoader)
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(metadata, dict):
        raise LayoutError(f"{path}: expected a mapping of submission folders to their submitters")
    entries, notes = [], []
    listed = set()
    for folder_name, record in sorted(metadata.items(), key=lambda kv: str(kv[0])):
        folder_name = str(folder_name)
        listed.add(folder_name)
        folder = root / folder_name
        submitters = _key(record, "submitters") or []
        ids = []
        for s in submitters if isinstance(submitters, list) else []:
            sid = next((str(v).strip() for v in (_key(s, "sid"), _key(s, "email"), _key(s, "name"))
                        if v is not None and str(v).strip()), "")
            if sid:
                ids.append(sid)
        if not ids:
            ids = [folder_name]
            notes.append(f"{folder_name}: no submitter id in the metadata; using the folder name")
        problem = "" if folder.is_dir() else f"{folder_name} is listed in submission_metadata.yml but its folder " \
                                             "is missing from the export"
        # A group submission gives each member the same grade.
        entries += [Entry(sid, folder, "folder", folder_name, problem) for sid in ids]
    for path in sorted(root.iterdir()):
        if path.is_dir() and _visible(path) and path.name not in listed:
            entries.append(Entry(path.name, path, "folder", path.name))
            notes.append(f"{path.name}: not in submission_metadata.yml; using the folder name as the id")
    return Layout("gradescope", root, entries, notes)


def _nbgrader(submitted: Path, assignment: str | None, default_assignment: str) -> Layout:
    students = [p for p in sorted(submitted.iterdir()) if p.is_dir() and _visible(p)]
    names = Counter(a.name for s in students for a in s.iterdir() if a.is_dir() and _visible(a))
    if assignment is None:
        if default_assignment in names or not names:
            assignment = default_assignment
        elif len(names) == 1:
            assignment = next(iter(names))
        else:
            raise LayoutError(f"{submitted} holds several assignments ({', '.join(sorted(names))}): choose one with "
                              "--assignment")
    elif assignment not in names:
        raise LayoutError(f"no student in {submitted} has a folder for assignment {assignment!r} "
                          f"(found: {', '.join(sorted(names)) or 'none'})")
    entries, notes = [], []
    for student in students:
        folder = student / assignment
        if folder.is_dir():
            entries.append(Entry(student.name, folder, "folder", f"{student.name}/{assignment}"))
        else:
            notes.append(f"{student.name}: no submission of {assignment}")
    return Layout("nbgrader", submitted, entries, notes)


def _mark_duplicates(entries: list[Entry]) -> list[Entry]:
    """Two different submissions under one id cannot be graded as one: both become error rows."""
    sources: dict[str, set] = {}
    for e in entries:
        sources.setdefault(e.student, set()).add(e.source)
    out, seen = [], set()
    for e in sorted(entries, key=lambda e: e.student):
        if e.student in seen:
            continue
        seen.add(e.student)
        if len(sources[e.student]) > 1:
            labels = sorted(x.label for x in entries if x.student == e.student)
            e = Entry(e.student, e.source, e.kind, e.label,
                      f"several submissions for this id ({', '.join(labels)}): keep one and regrade")
        out.append(e)
    return out


# -- file names ----------------------------------------------------------------
def safe_names(students: list[str]) -> dict[str, str]:
    """A file name for each student id: unique, no path separators, no leading dot."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for student in sorted(students):
        name = re.sub(r"[^A-Za-z0-9._@+-]", "_", student)[:100] or "_"
        if name.startswith("."):
            name = "_" + name
        if name.lower() in used:
            name = f"{name}-{hashlib.sha1(student.encode()).hexdigest()[:8]}"
        used.add(name.lower())
        names[student] = name
    return names


def prepare(entry: Entry, workdir: Path, files: tuple[str, ...], limits: ArchiveLimits | None = None) -> Path:
    """The submission of one entry, for ``submission.locate``: its folder, or its zip unpacked into ``workdir``.

    Raises SubmissionProblem for an entry that cannot be graded.
    """
    if entry.problem:
        raise SubmissionProblem(entry.problem)
    if entry.kind == "zip":
        unpacked = workdir / "unpacked"
        unpacked.mkdir()
        extract_zip(entry.source, unpacked, limits or ArchiveLimits())
        return unpacked
    if not entry.source.is_dir():
        raise SubmissionProblem(f"{entry.label} is no longer there")
    for name in files:
        if (entry.source / name).is_symlink():
            raise SubmissionProblem(f"{name} is a symbolic link; the submission must hold the file itself")
    return entry.source


def fingerprint(entry: Entry) -> str:
    """A hash of the submission's content: a changed submission is graded again on resume."""
    h = hashlib.sha256(f"{entry.kind}\0{entry.problem}\0".encode())
    if entry.kind == "zip" and entry.source.is_file():
        paths = [(entry.source.name, entry.source)]
    elif entry.source.is_dir():
        paths = []
        for dirpath, dirnames, filenames in os.walk(entry.source):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    paths.append((path.relative_to(entry.source).as_posix(), path))
    else:
        paths = []
    for rel, path in paths:
        h.update(rel.encode() + b"\0")
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()
