"""Vanilla RNN layers that cache the pre-activations a(t) instead of s(t).

    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))
    o(t) = c + V s(t)                   y_hat(t) = softmax(o(t))

Batch first: x is (N, T, D), states (N, T, H), scores (N, T, K).  One step is a
single product of [s_prev, x_t] with the side-by-side matrix [W U].
"""

import math

import numpy as np


def _tanh_grad(a):
    """Derivative of tanh at a: 1 / cosh(a)^2 written as 1 - tanh(a)^2."""
    t = np.tanh(a)
    return 1.0 - t * t


def rnn_step_forward(x_t, s_prev, U, W, b):
    """One RNN step through the joint matrix [W U].  Returns (s_next, cache)."""
    WU = np.hstack((W, U))
    joint = np.hstack((s_prev, x_t))
    a = joint @ WU.T + b
    return np.tanh(a), (a, joint, WU)


def rnn_step_backward(ds_next, cache):
    """Backward pass of one RNN step.  Returns (dx_t, ds_prev, dU, dW, db)."""
    a, joint, WU = cache
    H = a.shape[1]
    da = ds_next * _tanh_grad(a)
    djoint = da @ WU
    dWU = da.T @ joint
    return djoint[:, H:], djoint[:, :H], dWU[:, H:], dWU[:, :H], da.sum(axis=0)


def rnn_forward(x, s0, U, W, b):
    """Run the RNN over T steps.  Returns (s (N, T, H), cache)."""
    N, T, _ = x.shape
    s = np.zeros((N, T, s0.shape[1]))
    steps = []
    prev = s0
    for t in range(T):
        prev, step = rnn_step_forward(x[:, t], prev, U, W, b)
        s[:, t] = prev
        steps.append(step)
    return s, steps


def rnn_backward(ds, cache):
    """Backpropagation through time.  Returns (dx, ds0, dU, dW, db)."""
    N, T, H = ds.shape
    dx_steps = [None] * T
    dWU = np.zeros(cache[0][2].shape)
    db = np.zeros(H)
    back = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        a, joint, WU = cache[t]
        da = (ds[:, t] + back) * _tanh_grad(a)
        djoint = da @ WU
        dWU = dWU + da.T @ joint
        db = db + da.sum(axis=0)
        back = djoint[:, :H]
        dx_steps[t] = djoint[:, H:]
    return np.stack(dx_steps, axis=1), back, dWU[:, H:], dWU[:, :H], db


def output_forward(s, V, c):
    """Scores o = c + V s at every step.  Returns (o, cache)."""
    return np.matmul(s, V.T) + c, (s, V)


def output_backward(do, cache):
    """Backward pass of output_forward.  Returns (ds, dV, dc)."""
    s, V = cache
    K, H = V.shape
    dV = do.reshape(-1, K).T @ s.reshape(-1, H)
    return np.matmul(do, V), dV, do.reshape(-1, K).sum(axis=0)


def softmax_cross_entropy(o, y, mask=None):
    """Masked softmax cross-entropy with a one-hot target, divided by N.

    The log-softmax subtracts the row maximum first, so +-1000 is safe.
    Returns (loss, do).
    """
    N, T, K = o.shape
    weight = np.ones((N, T)) if mask is None else np.where(mask, 1.0, 0.0)
    onehot = np.eye(K)[y]
    z = o - o.max(axis=2, keepdims=True)
    log_soft = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    loss = -np.sum(weight[:, :, None] * onehot * log_soft) / N
    do = (np.exp(log_soft) - onehot) * (weight[:, :, None] / N)
    return float(loss), do


def clip_gradients(grads, max_norm):
    """Global-norm clipping from the per-array norms.  Returns (clipped, total_norm)."""
    total_norm = 0.0
    for g in grads.values():
        total_norm = math.hypot(total_norm, float(np.linalg.norm(np.ravel(g))))
    ratio = max_norm / total_norm if total_norm > max_norm else 1.0
    return {
        k: np.asarray(g, dtype=np.float64) * ratio for k, g in grads.items()
    }, total_norm
