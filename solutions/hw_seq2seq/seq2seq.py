"""An encoder-decoder (seq2seq) model that maps a sequence to one of another length.

The encoder reads the source and keeps its last valid state as the context;
the decoder starts from the context and emits one token per step, reading its
previous token, until it emits the end token.  Source and target tokens share
one vocabulary of K tokens and one embedding matrix E.

Parameters come in one dict ``params`` with exactly the keys of PARAM_KEYS:

    E (K, D)                                         token embeddings (shared)
    U_enc (H, D), W_enc (H, H), b_enc (H,)           encoder RNN
    U_dec (H, D), W_dec (H, H), b_dec (H,)           decoder RNN
    V (K, H), c (K,)                                 decoder output layer

Gradient dicts use the same keys and shapes.  No function may modify its
inputs in place.
"""

from __future__ import annotations

import numpy as np

from decoder import (
    decoder_backward,
    decoder_forward,
    decoder_step_forward,
    embed_backward,
    embed_forward,
    masked_cross_entropy,
)
from encoder import encoder_backward, encoder_forward

PARAM_KEYS = ("E", "U_enc", "W_enc", "b_enc", "U_dec", "W_dec", "b_dec", "V", "c")


def shift_targets(y: np.ndarray, lengths: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Decoder inputs and outputs for teacher forcing.

    Sequence n holds L = lengths[n] real tokens y[n, :L] (the rest is padding).
    The decoder reads the start token and then the target, and must predict the
    target and then the end token, so both rows have T + 1 positions:

        y_in[n]  = start, y[n, 0], ..., y[n, L-1], end, ..., end
        y_out[n] = y[n, 0], ..., y[n, L-1], end, end, ..., end

    The first L + 1 positions of y_out are the ones to learn (mask
    ``np.arange(T + 1) < lengths[:, None] + 1``); every later position of both
    arrays holds the end token.

    Args:
        y: (N, T) integer target tokens.
        lengths: (N,) integers in [0, T].
        start, end: the start and end tokens.

    Returns:
        y_in: (N, T + 1) int64 decoder inputs.
        y_out: (N, T + 1) int64 decoder targets.

    Raises:
        ValueError: a length is outside [0, T] or the shapes do not agree.
    """
    y = np.asarray(y)
    lengths = np.asarray(lengths)
    if y.ndim != 2 or lengths.shape != (y.shape[0],):
        raise ValueError(f"y should be (N, T) and lengths (N,), got {y.shape} and {lengths.shape}")
    if np.any(lengths < 0) or np.any(lengths > y.shape[1]):
        raise ValueError(f"lengths should be in [0, {y.shape[1]}], got {lengths.tolist()}")
    ### BEGIN SOLUTION
    N, T = y.shape
    real = np.arange(T)[None, :] < lengths[:, None]
    y_out = np.full((N, T + 1), end, dtype=np.int64)
    y_out[:, :T] = np.where(real, y, end)
    y_in = np.full((N, T + 1), end, dtype=np.int64)
    y_in[:, 0] = start
    y_in[:, 1:] = y_out[:, :T]
    return y_in, y_out
    ### END SOLUTION


def seq2seq_loss(params: dict, src: np.ndarray, src_mask: np.ndarray, y_in: np.ndarray, y_out: np.ndarray,
                 out_mask: np.ndarray) -> tuple[float, dict]:
    """Loss and gradients of the encoder-decoder on a batch, with teacher forcing.

    Forward: embed the source, encoder_forward from zero states (the context is
    each source's last valid state), decoder_forward from the context on y_in,
    masked_cross_entropy against y_out.  Backward: back through the decoder,
    the context's gradient into the encoder, and both embedding lookups into E.

    Args:
        params: dict with the keys of PARAM_KEYS.
        src: (N, T_src) integer source tokens; src_mask: (N, T_src) bool prefix mask.
        y_in, y_out: (N, T_out) integer decoder inputs and targets (see shift_targets).
        out_mask: (N, T_out) bool, True at the target tokens that count.

    Returns:
        loss: float, the mean cross-entropy over the real target tokens.
        grads: dict with the keys of PARAM_KEYS, each shaped like its parameter.
    """
    ### BEGIN SOLUTION
    N = src.shape[0]
    H = params["W_enc"].shape[0]
    x, embed_cache = embed_forward(src, params["E"])
    s, context, enc_cache = encoder_forward(x, np.zeros((N, H)), params["U_enc"], params["W_enc"], params["b_enc"],
                                            src_mask)
    dec = {"E": params["E"], "U": params["U_dec"], "W": params["W_dec"], "b": params["b_dec"], "V": params["V"],
           "c": params["c"]}
    o, dec_cache = decoder_forward(y_in, context, dec)
    loss, do = masked_cross_entropy(o, y_out, out_mask)
    dcontext, dec_grads = decoder_backward(do, dec_cache)
    dx, _, dU, dW, db = encoder_backward(np.zeros_like(s), dcontext, enc_cache)
    grads = {"E": dec_grads["E"] + embed_backward(dx, embed_cache), "U_enc": dU, "W_enc": dW, "b_enc": db,
             "U_dec": dec_grads["U"], "W_dec": dec_grads["W"], "b_dec": dec_grads["b"], "V": dec_grads["V"],
             "c": dec_grads["c"]}
    return loss, grads
    ### END SOLUTION


def clip_gradients(grads: dict, max_norm: float) -> tuple[dict, float]:
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
    ### BEGIN SOLUTION
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    return {name: g * scale for name, g in grads.items()}, total_norm
    ### END SOLUTION


def adagrad_update(params: dict, grads: dict, memory: dict, learning_rate: float) -> tuple[dict, dict]:
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


def train_seq2seq(params: dict, src: np.ndarray, src_mask: np.ndarray, y_in: np.ndarray, y_out: np.ndarray,
                  out_mask: np.ndarray, steps: int, learning_rate: float, max_norm: float) -> tuple[dict, np.ndarray]:
    """Train on one batch with clipped Adagrad (full batch, every step).

    Each step: loss and gradients from seq2seq_loss, clip_gradients(grads,
    max_norm), then adagrad_update (memory starts at zero).

    Args:
        params: initial parameters (keys of PARAM_KEYS); not modified.
        src, src_mask, y_in, y_out, out_mask: the batch, as in seq2seq_loss.
        steps: number of updates.
        learning_rate, max_norm: floats.

    Returns:
        params: the trained parameters (a new dict).
        losses: (steps,) float64, the loss before each update.
    """
    ### BEGIN SOLUTION
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    losses = np.empty(steps)
    for step in range(steps):
        losses[step], grads = seq2seq_loss(params, src, src_mask, y_in, y_out, out_mask)
        grads, _ = clip_gradients(grads, max_norm)
        params, memory = adagrad_update(params, grads, memory, learning_rate)
    return params, losses
    ### END SOLUTION


def greedy_decode(params: dict, src: np.ndarray, start: int, end: int, max_length: int) -> np.ndarray:
    """Translate one source sequence, feeding each output token back in as the next input.

    Encode src (all of it real) from a zero state; then from the context and
    the start token run decoder steps, each time taking the token with the
    highest score (the first one on ties, as np.argmax).  Stop when that token
    is the end token (which is not returned) or after max_length tokens.

    Args:
        params: dict with the keys of PARAM_KEYS.
        src: (T_src,) integer source tokens.
        start, end: the start and end tokens.
        max_length: the most tokens to emit.

    Returns:
        (L,) int64 output tokens, 0 <= L <= max_length, without the end token.

    Raises:
        ValueError: src is not a non-empty 1-D integer array.
    """
    src = np.asarray(src)
    if src.ndim != 1 or src.size == 0 or src.dtype.kind not in "iu":
        raise ValueError(f"src should be a non-empty 1-D integer array, got {src.dtype} of shape {src.shape}")
    ### BEGIN SOLUTION
    H = params["W_enc"].shape[0]
    x, _ = embed_forward(src[None, :], params["E"])
    _, context, _ = encoder_forward(x, np.zeros((1, H)), params["U_enc"], params["W_enc"], params["b_enc"])
    dec = {"E": params["E"], "U": params["U_dec"], "W": params["W_dec"], "b": params["b_dec"], "V": params["V"],
           "c": params["c"]}
    s, token, out = context, start, []
    for _ in range(max_length):
        s, o, _ = decoder_step_forward(np.array([token]), s, dec)
        token = int(np.argmax(o[0]))
        if token == end:
            break
        out.append(token)
    return np.array(out, dtype=np.int64)
    ### END SOLUTION
