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
* ``quick_plan``: the confirmation tried first, on inputs of any size: every array
  moved at once along a few random joint directions (``QUICK_DIRECTIONS``
  times the config's ``directions``, 2 evaluations each, however many arrays
  the backward returns), from a seed fixed per case.  It can only *pass* a
  test: when any directional derivative disagrees (or anything else looks
  odd), the grader runs ``plan``, which decides and words the verdict
  exactly as if the quick check had not been tried.  On large inputs ``plan``
  itself samples directions with the configured tolerance, so the quick
  check, 100 times stricter, passes fewer wrong gradients than it would.

False-pass probability of the quick check.  A joint direction is
d = (u_1, ..., u_m) / sqrt(m) over the m arrays, each u_i uniform on the unit
sphere of array i (n_i entries).  Let e_i = g'_i - g_i be the difference
between the student's gradient g'_i and the numerical gradient g_i of their
own forward.  The check passes only if |<e, d>| <= tau for each of its k
directions, where tau = s * (atol + rtol * |<g, d>|), the configured tolerance
scaled by s = ``QUICK_TOLERANCE`` (0.01).  <e, d> is a sum of independent terms
<e_i, u_i> / sqrt(m), and the density of a sum of independent terms is at most
that of any one of them; <e_i, u_i> is close to N(0, ||e_i||^2 / n_i), so for
any array i with an error, one direction passes with probability at most about

    p = sqrt(2 n_i m / pi) * tau / ||e_i||

and k independent directions pass it with probability p^k.  Real bugs are far
from the tolerance: a relative error ||e_i|| / ||g|| of just 1e-3 in an array
of n_i = 40 entries, one of m = 5, with ||g|| ~ 1 (the config's atol 1e-7, rtol
1e-5, k = 8) gives p ~ 11 * 0.01 * (1e-7 + 1e-6) / 1e-3 ~ 1e-4, so ~1e-32 for
the eight directions; the O(1) errors of the mutant corpus give far less.  The
worst case is an error that only just fails the coordinate check, one entry
off by |e_i| = atol + rtol |g_i| with entries of similar size: it passes a
direction when that entry's share of d is below about s, i.e. with
probability ~ s sqrt(2 n_i m / pi): 0.11 when n_i m = 200 (the largest
coordinate check, ``full_check_max_size``, shared evenly), up to 0.26 for one
array of 180 entries beside five small ones, so ~ 2e-8 to 2e-5 for k = 8.  With
n_i = m = 1 the direction is +-1 and the check is exact.  A forward that spoils
central differences (float32) gets the coordinate plan straight away, since
its noise, not e, would decide.  The seeds are fixed per case, so a
submission's verdict never changes from one grading to the next.  Moving every
array at once costs 2k evaluations instead of 2k per array: the quick check of
a backward returning five arrays makes 16 calls of the forward, not 40.

``FULL_CHECK_ENV`` set to 1 skips the quick check (the benchmark compares both).

The function being differentiated is only ever *evaluated*, through a callable
that runs the perturbed calls (in the student's child process, or in-process
for the reference), so this module does the arithmetic that decides the score.
Each plan travels to the child as arrays (``Plan.wire``), not nested lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# The quick check's tolerance, as a fraction of the configured one: correct float64 code on the graded cases
# stays below 1e-3 of the configured tolerance (the reference's worst is 7e-4), and a strict check passes fewer
# wrong gradients; one it does not confirm only costs the coordinate check.
QUICK_TOLERANCE = 0.01
# Joint directions of the quick check per configured ``directions``: all arrays share each direction, so more
# directions than one array's check used keep the false-pass bound above (sqrt(m) looser per direction) as small.
QUICK_DIRECTIONS = 2

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


def plan_arrays(entry: Plan) -> dict:
    """A plan's fields but its target, as plain data: ``Plan(target, **plan_arrays(entry))`` rebuilds it."""
    return {"mode": entry.mode, "delta": entry.delta, "index": entry.index, "dirs": entry.dirs}


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


@dataclass(frozen=True)
class JointPlan:
    """The quick check's evaluations: every target moved at once, in (+h, -h) pairs along k joint directions.

    ``dirs[i]`` (shape (k, *target i's shape)) is target i's share of each unit direction; evaluation j adds
    ``+-h dirs[i][j // 2]`` to every target i.
    """

    targets: tuple[Target, ...]
    dirs: tuple[np.ndarray, ...]
    step: float

    @property
    def evaluations(self) -> int:
        return 2 * len(self.dirs[0])

    def wire(self) -> dict:
        """The plan as the child's ``call_many`` takes it: {"paths", "deltas": one (evaluations, *shape) array
        per target}; made once per plan (a grader keeps a case's plan for every submission it grades)."""
        return self._wire

    @cached_property
    def _wire(self) -> dict:
        signs = np.tile([1.0, -1.0], len(self.dirs[0]))
        deltas = [np.repeat(d, 2, axis=0) * signs.reshape(-1, *([1] * (d.ndim - 1))) * self.step for d in self.dirs]
        return {"paths": [list(t.path) for t in self.targets], "deltas": deltas}

    def analytic(self, gradients: list[np.ndarray]) -> np.ndarray:
        """<g, d> for each joint direction d, given one gradient per target (shape (k,))."""
        return sum(np.tensordot(d, g, axes=g.ndim) for d, g in zip(self.dirs, gradients))


def quick_plan(items: list[Target], step: float, directions: int, seed: int) -> JointPlan:
    """The quick confirmation: ``QUICK_DIRECTIONS * directions`` random joint unit directions over all targets
    (each target's share a unit direction of its own, scaled by 1 / sqrt(len(items))), from a seed fixed by the
    case."""
    rng = np.random.default_rng([seed, 13])
    count, scale = QUICK_DIRECTIONS * directions, 1.0 / np.sqrt(len(items))
    return JointPlan(tuple(items), tuple(_unit_directions(rng, count, t.value.shape) * scale for t in items), step)


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


def numerical(plan_entry: Plan | JointPlan, loss_values: np.ndarray, step: float) -> np.ndarray:
    """Central differences from paired (+h, -h) losses: a gradient, or directional derivatives."""
    diffs = (loss_values[0::2] - loss_values[1::2]) / (2 * step)
    if isinstance(plan_entry, Plan) and plan_entry.mode == "full":
        return diffs.reshape(plan_entry.target.value.shape)
    return diffs


def analytic_directional(plan_entry: Plan, gradient: np.ndarray) -> np.ndarray:
    """<gradient, d> for each direction d of a plan entry."""
    return np.tensordot(plan_entry.dirs, gradient, axes=gradient.ndim)
