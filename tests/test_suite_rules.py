"""Rules the test suite keeps so that it passes on a busy machine and on a fast one
(docs/testing.md): no assertion that work was fast, and no implicit Hypothesis deadline."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent

#: An assertion comparing a measured duration with an upper bound: ``assert elapsed < 2``,
#: ``assert time.perf_counter() - t0 < 0.5``. (A lower bound, "took at least", is safe.)
UPPER_BOUND_ON_TIME = re.compile(
    r"assert\b.*("
    r"(elapsed|duration|seconds|secs)\w*\s*<"
    r"|(perf_counter|monotonic|time)\(\)\s*-\s*\w+\s*<"
    r")"
)


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.glob("*.py") if p.name != Path(__file__).name)


def test_no_test_asserts_that_work_was_fast():
    hits = [
        f"{path.name}:{i}: {line.strip()}"
        for path in _test_files()
        for i, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if UPPER_BOUND_ON_TIME.search(line)
    ]
    assert hits == []


def test_the_rule_catches_what_it_is_for():
    for line in (
        "assert elapsed < 0.5, elapsed",
        "assert time.perf_counter() - t0 < 0.5",
        "assert elapsed < 2 and peak < 50e6",
    ):
        assert UPPER_BOUND_ON_TIME.search(line), line
    assert not UPPER_BOUND_ON_TIME.search("assert time.monotonic() - t0 > 4.0")


def _settings_with_deadline(node: ast.expr, named: set[str]) -> bool:
    """``settings(..., deadline=...)`` or a module-level name bound to one."""
    if isinstance(node, ast.Name):
        return node.id in named
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "settings"
        and any(k.arg == "deadline" for k in node.keywords)
    )


def _given_without_deadline(source: str) -> list[str]:
    tree = ast.parse(source)
    named = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _settings_with_deadline(node.value, set())
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorators = node.decorator_list
        given = any(getattr(getattr(d, "func", d), "id", None) == "given" for d in decorators)
        if given and not any(_settings_with_deadline(d, named) for d in decorators):
            out.append(node.name)
    return out


def test_every_hypothesis_test_sets_its_deadline():
    missing = [
        f"{path.name}::{name}"
        for path in _test_files()
        for name in _given_without_deadline(path.read_text("utf-8"))
    ]
    assert missing == []


def test_the_deadline_rule_catches_a_bare_given():
    bare = "from hypothesis import given\n@given(x=1)\ndef test_a(x):\n    pass\n"
    ok = "S = settings(deadline=None)\n@S\n@given(x=1)\ndef test_a(x):\n    pass\n"
    assert _given_without_deadline(bare) == ["test_a"]
    assert _given_without_deadline(ok) == []
