"""Dependency pins: exact versions, one place, readable by both pip and setuptools."""

from __future__ import annotations

import re

from conftest import ROOT


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def test_runtime_requirements_are_exact_pins_without_includes():
    # pyproject.toml reads this file as the package's dependencies; setuptools rejects pip options there.
    assert 'dependencies = { file = ["requirements.txt"] }' in (ROOT / "pyproject.toml").read_text()
    for line in _requirements("requirements.txt"):
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9.]*(; python_version [<>=]+ \"3\.\d+\")?", line), line


def test_numpy_pins_cover_python_3_10_and_later():
    numpy = [ln for ln in _requirements("requirements.txt") if ln.startswith("numpy")]
    assert any('python_version < "3.11"' in ln for ln in numpy)
    assert any('python_version >= "3.11"' in ln for ln in numpy)


def test_dev_and_batch_requirements_are_exact_pins():
    for name in ("requirements-dev.txt", "requirements-batch.txt"):
        for line in _requirements(name):
            assert line.startswith("-r ") or "==" in line, line
