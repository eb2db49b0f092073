"""Turns a filled notebook into the student's ``.py`` files, reading its JSON only.

The convention (stated in the notebook itself): a code cell whose first
non-blank line is ``# file: rnn_layers.py`` belongs to ``rnn_layers.py``; each
file is the concatenation of its cells in notebook order.  Every other cell
(checks, plots, scratch work) is left out.  The notebook is never executed
here: its code only ever runs in the sandbox's child, like a folder's files.

Standard library only, like ``submission.py``: the grader calls this before
it imports numpy.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from pathlib import Path

MARKER = re.compile(r"#\s*file:\s*([\w-]+\.py)\s*$")  # a plain file name: nothing can be written elsewhere
# IPython syntax cannot be imported from a .py file; such lines are kept as comments.
_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_EXTRACTED: dict[Path, list[str]] = {}  # extracted folder -> the notes on its notebook


class NotebookError(Exception):
    """The file is not a notebook this module can read."""


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def cell_file(cell: dict) -> str | None:
    """The file a code cell belongs to, from its first non-blank line, or None."""
    if cell.get("cell_type") != "code":
        return None
    for line in cell_source(cell).splitlines():
        if line.strip():
            match = MARKER.fullmatch(line.strip())
            return match.group(1) if match else None
    return None


_SCRIPT_CELL = re.compile(r"^# (?:In\[[\d ]*\]:|%%)")  # `jupyter nbconvert --to script`; VS Code and Spyder cells


def _script_cells(text: str) -> list[dict]:
    """A notebook exported as a script (nbconvert, Colab "Download .py") as code cells: one starts at each
    ``# In[ ]:`` or ``# %%`` line and at each ``# file: X.py`` marker line."""
    cells: list[list[str]] = [[]]
    for line in text.splitlines():
        if _SCRIPT_CELL.match(line):
            cells.append([])
            continue
        if MARKER.fullmatch(line.strip()):
            cells.append([])
        cells[-1].append(line)
    return [{"cell_type": "code", "source": "\n".join(c)} for c in cells if any(x.strip() for x in c)]


def read_cells(path: Path) -> list[dict]:
    """The cells of an nbformat 4 notebook file (or of a notebook exported as a ``.py`` script)."""
    if Path(path).suffix.lower() == ".py":
        try:
            return _script_cells(Path(path).read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise NotebookError(f"{Path(path).name} could not be read: {exc}") from None
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise NotebookError(f"{Path(path).name} could not be read as a notebook: {exc}") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise NotebookError(f"{Path(path).name} is not a Jupyter notebook in nbformat 4 (no list of cells)")
    return cells


def _uncomment_magics(source: str) -> str:
    return "\n".join(_MAGIC.sub(r"\1# \2", line) for line in source.splitlines())


def extract(notebook: Path, files: tuple[str, ...] | None) -> tuple[dict[str, str], list[str]]:
    """The text of each file the notebook's marked cells make, and notes on what was (not) found.

    ``files`` are the expected files (None: every file some cell is marked with).
    Files marked but not expected get a text too (so that the grader can point
    out a misnamed file) and a note that they are not graded.
    """
    cells = read_cells(notebook)
    names = tuple(files or ())
    parts: dict[str, list[tuple[int, str]]] = {name: [] for name in names}
    for number, cell in enumerate(cells, 1):
        name = cell_file(cell)
        if name is not None:
            parts.setdefault(name, []).append((number, _uncomment_magics(cell_source(cell))))
    texts, notes = {}, []
    for name, found in parts.items():
        if not found:
            notes.append(f"{notebook.name} has no code cell marked `# file: {name}` (its first line), "
                         f"so {name} is empty: keep that first line in each cell of yours")
            continue
        numbers = ", ".join(str(n) for n, _ in found)
        header = f"# {name}: the cells of {notebook.name} marked `# file: {name}` (cells {numbers})\n\n"
        texts[name] = header + "\n\n".join(text for _, text in found) + "\n"
    if files is not None:
        for name in sorted(set(texts) - set(files)):
            notes.append(f"cells marked `# file: {name}` were ignored: only {', '.join(files)} are graded")
    return texts, notes


def notebook_of(submission: Path, files: tuple[str, ...]) -> Path | None:
    """The notebook to grade: the submission itself (a notebook, or one exported as a script), or the notebook
    that ``submission.locate``'s rule picks in a folder without the expected files (None: grade the folder)."""
    from autograder.submission import notebook_in, script_notebook

    if submission.is_file() and (submission.suffix == ".ipynb" or
                                 (submission.suffix == ".py" and script_notebook(submission))):
        return submission
    if submission.is_dir():
        return notebook_in(submission, files)
    return None


def prepare(submission: Path, files: tuple[str, ...]) -> tuple[Path, list[str]]:
    """A folder holding the submission's files, and notes for the student about the expected ``files``.

    A folder of .py files is returned as it is; a notebook (see ``notebook_of``)
    is read once and extracted into a temporary folder (removed when this
    process exits), and that folder may be passed here again for its notes.  A
    notebook that cannot be read gives an empty folder and a note saying why, so
    grading still finishes.  ``discard`` removes the folder (at the latest when
    this process exits).
    """
    submission = Path(submission)
    if submission in _EXTRACTED:
        return submission, _EXTRACTED[submission]
    notebook = notebook_of(submission, files)
    if notebook is None:
        return submission, []
    folder = Path(tempfile.mkdtemp(prefix="hw_rnn_notebook_"))
    try:
        texts, notes = extract(notebook, files)
    except NotebookError as exc:
        texts, notes = {}, [str(exc)]
    if texts:
        notes.insert(0, f"graded the code cells of {notebook.name} marked `# file: ...`: {', '.join(texts)}")
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    _EXTRACTED[folder] = notes
    return folder, notes


def discard(folder: Path) -> None:
    """Remove a folder that ``prepare`` extracted; any other folder is left alone."""
    if _EXTRACTED.pop(Path(folder), None) is not None:
        shutil.rmtree(folder, ignore_errors=True)


@atexit.register
def _discard_all() -> None:
    for folder in list(_EXTRACTED):
        discard(folder)
