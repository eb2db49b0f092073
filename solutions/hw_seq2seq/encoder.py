"""The encoder of a sequence-to-sequence model: a vanilla RNN that reads the source.

In the lecture's notation, one step of the recurrent network is

    a(t) = b + W s(t-1) + U x(t)        s(t) = tanh(a(t))

The encoder runs it over the whole source sequence and hands the decoder one
vector, the context: the state after the last *valid* source step.  A batch
holds sources of different lengths, padded at the end; a mask (N, T_src) says
which steps are real.  Steps after a sequence's end are still computed (their
inputs are padding) but never reach the context, so they get no gradient.

Batch first: x is (N, T_src, D), states (N, T_src, H).  Weights keep the
lecture's column-vector shapes U (H, D), W (H, H), b (H,), so in row (batch)
form one step is ``a = x_t @ U.T + s_prev @ W.T + b``.  Arrays are float64; no
function may modify its input arrays in place.  A ``cache`` is yours to design:
only your own backward function reads it.
"""

from __future__ import annotations

import numpy as np


def rnn_step_forward(x_t: np.ndarray, s_prev: np.ndarray, U: np.ndarray, W: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, object]:
    """One step of the vanilla RNN: a = b + W s_prev + U x_t, s_next = tanh(a).

    Args:
        x_t: (N, D) inputs at this step.
        s_prev: (N, H) states s(t-1).
        U: (H, D) input-to-state weights.
        W: (H, H) state-to-state weights.
        b: (H,) bias.

    Returns:
        s_next: (N, H) states s(t).
        cache: whatever rnn_step_backward needs.

    Raises:
        ValueError: the shapes do not agree.
    """
    H, D = U.shape
    if np.ndim(x_t) != 2 or x_t.shape[1] != D or np.shape(s_prev) != (x_t.shape[0], H) or np.shape(W) != (H, H) \
            or np.shape(b) != (H,):
        raise ValueError(f"with U of shape {U.shape}, x_t should be (N, {D}), s_prev (N, {H}), W ({H}, {H}) and "
                         f"b ({H},); got {np.shape(x_t)}, {np.shape(s_prev)}, {np.shape(W)} and {np.shape(b)}")
    ### BEGIN SOLUTION
    a = x_t @ U.T + s_prev @ W.T + b
    s_next = np.tanh(a)
    cache = (x_t, s_prev, U, W, s_next)
    return s_next, cache
    ### END SOLUTION


def rnn_step_backward(ds_next: np.ndarray, cache: object) -> tuple[np.ndarray, ...]:
    """Backward pass of one RNN step (tanh'(a) = 1 - s_next^2).

    Args:
        ds_next: (N, H) gradient of the loss w.r.t. s_next.
        cache: what rnn_step_forward returned.

    Returns:
        dx_t: (N, D), ds_prev: (N, H), dU: (H, D), dW: (H, H), db: (H,)
        -- the gradients of the loss w.r.t. x_t, s_prev, U, W and b.
    """
    ### BEGIN SOLUTION
    x_t, s_prev, U, W, s_next = cache
    da = ds_next * (1.0 - s_next**2)
    dx_t = da @ U
    ds_prev = da @ W
    dU = da.T @ x_t
    dW = da.T @ s_prev
    db = da.sum(axis=0)
    return dx_t, ds_prev, dU, dW, db
    ### END SOLUTION


def encoder_forward(x: np.ndarray, s0: np.ndarray, U: np.ndarray, W: np.ndarray, b: np.ndarray,
                    mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, object]:
    """Run the encoder RNN over padded source sequences; the context is the last valid state.

    s(t) = tanh(b + W s(t-1) + U x(t)) for every step t = 1..T_src, from s(0) = s0.
    Sequence n has L_n = mask[n].sum() real steps; its context is s(L_n), the
    state after reading its last real input (in code ``s[n, L_n - 1]``).

    Args:
        x: (N, T_src, D) source inputs (already embedded).
        s0: (N, H) initial states (not part of the returned s).
        U: (H, D), W: (H, H), b: (H,) parameters shared by every step.
        mask: (N, T_src) bool, True at the real steps (a prefix of each row, at
            least one), or None when every sequence has all T_src steps.

    Returns:
        s: (N, T_src, H) the state after every step (padding steps included).
        context: (N, H) the state after each sequence's last real step.
        cache: whatever encoder_backward needs.

    Raises:
        ValueError: the shapes do not agree, or the mask is not a prefix mask with
            at least one real step per row.
    """
    H, D = U.shape
    if np.ndim(x) != 3 or x.shape[2] != D or np.shape(s0) != (x.shape[0], H):
        raise ValueError(f"with U of shape {U.shape}, x should be (N, T_src, {D}) and s0 (N, {H}); got "
                         f"{np.shape(x)} and {np.shape(s0)}")
    if mask is not None:
        if np.shape(mask) != x.shape[:2]:
            raise ValueError(f"mask should have shape {x.shape[:2]}, got {np.shape(mask)}")
        mask = np.asarray(mask, dtype=bool)
        if not np.all(mask[:, 0]):
            raise ValueError("every source sequence needs at least one valid step (a mask row starts with False)")
        if np.any(mask[:, 1:] & ~mask[:, :-1]):
            raise ValueError("the mask must be True for the first steps of each sequence and False after (padding "
                             "at the end)")
    ### BEGIN SOLUTION
    N, T, _ = x.shape
    lengths = np.full(N, T) if mask is None else mask.sum(axis=1)
    s = np.empty((N, T, s0.shape[1]))
    steps = []
    s_prev = s0
    for t in range(T):
        s_prev, step_cache = rnn_step_forward(x[:, t], s_prev, U, W, b)
        s[:, t] = s_prev
        steps.append(step_cache)
    context = s[np.arange(N), lengths - 1]
    return s, context, (steps, lengths)
    ### END SOLUTION


def encoder_backward(ds: np.ndarray, dcontext: np.ndarray, cache: object) -> tuple[np.ndarray, ...]:
    """Backpropagation through time for encoder_forward.

    The context is one of the states, s[n, L_n - 1], so its gradient adds to
    that state's upstream gradient; then BPTT as for any RNN: the state s(t)
    feeds the loss (ds[:, t]) and the next step, so its gradient adds both, and
    the shared U, W, b collect a sum over steps.

    Args:
        ds: (N, T_src, H) upstream gradient w.r.t. every state in s.
        dcontext: (N, H) upstream gradient w.r.t. the context.
        cache: what encoder_forward returned.

    Returns:
        dx: (N, T_src, D), ds0: (N, H), dU: (H, D), dW: (H, H), db: (H,)
    """
    ### BEGIN SOLUTION
    steps, lengths = cache
    N, T, H = ds.shape
    ds_total = ds.copy()
    ds_total[np.arange(N), lengths - 1] += dcontext
    x_0, _, U, W, _ = steps[0]
    dx = np.empty((N, T, x_0.shape[1]))
    dU = np.zeros_like(U)
    dW = np.zeros_like(W)
    db = np.zeros(H)
    ds_carry = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], ds_carry, dU_t, dW_t, db_t = rnn_step_backward(ds_total[:, t] + ds_carry, steps[t])
        dU += dU_t
        dW += dW_t
        db += db_t
    return dx, ds_carry, dU, dW, db
    ### END SOLUTION
