"""fastmlp: multilayer perceptrons trained by Numba-compiled kernels."""

from . import kernels, reference
from .backend import cuda_available
from .estimators import MLPClassifier, MLPRegressor
from .gradcheck import GradientCheck, check_gradients
from .interop import to_onnx
from .network import Network
from .persistence import ModelFileError, load, save

__version__ = "0.1.0"

__all__ = [
    "GradientCheck",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFileError",
    "Network",
    "check_gradients",
    "cuda_available",
    "kernels",
    "load",
    "reference",
    "save",
    "to_onnx",
]


def __getattr__(name):
    # fastmlp.plot is imported on first use: it is the only module that needs matplotlib.
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
