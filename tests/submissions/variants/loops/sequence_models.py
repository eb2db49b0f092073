"""Gradient norms through time and a many-to-one classifier, step by step.

Both functions drive the recurrence with rnn_step_forward and
rnn_step_backward only, keep the step caches in a list and hand each back
untouched; norms and the softmax are computed with explicit loops.
"""

import math

import numpy as np

from rnn_layers import rnn_step_backward, rnn_step_forward


def state_gradient_norms(x, s0, U, W, b, ds_last):
    """Frobenius norm of dL/ds(t) for every t, with a loss on the last state only.

    Returns a (T,) float64 array; the last entry is the norm of ds_last.
    """
    T = x.shape[1]
    step_caches = []
    state = s0
    for t in range(T):
        state, step_cache = rnn_step_forward(x[:, t, :], state, U, W, b)
        step_caches.append(step_cache)
    backwards = []
    grad = ds_last
    t = T - 1
    while t >= 0:
        backwards.append(math.sqrt(float(np.sum(grad * grad))))
        _, grad, _, _, _ = rnn_step_backward(grad, step_caches[t])
        t -= 1
    return np.array(backwards[::-1], dtype=np.float64)


def many_to_one_loss(x, y, s0, params):
    """Cross-entropy of softmax(c + V s(T)) divided by N, and its parameter gradients.

    Returns (loss, grads).
    """
    U, W, b, V, c = params["U"], params["W"], params["b"], params["V"], params["c"]
    N, T, _ = x.shape
    K = V.shape[0]
    step_caches = []
    state = s0
    for t in range(T):
        state, step_cache = rnn_step_forward(x[:, t, :], state, U, W, b)
        step_caches.append(step_cache)
    loss = 0.0
    dscores = np.zeros((N, K))
    for n in range(N):
        scores = V @ state[n] + c
        top = float(np.max(scores))
        exps = np.exp(scores - top)
        total = float(np.sum(exps))
        label = int(y[n])
        loss += math.log(total) + top - float(scores[label])
        dscores[n] = exps / total
        dscores[n, label] -= 1.0
    dscores = dscores / N
    dV = np.zeros(V.shape)
    for n in range(N):
        dV = dV + np.outer(dscores[n], state[n])
    dc = dscores.sum(axis=0)
    dU = np.zeros(U.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(b.shape)
    grad = dscores @ V
    for t in range(T - 1, -1, -1):
        _, grad, dU_t, dW_t, db_t = rnn_step_backward(grad, step_caches[t])
        dU = dU + dU_t
        dW = dW + dW_t
        db = db + db_t
    return loss / N, {"U": dU, "W": dW, "b": db, "V": dV, "c": dc}
