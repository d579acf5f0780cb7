"""docs/api.md lists every public name: regenerating it changes nothing."""

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_api_reference_is_current():
    result = subprocess.run(
        [sys.executable, str(DOCS / "make_api.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
