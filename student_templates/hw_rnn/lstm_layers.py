# Student template: replace each `raise NotImplementedError` with your code.
# Keep the file name, the function names, arguments and return values as they are.
"""LSTM layers, in the notation of the lecture.

    f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)      forget gate
    i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)      input gate
    C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)        candidate
    C_t = f_t * C_{t-1} + i_t * C~_t             cell update
    o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)      output gate
    h_t = o_t * tanh(C_t)

The gates read the concatenation [h_prev, x_t] in that order (h first), so each
of Wf, Wi, Wc, Wo is (H, H + D) and each of bf, bi, bc, bo is (H,).  They come
in one dict ``params`` with exactly those eight keys, and gradient dicts use the
same keys.  Batch first: x is (N, T, D), hidden states (N, T, H).  Arrays are
float64; no function may modify its input arrays in place.
"""

import numpy as np


def sigmoid(z):
    """The logistic function 1 / (1 + exp(-z)), elementwise.

    Args:
        z: array of any shape.

    Returns:
        Array like z.  Numerically stable: no overflow warning and no NaN for
        z = +-1000.
    """
    # YOUR CODE HERE
    raise NotImplementedError("sigmoid is not implemented yet")


def lstm_gates(x_t, h_prev, params):
    """The four gate activations of one LSTM step.

    With z = [h_prev, x_t] (N, H + D):
    f = sigmoid(z Wf^T + bf), i = sigmoid(z Wi^T + bi),
    c_tilde = tanh(z Wc^T + bc), o = sigmoid(z Wo^T + bo).

    Args:
        x_t: (N, D) inputs at this step.
        h_prev: (N, H) hidden states h(t-1).
        params: dict with "Wf", "Wi", "Wc", "Wo" (H, H + D) and "bf", "bi", "bc", "bo" (H,).

    Returns:
        f, i, c_tilde, o: each (N, H).
    """
    # YOUR CODE HERE
    raise NotImplementedError("lstm_gates is not implemented yet")


def lstm_step_forward(x_t, h_prev, c_prev, params):
    """One LSTM step: C_t = f * C_{t-1} + i * C~_t and h_t = o * tanh(C_t).

    Args:
        x_t: (N, D) inputs.
        h_prev: (N, H) hidden states h(t-1).
        c_prev: (N, H) cell states C(t-1).
        params: the eight-key parameter dict (see lstm_gates).

    Returns:
        h_next: (N, H), c_next: (N, H), cache: whatever lstm_step_backward needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError("lstm_step_forward is not implemented yet")


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward pass of one LSTM step.

    The cell state gets gradient both from dc_next and through h = o * tanh(C).

    Args:
        dh_next: (N, H) gradient of the loss w.r.t. h_next.
        dc_next: (N, H) gradient of the loss w.r.t. c_next.
        cache: what lstm_step_forward returned.

    Returns:
        dx_t: (N, D), dh_prev: (N, H), dc_prev: (N, H),
        grads: dict with the eight parameter keys, each shaped like its parameter.
    """
    # YOUR CODE HERE
    raise NotImplementedError("lstm_step_backward is not implemented yet")


def lstm_forward(x, h0, params):
    """Run the LSTM over whole sequences; the initial cell state is zero.

    Args:
        x: (N, T, D) input sequences.
        h0: (N, H) initial hidden states (not part of the returned h).
        params: the eight-key parameter dict (see lstm_gates).

    Returns:
        h: (N, T, H), where h[:, t] is the hidden state after reading x[:, t].
        cache: whatever lstm_backward needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError("lstm_forward is not implemented yet")


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    Both h(t) and C(t) feed the next step, so the gradients flowing back from
    step t+1 (dh_prev and dc_prev) add to those of step t; parameter gradients
    are summed over every step.

    Args:
        dh: (N, T, H) upstream gradient of the loss w.r.t. every hidden state.
        cache: what lstm_forward returned.

    Returns:
        dx: (N, T, D), dh0: (N, H), grads: dict with the eight parameter keys.
    """
    # YOUR CODE HERE
    raise NotImplementedError("lstm_backward is not implemented yet")
