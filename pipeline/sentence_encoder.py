"""all-MiniLM-L6-v2, int8 ONNX, for the classify heads on short items.

A headline or a one-paragraph wire item gives TF-IDF a handful of words and the distilled word
vectors (``pipeline.word_vectors``) no word order; the encoder reads the words in context. It is a
transformer, ~6 ms per 64-token item on one core, so the classify stage runs it only on short items,
where it pays (``pipeline.classify``, README "Classify"); a full article is classified from its
4,000 characters by the other heads. The model and tokenizer ship in the wheel
(``pipeline/models/minilm/``, built by ``evals/build_encoder.py``); nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.model_registry import require

ENCODER_DIR = Path(__file__).resolve().parent / "models" / "minilm"
MAX_TOKENS = 64  # title + lead; 32 scored the same on topic, events were tuned at 64
TEXT_CHARS = 600  # enough characters for MAX_TOKENS word pieces, so tokenising stays cheap


def encoder_text(title: str | None, text: str) -> str:
    """What the encoder reads: the title (it counts as text) and the start of the body."""
    body = text[:TEXT_CHARS]
    return f"{title}. {body}" if title and body else title or body


def words_upto(text: str, limit: int) -> int:
    """The number of words in ``text``, counted no further than ``limit + 1``."""
    return len(text.split(None, limit))


class Encoder(Protocol):
    """What the classify heads need from an encoder (evaluations wrap one in a cache)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceEncoder:
    """Mean-pooled, unit-length sentence vectors (384 dims) on one inference thread: a worker is
    one core, and more throughput comes from more workers."""

    def __init__(self, folder: Path = ENCODER_DIR, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(require(folder / "tokenizer.json", "sentence encoder tokenizer")))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session: Any = ort.InferenceSession(
            str(require(folder / "model.int8.onnx", "sentence encoder")), options, providers=["CPUExecutionProvider"]
        )

    @property
    def dims(self) -> int:
        return int(self.session.get_outputs()[0].shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text (zeros for an empty one). Each text runs alone: int8
        inference scales activations per call, so a text batched with others would get a vector
        that depends on its neighbours, and a record's category on what arrived with it."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, enc in enumerate(self.tokenizer.encode_batch(list(texts))):
            if not texts[i].strip():
                continue
            ids = np.array([enc.ids], dtype=np.int64)
            vec = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
            norm = float(np.linalg.norm(vec))
            out[i] = vec / norm if norm > 0 else vec
        return out
