"""Driver policies, the one home of each rule, shared by every backend.

copybreak   Rx copybreak (2016 small_copy_len / today rx_copybreak)
moderation  static delays, resolution units, 2016 5-level adaptive table, ethtool rules
dim         net DIM as today's driver uses it for Rx
rss         Toeplitz / CRC32 hashing with ENA's conventions, hash inputs, indirection table
"""
