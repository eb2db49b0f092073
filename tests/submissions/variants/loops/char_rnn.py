"""The character-level language model on "hello", written with explicit loops.

Vocabulary h = 0, e = 1, l = 2, o = 3.  The model is driven one time step at a
time with rnn_step_forward and rnn_step_backward (no rnn_forward/rnn_backward),
one-hot vectors are filled position by position, and Adagrad and sampling walk
the parameters and the characters in plain Python loops.  Only the public
functions of rnn_layers.py are used; their caches are passed back untouched.
"""

import math

import numpy as np

from rnn_layers import (
    clip_gradients,
    output_backward,
    output_forward,
    rnn_step_backward,
    rnn_step_forward,
    softmax_cross_entropy,
)

VOCAB = ("h", "e", "l", "o")
PARAM_KEYS = ("U", "W", "b", "V", "c")


def one_hot(indices, K):
    """One-hot encoding, one position at a time.

    Returns a float64 array of shape indices.shape + (K,).
    """
    indices = np.asarray(indices)
    flat = indices.reshape(-1)
    rows = np.zeros((flat.shape[0], K))
    for position in range(flat.shape[0]):
        rows[position, int(flat[position])] = 1.0
    return rows.reshape(indices.shape + (K,))


def char_rnn_loss(params, x, y, s0):
    """Loss, parameter gradients and last state of the language model.

    Runs the recurrence step by step, scores all states at once, then
    backpropagates through the steps from the last to the first.
    Returns (loss, grads, s_last).
    """
    U, W, b, V, c = (params[k] for k in PARAM_KEYS)
    K = V.shape[0]
    N, T = x.shape
    inputs = one_hot(x, K)
    states = np.zeros((N, T, W.shape[0]))
    step_caches = []
    state = s0
    for t in range(T):
        state, step_cache = rnn_step_forward(inputs[:, t, :], state, U, W, b)
        states[:, t, :] = state
        step_caches.append(step_cache)
    scores, out_cache = output_forward(states, V, c)
    loss, dscores = softmax_cross_entropy(scores, y)
    dstates, dV, dc = output_backward(dscores, out_cache)
    dU = np.zeros(U.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(b.shape)
    carried = np.zeros(s0.shape)
    for t in range(T - 1, -1, -1):
        _, carried, dU_t, dW_t, db_t = rnn_step_backward(dstates[:, t, :] + carried, step_caches[t])
        dU = dU + dU_t
        dW = dW + dW_t
        db = db + db_t
    grads = {"U": dU, "W": dW, "b": db, "V": dV, "c": dc}
    return loss, grads, states[:, T - 1, :].copy()


def adagrad_update(params, grads, memory, learning_rate):
    """Adagrad, one parameter at a time, on new arrays.

    Returns (new_params, new_memory).
    """
    new_params = {}
    new_memory = {}
    for name in params:
        g = grads[name]
        m = memory[name] + g * g
        new_memory[name] = m
        new_params[name] = params[name] - learning_rate * g / np.sqrt(m + 1e-8)
    return new_params, new_memory


def train_char_rnn(params, x, y, steps, learning_rate, max_norm):
    """Clipped Adagrad from zero initial states on one batch.

    Returns (params, losses) with losses the loss before each update.
    """
    current = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    memory = {}
    for name in current:
        memory[name] = np.zeros(current[name].shape)
    N = x.shape[0]
    H = current["W"].shape[0]
    history = []
    for _ in range(steps):
        loss, grads, _ = char_rnn_loss(current, x, y, np.zeros((N, H)))
        history.append(loss)
        clipped, _ = clip_gradients(grads, max_norm)
        current, memory = adagrad_update(current, clipped, memory, learning_rate)
    return current, np.array(history, dtype=np.float64)


def sample(params, start, length, temperature=None, seed=0):
    """Generate characters one at a time, feeding each back in.

    Greedy when temperature is None, otherwise draws from
    softmax(scores / temperature) with one generator made before the loop.
    Returns an int64 array of the generated indices.
    """
    V, c = params["V"], params["c"]
    K, H = V.shape
    rng = np.random.default_rng(seed)
    state = np.zeros((1, H))
    current = start
    generated = []
    for _ in range(length):
        state, _ = rnn_step_forward(one_hot([current], K), state, params["U"], params["W"], params["b"])
        scores, _ = output_forward(state[:, None, :], V, c)
        scores = scores[0, 0]
        if temperature is None:
            best = 0
            for k in range(1, K):
                if scores[k] > scores[best]:
                    best = k
            current = best
        else:
            top = max(float(v) for v in scores)
            weights = [math.exp((float(v) - top) / temperature) for v in scores]
            total = sum(weights)
            current = int(rng.choice(K, p=np.array(weights) / total))
        generated.append(current)
    return np.array(generated, dtype=np.int64)
