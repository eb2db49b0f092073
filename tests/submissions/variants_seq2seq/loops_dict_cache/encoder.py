"""The seq2seq encoder written one sequence at a time, with the lecture's column vectors and dict caches.

    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))

x is (N, T_src, D), states (N, T_src, H); the context of sequence n is its state after its last real step.
"""

import numpy as np


def rnn_step_forward(x_t, s_prev, U, W, b):
    """One RNN step, row by row. Returns (s_next (N, H), cache)."""
    if x_t.ndim != 2 or s_prev.shape != (x_t.shape[0], U.shape[0]) or x_t.shape[1] != U.shape[1]:
        raise ValueError(f"s_prev should have shape ({x_t.shape[0]}, {U.shape[0]})")
    s_next = np.zeros(s_prev.shape)
    for n in range(x_t.shape[0]):
        s_next[n] = np.tanh(b + W @ s_prev[n] + U @ x_t[n])
    return s_next, {"x": x_t, "s_prev": s_prev, "s_next": s_next, "U": U, "W": W}


def rnn_step_backward(ds_next, cache):
    """Gradients of one RNN step, row by row: (dx_t, ds_prev, dU, dW, db)."""
    U, W = cache["U"], cache["W"]
    dx_t = np.zeros(cache["x"].shape)
    ds_prev = np.zeros(cache["s_prev"].shape)
    dU, dW, db = np.zeros(U.shape), np.zeros(W.shape), np.zeros(W.shape[0])
    for n in range(ds_next.shape[0]):
        da = ds_next[n] * (1.0 - cache["s_next"][n] ** 2)
        dx_t[n] = U.T @ da
        ds_prev[n] = W.T @ da
        dU = dU + np.outer(da, cache["x"][n])
        dW = dW + np.outer(da, cache["s_prev"][n])
        db = db + da
    return dx_t, ds_prev, dU, dW, db


def encoder_forward(x, s0, U, W, b, mask=None):
    """Encoder over padded sources: (s (N, T, H), context (N, H), cache)."""
    N, T, D = x.shape
    if D != U.shape[1]:
        raise ValueError(f"x should have shape (N, T, {U.shape[1]})")
    lengths = []
    for n in range(N):
        row = [True] * T if mask is None else [bool(v) for v in mask[n]]
        L = sum(row)
        if L == 0 or row != [True] * L + [False] * (T - L):
            raise ValueError("each mask row must be a non-empty prefix of True")
        lengths.append(L)
    s = np.zeros((N, T, U.shape[0]))
    steps = []
    state = s0
    for t in range(T):
        state, step = rnn_step_forward(x[:, t], state, U, W, b)
        s[:, t] = state
        steps.append(step)
    context = np.zeros((N, U.shape[0]))
    for n in range(N):
        context[n] = s[n, lengths[n] - 1]
    return s, context, {"steps": steps, "lengths": lengths, "D": D}


def encoder_backward(ds, dcontext, cache):
    """BPTT through the encoder: (dx, ds0, dU, dW, db)."""
    N, T, H = ds.shape
    dx = np.zeros((N, T, cache["D"]))
    dU = dW = db = 0.0
    carry = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        upstream = ds[:, t] + carry
        for n in range(N):
            if cache["lengths"][n] - 1 == t:
                upstream[n] = upstream[n] + dcontext[n]
        dx[:, t], carry, dU_t, dW_t, db_t = rnn_step_backward(upstream, cache["steps"][t])
        dU, dW, db = dU + dU_t, dW + dW_t, db + db_t
    return dx, carry, dU, dW, db
