"""Classify stage: IPTC top-level category and ACLED event type.

First cut: weighted keyword evidence turned into a softmax. A trained, calibrated model replaces
it later behind the same ``classify`` signature.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from schemas import Category, Event, Score

CATEGORIES = (
    "arts_culture_entertainment", "conflict_war_peace", "crime_law_justice",
    "disaster_accident_emergency", "economy_business_finance", "education", "environment",
    "health", "human_interest", "labour", "lifestyle_leisure", "politics", "religion",
    "science_technology", "society", "sport", "weather",
)

_KEYWORDS: dict[str, tuple[str, ...]] = {
    "conflict_war_peace": ("war", "troops", "ceasefire", "military", "clashes", "bombing", "patrol",
                           "patrols", "militant", "soldiers", "offensive", "rebel", "army", "airstrike"),
    "crime_law_justice": ("police", "court", "arrested", "trial", "judge", "crime", "murder", "prison"),
    "disaster_accident_emergency": ("earthquake", "flood", "crash", "fire", "hurricane", "disaster"),
    "economy_business_finance": ("market", "shares", "profit", "economy", "bank", "company", "sales",
                                 "prices", "growth", "firm", "investors"),
    "politics": ("election", "minister", "government", "party", "parliament", "vote", "president"),
    "sport": ("match", "cup", "league", "coach", "player", "season", "win", "champion"),
    "science_technology": ("technology", "software", "internet", "phone", "computer", "digital", "users"),
    "arts_culture_entertainment": ("film", "music", "album", "actor", "award", "festival", "show"),
    "health": ("health", "virus", "hospital", "disease", "patients", "vaccine", "covid"),
}

EVENT_TYPES = {
    "Battles": ("clashes", "fighting", "battle", "armed clash", "attacked positions"),
    "Explosions/Remote violence": ("bombing", "airstrike", "shelling", "explosion", "drone", "ied"),
    "Violence against civilians": ("killed civilians", "abducted", "kidnapped", "massacre"),
    "Protests": ("protest", "protests", "demonstration", "rally", "protesters"),
    "Riots": ("riot", "rioters", "mob", "looting"),
    "Strategic developments": ("agreement", "ceasefire", "patrol", "patrols", "deployment", "truce"),
}
_SUB_EVENT_DEFAULT = {
    "Battles": "Armed clash",
    "Explosions/Remote violence": "Shelling/artillery/missile attack",
    "Violence against civilians": "Attack",
    "Protests": "Peaceful protest",
    "Riots": "Violent demonstration",
    "Strategic developments": "Agreement",
}

_TOKEN = re.compile(r"[a-z]+")


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    mx = max(scores.values())
    exp = {k: math.exp(v - mx) for k, v in scores.items()}
    z = sum(exp.values())
    return {k: v / z for k, v in exp.items()}


def classify_category(title: str | None, text: str) -> Category:
    tokens = Counter(_TOKEN.findall(f"{title or ''} {title or ''} {text}".lower()))
    raw = {c: 0.0 for c in CATEGORIES}
    for cat, words in _KEYWORDS.items():
        raw[cat] = sum(math.log1p(tokens[w]) for w in words)
    probs = _softmax(raw)
    top = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
    return Category(label=top[0][0], score=round(top[0][1], 4),
                    top=[Score(label=k, score=round(v, 4)) for k, v in top])


def classify_event(title: str | None, text: str, category: Category) -> Event | None:
    if category.label not in ("conflict_war_peace", "crime_law_justice", "politics"):
        return None
    low = f"{title or ''} {text}".lower()
    raw = {t: float(sum(low.count(k) for k in kws)) for t, kws in EVENT_TYPES.items()}
    if max(raw.values()) == 0:
        return None
    probs = _softmax(raw)
    best = max(probs, key=lambda k: probs[k])
    return Event(type=best, sub_type=_SUB_EVENT_DEFAULT[best], score=round(probs[best], 4))


def classify(title: str | None, text: str) -> tuple[Category, Event | None]:
    category = classify_category(title, text)
    return category, classify_event(title, text, category)
