"""The Python API examples in examples/ (and the one in the README) run as written."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("api_*.py")),
                         ids=lambda p: p.name)
def test_example_script_runs(script, capsys):
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip()


def test_readme_api_example_matches_examples_and_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    r = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "KEEP_ALIVE_TO"]
    # examples/api_watchdog.py is the same code with a docstring
    assert block.strip() in (ROOT / "examples" / "api_watchdog.py").read_text()
