"""`python -m citywatch …` as its own process, as a person runs it: from the repository root, output captured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

from tools.devstack.config import REPO_ROOT


def run_citywatch(args: Sequence[str], env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """The command's result, whatever its exit code (the caller asserts on it)."""
    return subprocess.run(
        [sys.executable, "-m", "citywatch", *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
