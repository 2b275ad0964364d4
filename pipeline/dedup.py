"""Dedup stage: exact and near-duplicate detection over bounded, JSON-able state.

How it decides
--------------
1. **Replay.** An article id already in ``seen`` is a ``duplicate`` of its cluster's first article
   (for an article that started its cluster: of its own first copy), similarity 1.0.
2. **Exact.** ``blake2b`` (128 bit) of the normalised text: NFKC, lower case, ``\\w+`` words joined by
   single spaces. Markup, punctuation and whitespace changes therefore still hash equal.
3. **Near.** MinHash (datasketch, ``affine32`` scheme, 128 permutations, seed 1) over the set of
   word *k*-shingles, then LSH banding for candidates, then *verification* of every candidate with
   the full signature:

   * estimated Jaccard ``J`` (fraction of equal MinHash slots), and
   * estimated containment of the smaller shingle set in the larger,
     ``C = J/(1+J) * (n_a+n_b) / min(n_a, n_b)`` (from the two set sizes, stored with the entry).

   A candidate is a near duplicate when ``J >= jaccard_threshold`` or
   (``C >= containment_threshold`` and ``J >= min_jaccard``). Containment is what catches the
   "cut to the first paragraphs" and "boilerplate added" variants whose Jaccard is low only
   because one text is much longer; ``min_jaccard`` keeps a short text from being swallowed by a
   long one on the strength of two or three shared phrases. The best-scoring candidate wins and the
   new article joins *its* cluster (``duplicate_of`` = that cluster's earliest article).

Parameters and why (see ``DedupConfig``; tuned with ``python -m evals.dedup``)
----------------------------------------------------------------------------
* ``shingle = 3`` words. Light word edits destroy long shingles (an edit every 10th word keeps
  0.9^5 = 59 % of 5-shingles but 73 % of 3-shingles), and cut/rewritten copies keep more short
  ones. 3-grams do share more stock phrases between distinct same-topic stories, but verification
  has margin: the most similar distinct pair in the syndication set has J 0.22 / containment 0.41.
  On the tuning split 3 beat 4 and 5 on recall at precision 1.0 (``evals.dedup`` grid).
* ``bands x rows = 64 x 2`` over 128 permutations: candidate probability ``1-(1-J^2)^64`` is
  0.98 at J=0.25 and 0.47 at J=0.1, so cut-down copies (low Jaccard, high containment) still
  become candidates. Unrelated articles share almost no shingles, so the extra candidates are few
  and each costs one 128-slot comparison; fewer, wider bands miss most cut variants.
* ``jaccard_threshold = 0.4``, ``containment_threshold = 0.7``, ``min_jaccard = 0.05``: chosen on
  the tuning split (best recall with precision >= 0.995; every grid point kept precision 1.0 there,
  so these are the loosest in the grid: J 0.4-0.5, C 0.7-0.8, min J 0.05-0.1). A 128-slot
  estimate of J has a standard error of ~0.04 near J=0.3, and containment derived from it is
  noisier still when the sizes differ a lot, hence thresholds well below the true values of
  copies (cut copies have true containment ~1.0, edited copies true J 0.45-0.6).
* ``window_seconds = 7 days`` of publication time; ``max_bucket = 50`` ids per band key.

State (three MutableMappings; plain JSON values so Faust tables can hold them)
------------------------------------------------------------------------------
* ``seen[article_id] = {"of": first_id, "c": cluster_id, "t": epoch_s, "n": shingles, "sig": b64}``
  where ``sig`` is the MinHash signature as base64 of little-endian uint32 (see ``Seen``).
* ``exact_index[exact_hash] = {"of": first_id, "c": cluster_id, "t": epoch_s}``
* ``band_index[band_key] = [[article_id, epoch_s], ...]`` oldest first, at most ``max_bucket``.

``t`` is the article's publication time (UTC epoch seconds; wall clock if unknown). Matches are
only made between articles published within ``window_seconds`` of each other; ``decide`` drops
expired ids from every bucket it writes, and ``expire(now, ...)`` deletes everything older than
``now - window`` (run it from a timer in the stream, or after a batch offline). ``state_bytes``
measures the state (README "Quality and speed" has the figure).

``DedupIndex`` holds the three mappings together with the operations on them (``decide``,
``expire`` and ``rebuild``, which recomputes the band buckets from ``seen``): the offline
``Enricher`` gives it dicts, the dedup agent Faust tables.

Cross-partition use: ``fingerprint`` is pure and can run in a parallel stage; ``Fingerprint``
round-trips through ``to_json``/``from_json``; ``band_keys`` gives the keys to route band lookups
by; ``candidates`` + ``verify`` are the two halves of the near-duplicate step.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypedDict

import numpy as np
from datasketch import MinHash

from schemas import Dedup

_WORD = re.compile(r"\w+")
_SCHEME = "affine32"
_SEED = 1


@dataclass(frozen=True)
class DedupConfig:
    """Every knob of the stage; the defaults are the tuned production values."""

    shingle: int = 3
    num_perm: int = 128
    bands: int = 64
    rows: int = 2
    jaccard_threshold: float = 0.4
    containment_threshold: float = 0.7
    min_jaccard: float = 0.05
    window_seconds: int = 7 * 24 * 3600
    max_bucket: int = 50

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError("bands * rows must not exceed num_perm")


DEFAULT = DedupConfig()


class Seen(TypedDict):
    """Value of ``seen[article_id]``: plain JSON."""

    of: str  # earliest-seen article of the cluster
    c: str  # cluster id
    t: int  # publication time, UTC epoch seconds
    n: int  # number of distinct shingles
    sig: str  # base64 of the uint32 MinHash signature


def normalise(text: str) -> list[str]:
    """NFKC, lower-cased word tokens."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _WORD.findall(text)


def shingles(words: Sequence[str], k: int) -> set[str]:
    """Word k-shingles; a text shorter than k words is one shingle."""
    if len(words) <= k:
        return {" ".join(words)}
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> Any:
    return MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME).permutations


def encode_signature(signature: Sequence[int]) -> str:
    return base64.b64encode(np.asarray(signature, dtype="<u4").tobytes()).decode("ascii")


def decode_signature(data: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data), dtype="<u4")


def band_keys(signature: Sequence[int] | np.ndarray, config: DedupConfig = DEFAULT) -> list[str]:
    """LSH band keys ``"NN:hex"`` of a signature: route band lookups/writes by these keys."""
    sig = np.asarray(signature, dtype="<u4")
    r = config.rows
    return [
        f"{i:02d}:" + hashlib.blake2b(sig[i * r : (i + 1) * r].tobytes(), digest_size=8).hexdigest()
        for i in range(config.bands)
    ]


@dataclass(frozen=True)
class Fingerprint:
    """What the dedup stage needs to know about one text."""

    exact: str  # blake2b-128 hex of the normalised text
    signature: tuple[int, ...]  # MinHash, num_perm uint32 values
    bands: tuple[str, ...]  # band_keys(signature)
    size: int = 1  # distinct shingles

    def jaccard(self, other: Fingerprint) -> float:
        return _jaccard(np.asarray(self.signature, dtype=np.uint32), np.asarray(other.signature, np.uint32))

    def to_json(self) -> dict[str, Any]:
        return {"exact": self.exact, "sig": encode_signature(self.signature), "n": self.size}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], config: DedupConfig = DEFAULT) -> Fingerprint:
        sig = tuple(int(x) for x in decode_signature(data["sig"]))
        return cls(exact=data["exact"], signature=sig, bands=tuple(band_keys(sig, config)), size=data["n"])


def fingerprint(text: str, config: DedupConfig = DEFAULT) -> Fingerprint:
    """Pure: exact hash, MinHash signature and LSH band keys of ``text``."""
    words = normalise(text)
    exact = hashlib.blake2b(" ".join(words).encode(), digest_size=16).hexdigest()
    sh = shingles(words, config.shingle)
    mh = MinHash(num_perm=config.num_perm, seed=_SEED, scheme=_SCHEME, permutations=_permutations(config.num_perm))
    mh.update_batch([s.encode() for s in sh])
    sig = tuple(int(x) for x in mh.hashvalues)
    return Fingerprint(exact=exact, signature=sig, bands=tuple(band_keys(sig, config)), size=len(sh))


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


def similarity(jaccard: float, n_a: int, n_b: int) -> tuple[float, float]:
    """(Jaccard, containment of the smaller set in the larger) from an estimated Jaccard and sizes."""
    if jaccard <= 0.0:
        return 0.0, 0.0
    inter = jaccard / (1.0 + jaccard) * (n_a + n_b)
    return jaccard, min(1.0, inter / max(1, min(n_a, n_b)))


def verify(
    fp: Fingerprint, other_sig: np.ndarray | Sequence[int], other_size: int, config: DedupConfig = DEFAULT
) -> float | None:
    """Score of a candidate if it is a near duplicate of ``fp``, else None.

    The score is the estimated Jaccard, or the containment when only containment qualifies.
    """
    j = _jaccard(np.asarray(fp.signature, dtype=np.uint32), np.asarray(other_sig, dtype=np.uint32))
    j, c = similarity(j, fp.size, other_size)
    if j >= config.jaccard_threshold:
        return j
    if j >= config.min_jaccard and c >= config.containment_threshold:
        return c
    return None


def is_near_duplicate(a: Fingerprint, b: Fingerprint, config: DedupConfig = DEFAULT) -> bool:
    """Pairwise decision, index-free: exact match, or shares a band and passes ``verify``."""
    if a.exact == b.exact:
        return True
    if not set(a.bands) & set(b.bands):
        return False
    return verify(a, b.signature, b.size, config) is not None


def to_epoch(published_at: datetime | str | float | int | None) -> int:
    """UTC epoch seconds from a datetime, an ISO 8601 string or a number; naive times are UTC;
    None is the wall clock."""
    if published_at is None:
        return int(time.time())
    if isinstance(published_at, str):
        published_at = datetime.fromisoformat(published_at)
    if isinstance(published_at, datetime):
        if published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=UTC)
        return int(published_at.timestamp())
    return int(published_at)


def candidates(
    fp: Fingerprint, band_index: Mapping[str, list[list[Any]]], t: int, config: DedupConfig = DEFAULT
) -> set[str]:
    """Ids sharing at least one band with ``fp`` and published within the window of ``t``."""
    out: set[str] = set()
    for band in fp.bands:
        for aid, at in band_index.get(band, ()):
            if abs(t - at) <= config.window_seconds:
                out.add(aid)
    return out


def decide(
    article_id: str,
    fp: Fingerprint,
    exact_index: MutableMapping[str, dict[str, Any]],
    band_index: MutableMapping[str, list[list[Any]]],
    seen: MutableMapping[str, Seen],
    *,
    published_at: datetime | str | float | int | None = None,
    config: DedupConfig = DEFAULT,
) -> Dedup:
    """Look the article up, record it, and say what it is a copy of (see the module docstring).

    Reads and writes only the keys of this article: ``seen[article_id]``, ``exact_index[fp.exact]``
    and ``band_index[b]`` for ``b in fp.bands`` (plus ``seen[c]`` reads for candidates ``c``).
    """
    first = seen.get(article_id)
    if first is not None:
        return Dedup(status="duplicate", duplicate_of=first["of"], cluster_id=first["c"], similarity=1.0)
    t = to_epoch(published_at)
    window = config.window_seconds

    result: Dedup | None = None
    hit = exact_index.get(fp.exact)
    if hit is not None and abs(t - hit["t"]) <= window:
        result = Dedup(status="duplicate", duplicate_of=hit["of"], cluster_id=hit["c"], similarity=1.0)
    else:
        best: tuple[tuple[float, int, str], float, Seen] | None = None
        for cid in candidates(fp, band_index, t, config):
            cand = seen.get(cid)
            if cand is None:
                continue
            score = verify(fp, decode_signature(cand["sig"]), cand["n"], config)
            if score is None:
                continue
            # best score; ties go to the earlier article, then the smaller id (deterministic)
            key = (-score, cand["t"], cid)
            if best is None or key < best[0]:
                best = (key, score, cand)
        if best is not None:
            _, score, cand = best
            result = Dedup(
                status="near_duplicate",
                duplicate_of=cand["of"],
                cluster_id=cand["c"],
                similarity=round(min(1.0, score), 4),
            )
    if result is None:
        cluster = f"c_{fp.exact[:16]}"
        result = Dedup(status="unique", duplicate_of=None, cluster_id=cluster, similarity=0.0)
        root = article_id
    else:
        root = result.duplicate_of or article_id
        cluster = result.cluster_id

    seen[article_id] = Seen(of=root, c=cluster, t=t, n=fp.size, sig=encode_signature(fp.signature))
    if hit is None or abs(t - hit["t"]) > window:
        exact_index[fp.exact] = {"of": root, "c": cluster, "t": t}
    _add_to_buckets(band_index, fp.bands, article_id, t, config)
    return result


def _add_to_buckets(
    band_index: MutableMapping[str, list[list[Any]]], bands: Iterable[str], article_id: str, t: int, config: DedupConfig
) -> None:
    """Append ``article_id`` to each of its band buckets, dropping ids older than the window and
    keeping the newest ``max_bucket``."""
    for band in bands:
        bucket = [e for e in band_index.get(band, ()) if t - e[1] <= config.window_seconds]
        bucket.append([article_id, t])
        band_index[band] = bucket[-config.max_bucket :]


def expire(
    now: datetime | str | float | int,
    exact_index: MutableMapping[str, dict[str, Any]],
    band_index: MutableMapping[str, list[list[Any]]],
    seen: MutableMapping[str, Seen],
    config: DedupConfig = DEFAULT,
) -> int:
    """Delete every entry published before ``now - window``; returns how many keys were deleted."""
    cutoff = to_epoch(now) - config.window_seconds
    removed = 0
    for key in [k for k, v in seen.items() if v["t"] < cutoff]:
        del seen[key]
        removed += 1
    for key in [k for k, v in exact_index.items() if v["t"] < cutoff]:
        del exact_index[key]
        removed += 1
    for key, bucket in list(band_index.items()):
        kept = [e for e in bucket if e[1] >= cutoff]
        if not kept:
            del band_index[key]
            removed += 1
        elif len(kept) != len(bucket):
            band_index[key] = kept
    return removed


class DedupIndex:
    """The dedup state (exact hashes, seen articles, LSH band buckets) and what is done with it.

    The mappings default to dicts; the worker passes its table-backed ones. The band buckets are
    derived from ``seen`` (which stores every signature), so a holder that cannot afford to persist
    them keeps them in memory and calls ``rebuild`` when ``seen`` changed under it.
    """

    def __init__(
        self,
        config: DedupConfig = DEFAULT,
        *,
        exact: MutableMapping[str, dict[str, Any]] | None = None,
        seen: MutableMapping[str, Seen] | None = None,
        bands: MutableMapping[str, list[list[Any]]] | None = None,
    ) -> None:
        self.config = config
        self.exact: MutableMapping[str, dict[str, Any]] = {} if exact is None else exact
        self.seen: MutableMapping[str, Seen] = {} if seen is None else seen
        self.bands: MutableMapping[str, list[list[Any]]] = {} if bands is None else bands

    def decide(
        self, article_id: str, fp: Fingerprint, published_at: datetime | str | float | int | None = None
    ) -> Dedup:
        """Look the article up, record it, and say what it is a copy of (module ``decide``)."""
        return decide(article_id, fp, self.exact, self.bands, self.seen, published_at=published_at, config=self.config)

    def newest(self) -> int | None:
        """Publication time of the newest article in the index, None when it is empty."""
        return max((v["t"] for v in self.seen.values()), default=None)

    def expire(self, now: datetime | str | float | int | None = None) -> int:
        """Forget what was published more than the window before ``now`` (default: the newest
        article in the index, so an index fed old articles is not emptied by the wall clock).
        Returns how many keys were deleted."""
        now = self.newest() if now is None else now
        if now is None:
            return 0
        return expire(now, self.exact, self.bands, self.seen, self.config)

    def rebuild(self) -> int:
        """Recompute the band buckets from ``seen`` in publication order (arrival order among equal
        times), as ``decide`` built them. Returns the number of articles indexed."""
        self.bands.clear()
        entries = sorted(((v["t"], k, v["sig"]) for k, v in self.seen.items()), key=lambda e: e[0])
        for t, article_id, sig in entries:
            _add_to_buckets(self.bands, band_keys(decode_signature(sig), self.config), article_id, t, self.config)
        return len(entries)


def state_bytes(*mappings: Mapping[str, Any]) -> int:
    """Bytes of compact JSON keys + values over the given mappings (what a changelog would carry)."""
    return sum(
        len(k.encode()) + len(json.dumps(v, separators=(",", ":")).encode()) for m in mappings for k, v in m.items()
    )


def run(articles: Iterable[tuple[str, str, Any]], config: DedupConfig = DEFAULT) -> list[tuple[str, Dedup]]:
    """Offline helper: ``decide`` over ``(id, text, published_at)`` in order with a fresh index."""
    index = DedupIndex(config)
    return [(aid, index.decide(aid, fingerprint(text, config), ts)) for aid, text, ts in articles]
