"""LSTM layers, vectorized with einsum wherever the recurrence allows.

    f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)     i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)
    C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)       o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)
    C_t = f_t * C_{t-1} + i_t * C~_t            h_t = o_t * tanh(C_t)

Gates act on [h_prev, x_t] (h first).  lstm_backward collects the per-step gate
pre-activation gradients and forms the weight gradients once at the end.
"""

import numpy as np

GATES = ("f", "i", "c", "o")


def sigmoid(z):
    """Stable logistic: sigmoid(z) = exp(-log(1 + exp(-z))) via logaddexp."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))


def _preacts(z, params):
    """Pre-activations of the four gates for z = [h_prev, x_t]."""
    return {
        g: np.einsum("nj,hj->nh", z, params["W" + g]) + params["b" + g] for g in GATES
    }


def lstm_gates(x_t, h_prev, params):
    """Gates f, i, c_tilde, o of one step, each (N, H)."""
    pre = _preacts(np.hstack((h_prev, x_t)), params)
    return sigmoid(pre["f"]), sigmoid(pre["i"]), np.tanh(pre["c"]), sigmoid(pre["o"])


def lstm_step_forward(x_t, h_prev, c_prev, params):
    """One LSTM step.  Returns (h_next, c_next, cache)."""
    f, i, g, o = lstm_gates(x_t, h_prev, params)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    cache = (np.hstack((h_prev, x_t)), c_prev, c_next, np.stack((f, i, g, o)), params)
    return h_next, c_next, cache


def _gate_grads(dh, dc_in, c_prev, c_next, gates):
    """Gradients of the gate pre-activations (4, N, H) and dc_prev."""
    f, i, g, o = gates
    tc = np.tanh(c_next)
    dc = dc_in + dh * o * (1.0 - tc**2)
    dpre = np.stack(
        (
            dc * c_prev * f * (1.0 - f),
            dc * g * i * (1.0 - i),
            dc * i * (1.0 - g**2),
            dh * tc * o * (1.0 - o),
        )
    )
    return dpre, dc * f


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward pass of one LSTM step.  Returns (dx_t, dh_prev, dc_prev, grads)."""
    z, c_prev, c_next, gates, params = cache
    H = c_prev.shape[1]
    dpre, dc_prev = _gate_grads(dh_next, dc_next, c_prev, c_next, gates)
    Wall = np.stack([params["W" + g] for g in GATES])
    dz = np.einsum("gnh,ghj->nj", dpre, Wall)
    grads = {}
    for k, g in enumerate(GATES):
        grads["W" + g] = np.einsum("nh,nj->hj", dpre[k], z)
        grads["b" + g] = np.einsum("nh->h", dpre[k])
    return dz[:, H:], dz[:, :H], dc_prev, grads


def lstm_forward(x, h0, params):
    """Run the LSTM over T steps from h0 and a zero cell state.

    Returns (h (N, T, H), cache).
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))
    c = np.empty((N, T, H))
    gates = np.empty((4, N, T, H))
    h_prev, c_prev = h0, np.zeros((N, H))
    for t in range(T):
        f, i, g, o = lstm_gates(x[:, t], h_prev, params)
        c_prev = f * c_prev + i * g
        h_prev = o * np.tanh(c_prev)
        h[:, t], c[:, t] = h_prev, c_prev
        gates[:, :, t] = (f, i, g, o)
    return h, (x, h0, h, c, gates, params)


def lstm_backward(dh, cache):
    """BPTT: stack the gate pre-activation gradients over time, then form
    dx and every parameter gradient with a single einsum each.

    Returns (dx, dh0, grads).
    """
    x, h0, h, c, gates, params = cache
    N, T, H = dh.shape
    Wall = np.stack([params["W" + g] for g in GATES])
    Wh = Wall[:, :, :H]
    dpre = np.empty((4, N, T, H))
    dh_rec = np.zeros((N, H))
    dc_rec = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        c_prev = c[:, t - 1] if t > 0 else np.zeros((N, H))
        dpre[:, :, t], dc_rec = _gate_grads(
            dh[:, t] + dh_rec, dc_rec, c_prev, c[:, t], gates[:, :, t]
        )
        dh_rec = np.einsum("gnh,ghj->nj", dpre[:, :, t], Wh)
    h_before = np.concatenate((h0[:, None], h[:, :-1]), axis=1)
    z = np.concatenate((h_before, x), axis=2)
    dx = np.einsum("gnth,ghd->ntd", dpre, Wall[:, :, H:])
    grads = {}
    for k, g in enumerate(GATES):
        grads["W" + g] = np.einsum("nth,ntj->hj", dpre[k], z)
        grads["b" + g] = dpre[k].sum(axis=(0, 1))
    return dx, dh_rec, grads
