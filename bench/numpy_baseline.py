"""Samples/s of ``Network.loss_and_grad`` against a plain NumPy implementation of the same math.

Run with ``python bench/numpy_baseline.py``. Both sides compute, for a relu MLP with a
softmax output and log_loss, in float32: the forward pass, the loss, the output delta and
every weight and intercept gradient, written into a flat buffer in the same layout. The
NumPy side is vectorised with ``@`` (``np.matmul(..., out=...)``) into preallocated arrays,
which is the fastest natural NumPy formulation. Each measurement is the median of 7 runs of
N calls after a warm-up (which also compiles the Numba kernels); the candidates' runs are
interleaved so that load from other processes on a shared machine hits them alike.
"""

import argparse
import os
import platform
import statistics
import subprocess
import time

import numba
import numpy as np
from threadpoolctl import threadpool_info

import fastmlp

# DESIGN.md: float32 GEMM rate of the reference 2-core machine (1024^3 numpy product); the
# script also measures the rate itself at start-up, since the machine is shared.
PEAK_GFLOPS = 190.0
CASES = [((20, 64, 64, 2), 16), ((784, 512, 512, 10), 256)]


class NumpyMLP:
    """relu hidden layers, softmax output, log_loss; buffers allocated once per batch size."""

    def __init__(self, coefs, intercepts, batch):
        self.W = [np.ascontiguousarray(W) for W in coefs]
        self.b = [np.ascontiguousarray(b) for b in intercepts]
        dtype = self.W[0].dtype
        self.eps = np.finfo(dtype).eps
        self.acts = [np.empty((batch, W.shape[1]), dtype) for W in self.W]
        self.deltas = [np.empty((batch, W.shape[1]), dtype) for W in self.W]
        self.relu_mask = [np.empty((batch, W.shape[1]), dtype) for W in self.W[:-1]]
        self.rowvec = np.empty((batch, 1), dtype)
        n_weights = sum(W.size for W in self.W)
        self.grad = np.empty(n_weights + sum(b.size for b in self.b), dtype)
        # gradient views in fastmlp's flat layout: all weights, then all intercepts
        self.gW, self.gb = [], []
        w, c = 0, n_weights
        for W in self.W:
            self.gW.append(self.grad[w : w + W.size].reshape(W.shape))
            self.gb.append(self.grad[c : c + W.shape[1]])
            w += W.size
            c += W.shape[1]

    def loss_and_grad(self, X, Y):
        n = X.shape[0]
        L = len(self.W)
        A = X
        for l in range(L):
            out = self.acts[l]
            np.matmul(A, self.W[l], out=out)
            out += self.b[l]
            if l < L - 1:
                np.maximum(out, 0, out=out)
            A = out
        # softmax, shifted by the row max
        np.max(A, axis=1, keepdims=True, out=self.rowvec)
        A -= self.rowvec
        np.exp(A, out=A)
        np.sum(A, axis=1, keepdims=True, out=self.rowvec)
        A /= self.rowvec
        # log_loss with scikit-learn's clipping (Y one-hot, so y*log(clip(p)) is xlogy)
        D = self.deltas[L - 1]
        np.clip(A, self.eps, 1 - self.eps, out=D)
        np.log(D, out=D)
        D *= Y
        loss = -float(D.sum(dtype=np.float64)) / n
        # canonical delta and backpropagation
        np.subtract(A, Y, out=D)
        D *= 1.0 / n
        for l in range(L - 1, -1, -1):
            A_prev = X if l == 0 else self.acts[l - 1]
            np.matmul(A_prev.T, D, out=self.gW[l])
            np.sum(D, axis=0, out=self.gb[l])
            if l > 0:
                D_prev = self.deltas[l - 1]
                np.matmul(D, self.W[l].T, out=D_prev)
                np.greater(A_prev, 0, out=self.relu_mask[l - 1])
                D_prev *= self.relu_mask[l - 1]
                D = D_prev
        return loss, self.grad


def time_interleaved(candidates, n_calls, repeats, pause_s=0.2):
    """Per-call seconds of each candidate: ``repeats`` runs of ``n_calls[name]`` calls.

    The runs are interleaved (A, B, C, A, B, C, ...) so that load from other processes on a
    shared machine hits every candidate alike; report the median run.
    """
    runs = {name: [] for name, _ in candidates}
    for _ in range(repeats):
        for name, fn in candidates:
            # NumPy and fastmlp (through SciPy) use two different OpenBLAS builds, each with
            # its own thread pool; idle OpenBLAS threads spin for a while after a call. Pause
            # so the other pool's threads are asleep, then take one untimed call.
            time.sleep(pause_s)
            fn()
            start = time.perf_counter()
            for _ in range(n_calls[name]):
                fn()
            runs[name].append((time.perf_counter() - start) / n_calls[name])
    return runs


def calibrate(fn, target_s, min_calls):
    start = time.perf_counter()
    fn()
    fn()
    per_call = (time.perf_counter() - start) / 2
    return max(min_calls, int(target_s / max(per_call, 1e-7)))


def measure_peak_gflops(size=1024, repeats=7):
    """float32 GEMM rate of this machine now: median of ``repeats`` NumPy size^3 products."""
    a = np.random.RandomState(0).standard_normal((size, size)).astype(np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, a, out=out)
        times.append(time.perf_counter() - start)
    return 2.0 * size**3 / statistics.median(times) / 1e9


def source_version():
    """Commit of the checkout being measured, with '+dirty' for uncommitted changes."""
    try:
        run = dict(
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], **run).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], **run
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def thread_settings():
    lines = [f"numba.get_num_threads() = {numba.get_num_threads()}"]
    for pool in threadpool_info():
        lines.append(
            f"{pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version')} "
            f"num_threads={pool.get('num_threads')} ({pool.get('filepath')})"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--run-seconds", type=float, default=0.5, help="target duration of one run of N calls"
    )
    parser.add_argument(
        "--case",
        choices=["all", "small", "large"],
        default="all",
        help="small: 20-64-64-2 at batch 16; large: 784-512-512-10 at 256",
    )
    args = parser.parse_args(argv)
    cases = {"all": CASES, "small": CASES[:1], "large": CASES[1:]}[args.case]

    peak = measure_peak_gflops()
    rows = []
    for sizes, batch in cases:
        net = fastmlp.Network(
            list(sizes),
            activation="relu",
            output_activation="softmax",
            loss="log_loss",
            dtype="float32",
            random_state=0,
        )
        rng = np.random.RandomState(0)
        X = rng.normal(size=(batch, sizes[0])).astype(np.float32)
        Y = np.eye(sizes[-1], dtype=np.float32)[rng.randint(0, sizes[-1], batch)]
        ref = NumpyMLP(net.coefs, net.intercepts, batch)

        # warm up (compiles the kernels) and check both compute the same loss and gradient
        loss_f, grad_f = net.loss_and_grad(X, Y)
        loss_n, grad_n = ref.loss_and_grad(X, Y)
        np.testing.assert_allclose(loss_f, loss_n, rtol=1e-5)
        scale = np.abs(grad_n).max()
        np.testing.assert_allclose(grad_f, grad_n, rtol=1e-3, atol=1e-4 * scale)

        candidates = [
            ("fastmlp", lambda: net.loss_and_grad(X, Y)),
            ("numpy", lambda: ref.loss_and_grad(X, Y)),
        ]
        # The unchecked entry point (no input validation, caller-owned gradient buffer):
        # shows how much of the small-batch time is Python-side checking.
        if hasattr(net, "_loss_and_grad"):
            grad_buf = np.empty_like(net.params)
            try:
                net._loss_and_grad(X, Y, None, 0.0, grad=grad_buf)
            except TypeError:
                pass
            else:
                candidates.append(
                    (
                        "fastmlp_unchecked",
                        lambda: net._loss_and_grad(X, Y, None, 0.0, grad=grad_buf),
                    )
                )
        result = {"sizes": "-".join(map(str, sizes)), "batch": batch}
        n_calls = {name: calibrate(fn, args.run_seconds, 10) for name, fn in candidates}
        runs = time_interleaved(candidates, n_calls, args.repeats)
        for name, _ in candidates:
            sec = statistics.median(runs[name])
            spread = (batch / max(runs[name]), batch / min(runs[name]))
            result[name] = (batch / sec, sec, n_calls[name], spread)
        flops = 6.0 * net.n_weights * batch
        result["gflops"] = flops / result["fastmlp"][1] / 1e9
        result["gflops_numpy"] = flops / result["numpy"][1] / 1e9
        rows.append(result)

    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"Numba {numba.__version__}, fastmlp {fastmlp.__version__} ({source_version()}), "
        f"{platform.machine()}, float32, median of {args.repeats} runs of N calls"
    )
    print()
    for line in thread_settings():
        print(f"- {line}")
    print()
    unchecked = all("fastmlp_unchecked" in r for r in rows)
    header = ["network", "batch", "fastmlp samples/s", "NumPy samples/s", "fastmlp / NumPy"]
    if unchecked:
        header += ["unchecked samples/s", "unchecked / NumPy"]
    header += [f"fastmlp GFLOP/s (% of {PEAK_GFLOPS:.0f} / of {peak:.0f})", "NumPy GFLOP/s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        f, n = r["fastmlp"][0], r["numpy"][0]
        cells = [r["sizes"], str(r["batch"]), f"{f:,.0f}", f"{n:,.0f}", f"{f / n:.2f}x"]
        if unchecked:
            u = r["fastmlp_unchecked"][0]
            cells += [f"{u:,.0f}", f"{u / n:.2f}x"]
        cells += [
            f"{r['gflops']:.1f} ({100 * r['gflops'] / PEAK_GFLOPS:.0f}% / "
            f"{100 * r['gflops'] / peak:.0f}%)",
            f"{r['gflops_numpy']:.1f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    print("N (calls per run) and the slowest-fastest run in samples/s:")
    for r in rows:
        print(
            f"- {r['sizes']}: "
            + ", ".join(
                f"{k} N={r[k][2]} [{r[k][3][0]:,.0f} - {r[k][3][1]:,.0f}]"
                for k in r
                if isinstance(r[k], tuple)
            )
        )
    print(
        f"GFLOP/s counts 6 x n_weights x batch FLOPs per call; {PEAK_GFLOPS:.0f} GFLOP/s is "
        f"DESIGN.md's float32 GEMM rate, {peak:.0f} GFLOP/s the 1024^3 NumPy sgemm measured "
        "at the start of this run."
    )


if __name__ == "__main__":
    main()
