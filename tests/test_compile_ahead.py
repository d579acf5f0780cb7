"""A cold first fit compiles part of its kernel's callees and the micro-kernels in a second
process (kernels/cpu/ahead.py): the same numbers as compiling everything in one, the kernel
compiled once, the child's entries the ones the kernel calls, and the same result where
the child fails.

Each run is a fresh process with an empty kernel cache, under the "many" profile (where a
float32 fit always loads the micro-kernels).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp
from fastmlp.kernels.cpu import ahead, products, train

PROGRAM = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import fastmlp
    from fastmlp.kernels.cpu import ahead, products, train
    mode, dtype = sys.argv[1:]
    if mode == "broken-child":
        ahead.CHILD_CODE = "raise SystemExit(3)"
    started, start = [], ahead._start_child
    ahead._start_child = lambda argv: started.append(argv) or start(argv)
    rng = np.random.RandomState(0)
    X = rng.standard_normal((64, 5)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.randint(0, 3, 64)]
    net = fastmlp.Network(
        [5, 7, 3], output_activation="softmax", loss="log_loss", dtype=dtype,
        random_state=0,
    )
    net.fit(X, Y, batch_size=8, max_iter=2, random_state=0)
    print(json.dumps({
        "params": net.params.tolist(),
        "kernel_overloads": len(train.train_epoch.overloads),
        "c_functions_from_cache": sorted(
            name for name, f in products._c_functions.items() if f.cache_hits
        ),
        "child_argv": started,
        "callees_from_cache": sorted(
            f.py_func.__name__ for f, _ in ahead.callees(dtype, True) if f.stats.cache_hits
        ),
    }))
    """
)


def cold_fit(cache_root, mode, dtype="float32", **env):
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode, dtype],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "NUMBA_CACHE_DIR": str(cache_root / "cache"),
            "FASTMLP_MICRO_KERNELS": "many",
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """The same cold fit, everything compiled in its own process."""
    return cold_fit(tmp_path_factory.mktemp("cache"), "alone", FASTMLP_COMPILE_AHEAD="0")


def test_the_child_compiles_the_micro_kernels_and_changes_no_number(tmp_path, alone):
    beside = cold_fit(tmp_path, "beside")
    # The child's work was used: every C function came from the cache it filled.
    assert beside["c_functions_from_cache"] == sorted(products.LAYER_C_FUNCTIONS)
    assert alone["c_functions_from_cache"] == alone["callees_from_cache"] == []
    assert beside["child_argv"] == [["float32", "update", "c-functions"]]
    assert alone["child_argv"] == []
    # The kernel compiled ahead of its call is the one the call ran (not compiled twice).
    assert beside["kernel_overloads"] == alone["kernel_overloads"] == 1
    assert beside["params"] == alone["params"]


def test_a_failing_child_changes_nothing_but_the_wait(tmp_path, alone):
    broken = cold_fit(tmp_path, "broken-child")
    assert broken["c_functions_from_cache"] == []  # compiled here after all
    assert broken["kernel_overloads"] == 1
    assert broken["params"] == alone["params"]


def test_a_float64_fit_has_a_child_for_the_callees(tmp_path):
    beside = cold_fit(tmp_path / "beside", "beside", "float64")
    alone = cold_fit(tmp_path / "alone", "alone", "float64", FASTMLP_COMPILE_AHEAD="0")
    assert beside["child_argv"] == [["float64", "update"]]  # no C functions to compile
    assert beside["kernel_overloads"] == alone["kernel_overloads"] == 1
    assert beside["params"] == alone["params"]


CALLEE_NAMES = sorted(f.py_func.__name__ for f, _ in ahead.callees("float32", True))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_childs_entries_are_the_ones_the_kernel_calls(tmp_path, dtype):
    # The child types the callees by hand (ahead.callees): a fit after it, compiling in
    # one process, must load every one of them, and the C functions, from its cache.
    work = [dtype, "update"] + (["c-functions"] if dtype == "float32" else [])
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "FASTMLP_MICRO_KERNELS": "many"}
    child = [sys.executable, "-c", ahead.CHILD_CODE, *work]
    subprocess.run(child, env={**os.environ, **env}, check=True, timeout=600)
    after = cold_fit(tmp_path, "after-child", dtype, FASTMLP_COMPILE_AHEAD="0")
    assert after["callees_from_cache"] == CALLEE_NAMES
    expected_c = sorted(products.LAYER_C_FUNCTIONS) if dtype == "float32" else []
    assert after["c_functions_from_cache"] == expected_c


def test_no_child_where_it_cannot_help(monkeypatch):
    X = np.zeros((4, 2), np.float32)
    fastmlp.Network([2, 2], dtype="float32").fit(X, X, max_iter=1)
    compiled = train.train_epoch
    assert compiled.overloads
    assert not ahead.worth_a_child(compiled, [])
    monkeypatch.setenv(ahead.SWITCH, "0")
    assert not ahead.enabled()
    monkeypatch.setenv(ahead.SWITCH, "1")
    assert ahead.enabled()


def test_no_interpreter_to_start_means_no_child(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert ahead._start_child(["float32"]) is None


def _linked_modules(kernel):
    """The LLVM module of each compiled overload of ``kernel`` (Numba's, with the code of
    the kernels it calls linked in)."""
    assert kernel.overloads, kernel
    return [c.library._get_module_for_linking() for c in kernel.overloads.values()]


def test_kernels_carry_only_the_entries_something_calls():
    """A kernel is compiled with its Python entry (fits and tests call it from Python) and
    without Numba's C entry, which nothing calls and a cold fit would compile (jit.py)."""
    from numba import types

    from fastmlp.kernels.cpu import dense

    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    fastmlp.Network([3, 4, 1], random_state=0).fit(X, y, max_iter=1, random_state=0)
    # An epoch kernel loaded from the disk cache leaves its callees' dispatchers empty:
    # compile (or load) them for the float64 fit's argument types.
    M, V = types.Array(types.float64, 2, "C"), types.Array(types.float64, 1, "C")
    dense.dense_forward.compile((M, M, V, M, types.int64, types.float64))
    callees = ahead.callees("float64", True)
    for dispatcher, signature in callees:
        dispatcher.compile(signature)
    for kernel in (train.train_epoch, dense.dense_forward, *(d for d, _ in callees)):
        for module in _linked_modules(kernel):
            defined = [f.name for f in module.functions if not f.is_declaration]
            assert not [name for name in defined if name.startswith("cfunc.")], kernel
            assert [name for name in defined if name.startswith("_ZN7cpython")], kernel


def _linked_ir(kernel):
    return [str(module) for module in _linked_modules(kernel)]


def test_kernels_count_no_references_unless_they_own_arrays():
    """The training kernels run without Numba's reference counting (each count is an
    atomic operation in the step's loop: jit.py); ``forward``, which returns a view of
    its workspace, keeps it, so the view holds the workspace's memory after the call."""
    from fastmlp import backend
    from fastmlp.kernels.cpu import network

    rng = np.random.RandomState(0)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    net = fastmlp.Network([3, 4, 2], random_state=0)
    net.fit(X, Y, max_iter=1, random_state=0)
    # The epoch kernel's module holds the code of every layer kernel it calls.
    for ir in _linked_ir(train.train_epoch):
        assert "update_params" in ir and "dense_forward" in ir and "output_loss_and_delta" in ir
        assert "@NRT_incref(" not in ir and "@NRT_decref(" not in ir

    expected = net.forward(X)
    out = network.forward(backend.model(net, training=False), X, backend.workspace(net, X.shape[0]))
    assert any("call void @NRT_incref(" in ir for ir in _linked_ir(network.forward))
    for _ in range(3):  # memory a freed workspace left would be reused and overwritten
        np.full(10_000, np.nan)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
