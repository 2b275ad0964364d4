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
