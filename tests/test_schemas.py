from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from schemas import Dedup, EnrichedArticle, RawArticle
from schemas.generate import OUT, PUBLIC, render


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_committed_json_schema_matches_model(name: str) -> None:
    committed = (OUT / f"{name}.schema.json").read_bytes()
    assert committed == render(PUBLIC[name]), "run `make schemas` and commit schemas/json/"


def test_enriched_article_round_trips_through_orjson() -> None:
    art = EnrichedArticle(
        id="a1",
        text="Hello",
        dedup=Dedup(status="unique", cluster_id="c1", similarity=0.0),
        processed_at=datetime(2024, 1, 2, tzinfo=UTC),
        pipeline_version="0.1.0",
    )
    data = art.to_bytes()
    assert orjson.loads(data)["processed_at"] == "2024-01-02T00:00:00Z"
    assert EnrichedArticle.from_bytes(data) == art


def test_raw_article_rejects_empty_id() -> None:
    with pytest.raises(ValidationError):
        RawArticle(id="")


def test_dedup_status_is_a_closed_set() -> None:
    with pytest.raises(ValidationError):
        Dedup(status="maybe", cluster_id="c", similarity=0.1)  # type: ignore[arg-type]
