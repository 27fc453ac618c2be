"""Send frames across the software ENA device pair with the Python API and see where RSS put
them on the receiving side."""

from enatool.backends.soft import SoftBackend
from enatool.gen.program import run_pair
from enatool.gen.templates import GenSpec

with SoftBackend(queues=4) as backend:
    spec = GenSpec(size="imix", flows=32, sport="1024-1055")
    report = run_pair(backend, spec, count=5000, queues=[0, 1, 2, 3])
    print("sent", report["tx"]["packets"], "received", report["rx"]["packets"],
          "lost", report["rx"]["lost"])
    for q in report["devices"]["rx_end"]["per_queue"]:
        print(f"rx queue {q['queue']}: {q['rx_cnt']} frames, "
              f"{q['rx_copybreak_pkt']} copied (copybreak), {q['interrupts']} interrupts")
