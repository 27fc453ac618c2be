"""The ``gen`` and ``sink`` programs: backend-agnostic loops over the field engine, the pacer
and the sequence checker (ARCHITECTURE.md layer 5: a Backend and kernels, no click).

Time is the backend's clock (``Backend.now()``; virtual on ``soft``), and waiting is
``Backend.advance(seconds)``, so the same loop paces a software device in virtual time and a
real netdev in real time. Per batch (never per frame) the loop asks the pacer how many frames
may go, fills them with the field engine and hands them to the backend:

* fast path, when the backend offers :class:`SlotTx` (AF_XDP UMEM): the engine writes straight
  into the backend's frame slots, in 'fields' mode rewriting only the mutable fields of slots
  that already hold the template;
* otherwise ``Backend.tx_burst(queue, list_of_bytes)`` from a small per-queue buffer the
  engine keeps warm. Frames the ring did not take are retried first, in order, so per-flow
  sequence numbers never skip.

Ctrl-C (KeyboardInterrupt) stops the loop cleanly; the summary is still returned.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from enatool.errors import UsageError
from enatool.gen.engine import FieldEngine
from enatool.gen.pacer import DEFAULT_BURST_FRAMES, Pacer
from enatool.gen.sink import SinkCounters
from enatool.gen.templates import (
    WIRE_OVERHEAD,
    GenSpec,
    build_templates,
    flow_count,
    wire_bits,
)
from enatool.report.schema import SCHEMA_VERSION

Tick = Callable[[dict[str, Any]], None]


@runtime_checkable
class SlotTx(Protocol):
    """Optional zero-object Tx path a backend may implement (AF_XDP UMEM frames).

    ``tx_slots`` returns ``(umem, addrs, stride)``: the 1-D uint8 frame memory, int64 byte
    offsets of up to ``n`` free frame slots (fewer, even 0, when the ring is full; nothing is
    reserved yet) and the slot size. ``tx_submit`` queues the first ``n`` of those slots with
    their lengths and kicks the queue; it must take all ``n``. Between ``tx_slots`` and
    ``tx_submit`` the caller writes the frames.
    """

    def tx_slots(self, queue: int, n: int, *, end: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, int]: ...

    def tx_submit(self, queue: int, addrs: np.ndarray, lengths: np.ndarray, n: int, *,
                  end: int = 0) -> None: ...


@runtime_checkable
class SlotRx(Protocol):
    """Optional zero-object Rx path: ``rx_slots`` returns ``(umem, addrs, lengths, n)`` of
    received frames still owned by the caller; ``rx_release`` gives them back to the ring."""

    def rx_slots(self, queue: int, max_n: int, *, end: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]: ...

    def rx_release(self, queue: int, n: int, *, end: int = 0) -> None: ...


def rss_config_of(backend: Any, end: int) -> Any:
    """The receiving end's RSS state as an :class:`RssConfig` (for ``to_queues`` flows)."""
    from enatool.driver.policy.rss import RssConfig, RssFunction

    d = backend.get_rss(end=end)
    return RssConfig(function=RssFunction[str(d["function"]).upper()], key=bytes(d["key"]),
                     table=list(d["table"]))


def _ns(backend: Any) -> int:
    return int(round(backend.now() * 1e9))


_DROP_WORDS = frozenset({"drop", "drops", "overruns"})
_ERROR_WORDS = frozenset({"err", "error", "errors", "bad", "malformed"})


def _drops_errors(stats: dict[str, Any]) -> tuple[int, int]:
    """Sum of the backend's drop and error counters (matched by ``_``-separated words, so
    ``tx_interrupts`` is not an error)."""
    drops = errors = 0
    for k, v in stats.items():
        if not isinstance(v, int):
            continue
        words = set(k.lower().split("_"))
        if words & _DROP_WORDS:
            drops += v
        elif words & _ERROR_WORDS:
            errors += v
    return drops, errors


def _check_queues(backend: Any, queues: Sequence[int] | None) -> list[int]:
    qs = list(queues) if queues else [0]
    for q in qs:
        if not 0 <= q < backend.num_queues:
            raise UsageError(f"queue {q} does not exist",
                             hint=f"the backend has queues 0..{backend.num_queues - 1}")
    if len(set(qs)) != len(qs):
        raise UsageError("a queue is listed twice")
    return qs


def _check_limits(count: int | None, duration: float | None) -> None:
    if count is not None and count < 1:
        raise UsageError(f"count must be positive, got {count}")
    if duration is not None and duration <= 0:
        raise UsageError(f"duration must be positive, got {duration}")


class _Ticker:
    """Calls ``on_tick`` with a cumulative snapshot every ``interval`` of backend time."""

    def __init__(self, on_tick: Tick | None, t0: int, interval: float):
        self.on_tick, self.t0 = on_tick, t0
        self.step = max(int(interval * 1e9), 1)
        self.next = t0 + self.step
        self.last = t0

    def due(self, now: int) -> bool:
        return self.on_tick is not None and now >= self.next

    def fire(self, now: int, snapshot: dict[str, Any]) -> None:
        if self.on_tick is None:
            return
        self.last = now
        self.next = self.t0 + ((now - self.t0) // self.step + 1) * self.step
        self.on_tick({"t": (now - self.t0) / 1e9, **snapshot})


def _queue_engines(tset: Any, qs: list[int], fill_mode: str) -> dict[int, FieldEngine]:
    """One engine per Tx queue. With at least as many flows as queues each queue owns the
    flows ``f`` with ``position % len(qs) == i`` of the flow schedule, so a flow never spans
    two queues (which would reorder it); the engines share one sequence array."""
    if len(qs) == 1 or len(tset.flows) < len(qs):
        shared = FieldEngine(tset, fill_mode)
        return dict.fromkeys(qs, shared)
    seq_next = np.zeros(len(tset.flows), np.int64)
    out = {}
    for i, q in enumerate(qs):
        sched = np.ascontiguousarray(tset.flow_sched[i::len(qs)])
        sub = dataclasses.replace(tset, flow_sched=sched,
                                  sched_lcm=math.lcm(len(tset.size_sched), len(sched)))
        out[q] = FieldEngine(sub, fill_mode, seq_next=seq_next)
    return out


def run_gen(backend: Any, spec: GenSpec, count: int | None = None,
            duration: float | None = None, rate: float | None = None,
            bitrate: float | None = None, queues: Sequence[int] | None = None,
            on_tick: Tick | None = None, *, end: int = 0, batch: int = 64,
            fill_mode: str = "fields", burst: int = DEFAULT_BURST_FRAMES,
            tick_interval: float = 1.0, idle_step: float = 1e-5,
            rss_end: int | None = None,
            on_batch: Callable[[], None] | None = None,
            stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Send ``spec`` traffic on ``queues`` of ``end`` until ``count`` frames, ``duration``
    seconds (backend clock) or Ctrl-C; return the gen summary (:mod:`report.schema`).

    ``rate`` (pps) or ``bitrate`` (wire bps) paces the aggregate of all queues. With
    ``spec.to_queues`` and no ``spec.rss`` the flows are crafted for the RSS state of
    ``rss_end`` (default: the peer end when the backend has two). ``on_batch`` runs once
    per loop turn (the software pair drains its receiving end there); ``stop`` returning
    True ends the run (a wall-clock limit on a virtual-time backend).
    """
    _check_limits(count, duration)
    if batch < 1:
        raise UsageError(f"batch must be positive, got {batch}")
    qs = _check_queues(backend, queues)
    if spec.to_queues and spec.rss is None:
        if rss_end is None:
            rss_end = 1 if getattr(backend, "num_ends", 1) > 1 else end
        spec = dataclasses.replace(spec, rss=rss_config_of(backend, rss_end))
    tset = build_templates(spec)
    engines = _queue_engines(tset, qs, fill_mode)
    # with fewer flows than queues the queues share one engine: count each engine once
    unique_engines = list({id(e): e for e in engines.values()}.values())
    pacer = None
    if rate is not None or bitrate is not None:
        pacer = Pacer(rate, bitrate, burst, int(tset.class_wire_bits.max()))
    slot_path = isinstance(backend, SlotTx)
    stride = (tset.max_frame_len + 63) // 64 * 64
    bufs = {q: np.zeros(batch * stride, np.uint8) for q in qs}
    maps = {q: FieldEngine.slot_map(batch) for q in qs}
    own_addrs = np.arange(batch, dtype=np.int64) * stride
    slot_maps: dict[int, np.ndarray] = {}
    lens = np.zeros(batch, np.uint32)
    pending: dict[int, list[bytes]] = {q: [] for q in qs}
    q_pkts = dict.fromkeys(qs, 0)
    q_bytes = dict.fromkeys(qs, 0)
    ring_full = 0
    stats0 = _drops_errors(backend.stats(end=end))
    t0 = _ns(backend)
    ticker = _Ticker(on_tick, t0, tick_interval)
    now = t0
    stopped = "interrupt"

    def snapshot() -> dict[str, Any]:
        pk = sum(q_pkts.values())
        by = sum(q_bytes.values())
        d, e = _drops_errors(backend.stats(end=end))
        return {"packets": pk, "bytes": by, "wire_bits": (by + WIRE_OVERHEAD * pk) * 8,
                "drops": d - stats0[0], "errors": e - stats0[1], "queues": dict(q_pkts)}

    def account(q: int, n: int, nbytes: int) -> None:
        q_pkts[q] += n
        q_bytes[q] += nbytes

    qi = 0
    try:
        while True:
            if on_batch is not None:
                on_batch()
            now = _ns(backend)
            if ticker.due(now):
                ticker.fire(now, snapshot())
            sent = sum(q_pkts.values())
            if count is not None and sent >= count:
                stopped = "count"
                break
            if duration is not None and now - t0 >= duration * 1e9:
                stopped = "duration"
                break
            if stop is not None and stop():
                stopped = "duration"
                break
            q = qs[qi]
            if pending[q]:  # list path: retry what the ring refused, in order
                k = backend.tx_burst(q, pending[q], end=end)
                account(q, k, sum(map(len, pending[q][:k])))
                pending[q] = pending[q][k:]
                if pending[q]:
                    ring_full += 1
                    backend.advance(idle_step)
                else:
                    qi = (qi + 1) % len(qs)
                continue
            engine = engines[q]
            produced = sum(e.frames for e in unique_engines)
            want = batch if count is None else min(batch, count - produced)
            if want <= 0:  # everything produced, only retries left on other queues
                backend.advance(idle_step)
                continue
            if slot_path:
                umem, addrs, sstride = backend.tx_slots(q, want, end=end)
                want = min(want, len(addrs))
                if want == 0:
                    ring_full += 1
                    backend.advance(idle_step)
                    continue
            k = want
            if pacer is not None:
                bits = engine.next_wire_bits(want) if pacer.bits else None
                k = pacer.grant(now, want, bits)
                if k == 0:
                    cost = int(bits[0]) if bits is not None else 1
                    backend.advance(max(pacer.next_time(cost) - now, 1) / 1e9)
                    continue
            if slot_path:
                key = id(umem)  # one map per UMEM: every queue's engine has the same classes
                if key not in slot_maps:
                    slot_maps[key] = engine.slot_map(umem.shape[0] // sstride + 1)
                nbytes = engine.fill(umem, addrs, lens, k, ts_ns=now, stride=sstride,
                                     slot_class=slot_maps[key])
                backend.tx_submit(q, addrs, lens, k, end=end)
                account(q, k, nbytes)
                qi = (qi + 1) % len(qs)
                continue
            buf = bufs[q]
            engine.fill(buf, own_addrs, lens, k, ts_ns=now, stride=stride, slot_class=maps[q])
            frames = [buf[a:a + n].tobytes() for a, n in zip(own_addrs[:k].tolist(),
                                                             lens[:k].tolist(), strict=True)]
            taken = backend.tx_burst(q, frames, end=end)
            account(q, taken, int(lens[:taken].sum()))
            if taken < k:
                pending[q] = frames[taken:]
                ring_full += 1
                backend.advance(idle_step)
            else:
                qi = (qi + 1) % len(qs)
    except KeyboardInterrupt:
        stopped = "interrupt"
    now = _ns(backend)
    final = snapshot()
    if on_tick is not None and now > ticker.last:
        ticker.fire(now, final)
    dur = (now - t0) / 1e9
    pk, by = final["packets"], final["bytes"]
    wb = final["wire_bits"]
    pps = pk / dur if dur > 0 else 0.0
    wbps = wb / dur if dur > 0 else 0.0
    ratio = None
    if rate is not None and rate > 0:
        ratio = pps / rate
    elif bitrate is not None and bitrate > 0:
        ratio = wbps / bitrate
    return {
        "schema_version": SCHEMA_VERSION,
        "program": "gen",
        "backend": getattr(backend, "name", type(backend).__name__),
        "end": end,
        "queues": qs,
        "fill_mode": "full" if fill_mode == "full" else "fields",
        "traffic": {"ipv6": spec.ipv6, "proto": spec.proto, "vlan": spec.vlan,
                    "sizes": [list(s) for s in tset.sizes], "flows": len(tset.flows),
                    "mean_frame_len": tset.mean_frame_len()},
        "stopped_by": stopped,
        "duration_s": dur,
        "packets": pk,
        "bytes": by,
        "wire_bits": wb,
        "probed": sum(e.probed for e in unique_engines),
        "pps": pps,
        "wire_bps": wbps,
        "requested_pps": float(rate) if rate is not None else None,
        "requested_bps": float(bitrate) if bitrate is not None else None,
        "rate_ratio": ratio,
        "tx_ring_full": ring_full,
        "drops": final["drops"],
        "errors": final["errors"],
        "per_queue": [{"queue": q, "packets": q_pkts[q], "bytes": q_bytes[q]} for q in qs],
    }


class SinkLoop:
    """The receive side of ``sink``: one :meth:`poll` drains every queue once into the
    sequence checker. ``run_sink`` loops over it; the software pair calls it between
    generator batches so that the receiving rings never overflow."""

    def __init__(self, backend: Any, spec: GenSpec | None = None, *,
                 queues: Sequence[int] | None = None, end: int | None = None,
                 batch: int = 256, verify: bool = True, window: int = 1024,
                 max_flows: int = 65536):
        if end is None:
            end = 1 if getattr(backend, "num_ends", 1) > 1 else 0
        qs = list(queues) if queues else list(range(backend.num_queues))
        self.backend, self.end, self.batch = backend, end, batch
        self.qs = _check_queues(backend, qs)
        n_flows = flow_count(spec) if spec is not None else max_flows
        self.counters = SinkCounters(n_flows, backend.num_queues, window, verify)
        self.slot_path = isinstance(backend, SlotRx)
        self.stats0 = _drops_errors(backend.stats(end=end))
        self.t0 = _ns(backend)

    @property
    def received(self) -> int:
        return int(self.counters.qstats[:, 0].sum())

    def poll(self, limit: int | None = None) -> int:
        """Drain each queue once (at most ``limit`` frames in all); frames received."""
        backend, end, counters = self.backend, self.end, self.counters
        n_rx = 0
        for q in self.qs:
            want = self.batch if limit is None else max(1, min(self.batch, limit - n_rx))
            if self.slot_path:
                umem, addrs, lengths, n = backend.rx_slots(q, want, end=end)
                if n:
                    counters.add_buffer(umem, addrs, lengths, n, q, _ns(backend))
                    backend.rx_release(q, n, end=end)
            else:
                frames = backend.rx_burst(q, want, end=end)
                n = len(frames)
                counters.add_frames(frames, q, _ns(backend))
            n_rx += n
        return n_rx

    def snapshot(self) -> dict[str, Any]:
        t = self.counters.totals()
        d, e = _drops_errors(self.backend.stats(end=self.end))
        return {"packets": t["packets"], "bytes": t["bytes"], "wire_bits": t["wire_bits"],
                "lost": t["lost"], "reordered": t["reordered"], "duplicates": t["duplicates"],
                "drops": d - self.stats0[0], "errors": e - self.stats0[1],
                "queues": {q: int(self.counters.qstats[q, 0]) for q in self.qs}}

    def summary(self, stopped: str, t_end: int | None = None) -> dict[str, Any]:
        now = _ns(self.backend) if t_end is None else t_end
        final = self.snapshot()
        dur = (now - self.t0) / 1e9
        tot = self.counters.totals()
        return {
            "schema_version": SCHEMA_VERSION,
            "program": "sink",
            "backend": getattr(self.backend, "name", type(self.backend).__name__),
            "end": self.end,
            "queues": self.qs,
            "stopped_by": stopped,
            "duration_s": dur,
            **tot,
            "pps": tot["packets"] / dur if dur > 0 else 0.0,
            "wire_bps": tot["wire_bits"] / dur if dur > 0 else 0.0,
            "drops": final["drops"],
            "errors": final["errors"],
            "per_queue": self.counters.per_queue(self.qs),
        }


def run_sink(backend: Any, spec: GenSpec | None = None, duration: float | None = None,
             count: int | None = None, *, queues: Sequence[int] | None = None,
             end: int | None = None, on_tick: Tick | None = None, batch: int = 256,
             verify: bool = True, window: int = 1024, max_flows: int = 65536,
             tick_interval: float = 1.0, idle_step: float = 1e-4) -> dict[str, Any]:
    """Receive on ``queues`` (default all) of ``end`` (default: the peer end when there are
    two) until ``count`` frames, ``duration`` seconds or Ctrl-C; count probes per flow.

    ``spec`` (the generator's) sizes the flow table exactly; without it ``max_flows``.
    """
    _check_limits(count, duration)
    sink = SinkLoop(backend, spec, queues=queues, end=end, batch=batch, verify=verify,
                    window=window, max_flows=max_flows)
    ticker = _Ticker(on_tick, sink.t0, tick_interval)
    stopped = "interrupt"
    try:
        while True:
            now = _ns(backend)
            if ticker.due(now):
                ticker.fire(now, sink.snapshot())
            got = sink.received
            if count is not None and got >= count:
                stopped = "count"
                break
            if duration is not None and now - sink.t0 >= duration * 1e9:
                stopped = "duration"
                break
            limit = None if count is None else count - got
            if sink.poll(limit) == 0:
                backend.advance(idle_step)
    except KeyboardInterrupt:
        stopped = "interrupt"
    now = _ns(backend)
    if on_tick is not None and now > ticker.last:
        ticker.fire(now, sink.snapshot())
    return sink.summary(stopped, now)


def device_counters(stats: dict[str, Any], queues: Sequence[int]) -> dict[str, Any]:
    """What the driver layer counted on one end, per queue: Rx distribution (RSS),
    copybreak, checksum verdicts, interrupts and drops (ethtool -S names)."""

    def get(q: int, name: str) -> int:
        return int(stats.get(f"queue_{q}_{name}", 0))

    per_queue = [{
        "queue": q,
        "rx_cnt": get(q, "rx_cnt"),
        "rx_copybreak_pkt": get(q, "rx_rx_copybreak_pkt") or get(q, "rx_copybreak_pkt"),
        "rx_csum_good": get(q, "rx_csum_good"),
        "rx_csum_bad": get(q, "rx_csum_bad"),
        "interrupts": get(q, "tx_interrupts"),
        "napi_complete": get(q, "tx_napi_comp"),
        "tx_cnt": get(q, "tx_cnt"),
    } for q in queues]
    return {
        "per_queue": per_queue,
        "rx_drops": int(stats.get("rx_drops", 0)),
        "rx_overruns": int(stats.get("rx_overruns", 0)),
        "tx_drops": int(stats.get("tx_drops", 0)),
        "resets": int(stats.get("total_resets", 0)),
    }


def run_pair(backend: Any, spec: GenSpec, count: int | None = None,
             duration: float | None = None, *, settle: float = 0.01,
             on_tick: Tick | None = None, **gen_options: Any) -> dict[str, Any]:
    """Generator on end 0 and sink on end 1 of a two-ended backend (the software device
    pair), interleaved so the receiving rings are drained between batches. After the
    generator stops, up to ``settle`` seconds of backend time let frames in flight land.
    Returns ``{"tx": gen summary, "rx": sink summary, "devices": per-end counters}``."""
    if getattr(backend, "num_ends", 1) < 2:
        raise UsageError("a generator/sink pair needs a backend with two ends")
    sink = SinkLoop(backend, spec, end=1)
    tx = run_gen(backend, spec, count, duration, on_tick=on_tick, end=0,
                 on_batch=sink.poll, **gen_options)
    deadline = _ns(backend) + settle * 1e9
    try:
        while sink.received < tx["packets"] and _ns(backend) < deadline:
            if sink.poll() == 0:
                backend.advance(1e-5)
    except KeyboardInterrupt:
        pass
    rx = sink.summary(tx["stopped_by"])
    qs = list(range(backend.num_queues))
    return {
        "schema_version": SCHEMA_VERSION,
        "program": "gen-pair",
        "backend": tx["backend"],
        "tx": tx,
        "rx": rx,
        "devices": {"tx_end": device_counters(backend.stats(end=0), qs),
                    "rx_end": device_counters(backend.stats(end=1), qs)},
    }


__all__ = ["SinkLoop", "SlotRx", "SlotTx", "device_counters", "rss_config_of", "run_gen",
           "run_pair", "run_sink", "wire_bits"]
