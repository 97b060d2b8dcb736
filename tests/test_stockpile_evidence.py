"""The fit's evidence p(launches, statements | step_sd, source_sd) and the rule that
chooses the two by it (docs/stockpile.md, "Step sd and source sd chosen by the evidence")."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from barrage.stockpile import STOCK_FAMILIES, Statement, StockpileModel
from barrage.stockpile.model import _day_number, interp_weights


def _launches() -> pd.DataFrame:
    days = pd.date_range("2023-01-01", "2023-12-31", freq="D")
    df = pd.DataFrame(0.0, index=days, columns=list(STOCK_FAMILIES))
    df.loc[days[::7], "kh101"] = 10.0
    return df


def _rate(sid: str, low: float, high: float, start: str, end: str, family="decoys") -> Statement:
    return Statement(
        statement_id=sid, family=family, metric="monthly_production", kind="estimate",
        low=low, high=high, stated_on=dt.date(2023, 12, 1),
        refers_from=dt.date.fromisoformat(start), refers_to=dt.date.fromisoformat(end),
    )  # fmt: skip


GAUSSIAN = [
    _rate("a", 80, 160, "2023-01-01", "2023-03-31"),
    _rate("b", 150, 400, "2023-05-01", "2023-08-31"),
    _rate("c", 300, 500, "2023-10-01", "2023-11-30"),
]


def _closed_form(model: StockpileModel, statements: list[Statement]) -> float:
    """Gaussian-only family (no launches, so no constraint and no anchor): the statements'
    marginal is N(A m, A P A' + D) under the random-walk prior, exactly."""
    post = model.posteriors_["decoys"]
    knots = post.knots
    n_k = len(knots)
    diff = np.eye(n_k) - np.eye(n_k, k=-1)
    prec = np.full(n_k, model.step_sd**-2)
    prec[0] = model.level_sd**-2
    prior_cov = np.linalg.inv(diff.T @ (prec[:, None] * diff))
    rows, ys, sds = [], [], []
    for s in statements:
        first, last = _day_number(s.refers_from), _day_number(s.refers_to)
        rows.append(interp_weights(np.arange(first, last + 1) + 0.5, knots).mean(axis=0))
        y, sd, _ = model.reading("decoys", s)
        ys.append(y)
        sds.append(sd)
    a = np.array(rows)
    cov = a @ prior_cov @ a.T + np.diag(np.square(sds))
    return float(multivariate_normal(np.zeros(len(ys)), cov).logpdf(ys))  # mean rate 1: log 0


@pytest.mark.parametrize(("step_sd", "source_sd"), [(0.35, 0.35), (1.0, 0.2), (0.2, 0.7)])
def test_evidence_matches_the_closed_form_of_a_gaussian_family(step_sd, source_sd):
    model = StockpileModel(n_samples=4000, step_sd=step_sd, source_sd=source_sd).fit(
        _launches(), GAUSSIAN, as_of="2024-01-01", families=["decoys"]
    )
    post = model.posteriors_["decoys"]
    exact = _closed_form(model, GAUSSIAN)
    # the proposal is the exact posterior widened by 1.3: the weights barely vary
    assert post.log_evidence_se < 0.02
    assert post.log_evidence == pytest.approx(exact, abs=5 * post.log_evidence_se + 1e-3)
    assert model.marginal_log_likelihood() == post.log_evidence


def test_evidence_keeps_the_constants_that_depend_on_the_hyperparameters():
    """The closed form differs between settings by more than the Monte Carlo error, and
    the fit's evidence follows it (dropping -log sd would not)."""
    fits = {
        sd: StockpileModel(n_samples=4000, source_sd=sd).fit(
            _launches(), GAUSSIAN, as_of="2024-01-01", families=["decoys"]
        )
        for sd in (0.2, 0.7)
    }
    exact = {sd: _closed_form(m, GAUSSIAN) for sd, m in fits.items()}
    got = {sd: m.marginal_log_likelihood() for sd, m in fits.items()}
    assert abs(exact[0.2] - exact[0.7]) > 0.3
    assert got[0.2] - got[0.7] == pytest.approx(exact[0.2] - exact[0.7], abs=0.05)


def test_the_rule_picks_the_grid_cell_with_the_largest_closed_form_evidence():
    from barrage.stockpile.evidence import GRID, evidence_table, grid_fits, select, summed

    fits = list(
        grid_fits(_launches(), GAUSSIAN, as_of="2024-01-01", families=["decoys"], n_samples=2000)
    )
    exact = {cell: _closed_form(m, GAUSSIAN) for cell, m in fits}
    table = evidence_table(fits)
    assert len(table) == len(GRID) == 20
    best = max(exact, key=exact.get)
    runner_up = sorted(exact.values())[-2]
    assert exact[best] - runner_up > 0.02  # a toy case with a clear winner
    assert select(table) == best
    assert summed(table).gap_to_best.max() == 0.0


def test_the_rule_sums_families_and_refuses_uneven_cells():
    from barrage.errors import InputError
    from barrage.stockpile.evidence import select

    rows = [  # family x wins alone at (0.2, 0.2), the sum wins at (0.7, 0.5)
        ("x", 0.2, 0.2, -1.0), ("x", 0.7, 0.5, -2.0),
        ("y", 0.2, 0.2, -9.0), ("y", 0.7, 0.5, -3.0),
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=["family", "step_sd", "source_sd", "log_evidence"])
    assert select(table) == (0.7, 0.5)
    with pytest.raises(InputError, match="same families in every grid cell"):
        select(table.iloc[:3])


def test_nested_leave_one_out_chooses_without_the_held_out_statement(monkeypatch):
    """Each fold's selection sees its family's evidence from fits without the held-out
    statement, and the fold keeps the refit at the cell chosen from that."""
    import barrage.stockpile.checks as checks
    from barrage.stockpile.evidence import evidence_table, grid_fits
    from barrage.stockpile.evidence import select as _select

    grid = ((0.2, 0.2), (1.0, 0.7))
    calls, chosen_from = [], []

    def spy_fits(launches, statements, **kw):
        calls.append(({s.statement_id for s in statements}, kw.get("families")))
        return grid_fits(launches, statements, grid=grid, **kw)

    def spy_select(table):
        chosen_from.append(table)
        return _select(table)

    monkeypatch.setattr(checks, "grid_fits", spy_fits)
    monkeypatch.setattr(checks, "select", spy_select)
    launches = _launches()
    other = _rate("k", 30, 60, "2023-02-01", "2023-06-30", family="kh101")
    full = evidence_table(
        grid_fits(launches, [*GAUSSIAN, other], as_of="2024-01-01", grid=grid, n_samples=500)
    )
    loo = checks.loo_coverage(
        launches, [*GAUSSIAN, other], as_of="2024-01-01", n_samples=500,
        families=("decoys",), nested=True, evidence=full,
    )  # fmt: skip
    assert list(loo.statement_id) == ["a", "b", "c"]
    assert calls == [({"b", "c", "k"}, ["decoys"]), ({"a", "c", "k"}, ["decoys"]),
                                  ({"a", "b", "k"}, ["decoys"])]  # fmt: skip
    for sid, table in zip("abc", chosen_from, strict=True):
        fold = [s for s in GAUSSIAN if s.statement_id != sid]
        own = evidence_table(
            grid_fits(launches, fold, as_of="2024-01-01", grid=grid, n_samples=500,
                      families=["decoys"])
        )  # fmt: skip
        got = table[table.family == "decoys"].sort_values(["step_sd", "source_sd"])
        np.testing.assert_array_equal(got.log_evidence, own.log_evidence)
        kh = table[table.family == "kh101"].log_evidence.to_numpy()
        np.testing.assert_array_equal(kh, full[full.family == "kh101"].log_evidence)
        row = loo[loo.statement_id == sid].iloc[0]
        assert (row.step_sd, row.source_sd) == _select(table)


def test_the_defaults_are_a_cell_of_the_grid_the_rule_searched():
    from barrage.stockpile.evidence import GRID
    from barrage.stockpile.model import SOURCE_SD, STEP_SD

    model = StockpileModel()
    assert (model.step_sd, model.source_sd) == (STEP_SD, SOURCE_SD)
    assert (STEP_SD, SOURCE_SD) in GRID


def test_nested_leave_one_out_refuses_a_fixed_step_or_source_sd():
    from barrage.errors import InputError
    from barrage.stockpile.checks import loo_coverage

    with pytest.raises(InputError, match="nested chooses step_sd and source_sd"):
        loo_coverage(_launches(), GAUSSIAN, as_of="2024-01-01", nested=True, step_sd=0.5)
