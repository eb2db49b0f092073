"""Grading a whole class (grade-all) with the real grader, in every input layout.

One class of 30 real submissions (reference, templates, variants, mutants, an
empty folder, a misnamed file) is laid out as per-student folders, zips, a
Gradescope export and nbgrader's tree; each layout is graded with
``python -m autograder grade-all`` and must give the same grades, which must
agree with grading each submission on its own.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from classroom import (
    CORPUS,
    as_blackboard,
    as_canvas,
    as_folders,
    as_gradescope,
    as_moodle,
    as_nbgrader,
    as_zips,
    build_class,
    gradescope_ids,
    lms_people,
)
from conftest import (
    CONFIG,
    ROOT,
    SOLUTIONS,
    TEMPLATES,
    grade_cli,
    lost_functions,
    make_submission,
    run_cli,
    write_config,
)

FULL = sum(t["points"] for q in __import__("yaml").safe_load(CONFIG.read_text())["questions"] for t in q["tests"])

PNG = b"\x89PNG\r\n\x1a\n"


def grade_all(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("grade-all", str(src), "--out", str(out), "--jobs", "2", "--no-progress", *extra)


def read_grades(out: Path) -> tuple[list[str], dict[str, dict]]:
    with open(out / "grades.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, {row["student_id"]: row for row in reader}


def results(out: Path, student: str) -> dict:
    return json.loads((out / "results" / f"{student}.json").read_text())


def comparable(test: dict) -> dict:
    """A results.json test without the sandbox's random temporary folder (tracebacks name the student's file)."""
    keys = ("name", "score", "max_score", "status", "output", "visibility")
    return {k: re.sub(r'"/[^"]*/([^/"]+\.py)"', r'"\1"', test[k]) if k == "output" else test[k] for k in keys}


def scores_only(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("student_id", "name")}


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    return base, build_class(base / "sources")


@pytest.fixture(scope="module")
def folder_batch(klass):
    base, students = klass
    src = as_folders(students, base / "folders")
    out = base / "out_folders"
    proc = grade_all(src, out)
    return src, out, proc


# -- per-student folders ----------------------------------------------------------------
def test_folder_layout_grades_every_student(folder_batch, klass, config, validate_results):
    _, students = klass
    _, out, proc = folder_batch
    assert proc.returncode == 0, proc.stderr  # the empty folder is a graded zero, not an error
    header, rows = read_grades(out)
    assert header == ["student_id", *config.functions, "total", "max", "status", "note", "name"]
    assert set(rows) == set(students)
    for student, info in students.items():
        doc = results(out, student)
        validate_results(doc)
        row = rows[student]
        assert row["status"] == "graded"
        assert float(row["max"]) == config.max_score
        assert float(row["total"]) == doc["score"] == sum(t["score"] for t in doc["tests"])
        for function in config.functions:
            assert float(row[function]) == sum(t["score"] for t in doc["tests"] if t["name"].startswith(function + ":"))
        kind = info["kind"]
        if kind in ("reference", "variant"):
            assert doc["score"] == config.max_score, student
        elif kind in ("template", "empty"):
            assert doc["score"] == 0, student
        elif kind == "mutant":
            assert lost_functions(doc) == info["breaks"], student
    assert "missing from the submission" in rows["empty"]["note"]
    assert "rename it to 'lstm_layers.py'" in rows["misnamed"]["note"]
    assert all(float(rows["misnamed"][f]) > 0 for f in config.functions if not f.startswith("lstm") and f != "sigmoid")


def test_batch_agrees_with_grading_each_submission_alone(folder_batch, klass, tmp_path):
    _, students = klass
    _, out, _ = folder_batch
    _, rows = read_grades(out)
    mutants = [s for s, i in students.items() if i["kind"] == "mutant"]
    for student in ["ref0", "tpl1", "var_loops", "empty", "misnamed", *mutants[:4]]:
        _, alone = grade_cli(students[student]["path"], tmp_path)
        batch = results(out, student)
        assert batch["score"] == alone["score"]
        assert [comparable(t) for t in batch["tests"]] == [comparable(t) for t in alone["tests"]]
        assert float(rows[student]["total"]) == alone["score"]


def test_charts_are_png_and_linked(folder_batch):
    _, out, _ = folder_batch
    summary = (out / "summary.md").read_text()
    for name in ("score_histogram.png", "function_pass_rates.png"):
        assert (out / "charts" / name).read_bytes()[:8] == PNG
        assert f"(charts/{name})" in summary


def test_summary_counts_failures_per_test(folder_batch, klass, config):
    _, students = klass
    _, out, _ = folder_batch
    summary = (out / "summary.md").read_text()
    docs = [results(out, s) for s in students]
    for spec in config.tests:
        failed = sum(1 for d in docs for t in d["tests"] if t["name"] == spec.full_name and t["score"] < t["max_score"])
        line = next(ln for ln in summary.splitlines() if ln.startswith(f"| {spec.full_name} |"))
        assert line.split(" | ")[3].split(" ")[0] == str(failed), line
    # Templates fail the same way except for numbers: one group, counted together.
    line = next(ln for ln in summary.splitlines() if ln.startswith("| rnn_forward: matches the reference |"))
    assert "3× `rnn_forward is not implemented yet" in line
    for function in config.functions:
        full = sum(all(t["score"] == t["max_score"] for t in d["tests"] if t["name"].startswith(function + ":"))
                   for d in docs)
        assert f"| {function} | " in summary and f"| {full} | {100 * full / len(docs):.0f}% |" in summary


def test_normalise_groups_failures_that_differ_only_in_numbers():
    from autograder.classroom.clusters import normalise

    a = "case 1 of 2 (seed 21, N=2, T=4): s differs at [0, 3, 2]: got 0.1234, expected -1.5e-03\nHint: x"
    b = "case 2 of 2 (seed 22, N=3, T=6): s differs at [1, 0, 4]: got 7.0, expected 2.25e+01\nHint: y"
    assert normalise(a) == normalise(b)
    assert normalise('raised ValueError: bad (File "/tmp/hw_rnn_sub_x1/work/rnn_layers.py", line 12)') == \
        normalise('raised ValueError: bad (File "/tmp/hw_rnn_sub_q9/work/rnn_layers.py", line 40)')
    assert normalise("rnn_layers.py was not found") != normalise("lstm_layers.py was not found")


# -- feedback visibility ---------------------------------------------------------------------
def test_feedback_follows_the_visibility_rules(folder_batch, klass, config, tmp_path):
    _, students = klass
    _, out, _ = folder_batch
    hidden_names = {t.full_name for t in config.tests if t.hidden}
    assert config.hidden_visibility == "after_published"
    published = tmp_path / "published"
    shutil.copytree(out, published)
    proc = run_cli("feedback", str(published), "--published")
    assert proc.returncode == 0, proc.stderr
    for student in students:
        doc = results(out, student)
        before = (out / "feedback" / f"{student}.md").read_text()
        after = (published / "feedback" / f"{student}.md").read_text()
        for text in (before, after):
            assert "hidden case" not in text
            public_outputs = {t["output"] for t in doc["tests"] if t["name"] not in hidden_names}
            # A quiz function takes no input: that its call fails is said in a note (never what the answers are).
            call_failures = [n for n in text.splitlines() if n.startswith("Quiz: ") and "cannot be marked: " in n]
            for t in doc["tests"]:
                if t["name"] in hidden_names and t["output"] not in public_outputs:  # general reasons repeat
                    if any(t["output"] in n for n in call_failures):
                        assert "expected" not in t["output"], t["output"]
                        continue
                    assert t["output"] not in text, (student, t["name"])
                if t["name"] not in hidden_names and t["output"] != "passed":
                    assert t["output"] in text, (student, t["name"])  # public failures in full
        assert "(hidden test)" not in before
        assert "Score on the tests shown" in before and f"Score: {doc['score']:g} /" not in before
        assert after.count("(hidden test)") == len(hidden_names)
        assert f"**Score: {doc['score']:g} / {config.max_score:g}**" in after
        for name in hidden_names:
            assert name.split(": ", 1)[1] in after
    for seed in {c["seed"] for t in config.tests if t.hidden for c in t.cases}:
        assert f"seed {seed}" not in "".join(p.read_text() for p in (published / "feedback").glob("*.md"))


def test_feedback_never_shows_hidden_and_waits_for_the_due_date(folder_batch, config):
    from autograder.classroom import feedback

    _, out, _ = folder_batch
    record = json.loads(next((out / "raw").glob("mut_*.json")).read_text())
    doc = results(out, record["student"])
    n_hidden = sum(t["visibility"] != "visible" for t in doc["tests"])
    for visibility, published, due, shown in [("hidden", True, True, 0), ("after_due_date", False, False, 0),
                                              ("after_due_date", False, True, n_hidden),
                                              ("after_published", False, True, 0),
                                              ("after_published", True, False, n_hidden)]:
        changed = json.loads(json.dumps(doc))
        for t in changed["tests"]:
            if t["visibility"] != "visible":
                t["visibility"] = visibility
        text = feedback.render(record, changed, config, published=published, after_due_date=due)
        assert text.count("(hidden test)") == shown, (visibility, published, due)
        # The score line says when the tests withheld now will be shown: never a promise the rules do not keep.
        points = sum(t["max_score"] for t in changed["tests"] if t["visibility"] != "visible")
        when = {"hidden": "are never shown", "after_due_date": "are shown after the due date",
                "after_published": "are shown when grades are published"}[visibility]
        assert (f"{n_hidden} hidden tests ({points:g} points) count in the total and {when}." in text) == (
            not shown), text


# -- zips, Gradescope, nbgrader ------------------------------------------------------------------
def _bad_zips(root: Path) -> dict[str, str]:
    """Broken and hostile zips, with the reason each error row must give."""
    (root / "broken.zip").write_bytes(b"this is not a zip file at all")
    with zipfile.ZipFile(root / "escape.zip", "w") as zf:
        zf.write(SOLUTIONS / "rnn_layers.py", "rnn_layers.py")
        zf.writestr("../../escaped.py", "print('outside')")
    with zipfile.ZipFile(root / "link.zip", "w") as zf:
        info = zipfile.ZipInfo("rnn_layers.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rnn_layers.py", b"\0" * (4 << 20))
    return {"broken": "not a valid zip file", "escape": "points outside the submission folder",
            "link": "is a symbolic link", "bomb": "zip bomb"}


def test_zip_layout_matches_and_bad_zips_become_error_rows(folder_batch, klass, tmp_path):
    base, students = klass
    _, folder_out, _ = folder_batch
    src = as_zips(students, base / "zips")
    bad = _bad_zips(src)
    out = base / "out_zips"
    proc = grade_all(src, out)
    assert proc.returncode == 1, proc.stderr  # some submissions could not be graded
    assert "4 could not be graded" in proc.stderr
    _, rows = read_grades(out)
    _, expected = read_grades(folder_out)
    assert set(rows) == set(students) | set(bad)
    for student in students:
        assert scores_only(rows[student]) == scores_only(expected[student]), student
    for student, reason in bad.items():
        row = rows[student]
        assert row["status"] == "error" and reason in row["note"], row
        assert row["total"] == "" and row["rnn_forward"] == ""
        assert reason in (out / "feedback" / f"{student}.md").read_text()
        assert results(out, student)["tests"] == []
    summary = (out / "summary.md").read_text()
    assert "## Could not be graded" in summary and all(f"| {s} |" in summary for s in bad)


def test_a_bad_zip_inside_a_students_folder_is_an_error_row_unless_nothing_is_missing(tmp_path):
    """A class download that keeps each upload in the student's folder (Moodle, Canvas, folders): a damaged or
    unsafe zip there is the same problem as a bad zip given alone, not a graded 0, while expected files are
    missing; beside a complete set of files, it is a note on a graded row."""
    src = tmp_path / "class"
    (src / "staging").mkdir(parents=True)
    kinds = _bad_zips(src / "staging")
    for kind in kinds:
        (src / kind).mkdir(parents=True)
        (src / "staging" / f"{kind}.zip").rename(src / kind / "hw_rnn.zip")
    partial = make_submission(src / "partial")
    (partial / "lstm_layers.py").unlink()
    (partial / "hw_rnn.zip").write_bytes(b"PK\x03\x04 cut short")
    complete = make_submission(src / "complete")
    (complete / "old.zip").write_bytes(b"PK\x03\x04 cut short")
    (src / "staging").rmdir()
    out = tmp_path / "out"
    dry = grade_all(src, out, "--dry-run")  # before grading, the same: what cannot be graded, and why
    assert dry.returncode == 1 and "note: old.zip was not opened: old.zip is not a valid zip file" in dry.stdout
    assert "cannot be graded as they are: " in dry.stdout and "(grading would make error rows of them" in dry.stdout
    assert dry.stdout.count("cannot be graded: a zip in the submission could not be opened") == len(kinds) + 1
    proc = grade_all(src, out)
    assert proc.returncode == 1 and f"{len(kinds) + 1} could not be graded" in proc.stderr, proc.stderr
    _, rows = read_grades(out)
    for kind, reason in {**kinds, "partial": "not a valid zip file"}.items():
        row = rows[kind]
        assert row["status"] == "error" and row["total"] == "", row
        assert "could not be opened" in row["note"] and reason in row["note"], row["note"]
    assert "lstm_layers.py is not found elsewhere in it (found: " in rows["partial"]["note"]
    assert rows["complete"]["status"] == "graded" and rows["complete"]["total"] == rows["complete"]["max"]
    assert "old.zip was not opened: old.zip is not a valid zip file" in rows["complete"]["note"]


def test_gradescope_export(folder_batch, klass):
    base, students = klass
    _, folder_out, _ = folder_batch
    export = as_gradescope(students, base / "gradescope" / "assignment_123_export")
    # A group submission (two students, one folder) and a folder the metadata names but the export lacks.
    make_submission(export / "submission_4999999")
    with open(export / "submission_metadata.yml", "a") as f:
        f.write("submission_4999999:\n  :submitters:\n  - :name: A\n    :sid: 'G1'\n  - :name: B\n    :sid: 'G2'\n"
                "submission_4999998:\n  :submitters:\n  - :name: C\n    :sid: 'GONE'\n")
    out = base / "out_gradescope"
    proc = grade_all(base / "gradescope", out)  # the unzipped export keeps its top folder
    assert proc.returncode == 1, proc.stderr
    _, rows = read_grades(out)
    _, expected = read_grades(folder_out)
    ids = gradescope_ids(students)
    assert set(rows) == set(ids.values()) | {"G1", "G2", "GONE"}
    for student, sid in ids.items():
        assert scores_only(rows[sid]) == scores_only(expected[student]), student
    assert rows["G1"]["total"] == rows["G2"]["total"] == expected["ref0"]["total"]
    assert (rows["G1"]["name"], rows[ids["ref0"]]["name"]) == ("A", "Student 0")  # Gradescope's :name:
    assert rows["GONE"]["status"] == "error" and "missing from the export" in rows["GONE"]["note"]
    # One hand-in of a group: said on each member's row, and never a pair of the similarity report (the copies
    # of the reference among the others are).
    assert "a group submission (submission_4999999) with G2" in rows["G1"]["note"]
    assert "a group submission (submission_4999999) with G1" in rows["G2"]["note"]
    with open(out / "similarity" / "similarity.csv", newline="") as f:
        pairs = {frozenset((r["student_a"], r["student_b"])) for r in csv.DictReader(f)}
    assert frozenset(("G1", "G2")) not in pairs and frozenset(("G1", ids["ref0"])) in pairs
    # An override on one member is theirs alone, and the command says who else handed the submission in.
    proc = run_cli("override", str(out), "--student", "G1", "--test", "rnn_step_forward: matches the reference",
                   "--score", "1", "--reason", "partial")
    assert proc.returncode == 0, proc.stderr
    assert "note: G1 handed in one submission with G2 (a group); this change is G1's alone" in proc.stdout
    assert "--student G2" in proc.stdout
    alone = run_cli("override", str(out), "--student", ids["ref0"], "--test",
                    "rnn_step_forward: matches the reference", "--score", "1", "--reason", "partial")
    assert alone.returncode == 0 and "a group" not in alone.stdout, alone.stdout


def test_nbgrader_submitted_tree(folder_batch, klass):
    base, students = klass
    _, folder_out, _ = folder_batch
    course = as_nbgrader(students, base / "course")
    # Another assignment beside it is not graded: the config's assignment (hw_rnn) is chosen.
    shutil.copytree(TEMPLATES, course / "submitted" / "ref0" / "ps0")
    out = base / "out_nbgrader"
    proc = grade_all(course, out)
    assert proc.returncode == 0, proc.stderr
    _, rows = read_grades(out)
    _, expected = read_grades(folder_out)
    assert set(rows) == set(students)
    for student in students:
        assert scores_only(rows[student]) == scores_only(expected[student]), student
    assert json.loads((out / "batch.json").read_text())["layout"] == "nbgrader"


# -- learning management systems' downloads ----------------------------------------------------------------
@pytest.fixture(scope="module")
def lms_class(tmp_path_factory):
    """Five students: two references, the template and two single-bug mutants (scores known in advance)."""
    base = tmp_path_factory.mktemp("lms")
    students: dict[str, dict] = {}
    for name, kind, source in (("ref0", "reference", SOLUTIONS), ("ref1", "reference", SOLUTIONS),
                               ("tpl0", "template", TEMPLATES)):
        students[name] = {"path": make_submission(base / "src" / name, base=source), "kind": kind, "breaks": None}
    for mutant in (CORPUS[1], CORPUS[4]):
        students[f"mut_{mutant['name']}"] = {"path": make_submission(base / "src" / mutant["name"], mutant["edits"]),
                                             "kind": "mutant", "breaks": set(mutant["breaks"])}
    return base, students


def check_class(out: Path, students: dict[str, dict], ids: dict[str, str], config) -> dict[str, dict]:
    """Every student has exactly one row under their LMS id, scored as their kind says; the rows by id."""
    _, rows = read_grades(out)
    assert set(rows) == {ids[s] for s in students}, rows.keys()
    for student, info in students.items():
        doc, row = results(out, ids[student]), rows[ids[student]]
        assert row["status"] == "graded" and float(row["total"]) == doc["score"], (student, row)
        if info["kind"] == "reference":
            assert doc["score"] == config.max_score, student
        elif info["kind"] == "template":
            assert doc["score"] == 0, student
        else:
            assert lost_functions(doc) == info["breaks"], student
    return rows


def mapping_of(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())["mapping"]


def test_canvas_download_gives_every_student_a_row(lms_class, config):
    base, students = lms_class
    mutant = [s for s in students if s.startswith("mut_")][0]
    # ref1 uploaded a zip; the mutant first uploaded the template's files, then its own (Canvas adds "-1").
    src = as_canvas(students, base / "canvas", zipped=("ref1",), late=("ref0",),
                    reuploaded={mutant: students["tpl0"]["path"]}, text=("tpl0",))
    people = lms_people(students)
    ids = {s: people[s]["canvas_id"] for s in students}
    out = base / "out_canvas"
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(students)} of {len(students)} graded" in proc.stderr
    rows = check_class(out, students, ids, config)
    assert "late" in rows[ids["ref0"]]["note"].lower()
    assert all(rows[ids[s]]["name"] == people[s]["canvas_name"] for s in students)
    # Canvas's late flag, with no penalty or extension yet, is listed for the staff to decide; once decided, not.
    late = "## Late, with nothing decided yet"
    assert f"marks 1 submission late whose student has neither a penalty nor an extension: {ids['ref0']}." in \
        (out / "summary.md").read_text().split(late)[1]
    decided = run_cli("override", str(out), "--student", ids["ref0"], "--penalty=-10%", "--reason", "1 day late")
    assert decided.returncode == 0 and late not in (out / "summary.md").read_text(), decided.stderr
    assert run_cli("override", str(out), "--student", ids["ref0"], "--remove-penalty").returncode == 0
    rows = check_class(out, students, ids, config)
    mapping = mapping_of(out)
    assert mapping["layout"] == "canvas" and not mapping["unplaced"]
    ignored = {i["path"]: i["student"] for i in mapping["ignored"]}
    text = f"{people['tpl0']['canvas_name']}_{ids['tpl0']}_text.html"
    assert ignored[text] == ids["tpl0"] and sum(v == ids[mutant] for v in ignored.values()) == 5
    summary = (out / "summary.md").read_text()
    assert "### Not graded (6)" in summary and text in summary
    # The similarity report names the students as the download does, beside their ids.
    with open(out / "similarity" / "similarity.csv", newline="") as f:
        pairs = list(csv.DictReader(f))
    name_of = {ids[s]: people[s]["canvas_name"] for s in students}
    assert pairs and all((r["name_a"], r["name_b"]) == (name_of[r["student_a"]], name_of[r["student_b"]])
                         for r in pairs), pairs
    # A file that belongs to no one: the rerun keeps every row and id, lists the file and exits 3.
    (src / "gradebook_export.csv").write_text("id\n")
    proc = grade_all(src, out)
    assert proc.returncode == 3, proc.stderr
    assert read_grades(out)[1] == rows
    assert [u["path"] for u in mapping_of(out)["unplaced"]] == ["gradebook_export.csv"]
    assert "### Not placed to any student (1)" in (out / "summary.md").read_text()
    assert "gradebook_export.csv" in proc.stderr


@pytest.mark.parametrize("flat", [False, True])
def test_moodle_download_opens_zips_and_online_text_is_no_student(lms_class, config, flat):
    base, students = lms_class
    src = as_moodle(students, base / f"moodle_{flat}", zipped=("ref1",), text=("tpl0", "ref0"), flat=flat)
    (src / "Solo Text_6000_assignsubmission_onlinetext").mkdir()  # typed text only: nothing to grade
    (src / "Solo Text_6000_assignsubmission_onlinetext" / "onlinetext.html").write_text("<p>my answer</p>")
    people = lms_people(students)
    ids = {s: people[s]["moodle_id"] for s in students}
    out = base / f"out_moodle_{flat}"
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    rows = check_class(out, students, ids, config)  # no row for 6000, nor for the online text folders
    assert rows[ids["ref1"]]["total"] == f"{config.max_score:g}"  # the zip it uploaded was opened
    assert all(rows[ids[s]]["name"] == people[s]["moodle_name"] for s in students)
    totals = [float(r["total"]) for r in rows.values()]
    summary = (out / "summary.md").read_text()
    assert f"mean {statistics.mean(totals):.1f}" in summary and f"{len(students)} submissions" in summary
    ignored = {i["student"] for i in mapping_of(out)["ignored"]}
    assert ignored == {"6000", ids["tpl0"], ids["ref0"]} and "onlinetext" in summary
    # The participant with only online text has no row: said where the TA reads the run, not only in a table.
    said = "1 student of the download handed in nothing to grade and has no row in grades.csv"
    assert said in proc.stderr and said + ": 6000" in summary


def test_blackboard_attempts_are_one_row_and_loose_files_are_placed(lms_class, config):
    base, students = lms_class
    mutant, other = [s for s in students if s.startswith("mut_")]
    # ref0 first submitted the mutant's files, then the reference; `other` has no receipts at all.
    src = as_blackboard(students, base / "blackboard", zipped=("ref1",), earlier={"ref0": students[mutant]["path"]},
                        no_receipt=(other,))
    people = lms_people(students)
    ids = {s: people[s]["user"] for s in students}
    out = base / "out_blackboard"
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    rows = check_class(out, students, ids, config)
    note = rows[ids["ref0"]]["note"]
    assert "2 attempts" in note and "graded the latest (2024-03-01 10:00:00)" in note
    assert rows[ids["ref0"]]["name"] == people["ref0"]["full_name"] and rows[ids[other]]["name"] == ""
    summary = (out / "summary.md").read_text()
    assert "the latest is graded" in summary and "graded the latest" in summary
    # One receipt per attempt: ref0 made two, `other` has none.
    assert sum("receipt" in i["reason"] for i in mapping_of(out)["ignored"]) == len(students)
    # --attempt first grades ref0's first attempt: the mutant's scores, under the same id.
    first = base / "out_blackboard_first"
    proc = grade_all(src, first, "--attempt", "first")
    assert proc.returncode == 0, proc.stderr
    _, again = read_grades(first)
    assert set(again) == set(rows) and "graded the first" in again[ids["ref0"]]["note"]
    assert lost_functions(results(first, ids["ref0"])) == students[mutant]["breaks"]
    # The plain command again keeps the choice the folder was graded with, and says so.
    proc = grade_all(src, first)
    assert proc.returncode == 0 and "grading the first attempt, as" in proc.stderr, proc.stderr
    assert "already graded" in proc.stderr and json.loads((first / "batch.json").read_text())["attempt"] == "first"


def test_dry_run_prints_the_mapping_and_writes_nothing(lms_class):
    base, students = lms_class
    src = as_blackboard(students, base / "blackboard_dry", earlier={"ref0": students["tpl0"]["path"]})
    (src / "stray.py").write_text("x = 1\n")
    out = base / "out_dry"
    proc = grade_all(src, out, "--dry-run")
    assert proc.returncode == 3, proc.stderr  # stray.py belongs to no one
    assert not out.exists()
    people = lms_people(students)
    for student in students:
        assert f"  {people[student]['user']} ({people[student]['full_name']}): " in proc.stdout
    assert "HW_RNN 2024_s31000.x_attempt_2024-03-01-10-00-00_rnn_layers.py -> rnn_layers.py" in proc.stdout
    assert "graded the latest" in proc.stdout and "NOT PLACED to any student (1):\n  stray.py" in proc.stdout
    (src / "stray.py").unlink()
    proc = grade_all(src, out, "--dry-run", "--layout", "blackboard")
    assert proc.returncode == 0 and not out.exists()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="nbgrader 0.9.6 needs Python 3.11 or newer")
def test_a_course_collected_by_nbgrader(tmp_path, config):
    """Students submit through nbgrader's exchange and `nbgrader collect` writes submitted/ (latest per student)."""
    from autograder.integrations.notebooks import dumps, fill, notebook_name
    from integrations import tools

    course, exchange = tmp_path / "course", tmp_path / "exchange"
    exchange.mkdir()
    released = tools.nbgrader_course(course, config)
    options = [f"--Exchange.root={exchange}", f"--Exchange.cache={tmp_path / 'cache'}"]
    tools.run(["nbgrader", "release_assignment", config.assignment, *options], cwd=course)
    mutant = CORPUS[1]
    buggy = make_submission(tmp_path / "buggy", mutant["edits"])
    # alice submits the template, then the reference: collect keeps her latest.
    for student, folder in (("alice", TEMPLATES), ("alice", SOLUTIONS), ("bob", buggy), ("carol", TEMPLATES)):
        home = tmp_path / f"home_{student}"
        shutil.rmtree(home, ignore_errors=True)
        tools.copy_tree(released.parent, home / config.assignment)
        (home / config.assignment / notebook_name(config)).write_text(dumps(fill(released, folder, config.files)))
        tools.run(["nbgrader", "submit", config.assignment, "--course", config.assignment, f"--student={student}",
                   *options], cwd=home)
    tools.run(["nbgrader", "collect", config.assignment, *options], cwd=course)
    assert (course / "submitted" / "alice" / config.assignment / "timestamp.txt").is_file()
    out = tmp_path / "out"
    proc = grade_all(course, out)
    assert proc.returncode == 0, proc.stderr
    _, rows = read_grades(out)
    assert set(rows) == {"alice", "bob", "carol"}
    # Graded as the notebook, not as the released autograder package nbgrader copies beside it.
    assert float(rows["alice"]["total"]) == config.max_score and float(rows["carol"]["total"]) == 0
    assert lost_functions(results(out, "bob")) == set(mutant["breaks"])
    assert mapping_of(out)["layout"] == "nbgrader"


# -- interruptions ----------------------------------------------------------------------------
def _start(src: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade-all", str(src), "--out", str(out),
                             "--jobs", "2", "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_records(out: Path, count: int, proc: subprocess.Popen, limit: float = 900) -> int:
    """Wait until ``count`` records are on disk (the limit is a safety net for a stuck batch, not a timing)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done = len(list((out / "raw").glob("*.json"))) if (out / "raw").exists() else 0
        if done >= count:
            return done
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} records after {limit} s")


def test_interrupted_batch_resumes_without_losing_or_redoing_work(folder_batch, klass):
    base, students = klass
    src, folder_out, _ = folder_batch
    out = base / "out_interrupted"
    proc = _start(src, out)
    _wait_for_records(out, 4, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again" in stderr
    first = len(list((out / "raw").glob("*.json")))
    assert 4 <= first < len(students)
    _, rows = read_grades(out)  # written for what was done, the rest marked pending
    assert sum(r["status"] != "pending" for r in rows.values()) == first and len(rows) == len(students)
    summary = (out / "summary.md").read_text()
    assert summary.startswith("**INCOMPLETE")
    assert f"{first} submissions: " in summary and f"; {len(students) - first} more not graded yet" in summary

    proc = _start(src, out)
    _wait_for_records(out, first + 3, proc)
    proc.kill()  # no chance to clean up
    proc.communicate(timeout=900)
    for path in (out / "raw").glob("*.json"):
        json.loads(path.read_text())  # every record on disk is whole
    second = len(list((out / "raw").glob("*.json")))

    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    skipped = int(proc.stderr.split(" of 30 students already graded")[0].split()[-1])
    assert skipped >= second
    assert f"this run: {30 - skipped} submissions" in proc.stderr
    assert (out / "grades.csv").read_text() == (folder_out / "grades.csv").read_text()
    assert not [p for d in ("raw", "results", "feedback") for p in (out / d).iterdir() if p.name.startswith(".")]


# -- overrides and regrades -----------------------------------------------------------------------
def test_override_shows_everywhere_and_survives_regrades(tmp_path):
    src = tmp_path / "class"
    make_submission(src / "good")
    make_submission(src / "blank", base=TEMPLATES)
    out = tmp_path / "out"
    assert grade_all(src, out).returncode == 0
    test = "rnn_step_forward: matches the reference"
    proc = run_cli("override", str(out), "--student", "blank", "--test", test, "--score", "1.5",
                   "--reason", "right idea, accepted by hand")
    assert proc.returncode == 0, proc.stderr

    def check(expected_total: float) -> None:
        _, rows = read_grades(out)
        assert float(rows["blank"]["total"]) == expected_total
        assert float(rows["blank"]["rnn_step_forward"]) == expected_total
        doc = results(out, "blank")
        entry = next(t for t in doc["tests"] if t["name"] == test)
        assert doc["score"] == expected_total and entry["score"] == expected_total
        assert "right idea, accepted by hand" in entry["output"]
        assert "right idea, accepted by hand" in (out / "feedback" / "blank.md").read_text()
        assert doc["extra_data"]["overrides"][0]["to"] == 1.5
        raw = json.loads((out / "raw" / "blank.json").read_text())
        assert raw["results"]["score"] == 0  # the grader's own record is never edited

    check(1.5)
    proc = run_cli("regrade", str(out), "--student", "blank", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "this run: 1 submission in" in proc.stderr
    check(1.5)
    assert grade_all(src, out, "--regrade").returncode == 0
    check(1.5)
    assert "| blank | rnn_step_forward: matches the reference | 0 | 1.5 |" in (out / "summary.md").read_text()

    bad = run_cli("override", str(out), "--student", "blank", "--test", test, "--score", "7", "--reason", "x")
    assert bad.returncode == 2 and "outside 0..2" in bad.stderr
    bad = run_cli("override", str(out), "--student", "blank", "--test", "matches the reference", "--score", "1",
                  "--reason", "x")
    assert bad.returncode == 2 and "matches" in bad.stderr and "tests" in bad.stderr
    bad = run_cli("override", str(out), "--student", "nobody", "--test", test, "--score", "1", "--reason", "x")
    assert bad.returncode == 2 and "no graded student 'nobody'" in bad.stderr
    bad = run_cli("regrade", str(out), "--student", "blnk")
    assert bad.returncode == 2 and "did you mean blank" in bad.stderr

    assert run_cli("override", str(out), "--student", "blank", "--test", test, "--remove").returncode == 0
    _, rows = read_grades(out)
    assert float(rows["blank"]["total"]) == 0 and results(out, "blank")["score"] == 0


def test_changed_submission_is_graded_again_on_rerun(tmp_path):
    src = tmp_path / "class"
    make_submission(src / "a")
    make_submission(src / "b", base=TEMPLATES)
    out = tmp_path / "out"
    assert grade_all(src, out).returncode == 0
    make_submission(src / "b")  # the student's fixed files replace the templates
    proc = grade_all(src, out)
    assert "1 of 2 students already graded" in proc.stderr and "this run: 1 submission in" in proc.stderr
    _, rows = read_grades(out)
    assert rows["b"]["total"] == rows["a"]["total"] == f"{FULL:g}"



def test_changed_config_grades_everyone_again_on_rerun(tmp_path):
    src = tmp_path / "class"
    make_submission(src / "a")
    make_submission(src / "b", base=TEMPLATES)
    out = tmp_path / "out"
    config = write_config(tmp_path)
    assert grade_all(src, out, "--config", str(config)).returncode == 0
    assert "2 of 2 students already graded" in grade_all(src, out, "--config", str(config)).stderr
    write_config(tmp_path, title="Recurrent networks, corrected")  # the same path, new content
    proc = grade_all(src, out, "--config", str(config))
    assert proc.returncode == 0 and "already graded" not in proc.stderr and "this run: 2 submissions" in proc.stderr


def test_a_rerun_without_config_keeps_the_config_the_class_was_graded_with(tmp_path):
    """Graded (or regraded) with --config, then the plain command again: the same config, said, nothing undone."""
    src = tmp_path / "class"
    make_submission(src / "a")
    make_submission(src / "b", base=TEMPLATES)
    out = tmp_path / "out"
    config = write_config(tmp_path, title="Recurrent networks, corrected")
    assert grade_all(src, out, "--config", str(config)).returncode == 0
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    assert f"grading with the config {out} was graded with, {config}" in proc.stderr
    assert "2 of 2 students already graded" in proc.stderr
    assert json.loads((out / "batch.json").read_text())["config"] == str(config.resolve())
    assert f"Graded with the config {config}" in (out / "summary.md").read_text()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (but OUTDIR's lock file) by its relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def test_a_rerun_whose_config_is_gone_is_refused_in_one_line(tmp_path):
    """The config OUTDIR was graded with is deleted: a rerun or a regrade without --config refuses (it never
    falls back on the default assignment's), in one line naming the config, and writes nothing."""
    src = tmp_path / "class"
    make_submission(src / "a")
    make_submission(src / "b", base=TEMPLATES)
    out = tmp_path / "out"
    (tmp_path / "cfg").mkdir()
    config = write_config(tmp_path / "cfg", title="Recurrent networks, corrected")
    assert grade_all(src, out, "--config", str(config)).returncode == 0
    config.unlink()
    before = snapshot(out)
    for proc in (grade_all(src, out), grade_all(src, out, "--regrade"),
                 run_cli("regrade", str(out), "--all", "--no-progress"),
                 run_cli("regrade", str(out), "--dry-run"),
                 run_cli("feedback", str(out), "--published")):
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "is gone" in lines[0] and str(config) in lines[0], proc.stderr
        assert "--config" in lines[0] or "put it back" in lines[0]
    assert snapshot(out) == before
    # Choosing a config goes on, saying which.
    proc = grade_all(src, out, "--config", str(CONFIG))
    assert proc.returncode == 0 and f"was graded with {config}" in proc.stderr, proc.stderr


def test_a_rerun_says_when_the_configs_content_changed(tmp_path):
    """The same config file, edited (its YAML, then its homework module): the rerun says so, names the file, grades
    everyone again with the current content, and summary.md says it too; an unchanged rerun says nothing."""
    src = tmp_path / "class"
    make_submission(src / "a")
    make_submission(src / "b", base=TEMPLATES)
    out = tmp_path / "out"
    folder = tmp_path / "cfg"
    folder.mkdir()
    shutil.copyfile(CONFIG.parent / "homework.py", folder / "homework.py")
    config = write_config(folder, homework=str(folder / "homework.py"))
    assert grade_all(src, out, "--config", str(config)).returncode == 0
    proc = grade_all(src, out)
    assert "2 of 2 students already graded" in proc.stderr and "changed since" not in proc.stderr, proc.stderr
    summary = (out / "summary.md").read_text()
    assert "content changed" not in summary

    write_config(folder, homework=str(folder / "homework.py"), title="Recurrent networks, corrected")
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    assert f"the config {config} changed since {out} was graded with it ({config} edited)" in proc.stderr
    assert "this run: 2 submissions" in proc.stderr
    summary = (out / "summary.md").read_text()
    assert "The config's content changed after this class was graded with it" in summary and str(config) in summary
    assert "Every student is graded with the current content." in summary

    # A homework module's edit changes what is graded: said, and everyone is graded again (not skipped).
    with open(folder / "homework.py", "a") as f:
        f.write("\n# tolerance note for the TAs\n")
    proc = run_cli("regrade", str(out), "--student", "a", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"({folder / 'homework.py'} edited)" in proc.stderr and "students not named keep" in proc.stderr
    assert "1 student still holds grades made with other content (b)" in (out / "summary.md").read_text()
    proc = grade_all(src, out)
    assert "1 of 2 students already graded" in proc.stderr and "this run: 1 submission" in proc.stderr
    assert "Every student is graded with the current content." in (out / "summary.md").read_text()

    # A batch.json written before the content was recorded: the rerun works and claims no change.
    manifest = json.loads((out / "batch.json").read_text())
    manifest.pop("content")
    manifest.pop("content_changed")
    (out / "batch.json").write_text(json.dumps(manifest))
    proc = grade_all(src, out)
    assert proc.returncode == 0 and "2 of 2 students already graded" in proc.stderr, proc.stderr
    assert "changed since" not in proc.stderr and "earlier version" not in proc.stderr
    assert "content" in json.loads((out / "batch.json").read_text())


def test_a_config_missing_a_file_is_refused_up_front_in_one_line(tmp_path):
    """A config whose homework module or reference file is missing is refused before anything is graded or written
    (first run and rerun), in one line naming the file: not by workers that die while starting, after OUTDIR is
    made."""
    src = tmp_path / "class"
    make_submission(src / "a")
    folder = tmp_path / "cfg"
    folder.mkdir()
    shutil.copyfile(CONFIG.parent / "homework.py", folder / "homework.py")
    reference = tmp_path / "reference"
    shutil.copytree(SOLUTIONS, reference)
    config = write_config(folder, homework=str(folder / "homework.py"), reference=str(reference))
    (reference / "lstm_layers.py").unlink()
    proc = grade_all(src, tmp_path / "new", "--config", str(config))
    assert proc.returncode == 2 and not (tmp_path / "new").exists(), proc.stderr
    missing = reference / "lstm_layers.py"
    assert proc.stderr.strip().splitlines() == [
        f"error: {config}: the reference solution file {missing} does not exist: nothing was graded; give its path "
        "with reference: in the config (relative to its folder)"]
    shutil.copyfile(SOLUTIONS / "lstm_layers.py", reference / "lstm_layers.py")
    out = tmp_path / "out"
    assert grade_all(src, out, "--config", str(config)).returncode == 0
    before = snapshot(out)
    (folder / "homework.py").unlink()
    for proc in (grade_all(src, out), run_cli("regrade", str(out), "--all", "--no-progress"),
                 run_cli("regrade", str(out), "--dry-run")):
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"the homework module {folder / 'homework.py'} does not exist" in lines[0], lines
        assert lines[0].endswith("give its path with homework: in the config (relative to its folder; when not "
                                 "given, homework: homework.py beside it)"), lines
    assert snapshot(out) == before


def test_an_unknown_option_names_the_closest_one(tmp_path):
    """Every subcommand: an option it does not know is one line naming the closest it knows, exit 2 (before
    argparse would say only "unrecognized arguments", or that --out is missing)."""
    cases = [(("grade-all", str(tmp_path), "--output", "x"), "--output", "--out"),
             (("grade-all", str(tmp_path), "--out", str(tmp_path / "o"), "--jbos", "2"), "--jbos", "--jobs"),
             (("regrade", str(tmp_path), "--studnet", "ann"), "--studnet", "--student"),
             (("override", str(tmp_path), "--student", "ann", "--penalty", "-15", "--reasn", "late"), "--reasn",
              "--reason"),
             (("override", str(tmp_path), "--student", "ann", "--reason", "--late", "--penalty=-1", "--dry-run"),
              "--dry-run", None),
             (("feedback", str(tmp_path), "--publish", "--after-due"), None, None),
             (("feedback", str(tmp_path), "--unpublish", "--befor-due-date"), "--befor-due-date",
              "--before-due-date"),
             (("comment", str(tmp_path), "--clster", "C1"), "--clster", "--cluster"),
             (("similarity", str(tmp_path), "--treshold", "0.5"), "--treshold", "--threshold"),
             (("grade", str(SOLUTIONS), "--resluts", str(tmp_path / "r.json")), "--resluts", "--results"),
             (("check", str(SOLUTIONS), "--asignment", "hw_rnn"), "--asignment", "--assignment")]
    for args, unknown, close in cases:
        proc = run_cli(*args)
        lines = proc.stderr.strip().splitlines()
        if unknown is None:  # abbreviations of known options are not unknown: argparse's own checks go on
            assert "unknown option" not in proc.stderr, (args, proc.stderr)
            continue
        assert proc.returncode == 2 and len(lines) == 1, (args, proc.stderr)
        assert f"{args[0]}: error: unknown option {unknown}" in lines[0], (args, lines)
        assert (f"did you mean {close}?" in lines[0]) if close else "--help lists the options" in lines[0], lines
    assert not (tmp_path / "o").exists() and not (tmp_path / "r.json").exists()


def test_a_file_where_a_folder_belongs_is_one_line_and_exit_2(tmp_path):
    src = tmp_path / "class"
    make_submission(src / "a")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for args in ((src, afile), (src / "a" / "rnn_layers.py", tmp_path / "out")):
        proc = grade_all(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "is a file" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="student code runs under its own uid only as root")
def test_a_config_student_code_could_read_is_refused_once_up_front(tmp_path):
    """As root, a config that other users can read would let student code read the hidden tests: grade-all and
    regrade refuse it once, before any student is graded, and OUTDIR keeps its grades."""
    src = tmp_path / "class"
    make_submission(src / "a")
    make_submission(src / "b", base=TEMPLATES)
    out = tmp_path / "out"
    assert grade_all(src, out).returncode == 0
    before = (out / "grades.csv").read_text()
    shared = Path(tempfile.mkdtemp(prefix="hw_rnn_shared_cfg_", dir="/tmp"))
    try:
        os.chmod(shared, 0o755)
        config = write_config(shared)
        os.chmod(config, 0o644)
        for proc in (grade_all(src, tmp_path / "out2", "--config", str(config)),
                     run_cli("regrade", str(out), "--all", "--config", str(config)),
                     run_cli("regrade", str(out), "--dry-run", "--config", str(config))):
            assert proc.returncode == 2, proc.stderr
            assert "readable by student code" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "out2").exists() and (out / "grades.csv").read_text() == before
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# -- a grader that breaks --------------------------------------------------------------------------
def test_grader_crash_raise_and_hang_become_error_rows(tmp_path, monkeypatch):
    from autograder.classroom.batch import Options
    from autograder.classroom.batch import grade_all as api_grade_all

    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests"))
    # Where the batch's temporary folders go: reachable by the student's uid in the root mode, as /tmp is.
    scratch = Path(tempfile.mkdtemp(prefix="hw_rnn_scratch_", dir="/tmp"))
    os.chmod(scratch, 0o711)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    src = tmp_path / "class"
    for name in ("ok1", "crash", "ok2", "raise", "hang", "ok3"):
        make_submission(src / name)
    (src / "crash" / "CRASH_GRADER.py").touch()
    (src / "raise" / "RAISE_GRADER.py").touch()
    (src / "hang" / "HANG_GRADER.py").touch()
    out = tmp_path / "out"
    outcome = api_grade_all(src, out, ROOT / "assignments" / "hw_rnn" / "assignment.yaml",
                            Options(jobs=2, timeout=6, quiet=True, grade_fn="batch_faults:grade"))
    assert (outcome.graded, outcome.errors, outcome.exit_code) == (3, 3, 1)
    _, rows = read_grades(out)
    assert [rows[s]["total"] for s in ("ok1", "ok2", "ok3")] == [f"{FULL:g}"] * 3
    assert "SIGKILL" in rows["crash"]["note"]
    assert "RuntimeError: planted grader bug" in rows["raise"]["note"]
    assert "longer than 6 s" in rows["hang"]["note"]
    assert all(rows[s]["status"] == "error" and rows[s]["total"] == "" for s in ("crash", "raise", "hang"))
    assert "grader itself failed" in (out / "feedback" / "raise.md").read_text()
    assert "planted grader bug" in "".join(p.read_text() for p in (out / "logs").glob("*.log"))
    assert list(scratch.iterdir()) == []  # even the killed worker's sandbox folder is gone


# -- bad input --------------------------------------------------------------------------------------
def test_inputs_grade_all_cannot_use_exit_2(folder_batch, tmp_path):
    _, out, _ = folder_batch
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ((str(tmp_path / "nope"), "--out", str(tmp_path / "o1")), "does not exist"),
        ((str(SOLUTIONS), "--out", str(tmp_path / "o2")), "looks like one submission"),
        ((str(empty), "--out", str(tmp_path / "o3")), "no submissions found"),
        ((str(empty), "--out", str(tmp_path / "o6"), "--timeout", "0"), "a number of seconds, more than 0"),
        ((str(empty), "--out", str(tmp_path / "o5"), "--jobs", "two"), "a whole number of worker processes"),
        ((str(SOLUTIONS.parent), "--out", str(out), "--assignment", "hw_seq2seq"), "holds the grades of"),
    ]
    archive = tmp_path / "class.zip"
    archive.write_bytes(b"PK")
    cases.append(((str(archive), "--out", str(tmp_path / "o4")), "unzip it first"))
    for args, message in cases:
        proc = run_cli("grade-all", *args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
    assert not (tmp_path / "o1").exists()


def test_workers_that_cannot_start_stop_the_batch_with_a_reason(tmp_path):
    from autograder.classroom.batch import BatchError, Options
    from autograder.classroom.batch import grade_all as api_grade_all

    make_submission(tmp_path / "class" / "a")
    with pytest.raises(BatchError, match="stop while starting(.|\n)*No module named 'no_such_module'"):
        api_grade_all(tmp_path / "class", tmp_path / "out", ROOT / "assignments" / "hw_rnn" / "assignment.yaml",
                      Options(jobs=1, quiet=True, grade_fn="no_such_module:grade"))


@pytest.mark.parametrize("build, layout", [(as_canvas, None), (as_folders, "folders")])
def test_a_loose_homework_file_grades_the_class_and_exits_3(tmp_path, build, layout):
    students = {n: {"path": make_submission(tmp_path / "src" / n)} for n in ("ann", "bo")}
    folder = build(students, tmp_path / "class")
    (folder / "quiz.py").write_text("def answers():\n    return {}\n")
    out = tmp_path / "out"
    proc = run_cli("grade-all", str(folder), "--out", str(out), "--no-progress",
                   *(("--layout", layout) if layout else ()))
    assert proc.returncode == 3, proc.stderr
    rows = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8")))
    assert len(rows) == 2 and all(r["status"] == "graded" and r["total"] == r["max"] for r in rows)
    assert json.loads((out / "batch.json").read_text())["mapping"]["unplaced"][0]["path"] == "quiz.py"
    assert "quiz.py" in (out / "summary.md").read_text()


def test_a_new_download_of_the_same_class_keeps_its_rows(tmp_path):
    students = {n: {"path": make_submission(tmp_path / "src" / n)} for n in ("ann", "bo", "cy")}
    first = as_canvas(students, tmp_path / "download1")
    out = tmp_path / "out"
    proc = run_cli("grade-all", str(first), "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    before = read_grades(out)[1]
    # The same class downloaded again, unzipped elsewhere, with one student's resubmission.
    second = tmp_path / "later" / "download2"
    shutil.copytree(first, second)
    bo = next(p for p in second.iterdir() if "_rnn_layers.py" in p.name and lms_people(students)["bo"]["canvas_id"]
              in p.name)
    bo.write_text(bo.read_text().replace("def rnn_step_forward(x_t, s_prev, U, W, b):",
                                         "def rnn_step_forward(x_t, s_prev, U, W, b):\n    raise ValueError('oops')"))
    proc = run_cli("grade-all", str(second), "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "class folder changed" in proc.stderr and "2 already graded before" in proc.stderr
    after = read_grades(out)[1]
    assert set(after) == set(before)
    bo_id = lms_people(students)["bo"]["canvas_id"]
    assert float(after[bo_id]["total"]) < float(before[bo_id]["total"])
    assert json.loads((out / "batch.json").read_text())["submissions"] == str(second.resolve())
    # Another layout or another assignment in the same OUTDIR: refused, nothing written.
    moodle = as_moodle(students, tmp_path / "moodle")
    for args in ((str(moodle),), (str(second), "--assignment", "hw_seq2seq")):
        proc = run_cli("grade-all", *args, "--out", str(out), "--no-progress")
        assert proc.returncode == 2 and "holds the grades of" in proc.stderr, proc.stderr
    assert read_grades(out)[1] == after


def test_problems_past_the_listed_rows_name_their_students(tmp_path, monkeypatch):
    """The row that counts the notes past the listed ones names their students too, not an empty cell."""
    from autograder.classroom import analysis
    from autograder.config import load_config

    monkeypatch.setattr(analysis, "PROBLEM_ROWS", 2)
    config = load_config(ROOT / "assignments" / "hw_rnn" / "assignment.yaml")
    notes = {"ann": ["note a", "note b"], "bo": ["note a", "note c"], "cy": ["note d"]}
    records = {s: {"student": s, "status": "graded", "notes": n, "results": {"tests": []}} for s, n in notes.items()}
    docs = {s: {"score": 0.0, "tests": []} for s in notes}
    section = analysis.summary(tmp_path, records, docs, config).split("## Notes on the submitted files")[1]
    rows = [ln for ln in section.split("\n## ")[0].splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert rows[0] == "| 2 | ann, bo | note a |"
    assert rows[-1].startswith("| 2 | bo, cy | 2 more notes")


def test_problems_with_the_files_name_the_students(folder_batch, klass):
    """summary.md's table of notes on the submitted files names who has each (not only how many)."""
    _, out, _ = folder_batch
    summary = (out / "summary.md").read_text()
    section = summary.split("## Notes on the submitted files", 1)[1].split("\n## ", 1)[0]
    assert "| students | who | note |" in section
    row = next(ln for ln in section.splitlines() if "the submission is empty" in ln)
    assert row.startswith("| 1 | empty | the submission is empty: rnn_layers.py, lstm_layers.py")
    counts = [int(ln.split("|")[1]) for ln in section.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert counts == sorted(counts, reverse=True)


def test_a_config_the_reference_fails_is_said_before_grading_and_in_the_summary(tmp_path):
    """A threshold set ten times too low ("loss below 0.01"): the reference solution fails that test, so every
    student would; grade-all says so before grading, at the end and in summary.md; fixed, the warning goes."""
    src = tmp_path / "class"
    make_submission(src / "a")
    raw = yaml.safe_load(CONFIG.read_text())
    wrong = None
    for question in raw["questions"]:
        for test in question["tests"]:
            if test["kind"] == "behaviour" and "below" in test["cases"][0] and wrong is None:
                wrong = f"{question['function']}: {test['name']}"
                test["cases"][0]["below"] = test["cases"][0]["below"] / 10
    config = write_config(tmp_path, questions=raw["questions"])
    out = tmp_path / "out"
    proc = grade_all(src, out, "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    said = "warning: the reference solution scores "
    assert proc.stderr.count(said) == 2 and f"(it fails {wrong})" in proc.stderr, proc.stderr
    summary = (out / "summary.md").read_text()
    assert "**The reference solution scores" in summary and wrong in summary.split("# ")[1]
    write_config(tmp_path)  # fixed, at the same path
    proc = run_cli("regrade", str(out), "--all", "--no-progress")
    assert proc.returncode == 0 and said not in proc.stderr, proc.stderr
    assert "The reference solution scores" not in (out / "summary.md").read_text()
