"""The dependency direction of ARCHITECTURE.md, enforced by reading every module's imports
(lazy imports inside functions included)."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Programs reach a backend only through the one interface module, which also names concrete
# backends for them (`open_driver`, `latency_endpoint`); everything else under
# enatool.backends is a concrete backend. Of the driver layer they may use the policies.
# `importlib` is refused too: a concrete backend imported by name is still imported.
PROGRAM_FORBIDDEN = ["enatool.backends", "enatool.device", "enatool.driver", "enatool.cli",
                     "click", "importlib"]
PROGRAM_MAY = ["enatool.backends.base", "enatool.driver.policy"]
PROGRAMS = ["enatool/gen", "enatool/latency", "enatool/moderation", "enatool/rss",
            "enatool/info.py", "enatool/report"]

# The OS utilities beside the layers (capability probe, ctypes prototypes, bcc headers,
# netdev/ethtool helpers, the exception tree) serve backends, programs and the CLI alike,
# so they import none of those.
UTILITIES = ["enatool/caps.py", "enatool/sysffi.py", "enatool/bcc_headers.py",
             "enatool/netdev.py", "enatool/ethtool.py", "enatool/errors.py", "enatool/signals.py"]
UTILITY_FORBIDDEN = ["enatool.device", "enatool.driver", "enatool.backends", "enatool.gen",
                     "enatool.latency", "enatool.moderation", "enatool.rss", "enatool.info",
                     "enatool.report", "enatool.cli", "numba_kernels", "click"]

# layer (package directory or module file) -> prefixes it must not import
FORBIDDEN = {
    "enatool/ena": ["enatool.device", "enatool.driver", "enatool.backends", "enatool.cli",
                    "numba_kernels", "numba", "pyroute2", "bcc", "click"],
    "numba_kernels": ["enatool.device", "enatool.driver", "enatool.backends", "enatool.cli",
                      "pyroute2", "bcc", "click"],
    "enatool/device": ["enatool.driver", "enatool.backends", "enatool.cli", "click",
                       "pyroute2", "bcc"],
    "enatool/driver": ["enatool.device", "enatool.backends", "enatool.cli", "click",
                       "pyroute2", "bcc"],
    **dict.fromkeys(PROGRAMS, PROGRAM_FORBIDDEN),
    **dict.fromkeys(UTILITIES, UTILITY_FORBIDDEN),
}

# layer -> prefixes it may import although a forbidden prefix covers them
MAY = dict.fromkeys(PROGRAMS, PROGRAM_MAY)


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from enatool import device` imports enatool.device
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _under(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(layer: str, forbidden: list[str], root: pathlib.Path = ROOT,
                may: list[str] = ()):
    found = []
    top = root / layer
    for path in [top] if top.is_file() else sorted(top.rglob("*.py")):
        for name in _imports(path):
            if _under(name, forbidden) and not _under(name, list(may)):
                found.append(f"{path.relative_to(root)} imports {name}")
    return found


@pytest.mark.nojit
@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer):
    assert (ROOT / layer).exists()
    assert _violations(layer, FORBIDDEN[layer], may=MAY.get(layer, [])) == []


@pytest.mark.nojit
def test_checker_sees_a_violation(tmp_path):
    # The checker itself must be able to fail.
    bad = tmp_path / "enatool" / "device"
    bad.mkdir(parents=True)
    (bad / "x.py").write_text("from enatool import driver\nimport numpy\n")
    assert _violations("enatool/device", FORBIDDEN["enatool/device"], tmp_path) == [
        "enatool/device/x.py imports enatool.driver"]


@pytest.mark.nojit
def test_checker_sees_a_program_reaching_a_concrete_backend(tmp_path):
    # a lazy import inside a function counts; the interface and the policies do not
    prog = tmp_path / "enatool" / "latency"
    prog.mkdir(parents=True)
    (prog / "x.py").write_text(
        "from enatool.backends.base import latency_endpoint\n"
        "from enatool.driver.policy import rss\n"
        "def f():\n"
        "    from enatool.backends.afxdp.xsk import XskSocket\n"
        "    from enatool.backends import soft_port\n"
        "    import enatool.driver.driver\n"
        "    import click\n")
    (tmp_path / "enatool" / "info.py").write_text("import importlib\n")
    assert _violations("enatool/latency", PROGRAM_FORBIDDEN, tmp_path, PROGRAM_MAY) == [
        "enatool/latency/x.py imports enatool.backends.afxdp.xsk.XskSocket",
        "enatool/latency/x.py imports enatool.backends.soft_port",
        "enatool/latency/x.py imports enatool.driver.driver",
        "enatool/latency/x.py imports click"]
    assert _violations("enatool/info.py", PROGRAM_FORBIDDEN, tmp_path, PROGRAM_MAY) == [
        "enatool/info.py imports importlib"]


@pytest.mark.nojit
def test_factory_names_resolve():
    # what programs ask backends.base for by name exists (a typo would surface only at run
    # time, on the one machine with that backend); an unknown name is a one-line usage error
    from enatool.backends import base
    from enatool.errors import UsageError

    for kind, what in base._ENTRY_POINTS:
        assert callable(base._entry_point(kind, what))
    with pytest.raises(UsageError, match="no latency backend named 'dpdk'"):
        base.latency_endpoint("dpdk")
