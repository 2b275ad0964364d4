"""Polite, bounded HTTP fetching for the live poller (aiohttp, already a Faust dependency).

Every request: the configured User-Agent; robots.txt obeyed (cached per host, Protego);
per-host concurrency limit and least delay between requests (the larger of
``host_delay_seconds`` and the site's ``Crawl-delay``); a time budget for the whole response, body
included (a server trickling bytes runs out of it); a body cap counted *after* decompression (a
gzip bomb stops at the cap); redirects followed by hand, at most ``fetch_max_redirects`` hops,
each hop checked against robots.txt and the host limits, a loop detected as such.

Every failure is a ``FetchError`` with a ``kind`` (the metric label) and a reason a person can
read; the caller logs it and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from multidict import CIMultiDict

from agents import feed_metrics as m
from agents.fetch_types import FetchConfig, FetchError, Response
from agents.host_gate import HostGate
from pipeline.schedule import parse_retry_after
from pipeline.urls import host_of

log = logging.getLogger("agents.fetch")

REDIRECTS = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = ("text/html", "application/xhtml+xml")
ROBOTS_MAX_BYTES = 512_000


@dataclass
class _Robots:
    parser: Any  # protego.Protego, or None for "allow all"
    disallow_all: bool
    expires: float
    reason: str = ""


class Fetcher:
    """One HTTP client per poller process. Start with ``async with Fetcher(config):``."""

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self.gate = HostGate(config.host_concurrency, config.host_delay)
        self.robots: dict[str, _Robots] = {}
        self._robots_lock: dict[str, asyncio.Lock] = {}
        self._session: Any = None

    async def __aenter__(self) -> Fetcher:
        import aiohttp

        self._session = aiohttp.ClientSession(
            headers={"User-Agent": self.config.user_agent},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.config.timeout),
            auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- public ---------------------------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        what: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        html_only: bool = False,
    ) -> Response:
        """GET ``url`` within every limit; a 304 comes back as a Response with status 304.
        Raises FetchError (counted in ``newsflow_fetch_errors_total{what, kind}``)."""
        try:
            return await self._get(url, etag, last_modified, accept, html_only)
        except FetchError as exc:
            exc.url = exc.url or url
            m.FETCH_ERRORS.labels(what, exc.kind).inc()
            raise

    # --- internals ------------------------------------------------------------------------------

    async def _get(
        self, url: str, etag: str | None, last_modified: str | None, accept: str | None, html_only: bool
    ) -> Response:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        seen = {url}
        current = url
        for _hop in range(self.config.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError("bad_url", f"not an http(s) URL: {current[:200]!r}", url=current)
            if self.config.respect_robots:
                await self._check_robots(current)
            resp = await self._request(current, headers, html_only)
            if resp.status in REDIRECTS:
                location = resp.headers.get("Location")
                if not location:
                    raise FetchError("http_3xx", f"redirect {resp.status} without Location", url=current)
                nxt = urljoin(current, location)
                if nxt in seen:
                    raise FetchError("redirect_loop", f"redirect loop back to {nxt}", url=url)
                seen.add(nxt)
                current = nxt
                continue
            return resp
        raise FetchError(
            "too_many_redirects", f"more than {self.config.max_redirects} redirects (last {current})", url=url
        )

    async def _request(self, url: str, headers: dict[str, str], html_only: bool, cap: int | None = None) -> Response:
        import aiohttp

        host = host_of(url)
        cap = min(cap, self.config.max_bytes) if cap else self.config.max_bytes
        async with self.gate.slot(host):
            try:
                async with asyncio.timeout(self.config.timeout):
                    async with self._session.get(url, headers=headers, allow_redirects=False) as r:
                        hdrs = CIMultiDict(r.headers)  # header names are case-insensitive
                        status = r.status
                        if status in REDIRECTS or status == 304:
                            return Response(str(r.url), status, hdrs)
                        if status in (429, 503):
                            wait = parse_retry_after(r.headers.get("Retry-After"), time.time())
                            raise FetchError(
                                f"http_{status}",
                                f"HTTP {status}" + (f", Retry-After {wait:.0f}s" if wait is not None else ""),
                                url=url,
                                status=status,
                                retry_after=wait,
                            )
                        if status >= 400:
                            raise FetchError(
                                f"http_{status // 100}xx", f"HTTP {status} {r.reason}", url=url, status=status
                            )
                        ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
                        if html_only and ctype not in HTML_TYPES:
                            raise FetchError("not_html", f"Content-Type {ctype or 'missing'} is not HTML", url=url)
                        declared = r.headers.get("Content-Length")
                        encoding = r.headers.get("Content-Encoding", "").lower()
                        if declared and declared.isdigit() and not encoding and int(declared) > cap:
                            raise FetchError("too_large", f"Content-Length {declared} over the {cap}-byte cap", url=url)
                        body = bytearray()
                        async for chunk in r.content.iter_chunked(65_536):
                            body += chunk
                            if len(body) > cap:
                                if encoding and encoding != "identity":
                                    raise FetchError(
                                        "decompression_bomb",
                                        f"{encoding} body expands past the {cap}-byte cap",
                                        url=url,
                                    )
                                raise FetchError("too_large", f"body over the {cap}-byte cap", url=url)
                        return Response(str(r.url), status, hdrs, bytes(body))
            except TimeoutError as exc:
                raise FetchError("timeout", f"no complete response within {self.config.timeout:g}s", url=url) from exc
            except aiohttp.ClientResponseError as exc:
                raise FetchError("bad_response", f"unreadable response: {exc.message}"[:300], url=url) from exc
            except aiohttp.ClientError as exc:
                # A decompression failure surfaces here too; name it by what aiohttp said.
                text = str(exc) or type(exc).__name__
                kind = "decompression_bomb" if "decompress" in text.lower() else "connection"
                raise FetchError(kind, f"{type(exc).__name__}: {text}"[:300], url=url) from exc

    async def _check_robots(self, url: str) -> None:
        host = host_of(url)
        entry = self.robots.get(host)
        if entry is None or entry.expires < time.monotonic():
            lock = self._robots_lock.setdefault(host, asyncio.Lock())
            async with lock:
                entry = self.robots.get(host)
                if entry is None or entry.expires < time.monotonic():
                    entry = self.robots[host] = await self._load_robots(url)
        if entry.disallow_all:
            raise FetchError(
                "robots", f"robots.txt of {host} could not be read ({entry.reason}); not fetching", url=url
            )
        if entry.parser is not None and not entry.parser.can_fetch(url, self.config.user_agent):
            raise FetchError("robots", f"robots.txt of {host} disallows {urlsplit(url).path or '/'}", url=url)

    async def _load_robots(self, url: str) -> _Robots:
        """RFC 9309: 4xx means no rules; an unreachable robots.txt (5xx, timeout) means stay away,
        retried after a tenth of the usual time to live."""
        from protego import Protego

        p = urlsplit(url)
        robots_url = f"{p.scheme}://{p.netloc}/robots.txt"
        host = host_of(url)
        ttl = self.config.robots_ttl
        try:
            resp = await self._request_robots(robots_url)
        except FetchError as exc:
            m.FETCH_ERRORS.labels("robots", exc.kind).inc()
            log.warning("robots.txt of %s unreachable (%s: %s): not fetching from it for now", host, exc.kind, exc)
            return _Robots(None, True, time.monotonic() + ttl / 10, f"{exc.kind}: {exc}")
        if resp.status >= 500:
            m.FETCH_ERRORS.labels("robots", "http_5xx").inc()
            return _Robots(None, True, time.monotonic() + ttl / 10, f"HTTP {resp.status}")
        if resp.status >= 400:
            return _Robots(None, False, time.monotonic() + ttl)
        parser = Protego.parse(resp.body.decode("utf-8", "replace"))
        delay = parser.crawl_delay(self.config.user_agent)
        if delay:
            self.gate.set_delay(host, float(delay))
        return _Robots(parser, False, time.monotonic() + ttl)

    async def _request_robots(self, robots_url: str) -> Response:
        """robots.txt itself: a few redirects followed, body capped, no robots check."""
        current = robots_url
        for _ in range(5):
            resp = await self._request(current, {}, False, cap=ROBOTS_MAX_BYTES)
            if resp.status in REDIRECTS and resp.headers.get("Location"):
                current = urljoin(current, resp.headers["Location"])
                continue
            return resp
        return Response(current, 404, {})
