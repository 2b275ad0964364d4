"""Fetching the articles the feeds list: each canonical URL once (table ``article-fetched``), its page
sent to the raw topic, a page that cannot be fetched dead-lettered with the reason."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import faust
from pydantic import ValidationError

from agents import feed_metrics as fm
from agents.feed_state import Poller
from agents.fetch_types import FetchError
from agents.poller import fetch_article
from schemas import DeadLetter
from schemas.feeds import FeedItem

log = logging.getLogger("newsflow.poll")

# A page that failed for one of these is not fetched again when another feed lists it; after a
# transient failure (timeout, 5xx, 429, connection) the next listing tries again.
PERMANENT_FAILURES = frozenset({"not_html", "too_large", "decompression_bomb", "robots", "http_4xx", "bad_url"})


def declare_article_fetching(poller: Poller, items_topic: Any, raw_topic: Any, deadletter_topic: Any) -> None:
    """Declare the ``fetch_articles`` agent and the ``article_fetched_expiry`` timer on the poller's app."""
    app, s = poller.app, poller.settings

    @app.agent(items_topic, name="fetch_articles", concurrency=s.fetch_concurrency)
    async def fetch_articles(stream: faust.StreamT) -> None:
        async for event in stream.events():
            key = (event.key or b"").decode("utf-8", "replace")
            try:
                item = FeedItem.model_validate_json(event.value or b"")
            except (ValueError, ValidationError) as exc:
                await _dead_letter(key, event.value or b"", "bad_item", str(exc))
                continue
            done = poller.fetched.get(key)
            if done is not None and (done.get("status") == "done" or done.get("kind") in PERMANENT_FAILURES):
                fm.LISTINGS_SKIPPED.labels("already_fetched").inc()
                log.debug("article %s already fetched (listed again by %s)", key, item.feed_url)
                continue
            waiting = poller.fetching.get(key)
            if waiting is not None:  # another actor is fetching it right now
                await asyncio.shield(waiting)
                fm.LISTINGS_SKIPPED.labels("already_fetched").inc()
                continue
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            poller.fetching[key] = fut
            try:
                raw = await fetch_article(await poller.client(), item)
                ack = await raw_topic.send(key=raw.id.encode(), value=raw.to_bytes())
                await ack
                record = {"status": "done", "id": raw.id, "t": time.time()}
                poller.fetched[key] = record
                if raw.url and raw.url != key:
                    poller.fetched[raw.url] = record
            except FetchError as exc:
                log.warning("article %s (feed %s): %s: %s", key, item.feed_url, exc.kind, exc)
                poller.fetched[key] = {"status": "failed", "kind": exc.kind, "t": time.time()}
                await _dead_letter(key, event.value or b"", exc.kind, str(exc))
            finally:
                poller.fetching.pop(key, None)
                fut.set_result(None)

    @app.timer(interval=3600.0, name="article_fetched_expiry")
    async def article_fetched_expiry() -> None:
        """Forget articles fetched more than ``article_memory_days`` ago, so ``article-fetched`` stays
        bounded. Outside stream iteration Faust refuses ``del table[key]``: the key is deleted from
        the store and its tombstone sent to each owned partition (as the dedup expiry does)."""
        owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == items_topic.get_topic_name()}
        if not owned or app.rebalancing:
            return
        cutoff = time.time() - s.article_memory_days * 86_400
        try:
            old = [k for k, v in list(poller.fetched.items()) if float((v or {}).get("t", 0)) < cutoff]
            for key in old:
                poller.fetched.data.pop(key, None)
                for p in owned:
                    poller.fetched.send_changelog(p, key, None, value_serializer="raw")
        except Exception as exc:  # noqa: BLE001 - retried at the next run; never stop the poller for it
            log.warning("article-fetched expiry failed: %s: %s", type(exc).__name__, exc)
            return
        if old:
            log.info("article-fetched expiry forgot %d articles", len(old))

    async def _dead_letter(key: str, original: bytes, kind: str, reason: str) -> None:
        letter = DeadLetter(
            stage="fetch",
            error_class=kind,
            error=reason[:2000],
            key=key[:2000],
            original=original.decode("utf-8", "replace")[: s.deadletter_preview_bytes],
            at=datetime.now(UTC),
        )
        await deadletter_topic.send(key=key.encode()[:65_536], value=letter.to_bytes())
