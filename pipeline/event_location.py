"""Event location: where the event an article reports happens, from its resolved places.

Kept apart from the entity stage: the classify stage calls it on the entity index the tagged
article carries, so the entity stage stays about mentions and places, and the choice of the
event's place (salience, the event sentence, the country prior) can change on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from itertools import islice
from pathlib import Path

from pipeline.country_prior import PRIOR_OVERRIDE, PRIOR_THRESHOLD, country_prior
from pipeline.entities import EntityResult
from pipeline.event_sentence import event_sentence, sentence_spans
from pipeline.geo import GeoEntry, gazetteer, haversine_km, place_id
from schemas import Event, Location

DATA_DIR = Path(__file__).resolve().parent / "data"
# Sentences read for the place when the event sentence names none (bounds the gazetteer work).
LEAD_SENTENCES = 3
# A town this size named as GeoNames spells it outweighs a country named in the same sentence;
# smaller places and spelling variants are too often a namesake abroad.
TOWN_POP = 10_000
# A place written before its town or province ("Pisky, Donetsk") lies within this of it, when the
# country has a place of that name there.
PIN_KM = 100
# The head of a hyphenated name that is no place as a whole ("Mogadishu-Hodan") counts when it
# names a town this big: smaller heads are mostly a namesake ("Pobe-Mengao" is not Pobé, Benin).
COMPOUND_POP = 100_000
# Weight of an area word's country ("LGA": Nigeria) against the article's other evidence.
AREA_VOTE = 2.0
# A province reaches this many times as far as nine in ten of its towns lie from its point.
PROVINCE_SLACK = 1.25


def main_country(result: EntityResult) -> str | None:
    """The country the article is about: places and nationality words vote by salience."""
    votes: dict[str, float] = {}
    gaz = gazetteer()
    for e in result.index:
        if e.place is None and e.label in ("ORG", "MISC", "PERSON", "LOC"):
            code = gaz.cue(e.name)
            if code:  # one-country actors ("Taliban", "OSCE SMM"): weak votes
                votes[code] = votes.get(code, 0.0) + 0.3 * e.salience
            continue
        if e.place is None or not e.place.country:
            continue
        w = e.salience * (0.5 if e.label == "NORP" else 1.0)
        votes[e.place.country] = votes.get(e.place.country, 0.0) + w
    return max(votes, key=lambda c: votes[c]) if votes else None


def main_location(
    result: EntityResult, country: str | None = None, span: tuple[int, int] | None = None
) -> tuple[str | None, Location | None]:
    """The story's main place: the most salient city/province in the main country (or ``country``),
    preferring one named inside ``span`` (the event sentence), else that country."""
    country = country or main_country(result)
    if country is None:
        return None, None
    local = [
        e
        for e in result.index
        if e.place
        and e.label == "GPE"
        and e.place.country == country
        and e.place.feature in ("city", "admin")
        and e.place.lat is not None
    ]
    chosen = local[0] if local else None
    if span is not None and local:
        # The index is sorted by salience: the first local place with a mention in the sentence.
        inside = {m.canonical or m.text for m in result.mentions if span[0] <= m.start and m.end <= span[1]}
        chosen = next((e for e in local if e.name in inside), chosen)
    if chosen is None:
        geo = gazetteer().countries.get(country)
        if geo is None:
            return country, None
        return country, Location(
            name=geo.name, lat=geo.lat, lon=geo.lon, geonameid=geo.geonameid, place_id=place_id(geo)
        )
    p = chosen.place
    assert p is not None  # ``local`` only holds entities with a place
    return country, Location(name=p.name, lat=p.lat, lon=p.lon, geonameid=p.geonameid, place_id=p.place_id)


# Place syntax inside the event sentence: "in Leon de los Aldama, Guanajuato", "near X", "(Banh,
# Loroum)", "between X and Y". Whatever stands there is tried against the gazetteer even when the
# tagger called it a person or missed it.
_LINK = r"(?:e|de|del|de la|de los|de las|da|do|dos|das|di|du|des|la|le|el|al|ad|ar|as|az|ash|ez|es|en|of|the|bin)"
_NAME = rf"[A-Z][\w'’‘`-]*(?: (?:{_LINK} )?[A-Z0-9][\w'’‘`-]*)*"
_PLACE_SYNTAX = re.compile(
    rf"(?:\b(?:[Ii]n|near|at|around|outside|from|towards?|between|and|of|villages?|towns?|city|district)\s+"
    rf"|, |\(|/)(?:the )?({_NAME})"
)


@lru_cache(maxsize=1)
def _area_words() -> tuple[re.Pattern[str], dict[str, str]]:
    """Words for administrative areas that one country alone uses ("LGA": Nigeria), from
    ``pipeline/data/geo_area_words.json``: a pattern that finds them and word -> ISO2."""
    table = json.loads((DATA_DIR / "geo_area_words.json").read_text(encoding="utf-8"))
    country_of = {w: code for code, words in table.items() if not code.startswith("_") for w in words}
    return re.compile(r"\b(" + "|".join(map(re.escape, sorted(country_of, key=len, reverse=True))) + r")\b"), country_of


def _area_countries(text: str, span: tuple[int, int]) -> set[str]:
    """Countries whose own area words ("Rafi LGA", "Kobo woreda") the sentence uses."""
    pattern, country_of = _area_words()
    return {country_of[m.group(1)] for m in pattern.finditer(text, span[0], span[1])}


@lru_cache(maxsize=1)
def _not_names() -> frozenset[str]:
    """Capitalised words that start a phrase but are not names (``pipeline/data/event_place_stop.txt``)."""
    lines = (DATA_DIR / "event_place_stop.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


def _sentence_names(text: str, span: tuple[int, int]) -> list[tuple[int, str]]:
    """(offset, name) of every name in place syntax inside ``span``."""
    out = []
    for m in _PLACE_SYNTAX.finditer(text, span[0], span[1]):
        name = m.group(1)
        words = name.split()
        while words and words[0] in _not_names():
            words = words[1:]
        if words:
            out.append((m.start(1) + name.find(words[0]), " ".join(words)))
    return out


def sentence_location(result: EntityResult, text: str, span: tuple[int, int]) -> tuple[str | None, Location | None]:
    """The event sentence's own place (``sentence_place``), else the article's most salient place."""
    return sentence_place(result, text, span) or main_location(result)


def sentence_place(result: EntityResult, text: str, span: tuple[int, int]) -> tuple[str | None, Location | None] | None:
    """A sentence's own place: its place names (tagged, or in place syntax) resolved together with
    the article's places and nationality words; the earliest one in the winning country that is a
    town or province is the location (ACLED-style "in Town, Province"), else the article's most
    salient place there (``main_location``). None when the sentence names no place that resolves.
    Only then do the names of the sentence's roads count ("blocked the Zahle roundabout", "the
    Sidon-Tyr highway"): a road is named after the towns it runs through or to."""
    areas = _area_countries(text, span)
    return _place_among(result, text, _place_names_in(result, text, span), areas) or _place_among(
        result, text, _road_names(text, span), areas
    )


def _place_among(
    result: EntityResult, text: str, first: dict[str, int], areas: set[str]
) -> tuple[str | None, Location | None] | None:
    """``sentence_place`` for the candidate names ``first`` ({name: offset}); ``areas``: countries
    whose own area words the sentence uses (``_area_countries``)."""
    gaz = gazetteer()
    names = dict.fromkeys(first, 2.0)
    votes: list[tuple[str, float]] = []
    for e in result.index:
        if e.label in ("GPE", "LOC") and e.place is not None:
            names[e.name] = names.get(e.name, 0.0) + 1.0 + e.salience
        elif e.label == "NORP" and e.place is not None and e.place.country:
            votes.append((e.place.country, e.salience))
        elif e.label in ("ORG", "MISC", "PERSON", "LOC") and (code := gaz.cue(e.name)):
            votes.append((code, 0.5 * e.salience))
    if not first:
        return None
    votes += [(code, AREA_VOTE) for code in areas]
    resolved, ranked = gaz.resolve_many(list(names.items()), votes)
    # "(Rafi LGA, Niger)": in a sentence that speaks of one country's areas, a name that is another
    # country and one of its provinces is the province.
    for name in first:
        g = resolved.get(name)
        if g is not None and g.feature == "country" and g.country not in areas:
            provinces = [p for code in sorted(areas) if (p := gaz.province(name, code)) is not None]
            if provinces:
                resolved[name] = provinces[0]
    _pin_to_parents(text, first, resolved)
    # The country: the best-supported one among those of the sentence's unmistakable towns and
    # provinces (a country named beside them is mostly an actor or an origin: "a US airstrike in
    # Kishindih district, Balkh", "drivers from Turkey protested in Batumi"), else among those all
    # its resolved names lie in.
    here = {
        g.country for n, g in resolved.items() if n in first and g.feature in ("city", "admin") and _unmistakable(n, g)
    } or {g.country for n, g in resolved.items() if n in first}
    in_order = sorted(first, key=first.__getitem__)
    # A variant spelling resolved on its own adds no evidence to the ranking: then its own country.
    country = next((c for c, _ in ranked if c in here), None) or next(
        (resolved[n].country for n in in_order if n in resolved), None
    )
    if country is None:
        return None
    for name in in_order:
        g = resolved.get(name)
        if g is not None and g.country == country and g.feature in ("city", "admin") and g.lat is not None:
            return country, Location(name=g.name, lat=g.lat, lon=g.lon, geonameid=g.geonameid, place_id=place_id(g))
    return main_location(result, country)


def _place_names_in(result: EntityResult, text: str, span: tuple[int, int]) -> dict[str, int]:
    """{name: offset} of the sentence's candidate place names: the places the entity stage tagged
    there and the names in place syntax, plus the head town of a hyphenated district name, less
    names of streets and bridges and names inside a longer place name."""
    first: dict[str, int] = {}
    for m in result.mentions:
        # GPE: places the entity stage resolved (an unresolved LOC is a road, a river or "US dollar").
        if m.label == "GPE" and span[0] <= m.start and m.end <= span[1]:
            first.setdefault(m.text, m.start)
    for pos, name in _sentence_names(text, span):
        first.setdefault(name, pos)
    # "the Palma bridge", "the Tripoli highway": a name that names a street or a bridge is not
    # where the event is (such names honour places and people far away).
    for name, pos in list(first.items()):
        if _FACILITY.match(text, pos + len(name)):
            del first[name]
    gaz = gazetteer()
    # "Mogadishu-Hodan district": a compound that is no place as a whole is a part of its head town.
    for name, pos in list(first.items()):
        if "-" in name and not gaz.candidates(name, variants=False):
            head = _COMPOUND.match(name)
            if head and any(
                c.feature == "city" and c.population >= COMPOUND_POP
                for c, _ in gaz.candidates(head.group(0), variants=False)
            ):
                first.setdefault(head.group(0), pos)
    # "Port of Spain" tagged as "Spain": a name inside a longer name that is a place is not one
    # (one sweep over the names by start, longest first).
    reach = -1
    for _start, end, name in sorted(((p, p + len(n), n) for n, p in first.items()), key=lambda s: (s[0], -s[1])):
        if end <= reach:
            del first[name]
        elif gaz.candidates(name, variants=False):
            reach = end
    return first


_ROAD = re.compile(rf"\b({_NAME})\s+(?:highway|road|roundabout|intersection|junction|triangle|crossroads?)s?\b")


def _road_names(text: str, span: tuple[int, int]) -> dict[str, int]:
    """{name: offset} of the town names that name a road of ``span``: "the Saadnayel highway",
    "the Sidon-Tyr highway" (both towns)."""
    out: dict[str, int] = {}
    for m in _ROAD.finditer(text, span[0], span[1]):
        pos = m.start(1)
        for part in m.group(1).split("-"):
            words = part.split()
            while words and words[0] in _not_names():
                words = words[1:]
            name = " ".join(words)
            # Spelled as GeoNames does: a road's name is weak evidence for a romanisation variant.
            if words and words[0][0].isupper() and gazetteer().candidates(name, variants=False):
                out.setdefault(name, text.find(name, pos))
            pos += len(part) + 1
    return out


_COMPOUND = re.compile(r"(?<![\w'’])[A-Z][\w'’]{2,}(?: [A-Z][\w'’]+)*")
_FACILITY = re.compile(r"\s+(?:bridge|square|roundabout|street|avenue|highway|road)s?\b")
_POSSESSIVE_GAP = re.compile(r"['’]s\s+")
_PARENT_GAP = re.compile(
    r"(?:\s+(?:district|province|county|municipality|sub-county|subdivision|LGA|town|village|city))?\s*[,(]\s*"
)


def _pin_to_parents(text: str, first: dict[str, int], resolved: dict[str, GeoEntry]) -> None:
    """A place written just before a town or province ("Elenovka, Donetsk", "Buaale town (Middle
    Juba)") or just after one's possessive ("Beirut's Hamra district") lies in that one's country.
    A reading abroad that is not firm (``_firm``) is swapped for the same name's reading there
    nearest to the other, or dropped when the name has none there; a reading in the same country
    but outside the parent's reach (``_reach``) is swapped for one inside it, or dropped when not
    firm ("Pisky, Donetsk"). See ``_pin``."""
    order = sorted(first.items(), key=lambda kv: (kv[1], -len(kv[0])))  # "Beirut's" before "Beirut"
    for (a, pa), (b, pb) in zip(order, order[1:], strict=False):
        if _PARENT_GAP.fullmatch(text, pa + len(a), pb):
            _pin(a, b, resolved)
        elif _POSSESSIVE_GAP.fullmatch(text, pa + len(a), pb):
            _pin(b, a, resolved)


def _pin(child: str, parent: str, resolved: dict[str, GeoEntry]) -> None:
    """Move ``child``'s reading in ``resolved`` into ``parent``'s country (and reach), as
    ``_pin_to_parents`` describes; ``parent`` may become its province."""
    gc, gp = resolved.get(child), resolved.get(parent)
    gaz = gazetteer()
    if gc is not None and gp is not None and gp.feature == "region" and gc.country != gp.country:
        # A province known by name only ("Kelly Village, Tunapuna-Piarco"): its country, no point.
        if not _firm(child, gc):
            there = [c for c, _ in gaz.candidates(child) if c.country == gp.country]
            if there:
                resolved[child] = max(there, key=lambda c: c.population)
            else:
                del resolved[child]
        return
    if gc is None or gp is None or gp.feature not in ("city", "admin") or gp.lat is None or gp.lon is None:
        return
    # After a comma a name is more often the province than a town of that name: "Tonala, Jalisco"
    # (a hamlet Jalisco), "Hays district (Al Hudaydah)" (the governorate, not the port).
    province = gaz.province(parent, gp.country) if gp.feature == "city" else gp
    if province is not None and not _firm(parent, gp):
        gp = resolved[parent] = province
    points = [p for p in (gp, province) if p is not None and p.lat is not None and p.lon is not None]

    def away(c: GeoEntry) -> float:
        """How far ``c`` lies outside the parent (0 inside it)."""
        return min(
            max(0.0, haversine_km(c.lat or 0.0, c.lon or 0.0, p.lat or 0.0, p.lon or 0.0) - _reach(p)) for p in points
        )

    there = [c for c, _ in gaz.candidates(child) if c.country == gp.country and c.lat is not None]
    if gc.country == gp.country:
        # "Pisky, Donetsk": the place of that name inside the parent; when the gazetteer has none
        # there it does not know the place, and the parent is the nearest point it has.
        if away(gc) > 0:
            inside = [c for c in there if away(c) == 0]
            if inside:
                resolved[child] = inside[0]
            elif not _firm(child, gc):
                del resolved[child]
    elif _firm(child, gc):
        return
    elif there:
        resolved[child] = min(there, key=away)
    else:
        del resolved[child]


def _reach(parent: GeoEntry) -> float:
    """How far from a parent's point a place written before it may lie."""
    return max(PIN_KM, PROVINCE_SLACK * parent.reach_km)


def _sizeable(place: GeoEntry) -> bool:
    """A province, or a town of ``TOWN_POP`` people or more."""
    return place.feature == "admin" or place.population >= TOWN_POP


def _firm(name: str, place: GeoEntry) -> bool:
    """A sizeable place that ``name`` spells as its own name (not an alternate name or a variant)."""
    return _sizeable(place) and any(primary for c, primary in gazetteer().candidates(name) if c is place)


def _unmistakable(name: str, place: GeoEntry) -> bool:
    """A sizeable place named as GeoNames spells it (any of its names, not a romanisation variant)."""
    return _sizeable(place) and bool(gazetteer().candidates(name, variants=False))


def event_place(
    result: EntityResult,
    text: str,
    prior: Callable[[str], tuple[str | None, float]] = country_prior,
    use_sentence: bool = True,
) -> tuple[str | None, Location | None]:
    """Where an event report happens: the place the event sentence names (``event_sentence``,
    ``sentence_place``), else the place one of the first ``LEAD_SENTENCES`` sentences names, else the
    article's most salient place (``main_location``); the country
    prior (``pipeline.country_prior``) replaces the country when it is sure of another one
    (``PRIOR_OVERRIDE``) or when no place resolved and it clears ``PRIOR_THRESHOLD``. Thresholds
    chosen by cross-validation on ACLED (``python -m evals.geo``)."""
    span = event_sentence(text) if use_sentence and text else None
    found = sentence_place(result, text, span) if span is not None else None
    if span is not None and found is None:
        # The event sentence names no place ("The protesters stood in front of the companies"):
        # news states the place where it first reports the story, so the lead sentences are next.
        for lead in islice(sentence_spans(text), LEAD_SENTENCES):
            if lead != span and (found := sentence_place(result, text, lead)) is not None:
                break
    country, location = found or main_location(result)
    guess, p = prior(text) if text else (None, 0.0)
    if not guess or guess == country:
        return country, location
    if (country is None and p >= PRIOR_THRESHOLD) or (p >= PRIOR_OVERRIDE and guess in _possible(result, text, span)):
        return main_location(result, guess, span=span)
    return country, location


def _possible(result: EntityResult, text: str, span: tuple[int, int] | None) -> set[str]:
    """Every country some reading of the article's place names, nationality words or actors lies in:
    the prior may overrule the gazetteer's choice among these, never invent a country the text
    gives no hint of (it knows only the countries of its training rows)."""
    gaz = gazetteer()
    names = {e.name for e in result.index if e.label in ("GPE", "LOC")}
    names |= {m.text for m in result.mentions if m.label in ("GPE", "LOC")}
    if span is not None:
        names |= {n for _, n in _sentence_names(text, span)}
    out = {c.country for n in names for c, _ in gaz.candidates(n)}
    out |= {e.place.country for e in result.index if e.label == "NORP" and e.place and e.place.country}
    out |= {code for e in result.index if (code := gaz.cue(e.name))}
    return out


def locate(event: Event | None, result: EntityResult, text: str = "") -> Event | None:
    if event is None:
        return None
    country, location = event_place(result, text)
    return event.model_copy(update={"country": country, "location": location})
