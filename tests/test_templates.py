"""Templates are generated from the solutions and committed up to date."""

from __future__ import annotations

import ast

import pytest
from conftest import FILES, SOLUTIONS, TEMPLATES, run_cli

from autograder.release import templates


def test_committed_templates_are_up_to_date():
    assert templates.stale(SOLUTIONS, TEMPLATES, FILES) == [], "run `make templates`"
    assert run_cli("templates", "--check").returncode == 0


def _functions(path):
    tree = ast.parse(path.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("name", FILES)
def test_templates_keep_signatures_and_docstrings_and_drop_solutions(name):
    sol, tpl = _functions(SOLUTIONS / name), _functions(TEMPLATES / name)
    assert sol.keys() == tpl.keys()
    for fname, node in sol.items():
        assert ast.dump(node.args) == ast.dump(tpl[fname].args)
        assert ast.get_docstring(node) == ast.get_docstring(tpl[fname])
        doc = ast.get_docstring(node)
        assert "Returns" in doc and ("Args" in doc or not node.args.args), fname
        body = tpl[fname].body
        assert isinstance(body[-1], ast.Raise) and "NotImplementedError" in ast.unparse(body[-1])
    text = (TEMPLATES / name).read_text()
    assert "BEGIN SOLUTION" not in text
    solution_lines, given = [], []
    inside = False
    for line in (SOLUTIONS / name).read_text().splitlines():
        if line.strip() == templates.BEGIN:
            inside = True
        elif line.strip() == templates.END:
            inside = False
        elif len(line.strip()) > 12:
            (solution_lines if inside else given).append(line.strip())
    assert solution_lines
    # A line of code may also stand in a docstring as the given formula; any other is a leak.
    leaked = [line for line in solution_lines if line in text and not any(line in g for g in given)]
    assert not leaked


def test_unbalanced_markers_are_reported():
    with pytest.raises(templates.TemplateError, match="never closed"):
        templates.strip_solution("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(templates.TemplateError, match="without"):
        templates.strip_solution("def f():\n    ### END SOLUTION\n")
    with pytest.raises(templates.TemplateError, match="outside a function"):
        templates.strip_solution("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n")


def test_templates_import_and_raise_naming_the_function():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_tpl_rnn", TEMPLATES / "rnn_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(NotImplementedError, match="rnn_forward is not implemented yet"):
        module.rnn_forward(None, None, None, None, None)


def test_declared_call_graph_matches_the_reference():
    """conftest.CALLS (used to predict what a fault breaks) is the reference's real call graph."""
    from conftest import CALLS

    from autograder.config import command_config

    graded = {t.function for t in command_config(None).tests}
    direct: dict[str, set[str]] = {}
    for name in FILES:
        for node in ast.parse((SOLUTIONS / name).read_text()).body:
            if isinstance(node, ast.FunctionDef):
                called = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
                direct[node.name] = called & graded - {node.name}

    def closure(name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(direct.get(name, ()))
        while todo:
            f = todo.pop()
            if f not in seen:
                seen.add(f)
                todo += direct.get(f, ())
        return seen

    assert {f: closure(f) for f in graded if closure(f)} == CALLS
