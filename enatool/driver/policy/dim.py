"""Linux net DIM (dynamic interrupt moderation) as the ENA driver uses it for Rx.

Reproduces today's driver (amzn-drivers v2.17.0, ``ena_dim_work`` /
``ena_adjust_adaptive_rx_intr_moderation``) on top of the kernel's ``lib/dim/net_dim.c`` and
``lib/dim/dim.c`` (the copy bundled for kernels < 5.3 behaves the same): mode
START_FROM_EQE, Rx profiles 1, 8, 64, 128, 256 us, zero-initialised state (profile 0,
"start measure", tune state "parking on top"), a decision every ``DIM_NEVENTS`` = 64 events.

Written from the algorithm, not the C: integer rates per ms with round-up division, a
change over 10 % is significant, bytes then packets then events are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

DIM_NEVENTS = 64
NET_DIM_PARAMS_NUM_PROFILES = 5
#: Rx profiles for DIM_CQ_PERIOD_MODE_START_FROM_EQE (usec; the pkts field is unused by ENA).
RX_EQE_PROFILES_USEC = (1, 8, 64, 128, 256)
USEC_PER_MSEC = 1000

# dim->state
DIM_START_MEASURE = 0
DIM_MEASURE_IN_PROGRESS = 1
DIM_APPLY_NEW_PROFILE = 2
# dim->tune_state
DIM_PARKING_ON_TOP = 0
DIM_PARKING_TIRED = 1
DIM_GOING_RIGHT = 2
DIM_GOING_LEFT = 3
# stats comparison
DIM_STATS_WORSE = 0
DIM_STATS_SAME = 1
DIM_STATS_BETTER = 2
# step results
DIM_STEPPED = 0
DIM_TOO_TIRED = 1
DIM_ON_EDGE = 2

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


@dataclass
class DimStats:
    """Rates over one decision window (per millisecond)."""

    ppms: int = 0
    bpms: int = 0
    epms: int = 0


@dataclass
class DimSample:
    time_ns: int = 0
    pkt_ctr: int = 0  # u32
    byte_ctr: int = 0  # u32
    event_ctr: int = 0  # u16


def is_significant_diff(val: int, ref: int) -> bool:
    """More than 10 % apart (``ref`` non-zero)."""
    return (100 * abs(val - ref)) // ref > 10


def div_round_up(n: int, d: int) -> int:
    return (n + d - 1) // d


def calc_stats(start: DimSample, end: DimSample) -> DimStats | None:
    """Rates between two samples; None when no whole microsecond passed (no decision)."""
    delta_us = ((end.time_ns - start.time_ns) // 1000) & _U32
    if delta_us == 0:
        return None
    npkts = (end.pkt_ctr - start.pkt_ctr) & _U32
    nbytes = (end.byte_ctr - start.byte_ctr) & _U32
    return DimStats(ppms=div_round_up(npkts * USEC_PER_MSEC, delta_us),
                    bpms=div_round_up(nbytes * USEC_PER_MSEC, delta_us),
                    epms=div_round_up(DIM_NEVENTS * USEC_PER_MSEC, delta_us))


def stats_compare(curr: DimStats, prev: DimStats) -> int:
    """Better = more bytes, else more packets, else fewer events; only >10 % counts."""
    if not prev.bpms:
        return DIM_STATS_BETTER if curr.bpms else DIM_STATS_SAME
    if is_significant_diff(curr.bpms, prev.bpms):
        return DIM_STATS_BETTER if curr.bpms > prev.bpms else DIM_STATS_WORSE
    if not prev.ppms:
        return DIM_STATS_BETTER if curr.ppms else DIM_STATS_SAME
    if is_significant_diff(curr.ppms, prev.ppms):
        return DIM_STATS_BETTER if curr.ppms > prev.ppms else DIM_STATS_WORSE
    if not prev.epms:
        return DIM_STATS_SAME
    if is_significant_diff(curr.epms, prev.epms):
        return DIM_STATS_BETTER if curr.epms < prev.epms else DIM_STATS_WORSE
    return DIM_STATS_SAME


class NetDim:
    """One Rx queue's ``struct dim`` plus ENA's feeding and applying of it.

    ``sample()`` is ``net_dim()``: it returns the new profile index when a decision moved it
    (the kernel then schedules the work item), else None. With ``auto_apply`` the work item
    runs at once (ENA's ``ena_dim_work``: take the profile, back to "start measure");
    otherwise call :meth:`work` yourself and samples in between are ignored, as in the kernel.
    """

    def __init__(self, profiles_usec: tuple[int, ...] = RX_EQE_PROFILES_USEC,
                 auto_apply: bool = True):
        if len(profiles_usec) != NET_DIM_PARAMS_NUM_PROFILES:
            raise ValueError("net DIM needs exactly 5 profiles")
        self.profiles_usec = tuple(profiles_usec)
        self.auto_apply = auto_apply
        self.state = DIM_START_MEASURE
        self.tune_state = DIM_PARKING_ON_TOP
        self.profile_ix = 0
        self.steps_right = 0
        self.steps_left = 0
        self.tired = 0
        self.prev_stats = DimStats()
        self.start_sample = DimSample()
        self.decisions = 0
        # ENA side
        self.non_empty_napi_events = 0
        self.rx_interval_usec = self.profiles_usec[0]

    @property
    def profile_usec(self) -> int:
        return self.profiles_usec[self.profile_ix]

    # -- lib/dim/dim.c helpers -------------------------------------------------------------
    def _on_top(self) -> bool:
        if self.tune_state in (DIM_PARKING_ON_TOP, DIM_PARKING_TIRED):
            return True
        if self.tune_state == DIM_GOING_RIGHT:
            return self.steps_left > 1 and self.steps_right == 1
        return self.steps_right > 1 and self.steps_left == 1

    def _turn(self) -> None:
        if self.tune_state == DIM_GOING_RIGHT:
            self.tune_state = DIM_GOING_LEFT
            self.steps_left = 0
        elif self.tune_state == DIM_GOING_LEFT:
            self.tune_state = DIM_GOING_RIGHT
            self.steps_right = 0

    def _park_on_top(self) -> None:
        self.steps_right = self.steps_left = self.tired = 0
        self.tune_state = DIM_PARKING_ON_TOP

    def _park_tired(self) -> None:
        self.steps_right = self.steps_left = 0
        self.tune_state = DIM_PARKING_TIRED

    # -- lib/dim/net_dim.c -----------------------------------------------------------------
    def _step(self) -> int:
        if self.tired == NET_DIM_PARAMS_NUM_PROFILES * 2:
            return DIM_TOO_TIRED
        if self.tune_state == DIM_GOING_RIGHT:
            if self.profile_ix == NET_DIM_PARAMS_NUM_PROFILES - 1:
                return DIM_ON_EDGE
            self.profile_ix += 1
            self.steps_right += 1
        elif self.tune_state == DIM_GOING_LEFT:
            if self.profile_ix == 0:
                return DIM_ON_EDGE
            self.profile_ix -= 1
            self.steps_left += 1
        self.tired += 1
        return DIM_STEPPED

    def _exit_parking(self) -> None:
        self.tune_state = DIM_GOING_LEFT if self.profile_ix else DIM_GOING_RIGHT
        self._step()

    def _decision(self, curr: DimStats) -> bool:
        prev_state, prev_ix = self.tune_state, self.profile_ix
        if self.tune_state == DIM_PARKING_ON_TOP:
            if stats_compare(curr, self.prev_stats) != DIM_STATS_SAME:
                self._exit_parking()
        elif self.tune_state == DIM_PARKING_TIRED:
            self.tired -= 1
            if not self.tired:
                self._exit_parking()
        else:
            if stats_compare(curr, self.prev_stats) != DIM_STATS_BETTER:
                self._turn()
            if self._on_top():
                self._park_on_top()
            else:
                res = self._step()
                if res == DIM_ON_EDGE:
                    self._park_on_top()
                elif res == DIM_TOO_TIRED:
                    self._park_tired()
        if prev_state != DIM_PARKING_ON_TOP or self.tune_state != DIM_PARKING_ON_TOP:
            self.prev_stats = curr
        return self.profile_ix != prev_ix

    def sample(self, now_ns: int, event_ctr: int, pkt_ctr: int, byte_ctr: int) -> int | None:
        """``net_dim()`` with one sample; counters are truncated like the kernel's types."""
        if self.state == DIM_APPLY_NEW_PROFILE:
            return None
        measuring = self.state == DIM_MEASURE_IN_PROGRESS
        # most samples stop here: checked before the sample object is built
        if measuring and ((event_ctr & _U16) - self.start_sample.event_ctr) & _U16 < DIM_NEVENTS:
            return None
        end = DimSample(now_ns, pkt_ctr & _U32, byte_ctr & _U32, event_ctr & _U16)
        if measuring:
            curr = calc_stats(self.start_sample, end)
            if curr is None:
                return None
            self.decisions += 1
            if self._decision(curr):
                self.state = DIM_APPLY_NEW_PROFILE
                if self.auto_apply:
                    self.work()
                return self.profile_ix
        self.start_sample = end
        self.state = DIM_MEASURE_IN_PROGRESS
        return None

    def work(self) -> int:
        """ENA's ``ena_dim_work``: the Rx interval becomes the profile's usec (taken at the
        next unmask), and DIM starts a new measurement."""
        self.rx_interval_usec = self.profile_usec
        self.state = DIM_START_MEASURE
        return self.rx_interval_usec

    def on_napi_complete(self, now_ns: int, napi_rx_packets: int, rx_cnt: int,
                         rx_bytes: int) -> int | None:
        """ENA feeding: only cycles that received packets count as events."""
        if not napi_rx_packets:
            return None
        self.non_empty_napi_events = (self.non_empty_napi_events + 1) & _U16
        return self.sample(now_ns, self.non_empty_napi_events, rx_cnt, rx_bytes)
