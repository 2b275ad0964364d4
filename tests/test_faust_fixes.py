"""agents.faust_fixes: Faust never commits over an offset that was not acknowledged."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from intervaltree import IntervalTree

from agents.faust_fixes import _new_offset, _perform_seek

TP = ("newsflow.enriched", 0)


def _consumer(committed: int | None, acked: list[int]) -> SimpleNamespace:
    return SimpleNamespace(
        _acked=defaultdict(list, {TP: list(acked)}),
        _acked_index=defaultdict(set, {TP: set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {TP: committed}),
    )


def test_a_single_hole_at_the_committed_offset_holds_the_commit() -> None:
    # Offset 10 (the next to commit) was never acknowledged; Faust 0.15.3 returned 14 here.
    assert _new_offset(_consumer(10, [11, 12, 13]), TP) is None


def test_consecutive_acks_commit_past_their_end() -> None:
    c = _consumer(10, [10, 11, 12, 14])
    assert _new_offset(c, TP) == 13
    c._committed_offset[TP] = 13
    assert _new_offset(c, TP) is None  # 13 is the hole now
    assert _new_offset(_consumer(None, [5, 6]), TP) == 7


def test_offsets_never_delivered_are_not_counted_as_acknowledged() -> None:
    # Faust records a "gap" when delivered offsets jump: 45 was fetched and dropped, 46.. came next.
    # Faust 0.15.3 counted 45 as acknowledged and committed 89 over it (the soak's lost article).
    c = _consumer(45, list(range(46, 89)))
    c._gap[TP].addi(45, 47)
    assert _new_offset(c, TP) is None
    assert not c._gap[TP].overlap(0, 89)  # the bookkeeping does not grow
    c._acked[TP].insert(0, 45)  # the re-read delivers 45: now everything commits
    assert _new_offset(c, TP) == 89


def _seeking_consumer(committed: int | None, position: int) -> SimpleNamespace:
    """What ``perform_seek`` reads: the broker's committed offsets, the assignment, the position."""
    from faust.types import TP as FaustTP

    tp = FaustTP(*TP)

    async def seek_to_committed() -> dict[Any, int | None]:
        return {tp: committed}

    async def position_of(_tp: Any) -> int:
        return position

    app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True))
    return SimpleNamespace(
        app=app,
        tp=tp,
        seek_to_committed=seek_to_committed,
        position=position_of,
        assignment=lambda: {tp},
        _read_offset=defaultdict(lambda: None),
        _committed_offset=defaultdict(lambda: None),
        _acked=defaultdict(list),
        _acked_index=defaultdict(set),
        _gap=defaultdict(IntervalTree),
    )


async def test_a_partition_never_committed_gets_its_start_as_the_head_to_check() -> None:
    c = _seeking_consumer(None, 0)
    await _perform_seek(c)
    assert c._committed_offset[c.tp] == 0
    c._acked[c.tp] = list(range(1, 20))  # offset 0 fetched and dropped
    assert _new_offset(c, c.tp) is None  # Faust 0.15.3 committed 20 here
    c2 = _seeking_consumer(37, 99)
    await _perform_seek(c2)
    assert c2._committed_offset[c2.tp] == 37  # a committed offset is kept as it is


def _acking_consumer(generation: int, committed: int) -> SimpleNamespace:
    """What Faust's ``Consumer.ack`` reads: the app's generation and topics, the offset bookkeeping."""
    app = SimpleNamespace(consumer_generation_id=generation, topics=SimpleNamespace(acks_enabled_for=lambda t: True))
    return SimpleNamespace(
        app=app,
        _acked=defaultdict(list),
        _acked_index=defaultdict(set),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {TP: committed}),
        _unacked_messages=set(),
        _n_acked=0,
        _waiting_for_ack=None,
    )


def _message(offset: int, generation: int) -> Any:
    from faust.types.tuples import ConsumerMessage

    return ConsumerMessage(TP[0], TP[1], offset, 0.0, 0, [], b"k", b"v", None, 1, 1, TP, generation_id=generation)


def test_an_ack_from_an_earlier_generation_is_not_recorded() -> None:
    """After a rebalance a stream skips and acks what it fetched before; those offsets must wait
    for their new copies, or a commit can run past articles nobody processed."""
    from agents.faust_fixes import _ack

    c = _acking_consumer(generation=7, committed=10)
    stale, fresh = _message(10, generation=6), _message(11, generation=7)
    c._unacked_messages.update({stale, fresh})
    assert _ack(c, stale) is False and stale.acked
    assert c._acked[TP] == [] and stale not in c._unacked_messages
    assert _ack(c, fresh) is True and c._acked[TP] == [11]
    assert _new_offset(c, TP) is None  # 10 is still a hole: nothing is committed over it


def test_a_withheld_ack_leaves_the_offset_uncommitted() -> None:
    from agents import faust_fixes

    faust_fixes.install()
    c = _acking_consumer(generation=3, committed=20)
    m = _message(20, generation=3)
    m.incref()
    c._unacked_messages.add(m)
    faust_fixes.withhold_ack(c, m)
    assert m.ack(c) is False  # what Faust's stream iterator does in its ``finally``
    assert c._acked[TP] == [] and m not in c._unacked_messages
