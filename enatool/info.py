"""`enatool info`: what a device negotiated, as one versioned record.

With no interface the software ENA device is probed through the driver layer exactly as
the Linux driver probes hardware (INTERFACE.md §12), and the record says what the driver
chose. With an interface the real netdev is described from ethtool (driver, channels,
coalescing, rings, offloads) and, on the `ena` driver, its allowance counters.
"""

from __future__ import annotations

from enatool import ethtool

SCHEMA_VERSION = 1


def software_device_report(**device_options) -> dict:
    """Probe a fresh software ENA device with the driver layer and describe the result."""
    from enatool.backends.soft_port import open_soft_driver

    driver, device = open_soft_driver(**device_options)
    try:
        neg = driver.probe()
        report = {"schema_version": SCHEMA_VERSION, "source": "software-device"}
        report.update(neg.as_dict())
        return report
    finally:
        driver.close()


def netdev_report(ifname: str) -> dict:
    """Describe a real interface; unsupported queries are reported as None."""
    from enatool import netdev

    link = netdev.lookup(ifname)
    drv = ethtool.driver_info(ifname) or {}
    report = {
        "schema_version": SCHEMA_VERSION,
        "source": "netdev",
        "device": {
            "ifname": ifname,
            "ifindex": link.index,
            "driver": drv.get("driver") or link.driver,
            "driver_version": drv.get("version"),
            "bus_info": drv.get("bus-info"),
            "mac": _sysfs(ifname, "address"),
            "mtu": _sysfs(ifname, "mtu"),
            "up": link.up,
            "rx_queues": link.num_rx_queues,
            "tx_queues": link.num_tx_queues,
            "xdp_attached": link.xdp_attached,
            "carries_default_route": netdev.carries_default_route(ifname),
        },
        "queues": {"channels": ethtool.channels(ifname), "rings": ethtool.rings(ifname)},
        "moderation": ethtool.coalesce(ifname),
        "offloads": ethtool.features(ifname),
    }
    if drv.get("driver") == "ena":
        stats = ethtool.statistics(ifname) or {}
        report["allowances"] = {k: stats.get(k) for k in ethtool.ENA_ALLOWANCE_COUNTERS}
    return report


def _sysfs(ifname: str, attr: str):
    try:
        with open(f"/sys/class/net/{ifname}/{attr}") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else text
