"""Fixes to faust-streaming 0.15.3's commit bookkeeping that newsflow relies on for at-least-once.

1. A hole at the head of the acknowledged offsets is committed over (``_new_offset``).
2. Acknowledgements that do not mean "processed" are recorded as if they did (``_ack``,
   ``withhold_ack``).

Faust commits, per partition, the end of the first run of consecutive acknowledged offsets. Its
check for a hole *at the head* of that run is off by one: ``_committed_offset`` is the next offset
to read (what Kafka stores), yet the run is refused only when ``min(acked) - committed > 1``. A
single offset that was never acknowledged right at the committed position (for example a record
Faust fetched and then dropped around a start or a rebalance) is therefore committed over, and
nothing ever re-reads it: an article can then reach the enriched topic but never the files
(README "A record Faust drops is re-read, and written"). With the fix the commit stays at the
hole, the stall watch (``agents.stall.StallWatch``) sees the committed offset behind the fetch
position with nothing in flight and re-reads from it, and the file sink writes the offset it had
not written (``agents.sink.FileSink`` skips by the set of written offsets, not a high-water mark).
"""

from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer as BaseConsumer
from faust.transport.drivers.aiokafka import Consumer
from faust.types.tuples import ack_lock
from faust.utils.functional import consecutive_numbers

_ORIGINAL_ACK = BaseConsumer.ack


def _new_offset(self: Any, tp: Any) -> int | None:
    """Faust's ``Consumer._new_offset`` with the head-of-run check corrected (see module doc)."""
    acked = self._acked[tp]
    if not acked:
        return None
    max_offset = max(acked)
    gap_for_tp = self._gap[tp]
    if gap_for_tp:  # offsets the broker never had (compaction): count them as acknowledged
        candidates = sorted(gap_for_tp.overlap(0, max_offset), key=lambda x: x.begin)
        if candidates:
            stuff_to_add: list[int] = []
            for entry in candidates:
                stuff_to_add.extend(range(entry.begin, entry.end))
            new_max_offset = max(stuff_to_add[-1], max_offset + 1)
            acked.extend(stuff_to_add)
            gap_for_tp.chop(0, new_max_offset)
    acked.sort()
    committed = self._committed_offset[tp]
    if committed is not None and min(acked) > committed:
        return None  # the offset at ``committed`` was never acknowledged: do not commit over it
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return int(batch[-1]) + 1


def _ack(self: Any, message: Any) -> bool:
    """Faust's ``Consumer.ack``, minus the messages fetched in an earlier consumer generation.

    After a rebalance a stream *skips* the messages it had fetched before it, and acknowledges
    them so its lag does not grow; the consumer meanwhile seeks back to the committed offset and
    fetches them again. Recorded, such an ack lets the commit run past messages whose new copies
    are not processed yet, and a worker stopped or killed in that window loses them. Here they
    are marked done without being recorded: their offsets are committed when the new copies are.
    """
    generation = getattr(message, "generation_id", None)
    if generation is not None and generation != self.app.consumer_generation_id:
        withhold_ack(self, message)
        return False
    return bool(_ORIGINAL_ACK(self, message))


def withhold_ack(consumer: Any, message: Any) -> None:
    """Make ``message`` count as handled without its offset ever being committed.

    A loop body that is cancelled (the worker stops while an article is in a stage) leaves Faust's
    stream iterator to acknowledge the event in a ``finally``, which would commit an article that
    never came out. Call this before re-raising: the later ack becomes a no-op, the offset stays
    uncommitted, and the next owner of the partition reads the message again.
    """
    with ack_lock:
        message.acked = True
    consumer._unacked_messages.discard(message)


def install() -> None:
    """Patch the consumer classes (idempotent)."""
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    BaseConsumer.ack = _ack  # type: ignore[method-assign]
