"""newsflow: stream-processing pipeline for news feeds (Kafka + Faust).

The command line (``newsflow``), the one settings object and the I/O around the pure stages
(backlog reading, Kafka helpers) live here; stage logic is in ``pipeline``, topology in ``agents``.
"""
