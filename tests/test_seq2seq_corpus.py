"""hw_seq2seq's mutation corpus and correct variants, checked in-process (a test of the corpus, not the grader).

Each mutant's edits apply exactly once to the reference, and on the cases of assignment.yaml (public and
hidden) the mutant changes what the tests of exactly the functions in its `breaks` see: outputs, gradients
on its own forward's cache, inputs left alone, gradients consistent with its own forward, behaviours.  Each
correct variant agrees with the reference on every case within the forward tolerance and passes the
behaviours.
"""

from __future__ import annotations

import pytest
from seq2seq_support import (
    FILES,
    FUNCTIONS,
    MUTANTS,
    ROOT,
    SOLUTIONS,
    VARIANTS,
    config_cases,
    inputs,
    load_submission,
    make_submission,
    observe,
    same,
)

from autograder.release import templates

REF = load_submission(SOLUTIONS)
EXPECTED = {name: [observe(REF, REF, name, c) for c in config_cases(name)] for name in FUNCTIONS}


def changed_functions(modules: dict) -> dict[str, str]:
    """The graded functions whose observations differ from the reference's, each with its first differing case."""
    changed = {}
    for name in FUNCTIONS:
        for case, want in zip(config_cases(name), EXPECTED[name]):
            got = observe(modules, REF, name, case)
            if not same(got, want):
                changed[name] = f"seed {case['seed']}: {sorted(k for k in got if k not in want or k == 'error')}"
                break
    return changed


def test_the_reference_passes_its_own_checks():
    for name, observations in EXPECTED.items():
        for case, seen in zip(config_cases(name), observations):
            assert "error" not in seen, (name, case)
            assert seen.get("consistent", True) is True, (name, case)
            assert seen.get("behaviour", True) is True, (name, case)


def test_corpus_is_large_and_well_formed():
    assert len(MUTANTS) >= 12
    assert len({m["name"] for m in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        assert mutant["why"] and mutant["edits"], mutant["name"]
        assert mutant["breaks"] and set(mutant["breaks"]) <= set(FUNCTIONS), mutant["name"]
    # Between them the mutants reach every graded function.
    assert set().union(*(m["breaks"] for m in MUTANTS)) == set(FUNCTIONS) - {"embed_forward"}


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # masked_cross_entropy_unstable overflows, as meant
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m["name"] for m in MUTANTS])
def test_mutant_changes_exactly_the_functions_it_breaks(mutant, tmp_path):
    folder = make_submission(tmp_path / mutant["name"], mutant["edits"])  # asserts each find occurs once
    assert any((folder / e["file"]).read_text() != (SOLUTIONS / e["file"]).read_text() for e in mutant["edits"])
    changed = changed_functions(load_submission(folder))
    assert set(changed) == set(mutant["breaks"]), (changed, mutant["why"])


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_matches_the_reference(variant, tmp_path):
    own = sorted(p.name for p in variant.glob("*.py"))
    assert own, "a variant rewrites at least one file"
    for name in own:
        assert (variant / name).read_text() != (SOLUTIONS / name).read_text()
    modules = load_submission(make_submission(tmp_path / variant.name, base=variant))
    assert changed_functions(modules) == {}


def test_the_corpus_check_can_fail(tmp_path):
    """A variant's check would notice a wrong function: a mutant applied to a variant's base changes it."""
    mutant = next(m for m in MUTANTS if m["name"] == "masked_cross_entropy_mean_over_batch")
    modules = load_submission(make_submission(tmp_path / "m", mutant["edits"]))
    assert "masked_cross_entropy" in changed_functions(modules)


def test_templates_are_made_from_the_reference_and_implement_nothing():
    """student_templates/hw_seq2seq is the reference with every solution region stubbed (release.templates)."""
    folder = ROOT / "student_templates" / "hw_seq2seq"
    assert templates.stale(SOLUTIONS, folder, FILES) == []
    modules = load_submission(folder)
    assert set(changed_functions(modules)) == set(FUNCTIONS)
    with pytest.raises(NotImplementedError, match="encoder_forward"):
        modules["encoder"].encoder_forward(*inputs("encoder_forward", {"seed": 1, "N": 2, "T_src": 3, "D": 4,
                                                                         "H": 5})[0])
