"""The message format between the grader and the child that runs student code.

A message is a JSON header followed by raw array buffers:

    [4-byte big-endian header length][header JSON][buffer 0][buffer 1]...

The header's ``"buffers"`` lists each buffer's byte length; arrays in the value
tree point at their buffer by index.  Values are plain data only: None, bool,
int, float, str, tuples/lists, dicts with str keys, numpy arrays of a few
numeric dtypes, and handles (ids of objects kept in the child, e.g. caches).
Nothing is ever pickled, so decoding what the child sends cannot run code.

This file is also sent verbatim to the child as part of its program, so it
imports nothing but the standard library and numpy.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import deque

import numpy as np

ALLOWED_DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")
_DTYPE_NAMES = {np.dtype(name): name for name in ALLOWED_DTYPES}  # a dtype's .name is slow to compute
_ITEMSIZE = {name: np.dtype(name).itemsize for name in ALLOWED_DTYPES}
# A message's buffers: the grader holds a few copies of a reply while it reads and decodes it, so this bounds what
# student code can make the grader's process hold (a test's values are kilobytes; a gradient check's batch of
# evaluations a few megabytes).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# A reply's header (its JSON: every value but the arrays' bytes): json.loads makes tens of bytes of Python objects
# of each byte of nested lists, so student code could make the grader hold gigabytes with one header under
# MAX_MESSAGE_BYTES.  A test's reply holds arrays as buffers and a header of kilobytes; a gradient check's batch of
# ragged outputs some hundreds.
MAX_REPLY_HEADER_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 8
# The child's printed output goes to capture files limited by RLIMIT_FSIZE (the config's ``file_mb``): it stops
# keeping output this far below the limit, so that printing never fails the student's call (see child.py).
OUTPUT_MARGIN = 64 << 10
# Characters of an exception's text a message shows.  The child sends one more, so that the grader can tell a cut
# and end the text at a word with an ellipsis (box.Reply.from_raw), never mid-word without a sign.
ERROR_CHARS = 500


def sent_error(text: str) -> str:
    """An exception's text as a reply carries it: ``ERROR_CHARS`` and one more, the sign of a cut."""
    return text[:ERROR_CHARS + 1]


def output_cap(file_limit: int) -> int:
    """Bytes of printed output kept per stream (stdout, stderr) under a file size limit of ``file_limit`` bytes."""
    return max(file_limit - OUTPUT_MARGIN, file_limit // 2)


def output_cut_message(file_limit: int) -> str:
    """What the student reads where their printed output stops."""
    return f"your code printed more than {output_cap(file_limit) / 2**20:.3g} MB; output is cut"


# Past the cap, output is dropped but still counted, so that a later call's printing can be named too: one NUL
# byte (a tick) is appended per tick_unit(i) bytes dropped, at most PRINTED_TICKS_MAX (well inside the margin).
# The unit doubles every PRINTED_TICK_DOUBLING ticks: endless printing (gigabytes a second once nothing is
# written) never runs out of ticks, and a call's count stays within 1/PRINTED_TICK_DOUBLING of the total.
PRINTED_TICK = 1 << 20
PRINTED_TICK_DOUBLING = 1024
PRINTED_TICKS_MAX = OUTPUT_MARGIN // 4


def tick_unit(index: int) -> int:
    """Bytes dropped that tick number ``index`` (0 for the first past the cut line) stands for."""
    return PRINTED_TICK << (index // PRINTED_TICK_DOUBLING)


def _ticked_bytes(ticks: int) -> int:
    """Bytes the first ``ticks`` ticks stand for together."""
    doublings, rest = divmod(ticks, PRINTED_TICK_DOUBLING)
    return PRINTED_TICK * (PRINTED_TICK_DOUBLING * ((1 << doublings) - 1) + (rest << doublings))


def output_cut_line(file_limit: int) -> bytes:
    """The line the child writes where it stops keeping output (after exactly ``output_cap`` bytes)."""
    return f"\n[{output_cut_message(file_limit)}]\n".encode()


def output_kept_end(file_limit: int) -> int:
    """The size of a cut capture file before its ticks: the kept output and the cut line."""
    return output_cap(file_limit) + len(output_cut_line(file_limit))


def printed_bytes(size: int, file_limit: int) -> int:
    """How many bytes were printed to a capture file now ``size`` bytes long: those kept, and those dropped past
    the cap as counted by their ticks (each within one tick's unit)."""
    end = output_kept_end(file_limit)
    return size if size <= end else end + _ticked_bytes(size - end)


class WireError(Exception):
    """A message that breaks the format: the sender is faulty or hostile."""


class Handle:
    """A reference to an object that lives in the child (a cache, say)."""

    __slots__ = ("id",)

    def __init__(self, id_: int) -> None:
        self.id = id_

    def __repr__(self) -> str:
        return f"Handle({self.id})"


class Opaque:
    """Stands for a value the child could not send as plain data."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def _encode(value, buffers: list, depth: int = 0):
    if depth > MAX_DEPTH:
        return {"t": "opaque", "type": "nested too deeply"}
    kind = type(value)  # exact types only: a subclass of int or str (an enum, say) travels as opaque
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        # A finite float is a JSON number (repr, so it comes back exactly); NaN and infinity are not JSON.
        return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
    if kind is list or kind is tuple:
        return {"t": kind.__name__, "v": [_encode(v, buffers, depth + 1) for v in value]}
    if kind is dict and all(type(k) is str for k in value):
        return {"t": "dict", "v": {k: _encode(v, buffers, depth + 1) for k, v in value.items()}}
    if isinstance(value, Handle):
        return {"t": "handle", "id": value.id}
    if isinstance(value, (np.ndarray, np.generic)):
        # A base-class view (subclasses dropped): only the raw numbers travel, in C order.
        arr = np.asarray(value)
        name = _DTYPE_NAMES.get(arr.dtype)
        if name is None and arr.dtype.byteorder in "<>" and arr.dtype.kind in "fiub":
            arr = arr.astype(arr.dtype.newbyteorder("="))  # the other byte order: travels in this one
            name = _DTYPE_NAMES.get(arr.dtype)
        if name is None:
            return {"t": "opaque", "type": f"array of dtype {arr.dtype}"}
        buffers.append(arr.tobytes())
        return {"t": "array", "dtype": name, "shape": list(arr.shape), "buf": len(buffers) - 1}
    return {"t": "opaque", "type": kind.__name__}


def encode(message: dict, max_header: int = MAX_MESSAGE_BYTES) -> bytes:
    """Serialise a message (a dict of plain values) to bytes; ValueError saying why when the reader would refuse
    it (buffers over MAX_MESSAGE_BYTES, a header over ``max_header``)."""
    buffers: list[bytes] = []
    body = {k: _encode(v, buffers) for k, v in message.items()}
    size = sum(len(b) for b in buffers)
    if size > MAX_MESSAGE_BYTES:  # the reader would refuse it: say why here, where the values are
        raise ValueError(f"the values returned take {size / 2**20:.0f} MB; a reply holds at most "
                         f"{MAX_MESSAGE_BYTES >> 20} MB (the tests' inputs are small: is an array much larger than "
                         "it should be?)")
    header = json.dumps({"body": body, "buffers": [len(b) for b in buffers]}).encode()
    if len(header) > max_header:
        raise ValueError(f"the values returned take {len(header) / 2**20:.1f} MB as Python lists, numbers or text; a "
                         f"reply holds at most {max_header / 2**20:g} MB of those (return numpy arrays)")
    return b"".join([struct.pack(">I", len(header)), header, *buffers])


def _decode(node, buffers: list[bytes], depth: int = 0):
    if depth > MAX_DEPTH + 1:
        raise WireError("value nested too deeply")
    kind = type(node)
    if kind is str or kind is int or kind is float or kind is bool or node is None:
        return node
    if kind is not dict:
        raise WireError(f"unexpected node {kind.__name__}")
    kind = node.get("t")
    if kind == "array":
        dtype, shape, index = node.get("dtype"), node.get("shape"), node.get("buf")
        if dtype not in _ITEMSIZE:
            raise WireError(f"dtype {dtype!r} not allowed")
        if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape) or len(shape) > 8:
            raise WireError("bad shape")
        if type(index) is not int or not 0 <= index < len(buffers):
            raise WireError("bad buffer index")
        data = buffers[index]
        if len(data) != math.prod(shape) * _ITEMSIZE[dtype]:
            raise WireError("buffer size does not match shape")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    if kind == "list" or kind == "tuple":
        items = node.get("v")
        if type(items) is not list:
            raise WireError("bad sequence")
        seq = [_decode(v, buffers, depth + 1) for v in items]
        return tuple(seq) if kind == "tuple" else seq
    if kind == "dict":
        items = node.get("v")
        if type(items) is not dict:
            raise WireError("bad dict")
        return {str(k): _decode(v, buffers, depth + 1) for k, v in items.items()}
    if kind == "float":
        try:
            return float(str(node.get("v")))
        except ValueError:
            raise WireError("bad float") from None
    if kind == "handle":
        if type(node.get("id")) is not int:
            raise WireError("bad handle")
        return Handle(node["id"])
    if kind == "opaque":
        return Opaque(str(node.get("type"))[:80])
    raise WireError(f"unknown node type {kind!r}")


def _meta(header: bytes) -> dict:
    """A message's header, checked: {"body": dict, "buffers": list of sizes}."""
    try:
        meta = json.loads(header)
    except ValueError as exc:
        raise WireError(f"header is not JSON: {exc}") from None
    except RecursionError:  # JSON nested deeper than the parser's recursion: no message of ours is
        raise WireError("header nested too deeply") from None
    if type(meta) is not dict or type(meta.get("body")) is not dict or type(meta.get("buffers")) is not list:
        raise WireError("bad header")
    if not all(type(n) is int and n >= 0 for n in meta["buffers"]):
        raise WireError("bad buffer sizes")
    return meta


def _decode_body(meta: dict, payload: bytes) -> dict:
    sizes = meta["buffers"]
    if sum(sizes) != len(payload):
        raise WireError("buffer sizes do not match the payload")
    buffers, start = [], 0
    for n in sizes:
        buffers.append(payload[start : start + n])
        start += n
    return {str(k): _decode(v, buffers) for k, v in meta["body"].items()}


def decode(header: bytes, payload: bytes) -> dict:
    """Parse a message's header JSON and buffers into plain values."""
    return _decode_body(_meta(header), payload)


class MessageStream:
    """Splits a byte stream into messages: several may arrive in one read, or one across many.

    Sizes are checked from each header before its buffers are kept, so a
    hostile sender cannot make the reader hold more than ``MAX_MESSAGE_BYTES``.
    """

    def __init__(self, max_header: int = MAX_MESSAGE_BYTES) -> None:
        self._max_header = max_header  # MAX_REPLY_HEADER_BYTES for the grader's reader of replies
        self._data = bytearray()
        self._ready: deque[tuple[dict, bytes]] = deque()
        # Bytes that break the format, once found: the messages before them still count, this comes after.
        self._broken: WireError | None = None

    def feed(self, chunk: bytes) -> None:
        """Add bytes read from the channel; complete messages become available to ``pop``."""
        if self._broken is not None:
            return
        self._data += chunk
        try:
            self._split()
        except WireError as exc:
            self._broken = exc
            self._data.clear()

    def _split(self) -> None:
        # The complete messages are cut out at a moving offset and dropped from the buffer once at the end:
        # dropping each in turn would move the rest of a large read once per message.
        data, start = self._data, 0
        try:
            while len(data) - start >= 4:
                (header_len,) = struct.unpack_from(">I", data, start)
                if header_len > self._max_header:
                    raise WireError("header too large")
                body = start + 4 + header_len
                if len(data) < body:
                    return
                meta = _meta(bytes(data[start + 4 : body]))
                end = body + sum(meta["buffers"])
                if end - body > MAX_MESSAGE_BYTES:
                    raise WireError("message too large")
                if len(data) < end:
                    return
                with memoryview(data) as view:  # one copy of the payload, not a slice and then its bytes
                    self._ready.append((meta, bytes(view[body:end])))
                start = end
        finally:
            del data[:start]

    @property
    def done(self) -> bool:
        """Whether ``pop`` has something to give: a complete message, or the error that follows the last one."""
        return bool(self._ready) or self._broken is not None

    def pop(self) -> dict:
        """The oldest complete message, decoded; WireError when the bytes after the last message break the
        format (IndexError when there is nothing yet)."""
        if not self._ready and self._broken is not None:
            raise self._broken
        meta, payload = self._ready.popleft()
        try:
            return _decode_body(meta, payload)
        except WireError:
            raise
        except Exception as exc:  # noqa: BLE001 -- whatever the bytes: the sender broke the format
            raise WireError(f"undecodable message ({type(exc).__name__})") from None

    def read_from(self, fd: int) -> dict:
        """The next message, reading a blocking file descriptor as needed (the child's side)."""
        while not self.done:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise EOFError("channel closed")
            self.feed(chunk)
        return self.pop()


def write_message(fd: int, message: dict, max_header: int = MAX_MESSAGE_BYTES) -> None:
    """Encode a message (``encode``) and write all of it to a file descriptor."""
    view = memoryview(encode(message, max_header))
    while view:
        view = view[os.write(fd, view) :]
