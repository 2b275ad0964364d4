"""The stall check: a partition whose committed offset sits behind the fetch position with its
message not held by any agent is re-read once, after ``seconds``; a busy or caught-up one never."""

from typing import Any

from agents.stall import StallWatch

TP = ("newsflow.cleaned", 0)


def test_stuck_partition_is_reread_once_after_the_delay():
    w = StallWatch(30.0)
    assert w.check(TP, committed=0, position=1, in_flight=False, now=0.0) is None
    assert w.check(TP, committed=0, position=1, in_flight=False, now=29.0) is None
    assert w.check(TP, committed=0, position=1, in_flight=False, now=30.0) == 0
    assert w.check(TP, committed=0, position=1, in_flight=False, now=90.0) is None  # once per state


def test_progress_or_work_in_flight_resets_the_clock():
    w = StallWatch(30.0)
    assert w.check(TP, committed=5, position=9, in_flight=False, now=0.0) is None
    assert w.check(TP, committed=7, position=9, in_flight=False, now=25.0) is None  # committed moved
    assert w.check(TP, committed=7, position=9, in_flight=False, now=50.0) is None
    assert w.check(TP, committed=7, position=9, in_flight=True, now=56.0) is None  # being processed
    assert w.check(TP, committed=7, position=9, in_flight=False, now=60.0) is None
    assert w.check(TP, committed=7, position=9, in_flight=False, now=90.0) == 7


def test_caught_up_partition_is_never_reread():
    w = StallWatch(1.0)
    for t in range(10):
        assert w.check(TP, committed=4, position=4, in_flight=False, now=float(t)) is None


class _Consumer:
    """The parts of Faust's consumer ``reread_stalled`` reads: one partition stuck behind its fetch position."""

    def __init__(self, tp: object) -> None:
        self.tp = tp
        self._committed_offset = {tp: 3}
        self._unacked_messages: list[object] = []
        self.seeks: list[tuple[object, int]] = []

    def assignment(self) -> set[object]:
        return {self.tp}

    async def position(self, tp: object) -> int:
        return 9

    async def seek(self, tp: object, offset: int) -> None:
        self.seeks.append((tp, offset))


class _App:
    def __init__(self, consumer: _Consumer) -> None:
        self.consumer = consumer
        self.rebalancing = False


def test_nothing_is_sought_while_the_app_rebalances(monkeypatch: Any) -> None:
    import asyncio
    import logging
    from collections import namedtuple

    from agents import stall

    clock = [100.0]
    monkeypatch.setattr(stall.time, "monotonic", lambda: clock[0])
    tp = namedtuple("TP", "topic partition")("newsflow.raw", 2)
    app = _App(_Consumer(tp))
    watch = StallWatch(30.0)
    log = logging.getLogger("test")

    async def at(t: float) -> None:
        clock[0] = t
        await stall.reread_stalled(app, ["newsflow.raw"], watch, log)

    async def passes() -> None:
        await at(100.0)  # the clock starts
        app.rebalancing = True
        await at(131.0)  # due, but the group is rebalancing
        assert app.consumer.seeks == [] and watch.since == {}
        app.rebalancing = False
        await at(132.0)  # the clock starts again
        await at(161.0)
        assert app.consumer.seeks == []
        await at(162.0)
        assert app.consumer.seeks == [(tp, 3)]

    asyncio.run(passes())


def test_a_rebalancing_flag_left_set_does_not_hold_the_watch_forever(monkeypatch: Any) -> None:
    import asyncio
    import logging
    from collections import namedtuple

    from agents import stall

    clock = [0.0]
    monkeypatch.setattr(stall.time, "monotonic", lambda: clock[0])
    tp = namedtuple("TP", "topic partition")("newsflow.raw", 0)
    app = _App(_Consumer(tp))
    app.rebalancing = True
    watch = StallWatch(30.0)

    async def passes() -> None:
        for t in range(0, 65, 5):
            clock[0] = float(t)
            await stall.reread_stalled(app, ["newsflow.raw"], watch, logging.getLogger("test"))

    asyncio.run(passes())
    assert app.consumer.seeks == [(tp, 3)]  # flag older than 30 s ignored, then 30 s of stall
