"""Whole-network kernels: forward, loss and gradient of a batch.

Parameters live in one flat buffer (scikit-learn's ``_pack`` order: every layer's weights
row-major, then every layer's intercepts); gradients and optimizer states share that layout,
so the regularised entries (the weights) are a prefix of it. Kernels receive, besides the
flat buffer, tuples of per-layer views into it, made once in Python: reshaping inside a
kernel costs ~60 ns per view, and a step of a small network needs twenty of them.

Workspaces are tuples of per-layer ``(max_rows, width)`` arrays; a batch of ``n`` rows uses
``acts[l][:n]``, which stays C-contiguous and costs nothing to take.

A tuple's length is part of its compiled type, so each network depth compiles its own
kernels once (then loads them from the on-disk cache). Padding the tuples to a fixed
length would let one compilation serve all depths, but the kernels then loop over layers
with a run-time bound and index the tuples through a switch: measured 1.85 -> 3.3 us per
step on a 10-32-1 network at batch 1, so depth-specific code it is.
"""

from collections import namedtuple

from numba import njit

from ..codes import HP_ALPHA, HP_CLIP_EPS, HP_L1, HP_LOSS_SCALE
from ..config import INLINE, KERNEL
from .fpenv import flush_denormals, restore_fpenv
from .dense import delta_backward, dense_forward, dense_grads, draw_dropout
from .losses import output_loss_and_delta

# params: flat buffer; coefs/intercepts: tuples of views into it; codes, act_params: per
# layer activation codes and their slope/alpha; loss_code: the loss.
Model = namedtuple("Model", ["params", "coefs", "intercepts", "codes", "act_params", "loss_code"])
# flat: gradient buffer in params' layout; coefs/intercepts: tuples of views into it.
Grads = namedtuple("Grads", ["flat", "coefs", "intercepts"])
# Per-layer activations, deltas and inverted-dropout masks (masks are (0, 0) arrays when
# nothing is dropped); dropout holds one rate per hidden layer, or is empty.
Workspace = namedtuple("Workspace", ["acts", "deltas", "masks", "dropout"])


@njit(**INLINE)
def has_dropout(dropout, l):
    return l < dropout.size and dropout[l] > 0.0


@njit(**INLINE)
def n_weights(model):
    total = 0
    for l in range(len(model.coefs)):
        total += model.coefs[l].size
    return total


@njit(**INLINE)
def forward_layers(model, X, ws):
    """Run every layer on ``X`` (dropping units where ``ws.dropout`` says); return the output."""
    n = X.shape[0]
    A = X
    for l in range(len(model.coefs)):
        out = ws.acts[l][:n]
        dense_forward(A, model.coefs[l], model.intercepts[l], out, model.codes[l],
                      model.act_params[l])
        if has_dropout(ws.dropout, l):
            draw_dropout(out, ws.masks[l][:n], ws.dropout[l])
        A = out
    return A


@njit(**KERNEL)
def forward(model, X, ws):
    """Outputs of the network for ``X``: a view of the last block of ``ws.acts``."""
    saved = flush_denormals()
    out = forward_layers(model, X, ws)
    restore_fpenv(saved)
    return out


@njit(**INLINE)
def backward(model, grads, X, ws, l2):
    """Given the output delta in ``ws.deltas``, fill ``grads`` for every layer.

    ``l2`` is the per-weight coefficient of the L2 gradient (alpha / S).
    """
    n = X.shape[0]
    for l in range(len(model.coefs) - 1, -1, -1):
        A_prev = X if l == 0 else ws.acts[l - 1][:n]
        D = ws.deltas[l][:n]
        W = model.coefs[l]
        dense_grads(A_prev, D, W, grads.coefs[l], grads.intercepts[l], l2)
        if l > 0:
            M = ws.masks[l - 1][:n] if has_dropout(ws.dropout, l - 1) else ws.masks[l - 1][:0]
            delta_backward(D, W, A_prev, ws.deltas[l - 1][:n], model.codes[l - 1],
                           model.act_params[l - 1], M)


@njit(**INLINE)
def add_l1(params, grad, nw, coef):
    """Add the L1 subgradient ``coef * sign(w)`` over the weights; return sum |w|."""
    total = 0.0
    for k in range(nw):
        w = params[k]
        total += abs(w)
        if w > 0:
            grad[k] += coef
        elif w < 0:
            grad[k] -= coef
    return total


@njit(**INLINE)
def sum_squares(x, start, stop):
    total = 0.0
    for k in range(start, stop):
        total += x[k] * x[k]
    return total


@njit(**KERNEL)
def batch_loss_and_grad(model, grads, X, Y, sw, hp, ws):
    """Loss of the batch (X, Y) and its gradient written into ``grads``.

    ``sw`` holds the sample weights, or is empty for unit weights; S is their total (or the
    row count). Regularisers follow scikit-learn's convention: ``0.5 * alpha * sum(W**2) / S``
    and ``l1 * sum(|W|) / S``, intercepts excluded. The reported data loss is multiplied by
    ``hp[HP_LOSS_SCALE]``; the gradient is always that of the unscaled loss.
    """
    n = X.shape[0]
    sw_sum = float(n) if sw.size == 0 else sw.sum()
    out = forward_layers(model, X, ws)
    last = len(model.coefs) - 1
    loss = output_loss_and_delta(
        out, Y, sw, sw_sum, model.codes[last], model.act_params[last], model.loss_code,
        hp[HP_CLIP_EPS], ws.deltas[last][:n],
    )
    loss *= hp[HP_LOSS_SCALE]
    alpha = hp[HP_ALPHA]
    nw = n_weights(model)
    if alpha != 0.0:
        loss += 0.5 * alpha * sum_squares(model.params, 0, nw) / sw_sum
    backward(model, grads, X, ws, alpha / sw_sum)
    if hp[HP_L1] != 0.0:
        loss += hp[HP_L1] * add_l1(model.params, grads.flat, nw, hp[HP_L1] / sw_sum) / sw_sum
    return loss


@njit(**KERNEL)
def loss_and_grad(model, grads, X, Y, sw, hp, ws):
    """Entry point for :func:`batch_loss_and_grad` (one batch, called from Python)."""
    saved = flush_denormals()
    loss = batch_loss_and_grad(model, grads, X, Y, sw, hp, ws)
    restore_fpenv(saved)
    return loss
