"""Fixes to faust-streaming 0.15.3's commit bookkeeping that newsflow relies on for at-least-once.

1. A hole at the head of the acknowledged offsets is committed over, and offsets Faust never
   delivered are counted as acknowledged (``_new_offset``); a partition never committed has no
   head to check (``_perform_seek``).
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
_ORIGINAL_PERFORM_SEEK = BaseConsumer.perform_seek


def _new_offset(self: Any, tp: Any) -> int | None:
    """Faust's ``Consumer._new_offset`` with the head-of-run check corrected (see module doc)."""
    acked = self._acked[tp]
    if not acked:
        return None
    # Faust counts offsets skipped between two delivered records ("gaps") as acknowledged, which
    # is only right where compaction removed them. newsflow consumes no compacted topic, so a gap
    # is records fetched and then dropped (end of a batch at a rebalance, a paused partition): they
    # stay unacknowledged, the commit holds at the first of them, and the stall watch re-reads it.
    self._gap[tp].chop(0, max(acked) + 1)
    acked.sort()
    committed = self._committed_offset[tp]
    if committed is not None and min(acked) > committed:
        return None  # the offset at ``committed`` was never acknowledged: do not commit over it
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return int(batch[-1]) + 1


async def _perform_seek(self: Any) -> None:
    """Faust's ``Consumer.perform_seek``, plus a known start for partitions the group never committed.

    Faust records no committed offset for such a partition (nor for one committed at 0), and
    ``_new_offset`` then has no head to check: a record fetched and dropped at the start would be
    committed over by the first run acknowledged after it. The fetch position the consumer starts
    from (the log start, ``auto_offset_reset``) is that head.
    """
    await _ORIGINAL_PERFORM_SEEK(self)
    acks_enabled_for = self.app.topics.acks_enabled_for
    for tp in list(self.assignment()):
        if self._committed_offset.get(tp) is not None or not acks_enabled_for(tp.topic):
            continue
        try:
            position = await self.position(tp)
        except Exception:  # noqa: BLE001 - unassigned meanwhile: the next assignment seeks again
            continue
        if position is not None and self._committed_offset.get(tp) is None:
            self._committed_offset[tp] = position


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
    BaseConsumer.perform_seek = _perform_seek  # type: ignore[method-assign]
    BaseConsumer.ack = _ack  # type: ignore[method-assign]
