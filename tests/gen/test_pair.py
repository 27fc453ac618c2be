"""run_pair on the software device pair: generator on one end, sink on the other."""

from __future__ import annotations

from enatool.backends.soft import SoftBackend
from enatool.gen.program import run_pair
from enatool.gen.templates import GenSpec


def test_pair_fewer_flows_than_queues_terminates_with_exact_counts():
    # 2 crafted flows over 4 Tx queues: the queues share one field engine, which must be
    # counted once (it used to be counted per queue and the loop never finished).
    with SoftBackend(queues=4) as be:
        spec = GenSpec(to_queues=(1, 3), sport="1024-65535")
        r = run_pair(be, spec, 2000, queues=[0, 1, 2, 3])
    assert r["tx"]["packets"] == 2000
    assert r["rx"]["packets"] == 2000 and r["rx"]["lost"] == 0
    per_q = {q["queue"]: q["rx_cnt"] for q in r["devices"]["rx_end"]["per_queue"]}
    assert per_q[0] == per_q[2] == 0
    assert per_q[1] + per_q[3] == 2000 and per_q[1] > 0 and per_q[3] > 0


def test_pair_reports_both_ends_and_copybreak():
    with SoftBackend(queues=2) as be:
        spec = GenSpec(size="imix", flows=16, sport="1024-1039")
        r = run_pair(be, spec, 3000, queues=[0, 1])
    assert r["schema_version"] == 1 and r["program"] == "gen-pair"
    rx_end = r["devices"]["rx_end"]
    assert sum(q["rx_cnt"] for q in rx_end["per_queue"]) == r["rx"]["packets"] == 3000
    # IMIX: the 64 B share is copied (copybreak 256), the 594/1518 B share is not
    copied = sum(q["rx_copybreak_pkt"] for q in rx_end["per_queue"])
    assert 0 < copied < 3000
    # (which queues the 16 flows reach depends on the driver's random RSS key)
    busy = [q for q in rx_end["per_queue"] if q["rx_cnt"]]
    assert busy and all(q["interrupts"] > 0 for q in busy)
