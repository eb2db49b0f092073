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
_EXTRACTED: dict[Path, Path] = {}  # extracted folder -> the notebook it was made from


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


def read_cells(path: Path) -> list[dict]:
    """The cells of an nbformat 4 notebook file."""
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
    """
    cells = read_cells(notebook)
    marked = [(number, cell_file(cell), cell) for number, cell in enumerate(cells, 1)]
    names = files if files is not None else tuple(dict.fromkeys(name for _, name, _ in marked if name))
    parts: dict[str, list[tuple[int, str]]] = {name: [] for name in names}
    unknown: set[str] = set()
    for number, name, cell in marked:
        if name in parts:
            parts[name].append((number, _uncomment_magics(cell_source(cell))))
        elif name is not None:
            unknown.add(name)
    texts, notes = {}, []
    for name, found in parts.items():
        if not found:
            notes.append(f"{notebook.name} has no code cell marked `# file: {name}` (its first line), "
                         f"so {name} is empty: keep that first line in each cell of yours")
            continue
        numbers = ", ".join(str(n) for n, _ in found)
        header = f"# {name}: the cells of {notebook.name} marked `# file: {name}` (cells {numbers})\n\n"
        texts[name] = header + "\n\n".join(text for _, text in found) + "\n"
    for name in sorted(unknown):
        notes.append(f"cells marked `# file: {name}` were ignored: only {', '.join(names)} are graded")
    return texts, notes


def _notes(notebook: Path, files: tuple[str, ...] | None) -> list[str]:
    try:
        texts, notes = extract(notebook, files)
    except NotebookError as exc:
        return [str(exc)]
    if texts:
        notes.insert(0, f"graded the code cells of {notebook.name} marked `# file: ...`: {', '.join(texts)}")
    return notes


def prepare(submission: Path, files: tuple[str, ...] | None = None) -> tuple[Path, list[str]]:
    """A folder holding the submission's files, and notes for the student about the expected ``files``.

    A folder is returned as it is; a notebook is extracted into a temporary
    folder (removed when this process exits), and that folder may be passed
    here again.  A notebook that cannot be read gives an empty folder and a
    note saying why, so grading still finishes.
    """
    submission = Path(submission)
    notebook = _EXTRACTED.get(submission)
    if notebook is None:
        if submission.is_dir() or submission.suffix != ".ipynb":
            return submission, []
        notebook, submission = submission, Path(tempfile.mkdtemp(prefix="hw_rnn_notebook_"))
        atexit.register(shutil.rmtree, submission, True)
        _EXTRACTED[submission] = notebook
        try:
            texts = extract(notebook, None)[0]
        except NotebookError:
            texts = {}
        for name, text in texts.items():
            (submission / name).write_text(text, encoding="utf-8")
    return submission, _notes(notebook, files)
