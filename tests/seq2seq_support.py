"""Helpers for the hw_seq2seq tests: load a submission's modules in-process, build inputs, call functions.

These tests check the assignment's content (reference, mutants, variants) directly, not through the grader:
the engine that grades hw_seq2seq reads the same files (assignments/hw_seq2seq/).
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from types import ModuleType

import conftest
import numpy as np
import yaml

from autograder.spec import load_files, load_module

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignments" / "hw_seq2seq"
SOLUTIONS = ROOT / "solutions" / "hw_seq2seq"
CONFIG = yaml.safe_load((ASSIGNMENT / "assignment.yaml").read_text())
FILES = tuple(CONFIG["submission"]["files"])
MUTANTS = yaml.safe_load((ROOT / "tests" / "corpus" / "mutants_seq2seq.yaml").read_text())
VARIANTS = sorted(p for p in (ROOT / "tests" / "submissions" / "variants_seq2seq").iterdir() if p.is_dir())
_counter = itertools.count()


homework = load_module(ASSIGNMENT / "homework.py")
FUNCTIONS, GRADIENTS = homework.FUNCTIONS, homework.GRADIENTS


def load_submission(folder: Path) -> dict[str, ModuleType]:
    """Import a submission's modules under fresh names; their plain-name imports of each other resolve inside it."""
    return load_files(folder, FILES, f"_seq2seq_submission_{next(_counter)}")


def make_submission(folder: Path, edits: list[dict] = (), base: Path = SOLUTIONS) -> Path:
    """conftest.make_submission for hw_seq2seq: the reference's files, ``base``'s where it holds them, then edits."""
    return conftest.make_submission(folder, edits, base, reference=SOLUTIONS, files=FILES)


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


STEP = 1e-5


def consistent(modules: dict, backward: str, case: dict, directions: int = 2) -> bool:
    """Whether a submission's gradients agree with central differences of its own forward (as gradcheck asks),
    along random directions, with the config's numerical tolerance (rtol 1e-5, atol 1e-7)."""
    g = GRADIENTS[backward]
    fwd = FUNCTIONS[g.forward]
    args, kwargs = inputs(g.forward, case)
    out = call(modules, g.forward, args, kwargs)
    up = upstream(g, out, case["seed"])
    if g.scalar:
        analytic = {g.grads[0]: out[g.grads[0]]}
    else:
        analytic = call(modules, backward, [up[n] for n in g.upstream] + [out["cache"]])

    def loss(a: list) -> float:
        o = call(modules, g.forward, a, kwargs)
        return float(o[g.scalar]) if g.scalar else sum(float(np.sum(o[n] * up[n])) for n in g.upstream)

    rng = np.random.default_rng([case["seed"], 11])
    positional = [n for n in fwd.args if n not in fwd.optional_args]
    for grad_name, arg_name in zip(g.grads, g.wrt):
        index = positional.index(arg_name)
        value = args[index]
        for key in (list(value) if isinstance(value, dict) else [None]):
            x = value if key is None else value[key]
            dx = analytic[grad_name] if key is None else analytic[grad_name].get(key) if isinstance(
                analytic[grad_name], dict) else None
            if not isinstance(dx, np.ndarray) or dx.shape != x.shape:
                return False
            for _ in range(directions):
                d = rng.standard_normal(x.shape)
                shifted = []
                for sign in (1, -1):
                    a = copy.deepcopy(args)
                    if key is None:
                        a[index] = x + sign * STEP * d
                    else:
                        a[index][key] = x + sign * STEP * d
                    shifted.append(loss(a))
                numeric = (shifted[0] - shifted[1]) / (2 * STEP)
                exact = float(np.sum(dx * d))
                if not abs(numeric - exact) <= 1e-7 + 1e-5 * max(abs(numeric), abs(exact)):
                    return False
    return True


_TRAINED: dict = {}


def behaviour_passes(modules: dict, reference: dict, case: dict) -> bool:
    """The behaviour check of assignments/hw_seq2seq/behaviours.py, run in-process on a submission's modules."""
    args, _ = inputs("train_seq2seq", case)
    if case["check"] == "reverse_training":
        losses = call(modules, "train_seq2seq", args)["losses"]
        return bool(losses.shape == (case["steps"],) and np.all(np.isfinite(losses)) and losses[-1] < case["below"])
    key = case["seed"]
    if key not in _TRAINED:
        _TRAINED[key] = call(reference, "train_seq2seq", args)["params"]
    _, held_out = homework.reverse_task(case["seed"], case["train_size"])
    right = sum(np.array_equal(call(modules, "greedy_decode", [_TRAINED[key], s, homework.START, homework.END,
                                                                case["max_length"]])["tokens"], s[::-1])
                for s in held_out)
    return bool(right >= case["accuracy"] * len(held_out))


def observe(modules: dict, reference: dict, function: str, case: dict) -> dict:
    """Everything the grader's tests of ``function`` look at on one case: outputs or gradients, whether the
    inputs were left alone, whether the gradients agree with the submission's own forward, behaviours."""
    if "check" in case:
        try:
            return {"behaviour": behaviour_passes(modules, reference, case)}
        except Exception as exc:
            return {"error": type(exc).__name__}
    seen = observed(modules, function, case)
    gradient = GRADIENTS.get(function)
    if gradient is not None and "error" not in seen:
        try:
            seen["consistent"] = consistent(modules, function, case)
        except Exception as exc:
            seen["consistent"] = type(exc).__name__
    return seen


def same(a: dict, b: dict, rtol: float = 1e-7, atol: float = 1e-9) -> bool:
    """Two observations agree: the same keys, equal flags and errors, values within the forward tolerance."""
    if set(a) != set(b):
        return False
    for key in a:
        if isinstance(b[key], (bool, str)) or isinstance(a[key], (bool, str)):
            if a[key] != b[key]:
                return False
        elif not close(a[key], b[key], rtol, atol):
            return False
    return True


def config_cases(function: str) -> list[dict]:
    """Every case of every test of ``function`` in assignment.yaml, public and hidden."""
    question = next(q for q in CONFIG["questions"] if q["function"] == function)
    return [c for t in question["tests"] for c in t["cases"]]
