"""Which models and data files this process loaded, named by a hash of their content.

Every loader calls ``register`` when it opens a model, so a worker can say at start (and on
``/health``) exactly what it runs, and every record can say which models produced it. A model
that is required and absent is an error here, never a silent fallback: ``require`` raises
``ModelMissingError`` naming the path that was looked for.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from schemas import ModelRef

_lock = threading.Lock()
_loaded: dict[tuple[str, str], ModelRef] = {}


class ModelMissingError(RuntimeError):
    """A model a stage needs is not where the installed package should have it."""


def require(path: Path, what: str) -> Path:
    """``path`` if it exists, else a loud error that names it (a broken install must not degrade quietly)."""
    if not path.exists():
        raise ModelMissingError(
            f"{what} not found at {path}: the installed package is incomplete (reinstall newsflow), "
            "or choose a mode that does not need it in the settings"
        )
    return path


def content_hash(path: Path) -> str:
    """SHA-256 over a file, or over every file below a folder (relative names and bytes, in name order)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(f.relative_to(path).as_posix().encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def register(stage: str, name: str, path: Path) -> ModelRef:
    """Record that ``stage`` loaded ``name`` from ``path``; hashing happens once per model."""
    key = (stage, name)
    with _lock:
        ref = _loaded.get(key)
        if ref is None:
            ref = ModelRef(stage=stage, name=name, version=content_hash(require(path, f"model {name!r}")))
            _loaded[key] = ref
        return ref


def loaded(stage: str | None = None) -> list[ModelRef]:
    """What has been registered so far, for one stage or all, in registration order."""
    with _lock:
        return [r for (s, _), r in _loaded.items() if stage is None or s == stage]
