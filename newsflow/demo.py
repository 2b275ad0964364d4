"""``newsflow demo`` (what ``make demo`` runs once the broker is up): start a worker, replay the
seeds, wait for every article to come out, print a readable summary, stop the worker.

The seeds are replayed twice: the second pass shows the dedup stage marking each copy as a
duplicate of its first appearance.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import orjson

from newsflow.kafka import collect, end_offsets, ensure_topics
from newsflow.replay import replay
from newsflow.settings import Settings, get_settings
from newsflow.worker import start_worker, stop_worker


def _print_article(doc: dict) -> None:
    ev = doc.get("event")
    cat = doc.get("category") or {}
    dd = doc["dedup"]
    print(f"\n=== {doc.get('title')}  [{doc['id']}]")
    print(f"published  {doc.get('published_at')}   language {doc.get('language')}")
    print(f"text       {len(doc['text'])} chars: {doc['text'][:160]!r}…")
    print(
        f"category   {cat.get('label')} ({cat.get('score')}); top3: "
        + ", ".join(f"{t['label']} {t['score']}" for t in cat.get("top", []))
    )
    if ev:
        loc = ev.get("location") or {}
        print(
            f"event      {ev['type']} / {ev.get('sub_type')} ({ev['score']}) at {loc.get('name')}, "
            f"{ev.get('country')} ({loc.get('lat')}, {loc.get('lon')})"
        )
    else:
        print("event      none")
    print(
        "entities   "
        + "; ".join(
            f"{e['name']} {e['label']}×{e['mentions']}"
            + (
                f" [{e['place']['country']}{' capital' if e['place'].get('is_capital') else ''}]"
                if e.get("place")
                else ""
            )
            for e in doc.get("entity_index", [])[:14]
        )
    )
    print(
        f"dedup      {dd['status']}"
        + (f" of {dd['duplicate_of']}" if dd.get("duplicate_of") else "")
        + f" cluster {dd['cluster_id']} similarity {dd['similarity']}"
    )


async def _run(s: Settings, paths: list[Path], timeout: float) -> int:
    await ensure_topics(s)
    topic = s.topic("enriched")
    start = await end_offsets(s, topic)
    first = await replay(s, paths, progress=False, keep_ids=True)
    second = await replay(s, paths, progress=False, keep_ids=True)
    print(f"replayed the backlog twice: {first.produced} + {second.produced} articles")
    got = await collect(s, topic, start, first.produced + second.produced, timeout)
    docs = [orjson.loads(v) for v in got]
    for doc in docs:
        _print_article(doc)
    print(f"\n{len(docs)} of {first.produced + second.produced} articles came out on topic {topic}")
    time.sleep(s.sink_flush_seconds + 1)
    files = sorted(Path(s.out_dir).glob("*/*.jsonl"))
    lines = sum(1 for f in files for ln in f.read_bytes().splitlines() if ln.strip())
    print(f"files: {lines} lines in {len(files)} file(s) under {s.out_dir}/")
    for f in files:
        print(f"  {f}")
    return 0 if len(docs) >= first.produced + second.produced else 1


def run_demo(paths: list[Path], timeout: float = 180.0) -> int:
    s = get_settings()
    log = Path(".run/demo-worker.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = start_worker(log=log)
    try:
        rc = asyncio.run(_run(s, paths, timeout))
    finally:
        stop_worker(worker)
    if rc:
        print(f"demo: not every article came out; worker log: {log}", file=sys.stderr)
    return rc
