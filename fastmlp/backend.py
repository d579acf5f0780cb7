"""The backend seam: the one module of fastmlp that talks to compiled kernels.

A *target* (``"cpu"``, ``"cuda"``) is a row of a table: its kernel module, which
exports the same operation names on every target (``Model``, ``Workspace``, ``OptState``,
``Batch``, ``Diagnostics``, ``forward``, ``loss_and_grad``, ``optimizer_update``,
``train_epoch``), and how it allocates arrays and brings them back to the host. The rest
of fastmlp (``Network``, the training loop, the estimators) calls the functions below with
a network and never imports a kernel module. Kernel modules are imported on first use, so
``import fastmlp`` compiles and loads nothing for a target nobody asked for.

Every buffer's layout comes from :mod:`fastmlp.kernels.layout`.
"""

import contextlib
import gc
import importlib
import math
import sys
import threading
from dataclasses import dataclass

import numpy as np

from ._validation import is_ready
from .kernels import codes, layout


@dataclass(frozen=True)
class Target:
    """How one target runs: its kernels and its array allocation."""

    name: str
    kernels: object  # the kernel module (kernels.cpu, ...)
    empty: object  # empty(shape, dtype) -> array on the target
    zeros: object  # zeros(shape, dtype) -> array on the target (1-D shapes on a GPU)
    to_host: object  # array on the target -> NumPy array
    to_device: object  # NumPy array -> array on the target (the array itself on the CPU)
    session: object  # session(net) -> where a fit keeps the parameters (see fit_session)


class DeviceUnavailableError(RuntimeError):
    """A device was asked for that this machine cannot provide (what is missing is named)."""


def _cpu():
    cpu = importlib.import_module(".kernels.cpu", __package__)
    return Target("cpu", cpu, aligned_empty, aligned_zeros, np.asarray, _identity, HostSession)


CACHE_LINE = 64  # bytes


def aligned_empty(shape, dtype):
    """``np.empty(shape, dtype)`` on whole cache lines of its own.

    Vector loads from a line-aligned buffer never straddle two lines: NumPy aligns to 16
    bytes, and that cost the small-batch steps 10-20% (docs/benchmarks.md, "Buffers on
    whole cache lines"). Buffers of two fits in two threads share no line either.
    """
    dtype = np.dtype(dtype)
    n_bytes = math.prod(shape if isinstance(shape, tuple) else (shape,)) * dtype.itemsize
    if n_bytes == 0:  # no line to own; the address lookup below costs ~1.5 us of ~3.5
        return np.empty(shape, dtype)
    raw = np.empty(n_bytes + 2 * CACHE_LINE, dtype=np.uint8)
    start = -raw.ctypes.data % CACHE_LINE
    return raw[start : start + n_bytes].view(dtype).reshape(shape)


def aligned_zeros(shape, dtype):
    """``np.zeros(shape, dtype)`` laid out as :func:`aligned_empty`."""
    array = aligned_empty(shape, dtype)
    array.fill(0)
    return array


def aligned_copy(values, dtype):
    """A writeable C-ordered copy of ``values`` as ``dtype``, laid out as :func:`aligned_empty`."""
    values = np.asarray(values)
    array = aligned_empty(values.shape, dtype)
    array[...] = values
    return array


def _identity(array):
    return array


def _cuda():
    try:
        cuda = importlib.import_module("numba.cuda")
    except ImportError as error:
        raise DeviceUnavailableError(
            f"device='cuda' needs the numba-cuda package: pip install 'fastmlp[cuda]' ({error})."
        ) from None
    if not cuda.is_available():
        raise DeviceUnavailableError(
            f"device='cuda' needs a usable NVIDIA GPU: {_cuda_missing(cuda)}."
        )
    kernels = importlib.import_module(".kernels.cuda", __package__)

    def to_host(array):
        return array.copy_to_host() if kernels.is_device_array(array) else np.asarray(array)

    return Target(
        "cuda", kernels, cuda.device_array, kernels.zeros, to_host, kernels.as_device, DeviceSession
    )


def _cuda_missing(cuda):
    """What stops CUDA here: the driver library, or any device."""
    try:
        count = cuda.cudadrv.driver.driver.get_device_count()
    except Exception as error:  # CudaSupportError and friends: no usable driver
        return f"the NVIDIA driver could not be loaded ({' '.join(str(error).split())})"
    if count == 0:
        return "the NVIDIA driver found no CUDA device"
    return "no CUDA device could be used (see numba.cuda.detect())"


def cuda_available():
    """True when ``device="cuda"`` can run here: a usable NVIDIA GPU with its driver and
    the numba-cuda package, or Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    try:
        cuda = importlib.import_module("numba.cuda")
    except ImportError:
        return False
    return bool(cuda.is_available())


_LOADERS = {"cpu": _cpu, "cuda": _cuda}
_LOADED = {}


def target(name):
    """The :class:`Target` called ``name``, its kernels imported on first use."""
    if name not in _LOADERS:
        raise ValueError(f"Unknown device {name!r}; expected one of {sorted(_LOADERS)}.")
    if name not in _LOADED:
        _LOADED[name] = _LOADERS[name]()
    return _LOADED[name]


def check_device(net, name):
    """Raise if network ``net`` cannot run on device ``name`` (loading it on first use)."""
    t = target(name)
    if name == "cuda":
        t.kernels.check_supported(net.layout.table)


def to_target(net, array):
    """``array`` where ``net``'s kernels run: itself on the CPU (no copy), a device copy on
    a GPU. Training copies its data once per fit with this."""
    return target(net.device).to_device(array)


# ---- calling kernels -----------------------------------------------------------------------
_gc_lock = threading.Lock()
_gc_pauses = 0  # kernel calls in flight that paused the collector (any thread)
_gc_was_enabled = False


# The first call of a kernel for a dtype in a process may compile it (seconds) or load it
# from the disk cache (milliseconds): a call still running after this long says which.
COMPILE_NOTICE_SECONDS = 1.0
_first_calls_done = set()  # (id(kernel), dtype.char) pairs called before in this process


def _notice_slow_first_call(kernel, dtype):
    """A timer that tells the user, once, that a slow first call is compiling; or None."""
    dtype = np.dtype(dtype)
    # id() and the type character: hashing a dispatcher or reading dtype.name costs ~2 us.
    key = (id(kernel), dtype.char)
    if key in _first_calls_done:
        return None
    _first_calls_done.add(key)
    timer = threading.Timer(COMPILE_NOTICE_SECONDS, _say_compiling, [dtype.name])
    timer.daemon = True
    timer.start()
    return timer


_announced = set()  # dtypes whose compilation was announced


def _say_compiling(dtype):
    if dtype in _announced:  # one line per dtype, however many kernels compile
        return
    _announced.add(dtype)
    print(
        f"fastmlp: compiling kernels for {dtype} (once per dtype; later runs load them from "
        "the disk cache)...",
        file=sys.stderr,
        flush=True,
    )


def run_kernel(kernel, *args, dtype=None):
    """Call a compiled kernel with Python's cyclic garbage collector paused.

    A kernel's first call in a process may compile it, and Numba's compiler allocates
    millions of short-lived objects: the collector's passes over them took ~0.6 s of a
    ~5 s cold first fit. The kernels themselves allocate no Python objects, so pausing
    costs nothing. Calls from several threads share one pause: the collector resumes (if
    it was on before the first of them) when the last of them returns. With ``dtype``, a
    first call for that dtype that runs past ``COMPILE_NOTICE_SECONDS`` says it is compiling.
    """
    timer = None if dtype is None else _notice_slow_first_call(kernel, dtype)
    try:
        with _collector_paused():
            return kernel(*args)
    finally:
        if timer is not None:
            timer.cancel()


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector paused (see :func:`run_kernel`)."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def run_prepared(net, rows, kernel, *args):
    """:func:`prepare_products` for batches of at least ``rows`` rows, then
    ``run_kernel(kernel, *args)``. A kernel that needs compiling may do so in the first,
    beside the micro-kernels (kernels/cpu/ahead.py), under the same notice and pause."""
    timer = _notice_slow_first_call(kernel, net.dtype)
    try:
        with _collector_paused():
            prepare_products(net, rows, (kernel, args))
        return run_kernel(kernel, *args)
    finally:
        if timer is not None:
            timer.cancel()


_products_ready = set()  # (device, dtype character) pairs with every product loaded


def prepare_products(net, rows, caller=None):
    """Before a kernel call of ``net`` whose batches have at least ``rows`` rows: load the
    matrix-product micro-kernels it may pick (float32 on the CPU; compiled on first need).
    ``caller``: ``(kernel, args)`` of that call, which may then compile meanwhile: a
    caller always asks, since its kernel may still need compiling where the products
    need nothing more."""
    key = (net.device, net.dtype.char)
    if caller is None and key in _products_ready:
        return
    ops = target(net.device).kernels
    # Under "few" most calls need nothing, and asking cost ~0.9 us (an 8-row forward of
    # 64-64-64-10 takes ~5 us).
    if caller is None and rows > ops.MICRO_KERNEL_ROWS:
        return
    if ops.prepare_products(net.dtype, rows, net.layer_sizes, caller):
        _products_ready.add(key)


def fewest_rows(n, batch_size):
    """The fewest rows of any batch when ``n`` rows go ``batch_size`` at a time."""
    return n % batch_size or min(n, batch_size)


def kernel_weights(sample_weight, dtype):
    """Sample weights as the kernels take them: an empty array stands for unit weights
    (one compiled signature serves both cases)."""
    return np.empty(0, dtype=dtype) if sample_weight is None else sample_weight


def model(net, training=True, update=False):
    """The kernels' view of ``net``: its flat parameters, layer table and running statistics.

    Batch-norm layers normalise with the batch's statistics when ``training`` (updating the
    running statistics too when ``update``), else with the running statistics.
    """
    ops = target(net.device).kernels
    bn = layout.batch_norm_settings(
        net.batch_norm_epsilon, net.batch_norm_momentum, training, update
    )
    return ops.Model(
        net.params,
        net.layout.table,
        net._act_params,
        net._loss_code,
        net.state if net.layout.extras else None,
        bn,
    )


def inference_model(net):
    """The kernels' view of ``net`` for inference: batch norm folded into the dense layers
    (``Network.folded``), so inference costs what it costs without batch norm."""
    if not net.layout.n_state:
        return model(net, training=False)
    ops = target(net.device).kernels
    flat, folded_layout = net._folded_buffer()
    state = net.state[:0] if folded_layout.extras else None
    return ops.Model(
        flat,
        folded_layout.table,
        net._act_params,
        net._loss_code,
        state,
        layout.batch_norm_settings(),
    )


def workspace(net, n_rows, dropout=None):
    """Flat activation, delta and (with dropout) mask buffers for up to ``n_rows`` rows, and
    the buffers batch norm and PReLU need (empty for networks without them)."""
    t = target(net.device)
    size = n_rows * net.layout.n_units
    dropping = dropout is not None and np.any(dropout > 0)
    fused = net.layout.extras
    units = net.layout.n_units if net.layout.n_state else 0
    return t.kernels.Workspace(
        n_rows,
        t.empty(size, net.dtype),
        t.empty(size, net.dtype),
        t.empty(size if dropping else 0, net.dtype),
        dropout if dropping else None,
        t.empty(size if fused else 0, net.dtype),
        t.empty(units, net.dtype),
        t.empty(units, net.dtype),
    )


# ---- whole-network operations --------------------------------------------------------------
def forward_training(net, X):
    """Outputs of ``net`` for checked ``X`` as during training: batch norm with the
    statistics of all of ``X`` (one kernel call), the running statistics left alone."""
    t = target(net.device)
    ws = workspace(net, X.shape[0])
    prepare_products(net, X.shape[0])
    out = run_kernel(t.kernels.forward, model(net, training=True), X, ws)
    return np.array(t.to_host(out))


def predict(net, X, chunk_size):
    """Inference outputs of ``net`` for ``X`` (a C-contiguous 2-D array of its dtype with the
    right column count) and a ``layout.PREDICT_*`` status (the outputs are incomplete when
    ``X`` holds a NaN or infinity).

    ``chunk_size`` rows at a time share one workspace. After the first call for a dtype
    (which may compile), a network without batch norm and PReLU calls its compiled kernel
    directly (``_latency_kernels``).

    Batch norm is folded into the dense layers (:func:`inference_model`) when that is
    cheaper than normalising every row: folding costs about one operation per weight,
    normalising in the kernel about one per unit and row. Few rows (latency) are therefore
    normalised with the running statistics, many rows run the folded network; the two
    agree within round-off.
    """
    lay, dtype = net.layout, net.dtype
    out = np.empty((X.shape[0], net.layer_sizes[-1]), dtype)
    key = (net.device, dtype.char)
    plain = _latency_kernels.get(key)
    if plain is not None and not lay.extras:  # the latency path
        return out, plain(net.params, lay.table, net._act_params, X, out, chunk_size)
    t = target(net.device)
    if lay.extras:
        kernel = t.kernels.predict
        args = _predict_extras_args(net, t, X, out, chunk_size)
    else:  # the kernel allocates its workspace, no buffers to build
        kernel = t.kernels.predict_plain
        args = (net.params, lay.table, net._act_params, X, out, chunk_size)
    if key not in _products_ready:
        prepare_products(net, fewest_rows(X.shape[0], chunk_size))
    if (id(kernel), dtype.char) not in _first_calls_done:
        return out, run_kernel(kernel, *args, dtype=dtype)  # may compile
    if key in _products_ready and not lay.extras:
        _latency_kernels[key] = _compiled(kernel, args) if t.name == "cpu" else kernel
    return out, kernel(*args)  # run_kernel's collector pause costs ~0.3 us


# {(device, dtype character): the plain inference kernel}, once it has been called
# (compiled) and every product is loaded: predict() then calls it after one lookup. The
# checks, the target lookup and the collector pause it skips cost ~0.1-0.3 us each against
# ~1.5 us for the kernel of a one-row 64-64-64-10 prediction.
_latency_kernels = {}


def no_latency_path(X, chunk_size):
    """The latency path of a network that has none (yet): every call takes predict()."""
    return None


def latency_predictor(net):
    """``predict_ready(X, chunk_size) -> outputs or None``: predict()'s latency path bound
    to ``net``'s buffers, or ``no_latency_path`` while predict() has none for ``net`` (not
    yet compiled, or batch norm or PReLU).

    It returns None, leaving the call to the general path and its errors, for an input that
    is not ready (``is_ready`` and the column count), a NaN or infinity in or out, and a
    network whose ``params`` was rebound. Against predict() it saves the lookups of the
    network's buffers, the kernel and the output width (~0.6 us of a 2.8 us one-row
    64-64-64-10 ``Network.forward`` on the Zen 3).
    """
    kernel = _latency_kernels.get((net.device, net.dtype.char))
    if kernel is None or net.layout.extras:
        return no_latency_path
    params, table, act_params, dtype = net.params, net.layout.table, net._act_params, net.dtype
    n_inputs, n_outputs = net.layer_sizes[0], net.layer_sizes[-1]

    def predict_ready(X, chunk_size):
        if not (is_ready(X, dtype) and X.shape[1] == n_inputs and net.params is params):
            return None
        out = np.empty((X.shape[0], n_outputs), dtype)
        if kernel(params, table, act_params, X, out, chunk_size) == layout.PREDICT_OK:
            return out
        return None

    return predict_ready


def _compiled(dispatcher, args):
    """The machine code a Numba dispatcher runs for ``args``, callable without the
    dispatcher typing every argument (~0.25 us of that one-row prediction). Its callers
    pass arguments of the same types: the network's own buffers, a fresh output, and an
    input that passed ``is_ready`` (a read-only or unaligned one only reads as well)."""
    return dispatcher.get_overload(tuple(dispatcher.typeof_pyval(a) for a in args))


def _predict_extras_args(net, t, X, out, chunk_size):
    """The inference kernel's arguments for a network with batch norm or PReLU."""
    lay, n = net.layout, X.shape[0]
    acts = t.empty(min(chunk_size, n) * lay.n_units, net.dtype)
    fold = lay.n_state and n * lay.n_units >= lay.n_weights
    m = inference_model(net) if fold else model(net, training=False)
    fused = m.state is not None
    pre = t.empty(acts.size if fused else 0, net.dtype)  # the pre-activations
    units = lay.n_units if fused and not fold else 0
    return (
        m.params,
        m.layers,
        m.act_params,
        m.state,
        m.bn,
        X,
        out,
        acts,
        pre,
        t.empty(units, net.dtype),
        t.empty(units, net.dtype),
    )


def calibrate_batch_norm(net, X):
    """Running statistics <- the batch statistics of checked ``X`` (one training-mode
    forward pass with momentum 1)."""
    t = target(net.device)
    m = model(net, training=True, update=True)
    m.bn[layout.BN_MOMENTUM] = 1.0
    prepare_products(net, X.shape[0])
    run_kernel(t.kernels.forward, m, X, workspace(net, X.shape[0]))


def loss_and_grad(net, X, Y, sw, hp, grad=None, inference=False):
    """Loss of checked data and its flat gradient (written into ``grad`` when given; a
    host array on every target).

    Batch norm uses the batch's statistics and leaves the running ones alone; with
    ``inference`` it is folded instead (the loss of the inference outputs; the gradient,
    then in the folded layout, is for internal use only).
    """
    t = target(net.device)
    m = inference_model(net) if inference else model(net, training=True)
    on_target = grad if grad is not None and t.name == "cpu" else None
    if on_target is None:
        on_target = t.empty(m.params.shape, net.dtype)
    loss = run_prepared(
        net,
        X.shape[0],
        t.kernels.loss_and_grad,
        m,
        on_target,
        X,
        Y,
        kernel_weights(sw, net.dtype),
        hp,
        workspace(net, X.shape[0]),
    )
    if grad is None:
        return float(loss), t.to_host(on_target)
    if on_target is not grad:
        grad[:] = t.to_host(on_target)
    return float(loss), grad


def optimizer_state(net, solver):
    """Zeroed optimizer state of ``solver`` (a name) in the parameters' layout."""
    t = target(net.device)
    two_moments = solver in ("adam", "adamw")
    return t.kernels.OptState(
        codes.SOLVERS[solver],
        t.zeros(net.params.shape, net.dtype),
        t.zeros(net.params.shape if two_moments else 0, net.dtype),
        np.zeros(1, dtype=np.int64),
    )


def optimizer_state_on(state, device):
    """Optimizer state ``state`` on ``device``: itself when it is there, else a copy (a
    network moved between devices keeps its optimizer; a pickle holds host arrays)."""
    t = target(device)
    if isinstance(state, t.kernels.OptState):
        return state

    def moved(array):
        host = array.copy_to_host() if hasattr(array, "copy_to_host") else np.array(array)
        return t.to_device(host)

    return t.kernels.OptState(
        state.solver,
        moved(state.state1),
        moved(state.state2),
        np.array(state.step),
    )


class EpochBuffers:
    """Everything one compiled epoch writes into, allocated once per fit for the largest batch."""

    def __init__(self, net, rows, dropout, diagnostics, clipping=False):
        t = target(net.device)
        self.kernels = t.kernels
        if net.layout.n_state:
            rows += 1  # room for a last one-row minibatch joining the one before it
        self.grad = t.empty(net.params.shape, net.dtype)
        self.batch = t.kernels.Batch(
            t.empty((rows, net.layer_sizes[0]), net.dtype),
            t.empty((rows, net.layer_sizes[-1]), net.dtype),
            t.empty(rows, net.dtype),
        )
        self.workspace = workspace(net, rows, dropout)
        # None for what the epoch need not compute (the kernels then compile none of it).
        self.diag = t.kernels.Diagnostics(
            diagnostics,
            np.zeros(sum(net.layer_sizes[1:-1]), dtype=net.dtype) if diagnostics else None,
            np.zeros(net.n_layers) if diagnostics or clipping else None,
            np.zeros(layout.N_STATS),
        )

    def reset(self):
        for accumulator in (self.diag.peak, self.diag.layer_grad_norms, self.diag.stats):
            if accumulator is not None:
                accumulator[:] = 0.0


def train_epoch(session, buffers, opt_state, hp, X, Y, sw, order, batch_size, seed):
    """One compiled pass over ``X[order]`` on the parameters of ``session`` (a
    :func:`fit_session`); the statistics land in ``buffers.diag.stats``."""
    buffers.reset()
    run_prepared(
        session.net,
        fewest_rows(len(order), batch_size),
        buffers.kernels.train_epoch,
        session.model(),
        buffers.grad,
        opt_state,
        hp,
        X,
        Y,
        sw,
        session.order(order),
        batch_size,
        seed,
        buffers.batch,
        buffers.workspace,
        buffers.diag,
    )


# ---- where a fit keeps the parameters ------------------------------------------------------
def fit_session(net):
    """Where ``net``'s kernels train its parameters for a whole fit (``open`` before the
    first epoch, ``close`` after the last, however the fit ends), keeping the last epoch's
    copy for the divergence rollback.

    On the CPU the kernels update ``net.params`` itself (:class:`HostSession`); on a GPU
    the parameters cross to the device on ``open`` and come back into ``net.params`` on
    ``close`` and on ``sync`` (:class:`DeviceSession`). Between the two, ``net.params`` is
    stale on a GPU: code that reads it during a fit (validation scoring) calls ``sync``
    first.
    """
    return target(net.device).session(net)


_TINY = np.finfo(np.float64).tiny


def _update_ratios(moved, size):
    """||p_after - p_before|| / ||p_after|| per layer from the two sums of squares."""
    return np.sqrt(moved) / np.maximum(np.sqrt(size), _TINY)


class HostSession:
    """A fit on host parameters (the CPU target): the kernels update ``net.params`` in
    place; the parameters before each epoch are kept on the host. Nothing is copied
    besides that snapshot."""

    def __init__(self, net):
        self.net = net
        self.previous = self.previous_state = None

    def open(self):
        """Nothing to move: the kernels train ``net.params``."""

    def close(self):
        """Nothing to bring back."""

    def model(self):
        """The kernels' view of the network for a training epoch."""
        return model(self.net, training=True, update=True)

    def order(self, order):
        """The sample order where the kernels read it."""
        return order

    def snapshot(self):
        """Keep the parameters and running statistics (before an epoch)."""
        self.previous = self.net.params.copy()
        self.previous_state = self.net.state.copy()

    def diverged(self, stats):
        """Whether the epoch that wrote ``stats`` left a non-finite loss or parameter."""
        return bool(stats[layout.STAT_DIVERGED]) or not np.all(np.isfinite(self.net.params))

    def restore(self):
        """Put back the parameters and running statistics of the last snapshot."""
        self.net.params[:] = self.previous
        self.net.state[:] = self.previous_state

    def sync(self):
        """``net.params`` is the trained buffer itself: nothing to bring back."""

    def update_ratios(self):
        """||p_after - p_before|| / ||p_after|| per layer since the snapshot, p the layer's
        weights with its batch-norm scale and shift and PReLU slopes (not the intercepts,
        as before those existed).

        Each is a contiguous run of the flat buffer (layout.ratio_runs); the weights of all
        layers are one prefix, summed layer by layer by one ``np.add.reduceat`` (~20 us an
        epoch for 20-64-64-2 with a dot product per run, ~160 us with views and copies).
        """
        net = self.net
        after, table = net.params, net.layout.table
        step = after - self.previous
        weights = slice(0, net.layout.n_weights)
        starts = table[:, layout.W_START]
        moved = np.add.reduceat(np.square(step[weights]), starts).astype(np.float64)
        size = np.add.reduceat(np.square(after[weights]), starts).astype(np.float64)
        if net.layout.extras:  # the batch-norm and PReLU blocks after the intercepts
            for l in range(net.n_layers):
                for r in layout.ratio_runs(table, l)[1:]:
                    moved[l] += float(np.dot(step[r], step[r]))
                    size[l] += float(np.dot(after[r], after[r]))
        return _update_ratios(moved, size)


class DeviceSession:
    """A fit on device parameters (the CUDA target): ``net.params`` crosses to the device
    when the session opens and comes back when it closes (and on :meth:`sync`). In
    between, an epoch moves only scalars and short vectors between host and device: the
    snapshot, the rollback, the finiteness check and the update ratios run on the device.
    Optimizer state is on the device already (:func:`optimizer_state`); batch norm, whose
    running statistics would also live here, is refused on this target.
    """

    def __init__(self, net):
        self.net = net
        self.target = target(net.device)
        self._model = self.previous = self._order = self._runs = self._sums = None

    def open(self):
        """Copy the parameters to the device (the one parameter-sized copy in)."""
        t, net = self.target, self.net
        self._model = model(net, training=True, update=True)
        self.previous = t.empty(net.params.shape, net.dtype)

    def close(self):
        """Bring the parameters back into ``net.params`` (also after a failed ``open``)."""
        self.sync()

    def model(self):
        """The kernels' view of the network, its parameters on the device."""
        return self._model

    def order(self, order):
        """``order`` copied into a device buffer kept for the session (one copy an epoch:
        the shuffle follows scikit-learn's random stream on the host)."""
        if self._order is None or self._order.shape != order.shape:
            self._order = self.target.empty(order.shape, order.dtype)
        self._order.copy_to_device(order)
        return self._order

    def snapshot(self):
        """Keep the parameters before an epoch: a copy within device memory."""
        self.target.kernels.copy_params(self.previous, self._model.params)

    def diverged(self, stats):
        """Whether the epoch that wrote ``stats`` left a non-finite loss or parameter (the
        epoch flags both on the device)."""
        return bool(stats[layout.STAT_DIVERGED])

    def restore(self):
        """Put back the parameters of the last snapshot, on the device."""
        self.target.kernels.copy_params(self._model.params, self.previous)

    def sync(self):
        """``net.params`` <- the device parameters (the one parameter-sized copy back)."""
        if self._model is not None:
            self._model.params.copy_to_host(self.net.params)

    def update_ratios(self):
        """The per-layer update ratios of :meth:`HostSession.update_ratios`, the sums of
        squares computed on the device (16 bytes a layer come back)."""
        net, t = self.net, self.target
        if self._runs is None:
            runs = np.zeros((net.n_layers, 4), dtype=np.int64)  # up to two runs a layer
            for l in range(net.n_layers):
                for k, r in enumerate(layout.ratio_runs(net.layout.table, l)):
                    runs[l, 2 * k : 2 * k + 2] = r.start, r.stop
            self._runs = t.to_device(runs)
            self._sums = t.empty((net.n_layers, 2), np.float64)
        sums = t.kernels.update_ratio_sums(
            self._model.params, self.previous, self._runs, self._sums
        )
        return _update_ratios(sums[:, 0], sums[:, 1])
