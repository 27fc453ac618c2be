"""Usage errors outside any one command's options: one line on stderr, exit 2, nothing on
stdout (the error policy of enatool/cli/common.py, also for groups and sub-groups)."""

from __future__ import annotations

import pytest

from .runner import enatool


@pytest.mark.nojit
@pytest.mark.parametrize("args, reason, where", [
    (["bogus"], "No such command 'bogus'", "enatool --help"),
    (["--bogus"], "No such option '--bogus'", "enatool --help"),
    (["rss", "bogus"], "No such command 'bogus'", "enatool rss --help"),
    (["moderation", "bogus"], "No such command 'bogus'", "enatool moderation --help"),
    (["moderation", "--bogus"], "No such option '--bogus'", "enatool moderation --help"),
])
def test_unknown_command_or_option_is_one_line(args, reason, where):
    p = enatool(*args)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("enatool: error:"), p.stderr
    assert reason in lines[0] and where in lines[0]


@pytest.mark.nojit
def test_bare_group_still_shows_help():
    p = enatool("rss")
    assert "Commands:" in p.stderr + p.stdout and "Traceback" not in p.stderr


def test_latency_socket_mode_missing_interface_is_one_line():
    p = enatool("latency", "nosuchif0", "--dst", "198.18.0.2", "--mode", "socket", "-n", "1")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    err = [ln for ln in p.stderr.splitlines() if ln.startswith("enatool: error:")]
    assert len(err) == 1 and "nosuchif0" in err[0]


@pytest.mark.parametrize("args, option", [
    (["gen", "-c", "10", "--csv", "/nonexistent-enatool/x.csv"], "--csv"),
    (["latency", "--mode", "soft", "-n", "10", "--hgrm", "/nonexistent-enatool/x.hgrm"],
     "--hgrm"),
    (["latency", "--mode", "soft", "-n", "10", "--plot", "/nonexistent-enatool/x.png"],
     "--plot"),
    (["moderation", "sweep", "--csv", "/nonexistent-enatool/x.csv"], "--csv"),
    (["moderation", "sweep", "--results", "/nonexistent-enatool/x.jsonl"], "--results"),
    (["moderation", "sweep", "--plot", "/proc/enatool-nope/plots"], "--plot"),
])
def test_unwritable_output_fails_before_the_run(args, option, tmp_path):
    p = enatool(*args)
    assert p.returncode == 2 and p.stdout == "", p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0], p.stderr


def test_output_file_that_is_a_directory_is_refused(tmp_path):
    p = enatool("gen", "-c", "10", "--csv", str(tmp_path))
    assert p.returncode == 2 and "is a directory" in p.stderr
