"""fastmlp's compiled layer, installed as ``fastmlp.kernels``.

Never import this directory as a top-level ``kernels`` (a different PyPI package owns that
name): relative imports inside, ``fastmlp.kernels`` everywhere else.

``layout`` and ``codes`` hold the target-neutral facts (no Numba); ``cpu`` the CPU kernels.
Which target runs is decided in ``fastmlp.backend``, the one module that imports them.
"""

from . import codes, config, layout

__all__ = ["codes", "config", "layout"]
