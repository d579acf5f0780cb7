"""Plot samples/s against batch size, one line per library, from ``compare.py --out`` JSON.

    python bench/compare.py --sweep --out results.json
    python bench/plot.py results.json                # writes docs/benchmarks_batch.png

Uses the batch-size sweep of the JSON (``--sweep``); without one, the table's rows of the
architecture with the most batch sizes. Each library is drawn at its best thread count
(the same choice as the table). Log-log axes; matplotlib's Agg backend (no display).
"""

import argparse
import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DEFAULT_OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "docs", "benchmarks_batch.png"
)
STYLE = {
    "fastmlp Network": dict(color="C0", marker="o", lw=2.2),
    "fastmlp MLP*": dict(color="C0", marker="s", ls="--", lw=1.2),
    "scikit-learn": dict(color="C1", marker="^"),
    "torch": dict(color="C2", marker="D"),
}
LEGEND = {"fastmlp MLP*": "fastmlp MLPClassifier/Regressor", "torch": "PyTorch"}


def sweep_rows(data):
    """Rows of one architecture and dtype at several batch sizes."""
    rows = data.get("sweep") or []
    if rows:
        return rows
    groups = defaultdict(list)
    for row in data["rows"]:
        groups[(row["name"], row["case"]["dtype"])].append(row)
    best = max(groups.values(), key=len)
    if len(best) < 2:
        sys.exit("no batch-size sweep in this file: run bench/compare.py --sweep --out FILE")
    return sorted(best, key=lambda r: r["case"]["batch"])


def series(rows):
    """{library: ([batch sizes], [median samples/s at the best thread count])}."""
    out = defaultdict(lambda: ([], []))
    for row in rows:
        for library, label in row["best"].items():
            if label is None:
                continue
            out[library][0].append(row["case"]["batch"])
            out[library][1].append(row["results"][label]["median"])
    return dict(out)


def plot(data, out):
    rows = sweep_rows(data)
    name, dtype = rows[0]["name"], rows[0]["case"]["dtype"]
    lines = series(rows)
    fig, (ax, ax_ratio) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]}
    )
    for library, (batches, rates) in lines.items():
        ax.plot(batches, rates, label=LEGEND.get(library, library), **STYLE.get(library, {}))
    batches = [r["case"]["batch"] for r in rows]
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.set_xlabel("batch size")
    ax.set_ylabel("training samples / s (median)")
    ax.set_title(f"{name}, {dtype}, adam: throughput")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()

    ax_ratio.plot(batches, [r["ratio"] for r in rows], color="C0", marker="o")
    ax_ratio.set_xscale("log", base=2)
    ax_ratio.set_yscale("log")
    ax_ratio.set_xticks(batches, [str(b) for b in batches])
    ax_ratio.axhline(1.0, color="grey", lw=0.8)
    ax_ratio.set_xlabel("batch size")
    ax_ratio.set_ylabel("fastmlp / faster peer")
    ax_ratio.set_title("speed-up over the faster peer")
    ax_ratio.grid(True, which="both", alpha=0.3)
    for b, r in zip(batches, rows):
        ax_ratio.annotate(
            f"{r['ratio']:.1f}×",
            (b, r["ratio"]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=8,
        )
    env = data.get("environment", {})
    fig.text(
        0.01,
        0.01,
        f"{env.get('machine', '')}; fastmlp {env.get('fastmlp', '')}",
        fontsize=7,
        color="grey",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="JSON written by bench/compare.py --out")
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUT,
        help="image to write (default docs/benchmarks_batch.png)",
    )
    args = parser.parse_args(argv)
    with open(args.results) as f:
        data = json.load(f)
    print(plot(data, os.path.normpath(args.output)))


if __name__ == "__main__":
    main()
