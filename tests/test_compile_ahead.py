"""A cold first fit compiles the micro-kernels in a second process (kernels/cpu/ahead.py):
the same numbers as compiling everything in one, the kernel compiled once, and the same
result where the child fails.

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
    from fastmlp.kernels.cpu import ahead, optimizers, products, train
    if sys.argv[1] == "broken-child":
        ahead.CHILD_CODE = "raise SystemExit(3)"
    rng = np.random.RandomState(0)
    X = rng.standard_normal((64, 5)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.randint(0, 3, 64)]
    net = fastmlp.Network(
        [5, 7, 3], output_activation="softmax", loss="log_loss", dtype="float32",
        random_state=0,
    )
    net.fit(X, Y, batch_size=8, max_iter=2, random_state=0)
    print(json.dumps({
        "params": net.params.tolist(),
        "kernel_overloads": len(train.train_epoch.overloads),
        "c_functions_from_cache": sorted(
            name for name, f in products._c_functions.items() if f.cache_hits
        ),
        "update_from_cache": bool(optimizers.update_params.stats.cache_hits),
    }))
    """
)


def cold_fit(cache_root, mode, **env):
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "NUMBA_CACHE_DIR": str(cache_root / mode),
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
    assert alone["c_functions_from_cache"] == []
    # The optimizer update it compiled first was the one the epoch kernel called.
    assert beside["update_from_cache"] and not alone["update_from_cache"]
    # The kernel compiled ahead of its call is the one the call ran (not compiled twice).
    assert beside["kernel_overloads"] == alone["kernel_overloads"] == 1
    assert beside["params"] == alone["params"]


def test_a_failing_child_changes_nothing_but_the_wait(tmp_path, alone):
    broken = cold_fit(tmp_path, "broken-child")
    assert broken["c_functions_from_cache"] == []  # compiled here after all
    assert broken["kernel_overloads"] == 1
    assert broken["params"] == alone["params"]


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
    assert ahead._start_child() is None
