"""Moving trained models out of fastmlp and in: ONNX, scikit-learn and PyTorch.

- :func:`to_onnx` writes the graph of a :class:`~fastmlp.Network` or a fitted estimator from its
  weights; once this module is imported (``import fastmlp`` does), ``skl2onnx.to_onnx`` also
  converts fastmlp's estimators, through converters registered with skl2onnx's public
  ``update_registered_converter`` when skl2onnx is first imported.
- :func:`to_sklearn` / :func:`from_sklearn` convert fitted estimators to and from
  scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with the same weights.
- :func:`network_to_torch` / :func:`network_from_torch` convert a Network to and from a
  ``torch.nn.Sequential`` of ``Linear`` layers and activation modules.

onnx, skl2onnx, onnxruntime and torch are optional (the ``onnx`` and ``torch`` extras) and
imported only inside the functions that need them.
"""

import copy
import importlib.abc
import importlib.util
import inspect
import sys
import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

ONNX_OPSET = 17  # every op used below is defined for float and double at this opset
# onnx.TensorProto's element types, spelled out so that importing this module imports no onnx.
_FLOAT, _INT64, _STRING, _DOUBLE = 1, 7, 8, 11
ONNX_ACTIVATIONS = {
    "identity": "Identity",
    "logistic": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "leaky_relu": "LeakyRelu",
    "elu": "Elu",
    "softmax": "Softmax",
    "exp": "Exp",
}
_SKL2ONNX_ALIASES = {"MLPClassifier": "FastmlpMLPClassifier", "MLPRegressor": "FastmlpMLPRegressor"}


# ==== ONNX: where nodes go ===================================================================
class _OnnxGraph:
    """Collects nodes and initializers for a stand-alone ``onnx.GraphProto``."""

    def __init__(self):
        self.nodes, self.initializers, self._used = [], [], set()

    def name(self, hint):
        """A name not used before in this graph."""
        name, k = hint, 0
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def constant(self, hint, array):
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name=name))
        return name

    def node(self, op_type, inputs, output=None, **attrs):
        from onnx import helper

        output = output or self.name(op_type.lower())
        self.nodes.append(
            helper.make_node(
                op_type, list(inputs), [output], name=self.name(f"{op_type}_op"), **attrs
            )
        )
        return output


class _Skl2OnnxGraph:
    """The same three calls, writing into skl2onnx's scope and container."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, array):
        from onnx import numpy_helper

        name = self.name(hint)
        tensor = numpy_helper.from_array(np.asarray(array), name=name)
        # The container copies a tensor's raw bytes, which strings do not use: pass those as a list.
        content = list(tensor.string_data) if tensor.string_data else tensor
        self.container.add_initializer(name, tensor.data_type, list(tensor.dims), content)
        return name

    def node(self, op_type, inputs, output=None, **attrs):
        output = output or self.name(op_type.lower())
        self.container.add_node(
            op_type,
            list(inputs),
            [output],
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )
        return output


# ==== ONNX: the network as nodes =============================================================
def _network_nodes(g, net, x):
    """Nodes computing ``net.forward(x)`` from the tensor named ``x``; returns the output name.

    Batch norm is folded into the dense layers (``Network.folded``, as inference does).
    """
    folded = net.folded()
    h = x
    for layer in range(net.n_layers - 1):
        h = _hidden_layer_nodes(g, net, layer, h, *folded[layer])
    z = _dense_nodes(g, *folded[-1], h)
    return _activation_nodes(g, net.output_activation, None, z, net.dtype)


def _hidden_layer_nodes(g, net, layer, h, W, b):
    """One hidden layer as nodes: the dense layer (``W``, ``b``, batch norm folded in), then
    the activation; the one place that maps a hidden layer to ONNX."""
    z = _dense_nodes(g, W, b, h)
    name = net.hidden_activations[layer]
    if name == "prelu":
        slopes = g.constant("slopes", np.asarray(net.slopes[layer], dtype=net.dtype))
        if net.dtype == np.float32:
            return g.node("PRelu", [z, slopes])
        # onnxruntime runs no double PRelu from opset 19 on: z > 0 ? z : slopes * z.
        return _where_positive(g, z, g.node("Mul", [z, slopes]), net.dtype)
    return _activation_nodes(g, name, net.activation_param(name), z, net.dtype)


def _dense_nodes(g, W, b, h):
    return g.node("Gemm", [h, g.constant("coefficient", W), g.constant("intercepts", b)])


def _activation_nodes(g, name, param, z, dtype):
    if name == "leaky_relu":
        if dtype == np.float32:
            return g.node("LeakyRelu", [z], alpha=float(param))
        # LeakyRelu's alpha is a float32 attribute (0.01 would be off by 2e-10) and
        # onnxruntime runs no double PRelu from opset 19 on: z > 0 ? z : slope * z.
        slope = g.constant("slope", np.asarray(param, dtype=dtype))
        return _where_positive(g, z, g.node("Mul", [z, slope]), dtype)
    if name == "elu":
        if dtype == np.float32:
            return g.node("Elu", [z], alpha=float(param))
        # onnxruntime has no double Elu kernel: z > 0 ? z : alpha * (exp(z) - 1).
        one = g.constant("one", np.ones((), dtype=dtype))
        expm1 = g.node("Sub", [g.node("Exp", [z]), one])
        negative = g.node("Mul", [expm1, g.constant("elu_alpha", np.asarray(param, dtype))])
        return _where_positive(g, z, negative, dtype)
    if name == "softmax":
        return g.node("Softmax", [z], axis=1)
    return g.node(ONNX_ACTIVATIONS[name], [z])


def _where_positive(g, z, negative, dtype):
    """``z`` where it is positive, else ``negative`` (the kernels' branch, elementwise)."""
    positive = g.node("Greater", [z, g.constant("zero", np.zeros((), dtype=dtype))])
    return g.node("Where", [positive, z, negative])


def _classifier_nodes(g, est, p, label, probabilities):
    """predict's labels and predict_proba's columns from the network output ``p``."""
    net = est._net
    classes = _onnx_classes(est)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        g.node("Identity", [p], output=probabilities)
        return g.node("Cast", [_above_half(g, p, net.dtype)], output=label, to=_INT64)
    if est.n_outputs_ == 1:  # binary: [1 - p, p], label where p > 0.5 as predict does
        one = g.constant("one", np.ones((), dtype=net.dtype))
        g.node("Concat", [g.node("Sub", [one, p]), p], output=probabilities, axis=1)
        index = g.node("Cast", [_above_half(g, p, net.dtype)], to=_INT64)
        index = g.node("Reshape", [index, g.constant("flat", np.array([-1], dtype=np.int64))])
    else:
        g.node("Identity", [p], output=probabilities)
        index = g.node("ArgMax", [p], axis=1, keepdims=0)
    return g.node("Gather", [g.constant("classes", classes), index], output=label, axis=0)


def _above_half(g, p, dtype):
    return g.node("Greater", [p, g.constant("half", np.asarray(0.5, dtype=dtype))])


def _onnx_classes(est):
    """classes_ as an ONNX-storable array: int64 for integer labels, strings for strings."""
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        return classes.astype(np.int64)
    if classes.dtype.kind in "US" or all(isinstance(c, str) for c in classes):
        return classes.astype(str).astype(object)
    raise ValueError(
        f"ONNX export supports integer or string class labels; classes_ are {classes!r}."
    )


def _model_nodes(g, model, x, x_dtype, outputs):
    """All nodes of ``model`` (Network or fitted estimator) from input ``x``, named outputs."""
    net = _network_of(model)
    if x_dtype != net.dtype:
        x = g.node("Cast", [x], to=_onnx_type(net.dtype))
    p = _network_nodes(g, net, x)
    if hasattr(model, "_net") and is_classifier(model):
        return _classifier_nodes(g, model, p, *outputs)
    return g.node("Identity", [p], output=outputs[0])  # a regressor's or a Network's output


def _onnx_type(dtype):
    return _FLOAT if np.dtype(dtype) == np.float32 else _DOUBLE


def _network_of(model):
    from .network import Network

    if isinstance(model, Network):
        return model
    if not hasattr(model, "_fitted_net"):
        raise TypeError(
            f"expected a fastmlp Network, MLPClassifier or MLPRegressor, got {type(model)!r}."
        )
    check_is_fitted(model)
    return model._fitted_net()


def to_onnx(model, X_sample=None, *, name="fastmlp"):
    """ONNX model computing a fastmlp model's outputs, built from its weights.

    Parameters
    ----------
    model : Network, MLPClassifier or MLPRegressor
        A Network or a fitted estimator.
    X_sample : array-like of shape (n_samples, n_features), default=None
        Sets the input's element type: float32 gives ``tensor(float)``, float64
        ``tensor(double)`` (cast to the model's dtype inside the graph). None: the model's dtype.
    name : str, default="fastmlp"
        The graph's name.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` of shape (N, n_features). A classifier's outputs are ``label`` (shape (N,),
        or (N, n_classes) int64 indicators for multilabel) and ``probabilities``
        (``predict_proba``), a regressor's ``variable`` of shape (N, n_outputs), a
        Network's ``output`` (``forward``), all in the model's dtype. The same graph as
        ``skl2onnx.to_onnx(model, X_sample, options={"zipmap": False})``.
    """
    from onnx import checker, helper

    net = _network_of(model)
    x_dtype = net.dtype if X_sample is None else _sample_dtype(X_sample, net)
    g = _OnnxGraph()
    outputs = _onnx_outputs(model, net)
    for out in outputs:
        g.name(out.name)
    g.name("X")
    _model_nodes(g, model, "X", x_dtype, [o.name for o in outputs])
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info("X", _onnx_type(x_dtype), ["N", net.layer_sizes[0]])],
        outputs,
        g.initializers,
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="fastmlp"
    )
    checker.check_model(onnx_model)
    return onnx_model


def _output_spec(model, net):
    """The graph's outputs: (name, element kind, columns or None for 1-D), kind one of
    "real" (the network's dtype), "int64" or "string". Shared by to_onnx and skl2onnx."""
    if not hasattr(model, "_net"):
        return [("output", "real", net.layer_sizes[-1])]
    if not is_classifier(model):
        return [("variable", "real", net.layer_sizes[-1])]
    n_classes = len(model.classes_)
    if model._label_binarizer.y_type_ == "multilabel-indicator":
        label = ("label", "int64", n_classes)
    else:
        label = ("label", "string" if _onnx_classes(model).dtype == object else "int64", None)
    return [label, ("probabilities", "real", n_classes)]


def _onnx_outputs(model, net):
    from onnx import helper

    types = {"real": _onnx_type(net.dtype), "int64": _INT64, "string": _STRING}
    return [
        helper.make_tensor_value_info(name, types[kind], ["N"] + ([] if k is None else [k]))
        for name, kind, k in _output_spec(model, net)
    ]


def _sample_dtype(X_sample, net):
    """The graph's input dtype: X_sample's if float32/float64, else the network's."""
    X_sample = X_sample if hasattr(X_sample, "dtype") else np.asarray(X_sample)
    shape = np.shape(X_sample)
    if len(shape) != 2 or shape[1] != net.layer_sizes[0]:
        raise ValueError(
            f"X_sample must have shape (n_samples, {net.layer_sizes[0]}), got {shape}."
        )
    dtype = np.dtype(X_sample.dtype)
    return dtype if dtype in (np.float32, np.float64) else net.dtype


# ==== skl2onnx converters ====================================================================
def _skl2onnx_shape(operator):
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    est = operator.raw_operator
    net = est._fitted_net()
    n = operator.inputs[0].get_first_dimension()
    types = {
        "real": FloatTensorType if net.dtype == np.float32 else DoubleTensorType,
        "int64": Int64TensorType,
        "string": StringTensorType,
    }
    for variable, (_, kind, k) in zip(operator.outputs, _output_spec(est, net)):
        variable.type = types[kind]([n] + ([] if k is None else [k]))


def _skl2onnx_convert(scope, operator, container):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    x = operator.inputs[0]
    # Any other input type (int64, bool) is cast to the network's dtype like a mismatch.
    x_dtype = {DoubleTensorType: np.float64, FloatTensorType: np.float32}.get(type(x.type))
    _model_nodes(
        _Skl2OnnxGraph(scope, container),
        operator.raw_operator,
        x.full_name,
        None if x_dtype is None else np.dtype(x_dtype),
        [o.full_name for o in operator.outputs],
    )


def register_skl2onnx_converters():
    """Register fastmlp's estimators with skl2onnx (done when skl2onnx is first imported).

    Through skl2onnx's public ``update_registered_converter``: a shape calculator declaring
    the outputs and a converter writing the same nodes as :func:`to_onnx`.
    """
    from skl2onnx import update_registered_converter

    from .estimators import MLPClassifier, MLPRegressor

    update_registered_converter(
        MLPClassifier,
        _SKL2ONNX_ALIASES["MLPClassifier"],
        _skl2onnx_shape,
        _skl2onnx_convert,
        # zipmap selects skl2onnx's classifier parser; nocl (labels as indices) is not offered.
        options={"zipmap": [True, False, "columns"], "nocl": [False]},
    )
    update_registered_converter(
        MLPRegressor,
        _SKL2ONNX_ALIASES["MLPRegressor"],
        _skl2onnx_shape,
        _skl2onnx_convert,
    )


class _RegisterOnSkl2onnxImport(importlib.abc.MetaPathFinder):
    """Registers the converters right after skl2onnx is imported, without importing it."""

    _asking = False  # set while the real finders answer (find_spec below calls them)

    def find_spec(self, fullname, path, target=None):
        if fullname != "skl2onnx" or self._asking:
            return None
        self._asking = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._asking = False
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            # Only now: a mere importlib.util.find_spec("skl2onnx") executes nothing, and
            # the import that follows it must still register.
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register_or_warn()

        spec.loader.exec_module = exec_module
        return spec


def _register_or_warn():
    try:
        register_skl2onnx_converters()
    except Exception as exc:  # never break the import of skl2onnx or of fastmlp
        warnings.warn(f"fastmlp could not register its skl2onnx converters: {exc!r}")


def _install_skl2onnx_hook():
    if "skl2onnx" in sys.modules:
        _register_or_warn()
    elif not any(isinstance(f, _RegisterOnSkl2onnxImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnSkl2onnxImport())


# ==== scikit-learn ===========================================================================
_SKLEARN_SOLVERS = ("lbfgs", "sgd", "adam")
_SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")
_SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
# Fitted attributes copied both ways when present (coefs_ and intercepts_ are handled apart).
_FITTED = (
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "n_iter_",
    "t_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "n_features_in_",
    "feature_names_in_",
    "_no_improvement_count",
)


def to_sklearn(est):
    """A fitted scikit-learn ``MLPClassifier``/``MLPRegressor`` with ``est``'s weights.

    Parameters scikit-learn shares are copied; a training setting only fastmlp has (a solver
    such as adamw, a step/exponential/cosine schedule) becomes scikit-learn's default, which
    matters only if the returned estimator is trained further.

    Raises
    ------
    ValueError
        If the model uses what scikit-learn's MLP lacks: different activations per layer,
        leaky_relu or elu, or a loss this scikit-learn version does not offer.
    """
    from sklearn import neural_network

    net = _network_of(est)
    hidden = set(net.hidden_activations) or {"relu"}  # (no hidden layer: activation unused)
    unsupported = hidden - set(_SKLEARN_ACTIVATIONS)
    if len(hidden) > 1:
        raise ValueError(
            f"scikit-learn's MLP uses one activation for all hidden layers; this model has "
            f"{net.hidden_activations}."
        )
    if unsupported:
        raise ValueError(
            f"scikit-learn's MLP has no {sorted(unsupported)} activation (it has "
            f"{list(_SKLEARN_ACTIVATIONS)})."
        )
    sk_class = getattr(neural_network, type(est).__name__)
    params = est.get_params(deep=False)
    sk_params = set(inspect.signature(sk_class).parameters)
    if not is_classifier(est) and est.loss != "squared_error":
        loss_options = _sklearn_loss_options()
        if est.loss not in loss_options:
            raise ValueError(
                f"this scikit-learn's MLPRegressor has no loss {est.loss!r} (only "
                f"{sorted(loss_options)})."
            )
    params["activation"] = hidden.pop()
    if params["solver"] not in _SKLEARN_SOLVERS:
        params["solver"] = "adam"
    if params["learning_rate"] not in _SKLEARN_SCHEDULES:
        params["learning_rate"] = "constant"
    sk = sk_class(**{k: v for k, v in params.items() if k in sk_params})
    _copy_fitted(est, sk)
    folded = net.folded()  # batch norm folded in: the same predictions, plain dense layers
    sk.coefs_ = [np.array(W) for W, _ in folded]
    sk.intercepts_ = [np.array(b) for _, b in folded]
    return sk


def _sklearn_loss_options():
    """The losses this scikit-learn's MLPRegressor accepts (a ``loss`` parameter came in 1.7)."""
    from sklearn.neural_network import MLPRegressor

    if "loss" not in inspect.signature(MLPRegressor).parameters:
        return {"squared_error"}
    constraint = MLPRegressor._parameter_constraints.get("loss", [None])[0]
    return set(getattr(constraint, "options", {"squared_error"}))


def _copy_fitted(source, target):
    for name in _FITTED:
        if name in vars(source):
            setattr(target, name, copy.deepcopy(getattr(source, name)))
    if is_classifier(source):
        target._label_binarizer = copy.deepcopy(source._label_binarizer)
        target.classes_ = target._label_binarizer.classes_


def from_sklearn(cls, sk):
    """A fitted fastmlp ``cls`` (MLPClassifier or MLPRegressor) with ``sk``'s weights.

    Parameters
    ----------
    cls : type
        fastmlp's MLPClassifier or MLPRegressor.
    sk : sklearn.neural_network.MLPClassifier or MLPRegressor
        A fitted scikit-learn estimator of the matching kind.
    """
    from sklearn import neural_network

    from . import training
    from .network import Network

    sk_class = getattr(neural_network, cls.__name__)
    if not isinstance(sk, sk_class):
        raise TypeError(
            f"{cls.__name__}.from_sklearn expects a scikit-learn {cls.__name__}, got {type(sk)!r}."
        )
    check_is_fitted(sk, "coefs_")
    own = cls().get_params(deep=False)
    est = cls(**{k: v for k, v in sk.get_params(deep=False).items() if k in own})
    dtype = np.asarray(sk.coefs_[0]).dtype
    layer_sizes = [sk.coefs_[0].shape[0]] + [W.shape[1] for W in sk.coefs_]
    net = Network(
        layer_sizes,
        activation=sk.activation,
        output_activation=sk.out_activation_,
        loss="log_loss" if is_classifier(sk) else getattr(sk, "loss", "squared_error"),
        dtype=dtype.name,
        random_state=0,
    )
    _copy_weights(net, sk.coefs_, sk.intercepts_)
    est._net = net
    _copy_fitted(sk, est)
    # What a fit leaves besides the weights, so that warm_start and partial_fit can go on.
    est._progress = training.Progress()
    est._optimizer = None
    est._optimizer_solver = None
    return est


def _copy_weights(net, coefs, intercepts):
    for view, W in zip(net.coefs, coefs):
        view[...] = W
    for view, b in zip(net.intercepts, intercepts):
        view[...] = b


# ==== PyTorch ================================================================================
_EXP_MODULE = None


def _exp_module_class():
    """``Exp``, a parameterless torch module (made once, on first use: torch is optional)."""
    global _EXP_MODULE
    if _EXP_MODULE is None:
        import torch

        class Exp(torch.nn.Module):
            """Elementwise exp: the exponential output of a Poisson regression."""

            def forward(self, x):
                return torch.exp(x)

        Exp.__module__, Exp.__qualname__ = __name__, "Exp"
        _EXP_MODULE = Exp
    return _EXP_MODULE


def __getattr__(name):
    # ``fastmlp.interop.Exp`` resolves (and so pickled Sequentials load) without torch at import.
    if name == "Exp":
        return _exp_module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _torch_activation(name, param):
    import torch

    nn = torch.nn
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=param)
    if name == "elu":
        return nn.ELU(alpha=param)
    if name == "softmax":
        return nn.Softmax(dim=1)
    if name == "exp":
        return _exp_module_class()()
    return {"identity": nn.Identity, "logistic": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[
        name
    ]()


def network_to_torch(model):
    """A ``torch.nn.Sequential`` computing ``forward`` of a Network or fitted estimator.

    Linear layers (the network's dtype, on the CPU) each followed by its activation module;
    the output activation is the last module (``Softmax(dim=1)``, ``Sigmoid``, ``Identity`` or
    :class:`Exp`). Batch norm is folded into the Linear layers, as inference does; PReLU
    becomes ``PReLU(num_parameters=units)`` with the learned slopes.
    """
    import torch

    net = _network_of(model)
    dtype = torch.float32 if net.dtype == np.float32 else torch.float64
    names = net.hidden_activations + [net.output_activation]
    modules = []
    for layer, ((W, b), name) in enumerate(zip(net.folded(), names)):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(W.T)))
            linear.bias.copy_(torch.from_numpy(np.array(b)))
        if name == "prelu":
            activation = torch.nn.PReLU(num_parameters=W.shape[1], dtype=dtype)
            with torch.no_grad():
                activation.weight.copy_(torch.from_numpy(np.array(net.slopes[layer])))
        else:
            activation = _torch_activation(name, net.activation_param(name))
        modules += [linear, activation]
    return torch.nn.Sequential(*modules)


_DEFAULT_LOSS = {
    "softmax": "log_loss",
    "logistic": "binary_log_loss",
    "identity": "squared_error",
    "exp": "poisson",
}


def network_from_torch(seq, loss=None, dtype=None):
    """A Network with the weights of a ``torch.nn.Sequential`` of Linear layers.

    Parameters
    ----------
    seq : torch.nn.Sequential
        ``Linear`` layers, each hidden one followed by at most one of ``ReLU``, ``Tanh``,
        ``Sigmoid``, ``LeakyReLU``, ``ELU`` or ``Identity`` (none: identity); after the last
        Linear, optionally ``Softmax(dim=1)``, ``Sigmoid``, ``Identity`` or :class:`Exp`,
        the output activation.
    loss : str, default=None
        The Network's loss; None picks the natural one for the output (log_loss for softmax,
        binary_log_loss for sigmoid, squared_error for identity, poisson for exp).
    dtype : {"float32", "float64"}, default=None
        None: the dtype of the Linear weights.
    """
    from .network import Network

    linears, activations = _read_sequential(seq)
    hidden, output = activations[:-1], activations[-1]
    slopes = {n: p for n, p in hidden if p is not None}
    for name in ("leaky_relu", "elu"):
        values = {p for n, p in hidden if n == name}
        if len(values) > 1:
            raise ValueError(
                f"a fastmlp Network has one {name} parameter for all layers; this Sequential "
                f"uses {sorted(values)}."
            )
    weight = linears[0].weight
    if dtype is None:
        dtype = str(weight.dtype).replace("torch.", "")
    net = Network(
        [linears[0].in_features] + [lin.out_features for lin in linears],
        activation=[n for n, _ in hidden] or "relu",
        output_activation=output[0],
        loss=_DEFAULT_LOSS[output[0]] if loss is None else loss,
        dtype=dtype,
        random_state=0,
        leaky_slope=slopes.get("leaky_relu", 0.01),
        elu_alpha=slopes.get("elu", 1.0),
    )
    _copy_weights(
        net,
        [lin.weight.detach().cpu().double().numpy().T for lin in linears],
        [_torch_bias(lin) for lin in linears],
    )
    return net


def _torch_bias(linear):
    if linear.bias is None:
        return np.zeros(linear.out_features)
    return linear.bias.detach().cpu().double().numpy()


def _read_sequential(seq):
    """The Linear modules and, after each, its (activation name, parameter)."""
    import torch

    nn = torch.nn
    if not isinstance(seq, nn.Sequential):
        raise TypeError(f"from_torch expects a torch.nn.Sequential, got {type(seq)!r}.")
    modules = list(seq)
    linears, activations = [], []
    for i, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            if linears and len(activations) < len(linears):
                activations.append(("identity", None))  # Linear after Linear
            if linears and module.in_features != linears[-1].out_features:
                raise ValueError(
                    f"module {i}: Linear with {module.in_features} inputs follows one with "
                    f"{linears[-1].out_features} outputs."
                )
            linears.append(module)
            continue
        if not linears:
            raise ValueError(f"module {i} ({module!r}) comes before the first Linear layer.")
        if len(activations) == len(linears):
            raise ValueError(
                f"module {i} ({module!r}): a second activation after one Linear layer."
            )
        last = not any(isinstance(m, nn.Linear) for m in modules[i + 1 :])
        activations.append(_torch_activation_name(module, i, last))
    if not linears:
        raise ValueError("the Sequential holds no Linear layer.")
    if len(activations) < len(linears):
        activations.append(("identity", None))
    return linears, activations


def _torch_activation_name(module, i, last):
    import torch

    nn = torch.nn
    if isinstance(module, nn.Identity):
        return "identity", None
    if isinstance(module, nn.Sigmoid):
        return "logistic", None
    if last:
        if isinstance(module, nn.Softmax) and module.dim in (1, -1):
            return "softmax", None
        if isinstance(module, _exp_module_class()):
            return "exp", None
        raise ValueError(
            f"module {i} ({module!r}) cannot be the output activation: fastmlp's are "
            "Identity, Sigmoid, Softmax(dim=1) and fastmlp.interop.Exp."
        )
    if isinstance(module, nn.ReLU):
        return "relu", None
    if isinstance(module, nn.Tanh):
        return "tanh", None
    if isinstance(module, nn.LeakyReLU):
        return "leaky_relu", float(module.negative_slope)
    if isinstance(module, nn.ELU):
        return "elu", float(module.alpha)
    raise ValueError(
        f"module {i} ({module!r}) is not a supported hidden activation: ReLU, Tanh, Sigmoid, "
        "LeakyReLU, ELU or Identity."
    )


_install_skl2onnx_hook()
