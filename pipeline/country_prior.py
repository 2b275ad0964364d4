"""Which country a short event report is about, from its words alone: the fallback of the event
location when no place in the text resolves.

Analyst-style reports name villages no gazetteer holds ("protesters blocked the Miniyeh highway")
but their other words still say where they are: "US dollar exchange rate" protests in 2020 are
Lebanese, "J&K" is India, "Banadir" is Somalia. A multinomial logistic regression over word
unigrams and bigrams (``python -m evals.train_country_prior``, trained on ACLED notes the user points
at) gives a calibrated probability per country; ``locate`` uses it only when the gazetteer found
no country and only at ``PRIOR_THRESHOLD`` or above, so stories it knows nothing about (most general
news) get no guess. Pure numpy at run time; the arrays ship in ``models/country_prior.npz``.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.model_registry import register

MODEL_PATH = Path(__file__).resolve().parent / "models" / "country_prior.npz"
PRIOR_THRESHOLD = 0.5  # below this probability the prior says nothing (README "Entities")
PRIOR_OVERRIDE = 0.8  # at or above it, the prior wins over a gazetteer country that disagrees

_WORD = re.compile(r"[^\W\d_]{2,}|[A-Z]&[A-Z]", re.UNICODE)
_DATE_LEAD = re.compile(r"^\s*(?:on|around|as reported on|between)?[^,]{0,40}\b20\d\d\b[^,]{0,20},", re.I)


def analyze(text: str) -> list[str]:
    """Lower-cased words and adjacent word pairs; the leading "On 7 May 2020," says nothing."""
    words = [w.lower() for w in _WORD.findall(_DATE_LEAD.sub("", text, count=1))]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


class CountryPrior:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.vocab = {str(t): i for i, t in enumerate(arrays["vocab"])}
        self.idf = arrays["idf"].astype(np.float32)
        self.classes = [str(c) for c in arrays["classes"]]
        self.w = arrays["W"].astype(np.float32)
        self.b = arrays["b"].astype(np.float32)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> CountryPrior:
        with np.load(path, allow_pickle=False) as z:
            return cls({k: z[k] for k in z.files})

    def predict(self, text: str) -> tuple[str | None, float]:
        """(ISO 3166 alpha-2, probability) of the most likely country; (None, 0.0) for no evidence."""
        counts = Counter(analyze(text))
        pairs = [(j, c) for g, c in counts.items() if (j := self.vocab.get(g)) is not None]
        if not pairs:
            return None, 0.0
        arr = np.array(pairs, dtype=np.int64)
        ix = arr[:, 0]
        vals = (1.0 + np.log(arr[:, 1].astype(np.float32))) * self.idf[ix]  # sublinear tf-idf, l2
        vals /= float(np.sqrt(vals @ vals)) or 1.0
        z = vals @ self.w[ix] + self.b
        p = np.exp(z - z.max())
        p /= p.sum()
        best = int(np.argmax(p))
        return self.classes[best], float(p[best])


@lru_cache(maxsize=1)
def _model() -> CountryPrior:
    register("classify", "country_prior", MODEL_PATH)
    return CountryPrior.load()


def country_prior(text: str) -> tuple[str | None, float]:
    return _model().predict(text)
