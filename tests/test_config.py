"""The assignment config: the real one is valid, bad ones fail with a clear message."""

from __future__ import annotations

import pytest
import yaml
from conftest import CONFIG, HOMEWORK

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
    assert "lacks ['H']" in _broken(tmp_path, lambda r: r["questions"][0]["tests"][0]["cases"][0].pop("H"))
    assert "unknown keys ['pionts']" in _broken(tmp_path, lambda r: r["questions"][0]["tests"][0].update(pionts=1))
    assert "no grading recipe" in _broken(tmp_path, lambda r: r["questions"][0].update(function="rnn_magic"))
    assert "not among submission.files" in _broken(tmp_path, lambda r: r["questions"][0].update(module="other"))
    assert "limits.call_seconds must be positive" in _broken(tmp_path, lambda r: r["limits"].update(call_seconds=0))
    assert "tolerances.forward.rtol" in _broken(tmp_path, lambda r: r["tolerances"]["forward"].update(rtol="small"))


def test_unreadable_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "none.yaml")
