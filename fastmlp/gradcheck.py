"""Three-way gradient check: compiled kernels vs the reference path vs finite differences.

Two comparisons, each with a tolerance that is derived rather than guessed:

**Kernel vs reference.** The kernels run in the network's dtype; the reference
(:mod:`fastmlp.reference`) runs in float64 on the *same* parameters and data, cast
exactly from the network's dtype. Their difference is then the kernel's own round-off, which
is bounded coordinate by coordinate by a first-order error analysis (Higham's
``gamma_k = k u`` for a sum of ``k`` terms, ``u`` the unit round-off) carried through the
network on absolute values, in float64:

- forward: ``|eZ_l| <= gamma_{fan_in+2} (|A_{l-1}| |W_l| + |b_l|) + |eA_{l-1}| |W_l|`` and
  ``|eA_l| <= max_{+-} |g(Z_l +- eZ_l) - g(Z_l)| + 4u |A_l|`` (a few ulps for the
  elementwise function; the perturbation also covers a ReLU kink inside the error band);
- output delta: ``|eD_L| <= |eA_L| w_i / S`` for the fused canonical pairs
  (``D = (A - Y) w_i / S``), otherwise the change of the reference's delta under ``+-eZ_L``;
- backward: ``|eP| <= gamma_{fan_out+2} |D_l| |W_l|^T + |eD_l| |W_l|^T``,
  ``|eD_{l-1}| <= |eP| |g'| + |P| max_{+-}|g'(Z +- eZ) - g'(Z)|``;
- gradients: ``|edW_l| <= gamma_{n+2} |A_{l-1}|^T |D_l| + |eA_{l-1}|^T |D_l| +
  |A_{l-1}|^T |eD_l|`` and likewise for intercepts.

``u`` is the kernel dtype's round-off plus float64's (the reference rounds too), and the
bound is doubled for the neglected second-order terms. The bound holds for any summation
order (BLAS blocking, threads), so a float32 kernel is never blamed for float32, while a
real bug (a wrong sign, a missing term) exceeds it by orders of magnitude.

**Reference vs central finite differences**, both in float64, on a sample of coordinates.
Finite differences are meaningless where the loss is not smooth within ``+-eps``: a ReLU
(or leaky ReLU, or ELU with ``alpha != 1``) pre-activation that changes sign, or a
probability inside the log losses' clipping band. Rows whose outputs are clipped are left
out of this comparison (the loss is flat there while the analytic gradient, as in
scikit-learn, ignores the clipping). A coordinate whose one-sided differences disagree by
at least its central-difference error straddles a kink (for a kink the central error is
exactly half that gap, for a smooth loss the gap is ``eps f''`` and the central error
``eps^2 f'''/6``); it is skipped and reported, not failed.
"""

import sys
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.utils import check_random_state

from . import _validation as v
from . import reference
from .network import Network

#: Output/loss pairs whose delta the kernels fuse to ``(A - Y) * w_i / S``.
CANONICAL = {
    ("identity", "squared_error"),
    ("softmax", "log_loss"),
    ("logistic", "binary_log_loss"),
    ("exp", "poisson"),
}
LOG_LOSSES = ("log_loss", "binary_log_loss")
#: Ulps allowed for one elementwise function (exp, tanh, log, division) of the kernels.
ELEMENTWISE_ULPS = 4.0
#: Factor on the first-order kernel bound for the neglected second-order terms.
SAFETY = 2.0
#: How many rows and finite-difference coordinates the default (sampled) check uses.
MAX_ROWS = 256
MAX_COORDINATES = 200
N_WORST = 5


@dataclass(frozen=True)
class Coordinate:
    """One parameter's gradient as the kernel, the reference and finite differences see it."""

    layer: int
    kind: str  # "weight" or "intercept"
    index: tuple
    flat_index: int
    kernel: float
    reference: float
    finite_difference: float  # NaN where not computed
    error: float  # the difference that the check tested
    tolerance: float
    note: str = ""

    @property
    def ratio(self):
        return self.error / self.tolerance if self.tolerance > 0 else np.inf

    def line(self):
        where = f"layer {self.layer} {self.kind:9s} {str(self.index):10s}"
        return (
            f"  {where} kernel {self.kernel: .6e}  reference {self.reference: .6e}  "
            f"finite diff {self.finite_difference: .6e}  |err| {self.error:.1e} "
            f"(tol {self.tolerance:.1e}){'  ' + self.note if self.note else ''}"
        )


@dataclass(frozen=True)
class GradientCheck:
    """What :func:`check_gradients` found; truthy when the gradients can be trusted.

    ``kernel_vs_reference`` and ``reference_vs_finite_differences`` are the largest
    differences relative to the largest gradient magnitude (over the checked rows and
    coordinates); ``kernel_error_ratio`` and ``finite_difference_error_ratio`` are the
    largest per-coordinate error divided by that coordinate's tolerance (<= 1 passes).
    """

    kernel_vs_reference: float
    reference_vs_finite_differences: float
    kernel_tolerance: float
    finite_difference_tolerance: float
    kernel_error_ratio: float = 0.0
    finite_difference_error_ratio: float = 0.0
    loss_kernel: float = np.nan
    loss_reference: float = np.nan
    loss_tolerance: float = np.inf
    dtype: str = "float64"
    n_rows: int = 0
    n_rows_total: int = 0
    n_params: int = 0
    n_finite_difference: int = 0
    clipped_rows: int = 0
    worst_kernel: tuple = field(default=())
    worst_finite_difference: tuple = field(default=())
    skipped: tuple = field(default=())
    seconds: float = 0.0

    @property
    def loss_ok(self):
        return abs(self.loss_kernel - self.loss_reference) <= self.loss_tolerance

    @property
    def ok(self):
        return bool(
            self.loss_ok
            and self.kernel_error_ratio <= 1.0
            and self.finite_difference_error_ratio <= 1.0
        )

    def __bool__(self):
        return self.ok

    def __str__(self):
        lines = [
            f"GradientCheck: ok={self.ok}",
            f"{self.dtype} network, {self.n_params} parameters, {self.n_rows} of "
            f"{self.n_rows_total} rows, {self.n_finite_difference} coordinates by finite "
            f"differences, {self.seconds:.2f} s",
            f"loss: kernel {self.loss_kernel:.9g}, reference {self.loss_reference:.9g} "
            f"(tolerance {self.loss_tolerance:.1e})",
            f"kernel vs reference: max |err|/max|grad| {self.kernel_vs_reference:.2e}, "
            f"worst err/tolerance {self.kernel_error_ratio:.3g}",
        ]
        lines += [c.line() for c in self.worst_kernel]
        lines.append(
            f"reference vs finite differences: max |err|/max|grad| "
            f"{self.reference_vs_finite_differences:.2e}, worst err/tolerance "
            f"{self.finite_difference_error_ratio:.3g}"
        )
        lines += [c.line() for c in self.worst_finite_difference]
        if self.clipped_rows:
            lines.append(
                f"{self.clipped_rows} rows left out: an output probability lies in the "
                "log loss's clipping band, where the loss is flat"
            )
        if self.skipped:
            lines.append(
                f"{len(self.skipped)} coordinates skipped: their finite difference "
                "straddles a kink (one-sided differences disagree)"
            )
            lines += [c.line() for c in self.skipped[:N_WORST]]
        lines.append(self._verdict())
        return "\n".join(lines)

    __repr__ = __str__

    def _verdict(self):
        if self.ok:
            return (
                "The compiled gradient agrees with the float64 reference to within its "
                "round-off, and the reference with finite differences."
            )
        why = []
        if not self.loss_ok or self.kernel_error_ratio > 1:
            why.append(
                "the compiled kernels disagree with the float64 reference by more than "
                "round-off in the network's dtype can explain: training would follow "
                "a wrong gradient (a kernel bug, or non-finite values in the data)"
            )
        if self.finite_difference_error_ratio > 1:
            why.append(
                "the reference gradient is not the derivative of the loss (finite "
                "differences disagree): the math itself is wrong, not just a kernel"
            )
        return "Why it matters: " + "; ".join(why) + "."


def relative_error(a, b):
    """max |a - b| scaled by the larger of the two arrays' max magnitudes."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def check_gradients(
    net,
    X,
    Y,
    sample_weight=None,
    alpha=0.0,
    eps=1e-6,
    kernel_tolerance=None,
    finite_difference_tolerance=1e-6,
    *,
    full=False,
    max_rows=MAX_ROWS,
    max_coordinates=MAX_COORDINATES,
    random_state=0,
    progress=None,
):
    """Compare ``net.loss_and_grad`` with :mod:`fastmlp.reference` and central differences.

    See the module docstring for how the tolerances are derived.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), default=None
    alpha : float, default=0.0
        L2 penalty, as in ``net.loss_and_grad``.
    eps : float, default=1e-6
        Step of the central finite differences (in float64).
    kernel_tolerance : float, default=None
        None derives a per-coordinate bound from the kernel dtype's round-off (recommended);
        a number instead bounds ``kernel_vs_reference`` (max error over max magnitude).
    finite_difference_tolerance : float, default=1e-6
        Allowed ``|reference - finite difference|`` relative to the largest gradient entry.
    full : bool, default=False
        Check every row and every coordinate. By default at most ``max_rows`` rows and
        ``max_coordinates`` finite-difference coordinates are drawn (the kernel is compared
        with the reference on every coordinate of the drawn rows either way).
    max_rows, max_coordinates : int
        Sample sizes of the default check. Coordinates are spread over every layer's
        weights and intercepts.
    random_state : int, RandomState or None, default=0
        Draws the rows and coordinates.
    progress : bool or None, default=None
        Progress on stderr; None shows it once the check has run for more than a second.

    Returns
    -------
    GradientCheck
        Truthy when the loss and every checked coordinate are within tolerance.
    """
    start = time.perf_counter()
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastmlp.Network, got {type(net).__name__}.")
    eps = v.check_number(eps, "eps", low=0, low_open=True)
    if kernel_tolerance is not None:
        kernel_tolerance = v.check_number(kernel_tolerance, "kernel_tolerance", low=0)
    finite_difference_tolerance = v.check_number(
        finite_difference_tolerance, "finite_difference_tolerance", low=0
    )
    max_rows = v.check_positive_int(max_rows, "max_rows")
    max_coordinates = v.check_positive_int(max_coordinates, "max_coordinates")
    rng = check_random_state(random_state)
    X, Y = np.asarray(X), np.asarray(Y)
    sample_weight = None if sample_weight is None else np.asarray(sample_weight)
    n_total = X.shape[0] if X.ndim else 0
    lengths = [a.shape[0] if a.ndim else -1 for a in (Y, sample_weight) if a is not None]
    if X.ndim != 2 or Y.ndim != 2 or n_total == 0 or any(k != n_total for k in lengths):
        # The network's own validation names the problem (it raises here).
        net.loss_and_grad(X, Y, sample_weight=sample_weight, alpha=alpha)
        raise ValueError(f"X has {n_total} rows but Y or sample_weight has {lengths}.")
    rows = _draw(rng, n_total, max_rows, full)
    sw = None if sample_weight is None else sample_weight[rows]
    net.loss_and_grad(X[rows], Y[rows], sample_weight=sw, alpha=alpha)  # validates the data
    clipped = _clipped_rows(_problem(net, X[rows], Y[rows], sw, alpha))
    if clipped.all():
        raise ValueError(
            "every checked row has an output probability in the log loss's clipping band "
            "(below float64's eps or above 1 - eps), where the loss is flat and has no "
            "gradient to check; check on rows where the network is less saturated."
        )
    rows = rows[~clipped]
    sw = None if sample_weight is None else sample_weight[rows]
    Xs, Ys = X[rows], Y[rows]
    loss_k, grad_k = net.loss_and_grad(Xs, Ys, sample_weight=sw, alpha=alpha)
    problem = _problem(net, Xs, Ys, sw, alpha)
    ref_grad = problem.loss_and_grad(problem.w)[1]
    # The loss with the kernels' clipping (at their dtype's eps), so that rows with
    # saturated probabilities count the same on both sides.
    ref_loss = problem.reference_loss_at_kernel_clip()
    bound, loss_bound = problem.kernel_bound()

    err = np.abs(np.asarray(grad_k, dtype=np.float64) - ref_grad)
    kernel_rel = max(
        relative_error(grad_k, ref_grad), abs(loss_k - ref_loss) / max(abs(ref_loss), 1e-300)
    )
    if kernel_tolerance is None:
        scale = max(np.max(np.abs(ref_grad)), np.finfo(np.float64).tiny)
        kernel_tolerance = float(np.max(bound) / scale)
    else:
        # A user-given relative tolerance replaces the derived bound.
        bound = np.full_like(bound, kernel_tolerance * max(np.max(np.abs(ref_grad)), 1e-300))
        loss_bound = kernel_tolerance * abs(ref_loss)
    ratio = np.where(np.isfinite(err), err / np.maximum(bound, 1e-300), np.inf)

    fd = _finite_differences(
        problem,
        grad_k,
        ref_grad,
        rng,
        eps,
        finite_difference_tolerance,
        full,
        max_coordinates,
        start,
        progress,
    )
    worst = np.argsort(-ratio, kind="stable")[:N_WORST]
    coord = problem.coordinate
    return GradientCheck(
        kernel_vs_reference=kernel_rel if np.isfinite(kernel_rel) else np.inf,
        reference_vs_finite_differences=fd["relative"],
        kernel_tolerance=kernel_tolerance,
        finite_difference_tolerance=finite_difference_tolerance,
        kernel_error_ratio=float(np.max(ratio)) if ratio.size else 0.0,
        finite_difference_error_ratio=fd["ratio"],
        loss_kernel=float(loss_k),
        loss_reference=float(ref_loss),
        loss_tolerance=float(loss_bound),
        dtype=np.dtype(net.dtype).name,
        n_rows=len(rows),
        n_rows_total=n_total,
        n_params=grad_k.size,
        n_finite_difference=fd["count"],
        clipped_rows=int(clipped.sum()),
        worst_kernel=tuple(
            coord(k, grad_k[k], ref_grad[k], fd["values"].get(k, np.nan), err[k], bound[k])
            for k in worst
        ),
        worst_finite_difference=fd["worst"],
        skipped=fd["skipped"],
        seconds=time.perf_counter() - start,
    )


def _draw(rng, n, limit, full):
    """Sorted indices of at most ``limit`` of ``n`` items (all of them when ``full``)."""
    if full or n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, limit, replace=False))


def _unpacked(net, flat):
    parts = net.unpack(flat)
    return parts["coefs"], parts["intercepts"]


def _problem(net, X, Y, sw, alpha):
    """The check's float64 view of the loss: plain networks get the derived round-off bound
    and rank-1 finite differences; batch norm and PReLU the general block path."""
    return (_BlockProblem if net.layout.extras else _Problem)(net, X, Y, sw, alpha)


class _Problem:
    """The network's loss on a fixed set of rows, in float64, with the pieces the bounds use."""

    def __init__(self, net, X, Y, sw, alpha):
        dtype = np.dtype(net.dtype)
        self.net, self.alpha = net, float(alpha)
        # Cast through the network's dtype: the reference sees exactly what the kernels see.
        self.X = np.asarray(X, dtype=dtype).astype(np.float64)
        self.Y = np.asarray(Y, dtype=dtype).astype(np.float64)
        self.w = np.ones(len(X)) if sw is None else np.asarray(sw, dtype=dtype).astype(np.float64)
        self._scale = self.w / self.w.sum()  # each row's share of the mean loss
        self.flat = np.asarray(net.params).astype(np.float64)
        self.coefs, self.intercepts = _unpacked(net, self.flat)
        self.names = list(net.hidden_activations) + [net.output_activation]
        self.act_params = [net.activation_param(a) for a in self.names]
        self.loss_name = net.loss
        self.u_kernel = float(np.finfo(dtype).eps) / 2
        self.u = self.u_kernel + float(np.finfo(np.float64).eps) / 2
        self._positions = _Positions(net, self.flat.size)
        self.Zs, self.As = self.forward_from(0, None)

    # ---- reference loss and gradient ------------------------------------------------------
    def loss_and_grad(self, w):
        loss, gW, gb = reference.loss_and_grad(
            self.coefs,
            self.intercepts,
            self.X,
            self.Y,
            self.names[:-1],
            self.names[-1],
            self.loss_name,
            sample_weight=w,
            alpha=self.alpha,
            activation_params=self.act_params,
        )
        flat = np.empty_like(self.flat)
        coefs, intercepts = _unpacked(self.net, flat)
        for dst, src in zip(coefs + intercepts, gW + gb):
            dst[...] = src
        return loss, flat

    def forward_from(self, layer, Z):
        """Pre-activations and activations from ``layer`` on, starting at its ``Z``."""
        if layer == 0:
            Zs, As = [], [self.X]
        else:
            Zs, As = list(self.Zs[:layer]), list(self.As[: layer + 1])
        for l in range(layer, len(self.coefs)):
            if not (l == layer and Z is not None):
                Z = As[l] @ self.coefs[l] + self.intercepts[l]
            Zs.append(Z)
            As.append(reference.activation(self.names[l], Z, self.act_params[l]))
        return Zs, As

    def data_loss(self, A_out, w, clip=None):
        if clip is not None and self.loss_name in LOG_LOSSES:
            A_out = np.clip(A_out, clip, 1 - clip)
        return reference.loss(self.loss_name, self.Y, A_out, w)

    def penalty(self, w):
        return 0.5 * self.alpha * sum(np.sum(W**2) for W in self.coefs) / w.sum()

    # ---- the kernel's round-off bound -----------------------------------------------------
    def _perturbed(self, f, Z, eZ):
        base = f(Z)
        return np.maximum(np.abs(f(Z + eZ) - base), np.abs(f(Z - eZ) - base))

    def _output_delta(self, Z):
        name, p = self.names[-1], self.act_params[-1]
        A = reference.activation(name, Z, p)
        G = reference._loss_gradient(self.loss_name, self.Y, A) * self._scale[:, None]
        return reference._activation_vjp(name, Z, A, G, p)

    def kernel_bound(self):
        """Per-coordinate bound on |kernel - reference| and a bound on the loss difference."""
        u, n = self.u, self.X.shape[0]
        eAs = [np.zeros_like(self.X)]
        eZs = []
        for l, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            Zmag = np.abs(self.As[l]) @ np.abs(W) + np.abs(b)
            eZ = (W.shape[0] + 2) * u * Zmag + eAs[l] @ np.abs(W)
            name, p = self.names[l], self.act_params[l]
            act = lambda Z: reference.activation(name, Z, p)  # noqa: E731
            if name == "softmax":
                A = self.As[l + 1]
                eA = A * (eZ + np.sum(A * eZ, axis=1, keepdims=True))
            else:
                eA = self._perturbed(act, self.Zs[l], eZ)
            eZs.append(eZ)
            eAs.append(eA + ELEMENTWISE_ULPS * u * np.abs(self.As[l + 1]))

        D = self._output_delta(self.Zs[-1])
        if (self.names[-1], self.loss_name) in CANONICAL:
            eD = eAs[-1] * self._scale[:, None]
        else:
            eD = self._perturbed(self._output_delta, self.Zs[-1], eZs[-1])
        eD = eD + ELEMENTWISE_ULPS * u * np.abs(D)

        bound = np.empty_like(self.flat)
        b_coefs, b_intercepts = _unpacked(self.net, bound)
        for l in range(len(self.coefs) - 1, -1, -1):
            W, A = self.coefs[l], self.As[l]
            b_coefs[l][...] = (
                (n + 2) * u * (np.abs(A).T @ np.abs(D))
                + eAs[l].T @ np.abs(D)
                + np.abs(A).T @ eD
                + u * self.alpha * np.abs(W) / self.w.sum()
            )
            b_intercepts[l][...] = (n + 2) * u * np.abs(D).sum(axis=0) + eD.sum(axis=0)
            if l == 0:
                break
            P = D @ W.T
            eP = (W.shape[1] + 2) * u * (np.abs(D) @ np.abs(W).T) + eD @ np.abs(W).T
            name, p = self.names[l - 1], self.act_params[l - 1]
            deriv = lambda Z: reference.activation_derivative(name, Z, p)  # noqa: E731
            gp = deriv(self.Zs[l - 1])
            egp = self._perturbed(deriv, self.Zs[l - 1], eZs[l - 1]) + ELEMENTWISE_ULPS * u * gp
            D, eD = P * gp, eP * np.abs(gp) + np.abs(P) * egp

        # The loss: its sum over rows and outputs, the logs, and the forward error pushed
        # through dLoss/dZ_L (the output delta, already weighted).
        per_row = np.abs(self._row_losses())
        out_delta = np.abs(self._output_delta(self.Zs[-1]))
        loss_bound = (
            (n + self.Y.shape[1] + 2 + ELEMENTWISE_ULPS) * u * np.dot(self._scale, per_row)
            + np.sum(out_delta * eZs[-1])
            + (self.flat.size + 2) * u * self.penalty(self.w)
        )
        return SAFETY * bound, SAFETY * loss_bound

    def _row_losses(self):
        A = self.As[-1]
        if self.loss_name in LOG_LOSSES:
            A = np.clip(A, self.u_kernel * 2, 1 - self.u_kernel * 2)
        return reference._per_sample_loss(self.loss_name, self.Y, A)

    def reference_loss_at_kernel_clip(self):
        """The reference loss with the kernels' clipping (``eps`` of the network's dtype)."""
        return self.data_loss(self.As[-1], self.w, 2 * self.u_kernel) + self.penalty(self.w)

    # ---- finite differences of the reference loss ----------------------------------------
    def coordinate(self, k, kernel, ref, fd, error, tol, note=""):
        layer, kind, index = self._positions[k]
        return Coordinate(
            layer,
            kind,
            index,
            int(k),
            float(kernel),
            float(ref),
            float(fd),
            float(error),
            float(tol),
            note,
        )

    def shifted_loss(self, k, h, w):
        """Reference loss (float64) with parameter ``k`` moved by ``h``, by a rank-1 update."""
        layer, kind, index = self._positions[k]
        Z = self.Zs[layer].copy()
        if kind == "weight":
            i, j = index
            Z[:, j] += h * self.As[layer][:, i]
            value = self.coefs[layer][i, j]
            penalty = 0.5 * self.alpha * ((value + h) ** 2 - value**2) / w.sum()
        else:
            Z[:, index[0]] += h
            penalty = 0.0
        A_out = self.forward_from(layer, Z)[1][-1]
        return self.data_loss(A_out, w) + penalty


# Names of net.unpack's blocks as a coordinate's kind.
KINDS = {
    "coefs": "weight",
    "intercepts": "intercept",
    "gamma": "gamma",
    "beta": "beta",
    "slopes": "slope",
}


def _blocks(net, flat):
    """[(layer, kind, view)] of every parameter block of ``flat``, layer by layer."""
    views = net.unpack(flat)
    return [
        (l, KINDS[name], views[name][l])
        for l in range(net.n_layers)
        for name in KINDS
        if views[name][l] is not None
    ]


class _BlockProblem(_Problem):
    """The check of a network with batch norm or PReLU, through the reference's block path.

    Batch norm couples every row of the batch, so neither the rank-1 finite differences nor
    the per-row round-off bound of :class:`_Problem` apply: each finite difference
    recomputes the whole reference loss, and the kernel is held to a relative bound of
    ``BLOCK_RELATIVE_BOUND`` (per dtype) times the largest gradient entry.
    """

    def __init__(self, net, X, Y, sw, alpha):
        dtype = np.dtype(net.dtype)
        self.net, self.alpha = net, float(alpha)
        self.X = np.asarray(X, dtype=dtype).astype(np.float64)
        self.Y = np.asarray(Y, dtype=dtype).astype(np.float64)
        self.w = np.ones(len(X)) if sw is None else np.asarray(sw, dtype=dtype).astype(np.float64)
        self._scale = self.w / self.w.sum()
        self.flat = np.asarray(net.params).astype(np.float64)
        self.coefs, self.intercepts = _unpacked(net, self.flat)
        self.names = list(net.hidden_activations) + [net.output_activation]
        self.act_params = [net.activation_param(a) for a in self.names]
        self.loss_name = net.loss
        self.u_kernel = float(np.finfo(dtype).eps) / 2
        self._positions = _Positions(net, self.flat.size)
        self._settings = dict(
            hidden_activations=self.names[:-1],
            output_activation=self.names[-1],
            activation_params=self.act_params,
            batch_norm_epsilon=net.batch_norm_epsilon,
        )
        self.As = reference.forward_blocks(net.unpack(self.flat), self.X, **self._settings)

    def _loss_and_grads(self, flat, w):
        return reference.loss_and_grad_blocks(
            self.net.unpack(flat),
            self.X,
            self.Y,
            loss_name=self.loss_name,
            sample_weight=w,
            alpha=self.alpha,
            **self._settings,
        )

    def loss_and_grad(self, w):
        loss, grads = self._loss_and_grads(self.flat, w)
        flat = np.zeros_like(self.flat)
        for name, views in self.net.unpack(flat).items():
            for view, g in zip(views, grads[name]):
                if view is not None:
                    view[...] = g
        return loss, flat

    def kernel_bound(self):
        ref_loss, ref_grad = self.loss_and_grad(self.w)
        relative = BLOCK_RELATIVE_BOUND[np.dtype(self.net.dtype).name]
        scale = max(np.max(np.abs(ref_grad)), np.finfo(np.float64).tiny)
        return np.full_like(ref_grad, relative * scale), relative * max(abs(ref_loss), 1.0)

    def reference_loss_at_kernel_clip(self):
        return self._loss_and_grads(self.flat, self.w)[0]

    def shifted_loss(self, k, h, w):
        """Reference data loss with parameter ``k`` moved by ``h`` (the penalty's change
        included), recomputed in full: batch statistics couple every row."""
        flat = self.flat.copy()
        flat[k] += h
        return self._loss_and_grads(flat, w)[0] - self.penalty(w)


class _Positions:
    """(layer, kind, index) of a flat coordinate, read from ``net.unpack``'s views."""

    def __init__(self, net, n_params):
        self.blocks = _blocks(net, np.arange(n_params))
        self.cache = {}

    def __getitem__(self, k):
        if k not in self.cache:
            self.cache[k] = self._find(k)
        return self.cache[k]

    def _find(self, k):
        for layer, kind, block in self.blocks:
            hits = np.flatnonzero(block == k)
            if hits.size:
                index = np.unravel_index(hits[0], block.shape)
                return layer, kind, tuple(int(i) for i in index)
        raise IndexError(f"no parameter {k}")


def _sample_coordinates(problem, rng, full, limit):
    """Flat indices spread evenly over every parameter block of every layer."""
    blocks = [b.ravel() for _, _, b in _blocks(problem.net, np.arange(problem.flat.size))]
    if full or problem.flat.size <= limit:
        return np.sort(np.concatenate(blocks))
    per_block = max(1, limit // len(blocks))
    picks = [rng.choice(b, min(per_block, b.size), replace=False) for b in blocks]
    return np.sort(np.concatenate(picks))


def _clipped_rows(problem):
    """Rows where the log loss is flat in an output (clipped) or the reference divides by 0."""
    if problem.loss_name not in LOG_LOSSES:
        return np.zeros(problem.X.shape[0], dtype=bool)
    A, Y, clip = problem.As[-1], problem.Y, np.finfo(np.float64).eps
    flat = (Y > 0) & (A < clip)
    if problem.loss_name == "binary_log_loss":
        flat |= (Y < 1) & (A > 1 - clip)
    return np.any(flat | (A == 0) | (A == 1), axis=1)


# Relative bound of the kernel against the reference for batch-norm and PReLU networks:
# sqrt of the dtype's machine epsilon (no per-coordinate bound is derived for them yet).
BLOCK_RELATIVE_BOUND = {
    "float32": float(np.sqrt(np.finfo(np.float32).eps)),
    "float64": float(np.sqrt(np.finfo(np.float64).eps)),
}


def _finite_differences(problem, grad_k, ref, rng, eps, rtol, full, limit, start, progress):
    """Central differences of the reference loss on sampled coordinates, kinks set apart."""
    w = problem.w
    result = {"values": {}}
    f0 = problem.data_loss(problem.As[-1], w)
    scale = max(np.max(np.abs(ref)), np.finfo(np.float64).tiny)
    picks = _sample_coordinates(problem, rng, full, limit)
    shown = 0.0  # when progress was last drawn
    checked, skipped = [], []
    for count, k in enumerate(picks):
        now = time.perf_counter()
        due = progress or (progress is None and now - start > 1.0)
        if due and (now - shown > 0.25 or count + 1 == len(picks)):  # a few redraws a second
            shown = now
            print(
                f"\rcheck_gradients: finite differences {count + 1}/{len(picks)} coordinates",
                end="",
                file=sys.stderr,
                flush=True,
            )
        f_plus, f_minus = problem.shifted_loss(k, eps, w), problem.shifted_loss(k, -eps, w)
        central = (f_plus - f_minus) / (2 * eps)
        gap = abs((f_plus - f0) - (f0 - f_minus)) / eps
        err = abs(central - ref[k])
        # round-off of the differenced float64 losses, then the requested relative accuracy.
        tol = rtol * scale + 8 * np.finfo(np.float64).eps * (abs(f0) + 1) / eps
        result["values"][int(k)] = central
        if err > tol and gap >= err:
            skipped.append((k, central, err, tol))
            continue
        checked.append((k, central, err, tol))
    if shown:
        print(file=sys.stderr)

    def coords(items, note=""):
        items = sorted(items, key=lambda t: -t[2] / t[3])
        return tuple(
            problem.coordinate(k, grad_k[k], ref[k], c, e, t, note) for k, c, e, t in items
        )

    errors = np.array([c[2] for c in checked])
    result.update(
        relative=float(errors.max() / scale) if checked else 0.0,
        ratio=float(max((c[2] / c[3] for c in checked), default=0.0)),
        count=len(checked),
        worst=coords(checked)[:N_WORST],
        skipped=coords(skipped, "kink"),
    )
    return result
