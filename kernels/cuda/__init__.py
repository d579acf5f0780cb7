"""CUDA kernels (Numba's CUDA target), imported only when a CUDA device is asked for.

The same operation names and semantics as the CPU kernels (``kernels.cpu``), on device
arrays: ``Model``, ``Workspace``, ``OptState``, ``Batch``, ``Diagnostics``, ``predict``,
``forward``, ``loss_and_grad``, ``optimizer_update``, ``train_epoch``. Buffers, layer table,
hyperparameter and statistics slots are those of ``kernels.layout``.
"""

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
from .train import Batch, Diagnostics, OptState, train_epoch

__all__ = [
    "Batch",
    "Diagnostics",
    "Model",
    "OptState",
    "Workspace",
    "as_device",
    "check_supported",
    "forward",
    "is_device_array",
    "loss_and_grad",
    "optimizer_update",
    "predict",
    "train_epoch",
]
