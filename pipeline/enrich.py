"""The stages in order, as plain functions over the topic models.

Each ``*_step`` is what one Faust agent does to one message; ``Enricher`` chains them in one
process for ``newsflow enrich`` (offline mode), so offline and streaming share every line of logic.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline import __version__
from pipeline.classify import abstain_reason, classify
from pipeline.clean import clean
from pipeline.country_prior import country_prior
from pipeline.dedup import Seen, decide, fingerprint
from pipeline.entities import EntityResult, default_mode, extract, locate
from pipeline.model_registry import loaded
from schemas import (
    Abstention,
    ClassifiedArticle,
    CleanedArticle,
    Dedup,
    EnrichedArticle,
    RawArticle,
    TaggedArticle,
)


def clean_step(raw: RawArticle) -> CleanedArticle:
    r = clean(raw)
    if not r.text.strip():
        raise ValueError("no article text left after cleaning")
    data = raw.model_dump()
    data.update(
        title=r.title,
        text=r.text,
        language=r.language,
        author=r.author,
        published_at=r.published_at,
        clean_notes=r.notes,
        html=None,
    )
    return CleanedArticle.model_validate(data)


def entities_step(article: CleanedArticle, mode: str | None = None) -> TaggedArticle:
    """``mode`` is ``settings.entity_mode`` ("accurate" or "fast"; README "Entities")."""
    result = extract(article.text, mode=mode)
    tagged = TaggedArticle(**article.model_dump(), entities=result.mentions, entity_index=result.index)
    used = [m for m in loaded("entities") if not (m.name == "ner_conll" and (mode or default_mode()) == "fast")]
    tagged.models = [*article.models, *used]
    return tagged


def classify_step(article: TaggedArticle) -> ClassifiedArticle:
    reason = abstain_reason(article.title, article.text, article.language)
    if reason is not None:  # no model for this language: say so instead of guessing
        classified = ClassifiedArticle(**article.model_dump(), category=None, event=None)
        classified.abstentions = [*article.abstentions, Abstention(stage="classify", reason=reason)]
        classified.models = [*article.models, *loaded("classify")]
        return classified
    category, event = classify(article.title, article.text)
    places = EntityResult(mentions=article.entities, index=article.entity_index, places={})
    classified = ClassifiedArticle(**article.model_dump(), category=category, event=locate(event, places, article.text))
    classified.models = [*article.models, *loaded("classify")]
    return classified


def enriched_from(article: ClassifiedArticle, dedup: Dedup) -> EnrichedArticle:
    return EnrichedArticle(
        **article.model_dump(include=set(EnrichedArticle.model_fields) - {"dedup", "processed_at", "pipeline_version"}),
        dedup=dedup,
        processed_at=datetime.now(UTC),
        pipeline_version=__version__,
    )


@dataclass
class Enricher:
    """All four stages in one process, with an in-memory dedup index."""

    exact_index: MutableMapping[str, dict[str, Any]] = field(default_factory=dict)
    band_index: MutableMapping[str, list[list[Any]]] = field(default_factory=dict)
    seen: MutableMapping[str, Seen] = field(default_factory=dict)
    entity_mode: str | None = None

    def __call__(self, raw: RawArticle) -> EnrichedArticle:
        classified = classify_step(entities_step(clean_step(raw), self.entity_mode))
        dedup = decide(
            classified.id,
            fingerprint(classified.text),
            self.exact_index,
            self.band_index,
            self.seen,
            published_at=classified.published_at,
        )
        return enriched_from(classified, dedup)


def warm_up(entity_mode: str | None = None) -> None:
    """Load every model and gazetteer once, before a worker takes messages: the first article
    would otherwise pay seconds of loading and stall the consumer's heartbeat."""
    sample = RawArticle(id="warm-up", title="Warm-up", body="Officials in Paris met on Monday. " * 5)
    Enricher(entity_mode=entity_mode)(sample)
    country_prior(sample.body or "")  # only consulted for event reports, so not loaded above
