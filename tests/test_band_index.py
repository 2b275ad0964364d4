"""The dedup agent's compact in-memory band buckets behave exactly like a dict for ``decide``."""

import random

from agents.dedup_state import CompactBuckets
from pipeline.dedup import decide, fingerprint

WORDS = [
    "minister",
    "talks",
    "border",
    "troops",
    "market",
    "shares",
    "storm",
    "flood",
    "court",
    "ruling",
    "league",
    "final",
    "vaccine",
    "trial",
    "parliament",
    "budget",
    "protest",
    "police",
    "ceasefire",
    "election",
]


def _articles(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    base = [" ".join(rng.choice(WORDS) + str(rng.randint(0, 400)) for _ in range(120)) for _ in range(n)]
    copies = [b.replace(b.split()[5], "edited", 1) + " Follow us for more." for b in base[: n // 3]]
    return base + copies


def test_compact_buckets_give_the_same_verdicts_as_a_dict() -> None:
    texts = _articles(30)
    verdicts = []
    for buckets in (dict(), CompactBuckets()):
        exact: dict = {}
        seen: dict = {}
        verdicts.append(
            [
                decide(f"a{i}", fingerprint(t), exact, buckets, seen, published_at=1_700_000_000 + i)
                for i, t in enumerate(texts)
            ]
        )
    assert verdicts[0] == verdicts[1]
    assert sum(v.status == "near_duplicate" for v in verdicts[1]) == 10


def test_compact_buckets_round_trip_keys() -> None:
    b = CompactBuckets()
    b["07:00ff00ff00ff00ff"] = [["x", 1], ["y", 2]]
    assert list(b) == ["07:00ff00ff00ff00ff"]
    assert b["07:00ff00ff00ff00ff"] == [["x", 1], ["y", 2]]
    del b["07:00ff00ff00ff00ff"]
    assert len(b) == 0
