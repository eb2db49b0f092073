"""What an assignment declares about its graded functions, and how the engine loads that declaration.

The engine knows no homework.  An assignment folder (beside its ``assignment.yaml``) holds two
instructor modules, trusted code loaded by path (the folder is not a package):

``homework.py``
    ``FUNCTIONS``: name -> ``Function`` (arguments, outputs, an input builder from one test case);
    ``GRADIENTS``: backward name -> ``Gradient`` (which forward it differentiates, and how);
    ``TIME_AXES`` (optional): function -> {output name: the axis of that array that is time}, for
    exactly the arrays that have one (1 for an (N, T, ...) array, 0 for a (T,) one), so that feedback names the time
    step of a mismatch and T; an output not listed (a parameter gradient, an (N, H) state, a dict of
    parameters) gets no time wording, and neither do integer outputs (compared whole);
    ``SEQUENCE_FUNCTIONS`` (optional): the functions that run over time steps, so that a backward
    among them that is right for one step only gets a hint about the recurrent path;
    ``TIME_KEYS`` (optional): the case keys that are sequence lengths (which tests are one step);
    ``STABILITY_HINT`` (optional): the hint for a function right on ordinary inputs but not on
    the extreme ones of its ``stability`` tests (what overflows in this assignment, and the fix), one
    text or {function: text};
    ``CALLS`` (optional): function -> the graded functions its reference calls, directly or not, so
    that a caller's lost points name the failing function it is meant to call;
    ``PATTERN_HINTS`` (optional): function -> {pattern: text}, what a wrong value of that kind means in that
    function (patterns: ``compare.Mismatch.pattern``, e.g. "factor" for a constant multiple of the expected
    value), added to the engine's generic words.
``behaviours.py`` (optional)
    ``BEHAVIOURS``: check name -> ``check(grading, test, case)`` for tests of kind ``behaviour``;
    a check raises ``autograder.grading.grader.Failed`` when the behaviour is wrong;
    ``CALLS`` (optional): check name -> the graded function the check calls first on the case's own inputs
    (``grading.forward_call``), which the grader may then send to the child ahead of the test.

assignment.yaml may name other files (``homework: recipe.py``, ``behaviours: checks.py``).
``Homework`` wraps the loaded modules with the few questions the engine asks.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np


@dataclass(frozen=True)
class Function:
    """A function of the student API."""

    name: str
    module: str  # the submission file (without .py) that defines it
    args: tuple[str, ...]
    outputs: tuple[str, ...]  # "cache" marks the opaque cache
    build: Callable[[dict, np.random.Generator], dict] | None  # case, rng -> argument values; None for a backward
    required: tuple[str, ...]  # case keys the builder needs besides the seed
    optional_args: tuple[str, ...] = ()  # passed by keyword, left out when None

    @property
    def cache_index(self) -> int | None:
        return self.outputs.index("cache") if "cache" in self.outputs else None


@dataclass(frozen=True)
class Gradient:
    """How a backward function relates to its forward one.

    The loss whose gradient is checked is L = sum_k <g_k, out_k> over the
    forward outputs ``upstream`` with random upstream gradients g_k (or the
    forward's scalar output itself when ``upstream`` is empty and ``scalar``
    names it).  The backward's outputs ``grads`` are the gradients of L with
    respect to the forward's arguments ``wrt``.
    """

    backward: str
    forward: str
    upstream: tuple[str, ...]
    grads: tuple[str, ...]
    wrt: tuple[str, ...]
    scalar: str = ""  # the forward returns the loss itself (a loss function checked against its own gradient)


@dataclass
class Inputs:
    """The arguments of one call, split as the student API takes them."""

    function: Function
    values: dict  # argument name -> value

    def call_args(self) -> tuple[list, dict]:
        """Positional arguments and keyword arguments (optional ones left out when None)."""
        args, kwargs = [], {}
        for name in self.function.args:
            value = self.values[name]
            if name in self.function.optional_args:
                if value is not None:
                    kwargs[name] = value
            else:
                args.append(value)
        return args, kwargs


def build_inputs(function: Function, case: dict) -> Inputs:
    """A forward function's inputs for one case, deterministic in the case's seed."""
    return Inputs(function, function.build(case, np.random.default_rng(case["seed"])))


def upstream_gradients(gradient: Gradient, outputs: dict, case: dict) -> dict:
    """Random upstream gradients shaped like the forward outputs they multiply."""
    rng = np.random.default_rng([case["seed"], 7])
    return {name: rng.standard_normal(np.shape(outputs[name])) for name in gradient.upstream}


def input_summary(fn: Function, args: list, kwargs: dict) -> list[float]:
    """Count, sum and sum of squares of every number in the call's arguments (the cache aside)."""
    named = dict(zip([n for n in fn.args if n not in fn.optional_args], args))
    named.update(kwargs)
    leaves: list[np.ndarray] = []

    def collect(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, (np.ndarray, int, float, np.number, bool)):
            leaves.append(np.asarray(value, dtype=np.float64).ravel())

    for name in fn.args:
        if name != "cache" and name in named:
            collect(named[name])
    flat = np.concatenate(leaves) if leaves else np.zeros(0)
    return [float(flat.size), float(flat.sum()), float(np.sum(flat**2))]


def named_outputs(function: Function, result) -> dict:
    """Map a function's return value to its output names (a lone output is not a tuple)."""
    if len(function.outputs) == 1:
        return {function.outputs[0]: result}
    return dict(zip(function.outputs, result))


DEFAULT_STABILITY_HINT = ("right on ordinary inputs but not on extreme ones: look for exp of large positive numbers "
                          "or other overflow.")


# -- loading an assignment's modules -------------------------------------------------------------------
_MODULES: dict[Path, ModuleType] = {}


def load_module(path: str | Path) -> ModuleType:
    """The module of the Python file ``path``, executed once per process (by resolved path).

    Its name in ``sys.modules`` is unique to the path, so two assignments (or a repository and a
    student bundle) with a ``homework.py`` each never share a module.  Raises OSError when the
    file cannot be read and whatever the module raises while it runs.
    """
    path = Path(path).resolve()
    if path not in _MODULES:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        name = f"_assignment_{path.parent.name}_{path.stem}_{digest}".replace("-", "_").replace(".", "_")
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise OSError(f"cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        _MODULES[path] = module
    return _MODULES[path]


def sibling(file: str, name: str) -> ModuleType:
    """The module ``name``.py beside ``file`` (an assignment module's ``__file__``), as the engine loads it."""
    return load_module(Path(file).with_name(f"{name}.py"))


class Homework:
    """An assignment's declarations: its ``homework.py`` module and, loaded on first use, its behaviours."""

    def __init__(self, module: ModuleType, behaviours_path: Path | None = None) -> None:
        self.module = module
        self.functions: dict[str, Function] = dict(module.FUNCTIONS)
        self.gradients: dict[str, Gradient] = dict(getattr(module, "GRADIENTS", {}))
        self.sequence_functions: frozenset[str] = frozenset(getattr(module, "SEQUENCE_FUNCTIONS", ()))
        self.time_keys: tuple[str, ...] = tuple(getattr(module, "TIME_KEYS", ()))
        self.time_axes: dict[str, dict[str, int]] = {f: dict(axes) for f, axes in
                                                     getattr(module, "TIME_AXES", {}).items()}
        for function, axes in self.time_axes.items():
            outputs = self.functions[function].outputs if function in self.functions else None
            unknown = sorted(set(axes) - set(outputs or ()))
            if outputs is None or unknown:
                raise ValueError(f"{module.__file__}: TIME_AXES names " + (f"outputs {unknown} that {function} does "
                                 "not return" if outputs is not None else f"{function}, not a graded function"))
            if not all(type(a) is int for a in axes.values()):
                raise ValueError(f"{module.__file__}: TIME_AXES[{function!r}] maps outputs to axis numbers (int)")
        self.calls: dict[str, frozenset[str]] = {f: frozenset(c) for f, c in getattr(module, "CALLS", {}).items()}
        unknown = sorted({f for f, c in self.calls.items() for f in (f, *c)} - set(self.functions))
        if unknown:
            raise ValueError(f"{module.__file__}: CALLS names {unknown}, not graded functions")
        # One hint for every function, or one per function ({function: hint}; the others get the default).
        self.stability_hint: str | dict[str, str] = getattr(module, "STABILITY_HINT", DEFAULT_STABILITY_HINT)
        self.pattern_hints: dict[str, dict[str, str]] = {f: dict(h) for f, h in
                                                         getattr(module, "PATTERN_HINTS", {}).items()}
        unknown = sorted(set(self.pattern_hints) - set(self.functions))
        if unknown:
            raise ValueError(f"{module.__file__}: PATTERN_HINTS names {unknown}, not graded functions")
        self.behaviours_path = behaviours_path
        self._behaviours: dict | None = None
        self._behaviour_calls: dict[str, str] = {}

    @property
    def path(self) -> Path:
        return Path(self.module.__file__)

    def pattern_hint(self, function: str, pattern: str) -> str:
        """What ``PATTERN_HINTS`` says of a wrong value of kind ``pattern`` in ``function`` ("" when nothing)."""
        return self.pattern_hints.get(function, {}).get(pattern, "") if pattern else ""

    def stability_hint_for(self, function: str) -> str:
        """The hint for ``function`` failing only its stability tests (STABILITY_HINT, a str or a dict)."""
        if isinstance(self.stability_hint, dict):
            return self.stability_hint.get(function, DEFAULT_STABILITY_HINT)
        return self.stability_hint

    @property
    def behaviours(self) -> dict[str, Callable]:
        """check name -> check; empty when the assignment has no behaviours module.

        Loaded on first use: a behaviours module imports ``autograder.grading.grader``, which imports this one.
        """
        if self._behaviours is None:
            has = self.behaviours_path is not None and self.behaviours_path.is_file()
            module = load_module(self.behaviours_path) if has else None
            self._behaviours = dict(module.BEHAVIOURS) if module else {}
            self._behaviour_calls = dict(getattr(module, "CALLS", {}))
            unknown = sorted(f for c, f in self._behaviour_calls.items() if c not in self._behaviours
                             or f not in self.functions)
            if unknown:
                raise ValueError(f"{self.behaviours_path}: CALLS names {unknown}: each key must be a check of "
                                 "BEHAVIOURS and each value a graded function")
        return self._behaviours

    @property
    def behaviour_calls(self) -> dict[str, str]:
        """check name -> the function the check first calls on its case's inputs (the behaviours' ``CALLS``)."""
        _ = self.behaviours
        return self._behaviour_calls

    def time_axis(self, function: str, output: str) -> int | None:
        """The axis of ``function``'s output (or gradient) ``output`` that is time, or None when it has none."""
        return self.time_axes.get(function, {}).get(output)

    def forward_inputs(self, function: str, case: dict) -> Inputs:
        """The forward function's inputs for one case (deterministic in its seed)."""
        return build_inputs(self.functions[function], case)

    def required_case_keys(self) -> dict[str, tuple[str, ...]]:
        """function -> the case keys its inputs are built from (besides the seed)."""
        return {name: fn.required for name, fn in self.functions.items()}

    @property
    def forward_of(self) -> dict[str, str]:
        """backward -> forward, for the functions whose graded tests read a cache made by another."""
        return {g.backward: g.forward for g in self.gradients.values() if g.backward != g.forward}


def load_homework(homework_path: Path, behaviours_path: Path | None = None) -> Homework:
    """Load an assignment's homework module (and name its behaviours module, loaded when first needed)."""
    return Homework(load_module(homework_path), behaviours_path)


def load_files(folder: Path, files: tuple[str, ...], prefix: str) -> dict[str, ModuleType]:
    """The modules of ``folder``'s files (plain name -> module), named ``<prefix>_<name>`` in sys.modules.

    The files import each other by plain name (``from NAME import ...``, as students' do): while they
    load, those names point at them; afterwards sys.modules holds what it held before.  Callers that
    share sys.modules between threads must hold a lock.
    """
    modules: dict[str, ModuleType] = {}
    with borrowed_module_names([f[:-3] for f in files]):
        for file in files:  # callees first, as the config lists them
            name = file[:-3]
            spec = importlib.util.spec_from_file_location(f"{prefix}_{name}", Path(folder) / file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            modules[name] = module
    return modules


@contextlib.contextmanager
def borrowed_module_names(names: list[str]) -> Iterator[None]:
    """Let the body point the plain module ``names`` in sys.modules anywhere; afterwards they hold what they
    held before (absent names are removed again)."""
    saved = {name: sys.modules.get(name) for name in names}
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous

