"""Reading a backlog: seed-layout text files, JSON Lines of RawArticle fields, HTML files, WARC
archives (``newsflow.warc``), folders.

Reading is separate from producing so ``newsflow enrich`` (offline) and ``newsflow replay`` see
exactly the same articles with exactly the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import ValidationError

from pipeline.urls import stable_id
from schemas import RawArticle

TEXT_SUFFIXES = {".txt", ".text", ""}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_CANONICAL = re.compile(
    rb"""<link[^>]+rel=["']canonical["'][^>]*href=["']([^"']+)["']|<meta[^>]+property=["']og:url["'][^>]*content=["']([^"']+)["']""",
    re.I,
)


@dataclass(frozen=True)
class Unreadable:
    """A backlog item that is not an article; it goes to the dead-letter topic, not the bin."""

    where: str
    raw: bytes
    error: Exception


def from_text(text: str, source: str | None = None) -> RawArticle:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), None)
    return RawArticle(id=stable_id(None, text), source=source, title=first, body=text)


def from_html(html: bytes, source: str | None = None) -> RawArticle:
    m = _CANONICAL.search(html[:200_000])
    url = (m.group(1) or m.group(2)).decode("utf-8", "replace") if m else None
    text = html.decode("utf-8", "replace")
    return RawArticle(id=stable_id(url, text), source=source, url=url, html=text)


def from_json(obj: object) -> RawArticle:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    data = dict(obj)
    if not data.get("id"):
        content = str(data.get("body") or data.get("html") or "")
        data["id"] = stable_id(
            data.get("url") if isinstance(data.get("url"), str) else None, f"{data.get('title') or ''}\n{content}"
        )
    return RawArticle.model_validate(data)


def _files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        else:
            yield p


def read_backlog(paths: list[Path]) -> Iterator[RawArticle | Unreadable]:
    """Yield every article in ``paths`` in a stable order; unreadable items are yielded, not raised."""
    for f in _files(paths):
        suffix = f.suffix.lower()
        if f.name.lower().endswith((".warc", ".warc.gz")):  # WARC archives: newsflow.warc
            from newsflow.warc import read_warc

            yield from read_warc(f)
            continue
        try:
            data = f.read_bytes()
        except OSError as exc:
            yield Unreadable(str(f), b"", exc)
            continue
        if suffix in JSONL_SUFFIXES:
            for n, line in enumerate(data.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    yield from_json(orjson.loads(line))
                except (orjson.JSONDecodeError, ValidationError, ValueError) as exc:
                    yield Unreadable(f"{f}:{n}", line, exc)
        elif suffix in HTML_SUFFIXES:
            try:
                yield from_html(data)
            except (ValidationError, ValueError) as exc:
                yield Unreadable(str(f), data, exc)
        else:
            try:
                yield from_text(data.decode("utf-8"))
            except (UnicodeDecodeError, ValidationError, ValueError) as exc:
                yield Unreadable(str(f), data, exc)
