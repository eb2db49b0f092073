"""The grader/child channel carries plain data only and rejects anything else."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from autograder.sandbox import wire


def roundtrip(message: dict) -> dict:
    data = wire.encode(message)
    (n,) = struct.unpack(">I", data[:4])
    return wire.decode(data[4:4 + n], data[4 + n:])


def test_roundtrip_plain_values():
    arr = np.arange(12.0).reshape(3, 4)
    msg = {"a": arr, "t": (1, 2.5, None, True, "x"), "d": {"k": np.array([1, 2], dtype=np.int64)},
           "h": wire.Handle(7), "nan": float("nan"), "b": np.array([True, False])}
    out = roundtrip(msg)
    assert np.array_equal(out["a"], arr) and out["a"].dtype == np.float64
    assert out["t"] == (1, 2.5, None, True, "x")
    assert out["d"]["k"].dtype == np.int64
    assert isinstance(out["h"], wire.Handle) and out["h"].id == 7
    assert np.isnan(out["nan"])
    assert out["b"].dtype == bool


@pytest.mark.parametrize("value", [
    np.arange(6.0).reshape(2, 3).astype(">f8"), np.arange(6).astype(">i4"), np.arange(12.0).reshape(3, 4).T,
    np.arange(12.0).reshape(3, 4)[:, ::2], np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.float64(2.5),
    np.float32(1.5), np.array(3.0), np.zeros((0, 4)),
], ids=["big-endian float", "big-endian int", "transposed", "strided", "fortran", "numpy float64",
        "numpy float32", "0-d", "empty"])
def test_any_layout_or_byte_order_arrives_as_the_same_numbers(value):
    out = roundtrip({"v": value})["v"]
    assert np.array_equal(out, value) and out.shape == np.shape(value)
    assert out.dtype == np.asarray(value).dtype.newbyteorder("=") and out.dtype.isnative


def test_non_plain_values_become_opaque():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    out = roundtrip({"obj": object(), "sub": np.arange(3.0).view(Liar), "objarr": np.array([object()])})
    assert isinstance(out["obj"], wire.Opaque)
    assert type(out["sub"]) is np.ndarray  # subclasses arrive as plain arrays
    assert isinstance(out["objarr"], wire.Opaque)


def _raw(body: dict, buffers: list[bytes]) -> tuple[bytes, bytes]:
    return json.dumps({"body": body, "buffers": [len(b) for b in buffers]}).encode(), b"".join(buffers)


@pytest.mark.parametrize("body,buffers,error", [
    ({"x": {"t": "array", "dtype": "object", "shape": [1], "buf": 0}}, [b"\0" * 8], "not allowed"),
    ({"x": {"t": "array", "dtype": "float64", "shape": [2], "buf": 0}}, [b"\0" * 8], "does not match"),
    ({"x": {"t": "array", "dtype": "float64", "shape": [1], "buf": 3}}, [b"\0" * 8], "buffer index"),
    ({"x": {"t": "pickle", "v": "cos\nsystem\n"}}, [], "unknown node"),
    ({"x": {"t": "array", "dtype": "float64", "shape": [-1], "buf": 0}}, [b""], "bad shape"),
    ({"x": {"t": "float", "v": "not a number at all"}}, [], "bad float"),
])
def test_malformed_messages_are_rejected(body, buffers, error):
    header, payload = _raw(body, buffers)
    with pytest.raises(wire.WireError, match=error):
        wire.decode(header, payload)


def _framed(header: dict) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack(">I", len(text)) + text


@pytest.mark.parametrize("garbage, error", [
    (struct.pack(">I", wire.MAX_MESSAGE_BYTES + 1), "header too large"),
    (_framed({"body": {}, "buffers": [wire.MAX_MESSAGE_BYTES + 1]}), "too large"),
    (struct.pack(">I", 29) + json.dumps({"body": {}, "buffers": [-5]}).encode(), "buffer sizes"),
    (b"\xff\xff\xff\x7f{not json" * 100, "header too large"),
    (struct.pack(">I", 9) + b"{not json", "not JSON"),
])
def test_stream_rejects_malformed_bytes_after_the_messages_before_them(garbage, error):
    """Student code can write to the reply channel: the replies sent before its garbage still count, and the
    request during which it wrote gets the error (the same whether the bytes come in one read or many)."""
    good = wire.encode({"ok": True, "n": 1}) + wire.encode({"ok": True, "n": 2})
    for chunk in (len(good + garbage), 5):
        stream = wire.MessageStream()
        for start in range(0, len(good + garbage), chunk):
            stream.feed((good + garbage)[start : start + chunk])
        assert stream.pop()["n"] == 1 and stream.pop()["n"] == 2
        assert stream.done
        with pytest.raises(wire.WireError, match=error):
            stream.pop()


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_stream_splits_messages_however_the_bytes_arrive(chunk):
    """Requests are pipelined: several messages may come in one read, or one across many reads."""
    messages = [{"ok": True, "value": np.arange(k, dtype=np.float64), "n": k} for k in range(5)]
    data = b"".join(wire.encode(m) for m in messages) + wire.encode({"ok": False})[:9]  # and a partial one
    stream, got = wire.MessageStream(), []
    for start in range(0, len(data), chunk):
        stream.feed(data[start : start + chunk])
        while stream.done:
            got.append(stream.pop())
    assert [m["n"] for m in got] == list(range(5))
    assert all(np.array_equal(m["value"], np.arange(m["n"])) for m in got)
    assert not stream.done


def test_a_reply_too_large_for_the_reader_is_refused_where_it_is_made():
    """The grader's reader refuses a message over MAX_MESSAGE_BYTES; the child's encoder says so first, with the
    size, so the student's call fails with a reason (child.serve sends it as the reply's error)."""
    big = np.zeros(wire.MAX_MESSAGE_BYTES // 8 + 1)
    with pytest.raises(ValueError, match=r"take 64 MB; a reply holds at most 64 MB"):
        wire.encode({"ok": True, "value": big})
    assert len(wire.encode({"ok": True, "value": big[:-2]})) > wire.MAX_MESSAGE_BYTES - 16
