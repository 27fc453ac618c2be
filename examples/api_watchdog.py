"""Probe a software ENA device with the driver layer, stop its keep-alives, and watch
the driver's watchdog reset and recover it, all on the virtual clock (milliseconds of wall
time for 7 seconds of device time)."""

from enatool.backends.soft_port import SoftDevicePort
from enatool.device import SoftEnaDevice
from enatool.driver import EnaDriver
from enatool.ena.regs import ResetReason

dev = SoftEnaDevice()                 # VF with LLQ (1d0f:ec21), 8 queue pairs, MTU 9216 max
dev.bar0.read32(0x0)                  # VERSION register: 0x0000000a (0.10)
drv = EnaDriver(SoftDevicePort(dev))  # the ena_com equivalent, sees only the port
info = drv.probe()                    # reset, admin queue, features, LLQ, RSS, AENQ
dev.faults.keep_alive = False         # fault injection: stop keep-alives
drv.run(7)                            # 7 virtual seconds: watchdog fires, driver recovers
print(drv.counters.wd_expired, ResetReason(drv.counters.last_reset_reason).name)
# -> 1 KEEP_ALIVE_TO
drv.close()
