"""``python -m fastmlp``: demo, train, predict, check-gradients, and clean argument errors."""

import csv
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp.__main__ import main


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def regression_csv(tmp_path):
    # Unscaled features and target: y is linear in them, so a good fit is easy only if the
    # standardization folded into the saved model is right.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3)) * [1.0, 50.0, 0.01] + [0.0, 500.0, 3.0]
    y = 10 * X[:, 0] + 0.2 * X[:, 1] - 300 * X[:, 2] + 1000.0
    return (
        _write_csv(
            tmp_path / "reg.csv", ["a", "b", "c", "y"], [list(r) + [t] for r, t in zip(X, y)]
        ),
        X,
        y,
    )


@pytest.fixture
def classification_csv(tmp_path):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 2))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    rows = [[label] + list(r) for r, label in zip(X, labels)]
    return _write_csv(tmp_path / "cls.csv", ["label", "x1", "x2"], rows), X, labels


def _error(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_help_in_a_real_process():
    out = subprocess.run(
        [sys.executable, "-m", "fastmlp", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "train", "predict", "check-gradients"):
        assert command in out


@pytest.mark.parametrize("command", ["demo", "train", "predict", "check-gradients"])
def test_each_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m fastmlp {command}") and len(out) > 300


@pytest.mark.parametrize(
    "argv,message",
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["demo", "--epochs", "0"], "--epochs: must be at least 1"),
        (["demo", "--batch-size", "x"], "expected a positive integer"),
        (["train", "missing.csv", "--target", "y"], "no such file: missing.csv"),
        (["train", "--hidden", "64,-1", "x.csv", "--target", "y"], "layer widths must be positive"),
        (["predict", "missing.fastmlp", "x.csv"], "no such file: missing.fastmlp"),
        ([], "required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    assert message in _error(capsys, argv)


def test_missing_target_column(capsys, regression_csv):
    path, _, _ = regression_csv
    assert "target column 'z' is not in" in _error(capsys, ["train", path, "--target", "z"])


def test_non_numeric_feature(capsys, tmp_path):
    path = _write_csv(tmp_path / "bad.csv", ["x", "y"], [["1", "2"], ["oops", "3"]] * 3)
    assert "not a number: 'oops'" in _error(capsys, ["train", path, "--target", "y"])


def test_not_a_model_file(capsys, regression_csv):
    path, _, _ = regression_csv
    assert f"cannot load {path}" in _error(capsys, ["predict", path, path])


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_train_regression_then_predict(capsys, tmp_path, regression_csv):
    path, X, y = regression_csv
    model = str(tmp_path / "reg.fastmlp")
    assert (
        main(
            ["train", path, "--target", "y", "--hidden", "16", "--epochs", "300", "--output", model]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "regression" in out and "held-out R^2" in out
    score = float(out.split("held-out R^2: ")[1].split()[0])
    assert score > 0.9

    est = fastmlp.load(model)
    assert isinstance(est, fastmlp.MLPRegressor)
    assert main(["predict", model, path]) == 0
    predictions = np.array(capsys.readouterr().out.split(), dtype=float)
    assert predictions.shape == (len(y),)
    np.testing.assert_allclose(predictions, est.predict(X), rtol=1e-6)
    assert 1 - np.mean((predictions - y) ** 2) / np.var(y) > 0.9  # raw columns in, raw y out


def test_train_classifier_from_text_labels(capsys, tmp_path, classification_csv):
    path, X, labels = classification_csv
    model, preds = str(tmp_path / "cls.fastmlp"), str(tmp_path / "preds.txt")
    assert (
        main(
            [
                "train",
                path,
                "--target",
                "label",
                "--epochs",
                "200",
                "--hidden",
                "8",
                "--output",
                model,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "classification (2 classes)" in out and "held-out accuracy" in out
    assert main(["predict", model, path, "--output", preds]) == 0
    with open(preds) as f:
        predicted = f.read().split()
    assert set(predicted) <= {"up", "down"} and len(predicted) == len(labels)
    assert np.mean(np.array(predicted) == labels) > 0.9


def test_few_distinct_integers_make_a_classifier(capsys, tmp_path):
    rng = np.random.RandomState(2)
    X = rng.normal(size=(60, 2))
    rows = [list(r) + [int(r[0] > 0) + 1] for r in X]
    path = _write_csv(tmp_path / "int.csv", ["a", "b", "k"], rows)
    model = str(tmp_path / "m.fastmlp")
    main(["train", path, "--target", "k", "--epochs", "5", "--output", model])
    assert isinstance(fastmlp.load(model), fastmlp.MLPClassifier)
    assert "classification (2 classes)" in capsys.readouterr().out


def test_check_gradients_table(capsys):
    assert main(["check-gradients", "--rows", "8"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.endswith(("  ok", "  FAIL"))]
    n_pairs = sum(len(v) for v in fastmlp.network.LOSS_OUTPUTS.values())
    assert len(lines) == len(fastmlp.kernels.codes.HIDDEN_ACTIVATIONS) * n_pairs * 2
    assert "all gradients ok" in out


def test_check_gradients_exits_1_on_a_wrong_gradient(capsys, monkeypatch):
    honest = fastmlp.Network.loss_and_grad

    def wrong(self, *args, **kwargs):
        loss, grad = honest(self, *args, **kwargs)
        return loss, -grad

    monkeypatch.setattr(fastmlp.Network, "loss_and_grad", wrong)
    assert main(["check-gradients", "--rows", "4"]) == 1
    assert "SOME GRADIENTS ARE WRONG" in capsys.readouterr().out


def test_demo(capsys):
    assert main(["demo", "--epochs", "2", "--batch-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "compiling kernels" in out and "speedup" in out
    assert "epoch   2" in out and "epoch   3" not in out


@pytest.mark.skipif(
    importlib.util.find_spec("fastmlp.plot") is None, reason="fastmlp.plot is not in this build"
)
def test_demo_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs the plot extra (matplotlib)")
    png = tmp_path / "history.png"
    assert main(["demo", "--epochs", "2", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_plot_without_plotting_is_a_clean_error(capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    assert "--plot needs matplotlib" in _error(capsys, ["demo", "--plot", "x.png"])
