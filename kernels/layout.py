"""Facts about the flat buffers that every target's kernels and the Python side share.

This module imports no Numba: the CPU kernels, the CUDA kernels and ``fastmlp`` all read the
layer table's columns, the hyperparameter and statistics slots and the buffer layout from
here, and nothing else computes an offset.

The flat parameter buffer holds, in order: every layer's weights (row-major
``fan_in x fan_out``), every layer's intercepts, then the extra per-layer blocks (batch-norm
scale and shift, PReLU slopes). The regularised entries (the weights) are therefore a prefix
of the buffer: L2, L1 and AdamW's decay cover ``params[:n_weights]`` and nothing else.
Gradients and optimizer states share this layout. Running statistics (not parameters, never
touched by an optimizer) live in a separate state buffer.
"""

from collections import namedtuple

import numpy as np

# ---- the layer table: one int64 row per weight layer --------------------------------------
FAN_IN = 0
FAN_OUT = 1
W_START = 2  # first weight of the layer in params (row-major fan_in x fan_out)
B_START = 3  # first intercept of the layer (after all the weights)
UNIT_START = 4  # units of the earlier layers: where the layer's block starts in workspaces
CODE = 5  # activation code (codes.py)
KIND = 6  # layer kind (DENSE, ...)
GAMMA_START = 7  # batch-norm scale block in params, or NONE
BETA_START = 8  # batch-norm shift block in params, or NONE
SLOPE_START = 9  # PReLU slopes block in params, or NONE
STATE_START = 10  # running mean (then running variance) in the state buffer, or NONE
N_LAYER_FIELDS = 11

NONE = -1  # start of a block the layer does not have

# Layer kinds.
DENSE = 0  # dense -> activation
DENSE_BATCH_NORM = 1  # dense -> batch norm -> activation

# ---- the float64 hyperparameter vector the training kernels read ---------------------------
# (one array instead of a dozen scalars keeps the compiled signatures short and stable)
HP_LR = 0
HP_MOMENTUM = 1
HP_NESTEROV = 2
HP_BETA_1 = 3
HP_BETA_2 = 4
HP_EPSILON = 5
HP_WEIGHT_DECAY = 6
HP_RHO = 7
HP_ALPHA = 8
HP_L1 = 9
HP_MAX_NORM = 10  # 0 disables clipping
HP_LOSS_SCALE = 11  # factor on the reported data loss (scikit-learn's squared_error)
HP_CLIP_EPS = 12  # probability clipping for the log losses
N_HP = 13

# ---- the float64 batch-norm settings vector (Model.bn) ---------------------------------------
BN_EPSILON = 0  # added to the variance before the square root
BN_MOMENTUM = 1  # running <- (1 - m) running + m batch
BN_TRAINING = 2  # 1: normalise with the batch statistics; 0: with the running statistics
BN_UPDATE = 3  # 1: fold each batch's statistics into the running ones (training only)
N_BN = 4


def batch_norm_settings(epsilon=1e-5, momentum=0.1, training=False, update=False):
    """The float64 vector ``Model.bn`` the kernels read (slots ``BN_*``)."""
    bn = np.zeros(N_BN)
    bn[BN_EPSILON], bn[BN_MOMENTUM] = epsilon, momentum
    bn[BN_TRAINING], bn[BN_UPDATE] = float(training), float(update)
    return bn


# ---- per-epoch statistics the training kernel accumulates ----------------------------------
STAT_LOSS = 0  # sum over batches of batch loss x batch length
STAT_GRAD_NORM = 1  # sum over batches of the global gradient norm (before clipping)
STAT_BATCHES = 2
STAT_DIVERGED = 3  # 1 when a batch loss or gradient was not finite (epoch stopped there)
N_STATS = 4

# ---- what the inference kernel returns ------------------------------------------------------
PREDICT_OK = 0
PREDICT_BAD_INPUT = 1  # a NaN or infinity in X (the outputs are incomplete)
PREDICT_OVERFLOW = 2  # finite X, but an output overflowed to infinity or NaN

Layout = namedtuple("Layout", ["table", "n_weights", "n_params", "n_units", "n_state", "extras"])
Layout.__doc__ = """Where everything of one network lives.

table : (n_layers, N_LAYER_FIELDS) int64 array, the layer table.
n_weights : number of weights (the regularised prefix of params).
n_params : length of the flat parameter buffer.
n_units : units of all layers together (a workspace holds that many per row).
n_state : length of the running-statistics buffer.
extras : whether any layer has batch norm or PReLU slopes (the kernels' fused path).
"""


def lay_out(layer_sizes, activation_codes, kinds=None, prelu=None):
    """The :class:`Layout` of a network.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first.
    activation_codes : sequence of int
        Activation code of each weight layer (the output layer last).
    kinds : sequence of int, optional
        Kind of each weight layer (default: all ``DENSE``).
    prelu : sequence of bool, optional
        Whether each weight layer has PReLU slopes (default: none).
    """
    n_layers = len(layer_sizes) - 1
    kinds = [DENSE] * n_layers if kinds is None else list(kinds)
    prelu = [False] * n_layers if prelu is None else list(prelu)
    fans = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    n_weights = sum(a * b for a, b in fans)
    table = np.full((n_layers, N_LAYER_FIELDS), NONE, dtype=np.int64)
    w, b, units = 0, n_weights, 0
    for l, (fan_in, fan_out) in enumerate(fans):
        table[l, [FAN_IN, FAN_OUT, W_START, B_START, UNIT_START, CODE, KIND]] = (
            fan_in,
            fan_out,
            w,
            b,
            units,
            activation_codes[l],
            kinds[l],
        )
        w += fan_in * fan_out
        b += fan_out
        units += fan_out
    extra, state = b, 0
    for l, (_, fan_out) in enumerate(fans):
        if kinds[l] == DENSE_BATCH_NORM:
            table[l, GAMMA_START], table[l, BETA_START] = extra, extra + fan_out
            table[l, STATE_START] = state
            extra += 2 * fan_out
            state += 2 * fan_out
        if prelu[l]:
            table[l, SLOPE_START] = extra
            extra += fan_out
    has_extras = any(k != DENSE for k in kinds) or any(prelu)
    return Layout(table, n_weights, extra, units, state, has_extras)


def layer_run(table, l, r):
    """The ``r``-th contiguous run of layer ``l``'s entries in params' layout: 0 its
    weights, 1 its intercepts, 2 its batch-norm scale and shift and PReLU slopes (laid out
    back to back by :func:`lay_out`; empty when it has none). Returns (start, stop).

    Plain Python that the CPU kernels compile too (kernels/cpu/views.py)."""
    fan_out = table[l, FAN_OUT]
    if r == 0:
        start = table[l, W_START]
        return start, start + table[l, FAN_IN] * fan_out
    if r == 1:
        start = table[l, B_START]
        return start, start + fan_out
    gamma, slopes = table[l, GAMMA_START], table[l, SLOPE_START]
    start = gamma if gamma >= 0 else slopes
    blocks = (2 if gamma >= 0 else 0) + (1 if slopes >= 0 else 0)
    return start, start + blocks * fan_out


def ratio_runs(table, l):
    """Slices of the flat parameter buffer holding layer ``l``'s weights and its batch-norm
    scale and shift and PReLU slopes (runs 0 and 2 of :func:`layer_run`, when not empty)."""
    runs = []
    for r in (0, 2):
        start, stop = layer_run(table, l, r)
        if stop > start:
            runs.append(slice(start, stop))
    return runs


# Training settings (names as in fastmlp.training.TrainConfig) -> hyperparameter slots.
HP_SLOTS = {
    "learning_rate": HP_LR,
    "momentum": HP_MOMENTUM,
    "nesterovs_momentum": HP_NESTEROV,
    "beta_1": HP_BETA_1,
    "beta_2": HP_BETA_2,
    "epsilon": HP_EPSILON,
    "weight_decay": HP_WEIGHT_DECAY,
    "rho": HP_RHO,
    "alpha": HP_ALPHA,
    "l1": HP_L1,
    "max_grad_norm": HP_MAX_NORM,
    "loss_scale": HP_LOSS_SCALE,
}


def hyperparameters(dtype, **settings):
    """The float64 vector the kernels read, from settings named as in ``HP_SLOTS``.

    Settings not given are 0 (off), except ``loss_scale`` (1); ``None`` also means off
    (``max_grad_norm=None``: no clipping). The probability clipping of the log losses is
    the dtype's machine epsilon, as in scikit-learn.
    """
    hp = np.zeros(N_HP)
    hp[HP_LOSS_SCALE] = 1.0
    hp[HP_CLIP_EPS] = np.finfo(dtype).eps
    for name, value in settings.items():
        if name not in HP_SLOTS:
            raise TypeError(f"unknown hyperparameter {name!r}; expected one of {sorted(HP_SLOTS)}.")
        hp[HP_SLOTS[name]] = 0.0 if value is None else float(value)
    return hp
