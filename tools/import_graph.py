"""The import graph of ``src/barrage``, drawn from the code, and the rules it must keep.

Parsed with :mod:`ast` (nothing is imported or run). Every ``import`` counts, at module
level or inside a function, since an import inside a function still ties two modules
together; it only hides the tie from a reader. The rules:

- no circle between modules, inside a part or across parts (a circle through a package's
  ``__init__`` counts);
- no import back up a floor: a part imports only parts on lower floors (:data:`FLOORS`),
  besides the shared modules (:data:`SHARED`);
- each CLI command makes one library call (listed per command; a command with more is
  named, so the count can only go down);
- no function over :data:`MAX_FUNCTION_LINES` lines outside the numeric kernels
  (:data:`KERNELS`).

    python tools/import_graph.py            # print the findings; exit 1 if a rule breaks
    python tools/import_graph.py --write    # also redraw the graph in docs/architecture.md

The drawn part of docs/architecture.md lies between two markers and is replaced whole;
the tour above it is written by hand.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "barrage"
DOC = REPO / "docs" / "architecture.md"
BEGIN, END = "<!-- import-graph:begin -->", "<!-- import-graph:end -->"

#: Parts from the bottom floor up; a part may import only parts on a lower floor.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("record",),
    ("indicators", "stockpile", "salvo"),
    ("warning", "grid"),
    ("campaign",),
    ("compute",),
    ("report",),
    ("pipeline",),
    ("web",),
    ("cli",),
)
#: Modules every part may import (the package root, the error types, bounded file reads
#: and the memory budget).
SHARED = frozenset({"barrage", "barrage.errors", "barrage.files", "barrage.budget"})
#: CLI commands that still make more than one library call: (module, function) -> why.
#: Argument checks (check_scheduler, check_workers) and the scenario catalogue used to
#: resolve a name count as calls here, so the list errs on the long side.
MANY_CALLS: dict[tuple[str, str], str] = {}
#: Functions may run to this many lines; only the kernels below may run longer.
MAX_FUNCTION_LINES = 80
#: Numeric kernels kept whole on purpose (the function's docstring says why).
KERNELS = {"salvo/engine.py:_simulate_rows"}


@dataclass(frozen=True)
class Edge:
    """One import statement: ``source`` imports ``target`` (both module names)."""

    source: str
    target: str
    line: int
    in_function: bool


def module_name(path: Path, root: Path = SRC) -> str:
    """``barrage.warning.assess`` for ``src/barrage/warning/assess.py`` (a package: its name)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = SRC) -> dict[str, Path]:
    """Every module of the package by name."""
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def part_of(module: str) -> str:
    """The part (first sub-package) a module belongs to; the root and shared modules are
    their own name."""
    bits = module.split(".")
    return module if len(bits) < 2 or module in SHARED else bits[1]


def _targets(node: ast.AST, package: str, known: dict[str, Path]) -> list[str]:
    """The barrage modules one import statement names (a name imported from a package
    that is itself a module counts as that module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    found = []
    for alias in node.names:
        sub = f"{mod}.{alias.name}"
        if sub in known:
            found.append(sub)
        elif mod in known:
            found.append(mod)
    return found


def edges(root: Path = SRC) -> list[Edge]:
    """Every import between two barrage modules, with where it stands."""
    known = modules(root)
    out: list[Edge] = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_fn = {
            id(n)
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            for n in ast.walk(f)
        }
        for node in ast.walk(tree):
            for target in _targets(node, package, known):
                if target != name:
                    out.append(Edge(name, target, node.lineno, id(node) in in_fn))
    return out


def circles(found: list[Edge]) -> list[list[str]]:
    """Each set of modules that import one another round a circle, sorted."""
    graph = nx.DiGraph([(e.source, e.target) for e in found])
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def floor_of(part: str) -> int:
    """The floor a part stands on (an undeclared part: -1, which every rule refuses)."""
    return next((i for i, parts in enumerate(FLOORS) if part in parts), -1)


def upward(found: list[Edge]) -> list[str]:
    """Each import of a part on the same or a higher floor (or of an undeclared part)."""
    bad = []
    for e in found:
        a, b = part_of(e.source), part_of(e.target)
        if a == b or e.target in SHARED or a in SHARED:
            continue
        if floor_of(a) < 0 or floor_of(b) < 0 or floor_of(b) >= floor_of(a):
            bad.append(f"{e.source}:{e.line} imports {e.target} ({a} -> {b})")
    return bad


def _imported_names(tree: ast.Module, package: str, known: dict[str, Path]) -> dict[str, str]:
    """Name bound by a ``from barrage.x import name`` anywhere in the file -> what it names
    (the module itself, or ``module.name``). Error types are left out: raising one is not
    a library call."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not _targets(node, package, known):
            continue
        mod = node.module or ""
        if node.level:
            bits = package.split(".")
            mod = ".".join(bits[: len(bits) - (node.level - 1)] + ([mod] if mod else []))
        for alias in node.names:
            full = f"{mod}.{alias.name}"
            if mod not in SHARED:
                names[alias.asname or alias.name] = full
    return names


def _is_command(fn: ast.FunctionDef) -> bool:
    """Decorated with ``@<app>.command(...)``."""
    for d in fn.decorator_list:
        call = d.func if isinstance(d, ast.Call) else d
        if isinstance(call, ast.Attribute) and call.attr == "command":
            return True
    return False


def _calls(fn: ast.AST) -> list[str]:
    """The plain names called in a function body, in order."""
    return [
        n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    ]


def command_calls(root: Path = SRC) -> dict[tuple[str, str], list[str]]:
    """Each CLI command -> the library functions it calls, directly or through the CLI's
    own helpers in the same file (rendering helpers that call no library add nothing)."""
    known = modules(root)
    out: dict[tuple[str, str], list[str]] = {}
    for path in sorted((root / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = module_name(path, root)
        imported = _imported_names(tree, name.rsplit(".", 1)[0], known)
        local = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
        for fn in local.values():
            if not _is_command(fn):
                continue
            seen: list[str] = []
            todo, visited = [fn], set()
            while todo:
                f = todo.pop()
                visited.add(f.name)
                for called in _calls(f):
                    target = imported.get(called, "")
                    if target.startswith("barrage.") and not target.startswith("barrage.cli"):
                        if target not in seen:
                            seen.append(target)
                    elif called in local and called not in visited:
                        todo.append(local[called])
            out[(name, fn.name)] = seen
    return out


def many_calls(calls: dict[tuple[str, str], list[str]]) -> list[str]:
    """The commands with more than one library call that :data:`MANY_CALLS` does not excuse."""
    return [
        f"{m}.{f}: {len(c)} library calls ({', '.join(c)})"
        for (m, f), c in calls.items()
        if len(c) > 1 and (m, f) not in MANY_CALLS
    ]


def long_functions(root: Path = SRC) -> list[tuple[int, str]]:
    """(lines, ``path:function``) of each function over :data:`MAX_FUNCTION_LINES`, longest
    first (nested functions count inside their parent and on their own)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    out.append((n, f"{path.relative_to(root).as_posix()}:{node.name}"))
    return sorted(out, reverse=True)


def _mermaid(found: list[Edge]) -> list[str]:
    """One flowchart: a box per floor holding its parts, an arrow per imported part."""
    lines = ["```mermaid", "flowchart BT"]
    for i, parts in enumerate(FLOORS):
        lines.append(f'  subgraph floor{i}["floor {i}"]')
        lines += [f"    {p}" for p in parts]
        lines.append("  end")
    pairs = Counter(
        (part_of(e.source), part_of(e.target))
        for e in found
        if part_of(e.source) != part_of(e.target) and e.target not in SHARED
        and e.source not in SHARED
    )  # fmt: skip
    lines += [f"  {a} --> {b}" for (a, b) in sorted(pairs)]
    lines.append("```")
    return lines


def _floor_table(found: list[Edge]) -> list[str]:
    """Per floor and part: its modules and the parts it imports (with how many imports)."""
    mods: dict[str, list[str]] = defaultdict(list)
    for m in modules():
        mods[part_of(m)].append(m.split(".", 2)[-1] if m.count(".") > 1 else "__init__")
    deps: dict[str, Counter] = defaultdict(Counter)
    for e in found:
        a, b = part_of(e.source), part_of(e.target)
        if a != b and e.target not in SHARED and e.source not in SHARED:
            deps[a][b] += 1
    lines = ["| floor | part | modules | parts it imports (import edges) |", "|---|---|---|---|"]
    for i, parts in reversed(list(enumerate(FLOORS))):
        for p in parts:
            uses = ", ".join(f"{b} ({n})" for b, n in sorted(deps[p].items())) or "-"
            lines.append(f"| {i} | {p} | {', '.join(sorted(mods[p]))} | {uses} |")
    return lines


def drawn_section(found: list[Edge]) -> str:
    """The generated part of docs/architecture.md (between the markers)."""
    calls = command_calls()
    inside = sum(e.in_function for e in found)
    lines = [
        BEGIN,
        "<!-- drawn by tools/import_graph.py --write; do not edit by hand -->",
        "",
        "### Parts and floors",
        "",
        *_mermaid(found),
        "",
        *_floor_table(found),
        "",
        f"{len(found)} import statements between barrage modules ({inside} inside "
        f"functions); circles: {len(circles(found))}; imports back up a floor: "
        f"{len(upward(found))}.",
        "",
        "### Library calls per CLI command",
        "",
        "| command (module.function) | library calls | why more than one |",
        "|---|---|---|",
    ]
    for (m, f), c in sorted(calls.items()):
        why = MANY_CALLS.get((m, f), "")
        lines.append(f"| {m.removeprefix('barrage.cli.')}.{f} | {', '.join(c) or '-'} | {why} |")
    lines += [
        "",
        f"### Functions over {MAX_FUNCTION_LINES} lines",
        "",
        "| lines | function | kept whole |",
        "|---|---|---|",
        *[
            f"| {n} | {name} | {'numeric kernel' if name in KERNELS else 'to split (a rule broken)'} |"
            for n, name in long_functions()
        ],
        "",
        END,
    ]
    return "\n".join(lines)


def redraw(doc: Path, section: str) -> str:
    """``doc``'s text with the drawn section replaced (appended when it has none)."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + section + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + section + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="redraw docs/architecture.md")
    args = parser.parse_args()
    found = edges()
    problems = [f"circle: {' <-> '.join(c)}" for c in circles(found)]
    problems += [f"upward: {b}" for b in upward(found)]
    problems += [f"many calls: {b}" for b in many_calls(command_calls())]
    problems += [f"long: {f} ({n} lines)" for n, f in long_functions() if f not in KERNELS]
    if args.write:
        DOC.write_text(redraw(DOC, drawn_section(found)), encoding="utf-8")
        print(f"wrote {DOC.relative_to(REPO)}")
    elif DOC.exists() and redraw(DOC, drawn_section(found)) != DOC.read_text(encoding="utf-8"):
        problems.append(f"{DOC.relative_to(REPO)} is out of date: run with --write")
    for p in problems:
        print(p)
    print(f"{len(found)} imports, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
