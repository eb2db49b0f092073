"""Shared helpers: paths, building submissions from the reference, running the real grader."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from autograder.config import load_config

# Started as a background job (`cmd &` in a script, as CI may), this process inherits SIGINT ignored, and so
# would every grade-all the tests start: the tests of interrupted batches, which send SIGINT as a terminal's
# Ctrl-C does, would interrupt nothing.  Python's usual handler here; a caught signal is the default after exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
# In every process the tests start (this one has imported it already): a package of the dev venv that costs each
# Jupyter tool's process 1.2 s of CPU to import is hidden (tests/import_stubs/rfc3987_syntax.py says why).
IMPORT_STUBS = ROOT / "tests" / "import_stubs"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(IMPORT_STUBS), os.environ.get("PYTHONPATH")]))
CONFIG = ROOT / "assignments" / "hw_rnn" / "assignment.yaml"
SOLUTIONS = ROOT / "solutions" / "hw_rnn"
TEMPLATES = ROOT / "student_templates" / "hw_rnn"
SCHEMA = ROOT / "autograder" / "schema" / "gradescope_results.schema.json"
FILES = tuple(yaml.safe_load(CONFIG.read_text())["submission"]["files"])


# The assignment's declarations (assignments/hw_rnn/homework.py), as the grader loads them.
HOMEWORK = load_config(CONFIG).homework
# Which graded functions each function of the reference calls (directly or not): a fault in a callee
# reaches every caller's tests.  A test compares it with the source.
CALLS = HOMEWORK.module.CALLS
# The generated notebooks (autograder/integrations/notebooks.py names them after the assignment).
OTTER_MASTER = ROOT / "integrations" / "otter" / "hw_rnn.ipynb"
NBGRADER_SOURCE = ROOT / "integrations" / "nbgrader" / "source" / "hw_rnn" / "hw_rnn.ipynb"


def pytest_configure(config) -> None:
    """The reference values the grader keeps on disk (autograder/grading/memo.py) go to a folder of this run's
    own, so no test depends on what an earlier run left (tests/test_memo.py checks both ways)."""
    if "AUTOGRADER_CACHE" not in os.environ:
        os.environ["AUTOGRADER_CACHE"] = tempfile.mkdtemp(prefix="autograder_cache_")
        config._autograder_cache = os.environ["AUTOGRADER_CACHE"]


def pytest_unconfigure(config) -> None:
    folder = getattr(config, "_autograder_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def with_callers(broken: set[str]) -> set[str]:
    """The functions whose tests a crash or hang in ``broken`` reaches."""
    return set(broken) | {caller for caller, callees in CALLS.items() if callees & set(broken)}


def make_submission(folder: Path, edits: list[dict] = (), base: Path = SOLUTIONS, reference: Path = SOLUTIONS,
                    files: tuple[str, ...] = FILES) -> Path:
    """Copy a submission (the reference by default) and apply text edits {file, find, replace}.

    A file the base folder does not hold comes from the reference: the correct variants keep only
    the files they write differently.  ``reference`` and ``files``: another assignment's.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copyfile(base / name if (base / name).exists() else reference / name, folder / name)
    for edit in edits:
        path = folder / edit["file"]
        text = path.read_text()
        assert text.count(edit["find"]) == 1, f"{edit['find']!r} must occur once in {edit['file']}"
        path.write_text(text.replace(edit["find"], edit["replace"]))
    return folder


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m autograder ...` as a user would."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def grade_cli(submission: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Grade through the command line; return the process and the parsed results.json."""
    results = tmp_path / f"results_{submission.name}.json"
    proc = run_cli("grade", str(submission), "--results", str(results), "--quiet", *extra)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(results.read_text())


def write_config(tmp_path: Path, **changes) -> Path:
    """A copy of the assignment config with absolute paths and top-level sections changed, with the template
    fingerprints beside it (as a careful copy has them: the grader warns when they are missing)."""
    raw = yaml.safe_load(CONFIG.read_text())
    raw["reference"] = str(SOLUTIONS)
    raw["templates"] = str(TEMPLATES)
    raw["homework"] = str(CONFIG.parent / "homework.py")
    raw["behaviours"] = str(CONFIG.parent / "behaviours.py")
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    path = tmp_path / "assignment.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    shutil.copyfile(CONFIG.with_name("fingerprints.json"), path.with_name("fingerprints.json"))
    return path


# Modules whose module-scoped fixtures are cheap (a config file) and whose tests are many: their tests spread
# over the pytest-xdist workers, each worker making its own fixtures.
SPREAD_MODULES = {"test_hostile.py", "test_faults.py"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist's --dist loadgroup, keep each module whose tests share a module-scoped fixture on
    one worker, so that fixture (a graded class, a tool's build) is made once.  First among the hooks: xdist's
    own hook turns the marks into the group names it schedules by, so marks added after it do nothing."""
    for item in items:
        module = item.nodeid.split("::")[0]
        if Path(module).name in SPREAD_MODULES:
            continue
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if any(d and d[-1].scope == "module" for d in defs.values()):
            item.add_marker(pytest.mark.xdist_group(module))


def lost_functions(results: dict) -> set[str]:
    """The functions that lost any points."""
    return {t["name"].split(":", 1)[0] for t in results["tests"] if t["score"] < t["max_score"]}


@pytest.fixture(scope="session")
def validate_results():
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))

    def check(document: dict) -> None:
        errors = sorted(validator.iter_errors(document), key=str)
        assert not errors, "\n".join(e.message for e in errors[:5])

    return check


@pytest.fixture(scope="session")
def config():
    from autograder.config import command_config

    return command_config(str(CONFIG))


VARIANTS = sorted(p.parent for p in (ROOT / "tests" / "submissions" / "variants").glob("*/rnn_layers.py"))


@pytest.fixture(scope="session")
def release_bundle(config, tmp_path_factory) -> Path:
    """The student bundle, built once from the working tree: the path of its zip."""
    from autograder.release import bundle as release

    return release.build(config, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def numpy_only_python(release_bundle) -> str:
    """An interpreter with numpy alone (the bundle's requirements.txt), as a student would have.

    Python 3.10 when HW_PY310 names one (make test sets it), else this interpreter.  The
    venv lives in build/ and is made once, then reused while the pins stay the same.
    """
    import fcntl
    import os
    import zipfile

    base = os.environ.get("HW_PY310") or sys.executable
    with zipfile.ZipFile(release_bundle) as bundle:
        requirements = bundle.read("hw_rnn/requirements.txt").decode()
    tag = subprocess.run([base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                         text=True, check=True).stdout.strip()
    venv = ROOT / "build" / f"venv-numpy-only-{tag}"
    python = venv / "bin" / "python"
    stamp = venv / "requirements.txt"
    venv.parent.mkdir(exist_ok=True)
    # pytest-xdist workers (and other runs) share build/: one makes the venv while the others wait for it.
    with open(venv.parent / f"venv-numpy-only-{tag}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _make_numpy_only(base, venv, python, stamp, requirements)
    return str(python)


def _make_numpy_only(base: str, venv: Path, python: Path, stamp: Path, requirements: str) -> None:
    if not (python.exists() and stamp.exists() and stamp.read_text() == requirements):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True)
        wanted = venv / "requirements.in"
        wanted.write_text(requirements)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                               str(wanted)], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.fail(f"could not make the numpy-only venv: {proc.stderr[-2000:]}")
        stamp.write_text(requirements)  # last: an interrupted install is made again next time


def bundle_verdicts(python: str, bundle: Path, folders: list[Path], tmp_path: Path, data: Path | None = None,
                    meanwhile=None) -> dict:
    """Run the unzipped bundle's self-check (under python, never importing the toolkit) on folders.

    ``meanwhile`` runs in this process while the bundle works (the machine has more than one core).
    """
    out = tmp_path / "verdicts.json"
    data = data or bundle / "autograder" / "public"
    proc = subprocess.Popen([python, "-I", str(ROOT / "tests" / "bundle_verdicts.py"), str(bundle), str(data),
                             str(out), *map(str, folders)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if meanwhile is not None:
            meanwhile()
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    verdicts = json.loads(out.read_text())
    for folder in folders:
        assert verdicts[str(folder)]["module"].startswith(str(bundle)), "the bundle must run its own copy"
    return verdicts
