"""Training throughput on an NVIDIA GPU: fastmlp's CUDA target beside PyTorch on CUDA.

Run from the repository root on a machine with a GPU (bench/gpu_check.sh runs it)::

    python bench/compare_cuda.py            # every case of the table (a few minutes)
    python bench/compare_cuda.py --quick    # one batch size per network

Both libraries train the same relu network in float32 with adam (same rate, betas and
epsilon, no weight penalty), the same batch size and a fresh shuffle every epoch, on the
same synthetic data already on the GPU:

- fastmlp: ``Network(device="cuda").fit`` with diagnostics off; the path column says
  whether the fully fused small-width kernels ran ("fused") or the per-layer tiled ones;
- PyTorch: eager ``torch.nn.Sequential`` of ``Linear`` + ``ReLU`` with ``torch.optim.Adam``
  (fused=True), indexing a per-epoch ``torch.randperm`` on the GPU.

Each library trains one warm-up epoch (compilation, allocator), then repeats of whole
epochs of at least ``--min-seconds`` each, interleaved between the libraries; the median
over repeats is reported in samples per second, with ``torch.cuda.synchronize`` (PyTorch)
or the end of ``fit`` (fastmlp: the epoch's statistics come back to the host) closing each
timing. The target column is the issue's: at least 3x PyTorch for the fused path at widths
64 and 128 and batches >= 2^14, at least 0.5x for wide networks.
"""

import argparse
import math
import statistics
import sys
import time

import numpy as np

import fastmlp

SMALL = [(64, 64, 64, 1), (32, 64, 64, 64, 64, 3)]
WIDE = [((784, 256, 128, 10), 256), ((784, 1024, 1024, 10), 256)]
BATCHES = [2**k for k in range(10, 17)]


def cases(quick=False):
    batches = [2**14] if quick else BATCHES
    return [(sizes, b) for sizes in SMALL for b in batches] + WIDE


def n_samples(sizes, batch):
    """Samples per epoch: 8 batches at least, 2^17 for the narrow networks, 2^15 wide."""
    return max(8 * batch, 2**17 if max(sizes) <= 128 else 2**15)


def make_data(sizes, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    if sizes[-1] == 1:
        Y = X[:, :1] * 0.5 + 0.1 * rng.standard_normal((n, 1), dtype=np.float32)
    else:
        Y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], n)]
    return X, np.ascontiguousarray(Y)


def target(sizes, batch):
    if max(sizes[1:-1]) <= 128 and batch >= 2**14:
        return 3.0
    if max(sizes) > 128:
        return 0.5
    return None


class Fastmlp:
    name = "fastmlp"

    def __init__(self, sizes, batch, X, Y):
        classify = sizes[-1] > 1
        self.net = fastmlp.Network(
            list(sizes),
            activation="relu",
            output_activation="softmax" if classify else "identity",
            loss="log_loss" if classify else "squared_error",
            dtype="float32",
            random_state=0,
            device="cuda",
        )
        self.batch, self.X, self.Y = batch, X, Y

    def path(self):
        from fastmlp import backend
        from fastmlp.kernels.cuda import network

        ws = backend.workspace(self.net, 1)
        return "fused" if network.fused(backend.model(self.net), ws) else "tiled"

    def run(self, epochs):
        history = self.net.fit(
            self.X,
            self.Y,
            solver="adam",
            batch_size=self.batch,
            max_iter=epochs,
            random_state=0,
            diagnostics=False,
            tol=0.0,
            n_iter_no_change=np.inf,
        )
        return float(history.loss[-1])


class Torch:
    name = "torch"

    def __init__(self, sizes, batch, X, Y):
        import torch

        self.torch = torch
        layers = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
        self.model = torch.nn.Sequential(*layers).cuda()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-8, fused=True)
        self.X = torch.from_numpy(X).cuda()
        self.classify = sizes[-1] > 1
        self.Y = torch.from_numpy(Y.argmax(1) if self.classify else Y).cuda()
        self.batch = batch

    def run(self, epochs):
        torch = self.torch
        loss_fn = (
            torch.nn.functional.cross_entropy
            if self.classify
            else (lambda out, y: 0.5 * torch.nn.functional.mse_loss(out, y))
        )
        n = self.X.shape[0]
        for _ in range(epochs):
            order = torch.randperm(n, device="cuda")
            for start in range(0, n, self.batch):
                idx = order[start : start + self.batch]
                self.opt.zero_grad(set_to_none=True)
                loss = loss_fn(self.model(self.X[idx]), self.Y[idx])
                loss.backward()
                self.opt.step()
        torch.cuda.synchronize()
        return float(loss)


def torch_cuda():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def measure(runners, n, repeats, min_seconds):
    """Median samples/s of each runner: warm-up, calibration, interleaved repeats."""
    epochs, times = {}, {r.name: [] for r in runners}
    for r in runners:
        r.run(1)
        start = time.perf_counter()
        r.run(1)
        epochs[r.name] = max(1, math.ceil(min_seconds / (time.perf_counter() - start)))
    for _ in range(repeats):
        for r in runners:
            start = time.perf_counter()
            r.run(epochs[r.name])
            times[r.name].append((time.perf_counter() - start) / epochs[r.name])
    return {name: n / statistics.median(t) for name, t in times.items()}


def rows(case_list, repeats, min_seconds, with_torch, samples=None):
    """One table row per (sizes, batch); ``samples`` overrides the samples per epoch."""
    for sizes, batch in case_list:
        n = samples or n_samples(sizes, batch)
        X, Y = make_data(sizes, n)
        ours = Fastmlp(sizes, batch, X, Y)
        runners = [ours] + ([Torch(sizes, batch, X, Y)] if with_torch else [])
        rates = measure(runners, n, repeats, min_seconds)
        theirs = rates.get("torch")
        yield {
            "network": "-".join(map(str, sizes)),
            "batch": batch,
            "path": ours.path(),
            "fastmlp": rates["fastmlp"],
            "torch": theirs,
            "ratio": None if theirs is None else rates["fastmlp"] / theirs,
            "target": target(sizes, batch),
        }


def format_row(row):
    def rate(x):
        return "not measured" if x is None else f"{x:,.0f}"

    ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}x"
    goal = "-" if row["target"] is None else f">= {row['target']:g}x"
    return (
        f"{row['network']:<22} {row['batch']:>6} {row['path']:>6} {rate(row['fastmlp']):>14}"
        f" {rate(row['torch']):>14} {ratio:>7} {goal:>8}"
    )


HEADER = (
    f"{'network':<22} {'batch':>6} {'path':>6} {'fastmlp/s':>14} {'torch cuda/s':>14}"
    f" {'ratio':>7} {'target':>8}"
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one batch size per network")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=0.3)
    args = parser.parse_args(argv)
    if not fastmlp.cuda_available():
        print("No usable CUDA GPU (or the simulator): nothing measured.", file=sys.stderr)
        return 1
    with_torch = torch_cuda()
    if not with_torch:
        print("PyTorch with CUDA is not installed: its column is 'not measured'.")
    print(HEADER)
    for row in rows(cases(args.quick), args.repeats, args.min_seconds, with_torch):
        print(format_row(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
