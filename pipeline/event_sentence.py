"""The sentence of an article that reports its event: the one with the most event words.

Shared by event location (the place that sentence names is the event's place) and the classify
stage (the event head also reads that sentence when it lies beyond the lead it reads first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
# Event words the lead sentence counts extra: news reports the event first, and a later sentence
# with one more event word is usually background ("arrested for covering a demonstration").
LEAD_BONUS = 1

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])|\n+")


def _trie_pattern(words: list[str]) -> str:
    """One regular expression for many words, factored by common prefix ("attack|assault" ->
    "a(?:ttack|ssault)"): the engine then tries one branch per letter instead of every word."""
    tree: dict[str, dict] = {}
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # A stem that is a prefix of a longer one matches as it is ("shot" and "shoot").
        return f"(?:{body})?" if ends else body

    return build(tree)


@lru_cache(maxsize=1)
def _triggers() -> re.Pattern[str]:
    """The event-word stems of ``pipeline/data/event_triggers.txt`` as one prefix-factored pattern
    (a word counts when it starts with a stem)."""
    words = [w.strip().lower() for w in (DATA_DIR / "event_triggers.txt").read_text(encoding="utf-8").splitlines()]
    stems = sorted({w for w in words if w and not w.startswith("#")})
    return re.compile(r"\b" + _trie_pattern(stems), re.IGNORECASE)


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of the sentences of ``text``, in order."""
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        yield pos, m.start()
        pos = m.end()
    yield pos, len(text)


def event_words(text: str, span: tuple[int, int]) -> int:
    """How many event words ``text[span[0]:span[1]]`` holds."""
    return len(_triggers().findall(text, span[0], span[1]))


@lru_cache(maxsize=64)  # the classify stage and event location ask for the same article's
def event_sentence(text: str) -> tuple[int, int] | None:
    """Character span of the sentence that reports the event: the one with the most event words
    (attack, killed, protest, shelled...), the lead counting ``LEAD_BONUS`` more when it has any, the
    earliest on a tie; None when no sentence has one."""
    best: tuple[int, int] | None = None
    best_n = 0
    for i, (start, end) in enumerate(sentence_spans(text)):
        n = event_words(text, (start, end))
        if i == 0 and n:
            n += LEAD_BONUS
        if n > best_n:
            best, best_n = (start, end), n
    return best
