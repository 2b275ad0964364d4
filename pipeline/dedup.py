"""Dedup stage: exact and near-duplicate detection.

Fingerprints are pure and computed once per article (``fingerprint``); the index that remembers
earlier articles is a small protocol so the same decision logic runs over a dict offline and over
Faust tables in the stream.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import MutableMapping
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from schemas import Dedup

NUM_PERM = 128
BANDS = 32  # 32 bands x 4 rows: a pair with Jaccard 0.5 becomes a candidate with p ~ 0.87
ROWS = NUM_PERM // BANDS
SHINGLE = 5  # word 5-grams: long enough to ignore common phrases, short enough to survive edits
NEAR_THRESHOLD = 0.5

_WORD = re.compile(r"\w+")


def normalise(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    return _WORD.findall(text)


@dataclass(frozen=True)
class Fingerprint:
    exact: str
    signature: tuple[int, ...]
    bands: tuple[str, ...]

    def jaccard(self, other: "Fingerprint") -> float:
        a = np.array(self.signature, dtype=np.uint64)
        b = np.array(other.signature, dtype=np.uint64)
        return float(np.mean(a == b))


def fingerprint(text: str) -> Fingerprint:
    words = normalise(text)
    exact = hashlib.blake2b(" ".join(words).encode(), digest_size=16).hexdigest()
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    mh = MinHash(num_perm=NUM_PERM, seed=1)
    mh.update_batch([s.encode() for s in shingles])
    sig = tuple(int(x) for x in mh.hashvalues)
    bands = tuple(
        f"{i:02d}:" + hashlib.blake2b(np.array(sig[i * ROWS : (i + 1) * ROWS], dtype=np.uint64).tobytes(),
                                      digest_size=8).hexdigest()
        for i in range(BANDS)
    )
    return Fingerprint(exact=exact, signature=sig, bands=bands)


@dataclass
class Seen:
    id: str
    cluster_id: str
    signature: tuple[int, ...]


def decide(
    article_id: str,
    fp: Fingerprint,
    exact_index: MutableMapping[str, Seen],
    band_index: MutableMapping[str, list[str]],
    seen: MutableMapping[str, Seen],
) -> Dedup:
    """Look the article up, record it, and say what it is a copy of.

    An article seen before under the same id (a replay) is a duplicate of its first copy.
    """
    if article_id in seen:
        first = seen[article_id]
        return Dedup(status="duplicate", duplicate_of=first.id, cluster_id=first.cluster_id, similarity=1.0)
    hit = exact_index.get(fp.exact)
    if hit is not None:
        seen[article_id] = Seen(id=hit.id, cluster_id=hit.cluster_id, signature=fp.signature)
        return Dedup(status="duplicate", duplicate_of=hit.id, cluster_id=hit.cluster_id, similarity=1.0)
    best: tuple[float, Seen] | None = None
    candidates = {cid for band in fp.bands for cid in band_index.get(band, [])}
    for cid in candidates:
        cand = seen.get(cid)
        if cand is None:
            continue
        sim = fp.jaccard(Fingerprint("", cand.signature, ()))
        if sim >= NEAR_THRESHOLD and (best is None or sim > best[0]):
            best = (sim, cand)
    if best is not None:
        sim, cand = best
        record = Seen(id=cand.id, cluster_id=cand.cluster_id, signature=fp.signature)
        result = Dedup(status="near_duplicate", duplicate_of=cand.id, cluster_id=cand.cluster_id,
                       similarity=round(sim, 4))
    else:
        record = Seen(id=article_id, cluster_id=f"c_{fp.exact[:16]}", signature=fp.signature)
        result = Dedup(status="unique", duplicate_of=None, cluster_id=record.cluster_id, similarity=0.0)
    seen[article_id] = record
    exact_index.setdefault(fp.exact, record)
    for band in fp.bands:
        band_index[band] = [*band_index.get(band, []), article_id][-50:]
    return result
