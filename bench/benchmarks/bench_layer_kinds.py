"""What batch norm and PReLU cost: training epochs and prediction beside plain relu layers.

The budgets (float32): an epoch with batch norm at most 30% slower than without at
784-256-128-10 batch 128 and 60% at 20-64-64-2 batch 16; PReLU at most 10% slower than
relu; prediction with batch norm (folded into the dense layers) within 5% of without.
``python -m bench.layer_kinds`` runs these same classes interleaved and prints the ratios.
"""

import fastmlp

from .bench_training import n_samples_for
from .common import SEED, make_data, parse_case, task_of

CASES = ["784-256-128-10@128", "20-64-64-2@16"]
# variant -> (hidden activation, batch norm)
VARIANTS = {
    "relu": ("relu", False),
    "relu+bn": ("relu", True),
    "prelu": ("prelu", False),
    "prelu+bn": ("prelu", True),
}


def make_variant(sizes, dtype, variant):
    """The network of ``variant`` for ``task_of(sizes)``, drawn with the fixed seed."""
    activation, batch_norm = VARIANTS[variant]
    out, loss = (
        ("identity", "squared_error") if task_of(sizes) == "regression" else ("softmax", "log_loss")
    )
    return fastmlp.Network(
        list(sizes),
        activation=activation,
        batch_norm=batch_norm,
        output_activation=out,
        loss=loss,
        dtype=dtype,
        random_state=SEED,
    )


class LayerKindEpoch:
    """``Network.fit(max_iter=1)`` (diagnostics off) per layer kind."""

    params = (CASES, list(VARIANTS), ["float32"])
    param_names = ["network@batch", "variant", "dtype"]

    def setup(self, case, variant, dtype):
        sizes, self.batch = parse_case(case)
        self.net = make_variant(sizes, dtype, variant)
        self.X, self.Y, _ = make_data(sizes, n_samples_for(sizes), dtype)
        self.fit()

    def fit(self):
        return self.net.fit(
            self.X, self.Y, batch_size=self.batch, max_iter=1, random_state=0, diagnostics=False
        )

    def time_epoch(self, case, variant, dtype):
        self.fit()


class LayerKindPredict:
    """``Network.forward`` on 20 000 rows per layer kind (batch norm folded)."""

    params = (["784-256-128-10", "20-64-64-2"], list(VARIANTS), ["float32"])
    param_names = ["network", "variant", "dtype"]

    def setup(self, network, variant, dtype):
        sizes, _ = parse_case(network)
        self.net = make_variant(sizes, dtype, variant)
        self.X, Y, _ = make_data(sizes, 20_000, dtype)
        self.net.fit(self.X[:2000], Y[:2000], batch_size=200, max_iter=1, random_state=0)
        self.net.forward(self.X)

    def time_forward(self, network, variant, dtype):
        self.net.forward(self.X)
