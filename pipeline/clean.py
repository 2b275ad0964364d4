"""Clean stage: turn a raw article (plain text or HTML) into the text every later stage sees.

First cut: plain-text boilerplate removal (repeated title, read-time lines, bracketed photo
credits), glued-word repair, Unicode repair with ftfy, dateline parsing, HTML via trafilatura and
language detection. Later work deepens each rule; the signature stays.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone

import ftfy

from schemas import RawArticle


@dataclass
class CleanResult:
    title: str | None
    text: str
    language: str | None
    published_at: datetime | None
    author: str | None = None
    notes: list[str] = field(default_factory=list)


_READ_TIME = re.compile(r"^\s*\d+\s*(?:min|mins|minute|minutes)\s+read\s*$", re.I)
_CAPTION_CREDIT = re.compile(r"\s*\[(?:getty|getty images|afp|reuters|ap|epa|anadolu)[^\]]*\]\s*$", re.I)
_DATELINE = re.compile(
    r"^\s*(\d{1,2})\s+(January|February|March|April|May|June|July|August|September|October|"
    r"November|December),?\s+(\d{4})\s*$",
    re.I,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        "january february march april may june july august september october november december".split(),
        start=1,
    )
}
# A lower-case letter, an optional possessive, then an upper-case letter starting a new word:
# "Syria'sIdlib". Names like McDonald or iPhone have no apostrophe-s and are left alone.
_GLUED_POSSESSIVE = re.compile(r"(?<=[a-z])(['’]s)(?=[A-Z][a-z])")


def _parse_dateline(line: str) -> datetime | None:
    m = _DATELINE.match(line)
    if not m:
        return None
    day, month, year = int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3))
    try:
        return datetime(year, month, day, tzinfo=timezone.utc)
    except ValueError:
        return None


def _normalise(text: str) -> str:
    text = ftfy.fix_text(text)
    text = unicodedata.normalize("NFC", text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def clean_plain(title: str | None, body: str) -> CleanResult:
    lines = [ln.strip() for ln in _normalise(body).split("\n")]
    notes: list[str] = []
    published: datetime | None = None
    kept: list[str] = []
    seen_title = (title or "").strip()
    for ln in lines:
        if not ln:
            kept.append("")
            continue
        if not seen_title:
            seen_title = ln
            continue
        if ln == seen_title:
            notes.append("repeated_title")
            continue
        if _READ_TIME.match(ln):
            notes.append("read_time")
            continue
        date = _parse_dateline(ln)
        if date is not None:
            published = published or date
            notes.append("dateline")
            continue
        if _CAPTION_CREDIT.search(ln):
            notes.append("photo_caption")
            continue
        kept.append(_GLUED_POSSESSIVE.sub(r"\1 ", ln))
    paragraphs = [p for p in "\n".join(kept).split("\n") if p.strip()]
    text = "\n\n".join(re.sub(r"[ \t]+", " ", p).strip() for p in paragraphs)
    return CleanResult(
        title=seen_title or None,
        text=text,
        language=detect_language(text),
        published_at=published,
        notes=notes,
    )


def clean_html(html: str) -> CleanResult:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=False) or ""
    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta else None
    author = meta.author if meta else None
    published = None
    if meta and meta.date:
        try:
            published = datetime.fromisoformat(meta.date).replace(tzinfo=timezone.utc)
        except ValueError:
            published = None
    result = clean_plain(title, text)
    result.author = author
    result.published_at = result.published_at or published
    return result


def detect_language(text: str) -> str | None:
    if len(text) < 20:
        return None
    try:
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0
        return str(detect(text[:2000]))
    except Exception:
        return None


def clean(raw: RawArticle) -> CleanResult:
    if raw.body and raw.body.strip():
        result = clean_plain(raw.title, raw.body)
    elif raw.html:
        result = clean_html(raw.html)
    else:
        raise ValueError("article has neither body nor html")
    if raw.published_at is not None:
        result.published_at = raw.published_at
    if raw.title:
        result.title = _normalise(raw.title).strip()
    return result
