"""Writes the JSON Schema of each public model into ``schemas/json/`` (``python -m schemas.generate``).

The files are committed so consumers in other languages can read the contract without Python;
``tests/test_schemas.py`` fails when a model changes and the files were not regenerated.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from schemas.models import DeadLetter, EnrichedArticle, RawArticle

PUBLIC: dict[str, type[BaseModel]] = {
    "raw_article": RawArticle,
    "enriched_article": EnrichedArticle,
    "dead_letter": DeadLetter,
}
OUT = Path(__file__).parent / "json"


def render(model: type[BaseModel]) -> bytes:
    return orjson.dumps(model.model_json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, model in PUBLIC.items():
        (OUT / f"{name}.schema.json").write_bytes(render(model))


if __name__ == "__main__":
    main()
