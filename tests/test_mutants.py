"""The mutation corpus: realistic single-bug submissions lose points in exactly the functions they break."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import HOMEWORK, grade_cli, lost_functions, make_submission
from time_axes import check_time_wording

CORPUS = yaml.safe_load((Path(__file__).parent / "corpus" / "mutants.yaml").read_text())


def test_corpus_is_large_and_well_formed():
    assert len(CORPUS) >= 25
    assert len({m["name"] for m in CORPUS}) == len(CORPUS)
    for mutant in CORPUS:
        assert mutant["breaks"] and set(mutant["breaks"]) <= set(HOMEWORK.functions), mutant["name"]


@pytest.mark.parametrize("mutant", CORPUS, ids=[m["name"] for m in CORPUS])
def test_mutant_loses_points_exactly_where_it_breaks(mutant, tmp_path, validate_results):
    submission = make_submission(tmp_path / mutant["name"], mutant["edits"])
    _, results = grade_cli(submission, tmp_path)
    validate_results(results)
    assert lost_functions(results) == set(mutant["breaks"]), mutant["why"]
    for test in results["tests"]:
        if test["score"] < test["max_score"]:
            assert test["output"] and test["output"] != "passed"
            # A time step (and T) only for an array with a time axis, read from that axis.
            check_time_wording("hw_rnn", test["name"].split(":", 1)[0], test["output"],
                               hidden=test["visibility"] != "visible")


def test_behaviour_tests_catch_what_the_forward_tests_miss(tmp_path, config):
    """Training that stops after three steps passes the three-step forward tests; learning "hello" fails it."""
    mutant = next(m for m in CORPUS if m["name"] == "train_char_rnn_stops_after_three_steps")
    _, results = grade_cli(make_submission(tmp_path / mutant["name"], mutant["edits"]), tmp_path)
    lost = {t["name"] for t in results["tests"] if t["score"] < t["max_score"]}
    behaviour = {t.full_name for t in config.tests if t.function == "train_char_rnn" and t.kind == "behaviour"}
    assert len(behaviour) == 2 and lost == behaviour
