"""`enatool rss` as a user runs it: the INTERFACE.md §8 vectors through the CLI, crafted
flows that really land on their queue, and one-line errors."""

from __future__ import annotations

import json

import pytest

from enatool.driver.policy import rss as policy

from .runner import enatool

VECTORS = [
    # (args, hash, table index) — INTERFACE.md §8
    (["1.2.3.4:7000", "1.2.3.5:7000", "--convention", "standard", "--init", "0"],
     0xA9828BD4, 84),
    (["1.2.3.4:7000", "1.2.3.5:7000", "--init", "0"], 0xA4A1471A, 26),
    (["1.2.3.4:7000", "1.2.3.5:7000"], 0x5B5EB8E5, 101),
    (["10.100.0.40", "10.100.0.36", "--fixed-key", "--proto", "ip"], 0x0A7B0A7B, 123),
    (["10.100.0.36", "10.100.0.40", "--fixed-key", "--proto", "ip"], 0x0A7B0A7B, 123),
    (["10.100.0.42", "10.100.0.41", "--fixed-key", "--proto", "ip"], 0x10F110F1, 113),
]


@pytest.mark.parametrize("args,expected,index", VECTORS)
def test_rss_hash_vectors(args, expected, index):
    r = enatool("rss", "hash", *args, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert int(doc["hash"], 16) == expected
    assert doc["table_index"] == index
    assert doc["queue"] == index % 8


def test_rss_hash_text():
    r = enatool("rss", "hash", "1.2.3.4:7000", "1.2.3.5:7000", "--init", "0")
    assert r.returncode == 0
    assert "hash 0xa4a1471a  index 26  queue 2" in r.stdout


def test_rss_flows_land_on_their_queue():
    r = enatool("rss", "flows", "--to-queue", "3", "--to-queue", "6", "--count", "5",
                "--queues", "8", "198.18.0.1", "198.18.0.2:4791", "--json")
    assert r.returncode == 0, r.stderr
    flows = json.loads(r.stdout)["flows"]
    assert [f["queue"] for f in flows] == [3] * 5 + [6] * 5
    # Check independently with the policy and the same (default) configuration.
    from enatool.rss.program import TEST_KEY

    config = policy.RssConfig(key=TEST_KEY, table=policy.default_indirection_table(8))
    for f in flows:
        q = config.queue_for_tuple(f["src"], f["dst"], f["sport"], f["dport"],
                                   policy.FlowHashProto.UDP4)
        assert q == f["queue"]


def test_rss_show_software_device():
    r = enatool("rss", "show", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["function"] == "toeplitz"
    assert doc["init_value"] == "0xffffffff"
    assert doc["table_size"] == 128 and doc["table"][:9] == [0, 1, 2, 3, 4, 5, 6, 7, 0]
    assert len(bytes.fromhex(doc["key"])) == 40


@pytest.mark.parametrize("args", [
    ["hash", "1.2.3", "1.2.3.4"],
    ["hash", "1.2.3.4", "1.2.3.5", "--key", "00:11"],
    ["hash", "1.2.3.4:99999", "1.2.3.5"],
    ["hash", "1.2.3.4", "2001:2::1"],
    ["hash", "1.2.3.4", "1.2.3.5", "--table-size", "100"],
    ["flows", "1.2.3.4", "1.2.3.5", "--to-queue", "9"],
    ["show", "nosuchif0"],
])
def test_rss_bad_input_one_line_exit_2(args):
    r = enatool("rss", *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
