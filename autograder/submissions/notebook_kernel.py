"""Runs a notebook's code cells as a Jupyter kernel runs them, inside the sandbox's child only.

``extract.prepare`` writes this file's source, with the cells to run, into each
module the grader imports from a notebook (see ``extract.shim``): importing the
first one runs the cells, top to bottom, in one namespace that every graded
file name then refers to, as ``checks_api.link_files`` does in the student's
kernel.  Kernel semantics, statement by statement:

* each cell compiles alone (a ``from __future__`` line at the top of a later
  cell is valid there, and stays in force for later cells, as in IPython);
* a statement that raises is reported and the next one runs, so whatever was
  defined before (or after) it stays defined; a cell that does not compile is
  reported and skipped;
* a statement that runs past its share of the time budget is interrupted
  (``CellTimeout``, a BaseException so that ``except Exception`` does not stop
  it); once the budget is spent, statements still run for ``GRACE_SECONDS``,
  each stopped after ``GRACE_STATEMENT`` (a constant still gets defined, a
  training loop does not), and after that only definitions run (def, class,
  import).

Standard library only: this runs in the student's process, before and beside
the student's code, and must never import the grader.
"""

import __future__

import ast
import linecache
import os
import signal
import sys
import time
import types

MAX_NOTES = 12  # failures reported one by one; the rest are counted
GRACE_SECONDS = 1.5  # after the budget: more time for statements, each stopped after GRACE_STATEMENT
GRACE_STATEMENT = 0.05
# The toolkit's own check lines (checks_api's run_test, otter's grader.check) need the student's kernel.
_CHECKS_MODULES = ("autograder", "otter")
_CHECKS_NAMES = ("run_test", "link_files", "check_answers", "grader")
_FUTURE_FLAGS = {name: getattr(__future__, name).compiler_flag for name in __future__.all_feature_names}
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


class CellTimeout(BaseException):
    """A statement ran past its share of the notebook's time budget."""


def _alarm(signum, frame):
    raise CellTimeout()


def _own_check(exc: BaseException) -> bool:
    """Whether the failure is one of the notebook's own check lines failing outside the student's kernel."""
    if isinstance(exc, ImportError) and str(getattr(exc, "name", "") or "").split(".")[0] in _CHECKS_MODULES:
        return True
    return isinstance(exc, NameError) and getattr(exc, "name", None) in _CHECKS_NAMES


def _missing_module(exc: BaseException, files: list[str]) -> bool:
    """An import of a module this Python does not have (not one of the submission's own files)."""
    name = str(getattr(exc, "name", "") or "").split(".")[0]
    return isinstance(exc, ModuleNotFoundError) and bool(name) and f"{name}.py" not in files


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _line_of(exc: BaseException, filename: str) -> int:
    tb, line = exc.__traceback__, 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def run(spec: dict, module_name: str) -> types.ModuleType:
    """Run the cells of ``spec`` once per process; return the namespace module bound to every graded file.

    ``spec``: ``notebook`` (its name, for messages), ``files`` (the graded file
    names), ``cells`` (``[number, source]`` in notebook order, magics already
    removed), ``budget`` (seconds for all cells), ``defined_in`` (name -> the
    cells defining it, for the hint on out-of-order cells), ``graded_cells``
    (the cells whose failures are listed one by one).
    """
    done = sys.modules.get("_notebook_run")
    if done is not None:
        return done.namespace
    report = types.ModuleType("_notebook_run")
    namespace = types.ModuleType("__main__")  # a kernel's __name__; `if __name__ == "__main__":` blocks run
    namespace.__dict__["__builtins__"] = __builtins__
    report.namespace, report.notes = namespace, []
    sys.modules["_notebook_run"] = report
    for file in spec["files"]:
        # `from NAME import f` (NAME.py a submission file) works in every cell, as in the kernel.
        sys.modules[file[:-3]] = namespace
    sys.modules[module_name] = namespace
    folder = os.path.dirname(os.path.abspath(__file__))
    failures = []
    flags = 0
    deadline = time.monotonic() + float(spec["budget"])
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for number, source in spec["cells"]:
            filename = os.path.join(folder, f"{spec['notebook']}, cell {number}")
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST | flags, dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                where = f", line {exc.lineno}" if getattr(exc, "lineno", None) else ""
                failures.append((number, f"cell {number} does not compile{where} ({_describe(exc)}; the grader runs "
                                         f"Python {sys.version_info[0]}.{sys.version_info[1]}): none of it ran"))
                continue
            for node in tree.body:
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    for alias in node.names:
                        flags |= _FUTURE_FLAGS.get(alias.name, 0)
                    continue
                now = time.monotonic()
                if now < deadline:
                    seconds = deadline - now
                elif now < deadline + GRACE_SECONDS or isinstance(node, _DEFINITIONS):
                    # Budget spent: a constant (KEYS = ...) still gets defined; a slow statement stops at once.
                    seconds = GRACE_STATEMENT
                else:
                    failures.append((-1, f"cell {number}, line {node.lineno}: not run (the notebook's time "
                                         f"budget of {spec['budget']:g} s was spent)"))
                    continue
                try:
                    code = compile(ast.Module([node], []), filename, "exec", flags, dont_inherit=True)
                    # Repeats, so that a student's `except BaseException` inside a loop cannot outlast it.
                    signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
                    try:
                        exec(code, namespace.__dict__)
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                except CellTimeout:  # listed wherever it is: it explains what did not run after it
                    failures.append((-1, f"cell {number}, line {node.lineno}: interrupted when the notebook's time "
                                         f"budget of {spec['budget']:g} s ran out"))
                except BaseException as exc:  # noqa: BLE001 -- as a kernel: report, stop this cell, run the next
                    if _own_check(exc):
                        continue  # the notebook's own check lines need the student's kernel: not the student's code
                    line = _line_of(exc, filename) or node.lineno
                    message = f"cell {number}, line {line}: {_describe(exc)}"
                    if isinstance(exc, NameError) and getattr(exc, "name", None) in spec["defined_in"]:
                        later = [c for c in spec["defined_in"][exc.name] if c > number]
                        if later:
                            message += (f" ({exc.name} is defined further down, in cell {later[0]}: run top to "
                                        "bottom, the notebook reaches it too late; move that cell up)")
                    if _missing_module(exc, spec["files"]):
                        # A module the grader's Python lacks (matplotlib, torch): the grader's environment, not
                        # the student's error, so the rest of the cell still runs.
                        failures.append((number, message))
                        continue
                    rest = tree.body[tree.body.index(node) + 1:]
                    skipped = [d.name for d in rest if isinstance(d, _DEFINITIONS[:3])]
                    failures.append((number, message + "; the rest of the cell did not run, as in a kernel" + (
                        f" ({', '.join(skipped)} not defined)" if skipped else "")))
                    break
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # Checks, plots and scratch cells often fail without the student's kernel: counted, not listed.
    listed = [m for n, m in failures if n == -1 or n in spec["graded_cells"]]
    report.notes.extend(listed[:MAX_NOTES])
    if len(listed) > MAX_NOTES:
        report.notes.append(f"and {len(listed) - MAX_NOTES} more statements that raised")
    others = sorted({n for n, _ in failures if n != -1 and n not in spec["graded_cells"]})
    if others:
        shown = ", ".join(map(str, others[:8])) + (f" and {len(others) - 8} more" if len(others) > 8 else "")
        report.notes.append(f"statements also raised in cells {shown}, which define no graded function (checks, "
                            "plots and scratch work are not graded)")
    return namespace
