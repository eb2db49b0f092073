"""The grader package's rooms and the order they may import each other in, with no import cycles.

Every import counts, also those inside functions (taken late for start-up time): a cycle there is a
cycle in the design.  The order, from the bottom: the assignment's config and shared text and file handling
(the package's top-level modules), submissions, the sandbox, grading, the student release,
integrations, the class; the command line (``cli``) may use every room.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "autograder"
# A room may import its own modules and those of the rooms before it.
ORDER = ["", "submissions", "sandbox", "grading", "release", "integrations", "classroom"]
TOP = {"config", "spec", "environment", "text", "files", "checks_api", "cli", "__init__", "__main__"}
# Top-level modules above every room: the commands, and the notebook checks' entry (it runs the self-check).
ABOVE_ROOMS = {"cli": len(ORDER), "__main__": len(ORDER), "checks_api": ORDER.index("release")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules a file imports, anywhere in it (dotted below ``autograder``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "autograder":
            base = node.module.split(".")[1:]
            names = [".".join(base)] + [".".join([*base, a.name]) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("autograder.")]
        found |= {n for n in names if n in known and n}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def room(name: str) -> str:
    return name.split(".")[0] if "." in name or name in ORDER else ""


def rank(name: str) -> int:
    return ABOVE_ROOMS.get(name, ORDER.index(room(name)))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_room_or_is_a_known_top_level_module():
    loose = [n for n in modules() if room(n) == "" and n not in TOP]
    assert not loose, f"modules outside the rooms {ORDER[1:]}: {loose}"
    assert {room(n) for n in modules()} == set(ORDER)


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_rooms_import_only_rooms_before_them():
    wrong = [f"{a} imports {b}" for a, deps in graph().items() for b in deps
             if rank(b) > rank(a) or (rank(b) == rank(a) and room(a) != room(b) and a not in ABOVE_ROOMS)]
    assert not wrong, "\n".join(wrong)
