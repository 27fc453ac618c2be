"""The software ENA device (layer 2): behaves like the hardware behind a real ENA interface.

Driven only through the real interface: BAR0 registers, BAR2 LLQ memory, DMA memory and
MSI-X vectors. Modules, hardware block by block:

| module | block |
|---|---|
| ``device.py`` | ``SoftEnaDevice``: PCI identity, virtual clock, timers, interrupt lines, reset |
| ``bar.py`` | BAR0 register file (dispatch by offset) and BAR2 LLQ memory |
| ``dma.py`` | host memory arena, allocator, bus addresses, DMA faults |
| ``mmio.py`` | read-less register reads answered by DMA |
| ``admin.py`` | admin queue engine: fetch, dispatch by opcode, complete; queue commands |
| ``features.py`` | GET/SET_FEATURE handlers and feature state (RSS, LLQ, MTU, host info) |
| ``io_queues.py`` | IO SQ/CQ objects, index allocation, per-queue registers |
| ``aenq.py`` | async event producer, keep-alive timer |
| ``stats.py`` | device counters and the GET_STATS command |
| ``faults.py`` | run-time fault injection knobs |
| ``datapath.py`` | glue: runs the Tx/Rx engines and IO interrupts in ``process()`` |
| ``tx.py`` | Tx SQ fetch (host ring / LLQ lines), gather, offloads, TSO, Tx completions |
| ``rx.py`` | frame parse, RSS, scatter over Rx buffers, Rx completions, drops |
| ``wire.py`` | the port: ``dev.wire.inject/take``, ``connect(a, b, rate_bps, delay)`` |
| ``irq.py`` | IO MSI-X vectors: mask until unmask, auto-mask, moderation delays |
"""

from enatool.device.device import SoftEnaDevice
from enatool.device.dma import DmaFault
from enatool.device.wire import connect, disconnect

__all__ = ["SoftEnaDevice", "DmaFault", "connect", "disconnect"]
