"""Numerical gradients by central differences, in float64.

    dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2 h)

The error of a central difference is O(h^2) from truncation plus O(eps |L| / h)
from round-off; with h = 1e-5 and the O(1) losses built by the grader both are
about 1e-10, far below the tolerance (see assignment.yaml), while a real bug
changes a gradient by a relative amount near 1.  A forward computed in float32
carries ~1e-7 relative error, which the division by 2h magnifies to ~1e-2: the
grader then says the forward spoils the check (``compare.imprecise``) rather
than blame the backward.

Small inputs are checked coordinate by coordinate (every entry of every
gradient); larger ones along random unit directions d, comparing
(L(x + h d) - L(x - h d)) / (2 h) with <dL/dx, d>.  The function being
differentiated is only ever *evaluated*, through a callable that runs the
perturbed calls (in the student's child process, or in-process for the
reference), so this module does the arithmetic that decides the score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Target:
    """One array we differentiate with respect to: its label, path and value."""

    label: str  # e.g. "dW" or "grads['Wf']"
    path: tuple  # positional argument index, then a dict key if the argument is a dict
    value: np.ndarray


def targets(args: list, names: list[str], wrt: tuple[str, ...], grads: tuple[str, ...]) -> list[Target]:
    """The arrays to perturb: each ``wrt`` argument, or each entry of a dict argument."""
    found = []
    for arg_name, grad_name in zip(wrt, grads):
        index = names.index(arg_name)
        value = args[index]
        if isinstance(value, dict):
            found += [Target(f"{grad_name}[{k!r}]", (index, k), np.asarray(v)) for k, v in value.items()]
        else:
            found.append(Target(grad_name, (index,), np.asarray(value)))
    return found


def plan(items: list[Target], step: float, full_max_size: int, directions: int, seed: int) -> list[dict]:
    """Which evaluations to run: per target, all coordinates or random directions.

    Returns one entry per target: {"target", "mode", "evals", "dirs"}; the
    evaluations come in (+h, -h) pairs.
    """
    total = sum(t.value.size for t in items)
    rng = np.random.default_rng([seed, 11])
    plans = []
    for t in items:
        path = list(t.path)
        if total <= full_max_size:
            evals = [[[path, i, sign * step]] for i in range(t.value.size) for sign in (1, -1)]
            plans.append({"target": t, "mode": "full", "evals": evals, "dirs": None})
        else:
            dirs = rng.standard_normal((directions, *t.value.shape))
            dirs /= np.sqrt(np.sum(dirs**2, axis=tuple(range(1, dirs.ndim)), keepdims=True))
            evals = [[[path, None, sign * step * d]] for d in dirs for sign in (1, -1)]
            plans.append({"target": t, "mode": "directions", "evals": evals, "dirs": dirs})
    return plans


def losses(outputs: list[np.ndarray], upstream: list[np.ndarray], scalar: bool) -> np.ndarray:
    """L for each evaluation, from one (evaluations, ...) array per output.

    L is the scalar output itself, or sum_k <g_k, out_k> with upstream gradients g_k.
    """
    if scalar:
        return outputs[0].reshape(-1).astype(np.float64)
    total = np.zeros(len(outputs[0]))
    for out, g in zip(outputs, upstream):
        total += np.tensordot(out, g, axes=g.ndim)
    return total


def numerical(plan_entry: dict, loss_values: np.ndarray, step: float) -> np.ndarray:
    """Central differences from paired (+h, -h) losses: a gradient, or directional derivatives."""
    diffs = (loss_values[0::2] - loss_values[1::2]) / (2 * step)
    if plan_entry["mode"] == "full":
        return diffs.reshape(plan_entry["target"].value.shape)
    return diffs


def analytic_directional(plan_entry: dict, gradient: np.ndarray) -> np.ndarray:
    """<gradient, d> for each direction d of a plan entry."""
    dirs = plan_entry["dirs"]
    return np.tensordot(dirs, gradient, axes=gradient.ndim)
