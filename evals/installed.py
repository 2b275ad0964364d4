"""Measure what users install: build the wheel from the files a clone has, install it into a venv
outside the tree, and run an eval module against that installed package.

    python evals/installed.py build .run/wheel-venv      # (re)build the venv from the current tree
    .run/wheel-venv/bin/python -P evals/installed.py run clean [eval args...]

``run`` puts the repository root *after* site-packages on ``sys.path``, so ``evals`` comes from the
tree and ``pipeline``/``schemas`` from the installed wheel; it refuses to run when they do not. The
venv borrows the third-party dependencies of the development venv through a ``.pth`` line, so only
newsflow itself comes from the wheel (which is what can go missing).
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_copy(dest: Path) -> Path:
    """The files a fresh clone would have (tracked plus new, not ignored): no stale build/ folder."""
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, names):
        src = ROOT / raw.decode()
        if src.is_file():
            target = dest / raw.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def build_installed_venv(venv: Path, python: str = sys.executable) -> Path:
    """A fresh venv at ``venv`` with newsflow installed from a wheel built now; returns ``venv``."""
    shutil.rmtree(venv, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = tracked_copy(Path(tmp) / "src")
        wheels = Path(tmp) / "wheels"
        subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(wheels)], check=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        site = next((venv / "lib").glob("python3*/site-packages"))
        (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        (wheel,) = wheels.glob("newsflow-*.whl")
        pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)]
        subprocess.run(pip, check=True)
    return venv


def run_installed(module: str, args: list[str]) -> None:
    """Run ``evals.<module>`` with the installed pipeline; refuse if the tree's would be imported."""
    sys.path.append(str(ROOT))
    import pipeline

    where = Path(pipeline.__file__).resolve()
    if where.parent == ROOT / "pipeline":
        raise SystemExit(f"refusing to measure the source tree ({where}); run with the installed venv's python -P")
    print(f"measuring the installed package: {where.parent}", flush=True)
    sys.argv = [f"evals.{module}", *args]
    runpy.run_module(f"evals.{module}", run_name="__main__", alter_sys=True)


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "build":
        build_installed_venv(Path(argv[1]).resolve())
    elif len(argv) >= 2 and argv[0] == "run":
        run_installed(argv[1], argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
