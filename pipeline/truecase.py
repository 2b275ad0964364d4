"""Case restoration for all-lower-case and ALL-CAPS text, so the case-trained tagger can read it.

Some feeds and archives deliver a whole article in one case (wire flashes, old archives, scraped
mobile pages). A tagger trained on newswire leans on capital letters; given such text it finds a
fraction of the entities. Before tagging, a text whose letters are almost all one case is
re-cased word by word: each word takes the form it most often has in newswire text
(``pipeline/models/truecase.tsv.gz``, counted on cased news text by
``python -m evals.train_ner --truecase``; "reuters" -> "Reuters", "u.s." -> "U.S."), a word that
is neither in that text nor in an English word list is capitalised (such a word is most often a
name: "pirelli", "farrakhan"), then each pair of words separated by one space takes the form the
pair usually has when that differs ("new york" -> "New York", "wall street" -> "Wall Street",
"world bank" -> "World Bank": words that are ordinary on their own but part of a name next to
each other), and every line and sentence starts with a capital. Text in headline style ("Police
Clash With Protesters In Portland") is re-cased the same way, its ALL-CAPS words and initials
kept. Only the case of letters changes and only where that keeps the length, so every offset into
the re-cased text is an offset into the original.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from pipeline.model_registry import ModelMissingError, register

TABLE = Path(__file__).resolve().parent / "models" / "truecase.tsv.gz"
# Share of upper-case letters below which a text is read as all lower case, above which as ALL CAPS.
LOWER_BELOW = 0.02
UPPER_ABOVE = 0.80
_MIN_LETTERS = 20
# A text is in headline style when at least TITLE_ABOVE of its words of ``_TITLE_WORD_LEN`` or more
# letters (at least ``_TITLE_MIN_WORDS`` of them, ALL-CAPS words aside) are capitalised, and at
# least TITLE_ORDINARY of those are usually written in lower case. Short function words are often
# left lower case ("Police Clash with Protesters in Portland"). Judged on the text's first
# TITLE_SAMPLE_CHARS characters: the check runs on every article.
TITLE_ABOVE = 0.9
TITLE_ORDINARY = 0.4
TITLE_SAMPLE_CHARS = 1000
_TITLE_WORD_LEN = 4
_TITLE_MIN_WORDS = 3
CAPITALISE_UNSEEN = True
# A word is re-cased only when its usual form makes at least this share of its occurrences (and it
# was seen this often): "world" is often part of a name ("World Cup") but is not a name.
MIN_SHARE = 0.9
MIN_COUNT = 1
_TOKEN = re.compile(r"[^\W\d_](?:[\w'’.-]{0,60}\w)?")
_SENTENCE_END = re.compile(r"[.!?]\s*$")


class TruecaseTableError(ModelMissingError):
    """The case table is missing or unreadable."""


class CaseTable(NamedTuple):
    """Usual written forms: of single words (only where not all lower case), and of word pairs
    (``"new york"``, only where the pair's form differs from its words' own forms)."""

    forms: dict[str, str]
    pairs: dict[str, str]
    seen: frozenset[str]


def holds(count: int, total: int) -> bool:
    """Whether a word's usual form (seen ``count`` of its ``total`` times) is the one to write."""
    return count >= MIN_SHARE * total and total >= MIN_COUNT


@lru_cache(maxsize=1)
def _table() -> CaseTable:
    """The case table: lines ``word``, or ``word<TAB>form<TAB>count of form<TAB>count of word``; a
    ``word`` holding a space is a pair."""
    if not TABLE.is_file():
        raise TruecaseTableError(f"case table not found at {TABLE} (reinstall newsflow)")
    forms: dict[str, str] = {}
    pairs: dict[str, str] = {}
    seen: set[str] = set()
    with gzip.open(TABLE, "rt", encoding="utf-8") as f:
        for line in f:
            word, *rest = line.rstrip("\n").split("\t")
            if " " in word:
                pairs[word] = rest[0]
                continue
            seen.add(word)
            if rest and holds(int(rest[1]), int(rest[2])):
                forms[word] = rest[0]
    register("entities", "truecase", TABLE)
    return CaseTable(forms, pairs, frozenset(seen))


def headline_words(text: str) -> list[str] | None:
    """The capitalised longer words of ``text`` when nearly every longer word that is not ALL CAPS
    is capitalised ("Police Clash With Protesters In Portland"), else ``None``."""
    long = [w for w in _TOKEN.findall(text) if len(w) >= _TITLE_WORD_LEN and not w.isupper()]
    if len(long) < _TITLE_MIN_WORDS:
        return None
    capitalised = [w for w in long if w[:1].isupper()]
    return capitalised if len(capitalised) >= TITLE_ABOVE * len(long) else None


def _is_title(text: str) -> bool:
    """Headline style: ``headline_words`` and many of them words usually written in lower case; a
    results table or a list of names is capitalised too, but its words are names."""
    words = headline_words(text[:TITLE_SAMPLE_CHARS])
    if words is None:
        return False
    table = _table()
    ordinary = sum(w.lower() in table.seen and w.lower() not in table.forms for w in words)
    return ordinary >= TITLE_ORDINARY * len(words)


def case_of(text: str) -> str:
    """ "lower", "upper" or "mixed" (too few letters to tell: "mixed")."""
    letters = sum(map(str.isalpha, text))
    upper = sum(map(str.isupper, text))
    if letters < _MIN_LETTERS:
        return "mixed"
    share = upper / letters
    return "lower" if share < LOWER_BELOW else "upper" if share > UPPER_ABOVE else "mixed"


def truecase(text: str) -> str:
    """``text`` re-cased when it is all lower, ALL CAPS or headline style (else unchanged); same
    length, same offsets."""
    if case_of(text) != "mixed":
        return _recase(text, keep_acronyms=False)
    return _recase(text, keep_acronyms=True) if _is_title(text) else text


def _recase(text: str, keep_acronyms: bool) -> str:
    """Every word of ``text`` in its usual form (``keep_acronyms``: ALL-CAPS words and initials stay
    as written, as in a Title Case headline they are acronyms and names)."""
    table = _table()
    out: list[str] = []
    pos = 0
    start_of_sentence = True
    prev = ""
    prev_at = -1  # index in ``out`` of the previous word's form
    for m in _TOKEN.finditer(text):
        s, e = m.span()
        gap = text[pos:s]
        out.append(gap)
        # A full stop after "u.s" or an initial ("j.") does not end a sentence.
        if "\n" in gap or (_SENTENCE_END.search(gap) and len(prev) > 1 and "." not in prev):
            start_of_sentence = True
        word = m.group(0).lower()
        if keep_acronyms and m.group(0).isupper():
            out.append(m.group(0))
            prev_at, start_of_sentence, prev, pos = -1, False, word, e
            continue
        form = table.forms.get(word)
        if form is None:
            form = word if (word in table.seen or not CAPITALISE_UNSEEN) else word[:1].upper() + word[1:]
        if start_of_sentence:
            form = form[:1].upper() + form[1:]
        pair = table.pairs.get(f"{prev} {word}") if gap == " " and prev_at >= 0 else None
        if pair is not None:
            first, second = pair.split(" ", 1)
            if len(first) == len(out[prev_at]) and len(second) == len(form):
                if out[prev_at][:1].isupper():  # a sentence start stays capitalised
                    first = first[:1].upper() + first[1:]
                out[prev_at] = first
                form = second
        out.append(form if len(form) == e - s else m.group(0))
        prev_at = len(out) - 1 if len(form) == e - s else -1
        start_of_sentence = False
        prev = word
        pos = e
    out.append(text[pos:])
    return "".join(out)
