"""fastmlp: multilayer perceptrons trained by Numba-compiled kernels."""

from . import kernels, reference
from .gradcheck import GradientCheck, check_gradients
from .network import Network

__version__ = "0.1.0"

__all__ = ["GradientCheck", "Network", "check_gradients", "kernels", "reference"]
