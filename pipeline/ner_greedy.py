"""Greedy decoding of spaCy's transition-based NER in numpy: the decisions of spaCy's own loop,
several times faster.

spaCy's NER (``TransitionBasedParser.v2``, ``state_type = "ner"``, greedy, no extra state tokens)
scores a token's moves from three precomputed feature rows: the token itself, the open entity's
first token and the token before (both padding when no entity is open), summed with a bias, a
maxout, then a linear layer. Its Cython loop steps the documents one token at a time and scores
every move of every document at each step, which makes it the costly part of tagging. Outside an
entity the features do not depend on earlier decisions, so here the scores of all tokens are
computed at once; the first token after an entity opens is scored at once too; only tokens deeper
inside an entity are scored one by one.

The moves and their validity are those of ``spacy/pipeline/_parser_internals/ner.pyx`` for
documents without preset entities: ``B-x`` needs a following token that does not start a sentence
and is not itself a space token, ``U-x`` a token that is not a space, ``I-x`` a following token
that does not start a sentence; ``O``, ``B`` and ``U`` only outside an entity, ``I`` and ``L`` only
inside one of the same label. Among the valid moves the first highest score wins, as in spaCy.
The scores are the same numbers up to the order of float additions in the last matrix product;
``tests/test_ner_greedy.py`` checks the entities are spaCy's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# A token's character span and label: (start_char, end_char, label).
CharSpan = tuple[int, int, str]


class UnsupportedNerModel(ValueError):
    """The NER component is not one this decoder reproduces (see ``decoder_for``)."""


@dataclass(frozen=True)
class GreedyNer:
    """What decoding needs from one spaCy ``ner`` component."""

    tok2vec: Any  # thinc model: docs -> token vectors (n_tokens, width)
    lower: Any  # PrecomputableAffine: token vectors -> (1 + n_tokens, 3, hidden, pieces), row 0 padding
    bias: np.ndarray  # (hidden, pieces)
    weights: np.ndarray  # (classes, hidden)
    out_bias: np.ndarray  # (classes,)
    labels: tuple[str, ...]
    begin: np.ndarray  # class index of B-<label>, per label
    inside: tuple[int, ...]
    last: tuple[int, ...]
    unit: np.ndarray
    out: int
    opening: dict[int, tuple[str, int]]  # class index of each B and U move -> ("B" or "U", label)


def decoder_for(ner: Any) -> GreedyNer:
    """The decoder of a loaded spaCy ``ner`` component; ``UnsupportedNerModel`` when its parser is
    not the greedy, three-feature, maxout kind this module reproduces."""
    model = ner.model
    lower = model.get_ref("lower")
    if ner.cfg.get("beam_width", 1) != 1:
        raise UnsupportedNerModel("beam search NER is not supported")
    if not model.attrs.get("has_upper") or lower.get_dim("nF") != 3 or lower.get_dim("nP") < 2:
        raise UnsupportedNerModel("NER parser must have 3 state features, maxout pieces and an output layer")
    if model.attrs.get("unseen_classes"):
        raise UnsupportedNerModel("NER model has unseen classes")
    names = [ner.moves.get_class_name(i) for i in range(ner.moves.n_moves)]
    labels = tuple(sorted({n[2:] for n in names if n.startswith("B-")}))
    index = {n: i for i, n in enumerate(names)}
    try:
        moves = {m: np.array([index[f"{m}-{lab}"] for lab in labels]) for m in "BILU"}
        out = index["O"]
    except KeyError as exc:
        raise UnsupportedNerModel(f"NER moves lack {exc}") from exc
    upper = model.get_ref("upper")
    return GreedyNer(
        tok2vec=model.get_ref("tok2vec"),
        lower=lower,
        bias=np.asarray(lower.get_param("b"), dtype=np.float32),
        weights=np.asarray(upper.get_param("W"), dtype=np.float32),
        out_bias=np.asarray(upper.get_param("b"), dtype=np.float32),
        labels=labels,
        begin=moves["B"],
        inside=tuple(moves["I"].tolist()),
        last=tuple(moves["L"].tolist()),
        unit=moves["U"],
        out=out,
        opening={int(c): (m, k) for m in "BU" for k, c in enumerate(moves[m])},
    )


def _scores(dec: GreedyNer, unmaxed: np.ndarray) -> np.ndarray:
    """Move scores from summed features (..., hidden, pieces), bias already added."""
    return _maxout(unmaxed) @ dec.weights.T + dec.out_bias


def scores_at(dec: GreedyNer, feats: np.ndarray, pad: np.ndarray, i: int, start: int | None) -> np.ndarray:
    """Move scores at token ``i`` of a document (``feats`` its rows of the feature table), with an
    entity open since token ``start`` or, for ``None``, none open."""
    if start is None:
        u = feats[i, 0] + pad[1]
        u += pad[2]
    else:
        u = feats[i, 0] + feats[start, 1]
        u += feats[i - 1, 2]
    u += dec.bias
    result: np.ndarray = _scores(dec, u)
    return result


def _maxout(unmaxed: np.ndarray) -> np.ndarray:
    """Largest piece per hidden unit: ``max(axis=-1)`` over the short pieces axis, done piece by
    piece (numpy's reduction over a short last axis is several times slower)."""
    out = unmaxed[..., 0].copy()
    for p in range(1, unmaxed.shape[-1]):
        np.maximum(out, unmaxed[..., p], out=out)
    return out


def _decode_doc(
    dec: GreedyNer, feats: np.ndarray, pad: np.ndarray, space: np.ndarray, starts: np.ndarray
) -> list[tuple[int, int, int]]:
    """Token spans (start, end, label index) of one document; ``feats`` (n, 3, hidden, pieces)."""
    n = len(feats)
    if n == 0:
        return []
    # Outside an entity: features (token, padding, padding).
    closed = feats[:, 0] + pad[1]
    closed += pad[2]
    closed += dec.bias
    scores = _scores(dec, closed)
    # Which moves are valid outside an entity, token by token (O always).
    can_unit = ~space
    can_begin = can_unit.copy()
    can_begin[-1] = False
    can_begin[:-1] &= starts[1:] != 1
    masked = np.full_like(scores, -np.inf)
    masked[:, dec.out] = scores[:, dec.out]
    masked[np.ix_(can_unit, dec.unit)] = scores[np.ix_(can_unit, dec.unit)]
    masked[np.ix_(can_begin, dec.begin)] = scores[np.ix_(can_begin, dec.begin)]
    choice = masked.argmax(axis=1)
    # Inside an entity opened at the token before: features (token, token before, token before).
    if n > 1:
        second = feats[1:, 0] + feats[:-1, 1]
        second += feats[:-1, 2]
        second += dec.bias
        second_scores = _scores(dec, second)
    can_continue = np.zeros(n, dtype=bool)
    can_continue[:-1] = starts[1:] != 1
    cont = can_continue.tolist()
    inside, last = dec.inside, dec.last
    ents: list[tuple[int, int, int]] = []
    i = 0  # the next token to decide; tokens between candidates are O
    opens = np.flatnonzero(choice != dec.out)
    for j, move in zip(opens.tolist(), choice[opens].tolist(), strict=True):
        if j < i:  # inside the entity just decoded
            continue
        what, label = dec.opening[move]
        if what == "U":
            ents.append((j, j + 1, label))
            i = j + 1
            continue
        start, i = j, j + 1
        while True:
            if not cont[i]:
                closes = True
            elif i == start + 1:
                closes = bool(second_scores[start, last[label]] > second_scores[start, inside[label]])
            else:
                scores_here = scores_at(dec, feats, pad, i, start)
                closes = bool(scores_here[last[label]] > scores_here[inside[label]])  # a tie: I
            i += 1
            if closes:
                ents.append((start, i, label))
                break
    return ents


def feature_table(dec: GreedyNer, docs: Sequence[Any]) -> np.ndarray:
    """The precomputed features of the documents' tokens, one after the other, (1 + tokens, 3,
    hidden, pieces); row 0 is the padding that stands for "no such token"."""
    vectors = dec.tok2vec.predict(list(docs))
    return np.asarray(dec.lower.predict(vectors), dtype=np.float32)


def decode(dec: GreedyNer, docs: Sequence[Any]) -> list[list[CharSpan]]:
    """Entities of each document (tokenised, with ``doc.tensor`` set when the NER listens to a
    shared ``tok2vec``), as character spans."""
    if not docs:
        return []
    table = feature_table(dec, docs)
    pad = table[0]
    out: list[list[CharSpan]] = []
    offset = 1
    for doc in docs:
        n = len(doc)
        arr = doc.to_array(["IS_SPACE", "SENT_START"])  # (n, 2), also for an empty doc
        spans = _decode_doc(dec, table[offset : offset + n], pad, arr[:, 0].astype(bool), arr[:, 1].astype(np.int64))
        offset += n
        out.append([(doc[s].idx, doc[e - 1].idx + len(doc[e - 1]), dec.labels[lab]) for s, e, lab in spans])
    return out
