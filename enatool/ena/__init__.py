"""ENA interface definitions: pure data (numpy only), one module per driver header.

| module    | mirrors (amzn-drivers ``kernel/linux/common/ena_com``) |
|-----------|---------------------------------------------------------|
| ``regs``  | ``ena_regs_defs.h``: BAR0 offsets, register bit fields, reset reasons, PCI ids |
| ``admin`` | ``ena_admin_defs.h``: AQ/ACQ/AENQ entries, opcodes, statuses, feature payloads |
| ``eth_io``| ``ena_eth_io_defs.h``: Tx/Rx descriptors and completions, CQ registers, LLQ |
| ``bits``  | MASK/SHIFT helpers and dtype pack/unpack (no driver counterpart) |

Layouts follow today's driver (v2.17.0); the 2016 driver (v1.0.0) is a subset with reserved
zeros. Nothing is re-exported here: import the submodule you need.
"""
