"""The driver sees devices only through the port: no module imports enatool.device."""

from __future__ import annotations

import ast
from pathlib import Path

import enatool.driver

DRIVER_DIR = Path(enatool.driver.__file__).parent


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # resolve relative imports against the package path
                pkg = path.relative_to(DRIVER_DIR.parent.parent).with_suffix("").parts[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names.append(mod)
            names += [f"{mod}.{a.name}" for a in node.names]
    return names


def test_driver_never_imports_the_device():
    files = sorted(DRIVER_DIR.rglob("*.py"))
    assert len(files) >= 10
    bad = {
        str(f.relative_to(DRIVER_DIR)): n
        for f in files
        for n in _imports(f)
        if n == "enatool.device" or n.startswith("enatool.device.")
    }
    assert bad == {}
