"""Makes the student templates from the reference solutions.

Every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the
markers nbgrader and otter-grader use) becomes a ``raise NotImplementedError``
naming the function to write; everything else (signatures, docstrings with
shapes and equations, imports) is kept as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HEADER = (
    "# Student template: replace each `raise NotImplementedError` with your code.\n"
    "# Keep the file name, the function names, arguments and return values as they are.\n"
)


class TemplateError(Exception):
    """The solution's markers are unbalanced or outside a function."""


def stub(function: str, indent: str) -> list[str]:
    """The lines that replace a solution region (the otter notebook's prompt uses them too)."""
    return [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("{function} is not implemented yet")']


def strip_solution(source: str, filename: str = "<solution>") -> str:
    """The template text of one solution file."""
    out: list[str] = []
    function = None
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        match = re.match(r"\s*def (\w+)\(", line)
        if match and not inside:
            function = match.group(1)
        stripped = line.strip()
        if stripped == BEGIN:
            if inside or function is None:
                raise TemplateError(f"{filename}:{number}: {BEGIN} without a matching {END} or outside a function")
            inside = True
            out += stub(function, line[: len(line) - len(line.lstrip())])
        elif stripped == END:
            if not inside:
                raise TemplateError(f"{filename}:{number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise TemplateError(f"{filename}: {BEGIN} is never closed")
    return HEADER + "\n".join(out) + "\n"


def render(solutions: Path, files: tuple[str, ...]) -> dict[str, str]:
    """Template text for each submission file, keyed by file name."""
    return {name: strip_solution((solutions / name).read_text(), name) for name in files}


def stale(solutions: Path, templates: Path, files: tuple[str, ...]) -> list[str]:
    """The template files that differ from what the generator makes now."""
    wanted = render(solutions, files)
    return [n for n, text in wanted.items() if not (templates / n).exists() or (templates / n).read_text() != text]


def write(solutions: Path, templates: Path, files: tuple[str, ...]) -> list[str]:
    """Regenerate the templates; return the files written."""
    templates.mkdir(parents=True, exist_ok=True)
    changed = stale(solutions, templates, files)
    for name, text in render(solutions, files).items():
        if name in changed:
            (templates / name).write_text(text)
    return changed
