"""Vanilla RNN layers whose caches are dicts.

    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))
    o(t) = c + V s(t)                   y_hat(t) = softmax(o(t))

Batch first: x is (N, T, D), states (N, T, H), scores (N, T, K).
rnn_backward does its own math instead of calling rnn_step_backward.
"""

import numpy as np


def rnn_step_forward(x_t, s_prev, U, W, b):
    """One RNN step.  Returns (s_next, cache) with a dict cache."""
    s_next = np.tanh(np.dot(x_t, U.T) + np.dot(s_prev, W.T) + b)
    cache = {"x": x_t, "s_prev": s_prev, "s_next": s_next, "U": U, "W": W}
    return s_next, cache


def rnn_step_backward(ds_next, cache):
    """Backward pass of one RNN step.  Returns (dx_t, ds_prev, dU, dW, db)."""
    da = ds_next * (1.0 - cache["s_next"] ** 2)
    return (
        np.dot(da, cache["U"]),
        np.dot(da, cache["W"]),
        np.dot(da.T, cache["x"]),
        np.dot(da.T, cache["s_prev"]),
        np.sum(da, axis=0),
    )


def rnn_forward(x, s0, U, W, b):
    """Run the RNN over T steps.  Returns (s (N, T, H), cache)."""
    T = x.shape[1]
    states = []
    s_t = s0
    for t in range(T):
        s_t = np.tanh(np.dot(x[:, t], U.T) + np.dot(s_t, W.T) + b)
        states.append(s_t)
    s = np.stack(states, axis=1)
    return s, {"x": x, "s0": s0, "s": s, "U": U, "W": W}


def rnn_backward(ds, cache):
    """Backpropagation through time with the step math written inline.

    Returns (dx, ds0, dU, dW, db).
    """
    x, s0, s, U, W = cache["x"], cache["s0"], cache["s"], cache["U"], cache["W"]
    N, T, H = ds.shape
    dx = np.zeros(x.shape)
    dU = np.zeros(U.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(H)
    grad_s = np.zeros((N, H))
    for t in reversed(range(T)):
        s_prev = s[:, t - 1] if t > 0 else s0
        da = (ds[:, t] + grad_s) * (1.0 - s[:, t] ** 2)
        dx[:, t] = np.dot(da, U)
        dU = dU + np.dot(da.T, x[:, t])
        dW = dW + np.dot(da.T, s_prev)
        db = db + da.sum(axis=0)
        grad_s = np.dot(da, W)
    return dx, grad_s, dU, dW, db


def output_forward(s, V, c):
    """Scores o = c + V s at every step.  Returns (o, cache)."""
    N, T, H = s.shape
    o = (np.dot(s.reshape(N * T, H), V.T) + c).reshape(N, T, -1)
    return o, {"s": s, "V": V}


def output_backward(do, cache):
    """Backward pass of output_forward.  Returns (ds, dV, dc)."""
    s, V = cache["s"], cache["V"]
    N, T, K = do.shape
    do2 = do.reshape(N * T, K)
    s2 = s.reshape(N * T, -1)
    return np.dot(do2, V).reshape(s.shape), np.dot(do2.T, s2), do2.sum(axis=0)


def softmax_cross_entropy(o, y, mask=None):
    """Masked softmax cross-entropy; only the kept (n, t) rows are computed.

    The loss is divided by N whatever the mask.  Returns (loss, do).
    """
    N = o.shape[0]
    keep = (
        np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    )
    rows = o[keep]
    labels = np.asarray(y)[keep]
    shifted = rows - rows.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    idx = np.arange(rows.shape[0])
    loss = np.sum(log_norm - shifted[idx, labels]) / N
    grad_rows = np.exp(shifted - log_norm[:, None])
    grad_rows[idx, labels] -= 1.0
    do = np.zeros(o.shape)
    do[keep] = grad_rows / N
    return float(loss), do


def clip_gradients(grads, max_norm):
    """Global-norm clipping.

    Returns (clipped, total_norm).  When no clipping is needed the very same
    dict is returned (unchanged); otherwise a new dict of new arrays.
    """
    total_norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    if total_norm <= max_norm:
        return grads, total_norm
    scale = max_norm / total_norm
    return {name: scale * g for name, g in grads.items()}, total_norm
