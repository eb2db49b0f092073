"""Reading class folders and unpacking untrusted zips (no grading here: these are fast)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import FILES, ROOT, make_submission

from autograder.submissions.extract import extracted_from
from autograder.submissions.layouts import (
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
from autograder.submissions.locate import locate


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
    located = locate(folder, FILES, dest=tmp_path / "located")
    assert located.chosen == {f: f"alice/hw_rnn/{f}" for f in FILES}
    assert sorted(p.name for p in located.folder.iterdir()) == sorted(FILES)
    # Said, not graded: the paths graded, the other file, the Mac's metadata.
    assert located.as_found(list(FILES)) == [f"alice/hw_rnn/{f}" for f in FILES]
    assert located.not_graded == ["__MACOSX/", "alice/notes.txt"]
    assert any(n.startswith("Left out, as files no one writes by hand: __MACOSX/") for n in located.notes)


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
    assert [u["path"] for u in layout.unplaced] == ["roster.csv"] and "neither a folder nor a .zip" in \
        layout.unplaced[0]["reason"]


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
    with pytest.raises(LayoutError, match="several assignments .*ps1, ps2.*--nbgrader-assignment"):
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


def test_file_names_for_ids_keep_letters_of_any_script():
    decomposed = "chloe\u0301"  # é as e + a combining accent (macOS file names): the same name in NFC
    ids = ["chloé", "王小明", "Zoë Ångström", "a/b\\c", "tab\tnul\x00", "ü" * 80, decomposed]
    names = safe_names(ids)
    assert names["王小明"] == "王小明" and names["Zoë Ångström"] == "Zoë_Ångström"
    assert names["a/b\\c"] == "a_b_c" and names["tab\tnul\x00"] == "tab_nul_"
    assert len(names["ü" * 80].encode()) <= 100
    # NFC makes both chloé: one keeps the name, the other is told apart (a hash of the id), never overwritten.
    assert sorted([names["chloé"], names[decomposed]])[0] == "chloé" and names[decomposed] != names["chloé"]
    assert len(set(names.values())) == len(ids)


def test_fingerprint_follows_content(tmp_path):
    sub = make_submission(tmp_path / "s")
    entry = Entry("s", sub, "folder", "s")
    before = fingerprint(entry)
    assert fingerprint(entry) == before
    (sub / "rnn_layers.py").write_text((sub / "rnn_layers.py").read_text() + "\n# edited\n")
    assert fingerprint(entry) != before


# -- the one rule for a student's work (submissions.locate); graded end to end in test_locate.py ----------------------
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
    ("rnn_layers_v2.py", "rnn_layers.py", (2, 2)), ("rnn_layers_final.py", "rnn_layers.py", (2, 1000)),
    ("rnn_layers-final.py", "rnn_layers.py", (2, 1000)), ("rnn_layers_vx.py", "rnn_layers.py", None),
    ("rnn_layers.py.txt", "rnn_layers.py", None), ("lstm_layers (1).py", "rnn_layers.py", None),
    # The same names after Canvas's download wrote their spaces as hyphens.
    ("rnn_layers-(1).py", "rnn_layers.py", (2, 1)), ("rnn_layers---Copy.py", "rnn_layers.py", (2, 1)),
    ("rnn_layers---Copy-(2).py", "rnn_layers.py", (2, 2)), ("rnn_layers-copy-2.py", "rnn_layers.py", (2, 2)),
    ("hw_rnn-(1).ipynb", "hw_rnn.ipynb", (2, 1))])
def test_names_as_browsers_lms_and_file_managers_rewrite_them(found, expected, how):
    from autograder.submissions.locate import name_match

    assert name_match(found, expected) == how


def test_candidates_resolve_shallowest_then_newest_copy(tmp_path):
    up = _tree(tmp_path / "up", {"rnn_layers (1).py": "copy1", "rnn_layers (2).py": "copy2", "RNN_layers.py": "case",
                                 "hw/rnn_layers.py": "deep exact", "hw/lstm_layers.py": "lstm",
                                 "lstm_layers-3.py": "canvas", "quiz.py": "exact", "Quiz.py": "case"})
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.chosen == {"rnn_layers.py": "rnn_layers (2).py", "lstm_layers.py": "lstm_layers-3.py",
                              "quiz.py": "quiz.py"}
    assert (located.folder / "rnn_layers.py").read_text() == "copy2"
    text = "\n".join(located.notes)
    assert "not graded: rnn_layers (1).py, RNN_layers.py, hw/rnn_layers.py" in text  # in rank order
    assert "not graded: hw/lstm_layers.py" in text


def _zip_dated(path: Path, members: dict[str, tuple[str, tuple]]) -> Path:
    """A zip whose members carry the given times (as zip tools record each file's modification time)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, (text, when) in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=when), text)
    return path


@pytest.mark.parametrize("layout, newest", [
    # A second zip of the work, marked final or numbered by the browser: whatever the alphabet says.
    ({"hw_rnn.zip": "zip:old", "hw_rnn_final.zip": "zip:new"}, "hw_rnn_final.zip/hw_rnn/rnn_layers.py"),
    ({"hw_rnn.zip": "zip:old", "hw_rnn (1).zip": "zip:new"}, "hw_rnn (1).zip/hw_rnn/rnn_layers.py"),
    ({"hw_rnn_v2.zip": "zip:old", "hw_rnn_v10.zip": "zip:new"}, "hw_rnn_v10.zip/hw_rnn/rnn_layers.py"),
    # The file downloaded again beside the first: the copy is the newer one.
    ({"rnn_layers.py": "old", "rnn_layers (1).py": "new"}, "rnn_layers (1).py"),
    ({"rnn_layers.py": "old", "rnn_layers_v2.py": "new"}, "rnn_layers_v2.py"),
    ({"rnn_layers - Copy.py": "old", "rnn_layers_final.py": "new"}, "rnn_layers_final.py"),
    # Nothing in the names: the later modification time (set below), also inside a zip.
    ({"draft/rnn_layers.py": "old", "hw/rnn_layers.py": "new"}, "hw/rnn_layers.py"),
    ({"b/rnn_layers.py": "old", "a/rnn_layers.py": "new"}, "a/rnn_layers.py"),
    ({"both.zip": "dated"}, "both.zip/a/rnn_layers.py"),
])
def test_the_newest_copy_is_graded_and_the_others_named(tmp_path, layout, newest):
    up = tmp_path / "up"
    up.mkdir()
    for name, what in layout.items():
        path = up / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if what.startswith("zip:"):
            _zip_dated(path, {f"hw_rnn/{f}": (what[4:], (2024, 3, 1, 10, 0, 0)) for f in FILES})
        elif what == "dated":
            _zip_dated(path, {"b/rnn_layers.py": ("old", (2024, 3, 1, 10, 0, 0)),
                              "a/rnn_layers.py": ("new", (2024, 3, 2, 9, 0, 0))})
        else:
            path.write_text(what)
            stamp = 1_700_000_000 + (1000 if what == "new" else 0)
            os.utime(path, (stamp, stamp))
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.chosen["rnn_layers.py"] == newest
    assert (located.folder / "rnn_layers.py").read_text() == "new"
    assert any(n.startswith("Several files could be rnn_layers.py: graded") for n in located.notes)


def test_toolkit_folders_are_known_by_what_they_hold_not_their_name(tmp_path):
    up = _tree(tmp_path / "up", {"support/checks_api.py": "", "support/rnn_layers.py": "toolkit copy",
                                 "data/assignment.json": "{}", "data/expected.json": "{}", "data/quiz.py": "x",
                                 "autograder/rnn_layers.py": "the student's own folder",
                                 "check.py": "from autograder.release.selfcheck import main  # noqa: E402\n",
                                 "timestamp.txt": "2026-01-01"})
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.chosen == {"rnn_layers.py": "autograder/rnn_layers.py"}
    assert sorted(located.released) == ["check.py", "data/", "support/", "timestamp.txt"]
    assert not any("check.py" in n or "timestamp" in n for n in located.notes)


@pytest.mark.parametrize("method", ["zip program", "bzip2", "lzma", "stored"])
def test_a_zip_whose_data_is_damaged_is_refused_with_a_reason(tmp_path, method):
    """Bytes flipped in the middle of the members' compressed data: each codec fails its own way (zlib.error,
    OSError, LZMAError, a bad CRC); every one is "damaged", never a crash, and the files beside it are graded."""
    sub = make_submission(tmp_path / "hw_rnn")
    archive = tmp_path / "hw_rnn.zip"
    if method == "zip program":
        subprocess.run(["zip", "-qr", str(archive), "hw_rnn"], cwd=tmp_path, check=True)
    else:
        codec = {"bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA, "stored": zipfile.ZIP_STORED}[method]
        with zipfile.ZipFile(archive, "w", codec) as zf:
            for name in FILES:
                zf.write(sub / name, f"hw_rnn/{name}")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        first = next(i for i in zf.infolist() if not i.is_dir() and i.compress_size > 100)
        start = first.header_offset + 30 + len(first.filename.encode()) + len(first.extra)
    for k in range(start + 20, start + min(first.compress_size, 400) - 20):
        data[k] ^= 0x5A
    archive.write_bytes(bytes(data))
    with pytest.raises(SubmissionProblem, match=r"hw_rnn\.zip is damaged: hw_rnn/"):
        locate(archive, FILES, "hw_rnn", dest=tmp_path / "d")
    beside = make_submission(tmp_path / "beside")
    shutil.copyfile(archive, beside / "hw_rnn.zip")
    located = locate(beside, FILES, "hw_rnn", dest=tmp_path / "e")
    assert located.chosen == {f: f for f in FILES}
    assert any(n.startswith("hw_rnn.zip was not opened: hw_rnn.zip is damaged") for n in located.notes)


def test_otters_export_records_are_not_the_students_files(tmp_path):
    """otter export's zip holds the notebook, its .OTTER_LOG and __zip_filename__ (the zip's own name): the
    notebook is graded and neither record is listed as a file of the student's left ungraded."""
    notebook = (ROOT / "integrations" / "otter" / "hw_rnn.ipynb").read_bytes()  # otter's master notebook
    export = write_zip(tmp_path / "hw_rnn_2026_12_03T17_53_45.zip",
                       {"hw_rnn.ipynb": notebook, ".OTTER_LOG": b"\x80\x04log", "__zip_filename__":
                        b"hw_rnn_2026_12_03T17_53_45.zip"})
    located = locate(export, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.notebook == "hw_rnn.ipynb"
    assert "__zip_filename__" not in "\n".join(located.notes) and "__zip_filename__" in located.released


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
    assert extracted_from(located.folder).sources == ["# file: quiz.py\nA = 1"]  # the cell that runs in the child
    assert "Notebooks not graded: Untitled.ipynb" in "\n".join(located.notes)


def test_near_misses_alone_still_get_a_rename_hint(tmp_path):
    from autograder.submissions.locate import find_files

    up = _tree(tmp_path / "up", {"hw/rnn_layer.py": "x", "hw/deeper/lstm_layer.py": "y", "readme.txt": "z"})
    located = locate(up, FILES, "hw_rnn", dest=tmp_path / "d")
    assert located.chosen == {} and located.notebook is None
    assert "the submission holds: readme.txt, hw/rnn_layer.py, hw/deeper/lstm_layer.py" in "\n".join(located.notes)
    notes = find_files(located.folder, FILES)[1]
    assert "rnn_layers.py is missing; found 'rnn_layer.py' instead: rename it to 'rnn_layers.py'" in notes
# -- learning management systems' downloads (naming: see layouts.py's docstring) ---------------------------------
def _flat(folder: Path, names: dict[str, bytes | str]) -> Path:
    folder.mkdir(parents=True)
    for name, data in names.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else data.encode())
    return folder


def _mapping(layout) -> dict[str, dict[str, str]]:
    """student id -> {original name: downloaded file's name}."""
    return {e.student: {o: Path(p).name for o, p in e.files} for e in layout.entries}


@pytest.mark.parametrize("download, expected", [
    # The plain case, then LATE, then Canvas's "-1" on a file uploaded again, a name holding underscores,
    # a browser's "(1)" (kept: the per-student finder reads it), and a "-2" on a file that is not expected (kept).
    ({"smithjohn_1234_5678_rnn_layers.py": "a"}, {"1234": {"rnn_layers.py": "smithjohn_1234_5678_rnn_layers.py"}}),
    ({"smithjohn_LATE_1234_5679_quiz.py": "a"}, {"1234": {"quiz.py": "smithjohn_LATE_1234_5679_quiz.py"}}),
    ({"doejane_77_100_lstm_layers.py": "old", "doejane_77_101_lstm_layers-1.py": "new"},
     {"77": {"lstm_layers.py": "doejane_77_101_lstm_layers-1.py"}}),
    ({"o_brien_ann_77_100_sequence_models.py": "a"}, {"77": {"sequence_models.py":
                                                             "o_brien_ann_77_100_sequence_models.py"}}),
    ({"lee_9_10_rnn_layers (1).py": "a"}, {"9": {"rnn_layers (1).py": "lee_9_10_rnn_layers (1).py"}}),
    ({"lee_9_10_text.html": "a"}, {"9": {"text.html": "lee_9_10_text.html"}}),  # an upload, not the online text
    ({"lee_9_10_notes-2.txt": "a", "lee_9_11_char_rnn-3.py": "b"},
     {"9": {"notes-2.txt": "lee_9_10_notes-2.txt", "char_rnn.py": "lee_9_11_char_rnn-3.py"}}),
])
def test_canvas_download_is_one_entry_per_user_id_with_the_original_names(tmp_path, download, expected):
    layout = discover(_flat(tmp_path / "canvas", download), FILES)
    assert layout.kind == "canvas" and _mapping(layout) == expected
    assert all(e.kind == "files" for e in layout.entries) and not layout.unplaced


def test_canvas_lists_what_it_does_not_grade_and_what_belongs_to_no_one(tmp_path):
    folder = _flat(tmp_path / "canvas", {
        "smithjohn_LATE_1234_5678_rnn_layers.py": "new", "smithjohn_LATE_1234_5600_rnn_layers.py": "old",
        "smithjohn_LATE_1234_text.html": "<p>hi</p>", "doejane_77_link.html": "<a>", "roster.csv": "id\n",
        "ab_12_34_x.py": "x"})
    layout = discover(folder, FILES)
    assert layout.kind == "canvas" and [e.student for e in layout.entries] == ["12", "1234"]
    smith = layout.entries[1]
    assert smith.name == "smithjohn" and "late" in smith.notes[0].lower()
    # The older upload is said on the student's own row too, not only in the run's lists.
    assert any("1 older upload not graded" in n and "smithjohn_LATE_1234_5600_rnn_layers.py" in n for n in smith.notes)
    assert not any("older upload" in n for n in layout.entries[0].notes)
    assert dict(_mapping(layout)["1234"]) == {"rnn_layers.py": "smithjohn_LATE_1234_5678_rnn_layers.py"}
    ignored = {i["path"]: i for i in layout.ignored}
    assert set(ignored) == {"smithjohn_LATE_1234_text.html", "doejane_77_link.html", "doejane_77_*",
                            "smithjohn_LATE_1234_5600_rnn_layers.py"}
    assert ignored["doejane_77_link.html"]["student"] == "77"  # only a link: listed, no row
    assert any(i["student"] == "77" and "nothing to grade" in i["reason"] for i in layout.ignored)
    assert [u["path"] for u in layout.unplaced] == ["roster.csv"]
    assert layout.mapping()["unplaced"] == layout.unplaced


@pytest.mark.parametrize("download, expected", [
    # In folders; a name with digits, underscores and accents; a nested folder; Moodle's flat download.
    ({"Ann Lee_41_assignsubmission_file/rnn_layers.py": "a"}, {"41": ("Ann Lee", {"rnn_layers.py"})}),
    ({"Anna_Maria 2_7_assignsubmission_file/quiz.py": "a"}, {"7": ("Anna_Maria 2", {"quiz.py"})}),
    ({"Zoë Ørsted_8_assignsubmission_file/hw/char_rnn.py": "a"}, {"8": ("Zoë Ørsted", {"hw/char_rnn.py"})}),
    ({"Ann Lee_41_assignsubmission_file_rnn_layers.py": "a", "Ann Lee_41_assignsubmission_file_quiz.py": "b"},
     {"41": ("Ann Lee", {"rnn_layers.py", "quiz.py"})}),
])
def test_moodle_download_is_one_entry_per_participant(tmp_path, download, expected):
    layout = discover(_flat(tmp_path / "moodle", download), FILES)
    assert layout.kind == "moodle"
    assert {e.student: (e.name, set(dict(e.files))) for e in layout.entries} == expected


def test_moodle_online_text_is_listed_not_a_student(tmp_path):
    folder = _flat(tmp_path / "moodle", {
        "Ann Lee_41_assignsubmission_file/hw.zip": b"PK", "Ann Lee_41_assignsubmission_onlinetext/onlinetext.html": "t",
        "Bo Li_42_assignsubmission_onlinetext/onlinetext.html": "t",
        "Cy Do_43_assignsubmission_file_onlinetext.html": "",
        "Cy Do_43_assignsubmission_onlinetext_onlinetext.html": "",
        "misc/readme.txt": "x"})
    layout = discover(folder, FILES)
    assert [e.student for e in layout.entries] == ["41", "43"]  # 42 typed text only: nothing to grade
    assert {i["student"] for i in layout.ignored} == {"41", "42", "43"}
    assert any("no file submission" in i["reason"] for i in layout.ignored if i["student"] == "42")
    assert [u["path"] for u in layout.unplaced] == ["misc"]


def _receipt(user: str, name: str, files: list[tuple[str, str]]) -> str:
    from classroom import blackboard_receipt

    return blackboard_receipt(name, user, "HW", files)


@pytest.mark.parametrize("assignment, user", [("HW1", "jsmith"), ("HW_RNN 2024", "s123.x"), ("A b_c", "ann"),
                                              ("RNN", "jo_smith")])
def test_blackboard_attempts_of_one_user_become_one_entry(tmp_path, assignment, user):
    first, last = f"{assignment}_{user}_attempt_2024-02-29-09-15-00", f"{assignment}_{user}_attempt_2024-03-01-10-00-00"
    folder = _flat(tmp_path / "bb", {
        f"{first}_rnn_layers.py": "first", f"{first}.txt": _receipt(user, "J S", [("rnn_layers.py",
                                                                                  f"{first}_rnn_layers.py")]),
        f"{last}_rnn layers.py": "last", f"{last}.txt": _receipt(user, "J S", [("rnn_layers.py",
                                                                               f"{last}_rnn layers.py")])})
    layout = discover(folder, FILES)
    assert layout.kind == "blackboard" and [e.student for e in layout.entries] == [user]
    entry = layout.entries[0]
    # The receipt's original name wins over cutting the prefix (Blackboard replaced the underscore here).
    assert _mapping(layout) == {user: {"rnn_layers.py": f"{last}_rnn layers.py"}} and entry.name == "J S"
    assert "2 attempts" in entry.notes[0] and "graded the latest (2024-03-01 10:00:00)" in entry.notes[0]
    assert {i["path"] for i in layout.ignored} == {f"{first}_rnn_layers.py", f"{first}.txt", f"{last}.txt"}
    layout = discover(folder, FILES, attempt="first")
    assert _mapping(layout) == {user: {"rnn_layers.py": f"{first}_rnn_layers.py"}}
    assert "graded the first" in layout.entries[0].notes[0]


def test_blackboard_files_without_a_receipt_and_strays(tmp_path):
    stamp = "attempt_2024-03-01-10-00-00"
    folder = _flat(tmp_path / "bb", {f"HW_ann_{stamp}_quiz.py": "a", f"HW_ann_{stamp}_hw.zip": b"PK",
                                     f"HW_bo_{stamp}.txt": _receipt("bo", "Bo", []), "notes.docx": "x"})
    layout = discover(folder, FILES)
    assert _mapping(layout) == {"ann": {"quiz.py": f"HW_ann_{stamp}_quiz.py", "hw.zip": f"HW_ann_{stamp}_hw.zip"}}
    assert any(i["student"] == "bo" and "nothing to grade" in i["reason"] for i in layout.ignored)
    assert [u["path"] for u in layout.unplaced] == ["notes.docx"]
    with pytest.raises(LayoutError, match="unknown attempt"):
        discover(folder, FILES, attempt="best")


def test_a_few_odd_names_do_not_make_a_folder_class_an_lms_download(tmp_path):
    for student in ("alice", "bob", "carol"):
        make_submission(tmp_path / "class" / student)
    (tmp_path / "class" / "smith_1_2_rnn_layers.py").write_text("")
    layout = discover(tmp_path / "class", FILES)
    assert layout.kind == "folders" and [e.student for e in layout.entries] == ["alice", "bob", "carol"]
    assert [u["path"] for u in layout.unplaced] == ["smith_1_2_rnn_layers.py"]
    forced = discover(tmp_path / "class", FILES, layout="canvas")
    assert [e.student for e in forced.entries] == ["1"] and len(forced.unplaced) == 3
    with pytest.raises(LayoutError, match="not a Gradescope export"):
        discover(tmp_path / "class", FILES, layout="gradescope")


def test_loose_files_are_staged_under_their_names_and_an_uploaded_zip_is_opened(tmp_path):
    sub = make_submission(tmp_path / "sub")
    archive = write_zip(tmp_path / "up.zip", {f"hw_rnn/{f}": (sub / f).read_bytes() for f in FILES})
    folder = _flat(tmp_path / "canvas", {"lee_9_10_my hw.zip": archive.read_bytes(), "lee_9_11_notes.txt": "n"})
    entry = discover(folder, FILES).entries[0]
    work = tmp_path / "work"
    work.mkdir()
    staged = prepare(entry, work, FILES)
    assert sorted(p.name for p in staged.iterdir()) == ["my hw.zip", "notes.txt"]  # the LMS's renaming undone
    assert (staged / "notes.txt").read_text() == "n"
    graded = locate(staged, FILES, dest=tmp_path / "located").folder  # the one rule opens the zip
    assert sorted(p.name for p in graded.iterdir()) == sorted(FILES)
    assert all((graded / f).read_bytes() == (sub / f).read_bytes() for f in FILES)
    before = fingerprint(entry)
    (folder / "lee_9_11_notes.txt").write_text("changed")
    assert fingerprint(entry) != before
    # A linked file is refused, not followed.
    (folder / "lee_9_12_quiz.py").symlink_to("/etc/passwd")
    work2 = tmp_path / "work2"
    work2.mkdir()
    with pytest.raises(SubmissionProblem, match="cannot be opened as a plain file"):
        prepare(discover(folder, FILES).entries[0], work2, FILES)


def test_an_entry_survives_the_trip_to_a_worker(tmp_path):
    entry = Entry("9", tmp_path, "files", "lee_9_*", "", "lee", (("quiz.py", str(tmp_path / "x")),), ("late",),
                  (".DS_Store", "__MACOSX/"))
    assert Entry.from_job(__import__("json").loads(__import__("json").dumps(entry.to_job()))) == entry


# -- a loose homework file in a class folder -----------------------------------------------------------------
def _students(root: Path, names=("ann", "bo", "cy")) -> dict[str, dict]:
    return {n: {"path": make_submission(root / n)} for n in names}


@pytest.mark.parametrize("kind, stray", [("canvas", "quiz.py"), ("moodle", "rnn_layers.py"),
                                         ("blackboard", "char_rnn.py"), ("folders", "rnn_layers.py"),
                                         ("zips", "lstm_layers.py"), ("canvas", "RNN_Layers.py")])
def test_a_loose_homework_file_in_a_class_folder_is_not_placed(tmp_path, kind, stray):
    import classroom

    students = _students(tmp_path / "src")
    build = {"canvas": classroom.as_canvas, "moodle": classroom.as_moodle, "blackboard": classroom.as_blackboard,
             "folders": classroom.as_folders, "zips": classroom.as_zips}[kind]
    folder = build(students, tmp_path / "class")
    (folder / stray).write_text("# left here by mistake\n")
    layout = discover(folder, FILES)
    assert len(layout.entries) == len(students)
    assert [u["path"] for u in layout.unplaced] == [stray]
    if stray in FILES:
        assert "top of the class folder" in layout.unplaced[0]["reason"]


@pytest.mark.parametrize("kind", ["canvas", "moodle", "blackboard", "folders", "zips", "gradescope"])
def test_a_download_inside_folders_of_its_own_is_found(tmp_path, kind):
    """A download unzipped into a folder of its own (twice, with a Mac's __MACOSX beside it) is read from the
    folder that holds it, with a note; never as one student made of every student's files."""
    import shutil

    import classroom

    students = _students(tmp_path / "src")
    build = {"canvas": classroom.as_canvas, "moodle": classroom.as_moodle, "blackboard": classroom.as_blackboard,
             "folders": classroom.as_folders, "zips": classroom.as_zips,
             "gradescope": classroom.as_gradescope}[kind]
    plain = discover(build(students, tmp_path / "class"), FILES)
    wrapper = tmp_path / "wrapper"
    (wrapper / "__MACOSX").mkdir(parents=True)
    shutil.move(str(tmp_path / "class"), str(wrapper / "Downloads" / "HW RNN-12345"))
    wrapped = discover(wrapper, FILES)
    assert wrapped.kind == plain.kind and wrapped.root == wrapper / "Downloads" / "HW RNN-12345"
    assert [(e.student, e.name, e.kind) for e in wrapped.entries] == [(e.student, e.name, e.kind)
                                                                      for e in plain.entries]
    assert sum("the class was read from" in n for n in wrapped.notes) == 2
    # Named by the TA: the same.
    assert [e.student for e in discover(wrapper, FILES, layout=plain.kind).entries] == [e.student for e in
                                                                                       plain.entries]


@pytest.mark.parametrize("kind", ["moodle", "canvas", "folders"])
def test_junk_is_left_out_and_listed_wherever_it_lies(tmp_path, kind):
    """A Mac's and Python's own files, in the class folder and in a student's folder: never graded, never silent."""
    import classroom

    folder = {"moodle": classroom.as_moodle, "canvas": classroom.as_canvas,
              "folders": classroom.as_folders}[kind](_students(tmp_path / "src"), tmp_path / "class")
    (folder / "__MACOSX").mkdir()
    (folder / ".DS_Store").write_bytes(b"\0")
    layout = discover(folder, FILES)
    assert len(layout.entries) == 3
    assert "left out of the class folder, as files no one writes by hand: .DS_Store, __MACOSX/" in layout.notes
    if kind == "moodle":  # a student's folder, read file by file by the layout
        student = next(p for p in folder.iterdir() if p.name.endswith("_assignsubmission_file"))
        (student / "hw" / "__pycache__").mkdir(parents=True)
        (student / "hw" / "__pycache__" / "x.pyc").write_bytes(b"\0")
        (student / ".DS_Store").write_bytes(b"\0")
        layout = discover(folder, FILES)
        entry = next(e for e in layout.entries if e.student == student.name.split("_")[-3])
        # The student's own: listed by the one rule for a submission (locate), in their notes, as for any folder.
        assert entry.junk == (".DS_Store", "hw/__pycache__/") and not layout.ignored
        assert all(not e.junk for e in layout.entries if e is not entry)
        work = tmp_path / "work"
        work.mkdir()
        located = locate(prepare(entry, work, FILES), FILES, dest=tmp_path / "located")
        assert "Left out, as files no one writes by hand: .DS_Store, hw/__pycache__/." in located.notes
        assert set(located.not_graded) == {".DS_Store", "hw/__pycache__/"}
        assert not (work / "staged" / "hw" / "__pycache__" / "x.pyc").exists()  # laid out empty, never copied


@pytest.mark.parametrize("kind, uploads", [
    ("canvas", {"smithalice_41_900_rnn_layers.py": "x", "smithalice_41_901_.DS_Store": "\0",
                "doejohn_42_902_quiz.py": "y", "doejohn_42_903_Thumbs.db": "\0"}),
    ("moodle", {"Alice Smith_41_assignsubmission_file_rnn_layers.py": "x",
                "Alice Smith_41_assignsubmission_file_.DS_Store": "\0",
                "John Doe_42_assignsubmission_file_quiz.py": "y", "John Doe_42_assignsubmission_file_Thumbs.db": "\0"}),
    ("blackboard", {"HW_41_attempt_2024-03-01-10-00-00_rnn_layers.py": "x",
                    "HW_41_attempt_2024-03-01-10-00-00_.DS_Store": "\0",
                    "HW_42_attempt_2024-03-01-10-00-00_quiz.py": "y",
                    "HW_42_attempt_2024-03-01-10-00-00_Thumbs.db": "\0"}),
])
def test_junk_uploaded_to_a_flat_download_is_the_students_not_unplaced(tmp_path, kind, uploads):
    """A .DS_Store or Thumbs.db uploaded with the work is the student's junk, listed in their notes: not a file of no
    one's (which would make grade-all exit 3 and tell the TA to move it)."""
    from dataclasses import replace

    layout = discover(_flat(tmp_path / kind, uploads), FILES)
    assert layout.kind == kind and not layout.unplaced and not layout.ignored
    assert {e.student: (e.junk, tuple(dict(e.files))) for e in layout.entries} == {
        "41": ((".DS_Store",), ("rnn_layers.py",)), "42": (("Thumbs.db",), ("quiz.py",))}
    work = tmp_path / "work"
    work.mkdir()
    located = locate(prepare(layout.entries[0], work, FILES), FILES, dest=tmp_path / "located")
    assert located.not_graded == [".DS_Store"] and located.chosen == {"rnn_layers.py": "rnn_layers.py"}
    assert fingerprint(layout.entries[0]) != fingerprint(replace(layout.entries[0], junk=()))


def test_a_layout_named_wrongly_says_what_the_folder_looks_like(tmp_path):
    import classroom

    folder = classroom.as_moodle(_students(tmp_path / "src"), tmp_path / "class")
    with pytest.raises(LayoutError, match="it looks like a moodle download: leave --layout out, or give --layout "
                                          "moodle"):
        discover(folder, FILES, layout="canvas")


def test_a_class_of_one_in_a_folder_is_still_that_student(tmp_path):
    make_submission(tmp_path / "class" / "alice" / "hw_rnn")
    layout = discover(tmp_path / "class", FILES)
    assert [e.student for e in layout.entries] == ["alice"] and not layout.notes


def test_a_folder_that_is_one_submission_is_still_refused(tmp_path):
    sub = make_submission(tmp_path / "sub")
    (sub / "data").mkdir()
    (sub / "data" / "hello.txt").write_text("hello")
    (sub / "plots").mkdir()
    with pytest.raises(LayoutError, match="looks like one submission"):
        discover(sub, FILES)
    (sub / "old_version").mkdir()
    (sub / "old_version" / "rnn_layers.py").write_text("")  # one folder of work is not a class
    with pytest.raises(LayoutError, match="looks like one submission"):
        discover(sub, FILES)
    # Named as a class by the TA: graded as one, the loose files listed.
    layout = discover(sub, FILES, layout="folders")
    assert {u["path"] for u in layout.unplaced} >= set(FILES)


@pytest.mark.parametrize("assignment, users, with_receipt", [
    ("HW_3", ["jdoe", "s_lwang"], ()),
    ("A b_c", ["ann_b", "x_y_z", "q"], ()),
    ("RNN", ["jo_smith", "bo"], ()),
    # Every user starts with "s_": the common start would take it for the assignment's; one receipt says otherwise.
    ("HW_RNN 2024", ["s_1", "s_2", "s_3"], ("s_2",)),
])
def test_blackboard_user_names_with_underscores_without_receipts(tmp_path, assignment, users, with_receipt):
    stamp = "attempt_2024-03-01-12-00-00"
    names: dict[str, str] = {}
    for user in users:
        prefix = f"{assignment}_{user}_{stamp}"
        names[f"{prefix}_rnn_layers.py"] = user
        if user in with_receipt:
            names[f"{prefix}.txt"] = _receipt(user, "Some One", [("rnn_layers.py", f"{prefix}_rnn_layers.py")])
    layout = discover(_flat(tmp_path / "bb", names), FILES)
    assert layout.kind == "blackboard" and sorted(e.student for e in layout.entries) == sorted(users)
    assert all(Path(dict(e.files)["rnn_layers.py"]).read_text() == e.student for e in layout.entries)
    assert bool(layout.notes) == (not with_receipt)  # a guess from the names is said


def test_a_guessed_blackboard_user_id_is_said_on_the_row(tmp_path):
    """Without receipts, users who all start alike ("s_") cannot be told from the assignment's part of the names:
    the guess is said on each row, where the TA reads the ids, not only in the run's notes."""
    stamp = "attempt_2024-03-01-12-00-00"
    names = {f"HW_3_{user}_{stamp}_rnn_layers.py": user for user in ("s_lwang", "s_jdoe")}
    names[f"HW_3_s_amy_{stamp}.txt"] = _receipt("s_amy", "Amy", [("rnn_layers.py", f"HW_3_s_amy_{stamp}_rnn.py")])
    names[f"HW_3_s_amy_{stamp}_rnn.py"] = "s_amy"
    with_receipt = discover(_flat(tmp_path / "one", names), FILES)
    assert sorted(e.student for e in with_receipt.entries) == ["s_amy", "s_jdoe", "s_lwang"]
    assert not any("read from the file names" in n for e in with_receipt.entries for n in e.notes)
    names = {k: v for k, v in names.items() if "s_amy" not in k}
    guessed = discover(_flat(tmp_path / "none", names), FILES)
    assert guessed.entries and all(any("read from the file names" in n and repr(e.student) in n for n in e.notes)
                                   for e in guessed.entries)


def test_a_decomposed_name_is_one_student_with_the_composed_one(tmp_path):
    """macOS unzips "José" as J o s e + combining accent (NFD); Windows and Linux keep it composed (NFC): one id."""
    import unicodedata

    nfd, nfc = unicodedata.normalize("NFD", "José Núñez"), "José Núñez"
    assert nfd != nfc
    for name, spelled in (("mac", nfd), ("win", nfc)):
        layout = discover(_flat(tmp_path / name, {f"{spelled}_41_assignsubmission_file/rnn_layers.py": "a",
                                                  "Bo_7_assignsubmission_file/quiz.py": "b"}), FILES)
        assert [(e.student, e.name) for e in layout.entries if e.student == "41"] == [("41", nfc)]
    folders = discover(_flat(tmp_path / "folders", {f"{nfd}/rnn_layers.py": "a", "bo/quiz.py": "b"}), FILES)
    assert sorted(e.student for e in folders.entries) == sorted(["bo", nfc])
