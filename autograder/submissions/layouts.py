"""Finds the students' submissions in a class folder, and unpacks each one safely.

Layouts understood (``discover``; ``LAYOUTS`` names them for ``--layout``):

* ``folders``: one entry per student, a folder or a ``.zip`` named after the student;
* ``gradescope``: Gradescope's "Export Submissions" (``submission_metadata.yml`` beside
  one ``submission_<id>/`` folder per submission; ids come from the metadata);
* ``nbgrader``: nbgrader's ``submitted/<student>/<assignment>/`` tree (as ``nbgrader collect``
  writes it, with a ``timestamp.txt``);
* ``canvas``: Canvas's "Download Submissions", one flat folder where every uploaded file is
  renamed ``<name>[_LATE]_<user id>_<attachment id>_<original name>`` (a file uploaded again
  under a name the student already used gets ``-1``, ``-2`` before its extension); online text
  and URL entries are ``<name>[_LATE]_<user id>_text.html`` / ``_link.html``;
* ``moodle``: Moodle's "Download all submissions", in folders
  (``<Full name>_<participant id>_assignsubmission_file/`` holding the uploaded files, and
  ``..._assignsubmission_onlinetext/``) or flat (``<Full name>_<id>_assignsubmission_file_<name>``);
* ``blackboard``: Blackboard Learn's Grade Centre "Assignment File Download", flat files
  ``<assignment>_<user>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original name>`` plus one receipt
  ``<assignment>_<user>_attempt_<timestamp>.txt`` per attempt (``Name: Full Name (user)`` and
  ``Original filename:`` / ``Filename:`` pairs, which are preferred to cutting the prefix).

Every student becomes one ``Entry`` keyed by the LMS's id (user id, participant id, user name,
SID), with the display name where the layout has one.  The flat layouts give an entry of kind
``files``: original name -> downloaded file, staged under the original names by ``prepare``.
When a layout holds several attempts of one student (Blackboard), one is chosen (``attempt``:
latest or first) and the entry's notes say so; the other attempts' files are ``ignored``.
Whatever is not graded is listed: ``Layout.ignored`` (online text, receipts, other attempts)
and ``Layout.unplaced`` (files and folders that belong to no student); junk a student uploaded (``.DS_Store``, a
Moodle folder's ``__pycache__/``) is the entry's ``junk``, left out and listed by ``locate`` as in any folder.
An entry that cannot be graded (two submissions for one id, a folder named in the metadata but absent) keeps a
``problem`` and becomes an error row; only an input that is not a class folder at all raises
``LayoutError``.  Zips are untrusted: ``extract_zip`` refuses path traversal, links, password
protection and archives that would unpack beyond the size limits, counting the bytes actually
written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from autograder.files import walk
from autograder.submissions import ATTEMPTS, LAYOUTS  # noqa: F401 -- re-exported
from autograder.submissions.locate import (  # noqa: F401 -- ArchiveLimits and SubmissionProblem are re-exported
    JUNK_DIRS,
    JUNK_FILES,
    ArchiveLimits,
    SubmissionProblem,
    UnsafeFile,
    extract_zip,
    junk,
    locate_work,
    member_path,
    open_member_file,
    read_regular,
    shown_names,
)
from autograder.text import disk_name, name_bytes

if TYPE_CHECKING:
    from autograder.config import Config

SKIPPED_NAMES = JUNK_DIRS | JUNK_FILES  # (locate.py's list: one list of junk for class folders and submissions)
# The entry note of a submission the LMS flagged late (Canvas's _LATE_; Moodle's and Blackboard's downloads
# carry no such flag).  A staff extension (gradebook) finds it by this text.
LATE_NOTE = "submitted late (Canvas marked it LATE)"


class LayoutError(Exception):
    """The input is not a class folder this module understands."""


@dataclass(frozen=True)
class Entry:
    """One student's submission, before grading.

    ``kind`` is "folder", "zip" or "files"; for "files" (the flat LMS downloads) ``files``
    holds (original name, downloaded path) pairs and ``source`` is the class folder.
    """

    student: str
    source: Path
    kind: str
    label: str  # where it came from, relative to the class folder, for messages
    problem: str = ""  # why it cannot be graded, when it cannot
    name: str = ""  # the student's display name, when the layout has one
    files: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()  # what the mapping decided for this student (attempt chosen, late)
    # For "files": paths in the submission the layout did not take, as no one writes them by hand (a folder ends
    # in "/"); ``stage_files`` lays them out empty so that the student's notes list them as for any folder.
    junk: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # One spelling of an accented id or name (macOS unzips folder names decomposed, NFD): the same student
        # keeps one row across downloads, and names match and sort as the LMS's gradebook does.
        for key in ("student", "name"):
            object.__setattr__(self, key, unicodedata.normalize("NFC", getattr(self, key)))

    def to_job(self) -> dict:
        """The fields a grading worker needs, as JSON-ready data (``from_job`` reads them back)."""
        return {"student": self.student, "source": str(self.source), "kind": self.kind, "label": self.label,
                "problem": self.problem, "name": self.name, "files": [list(f) for f in self.files],
                "entry_notes": list(self.notes), "junk": list(self.junk)}

    @classmethod
    def from_job(cls, job: dict) -> Entry:
        """The entry ``to_job`` described."""
        return cls(job["student"], Path(job["source"]), job["kind"], job["label"], job.get("problem", ""),
                   job.get("name", ""), tuple((str(a), str(b)) for a, b in job.get("files", ())),
                   tuple(job.get("entry_notes", ())), tuple(job.get("junk", ())))


@dataclass
class Layout:
    """What ``discover`` found: one entry per student, and every path it did not grade."""

    kind: str
    root: Path
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)  # what was skipped, for the instructor
    # Paths (relative to root) not graded though placed: {"path", "student", "reason"}.
    ignored: list[dict] = field(default_factory=list)
    # Paths that belong to no student: {"path", "reason"}.  Any makes grade-all exit non-zero.
    unplaced: list[dict] = field(default_factory=list)
    attempt: str = "latest"

    def without_row(self) -> list[str]:
        """Students the download names who handed in nothing to grade (online text only, receipts only): no
        row in grades.csv, only their entries in ``ignored``."""
        return without_row(self.mapping())

    def mapping(self) -> dict:
        """The student <-> files mapping as JSON-ready data (batch.json's "mapping")."""
        return {"layout": self.kind, "attempt": self.attempt,
                "students": [{"id": e.student, "name": e.name, "from": e.label,
                              "files": [orig for orig, _ in e.files], "notes": list(e.notes),
                              "problem": e.problem} for e in self.entries],
                "ignored": list(self.ignored), "unplaced": list(self.unplaced), "notes": list(self.notes)}


def without_row(mapping: dict) -> list[str]:
    """``Layout.without_row`` from batch.json's "mapping"."""
    rows = {s["id"] for s in mapping.get("students", [])}
    return sorted({str(i["student"]) for i in mapping.get("ignored", []) if i.get("student")} - rows)


# -- discovery ---------------------------------------------------------------
def _visible(path: Path) -> bool:
    return not junk(path.name)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def discover(root: Path, files: tuple[str, ...], assignment: str | None = None,
             default_assignment: str = "", layout: str | None = None, attempt: str = "latest") -> Layout:
    """The submissions under ``root``, in a stable order (by student id).

    ``layout`` names one of ``LAYOUTS`` (None: recognise it); ``attempt`` chooses among several
    attempts of one student ("latest" or "first").  Raises LayoutError when ``root`` is not a
    class folder of that layout.
    """
    root = Path(root)
    if layout is not None and layout not in LAYOUTS:
        raise LayoutError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if attempt not in ATTEMPTS:
        raise LayoutError(f"unknown attempt choice {attempt!r}: choose one of {', '.join(ATTEMPTS)}")
    if root.is_file() and root.suffix.lower() == ".zip":
        raise LayoutError(f"{root} is a zip file: unzip it first (unzip {root.name} -d {root.stem}) "
                          "and give the folder")
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise LayoutError(f"submissions folder {str(root)!r} {what}: give the folder that holds the class's "
                          "submissions (one folder or zip per student, or an LMS download)")
    given = root
    root, unwrapped, recognised = _unwrap(root, files)
    kind = layout or recognised
    loose = [f for f in files if (root / f).is_file()]
    if loose and layout is None and kind == "folders" and sum(_holds_work(p, files) for p in root.iterdir()) < 2:
        # Only a folder that is one submission is refused: a class folder (a layout named or recognised, several
        # students' folders or zips) is graded and a loose homework file in it is listed as not placed.
        raise LayoutError(f"{root} holds {', '.join(loose)} itself: it looks like one submission; grade it with "
                          "`python -m autograder grade`, or give the folder that holds one folder or zip per student")
    if kind == "gradescope":
        gradescope = _gradescope_root(root)
        if gradescope is None:
            raise LayoutError(f"{root} holds no submission_metadata.yml: it is not a Gradescope export")
        found = _gradescope(gradescope)
    elif kind == "nbgrader":
        if not (root.name == "submitted" or (root / "submitted").is_dir()):
            raise LayoutError(f"{root} is neither nbgrader's submitted/ folder nor a course folder holding one")
        found = _nbgrader(root if root.name == "submitted" else root / "submitted", assignment, default_assignment)
    elif kind == "canvas":
        found = _canvas(root, files)
    elif kind == "moodle":
        found = _moodle(root)
    elif kind == "blackboard":
        found = _blackboard(root, attempt)
    else:
        found = _folders(root)
    found.attempt = attempt
    found.notes[:0] = unwrapped
    top = sorted({_rel(p, given) + ("/" if p.is_dir() else "") for folder in {given, root} for p in folder.iterdir()
                  if p.name in SKIPPED_NAMES})
    if top:
        found.notes.append(f"left out of the class folder, as files no one writes by hand: {', '.join(top)}")
    if not found.entries:
        looks = recognised
        named = (f"; it looks like a {looks} download: leave --layout out, or give --layout {looks}"
                 if looks != kind and looks != "folders" else "")
        raise LayoutError(f"no submissions found in {root} as a {kind} layout (expected one folder or .zip per "
                          "student, a Gradescope export with submission_metadata.yml, nbgrader's "
                          "submitted/<student>/<assignment>/, or a Canvas, Moodle or Blackboard download)" + named)
    found.entries = _mark_duplicates(found.entries)
    for stray in found.unplaced:
        if stray["path"] in loose:
            stray["reason"] = ("a homework file at the top of the class folder, so no student's: move it into its "
                               "student's folder (or out of the class folder) and run again")
    return found


def _unwrap(root: Path, files: tuple[str, ...]) -> tuple[Path, list[str], str]:
    """The class folder inside folders that hold nothing else (an LMS download unzipped into a folder of its
    own, a folder of student folders moved into another), a note for each level gone down, and the layout
    that folder is recognised as (``_recognise``).  Gone down only when the folder reached is a class: an LMS
    download, or two entries or more that look like submissions; a chain that ends in one student's work (a
    class of one) stays where it was."""
    kind = _recognise(root)
    if kind != "folders":
        return root, [], kind
    chain = [root]
    for _ in range(4):
        children = [p for p in chain[-1].iterdir() if _visible(p)]
        if len(children) != 1 or not children[0].is_dir() or children[0].is_symlink():
            break
        if any((children[0] / f).is_file() for f in files):
            return root, [], kind
        chain.append(children[0])
    inner = chain[-1]
    if inner == root:
        return root, [], kind
    inner_kind = _recognise(inner)
    if inner_kind == "folders" and sum(_holds_work(p, files) for p in inner.iterdir()) < 2:
        return root, [], kind
    return inner, [f"{outer} holds no other work than the folder {held.name!r}: the class was read from {inner}"
                   for outer, held in zip(chain, chain[1:])], inner_kind


def _holds_work(path: Path, files: tuple[str, ...]) -> bool:
    """Whether a class folder's entry looks like one student's submission: a zip, or a folder holding an
    expected file, a notebook or a zip (at most two levels down)."""
    if not _visible(path):
        return False
    if path.is_file():
        return path.suffix.lower() == ".zip"
    if not path.is_dir() or path.is_symlink():
        return False
    expected = {f.lower() for f in files}
    for level in (path.iterdir(), (q for d in path.iterdir() if d.is_dir() and _visible(d) for q in d.iterdir())):
        for q in level:
            low = q.name.lower()
            if low in expected or low.endswith((".ipynb", ".zip")):
                return True
    return False


def _recognise(root: Path) -> str:
    """The layout of ``root``: by its marker files, else by how most of its entries are named."""
    if _gradescope_root(root) is not None:
        return "gradescope"
    if root.name == "submitted" or (root / "submitted").is_dir():
        return "nbgrader"
    children = [p for p in root.iterdir() if _visible(p)]
    votes = {
        "blackboard": sum(p.is_file() and _BB_PREFIX.match(p.name) is not None for p in children),
        "moodle": sum(_MOODLE.match(p.name) is not None for p in children),
        "canvas": sum(p.is_file() and (_CANVAS.match(p.name) or _CANVAS_TEXT.match(p.name)) is not None
                      for p in children),
    }
    best = max(votes, key=votes.get)
    # A few oddly named files among per-student folders do not make an LMS download.
    return best if votes[best] and 2 * votes[best] >= len(children) else "folders"


def _gradescope_root(root: Path) -> Path | None:
    if (root / "submission_metadata.yml").is_file():
        return root
    # An unzipped export may keep its top folder (assignment_<id>_export/).
    subdirs = [p for p in root.iterdir() if p.is_dir() and _visible(p)]
    if len(subdirs) == 1 and (subdirs[0] / "submission_metadata.yml").is_file():
        return subdirs[0]
    return None


def _folders(root: Path) -> Layout:
    entries, unplaced = [], []
    for path in sorted(root.iterdir()):
        if not _visible(path):
            continue
        if path.is_dir():
            entries.append(Entry(path.name, path, "folder", path.name))
        elif path.is_file() and path.suffix.lower() == ".zip":
            entries.append(Entry(path.stem, path, "zip", path.name))
        else:
            unplaced.append({"path": path.name, "reason": "neither a folder nor a .zip, so no student's: move it "
                                                          "into its student's folder, or out of the class folder"})
    return Layout("folders", root, entries, unplaced=unplaced)


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
        metadata = yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=_MetadataLoader)
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(metadata, dict):
        raise LayoutError(f"{path}: expected a mapping of submission folders to their submitters")
    entries, notes, unplaced = [], [], []
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
                ids.append((sid, str(_key(s, "name") or "").strip()))
        if not ids:
            ids = [(folder_name, "")]
            notes.append(f"{folder_name}: no submitter id in the metadata; using the folder name")
        problem = "" if folder.is_dir() else f"{folder_name} is listed in submission_metadata.yml but its folder " \
                                             "is missing from the export"
        # A group submission gives each member the same grade, and says who the group is.
        entries += [Entry(sid, folder, "folder", folder_name, problem, name, notes=(
            f"a group submission ({folder_name}) with {', '.join(o for o, _ in ids if o != sid)}: each member "
            "gets the same grade",) if len(ids) > 1 else ()) for sid, name in ids]
    for path in sorted(root.iterdir()):
        if path.is_dir() and _visible(path) and path.name not in listed:
            entries.append(Entry(path.name, path, "folder", path.name))
            notes.append(f"{path.name}: not in submission_metadata.yml; using the folder name as the id")
        elif path.is_file() and _visible(path) and path.name != "submission_metadata.yml":
            unplaced.append({"path": path.name, "reason": "a file beside the submission folders of the export"})
    return Layout("gradescope", root, entries, notes, unplaced=unplaced)


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
                              "--nbgrader-assignment")
    elif assignment not in names:
        raise LayoutError(f"no student in {submitted} has a folder for assignment {assignment!r} "
                          f"(found: {', '.join(sorted(names)) or 'none'})")
    entries, notes, ignored, unplaced = [], [], [], []
    for student in students:
        folder = student / assignment
        if folder.is_dir():
            # `nbgrader collect` already kept one submission per student (its timestamp.txt says which).
            entries.append(Entry(student.name, folder, "folder", f"{student.name}/{assignment}"))
        else:
            notes.append(f"{student.name}: no submission of {assignment}")
        for other in sorted(student.iterdir()):
            if _visible(other) and other.name != assignment:
                ignored.append({"path": f"{student.name}/{other.name}", "student": student.name,
                                "reason": f"not the assignment graded ({assignment})"})
    for path in sorted(submitted.iterdir()):
        if path.is_file() and _visible(path):
            unplaced.append({"path": path.name, "reason": "a file beside the students' folders"})
    return Layout("nbgrader", submitted, entries, notes, ignored, unplaced)


# -- the flat downloads of learning management systems ------------------------------------------------
_CANVAS = re.compile(r"^(?P<name>.+?)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<attachment>\d+)_(?P<original>.+)$")
_CANVAS_TEXT = re.compile(r"^(?P<name>.+?)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<what>text|link)\.html?$")
_RENUMBERED = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)(?P<suffix>\.[^.]+)$")  # "layers-1.py" from Canvas
_MOODLE = re.compile(
    r"^(?P<name>.+)_(?P<id>\d+)_(?P<plugin>assign(?:submission|feedback)_[a-z]+)(?:_(?P<original>.+))?$")
_BB_PREFIX = re.compile(r"^(?P<prefix>.+_attempt_(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}))(?P<rest>.*)$")
_BB_USER = re.compile(r"^.+_(?P<user>[^_]+)_attempt_")
_BB_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<user>[^()]+)\)\s*$", re.MULTILINE)
_BB_FILES = re.compile(r"Original filename:\s*(?P<original>.+?)\s*\n\s*Filename:\s*(?P<file>.+?)\s*$", re.MULTILINE)


def _safe_original(name: str) -> str | None:
    """The original name as a relative path inside the student's folder, or None when it would escape."""
    try:
        path = member_path(name)
    except SubmissionProblem:
        return None
    return path.as_posix() if path.parts else None


def _junk_part(rel: str) -> str | None:
    """The junk a relative path is or lies in (``hw/__pycache__/x.pyc``: ``hw/__pycache__/``), else None."""
    parts = rel.split("/")
    for k, part in enumerate(parts):
        if part in SKIPPED_NAMES:
            return "/".join(parts[:k + 1]) + ("/" if k < len(parts) - 1 else "")
    return None


def _pick(student: str, candidates: list[tuple[str, str, str]], ignored: list[dict]) -> tuple[tuple[str, str], ...]:
    """One file per original name: (original, path, order key) -> the last in order; the others are ignored."""
    chosen: dict[str, tuple[str, str, str]] = {}
    for original, path, order in sorted(candidates, key=lambda c: c[2]):
        if original in chosen:
            ignored.append({"path": chosen[original][1], "student": student,
                            "reason": f"an older upload of {original} (a newer one is graded)"})
        chosen[original] = (original, path, order)
    return tuple(sorted((o, p) for o, p, _ in chosen.values()))


def _canvas(root: Path, files: tuple[str, ...]) -> Layout:
    expected = {f.lower(): f for f in files}
    uploads: dict[str, list[tuple[str, str, str]]] = {}
    names: dict[str, str] = {}
    late: set[str] = set()
    junk: dict[str, set[str]] = {}
    ignored, unplaced = [], []
    for path in sorted(root.iterdir()):
        if not _visible(path):
            continue
        # An upload has two ids (user, attachment); an online entry only the user's.
        match = _CANVAS.match(path.name) if path.is_file() else None
        text = _CANVAS_TEXT.match(path.name) if path.is_file() and not match else None
        if text:
            names.setdefault(text["user"], text["name"])
            ignored.append({"path": path.name, "student": text["user"],
                            "reason": f"the online {'text' if text['what'] == 'text' else 'URL'} entry is not graded"})
            continue
        if not match:
            unplaced.append({"path": path.name, "reason": "not named as Canvas names submitted files "
                                                          "(<name>[_LATE]_<user id>_<attachment id>_<file>)"})
            continue
        user, original = match["user"], match["original"]
        names.setdefault(user, match["name"])
        if match["late"]:
            late.add(user)
        # Canvas numbers a file uploaded again under a name already used: undo it for the expected names.
        renumbered = _RENUMBERED.match(original)
        if renumbered and (renumbered["stem"] + renumbered["suffix"]).lower() in expected:
            original = expected[(renumbered["stem"] + renumbered["suffix"]).lower()]
        safe = _safe_original(original)
        if safe is None:
            unplaced.append({"path": path.name, "reason": "its original name is not a safe file name"})
            continue
        if part := _junk_part(safe):
            junk.setdefault(user, set()).add(part)
            uploads.setdefault(user, [])
            continue
        uploads.setdefault(user, []).append((safe, path.name, f"{int(match['attachment']):020d}"))
    for user in sorted(set(names) - set(uploads)):
        ignored.append({"path": f"{names[user]}_{user}_*", "student": user,
                        "reason": "only an online text or URL entry: nothing to grade (no row in grades.csv)"})
    entries = []
    for user in sorted(uploads):
        before = len(ignored)
        chosen = _pick(user, uploads[user], ignored)
        older = [i["path"] for i in ignored[before:]]
        notes = (LATE_NOTE,) if user in late else ()
        if older:  # on the row itself too, not only in summary.md: the TA sees which upload counted
            notes += (f"{len(older)} older upload{'s' if len(older) > 1 else ''} not graded (the newest of each file "
                      f"is): {', '.join(older[:3])}{', ...' if len(older) > 3 else ''}",)
        entries.append(Entry(user, root, "files", f"{names[user]}_{user}_*", name=names[user],
                             files=tuple((o, str(root / p)) for o, p in chosen), notes=notes,
                             junk=tuple(sorted(junk.get(user, ())))))
    return Layout("canvas", root, entries, ignored=ignored, unplaced=unplaced)


def _files_under(folder: Path, skipped: list[Path]) -> list[Path]:
    """The files under ``folder``, junk left out and added to ``skipped`` (folders whole)."""
    out, too_deep = [], []
    for dirpath, dirnames, filenames in walk(folder, too_deep):
        skipped += [Path(dirpath) / d for d in sorted(dirnames) if d in SKIPPED_NAMES]
        skipped += [Path(dirpath) / n for n in sorted(filenames) if n in SKIPPED_NAMES]
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        out += [Path(dirpath) / n for n in sorted(filenames) if n not in SKIPPED_NAMES]
    skipped += [Path(d) for d in too_deep]
    return out


def _moodle(root: Path) -> Layout:
    uploads: dict[str, list[tuple[str, str, str]]] = {}
    names: dict[str, str] = {}
    junk: dict[str, set[str]] = {}
    ignored, unplaced = [], []
    for path in sorted(root.iterdir()):
        if not _visible(path):
            continue
        match = _MOODLE.match(path.name)
        if not match or (path.is_dir() and match["original"]) or (path.is_file() and not match["original"]):
            unplaced.append({"path": path.name, "reason": "not named as Moodle names submissions "
                                                          "(<Full name>_<id>_assignsubmission_<type>)"})
            continue
        student = match["id"]
        names.setdefault(student, match["name"])
        if match["plugin"] != "assignsubmission_file":
            what = {"assignsubmission_onlinetext": "the online text", "assignsubmission_comments": "comments"}.get(
                match["plugin"], match["plugin"])
            ignored.append({"path": path.name + ("/" if path.is_dir() else ""), "student": student,
                            "reason": f"{what} is not graded"})
            continue
        skipped: list[Path] = []
        found = [(f.relative_to(path).as_posix(), f) for f in _files_under(path, skipped)] if path.is_dir() else \
            [(match["original"], path)]
        junk.setdefault(student, set()).update(_rel(j, path) + ("/" if j.is_dir() else "") for j in skipped)
        for original, file in found:
            safe = _safe_original(original)
            if safe is None:
                unplaced.append({"path": _rel(file, root), "reason": "its original name is not a safe file name"})
            elif part := _junk_part(safe):
                junk[student].add(part)
            else:
                uploads.setdefault(student, []).append((safe, _rel(file, root), ""))
        if path.is_dir() or junk[student]:
            uploads.setdefault(student, [])
    entries = []
    for student, files in sorted(uploads.items()):
        chosen = _pick(student, files, ignored)
        label = f"{names[student]}_{student}_assignsubmission_file"
        entries.append(Entry(student, root, "files", label, name=names[student],
                             files=tuple((o, str(root / p)) for o, p in chosen), junk=tuple(sorted(junk[student]))))
    for student in sorted(set(names) - set(uploads)):
        ignored.append({"path": f"{names[student]}_{student}_*", "student": student,
                        "reason": "no file submission: nothing to grade (no row in grades.csv)"})
    return Layout("moodle", root, entries, ignored=ignored, unplaced=unplaced)


def _blackboard(root: Path, attempt: str) -> Layout:
    attempts: dict[str, dict] = {}  # prefix -> {"stamp", "files": [(original, name)], "receipt"}
    ignored, unplaced = [], []
    for path in sorted(root.iterdir()):
        if not _visible(path):
            continue
        match = _BB_PREFIX.match(path.name) if path.is_file() else None
        if not match or not (match["rest"] == ".txt" or match["rest"].startswith("_")):
            unplaced.append({"path": path.name, "reason": "not named as Blackboard names submitted files "
                                                          "(<assignment>_<user>_attempt_<timestamp>_<file>)"})
            continue
        at = attempts.setdefault(match["prefix"], {"stamp": match["stamp"], "files": [], "receipt": None})
        if match["rest"] == ".txt":
            at["receipt"] = path
        else:
            at["files"].append((match["rest"][1:], path.name))
    users: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    receipts: dict[str, tuple[str, str, dict]] = {}  # prefix -> (user, name, original names) from its receipt
    for prefix, at in attempts.items():
        if at["receipt"] is not None:
            text = at["receipt"].read_text(encoding="utf-8", errors="replace")
            who = _BB_NAME.search(text)
            originals = {m["file"]: m["original"] for m in _BB_FILES.finditer(text)}
            receipts[prefix] = (who["user"].strip() if who else "", who["name"] if who else "", originals)
    assignment, guessed = _bb_assignment(attempts, receipts)
    layout_notes = []
    if guessed:
        layout_notes.append(f"user names read from the file names (no receipt says them): the assignment's part of the "
                     f"names is taken to be {assignment!r}; check the ids")
    for prefix, at in attempts.items():
        user, name, originals = receipts.get(prefix, ("", "", {}))
        if user:
            names[user] = name
        else:
            head = prefix[:prefix.rindex("_attempt_")]
            if assignment is not None and head.startswith(assignment + "_") and len(head) > len(assignment) + 1:
                user = head[len(assignment) + 1:]
            else:
                guess = _BB_USER.match(prefix + "_")
                user = guess["user"] if guess else prefix
        if at["receipt"] is not None:
            ignored.append({"path": at["receipt"].name, "student": user,
                            "reason": "Blackboard's receipt of an attempt"})
        at["files"] = [(originals.get(name, original), name) for original, name in at["files"]]
        users.setdefault(user, []).append(prefix)
    entries = []
    for user, prefixes in sorted(users.items()):
        prefixes.sort(key=lambda p: (attempts[p]["stamp"], p))
        with_files = [p for p in prefixes if attempts[p]["files"]]
        if not with_files:  # only receipts (text typed into Blackboard): listed, nothing to grade
            ignored.append({"path": f"{prefixes[-1]}*", "student": user,
                            "reason": "no file in any attempt: nothing to grade (no row in grades.csv)"})
            continue
        chosen = with_files[-1] if attempt == "latest" else with_files[0]
        when = _bb_time(attempts[chosen]["stamp"])
        notes: tuple[str, ...] = ()
        if guessed and not any(receipts.get(p, ("",))[0] for p in prefixes):
            # Shown on the row itself: a wrong split (every user name starting alike, s_...) gives a wrong id.
            notes += (f"the user id {user!r} is read from the file names, no receipt says it (the assignment's part "
                      f"is taken to be {assignment!r}); check it, or download again with the receipts",)
        if len(prefixes) > 1:
            stamps = ", ".join(_bb_time(attempts[p]["stamp"]) for p in prefixes)
            notes += (f"{len(prefixes)} attempts ({stamps}): graded the {attempt} ({when})",)
            for p in prefixes:
                if p != chosen:
                    reason = f"another attempt ({_bb_time(attempts[p]['stamp'])}): the {attempt} ({when}) is graded"
                    ignored += [{"path": name, "student": user, "reason": reason} for _, name in attempts[p]["files"]]
        candidates, junk = [], set()
        for original, name in attempts[chosen]["files"]:
            safe = _safe_original(original)
            if safe is None:
                unplaced.append({"path": name, "reason": "its original name is not a safe file name"})
            elif part := _junk_part(safe):
                junk.add(part)
            else:
                candidates.append((safe, name, name))
        picked = _pick(user, candidates, ignored)
        entries.append(Entry(user, root, "files", chosen, name=names.get(user, ""),
                             files=tuple((o, str(root / p)) for o, p in picked), notes=notes, junk=tuple(sorted(junk))))
    return Layout("blackboard", root, entries, layout_notes, ignored=ignored, unplaced=unplaced)


def _bb_assignment(attempts: dict[str, dict], receipts: dict[str, tuple]) -> tuple[str | None, bool]:
    """The assignment's part of Blackboard's ``<assignment>_<user>_attempt_<time>`` names, and whether it is a guess.

    Both parts may hold underscores (``HW_3``, ``s_lwang``).  A receipt names the user, so its file names give the
    assignment; without one, it is the underscore-separated words every attempt's name starts with (one student
    alone: unknown, None).
    """
    heads = {p: p[:p.rindex("_attempt_")] for p in attempts}
    for prefix, (user, _, _) in receipts.items():
        if user and heads[prefix].endswith("_" + user):
            return heads[prefix][:-len(user) - 1], False
    words = [h.split("_") for h in set(heads.values())]
    if len(words) < 2:
        return None, False
    common = 0
    while all(len(w) > common + 1 for w in words) and len({w[common] for w in words}) == 1:
        common += 1
    return ("_".join(words[0][:common]), True) if common else (None, False)


def _bb_time(stamp: str) -> str:
    """2024-03-01-10-00-00 -> 2024-03-01 10:00:00."""
    return f"{stamp[:10]} {stamp[11:].replace('-', ':')}"


def _mark_duplicates(entries: list[Entry]) -> list[Entry]:
    """Two different submissions under one id cannot be graded as one: both become error rows."""
    sources: dict[str, set] = {}
    for e in entries:
        sources.setdefault(e.student, set()).add((e.source, e.files))
    out, seen = [], set()
    for e in sorted(entries, key=lambda e: e.student):
        if e.student in seen:
            continue
        seen.add(e.student)
        if len(sources[e.student]) > 1:
            labels = sorted(x.label for x in entries if x.student == e.student)
            e = replace(e, problem=f"several submissions for this id ({', '.join(labels)}): keep one and regrade")
        out.append(e)
    return out


def describe_mapping(layout: Layout, config: Config | None = None, limits: ArchiveLimits | None = None
                     ) -> tuple[str, list[str]]:
    """The student <-> files mapping as text, for ``grade-all --dry-run``, and the students who cannot be graded
    (what the run would make error rows of, as far as it is known before any student code runs).

    Each student's files are listed as the download holds them (a file the LMS renamed as ``downloaded name ->
    original name``).  With ``config``, each submission is also looked into as grading would look (``prepare``,
    then ``locate``'s rule; no student code runs): the path in the submission graded as each expected file, the
    expected files missing, and the paths not graded (what summary.md's "Not graded" lists for that student).
    """
    lines = [f"layout: {layout.kind} ({layout.root}); {len(layout.entries)} students"
             + (f"; several attempts: the {layout.attempt} is graded" if layout.kind == "blackboard" else "")]
    if config is not None:
        lines.append("(per student: \"graded: PATH as FILE\" is the path in the submission graded as the expected "
                     "FILE, a bare name the file of that name at the top; \"not graded\": paths in the submission left "
                     "out, as summary.md's Not graded lists them)")
    ungradable = []
    for e in layout.entries:
        who = f"{e.student} ({e.name})" if e.name else e.student
        # A flat download renames each file; a folder download (Moodle's) keeps the student's paths as they are.
        what = ", ".join(f"{Path(path).name} -> {orig}" if Path(path).name != orig.rpartition("/")[2] else orig
                         for orig, path in e.files) if e.kind == "files" else f"{e.kind} {e.label}"
        lines.append(f"  {who}: {what or 'no files'}")
        lines += [f"      note: {n}" for n in e.notes]
        plan = [f"cannot be graded: {e.problem}"] if e.problem else _plan(e, config, limits) if config else []
        lines += [f"      {line}" for line in plan]
        if plan and plan[0].startswith("cannot be graded"):
            ungradable.append(e.student)
    for note in layout.notes:
        lines.append(f"note: {note}")
    if layout.ignored:
        lines.append(f"not graded ({len(layout.ignored)}):")
        lines += [f"  {i['path']}" + (f" [{i['student']}]" if i.get("student") else "") + f": {i['reason']}"
                  for i in layout.ignored]
    if layout.unplaced:
        lines.append(f"NOT PLACED to any student ({len(layout.unplaced)}):")
        lines += [f"  {u['path']}: {u['reason']}" for u in layout.unplaced]
    return "\n".join(lines), ungradable


def _plan(entry: Entry, config: Config, limits: ArchiveLimits | None) -> list[str]:
    """What grading takes from one submission (as the worker finds it: ``prepare``, then ``locate_work``)."""
    import tempfile

    from autograder.submissions.extract import discard

    with tempfile.TemporaryDirectory(prefix="autograder_dry_run_") as tmp:
        try:
            located = locate_work(prepare(entry, Path(tmp), config.files, limits), config, Path(tmp) / "located",
                                  limits)
        except SubmissionProblem as exc:
            return [f"cannot be graded: {exc}"]
        discard(located.folder)  # a notebook's extracted modules: only its name is said here
    if located.notebook is not None:
        lines = [f"graded: the notebook {located.notebook}"]
    else:
        graded = [rel if rel == name else f"{rel} as {name}" for name, rel in located.chosen.items()]
        lines = [f"graded: {', '.join(graded) or 'nothing'}"]
        missing = [name for name in config.files if name not in located.chosen]
        if missing:
            lines.append(f"missing: {', '.join(missing)}")
    if located.not_graded:
        lines.append(f"not graded: {shown_names(located.not_graded)}")
    return lines + [f"note: {n}" for n in located.attention]


# -- file names ----------------------------------------------------------------
def safe_names(students: list[str]) -> dict[str, str]:
    """A file name for each student id: unique, no path separators, no leading dot.

    Letters and digits of any script are kept (``chloé``, ``王小明``, in NFC); anything else but ``._@+-``
    becomes ``_``; at most 100 bytes of UTF-8.  Write such a name through ``text.disk_name`` (any locale).
    """
    names: dict[str, str] = {}
    used: set[str] = set()
    for student in sorted(students):
        kept = "".join(c if c.isalnum() or c in "._@+-" else "_" for c in unicodedata.normalize("NFC", student))
        name = kept.encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore") or "_"
        if name.startswith("."):
            name = "_" + name
        if name.lower() in used:
            name = f"{name}-{hashlib.sha1(name_bytes(student)).hexdigest()[:8]}"
        used.add(name.lower())
        names[student] = name
    return names


def stage_files(entry: Entry, dest: Path, limits: ArchiveLimits | None = None) -> None:
    """Copy a "files" entry into ``dest`` (an empty folder) under the original names, or SubmissionProblem.

    The LMS's renaming is undone here; a zip the student uploaded is opened by
    ``submissions.locate`` like any zip inside a submission.  Links and
    non-regular files are refused.
    """
    limits = limits or ArchiveLimits()
    root = dest.resolve()

    def target(name: str) -> Path:
        path = (root / disk_name(member_path(name).as_posix())).resolve()
        if root not in path.parents:
            raise SubmissionProblem(f"{name!r} points outside the submission folder")
        return path

    for original, source in entry.files:
        try:
            data = read_regular(Path(source), int(limits.max_file_mb * 2**20))
        except UnsafeFile as exc:
            raise SubmissionProblem(f"{original}: {exc}") from None
        with open_member_file(target(original), original, "the uploaded file") as out:
            out.write(data)
    # Junk the layout left behind is laid out empty (never copied: a .git/ may be large), where the submission held
    # it: ``locate`` then leaves it out and lists it, in the student's notes too, as in any submission folder.
    for name in entry.junk:
        path = target(name.rstrip("/"))
        if path.exists():
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir() if name.endswith("/") else path.touch()
        except OSError:  # a name that cannot be a file here: only listed, as junk is
            continue


def prepare(entry: Entry, workdir: Path, files: tuple[str, ...], limits: ArchiveLimits | None = None) -> Path:
    """The submission of one entry, for ``submissions.locate``: its folder, its zip unpacked into ``workdir``, or its
    loose files (flat LMS downloads) staged there under their original names.

    Raises SubmissionProblem for an entry that cannot be graded.
    """
    if entry.problem:
        raise SubmissionProblem(entry.problem)
    if entry.kind == "files":
        staged = workdir / "staged"
        staged.mkdir()
        stage_files(entry, staged, limits)
        return staged
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
    h = hashlib.sha256(name_bytes(f"{entry.kind}\0{entry.problem}\0"))
    if entry.junk:  # the student's notes list it: a record made without it is not current
        h.update(name_bytes("\0".join(("junk", *entry.junk))) + b"\0")
    if entry.kind == "files":
        paths = [(original, Path(path)) for original, path in entry.files]
    elif entry.kind == "zip" and entry.source.is_file():
        paths = [(entry.source.name, entry.source)]
    elif entry.source.is_dir():
        paths = []
        for dirpath, dirnames, filenames in walk(entry.source):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    paths.append((path.relative_to(entry.source).as_posix(), path))
    else:
        paths = []
    for rel, path in paths:
        h.update(name_bytes(rel) + b"\0")
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()
