"""Several messages through one step call (the entities agent's batches): each message still gets
its own result or dead letter, and a batch gives the same records as one message at a time."""

from __future__ import annotations

import orjson

from agents.deadletter import guarded, guarded_batch, limits_for
from newsflow.backlog import from_text
from newsflow.settings import Settings
from pipeline.enrich import clean_step, entities_batch_step, entities_step
from schemas import CleanedArticle, RawArticle

GERMAN = (
    "Die Bundesregierung in Berlin hat am Montag neue Regeln beschlossen. Anfang Mai sollen die "
    "Impfstoffe an alle Hausärzte geliefert werden, sagte der Minister."
)


def _articles(seed_text: str) -> list[CleanedArticle]:
    seed = clean_step(from_text(seed_text))
    lower = seed.model_copy(update={"id": "lower", "text": seed.text.lower()})
    german = clean_step(RawArticle(id="de", title="Neue Regeln", body=GERMAN))
    short = clean_step(RawArticle(id="short", title="Flooding in Jakarta", body=""))
    return [seed, german, lower, short]


def test_a_batch_gives_the_records_of_one_at_a_time(seed_text: str) -> None:
    arts = _articles(seed_text)
    assert arts[1].language == "de"
    batched = entities_batch_step(arts)
    alone = [entities_step(a) for a in arts]
    assert [b.model_dump() for b in batched] == [a.model_dump() for a in alone]
    assert batched[0].entities and batched[2].entities  # the lower-cased copy is re-cased and tagged
    assert not batched[1].entities and batched[1].abstentions[0].stage == "entities"


def test_each_message_of_a_batch_gets_its_own_outcome(seed_text: str) -> None:
    arts = _articles(seed_text)
    limits = limits_for(Settings(), "entities")
    messages = [
        (b"k0", arts[0].to_bytes()),
        (b"k1", b"{not json"),
        (b"k2", None),
        (b"k3", arts[3].to_bytes()),
    ]
    out = guarded_batch("entities", messages, CleanedArticle.from_bytes, entities_step, entities_batch_step, limits)
    assert len(out) == 4
    assert out[1].data is None and out[1].letter is not None and out[1].letter.key == "k1"
    assert out[2].data is None and "tombstone" in str(out[2].error)
    for i in (0, 3):
        one = guarded("entities", *messages[i], CleanedArticle.from_bytes, entities_step, limits)
        assert out[i].data is not None and orjson.loads(out[i].data) == orjson.loads(one.data or b"")


def test_a_failing_batch_step_is_retried_one_message_at_a_time(seed_text: str) -> None:
    """The batch step fails; stepping each message alone puts the error on the one that caused it."""
    arts = _articles(seed_text)
    limits = limits_for(Settings(), "entities")
    calls: list[int] = []

    def batch_step(items: list[CleanedArticle]) -> list[object]:
        calls.append(len(items))
        raise RuntimeError("the batch failed")

    def step(item: CleanedArticle) -> object:
        if item.id == "lower":
            raise ValueError("this one is bad")
        return entities_step(item)

    messages = [(f"k{i}".encode(), a.to_bytes()) for i, a in enumerate(arts)]
    out = guarded_batch("entities", messages, CleanedArticle.from_bytes, step, batch_step, limits)
    assert calls == [4]
    assert [o.data is not None for o in out] == [True, True, False, True]
    assert out[2].letter is not None and "this one is bad" in out[2].letter.error


def test_a_batch_step_that_loses_results_is_not_trusted() -> None:
    """Fewer results than items cannot be matched to their messages: each item is stepped alone."""
    from pipeline.enrich import batch_or_each

    out = batch_or_each(lambda items: items[:-1], lambda item: item * 10, [1, 2, 3])
    assert out == [10, 20, 30]


def test_a_batch_past_its_budget_is_rerun_one_message_at_a_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``agents.stages.run_stage``: a batch that runs past ``stage_timeout_seconds`` is abandoned and
    its messages are stepped alone, each with its own budget, so only the slow one is dead-lettered."""
    import asyncio
    import time
    from types import SimpleNamespace

    from agents.stages import Stage, run_stage

    class Item:
        def __init__(self, data: bytes) -> None:
            self.data = data

    def parse(data: bytes) -> Item:
        return Item(data)

    def step(item: Item) -> RawArticle:
        if item.data == b"slow":
            time.sleep(1.5)
        return RawArticle(id=item.data.decode(), title="t", body="b")

    batch_calls: list[int] = []

    def batch_step(items: list[Item]) -> list[RawArticle]:
        batch_calls.append(len(items))
        return [step(i) for i in items]

    events = [
        SimpleNamespace(key=k, value=k, headers={}, message=SimpleNamespace(topic="t", partition=0, offset=n))
        for n, k in enumerate([b"a", b"slow", b"c"])
    ]

    class Stream:
        async def take_events(self, n: int, within: float):  # type: ignore[no-untyped-def]
            yield events

    sent: list[bytes] = []
    dead: list[tuple[bytes, str]] = []

    class Delivery:
        async def send(self, topic, key, data, stage, headers=None) -> None:  # type: ignore[no-untyped-def]
            sent.append(key)

        async def dead_letter(self, stage, key, outcome) -> None:  # type: ignore[no-untyped-def]
            dead.append((key, str(outcome.error)))

    settings = Settings(data_dir=tmp_path, stage_timeout_seconds=0.6, stage_threads=True)
    stage = Stage("entities", parse, step, out=None, batch_step=batch_step, batch_size=3)  # type: ignore[arg-type]
    asyncio.run(run_stage(stage, Stream(), settings, Delivery()))  # type: ignore[arg-type]
    assert batch_calls == [3]
    assert sent == [b"a", b"c"]
    assert [k for k, _ in dead] == [b"slow"] and "budget" in dead[0][1]
