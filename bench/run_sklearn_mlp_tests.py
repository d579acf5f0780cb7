"""Run scikit-learn's own MLP test file against fastmlp's estimators.

Copies the installed ``sklearn/neural_network/tests/test_mlp.py`` to a temporary
directory, makes it import ``MLPClassifier`` and ``MLPRegressor`` from fastmlp instead of
scikit-learn, and runs it with pytest. Extra arguments go to pytest::

    python bench/run_sklearn_mlp_tests.py -q -p no:cacheprovider

Tests that call scikit-learn's private methods (``_forward_pass``, ``_backprop``,
``_init_coef``...) are expected to fail; any other failure is a difference in behaviour.
"""

import pathlib
import re
import sys
import tempfile

import pytest
import sklearn

SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
FASTMLP_IMPORT = "from fastmlp import MLPClassifier, MLPRegressor"


def rewritten_test_file():
    """The text of scikit-learn's test_mlp.py importing fastmlp's estimators."""
    source = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    text = source.read_text()
    if SKLEARN_IMPORT not in text:
        raise RuntimeError(f"{source} no longer imports the estimators as {SKLEARN_IMPORT!r}.")
    text = text.replace(SKLEARN_IMPORT, FASTMLP_IMPORT)
    leftover = re.findall(r"sklearn\.neural_network[^\n]*(?:MLPClassifier|MLPRegressor)", text)
    if leftover:
        raise RuntimeError(f"Other imports of scikit-learn's estimators remain: {leftover}")
    return text


# scikit-learn's conftest.py gives this fixture (42 unless SKLEARN_TESTS_GLOBAL_RANDOM_SEED
# says otherwise); the copied file runs outside it.
CONFTEST = """
import os

import pytest


@pytest.fixture
def global_random_seed():
    return int(os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42"))
"""


def main(argv):
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "test_sklearn_mlp.py"
        path.write_text(rewritten_test_file())
        (pathlib.Path(tmp) / "conftest.py").write_text(CONFTEST)
        return pytest.main([str(path), "--rootdir", tmp, *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
