"""Calibration of salvo defaults from the public record (pure functions on night totals).

Input: a night-totals frame, one row per (night, weapon_class, family) with columns
``night`` (datetime64), ``weapon_class``, ``family``, ``launched``, ``destroyed``,
``not_reach_goal`` (as :func:`barrage.record.nights.load_night_totals` returns).

Assumptions, stated once:

* ``not_reach_goal`` counts weapons lost to electronic warfare ("locationally lost") and
  is *not* included in ``destroyed`` (true in the record from 2024 on: e.g. 9 Jul 2025,
  728 launched = 296 destroyed + 415 lost + 17 hits). When a night reports no EW loss,
  ``destroyed`` may silently include EW suppression; the calibration then attributes it
  to the defence. The EW share is therefore a lower bound and the kill probability an
  upper bound in those periods.
* The kill probability calibrated here is the *whole defence's* probability of
  destroying a weapon that was not lost to EW (an aggregate over layers), per class and
  period, not a per-interceptor Pk.

Two posteriors per class and period:

* pooled: ``Beta(a0 + destroyed, b0 + engaged - destroyed)`` (conjugate beta-binomial)
  for the period's mean kill probability;
* night level: the Beta distribution of kill probability across nights, fitted by maximum
  a posteriori on the beta-binomial likelihood of each night's counts. This one carries
  night-to-night variation and is what the posterior predictive check draws from.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from barrage.errors import InputError

DEFAULT_PERIODS: dict[str, tuple[str, str]] = {
    "2022H2": ("2022-07-01", "2022-12-31"),
    "2023H1": ("2023-01-01", "2023-06-30"),
    "2023H2": ("2023-07-01", "2023-12-31"),
    "2024H1": ("2024-01-01", "2024-06-30"),
    "2024H2": ("2024-07-01", "2024-12-31"),
    "2025H1": ("2025-01-01", "2025-06-30"),
    "2025H2": ("2025-07-01", "2025-12-31"),
}
"""Half-year periods: long enough for counts, short enough to follow the war."""

STRIKE_CLASSES = ("attack_drone", "cruise_missile", "ballistic_missile", "mixed_missile")
"""Classes a strike night is made of (reconnaissance drones and unknowns left out)."""

REQUIRED_COLUMNS = ("night", "weapon_class", "family", "launched", "destroyed", "not_reach_goal")


def check_night_totals(night_totals: pd.DataFrame) -> pd.DataFrame:
    """Refuse a frame without the night-totals columns; return a clean copy."""
    missing = [c for c in REQUIRED_COLUMNS if c not in night_totals.columns]
    if missing:
        raise InputError(
            f"night totals: missing columns {missing}; expected {list(REQUIRED_COLUMNS)}"
        )
    out = night_totals.loc[:, list(REQUIRED_COLUMNS)].copy()
    out["night"] = pd.to_datetime(out["night"])
    for col in ("launched", "destroyed", "not_reach_goal"):
        out[col] = pd.to_numeric(out[col], errors="coerce").fillna(0.0).clip(lower=0)
    return out


def assign_periods(nights: pd.Series, periods: Mapping[str, tuple[str, str]]) -> pd.Series:
    """Label each night with its period (NaN outside all periods)."""
    labels = pd.Series(np.nan, index=nights.index, dtype=object)
    for name, (start, end) in periods.items():
        inside = (nights >= pd.Timestamp(start)) & (nights <= pd.Timestamp(end))
        labels[inside] = name
    return labels


def by_night_class(night_totals: pd.DataFrame, periods=DEFAULT_PERIODS) -> pd.DataFrame:
    """Sum families into (night, class) with ``engaged = launched - lost to EW``."""
    nt = check_night_totals(night_totals)
    nt = nt[nt["weapon_class"].isin(STRIKE_CLASSES)]
    g = nt.groupby(["night", "weapon_class"], as_index=False)[
        ["launched", "destroyed", "not_reach_goal"]
    ].sum()
    g["lost_to_ew"] = np.minimum(g["not_reach_goal"], g["launched"])
    g["engaged"] = g["launched"] - g["lost_to_ew"]
    g["destroyed"] = np.minimum(g["destroyed"], g["engaged"])
    g["period"] = assign_periods(g["night"], periods)
    return g.drop(columns="not_reach_goal")


def fit_beta_binomial(
    successes: np.ndarray, trials: np.ndarray, *, log_kappa_prior: tuple[float, float] = (3.0, 1.5)
) -> tuple[float, float]:
    """MAP (alpha, beta) of a Beta across units from per-unit binomial counts.

    Parametrised by mean ``m`` (uniform prior) and concentration ``kappa = alpha + beta``
    (log-normal prior, centre e^3 = 20, sd 1.5 in log): weak, but it keeps the fit finite
    with few nights or all-or-nothing counts.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    keep = n > 0
    k, n = k[keep], n[keep]
    mu0, sd0 = log_kappa_prior
    if k.size == 0:
        kappa = float(np.exp(mu0))
        return kappa / 2, kappa / 2

    def neg_log_post(theta: np.ndarray) -> float:
        m = special.expit(theta[0])
        kappa = np.exp(theta[1])
        a, b = m * kappa, (1 - m) * kappa
        ll = np.sum(special.betaln(k + a, n - k + b) - special.betaln(a, b))
        # uniform prior on m, expressed in logit space (Jacobian m(1-m))
        lp = np.log(m) + np.log1p(-m) + stats.norm.logpdf(theta[1], mu0, sd0)
        return -(ll + lp)

    m0 = (k.sum() + 0.5) / (n.sum() + 1.0)
    res = optimize.minimize(
        neg_log_post,
        x0=np.array([special.logit(m0), mu0]),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000},
    )
    m = special.expit(res.x[0])
    kappa = float(np.exp(res.x[1]))
    return float(m * kappa), float((1 - m) * kappa)


def calibrate_kill_probabilities(
    night_totals: pd.DataFrame,
    periods: Mapping[str, tuple[str, str]] = DEFAULT_PERIODS,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
) -> pd.DataFrame:
    """Kill-probability and EW-loss posteriors per weapon class and period.

    Columns: ``period, weapon_class, nights, launched, lost_to_ew, engaged, destroyed,
    alpha, beta, pk_mean, pk_p05, pk_p95, night_alpha, night_beta, ew_alpha, ew_beta,
    ew_night_alpha, ew_night_beta, source``.
    """
    g = by_night_class(night_totals, periods).dropna(subset=["period"])
    rows = []
    a0, b0 = prior
    for (period, cls), grp in g.groupby(["period", "weapon_class"], sort=True):
        launched, lost = grp["launched"].sum(), grp["lost_to_ew"].sum()
        engaged, destroyed = grp["engaged"].sum(), grp["destroyed"].sum()
        alpha, beta = a0 + destroyed, b0 + engaged - destroyed
        na, nb = fit_beta_binomial(grp["destroyed"].to_numpy(), grp["engaged"].to_numpy())
        ea, eb = fit_beta_binomial(grp["lost_to_ew"].to_numpy(), grp["launched"].to_numpy())
        rows.append(
            {
                "period": period,
                "weapon_class": cls,
                "nights": int(len(grp)),
                "launched": float(launched),
                "lost_to_ew": float(lost),
                "engaged": float(engaged),
                "destroyed": float(destroyed),
                "alpha": float(alpha),
                "beta": float(beta),
                "pk_mean": float(alpha / (alpha + beta)),
                "pk_p05": float(stats.beta.ppf(0.05, alpha, beta)),
                "pk_p95": float(stats.beta.ppf(0.95, alpha, beta)),
                "night_alpha": na,
                "night_beta": nb,
                "ew_alpha": float(a0 + lost),
                "ew_beta": float(b0 + launched - lost),
                "ew_night_alpha": ea,
                "ew_night_beta": eb,
                "source": "derived from the public record (Petro Ivaniuk / Ukrainian Air Force)",
            }
        )
    return pd.DataFrame(rows)


def fit_saturation_curve(
    night_totals: pd.DataFrame,
    periods: Mapping[str, tuple[str, str]] = DEFAULT_PERIODS,
    *,
    by_class: bool = False,
) -> pd.DataFrame:
    """Night intercept rate against salvo size, per period: a binomial logit fit.

    ``logit(destroyed / engaged) = a + b * log(launched / 100)`` over strike nights, by
    maximum likelihood; ``b < 0`` means the rate falls as salvos grow (saturation). Also
    returns the fitted rate at 50, 100, 200, 400 and 800 weapons. With ``by_class`` the
    fit is per (period, class), salvo size still being the night's total launched: the
    pooled curve mixes a changing class composition (big nights are mostly drones).
    """
    g = by_night_class(night_totals, periods).dropna(subset=["period"])
    size = g.groupby("night")["launched"].transform("sum")
    g = g.assign(salvo_size=size, weapon_class=g["weapon_class"] if by_class else "all")
    nights = g.groupby(["period", "weapon_class", "night"], as_index=False).agg(
        launched=("salvo_size", "first"), engaged=("engaged", "sum"), destroyed=("destroyed", "sum")
    )
    nights = nights[nights["engaged"] > 0]
    rows = []
    for (period, cls), grp in nights.groupby(["period", "weapon_class"], sort=True):
        x = np.log(grp["launched"].to_numpy() / 100.0)
        k, n = grp["destroyed"].to_numpy(), grp["engaged"].to_numpy()

        def nll(theta: np.ndarray, x=x, k=k, n=n) -> float:
            eta = theta[0] + theta[1] * x
            return -np.sum(k * -np.logaddexp(0, -eta) + (n - k) * -np.logaddexp(0, eta))

        res = optimize.minimize(nll, x0=np.zeros(2), method="BFGS")
        a, b = (float(v) for v in res.x)
        row = {"period": period, "weapon_class": cls, "nights": int(len(grp)), "a": a, "b": b}
        for size in (50, 100, 200, 400, 800):
            row[f"rate_at_{size}"] = float(special.expit(a + b * np.log(size / 100.0)))
        rows.append(row)
    return pd.DataFrame(rows)
