"""Quality measurements on ``../shared/data`` (never copied into the repo): ``make eval-*``."""

from pathlib import Path
import os

DATA = Path(os.environ.get("NEWSFLOW_EVAL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
