"""The dependency direction of ARCHITECTURE.md, enforced by reading every module's imports."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# package -> prefixes it must not import
FORBIDDEN = {
    "enatool/ena": ["enatool.device", "enatool.driver", "enatool.backends", "enatool.cli",
                    "numba_kernels", "numba", "pyroute2", "bcc", "click"],
    "numba_kernels": ["enatool.device", "enatool.driver", "enatool.backends", "enatool.cli",
                      "pyroute2", "bcc", "click"],
    "enatool/device": ["enatool.driver", "enatool.backends", "enatool.cli", "click",
                       "pyroute2", "bcc"],
    "enatool/driver": ["enatool.device", "enatool.backends", "enatool.cli", "click",
                       "pyroute2", "bcc"],
}


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from enatool import device` imports enatool.device
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _violations(package: str, forbidden: list[str], root: pathlib.Path = ROOT):
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(root)} imports {name}")
    return found


@pytest.mark.nojit
@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package):
    assert (ROOT / package).is_dir()
    assert _violations(package, FORBIDDEN[package]) == []


@pytest.mark.nojit
def test_checker_sees_a_violation(tmp_path):
    # The checker itself must be able to fail.
    bad = tmp_path / "enatool" / "device"
    bad.mkdir(parents=True)
    (bad / "x.py").write_text("from enatool import driver\nimport numpy\n")
    assert _violations("enatool/device", FORBIDDEN["enatool/device"], tmp_path) == [
        "enatool/device/x.py imports enatool.driver"]
