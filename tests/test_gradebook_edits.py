"""The staff's edits on a graded class: overrides that go stale, cluster comments, hand-edited YAML, a
hand-edited grades.csv, penalties, interrupted runs and students who left the class folder.

Every class is graded by the real ``grade-all`` (or ``regrade``); the files are edited as a TA would.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import signal
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from classroom import CORPUS
from conftest import CONFIG, ROOT, TEMPLATES, make_submission, run_cli

from autograder.config import load_config

MUTANT = next(m for m in CORPUS if m["name"] == "rnn_step_backward_db_mean")
REF_TEST = "rnn_step_backward: gradients match the reference"
FWD_TEST = "rnn_step_forward: matches the reference"


def grade_all(src: Path, out: Path, *extra: str):
    return run_cli("grade-all", str(src), "--out", str(out), "--jobs", "2", "--no-progress", "--no-similarity",
                   *extra, timeout=900)


def grades(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def results(out: Path, student: str) -> dict:
    return json.loads((out / "results" / f"{student}.json").read_text())


def fix(src: Path, student: str) -> None:
    """The student resubmits correct code."""
    shutil.rmtree(src / student)
    make_submission(src / student)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """good (reference), bug1..bug3 (one shared bug), blank (templates), broken (a zip that does not open)."""
    base = tmp_path_factory.mktemp("edits")
    src = base / "class"
    make_submission(src / "good")
    for k in (1, 2, 3):
        make_submission(src / f"bug{k}", MUTANT["edits"])
    make_submission(src / "blank", base=TEMPLATES)
    (src / "broken.zip").write_bytes(b"this is not a zip file")
    out = base / "out"
    proc = grade_all(src, out)
    assert proc.returncode == 1, proc.stderr  # broken could not be graded
    return src, out


@pytest.fixture
def klass(graded_class, tmp_path):
    """A private copy of the graded class (its folder and OUTDIR), for a test that changes them."""
    src, out = graded_class
    shutil.copytree(src, tmp_path / "class")
    shutil.copytree(out, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "batch.json").read_text())
    manifest["submissions"] = str((tmp_path / "class").resolve())
    manifest["layout_root"] = str((tmp_path / "class").resolve())
    (tmp_path / "out" / "batch.json").write_text(json.dumps(manifest))
    return tmp_path / "class", tmp_path / "out"


# -- 1. an override set against a grader score that has changed ------------------------------------
def test_an_override_the_grader_now_agrees_with_is_not_to_review():
    """Set at 3 when the grader gave 0; the grader now gives 3 itself (the student's code got faster, say): no
    score changes whichever counts, so it is not listed to review; one at 1 still is."""
    from autograder.classroom.gradebook import stale_overrides

    record = {"status": "graded", "results": {"tests": [{"name": "f: t", "score": 3.0, "max_score": 3.0}]}}
    agreed = {"s": {"f: t": {"score": 3.0, "grader_score": 0.0, "reason": "slow machine"}}}
    assert stale_overrides({"s": record}, agreed) == []
    lower = {"s": {"f: t": {"score": 1.0, "grader_score": 0.0, "reason": "partial"}}}
    assert [(s["then"], s["now"], s["score"]) for s in stale_overrides({"s": record}, lower)] == [(0.0, 3.0, 1.0)]


def test_stale_override_is_listed_and_not_applied(klass):
    src, out = klass
    full = grades(out)["good"]["total"]
    for student, test, score in (("bug1", REF_TEST, "1"), ("bug2", REF_TEST, "1.5"), ("blank", FWD_TEST, "1"),
                                 ("bug3", REF_TEST, "2")):
        proc = run_cli("override", str(out), "--student", student, "--test", test, "--score", score,
                       "--reason", "partial credit: only db averaged")
        assert proc.returncode == 0, proc.stderr
    kept = yaml.safe_load((out / "overrides.yaml").read_text())
    assert kept["bug1"][REF_TEST]["grader_score"] == 0 and kept["blank"][FWD_TEST]["grader_score"] == 0
    # bug1, bug2 and bug3 fix their code; blank does not.  The preview names the overrides that would go stale;
    # bug3's full marks by hand are the grader's own now: nothing to review, yet listed as changing nothing.
    fix(src, "bug1")
    fix(src, "bug2")
    fix(src, "bug3")
    assert run_cli("regrade", str(out), "--student", "bug3", "--no-progress", timeout=900).returncode == 0
    summary = (out / "summary.md").read_text()
    moot = summary[summary.index("## Overrides the grader now agrees with"):].split("\n## ")[0]
    assert f"| bug3 | {REF_TEST} | 0 | 2 | 2 | partial credit: only db averaged |" in moot, moot
    assert "## Overrides to review" not in summary
    preview = run_cli("regrade", str(out), "--dry-run", "--no-progress", timeout=900)
    assert preview.returncode == 0, preview.stderr
    assert "overrides to review" in preview.stdout
    assert f"bug1 | {REF_TEST} | grader 0 -> 2 | override 1" in preview.stdout
    assert f"bug2 | {REF_TEST} | grader 0 -> 2 | override 1.5" in preview.stdout
    assert "blank |" not in preview.stdout.split("overrides to review")[1]

    proc = run_cli("regrade", str(out), "--student", "bug1", "--student", "bug2", "--no-progress", timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert f"bug1 | {REF_TEST} | grader 0 -> 2 | override 1" in proc.stderr
    # The hint is the real command for each stale override (no ID / NAME placeholders), and it runs.
    assert "--student ID" not in proc.stderr and "NAME" not in proc.stderr
    keep = {line.split(": keep it: ", 1)[0].strip(): line.split(": keep it: ", 1)[1]
            for line in proc.stderr.splitlines() if ": keep it: " in line}
    drop = [line.split(": drop it: ", 1)[1] for line in proc.stderr.splitlines() if "bug2: drop it: " in line]
    assert set(keep) == {"bug1", "bug2"} and len(drop) == 1
    assert shlex.split(keep["bug1"])[4:] == [str(out), "--student", "bug1", "--test", REF_TEST, "--score", "1",
                                             "--reason", "partial credit: only db averaged"]
    rows = grades(out)
    assert rows["bug1"]["total"] == rows["bug2"]["total"] == full  # the grader's score counts, not 1 of 2
    assert "override(s) to review" in rows["bug1"]["note"]
    assert rows["blank"]["total"] == "1"  # an override whose grader score did not change still applies
    feedback = (out / "feedback" / "bug1.md").read_text()
    assert "Score changed by the course staff" not in feedback and "FAIL" not in feedback
    summary = (out / "summary.md").read_text()
    section = summary[summary.index("## Overrides to review"):].split("\n## ")[0]
    assert f"| bug1 | {REF_TEST} | 0 | 2 | 1 |" in section and f"| bug2 | {REF_TEST} | 0 | 2 | 1.5 |" in section
    assert "blank" not in section
    assert results(out, "bug1")["extra_data"]["stale_overrides"][0]["now"] == 2

    # The TA keeps one on purpose (set again: no longer stale) and drops the other.
    assert run_cli("override", str(out), "--student", "bug1", "--test", REF_TEST, "--score", "1",
                   "--reason", "copied from bug3").returncode == 0
    assert run_cli("override", str(out), "--student", "bug2", "--test", REF_TEST, "--remove").returncode == 0
    rows = grades(out)
    assert float(rows["bug1"]["total"]) == float(full) - 1 and rows["bug2"]["total"] == full
    # The row says which score the staff set, from what, to what, and why.
    assert f"staff set {REF_TEST} from 2 to 1: copied from bug3" in rows["bug1"]["note"], rows["bug1"]["note"]
    assert "## Overrides to review" not in (out / "summary.md").read_text()
    again = run_cli("grade-all", str(src), "--out", str(out), "--no-progress", "--no-similarity")
    assert "overrides to review" not in again.stderr


def test_override_written_before_grader_scores_were_kept_still_applies(klass):
    _, out = klass
    (out / "overrides.yaml").write_text(f"bug1:\n  '{REF_TEST}':\n    score: 2\n    reason: accepted by hand\n")
    proc = run_cli("feedback", str(out))
    assert proc.returncode == 0, proc.stderr
    assert results(out, "bug1")["extra_data"]["overrides"][0]["to"] == 2
    assert "Overrides to review" not in (out / "summary.md").read_text()


# -- 2. cluster comments and the cluster's members -----------------------------------------------
def test_cluster_comment_is_idempotent_and_summary_says_who_has_it(klass):
    from autograder.classroom.clusters import clusters
    from autograder.classroom.gradebook import load_records

    src, out = klass
    # bug3 is graded only after the comment: take it out first.
    shutil.move(src / "bug3", out.parent / "bug3_later")
    cid = next(c for c in clusters(load_records(out)) if "bug1" in c.members).id
    text = "You averaged db over the batch: a bias gradient sums over it."
    # Only bug1 and bug2 get it: drop bug3's record as if it had never been graded.
    (out / "raw" / "bug3.json").unlink()
    proc = run_cli("comment", str(out), "--cluster", cid, "--text", text)
    assert proc.returncode == 0 and "attached to 2 students: bug1, bug2" in proc.stdout, proc.stdout
    shutil.move(out.parent / "bug3_later", src / "bug3")
    assert grade_all(src, out).returncode == 1
    summary = (out / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if line.startswith(f"| {cid} |"))
    assert "on: bug1, bug2; not on bug3" in row
    assert text not in (out / "feedback" / "bug3.md").read_text()

    again = run_cli("comment", str(out), "--cluster", cid, "--text", text)
    assert again.returncode == 0 and "attached to 1 student: bug3 (2 had it already: bug1, bug2)" in again.stdout
    third = run_cli("comment", str(out), "--cluster", cid, "--text", f"  {text}  ")
    assert "attached to 0 students (3 had it already" in third.stdout
    stored = yaml.safe_load((out / "comments.yaml").read_text())
    assert [len(stored[s]) for s in ("bug1", "bug2", "bug3")] == [1, 1, 1]
    # The cluster's id changed (what its students got wrong changed with a config fixed, say): the same text on
    # the cluster now moves each member's comment to it, never gives it twice.
    path = out / "comments.yaml"
    path.write_text(path.read_text().replace(cid, "c000000"))
    moved = run_cli("comment", str(out), "--cluster", cid, "--text", text)
    assert "attached to 0 students (3 had it already" in moved.stdout, moved.stdout
    stored = yaml.safe_load(path.read_text())
    assert [[e["cluster"] for e in stored[s]] for s in ("bug1", "bug2", "bug3")] == [[cid]] * 3
    for _ in range(2):  # one student's comment, twice: stored once
        assert run_cli("comment", str(out), "--student", "blank", "--text", "See me.").returncode == 0
    assert len(yaml.safe_load((out / "comments.yaml").read_text())["blank"]) == 1

    # A comment to bug1 alone, about the submission graded now.
    own = "Your db line divides by the batch size: see the lecture's bias gradient."
    assert run_cli("comment", str(out), "--student", "bug1", "--text", own).returncode == 0
    assert "## Comments to review" not in (out / "summary.md").read_text()

    # bug1 fixes the bug: it keeps the comment, and the summary says it is no longer in the cluster.
    fix(src, "bug1")
    proc = run_cli("regrade", str(out), "--student", "bug1", "--no-progress")
    assert proc.returncode == 0 and "comments to review: 1 comment to one student" in proc.stderr, proc.stderr
    assert text in (out / "feedback" / "bug1.md").read_text()
    # Its own comment was about the earlier submission: listed for review (the cluster's is said in its row),
    # blank's, about the submission still graded, is not.
    review = (out / "summary.md").read_text().split("## Comments to review")[1].split("\n## ")[0]
    assert f"| bug1 | {own} |" in review and "See me." not in review and text not in review, review
    row = next(line for line in (out / "summary.md").read_text().splitlines() if line.startswith(f"| {cid} |"))
    assert "on: bug2, bug3" in row and "no longer in this cluster (they keep it): bug1" in row
    # Removing the cluster's comment removes it from everyone who has it, bug1 included.
    assert run_cli("comment", str(out), "--cluster", cid, "--remove").returncode == 0
    assert not any(text in (out / "feedback" / f"{s}.md").read_text() for s in ("bug1", "bug2", "bug3"))


# -- 3. hand-edited overrides.yaml and comments.yaml ---------------------------------------------------
HAND_EDITS = [
    ("overrides.yaml", f"bug1:\n  '{REF_TEST}':\n    score: 1\n    reason: a\nbug2:\n  '{REF_TEST}':\n    score: 1\n"
                       f"    reason: b\nbug1:\n  '{FWD_TEST}':\n    score: 2\n    reason: c\n",
     ["line 9", "duplicate key", "bug1", "line 1"]),
    ("overrides.yaml", f"bug1:\n  '{REF_TEST}':\n    score: 1\n    reason: first\n  '{REF_TEST}':\n    score: 0\n"
                       "    reason: second\n", ["line 5", "duplicate key", REF_TEST]),
    ("comments.yaml", "bug1:\n- text: Monday\nbug2:\n- text: hello\nbug1:\n- text: Tuesday\n",
     ["line 5", "duplicate key", "bug1"]),
    ("overrides.yaml", f"bug1:\n  '{REF_TEST}':\n    score: 1\n", ["bug1 / " + REF_TEST, "give a reason"]),
    ("overrides.yaml", f"bug1:\n  '{REF_TEST}':\n    score: 1\n    reason: '  '\n", ["give a reason"]),
    ("overrides.yaml", f"bug1:\n  '{REF_TEST}':\n    score: 1\n    reason: partial\n    extension: 2 days\n",
     ["unknown field 'extension'", "score, reason, when, grader_score", "penalty"]),
    ("comments.yaml", "bug1:\n- text: hi\n  author: me\n", ["unknown field 'author'", "text, cluster, when"]),
    ("overrides.yaml", "bug1:\n  penalty: {points: -5, percent: -10, reason: late}\n", ["exactly one of points"]),
    ("overrides.yaml", "bug1:\n  penalty: {percent: -150, reason: late}\n", ["outside -100..100"]),
    ("overrides.yaml", "bug1:\n  penalty: {points: -5}\n", ["give a reason"]),
]


@pytest.mark.parametrize("name, text, said", HAND_EDITS, ids=[f"{k}" for k in range(len(HAND_EDITS))])
def test_hand_edits_are_refused_with_file_line_and_reason(graded_class, tmp_path, name, text, said):
    _, graded_out = graded_class
    out = tmp_path / "out"
    shutil.copytree(graded_out, out)
    (out / name).write_text(text)
    before = {p: p.read_bytes() for p in (out / "grades.csv", out / "summary.md", out / "feedback" / "bug1.md")}
    proc = run_cli("feedback", str(out))
    assert proc.returncode == 2, proc.stderr
    assert name in proc.stderr and all(s in proc.stderr for s in said), proc.stderr
    assert all(p.read_bytes() == b for p, b in before.items())  # nothing rewritten
    assert (out / name).read_text() == text  # the TA's file is kept as it is


def test_hand_override_on_an_error_row_gets_the_commands_message(graded_class, tmp_path):
    _, graded_out = graded_class
    out = tmp_path / "out"
    shutil.copytree(graded_out, out)
    command = run_cli("override", str(out), "--student", "broken", "--test", FWD_TEST, "--score", "2",
                      "--reason", "graded by hand")
    assert command.returncode == 2
    message = command.stderr.strip().removeprefix("error: ")
    assert "broken could not be graded" in message and "regrade it" in message
    (out / "overrides.yaml").write_text(f"broken:\n  '{FWD_TEST}':\n    score: 2\n    reason: graded by hand\n")
    proc = run_cli("feedback", str(out))
    assert proc.returncode == 2 and message in proc.stderr, (message, proc.stderr)
    # A comment on an error row is taken by both the command and a hand edit, and the student sees it.
    (out / "overrides.yaml").unlink()
    (out / "comments.yaml").write_text("broken:\n- text: Your zip is broken, please resubmit\n")
    assert run_cli("feedback", str(out)).returncode == 0
    assert "please resubmit" in (out / "feedback" / "broken.md").read_text()
    proc = run_cli("comment", str(out), "--student", "broken", "--text", "Resubmit by Friday")
    assert proc.returncode == 0 and "Resubmit by Friday" in (out / "feedback" / "broken.md").read_text()


# -- 4. the TA's # comments survive the commands ------------------------------------------------------
def test_commands_keep_the_tas_yaml_comments(klass):
    _, out = klass
    (out / "overrides.yaml").write_text(
        "# Grading notes for HW3 -- Alice\nbug1:  # asked on Piazza, see thread 42\n"
        f"  '{REF_TEST}':\n    score: 1\n    reason: partial credit  # agreed with Bob\n")
    (out / "comments.yaml").write_text("# comments for section B\nbug2:\n- text: Come to office hours  # Tue\n")
    steps = [("override", "--student", "bug2", "--test", FWD_TEST.upper(), "--score", "1", "--reason", "typo"),
             ("override", "--student", "bug3", "--penalty", "-5", "--reason", "1 day late"),
             ("override", "--student", "bug2", "--test", FWD_TEST, "--remove"),
             ("comment", "--student", "bug3", "--text", "Nice work on the LSTM"),
             ("comment", "--student", "bug3", "--remove")]
    for step in steps:
        proc = run_cli(step[0], str(out), *step[1:])
        assert proc.returncode == 0, (step, proc.stderr)
        overrides, comments = (out / "overrides.yaml").read_text(), (out / "comments.yaml").read_text()
        for kept in ("# Grading notes for HW3 -- Alice", "# asked on Piazza, see thread 42", "# agreed with Bob"):
            assert kept in overrides, (step, overrides)
        assert "# comments for section B" in comments and "# Tue" in comments, (step, comments)
    final = yaml.safe_load((out / "overrides.yaml").read_text())
    assert set(final) == {"bug1", "bug3"} and final["bug3"]["penalty"]["points"] == -5


# -- 5. grades.csv is generated -----------------------------------------------------------------------------
@pytest.mark.parametrize("edit", ["excel", "typed", "row_deleted"])
def test_hand_edited_grades_csv_is_not_overwritten(klass, edit):
    src, out = klass
    path = out / "grades.csv"
    text = path.read_text(encoding="utf-8")
    if edit == "excel":  # Excel's re-save in a comma-decimal locale: BOM, semicolons, CRLF
        buffer = io.StringIO()  # cells keep their text (a note's commas included), as Excel keeps them
        csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(csv.reader(io.StringIO(text)))
        edited = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    elif edit == "typed":
        edited = text.replace("blank,0,", "blank,2,", 1).encode("utf-8")
    else:
        edited = "".join(line for line in text.splitlines(True) if not line.startswith("bug3,")).encode()
    path.write_bytes(edited)
    overrides_before = (out / "overrides.yaml").exists()
    said = {"excel": "only the file's format changed", "typed": "blank: rnn_step_forward 0 -> 2",
            "row_deleted": "row bug3 deleted"}[edit]
    for args in (("override", str(out), "--student", "bug1", "--test", REF_TEST, "--score", "1", "--reason", "x"),
                 ("comment", str(out), "--student", "bug1", "--text", "x"),
                 ("feedback", str(out), "--published"),
                 ("grade-all", str(src), "--out", str(out), "--no-progress", "--no-similarity"),
                 ("regrade", str(out), "--student", "bug1", "--no-progress")):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "grades.csv was changed since the toolkit wrote it" in proc.stderr and "--force" in proc.stderr
        assert "overrides.yaml" in proc.stderr
        assert said in proc.stderr, proc.stderr  # which rows or cells differ
        assert "--penalty" in proc.stderr  # how to change a student's total
        assert path.read_bytes() == edited
    assert (out / "overrides.yaml").exists() == overrides_before and not (out / "comments.yaml").exists()
    assert json.loads((out / "batch.json").read_text())["published"] is False
    proc = run_cli("feedback", str(out), "--force")
    assert proc.returncode == 0, proc.stderr
    assert [p.read_bytes() for p in out.glob("grades.edited-*.csv")] == [edited]
    assert path.read_text(encoding="utf-8") == text
    assert run_cli("comment", str(out), "--student", "bug1", "--text", "x").returncode == 0  # its own write: fine


# -- 6. a penalty on the student's total ------------------------------------------------------------------------
def test_penalty_in_points_and_percent(klass):
    _, out = klass
    full = float(grades(out)["good"]["total"])
    assert run_cli("override", str(out), "--student", "good", "--penalty", "-15", "--reason", "2 days late"
                   ).returncode == 0
    # Typed as the help shows it: a negative percentage is a value, as a negative number is.
    proc = run_cli("override", str(out), "--student", "bug1", "--penalty", "-10%", "--reason", "1 day late")
    assert proc.returncode == 0, proc.stderr
    bug = float(grades(out)["bug2"]["total"])
    rows = grades(out)
    assert float(rows["good"]["total"]) == full - 15 and "penalty -15 points: 2 days late" in rows["good"]["note"]
    assert float(rows["bug1"]["total"]) == pytest.approx(bug * 0.9)
    doc = results(out, "good")
    assert doc["score"] == full - 15 and doc["extra_data"]["penalty"]["reason"] == "2 days late"
    assert sum(t["score"] for t in doc["tests"]) == full  # the tests keep their scores
    assert "-15 points" in (out / "feedback" / "good.md").read_text()
    assert "| good | penalty | -15 points | -15 points | 2 days late |" in (out / "summary.md").read_text()
    bad = run_cli("override", str(out), "--student", "good", "--penalty", "-15", "--reason", "")
    assert bad.returncode == 2 and "give a reason" in bad.stderr
    bad = run_cli("override", str(out), "--student", "good", "--test", "total", "--penalty", "-1", "--reason", "x")
    assert bad.returncode == 2 and "--penalty" in bad.stderr
    # "15" for "-15" would add the points: the sign is never guessed.
    for value in ("15", "10%"):
        bad = run_cli("override", str(out), "--student", "good", "--penalty", value, "--reason", "late")
        assert bad.returncode == 2 and f"-{value} takes points off, +{value} adds them" in bad.stderr
    assert run_cli("override", str(out), "--student", "good", "--remove-penalty").returncode == 0
    assert float(grades(out)["good"]["total"]) == full


# -- 7. an interrupted run ---------------------------------------------------------------------------------------
def test_interrupted_run_is_marked_until_resumed(tmp_path, monkeypatch):
    from autograder.classroom.batch import Options
    from autograder.classroom.batch import grade_all as api_grade_all

    scratch = Path(tempfile.mkdtemp(prefix="hw_rnn_scratch_", dir="/tmp"))
    os.chmod(scratch, 0o711)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    src = tmp_path / "class"
    names = [f"s{k}" for k in range(6)]
    for name in names:
        make_submission(src / name)
    (src / "s1" / "INTERRUPT_BATCH.py").touch()  # its worker sends the batch SIGINT, as Ctrl-C does
    out = tmp_path / "out"
    config = ROOT / "assignments" / "hw_rnn" / "assignment.yaml"
    try:
        outcome = api_grade_all(src, out, config, Options(jobs=1, quiet=True, grade_fn="batch_faults:grade",
                                                          similarity=False))
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert outcome.interrupted and outcome.exit_code == 130
    summary = (out / "summary.md").read_text()
    assert summary.startswith("**INCOMPLETE") and "To grade them, run grade-all on the class folder again" in summary
    rows = grades(out)
    assert set(rows) == set(names)  # every student has a row: graded ones, and the rest marked pending
    pending = [s for s, r in rows.items() if r["status"] == "pending"]
    assert pending and all("run grade-all on the class folder again" in rows[s]["note"] and rows[s]["total"] == ""
                           for s in pending)
    (src / "s1" / "INTERRUPT_BATCH.py").unlink()
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    assert not (out / "summary.md").read_text().startswith("**INCOMPLETE")
    assert {r["status"] for r in grades(out).values()} == {"graded"}


# -- 8, 9. regrade rewrites the similarity report; students who left the class folder ---------------------------
def test_regrade_rewrites_similarity_and_removed_students_are_said(klass):
    src, out = klass
    proc = run_cli("similarity", str(out))
    assert proc.returncode == 0, proc.stderr
    before = (out / "similarity" / "similarity.csv").read_text()
    assert "bug1" in before
    fix(src, "bug1")
    (src / "bug1" / "extra.py").write_text("def helper():\n    return sum(range(10))\n")
    proc = run_cli("regrade", str(out), "--student", "bug1", "--no-progress")
    assert proc.returncode == 0 and "similarity: " in proc.stderr, proc.stderr
    assert (out / "similarity" / "similarity.csv").read_text() != before

    shutil.rmtree(src / "bug3")
    (src / "blank").rename(src / "blank_gone")  # a new id; "blank" is not in the download any more
    proc = grade_all(src, out)
    assert "not in the class folder any more" in proc.stderr and "blank, bug3" in proc.stderr
    summary = (out / "summary.md").read_text()
    assert "2 of them kept from an earlier run" in summary and "## Kept from an earlier run" in summary
    rows = grades(out)
    for student in ("bug3", "blank"):
        assert rows[student]["note"].startswith("not in the class folder any more")
    assert "not in the class folder" not in rows["bug2"]["note"]


# -- 10. minors ------------------------------------------------------------------------------------------------
def test_notes_are_cut_at_a_word_and_hidden_override_reasons_shown_once_published(klass):
    from autograder.classroom.gradebook import row_note
    from autograder.text import shorten

    _, out = klass
    long = "word " * 100
    assert row_note({"status": "graded", "notes": [long]}).endswith("word…")
    assert len(shorten(long, 300)) <= 300 and shorten("short", 300) == "short"
    hidden = next(t["name"] for t in results(out, "bug1")["tests"]
                  if t["visibility"] != "visible" and t["score"] < t["max_score"])
    proc = run_cli("override", str(out), "--student", "bug1", "--test", hidden.upper(), "--score", "1",
                   "--reason", "right idea, one sign off")
    assert proc.returncode == 0, proc.stderr
    assert "right idea" not in (out / "feedback" / "bug1.md").read_text()  # the test is not shown yet
    assert run_cli("feedback", str(out), "--published").returncode == 0
    assert "right idea, one sign off" in (out / "feedback" / "bug1.md").read_text()


# -- 11. interrupted regrades and an interrupted similarity step ----------------------------------------------
@pytest.fixture
def faults(monkeypatch):
    """In-process batches with tests/batch_faults.py's grader: INTERRUPT_BATCH.py sends the batch SIGINT."""
    scratch = Path(tempfile.mkdtemp(prefix="hw_rnn_scratch_", dir="/tmp"))
    os.chmod(scratch, 0o711)  # the student's process (another uid) reaches its sandbox through it
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("how", ["regrade --all", "regrade --student", "grade-all --regrade"])
def test_interrupted_regrade_marks_every_student_not_regraded(klass, faults, how):
    from autograder.classroom import batch

    src, out = klass
    before = grades(out)
    (src / "bug2" / "INTERRUPT_BATCH.py").touch()  # graded third of blank, broken, bug1, bug2, ...
    options = batch.Options(jobs=1, quiet=True, grade_fn="batch_faults:grade", similarity=False,
                            regrade=how == "grade-all --regrade")
    if how == "grade-all --regrade":
        outcome = batch.grade_all(src, out, ROOT / "assignments" / "hw_rnn" / "assignment.yaml", options)
    else:
        outcome = batch.regrade(out, None if how == "regrade --all" else ["bug1", "bug2", "bug3", "good"], options)
    assert outcome.interrupted and outcome.exit_code == 130
    rows = grades(out)
    pending = sorted(s for s, r in rows.items() if r["status"] == "pending")
    # bug3 and good were to be regraded and were not: their rows must not look final, with old scores.
    assert {"bug3", "good"} <= set(pending) and len(pending) == outcome.pending
    for student in pending:
        assert rows[student]["total"] == "" and rows[student]["rnn_step_forward"] == ""
        assert "not regraded yet" in rows[student]["note"] and "without --regrade" in rows[student]["note"]
        # The earlier result in results/ and feedback/ is marked too: an upload must not take it as final.
        assert results(out, student)["extra_data"]["pending"].startswith("not final")
        assert results(out, student)["output"].startswith("Not final")
        assert "**Not final:" in (out / "feedback" / f"{student}.md").read_text()
    assert f"{before['good']['total']} / {before['good']['max']} (graded)" in rows["good"]["note"]
    said = batch.describe(outcome, out)
    assert f"{len(pending)} of {outcome.students} students are pending" in said
    assert f"{outcome.students - len(pending) - outcome.errors} of {outcome.students} graded" in said
    summary = (out / "summary.md").read_text()
    assert summary.startswith("**INCOMPLETE") and all(s in summary.split("\n")[0] for s in pending)
    # The count under the banner says how many it takes from the earlier run (it read "all graded").
    earlier = [s for s in pending if (out / "raw" / f"{s}.json").exists()]
    assert earlier and (f"; {len(earlier)} of them counted as an earlier run left them, until the interrupted "
                           "run's grading of them is done (pending)") in summary, summary
    (src / "bug2" / "INTERRUPT_BATCH.py").unlink()
    proc = run_cli("regrade", str(out), "--all", "--no-progress", timeout=900)
    assert proc.returncode == 1, proc.stderr  # broken still cannot be graded
    rows = grades(out)
    assert "pending" not in {r["status"] for r in rows.values()} and rows["good"]["total"] == before["good"]["total"]
    assert not (out / "summary.md").read_text().startswith("**INCOMPLETE")
    assert not [s for s in rows if "pending" in results(out, s)["extra_data"]]
    assert "Not final" not in (out / "feedback" / "good.md").read_text()


def test_grade_all_after_an_interrupted_regrade_grades_the_pending_students(klass, faults):
    """An interrupted ``grade-all --regrade`` says to resume without --regrade, and that run grades the students
    the regrade did not reach (their records look current, but the regrade was meant for them), not the others."""
    from autograder.classroom import batch

    src, out = klass
    config = ROOT / "assignments" / "hw_rnn" / "assignment.yaml"
    (src / "bug2" / "INTERRUPT_BATCH.py").touch()
    options = batch.Options(jobs=1, quiet=True, grade_fn="batch_faults:grade", similarity=False, regrade=True)
    outcome = batch.grade_all(src, out, config, options)
    assert outcome.interrupted and "run grade-all on the class folder again, without --regrade" in batch.describe(
        outcome, out)
    pending = {s for s, r in grades(out).items() if r["status"] == "pending"}
    assert {"bug3", "good"} <= pending
    (src / "bug2" / "INTERRUPT_BATCH.py").unlink()
    old = "2000-01-01T00:00:00+00:00"  # every record as graded long ago: a record graded again is newer
    for path in (out / "raw").glob("*.json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "graded_at": old}))
    again = batch.grade_all(src, out, config, replace(options, regrade=False))
    assert not again.interrupted
    assert "pending" not in {r["status"] for r in grades(out).values()}
    regraded = {p.stem for p in (out / "raw").glob("*.json") if json.loads(p.read_text())["graded_at"] != old}
    # bug2 changed back (its marker is gone) and broken never counts as graded: both may be graded again.
    assert pending <= regraded <= pending | {"bug2", "broken"}
    assert not (out / "summary.md").read_text().startswith("**INCOMPLETE")


@pytest.mark.parametrize("how", ["grade-all", "regrade"])
def test_interrupt_while_writing_the_similarity_report_is_marked(klass, faults, monkeypatch, how):
    from autograder.classroom import batch, similarity

    src, out = klass
    real = similarity.report

    def interrupted(*args, **kwargs):  # Ctrl-C arrives while the report is being made
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(similarity, "report", interrupted)
    if how == "regrade":
        (out / "similarity").mkdir()  # an earlier report: a regrade writes it again
        outcome = batch.regrade(out, ["good"], batch.Options(jobs=1, quiet=True))
    else:
        outcome = batch.grade_all(src, out, ROOT / "assignments" / "hw_rnn" / "assignment.yaml",
                                  batch.Options(jobs=1, quiet=True))
    assert outcome.interrupted and outcome.exit_code == 130 and outcome.pending == 0
    assert not (out / "similarity" / "report.html").exists()
    summary = (out / "summary.md").read_text()
    assert summary.startswith("**INCOMPLETE") and "the similarity report was not written: run the same command " \
        "again" in summary
    assert "similarity report was not" in batch.describe(outcome, out)
    assert "pending" not in {r["status"] for r in grades(out).values()}
    monkeypatch.setattr(similarity, "report", real)
    if how == "grade-all":  # every student is skipped; the report is written
        proc = run_cli("grade-all", str(src), "--out", str(out), "--no-progress", timeout=900)
    else:
        proc = run_cli("similarity", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    assert (out / "similarity" / "report.html").exists()
    assert not (out / "summary.md").read_text().startswith("**INCOMPLETE")


# -- 12. penalties shown as set and as applied; extensions --------------------------------------------------------
def test_penalty_on_a_zero_and_on_an_error_row_is_shown_as_set(klass):
    _, out = klass
    assert grades(out)["blank"]["total"] == "0"
    for student, value in (("blank", "-15"), ("broken", "-15"), ("bug1", "-10%"), ("good", "-5")):
        proc = run_cli("override", str(out), "--student", student, f"--penalty={value}", "--reason", "late")
        assert proc.returncode == 0, proc.stderr
    rows, summary = grades(out), (out / "summary.md").read_text()
    floor = "-15 points (applied: 0, the score cannot go below 0)"
    assert rows["blank"]["total"] == "0" and f"penalty {floor}: late" in rows["blank"]["note"]
    assert "| blank | penalty | -15 points | 0 points (-15 set, the score cannot go below 0) | late |" in summary
    assert "+0" not in summary
    feedback = (out / "feedback" / "blank.md").read_text()  # hidden tests withheld: only what was set
    assert "-15 points: late (taken from the total; a total never goes below 0)" in feedback
    assert floor not in feedback
    assert run_cli("feedback", str(out), "--published").returncode == 0
    assert floor in (out / "feedback" / "blank.md").read_text()
    assert "| broken | penalty | -15 points | applies once graded | late |" in summary
    assert "penalty -15 points (applies once graded): late" in rows["broken"]["note"]
    bug = results(out, "bug1")["extra_data"]["penalty"]
    assert f"| bug1 | penalty | -10% | {bug['points']:+g} points (-10% of {bug['before']:g}) | late |" in summary
    assert "| good | penalty | -5 points | -5 points | late |" in summary


def test_a_bonus_keeps_its_sign_and_the_total_stays_within_the_maximum(klass):
    """``--penalty +15`` is a bonus: shown with its + wherever it is described (the command's output, grades.csv,
    summary.md, feedback, results.json), and never lifts a total above the maximum score (said where the total is
    shown)."""
    _, out = klass
    rows = grades(out)
    full, bug = float(rows["good"]["max"]), float(rows["bug1"]["total"])
    assert float(rows["good"]["total"]) == full and bug < full
    proc = run_cli("override", str(out), "--student", "good", "--penalty", "+15", "--reason", "bonus question")
    assert proc.returncode == 0, proc.stderr
    capped = f"+15 points (applied: 0, capped at the maximum {full:g})"
    assert f"good: bonus {capped}; total {full:g} / {full:g}" in proc.stdout
    gap = full - bug
    proc = run_cli("override", str(out), "--student", "bug1", "--penalty", f"+{gap + 5:g}", "--reason", "bonus")
    assert proc.returncode == 0, proc.stderr
    assert run_cli("override", str(out), "--student", "bug2", "--penalty=+10%", "--reason", "bonus").returncode == 0
    rows, summary = grades(out), (out / "summary.md").read_text()
    assert rows["good"]["total"] == f"{full:g}" and f"bonus {capped}: bonus question" in rows["good"]["note"]
    assert rows["bug1"]["total"] == f"{full:g}"
    assert (f"bonus +{gap + 5:g} points (applied: +{gap:g}, capped at the maximum {full:g}): bonus"
            in rows["bug1"]["note"])
    assert float(rows["bug2"]["total"]) == pytest.approx(min(full, bug * 1.1))
    # What applied comes first in summary.md's table: a capped bonus does not read as +15 there.
    assert (f"| good | bonus | +15 points | 0 points (+15 set, capped at the maximum {full:g}) | bonus question |"
            in summary)
    bonus = results(out, "bug2")["extra_data"]["penalty"]["points"]
    assert f"| bug2 | bonus | +10% | {bonus:+g} points (+10% of {bug:g}) | bonus |" in summary
    assert "## Penalties and bonuses" in summary
    doc = results(out, "good")
    assert doc["score"] == full and doc["extra_data"]["penalty"]["set"] == "+15 points"
    # Before grades are published, what a student reads says only what was set: how much applied (capped here)
    # would tell the hidden tests' score.
    withheld = "+15 points: bonus question (added to the total; a total never goes above the maximum score)"
    assert f"Adjusted by the course staff: {withheld}" in doc["output"] and "capped" not in doc["output"]
    # Below the score line it adjusts, as in the feedback.
    assert doc["output"].index("Adjusted by the course staff") > doc["output"].index("Score on the tests shown")
    feedback = (out / "feedback" / "good.md").read_text()
    assert withheld in feedback and "capped" not in feedback
    proc = run_cli("feedback", str(out), "--published")
    assert proc.returncode == 0
    tests = load_config(CONFIG).tests
    assert f"grades published; the feedback shows all {len(tests)} tests and the total" in proc.stdout
    unpublished = run_cli("feedback", str(out), "--unpublished").stdout
    hidden = sum(t.hidden for t in tests)
    assert (f"grades not published, before the due date; the feedback shows {len(tests) - hidden} of the "
            f"{len(tests)} tests and no total: the other {hidden} are shown when grades are published "
            "(after_published)") in unpublished, unpublished
    assert run_cli("feedback", str(out), "--published").returncode == 0
    feedback = (out / "feedback" / "good.md").read_text()
    assert f"**Score: {full:g} / {full:g}** (capped at the maximum {full:g})" in feedback
    assert f"Adjusted by the course staff: {capped}: bonus question" in feedback
    assert "capped" not in (out / "feedback" / "bug2.md").read_text()
    assert summary.count(f"max {full:g};") == 1 and f"max {full + 15:g}" not in summary


def canvas_class(base: Path) -> Path:
    """A Canvas download: ken and lea flagged LATE by Canvas, mo on time."""
    from classroom import as_canvas

    people = {}
    for student in ("ken", "lea", "mo"):
        make_submission(base / "src" / student)
        people[student] = {"path": base / "src" / student}
    return as_canvas(people, base / "canvas", late=("ken", "lea"))


def test_extension_answers_the_lms_late_flag_and_changes_no_score(tmp_path):
    from classroom import lms_people

    src = canvas_class(tmp_path)
    ids = {s: str(p["canvas_id"]) for s, p in lms_people({"ken": {}, "lea": {}, "mo": {}}).items()}
    out = tmp_path / "out"
    assert grade_all(src, out).returncode == 0
    before = grades(out)
    assert "Canvas marked it LATE" in before[ids["ken"]]["note"]
    for student in ("ken", "mo"):
        proc = run_cli("override", str(out), "--student", ids[student], "--extension", "3 days, approved by prof")
        assert proc.returncode == 0, proc.stderr
    rows = grades(out)
    assert {s: r["total"] for s, r in rows.items()} == {s: r["total"] for s, r in before.items()}
    assert "within the extension granted by the course staff (3 days, approved by prof): not late" \
        in rows[ids["ken"]]["note"]
    assert "not late" not in rows[ids["lea"]]["note"] and "Canvas marked it LATE" in rows[ids["lea"]]["note"]
    assert "extension: 3 days, approved by prof" in rows[ids["mo"]]["note"] and "LATE" not in rows[ids["mo"]]["note"]
    feedback = (out / "feedback" / f"{ids['ken']}.md").read_text()
    assert "Extension granted by the course staff: 3 days, approved by prof" in feedback and "not late" in feedback
    summary = (out / "summary.md").read_text()
    assert f"| {ids['ken']} | 3 days, approved by prof | answered |" in summary
    assert f"| {ids['mo']} | 3 days, approved by prof | none |" in summary
    kept = yaml.safe_load((out / "overrides.yaml").read_text())
    assert {str(k): v for k, v in kept.items()}[ids["ken"]]["extension"]["reason"] == "3 days, approved by prof"
    # Validated like every entry: a hand edit without a reason is refused, with the file and the entry.
    text = (out / "overrides.yaml").read_text()
    (out / "overrides.yaml").write_text(text.replace("reason: 3 days, approved by prof", "reason: ''", 1))
    proc = run_cli("feedback", str(out))
    assert proc.returncode == 2 and "/ extension: give a reason" in proc.stderr, proc.stderr
    (out / "overrides.yaml").write_text(text)
    bad = run_cli("override", str(out), "--student", ids["ken"], "--extension", "x", "--penalty", "-1")
    assert bad.returncode == 2 and "--extension" in bad.stderr
    assert run_cli("override", str(out), "--student", ids["ken"], "--remove-extension").returncode == 0
    assert grades(out)[ids["ken"]]["note"] == before[ids["ken"]]["note"]


# -- 13. file permissions follow the umask; student code stays private -----------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_output_files_follow_the_umask_and_student_code_stays_private(klass, umask):
    _, out = klass
    old = os.umask(umask)
    try:
        steps = (("override", str(out), "--student", "good", "--penalty", "-1", "--reason", "late"),
                 ("comment", str(out), "--student", "bug1", "--text", "look at db"),
                 ("regrade", str(out), "--student", "bug1", "--no-progress"),
                 ("similarity", str(out)))
        for args in steps:
            proc = run_cli(*args, timeout=900)
            assert proc.returncode == 0, (args, proc.stderr)
    finally:
        os.umask(old)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    normal = 0o666 & ~umask
    for name in ("grades.csv", "summary.md", "overrides.yaml", "comments.yaml", "batch.json",
                 "results/bug1.json", "feedback/bug1.md", "results/good.json", "similarity/similarity.csv"):
        assert mode(out / name) == normal, (name, oct(mode(out / name)))
    for path in [out / "raw" / "bug1.json", out / "similarity" / "report.html", *(out / "code" / "bug1").glob("*.py")]:
        assert mode(path) == 0o600, (path, oct(mode(path)))


# -- 14. an ambiguous --test lists a few candidates -----------------------------------------------------------------
def test_ambiguous_test_name_lists_a_few_candidates(klass):
    _, out = klass
    proc = run_cli("override", str(out), "--student", "bug1", "--test", "gradients match the reference", "--remove")
    assert proc.returncode == 2
    listed = proc.stderr.split(" tests: ", 1)[1]
    assert listed.count(": gradients match the reference") == 5 and re.search(r"; and \d+ more", listed), proc.stderr
    proc = run_cli("override", str(out), "--student", "bug1", "--test", "rnn_step_backward:", "--remove")
    assert proc.returncode == 2 and " more" not in proc.stderr  # a few candidates: all listed


def test_a_grader_failure_is_said_to_the_student_without_its_text():
    """The text of a grader failure may quote what the student's code sent (a hidden call's reply): the staff
    read it in extra_data.reason and grades.csv; the student's results.json says only that the grader failed."""
    from autograder.classroom.gradebook import results_document
    from autograder.config import load_config

    config = load_config(ROOT / "assignments" / "hw_rnn" / "assignment.yaml")
    record = {"student": "s", "status": "error", "error_kind": "grader", "reason": "the grader failed: SECRET 5x3x7"}
    doc = results_document(record, {}, config)
    assert "SECRET" not in doc["output"] and "the grader itself failed" in doc["output"]
    assert doc["extra_data"]["reason"] == record["reason"]
    doc = results_document({**record, "error_kind": "submission", "reason": "the zip does not open"}, {}, config)
    assert doc["output"].endswith("the zip does not open")
