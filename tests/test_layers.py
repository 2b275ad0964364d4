"""Top-level packages import one way only: schemas ← pipeline ← agents ← newsflow ← testing.

A package may import the packages to its left, never those to its right (``tests`` and ``evals``
sit on top and may import everything). Imports inside ``if TYPE_CHECKING:`` are left out: they
let ``agents`` annotate the settings object it is handed without ever loading ``newsflow``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("schemas", "pipeline", "agents", "newsflow", "testing")
ABOVE_ALL = ("tests", "evals")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_packages(source: str) -> list[tuple[int, str]]:
    """``(line, top-level package)`` of every absolute import that runs (not type-checking only)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def wrong_way(package: str, source: str) -> list[str]:
    """The imports in ``source`` (a module of ``package``) that point to a higher layer."""
    rank = LAYERS.index(package)
    forbidden = set(LAYERS[rank + 1 :]) | set(ABOVE_ALL)
    return [f"line {line}: imports {target}" for line, target in imported_packages(source) if target in forbidden]


@pytest.mark.parametrize("package", LAYERS)
def test_package_imports_only_lower_layers(package: str) -> None:
    problems = [
        f"{path.relative_to(ROOT)} {p}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for p in wrong_way(package, path.read_text(encoding="utf-8"))
    ]
    assert not problems, "imports against the layers " + " ← ".join(LAYERS) + ":\n" + "\n".join(problems)


def test_the_check_catches_a_wrong_way_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from newsflow.settings import Settings\n"
        "from schemas import RawArticle\n"
        "def f():\n    from newsflow.kafka import producer\n"
        "import agents.sink\n"
    )
    assert wrong_way("pipeline", source) == ["line 6: imports newsflow", "line 7: imports agents"]
    assert wrong_way("agents", source) == ["line 6: imports newsflow"]
    assert wrong_way("testing", source) == []


def test_importing_the_runtime_builds_nothing() -> None:
    """No app, settings object or file sink is created at import; ``build_app`` does that."""
    import subprocess
    import sys

    probe = (
        "import faust, pkgutil, importlib\n"
        "from newsflow import settings\n"
        "made = []\n"
        "faust.App.__init__ = lambda self, *a, **k: made.append('app')\n"
        "settings.Settings.__init__ = lambda self, *a, **k: made.append('settings')\n"
        "import agents, newsflow\n"
        "for pkg in (agents, newsflow):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{pkg.__name__}.{m.name}')\n"
        "print(made)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
