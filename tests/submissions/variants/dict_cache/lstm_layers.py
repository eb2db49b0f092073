"""LSTM layers whose caches are a small class and dicts.

    f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)     i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)
    C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)       o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)
    C_t = f_t * C_{t-1} + i_t * C~_t            h_t = o_t * tanh(C_t)

Gates act on [h_prev, x_t] (h first).  lstm_backward does its own math instead
of calling lstm_step_backward.
"""

import numpy as np

PARAM_KEYS = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")


class StepCache:
    """What one LSTM step keeps for its backward pass."""

    __slots__ = ("c_next", "c_prev", "f", "g", "i", "o", "params", "z")

    def __init__(self, z, c_prev, c_next, f, i, g, o, params):
        self.z = z
        self.c_prev = c_prev
        self.c_next = c_next
        self.f = f
        self.i = i
        self.g = g
        self.o = o
        self.params = params


def sigmoid(z):
    """Logistic function as 0.5 * (1 + tanh(z / 2)); tanh never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def lstm_gates(x_t, h_prev, params):
    """Gates f, i, c_tilde, o of one step, each (N, H)."""
    z = np.concatenate((h_prev, x_t), axis=1)
    f = sigmoid(np.dot(z, params["Wf"].T) + params["bf"])
    i = sigmoid(np.dot(z, params["Wi"].T) + params["bi"])
    g = np.tanh(np.dot(z, params["Wc"].T) + params["bc"])
    o = sigmoid(np.dot(z, params["Wo"].T) + params["bo"])
    return f, i, g, o


def lstm_step_forward(x_t, h_prev, c_prev, params):
    """One LSTM step.  Returns (h_next, c_next, cache)."""
    f, i, g, o = lstm_gates(x_t, h_prev, params)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    z = np.concatenate((h_prev, x_t), axis=1)
    return h_next, c_next, StepCache(z, c_prev, c_next, f, i, g, o, params)


def _backprop_step(dh, dc_in, sc):
    """Shared math of one step: returns (dz, dc_prev, pre-activation grads)."""
    tc = np.tanh(sc.c_next)
    dc = dc_in + dh * sc.o * (1.0 - tc * tc)
    d_pre = {
        "f": dc * sc.c_prev * sc.f * (1.0 - sc.f),
        "i": dc * sc.g * sc.i * (1.0 - sc.i),
        "c": dc * sc.i * (1.0 - sc.g * sc.g),
        "o": dh * tc * sc.o * (1.0 - sc.o),
    }
    dz = sum(np.dot(d, sc.params["W" + k]) for k, d in d_pre.items())
    return dz, dc * sc.f, d_pre


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward pass of one LSTM step.  Returns (dx_t, dh_prev, dc_prev, grads)."""
    H = cache.c_prev.shape[1]
    dz, dc_prev, d_pre = _backprop_step(dh_next, dc_next, cache)
    grads = {}
    for k, d in d_pre.items():
        grads["W" + k] = np.dot(d.T, cache.z)
        grads["b" + k] = d.sum(axis=0)
    return dz[:, H:], dz[:, :H], dc_prev, grads


def lstm_forward(x, h0, params):
    """Run the LSTM over T steps from h0 and a zero cell state.

    Returns (h (N, T, H), cache); the cache is a dict.
    """
    T = x.shape[1]
    h_t = h0
    c_t = np.zeros(h0.shape)
    hs = []
    steps = []
    for t in range(T):
        h_t, c_t, sc = lstm_step_forward(x[:, t], h_t, c_t, params)
        hs.append(h_t)
        steps.append(sc)
    return np.stack(hs, axis=1), {"steps": steps, "params": params, "D": x.shape[2]}


def lstm_backward(dh, cache):
    """Backpropagation through time, inlining the per-step math.

    Returns (dx, dh0, grads).
    """
    steps, params = cache["steps"], cache["params"]
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache["D"]))
    grads = {k: np.zeros(np.shape(params[k])) for k in PARAM_KEYS}
    dh_back = np.zeros((N, H))
    dc_back = np.zeros((N, H))
    for t in reversed(range(T)):
        sc = steps[t]
        dh_t = dh[:, t] + dh_back
        tc = np.tanh(sc.c_next)
        dc = dc_back + dh_t * sc.o * (1.0 - tc**2)
        da_f = dc * sc.c_prev * sc.f * (1.0 - sc.f)
        da_i = dc * sc.g * sc.i * (1.0 - sc.i)
        da_c = dc * sc.i * (1.0 - sc.g**2)
        da_o = dh_t * tc * sc.o * (1.0 - sc.o)
        dz = (
            np.dot(da_f, params["Wf"])
            + np.dot(da_i, params["Wi"])
            + np.dot(da_c, params["Wc"])
            + np.dot(da_o, params["Wo"])
        )
        for name, d in (("f", da_f), ("i", da_i), ("c", da_c), ("o", da_o)):
            grads["W" + name] = grads["W" + name] + np.dot(d.T, sc.z)
            grads["b" + name] = grads["b" + name] + d.sum(axis=0)
        dx[:, t] = dz[:, H:]
        dh_back = dz[:, :H]
        dc_back = dc * sc.f
    return dx, dh_back, grads
