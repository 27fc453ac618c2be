"""Interrupt moderation tuning programs: show, set, sweep and recommend (issue #7).

Real interfaces go through ethtool netlink; the software ENA device keeps its settings in a
small state file (:mod:`enatool.moderation.state`) and is swept with a compiled virtual-clock
model (:mod:`numba_kernels.modsim`) that shares the driver's moderation kernels.
"""
