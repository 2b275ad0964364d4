"""Hostile input: every case is processed or dead-lettered with a reason, never lost, never a crash.

Offline, each case runs through the four stages with the worker's own guard
(``agents.deadletter.guarded`` with ``limits_for``), the same code ``_run_stage`` runs. Through the
real broker, the whole corpus goes to a real worker process, and every case must show up on the
enriched or the dead-letter topic while the worker stays alive.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import orjson
import pytest

from agents.batch_files import valid_line
from agents.deadletter import guarded, limits_for
from newsflow.kafka import ensure_topics, producer, read_topic
from newsflow.settings import Settings
from pipeline.enrich import Enricher, classify_step, clean_step, dedup_step, entities_step
from schemas import ClassifiedArticle, CleanedArticle, DeadLetter, RawArticle, TaggedArticle
from testing import start_worker, stop_worker
from tests.hostile_corpus import Case, cases

CORPUS = cases()


def test_corpus_is_broad() -> None:
    assert len(CORPUS) >= 25 and len({c.kind for c in CORPUS}) == len(CORPUS)
    assert max(len(c.value) for c in CORPUS) >= 20_000_000


def _offline(enricher: Enricher, s: Settings, case: Case) -> tuple[bytes | None, DeadLetter | None]:
    def dedup(a: ClassifiedArticle) -> object:
        return dedup_step(a, enricher.dedup)

    stages = [
        ("clean", RawArticle.from_bytes, clean_step),
        ("entities", CleanedArticle.from_bytes, entities_step),
        ("classify", TaggedArticle.from_bytes, classify_step),
        ("dedup", ClassifiedArticle.from_bytes, dedup),
    ]
    value: bytes | None = case.value
    for stage, parse, step in stages:
        out = guarded(stage, case.key, value, parse, step, limits_for(s, stage))
        if out.data is None:
            return None, out.letter
        value = out.data
    return value, None


@pytest.fixture(scope="module")
def offline_results() -> dict[str, tuple[bytes | None, DeadLetter | None]]:
    s, enricher, res = Settings(), Enricher(), {}
    for case in CORPUS:
        res[case.kind] = _offline(enricher, s, case)
    return res


@pytest.mark.parametrize("case", CORPUS, ids=[c.kind for c in CORPUS])
def test_offline_processed_or_dead_lettered(case: Case, offline_results) -> None:  # type: ignore[no-untyped-def]
    s = Settings()
    data, letter = offline_results[case.kind]
    assert (data is None) != (letter is None)
    if case.expect == "ok":
        assert data is not None, f"{case.kind} dead-lettered: {letter and letter.error}"
    if case.expect == "dead":
        assert letter is not None, f"{case.kind} came out enriched"
    if data is not None:
        assert valid_line(data) is None and len(data) <= limits_for(s, "dedup").max_out
        doc = orjson.loads(data)
        assert doc["id"] and doc["text"].strip() and doc["dedup"]["status"]
    else:
        assert letter is not None
        assert letter.stage and letter.error_class and letter.error
        wire = letter.to_bytes()
        assert len(wire) < max(1_048_576, 2 * s.max_article_bytes) - 65_536, "dead letter must be sendable"
        if len(case.value) <= s.max_article_bytes:
            assert letter.original_b64 is not None and base64.b64decode(letter.original_b64) == case.value
        else:
            assert letter.original_b64 is None and "exceeds" in letter.error
        assert len(letter.original.encode()) <= s.deadletter_preview_bytes * 3


def test_the_worker_guard_also_catches_unexpected_exceptions() -> None:
    def boom(_: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    out = guarded("entities", b"k", b'{"id":"x"}', orjson.loads, boom, limits_for(Settings(), "entities"))
    assert out.data is None and out.letter and out.letter.error_class == "RecursionError"


def _found(key: bytes | None, value: bytes) -> set[str]:
    """Tracking ids a message of the enriched or dead-letter topic accounts for."""
    text = (key or b"")[:500].decode("utf-8", "replace")
    hits = {c.track for c in CORPUS if c.track in text}
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return hits
    for field in ("id", "key"):
        v = doc.get(field) if isinstance(doc, dict) else None
        if isinstance(v, str):
            hits |= {c.track for c in CORPUS if c.track in v[:500]}
    return hits


@pytest.mark.kafka
def test_hostile_corpus_through_broker_and_worker(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    s = Settings.from_env(pipeline_env)
    worker = start_worker(pipeline_env, log=tmp_path / "worker.log")
    try:

        async def scenario() -> tuple[dict[str, dict], dict[str, dict]]:
            await ensure_topics(s)
            # newsflow.kafka.producer sizes requests from max_article_bytes; the worker keeps 5 MB.
            prod = producer(s.model_copy(update={"max_article_bytes": 16_000_000}))
            await prod.start()
            try:
                for case in CORPUS:
                    await prod.send_and_wait(s.topic("raw"), key=case.key, value=case.value)
            finally:
                await prod.stop()
            enriched: dict[str, dict] = {}
            dead: dict[str, dict] = {}
            deadline = time.monotonic() + 240
            wanted = {c.track for c in CORPUS}
            while time.monotonic() < deadline and set(enriched) | set(dead) < wanted:
                async for k, v in read_topic(s, s.topic("enriched")):
                    for t in _found(k, v):
                        enriched[t] = orjson.loads(v)
                async for k, v in read_topic(s, s.topic("deadletter")):
                    for t in _found(k, v):
                        dead[t] = orjson.loads(v)
                await asyncio.sleep(2)
            return enriched, dead

        enriched, dead = asyncio.run(scenario())
        missing = [c.kind for c in CORPUS if c.track not in enriched and c.track not in dead]
        assert not missing, f"lost: {missing}"
        for c in CORPUS:
            if c.expect == "ok":
                assert c.track in enriched, f"{c.kind}: {dead.get(c.track)}"
            if c.expect == "dead":
                assert c.track in dead, c.kind
            if c.track in dead and c.track not in enriched:
                assert dead[c.track]["error"] and dead[c.track]["stage"], c.kind
        huge = dead["hostile-huge-body"]
        assert huge["stage"] == "clean" and "exceeds" in huge["error"]
        assert worker.poll() is None, "the worker must survive hostile input"
    finally:
        stop_worker(worker)
