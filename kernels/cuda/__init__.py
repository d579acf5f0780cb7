"""CUDA kernels (Numba's CUDA target), imported only when a CUDA device is asked for.

The same operation names and semantics as the CPU kernels (``kernels.cpu``), on device
arrays: ``Model``, ``Workspace``, ``OptState``, ``Batch``, ``Diagnostics``, ``predict``,
``forward``, ``loss_and_grad``, ``optimizer_update``, ``train_epoch``; and what a fit that
keeps its parameters on the device needs besides (``copy_params``, ``update_ratio_sums``,
``zeros``).
Buffers, layer table, hyperparameter and statistics slots are those of ``kernels.layout``.
"""

from numba import cuda

from ..layout import FAN_OUT, UNIT_START, batch_norm_settings
from .network import (
    Model,
    Workspace,
    as_device,
    check_supported,
    forward,
    is_device_array,
    loss_and_grad,
    optimizer_update,
    predict,
)
from .train import (
    Batch,
    Diagnostics,
    OptState,
    copy_params,
    train_epoch,
    update_ratio_sums,
    zeros,
)


def predict_plain(params, layers, act_params, X, out, chunk_rows):
    """``predict`` for a network without batch norm and PReLU (the CPU kernel's short form)."""
    n_units = int(layers[-1, UNIT_START] + layers[-1, FAN_OUT])
    acts = cuda.device_array(min(chunk_rows, X.shape[0]) * n_units, dtype=out.dtype)
    return predict(params, layers, act_params, None, batch_norm_settings(), X, out, acts)


MICRO_KERNEL_ROWS = 0  # no call needs prepare_products


def prepare_products(dtype, rows, layer_sizes, caller=None):
    """Nothing to load: the CUDA kernels have no separately compiled products."""
    return True


__all__ = [
    "MICRO_KERNEL_ROWS",
    "Batch",
    "Diagnostics",
    "Model",
    "OptState",
    "Workspace",
    "as_device",
    "check_supported",
    "copy_params",
    "forward",
    "is_device_array",
    "loss_and_grad",
    "optimizer_update",
    "predict",
    "predict_plain",
    "prepare_products",
    "train_epoch",
    "update_ratio_sums",
    "zeros",
]
