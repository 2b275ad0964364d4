"""Retrain the classify model: ``python -m evals.train_classify`` (data: ``--data DIR``, default ../shared/data).

Reads every labelled source in the dev data (``evals.classify_data``: BBC News, ACLED notes, the
four topic sources, the three event sources) from wherever the user points, fits the heads described
in ``pipeline.classify`` and writes plain numpy arrays to ``pipeline/models/classify_model.npz``
(or ``--out``). The data itself is never copied into the repo.

Why the training set looks the way it does:

* Topic heads learn a source's style when each subject comes from one source (BBC-only business
  vs ACLED-only conflict made every short wire item "conflict"). Every source that labels a
  subject contributes, each source's weight is damped (``SOURCE_POWER``) so the 20,000 HuffPost
  headlines do not drown the 1,300 BBC articles, and subjects are class-balanced.
* Users send headlines and one-paragraph items as well as full articles, so each long article is
  also trained as a title-only crop and a title + lead-sentence crop (same label, same CV group).
* The event head learns ``none`` from every clean negative there is (BBC, topic sources except
  crime, CASE's non-ACLED codes, GLOCON's clean negatives) and the event types from ACLED notes,
  CASE snippets and the reviewed GLOCON / RAMS events; weak negatives are left out.
* The encoder heads (``pipeline.sentence_encoder``) learn from every item and crop, long ones
  truncated to their title and lead as the encoder reads them; the pipeline consults them on short
  items only.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from evals import DATA
from evals.classify_data import Doc, load_all
from pipeline.classify import MODEL_PATH, NO_EVENT, ClassifyModel
from pipeline.classify_features import category_text, event_text, gram_id, ngrams, tokens
from pipeline.id_lookup import find_sorted
from pipeline.sentence_encoder import Encoder, SentenceEncoder, encoder_text
from pipeline.word_vectors import WordVectors

MIN_DF = 2
MAX_FEATURES = 150_000  # most frequent ids kept; more buys nothing measurable and costs fit time
C_CAT, C_EV, C_SUB = 10.0, 10.0, 10.0
# Word-vector heads (``pipeline.word_vectors``): their own C, and the weight of their
# log-probabilities next to the TF-IDF head's; chosen on topic leave-one-source-out (README).
C_VEC = 10.0
BETA_CAT, BETA_EV = 0.6, 0.3
VEC_ITER = 300
# Encoder heads: C and weights chosen on 3-fold CV and topic / event leave-one-source-out (README).
C_ENC = 1.0
GAMMA_CAT, GAMMA_EV = 1.0, 0.6
SOURCE_POWER = 0.5  # a source of n items weighs n ** SOURCE_POWER in total
CROP_MIN_WORDS = 60
# Crime stories in the topic sources may report ACLED-codable violence; they are not negatives.
NOT_NEGATIVE_TOPICS = {"crime_law_justice"}
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def crops(d: Doc) -> list[tuple[str | None, str]]:
    """The article itself, and for long titled articles its title alone and title + lead sentence."""
    out: list[tuple[str | None, str]] = [(d.title, d.text)]
    if d.title and len(d.text.split()) >= CROP_MIN_WORDS:
        out.append((d.title, ""))
        first = _SENT.split(d.text.strip(), maxsplit=1)[0]
        out.append((d.title, first))
    return out


def _source_weights(docs: Sequence[Doc]) -> dict[str, float]:
    n = Counter(d.source for d in docs)
    return {s: (c**SOURCE_POWER) / c for s, c in n.items()}


def _balanced(y: Sequence[str], w: np.ndarray) -> np.ndarray:
    tot: dict[str, float] = {}
    for lab, wi in zip(y, w, strict=True):
        tot[lab] = tot.get(lab, 0.0) + float(wi)
    mean = sum(tot.values()) / len(tot)
    out = np.array([wi * mean / tot[lab] for lab, wi in zip(y, w, strict=True)])
    return out * (len(out) / out.sum())


_CACHE: dict[tuple[str, str | None, str], tuple[np.ndarray, np.ndarray]] = {}


def hashed(kind: str, title: str | None, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(sorted n-gram ids, counts) of one head's view of an item, memoised across refits."""
    key = (kind, title, text)
    hit = _CACHE.get(key)
    if hit is None:
        view = category_text(title, text) if kind == "cat" else event_text(title, text)
        ids = np.fromiter((gram_id(g) for g in ngrams(tokens(view))), dtype=np.int64)
        hit = _CACHE[key] = np.unique(ids, return_counts=True)
    return hit


class Vectorizer:
    """TF-IDF over n-gram ids (the same arithmetic as ``ClassifyModel._features``), vocabulary =
    ids in at least ``MIN_DF`` training items."""

    def __init__(self, ids: np.ndarray, idf: np.ndarray):
        self.ids, self.idf = ids.astype(np.int64), idf.astype(np.float32)

    @classmethod
    def fit(cls, items: Sequence[tuple[np.ndarray, np.ndarray]]) -> Vectorizer:
        all_ids = np.concatenate([i for i, _ in items])
        uniq, df = np.unique(all_ids, return_counts=True)
        keep = df >= MIN_DF
        if keep.sum() > MAX_FEATURES:
            keep &= df >= np.sort(df[keep])[-MAX_FEATURES]
        return cls(uniq[keep], np.log((1 + len(items)) / (1 + df[keep])) + 1.0)

    def transform(self, items: Sequence[tuple[np.ndarray, np.ndarray]]) -> sp.csr_matrix:
        indptr = [0]
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for ids, counts in items:
            pos, ok = find_sorted(self.ids, ids)
            c, n = pos[ok], counts[ok]
            v = (1.0 + np.log(n.astype(np.float32))) * self.idf[c]
            norm = float(np.sqrt(v @ v))
            cols.append(c)
            vals.append(v / norm if norm > 0 else v)
            indptr.append(indptr[-1] + len(c))
        return sp.csr_matrix(
            (np.concatenate(vals) if vals else np.zeros(0), np.concatenate(cols) if cols else np.zeros(0, int), indptr),
            shape=(len(items), len(self.ids)),
            dtype=np.float32,
        )


def _logreg(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=40, tol=1e-3)


def _weights(clf: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    w, b = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # sklearn keeps one row for two classes; the softmax wants both
        w, b = np.vstack([-w[0] / 2, w[0] / 2]), np.array([-b[0] / 2, b[0] / 2])
    return w.T, b


def _export_head(prefix: str, clf: LogisticRegression, out: dict[str, np.ndarray]) -> None:
    w, b = _weights(clf)
    out[f"{prefix}_classes"] = np.array([str(c) for c in clf.classes_])
    out[f"{prefix}_W"] = w.astype(np.float16)
    out[f"{prefix}_b"] = b.astype(np.float32)


def _export_vector_head(
    prefix: str,
    items: Sequence[tuple[np.ndarray, np.ndarray]],
    y: Sequence[str],
    weight: np.ndarray,
    vec: Vectorizer,
    vectors: WordVectors,
    beta: float,
    out: dict[str, np.ndarray],
) -> None:
    """Fit a logistic head on the word-vector means of ``items``; its classes must match the TF-IDF head's."""
    x = np.stack([vectors.embed(ids, counts.astype(np.float32), vec.ids, vec.idf) for ids, counts in items])
    _export_side_head(prefix, "V", "beta", beta, LogisticRegression(C=C_VEC, max_iter=VEC_ITER).fit(x, y, weight), out)


def _export_side_head(
    prefix: str, key: str, name: str, weight: float, clf: LogisticRegression, out: dict[str, np.ndarray]
) -> None:
    """Store a head beside the TF-IDF one (``pipeline.classify._side_heads`` reads it back); its
    classes must match the TF-IDF head's."""
    if [str(c) for c in clf.classes_] != out[f"{prefix}_classes"].tolist():
        raise ValueError(f"{prefix}_{key}: head classes differ from the TF-IDF head's")
    w, b = _weights(clf)
    out[f"{prefix}_{key}W"] = w.astype(np.float16)
    out[f"{prefix}_{key}b"] = b.astype(np.float32)
    out[f"{prefix}_{name}"] = np.array(weight, dtype=np.float32)


class CachedEncoder:
    """An encoder that remembers every text it encoded: cross-validation refits the heads a dozen
    times on the same items, and the encoder is the slow part."""

    def __init__(self, inner: Encoder):
        self.inner = inner
        self.memo: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, self.inner.encode(missing), strict=True))
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)


def _export_encoder_head(
    prefix: str, x: np.ndarray, y: Sequence[str], weight: np.ndarray, gamma: float, out: dict[str, np.ndarray]
) -> None:
    """Fit a logistic head on the encoder's vectors ``x``."""
    _export_side_head(
        prefix, "E", "gamma", gamma, LogisticRegression(C=C_ENC, max_iter=VEC_ITER).fit(x, y, weight), out
    )


def fit(
    docs: Sequence[Doc], vectors: WordVectors | None = None, verbose: bool = False, encoder: Encoder | None = None
) -> dict[str, np.ndarray]:
    """Fit all heads on ``docs``; return the arrays ``pipeline.classify.ClassifyModel`` runs on.
    Without ``vectors`` the model has no word-vector heads, without ``encoder`` no encoder heads."""
    sw = _source_weights(docs)
    cat_x: list[tuple[np.ndarray, np.ndarray]] = []
    cat_y: list[str] = []
    cat_w: list[float] = []
    cat_t: list[str] = []
    for d in docs:
        if d.topic is None:
            continue
        cs = crops(d)
        for title, text in cs:
            cat_t.append(encoder_text(title, text))
            cat_x.append(hashed("cat", title, text))
            cat_y.append(d.topic)
            cat_w.append(sw[d.source] / len(cs))
    ev_x: list[tuple[np.ndarray, np.ndarray]] = []
    ev_y: list[str] = []
    ev_w: list[float] = []
    ev_t: list[str] = []
    sub_i: list[int] = []
    sub_y: list[str] = []
    pairs: set[str] = set()
    for d in docs:
        if d.event is None or (d.event == NO_EVENT and d.topic in NOT_NEGATIVE_TOPICS):
            continue
        if d.event != NO_EVENT and d.sub:
            sub_i.append(len(ev_x))
            sub_y.append(d.sub)
            pairs.add(f"{d.event}\t{d.sub}")
        ev_t.append(encoder_text(d.title, d.text))
        ev_x.append(hashed("ev", d.title, d.text))
        ev_y.append(d.event)
        ev_w.append(sw[d.source])

    t0 = time.perf_counter()
    vec = Vectorizer.fit(cat_x + ev_x)
    out: dict[str, np.ndarray] = {"ids": vec.ids.astype(np.uint32), "idf": vec.idf}
    x_cat = vec.transform(cat_x)
    w_cat = _balanced(cat_y, np.array(cat_w))
    _export_head("cat", _logreg(C_CAT).fit(x_cat, cat_y, sample_weight=w_cat), out)
    x_ev = vec.transform(ev_x)
    w_ev = _balanced(ev_y, np.array(ev_w))
    _export_head("ev", _logreg(C_EV).fit(x_ev, ev_y, sample_weight=w_ev), out)
    if vectors is not None:
        _export_vector_head("cat", cat_x, cat_y, w_cat, vec, vectors, BETA_CAT, out)
        _export_vector_head("ev", ev_x, ev_y, w_ev, vec, vectors, BETA_EV, out)
    if encoder is not None:
        texts = list(dict.fromkeys(cat_t + ev_t))  # an article is both a topic and an event item
        row = {t: i for i, t in enumerate(texts)}
        encoded = encoder.encode(texts)
        _export_encoder_head("cat", encoded[[row[t] for t in cat_t]], cat_y, w_cat, GAMMA_CAT, out)
        _export_encoder_head("ev", encoded[[row[t] for t in ev_t]], ev_y, w_ev, GAMMA_EV, out)
    _export_head(
        "sub", _logreg(C_SUB).fit(x_ev[sub_i], sub_y, sample_weight=_balanced(sub_y, np.ones(len(sub_y)))), out
    )
    out["sub_pairs"] = np.array(sorted(pairs))
    if verbose:
        print(
            f"  fit: {len(cat_y)} topic items, {len(ev_y)} event items, {len(sub_y)} sub-typed, "
            f"{len(vec.ids)} features, {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    return out


@lru_cache(maxsize=1)
def word_vectors() -> WordVectors:
    return WordVectors.load()


@lru_cache(maxsize=1)
def cached_encoder() -> CachedEncoder:
    return CachedEncoder(SentenceEncoder())


def train_model(docs: Sequence[Doc]) -> ClassifyModel:
    """A model fitted on ``docs`` with the packaged word vectors and encoder, ready to classify
    (for evaluations; the encoder remembers its texts across refits)."""
    enc = cached_encoder()
    return ClassifyModel(fit(docs, word_vectors(), encoder=enc), word_vectors(), encoder=enc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--threads", type=int, default=2, help="encoder threads (training only)")
    args = ap.parse_args(argv)
    docs = load_all(args.data)
    if not docs:
        print(f"no data under {args.data}", file=sys.stderr)
        return 1
    arrays = fit(docs, word_vectors(), verbose=True, encoder=SentenceEncoder(threads=args.threads))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"{len(docs)} items, {len(arrays['ids'])} features -> {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
