"""The benchmark script's building blocks on tiny sizes (no timing assertions).

``bench/`` is not part of the installed package, so ``bench/compare.py`` is loaded from its
file. PyTorch is optional: its runner is skipped when it is not installed.
"""

import importlib.util
import json
import pathlib

import numpy as np
import pytest

import fastmlp

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"fastmlp_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = _load("compare")

RUNNERS = [
    pytest.param(compare.FastmlpNetwork, id="network"),
    pytest.param(compare.FastmlpEstimator, id="fastmlp-estimator"),
    pytest.param(compare.Sklearn, id="sklearn"),
    pytest.param(
        compare.Torch,
        id="torch",
        marks=pytest.mark.skipif(compare.torch is None, reason="PyTorch not installed"),
    ),
]


@pytest.mark.parametrize("sizes", [(10, 32, 1), (20, 64, 64, 2), (784, 1024, 1024, 10)])
def test_flop_count_is_six_per_parameter_per_sample(sizes):
    net = fastmlp.Network(list(sizes), dtype="float32", random_state=0)
    assert compare.n_params(sizes) == net.n_params
    assert compare.flops_per_sample(sizes) == 6 * net.n_params
    # 10-32-1: 10*32 + 32 + 32*1 + 1 = 385 parameters
    assert compare.flops_per_sample((10, 32, 1)) == 6 * 385
    assert compare.gflops((10, 32, 1), 1e6) == pytest.approx(6 * 385 * 1e6 / 1e9)


@pytest.mark.parametrize("runner_cls", RUNNERS)
@pytest.mark.parametrize("sizes", [(5, 7, 1), (5, 7, 2), (5, 6, 4, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_runners_train_the_same_architecture(runner_cls, sizes, dtype):
    case = compare.Case(sizes, batch=4, dtype=dtype, n_samples=18)
    runner = runner_cls(case, compare.make_data(case), threads=1)
    runner.run(1)
    before = runner.params_snapshot()
    runner.run(2)
    after = runner.params_snapshot()
    assert runner.layer_sizes() == list(sizes)
    assert runner.param_dtype() == np.dtype(dtype)
    assert before.size == compare.n_params(sizes)
    assert not np.array_equal(before, after), "training did not change the parameters"


def test_runners_take_the_same_number_of_adam_steps():
    case = compare.Case((5, 7, 3), batch=4, dtype="float32", n_samples=18)  # 5 batches/epoch
    data = compare.make_data(case)
    sk = compare.Sklearn(case, data)
    sk.run(3)
    assert sk.est.n_iter_ == 3
    assert sk.est._optimizer.t == 3 * 5
    est = compare.FastmlpEstimator(case, data)
    est.run(3)
    assert est.est.n_iter_ == 3 and est.est.t_ == 3 * 18
    net = compare.FastmlpNetwork(case, data)
    net.run(3)
    assert net.epochs_run == 3
    if compare.torch is not None:
        tr = compare.Torch(case, data)
        tr.run(3)
        assert tr.steps == 3 * 5
        state = tr.optimizer.state[next(tr.model.parameters())]
        assert int(state["step"]) == 3 * 5


def test_make_data_targets_per_task():
    reg = compare.Case((5, 7, 1), 4, "float64", n_samples=10)
    X, Y, y = compare.make_data(reg)
    assert X.dtype == Y.dtype == y.dtype == np.float64
    assert Y.shape == (10, 1) and y.shape == (10,)
    multi = compare.Case((5, 7, 3), 4, "float32", n_samples=10)
    X, Y, y = compare.make_data(multi)
    assert Y.shape == (10, 3) and np.all(Y.sum(axis=1) == 1)
    assert set(y) == {0, 1, 2} and np.array_equal(Y.argmax(axis=1), y)
    binary = compare.Case((5, 7, 2), 4, "float32", n_samples=10)
    X, Y, y = compare.make_data(binary)
    assert y is Y  # two outputs: the estimators get the indicator matrix, as Network does


def test_targets_and_table():
    assert compare.target_met(("ratio", 30.0), 31.0, 0.1) is True
    assert compare.target_met(("ratio", 30.0), 29.9, 0.99) is False
    assert compare.target_met(("gemm", 0.75), 0.5, 0.76) is True
    assert compare.target_met(("gemm", 0.75), 100.0, 0.74) is False
    assert compare.target_met(None, 1.0, 1.0) is None
    # float64 rows carry no target; float32 rows carry the targets
    cases = compare.table_cases()
    assert {c.dtype for c in cases} == {"float32", "float64"}
    assert all(c.target is None for c in cases if c.dtype == "float64")
    targets = {(c.sizes, c.batch): c.target for c in cases if c.dtype == "float32"}
    assert targets[((10, 32, 1), 1)] == ("ratio", 30.0)
    assert targets[((784, 1024, 1024, 10), 256)] == ("gemm", 0.75)

    case = compare.Case((10, 32, 1), 1, "float32", ("ratio", 30.0), n_samples=8)

    def res(library, threads, rate):
        return {"library": library, "threads": threads, "median": rate}

    results = {
        "a": res(compare.NETWORK, 1, 100.0),
        "b": res(compare.NETWORK, 2, 300.0),
        "c": res(compare.SKLEARN, 1, 10.0),
        "d": res(compare.TORCH, 2, 20.0),
    }
    gemm = {"float32": {"median": 1.0}, "float64": {"median": 1.0}}
    row = compare.evaluate(case, results, gemm)
    assert row["best"][compare.NETWORK] == "b" and row["faster_peer"] == "d"
    assert row["ratio"] == pytest.approx(15.0) and row["met"] is False
    table = compare.format_table([row])
    assert "15.0× (torch)" in table and "**no**" in table and "300 (2)" in table
    json.dumps(row)  # the --out file is plain JSON


def test_measure_reports_whole_epochs():
    case = compare.Case((5, 7, 3), batch=6, dtype="float32", n_samples=12)
    runner = compare.FastmlpNetwork(case, compare.make_data(case))
    out = compare.measure([runner], case.n_samples, repeats=2, min_seconds=0.0)
    result = out[runner.label]
    assert result["epochs"] == 1 and len(result["runs"]) == 2
    assert result["min"] <= result["median"] <= result["max"]
    assert runner.epochs_run == 2 + 2  # warm-up and calibration epochs, then the repeats
