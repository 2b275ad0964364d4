"""Reading WARC archives (``.warc``, ``.warc.gz``; Common Crawl CC-NEWS among them) as a backlog.

Each ``response`` record whose HTTP payload is HTML becomes a RawArticle: ``url`` is the record's
``WARC-Target-URI``, ``fetched_at`` its ``WARC-Date`` (the capture time), ``html`` the payload
with transfer and content encodings undone (warcio). The id comes from the page's ``<link
rel=canonical>`` or else the canonical target URI, the same rule as the live poller, so an article
seen live and in an archive gets one id. Requests, metadata, revisits and non-HTML responses are
skipped; a record too large or an archive that breaks off is reported as ``Unreadable`` (the
replay dead-letters it) and the rest of the file is still read where the format allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from newsflow.backlog import Unreadable
from pipeline.urls import canonical_url, host_of, page_canonical, stable_id
from schemas import RawArticle

WARC_SUFFIXES = (".warc", ".warc.gz")
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_RECORD_BYTES = 10_000_000


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "charset" and v.strip("\"' "):
            name = v.strip("\"' ")
            try:
                "".encode(name)
                return name
            except LookupError:
                break
    return "utf-8"


def _captured(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def read_warc(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawArticle | Unreadable]:
    """Yield an article per HTML response record of ``path``, in file order."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    try:
        fh = open(path, "rb")
    except OSError as exc:
        yield Unreadable(str(path), b"", exc)
        return
    with fh:
        records = ArchiveIterator(fh)
        n = 0
        while True:
            try:
                rec = next(records)
            except StopIteration:
                if n == 0:
                    yield Unreadable(str(path), b"", ValueError("no WARC record in the file"))
                return
            except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
                yield Unreadable(f"{path}:record {n + 1}", b"", ValueError(f"archive breaks off: {exc}"))
                return
            n += 1
            if not str(rec.format).startswith("warc"):  # warcio also reads ARC, and takes any text for it
                yield Unreadable(f"{path}:record {n}", b"", ValueError(f"not a WARC record (read as {rec.format})"))
                return
            if rec.rec_type != "response" or rec.http_headers is None:
                continue
            ctype = rec.http_headers.get_header("Content-Type") or ""
            if ctype.split(";")[0].strip().lower() not in HTML_TYPES:
                continue
            uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
            where = f"{path}:record {n} {uri[:200]}"
            try:
                body = rec.content_stream().read(max_record_bytes + 1)
            except Exception as exc:  # noqa: BLE001 - a broken payload encoding is one bad record
                yield Unreadable(where, b"", ValueError(f"unreadable payload: {exc}"))
                continue
            if len(body) > max_record_bytes:
                yield Unreadable(where, body[:65_536], ValueError(f"record over {max_record_bytes} bytes"))
                continue
            missing = getattr(rec.raw_stream, "limit", 0)  # warcio's LimitReader: bytes the record still owes
            if isinstance(missing, int) and missing > 0:
                yield Unreadable(where, body[:65_536], ValueError(f"record cut short: {missing} bytes missing"))
                continue
            basis: str | None
            try:
                basis = page_canonical(body, uri) or canonical_url(uri)
            except ValueError:
                basis = uri or None
            html = body.decode(_charset(ctype), "replace")
            try:
                yield RawArticle(
                    id=stable_id(basis, html),
                    source=host_of(uri) or None,
                    url=uri or None,
                    html=html,
                    fetched_at=_captured(rec.rec_headers.get_header("WARC-Date")),
                )
            except ValueError as exc:
                yield Unreadable(where, body[:65_536], exc)
