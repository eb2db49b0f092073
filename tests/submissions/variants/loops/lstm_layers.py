"""LSTM layers written with explicit Python loops.

    f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)     i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)
    C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)       o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)
    C_t = f_t * C_{t-1} + i_t * C~_t            h_t = o_t * tanh(C_t)

Gates act on [h_prev, x_t] (h first).  Work is done one batch row at a time with
column-vector math; caches are tuples.
"""

import math

import numpy as np

KEYS = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")


def _sigmoid_scalar(v):
    """Stable logistic of one Python float."""
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def sigmoid(z):
    """Elementwise logistic function, one element at a time with math.exp.

    Never overflows: exp is only taken of non-positive numbers.
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.zeros(z.shape)
    flat_in = z.reshape(-1)
    flat_out = out.reshape(-1)
    for k in range(flat_in.shape[0]):
        flat_out[k] = _sigmoid_scalar(float(flat_in[k]))
    return out


def lstm_gates(x_t, h_prev, params):
    """Gates f, i, c_tilde, o of one step, each (N, H), row by row."""
    N, H = h_prev.shape
    f = np.zeros((N, H))
    i = np.zeros((N, H))
    c_tilde = np.zeros((N, H))
    o = np.zeros((N, H))
    for n in range(N):
        z_n = np.concatenate((h_prev[n], x_t[n]))
        f[n] = sigmoid(params["Wf"] @ z_n + params["bf"])
        i[n] = sigmoid(params["Wi"] @ z_n + params["bi"])
        c_tilde[n] = np.tanh(params["Wc"] @ z_n + params["bc"])
        o[n] = sigmoid(params["Wo"] @ z_n + params["bo"])
    return f, i, c_tilde, o


def lstm_step_forward(x_t, h_prev, c_prev, params):
    """One LSTM step.  Returns (h_next, c_next, cache)."""
    f, i, c_tilde, o = lstm_gates(x_t, h_prev, params)
    c_next = f * c_prev + i * c_tilde
    h_next = o * np.tanh(c_next)
    cache = (o, c_tilde, i, f, c_next, c_prev, h_prev, x_t, params)
    return h_next, c_next, cache


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward pass of one LSTM step, one batch row at a time.

    Returns (dx_t, dh_prev, dc_prev, grads).
    """
    o, c_tilde, i, f, c_next, c_prev, h_prev, x_t, params = cache
    N, H = h_prev.shape
    D = x_t.shape[1]
    dx_t = np.zeros((N, D))
    dh_prev = np.zeros((N, H))
    dc_prev = np.zeros((N, H))
    grads = {key: np.zeros(np.shape(params[key])) for key in KEYS}
    for n in range(N):
        tc = np.tanh(c_next[n])
        dc = dc_next[n] + dh_next[n] * o[n] * (1.0 - tc * tc)
        pre = {
            "f": dc * c_prev[n] * f[n] * (1.0 - f[n]),
            "i": dc * c_tilde[n] * i[n] * (1.0 - i[n]),
            "c": dc * i[n] * (1.0 - c_tilde[n] * c_tilde[n]),
            "o": dh_next[n] * tc * o[n] * (1.0 - o[n]),
        }
        z_n = np.concatenate((h_prev[n], x_t[n]))
        dz_n = np.zeros(H + D)
        for gate in ("f", "i", "c", "o"):
            dz_n = dz_n + params["W" + gate].T @ pre[gate]
            grads["W" + gate] = grads["W" + gate] + np.outer(pre[gate], z_n)
            grads["b" + gate] = grads["b" + gate] + pre[gate]
        dh_prev[n] = dz_n[:H]
        dx_t[n] = dz_n[H:]
        dc_prev[n] = dc * f[n]
    return dx_t, dh_prev, dc_prev, grads


def lstm_forward(x, h0, params):
    """Run the LSTM over T steps from h0 and a zero cell state.

    Returns (h (N, T, H), cache).
    """
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    h_cur = h0
    c_cur = np.zeros((N, H))
    step_caches = []
    for t in range(T):
        h_cur, c_cur, step_cache = lstm_step_forward(x[:, t, :], h_cur, c_cur, params)
        h[:, t, :] = h_cur
        step_caches.append(step_cache)
    return h, (D, step_caches)


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    Returns (dx, dh0, grads).
    """
    D, step_caches = cache
    N, T, H = dh.shape
    dx = np.zeros((N, T, D))
    dh_carry = np.zeros((N, H))
    dc_carry = np.zeros((N, H))
    grads = None
    for t in range(T - 1, -1, -1):
        dx_t, dh_carry, dc_carry, step = lstm_step_backward(
            dh[:, t, :] + dh_carry, dc_carry, step_caches[t]
        )
        dx[:, t, :] = dx_t
        if grads is None:
            grads = step
        else:
            grads = {key: grads[key] + step[key] for key in KEYS}
    return dx, dh_carry, grads
