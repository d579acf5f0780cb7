"""Start-up costs, each in a fresh Python process (``timeraw_``): importing fastmlp, and the
first fit of a new network, which compiles the kernels (cold) or loads them from Numba's
on-disk cache (warm).

Kernels are compiled with ``cache=True``; by default Numba caches them next to the source,
under ``kernels/__pycache__``. The cold case points ``NUMBA_CACHE_DIR`` at a new empty
directory (set in the child before Numba is imported, outside the timed statement), so
every sample compiles from scratch; the warm case uses the default cache, filled by
``setup`` (which runs the same fit once in a child process of its own).
"""

import subprocess
import sys
import textwrap

# Imports and data, run in the child before the timed statement.
_FIT_SETUP = """
import numpy as np
import fastmlp
rng = np.random.RandomState(0)
X = rng.standard_normal((512, 20)).astype("{dtype}")
Y = np.eye(3, dtype="{dtype}")[rng.randint(0, 3, 512)]
"""
_COLD_CACHE = """
import atexit, os, shutil, tempfile
_cache = tempfile.mkdtemp(prefix="fastmlp-cold-numba-cache-")
os.environ["NUMBA_CACHE_DIR"] = _cache
atexit.register(shutil.rmtree, _cache, True)
"""
# The timed statement: a new network's first (one-epoch) fit.
_FIT = """
net = fastmlp.Network([20, 64, 64, 3], output_activation="softmax", loss="log_loss",
                      dtype="{dtype}", random_state=0)
net.fit(X, Y, batch_size=32, max_iter=1, random_state=0)
"""


class Import:
    """``import fastmlp`` (numba, numpy, scipy, scikit-learn and the kernels' modules)."""

    number = 1
    repeat = (3, 10, 20.0)

    def timeraw_import_fastmlp(self):
        return "import fastmlp"

    def timeraw_import_numba(self):
        """For reference: the part of the above that is Numba's own import."""
        return "import numba"


class FirstFit:
    """First ``Network.fit`` (one epoch of 512 samples) of a new process: compile or load."""

    params = (["cold", "warm"], ["float32", "float64"])
    param_names = ["numba_cache", "dtype"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 600

    def setup(self, cache, dtype):
        if cache == "warm":
            code = textwrap.dedent(_FIT_SETUP + _FIT).format(dtype=dtype)
            subprocess.run([sys.executable, "-c", code], check=True)

    def timeraw_first_fit(self, cache, dtype):
        setup = (_COLD_CACHE if cache == "cold" else "") + _FIT_SETUP
        return textwrap.dedent(_FIT).format(dtype=dtype), textwrap.dedent(setup).format(dtype=dtype)
