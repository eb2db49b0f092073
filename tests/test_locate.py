"""One rule finds a student's work: the same work scores the same through `grade`, `grade-all` and Gradescope.

The corpus is one student's submission laid out the ways students, browsers,
LMSs and the course tools actually lay it out: real nbgrader and otter releases
(their `autograder/` package and `hw_rnn_checks/` folders beside the notebook),
the student bundle, zips made by the `zip` program and with macOS's
`__MACOSX/` entries, scratch notebooks, checkpoint copies, copies renamed by a
browser or an LMS, a notebook exported as a script with `jupyter nbconvert`.
Each holds one of two works: the reference (full marks) or a single-bug mutant;
its expected score is that work graded as a plain folder.  Each input is graded
through the command line, through `grade-all` (one class of all of them, and an
nbgrader course of the nbgrader ones) and through the Gradescope zip's
run_autograder, and must get its work's score every time.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import FILES, ROOT, grade_cli, make_submission, run_cli

from autograder.config import load_config
from autograder.integrations.gradescope import unpack
from autograder.integrations.notebooks import dumps, fill

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="nbgrader 0.9.6 needs Python 3.11 or newer")

CONFIG = load_config(ROOT / "assignments" / "hw_rnn" / "assignment.yaml")
MUTANT = next(m for m in yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())
              if m["name"] == "rnn_backward_no_recurrent_gradient")
NOTEBOOK = f"{CONFIG.assignment}.ipynb"


def _zip(folder: Path, archive: Path, cwd: Path | None = None) -> Path:
    """`zip -r` as a student runs it (from the folder's parent unless told): the folder's name is the top entry."""
    cwd = cwd or folder.parent
    subprocess.run(["zip", "-qr", str(archive), str(folder.relative_to(cwd))], cwd=cwd, check=True)
    return archive


def _macos_zip(folder: Path, archive: Path) -> Path:
    """A zip as macOS's Finder makes it: the folder, plus `__MACOSX/` resource forks and `.DS_Store`."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder.parent).as_posix()
                zf.write(path, rel)
                parent, _, name = rel.rpartition("/")
                zf.writestr(f"__MACOSX/{parent}/._{name}", b"\x00\x05\x16\x07 resource fork")
        zf.writestr(f"{folder.name}/.DS_Store", b"\x00\x00\x00\x01Bud1")
    return archive


def _scratch(path: Path, code: str = "") -> None:
    """A notebook as Jupyter's "New Notebook" makes it (Untitled.ipynb), with some scratch code."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)] if code else []
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """name -> (the submission: a folder, a zip or a single file; its work: "reference" or "mutant")."""
    from integrations.tools import nbgrader_course, otter_assign

    base = tmp_path_factory.mktemp("locate")
    works = {"reference": make_submission(base / "work" / "reference"),
             "mutant": make_submission(base / "work" / "mutant", MUTANT["edits"])}
    nb_release = nbgrader_course(base / "course", CONFIG).parent  # release/hw_rnn: notebook, autograder/, checks
    _, otter_student = otter_assign(base / "otter", CONFIG, run_tests=False)  # the student folder only
    from autograder.release import bundle as release

    bundle = release.build(CONFIG, base / "bundle").with_suffix("")
    src = base / "inputs"
    src.mkdir()
    inputs: dict[str, tuple[Path, str]] = {}

    def notebook(work: str, template: Path = nb_release / NOTEBOOK) -> str:
        return dumps(fill(template, works[work], CONFIG.files))

    def released(name: str, work: str, source: Path = nb_release) -> Path:
        folder = src / name
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / NOTEBOOK).write_text(notebook(work, source / NOTEBOOK))
        return folder

    def py_files(folder: Path, work: str, names: dict[str, str] | None = None) -> Path:
        for f in FILES:
            target = folder / (names or {}).get(f, f)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(works[work] / f, target)
        return folder

    # 1. Folders the course tools release beside the notebook: nbgrader (as `nbgrader collect` copies it back),
    #    the same zipped by the student, a GitHub Classroom repository, otter's student folder, the student bundle.
    folder = released("nbgrader_collected", "reference")
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC\n")
    inputs["nbgrader_collected"] = (folder, "reference")
    folder = released("hw_rnn", "mutant")
    inputs["nbgrader_zipped"] = (_zip(folder, src / "nbgrader_zipped.zip"), "mutant")
    shutil.rmtree(folder)
    repo = src / "classroom_repo"
    shutil.copytree(nb_release, repo / "hw_rnn")
    (repo / "hw_rnn" / NOTEBOOK).write_text(notebook("mutant"))
    (repo / "README.md").write_text("# hw_rnn\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    inputs["classroom_repo"] = (repo, "mutant")
    inputs["otter_student"] = (released("otter_student", "mutant", otter_student), "mutant")
    folder = src / "bundle"
    shutil.copytree(bundle, folder)
    inputs["bundle"] = (py_files(folder, "reference"), "reference")

    # 2. A scratch notebook (or a checkpoint copy, or an older unfilled copy) beside the real one.
    for name, work, extra in [("untitled", "mutant", {"Untitled.ipynb": ""}),
                              ("untitled_code", "reference", {"Untitled1.ipynb": "def rnn_forward(x):\n    pass"}),
                              ("checkpoint", "mutant", {".ipynb_checkpoints/hw_rnn-checkpoint.ipynb": None,
                                                        "Untitled.ipynb": "1 + 1"}),
                              ("renamed_beside_blank", "reference", {"blank.ipynb": None})]:
        folder = src / name
        folder.mkdir()
        main = "hw_rnn (1).ipynb" if name == "renamed_beside_blank" else NOTEBOOK
        (folder / main).write_text(notebook(work))
        for scratch, code in extra.items():
            if code is None:  # the unfilled release notebook
                (folder / scratch).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(nb_release / NOTEBOOK, folder / scratch)
            else:
                _scratch(folder / scratch, code)
        inputs[name] = (folder, work)

    # 2b. The work in another notebook beside the untouched released one (as `nbgrader collect` brings back a
    #     student who worked in a notebook of their own): a filled notebook wins whatever the names.
    for name, work, notebooks in [
            ("work_in_untitled", "reference", {"Untitled.ipynb": "work"}),
            ("work_in_untitled1", "mutant", {"Untitled.ipynb": "print(1)", "Untitled1.ipynb": "work"}),
            ("work_in_own_copy", "mutant", {"hw_rnn_done.ipynb": "work"}),
            ("untitled_alone", "reference", {"Untitled2.ipynb": "work", NOTEBOOK: None})]:
        folder = src / name
        shutil.copytree(nb_release, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC\n")
        for nb, what in notebooks.items():
            if what is None:
                (folder / nb).unlink()
            elif what == "work":
                (folder / nb).write_text(notebook(work))
            else:
                _scratch(folder / nb, what)
        inputs[name] = (folder, work)

    # 3. The notebook one or two folders down: zips of the hw_rnn/ folder (Windows and macOS), a Gradescope
    #    export's submission folder, a Downloads folder.
    folder = src / "win" / "hw_rnn"
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(notebook("reference"))
    inputs["nb_zip_windows"] = (_zip(folder, src / "nb_zip_windows.zip"), "reference")
    inputs["nb_zip_macos"] = (_macos_zip(folder, src / "nb_zip_macos.zip"), "reference")
    folder = src / "submission_4000001" / "hw_rnn"
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(notebook("mutant"))
    inputs["gradescope_nested"] = (folder.parent, "mutant")
    folder = src / "downloads" / "Downloads" / "hw_rnn"
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(notebook("mutant"))
    _scratch(folder.parent / "Untitled.ipynb", "print(1)")
    inputs["nb_two_down_zip"] = (_macos_zip(folder.parent, src / "nb_two_down_zip.zip"), "mutant")

    # 4. Names as browsers, LMSs and file managers rewrite them, and files split between the top and a folder.
    for name, work, names in [("browser_copy", "mutant", {"rnn_layers.py": "rnn_layers (1).py"}),
                              ("capitals", "mutant", {"rnn_layers.py": "RNN_Layers.py", "quiz.py": "Quiz.py"}),
                              ("split", "reference", {f: f"hw/{f}" for f in FILES[2:]}),
                              ("canvas_resubmitted", "reference", {"rnn_layers.py": "rnn_layers-1.py",
                                                                   "lstm_layers.py": "lstm_layers-2.py"}),
                              ("copies", "mutant", {"lstm_layers.py": "lstm_layers(1).py",
                                                    "quiz.py": "quiz - Copy.py",
                                                    "char_rnn.py": "code/char_rnn copy.py"})]:
        inputs[name] = (py_files(src / name, work, names), work)

    # 8. A zip or a single file given to `grade` itself: `zip` of the files, otter's export-style zip of the
    #    notebook, the notebook alone, a notebook exported with `jupyter nbconvert --to script`, a zip in a folder.
    folder = py_files(src / "flat", "reference")
    subprocess.run(["zip", "-q", str(src / "alice.zip"), *FILES], cwd=folder, check=True)
    shutil.rmtree(folder)
    inputs["zip_flat"] = (src / "alice.zip", "reference")
    with zipfile.ZipFile(src / "otter_export.zip", "w") as zf:
        zf.writestr(NOTEBOOK, notebook("mutant", otter_student / NOTEBOOK))
        zf.writestr("hw_rnn.pdf", b"%PDF-1.4 not really")
    inputs["otter_export_zip"] = (src / "otter_export.zip", "mutant")
    single = src / "single" / NOTEBOOK
    single.parent.mkdir()
    single.write_text(notebook("reference"))
    inputs["single_notebook"] = (single, "reference")
    script_dir = src / "script"
    script_dir.mkdir()
    exported = json.loads(notebook("mutant"))
    # What ipykernel records once the notebook has run (nbconvert takes the script's extension from it).
    exported["metadata"]["language_info"] = {"name": "python", "file_extension": ".py", "mimetype": "text/x-python",
                                             "nbconvert_exporter": "python", "pygments_lexer": "ipython3"}
    (script_dir / NOTEBOOK).write_text(json.dumps(exported))
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "script", NOTEBOOK], cwd=script_dir, check=True,
                   capture_output=True)
    (script_dir / NOTEBOOK).unlink()
    inputs["nbconvert_script"] = (script_dir / "hw_rnn.py", "mutant")
    folder = py_files(src / "inner" / "hw", "reference")
    (src / "zip_in_folder").mkdir()
    _zip(folder, src / "zip_in_folder" / "hw.zip")
    inputs["zip_in_folder"] = (src / "zip_in_folder", "reference")
    return base, works, inputs


@pytest.fixture(scope="module")
def expected(corpus, tmp_path_factory):
    """Each work's score graded as a plain folder of its .py files."""
    _, works, _ = corpus
    tmp = tmp_path_factory.mktemp("plain")
    scores = {name: grade_cli(folder, tmp)[1]["score"] for name, folder in works.items()}
    assert scores["reference"] > scores["mutant"] > 0
    return scores


def test_grade_and_check_accept_every_layout(corpus, expected, tmp_path):
    _, _, inputs = corpus
    got = {}
    for name, (path, work) in inputs.items():
        proc, results = grade_cli(path, tmp_path)
        got[name] = (results["score"], expected[work])
        assert "rename 'grader.py'" not in results["output"] and "rename 'check.py'" not in results["output"]
    assert {n: s for n, (s, want) in got.items() if s != want} == {}
    check = run_cli("check", str(inputs["zip_flat"][0]))
    assert check.returncode == 0 and "total" in check.stdout, check.stderr


def test_notes_name_what_was_not_graded(corpus, tmp_path):
    _, _, inputs = corpus
    _, results = grade_cli(inputs["untitled_code"][0], tmp_path)
    assert "Graded the notebook hw_rnn.ipynb (" in results["output"]
    assert "Notebooks not graded: Untitled1.ipynb" in results["output"]
    _, results = grade_cli(inputs["renamed_beside_blank"][0], tmp_path)
    assert "Graded the notebook hw_rnn (1).ipynb (it holds your work; blank.ipynb is unfilled)." in results["output"]
    assert "Notebooks not graded: blank.ipynb" in results["output"]
    _, results = grade_cli(inputs["work_in_untitled"][0], tmp_path)
    assert "Graded the notebook Untitled.ipynb (it holds your work; hw_rnn.ipynb is unfilled)." in results["output"]
    assert "Notebooks not graded: hw_rnn.ipynb" in results["output"]
    _, results = grade_cli(inputs["work_in_untitled1"][0], tmp_path)
    assert "Graded the notebook Untitled1.ipynb (it holds your work; Untitled.ipynb, hw_rnn.ipynb are unfilled)." \
        in results["output"]
    _, results = grade_cli(inputs["untitled_code"][0], tmp_path)  # both filled: the named one
    assert "Graded the notebook hw_rnn.ipynb (a named notebook is graded before Jupyter's Untitled ones)." \
        in results["output"]
    _, results = grade_cli(inputs["canvas_resubmitted"][0], tmp_path)
    assert "Graded 'rnn_layers-1.py' as rnn_layers.py" in results["output"]
    _, results = grade_cli(inputs["nbconvert_script"][0], tmp_path)
    assert "Graded the notebook exported as a script hw_rnn.py." in results["output"]
    assert "rename" not in results["output"]


def _grades(out: Path) -> dict[str, float]:
    with open(out / "grades.csv", newline="") as f:
        return {row["student_id"]: float(row["total"]) for row in csv.DictReader(f)}


def test_grade_all_gives_the_same_scores(corpus, expected, tmp_path):
    _, _, inputs = corpus
    klass = tmp_path / "class"
    klass.mkdir()
    for name, (path, _) in inputs.items():
        if path.is_dir():
            shutil.copytree(path, klass / name, symlinks=True)
        elif path.suffix == ".zip":
            shutil.copyfile(path, klass / f"{name}.zip")
        else:  # a single file: a class folder holds one folder or zip per student
            (klass / name).mkdir()
            shutil.copyfile(path, klass / name / path.name)
    proc = run_cli("grade-all", str(klass), "--out", str(tmp_path / "out"), "--jobs", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    grades = _grades(tmp_path / "out")
    assert {n: grades.get(n) for n, (_, w) in inputs.items() if grades.get(n) != expected[w]} == {}
    # nbgrader's own course layout: submitted/<student>/hw_rnn/ as `nbgrader collect` leaves it.
    course = tmp_path / "course"
    for name in ("nbgrader_collected", "otter_student", "untitled"):
        shutil.copytree(inputs[name][0], course / "submitted" / name / CONFIG.assignment)
    proc = run_cli("grade-all", str(course), "--out", str(tmp_path / "out_nb"), "--jobs", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    grades = _grades(tmp_path / "out_nb")
    assert grades == {n: expected[inputs[n][1]] for n in ("nbgrader_collected", "otter_student", "untitled")}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "autograder.zip"
    subprocess.run([sys.executable, "-m", "autograder.integrations.gradescope", "build", "--out", str(out)], cwd=ROOT,
                   check=True, capture_output=True, timeout=60)
    return out


def test_gradescope_gives_the_same_scores(corpus, expected, autograder_zip):
    _, _, inputs = corpus
    got = {}
    for name, (path, _) in inputs.items():
        root = Path(tempfile.mkdtemp(prefix="gs_root_", dir="/tmp"))
        try:
            os.chmod(root, 0o755)
            unpack(autograder_zip, root)
            if path.is_dir():
                shutil.copytree(path, root / "submission", symlinks=True, dirs_exist_ok=True)
            else:
                (root / "submission").mkdir(exist_ok=True)
                shutil.copyfile(path, root / "submission" / path.name)
            proc = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True,
                                  timeout=240, env={**os.environ, "AUTOGRADER_ROOT": str(root),
                                                    "AUTOGRADER_PYTHON": sys.executable})
            assert proc.returncode == 0, proc.stderr
            got[name] = json.loads((root / "results" / "results.json").read_text())["score"]
        finally:
            shutil.rmtree(root, ignore_errors=True)
    assert {n: s for n, s in got.items() if s != expected[inputs[n][1]]} == {}


def _total(table: str) -> str:
    return next(line.split()[1] for line in table.splitlines() if line.startswith("total "))


def test_the_bundles_self_check_finds_the_same_work(corpus):
    """`python check.py SUBMISSION` in the student bundle runs the bundle's own copy of the rule."""
    base, works, inputs = corpus
    bundle = base / "bundle" / CONFIG.assignment

    def check(path: Path) -> str:
        proc = subprocess.run([sys.executable, "check.py", str(path)], cwd=bundle, capture_output=True, text=True,
                              timeout=240)
        assert proc.returncode == 0, proc.stderr
        return _total(proc.stdout)

    want = {work: check(folder) for work, folder in works.items()}
    names = ("zip_flat", "nbgrader_collected", "browser_copy", "untitled", "nbconvert_script")
    assert {name: check(inputs[name][0]) for name in names} == {name: want[inputs[name][1]] for name in names}


HELPER_USE = '''
import myutils
_own_step = rnn_step_forward
def rnn_step_forward(x_t, s_prev, U, W, b):
    return myutils.call(_own_step, x_t, s_prev, U, W, b)
'''


def test_a_data_file_read_by_the_code_is_said_to_be_absent_where_code_runs(tmp_path):
    """hello.txt uploaded beside char_rnn.py, which opens it at import: the import fails (only .py files are
    copied where student code runs), and the message says why rather than leave a FileNotFoundError bare."""
    sub = make_submission(tmp_path / "data")
    (sub / "hello.txt").write_text("hello\n")
    path = sub / "char_rnn.py"
    path.write_text(path.read_text().replace("import numpy as np\n", "import numpy as np\n\nTEXT = open('hello.txt')"
                                             ".read()\n", 1))
    _, results = grade_cli(sub, tmp_path)
    assert "char_rnn.py could not be imported: FileNotFoundError" in results["output"], results["output"]
    assert "holds only the graded .py files and the .py files beside them: other files of the submission, such as " \
        "data, are not there" in results["output"]
    assert "Not graded: hello.txt." in results["output"]


def test_a_helper_module_beside_the_graded_files_can_be_imported(tmp_path):
    """A .py file of the student's own beside the graded ones (not graded) is there for them to import, in the
    grader's child and in the self-check alike."""
    sub = make_submission(tmp_path / "helper")
    (sub / "myutils.py").write_text("def call(f, *args):\n    return f(*args)\n")
    path = sub / "rnn_layers.py"
    path.write_text(path.read_text() + HELPER_USE)
    _, results = grade_cli(sub, tmp_path)
    assert results["score"] == sum(t.points for t in CONFIG.tests), results["output"]
    copied = "Copied beside the graded files for them to import (not graded themselves): myutils.py."
    assert copied in results["output"] and "myutils" not in results["output"].replace(copied, "").replace(
        "Files uploaded: ", "").split("\n", 1)[1], results["output"]
    proc = run_cli("check", str(sub))
    assert proc.returncode == 0 and _total(proc.stdout) == f"{sum(t.points for t in CONFIG.tests if not t.hidden):g}", (
        proc.stdout)
    # Named like a module the grader has loaded (an import would find that one), or past the number copied: said.
    (sub / "json.py").write_text("def f():\n    return 1\n")
    for k in range(25):
        (sub / f"zz_{k:02d}.py").write_text("")
    _, results = grade_cli(sub, tmp_path)
    assert "json.py has the name of a module of Python's standard library" in results["output"]
    assert "Only 20 of the 27 other .py files" in results["output"] and "not copied: zz_18.py, " in results["output"]
    assert results["score"] == sum(t.points for t in CONFIG.tests)  # myutils.py, first by name, is still copied
