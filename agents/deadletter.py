"""Dead letters: what a stage cannot process goes to ``newsflow.deadletter`` with the reason.

Nothing is dropped silently: the original bytes travel along (as text and base64), with the stage,
the error class and message and a timestamp, and a per-stage counter goes up.

A dead letter is itself bounded so that sending it can never fail for its size: the text preview
is cut to ``preview_bytes`` (``settings.deadletter_preview_bytes``) and the exact base64 copy is
kept only for originals up to ``b64_max_bytes`` (``settings.max_article_bytes``): anything bigger
was refused for its size and the reason says how big it was.

``guarded`` (one message) and ``guarded_batch`` (several, the step run once over them) are the one
place where a stage turns bytes into a result or a dead letter; the Faust agents
(``agents.stages.run_stage``) and the offline hostile-input tests both call them, so the tests
exercise the exact parse and limit logic of the worker.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from pipeline.enrich import batch_or_each
from schemas import DeadLetter

if TYPE_CHECKING:  # the settings object is passed in; agents never build one
    from newsflow.settings import Settings

PREVIEW_BYTES = 65_536
KEY_CHARS = 4_096


class TooLarge(ValueError):
    """A message (or a stage's result) above the configured size limit."""


class EmptyMessage(ValueError):
    """A message without a value (a tombstone) or with zero bytes."""


def dead_letter(
    stage: str,
    key: bytes | None,
    value: bytes | None,
    exc: BaseException,
    *,
    preview_bytes: int = PREVIEW_BYTES,
    b64_max_bytes: int = 5_000_000,
) -> DeadLetter:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    else:
        raw = str(value).encode("utf-8", "replace") if value is not None else b""
    if isinstance(key, bytes | bytearray | memoryview):
        key_text: str | None = bytes(key).decode("utf-8", "replace")
    else:
        key_text = None if key is None else str(key)
    return DeadLetter(
        stage=stage,
        error_class=type(exc).__name__,
        error=str(exc)[:2000] or type(exc).__name__,
        key=key_text[:KEY_CHARS] if key_text is not None else None,
        original=raw[:preview_bytes].decode("utf-8", "replace"),
        original_b64=base64.b64encode(raw).decode() if len(raw) <= b64_max_bytes else None,
        at=datetime.now(UTC),
    )


def minimal_dead_letter(stage: str, key: bytes | None, exc: BaseException, why: BaseException) -> DeadLetter:
    """Last resort when even the bounded dead letter could not be built or sent: the reason only."""
    k = bytes(key).decode("utf-8", "replace")[:KEY_CHARS] if isinstance(key, bytes) else None
    return DeadLetter(
        stage=stage,
        error_class=type(exc).__name__,
        error=f"{str(exc)[:1000]} (original dropped: {type(why).__name__}: {str(why)[:500]})",
        key=k,
        original="",
        original_b64=None,
        at=datetime.now(UTC),
    )


@dataclass(frozen=True)
class Limits:
    max_in: int  # bytes of an incoming message
    max_out: int  # bytes of a stage's serialized result (must fit the producer's max_request_size)
    preview_bytes: int = PREVIEW_BYTES
    b64_max_bytes: int = 5_000_000


@dataclass
class Outcome:
    data: bytes | None = None  # the serialized result, when the stage succeeded
    error: BaseException | None = None
    letter: DeadLetter | None = None


def check_input(value: bytes | None, limits: Limits) -> bytes:
    if value is None:
        raise EmptyMessage("message has no value (tombstone)")
    if len(value) == 0:
        raise EmptyMessage("message value is empty")
    if len(value) > limits.max_in:
        raise TooLarge(f"message of {len(value)} bytes exceeds the limit of {limits.max_in} bytes (max_article_bytes)")
    return value


def finish(result: Any, limits: Limits) -> bytes:
    data: bytes = result.to_bytes()
    if len(data) > limits.max_out:
        raise TooLarge(f"result of {len(data)} bytes exceeds the limit of {limits.max_out} bytes (max_output_bytes)")
    return data


def guarded(
    stage: str,
    key: bytes | None,
    value: bytes | None,
    parse: Callable[[bytes], Any],
    step: Callable[[Any], Any],
    limits: Limits,
) -> Outcome:
    """Parse, run the pure step and serialize, within the limits; any failure becomes a dead letter."""
    try:
        return Outcome(data=finish(step(parse(check_input(value, limits))), limits))
    except Exception as exc:  # noqa: BLE001 - every failure is dead-lettered, never lost
        return Outcome(error=exc, letter=letter_for(stage, key, value, exc, limits))


def guarded_batch(
    stage: str,
    messages: Sequence[tuple[bytes | None, bytes | None]],
    parse: Callable[[bytes], Any],
    step: Callable[[Any], Any],
    batch_step: Callable[[list[Any]], Sequence[Any]],
    limits: Limits,
) -> list[Outcome]:
    """``guarded`` over ``(key, value)`` messages, the step run once over all that parse. If the
    batch step fails, each message is stepped alone, so the error lands on the message that
    caused it and the others go through."""
    outcomes: list[Outcome | None] = [None] * len(messages)
    parsed: dict[int, Any] = {}
    for i, (key, value) in enumerate(messages):
        try:
            parsed[i] = parse(check_input(value, limits))
        except Exception as exc:  # noqa: BLE001 - every failure is dead-lettered, never lost
            outcomes[i] = Outcome(error=exc, letter=letter_for(stage, key, value, exc, limits))
    results = batch_or_each(batch_step, step, list(parsed.values()))
    for i, result in zip(parsed, results, strict=True):
        key, value = messages[i]
        if isinstance(result, Exception):
            outcomes[i] = Outcome(error=result, letter=letter_for(stage, key, value, result, limits))
            continue
        try:
            outcomes[i] = Outcome(data=finish(result, limits))
        except Exception as exc:  # noqa: BLE001
            outcomes[i] = Outcome(error=exc, letter=letter_for(stage, key, value, exc, limits))
    return cast(list[Outcome], outcomes)  # every message has its outcome by now


def letter_for(stage: str, key: bytes | None, value: bytes | None, exc: BaseException, limits: Limits) -> DeadLetter:
    try:
        return dead_letter(
            stage, key, value, exc, preview_bytes=limits.preview_bytes, b64_max_bytes=limits.b64_max_bytes
        )
    except Exception as why:  # noqa: BLE001
        return minimal_dead_letter(stage, key, exc, why)


def limits_for(settings: Settings, stage: str) -> Limits:
    """The limits of ``stage`` under ``settings``.

    Raw messages are held to ``max_article_bytes``; later stages carry the article forward with
    what earlier stages added, so they accept anything an earlier stage was allowed to emit.
    Results stay below the producer's request size (``settings.max_request_bytes``) with room
    for the record overhead.
    """
    max_out = max(1024, min(settings.max_output_bytes, settings.max_request_bytes - 65_536))
    max_in = settings.max_article_bytes
    if stage not in ("clean", "raw"):
        max_in = max(max_in, max_out)
    return Limits(
        max_in=max_in,
        max_out=max_out,
        preview_bytes=settings.deadletter_preview_bytes,
        b64_max_bytes=settings.max_article_bytes,
    )
