"""Reads and validates an assignment's ``assignment.yaml``.

The file is data: which functions are graded, their tests, points, visibility,
input shapes and seeds, tolerances and limits.  A bad file stops with a
ConfigError that names the offending entry.  ``from_mapping`` validates the
same data from any source (the student bundle ships its public part as JSON,
so yaml is imported only where YAML is read).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.environment import Environment
from autograder.text import listed

if TYPE_CHECKING:
    from collections.abc import Callable

    from autograder.spec import Homework

TEST_KINDS = ("forward", "inputs_unchanged", "gradcheck", "reference_gradient", "quiz", "behaviour")
VISIBILITIES = ("public", "hidden")
TEST_KEYS = {"kind", "name", "points", "visibility", "cases", "stability", "tolerance"}
GRADESCOPE_HIDDEN = ("hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Limits:
    """Resource limits for the child (see assignment.yaml's ``limits``)."""

    call_seconds: float = 5.0
    batch_seconds: float = 30.0
    import_seconds: float = 10.0
    cpu_seconds: int = 120
    memory_mb: int = 2048
    file_mb: int = 64
    processes: int = 32  # processes and threads of the child's dedicated uid (root mode only)

    @property
    def notebook_seconds(self) -> float:
        """The time budget of a notebook's cells, run on the first import (extract.py, notebook_kernel.py)."""
        return 0.7 * self.import_seconds

    @property
    def notebook_import_seconds(self) -> float:
        """The limit on that first import: the budget, its grace period and the usual import limit on top."""
        return self.notebook_seconds + 2 + self.import_seconds



class ConfigError(Exception):
    """The assignment config is missing, malformed or inconsistent."""


# Every command takes ``--assignment NAME`` (assignments/NAME/assignment.yaml) or ``--config PATH``; without either,
# the assignment named by $AUTOGRADER_ASSIGNMENT or by the first line of assignments/DEFAULT.
ASSIGNMENTS = Path(__file__).resolve().parent.parent / "assignments"
DEFAULT_FILE = "DEFAULT"
# A checks folder (the student bundle's ``public/``, a notebook's ``<assignment>_checks/``) holds the config
# as JSON and the reference's outputs on the public cases, under these names.
CONFIG_FILE = "assignment.json"
RECORD_FILE = "expected.json"
ASSIGNMENT_ENV = "AUTOGRADER_ASSIGNMENT"


def available_assignments(root: Path = ASSIGNMENTS) -> list[str]:
    """The names of the folders of ``root`` that hold an assignment.yaml, sorted."""
    return sorted(p.parent.name for p in root.glob("*/assignment.yaml")) if root.is_dir() else []


def default_assignment(root: Path = ASSIGNMENTS) -> str:
    """$AUTOGRADER_ASSIGNMENT, else the first line of ``root``/DEFAULT; ConfigError when neither names one."""
    import os

    name = os.environ.get(ASSIGNMENT_ENV, "").strip()
    if not name:
        try:
            name = (root / DEFAULT_FILE).read_text().strip().splitlines()[0].strip()
        except (OSError, IndexError):
            name = ""
    if not name:
        raise ConfigError(f"no assignment given: pass --assignment NAME (one of {available_assignments(root)}) or "
                          f"--config PATH, or name the default in {root / DEFAULT_FILE}")
    return name


def config_path(assignment: str | None = None, config: str | Path | None = None, root: Path = ASSIGNMENTS) -> Path:
    """The assignment.yaml to use: ``config`` as given, else ``root``/NAME/assignment.yaml for ``assignment`` (or
    the default assignment).  ConfigError when both are given or the named assignment does not exist."""
    if assignment and config:
        raise ConfigError("give --assignment or --config, not both")
    if config:
        return Path(config)
    name = assignment or default_assignment(root)
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
        raise ConfigError(f"{name!r} is not an assignment name (a folder name of {root})")
    path = root / name / "assignment.yaml"
    if not path.is_file():
        raise ConfigError(f"no assignment {name!r}: {path} does not exist (assignments: "
                          f"{', '.join(available_assignments(root)) or 'none'})")
    return path


@dataclass(frozen=True)
class Tolerances:
    forward_rtol: float
    forward_atol: float
    reference_rtol: float
    reference_atol: float
    step: float
    numeric_rtol: float
    numeric_atol: float
    directions: int
    full_check_max_size: int


@dataclass(frozen=True)
class TestSpec:
    function: str
    module: str
    kind: str
    name: str
    points: float
    visibility: str
    cases: tuple[dict, ...]
    stability: bool = False  # also fail on warnings and non-finite outputs
    tolerance: tuple[float, float] | None = None  # (rtol, atol) instead of the default for the kind

    @property
    def full_name(self) -> str:
        return f"{self.function}: {self.name}"

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"


@dataclass
class Config:
    path: Path
    assignment: str
    title: str
    files: tuple[str, ...]
    reference: Path | None  # None in the student bundle, which replays recorded reference values
    templates: Path | None
    hidden_visibility: str
    limits: Limits
    tolerances: Tolerances
    functions: tuple[str, ...]  # graded functions, in the order of the config
    tests: tuple[TestSpec, ...] = field(default_factory=tuple)
    environment: Environment = field(default_factory=Environment)  # ``grader`` and ``allowed_imports``
    # The assignment's instructor modules (autograder/spec.py): ``homework.py`` and ``behaviours.py`` beside the
    # config unless its ``homework`` / ``behaviours`` keys name other files (relative to its folder).
    homework_path: Path | None = None
    behaviours_path: Path | None = None
    # What a public-only config (the student bundle's) leaves out: (points of the hidden tests, the functions only
    # hidden tests grade, as hidden_part says them).  None: read from ``tests``.
    withheld: tuple[float, tuple[str, ...]] | None = None
    _homework: Homework | None = field(default=None, repr=False, compare=False)

    @property
    def homework(self) -> Homework:
        """The assignment's graded functions, gradients, time axes and behaviours (loaded on first use).

        Raises ConfigError when the homework module is missing or fails to load.
        """
        if self._homework is None:
            from autograder.spec import load_homework

            if self.homework_path is None or not self.homework_path.is_file():
                raise ConfigError(f"{self.path}: the assignment's homework module {self.homework_path} does not exist")
            try:
                self._homework = load_homework(self.homework_path, self.behaviours_path)
            except Exception as exc:  # instructor code: whatever it raises, say which file and what
                raise ConfigError(f"cannot load the homework module {self.homework_path}: "
                                  f"{type(exc).__name__}: {exc}") from None
        return self._homework

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def hidden_part(self) -> tuple[float, tuple[str, ...]]:
        """The points of the hidden tests and the functions that only hidden tests grade ("answers() in quiz.py
        (5 points)")."""
        if self.withheld is not None:
            return self.withheld
        public = {t.function for t in self.tests if not t.hidden}
        return (sum(t.points for t in self.tests if t.hidden),
                tuple(f"{f}() in {self.module_of(f)}.py ({self.function_points[f]:g} points)" for f in self.functions
                      if f not in public))

    @property
    def function_points(self) -> dict[str, float]:
        """The points of each graded function, in the config's order."""
        return {f: sum(t.points for t in self.tests if t.function == f) for f in self.functions}

    def module_of(self, function: str) -> str:
        return next(t.module for t in self.tests if t.function == function)


def _get(mapping: dict, key: str, kind, where: str, default=...):
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    if key not in mapping:
        if default is ...:
            raise ConfigError(f"{where}: missing required key {key!r}")
        return default
    value = mapping[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}.{key}: expected {names}, got {value!r}")
    return value


def _tolerances(raw: dict) -> Tolerances:
    w = "tolerances"
    fwd = _get(raw, "forward", dict, w)
    ref = _get(raw, "reference_gradient", dict, w)
    num = _get(raw, "numerical_gradient", dict, w)
    tol = Tolerances(
        forward_rtol=_get(fwd, "rtol", float, f"{w}.forward"),
        forward_atol=_get(fwd, "atol", float, f"{w}.forward"),
        reference_rtol=_get(ref, "rtol", float, f"{w}.reference_gradient"),
        reference_atol=_get(ref, "atol", float, f"{w}.reference_gradient"),
        step=_get(num, "step", float, f"{w}.numerical_gradient"),
        numeric_rtol=_get(num, "rtol", float, f"{w}.numerical_gradient"),
        numeric_atol=_get(num, "atol", float, f"{w}.numerical_gradient"),
        directions=_get(num, "directions", int, f"{w}.numerical_gradient"),
        full_check_max_size=_get(num, "full_check_max_size", int, f"{w}.numerical_gradient"),
    )
    for name, value in vars(tol).items():
        if value <= 0:
            raise ConfigError(f"tolerances: {name} must be positive, got {value}")
    return tol


def _limits(raw: dict) -> Limits:
    defaults = Limits()
    values = {}
    for name, default in vars(defaults).items():
        kind = float if isinstance(default, float) else int
        values[name] = _get(raw, name, kind, "limits", default)
        if values[name] <= 0:
            raise ConfigError(f"limits.{name} must be positive, got {values[name]}")
    unknown = set(raw) - set(values)
    if unknown:
        raise ConfigError(f"limits: unknown keys {sorted(unknown)}")
    return Limits(**values)


def _environment(grader: dict, allowed: dict | None) -> Environment:
    """``grader: {python: [...], numpy: [...]}`` (major.minor strings) and ``allowed_imports``."""
    versions = {}
    for key in ("python", "numpy"):
        values = _get(grader, key, list, "grader", [])
        if not all(isinstance(v, str) and re.fullmatch(r"\d+\.\d+", v) for v in values):
            raise ConfigError(f"grader.{key}: a list of major.minor versions such as \"3.10\", got {values!r}")
        versions[key] = tuple(values)
    unknown = set(grader) - {"python", "numpy"}
    if unknown:
        raise ConfigError(f"grader: unknown keys {sorted(unknown)}")
    if allowed is None:
        return Environment(versions["python"], versions["numpy"])
    modules = _get(allowed, "modules", list, "allowed_imports")
    if not all(isinstance(m, str) and re.fullmatch(r"[A-Za-z_]\w*", m) for m in modules):
        raise ConfigError(f"allowed_imports.modules: a list of top-level module names, got {modules!r}")
    unknown = set(allowed) - {"modules", "standard_library"}
    if unknown:
        raise ConfigError(f"allowed_imports: unknown keys {sorted(unknown)}")
    return Environment(versions["python"], versions["numpy"], tuple(modules),
                       _get(allowed, "standard_library", bool, "allowed_imports", True))


def _tests(questions: list, files: tuple[str, ...], known_functions) -> tuple[TestSpec, ...]:
    tests: list[TestSpec] = []
    for qi, q in enumerate(questions):
        where = f"questions[{qi}]"
        function = _get(q, "function", str, where)
        where = f"questions[{qi}] ({function})"
        if known_functions is not None and function not in known_functions:
            raise ConfigError(f"{where}: no grading recipe for a function named {function!r}")
        module = _get(q, "module", str, where)
        if f"{module}.py" not in files:
            raise ConfigError(f"{where}: module {module!r} is not among submission.files {list(files)}")
        for ti, t in enumerate(_get(q, "tests", list, where)):
            tw = f"{where}.tests[{ti}]"
            unknown = set(t) - TEST_KEYS if isinstance(t, dict) else set()
            if unknown:
                raise ConfigError(f"{tw}: unknown keys {sorted(unknown)} (a test has {sorted(TEST_KEYS)})")
            kind = _get(t, "kind", str, tw)
            if kind not in TEST_KINDS:
                raise ConfigError(f"{tw}.kind: {kind!r} is not one of {list(TEST_KINDS)}")
            visibility = _get(t, "visibility", str, tw)
            if visibility not in VISIBILITIES:
                raise ConfigError(f"{tw}.visibility: {visibility!r} is not one of {list(VISIBILITIES)}")
            points = _get(t, "points", float, tw)
            if points < 0:
                raise ConfigError(f"{tw}.points must not be negative")
            cases = _get(t, "cases", list, tw)
            if not cases or not all(isinstance(c, dict) and isinstance(c.get("seed"), int) for c in cases):
                raise ConfigError(f"{tw}.cases: a non-empty list of mappings, each with an integer seed")
            tolerance = _get(t, "tolerance", dict, tw, None)
            if tolerance is not None:
                tolerance = (_get(tolerance, "rtol", float, f"{tw}.tolerance"),
                             _get(tolerance, "atol", float, f"{tw}.tolerance"))
            tests.append(TestSpec(function, module, kind, _get(t, "name", str, tw), points, visibility,
                                  tuple(cases), _get(t, "stability", bool, tw, False), tolerance))
    return tuple(tests)


def _check_consistency(tests: tuple[TestSpec, ...]) -> None:
    names = [t.full_name for t in tests]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"test names must be unique; repeated: {dupes}")
    # Hidden tests must not be predictable from public ones: no seed of the same function's public cases, and no
    # case of any public test (the grader prepares hidden calls ahead, found by case: a public test must never be
    # handed one, which would reach the student's code before the public tests end).
    public = {tuple(sorted(c.items())) for t in tests if not t.hidden for c in t.cases}
    seeds: dict[str, set] = {}
    for t in tests:
        if not t.hidden:
            seeds.setdefault(t.function, set()).update(c["seed"] for c in t.cases)
    for t in tests:
        for c in t.cases if t.hidden else ():
            if c["seed"] in seeds.get(t.function, ()):
                raise ConfigError(f"{t.full_name}: hidden case {c} reuses a public seed or case")
            if tuple(sorted(c.items())) in public:
                raise ConfigError(f"{t.full_name}: hidden case {c} is also a public test's case")


def check_cases(config: Config, required: dict[str, tuple[str, ...]]) -> None:
    """Every case holds the keys its function's inputs are built from."""
    for t in config.tests:
        for c in t.cases:
            missing = [k for k in required[t.function] if k not in c]
            if missing:
                raise ConfigError(f"{t.full_name}: case {c} lacks {missing}")


def check_behaviours(config: Config) -> None:
    """Every case of a ``behaviour`` test names a check of the assignment's behaviours module (which this loads)."""
    cases = [(t, c) for t in config.tests if t.kind == "behaviour" for c in t.cases]
    if not cases:
        return
    if _behaviours_missing(config):
        # Without this, a missing module reads as one that defines no checks.
        raise ConfigError(f"{config.path}: the assignment's behaviours module {config.behaviours_path} does not "
                          "exist (its behaviour tests need it)")
    checks = config.homework.behaviours
    for test, case in cases:
        if case.get("check") not in checks:
            raise ConfigError(f"{test.full_name}: case {case} names no behaviour check of {config.behaviours_path} "
                              f"(it has {sorted(checks) or 'none'})")


def load_config(path: str | Path, known_functions: dict | None = None) -> Config:
    """Load and validate an assignment config; raise ConfigError on any problem.

    known_functions maps each gradable function to the case keys its inputs
    need; without it, check_cases can be called later.
    """
    path = Path(path)
    try:
        raw = _parse(path.read_text(), path)
    except OSError as exc:
        raise ConfigError(f"cannot read the assignment config {path}: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    # The grader needs both folders; only the student bundle's config goes without them.
    _get(raw, "reference", str, "top level")
    _get(raw, "templates", str, "top level")
    return from_mapping(raw, path, known_functions)


PARSED_KEPT = 16  # parsed configs kept in the cache folder (the most recently written)


def _no_cache_folder() -> Path | None:
    return None


# Where parsed configs are kept between runs (None: nowhere).  The commands set it to the sandbox's cache folder
# (cli.py, ``privileges.cache_folder``): which folder student code cannot write to is the sandbox's question.
parsed_cache: Callable[[], Path | None] = _no_cache_folder


def _parse(text: str, path: Path):
    """The data of a YAML config, raising ConfigError when it is not YAML.

    Kept as JSON in the grader's cache folder (``parsed_cache``), named by a digest of the text:
    JSON reads some forty times faster than YAML parses, and a single ``grade`` waits for it.  Only data
    that JSON gives back unchanged is kept.
    """
    import hashlib
    import json
    import os
    import tempfile

    folder = parsed_cache()
    kept = folder / f"config-{hashlib.sha256(text.encode()).hexdigest()[:32]}.json" if folder else None
    if kept is not None:
        try:
            return json.loads(kept.read_text())
        except (OSError, ValueError):
            pass
    import yaml

    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if kept is not None:
        try:
            data = json.dumps(raw)
            if json.loads(data) == raw:
                fd, tmp = tempfile.mkstemp(dir=kept.parent, prefix=".tmp-")
                with os.fdopen(fd, "w") as f:
                    f.write(data)
                os.replace(tmp, kept)
                others = sorted(kept.parent.glob("config-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
                for old in others[PARSED_KEPT:]:
                    old.unlink(missing_ok=True)
        except (TypeError, ValueError, OSError):
            pass
    return raw


def from_mapping(raw: dict, path: Path, known_functions: dict | None = None) -> Config:
    """Validate an already parsed config; relative folders are taken from path's folder."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    files = tuple(_get(_get(raw, "submission", dict, "top level"), "files", list, "submission"))
    if not files or not all(isinstance(f, str) and f.endswith(".py") and "/" not in f for f in files):
        raise ConfigError("submission.files: a list of .py file names")
    hidden_visibility = _get(raw, "hidden_visibility", str, "top level", "after_published")
    if hidden_visibility not in GRADESCOPE_HIDDEN:
        raise ConfigError(f"hidden_visibility: {hidden_visibility!r} is not one of {list(GRADESCOPE_HIDDEN)}")
    tests = _tests(_get(raw, "questions", list, "top level"), files, known_functions)
    _check_consistency(tests)
    functions = tuple(dict.fromkeys(t.function for t in tests))
    base = Path(path).parent
    folders = {key: _get(raw, key, str, "top level", None) for key in ("reference", "templates")}
    modules = {key: _get(raw, key, str, "top level", f"{key}.py") for key in ("homework", "behaviours")}
    for key, name in modules.items():
        if not name.endswith(".py"):
            raise ConfigError(f"{key}: a .py file (relative to {Path(path).name}'s folder), got {name!r}")
    config = Config(
        path=Path(path),
        assignment=_get(raw, "assignment", str, "top level"),
        title=_get(raw, "title", str, "top level"),
        files=files,
        reference=(base / folders["reference"]).resolve() if folders["reference"] else None,
        templates=(base / folders["templates"]).resolve() if folders["templates"] else None,
        hidden_visibility=hidden_visibility,
        limits=_limits(_get(raw, "limits", dict, "top level", {})),
        tolerances=_tolerances(_get(raw, "tolerances", dict, "top level")),
        functions=functions,
        tests=tests,
        environment=_environment(_get(raw, "grader", dict, "top level", {}),
                                 _get(raw, "allowed_imports", dict, "top level", None)),
        homework_path=(base / modules["homework"]).resolve(),
        behaviours_path=(base / modules["behaviours"]).resolve(),
        withheld=_withheld(_get(raw, "withheld", dict, "top level", None)),
    )
    if known_functions is not None:
        check_cases(config, known_functions)
    return config


def _withheld(raw: dict | None) -> tuple[float, tuple[str, ...]] | None:
    """The ``withheld`` section of a public-only config: {points: P, functions: ["answers() in quiz.py (5 points)"]}."""
    if raw is None:
        return None
    functions = _get(raw, "functions", list, "withheld")
    if not all(isinstance(f, str) for f in functions):
        raise ConfigError("withheld.functions: a list of strings")
    return _get(raw, "points", float, "withheld"), tuple(functions)


def check_config_cases(config: Config) -> None:
    """Check every test case against the homework module's required keys and the behaviour checks it names
    (imports the homework module, hence numpy).  Raises ConfigError."""
    check_cases(config, config.homework.required_case_keys())
    check_behaviours(config)


def content_files(config: Config) -> dict[str, Path]:
    """The files whose content decides a grade, by a label that does not depend on where they are: the config
    itself, the homework module, the behaviours module and each file of the reference solution."""
    files = {"config": Path(config.path)}
    if config.homework_path is not None:
        files["homework"] = config.homework_path
    if config.behaviours_path is not None:
        files["behaviours"] = config.behaviours_path
    if config.reference is not None:
        files.update({f"reference/{name}": config.reference / name for name in config.files})
    return files


def content_digests(config: Config) -> dict[str, str]:
    """sha256 of each of ``content_files`` by its label ("" for a file that does not exist)."""
    import hashlib

    return {label: hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            for label, path in content_files(config).items()}


def content_fingerprint(digests: dict[str, str]) -> str:
    """One digest of ``content_digests``: it changes whenever any of those files does."""
    import hashlib

    return hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(digests.items())).encode()).hexdigest()


def _behaviours_missing(config: Config) -> bool:
    """Whether a behaviour test needs the behaviours module and it does not exist."""
    return any(t.kind == "behaviour" for t in config.tests) and (
        config.behaviours_path is None or not config.behaviours_path.is_file())


def _missing(config: Config) -> list[tuple[str, str]]:
    """(the config's key that gives its path, "what path") for each file grading with ``config`` needs and does
    not find: the homework module, the behaviours module (when a test is a behaviour test), the reference folder
    and each of its files."""
    missing = []
    if config.homework_path is None or not config.homework_path.is_file():
        missing.append(("homework", f"the homework module {config.homework_path}"))
    if _behaviours_missing(config):
        missing.append(("behaviours", f"the behaviours module {config.behaviours_path}"))
    if config.reference is not None and not config.reference.is_dir():
        missing.append(("reference", f"the reference solution folder {config.reference}"))
    elif config.reference is not None:
        missing += [("reference", f"the reference solution file {config.reference / name}") for name in config.files
                    if not (config.reference / name).is_file()]
    return missing


def missing_files(config: Config) -> list[str]:
    """What grading with ``config`` needs and does not find, each as "what path" (``_missing``)."""
    return [text for _, text in _missing(config)]


# The template fingerprints beside a config (grading/fingerprint.py writes and reads them).
FINGERPRINTS_FILE = "fingerprints.json"


def check_required_files(config: Config, similarity: bool = False) -> None:
    """ConfigError, one line naming every missing file, when grading with ``config`` could not work; a warning
    (stderr) when only what compares submissions with the released templates is missing (the templates folder
    only with ``similarity``: grade-all's similarity report is what reads it)."""
    missing = _missing(config)
    if missing:
        one = len(missing) == 1
        # The config's keys that name them: a copied config's relative paths are the usual cause.
        keys = list(dict.fromkeys(key for key, _ in missing))
        modules = [f"{k}: {k}.py" for k in keys if k != "reference"]
        raise ConfigError(f"{config.path}: {'; '.join(text for _, text in missing)} {'does' if one else 'do'} not "
                          f"exist: nothing was graded; give {'its path' if one else 'their paths'} with "
                          f"{listed([f'{k}:' for k in keys])} in the config (relative to its folder"
                          + (f"; when not given, {listed(modules)} beside it" if modules else "") + ")")
    _warn_templates_missing(config, similarity)


def _warn_templates_missing(config: Config, similarity: bool) -> None:
    """Tell the staff when ``config`` names a templates folder that does not exist, or no fingerprints lie beside
    it (a config copied without them): submissions are then not compared with the released templates, and the
    class's similarity report cannot leave released code out."""
    if config.templates is None:
        return
    if similarity and not Path(config.templates).is_dir():
        print(f"grader: the templates folder {config.templates} (templates: in {config.path}) does not exist: the "
              "similarity report of grade-all cannot leave the released code out", file=sys.stderr)
    if not Path(config.path).with_name(FINGERPRINTS_FILE).exists():
        print(f"grader: no {FINGERPRINTS_FILE} beside {config.path}, so submissions are not compared with the "
              "released templates (no note on files left unchanged or protected parts changed): copy the one "
              "beside the config this one was copied from", file=sys.stderr)


def command_config(path: str | Path | None = None, cases: bool = True, assignment: str | None = None) -> Config:
    """The config a command uses: the ``--config`` path, else the ``--assignment`` name, else the default
    assignment.  ``cases=False`` leaves ``check_config_cases`` (which imports numpy) to the caller."""
    config = load_config(config_path(assignment, path))
    if cases:
        check_config_cases(config)
    return config
