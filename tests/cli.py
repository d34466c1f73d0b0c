"""Running ``learnplace`` as a person does: a new process, from the repository, on a project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def learnplace(project: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m aggregator --project PROJECT ARGS…``, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--project", str(project), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
