"""The Gradescope autograder: the zip that `make gradescope` builds, unzipped into a root laid out like
Gradescope's (source/, submission/, results/, submission_metadata.json), its run_autograder run on real
submissions, and its setup.sh run against a fresh venv.

Secrecy checks need the root mode (student code under its own uid: see autograder/sandbox/privileges.py) and are
skipped otherwise.  The simulated root sits in /tmp with mode 0755, like /autograder, so that the permissions
inside it are what stands between student code and the grader's files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import FILES, ROOT, SOLUTIONS, TEMPLATES, lost_functions, make_submission

from autograder.integrations.gradescope import MANIFEST, unpack
from autograder.submissions.locate import MAX_FILE_BYTES, locate

ROOT_MODE = os.geteuid() == 0 and os.environ.get("AUTOGRADER_DROP_PRIVILEGES", "1") != "0"
needs_root = pytest.mark.skipif(not ROOT_MODE, reason="needs the root mode: student code under its own uid")
CORPUS = {m["name"]: m for m in yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())}
RNN = {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "output_forward", "output_backward",
       "softmax_cross_entropy", "clip_gradients"}
LSTM = {"sigmoid", "lstm_gates", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"}
# The files besides the two layer modules, uploaded as the reference where a test is about those two.
OTHERS = {f: SOLUTIONS / f for f in FILES if f not in ("rnn_layers.py", "lstm_layers.py")}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    """The zip, built as `make gradescope` builds it."""
    out = tmp_path_factory.mktemp("dist") / "autograder.zip"
    proc = subprocess.run([sys.executable, "-m", "autograder.integrations.gradescope", "build", "--out", str(out)],
                          cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def gs_root(autograder_zip):
    root = Path(tempfile.mkdtemp(prefix="gs_root_", dir="/tmp"))
    os.chmod(root, 0o755)
    unpack(autograder_zip, root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_autograder(root: Path, python: str = sys.executable, timeout: float = 240,
                   **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the root's copy of run_autograder as Gradescope does (as is, from /autograder); return its results."""
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python, **env})
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads((root / "results" / "results.json").read_text())


def upload(root: Path, files: dict[str, str | Path]) -> None:
    """Put files in root/submission: name -> source file to copy, or text."""
    for name, content in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_text(content)


def total(results: dict) -> float:
    return sum(t["max_score"] for t in results["tests"])


# -- the zip --------------------------------------------------------------------------------------------------------
def test_zip_holds_the_grader_config_and_reference_only(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        contents = {name: archive.read(name) for name in infos}
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "autograder").rglob("*")
               if p.suffix in (".py", ".json") and "__pycache__" not in p.parts}
    # The assignment's homework and behaviours modules build the tests' inputs and run its behaviour checks.
    # fingerprints.json: the notes on edited template parts and on files handed in as released.
    assignment = {f"assignments/hw_rnn/{name}"
                  for name in ("assignment.yaml", "homework.py", "behaviours.py", "fingerprints.json")}
    expected = {"setup.sh", "run_autograder", "requirements.txt", MANIFEST, *assignment,
                *(f"solutions/hw_rnn/{f}" for f in FILES), *package}
    assert set(infos) == expected
    assert not [n for n in infos if n.startswith(("tests/", "student_templates/", "bench/")) or n.endswith(".pyc")]
    # One source of truth: every file is the repository's own, byte for byte.
    sources = {"setup.sh": ROOT / "gradescope" / "setup.sh", "run_autograder": ROOT / "gradescope" / "run_autograder"}
    for name, data in contents.items():
        if name != MANIFEST:
            assert data == sources.get(name, ROOT / name).read_bytes(), name
    manifest = json.loads(contents[MANIFEST])
    assert manifest["config"] == "assignments/hw_rnn/assignment.yaml" and manifest["files"] == list(FILES)
    assert re.fullmatch(r"[0-9a-f]{12}(\+changes)?|unknown", manifest["commit"])
    for script in ("setup.sh", "run_autograder"):
        assert (infos[script].external_attr >> 16) & 0o777 == 0o755
    # Reproducible: the same tree gives the same bytes.
    again = tmp_path / "again.zip"
    subprocess.run([sys.executable, "-m", "autograder.integrations.gradescope", "build", "--out", str(again)], cwd=ROOT,
                   check=True, capture_output=True)
    assert again.read_bytes() == autograder_zip.read_bytes()


# -- grading through run_autograder -----------------------------------------------------------------------------------
def test_reference_gets_full_marks_with_the_configs_visibility(gs_root, config, validate_results):
    upload(gs_root, {f: SOLUTIONS / f for f in FILES})
    os.chmod(gs_root / "results", 0o777)  # as a careless image might leave it: run_autograder must close it
    proc, results = run_autograder(gs_root)
    validate_results(results)
    assert results["score"] == total(results) >= 100
    assert all(t["status"] == "passed" for t in results["tests"])
    by_name = {t["name"]: t for t in results["tests"]}
    assert len(by_name) == len(config.tests)
    for spec in config.tests:
        assert by_name[spec.full_name]["visibility"] == (config.hidden_visibility if spec.hidden else "visible")
    assert {t["visibility"] for t in results["tests"]} == {"visible", config.hidden_visibility}
    assert results["output"].startswith(f"Files uploaded: {', '.join(sorted(FILES))}\n")
    assert "Not graded" not in results["output"]
    # The staff's log (Gradescope's stdout) has the commit and the per-function table.
    assert "built from commit" in proc.stdout and "rnn_backward" in proc.stdout
    # Only root writes results: the folder is not writable by others, and holds nothing else.
    assert not os.stat(gs_root / "results").st_mode & 0o022
    assert sorted(p.name for p in (gs_root / "results").iterdir()) == ["results.json"]


def test_templates_get_zero(gs_root, validate_results):
    upload(gs_root, {f: TEMPLATES / f for f in FILES})
    _, results = run_autograder(gs_root)
    validate_results(results)
    assert results["score"] == 0 and total(results) >= 100
    assert all("is not implemented yet" in t["output"] for t in results["tests"])
    # The template fingerprints travel in the zip: the student learns the files are as released.
    assert f"{', '.join(FILES)} are unchanged from the released templates" in " ".join(results["output"].split())


def test_mutant_gets_partial_marks_and_hidden_feedback_reveals_no_inputs(gs_root, tmp_path, validate_results):
    mutant = CORPUS["rnn_backward_no_recurrent_gradient"]
    sub = make_submission(tmp_path / "mutant", mutant["edits"])
    upload(gs_root, {f: sub / f for f in FILES})
    _, results = run_autograder(gs_root)
    validate_results(results)
    assert lost_functions(results) == set(mutant["breaks"])
    assert 0 < results["score"] < total(results)
    hidden_failed = [t for t in results["tests"] if t["visibility"] != "visible" and t["score"] == 0]
    assert hidden_failed
    for t in hidden_failed:
        verdict = "\n".join(ln for ln in t["output"].splitlines() if not ln.startswith("Hint:"))
        for leak in ("seed", "index", "(got ", "N=", "T=", "time step"):
            assert leak not in verdict, (t["name"], t["output"])
        assert not re.search(r"expected -?\d", verdict), t["output"]
    public_failed = [t for t in results["tests"] if t["visibility"] == "visible" and t["score"] == 0]
    assert any("seed" in t["output"] for t in public_failed)


def test_an_upload_whose_zip_cannot_be_opened_tells_the_student_why(gs_root, validate_results):
    """Gradescope unpacks nothing itself: a damaged zip uploaded alone (made with the zip program, then cut
    short) is the student's to fix, and the result says so, never that the autograder failed."""
    work = gs_root.parent / f"{gs_root.name}_zip"
    shutil.copytree(SOLUTIONS, work / "hw_rnn")
    subprocess.run(["zip", "-qr", str(work / "hw_rnn.zip"), "hw_rnn"], cwd=work, check=True)
    data = (work / "hw_rnn.zip").read_bytes()
    upload(gs_root, {"hw_rnn.zip": ""})
    (gs_root / "submission" / "hw_rnn.zip").write_bytes(data[: len(data) // 2])
    shutil.rmtree(work)
    _, results = run_autograder(gs_root)
    validate_results(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "could not be opened: hw_rnn.zip" in results["output"] and "Fix it and submit again" in results["output"]
    assert "autograder itself failed" not in results["output"], results["output"]


def test_misnamed_and_nested_files_are_named_in_the_output(gs_root, validate_results):
    # A browser's " (1)" and capitals, inside a folder: graded, with the name it should have.
    # A near miss ("lstm_layer.py"): not graded, and the student is told to rename it.
    upload(gs_root, {"hw4/RNN_Layers (1).py": SOLUTIONS / "rnn_layers.py",
                     "lstm_layer.py": SOLUTIONS / "lstm_layers.py", "notes.txt": "my notes", **OTHERS})
    _, results = run_autograder(gs_root)
    validate_results(results)
    output = results["output"]
    assert "Graded 'hw4/RNN_Layers (1).py' as rnn_layers.py. Next time, name it rnn_layers.py." in output
    assert "lstm_layers.py is missing; found 'lstm_layer.py' instead: rename it to 'lstm_layers.py'" in output
    assert "Not graded: lstm_layer.py, notes.txt" in output
    assert lost_functions(results) == LSTM
    assert all(t["score"] == t["max_score"] for t in results["tests"] if t["name"].split(":")[0] in RNN)


# Student code that tries to read the grader's files and the metadata, and to write results, now and after
# grading (from a process that leaves the process group), then reports what it managed.
ATTACK = """
import json, os, subprocess
_root = {root!r}
def _try(label, action):
    try:
        action()
        print("LEAKED", label)
    except OSError as exc:
        print("DENIED", label, type(exc).__name__)
_try("list source", lambda: os.listdir(os.path.join(_root, "source")))
_try("read reference", lambda: open(os.path.join(_root, "source", "solutions", "hw_rnn", "rnn_layers.py")).read())
_try("read config", lambda: open(os.path.join(_root, "source", "assignments", "hw_rnn", "assignment.yaml")).read())
_try("read metadata", lambda: open(os.path.join(_root, "submission_metadata.json")).read())
_fake = json.dumps({{"score": 1000, "tests": [{{"name": "planted", "score": 1000, "max_score": 1}}]}})
_try("write results", lambda: open(os.path.join(_root, "results", "results.json"), "w").write(_fake))
_try("plant a file", lambda: open(os.path.join(_root, "results", "planted.json"), "w").write(_fake))
_later = ("import sys, time; time.sleep(3); open(sys.argv[1], 'w').write(sys.argv[2])")
subprocess.Popen(["python3", "-c", _later, os.path.join(_root, "results", "results.json"), _fake],
                 start_new_session=True)
print("OOM", open("/proc/self/oom_score_adj").read().strip())
"""


@needs_root
def test_adversarial_submission_gets_nothing_from_the_root(gs_root, validate_results):
    attack = ATTACK.format(root=str(gs_root))
    upload(gs_root, {"rnn_layers.py": (SOLUTIONS / "rnn_layers.py").read_text() + attack, **OTHERS})
    # A link to the reference must not be followed by the root-side copy.
    reference = gs_root / "source" / "solutions" / "hw_rnn" / "lstm_layers.py"
    os.symlink(reference, gs_root / "submission" / "lstm_layers.py")
    _, results = run_autograder(gs_root)
    written = (gs_root / "results" / "results.json").read_bytes()
    # The grader killed the delayed writer (it ran as the student's uid): nothing is left to write later.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if "time.sleep(3)" in line and str(gs_root) in line]
    validate_results(results)
    output = results["output"]
    for label in ("list source", "read reference", "read config", "read metadata", "write results", "plant a file"):
        assert f"DENIED {label}" in output, label
    assert "LEAKED" not in output and "BEGIN SOLUTION" not in json.dumps(results)
    assert "lstm_layers.py is a symbolic link: not graded" in output
    assert lost_functions(results) == LSTM and results["score"] > 0
    assert (gs_root / "results" / "results.json").read_bytes() == written
    assert sorted(p.name for p in (gs_root / "results").iterdir()) == ["results.json"]
    # Under a container's memory limit the kernel kills student code first.
    assert "OOM 1000" in output
    source_modes = [os.lstat(p).st_mode for p in (gs_root / "source").rglob("*")]
    assert source_modes and not any(m & 0o077 for m in source_modes)


def test_grader_that_cannot_run_still_gives_a_result(gs_root, validate_results):
    upload(gs_root, {f: SOLUTIONS / f for f in FILES})
    (gs_root / "source" / "assignments" / "hw_rnn" / "assignment.yaml").write_text("questions: [")
    proc, results = run_autograder(gs_root)
    validate_results(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "not a problem found in your code" in results["output"]
    assert "Course staff: the grader refused to start" in results["output"] and "exit status 2" in results["output"]
    # The reason is for the staff's log only: a config error may quote hidden cases.
    assert "not valid YAML" in proc.stdout and "YAML" not in results["output"]


def test_python_that_cannot_run_still_gives_a_result(gs_root, validate_results):
    upload(gs_root, {f: SOLUTIONS / f for f in FILES})
    proc, results = run_autograder(gs_root, python=str(gs_root / "no-such-python"))
    validate_results(results)
    assert results["score"] == 0 and "Course staff: Python could not run the grader" in results["output"]
    assert "wrote a score of 0" in proc.stderr


def test_grading_that_takes_too_long_is_stopped_and_says_so(gs_root, validate_results):
    stall = "import subprocess, time\nsubprocess.Popen(['sleep', '313.75'], start_new_session=True)\ntime.sleep(9)\n"
    upload(gs_root, {"rnn_layers.py": stall, "lstm_layers.py": SOLUTIONS / "lstm_layers.py"})
    # Stopped by run_autograder's own limit (it says so below), long before the student's 9 s nap ends.
    _, results = run_autograder(gs_root, AUTOGRADER_TIMEOUT="3")
    validate_results(results)
    assert results["score"] == 0 and "did not finish within 3 seconds" in results["output"]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 313.75" not in ps


@pytest.mark.skipif(not os.environ.get("HW_PY310"), reason="HW_PY310 is not set (make test sets it when a "
                                                           "Python 3.10 exists)")
def test_run_autograder_under_python310(gs_root):
    upload(gs_root, {f: SOLUTIONS / f for f in FILES})
    _, results = run_autograder(gs_root, python=os.environ["HW_PY310"])
    assert results["score"] == total(results) >= 100


# -- setup.sh -------------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="needs /usr/bin/python3 for the venv")
def test_setup_sh_installs_the_pins_secures_source_and_passes_its_self_test(gs_root, tmp_path, config,
                                                                          validate_results):
    """setup.sh as on Gradescope, except that its pip installs into a fresh venv instead of the system Python.

    The venv is made from /usr/bin/python3 inside the world-reachable root, so student code runs on the
    interpreter setup.sh installed into, as it does on Gradescope (no AUTOGRADER_CHILD_PYTHON).
    """
    venv = gs_root / "python"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOGRADER_CHILD_PYTHON", "PIP_REQUIRE_VIRTUALENV")}
    env["AUTOGRADER_PYTHON"] = python
    setup = subprocess.run(["bash", str(gs_root / "source" / "setup.sh")], cwd=gs_root / "source", env=env,
                           capture_output=True, text=True, timeout=600)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    full = f"{config.max_score:g}"
    assert f"self-test passed: the reference solution scores {full} of {full}" in setup.stdout
    frozen = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2] >= (3, 11))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert ("numpy==2.4.6" if version == "True" else "numpy==2.2.6") in frozen.split()
    assert "PyYAML==6.0.3" in frozen.split()
    assert not [p for p in (gs_root / "source").rglob("*") if os.lstat(p).st_mode & 0o077]
    assert os.stat(venv / "lib").st_mode & stat.S_IROTH  # what student code imports stays readable
    sub = make_submission(tmp_path / "mutant", CORPUS["softmax_unstable_no_max_shift"]["edits"])
    upload(gs_root, {f: sub / f for f in FILES})
    env.pop("AUTOGRADER_PYTHON")
    proc = subprocess.run([str(gs_root / "run_autograder")], cwd=gs_root, capture_output=True, text=True,
                          timeout=240, env={**env, "AUTOGRADER_ROOT": str(gs_root), "AUTOGRADER_PYTHON": python})
    assert proc.returncode == 0, proc.stderr
    results = json.loads((gs_root / "results" / "results.json").read_text())
    validate_results(results)
    assert lost_functions(results) == set(CORPUS["softmax_unstable_no_max_shift"]["breaks"])
    # A reference that does not get full marks stops the image build (setup.sh's last command fails).
    for edit in CORPUS["softmax_unstable_no_max_shift"]["edits"]:
        reference = gs_root / "source" / "solutions" / "hw_rnn" / edit["file"]
        reference.write_text(reference.read_text().replace(edit["find"], edit["replace"]))
    selftest = subprocess.run([python, "-m", "autograder.integrations.gradescope", "selftest"], cwd=gs_root / "source",
                              env=env,
                              capture_output=True, text=True, timeout=240)
    assert selftest.returncode == 1 and "self-test FAILED" in selftest.stderr


# -- staging the upload (no grading) -----------------------------------------------------------------------------
def _stage(tmp_path: Path, files: dict[str, str]) -> tuple:
    up, dest = tmp_path / "up", tmp_path / "dest"
    dest.mkdir()
    for name, text in files.items():
        (up / name).parent.mkdir(parents=True, exist_ok=True)
        (up / name).write_text(text)
    info = locate(up, FILES, "hw_rnn", dest=dest)
    return info, info.folder


def test_stage_prefers_the_exact_name_and_ignores_junk(tmp_path):
    info, dest = _stage(tmp_path, {"rnn_layers.py": "top", "old/rnn_layers.py": "nested", "RNN_layers.py": "case",
                                   "hw/lstm_layers.py": "lstm", "__MACOSX/hw/._lstm_layers.py": "junk",
                                   ".git/config": "x"})
    assert info.chosen == {"rnn_layers.py": "rnn_layers.py", "lstm_layers.py": "hw/lstm_layers.py"}
    assert (dest / "rnn_layers.py").read_text() == "top" and (dest / "lstm_layers.py").read_text() == "lstm"
    # Junk is never graded nor listed as uploaded work, and is said left out (nothing is skipped in silence).
    assert "Left out, as files no one writes by hand: .git/, __MACOSX/." in info.summary()
    assert "__MACOSX" not in info.summary().splitlines()[0] and ".git" not in info.summary().splitlines()[0]


def test_stage_takes_the_newest_copy_and_names_the_other(tmp_path):
    info, dest = _stage(tmp_path, {"rnn_layers (1).py": "a", "rnn_layers (2).py": "b", "lstm_layers.py": "c"})
    assert info.chosen["rnn_layers.py"] == "rnn_layers (2).py" and (dest / "rnn_layers.py").read_text() == "b"
    assert "Several files could be rnn_layers.py: graded 'rnn_layers (2).py' (the newest copy by its name; the next, " \
        "rnn_layers (1).py, differs from it); not graded: rnn_layers (1).py." in info.summary()


def test_the_note_on_several_copies_says_which_rule_chose_and_whether_they_differ(tmp_path):
    """A loose file beside a zip holding a newer copy: depth decides (the rule), and the note says so and that
    the copies differ, rather than call the graded one the newest."""
    info, _ = _stage(tmp_path, {"rnn_layers.py": "old", "final/rnn_layers.py": "fixed", "lstm_layers.py": "c",
                                "again/lstm_layers.py": "c"})
    assert "graded 'rnn_layers.py' (the shallowest; the next, final/rnn_layers.py, differs from it)" in info.summary()
    assert "graded 'lstm_layers.py' (the shallowest); not graded: again/lstm_layers.py." in info.summary()


def test_stage_never_follows_links_and_refuses_huge_files(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("SECRET = 1\n")
    up = tmp_path / "up"
    (up / "folder").mkdir(parents=True)
    (up / "rnn_layers.py").symlink_to(secret)
    (up / "linked").symlink_to(tmp_path)  # a link to a folder holding a lstm_layers.py
    (tmp_path / "lstm_layers.py").write_text("SECRET = 2\n")
    (up / "folder" / "lstm_layers.py").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    info = locate(up, FILES, "hw_rnn", dest=tmp_path / "dest")
    assert info.chosen == {} and list(info.folder.iterdir()) == []
    text = info.summary()
    assert "rnn_layers.py is a symbolic link" in text and "linked is a symbolic link" in text
    assert "folder/lstm_layers.py is not a readable file of at most 5 MB" in text


def test_stage_names_a_notebook_it_did_not_grade(tmp_path):
    info, _ = _stage(tmp_path, {"hw_rnn.ipynb": "{}", "lstm_layers.py": "x"})
    assert "Notebooks not graded: hw_rnn.ipynb (the .py files were graded)" in info.summary()



def test_try_without_a_zip_says_how_to_make_one(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder.integrations.gradescope", "try", str(SOLUTIONS),
                           "--zip", str(tmp_path / "autograder.zip")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"no autograder zip at {tmp_path / 'autograder.zip'}" in proc.stderr and "make gradescope" in proc.stderr
