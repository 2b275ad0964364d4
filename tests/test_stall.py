"""``agents.stall``: the poller's stalled-partition check (the same rule as the stage workers')."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, NamedTuple

from agents.stall import StallWatch, reread_stalled


class _TP(NamedTuple):
    topic: str
    partition: int


TP = _TP("p.feed-items", 0)


def test_stuck_partition_is_reread_once_after_the_delay() -> None:
    w = StallWatch(30.0)
    assert w.check(TP, committed=0, position=1, in_flight=False, now=0.0) is None
    assert w.check(TP, committed=0, position=1, in_flight=False, now=29.0) is None
    assert w.check(TP, committed=0, position=1, in_flight=False, now=30.0) == 0
    assert w.check(TP, committed=0, position=1, in_flight=False, now=90.0) is None  # once per state
    assert w.check(TP, committed=3, position=3, in_flight=False, now=91.0) is None  # caught up


def test_work_in_flight_is_never_reread() -> None:
    w = StallWatch(1.0)
    for t in range(10):
        assert w.check(TP, committed=4, position=9, in_flight=True, now=float(t)) is None


class _Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[Any, int]] = []
        self._committed_offset = {TP: 2}
        self._unacked_messages: list[Any] = []

    def assignment(self) -> list[Any]:
        return [TP, _TP("other", 0)]

    async def position(self, tp: Any) -> int:
        return 5

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))


async def test_reread_seeks_a_stuck_watched_partition_only(caplog) -> None:  # type: ignore[no-untyped-def]
    app = SimpleNamespace(consumer=_Consumer())
    stalls = StallWatch(0.0)
    log = logging.getLogger("newsflow.poll")
    await reread_stalled(app, ["p.feed-items"], stalls, log)  # first sight starts the clock
    await reread_stalled(app, ["p.feed-items"], stalls, log)
    assert app.consumer.seeks == [(TP, 2)]
    assert any("re-reading from 2" in r.getMessage() for r in caplog.records)
