"""Protected template parts: a changed signature or docstring is reported in the grade report, at no cost."""

from __future__ import annotations

import pytest
from conftest import CONFIG, FILES, SOLUTIONS, TEMPLATES, VARIANTS, grade_cli, make_submission

from autograder.grading import fingerprint
from autograder.grading.grader import grade

WARNING = "not meant to be edited"


def test_stored_fingerprints_match_the_templates():
    assert not fingerprint.stale(TEMPLATES, FILES, CONFIG), "run `make templates`"
    stored = fingerprint.load(CONFIG)
    assert set(stored["files"]) == set(FILES)
    assert stored["files"]["rnn_layers.py"]["functions"]["rnn_forward"]["arguments"] == "x, s0, U, W, b"
    statements = stored["files"]["char_rnn.py"]["statements"].values()
    assert any(line.startswith("VOCAB = ") for line in statements)
    assert not any("import" in line for f in stored["files"].values() for line in f["statements"].values())


@pytest.mark.parametrize("submission", [SOLUTIONS, TEMPLATES], ids=["reference", "templates"])
def test_reference_and_templates_get_no_warning(submission, config):
    report = grade(submission, config, public_only=True)
    assert not [n for n in report.notes if WARNING in n]


def test_changed_signature_and_docstring_are_reported_and_cost_nothing(tmp_path, validate_results):
    sub = make_submission(tmp_path / "edited", [
        {"file": "lstm_layers.py", "find": "def sigmoid(z):", "replace": "def sigmoid(z, clip=None):"},
        {"file": "rnn_layers.py", "find": "One step of the vanilla RNN:", "replace": "My RNN step:"},
    ])
    _, results = grade_cli(sub, tmp_path)
    validate_results(results)
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    output = " ".join(results["output"].split())
    assert "lstm_layers.py changes parts of the template" in output
    assert "sigmoid takes (z, clip=None) but the template has (z)" in output
    assert "rnn_layers.py changes parts of the template" in output
    assert "the docstring of rnn_step_forward was changed" in output
    assert "rnn_forward" not in output.split("rnn_layers.py changes", 1)[1].split("Score:")[0]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda p: p.name)
def test_variants_written_from_scratch_keep_every_signature(variant, config, tmp_path):
    """They rewrote docstrings (reported) and added helpers and imports (allowed), and lose nothing."""
    report = grade(make_submission(tmp_path / variant.name, base=variant), config)
    assert report.score == report.max_score
    warnings = " ".join(n for n in report.notes if WARNING in n)
    assert "docstring" in warnings
    assert " takes (" not in warnings and "missing" not in warnings and "given line" not in warnings


def test_what_counts_as_a_change():
    template = (TEMPLATES / "rnn_layers.py").read_text()
    expected = fingerprint.protected_parts(template)
    # Formatting, comments, re-indented docstrings, helpers and extra imports are not changes.
    reformatted = template.replace("def rnn_forward(x, s0, U, W, b):", "def rnn_forward(x, s0,  U, W, b):  # mine")
    reformatted = reformatted.replace("    Args:\n", "    Args:   \n") + "\nimport math\n\n\ndef _helper():\n    pass\n"
    assert fingerprint.changes(expected, reformatted) == []
    dropped = template.replace("def clip_gradients(grads, max_norm):", "def clip(grads, max_norm):")
    dropped = dropped.replace("import numpy as np\n", "import numpy\nimport numpy as np\n")  # imports are free
    assert fingerprint.changes(expected, dropped) == ["clip_gradients is missing"]
    char = (TEMPLATES / "char_rnn.py").read_text()
    found = fingerprint.changes(fingerprint.protected_parts(char), char.replace('VOCAB = ("h", "e", "l", "o")',
                                                                                'VOCAB = ("h", "e", "l")'))
    assert found == ["the given line `VOCAB = ('h', 'e', 'l', 'o')` is missing or changed"]
    swapped = template.replace("def rnn_forward(x, s0, U, W, b):", "def rnn_forward(x, s0, W, U, b):")
    assert fingerprint.changes(expected, swapped) == [
        "rnn_forward takes (x, s0, W, U, b) but the template has (x, s0, U, W, b)"]


def test_an_unparsable_file_gets_its_import_error_not_a_fingerprint_crash(tmp_path, config):
    sub = make_submission(tmp_path / "broken", [
        {"file": "lstm_layers.py", "find": "def sigmoid(z):", "replace": "def sigmoid(z)"}])
    report = grade(sub, config, public_only=True)
    assert not report.grader_errors
    assert any("could not be imported" in n for n in report.notes)
    assert not [n for n in report.notes if WARNING in n]


def test_code_put_above_a_docstring_is_named_as_such():
    """A statement inserted above a docstring turns it into a plain string: the note says where the code went,
    not that the docstring was rewritten (it was not)."""
    template = (TEMPLATES / "rnn_layers.py").read_text()
    expected = fingerprint.protected_parts(template)
    head, rest = template.split("def clip_gradients(grads, max_norm):\n", 1)
    above = head + "def clip_gradients(grads, max_norm):\n    total = 0.0\n" + rest
    assert fingerprint.changes(expected, above) == [
        "code was put above the docstring of clip_gradients (a docstring must stay the function's first statement)"]
    both = above.replace("One step of the vanilla RNN:", "My RNN step:")
    assert fingerprint.changes(expected, both) == [
        "code was put above the docstring of clip_gradients (a docstring must stay the function's first statement)",
        "the docstring of rnn_step_forward was changed"]
    # The same for the module docstring: an import moved above it.
    moved = "import numpy as np\n" + template
    assert fingerprint.changes(expected, moved) == [
        "code was put above the module docstring (it must stay the file's first statement)"]
    rewritten = "import numpy as np\n" + template.replace(ast_docstring(template), "Mine.", 1)
    assert fingerprint.changes(expected, rewritten) == ["the module docstring was changed"]


def ast_docstring(source: str) -> str:
    import ast

    return ast.get_docstring(ast.parse(source), clean=False)


def test_files_handed_in_as_released_are_named(tmp_path, config):
    """A file identical to its template (line endings and trailing spaces aside) gets one note naming it: the
    student may have handed in the wrong folder.  Any edit, and the reference, get none."""
    untouched = "unchanged from the released template"
    report = grade(TEMPLATES, config, public_only=True)
    note = next(n for n in report.notes if untouched in n)
    assert note == f"{', '.join(FILES)} are unchanged from the released templates: are these the files you worked on?"
    half = make_submission(tmp_path / "half", base=TEMPLATES)
    (half / "rnn_layers.py").write_text((SOLUTIONS / "rnn_layers.py").read_text())
    crlf = (TEMPLATES / "quiz.py").read_text().replace("\n", "  \r\n")  # a Windows editor's line endings
    (half / "quiz.py").write_bytes(crlf.encode())
    note = next(n for n in grade(half, config, public_only=True).notes if untouched in n)
    assert note.startswith(f"{', '.join(f for f in FILES if f != 'rnn_layers.py')} are unchanged")
    one = make_submission(tmp_path / "one", base=SOLUTIONS)
    (one / "quiz.py").write_text((TEMPLATES / "quiz.py").read_text())
    assert [n for n in grade(one, config, public_only=True).notes if untouched in n] == [
        "quiz.py is unchanged from the released template: is this the file you worked on?"]
    edited = make_submission(tmp_path / "edited", base=TEMPLATES)
    for name in FILES:
        (edited / name).write_text((edited / name).read_text() + "\n# started\n")
    assert not [n for n in grade(edited, config, public_only=True).notes if untouched in n]
    assert not [n for n in grade(SOLUTIONS, config, public_only=True).notes if untouched in n]


def test_a_config_copied_without_its_fingerprints_is_said_to_the_staff(tmp_path):
    """A TA who copies the config but not fingerprints.json loses the notes on untouched and changed templates:
    grade and grade-all say so on stderr (and still grade), and say nothing when the file is there."""
    from conftest import run_cli, write_config

    config = write_config(tmp_path)
    untouched = make_submission(tmp_path / "class" / "untouched", base=TEMPLATES)
    warning = f"no fingerprints.json beside {config}"
    kept = run_cli("grade", str(untouched), "--config", str(config), "--results", str(tmp_path / "a.json"))
    assert kept.returncode == 0 and warning not in kept.stderr
    config.with_name("fingerprints.json").unlink()
    lost = run_cli("grade", str(untouched), "--config", str(config), "--results", str(tmp_path / "b.json"))
    assert lost.returncode == 0 and warning in lost.stderr, lost.stderr
    batch = run_cli("grade-all", str(tmp_path / "class"), "--config", str(config), "--out", str(tmp_path / "out"),
                    "--no-progress")
    assert batch.returncode == 0 and batch.stderr.count(warning) == 1, batch.stderr


def test_a_templates_folder_that_is_not_there_is_said_to_the_staff(tmp_path):
    """A copied config whose templates: points nowhere: grade-all says so on stderr, and the similarity report
    says that no released code was left out (it said the folder's code was)."""
    from conftest import run_cli, write_config

    config = write_config(tmp_path, templates=str(tmp_path / "no_such_templates"))
    for name in ("a", "b"):
        make_submission(tmp_path / "class" / name)
    batch = run_cli("grade-all", str(tmp_path / "class"), "--config", str(config), "--out", str(tmp_path / "out"),
                    "--no-progress")
    assert batch.returncode == 0, batch.stderr
    assert batch.stderr.count(f"the templates folder {tmp_path / 'no_such_templates'} (templates: in {config}) "
                              "does not exist") == 1, batch.stderr
    report = (tmp_path / "out" / "similarity" / "report.html").read_text()
    assert "No released code is excluded" in report and "is excluded before comparing" not in report
    # One submission graded alone (grade, Gradescope's run) has no similarity report: nothing to say.
    alone = run_cli("grade", str(tmp_path / "class" / "a"), "--config", str(config), "--results",
                    str(tmp_path / "a.json"))
    assert alone.returncode == 0 and "the templates folder" not in alone.stderr, alone.stderr
