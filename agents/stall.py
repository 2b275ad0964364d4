"""Re-reading partitions that Faust stopped feeding to their agent, for any app (README "Stalled
partitions are re-read"): the stage workers (``agents.health.watch_consumer``) and the poller
(``agents/feeds.py``, where a dropped record would be a registration never applied or an article
never fetched) call ``reread_stalled`` from a timer with the topics to watch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from agents import metrics


class StallWatch:
    """Re-reads a partition that Faust stopped feeding to its agent.

    Faust can drop a record it fetched around a worker's start or a rebalance (in several places:
    ``Consumer.getmany``, ``_drain_messages``): its fetch position moves past the record and
    nothing re-reads it until a restart. The symptom is unambiguous: the committed offset stays put
    behind the fetch position while the message at that offset is not being processed. After
    ``seconds`` in that state the partition is sought back to its committed offset, once per state;
    the re-read is at-least-once like any redelivery (every stage is idempotent by key, the file
    sink by offset). A message merely queued behind a slow one can look the same; re-reading it
    then costs a duplicate, never a loss.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since: dict[Any, tuple[int, float]] = {}
        self.done: set[tuple[Any, int]] = set()
        self.rebalancing_since: float | None = None

    def check(self, tp: Any, committed: int, position: int, in_flight: bool, now: float) -> int | None:
        """The offset to seek ``tp`` back to, or None. ``in_flight``: the message at ``committed``
        is held by an agent. Pure: ``watch_consumer`` feeds it."""
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


async def reread_stalled(app: Any, topics: Iterable[str], stalls: StallWatch, log: logging.Logger) -> None:
    """One pass over ``app``'s assigned partitions of ``topics`` (call it from a timer).

    Nothing is sought while the app rebalances: the assignment and the committed offsets are about to
    change, and a seek that lands in the middle of a rebalance is the first suspect of a survivor
    that stopped fetching after one (README "Chaos"). The clocks restart after it. Faust leaves its
    ``rebalancing`` flag set when a recovery is overtaken by another rebalance, so a flag older than
    ``stalls.seconds`` no longer holds the watch back."""
    now = time.monotonic()
    if getattr(app, "rebalancing", False):
        if stalls.rebalancing_since is None:
            stalls.rebalancing_since = now
        if now - stalls.rebalancing_since < stalls.seconds:
            stalls.since.clear()
            return
    else:
        stalls.rebalancing_since = None
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
        back = stalls.check(tp, committed, position, (tp.topic, tp.partition, committed) in unacked, now)
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
