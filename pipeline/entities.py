"""Entity stage: mentions with offsets into ``text``, merged per entity, places resolved.

Two operating points, chosen per call (``mode``) or per process (env ``NEWSFLOW_ENTITY_MODE``):

- ``accurate`` (default): a spaCy tok2vec + transition NER trained on CoNLL-2003 eng.train
  (``pipeline/models/ner_conll``, built by ``python -m evals.train_ner``), loaded once per process.
- ``fast``: capitalised-span candidates labelled by the gazetteer, nationality words and
  organisation cues; no model, several times faster, much less accurate on PERSON/ORG.

Both share the post-processing: DATE by pattern, MISC nationality words as NORP, "M4 highway"-style
roads and rivers as LOC, GPE vs LOC by gazetteer, article-level place disambiguation
(``Gazetteer.resolve_many``), canonical names ("Putin" -> "Vladimir Putin") and salience.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.geo import GeoEntry, gazetteer, norm
from schemas import EntityInfo, Mention, Place

MODEL_DIR = Path(__file__).resolve().parent / "models" / "ner_conll"
MODES = ("fast", "accurate")

_WORD = r"(?:(?:[A-Z]\.){2,}|[A-Z][\w-]*(?:['’][A-Za-z]+)?)"
# Capitalised words joined by single spaces (optionally "of"/"the"); a possessive ends the span so
# "Syria's Idlib" gives two places, and a sentence end is never crossed.
_SPAN = re.compile(rf"\b{_WORD}(?:(?<!['’]s) (?:of |the |de |del |de la |da |do |al |el )?{_WORD})*")
_LOC_NOUNS = (
    "highway",
    "road",
    "river",
    "mountains",
    "valley",
    "border",
    "sea",
    "lake",
    "strait",
    "corridor",
    "crossing",
    "desert",
    "motorway",
    "expressway",
    "canal",
)
# "M4 highway", "Tigris River", "Route 5": the name plus the noun is one LOC.
_LOC_PHRASE = re.compile(
    r"\b(?:[A-Z][\w-]*\d[\w-]*|(?:[A-Z][\w-]+ ){0,2}[A-Z][\w-]+) (?i:" + "|".join(_LOC_NOUNS) + r")s?\b"
    r"|\b(?:Route|Highway|Road) \d+[A-Z]?\b"
)
_ORG_CUES = {
    "ministry",
    "agency",
    "army",
    "forces",
    "party",
    "council",
    "government",
    "bank",
    "inc",
    "corp",
    "ltd",
    "company",
    "union",
    "organisation",
    "organization",
    "police",
    "court",
    "university",
    "committee",
    "group",
    "news",
    "reuters",
    "nations",
    "club",
    "association",
    "federation",
    "fc",
    "front",
    "movement",
    "brigade",
    "militia",
    "commission",
    "institute",
}
_STOP = {
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "He",
    "She",
    "It",
    "They",
    "We",
    "I",
    "But",
    "And",
    "Some",
    "This",
    "That",
    "These",
    "Those",
    "Within",
    "After",
    "Before",
    "When",
    "While",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "His",
    "Her",
    "Its",
    "Their",
    "Our",
    "If",
    "As",
    "For",
    "From",
    "By",
    "With",
    "Around",
    "Near",
    "Between",
    "During",
    "Following",
    "According",
    "Of",
    "To",
    "There",
    "Two",
    "Three",
    "One",
    "Several",
    "No",
    "Other",
    "All",
    "Also",
    "Both",
}
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t|tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DATE = re.compile(
    rf"\b(?:\d{{1,2}} {_MONTH},? \d{{4}}|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
    rf"\d{{1,2}} {_MONTH}|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?|{_MONTH} \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|"
    r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|(?:last|next|this) (?:week|month|year))\b"
)
_EVENT_WORDS = re.compile(
    r"\b(?:War|Games|Cup|Olympics|Summit|Championships?|Festival|Revolution|Uprising|Conference)\b"
)
_CAP = r"[A-Z][\w'’-]*(?: (?:de |del |de la |al |el |la |bin )?[A-Z0-9][\w'’-]*)*"
# Place syntax: "in X", "near X, Y", "village of X", "(X, Y)". What stands there and is in the
# gazetteer is a place even when the tagger called it a person or missed it.
_PLACE_CTX = re.compile(
    rf"\b(?:[Ii]n|near|at|around|outside|from|towards|(?:village|town|city|district|outskirts|"
    rf"suburbs?|province|governorate|region|area|vicinity) of)\s+({_CAP}(?:,\s+{_CAP})*)"
    rf"|\(({_CAP}(?:,\s+{_CAP})*)\)"
    rf"|\b({_CAP}) (?:village|town|city|district|municipality|subdivision|governorate|county|LGA|"
    rf"neighbou?rhood|suburb|province|state)\b"
)
# Words after a place name that make it something else: "US dollar", "Molotov cocktail" (Molotov was
# Perm's name from 1940 to 1957).
_NOT_A_PLACE_AFTER = re.compile(
    r"\s+(?:dollars?|pounds?|euros?|rubles?|roubles?|lira|yuan|rupees?|"
    r"cocktails?)\b",
    re.I,
)
_GLUED_POSSESSIVE = re.compile(r"(?<=[a-z])['’]s(?=[A-Z])")


@dataclass
class EntityResult:
    mentions: list[Mention]
    index: list[EntityInfo]
    places: dict[str, GeoEntry]


def default_mode() -> str:
    mode = os.environ.get("NEWSFLOW_ENTITY_MODE", "accurate").strip().lower()
    return mode if mode in MODES else "accurate"


@lru_cache(maxsize=1)
def _nlp():
    """The packaged NER pipeline, or None when the weights are missing (fast mode then)."""
    if not (MODEL_DIR / "config.cfg").exists():
        return None
    import spacy
    from spacy.util import compile_infix_regex

    nlp = spacy.load(MODEL_DIR)
    # "Syria'sIdlib" (a glued possessive left by scraping) splits like "Syria 's Idlib".
    infixes = [*nlp.Defaults.infixes, r"(?<=[a-z])(?=['’]s[A-Z])", r"(?<=['’]s)(?=[A-Z])"]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    return nlp


# --------------------------------------------------------------------------- candidate spans


def _spans_accurate(text: str) -> list[tuple[int, int, str]]:
    nlp = _nlp()
    if nlp is None:
        return _spans_fast(text)
    doc = nlp(text)
    return _consistent(text, [(e.start_char, e.end_char, e.label_) for e in doc.ents])


_PROPAGATE = False  # repeated mentions of a tagged name get its label (off: see _consistent)
_UNIFY = False  # a name tagged with several labels takes the majority one everywhere


def _consistent(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Label consistency within one text: the tagger decides per occurrence, so "Kabariti" can be
    PER in one sentence and missed (or ORG) in the next. Each tagged surface's majority label goes
    to its untagged repeats (whole words, not overlapping another span); with ``_UNIFY`` also to
    its differently tagged ones, except LOC ones.

    Off by default: on the eng.train dev split both together gave +0.0004 micro F1 (noise), on
    eng.testa -0.003 (0.874 -> 0.871, more false positives on repeats), ACLED unchanged."""
    from collections import Counter

    votes: dict[str, Counter] = {}
    for s, e, lab in spans:
        votes.setdefault(text[s:e], Counter())[lab] += 1
    out = list(spans)
    if _UNIFY:
        # A place stays a place (the geo stage depends on it); other labels follow the majority.
        out = [(s, e, lab if lab == "LOC" else votes[text[s:e]].most_common(1)[0][0]) for s, e, lab in out]
    if not _PROPAGATE:
        return out
    taken = sorted((s, e) for s, e, _ in out)
    for surface in sorted(votes, key=len, reverse=True):
        if len(surface) < 2 or not surface[0].isupper() or surface in _STOP or "\n" in surface:
            continue
        lab = votes[surface].most_common(1)[0][0]
        for m in re.finditer(re.escape(surface), text):
            s, e = m.start(), m.end()
            if (s and (text[s - 1].isalnum() or text[s - 1] in "-'’")) or (
                e < len(text) and (text[e].isalnum() or text[e] in "-'’")
            ):
                continue
            if any(a < e and s < b for a, b in taken):
                continue
            out.append((s, e, lab))
            taken.append((s, e))
    return sorted(out)


def _spans_fast(text: str) -> list[tuple[int, int, str]]:
    gaz = gazetteer()
    out: list[tuple[int, int, str]] = []
    for m in _SPAN.finditer(text):
        raw = m.group(0)
        span = re.sub(r"['’]s?$", "", raw.rstrip(".-"))
        words = span.split()
        while words and words[0] in _STOP:
            words = words[1:]
        if not words:
            continue
        span = " ".join(words)
        start = m.start() + raw.find(span)
        end = start + len(span)
        last = words[-1].lower()
        if gaz.demonym(span) or (len(words) == 1 and gaz.demonym(words[0])):
            label = "MISC"
        elif last in _ORG_CUES or (span.isupper() and len(words) == 1 and len(span) > 1 and not gaz.lookup(span)):
            label = "ORG"
        elif gaz.by_name.get(norm(span)):
            label = "LOC"
        elif len(words) >= 2:
            label = "PER"
        else:
            continue
        out.append((start, end, label))
    return out


# --------------------------------------------------------------------------- post-processing


def _overlaps(a: tuple[int, int], spans: list[tuple[int, int, str]]) -> list[int]:
    return [i for i, (s, e, _) in enumerate(spans) if s < a[1] and a[0] < e]


def _add_patterns(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    spans = sorted(spans)
    for m in _LOC_PHRASE.finditer(text):
        s, e = m.start(), m.end()
        head = text[s:e].split()[0]
        if not (head[0].isupper() or head[0].isdigit()):
            continue
        hit = _overlaps((s, e), spans)
        # Extend a named head ("M4" + " highway"), never swallow a longer entity.
        if all(spans[i][0] >= s and spans[i][1] <= e for i in hit):
            spans = [sp for i, sp in enumerate(spans) if i not in hit] + [(s, e, "LOC")]
    for m in _DATE.finditer(text):
        if not _overlaps((m.start(), m.end()), spans):
            spans.append((m.start(), m.end(), "DATE"))
    return sorted(spans)


def _canonical_person(names: list[str]) -> dict[str, str]:
    """Map each PERSON surface to the longest full name it is part of."""
    full = sorted(set(names), key=lambda n: -len(n.split()))
    out: dict[str, str] = {}
    for n in names:
        toks = n.split()
        target = n
        if len(toks) == 1:
            for f in full:
                ft = f.split()
                if len(ft) > 1 and (ft[-1] == toks[0] or ft[0] == toks[0]):
                    target = f
                    break
        out[n] = target
    return out


_ROAD = re.compile(r"^([A-Z][a-z][\w'’-]*(?: [A-Z][a-z][\w'’-]*)?) (?i:road|highway|motorway|expressway|crossing)$")


def _road_head(key: str) -> str | None:
    m = _ROAD.match(key)
    return m.group(1) if m else None


def _clean_surface(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    return s[4:] if s.startswith(("the ", "The ")) and len(s) > 4 else s


def _loc_keys(labelled: list[tuple[int, int, str, str]]) -> set[str]:
    return {_clean_surface(sf) for _, _, lab, sf in labelled if lab in ("LOC", "GPE")}


def extract(text: str, mode: str | None = None) -> EntityResult:
    mode = mode or default_mode()
    spans = _spans_fast(text) if mode == "fast" else _spans_accurate(text)
    spans = _add_patterns(text, spans)
    gaz = gazetteer()

    # Labels: MISC nationality words -> NORP, MISC with event words -> EVENT, the rest MISC.
    labelled: list[tuple[int, int, str, str]] = []  # start, end, label, surface
    for s, e, lab in spans:
        surface = text[s:e]
        if lab == "PER":
            lab = "PERSON"
        elif lab == "MISC":
            if any(c.feature == "country" for c in gaz.lookup(surface)):  # "in northern Mali"
                lab = "GPE"
            elif gaz.demonym(surface) or gaz.demonym(surface.split()[0]):
                lab = "NORP"
            elif _EVENT_WORDS.search(surface):
                lab = "EVENT"
            elif surface.split()[-1].lower() in _ORG_CUES:  # "World Health Organization"
                lab = "ORG"
        labelled.append((s, e, lab, surface))

    # One-country actors the tagger missed ("the OSCE SMM observed"): ORG, so they can vote.
    for m in gaz.cue_pattern.finditer(text):
        hits = [x for x in labelled if x[0] < m.end() and m.start() < x[1]]
        if all(m.start() <= x[0] and x[1] <= m.end() and x[2] in ("ORG", "MISC") for x in hits):
            labelled = [x for x in labelled if x not in hits] + [(m.start(), m.end(), "ORG", m.group(0))]
    labelled.sort()

    # Place syntax: relabel tagger spans or add untagged ones when they resolve.
    by_span = {(s, e): i for i, (s, e, _, _) in enumerate(labelled)}
    ctx_spans: set[tuple[int, int]] = set()
    for m in _PLACE_CTX.finditer(text):
        g = next(i for i in (1, 2, 3) if m.group(i))
        pos = m.start(g)
        for part in re.split(r"(,\s+)", m.group(g)):
            if part and not part.startswith(","):
                ctx_spans.add((pos, pos + len(part)))
            pos += len(part)
    inside: dict[tuple[int, int], list[tuple[int, int]]] = {}  # CTX span -> tagger spans within it
    for sp in sorted(ctx_spans):
        if sp in by_span:
            continue
        within = [(s0, e0) for s0, e0, _, _ in labelled if s0 < sp[1] and sp[0] < e0]
        if all(sp[0] <= s0 and e0 <= sp[1] for s0, e0 in within):  # "Karim-Lamido LGA" over "Karim"
            labelled.append((sp[0], sp[1], "CTX", text[sp[0] : sp[1]]))
            inside[sp] = within
    labelled.sort()
    syntax_spans = set(ctx_spans)

    # Places: every LOC-like mention (and place-syntax span), resolved together with nationality
    # votes.
    n = max(1, len(text))
    weight: dict[str, float] = {}
    demonym_votes: list[tuple[str, float]] = []
    for s, e, lab, surface in labelled:
        w = 1.0 + (1.0 - s / n)
        if (
            lab == "PERSON"
            and " " not in surface
            and any(p and c.population >= 100_000 and c.feature == "city" for c, p in gaz.candidates(surface))
        ):
            ctx_spans.add((s, e))  # "links Aleppo and Damascus": a big city tagged as a person
        if lab in ("LOC", "GPE") or (s, e) in ctx_spans:
            if _NOT_A_PLACE_AFTER.match(text, e):  # "US dollar", "Molotov cocktail": not places
                continue
            key = _clean_surface(surface)
            weight[key] = weight.get(key, 0.0) + w * (1.0 if lab in ("LOC", "GPE") else 0.7)
            head = _road_head(key)
            if head:  # "Akkar road": the place the road is named after votes too
                weight[head] = weight.get(head, 0.0) + 0.5 * w
        elif lab == "NORP":
            code = gaz.demonym(surface) or gaz.demonym(surface.split()[0])
            if code:
                demonym_votes.append((code, w))
    for s, _e, lab, surface in labelled:
        code = gaz.cue(surface) if lab in ("ORG", "MISC", "PERSON", "LOC") else None
        if code:  # "OSCE SMM", "Taliban": one-country actors vote like nationality words
            demonym_votes.append((code, 0.5 * (1.0 + (1.0 - s / n))))
    resolved, _ = gaz.resolve_many(list(weight.items()), demonym_votes)
    loc_countries = {g.country for k, g in resolved.items() if k in _loc_keys(labelled)}
    dropped = {h for sp, hits in inside.items() if resolved.get(_clean_surface(text[sp[0] : sp[1]])) for h in hits}
    relabelled = []
    for s, e, lab, surface in labelled:
        if (s, e) in dropped:
            continue
        if (s, e) in ctx_spans and lab not in ("LOC", "GPE", "NORP", "DATE"):
            geo = resolved.get(_clean_surface(surface))
            if geo is not None and ((s, e) in syntax_spans or geo.country in loc_countries):
                lab = "GPE"
            elif lab == "CTX":
                continue
        relabelled.append((s, e, lab, surface))
    labelled = relabelled

    mentions: list[Mention] = []
    person_names = [_clean_surface(sf) for _, _, lab, sf in labelled if lab == "PERSON"]
    person_canon = _canonical_person(person_names)
    places: dict[str, GeoEntry] = {}
    for s, e, lab, surface in labelled:
        key = _clean_surface(surface)
        canonical = key
        if lab in ("LOC", "GPE"):
            geo = resolved.get(key)
            if geo is not None and not _LOC_PHRASE.fullmatch(key):
                lab = "GPE"
                canonical = geo.name
                places[canonical] = geo
            else:
                lab = "LOC"
                head = _road_head(key)
                if head and resolved.get(head) is not None:  # stays LOC, placed by its town
                    places[canonical] = resolved[head]
        elif lab == "PERSON":
            canonical = person_canon.get(key, key)
        elif lab == "NORP":
            code = gaz.demonym(surface) or gaz.demonym(surface.split()[0])
            if code and code in gaz.countries:
                places.setdefault("NORP:" + canonical, gaz.countries[code])
        mentions.append(Mention(text=surface, label=lab, start=s, end=e, canonical=canonical))

    index = _build_index(mentions, places, n, text)
    return EntityResult(mentions=mentions, index=index, places=places)


# "Turkish army units ... in Dahuk", "Burundi troops in Buurane": a nationality or country that
# names an actor from elsewhere says little about where the story happens.
_ACTOR_AFTER = re.compile(
    r"\s+(?:(?:armed |military |security |special |government |backed |led )?(?:forces|troops|army|"
    r"military|soldiers|units|refugees|migrants|nationals|citizens|jets|warplanes|aircraft|drones?|"
    r"air ?strikes?|airforce|air force|navy|embassy|peacekeepers|contingent|border guards))\b",
    re.IGNORECASE,
)


def _build_index(mentions: list[Mention], places: dict[str, GeoEntry], n: int, text: str = "") -> list[EntityInfo]:
    stats: dict[tuple[str, str], list[float]] = {}
    for m in mentions:
        if m.label == "DATE":
            continue
        key = (m.canonical or m.text, m.label)
        actor = m.label in ("NORP", "GPE") and bool(_ACTOR_AFTER.match(text, m.end))
        # count, weighted count, effective first position (an actor mention counts as a late one)
        st = stats.setdefault(key, [0, 0.0, float(n)])
        st[0] += 1
        st[1] += 0.3 if actor else 1.0
        st[2] = min(st[2], m.start + 0.7 * (n - m.start) if actor else m.start)
    if not stats:
        return []
    top = max(w for _, w, _ in stats.values())
    index: list[EntityInfo] = []
    for (name, label), (count, weight, first) in stats.items():
        salience = 0.6 * weight / top + 0.4 * (1.0 - first / n)
        geo = places.get(name) if label in ("GPE", "LOC") else places.get("NORP:" + name) if label == "NORP" else None
        place = None
        if geo is not None:
            place = Place(
                name=geo.name,
                geonameid=geo.geonameid,
                country=geo.country,
                lat=geo.lat,
                lon=geo.lon,
                feature=geo.feature,
                is_capital=geo.is_capital,
            )
        index.append(
            EntityInfo(
                name=name,
                label=label,
                mentions=int(count),
                salience=round(min(1.0, max(0.0, salience)), 4),
                place=place,
            )
        )
    index.sort(key=lambda e: -e.salience)
    return index
