"""Fault injection: knobs a test turns at run time to make the device misbehave.

Each knob models a failure the Linux driver has a recovery path for (§4.3, §2.7):
lost keep-alives (reset reason KEEP_ALIVE_TO), slow or lost admin completions (ADMIN_TO),
a lost management interrupt (MISSING_ADMIN_INTERRUPT) and withheld Tx completions
(MISS_TX_CMPL, §7.6). Device-wide events (fatal error,
reset request, suspend/resume, link change) are methods of ``SoftEnaDevice`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    #: False = the keep-alive timer keeps ticking but posts nothing
    keep_alive: bool = True
    #: virtual seconds between fetching an admin command and writing its completion
    admin_delay: float = 0.0
    #: number of upcoming admin completions to drop silently (the command still takes
    #: effect; only its ACQ entry is never written)
    admin_drop: int = 0
    #: False = ACQ/AENQ entries are written but vector 0 is never raised
    mgmt_irq: bool = True
    #: True = Tx packets are still fetched and sent, but their completions are kept back
    #: (per queue, in order) until this goes False again; a queue destroyed meanwhile (driver
    #: reset) takes its held completions with it
    tx_completion_hold: bool = False

    def clear(self) -> None:
        """Back to a healthy device."""
        self.keep_alive = True
        self.admin_delay = 0.0
        self.admin_drop = 0
        self.mgmt_irq = True
        self.tx_completion_hold = False
