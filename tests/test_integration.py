"""The seeds through a real Apache Kafka broker and a real ``newsflow worker`` process."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from newsflow.kafka import collect, end_offsets, producer
from newsflow.replay import replay
from newsflow.settings import Settings
from testing import read_all, start_worker, stop_worker

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kafka


def _wait_files(out: Path, n: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = read_all(out) if out.exists() else []
        if len(lines) >= n:
            return [orjson.loads(x) for x in lines]
        time.sleep(0.3)
    return [orjson.loads(x) for x in (read_all(out) if out.exists() else [])]


def test_seeds_flow_through_broker_and_worker(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    s = Settings.from_env(pipeline_env)
    worker = start_worker(pipeline_env, log=tmp_path / "worker.log")
    try:

        async def scenario() -> tuple[list[bytes], list[bytes], list[str]]:
            first = await replay(s, [ROOT / "seeds"], progress=False, keep_ids=True)
            start = await end_offsets(s, s.topic("enriched"))
            dl_start = await end_offsets(s, s.topic("deadletter"))
            # Bad input goes to the dead-letter topic with its reason; the worker keeps running.
            prod = producer(s)
            await prod.start()
            await prod.send_and_wait(s.topic("raw"), key=b"bad-1", value=b"{not json")
            await prod.send_and_wait(s.topic("raw"), key=b"bad-2", value=orjson.dumps({"id": "bad-2", "body": ""}))
            await prod.stop()
            second = await replay(s, [ROOT / "seeds"], progress=False, keep_ids=True)
            before = {p: 0 for p in start}
            out = await collect(s, s.topic("enriched"), before, first.produced + second.produced, 300)
            dls = await collect(s, s.topic("deadletter"), dl_start, 2, 120)
            return out, dls, first.ids

        out, dls, ids = asyncio.run(scenario())
        docs = [orjson.loads(v) for v in out]
        assert len(docs) == 2 and {d["id"] for d in docs} == set(ids)
        first, second = docs
        assert first["dedup"]["status"] == "unique"
        assert second["dedup"]["status"] == "duplicate" and second["dedup"]["duplicate_of"] == first["id"]
        assert first["category"]["label"] == "conflict_war_peace"
        assert first["event"]["type"] == "Strategic developments"
        names = {e["text"] for e in first["entities"]}
        assert {"Russia", "Turkey", "Idlib", "Syria", "Moscow", "Ankara", "Aleppo", "Damascus"} <= names
        assert "Syria's Idlib" in first["text"] and "2 min read" not in first["text"]

        reasons = {orjson.loads(v)["key"]: orjson.loads(v) for v in dls}
        assert set(reasons) == {"bad-1", "bad-2"}
        assert reasons["bad-1"]["stage"] == "clean" and reasons["bad-1"]["original"] == "{not json"
        assert reasons["bad-2"]["error_class"] == "ValueError"

        files = _wait_files(Path(pipeline_env["NEWSFLOW_OUT_DIR"]), 2)
        assert sorted(d["dedup"]["status"] for d in files) == ["duplicate", "unique"]
        assert {d["id"] for d in files} == set(ids)

        port = pipeline_env["NEWSFLOW_WEB_PORT"]
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert 'newsflow_processed_total{stage="clean"} 2.0' in metrics
        assert 'newsflow_dead_lettered_total{stage="clean"} 2.0' in metrics
        assert "newsflow_stage_seconds_bucket" in metrics
        deadline = time.monotonic() + 30
        while "newsflow_consumer_lag{" not in metrics and time.monotonic() < deadline:
            time.sleep(1)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert "newsflow_consumer_lag{" in metrics
        assert worker.poll() is None, "the worker must survive bad input"
    finally:
        stop_worker(worker)
