"""Integer codes that select activations and losses inside compiled kernels.

Kernels branch on small integers rather than taking function objects: a function argument
makes Numba compile a new specialisation per function and defeats the on-disk cache.
This module imports nothing from Numba so the Python layer can validate names cheaply.
"""

IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4
ELU = 5
SOFTMAX = 6
EXP = 7
PRELU = 8  # leaky relu with one learned slope per unit (slopes block in params)

ACTIVATIONS = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "softmax": SOFTMAX,
    "exp": EXP,
    "prelu": PRELU,
}
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "prelu")
OUTPUT_ACTIVATIONS = ("identity", "logistic", "softmax", "exp")

SQUARED_ERROR = 0
LOG_LOSS = 1
BINARY_LOG_LOSS = 2
POISSON = 3

LOSSES = {
    "squared_error": SQUARED_ERROR,
    "log_loss": LOG_LOSS,
    "binary_log_loss": BINARY_LOG_LOSS,
    "poisson": POISSON,
}

# Output activation and loss pairs whose delta dLoss/dZ is simply (output - target).
CANONICAL_PAIRS = {
    (IDENTITY, SQUARED_ERROR),
    (SOFTMAX, LOG_LOSS),
    (LOGISTIC, BINARY_LOG_LOSS),
    (EXP, POISSON),
}

# Optimizers.
SGD = 0
ADAM = 1
ADAMW = 2
ADAGRAD = 3
RMSPROP = 4

SOLVERS = {"sgd": SGD, "adam": ADAM, "adamw": ADAMW, "adagrad": ADAGRAD, "rmsprop": RMSPROP}
