"""What grading computes without the student, kept: each case's inputs and the reference's outputs.

In memory for the life of the process (a worker of ``grade-all`` grades a
whole class), and, when student code runs under its own uid (as root, as on
Gradescope), on disk between processes: a single ``grade`` then reads the
reference's values instead of computing them (Gradescope's ``setup.sh`` grades
the reference once, which writes them).  The file is named by a digest of
everything the values depend on (the config, the reference solution, the
assignment's modules, the Python and numpy versions), so a changed file is
never read, and it lives in a folder only the grader's user can enter
(``AUTOGRADER_CACHE``, else ``~/.cache/autograder``).  Without a separate uid
student code could write there, so nothing is read or written.

Values are shared read-only (a write would be a grader bug, and raises) in new
lists, tuples and dicts.  On disk they are plain data and arrays, never
pickled: one JSON index of every entry (tuples, dicts and arrays as one-key
objects, ``_encode``) and one block of every array's bytes, which the arrays
read back are read-only views of.  Read with one ``json.loads`` (the values
are the grader's own, in a folder only it can write: they need none of the
child channel's checks, and a single grade reads them on its critical path).
An entry that would not come back exactly as it went (a numpy scalar, an
object) stays in memory only.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

from autograder.config import Config

FORMAT = 2
MAX_FILES = 64  # cache files kept (the most recently written); one per config and reference version

# (config path, kind, function, case JSON[, tolerances]) -> inputs, upstream gradients, losses or gradcheck plans
INPUTS: dict[tuple, object] = {}
# (reference path, function, case JSON) -> {input summary: named outputs}
OUTPUTS: dict[tuple, dict[tuple, dict]] = {}
_LOADED: dict[Path, int] = {}  # config path -> entries known when its file was read or written


def read_only(value):
    """The value with every array in it made read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (list, tuple)):
        for v in value:
            read_only(v)
    elif isinstance(value, dict):
        for v in value.values():
            read_only(v)
    return value


def containers(value):
    """New lists, tuples and dicts around the same (read-only) arrays and numbers."""
    if isinstance(value, list):
        return [containers(v) for v in value]
    if isinstance(value, tuple):
        return tuple(containers(v) for v in value)
    if isinstance(value, dict):
        return {k: containers(v) for k, v in value.items()}
    return value


def _file(config: Config) -> Path | None:
    """The cache file of this config's values, named by a digest of what they depend on; None when values are
    not kept on disk (no separate uid for student code, or a folder others can reach)."""
    from autograder.sandbox.privileges import cache_folder

    folder = cache_folder()
    if folder is None or config.reference is None:
        return None
    h = hashlib.sha256(f"{FORMAT} {sys.version_info[:2]} {np.__version__}".encode())
    sources = [config.path, config.homework_path, config.behaviours_path, *(config.reference / f for f in config.files)]
    for path in sources:
        h.update(str(path).encode() + b"\0")
        if path is not None and Path(path).is_file():
            h.update(Path(path).read_bytes())
        h.update(b"\0")
    return folder / f"{config.assignment}-{h.hexdigest()[:32]}.bin"


def _entries(config: Config) -> list[tuple[tuple, object]]:
    """This config's memo entries, as (key without paths, value)."""
    found = [(("inputs", *key[1:]), value) for key, value in INPUTS.items() if key[0] == config.path]
    for key, by_summary in OUTPUTS.items():
        if key[0] == config.reference:
            found += [(("outputs", *key[1:], list(summary)), outputs) for summary, outputs in by_summary.items()]
    return found


def _identical(a, b) -> bool:
    """Whether b is exactly a: same types, dtypes, shapes and numbers, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    return a == b


_ALIGN = 16  # every array starts on this boundary of the file's bytes (numpy reads aligned arrays fastest)


def _encode(value, blob: list[bytes], size: list[int]):
    """``value`` as JSON-ready data, its arrays' bytes appended to ``blob`` (``size[0]`` bytes so far); raises
    TypeError for what the format does not hold (exact types only: a numpy scalar is not a float)."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is list:
        return [_encode(v, blob, size) for v in value]
    if kind is tuple:
        return {"t": [_encode(v, blob, size) for v in value]}
    if kind is dict and all(type(k) is str for k in value):
        # Pairs, not an object: json.loads' hook then sees only the one-key objects made here.
        return {"d": [[k, _encode(v, blob, size)] for k, v in value.items()]}
    if kind is np.ndarray and value.dtype.kind in "fiub" and not value.dtype.hasobject:
        data = np.ascontiguousarray(value).tobytes()
        entry = {"a": [value.dtype.str, list(value.shape), size[0]]}
        padded = -len(data) % _ALIGN
        blob.append(data + bytes(padded))
        size[0] += len(data) + padded
        return entry
    raise TypeError(f"{kind.__name__} is not kept")


def _object_hook(data: bytes, base: int):
    """The ``json.loads`` hook that turns ``_encode``'s one-key objects back into tuples, dicts and read-only arrays
    (views of ``data``, whose array block starts at ``base``)."""

    def hook(node: dict):
        if "a" in node:
            dtype, shape, offset = node["a"]
            count = math.prod(shape)
            return np.frombuffer(data, dtype=dtype, count=count, offset=base + offset).reshape(shape)
        if "t" in node:
            return tuple(node["t"])
        return dict(node["d"])

    return hook


def _dumps(entries: list[tuple[tuple, object]]) -> bytes:
    """The file: [8-byte big-endian index length][index JSON, padded][array block]; the index is
    ``[array block size, [[key, value], ...]]`` (lists: json.loads' hook sees only ``_encode``'s objects)."""
    blob: list[bytes] = []
    size = [0]
    encoded = [[list(key), _encode(value, blob, size)] for key, value in entries]
    index = json.dumps([size[0], encoded]).encode()
    index += b" " * (-(8 + len(index)) % _ALIGN)
    return b"".join([struct.pack(">Q", len(index)), index, *blob])


def _loads(data: bytes) -> list:
    """``_dumps``'s entries, as [key list, value]; raises ValueError (or TypeError, KeyError) on a damaged file."""
    if len(data) < 8:
        raise ValueError("too short")
    (length,) = struct.unpack(">Q", data[:8])
    base = 8 + length
    if base > len(data):
        raise ValueError("the index runs past the end")
    size, entries = json.loads(data[8:base], object_hook=_object_hook(data, base))
    if size != len(data) - base:
        raise ValueError("the array block's size does not match")
    return entries


def load(config: Config) -> None:
    """Read this config's values from disk into memory, once per process (nothing when there is no file)."""
    if config.path in _LOADED:
        return
    _LOADED[config.path] = 0
    path = _file(config)
    if path is None or not path.is_file():
        return
    try:
        entries = _loads(path.read_bytes())
        for key, value in entries:  # arrays are read-only views already
            if key[0] == "inputs":
                INPUTS.setdefault((config.path, *key[1:]), value)
            elif key[0] == "outputs":
                *name, summary = key[1:]
                OUTPUTS.setdefault((config.reference, *name), {}).setdefault(tuple(summary), value)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"grader: the reference values kept in {path} are unreadable ({exc}); computing them",
              file=sys.stderr)
    _LOADED[config.path] = len(_entries(config))


def _keepable(key: tuple, value) -> bool:
    """Whether an entry comes back from the file exactly as it is."""
    try:
        ((_, back),) = _loads(_dumps([(key, value)]))
    except (TypeError, ValueError):
        return False
    return _identical(value, back)


def save(config: Config) -> None:
    """Write this config's values to disk when grading added some (atomically; failures are only logged)."""
    entries = _entries(config)
    if len(entries) <= _LOADED.get(config.path, 0):
        return
    path = _file(config)
    if path is None:
        return
    try:
        data = _dumps([(key, value) for key, value in entries if _keepable(key, value)])  # the rest: memory only
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        _LOADED[config.path] = len(entries)
        kept = sorted(path.parent.glob("*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[MAX_FILES:]:
            old.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        print(f"grader: cannot keep the reference values in {path} ({exc})", file=sys.stderr)
