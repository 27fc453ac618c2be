"""AF_XDP backend: a real netdev driven through XDP (bcc) and AF_XDP sockets.

Modules: ``xdp`` (compile/load/attach the programs of ``bpf/``), ``umem`` (frame memory),
``xsk`` (one socket, its rings as numpy views), ``engine`` (per-queue nogil workers),
``backend`` (``AfxdpBackend``), ``latency`` (the endpoints of ``latency``/``reflect``).
Import is lazy: nothing here loads bcc until used.
"""
