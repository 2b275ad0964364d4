"""The seed through every stage in one process (the same functions the agents call)."""

import subprocess
import sys
from pathlib import Path

import orjson

from newsflow.backlog import from_text
from pipeline.enrich import Enricher
from schemas import EnrichedArticle

PLACES = {"Russia", "Turkey", "Idlib", "Syria", "Moscow", "Ankara", "Aleppo", "Damascus"}


def test_seed_is_enriched_end_to_end(seed_text: str) -> None:
    art = Enricher()(from_text(seed_text))
    title = "Russia and Turkey restrict Idlib patrols over security threats"
    assert art.title == title
    assert title not in art.text  # the duplicated title line is gone
    assert "2 min read" not in art.text
    assert "[Getty]" not in art.text and "Turkish troops are patrolling parts of Idlib" not in art.text
    assert "Syria's Idlib" in art.text and "Syria'sIdlib" not in art.text
    assert art.published_at is not None and art.published_at.date().isoformat() == "2020-03-23"
    assert art.language == "en"

    names = {e.text for e in art.entities}
    assert names >= PLACES, PLACES - names
    for m in art.entities:
        assert art.text[m.start : m.end] == m.text

    assert art.category is not None and art.category.label == "conflict_war_peace"
    assert art.event is not None and art.event.type == "Strategic developments"
    assert art.dedup.status == "unique"


def test_second_copy_is_a_duplicate_of_the_first(seed_text: str) -> None:
    enrich = Enricher()
    first = enrich(from_text(seed_text))
    # Same text under another id (a re-sent wire copy with a URL of its own).
    copy = from_text(seed_text).model_copy(update={"id": "copy-1", "url": "https://mirror.example/x"})
    second = enrich(copy)
    assert second.dedup.status == "duplicate"
    assert second.dedup.duplicate_of == first.id
    assert second.dedup.cluster_id == first.dedup.cluster_id
    # And replaying the original id again is a duplicate of its first copy.
    again = enrich(from_text(seed_text))
    assert again.dedup.status == "duplicate" and again.dedup.duplicate_of == first.id


def test_offline_cli_writes_one_enriched_article_per_input(tmp_path: Path, seed_text: str) -> None:
    src = tmp_path / "in.jsonl"
    rows = [
        {"id": "s1", "title": "Seed", "body": seed_text},
        {"id": "s2", "body": ""},  # rejected with a reason, not silently dropped
        {"id": "s3", "title": "Other", "body": "Apple reported record profit as iPhone sales rose in China."},
    ]
    src.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "newsflow.cli", "enrich", str(src), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        check=True,
    )
    docs = [EnrichedArticle.model_validate(orjson.loads(ln)) for ln in out.read_bytes().splitlines()]
    assert [d.id for d in docs] == ["s1", "s3"]
    assert "rejected s2" in proc.stderr and "1 rejected" in proc.stderr


def test_a_french_article_gets_french_entities_and_a_classify_abstention() -> None:
    from schemas import RawArticle

    body = (
        "Le président Emmanuel Macron a reçu mardi à Paris le chancelier allemand Olaf Scholz. "
        "Les deux dirigeants ont évoqué la guerre en Ukraine et l'aide européenne à Kiev, avant "
        "une conférence de presse commune à l'Élysée. La Commission européenne a salué l'accord "
        "conclu entre les deux pays sur le financement de la défense commune."
    )
    art = Enricher()(RawArticle(id="fr-1", title="Macron reçoit Scholz à Paris", body=body))
    assert art.language == "fr"
    people = {e.text for e in art.entities if e.label == "PERSON"}
    assert {"Emmanuel Macron", "Olaf Scholz"} <= people
    assert any(e.place is not None and e.place.country == "FR" for e in art.entity_index)
    assert "fr_core_news_sm" in {m.name for m in art.models}
    # The classify heads are English: no topic or event, and the record says why.
    assert art.category is None and art.event is None
    assert [a.stage for a in art.abstentions] == ["classify"]


def test_warm_up_freezes_the_loaded_models_out_of_the_collectors_walks() -> None:
    """A full garbage collection walked every model object (about half a second with the GIL held,
    README "Throughput"); after warm-up they sit in the permanent generation."""
    import gc

    from pipeline.enrich import warm_up

    warm_up()
    try:
        assert gc.get_freeze_count() > 200_000
    finally:
        gc.unfreeze()


def test_a_batch_enriches_like_one_article_at_a_time(seed_text: str) -> None:
    """In order, a rejected article in the middle, and a copy after its original within the batch."""
    from schemas import RawArticle

    seed = from_text(seed_text)
    raws = [
        seed,
        RawArticle(id="empty", body=""),
        RawArticle(id="apple", title="Apple", body="Apple reported record profit as iPhone sales rose in China."),
        seed.model_copy(update={"id": "copy-1", "url": "https://mirror.example/x"}),
    ]
    batched = Enricher().batch(raws)
    one, alone = Enricher(), []
    for raw in raws:
        try:
            alone.append(one(raw))
        except ValueError as exc:
            alone.append(exc)
    assert isinstance(batched[1], ValueError) and str(batched[1]) == str(alone[1])
    for b, a in zip(batched, alone, strict=True):
        if not isinstance(b, Exception):
            assert not isinstance(a, Exception)
            assert b.model_dump(exclude={"processed_at"}) == a.model_dump(exclude={"processed_at"})
    assert batched[3].dedup.status == "duplicate"  # type: ignore[union-attr]
