"""NAPI-like polling of one IO queue pair and its interrupt moderation (ena_netdev ``ena_io_poll``).

Reproduces today's Linux driver (v2.17.0; INTERFACE.md §1.2, §7.1, §7.3–7.5, §10):

* vector i+1 fires (auto-masked) → poll: clean Tx with budget depth/4, Rx with budget 64;
* both under budget = "NAPI complete": run the moderation policy, then write the CQ's
  interrupt-unmask register (rx delay 14:0, tx delay 29:15 in resolution units, unmask bit
  30, bit 31 no_moderation_update when neither delay changed — today only; 2016 never sets
  it); otherwise the queue stays scheduled and is polled again;
* moderation per queue: ``"static"`` (ethtool rx-usecs/tx-usecs), ``"adaptive2016"`` (the
  5-level table, :class:`~enatool.driver.policy.moderation.AdaptiveTable2016`, fed by every
  Rx clean pass, decided at NAPI completion) or ``"dim"`` (net DIM,
  :class:`~enatool.driver.policy.dim.NetDim`, fed at non-empty NAPI completions; its usec
  value is written raw to the rx-delay field, §7.5). Tx is never adaptive.
"""

from __future__ import annotations

import numpy as np

from enatool.driver.eth_rx import PAGE_SIZE, RX_BUDGET, RxRing, reset_reason
from enatool.driver.eth_tx import TxRing
from enatool.driver.policy.dim import NetDim
from enatool.driver.policy.moderation import AdaptiveTable2016, CoalesceSettings
from enatool.ena.eth_io import intr_reg_value
from enatool.ena.regs import ResetReason
from numba_kernels import descriptors as D
from numba_kernels import driver_dp as DK

MODES = ("static", "adaptive2016", "dim")
MAX_POLL_ROUNDS = 64  # polls per service call before yielding (NAPI reschedules itself)


def napi_reset_reason(kind: int, err: int) -> int:
    """The reset reason for a ring error ``napi_poll`` reported (kind NAPI_TX/RX_ERR)."""
    if kind == DK.NAPI_TX_ERR:
        if err == D.ERR_MALFORMED:
            return int(ResetReason.TX_DESCRIPTOR_MALFORMED)
        return int(ResetReason.INV_TX_REQ_ID)
    return reset_reason(int(err))


class QueueModeration:
    """Per-queue moderation state: what goes into the next unmask write."""

    def __init__(self, coalesce: CoalesceSettings, mode: str, era: str, resolution: int,
                 table=None):
        if mode not in MODES:
            raise ValueError(f"moderation mode must be one of {MODES}, not {mode!r}")
        self.coalesce = coalesce
        self.mode = mode
        self.era = era
        self.resolution = max(1, resolution)
        self.adaptive = AdaptiveTable2016(self.resolution, table=table)
        self.dim = NetDim()
        self.last: tuple[int, int] | None = None
        self._same_value = 0
        self.rx_interval = coalesce.rx_interval

    def on_rx_clean(self, pkts: int, nbytes: int) -> None:
        if self.mode == "adaptive2016" and pkts:
            self.adaptive.on_rx_clean(pkts, nbytes)

    def on_napi_complete(self, napi_rx_pkts: int, read) -> tuple[int, int]:
        """(rx delay, tx delay) for the unmask write; ``read()`` → (now_ns, rx_cnt, rx_bytes)
        is called for DIM only, when packets arrived (else DIM ignores the completion)."""
        if self.mode == "adaptive2016":
            self.rx_interval = self.adaptive.on_napi_complete()
        elif self.mode == "dim":
            if napi_rx_pkts:  # DIM counts only completions that received packets
                now_ns, rx_cnt, rx_bytes = read()
                self.dim.on_napi_complete(now_ns, napi_rx_pkts, rx_cnt, rx_bytes)
            self.rx_interval = self.dim.rx_interval_usec
        else:
            self.rx_interval = self.coalesce.rx_interval
        return min(self.rx_interval, 0x7FFF), min(self.coalesce.tx_interval, 0x7FFF)

    def unmask_value(self, rx: int, tx: int) -> int:
        if self.last == (rx, tx):
            return self._same_value  # computed when the delays last changed
        same = intr_reg_value(rx, tx, True, self.era != "2016")
        value = intr_reg_value(rx, tx, True, False)
        self.last, self._same_value = (rx, tx), same
        return value


class QueueNapi:
    """One queue pair's NAPI context: Tx ring, Rx ring, moderation, received packets."""

    def __init__(self, port, index: int, tx: TxRing, rx: RxRing, moderation: QueueModeration,
                 unmask_offset: int):
        self.port = port
        self.index = index
        self.tx = tx
        self.rx = rx
        self.mod = moderation
        self.unmask_offset = unmask_offset
        self.tx_budget = max(1, tx.depth // 4)
        self.rx_budget = RX_BUDGET
        self.scheduled = False
        self.unmask_writes = 0
        self.napi_rx_pkts = 0
        self._rpk = np.zeros(MAX_POLL_ROUNDS, np.int64)
        self._rby = np.zeros(MAX_POLL_ROUNDS, np.int64)
        self._rdb = np.zeros(MAX_POLL_ROUNDS + 1, np.int64)
        # napi_poll arguments that stay the same for the rings' lifetime (looked up once)
        self._tx_args = (tx.cq_ring, tx.depth, tx._done, tx.check_mbz, tx.free_ids, tx.in_use,
                         tx.entries, tx.sent_at, tx.state, tx.kcount)
        self._rx_args = (rx.cq_ring, rx.sq_ring, rx.depth, rx.max_sgl, rx._ids, rx._lens,
                         rx._nd, rx._status, rx._hash, rx._offset, rx.free_ids, rx.in_use,
                         rx._take, rx.state, rx.buf, rx.buf_addr, PAGE_SIZE, rx.headroom,
                         rx.buf_len, rx.refill_threshold)
        self._args: list[tuple | None] = [None, None]  # per RxStore side, see _poll_args

    def _poll_args(self, max_rounds: int, resume: int) -> tuple:
        """napi_poll's arguments, kept per store side while that side's arrays, the
        copybreak value and the round arguments stay the same (one tuple instead of ~55
        lookups per poll)."""
        rx = self.rx
        store = rx.store
        arrays = store.arrays
        key = (rx.copybreak.value, max_rounds, resume)
        hit = self._args[store.side]
        if hit is not None and hit[0] is arrays and hit[1] == key:
            return hit[2]
        args = self.napi_args(arrays, max_rounds, resume)
        self._args[store.side] = (arrays, key, args)
        return args

    def napi_args(self, arrays, max_rounds: int, resume: int) -> tuple:
        """``DK.napi_poll``'s arguments with ``arrays`` as the store set it fills."""
        rx = self.rx
        return (max_rounds, self.tx_budget, self.rx_budget, *self._tx_args, *self._rx_args,
                rx.copybreak.value, rx.era2016, *arrays, rx.store.fill, rx.kcount, self._rpk,
                self._rby, self._rdb, resume)

    def _dim_inputs(self) -> tuple[int, int, int]:
        return (int(self.port.now() * 1e9), *self.rx.cnt_bytes())

    def unmask(self) -> None:
        """``ena_unmask_interrupt``: moderation values + unmask bit."""
        mod = self.mod
        rx, tx = mod.on_napi_complete(self.napi_rx_pkts, self._dim_inputs)
        self.napi_rx_pkts = 0
        self.port.write32(self.unmask_offset, mod.unmask_value(rx, tx))
        self.unmask_writes += 1
        self.tx.counts.unmask_interrupt += 1

    def poll_rounds(self, max_rounds: int) -> tuple[bool, int | None]:
        """Up to ``max_rounds`` ``ena_io_poll`` passes in one kernel call (Tx clean, Rx clean
        into the queue's store, refill) → (NAPI completed, reset reason or None). The
        moderation policy sees every pass; completion runs it and writes the unmask."""
        rx = self.rx
        resume = -1
        while True:
            rounds, done, kind, err, ndb = DK.napi_poll(*self._poll_args(max_rounds, resume))
            if ndb:
                rx.write_doorbells(self._rdb[:ndb])
            if rounds:
                pk = self._rpk[:rounds].tolist()  # a list sum is cheaper than ndarray.sum here
                if self.mod.mode == "adaptive2016":
                    for n, b in zip(pk, self._rby[:rounds].tolist(), strict=True):
                        self.mod.on_rx_clean(n, b)
                self.napi_rx_pkts += sum(pk)
            if kind == DK.NAPI_RX_ERR and err == DK.ERR_STORE_FULL:
                rx.store.grow()
                resume = int(self._rpk[rounds])
                max_rounds -= rounds
                continue
            break
        if kind:
            return True, napi_reset_reason(kind, err)
        if done:
            self.tx.counts.napi_comp += 1
            self.unmask()
            return True, None
        return False, None

    def poll_once(self) -> tuple[bool, int | None]:
        """One ``ena_io_poll`` → (completed, reset reason or None)."""
        return self.poll_rounds(1)

    def service(self, fired: int) -> int | None:
        """Run NAPI if the vector fired or a previous poll did not complete."""
        if fired:
            self.tx.counts.interrupts += fired
            self.scheduled = True
        if not self.scheduled:
            return None
        done, reason = self.poll_rounds(MAX_POLL_ROUNDS)
        if reason is not None or done:
            self.scheduled = False
        return reason
