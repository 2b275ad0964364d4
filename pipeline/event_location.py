"""Event location: where the event an article reports happens, from its resolved places.

Kept apart from the entity stage: the classify stage calls it on the entity index the tagged
article carries, so the entity stage stays about mentions and places, and the choice of the
event's place (salience, the event sentence, the country prior) can change on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.country_prior import PRIOR_OVERRIDE, PRIOR_THRESHOLD, country_prior
from pipeline.entities import EntityResult
from pipeline.geo import gazetteer
from schemas import Event, Location


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


def main_location(result: EntityResult, country: str | None = None) -> tuple[str | None, Location | None]:
    """The story's main place: the most salient city/state in the main country (or ``country``),
    else that country."""
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
    if chosen is None:
        geo = gazetteer().countries.get(country)
        if geo is None:
            return country, None
        return country, Location(name=geo.name, lat=geo.lat, lon=geo.lon)
    p = chosen.place
    assert p is not None  # ``local`` only holds entities with a place
    return country, Location(name=p.name, lat=p.lat, lon=p.lon)


def event_place(
    result: EntityResult,
    text: str,
    prior: Callable[[str], tuple[str | None, float]] = country_prior,
) -> tuple[str | None, Location | None]:
    """Where an event report happens: the gazetteer's answer (``main_location``), unless the text's
    country prior (``pipeline.country_prior``) is sure of another country (``PRIOR_OVERRIDE``) or the
    gazetteer found none and the prior clears ``PRIOR_THRESHOLD``. Thresholds chosen by two-fold
    cross-validation on the ACLED halves (``make eval-entities``)."""
    country, location = main_location(result)
    guess, p = prior(text) if text else (None, 0.0)
    if guess and guess != country and (p >= PRIOR_OVERRIDE or (country is None and p >= PRIOR_THRESHOLD)):
        return main_location(result, guess)
    return country, location


def locate(event: Event | None, result: EntityResult, text: str = "") -> Event | None:
    if event is None:
        return None
    country, location = event_place(result, text)
    return event.model_copy(update={"country": country, "location": location})
