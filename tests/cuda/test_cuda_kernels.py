"""CUDA kernels against the CPU kernels (themselves tested against fastmlp.reference).

Shapes are tiny (the simulator runs a Python thread per CUDA thread) but chosen to cover
the edges: several thread blocks per launch, widths and row counts that are not multiples
of the tile or block size, a single row.
"""

import numpy as np
import pytest

import fastmlp
from fastmlp.kernels import codes, layout

cuda = pytest.importorskip("numba.cuda", reason="needs the numba-cuda package")

from fastmlp.kernels import cpu  # noqa: E402
from fastmlp.kernels.cuda import dense, jit, optimizers  # noqa: E402
from fastmlp.kernels.cuda.network import check_supported  # noqa: E402

# 9 rows and widths 6 and 5 against TILE 4 (simulator) or 16 (GPU): partial tiles, and in
# the simulator several blocks per product.
SIZES = [3, 6, 5, 2]
ROWS = 9

# (hidden activation, output activation, loss): every activation, the canonical pairs and
# the non-canonical ones (loss gradient through the output's Jacobian).
CASES = [
    ("identity", "identity", "squared_error"),
    ("logistic", "logistic", "binary_log_loss"),
    ("tanh", "softmax", "log_loss"),
    ("relu", "exp", "poisson"),
    ("leaky_relu", "softmax", "squared_error"),
    ("elu", "logistic", "squared_error"),
]


def data(rng, n, out_activation, n_out=SIZES[-1], n_in=SIZES[0]):
    X = rng.normal(size=(n, n_in))
    if out_activation == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif out_activation == "logistic":
        Y = rng.integers(0, 2, (n, n_out)).astype(float)
    elif out_activation == "exp":
        Y = rng.poisson(1.5, (n, n_out)).astype(float)
    else:
        Y = rng.normal(size=(n, n_out))
    return X, Y


def pair(hidden, out, loss, dtype="float64", sizes=SIZES):
    make = lambda device: fastmlp.Network(  # noqa: E731
        sizes,
        activation=hidden,
        output_activation=out,
        loss=loss,
        dtype=dtype,
        random_state=0,
        device=device,
    )
    return make("cuda"), make("cpu")


@pytest.mark.parametrize("hidden,out,loss", CASES)
def test_loss_and_grad_matches_cpu(hidden, out, loss):
    rng = np.random.default_rng(1)
    gpu, cpu_net = pair(hidden, out, loss)
    X, Y = data(rng, ROWS, out)
    sw = rng.uniform(0.5, 2.0, ROWS)
    for kwargs in ({}, {"sample_weight": sw, "alpha": 0.3, "l1": 0.05, "loss_scale": 0.5}):
        loss_gpu, grad_gpu = gpu.loss_and_grad(X, Y, **kwargs)
        loss_cpu, grad_cpu = cpu_net.loss_and_grad(X, Y, **kwargs)
        assert isinstance(grad_gpu, np.ndarray)
        assert loss_gpu == pytest.approx(loss_cpu, rel=1e-12)
        np.testing.assert_allclose(grad_gpu, grad_cpu, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(gpu.forward(X), cpu_net.forward(X), rtol=1e-12, atol=1e-14)


def test_single_row_and_chunked_forward():
    rng = np.random.default_rng(2)
    gpu, cpu_net = pair("relu", "softmax", "log_loss")
    X, Y = data(rng, 1, "softmax")
    loss_gpu, grad_gpu = gpu.loss_and_grad(X, Y)
    loss_cpu, grad_cpu = cpu_net.loss_and_grad(X, Y)
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-12)
    np.testing.assert_allclose(grad_gpu, grad_cpu, rtol=1e-10, atol=1e-13)
    X = rng.normal(size=(7, SIZES[0]))
    np.testing.assert_allclose(gpu.forward(X, chunk_size=3), cpu_net.forward(X), rtol=1e-12)


def test_float32_within_round_off():
    rng = np.random.default_rng(3)
    gpu, cpu_net = pair("tanh", "softmax", "log_loss", dtype="float32")
    X, Y = data(rng, ROWS, "softmax")
    loss_gpu, grad_gpu = gpu.loss_and_grad(X, Y, alpha=0.1)
    loss_cpu, grad_cpu = cpu_net.loss_and_grad(X, Y, alpha=0.1)
    assert grad_gpu.dtype == np.float32
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-5)
    np.testing.assert_allclose(grad_gpu, grad_cpu, rtol=1e-4, atol=1e-6)


def test_wide_layer_spans_several_tiles_each_way():
    # 2 * TILE + 1 units: three tiles across the output, the inner dimension and the rows.
    width = 2 * jit.TILE + 1
    rng = np.random.default_rng(4)
    gpu, cpu_net = pair("relu", "identity", "squared_error", sizes=[width, width, 3])
    X, Y = data(rng, width, "identity", n_out=3, n_in=width)
    loss_gpu, grad_gpu = gpu.loss_and_grad(X, Y)
    loss_cpu, grad_cpu = cpu_net.loss_and_grad(X, Y)
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-12)
    np.testing.assert_allclose(grad_gpu, grad_cpu, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("code", [codes.RELU, codes.TANH])
def test_masked_delta_backward_matches_cpu(code):
    """The delta through a dropout mask (not reachable through loss_and_grad)."""
    rng = np.random.default_rng(5)
    n, fan_in, fan_out = 7, 5, 6
    D = rng.normal(size=(n, fan_out))
    W = rng.normal(size=(fan_in, fan_out))
    M = np.where(rng.random((n, fan_in)) < 0.6, 1 / 0.6, 0.0)
    A_prev = np.tanh(rng.normal(size=(n, fan_in))) * M
    expected = np.empty((n, fan_in))
    cpu.dense.delta_backward(D, W, A_prev, expected, code, 0.0, M)
    out = cuda.device_array((n, fan_in))
    grid, threads = jit.tiles(n, fan_in)
    dense.build(np.float64)[1][grid, threads](
        cuda.to_device(D),
        cuda.to_device(W),
        cuda.to_device(A_prev),
        out,
        code,
        0.0,
        cuda.to_device(M),
    )
    np.testing.assert_allclose(out.copy_to_host(), expected, rtol=1e-12, atol=1e-15)
    assert np.all(out.copy_to_host()[M == 0] == 0)


def test_dropout_rate_scaling_and_seeding():
    from numba.cuda.random import create_xoroshiro128p_states

    draw = dense.build(np.float64)[4]
    n, m, rate = 20, 20, 0.3

    def masks(seed, n=n, m=m):
        A = cuda.to_device(np.full((n, m), 2.0))
        M = cuda.device_array((n, m))
        states = create_xoroshiro128p_states(jit.RNG_STREAMS, seed)
        draw[jit.RNG_STREAMS // jit.THREADS, jit.THREADS](A, M, rate, states)
        return A.copy_to_host(), M.copy_to_host()

    A, M = masks(7)
    dropped = M == 0
    # Binomial(400, 0.3): the dropped fraction is within 4 standard deviations.
    assert abs(dropped.mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / (n * m))
    np.testing.assert_allclose(M[~dropped], 1 / (1 - rate))
    np.testing.assert_allclose(A[~dropped], 2 / (1 - rate))
    assert np.all(A[dropped] == 0)
    small = masks(7, 6, 5)[1]
    np.testing.assert_array_equal(masks(7, 6, 5)[1], small)  # same seed, same mask
    assert np.mean(masks(8, 6, 5)[1] != small) > 0.2  # another seed, another mask


@pytest.mark.parametrize("solver", sorted(codes.SOLVERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizer_update_matches_cpu(solver, dtype):
    rng = np.random.default_rng(6)
    size, n_decay, step = 2 * jit.THREADS + 13, 40, 3  # several blocks, a partial one
    params, grad = rng.normal(size=size).astype(dtype), rng.normal(size=size).astype(dtype)
    # adagrad's and rmsprop's state is a sum of squares: never negative.
    nonnegative = solver in ("adagrad", "rmsprop")
    s1 = (rng.uniform(0.1, 1.0, size) if nonnegative else rng.normal(size=size)).astype(dtype)
    s2 = rng.uniform(0.1, 1.0, size).astype(dtype)
    hp = layout.hyperparameters(
        dtype,
        learning_rate=0.01,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        weight_decay=0.1,
        rho=0.9,
    )
    code = codes.SOLVERS[solver]
    expected = [a.copy() for a in (params, s1, s2)]
    cpu.optimizer_update(code, *expected[:1], grad, *expected[1:], step, hp, n_decay)
    on_gpu = [cuda.to_device(a) for a in (params, s1, s2)]
    from fastmlp.kernels.cuda import optimizer_update

    optimizer_update(code, on_gpu[0], cuda.to_device(grad), on_gpu[1], on_gpu[2], step, hp, n_decay)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for got, want in zip(on_gpu, expected):
        np.testing.assert_allclose(got.copy_to_host(), want, rtol=rtol, atol=rtol * 1e-3)
    assert optimizers.build(dtype) is optimizers.build(dtype)  # built once per dtype


def test_batch_norm_and_prelu_are_refused():
    sizes, acts = [3, 4, 2], [codes.RELU, codes.IDENTITY]
    bn = layout.lay_out(sizes, acts, kinds=[layout.DENSE_BATCH_NORM, layout.DENSE])
    with pytest.raises(ValueError, match="batch_norm is not supported on cuda yet"):
        check_supported(bn.table)
    prelu = layout.lay_out(sizes, acts, prelu=[True, False])
    with pytest.raises(ValueError, match="prelu is not supported on cuda yet"):
        check_supported(prelu.table)
    check_supported(layout.lay_out(sizes, acts).table)  # plain dense layers pass


@pytest.mark.parametrize(
    "hidden,out,loss",
    [
        ("relu", "softmax", "log_loss"),
        ("tanh", "identity", "squared_error"),
        ("elu", "logistic", "binary_log_loss"),
    ],
)
@pytest.mark.parametrize("fuse", [True, False])
def test_fused_small_width_path_matches_cpu(hidden, out, loss, fuse, monkeypatch):
    """float32 networks at most FUSED_WIDTH wide: fused and per-layer paths alike."""
    from fastmlp import backend
    from fastmlp.kernels.cuda import network

    monkeypatch.setattr(network, "FUSED_ENABLED", fuse)
    sizes = [3, jit.FUSED_WIDTH, 5, 2]  # a full-width layer and partial ones
    gpu, cpu_net = pair(hidden, out, loss, dtype="float32", sizes=sizes)
    assert network.fused(backend.model(gpu), backend.workspace(gpu, 1)) is fuse
    rng = np.random.default_rng(8)
    rows = 2 * jit.FUSED_ROWS + 1  # three row tiles, the last with one row
    X, Y = data(rng, rows, out, n_out=2, n_in=3)
    loss_gpu, grad_gpu = gpu.loss_and_grad(X, Y, alpha=0.1)
    loss_cpu, grad_cpu = cpu_net.loss_and_grad(X, Y, alpha=0.1)
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-5)
    np.testing.assert_allclose(grad_gpu, grad_cpu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gpu.forward(X), cpu_net.forward(X), rtol=1e-5, atol=1e-7)
    X1, Y1 = X[:1], Y[:1]  # batch 1
    np.testing.assert_allclose(
        gpu.loss_and_grad(X1, Y1)[1], cpu_net.loss_and_grad(X1, Y1)[1], rtol=1e-4, atol=1e-6
    )


def test_fused_path_needs_float32_narrow_layers_and_no_dropout():
    from fastmlp import backend
    from fastmlp.kernels.cuda import network

    narrow = [3, jit.FUSED_WIDTH, 2]
    for sizes, dtype, dropout, expected in [
        (narrow, "float32", None, True),
        (narrow, "float64", None, False),
        ([3, jit.FUSED_WIDTH + 1, 2], "float32", None, False),
        ([jit.FUSED_WIDTH + 1, 4, 2], "float32", None, False),
        (narrow, "float32", np.array([0.2]), False),
    ]:
        net = fastmlp.Network(sizes, dtype=dtype, device="cuda", random_state=0)
        ws = backend.workspace(net, 2, dropout)
        assert network.fused(backend.model(net), ws) is expected, (sizes, dtype, dropout)
