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
    """Probe a fresh software ENA device with the driver layer and describe the result.

    Sections (stable names): device, queues, llq, offloads, rss, moderation, aenq, health.
    """
    from enatool.backends.base import open_driver

    driver, device = open_driver("soft", **device_options)
    try:
        neg = driver.probe().as_dict()
        host = device.host_info or {}
    finally:
        driver.close()
    rss = dict(neg["rss"])
    return {
        "schema_version": SCHEMA_VERSION,
        "source": "software-device",
        "device": {
            "pci_id": neg["pci_id"],
            "pci_revision": neg["pci_revision"],
            "readless_mmio": neg["readless_mmio"],
            "device_version": neg["device_version"],
            "controller_version": neg["controller_version"],
            "impl_id": neg["impl_id"],
            "dma_width": neg["dma_width"],
            "mac": neg["mac"],
            "mtu": neg["mtu"],
            "max_mtu": neg["max_mtu"],
            "link": neg.get("link"),
            "supported_features": neg["supported_features"],
            "capabilities": neg["capabilities"],
            "driver_era": neg["era"],
            "host_info_reported": {
                k: host.get(k) for k in ("os_name", "driver_version_str", "ena_spec_version")
            },
        },
        "queues": {
            "io_queue_pairs": neg["io_queues"],
            "msix_vectors": neg["msix_count"],
            "tx_ring_size": neg["tx_ring_size"],
            "rx_ring_size": neg["rx_ring_size"],
            "max_tx_ring_size": neg["max_tx_ring_size"],
            "max_rx_ring_size": neg["max_rx_ring_size"],
            "max_tx_sgl": neg["max_tx_sgl"],
            "max_rx_sgl": neg["max_rx_sgl"],
            "limits": neg["queue_limits"],
        },
        "llq": neg["llq"],
        "offloads": neg["offloads"],
        "rss": rss,
        "moderation": neg["moderation"],
        "aenq": {
            "supported_groups": neg["aenq_supported_groups"],
            "enabled_groups": neg["aenq_enabled_groups"],
        },
        "health": {
            "keep_alive_timeout_s": neg["keep_alive_timeout_s"],
            "admin_timeout_s": neg["admin_timeout_s"],
            "hw_hints": neg["hw_hints"],
            "customer_metrics_mask": neg.get("customer_metrics"),
        },
    }


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
