"""Test helpers shared by several test modules: the independent float64 replay of training.

The replay shares no code with the kernels: each minibatch's gradient comes from
``reference.loss_and_grad`` (or, with dropout, from a few lines of NumPy below), and each
update from the ``reference.*_step`` functions.
"""

import numpy as np
from sklearn.utils import shuffle as sk_shuffle

from fastmlp import reference


def tolerances(dtype):
    """(rtol, atol) for the engine against the float64 replay."""
    if np.dtype(dtype) == np.float64:
        return 1e-10, 1e-13
    return 1e-4, 1e-5


def spec(net):
    """The network facts the replay needs."""
    return dict(
        sizes=list(net.layer_sizes),
        hidden=list(net.hidden_activations),
        output=net.output_activation,
        loss=net.loss,
    )


# ---- the independent replay ----------------------------------------------------------------
def unpack(flat, sizes):
    """All weights row-major, then all intercepts (the documented flat layout)."""
    coefs, intercepts = [], []
    w, b = 0, sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        coefs.append(flat[w : w + fan_in * fan_out].reshape(fan_in, fan_out))
        intercepts.append(flat[b : b + fan_out])
        w += fan_in * fan_out
        b += fan_out
    return coefs, intercepts


def pack(coefs, intercepts):
    return np.concatenate([np.ravel(c) for c in coefs] + [np.ravel(b) for b in intercepts])


def n_weights(sizes):
    return sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))


def dropout_loss_and_grad(coefs, intercepts, X, Y, hidden, masks, alpha):
    """Softmax + log-loss network with inverted-dropout masks on the hidden layers."""
    A, As, Zs = X, [X], []
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = A @ W + b
        if l < len(coefs) - 1:
            A = reference.activation(hidden[l], Z)
            if masks[l] is not None:
                A = A * masks[l]
        else:
            A = reference.activation("softmax", Z)
        Zs.append(Z)
        As.append(A)
    n = X.shape[0]
    loss = reference.loss("log_loss", Y, A) + 0.5 * alpha * sum(np.sum(W**2) for W in coefs) / n
    D = (A - Y) / n
    gW, gb = [None] * len(coefs), [None] * len(coefs)
    for l in range(len(coefs) - 1, -1, -1):
        gW[l] = As[l].T @ D + alpha * coefs[l] / n
        gb[l] = D.sum(axis=0)
        if l > 0:
            D = (D @ coefs[l].T) * reference.activation_derivative(hidden[l - 1], Zs[l - 1])
            if masks[l - 1] is not None:
                D = D * masks[l - 1]
    return loss, gW, gb


def draw_masks(stream, rows, widths, rates):
    """Engine's draw order: per hidden layer, row-major, keep when u < 1 - rate."""
    masks = []
    for width, rate in zip(widths, rates):
        if rate > 0:
            keep = 1.0 - rate
            u = stream.random_sample((rows, width))
            masks.append(np.where(u < keep, 1.0 / keep, 0.0))
        else:
            masks.append(None)
    return masks


def replay(
    params0,
    X,
    Y,
    spec,
    *,
    epochs,
    batch_size,
    solver,
    learning_rate_init,
    learning_rate="constant",
    rates=None,
    shuffle_rng=None,
    alpha=0.0,
    l1=0.0,
    max_grad_norm=None,
    dropout=None,
    sample_weight=None,
    momentum=0.9,
    nesterovs_momentum=True,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    weight_decay=0.01,
    rho=0.9,
    power_t=0.5,
    lr_gamma=0.1,
    lr_step_size=10,
    lr_horizon=None,
    lr_min=0.0,
):
    """Replay ``epochs`` epochs of minibatch training in float64 with ``fastmlp.reference``.

    Returns the final flat parameters, the per-epoch loss (sum of batch loss x batch length
    over n), the per-epoch mean gradient norm (before clipping) and the rates used.
    """
    sizes = spec["sizes"]
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n = X.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    batch_size = min(batch_size, n)
    w = np.asarray(params0, dtype=np.float64).copy()
    nw = n_weights(sizes)
    mask = np.zeros_like(w)
    mask[:nw] = 1.0
    s1, s2, t = np.zeros_like(w), np.zeros_like(w), 0
    order = np.arange(n)
    losses, norms, used = [], [], []
    for epoch in range(epochs):
        if rates is not None:
            lr = rates[epoch]
        else:
            lr = reference.learning_rate(
                learning_rate,
                learning_rate_init,
                epoch,
                t=epoch * n,
                power_t=power_t,
                gamma=lr_gamma,
                step_size=lr_step_size,
                horizon=lr_horizon or epochs,
                lr_min=lr_min,
            )
        used.append(lr)
        if shuffle_rng is not None:
            order = sk_shuffle(order, random_state=shuffle_rng)
        stream = None
        if dropout is not None:
            stream = np.random.RandomState(shuffle_rng.randint(np.iinfo(np.int32).max))
        total, norm_sum, batches = 0.0, 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            Xb, Yb, swb = X[idx], Y[idx], sw[idx]
            S = swb.sum()  # the batch's weight total divides its L2 and L1 terms
            coefs, intercepts = unpack(w, sizes)
            if dropout is not None:
                masks = draw_masks(stream, len(idx), sizes[1:-1], dropout)
                loss, gW, gb = dropout_loss_and_grad(
                    coefs, intercepts, Xb, Yb, spec["hidden"], masks, alpha
                )
            else:
                loss, gW, gb = reference.loss_and_grad(
                    coefs,
                    intercepts,
                    Xb,
                    Yb,
                    spec["hidden"],
                    spec["output"],
                    spec["loss"],
                    sample_weight=swb,
                    alpha=alpha,
                )
            g = pack(gW, gb)
            if l1:
                g = g + reference.l1_subgradient(w, l1, S, mask)
                loss += l1 * np.sum(np.abs(w[:nw])) / S
            norm_sum += np.linalg.norm(g)
            batches += 1
            if max_grad_norm is not None:
                g = reference.clip_by_global_norm(g, max_grad_norm)
            if solver == "sgd":
                w, s1 = reference.sgd_step(w, g, s1, lr, momentum, nesterovs_momentum)
            elif solver == "adam":
                w, s1, s2, t = reference.adam_step(w, g, s1, s2, t, lr, beta_1, beta_2, epsilon)
            elif solver == "adamw":
                w, s1, s2, t = reference.adamw_step(
                    w, g, s1, s2, t, lr, beta_1, beta_2, epsilon, weight_decay, decay_mask=mask
                )
            elif solver == "adagrad":
                w, s1 = reference.adagrad_step(w, g, s1, lr, epsilon)
            elif solver == "rmsprop":
                w, s1 = reference.rmsprop_step(w, g, s1, lr, rho, epsilon)
            else:  # pragma: no cover
                raise AssertionError(solver)
            total += loss * len(idx)
        losses.append(total / n)
        norms.append(norm_sum / batches)
    return w, np.asarray(losses), np.asarray(norms), np.asarray(used)
