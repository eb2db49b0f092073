# Student template: replace each `raise NotImplementedError` with your code.
# Keep the file name, the function names, arguments and return values as they are.
"""The decoder of a sequence-to-sequence model: an RNN that feeds its previous output back.

Each step reads the *previous output token* y(t-1), embedded as a row of the
embedding matrix E, and the previous state; it scores the next token:

    x(t) = E[y(t-1)]                    (the embedding of the previous token)
    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))
    o(t) = c + V s(t)                   y_hat(t) = softmax(o(t))

The first state s(0) is the encoder's context and the first input token is the
start token.  In training the previous token is the *true* one (teacher
forcing); at test time it is the model's own previous guess.

Batch first: tokens are (N, T_tgt) integers in [0, K), states (N, T_tgt, H),
scores (N, T_tgt, K).  Decoder parameters come in one dict ``params`` with
exactly the keys of DECODER_KEYS: E (K, D), U (H, D), W (H, H), b (H,),
V (K, H), c (K,); gradient dicts use the same keys and shapes.  Arrays are
float64; no function may modify its inputs in place.  A ``cache`` is yours.
"""

from __future__ import annotations

import numpy as np

from encoder import rnn_step_backward, rnn_step_forward

DECODER_KEYS = ("E", "U", "W", "b", "V", "c")


def embed_forward(tokens: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, object]:
    """Look up the embedding of every token: x[n, t] = E[tokens[n, t]].

    Same as one_hot(tokens) @ E, without building the one-hot vectors.

    Args:
        tokens: integer array of any shape S, values in [0, K).
        E: (K, D) embedding matrix, one row per token.

    Returns:
        x: S + (D,) float64 embeddings.
        cache: whatever embed_backward needs.

    Raises:
        ValueError: a token is outside [0, K) or tokens are not integers.
    """
    tokens = np.asarray(tokens)
    if tokens.dtype.kind not in "iu" or (tokens.size and (tokens.min() < 0 or tokens.max() >= E.shape[0])):
        raise ValueError(f"tokens should be integers in [0, {E.shape[0]})")
    # YOUR CODE HERE
    raise NotImplementedError("embed_forward is not implemented yet")


def embed_backward(dx: np.ndarray, cache: object) -> np.ndarray:
    """Backward pass of embed_forward.

    Row k of dE adds dx over every position holding token k (a token that
    appears twice gets both gradients; a token that never appears gets zero).

    Args:
        dx: S + (D,) gradient of the loss w.r.t. the embeddings.
        cache: what embed_forward returned.

    Returns:
        dE: (K, D) gradient w.r.t. E.
    """
    # YOUR CODE HERE
    raise NotImplementedError("embed_backward is not implemented yet")


def decoder_step_forward(y_prev: np.ndarray, s_prev: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray, object]:
    """One decoder step: embed the previous token, one RNN step, score the next token.

    x = E[y_prev], s_next = tanh(b + W s_prev + U x), o = c + V s_next.

    Args:
        y_prev: (N,) integer previous tokens, in [0, K).
        s_prev: (N, H) previous states.
        params: dict with E (K, D), U (H, D), W (H, H), b (H,), V (K, H), c (K,).

    Returns:
        s_next: (N, H) new states.
        o: (N, K) scores of the next token.
        cache: whatever decoder_step_backward needs.

    Raises:
        ValueError: the shapes do not agree or a token is outside [0, K).
    """
    if np.ndim(y_prev) != 1 or np.shape(s_prev) != (len(y_prev), params["W"].shape[0]):
        raise ValueError(f"y_prev should be (N,) and s_prev (N, {params['W'].shape[0]}); got {np.shape(y_prev)} and "
                         f"{np.shape(s_prev)}")
    # YOUR CODE HERE
    raise NotImplementedError("decoder_step_forward is not implemented yet")


def decoder_step_backward(ds_next: np.ndarray, do: np.ndarray, cache: object) -> tuple[np.ndarray, dict]:
    """Backward pass of decoder_step_forward.

    s_next reaches the loss twice, directly (ds_next) and through the scores o
    (V^T do), so its gradient is the sum of the two.

    Args:
        ds_next: (N, H) upstream gradient w.r.t. s_next.
        do: (N, K) upstream gradient w.r.t. the scores o.
        cache: what decoder_step_forward returned.

    Returns:
        ds_prev: (N, H) gradient w.r.t. s_prev.
        grads: dict with the keys of DECODER_KEYS, each shaped like its parameter.
    """
    # YOUR CODE HERE
    raise NotImplementedError("decoder_step_backward is not implemented yet")


def decoder_forward(y_in: np.ndarray, context: np.ndarray, params: dict) -> tuple[np.ndarray, object]:
    """Run the decoder with teacher forcing: the input at step t is the true token y_in[:, t].

    s(0) = context; for t = 1..T_tgt one decoder step reads y_in[:, t-1] and
    s(t-1) and gives the scores o(t) of the token that should come next.

    Args:
        y_in: (N, T_tgt) integer input tokens (the start token, then the target
            shifted right by one).
        context: (N, H) the encoder's context, the decoder's first state.
        params: dict with the keys of DECODER_KEYS.

    Returns:
        o: (N, T_tgt, K) scores, o[:, t] after reading y_in[:, t].
        cache: whatever decoder_backward needs.

    Raises:
        ValueError: the shapes do not agree or a token is outside [0, K).
    """
    K, H = params["V"].shape
    if np.ndim(y_in) != 2 or np.shape(context) != (np.shape(y_in)[0], H):
        raise ValueError(f"y_in should be (N, T_tgt) and context (N, {H}); got {np.shape(y_in)} and "
                         f"{np.shape(context)}")
    # YOUR CODE HERE
    raise NotImplementedError("decoder_forward is not implemented yet")


def decoder_backward(do: np.ndarray, cache: object) -> tuple[np.ndarray, dict]:
    """Backpropagation through time for decoder_forward.

    Going back from the last step, each step gets do[:, t] and the state
    gradient carried back from step t+1 (zero at the last step); the gradient
    that comes out of the first step is the context's.  Parameter gradients
    add over the steps.

    Args:
        do: (N, T_tgt, K) upstream gradient w.r.t. the scores.
        cache: what decoder_forward returned.

    Returns:
        dcontext: (N, H) gradient w.r.t. the context.
        grads: dict with the keys of DECODER_KEYS, each shaped like its parameter.
    """
    # YOUR CODE HERE
    raise NotImplementedError("decoder_backward is not implemented yet")


def masked_cross_entropy(o: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy averaged over the real (unpadded) target tokens, and its gradient.

    y_hat = softmax(o) over the last axis;
    loss = (1 / M) * sum over (n, t) with mask[n, t] of -log y_hat[n, t, y[n, t]],
    where M = mask.sum() is the number of real tokens.

    Args:
        o: (N, T, K) scores.
        y: (N, T) integer targets in [0, K) (any value where the mask is off).
        mask: (N, T) bool, True at real tokens, or None for all True.

    Returns:
        loss: float.
        do: (N, T, K) gradient of the loss w.r.t. o, zero where the mask is off.

    Raises:
        ValueError: the shapes do not agree, or the mask keeps no token.

    Stays finite, with no warning, for scores as large as +-1000.
    """
    N, T, K = o.shape
    if np.shape(y) != (N, T) or (mask is not None and np.shape(mask) != (N, T)):
        raise ValueError(f"y and mask should have shape ({N}, {T})")
    keep = np.ones((N, T), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if not keep.any():
        raise ValueError("the mask keeps no token: the mean over real tokens is undefined")
    if np.any(keep & ((y < 0) | (y >= K))):
        raise ValueError(f"y should hold classes in [0, {K}) where the mask is on")
    # YOUR CODE HERE
    raise NotImplementedError("masked_cross_entropy is not implemented yet")
