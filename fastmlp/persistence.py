"""Saving and loading fitted estimators without pickle.

A model file is a NumPy ``.npz`` archive: the flat parameters, the optimizer state, the
class labels, the training history as plain numeric or string arrays, and one JSON string
(stored as a uint8 array) with everything else. :func:`load` reads it with
``np.load(allow_pickle=False)``, so opening a file never executes code from it.

:func:`save` writes to a temporary file in the target's directory and renames it over the
target (``os.replace``): a failed write leaves the target as it was.
"""

import dataclasses
import json
import os
import tempfile
import zipfile

import numpy as np
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

from . import training
from .network import Network

MAGIC = "fastmlp-estimator"
FORMAT_VERSION = 1
_MAGIC_KEY = "fastmlp_magic"
_META_KEY = "fastmlp_metadata"

# Fitted attributes stored in the metadata as JSON values.
_SCALAR_ATTRIBUTES = (
    "n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_", "loss_", "best_loss_",
    "best_validation_score_", "loss_curve_", "validation_scores_", "n_features_in_",
    "_no_improvement_count", "_optimizer_solver",
)


def save(estimator, path):
    """Write a fitted :class:`~fastmlp.MLPClassifier` or :class:`~fastmlp.MLPRegressor`.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted estimator.
    path : str or path-like
        Target file; written atomically (temporary file in the same directory, then
        ``os.replace``). No suffix is added.
    """
    from .estimators import MLPClassifier, MLPRegressor

    if not isinstance(estimator, (MLPClassifier, MLPRegressor)):
        raise TypeError(
            f"save expects a fastmlp MLPClassifier or MLPRegressor, got {type(estimator)!r}."
        )
    check_is_fitted(estimator)
    arrays, meta = _collect(estimator)
    arrays[_MAGIC_KEY] = np.array(MAGIC)
    arrays[_META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    _write_atomically(os.fspath(path), arrays)


def load(path):
    """Read an estimator written by :meth:`MLPClassifier.save` / :func:`save`.

    Raises
    ------
    ValueError
        If the file was not written by fastmlp, is damaged, or was written in a newer
        format version than this fastmlp reads.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path!r} is not a fastmlp model file ({exc}).") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path!r} is not a fastmlp model file (a plain .npy array).")
    with archive:
        files = set(archive.files)
        if _MAGIC_KEY not in files or _META_KEY not in files:
            raise ValueError(
                f"{path!r} is not a fastmlp model file: it lacks the {_MAGIC_KEY!r} "
                "format key (it was not written by fastmlp.save)."
            )
        magic = archive[_MAGIC_KEY]
        if magic.dtype.kind != "U" or magic.shape != () or str(magic) != MAGIC:
            raise ValueError(f"{path!r} is not a fastmlp model file (wrong format key).")
        try:
            meta = json.loads(archive[_META_KEY].tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path!r}: damaged fastmlp metadata ({exc}).") from exc
        version = meta.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"{path!r}: invalid fastmlp format version {version!r}.")
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{path!r} was written in fastmlp model format version {version} (by fastmlp "
                f"{meta.get('fastmlp_version', '?')}), newer than the version {FORMAT_VERSION} "
                "this fastmlp reads; upgrade fastmlp to load it."
            )
        arrays = {name: archive[name] for name in files - {_MAGIC_KEY, _META_KEY}}
    try:
        return _rebuild(meta, arrays)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{path!r}: damaged fastmlp model file ({exc!r}).") from exc


# ---- writing ---------------------------------------------------------------------------
def _write_atomically(path, arrays):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _collect(est):
    from . import __version__

    net = est._net
    arrays = {"params": net.params}
    meta = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "fastmlp_version": __version__,
        "estimator": type(est).__name__,
        "params": _encode(est.get_params(deep=False)),
        "network": {
            "layer_sizes": [int(s) for s in net.layer_sizes],
            "activation": list(net.activation),
            "output_activation": net.output_activation,
            "loss": net.loss,
            "dtype": net.dtype.name,
            "init": net.init,
            "leaky_slope": net.leaky_slope,
            "elu_alpha": net.elu_alpha,
        },
        "fitted": {
            name: _encode(getattr(est, name)) for name in _SCALAR_ATTRIBUTES if hasattr(est, name)
        },
        "has_history": hasattr(est, "history_"),
    }
    if hasattr(est, "feature_names_in_"):
        arrays["feature_names_in"] = _string_array(est.feature_names_in_, "feature_names_in_")
    lb = getattr(est, "_label_binarizer", None)
    if lb is not None:
        classes = np.asarray(lb.classes_)
        meta["label_binarizer"] = {
            "neg_label": int(lb.neg_label),
            "pos_label": int(lb.pos_label),
            "sparse_output": bool(lb.sparse_output),
            "y_type_": lb.y_type_,
            "sparse_input_": bool(lb.sparse_input_),
            "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
        }
        arrays["classes"] = (
            _string_array(classes, "classes_") if classes.dtype == object else classes
        )

    optimizer = getattr(est, "_optimizer", None)
    if optimizer is not None:
        meta["optimizer"] = {
            "learning_rate": float(optimizer.learning_rate),
            "epochs": int(optimizer.epochs),
        }
        for name, array in _optimizer_arrays(optimizer).items():
            arrays[f"optimizer_{name}"] = array

    progress = est._progress
    meta["progress"] = {
        "samples_seen": int(progress.samples_seen),
        "best_loss": float(progress.best_loss),
        "best_score": float(progress.best_score),
        "no_improvement_count": int(progress.no_improvement_count),
    }
    if progress.best_params is not None:
        arrays["progress_best_params"] = progress.best_params
    # history_ is the epochs' history (stochastic solvers) or an L-BFGS record of its own.
    history = getattr(est, "history_", None)
    meta["history_is_progress"] = history is progress.history
    arrays.update(_history_arrays(progress.history, "progress_history_"))
    if history is not None and history is not progress.history:
        arrays.update(_history_arrays(history, "history_"))
    return arrays, meta


def _history_arrays(history, prefix):
    return {
        f"{prefix}{field.name}": np.asarray(getattr(history, field.name), dtype=np.float64)
        for field in dataclasses.fields(training.History)
    }


def _history_from(arrays, prefix):
    history = training.History()
    for field in dataclasses.fields(training.History):
        values = arrays[f"{prefix}{field.name}"]
        rows = [np.array(row) for row in values] if values.ndim == 2 else values.tolist()
        object.__getattribute__(history, field.name).extend(rows)
    return history


def _optimizer_arrays(optimizer):
    """The optimizer's state arrays by name."""
    return {name: getattr(optimizer.state, name) for name in ("state1", "state2", "step")}


def _string_array(values, name):
    values = np.asarray(values)
    if values.dtype.kind == "U":
        return values
    if values.dtype == object and all(isinstance(v, str) for v in values.ravel()):
        return values.astype(str)
    raise ValueError(
        f"Cannot save {name} of dtype {values.dtype} with non-string objects without "
        "pickle; use numeric or string labels."
    )


def _encode(value):
    """JSON-ready form of a parameter value; tuples are tagged so they load as tuples."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_encode(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.random.RandomState):
        return None  # a RandomState instance is not stored; the loaded estimator gets None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a model file")


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# ---- reading ---------------------------------------------------------------------------
def _rebuild(meta, arrays):
    from .estimators import MLPClassifier, MLPRegressor

    classes = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}
    if meta.get("estimator") not in classes:
        raise ValueError(f"unknown estimator {meta.get('estimator')!r} in the model file.")
    est = classes[meta["estimator"]](**_decode(meta["params"]))

    spec = meta["network"]
    net = Network(
        spec["layer_sizes"], activation=spec["activation"],
        output_activation=spec["output_activation"], loss=spec["loss"], dtype=spec["dtype"],
        init=spec["init"], random_state=0, leaky_slope=spec["leaky_slope"],
        elu_alpha=spec["elu_alpha"],
    )
    params = arrays["params"]
    if params.shape != net.params.shape or params.dtype != net.dtype:
        raise ValueError(
            f"damaged model file: {params.shape[0]} parameters of dtype {params.dtype} for a "
            f"network of {net.n_params} {net.dtype} parameters."
        )
    net.params[:] = params
    est._net = net

    for name, value in _decode(meta["fitted"]).items():
        setattr(est, name, value)
    if "feature_names_in" in arrays:
        est.feature_names_in_ = arrays["feature_names_in"].astype(object)

    if "label_binarizer" in meta:
        spec = meta["label_binarizer"]
        lb = LabelBinarizer(
            neg_label=spec["neg_label"], pos_label=spec["pos_label"],
            sparse_output=spec["sparse_output"],
        )
        labels = arrays["classes"]
        lb.classes_ = labels.astype(object) if spec["classes_dtype"] == "object" else labels
        lb.y_type_ = spec["y_type_"]
        lb.sparse_input_ = spec["sparse_input_"]
        est._label_binarizer = lb
        est.classes_ = lb.classes_

    est._optimizer = None
    if "optimizer" in meta:
        solver = meta["fitted"].get("_optimizer_solver") or est.solver
        optimizer = training.Optimizer(net, training.TrainConfig(solver=solver))
        for name, array in _optimizer_arrays(optimizer).items():
            array[...] = _matching(arrays[f"optimizer_{name}"], array)
        optimizer.learning_rate = meta["optimizer"]["learning_rate"]
        optimizer.epochs = meta["optimizer"]["epochs"]
        est._optimizer = optimizer

    spec = meta["progress"]
    history = _history_from(arrays, "progress_history_")
    best = arrays.get("progress_best_params")
    est._progress = training.Progress(
        samples_seen=spec["samples_seen"],
        best_loss=spec["best_loss"],
        best_score=spec["best_score"],
        no_improvement_count=spec["no_improvement_count"],
        best_params=None if best is None else _matching(best, net.params),
        history=history,
    )
    if meta["history_is_progress"]:
        est.history_ = history
    elif meta["has_history"]:
        est.history_ = _history_from(arrays, "history_")
    return est


def _matching(array, like):
    if array.shape != like.shape:
        raise ValueError(f"damaged model file: an array of shape {array.shape}, {like.shape} "
                         "expected.")
    return np.array(array, dtype=like.dtype)
