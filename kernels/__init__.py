"""fastmlp's compiled layer, installed as ``fastmlp.kernels``.

Never import this directory as a top-level ``kernels`` (a different PyPI package owns that
name): relative imports inside, ``fastmlp.kernels`` everywhere else.
"""

from . import codes, config, cpu

__all__ = ["codes", "config", "cpu"]
