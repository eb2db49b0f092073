"""Vanilla RNN layers written with explicit Python loops.

    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))
    o(t) = c + V s(t)                   y_hat(t) = softmax(o(t))

Batch first: x is (N, T, D), states (N, T, H), scores (N, T, K).  Most work is
done one batch row (one sequence) at a time, with column-vector math exactly as
in the lecture.  Caches are tuples.
"""

import math

import numpy as np


def rnn_step_forward(x_t, s_prev, U, W, b):
    """One RNN step, s_next = tanh(b + W s_prev + U x_t), one row at a time.

    Returns (s_next (N, H), cache).
    """
    N = x_t.shape[0]
    H = b.shape[0]
    s_next = np.zeros((N, H))
    for n in range(N):
        a_n = b + W @ s_prev[n] + U @ x_t[n]
        s_next[n] = np.tanh(a_n)
    cache = (s_next, s_prev, x_t, W, U)
    return s_next, cache


def rnn_step_backward(ds_next, cache):
    """Backward pass of one RNN step; accumulates outer products row by row.

    Returns (dx_t, ds_prev, dU, dW, db).
    """
    s_next, s_prev, x_t, W, U = cache
    N = ds_next.shape[0]
    dx_t = np.zeros(x_t.shape)
    ds_prev = np.zeros(s_prev.shape)
    dU = np.zeros(U.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(W.shape[0])
    for n in range(N):
        da_n = ds_next[n] * (1.0 - s_next[n] * s_next[n])
        dx_t[n] = U.T @ da_n
        ds_prev[n] = W.T @ da_n
        dU = dU + np.outer(da_n, x_t[n])
        dW = dW + np.outer(da_n, s_prev[n])
        db = db + da_n
    return dx_t, ds_prev, dU, dW, db


def rnn_forward(x, s0, U, W, b):
    """Run the RNN over the T steps; s[:, t] is the state after x[:, t].

    Returns (s (N, T, H), cache).
    """
    N, T, _ = x.shape
    H = s0.shape[1]
    s = np.zeros((N, T, H))
    step_caches = []
    state = s0
    for t in range(T):
        state, step_cache = rnn_step_forward(x[:, t, :], state, U, W, b)
        s[:, t, :] = state
        step_caches.append(step_cache)
    return s, (step_caches, x.shape[2])


def rnn_backward(ds, cache):
    """Backpropagation through time, walking the steps from last to first.

    Returns (dx, ds0, dU, dW, db).
    """
    step_caches, D = cache
    N, T, H = ds.shape
    dx = np.zeros((N, T, D))
    dU = dW = db = None
    carried = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        total = ds[:, t, :] + carried
        dx_t, carried, dU_t, dW_t, db_t = rnn_step_backward(total, step_caches[t])
        dx[:, t, :] = dx_t
        if dU is None:
            dU, dW, db = dU_t, dW_t, db_t
        else:
            dU = dU + dU_t
            dW = dW + dW_t
            db = db + db_t
    return dx, carried, dU, dW, db


def output_forward(s, V, c):
    """Scores o(t) = c + V s(t), computed one time step at a time.

    Returns (o (N, T, K), cache).
    """
    N, T, _ = s.shape
    K = c.shape[0]
    o = np.zeros((N, T, K))
    for t in range(T):
        o[:, t, :] = s[:, t, :] @ V.T + c
    return o, (V, s)


def output_backward(do, cache):
    """Backward pass of output_forward, summing over the time steps.

    Returns (ds, dV, dc).
    """
    V, s = cache
    T = do.shape[1]
    ds = np.zeros(s.shape)
    dV = np.zeros(V.shape)
    dc = np.zeros(V.shape[0])
    for t in range(T):
        do_t = do[:, t, :]
        ds[:, t, :] = do_t @ V
        dV = dV + do_t.T @ s[:, t, :]
        dc = dc + do_t.sum(axis=0)
    return ds, dV, dc


def softmax_cross_entropy(o, y, mask=None):
    """Masked softmax cross-entropy, one score vector o[n, t] at a time.

    Uses log-softmax with the max subtracted, so scores of +-1000 are fine.
    The loss is divided by N whatever the mask.  Returns (loss, do).
    """
    N, T, _ = o.shape
    do = np.zeros(o.shape)
    loss = 0.0
    for n in range(N):
        for t in range(T):
            if mask is not None and not mask[n, t]:
                continue
            scores = o[n, t]
            top = np.max(scores)
            exps = np.exp(scores - top)
            total = np.sum(exps)
            label = int(y[n, t])
            loss += math.log(total) + top - scores[label]
            grad = exps / total
            grad[label] -= 1.0
            do[n, t] = grad / N
    return float(loss / N), do


def clip_gradients(grads, max_norm):
    """Clip by the global L2 norm over every array in grads.

    Returns (clipped, total_norm); the input dict is left untouched.
    """
    squares = 0.0
    for name in grads:
        g = np.asarray(grads[name], dtype=np.float64)
        squares += float(np.sum(g * g))
    total_norm = math.sqrt(squares)
    clipped = {}
    for name in grads:
        if total_norm > max_norm:
            clipped[name] = grads[name] * (max_norm / total_norm)
        else:
            clipped[name] = np.array(grads[name], dtype=np.float64, copy=True)
    return clipped, total_norm
