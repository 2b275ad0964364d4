"""A local HTTP server on 127.0.0.1 for the feed tests: routes set per path while it runs, every
request recorded (path and headers), hostile answers on demand. It runs its own event loop in a
thread, so an in-process test and a poller in another process can both use it."""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FeedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.query_string else request.path
        self.hits[path] += 1
        self.requests.append((path, dict(request.headers)))
        handler = self.routes.get(path) or self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    # --- helpers --------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == path]


def static(body: bytes | str, content_type: str, etag: str | None = None, last_modified: str | None = None) -> Handler:
    """A document with validators; a matching If-None-Match / If-Modified-Since gets a 304."""
    data = body.encode() if isinstance(body, str) else body

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {}
        if etag:
            headers["ETag"] = etag
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
        if last_modified:
            headers["Last-Modified"] = last_modified
            if not etag and request.headers.get("If-Modified-Since") == last_modified:
                return web.Response(status=304, headers=headers)
        return web.Response(body=data, headers={**headers, "Content-Type": content_type})

    return handler


def status(code: int, headers: dict[str, str] | None = None, text: str = "") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers=headers or {}, text=text)

    return handler


def slow(seconds: float, body: bytes = b"<rss/>", content_type: str = "application/rss+xml") -> Handler:
    """Headers at once, then the body only after ``seconds`` (a trickling server)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        try:
            await resp.write(b"<?xml version='1.0'?>")
            await asyncio.sleep(seconds)
            await resp.write(body)
        except (ConnectionError, asyncio.CancelledError):  # the client gave up: expected here
            pass
        return resp

    return handler


def redirect(to: str, code: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers={"Location": to})

    return handler


def gzip_bomb(expanded_bytes: int, content_type: str = "application/rss+xml") -> Handler:
    """A few kB on the wire that expand to ``expanded_bytes`` of zeros."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * 1_000_000
    parts = [comp.compress(chunk) for _ in range(expanded_bytes // len(chunk))]
    data = b"".join(parts) + comp.flush()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=data, headers={"Content-Type": content_type, "Content-Encoding": "gzip"})

    return handler


def oversized(n: int, content_type: str = "text/html") -> Handler:
    """A body of ``n`` bytes sent in chunks without a Content-Length."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        sent = 0
        try:
            while sent < n:
                await resp.write(b"x" * 65_536)
                sent += 65_536
        except ConnectionError:  # the client stopped at its cap
            pass
        return resp

    return handler


def rss(items: list[tuple[str, str]], title: str = "Test feed", version: str = "2.0") -> str:
    """An RSS document listing (link, title) items."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Mon, 30 Nov 2026 10:0{i % 10}:00 GMT</pubDate><author>desk@example.org (Desk {i})</author></item>"
        for i, (link, t) in enumerate(items)
    )
    return f'<?xml version="1.0"?><rss version="{version}"><channel><title>{title}</title>{body}</channel></rss>'


def article(title: str, canonical: str | None = None, words: str = "") -> Handler:
    head = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    text = words or (f"{title}. " + "Officials in Ankara met their counterparts on Monday to discuss the talks. " * 6)
    html = (
        f"<html><head><title>{title}</title>{head}</head>"
        f"<body><article><h1>{title}</h1><p>{text}</p></article></body></html>"
    )
    return static(html, "text/html; charset=utf-8")


def counted(server: FeedServer, path: str) -> int:
    return server.hits[path]


__all__ = [
    "FeedServer",
    "article",
    "counted",
    "gzip_bomb",
    "oversized",
    "redirect",
    "rss",
    "slow",
    "static",
    "status",
]
