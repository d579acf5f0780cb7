"""A cold kernel compiled in two processes: part of its callees, and the micro-kernels'
C functions, in a child beside it.

Numba compiles under one lock per process, so a cold first fit compiles its epoch kernel
with the layer kernels it calls (~7 s on the Zen 3 of issue 12) and, for float32, the C
functions of products.py (~4 s) one after the other, on one core. Where the kernel is
missing from the disk cache (and the C functions it may pick too), a child process
compiles the callees the kernel's compilation reaches last, then the C functions, into
the cache while this process compiles the kernel, without running it; this process finds
those callees in the cache when its compilation reaches them, and loads the C functions
from it afterwards (milliseconds). The kernel runs only once the C functions are loaded,
so no number depends on which process finished first.

Nothing depends on the child: where it cannot start, fails, is late, or leaves no usable
entry (a read-only cache, other settings), this process compiles what is missing itself,
as it would without it. ``FASTMLP_COMPILE_AHEAD=0`` in the environment turns it off.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from numba import typeof, types
from numba.core.typing.typeof import Purpose

from ..cache import is_cached, writes_to_disk

SWITCH = "FASTMLP_COMPILE_AHEAD"
# A child still compiling after this long is stopped (a cold compilation takes seconds).
WAIT_SECONDS = 300


def _child_code():
    """What the child runs: child(), from this very kernels directory, imported under an
    empty stand-in for the package above it, whose ``__init__`` would import scikit-learn
    (1.8 of the 2.4 s an ``import fastmlp`` took on the Zen 3 of issue 12; the kernels
    need 0.7 s). The kernels import nothing from outside their directory."""
    kernels_name = __package__.rpartition(".")[0]  # fastmlp.kernels
    kernels_dir = Path(__file__).resolve().parents[1]
    return textwrap.dedent(
        f"""
        import importlib.util, sys, types
        top = types.ModuleType({kernels_name.partition(".")[0]!r})
        top.__path__ = []
        sys.modules[top.__name__] = top
        spec = importlib.util.spec_from_file_location(
            {kernels_name!r}, {str(kernels_dir / "__init__.py")!r},
            submodule_search_locations=[{str(kernels_dir)!r}],
        )
        kernels = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = kernels
        spec.loader.exec_module(kernels)
        from {__package__}.ahead import child
        child(*sys.argv[1:])
        """
    )


CHILD_CODE = _child_code()


def child(dtype_name, *work):
    """The child's work for a cold first call of a ``dtype_name`` kernel: the callees that
    kernel's compilation reaches last (:func:`callees`), then, with ``"c-functions"`` in
    ``work``, the C functions. This process's compilation reaches the weight gradients
    ~3 s in (the Zen 3 of issue 12); the child has the callees in the cache ~2 s after
    it started, and this process loads them instead of compiling them (where the child
    is late, this process compiles them itself)."""
    from .products import ensure_c_functions

    for dispatcher, signature in callees(dtype_name, "update" in work):
        dispatcher.compile(signature)
    if "c-functions" in work:
        ensure_c_functions()


def callees(dtype_name, update):
    """``(dispatcher, argument types)`` of the layer kernels the child compiles, as the
    epoch kernel and the batch loss-and-gradient call them for ``dtype_name``: the weight
    gradients, the delta backpropagation and (``update``: the epoch kernel) the optimizer
    update. A test checks that a cold fit loads each."""
    from .dense import delta_backward, dense_grads
    from .optimizers import update_params

    dtype = getattr(types, dtype_name)
    M, V = types.Array(dtype, 2, "C"), types.Array(dtype, 1, "C")
    hp, i, f = types.Array(types.float64, 1, "C"), types.int64, types.float64
    work = [(dense_grads, (M, M, M, M, V, f)), (delta_backward, (M, M, M, M, i, f, M))]
    return work + ([(update_params, (i, V, V, V, V, i, hp, i))] if update else [])


def enabled():
    return os.environ.get(SWITCH, "1").strip() != "0"


def worth_a_child(kernel, c_functions):
    """Whether ``kernel`` (a dispatcher) and every one of ``c_functions`` (uncompiled
    C functions) would be compiled here, none loaded: only then does a second process
    shorten the wait. The child's work must land in a cache this process reads."""
    return (
        enabled()
        and writes_to_disk(kernel)
        and not kernel.overloads
        and not is_cached(kernel)
        and all(writes_to_disk(c) and not is_cached(c) for c in c_functions)
    )


def compile_beside(kernel, args, dtype, c_functions):
    """Compile ``kernel`` for ``args`` here while a child process compiles some of its
    callees and, with ``c_functions``, the C functions into the disk cache; return once
    the child has finished (or failed). The caller then loads the C functions, from the
    cache where the child left them."""
    from .train import train_epoch

    work = ["update"] if kernel is train_epoch else []
    child = _start_child([np.dtype(dtype).name] + work + (["c-functions"] if c_functions else []))
    if child is None:
        return
    try:
        kernel.compile(tuple(typeof(a, Purpose.argument) for a in args))
    except BaseException:
        _stop(child)
        raise
    try:
        child.wait(WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        _stop(child)


def _start_child(argv):
    env = {**os.environ, SWITCH: "0"}
    try:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD_CODE, *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, ValueError):  # no interpreter to start (embedded, frozen), no fork
        return None


def _stop(child):
    child.kill()
    child.wait()
