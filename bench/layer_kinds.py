"""Interleaved timings of the layer-kind benchmarks, with the budget ratios.

Run from the repository root::

    python -m bench.layer_kinds            # ~1 minute: 15 rounds, medians
    python -m bench.layer_kinds --rounds 31 --threads 1

On a shared machine, ``--threads 1`` keeps idle BLAS threads of the large products from
spinning against the small ones.

Each round times every variant once, in turn, so a busy moment of a shared machine hits
all of them alike; the medians over rounds are compared. The classes are asv's
(bench/benchmarks/bench_layer_kinds.py).
"""

import argparse
import time

import numpy as np

from .benchmarks.bench_layer_kinds import CASES, VARIANTS, LayerKindEpoch, LayerKindPredict

PREDICT_CASES = [case.partition("@")[0] for case in CASES]
# (what, case, variant, baseline, budget)
BUDGETS = [
    ("epoch", CASES[0], "relu+bn", "relu", 1.30),
    ("epoch", CASES[1], "relu+bn", "relu", 1.60),
    ("epoch", CASES[0], "prelu", "relu", 1.10),
    ("epoch", CASES[1], "prelu", "relu", 1.10),
    ("predict", PREDICT_CASES[0], "relu+bn", "relu", 1.05),
    ("predict", PREDICT_CASES[1], "relu+bn", "relu", 1.05),
]


def _bench(kind, case, variant):
    if kind == "epoch":
        b = LayerKindEpoch()
        b.setup(case, variant, "float32")
        return lambda: b.time_epoch(case, variant, "float32")
    b = LayerKindPredict()
    b.setup(case, variant, "float32")
    return lambda: b.time_forward(case, variant, "float32")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS threads (threadpoolctl); default: as they are",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    keys = [("epoch", c, v) for c in CASES for v in VARIANTS]
    keys += [("predict", c, v) for c in PREDICT_CASES for v in VARIANTS]
    calls = {key: _bench(*key) for key in keys}
    times = {key: [] for key in keys}
    for _ in range(args.rounds):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)
    medians = {key: float(np.median(t)) for key, t in times.items()}
    for (kind, case, variant), m in medians.items():
        best = min(times[(kind, case, variant)])
        print(
            f"{kind:8s} {case:20s} {variant:9s} {m * 1e3:9.3f} ms median, "
            f"{best * 1e3:9.3f} ms min (of {args.rounds})"
        )
    print()
    for kind, case, variant, baseline, budget in BUDGETS:
        ratio = medians[(kind, case, variant)] / medians[(kind, case, baseline)]
        verdict = "ok" if ratio <= budget else "OVER"
        print(
            f"{kind:8s} {case:20s} {variant} / {baseline}: {ratio:.3f} "
            f"(budget {budget:.2f}) {verdict}"
        )


if __name__ == "__main__":
    main()
