"""The live poller as Faust wiring: ``build_poller(app, settings)`` declares everything on an app
that ``newsflow poll`` runs as its own worker (own consumer group ``<app_id>-poll``), so polling
scales out and fails over like the stages without touching their topology.

    newsflow.feeds        FeedRegistration, key = feed URL, compacted  ← ``newsflow feeds add|remove``
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import faust
from pydantic import ValidationError

from agents import feed_metrics as fm
from agents.fetch import FetchConfig, Fetcher, FetchError
from agents.poller import fetch_article, poll_feed, timing_for
from agents.stall import StallWatch, reread_stalled
from pipeline.schedule import first_poll
from schemas import DeadLetter
from schemas.feeds import FeedItem, FeedRegistration, FeedState

if TYPE_CHECKING:
    from newsflow.settings import Settings

log = logging.getLogger("newsflow.poll")

MAX_SITEMAP_CHILDREN = 50
# A page that failed for one of these is not fetched again when another feed lists it; after a
# transient failure (timeout, 5xx, 429, connection) the next listing tries again.
PERMANENT_FAILURES = frozenset({"not_html", "too_large", "decompression_bomb", "robots", "http_4xx", "bad_url"})


@dataclass
class Poller:
    """What ``build_poller`` declared, for tests and the CLI."""

    app: faust.App
    settings: Settings
    state: Any  # faust Table: feed URL -> FeedState (JSON)
    fetched: Any  # faust Table: canonical article URL -> {"status", "id", "t"}
    overlay: dict[str, FeedState] = field(default_factory=dict)
    in_flight: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    fetching: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    fetcher: Fetcher | None = None

    async def client(self) -> Fetcher:
        if self.fetcher is None:
            self.fetcher = await Fetcher(FetchConfig.from_settings(self.settings)).__aenter__()
        return self.fetcher


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

    def current(url: str) -> FeedState | None:
        raw = poller.state.get(url)
        table_state = FeedState.model_validate(raw) if raw is not None else None
        pending = poller.overlay.get(url)
        if pending is not None and (table_state is None or pending.seq > table_state.seq):
            return pending
        return table_state

    def owned_partitions() -> set[int]:
        """Registry partitions assigned to this worker as active (the table also holds standby copies)."""
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == registry_name}

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
                st = current(url)
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
        owned = owned_partitions()
        now = time.time()
        for url in list(poller.state.keys()):
            if len(poller.in_flight) >= s.poll_concurrency:
                return
            if url in poller.in_flight:
                continue
            st = current(url)
            if st is None or st.partition not in owned or st.next_poll_at > now:
                continue
            poller.in_flight[url] = asyncio.ensure_future(poll_one(st))

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
        states = {url: current(url) for url in list(poller.state.keys())}
        mine = owned_partitions()
        return web.json(
            {
                url: st.model_dump(mode="json", exclude={"seen"})
                for url, st in states.items()
                if st and st.partition in mine
            }
        )

    return poller
