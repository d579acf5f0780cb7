"""fastmlp: multilayer perceptrons trained by Numba-compiled kernels."""

from . import kernels, reference
from .gradcheck import GradientCheck, check_gradients
from .estimators import MLPClassifier, MLPRegressor
from .interop import to_onnx
from .network import Network
from .persistence import load

__version__ = "0.1.0"

__all__ = [
    "GradientCheck", "MLPClassifier", "MLPRegressor", "Network", "check_gradients", "kernels",
    "load", "reference", "to_onnx",
]
