"""The compiled CPU kernels, called directly: forward, loss and gradient, one layer's
forward / backward / gradient kernels, optimizer updates.

The kernels' arguments are built once in ``setup`` through the backend seam (model,
workspace, optimizer state) and the layout's hyperparameter vector, and every kernel is
called once there, so compilation or loading from
Numba's on-disk cache never lands in the timed body.
"""

import numpy as np

from fastmlp import backend
from fastmlp.kernels import codes, cpu, layout
from fastmlp.kernels.cpu import dense

from .common import DTYPES, make_data, make_network, parse_case

# network@batch: the shapes of docs/benchmarks.md, from a tiny regressor to a wide MLP.
CASES = ["10-32-1@1", "20-64-64-2@16", "64-128-10@64", "784-512-10@128", "784-1024-1024-10@256"]


class _KernelCase:
    params = (CASES, DTYPES)
    param_names = ["network@batch", "dtype"]

    def setup(self, case, dtype):
        sizes, batch = parse_case(case)
        self.net = make_network(sizes, dtype)
        self.X, self.Y, _ = make_data(sizes, batch, dtype)
        self.model = backend.model(self.net)
        self.ws = backend.workspace(self.net, batch)
        self.grad = np.empty_like(self.net.params)
        self.sw = np.empty(0, dtype=self.net.dtype)
        self.hp = layout.hyperparameters(self.net.dtype)


class Forward(_KernelCase):
    """``cpu.forward``: every layer's fused product + bias + activation for one batch."""

    def setup(self, case, dtype):
        super().setup(case, dtype)
        cpu.forward(self.model, self.X, self.ws)

    def time_forward(self, case, dtype):
        cpu.forward(self.model, self.X, self.ws)


class LossAndGrad(_KernelCase):
    """``cpu.loss_and_grad``: forward, loss, output delta and backpropagation of one batch."""

    def setup(self, case, dtype):
        super().setup(case, dtype)
        cpu.loss_and_grad(self.model, self.grad, self.X, self.Y, self.sw, self.hp, self.ws)

    def time_loss_and_grad(self, case, dtype):
        cpu.loss_and_grad(self.model, self.grad, self.X, self.Y, self.sw, self.hp, self.ws)


class Layer:
    """One dense layer's kernels on their own: the fused product + bias + relu forward, the
    delta pushed back through it (``D @ W.T`` times relu'), and its weight and intercept
    gradients (``A.T @ D``, column sums of ``D``). Shapes are batch x fan_in x fan_out; at
    the smallest, most of the ~1 us is Numba's dispatch from Python (0.4 us measured with
    timeit), which the training loop never pays per layer.
    """

    params = (["1x10x32", "16x64x64", "64x128x10", "128x784x512", "256x1024x1024"], DTYPES)
    param_names = ["batch x fan_in x fan_out", "dtype"]

    def setup(self, shape, dtype):
        batch, fan_in, fan_out = (int(s) for s in shape.split("x"))
        rng = np.random.RandomState(0)

        def draw(*dims):
            return rng.standard_normal(dims).astype(dtype)

        self.A, self.W, self.b = draw(batch, fan_in), draw(fan_in, fan_out), draw(fan_out)
        self.out, self.D = np.empty((batch, fan_out), dtype=dtype), draw(batch, fan_out)
        self.D_prev = np.empty((batch, fan_in), dtype=dtype)
        self.gW, self.gb = np.empty_like(self.W), np.empty_like(self.b)
        self.no_mask = np.empty((0, 0), dtype=dtype)
        self.time_forward(shape, dtype)
        self.time_backward_delta(shape, dtype)
        self.time_grads(shape, dtype)

    def time_forward(self, shape, dtype):
        dense.dense_forward(self.A, self.W, self.b, self.out, codes.RELU, 0.0)

    def time_backward_delta(self, shape, dtype):
        dense.delta_backward(self.D, self.W, self.A, self.D_prev, codes.RELU, 0.0, self.no_mask)

    def time_grads(self, shape, dtype):
        dense.dense_grads(self.A, self.D, self.W, self.gW, self.gb, 0.0)


class OptimizerUpdate:
    """``cpu.optimizer_update``: one fused in-place pass over the flat parameter buffer.

    The cost depends only on the parameter count: 2 242 (10-32-1), 407 050 (784-512-10)
    and 1 863 690 (784-1024-1024-10) entries.
    """

    params = (
        ["sgd", "adam", "adamw", "adagrad", "rmsprop"],
        ["10-32-1", "784-512-10", "784-1024-1024-10"],
        DTYPES,
    )
    param_names = ["solver", "network", "dtype"]

    def setup(self, solver, network, dtype):
        sizes, _ = parse_case(network)
        self.net = make_network(sizes, dtype)
        rng = np.random.RandomState(1)
        self.grad = (1e-3 * rng.standard_normal(self.net.n_params)).astype(self.net.dtype)
        self.state = backend.optimizer_state(self.net, solver)
        self.hp = layout.hyperparameters(
            self.net.dtype,
            learning_rate=1e-4,
            momentum=0.9,
            nesterovs_momentum=True,
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-8,
            weight_decay=0.01,
            rho=0.9,
        )
        self.n_decay = self.net.n_weights
        self.update()

    def update(self):
        s = self.state
        cpu.optimizer_update(
            s.solver, self.net.params, self.grad, s.state1, s.state2, 10, self.hp, self.n_decay
        )

    def time_update(self, solver, network, dtype):
        self.update()
