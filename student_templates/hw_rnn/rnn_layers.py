# Student template: replace each `raise NotImplementedError` with your code.
# Keep the file name, the function names, arguments and return values as they are.
"""Vanilla RNN layers, in the notation of the lecture.

    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))
    o(t) = c + V s(t)                   y_hat(t) = softmax(o(t))
    L(t) = CrossEntropy(y(t), y_hat(t))

Mini-batches are batch first: x is (N, T, D), states (N, T, H), scores (N, T, K).
Weights keep the lecture's column-vector shapes, so in row (batch) form one step
is ``a = x_t @ U.T + s_prev @ W.T + b``.  Arrays are float64; no function may
modify its input arrays in place.  A ``cache`` is yours to design: only your own
backward function reads it.
"""

import numpy as np


def rnn_step_forward(x_t, s_prev, U, W, b):
    """One step of the vanilla RNN: a = b + W s_prev + U x_t, s_next = tanh(a).

    Args:
        x_t: (N, D) inputs at this time step.
        s_prev: (N, H) states s(t-1).
        U: (H, D) input-to-state weights.
        W: (H, H) state-to-state weights.
        b: (H,) bias.

    Returns:
        s_next: (N, H) states s(t).
        cache: whatever rnn_step_backward needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError("rnn_step_forward is not implemented yet")


def rnn_step_backward(ds_next, cache):
    """Backward pass of one RNN step.

    tanh'(a) = 1 - tanh(a)^2 = 1 - s_next^2, and a = b + W s_prev + U x_t.

    Args:
        ds_next: (N, H) gradient of the loss w.r.t. s_next.
        cache: what rnn_step_forward returned.

    Returns:
        dx_t: (N, D), ds_prev: (N, H), dU: (H, D), dW: (H, H), db: (H,)
        -- the gradients of the loss w.r.t. x_t, s_prev, U, W and b.
    """
    # YOUR CODE HERE
    raise NotImplementedError("rnn_step_backward is not implemented yet")


def rnn_forward(x, s0, U, W, b):
    """Run the vanilla RNN over whole sequences.

    s(t) = tanh(b + W s(t-1) + U x(t)) for t = 1..T, starting from s(0) = s0.

    Args:
        x: (N, T, D) input sequences.
        s0: (N, H) initial states (not part of the returned s).
        U: (H, D), W: (H, H), b: (H,) parameters shared by every step.

    Returns:
        s: (N, T, H), where s[:, t] is the state after reading x[:, t].
        cache: whatever rnn_backward needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError("rnn_forward is not implemented yet")


def rnn_backward(ds, cache):
    """Backpropagation through time for rnn_forward.

    The state s(t) feeds both the loss at step t (ds[:, t]) and the next step
    s(t+1), so its total gradient adds the two; parameter gradients are summed
    over every step because U, W and b are shared.

    Args:
        ds: (N, T, H) upstream gradient of the loss w.r.t. every state in s.
        cache: what rnn_forward returned.

    Returns:
        dx: (N, T, D), ds0: (N, H), dU: (H, D), dW: (H, H), db: (H,)
    """
    # YOUR CODE HERE
    raise NotImplementedError("rnn_backward is not implemented yet")


def output_forward(s, V, c):
    """Scores of the output layer at every step: o(t) = c + V s(t).

    Args:
        s: (N, T, H) states.
        V: (K, H) state-to-output weights.
        c: (K,) output bias.

    Returns:
        o: (N, T, K) scores.
        cache: whatever output_backward needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError("output_forward is not implemented yet")


def output_backward(do, cache):
    """Backward pass of output_forward.

    Args:
        do: (N, T, K) gradient of the loss w.r.t. the scores o.
        cache: what output_forward returned.

    Returns:
        ds: (N, T, H), dV: (K, H), dc: (K,)
    """
    # YOUR CODE HERE
    raise NotImplementedError("output_backward is not implemented yet")


def softmax_cross_entropy(o, y, mask=None):
    """Softmax and cross-entropy loss over a batch of sequences, and its gradient.

    y_hat(t) = softmax(o(t)); the loss adds -log y_hat(t)[y(t)] over every (n, t)
    the mask keeps and divides by the batch size N (whatever the mask).

    Args:
        o: (N, T, K) scores.
        y: (N, T) integer classes in [0, K).
        mask: (N, T) bool, or None for all True (sequences of different lengths).

    Returns:
        loss: float.
        do: (N, T, K) gradient of the loss w.r.t. o; zero where the mask is off.

    Must stay finite for scores as large as +-1000.
    """
    # YOUR CODE HERE
    raise NotImplementedError("softmax_cross_entropy is not implemented yet")


def clip_gradients(grads, max_norm):
    """Clip gradients by their global L2 norm.

    total_norm = sqrt(sum over every array g of sum(g^2)); when it exceeds
    max_norm, every array is scaled by max_norm / total_norm.

    Args:
        grads: dict name -> array (not modified).
        max_norm: positive float.

    Returns:
        clipped: dict with the same keys and shapes.
        total_norm: float, the global norm before clipping.
    """
    # YOUR CODE HERE
    raise NotImplementedError("clip_gradients is not implemented yet")
