"""Compilation settings shared by every kernel, read once from the environment.

Each setting is read here, when ``fastmlp.kernels`` is first imported and before any kernel
is decorated, so it must be set in the environment before that import; changing these
attributes afterwards changes nothing that is already compiled. The settings are part of
the on-disk cache key (cache.py): a process with other settings compiles its own kernels
instead of loading ones compiled with these.

``FASTMLP_FASTMATH`` (default 1)
    1: allow reassociation and contraction (faster reductions and FMA); 0: strict IEEE.
    Never ``nnan``/``ninf``: NaN and inf must still propagate so that divergence is
    detected instead of silently producing garbage.
``FASTMLP_FLUSH_DENORMALS`` (default 1)
    1: the entry kernels flush denormal floats to zero while they run (cpu/fpenv.py).
``FASTMLP_MICRO_KERNELS`` (default auto)
    Where float32 products run fastmlp's micro-kernels instead of BLAS (cpu/products.py):
    ``many`` (up to 32 rows, where BLAS's small products are slow), ``few`` (one-row
    products, and few-row products of big layers), or ``auto``: ``many`` when SciPy's
    OpenBLAS runs AVX2-or-older kernels, ``few`` when it runs AVX-512 kernels or BLAS is
    not OpenBLAS.
"""

import os


def _flag(name, default):
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    if value not in ("0", "1"):
        raise ValueError(f"{name} must be 0 or 1, got {value!r}.")
    return value == "1"


FASTMATH = {"nsz", "arcp", "contract", "reassoc"} if _flag("FASTMLP_FASTMATH", True) else False
FLUSH_DENORMALS = _flag("FASTMLP_FLUSH_DENORMALS", True)

# OpenBLAS's names for its AVX-512 kernel sets: with them its few-row products run near the
# core's peak (20-64-64-2's products on a Zen 4: 1.2 us for 16x64x64, against 2.3 us for
# the micro-kernel), while with its AVX2 (Haswell) kernels the micro-kernels won up to 32
# rows (2.6 against 1.1 us on an AVX-512 Xeon whose CPU this OpenBLAS did not know).
AVX512_CORES = {"SkylakeX", "Cooperlake", "SapphireRapids"}


def _micro_kernels():
    value = os.environ.get("FASTMLP_MICRO_KERNELS", "").strip() or "auto"
    if value not in ("auto", "many", "few"):
        raise ValueError(f"FASTMLP_MICRO_KERNELS must be auto, many or few, got {value!r}.")
    if value != "auto":
        return value
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, which threadpoolctl then finds)
    from threadpoolctl import threadpool_info

    cores = {
        lib.get("architecture") for lib in threadpool_info() if lib["internal_api"] == "openblas"
    }
    return "many" if cores and not cores & AVX512_CORES else "few"


MICRO_KERNELS = _micro_kernels()


def _wide_simd():
    """Whether Numba compiles for AVX-512 (its CPU_FEATURES setting, else the host's)."""
    import numba
    from llvmlite import binding

    if numba.config.CPU_FEATURES is not None:
        return "+avx512f" in numba.config.CPU_FEATURES.split(",")
    return bool(binding.get_host_cpu_features().get("avx512f", False))


# Under "many", whether the micro-kernels' SIMD vectors (the CPU's widest) are twice BLAS's
# AVX2 ones: then they win far beyond a few rows (cpu/products.py).
WIDE_SIMD = _wide_simd()

# Everything above, as one string for the cache key.
SETTINGS_KEY = (
    f"fastmath={sorted(FASTMATH) if FASTMATH else False};ftz={FLUSH_DENORMALS};"
    f"micro={MICRO_KERNELS};wide_simd={WIDE_SIMD}"
)
