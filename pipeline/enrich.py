"""The stages in order, as plain functions over the topic models.

Each ``*_step`` is what one Faust agent does to one message; ``Enricher`` chains them in one
process for ``newsflow enrich`` (offline mode), so offline and streaming share every line of logic.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from pipeline import __version__
from pipeline.classify import abstain_reason, classify
from pipeline.clean import clean
from pipeline.country_prior import country_prior
from pipeline.dedup import DedupIndex, fingerprint
from pipeline.entities import DEFAULT_MODE, EntityResult, extract_batch
from pipeline.entities import load as load_entities
from pipeline.event_location import locate
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

T = TypeVar("T")
R = TypeVar("R")


def clean_step(raw: RawArticle) -> CleanedArticle:
    r = clean(raw)
    if not r.text.strip() and not (r.title or "").strip():  # a headline-only item is news: title counts as text
        raise ValueError("no article text left after cleaning")
    data = raw.model_dump()
    data.update(
        title=r.title,
        text=r.text,
        language=r.language,
        author=r.author or (raw.feed.author if raw.feed else None),  # else the listing feed's byline
        published_at=r.published_at,
        clean_notes=r.notes,
        clean_removals=[{"rule": x.rule, "chars": x.chars, "preview": x.preview} for x in r.removals],
        html=None,
    )
    return CleanedArticle.model_validate(data)


def entities_step(article: CleanedArticle, mode: str | None = None) -> TaggedArticle:
    """``mode`` is ``settings.entity_mode`` ("balanced", "accurate" or "fast"; README "Entities"). A language the
    stage has no model for gives no entities and an abstention saying so."""
    return entities_batch_step([article], mode)[0]


def entities_batch_step(articles: Sequence[CleanedArticle], mode: str | None = None) -> list[TaggedArticle]:
    """``entities_step`` over several articles, the tagger batched across them (what the entities
    agent does with the messages it takes together): the same records as one at a time, with the
    tagger's per-call overhead shared."""
    results = extract_batch([a.text for a in articles], mode=mode, languages=[a.language for a in articles])
    out = []
    for article, result in zip(articles, results, strict=True):
        tagged = TaggedArticle(**article.model_dump(), entities=result.mentions, entity_index=result.index)
        tagged.models = [*article.models, *result.models]
        if result.abstention:
            tagged.abstentions = [*article.abstentions, Abstention(stage="entities", reason=result.abstention)]
        out.append(tagged)
    return out


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


def dedup_step(article: ClassifiedArticle, index: DedupIndex) -> EnrichedArticle:
    """Judge ``article`` against ``index`` and record it there (the one stateful stage)."""
    return enriched_from(article, index.decide(article.id, fingerprint(article.text), article.published_at))


@dataclass
class Enricher:
    """All four stages in one process, with an in-memory dedup index."""

    dedup: DedupIndex = field(default_factory=DedupIndex)
    entity_mode: str | None = None

    def __call__(self, raw: RawArticle) -> EnrichedArticle:
        return dedup_step(classify_step(entities_step(clean_step(raw), self.entity_mode)), self.dedup)

    def batch(self, raws: Sequence[RawArticle]) -> list[EnrichedArticle | Exception]:
        """``self(raw)`` for each, in order, with the tagger batched across them (as the entities
        agent batches); an article a stage rejects gets its exception instead, the others go on."""
        done: dict[int, EnrichedArticle | Exception] = {}
        cleaned: dict[int, CleanedArticle] = {}
        for i, raw in enumerate(raws):
            try:
                cleaned[i] = clean_step(raw)
            except Exception as exc:  # noqa: BLE001 - the caller reports it with the article
                done[i] = exc
        for i, tagged in self._tag(cleaned).items():
            try:
                done[i] = tagged if isinstance(tagged, Exception) else dedup_step(classify_step(tagged), self.dedup)
            except Exception as exc:  # noqa: BLE001
                done[i] = exc
        return [done[i] for i in range(len(raws))]

    def _tag(self, cleaned: dict[int, CleanedArticle]) -> dict[int, TaggedArticle | Exception]:
        mode = self.entity_mode
        tagged = batch_or_each(
            lambda items: entities_batch_step(items, mode), lambda item: entities_step(item, mode), [*cleaned.values()]
        )
        return dict(zip(cleaned, tagged, strict=True))


def batch_or_each(
    batch_step: Callable[[list[T]], Sequence[R]], step: Callable[[T], R], items: list[T]
) -> list[R | Exception]:
    """``batch_step(items)``, one result per item; if it fails, ``step`` on each item alone, so an
    error lands on the item that caused it (its exception in its place) and the others go on."""
    try:
        results: list[R | Exception] = list(batch_step(items))
        if len(results) != len(items):
            raise ValueError(f"batch step gave {len(results)} results for {len(items)} items")
        return results
    except Exception:  # noqa: BLE001 - one at a time below says which item it was
        out: list[R | Exception] = []
        for item in items:
            try:
                out.append(step(item))
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
        return out


def warm_up(entity_mode: str | None = None) -> None:
    """Load every model and gazetteer once, before a worker takes messages: the first article
    would otherwise pay seconds of loading and stall the consumer's heartbeat (and a missing
    model fails here, before any message)."""
    sample = RawArticle(id="warm-up", title="Warm-up", body="Officials in Paris met on Monday. " * 5)
    Enricher(entity_mode=entity_mode)(sample)
    load_entities(entity_mode or DEFAULT_MODE)  # the taggers of the other languages too
    country_prior(sample.body or "")  # only consulted for event reports, so not loaded above
    # The models and tables are about a million objects that live as long as the process; frozen,
    # the garbage collector's full passes no longer walk them for every few thousand articles.
    gc.collect()
    gc.freeze()
    # One BLAS thread per process: a worker scales by processes (and its stages by threads), and
    # BLAS threads spinning beside them only compete for the same cores.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
