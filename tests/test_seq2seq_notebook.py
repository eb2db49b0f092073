"""hw_seq2seq's notebook outline builds into both tools' notebooks, and its code runs in order.

autograder.integrations.notebooks.build places every graded function of assignments/hw_seq2seq/notebook.md once, with
the reference's code and one test cell per config test (it raises OutlineError otherwise).  The notebook's
code cells (module imports, the reference functions, the training demo) then run top to bottom in one
namespace, as a kernel runs them: the demo must train the model and decode the held-out strings.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types

import pytest
from seq2seq_support import ASSIGNMENT, FILES, FUNCTIONS

from autograder.config import load_config
from autograder.integrations import notebooks
from autograder.spec import borrowed_module_names

CONFIG = load_config(ASSIGNMENT / "assignment.yaml", {n: f.required for n, f in FUNCTIONS.items()})


@pytest.mark.parametrize("tool", notebooks.TOOLS)
def test_outline_places_every_graded_function_and_test(tool):
    notebook = notebooks.build(tool, CONFIG, (ASSIGNMENT / "notebook.md").read_text())
    sources = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
    for function in CONFIG.functions:
        assert sum(s.startswith("# file: ") and f"def {function}(" in s for s in sources) == 1, function
    assert sum("run_test(" in s for s in sources) == len(CONFIG.tests)


def test_notebook_code_runs_top_to_bottom_and_the_demo_learns():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    notebook = notebooks.build("nbgrader", CONFIG, (ASSIGNMENT / "notebook.md").read_text())
    namespace: dict = {}
    names = [f[:-3] for f in FILES]
    output = io.StringIO()
    with borrowed_module_names(names):
        for cell in notebook["cells"]:
            source = cell["source"]
            if cell["cell_type"] != "code" or "run_test(" in source:
                continue
            if cell["id"] == "setup":  # its imports; link_files (hw_rnn's checks folder) is replaced below
                source = source.split("from autograder.checks_api")[0]
            # What the setup cell's link_files does in a kernel: `from encoder import ...` finds this namespace.
            for name in names:
                module = types.ModuleType(name)
                module.__dict__.update(namespace)
                sys.modules[name] = module
            with contextlib.redirect_stdout(output):
                exec(compile(source, cell["id"], "exec"), namespace)
    match = re.search(r"final loss ([\d.]+); (\d+) of (\d+) held-out strings reversed", output.getvalue())
    assert match, output.getvalue()
    assert float(match.group(1)) < 0.05 and int(match.group(2)) >= 0.75 * int(match.group(3))
