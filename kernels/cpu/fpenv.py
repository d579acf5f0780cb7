"""Flush-to-zero inside the kernels: denormal floats are ~100x slower on x86.

Training drives Adam's moment estimates, near-saturated softmax outputs and their deltas
into the denormal range (below 1.2e-38 in float32), where every x86 arithmetic operation
takes a microcode slow path: a 20-64-64-2 step at batch 16 measured 36 us with denormals
and 12 us with them flushed. The entry kernels therefore set the FTZ and DAZ bits of MXCSR
on entry and restore the caller's MXCSR before returning, so NumPy and user code never
run with them. Flushing changes only values below the smallest normal float (1.2e-38 in
float32, 2.2e-308 in float64): far below anything a gradient step can resolve.

``FASTMLP_FLUSH_DENORMALS=0`` in the environment (config.py) turns this off; on other
architectures it is a no-op.
"""

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..config import FLUSH_DENORMALS
from .jit import inline

FTZ_DAZ = 0x8040  # MXCSR bits: flush-to-zero (15) and denormals-are-zero (6)
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "i386")


def _mxcsr_call(builder, name, slot):
    i8p = ir.PointerType(ir.IntType(8))
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p]), name)
    builder.call(fn, [builder.bitcast(slot, i8p)])


@intrinsic
def _read_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(args[0], slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.none(types.uint32), codegen


if X86 and FLUSH_DENORMALS:

    @inline
    def flush_denormals():
        """Turn on FTZ/DAZ; return the previous MXCSR for :func:`restore_fpenv`."""
        saved = _read_mxcsr()
        _write_mxcsr(saved | FTZ_DAZ)
        return saved

    @inline
    def restore_fpenv(saved):
        _write_mxcsr(saved)

else:

    @inline
    def flush_denormals():
        return 0

    @inline
    def restore_fpenv(saved):
        pass
