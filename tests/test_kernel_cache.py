"""The kernels' on-disk cache cannot serve code compiled from other sources or settings.

Each test copies ``kernels/`` (self-contained: relative imports only) into a temporary
directory as a package of another name and runs it in fresh processes, so the copy's cache
and edits never touch the installed package.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastmlp.kernels
from fastmlp.kernels.cpu import products

KERNELS = Path(fastmlp.kernels.__file__).resolve().parent

# Runs the copy's fused dense forward with a tanh activation on a fixed input (float64, or
# KCOPY_DTYPE) and prints the output, how often the dispatcher loaded from the on-disk
# cache, where it caches and which micro-kernel C functions the process registered.
PROGRAM = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    import kcopy.cache
    if len(sys.argv) > 2:  # cache roots to try, in order
        kcopy.cache._cache_roots = lambda: iter(Path(p) for p in sys.argv[2:])
    import numpy as np
    from kcopy import codes
    from kcopy.cpu import dense, products
    dtype = os.environ.get("KCOPY_DTYPE", "float64")
    A = np.full((2, 3), 0.5, dtype)
    W = np.full((3, 2), 0.25, dtype)
    out = np.empty((2, 2), dtype)
    products.prepare_products(np.dtype(dtype), int(os.environ.get("KCOPY_ROWS", "2")), [3, 2])
    dense.dense_forward(A, W, np.zeros(2, dtype), out, codes.TANH, 0.0)
    cache = dense.dense_forward._cache
    print(json.dumps({
        "out": float(out[0, 0]),
        "hits": int(dense.dense_forward.stats.cache_hits.total()),
        "path": getattr(cache, "_cache_path", None),
        "c_functions": sorted(products._c_functions),
    }))
    """
)


@pytest.fixture
def copy(tmp_path):
    root = tmp_path / "pkg"
    shutil.copytree(KERNELS, root / "kcopy", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def run(root, *cache_roots, env=None):
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(root), *map(str, cache_roots)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_an_edited_helper_invalidates_every_cached_kernel(copy):
    first, _ = run(copy)
    again, _ = run(copy)
    assert again["hits"] > 0 and again["out"] == first["out"]  # served from the cache
    scalar = copy / "kcopy" / "scalar.py"
    source = scalar.read_text()
    assert "return math.tanh(z)" in source
    # The helper lives in scalar.py, the cached kernel in cpu/dense.py: Numba alone would
    # keep serving dense_forward's machine code with the old tanh.
    scalar.write_text(source.replace("return math.tanh(z)", "return 2.0 * math.tanh(z)"))
    edited, _ = run(copy)
    assert edited["hits"] == 0
    assert edited["out"] == pytest.approx(2.0 * first["out"], rel=1e-12)
    assert edited["path"] != first["path"]


def test_micro_kernels_are_compiled_for_float32_only_and_found_by_cached_callers(copy):
    # Under the "many" profile a 2-row float32 product runs products.py's micro-kernel,
    # which the cached dense forward calls through the C function table: loading the
    # kernel in a fresh process links without it, the backend's prepare_products loads it.
    # float64 never calls one, so it compiles none.
    as_float64, _ = run(copy, env={"FASTMLP_MICRO_KERNELS": "many"})
    assert as_float64["c_functions"] == []
    float32 = {"KCOPY_DTYPE": "float32", "FASTMLP_MICRO_KERNELS": "many"}
    first, _ = run(copy, env=float32)
    again, _ = run(copy, env=float32)
    assert again["hits"] > 0 and again["out"] == first["out"]
    assert again["c_functions"] == sorted(products.LAYER_C_FUNCTIONS)
    assert first["out"] == pytest.approx(math.tanh(3 * 0.5 * 0.25), rel=1e-6)
    # "few" picks no micro-kernel for two rows of a small layer: nothing to compile. For
    # one row it loads the same set.
    few = {**float32, "FASTMLP_MICRO_KERNELS": "few"}
    two_rows, _ = run(copy, env=few)
    assert two_rows["c_functions"] == [] and two_rows["out"] == first["out"]
    one_row, _ = run(copy, env={**few, "KCOPY_ROWS": "1"})
    assert one_row["c_functions"] == sorted(products.LAYER_C_FUNCTIONS)
    assert one_row["out"] == first["out"]


def test_a_changed_setting_compiles_anew(copy):
    first, _ = run(copy)
    other, _ = run(copy, env={"FASTMLP_FASTMATH": "0"})
    assert other["hits"] == 0 and other["path"] != first["path"]
    assert other["out"] == pytest.approx(first["out"], rel=1e-12)


def test_falls_back_to_the_next_writable_location(copy, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # nothing can be created below a regular file, even as root
    writable = tmp_path / "user-cache"
    result, _ = run(copy, blocked / "sub", writable)
    assert Path(result["path"]).is_relative_to(writable)
    assert list(writable.rglob("*.nbi"))


def test_runs_silently_without_a_writable_location(copy, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result, stderr = run(copy, blocked / "sub")
    assert result["path"] is None and result["hits"] == 0
    assert result["out"] == pytest.approx(math.tanh(3 * 0.5 * 0.25), rel=1e-12)
    assert stderr == ""


def test_bad_setting_is_refused_with_its_name(copy):
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(copy)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FASTMLP_FLUSH_DENORMALS": "yes"},
    )
    assert result.returncode != 0
    assert "FASTMLP_FLUSH_DENORMALS must be 0 or 1" in result.stderr


def test_numba_cache_dir_comes_first(copy, tmp_path):
    # As in Numba: NUMBA_CACHE_DIR redirects the cache (how a cold start is measured).
    chosen = tmp_path / "numba-cache"
    result, _ = run(copy, env={"NUMBA_CACHE_DIR": str(chosen)})
    assert Path(result["path"]).is_relative_to(chosen)
