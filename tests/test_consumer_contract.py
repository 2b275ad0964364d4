"""A consumer written from docs/consumers.md alone (plain aiokafka, its own group, JSON values, the
committed JSON Schema) receives the enriched seed from a real broker and a real worker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from newsflow.replay import replay
from newsflow.settings import Settings
from pipeline.entities import DEFAULT_MODE, MODEL_DIRS
from schemas import SCHEMA_VERSION
from testing import start_worker, stop_worker

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "json" / "enriched_article.schema.json"
pytestmark = pytest.mark.kafka
jsonschema = pytest.importorskip("jsonschema")


async def consume(bootstrap: str, topic: str, group: str, want: int, timeout: float) -> list[dict]:
    """The docs' example: own group, earliest, manual commit after processing, JSON values."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        value_deserializer=json.loads,
        max_partition_fetch_bytes=10 * 1024 * 1024,
    )
    await consumer.start()
    got: list[dict] = []
    try:

        async def loop() -> None:
            async for msg in consumer:
                article = msg.value
                if article.get("schema_version", "1.0").split(".")[0] != "1":
                    continue
                assert msg.key.decode() == article["id"], "the key is the article id"
                got.append(article)
                await consumer.commit()
                if len(got) >= want:
                    return

        await asyncio.wait_for(loop(), timeout)
    finally:
        await consumer.stop()
    return got


def test_documented_consumer_receives_valid_enriched_seed(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    env = pipeline_env
    s = Settings.from_env(env)
    topic = f"{env['NEWSFLOW_TOPIC_PREFIX']}.enriched"  # <prefix>.enriched, as the docs name it
    worker = start_worker(env, log=tmp_path / "worker.log")
    try:
        first = asyncio.run(replay(s, [ROOT / "seeds"], progress=False, keep_ids=True))
        articles = asyncio.run(
            consume(env["NEWSFLOW_KAFKA_BOOTSTRAP"], topic, "contract-consumer", first.produced, 180)
        )
    finally:
        stop_worker(worker)

    assert [a["id"] for a in articles] == first.ids
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for article in articles:
        validator.validate(article)
        assert article["schema_version"] == SCHEMA_VERSION
        # The worker ran the default mode's packaged NER model, and the record says so
        # (docs/consumers.md, 1.1).
        assert {(m["stage"], m["name"]) for m in article["models"]} >= {
            ("entities", MODEL_DIRS[DEFAULT_MODE].name),
            ("classify", "classify_model"),
            ("classify", "word_vectors"),
            ("classify", "sentence_encoder"),
        }
        assert article["dedup"]["status"] in {"unique", "duplicate", "near_duplicate"}
        # What the docs promise about the fields tail filters on.
        assert article["category"]["label"] == "conflict_war_peace"
        country = article["event"]["country"]
        assert country is None or (len(country) == 2 and country.isupper())
