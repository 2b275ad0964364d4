"""Re-reading partitions that Faust stopped feeding to their agent, for any app.

The same remedy as the stage workers' ``StallWatch`` in ``agents/topology.py`` (README "Stalled
partitions are re-read"), as a function an app's timer calls with the topics to watch; the poller
(``agents/feeds.py``) uses it for its registry and item topics, where a dropped record would be a
registration never applied or an article never fetched. The topology's copy can move here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from agents import metrics


class Stalls:
    """``check``: the offset to seek a partition back to, or None. A partition whose committed offset
    stays behind the fetch position for ``seconds`` with the message at that offset not in flight
    is re-read from the committed offset, once per state (at-least-once, like any redelivery)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since: dict[Any, tuple[int, float]] = {}
        self.done: set[tuple[Any, int]] = set()

    def check(self, tp: Any, committed: int, position: int, in_flight: bool, now: float) -> int | None:
        if in_flight or committed >= position:
            self.since.pop(tp, None)
            return None
        first = self.since.get(tp)
        if first is None or first[0] != committed:
            self.since[tp] = (committed, now)
            return None
        if now - first[1] < self.seconds or (tp, committed) in self.done:
            return None
        self.done.add((tp, committed))
        return committed


async def reread_stalled(app: Any, topics: Iterable[str], stalls: Stalls, log: logging.Logger) -> None:
    """One pass over ``app``'s assigned partitions of ``topics`` (call it from a timer)."""
    watched = set(topics)
    consumer = app.consumer
    unacked = {(m.tp.topic, m.tp.partition, m.offset) for m in list(getattr(consumer, "_unacked_messages", ()))}
    for tp in list(consumer.assignment()):
        if tp.topic not in watched:
            continue
        try:
            position = await consumer.position(tp)
        except Exception:  # noqa: BLE001 - a check must never disturb the worker
            continue
        if position is None:
            continue
        committed = getattr(consumer, "_committed_offset", {}).get(tp) or 0
        back = stalls.check(tp, committed, position, (tp.topic, tp.partition, committed) in unacked, time.monotonic())
        if back is None:
            continue
        log.warning(
            "%s[%d]: committed offset %d stayed behind the fetch position %d for %.0fs with its message "
            "not in flight; re-reading from %d",
            tp.topic,
            tp.partition,
            committed,
            position,
            stalls.seconds,
            back,
        )
        metrics.ERRORS.labels("consumer", "StalledPartition").inc()
        try:
            await consumer.seek(tp, back)
        except Exception as exc:  # noqa: BLE001 - retried at the next state change
            log.warning("seek of %s[%d] failed: %s", tp.topic, tp.partition, exc)
