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
lists, tuples and dicts.  On disk they travel in the child channel's format
(``sandbox/wire.py``: plain data and arrays, never pickled); an entry that
would not come back exactly as it went (a numpy scalar, an object) stays in
memory only.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from autograder.config import Config

FORMAT = 1
MAX_FILES = 64  # cache files kept (the most recently written); one per config and reference version

# (config path, kind, function, case JSON) -> inputs or upstream gradients
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


def load(config: Config) -> None:
    """Read this config's values from disk into memory, once per process (nothing when there is no file)."""
    if config.path in _LOADED:
        return
    _LOADED[config.path] = 0
    path = _file(config)
    if path is None or not path.is_file():
        return
    from autograder.sandbox import wire

    try:
        stream = wire.MessageStream()
        stream.feed(path.read_bytes())
        while stream.done:
            entry = stream.pop()
            key, value = tuple(entry["key"]), entry["value"]
            if key[0] == "inputs":
                INPUTS.setdefault((config.path, *key[1:]), read_only(value))
            elif key[0] == "outputs":
                *name, summary = key[1:]
                OUTPUTS.setdefault((config.reference, *name), {}).setdefault(tuple(summary), read_only(value))
    except (OSError, ValueError, KeyError, TypeError, wire.WireError) as exc:
        print(f"grader: the reference values kept in {path} are unreadable ({exc}); computing them",
              file=sys.stderr)
    _LOADED[config.path] = len(_entries(config))


def save(config: Config) -> None:
    """Write this config's values to disk when grading added some (atomically; failures are only logged)."""
    entries = _entries(config)
    if len(entries) <= _LOADED.get(config.path, 0):
        return
    path = _file(config)
    if path is None:
        return
    from autograder.sandbox import wire

    try:
        chunks = []
        for key, value in entries:
            data = wire.encode({"key": list(key), "value": value})
            stream = wire.MessageStream()
            stream.feed(data)
            if _identical(value, stream.pop()["value"]):  # else it stays in memory only
                chunks.append(data)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(chunks))
        os.replace(tmp, path)
        _LOADED[config.path] = len(entries)
        kept = sorted(path.parent.glob("*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[MAX_FILES:]:
            old.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        print(f"grader: cannot keep the reference values in {path} ({exc})", file=sys.stderr)
