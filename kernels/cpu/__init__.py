"""CPU kernels (Numba nopython)."""

from .dense import bias_activation, delta_backward, dense_forward, dense_grads, draw_dropout
from .losses import output_loss_and_delta
from .network import (
    backward,
    bias_view,
    block_view,
    forward,
    loss_and_grad,
    n_weights,
    weight_view,
)
from .optimizers import optimizer_update
from .train import train_epoch

__all__ = [
    "backward", "bias_activation", "bias_view", "block_view", "delta_backward",
    "dense_forward", "dense_grads", "draw_dropout", "forward", "loss_and_grad", "n_weights",
    "optimizer_update", "output_loss_and_delta", "train_epoch", "weight_view",
]
