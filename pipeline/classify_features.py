"""Text features shared by classify-model training (``evals.train_classify``) and inference.

One analyzer is used both to fit the vocabulary (scikit-learn ``TfidfVectorizer(analyzer=...)``)
and at run time, so the numpy inference in ``pipeline.classify`` sees exactly the n-grams the
model was trained on. No I/O here.
"""

from __future__ import annotations

import re
import zlib

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_DIGITS = re.compile(r"^[\d_]+$")
# Function words carry no topic signal and only bloat the bigram vocabulary.
_STOP_TEXT = (
    "the of and to in on at by for with from as is was were be been are it its this that these those "
    "an or but not has have had he she they them their his her we our you your will would can could "
    "also than then there which who whom what when where while about into over after before said says"
)
STOPWORDS = frozenset(_STOP_TEXT.split())

# How much of an article each head reads. The category head reads the body (capped: later
# paragraphs rarely change the topic and cost time); the event head reads the headline and the
# lead, which is where news reports state the event, and which is closest in length to the
# ACLED analysts' notes it learns from.
CATEGORY_CHARS = 4000
EVENT_CHARS = 600


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens without stop words and pure numbers."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS and not _DIGITS.match(t)]


def ngrams(toks: list[str]) -> list[str]:
    """Unigrams then bigrams (bigrams over the stop-word-filtered stream)."""
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]


def analyze(text: str) -> list[str]:
    return ngrams(tokens(text))


def gram_id(gram: str) -> int:
    """Stable 32-bit id of an n-gram (CRC-32): the model stores ids, not strings, so training can
    build its vocabulary with array operations and the model file stays small."""
    return zlib.crc32(gram.encode("utf-8"))


def category_text(title: str | None, text: str) -> str:
    return f"{title or ''}\n{title or ''}\n{text[:CATEGORY_CHARS]}"


def event_lead(text: str) -> str:
    """The part of the text the event head reads first: ``EVENT_CHARS``, cut at a sentence end."""
    lead = text[:EVENT_CHARS]
    cut = lead.rfind(". ")
    if len(text) > EVENT_CHARS and cut > EVENT_CHARS // 2:
        lead = lead[: cut + 1]
    return lead


def event_text(title: str | None, text: str) -> str:
    return f"{title or ''}\n{event_lead(text)}"


# ACLED notes follow a coding template that no news article has ("On 9 May 2020, ...",
# "[size=no report]", "Unknown fatalities coded as 10", "Movement of forces:"). Training on the
# template would teach the model ACLED's house style instead of the event; strip it.
_ACLED_PATTERNS = [
    re.compile(r"\[[^\]]*\]"),
    re.compile(r"^\s*(?:on|around|between|during|from)\b[^,]{0,60}?\b20\d\d\b(?:\s*\([^)]*\))?,?\s*", re.I),
    re.compile(
        r"\b(?:on|around|between|during|from|in|by)\s+(?:the\s+)?(?:night\s+of\s+)?"
        r"(?:\d{1,2}(?:\s*(?:-|and|to)\s*\d{1,2})?\s+)?"
        r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
        r"(?:\s+20\d\d)?\b(?:\s*\(as reported\))?,?",
        re.I,
    ),
    re.compile(
        r"^\s*(?:movement of forces|other|looting|arrests?|property destruction|"
        r"disrupted weapons use|agreement|change to group/activity)\s*:\s*",
        re.I,
    ),
    re.compile(r"\bcoded as\b[^.]*", re.I),
]


# ACLED's fatality bookkeeping ("3 fatalities.", "Unknown fatalities coded as 10 and split across
# two events", "No fatalities nor injuries reported") is rewritten into the plain words a news
# report uses ("people killed", "no casualties reported"): whether people died is part of the event,
# the coding convention is not.
_NO_FATAL = re.compile(
    r"\b(?:with\s+)?(?:no|neither|without)\s+(?:reports?\s+(?:of|on)\s+|reported\s+)?"
    r"(?:number\s+of\s+)?fatalit(?:y|ies)\b[^.;]*",
    re.I,
)
_CODED_FATAL = re.compile(
    r"\b(?:unknown|unclear)?\s*(?:reported\s+)?(?:number\s+of\s+)?fatalit(?:y|ies)\s+"
    r"(?:are\s+|were\s+)?(?:coded|split|spread|distributed)\b[^.;]*",
    re.I,
)
_N_FATAL = re.compile(r"\b(\d+)\s+fatalit(?:y|ies)\b", re.I)
_FATAL_WORD = re.compile(r"\bfatalit(?:y|ies)\b", re.I)


def clean_acled_note(note: str) -> str:
    out = note
    for pat in _ACLED_PATTERNS:
        out = pat.sub(" ", out)
    out = _NO_FATAL.sub(" no casualties reported", out)
    out = _CODED_FATAL.sub(" people killed", out)
    out = _N_FATAL.sub(lambda m: "people killed" if int(m.group(1)) else "no casualties", out)
    out = _FATAL_WORD.sub("casualties", out)
    return re.sub(r"\s+", " ", out).strip()
