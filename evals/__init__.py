"""Quality measurements on ``../shared/data`` (never copied into the repo): ``make eval-*``."""

import os
from pathlib import Path

DATA = Path(os.environ.get("NEWSFLOW_EVAL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
