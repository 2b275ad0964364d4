"""Clean-stage eval: main-content extraction on L3S-GN1 (human-annotated Google News pages, 2008).

For every page in ``DATA/l3s_gn1/derived_gold_text.jsonl`` the original HTML is decoded once and
given both to our ``pipeline.clean.clean`` (as ``RawArticle.html``) and to plain
``trafilatura.extract`` with default options (the field's reference extractor). The extracted body is
scored against the gold full text (the annotators' "full text" spans; headline and captions are not
part of the gold body, and our title lives in its own field).

Scoring is the standard bag-of-tokens measure for this kind of benchmark: both texts are lower-cased
and split into ``\\w+`` tokens, and the overlap is the size of the multiset intersection
(``Counter`` ``&``).  Per page, precision = overlap / extracted tokens, recall = overlap / gold
tokens, F1 their harmonic mean; the figures printed are macro averages over pages (an empty
extraction scores P = R = F1 = 0 on that page).  Whitespace and paragraph breaks do not count,
since the gold layout comes from a conversion script.

The pages are also split deterministically in two halves by a hash of their id ("A" and "B"), so
that any tuning done on one half can be checked on the other; both halves are printed.

Time: median and p99 wall time per page of each extractor (single process).

Usage: ``python -m evals.clean [--limit N] [--worst K]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from evals import DATA

_TOKEN = re.compile(r"\w+")


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


def half(page_id: str) -> str:
    return "A" if hashlib.sha1(page_id.encode()).digest()[0] % 2 == 0 else "B"


def decode_html(data: bytes) -> str:
    """Bytes to str the way a producer would: trafilatura's own charset detection."""
    from trafilatura.utils import decode_file

    text = decode_file(data)
    return text if isinstance(text, str) else text.decode("utf-8", "replace")


@dataclass
class Scores:
    rows: list[tuple[str, float, float, float]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def summary(self, which: str | None = None) -> tuple[float, float, float, int]:
        rows = [r for r in self.rows if which is None or half(r[0]) == which]
        n = len(rows) or 1
        return (sum(r[1] for r in rows) / n, sum(r[2] for r in rows) / n, sum(r[3] for r in rows) / n, len(rows))


def _ours(html: str, page_id: str) -> str:
    from pipeline.clean import clean
    from schemas import RawArticle

    try:
        return clean(RawArticle(id=page_id, html=html)).text
    except ValueError:
        return ""


def _trafilatura(html: str, page_id: str) -> str:
    import trafilatura

    return trafilatura.extract(html) or ""


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages")
    ap.add_argument("--worst", type=int, default=0, help="list the K pages where we score lowest")
    args = ap.parse_args(argv)

    root = DATA / "l3s_gn1"
    records = [json.loads(line) for line in (root / "derived_gold_text.jsonl").open(encoding="utf-8")]
    records.sort(key=lambda r: r["id"])
    if args.limit:
        records = records[: args.limit]

    systems = {"newsflow clean": _ours, "trafilatura 2.3.1 default": _trafilatura}
    scores = {name: Scores() for name in systems}
    for rec in records:
        html = decode_html((root / rec["original_html"]).read_bytes())
        for name, fn in systems.items():
            t0 = time.perf_counter()
            out = fn(html, rec["id"])
            scores[name].times.append(time.perf_counter() - t0)
            scores[name].rows.append((rec["id"], *prf(out, rec["fulltext"])))

    print(f"L3S-GN1 clean eval: {len(records)} pages; bag-of-tokens (multiset) P/R/F1, macro-averaged")
    print(f"{'system':28} {'set':4} {'n':>4} {'P':>6} {'R':>6} {'F1':>6} {'median ms':>10} {'p99 ms':>8}")
    for name, sc in scores.items():
        med, top = statistics.median(sc.times) * 1000, p99(sc.times) * 1000
        for which in (None, "A", "B"):
            p, r, f, n = sc.summary(which)
            label = which or "all"
            timing = f"{med:10.1f} {top:8.1f}" if which is None else ""
            print(f"{name:28} {label:4} {n:4d} {p:6.3f} {r:6.3f} {f:6.3f} {timing}")
    if args.worst:
        ours = sorted(scores["newsflow clean"].rows, key=lambda r: r[3])[: args.worst]
        base = {r[0]: r[3] for r in scores["trafilatura 2.3.1 default"].rows}
        for pid, p, r, f in ours:
            print(f"  {pid} half={half(pid)} P={p:.2f} R={r:.2f} F1={f:.2f} (trafilatura F1={base[pid]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
