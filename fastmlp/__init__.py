"""fastmlp: multilayer perceptrons trained by Numba-compiled kernels."""

from . import kernels, reference
from .gradcheck import GradientCheck, check_gradients
from .estimators import MLPClassifier, MLPRegressor
from .network import Network
from .persistence import load

__version__ = "0.1.0"

__all__ = [
    "GradientCheck", "MLPClassifier", "MLPRegressor", "Network", "check_gradients", "kernels",
    "load", "reference",
]


def __getattr__(name):
    # fastmlp.plot is imported on first use: it is the only module that needs matplotlib.
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
