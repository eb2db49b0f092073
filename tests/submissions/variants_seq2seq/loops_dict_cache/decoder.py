"""The seq2seq decoder written with explicit loops and dict caches.

    x(t) = E[y(t-1)],  s(t) = tanh(b + W s(t-1) + U x(t)),  o(t) = c + V s(t)
"""

import math

import numpy as np

from encoder import rnn_step_backward, rnn_step_forward

DECODER_KEYS = ("E", "U", "W", "b", "V", "c")


def embed_forward(tokens, E):
    """x[...] = E[tokens[...]], one position at a time. Returns (x, cache)."""
    tokens = np.asarray(tokens)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= E.shape[0]):
        raise ValueError(f"tokens should be in [0, {E.shape[0]})")
    x = np.zeros(tokens.shape + (E.shape[1],))
    for index in np.ndindex(tokens.shape):
        x[index] = E[tokens[index]]
    return x, {"tokens": tokens, "K": E.shape[0]}


def embed_backward(dx, cache):
    """dE adds dx over every position of each token."""
    tokens = cache["tokens"]
    dE = np.zeros((cache["K"], dx.shape[-1]))
    for index in np.ndindex(tokens.shape):
        dE[tokens[index]] = dE[tokens[index]] + dx[index]
    return dE


def decoder_step_forward(y_prev, s_prev, params):
    """One decoder step: (s_next (N, H), o (N, K), cache)."""
    x, embed_cache = embed_forward(y_prev, params["E"])
    s_next, step_cache = rnn_step_forward(x, s_prev, params["U"], params["W"], params["b"])
    o = np.zeros((s_next.shape[0], params["V"].shape[0]))
    for n in range(s_next.shape[0]):
        o[n] = params["V"] @ s_next[n] + params["c"]
    return s_next, o, {"embed": embed_cache, "step": step_cache, "s_next": s_next, "V": params["V"]}


def decoder_step_backward(ds_next, do, cache):
    """Gradients of one decoder step: (ds_prev, grads)."""
    V, s_next = cache["V"], cache["s_next"]
    dV = np.zeros(V.shape)
    dc = np.zeros(V.shape[0])
    ds = np.array(ds_next, dtype=float)
    for n in range(do.shape[0]):
        dV = dV + np.outer(do[n], s_next[n])
        dc = dc + do[n]
        ds[n] = ds[n] + V.T @ do[n]
    dx, ds_prev, dU, dW, db = rnn_step_backward(ds, cache["step"])
    return ds_prev, {"E": embed_backward(dx, cache["embed"]), "U": dU, "W": dW, "b": db, "V": dV, "c": dc}


def decoder_forward(y_in, context, params):
    """Teacher-forced decoder: (o (N, T, K), cache)."""
    if context.shape != (y_in.shape[0], params["W"].shape[0]):
        raise ValueError("context should have shape (N, H)")
    scores = []
    caches = []
    s = context
    for t in range(y_in.shape[1]):
        s, o_t, step = decoder_step_forward(y_in[:, t], s, params)
        scores.append(o_t)
        caches.append(step)
    return np.stack(scores, axis=1), {"steps": caches, "H": context.shape[1]}


def decoder_backward(do, cache):
    """BPTT through the decoder: (dcontext, grads)."""
    N, T, _ = do.shape
    ds = np.zeros((N, cache["H"]))
    total = {}
    for t in range(T - 1, -1, -1):
        ds, step_grads = decoder_step_backward(ds, do[:, t], cache["steps"][t])
        for key in DECODER_KEYS:
            total[key] = total[key] + step_grads[key] if key in total else step_grads[key]
    return ds, total


def masked_cross_entropy(o, y, mask=None):
    """Mean cross-entropy over the real tokens, one position at a time: (loss, do)."""
    N, T, K = o.shape
    if y.shape != (N, T):
        raise ValueError(f"y should have shape ({N}, {T})")
    keep = [[True] * T for _ in range(N)] if mask is None else [[bool(v) for v in row] for row in mask]
    count = sum(sum(row) for row in keep)
    if count == 0:
        raise ValueError("the mask keeps no token")
    loss = 0.0
    do = np.zeros((N, T, K))
    for n in range(N):
        for t in range(T):
            if not keep[n][t]:
                continue
            top = max(o[n, t])
            total = sum(math.exp(v - top) for v in o[n, t])
            log_norm = top + math.log(total)
            loss -= (o[n, t, y[n, t]] - log_norm) / count
            probs = np.exp(o[n, t] - log_norm)
            probs[y[n, t]] -= 1.0
            do[n, t] = probs / count
    return float(loss), do
