"""The assignment config: the real one is valid, bad ones fail with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import CONFIG, HOMEWORK, ROOT

from autograder.config import ConfigError, load_config


def test_real_config_is_valid_and_covers_the_spec(config):
    assert set(config.functions) == set(HOMEWORK.functions)
    kinds = {(t.function, t.kind) for t in config.tests}
    for name in HOMEWORK.functions:
        assert sum(t.points for t in config.tests if t.function == name) > 0
        assert (name, "inputs_unchanged") in kinds or name == "answers"
        assert any(t.function == name and t.hidden for t in config.tests)


def test_hidden_cases_differ_from_public_ones(config):
    for function in config.functions:
        public = {c["seed"] for t in config.tests if t.function == function and not t.hidden for c in t.cases}
        hidden = {c["seed"] for t in config.tests if t.function == function and t.hidden for c in t.cases}
        assert not public & hidden


def test_edge_cases_are_graded(config):
    cases = [(t.function, c) for t in config.tests for c in t.cases]
    assert any(f == "rnn_forward" and c["T"] == 1 for f, c in cases)
    assert any(f == "lstm_backward" and c["T"] == 1 for f, c in cases)
    assert any(c.get("N") == 1 for _, c in cases)
    assert any(f == "softmax_cross_entropy" and c.get("empty_sequence") for f, c in cases)
    assert any(t.stability and t.function == "softmax_cross_entropy" for t in config.tests)
    assert any(t.stability and t.function == "sigmoid" for t in config.tests)
    # N, T, D, H, K all different within each case, so a wrong axis shows.
    for _, c in cases:
        dims = [c[k] for k in "NTDHK" if k in c and not (k == "N" and c[k] == 1) and not (k == "T" and c[k] == 1)]
        assert len(dims) == len(set(dims)), c


def _broken(tmp_path, mutate) -> str:
    raw = yaml.safe_load(CONFIG.read_text())
    mutate(raw)
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as info:
        load_config(path, known_functions=HOMEWORK.required_case_keys())
    return str(info.value)


def test_bad_configs_name_the_problem(tmp_path):
    assert "missing required key 'questions'" in _broken(tmp_path, lambda r: r.pop("questions"))
    assert "'telepathy' is not one of" in _broken(
        tmp_path, lambda r: r["questions"][0]["tests"][0].update(kind="telepathy"))
    assert "visibility" in _broken(tmp_path, lambda r: r["questions"][0]["tests"][0].update(visibility="secret"))
    assert "points must not be negative" in _broken(tmp_path, lambda r: r["questions"][0]["tests"][0].update(points=-1))
    assert "unique" in _broken(tmp_path, lambda r: r["questions"][0]["tests"].append(r["questions"][0]["tests"][0]))
    assert "reuses a public seed" in _broken(
        tmp_path, lambda r: r["questions"][0]["tests"][1]["cases"].append({"seed": 1, "N": 9, "D": 8, "H": 7}))
    # rnn_step_forward's public case as a hidden case of rnn_step_backward (hidden calls are prepared by case).
    public_case = lambda r: dict(r["questions"][0]["tests"][0]["cases"][0])  # noqa: E731
    assert "is also a public test's case" in _broken(
        tmp_path, lambda r: r["questions"][1]["tests"][2]["cases"].append(public_case(r)))
    assert "lacks ['H']" in _broken(tmp_path, lambda r: r["questions"][0]["tests"][0]["cases"][0].pop("H"))
    assert "unknown keys ['pionts']" in _broken(tmp_path, lambda r: r["questions"][0]["tests"][0].update(pionts=1))
    assert "no grading recipe" in _broken(tmp_path, lambda r: r["questions"][0].update(function="rnn_magic"))
    assert "not among submission.files" in _broken(tmp_path, lambda r: r["questions"][0].update(module="other"))
    assert "limits.call_seconds must be positive" in _broken(tmp_path, lambda r: r["limits"].update(call_seconds=0))
    assert "tolerances.forward.rtol" in _broken(tmp_path, lambda r: r["tolerances"]["forward"].update(rtol="small"))


def test_unreadable_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "none.yaml")


def _with_homework(tmp_path, source: str | None, **keys) -> str:
    """The real config with absolute folders and a homework module of the given source (None: no file)."""
    raw = yaml.safe_load(CONFIG.read_text())
    raw["reference"] = str(CONFIG.parent / raw["reference"])
    raw["templates"] = str(CONFIG.parent / raw["templates"])
    raw.update(keys)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(raw))
    if source is not None:
        (tmp_path / "homework.py").write_text(source)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "a.yaml").homework  # noqa: B018 -- loading is what is tested
    return str(info.value)


def test_a_bad_homework_module_is_named(tmp_path):
    (tmp_path / "none").mkdir()
    assert "homework.py does not exist" in _with_homework(tmp_path / "none", None)
    for name, source, expected in [("raises", "raise ValueError('bad recipe')", "ValueError: bad recipe"),
                                   ("syntax", "FUNCTIONS = {", "SyntaxError"),
                                   ("empty", "X = 1", "AttributeError"),
                                   ("imports", "import no_such_module_here", "No module named")]:
        (tmp_path / name).mkdir()
        message = _with_homework(tmp_path / name, source)
        assert "cannot load the homework module" in message and expected in message, (name, message)
        assert str(tmp_path / name / "homework.py") in message
    (tmp_path / "named").mkdir()
    assert "recipe.py does not exist" in _with_homework(tmp_path / "named", None, homework="recipe.py")
    assert "homework: a .py file" in _with_homework(tmp_path / "named", None, homework="recipe.txt")


def test_assignment_names_resolve_to_their_folder(tmp_path):
    from autograder.config import config_path, default_assignment

    assert config_path("hw_seq2seq") == ROOT / "assignments" / "hw_seq2seq" / "assignment.yaml"
    assert config_path(None, "x/y.yaml") == Path("x/y.yaml")
    assert default_assignment() == (ROOT / "assignments" / "DEFAULT").read_text().split()[0] == "hw_rnn"
    for bad, message in [("hw_nothing", "no assignment 'hw_nothing'.*hw_rnn, hw_seq2seq"),
                         ("../solutions", "not an assignment name"), ("/etc", "not an assignment name")]:
        with pytest.raises(ConfigError, match=message):
            config_path(bad)
    with pytest.raises(ConfigError, match="not both"):
        config_path("hw_rnn", "x.yaml")
    (tmp_path / "DEFAULT").write_text("\n")
    with pytest.raises(ConfigError, match="no assignment given"):
        default_assignment(tmp_path)


def test_every_command_takes_the_assignment(tmp_path):
    from conftest import run_cli

    for args in (["templates", "--check"], ["check", str(ROOT / "solutions" / "hw_seq2seq")]):
        proc = run_cli(*args, "--assignment", "hw_seq2seq")
        assert proc.returncode == 0, proc.stderr
    proc = run_cli("grade", str(ROOT / "solutions" / "hw_rnn"), "--assignment", "hw_nothing")
    assert proc.returncode == 2 and "no assignment 'hw_nothing'" in proc.stderr
    proc = run_cli("grade", str(ROOT / "solutions" / "hw_rnn"), "--assignment", "hw_rnn", "--config", str(CONFIG))
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_a_behaviour_case_must_name_a_check_of_the_assignment(tmp_path):
    from conftest import write_config

    from autograder.config import command_config

    for check in ("no_such_check", "reverse_training", None):  # unknown; another assignment's; missing
        raw = yaml.safe_load(CONFIG.read_text())
        question = next(q for q in raw["questions"] if any(t["kind"] == "behaviour" for t in q["tests"]))
        test = next(t for t in question["tests"] if t["kind"] == "behaviour")
        test["cases"][0].pop("check")
        if check:
            test["cases"][0]["check"] = check
        (tmp_path / str(check)).mkdir()
        path = write_config(tmp_path / str(check), questions=raw["questions"])
        with pytest.raises(ConfigError, match="names no behaviour check of .*behaviours.py.*hello_training"):
            command_config(str(path))


def test_files_grading_needs_are_named_when_missing(tmp_path):
    """A config whose homework module, behaviours module or reference files are missing: one ConfigError that names
    each, before anything loads them; the behaviour tests' check says the module is missing, not that it is empty."""
    import shutil

    from conftest import SOLUTIONS, write_config

    from autograder.config import check_behaviours, check_required_files, content_digests, missing_files

    reference = tmp_path / "reference"
    shutil.copytree(SOLUTIONS, reference)
    path = write_config(tmp_path, homework=str(tmp_path / "homework.py"), behaviours=str(tmp_path / "behaviours.py"),
                        reference=str(reference))
    shutil.copyfile(CONFIG.parent / "homework.py", tmp_path / "homework.py")
    shutil.copyfile(CONFIG.parent / "behaviours.py", tmp_path / "behaviours.py")
    config = load_config(path)
    assert missing_files(config) == []
    check_required_files(config)
    digests = content_digests(config)
    (tmp_path / "homework.py").unlink()
    (tmp_path / "behaviours.py").unlink()
    (reference / "rnn_layers.py").unlink()
    assert content_digests(config) != digests and content_digests(config)["homework"] == ""
    with pytest.raises(ConfigError) as info:
        check_required_files(config)
    message = str(info.value)
    assert len(message.splitlines()) == 1 and message.startswith(f"{path}: ")
    for missing in ("homework module", "behaviours module", "reference solution file"):
        assert missing in message, message
    assert str(reference / "rnn_layers.py") in message and "do not exist" in message
    with pytest.raises(ConfigError, match="behaviours module .*behaviours.py does not exist"):
        check_behaviours(config)


@pytest.mark.parametrize("command", ["grade", "check"])
def test_a_copied_config_whose_reference_is_elsewhere_is_one_line(command, tmp_path):
    """The shipped config names its reference relative to its folder: copied elsewhere, it points nowhere.  grade
    and check say so in one line (exit 2), as grade-all does, instead of a traceback."""
    import shutil

    from conftest import SOLUTIONS, run_cli

    copy = tmp_path / "cfg"
    shutil.copytree(CONFIG.parent, copy)
    proc = run_cli(command, str(SOLUTIONS), "--config", str(copy / CONFIG.name))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "the reference solution folder" in lines[0] and "does not exist" in lines[0], lines
