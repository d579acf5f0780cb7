"""The compiled layer is installed as ``fastmlp.kernels`` and never as a top-level ``kernels``.

A different PyPI package owns the name ``kernels``; fastmlp maps its ``kernels/`` directory to
``fastmlp.kernels`` (pyproject ``package-dir``) and the tests run against the installed
package (``pip install -e .``), not against a PYTHONPATH hack.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import fastmlp
import fastmlp.kernels
import fastmlp.kernels.cpu

REPO = Path(__file__).resolve().parents[1]


def _is_under(path, directory):
    path, directory = Path(path).resolve(), Path(directory).resolve()
    return path == directory or directory in path.parents


def test_fastmlp_is_imported_from_the_repository_package():
    assert _is_under(fastmlp.__file__, REPO / "fastmlp")


def test_kernels_file_lies_under_the_kernels_directory():
    assert _is_under(fastmlp.kernels.__file__, REPO / "kernels")
    assert _is_under(fastmlp.kernels.cpu.__file__, REPO / "kernels" / "cpu")


def test_no_top_level_kernels_module():
    # Touch the compiled layer so that any stray absolute import would have happened.
    assert fastmlp.kernels.cpu.forward is not None
    assert "kernels" not in sys.modules
    assert not any(name == "kernels" or name.startswith("kernels.") for name in sys.modules)


def test_kernel_modules_are_named_under_fastmlp():
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and _is_under(file, REPO / "kernels"):
            assert name.startswith("fastmlp.kernels"), name


def test_installed_package_imports_outside_the_repository(tmp_path):
    # From an unrelated directory, with no PYTHONPATH, the installed package must still be
    # found (and resolve to this repository's files): no sys.path tricks involved.
    code = textwrap.dedent(
        """
        import sys
        import fastmlp, fastmlp.kernels, fastmlp.kernels.cpu
        print(fastmlp.__file__)
        print(fastmlp.kernels.__file__)
        print("kernels" in sys.modules)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert _is_under(out[0], REPO / "fastmlp")
    assert _is_under(out[1], REPO / "kernels")
    assert out[2] == "False"
