"""The ``dedup_expiry`` timer in a real worker: it forgets articles older than the dedup window,
writes the tombstones to the changelog, and the worker keeps running (a timer has no current event,
so deleting from a Faust table the usual way raised and crashed the worker at the first expiry)."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from newsflow.backlog import from_text
from newsflow.kafka import end_offsets, ensure_topics
from newsflow.settings import Settings
from testing import first_by_id, send_all, start_worker, stop_worker

pytestmark = pytest.mark.kafka
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_REMOVED = re.compile(r"dedup expiry removed (\d+) keys")


def _send(s: Settings, values: list[tuple[bytes, bytes]]) -> None:
    asyncio.run(send_all(s, s.topic("raw"), [(None, k, v) for k, v in values]))


def _verdicts(s: Settings, start: dict[int, int], ids: set[str], timeout: float = 300) -> dict[str, str]:
    docs = asyncio.run(first_by_id(s, s.topic("enriched"), start, ids, timeout))
    return {i: d["dedup"]["status"] for i, d in docs.items()}


async def _changelog(s: Settings, table: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of the table's changelog, tombstones (value None) included."""
    topic = f"{s.app_id}-{table}-changelog"
    consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - first contact
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[tuple[bytes | None, bytes | None]] = []
        while not all([await consumer.position(tp) >= end[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        await consumer.stop()


def test_expiry_timer_forgets_old_articles_and_the_worker_survives(
    pipeline_env: dict[str, str], tmp_path: Path, seed_text: str
) -> None:
    env = {**pipeline_env, "NEWSFLOW_DEDUP_EXPIRY_SECONDS": "1", "NEWSFLOW_ENTITY_MODE": "fast"}
    s = Settings.from_env(env)
    base = from_text(seed_text, source="test")
    old = base.model_copy(update={"id": "expiry-old", "published_at": T0})
    other = "Markets closed higher\n" + "\n".join(reversed(seed_text.splitlines()[1:]))
    new = from_text(other, source="test").model_copy(
        update={"id": "expiry-new", "published_at": T0 + timedelta(days=8)}
    )
    log = tmp_path / "worker.log"
    asyncio.run(ensure_topics(s))
    start = asyncio.run(end_offsets(s, s.topic("enriched")))
    worker = start_worker(env, log=log)
    try:
        _send(s, [(b"expiry-old", old.to_bytes()), (b"expiry-new", new.to_bytes())])
        assert _verdicts(s, start, {"expiry-old", "expiry-new"}) == {"expiry-old": "unique", "expiry-new": "unique"}

        # The newest article is 8 days after the old one: the next run (every second) forgets the old one.
        deadline = time.monotonic() + 60
        removed = 0
        while time.monotonic() < deadline and not removed:
            removed = sum(int(m[1]) for m in _REMOVED.finditer(log.read_text(errors="replace")))
            time.sleep(0.5)
        time.sleep(2)  # a few more runs: the worker must still be there
        text = log.read_text(errors="replace")
        assert removed > 0, text[-3000:]
        assert worker.poll() is None and "Cannot modify table" not in text, text[-3000:]

        # The same article again (same id, same text) is not recognised any more: it was forgotten.
        again = asyncio.run(end_offsets(s, s.topic("enriched")))
        _send(s, [(b"expiry-old", old.to_bytes())])
        assert _verdicts(s, again, {"expiry-old"}) == {"expiry-old": "unique"}
    finally:
        stop_worker(worker)

    # The deletion reached the changelog, so a restarted worker does not bring the old entry back:
    # the first record for the old id is its entry, a later one its tombstone.
    seen = [v for k, v in asyncio.run(_changelog(s, "dedup-seen")) if k == b'"expiry-old"']
    assert len(seen) >= 2 and seen[0] is not None and None in seen[1:]
