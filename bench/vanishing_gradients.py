"""Vanishing gradients in a deep sigmoid network, and batch norm's cure (user guide figure).

A network of ten logistic hidden layers on scikit-learn's digits, trained by plain SGD with
and without batch norm; the per-layer gradient norms come from the training diagnostics
(``History.layer_grad_norms``). Run from the repository root::

    python bench/vanishing_gradients.py                  # prints the numbers
    python bench/vanishing_gradients.py --plot docs/plots/vanishing_gradients.png

The plot needs matplotlib (the ``plot`` extra).
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastmlp

DEPTH, WIDTH, EPOCHS = 10, 32, 30


def train(batch_norm, X, Y, seed=0):
    """A 64-32x10-10 logistic network trained by SGD; return it and its history."""
    net = fastmlp.Network(
        [X.shape[1]] + [WIDTH] * DEPTH + [Y.shape[1]],
        activation="logistic",
        batch_norm=batch_norm,
        output_activation="softmax",
        loss="log_loss",
        random_state=seed,
    )
    history = net.fit(
        X,
        Y,
        solver="sgd",
        learning_rate_init=0.05,
        momentum=0.9,
        batch_size=32,
        max_iter=EPOCHS,
        tol=0.0,
        n_iter_no_change=EPOCHS,
        random_state=seed,
    )
    return net, history


def accuracy(net, X, y):
    return float(np.mean(net.forward(X).argmax(axis=1) == y))


def run():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=0, stratify=y
    )
    Y_train = np.eye(10)[y_train]
    results = {}
    for batch_norm in (False, True):
        net, history = train(batch_norm, X_train, Y_train)
        results[batch_norm] = dict(history=history, test_accuracy=accuracy(net, X_test, y_test))
    return results


def report(results):
    for batch_norm, r in results.items():
        h = r["history"]
        first = h.layer_grad_norms[0]
        print(
            f"batch_norm={batch_norm!s:5}: loss {h.loss[0]:.3f} -> {h.loss[-1]:.3f} in "
            f"{len(h)} epochs, test accuracy {r['test_accuracy']:.3f}; first-epoch "
            f"gradient norm, layer 1 / layer {len(first)}: {first[0]:.2e} / {first[-1]:.2e}"
        )


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for batch_norm, r in results.items():
        h = r["history"]
        color = "tab:orange" if batch_norm else "tab:blue"
        label = (
            f"batch norm (test acc. {r['test_accuracy']:.2f})"
            if batch_norm
            else f"no batch norm (test acc. {r['test_accuracy']:.2f})"
        )
        left.plot(np.arange(1, len(h) + 1), h.loss, color=color, label=label)
        layers = np.arange(1, h.layer_grad_norms.shape[1] + 1)
        right.semilogy(
            layers,
            h.layer_grad_norms[0],
            "o-",
            color=color,
            label=label.split(" (")[0] + ", epoch 1",
        )
        right.semilogy(
            layers,
            h.layer_grad_norms[-1],
            "o--",
            color=color,
            alpha=0.5,
            label=label.split(" (")[0] + f", epoch {len(h)}",
        )
    left.set(
        xlabel="epoch",
        ylabel="training loss (log loss)",
        title=f"{DEPTH} logistic hidden layers, digits, SGD",
    )
    left.legend()
    right.set(
        xlabel="layer (1 = input side)",
        ylabel="gradient norm (mean over minibatches)",
        title="per-layer gradient norms (History.layer_grad_norms)",
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="PNG", help="write the figure there")
    args = parser.parse_args(argv)
    results = run()
    report(results)
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
