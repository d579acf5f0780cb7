"""Where one training step's time goes: a per-phase profile of the CPU kernels.

Run from the repository root::

    python -m bench.profile_step 20-64-64-2 --batch 16
    python -m bench.profile_step 256-1024-1024-10 --batch 256 --threads 2

Each phase is the kernels' own code (the same inlined functions, compiled with the same
options) called in a compiled loop, so a phase's time carries no Python overhead; the
median of several timed loops is reported. "step" is a whole minibatch of a compiled
epoch (gather, forward, loss, backward, update; diagnostics off, then on) for comparison
with the sum of the phases. The BLAS column gives each product's ``?gemm`` call in
BLAS's column-major terms (transa, transb, m, n, k), as products.matmul makes it, or
"micro" where products.py chooses a micro-kernel instead; "MB" is
what the phase reads and writes once.
"""

import argparse
import time

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

import fastmlp
from fastmlp import backend, training
from fastmlp.kernels import codes
from fastmlp.kernels.cpu import dense, losses, optimizers, products, train
from fastmlp.kernels.cpu.jit import OPTIONS

_jit = njit(**OPTIONS)


@_jit
def _product(A, B, out, n):
    for _ in range(n):
        products.product(A, B, out)


@_jit
def _product_tn(A, B, out, n):
    for _ in range(n):
        products.product_tn(A, B, out)


@_jit
def _product_nt(A, B, out, n):
    for _ in range(n):
        products.product_nt(A, B, out)


@_jit
def _bias_activation(Z, b, code, n):
    for _ in range(n):
        dense.bias_activation(Z, b, code, 0.0)


@_jit
def _activation_backward(D, A, code, M, n):
    for _ in range(n):
        dense.activation_backward(D, A, code, 0.0, M)


@_jit
def _bias_grad(D, gb, n):
    for _ in range(n):
        for j in range(gb.size):
            gb[j] = 0.0
        for i in range(D.shape[0]):
            for j in range(D.shape[1]):
                gb[j] += D[i, j]


@_jit
def _output(A, Y, sw, out_code, loss_code, D, n):
    for _ in range(n):
        losses.output_loss_and_delta(A, Y, sw, A.shape[0], out_code, 0.0, loss_code, 1e-7, D)


@_jit
def _update(solver, params, grad, s1, s2, hp, n_decay, n):
    for k in range(n):
        optimizers.update_params(solver, params, grad, s1, s2, k + 1, hp, n_decay)


@_jit
def _grad_norm(grad, layers, norms, n):
    for _ in range(n):
        train.grad_norm(grad, layers, norms)


@_jit
def _peaks(model, ws, rows, peak, n):
    for _ in range(n):
        train.track_peaks(model, ws, rows, peak)


def _seconds(fn, *args, min_seconds=0.02, repeats=5):
    """Median seconds of one call of ``fn(*args, n)``'s body."""
    fn(*args, 1)
    n, elapsed = 1, 0.0
    while elapsed < min_seconds:
        n *= 4
        start = time.perf_counter()
        fn(*args, n)
        elapsed = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, n)
        runs.append((time.perf_counter() - start) / n)
    return float(np.median(runs))


def _form(trans_a, trans_b, rows, cols, inner, dtype):
    """How the step computes ``out (rows x cols) <- op(A) @ op(B)``: "micro" where
    products.py picks a micro-kernel, else the gemm call in BLAS's column-major terms."""
    if dtype == np.float32:
        if trans_a:  # A.T @ D: the batch is the inner dimension
            micro = products.micro_tn_wins(inner, rows, cols)
        elif trans_b:  # D @ W.T: dot products as long as the inner dimension
            micro = products.micro_nt_wins(rows, cols, inner)
        else:
            micro = products.micro_nn_wins(rows, inner, cols)
        if micro:
            return "micro"
    return f"{'T' if trans_b else 'N'}{'T' if trans_a else 'N'} {cols}x{rows}x{inner}"


def profile(sizes, batch, dtype="float32"):
    """Rows ``(phase, blas, seconds, flops, bytes)`` of one step, and the whole steps."""
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype)
    item = dt.itemsize
    n_out = sizes[-1]
    out_code, loss_code = (
        (codes.SOFTMAX, codes.LOG_LOSS) if n_out > 1 else (codes.IDENTITY, codes.SQUARED_ERROR)
    )
    rows = []
    # Load the micro-kernels first, as the backend does before a fit: a product whose C
    # function is not loaded yet runs on BLAS.
    products.prepare_products(dt, batch, sizes)
    acts = [rng.random((batch, w), dtype=np.float64).astype(dt) for w in sizes]
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        A, Z = acts[l], acts[l + 1].copy()
        W = (rng.standard_normal((fan_in, fan_out)) * 0.1).astype(dt)
        b = np.zeros(fan_out, dt)
        D = rng.standard_normal((batch, fan_out)).astype(dt)
        flops = 2 * batch * fan_in * fan_out
        mb = (A.size + W.size + Z.size) * item
        t = _seconds(_product, A, W, Z)
        rows.append(
            (f"L{l + 1} forward A@W", _form(False, False, batch, fan_out, fan_in, dt), t, flops, mb)
        )
        code = out_code if l == len(sizes) - 2 else codes.RELU
        t = _seconds(_bias_activation, Z, b, code)
        what = "softmax" if code == codes.SOFTMAX else "activation"
        rows.append((f"L{l + 1} bias+{what}", "", t, 0, 2 * Z.size * item))
        G = np.empty_like(W)
        t = _seconds(_product_tn, A, D, G)
        rows.append(
            (f"L{l + 1} grad A.T@D", _form(True, False, fan_in, fan_out, batch, dt), t, flops, mb)
        )
        t = _seconds(_bias_grad, D, np.empty(fan_out, dt))
        rows.append((f"L{l + 1} bias grad", "", t, 0, D.size * item))
        if l > 0:
            P = np.empty((batch, fan_in), dt)
            t = _seconds(_product_nt, D, W, P)
            rows.append(
                (
                    f"L{l + 1} delta D@W.T",
                    _form(False, True, batch, fan_in, fan_out, dt),
                    t,
                    flops,
                    mb,
                )
            )
            t = _seconds(_activation_backward, P, A, codes.RELU, np.empty((0, 0), dt))
            rows.append((f"L{l} relu'", "", t, 0, 3 * P.size * item))
    A = acts[-1]
    A /= A.sum(axis=1, keepdims=True)
    Y = np.eye(n_out, dtype=dt)[rng.integers(0, n_out, batch)]
    t = _seconds(_output, A, Y, np.empty(0, dt), out_code, loss_code, np.empty_like(A))
    rows.append(("loss + output delta", "", t, 0, 3 * A.size * item))

    net = fastmlp.Network(
        list(sizes),
        output_activation="softmax" if n_out > 1 else "identity",
        loss="log_loss" if n_out > 1 else "squared_error",
        dtype=dtype,
        random_state=0,
    )
    p = net.params.copy()
    grad = (rng.standard_normal(p.size) * 1e-3).astype(dt)
    hp = training.TrainConfig(solver="adam").hyperparameters(1e-3, dt)
    t = _seconds(
        _update,
        codes.SOLVERS["adam"],
        p,
        grad,
        np.zeros_like(p),
        np.zeros_like(p),
        hp,
        net.layout.n_weights,
    )
    rows.append(("adam update", "", t, 0, 7 * p.size * item))
    t = _seconds(_grad_norm, grad, net.layout.table, np.zeros(net.n_layers))
    rows.append(("diagnostics: gradient norms", "", t, 0, p.size * item))
    ws = backend.workspace(net, batch)
    ws.acts[:] = rng.standard_normal(ws.acts.size)
    peak = np.zeros(sum(sizes[1:-1]), dt)
    t = _seconds(_peaks, backend.model(net), ws, batch, peak)
    rows.append(("diagnostics: dead-unit peaks", "", t, 0, batch * sum(sizes[1:-1]) * item))
    return rows, _steps(net, batch, rng)


def _steps(net, batch, rng, n_batches=64):
    """Seconds per minibatch of a compiled epoch, diagnostics off and on."""
    n = batch * n_batches
    X = rng.standard_normal((n, net.layer_sizes[0])).astype(net.dtype)
    Y = np.eye(net.layer_sizes[-1], dtype=net.dtype)[rng.integers(0, net.layer_sizes[-1], n)]
    config = training.TrainConfig(solver="adam", batch_size=batch)
    hp = config.hyperparameters(1e-3, net.dtype)
    order = np.arange(n, dtype=np.int64)
    sw = np.empty(0, net.dtype)
    result = {}
    session = backend.fit_session(net)
    session.open()
    for diagnostics in (False, True):
        buffers = backend.EpochBuffers(net, batch, None, diagnostics)
        opt = backend.optimizer_state(net, "adam")

        def epoch(_):
            backend.train_epoch(session, buffers, opt, hp, X, Y, sw, order, batch, 0)

        epoch(0)
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            epoch(0)
            runs.append((time.perf_counter() - start) / n_batches)
        result[diagnostics] = float(np.median(runs))
    session.close()
    return result


def format_profile(rows, steps):
    total = sum(r[2] for r in rows if not r[0].startswith("diagnostics"))
    lines = [
        "| phase | BLAS (ta tb m x n x k) | us | GFLOP/s | MB | share |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, form, seconds, flops, nbytes in rows:
        rate = f"{flops / seconds / 1e9:.0f}" if flops else ""
        lines.append(
            f"| {name} | {form} | {seconds * 1e6:.2f} | {rate} | {nbytes / 1e6:.3f} | "
            f"{seconds / total:.0%} |"
        )
    lines.append(f"| sum of the phases (no diagnostics) | | {total * 1e6:.2f} | | | |")
    lines.append(
        f"| step of a compiled epoch, diagnostics off | | {steps[False] * 1e6:.2f} | | | |"
    )
    lines.append(f"| step of a compiled epoch, diagnostics on | | {steps[True] * 1e6:.2f} | | | |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", help="layer sizes, e.g. 20-64-64-2")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split("-"))
    with threadpool_limits(args.threads):
        rows, steps = profile(sizes, args.batch, args.dtype)
    print(f"{args.sizes} at batch {args.batch}, {args.dtype}, {args.threads} BLAS thread(s):")
    print(format_profile(rows, steps))


if __name__ == "__main__":
    main()
