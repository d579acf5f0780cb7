"""Draw docs/plots/history.png: fastmlp.plot.history of a real fit (needs the plot extra).

    python bench/plot_history.py                      # writes docs/plots/history.png
    python bench/plot_history.py --out other.png

The fit: scikit-learn's digits, standardised, a 64-64-32-10 ReLU network trained by SGD
with momentum under a cosine schedule, early stopping's validation split kept for the
score but run to max_iter (n_iter_no_change above it) so that the whole schedule shows.
"""

import argparse
import os
import warnings

import matplotlib

matplotlib.use("Agg")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastmlp  # noqa: E402
import fastmlp.plot  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "..", "docs", "plots", "history.png")


def fitted_classifier():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = fastmlp.MLPClassifier(
        hidden_layer_sizes=(64, 32),
        solver="sgd",
        learning_rate="cosine",
        learning_rate_init=0.1,
        momentum=0.9,
        max_iter=60,
        early_stopping=True,
        n_iter_no_change=1000,
        random_state=0,
        diagnostics=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="PNG to write")
    args = parser.parse_args()
    fig = fastmlp.plot.history(fitted_classifier())
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
