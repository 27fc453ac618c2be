"""``Bar0.write32_seq``: a run of SQ doorbells in one step counts and checks each one."""

from __future__ import annotations

import numpy as np
from naive.naive_soft_path import udp4_frame

from enatool.backends.soft import SoftBackend


def _pack(frames):
    lens = np.array([len(f) for f in frames], np.int64)
    offs = np.concatenate([[0], np.cumsum(lens[:-1])]).astype(np.int64)
    return np.frombuffer(b"".join(frames), np.uint8).copy(), offs, lens


def test_llq_burst_of_doorbells_counted_and_within_limit():
    with SoftBackend(queues=1) as be:
        tx = be.drivers[0].napi[0].tx
        assert tx.llq is not None and tx.burst_limit > 0
        n = 10 * tx.burst_limit
        assert be.tx_burst_packed(0, *_pack([udp4_frame(64, i) for i in range(n)])) == n
        c = be.devices[0].datapath.tx.queues[0].counters
        assert c.doorbells == tx.stats.doorbells >= n // tx.burst_limit
        assert c.llq_burst_violations == 0 and c.pkts == n


def test_doorbell_run_over_the_limit_is_a_violation_each():
    with SoftBackend(queues=1) as be:
        dev = be.devices[0]
        tx = be.drivers[0].napi[0].tx
        sq = dev.io.tx_sqs[0]
        limit = tx.burst_limit
        st = dev.datapath.tx.state(sq)
        before_db, before_v = st.counters.doorbells, st.counters.llq_burst_violations
        t0 = st.last_doorbell_tail
        # three doorbells: within, over, within (no lines behind them: the device finds
        # no complete packet, only the accounting is looked at)
        tails = np.array([t0 + limit, t0 + 3 * limit, t0 + 3 * limit + 1], np.int64)
        dev.bar0.write32_seq(sq.doorbell_offset, tails)
        assert st.counters.doorbells - before_db == 3
        assert st.counters.llq_burst_violations - before_v == 1
        assert sq.tail == (t0 + 3 * limit + 1) & 0xFFFF
