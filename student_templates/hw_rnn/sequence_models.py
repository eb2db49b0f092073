# Student template: replace each `raise NotImplementedError` with your code.
# Keep the file name, the function names, arguments and return values as they are.
"""Two more uses of your RNN layers: how gradients fade or blow up through time,
and a many-to-one model that reads a whole sequence and predicts one label.

Shapes follow rnn_layers.py: x (N, T, D), states (N, T, H), U (H, D), W (H, H),
b (H,), V (K, H), c (K,).  No function may modify its inputs in place.
"""

import numpy as np

from rnn_layers import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward


def state_gradient_norms(x, s0, U, W, b, ds_last):
    """How large dL/ds(t) is at every step when only the last state gets a loss.

    Run the sequence one rnn_step_forward at a time (keeping each step's cache:
    caches are opaque, so use only your step functions), then backpropagate
    from dL/ds(T) = ds_last (no loss at any other step) with rnn_step_backward.  With W = r Q (Q
    orthogonal) and states near zero (tanh' ~ 1), the norm changes by a factor
    r per step: the lecture's 0.8^100 ~ 2e-10 (vanishing) and 1.5^100 ~ 4e17
    (exploding).

    Args:
        x: (N, T, D), s0: (N, H), U: (H, D), W: (H, H), b: (H,).
        ds_last: (N, H) gradient of the loss w.r.t. the last state s(T).

    Returns:
        norms: (T,) float64; norms[t] is the Frobenius norm of dL/ds[:, t]
        (so norms[T - 1] is the norm of ds_last).
    """
    # YOUR CODE HERE
    raise NotImplementedError("state_gradient_norms is not implemented yet")


def many_to_one_loss(x, y, s0, params):
    """Sequence classification from the last state ("only output at the end").

    o = c + V s(T), y_hat = softmax(o), loss = sum over the batch of
    -log y_hat[y] divided by N.  The gradient reaches the earlier states only
    through the recurrence.

    Args:
        x: (N, T, D) input sequences.
        y: (N,) integer labels in [0, K).
        s0: (N, H) initial states.
        params: dict with U (H, D), W (H, H), b (H,), V (K, H), c (K,).

    Returns:
        loss: float.
        grads: dict with the keys of params, each shaped like its parameter.
    """
    # YOUR CODE HERE
    raise NotImplementedError("many_to_one_loss is not implemented yet")
