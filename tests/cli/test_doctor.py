"""`enatool doctor` end to end (subprocesses, as a user runs it) and the lazy CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("enatool")
HEAVY = ("numba", "bcc", "pyroute2")


def enatool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [
        sys.executable, "-c", "from enatool.cli.main import main; main()"
    ]  # fmt: skip
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def doctor_json():
    r = enatool("doctor", "--json")
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr
    return r.returncode, json.loads(r.stdout)


def test_doctor_json_schema(doctor_json):
    code, doc = doctor_json
    assert doc["schema_version"] == 1
    checks = doc["checks"]
    for name in ("python", "kernel", "root", "numpy", "numba", "click", "bpf_syscall", "btf",
                 "netns", "xdp_native", "xdp_generic", "af_xdp", "bcc", "kernel_headers",
                 "busy_poll", "pyroute2"):  # fmt: skip
        assert name in checks, name
        item = checks[name]
        assert set(item) == {"ok", "detail", "fix"}
        assert isinstance(item["ok"], bool) and item["detail"]
        assert item["ok"] or item["fix"], f"{name} failed without a fix"
    assert "iface" not in checks
    assert doc["summary"]["exit_code"] == code
    core_ok = all(checks[n]["ok"] for n in ("python", "numpy", "numba", "numba_cache", "click"))
    assert (code == 0) == core_ok


def test_doctor_json_agrees_with_probe(doctor_json, caps):
    _, doc = doctor_json
    for name, check in caps.items():
        assert doc["checks"][name]["ok"] == check.ok, name


def test_doctor_text_one_line_per_check(doctor_json):
    code, doc = doctor_json
    r = enatool("doctor")
    assert r.returncode == code
    lines = r.stdout.splitlines()
    body = [ln for ln in lines if ln.startswith(("OK  ", "NO  "))]
    assert len(body) == len(doc["checks"])
    for ln in body:
        name = ln.split()[1]
        assert ln.startswith("OK" if doc["checks"][name]["ok"] else "NO")
    assert any("checks OK" in ln for ln in lines)


def test_doctor_with_iface_lo():
    r = enatool("doctor", "lo", "--json")
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    assert doc["iface"] == "lo"
    assert doc["checks"]["iface"]["ok"]
    assert "iface_zerocopy" in doc["checks"]


def test_doctor_unknown_iface_is_one_line_exit_2():
    r = enatool("doctor", "nosuchif0")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("enatool: error:") and "nosuchif0" in lines[0]
    assert r.stdout == ""


def test_bad_option_is_one_line_exit_2():
    r = enatool("doctor", "--no-such-option")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_doctor_help_has_examples():
    r = enatool("doctor", "--help")
    assert r.returncode == 0
    assert "Examples:" in r.stdout and "enatool doctor --json" in r.stdout


_IMPORTS = """
import json, sys
from enatool.cli.main import main
sys.argv = ["enatool", *{args!r}]
try:
    main()
except SystemExit:
    pass
print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["doctor", "--help"]])
def test_help_does_not_import_heavy_modules(args):
    code = _IMPORTS.format(args=args, heavy=HEAVY)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout
    assert json.loads(r.stderr.strip().splitlines()[-1]) == []
    if args == ["--help"]:
        assert "doctor" in r.stdout


def test_common_error_policy():
    import click
    from click.testing import CliRunner

    from enatool.cli.common import command, handle_errors, render_json
    from enatool.errors import CapabilityError

    @command("boom")
    @click.option("--what", type=click.Choice(["cap", "ctrlc", "ok"]))
    def boom(what):
        if what == "cap":
            raise CapabilityError("no BPF", hint="run as root")
        if what == "ctrlc":
            raise KeyboardInterrupt
        click.echo("fine")

    runner = CliRunner()
    r = runner.invoke(boom, ["--what", "cap"])
    assert r.exit_code == 3
    assert "enatool: error: no BPF (hint: run as root)" in r.output
    r = runner.invoke(boom, ["--what", "ctrlc"])
    assert r.exit_code == 130 and "interrupted" in r.output
    r = runner.invoke(boom, ["--what", "bogus"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert runner.invoke(boom, ["--what", "ok"]).output == "fine\n"

    @handle_errors
    def plain():
        raise CapabilityError("x")

    with pytest.raises(SystemExit) as ei:
        plain()
    assert ei.value.code == 3
    assert render_json({"a": 1}).lstrip("{\n ").startswith('"schema_version": 1')
