"""Fingerprints of the template parts students are not meant to edit, and the warning when they were.

A file handed in exactly as released (line endings and trailing spaces aside) earns a note of its own.
Protected, per template file: each function's name and argument list, each
function's docstring, the module docstring, and the module-level statements
given outside the functions other than imports (constants such as a vocabulary).
Function bodies are the student's; so are imports (which of their own
functions a module uses is the student's choice) and added helpers and
constants, which is how correct submissions written from scratch legitimately
differ.  Comparisons go through
the syntax tree, so formatting, comments and docstring indentation do not count.

The fingerprints live in ``fingerprints.json`` beside the assignment config:
``make templates`` writes them from the committed templates (a test fails when
they are stale), and the student bundle ships the same file beside its public
config.  A changed part earns a note in the grade report; it costs no points.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

from autograder.config import FINGERPRINTS_FILE
from autograder.environment import parsed

FILE_NAME = FINGERPRINTS_FILE


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _doc_digest(node: ast.AST) -> str:
    """The docstring's hash, blind to indentation and trailing spaces (editors change those)."""
    doc = ast.get_docstring(node, clean=True) or ""
    return _digest("\n".join(line.rstrip() for line in doc.splitlines()))


def _moved_doc(node: ast.AST, want: str) -> bool:
    """Whether the docstring with digest ``want`` is still in ``node``'s body, only no longer its first statement
    (code was put above it, so Python no longer takes it for the docstring)."""
    for stmt in getattr(node, "body", [])[1:]:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            probe = ast.Module(body=[stmt], type_ignores=[])
            if _doc_digest(probe) == want:
                return True
    return False


def _given_statements(tree: ast.Module) -> list[ast.stmt]:
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    skip = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    return [s for s in body if not isinstance(s, skip)]


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _text_digest(source: str) -> str:
    """The whole file's hash, blind to line endings and trailing spaces (a download or an editor may change them)."""
    return _digest("\n".join(line.rstrip() for line in source.splitlines()).strip())


def protected_parts(source: str) -> dict:
    """The fingerprint of one template file (raises SyntaxError on unparsable source)."""
    tree = ast.parse(source)
    return {
        "template": _text_digest(source),
        "module_docstring": _doc_digest(tree),
        "statements": {_digest(ast.dump(s)): ast.unparse(s) for s in _given_statements(tree)},
        "functions": {name: {"arguments": ast.unparse(node.args), "docstring": _doc_digest(node)}
                      for name, node in _functions(tree).items()},
    }


def compute(templates: Path, files: tuple[str, ...]) -> dict:
    """The fingerprints of every template file."""
    return {
        "about": "Hashes of the template parts students are not meant to edit; written by `make templates`.",
        "files": {name: protected_parts((templates / name).read_text()) for name in files},
    }


def path_for(config_path: Path) -> Path:
    return Path(config_path).with_name(FILE_NAME)


def render(fingerprints: dict) -> str:
    return json.dumps(fingerprints, indent=2, sort_keys=True) + "\n"


def stale(templates: Path, files: tuple[str, ...], config_path: Path) -> bool:
    """Whether the stored fingerprints differ from the committed templates'."""
    path = path_for(config_path)
    return not path.exists() or path.read_text() != render(compute(templates, files))


def write(templates: Path, files: tuple[str, ...], config_path: Path) -> bool:
    """Write the fingerprints when they changed; return whether they did."""
    if not stale(templates, files, config_path):
        return False
    path_for(config_path).write_text(render(compute(templates, files)))
    return True


def load(config_path: Path) -> dict | None:
    """The stored fingerprints, or None when there are none beside the config."""
    path = path_for(config_path)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def changes(expected: dict, source: str | ast.Module, notebook: bool = False) -> list[str]:
    """What the submitted source changed among the protected parts (empty when nothing).

    ``notebook``: the source is a notebook's code, which has no module
    docstring, and whose missing functions have notes of their own.
    """
    tree = source if isinstance(source, ast.Module) else ast.parse(source)
    found: list[str] = []
    functions = _functions(tree)
    missing = [name for name in expected["functions"] if name not in functions]
    if missing and not notebook:
        found.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    for name, want in expected["functions"].items():
        node = functions.get(name)
        if node is not None and ast.unparse(node.args) != want["arguments"]:
            found.append(f"{name} takes ({ast.unparse(node.args)}) but the template has ({want['arguments']})")
    docs = [name for name, want in expected["functions"].items()
            if name in functions and _doc_digest(functions[name]) != want["docstring"]]
    moved = [name for name in docs if _moved_doc(functions[name], expected["functions"][name]["docstring"])]
    docs = [name for name in docs if name not in moved]
    if moved:
        found.append(f"code was put above the docstring of {', '.join(moved)} (a docstring must stay the "
                     "function's first statement)")
    if docs:
        found.append(f"the docstring of {docs[0]} was changed" if len(docs) == 1
                     else f"the docstrings of {', '.join(docs)} were changed")
    if not notebook and _doc_digest(tree) != expected["module_docstring"]:
        found.append("code was put above the module docstring (it must stay the file's first statement)"
                     if _moved_doc(tree, expected["module_docstring"]) else "the module docstring was changed")
    present = {_digest(ast.dump(s)) for s in _given_statements(tree)}
    for digest, code in expected["statements"].items():
        if digest not in present:
            found.append(f"the given line `{code}` is missing or changed")
    return found


# A grade-all worker sees the same files many times (untouched ones, shared code): each text is read once.
_STORED: dict[tuple, dict | None] = {}
_CHANGES: dict[tuple, list[str]] = {}


def _stored(config_path: Path) -> dict | None:
    path = path_for(config_path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    key = (str(path), stamp)
    if key not in _STORED:
        _STORED[key] = load(config_path)
    return _STORED[key]


def notes(submission: Path, found: list[str], config_path: Path) -> list[str]:
    """One note per submitted file whose protected parts changed (none when no fingerprints are stored)."""
    stored = _stored(config_path)
    if stored is None:
        return []
    out, untouched = [], []
    for name in found:  # in the config's order; a missing file has its own note
        expected = stored["files"].get(name)
        if expected is None:
            continue
        source = (Path(submission) / name).read_text(errors="replace")
        if expected.get("template") == _text_digest(source):
            untouched.append(name)
            continue
        key = (id(stored), name, source)
        if key not in _CHANGES:
            try:
                _CHANGES[key] = changes(expected, parsed(name, source))
            except (SyntaxError, ValueError, RecursionError):
                _CHANGES[key] = []  # an unparsable file already fails to import, with its own note
            if len(_CHANGES) > 4096:
                _CHANGES.pop(next(iter(_CHANGES)))
        changed = _CHANGES[key]
        if changed:
            out.append(f"{name} changes parts of the template that are not meant to be edited (this costs no "
                       f"points, but please keep them as given): {'; '.join(changed)}")
    if untouched:  # often the wrong folder handed in, or work saved elsewhere
        out.insert(0, f"{', '.join(untouched)} {'is' if len(untouched) == 1 else 'are'} unchanged from the released "
                      f"template{'' if len(untouched) == 1 else 's'}: "
                      f"{'is this the file' if len(untouched) == 1 else 'are these the files'} you worked on?")
    return out


def notebook_notes(notebook: str, sources: list[str], config_path: Path) -> list[str]:
    """The same notes for a notebook: its code cells (those that run) stand for every file at once."""
    stored = load(config_path)
    if stored is None:
        return []
    tree = ast.Module(body=[], type_ignores=[])
    for source in sources:
        try:
            tree.body += ast.parse(source).body  # in notebook order: a later definition wins, as when it runs
        except (SyntaxError, ValueError, RecursionError):
            continue  # a cell that does not compile has its own note
    changed = [c for expected in stored["files"].values() for c in changes(expected, tree, notebook=True)]
    if not changed:
        return []
    return [f"{notebook} changes parts of the template that are not meant to be edited (this costs no points, but "
            f"please keep them as given): {'; '.join(changed)}"]
