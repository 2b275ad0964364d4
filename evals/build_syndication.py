"""Build a syndication-variant set from real BBC articles (deterministic, seeded).

    .venv/bin/python -m evals.build_syndication [OUT.jsonl] [--seed 7] [--sources 500] [--distinct 400]

Default output: ``/tmp/newsflow/syndication.jsonl`` (never inside the repository). One JSON object
per line: ``id, group, kind, category, split, title, text, published_at``. Records of one ``group``
are copies of one story; every other pair is distinct. ``split`` (``tune``/``test``) is per group.

Source articles are BBC articles (``$NEWSFLOW_EVAL_DATA/bbc/<category>/NNN.txt``, title on line 1)
that have no real near-duplicate inside BBC (word 5-gram Jaccard < 0.2 and containment < 0.5 to
every other article), so the only copies in the set are the ones made here. Variant kinds:

* ``headline``      same body, new headline (the stream fingerprints the body, so: exact duplicate)
* ``boilerplate+``  agency byline / copyright / newsletter lines added at the top and/or bottom
* ``boilerplate-``  the group's original carries boilerplate, this copy does not
* ``cut``           only the first 2..n/2 paragraphs (at least 40 words)
* ``edit``          3-10 % of words replaced, deleted or inserted
* ``reorder``       one or two paragraphs moved
* ``mixed``         two or three of the above

``distinct`` records are other BBC articles of the same categories, with no copies, some with the
same boilerplate added (so boilerplate alone must not merge articles). The originals are published
over 60 days; copies 1 day before to 3 days after their original.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import sparse

from evals import DATA
from pipeline.dedup import normalise, shingles

DEFAULT_OUT = Path("/tmp/newsflow/syndication.jsonl")

BOILERPLATE_TOP = [
    "By Staff Reporter",
    "LONDON (Newswire) -",
    "Updated 14:32 GMT. Reporting by the newsdesk; editing by the duty editor.",
    "This article is part of our daily briefing. Sign in to save it to your reading list.",
]
BOILERPLATE_BOTTOM = [
    "Copyright 2005 Newswire. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.",
    "Sign up for our free morning newsletter to get the top stories delivered to your inbox every day.",
    "Follow us on Twitter and Facebook for the latest news, and share this story with your friends.",
    "Have your say: send us your comments using the form below. A selection will be published.",
    "Related stories: more coverage from our correspondents is available on the website.",
]
HEADLINE_PREFIX = ["UPDATE:", "Breaking:", "Analysis:", "Report:", "UPDATE 2 -", "WRAPUP -"]
FILLER = ["also", "now", "reportedly", "still", "however", "indeed", "officially", "meanwhile"]


@dataclass(frozen=True)
class BbcArticle:
    key: str  # "<category>/<NNN>"
    category: str
    title: str
    paragraphs: tuple[str, ...]

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def load_bbc(root: Path | None = None) -> list[BbcArticle]:
    """Every BBC article, sorted by path; latin-1 where a file is not valid UTF-8."""
    root = root or DATA / "bbc"
    out = []
    for path in sorted(root.glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        lines = text.splitlines()
        title = lines[0].strip() if lines else ""
        paras = tuple(p.strip() for p in "\n".join(lines[1:]).split("\n") if p.strip())
        out.append(BbcArticle(f"{path.parent.name}/{path.stem}", path.parent.name, title, paras))
    return out


def shingle_matrix(texts: list[str], k: int = 5) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Binary doc x shingle matrix and the shingle-set sizes."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for s in shingles(normalise(text), k):
            rows.append(i)
            cols.append(vocab.setdefault(s, len(vocab)))
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocab)))
    return m, np.asarray(m.sum(axis=1)).ravel()


def all_pairs(
    texts: list[str], k: int = 5, min_jaccard: float = 0.0, min_containment: float = 1.1
) -> list[tuple[int, int, float, float]]:
    """Brute force: exact (i, j, Jaccard, containment) for every pair i < j over either threshold."""
    m, sizes = shingle_matrix(texts, k)
    inter = (m @ m.T).tocoo()
    out = []
    for i, j, v in zip(inter.row, inter.col, inter.data, strict=True):
        if i >= j:
            continue
        jac = v / (sizes[i] + sizes[j] - v)
        con = v / min(sizes[i], sizes[j])
        if jac >= min_jaccard or con >= min_containment:
            out.append((int(i), int(j), float(jac), float(con)))
    return sorted(out)


def _edit_words(rng: random.Random, text: str, rate: float, vocab: list[str]) -> str:
    paras = []
    for para in text.split("\n\n"):
        words = para.split(" ")
        out = []
        for w in words:
            r = rng.random()
            if r < rate / 3:
                continue  # delete
            if r < 2 * rate / 3:
                out.append(rng.choice(vocab))  # replace
            elif r < rate:
                out.extend([w, rng.choice(FILLER)])  # insert
            else:
                out.append(w)
        paras.append(" ".join(out))
    return "\n\n".join(paras)


def _variant(rng: random.Random, kind: str, art: BbcArticle, vocab: list[str]) -> tuple[str, str]:
    title, paras = art.title, list(art.paragraphs)
    if kind == "headline":
        return f"{rng.choice(HEADLINE_PREFIX)} {title}", art.body
    if kind == "boilerplate+":
        top = [rng.choice(BOILERPLATE_TOP)] if rng.random() < 0.6 else []
        bottom = rng.sample(BOILERPLATE_BOTTOM, rng.randint(1, 2))
        return title, "\n\n".join(top + paras + bottom)
    if kind == "cut":
        n = len(paras)
        k = rng.randint(2, max(2, n // 2))
        while k < n and len(" ".join(paras[:k]).split()) < 40:
            k += 1
        return title, "\n\n".join(paras[:k])
    if kind == "edit":
        return title, _edit_words(rng, art.body, rng.uniform(0.03, 0.10), vocab)
    if kind == "reorder":
        for _ in range(rng.randint(1, 2)):
            if len(paras) < 3:
                break
            p = paras.pop(rng.randrange(len(paras)))
            paras.insert(rng.randrange(len(paras) + 1), p)
        return title, "\n\n".join(paras)
    raise ValueError(kind)


def build(seed: int = 7, n_sources: int = 500, n_distinct: int = 400) -> list[dict]:
    rng = random.Random(seed)
    arts = load_bbc()
    # drop every article with a real (BBC-internal) copy, so the only copies are ours
    tainted = set()
    for i, j, _, _ in all_pairs([a.body for a in arts], 5, min_jaccard=0.2, min_containment=0.5):
        tainted.update((i, j))
    pool = [a for i, a in enumerate(arts) if i not in tainted]
    rng.shuffle(pool)
    sources, distinct = pool[:n_sources], pool[n_sources : n_sources + n_distinct]
    vocab = sorted({w for a in pool[:200] for w in a.body.split() if w.isalpha() and len(w) > 3})
    t0 = datetime(2005, 1, 1, tzinfo=UTC)
    kinds = ["headline", "boilerplate+", "boilerplate-", "cut", "edit", "reorder", "mixed"]
    records = []

    def emit(group: str, kind: str, art: BbcArticle, title: str, text: str, when: datetime) -> None:
        idx = sum(1 for r in records if r["group"] == group)
        records.append(
            {
                "id": f"{group}#{idx}",
                "group": group,
                "kind": kind,
                "category": art.category,
                "title": title,
                "text": text,
                "published_at": when.isoformat(),
            }
        )

    for art in sources:
        group = art.key
        when = t0 + timedelta(seconds=rng.randrange(60 * 86400))
        chosen = rng.sample(kinds, rng.randint(1, 3))
        original_body = art.body
        if "boilerplate-" in chosen:
            original_body = _variant(rng, "boilerplate+", art, vocab)[1]
        emit(group, "original", art, art.title, original_body, when)
        for kind in chosen:
            if kind == "boilerplate-":
                title, text = art.title, art.body
            elif kind == "mixed":
                title, text = art.title, art.body
                subs = ["headline", "boilerplate+", "cut", "edit", "reorder"]
                for sub in rng.sample(subs, rng.randint(2, 3)):
                    cur = BbcArticle(art.key, art.category, title, tuple(text.split("\n\n")))
                    title, text = _variant(rng, sub, cur, vocab)
            else:
                title, text = _variant(rng, kind, art, vocab)
            emit(group, kind, art, title, text, when + timedelta(seconds=rng.randrange(-86400, 3 * 86400)))
    for art in distinct:
        when = t0 + timedelta(seconds=rng.randrange(60 * 86400))
        text = art.body
        if rng.random() < 0.3:
            text = _variant(rng, "boilerplate+", art, vocab)[1]
        emit(art.key, "distinct", art, art.title, text, when)

    for r in records:
        h = hashlib.blake2b(f"{seed}:{r['group']}".encode(), digest_size=2).digest()
        r["split"] = "tune" if h[0] % 2 == 0 else "test"
    records.sort(key=lambda r: (r["published_at"], r["id"]))
    return records


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sources", type=int, default=500)
    ap.add_argument("--distinct", type=int, default=400)
    args = ap.parse_args(argv)
    records = build(args.seed, args.sources, args.distinct)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    groups = len({r["group"] for r in records})
    print(f"wrote {len(records)} records in {groups} groups to {args.out}")


if __name__ == "__main__":
    main()
