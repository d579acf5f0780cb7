"""Matrix products through SciPy's BLAS, called directly from the kernels.

``np.dot`` in nopython code works, but Numba compiles its general implementation (layout
checks, copies of non-contiguous operands, dtype dispatch) into every kernel that uses it:
about 0.5 s of a cold first fit. The kernels only ever multiply C-contiguous matrices, so
they call ``?gemm`` themselves: SciPy's Cython BLAS exports its function pointers, which
are registered with LLVM under fixed names (as Numba does for its own C helpers), so the
compiled kernels stay cacheable across processes.

``gemm`` follows the Fortran (column-major) interface; the row-major products the kernels
need are written in terms of it in ``dense.py``.
"""

import ctypes

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array
from scipy.linalg import cython_blas

SYMBOLS = {types.float32: "fastmlp_sgemm", types.float64: "fastmlp_dgemm"}


def _capsule_address(capsule):
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return get_pointer(capsule, get_name(capsule))


for _name, _symbol in (("sgemm", SYMBOLS[types.float32]), ("dgemm", SYMBOLS[types.float64])):
    binding.add_symbol(_symbol, _capsule_address(cython_blas.__pyx_capi__[_name]))


@intrinsic
def gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc):
    """``c <- op(a) @ op(b)`` in BLAS's column-major terms (alpha 1, beta 0); ``op`` is a
    transpose where ``trans_*`` is true. All sizes positive, leading dimensions >= 1."""
    if not (a.dtype == b.dtype == c.dtype and a.dtype in SYMBOLS):
        return None

    def codegen(context, builder, signature, args):
        dtype = signature.args[5].dtype
        real = context.get_value_type(dtype)
        i8, i32 = ir.IntType(8), ir.IntType(32)
        pointers = [i8, i8, i32, i32, i32, real, real, i32, real, i32, real, real, i32]
        fn = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [t.as_pointer() for t in pointers]),
            SYMBOLS[dtype],
        )

        def by_ref(value, ty):
            slot = cgutils.alloca_once(builder, ty)
            builder.store(value, slot)
            return slot

        def flag(i):
            set_ = context.cast(builder, args[i], signature.args[i], types.boolean)
            return by_ref(builder.select(set_, i8(ord("T")), i8(ord("N"))), i8)

        def size(i):
            return by_ref(context.cast(builder, args[i], signature.args[i], types.int32), i32)

        def data(i):
            return make_array(signature.args[i])(context, builder, args[i]).data

        one, zero = by_ref(real(1.0), real), by_ref(real(0.0), real)
        builder.call(
            fn,
            [
                flag(0),
                flag(1),
                size(2),
                size(3),
                size(4),
                one,
                data(5),
                size(6),
                data(7),
                size(8),
                zero,
                data(9),
                size(10),
            ],
        )
        return context.get_dummy_value()

    return types.none(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc), codegen
