"""``newsflow tail``: read the output topic, optionally filtered, as summaries or JSON."""

from __future__ import annotations

import argparse
import sys

import orjson

from newsflow.kafka import read_topic
from newsflow.settings import get_settings


def matches(doc: dict, category: str | None, country: str | None, event_type: str | None) -> bool:
    event = doc.get("event") or {}
    if category and (doc.get("category") or {}).get("label") != category:
        return False
    if country and (event.get("country") or "").upper() != country.upper():
        return False
    return not (event_type and event.get("type") != event_type)


def summary(doc: dict) -> str:
    cat = doc.get("category") or {}
    ev = doc.get("event") or {}
    dd = doc.get("dedup") or {}
    where = (ev.get("location") or {}).get("name")
    event = f"{ev.get('type')} / {ev.get('sub_type')} @ {where}, {ev.get('country')}" if ev else "no event"
    title = (doc.get("title") or "")[:70]
    return (
        f"{doc.get('id')}  {title}\n    category={cat.get('label')} ({cat.get('score')})  "
        f"event={event}  dedup={dd.get('status')}" + (f" of {dd.get('duplicate_of')}" if dd.get("duplicate_of") else "")
    )


async def tail(a: argparse.Namespace) -> int:
    s = get_settings()
    topic = s.topic(a.topic)
    n = 0
    async for _key, value in read_topic(s, topic, follow=a.follow, from_beginning=not a.new):
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            print(f"(not JSON: {value[:80]!r})", file=sys.stderr)
            continue
        if not isinstance(doc, dict) or not matches(doc, a.category, a.country, a.event_type):
            continue
        n += 1
        print(orjson.dumps(doc).decode() if a.json else summary(doc), flush=True)
    print(f"{n} articles", file=sys.stderr)
    return 0
