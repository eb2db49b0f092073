"""hw_rnn's graded functions: their arguments, outputs and test inputs.

assignment.yaml says which tests run on which shapes and seeds; this module
says how to turn one case (``{"seed": 3, "N": 2, "T": 4, ...}``) into the
arguments of a function, and which backward function differentiates which
forward one.  Inputs are random but deterministic under the case's seed, with
N, T, D, H and K chosen different by the config so a wrong axis or a missing
transpose cannot go unnoticed, and W never symmetric.
"""

from __future__ import annotations

import numpy as np

from autograder.spec import Function, Gradient, Inputs, build_inputs

LSTM_KEYS = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")


def _normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return rng.standard_normal(shape) * scale


def _rnn_params(c: dict, rng) -> dict:
    D, H = c["D"], c["H"]
    return {"U": _normal(rng, H, D, scale=1 / np.sqrt(D)), "W": _normal(rng, H, H, scale=1 / np.sqrt(H)),
            "b": _normal(rng, H, scale=0.1)}


def _lstm_params(c: dict, rng) -> dict:
    D, H = c["D"], c["H"]
    params = {}
    for g in "fico":
        params["W" + g] = _normal(rng, H, H + D, scale=1 / np.sqrt(H + D))
        params["b" + g] = _normal(rng, H, scale=0.3)
    return {k: params[k] for k in LSTM_KEYS}


def _mask(c: dict, rng) -> np.ndarray | None:
    """None, or a mask of sequences with different lengths (row 0 empty when asked)."""
    N, T = c["N"], c["T"]
    if c.get("mask", "none") == "none":
        return None
    lengths = rng.integers(1, T + 1, size=N)
    if c.get("empty_sequence"):
        lengths[0] = 0
    return np.arange(T)[None, :] < lengths[:, None]


def _sigmoid_input(c: dict, rng) -> np.ndarray:
    if c.get("extreme"):
        edge = np.array([-1000.0, -745.5, -709.8, -50.0, -1.0, 0.0, 1.0, 50.0, 709.8, 745.5, 1000.0])
        return np.concatenate([edge, -edge[::-1] * 0.5]).reshape(2, -1)
    return _normal(rng, c["N"], c["H"], scale=c.get("scale", 3.0))


def _clip_input(c: dict, rng) -> dict:
    D, H, K = c["D"], c["H"], c["K"]
    grads = {"U": _normal(rng, H, D), "W": _normal(rng, H, H), "b": _normal(rng, H), "V": _normal(rng, K, H)}
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    return {"grads": grads, "max_norm": float(norm * c["ratio"])}


VOCAB = ("h", "e", "l", "o")


def text_indices(text: str) -> np.ndarray:
    return np.array([[VOCAB.index(ch) for ch in text]])


def _char_params(c: dict, rng, scale: float = 0.1) -> dict:
    """Language-model parameters: one-hot inputs, so U is (H, K)."""
    H, K = c["H"], c.get("K", len(VOCAB))
    return {"U": _normal(rng, H, K, scale=scale), "W": _normal(rng, H, H, scale=scale), "b": _normal(rng, H, scale=0.1),
            "V": _normal(rng, K, H, scale=scale), "c": _normal(rng, K, scale=0.1)}


def _char_batch(c: dict, rng) -> dict:
    """Inputs and next-character targets: the case's text, or random sequences."""
    if "text" in c:
        return {"x": text_indices(c["text"][:-1]), "y": text_indices(c["text"][1:])}
    K = c.get("K", len(VOCAB))
    return {"x": rng.integers(0, K, size=(c["N"], c["T"])), "y": rng.integers(0, K, size=(c["N"], c["T"]))}


def _char_loss_input(c: dict, rng) -> dict:
    batch = _char_batch(c, rng)
    params = _char_params(c, rng, scale=c.get("scale", 0.5))
    return {"params": params, **batch, "s0": _normal(rng, batch["x"].shape[0], c["H"], scale=0.3)}


def _adagrad_input(c: dict, rng) -> dict:
    """`grad_scale` and `memory_scale` (default 1) shrink the gradients and the memory: a first step
    (memory 0) with gradients near 1e-5 is where the 1e-8 inside the square root shows, so
    sqrt(m) + 1e-8 or no epsilon at all fail there and pass with memory near 1."""
    params = _char_params(c, rng, scale=1.0)
    g, m = float(c.get("grad_scale", 1.0)), float(c.get("memory_scale", 1.0))
    return {"params": params, "grads": {k: g * _normal(rng, *v.shape) for k, v in params.items()},
            "memory": {k: m * np.abs(_normal(rng, *v.shape)) for k, v in params.items()},
            "learning_rate": float(c.get("learning_rate", 0.1))}


def _train_input(c: dict, rng) -> dict:
    return {"params": _char_params(c, rng), **_char_batch(c, rng), "steps": c["steps"],
            "learning_rate": float(c.get("learning_rate", 0.1)), "max_norm": float(c.get("max_norm", 5.0))}


def _sample_input(c: dict, rng) -> dict:
    return {"params": _char_params(c, rng, scale=c.get("scale", 1.0)), "start": int(c.get("start", 0)),
            "length": c["length"], "temperature": c.get("temperature"), "seed": c["seed"]}


def _norms_input(c: dict, rng) -> dict:
    """W = radius * Q with Q orthogonal; with zero inputs the states stay at 0 and tanh' = 1."""
    N, T, D, H = c["N"], c["T"], c["D"], c["H"]
    q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    zero = c.get("inputs") == "zero"
    return {"x": np.zeros((N, T, D)) if zero else _normal(rng, N, T, D), "s0": np.zeros((N, H)) if zero else
            _normal(rng, N, H, scale=0.5), "U": _normal(rng, H, D, scale=1 / np.sqrt(D)), "W": c["radius"] * q,
            "b": np.zeros(H) if zero else _normal(rng, H, scale=0.1), "ds_last": _normal(rng, N, H)}


def _many_to_one_input(c: dict, rng) -> dict:
    N, T, D, H, K = c["N"], c["T"], c["D"], c["H"], c["K"]
    params = {"U": _normal(rng, H, D, scale=1 / np.sqrt(D)), "W": _normal(rng, H, H, scale=1 / np.sqrt(H)),
              "b": _normal(rng, H, scale=0.1), "V": _normal(rng, K, H, scale=1 / np.sqrt(H)),
              "c": _normal(rng, K, scale=0.1)}
    return {"x": _normal(rng, N, T, D), "y": rng.integers(0, K, size=N), "s0": _normal(rng, N, H, scale=0.5),
            "params": params}


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("rnn_step_forward", "rnn_layers", ("x_t", "s_prev", "U", "W", "b"), ("s_next", "cache"),
                 lambda c, r: {"x_t": _normal(r, c["N"], c["D"]), "s_prev": _normal(r, c["N"], c["H"], scale=0.5),
                               **_rnn_params(c, r)}, ("N", "D", "H")),
        Function("rnn_step_backward", "rnn_layers", ("ds_next", "cache"), ("dx_t", "ds_prev", "dU", "dW", "db"),
                 None, ("N", "D", "H")),
        Function("rnn_forward", "rnn_layers", ("x", "s0", "U", "W", "b"), ("s", "cache"),
                 lambda c, r: {"x": _normal(r, c["N"], c["T"], c["D"]), "s0": _normal(r, c["N"], c["H"], scale=0.5),
                               **_rnn_params(c, r)}, ("N", "T", "D", "H")),
        Function("rnn_backward", "rnn_layers", ("ds", "cache"), ("dx", "ds0", "dU", "dW", "db"),
                 None, ("N", "T", "D", "H")),
        Function("output_forward", "rnn_layers", ("s", "V", "c"), ("o", "cache"),
                 lambda c, r: {"s": np.tanh(_normal(r, c["N"], c["T"], c["H"])),
                               "V": _normal(r, c["K"], c["H"], scale=1 / np.sqrt(c["H"])),
                               "c": _normal(r, c["K"], scale=0.1)}, ("N", "T", "H", "K")),
        Function("output_backward", "rnn_layers", ("do", "cache"), ("ds", "dV", "dc"), None, ("N", "T", "H", "K")),
        Function("softmax_cross_entropy", "rnn_layers", ("o", "y", "mask"), ("loss", "do"),
                 lambda c, r: {"o": _normal(r, c["N"], c["T"], c["K"], scale=c.get("scale", 2.0)),
                               "y": r.integers(0, c["K"], size=(c["N"], c["T"])), "mask": _mask(c, r)},
                 ("N", "T", "K"), optional_args=("mask",)),
        Function("clip_gradients", "rnn_layers", ("grads", "max_norm"), ("clipped", "total_norm"),
                 _clip_input, ("D", "H", "K", "ratio")),
        Function("sigmoid", "lstm_layers", ("z",), ("out",), lambda c, r: {"z": _sigmoid_input(c, r)}, ()),
        Function("lstm_gates", "lstm_layers", ("x_t", "h_prev", "params"), ("f", "i", "c_tilde", "o"),
                 lambda c, r: {"x_t": _normal(r, c["N"], c["D"]), "h_prev": _normal(r, c["N"], c["H"], scale=0.5),
                               "params": _lstm_params(c, r)}, ("N", "D", "H")),
        Function("lstm_step_forward", "lstm_layers", ("x_t", "h_prev", "c_prev", "params"),
                 ("h_next", "c_next", "cache"),
                 lambda c, r: {"x_t": _normal(r, c["N"], c["D"]), "h_prev": _normal(r, c["N"], c["H"], scale=0.5),
                               "c_prev": _normal(r, c["N"], c["H"]), "params": _lstm_params(c, r)},
                 ("N", "D", "H")),
        Function("lstm_step_backward", "lstm_layers", ("dh_next", "dc_next", "cache"),
                 ("dx_t", "dh_prev", "dc_prev", "grads"), None, ("N", "D", "H")),
        Function("lstm_forward", "lstm_layers", ("x", "h0", "params"), ("h", "cache"),
                 lambda c, r: {"x": _normal(r, c["N"], c["T"], c["D"]), "h0": _normal(r, c["N"], c["H"], scale=0.5),
                               "params": _lstm_params(c, r)}, ("N", "T", "D", "H")),
        Function("lstm_backward", "lstm_layers", ("dh", "cache"), ("dx", "dh0", "grads"), None, ("N", "T", "D", "H")),
        Function("one_hot", "char_rnn", ("indices", "K"), ("out",),
                 lambda c, r: {"indices": r.integers(0, c["K"], size=(c["N"], c["T"])), "K": c["K"]}, ("N", "T", "K")),
        Function("char_rnn_loss", "char_rnn", ("params", "x", "y", "s0"), ("loss", "grads", "s_last"),
                 _char_loss_input, ("H",)),
        Function("adagrad_update", "char_rnn", ("params", "grads", "memory", "learning_rate"),
                 ("new_params", "new_memory"), _adagrad_input, ("H",)),
        Function("train_char_rnn", "char_rnn", ("params", "x", "y", "steps", "learning_rate", "max_norm"),
                 ("params", "losses"), _train_input, ("H", "steps")),
        Function("sample", "char_rnn", ("params", "start", "length", "temperature", "seed"), ("indices",),
                 _sample_input, ("H", "length")),
        Function("state_gradient_norms", "sequence_models", ("x", "s0", "U", "W", "b", "ds_last"), ("norms",),
                 _norms_input, ("N", "T", "D", "H", "radius")),
        Function("many_to_one_loss", "sequence_models", ("x", "y", "s0", "params"), ("loss", "grads"),
                 _many_to_one_input, ("N", "T", "D", "H", "K")),
        Function("answers", "quiz", (), ("answers",), lambda c, r: {}, ("question",)),
    ]
}

GRADIENTS: dict[str, Gradient] = {
    g.backward: g
    for g in [
        Gradient("rnn_step_backward", "rnn_step_forward", ("s_next",), ("dx_t", "ds_prev", "dU", "dW", "db"),
                 ("x_t", "s_prev", "U", "W", "b")),
        Gradient("rnn_backward", "rnn_forward", ("s",), ("dx", "ds0", "dU", "dW", "db"), ("x", "s0", "U", "W", "b")),
        Gradient("output_backward", "output_forward", ("o",), ("ds", "dV", "dc"), ("s", "V", "c")),
        Gradient("softmax_cross_entropy", "softmax_cross_entropy", (), ("do",), ("o",), scalar="loss"),
        Gradient("lstm_step_backward", "lstm_step_forward", ("h_next", "c_next"),
                 ("dx_t", "dh_prev", "dc_prev", "grads"), ("x_t", "h_prev", "c_prev", "params")),
        Gradient("lstm_backward", "lstm_forward", ("h",), ("dx", "dh0", "grads"), ("x", "h0", "params")),
        Gradient("char_rnn_loss", "char_rnn_loss", (), ("grads",), ("params",), scalar="loss"),
        Gradient("many_to_one_loss", "many_to_one_loss", (), ("grads",), ("params",), scalar="loss"),
    ]
}

# The arrays with a time axis, and which axis it is: feedback names the time step of a mismatch (and T) for
# these only.  Parameter gradients (dU, dW, db, grads), states of one step (ds0, dh0, s_last: (N, H)) and
# the losses of training steps have no time axis; sample's indices are integers, compared whole.
TIME_AXES = {
    "rnn_forward": {"s": 1},
    "rnn_backward": {"dx": 1},
    "output_forward": {"o": 1},
    "output_backward": {"ds": 1},
    "softmax_cross_entropy": {"do": 1},
    "lstm_forward": {"h": 1},
    "lstm_backward": {"dx": 1},
    "one_hot": {"out": 1},
    "state_gradient_norms": {"norms": 0},
}
# The functions that run over time steps: a backward among them right for T = 1 only gets the recurrent-path hint.
SEQUENCE_FUNCTIONS = {"rnn_forward", "rnn_backward", "output_forward", "output_backward", "softmax_cross_entropy",
                      "lstm_forward", "lstm_backward"}
# What a wrong value of a kind means in one function (compare.Mismatch.pattern), beside the generic words.
PATTERN_HINTS = {
    "clip_gradients": {"factor": "clipping scales every array by one factor, max_norm / the norm of all the "
                                 "gradients together, and only when that norm exceeds max_norm; an array left as it "
                                 "was, or scaled by its own norm, is a constant multiple of the expected one"},
}
# The case key that is a sequence length.
TIME_KEYS = ("T",)
# The hint for a function that fails only its stability tests.
STABILITY_HINT = {
    "softmax_cross_entropy": "right on ordinary inputs but not on extreme ones: avoid exp of large positive numbers "
                             "(subtract each position's maximum score, o.max(axis=-1, keepdims=True), before exp) "
                             "and the log of a probability that rounds to 0 (take log-probabilities as shifted - "
                             "log(sum(exp(shifted))), not the log of a softmax).",
    "sigmoid": "right on ordinary inputs but not on extreme ones: avoid exp of large positive numbers (use "
               "1 / (1 + exp(-z)) where z >= 0 and exp(z) / (1 + exp(z)) where z < 0: only exp of numbers <= 0).",
}


# Which graded functions each graded function of the reference calls, directly or not: a bug in a callee
# reaches the caller's tests, whose lost points then name it (tests/corpus/mutants.yaml's `breaks` follow it;
# a test compares it with solutions/hw_rnn).
CALLS = {
    "rnn_forward": {"rnn_step_forward"},
    "rnn_backward": {"rnn_step_backward"},
    "lstm_gates": {"sigmoid"},
    "lstm_step_forward": {"lstm_gates", "sigmoid"},
    "lstm_forward": {"lstm_step_forward", "lstm_gates", "sigmoid"},
    "lstm_backward": {"lstm_step_backward"},
    "char_rnn_loss": {"one_hot", "rnn_forward", "rnn_step_forward", "output_forward", "softmax_cross_entropy",
                      "output_backward", "rnn_backward", "rnn_step_backward"},
    "train_char_rnn": {"char_rnn_loss", "clip_gradients", "adagrad_update", "one_hot", "rnn_forward",
                       "rnn_step_forward", "output_forward", "softmax_cross_entropy", "output_backward",
                       "rnn_backward", "rnn_step_backward"},
    "sample": {"one_hot", "rnn_forward", "rnn_step_forward", "output_forward"},
    "state_gradient_norms": {"rnn_step_forward", "rnn_step_backward"},
    "many_to_one_loss": {"rnn_forward", "rnn_step_forward", "rnn_backward", "rnn_step_backward"},
}


def forward_inputs(function: str, case: dict) -> Inputs:
    """The forward function's inputs for one case (deterministic in its seed)."""
    return build_inputs(FUNCTIONS[function], case)
