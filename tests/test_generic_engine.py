"""The engine knows no homework: no file under autograder/ names anything of any assignment.

The names come from every assignments/*/assignment.yaml and the homework and behaviours modules it
loads: the assignment and its folder, submission files and their modules, graded functions, case keys,
behaviour checks and the homework module's own constants.  A few are also ordinary words or part of
the engine's own protocol (``seed``, the ``check`` a behaviour case names, the ``question`` of a quiz
case); single letters (N, T, ...) are the engine's notation for array layouts, e.g. (N, T, ...).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

from autograder.config import available_assignments, config_path, load_config

# Words that some assignment uses as a name but that are ordinary English or the engine's protocol.
GENERIC = {"seed", "check", "question", "quiz", "answers", "below", "inputs", "length", "scale", "start", "steps",
           "task", "text", "extreme", "END", "mask", "ratio", "radius", "accuracy", "temperature", "sample"}
# The homework module's protocol (autograder/spec.py), and what homework modules import from the engine.
PROTOCOL = {"FUNCTIONS", "GRADIENTS", "TIME_AXES", "SEQUENCE_FUNCTIONS", "TIME_KEYS", "STABILITY_HINT", "BEHAVIOURS",
            "CALLS", "PATTERN_HINTS", "Function", "Gradient", "Inputs", "build_inputs", "sibling", "homework",
            "forward_inputs"}
ASSIGNMENTS = available_assignments()
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def defined_names(path: Path) -> set[str]:
    """The names a module defines at its top level (functions, classes, constants), not those it imports."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def assignment_names(name: str) -> dict[str, str]:
    """Every name assignment ``name`` defines, with what it is."""
    config = load_config(config_path(name))
    homework = config.homework
    names = {name: "the assignment's folder", config.assignment: "the assignment"}
    for file in config.files:
        names[file] = names[file[:-3]] = "a submission file"
    for function, fn in homework.functions.items():
        names[function] = "a graded function"
        names[fn.module] = "a submission module"
        names.update(dict.fromkeys(fn.required, "a case key"))
    for test in config.tests:
        for case in test.cases:
            names.update(dict.fromkeys(case, "a case key"))
            if "check" in case:
                names[case["check"]] = "a behaviour check"
    names.update(dict.fromkeys(homework.behaviours, "a behaviour check"))
    for path in (homework.path, config.behaviours_path):
        if path is not None and path.is_file():
            names.update(dict.fromkeys(defined_names(path), f"defined in {path.name}"))
    return {n: what for n, what in names.items() if len(n) > 2 and n not in GENERIC | PROTOCOL}


def test_there_are_two_assignments_with_names_to_look_for():
    assert {"hw_rnn", "hw_seq2seq"} <= set(ASSIGNMENTS)
    for name in ASSIGNMENTS:
        names = assignment_names(name)
        assert len(names) > 20, name  # functions, files, keys: the scan has something to find


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_engine_file_names_the_assignment(assignment):
    names = assignment_names(assignment)
    found = []
    for path in sorted((ROOT / "autograder").rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {word} ({names[word]})"
                      for word in dict.fromkeys(WORD.findall(line)) if word in names]
    assert not found, "\n".join(found[:20])


def test_the_scan_finds_names_where_they_are(tmp_path):
    """The same scan on a line that names hw_rnn's and hw_seq2seq's functions, files and keys finds each."""
    rnn, seq = assignment_names("hw_rnn"), assignment_names("hw_seq2seq")
    line = 'from rnn_layers import rnn_forward; case["T_src"]; open("encoder.py"); hello_training; "hw_rnn"'
    words = set(WORD.findall(line))
    assert {"rnn_layers", "rnn_forward", "hello_training", "hw_rnn"} <= words & set(rnn)
    assert {"T_src", "encoder"} <= words & set(seq)
    assert not words & (GENERIC | PROTOCOL) - {"open"}


def test_no_engine_module_is_left_where_homework_used_to_live():
    assert not (ROOT / "autograder" / "homework.py").exists()
    assert not (ROOT / "autograder" / "behaviours.py").exists()
    for name in ASSIGNMENTS:
        assert (ROOT / "assignments" / name / "homework.py").is_file()
        assert Path(load_config(config_path(name)).homework.path).parent == ROOT / "assignments" / name
