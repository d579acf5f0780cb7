"""CPU kernels (Numba nopython)."""

from .dense import bias_activation, delta_backward, dense_forward, dense_grads
from .losses import output_loss_and_delta
from .network import (
    backward,
    bias_view,
    block_view,
    forward,
    l2_penalty,
    loss_and_grad,
    n_weights,
    weight_view,
)

__all__ = [
    "backward", "bias_activation", "bias_view", "block_view", "delta_backward",
    "dense_forward", "dense_grads", "forward", "l2_penalty", "loss_and_grad", "n_weights",
    "output_loss_and_delta", "weight_view",
]
