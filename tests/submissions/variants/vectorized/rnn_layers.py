"""Vanilla RNN layers, vectorized with einsum wherever the recurrence allows.

    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))
    o(t) = c + V s(t)                   y_hat(t) = softmax(o(t))

Batch first: x is (N, T, D), states (N, T, H), scores (N, T, K).  Only the
recurrence itself loops over time; everything else works on whole tensors.
"""

import numpy as np


def rnn_step_forward(x_t, s_prev, U, W, b):
    """One RNN step with einsum.  Returns (s_next, cache)."""
    a = np.einsum("nd,hd->nh", x_t, U) + np.einsum("nk,hk->nh", s_prev, W) + b
    s_next = np.tanh(a)
    return s_next, (U, W, x_t, s_prev, s_next)


def rnn_step_backward(ds_next, cache):
    """Backward pass of one RNN step.  Returns (dx_t, ds_prev, dU, dW, db)."""
    U, W, x_t, s_prev, s_next = cache
    da = ds_next * (1.0 - np.square(s_next))
    dx_t = np.einsum("nh,hd->nd", da, U)
    ds_prev = np.einsum("nh,hk->nk", da, W)
    dU = np.einsum("nh,nd->hd", da, x_t)
    dW = np.einsum("nh,nk->hk", da, s_prev)
    db = np.einsum("nh->h", da)
    return dx_t, ds_prev, dU, dW, db


def rnn_forward(x, s0, U, W, b):
    """Run the RNN over T steps; the input projections are done in one go.

    Returns (s (N, T, H), cache).
    """
    N, T, _ = x.shape
    drive = np.einsum("ntd,hd->nth", x, U) + b
    s = np.empty((N, T, W.shape[0]))
    prev = s0
    for t in range(T):
        prev = np.tanh(drive[:, t] + prev @ W.T)
        s[:, t] = prev
    return s, (x, s0, s, U, W)


def rnn_backward(ds, cache):
    """BPTT: stack the pre-activation gradients da(t), then get every
    parameter gradient from the stacked tensor at the end.

    Returns (dx, ds0, dU, dW, db).
    """
    x, s0, s, U, W = cache
    N, T, H = ds.shape
    da = np.empty((N, T, H))
    ds_rec = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        da[:, t] = (ds[:, t] + ds_rec) * (1.0 - s[:, t] ** 2)
        ds_rec = da[:, t] @ W
    s_before = np.concatenate((s0[:, None, :], s[:, :-1, :]), axis=1)
    dx = np.einsum("nth,hd->ntd", da, U)
    dU = np.einsum("nth,ntd->hd", da, x)
    dW = np.einsum("nth,ntk->hk", da, s_before)
    db = da.sum(axis=(0, 1))
    return dx, ds_rec, dU, dW, db


def output_forward(s, V, c):
    """Scores o = c + V s at every step.  Returns (o, cache)."""
    o = np.einsum("nth,kh->ntk", s, V) + c
    return o, (V, s)


def output_backward(do, cache):
    """Backward pass of output_forward.  Returns (ds, dV, dc)."""
    V, s = cache
    ds = np.einsum("ntk,kh->nth", do, V)
    dV = np.tensordot(do, s, axes=([0, 1], [0, 1]))
    dc = np.einsum("ntk->k", do)
    return ds, dV, dc


def _log_sum_exp(o):
    """log(sum(exp(o))) over the last axis, keepdims, without overflow."""
    top = np.max(o, axis=-1, keepdims=True)
    return top + np.log(np.sum(np.exp(o - top), axis=-1, keepdims=True))


def softmax_cross_entropy(o, y, mask=None):
    """Masked softmax cross-entropy over (N, T) positions, divided by N.

    Returns (loss, do); do is zero where the mask is off.
    """
    N, T, _ = o.shape
    keep = (
        np.ones((N, T))
        if mask is None
        else np.asarray(mask, dtype=bool).astype(np.float64)
    )
    log_p = o - _log_sum_exp(o)
    n_idx, t_idx = np.indices((N, T))
    nll = -log_p[n_idx, t_idx, y]
    loss = np.einsum("nt,nt->", nll, keep) / N
    do = np.exp(log_p)
    np.add.at(do, (n_idx, t_idx, y), -1.0)
    do = do * (keep / N)[:, :, None]
    return loss, do  # an np.float64, which the API accepts as a float


def clip_gradients(grads, max_norm):
    """Global-norm clipping: one flat vector holds every gradient entry.

    Returns (clipped, total_norm) with fresh arrays.
    """
    flat = [np.ravel(g) for g in grads.values()]
    total_norm = float(np.linalg.norm(np.concatenate(flat))) if flat else 0.0
    factor = max_norm / total_norm if total_norm > max_norm else 1.0
    return {k: np.multiply(g, factor) for k, g in grads.items()}, total_norm
