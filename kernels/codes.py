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

ACTIVATIONS = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "softmax": SOFTMAX,
    "exp": EXP,
}
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu")
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

# Slots of the float64 hyperparameter vector handed to the training kernels (one array
# instead of a dozen scalars keeps the compiled signatures short and stable).
HP_LR = 0
HP_MOMENTUM = 1
HP_NESTEROV = 2
HP_BETA_1 = 3
HP_BETA_2 = 4
HP_EPSILON = 5
HP_WEIGHT_DECAY = 6
HP_RHO = 7
HP_ALPHA = 8
HP_L1 = 9
HP_MAX_NORM = 10  # 0 disables clipping
HP_LOSS_SCALE = 11  # factor on the reported data loss (scikit-learn's squared_error)
HP_CLIP_EPS = 12  # probability clipping for the log losses
N_HP = 13
