"""IO interrupts: masked until the first unmask, auto-mask, moderation delays (virtual clock)."""

from __future__ import annotations

from enatool.ena.admin import ENA_MSIX_VECTOR_NONE

from .dp_helpers import RxQueue, TxQueue, udp_frame
from .test_datapath_rx import set_rss


def pair(drv, vector=1):
    tx = TxQueue(drv, 32, vector=vector)
    rx = RxQueue(drv, 32, vector=vector)
    rx.post(32)
    set_rss(drv, table=[rx.sq_idx] * 128)
    return tx, rx


def test_masked_until_first_unmask_then_auto_mask(drv):
    dev = drv.dev
    tx, rx = pair(drv)
    dev.wire.inject(udp_frame())
    dev.process()
    assert len(rx.cdescs()) == 1
    assert dev.irq_counts[1] == 0  # new CQs are masked
    rx.unmask()  # the pending completion is signalled once unmasked
    dev.process()
    assert dev.irq_counts[1] == 1
    dev.wire.inject(udp_frame())
    dev.process()
    assert dev.irq_counts[1] == 1  # auto-masked after the interrupt
    assert dev.io.cqs[rx.cq_idx].masked and dev.io.cqs[tx.cq_idx].masked
    rx.unmask()
    dev.process()
    assert dev.irq_counts[1] == 2
    rx.cdescs()
    rx.unmask()
    dev.process()
    assert dev.irq_counts[1] == 2  # nothing new: no interrupt
    # Tx completions raise the shared vector too (Linux unmasks only through the Rx CQ)
    tx.post([udp_frame()], 1)
    tx.doorbell()
    dev.process()
    assert dev.irq_counts[1] == 3
    assert dev.irq_counts[0] == 0 and dev.irq_counts[2:] == [0] * (dev.msix_count - 2)


def test_rx_delay_honoured_on_virtual_clock(drv):
    dev = drv.dev
    _tx, rx = pair(drv)
    rx.unmask(rx_delay=50, tx_delay=5)  # resolution 1 µs
    dev.process()
    dev.advance(10e-6)
    t0 = dev.now_ns
    dev.wire.inject(udp_frame())
    dev.process()
    assert len(rx.cdescs()) == 1 and dev.irq_counts[1] == 0
    dev.advance(20e-6)
    dev.wire.inject(udp_frame())  # a later completion does not restart the delay
    dev.advance(29e-6)
    assert dev.irq_counts[1] == 0 and dev.now_ns == t0 + 49_000
    dev.advance(1e-6)
    assert dev.irq_counts[1] == 1 and dev.now_ns >= t0 + 50_000
    dev.advance(1e-3)
    assert dev.irq_counts[1] == 1


def test_tx_delay_for_tx_completions_and_resolution(drv):
    dev = drv.dev
    dev.intr_delay_resolution = 2  # units of 2 µs
    tx, _rx = pair(drv)
    tx.unmask(rx_delay=1000, tx_delay=10)  # via the Tx CQ register this time: 20 µs
    dev.process()
    t0 = dev.now_ns
    tx.post([udp_frame()], 4)
    tx.doorbell()
    dev.process()
    assert tx.completions() == [(4, 1)] and dev.irq_counts[1] == 0
    dev.advance(19e-6)
    assert dev.irq_counts[1] == 0
    dev.advance(1e-6)
    assert dev.irq_counts[1] == 1 and dev.now_ns == t0 + 20_000


def test_unmask_without_unmask_bit_only_updates_delays(drv):
    dev = drv.dev
    _tx, rx = pair(drv)
    rx.unmask(rx_delay=3, unmask=False)
    dev.wire.inject(udp_frame())
    dev.advance(1e-3)
    assert dev.irq_counts[1] == 0
    rx.unmask(unmask=True, rx_delay=3)
    dev.process()
    assert dev.irq_counts[1] == 0  # delay starts at the unmask for pending completions
    dev.advance(3e-6)
    assert dev.irq_counts[1] == 1


def test_vector_none_never_interrupts(drv):
    dev = drv.dev
    rx = RxQueue(drv, 16, vector=ENA_MSIX_VECTOR_NONE)
    rx.post(16)
    set_rss(drv, table=[rx.sq_idx] * 128)
    rx.unmask()
    dev.wire.inject(udp_frame())
    dev.advance(1.0)
    assert len(rx.cdescs()) == 1 and sum(dev.irq_counts[1:]) == 0


def test_reset_masks_vectors(drv):
    dev = drv.dev
    _tx, rx = pair(drv)
    rx.unmask()
    dev.process()
    drv.reset()
    drv.program_queues()
    _tx2, rx2 = pair(drv)
    dev.wire.inject(udp_frame())
    dev.process()
    assert len(rx2.cdescs()) == 1 and dev.irq_counts[1] == 0
