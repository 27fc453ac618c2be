"""`enatool info` end to end, as a user runs it: the software device probed through the
driver layer, and a real netdev described from ethtool."""

from __future__ import annotations

import json

import pytest

from .runner import enatool


def _info_json(*args):
    r = enatool("info", "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_info_software_device_json_sections():
    doc = _info_json()
    assert doc["schema_version"] == 1
    for section in ("device", "queues", "llq", "offloads", "rss", "moderation", "aenq"):
        assert section in doc, section
    dev = doc["device"]
    assert dev["pci_id"] == "1d0f:ec21"
    assert dev["device_version"] == "0.10" and dev["controller_version"] == "0.0.1"
    assert dev["max_mtu"] == 9216
    # a random locally administered unicast MAC
    first = int(dev["mac"].split(":")[0], 16)
    assert first & 0x02 and not first & 0x01
    assert doc["queues"]["io_queue_pairs"] == 8
    assert doc["queues"]["msix_vectors"] == 9
    assert doc["llq"]["placement"] == "device"
    assert doc["llq"]["entry_size"] == 128 and doc["llq"]["descs_before_header"] == 2
    assert doc["rss"]["function"] == "TOEPLITZ" and doc["rss"]["table_size"] == 128
    assert len(bytes.fromhex(doc["rss"]["key"])) == 40
    assert doc["moderation"]["supported"] is True
    assert 4 in doc["aenq"]["enabled_groups"]  # keep-alive requested


def test_info_software_device_options_change_the_negotiation():
    doc = _info_json("--no-llq", "--queues", "3")
    assert doc["llq"]["placement"] == "host"
    assert doc["queues"]["io_queue_pairs"] == 3


def test_info_text_has_sections():
    r = enatool("info")
    assert r.returncode == 0, r.stderr
    for title in ("device:", "queues:", "llq:", "rss:", "aenq:"):
        assert f"\n{title}" in r.stdout


@pytest.mark.parametrize("args", [["nosuchif0"], ["--queues", "0"], ["lo", "--queues", "2"]])
def test_info_bad_input_one_line_exit_2(args):
    r = enatool("info", *args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_info_real_interface_loopback():
    doc = _info_json("lo")
    assert doc["source"] == "netdev"
    assert doc["device"]["ifname"] == "lo"
    assert doc["device"]["mtu"] > 0
    # loopback supports no channel query: reported as None, not an error
    assert doc["queues"]["channels"] is None
