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

MARKER = re.compile(r"#\s*file:\s*(\S+)\s*$")
# IPython syntax cannot be imported from a .py file; such lines are kept as comments.
_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_EXTRACTED: dict[Path, list[str]] = {}  # extracted folder -> notes for the student


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


def extract(notebook: Path, files: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The text of each expected file found in the notebook, and notes on what was (not) found."""
    cells = read_cells(notebook)
    parts: dict[str, list[tuple[int, str]]] = {name: [] for name in files}
    unknown: set[str] = set()
    for number, cell in enumerate(cells, 1):
        name = cell_file(cell)
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
        notes.append(f"cells marked `# file: {name}` were ignored: only {', '.join(files)} are graded")
    return texts, notes


def prepare(submission: Path, files: tuple[str, ...]) -> tuple[Path, list[str]]:
    """A folder holding the submission's files, and notes for the student.

    A folder is returned as it is; a notebook is extracted into a temporary
    folder (removed when this process exits).  A notebook that cannot be read
    gives an empty folder and a note saying why, so grading still finishes.
    """
    submission = Path(submission)
    if submission in _EXTRACTED:
        return submission, list(_EXTRACTED[submission])
    if submission.is_dir() or submission.suffix != ".ipynb":
        return submission, []
    folder = Path(tempfile.mkdtemp(prefix="hw_rnn_notebook_"))
    atexit.register(shutil.rmtree, folder, True)
    try:
        texts, notes = extract(submission, files)
    except NotebookError as exc:
        texts, notes = {}, [str(exc)]
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    if texts:
        notes.insert(0, f"graded the code cells of {submission.name} marked `# file: ...`: {', '.join(texts)}")
    _EXTRACTED[folder] = notes
    return folder, list(notes)
