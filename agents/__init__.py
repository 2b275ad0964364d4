"""Faust wiring: ``agents.topology.build_app(settings)`` builds the app, its topics, agents and timers.

One module per concern: ``app`` (the Faust app from settings), ``stages`` (the agents' loops),
``deadletter`` (bounded dead letters and the guarded step), ``delivery`` (retrying sends and
writes), ``dedup_state`` (the dedup index over tables), ``sink`` (the file layout), ``health``
(lag, stall watch), ``metrics`` (Prometheus series), ``topology`` (the wiring only).
"""
