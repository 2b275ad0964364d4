"""Dedup stage: decisions over plain dict state, expiry, JSON-ability of the state."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.dedup import (
    DEFAULT,
    DedupIndex,
    Fingerprint,
    band_keys,
    decide,
    expire,
    fingerprint,
    is_near_duplicate,
    state_bytes,
)

BBC = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc"
T0 = datetime(2005, 3, 1, 12, tzinfo=UTC)

# Two stories on the same topic (a central bank and interest rates) and one on another: written
# for the tests so they run without the shared data.
STORY_A = [
    "The Bank of England has held interest rates at 4.75% for the sixth month in a row, as "
    "policymakers weighed signs of a slowing housing market against rising oil prices.",
    "The Monetary Policy Committee voted to keep borrowing costs unchanged after figures showed "
    "house prices falling in February for the first time in almost two years.",
    "Economists had widely expected the decision, although some had argued that a cut would be "
    "needed later in the year if consumer spending continued to weaken on the high street.",
    "Retailers reported their worst Christmas trading period for a decade, and several large chains "
    "have warned that profits will be lower than forecast in the spring.",
    "The Bank's governor said last week that the committee would keep a close watch on the labour "
    "market, where wage growth has remained modest despite record employment levels.",
    "Sterling fell slightly against the dollar after the announcement, while shares in "
    "housebuilders rose on hopes that rates had now reached their peak for this cycle.",
]
STORY_B = [
    "The European Central Bank has raised its main interest rate by a quarter point to 2.25%, its "
    "first increase in five years, citing the risk of inflation from higher energy costs.",
    "The president of the bank told reporters in Frankfurt that the move was not the start of a "
    "series of increases and that policy would remain accommodative for some time.",
    "Exporters in Germany and Italy criticised the decision, saying a stronger euro was already "
    "hurting sales to the United States and Asia at a fragile point for the recovery.",
    "Inflation in the eurozone rose to 2.6% in the latest figures, above the bank's target of close "
    "to but below 2%, driven largely by the price of oil and heating fuel.",
    "Analysts said the bank wanted to signal its independence before a period of political "
    "uncertainty, with elections due in several member states next year.",
]
STORY_C = [
    "Manchester United came from behind to beat Aston Villa 3-1 at Old Trafford on Saturday and "
    "move within four points of the Premiership leaders Chelsea.",
    "Villa went ahead through a header from a corner in the first half, but the home side levelled "
    "shortly after the break and added two more goals in the final twenty minutes.",
    "The manager praised his young forwards and said the team had shown real character after a "
    "difficult week that included an exit from the European Cup.",
]


def body(paras: list[str]) -> str:
    return "\n\n".join(paras)


def state() -> tuple[dict, dict, dict]:
    return {}, {}, {}


def run(*texts: str, start: datetime = T0, step: timedelta = timedelta(hours=1)) -> list:
    ex, bands, seen = state()
    return [
        decide(f"a{i}", fingerprint(t), ex, bands, seen, published_at=start + i * step) for i, t in enumerate(texts)
    ]


def edit_words(text: str, every: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    words = text.split(" ")
    for i in range(0, len(words), every):
        words[i + rng.randrange(min(every, len(words) - i))] = "changed"
    return " ".join(words)


def test_exact_duplicate_ignores_case_punctuation_and_whitespace():
    text = body(STORY_A)
    copy = "  " + text.upper().replace(",", " ,").replace("\n\n", "\n") + " "
    first, second = run(text, copy)
    assert first.status == "unique" and first.duplicate_of is None
    assert second.status == "duplicate"
    assert second.duplicate_of == "a0"
    assert second.cluster_id == first.cluster_id
    assert second.similarity == 1.0


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(edit_words(body(STORY_A), 15), id="words-edited"),
        pytest.param(body(STORY_A[:2]), id="cut-to-first-paragraphs"),
        pytest.param(body([STORY_A[3], *STORY_A[:3], *STORY_A[4:][::-1]]), id="paragraphs-moved"),
        pytest.param(
            "By Staff Reporter\n\n" + body(STORY_A) + "\n\nCopyright 2005 Newswire. All rights "
            "reserved. This material may not be published or redistributed.",
            id="boilerplate",
        ),
    ],
)
def test_near_duplicate_variants_join_the_original_cluster(variant):
    first, second = run(body(STORY_A), variant)
    assert second.status == "near_duplicate", second
    assert second.duplicate_of == "a0"
    assert second.cluster_id == first.cluster_id
    assert 0.0 < second.similarity <= 1.0


def test_distinct_same_topic_articles_are_not_merged():
    results = run(body(STORY_A), body(STORY_B), body(STORY_C))
    assert [r.status for r in results] == ["unique"] * 3
    assert len({r.cluster_id for r in results}) == 3
    assert not is_near_duplicate(fingerprint(body(STORY_A)), fingerprint(body(STORY_B)))


def test_duplicate_of_is_the_earliest_article_of_the_cluster():
    # a2 is closest to a1 (a near duplicate of a0), but duplicate_of names the cluster's first article
    a0 = body(STORY_A)
    a1 = edit_words(a0, 20, seed=1)
    a2 = body(STORY_A[:3])
    results = run(a0, a1, a2)
    assert [r.status for r in results] == ["unique", "near_duplicate", "near_duplicate"]
    assert {r.duplicate_of for r in results[1:]} == {"a0"}
    assert len({r.cluster_id for r in results}) == 1


def test_replay_is_duplicate_of_first_copy():
    ex, bands, seen = state()
    fp = fingerprint(body(STORY_B))
    first = decide("x", fp, ex, bands, seen, published_at=T0)
    replay = decide("x", fp, ex, bands, seen, published_at=T0)
    assert first.status == "unique"
    assert replay.status == "duplicate" and replay.duplicate_of == "x"
    assert replay.cluster_id == first.cluster_id
    # a replayed copy of a near duplicate still points at the cluster's first article
    near = fingerprint(body(STORY_B[:3]))
    assert decide("y", near, ex, bands, seen, published_at=T0).duplicate_of == "x"
    again = decide("y", near, ex, bands, seen, published_at=T0)
    assert again.status == "duplicate" and again.duplicate_of == "x"


def test_articles_outside_the_window_do_not_match():
    late = run(
        body(STORY_A), body(STORY_A), start=T0, step=DEFAULT.window_seconds * timedelta(seconds=1) + timedelta(hours=1)
    )
    assert [r.status for r in late] == ["unique", "unique"]
    inside = run(body(STORY_A), body(STORY_A), step=timedelta(days=6))
    assert [r.status for r in inside] == ["unique", "duplicate"]


def test_expire_deletes_old_entries_and_keeps_recent_ones():
    ex, bands, seen = state()
    decide("old", fingerprint(body(STORY_A)), ex, bands, seen, published_at=T0)
    decide("new", fingerprint(body(STORY_C)), ex, bands, seen, published_at=T0 + timedelta(days=5))
    before = state_bytes(ex, bands, seen)
    removed = expire(T0 + timedelta(days=8), ex, bands, seen)
    assert removed > 0
    assert set(seen) == {"new"}
    assert all(v["of"] == "new" for v in ex.values())
    assert all(e[0] == "new" for bucket in bands.values() for e in bucket)
    assert 0 < state_bytes(ex, bands, seen) < before
    # the expired article is forgotten: a copy of it is unique again
    again = decide("copy", fingerprint(body(STORY_A)), ex, bands, seen, published_at=T0 + timedelta(days=8))
    assert again.status == "unique"


def test_state_is_plain_json_and_fingerprint_round_trips():
    ex, bands, seen = state()
    fp = fingerprint(body(STORY_A))
    decide("a", fp, ex, bands, seen, published_at="2005-03-01T12:00:00+00:00")
    for mapping in (ex, bands, seen):
        assert json.loads(json.dumps(mapping)) == mapping
    back = Fingerprint.from_json(json.loads(json.dumps(fp.to_json())))
    assert back == fp
    assert list(fp.bands) == band_keys(fp.signature)
    assert len(fp.bands) == DEFAULT.bands and len(set(fp.bands)) == DEFAULT.bands


def test_index_rebuild_restores_the_buckets_decide_built():
    index = DedupIndex()
    texts = [body(STORY_A), body(STORY_B), body(STORY_C), body(STORY_A[:3]), body(STORY_B) + " Updated."]
    verdicts = [index.decide(f"a{i}", fingerprint(t), T0 + i * timedelta(hours=1)) for i, t in enumerate(texts)]
    assert [v.status for v in verdicts] == ["unique", "unique", "unique", "near_duplicate", "near_duplicate"]
    built = dict(index.bands)
    index.bands = {"00:0000000000000000": [["stale", 0]]}
    assert index.rebuild() == len(texts)
    assert index.bands == built


def test_index_expire_defaults_to_the_newest_article():
    index = DedupIndex()
    assert index.expire() == 0 and index.newest() is None
    index.decide("old", fingerprint(body(STORY_A)), T0)
    index.decide("new", fingerprint(body(STORY_C)), T0 + timedelta(days=8))
    assert index.newest() == int((T0 + timedelta(days=8)).timestamp())
    assert index.expire() > 0
    assert set(index.seen) == {"new"}
    assert all(e[0] == "new" for bucket in index.bands.values() for e in bucket)


@pytest.mark.skipif(not BBC.is_dir(), reason="shared BBC data not present")
def test_real_bbc_cut_copy_found_and_neighbours_kept_apart():
    files = sorted((BBC / "business").glob("*.txt"))[:40]
    texts = [f.read_text(encoding="utf-8", errors="replace").split("\n", 1)[1] for f in files]
    ex, bands, seen = state()
    out = [decide(f"b{i}", fingerprint(t), ex, bands, seen, published_at=T0) for i, t in enumerate(texts)]
    cut = "\n\n".join(p for p in texts[0].split("\n") if p.strip())
    cut = "\n\n".join(cut.split("\n\n")[:3])
    d = decide("cut", fingerprint(cut), ex, bands, seen, published_at=T0)
    assert d.status == "near_duplicate" and d.duplicate_of == "b0"
    assert sum(r.status == "unique" for r in out) >= 38
