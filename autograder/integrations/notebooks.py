"""The homework notebook for otter-grader and nbgrader, generated from one source.

Inputs: the outline ``assignments/<assignment>/notebook.md`` (the prose, the plots
and where each function goes), the reference solutions (each function's code
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) and ``assignment.yaml``
(one test cell per test, calling ``checks_api.run_test``).  Outputs:

- ``integrations/otter/<assignment>.ipynb``: otter-grader's master notebook (one
  question per function, one exception-based test case per config test);
- ``integrations/nbgrader/source/<assignment>/<assignment>.ipynb``: nbgrader's source
  notebook (one autograded test cell per config test, hidden ones inside
  ``### BEGIN HIDDEN TESTS``).

The outline is markdown, split into cells at ``<!-- cell -->``.  These lines
insert generated cells: ``<!-- setup -->`` (the imports), ``<!-- module: NAME -->``
(the first cell of NAME.py, its imports) and ``<!-- function: NAME -->`` (the
function's cell, then its test cells).  A fenced ```` ```python ```` block
becomes a code cell as it is; text between ``<!-- only: otter -->`` (or
nbgrader) and ``<!-- only: end -->`` goes into that tool's notebook only.

Both keep student code in cells whose first line is ``# file: NAME.py``
(NAME.py one of the submission files), which is what ``extract.py`` grades natively.
``stage_*`` lay out what each tool needs next to the notebook: the modules the
checks need (``checks_api.py`` and what it imports, never the reference) and
the checks folders (the tests as JSON and the reference's recorded outputs,
as in the student bundle: ``release.record``).

    python -m autograder.integrations.notebooks [--assignment NAME | --config PATH] write|check
    python -m autograder.integrations.notebooks [...] stage-otter DIR | stage-nbgrader DIR
    python -m autograder.integrations.notebooks [...] fill NOTEBOOK FOLDER OUT

<assignment> is the config's ``assignment``: it names the notebook (``<assignment>.ipynb``),
the checks folders (``<assignment>_checks``, ``<assignment>_checks_full``) and otter's assignment.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.config import Config, TestSpec
from autograder.release import templates
from autograder.submissions.extract import cell_file, cell_source

ROOT = Path(__file__).resolve().parents[2]
OTTER_DIR = ROOT / "integrations" / "otter"
NBGRADER_DIR = ROOT / "integrations" / "nbgrader"
TOOLS = ("otter", "nbgrader")
SETUP = """import matplotlib.pyplot as plt
import numpy as np

from autograder.checks_api import link_files

# Lets `from {module} import ...` in a later file's cells find the functions defined in this notebook.
link_files(globals())"""


def notebook_name(config: Config) -> str:
    """The notebook's file name: ``<assignment>.ipynb``."""
    return f"{config.assignment}.ipynb"


def checks_names(config: Config) -> tuple[str, str]:
    """The checks folders' names: the public tests' and every test's (``checks_api.checks_folder`` finds them)."""
    from autograder.checks_api import FULL_SUFFIX, PUBLIC_SUFFIX

    return config.assignment + PUBLIC_SUFFIX, config.assignment + FULL_SUFFIX


def otter_master(config: Config) -> Path:
    """Where the otter-grader master notebook is kept."""
    return OTTER_DIR / notebook_name(config)


def nbgrader_source(config: Config) -> Path:
    """Where the nbgrader source notebook is kept (source/<assignment>/ of the course folder)."""
    return NBGRADER_DIR / "source" / config.assignment / notebook_name(config)
DIRECTIVE = re.compile(r"<!--\s*(cell|setup|only|module|function)\s*(?::\s*(\S+))?\s*-->")


class OutlineError(Exception):
    """The outline does not match the solutions or the config."""


# -- the solutions, split into cells ---------------------------------------------
@dataclass
class Module:
    file: str
    prelude: str  # the module's imports
    functions: dict[str, str]  # name -> source, solution markers included


def split_module(file: str, text: str) -> Module:
    """A module's top-level imports and each function's source."""
    tree = ast.parse(text)
    lines = text.splitlines()
    prelude, functions = [], {}
    previous_end = 0
    for node in tree.body:
        end = node.end_lineno
        # Indented comments after the last statement (### END SOLUTION) belong to the function.
        while end < len(lines) and (not lines[end].strip() or lines[end][0].isspace()):
            end += 1
        source = "\n".join(lines[node.lineno - 1 : end]).rstrip()
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = source
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # not the docstring
            if prelude and node.lineno - 1 > previous_end:  # keep the blank line between groups
                prelude.append("")
            prelude.append(source)
            previous_end = node.end_lineno
    return Module(file, "\n".join(prelude), functions)


def _otter_solution(source: str, function: str) -> str:
    """Otter's markers: the solution disappears and the prompt becomes the native template's stub."""
    out = []
    for line in source.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        if line.strip() == templates.BEGIN:
            out.append(f"{indent}# BEGIN SOLUTION NO PROMPT")
        elif line.strip() == templates.END:
            out += [f"{indent}# END SOLUTION", f'{indent}""" # BEGIN PROMPT',
                    *templates.stub(function, indent), f'{indent}""" # END PROMPT']
        else:
            out.append(line)
    return "\n".join(out)


# -- cells ---------------------------------------------------------------------
def _cell(kind: str, source: str, cell_id: str, metadata: dict | None = None) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": metadata or {}, "source": source.strip("\n")}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _nbgrader_meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
                   points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def grade_id(test: TestSpec, index: int) -> str:
    """nbgrader's id of a test cell: the function, then the test's place among the function's tests."""
    return f"{test.function}-t{index}"


# otter reports a question with no public test case as passed: a quiz function (hidden tests only) gets one of no
# points that fails while its answers cannot be marked (checks_api.assert_answers_can_be_marked).
OTTER_MARKABLE = ('""" # BEGIN TEST CONFIG\npoints: 0\nhidden: false\n""" # END TEST CONFIG\n'
                  "def test_{function}_can_be_marked(env):\n"
                  "    from autograder.checks_api import assert_answers_can_be_marked\n\n"
                  "    assert_answers_can_be_marked(env)")


def _test_cells(tool: str, function: str, tests: list[TestSpec]) -> list[dict]:
    cells = []
    if tool == "otter" and all(t.hidden for t in tests) and any(t.kind == "quiz" for t in tests):
        cells.append(_cell("code", OTTER_MARKABLE.format(function=function), f"{function}-markable"))
    for k, test in enumerate(tests, 1):
        call = f"run_test({json.dumps(test.function)}, {json.dumps(test.name)}, {{env}})"
        points = f"{test.points:g} point{'s' if test.points != 1 else ''}"
        if tool == "otter":
            source = (f'""" # BEGIN TEST CONFIG\npoints: {test.points:g}\nhidden: {str(test.hidden).lower()}\n'
                      f'""" # END TEST CONFIG\ndef test_{function}_{k}(env):\n'
                      f"    from autograder.checks_api import run_test\n\n    {call.format(env='env')}")
            cells.append(_cell("code", source, f"{function}-test{k}"))
            continue
        body = f"from autograder.checks_api import run_test\n\n{call.format(env='globals()')}"
        if test.hidden:
            # The name stays out too: hidden tests' names are not shown before grades are published.
            source = (f"# Hidden test ({points})\n# (it runs when your notebook is graded)\n"
                      f"### BEGIN HIDDEN TESTS\n{body}\n### END HIDDEN TESTS")
        else:
            source = f"# Test ({points}): {test.name}\n{body}"
        meta = _nbgrader_meta(grade_id(test, k), grade=True, locked=True, points=test.points)
        cells.append(_cell("code", source, grade_id(test, k), meta))
    return cells


# After a quiz function: no public test grades it, so this cell says whether its answers can be marked at all.
ANSWERS_CHECK = """# Can your answers be marked? (whether they are right is checked when the notebook is graded)
from autograder.checks_api import check_answers

check_answers(globals())"""


def _function_cells(tool: str, module: Module, function: str, tests: list[TestSpec]) -> list[dict]:
    source = module.functions[function]
    code = f"# file: {module.file}\n" + (_otter_solution(source, function) if tool == "otter" else source)
    after = [_cell("code", ANSWERS_CHECK, f"{function}-answers")] if any(t.kind == "quiz" for t in tests) else []
    if tool == "nbgrader":
        solution = _cell("code", code, function, _nbgrader_meta(function, solution=True))
        return [solution, *_test_cells(tool, function, tests), *after]
    raw = [("question", f"# BEGIN QUESTION\nname: {function}"), ("solution", "# BEGIN SOLUTION")]
    cells = [_cell("raw", text, f"{function}-{what}") for what, text in raw]
    cells += [_cell("code", code, f"{function}-code"), _cell("raw", "# END SOLUTION", f"{function}-end-solution"),
              _cell("raw", "# BEGIN TESTS", f"{function}-tests")]
    cells += _test_cells(tool, function, tests)
    cells += [_cell("raw", "# END TESTS", f"{function}-end-tests"),
              _cell("raw", "# END QUESTION", f"{function}-end-question")]
    return cells + after


OTTER_CONFIG = """# ASSIGNMENT CONFIG
name: {name}
requirements: requirements.txt
python_version: "3.11"
files:
  - autograder
  - {public}
autograder_files:
  - {full}
tests:
  files: true
  ok_format: false
export_cell:
  pdf: false
  instructions: "Upload the zip file that this cell writes."
generate:
  pdf: false
  show_hidden: true
"""


def build(tool: str, config: Config, outline: str | None = None) -> dict:
    """The notebook for one tool (``otter`` master or ``nbgrader`` source) as nbformat JSON."""
    if outline is None:
        outline = (config.path.parent / "notebook.md").read_text()
    modules = {f: split_module(f, (config.reference / f).read_text()) for f in config.files}
    where = {name: m for m in modules.values() for name in m.functions}
    cells: list[dict] = []
    if tool == "otter":
        public, full = checks_names(config)
        cells.append(_cell("raw", OTTER_CONFIG.format(name=config.assignment, public=public, full=full),
                           "assignment-config"))
    text: list[str] = []
    only = None
    placed: list[str] = []

    def flush() -> None:
        body = "\n".join(text).strip("\n")
        text.clear()
        if body.strip():
            cells.append(_cell("markdown", body, f"text-{len(cells):02d}"))

    lines = iter(re.sub(r"\A\s*<!--.*?-->\s*", "", outline, flags=re.S).splitlines())
    for line in lines:
        match = DIRECTIVE.fullmatch(line.strip())
        if match and match.group(1) == "only":
            only = None if match.group(2) == "end" else match.group(2)
            if only not in (None, *TOOLS):
                raise OutlineError(f"unknown tool in {line.strip()!r}")
            continue
        if only not in (None, tool):
            continue
        if line.strip() == "```python":
            flush()
            code = []
            for code_line in lines:
                if code_line.strip() == "```":
                    break
                code.append(code_line)
            cells.append(_cell("code", "\n".join(code), f"code-{len(cells):02d}"))
        elif not match:
            text.append(line)
        elif match.group(1) == "cell":
            flush()
        elif match.group(1) == "setup":
            flush()
            cells.append(_cell("code", SETUP.format(module=config.files[0].removesuffix(".py")), "setup"))
        elif match.group(1) == "module":
            flush()
            file = f"{match.group(2)}.py"
            if file not in modules:
                raise OutlineError(f"{line.strip()}: {file} is not among the submission files {config.files}")
            if modules[file].prelude:  # quiz.py imports nothing: no cell
                cells.append(_cell("code", f"# file: {file}\n{modules[file].prelude}", f"{match.group(2)}-imports"))
        else:
            flush()
            function = match.group(2)
            if function not in where or function not in config.functions:
                raise OutlineError(f"{line.strip()}: {function} is not a graded function of the solutions")
            tests = [t for t in config.tests if t.function == function]
            cells += _function_cells(tool, where[function], function, tests)
            placed.append(function)
    flush()
    missing = [f for f in config.functions if f not in placed]
    if missing or len(placed) != len(set(placed)):
        raise OutlineError(f"the outline must place every graded function once; missing {missing}, placed {placed}")
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            # file_extension: `jupyter nbconvert --to script` names the export .py (else .txt).
            "language_info": {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def dumps(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def targets(config: Config) -> dict[Path, str]:
    """Each generated notebook's path and text."""
    return {otter_master(config): dumps(build("otter", config)),
            nbgrader_source(config): dumps(build("nbgrader", config))}


def stale(config: Config) -> list[Path]:
    """The committed notebooks that differ from what the generator makes now."""
    return [p for p, text in targets(config).items() if not p.exists() or p.read_text() != text]


def write(config: Config) -> list[Path]:
    changed = stale(config)
    for path, text in targets(config).items():
        if path in changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return changed


# -- what each tool needs next to the notebook ---------------------------------------
def _copy_package(dest: Path, config: Config) -> None:
    """The modules the test cells import (checks_api.py and its imports), as the student bundle copies them."""
    from autograder.release.bundle import PACKAGE, assignment_sources, module_closure

    package = dest / "autograder"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""The checks a notebook\'s test cells run (see checks_api.py)."""\n')
    for name in module_closure("checks_api", also=assignment_sources(config)):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / name, package / name)


def write_checks(dest: Path, config: Config, public_only: bool) -> Path:
    """A checks folder: the tests (public ones, or all) as JSON and the reference's outputs on their cases.

    The outputs are recorded by grading the reference itself (``release.record``),
    which refuses to record a reference that fails a test.
    """
    from autograder.config import CONFIG_FILE, RECORD_FILE
    from autograder.release.bundle import assignment_modules, config_mapping, record

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / CONFIG_FILE).write_text(json.dumps(config_mapping(config, public_only), indent=1) + "\n")
    (dest / RECORD_FILE).write_text(json.dumps(record(config, public_only), allow_nan=False) + "\n")
    for name, content in assignment_modules(config).items():  # they build the tests' inputs
        (dest / name).write_bytes(content)
    return dest


def runtime_requirements() -> str:
    """What a grading kernel needs: the grader's run-time pins and matplotlib for the plots."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    plots = [ln for ln in (ROOT / "requirements-batch.txt").read_text().splitlines() if ln.startswith("matplotlib")]
    return "\n".join(lines + plots) + "\n"


def stage_otter(dest: Path, config: Config) -> Path:
    """A folder for `otter assign`: the master notebook, this package, both checks folders, requirements."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / notebook_name(config)).write_text(dumps(build("otter", config)))
    _copy_package(dest, config)
    public, full = checks_names(config)
    write_checks(dest / public, config, public_only=True)
    write_checks(dest / full, config, public_only=False)
    (dest / "requirements.txt").write_text(runtime_requirements())
    return dest / notebook_name(config)


def stage_nbgrader(dest: Path, config: Config) -> Path:
    """An nbgrader course folder: its config and exporter, source/<assignment> (notebook, package, public checks),
    grading/ (every test)."""
    dest = Path(dest)
    source = dest / "source" / config.assignment
    source.mkdir(parents=True, exist_ok=True)
    for path in sorted(NBGRADER_DIR.glob("*.py")):  # nbgrader_config.py and the per-function export plugin
        shutil.copyfile(path, dest / path.name)
    (source / notebook_name(config)).write_text(dumps(build("nbgrader", config)))
    _copy_package(source, config)
    public, full = checks_names(config)
    write_checks(source / public, config, public_only=True)
    # Outside source/: generate_assignment releases everything in source/<assignment> to students.
    write_checks(dest / "grading" / full, config, public_only=False)
    return dest


# -- filling a notebook with code (for tests, benchmarks and instructors) -----------------
def fill(notebook: Path, folder: Path, files: tuple[str, ...]) -> dict:
    """The notebook with its marked cells holding the code of ``folder``'s files, function by function.

    A marked cell that defines functions gets those functions' code from the
    file; one that defines none (the imports) gets the file's other top-level
    code.  Metadata, ids and every other cell stay as they are.
    """
    notebook = json.loads(Path(notebook).read_text())
    modules = {f: split_module(f, (Path(folder) / f).read_text()) for f in files}
    for cell in notebook["cells"]:
        file = cell_file(cell)
        if file not in modules:
            continue
        module = modules[file]
        defined = [n.name for n in ast.parse(cell_source(cell)).body if isinstance(n, ast.FunctionDef)]
        body = "\n\n\n".join(module.functions[name] for name in defined) if defined else module.prelude
        cell["source"] = f"# file: {file}\n{body}"
        cell["outputs"], cell["execution_count"] = [], None
    return notebook


def run_as_cells(folder: Path, files: tuple[str, ...]) -> dict:
    """The files' code run one after the other in one namespace, as the notebook's cells are after its setup cell.

    Needs a checks folder (see checks_api.checks_folder) for ``link_files``.
    """
    from autograder.checks_api import link_files

    namespace: dict = {"__name__": "__main__"}
    link_files(namespace)
    for name in files:
        path = Path(folder) / name
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def main(argv: list[str] | None = None) -> int:
    from autograder.config import command_config

    parser = argparse.ArgumentParser(prog="python -m autograder.integrations.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", help="assignments/NAME/assignment.yaml (default: the default assignment)")
    parser.add_argument("--config", help="an assignment.yaml by path, instead of --assignment")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("write", help="regenerate the otter master and nbgrader source notebooks")
    sub.add_parser("check", help="fail when the committed notebooks are stale")
    for name in ("stage-otter", "stage-nbgrader"):
        sub.add_parser(name, help=f"lay out a folder for {name[6:]}").add_argument("dest")
    p = sub.add_parser("fill", help="put the code of a folder's .py files into a notebook's marked cells")
    p.add_argument("notebook")
    p.add_argument("folder")
    p.add_argument("out")
    args = parser.parse_args(argv)
    from autograder.config import ConfigError

    try:
        config = command_config(args.config, assignment=args.assignment)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "write":
        changed = write(config)
        names = ", ".join(str(p.relative_to(ROOT)) for p in changed)
        print(f"wrote {names}" if changed else "notebooks are up to date")
    elif args.command == "check":
        changed = stale(config)
        if changed:
            names = ", ".join(str(p.relative_to(ROOT)) for p in changed)
            print(f"notebooks out of date: {names} (run `make notebooks`)", file=sys.stderr)
            return 1
        print("notebooks are up to date")
    elif args.command == "stage-otter":
        print(stage_otter(Path(args.dest), config))
    elif args.command == "stage-nbgrader":
        print(stage_nbgrader(Path(args.dest), config))
    else:
        Path(args.out).write_text(dumps(fill(Path(args.notebook), Path(args.folder), config.files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
