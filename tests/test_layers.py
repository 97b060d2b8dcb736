"""Layers (as in VIEWS): a lower part never imports a higher one. Parsed from source."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "barrage"
SHARED = {"errors"}  # modules every part may use, besides the package root
ALLOWED: dict[str, set[str]] = {
    "record": set(),
    "indicators": {"record"},
    "stockpile": {"record"},
    "warning": {"record", "indicators", "stockpile"},
    "salvo": {"record"},
    "grid": {"record", "salvo"},
    "campaign": {"record", "indicators", "stockpile", "warning", "salvo", "grid"},
    "compute": {"record", "indicators", "stockpile", "warning", "salvo", "grid", "campaign"},
    "report": {
        "record",
        "indicators",
        "stockpile",
        "warning",
        "salvo",
        "grid",
        "compute",
        "campaign",
    },
    "web": {
        "record",
        "indicators",
        "stockpile",
        "warning",
        "salvo",
        "grid",
        "campaign",
        "compute",
        "report",
    },
    "cli": {
        "record",
        "indicators",
        "stockpile",
        "warning",
        "salvo",
        "grid",
        "campaign",
        "compute",
        "report",
        "web",
    },
}


def _imports(path: Path, root: Path = SRC) -> set[str]:
    """The barrage parts a module imports (absolute or relative)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    part = path.relative_to(root).parts[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                names = [f"barrage.{part}"]
            elif node.level >= 2:
                names = [f"barrage.{node.module or ''}"]
            elif node.module:
                names = [node.module]
                if node.module == "barrage":
                    names = [f"barrage.{a.name}" for a in node.names]
        for name in names:
            bits = name.split(".")
            if bits[0] == "barrage" and len(bits) > 1:
                found.add(bits[1])
    return found


def test_every_part_is_declared():
    parts = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert parts <= set(ALLOWED), f"undeclared parts: {parts - set(ALLOWED)}"


def test_no_upward_imports():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if len(rel.parts) < 2:
            continue
        part = rel.parts[0]
        for dep in _imports(path) - {part} - SHARED - {"__version__", "ATTRIBUTION"}:
            if dep not in ALLOWED.get(part, set()):
                bad.append(f"{rel} imports barrage.{dep}")
    assert bad == []


def test_the_checker_sees_an_upward_import(tmp_path):
    """The parser itself: a relative and an absolute upward import are both found."""
    probe = tmp_path / "barrage" / "record"
    probe.mkdir(parents=True)
    (probe / "x.py").write_text(
        "import numpy\nfrom barrage.warning import thing\nfrom ..web import app\nfrom . import store\n"
    )
    assert _imports(probe / "x.py", tmp_path / "barrage") == {"warning", "web", "record"}
