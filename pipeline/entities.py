"""Entity stage: mentions with offsets into ``text``, merged per entity, places resolved.

First cut: capitalised-span candidates labelled by the gazetteer (GPE) and by organisation cues
(ORG), the rest as PERSON when they look like names. The signature stays when a trained model
replaces the labeller.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from pipeline.geo import GeoEntry, gazetteer
from schemas import EntityInfo, Event, Location, Mention, Place

_WORD = r"(?:(?:[A-Z]\.){2,}|[A-Z][\w-]*(?:['’][A-Za-z]+)?)"
# Capitalised words joined by single spaces (optionally "of"/"the"); a possessive ends the span so
# "Syria's Idlib" gives two places, and a sentence end is never crossed.
_SPAN = re.compile(rf"\b{_WORD}(?:(?<!['’]s) (?:of |the )?{_WORD})*")
_LOC_NOUNS = {
    "highway", "road", "river", "mountains", "valley", "border", "province", "region", "district",
    "sea", "lake", "strait", "corridor", "crossing", "desert",
}
_ORG_CUES = {
    "ministry", "agency", "army", "forces", "party", "council", "government", "bank", "inc",
    "corp", "ltd", "company", "union", "organisation", "organization", "police", "court",
    "university", "committee", "group", "news", "reuters", "nations",
}
_STOP = {
    "The", "A", "An", "In", "On", "At", "He", "She", "It", "They", "We", "I", "But", "And", "Some",
    "This", "That", "These", "Those", "Within", "After", "Before", "When", "While", "Monday",
    "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February",
    "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December", "A hasty", "Mr", "Mrs", "Ms", "Dr", "His", "Her", "Its", "Their", "Our", "If",
}


@dataclass
class EntityResult:
    mentions: list[Mention]
    index: list[EntityInfo]
    places: dict[str, GeoEntry]


def _strip_possessive(s: str) -> str:
    return re.sub(r"['’]s?$", "", s)


def extract(text: str) -> EntityResult:
    gaz = gazetteer()
    raw: list[tuple[int, int, str]] = []
    for m in _SPAN.finditer(text):
        span = _strip_possessive(m.group(0).rstrip(".-"))
        words = span.split()
        while words and words[0] in _STOP:
            words = words[1:]
        if not words:
            continue
        span = " ".join(words)
        start = m.start() + m.group(0).find(span)
        raw.append((start, start + len(span), span))

    countries = frozenset(e.country for _, _, s in raw for e in gaz.lookup(s) if e.feature == "country")
    mentions: list[Mention] = []
    places: dict[str, GeoEntry] = {}
    for start, end, span in raw:
        geo = gaz.resolve(span, countries)
        after = text[end:end + 16].split()
        if after and after[0].lower() in _LOC_NOUNS and geo is None:
            label = "LOC"
            end += text[end:].find(after[0]) + len(after[0])
            span = text[start:end]
        elif geo is not None:
            label = "GPE"
            places[span] = geo
        elif span.split()[-1].lower() in _ORG_CUES or span.isupper() and len(span) > 1:
            label = "ORG"
        elif len(span.split()) >= 2:
            label = "PERSON"
        else:
            continue
        mentions.append(Mention(text=span, label=label, start=start, end=end, canonical=span))

    counts = Counter(m.canonical or m.text for m in mentions)
    first = {}
    for m in mentions:
        first.setdefault(m.canonical or m.text, (m.start, m.label))
    total = max(1, len(mentions))
    length = max(1, len(text))
    index = []
    for name, n in counts.most_common():
        pos, label = first[name]
        salience = min(1.0, 0.7 * n / total + 0.3 * (1 - pos / length))
        geo = places.get(name)
        place = (
            Place(name=geo.name, geonameid=geo.geonameid, country=geo.country, lat=geo.lat,
                  lon=geo.lon, feature=geo.feature, is_capital=geo.is_capital)
            if geo else None
        )
        index.append(EntityInfo(name=name, label=label, mentions=n, salience=round(salience, 4), place=place))
    return EntityResult(mentions=mentions, index=index, places=places)


def main_location(result: EntityResult) -> tuple[str | None, Location | None]:
    """The story's main place: the most salient city, else the most salient country."""
    best_city = next((e for e in result.index if e.place and e.place.feature == "city"), None)
    best_country = next((e for e in result.index if e.place and e.place.feature == "country"), None)
    chosen = best_city or best_country
    if chosen is None or chosen.place is None:
        return None, None
    p = chosen.place
    return p.country, Location(name=p.name, lat=p.lat, lon=p.lon)


def locate(event: Event | None, result: EntityResult) -> Event | None:
    if event is None:
        return None
    country, location = main_location(result)
    return event.model_copy(update={"country": country, "location": location})
