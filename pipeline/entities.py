"""Entity stage: mentions with offsets into ``text``, merged per entity, places resolved.

Operating points (``mode``, from ``settings.entity_mode``; see ``MODES``):

- ``balanced`` (default) and ``accurate``: a spaCy tok2vec + transition NER trained on CoNLL-2003
  eng.train with lower- and upper-cased copies of its documents, built by
  ``python -m evals.train_ner``, loaded once per process. ``balanced`` has a narrow encoder
  (``pipeline/models/ner_conll_small``), ``accurate`` one twice as wide and deep
  (``pipeline/models/ner_conll``); the tagger is nearly all of the stage's cost, so the narrow one
  sets a higher ceiling for the whole pipeline at a small cost in F1 on cased text. A missing or
  broken model is an error naming its path, never a quiet switch to rules. spaCy tokenises and
  encodes; the NER's moves are decoded by ``pipeline.ner_greedy`` (spaCy's decisions, computed for
  all tokens at once instead of in spaCy's per-token loop).
- ``fast``: capitalised-span candidates labelled by the gazetteer, nationality words and
  organisation cues; no model, several times faster, much less accurate on PERSON/ORG, blind in
  lower-cased text.

The models are English. French text is tagged by spaCy's packaged French pipeline
(``fr_core_news_sm``, its NER component alone; ``LANGUAGE_TAGGERS``) in the model-backed modes.
Text in any other language gets no entities and an ``abstention`` saying so: an English tagger over
German calls capitalised nouns people and places, and a consumer cannot tell those from real
entities.

Extraction runs as named phases over ``Span`` lists, each linear in the text (sorted spans and
bisection instead of all-pairs overlap tests; every regular expression has bounded repetition; a
tagged span longer than ``MAX_NAME_CHARS`` is not a name; at most ``MAX_PLACE_NAMES`` distinct
place names go to the gazetteer per text):

1. ``tag``: tagger (or rules) spans with CoNLL labels PER/ORG/LOC/MISC;
2. ``add_patterns``: "M4 highway"-style roads and rivers as LOC, dates as DATE;
3. ``relabel_misc``: PER -> PERSON, MISC -> GPE (country names) / NORP (nationality words) /
   EVENT / ORG (by its last word);
4. ``add_actor_cues``: one-country actors the tagger missed ("OSCE SMM") as ORG;
5. ``place_syntax``: what stands where a place stands ("in X", "village of X", "(X, Y)");
6. ``resolve_places``: the article's place names resolved together (``Gazetteer.resolve_many``)
   with nationality and actor votes;
7. ``to_mentions`` and ``build_index``: canonical names ("Putin" -> "Vladimir Putin"), places,
   salience.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.geo import Gazetteer, GeoEntry, gazetteer, norm
from pipeline.model_registry import ModelMissingError, loaded, register, require
from pipeline.ner_greedy import GreedyNer, UnsupportedNerModel, decode, decoder_for
from pipeline.truecase import truecase
from schemas import EntityInfo, Mention, ModelRef, Place

_MODELS = Path(__file__).resolve().parent / "models"
# The tagger each model-backed mode loads; ``fast`` has none.
MODEL_DIRS = {"balanced": _MODELS / "ner_conll_small", "accurate": _MODELS / "ner_conll"}
MODES = ("balanced", "accurate", "fast")
DEFAULT_MODE = "balanced"
# Languages the stage has a model for; ``None`` (detection unsure, e.g. a short text) is read as
# English, the stream's main language.
LANGUAGES = frozenset({"en", "fr"})
# Packaged spaCy pipelines (PyPI) that tag other languages with the same CoNLL labels, used by the
# model-backed modes (``fast`` has rules for English only).
LANGUAGE_TAGGERS = {"fr": "fr_core_news_sm"}
# A tagged span longer than this is not a name ("BREAKING NEWS BREAKING NEWS ..."): dropped, so no
# later phase works on unbounded surfaces.
MAX_NAME_CHARS = 100
# Distinct place names resolved per text (by weight): the gazetteer's article-level resolution
# compares names with each other, and no real article names more places than this.
MAX_PLACE_NAMES = 200
# The tagger reads texts in pieces of at most this many characters, cut at line ends where there
# are any: bounds the tokenizer's work on pathological tokens and evens out batches.
CHUNK_CHARS = 2_000
BATCH_SIZE = 64  # pieces per nlp.pipe batch


class NerModelError(ModelMissingError):
    """The NER model a mode needs is missing or cannot be loaded."""


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch ``[start, end)`` of the text with a label. ``label`` is a CoNLL tag (PER, ORG, LOC,
    MISC) as tagged, an output label (PERSON, GPE, NORP, ...) after ``relabel_misc``."""

    start: int
    end: int
    label: str


@dataclass(frozen=True, slots=True)
class PlaceSyntax:
    """A stretch that stands where a place stands ("in X"). ``covers``: tagged spans inside it that
    it replaces when it resolves ("Karim-Lamido LGA" over "Karim")."""

    start: int
    end: int
    covers: tuple[Span, ...] = ()


@dataclass
class EntityResult:
    mentions: list[Mention]
    index: list[EntityInfo]
    places: dict[str, GeoEntry]
    abstention: str | None = None  # why there are no entities (e.g. a language without a model)
    models: list[ModelRef] = field(default_factory=list)  # what made them


def models_used(mode: str, language: str = "en") -> list[ModelRef]:
    """The loaded entity models a ``mode`` run over ``language`` reads: all of them except the
    taggers of other modes and languages."""
    own = LANGUAGE_TAGGERS.get(language) or (MODEL_DIRS[mode].name if mode in MODEL_DIRS else None)
    taggers = {d.name for d in MODEL_DIRS.values()} | set(LANGUAGE_TAGGERS.values())
    return [m for m in loaded("entities") if m.name not in taggers or m.name == own]


# --------------------------------------------------------------------------- word lists, patterns


def _words(name: str) -> tuple[str, ...]:
    text = resources.files("pipeline").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t|tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
# A capitalised name of at most 6 words ("de", "al", ... may join them): bounded so that a long
# run of capitalised words costs linear time, not quadratic backtracking.
_CAP = r"[A-Z][\w'’-]{0,40}(?: (?:de |del |de la |al |el |la |bin )?[A-Z0-9][\w'’-]{0,40}){0,5}"
_NAME_WORD = r"(?:(?:[A-Z]\.){2,6}|[A-Z][\w-]{0,40}(?:['’][A-Za-z]{1,40})?)"


@dataclass(frozen=True)
class _Lexicon:
    loc_nouns: tuple[str, ...]
    org_cues: frozenset[str]
    stop: frozenset[str]
    loc_phrase: re.Pattern[str]  # "M4 highway", "Tigris River", "Route 5": the name plus the noun is one LOC
    name_span: re.Pattern[str]  # rules mode: capitalised words joined by single spaces (at most 8)
    date: re.Pattern[str]
    event_words: re.Pattern[str]
    place_syntax: re.Pattern[str]
    not_a_place_after: re.Pattern[str]
    road: re.Pattern[str]
    actor_after: re.Pattern[str]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    loc_nouns = _words("entity_loc_nouns.txt")
    return _Lexicon(
        loc_nouns=loc_nouns,
        org_cues=frozenset(_words("entity_org_cues.txt")),
        stop=frozenset(_words("entity_stop_words.txt")),
        loc_phrase=re.compile(
            r"\b(?:[A-Z][\w-]{0,30}\d[\w-]{0,30}|(?:[A-Z][\w-]{1,40} ){0,2}[A-Z][\w-]{1,40}) (?i:"
            + "|".join(loc_nouns)
            + r")s?\b|\b(?:Route|Highway|Road) \d{1,4}[A-Z]?\b"
        ),
        # A possessive ends the span so "Syria's Idlib" gives two places; a sentence end is never crossed.
        name_span=re.compile(
            rf"\b{_NAME_WORD}(?:(?<!['’]s) (?:of |the |de |del |de la |da |do |al |el )?{_NAME_WORD}){{0,7}}"
        ),
        date=re.compile(
            rf"\b(?:\d{{1,2}} {_MONTH},? \d{{4}}|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
            rf"\d{{1,2}} {_MONTH}|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?|{_MONTH} \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|"
            r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|(?:last|next|this) (?:week|month|year))\b"
        ),
        event_words=re.compile(
            r"\b(?:War|Games|Cup|Olympics|Summit|Championships?|Festival|Revolution|Uprising|Conference)\b"
        ),
        # Place syntax: "in X", "near X, Y", "village of X", "(X, Y)". What stands there and is in the
        # gazetteer is a place even when the tagger called it a person or missed it.
        place_syntax=re.compile(
            rf"\b(?:[Ii]n|near|at|around|outside|from|towards|(?:village|town|city|district|outskirts|"
            rf"suburbs?|province|governorate|region|area|vicinity) of)\s{{1,5}}({_CAP}(?:,\s{{1,5}}{_CAP}){{0,9}})"
            rf"|\(({_CAP}(?:,\s{{1,5}}{_CAP}){{0,9}})\)"
            rf"|\b({_CAP}) (?:village|town|city|district|municipality|subdivision|governorate|county|LGA|"
            rf"neighbou?rhood|suburb|province|state)\b"
        ),
        # Words after a place name that make it something else: "US dollar", "Molotov cocktail"
        # (Molotov was Perm's name from 1940 to 1957).
        not_a_place_after=re.compile(
            r"\s{1,5}(?:dollars?|pounds?|euros?|rubles?|roubles?|lira|yuan|rupees?|cocktails?)\b", re.I
        ),
        road=re.compile(
            r"^([A-Z][a-z][\w'’-]*(?: [A-Z][a-z][\w'’-]*)?) (?i:road|highway|motorway|expressway|crossing)$"
        ),
        # "Turkish army units ... in Dahuk", "Burundi troops in Buurane": a nationality or country
        # that names an actor from elsewhere says little about where the story happens.
        actor_after=re.compile(
            r"\s{1,5}(?:(?:armed |military |security |special |government |backed |led )?(?:forces|troops|"
            r"army|military|soldiers|units|refugees|migrants|nationals|citizens|jets|warplanes|aircraft|"
            r"drones?|air ?strikes?|airforce|air force|navy|embassy|peacekeepers|contingent|border guards))\b",
            re.IGNORECASE,
        ),
    )


# --------------------------------------------------------------------------- phase 1: tag


@lru_cache(maxsize=len(MODEL_DIRS))
def _nlp(mode: str) -> Any:
    """The packaged NER pipeline of ``mode``, loaded once. Missing or unloadable: ``NerModelError``
    naming the path (a broken install must not degrade quietly to rules)."""
    path = MODEL_DIRS[mode]
    if not (path / "config.cfg").is_file():
        raise NerModelError(
            f"NER model not found at {path} (the installed package is incomplete: reinstall newsflow, "
            "or set NEWSFLOW_ENTITY_MODE=fast for rules only)"
        )
    try:
        import spacy
        from spacy.util import compile_infix_regex
        from thinc.api import use_ops

        with use_ops("numpy", use_blis=False):  # see _blas
            nlp: Any = spacy.load(path)
    except Exception as exc:  # any load failure is reported with the path
        raise NerModelError(f"NER model at {path} cannot be loaded: {exc}") from exc
    register("entities", path.name, require(path, "NER model"))
    # "Syria'sIdlib" (a glued possessive left by scraping) splits like "Syria 's Idlib".
    infixes = [*nlp.Defaults.infixes, r"(?<=[a-z])(?=['’]s[A-Z])", r"(?<=['’]s)(?=[A-Z])"]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    return nlp


@lru_cache(maxsize=len(LANGUAGE_TAGGERS))
def _nlp_language(language: str) -> Any:
    """The packaged pipeline that tags ``language`` (``LANGUAGE_TAGGERS``), its NER component alone
    (it carries its own encoder), loaded once. Missing: ``NerModelError`` naming the package."""
    package = LANGUAGE_TAGGERS[language]
    try:
        import importlib

        import spacy
        from thinc.api import use_ops

        module = importlib.import_module(package)
        unused = ["tok2vec", "morphologizer", "parser", "attribute_ruler", "lemmatizer"]
        with use_ops("numpy", use_blis=False):  # see _blas
            nlp: Any = spacy.load(package, exclude=unused)
    except Exception as exc:  # any load failure is reported with the package's name
        raise NerModelError(
            f"NER model for {language!r} ({package}) cannot be loaded: {exc} (reinstall newsflow, whose "
            "dependencies pin it)"
        ) from exc
    register("entities", package, Path(next(iter(module.__path__))))
    return nlp


@lru_cache(maxsize=len(MODEL_DIRS) * (1 + len(LANGUAGE_TAGGERS)))  # (mode, language) pairs
def _tagger(mode: str, language: str) -> tuple[Any, GreedyNer]:
    """The pipeline that tags ``language`` in ``mode`` and the numpy decoder of its NER component
    (``pipeline.ner_greedy``: spaCy's decisions, several times faster than its own loop)."""
    nlp = _nlp_language(language) if language in LANGUAGE_TAGGERS else _nlp(mode)
    try:
        return nlp, decoder_for(nlp.get_pipe("ner"))
    except UnsupportedNerModel as exc:
        raise NerModelError(f"NER model {nlp.meta.get('name')!r} cannot be decoded here: {exc}") from exc


def load(mode: str = DEFAULT_MODE) -> None:
    """Load what ``mode`` needs now (worker start-up), so a missing model fails before any message."""
    _check_mode(mode)
    _lexicon()
    gazetteer()
    if mode in MODEL_DIRS:
        _tagger(mode, "en")
        for language in LANGUAGE_TAGGERS:
            _tagger(mode, language)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown entity mode {mode!r}; choose one of {', '.join(MODES)}")


def _chunks(text: str, limit: int = CHUNK_CHARS) -> Iterable[tuple[int, str]]:
    """(offset, piece) covering ``text``; pieces end at a line end, else at a space, else at the limit."""
    pos, n = 0, len(text)
    while pos < n:
        end = min(n, pos + limit)
        if end < n:
            cut = text.rfind("\n", pos, end)
            if cut <= pos:
                cut = text.rfind(" ", pos, end)
            if cut > pos:
                end = cut + 1
        yield pos, text[pos:end]
        pos = end


@lru_cache(maxsize=1)
def _blas() -> Any:
    """The taggers are loaded with thinc's plain numpy ops, whose matrix products go to numpy's
    BLAS (OpenBLAS) instead of thinc's bundled blis: the same entities, a quarter faster on this
    model's small products. OpenBLAS would also spread each product over every core, which costs
    more CPU than it saves at these sizes and competes with the other stages' threads, so tagging
    holds it to one thread (``_tag_model``); workers scale by processes, not BLAS threads."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _tag_model(texts: Sequence[str], mode: str, language: str = "en") -> list[list[Span]]:
    nlp, decoder = _tagger(mode, language)
    pieces = [(i, off, piece) for i, t in enumerate(texts) for off, piece in _chunks(t)]
    out: list[list[Span]] = [[] for _ in texts]
    with _blas().limit(limits=1, user_api="blas"):
        # spaCy tokenises and encodes; the NER decisions are made by ``decoder``.
        docs = list(nlp.pipe((p for _, _, p in pieces), batch_size=BATCH_SIZE, disable=["ner"]))
        found = [ents for k in range(0, len(docs), BATCH_SIZE) for ents in decode(decoder, docs[k : k + BATCH_SIZE])]
    for (i, off, _), ents in zip(pieces, found, strict=True):
        out[i].extend(
            Span(off + start, off + end, label) for start, end, label in ents if end - start <= MAX_NAME_CHARS
        )
    return out


def _tag_rules(text: str) -> list[Span]:
    lex, gaz = _lexicon(), gazetteer()
    out: list[Span] = []
    for m in lex.name_span.finditer(text):
        raw = m.group(0)
        span = re.sub(r"['’]s?$", "", raw.rstrip(".-"))
        words = span.split()
        k = 0
        while k < len(words) and words[k] in lex.stop:
            k += 1
        words = words[k:]
        if not words:
            continue
        span = " ".join(words)
        start = m.start() + raw.find(span)
        end = start + len(span)
        if end - start > MAX_NAME_CHARS:
            continue
        last = words[-1].lower()
        if gaz.demonym(span) or (len(words) == 1 and gaz.demonym(words[0])):
            label = "MISC"
        elif last in lex.org_cues or (span.isupper() and len(words) == 1 and len(span) > 1 and not gaz.lookup(span)):
            label = "ORG"
        elif gaz.by_name.get(norm(span)):
            label = "LOC"
        elif len(words) >= 2:
            label = "PER"
        else:
            continue
        out.append(Span(start, end, label))
    return out


def tag(texts: Sequence[str], mode: str = DEFAULT_MODE, language: str = "en") -> list[list[Span]]:
    """Phase 1: CoNLL-labelled spans per text, sorted and non-overlapping."""
    _check_mode(mode)
    if mode == "fast":
        return [_tag_rules(t) for t in texts]
    return _tag_model(texts, mode, language)


# --------------------------------------------------------------------------- span helpers


class _Sorted:
    """Non-overlapping spans sorted by start; overlap queries by bisection (ends are sorted too)."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans = sorted(spans, key=lambda sp: (sp.start, sp.end))
        self.starts = [sp.start for sp in self.spans]
        self.ends = [sp.end for sp in self.spans]

    def overlapping(self, start: int, end: int) -> range:
        """Indices of the spans that overlap ``[start, end)``."""
        return range(bisect_right(self.ends, start), bisect_left(self.starts, end))


def _replace(spans: list[Span], drop: set[int], add: list[Span]) -> list[Span]:
    return sorted([sp for i, sp in enumerate(spans) if i not in drop] + add, key=lambda sp: (sp.start, sp.end))


# --------------------------------------------------------------------------- phases 2-4: labels


def add_patterns(text: str, spans: list[Span]) -> list[Span]:
    """Phase 2: "<Name> highway" extends its named head to one LOC (never swallowing a longer
    entity); dates where nothing else stands."""
    lex = _lexicon()
    cur = _Sorted(spans)
    drop: set[int] = set()
    add: list[Span] = []
    for m in lex.loc_phrase.finditer(text):
        s, e = m.start(), m.end()
        if not (text[s].isupper() or text[s].isdigit()):
            continue
        hit = cur.overlapping(s, e)
        if all(cur.spans[i].start >= s and cur.spans[i].end <= e for i in hit):
            drop.update(hit)
            add.append(Span(s, e, "LOC"))
    cur = _Sorted(_replace(cur.spans, drop, add))
    dates = [
        Span(m.start(), m.end(), "DATE") for m in lex.date.finditer(text) if not cur.overlapping(m.start(), m.end())
    ]
    return _replace(cur.spans, set(), dates) if dates else cur.spans


def relabel_misc(text: str, spans: list[Span], gaz: Gazetteer) -> list[Span]:
    """Phase 3: output labels. PER -> PERSON; MISC: a country name ("in northern Mali") -> GPE, a
    nationality word -> NORP, with an event word -> EVENT, ending in an organisation word -> ORG."""
    lex = _lexicon()
    out = []
    for sp in spans:
        lab = sp.label
        surface = text[sp.start : sp.end]
        if lab == "PER":
            lab = "PERSON"
        elif lab == "MISC":
            if any(c.feature == "country" for c in gaz.lookup(surface)):
                lab = "GPE"
            elif gaz.demonym(surface) or gaz.demonym(surface.split()[0]):
                lab = "NORP"
            elif lex.event_words.search(surface):
                lab = "EVENT"
            elif surface.split()[-1].lower() in lex.org_cues:  # "World Health Organization"
                lab = "ORG"
        out.append(Span(sp.start, sp.end, lab) if lab != sp.label else sp)
    return out


def add_actor_cues(text: str, spans: list[Span], gaz: Gazetteer) -> list[Span]:
    """Phase 4: one-country actors the tagger missed ("the OSCE SMM observed") become ORG spans, so
    they can vote for their country; only over nothing or over ORG/MISC spans inside them."""
    cur = _Sorted(spans)
    drop: set[int] = set()
    add: list[Span] = []
    for m in gaz.cue_pattern.finditer(text):
        hit = cur.overlapping(m.start(), m.end())
        if all(
            m.start() <= cur.spans[i].start and cur.spans[i].end <= m.end() and cur.spans[i].label in ("ORG", "MISC")
            for i in hit
        ):
            drop.update(hit)
            add.append(Span(m.start(), m.end(), "ORG"))
    return _replace(cur.spans, drop, add) if add else cur.spans


def place_syntax(text: str, spans: list[Span]) -> tuple[set[tuple[int, int]], list[PlaceSyntax]]:
    """Phase 5: every stretch in place syntax, and the ones no tagged span stands on exactly (and
    no tagged span sticks out of), with the tagged spans inside them."""
    lex = _lexicon()
    where: set[tuple[int, int]] = set()
    for m in lex.place_syntax.finditer(text):
        g = next(i for i in (1, 2, 3) if m.group(i))
        pos = m.start(g)
        for part in re.split(r"(,\s+)", m.group(g)):
            if part and not part.startswith(","):
                where.add((pos, pos + len(part)))
            pos += len(part)
    cur = _Sorted(spans)
    exact = {(sp.start, sp.end) for sp in spans}
    extra: list[PlaceSyntax] = []
    for s, e in sorted(where):
        if (s, e) in exact:
            continue
        within = tuple(cur.spans[i] for i in cur.overlapping(s, e))
        if all(s <= sp.start and sp.end <= e for sp in within):  # "Karim-Lamido LGA" over "Karim"
            extra.append(PlaceSyntax(s, e, within))
    return where, extra


# --------------------------------------------------------------------------- phase 6: places


def _clean_surface(s: str) -> str:
    s = " ".join(s.split())
    return s[4:] if s.startswith(("the ", "The ")) and len(s) > 4 else s


def _road_head(key: str) -> str | None:
    m = _lexicon().road.match(key)
    return m.group(1) if m else None


@dataclass
class _Places:
    resolved: dict[str, GeoEntry]
    place_like: set[tuple[int, int]]  # spans read as places though not tagged so (syntax, big cities)


def resolve_places(
    text: str, spans: list[Span], syntax: set[tuple[int, int]], extra: list[PlaceSyntax], gaz: Gazetteer
) -> _Places:
    """Phase 6: every LOC-like mention and place-syntax stretch, resolved together with nationality
    and actor votes. A one-word PERSON that is a big city ("links Aleppo and Damascus") counts too."""
    lex = _lexicon()
    n = max(1, len(text))
    place_like = set(syntax)
    weight: dict[str, float] = {}
    votes: list[tuple[str, float]] = []
    big_city: dict[str, bool] = {}
    items = sorted([(sp.start, sp.end, sp.label) for sp in spans] + [(p.start, p.end, "") for p in extra])
    for s, e, lab in items:
        surface = text[s:e]
        w = 1.0 + (1.0 - s / n)
        if lab == "PERSON" and " " not in surface:
            if surface not in big_city:
                big_city[surface] = any(
                    p and c.population >= 100_000 and c.feature == "city" for c, p in gaz.candidates(surface)
                )
            if big_city[surface]:
                place_like.add((s, e))
        if lab in ("LOC", "GPE") or (s, e) in place_like:
            if lex.not_a_place_after.match(text, e):  # "US dollar", "Molotov cocktail": not places
                continue
            key = _clean_surface(surface)
            weight[key] = weight.get(key, 0.0) + w * (1.0 if lab in ("LOC", "GPE") else 0.7)
            head = _road_head(key)
            if head:  # "Akkar road": the place the road is named after votes too
                weight[head] = weight.get(head, 0.0) + 0.5 * w
        elif lab == "NORP":
            code = gaz.demonym(surface) or gaz.demonym(surface.split()[0])
            if code:
                votes.append((code, w))
    for s, e, lab in items:
        code = gaz.cue(text[s:e]) if lab in ("ORG", "MISC", "PERSON", "LOC") else None
        if code:  # "OSCE SMM", "Taliban": one-country actors vote like nationality words
            votes.append((code, 0.5 * (1.0 + (1.0 - s / n))))
    names = list(weight.items())
    if len(names) > MAX_PLACE_NAMES:
        keep = set(sorted(weight, key=lambda k: -weight[k])[:MAX_PLACE_NAMES])
        names = [kv for kv in names if kv[0] in keep]
    resolved, _ = gaz.resolve_many(names, votes)
    return _Places(resolved, place_like)


def settle_places(
    text: str, spans: list[Span], extra: list[PlaceSyntax], syntax: set[tuple[int, int]], places: _Places
) -> list[Span]:
    """Phase 6b: a place-syntax stretch that resolved replaces the tagged spans inside it and is a
    GPE; a tagged non-place standing where a place stands becomes GPE when it resolved in place
    syntax or in a country the text's tagged places are in; unresolved syntax stretches go."""
    resolved = places.resolved
    loc_keys = {_clean_surface(text[sp.start : sp.end]) for sp in spans if sp.label in ("LOC", "GPE")}
    loc_countries = {g.country for k, g in resolved.items() if k in loc_keys}
    dropped = {(c.start, c.end) for p in extra if resolved.get(_clean_surface(text[p.start : p.end])) for c in p.covers}
    items = sorted([(sp.start, sp.end, sp.label) for sp in spans] + [(p.start, p.end, "") for p in extra])
    out: list[Span] = []
    for s, e, lab in items:
        if (s, e) in dropped:
            continue
        if (s, e) in places.place_like and lab not in ("LOC", "GPE", "NORP", "DATE"):
            geo = resolved.get(_clean_surface(text[s:e]))
            if geo is not None and ((s, e) in syntax or geo.country in loc_countries):
                lab = "GPE"
            elif not lab:
                continue
        out.append(Span(s, e, lab))
    return out


# --------------------------------------------------------------------------- phase 7: mentions, index


def _canonical_person(names: list[str]) -> dict[str, str]:
    """Map each PERSON surface to the longest full name it is the first or last word of."""
    by_word: dict[str, str] = {}
    for f in sorted(set(names), key=lambda n: (-len(n.split()), n)):
        ft = f.split()
        if len(ft) > 1:
            by_word.setdefault(ft[-1], f)
            by_word.setdefault(ft[0], f)
    return {n: (by_word.get(n, n) if len(n.split()) == 1 else n) for n in names}


def to_mentions(
    text: str, spans: list[Span], resolved: dict[str, GeoEntry], gaz: Gazetteer
) -> tuple[list[Mention], dict[str, GeoEntry]]:
    """Phase 7: mentions with canonical names; the places they resolve to."""
    lex = _lexicon()
    person_canon = _canonical_person([_clean_surface(text[sp.start : sp.end]) for sp in spans if sp.label == "PERSON"])
    mentions: list[Mention] = []
    places: dict[str, GeoEntry] = {}
    for sp in spans:
        lab = sp.label
        surface = text[sp.start : sp.end]
        key = _clean_surface(surface)
        canonical = key
        if lab in ("LOC", "GPE"):
            geo = resolved.get(key)
            if geo is not None and not lex.loc_phrase.fullmatch(key):
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
        mentions.append(Mention(text=surface, label=lab, start=sp.start, end=sp.end, canonical=canonical))
    return mentions, places


def build_index(mentions: list[Mention], places: dict[str, GeoEntry], n: int, text: str = "") -> list[EntityInfo]:
    """One entry per (canonical name, label) with its count and salience (weighted count and first
    position; a nationality or country naming a foreign actor counts little and late)."""
    actor_after = _lexicon().actor_after
    stats: dict[tuple[str, str], list[float]] = {}
    for m in mentions:
        if m.label == "DATE":
            continue
        key = (m.canonical or m.text, m.label)
        actor = m.label in ("NORP", "GPE") and bool(actor_after.match(text, m.end))
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


# --------------------------------------------------------------------------- entry points


def _base_language(language: str | None) -> str:
    """ "fr-CA" -> "fr"; None (detection unsure) -> "en"."""
    return language.lower().split("-")[0] if language else "en"


def abstention_for(language: str | None, mode: str = DEFAULT_MODE) -> str | None:
    """Why the stage gives no entities for text in ``language`` (None: it has a model for it)."""
    covered = LANGUAGES if mode in MODEL_DIRS else frozenset({"en"})
    if _base_language(language) in covered:
        return None
    return f"no entity model for language {language!r} in mode {mode!r} (models: {', '.join(sorted(covered))})"


def analyse(text: str, tagged: list[Span]) -> EntityResult:
    """Phases 2-7 over one text and its tagged spans."""
    gaz = gazetteer()
    spans = add_patterns(text, tagged)
    spans = relabel_misc(text, spans, gaz)
    spans = add_actor_cues(text, spans, gaz)
    syntax, extra = place_syntax(text, spans)
    places = resolve_places(text, spans, syntax, extra, gaz)
    spans = settle_places(text, spans, extra, syntax, places)
    mentions, found = to_mentions(text, spans, places.resolved, gaz)
    return EntityResult(mentions=mentions, index=build_index(mentions, found, max(1, len(text)), text), places=found)


def extract_batch(
    texts: Sequence[str],
    mode: str | None = None,
    languages: Sequence[str | None] | None = None,
    recase: bool = True,
) -> list[EntityResult]:
    """``extract`` over many texts, the tagger batched across them (what a stream batch should call).
    ``recase``: all-lower-case and ALL-CAPS texts are re-cased before tagging (``pipeline.truecase``)."""
    mode = mode or DEFAULT_MODE
    langs: Sequence[str | None] = languages if languages is not None else [None] * len(texts)
    results: list[EntityResult | None] = [None] * len(texts)
    todo: dict[str, list[int]] = {}  # language -> texts its tagger reads
    for i, lang in enumerate(langs):
        why = abstention_for(lang, mode)
        if why is None:
            todo.setdefault(_base_language(lang), []).append(i)
        else:
            results[i] = EntityResult(mentions=[], index=[], places={}, abstention=why)
    for language, idx in todo.items():
        # Re-casing knows English words only.
        read = {i: truecase(texts[i]) if recase and language == "en" else texts[i] for i in idx}
        done: list[EntityResult] = []
        for i, tagged in zip(idx, tag([read[i] for i in idx], mode, language), strict=True):
            res = results[i] = analyse(read[i], tagged)
            if read[i] is not texts[i]:  # mentions quote the text as given; names stay re-cased
                res.mentions = [m.model_copy(update={"text": texts[i][m.start : m.end]}) for m in res.mentions]
            done.append(res)
        used = models_used(mode, language)  # after the work: each model registers itself on load
        for res in done:
            res.models = used
    return [r for r in results if r is not None]


def extract(text: str, mode: str | None = None, language: str | None = None) -> EntityResult:
    """Entities of one text. ``mode``: ``settings.entity_mode`` (``MODES``; None: ``DEFAULT_MODE``).
    ``language``: the cleaned article's language; one without a model gives an abstention."""
    return extract_batch([text], mode, [language])[0]
