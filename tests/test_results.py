"""What the grader writes and prints, whatever the locale, the student's text or the output path.

results.json is written before anything is printed and is always UTF-8 with no control characters but
newline and tab (platforms that keep results in PostgreSQL refuse ``\\u0000`` and lone surrogates);
printing degrades to escapes instead of failing; a results path that is a device or a FIFO is written
through, never replaced.  Then the gradebook: overrides.yaml is checked like the override command, and
one command at a time writes a grade-all OUTDIR.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import CONFIG, FILES, ROOT, SOLUTIONS, TEMPLATES, make_submission, run_cli, write_config
from test_gradescope import autograder_zip, gs_root, run_autograder, upload  # noqa: F401 -- fixtures

from autograder.classroom.gradebook import EXIT_BUSY, LOCK, outdir_lock
from autograder.config import load_config
from autograder.text import clean, clean_text

# A non-UTF-8 locale, as on a bare server or in a minimal container.
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
STUDENT_TEXT = "größe ≠ ✓ 日本"
# Anything that is not a plain printable character, newline or tab, as JSON text.
UNSAFE_JSON = re.compile(r"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u008[0-9a-fA-F]|\\u009[0-9a-fA-F]|\\u[dD][89a-fA-F]")


def cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`python -m autograder ...`, its output decoded as UTF-8 (with escapes for what is not)."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=300, **kwargs)


def text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def assert_clean_json(path: Path, validate=None) -> dict:
    """The file is UTF-8 JSON with no control character (but \\n, \\t) and no surrogate in any string."""
    data = path.read_bytes()
    data.decode("utf-8")  # strict
    assert not UNSAFE_JSON.search(data.decode()), UNSAFE_JSON.search(data.decode())
    document = json.loads(data)
    for s in strings(document):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", s), repr(s)
    if validate:
        validate(document)
    return document


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


# -- a non-UTF-8 locale --------------------------------------------------------------------------------------
# Each puts non-ASCII text where the grader prints it: a failure message, the printed output, a warning.
LOCALE_CASES = {
    "exception": [{"file": "lstm_layers.py", "find": "def sigmoid(z):",
                   "replace": f"def sigmoid(z):\n    raise ValueError({STUDENT_TEXT!r})"}],
    "print": [{"file": "rnn_layers.py", "find": "def rnn_step_forward(x_t, s_prev, U, W, b):",
               "replace": f"def rnn_step_forward(x_t, s_prev, U, W, b):\n    print({STUDENT_TEXT!r})"}],
    "assert": [{"file": "lstm_layers.py", "find": "def sigmoid(z):",
                "replace": f"def sigmoid(z):\n    assert False, {STUDENT_TEXT!r}"}],
    "exception_type": [{"file": "lstm_layers.py", "find": "def sigmoid(z):",
                        "replace": "class Größenfehler(Exception):\n    pass\n\n\ndef sigmoid(z):\n"
                                   "    raise Größenfehler('✓')"}],
}


@pytest.mark.parametrize("case", sorted(LOCALE_CASES))
def test_grade_and_check_survive_a_non_utf8_locale(case, tmp_path, validate_results):
    sub = make_submission(tmp_path / "abgabe_größe", LOCALE_CASES[case])  # non-ASCII paths too
    results = tmp_path / "ergebnis_ü.json"
    proc = cli("grade", str(sub), "--results", str(results), env=C_LOCALE)
    assert proc.returncode == 0, text(proc.stderr)
    document = assert_clean_json(results, validate_results)
    written = json.dumps(document, ensure_ascii=False)
    assert ("✓" in written) and ("größe" in written or "Größenfehler" in written)
    # The grade is real: a function that raises loses its points, printing costs none.
    assert (document["score"] < sum(t["max_score"] for t in document["tests"])) == (case != "print")
    # The terminal could not show the text: escapes instead, and the table to its end.
    assert "total" in text(proc.stdout)
    if case != "print":  # grade's table shows failure messages, not what was printed
        assert "\\u2713" in text(proc.stdout)

    check = cli("check", str(sub), env=C_LOCALE)
    assert check.returncode == 0, text(check.stderr)
    config = load_config(CONFIG)
    public = sum(t.points for t in config.tests if not t.hidden)
    assert f"These are the public tests only: {public:g} of the {config.max_score:g} points." in text(check.stdout)
    assert ("; they also grade answers() in quiz.py (5 points), a function the table above does not show."
            in text(check.stdout))
    assert "\\u2713" in text(check.stdout)


def test_grade_all_under_a_non_utf8_locale_writes_utf8_and_resumes(tmp_path, validate_results):
    src = tmp_path / "class"
    make_submission(src / "müller", LOCALE_CASES["exception"])
    make_submission(src / "日本", LOCALE_CASES["print"])
    make_submission(src / "plain")
    out = tmp_path / "out"
    proc = cli("grade-all", str(src), "--out", str(out), "--jobs", "2", "--no-progress", env=C_LOCALE)
    assert proc.returncode == 0, text(proc.stderr)
    with open(out / "grades.csv", encoding="utf-8", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"müller", "日本", "plain"} and all(r["status"] == "graded" for r in rows.values())
    assert float(rows["müller"]["total"]) < float(rows["plain"]["total"])
    for path in [*(out / "results").iterdir(), *(out / "raw").iterdir()]:
        assert_clean_json(path, validate_results if path.parent.name == "results" else None)
    feedback = {p.name: p.read_bytes().decode("utf-8") for p in (out / "feedback").iterdir()}
    assert any("müller" in t and STUDENT_TEXT in t for t in feedback.values())
    assert any("日本" in t and STUDENT_TEXT in t for t in feedback.values())
    (out / "summary.md").read_bytes().decode("utf-8")
    # The ids read under the C locale match the records they wrote: a rerun grades nobody again.
    again = cli("grade-all", str(src), "--out", str(out), "--jobs", "2", "--no-progress", env=C_LOCALE)
    assert again.returncode == 0, text(again.stderr)
    assert "3 already graded before" in text(again.stderr)
    override = cli("override", str(out), "--student", "müller", "--test", "sigmoid: matches the reference",
                   "--score", "1", "--reason", "größe: accepted", env=C_LOCALE)
    assert override.returncode == 0, text(override.stderr)
    assert "größe: accepted" in (out / "overrides.yaml").read_bytes().decode("utf-8")  # readable, not escaped
    assert "größe: accepted" in next(t for t in (p.read_bytes().decode("utf-8") for p in (out / "feedback")
                                                 .iterdir()) if "müller" in t)


def test_gradescope_run_under_a_non_utf8_locale_keeps_the_score(gs_root, tmp_path, validate_results):  # noqa: F811
    sub = make_submission(tmp_path / "sub", LOCALE_CASES["exception"] + LOCALE_CASES["print"])
    assert cli("grade", str(sub), "--results", str(tmp_path / "expected.json"), "--quiet").returncode == 0
    expected = json.loads((tmp_path / "expected.json").read_text())
    upload(gs_root, {p.name: p for p in sub.iterdir()})
    upload(gs_root, {"notizen_größe.txt": "ü"})  # a file name the C locale cannot show
    proc, results = run_autograder(gs_root, **C_LOCALE)
    assert_clean_json(gs_root / "results" / "results.json", validate_results)
    assert "autograder itself failed" not in results["output"]
    assert results["score"] == expected["score"] and results["score"] > 0
    assert [t["score"] for t in results["tests"]] == [t["score"] for t in expected["tests"]]
    assert STUDENT_TEXT in results["output"]


# File names the C locale cannot encode: UTF-8 text, and bytes that are not UTF-8 at all (a Latin-1 name).
ODD_NAMES = {"notes_é.py": "x = 1\n", "Übung 2.py": "y = 2\n", "日本.txt": "z"}
LATIN1_NAME = b"caf\xe9.py"


def _odd_submission(folder: Path) -> Path:
    """The reference with helper files whose names are not ASCII (they are copied beside the graded files)."""
    make_submission(folder)
    for name, content in ODD_NAMES.items():
        (folder / name).write_text(content, encoding="utf-8")
    with open(os.path.join(os.fsencode(folder), LATIN1_NAME), "w", encoding="utf-8") as f:
        f.write("w = 3\n")
    return folder


def test_non_ascii_and_undecodable_file_names_grade_under_a_non_utf8_locale(tmp_path, validate_results):
    sub = _odd_submission(tmp_path / "class" / "bob")
    make_submission(tmp_path / "class" / "zoë")
    # A zip with UTF-8 member names, as Windows' and 7-Zip's zips are, and one made by Info-ZIP's `zip`.
    win = tmp_path / "win"
    for name in FILES:
        (win / "Hausübung").mkdir(parents=True, exist_ok=True)
        (win / "Hausübung" / name).write_bytes((SOLUTIONS / name).read_bytes())
    (win / "Hausübung" / "Lösung_notizen.py").write_text("n = 1\n")
    import zipfile

    with zipfile.ZipFile(tmp_path / "class" / "win_student.zip", "w") as zf:
        for path in sorted(win.rglob("*.py")):
            zf.write(path, path.relative_to(win).as_posix())
    zipped = subprocess.run(["zip", "-qr", str(tmp_path / "class" / "infozip.zip"), "Hausübung"], cwd=win,
                            capture_output=True, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert zipped.returncode == 0, zipped.stderr
    reference, _ = grade_reference(tmp_path)
    for target in (sub, tmp_path / "class" / "win_student.zip", tmp_path / "class" / "infozip.zip"):
        results = tmp_path / f"{target.name}.json"
        proc = cli("grade", str(target), "--results", str(results), env=C_LOCALE)
        assert proc.returncode == 0, text(proc.stderr)
        document = assert_clean_json(results, validate_results)
        assert [t["score"] for t in document["tests"]] == reference, target.name
        assert "total" in text(proc.stdout)
        check = cli("check", str(target), env=C_LOCALE)
        assert check.returncode == 0 and "These are the public tests only" in text(check.stdout), text(check.stderr)
    notes = json.loads((tmp_path / "bob.json").read_text())["output"]
    assert "notes_é.py" in notes and "Übung 2.py" in notes and "caf\\xe9.py" in notes  # shown, not mangled
    out = tmp_path / "out"
    proc = cli("grade-all", str(tmp_path / "class"), "--out", str(out), "--no-progress", env=C_LOCALE)
    assert proc.returncode == 0, text(proc.stderr)
    with open(out / "grades.csv", encoding="utf-8", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"bob", "zoë", "win_student", "infozip"}
    assert all(r["status"] == "graded" and r["total"] == r["max"] for r in rows.values()), rows
    assert "notes_é.py" in rows["bob"]["note"]
    # Result files keep the letters of the id, written as UTF-8 whatever the locale.
    assert (out / "results" / "zoë.json").exists() and (out / "feedback" / "zoë.md").exists()


def grade_reference(tmp_path: Path) -> tuple[list[float], dict]:
    """Per-test scores of the reference solution, graded in a UTF-8 locale."""
    results = tmp_path / "reference.json"
    assert cli("grade", str(SOLUTIONS), "--results", str(results), "--quiet").returncode == 0
    document = json.loads(results.read_text())
    return [t["score"] for t in document["tests"]], document


def test_gradescope_upload_with_undecodable_names_under_a_non_utf8_locale(gs_root, tmp_path,  # noqa: F811
                                                                          validate_results):
    reference, _ = grade_reference(tmp_path)
    sub = _odd_submission(tmp_path / "sub")
    shutil.copytree(sub, gs_root / "submission", dirs_exist_ok=True)
    proc, results = run_autograder(gs_root, **C_LOCALE)
    assert_clean_json(gs_root / "results" / "results.json", validate_results)
    assert "autograder itself failed" not in results["output"]
    assert [t["score"] for t in results["tests"]] == reference
    assert "notes_é.py" in results["output"]


def test_lms_names_read_as_utf8_under_a_non_utf8_locale(tmp_path):
    from classroom import blackboard_receipt

    ref = {f: (SOLUTIONS / f).read_bytes() for f in FILES}
    # Blackboard: the receipt holds the full name.
    bb = tmp_path / "bb"
    bb.mkdir()
    prefix = "HW_jnunez_attempt_2024-03-01-10-00-00"
    for f, data in ref.items():
        (bb / f"{prefix}_{f}").write_bytes(data)
    (bb / f"{prefix}.txt").write_text(blackboard_receipt("José Núñez", "jnunez", "HW",
                                                         [(f, f"{prefix}_{f}") for f in FILES]), encoding="utf-8")
    # Gradescope's export: the metadata holds the names.
    gs = tmp_path / "gs"
    make_submission(gs / "submission_1")
    (gs / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Dário Nóbrega\n    :sid: '1004'\n", encoding="utf-8")
    # Moodle: the name is in the folder's name.
    moodle = tmp_path / "moodle"
    make_submission(moodle / "Zoë Ångström_207_assignsubmission_file")
    for folder, sid, name in ((bb, "jnunez", "José Núñez"), (gs, "1004", "Dário Nóbrega"),
                              (moodle, "207", "Zoë Ångström")):
        out = tmp_path / f"out_{folder.name}"
        proc = cli("grade-all", str(folder), "--out", str(out), "--no-progress", env=C_LOCALE)
        assert proc.returncode == 0, text(proc.stderr)
        with open(out / "grades.csv", encoding="utf-8", newline="") as f:
            rows = {row["student_id"]: row for row in csv.DictReader(f)}
        assert rows[sid]["name"] == name and rows[sid]["status"] == "graded"
        batch = json.loads((out / "batch.json").read_text(encoding="utf-8"))
        assert [s["name"] for s in batch["mapping"]["students"]] == [name]


# -- correct code that prints a lot ---------------------------------------------------------------------------
PRINTERS = {
    "100 KB per call": [{"file": "rnn_layers.py", "find": "def rnn_step_forward(x_t, s_prev, U, W, b):",
                         "replace": "def rnn_step_forward(x_t, s_prev, U, W, b):\n    print('y' * 100_000)"}],
    "1 MB per call to stderr": [{"file": "rnn_layers.py", "find": "def output_forward(s, V, c):",
                                 "replace": "def output_forward(s, V, c):\n    import sys\n"
                                            "    print('z' * 1_000_000, file=sys.stderr)"}],
    "many lines": [{"file": "lstm_layers.py", "find": "def sigmoid(z):",
                    "replace": "def sigmoid(z):\n    for k in range(300):\n        print('line', k, 'x' * 1000)"}],
    "bytes through the buffer": [{"file": "rnn_layers.py", "find": "def rnn_step_forward(x_t, s_prev, U, W, b):",
                                  "replace": "def rnn_step_forward(x_t, s_prev, U, W, b):\n    import sys\n"
                                             "    sys.stdout.buffer.write(b'q' * 200_000)"}],
}


@pytest.mark.parametrize("case", sorted(PRINTERS))
def test_printing_past_the_output_limit_costs_no_points(case, tmp_path, validate_results):
    config = write_config(tmp_path, limits={"file_mb": 2})  # a small limit, reached in a few hundred calls
    reference = tmp_path / "reference.json"
    assert cli("grade", str(SOLUTIONS), "--results", str(reference), "--config", str(config),
               "--quiet").returncode == 0
    sub = make_submission(tmp_path / "sub", PRINTERS[case])
    results = tmp_path / "results.json"
    proc = cli("grade", str(sub), "--results", str(results), "--config", str(config), "--quiet")
    assert proc.returncode == 0, text(proc.stderr)
    document = assert_clean_json(results, validate_results)
    expected = json.loads(reference.read_text())
    assert [(t["name"], t["score"]) for t in document["tests"]] == [(t["name"], t["score"]) for t in expected["tests"]]
    assert not any("File too large" in t["output"] or "OSError" in t["output"] for t in document["tests"])
    assert "your code printed more than 1.94 MB; output is cut" in document["output"]
    # The note counts what was printed past the cut too, not only what was kept: every case prints well over ten
    # times the cap in its public calls (80 MB and more), so a count of the kept bytes alone (1.94 MB) fails here.
    printed = re.search(r"Note: your code printed about ([0-9.e+]+) MB in the public tests; output past 1.94 MB "
                        r"is cut", document["output"])
    assert printed and float(printed.group(1)) > 10 * 1.94, document["output"]


# -- control characters and undecodable bytes --------------------------------------------------------------
CONTROL_EDITS = [
    {"file": "rnn_layers.py", "find": "def rnn_step_forward(x_t, s_prev, U, W, b):",
     "replace": "def rnn_step_forward(x_t, s_prev, U, W, b):\n"
                "    import sys\n"
                "    print('nul\\x00 bell\\x07 esc\\x1b[31m cr\\r del\\x7f c1\\x85 tab\\t end')\n"
                "    print('score: 0 \\u202e251 / 251\\u202c')\n"
                "    print('sep\\u2028line bom\\ufeff tag\\U000e0041 zwj\\u200dkept')\n"
                "    print('joiner\\u2060 note\\ufff9 filler\\u3164 shy\\xad end')\n"
                "    sys.stdout.flush()\n"
                "    sys.stdout.buffer.write(b'bytes \\xff\\xfe \\xc3\\xa9\\n')\n"
                "    sys.stdout.flush()"},
    {"file": "lstm_layers.py", "find": "def sigmoid(z):",
     "replace": "def sigmoid(z):\n"
                "    raise ValueError('bad\\x00value\\x1b[2J \\udcff surrogate\\n[PASS] sigmoid: forged')"},
]


def test_control_characters_and_bad_bytes_never_reach_results_verbatim(tmp_path, validate_results):
    sub = make_submission(tmp_path / "sub", CONTROL_EDITS)
    # Test names come from the config file too: one with a control character and an escaped byte.
    raw = yaml.safe_load(CONFIG.read_text())
    raw["questions"][0]["tests"][0]["name"] = "matches\x07 the reference"
    config = write_config(tmp_path, questions=raw["questions"])
    results = tmp_path / "results.json"
    proc = cli("grade", str(sub), "--results", str(results), "--config", str(config))
    assert proc.returncode == 0, text(proc.stderr)
    document = assert_clean_json(results, validate_results)
    written = "\n".join(strings(document))
    for visible in ("nul\\x00 bell\\x07 esc\\x1b[31m", "del\\x7f c1\\x85 tab\t end", "bad\\x00value\\x1b[2J",
                    "score: 0 \\u202e251 / 251\\u202c", "sep\\u2028line bom\\ufeff tag\\U000e0041 zwj\u200dkept",
                    "joiner\\u2060 note\\ufff9 filler\\u3164 shy\\xad end", "surrogate\n    [PASS] sigmoid: forged",
                    "matches\\x07 the reference"):
        assert visible in written, visible
    assert not {"\x1b", "\x00", "\u202e"} & set(text(proc.stdout))  # the terminal is safe too
    # The exception's own lines stay under it: none reads as a line of the grader's.
    assert not any(line.startswith("[PASS]") for line in written.splitlines())
    # The same through grade-all: raw records, results, feedback and the summary.
    src = tmp_path / "class"
    make_submission(src / "noisy", CONTROL_EDITS)
    out = tmp_path / "out"
    batch = run_cli("grade-all", str(src), "--out", str(out), "--jobs", "1", "--no-progress", "--config", str(config))
    assert batch.returncode == 0, batch.stderr
    assert_clean_json(out / "raw" / "noisy.json")
    assert_clean_json(out / "results" / "noisy.json", validate_results)
    for path in (out / "feedback" / "noisy.md", out / "summary.md", out / "grades.csv"):
        body = path.read_bytes().decode("utf-8")
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", body), path


@pytest.mark.parametrize("raw, expected", [
    ("nul\x00", "nul\\x00"),
    ("keep\nnew\tlines", "keep\nnew\tlines"),
    ("esc\x1b[0m del\x7f c1\x9b", "esc\\x1b[0m del\\x7f c1\\x9b"),
    ("crlf\r\n", "crlf\\x0d\n"),
    (os.fsdecode(b"m\xc3\xbcller") if sys.getfilesystemencoding() == "ascii" else "m\udcc3\udcbcller", "müller"),
    ("bad \udcff byte", "bad \\xff byte"),
    ("lone \ud800 high", "lone \ufffd high"),
    ("größe ≠ ✓", "größe ≠ ✓"),
    ("plain ASCII, printable ~", "plain ASCII, printable ~"),
    ("\x7f", "\\x7f"),
    ("", ""),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected
    assert clean({raw: [raw, 1.5, None]}) == {expected: [expected, 1.5, None]}
    clean_text(raw).encode("utf-8")  # strict: never a surrogate left


# -- results onto something that is not a regular file -----------------------------------------------------------
@pytest.fixture(scope="module")
def reference_json(tmp_path_factory) -> bytes:
    """results.json of the reference, written to a plain file (what every other target must receive)."""
    path = tmp_path_factory.mktemp("ref") / "results.json"
    proc = cli("grade", str(SOLUTIONS), "--results", str(path), "--quiet")
    assert proc.returncode == 0, text(proc.stderr)
    return path.read_bytes()


def grade_into(target: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(SOLUTIONS), "--results", target,
                           "--quiet"], cwd=ROOT, timeout=300, **kwargs)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


@needs_root
def test_results_onto_a_character_device_write_through_it(tmp_path):
    for name, (major, minor) in {"null": (1, 3), "zero": (1, 5)}.items():
        node = tmp_path / name
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        proc = grade_into(str(node), capture_output=True)
        assert proc.returncode == 0, text(proc.stderr)
        st = os.lstat(node)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(major, minor), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left beside them


def test_results_onto_a_fifo_reach_its_reader(tmp_path, reference_json):
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = grade_into(str(fifo), capture_output=True)
    assert proc.returncode == 0, text(proc.stderr)
    reader.join(timeout=60)  # only a guard against hanging: the grader has closed the FIFO by now
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and json.loads(received[0])["score"] == json.loads(reference_json)["score"]


# /dev/stdout itself is not used: a grader that replaced it would break the machine.  A link of our own to
# /proc/self/fd/1 is the same thing.
@pytest.mark.parametrize("target", ["stdout-link", "/proc/self/fd/1", "/dev/fd/1"])
def test_results_onto_stdout_follow_its_redirection(tmp_path, target, reference_json):
    if target == "stdout-link":
        target = str(tmp_path / "stdout")
        os.symlink("/proc/self/fd/1", target)
    out = tmp_path / "stdout.json"
    out.write_text("an earlier line\n")
    with open(out, "ab") as f:  # stdout is a regular file here (>>): written where the shell opened it
        proc = grade_into(target, stdout=f, stderr=subprocess.PIPE)
    assert proc.returncode == 0, text(proc.stderr)
    first, rest = out.read_text().split("\n", 1)
    assert first == "an earlier line" and json.loads(rest)["score"] == json.loads(reference_json)["score"]
    piped = grade_into(target, capture_output=True)  # and a pipe
    assert piped.returncode == 0 and json.loads(piped.stdout)["score"] == json.loads(reference_json)["score"]
    if target.startswith(str(tmp_path)):
        assert os.readlink(target) == "/proc/self/fd/1"


def test_results_through_a_symlink_replace_its_target_and_keep_the_link(tmp_path, reference_json):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert grade_into(str(link)).returncode == 0
    assert link.is_symlink() and json.loads(real.read_bytes())["score"] == json.loads(reference_json)["score"]


def test_results_onto_a_directory_or_socket_are_refused_before_grading(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for target, kind in ((folder, "a directory"), (sock_path, "a socket")):
            proc = grade_into(str(target), capture_output=True)
            assert proc.returncode == 2 and f"is {kind}" in text(proc.stderr), text(proc.stderr)
            assert "Traceback" not in text(proc.stderr)
    finally:
        server.close()
    assert list(folder.iterdir()) == [] and stat.S_ISSOCK(os.lstat(sock_path).st_mode)


# -- overrides.yaml, edited by hand ------------------------------------------------------------------------------
TEST = "rnn_step_forward: matches the reference"  # 2 points


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("gradebook")
    make_submission(base / "class" / "good")
    make_submission(base / "class" / "blank", base=TEMPLATES)
    out = base / "out"
    proc = run_cli("grade-all", str(base / "class"), "--out", str(out), "--jobs", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return out


def snapshot(out: Path) -> dict[str, str]:
    """Every derived file of OUTDIR (not logs, the lock or overrides.yaml) by its content's hash."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in (LOCK, "overrides.yaml") and "logs" not in p.parts}


BAD_OVERRIDES = {
    "nan": ({"blank": {TEST: {"score": float("nan"), "reason": "x"}}}, "finite number"),
    "inf": ({"blank": {TEST: {"score": float("inf"), "reason": "x"}}}, "finite number"),
    "above max": ({"blank": {TEST: {"score": 50, "reason": "x"}}}, "outside 0..2"),
    "negative": ({"blank": {TEST: {"score": -1, "reason": "x"}}}, "at least 0"),
    "text score": ({"blank": {TEST: {"score": "full", "reason": "x"}}}, "must be a number"),
    "bool score": ({"blank": {TEST: {"score": True, "reason": "x"}}}, "must be a number"),
    "unknown student": ({"nobody": {TEST: {"score": 1, "reason": "x"}}}, "no graded student 'nobody'"),
    "unknown test": ({"blank": {"rnn_step_forward: no such test": {"score": 1, "reason": "x"}}}, "no test named"),
    "not a mapping": ({"blank": [1, 2]}, "expected test name"),
}


@pytest.mark.parametrize("case", sorted(BAD_OVERRIDES))
def test_bad_overrides_yaml_is_refused_with_its_entry_and_changes_nothing(graded, case):
    body, reason = BAD_OVERRIDES[case]
    path = graded / "overrides.yaml"
    path.write_text(yaml.safe_dump(body))
    before = snapshot(graded)
    try:
        for command in (["feedback", str(graded), "--published"], ["regrade", str(graded), "--student", "good",
                                                                     "--no-progress"],
                        ["override", str(graded), "--student", "good", "--test", TEST, "--score", "1",
                         "--reason", "ok"]):
            proc = run_cli(*command)
            assert proc.returncode == 2, (command, proc.stderr)
            assert "Traceback" not in proc.stderr and str(path) in proc.stderr and reason in proc.stderr, proc.stderr
            assert snapshot(graded) == before, command
    finally:
        path.unlink()


def test_a_valid_hand_edited_override_applies_everywhere(graded):
    (graded / "overrides.yaml").write_text(f"blank:\n  '{TEST}': {{score: 2, reason: by hand}}\n")
    try:
        assert run_cli("feedback", str(graded)).returncode == 0
        doc = json.loads((graded / "results" / "blank.json").read_text())
        assert doc["score"] == 2 and "by hand" in (graded / "feedback" / "blank.md").read_text()
    finally:
        (graded / "overrides.yaml").unlink()
        assert run_cli("feedback", str(graded)).returncode == 0


# -- one writer per OUTDIR ---------------------------------------------------------------------------------------
def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autograder", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_until_waiting(proc: subprocess.Popen) -> str:
    """Read the command's stderr up to its "waiting" line (it blocks on the lock after printing it)."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("waiting:"):
            return line
    raise AssertionError("never waited for the lock: " + "".join(seen))


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def test_override_during_a_regrade_lands_in_every_output(tmp_path):
    src = tmp_path / "class"
    make_submission(src / "good")
    make_submission(src / "blank", base=TEMPLATES)
    out = tmp_path / "out"
    assert run_cli("grade-all", str(src), "--out", str(out), "--jobs", "2", "--no-progress").returncode == 0
    with outdir_lock(out, "the test", say=lambda _: None):
        regrade = start("regrade", str(out), "--student", "blank", "--student", "good", "--no-progress")
        override = start("override", str(out), "--student", "blank", "--test", TEST, "--score", "1.5",
                         "--reason", "accepted by hand")
        for proc in (regrade, override):
            assert "in use by pid" in wait_until_waiting(proc)
    code, err = finish(regrade)
    assert code == 0, err
    code, err = finish(override)
    assert code == 0, err
    doc = json.loads((out / "results" / "blank.json").read_text())
    assert doc["score"] == 1.5 and doc["extra_data"]["overrides"][0]["reason"] == "accepted by hand"
    assert "accepted by hand" in (out / "feedback" / "blank.md").read_text()
    with open(out / "grades.csv", newline="") as f:
        assert float({r["student_id"]: r for r in csv.DictReader(f)}["blank"]["total"]) == 1.5
    assert (out / LOCK).read_text() == ""  # released


def test_two_grade_alls_on_one_outdir_grade_each_student_once(tmp_path):
    src = tmp_path / "class"
    for name in ("a", "b", "c"):
        make_submission(src / name)
    out = tmp_path / "out"
    out.mkdir()
    with outdir_lock(out, "the test", say=lambda _: None):
        runs = [start("grade-all", str(src), "--out", str(out), "--jobs", "1", "--no-progress") for _ in range(2)]
        for proc in runs:
            wait_until_waiting(proc)
    errs = []
    for proc in runs:
        code, err = finish(proc)
        assert code == 0, err
        errs.append(err)
    graded_now = [int(m.group(1)) for e in errs for m in re.finditer(r"this run: (\d+) submission", e)]
    assert sum(graded_now) == 3 and sum("3 already graded before" in e for e in errs) == 1, errs


@contextlib.contextmanager
def holder_process(out: Path):
    """Another process holding OUTDIR's lock (as a running grade-all would); yields its Popen."""
    code = ("import sys; from pathlib import Path; from autograder.classroom.gradebook import outdir_lock\n"
            "with outdir_lock(Path(sys.argv[1]), 'grade-all (held by the test)'):\n"
            "    print('held', flush=True); sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "held\n"
        yield proc
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=60)


def test_no_wait_refuses_naming_the_holder(graded, tmp_path):
    with holder_process(graded) as holder:
        for command in (["feedback", str(graded)], ["regrade", str(graded), "--student", "good"],
                        ["override", str(graded), "--student", "good", "--test", TEST, "--score", "1", "--reason",
                         "x"],
                        ["grade-all", str(graded.parent / "class"), "--out", str(graded)]):
            before = snapshot(graded)
            proc = run_cli(*command, "--no-wait")
            assert proc.returncode == EXIT_BUSY, (command, proc.stderr)
            assert f"pid {holder.pid} on {socket.gethostname()}" in proc.stderr
            assert "grade-all (held by the test)" in proc.stderr
            assert snapshot(graded) == before
    assert run_cli("feedback", str(graded), "--no-wait").returncode == 0  # released with its holder


def test_a_killed_holder_leaves_no_lock_behind(graded):
    with holder_process(graded) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    proc = run_cli("feedback", str(graded), "--no-wait")
    assert proc.returncode == 0, proc.stderr
    assert f"pid {holder.pid}" in proc.stderr and "ended without finishing" in proc.stderr
    assert run_cli("feedback", str(graded), "--no-wait").stderr.count("ended without") == 0


def test_the_lock_file_alone_does_not_make_a_folder_foreign(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / LOCK, "w") as f:  # e.g. a grade-all that stopped before writing anything
        fcntl.flock(f, fcntl.LOCK_SH)
        fcntl.flock(f, fcntl.LOCK_UN)
    make_submission(tmp_path / "class" / "a")
    proc = run_cli("grade-all", str(tmp_path / "class"), "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    other = tmp_path / "foreign"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    proc = run_cli("grade-all", str(tmp_path / "class"), "--out", str(other), "--no-progress")
    assert proc.returncode == 2 and not (other / LOCK).exists()


def test_the_visible_score_line_never_counts_hidden_tests(tmp_path):
    """results.json's output (shown to students on Gradescope before grades are published) gives the score on
    the visible tests only: a changed quiz answer (hidden tests) must not move it, while the total does."""
    from conftest import grade_cli

    lines = {}
    for name, answer in (("right", '"markov_property": 2'), ("wrong", '"markov_property": 1')):
        sub = make_submission(tmp_path / name, [{"file": "quiz.py", "find": '"markov_property": 2',
                                                  "replace": answer}])
        _, results = grade_cli(sub, tmp_path)
        shown = [t for t in results["tests"] if t["visibility"] == "visible"]
        hidden = [t for t in results["tests"] if t["visibility"] != "visible"]
        line = next(ln for ln in results["output"].splitlines() if "Score" in ln)
        assert line.startswith(f"Score on the tests shown: {sum(t['score'] for t in shown):g} / "
                               f"{sum(t['max_score'] for t in shown):g}. {len(hidden)} hidden tests")
        lines[name] = (line, results["score"])
    assert lines["right"][0] == lines["wrong"][0] and lines["right"][1] > lines["wrong"][1]


def test_json_files_are_cleaned_whenever_a_string_needs_it(tmp_path):
    """write_json_atomic skips cleaning when the encoded JSON shows nothing to clean: on random strings of
    control characters, C1 characters, lone and paired surrogates, backslashes and letters, the file is always
    what cleaning every string first would give."""
    import random

    from autograder.grading.results import write_json_atomic
    from autograder.text import clean

    rng = random.Random(0)
    alphabet = [chr(i) for i in [*range(0x250), 0xD800, 0xDC80, 0xDFFF, 0x1F600]] + ["\\", "b", "r", "u", "0"]
    path = tmp_path / "x.json"
    for _ in range(2000):
        doc = {"k" + rng.choice(alphabet): ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
                                            for _ in range(3)], "n": 1.5, "t": ("a\\b",)}
        for indent in (None, 2):
            write_json_atomic(path, doc, indent=indent)
            assert path.read_text() == json.dumps(clean(doc), indent=indent, allow_nan=False) + "\n", doc


def test_a_failure_of_the_grader_itself_still_writes_a_results_json(tmp_path):
    """Whatever fails inside grading (here the grader's grade function, replaced by one that raises): results.json
    says the grader failed, not the student, and the command exits 2 with the traceback for the staff."""
    results = tmp_path / "results.json"
    script = ("import runpy, sys\nimport autograder.grading.grader as grader\n"
              "def broken(*args, **kwargs):\n    raise RuntimeError('a bug of the grader')\n"
              "grader.grade = broken\n"
              f"sys.argv = ['autograder', 'grade', {str(SOLUTIONS)!r}, '--results', {str(results)!r}, '--quiet']\n"
              "runpy.run_module('autograder', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 2 and "RuntimeError: a bug of the grader" in proc.stderr, proc.stderr
    doc = json.loads(results.read_text())
    assert doc["score"] == 0 and "The grader itself failed on this submission (not something in your code)" in \
        doc["output"]
