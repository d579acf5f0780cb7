"""bench/compare_cuda.py's building blocks on tiny sizes (no timing assertions)."""

import importlib.util
import pathlib

import numpy as np
import pytest

pytest.importorskip("numba.cuda", reason="needs the numba-cuda package")

PATH = pathlib.Path(__file__).resolve().parents[2] / "bench" / "compare_cuda.py"
spec = importlib.util.spec_from_file_location("fastmlp_bench_compare_cuda", PATH)
compare_cuda = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_cuda)


def test_cases_cover_the_issue_shapes():
    cases = compare_cuda.cases()
    assert ((64, 64, 64, 1), 2**10) in cases and ((64, 64, 64, 1), 2**16) in cases
    assert ((32, 64, 64, 64, 64, 3), 2**14) in cases
    assert ((784, 256, 128, 10), 256) in cases and ((784, 1024, 1024, 10), 256) in cases
    assert compare_cuda.target((64, 64, 64, 1), 2**14) == 3.0
    assert compare_cuda.target((64, 64, 64, 1), 2**10) is None
    assert compare_cuda.target((784, 1024, 1024, 10), 256) == 0.5


def test_fastmlp_runner_trains_on_cuda_and_the_table_says_not_measured():
    sizes, batch = (3, 6, 2), 4
    X, Y = compare_cuda.make_data(sizes, 10)
    runner = compare_cuda.Fastmlp(sizes, batch, X, Y)
    before = runner.net.params.copy()
    runner.run(1)
    assert runner.net.device == "cuda" and runner.path() == "fused"
    assert not np.array_equal(runner.net.params, before)
    row = next(
        compare_cuda.rows(
            [(sizes, batch)], repeats=1, min_seconds=0.0, with_torch=False, samples=10
        )
    )
    assert row["torch"] is None and row["fastmlp"] > 0
    line = compare_cuda.format_row(row)
    assert "3-6-2" in line and "not measured" in line
