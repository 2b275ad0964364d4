"""``newsflow feeds add|list|remove``: the feed registry is a compacted topic keyed by feed URL.

Adding writes a ``FeedRegistration``; removing writes a tombstone (compaction then drops the
feed for good). Whichever poller owns the URL's partition picks the change up. ``list`` reads the
registry to its end and, beside each feed, the poller's state from the ``feed-state`` table's
changelog (last outcome, polls, next poll).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from newsflow.kafka import create_missing_topics, producer, read_topic
from newsflow.settings import Settings
from pipeline.urls import canonical_url
from schemas.feeds import FeedRegistration

POLL_SUFFIX = "-poll"


def poll_app_id(s: Settings) -> str:
    """The poller's Faust app id: its own consumer group and changelog prefix."""
    return f"{s.app_id}{POLL_SUFFIX}"


def feed_topics(s: Settings) -> dict[str, tuple[int, dict[str, str]]]:
    """Name -> (partitions, topic configs) of the poller's topics."""
    compact = {"cleanup.policy": "compact"}
    return {
        s.topic("feeds"): (s.partitions, compact),
        s.topic("feed-polls"): (s.partitions, compact),
        s.topic("feed-items"): (s.partitions, {"retention.ms": str(7 * 86_400_000)}),
    }


async def ensure_feed_topics(s: Settings) -> list[str]:
    return await create_missing_topics(s, feed_topics(s))


def normalize_feed_url(url: str) -> str:
    """Feeds are keyed by URL, so one spelling per feed (tracking parameters are harmless to strip
    from a feed URL too). Raises ValueError for what is not an http(s) URL."""
    return canonical_url(url)


async def add_feeds(s: Settings, urls: list[str], interval: float | None = None) -> list[str]:
    await ensure_feed_topics(s)
    keys = [normalize_feed_url(u) for u in urls]
    prod = producer(s)
    await prod.start()
    try:
        now = datetime.now(UTC)
        for url in keys:
            reg = FeedRegistration(url=url, added_at=now, interval_seconds=interval)
            await prod.send_and_wait(s.topic("feeds"), key=url.encode(), value=reg.to_bytes())
    finally:
        await prod.stop()
    return keys


async def remove_feeds(s: Settings, urls: list[str]) -> list[str]:
    await ensure_feed_topics(s)
    keys = [normalize_feed_url(u) for u in urls]
    prod = producer(s)
    await prod.start()
    try:
        for url in keys:
            await prod.send_and_wait(s.topic("feeds"), key=url.encode(), value=None)
    finally:
        await prod.stop()
    return keys


async def list_feeds(s: Settings) -> dict[str, dict]:
    """Registered feeds (registry replayed to its end) with the poller's last known state."""
    await ensure_feed_topics(s)
    feeds: dict[str, dict] = {}
    async for key, value in read_topic(s, s.topic("feeds")):
        if key is None:
            continue
        url = key.decode("utf-8", "replace")
        if value is None:
            feeds.pop(url, None)
        else:
            feeds[url] = {"registration": orjson.loads(value), "state": None}
    changelog = f"{poll_app_id(s)}-feed-state-changelog"
    try:
        async for key, value in read_topic(s, changelog):
            name = orjson.loads(key) if key else None
            if isinstance(name, str) and name in feeds:
                feeds[name]["state"] = orjson.loads(value) if value else None
    except Exception:  # noqa: BLE001 - no poller has run yet: no changelog topic
        pass
    return feeds


def describe(url: str, entry: dict, now: float | None = None) -> str:
    """One line of ``newsflow feeds list``."""
    now = time.time() if now is None else now
    st = entry.get("state") or {}
    if not st or not st.get("polls"):
        return f"{url}  (not polled yet)"
    nxt = st.get("next_poll_at") or now
    parts = [
        f"{st.get('kind') or '?'}",
        f"polls={st.get('polls')}",
        f"last={st.get('last_outcome')}",
        f"next in {max(0.0, nxt - now):.0f}s",
    ]
    if st.get("failures"):
        parts.append(f"failures={st['failures']} ({(st.get('last_error') or '')[:80]})")
    return f"{url}  " + " ".join(parts)
