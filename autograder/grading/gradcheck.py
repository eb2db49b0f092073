"""Numerical gradients by central differences, in float64.

    dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2 h)

The error of a central difference is O(h^2) from truncation plus O(eps |L| / h)
from round-off; with h = 1e-5 and the O(1) losses built by the grader both are
about 1e-10, far below the tolerance (see assignment.yaml), while a real bug
changes a gradient by a relative amount near 1.  A forward computed in float32
carries ~1e-7 relative error, which the division by 2h magnifies to ~1e-2: the
grader then says the forward spoils the check (``compare.imprecise``) rather
than blame the backward.

Two kinds of plan:

* ``plan``: small inputs coordinate by coordinate (every entry of every
  gradient, 2 evaluations each), larger ones along random unit directions d,
  comparing (L(x + h d) - L(x - h d)) / (2 h) with <dL/dx, d>.  Its failure
  messages name the entry (and time step) that is wrong.
* ``quick_plan``: the confirmation tried first on small inputs: a few random
  unit directions per array (``directions`` of the config, 2 evaluations
  each), from a seed fixed per case.  It can only *pass* a test: when any
  directional derivative disagrees (or anything else looks odd), the grader
  runs the coordinate plan, which decides and words the verdict exactly as if
  the quick check had not been tried.

False-pass probability of the quick check.  Let e = g' - g be the difference
between the student's gradient g' and the numerical gradient g of their own
forward, for one array of n entries.  The quick check passes only if
|<e, v>| <= tau for each of its k directions v, where tau = s * (atol + rtol *
|<g, v>|), the configured tolerance scaled by s = ``QUICK_TOLERANCE`` (0.01).
For v uniform on the unit sphere, <e, v> is close to N(0, ||e||^2 / n), whose
density is at most sqrt(n / (2 pi)) / ||e||, so one direction passes a wrong
gradient with probability at most about

    p = sqrt(2 n / pi) * tau / ||e||,   tau ~ s * (atol + rtol * ||g|| / sqrt(n))

(for Gaussian v without normalisation the same reasoning gives ~0.8 tau / ||e||
with tau ~ s * (atol + rtol ||g||)), and k independent directions pass it with
probability p^k.  Real bugs are far from the tolerance: a relative error
||e|| / ||g|| of just 1e-3 in an array of n = 100 entries with ||g|| ~ 1 (the
config's atol 1e-7, rtol 1e-5, k = 4) gives p ~ 8 * 0.01 * (1e-7 + 1e-6) / 1e-3
~ 1e-4, so ~1e-16 for the four directions; the O(1) errors of the mutant corpus
give less than 1e-25.  The worst case is an error that only just fails the
coordinate check, one entry i off by |e_i| = atol + rtol |g_i|: it passes a
direction when |v_i| is below about s, i.e. with probability ~ s sqrt(2 n / pi)
(0.08 for n = 100, 0.11 for n = 200), so ~ 4e-5 to 1.5e-4 for k = 4.  With
n = 1 the direction is +-1 and the check is exact.  A forward that spoils
central differences (float32) gets the coordinate plan straight away, since
its noise, not e, would decide.  The seeds are fixed per case, so a
submission's verdict never changes from one grading to the next.

``FULL_CHECK_ENV`` set to 1 skips the quick check (the benchmark compares both).

The function being differentiated is only ever *evaluated*, through a callable
that runs the perturbed calls (in the student's child process, or in-process
for the reference), so this module does the arithmetic that decides the score.
Each plan travels to the child as arrays (``Plan.wire``), not nested lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

# The quick check's tolerance, as a fraction of the configured one: correct float64 code on the graded cases
# stays below 1e-3 of the configured tolerance (the reference's worst is 7e-4), and a strict check passes fewer
# wrong gradients; one it does not confirm only costs the coordinate check.
QUICK_TOLERANCE = 0.01

# Set to 1 to check every small gradient coordinate by coordinate, as before the quick check (bench/bench_grade.py).
FULL_CHECK_ENV = "AUTOGRADER_FULL_GRADCHECK"


@dataclass(frozen=True)
class Target:
    """One array we differentiate with respect to: its label, path and value."""

    label: str  # e.g. "dW" or "grads['Wf']"
    path: tuple  # positional argument index, then a dict key if the argument is a dict
    value: np.ndarray


@dataclass(frozen=True)
class Plan:
    """The evaluations for one target, in (+h, -h) pairs.

    mode "full": evaluation j adds ``delta[j]`` to the flat coordinate ``index[j]``
    (index and delta of shape (evaluations,)).  mode "directions": evaluation j
    adds ``delta[j]`` (shape (evaluations, *target shape)) to the whole array, and
    ``dirs`` holds the unit directions, shape (evaluations / 2, *target shape).
    """

    target: Target
    mode: str
    delta: np.ndarray
    index: np.ndarray | None = None
    dirs: np.ndarray | None = None

    @property
    def evaluations(self) -> int:
        return len(self.delta)

    def wire(self) -> dict:
        """The plan as the child's ``call_many`` takes it: {"path", "index" (int64 array or None), "delta"}."""
        return {"path": list(self.target.path), "index": self.index, "delta": self.delta}


def full_check_forced() -> bool:
    """Whether ``FULL_CHECK_ENV`` asks to skip the quick check."""
    return os.environ.get(FULL_CHECK_ENV, "") == "1"


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


def _unit_directions(rng: np.random.Generator, count: int, shape: tuple) -> np.ndarray:
    """``count`` directions uniform on the unit sphere, shape (count, *shape)."""
    dirs = rng.standard_normal((count, *shape))
    dirs /= np.sqrt(np.sum(dirs**2, axis=tuple(range(1, dirs.ndim)), keepdims=True))
    return dirs


def _directions_plan(t: Target, dirs: np.ndarray, step: float) -> Plan:
    signs = np.tile([1.0, -1.0], len(dirs)).reshape(-1, *([1] * (dirs.ndim - 1)))
    return Plan(t, "directions", delta=np.repeat(dirs, 2, axis=0) * signs * step, dirs=dirs)


def plan(items: list[Target], step: float, full_max_size: int, directions: int, seed: int) -> list[Plan]:
    """The deciding evaluations: every coordinate when all targets together hold at most
    ``full_max_size`` numbers, else ``directions`` random unit directions per target."""
    total = sum(t.value.size for t in items)
    rng = np.random.default_rng([seed, 11])
    plans = []
    for t in items:
        if total <= full_max_size:
            index = np.repeat(np.arange(t.value.size, dtype=np.int64), 2)
            delta = np.tile([step, -step], t.value.size)
            plans.append(Plan(t, "full", delta=delta, index=index))
        else:
            plans.append(_directions_plan(t, _unit_directions(rng, directions, t.value.shape), step))
    return plans


def quick_plan(items: list[Target], step: float, directions: int, seed: int) -> list[Plan]:
    """The quick confirmation: ``directions`` random unit directions per target, from a seed fixed by the case."""
    rng = np.random.default_rng([seed, 13])
    return [_directions_plan(t, _unit_directions(rng, directions, t.value.shape), step) for t in items]


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


def numerical(plan_entry: Plan, loss_values: np.ndarray, step: float) -> np.ndarray:
    """Central differences from paired (+h, -h) losses: a gradient, or directional derivatives."""
    diffs = (loss_values[0::2] - loss_values[1::2]) / (2 * step)
    if plan_entry.mode == "full":
        return diffs.reshape(plan_entry.target.value.shape)
    return diffs


def analytic_directional(plan_entry: Plan, gradient: np.ndarray) -> np.ndarray:
    """<gradient, d> for each direction d of a plan entry."""
    return np.tensordot(plan_entry.dirs, gradient, axes=gradient.ndim)
