"""The seq2seq encoder with the context picked by a one-hot "last step" matrix and a states list as cache.

The context is sum_t last[n, t] s[n, t], where last[n, t] = 1 at the last real step of sequence n; its
gradient is therefore last[n, t] * dcontext[n] at every step.
"""

import numpy as np


def rnn_step_forward(x_t, s_prev, U, W, b):
    """s_next = tanh(b + W s_prev + U x_t) in row form. Returns (s_next, cache)."""
    if s_prev.shape != (x_t.shape[0], W.shape[0]):
        raise ValueError(f"s_prev should have shape ({x_t.shape[0]}, {W.shape[0]})")
    s_next = np.tanh(np.einsum("hd,nd->nh", U, x_t) + np.einsum("hk,nk->nh", W, s_prev) + b)
    return s_next, [x_t, s_prev, s_next, U, W]


def rnn_step_backward(ds_next, cache):
    """(dx_t, ds_prev, dU, dW, db) of one step."""
    x_t, s_prev, s_next, U, W = cache
    da = (1.0 - s_next * s_next) * ds_next
    return (np.einsum("nh,hd->nd", da, U), np.einsum("nh,hk->nk", da, W), np.einsum("nh,nd->hd", da, x_t),
            np.einsum("nh,nk->hk", da, s_prev), np.einsum("nh->h", da))


def _last_step(mask, N, T):
    """(N, T) float matrix with a single 1 per row, at the last real step."""
    keep = np.ones((N, T), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if keep.shape != (N, T):
        raise ValueError(f"mask should have shape ({N}, {T})")
    ends = keep.astype(int) - np.concatenate([keep[:, 1:], np.zeros((N, 1), dtype=bool)], axis=1).astype(int)
    if np.any(ends.sum(axis=1) != 1) or np.any(ends < 0) or not np.all(keep[:, 0]):
        raise ValueError("each mask row must be a non-empty prefix of True")
    return ends.astype(float)


def encoder_forward(x, s0, U, W, b, mask=None):
    """(s (N, T, H), context (N, H), cache) over padded sources."""
    if x.ndim != 3 or x.shape[2] != U.shape[1]:
        raise ValueError(f"x should have shape (N, T, {U.shape[1]})")
    N, T, _ = x.shape
    last = _last_step(mask, N, T)
    states, caches = [], []
    state = s0
    for t in range(T):
        state, c = rnn_step_forward(x[:, t], state, U, W, b)
        states.append(state)
        caches.append(c)
    s = np.stack(states, axis=1)
    return s, np.einsum("nt,nth->nh", last, s), [caches, last]


def encoder_backward(ds, dcontext, cache):
    """(dx, ds0, dU, dW, db): the context's gradient enters every step weighted by the last-step matrix."""
    caches, last = cache
    total = ds + last[:, :, None] * dcontext[:, None, :]
    dxs = []
    grads = [0.0, 0.0, 0.0]
    carry = np.zeros_like(dcontext)
    for t in range(len(caches) - 1, -1, -1):
        dx_t, carry, *step = rnn_step_backward(total[:, t] + carry, caches[t])
        dxs.append(dx_t)
        grads = [g + s for g, s in zip(grads, step)]
    return (np.stack(dxs[::-1], axis=1), carry, *grads)
