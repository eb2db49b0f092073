"""Reading class folders and unpacking untrusted zips (no grading here: these are fast)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest
from conftest import FILES, make_submission

from autograder.layouts import (
    ArchiveLimits,
    Entry,
    LayoutError,
    SubmissionProblem,
    discover,
    extract_zip,
    fingerprint,
    prepare,
    safe_names,
)
from autograder.submission import locate


def write_zip(path: Path, members: dict[str, bytes], encrypted: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    if encrypted:  # zipfile cannot encrypt: set the "encrypted" flag bit in the local and central headers
        data = bytearray(path.read_bytes())
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = data.find(signature)
            data[at + offset] |= 0x1
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/tmp/evil.py", "..\\evil.py", "C:/evil.py",
                                  "C:\\evil.py"])
def test_zip_members_outside_the_folder_are_refused(tmp_path, name):
    archive = write_zip(tmp_path / "s.zip", {"rnn_layers.py": b"x = 1\n", name: b"print('escaped')\n"})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(SubmissionProblem, match="points outside the submission folder"):
        extract_zip(archive, dest)
    assert list(dest.rglob("*")) == []  # refused before anything is written
    assert not list(tmp_path.rglob("evil.py"))


def test_links_passwords_and_size_limits_are_refused(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("lstm_layers.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(SubmissionProblem, match="symbolic link"):
        extract_zip(link, dest)
    with pytest.raises(SubmissionProblem, match="password-protected"):
        extract_zip(write_zip(tmp_path / "p.zip", {"a.py": b"x"}, encrypted=True), dest)
    many = write_zip(tmp_path / "many.zip", {f"f{i}.py": b"x" for i in range(6)})
    with pytest.raises(SubmissionProblem, match="6 members"):
        extract_zip(many, dest, ArchiveLimits(max_members=5))
    big = write_zip(tmp_path / "big.zip", {"a.py": os.urandom(30_000), "b.py": os.urandom(30_000)})
    with pytest.raises(SubmissionProblem, match="per file"):
        extract_zip(big, dest, ArchiveLimits(max_file_mb=0.02))
    with pytest.raises(SubmissionProblem, match="unpacks to"):
        extract_zip(big, dest, ArchiveLimits(max_total_mb=0.05))
    bomb = write_zip(tmp_path / "bomb.zip", {"a.py": b"\0" * (3 << 20)})
    with pytest.raises(SubmissionProblem, match="zip bomb"):
        extract_zip(bomb, dest)
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SubmissionProblem, match="not a valid zip file"):
        extract_zip(tmp_path / "bad.zip", dest)


def test_a_zipped_folder_is_found_inside_the_zip(tmp_path):
    sub = make_submission(tmp_path / "sub")
    members = {f"alice/hw_rnn/{f}": (sub / f).read_bytes() for f in FILES}
    members["__MACOSX/alice/._rnn_layers.py"] = b"resource fork"
    members["alice/notes.txt"] = b"hello"
    archive = write_zip(tmp_path / "alice.zip", members)
    work = tmp_path / "work"
    work.mkdir()
    folder = prepare(Entry("alice", archive, "zip", "alice.zip"), work, FILES)
    assert not list(work.rglob("__MACOSX"))
    located = locate(folder, FILES, dest=tmp_path / "located")
    assert located.chosen == {f: f"alice/hw_rnn/{f}" for f in FILES}
    assert sorted(p.name for p in located.folder.iterdir()) == sorted(FILES)


def test_locate_prefers_the_expected_files_and_tolerates_case(tmp_path):
    (tmp_path / "a" / "scratch").mkdir(parents=True)
    (tmp_path / "a" / "scratch" / "test.py").write_text("")
    (tmp_path / "a" / "deep" / "hw").mkdir(parents=True)
    (tmp_path / "a" / "deep" / "hw" / "RNN_Layers.py").write_text("")
    assert locate(tmp_path / "a", FILES, dest=tmp_path / "la").chosen == {"rnn_layers.py": "deep/hw/RNN_Layers.py"}
    (tmp_path / "b").mkdir()
    assert locate(tmp_path / "b", FILES, dest=tmp_path / "lb").chosen == {}


def test_a_linked_file_in_a_folder_is_refused(tmp_path):
    sub = make_submission(tmp_path / "sub")
    (sub / "lstm_layers.py").unlink()
    (sub / "lstm_layers.py").symlink_to("/etc/passwd")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(SubmissionProblem, match="symbolic link"):
        prepare(Entry("sub", sub, "folder", "sub"), work, FILES)


def test_folders_and_zips_with_one_id_become_an_error_entry(tmp_path):
    make_submission(tmp_path / "class" / "alice")
    make_submission(tmp_path / "class" / "bob")
    write_zip(tmp_path / "class" / "alice.zip", {"rnn_layers.py": b""})
    (tmp_path / "class" / "roster.csv").write_text("id\n")
    (tmp_path / "class" / ".DS_Store").write_text("")
    layout = discover(tmp_path / "class", FILES)
    assert layout.kind == "folders"
    entries = {e.student: e for e in layout.entries}
    assert set(entries) == {"alice", "bob"}
    assert "several submissions for this id (alice, alice.zip)" in entries["alice"].problem
    assert not entries["bob"].problem
    assert layout.notes == ["skipped roster.csv: neither a folder nor a .zip"]


def test_gradescope_ids_fall_back_to_email_and_folder(tmp_path):
    export = tmp_path / "export"
    for name in ("submission_1", "submission_2", "submission_3"):
        (export / name).mkdir(parents=True)
    (export / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: A\n    :sid: ''\n    :email: a@x.edu\n"
        "  :score: !ruby/object:BigDecimal 18:0.5e2\n"
        "submission_2:\n  :submitters: []\n")
    layout = discover(export, FILES)
    assert layout.kind == "gradescope"
    assert [(e.student, e.label) for e in layout.entries] == [
        ("a@x.edu", "submission_1"), ("submission_2", "submission_2"), ("submission_3", "submission_3")]
    assert any("not in submission_metadata.yml" in n for n in layout.notes)
    (export / "submission_metadata.yml").write_text("submission_1: [\n")
    with pytest.raises(LayoutError, match="not valid YAML"):
        discover(export, FILES)


def test_nbgrader_needs_a_choice_among_several_assignments(tmp_path):
    for student, assignment in [("s1", "ps1"), ("s1", "ps2"), ("s2", "ps1")]:
        make_submission(tmp_path / "submitted" / student / assignment)
    with pytest.raises(LayoutError, match="several assignments .*ps1, ps2.*--assignment"):
        discover(tmp_path, FILES, default_assignment="hw_rnn")
    layout = discover(tmp_path, FILES, assignment="ps2")
    assert [e.student for e in layout.entries] == ["s1"] and layout.notes == ["s2: no submission of ps2"]
    with pytest.raises(LayoutError, match="assignment 'ps9'"):
        discover(tmp_path / "submitted", FILES, assignment="ps9")


def test_file_names_for_ids_are_safe_and_unique():
    names = safe_names(["a b", "a_b", "../up", ".hidden", "x@y.edu"])
    assert len(set(names.values())) == 5
    assert all("/" not in n and not n.startswith(".") for n in names.values())
    assert names["x@y.edu"] == "x@y.edu"


def test_fingerprint_follows_content(tmp_path):
    sub = make_submission(tmp_path / "s")
    entry = Entry("s", sub, "folder", "s")
    before = fingerprint(entry)
    assert fingerprint(entry) == before
    (sub / "rnn_layers.py").write_text((sub / "rnn_layers.py").read_text() + "\n# edited\n")
    assert fingerprint(entry) != before


# -- the one rule for a student's work (submission.locate); graded end to end in test_locate.py ----------------------
def _tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


@pytest.mark.parametrize("found, expected, how", [
    ("rnn_layers.py", "rnn_layers.py", (0, 0)), ("RNN_Layers.py", "rnn_layers.py", (1, 0)),
    ("rnn_layers (1).py", "rnn_layers.py", (2, 1)), ("rnn_layers(3).py", "rnn_layers.py", (2, 3)),
    ("rnn_layers-2.py", "rnn_layers.py", (2, 2)), ("rnn_layers - Copy.py", "rnn_layers.py", (2, 1)),
    ("rnn_layers - Copy (2).py", "rnn_layers.py", (2, 2)), ("rnn_layers copy 2.py", "rnn_layers.py", (2, 2)),
    ("hw_rnn (1).ipynb", "hw_rnn.ipynb", (2, 1)), ("rnn_layer.py", "rnn_layers.py", None),
    ("rnn_layers.py.txt", "rnn_layers.py", None), ("lstm_layers (1).py", "rnn_layers.py", None)])
def test_names_as_browsers_lms_and_file_managers_rewrite_them(found, expected, how):
    from autograder.submission import name_match

    assert name_match(found, expected) == how


def test_candidates_resolve_shallowest_then_exact_then_newest(tmp_path):
    up = _tree(tmp_path / "up", {"rnn_layers (1).py": "copy1", "rnn_layers (2).py": "copy2", "RNN_layers.py": "case",
                                 "hw/rnn_layers.py": "deep exact", "hw/lstm_layers.py": "lstm",
                                 "lstm_layers-3.py": "canvas"})
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.chosen == {"rnn_layers.py": "RNN_layers.py", "lstm_layers.py": "lstm_layers-3.py"}
    assert (located.folder / "rnn_layers.py").read_text() == "case"
    text = "\n".join(located.notes)
    assert "not graded: rnn_layers (2).py, rnn_layers (1).py, hw/rnn_layers.py" in text  # in rank order
    assert "not graded: hw/lstm_layers.py" in text


def test_toolkit_folders_are_known_by_what_they_hold_not_their_name(tmp_path):
    up = _tree(tmp_path / "up", {"support/checks_api.py": "", "support/rnn_layers.py": "toolkit copy",
                                 "data/assignment.json": "{}", "data/expected.json": "{}", "data/quiz.py": "x",
                                 "autograder/rnn_layers.py": "the student's own folder",
                                 "check.py": "from autograder.selfcheck import main  # noqa: E402\n",
                                 "timestamp.txt": "2026-01-01"})
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.chosen == {"rnn_layers.py": "autograder/rnn_layers.py"}
    assert sorted(located.released) == ["check.py", "data/", "support/", "timestamp.txt"]
    assert not any("check.py" in n or "timestamp" in n for n in located.notes)


def test_a_bad_zip_inside_a_submission_is_named_and_the_rest_is_graded(tmp_path):
    sub = make_submission(tmp_path / "sub")
    with zipfile.ZipFile(sub / "old.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("huge.bin", b"\0" * (4 << 20))
    write_zip(sub / "more.zip", {"notes/quiz (1).py": b"older quiz"})
    located = locate(sub, FILES, "hw_rnn", dest=tmp_path / "d", limits=ArchiveLimits(max_ratio=50))
    assert located.chosen == {f: f for f in FILES}
    assert any(n.startswith("old.zip was not opened: zip refused") and "zip bomb" in n for n in located.notes)
    assert "not graded: more.zip/notes/quiz (1).py" in "\n".join(located.notes)


def test_a_notebook_exported_as_a_script_is_not_a_misnamed_file(tmp_path):
    up = _tree(tmp_path / "up", {"my_homework.py": "#!/usr/bin/env python\n# In[1]:\n\n\n# file: quiz.py\nA = 1\n",
                                 "helpers.py": "def f():\n    pass\n", "Untitled.ipynb": "{}"})
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.notebook == "my_homework.py" and located.chosen == {}
    assert (located.folder / "quiz.py").read_text().rstrip().endswith("A = 1")
    assert "Notebooks not graded: Untitled.ipynb" in "\n".join(located.notes)


def test_near_misses_alone_still_get_a_rename_hint(tmp_path):
    from autograder.submission import find_files

    up = _tree(tmp_path / "up", {"hw/rnn_layer.py": "x", "hw/deeper/lstm_layer.py": "y", "readme.txt": "z"})
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.chosen == {} and located.notebook is None
    assert "the submission holds: readme.txt, hw/rnn_layer.py, hw/deeper/lstm_layer.py" in "\n".join(located.notes)
    notes = find_files(located.folder, FILES)[1]
    assert "rnn_layers.py is missing; found 'rnn_layer.py' instead: rename it to 'rnn_layers.py'" in notes
