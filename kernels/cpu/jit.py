"""The two ways a CPU kernel is compiled.

Every kernel releases the GIL (``nogil``): fits and predictions in different threads run
in parallel (a threaded model search, a web server predicting). Kernels share no state:
each call brings its own workspaces.

``kernel``: compiled on its own and cached on disk (cache.py). error_model="numpy" makes
x / 0 give inf or nan instead of raising ZeroDivisionError: without it the zero check
blocks SIMD vectorisation of every loop that divides (Adam's update ran 4x slower), and
NaN/inf are caught after the epoch.

``inline``: small helpers, and the batch loss-and-gradient, are inlined into their callers
at the Numba IR level, where calls with constant arguments then specialise (a 10-32-1
forward: 530 ns -> 220 ns) and nothing is compiled twice. The layer functions (dense.py,
losses.py, optimizers.py) stay separately compiled kernels: inlining them costs more
compilation than it saves (the fused forward alone: cold first fit 5.95 -> 6.62 s), with no
measurable gain at run time.

``c_function``: a C function, for hot loops that several kernels call (products.py's
micro-kernels).

Numba gives every function it compiles a Python entry (it unboxes the arguments) and a C
entry (for use as a first-class function), each lowered, optimised and turned into machine
code. Nothing here calls a kernel through its C entry (``no_cfunc_wrapper``), and the
implementations of overloads (``INTERNAL``) are called by compiled code only: without
those entries a cold float32 fit compiles 7 % less IR, and took 7.3 s against 8.3
(medians of 12 alternating fits on the Zen 3 of issue 12).

Nor do the kernels count references (Numba's ``_nrt`` option off), except the two that
allocate an array or return one (``refcounted_kernel``; Numba refuses to compile either
without counting). Every array a kernel touches belongs to its caller for the whole call,
so each count is raised and dropped again for nothing, but each is an atomic operation
(~5 ns on the Xeon of issue 12) and the pruning of pairs leaves dozens in the step's
loop: a 20-64-64-2 step at batch 16 took 8.5 us with them, 7.4 without (docs/benchmarks.md).
"""

from numba import njit
from numba.core import sigutils
from numba.core.ccallback import CFunc

from ..cache import enable_cache
from ..config import FASTMATH

OPTIONS = {
    "fastmath": FASTMATH,
    "error_model": "numpy",
    "nogil": True,
    "no_cfunc_wrapper": True,
    "_nrt": False,
}
INTERNAL = {**OPTIONS, "no_cpython_wrapper": True}
REFCOUNTED = {**OPTIONS, "_nrt": True}


def kernel(fn, fastmath=FASTMATH, options=OPTIONS):
    return enable_cache(njit(**{**options, "fastmath": fastmath})(fn))


def refcounted_kernel(fn):
    """``kernel`` with Numba's reference counting, for the kernels that allocate an array
    or return one (see the module's docstring)."""
    return kernel(fn, options=REFCOUNTED)


def divisions_by_estimate(fn):
    """``kernel``, and float32 SIMD divisions by the CPU's reciprocal estimate refined by a
    Newton step (within ~2 ulp; float64 keeps exact division): the divider bounded Adam's
    update, one division and one square root an element (20-64-64-2: 2.37 -> 1.78 us).
    LLVM needs ``ninf`` for it: an infinite divisor may then give NaN instead of 0, where
    only a diverging fit has one (and its checks see the NaN as they see the infinity)."""
    return kernel(fn, FASTMATH | {"ninf"} if FASTMATH else False)


def inline(fn):
    # Inlined code is compiled with its caller's options; these apply where a test calls
    # a helper from Python, and some return arrays.
    return njit(**REFCOUNTED, inline="always")(fn)


def c_function(fn, signature):
    """``fn`` compiled as a C function (or loaded from the disk cache). Kernels call it by
    its address (products.py's table), as they call BLAS (blas.py), instead of linking in
    its code and optimising it again, as each does with a kernel it calls (~3 s of a cold
    first fit when the micro-kernels of products.py were kernels)."""
    compiled = uncompiled_c_function(fn, signature)
    compiled.compile()
    return compiled


def uncompiled_c_function(fn, signature):
    """:func:`c_function` before it compiles (or loads): to ask the cache about it."""
    options = {key: OPTIONS[key] for key in ("fastmath", "error_model")}
    compiled = CFunc(fn, sigutils.normalize_signature(signature), locals={}, options=options)
    return enable_cache(compiled)
