"""Forecast models with the scikit-learn contract, interchangeable in the backtest.

Every model is built with ``horizon_days`` (k), fitted with ``fit(X, y)`` on a design
matrix (one row per forecast origin, columns from :func:`design_matrix`) and the k-day
outcome, and answers ``predict_proba(X)`` with columns (no event, event). ``__init__``
stores parameters only; learned state ends in ``_``.
"""

from __future__ import annotations

from functools import cache, partial

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.signal import lfilter
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from barrage.errors import InputError
from barrage.indicators import (
    NO_HOOKS,
    STOCKPILE_INDICATORS,
    Hooks,
    NightPanel,
    Target,
    event_flags,
    indicator_frame,
    indicator_values,
)
from barrage.warning.launches import launch_window_values
from barrage.warning.registration import REGISTRATION

#: Decay rates (per night) of the self-exciting kernel; the MLE profiles over them.
HAWKES_DECAYS = (0.5, 0.2, 0.1, 0.05, 0.025, 0.0125)
_EPS = 1e-6


def hawkes_columns() -> list[str]:
    return [f"excite_{b:g}" for b in HAWKES_DECAYS]


#: Short recent window (nights) of the event rate, beside the indicators' 90 and 365.
SHORT_WINDOW_D = 30


def design_matrix(
    panel: NightPanel,
    target: Target,
    *,
    hooks: Hooks = NO_HOOKS,
    origins: np.ndarray | None = None,
) -> pd.DataFrame:
    """Indicators plus the self-exciting sums ``sum_s exp(-b (t - s))`` over past target
    nights s, target nights in the last 30 nights, and the recent-window launch statistics
    (:func:`barrage.warning.launches.launch_window_values`), for every origin of the panel
    (or only ``origins``, see :func:`barrage.indicators.indicator_frame`)."""
    frame = indicator_frame(panel, target, hooks=hooks, origins=origins)
    extra = _warning_values(panel, target, origins)
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)


def _warning_values(panel: NightPanel, target: Target, origins=None) -> dict[str, np.ndarray]:
    """The design's columns beyond the indicators (see :func:`design_matrix`)."""
    out = _hawkes_values(panel, target, origins)
    out.update(launch_window_values(panel, origins))
    return out


def _hawkes_values(panel: NightPanel, target: Target, origins=None) -> dict[str, np.ndarray]:
    ev = event_flags(panel, target).astype(float)
    rows = slice(None) if origins is None else np.asarray(origins, dtype=np.int64) - 1
    t = np.arange(1, panel.n_nights + 1)[rows]
    cs = np.concatenate([[0.0], np.cumsum(ev)])
    out = {"events_30d": cs[t] - cs[np.maximum(t - SHORT_WINDOW_D, 0)]}
    for b, col in zip(HAWKES_DECAYS, hawkes_columns(), strict=True):
        decay = np.exp(-b)
        # y[i] = ev[i] + decay * y[i-1]; origin t = i + 1 sees e^{-b} * y[i].
        out[col] = (decay * lfilter([1.0], [1.0, -decay], ev))[rows]
    return out


def design_rows(
    panel: NightPanel,
    target: Target,
    origins: np.ndarray,
    *,
    hooks: Hooks = NO_HOOKS,
) -> np.ndarray:
    """Rows ``origins`` of :func:`design_matrix` as an array (its column order), the same
    numbers without the frame (for the real-time design's one row per panel)."""
    values = indicator_values(panel, target, hooks=hooks, origins=origins)
    values.update(_warning_values(panel, target, origins))
    return np.column_stack(list(values.values())).astype(float, copy=False)


def _check_xy(X: pd.DataFrame, y) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(X, pd.DataFrame):
        raise InputError("X: expected a pandas DataFrame from design_matrix()")
    y = np.asarray(y, dtype=float)
    if y.shape[0] != len(X):
        raise InputError(f"y: length {y.shape[0]} differs from X ({len(X)} rows)")
    if np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
        raise InputError("y: expected 0/1 outcomes without missing values")
    return X, y


def _proba(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), _EPS, 1 - _EPS)
    return np.column_stack([1 - p, p])


class _Base(ClassifierMixin, BaseEstimator):
    def __init__(self, *, horizon_days: int = 7) -> None:
        self.horizon_days = horizon_days

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class ClimatologyModel(_Base):
    """Expanding base rate: the share of training origins with an event (Beta(1,1) prior)."""

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        self.rate_ = (y.sum() + 1.0) / (y.size + 2.0)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return _proba(np.full(len(X), self.rate_))

    def log_odds_terms(self, X) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The base rate only: no indicator moves it."""
        check_is_fitted(self)
        return _logit(self.predict_proba(X)[:, 1]), {}


class SeasonalClimatologyModel(_Base):
    """Base rate by calendar month, shrunk to the heating / non-heating season rate, shrunk
    to the overall rate (each level weighs ``prior_weight`` pseudo-origins)."""

    def __init__(self, *, horizon_days: int = 7, prior_weight: float = 60.0) -> None:
        self.horizon_days = horizon_days
        self.prior_weight = prior_weight

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        m = self.prior_weight
        overall = (y.sum() + 1.0) / (y.size + 2.0)
        self.overall_ = overall
        season = X["heating_season"].to_numpy(int)
        month = X.index.month.to_numpy()
        self.season_rate_ = {
            s: (y[season == s].sum() + m * overall) / ((season == s).sum() + m) for s in (0, 1)
        }
        self.month_rate_ = {}
        for mo in range(1, 13):
            sel = month == mo
            s = 1 if (mo >= 10 or mo <= 4) else 0
            prior = self.season_rate_[s]
            self.month_rate_[mo] = (y[sel].sum() + m * prior) / (sel.sum() + m)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return _proba(np.array([self.month_rate_[mo] for mo in X.index.month]))

    def log_odds_terms(self, X) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Base: the overall training rate; one term, the calendar month's."""
        check_is_fitted(self)
        base = _logit(np.array([self.overall_]))[0]
        z = _logit(self.predict_proba(X)[:, 1])
        return np.full(len(X), base), {"month": z - base}


class RecentRateModel(_Base):
    """Recent rate: target nights in the last ``window_d`` nights (design column
    ``column``) as a nightly Poisson rate, ``rate = (n + 0.5) / (window_d + 1)``,
    ``p = 1 - exp(-k * rate)``. Nothing is learned but the training median of the count,
    the reference of its log-odds term."""

    def __init__(
        self, *, horizon_days: int = 7, column: str = "events_90d", window_d: int = 90
    ) -> None:
        self.horizon_days = horizon_days
        self.column = column
        self.window_d = window_d

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        self.classes_ = np.array([0, 1])
        self.reference_count_ = float(np.nanmedian(X[self.column])) if len(X) else 0.0
        return self

    def _p(self, count: np.ndarray) -> np.ndarray:
        rate = (count + 0.5) / (self.window_d + 1.0)
        return 1 - np.exp(-self.horizon_days * rate)

    def predict_proba(self, X):
        check_is_fitted(self)
        return _proba(self._p(X[self.column].to_numpy(float)))

    def log_odds_terms(self, X) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Base: the log-odds at the training median count; one term, the count's."""
        check_is_fitted(self)
        base = _logit(self._p(np.array([self.reference_count_])))[0]
        z = _logit(self.predict_proba(X)[:, 1])
        return np.full(len(X), base), {self.column: z - base}


class PersistenceModel(_Base):
    """Persistence: was there a target night in the last k nights? The k-day event share
    of the training origins in the same state (each shrunk to the overall rate with
    ``prior_weight`` pseudo-origins): a two-state Markov chain on k-night windows."""

    def __init__(self, *, horizon_days: int = 7, prior_weight: float = 10.0) -> None:
        self.horizon_days = horizon_days
        self.prior_weight = prior_weight

    def _state(self, X) -> np.ndarray:
        return (X["days_since_event_d"].to_numpy(float) <= self.horizon_days).astype(int)

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        s = self._state(X)
        self.overall_ = (y.sum() + 1.0) / (y.size + 2.0)
        m = self.prior_weight
        self.state_rate_ = np.array(
            [(y[s == v].sum() + m * self.overall_) / ((s == v).sum() + m) for v in (0, 1)]
        )
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return _proba(self.state_rate_[self._state(X)])

    def log_odds_terms(self, X) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Base: the overall training rate; one term, the state's (days since)."""
        check_is_fitted(self)
        base = _logit(np.array([self.overall_]))[0]
        z = _logit(self.predict_proba(X)[:, 1])
        return np.full(len(X), base), {"days_since_event_d": z - base}


class RenewalModel(_Base):
    """Renewal / hazard baseline: the k-day event share by bin of days since the last
    target night, each bin shrunk to the overall rate (``prior_weight`` pseudo-origins)."""

    def __init__(
        self,
        *,
        horizon_days: int = 7,
        prior_weight: float = 20.0,
        bin_edges_d: tuple[float, ...] = (0, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90),
    ) -> None:
        self.horizon_days = horizon_days
        self.prior_weight = prior_weight
        self.bin_edges_d = bin_edges_d

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        b = np.digitize(X["days_since_event_d"].to_numpy(float), self.bin_edges_d)
        overall = (y.sum() + 1.0) / (y.size + 2.0)
        self.overall_ = overall
        nb = len(self.bin_edges_d) + 1
        s = np.bincount(b, y, nb)
        c = np.bincount(b, None, nb)
        self.bin_rate_ = (s + self.prior_weight * overall) / (c + self.prior_weight)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        b = np.digitize(X["days_since_event_d"].to_numpy(float), self.bin_edges_d)
        return _proba(self.bin_rate_[b])

    def log_odds_terms(self, X) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Base: the overall training rate; one term, the days since the last target night."""
        check_is_fitted(self)
        base = _logit(np.array([self.overall_]))[0]
        z = _logit(self.predict_proba(X)[:, 1])
        return np.full(len(X), base), {"days_since_event_d": z - base}


class HawkesModel(_Base):
    """Discrete-time self-exciting (Hawkes-type) model fitted by maximum likelihood.

    Nightly intensity ``lambda(t) = mu * exp(c * heating) + alpha * sum_s exp(-b (t - s))``
    over past target nights s; for a k-day window
    ``Lambda = k mu e^{c h} + alpha E_b(t) sum_{j<k} e^{-b j}`` and
    ``p = 1 - exp(-Lambda)`` (excitation by events inside the window is left out). The
    Bernoulli likelihood of the k-day outcomes (a composite likelihood for k > 1) is
    maximised with scipy over (log mu, c, log alpha) for each decay b, and the best b kept.
    """

    def _lam(self, params, E, h, geo):
        log_mu, c, log_alpha = params
        return self.horizon_days * np.exp(log_mu + c * h) + np.exp(log_alpha) * E * geo

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        h = X["heating_season"].to_numpy(float)
        k = self.horizon_days
        best = None
        base = max((y.mean() if y.size else 0.05), 0.01)
        x0 = np.array([np.log(-np.log1p(-min(base, 0.95)) / k), 0.0, np.log(0.05)])
        for b, col in zip(HAWKES_DECAYS, hawkes_columns(), strict=True):
            E = X[col].to_numpy(float)
            geo = np.sum(np.exp(-b * np.arange(k)))

            def nll(params, E=E, geo=geo):
                log_mu, c, log_alpha = params
                base = k * np.exp(log_mu + c * h)
                exc = np.exp(log_alpha) * E * geo
                lam = base + exc
                q = -np.expm1(-lam)
                f = -np.sum(y * np.log(q + 1e-12) - (1 - y) * lam)
                dl = -(y * np.exp(-lam) / (q + 1e-12) - (1 - y))  # dNLL/dlambda
                g = np.array([np.sum(dl * base), np.sum(dl * base * h), np.sum(dl * exc)])
                return f, g

            res = minimize(
                nll, x0, jac=True, method="L-BFGS-B", bounds=[(-12, 2), (-3, 3), (-12, 3)]
            )
            if best is None or res.fun < best[0]:
                best = (res.fun, b, col, res.x)
        self.nll_, self.decay_, self.column_, self.params_ = best
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        geo = np.sum(np.exp(-self.decay_ * np.arange(self.horizon_days)))
        lam = self._lam(
            self.params_, X[self.column_].to_numpy(float), X["heating_season"].to_numpy(float), geo
        )
        return _proba(-np.expm1(-lam))


#: Indicators the feature model uses, chosen a priori (not by backtest scores): the
#: renewal clock, recent tempo and accumulation, season, weather and probing.
FEATURE_COLUMNS: tuple[str, ...] = (
    "days_since_event_d",
    "gap_percentile",
    "events_90d",
    "events_365d",
    "tempo_missiles_7d",
    "tempo_missiles_30d",
    "tempo_missiles_90d",
    "tempo_attack_drone_7d",
    "tempo_attack_drone_90d",
    "tempo_ballistic_missile_30d",
    "accumulation_missiles",
    "accumulation_attack_drones",
    "intercept_rate_missiles_30d",
    "intercept_trend_missiles",
    "probing_recon_energy_7d",
    "probing_small_strikes_energy_7d",
    "heating_season",
    "season_cos",
    "cloud_night_pct",
    "salvo_size_trend",
    "excite_0.05",
)
#: The feature model's columns plus the stockpile indicators (issue: stockpile wired in).
STOCK_FEATURE_COLUMNS: tuple[str, ...] = FEATURE_COLUMNS + STOCKPILE_INDICATORS
#: Heavy-tailed columns enter as sign(x) log1p(|x|).
LOG_COLUMNS = frozenset(
    c
    for c in STOCK_FEATURE_COLUMNS
    if c.startswith(("tempo_", "accumulation_", "days_since", "probing_", "events_", "stock_"))
)


def _logit_fit(A: np.ndarray, y: np.ndarray, l2: float, w0: np.ndarray | None = None) -> np.ndarray:
    """L2-penalised logistic regression (intercept unpenalised) by L-BFGS with the exact
    gradient; ``A`` carries a leading column of ones."""
    pen = np.full(A.shape[1], l2)
    pen[0] = 0.0

    def f(w):
        z = A @ w
        ll = np.sum(np.logaddexp(0, z) - y * z) + 0.5 * np.sum(pen * w * w)
        g = A.T @ (expit(z) - y) + pen * w
        return ll, g

    w0 = np.zeros(A.shape[1]) if w0 is None else w0
    return minimize(f, w0, jac=True, method="L-BFGS-B").x


class FeatureModel(_Base):
    """Logistic regression on the indicators (log transform of heavy tails, median
    imputation, standardisation, L2 penalty ``1/C`` per origin-weighted unit), calibrated
    by Platt scaling (or isotonic regression, ``calibration="isotonic"``) on the last
    ``calibration_share`` of the training origins: the regression is fitted on the earlier
    origins (ending ``k`` days before), the calibrator on its forecasts for the later ones,
    then the regression is refitted on all. Every transform is learned from the training
    rows only."""

    def __init__(
        self,
        *,
        horizon_days: int = 7,
        C: float = 0.05,
        calibration_share: float = 0.3,
        columns: tuple[str, ...] = FEATURE_COLUMNS,
        calibration: str = "platt",
    ) -> None:
        self.horizon_days = horizon_days
        self.C = C
        self.calibration_share = calibration_share
        self.columns = columns
        self.calibration = calibration

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        A = X[list(self.columns)].to_numpy(float).copy()
        for j, c in enumerate(self.columns):
            if c in LOG_COLUMNS:
                A[:, j] = np.sign(A[:, j]) * np.log1p(np.abs(A[:, j]))
        return A

    def _transform(self, A: np.ndarray) -> np.ndarray:
        A = np.where(np.isnan(A), self.median_, A)
        return np.column_stack([np.ones(len(A)), (A - self.mean_) / self.scale_])

    def _fit_transform(self, A: np.ndarray) -> np.ndarray:
        med = np.nanmedian(np.where(np.isnan(A).all(axis=0), 0.0, A), axis=0) if A.size else 0
        self.median_ = np.nan_to_num(med)
        filled = np.where(np.isnan(A), self.median_, A)
        self.mean_ = filled.mean(axis=0)
        sd = filled.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        return self._transform(A)

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        self.classes_ = np.array([0, 1])
        self.fallback_ = (y.sum() + 1.0) / (y.size + 2.0)
        self.coef_ = None
        raw = self._raw(X)
        n = len(y)
        l2 = 1.0 / self.C
        n_cal = int(n * self.calibration_share)
        n_fit = n - n_cal - self.horizon_days
        if y.sum() < 5 or (1 - y).sum() < 5 or n_fit < 30:
            return self
        if self.calibration not in ("platt", "isotonic"):
            raise InputError(
                f"calibration: expected 'platt' or 'isotonic', got {self.calibration!r}"
            )
        yf, yc = y[:n_fit], y[n - n_cal :]
        self.platt_ = np.array([0.0, 1.0])
        self.isotonic_ = None
        self.calibration_rows_ = None
        if 0 < yf.sum() < yf.size and 0 < yc.sum() < yc.size:
            A_fit = self._fit_transform(raw[:n_fit])
            w = _logit_fit(A_fit, yf, l2)
            z_cal = self._transform(raw[n - n_cal :]) @ w
            B = np.column_stack([np.ones(n_cal), z_cal])
            self.platt_ = _logit_fit(B, yc, 1e-3, w0=np.array([0.0, 1.0]))
            self.calibration_rows_ = (z_cal, yc)
            if self.calibration == "isotonic":
                self.isotonic_ = _isotonic(z_cal, yc)
        A = self._fit_transform(raw)
        self.coef_ = _logit_fit(A, y, l2)
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "classes_")
        z = self._transform(self._raw(X)) @ self.coef_
        return self.platt_[0] + self.platt_[1] * z

    def predict_proba(self, X):
        check_is_fitted(self, "classes_")
        if self.coef_ is None:
            return _proba(np.full(len(X), self.fallback_))
        if self.isotonic_ is not None:
            z = self._transform(self._raw(X)) @ self.coef_
            return _proba(self.isotonic_.predict(z))
        return _proba(expit(self.decision_function(X)))


class StockFeatureModel(FeatureModel):
    """The feature model with the stockpile indicators (accumulation in typical salvos,
    nights of capacity) added to its columns."""

    def __init__(
        self,
        *,
        horizon_days: int = 7,
        C: float = 0.05,
        calibration_share: float = 0.3,
        columns: tuple[str, ...] = STOCK_FEATURE_COLUMNS,
        calibration: str = "platt",
    ) -> None:
        super().__init__(
            horizon_days=horizon_days,
            C=C,
            calibration_share=calibration_share,
            columns=columns,
            calibration=calibration,
        )


class IsotonicFeatureModel(StockFeatureModel):
    """:class:`StockFeatureModel` calibrated by isotonic regression instead of Platt."""

    def __init__(
        self,
        *,
        horizon_days: int = 7,
        C: float = 0.05,
        calibration_share: float = 0.3,
        columns: tuple[str, ...] = STOCK_FEATURE_COLUMNS,
        calibration: str = "isotonic",
    ) -> None:
        super().__init__(
            horizon_days=horizon_days,
            C=C,
            calibration_share=calibration_share,
            columns=columns,
            calibration=calibration,
        )


def _isotonic(z_cal: np.ndarray, y_cal: np.ndarray):
    """The isotonic calibrator of the feature models (probabilities held to 1-99%)."""
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.01, y_max=0.99, out_of_bounds="clip").fit(z_cal, y_cal)


def with_isotonic(fitted: FeatureModel) -> FeatureModel:
    """:class:`IsotonicFeatureModel` from a feature model with its settings but Platt
    calibration, fitted on the same rows: the regressions of the two are the same fits
    (only the calibrator differs), so the backtest fits them once. Equal to
    ``IsotonicFeatureModel(...).fit(X, y)`` (tested)."""
    check_is_fitted(fitted, "classes_")
    model = IsotonicFeatureModel(horizon_days=fitted.horizon_days)
    if {**fitted.get_params(), "calibration": "isotonic"} != model.get_params():
        raise ValueError("fitted: a feature model with other settings than the isotonic one")
    model.__dict__.update({a: v for a, v in vars(fitted).items() if a.endswith("_")})
    rows = getattr(fitted, "calibration_rows_", None)
    if rows is not None:
        model.isotonic_ = _isotonic(*rows)
    return model


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class RenewalSeasonalModel(_Base):
    """Renewal hazard with seasonal modulation: ``logit p = a + b logit p_renewal +
    c (logit p_month - logit p_overall)``, the renewal and monthly rates fitted on the
    training origins and (a, b, c) by lightly penalised logistic regression on them."""

    def __init__(self, *, horizon_days: int = 7, l2: float = 1.0) -> None:
        self.horizon_days = horizon_days
        self.l2 = l2

    def _design(self, X):
        pr = self.renewal_.predict_proba(X)[:, 1]
        ps = self.seasonal_.predict_proba(X)[:, 1]
        return np.column_stack(
            [np.ones(len(X)), _logit(pr), _logit(ps) - _logit(np.array(self.overall_))]
        )

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        self.renewal_ = RenewalModel(horizon_days=self.horizon_days).fit(X, y)
        self.seasonal_ = SeasonalClimatologyModel(horizon_days=self.horizon_days).fit(X, y)
        self.overall_ = (y.sum() + 1.0) / (y.size + 2.0)
        self.coef_ = _logit_fit(self._design(X), y, self.l2, w0=np.array([0.0, 1.0, 1.0]))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        return _proba(expit(self._design(X) @ self.coef_))


@cache
def _openmp_controller():
    """One threadpool controller for the process: building one scans the loaded
    libraries (milliseconds), which ``threadpool_limits`` did at every fit and predict
    (seconds over a backtest). Built after scikit-learn's OpenMP runtime is loaded."""
    import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime the controller must see
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_openmp_thread():
    """Context: OpenMP limited to one thread (as ``threadpool_limits(1, "openmp")``)."""
    return _openmp_controller().limit(limits=1, user_api="openmp")


#: Columns of the boosted trees and their monotonic constraints (+1: raises p), a priori.
GBM_COLUMNS: dict[str, int] = {
    "days_since_event_d": 0,
    "gap_percentile": 0,
    "events_90d": 1,
    "events_365d": 0,
    "tempo_missiles_30d": 0,
    "tempo_attack_drone_30d": 0,
    "season_cos": 0,
    "heating_season": 1,
    "excite_0.05": 1,
    "stock_accumulation_ratio_missiles": 1,
    "stock_nights_of_capacity_missiles": 1,
}


class GradientBoostingModel(_Base):
    """scikit-learn ``HistGradientBoostingClassifier`` on a few indicators, with monotonic
    constraints where the sign is known a priori and strong regularisation (shallow
    trees, large leaves, L2, few iterations). Missing values go to the learned side."""

    def __init__(
        self,
        *,
        horizon_days: int = 7,
        max_iter: int = 60,
        learning_rate: float = 0.05,
        max_depth: int = 2,
        min_samples_leaf: int = 40,
        l2_regularization: float = 5.0,
        random_state: int = 0,
    ) -> None:
        self.horizon_days = horizon_days
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.ensemble import HistGradientBoostingClassifier

        X, y = _check_xy(X, y)
        self.classes_ = np.array([0, 1])
        self.fallback_ = (y.sum() + 1.0) / (y.size + 2.0)
        self.model_ = None
        if y.sum() < 5 or (1 - y).sum() < 5:
            return self
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            max_bins=32,
            early_stopping=False,
            monotonic_cst=list(GBM_COLUMNS.values()),
            random_state=self.random_state,
        )
        with _one_openmp_thread():  # tiny fits: threads only contend
            self.model_.fit(self._matrix(X, fit=True), y)
        return self

    def _matrix(self, X, *, fit: bool = False) -> np.ndarray:
        """The GBM columns; a column with no value in training (the stockpile indicators
        without a stockpile hook) is set to 0, which the trees cannot split on."""
        A = X[list(GBM_COLUMNS)].to_numpy(float)
        if fit:
            self.empty_columns_ = np.isnan(A).all(axis=0)
        A[:, self.empty_columns_] = 0.0
        return A

    def predict_proba(self, X):
        check_is_fitted(self, "classes_")
        if self.model_ is None:
            return _proba(np.full(len(X), self.fallback_))
        with _one_openmp_thread():
            return _proba(self.model_.predict_proba(self._matrix(X))[:, 1])


#: Members of the ensemble (equal weights), each fitted in the fold.
ENSEMBLE_MEMBERS: tuple[str, ...] = ("renewal", "seasonal", "feature_stock")


class EnsembleModel(_Base):
    """Equal-weight average of the probabilities of calibrated members (renewal,
    seasonal, feature model with stockpile indicators), each fitted on the fold."""

    def __init__(
        self, *, horizon_days: int = 7, members: tuple[str, ...] = ENSEMBLE_MEMBERS
    ) -> None:
        self.horizon_days = horizon_days
        self.members = members

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        self.members_ = [make_model(m, self.horizon_days).fit(X, y) for m in self.members]
        self.classes_ = np.array([0, 1])
        return self

    @classmethod
    def from_fitted(cls, members: list, horizon_days: int) -> EnsembleModel:
        """The ensemble of members already fitted on the same rows (the backtest fits
        them as models of their own; fitting them again gives the same numbers)."""
        model = cls(horizon_days=horizon_days)
        model.members_ = list(members)
        model.classes_ = np.array([0, 1])
        return model

    def predict_proba(self, X):
        check_is_fitted(self)
        return _proba(np.mean([m.predict_proba(X)[:, 1] for m in self.members_], axis=0))


def _age_weights(index: pd.DatetimeIndex, half_life_d: float) -> np.ndarray:
    """Discounted likelihood: weight ``0.5 ** (age / half_life)``, the age in days before
    the last training origin (a record whose level moves forgets its old level)."""
    age = (index.max() - index).days.to_numpy(float) if len(index) else np.zeros(0)
    return 0.5 ** (age / half_life_d)


def _weighted_logit_fit(A: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> np.ndarray:
    """Weighted L2 logistic regression (intercept unpenalised; ``A`` has a leading column
    of ones) by L-BFGS with the exact gradient."""
    pen = np.full(A.shape[1], l2)
    pen[0] = 0.0

    def f(beta):
        z = A @ beta
        ll = np.sum(w * (np.logaddexp(0, z) - y * z)) + 0.5 * np.sum(pen * beta * beta)
        return ll, A.T @ (w * (expit(z) - y)) + pen * beta

    return minimize(f, np.zeros(A.shape[1]), jac=True, method="L-BFGS-B").x


class _AdditiveLogit(_Base):
    """A logistic model ``logit p = b0 + sum_j b_j (x_j - mean_j)`` over a few transformed
    indicators (the means from the training rows), fitted by discounted likelihood
    (half-life ``half_life_d``) with an L2 penalty ``l2`` on the slopes. Its
    contributions are exact: base ``b0`` plus one term per indicator sum to the
    log-odds of the probability (:meth:`log_odds_terms`)."""

    def _features(self, X) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        self.classes_ = np.array([0, 1])
        self._prepare(X, y)
        F = self._features(X)
        self.names_ = list(F)
        A = np.column_stack(list(F.values())) if F else np.zeros((len(X), 0))
        self.mean_ = A.mean(axis=0) if len(X) else np.zeros(A.shape[1])
        sd = A.std(axis=0) if len(X) else np.ones(A.shape[1])
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z = np.column_stack([np.ones(len(X)), (A - self.mean_) / self.scale_])
        w = _age_weights(X.index, self.half_life_d)
        beta = _weighted_logit_fit(Z, y, w, self.l2)
        self.intercept_, self.coef_ = float(beta[0]), beta[1:] / self.scale_
        return self

    def _prepare(self, X, y) -> None:
        """Fold-fitted parts the features need (none by default)."""

    def log_odds_terms(self, X) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Base (the intercept: the log-odds at the training means) and one additive
        term per indicator, ``b_j (x_j - mean_j)``; they sum to ``logit p``."""
        check_is_fitted(self)
        F = self._features(X)
        terms = {n: self.coef_[j] * (F[n] - self.mean_[j]) for j, n in enumerate(self.names_)}
        return np.full(len(X), self.intercept_), terms

    def decision_function(self, X) -> np.ndarray:
        base, terms = self.log_odds_terms(X)
        return base + sum(terms.values(), np.zeros(len(X)))

    def predict_proba(self, X):
        return _proba(expit(self.decision_function(X)))


def _log_rate(count: np.ndarray, window_d: int) -> np.ndarray:
    return np.log((np.nan_to_num(count) + 0.5) / (window_d + 1.0))


class RenewalAdaptiveModel(_AdditiveLogit):
    """The renewal clock's shape scaled by an adaptive level: ``logit p = b0 + b1 logit
    p_renewal(days since) + b2 log(rate_30 / rate_365)``, the renewal bins fitted on the
    fold, (b0, b1, b2) by discounted likelihood (half-life 90 days): the level follows the
    recent record, the clock keeps its shape."""

    def __init__(self, *, horizon_days: int = 7, half_life_d: float = 90.0, l2: float = 1.0):
        self.horizon_days = horizon_days
        self.half_life_d = half_life_d
        self.l2 = l2

    def _prepare(self, X, y) -> None:
        self.renewal_ = RenewalModel(horizon_days=self.horizon_days).fit(X, y)

    def _features(self, X) -> dict[str, np.ndarray]:
        return {
            "days_since_event_d": _logit(self.renewal_.predict_proba(X)[:, 1]),
            "events_30d": _log_rate(X["events_30d"].to_numpy(float), 30)
            - _log_rate(X["events_365d"].to_numpy(float), 365),
        }


#: The forgetting GLM's indicators (a priori: the renewal clock, the recent event level
#: at two windows, recent drone and missile tempo, the heating season).
FORGETTING_COLUMNS: tuple[str, ...] = (
    "days_since_event_d",
    "events_30d",
    "events_90d",
    "tempo_attack_drone_30d",
    "tempo_missiles_30d",
    "heating_season",
)


class ForgettingLogitModel(_AdditiveLogit):
    """Discounted-likelihood (forgetting) logistic GLM on :data:`FORGETTING_COLUMNS`
    (log1p of days since and tempo, log event rates), half-life ``half_life_d`` days,
    L2 ``l2`` on the standardised slopes."""

    def __init__(self, *, horizon_days: int = 7, half_life_d: float = 180.0, l2: float = 1.0):
        self.horizon_days = horizon_days
        self.half_life_d = half_life_d
        self.l2 = l2

    def _features(self, X) -> dict[str, np.ndarray]:
        col = {c: np.nan_to_num(X[c].to_numpy(float)) for c in FORGETTING_COLUMNS}
        return {
            "days_since_event_d": np.log1p(col["days_since_event_d"]),
            "events_30d": _log_rate(col["events_30d"], 30),
            "events_90d": _log_rate(col["events_90d"], 90),
            "tempo_attack_drone_30d": np.log1p(col["tempo_attack_drone_30d"]),
            "tempo_missiles_30d": np.log1p(col["tempo_missiles_30d"]),
            "heating_season": col["heating_season"],
        }


#: The models of the backtest, baselines first: name -> class or configured class.
MODELS: dict[str, type[_Base] | partial] = {
    "climatology": ClimatologyModel,
    "seasonal": SeasonalClimatologyModel,
    "recent_rate": RecentRateModel,
    "renewal": RenewalModel,
    "recent_rate_30": partial(RecentRateModel, column="events_30d", window_d=30),
    "recent_rate_365": partial(RecentRateModel, column="events_365d", window_d=365),
    "persistence": PersistenceModel,
    "hawkes": HawkesModel,
    "feature": FeatureModel,
    "feature_stock": StockFeatureModel,
    "feature_isotonic": IsotonicFeatureModel,
    "renewal_seasonal": RenewalSeasonalModel,
    "gbm": GradientBoostingModel,
    "ensemble": EnsembleModel,
    "renewal_adaptive": RenewalAdaptiveModel,
    "forgetting_logit": ForgettingLogitModel,
    "forgetting_logit_fast": partial(ForgettingLogitModel, half_life_d=60.0),
}
#: The naive baselines every model is shown against: v2's four, and (third version) the
#: recent rates over 30 and 365 nights and persistence.
BASELINES: tuple[str, ...] = (
    "climatology",
    "seasonal",
    "recent_rate",
    "renewal",
    "recent_rate_30",
    "recent_rate_365",
    "persistence",
)
#: The second version's baselines (its registered verdict, kept as history).
BASELINES_V2: tuple[str, ...] = ("climatology", "seasonal", "recent_rate", "renewal")
#: The registered primary of the headline target (docs/warning-registration.md).
PRIMARY_MODEL = REGISTRATION.primary(REGISTRATION.headline_target)
#: The model the drivers explain: the primary itself (its log-odds terms add up to it).
DRIVER_MODEL = PRIMARY_MODEL


def make_model(name: str, horizon_days: int) -> _Base:
    if name not in MODELS:
        raise InputError(f"model: unknown {name!r}; expected one of {', '.join(MODELS)}")
    return MODELS[name](horizon_days=horizon_days)
