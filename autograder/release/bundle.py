"""Builds the student release bundle (``make release``): one folder and the same folder zipped.

    dist/student/<assignment>.zip  and  dist/student/<assignment>/
        the submission files            the templates
        README.md                       the handout (and any student notebooks *.ipynb beside it)
        CHECK_AND_SUBMIT.md             how to check and submit
        check.py, requirements.txt      the self-check and its one requirement, numpy
        autograder/                     the self-check: the grader's own modules, copied
            public/                     the public tests (JSON), the recorded reference values, fingerprints,
                                        the assignment's homework.py and behaviours.py (they build the inputs)

The self-check is the grader's code, not a second implementation: the modules
``selfcheck.py`` needs are copied as they are.  The reference's outputs on the
public cases are recorded by grading the reference itself (``recorded.py``).

Nothing secret goes in: the config keeps only public tests (no hidden test,
seed, shape or visibility setting), the record is checked to hold public cases
only, and every file is scanned for the reference's solution code before the
zip is written.  A build that would leak stops with a ReleaseError.
"""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from autograder.config import Config
from autograder.grading import fingerprint
from autograder.release import templates

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parents[1]  # autograder/
ENTRY = "release.selfcheck"  # the bundle's modules are this one and everything it imports
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources make the same zip


class ReleaseError(Exception):
    """The bundle cannot be built, or would reveal something it must not."""


# -- what goes in ---------------------------------------------------------------
def _module_file(dotted: str) -> Path | None:
    """The source of ``autograder.<dotted>`` (a module, or a room's ``__init__.py``); None when there is none."""
    path = PACKAGE.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> list[str]:
    """The ``autograder.*`` names a source file imports, dotted below the package (``grading.grader``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "autograder":
            base = node.module.split(".")[1:]
            if base:
                found.append(".".join(base))
            found += [".".join([*base, a.name]) for a in node.names]  # `from autograder.room import module`
        elif isinstance(node, ast.Import):
            found += [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("autograder.")]
    return found


def module_closure(entry: str = ENTRY, also: tuple[Path, ...] = ()) -> list[str]:
    """The autograder modules ``entry`` (dotted below the package) imports, directly or not, with the
    ``__init__.py`` of each room they are in: paths relative to the package, sorted.

    ``also``: further source files (an assignment's homework and behaviours modules) whose
    autograder imports the bundle must hold too.
    """
    seen: set[Path] = set()
    todo = [_module_file(entry)]
    for source in also:
        todo += [_module_file(name) for name in _imports(source)]
    while todo:
        path = todo.pop()
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += [_module_file(name) for name in _imports(path)]
        if path.parent != PACKAGE:  # a room's modules need the room
            todo.append(path.parent / "__init__.py")
    return sorted(p.relative_to(PACKAGE).as_posix() for p in seen if p != PACKAGE / "__init__.py")


def assignment_modules(config: Config) -> dict[str, bytes]:
    """The assignment's own modules the self-check runs, by file name: the homework module (it builds every
    test's inputs) and the behaviours module when there is one.  Neither holds the reference solution.

    They go beside the shipped config (``public/``), where ``Config.homework`` finds them by convention.
    """
    homework = config.homework  # raises ConfigError when the module is missing
    modules = {"homework.py": homework.path.read_bytes()}
    if config.behaviours_path is not None and config.behaviours_path.is_file():
        modules["behaviours.py"] = config.behaviours_path.read_bytes()
    return modules


def assignment_sources(config: Config) -> tuple[Path, ...]:
    """The assignment's homework and behaviours modules that exist (their imports join the bundle's)."""
    paths = (config.homework.path, config.behaviours_path)
    return tuple(p for p in paths if p is not None and p.is_file())


def config_mapping(config: Config, public_only: bool = True) -> dict:
    """The config (its public part by default) in assignment.yaml's layout; config.from_mapping reads it back."""
    tol, questions = config.tolerances, []
    for function in config.functions:
        tests = [{"kind": t.kind, "name": t.name, "points": t.points, "visibility": t.visibility,
                  "cases": list(t.cases), **({"stability": True} if t.stability else {}),
                  **({"tolerance": {"rtol": t.tolerance[0], "atol": t.tolerance[1]}} if t.tolerance else {})}
                 for t in config.tests if t.function == function and not (public_only and t.hidden)]
        if tests:
            questions.append({"function": function, "module": config.module_of(function), "tests": tests})
    hidden_points, hidden_only = config.hidden_part
    return {
        "assignment": config.assignment,
        "title": config.title,
        "submission": {"files": list(config.files)},
        "limits": dict(vars(config.limits)),
        "tolerances": {
            "forward": {"rtol": tol.forward_rtol, "atol": tol.forward_atol},
            "reference_gradient": {"rtol": tol.reference_rtol, "atol": tol.reference_atol},
            "numerical_gradient": {"step": tol.step, "rtol": tol.numeric_rtol, "atol": tol.numeric_atol,
                                   "directions": tol.directions, "full_check_max_size": tol.full_check_max_size},
        },
        "questions": questions,
        # What the public tests leave out, for the self-check to say (no hidden test's name or case).
        **({"withheld": {"points": hidden_points, "functions": list(hidden_only)}} if public_only else {}),
        **_environment_mapping(config),
    }


def _environment_mapping(config: Config) -> dict:
    """The ``grader`` and ``allowed_imports`` sections: the self-check warns from them."""
    env = config.environment
    mapping: dict = {"grader": {"python": list(env.pythons), "numpy": list(env.numpys)}}
    if env.allowed_modules is not None:
        mapping["allowed_imports"] = {"modules": list(env.allowed_modules), "standard_library": env.standard_library}
    return mapping


def _case_ids(config: Config, hidden: bool) -> set[str]:
    return {json.dumps(c, sort_keys=True) for t in config.tests if t.hidden == hidden for c in t.cases}


def record(config: Config, public_only: bool = True) -> dict:
    """Grade the reference on the public tests (or all), recording every reference value used."""
    from autograder.grading.grader import grade
    from autograder.grading.recorded import Recorder
    from autograder.sandbox.inprocess import InProcessBox

    recorder = Recorder()
    box = InProcessBox(config.reference, list(config.files), config.limits)
    report = grade(config.reference, config, public_only=public_only, box=box,
                   grading_class=recorder.grading_class())
    failed = [f"{r.spec.full_name}: {r.output}" for r in report.tests if not r.passed] + report.grader_errors
    if failed:
        raise ReleaseError("the reference solution fails its own tests, so nothing can be recorded:\n  "
                           + "\n  ".join(failed))
    public = _case_ids(config, hidden=False)
    strays = [r["case"] for r in [*recorder.records.values(), *recorder.losses.values()]
              if json.dumps(r["case"], sort_keys=True) not in public]
    if public_only and strays:
        raise ReleaseError(f"recorded cases that are not public: {strays}")
    return recorder.document(public_only)


def solution_lines(config: Config, given_text: str = "") -> list[str]:
    """The reference's solution code: lines inside the solution regions that the templates or given_text lack.

    Lines shorter than 13 characters (``return out``) say nothing about the solution.
    """
    lines, given = [], [given_text]
    for name in config.files:
        inside = False
        for line in (config.reference / name).read_text().splitlines():
            text = line.strip()
            if text == templates.BEGIN:
                inside = True
            elif text == templates.END:
                inside = False
            elif len(text) > 12:
                (lines if inside else given).append(text)
    return [line for line in dict.fromkeys(lines) if not any(line in g for g in given)]


def _check_script() -> str:
    return ('"""Run the public tests on your files: python check.py [FOLDER] (default: this folder)."""\n\n'
            "import sys\nfrom pathlib import Path\n\n"
            "sys.path.insert(0, str(Path(__file__).resolve().parent))\n\n"
            "from autograder.release.selfcheck import main  # noqa: E402\n\n"
            "sys.exit(main())\n")


def _how_to(config: Config) -> str:
    public = [t for t in config.tests if not t.hidden]
    files = " and ".join(f"`{f}`" for f in config.files)
    return f"""# {config.assignment}: how to check and submit

{config.title}. The handout is `README.md`.

## 1. Set up (once)

You need Python 3.10 or newer and numpy, nothing else:

    python -m pip install -r requirements.txt
{_versions_line(config)}
## 2. Write your code

Fill in {files}:
replace each `raise NotImplementedError` with your code. Keep the file names,
function names, arguments, return values and docstrings as they are (the grader
warns when they change; that costs no points, but the tests call your functions
by those names and arguments).

## 3. Check your work, as often as you like

From this folder:

    python check.py

(or `python -m autograder check .`; to check files kept elsewhere:
`python check.py path/to/folder`). It runs the {len(public)} public tests
({sum(t.points for t in public):g} points) with the grader's own code and prints a table per
function: PASS/FAIL and, for each failure, what is wrong (which output or
gradient, the worst relative error and where, and a hint when the pattern is
telling). Forward
functions are compared with reference values stored in `autograder/public/`;
backward functions with a numerical gradient of your own forward.

Your code runs inside the checker's own Python process. An exception, `sys.exit`
or a call that runs too long fails only the tests that needed it (time limits
work on Linux and macOS; on Windows stop a stuck check with Ctrl-C).

The grader runs these public tests and hidden ones on other inputs and shapes,
so code that is correct for any shapes and sizes passes both; do not tune it to
the public inputs.

## 4. Submit

Upload exactly {files}
(not this folder, not the zip). Only numpy is available to your code when it
is graded.
"""


def _versions_line(config: Config) -> str:
    env = config.environment
    if not (env.pythons and env.numpys):
        return ""
    return (f"\nThe grader runs Python {' or '.join(env.pythons)} with numpy {' or '.join(env.numpys)}; the check "
            "warns when yours differ, and names code that only a newer Python or an older numpy accepts.\n")


def collect(config: Config) -> dict[str, bytes]:
    """Every file of the bundle, by its path inside the bundle folder."""
    stale = templates.stale(config.reference, config.templates, config.files)
    if stale:
        raise ReleaseError(f"the templates are out of date ({', '.join(stale)}): run `make templates`")
    if fingerprint.stale(config.templates, config.files, config.path):
        raise ReleaseError(f"{fingerprint.path_for(config.path)} is missing or out of date: run `make templates`")
    handout = config.path.parent / "README.md"
    if not handout.is_file():
        raise ReleaseError(f"the student handout {handout} does not exist")
    files: dict[str, bytes] = {name: (config.templates / name).read_bytes() for name in config.files}
    files["README.md"] = handout.read_bytes()
    for notebook in sorted(config.path.parent.glob("*.ipynb")):
        files[notebook.name] = notebook.read_bytes()
    files["CHECK_AND_SUBMIT.md"] = _how_to(config).encode()
    files["check.py"] = _check_script().encode()
    numpy_pins = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln.startswith("numpy")]
    files["requirements.txt"] = ("# The self-check and your code need numpy only.\n" + "\n".join(numpy_pins)
                                 + "\n").encode()
    files["autograder/__init__.py"] = (f'"""The public self-check of {config.assignment}: `python check.py`; '
                                       'made by `make release` from the grader\'s own code."""\n').encode()
    files["autograder/__main__.py"] = (b"import sys\n\nfrom autograder.release.selfcheck import main\n\n"
                                       b"sys.exit(main())\n")
    for name in module_closure(also=assignment_sources(config)):
        files[f"autograder/{name}"] = (PACKAGE / name).read_bytes()
    data = "autograder/public/"
    files[data + "assignment.json"] = (json.dumps(config_mapping(config), indent=1) + "\n").encode()
    files[data + "expected.json"] = (json.dumps(record(config), allow_nan=False) + "\n").encode()
    files[data + fingerprint.FILE_NAME] = fingerprint.path_for(config.path).read_bytes()
    for name, content in assignment_modules(config).items():
        files[data + name] = content
    refuse_leaks(config, files, files["README.md"].decode())
    return files


def _text(path: str, content: bytes) -> str:
    text = content.decode(errors="replace")
    if path.endswith(".ipynb"):  # cell sources are JSON strings: scan them as the code they hold
        try:
            cells = json.loads(text).get("cells", [])
            text += "\n" + "\n".join("".join(c.get("source", "")) for c in cells)
        except (ValueError, AttributeError):
            raise ReleaseError(f"{path} is not a valid notebook") from None
    return text


def refuse_leaks(config: Config, files: dict[str, bytes], handout: str) -> None:
    """Stop when any file holds solution code or markers, or a hidden test's name or case.

    ``files`` maps paths to contents (a whole folder for students); recorded
    reference values are the files named ``expected.json``.
    """
    code = solution_lines(config, handout)
    hidden_names = {t.name for t in config.tests if t.hidden} - {t.name for t in config.tests if not t.hidden}
    for path, content in files.items():
        text = _text(path, content)
        found = [line for line in code if line in text]
        found += [m for m in (templates.BEGIN, templates.END) if m in text]
        found += [name for name in hidden_names if name in text]
        if found:
            raise ReleaseError(f"{path} would reveal {found[0]!r} (and {len(found) - 1} more); nothing was written")
    for path in (p for p in files if Path(p).name == "expected.json"):
        record_cases = {json.dumps(r["case"], sort_keys=True) for r in json.loads(files[path])["records"]}
        if record_cases & _case_ids(config, hidden=True):
            raise ReleaseError(f"{path} holds a hidden case; nothing was written")


# -- writing ---------------------------------------------------------------------
def build(config: Config, out: Path) -> Path:
    """Write out/<assignment>/ and out/<assignment>.zip; return the zip's path."""
    files = collect(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = config.assignment
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out))
    try:
        for path, content in files.items():
            target = staging / name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        with zipfile.ZipFile(staging / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(files):
                info = zipfile.ZipInfo(f"{name}/{path}", date_time=ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, files[path])
        shutil.rmtree(out / name, ignore_errors=True)
        (staging / name).rename(out / name)
        (staging / f"{name}.zip").replace(out / f"{name}.zip")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / f"{name}.zip"
