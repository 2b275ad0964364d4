"""The live poller as Faust wiring: ``build_poller(app, settings)`` declares everything on an app
that ``newsflow poll`` runs as its own worker (own consumer group ``<app_id>-poll``), so polling
scales out and fails over like the stages without touching their topology.

    newsflow.feeds        FeedRegistration, key = feed URL  ← ``newsflow feeds add|remove``
    newsflow.feed-polls   FeedState after each poll, key = feed URL (same partitioning as feeds)
      └─ feed_registry    → table ``feed-state`` (changelog): validators, seen items, next poll time
    timer feed_scheduler  polls the due feeds of the partitions this worker owns
      └─                  → newsflow.feed-items  FeedItem, key = canonical article URL
    newsflow.feed-items
      └─ fetch_articles   → newsflow.raw  RawArticle (page HTML + feed metadata); table ``article-fetched``
                          → newsflow.deadletter  an item whose page could not be fetched, with the reason

A feed belongs to the partition its URL hashes to, on both the registry topic and the poll-outcome
topic, so one agent reads both and the ``feed-state`` table moves with the partition on a
rebalance. Polls run in tasks outside stream iteration, where Faust refuses table writes; so a poll
*sends* its outcome to ``feed-polls`` and the agent applies it to the table (an in-memory overlay
holds it meanwhile, so the scheduler never polls on an older state). Items are keyed by canonical
article URL, so all listings of one article (from any feed, on any worker) meet on one partition,
whose ``article-fetched`` table lets its page be fetched once.

Delivery is at-least-once: items are acknowledged by Kafka before the poll outcome is sent, so a
crash between the two repeats the items, and ``article-fetched`` absorbs the repeats.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust
from pydantic import ValidationError

from agents import feed_metrics as fm
from agents.feed_articles import declare_article_fetching
from agents.feed_state import Poller
from agents.poller import poll_feed, timing_for
from agents.stall import StallWatch, reread_stalled
from pipeline.schedule import first_poll
from schemas.feeds import FeedRegistration, FeedState

if TYPE_CHECKING:
    from newsflow.settings import Settings

log = logging.getLogger("newsflow.poll")

MAX_SITEMAP_CHILDREN = 50


def build_poller(app: faust.App, s: Settings) -> Poller:
    """Declare the poller's topics, tables, agents, timer and web pages on ``app``."""
    registry_name, polls_name = s.topic("feeds"), s.topic("feed-polls")
    inbox = app.topic(registry_name, polls_name, partitions=s.partitions, key_type=bytes, value_type=bytes)
    registry_out = app.topic(registry_name, partitions=s.partitions, key_type=bytes, value_type=bytes)
    polls_out = app.topic(polls_name, partitions=s.partitions, key_type=bytes, value_type=bytes)
    items_topic = app.topic(s.topic("feed-items"), partitions=s.partitions, key_type=bytes, value_type=bytes)
    raw_topic = app.topic(s.topic("raw"), partitions=s.partitions, key_type=bytes, value_type=bytes)
    deadletter_topic = app.topic(s.topic("deadletter"), partitions=s.partitions, key_type=bytes, value_type=bytes)
    json_schema: faust.Schema = faust.Schema(
        key_type=str, value_type=None, key_serializer="json", value_serializer="json"
    )
    poller = Poller(
        app=app,
        settings=s,
        state=app.Table("feed-state", partitions=s.partitions, schema=json_schema),
        fetched=app.Table("article-fetched", partitions=s.partitions, schema=json_schema),
    )
    timing = timing_for(s)
    rng = random.Random()

    @app.agent(inbox, name="feed_registry")
    async def feed_registry(stream: faust.StreamT) -> None:
        async for event in stream.events():
            url = (event.key or b"").decode("utf-8", "replace")
            partition = event.message.partition
            if not url:
                continue
            if event.message.topic == registry_name:
                if not event.value:
                    if url in poller.state:
                        del poller.state[url]
                        log.info("feed %s removed", url)
                    poller.overlay.pop(url, None)
                    task = poller.in_flight.pop(url, None)
                    if task is not None:
                        task.cancel()
                    continue
                try:
                    reg = FeedRegistration.model_validate_json(event.value)
                except (ValueError, ValidationError) as exc:
                    log.warning("feeds topic: unreadable registration for %r: %s", url[:200], exc)
                    fm.FETCH_ERRORS.labels("feed", "bad_registration").inc()
                    continue
                st = poller.current(url)
                if st is None:
                    st = FeedState(url=url, partition=partition, next_poll_at=first_poll(time.time(), timing, rng))
                    log.info("feed %s registered (partition %d)", url, partition)
                st.partition, st.interval_seconds = partition, reg.interval_seconds
                poller.state[url] = st.model_dump(mode="json")
            else:
                if url not in poller.state:
                    continue  # removed while its poll ran
                try:
                    new = FeedState.model_validate_json(event.value or b"")
                except (ValueError, ValidationError) as exc:
                    log.warning("feed-polls topic: unreadable state for %r: %s", url[:200], exc)
                    continue
                old = FeedState.model_validate(poller.state[url])
                if new.seq <= old.seq:
                    continue  # a redelivered or late outcome: the table already has a newer one
                new.partition, new.interval_seconds = partition, old.interval_seconds
                poller.state[url] = new.model_dump(mode="json")
                pending = poller.overlay.get(url)
                if pending is not None and pending.seq <= new.seq:
                    del poller.overlay[url]

    async def poll_one(st: FeedState) -> None:
        try:
            fetcher = await poller.client()
            result = await poll_feed(fetcher, st, timing, seen_cap=s.feed_seen_cap, rng=rng)
            sent = [await items_topic.send(key=item.url.encode(), value=item.to_bytes()) for item in result.items]
            for child in result.sitemaps[:MAX_SITEMAP_CHILDREN]:
                if child not in poller.state:
                    reg = FeedRegistration(url=child, added_at=datetime.now(UTC), interval_seconds=st.interval_seconds)
                    sent.append(await registry_out.send(key=child.encode(), value=reg.to_bytes()))
            for fut in sent:  # items acknowledged before the state that says they were seen
                await fut
            poller.overlay[st.url] = result.state
            await polls_out.send(key=st.url.encode(), value=result.state.to_bytes(), partition=st.partition)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one feed's surprise must not stop the others
            fm.FETCH_ERRORS.labels("feed", "internal").inc()
            log.exception("feed %s: poll failed unexpectedly: %s", st.url, exc)
            failed = st.model_copy(update={"next_poll_at": time.time() + timing.interval, "seq": st.seq + 1})
            poller.overlay[st.url] = failed
        finally:
            poller.in_flight.pop(st.url, None)

    @app.timer(interval=1.0, name="feed_scheduler")
    async def feed_scheduler() -> None:
        """Start a poll for every due feed of an owned partition, ``poll_concurrency`` at most."""
        recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        if app.rebalancing or getattr(app, "in_recovery", False) or not recovered:
            return
        owned = poller.owned_partitions()
        now = time.time()
        for url in list(poller.state.keys()):
            if len(poller.in_flight) >= s.poll_concurrency:
                return
            if url in poller.in_flight:
                continue
            st = poller.current(url)
            if st is None or st.partition not in owned or st.next_poll_at > now:
                continue
            poller.in_flight[url] = asyncio.ensure_future(poll_one(st))

    declare_article_fetching(poller, items_topic, raw_topic, deadletter_topic)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's stubs want a signal= kwarg
    async def _on_revoked(sender: Any, revoked: Any = None, **kwargs: Any) -> None:
        # The next owner polls from the table; a poll cut short here is repeated there.
        for task in list(poller.in_flight.values()):
            task.cancel()
        poller.in_flight.clear()
        poller.overlay.clear()

    stalls = StallWatch(s.stall_seconds)

    @app.timer(interval=5.0, name="poller_stalls")
    async def poller_stalls() -> None:
        """A registration or item Faust fetched but never handed over is read again (``agents.stall``)."""
        await reread_stalled(app, (registry_name, polls_name, items_topic.get_topic_name()), stalls, log)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health")
    async def health_page(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "app": app.conf.id, "feeds": len(poller.state)})

    @app.page("/feeds")
    async def feeds_page(web: Any, request: Any) -> Any:
        """The feeds this worker polls (its active partitions; standby copies left out) and their state."""
        states = {url: poller.current(url) for url in list(poller.state.keys())}
        mine = poller.owned_partitions()
        return web.json(
            {
                url: st.model_dump(mode="json", exclude={"seen"})
                for url, st in states.items()
                if st and st.partition in mine
            }
        )

    return poller
