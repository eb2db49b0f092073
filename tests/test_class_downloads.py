"""A TA's class downloads through the real command line: looking students up by name, unknown ids, junk inside a
student's upload and what `grade-all --dry-run` says is graded (Canvas, Moodle, Blackboard, plain folders, zips)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from classroom import as_blackboard, as_canvas, as_folders, as_moodle, lms_people
from conftest import FILES, make_submission, run_cli

# Canvas's "lastfirst" names as its download writes them: lower case, no separator.
CANVAS = {"12345": "smithalice", "12346": "oneilmaryjane", "12347": "núñezzoë", "12348": "doejohn"}


def grade_all(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("grade-all", str(src), "--out", str(out), "--jobs", "2", "--no-progress", "--no-similarity", *extra)


@pytest.fixture(scope="module")
def canvas_class(tmp_path_factory) -> tuple[Path, Path]:
    """A graded Canvas download: <lastfirst>_<user id>_<attachment id>_<file>, one file each (the rest missing)."""
    base = tmp_path_factory.mktemp("canvas_names")
    src = base / "canvas"
    src.mkdir()
    sub = make_submission(base / "ref")
    for k, (user, name) in enumerate(CANVAS.items()):
        shutil.copyfile(sub / "rnn_layers.py", src / f"{name}_{user}_{900 + k}_rnn_layers.py")
    out = base / "out"
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    return src, out


@pytest.mark.parametrize("query, student", [
    ("Alice Smith", "12345"), ("alice SMITH", "12345"), ("Smith Alice", "12345"), ("Smith, Alice", "12345"),
    ("Mary-Jane O'Neil", "12346"), ("O'Neil Mary Jane", "12346"), ("Zoe Nunez", "12347"), ("Zoë Núñez", "12347"),
])
def test_a_canvas_student_is_found_by_their_name_in_any_order(canvas_class, query, student):
    """Canvas names a student "smithalice": a TA typing "Alice Smith" is pointed to the id, whatever the order of
    the words, the letter case, accents, hyphens or apostrophes."""
    _, out = canvas_class
    proc = run_cli("regrade", str(out), "--student", query)
    assert proc.returncode == 2 and f"did you mean {student} ({CANVAS[student]})?" in proc.stderr, proc.stderr
    assert proc.stderr.count("did you mean") == 1 and "," not in proc.stderr.split("did you mean")[1].split("?")[0]


def test_a_canvas_student_is_found_by_name_wherever_an_id_is_typed(canvas_class):
    _, out = canvas_class
    for command in (["override", str(out), "--student", "Alice Smith", "--penalty", "-1", "--reason", "late"],
                    ["comment", str(out), "--student", "Alice Smith", "--text", "see me"]):
        proc = run_cli(*command)
        assert proc.returncode == 2 and "did you mean 12345 (smithalice)?" in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", [["regrade"], ["override", "--penalty", "-1", "--reason", "late"],
                                     ["comment", "--text", "see me"]])
def test_an_unknown_student_is_one_line_naming_outdirs_students(canvas_class, command):
    """No id and no name like it: one line (exit 2) saying OUTDIR has no such student and which ids it holds."""
    _, out = canvas_class
    proc = run_cli(command[0], str(out), "--student", "Zed Quux", *command[1:])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"no graded student 'Zed Quux' in {out} (no id or name like it); it holds 4 students: 12345 (smithalice), " \
           "12346 (oneilmaryjane), 12347 (núñezzoë), 12348 (doejohn) (grades.csv's first column lists every id)" \
           in proc.stderr, proc.stderr


def test_regrade_of_a_student_whose_submission_left_the_class_folder(canvas_class):
    src, out = canvas_class
    upload = next(src.glob("doejohn_*"))
    aside = src.parent / upload.name
    upload.rename(aside)
    try:
        proc = run_cli("regrade", str(out), "--student", "12348")
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert f"no submission in {src} for '12348', graded earlier in {out}" in proc.stderr, proc.stderr
        proc = run_cli("regrade", str(out), "--student", "John Doe")  # still found by name: OUTDIR holds it
        assert proc.returncode == 2 and "did you mean 12348 (doejohn)?" in proc.stderr, proc.stderr
    finally:
        aside.rename(upload)


def test_many_students_are_listed_in_part():
    from autograder.classroom.gradebook import unknown_students

    names = {str(1000 + k): f"Student {k}" for k in range(12)}
    line = unknown_students(["zzz"], names, Path("out"))
    assert line.endswith("it holds 12 students: 1000 (Student 0), 1001 (Student 1), 1002 (Student 2), 1003 "
                         "(Student 3), 1004 (Student 4) and 7 more (grades.csv's first column lists every id)")
    assert "\n" not in line
    assert unknown_students(["zzz"], {}, Path("out")).endswith("it holds no graded student yet")


# -- junk inside one student's upload ---------------------------------------------------------------------------
def _with_junk(folder: Path, nested: bool) -> Path:
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    if nested:
        (folder / "__pycache__").mkdir()
        (folder / "__pycache__" / "rnn_layers.cpython-311.pyc").write_bytes(b"\0")
        (folder / "__MACOSX").mkdir()
        (folder / "__MACOSX" / "._rnn_layers.py").write_bytes(b"\0")
    return folder


def _zip(folder: Path, archive: Path) -> Path:
    """The student's zip, as the real zip program makes it (from inside the folder)."""
    zip_program = shutil.which("zip")
    if zip_program is None:
        pytest.skip("the zip program is not installed")
    subprocess.run([zip_program, "-q", "-r", str(archive), "."], cwd=folder, check=True)
    return archive


@pytest.mark.parametrize("kind", ["moodle", "moodle_flat", "canvas", "blackboard", "folders", "zips"])
def test_junk_in_a_students_upload_is_in_their_own_notes(tmp_path, kind):
    """A Mac's .DS_Store (and, where folders are kept, __pycache__/ and __MACOSX/) uploaded with the work: left out,
    and listed where the student reads it (results/<id>.json, feedback/<id>.md) and once in summary.md, as for a
    plain folder; never a file of no one's."""
    nested = kind in ("moodle", "folders", "zips")
    students = {"alice": {"path": _with_junk(make_submission(tmp_path / "src" / "alice"), nested)},
                "bob": {"path": make_submission(tmp_path / "src" / "bob")}}
    src = tmp_path / "class"
    if kind == "zips":
        src.mkdir()
        for student, info in students.items():
            _zip(info["path"], src / f"{student}.zip")
    else:
        build = {"moodle": as_moodle, "moodle_flat": lambda s, r: as_moodle(s, r, flat=True), "canvas": as_canvas,
                 "blackboard": as_blackboard, "folders": as_folders}[kind]
        build(students, src)
    people = lms_people(students)["alice"]
    alice = {"moodle": people["moodle_id"], "moodle_flat": people["moodle_id"], "canvas": people["canvas_id"],
             "blackboard": people["user"]}.get(kind, "alice")
    out = tmp_path / "out"
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # 3 would be files placed to no student
    junk = ["__MACOSX/", "__pycache__/", ".DS_Store"] if nested else [".DS_Store"]  # folders first, as found
    note = f"Left out, as files no one writes by hand: {', '.join(junk)}."
    result = json.loads((out / "results" / f"{alice}.json").read_text())
    assert note in result["output"], result["output"]
    assert note in (out / "feedback" / f"{alice}.md").read_text()
    bob = next(p for p in (out / "results").iterdir() if p.stem != alice)
    assert "no one writes by hand" not in json.loads(bob.read_text())["output"]
    summary = (out / "summary.md").read_text()
    rows = [line for line in summary.splitlines()  # the Not graded table's, and not a duplicate from the layout
            if line.startswith("| ") and any(j.strip("/") in line.split(" | ")[0] for j in junk)]
    assert sorted(rows) == sorted(f"| {j} | {alice} | in the submission, not graded (the student's notes say why) |"
                                  for j in junk), rows


# -- what --dry-run says is graded --------------------------------------------------------------------------------
def _nested(root: Path) -> dict[str, dict]:
    """alice keeps rnn_layers.py only in old/ (graded from there); bob has it at the top and an older copy in old/
    (left out)."""
    alice, bob = make_submission(root / "alice"), make_submission(root / "bob")
    (alice / "old").mkdir()
    (alice / "rnn_layers.py").rename(alice / "old" / "rnn_layers.py")
    (bob / "old").mkdir()
    shutil.copyfile(bob / "rnn_layers.py", bob / "old" / "rnn_layers.py")
    return {"alice": {"path": alice}, "bob": {"path": bob}}


@pytest.mark.parametrize("kind", ["moodle", "folders", "zips", "canvas_zip"])
def test_dry_run_says_which_path_is_graded_as_which_file(tmp_path, kind):
    """A file in a folder of the submission: the dry run names the path graded as each expected file and the paths
    left out, as the student's notes and summary.md say them after grading, and never as a rename."""
    students = _nested(tmp_path / "src")
    people = lms_people(students)
    src = tmp_path / "class"
    # Where each one's files lie in their submission: alice zipped her folder itself, so its name leads her paths;
    # on Canvas, the uploaded zip's name leads them (the zip is opened where it lies).
    alice, bob = {"moodle": ("", ""), "folders": ("", ""), "zips": ("alice/", ""),
                  "canvas_zip": ("homework.zip/alice/", "homework.zip/")}[kind]
    if kind in ("zips", "canvas_zip"):
        zips = tmp_path / "zips"
        zips.mkdir()
        shutil.move(str(students["alice"]["path"]), str(tmp_path / "src" / "hw" / "alice"))
        _zip(tmp_path / "src" / "hw", zips / "alice.zip")
        _zip(students["bob"]["path"], zips / "bob.zip")
        if kind == "zips":
            src = zips
        else:  # each uploaded their zip to Canvas
            src.mkdir()
            for k, student in enumerate(students):
                who = people[student]
                shutil.copyfile(zips / f"{student}.zip",
                                src / f"{who['canvas_name']}_{who['canvas_id']}_{700 + k}_homework.zip")
    else:
        {"moodle": as_moodle, "folders": as_folders}[kind](students, src)

    def graded(prefix: str, first: str) -> str:
        paths = {f: prefix + (first if f == "rnn_layers.py" else f) for f in FILES}
        return "graded: " + ", ".join(f if paths[f] == f else f"{paths[f]} as {f}" for f in FILES)

    out = tmp_path / "out"
    proc = grade_all(src, out, "--dry-run")
    assert proc.returncode == 0 and not out.exists(), proc.stderr
    shown = proc.stdout
    assert "-> old/rnn_layers.py" not in shown and "-> alice/" not in shown, shown
    assert f"      {graded(alice, 'old/rnn_layers.py')}\n" in shown, shown
    assert f"      {graded(bob, 'rnn_layers.py')}\n      not graded: {bob}old/rnn_layers.py\n" in shown, shown
    assert shown.count("not graded:") == 1
    # The same paths once graded: in the student's notes, and in summary.md's Not graded.
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    bob_id = {"moodle": people["bob"]["moodle_id"], "canvas_zip": people["bob"]["canvas_id"]}.get(kind, "bob")
    summary = (out / "summary.md").read_text()
    assert f"| {bob}old/rnn_layers.py | {bob_id} | in the submission, not graded" in summary, summary
    output = json.loads((out / "results" / f"{bob_id}.json").read_text())["output"]
    assert f"not graded: {bob}old/rnn_layers.py." in output, output


def test_help_says_which_config_each_command_uses_by_default():
    """A rerun keeps the config OUTDIR was graded with: grade-all's and regrade's help say so, grade's does not."""
    for command in ("grade-all", "regrade"):
        said = " ".join(run_cli(command, "--help").stdout.split())
        assert "the config file OUTDIR was last graded with, as it is now" in said, said
    assert "for a new OUTDIR, $AUTOGRADER_ASSIGNMENT" in " ".join(run_cli("grade-all", "--help").stdout.split())
    said = " ".join(run_cli("grade", "--help").stdout.split())
    assert "(default: $AUTOGRADER_ASSIGNMENT, else assignments/DEFAULT)" in said and "OUTDIR" not in said
