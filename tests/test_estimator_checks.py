"""scikit-learn's own estimator checks, run over fastmlp's estimators.

Default settings and a few non-default ones (sgd, lbfgs, an extra). Small ``max_iter``
keeps the run short, as scikit-learn's own test suite does (ConvergenceWarnings are
expected and silenced).
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import MLPClassifier, MLPRegressor

ESTIMATORS = [
    MLPClassifier(max_iter=50),
    MLPClassifier(solver="sgd", max_iter=50),
    MLPClassifier(solver="lbfgs", max_iter=50),
    MLPClassifier(
        hidden_layer_sizes=(32, 16),
        activation=["elu", "leaky_relu"],
        dropout=0.1,
        solver="adamw",
        learning_rate_init=0.01,
        max_iter=50,
    ),
    MLPRegressor(max_iter=50),
    MLPRegressor(solver="sgd", max_iter=50),
    MLPRegressor(solver="lbfgs", max_iter=50),
    MLPRegressor(solver="rmsprop", learning_rate="cosine", max_grad_norm=1.0, max_iter=50),
]


def expected_failed_checks(estimator):
    failures = {}
    if estimator.dropout:
        why = (
            "dropout draws an independent mask for each row, so a row repeated twice is "
            "not trained like one row of weight 2"
        )
        failures["check_sample_weight_equivalence_on_dense_data"] = why
        failures["check_sample_weight_equivalence_on_sparse_data"] = why
    return failures


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
