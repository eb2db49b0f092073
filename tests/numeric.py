"""Central differences for checking the reference solutions independently of the grader's own gradcheck.

h = 1e-6 in float64: the truncation error is O(h^2) ~ 1e-12 relative and the round-off about
eps / h ~ 1e-10 times the function's scale, so a correct analytic gradient agrees to ~1e-9; the tests
accept 1e-6 (three orders of margin) and a wrong one misses by far more (see the tests' planted bugs).
"""

from __future__ import annotations

import numpy as np

H_STEP = 1e-6


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of x (perturbed in place, restored)."""
    grad = np.zeros_like(x)
    for i in range(x.size):
        old = x.flat[i]
        x.flat[i] = old + H_STEP
        plus = f()
        x.flat[i] = old - H_STEP
        minus = f()
        x.flat[i] = old
        grad.flat[i] = (plus - minus) / (2 * H_STEP)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the largest entry (central differences with h = 1e-6 carry
    ~1e-9 absolute round-off, so entry-wise relative errors of near-zero entries mean nothing)."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-3))
