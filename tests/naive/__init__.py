"""Slow, obviously-correct pure-Python twins of every ``numba_kernels`` kernel."""
