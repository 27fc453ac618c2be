"""enatool: drive Amazon ENA interfaces at line rate through eBPF/AF_XDP.

Layers (see README.md): ena (interface definitions) -> device (software ENA device) ->
driver (ena_com equivalent + policies) -> backends -> programs -> cli.
"""

__version__ = "0.1.0"
