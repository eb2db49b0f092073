"""LSTM layers with the four gates stacked into one matrix.

    f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)     i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)
    C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)       o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)
    C_t = f_t * C_{t-1} + i_t * C~_t            h_t = o_t * tanh(C_t)

Internally Wf, Wi, Wc, Wo are stacked into one (4H, H + D) matrix and the biases
into one (4H,) vector, so each step is a single matmul; gradients are split back
into the eight-key dict at the end.
"""

import numpy as np

ORDER = ("f", "i", "c", "o")


def sigmoid(z):
    """Stable logistic: exp is only ever taken of -|z|."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _stack(params):
    """The (4H, H + D) stacked weights and (4H,) stacked bias."""
    W = np.concatenate([params["W" + g] for g in ORDER], axis=0)
    b = np.concatenate([params["b" + g] for g in ORDER])
    return W, b


def _unstack(dW, db):
    """Split stacked gradients back into the eight-key dict."""
    H = db.shape[0] // 4
    grads = {}
    for k, g in enumerate(ORDER):
        grads["W" + g] = dW[k * H : (k + 1) * H].copy()
        grads["b" + g] = db[k * H : (k + 1) * H].copy()
    return grads


def _gates_stacked(z, W, b):
    """All four gates from one matmul; returns f, i, c_tilde, o."""
    a = z @ W.T + b
    a_f, a_i, a_c, a_o = np.split(a, 4, axis=1)
    return sigmoid(a_f), sigmoid(a_i), np.tanh(a_c), sigmoid(a_o)


def lstm_gates(x_t, h_prev, params):
    """Gates f, i, c_tilde, o of one step, each (N, H)."""
    W, b = _stack(params)
    return _gates_stacked(np.concatenate((h_prev, x_t), axis=1), W, b)


def _forward(z, c_prev, W, b):
    """One step on stacked weights: (h_next, c_next, cache)."""
    f, i, g, o = _gates_stacked(z, W, b)
    c_next = f * c_prev + i * g
    tc = np.tanh(c_next)
    return o * tc, c_next, (z, c_prev, tc, np.concatenate((f, i, g, o), axis=1), W)


def _backward(dh, dc_in, cache):
    """One step backward on stacked weights: (dz, dc_prev, dW, db)."""
    z, c_prev, tc, gates, W = cache
    f, i, g, o = np.split(gates, 4, axis=1)
    dc = dc_in + dh * o * (1.0 - tc**2)
    da = np.concatenate(
        (
            dc * c_prev * f * (1.0 - f),
            dc * g * i * (1.0 - i),
            dc * i * (1.0 - g**2),
            dh * tc * o * (1.0 - o),
        ),
        axis=1,
    )
    return da @ W, dc * f, da.T @ z, da.sum(axis=0)


def lstm_step_forward(x_t, h_prev, c_prev, params):
    """One LSTM step.  Returns (h_next, c_next, cache)."""
    W, b = _stack(params)
    return _forward(np.concatenate((h_prev, x_t), axis=1), c_prev, W, b)


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward pass of one LSTM step.  Returns (dx_t, dh_prev, dc_prev, grads)."""
    H = dh_next.shape[1]
    dz, dc_prev, dW, db = _backward(dh_next, dc_next, cache)
    return dz[:, H:], dz[:, :H], dc_prev, _unstack(dW, db)


def lstm_forward(x, h0, params):
    """Run the LSTM over T steps from h0 and a zero cell state.

    Returns (h (N, T, H), cache).
    """
    N, T, _ = x.shape
    W, b = _stack(params)
    h = np.zeros((N, T, h0.shape[1]))
    h_t, c_t = h0, np.zeros(h0.shape)
    steps = []
    for t in range(T):
        h_t, c_t, step = _forward(np.concatenate((h_t, x[:, t]), axis=1), c_t, W, b)
        h[:, t] = h_t
        steps.append(step)
    return h, (W, steps)


def lstm_backward(dh, cache):
    """Backpropagation through time on the stacked weights.

    Returns (dx, dh0, grads).
    """
    W, steps = cache
    N, T, H = dh.shape
    dx = np.zeros((N, T, W.shape[1] - H))
    dW = np.zeros(W.shape)
    db = np.zeros(W.shape[0])
    dh_next = np.zeros((N, H))
    dc_next = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dz, dc_next, dW_t, db_t = _backward(dh[:, t] + dh_next, dc_next, steps[t])
        dW = dW + dW_t
        db = db + db_t
        dx[:, t] = dz[:, H:]
        dh_next = dz[:, :H]
    return dx, dh_next, _unstack(dW, db)
