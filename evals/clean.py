"""Clean-stage eval: main-content extraction on three dev sets, beside plain trafilatura.

Sets (read in place from ``DATA``, never copied into the repo):

* ``L3S-GN1``: 621 Google News pages from 2008 with human block annotations (gold = "full text" spans);
* ``fundus``: 257 modern pages from 181 publishers (gold = Fundus's publisher-specific parser output:
  teaser included, captions excluded); also scored per language group (language of the gold body);
* ``readability``: 94 real pages from Mozilla Readability's test suite (gold = Readability's output,
  which keeps captions and credits, so every extractor's precision reads low there).

Systems: plain ``trafilatura.extract`` 2.3.1 with default options and with ``favor_precision=True``,
and ``pipeline.clean.clean`` (the clean stage, as ``RawArticle.html``).

Scoring is the standard bag-of-tokens measure: both texts lower-cased and split into ``\\w+`` tokens,
overlap = multiset intersection; per page precision, recall, F1; macro averages over pages (an empty
extraction scores 0). Whitespace and paragraph breaks do not count.

Leave-one-set-out: every tunable choice of the clean stage (``clean_html.CHOICES``: which trafilatura
candidate to keep, the JSON-LD filter's thresholds, the line rules switched on) is replayed here over
its grid. For each set, the value that scores best on the *other two* sets is applied to it; that
figure is printed beside the shipped one. The expensive part (the extraction candidates) is computed
once per page, so the grid costs little.

Metadata: title, published date and language from ``pipeline.page_metadata`` (and trafilatura's own
metadata for comparison) against fundus titles and crawl dates and readability titles and languages.

Time: median and p99 wall time per page of each system (one process, one thread).

Usage: ``python -m evals.clean [--limit N] [--worst K] [--sets l3s,fundus,readability] [--save DIR | --load DIR]``
(``--save``/``--load``: measure the sets in separate processes, then report them together).
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from evals import DATA

_TOKEN = re.compile(r"\w+")
SETS = ("l3s", "fundus", "readability")
SET_NAMES = {"l3s": "L3S-GN1", "fundus": "fundus", "readability": "readability"}


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def prf(pred: str, gold: str) -> tuple[float, float, float]:
    p_tok, g_tok = tokens(pred), tokens(gold)
    overlap = sum((p_tok & g_tok).values())
    n_pred, n_gold = sum(p_tok.values()), sum(g_tok.values())
    precision = overlap / n_pred if n_pred else 0.0
    recall = overlap / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def decode_html(data: bytes) -> str:
    """Bytes to str the way a producer would: trafilatura's own charset detection."""
    from trafilatura.utils import decode_file

    text = decode_file(data)
    return text if isinstance(text, str) else text.decode("utf-8", "replace")


@dataclass
class Page:
    set: str
    id: str
    html: str
    gold: str
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_pages(sets: tuple[str, ...], limit: int | None = None, shard: tuple[int, int] = (0, 1)) -> Iterator[Page]:
    for name in sets:
        rows: list[Page] = []
        if name == "l3s":
            root = DATA / "l3s_gn1"
            for line in (root / "derived_gold_text.jsonl").open(encoding="utf-8"):
                r = json.loads(line)
                html = decode_html((root / r["original_html"]).read_bytes())
                rows.append(Page("l3s", r["id"], html, r["fulltext"], r.get("headline")))
        else:
            root = DATA / "extraction" / name
            for line in (root / "gold.jsonl").open(encoding="utf-8"):
                r = json.loads(line)
                html = gzip.decompress((root / "pages" / f"{r['id']}.html.gz").read_bytes()).decode("utf-8", "replace")
                extra = {k: r.get(k) for k in ("crawl_date", "lang")}
                rows.append(Page(name, r["id"], html, r["body"], r.get("title"), extra))
        rows.sort(key=lambda p: p.id)
        rows = rows[:limit] if limit else rows
        yield from rows[shard[0] :: shard[1]]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def mean3(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    n = len(rows) or 1
    return (sum(r[0] for r in rows) / n, sum(r[1] for r in rows) / n, sum(r[2] for r in rows) / n)


def gold_language(text: str) -> str:
    import py3langid

    return str(py3langid.classify(text[:2000])[0]) if text.strip() else "??"


def _norm_title(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_TOKEN.findall(text))


SYSTEMS = ("trafilatura default", "trafilatura precision")


@dataclass
class Collected:
    """Everything the report needs from one run over some sets (picklable, for ``--save``/``--load``)."""

    scores: dict[tuple[str, str], list[tuple[float, float, float]]] = field(default_factory=lambda: defaultdict(list))
    times: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    per_page: dict[tuple[str, str], dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    grid_rows: dict[str, list[tuple[Counter[str], Any]]] = field(default_factory=lambda: defaultdict(list))
    langs: dict[str, str] = field(default_factory=dict)
    meta_rows: list[tuple[Page, Any, Any]] = field(default_factory=list)


def collect(sets: tuple[str, ...], limit: int | None, shard: tuple[int, int] = (0, 1)) -> Collected:
    import trafilatura

    from pipeline import clean_html as ch
    from pipeline.clean import clean
    from schemas import RawArticle

    systems: dict[str, Callable[[str], str]] = {
        SYSTEMS[0]: lambda h: trafilatura.extract(h) or "",
        SYSTEMS[1]: lambda h: trafilatura.extract(h, favor_precision=True) or "",
    }
    out = Collected()
    warm = next(load_pages(sets[:1], 1))
    for fn in systems.values():  # load every lazy model and table once, outside the timings
        fn(warm.html)
    clean(RawArticle(id=warm.id, html=warm.html))
    for page in load_pages(sets, limit, shard):
        for name, fn in systems.items():
            t0 = time.perf_counter()
            text = fn(page.html)
            out.times[(name, page.set)].append(time.perf_counter() - t0)
            s = prf(text, page.gold)
            out.scores[(name, page.set)].append(s)
            out.per_page[(name, page.set)][page.id] = s[2]
        t0 = time.perf_counter()
        cand = ch.extraction_candidates(page.html)
        try:
            ours = clean(RawArticle(id=page.id, html=page.html), candidates=cand).text
        except ValueError:
            ours = ""
        out.times[("clean stage", page.set)].append(time.perf_counter() - t0)
        s = prf(ours, page.gold)
        out.scores[("clean stage", page.set)].append(s)
        out.per_page[("clean stage", page.set)][page.id] = s[2]
        out.grid_rows[page.set].append((tokens(page.gold), cand))
        if page.set == "fundus":
            out.langs[page.id] = gold_language(page.gold)
        if page.set in ("fundus", "readability"):
            light = Page(page.set, page.id, "", page.gold, page.title, page.extra)
            out.meta_rows.append((light, cand.meta, trafilatura.extract_metadata(page.html)))
    return out


def merge(parts: list[Collected]) -> Collected:
    out = Collected()
    for part in parts:
        for k, v in part.scores.items():
            out.scores[k].extend(v)
        for k, t in part.times.items():
            out.times[k].extend(t)
        for k, d in part.per_page.items():
            out.per_page[k].update(d)
        for set_name, rows in part.grid_rows.items():
            out.grid_rows[set_name].extend(rows)
        out.langs.update(part.langs)
        out.meta_rows.extend(part.meta_rows)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages of each set")
    ap.add_argument("--worst", type=int, default=0, help="list the K pages per set where the clean stage loses most")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--save", type=Path, default=None, help="write what was measured to DIR/<set>.pkl")
    ap.add_argument("--shard", default="0/1", help="K/N: measure every N-th page from the K-th (with --save)")
    ap.add_argument("--load", type=Path, default=None, help="report from DIR/<set>[.KofN].pkl instead of measuring")
    args = ap.parse_args(argv)
    sets = tuple(s for s in args.sets.split(",") if s)

    k, n = (int(x) for x in args.shard.split("/"))
    suffix = f".{k}of{n}" if n > 1 else ""
    if args.load:
        files = [f for s in sets for f in sorted(args.load.glob(f"{s}.*pkl")) if f.name.split(".")[0] == s]
        c = merge([pickle.loads(f.read_bytes()) for f in files])
    else:
        c = merge([collect((s,), args.limit, (k, n)) for s in sets])
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            for s in sets:
                part = Collected()
                part.scores.update({k: v for k, v in c.scores.items() if k[1] == s})
                part.times.update({k: v for k, v in c.times.items() if k[1] == s})
                part.per_page.update({k: v for k, v in c.per_page.items() if k[1] == s})
                part.grid_rows[s] = c.grid_rows[s]
                part.langs.update(c.langs if s == "fundus" else {})
                part.meta_rows.extend(r for r in c.meta_rows if r[0].set == s)
                (args.save / f"{s}{suffix}.pkl").write_bytes(pickle.dumps(part))
    report(c, sets, args.worst)
    return 0


def report(c: Collected, sets: tuple[str, ...], worst: int) -> None:
    scores, times, per_page, grid_rows, langs, meta_rows = (
        c.scores,
        c.times,
        c.per_page,
        c.grid_rows,
        c.langs,
        c.meta_rows,
    )
    systems = SYSTEMS
    names = [*systems, "clean stage"]
    print("Clean-stage eval: bag-of-tokens (multiset) P/R/F1, macro-averaged over pages")
    print(f"{'set':12} {'system':22} {'n':>4} {'P':>6} {'R':>6} {'F1':>6} {'median ms':>10} {'p99 ms':>8}")
    for s in sets:
        for name in names:
            rows = scores[(name, s)]
            p, r, f = mean3(rows)
            med, top = statistics.median(times[(name, s)]) * 1000, p99(times[(name, s)]) * 1000
            print(f"{SET_NAMES[s]:12} {name:22} {len(rows):4d} {p:6.3f} {r:6.3f} {f:6.3f} {med:10.1f} {top:8.1f}")
        best = max(mean3(scores[(n, s)])[2] for n in systems)
        ours_f = mean3(scores[("clean stage", s)])[2]
        print(f"{'':12} clean - better trafilatura: {ours_f - best:+.3f} F1")
    all_t = {n: [t for s in sets for t in times[(n, s)]] for n in names}
    print(
        "time per page over all sets (ms): "
        + "; ".join(f"{n} median {statistics.median(v) * 1000:.1f} p99 {p99(v) * 1000:.1f}" for n, v in all_t.items())
    )

    if "fundus" in sets:
        print("\nfundus per language group (language of the gold body); * = group of >= 10 pages")
        by_lang: dict[str, list[str]] = defaultdict(list)
        for pid, lang in langs.items():
            by_lang[lang].append(pid)
        print(f"{'lang':6} {'n':>4} " + " ".join(f"{n:>22}" for n in names) + "  clean - best")
        for lang, ids in sorted(by_lang.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            f1s = [sum(per_page[(n, "fundus")][i] for i in ids) / len(ids) for n in names]
            mark = "*" if len(ids) >= 10 else " "
            print(
                f"{lang:5}{mark} {len(ids):4d} "
                + " ".join(f"{f:22.3f}" for f in f1s)
                + f"  {f1s[-1] - max(f1s[:-1]):+.3f}"
            )

    print("\nLeave-one-set-out: each tunable choice set to the value best on the other two sets")
    _leave_one_out(grid_rows, sets)

    if meta_rows:
        _metadata_report(meta_rows)

    if worst:
        for s in sets:
            base = {pid: max(per_page[(n, s)][pid] for n in systems) for pid in per_page[("clean stage", s)]}
            diffs = sorted(per_page[("clean stage", s)].items(), key=lambda kv: kv[1] - base[kv[0]])[:worst]
            for pid, f in diffs:
                print(f"  {s} {pid} clean F1={f:.3f} best trafilatura F1={base[pid]:.3f}")


def set_f1(rows: list[tuple[Counter[str], Any]], params: Any) -> float:
    """Mean F1 of ``assemble(candidates, params)`` over one set's (gold tokens, candidates) rows."""
    from pipeline import clean_html as ch

    total = 0.0
    for gold, cand in rows:
        pred = tokens(ch.assemble(cand, params).text)
        overlap = sum((pred & gold).values())
        n_pred, n_gold = sum(pred.values()), sum(gold.values())
        if overlap:
            p, r = overlap / n_pred, overlap / n_gold
            total += 2 * p * r / (p + r)
    return total / max(1, len(rows))


def choose(rows_by_set: dict[str, list[tuple[Counter[str], Any]]], on: list[str], memo: dict[Any, float]) -> Any:
    """Coordinate search over ``clean_html.CHOICES`` from the shipped ``Params``: each choice in turn
    takes the value with the best mean F1 over the sets ``on`` (one sweep, ties keep the shipped value)."""
    import dataclasses

    from pipeline import clean_html as ch

    def score(params: Any) -> float:
        out = 0.0
        for s in on:
            if (params, s) not in memo:
                memo[(params, s)] = set_f1(rows_by_set[s], params)
            out += memo[(params, s)]
        return out / len(on)

    params = ch.Params()
    for key, values in ch.CHOICES.items():
        current = getattr(params, key)  # listed first, so a tie keeps it
        ordered = [current] + [v for v in values if v != current]
        params = max((dataclasses.replace(params, **{key: v}) for v in ordered), key=score)
    return params


def _leave_one_out(rows_by_set: dict[str, list[tuple[Counter[str], Any]]], sets: tuple[str, ...]) -> None:
    from pipeline import clean_html as ch

    memo: dict[Any, float] = {}
    shipped = ch.Params()
    print(f"choices: {', '.join(f'{k} {v}' for k, v in ch.CHOICES.items())}")
    print(
        f"{'held-out set':14} {'shipped F1':>10} {'LOSO F1':>8}  "
        "values chosen on the other two sets (differences from shipped)"
    )
    for s in sets:
        others = [o for o in sets if o != s]
        if not others:
            continue
        chosen = choose(rows_by_set, others, memo)
        diff = {k: v for k, v in chosen.as_dict().items() if shipped.as_dict()[k] != v}
        shipped_f = memo.get((shipped, s)) or set_f1(rows_by_set[s], shipped)
        print(f"{SET_NAMES[s]:14} {shipped_f:10.3f} {set_f1(rows_by_set[s], chosen):8.3f}  {diff or 'same as shipped'}")


def _metadata_report(rows: list[tuple[Page, Any, Any]]) -> None:
    print("\nMetadata from the page (pipeline.page_metadata) vs trafilatura.extract_metadata")
    for s in ("fundus", "readability"):
        sub = [r for r in rows if r[0].set == s]
        if not sub:
            continue
        n = len(sub)
        ours_t = sum(_norm_title(m.title) == _norm_title(p.title) for p, m, _ in sub)
        traf_t = sum(_norm_title(getattr(t, "title", None)) == _norm_title(p.title) for p, _, t in sub)
        has_traf = any(t is not None for _, _, t in sub)
        traf_note = f"; trafilatura {traf_t}/{n} = {traf_t / n:.3f}" if has_traf else ""
        print(f"{SET_NAMES[s]:12} title exact (normalised): ours {ours_t}/{n} = {ours_t / n:.3f}{traf_note}")
        if s == "fundus":

            def within(d: datetime | str | None, crawl: str | None) -> tuple[bool, bool]:
                if not d or not crawl:
                    return (bool(d), False)
                day = d.date() if isinstance(d, datetime) else datetime.fromisoformat(str(d)[:10]).date()
                c = datetime.fromisoformat(crawl[:10]).date()
                return (True, 0 <= (c - day).days <= 2)

            ours_d = [within(m.published, p.extra.get("crawl_date")) for p, m, _ in sub]
            traf_d = [within(getattr(t, "date", None), p.extra.get("crawl_date")) for p, _, t in sub]
            for label, d in (("ours", ours_d), ("trafilatura", traf_d))[: 2 if has_traf else 1]:
                found = sum(x[0] for x in d)
                ok = sum(x[1] for x in d)
                print(
                    f"{'':12} published date {label}: found {found}/{n}; "
                    f"on the crawl day or up to 2 days before {ok}/{n} = {ok / n:.3f}"
                )
            gl = [gold_language(p.gold) for p, _, _ in sub]
            ok = sum((m.language or "") == g for (_, m, _), g in zip(sub, gl, strict=True))
            print(f"{'':12} language (page metadata vs language of the gold body): {ok}/{n} = {ok / n:.3f}")
        else:
            lab = [(p.extra.get("lang") or "").split("-")[0].lower() for p, _, _ in sub]
            have = [(m, g) for (_, m, _), g in zip(sub, lab, strict=True) if g]
            ok = sum((m.language or "") == g for m, g in have)
            print(f"{'':12} language vs gold lang: {ok}/{len(have)} = {ok / max(1, len(have)):.3f}")


if __name__ == "__main__":
    sys.exit(main())
