"""Dead letters: what a stage cannot process goes to ``newsflow.deadletter`` with the reason.

Nothing is dropped silently: the original bytes travel along (as text and base64), with the stage,
the error class and message and a timestamp, and a per-stage counter goes up.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

from schemas import DeadLetter


def dead_letter(stage: str, key: bytes | None, value: bytes | None, exc: BaseException) -> DeadLetter:
    raw = value if isinstance(value, bytes) else (str(value).encode() if value is not None else b"")
    return DeadLetter(
        stage=stage,
        error_class=type(exc).__name__,
        error=str(exc)[:2000] or type(exc).__name__,
        key=key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
        original=raw[:1_000_000].decode("utf-8", "replace"),
        original_b64=base64.b64encode(raw).decode() if len(raw) <= 8_000_000 else None,
        at=datetime.now(timezone.utc),
    )
