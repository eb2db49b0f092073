"""Dependency pins: exact versions, one place, readable by both pip and setuptools."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

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


def test_processes_the_tests_start_read_notebooks_without_rfc3987_syntax(tmp_path):
    """tests/conftest.py hides rfc3987-syntax (tests/import_stubs): in a process the tests start, nbformat and
    jsonschema still validate notebooks, without the package that costs every Jupyter tool 1.2 s to import."""
    good = ROOT / "integrations" / "nbgrader" / "source" / "hw_rnn" / "hw_rnn.ipynb"
    broken = json.loads(good.read_text())
    del broken["cells"][0]["source"]
    (tmp_path / "broken.ipynb").write_text(json.dumps(broken))
    program = ("import sys, jsonschema, nbformat\n"
               "for path in sys.argv[1:]:\n"
               "    try:\n"
               "        nbformat.validate(nbformat.read(path, as_version=4))\n"
               "        print('valid')\n"
               "    except nbformat.ValidationError:\n"
               "        print('invalid')\n"
               "print('rfc3987_syntax' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", program, str(good), str(tmp_path / "broken.ipynb")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["valid", "invalid", "False"]
    assert str(ROOT / "tests" / "import_stubs") in os.environ["PYTHONPATH"].split(os.pathsep)
