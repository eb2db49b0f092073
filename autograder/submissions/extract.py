"""Turns a filled notebook, or its export as a script, into modules that run its code as a kernel would.

Reading: notebooks through nbformat (the format's own library: it upgrades
nbformat 3 and older 4.x files and validates); a notebook exported as a script
(Colab's "Download .py", ``jupyter nbconvert --to script``) is split back into
cells at its ``# In[ ]:`` separators, its ``# file:`` lines and its markdown
strings.

Which cells run (``plan``), decided from the source alone, never by running it:

* the cells whose first line is ``# file: <name>.py`` (the notebook's
  convention), when they define every graded function and every global name
  their code uses that some other cell defines;
* otherwise every code cell, top to bottom, as a kernel runs the notebook, and
  the graded functions are taken by name wherever they are defined.

How they run: in the sandbox's child only, by ``notebook_kernel.run`` (a
failing statement does not stop the rest; magics and shell lines are dropped;
time-bounded).  The grader's process only parses.  A Markdown or Raw cell
whose first line is ``# file: ...`` (or that nbgrader's metadata marks as a
solution) runs as code, as nbgrader's autograde restores its type; other code in
such cells, several definitions of a function and out-of-order cells are named
in the notes, with the cell number and the fix.
"""

from __future__ import annotations

import ast
import atexit
import builtins
import json
import re
import symtable
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder.files import remove_tree
from autograder.submissions import notebook_kernel

# `# file: <name>.py`, in any letter case, the .py optional; a plain name: nothing can be written elsewhere.
MARKER = re.compile(r"#\s*file\s*:\s*([\w-]+?)(?:\.py)?\s*$", re.IGNORECASE)
_LINE_MAGIC = re.compile(r"^(\s*)(?:[\w.\[\], ]+=\s*)?([%!].*)$")  # %time f(), !pip ..., files = !ls
_HELP = re.compile(r"^(\s*)([\w.]+\?{1,2})\s*$")  # np.dot?  shows help in a kernel
_SCRIPT_CELL = re.compile(r"^# (?:In\[[\d ]*\]:|%%)")  # nbconvert --to script; VS Code's and Spyder's # %%
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}  # their body is Python
_BUILTINS = set(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "get_ipython", "display"}
KERNEL_SOURCE = Path(notebook_kernel.__file__)  # imported (not only read) so that the student bundle ships it
MAX_CELLS = 5000  # cells read from one notebook
MAX_NOTEBOOK_MB = 50  # outputs (plots) make notebooks large; code alone is far smaller
DEFAULT_BUDGET = 7.0  # seconds for all cells; below the config's import limit (10 s) of the module that runs them


class NotebookError(Exception):
    """The file is not a notebook this module can read."""


@dataclass(frozen=True)
class Cell:
    """One cell: its 1-based number in the notebook, type, Python source (None: not Python) and marked file."""

    number: int
    kind: str  # "code", "markdown" or "raw"
    source: str | None
    file: str | None = None
    magic: str = ""  # the cell magic of a code cell that is not Python (%%bash), when there is one
    was: str = ""  # "markdown" or "raw": a graded cell whose type was changed, run as code


@dataclass
class Extracted:
    """What ``prepare`` made of a notebook: notes for the student, the code that runs, for the fingerprints."""

    notes: list[str]
    sources: list[str] = field(default_factory=list)
    notebook: str = ""


_EXTRACTED: dict[Path, Extracted] = {}  # extracted folder -> what it was made from


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def marker_of(source: str) -> str | None:
    """The file named by a ``# file: X.py`` first non-blank line, or None."""
    for line in source.splitlines():
        if line.strip():
            match = MARKER.fullmatch(line.strip())
            return match.group(1) + ".py" if match else None
    return None


def cell_file(cell: dict) -> str | None:
    """The file a code cell (nbformat's dict) belongs to, from its first non-blank line, or None."""
    if cell.get("cell_type") != "code":
        return None
    return marker_of(cell_source(cell))


# -- reading -------------------------------------------------------------------------------------
def read_cells(path: Path) -> list[dict]:
    """The cells of a notebook file as nbformat 4 dicts (older versions upgraded by nbformat).

    Raises NotebookError when the file is not a notebook.  A notebook that
    nbformat cannot upgrade or validate but that holds a list of cells is read
    as it is (a hand-edited file still gets graded).
    """
    path = Path(path)
    if path.suffix.lower() == ".py":  # a notebook exported as a script
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise NotebookError(f"{path.name} could not be read: {exc.strerror}") from None
        return [{"cell_type": kind, "source": source} for kind, source in _script_cells(text)]
    try:
        text = path.read_text(encoding="utf-8-sig")  # some editors write a byte-order mark
        raw = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotebookError(f"{path.name} could not be read as a notebook: {exc}") from None
    if not isinstance(raw, dict):
        raise NotebookError(f"{path.name} is not a Jupyter notebook (no list of cells)")
    try:
        import nbformat  # only when a notebook is graded: it is slow to import

        with warnings.catch_warnings():  # its warnings on a hand-edited file are not the student's concern
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
        cells = [dict(c) for c in notebook.cells]
    except Exception:  # noqa: BLE001 -- nbformat raises many kinds; fall back to the cells as written
        cells = raw.get("cells")
        if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
            raise NotebookError(f"{path.name} is not a Jupyter notebook (no list of cells)") from None
    return cells


def exported_script(text: str) -> bool:
    """Whether a ``.py`` file's text is a notebook exported as a script: cell separators, ``# file:`` lines or
    Colab's header."""
    return ("Automatically generated by Colab" in text
            or any(_SCRIPT_CELL.match(line) or MARKER.fullmatch(line.strip()) for line in text.splitlines()))


def _script_cells(text: str) -> list[tuple[str, str]]:
    """(kind, source) of a script export: split at ``# In[ ]:``, else at ``# file:`` lines and markdown strings."""
    lines = text.splitlines()
    if any(_SCRIPT_CELL.match(line) for line in lines):
        starts = [i for i, line in enumerate(lines) if _SCRIPT_CELL.match(line)]
        chunks = [lines[:starts[0]]] + [lines[a + 1:b] for a, b in zip(starts, starts[1:] + [len(lines)])]
        return [("code", "\n".join(c).strip("\n")) for c in chunks if any(ln.strip() for ln in c)]
    cells: list[list[str]] = [[]]
    for line in lines:
        starts_cell = MARKER.fullmatch(line) or (line.startswith('"""') and not any(
            ln.strip() for ln in cells[-1][-1:]))  # Colab writes a markdown cell as a string after a blank line
        if starts_cell and any(ln.strip() for ln in cells[-1]):
            cells.append([])
        cells[-1].append(line)
    return [("code", "\n".join(c).strip("\n")) for c in cells if any(ln.strip() for ln in c)]


def read(path: Path) -> list[Cell]:
    """The cells of a notebook or of its script export, with magics removed from code cells.

    Raises NotebookError for a link (as root, it could point at the grader's own
    files), a file over ``MAX_NOTEBOOK_MB`` or one that is not a notebook.
    """
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise NotebookError(f"{path.name} is not a regular file (a link is never followed): submit the file itself")
    if path.stat().st_size > MAX_NOTEBOOK_MB << 20:
        raise NotebookError(f"{path.name} is larger than {MAX_NOTEBOOK_MB} MB: clear its outputs (in Jupyter: Kernel, "
                            "Restart Kernel and Clear All Outputs), save and submit it again")
    if path.suffix == ".py":
        try:
            raw = [(kind, source, False) for kind, source in _script_cells(path.read_text(encoding="utf-8",
                                                                                          errors="replace"))]
        except OSError as exc:
            raise NotebookError(f"{path.name} could not be read: {exc.strerror}") from None
    else:
        raw = [(str(c.get("cell_type", "")), cell_source(c), _nbgrader_solution(c)) for c in read_cells(path)]
    cells = []
    for number, (kind, source, solution) in enumerate(raw[:MAX_CELLS], 1):
        was = ""
        if kind in ("markdown", "raw") and (marker_of(source) or solution) and _parse(source) is not None:
            kind, was = "code", kind  # a graded cell retyped by a key press: nbgrader restores it too
        if kind != "code":
            cells.append(Cell(number, kind, source))
            continue
        python, magic = python_source(source)
        cells.append(Cell(number, "code", python, marker_of(source) if python is not None else None, magic, was))
    return cells


def _nbgrader_solution(cell: dict) -> bool:
    """Whether nbgrader's metadata marks the cell as a solution cell (whose type nbgrader's autograde restores)."""
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return isinstance(meta, dict) and meta.get("solution") is True


def python_source(source: str) -> tuple[str | None, str]:
    """A code cell's source as plain Python, and the cell magic when the cell is not Python (source None).

    Line magics, shell lines and help lines become ``pass  # <the line>``, at
    their indentation, so that blocks and line numbers stay as they were; only
    when the cell does not compile as it is (a docstring line may begin with %).
    """
    source = source.replace("\ufeff", "")  # a byte-order mark pasted into a cell is not code
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if first.startswith("%%"):
        name = first[2:].split()[0] if first[2:].split() else ""
        if name not in _PYTHON_CELL_MAGICS:
            return None, first.split()[0]
        source = source.replace(first, "", 1)
    try:
        ast.parse(source)
        return source, ""
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    out = []
    for line in source.splitlines():
        match = _LINE_MAGIC.match(line) or _HELP.match(line)
        out.append(f"{match.group(1)}pass  # {line.strip()}" if match else line)
    return "\n".join(out), ""


# -- what the code defines and uses (parsed, never run) --------------------------------------------
# Deeper than this, a syntax tree is read as not parsing: walking it (ast.unparse, NodeVisitor) recurses once per
# level, and code a person writes nests a few dozen levels at most (1,200 unary minus signs are one expression).
MAX_TREE_DEPTH = 200


def _parse(source: str | None) -> ast.Module | None:
    if source is None:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return None if _deeper_than(tree, MAX_TREE_DEPTH) else tree


def _deeper_than(tree: ast.AST, limit: int) -> bool:
    """Whether ``tree`` nests more than ``limit`` levels (walked with a stack of its own, never recursing)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


def bound_names(source: str | None, own_modules: frozenset[str] = frozenset()) -> set[str]:
    """Names a cell binds at its top level (def, class, import, assignment, for, with).

    Names imported from ``own_modules`` (the graded files, which in a notebook
    are the notebook itself) are not counted: they define nothing new.
    """
    tree = _parse(source)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module in own_modules:
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, (ast.FunctionDef, ast.ClassDef, ast.Lambda)):
                    break  # names inside a nested scope are not the cell's
    return names


_TOP_DEFINITION = re.compile(r"^(?:async[ \t]+def|def|class)[ \t]+([A-Za-z_]\w*)", re.MULTILINE)


def _defined_by_text(source: str | None) -> set[str]:
    """The names of a cell's top-level ``def`` and ``class`` lines, read as text: for a cell that does not parse
    (an indentation slip, a Python newer than the grader's), where ``bound_names`` sees nothing."""
    if source is None or _parse(source) is not None:
        return set()
    return set(_TOP_DEFINITION.findall(source))


def used_globals(source: str | None) -> set[str]:
    """Global names a cell's code reads (in its functions or at its top level) without binding them itself."""
    if _parse(source) is None:
        return set()
    try:
        table = symtable.symtable(source, "<cell>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    used: set[str] = set()
    stack = [table]
    while stack:
        scope = stack.pop()
        for symbol in scope.get_symbols():
            if not symbol.is_referenced():
                continue
            if scope.get_type() == "module":
                if not (symbol.is_assigned() or symbol.is_imported()):
                    used.add(symbol.get_name())
            elif symbol.is_global() and not symbol.is_declared_global():
                used.add(symbol.get_name())
        stack.extend(scope.get_children())
    return used


def stub_only(sources: list[str | None], functions: tuple[str, ...]) -> bool:
    """Whether the code defines graded functions and every one of them (its last definition) is a template stub."""
    last: dict[str, str | None] = {}
    for source in sources:
        tree = _parse(source)
        for node in tree.body if tree else []:
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                last[node.name] = source
    return bool(last) and all(_stub_definition(source, name) for name, source in last.items())


def _without_definition(source: str, name: str) -> str:
    """The cell's source with its top-level definitions of ``name`` blanked out (line numbers kept)."""
    lines = source.splitlines()
    for node in _parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            for k in range(first - 1, node.end_lineno):
                lines[k] = ""
    return "\n".join(lines)


def _stub_definition(source: str | None, name: str) -> bool:
    """Whether the cell's last definition of ``name`` is still a template stub (raises NotImplementedError)."""
    tree = _parse(source)
    nodes = [n for n in (tree.body if tree else []) if isinstance(n, ast.FunctionDef) and n.name == name]
    if not nodes:
        return False
    body = nodes[-1].body[1:] if ast.get_docstring(nodes[-1]) is not None else nodes[-1].body
    body = [s for s in body if not isinstance(s, ast.Pass)]
    return len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.unparse(body[0])


# -- which cells run ---------------------------------------------------------------------------------------
@dataclass
class Plan:
    run: list[Cell]
    notes: list[str]
    defined_in: dict[str, list[int]]  # name -> the cells (among those run) that bind it
    graded_cells: set[int]


def _numbers(cells) -> str:
    numbers = [str(c.number if isinstance(c, Cell) else c) for c in cells]
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]


# How the messages' cell numbers count (Jupyter shows none): said once, in the note on what was graded.
_COUNTED = " (a cell number counts every cell from 1 at the top, Markdown and Raw cells too)"


def plan(cells: list[Cell], functions: tuple[str, ...], notebook: str, files: tuple[str, ...] = ()) -> Plan:
    """The cells to run and the notes on them (see the module's docstring for the rule)."""
    code = [c for c in cells if c.kind == "code" and c.source is not None]
    marked = [c for c in code if c.file]
    own = frozenset(f[:-3] for f in files) | frozenset(c.file[:-3] for c in marked)
    # A cell that does not compile still says what it means to define: its failure is then the graded
    # function's (listed, with its line), not scratch work's.
    bound = {c.number: bound_names(c.source, own) or _defined_by_text(c.source) for c in code}
    marked_bound = set().union(*(bound[c.number] for c in marked))
    need = set(functions) | set().union(*(used_globals(c.source) for c in marked))
    # Run everything when other cells define what the marked ones need, or (re)define a graded function: run top
    # to bottom, a kernel grades the last definition (a stub left in a marked cell, a debugging copy below it).
    elsewhere = {name for c in code if not c.file for name in bound[c.number]} & (
        (need - marked_bound - _BUILTINS) | set(functions))
    notes = []
    if marked and not elsewhere:
        run = marked
        notes.append(f"graded the code cells of {notebook} marked `# file: ...` ({len(marked)} cells), run top to "
                     f"bottom as a kernel runs them; other cells were not run{_COUNTED}")
    else:
        run = code
        why = ("no cell is marked `# file: ...`" if not marked else
               f"{', '.join(sorted(elsewhere)[:6])} {'is' if len(elsewhere) == 1 else 'are'} defined outside the "
               "cells marked `# file: ...`")
        notes.append(f"graded the code cells of {notebook} as a kernel runs them: {why}, so all {len(code)} code cells "
                     f"ran top to bottom and the graded functions were taken by name{_COUNTED}")
    defined_in: dict[str, list[int]] = {}
    for c in run:
        for name in bound[c.number]:
            defined_in.setdefault(name, []).append(c.number)
    for c in run:
        if c.was:
            notes.append(f"cell {c.number} is a {c.was.capitalize()} cell holding graded code: it was graded as code "
                         "(nbgrader's autograde restores it too), but otter-grader and your own kernel do not run "
                         "it; make it a Code cell again (in Jupyter: select it, press Esc, then Y)")
    for c in cells:
        if c.kind == "code" and c.source is None:
            notes.append(f"cell {c.number} ({c.magic}) was not run: the grader runs Python cells only")
    by_number = {c.number: c for c in cells}
    for name in functions:
        where = defined_in.get(name, [])
        if len(where) > 1:
            stubs = [n for n in where if _stub_definition(by_number[n].source, name)]
            real = [n for n in where if n not in stubs]
            if where[-1] in stubs and real:
                # A template stub pasted below the work never replaces it: otter and nbgrader run each test
                # right after its function, before such a stub, and the student's own checks passed there.
                for n in (n for n in stubs if n > real[-1]):
                    by_number[n] = replace(by_number[n], source=_without_definition(by_number[n].source, name))
                notes.append(f"{name} is defined in cells {_numbers(where)}: the last one (cell {where[-1]}) is still "
                             f"the template's `raise NotImplementedError`, so the one in cell {real[-1]} was graded; "
                             "delete the stub")
            else:
                notes.append(f"{name} is defined in cells {_numbers(where)}: run top to bottom, the last one "
                             f"(cell {where[-1]}) is graded")
        elif not where:
            holders = [c for c in cells if c.kind != "code" and name in bound_names(c.source, own)]
            if holders:
                kind = "a Markdown" if holders[0].kind == "markdown" else f"a {holders[0].kind.capitalize()}"
                notes.append(f"cell {holders[0].number} is {kind} cell holding the code of {name}: a kernel does not "
                             "run it, so it was not graded; make it a Code cell again (in Jupyter: select it, press "
                             "Esc, then Y)")
            elif code:
                notes.append(f"no code cell of {notebook} defines {name}")
    graded = {n for name in functions for n in defined_in.get(name, [])} | {c.number for c in marked}
    return Plan([by_number[c.number] for c in run], notes, defined_in, graded)


def extract(notebook: Path, files: tuple[str, ...] | None) -> tuple[dict[str, str], list[str]]:
    """The text of each file made of the notebook's cells marked for it, in notebook order, and notes.

    ``files`` are the expected files (None: every file some cell is marked
    with).  This is the notebook as files, for instructors and tests; grading
    runs the cells as a kernel does (``prepare``).
    """
    names = tuple(files or ())
    parts: dict[str, list[Cell]] = {name: [] for name in names}
    for cell in read(notebook):
        if cell.file is not None:
            parts.setdefault(cell.file, []).append(cell)
    texts, notes = {}, []
    for name, found in parts.items():
        if not found:
            notes.append(f"{notebook.name} has no code cell marked `# file: {name}` (its first line)")
            continue
        header = f"# {name}: the cells of {notebook.name} marked `# file: {name}` (cells {_numbers(found)})\n\n"
        texts[name] = header + "\n\n".join(c.source for c in found) + "\n"
    if files is not None:
        for name in sorted(set(texts) - set(files)):
            notes.append(f"cells marked `# file: {name}` are not a graded file: only {', '.join(files)} are")
    return texts, notes


def shim(module: str, spec: dict) -> str:
    """The text of one graded module: the kernel runner and the cells, run on the first import of any of them."""
    return (f"# {module}.py: the code cells of {spec['notebook']}, run as a kernel runs them (made by the grader)\n"
            + KERNEL_SOURCE.read_text(encoding="utf-8")
            + f"\n\nrun({spec!r}, __name__)\n")


def prepare(submission: Path, files: tuple[str, ...], functions: tuple[str, ...] = (),
            budget: float = DEFAULT_BUDGET) -> tuple[Path, list[str]]:
    """A folder holding the modules to grade, and notes for the student about the expected ``files``.

    A folder is returned as it is; a file (a notebook or its script export:
    ``submission.notebook_of`` picks it) is read once into a temporary folder (removed when
    this process exits) holding one module per expected file, each of which runs
    the chosen cells in the child (``plan``, ``notebook_kernel``).  ``functions``
    are the graded functions, found by name.  That folder may be passed here
    again for its notes.  A notebook that cannot be read gives an empty folder
    and a note saying why, so grading still finishes.  ``discard`` removes it.
    """
    submission = Path(submission)
    if submission in _EXTRACTED:
        return submission, _EXTRACTED[submission].notes
    if not submission.is_file():
        return submission, []
    notebook = submission
    folder = Path(tempfile.mkdtemp(prefix="autograder_notebook_"))
    extracted = Extracted([], notebook=notebook.name)
    try:
        steps = plan(read(notebook), tuple(functions), notebook.name, tuple(files))
    except NotebookError as exc:
        extracted.notes.append(str(exc))
    else:
        extracted.notes.extend(steps.notes)
        extracted.sources = [c.source for c in steps.run]
        spec = {"notebook": notebook.name, "files": list(files), "budget": budget,
                "cells": [[c.number, c.source] for c in steps.run], "defined_in": steps.defined_in,
                "graded_cells": sorted(steps.graded_cells)}
        if steps.run:
            for name in files:
                (folder / name).write_text(shim(name[:-3], spec), encoding="utf-8")
    _EXTRACTED[folder] = extracted
    return folder, extracted.notes


def extracted_from(folder: Path) -> Extracted | None:
    """What ``prepare`` made the folder from, when it made it."""
    return _EXTRACTED.get(Path(folder))


def discard(folder: Path) -> None:
    """Remove a folder that ``prepare`` extracted; any other folder is left alone."""
    if _EXTRACTED.pop(Path(folder), None) is not None:
        remove_tree(folder)


@atexit.register
def _discard_all() -> None:
    for folder in list(_EXTRACTED):
        discard(folder)
