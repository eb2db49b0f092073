"""Text safe for any JSON store and terminal, whatever student code printed (standard library only).

Platforms store results in databases that refuse some text (PostgreSQL rejects
``\\u0000`` and lone surrogates), and terminals obey escape sequences: control
characters other than newline and tab become visible escapes (``\\x00``), bytes
that were not UTF-8 become ``\\xNN``.  The student bundle's table uses it too.
"""

from __future__ import annotations

import os
import re
from typing import Any

# C0 and C1 control characters and DEL, except newline and tab; then any surrogate (never valid in UTF-8).
# Control characters, the bidirectional controls that reorder what a reader sees (a right-to-left override makes
# printed text read other than it is: CVE-2021-42574, "Trojan Source"), and what is invisible or hides text: every
# format character (Unicode category Cf: soft hyphen, zero-width space, word joiner, interlinear annotations, a
# byte-order mark, tag characters), line and paragraph separators, variation selectors and the blank "letters"
# (Hangul fillers, the braille blank).  The zero-width (non-)joiners stay: names in several scripts need them.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u180b-\u180f\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef]")
_SURROGATES = re.compile(r"[\ud800-\udfff]+")
_ESCAPED_BYTES = re.compile(r"[\udc80-\udcff]+")


def _bytes_back(match: re.Match) -> str:
    """A run of surrogate-escaped bytes (os.fsdecode, errors="surrogateescape"): UTF-8 when it is, else \\xNN."""
    raw = bytes(ord(c) - 0xDC00 for c in match.group())
    return raw.decode("utf-8", errors="backslashreplace")


def clean_text(text: str) -> str:
    """``text`` made safe for any JSON store and terminal: valid UTF-8, no control characters but \\n and \\t.

    Undecodable bytes (lone surrogates from ``surrogateescape``) are decoded as UTF-8 when they are
    UTF-8 (a file name read under the C locale) and otherwise shown as ``\\xNN``; any other lone
    surrogate becomes U+FFFD.  Control characters become ``\\xNN`` text, visibly, and bidirectional controls
    ``\\uNNNN``.
    """
    if text.isascii() and text.isprintable():  # most strings (keys, names, messages): nothing to do
        return text
    if not text.isascii() and _SURROGATES.search(text):
        text = _ESCAPED_BYTES.sub(_bytes_back, text)
        text = _SURROGATES.sub(lambda m: "\ufffd" * len(m.group()), text)
    if _CONTROL.search(text):
        text = _CONTROL.sub(_escaped, text)
    return text


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def clean(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every string, keys included, cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def disk_name(name: str) -> str:
    """``name`` as a path of this OS: its UTF-8 bytes, whatever the locale's file system encoding.

    Names arrive as text (a zip member, a receipt's "Original filename", an LMS's name) or as
    ``os.listdir``'s surrogate-escaped str; either is written to disk as the bytes it stands for, so that
    ``notes_\u00e9.py`` can be created under ``LC_ALL=C`` (ASCII file names) as ``notes_\xc3\xa9.py``.
    """
    return os.fsdecode(name.encode("utf-8", "surrogateescape"))


def name_bytes(name: str) -> bytes:
    """The bytes a file name stands for (text as UTF-8, surrogate-escaped bytes as themselves), for hashing."""
    return name.encode("utf-8", "surrogateescape")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ;,") + "…"


def counted(n: int, noun: str, plural: str = "") -> str:
    """"1 submission", "3 submissions" (``plural`` for nouns that do not take an s)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def listed(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# A spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...) can send the sheet's
# data away): CSV files the staff open get such text with a ' first, which spreadsheets show as text (OWASP, "CSV
# Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and full-width


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text starting as a formula (after any spaces) gets a leading ';
    anything else as it is."""
    return "'" + value if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START) else value
