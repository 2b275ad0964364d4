"""agents.faust_fixes: Faust never commits over an offset that was not acknowledged."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from intervaltree import IntervalTree

from agents.faust_fixes import _new_offset

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


def test_offsets_the_broker_never_had_count_as_acknowledged() -> None:
    c = _consumer(10, [10, 11, 15])
    c._gap[TP].addi(12, 15)  # 12..14 compacted away
    assert _new_offset(c, TP) == 16
