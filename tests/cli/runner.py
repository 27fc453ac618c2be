"""Run enatool as a user does: the installed console script in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("enatool")


def enatool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [
        sys.executable, "-c", "from enatool.cli.main import main; main()"
    ]  # fmt: skip
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
