"""Classify stage: IPTC top-level subject and ACLED event type of an article.

Model
    Three linear heads over one TF-IDF vocabulary (hashed word unigrams + bigrams, sublinear tf,
    l2) and two over static word vectors, all in ``pipeline/models/classify_model.npz`` (plain
    numpy arrays, loaded with ``allow_pickle=False`` once per process; the word vectors are
    ``pipeline/models/word_vectors.npz``). Inference is a sparse dot product and one small dense
    one in numpy; no scikit-learn object is unpickled. Retrain with ``python -m evals.train_classify``; measure with
    ``python -m evals.classify`` (cross-validation and leave-one-source-out).

    * category head: multinomial logistic regression over every subject some labelled source
      covers; its softmax is the score. It is trained on many sources and lengths at once (BBC and
      MasakhaNEWS full articles, HuffPost headlines and standfirsts, AG News wire items, ACLED notes
      and CASE snippets for ``conflict_war_peace``), long articles also as title-only and title +
      lead-sentence crops, because a head trained on one source per subject learns the sources'
      style instead of the subjects.
    * subjects no labelled source covers (disaster, labour, weather) come from a hand-written
      lexicon (``pipeline.classify_lexicon``): a subject with at least ``MIN_DISTINCT`` distinct
      terms in the article gets a weight next to the probabilities and everything is
      renormalised; lexicon-routed scores are heuristic shares, not calibrated.
    * event head: multinomial logistic regression over the six ACLED event types plus ``none``,
      reading the headline and lead (``classify_features.event_text``). ``none`` is learned from
      clean negatives of every source (news of all subjects, non-ACLED CASE and GLOCON items).
    * sub-event head: multinomial logistic regression over ACLED's sub_event_types; only its
      ranking is used, restricted to the sub-types ACLED pairs with the predicted event type.
    * word-vector heads: the category and event heads each have a second logistic head over the
      article's mean word vector (``pipeline.word_vectors``, distilled from a pretrained sentence
      encoder). The probability is the weighted geometric mean of the two heads' (weights 1 and
      ``beta``). TF-IDF is sharp on a source's own vocabulary; the word vectors carry meaning to
      sources whose words the training data never used, which is what leave-one-source-out tests.
    * encoder heads: on short items the category and event heads each have a third logistic head
      over the sentence encoder's vector of the title and lead (``pipeline.sentence_encoder``,
      all-MiniLM-L6-v2); its log-probabilities join the geometric mean with weight ``gamma``. A
      short item is where the bag of words is thinnest and word order matters most. The category
      reads it up to ``TOPIC_ENCODER_WORDS`` body words, the event up to ``EVENT_ENCODER_WORDS``
      (past those it cost accuracy or added false events in cross-validation, README); one
      encoding serves both. A longer article is classified by the other two heads.

Threshold policy
    * Category: ``label`` is the arg-max and ``score`` its probability. A score below
      ``CATEGORY_CONFIDENT`` (0.5) means "uncertain"; consumers that need precision should treat it
      as unlabelled.
    * Event: whether there is an event and which type it is are two questions. The event is
      withheld (``None``) when the probability of *some* event, 1 - P(none), is below
      ``EVENT_THRESHOLD``; otherwise the type is the most probable of the six. Deciding on the
      arg-max over all seven classes instead withheld reports whose probability was split between
      two violent types (a clash with shelling), although "none" was the least likely reading.
      ``Event.score`` is the probability of the emitted type, so it reads as "this event type is
      right" and can be below 0.5 when two types compete. ``country``/``location`` are left
      ``None`` for the entity stage.

Language
    The heads learned English only. ``abstain_reason`` says when an article is not English (the
    clean stage's language, checked against the share of English function words so that a short
    English headline misread by language identification is still classified); the stage then
    gives no category and no event and records the reason instead of guessing.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pipeline.classify_features import EVENT_CHARS, category_text, event_lead, event_text, gram_id, ngrams, tokens
from pipeline.classify_lexicon import lexicon_weights
from pipeline.event_sentence import event_sentence
from pipeline.id_lookup import find_sorted
from pipeline.model_registry import register
from pipeline.sentence_encoder import ENCODER_DIR, Encoder, SentenceEncoder, encoder_text, words_upto
from pipeline.word_vectors import VECTORS_PATH, WordVectors
from schemas import Category, Event, Score

CATEGORIES = (
    "arts_culture_entertainment",
    "conflict_war_peace",
    "crime_law_justice",
    "disaster_accident_emergency",
    "economy_business_finance",
    "education",
    "environment",
    "health",
    "human_interest",
    "labour",
    "lifestyle_leisure",
    "politics",
    "religion",
    "science_technology",
    "society",
    "sport",
    "weather",
)
EVENT_TYPES = (
    "Battles",
    "Explosions/Remote violence",
    "Violence against civilians",
    "Protests",
    "Riots",
    "Strategic developments",
)
NO_EVENT = "none"
CATEGORY_CONFIDENT = 0.5
EVENT_THRESHOLD = 0.8
# The same for the event sentence when it lies beyond the lead: a single sentence is read alone,
# so it must be surer (0.97 kept GLOCON's false events at 3.0 % in cross-validation; 0.95 gave 3.1 %).
SENTENCE_EVENT_THRESHOLD = 0.97
# Languages the heads were trained on. An article in another language whose words the model
# mostly does not know (share of its word tokens in the vocabulary below MIN_VOCAB_SHARE) is not
# classified; the vocabulary check keeps short English items that language identification
# misreads ("Apple unveils iPad" as Danish) from being dropped.
LANGUAGES = ("en",)
MIN_VOCAB_SHARE = 0.6
# Body words up to which each head reads the sentence encoder (a title-only item has 0).
TOPIC_ENCODER_WORDS = 40
EVENT_ENCODER_WORDS = 100
MODEL_PATH = Path(__file__).resolve().parent / "models" / "classify_model.npz"


class Features(NamedTuple):
    """One head's view of an article: TF-IDF (vocabulary indices and values) and the word-vector mean."""

    ix: np.ndarray
    vals: np.ndarray
    vec: np.ndarray | None


def _log_softmax(d: np.ndarray) -> np.ndarray:
    m = d - d.max()
    return m - np.log(np.exp(m).sum())


def _side_heads(
    arrays: dict[str, np.ndarray], key: str, weight: str, needs: str, available: bool
) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """The optional heads stored as ``{head}_{key}W`` / ``_{key}b`` / ``_{weight}``; loading one whose
    input (``needs``) was not given is an error, never a quiet TF-IDF-only model."""
    heads = {}
    for head in ("cat", "ev"):
        if f"{head}_{key}W" in arrays:
            if not available:
                raise ValueError(f"the {head} head needs {needs} and none was given")
            heads[head] = (
                arrays[f"{head}_{key}W"].astype(np.float32),
                arrays[f"{head}_{key}b"].astype(np.float32),
                float(arrays[f"{head}_{weight}"]),
            )
    return heads


class ClassifyModel:
    """The arrays of a trained model plus the pure inference over them."""

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        vectors: WordVectors | None = None,
        use_lexicon: bool = True,
        encoder: Encoder | None = None,
    ):
        self.use_lexicon = use_lexicon
        self.ids = arrays["ids"].astype(np.int64)
        self.vocab = {int(t): i for i, t in enumerate(self.ids.tolist())}
        self.idf = arrays["idf"].astype(np.float32)
        self._max_idf = float(self.idf.max())
        self.heads: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        for head in ("cat", "ev", "sub"):
            self.heads[head] = (
                [str(c) for c in arrays[f"{head}_classes"]],
                arrays[f"{head}_W"].astype(np.float32),
                arrays[f"{head}_b"].astype(np.float32),
            )
        # Word-vector heads (see ``pipeline.word_vectors``) and encoder heads (see
        # ``pipeline.sentence_encoder``, short items only): their log-probabilities join the TF-IDF
        # head's times ``beta`` / ``gamma``. A model trained without them runs without them.
        self.vectors = vectors
        self.vector_heads = _side_heads(arrays, "V", "beta", "word vectors", vectors is not None)
        self.encoder = encoder
        self.encoder_heads = _side_heads(arrays, "E", "gamma", "the sentence encoder", encoder is not None)
        pairs = [str(p).split("\t") for p in arrays["sub_pairs"]]
        sub_classes = self.heads["sub"][0]
        self.sub_of: dict[str, np.ndarray] = {}
        for typ in {t for t, _ in pairs}:
            self.sub_of[typ] = np.array([sub_classes.index(s) for t, s in pairs if t == typ], dtype=np.int64)

    def _idf_of(self, gram: str) -> float:
        j = self.vocab.get(gram_id(gram))
        return self._max_idf if j is None else float(self.idf[j])

    @classmethod
    def load(cls, path: Path = MODEL_PATH, vectors_path: Path = VECTORS_PATH) -> ClassifyModel:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls(
            arrays,
            WordVectors.load(vectors_path) if "cat_VW" in arrays else None,
            encoder=SentenceEncoder() if "cat_EW" in arrays else None,
        )

    def _features(self, counts: Counter[str]) -> Features:
        n = len(counts)
        gids = np.fromiter((gram_id(g) for g in counts), dtype=np.int64, count=n)
        cnt = np.fromiter(counts.values(), dtype=np.float32, count=n)
        pos, ok = find_sorted(self.ids, gids)
        ix = pos[ok]
        vals = (1.0 + np.log(cnt[ok])) * self.idf[ix]
        norm = float(np.sqrt(vals @ vals))
        if norm > 0:
            vals /= norm
        vec = self.vectors.embed(gids, cnt, self.ids, self.idf) if self.vectors is not None else None
        return Features(ix, vals, vec)

    def _decision(self, head: str, f: Features) -> np.ndarray:
        _, w, b = self.heads[head]
        return f.vals @ w[f.ix] + b

    def encoder_reads(self, text: str) -> tuple[bool, bool]:
        """Whether the (category, event) heads read the encoder for an item with this body."""
        if self.encoder is None or not self.encoder_heads:
            return False, False
        n = words_upto(text, max(TOPIC_ENCODER_WORDS, EVENT_ENCODER_WORDS))
        return n <= TOPIC_ENCODER_WORDS, n <= EVENT_ENCODER_WORDS

    def encode(self, title: str | None, text: str) -> np.ndarray:
        """The encoder's vector of an item (title and lead)."""
        if self.encoder is None:
            raise ValueError("this model has no sentence encoder")
        return np.asarray(self.encoder.encode([encoder_text(title, text)])[0])

    def _proba(self, head: str, f: Features, enc: np.ndarray | None = None) -> np.ndarray:
        """The TF-IDF head's softmax, or with a word-vector head (weight ``beta``) and an encoder
        head (weight ``gamma``, given ``enc``) their weighted geometric mean, renormalised: a mean,
        not a product, so the mixture is no more confident than its parts and the thresholds keep
        their meaning."""
        logit = _log_softmax(self._decision(head, f).astype(np.float64))
        total = 1.0
        vh = self.vector_heads.get(head)
        if vh is not None and f.vec is not None:
            vw, vb, beta = vh
            logit = logit + beta * _log_softmax((f.vec @ vw + vb).astype(np.float64))
            total += beta
        eh = self.encoder_heads.get(head)
        if eh is not None and enc is not None:
            ew, eb, gamma = eh
            logit = logit + gamma * _log_softmax((enc @ ew + eb).astype(np.float64))
            total += gamma
        logit = logit / total
        e = np.exp(logit - logit.max())
        return e / e.sum()

    def vocab_share(self, title: str | None, text: str) -> float:
        """Share of the item's word tokens (first ~200) that are in the model's vocabulary."""
        toks = tokens(f"{title or ''} {text[:1500]}")[:200]
        if not toks:
            return 1.0
        return sum(gram_id(t) in self.vocab for t in toks) / len(toks)

    def abstain_reason(self, title: str | None, text: str, language: str | None) -> str | None:
        """Why this article should get no category and no event, or ``None`` to classify it."""
        if not language or language in LANGUAGES:
            return None
        share = self.vocab_share(title, text)
        if share >= MIN_VOCAB_SHARE:
            return None
        return (
            f"language {language!r} not covered (heads trained on {', '.join(LANGUAGES)}; {share:.0%} of words known)"
        )

    def category(self, title: str | None, text: str, enc: np.ndarray | None = None) -> Category:
        """The subject; ``enc`` is the item's encoder vector (``encode``), if it has one."""
        toks = tokens(category_text(title, text))
        counts = Counter(ngrams(toks))
        classes = self.heads["cat"][0]
        probs = dict(zip(classes, self._proba("cat", self._features(counts), enc).tolist(), strict=True))
        lex = lexicon_weights(counts, len(toks), self._idf_of) if self.use_lexicon else {}
        if lex:
            z = 1.0 + sum(lex.values())
            probs = {c: p / z for c, p in probs.items()} | {c: w / z for c, w in lex.items()}
        top = sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        # Pad with zero-probability subjects so ``top`` always has three entries.
        for c in CATEGORIES:
            if len(top) >= 3:
                break
            if c not in probs:
                top.append((c, 0.0))
        return Category(
            label=top[0][0], score=round(top[0][1], 4), top=[Score(label=k, score=round(v, 4)) for k, v in top]
        )

    def event(self, title: str | None, text: str, enc: np.ndarray | None = None) -> Event | None:
        """The lead's event (``enc`` as for ``category``); when the lead reports none, the event
        sentence's (``pipeline.event_sentence``) if that lies beyond the lead and clears the
        stricter ``SENTENCE_EVENT_THRESHOLD``: a long article often reports its killing or protest
        after a lead about something else."""
        classes = self.heads["ev"][0]
        none = classes.index(NO_EVENT)
        f = self._features(Counter(analyze_event(title, text)))
        p = self._proba("ev", f, enc)
        if 1.0 - p[none] < EVENT_THRESHOLD:
            span = event_sentence(text) if len(text) > EVENT_CHARS else None
            if span is None or span[0] < len(event_lead(text)):
                return None
            f = self._features(Counter(ngrams(tokens(f"{title or ''}\n{text[span[0] : span[1]]}"))))
            p = self._proba("ev", f)
            if 1.0 - p[none] < SENTENCE_EVENT_THRESHOLD:
                return None
        typed = p.copy()
        typed[none] = -1.0
        best = int(np.argmax(typed))
        typ = classes[best]
        sub_type = None
        allowed = self.sub_of.get(typ)
        if allowed is not None and len(allowed):
            d = self._decision("sub", f)
            sub_type = self.heads["sub"][0][int(allowed[int(np.argmax(d[allowed]))])]
        return Event(type=typ, sub_type=sub_type, score=round(float(p[best]), 4))

    def classify(self, title: str | None, text: str) -> tuple[Category, Event | None]:
        for_topic, for_event = self.encoder_reads(text)
        enc = self.encode(title, text) if for_topic or for_event else None
        return self.category(title, text, enc if for_topic else None), self.event(
            title, text, enc if for_event else None
        )


def analyze_event(title: str | None, text: str) -> list[str]:
    return ngrams(tokens(event_text(title, text)))


@lru_cache(maxsize=1)
def _model() -> ClassifyModel:
    register("classify", "classify_model", MODEL_PATH)
    model = ClassifyModel.load()
    if model.vectors is not None:
        register("classify", "word_vectors", VECTORS_PATH)
    if model.encoder is not None:
        register("classify", "sentence_encoder", ENCODER_DIR)
    return model


def classify(title: str | None, text: str) -> tuple[Category, Event | None]:
    return _model().classify(title, text)


def abstain_reason(title: str | None, text: str, language: str | None) -> str | None:
    """See ``ClassifyModel.abstain_reason``."""
    return _model().abstain_reason(title, text, language)
