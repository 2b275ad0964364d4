"""Faust topology: topics, agents, tables and the sink.

Read top to bottom in ``agents.topology``: raw → clean → entities → classify → dedup → enriched + files.
"""
