"""Builds a class of real submissions, laid out as each input of grade-all expects.

The class mixes the reference, the templates, the correct variants, single-bug
mutants from the corpus (each with the functions it breaks), an empty folder
and a misnamed file.  Every layout holds the same students, so their grades
must agree whatever the layout.
"""

from __future__ import annotations

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


__all__ = ["FILES", "build_class", "as_folders", "as_zips", "as_gradescope", "as_nbgrader", "gradescope_ids",
           "zip_folder"]
