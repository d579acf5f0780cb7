"""Three-way gradient check: compiled kernels vs the reference path vs finite differences."""

from dataclasses import dataclass

import numpy as np

from . import _validation as v
from . import reference
from .network import Network


@dataclass(frozen=True)
class GradientCheck:
    """Largest relative errors found by :func:`check_gradients`."""

    kernel_vs_reference: float
    reference_vs_finite_differences: float
    kernel_tolerance: float
    finite_difference_tolerance: float

    @property
    def ok(self):
        return (
            self.kernel_vs_reference <= self.kernel_tolerance
            and self.reference_vs_finite_differences <= self.finite_difference_tolerance
        )

    def __bool__(self):
        return self.ok


def relative_error(a, b):
    """max |a - b| scaled by the larger of the two arrays' max magnitudes."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def check_gradients(
    net, X, Y, sample_weight=None, alpha=0.0, eps=1e-6, kernel_tolerance=None,
    finite_difference_tolerance=1e-6,
):
    """Compare ``net.loss_and_grad`` with :mod:`fastmlp.reference` and central differences.

    The reference and the finite differences run in float64 on the network's current
    parameters. ``kernel_tolerance`` defaults to 1e-10 for float64 networks and 1e-4 for
    float32 ones (a float32 kernel against a float64 reference).

    Returns
    -------
    GradientCheck
        Truthy when both errors are within tolerance.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastmlp.Network, got {type(net).__name__}.")
    eps = v.check_number(eps, "eps", low=0, low_open=True)
    if kernel_tolerance is None:
        kernel_tolerance = 1e-10 if net.dtype == np.float64 else 1e-4
    kernel_tolerance = v.check_number(kernel_tolerance, "kernel_tolerance", low=0)
    finite_difference_tolerance = v.check_number(
        finite_difference_tolerance, "finite_difference_tolerance", low=0
    )
    loss, grad = net.loss_and_grad(X, Y, sample_weight=sample_weight, alpha=alpha)

    X64, Y64 = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    flat64 = net.params.astype(np.float64)
    layer_params = [net.activation_param(a) for a in net.hidden_activations]
    layer_params.append(None)

    def ref_loss_and_grad(flat):
        views = net.unpack(flat)
        coefs, intercepts = views["coefs"], views["intercepts"]
        ref_loss, gW, gb = reference.loss_and_grad(
            coefs, intercepts, X64, Y64, net.hidden_activations, net.output_activation,
            net.loss, sample_weight=sample_weight, alpha=alpha, activation_params=layer_params,
        )
        return ref_loss, np.concatenate([g.ravel() for g in gW] + [g.ravel() for g in gb])

    ref_loss, ref_grad = ref_loss_and_grad(flat64)
    fd_grad = reference.numerical_gradient(lambda p: ref_loss_and_grad(p)[0], flat64, eps=eps)
    kernel_err = max(
        relative_error(grad, ref_grad), abs(loss - ref_loss) / max(abs(ref_loss), 1e-300)
    )
    return GradientCheck(
        kernel_vs_reference=kernel_err,
        reference_vs_finite_differences=relative_error(ref_grad, fd_grad),
        kernel_tolerance=kernel_tolerance,
        finite_difference_tolerance=finite_difference_tolerance,
    )
