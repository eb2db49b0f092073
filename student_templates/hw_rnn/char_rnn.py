# Student template: replace each `raise NotImplementedError` with your code.
# Keep the file name, the function names, arguments and return values as they are.
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
    # YOUR CODE HERE
    raise NotImplementedError("one_hot is not implemented yet")


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
    # YOUR CODE HERE
    raise NotImplementedError("char_rnn_loss is not implemented yet")


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
    # YOUR CODE HERE
    raise NotImplementedError("adagrad_update is not implemented yet")


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
    # YOUR CODE HERE
    raise NotImplementedError("train_char_rnn is not implemented yet")


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
    # YOUR CODE HERE
    raise NotImplementedError("sample is not implemented yet")
