"""Static word vectors distilled from a pretrained sentence encoder, and the article vector built on them.

TF-IDF heads only know the words their training sources used, so a source with another
vocabulary (a wire service, a lifestyle site) loses them. Each word's vector here is what
all-MiniLM-L6-v2 says about that word alone (built once by ``evals.build_word_vectors``), so an
article vector, the idf-weighted mean of its words' vectors, carries meaning across vocabularies
at the cost of a lookup and a small matrix product. Words are keyed by the same CRC-32 id as the
classify vocabulary (``classify_features.gram_id``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pipeline.classify_features import gram_id
from pipeline.id_lookup import find_sorted

VECTORS_PATH = Path(__file__).resolve().parent / "models" / "word_vectors.npz"


class WordVectors:
    """Unit-length word vectors looked up by gram id."""

    def __init__(self, words: Iterable[str], vectors: np.ndarray):
        ids = np.fromiter((gram_id(w) for w in words), dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        mat = vectors[order].astype(np.float32)
        norms = np.linalg.norm(mat, axis=1, keepdims=True)
        self.ids = ids[order]
        self.matrix = mat / np.where(norms > 0, norms, 1.0)

    @property
    def dims(self) -> int:
        return int(self.matrix.shape[1])

    @classmethod
    def load(cls, path: Path = VECTORS_PATH) -> WordVectors:
        with np.load(path, allow_pickle=False) as z:
            return cls([str(w) for w in z["words"]], z["vectors"])

    def embed(self, ids: np.ndarray, counts: np.ndarray, vocab_ids: np.ndarray, idf: np.ndarray) -> np.ndarray:
        """Article vector of a bag of gram ids with their counts: the unit-length mean of the known
        words' vectors, each weighing (1 + log count) * idf, where ``idf`` is aligned with the sorted
        ``vocab_ids`` and a word outside that vocabulary gets the highest idf. Zeros when no word is
        known. Training and inference both call this, so they weigh words identically."""
        pos, ok = find_sorted(self.ids, ids)
        if not ok.any():
            return np.zeros(self.dims, dtype=np.float32)
        known = ids[ok]
        vp, in_vocab = find_sorted(vocab_ids, known)
        w = np.where(in_vocab, idf[vp], idf.max()) * (1.0 + np.log(counts[ok].astype(np.float32)))
        v = w.astype(np.float32) @ self.matrix[pos[ok]]
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v
