"""Targets: what counts as a massive strike night, as a safe expression over night totals.

A target is a boolean expression over one night's launches, e.g. ``missiles >= 30`` or
``missiles >= 30 or attack_drones >= 400``. It is parsed with :mod:`ast` against a
whitelist (names, numbers, arithmetic, comparisons, ``and``/``or``/``not``): nothing is
ever passed to ``eval``. The compiled target evaluates on whole arrays at once.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from barrage.errors import InputError

#: Night-total variables a target may use (launched weapons per night), and what they sum.
TARGET_VARIABLES: dict[str, tuple[str, ...]] = {
    "missiles": ("cruise_missile", "ballistic_missile", "mixed_missile"),
    "cruise_missiles": ("cruise_missile",),
    "ballistic_missiles": ("ballistic_missile",),
    "mixed_missiles": ("mixed_missile",),
    "attack_drones": ("attack_drone",),
    "tactical_drones": ("tactical_drone",),
    "recon_drones": ("recon_drone",),
    "guided_bombs": ("guided_bomb",),
    "drones": ("attack_drone", "tactical_drone"),
    "total": (
        "attack_drone",
        "tactical_drone",
        "cruise_missile",
        "ballistic_missile",
        "mixed_missile",
        "guided_bomb",
        "unknown",
    ),
}

#: Named targets offered by default. ``massive_combined`` is the headline (barrage asks
#: about a massive drone strike as much as a missile one: in 2025, 18 nights had 400 or
#: more attack drones and 9 of them fewer than 30 missiles); ``massive_missiles`` is kept
#: registered beside it; ``massive_any`` is the combined target's earlier name.
BUILTIN_TARGETS: dict[str, str] = {
    "massive_combined": "missiles >= 30 or attack_drones >= 400",
    "massive_missiles": "missiles >= 30",
    "massive_drones": "attack_drones >= 400",
    "massive_any": "missiles >= 30 or attack_drones >= 400",
}
#: The targets the warning registers (docs/warning-registration.md), headline first.
REGISTERED_TARGETS: tuple[str, ...] = ("massive_combined", "massive_missiles")
DEFAULT_TARGET = "massive_combined"

_BINOPS: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: np.divide,
}
_CMPOPS: dict[type, Callable] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
#: Bracket nesting allowed in a target expression (guards the recursive parser).
MAX_NESTING = 10
MAX_EXPRESSION_CHARS = 500


def _compile(node: ast.AST, expr: str) -> Callable[[Mapping[str, np.ndarray]], object]:
    """Turn a whitelisted AST node into a closure over a mapping of arrays."""
    if isinstance(node, ast.Expression):
        return _compile(node.body, expr)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, expr) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

        def boolop(env):
            out = np.asarray(parts[0](env), dtype=bool)
            for p in parts[1:]:
                out = combine(out, np.asarray(p(env), dtype=bool))
            return out

        return boolop
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, expr)
        return lambda env: np.logical_not(np.asarray(inner(env), dtype=bool))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _compile(node.operand, expr)
        return lambda env: -np.asarray(inner(env), dtype=float)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op = _BINOPS[type(node.op)]
        left, right = _compile(node.left, expr), _compile(node.right, expr)
        return lambda env: op(np.asarray(left(env), float), np.asarray(right(env), float))
    if isinstance(node, ast.Compare):
        ops = [_CMPOPS.get(type(o)) for o in node.ops]
        if any(o is None for o in ops):
            raise InputError(f"target {expr!r}: only < <= > >= == != comparisons are allowed")
        terms = [_compile(node.left, expr)] + [_compile(c, expr) for c in node.comparators]

        def compare(env):
            vals = [np.asarray(t(env), dtype=float) for t in terms]
            out = ops[0](vals[0], vals[1])
            for i in range(1, len(ops)):
                out = np.logical_and(out, ops[i](vals[i], vals[i + 1]))
            return out

        return compare
    if isinstance(node, ast.Name):
        if node.id not in TARGET_VARIABLES:
            raise InputError(
                f"target {expr!r}: unknown variable {node.id!r}; expected one of "
                + ", ".join(sorted(TARGET_VARIABLES))
            )
        name = node.id
        return lambda env: env[name]
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = _finite(node.value, expr)
        return lambda env: value
    raise InputError(
        f"target {expr!r}: {type(node).__name__} is not allowed (use variables, numbers, "
        "+ - * /, comparisons, and/or/not)"
    )


def _finite(number: int | float, expr: str) -> float:
    """A constant of the expression as a finite float: ``1e400`` (inf) made a target no
    night meets, with exit 0; a 400-digit integer was an OverflowError traceback."""
    try:
        value = float(number)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise InputError(f"target {expr[:60]!r}: expected finite numbers, got {str(number)[:20]}")
    return value


@dataclass(frozen=True)
class Target:
    """A named, parsed target definition."""

    name: str
    expression: str
    variables: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        tree = parse_expression(self.expression)
        names = tuple(sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}))
        object.__setattr__(self, "variables", names)
        object.__setattr__(self, "_fn", _compile(tree, self.expression))

    def evaluate(self, night_totals: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean array: which nights meet the target. ``night_totals`` maps each weapon
        class (or a target variable) to an array of launches per night."""
        env = variables_from_classes(night_totals)
        out = np.asarray(self._fn(env))  # type: ignore[attr-defined]
        if out.dtype != bool:
            raise InputError(f"target {self.expression!r}: must be a comparison (true/false)")
        return np.broadcast_to(out, np.shape(next(iter(env.values())))).copy()


def parse_expression(expr: str) -> ast.Expression:
    """Parse and whitelist-check a target expression (raises InputError)."""
    if not isinstance(expr, str) or not expr.strip():
        raise InputError("target: empty expression (e.g. 'missiles >= 30')")
    if len(expr) > MAX_EXPRESSION_CHARS:
        raise InputError(f"target: expression longer than {MAX_EXPRESSION_CHARS} characters")
    depth = max_depth = 0
    for ch in expr:
        depth += (ch in "([{") - (ch in ")]}")
        max_depth = max(max_depth, depth)
    if max_depth > MAX_NESTING:
        raise InputError(f"target: brackets nested deeper than {MAX_NESTING}")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
        _compile(tree, expr)  # raises on anything outside the whitelist
    except SyntaxError as exc:
        raise InputError(f"target {expr!r}: not a valid expression ({exc.msg})") from None
    except (RecursionError, SystemError, MemoryError, ValueError):
        # CPython's parser can fail this way on hostile input (found by schemathesis).
        raise InputError(f"target {expr[:60]!r}: too deeply nested to read") from None
    return tree


def variables_from_classes(totals: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Target variables from per-class night totals (missing classes count as zero)."""
    first = np.asarray(next(iter(totals.values())), dtype=float)
    zero = np.zeros_like(first)
    env: dict[str, np.ndarray] = {}
    for name, classes in TARGET_VARIABLES.items():
        if name in totals:
            env[name] = np.asarray(totals[name], dtype=float)
        else:
            env[name] = sum((np.asarray(totals.get(c, zero), float) for c in classes), zero)
    return env


def resolve_target(spec: str | Target | None) -> Target:
    """A built-in name, or an expression, or a Target, to a Target."""
    if isinstance(spec, Target):
        return spec
    if spec is None:
        spec = DEFAULT_TARGET
    if spec in BUILTIN_TARGETS:
        return Target(spec, BUILTIN_TARGETS[spec])
    if spec.isidentifier() and spec not in TARGET_VARIABLES:
        raise InputError(
            f"target: unknown target {spec!r}; expected one of {', '.join(BUILTIN_TARGETS)} "
            "or an expression such as 'missiles >= 30 or attack_drones >= 400'"
        )
    return Target("custom", spec)
