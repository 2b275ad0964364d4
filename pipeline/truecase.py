"""Case restoration for all-lower-case and ALL-CAPS text, so the case-trained tagger can read it.

Some feeds and archives deliver a whole article in one case (wire flashes, old archives, scraped
mobile pages). A tagger trained on newswire leans on capital letters; given such text it finds a
fraction of the entities. Before tagging, a text whose letters are almost all one case is
re-cased word by word: each word takes the form it most often has in newswire text
(``pipeline/models/truecase.tsv.gz``, counted on CoNLL-2003 eng.train by
``python -m evals.train_ner --truecase``; "reuters" -> "Reuters", "u.s." -> "U.S."), a word
never seen there is capitalised (in news, a word missing from a 200,000-word newswire sample is
most often a name), and every line and sentence starts with a capital. Only the case of letters
changes and only where that keeps the length, so every offset into the re-cased text is an
offset into the original.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

from pipeline.model_registry import ModelMissingError, register

TABLE = Path(__file__).resolve().parent / "models" / "truecase.tsv.gz"
# Share of upper-case letters below which a text is read as all lower case, above which as ALL CAPS.
LOWER_BELOW = 0.02
UPPER_ABOVE = 0.80
_MIN_LETTERS = 20
CAPITALISE_UNSEEN = False
# A word is re-cased only when its usual form makes at least this share of its occurrences (and it
# was seen this often): "world" is often part of a name ("World Cup") but is not a name.
MIN_SHARE = 0.9
MIN_COUNT = 1
_TOKEN = re.compile(r"[^\W\d_](?:[\w'’.-]{0,60}\w)?")
_SENTENCE_END = re.compile(r"[.!?]\s*$")


class TruecaseTableError(ModelMissingError):
    """The case table is missing or unreadable."""


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, str], frozenset[str]]:
    """(lower-case word -> usual form when that is not all lower case, every word seen)."""
    if not TABLE.is_file():
        raise TruecaseTableError(f"case table not found at {TABLE} (reinstall newsflow)")
    forms: dict[str, str] = {}
    seen: set[str] = set()
    with gzip.open(TABLE, "rt", encoding="utf-8") as f:
        for line in f:
            word, *rest = line.rstrip("\n").split("\t")
            seen.add(word)
            if rest and int(rest[1]) >= MIN_SHARE * int(rest[2]) and int(rest[2]) >= MIN_COUNT:
                forms[word] = rest[0]
    register("entities", "truecase", TABLE)
    return forms, frozenset(seen)


def case_of(text: str) -> str:
    """ "lower", "upper" or "mixed" (too few letters to tell: "mixed")."""
    letters = upper = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            upper += ch.isupper()
    if letters < _MIN_LETTERS:
        return "mixed"
    share = upper / letters
    return "lower" if share < LOWER_BELOW else "upper" if share > UPPER_ABOVE else "mixed"


def truecase(text: str) -> str:
    """``text`` re-cased when it is all lower or ALL CAPS (else unchanged); same length, same offsets."""
    if case_of(text) == "mixed":
        return text
    forms, seen = _table()
    out: list[str] = []
    pos = 0
    start_of_sentence = True
    prev = ""
    for m in _TOKEN.finditer(text):
        s, e = m.span()
        gap = text[pos:s]
        out.append(gap)
        # A full stop after "u.s" or an initial ("j.") does not end a sentence.
        if "\n" in gap or (_SENTENCE_END.search(gap) and len(prev) > 1 and "." not in prev):
            start_of_sentence = True
        word = m.group(0).lower()
        form = forms.get(word)
        if form is None:
            form = word if (word in seen or not CAPITALISE_UNSEEN) else word[:1].upper() + word[1:]
        if start_of_sentence:
            form = form[:1].upper() + form[1:]
        out.append(form if len(form) == e - s else m.group(0))
        start_of_sentence = False
        prev = word
        pos = e
    out.append(text[pos:])
    return "".join(out)
