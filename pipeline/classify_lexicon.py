"""Hand-written seed lexicon for the IPTC subjects no labelled data here covers.

The learned category head knows the subjects that some labelled source files (BBC News, the
topic dev sources, ACLED and CASE for ``conflict_war_peace``). Disaster, labour and weather have
no labelled source, so term lists (``pipeline/data/classify_lexicon.json``, written by hand from
the IPTC Media Topics scope notes, not learned) make them reachable. There is no labelled data
to measure their recall: treat a lexicon-routed label as a best effort. What *is* measured is the
damage they do: the topic accuracy in ``evals.classify`` runs with the lexicon switched on, so
every labelled item the lexicon steals counts as an error.

Terms are matched against ``classify_features.analyze`` output (lower-case unigrams and bigrams
after stop-word removal), so a bigram must be two non-stop-words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from pipeline.model_registry import register

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "classify_lexicon.json"

# Lexicon routing policy (see ``pipeline.classify`` docstring). A subject enters the ranking only
# when at least MIN_DISTINCT different terms of it occur; its weight is then its hit density
# (hits per 100 tokens) divided by DENSITY_SCALE, and it competes with the model's probabilities,
# which sum to 1; a lexicon subject wins when its weight exceeds the model's top probability.
MIN_DISTINCT = 4
DENSITY_SCALE = 10.0
REF_IDF = 6.0


@lru_cache(maxsize=1)
def lexicon() -> dict[str, tuple[str, ...]]:
    """Subject -> terms, read once from the packaged data file."""
    register("classify", "classify_lexicon", LEXICON_PATH)
    with open(LEXICON_PATH, encoding="utf-8") as fh:
        raw: dict[str, list[str]] = json.load(fh)
    return {k: tuple(v) for k, v in raw.items()}


@lru_cache(maxsize=1)
def _term_class() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cat, terms in lexicon().items():
        for t in terms:
            out.setdefault(t, []).append(cat)
    return out


def lexicon_weights(counts: Mapping[str, int], n_tokens: int, idf: Callable[[str], float]) -> dict[str, float]:
    """Weights of lexicon subjects with enough evidence in ``counts`` (n-gram -> count).

    Each hit counts with the term's inverse document frequency in the model's training corpus,
    relative to ``REF_IDF``: a term common in the learned subjects ("workers" in business news) is
    weak evidence for a lexicon subject, a rare one ("earthquake") strong evidence.
    """
    term_class = _term_class()
    hits: dict[str, float] = {}
    distinct: dict[str, set[str]] = {}
    for g, n_g in counts.items():
        cats = term_class.get(g)
        if cats:
            w = n_g * idf(g) / REF_IDF
            for c in cats:
                hits[c] = hits.get(c, 0.0) + w
                distinct.setdefault(c, set()).add(g)
    out: dict[str, float] = {}
    n = max(n_tokens, 50)
    for c, terms in distinct.items():
        if len(terms) >= MIN_DISTINCT:
            out[c] = (100.0 * hits[c] / n) / DENSITY_SCALE
    return out
