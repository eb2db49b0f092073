"""The seq2seq model, with targets shifted by rolling, a while loop for decoding and SGD-style Adagrad."""

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


def _decoder(params):
    return {"E": params["E"], "U": params["U_dec"], "W": params["W_dec"], "b": params["b_dec"],
            "V": params["V"], "c": params["c"]}


def shift_targets(y, lengths, start, end):
    """(y_in, y_out), both (N, T + 1): start + target + end padding, and target + end padding."""
    y = np.asarray(y)
    N, T = y.shape
    if np.any((lengths < 0) | (lengths > T)):
        raise ValueError(f"lengths should be in [0, {T}]")
    padded = np.concatenate([y, np.zeros((N, 1), dtype=y.dtype)], axis=1).astype(np.int64)
    after = np.arange(T + 1)[None, :] >= np.asarray(lengths)[:, None]
    y_out = np.where(after, end, padded)
    y_in = np.roll(y_out, 1, axis=1)
    y_in[:, 0] = start
    return y_in, y_out


def seq2seq_loss(params, src, src_mask, y_in, y_out, out_mask):
    """(loss, grads) of the encoder-decoder with teacher forcing."""
    x, embed_cache = embed_forward(src, params["E"])
    zeros = np.zeros((src.shape[0], params["b_enc"].shape[0]))
    s, context, enc_cache = encoder_forward(x, zeros, params["U_enc"], params["W_enc"], params["b_enc"], src_mask)
    o, dec_cache = decoder_forward(y_in, context, _decoder(params))
    loss, do = masked_cross_entropy(o, y_out, out_mask)
    dcontext, dec = decoder_backward(do, dec_cache)
    dx, _, dU, dW, db = encoder_backward(0.0 * s, dcontext, enc_cache)
    grads = {"U_enc": dU, "W_enc": dW, "b_enc": db, "V": dec["V"], "c": dec["c"]}
    for key in ("U", "W", "b"):
        grads[key + "_dec"] = dec[key]
    grads["E"] = embed_backward(dx, embed_cache) + dec["E"]
    return loss, grads


def clip_gradients(grads, max_norm):
    """(clipped, total_norm) by the global L2 norm."""
    total_norm = float(np.sqrt(np.sum([np.vdot(g, g) for g in grads.values()])))
    if total_norm <= max_norm:
        return dict(grads), total_norm
    return {k: g * (max_norm / total_norm) for k, g in grads.items()}, total_norm


def adagrad_update(params, grads, memory, learning_rate):
    """(new_params, new_memory) after one Adagrad step."""
    new_memory, new_params = {}, {}
    for k, p in params.items():
        new_memory[k] = memory[k] + np.square(grads[k])
        new_params[k] = p - learning_rate * grads[k] / np.sqrt(new_memory[k] + 1e-8)
    return new_params, new_memory


def train_seq2seq(params, src, src_mask, y_in, y_out, out_mask, steps, learning_rate, max_norm):
    """(params, losses) after `steps` clipped Adagrad updates on the batch."""
    memory = {k: 0.0 * v for k, v in params.items()}
    losses = []
    for _ in range(steps):
        loss, grads = seq2seq_loss(params, src, src_mask, y_in, y_out, out_mask)
        losses.append(loss)
        params, memory = adagrad_update(params, clip_gradients(grads, max_norm)[0], memory, learning_rate)
    return params, np.array(losses, dtype=np.float64)


def greedy_decode(params, src, start, end, max_length):
    """(L,) int64 tokens of greedy decoding, without the end token."""
    src = np.asarray(src)
    if src.ndim != 1 or src.size == 0 or src.dtype.kind not in "iu":
        raise ValueError("src should be a non-empty 1-D integer array")
    x, _ = embed_forward(src[None], params["E"])
    _, s, _ = encoder_forward(x, np.zeros((1, params["W_enc"].shape[0])), params["U_enc"], params["W_enc"],
                              params["b_enc"])
    dec = _decoder(params)
    tokens = []
    token = start
    while len(tokens) < max_length:
        s, o, _ = decoder_step_forward(np.array([token]), s, dec)
        token = int(np.argmax(o[0]))
        if token == end:
            break
        tokens.append(token)
    return np.array(tokens, dtype=np.int64)
