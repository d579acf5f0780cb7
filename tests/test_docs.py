"""Every ```python block in README.md and docs/*.md runs as written.

Each block runs alone in a fresh interpreter, in an empty temporary directory, with a
timeout, so it must import what it uses and define or load its own data. A block whose
first line is ``# needs: EXTRA[, EXTRA...]`` is skipped when an extra's modules are not
installed (and only then). ``REPEATS=1`` shortens blocks that repeat timings for a table,
and ``MPLBACKEND=Agg`` keeps plots off-screen. A block that prints ``ok=False`` (a failed
``GradientCheck``) fails.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
NEEDS = re.compile(r"#\s*needs:\s*(.+)")
#: Modules each optional extra brings (pyproject.toml's [project.optional-dependencies]).
EXTRA_MODULES = {
    "plot": ["matplotlib"],
    "onnx": ["onnx", "onnxruntime", "skl2onnx"],
    "dask": ["dask", "distributed"],
    "torch": ["torch"],
    "cuda": ["numba.cuda"],
    "bench": ["asv", "matplotlib"],
    "test": ["pytest", "hypothesis"],
}
TIMEOUT_S = 300  # generous: the first block in a fresh cache compiles the kernels


def _blocks():
    found = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(pytest.param(match.group(1), id=f"{path.relative_to(ROOT)}:{line}"))
    return found


def _missing_extras(code):
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    match = NEEDS.match(first.strip())
    if not match:
        return []
    extras = [e.strip() for e in match.group(1).split(",") if e.strip()]
    return [e for e in extras if any(_find(m) is None for m in EXTRA_MODULES.get(e, [e]))]


def _find(module):
    try:
        return importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a parent package is missing
        return None


def test_documents_have_python_blocks():
    assert len(_blocks()) >= 8
    assert _missing_extras("# needs: plot, no_such_extra_xyz\nimport x\n")[-1] == (
        "no_such_extra_xyz"
    )
    assert _missing_extras("import numpy\n# needs: no_such_extra_xyz\n") == []


@pytest.mark.parametrize("code", _blocks())
def test_block_runs(code, tmp_path):
    missing = _missing_extras(code)
    if missing:
        pytest.skip(f"needs the extra(s) {', '.join(missing)}, not installed")
    env = dict(os.environ, REPEATS="1", MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "ok=False" not in result.stdout, result.stdout
