"""``python -m fastmlp demo``: train on scikit-learn's digits, show what it learned and how fast.

The same fit (architecture, solver, batch size, epochs, seed, float32 data) runs through
``fastmlp.MLPClassifier`` and scikit-learn's ``MLPClassifier``, so the speedup printed
at the end compares like with like.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.preprocessing import StandardScaler

from .estimators import MLPClassifier


def _digits(seed):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test


def _timed_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        return time.perf_counter() - start


def demo(epochs=30, batch_size=32, seed=0):
    X_train, X_test, y_train, y_test = _digits(seed)
    params = dict(hidden_layer_sizes=(64, 64), solver="adam", batch_size=batch_size,
                  max_iter=epochs, random_state=seed, tol=0.0)
    print(f"digits: {len(X_train)} training and {len(X_test)} test images, 64 features, "
          f"10 classes; network 64-64-64-10, adam, batch {batch_size}, {epochs} epochs")

    start = time.perf_counter()
    _timed_fit(MLPClassifier(**{**params, "max_iter": 1}), X_train[:64], y_train[:64])
    print(f"compile (or load from cache): {time.perf_counter() - start:.2f} s")

    clf = MLPClassifier(**params)
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
    print(f"scikit-learn: test accuracy {reference.score(X_test, y_test):.4f}, "
          f"{ref_seconds:.3f} s, {ref_rate:,.0f} samples/s")
    print(f"speedup: {rate / ref_rate:.1f}x (same fit; timings of one run on this machine)")
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastmlp")
    parser.add_argument("command", choices=["demo"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    demo(epochs=args.epochs, batch_size=args.batch_size)


if __name__ == "__main__":
    main()
