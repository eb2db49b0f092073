"""hw_seq2seq's reference solution, checked independently of the grader's numerics.

Every backward of the reference (each Gradient of assignments/hw_seq2seq/homework.py) is compared with a
central-difference gradient written out here, on every coordinate, for several seeds and shapes with
N, T_src, T_tgt, D, H and K all different, sources and targets of different lengths included.  Then: the
reference learns the end-to-end task (digit reversal), greedy decoding stops at the end token (and only
there), the config's cases do what their names say, and bad shapes raise ValueError.

Tolerance of the gradient checks: central differences with h = 1e-6 on O(1) losses carry an error of
O(h^2) ~ 1e-12 from truncation plus O(eps / h) ~ 1e-10 from round-off; the errors are measured relative
to the largest entry of the gradient (entry-wise relative errors of near-zero entries mean nothing), and a
maximum of 1e-6 leaves four orders of magnitude of margin while every bug in the mutation corpus is off by
more than 1e-2.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from numeric import numeric_gradient, rel_error
from seq2seq_support import CONFIG, FUNCTIONS, GRADIENTS, SOLUTIONS, call, homework, inputs, load_submission, named

REF = load_submission(SOLUTIONS)
GRAD_TOL = 1e-6


SHAPES = [dict(N=1, T_src=1, T_tgt=1, D=2, H=3, K=4), dict(N=2, T_src=3, T_tgt=4, D=5, H=6, K=7),
          dict(N=3, T_src=5, T_tgt=2, D=4, H=2, K=6), dict(N=4, T_src=2, T_tgt=6, D=3, H=5, K=8),
          dict(N=5, T_src=4, T_tgt=3, D=6, H=4, K=5)]


def _case(seed: int, shape: dict, masked: bool) -> dict:
    case = {"seed": seed, **shape}
    if masked:
        case["mask"] = "lengths"
    return case


@pytest.mark.parametrize("backward", sorted(GRADIENTS))
@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{N}S{T_src}T{T_tgt}D{D}H{H}K{K}".format(**s))
@pytest.mark.parametrize("masked", [False, True], ids=["full", "lengths"])
def test_reference_backward_is_the_derivative_of_its_forward(backward, seed, shape, masked):
    g = GRADIENTS[backward]
    case = _case(2000 + 10 * seed, shape, masked)
    fwd = FUNCTIONS[g.forward]
    args, kwargs = inputs(g.forward, case)
    out = call(REF, g.forward, args, kwargs)
    rng = np.random.default_rng([case["seed"], 7])
    up = {n: rng.standard_normal(np.shape(out[n])) for n in g.upstream}
    func = getattr(REF[fwd.module], g.forward)

    def loss() -> float:
        o = named(g.forward, func(*args, **kwargs))
        return o[g.scalar] if g.scalar else sum(float(np.sum(o[n] * up[n])) for n in g.upstream)

    if g.scalar:
        analytic = {g.grads[0]: out[g.grads[0]]}
    else:
        bwd = getattr(REF[FUNCTIONS[backward].module], backward)
        analytic = named(backward, bwd(*[up[n] for n in g.upstream], out["cache"]))
    positional = [n for n in fwd.args if n not in fwd.optional_args]
    checked = 0
    for grad_name, arg_name in zip(g.grads, g.wrt):
        value = args[positional.index(arg_name)]
        got = analytic[grad_name]
        pairs = [(f"{grad_name}[{k!r}]", value[k], got[k]) for k in value] if isinstance(value, dict) else [
            (grad_name, value, got)]
        for label, x, dx in pairs:
            assert isinstance(dx, np.ndarray) and dx.shape == x.shape and dx.dtype == np.float64, label
            numeric = numeric_gradient(loss, x)
            assert rel_error(dx, numeric) < GRAD_TOL, f"{backward}: {label}"
            checked += 1
    assert checked >= len(g.wrt)


def test_the_gradient_checks_cover_every_backward_and_loss():
    backwards = {n for n, f in FUNCTIONS.items() if n.endswith("_backward")}
    assert backwards <= set(GRADIENTS)
    assert {"masked_cross_entropy", "seq2seq_loss"} <= set(GRADIENTS)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_context_gradient_reaches_only_the_last_valid_step(seed):
    """With ds = 0, the gradient w.r.t. x vanishes after each source's last valid step and not at it."""
    case = {"seed": seed, "N": 5, "T_src": 6, "D": 3, "H": 4, "mask": "lengths"}
    args, kwargs = inputs("encoder_forward", case)
    out = call(REF, "encoder_forward", args, kwargs)
    lengths = kwargs["mask"].sum(axis=1)
    assert np.allclose(out["context"], out["s"][np.arange(5), lengths - 1])
    dx = named("encoder_backward", REF["encoder"].encoder_backward(np.zeros_like(out["s"]), np.ones((5, 4)),
                                                                    out["cache"]))["dx"]
    for n, L in enumerate(lengths):
        assert np.all(dx[n, L:] == 0) and np.any(dx[n, L - 1] != 0)


def _train(seed: int, train_size: int = 100, steps: int = 200) -> tuple[dict, np.ndarray]:
    case = {"seed": seed, "task": "reverse", "train_size": train_size, "D": 8, "H": 32, "steps": steps}
    args, _ = inputs("train_seq2seq", case)
    return REF["seq2seq"].train_seq2seq(*args)


@pytest.mark.parametrize("seed", [253, 264, 351, 7, 8])
def test_reference_learns_to_reverse_digit_strings(seed):
    """The config's behaviour seeds and two more: loss below the threshold, held-out strings mostly reversed."""
    params, losses = _train(seed)
    assert np.all(np.isfinite(losses)) and losses[0] > 1.5
    assert losses[-1] < 0.05 / 5  # the config's threshold with a factor of 5 to spare
    _, held_out = homework.reverse_task(seed, 100)
    decode = REF["seq2seq"].greedy_decode
    right = sum(np.array_equal(decode(params, s, homework.START, homework.END, 5), s[::-1]) for s in held_out)
    assert right >= 0.85 * len(held_out)  # the config asks for 75%


def test_an_untrained_model_does_not_pass_the_behaviour_checks():
    """The checks can fail: three steps leave the loss high and the held-out strings wrong."""
    params, losses = _train(253, steps=3)
    assert losses[-1] > 1.0
    _, held_out = homework.reverse_task(253, 100)
    decode = REF["seq2seq"].greedy_decode
    right = sum(np.array_equal(decode(params, s, homework.START, homework.END, 5), s[::-1]) for s in held_out)
    assert right < 0.2 * len(held_out)


def _decode_case(case: dict) -> tuple[np.ndarray, dict, list]:
    args, _ = inputs("greedy_decode", case)
    return REF["seq2seq"].greedy_decode(*copy.deepcopy(args)), args[0], args


@pytest.mark.parametrize("seed", range(20))
def test_greedy_decoding_stops_at_the_end_token_and_only_there(seed):
    """Replaying the decoder step by step: every returned token was the argmax and was not the end token;
    the run stopped because the next argmax was the end token, or because max_length tokens were out."""
    case = {"seed": 900 + seed, "T_src": 3, "D": 4, "H": 5, "K": 6, "max_length": 7, "end_bias": 0.5}
    tokens, params, args = _decode_case(case)
    start, end, max_length = args[2], args[3], args[4]
    assert tokens.dtype == np.int64 and tokens.ndim == 1 and len(tokens) <= max_length
    assert end not in tokens.tolist()
    dec = {"E": params["E"], "U": params["U_dec"], "W": params["W_dec"], "b": params["b_dec"], "V": params["V"],
           "c": params["c"]}
    x, _ = REF["decoder"].embed_forward(args[1][None, :], params["E"])
    _, s, _ = REF["encoder"].encoder_forward(x, np.zeros((1, 5)), params["U_enc"], params["W_enc"], params["b_enc"])
    previous = start
    for t in range(len(tokens) + 1):
        if t == max_length:
            break
        s, o, _ = REF["decoder"].decoder_step_forward(np.array([previous]), s, dec)
        best = int(np.argmax(o[0]))
        if t == len(tokens):
            assert best == end
        else:
            assert best == tokens[t] != end
            previous = best


def _config_cases(function: str, name: str) -> list[dict]:
    question = next(q for q in CONFIG["questions"] if q["function"] == function)
    return next(t for t in question["tests"] if t["name"] == name)["cases"]


def test_the_configs_decoding_cases_stop_where_their_names_say():
    for case in _config_cases("greedy_decode", "stops at the end token"):
        assert 1 <= len(_decode_case(case)[0]) < case["max_length"], case
    for case in _config_cases("greedy_decode", "stops after max_length tokens when no end token comes"):
        assert len(_decode_case(case)[0]) == case["max_length"], case


def test_the_configs_clipping_training_case_clips_every_step():
    case = _config_cases("train_seq2seq", "three steps match the reference")[1]
    args, _ = inputs("train_seq2seq", case)
    params = args[0]
    for _ in range(case["steps"]):
        _, grads = REF["seq2seq"].seq2seq_loss(params, *args[1:6])
        clipped, norm = REF["seq2seq"].clip_gradients(grads, case["max_norm"])
        assert norm > case["max_norm"]
        params = {k: v - 0.1 * clipped[k] for k, v in params.items()}


def test_repeated_tokens_add_up_in_the_embedding_gradient():
    case = _config_cases("embed_backward", "dE matches the reference (repeated tokens add up)")[0]
    args, _ = inputs("embed_forward", case)
    assert len(np.unique(args[0])) < args[0].size


@pytest.mark.parametrize("call_args, message", [
    (lambda r: r["encoder"].encoder_forward(np.zeros((2, 3, 4)), np.zeros((2, 5)), np.zeros((5, 3)),
                                            np.zeros((5, 5)), np.zeros(5)), "x should be"),
    (lambda r: r["encoder"].encoder_forward(np.zeros((2, 3, 4)), np.zeros((2, 5)), np.zeros((5, 4)),
                                            np.zeros((5, 5)), np.zeros(5), np.array([[1, 0, 1], [1, 1, 1]], bool)),
     "padding at the end"),
    (lambda r: r["encoder"].encoder_forward(np.zeros((2, 3, 4)), np.zeros((2, 5)), np.zeros((5, 4)),
                                            np.zeros((5, 5)), np.zeros(5), np.array([[0, 0, 0], [1, 1, 1]], bool)),
     "at least one valid step"),
    (lambda r: r["encoder"].rnn_step_forward(np.zeros((2, 4)), np.zeros((3, 5)), np.zeros((5, 4)), np.zeros((5, 5)),
                                             np.zeros(5)), r"s_prev \(N, 5\)"),
    (lambda r: r["decoder"].embed_forward(np.array([[0, 6]]), np.zeros((6, 2))), r"integers in \[0, 6\)"),
    (lambda r: r["decoder"].masked_cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), int), np.zeros((2, 3), bool)),
     "keeps no token"),
    (lambda r: r["decoder"].masked_cross_entropy(np.zeros((2, 3, 4)), np.zeros((3, 2), int)), "should have shape"),
    (lambda r: r["seq2seq"].shift_targets(np.zeros((2, 3), int), np.array([1, 4]), 5, 6), "lengths should be in"),
    (lambda r: r["seq2seq"].greedy_decode({}, np.zeros((2, 2), int), 5, 6, 4), "1-D integer array"),
])
def test_bad_shapes_and_values_raise_a_clear_value_error(call_args, message):
    with pytest.raises(ValueError, match=message):
        call_args(REF)


def test_masked_cross_entropy_is_stable_and_averages_over_real_tokens():
    rng = np.random.default_rng(0)
    o = rng.standard_normal((3, 4, 5)) * 1000
    y = rng.integers(0, 5, size=(3, 4))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], bool)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, do = REF["decoder"].masked_cross_entropy(o, y, mask)
    assert np.isfinite(loss) and np.all(np.isfinite(do)) and np.all(do[~mask] == 0)
    # Each real position's gradient sums to 0 over the classes; the scale is 1 / (number of real tokens) = 1/7.
    assert np.allclose(do.sum(axis=-1), 0)
    small = rng.standard_normal((3, 4, 5))
    per_token = -np.log(np.exp(small) / np.exp(small).sum(-1, keepdims=True))
    want = np.take_along_axis(per_token, y[..., None], -1)[..., 0][mask].mean()
    assert np.isclose(REF["decoder"].masked_cross_entropy(small, y, mask)[0], want, rtol=1e-12)
