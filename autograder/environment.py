"""What in a submission depends on the Python and numpy that run it, told before it costs points.

The grader runs one Python and one numpy (``grader:`` in assignment.yaml: the Gradescope image's
Python 3.10 and the course server's 3.11, with numpy as pinned in requirements.txt); students run
their own.  Code that works on theirs can fail on the grader's:

* syntax the grader's oldest Python cannot parse (``ast.parse(..., feature_version=...)`` finds
  ``type X = ...`` and ``except*``; f-strings that reuse their quotes inside, new in 3.12 (PEP 701),
  are found from the tokens, since ``feature_version`` does not check them);
* numpy names the grader's numpy no longer has (``np.Inf``: NumPy 2.0 removed about fifty aliases,
  listed in numpy's own ``numpy/_expired_attrs_2_0.py``; 2.4 removed more);
* modules outside ``allowed_imports`` (the grader's Python has numpy and the standard library only).

The grader, the self-check (``selfcheck.py``) and the notebook checks (``checks_api.py``) all use
these functions, so a student hears the same words before submitting as after.  Standard library
only at the top: the self-check imports this before it knows numpy is there.
"""

from __future__ import annotations

import ast
import functools
import io
import sys
import token
import tokenize
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# numpy names removed (or deprecated, warning on use) by a numpy version: name -> (version, what to use).
# From numpy's numpy/_expired_attrs_2_0.py (2.0), the 2.0 and 2.4 release notes; tests/test_environment.py
# checks each entry against the numpy installed.
REMOVED_NUMPY = {
    **{name: ("2.0", "np.inf") for name in ("Inf", "Infinity", "PINF", "infty")},
    "NINF": ("2.0", "-np.inf"), "NaN": ("2.0", "np.nan"), "NZERO": ("2.0", "-0.0"), "PZERO": ("2.0", "0.0"),
    "float_": ("2.0", "np.float64"), "complex_": ("2.0", "np.complex128"), "cfloat": ("2.0", "np.complex128"),
    "longfloat": ("2.0", "np.longdouble"), "singlecomplex": ("2.0", "np.complex64"),
    "clongfloat": ("2.0", "np.clongdouble"), "longcomplex": ("2.0", "np.clongdouble"),
    "string_": ("2.0", "np.bytes_"), "unicode_": ("2.0", "np.str_"), "round_": ("2.0", "np.round"),
    "alltrue": ("2.0", "np.all"), "sometrue": ("2.0", "np.any"), "product": ("2.0", "np.prod"),
    "cumproduct": ("2.0", "np.cumprod"), "asfarray": ("2.0", "np.asarray(x, dtype=np.float64)"),
    "mat": ("2.0", "np.asmatrix"), "msort": ("2.0", "np.sort(a, axis=0)"), "issubclass_": ("2.0", "issubclass"),
    "find_common_type": ("2.0", "np.result_type"), "cast": ("2.0", "np.asarray(x, dtype=...)"),
    "safe_eval": ("2.0", "ast.literal_eval"), "set_string_function": ("2.0", "np.set_printoptions"),
    "in1d": ("2.4", "np.isin"), "trapz": ("2.4", "np.trapezoid"),
    # Deprecated in 2.0: still there, but a call warns (and a stability test fails on any warning).
    "row_stack": ("2.0", "np.vstack"),
}
DEPRECATED_ONLY = {"row_stack"}
# The PEP 701 f-string syntax (quotes reused inside, backslashes or comments in {...}) is new in 3.12.
FSTRING_PYTHON = (3, 12)
STAR_SUBSCRIPT_PYTHON = (3, 11)  # a[*i, j] (PEP 646)


@dataclass(frozen=True)
class Environment:
    """The grader's Pythons and numpys (major.minor) and the modules graded code may import."""

    pythons: tuple[str, ...] = ()  # e.g. ("3.10", "3.11"); empty: unknown
    numpys: tuple[str, ...] = ()  # e.g. ("2.2", "2.4")
    allowed_modules: tuple[str, ...] | None = None  # top-level names; None: any module
    standard_library: bool = True  # the standard library is allowed too

    def describe_allowed(self) -> str:
        names = list(self.allowed_modules or ())
        if self.standard_library:
            names.append("the standard library")
        return " and ".join(names) if names else "nothing"

    def allows(self, module: str, own: Iterable[str] = ()) -> bool:
        """Whether graded code may import ``module`` (dotted names count by their top level)."""
        top = module.split(".")[0]
        if self.allowed_modules is None or top in own or top == "__future__":
            return True
        return top in self.allowed_modules or (self.standard_library and top in sys.stdlib_module_names)


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _versions(values: Iterable[str]) -> str:
    return ", ".join(values)


# -- the running interpreter and numpy ---------------------------------------------
def python_notes(env: Environment, running: tuple[int, int] | None = None) -> list[str]:
    """A warning when this Python is not one the grader runs; empty when it is (or the grader's is unknown)."""
    running = running or sys.version_info[:2]
    if not env.pythons or f"{running[0]}.{running[1]}" in env.pythons:
        return []
    mine = f"{running[0]}.{running[1]}"
    pythons = [_version(v) for v in env.pythons]
    if running > max(pythons):
        return [f"you run Python {mine}, newer than the grader's ({_versions(env.pythons)}): code that only a newer "
                "Python accepts (such as an f-string reusing its quotes inside, 3.12) passes here but fails in "
                "the grader; the checks below look for it, but test with the grader's Python if you can"]
    return [f"you run Python {mine}, not one the grader runs ({_versions(env.pythons)}): results here may differ "
            "from the grader's"]


def numpy_notes(env: Environment, version: str) -> list[str]:
    """A warning when this numpy's major.minor is not one the grader runs."""
    if not env.numpys:
        return []
    mine = ".".join(version.split(".")[:2])
    if mine in env.numpys:
        return []
    grader_major = {v.split(".")[0] for v in env.numpys}
    text = f"you run numpy {version}, the grader numpy {_versions(env.numpys)}: "
    if mine.split(".")[0] not in grader_major:
        text += ("a different major version, where names were removed (np.Inf, np.NaN, np.float_, np.product...) "
                 "and results can differ; code that passes here can fail there. ")
    else:
        text += "results can differ slightly. "
    return [text + "Install the grader's numpy: pip install -r requirements.txt"]


# -- graded source -------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def parsed(file: str, source: str) -> ast.Module:
    """This Python's syntax tree of a graded file, made once per text: the notes below and the template
    fingerprints (grading/fingerprint.py) read the same tree, and none may change it.  Raises SyntaxError (and
    ValueError for a null byte, RecursionError for absurd nesting)."""
    return ast.parse(source, file)


def syntax_notes(file: str, source: str, env: Environment, tree: ast.AST | None = None) -> list[str]:
    """Syntax the grader's oldest Python cannot parse (when this Python parses the file at all; ``tree``:
    this Python's parse of it, when already made)."""
    if not env.pythons:
        return []
    oldest = min(_version(v) for v in env.pythons)
    label = f"{oldest[0]}.{oldest[1]}"
    if tree is None:
        try:
            ast.parse(source, file)
        except SyntaxError:
            return []  # this Python cannot parse it either: importing the file says so
    # What the course grades with (its config's oldest Python): this Python may be a newer one.
    there = f"the course grades with Python {label} too (the oldest its config names), where this is a SyntaxError " \
            "and every function of the file fails"
    if oldest < sys.version_info[:2]:
        try:
            ast.parse(source, file, feature_version=oldest)
        except SyntaxError as exc:
            return [f"{file} line {exc.lineno}: {exc.msg}; {there}"]
    if oldest < STAR_SUBSCRIPT_PYTHON:
        line = _star_subscript_line(tree if tree is not None else ast.parse(source, file))
        if line:
            return [f"{file} line {line}: a starred item inside the brackets of an index (a[*i, j]) or in a *args "
                    f"annotation (PEP 646) needs Python 3.11; {there}: index with a tuple instead, a[(*i, j)] or "
                    "a[tuple(i) + (j,)]"]
    if oldest < FSTRING_PYTHON:
        line = _new_fstring_line(source)
        if line:
            return [f"{file} line {line}: an f-string that reuses its quotes (or has a backslash or a comment) "
                    f"inside {{...}} needs Python 3.12; {there}: use the other quote inside"]
    return []


def _star_subscript_line(tree: ast.AST) -> int | None:
    """The first line indexing with a starred item (``a[*i, j]``) or annotating ``*args`` with one, which Python
    3.11 accepts (PEP 646) and ``ast.parse``'s ``feature_version`` does not reject; None when there is none."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            # A tuple in parentheses (a[(*i, j)]) is valid before 3.11: its first item starts after the bracket.
            parenthesized = isinstance(node.slice, ast.Tuple) and node.slice.col_offset != items[0].col_offset \
                if items else False
            if any(isinstance(item, ast.Starred) for item in items) and not parenthesized:
                return node.lineno
        elif isinstance(node, ast.arguments) and node.vararg is not None \
                and isinstance(node.vararg.annotation, ast.Starred):
            return node.vararg.lineno
    return None


def _new_fstring_line(source: str) -> int | None:
    """The first line of an f-string written in 3.12-only syntax (PEP 701), or None.

    Only a Python that tokenizes f-strings (3.12+) can accept such code at all, so only there is it found.
    """
    start = getattr(token, "FSTRING_START", None)
    if start is None:
        return None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    quotes: list[str] = []  # the quote of each open f-string
    for tok in tokens:
        if tok.type == start:
            prefix_end = len(tok.string.rstrip("\"'"))
            quote = tok.string[prefix_end:]
            if quotes and quote[0] == quotes[-1][0]:
                return tok.start[0]
            quotes.append(quote)
        elif tok.type == token.FSTRING_END:
            quotes.pop()
        elif quotes and tok.type == token.STRING:
            body = tok.string.lstrip("rRbBuU")
            if body[0] == quotes[-1][0]:
                return tok.start[0]
        elif quotes and tok.type == token.COMMENT:
            return tok.start[0]
    return None


def _numpy_aliases(nodes: list[ast.AST]) -> set[str]:
    """The names numpy is imported as (``import numpy as np`` gives {"np"})."""
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name == "numpy"}
    return names


_WALKED: list = [None, None]  # the last tree walked and its nodes: each file's notes read them twice


def forget_parsed() -> None:
    """Drop the syntax trees kept for one grading: a worker of grade-all grades a whole class, and a tree
    takes about a megabyte."""
    parsed.cache_clear()
    _WALKED[:] = [None, None]


def _nodes(file: str, source: str, tree: ast.AST | None) -> list[ast.AST] | None:
    """Every import and attribute node of the file's syntax tree (parsed unless given), or None when it does not
    parse."""
    if tree is None:
        try:
            tree = ast.parse(source, file)
        except SyntaxError:
            return None
    if _WALKED[0] is not tree:
        kinds = (ast.Import, ast.ImportFrom, ast.Attribute)
        _WALKED[:] = [tree, [node for node in ast.walk(tree) if isinstance(node, kinds)]]
    return _WALKED[1]


def removed_numpy_notes(file: str, source: str, env: Environment, tree: ast.AST | None = None) -> list[str]:
    """numpy names used in the source that the grader's numpy lacks (or warns on)."""
    nodes = _nodes(file, source, tree)
    if nodes is None:
        return []
    aliases, found = _numpy_aliases(nodes), {}
    for node in nodes:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr in REMOVED_NUMPY:
                found.setdefault(node.attr, (node.value.id, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy":
            for a in node.names:
                if a.name in REMOVED_NUMPY:
                    found.setdefault(a.name, ("numpy", node.lineno))
    return [_removed_note(f"{file} line {line}", f"{alias}.{name}", name, env)
            for name, (alias, line) in sorted(found.items(), key=lambda kv: kv[1][1])]


def _removed_note(where: str, used: str, name: str, env: Environment) -> str:
    version, instead = REMOVED_NUMPY[name]
    grader = f" (the grader runs numpy {_versions(env.numpys)})" if env.numpys else ""
    if name in DEPRECATED_ONLY:
        return f"{where}: {used} is deprecated since numpy {version} and warns when called{grader}; use {instead}"
    return f"{where}: {used} was removed in numpy {version}{grader}, so it fails there; use {instead}"


def import_notes(file: str, source: str, env: Environment, own: Iterable[str] = (),
                 tree: ast.AST | None = None) -> list[str]:
    """Imports of modules outside ``allowed_imports`` (absolute imports; a file's own modules are allowed)."""
    nodes = _nodes(file, source, tree)
    if nodes is None:
        return []
    notes = []
    for node in nodes:
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules = [node.module]
        else:
            continue
        notes += [f"{file} line {node.lineno} imports {m}: {not_allowed(m, env)}"
                  for m in modules if not env.allows(m, own)]
    return notes


def not_allowed(module: str, env: Environment) -> str:
    """Why importing ``module`` fails in the grader (one sentence, shared by every check)."""
    return (f"graded code may import only {env.describe_allowed()}; the grader's Python does not have "
            f"{module.split('.')[0]}, so that import fails there")


_SOURCE_NOTES: dict[tuple, list[str]] = {}  # a class shares many files byte for byte (untouched ones, for a start)


def source_notes(file: str, source: str, env: Environment, own: Iterable[str] = ()) -> list[str]:
    """Everything above about one file of graded source (parsed once; the same text gets the same notes)."""
    key = (file, source, env, tuple(own))
    if key not in _SOURCE_NOTES:
        try:
            tree = parsed(file, source)
        except (SyntaxError, ValueError, RecursionError):
            return []  # this Python cannot parse it: importing the file says so
        _SOURCE_NOTES[key] = (syntax_notes(file, source, env, tree) + removed_numpy_notes(file, source, env, tree)
                              + import_notes(file, source, env, own, tree))
        if len(_SOURCE_NOTES) > 4096:  # a long-lived worker: keep memory bounded
            _SOURCE_NOTES.pop(next(iter(_SOURCE_NOTES)))
    return list(_SOURCE_NOTES[key])


# -- functions defined in a notebook ---------------------------------------------------
def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def function_notes(fn: object, namespace: Mapping[str, object], env: Environment, own: Iterable[str] = ()) -> list[str]:
    """For a function defined in a notebook: the global names it uses that come from modules outside
    ``allowed_imports`` (``plt`` for matplotlib.pyplot), and the removed numpy names it uses."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    name = getattr(fn, "__name__", "this function")
    notes, used = [], sorted(_code_names(code))
    numpy_names = {n for n, v in namespace.items() if isinstance(v, types.ModuleType) and v.__name__ == "numpy"}
    for global_name in used:
        value = namespace.get(global_name)
        if value is None:
            continue
        module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if not isinstance(module, str) or module in ("__main__", "builtins") or module.startswith("_"):
            continue
        if not env.allows(module, own):
            notes.append(f"{name} uses {global_name}, from {module}: {not_allowed(module, env)}")
    if numpy_names:
        # co_names holds attribute names too: np.Inf gives "Inf"; only those of a numpy alias are reported.
        notes += [_removed_note(name, f"{alias}.{attr}", attr, env) for alias, attr in _removed_attributes(fn, code)
                  if alias in numpy_names]
    return list(dict.fromkeys(notes))


_REMOVED_ATTRIBUTES: dict[types.CodeType, list[tuple[str, str]]] = {}  # a notebook's checks ask again and again


def _removed_attributes(fn: object, code: types.CodeType) -> list[tuple[str, str]]:
    """(name, attribute) for each ``name.attribute`` in ``fn``'s source whose attribute numpy removed (any name:
    which are numpy's depends on the namespace).  Parsed once per code object."""
    if code not in _REMOVED_ATTRIBUTES:
        if not REMOVED_NUMPY.keys() & _code_names(code):  # no such attribute name anywhere: nothing to parse
            found = []
        else:
            try:
                import inspect

                tree = ast.parse(inspect.getsource(fn))
            except (OSError, TypeError, SyntaxError, IndentationError):
                tree = None
            found = [] if tree is None else [
                (node.value.id, node.attr) for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name) and node.attr in REMOVED_NUMPY]
        if len(_REMOVED_ATTRIBUTES) > 4096:  # a long-lived kernel: keep memory bounded
            _REMOVED_ATTRIBUTES.clear()
        _REMOVED_ATTRIBUTES[code] = found
    return _REMOVED_ATTRIBUTES[code]
