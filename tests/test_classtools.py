"""Class tools over a graded class: similarity report, bug clusters with staff comments, regrade preview.

Every class here is graded by the real ``grade-all``; the findings asserted are the ones the
submissions were built to hold (a renamed copy, a notebook copy, shared single-bug mutants).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from classroom import CORPUS
from conftest import (
    CONFIG,
    NBGRADER_SOURCE,
    ROOT,
    SOLUTIONS,
    TEMPLATES,
    grade_cli,
    make_submission,
    run_cli,
    write_config,
)

from autograder.integrations.notebooks import dumps, fill

LOOPS = ROOT / "tests" / "submissions" / "variants" / "loops"
_NORM, _STEP = "        norms[t] = np.linalg.norm(ds)\n", "        _, ds, _, _, _ = rnn_step_backward(ds, caches[t])\n"
NORMS_AFTER_STEP = {"file": "sequence_models.py", "find": _NORM + _STEP, "replace": _STEP + _NORM}
MUTANT_A = next(m for m in CORPUS if m["name"] == "rnn_step_backward_db_mean")
MUTANT_B = next(m for m in CORPUS if m["name"] == "lstm_step_backward_bias_mean")
# Two rare bugs in two functions, handed in by the same two students.
TWO_BUGS = [e for m in CORPUS if m["name"] in ("output_backward_dv_transposed", "adagrad_missing_square")
            for e in m["edits"]]
FILES = ("rnn_layers.py", "lstm_layers.py", "char_rnn.py", "quiz.py", "sequence_models.py")
# Local names only (never a parameter: the grader may pass arguments by name).
RENAMES = {"a_n": "pre_activation", "da_n": "grad_pre", "N": "rows", "H": "width"}
SHORT = {  # 3-line bodies two students could well write alike, on top of the template
    "sigmoid": ('raise NotImplementedError("sigmoid is not implemented yet")',
                "z = np.asarray(z, dtype=np.float64)\n    out = 1.0 / (1.0 + np.exp(-z))\n    return out",
                "lstm_layers.py"),
    "step": ('raise NotImplementedError("rnn_step_forward is not implemented yet")',
             "a = b + s_prev @ W.T + x_t @ U.T\n    s_next = np.tanh(a)\n"
             "    return s_next, (x_t, s_prev, s_next, U, W)",
             "rnn_layers.py"),
}


def renamed_copy(folder: Path) -> Path:
    """The loops variant with its local variables renamed and its comments reworded."""
    make_submission(folder, base=LOOPS)
    for name in FILES:
        path = folder / name
        text = path.read_text()
        for old, new in RENAMES.items():
            text = re.sub(rf"(?<![.\w]){old}\b", new, text)
        path.write_text(re.sub(r"# (\w)", r"# note: \1", text))
    return folder


def short_function(folder: Path, which: str) -> Path:
    make_submission(folder, base=TEMPLATES)
    find, replace, file = SHORT[which]
    path = folder / file
    path.write_text(path.read_text().replace(find, replace))
    return folder


def grade_all(src: Path, out: Path, *extra: str):
    return run_cli("grade-all", str(src), "--out", str(out), "--jobs", "2", "--no-progress", *extra, timeout=900)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("classtools")
    src = base / "class"
    make_submission(src / "copy_a", base=LOOPS)
    renamed_copy(src / "copy_b")
    notebook = src / "nb_copy" / "hw_rnn.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text(dumps(fill(NBGRADER_SOURCE, renamed_copy(base / "nb_source"), FILES)))
    make_submission(src / "ref", base=SOLUTIONS)
    for k in (1, 2):
        make_submission(src / f"tpl{k}", base=TEMPLATES)
        short_function(src / f"sig{k}", "sigmoid")
        short_function(src / f"step{k}", "step")
    for k in (1, 2, 3):
        make_submission(src / f"mut_a{k}", MUTANT_A["edits"])
    # Two bugs: mutant A's and a wrong quiz answer; mutant A's and the norms one step off, which another
    # student has alone (rnn_step_backward's db does not reach the norms, whatever hint the norms carry).
    make_submission(src / "mut_a_quiz", [*MUTANT_A["edits"], {"file": "quiz.py", "find": '"markov_property": 2',
                                                              "replace": '"markov_property": 1'}])
    make_submission(src / "mut_a_norms", [*MUTANT_A["edits"], NORMS_AFTER_STEP])
    # The same wrong answer as mut_a_quiz's, and one more: each wrong answer is one cluster.
    make_submission(src / "two_answers", [{"file": "quiz.py", "find": '"markov_property": 2',
                                           "replace": '"markov_property": 1'},
                                          {"file": "quiz.py", "find": '"s_t_plus_2": 4', "replace": '"s_t_plus_2": 3'}])
    make_submission(src / "norms", [NORMS_AFTER_STEP])
    for k in (1, 2):
        make_submission(src / f"mut_b{k}", MUTANT_B["edits"])
        make_submission(src / f"two_bugs{k}", TWO_BUGS)
    out = base / "out"
    proc = grade_all(src, out)
    assert proc.returncode == 0, proc.stderr
    return src, out, proc


def similarity_rows(out: Path) -> dict[frozenset, dict]:
    with open(out / "similarity" / "similarity.csv", newline="") as f:
        return {frozenset((r["student_a"], r["student_b"])): r for r in csv.DictReader(f)}


def grades(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


# -- similarity ----------------------------------------------------------------------------------
def test_renamed_and_notebook_copies_are_flagged(graded):
    _, out, proc = graded
    rows = grades(out)
    # The renamed copy is correct code: the rename changed nothing the grader sees.  (The notebook lacks the
    # variant's private helper, which fill() does not carry into the marked cells: it loses the LSTM's points.)
    assert rows["copy_b"]["total"] == rows["copy_a"]["total"] == rows["ref"]["total"]
    assert "Graded the notebook hw_rnn.ipynb" in rows["nb_copy"]["note"]
    pairs = similarity_rows(out)
    for pair in (("copy_a", "copy_b"), ("copy_a", "nb_copy"), ("copy_b", "nb_copy")):
        row = pairs[frozenset(pair)]
        assert "code" in row["flagged"], row
        assert min(float(row["code_similarity_a"]), float(row["code_similarity_b"])) > 0.8, row
    # An independent correct solution (the reference) is not a copy of the loops variant.
    assert "code" not in pairs.get(frozenset(("copy_a", "ref")), {}).get("flagged", "")
    assert "similarity: " in proc.stderr and "copy_a/copy_b" in proc.stderr
    # Only the student's own code is kept: the notebook's graded cells, never the reference.
    kept = (out / "code" / "nb_copy" / "rnn_layers.py").read_text()
    assert "pre_activation" in kept and "BEGIN SOLUTION" not in kept
    assert not any("BEGIN SOLUTION" in p.read_text() for p in (out / "code" / "copy_a").glob("*.py"))


def test_templates_and_short_functions_are_not_flagged(graded):
    _, out, _ = graded
    pairs = similarity_rows(out)
    assert frozenset(("tpl1", "tpl2")) not in pairs  # nothing of their own to compare
    for a, b in (("sig1", "sig2"), ("step1", "step2"), ("tpl1", "sig1"), ("tpl2", "step1")):
        assert "code" not in pairs.get(frozenset((a, b)), {}).get("flagged", ""), (a, b)
    # The short functions are kept and were compared: identical, yet too short to count.
    assert "np.exp(-z)" in (out / "code" / "sig1" / "lstm_layers.py").read_text()


def test_identical_wrong_values_are_a_second_signal(graded):
    _, out, _ = graded
    raw = {s: json.loads((out / "raw" / f"{s}.json").read_text()) for s in ("mut_a1", "mut_b1", "mut_b2", "ref")}
    assert raw["ref"]["digests"] == {}
    failed = {t["name"] for t in raw["mut_b1"]["results"]["tests"] if t["score"] < t["max_score"]}
    assert raw["mut_b1"]["digests"] and set(raw["mut_b1"]["digests"]) <= failed
    assert raw["mut_b1"]["digests"] == raw["mut_b2"]["digests"]  # the same bug, the same bits
    # A failed numerical-gradient check keeps the wrong gradient's digest too.
    from autograder.config import load_config

    gradchecks = {t.full_name for t in load_config(ROOT / "assignments" / "hw_rnn" / "assignment.yaml").tests
                  if t.kind == "gradcheck"}
    assert set(raw["mut_b1"]["digests"]) & gradchecks & failed
    assert not set(raw["mut_a1"]["digests"].values()) & set(raw["mut_b1"]["digests"].values())
    # The digests never reach what the student sees.
    doc = json.loads((out / "results" / "mut_b1.json").read_text())
    assert not any(d in json.dumps(doc) for d in raw["mut_b1"]["digests"].values())
    pairs = similarity_rows(out)
    # One rare bug in common repeats its wrong values in every test it fails (and its callers'): one piece of
    # evidence, listed, not flagged; two rare bugs in two functions are flagged.
    one = pairs[frozenset(("mut_b1", "mut_b2"))]
    assert int(one["rare_identical_wrong_values"]) >= 2 and one["functions_with_rare_values"] == "lstm_step_backward"
    assert "wrong_values" not in one["flagged"], one
    two = pairs[frozenset(("two_bugs1", "two_bugs2"))]
    assert set(two["functions_with_rare_values"].split("; ")) == {"output_backward", "adagrad_update"}, two
    assert "wrong_values" in two["flagged"], two
    # Three students share mutant A's values: a common bug, not counted as evidence.
    row = pairs[frozenset(("mut_a1", "mut_a2"))]
    assert "wrong_values" not in row["flagged"] and int(row["identical_wrong_values"]) > 0
    assert int(row["rare_identical_wrong_values"]) == 0


def test_similarity_command_and_html_report(graded, tmp_path):
    _, out, _ = graded
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "similarity")
    proc = run_cli("similarity", str(copy))
    assert proc.returncode == 0, proc.stderr
    assert similarity_rows(copy) == similarity_rows(out)
    html = (copy / "similarity" / "report.html").read_text()
    section = html[html.index("<h2>copy_a and copy_b</h2>"):]
    section = section[:section.index("</div></div>")]
    assert section.count("<mark>") >= 2 and "pre_activation" in section and "a_n" in section
    strict = run_cli("similarity", str(copy), "--min-overlap", "1000000")
    assert strict.returncode == 0, strict.stderr
    assert "code" not in similarity_rows(copy)[frozenset(("copy_a", "copy_b"))]["flagged"]
    bad = run_cli("similarity", str(copy), "--threshold", "1.5")  # no pair could ever be flagged
    assert bad.returncode == 2 and "a share of the code, above 0 and at most 1" in bad.stderr


# -- bug clusters -------------------------------------------------------------------------------------------
def test_clusters_hold_exactly_the_students_with_one_bug(graded):
    """One cluster per bug: every student with mutant A's bug, the one with a second bug too, who is also in a
    cluster of their own for it; the functions the bug breaks are in its cluster; never two bugs in one."""
    from autograder.classroom.clusters import clusters, independent_functions
    from autograder.classroom.gradebook import load_records
    from autograder.config import load_config

    _, out, _ = graded
    found = clusters(load_records(out), independent_functions(load_config(CONFIG)))
    of: dict[str, list] = {}
    for c in found:
        for m in c.members:
            of.setdefault(m, []).append(c)
    a = next(c for c in of["mut_a1"])
    assert of["mut_a1"] == [a] and a.members == ["mut_a1", "mut_a2", "mut_a3", "mut_a_norms", "mut_a_quiz"]
    assert [c.members for c in of["norms"]] == [["mut_a_norms", "norms"]]
    assert {t.split(":")[0] for t, _ in a.signature} == set(MUTANT_A["breaks"])  # the bug and what it breaks
    quiz = [c for c in of["mut_a_quiz"] if c is not a]
    assert len(quiz) == 1 and quiz[0].members == ["mut_a_quiz", "two_answers"]
    assert {t.split(":")[0] for t, _ in quiz[0].signature} == {"answers"} and len(quiz[0].signature) == 1
    other = [c for c in of["two_answers"] if c is not quiz[0]]
    assert [c.members for c in other] == [["two_answers"]] and other[0].signature[0][0] != quiz[0].signature[0][0]
    assert [c.members for c in of["mut_b1"]] == [["mut_b1", "mut_b2"]] and of["mut_b1"][0].id != a.id
    for student in ("copy_a", "copy_b", "ref"):  # every test passed
        assert student not in of
    assert [c.members for c in of["nb_copy"]] == [["nb_copy"]]  # its own failure (the missing LSTM helper)
    # The untouched templates fail alike everywhere: every cluster of one holds the other.
    assert all("tpl2" in c.members for c in of["tpl1"]) and all("tpl1" in c.members for c in of["tpl2"])
    summary = (out / "summary.md").read_text()
    section = summary[summary.index("## Bug clusters"):summary.index("## Per function")]
    assert f"| {a.id} | 5 | mut_a1, mut_a2, mut_a3, mut_a_norms, mut_a_quiz |" in section
    assert f"| {of['mut_b1'][0].id} | 2 | mut_b1, mut_b2 |" in section
    assert section.index(a.id) < section.index(of["mut_b1"][0].id)  # largest first
    assert "rnn_step_backward" in section.split(a.id)[1].splitlines()[0]


def test_two_bugs_failing_the_same_tests_alike_are_two_clusters(tmp_path):
    """db divided by N and db multiplied by N fail the same tests (both right when N = 1) with messages equal once
    numbers are stripped; the wrong values differ, so they are two clusters; the same bug written another way
    stays in its cluster."""
    from autograder.classroom.clusters import clusters

    bugs = {"mean1": ("    db = da.sum(axis=0)\n", "    db = da.mean(axis=0)\n"),
            "mean2": ("    db = da.sum(axis=0)\n", "    db = da.sum(axis=0) / len(da)\n"),
            "times_n": ("    db = da.sum(axis=0)\n", "    db = da.sum(axis=0) * len(da)\n"),
            # dU of the wrong shape two ways: (D, H) and (H, H) where (H, D) belongs.
            "du_swapped": ("    dU = da.T @ x_t\n", "    dU = x_t.T @ da\n"),
            "du_of_state": ("    dU = da.T @ x_t\n", "    dU = da.T @ s_prev\n")}
    records = {}
    for student, (find, replace) in bugs.items():
        folder = make_submission(tmp_path / student, [{"file": "rnn_layers.py", "find": find, "replace": replace}])
        records[student] = {"status": "graded", "results": grade_cli(folder, tmp_path)[1]}
    lost = {s: [t["name"] for t in r["results"]["tests"] if t["score"] < t["max_score"]] for s, r in records.items()}
    assert lost["mean1"] == lost["times_n"] and lost["mean1"]
    found = clusters(records)
    by_member = {m: c.id for c in found for m in c.members}
    assert by_member["mean1"] == by_member["mean2"] != by_member["times_n"]
    # Never one cluster for two bugs, not even one of a caller that sees both alike (Adagrad divides the factor
    # out of training), nor of two wrong shapes.
    for pair in (("mean1", "times_n"), ("du_swapped", "du_of_state"), ("mean1", "du_swapped")):
        assert not [c.id for c in found if set(pair) <= set(c.members)], pair
    # What the caller shows alike for both db bugs stays with each bug's cluster, outside its id.
    echoed = {t for t in lost["mean1"] if t.startswith("train_char_rnn:")} & set(lost["times_n"])
    for student in ("mean1", "times_n"):
        cluster = next(c for c in found if student in c.members)
        assert echoed and echoed <= set(cluster.echoes) | {t for t, _ in cluster.signature}, (student, cluster)


def test_a_callers_failure_goes_with_the_bug_that_explains_it(tmp_path):
    """Training that never clips fails as training beside a clipping function that never clips: the second
    student's training failure (the grader puts it down to clip_gradients) is in their clip_gradients cluster,
    the first students' in a cluster of their own; a bug every holder of an echo does not share (the db bug,
    beside students with the norms bug alone) explains nothing."""
    from autograder.classroom.clusters import clusters

    never_clips = {"file": "char_rnn.py", "find": "        grads, _ = clip_gradients(grads, max_norm)\n",
                   "replace": ""}
    clip_does_nothing = {"file": "rnn_layers.py", "find": "scale = max_norm / total_norm if total_norm > max_norm "
                         "else 1.0", "replace": "scale = 1.0"}
    students = {"no_clip1": [never_clips], "no_clip2": [never_clips], "clip_noop": [clip_does_nothing],
                "db": MUTANT_A["edits"], "db_norms": [*MUTANT_A["edits"], NORMS_AFTER_STEP],
                "norms": [NORMS_AFTER_STEP]}
    records = {s: {"status": "graded", "results": grade_cli(make_submission(tmp_path / s, edits), tmp_path)[1]}
               for s, edits in students.items()}
    lost = {s: {t["name"].split(":")[0] for t in r["results"]["tests"] if t["score"] < t["max_score"]}
            for s, r in records.items()}
    assert lost["no_clip1"] == {"train_char_rnn"} and lost["clip_noop"] == {"clip_gradients", "train_char_rnn"}
    training = [t["output"] for t in records["clip_noop"]["results"]["tests"]
                if t["name"].startswith("train_char_rnn") and t["score"] < t["max_score"]]
    assert training and all("fix it first" in o and "clip_gradients" in o for o in training), training
    found = clusters(records)
    of = {s: [c for c in found if s in c.members] for s in students}
    assert [c.members for c in of["no_clip1"]] == [["no_clip1", "no_clip2"]]
    assert len(of["clip_noop"]) == 1 and of["clip_noop"][0].members == ["clip_noop"]
    assert {t.split(":")[0] for t, _ in of["clip_noop"][0].signature} == {"clip_gradients", "train_char_rnn"}
    assert [c.members for c in of["norms"]] == [["db_norms", "norms"]]


@pytest.fixture
def small_class(tmp_path):
    src = tmp_path / "class"
    for k in (1, 2):
        make_submission(src / f"bug{k}", MUTANT_A["edits"])
    make_submission(src / "good")
    make_submission(src / "blank", base=TEMPLATES)
    return src


def test_cluster_comment_reaches_members_and_survives_regrades(small_class, tmp_path):
    from autograder.classroom.clusters import clusters
    from autograder.classroom.gradebook import load_records

    out = tmp_path / "out"
    assert grade_all(small_class, out, "--no-similarity").returncode == 0
    assert not (out / "similarity").exists()
    cluster = next(c for c in clusters(load_records(out)) if "bug1" in c.members)
    text = "You averaged db over the batch: a bias gradient sums over it (see lecture 7)."
    proc = run_cli("comment", str(out), "--cluster", cluster.id, "--text", text)
    assert proc.returncode == 0, proc.stderr
    assert "attached to 2 students: bug1, bug2" in proc.stdout

    def check() -> None:
        rows = grades(out)
        for student in ("bug1", "bug2"):
            assert text in (out / "feedback" / f"{student}.md").read_text()
            doc = json.loads((out / "results" / f"{student}.json").read_text())
            assert text in doc["output"] and doc["extra_data"]["comments"][0]["cluster"] == cluster.id
            assert f"staff comment: {text}" in rows[student]["note"]
        for student in ("good", "blank"):
            assert text not in (out / "feedback" / f"{student}.md").read_text()
            assert "staff comment" not in rows[student]["note"]
        assert text in (out / "summary.md").read_text()

    check()
    assert grade_all(small_class, out, "--regrade", "--no-similarity").returncode == 0
    check()
    assert run_cli("regrade", str(out), "--student", "bug1", "--no-progress").returncode == 0
    check()
    proc = run_cli("comment", str(out), "--student", "blank", "--text", "Nothing was implemented; see me.")
    assert proc.returncode == 0 and "Nothing was implemented" in (out / "feedback" / "blank.md").read_text()

    bad = run_cli("comment", str(out), "--cluster", "cffffff", "--text", "x")
    assert bad.returncode == 2 and "no cluster 'cffffff'" in bad.stderr
    bad = run_cli("comment", str(out), "--student", "nobody", "--text", "x")
    assert bad.returncode == 2 and "no graded student 'nobody'" in bad.stderr
    bad = run_cli("comment", str(out), "--student", "blnk", "--text", "x")
    assert bad.returncode == 2 and "did you mean blank?" in bad.stderr
    before = (out / "comments.yaml").read_text()
    for broken, message in (({"bug1": [{"text": ""}]}, "not empty"), ({"bug1": "hello"}, "expected a list"),
                            ({"ghost": [{"text": "hi"}]}, "no graded student 'ghost'"),
                            ({"bug1": [{"text": "hi", "cluster": 7}]}, "cluster must be a text")):
        (out / "comments.yaml").write_text(yaml.safe_dump(broken))
        proc = run_cli("feedback", str(out))
        assert proc.returncode == 2 and "comments.yaml" in proc.stderr and message in proc.stderr, proc.stderr
    (out / "comments.yaml").write_text(before)
    assert run_cli("comment", str(out), "--cluster", cluster.id, "--remove").returncode == 0
    assert text not in (out / "feedback" / "bug1.md").read_text()
    assert "Nothing was implemented" in (out / "feedback" / "blank.md").read_text()


# -- regrade preview ------------------------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def preview_lines(stdout: str) -> dict[tuple[str, str], tuple[str, str]]:
    found = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r"(\S+) \| (.+?) \| ([-\d.e+]+) -> ([-\d.e+]+)(?: \| .*)?", line)
        if m:
            found[m.group(1), m.group(2)] = (m.group(3), m.group(4))
    return found


def test_a_change_a_time_limit_decided_is_marked_in_the_preview(tmp_path):
    """quiz.answers() takes 1.5 s: past a call limit of 1 s, within one of 8 s.  The preview of the regrade with
    the longer limit lists its quiz tests as changed and says a time limit decided them (a run on a busier
    machine could decide otherwise); an unchanged student's row is not marked."""
    src = tmp_path / "class"
    make_submission(src / "slow", [{"file": "quiz.py", "find": "    return {\n",
                                    "replace": "    import time\n\n    time.sleep(1.5)\n    return {\n"}])
    make_submission(src / "good")
    (tmp_path / "short").mkdir()
    (tmp_path / "long").mkdir()
    short = write_config(tmp_path / "short", limits={"call_seconds": 1})
    long = write_config(tmp_path / "long", limits={"call_seconds": 8})
    out = tmp_path / "out"
    assert grade_all(src, out, "--config", str(short), "--no-similarity").returncode == 0
    proc = run_cli("regrade", str(out), "--dry-run", "--config", str(long), "--no-progress", timeout=900)
    assert proc.returncode == 0, proc.stderr
    changed = [ln for ln in proc.stdout.splitlines() if ln.startswith("slow | answers: ")]
    assert len(changed) == 5, proc.stdout
    assert all(ln.split(" | ")[2] == "0 -> 1" and "a call's time limit decided this score" in ln for ln in changed)
    assert not any(ln.startswith("good |") for ln in proc.stdout.splitlines()), proc.stdout


def test_preview_lists_exactly_what_the_regrade_changes(small_class, tmp_path):
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    config = write_config(cfg_dir)
    out = tmp_path / "out"
    assert grade_all(small_class, out, "--config", str(config), "--no-similarity").returncode == 0
    run_cli("override", str(out), "--student", "blank", "--test", "rnn_step_forward: matches the reference",
            "--score", "1", "--reason", "partial credit")
    before = snapshot(out)
    raw = yaml.safe_load(config.read_text())
    # A test's points (every student who passes it gains), and a tolerance so loose that mutant A's
    # wrong db passes rnn_step_backward's reference-gradient test.
    changed_points, loosened = None, None
    for q in raw["questions"]:
        for t in q["tests"]:
            if q["function"] == "rnn_step_forward" and t["kind"] == "forward" and changed_points is None:
                changed_points, t["points"] = f"rnn_step_forward: {t['name']}", t["points"] + 1
            if q["function"] == "rnn_step_backward" and t["kind"] == "reference_gradient" and loosened is None:
                loosened, t["tolerance"] = f"rnn_step_backward: {t['name']}", {"rtol": 10.0, "atol": 10.0}
    assert changed_points and loosened
    config.write_text(yaml.safe_dump(raw, sort_keys=False))

    proc = run_cli("regrade", str(out), "--dry-run", "--config", str(config), "--no-progress", timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(out) == before  # nothing in OUTDIR was written
    lines = preview_lines(proc.stdout)
    old_rows = grades(out)
    listed = {(s, t) for s, t in lines if t != "total"}
    expected = {("good", changed_points), ("bug1", changed_points), ("bug2", changed_points),
                ("bug1", loosened), ("bug2", loosened)}
    assert listed == expected, proc.stdout  # blank's pinned override and failing tests do not move
    assert lines["bug1", loosened] == ("0", lines["bug1", loosened][1]) and float(lines["bug1", loosened][1]) > 0
    said = "the config or the reference solution differs from the one these grades were made with (edited since: "
    assert f"{said}{config}" in proc.stdout, proc.stdout  # the file the TA edited, named
    assert proc.stdout.rstrip().endswith(f"apply with `python -m autograder regrade {out} --all`"), proc.stdout
    for student in ("good", "bug1", "bug2"):
        assert lines[student, "total"][0] == old_rows[student]["total"]

    proc = run_cli("regrade", str(out), "--all", "--config", str(config), "--no-progress", timeout=900)
    assert proc.returncode == 0, proc.stderr
    new_rows = grades(out)
    for student in ("good", "bug1", "bug2"):
        assert new_rows[student]["total"] == lines[student, "total"][1]
    assert new_rows["blank"]["total"] == old_rows["blank"]["total"]
    again = run_cli("regrade", str(out), "--dry-run", "--config", str(config), "--no-progress", timeout=900)
    assert again.returncode == 0 and "no score would change" in again.stdout


def test_vectorised_matching_equals_copydetects_compare_files():
    """similarity.match_spans is copydetect.compare_files without its per-hash loop: the same numbers and spans."""
    import itertools

    import numpy as np
    from copydetect import compare_files

    from autograder.classroom import similarity

    t = similarity.Thresholds()
    texts = [similarity.student_text(folder, FILES) for folder in (SOLUTIONS, TEMPLATES, LOOPS)]
    texts += [texts[0].replace("s_prev", "h_before"), texts[2][: len(texts[2]) // 3], "x = 1\n", ""]
    boilerplate = similarity.boilerplate_hashes(TEMPLATES, FILES, t)
    prints = [similarity._fingerprint(text, t, boilerplate) for text in texts]
    compared = 0
    for a, b in itertools.combinations(prints, 2):
        want, got = compare_files(a, b), similarity.match_spans(a, b)
        assert want[0] == got[0] and np.allclose(want[1], got[1])
        assert all(np.array_equal(w, g) for w, g in zip(want[2], got[2]))
        compared += bool(want[0])
    assert compared >= 4  # pairs with matches were compared, not only empty ones
    # The fingerprints do not depend on the process (copydetect's own hash() does).
    code = "from autograder.classroom.similarity import kgram_hashes; print(kgram_hashes('V=V.V(V)+1', 5).tolist())"
    runs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "random")}
    assert len(runs) == 1 and len(json.loads(runs.pop())) == 6
    assert len(set(similarity.kgram_hashes("abcdefgh", 3).tolist())) == 6


def test_file_by_file_filtering_equals_filtering_the_whole_text():
    """similarity.filtered_code lexes each graded file once per process and joins: the filtered text of the whole
    student text, and every filtered position maps back to the same raw position (copydetect's offsets)."""
    import numpy as np
    from copydetect.utils import filter_code

    from autograder.classroom import similarity

    def raw_positions(filtered, offsets):
        at = np.arange(len(filtered))
        return at + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], at), 0, offsets.shape[0] - 1)]

    whole = [similarity.student_text(folder, FILES) for folder in (SOLUTIONS, TEMPLATES, LOOPS)]
    # A file with no trailing newline, one that ends inside a string, comments and blank lines at the ends.
    odd = {"rnn_layers.py": "x = 1", "char_rnn.py": "s = '''never closed\n", "lstm_layers.py": "\n\n# c\n\n"}
    whole.append("".join(f"# ===== {name} =====\n{code}\n" for name, code in odd.items()))
    for text in whole:
        want, want_offsets = filter_code(text, "submission.py")
        got, got_offsets = similarity.filtered_code(text)
        if "never closed" in text:  # an unclosed string ends with its file, not at the end of the student's text
            assert "S" in got and got.count("V") >= 2
            continue
        assert got == want
        assert np.array_equal(raw_positions(got, got_offsets), raw_positions(want, want_offsets))


def test_students_with_the_same_text_share_one_comparison(monkeypatch):
    """Copies of one text are fingerprinted and compared once, with the same figures as every other pair."""
    from autograder.classroom import similarity

    reference, template, loops = (similarity.student_text(f, FILES) for f in (SOLUTIONS, TEMPLATES, LOOPS))
    texts = {"a": reference, "b": reference, "c": reference, "d": loops, "e": template, "f": loops}
    calls = {"fingerprint": 0, "match": 0}
    for name, key in (("_fingerprint", "fingerprint"), ("_code_match", "match")):
        real = getattr(similarity, name)
        monkeypatch.setattr(similarity, name, lambda *a, _real=real, _key=key, **k: (
            calls.__setitem__(_key, calls[_key] + 1), _real(*a, **k))[1])
    pairs = {(p.a, p.b): p for p in similarity.compare(texts, {}, TEMPLATES, FILES)}
    # 3 distinct texts (+ the templates' boilerplate, fingerprinted on its own); 15 pairs of students, but only
    # the ordered pairs of distinct texts met in the students' order: (ref, ref), (ref, loops), (ref, tpl),
    # (loops, tpl), (tpl, loops), (loops, loops).
    assert calls["match"] == 6
    assert calls["fingerprint"] == 3 + len(list(TEMPLATES.glob("*.py"))) + 1
    assert pairs["a", "b"].similarity == pairs["a", "c"].similarity == pairs["b", "c"].similarity == (1.0, 1.0)
    assert pairs["a", "d"].similarity == pairs["b", "f"].similarity == pairs["c", "d"].similarity
    assert pairs["a", "d"].overlap == pairs["c", "f"].overlap > 0
    # The same result as comparing the distinct texts alone.
    alone = {(p.a, p.b): p for p in similarity.compare({"a": reference, "d": loops}, {}, TEMPLATES, FILES)}
    assert alone["a", "d"].similarity == pairs["b", "d"].similarity
    assert alone["a", "d"].overlap == pairs["b", "d"].overlap


def test_fingerprints_and_pairs_in_parallel_give_the_serial_result(monkeypatch):
    """compare's forked processes (a large class) change nothing: the same pairs, figures and spans."""
    import numpy as np

    from autograder.classroom import similarity

    monkeypatch.setattr(similarity, "PARALLEL_FROM", 2)  # parallel even for this small class
    reference, template, loops = (similarity.student_text(f, FILES) for f in (SOLUTIONS, TEMPLATES, LOOPS))
    texts = {"a": reference, "b": loops, "c": template, "d": reference.replace("s_prev", "h_before"),
             "e": loops.replace("dx", "grad_x"), "f": reference, "g": loops[: len(loops) // 2], "h": ""}
    digests = {"a": {"t1": "x", "t2": "y"}, "d": {"t1": "x", "t2": "y"}}

    def figures(pairs):
        return [(p.a, p.b, p.similarity, p.overlap, p.code_flag, p.values_flag, p.shared_values,
                 [np.asarray(s).tolist() for s in p.slices]) for p in pairs]

    serial = figures(similarity.compare(texts, digests, TEMPLATES, FILES, jobs=1))
    assert len(serial) >= 10 and any(p[4] for p in serial) and any(p[5] for p in serial)
    for jobs in (2, 3):
        assert figures(similarity.compare(texts, digests, TEMPLATES, FILES, jobs=jobs)) == serial


def test_report_marks_code_not_docstrings_or_comments():
    """report.html marks matched code only: a match running across a docstring or a comment leaves them unmarked,
    and no mark starts or ends inside a name."""
    from autograder.classroom import similarity

    text = ('def f(x):\n    """Return x doubled.\n\n    A long docstring.\n    """\n    # a comment\n'
            '    yy = x * 2\n    return yy\n')
    # copydetect's spans may start or end inside a name.
    start, end = text.index("ef f"), text.index("return yy") + len("return y")
    shown = [text[a:b] for a, b in similarity.shown_spans(text, ([start], [end]))]
    assert shown == ["def f(x):", "yy = x * 2\n    return yy"]
    html = similarity._marked(text, ([start], [end]))
    assert "<mark>def f(x):</mark>" in html and "doubled" in html and "<mark>yy = x * 2" in html
    assert html.count("<mark>") == 2


def test_the_terminal_line_names_each_signals_pairs():
    """Many code matches must not hide the one pair flagged for identical wrong values."""
    from autograder.classroom import similarity

    pairs = [similarity.Pair(f"a{k}", f"b{k}", (0.9, 0.9), 500, code_flag=True) for k in range(7)]
    pairs.append(similarity.Pair("x", "y", values_flag=True))
    line = similarity.describe(pairs, Path("report.html"))
    assert line.startswith("similarity: 8 pairs flagged (7 for code: a0/b0, ")
    assert "a4/b4 ...; 1 for identical wrong values: x/y)" in line and "a5/b5" not in line


def test_a_student_named_instead_of_their_id_is_pointed_to_the_id():
    from autograder.classroom.gradebook import no_such_student

    records = {"1002": {"name": "Bob Brown"}, "1003": {"name": "Alice Anders"}, "1004": {"name": ""}}
    records["1005"] = {"name": "José Núñez"}
    for given in ("Bob Brown", "brown bob", "brownbob", "Brown, Bob", "bob"):
        assert "did you mean 1002 (Bob Brown)?" in no_such_student(given, records, Path("out")), given
    assert "did you mean 1005 (José Núñez)?" in no_such_student("jose nunez", records, Path("out"))
    assert "did you mean" not in no_such_student("zed", records, Path("out"))


def test_a_long_failure_message_ends_at_a_word_in_summary_tables(tmp_path):
    """A message longer than clusters keep is shown in summary.md's cluster and per-test tables cut at a word,
    with an ellipsis, never mid-word."""
    from autograder.classroom.analysis import summary
    from autograder.config import load_config

    sub = make_submission(tmp_path / "long", [{
        "file": "rnn_layers.py", "find": "def rnn_step_forward(x_t, s_prev, U, W, b):",
        "replace": "def rnn_step_forward(x_t, s_prev, U, W, b):\n    raise ValueError('QWERTYUIOP ' * 40)"}])
    results = grade_cli(sub, tmp_path)[1]
    records = {s: {"status": "graded", "student": s, "results": results} for s in ("ann", "bob")}
    docs = {s: r["results"] for s, r in records.items()}
    (tmp_path / "out").mkdir()
    text = summary(tmp_path / "out", records, docs, load_config(CONFIG))
    assert "## Per test" in text and "cluster" in text
    words = re.findall(r"Q[A-Z]*", text)
    assert words and set(words) == {"QWERTYUIOP"}, text  # never a word cut short
    assert "QWERTYUIOP…`" in text


def test_a_wrong_value_counts_as_rare_by_hand_ins_and_by_how_students_fail():
    """Rarity is judged by hand-ins, not rows (a group's two members are one), and by the failure's message with
    its values to 3 digits, not the last bits: a third student with the same bug written in another order makes
    it common although their bits differ."""
    from autograder.classroom.similarity import compare

    both = {"f: t1": "m1", "g: t2": "m2"}
    digests = {"a": {"f: t1": "x", "g: t2": "y"}, "b": {"f: t1": "x", "g: t2": "y"},
               "c": {"f: t1": "x2", "g: t2": "y2"},  # the same bugs, other bits
               **{s: {"f: t1": "u", "g: t2": "v"} for s in ("d1", "d2", "e")}}
    messages = {"a": both, "b": both, "c": both, **{s: {"f: t1": "m3", "g: t2": "m4"} for s in ("d1", "d2", "e")}}
    pairs = {frozenset((p.a, p.b)): p for p in compare({s: "" for s in digests}, digests, None,
                                                        groups={"d1": "group", "d2": "group"}, messages=messages)}
    assert not pairs[frozenset(("a", "b"))].values_flag  # three students fail alike: a common bug
    assert [k for _, k in pairs[frozenset(("a", "b"))].shared_values] == [3, 3]
    for pair in (("d1", "e"), ("d2", "e")):  # two hand-ins: rare, in two functions
        assert pairs[frozenset(pair)].values_flag and pairs[frozenset(pair)].bugs == ("f", "g"), pair
    assert frozenset(("d1", "d2")) not in pairs  # one hand-in
