"""Feedback a student can act on: the diagnostic hints and what hidden tests do not reveal."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import CONFIG, ROOT, grade_cli, make_submission

from autograder.config import load_config
from autograder.grading.grader import TestResult, add_hints

SAME_BUG_BOTH_WAYS = [
    {"file": "rnn_layers.py",
     "find": "        s_prev, step_cache = rnn_step_forward(x[:, t], s_prev, U, W, b)\n        s[:, t] = s_prev\n",
     "replace": "        s_t, step_cache = rnn_step_forward(x[:, t], s0, U, W, b)\n        s[:, t] = s_t\n"},
    {"file": "rnn_layers.py",
     "find": "        dx_t, ds_carry, dU_t, dW_t, db_t = rnn_step_backward(ds[:, t] + ds_carry, cache[t])\n",
     "replace": "        dx_t, ds_prev_t, dU_t, dW_t, db_t = rnn_step_backward(ds[:, t], cache[t])\n"
                "        ds_carry = ds_carry + ds_prev_t\n"}]

CASES = {
    "recurrent_path_missing": (
        [{"file": "rnn_layers.py", "find": "rnn_step_backward(ds[:, t] + ds_carry, cache[t])",
          "replace": "rnn_step_backward(ds[:, t], cache[t])"}],
        "rnn_backward: gradients match the numerical gradient of your rnn_forward",
        ["right for a single time step (T = 1)", "recurrent path", "wrong at time steps [0, 1, 2]"]),
    "unstable_softmax": (
        [{"file": "rnn_layers.py", "find": "    shifted = o - o.max(axis=-1, keepdims=True)\n",
          "replace": "    shifted = o\n"}],
        "softmax_cross_entropy: stable for scores near 1000",
        ["extreme", "subtract each position's maximum score"]),
    # The maximum is subtracted, but the log is taken of probabilities that underflow to 0.
    "log_of_softmax": (
        [{"file": "rnn_layers.py",
          "find": "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))\n",
          "replace": "    log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True))\n"}],
        "softmax_cross_entropy: stable for scores near 1000",
        ["not the log of a softmax"]),
    "dW_transposed": (
        [{"file": "rnn_layers.py", "find": "    dW = da.T @ s_prev\n", "replace": "    dW = s_prev.T @ da\n"}],
        "rnn_step_backward: gradients match the reference",
        ["transpose"]),
    "dU_transposed_shape": (
        [{"file": "rnn_layers.py", "find": "    dU = da.T @ x_t\n", "replace": "    dU = x_t.T @ da\n"}],
        "rnn_step_backward: gradients match the reference",
        ["transposed?"]),
    "missing_division_by_N": (
        [{"file": "rnn_layers.py", "find": "    do *= keep[..., None] / N\n",
          "replace": "    do *= keep[..., None]\n"}],
        "softmax_cross_entropy: loss and gradient match the reference",
        ["times the expected value"]),
    # W used in row convention (s_prev @ W) consistently in forward and backward: the backward
    # is the derivative of the student's forward, but the forward is wrong.
    "forward_bug_not_punished_twice": (
        [{"file": "rnn_layers.py", "find": "    a = x_t @ U.T + s_prev @ W.T + b\n",
          "replace": "    a = x_t @ U.T + s_prev @ W + b\n"},
         {"file": "rnn_layers.py", "find": "    ds_prev = da @ W\n", "replace": "    ds_prev = da @ W.T\n"},
         {"file": "rnn_layers.py", "find": "    dW = da.T @ s_prev\n", "replace": "    dW = s_prev.T @ da\n"}],
        "rnn_step_backward: gradients match the reference",
        ["fix rnn_step_forward first"]),
    # The backward is the reference's; the forward drops b, so the cache it hands over is wrong.
    "backward_right_forward_wrong": (
        [{"file": "rnn_layers.py", "find": "    a = x_t @ U.T + s_prev @ W.T + b\n",
          "replace": "    a = x_t @ U.T + s_prev @ W.T\n"}],
        "rnn_step_backward: gradients match the reference",
        ["your rnn_step_forward fails its own tests", "fix rnn_step_forward first"]),
    # One idea in both: every step starts from s0 (no recurrence), and the backward carries nothing back
    # but sums ds_prev into ds0.  Right for T = 1, wrong against the reference for longer sequences.
    "same_bug_in_forward_and_backward": (
        SAME_BUG_BOTH_WAYS,
        "rnn_backward: gradients match the reference",
        ["fix rnn_forward first"]),
    # dc summed over the batch only: its shape is wrong, and training then spoils every parameter's values;
    # the message names the entry of the wrong shape, not the first key whose values differ.
    "dc_not_summed_over_time": (
        [{"file": "rnn_layers.py", "find": "    dc = do.sum(axis=(0, 1))\n", "replace": "    dc = do.sum(axis=0)\n"}],
        "train_char_rnn: three steps match the reference",
        ["params['c'] has shape"]),
    # [x_t, h_prev] where the assignment says [h_prev, x_t]: the forward is wrong, the backward is written for the
    # right one, so the backward's own numerical check fails too, and says why.
    "lstm_concatenation_order": (
        [{"file": "lstm_layers.py",
          "find": "    z = np.concatenate([h_prev, x_t], axis=1)\n    f = sigmoid(",
          "replace": "    z = np.concatenate([x_t, h_prev], axis=1)\n    f = sigmoid("}],
        "lstm_step_backward: gradients match the numerical gradient of your lstm_step_forward",
        ["your lstm_step_forward fails its own tests",
         "a backward written for the correct lstm_step_forward fails here until lstm_step_forward is fixed"]),
    # The norm taken after the step back: step t holds the norm that belongs at t - 1.  Its ratio to the expected
    # value is the spectral radius, not a count: no "1/N" either.
    "norms_shifted_by_one_step": (
        [{"file": "sequence_models.py",
          "find": "        norms[t] = np.linalg.norm(ds)\n        _, ds, _, _, _ = rnn_step_backward(ds, caches[t])\n",
          "replace": "        _, ds, _, _, _ = rnn_step_backward(ds, caches[t])\n"
                     "        norms[t] = np.linalg.norm(ds)\n"}],
        "state_gradient_norms: vanishing: W with spectral radius 0.8, T = 100",
        ["shifted by one time step (step t holds what belongs at t - 1)"]),
    # The mask left out of do: right where the mask is on, not 0 where it is off.
    "mask_left_out_of_the_gradient": (
        [{"file": "rnn_layers.py", "find": "    do *= keep[..., None] / N\n", "replace": "    do /= N\n"}],
        "softmax_cross_entropy: sequences of different lengths (mask) and a fully masked sequence",
        ["not 0 where it is: entries that should be left out (masked positions?)"]),
    "wrong_sign": (
        [{"file": "rnn_layers.py", "find": "    ds = do @ V\n", "replace": "    ds = -(do @ V)\n"}],
        "output_backward: gradients match the reference",
        ["wrong sign"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hint(name, tmp_path):
    edits, test_name, phrases = CASES[name]
    _, results = grade_cli(make_submission(tmp_path / name, edits), tmp_path)
    by_name = {t["name"]: t for t in results["tests"]}
    test = by_name[test_name]
    assert test["score"] == 0
    for phrase in phrases:
        assert phrase in test["output"], test["output"]


def test_a_backward_whose_forward_is_wrong_is_sent_to_the_forward_first(tmp_path):
    """The T = 1 hint points at the backward's recurrent path; while the forward is wrong for longer sequences
    (the same idea in both), every lost point of the backward says to fix the forward first, and none the path."""
    _, results = grade_cli(make_submission(tmp_path / "both", SAME_BUG_BOTH_WAYS), tmp_path)
    failed = [t for t in results["tests"] if t["name"].startswith("rnn_backward:") and t["score"] < t["max_score"]]
    assert failed and all(re.search(r"fix (it|rnn_forward) first", t["output"]) for t in failed), failed
    assert not any("single time step" in t["output"] for t in failed), failed


def test_a_callers_lost_points_name_the_failing_function_it_calls(tmp_path):
    """A bug in rnn_step_backward reaches its callers; each lost point of a caller names it (the deepest failing
    function it is meant to call, not rnn_backward, which fails only through it), in public and hidden tests.
    A forward that hard-codes H = 5 fails hidden inputs only: its hidden caller says so too."""
    edits = [{"file": "rnn_layers.py", "find": "    db = da.sum(axis=0)\n", "replace": "    db = da.mean(axis=0)\n"}]
    _, results = grade_cli(make_submission(tmp_path / "callee", edits), tmp_path)
    callers = [t for t in results["tests"] if t["score"] < t["max_score"]
               and t["name"].split(":")[0] in ("rnn_backward", "char_rnn_loss", "train_char_rnn", "many_to_one_loss")]
    assert {t["visibility"] for t in callers} == {"visible", "after_published"}
    for t in callers:
        caller = t["name"].split(":")[0]
        assert f"{caller} is meant to call rnn_step_backward, which fails its own tests" in t["output"], t["output"]
    edits = [{"file": "rnn_layers.py", "find": "    s = np.empty((N, T, s0.shape[1]))\n",
              "replace": "    s = np.empty((N, T, 5))\n"}]
    _, results = grade_cli(make_submission(tmp_path / "fixed_h", edits), tmp_path)
    hidden = [t for t in results["tests"] if t["name"].startswith("many_to_one_loss:") and t["score"] == 0]
    assert hidden and all(t["visibility"] != "visible" for t in hidden)
    assert all("meant to call rnn_forward, which fails its own tests" in t["output"] for t in hidden), hidden


def test_error_carried_forward_keeps_the_self_consistency_points(tmp_path):
    edits = CASES["forward_bug_not_punished_twice"][0]
    _, results = grade_cli(make_submission(tmp_path / "fwd", edits), tmp_path)
    by_name = {t["name"]: t for t in results["tests"]}
    own = by_name["rnn_step_backward: gradients match the numerical gradient of your rnn_step_forward"]
    assert own["score"] == own["max_score"]


def test_hidden_feedback_reveals_no_inputs(tmp_path):
    edits = (CASES["recurrent_path_missing"][0] + CASES["dW_transposed"][0] + CASES["dU_transposed_shape"][0]
             + [{"file": "lstm_layers.py", "find": "    return dx, dh_carry, grads\n",
                 "replace": "    return dx, dh_carry.T, grads\n"},
                # Floats where integers belong: the hidden sample test must not name the hidden length.
                {"file": "char_rnn.py", "find": "        out[t] = index\n    return out\n",
                 "replace": "        out[t] = index\n    return out.astype(float)\n"}])
    _, results = grade_cli(make_submission(tmp_path / "h", edits), tmp_path)
    hidden = [t for t in results["tests"] if t["visibility"] != "visible"]
    failed = [t for t in hidden if t["score"] == 0]
    assert failed
    for t in failed:
        for leak in ("seed", "index", "(got ", "N=", "time step"):
            assert leak not in t["output"], (t["name"], t["output"])
        assert not re.search(r"expected -?\d", t["output"]), t["output"]
        assert not re.search(r"\(\d+,|of \d+ entries|shape \(\d", t["output"]), t["output"]
    public_failed = [t for t in results["tests"] if t["visibility"] == "visible" and t["score"] == 0]
    # Public tests do name the case (and positions: see the recurrent-path hint test).
    assert any("seed" in t["output"] for t in public_failed)


def test_in_place_modification_loses_only_that_test(tmp_path):
    """Values stay right (V changes by one part in 2**40, after use); only the inputs tests notice: that of
    output_forward and those of the functions that pass their own V to it."""
    edits = [{"file": "rnn_layers.py", "find": "    o = s @ V.T + c\n",
              "replace": "    o = s @ V.T + c\n    V *= 1.0 + 2.0**-40\n"}]
    _, results = grade_cli(make_submission(tmp_path / "inplace", edits), tmp_path)
    lost = {t["name"] for t in results["tests"] if t["score"] < t["max_score"]}
    assert lost == {f"{f}: does not modify its inputs" for f in ("output_forward", "char_rnn_loss", "sample",
                                                                  "train_char_rnn")}


@pytest.mark.parametrize("hidden_passes", [True, False])
def test_public_hints_say_nothing_of_hidden_tests(hidden_passes):
    """The stability hint on a public test depends on the public ordinary tests only: were it drawn from the
    hidden ones too, its presence would tell a student how a hidden test went (one bit per submission)."""
    config = load_config(CONFIG)
    sigmoid = [t for t in config.tests if t.function == "sigmoid" and t.kind == "forward"]
    results = [TestResult(t, passed=not t.stability and (hidden_passes or not t.hidden), output="wrong")
               for t in sigmoid]
    add_hints(results, config.homework)
    stability = next(r for r in results if r.spec.stability)
    assert "Hint: " in stability.output  # the public ordinary test passed: the hint, whatever the hidden one did


def test_a_factor_names_1_over_n_only_when_it_is_a_count():
    from autograder.grading.compare import Tolerance, check_array

    tol, expected = Tolerance(1e-7, 1e-9), np.random.default_rng(2).standard_normal((3, 4))
    assert "(such as 1/N)" in check_array("db", expected / 3, expected, tol).message
    assert "(such as 1/N)" in check_array("db", expected * 2, expected, tol).brief
    plain = check_array("norms", expected * 0.8, expected, tol)
    assert "constant factor?" in plain.message and "1/N" not in plain.message + plain.brief
    # With the case's sizes known, an integer factor that is none of them (a clipping ratio of 1/2) is no count.
    sizes = frozenset({3, 4, 5, 12, 15, 20})
    assert "(such as 1/N)" in check_array("db", expected / 3, expected, tol, counts=sizes).message
    clipped = check_array("dU", expected * 2, expected, tol, counts=sizes)
    assert "constant factor?" in clipped.message and "1/N" not in clipped.message + clipped.brief


def test_a_per_array_clip_is_not_put_down_to_a_count(tmp_path):
    """clip_gradients scaling each array by its own norm: with the public case's max_norm half the global norm,
    an array below max_norm comes back unscaled, twice the expected value; 2 is none of the case's sizes
    (D = 3, H = 4, K = 5), so the message does not suggest a lost 1/N."""
    edits = [{"file": "rnn_layers.py", "find": "    clipped = {name: g * scale for name, g in grads.items()}\n",
              "replace": "    clipped = {name: g * min(1.0, max_norm / max(float(np.sqrt(np.sum(g**2))), 1e-300)) "
                         "for name, g in grads.items()}\n"}]
    _, results = grade_cli(make_submission(tmp_path / "per_array", edits), tmp_path)
    test = next(t for t in results["tests"] if t["name"] == "clip_gradients: clips by the global norm")
    assert test["score"] == 0 and "times the expected value" in test["output"], test["output"]
    assert "1/N" not in test["output"], test["output"]


def test_quiz_answers_that_cannot_be_marked_are_said_by_the_self_check(tmp_path):
    """A misspelt key or a value of the wrong type loses the question whatever the answer: the public check says
    so at once (the question file names the keys and types), and the graded answer says which."""
    from conftest import run_cli

    edits = [{"file": "quiz.py", "find": '"s_t_plus_2": 4', "replace": '"s_t_plus2": 4'},
             {"file": "quiz.py", "find": '"order_matters": True', "replace": '"order_matters": "True"'}]
    sub = make_submission(tmp_path / "quiz", edits)
    check = run_cli("check", str(sub))
    assert check.returncode == 0, check.stderr
    note = next(line for line in check.stdout.splitlines() if "Quiz:" in line)
    assert "no answer for 's_t_plus_2'" in note and "'s_t_plus2' is not a question" in note
    assert "'order_matters' is a str ('True'), the question asks for a bool" in note
    _, results = grade_cli(sub, tmp_path)
    outputs = {t["name"]: t["output"] for t in results["tests"] if t["name"].startswith("answers:")}
    assert "'order_matters': not a bool, as the question asks (you answered 'True')" in outputs[
        "answers: answer 1 of 5"]
    assert "no answer for 's_t_plus_2'" in outputs["answers: answer 5 of 5"]
    assert check.stdout.rstrip().endswith("see the Quiz note above.")
    full = make_submission(tmp_path / "right")
    assert "Quiz" not in run_cli("check", str(full)).stdout


@pytest.mark.parametrize("body, said", [
    ("    raise NotImplementedError\n", "answers is not implemented yet"),
    ("    return [2, 4]\n", "answers() should return a dict, got a list"),
    ("    raise KeyError('markov')\n", "KeyError"),
])
def test_a_quiz_function_that_fails_is_said_by_the_self_check(tmp_path, body, said):
    """Only hidden tests grade the quiz, and the call takes no input: that it raises or returns no dict is said
    by the public check (a student would otherwise lose its points with every public test passed)."""
    from conftest import run_cli

    sub = make_submission(tmp_path / "quiz", [{"file": "quiz.py", "find": "def answers():\n",
                                                "replace": "def answers():\n" + body}])
    check = run_cli("check", str(sub))
    assert check.returncode == 0, check.stderr
    note = next(line for line in check.stdout.splitlines() if "Quiz:" in line)
    assert note.startswith("! Quiz: quiz.py's answers() cannot be marked: ") and said in note, note
    # Its note is at the top, far from the total: the last line reminds the student of it.
    assert check.stdout.rstrip().endswith("Your quiz answers cannot all be marked as they are: see the Quiz note "
                                          "above.")
    # Graded, the quiz's hidden tests say the call failed, with no hint about public tests the quiz does not have.
    _, results = grade_cli(sub, tmp_path)
    quiz = [t["output"] for t in results["tests"] if t["name"].startswith("answers:")]
    assert quiz and all("public test" not in o.split("\n", 1)[-1] and "Hint:" not in o for o in quiz), quiz


def test_numpy_scalar_quiz_answers_are_marked_as_the_numbers_they_are(tmp_path):
    """A comparison gives np.bool_, a numpy sum np.int64: marked like True and 2, in check and grade alike; a
    float where an int is asked stays unmarkable, a numpy one included."""
    from conftest import run_cli

    edits = [{"file": "quiz.py", "find": "def answers():", "replace": "import numpy as np\n\n\ndef answers():"},
             {"file": "quiz.py", "find": '"order_matters": True', "replace": '"order_matters": np.int64(3) > 2'},
             {"file": "quiz.py", "find": '"markov_property": 2',
              "replace": '"markov_property": np.ones(2).astype(int).sum()'},
             {"file": "quiz.py", "find": '"s_t_plus_2": 4', "replace": '"s_t_plus_2": np.array(4.0)'}]
    sub = make_submission(tmp_path / "npquiz", edits)
    check = run_cli("check", str(sub))
    assert check.returncode == 0, check.stderr
    note = next(line for line in check.stdout.splitlines() if "Quiz:" in line)
    assert "'s_t_plus_2' is a float (4.0), the question asks for an int" in note
    assert "order_matters" not in note and "markov_property" not in note
    _, results = grade_cli(sub, tmp_path)
    scores = {t["name"]: (t["score"], t["max_score"], t["output"]) for t in results["tests"]
              if t["name"].startswith("answers:")}
    assert all(s == m for name, (s, m, _) in scores.items() if not name.endswith("5 of 5")), scores
    score, _, output = scores["answers: answer 5 of 5"]
    assert score == 0 and "not an int, as the question asks (you answered 4.0)" in output


def test_a_wrong_step_is_named_before_the_recurrent_path(tmp_path):
    """lstm_step_backward drops the forget gate from dc_prev: right for T = 1, wrong for longer sequences in
    lstm_backward, whose own loop is right: its lost points name the step, not the recurrent path."""
    edits = [{"file": "lstm_layers.py", "find": "dz[:, :H], dc * f, grads", "replace": "dz[:, :H], dc, grads"}]
    _, results = grade_cli(make_submission(tmp_path / "step", edits), tmp_path)
    failed = [t for t in results["tests"] if t["name"].startswith("lstm_backward:") and t["score"] < t["max_score"]]
    assert failed and all("meant to call lstm_step_backward" in t["output"] for t in failed), failed
    assert not any("single time step" in t["output"] for t in failed), failed


def test_a_call_that_raises_on_hidden_inputs_only_says_so(tmp_path):
    """A squeeze that drops the batch axis when N = 1: every public test passes, a hidden one raises; its brief
    cannot say which exception, so the hint says where to look."""
    edits = [{"file": "sequence_models.py", "find": "last = s[:, -1]", "replace": "last = s[:, -1].squeeze()"}]
    _, results = grade_cli(make_submission(tmp_path / "squeeze", edits), tmp_path)
    lost = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert lost and all(t["visibility"] != "visible" for t in lost)
    raised = [t for t in lost if "raised an exception" in t["output"]]
    assert raised and all("raises on hidden inputs only" in t["output"] for t in raised), raised


def test_a_small_error_from_a_failing_callee_is_not_put_down_to_float32_alone(tmp_path):
    """db averaged instead of summed makes training land a hair off the reference: the message's float32
    reading of so small an error is followed by the callee hint, which says the callee explains it too."""
    from autograder.grading.compare import FLOAT32_MAYBE

    sub = make_submission(tmp_path / "db_mean", [{"file": "rnn_layers.py", "find": "    db = da.sum(axis=0)\n",
                                                  "replace": "    db = da.mean(axis=0)\n"}])
    _, results = grade_cli(sub, tmp_path)
    small = [t["output"] for t in results["tests"] if FLOAT32_MAYBE in t["output"]]
    assert small, "the mutant no longer gives a float32-sized error anywhere"
    for output in small:
        assert output.endswith("fix it first, then check this again. The small error above need not mean float32: "
                               "a wrong rnn_step_backward gives one too."), output


def test_norms_in_reverse_time_order_are_named(tmp_path):
    """state_gradient_norms listing its norms last step first: the forward tests say the sequence is reversed in
    time, and the rate check that the factor found is the reciprocal of the right one."""
    edits = [{"file": "sequence_models.py", "find": "    return norms\n", "replace": "    return norms[::-1].copy()\n"}]
    _, results = grade_cli(make_submission(tmp_path / "reversed", edits), tmp_path)
    tests = {t["name"]: t for t in results["tests"] if t["name"].startswith("state_gradient_norms:")}
    forward = tests["state_gradient_norms: random inputs (saturating tanh)"]
    assert forward["score"] == 0 and "in reverse time order" in forward["output"], forward["output"]
    rate = tests["state_gradient_norms: the per-step decay and growth rates match the spectral radius"]
    assert rate["score"] == 0 and "its reciprocal: are the norms in reverse time order?" in rate["output"], rate


def test_a_case_that_fails_after_the_others_passed_names_what_only_it_sets(tmp_path):
    """No clipping in train_char_rnn: the three-step case without max_norm passes, the one with max_norm 0.3
    (every step clips) fails; the message names that setting, the only one the passing case lacks."""
    import yaml

    corpus = {m["name"]: m for m in yaml.safe_load((ROOT / "tests" / "corpus" / "mutants.yaml").read_text())}
    _, results = grade_cli(make_submission(tmp_path / "noclip", corpus["train_char_rnn_no_clipping"]["edits"]),
                           tmp_path)
    test = next(t for t in results["tests"] if t["name"] == "train_char_rnn: three steps match the reference")
    assert test["score"] == 0 and test["output"].startswith("case 2 of 2"), test["output"]
    assert "(the case before it passed: only this one sets max_norm=0.3)" in test["output"], test["output"]
    # A first case that fails says nothing of the others; nor does a hidden test.
    for t in results["tests"]:
        if t["output"].startswith("case 1 of") or t["visibility"] != "visible":
            assert "before it passed" not in t["output"], t


def test_an_assignment_says_what_a_constant_factor_means_in_clip_gradients(tmp_path):
    """PATTERN_HINTS: a per-array clip is twice the expected value at the public case's ratio; the message adds
    what the assignment says of that in clip_gradients (one factor for every array, from the global norm), in the
    public test and, without figures, in the hidden one."""
    edits = [{"file": "rnn_layers.py", "find": "    clipped = {name: g * scale for name, g in grads.items()}\n",
              "replace": "    clipped = {name: g * min(1.0, max_norm / max(float(np.sqrt(np.sum(g**2))), 1e-300)) "
                         "for name, g in grads.items()}\n"}]
    _, results = grade_cli(make_submission(tmp_path / "per_array", edits), tmp_path)
    said = "max_norm / the norm of all the gradients together"
    public = next(t for t in results["tests"] if t["name"] == "clip_gradients: clips by the global norm")
    assert public["score"] == 0 and said in public["output"], public["output"]
    hidden = next(t for t in results["tests"] if t["name"] == "clip_gradients: matches the reference on hidden inputs")
    assert hidden["score"] == 0 and said in hidden["output"] and "got" not in hidden["output"], hidden["output"]


def test_a_wrong_scalar_output_is_named_before_the_arrays_beside_it(tmp_path):
    """clip_gradients with the L1 norm: total_norm and every clipped array are wrong; the message names
    total_norm, the figure the arrays were scaled from (it named clipped['U'] and a constant factor)."""
    edits = [{"file": "rnn_layers.py",
              "find": "    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))\n",
              "replace": "    total_norm = float(sum(np.sum(np.abs(g)) for g in grads.values()))\n"}]
    _, results = grade_cli(make_submission(tmp_path / "l1", edits), tmp_path)
    test = next(t for t in results["tests"] if t["name"] == "clip_gradients: clips by the global norm")
    assert test["score"] == 0 and test["output"].split(": ", 1)[1].startswith("total_norm is "), test["output"]
