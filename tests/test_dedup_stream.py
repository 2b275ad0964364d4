"""Dedup in the stream: near-duplicates on different partitions and workers, state across restarts.

The dedup topic has one partition (``NEWSFLOW_DEDUP_PARTITIONS=1``, README "Scaling out"), so the
index sees every article whichever partition and worker cleaned, tagged and classified it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from newsflow.backlog import from_text
from newsflow.kafka import end_offsets, ensure_topics, read_topic
from newsflow.settings import Settings
from testing import first_by_id, send_all, start_worker, stop_worker

pytestmark = pytest.mark.kafka


def _syndicated(text: str) -> str:
    """A wire rewrite: new headline, the caption line dropped, a few words edited, a tail added."""
    lines = text.splitlines()
    body = [ln for ln in lines[1:] if "[Getty]" not in ln]
    edited = "\n".join(body).replace("horrendous", "heavy").replace("fierce", "intense")
    return "Moscow and Ankara scale back joint Idlib patrols\n" + edited + "\n\nFollow us on Twitter for more news."


def _send(s: Settings, items: list[tuple[int, bytes, bytes]]) -> None:
    asyncio.run(send_all(s, s.topic("raw"), [(p, k, v) for p, k, v in items]))


def _first_verdicts(s: Settings, start: dict[int, int], ids: set[str], timeout: float = 300) -> dict[str, dict]:
    return asyncio.run(first_by_id(s, s.topic("enriched"), start, ids, timeout))


def _where(s: Settings, ids: set[str], logs: list[Path]) -> str:
    """Where each id got to: the stage topics holding it and the workers' warnings (failure text)."""
    lines = []
    for stage in ("raw", "cleaned", "tagged", "classified", "enriched", "deadletter"):
        ends = asyncio.run(end_offsets(s, s.topic(stage)))

        async def _keys(stage: str = stage) -> list[str]:
            return [(k or b"").decode("utf-8", "replace") async for k, _ in read_topic(s, s.topic(stage))]

        keys = asyncio.run(_keys())
        lines.append(f"{stage}: end offsets {ends}; ids {[k for k in keys if k in ids]}")
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        noted = [ln for ln in text.splitlines() if any(w in ln for w in ("WARN", "ERROR", "assigned", "Ready"))]
        lines.append(f"{log.name}: " + " | ".join(noted[-12:]))
    return "\n".join(lines)


def test_cross_partition_near_duplicates_and_restart(
    pipeline_env: dict[str, str], tmp_path: Path, launcher, seed_text: str
) -> None:  # type: ignore[no-untyped-def]
    s = Settings.from_env(pipeline_env)
    assert s.partitions == 2
    asyncio.run(ensure_topics(s))
    original = from_text(seed_text)
    rewrite = from_text(_syndicated(seed_text)).model_copy(update={"url": "https://wire.example/idlib"})
    assert original.id != rewrite.id

    env2 = {**pipeline_env, "NEWSFLOW_WEB_PORT": str(launcher.free_port())}
    workers = [start_worker(pipeline_env, log=tmp_path / "w1.log"), start_worker(env2, log=tmp_path / "w2.log")]
    try:
        # Different keys on different partitions of the raw topic.
        _send(s, [(0, original.id.encode(), original.to_bytes()), (1, rewrite.id.encode(), rewrite.to_bytes())])
        docs = _first_verdicts(s, {0: 0, 1: 0}, {original.id, rewrite.id})
        assert set(docs) == {original.id, rewrite.id}, _where(
            s, {original.id, rewrite.id}, [tmp_path / "w1.log", tmp_path / "w2.log"]
        )
        first, second = sorted(docs.values(), key=lambda d: d["dedup"]["status"] != "unique")
        assert first["dedup"]["status"] == "unique"
        assert second["dedup"]["status"] == "near_duplicate"
        assert second["dedup"]["duplicate_of"] == first["id"]
        assert second["dedup"]["cluster_id"] == first["dedup"]["cluster_id"]
        assert 0.5 <= second["dedup"]["similarity"] < 1.0
    finally:
        for w in workers:
            stop_worker(w)

    # A fresh worker process rebuilds the index from the changelog topics.
    worker = start_worker(pipeline_env, log=tmp_path / "w3.log")
    try:
        resent = original.model_copy(update={"id": "resent-copy", "url": "https://other.example/a"})
        start = asyncio.run(end_offsets(s, s.topic("enriched")))
        _send(s, [(1, resent.id.encode(), resent.to_bytes()), (0, original.id.encode(), original.to_bytes())])
        later = _first_verdicts(s, start, {resent.id, original.id})
        assert set(later) == {resent.id, original.id}, _where(s, {resent.id, original.id}, [tmp_path / "w3.log"])
        resent_doc, replay_doc = later[resent.id], later[original.id]
        # The replayed id is found in the recovered ``dedup-seen`` table: a duplicate of the cluster root.
        assert replay_doc["dedup"]["status"] == "duplicate", replay_doc["dedup"]
        assert replay_doc["dedup"]["duplicate_of"] == first["id"]
        # The re-sent copy under a new id is found in the recovered dedup-exact table.
        assert resent_doc["dedup"]["status"] == "duplicate", resent_doc["dedup"]
        assert resent_doc["dedup"]["duplicate_of"] == first["id"]
        assert resent_doc["dedup"]["cluster_id"] == first["dedup"]["cluster_id"]
    finally:
        stop_worker(worker)
