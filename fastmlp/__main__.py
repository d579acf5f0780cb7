"""``python -m fastmlp demo``: train a network on scikit-learn's digits and report."""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .network import Network


def demo(epochs=300, learning_rate=0.5, momentum=0.9, seed=0):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    Y_train = np.eye(10)[y_train]
    net = Network(
        [64, 64, 10], activation="tanh", output_activation="softmax", loss="log_loss",
        dtype="float32", random_state=seed,
    )
    print(f"{net}: {net.n_params} parameters, {len(X_train)} training samples")
    net.loss_and_grad(X_train[:2], Y_train[:2])  # compile before timing
    # Full-batch gradient descent with momentum over Network.loss_and_grad.
    velocity = np.zeros_like(net.params)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        loss, grad = net.loss_and_grad(X_train, Y_train, alpha=1e-4)
        velocity = momentum * velocity - learning_rate * grad
        net.params += velocity
        if epoch == 1 or epoch % 25 == 0:
            print(f"epoch {epoch:4d}  loss {loss:.5f}")
    elapsed = time.perf_counter() - start
    accuracy = np.mean(net.forward(X_test).argmax(axis=1) == y_test)
    print(f"test accuracy {accuracy:.4f}")
    print(f"{epochs * len(X_train) / elapsed:,.0f} samples/s ({elapsed:.2f} s for {epochs} epochs)")
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastmlp")
    parser.add_argument("command", choices=["demo"])
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args(argv)
    demo(epochs=args.epochs)


if __name__ == "__main__":
    main()
