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

# Everything above, as one string for the cache key.
SETTINGS_KEY = f"fastmath={sorted(FASTMATH) if FASTMATH else False};ftz={FLUSH_DENORMALS}"
