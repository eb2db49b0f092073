"""What otter's and nbgrader's releases of an assignment must hold, and must not: shared by the parity tests of
every assignment (tests/test_tool_parity.py, tests/test_seq2seq_parity.py)."""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

from autograder.integrations.notebooks import checks_names, notebook_name
from autograder.release.bundle import refuse_leaks
from autograder.submissions.extract import cell_source


def called_tests(sources: list[str]) -> set[str]:
    """The tests that otter test files run: the full names in their run_test(...) calls."""
    called = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_test":
                called.add(f"{node.args[0].value}: {node.args[1].value}")
    return called


def no_leaks(folder: Path, config) -> None:
    """The release's own scan: no solution line or marker, hidden test name or hidden case in any file."""
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    assert files
    handout = (config.path.parent / "README.md").read_text() + (config.path.parent / "notebook.md").read_text()
    refuse_leaks(config, files, handout)


def check_otter_student_folder(student: Path, config) -> None:
    """No full checks folder, no leak, and its test files call exactly the public tests."""
    assert not (student / checks_names(config)[1]).exists()
    no_leaks(student, config)
    called = called_tests([p.read_text() for p in (student / "tests").rglob("*.py")])
    assert called == {t.full_name for t in config.tests if not t.hidden}


def check_otter_zip(autograder_zip: Path, config) -> None:
    """Gradescope's zip from `otter assign` holds every test and the full recorded values."""
    with zipfile.ZipFile(autograder_zip) as z:
        names = z.namelist()
        called = called_tests([z.read(n).decode() for n in names if n.startswith("tests/")])
    assert f"files/{checks_names(config)[1]}/expected.json" in names
    assert called == {t.full_name for t in config.tests}


def check_nbgrader_release(release: Path, config) -> None:
    """nbgrader's release: no full checks folder, no leak, and its notebook calls exactly the public tests."""
    assert not (release / checks_names(config)[1]).exists()
    no_leaks(release, config)
    notebook = json.loads((release / notebook_name(config)).read_text())
    code = "\n".join(cell_source(c) for c in notebook["cells"] if c["cell_type"] == "code")
    for test in config.tests:
        called = f"run_test({json.dumps(test.function)}, {json.dumps(test.name)}" in code
        assert called == (not test.hidden), test.full_name
