"""fastmlp's command line: ``python -m fastmlp {demo,train,predict,check-gradients}``.

``demo`` trains on scikit-learn's digits with fastmlp and with scikit-learn (same
architecture, solver, batch size, epochs, seed and float32 data, so the printed speedup
compares like with like); ``train`` and ``predict`` work on CSV files; ``check-gradients``
checks the compiled gradients of random small networks. Bad arguments print a one-line error
and exit with status 2.
"""

import argparse
import csv
import importlib.util
import os
import sys
import time
import warnings

import numpy as np

DESCRIPTION = "fastmlp: multilayer perceptrons trained by Numba-compiled kernels."
#: A numeric target column with at most this many distinct integer values is a class label.
MAX_CLASSES = 20


# ---- argument types ------------------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _layer_sizes(text):
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths like 64,64, got {text!r}"
        )
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return sizes


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {value}")
    return value


# ---- demo ----------------------------------------------------------------------------------
def _digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test


def _timed_fit(estimator, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        return time.perf_counter() - start


def demo(epochs=30, batch_size=32, seed=0, plot=None):
    """Train on digits with fastmlp and scikit-learn; print accuracy, speed, the speedup.

    Returns the fitted fastmlp classifier. With ``plot`` a path, also saves
    ``fastmlp.plot.history(clf)`` there.
    """
    from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

    from .estimators import MLPClassifier

    X_train, X_test, y_train, y_test = _digits(seed)
    params = dict(
        hidden_layer_sizes=(64, 64),
        solver="adam",
        batch_size=batch_size,
        max_iter=epochs,
        random_state=seed,
        tol=0.0,
    )
    print(
        f"digits: {len(X_train)} training and {len(X_test)} test images, 64 features, "
        f"10 classes; network 64-64-64-10, adam, batch {batch_size}, {epochs} epochs"
    )

    print("compiling kernels (once per dtype, then cached on disk)...", flush=True)
    start = time.perf_counter()
    # The plot's gradient, dead-unit and update-ratio panels need the opt-in diagnostics.
    ours = {**params, "diagnostics": plot is not None}
    _timed_fit(MLPClassifier(**{**ours, "max_iter": 1}), X_train[:64], y_train[:64])
    print(f"compile (or load from cache): {time.perf_counter() - start:.2f} s")

    clf = MLPClassifier(**ours)
    seconds = _timed_fit(clf, X_train, y_train)
    for epoch in (1, 2, 3, 5, 10, 20, 30, 50, 100):
        if epoch <= clf.n_iter_:
            print(f"  epoch {epoch:3d}  loss {clf.loss_curve_[epoch - 1]:.5f}")
    accuracy = clf.score(X_test, y_test)
    rate = clf.n_iter_ * len(X_train) / seconds
    print(f"fastmlp:      test accuracy {accuracy:.4f}, {seconds:.3f} s, {rate:,.0f} samples/s")

    reference = SklearnMLPClassifier(**params)
    ref_seconds = _timed_fit(reference, X_train, y_train)
    ref_rate = reference.n_iter_ * len(X_train) / ref_seconds
    print(
        f"scikit-learn: test accuracy {reference.score(X_test, y_test):.4f}, "
        f"{ref_seconds:.3f} s, {ref_rate:,.0f} samples/s"
    )
    print(f"speedup: {rate / ref_rate:.1f}x (same fit; timings of one run on this machine)")
    if plot is not None:
        save_history_plot(clf, plot)
        print(f"training history plotted to {plot}")
    return clf


def save_history_plot(estimator, path):
    """Draw ``fastmlp.plot.history(estimator)`` off-screen and save it to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # a file is all we need; no display
    from . import plot

    fig = plot.history(estimator)
    fig.savefig(path)
    return fig


def _plot_unavailable():
    """Why ``--plot`` cannot work here, or None."""
    if importlib.util.find_spec("matplotlib") is None:
        return "--plot needs matplotlib: pip install 'fastmlp[plot]'"
    if importlib.util.find_spec("fastmlp.plot") is None:
        return "--plot needs fastmlp.plot, which this fastmlp does not have"
    return None


# ---- CSV files -----------------------------------------------------------------------------
def read_csv(path, parser):
    """Header and rows (lists of strings) of a CSV file; ``parser.error`` on a bad file."""
    if not os.path.isfile(path):
        parser.error(f"no such file: {path}")
    try:
        with open(path, newline="") as f:
            table = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        parser.error(f"cannot read {path}: {exc}")
    if len(table) < 2:
        parser.error(f"{path} needs a header row and at least one data row")
    header, rows = [name.strip() for name in table[0]], table[1:]
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            parser.error(f"{path}, line {number}: {len(row)} fields, the header has {len(header)}")
    return header, rows


def _numeric_columns(header, rows, columns, path, parser):
    """The named columns as a float64 matrix; ``parser.error`` names a non-numeric cell."""
    index = [header.index(c) for c in columns]
    X = np.empty((len(rows), len(index)))
    for i, row in enumerate(rows):
        for j, k in enumerate(index):
            try:
                X[i, j] = float(row[k])
            except ValueError:
                parser.error(
                    f"{path}, line {i + 2}, column {header[k]!r}: not a number: {row[k]!r}"
                )
    return X


def _target(values):
    """(y, is_classification): strings or few distinct integers make a classification."""
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return np.array([v.strip() for v in values]), True
    integral = np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers))
    if integral and len(np.unique(numbers)) <= MAX_CLASSES:
        return numbers.astype(np.int64), True
    return numbers, False


def _standardizer(a):
    """Mean and standard deviation (1 for constant columns) to standardize ``a`` with."""
    scale = np.std(a, axis=0)
    return np.mean(a, axis=0), np.where(scale > 0, scale, 1.0)


def _fold_standardization(est, x_shift, x_scale, y_shift, y_scale):
    """Fold the standardization into the weights, so the saved model takes raw columns.

    ``(x - m) / s @ W + b == x @ (W / s[:, None]) + (b - (m / s) @ W)``; for a regressor's
    identity output, ``y = y_scale * out + y_shift`` scales the last layer likewise.
    """
    coefs, intercepts = est.coefs_, est.intercepts_
    W0, b0 = coefs[0].copy(), intercepts[0].copy()
    coefs[0][...] = W0 / x_scale[:, None]
    intercepts[0][...] = b0 - (x_shift / x_scale) @ W0
    if np.any(y_scale != 1.0) or np.any(y_shift != 0.0):
        coefs[-1][...] *= y_scale
        intercepts[-1][...] = intercepts[-1] * y_scale + y_shift


def train(args, parser):
    """Fit a classifier or regressor on a CSV file, print a held-out score, save the model.

    Features (and a regression target) are standardized for training; the standardization
    is then folded into the first (and last) layer, so the model takes the raw columns.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from .estimators import MLPClassifier, MLPRegressor
    from .persistence import save

    header, rows = read_csv(args.data, parser)
    if args.target not in header:
        parser.error(
            f"target column {args.target!r} is not in {args.data} (columns: {', '.join(header)})"
        )
    features = [c for c in header if c != args.target]
    if not features:
        parser.error(f"{args.data} has no feature columns besides {args.target!r}")
    X = _numeric_columns(header, rows, features, args.data, parser)
    y, classify = _target([row[header.index(args.target)] for row in rows])
    if len(rows) < 4:
        parser.error(f"{args.data} has {len(rows)} rows; training needs at least 4")
    cls = MLPClassifier if classify else MLPRegressor
    est = cls(
        hidden_layer_sizes=args.hidden,
        max_iter=args.epochs,
        batch_size=args.batch_size,
        random_state=args.seed,
    )
    split = train_test_split(X, y, test_size=args.test_size, random_state=args.seed)
    X_train, X_test, y_train, y_test = split
    x_shift, x_scale = _standardizer(X_train)
    y_shift, y_scale = (0.0, 1.0) if classify else _standardizer(y_train)
    kind = f"classification ({len(np.unique(y))} classes)" if classify else "regression"
    print(
        f"{args.data}: {len(rows)} rows, {len(features)} features, target {args.target!r}: "
        f"{kind}; training on {len(X_train)}, scoring on {len(X_test)}"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(
            (X_train - x_shift) / x_scale, y_train if classify else (y_train - y_shift) / y_scale
        )
    _fold_standardization(est, x_shift, x_scale, y_shift, y_scale)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        print(f"note: stopped after {est.n_iter_} epochs before converging (raise --epochs)")
    metric = "accuracy" if classify else "R^2"
    print(f"held-out {metric}: {est.score(X_test, y_test):.4f}")
    est.feature_names_in_ = np.array(features, dtype=object)  # so predict can pick columns
    save(est, args.output)
    print(f"model saved to {args.output}")
    return est


def predict(args, parser):
    """Print (or write) one prediction per row of a CSV file."""
    from .persistence import load

    if not os.path.isfile(args.model):
        parser.error(f"no such file: {args.model}")
    try:
        est = load(args.model)
    except (ValueError, OSError) as exc:
        parser.error(f"cannot load {args.model}: {exc}")
    header, rows = read_csv(args.data, parser)
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        missing = [n for n in names if n not in header]
        if missing:
            parser.error(f"{args.data} lacks the model's feature columns: {', '.join(missing)}")
        columns = list(names)
    elif len(header) == est.n_features_in_:
        columns = header
    else:
        parser.error(
            f"{args.data} has {len(header)} columns; the model takes {est.n_features_in_} features"
        )
    X = _numeric_columns(header, rows, columns, args.data, parser)
    with warnings.catch_warnings():
        # The columns were picked by name above; the array itself carries no names.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        predictions = est.predict(X)
    lines = [str(p) for p in predictions]
    if args.output:
        with open(args.output, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{len(lines)} predictions written to {args.output}")
    else:
        print("\n".join(lines))
    return predictions


# ---- check-gradients -----------------------------------------------------------------------
def _targets(rng, output, loss, n, m):
    if loss == "log_loss":
        return np.eye(m)[rng.randint(0, m, n)]
    if loss == "binary_log_loss":
        return rng.randint(0, 2, (n, m)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, (n, m)).astype(float)
    if output in ("logistic", "softmax"):
        return rng.uniform(0.05, 0.95, (n, m))
    if output == "exp":
        return rng.uniform(0.2, 3.0, (n, m))
    return rng.normal(size=(n, m))


def check_all_gradients(seed=0, rows=32, stream=None):
    """check_gradients on a random small network per activation, output/loss pair and dtype.

    Prints one line per case and returns True when every case passes.
    """
    from .gradcheck import check_gradients
    from .kernels import codes
    from .network import LOSS_OUTPUTS, Network

    stream = sys.stdout if stream is None else stream
    rng = np.random.RandomState(seed)
    print(
        f"{'activation':11s} {'output':9s} {'loss':16s} {'dtype':8s} {'kernel':>8s} "
        f"{'fin.diff':>8s} {'skipped':>7s}  result",
        file=stream,
    )
    all_ok = True
    for activation in codes.HIDDEN_ACTIVATIONS:
        for loss, outputs in LOSS_OUTPUTS.items():
            for output in outputs:
                for dtype in ("float32", "float64"):
                    net = Network(
                        [5, 6, 4, 3],
                        activation=activation,
                        output_activation=output,
                        loss=loss,
                        dtype=dtype,
                        random_state=rng.randint(2**31),
                    )
                    X = rng.normal(size=(rows, 5))
                    Y = _targets(rng, output, loss, rows, 3)
                    result = check_gradients(
                        net, X.astype(dtype), Y.astype(dtype), alpha=0.1, full=True
                    )
                    all_ok &= result.ok
                    print(
                        f"{activation:11s} {output:9s} {loss:16s} {dtype:8s} "
                        f"{result.kernel_error_ratio:8.2g} "
                        f"{result.finite_difference_error_ratio:8.2g} "
                        f"{len(result.skipped):7d}  {'ok' if result.ok else 'FAIL'}",
                        file=stream,
                    )
    print("columns kernel and fin.diff: worst error / tolerance (<= 1 passes)", file=stream)
    print("all gradients ok" if all_ok else "SOME GRADIENTS ARE WRONG", file=stream)
    return all_ok


# ---- the parser ----------------------------------------------------------------------------
def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m fastmlp",
        description=DESCRIPTION,
        epilog="Run 'python -m fastmlp COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = {}  # name -> its parser, whose error() names the command in usage

    p = parser.commands["demo"] = sub.add_parser(
        "demo",
        help="train on scikit-learn's digits, compare speed with scikit-learn",
        description="Train a 64-64-64-10 network on scikit-learn's digits (float32, adam) "
        "with fastmlp and with scikit-learn, and print the loss per epoch, the test "
        "accuracy, samples per second and the speedup. The first run compiles the kernels "
        "(a few seconds, once per dtype; cached on disk).",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=30,
        metavar="N",
        help="training epochs (default: 30)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        metavar="B",
        help="minibatch size (default: 32)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="also save fastmlp.plot.history of the fit to this image file "
        "(needs the plot extra: pip install 'fastmlp[plot]')",
    )

    p = parser.commands["train"] = sub.add_parser(
        "train",
        help="train a model on a CSV file and save it",
        description="Train on a CSV file with a header row. The target column decides the "
        f"task: text, or at most {MAX_CLASSES} distinct integer values, makes a classifier; "
        "any other numbers a regressor. Every other column is a numeric feature (standardized "
        "for training; the saved model takes the raw values). A held-out part of the rows is "
        "scored (accuracy or R^2) and the model is saved for 'predict'.",
    )
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument(
        "--target", required=True, metavar="COLUMN", help="name of the column to predict"
    )
    p.add_argument(
        "--hidden",
        type=_layer_sizes,
        default=(64, 64),
        metavar="W1,W2,...",
        help="hidden layer widths (default: 64,64)",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=200,
        metavar="N",
        help="maximum training epochs (default: 200)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        metavar="B",
        help="minibatch size (default: 32)",
    )
    p.add_argument(
        "--test-size",
        type=_fraction,
        default=0.25,
        metavar="F",
        help="fraction of rows held out for the score (default: 0.25)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--output",
        default="model.fastmlp",
        metavar="PATH",
        help="where to save the model (default: model.fastmlp)",
    )

    p = parser.commands["predict"] = sub.add_parser(
        "predict",
        help="predict the rows of a CSV file with a saved model",
        description="Load a model saved by 'train' (or est.save) and print one prediction "
        "per row of the CSV file. Columns are matched to the model's features by name; "
        "others (such as the target) are ignored.",
    )
    p.add_argument("model", help="model file written by 'train' or est.save")
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument(
        "--output",
        metavar="PATH",
        help="write the predictions here, one per line, instead of printing them",
    )

    p = parser.commands["check-gradients"] = sub.add_parser(
        "check-gradients",
        help="check compiled gradients on random small networks",
        description="For every hidden activation, every output/loss pair and both dtypes, "
        "compare the compiled gradient of a random small network with the float64 "
        "reference and with finite differences (fastmlp.check_gradients). Prints a table; "
        "exits with status 1 if any case fails.",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--rows",
        type=_positive_int,
        default=32,
        metavar="N",
        help="rows of random data per case (default: 32)",
    )
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (argument errors exit with 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command_parser = parser.commands[args.command]
    if args.command == "demo":
        if args.plot is not None and (why := _plot_unavailable()):
            command_parser.error(why)
        demo(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, plot=args.plot)
    elif args.command == "train":
        train(args, command_parser)
    elif args.command == "predict":
        predict(args, command_parser)
    else:
        return 0 if check_all_gradients(seed=args.seed, rows=args.rows) else 1
    return 0


def _run():
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        sys.stdout = open(os.devnull, "w")
        sys.exit(0)


if __name__ == "__main__":
    _run()
