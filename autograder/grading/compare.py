"""Checks one value a student function returned against what it should be.

Each check returns None when the value passes, or a ``Mismatch`` holding a
message a student can act on: what is wrong (type, dtype, shape, NaN, values),
the worst relative error and where, and a hint when the pattern is telling
(a transpose, a wrong sign, a constant factor, errors only at some time steps).
Hidden tests get the same verdict with no positions or values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from autograder.sandbox.wire import Handle, Opaque


@dataclass(frozen=True)
class Tolerance:
    """|actual - expected| <= atol + rtol * max(|actual|, |expected|), elementwise."""

    rtol: float
    atol: float


@dataclass
class Mismatch:
    message: str  # for public tests: may name positions and errors
    brief: str  # for hidden tests: what is wrong, nothing about the inputs
    digest: str = ""  # value_digest of the wrong value (not shown to students; see similarity.py)
    pattern: str = ""  # the hint's kind ("factor": a constant multiple of the expected value, ...): an
    # assignment may add why, for one of its functions (spec.Homework.pattern_hint)

    def text(self, hidden: bool) -> str:
        return self.brief if hidden else self.message


def value_digest(value) -> str:
    """A short hash of a returned value's exact bits (dtype, shape, bytes); "" for values that are not numbers.

    Two submissions returning a bit-identical wrong value on the same input almost always ran the
    same operations in the same order: the class report's second signal of shared code.
    """
    h = hashlib.sha256()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        h.update(f"{value.dtype.str}{value.shape}".encode() + np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        h.update(repr((type(value).__name__, float(value))).encode())
    else:
        return ""
    return h.hexdigest()[:16]


def describe_type(value, hidden: bool = False) -> str:
    """What a student's function returned, in a few words.

    ``hidden``: for a hidden test's brief, no shape or dtype and no class of the student's own: its name is text
    student code chooses, which could carry the hidden inputs (a class made at run time named after them).
    The other names are of the few types the child's channel carries (wire.py), which no student code names.
    """
    if isinstance(value, Opaque) and value.type_name.startswith("array of dtype "):  # not numbers (wire.py)
        return "an array of another dtype" if hidden else f"an {value.type_name}"
    if isinstance(value, Opaque):
        return "an object of a class of its own" if hidden else f"a {value.type_name} object"
    if isinstance(value, Handle):
        return "an opaque object"
    if isinstance(value, np.ndarray):
        return "an array" if hidden else f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _same(msg: str) -> Mismatch:
    return Mismatch(msg, msg)


# Float32 arithmetic keeps 24 bits: about 6e-8 relative error per operation, a few times that after a
# chain of them; correct float64 code differs from the reference by summation order only (~1e-15).
# A worst error, relative to the largest magnitude, in this band says "computed in float32" rather than "a bug".
FLOAT32_BAND = (1e-9, 1e-5)
FLOAT32_HINT = ("float32 arithmetic leaves about 1e-7 relative error: compute in float64 (no np.float32 arrays or "
                "scalars, no .astype(np.float32))")
# An error in the band whose values are not float32 numbers may be float32 inside or a bug that barely shows here.
FLOAT32_MAYBE = ("an error this small (about 1e-7 to 1e-5 of the largest value) is what float32 arithmetic leaves: if "
                 "any step uses float32 (np.float32 arrays or scalars, .astype(np.float32)), compute in float64; if "
                 "none does, look for a term with a small effect on these values (an epsilon, or a constant factor "
                 "that a later step divides out)")


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max(|expected|): one number for the precision of a whole array (of a dict of
    arrays, the largest); inf when the shapes or keys differ.  Raises TypeError or ValueError for values that
    are not numbers."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or actual.keys() != expected.keys():
            return float("inf")
        return max((relative_error(actual[k], v) for k, v in expected.items()), default=0.0)
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    scale = float(np.max(np.abs(expected), initial=0.0))
    return float(np.max(np.abs(actual - expected), initial=0.0)) / scale if scale > 0 else float("inf")


def imprecise(actual, expected) -> bool:
    """Whether an output looks computed in float32: float32 dtype, or right only to about 1e-7 relative."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return any(imprecise(actual.get(k), v) for k, v in expected.items())
    if isinstance(actual, np.ndarray) and actual.dtype in (np.float32, np.float16):
        return True
    try:
        err = relative_error(actual, expected)
    except (TypeError, ValueError):
        return False
    return np.shape(actual) == np.shape(expected) and FLOAT32_BAND[0] <= err <= FLOAT32_BAND[1]


def float32_numbers(actual, expected) -> bool:
    """Whether a float64 output holds only float32 numbers (rounded through float32 and widened; not all
    integers) where the expected one does not: a value close enough for a forward test's tolerance that still
    carries float32's rounding into what uses it.  Dicts: any entry."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return any(float32_numbers(actual.get(k), v) for k, v in expected.items())
    if not (isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray) and actual.dtype == np.float64
            and actual.shape == expected.shape and actual.size and np.all(np.isfinite(actual))):
        return False

    def rounded(a: np.ndarray) -> bool:
        return bool(np.array_equal(a.astype(np.float32).astype(np.float64), a) and np.any(a != np.round(a)))

    return rounded(actual) and not rounded(expected.astype(np.float64))


def float32_hint(actual) -> str:
    """The hint for an imprecise value (``imprecise``): FLOAT32_HINT when it is float32 or holds only float32
    numbers (not all integers), computed in float32 then widened; else FLOAT32_MAYBE, since a real bug can
    leave an error that small (a factor a later normalisation divides out, say)."""
    value = np.asarray(actual)
    if value.dtype in (np.float32, np.float16):
        return FLOAT32_HINT
    if value.dtype != np.float64 or not np.all(np.isfinite(value)):
        return FLOAT32_MAYBE
    narrowed = value.astype(np.float32).astype(np.float64)
    return FLOAT32_HINT if np.array_equal(narrowed, value) and np.any(value != np.round(value)) else FLOAT32_MAYBE


def pair(actual: float, expected: float) -> str:
    """"got A, expected B" with enough significant digits (6 to 17) that A and B differ when they do."""
    digits = 6
    while digits < 17 and actual != expected and f"{actual:.{digits}g}" == f"{expected:.{digits}g}":
        digits += 1
    return f"got {actual:.{digits}g}, expected {expected:.{digits}g}"


def order_of(rel: float) -> str:
    """A relative error as its nearest power of ten ("about 1e-02"), for hidden tests' briefs: the student's code
    chooses the wrong value, so every digit given is a digit it could send out of a hidden test; a decade
    says how far off it is in about three bits (a relative error lies between the tolerance and 2)."""
    return f"about 1e{int(np.floor(np.log10(max(rel, 1e-300)) + 0.5)):+03d}"


def _hint(actual: np.ndarray, expected: np.ndarray, tol: Tolerance, hidden: bool = False,
          time_axis: int | None = None, counts: frozenset[int] | None = None) -> tuple[str, str]:
    """A guess at the bug from the shape of the error and its kind ("factor", "sign", ...; both empty when
    nothing fits); ``hidden``: with no figure (the factor is the student code's choice: see order_of);
    ``time_axis`` and ``counts`` as for check_array."""
    if imprecise(actual, expected):
        return float32_hint(actual), "float32"
    if not np.any(expected):
        return "", ""
    if not np.any(actual):
        return "it is all zeros: is it computed (or accumulated) at all?", "zeros"

    def close(x: np.ndarray) -> bool:
        return _close(actual, x, tol)

    if close(-expected):
        return "it has the wrong sign", "sign"
    zero = expected == 0
    if zero.any() and not zero.all() and np.any(actual[zero] != 0):
        if _close(actual[~zero], expected[~zero], tol):
            return ("it is right wherever the expected value is not 0 but not 0 where it is: entries that should be "
                    "left out (masked positions?) are not"), "mask"
    if time_axis is not None and expected.shape[time_axis] >= 3:
        later, earlier = slice(1, None), slice(0, -1)
        for lag, (a, e) in (("t - 1", (later, earlier)), ("t + 1", (earlier, later))):
            if _close(_steps(actual, time_axis, a), _steps(expected, time_axis, e), tol):
                # A hidden test's brief names no time step (none of its indices, nor the word).
                return ("it is the expected values shifted by one position: an off-by-one index?" if hidden else
                        f"it is the expected sequence shifted by one time step (step t holds what belongs at {lag}): "
                        "an off-by-one in the time index?"), "shift"
    if time_axis is not None and expected.shape[time_axis] >= 2 and close(np.flip(expected, axis=time_axis)):
        return ("its values are the expected ones in reverse order: an index counted from the other end?" if hidden
                else "it is the expected sequence in reverse time order (step t holds what belongs at T - 1 - t): "
                     "a loop that stores by its own count while it runs backward?"), "reverse"
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and close(expected.T):
        return ("it equals the transpose of the expected value: check the order of a matrix product or a missing "
                ".T"), "transpose"
    factor = _factor(actual, expected, tol)
    if factor is not None:
        times = "a constant multiple of" if hidden else f"{factor:.4g} times"
        # A count (N, T, 2) or its inverse says "mean for sum" or a lost 1/N; another factor (a spectral radius, a
        # norm) says something else, which the generic words leave open.
        whole = max(abs(factor), 1 / abs(factor)) if factor else np.inf
        count = whole < 1e6 and abs(whole - round(whole)) < 1e-6 and (counts is None or round(whole) in counts)
        such = " (such as 1/N)" if count else ""
        return f"it is {times} the expected value: a missing or extra constant factor{such}?", "factor"
    return "", ""


def _factor(actual: np.ndarray, expected: np.ndarray, tol: Tolerance) -> float | None:
    """The constant c (not 1) with actual = c x expected within ``tol``, or None."""
    if not np.any(expected):
        return None
    factor = float(np.sum(actual * expected) / np.sum(expected * expected))
    return factor if abs(factor - 1) > 1e-3 and _close(actual, factor * expected, tol) else None


def _close(a: np.ndarray, b: np.ndarray, tol: Tolerance) -> bool:
    """Every entry within the tolerance (the comparison of check_array)."""
    return bool(np.all(np.abs(a - b) <= tol.atol + tol.rtol * np.maximum(np.abs(a), np.abs(b))))


def _steps(a: np.ndarray, axis: int, steps: slice) -> np.ndarray:
    return a[(slice(None),) * axis + (steps,)]


def _time_steps(bad: np.ndarray, axis: int) -> str:
    """Which time steps hold errors, for an array whose axis ``axis`` is time (T = its length)."""
    T = bad.shape[axis]
    wrong = np.nonzero(np.moveaxis(bad, axis, 0).reshape(T, -1).any(axis=1))[0]
    if len(wrong) == T:
        return f"wrong at every time step (T = {T})"
    right = sorted(set(range(T)) - set(wrong.tolist()))
    return f"wrong at time steps {wrong.tolist()} but right at {right} (T = {T})"


def check_array(name: str, actual, expected: np.ndarray, tol: Tolerance,
                time_axis: int | None = None, counts: frozenset[int] | None = None) -> Mismatch | None:
    """Compare an array output.

    ``time_axis``: the axis of ``expected`` that is time (1 for an (N, T, ...) array), or None for an
    array with no time axis (a parameter gradient, an (N, H) state): only then does the message name a
    time step and T, read from that axis.  A bool is refused (True once meant "axis 1").
    ``counts``: the sizes of the inputs (and their products), when known: an integer factor between the
    value and the expected one is put down to a count (a sum for a mean, a lost 1/N) only when it is one
    of them (a clipping ratio of 1/2 is none).
    """
    if isinstance(time_axis, bool):
        raise TypeError("time_axis is an axis number or None, not a bool")
    expected = np.asarray(expected, dtype=np.float64)
    # Briefs (hidden tests) name no shape or size: those would reveal the hidden inputs' dimensions.
    if not isinstance(actual, np.ndarray):
        return Mismatch(f"{name} should be a float64 array of shape {expected.shape}, got {describe_type(actual)}",
                        f"{name} should be a float64 array, got {describe_type(actual, hidden=True)}")
    if actual.dtype != np.float64:
        extra = f": {FLOAT32_HINT}" if actual.dtype in (np.float32, np.float16) else ""
        return _same(f"{name} has dtype {actual.dtype}; it should be float64{extra}")
    if actual.shape != expected.shape:
        hint = " (transposed?)" if actual.shape == expected.shape[::-1] else ""
        return Mismatch(f"{name} has shape {actual.shape} but should have shape {expected.shape}{hint}",
                        f"{name} has the wrong shape{hint}")
    if not np.all(np.isfinite(actual)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(actual))[0])
        return Mismatch(f"{name} contains NaN or inf (first at index {where})", f"{name} contains NaN or inf")
    diff = np.abs(actual - expected)
    bound = tol.atol + tol.rtol * np.maximum(np.abs(actual), np.abs(expected))
    bad = diff > bound
    if not bad.any():
        return None
    worst = np.unravel_index(int(np.argmax(diff / bound)), diff.shape)
    rel = diff[worst] / max(abs(actual[worst]), abs(expected[worst]), 1e-300)
    where = f"index {tuple(int(i) for i in worst)}"
    if time_axis is not None and -actual.ndim <= time_axis < actual.ndim:
        axis = time_axis % actual.ndim
        where += f", time step {int(worst[axis])}; {_time_steps(bad, axis)}"
    message = (f"{name} is wrong in {int(bad.sum())} of {bad.size} entries: worst relative error {rel:.2e} "
               f"at {where} ({pair(float(actual[worst]), float(expected[worst]))})")
    brief = f"{name} is wrong (worst relative error {order_of(rel)})"
    axis = time_axis % actual.ndim if time_axis is not None and -actual.ndim <= time_axis < actual.ndim else None
    hint, kind = _hint(actual, expected, tol, time_axis=axis, counts=counts)
    if hint:
        message += f"; {hint}"
        brief += f"; {_hint(actual, expected, tol, hidden=True, time_axis=axis, counts=counts)[0]}"
    return Mismatch(message, brief, pattern=kind)


def check_indices(name: str, actual, expected: np.ndarray) -> Mismatch | None:
    """Integer outputs (class indices, sampled characters) must match exactly."""
    if not isinstance(actual, np.ndarray) or actual.dtype.kind not in "iu":
        return Mismatch(f"{name} should be an integer array of shape {expected.shape}, got {describe_type(actual)}",
                        f"{name} should be an integer array, got {describe_type(actual, hidden=True)}")
    if actual.shape != expected.shape:
        return Mismatch(f"{name} has shape {actual.shape} but should have shape {expected.shape}",
                        f"{name} has the wrong shape")
    wrong = np.nonzero(actual != expected)[0] if actual.ndim == 1 else np.argwhere(actual != expected)
    if len(wrong) == 0:
        return None
    return Mismatch(f"{name} is {actual.tolist()} but should be {expected.tolist()}", f"{name} is wrong")


def _same_layout(actual, expected) -> bool:
    """Whether ``actual`` has ``expected``'s type, shape and dtype (values aside)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and actual.keys() == expected.keys() and all(
            _same_layout(actual[k], v) for k, v in expected.items())
    if isinstance(expected, np.ndarray):
        return isinstance(actual, np.ndarray) and actual.shape == expected.shape and (
            actual.dtype == expected.dtype if expected.dtype.kind == "f" else actual.dtype.kind in "iu")
    return isinstance(actual, (float, int, np.number)) and not isinstance(actual, bool) or (
        isinstance(actual, np.ndarray) and actual.shape == ())


def check_layout(name: str, actual, like: dict) -> Mismatch | None:
    """A dict of float64 arrays with ``like``'s keys and shapes (trained parameters, say), else a Mismatch whose
    brief names the first entry of ``like`` that is wrong (its key is the assignment's, not the student's) and
    no shape."""
    want = f"{name} should be a dict of float64 arrays with the keys and shapes of the initial ones"
    if not isinstance(actual, dict) or set(actual) != set(like):
        if isinstance(actual, dict):
            return Mismatch(f"{want}, got one with the keys {sorted(map(str, actual))}", f"{want}, got other keys")
        return Mismatch(f"{want}, got {describe_type(actual)}", f"{want}, got {describe_type(actual, hidden=True)}")
    for k in like:
        value = actual[k]
        if not isinstance(value, np.ndarray) or value.shape != np.shape(like[k]) or value.dtype != np.float64:
            what = (describe_type(value, hidden=True) if not isinstance(value, np.ndarray)
                    else "of another shape" if value.shape != np.shape(like[k]) else "not float64")
            return Mismatch(f"{want}: {name}[{k!r}] is {describe_type(value)}", f"{want}: {name}[{k!r}] is {what}")
    return None


def check_scalar(name: str, actual, expected: float, tol: Tolerance) -> Mismatch | None:
    """Compare a float output (a Python float or a 0-d array both count)."""
    if isinstance(actual, np.ndarray) and actual.shape == () and actual.dtype.kind == "f":
        actual = float(actual)
    if type(actual) is int:
        actual = float(actual)
    if isinstance(actual, (np.float32, np.float16)):
        return _same(f"{name} is a {type(actual).__name__}; it should be a float64: {FLOAT32_HINT}")
    if type(actual) is not float:
        return Mismatch(f"{name} should be a float, got {describe_type(actual)}",
                        f"{name} should be a float, got {describe_type(actual, hidden=True)}")
    if not np.isfinite(actual):
        return _same(f"{name} is {actual}, not a finite number")
    if abs(actual - expected) <= tol.atol + tol.rtol * max(abs(actual), abs(expected)):
        return None
    rel = abs(actual - expected) / max(abs(actual), abs(expected), 1e-300)
    hint = brief_hint = ""
    if expected != 0 and abs(actual / expected - 1) > 1e-3:
        hint = f"; it is {actual / expected:.4g} times the expected value"
        brief_hint = "; it is off by a factor" if actual / expected > 0 else "; it is off by a factor or sign"
    elif FLOAT32_BAND[0] <= rel <= FLOAT32_BAND[1]:
        hint = brief_hint = f"; {float32_hint(actual)}"
    got, want = pair(actual, expected).removeprefix("got ").split(", expected ")
    return Mismatch(f"{name} is {got} but should be {want} (relative error {rel:.2e}){hint}",
                    f"{name} is wrong (relative error {order_of(rel)}){brief_hint}")


def check_value(name: str, actual, expected, tol: Tolerance, time_axis: int | None = None,
                counts: frozenset[int] | None = None) -> Mismatch | None:
    """Compare any output: arrays, floats, or dicts of arrays (the LSTM's grads).

    ``time_axis`` as for ``check_array``, for an array output; a dict's entries have none.  ``counts`` as for
    ``check_array``, for every array.

    A mismatch carries the ``value_digest`` of the wrong value (of a dict's first wrong entry).
    """
    found = _check_value(name, actual, expected, tol, time_axis, counts)
    if found is not None and not found.digest and not isinstance(expected, dict):
        found.digest = value_digest(actual)
    return found


def _check_value(name: str, actual, expected, tol: Tolerance, time_axis: int | None = None,
                 counts: frozenset[int] | None = None) -> Mismatch | None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return Mismatch(f"{name} should be a dict with keys {sorted(expected)}, got {describe_type(actual)}",
                            f"{name} should be a dict with keys {sorted(expected)}, got "
                            f"{describe_type(actual, hidden=True)}")
        if set(actual) != set(expected):
            # The keys are the student's text: a hidden test's brief does not repeat them.
            return Mismatch(f"{name} should have exactly the keys {sorted(expected)}, got {sorted(actual)}",
                            f"{name} should have exactly the keys {sorted(expected)}, got other keys")
        found = [check_value(f"{name}[{key!r}]", actual[key], expected[key], tol, counts=counts) for key in expected]
        # An entry of the wrong type or shape is named before entries whose values it may have spoiled.
        structural = [f for key, f in zip(expected, found) if f and not _same_layout(actual[key], expected[key])]
        return next(iter(structural), None) or next((f for f in found if f), None)
    if isinstance(expected, np.ndarray) and expected.dtype.kind in "iu":
        return check_indices(name, actual, expected)
    if isinstance(expected, np.ndarray):
        return check_array(name, actual, expected, tol, time_axis, counts)
    return check_scalar(name, actual, float(expected), tol)


def unchanged(before, after) -> bool:
    """Whether an input came back from a call exactly as it went in."""
    if isinstance(before, dict):
        return (isinstance(after, dict) and set(before) == set(after)
                and all(unchanged(before[k], after[k]) for k in before))
    if isinstance(before, np.ndarray):
        return isinstance(after, np.ndarray) and before.shape == after.shape and bool(
            np.array_equal(before, after, equal_nan=before.dtype.kind == "f"))
    return True
