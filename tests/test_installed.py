"""What users install is what we measure: build the wheel from the tracked files, install it into a
fresh virtual environment outside the checkout, and enrich with the *installed* package.

The fresh environment borrows the already-installed third-party dependencies through a ``.pth``
line (installing spaCy and friends again would only re-test pip); newsflow itself comes from the
wheel alone, which is what the test is about (``evals.installed``, also behind ``make eval-*``).
A missing model must stop the CLI with the path it looked for, never degrade to rules without a word.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from evals.installed import build_installed_venv
from pipeline.entities import MODEL_DIRS
from pipeline.model_registry import content_hash

ROOT = Path(__file__).resolve().parents[1]
# Reuters-style lines the trained model tags and the rules of ``fast`` mode get wrong or miss.
CONLL_STYLE = (
    "Germany's representative to the European Union's veterinary committee, Werner Zwingmann, said on "
    "Wednesday consumers should buy sheepmeat from countries other than Britain. "
    "Fischler proposed EU-wide measures after reports from Britain and France that under laboratory "
    "conditions sheep could contract Bovine Spongiform Encephalopathy."
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (outside the checkout) with newsflow installed from a freshly built wheel."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files a clone has")
    return build_installed_venv(tmp_path_factory.mktemp("installed") / "venv")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def _enrich(venv: Path, workdir: Path, mode: str) -> list[dict]:  # type: ignore[type-arg]
    inputs = workdir / "in"
    inputs.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "seeds" / "000_6b2718a8a06e0f9d.txt", inputs / "000_seed.txt")
    (inputs / "conll.jsonl").write_text(json.dumps({"id": "conll", "title": "EU farm ministers", "body": CONLL_STYLE}))
    out = workdir / f"{mode}.jsonl"
    run = subprocess.run(
        [str(venv / "bin/newsflow"), "enrich", str(inputs), "-o", str(out)],
        cwd=workdir,
        env=_env(NEWSFLOW_ENTITY_MODE=mode),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_wheel_runs_the_packaged_model(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin/python"), "-c", "import pipeline; print(pipeline.__file__)"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(installed)), f"pipeline imported from {where}, not from the installed wheel"

    taggers = {mode: path.name for mode, path in MODEL_DIRS.items()}
    encoder_version = content_hash(ROOT / "pipeline" / "models" / "minilm")
    for mode, name in taggers.items():
        records = {r["id"]: r for r in _enrich(installed, tmp_path / mode, mode)}
        assert len(records) == 2 and "conll" in records, sorted(records)
        ner_version = content_hash(ROOT / "pipeline" / "models" / name)
        for record in records.values():
            used = {(m["stage"], m["name"]): m["version"] for m in record["models"]}
            assert used.get(("entities", name)) == ner_version, (mode, used)
            assert not {("entities", other) for other in taggers.values() if other != name} & set(used), used
            assert ("classify", "classify_model") in used and ("classify", "word_vectors") in used
            # The sentence encoder ships in the wheel too, byte for byte.
            assert used.get(("classify", "sentence_encoder")) == encoder_version, used

        found = {(m["text"], m["label"]) for m in records["conll"]["entities"]}
        assert ("Werner Zwingmann", "PERSON") in found, (mode, found)
        assert any(label == "ORG" and "European Union" in text for text, label in found), (mode, found)

    # The rules-only mode, asked for by setting, says so and finds something else.
    fast = {r["id"]: r for r in _enrich(installed, tmp_path / "fast", "fast")}["conll"]
    assert not {("entities", name) for name in taggers.values()} & {(m["stage"], m["name"]) for m in fast["models"]}
    assert {(m["text"], m["label"]) for m in fast["entities"]} != found


@pytest.mark.parametrize("mode", sorted(MODEL_DIRS))
def test_missing_model_is_a_loud_error(installed: Path, tmp_path: Path, mode: str) -> None:
    name = MODEL_DIRS[mode].name
    model = next((installed / "lib").glob(f"python3*/site-packages/pipeline/models/{name}"))
    hidden = model.with_name(f"{name}.hidden")
    model.rename(hidden)
    try:
        (tmp_path / "in.jsonl").write_text(json.dumps({"id": "x", "title": "T", "body": CONLL_STYLE}))
        run = subprocess.run(
            [str(installed / "bin/newsflow"), "enrich", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl")],
            cwd=tmp_path,
            env=_env(NEWSFLOW_ENTITY_MODE=mode),
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        hidden.rename(model)
    assert run.returncode != 0
    assert str(model) in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
