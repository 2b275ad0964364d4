"""Loaders for the classify dev data in ``../shared/data`` (read in place, never copied into the repo).

Every item becomes one ``Doc`` with the source it came from, so training and evaluation can
hold whole sources out (leave-one-source-out). ``topic`` is an IPTC subject or ``None`` (no topic
label); ``event`` is an ACLED event type, ``NO_EVENT`` (a clean negative) or ``None`` (unknown:
weak negatives and items from sources that say nothing about events).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.classify import NO_EVENT
from pipeline.classify_features import clean_acled_note

BBC_TOPICS = {
    "business": "economy_business_finance",
    "entertainment": "arts_culture_entertainment",
    "politics": "politics",
    "sport": "sport",
    "tech": "science_technology",
}
CONFLICT = "conflict_war_peace"
TOPIC_SOURCES = ("huffpost_v3_recent", "huffpost_fewshot41", "ag_news_train", "masakhanews_eng")
EVENT_SOURCES = ("case2021_task2", "glocon", "rams")
# "Chemical weapon" is a real ACLED sub-type the 2020 ACLED export here never uses; it is kept.


@dataclass
class Doc:
    source: str
    title: str | None
    text: str
    topic: str | None = None
    event: str | None = None
    sub: str | None = None
    group: str = ""  # identical texts (or windows of one article) share a group so folds never split them
    weak: bool = False  # a weak negative: event unknown, may hold an event

    @property
    def words(self) -> int:
        return len(f"{self.title or ''} {self.text}".split())


def _group(s: str) -> str:
    return hashlib.sha1(re.sub(r"\W+", " ", s.lower()).strip().encode()).hexdigest()


def load_bbc(root: Path) -> list[Doc]:
    docs = []
    for folder, cat in BBC_TOPICS.items():
        for f in sorted((root / folder).glob("*.txt")):
            raw = f.read_bytes()
            try:
                s = raw.decode("utf-8")
            except UnicodeDecodeError:
                s = raw.decode("latin-1")
            title, _, body = s.strip().partition("\n")
            body = body.strip()
            docs.append(Doc("bbc", title.strip(), body, topic=cat, event=NO_EVENT, group=_group(title + body)))
    return docs


def load_acled(path: Path) -> list[Doc]:
    docs = []
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            note, typ = (row.get("notes") or "").strip(), (row.get("event_type") or "").strip()
            if not note or not typ:
                continue
            sub = (row.get("sub_event_type") or "").strip() or None
            docs.append(Doc("acled", None, clean_acled_note(note), CONFLICT, typ, sub, group=_group(note)))
    return docs


def load_topics(root: Path, source: str) -> list[Doc]:
    """One ``topics/<source>/data.jsonl``; these sources say nothing about events (``event=None``),
    except that a non-conflict subject is a clean negative for the event head."""
    docs = []
    with open(root / source / "data.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            title, body = (r.get("title") or "").strip(), (r.get("body") or "").strip()
            docs.append(Doc(source, title or None, body, topic=r["label"], event=NO_EVENT, group=_group(title + body)))
    return docs


def load_events(root: Path, source: str) -> list[Doc]:
    docs = []
    with open(root / source / "data.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            body = (r.get("body") or "").strip()
            typ = r.get("event_type")
            weak = bool(r.get("weak_negative"))
            event = typ if typ else (None if weak else NO_EVENT)
            group = _group(r.get("source_url") or body)
            topic = CONFLICT if typ else None
            docs.append(
                Doc(
                    source,
                    (r.get("title") or "").strip() or None,
                    body,
                    topic,
                    event,
                    r.get("sub_event_type"),
                    group=group,
                    weak=weak,
                )
            )
    return docs


def load_all(data: Path) -> list[Doc]:
    docs = load_bbc(data / "bbc") + load_acled(data / "acled" / "acled_2020.csv")
    for s in TOPIC_SOURCES:
        docs += load_topics(data / "topics", s)
    for s in EVENT_SOURCES:
        docs += load_events(data / "events", s)
    return docs
