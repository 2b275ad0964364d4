"""``newsflow tail``: the filters (unit) and ``--follow`` with filters against a real broker."""

from __future__ import annotations

import asyncio
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from newsflow.kafka import ensure_topics, producer
from newsflow.settings import Settings
from newsflow.tail import matches, summary


def _doc(i: str, category: str | None = None, country: str | None = None, event_type: str | None = None) -> dict:
    doc: dict = {
        "id": i,
        "title": f"Article {i}",
        "text": "…",
        "schema_version": "1.0",
        "pipeline_version": "test",
        "processed_at": "2024-01-01T00:00:00Z",
        "dedup": {"status": "unique", "cluster_id": i, "similarity": 0.0},
    }
    if category:
        doc["category"] = {"label": category, "score": 0.9}
    if event_type or country:
        doc["event"] = {
            "type": event_type or "Battles",
            "score": 0.8,
            "country": country,
            "location": {"name": "Somewhere"},
        }
    return doc


SY_BATTLE = _doc("a", "conflict_war_peace", "SY", "Battles")
UA_STRATEGIC = _doc("b", "conflict_war_peace", "UA", "Strategic developments")
SPORT = _doc("c", "sport")
BARE = _doc("d")


@pytest.mark.parametrize(
    ("doc", "category", "country", "event_type", "expected"),
    [
        (SY_BATTLE, None, None, None, True),
        (BARE, None, None, None, True),
        (SY_BATTLE, "conflict_war_peace", None, None, True),
        (SPORT, "conflict_war_peace", None, None, False),
        (BARE, "sport", None, None, False),
        (SY_BATTLE, None, "SY", None, True),
        (SY_BATTLE, None, "sy", None, True),  # country is case-insensitive
        (UA_STRATEGIC, None, "SY", None, False),
        (SPORT, None, "SY", None, False),  # no event at all
        (SY_BATTLE, None, None, "Battles", True),
        (SY_BATTLE, None, None, "battles", False),  # ACLED spelling, exact
        (UA_STRATEGIC, None, None, "Battles", False),
        (BARE, None, None, "Battles", False),
        (SY_BATTLE, "conflict_war_peace", "SY", "Battles", True),  # filters combine with AND
        (SY_BATTLE, "conflict_war_peace", "UA", "Battles", False),
        (UA_STRATEGIC, "conflict_war_peace", "UA", "Strategic developments", True),
        ({"id": "x", "category": None, "event": None}, None, None, None, True),  # nulls, not missing
        ({"id": "x", "category": None, "event": None}, "sport", "SY", "Battles", False),
    ],
)
def test_matches(doc: dict, category: str | None, country: str | None, event_type: str | None, expected: bool) -> None:
    assert matches(doc, category, country, event_type) is expected


def test_summary_is_one_readable_block() -> None:
    dup = {**SY_BATTLE, "dedup": {"status": "duplicate", "duplicate_of": "z", "cluster_id": "z", "similarity": 1.0}}
    text = summary(dup)
    assert text.startswith("a  Article a")
    assert "category=conflict_war_peace (0.9)" in text
    assert "event=Battles / None @ Somewhere, SY" in text
    assert "dedup=duplicate of z" in text
    assert "event=no event" in summary(SPORT)


# --- real broker --------------------------------------------------------------------------------


def _read_lines(proc: subprocess.Popen[bytes], n: int, timeout: float) -> list[str]:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < n and time.monotonic() < deadline:
        if sel.select(timeout=0.5):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.decode())
    return lines


@pytest.mark.kafka
def test_tail_follow_with_filters_on_a_real_broker(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    s = Settings.from_env(pipeline_env)
    topic = s.topic("enriched")

    async def produce(docs: list[dict]) -> None:
        await ensure_topics(s)
        prod = producer(s)
        await prod.start()
        try:
            for d in docs:
                await prod.send_and_wait(topic, key=d["id"].encode(), value=orjson.dumps(d))
        finally:
            await prod.stop()

    asyncio.run(produce([SY_BATTLE, SPORT, UA_STRATEGIC]))
    env = {**os.environ, **pipeline_env}
    cli = [sys.executable, "-m", "newsflow.cli", "tail"]

    # Without --follow: what is there, filtered, then the count and exit.
    done = subprocess.run(
        cli + ["--json", "--category", "conflict_war_peace", "--country", "sy"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert [orjson.loads(x)["id"] for x in done.stdout.splitlines()] == ["a"]
    assert "1 articles" in done.stderr

    # --follow: history first, then new articles as they arrive; non-matching ones never show.
    proc = subprocess.Popen(
        cli + ["--follow", "--json", "--event-type", "Battles"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = _read_lines(proc, 1, 30)
        assert [orjson.loads(x)["id"] for x in first] == ["a"]
        later = [_doc("e", "sport", "FR", "Strategic developments"), _doc("f", "politics", "UA", "Battles")]
        asyncio.run(produce(later))
        more = _read_lines(proc, 1, 30)
        assert [orjson.loads(x)["id"] for x in more] == ["f"]
        assert proc.poll() is None, "--follow keeps running"
    finally:
        proc.terminate()
        proc.wait(10)
