"""Poller throughput without Kafka: feed parsing per kind, and polls plus article fetches against a
local server on 127.0.0.1 (``python -m evals.bench_poll``). Prints figures; asserts nothing.

The network part measures the poller's own overhead (robots, host gate, parsing, canonical URLs,
decompression and caps), not a real site's latency: on the open web the per-host delay
(``NEWSFLOW_HOST_DELAY_SECONDS``) and the sites' answer times dominate.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

from agents.fetch import Fetcher
from agents.fetch_types import FetchConfig
from agents.poller import fetch_article, poll_feed
from pipeline.feeds import parse_feed
from pipeline.schedule import Timing
from schemas.feeds import FeedState
from tests.feedserver import FeedServer, article, rss, static


def _docs(n: int) -> dict[str, bytes]:
    links = [(f"https://news.example.org/story/{i}?utm_source=rss", f"Story {i}") for i in range(n)]
    atom_entries = "".join(
        f"<entry><title>{t}</title><link href='{u}'/><id>urn:{i}</id><updated>2026-12-01T09:00:00Z</updated></entry>"
        for i, (u, t) in enumerate(links)
    )
    sitemap_urls = "".join(
        f"<url><loc>{u}</loc><news:news><news:title>{t}</news:title>"
        f"<news:publication_date>2026-12-01T06:00:00Z</news:publication_date></news:news></url>"
        for u, t in links
    )
    return {
        "rss": rss(links).encode(),
        "atom": f"<feed xmlns='http://www.w3.org/2005/Atom'><title>A</title>{atom_entries}</feed>".encode(),
        "jsonfeed": orjson.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "items": [{"id": str(i), "url": u} for i, (u, _) in enumerate(links)],
            }
        ),
        "sitemap": (
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            f"xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{sitemap_urls}</urlset>"
        ).encode(),
    }


def bench_parse(items: int, rounds: int) -> None:
    for kind, body in _docs(items).items():
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            feed = parse_feed(body, "https://news.example.org/feed")
        secs = (time.perf_counter() - started) / rounds
        cpu_secs = (time.process_time() - cpu) / rounds
        print(
            f"parse {kind:8s} {items} items, {len(body) / 1e3:.0f} kB: {secs * 1e3:.1f} ms wall, "
            f"{cpu_secs * 1e3:.1f} ms CPU = {len(feed.entries) / cpu_secs:,.0f} items per CPU-second"
        )


async def bench_network(feeds: int, items: int) -> None:
    with FeedServer() as srv:
        srv.set("/robots.txt", static("User-agent: *\nAllow: /\n", "text/plain"))
        for f in range(feeds):
            links = [(srv.url(f"/a/{f}-{i}?utm_source=rss"), f"Story {f}-{i}") for i in range(items)]
            srv.set(f"/feed{f}.xml", static(rss(links), "application/rss+xml", etag=f'"{f}"'))
            for i in range(items):
                srv.set(f"/a/{f}-{i}", article(f"Story {f}-{i}"))
        config = FetchConfig(user_agent="newsflow-bench", timeout=10, host_delay=0.0, host_concurrency=16)
        timing = Timing(interval=60, jitter=0)
        async with Fetcher(config) as fetcher:
            states = [FeedState(url=srv.url(f"/feed{f}.xml"), partition=0) for f in range(feeds)]
            started = time.perf_counter()
            results = await asyncio.gather(*(poll_feed(fetcher, st, timing) for st in states))
            polls = time.perf_counter() - started
            found = [item for r in results for item in r.items]
            started = time.perf_counter()
            sem = asyncio.Semaphore(16)

            async def one(item):  # type: ignore[no-untyped-def]
                async with sem:
                    return await fetch_article(fetcher, item)

            pages = await asyncio.gather(*(one(i) for i in found))
            fetches = time.perf_counter() - started
            started = time.perf_counter()
            again = await asyncio.gather(*(poll_feed(fetcher, r.state, timing) for r in results))
            conditional = time.perf_counter() - started
        print(f"poll {feeds} feeds x {items} items: {polls:.2f}s = {feeds / polls:.0f} polls/s, {len(found)} new items")
        print(f"fetch {len(pages)} article pages: {fetches:.2f}s = {len(pages) / fetches:.0f} pages/s (16 in flight)")
        outcomes = {r.outcome for r in again}
        print(f"re-poll (conditional GET, {outcomes}): {conditional:.2f}s = {feeds / conditional:.0f} polls/s")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.bench_poll")
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--feeds", type=int, default=50)
    a = ap.parse_args()
    bench_parse(a.items, a.rounds)
    asyncio.run(bench_network(a.feeds, 20))


if __name__ == "__main__":
    main()
