"""The stall check: a partition whose committed offset sits behind the fetch position with its
message not held by any agent is re-read once, after ``seconds``; a busy or caught-up one never."""

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


def test_nothing_is_sought_while_the_app_rebalances() -> None:
    import asyncio
    import logging
    from collections import namedtuple

    from agents.stall import reread_stalled

    tp = namedtuple("TP", "topic partition")("newsflow.raw", 2)
    app = _App(_Consumer(tp))
    watch = StallWatch(0.0)
    log = logging.getLogger("test")

    async def passes() -> None:
        await reread_stalled(app, ["newsflow.raw"], watch, log)  # starts the clock
        app.rebalancing = True
        await reread_stalled(app, ["newsflow.raw"], watch, log)  # due, but the group is rebalancing
        assert app.consumer.seeks == [] and watch.since == {}
        app.rebalancing = False
        await reread_stalled(app, ["newsflow.raw"], watch, log)  # the clock starts again
        await reread_stalled(app, ["newsflow.raw"], watch, log)
        assert app.consumer.seeks == [(tp, 3)]

    asyncio.run(passes())
