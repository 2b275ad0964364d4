"""``python -m evals.bench --quick`` runs end to end and writes every section with positive numbers.

Only the shape of the report is checked, never a timing: figures depend on the machine and its load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.kafka, pytest.mark.slow]

POSITIVE = {
    "compute": ["articles", "words", "articles_per_s", "words_per_s", "ms_per_article", "serde_ms_per_article"],
    "kafka": ["messages", "seconds", "messages_per_s", "mb_per_s"],
    "e2e_1w": ["articles", "seconds", "articles_per_s"],
    "e2e_2w": ["articles", "seconds", "articles_per_s"],
    "latency": ["offered_per_s", "n", "p50_ms", "p95_ms", "p99_ms"],
    "dedup_stage": ["articles", "seconds", "articles_per_s"],
    "memory": ["long_articles", "rss_start_mb", "rss_end_mb"],
}


def test_bench_quick_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "evals.bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    for section, keys in POSITIVE.items():
        assert section in report, section
        for key in keys:
            assert report[section][key] > 0, (section, key, report[section][key])
    for stage in ("clean", "entities", "classify", "dedup"):
        assert report["compute"]["stage_share"][stage] > 0
    mem = report["memory"]
    assert all(x > 0 for x in mem["peak_rss_mb_1w"]) and len(mem["peak_rss_mb_1w"]) == 1
    assert all(x > 0 for x in mem["peak_rss_mb_2w"]) and len(mem["peak_rss_mb_2w"]) == 2
    assert len(mem["rss_samples_mb"]) >= 2
    assert set(report["ratios"]) and all(v > 0 for v in report["ratios"].values())
    assert "compute ceiling articles/s" in proc.stdout
    assert set(report["classify_short"]) == {"title only", "title + 30 words"}
    assert all(v > 0 for v in report["classify_short"].values())
