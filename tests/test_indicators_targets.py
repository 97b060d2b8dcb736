"""Target expressions: parsed safely (no eval), evaluated on arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barrage.errors import InputError
from barrage.indicators import Target, resolve_target


def test_builtin_massive_missiles_counts_all_missile_classes():
    t = resolve_target("massive_missiles")
    totals = {
        "cruise_missile": np.array([20.0, 29, 0]),
        "ballistic_missile": np.array([10.0, 0, 0]),
        "mixed_missile": np.array([0.0, 0, 30]),
    }
    assert t.evaluate(totals).tolist() == [True, False, True]


def test_custom_or_expression():
    t = resolve_target("missiles >= 30 or attack_drones >= 400")
    totals = {"cruise_missile": np.array([0.0, 40, 0]), "attack_drone": np.array([400.0, 0, 399])}
    assert t.evaluate(totals).tolist() == [True, True, False]


@pytest.mark.parametrize(
    "bad",
    [
        "__import__('os').system('echo hi')",
        "missiles.real >= 1",
        "[1][0] > 0",
        "lambda: 1",
        "missiles >= 30; 1",
        "open('x')",
        "missiles ** 2 > 3",
        "unknown_var > 1",
        "",
        "missiles +",
    ],
)
def test_rejects_anything_outside_the_whitelist(bad):
    with pytest.raises(InputError):
        Target("x", bad)


def test_unknown_name_is_a_clean_error():
    with pytest.raises(InputError, match="unknown target 'nope'"):
        resolve_target("nope")


def test_arithmetic_must_end_in_a_comparison():
    with pytest.raises(InputError, match="comparison"):
        Target("x", "missiles + 1").evaluate({"cruise_missile": np.array([1.0])})


#: No per-example deadline: a wall-clock limit that a busy machine breaks (not a property).
NO_DEADLINE = settings(deadline=None)


@NO_DEADLINE
@given(st.lists(st.integers(0, 200), min_size=1, max_size=20), st.integers(0, 200))
def test_threshold_matches_numpy(values, threshold):
    arr = np.array(values, float)
    t = Target("x", f"cruise_missiles >= {threshold}")
    assert (t.evaluate({"cruise_missile": arr}) == (arr >= threshold)).all()


@NO_DEADLINE
@given(st.text(max_size=40))
def test_parser_never_raises_anything_but_input_error(text):
    try:
        Target("x", text)
    except InputError:
        pass


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("(" * 50 + "missiles" + ")" * 50 + " >= 1", "brackets nested deeper than 10"),
        ("-" * 490 + "missiles >= 1", "expression longer than 500 characters"),
        ("not " * 120 + "x", "unknown variable 'x'"),
        # inf made a target no night meets (exit 0); a huge integer an OverflowError
        ("missiles >= 1e400", "expected finite numbers, got inf"),
        ("missiles >= 1" + "0" * 400, "expected finite numbers, got 1000"),
    ],
)
def test_hostile_nesting_is_a_clear_error_not_a_crash(expr, message):
    from barrage.indicators.targets import parse_expression

    with pytest.raises(InputError, match=message):
        parse_expression(expr)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("not " * 118 + "cruise_missiles >= 1", [False, True, True]),
        ("not " * 119 + "cruise_missiles >= 1", [True, False, False]),
        ("-" * 480 + "cruise_missiles >= 1", [False, True, True]),
        ("-" * 479 + "cruise_missiles >= -1", [True, False, False]),  # -x >= -1: x <= 1
    ],
)
def test_deep_but_short_chains_are_read_exactly(expr, expected):
    t = Target("x", expr)
    assert t.evaluate({"cruise_missile": np.array([0.0, 5.0, 40.0])}).tolist() == expected
