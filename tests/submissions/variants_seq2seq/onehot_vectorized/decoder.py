"""The seq2seq decoder with one-hot embeddings (x = onehot(y) E, dE = onehot(y)^T dx) and list caches."""

import numpy as np

from encoder import rnn_step_backward, rnn_step_forward

DECODER_KEYS = ("E", "U", "W", "b", "V", "c")


def _one_hot(tokens, K):
    tokens = np.asarray(tokens)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= K):
        raise ValueError(f"tokens should be in [0, {K})")
    return (tokens[..., None] == np.arange(K)).astype(float)


def embed_forward(tokens, E):
    """x = onehot(tokens) @ E: (x, cache)."""
    hot = _one_hot(tokens, E.shape[0])
    return hot @ E, [hot]


def embed_backward(dx, cache):
    """dE = sum over positions of onehot^T dx."""
    (hot,) = cache
    K, D = hot.shape[-1], dx.shape[-1]
    return hot.reshape(-1, K).T @ dx.reshape(-1, D)


def decoder_step_forward(y_prev, s_prev, params):
    """(s_next, o, cache) of one decoder step."""
    x, embed_cache = embed_forward(y_prev, params["E"])
    s_next, step_cache = rnn_step_forward(x, s_prev, params["U"], params["W"], params["b"])
    o = np.einsum("kh,nh->nk", params["V"], s_next) + params["c"]
    return s_next, o, [embed_cache, step_cache, params["V"], s_next]


def decoder_step_backward(ds_next, do, cache):
    """(ds_prev, grads) of one decoder step."""
    embed_cache, step_cache, V, s_next = cache
    dx, ds_prev, dU, dW, db = rnn_step_backward(ds_next + np.einsum("nk,kh->nh", do, V), step_cache)
    grads = dict(zip(DECODER_KEYS, (embed_backward(dx, embed_cache), dU, dW, db,
                                    np.einsum("nk,nh->kh", do, s_next), np.einsum("nk->k", do))))
    return ds_prev, grads


def decoder_forward(y_in, context, params):
    """Teacher forcing over y_in: (o (N, T, K), cache)."""
    if np.ndim(y_in) != 2 or context.shape != (y_in.shape[0], params["W"].shape[0]):
        raise ValueError("y_in should be (N, T) and context (N, H)")
    out, caches, s = [], [], context
    for y_t in np.asarray(y_in).T:
        s, o_t, c = decoder_step_forward(y_t, s, params)
        out.append(o_t)
        caches.append(c)
    return np.stack(out, axis=1), caches


def decoder_backward(do, cache):
    """(dcontext, grads) by BPTT."""
    ds = np.zeros_like(cache[0][3])
    grads = {k: 0.0 for k in DECODER_KEYS}
    for t in reversed(range(do.shape[1])):
        ds, step = decoder_step_backward(ds, do[:, t], cache[t])
        grads = {k: grads[k] + step[k] for k in DECODER_KEYS}
    return ds, grads


def masked_cross_entropy(o, y, mask=None):
    """(loss, do): mean over the real tokens, with a log-sum-exp."""
    N, T, K = o.shape
    if np.shape(y) != (N, T):
        raise ValueError(f"y should have shape ({N}, {T})")
    weight = np.ones((N, T)) if mask is None else np.asarray(mask, dtype=float)
    if weight.sum() == 0:
        raise ValueError("the mask keeps no token")
    weight = weight / weight.sum()
    top = o.max(axis=2, keepdims=True)
    log_probs = o - top - np.log(np.sum(np.exp(o - top), axis=2, keepdims=True))
    target = _one_hot(np.where(weight > 0, y, 0), K)
    loss = -np.sum(weight * np.sum(target * log_probs, axis=2))
    return float(loss), (np.exp(log_probs) - target) * weight[:, :, None]
