"""A character-level language model built from your RNN layers.

The lecture's example: the vocabulary {h, e, l, o} and the training sequence
"hello".  At every step the model reads one character (one-hot) and predicts
the next: from "hell" it should predict "ello".  At test time it samples a
character, feeds it back in, and goes on.

Indices follow VOCAB: h = 0, e = 1, l = 2, o = 3.  Parameters come in one dict
``params`` with the keys of PARAM_KEYS and the shapes of rnn_layers.py
(K = vocabulary size): U (H, K), W (H, H), b (H,), V (K, H), c (K,).  No
function may modify its inputs in place.
"""

import numpy as np

from rnn_layers import (
    clip_gradients,
    output_backward,
    output_forward,
    rnn_backward,
    rnn_forward,
    softmax_cross_entropy,
)

VOCAB = ("h", "e", "l", "o")
PARAM_KEYS = ("U", "W", "b", "V", "c")


def one_hot(indices, K):
    """One-hot encoding of integer indices.

    Args:
        indices: integer array of any shape, values in [0, K).
        K: number of classes.

    Returns:
        float64 array of shape indices.shape + (K,), 1.0 at each index and 0.0 elsewhere.
    """
    ### BEGIN SOLUTION
    indices = np.asarray(indices)
    out = np.zeros(indices.shape + (K,))
    np.put_along_axis(out, indices[..., None], 1.0, axis=-1)
    return out
    ### END SOLUTION


def char_rnn_loss(params, x, y, s0):
    """Loss and gradients of the language model on a batch of sequences.

    Chain the layers: one_hot(x) -> rnn_forward -> output_forward ->
    softmax_cross_entropy, then back through output_backward and rnn_backward.

    Args:
        params: dict with U (H, K), W (H, H), b (H,), V (K, H), c (K,).
        x: (N, T) integer input characters.
        y: (N, T) integer target characters (the next characters).
        s0: (N, H) initial states.

    Returns:
        loss: float, the summed cross-entropy divided by N (as softmax_cross_entropy).
        grads: dict with the keys of params, each shaped like its parameter.
        s_last: (N, H) the state after the last step (to carry into the next chunk).
    """
    ### BEGIN SOLUTION
    K = params["V"].shape[0]
    s, rnn_cache = rnn_forward(one_hot(x, K), s0, params["U"], params["W"], params["b"])
    o, out_cache = output_forward(s, params["V"], params["c"])
    loss, do = softmax_cross_entropy(o, y)
    ds, dV, dc = output_backward(do, out_cache)
    _, _, dU, dW, db = rnn_backward(ds, rnn_cache)
    grads = {"U": dU, "W": dW, "b": db, "V": dV, "c": dc}
    return loss, grads, s[:, -1]
    ### END SOLUTION


def adagrad_update(params, grads, memory, learning_rate):
    """One Adagrad step, for every parameter p with gradient g and memory m:

        m_new = m + g * g
        p_new = p - learning_rate * g / sqrt(m_new + 1e-8)

    Args:
        params, grads, memory: dicts with the same keys and shapes.
        learning_rate: float.

    Returns:
        new_params, new_memory: new dicts (the inputs are not modified).
    """
    ### BEGIN SOLUTION
    new_memory = {k: memory[k] + grads[k] ** 2 for k in params}
    new_params = {k: params[k] - learning_rate * grads[k] / np.sqrt(new_memory[k] + 1e-8) for k in params}
    return new_params, new_memory
    ### END SOLUTION


def train_char_rnn(params, x, y, steps, learning_rate, max_norm):
    """Train on one batch of sequences with clipped Adagrad.

    Each step: loss and gradients from char_rnn_loss with zero initial states,
    clip_gradients(grads, max_norm), then adagrad_update (memory starts at zero).

    Args:
        params: initial parameters (see char_rnn_loss); not modified.
        x, y: (N, T) integer inputs and targets.
        steps: number of updates.
        learning_rate, max_norm: floats.

    Returns:
        params: the trained parameters (a new dict).
        losses: (steps,) float64, the loss before each update.
    """
    ### BEGIN SOLUTION
    s0 = np.zeros((x.shape[0], params["W"].shape[0]))
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    losses = np.empty(steps)
    for step in range(steps):
        losses[step], grads, _ = char_rnn_loss(params, x, y, s0)
        grads, _ = clip_gradients(grads, max_norm)
        params, memory = adagrad_update(params, grads, memory, learning_rate)
    return params, losses
    ### END SOLUTION


def sample(params, start, length, temperature=None, seed=0):
    """Generate characters, feeding each one back in as the next input.

    Start from a zero state and the character index ``start``.  At each step
    run one RNN step and the output layer on the current character; the next
    character is the argmax of the scores when temperature is None (greedy),
    otherwise it is drawn from softmax(scores / temperature) with
    ``rng.choice(K, p=probs)``, where ``rng = np.random.default_rng(seed)`` is
    made once before the loop.

    Args:
        params: dict as in char_rnn_loss.
        start: index of the first input character.
        length: how many characters to generate.
        temperature: None for greedy, else a positive float.
        seed: seed of the random generator (unused when greedy).

    Returns:
        (length,) int64 array of generated character indices (start not included).
    """
    ### BEGIN SOLUTION
    K, H = params["V"].shape
    rng = np.random.default_rng(seed)
    s = np.zeros((1, H))
    index = start
    out = np.empty(length, dtype=np.int64)
    for t in range(length):
        states, _ = rnn_forward(one_hot(np.array([[index]]), K), s, params["U"], params["W"], params["b"])
        s = states[:, -1]
        scores, _ = output_forward(states, params["V"], params["c"])
        scores = scores[0, -1]
        if temperature is None:
            index = int(np.argmax(scores))
        else:
            z = scores / temperature
            probs = np.exp(z - z.max())
            index = int(rng.choice(K, p=probs / probs.sum()))
        out[t] = index
    return out
    ### END SOLUTION
