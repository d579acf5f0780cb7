"""CPU kernels (Numba nopython).

Entry points called from Python: ``predict``, ``predict_plain``, ``forward``, ``loss_and_grad``,
``optimizer_update`` and ``train_epoch``; everything else is inlined into them or called
from them. ``prepare_products`` loads the micro-kernels a call may pick before it runs (none
beyond ``MICRO_KERNEL_ROWS`` rows).
"""

from .network import Model, Workspace, forward, loss_and_grad
from .optimizers import optimizer_update
from .predict import predict, predict_plain
from .products import MICRO_KERNEL_ROWS, prepare_products
from .train import Batch, Diagnostics, OptState, train_epoch

__all__ = [
    "MICRO_KERNEL_ROWS",
    "Batch",
    "Diagnostics",
    "Model",
    "OptState",
    "Workspace",
    "forward",
    "loss_and_grad",
    "optimizer_update",
    "predict",
    "predict_plain",
    "prepare_products",
    "train_epoch",
]
