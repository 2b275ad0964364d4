"""Pydantic models for every topic, and the JSON Schemas generated from them for consumers."""

from schemas.models import (
    SCHEMA_VERSION,
    Category,
    ClassifiedArticle,
    CleanedArticle,
    DeadLetter,
    Dedup,
    EnrichedArticle,
    EntityInfo,
    Event,
    Location,
    Mention,
    Place,
    RawArticle,
    Score,
    TaggedArticle,
    place_key,
)

__all__ = [
    "SCHEMA_VERSION",
    "Category",
    "ClassifiedArticle",
    "CleanedArticle",
    "DeadLetter",
    "Dedup",
    "EnrichedArticle",
    "EntityInfo",
    "Event",
    "Location",
    "Mention",
    "Place",
    "RawArticle",
    "Score",
    "TaggedArticle",
    "place_key",
]
