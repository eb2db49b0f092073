"""Builds a class of real submissions, laid out as each input of grade-all expects.

The class mixes the reference, the templates, the correct variants, single-bug
mutants from the corpus (each with the functions it breaks), an empty folder
and a misnamed file.  Every layout holds the same students, so their grades
must agree whatever the layout.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import yaml
from conftest import FILES, ROOT, SOLUTIONS, TEMPLATES, VARIANTS, make_submission

CORPUS = yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())


def build_class(folder: Path) -> dict[str, dict]:
    """30 students: id -> {"path": their folder, "kind": ..., "breaks": functions a mutant breaks}."""
    students: dict[str, dict] = {}

    def add(student: str, kind: str, base: Path | None = None, edits=(), breaks=None) -> None:
        path = folder / student
        if base is None:
            path.mkdir(parents=True)
        else:
            make_submission(path, list(edits), base=base)
        students[student] = {"path": path, "kind": kind, "breaks": breaks}

    for i in range(3):
        add(f"ref{i}", "reference", SOLUTIONS)
        add(f"tpl{i}", "template", TEMPLATES)
    for variant in VARIANTS:
        add(f"var_{variant.name}", "variant", variant)
    for mutant in CORPUS[::2][:18]:
        add(f"mut_{mutant['name']}", "mutant", SOLUTIONS, mutant["edits"], set(mutant["breaks"]))
    add("empty", "empty")
    add("misnamed", "misnamed", SOLUTIONS)
    # A near miss, not a name a browser or an LMS makes (those are graded: see test_locate.py).
    (students["misnamed"]["path"] / "lstm_layers.py").rename(students["misnamed"]["path"] / "lstm_layer.py")
    assert len(students) == 30, len(students)
    return students


def as_folders(students: dict[str, dict], root: Path) -> Path:
    root.mkdir(parents=True)
    for student, info in students.items():
        shutil.copytree(info["path"], root / student)
    return root


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def as_zips(students: dict[str, dict], root: Path) -> Path:
    """One zip per student; every third student zipped their folder rather than its files."""
    root.mkdir(parents=True)
    for k, (student, info) in enumerate(students.items()):
        zip_folder(info["path"], root / f"{student}.zip", prefix=f"{student}/hw_rnn/" if k % 3 == 0 else "")
    return root


def gradescope_ids(students: dict[str, dict]) -> dict[str, str]:
    """Student folder name -> the SID it gets in the Gradescope export."""
    return {student: f"S{1000 + k}" for k, student in enumerate(students)}


def as_gradescope(students: dict[str, dict], root: Path) -> Path:
    """Gradescope's export: submission_metadata.yml beside one submission_<id>/ folder per submission."""
    root.mkdir(parents=True)
    ids = gradescope_ids(students)
    lines = []
    for k, (student, info) in enumerate(students.items()):
        folder = f"submission_{4000000 + k}"
        shutil.copytree(info["path"], root / folder)
        lines += [f"{folder}:", "  :submitters:", f"  - :name: Student {k}", f"    :sid: '{ids[student]}'",
                  f"    :email: {student}@example.edu",
                  "  :created_at: 2024-03-01 10:00:00.000000000 -08:00",
                  "  :score: !ruby/object:BigDecimal 18:0.0", "  :history: []"]
    (root / "submission_metadata.yml").write_text("\n".join(lines) + "\n")
    return root


def as_nbgrader(students: dict[str, dict], root: Path, assignment: str = "hw_rnn") -> Path:
    """nbgrader's course folder: submitted/<student>/<assignment>/ with a timestamp.txt."""
    for student, info in students.items():
        target = root / "submitted" / student / assignment
        shutil.copytree(info["path"], target)
        (target / "timestamp.txt").write_text("2024-03-01 10:00:00.000000 UTC\n")
    return root


# -- learning management systems' downloads ---------------------------------------------------------------
# Laid out as each system writes them (see layouts.py's docstring for the naming and its sources).
def lms_people(students: dict[str, dict]) -> dict[str, dict]:
    """Student folder name -> the ids and names an LMS gives them."""
    return {student: {"canvas_id": str(200100 + k), "canvas_name": re.sub(r"[^a-z]", "", student.lower()),
                      "moodle_id": str(5000 + k), "moodle_name": f"Étudiant {student.replace('_', ' ').title()}",
                      "user": f"s{31000 + k}.x", "full_name": f"Student {k} O'Neil"}
            for k, student in enumerate(students)}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def as_canvas(students: dict[str, dict], root: Path, zipped: tuple[str, ...] = (), late: tuple[str, ...] = (),
              reuploaded: dict[str, Path] | None = None, text: tuple[str, ...] = ()) -> Path:
    """Canvas's "Download Submissions": <name>[_LATE]_<user id>_<attachment id>_<original name>, one flat folder.

    ``zipped`` students uploaded one zip of their folder; for a ``reuploaded`` student an earlier upload
    (the given folder's files) keeps the plain names and the latest carries Canvas's ``-1``; ``text``
    students also typed an online text entry (``_text.html``).
    """
    root.mkdir(parents=True)
    people, attachment = lms_people(students), 900000
    for student, info in students.items():
        who = people[student]
        prefix = f"{who['canvas_name']}{'_LATE' if student in late else ''}_{who['canvas_id']}"
        uploads: list[tuple[str, bytes]] = []
        if student in zipped:
            archive = zip_folder(info["path"], root.parent / f"{student}_upload.zip", prefix="hw_rnn/")
            uploads.append(("my homework.zip", archive.read_bytes()))
            archive.unlink()
        else:
            if reuploaded and student in reuploaded:
                uploads += [(p.name, p.read_bytes()) for p in _files(reuploaded[student])]
                uploads += [(re.sub(r"\.py$", "-1.py", p.name), p.read_bytes()) for p in _files(info["path"])]
            else:
                uploads += [(p.relative_to(info["path"]).as_posix().replace("/", "_"), p.read_bytes())
                            for p in _files(info["path"])]
        for original, data in uploads:
            attachment += 1
            (root / f"{prefix}_{attachment}_{original}").write_bytes(data)
        if student in text:
            (root / f"{prefix}_text.html").write_text("<p>I also wrote some notes.</p>")
    return root


def as_moodle(students: dict[str, dict], root: Path, zipped: tuple[str, ...] = (), text: tuple[str, ...] = (),
              flat: bool = False) -> Path:
    """Moodle's "Download all submissions": <Full name>_<id>_assignsubmission_file/ (or flat names).

    ``zipped`` students uploaded one zip; ``text`` students also filled the online text
    (``..._assignsubmission_onlinetext/onlinetext.html``).
    """
    root.mkdir(parents=True)
    people = lms_people(students)
    for student, info in students.items():
        prefix = f"{people[student]['moodle_name']}_{people[student]['moodle_id']}_assignsubmission"
        if student in zipped:
            uploads = [("hw_rnn.zip", zip_folder(info["path"], root.parent / f"{student}_m.zip").read_bytes())]
        else:
            uploads = [(p.relative_to(info["path"]).as_posix(), p.read_bytes()) for p in _files(info["path"])]
        for original, data in uploads:
            target = root / f"{prefix}_file_{original}" if flat else root / f"{prefix}_file" / original
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if student in text:
            target = root / f"{prefix}_onlinetext_onlinetext.html" if flat else \
                root / f"{prefix}_onlinetext" / "onlinetext.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("<p>Notes about my homework</p>")
    return root


def blackboard_receipt(full_name: str, user: str, assignment: str, files: list[tuple[str, str]]) -> str:
    """The .txt Blackboard writes beside each attempt's files: who, when, and original -> downloaded names."""
    lines = [f"Name: {full_name} ({user})", f"Assignment: {assignment}",
             "Date Submitted: Friday, 1 March 2024 10:00:00 o'clock GMT", "Current Mark: Needs Marking", "",
             "Submission Field:", "There is no student submission text data for this assignment.", "",
             "Comments:", "There are no student comments for this assignment.", "", "Files:"]
    for original, name in files:
        lines += [f"\tOriginal filename: {original}", f"\tFilename: {name}"]
    return "\n".join(lines) + "\n"


def as_blackboard(students: dict[str, dict], root: Path, assignment: str = "HW_RNN 2024", zipped: tuple[str, ...] = (),
                  earlier: dict[str, Path] | None = None, no_receipt: tuple[str, ...] = ()) -> Path:
    """Blackboard's Grade Centre "Assignment File Download": <assignment>_<user>_attempt_<time>_<file> + receipts.

    ``earlier`` students made a first attempt (that folder's files) a day before their last;
    ``no_receipt`` students' receipts are missing (as when a download is cut short).
    """
    root.mkdir(parents=True)
    people = lms_people(students)
    for student, info in students.items():
        who = people[student]
        attempts = [(earlier[student], "2024-02-29-09-15-00")] if earlier and student in earlier else []
        attempts.append((info["path"], "2024-03-01-10-00-00"))
        for folder, stamp in attempts:
            prefix = f"{assignment}_{who['user']}_attempt_{stamp}"
            if student in zipped:
                uploads = [("hw.zip", zip_folder(folder, root.parent / f"{student}_b.zip").read_bytes())]
            else:
                uploads = [(p.relative_to(folder).as_posix().replace("/", "_"), p.read_bytes()) for p in _files(folder)]
            written = []
            for original, data in uploads:
                (root / f"{prefix}_{original}").write_bytes(data)
                written.append((original, f"{prefix}_{original}"))
            if student not in no_receipt:
                (root / f"{prefix}.txt").write_text(blackboard_receipt(who["full_name"], who["user"], assignment,
                                                                       written))
    return root


__all__ = ["FILES", "build_class", "as_folders", "as_zips", "as_gradescope", "as_nbgrader", "gradescope_ids",
           "zip_folder", "lms_people", "as_canvas", "as_moodle", "as_blackboard", "blackboard_receipt"]
