"""hw_seq2seq's graded functions: their arguments, outputs and test inputs.

The same form as hw_rnn's (assignments/hw_rnn/homework.py, see autograder/spec.py): assignment.yaml
says which tests run on which shapes and seeds; this module turns one case
(``{"seed": 3, "N": 2, "T_src": 4, "T_tgt": 5, ...}``) into the arguments of a
function, and says which backward function differentiates which forward one.
Inputs are random but deterministic under the case's seed.  The config picks
N, T_src, T_tgt, D, H and K all different, so a wrong axis, a missing
transpose or a source length used for the target cannot go unnoticed; W is
never symmetric.

Case keys:
    N, T_src, T_tgt, D, H, K   batch, source length, target length, input size, state size, vocabulary
    mask: lengths              the encoder's sources (or the loss's targets) have different lengths
    empty_sequence: true       (loss) row 0 of the mask is all False
    scale                      (loss) the scores' standard deviation (1000 for the stability test)
    steps, learning_rate, max_norm                                       (training)
    check, below, accuracy, train_size, max_length                       (behaviour checks)

The end-to-end task (``reverse_task``): reverse strings of 1 to REVERSE_MAX
digits from an alphabet of REVERSE_DIGITS digits; tokens are the digits, then
the start and the end token.
"""

from __future__ import annotations

import itertools

import numpy as np

from autograder.spec import Function, Gradient

ENCODER_KEYS = ("U", "W", "b")
DECODER_KEYS = ("E", "U", "W", "b", "V", "c")
PARAM_KEYS = ("E", "U_enc", "W_enc", "b_enc", "U_dec", "W_dec", "b_dec", "V", "c")

REVERSE_DIGITS = 5
REVERSE_MAX = 3
START, END = REVERSE_DIGITS, REVERSE_DIGITS + 1
REVERSE_K = REVERSE_DIGITS + 2


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return rng.standard_normal(shape) * scale


def _prefix_mask(rng: np.random.Generator, N: int, T: int, low: int = 1, full_row: bool = True) -> np.ndarray:
    """A (N, T) bool mask of sequences with lengths in [low, T]; with full_row, one row is all True."""
    lengths = rng.integers(low, T + 1, size=N)
    if full_row:
        lengths[rng.integers(N)] = T
    return np.arange(T)[None, :] < lengths[:, None]


def _rnn_weights(rng: np.random.Generator, D: int, H: int) -> dict:
    return {"U": _normal(rng, H, D, scale=1 / np.sqrt(D)), "W": _normal(rng, H, H, scale=1 / np.sqrt(H)),
            "b": _normal(rng, H, scale=0.1)}


def _decoder_params(c: dict, rng: np.random.Generator) -> dict:
    D, H, K = c["D"], c["H"], c["K"]
    return {"E": _normal(rng, K, D), **_rnn_weights(rng, D, H), "V": _normal(rng, K, H, scale=1 / np.sqrt(H)),
            "c": _normal(rng, K, scale=0.1)}


def model_params(rng: np.random.Generator, D: int, H: int, K: int, scale: float = 1.0) -> dict:
    """Random seq2seq parameters (keys of PARAM_KEYS), scaled by ``scale`` around the usual 1/sqrt(fan-in)."""
    enc, dec = _rnn_weights(rng, D, H), _rnn_weights(rng, D, H)
    params = {"E": _normal(rng, K, D, scale=scale), "U_enc": enc["U"] * scale, "W_enc": enc["W"] * scale,
              "b_enc": enc["b"], "U_dec": dec["U"] * scale, "W_dec": dec["W"] * scale, "b_dec": dec["b"],
              "V": _normal(rng, K, H, scale=scale / np.sqrt(H)), "c": _normal(rng, K, scale=0.1)}
    return {k: params[k] for k in PARAM_KEYS}


def _step_input(c: dict, rng) -> dict:
    return {"x_t": _normal(rng, c["N"], c["D"]), "s_prev": _normal(rng, c["N"], c["H"], scale=0.5),
            **_rnn_weights(rng, c["D"], c["H"])}


def _encoder_input(c: dict, rng) -> dict:
    N, T = c["N"], c["T_src"]
    inputs = {"x": _normal(rng, N, T, c["D"]), "s0": _normal(rng, N, c["H"], scale=0.5),
              **_rnn_weights(rng, c["D"], c["H"])}
    inputs["mask"] = _prefix_mask(rng, N, T) if c.get("mask", "none") == "lengths" else None
    return inputs


def _embed_input(c: dict, rng) -> dict:
    # Tokens repeat within the batch (K small against N * T): dE must add, not overwrite.
    return {"tokens": rng.integers(0, c["K"], size=(c["N"], c["T_tgt"])), "E": _normal(rng, c["K"], c["D"])}


def _decoder_step_input(c: dict, rng) -> dict:
    return {"y_prev": rng.integers(0, c["K"], size=c["N"]), "s_prev": _normal(rng, c["N"], c["H"], scale=0.5),
            "params": _decoder_params(c, rng)}


def _decoder_input(c: dict, rng) -> dict:
    return {"y_in": rng.integers(0, c["K"], size=(c["N"], c["T_tgt"])),
            "context": np.tanh(_normal(rng, c["N"], c["H"])), "params": _decoder_params(c, rng)}


def _loss_input(c: dict, rng) -> dict:
    N, T, K = c["N"], c["T_tgt"], c["K"]
    mask = None
    if c.get("mask", "none") == "lengths":
        mask = _prefix_mask(rng, N, T)
        if c.get("empty_sequence"):
            mask[0] = False
            mask[-1] = True
    return {"o": _normal(rng, N, T, K, scale=c.get("scale", 2.0)), "y": rng.integers(0, K, size=(N, T)),
            "mask": mask}


def _shift_input(c: dict, rng) -> dict:
    N, T, K = c["N"], c["T_tgt"], c["K"]
    lengths = rng.integers(0, T + 1, size=N)
    lengths[0] = T
    return {"y": rng.integers(0, K - 2, size=(N, T)), "lengths": lengths, "start": K - 2, "end": K - 1}


def _batch(c: dict, rng) -> dict:
    """A random seq2seq batch: sources of 1 to T_src tokens, targets of 0 to T_tgt - 1 tokens then the end token."""
    N, T_src, T_tgt, K = c["N"], c["T_src"], c["T_tgt"], c["K"]
    src = rng.integers(0, K - 2, size=(N, T_src))
    src_mask = _prefix_mask(rng, N, T_src)
    lengths = rng.integers(0, T_tgt, size=N)  # 0: the target is the end token alone
    lengths[-1] = T_tgt - 1
    y = rng.integers(0, K - 2, size=(N, T_tgt - 1))
    real = np.arange(T_tgt - 1)[None, :] < lengths[:, None]
    y = np.where(real, y, K - 1)
    y_in = np.concatenate([np.full((N, 1), K - 2), y], axis=1)
    y_out = np.concatenate([y, np.full((N, 1), K - 1)], axis=1)
    out_mask = np.arange(T_tgt)[None, :] < lengths[:, None] + 1
    return {"src": src, "src_mask": src_mask, "y_in": y_in, "y_out": y_out, "out_mask": out_mask}


def reverse_task(seed: int, train_size: int) -> tuple[dict, list[np.ndarray]]:
    """The end-to-end task: a training batch of reversed digit strings, and the held-out strings.

    Every string of 1 to REVERSE_MAX digits in [0, REVERSE_DIGITS) is shuffled
    under the seed; the first ``train_size`` form the batch (keys src,
    src_mask, y_in, y_out, out_mask, as seq2seq_loss takes them), the rest are
    held out.
    """
    strings = [np.array(s) for L in range(1, REVERSE_MAX + 1) for s in itertools.product(range(REVERSE_DIGITS),
                                                                                           repeat=L)]
    order = np.random.default_rng([seed, 5]).permutation(len(strings))
    train = [strings[i] for i in order[:train_size]]
    held_out = [strings[i] for i in order[train_size:]]
    N, T = len(train), REVERSE_MAX
    lengths = np.array([len(s) for s in train])
    src = np.zeros((N, T), dtype=np.int64)
    y_out = np.full((N, T + 1), END, dtype=np.int64)
    for n, s in enumerate(train):
        src[n, : len(s)] = s
        y_out[n, : len(s)] = s[::-1]
    y_in = np.concatenate([np.full((N, 1), START), y_out[:, :T]], axis=1)
    batch = {"src": src, "src_mask": np.arange(T)[None, :] < lengths[:, None], "y_in": y_in, "y_out": y_out,
             "out_mask": np.arange(T + 1)[None, :] < lengths[:, None] + 1}
    return batch, held_out


def _seq2seq_loss_input(c: dict, rng) -> dict:
    if c.get("task") == "reverse":
        batch, _ = reverse_task(c["seed"], c["train_size"])
        return {"params": model_params(rng, c["D"], c["H"], REVERSE_K), **batch}
    return {"params": model_params(rng, c["D"], c["H"], c["K"]), **_batch(c, rng)}


def _clip_input(c: dict, rng) -> dict:
    grads = {k: _normal(rng, *v.shape) for k, v in model_params(rng, c["D"], c["H"], c["K"]).items()}
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    return {"grads": grads, "max_norm": float(norm * c["ratio"])}


def _adagrad_input(c: dict, rng) -> dict:
    params = model_params(rng, c["D"], c["H"], c["K"])
    return {"params": params, "grads": {k: _normal(rng, *v.shape) for k, v in params.items()},
            "memory": {k: np.abs(_normal(rng, *v.shape)) for k, v in params.items()},
            "learning_rate": float(c.get("learning_rate", 0.1))}


def _train_input(c: dict, rng) -> dict:
    if c.get("task") == "reverse":
        batch, _ = reverse_task(c["seed"], c["train_size"])
        params = model_params(rng, c["D"], c["H"], REVERSE_K, scale=0.5)
    else:
        params = model_params(rng, c["D"], c["H"], c["K"], scale=0.5)
        batch = _batch(c, rng)
    return {"params": params, **batch, "steps": c["steps"], "learning_rate": float(c.get("learning_rate", 0.1)),
            "max_norm": float(c.get("max_norm", 5.0))}


def _greedy_input(c: dict, rng) -> dict:
    """Random parameters whose scores favour the end token by ``end_bias`` (0: it may never come)."""
    K = c["K"]
    params = model_params(rng, c["D"], c["H"], K, scale=c.get("scale", 1.0))
    params["c"] = params["c"] + np.eye(K)[K - 1] * c.get("end_bias", 0.0)
    return {"params": params, "src": rng.integers(0, K - 2, size=c["T_src"]), "start": K - 2, "end": K - 1,
            "max_length": c["max_length"]}


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("rnn_step_forward", "encoder", ("x_t", "s_prev", "U", "W", "b"), ("s_next", "cache"),
                 _step_input, ("N", "D", "H")),
        Function("rnn_step_backward", "encoder", ("ds_next", "cache"), ("dx_t", "ds_prev", "dU", "dW", "db"),
                 None, ("N", "D", "H")),
        Function("encoder_forward", "encoder", ("x", "s0", "U", "W", "b", "mask"), ("s", "context", "cache"),
                 _encoder_input, ("N", "T_src", "D", "H"), optional_args=("mask",)),
        Function("encoder_backward", "encoder", ("ds", "dcontext", "cache"), ("dx", "ds0", "dU", "dW", "db"),
                 None, ("N", "T_src", "D", "H")),
        Function("embed_forward", "decoder", ("tokens", "E"), ("x", "cache"), _embed_input, ("N", "T_tgt", "D", "K")),
        Function("embed_backward", "decoder", ("dx", "cache"), ("dE",), None, ("N", "T_tgt", "D", "K")),
        Function("decoder_step_forward", "decoder", ("y_prev", "s_prev", "params"), ("s_next", "o", "cache"),
                 _decoder_step_input, ("N", "D", "H", "K")),
        Function("decoder_step_backward", "decoder", ("ds_next", "do", "cache"), ("ds_prev", "grads"),
                 None, ("N", "D", "H", "K")),
        Function("decoder_forward", "decoder", ("y_in", "context", "params"), ("o", "cache"),
                 _decoder_input, ("N", "T_tgt", "D", "H", "K")),
        Function("decoder_backward", "decoder", ("do", "cache"), ("dcontext", "grads"),
                 None, ("N", "T_tgt", "D", "H", "K")),
        Function("masked_cross_entropy", "decoder", ("o", "y", "mask"), ("loss", "do"),
                 _loss_input, ("N", "T_tgt", "K"), optional_args=("mask",)),
        Function("shift_targets", "seq2seq", ("y", "lengths", "start", "end"), ("y_in", "y_out"),
                 _shift_input, ("N", "T_tgt", "K")),
        Function("seq2seq_loss", "seq2seq", ("params", "src", "src_mask", "y_in", "y_out", "out_mask"),
                 ("loss", "grads"), _seq2seq_loss_input, ("D", "H")),
        Function("clip_gradients", "seq2seq", ("grads", "max_norm"), ("clipped", "total_norm"),
                 _clip_input, ("D", "H", "K", "ratio")),
        Function("adagrad_update", "seq2seq", ("params", "grads", "memory", "learning_rate"),
                 ("new_params", "new_memory"), _adagrad_input, ("D", "H", "K")),
        Function("train_seq2seq", "seq2seq",
                 ("params", "src", "src_mask", "y_in", "y_out", "out_mask", "steps", "learning_rate", "max_norm"),
                 ("params", "losses"), _train_input, ("D", "H", "steps")),
        Function("greedy_decode", "seq2seq", ("params", "src", "start", "end", "max_length"), ("tokens",),
                 _greedy_input, ("T_src", "D", "H", "K", "max_length")),
    ]
}

GRADIENTS: dict[str, Gradient] = {
    g.backward: g
    for g in [
        Gradient("rnn_step_backward", "rnn_step_forward", ("s_next",), ("dx_t", "ds_prev", "dU", "dW", "db"),
                 ("x_t", "s_prev", "U", "W", "b")),
        Gradient("encoder_backward", "encoder_forward", ("s", "context"), ("dx", "ds0", "dU", "dW", "db"),
                 ("x", "s0", "U", "W", "b")),
        Gradient("embed_backward", "embed_forward", ("x",), ("dE",), ("E",)),
        Gradient("decoder_step_backward", "decoder_step_forward", ("s_next", "o"), ("ds_prev", "grads"),
                 ("s_prev", "params")),
        Gradient("decoder_backward", "decoder_forward", ("o",), ("dcontext", "grads"), ("context", "params")),
        Gradient("masked_cross_entropy", "masked_cross_entropy", (), ("do",), ("o",), scalar="loss"),
        Gradient("seq2seq_loss", "seq2seq_loss", (), ("grads",), ("params",), scalar="loss"),
    ]
}

# The arrays with a time axis, and which axis it is (T_src for the encoder's, T_tgt for the others): feedback
# names the time step of a mismatch (and T) for these only.  The context and ds0, dcontext (N, H), parameter
# gradients (dU, dW, db, dE, grads) and the losses of training steps have none; shift_targets' and
# greedy_decode's tokens are integers, compared whole.
TIME_AXES = {
    "encoder_forward": {"s": 1},
    "encoder_backward": {"dx": 1},
    "embed_forward": {"x": 1},
    "decoder_forward": {"o": 1},
    "masked_cross_entropy": {"do": 1},
}
# The functions that run over time steps: a backward among them right for one step only gets the
# recurrent-path hint.
SEQUENCE_FUNCTIONS = {"encoder_forward", "encoder_backward", "decoder_forward", "masked_cross_entropy",
                      "shift_targets"}
# The case keys that are sequence lengths.
TIME_KEYS = ("T_src", "T_tgt")
# The hint for a function that fails only its stability tests (masked_cross_entropy).
# (Each position's maximum, over the last axis: "row" reads as a sequence n here, whose maximum over all its
# positions lets a position far below it underflow to exp = 0.)
STABILITY_HINT = ("right on ordinary inputs but not on extreme ones: avoid exp of large positive numbers (subtract "
                  "each position's maximum over its K scores, o.max(axis=-1, keepdims=True), before exp, and take "
                  "the log of the sum, not of a softmax).")

# Which graded functions each graded function of the reference calls, directly or not: a bug in a callee
# reaches the caller's tests, whose lost points then name it (tests/corpus/mutants_seq2seq.yaml's `breaks`
# follow it).
CALLS = {
    "encoder_forward": {"rnn_step_forward"},
    "encoder_backward": {"rnn_step_backward"},
    "decoder_step_forward": {"embed_forward", "rnn_step_forward"},
    "decoder_step_backward": {"embed_backward", "rnn_step_backward"},
    "decoder_forward": {"decoder_step_forward", "embed_forward", "rnn_step_forward"},
    "decoder_backward": {"decoder_step_backward", "embed_backward", "rnn_step_backward"},
    "seq2seq_loss": {"embed_forward", "encoder_forward", "rnn_step_forward", "decoder_forward",
                     "decoder_step_forward", "masked_cross_entropy", "decoder_backward", "decoder_step_backward",
                     "encoder_backward", "rnn_step_backward", "embed_backward"},
    "greedy_decode": {"embed_forward", "encoder_forward", "rnn_step_forward", "decoder_step_forward"},
}
CALLS["train_seq2seq"] = {"seq2seq_loss", "clip_gradients", "adagrad_update", *CALLS["seq2seq_loss"]}
