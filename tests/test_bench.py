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
needs_torch = pytest.mark.skipif(not compare.HAVE_TORCH, reason="PyTorch not installed")

RUNNERS = [
    pytest.param(compare.FastmlpNetwork, id="network"),
    pytest.param(compare.FastmlpEstimator, id="fastmlp-estimator"),
    pytest.param(compare.FastmlpEstimatorDiagnostics, id="fastmlp-estimator-diag"),
    pytest.param(compare.Sklearn, id="sklearn"),
    pytest.param(compare.Torch, id="torch", marks=needs_torch),
]


@pytest.mark.parametrize("sizes", [(10, 32, 1), (20, 64, 64, 2), (784, 256, 128, 10)])
def test_flop_count_is_six_per_weight_per_sample(sizes):
    net = fastmlp.Network(list(sizes), dtype="float32", random_state=0)
    assert compare.n_params(sizes) == net.n_params
    assert compare.n_weights(sizes) == net.n_params - sum(sizes[1:])  # less the intercepts
    assert compare.flops_per_sample(sizes) == 6 * compare.n_weights(sizes)
    # 10-32-1: 10*32 + 32*1 = 352 weights
    assert compare.gflops((10, 32, 1), 1e6) == pytest.approx(6 * 352 * 1e6 / 1e9)
    assert compare.gflops((10, 32, 1), 1e6, per_sample=2) == pytest.approx(2 * 352 * 1e6 / 1e9)


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


def test_estimator_columns_differ_only_in_diagnostics():
    case = compare.Case((5, 7, 3), batch=4, dtype="float32", n_samples=18)
    data = compare.make_data(case)
    off = compare.FastmlpEstimator(case, data).est.get_params()
    on = compare.FastmlpEstimatorDiagnostics(case, data).est.get_params()
    assert off["diagnostics"] is fastmlp.MLPClassifier().diagnostics is False
    assert on.pop("diagnostics") is True
    off.pop("diagnostics")
    assert on == off


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
    if compare.HAVE_TORCH:
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


def test_target_evaluation():
    met = compare.target_met
    assert met(("ratio", ">=", 45.0), {"ratio": 45.0}) is True
    assert met(("ratio", ">=", 45.0), {"ratio": 44.9, "network_ratio": 50.0}) is False
    assert met(("gemm_fraction", ">=", 0.85), {"gemm_fraction": 0.84}) is False
    assert met(("network_us", "<", 3.0), {"network_us": 3.0}) is False
    assert met(("ratio", ">=", 5.0), {"ratio": None}) is None  # not measured
    assert met(("ratio", ">=", 5.0), {}) is None
    with pytest.raises(ValueError, match="unknown target"):
        met(("ratio", "~", 5.0), {"ratio": 1.0})
    with pytest.raises(ValueError, match="unknown target"):
        met(("speed", ">=", 5.0), {"speed": 1.0})
    with pytest.raises(ValueError, match="unknown target"):  # reported, not a target
        met(("diag_cost", "<=", 0.05), {"diag_cost": 0.0})
    assert compare.describe_target(("ratio", ">=", 45.0)) == "≥ 45×"
    assert compare.describe_target(("gemm_fraction", ">=", 0.85)) == "≥ 85% of sgemm"
    assert compare.describe_target(("network_us", "<", 3.0)) == "forward < 3 µs"


def test_rows_carry_the_performance_targets():
    quick = compare.table_cases(("float32",), others=False)
    targets = {(c.sizes, c.batch): c.targets for c in quick}
    assert targets == {
        ((20, 64, 64, 2), 1): (("ratio", ">=", 45.0),),
        ((20, 64, 64, 2), 8): (("ratio", ">=", 30.0),),
        ((20, 64, 64, 2), 16): (("ratio", ">=", 30.0),),
        ((64, 100, 10), 200): (("ratio", ">=", 4.0),),
        ((784, 256, 128, 10), 128): (("gemm_fraction", ">=", 0.85),),
        ((256, 1024, 1024, 10), 256): (("gemm_fraction", ">=", 0.85),),
    }
    full = compare.table_cases()
    assert len(full) > len(quick) and set(quick) <= set(full)
    assert all(c.targets == () for c in full if c.dtype == "float64")
    latency, bulk = compare.PREDICT_CASES
    assert (latency.sizes, latency.rows, latency.kind) == ((64, 64, 64, 10), 1, "latency")
    assert ("ratio", ">=", 5.0) in latency.targets and ("network_us", "<", 3.0) in latency.targets
    assert (bulk.sizes, bulk.rows, bulk.kind) == ((784, 256, 128, 10), 100_000, "bulk")
    assert bulk.targets == (("gemm_fraction", ">=", 0.85),)
    # the --cases filter matches on the keys
    keys = [c.key for c in compare.select(full, ["20-64-64-2@1:"])]
    assert keys == ["20-64-64-2@1:float32", "20-64-64-2@1:float64"]
    assert compare.select(compare.PREDICT_CASES, ["predict-1row"]) == [latency]
    assert compare.select(quick, []) == quick


def _res(library, threads, rate):
    return {"library": library, "threads": threads, "median": rate}


def test_training_row_and_table():
    case = compare.Case((10, 32, 3), 1, "float32", (("ratio", ">=", 30.0),), 8)
    results = {
        "e1": _res(compare.ESTIMATOR, 1, 200.0),
        "e2": _res(compare.ESTIMATOR, 2, 100.0),
        "d1": _res(compare.ESTIMATOR_DIAG, 1, 160.0),
        "n1": _res(compare.NETWORK, 1, 100.0),
        "n2": _res(compare.NETWORK, 2, 300.0),
        "c": _res(compare.SKLEARN, 1, 10.0),
        "d": _res(compare.TORCH, 2, 20.0),
    }
    gemm = {"float32": {"median": 1e-3}, "float64": {"median": 1.0}}  # GFLOP/s
    row = compare.evaluate(case, results, gemm)
    assert row["best"][compare.NETWORK] == "n2" and row["best"][compare.ESTIMATOR] == "e1"
    assert row["faster_peer"] == "d"
    m = row["metrics"]
    assert m["ratio"] == pytest.approx(10.0)  # the estimator's: 200 / 20
    assert m["network_ratio"] == pytest.approx(15.0)
    assert m["diag_cost"] == pytest.approx(0.25)  # 200 / 160 - 1
    assert row["ratio"] == m["ratio"]  # bench/plot.py's speed-up line
    weights = 10 * 32 + 32 * 3
    assert m["gemm_fraction"] == pytest.approx(6 * weights * 200.0 / 1e9 / 1e-3)
    assert row["met"] == [False]

    # a GEMM rate timed beside the child's repeats replaces the run's for that library
    paired = results | {"e1": results["e1"] | {"gemm_runs": [2e-3, 5e-3, 4e-3]}}
    pm = compare.evaluate(case, paired, gemm)["metrics"]
    assert pm["gemm_fraction"] == pytest.approx(6 * weights * 200.0 / 1e9 / 4e-3)
    assert pm["network_gemm_fraction"] == pytest.approx(m["network_gemm_fraction"])
    assert pm["gemm_gflops"] == 4e-3 and m["gemm_gflops"] == 1e-3
    table = compare.format_table([row])
    header, rule, line = table.splitlines()
    assert header.count("|") == rule.count("|") == line.count("|")
    assert "10.0× (torch)" in line and "15.0×" in line and "+25.0%" in line
    assert "200 (1)" in line and "300 (2)" in line and "160 (1)" in line
    assert "≥ 30×" in line and "**no**" in line
    json.dumps(row)  # the --out file is plain JSON

    # without the estimator columns: no estimator ratio, targets unknown, not failed
    bare = {k: v for k, v in results.items() if k[0] not in "ed"} | {"d": results["d"]}
    row = compare.evaluate(case, bare, gemm)
    assert row["metrics"]["ratio"] is None and "diag_cost" not in row["metrics"]
    assert row["ratio"] == row["metrics"]["network_ratio"]
    assert row["met"] == [None]
    assert "| n/a |" in compare.format_table([row])


def test_prediction_rows_and_table():
    latency, bulk = compare.PREDICT_CASES
    gemm = {"float32": {"median": 100.0}, "float64": {"median": 50.0}}
    results = {  # calls/s of one row
        "s": _res(compare.SKLEARN, 1, 1e4),  # 100 µs
        "t1": _res(compare.TORCH, 1, 4e4),  # 25 µs
        "t2": _res(compare.TORCH, 2, 2e4),
        "e": _res(compare.ESTIMATOR, 1, 2.5e5),  # 4 µs
        "n": _res(compare.NETWORK, 1, 5e5),  # 2 µs
    }
    row = compare.evaluate(latency, results, gemm)
    assert row["kind"] == "latency" and row["faster_peer"] == "t1"
    assert row["metrics"]["ratio"] == pytest.approx(6.25)
    assert row["metrics"]["network_us"] == pytest.approx(2.0)
    assert row["met"] == [True, True]
    rows_per_s = {k: _res(v["library"], v["threads"], v["median"] * 10) for k, v in results.items()}
    bulk_row = compare.evaluate(bulk, rows_per_s, gemm)
    weights = 784 * 256 + 256 * 128 + 128 * 10
    assert bulk_row["metrics"]["gemm_fraction"] == pytest.approx(2 * weights * 2.5e6 / 1e9 / 100)
    assert "network_us" not in bulk_row["metrics"]
    table = compare.format_predict_table([row, bulk_row])
    one, many = table.splitlines()[2:]
    assert "100 µs (1)" in one and "25.0 µs (1)" in one and "4.0 µs (1)" in one
    assert "2.0 µs (1)" in one and "6.2× (torch)" in one and "yes; yes" in one
    assert "100,000 rows" in many and "2.50 M (1)" in many
    assert f"{bulk_row['metrics']['gemm_fraction']:.0%}" in many
    json.dumps([row, bulk_row])


def test_measure_reports_whole_epochs():
    case = compare.Case((5, 7, 3), batch=6, dtype="float32", n_samples=12)
    runner = compare.FastmlpNetwork(case, compare.make_data(case))
    between = []
    out = compare.measure(
        [runner], case.n_samples, repeats=2, min_seconds=0.0, between=lambda: between.append(1)
    )
    assert len(between) == 2 + 1  # before each round, and after the last
    result = out[runner.label]
    assert result["epochs"] == 1 and len(result["runs"]) == 2
    assert result["min"] <= result["median"] <= result["max"]
    assert runner.epochs_run == 2 + 2  # warm-up and calibration epochs, then the repeats


def test_measure_calls_counts_blocks_per_thread_setting():
    calls = []
    out = compare.measure_calls(
        compare.NETWORK,
        {1: lambda: calls.append(1), 2: lambda: calls.append(2)},
        n_rows=3,
        repeats=4,
        min_seconds=0.0,
        block_seconds=0.0,
    )
    assert set(out) == {"fastmlp Network (1 thread)", "fastmlp Network (2 threads)"}
    for threads, label in ((1, "fastmlp Network (1 thread)"), (2, "fastmlp Network (2 threads)")):
        assert out[label]["threads"] == threads and out[label]["calls"] == 1
        assert len(out[label]["runs"]) == 4
        assert calls.count(threads) == 2 + 4  # warm-up and calibration calls, then 4 blocks


@pytest.mark.parametrize("library", [compare.ESTIMATOR, compare.NETWORK, compare.SKLEARN])
def test_predictors_return_probabilities(library):
    pcase = compare.PredictCase((5, 7, 3), rows=4, fit_samples=30)
    proba = compare.make_predictor(library, pcase)(compare.prediction_input(pcase))
    assert proba.shape == (4, 3)
    if library != compare.SKLEARN:
        assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


@needs_torch
def test_torch_predictor_returns_probabilities():
    pcase = compare.PredictCase((5, 7, 3), rows=4, fit_samples=30)
    proba = compare.make_predictor(compare.TORCH, pcase)(compare.prediction_input(pcase))
    assert isinstance(proba, np.ndarray) and proba.shape == (4, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_worker_result_goes_through_a_child_process():
    """The parent's side of the protocol: a real child, its JSON line on stdout. The
    estimator's child measures it with and without diagnostics, at every thread count."""
    case = compare.Case((5, 7, 3), batch=6, dtype="float32", n_samples=12)
    out = compare.run_child(
        "train",
        compare.ESTIMATOR,
        compare.asdict(case),
        threads=(1, 2),
        repeats=2,
        min_seconds=0.0,
    )
    assert set(out) == {"results", "info"} and out["info"] == {}
    results = out["results"]
    assert set(results) == {
        f"{lib} ({n})"
        for lib in (compare.ESTIMATOR, compare.ESTIMATOR_DIAG)
        for n in ("1 thread", "2 threads")
    }
    for res in results.values():
        assert res["library"] in (compare.ESTIMATOR, compare.ESTIMATOR_DIAG)
        assert len(res["runs"]) == 2 and res["epochs"] == 1 and res["median"] > 0
        # the GEMM rate timed in the same process: 3 products before each of the 2
        # rounds and after the last
        assert len(res["gemm_runs"]) == 3 * (2 + 1) and min(res["gemm_runs"]) > 0
    row = compare.evaluate(case, results | {"p": _res(compare.SKLEARN, 1, 1.0)}, _GEMM)
    assert row["best"][compare.ESTIMATOR] in results
    assert row["metrics"]["diag_cost"] is not None


_GEMM = {"float32": {"median": 1.0}, "float64": {"median": 1.0}}


def test_worker_side_of_the_protocol_in_process(capsys):
    pcase = compare.PredictCase((5, 7, 3), rows=1, fit_samples=30)
    spec = json.loads(json.dumps(compare.asdict(pcase)))  # as the child receives it
    out = compare.main(
        ["--worker", "latency", "--library", compare.NETWORK, "--spec", json.dumps(spec)]
        + ["--threads", "1", "--repeats", "2", "--min-seconds", "0.002"]
    )
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == json.loads(json.dumps(out))
    (label,) = printed["results"]
    assert label == "fastmlp Network (1 thread)"
    assert len(printed["results"][label]["runs"]) >= 2
    assert compare.case_from_spec(compare.PredictCase, spec) == pcase


def test_a_failing_child_raises_with_its_error():
    with pytest.raises(RuntimeError, match="unknown worker kind|invalid choice"):
        compare.run_child("bogus", compare.NETWORK, {}, threads=(1,), repeats=1)


def test_run_row_runs_each_library_once_and_merges(monkeypatch):
    calls = []

    def fake_child(kind, library, spec, **options):
        calls.append((kind, library, spec["batch"], options["threads"]))
        info = {"torch": "x"} if library == compare.TORCH else {}
        return {"results": {f"{library} (1 thread)": _res(library, 1, 1.0)}, "info": info}

    monkeypatch.setattr(compare, "run_child", fake_child)
    args = compare.parse_args(["--quick", "--threads", "1"])
    info = {}
    case = compare.Case((5, 7, 3), batch=6, n_samples=12)
    libraries = [compare.ESTIMATOR, compare.SKLEARN, compare.TORCH]
    assert compare.train_libraries()[:3] == [compare.ESTIMATOR, compare.NETWORK, compare.SKLEARN]
    assert compare.ESTIMATOR not in compare.train_libraries(estimator=False)
    results = compare.run_row("train", case, libraries, args, info)
    assert [c[1] for c in calls] == libraries
    assert all(c[0] == "train" and c[2] == 6 and c[3] == [1] for c in calls)
    assert set(results) == {f"{lib} (1 thread)" for lib in libraries}
    assert info == {"torch": "x"}


def test_device_cuda_hands_over_to_compare_cuda(monkeypatch):
    from bench import compare_cuda

    seen = []
    monkeypatch.setattr(compare_cuda, "main", lambda argv: seen.append(argv) or 7)
    assert compare.main(["--device", "cuda", "--quick"]) == 7
    assert seen == [["--quick", "--repeats", "3", "--min-seconds", "0.2"]]
