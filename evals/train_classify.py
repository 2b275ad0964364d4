"""Retrain the classify model: ``python -m evals.train_classify --bbc DIR --acled CSV``.

Reads BBC News (``DIR/<topic>/*.txt``, headline on line 1) and an ACLED export (``notes``,
``event_type``, ``sub_event_type``) from wherever the user points, fits the three heads described
in ``pipeline.classify`` and writes plain numpy arrays to ``pipeline/models/classify_model.npz``
(or ``--out``). The data itself is never copied into the repo.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from evals import DATA
from pipeline.classify import MODEL_PATH, NO_EVENT
from pipeline.classify_features import analyze, category_text, clean_acled_note, event_text

BBC_TOPICS = {
    "business": "economy_business_finance",
    "entertainment": "arts_culture_entertainment",
    "politics": "politics",
    "sport": "sport",
    "tech": "science_technology",
}
ACLED_CATEGORY = "conflict_war_peace"
MAX_FEATURES = 40000
C_CAT, C_EV, C_SUB = 1.0, 1.0, 0.5


@dataclass
class Doc:
    title: str | None
    text: str
    label: str  # IPTC subject for BBC; ACLED event_type for ACLED
    sub: str | None = None  # ACLED sub_event_type
    group: str = ""  # identical texts share a group so CV folds never split them


def _group(s: str) -> str:
    return hashlib.sha1(re.sub(r"\W+", " ", s.lower()).strip().encode()).hexdigest()


def load_bbc(root: Path) -> list[Doc]:
    docs = []
    for topic, cat in BBC_TOPICS.items():
        for f in sorted((root / topic).glob("*.txt")):
            raw = f.read_bytes()
            try:
                s = raw.decode("utf-8")
            except UnicodeDecodeError:
                s = raw.decode("latin-1")
            title, _, body = s.strip().partition("\n")
            body = body.strip()
            docs.append(Doc(title.strip(), body, cat, group=_group(title + body)))
    return docs


def load_acled(path: Path) -> list[Doc]:
    docs = []
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            note, typ = (row.get("notes") or "").strip(), (row.get("event_type") or "").strip()
            if not note or not typ:
                continue
            sub = (row.get("sub_event_type") or "").strip() or None
            docs.append(Doc(None, clean_acled_note(note), typ, sub, group=_group(note)))
    return docs


def _calibrated_svm(c: float, class_weight: str | None = None) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(LinearSVC(C=c, class_weight=class_weight), method="sigmoid", cv=5, ensemble=False)


def _export_head(prefix: str, clf, out: dict[str, np.ndarray]) -> None:
    if isinstance(clf, CalibratedClassifierCV):
        cc = clf.calibrated_classifiers_[0]
        est = cc.estimator
        out[f"{prefix}_pa"] = np.array([c.a_ for c in cc.calibrators], dtype=np.float64)
        out[f"{prefix}_pb"] = np.array([c.b_ for c in cc.calibrators], dtype=np.float64)
    else:
        est = clf
    out[f"{prefix}_classes"] = np.array([str(c) for c in est.classes_])
    out[f"{prefix}_W"] = est.coef_.T.astype(np.float16)
    out[f"{prefix}_b"] = est.intercept_.astype(np.float32)


def fit(bbc: list[Doc], acled: list[Doc], max_features: int = MAX_FEATURES) -> dict[str, np.ndarray]:
    """Fit all heads; return the arrays ``pipeline.classify.ClassifyModel`` runs on."""
    cat_docs = [category_text(d.title, d.text) for d in bbc] + [d.text for d in acled]
    cat_y = [d.label for d in bbc] + [ACLED_CATEGORY] * len(acled)
    vec = TfidfVectorizer(analyzer=analyze, min_df=2, sublinear_tf=True, max_features=max_features, dtype=np.float32)
    x_cat = vec.fit_transform(cat_docs)
    out: dict[str, np.ndarray] = {
        "vocab": np.array(vec.get_feature_names_out(), dtype=str),
        "idf": vec.idf_.astype(np.float32),
    }
    _export_head("cat", _calibrated_svm(C_CAT).fit(x_cat, cat_y), out)

    ev_docs = [event_text(d.title, d.text) for d in bbc] + [d.text for d in acled]
    ev_y = [NO_EVENT] * len(bbc) + [d.label for d in acled]
    _export_head("ev", _calibrated_svm(C_EV, "balanced").fit(vec.transform(ev_docs), ev_y), out)

    with_sub = [d for d in acled if d.sub]
    x_sub = vec.transform([d.text for d in with_sub])
    _export_head("sub", LinearSVC(C=C_SUB).fit(x_sub, [d.sub for d in with_sub]), out)
    out["sub_pairs"] = np.array(sorted({f"{d.label}\t{d.sub}" for d in with_sub}))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bbc", type=Path, default=DATA / "bbc")
    ap.add_argument("--acled", type=Path, default=DATA / "acled" / "acled_2020.csv")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    args = ap.parse_args(argv)
    bbc, acled = load_bbc(args.bbc), load_acled(args.acled)
    if not bbc or not acled:
        print(f"no data: {len(bbc)} BBC articles, {len(acled)} ACLED rows", file=sys.stderr)
        return 1
    arrays = fit(bbc, acled)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(
        f"{len(bbc)} BBC articles, {len(acled)} ACLED notes, {len(arrays['vocab'])} features "
        f"-> {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
