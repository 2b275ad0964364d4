"""Classify-stage quality on held-out folds: ``python -m evals.classify`` (``make eval-classify``).

Five-fold cross-validation: BBC News and the ACLED notes are each split into five folds
(stratified by label; identical texts kept in the same fold, since both sets contain exact
duplicates). For fold k the whole model (vocabulary, heads, Platt calibration) is retrained by
``evals.train_classify.fit`` on the other four folds of both sets, and the fold-k articles are
classified through the same ``ClassifyModel`` code the pipeline runs, lexicon and thresholds
included. Reported:

* BBC category accuracy and macro-F1 (predictions may be any of the 17 subjects; a lexicon win
  counts as an error), and the BBC false-event rate (share of BBC articles given any event);
* ACLED event_type accuracy / macro-F1 and sub_event_type accuracy (a withheld event counts as
  wrong), and how many ACLED notes get category conflict_war_peace;
* calibration: expected calibration error (10 bins) of the category and event scores;
* throughput of ``pipeline.classify.classify`` with the packaged model on one core.

ACLED notes are analysts' summaries, not news articles (see the data's PROVENANCE.md), so the
event figures are optimistic for raw news.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402

from evals import DATA  # noqa: E402
from evals.train_classify import ACLED_CATEGORY, BBC_TOPICS, Doc, fit, load_acled, load_bbc  # noqa: E402
from pipeline.classify import ClassifyModel, classify  # noqa: E402


def _folds(docs: list[Doc], k: int, seed: int) -> list[np.ndarray]:
    y = [d.label for d in docs]
    g = [d.group for d in docs]
    skf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in skf.split(np.zeros(len(docs)), y, g)]


def ece(conf: list[float], correct: list[bool], bins: int = 10) -> float:
    c, ok = np.asarray(conf), np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (c > lo) & (c <= hi)
        if m.any():
            total += m.sum() / len(c) * abs(ok[m].mean() - c[m].mean())
    return float(total)


def cross_validate(bbc: list[Doc], acled: list[Doc], k: int = 5, seed: int = 0) -> dict:
    bbc_folds, ac_folds = _folds(bbc, k, seed), _folds(acled, k, seed)
    bbc_pred: list[str | None] = [None] * len(bbc)
    bbc_conf = [0.0] * len(bbc)
    bbc_nolex: list[str | None] = [None] * len(bbc)
    bbc_event: list[str | None] = [None] * len(bbc)
    ev_pred: list[str | None] = [None] * len(acled)
    ev_conf: list[float | None] = [None] * len(acled)
    sub_pred: list[str | None] = [None] * len(acled)
    ac_cat: list[str | None] = [None] * len(acled)
    for i in range(k):
        b_test, a_test = set(bbc_folds[i].tolist()), set(ac_folds[i].tolist())
        model = ClassifyModel(
            fit([d for j, d in enumerate(bbc) if j not in b_test], [d for j, d in enumerate(acled) if j not in a_test])
        )
        for j in b_test:
            cat, ev = model.classify(bbc[j].title, bbc[j].text)
            bbc_pred[j], bbc_conf[j], bbc_event[j] = cat.label, cat.score, ev.type if ev else None
            model.use_lexicon = False
            bbc_nolex[j] = model.category(bbc[j].title, bbc[j].text).label
            model.use_lexicon = True
        for j in a_test:
            cat, ev = model.classify(None, acled[j].text)
            ac_cat[j] = cat.label
            if ev:
                ev_pred[j], ev_conf[j], sub_pred[j] = ev.type, ev.score, ev.sub_type
        print(f"  fold {i + 1}/{k} done", flush=True)

    bbc_y = [d.label for d in bbc]
    ev_y = [d.label for d in acled]
    sub_y = [d.sub for d in acled]
    types = sorted(set(ev_y))
    ev_str = [p or "(none)" for p in ev_pred]
    scored = [(c, p == y) for c, p, y in zip(ev_conf, ev_pred, ev_y, strict=True) if c is not None]
    return {
        "bbc_n": len(bbc),
        "bbc_accuracy": accuracy_score(bbc_y, bbc_pred),
        "bbc_macro_f1": f1_score(bbc_y, bbc_pred, labels=sorted(BBC_TOPICS.values()), average="macro"),
        "bbc_accuracy_no_lexicon": accuracy_score(bbc_y, bbc_nolex),
        "bbc_lexicon_wins": [
            (bbc[j].title, p) for j, p in enumerate(bbc_pred) if p not in BBC_TOPICS.values() and p != ACLED_CATEGORY
        ],
        "bbc_off_topic": Counter(p for p, y in zip(bbc_pred, bbc_y, strict=True) if p != y).most_common(6),
        "bbc_false_event_rate": sum(e is not None for e in bbc_event) / len(bbc),
        "bbc_false_events": Counter(e for e in bbc_event if e).most_common(),
        "category_ece": ece(bbc_conf, [p == y for p, y in zip(bbc_pred, bbc_y, strict=True)]),
        "acled_n": len(acled),
        "event_accuracy": accuracy_score(ev_y, ev_str),
        "event_macro_f1": f1_score(ev_y, ev_str, labels=types, average="macro"),
        "event_withheld": sum(p is None for p in ev_pred) / len(acled),
        "event_ece": ece([c for c, _ in scored], [ok for _, ok in scored]),
        "sub_event_accuracy": sum(p == y for p, y in zip(sub_pred, sub_y, strict=True)) / len(acled),
        "acled_conflict_category": sum(c == ACLED_CATEGORY for c in ac_cat) / len(acled),
        "per_type_f1": dict(
            zip(types, f1_score(ev_y, ev_str, labels=types, average=None).round(3).tolist(), strict=True)
        ),
    }


def throughput(bbc: list[Doc], seconds: float = 3.0) -> float:
    classify(bbc[0].title, bbc[0].text)  # load the packaged model outside the timing
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for d in bbc[:500]:
            classify(d.title, d.text)
        n += min(len(bbc), 500)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bbc", type=Path, default=DATA / "bbc")
    ap.add_argument("--acled", type=Path, default=DATA / "acled" / "acled_2020.csv")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    bbc, acled = load_bbc(args.bbc), load_acled(args.acled)
    print(f"{len(bbc)} BBC articles, {len(acled)} ACLED notes, {args.folds}-fold CV")
    r = cross_validate(bbc, acled, args.folds)
    print(f"BBC category accuracy        {r['bbc_accuracy']:.4f}   (target >= 0.96)")
    print(f"BBC category macro-F1        {r['bbc_macro_f1']:.4f}")
    print(f"BBC accuracy, lexicon off    {r['bbc_accuracy_no_lexicon']:.4f}")
    print(f"BBC articles won by lexicon  {len(r['bbc_lexicon_wins'])}:")
    for title, label in r["bbc_lexicon_wins"]:
        print(f"    {label:28s} {title}")
    print(f"BBC misfiled as              {r['bbc_off_topic']}")
    print(f"category ECE (BBC)           {r['category_ece']:.4f}")
    print(f"BBC false-event rate         {r['bbc_false_event_rate']:.4f}   {r['bbc_false_events']}")
    print(f"ACLED event_type accuracy    {r['event_accuracy']:.4f}   (target >= 0.90)")
    print(f"ACLED event_type macro-F1    {r['event_macro_f1']:.4f}   (target >= 0.85)")
    print(f"ACLED per-type F1            {r['per_type_f1']}")
    print(f"ACLED event withheld         {r['event_withheld']:.4f}")
    print(f"event ECE (ACLED)            {r['event_ece']:.4f}")
    print(f"ACLED sub_event_type acc.    {r['sub_event_accuracy']:.4f}   (target >= 0.75)")
    print(f"ACLED -> conflict_war_peace  {r['acled_conflict_category']:.4f}")
    print(f"throughput, one core         {throughput(bbc):.0f} articles/s   (target >= 500)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
