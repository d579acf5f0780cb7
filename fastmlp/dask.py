"""Training on Dask arrays: exact distributed full-batch L-BFGS on a ``dask.distributed`` cluster.

``MLPClassifier(solver="lbfgs").fit(X, y)`` with Dask arrays ``X`` and ``y`` lands here (the
estimators' ``fit`` dispatches on the type of ``X``). The data are validated with Dask
reductions, converted block by block (labels binarized with the fitted ``LabelBinarizer``)
and persisted on the workers once. Each L-BFGS evaluation then broadcasts the flat parameter
vector to the workers; every row block returns its *summed* loss, summed gradient and weight
total (so unequal blocks and sample weights weigh exactly as in one process); a tree of
additions on the workers combines them; the client adds the regularisers and SciPy's L-BFGS
(the estimator's own ``_fit_lbfgs``, with its options) takes the step.

Dask, distributed and dask-ml come with the ``dask`` extra; nothing here is imported by
``import fastmlp``.
"""

import copy
import threading
import uuid
import warnings
from concurrent.futures import CancelledError
from functools import partial

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import DataConversionWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target

from .estimators import NON_FINITE_MESSAGE, _plain_array, _thread_limits

MINIBATCH_MESSAGE = (
    "solver={solver!r} takes one optimizer step per minibatch; on Dask arrays every step "
    "would be a cluster round trip (milliseconds even on a local cluster, tens of times the "
    "compute of a typical minibatch step: see docs/scaling.md), so fastmlp does not train "
    "minibatch solvers on Dask arrays. Use solver='lbfgs' for exact distributed full-batch "
    "training, stream the blocks through partial_fit with "
    "dask_ml.wrappers.Incremental(estimator), or "
    "compute X and y to NumPy arrays if they fit in memory."
)


def fit(estimator, X, y, sample_weight=None):
    """Fit ``estimator`` (an ``MLPClassifier`` or ``MLPRegressor``) on Dask arrays.

    Exact distributed full-batch L-BFGS: the same numbers as the same fit on the gathered
    NumPy data (up to summation order), with the data staying on the workers.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        With ``solver="lbfgs"``. Its parameters are already validated.
    X : dask.array.Array of shape (n_samples, n_features)
        Row blocks of known sizes, all columns in each block.
    y : dask.array.Array or array-like of shape (n_samples,) or (n_samples, n_outputs)
        Rechunked to the row blocks of ``X`` where they differ.
    sample_weight : dask.array.Array or array-like of shape (n_samples,), default=None

    Returns
    -------
    estimator : the estimator, fitted; left as it was when the fit fails.

    Raises
    ------
    ValueError
        For a minibatch solver, batch norm, unknown chunk sizes, blocks that split the
        columns, or bad values (non-finite data, negative weights, unknown label types).
    RuntimeError
        When the cluster loses a task for good (a worker died more often than Dask retries).
    """
    from distributed import get_client

    if estimator.solver != "lbfgs":
        raise ValueError(MINIBATCH_MESSAGE.format(solver=estimator.solver))
    if np.any(estimator.batch_norm):
        # Each block would be normalised with its own statistics: not the one-machine fit.
        raise ValueError(
            "batch_norm is not supported on Dask arrays (each row block would be normalised "
            "with its own statistics); compute X to NumPy or set batch_norm=False."
        )
    try:
        client = get_client()
    except ValueError as exc:
        raise ValueError(
            "Fitting on Dask arrays needs a dask.distributed Client, e.g. "
            "Client(LocalCluster()); none is running. Or compute X and y to NumPy arrays."
        ) from exc

    X, y, sample_weight = _check_collections(X, y, sample_weight)
    dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
    work = _fresh_or_warm(estimator)
    Y = _prepare_targets(work, X, y, sample_weight, dtype)

    hidden = work._hidden_layer_sizes()
    activations = work._hidden_activations(len(hidden))
    n_outputs = Y.shape[1]
    # The settings the NumPy fit checks before it creates a network.
    work._train_config(1, n_outputs, "adam").validate(len(hidden))
    layer_units = [X.shape[1]] + hidden + [n_outputs]
    first_pass = work.__dict__.get("_net") is None
    if not first_pass and list(work._net.layer_sizes) != layer_units:
        raise ValueError(
            f"warm_start keeps the network of the previous fit, with layer sizes "
            f"{list(work._net.layer_sizes)}, but this call needs {layer_units}. Set "
            "warm_start=False or fit a new estimator."
        )
    work.n_features_in_ = X.shape[1]
    work.n_outputs_ = n_outputs
    work._random_state = check_random_state(work.random_state)
    if first_pass:
        work._initialize(layer_units, activations, dtype)

    blocks = _persist_blocks(client, X, Y, sample_weight, dtype)
    net = work._net
    objective = ClusterObjective(client, net, blocks, work.n_threads)
    try:
        work._net = objective  # _fit_lbfgs sees a network whose gradient runs on the cluster
        work._fit_lbfgs(None, None, None)
    finally:
        work._net = net
        objective.release()
    if not np.all(np.isfinite(net.params)):
        raise ValueError(NON_FINITE_MESSAGE)
    # Only a finished fit touches the estimator: every fitted attribute at once.
    estimator.__dict__.clear()
    estimator.__dict__.update(work.__dict__)
    return estimator


# ---- input checks --------------------------------------------------------------------------
def _as_dask_array(a, name, row_chunks=None):
    import dask.array as da

    if a is None or isinstance(a, da.Array):
        return a
    if type(a).__module__.startswith("dask"):
        raise TypeError(
            f"{name} is a {type(a).__name__}; fastmlp trains on dask.array.Array. Convert "
            f"it with {name}.to_dask_array(lengths=True)."
        )
    a = np.asarray(a)
    return da.from_array(a, chunks=(row_chunks,) + a.shape[1:] if row_chunks else "auto")


def _check_collections(X, y, sample_weight):
    """Dask arrays with known row chunks, X's columns in one block, y and weights on X's rows."""
    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D Dask array, got {X.ndim} dimension(s).")
    if any(np.isnan(c) for chunks in X.chunks for c in chunks):
        raise ValueError(
            "X has unknown chunk sizes (NaN in X.chunks), e.g. after boolean indexing or "
            "from a DataFrame; call X.compute_chunk_sizes() (or to_dask_array(lengths=True)) "
            "first."
        )
    if X.numblocks[1] != 1:
        raise ValueError(
            f"X's blocks split its {X.shape[1]} columns into {X.numblocks[1]} pieces; each "
            "worker needs whole rows. Rechunk with X.rechunk({1: -1})."
        )
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}.")
    rows = X.chunks[0]
    y = _as_dask_array(y, "y", rows)
    sample_weight = _as_dask_array(sample_weight, "sample_weight", rows)
    for name, a in (("y", y), ("sample_weight", sample_weight)):
        if a is None:
            continue
        if any(np.isnan(c) for c in a.chunks[0]):
            raise ValueError(
                f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first."
            )
        if a.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but {name} has {a.shape[0]}.")
    if sample_weight is not None and sample_weight.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {sample_weight.shape}.")
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected.",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y[:, 0]
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D, got {y.ndim} dimensions.")
    # Mismatched partitions: y and the weights are small next to X, so they move to X's rows.
    y = y.rechunk({0: rows, 1: -1} if y.ndim == 2 else {0: rows})
    if sample_weight is not None:
        sample_weight = sample_weight.rechunk({0: rows})
    return X, y, sample_weight


def _fresh_or_warm(estimator):
    """The estimator to fit into: a copy of the fitted one for warm_start, else a clone."""
    if estimator.warm_start and estimator.__dict__.get("_net") is not None:
        return copy.deepcopy(estimator)
    return clone(estimator)


def _prepare_targets(work, X, y, sample_weight, dtype):
    """Check the data with Dask reductions; return Y (2-D, ``dtype``) as a lazy Dask array.

    Classifiers find ``classes_`` with ``da.unique`` and binarize blockwise.
    """
    import dask
    import dask.array as da

    checks = {"X is finite": da.isfinite(X).all()}
    if sample_weight is not None:
        checks["sample_weight is finite"] = da.isfinite(sample_weight).all()
        checks["sample_weight is non-negative"] = (sample_weight >= 0).all()
        checks["sample_weight has a positive total"] = sample_weight.sum() > 0
    if is_classifier(work):
        if y.ndim != 1:
            raise ValueError(
                "Multilabel targets (2-D y) are not supported on Dask arrays; pass 1-D labels, "
                "or fit on NumPy arrays."
            )
        classes, results = dask.compute(da.unique(y), checks)
    else:
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y must hold numbers for a regressor, got dtype {y.dtype}.")
        checks["y is finite"] = da.isfinite(y).all()
        if work.loss == "poisson":
            checks["y is non-negative (loss='poisson')"] = (y >= 0).all()
        classes, results = None, dask.compute(checks)[0]
    failed = [name for name, ok in results.items() if not ok]
    if failed:
        raise ValueError("Bad input: not true that " + "; ".join(failed) + ".")
    if X.shape[0] < 1:
        raise ValueError("X has no rows.")

    if not is_classifier(work):
        Y = y if y.ndim == 2 else y[:, None]
        return Y.astype(dtype)
    _fit_labels(work, classes)
    n_out = len(work._label_binarizer.transform(classes[:1])[0])
    return y.map_blocks(
        _binarize,
        work._label_binarizer,
        dtype,
        new_axis=1,
        chunks=(y.chunks[0], (n_out,)),
        dtype=dtype,
    )


def _fit_labels(work, classes):
    """classes_ and the LabelBinarizer from the unique labels (warm_start keeps them)."""
    target_type = type_of_target(classes)
    if target_type not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: {target_type} (labels must be classes).")
    if work.__dict__.get("_net") is not None:  # warm start: same classes as before
        if set(classes) != set(work.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {work.classes_}, `y` has {classes}"
            )
        return
    work._label_binarizer = LabelBinarizer().fit(classes)
    work.classes_ = work._label_binarizer.classes_


def _binarize(block, binarizer, dtype):
    return binarizer.transform(block).astype(dtype)


def _persist_blocks(client, X, Y, sample_weight, dtype):
    """Persist plain (C-contiguous, writeable, ``dtype``) blocks; futures per row block."""
    from dask.core import flatten
    from distributed import futures_of, wait

    plain = partial(_plain_array, dtype=dtype)  # (map_blocks keeps its own dtype= argument)
    arrays = [a for a in (X, Y, sample_weight) if a is not None]
    arrays = client.persist([a.map_blocks(plain, dtype=dtype) for a in arrays])
    wait(arrays)
    columns = []
    for a in arrays:  # one column block each: the flattened keys run down the row blocks
        by_key = {f.key: f for f in futures_of(a)}
        columns.append([by_key[k] for k in flatten(a.__dask_keys__())])
    if sample_weight is None:
        columns.append([None] * len(columns[0]))
    return list(zip(*columns))


# ---- the distributed objective -------------------------------------------------------------
class ClusterObjective:
    """Stands in for the network in the estimator's L-BFGS loop; the gradient runs on Dask.

    ``params`` is the real network's buffer, so ``_fit_lbfgs`` reads and writes the network
    as usual; ``_loss_and_grad`` ignores the (absent) local data and evaluates the loss over
    every persisted row block instead.
    """

    def __init__(self, client, net, blocks, n_threads=None):
        self.client = client
        self.net = net
        self.blocks = blocks
        self.n_threads = n_threads
        self.token = uuid.uuid4().hex
        self.template = _ship(client, net)
        self.coef_mask = _coef_mask(net)
        self.weight_total = None
        self.n_evaluations = 0

    @property
    def params(self):
        return self.net.params

    def __getattr__(self, name):
        # Anything else the L-BFGS loop may read (dtype, layer_sizes...) is the network's.
        if name == "net":
            raise AttributeError(name)
        return getattr(self.net, name)

    def _loss_and_grad(self, X, Y, sample_weight, alpha, l1=0.0, loss_scale=1.0, grad=None):
        """Loss and gradient at ``params`` over all blocks, with the kernel's conventions."""
        loss_sum, grad_sum, S = self.sums(self.net.params)
        self.weight_total = S
        W = np.where(self.coef_mask, self.net.params, 0.0).astype(np.float64)
        loss = loss_scale * loss_sum / S
        out = grad_sum / S
        if alpha:
            loss += 0.5 * alpha * float(W @ W) / S
            out += alpha * W / S
        if l1:
            loss += l1 * float(np.abs(W).sum()) / S
            out += l1 * np.sign(W) / S
        return float(loss), out.astype(self.net.dtype, copy=False)

    def sums(self, params):
        """(sum of block losses times their weight totals, same for gradients, total weight)."""
        from distributed import KilledWorker

        client = self.client
        shipped = _ship(client, np.array(params))
        # Each block's task goes where the block lives (a loose restriction: Dask still moves
        # it if that worker dies). Without it, work stealing ships whole X blocks between
        # workers to balance a few milliseconds of load. Blocks sorted by holder make the
        # first levels of the sum tree add partial results on the same worker.
        holders = client.who_has([Xb for Xb, _, _ in self.blocks])
        located = sorted(
            ((sorted(holders.get(block[0].key, ())), block) for block in self.blocks),
            key=lambda item: item[0],
        )
        parts = [
            client.submit(
                _block_sums,
                self.template,
                shipped,
                Xb,
                Yb,
                sb,
                self.token,
                self.n_threads,
                pure=False,
                workers=where or None,
                allow_other_workers=True,
            )
            for where, (Xb, Yb, sb) in located
        ]
        try:
            result = _tree_sum(client, parts).result()
        except (KilledWorker, CancelledError) as exc:
            raise RuntimeError(
                "The distributed L-BFGS fit lost a task for good (a Dask worker died more "
                "often than distributed.scheduler.allowed-failures retries); the estimator "
                "is left as it was before fit."
            ) from exc
        self.n_evaluations += 1
        return result

    def release(self):
        """Drop the references that keep the template and the data on the workers."""
        self.template = None
        self.blocks = []


def _ship(client, value):
    """``value`` as the result of a task: workers fetch it once each from the first holder.

    Unlike ``client.scatter``, whose broadcast waits on a worker that died unnoticed, a task
    keeps its lineage: the scheduler reruns it elsewhere if its holder dies.
    """
    return client.submit(_identity, value, pure=False)


def _identity(value):
    return value


def _coef_mask(net):
    """True where the flat parameters are weights (L2/L1 cover them, not the intercepts)."""
    mask = np.zeros(net.params.shape[0], dtype=bool)
    parts = net.unpack(mask)
    coefs = parts["coefs"] if isinstance(parts, dict) else parts[0]
    for view in coefs:
        view[...] = True
    return mask


def _tree_sum(client, parts):
    """Pairwise sums on the workers, log2(n_blocks) levels deep; one future left."""
    while len(parts) > 1:
        pairs = [
            client.submit(_add_sums, parts[i], parts[i + 1], pure=False)
            for i in range(0, len(parts) - 1, 2)
        ]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def _add_sums(a, b):
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


_LOCAL = threading.local()


def _worker_network(template, token):
    """This thread's copy of the fit's network (tasks on one worker may run in parallel)."""
    cached = getattr(_LOCAL, "network", None)
    if cached is None or cached[0] != token:
        cached = (token, copy.deepcopy(template))
        _LOCAL.network = cached
    return cached[1]


def _block_sums(template, params, X, Y, sample_weight, token, n_threads):
    """One row block's summed data loss and gradient (no regularisers) and its weight total.

    ``Network.loss_and_grad`` averages over the block's weight total ``S_b``; times ``S_b``
    the blocks add up to the whole data set's sums whatever their sizes and weights.
    """
    net = _worker_network(template, token)
    net.params[:] = params
    n = X.shape[0]
    S_b = float(n) if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))
    if n == 0 or S_b == 0.0:
        return 0.0, np.zeros(net.params.shape[0]), S_b
    with _thread_limits(n_threads):
        loss, grad = net.loss_and_grad(X, Y, sample_weight)
    return loss * S_b, grad.astype(np.float64) * S_b, S_b
