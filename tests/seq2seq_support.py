"""Helpers for the hw_seq2seq tests: load a submission's modules in-process, build inputs, call functions.

These tests check the assignment's content (reference, mutants, variants) directly, not through the grader:
the engine that grades hw_seq2seq reads the same files (assignments/hw_seq2seq/).
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignments" / "hw_seq2seq"
SOLUTIONS = ROOT / "solutions" / "hw_seq2seq"
CONFIG = yaml.safe_load((ASSIGNMENT / "assignment.yaml").read_text())
FILES = tuple(CONFIG["submission"]["files"])
MUTANTS = yaml.safe_load((ROOT / "tests" / "corpus" / "mutants_seq2seq.yaml").read_text())
VARIANTS = sorted(p for p in (ROOT / "tests" / "submissions" / "variants_seq2seq").iterdir() if p.is_dir())
_counter = itertools.count()


def _load_by_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


homework = _load_by_path("_assignment_hw_seq2seq_homework", ASSIGNMENT / "homework.py")
FUNCTIONS, GRADIENTS = homework.FUNCTIONS, homework.GRADIENTS


def load_submission(folder: Path) -> dict[str, ModuleType]:
    """Import a submission's modules under fresh names; their plain-name imports of each other resolve inside it."""
    tag = next(_counter)
    names = [f[:-3] for f in FILES]
    saved = {n: sys.modules.get(n) for n in names}
    modules = {}
    try:
        for name in names:  # files are listed callees first: encoder, decoder, seq2seq
            module = _load_by_path(f"_seq2seq_submission_{tag}_{name}", folder / f"{name}.py")
            sys.modules[name] = module
            modules[name] = module
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return modules


def make_submission(folder: Path, edits: list[dict] = (), base: Path = SOLUTIONS) -> Path:
    """Copy the reference (files ``base`` holds come from base) and apply text edits, each found exactly once."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(base / name if (base / name).exists() else SOLUTIONS / name, folder / name)
    for edit in edits:
        path = folder / edit["file"]
        text = path.read_text()
        assert text.count(edit["find"]) == 1, f"{edit['find']!r} must occur exactly once in {edit['file']}"
        path.write_text(text.replace(edit["find"], edit["replace"]))
    return folder


def inputs(function: str, case: dict) -> tuple[list, dict]:
    """Positional and keyword arguments of ``function`` for one case (optional ones left out when None)."""
    fn = FUNCTIONS[function]
    values = fn.build(case, np.random.default_rng(case["seed"]))
    args = [values[n] for n in fn.args if n not in fn.optional_args]
    kwargs = {n: values[n] for n in fn.optional_args if values[n] is not None}
    return args, kwargs


def named(function: str, result) -> dict:
    fn = FUNCTIONS[function]
    return {fn.outputs[0]: result} if len(fn.outputs) == 1 else dict(zip(fn.outputs, result))


def call(modules: dict, function: str, args: list, kwargs: dict | None = None) -> dict:
    """Call a function of a loaded submission on deep copies of the arguments; its named outputs."""
    fn = FUNCTIONS[function]
    func = getattr(modules[fn.module], function)
    return named(function, func(*copy.deepcopy(args), **copy.deepcopy(kwargs or {})))


def upstream(gradient, outputs: dict, seed: int) -> dict:
    """Random upstream gradients shaped like the forward outputs (as the grader draws them)."""
    rng = np.random.default_rng([seed, 7])
    return {name: rng.standard_normal(np.shape(outputs[name])) for name in gradient.upstream}


def close(a, b, rtol: float, atol: float) -> bool:
    """Elementwise |a - b| <= atol + rtol * max(|a|, |b|), through dicts; integer arrays must be equal."""
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(close(a[k], b[k], rtol, atol) for k in b)
    if isinstance(b, np.ndarray) and b.dtype.kind in "iu":
        return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.all(a == b))
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))))


def observed(modules: dict, function: str, case: dict) -> dict:
    """What the grader's tests of ``function`` see on one case: its outputs (caches aside), or for a backward
    function the gradients it returns on the forward's cache; an exception is returned as its type's name."""
    try:
        gradient = GRADIENTS.get(function)
        if gradient is not None and gradient.forward != function:
            args, kwargs = inputs(gradient.forward, case)
            out = call(modules, gradient.forward, args, kwargs)
            up = upstream(gradient, out, case["seed"])
            func = getattr(modules[FUNCTIONS[function].module], function)
            bargs = [up[n] for n in gradient.upstream]
            result = named(function, func(*bargs, out["cache"]))
            if not _same_inputs(bargs, [upstream(gradient, out, case["seed"])[n] for n in gradient.upstream]):
                return {"error": "modified its inputs"}
        else:
            args, kwargs = inputs(function, case)
            before = copy.deepcopy((args, kwargs))
            func = getattr(modules[FUNCTIONS[function].module], function)
            result = named(function, func(*args, **kwargs))
            if not _same_inputs(before, (args, kwargs)):
                return {"error": "modified its inputs"}
        return {k: v for k, v in result.items() if k != "cache"}
    except Exception as exc:  # a mutant may crash: that is an observation too
        return {"error": type(exc).__name__}


def _same_inputs(a, b) -> bool:
    if isinstance(a, dict):
        return set(a) == set(b) and all(_same_inputs(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_inputs(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b))
    return a == b
