"""Notebooks shaped the way students really save them, made from a filled notebook.

Each shape is a change a student (or a notebook front end) makes to a filled
notebook without changing what the code computes, and the functions that the
change costs when the notebook runs top to bottom in a kernel (otter-grader and
nbgrader run it so): usually none.  Every shape is graded natively, through
grade-all and the simulated Gradescope run (tests/test_notebook_shapes.py);
``TOOL_SHAPES`` (one or more per kind) also through otter and nbgrader
(tests/test_tool_parity.py), and all of them with ``make parity``.

Front ends: JupyterLab 4 and VS Code write nbformat 4.5 with cell ids and their
own metadata; Colab writes 4.0 without ids, with a ``colab`` block; old
notebooks are nbformat 3 (converted here by nbformat itself).  Script exports
come from ``jupyter nbconvert --to python`` (the real tool, in the test) and
Colab's "Download .py" layout (header docstring, markdown as strings).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable

import nbformat

Notebook = dict
Shape = Callable[[Notebook], Notebook]
MARK = re.compile(r"^# file: \w+\.py\n", re.M)


def _code(nb: Notebook) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _defining(nb: Notebook, name: str) -> dict:
    return next(c for c in _code(nb) if f"def {name}(" in _src(c))


def _edit(name: str, change: Callable[[str], str]) -> Shape:
    def shape(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        cell = _defining(nb, name)
        cell["source"] = change(_src(cell))
        return nb
    return shape


def _new_cell(source: str, kind: str = "code") -> dict:
    cell = {"cell_type": kind, "id": f"new-{abs(hash(source)) % 10**8}", "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _insert(before: str | None, source: str, kind: str = "code") -> Shape:
    """A new cell before the cell defining ``before`` (None: at the end)."""
    def shape(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        at = len(nb["cells"]) if before is None else nb["cells"].index(_defining(nb, before))
        nb["cells"].insert(at, _new_cell(source, kind))
        return nb
    return shape


def _insert_after(name: str, source: str) -> Shape:
    """A new unmarked cell right after the cell defining ``name``."""
    def shape(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        nb["cells"].insert(nb["cells"].index(_defining(nb, name)) + 1, _new_cell(source))
        return nb
    return shape


def _stubbed(name: str) -> Callable[[str], str]:
    """The cell with ``name``'s body replaced by the template's stub (its docstring kept)."""
    def change(source: str) -> str:
        start = source.index(f"def {name}(")
        doc_end = source.index('"""', source.index('"""', start) + 3) + 3
        rest = source[doc_end:]
        nxt = re.search(r"^\S", rest, re.M)  # the next top-level statement, if any
        tail = rest[nxt.start():] if nxt else ""
        return source[:doc_end] + f"\n    raise NotImplementedError(\"{name}\")\n\n\n" + tail
    return change


def _retype(name: str, kind: str) -> Shape:
    def shape(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        cell = _defining(nb, name)
        cell["cell_type"] = kind
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
        return nb
    return shape


def _plain(shape: Shape, name: str) -> Shape:
    """The shape, then the cell defining ``name`` without its marker line and nbgrader's metadata."""
    def plain(nb: Notebook) -> Notebook:
        nb = shape(nb)
        cell = next(c for c in nb["cells"] if f"def {name}(" in _src(c))
        cell["source"] = MARK.sub("", _src(cell))
        cell["metadata"] = {}
        return nb
    return plain


def no_markers(nb: Notebook) -> Notebook:
    nb = copy.deepcopy(nb)
    for cell in _code(nb):
        cell["source"] = MARK.sub("", _src(cell))
    return nb


def no_markers_in(file: str) -> Shape:
    def shape(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        for cell in _code(nb):
            if _src(cell).startswith(f"# file: {file}\n"):
                cell["source"] = _src(cell)[len(f"# file: {file}\n"):]
        return nb
    return shape


def merged_cells(nb: Notebook) -> Notebook:
    """Every graded cell merged into the first one (Shift+M), the marker lines kept only at the top."""
    nb = copy.deepcopy(nb)
    graded = [c for c in _code(nb) if MARK.match(_src(c))]
    graded[0]["source"] = "\n\n".join(MARK.sub("", _src(c)) for c in graded)
    for cell in graded[1:]:
        nb["cells"].remove(cell)
    return nb


def colab_paste(nb: Notebook) -> Notebook:
    """A fresh Colab notebook (nbformat 4.0, no ids, colab metadata) holding only the graded code, unmarked."""
    cells = [{"cell_type": "code", "metadata": {"id": f"c{k}"}, "execution_count": None, "outputs": [],
              "source": MARK.sub("", _src(c))} for k, c in enumerate(_code(nb)) if MARK.match(_src(c))]
    return {"nbformat": 4, "nbformat_minor": 0, "cells": cells,
            "metadata": {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"},
                         "language_info": {"name": "python"}}}


def nbformat_minor(minor: int) -> Shape:
    """The notebook as an older 4.x front end writes it (cell ids exist from 4.5 on)."""
    def shape(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        nb["nbformat_minor"] = minor
        if minor < 5:
            for cell in nb["cells"]:
                cell.pop("id", None)
        return nb
    return shape


def nbformat3(nb: Notebook) -> nbformat.NotebookNode:
    """nbformat 3, converted by nbformat itself (written with ``nbformat.write``)."""
    # Read as nbformat reads a saved file: sources written as lists of lines are joined first.
    return nbformat.convert(nbformat.reads(json.dumps(nb), as_version=4), 3)


def vscode(nb: Notebook) -> Notebook:
    nb = copy.deepcopy(nb)
    nb["metadata"]["vscode"] = {"interpreter": {"hash": "0" * 64}}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.12.4", "file_extension": ".py"}
    for k, cell in enumerate(_code(nb)):
        cell["execution_count"] = k + 1
    return nb


USE_EARLY = ("# file: rnn_layers.py\n"
             "h = rnn_step_forward(np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((3, 2)), np.zeros((3, 3)), "
             "np.zeros(3))\n")
STUB = "    raise NotImplementedError(\"rnn_forward\")\n"
INDENTED = "    last = s[:, -1]\n"  # in many_to_one_loss

# name -> (the change, the functions it costs in a kernel, before callers are counted)
SHAPES: dict[str, tuple[Shape, set[str]]] = {
    # No `# file:` lines: graded by name, as otter finds functions.
    "no_markers": (no_markers, set()),
    "no_markers_in_one_file": (no_markers_in("lstm_layers.py"), set()),
    "merged_cells": (merged_cells, set()),
    "colab_paste": (colab_paste, set()),
    # A statement that raises in a graded cell: as in a kernel, the rest of that cell does not run (what it would
    # have defined is lost) and the rest of the notebook does.
    # A graded cell that does not compile (an indentation slip): as in a kernel, none of it runs; marked or not,
    # the note names the cell, the line and the error.
    "indentation_error": (_edit("many_to_one_loss", lambda s: s.replace(INDENTED, " " + INDENTED)),
                          {"many_to_one_loss"}),
    "indentation_error_unmarked": (lambda nb: _edit("many_to_one_loss", lambda s: s.replace(
        INDENTED, " " + INDENTED))(no_markers(nb)), {"many_to_one_loss"}),
    "raise_after_def": (_edit("rnn_step_forward", lambda s: s + "\nassert np.zeros(3).shape == (4,), 'left over'\n"),
                        set()),
    "raise_before_def": (_edit("rnn_backward", lambda s: s.replace("def rnn_backward", "print(undefined_name)\n\n"
                                                                   "def rnn_backward", 1)), {"rnn_backward"}),
    "sys_exit_in_cell": (_edit("lstm_gates", lambda s: s + "\nimport sys\nsys.exit('stop here')\n"), set()),
    "raising_scratch_cell": (_insert("rnn_forward", "x = np.ones((2, 3))\nx @ x  # shapes do not match\n"), set()),
    # `from __future__` at the top of a later cell: each cell compiles alone.
    "future_later_cell": (_edit("rnn_backward", lambda s: MARK.sub(lambda m: m.group(0) + "from __future__ import "
                                                                   "annotations\n", s, 1)), set()),
    "future_first_cell": (_edit("rnn_step_forward", lambda s: "from __future__ import annotations\n" + s), set()),
    "future_with_annotations": (_edit("sigmoid", lambda s: MARK.sub(
        lambda m: m.group(0) + "from __future__ import annotations\n", s, 1).replace(
        "def sigmoid(z)", "def sigmoid(z: np.ndarray | None) -> np.ndarray", 1)), set()),
    # A graded cell turned into Markdown or Raw: graded as code when its first line or nbgrader's metadata says it is
    # graded code (nbgrader restores it too; otter runs the notebook as saved: OTTER_LOSES), else lost as in a kernel.
    "markdown_cell": (_retype("rnn_backward", "markdown"), set()),
    "raw_cell": (_retype("output_backward", "raw"), set()),
    "markdown_quiz": (_retype("answers", "markdown"), set()),
    "markdown_cell_plain": (_plain(_retype("rnn_step_backward", "markdown"), "rnn_step_backward"),
                            {"rnn_step_backward"}),
    # Imports the grader's Python does not have, in graded cells.
    "matplotlib_in_graded_cell": (_edit("rnn_step_forward", lambda s: MARK.sub(
        lambda m: m.group(0) + "import matplotlib.pyplot as plt\n", s, 1)), set()),
    "pandas_in_graded_cell": (_edit("lstm_step_forward", lambda s: MARK.sub(
        lambda m: m.group(0) + "import pandas as pd\n", s, 1)), set()),
    "ipython_display_in_graded_cell": (_edit("one_hot", lambda s: MARK.sub(
        lambda m: m.group(0) + "from IPython.display import display\n", s, 1)), set()),
    "torch_in_graded_cell": (_edit("clip_gradients", lambda s: MARK.sub(
        lambda m: m.group(0) + "import torch\n", s, 1)), set()),
    # Magics and shell lines.
    "line_magics": (_edit("rnn_forward", lambda s: MARK.sub(lambda m: m.group(0) + "%load_ext autoreload\n"
                                                            "!echo installing\n", s, 1)), set()),
    "cell_magic_time": (_edit("sample", lambda s: "%%time\n" + s), set()),
    "bash_cell": (_insert("sample", "%%bash\necho hello\n"), set()),
    # Several definitions, cells out of order.
    # A stub pasted below the work never replaces it (otter and nbgrader test each function right after it).
    "stub_below_solution": (_insert(None, "# file: rnn_layers.py\ndef rnn_forward(x, s0, U, W, b):\n" + STUB),
                            set()),
    "solution_below_stub": (_insert("rnn_forward", "# file: rnn_layers.py\ndef rnn_forward(x, s0, U, W, b):\n" + STUB),
                            set()),
    "use_before_definition": (_insert("rnn_step_forward", USE_EARLY), set()),
    # Redefinitions outside the marked cells: run top to bottom, the last one is graded, as in a kernel.
    "stub_marked_real_in_scratch": (lambda nb: _insert_after("lstm_gates", MARK.sub("", _src(_defining(
        nb, "lstm_gates"))))(_edit("lstm_gates", _stubbed("lstm_gates"))(nb)), set()),
    "stub_redefinition_in_scratch": (_insert(None, "def rnn_forward(x, s0, U, W, b):\n" + STUB), set()),
    # A wrong redefinition in a scratch cell right below the work (before its tests) is what runs last
    # (rnn_backward's gradient check differentiates the student's own rnn_forward, so it is lost with it).
    "wrong_redefinition_below": (_insert_after("rnn_forward", "def rnn_forward(x, s0, U, W, b):\n"
                                                              "    return np.zeros((x.shape[0], x.shape[1], "
                                                              "W.shape[0])), None\n"), {"rnn_forward", "rnn_backward"}),
    # A byte-order mark pasted into a cell; marker lines spelled loosely.
    "bom_in_cell": (_edit("rnn_forward", lambda s: "\ufeff" + s), set()),
    "marker_spellings": (lambda nb: _edit("sigmoid", lambda s: s.replace(
        "# file: lstm_layers.py", "# File: lstm_layers", 1))(_edit("one_hot", lambda s: s.replace(
            "# file: char_rnn.py", "#FILE:char_rnn.py  ", 1))(nb)), set()),
    # Front ends and format versions.
    "nbformat_4_0": (nbformat_minor(0), set()),
    "nbformat_4_2": (nbformat_minor(2), set()),
    "nbformat_4_4": (nbformat_minor(4), set()),
    "nbformat_3": (nbformat3, set()),
    "vscode": (vscode, set()),
}
# What otter-grader loses besides: it runs the notebook as saved, Markdown cells included.
OTTER_LOSES = {"markdown_cell": {"rnn_backward"}, "raw_cell": {"output_backward"}, "markdown_quiz": {"answers"}}
# What otter-grader refuses to grade at all: a notebook that does not carry its release's metadata
# (``otter.assignment_name``), such as a fresh notebook the code was pasted into; otter run exits 1.
OTTER_REFUSES = {"colab_paste"}
# What nbgrader gives 0 in every function: a notebook without its cells' metadata (grade ids), such as a fresh
# notebook the code was pasted into.
NBGRADER_ZERO = {"colab_paste"}
# What both tools lose (with the callers) that the native grader keeps, by design: a module the tools' kernel
# lacks imported in a graded cell (the kernel stops that cell; the grader takes a missing module for its own
# environment, not the student's error) and a byte-order mark pasted into a cell (IPython refuses the cell; the
# grader reads past it).  rnn_backward's gradient check differentiates the student's own rnn_forward, so it is
# lost with it.
TOOLS_LOSE = {"torch_in_graded_cell": {"clip_gradients"}, "bom_in_cell": {"rnn_forward", "rnn_backward"}}
# One or more per kind, through otter and nbgrader in `make test` (all of them with `make parity`).
TOOL_SHAPES = ["no_markers", "raise_after_def", "markdown_cell", "matplotlib_in_graded_cell", "stub_below_solution"]


def write(notebook, path) -> None:
    """Write a shaped notebook as nbformat itself writes that version."""
    node = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.from_dict(notebook)
    version = node.get("nbformat", 4)
    with open(path, "w", encoding="utf-8") as f:
        nbformat.write(node, f, version=version)


def colab_script(nb: Notebook) -> str:
    """The notebook as Colab's "Download .py" lays it out: a header docstring, markdown cells as strings."""
    parts = ['# -*- coding: utf-8 -*-\n"""hw_rnn.ipynb\n\nAutomatically generated by Colab.\n\nOriginal file is '
             'located at\n    https://colab.research.google.com/drive/0\n"""']
    for cell in nb["cells"]:
        source = _src(cell)
        if cell["cell_type"] == "markdown":
            parts.append('"""' + source.replace('"""', "'''") + '\n"""')
        elif cell["cell_type"] == "code":
            parts.append(source)
    return "\n\n".join(parts) + "\n"
