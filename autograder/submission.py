"""Finds the expected files in a submission folder (standard library only)."""

from __future__ import annotations

import difflib
from pathlib import Path


def find_files(submission: Path, expected: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The expected files present, and notes on missing ones (with a likely misnamed match)."""
    present = sorted(p.name for p in submission.iterdir() if p.is_file()) if submission.is_dir() else []
    found, notes = [], []
    for name in expected:
        if name in present:
            found.append(name)
            continue
        others = [p for p in present if p.endswith(".py") and p not in expected]
        close = difflib.get_close_matches(name.lower(), [p.lower() for p in others], n=1, cutoff=0.6)
        if close:
            actual = next(p for p in others if p.lower() == close[0])
            notes.append(f"{name} is missing; found {actual!r} instead: rename it to {name!r}")
        else:
            notes.append(f"{name} is missing from the submission")
    return found, notes
