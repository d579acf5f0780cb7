"""The micro-kernels' C functions compiled in a second process, beside their caller.

Numba compiles under one lock per process, so a cold first fit compiles its epoch kernel
(with the layer kernels it calls: ~4.5 s on the Zen 5 of issue 12) and the three C
functions of products.py (~2.0 s) one after the other, on one core. Where all of them are
missing from the disk cache, a child process compiles the C functions into the cache while
this process compiles the kernel, without running it; this process then loads the C
functions from the cache (milliseconds). The child compiles the kernel's optimizer update
first, which this process finds in the cache by the time its compilation reaches it. The
kernel runs only once the C functions are loaded, so no number depends on which process
finished first.

Nothing depends on the child: where it cannot start, fails, or leaves no usable entry (a
read-only cache, other settings), this process compiles what is missing itself, as it
would without it. ``FASTMLP_COMPILE_AHEAD=0`` in the environment turns the child off.
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

from numba import typeof, types
from numba.core.typing.typeof import Purpose

from ..cache import is_cached, writes_to_disk

SWITCH = "FASTMLP_COMPILE_AHEAD"
# A child still compiling after this long is stopped (a cold compilation takes seconds).
WAIT_SECONDS = 300
# What the child runs (this package, however it was imported): child().
CHILD_CODE = f"from {__package__}.ahead import child; child()"


def child():
    """The child's work: the float32 optimizer update first, then the C functions. The
    update is the epoch kernel's last callee: this process's compilation reaches it after
    ~3 s, the child has it in the cache after ~2 s, and this process then loads it
    instead of compiling it (~0.45 s; where the child is late, it compiles it itself)."""
    from .optimizers import update_params
    from .products import ensure_c_functions

    update_params.compile(FLOAT32_UPDATE)
    ensure_c_functions()


def _float32_update():
    """update_params's argument types as the float32 epoch kernel calls it (a test checks
    that a cold fit loads the child's entry)."""
    vector, hp = types.Array(types.float32, 1, "C"), types.Array(types.float64, 1, "C")
    return (types.int64, vector, vector, vector, vector, types.int64, hp, types.int64)


FLOAT32_UPDATE = _float32_update()


def enabled():
    return os.environ.get(SWITCH, "1").strip() != "0"


def worth_a_child(kernel, c_functions):
    """Whether ``kernel`` (a dispatcher) and every one of ``c_functions`` (uncompiled
    C functions) would be compiled here, none loaded: only then does a second process
    shorten the wait. The child's work must land in a cache this process reads."""
    return (
        enabled()
        and not kernel.overloads
        and not is_cached(kernel)
        and all(writes_to_disk(c) and not is_cached(c) for c in c_functions)
    )


def compile_beside(kernel, args):
    """Compile ``kernel`` for ``args`` here while a child process compiles the C functions
    into the disk cache; return once the child has finished (or failed). The caller then
    loads the C functions, from the cache where the child left them."""
    child = _start_child()
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


def _start_child():
    env = dict(os.environ)
    env[SWITCH] = "0"
    # The child imports the package from where this process found it (last: this process's
    # own path may hold a script's directory, whose modules must not shadow others).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), _package_root()) if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD_CODE],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, ValueError):  # no interpreter to start (embedded, frozen), no fork
        return None


def _package_root():
    """The directory this package's top-level package was imported from."""
    top = importlib.import_module(__package__.partition(".")[0])
    return str(Path(top.__file__).resolve().parents[1])


def _stop(child):
    child.kill()
    child.wait()
