"""Hot loops only: module-level jitted functions over numpy arrays (see ``jit.py``).

rss         Toeplitz tables and batches, CRC32C, sort, 16-bit replicate, queue pick
checksum    Internet checksum, pseudo-headers, RFC 1624 update
moderation  2016 adaptive-table and net DIM steps over per-queue state arrays
warmup      ``warm_up()``: compile or load every kernel before measuring
"""
