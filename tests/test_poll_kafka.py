"""``newsflow poll`` end to end on the real broker: feeds registered in the compacted topic, polled
from a local HTTP server, articles on ``newsflow.raw``; the poller restarted between two feed
updates neither refetches nor misses; a second poller takes half the feeds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import murmur2

from newsflow.feeds import add_feeds, list_feeds, remove_feeds
from newsflow.kafka import end_offsets, ensure_topics, read_topic
from newsflow.settings import Settings
from testing import isolated_env
from tests.feedserver import FeedServer, article, rss, static

pytestmark = pytest.mark.kafka


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsflow.cli", "poll"],
        env={**os.environ, **env},
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _raw(s: Settings, start: dict[int, int] | None = None) -> list[dict]:
    async def _read() -> list[dict]:
        return [orjson.loads(v) async for _k, v in read_topic(s, s.topic("raw"), start_offsets=start)]

    return asyncio.run(_read())


def _topic(s: Settings, stage: str) -> list[bytes]:
    async def _read() -> list[bytes]:
        return [v async for _k, v in read_topic(s, s.topic(stage))]

    return asyncio.run(_read())


def _wait(what: str, cond: Callable[[], bool], timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _poll_env(kafka: str, tmp_path: Path, launcher: Any, **extra: str) -> dict[str, str]:
    """A poller's settings: two partitions, its own web port, no jitter and no per-host delay."""
    return isolated_env(
        kafka,
        tmp_path,
        "poll",
        NEWSFLOW_PARTITIONS="2",
        NEWSFLOW_POLL_WEB_PORT=str(launcher.free_port()),
        NEWSFLOW_POLL_JITTER="0",
        NEWSFLOW_HOST_DELAY_SECONDS="0",
        **extra,
    )


def _partition(url: str, n: int) -> int:
    return (murmur2(url.encode()) & 0x7FFFFFFF) % n


def test_poll_restart_between_updates_no_refetch_no_miss(kafka, tmp_path: Path, launcher) -> None:  # type: ignore[no-untyped-def]
    env = _poll_env(
        kafka,
        tmp_path,
        launcher,
        NEWSFLOW_POLL_INTERVAL_SECONDS="1.5",
        NEWSFLOW_FETCH_TIMEOUT_SECONDS="5",
        NEWSFLOW_USER_AGENT="newsflow-test/1.0",
    )
    s = Settings.from_env(env)
    asyncio.run(ensure_topics(s))
    logs = [tmp_path / "poll1.log", tmp_path / "poll2.log"]
    with FeedServer() as srv:
        srv.set("/robots.txt", static("User-agent: *\nDisallow: /private/\n", "text/plain"))
        u = {x: srv.url(f"/news/{x}") for x in "abcd"}
        for x in "abcd":
            srv.set(f"/news/{x}", article(f"Story {x.upper()}"))
        srv.set("/files/report.pdf", static(b"%PDF-1.4", "application/pdf"))
        srv.set("/rss.xml", static(rss([(u["b"], "B"), (u["a"], "A")]), "application/rss+xml", etag='"r1"'))
        # The second feed lists B again, with tracking parameters: fetched once all the same.
        jf = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "JSON desk",
            "items": [
                {"id": "c", "url": u["c"], "title": "C", "authors": [{"name": "Cee"}]},
                {"id": "b", "url": u["b"] + "?utm_source=json&utm_medium=feed", "title": "B again"},
                {"id": "pdf", "url": srv.url("/files/report.pdf"), "title": "A PDF, not an article page"},
            ],
        }
        srv.set("/feed.json", static(orjson.dumps(jf), "application/feed+json", etag='"j1"'))
        feeds = [srv.url("/rss.xml"), srv.url("/feed.json")]
        assert asyncio.run(add_feeds(s, feeds[:1])) == feeds[:1]
        cli = subprocess.run(
            [sys.executable, "-m", "newsflow.cli", "feeds", "add", feeds[1] + "?utm_source=newsletter"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 0 and cli.stdout.strip() == f"added {feeds[1]}", cli.stderr
        start = asyncio.run(end_offsets(s, s.topic("raw")))

        def urls() -> list[str]:
            return [d["url"] for d in _raw(s, start)]

        poller = _start(env, logs[0])
        try:
            _wait("A, B, C on the raw topic", lambda: {u["a"], u["b"], u["c"]} <= set(urls()), 120, logs)
            # Let each feed be polled again (not modified) before stopping.
            _wait("a 304 for each feed", lambda: all(srv.hits[p] >= 2 for p in ("/rss.xml", "/feed.json")), 30, logs)
        finally:
            _stop(poller)
        first = _raw(s, start)
        by_url = {d["url"]: d for d in first}
        assert sorted(by_url) == sorted([u["a"], u["b"], u["c"]]) and len(first) == 3, urls()
        a = by_url[u["a"]]
        assert a["feed"]["url"] == srv.url("/rss.xml") and a["title"] == "A" and a["feed"]["title"] == "Test feed"
        assert a["feed"]["kind"] == "rss" and a["published_at"] and a["feed"]["author"] and a["feed"]["guid"]
        assert "<article>" in a["html"] and a["source"] == f"127.0.0.1:{srv.port}" and a["fetched_at"]
        b = by_url[u["b"]]  # listed by both feeds: carries the metadata of the one polled first
        assert (b["feed"]["url"], b["title"]) in {(feeds[0], "B"), (feeds[1], "B again")}
        assert by_url[u["c"]]["feed"]["author"] == "Cee" and by_url[u["c"]]["feed"]["kind"] == "jsonfeed"
        assert [srv.hits[f"/news/{x}"] for x in "abc"] == [1, 1, 1], "B listed twice, fetched once"
        # The PDF is refused with its reason on the dead-letter topic, the poller went on.
        letters = [orjson.loads(v) for v in _topic(s, "deadletter")]
        assert [(d["stage"], d["error_class"], d["key"]) for d in letters] == [
            ("fetch", "not_html", srv.url("/files/report.pdf"))
        ], letters
        assert "application/pdf" in letters[0]["error"] and "report.pdf" in letters[0]["original"]

        # Second update while no poller runs: D is added to the RSS feed (new validator).
        srv.set("/rss.xml", static(rss([(u["d"], "D"), (u["b"], "B"), (u["a"], "A")]), "application/rss+xml", '"r2"'))
        json_polls_before = len(srv.headers_of("/feed.json"))
        poller = _start(env, logs[1])
        try:
            _wait("D on the raw topic", lambda: u["d"] in urls(), 120, logs)
            _wait(
                "the JSON feed polled again after the restart",
                lambda: len(srv.headers_of("/feed.json")) >= json_polls_before + 2,
                30,
                logs,
            )
            listed = asyncio.run(list_feeds(s))
            assert set(listed) == set(feeds)
            assert all((e["state"] or {}).get("polls", 0) >= 3 for e in listed.values()), listed
        finally:
            _stop(poller)
        after = _raw(s, start)
        assert sorted(d["url"] for d in after) == sorted(u.values()), "each article exactly once: no refetch, no miss"
        assert [srv.hits[f"/news/{x}"] for x in "abcd"] == [1, 1, 1, 1]
        assert f"feed {feeds[0]}: 1 new of 3 items" in logs[1].read_text(), "A and B known from the changelog"
        assert srv.hits["/files/report.pdf"] == 1, "a permanent failure is not retried"
        # The restarted poller asked with the validators it recovered from the feed-state changelog.
        restarted = srv.headers_of("/feed.json")[json_polls_before]
        assert restarted.get("If-None-Match") == '"j1"'
        assert all(h.get("User-Agent") == "newsflow-test/1.0" for _, h in srv.requests)

        shown = subprocess.run(
            [sys.executable, "-m", "newsflow.cli", "feeds", "list"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout.splitlines()
        assert [line.split()[0] for line in shown] == sorted(feeds)
        assert all(" last=" in line for line in shown), shown
        asyncio.run(remove_feeds(s, [srv.url("/feed.json")]))
        assert set(asyncio.run(list_feeds(s))) == {srv.url("/rss.xml")}


def test_two_pollers_share_the_feeds_and_hand_over(kafka, tmp_path: Path, launcher) -> None:  # type: ignore[no-untyped-def]
    env = _poll_env(kafka, tmp_path, launcher, NEWSFLOW_POLL_INTERVAL_SECONDS="1")
    env2 = {**env, "NEWSFLOW_POLL_WEB_PORT": str(launcher.free_port())}
    s = Settings.from_env(env)
    asyncio.run(ensure_topics(s))
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with FeedServer() as srv:
        srv.set("/robots.txt", static("", "text/plain"))
        # Four feeds, two on each partition; each lists one article of its own.
        candidates = [srv.url(f"/f{i}.xml") for i in range(200)]
        chosen = [c for c in candidates if _partition(c, 2) == 0][:2] + [
            c for c in candidates if _partition(c, 2) == 1
        ][:2]
        path_of = {url: url.rsplit(str(srv.port), 1)[1] for url in chosen}
        for path in path_of.values():
            n = path[2:-4]
            srv.set(path, static(rss([(srv.url(f"/a/{n}"), f"A{n}")]), "application/rss+xml", etag='"1"'))
            srv.set(f"/a/{n}", article(f"Article {n}"))
        feeds = list(path_of)
        start = asyncio.run(end_offsets(s, s.topic("raw")))
        asyncio.run(add_feeds(s, feeds))
        procs = [_start(env, logs[0]), _start(env2, logs[1])]
        try:
            ports = [env["NEWSFLOW_POLL_WEB_PORT"], env2["NEWSFLOW_POLL_WEB_PORT"]]

            def owned() -> list[set[str]]:
                out = []
                for port in ports:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/feeds", timeout=2) as r:
                            doc = orjson.loads(r.read())
                        out.append({url for url, st in doc.items() if st.get("polls")})
                    except OSError:
                        out.append(set())
                return out

            def split() -> bool:
                a, b = owned()
                return bool(a) and bool(b) and not (a & b) and a | b == set(feeds)

            _wait("the feeds split between the two pollers", split, 150, logs)
            a, b = owned()
            for mine in (a, b):
                assert len({_partition(f, 2) for f in mine}) == 1, "each poller polls whole partitions"

            def raw_urls() -> list[str]:
                return [d["url"] for d in _raw(s, start)]

            _wait("one article per feed", lambda: len(set(raw_urls())) == 4, 60, logs)
            # The second poller stops; the first takes its partition with the feeds' state.
            _stop(procs[1])
            moved = sorted(b)[0]
            n = path_of[moved][2:-4]
            srv.set("/a/new", article("Article new"))
            srv.set(
                path_of[moved],
                static(rss([(srv.url("/a/new"), "New"), (srv.url(f"/a/{n}"), f"A{n}")]), "application/rss+xml", '"2"'),
            )
            _wait("the new item of a handed-over feed", lambda: srv.url("/a/new") in raw_urls(), 120, logs)
            _wait("the first poller polling every feed", lambda: owned()[0] == set(feeds), 30, logs)
        finally:
            for p in procs:
                _stop(p)
        urls = raw_urls()
        assert len(urls) == len(set(urls)) == 5, urls
        # The taking-over poller knew the feed's old item from the handed-over state.
        assert f"feed {moved}: 1 new of 2 items" in logs[0].read_text()
        assert all(srv.hits[f"/a/{path_of[f][2:-4]}"] == 1 for f in feeds) and srv.hits["/a/new"] == 1
