"""What travels on each topic.

Every hop carries the whole article forward (each model extends the previous one) so no stage
recomputes what an earlier one found, and a consumer of any intermediate topic sees a complete
picture of the article so far. ``EnrichedArticle`` is the public contract; the intermediate models
are internal and may change between minor versions (see docs/consumers.md).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = "1.1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False)

    def to_bytes(self) -> bytes:
        """orjson on the wire: compact, fast, and datetimes as RFC 3339."""
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, data: bytes | str) -> _Model:
        return cls.model_validate(orjson.loads(data))


class FeedMeta(_Model):
    """Where a polled article was listed (``newsflow poll``): the feed and what it said of the item."""

    url: str = Field(description="the feed's URL, as registered with `newsflow feeds add`")
    kind: str | None = Field(default=None, description="rss | atom | jsonfeed | sitemap")
    title: str | None = Field(default=None, description="the feed's own title")
    item_url: str | None = Field(default=None, description="the item's link exactly as the feed listed it")
    author: str | None = None
    guid: str | None = None


class RawArticle(_Model):
    """An article as a producer saw it: plain-text ``body`` or ``html`` (or both)."""

    id: str = Field(min_length=1, max_length=256)
    source: str | None = None
    url: str | None = None
    title: str | None = None
    body: str | None = None
    html: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    feed: FeedMeta | None = Field(default=None, description="set by `newsflow poll`: the listing feed")


class ModelRef(_Model):
    """A model or data file a stage loaded, named with a hash of its content so two workers (or two
    records) can be compared without trusting a version string."""

    stage: str
    name: str
    version: str = Field(description="first 12 hex digits of the SHA-256 of the model's files")


class Abstention(_Model):
    """A stage that deliberately produced nothing for this article, and why (for example no model
    for the article's language): consumers can tell "nothing found" from "not looked for"."""

    stage: str
    reason: str


class CleanRemoval(_Model):
    """A span the clean stage dropped: which rule, how many characters, how it began."""

    rule: str
    chars: int = Field(ge=0)
    preview: str = ""


class CleanedArticle(RawArticle):
    """After the clean stage: ``text`` is the text every later offset refers to.

    ``clean_removals`` says what the clean stage's own rules took out of the extracted text and why
    (what the main-content extractor left out of the page is not listed span by span)."""

    text: str = ""
    language: str | None = None
    author: str | None = None
    clean_notes: list[str] = Field(default_factory=list)
    models: list[ModelRef] = Field(default_factory=list)
    abstentions: list[Abstention] = Field(default_factory=list)
    clean_removals: list[CleanRemoval] = Field(default_factory=list)


class Mention(_Model):
    """One entity mention; ``start``/``end`` are character offsets into ``text``."""

    text: str
    label: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    canonical: str | None = None


class Place(_Model):
    """A mention resolved against the packaged GeoNames gazetteer."""

    name: str
    geonameid: int | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")
    lat: float | None = None
    lon: float | None = None
    feature: str | None = Field(default=None, description="country | city | admin | landmark")
    is_capital: bool = False
    place_id: str | None = Field(
        default=None,
        description="join key: 'geonames:<geonameid>', else 'admin:<ISO2>:<folded name>' for an area GeoNames "
        "ships no id for (see place_key)",
    )

    @model_validator(mode="after")
    def _fill_place_id(self) -> Place:
        if self.place_id is None:
            self.place_id = place_key(self.name, self.country, self.geonameid)
        return self


def place_key(name: str, country: str | None, geonameid: int | None) -> str | None:
    """Stable id of a resolved place: its GeoNames id, else (provinces and districts, which the
    packaged gazetteer holds by name only) country plus accent- and case-folded name."""
    if geonameid is not None:
        return f"geonames:{geonameid}"
    if not country:
        return None
    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).lower()
    return f"admin:{country}:{re.sub(r'[^a-z0-9]+', '-', folded).strip('-')}"


class EntityInfo(_Model):
    """One real-world entity, merged over its mentions ("Vladimir Putin", "Putin")."""

    name: str
    label: str
    mentions: int = Field(ge=1)
    salience: float = Field(ge=0.0, le=1.0)
    place: Place | None = None


class TaggedArticle(CleanedArticle):
    entities: list[Mention] = Field(default_factory=list)
    entity_index: list[EntityInfo] = Field(default_factory=list)


class Score(_Model):
    label: str
    score: float = Field(ge=0.0, le=1.0)


class Category(Score):
    """IPTC Media Topic top-level subject in snake_case; ``top`` holds the three best."""

    top: list[Score] = Field(default_factory=list)


class Location(_Model):
    name: str
    lat: float | None = None
    lon: float | None = None
    geonameid: int | None = None
    place_id: str | None = Field(default=None, description="the same join key as Place.place_id")


class Event(_Model):
    """ACLED event type and sub-event type, spelled as ACLED spells them."""

    type: str
    sub_type: str | None = None
    score: float = Field(ge=0.0, le=1.0)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")
    location: Location | None = None


class ClassifiedArticle(TaggedArticle):
    category: Category | None = None
    event: Event | None = None


class Dedup(_Model):
    status: Literal["unique", "duplicate", "near_duplicate"]
    duplicate_of: str | None = Field(default=None, description="id of the earliest-seen article of the cluster")
    cluster_id: str
    similarity: float = Field(ge=0.0, le=1.0)


class EnrichedArticle(_Model):
    """The contract for downstream consumers (topic ``newsflow.enriched`` and the JSON Lines files)."""

    schema_version: str = SCHEMA_VERSION
    id: str
    source: str | None = None
    url: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    text: str
    language: str | None = None
    entities: list[Mention] = Field(default_factory=list)
    entity_index: list[EntityInfo] = Field(default_factory=list)
    category: Category | None = None
    event: Event | None = None
    dedup: Dedup
    models: list[ModelRef] = Field(
        default_factory=list, description="models and data files that produced this record (added in 1.1)"
    )
    abstentions: list[Abstention] = Field(
        default_factory=list, description="stages that deliberately produced nothing, with the reason (added in 1.1)"
    )
    processed_at: datetime
    pipeline_version: str


class DeadLetter(_Model):
    """What a stage could not process: the original bytes (as latin-1-safe text) and why."""

    stage: str
    error_class: str
    error: str
    key: str | None = None
    original: str = Field(description="original message bytes, decoded as UTF-8 with replacement")
    original_b64: str | None = Field(default=None, description="base64 of the exact original bytes")
    at: datetime
