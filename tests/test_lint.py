"""The code passes the project's ruff rules (pyproject.toml [tool.ruff])."""
from __future__ import annotations

import subprocess
import sys

from academy import config


def test_ruff_passes():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "bench"],
        cwd=config.project_root(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
