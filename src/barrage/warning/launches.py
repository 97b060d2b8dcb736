"""Launches over the next k nights: predictive distributions and their scores.

Expanding-window models: ``log mean = b0 + b1 log1p(k * tempo_7d) + b2 log1p(k *
tempo_90d) + b3 heating``, with one dispersion, fitted by maximum likelihood (scipy)
(``negbin_features``); the intercept-only twin (``negbin_climatology``).

Recent-window models (third version; the record's level moves, so the spread is read from
recent nights, not from the whole history): the naive baseline a newcomer tries first,
the 10/50/90% quantiles of the k-night sums over the 90 nights before the origin
(``recent_quantiles``); a negative binomial matched to the mean and variance of those
k-night sums (``window_negbin_<W>``); and a k-night sum of independent nightly draws from
a negative binomial matched to the last W nights (``nightly_draws_<W>``: the sum of k
NB(r, p) draws is NB(k r, p)); the same nightly draws at the level of the last 14 nights
with the 90-night shape (``level_draws_14``). Their window statistics are columns of the design
(:func:`launch_window_values`), so the real-time design and the no-look-ahead test cover
them. Scored with the CRPS (exact on the integer support), the pinball loss at 10/50/90%
and the coverage of the 10-90% interval.

Online corrections (v3.1 amendment): a recent-window model's quantiles are corrected
after each outcome becomes known, by adaptive conformal inference on the quantile levels
(Gibbs and Candes 2021, "Adaptive conformal inference under distribution shift", NeurIPS,
arXiv 2106.00170; ``aci_*``) or by quantile tracking on a log offset (Angelopoulos,
Candes and Tibshirani 2023, "Conformal PID control for time series prediction";
``track_*``): ``state += gamma (a - 1[y <= Q(state)])`` for each target level a, so the
long-run share of outcomes at or below each quantile tends to a whatever the drift.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from barrage.indicators import NightPanel
from barrage.record.taxonomy import MISSILE_CLASSES

#: Launch groups forecast, each with the prefix of its tempo indicators. "missiles" is
#: cruise + ballistic + mixed; the two classes are forecast on their own as well.
LAUNCH_GROUPS = {
    "attack_drone": "tempo_attack_drone",
    "missiles": "tempo_missiles",
    "cruise_missile": "tempo_cruise_missile",
    "ballistic_missile": "tempo_ballistic_missile",
}


#: Quantiles of every launch forecast (the 10-90% interval and the median).
QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
#: Horizons (nights) and recent windows (nights) of the window statistics in the design.
LAUNCH_HORIZONS_D: tuple[int, ...] = (1, 3, 7)
LAUNCH_WINDOWS_D: tuple[int, ...] = (14, 45, 90)
#: The naive baseline's window: quantiles of the k-night sums over the 90 nights before D.
NAIVE_WINDOW_D = 90
#: Dispersion used when a window's variance does not exceed its mean (near Poisson).
POISSON_DISPERSION = 1e3
#: A window mean below this is read as this (a NB needs a positive mean).
MIN_MEAN = 0.05

#: Bounds of the two tempo slopes (log-log elasticities) and of the heating-season effect.
TEMPO_BOUNDS = ((0.0, 3.0), (0.0, 3.0))
HEATING_BOUNDS = (-3.0, 3.0)
#: Training windows with launches needed before the tempo model is fitted.
MIN_NONZERO_FOR_FEATURES = 10


class NegBinLaunchModel(BaseEstimator):
    """Negative-binomial forecast of launches of one group over ``horizon_days`` nights."""

    def __init__(
        self,
        *,
        group: str = "missiles",
        horizon_days: int = 7,
        use_features: bool = True,
        l2: float = 1.0,
    ) -> None:
        self.group = group
        self.horizon_days = horizon_days
        self.use_features = use_features
        self.l2 = l2

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        k = self.horizon_days
        cols = [np.ones(len(X))]
        if self.use_features:
            prefix = LAUNCH_GROUPS[self.group]
            cols += [
                np.log1p(k * X[f"{prefix}_7d"].to_numpy(float)),
                np.log1p(k * X[f"{prefix}_90d"].to_numpy(float)),
                X["heating_season"].to_numpy(float),
            ]
        return np.nan_to_num(np.column_stack(cols))

    def fit(self, X: pd.DataFrame, y) -> NegBinLaunchModel:
        """Maximum likelihood with the tempo slopes held to ``[0, 3]`` (more recent launches
        never mean fewer to come; an elasticity above 3 is a fit to noise) and a light
        ridge ``l2`` on the slopes: unbounded, the fit on a class with few launching
        nights ran to the bounds and forecast 1,500 cruise missiles in a week."""
        y = np.asarray(y, float)
        A = self._design(X)

        def nll(theta):
            beta, log_r = theta[:-1], theta[-1]
            mu = np.exp(np.clip(A @ beta, -20, 20))
            r = np.exp(log_r)
            ll = (
                gammaln(y + r)
                - gammaln(r)
                - gammaln(y + 1)
                + r * np.log(r / (r + mu))
                + y * np.log(mu / (r + mu) + 1e-300)
            )
            dmu = y / mu - (y + r) / (r + mu)  # d ll / d mu
            g_beta = A.T @ (dmu * mu)
            dr = digamma(y + r) - digamma(r) + np.log(r / (r + mu)) + 1 - (y + r) / (r + mu)
            return -ll.sum(), -np.append(g_beta, np.sum(dr) * r)

        n_beta = n_design = A.shape[1]
        # A few nights with launches cannot carry three slopes: intercept only.
        if n_beta > 1 and np.count_nonzero(y) < MIN_NONZERO_FOR_FEATURES:
            A = A[:, :1]
            n_beta = 1
        pen = np.full(n_beta, self.l2)
        pen[0] = 0.0

        def penalised(theta):
            f, g = nll(theta)
            beta = theta[:-1]
            return f + 0.5 * np.sum(pen * beta * beta), g + np.append(pen * beta, 0.0)

        x0 = np.zeros(n_beta + 1)
        x0[0] = np.log(y.mean() + 0.5)
        res = minimize(
            penalised,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-20, 20), *TEMPO_BOUNDS, HEATING_BOUNDS][:n_beta] + [(-6, 6)],
        )
        coef = np.zeros(n_design)
        coef[:n_beta] = res.x[:-1]
        self.coef_, self.dispersion_ = coef, float(np.exp(res.x[-1]))
        return self

    def predict_mean(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return np.exp(np.clip(self._design(X) @ self.coef_, -20, 20))

    def predict_dispersion(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return np.full(len(X), self.dispersion_)

    def predict_quantiles(self, X: pd.DataFrame, q=QUANTILES) -> np.ndarray:
        """Predictive quantiles, shape (rows, len(q))."""
        mu = self.predict_mean(X)
        r = self.dispersion_
        return stats.nbinom.ppf(np.asarray(q)[None, :], r, (r / (r + mu))[:, None])


def crps_negbin(mean: np.ndarray, dispersion, y: np.ndarray) -> np.ndarray:
    """CRPS of negative-binomial forecasts (mean, dispersion r: one value or one per
    forecast) for integer outcomes y, in closed form (Wei and Held 2014, as in the R
    package scoringRules):

        CRPS = y (2 F(y) - 1) - r (1 - p) / p^2 (p (2 G(y - 1) - 1) + 2F1(r + 1, 1/2; 2; z))

    with ``p = r / (r + mean)``, F the NB(r, p) and G the NB(r + 1, p) distribution
    function and ``z = -4 (1 - p) / p^2``; the hypergeometric term is evaluated after
    Pfaff's transformation, ``(1 - z)^(-1/2) 2F1(1 - r, 1/2; 2; z / (z - 1))``, which stays
    accurate for the large negative z of overdispersed drone counts. Equal to the sum
    over the support, :func:`crps_negbin_by_sum` (tested), thousands of times faster."""
    mean, y = np.asarray(mean, float), np.asarray(y, float)
    r = np.broadcast_to(np.asarray(dispersion, float), mean.shape)
    p = r / (r + mean)
    z = -4 * (1 - p) / p**2
    h = (1 - z) ** -0.5 * hyp2f1(1 - r, 0.5, 2, z / (z - 1))
    c1 = y * (2 * stats.nbinom.cdf(y, r, p) - 1)
    c2 = (1 - p) * r / p**2 * (p * (2 * stats.nbinom.cdf(y - 1, r + 1, p) - 1) + h)
    return c1 - c2


def crps_negbin_by_sum(mean: np.ndarray, dispersion, y: np.ndarray) -> np.ndarray:
    """The CRPS by its definition, the sum over x >= 0 of (F(x) - 1[x >= y])^2 on a
    support wide enough for both (the reference of :func:`crps_negbin`; slow for
    overdispersed counts in the thousands)."""
    mean, y = np.asarray(mean, float), np.asarray(y, float)
    r = np.broadcast_to(np.asarray(dispersion, float), mean.shape)
    p = r / (r + mean)
    hi = int(max(np.max(y), np.max(stats.nbinom.ppf(0.99999, r, p)))) + 1
    x = np.arange(hi + 1)
    cdf = stats.nbinom.cdf(x[None, :], r[:, None], p[:, None])
    step = (x[None, :] >= y[:, None]).astype(float)
    return ((cdf - step) ** 2).sum(axis=1)


def pinball_loss(quantiles: np.ndarray, y: np.ndarray, q=QUANTILES) -> np.ndarray:
    """Mean quantile (pinball) loss over the levels ``q`` per forecast: for level a and
    quantile Q, ``max(a (y - Q), (a - 1) (y - Q))``; ``quantiles`` is (forecasts, len(q))."""
    d = np.asarray(y, float)[:, None] - np.asarray(quantiles, float)
    a = np.asarray(q, float)[None, :]
    return np.maximum(a * d, (a - 1) * d).mean(axis=1)


def group_series(panel: NightPanel) -> dict[str, np.ndarray]:
    """Launches per night of each launch group (all missiles = cruise + ballistic + mixed)."""
    by = panel.by_class("launched")
    return {
        "attack_drone": by["attack_drone"],
        "missiles": sum(by[c] for c in MISSILE_CLASSES),
        "cruise_missile": by["cruise_missile"],
        "ballistic_missile": by["ballistic_missile"],
    }


def window_column(window_d: int, group: str, horizon_d: int, stat: str) -> str:
    """Design column of a window statistic, e.g. ``lw90_attack_drone_7n_q10``."""
    return f"lw{window_d}_{group}_{horizon_d}n_{stat}"


def launch_window_values(
    panel: NightPanel, origins: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """For each origin t, group and horizon k: mean and variance of the k-night sums lying
    wholly in the W nights before t (W in :data:`LAUNCH_WINDOWS_D`), and for the naive
    window the 10/50/90% quantiles of those sums. NaN where no whole k-night sum fits."""
    n = panel.n_nights
    t = np.arange(1, n + 1) if origins is None else np.asarray(origins, dtype=np.int64)
    # which k-night sums lie in each window: the same for every group
    windows = {
        (k, w): _window_index(t, k, w, n) for k in LAUNCH_HORIZONS_D for w in LAUNCH_WINDOWS_D
    }
    out: dict[str, np.ndarray] = {}
    naive: dict[int, list[tuple[str, np.ndarray]]] = {k: [] for k in LAUNCH_HORIZONS_D}
    for g, series in group_series(panel).items():
        cs = np.concatenate([[0.0], np.cumsum(np.asarray(series, float))])
        for k in LAUNCH_HORIZONS_D:
            # sums[i]: nights i..i+k-1 (a zero pad keeps the masked lookups in range)
            sums = np.append(cs[k:] - cs[:-k] if n >= k else np.zeros(0), 0.0)
            for w in LAUNCH_WINDOWS_D:
                ok, idx, cnt = windows[k, w]
                # zeros where the nan-sums of the masked sums would put them: the same sums
                vals = np.where(ok, sums[idx], 0.0)
                mean = np.where(cnt > 0, np.sum(vals, axis=1) / np.maximum(cnt, 1), np.nan)
                dev2 = np.where(ok, (vals - mean[:, None]) ** 2, 0.0)
                var = np.where(cnt > 1, np.sum(dev2, axis=1) / np.maximum(cnt - 1, 1), np.nan)
                out[window_column(w, g, k, "mean")] = mean
                out[window_column(w, g, k, "var")] = var
                if w == NAIVE_WINDOW_D:  # the quantiles are filled in below, in this place
                    out.update({window_column(w, g, k, q): np.empty(0) for q in _QUANTILE_NAMES})
                    naive[k].append((g, np.where(ok, vals, np.nan)))
    for k, parts in naive.items():  # row by row: one call for every group
        qs = _nanquantile_rows(np.vstack([v for _, v in parts]), QUANTILES)
        for i, (g, _) in enumerate(parts):
            for j, q in enumerate(_QUANTILE_NAMES):
                out[window_column(NAIVE_WINDOW_D, g, k, q)] = qs[i * t.size : (i + 1) * t.size, j]
    return out


_QUANTILE_NAMES: tuple[str, ...] = tuple(f"q{round(a * 100)}" for a in QUANTILES)


def _window_index(t: np.ndarray, k: int, w: int, n: int) -> tuple[np.ndarray, ...]:
    """For origins ``t``: which k-night sums (by first night) lie wholly in the ``w``
    nights before each, their positions in the padded sums of :func:`launch_window_values`
    (any in range where masked), and how many there are."""
    starts = t[:, None] - w + np.arange(max(w - k + 1, 1))[None, :]
    ok = (starts >= 0) & (starts + k <= t[:, None])
    size = max(n - k + 1, 0) + 1
    return ok, np.clip(starts, 0, size - 1), ok.sum(axis=1)


def _nanquantile_rows(vals: np.ndarray, q) -> np.ndarray:
    """Row quantiles ignoring NaN (NaN for an all-NaN row), numpy's default "linear"
    method with its interpolation formula, vectorised over rows (``np.nanquantile``
    along an axis loops over rows in Python: most of the backtest's design time)."""
    srt = np.sort(vals, axis=1)  # NaN sort last
    n = (~np.isnan(vals)).sum(axis=1)
    out = np.full((vals.shape[0], len(q)), np.nan)
    rows = np.flatnonzero(n > 0)
    if rows.size == 0:
        return out
    for j, a in enumerate(q):
        pos = a * (n[rows] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n[rows] - 1)
        t = pos - lo
        x0, x1 = srt[rows, lo], srt[rows, hi]
        d = x1 - x0
        out[rows, j] = np.where(t >= 0.5, x1 - d * (1 - t), x0 + d * t)
    return out


def _moment_dispersion(mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """NB dispersion r from a mean and variance (``var = mean + mean^2 / r``); near
    Poisson where the variance does not exceed the mean or is unknown."""
    excess = var - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(np.isfinite(excess) & (excess > 0), mean**2 / excess, POISSON_DISPERSION)
    return np.clip(r, 1e-3, POISSON_DISPERSION)


class RecentQuantileLaunchModel(BaseEstimator):
    """The naive baseline: the 10/50/90% quantiles of the k-night sums over the
    :data:`NAIVE_WINDOW_D` nights before the origin. Nothing is learned."""

    def __init__(self, *, group: str = "missiles", horizon_days: int = 7) -> None:
        self.group = group
        self.horizon_days = horizon_days

    def fit(self, X: pd.DataFrame, y=None) -> RecentQuantileLaunchModel:
        self.fitted_ = True
        return self

    def predict_quantiles(self, X: pd.DataFrame, q=QUANTILES) -> np.ndarray:
        check_is_fitted(self)
        if tuple(q) != QUANTILES:
            raise ValueError(f"q: the naive baseline gives only {QUANTILES}")
        cols = [
            window_column(NAIVE_WINDOW_D, self.group, self.horizon_days, f"q{round(a * 100)}")
            for a in QUANTILES
        ]
        return np.nan_to_num(X[cols].to_numpy(float))

    def predict_mean(self, X: pd.DataFrame) -> np.ndarray:
        """The window's mean k-night sum (the baseline has no distribution beyond its
        three quantiles, so it gets no CRPS)."""
        check_is_fitted(self)
        col = window_column(NAIVE_WINDOW_D, self.group, self.horizon_days, "mean")
        return np.nan_to_num(X[col].to_numpy(float))

    def predict_dispersion(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), np.nan)


class WindowNegBinLaunchModel(BaseEstimator):
    """A negative binomial for the next k nights from the last ``window_d`` nights:
    ``nightly=False`` matches the mean and variance of the k-night sums in the window;
    ``nightly=True`` matches the nightly counts and sums k independent nightly draws
    (NB(k r, p)). ``level_d`` (nightly only): the nightly mean is read from the last
    ``level_d`` nights instead, the shape r still from ``window_d`` nights (a level that
    follows a rise within weeks, a spread that needs months of nights to estimate).
    Nothing is learned from the expanding history: the level and the spread move with the
    window."""

    def __init__(
        self,
        *,
        group: str = "missiles",
        horizon_days: int = 7,
        window_d: int = 90,
        nightly: bool = False,
        level_d: int | None = None,
    ) -> None:
        self.group = group
        self.horizon_days = horizon_days
        self.window_d = window_d
        self.nightly = nightly
        self.level_d = level_d

    def fit(self, X: pd.DataFrame, y=None) -> WindowNegBinLaunchModel:
        for name, w in (("window_d", self.window_d), ("level_d", self.level_d)):
            if w is not None and w not in LAUNCH_WINDOWS_D:
                raise ValueError(f"{name}: expected one of {LAUNCH_WINDOWS_D}, got {w}")
        if self.level_d is not None and not self.nightly:
            raise ValueError("level_d: only for nightly draws (nightly=True)")
        self.fitted_ = True
        return self

    def _moments(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        k = 1 if self.nightly else self.horizon_days
        m = X[window_column(self.window_d, self.group, k, "mean")].to_numpy(float)
        v = X[window_column(self.window_d, self.group, k, "var")].to_numpy(float)
        return np.maximum(np.nan_to_num(m), MIN_MEAN), v

    def predict_mean(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        if self.level_d is not None:
            m = X[window_column(self.level_d, self.group, 1, "mean")].to_numpy(float)
            return np.maximum(np.nan_to_num(m), MIN_MEAN) * self.horizon_days
        m, _ = self._moments(X)
        return m * self.horizon_days if self.nightly else m

    def predict_dispersion(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        m, v = self._moments(X)
        r = _moment_dispersion(m, v)
        return r * self.horizon_days if self.nightly else r

    def predict_quantiles(self, X: pd.DataFrame, q=QUANTILES) -> np.ndarray:
        mu, r = self.predict_mean(X), self.predict_dispersion(X)
        return stats.nbinom.ppf(np.asarray(q)[None, :], r[:, None], (r / (r + mu))[:, None])


#: Issued quantile levels of the level-space adaptive models stay inside these bounds (a
#: level of 0 or 1 is an infinite quantile); the hits that move the levels are counted
#: against the quantile actually issued. So a level-space model cannot reach beyond its
#: base's 0.1% and 99.9% quantiles (tested): the log-offset tracker can.
ACI_LEVEL_BOUNDS = (0.001, 0.999)


def online_quantile_states(
    scores: np.ndarray,
    days: np.ndarray,
    horizon_d: int,
    starts,
    targets,
    step: float,
    *,
    bounds: tuple[float, float] = (-np.inf, np.inf),
    strict: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Online updates of one state per quantile level, outcomes known with a delay.

    Row i (origin ``days[i]``, sorted) is forecast with the states

        s_i = start + step * sum_{j known at i} (a - hit_j),  hit_j = 1[y_j <= Q_j(s_j)]

    for each target level a, where origin j's k-night outcome is known at origin i when
    ``days[j] + k + 1 <= days[i]`` (the backtest's gap). The outcome lies at or below the
    quantile issued with state s exactly when ``score <= clip(s)`` (``score < clip(s)``
    with ``strict``), the clip being ``bounds``; ``scores`` is one column for every level
    or one per level. Returns the states used at each row (n, levels) and the state after
    every row's outcome (levels,), the one to forecast with after all the rows. A miss
    moves the state up by ``step * a``, a hit down by ``step * (1 - a)``: it settles where
    a share a of the outcomes are hits, whatever the drift (Gibbs and Candes 2021, eq. 2,
    on each level; Angelopoulos, Candes and Tibshirani 2023, quantile tracking, on a
    score)."""
    used, hits = _replay(scores, days, horizon_d, starts, targets, step, bounds, strict)
    return used, _final_states(starts, targets, step, hits)


def _final_states(starts, targets, step: float, hits: np.ndarray) -> np.ndarray:
    """The states after every replayed row's outcome (all of them known)."""
    n = hits.shape[0] - 1
    return np.asarray(starts, float) + step * (n * np.asarray(targets, float) - hits[n])


def _replay(scores, days, horizon_d, starts, targets, step, bounds, strict, prefix=None):
    """The loop of :func:`online_quantile_states`; returns the states used and the running
    hit counts (n + 1, levels). ``prefix``: the states and hit counts of the first m rows
    from an earlier replay of the same rows (the loop resumes at row m)."""
    scores, days = np.asarray(scores, float), np.asarray(days, np.int64)
    if scores.ndim == 1:
        scores = np.repeat(scores[:, None], len(targets), axis=1)
    n = scores.shape[0]
    n_known = np.searchsorted(days, days - horizon_d - 1, side="right").tolist()
    lo, hi = bounds
    used = np.empty((n, len(targets)))
    hits = np.zeros((n + 1, len(targets)), np.int64)
    m0 = 0
    if prefix is not None:
        m0 = prefix[0].shape[0]
        used[:m0], hits[: m0 + 1] = prefix[0], prefix[1]
    for c, (s0, a) in enumerate(zip(starts, targets, strict=True)):
        h = hits[:, c].tolist()  # h[m]: hits among the first m rows
        sc, col = scores[:, c].tolist(), used[:, c]
        for i in range(m0, n):
            m = n_known[i]
            state = s0 + step * (m * a - h[m])
            col[i] = state
            bound = min(max(state, lo), hi)
            h[i + 1] = h[i] + (sc[i] < bound if strict else sc[i] <= bound)
        hits[:, c] = h
    return used, hits


#: The last replay of each adaptive model (by group, horizon and settings): its rows'
#: inputs (day, base mean, base dispersion, outcome), scores, states and hit counts. A
#: refit whose first rows have exactly these inputs resumes after them (the backtest
#: refits weekly on a growing history); any other fit replays from the start.
_REPLAYS: dict[tuple, tuple] = {}
_REPLAYS_LOCK = threading.Lock()


def aci_levels(
    below: np.ndarray, days: np.ndarray, horizon_d: int, levels, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive conformal inference on quantile levels: the state is the level l itself
    (starting at the target), and ``below[i]`` is the base distribution's ``F_i(ceil(y_i)
    - 1)``, so that ``y_i <= Q_i(l)`` exactly when ``below[i] < l``."""
    return online_quantile_states(
        below, days, horizon_d, levels, levels, gamma, bounds=ACI_LEVEL_BOUNDS, strict=True
    )


class AdaptiveConformalLaunchModel(BaseEstimator):
    """A recent-window negative binomial (``base``, a name of :data:`LAUNCH_MODELS`) whose
    10/50/90% quantiles are corrected online over the training origins, each outcome
    counted once it is known (:func:`online_quantile_states`), with step ``gamma``:

    - ``scale="level"``: adaptive conformal inference on the quantile levels (the base
      quantile read at a moving level, clipped to :data:`ACI_LEVEL_BOUNDS`);
    - ``scale="log"``: quantile tracking on a log offset, ``Q = (q_base + 1) e^theta - 1``
      (a multiplicative correction that can go beyond the base's tails).

    The fit replays the training origins in order from the base's real-time forecasts
    (the base learns nothing, so the replay equals the online run); the forecast uses the
    states reached after the last known outcome, the quantiles sorted (the rearrangement
    never raises the pinball loss). Quantiles only: no CRPS.

    Attributes: ``states_`` (what the forecast uses), ``states_path_`` (the states used
    at each training origin)."""

    def __init__(
        self,
        *,
        group: str = "missiles",
        horizon_days: int = 7,
        base: str = "nightly_draws_90",
        gamma: float = 0.005,
        scale: str = "level",
    ) -> None:
        self.group = group
        self.horizon_days = horizon_days
        self.base = base
        self.gamma = gamma
        self.scale = scale

    def fit(self, X: pd.DataFrame, y) -> AdaptiveConformalLaunchModel:
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma: expected a step in (0, 1), got {self.gamma}")
        if self.scale not in ("level", "log"):
            raise ValueError(f"scale: expected 'level' or 'log', got {self.scale!r}")
        if LAUNCH_MODELS.get(self.base, (None,))[0] is not WindowNegBinLaunchModel:
            raise ValueError(f"base: {self.base!r} is not a recent-window negative binomial")
        self.base_ = make_launch_model(self.base, self.group, self.horizon_days).fit(X, y)
        y = np.asarray(y, float)
        days = pd.DatetimeIndex(X.index).to_numpy().astype("datetime64[D]").astype(np.int64)
        mu, r = self.base_.predict_mean(X), self.base_.predict_dispersion(X)
        inputs = np.column_stack([days, mu, r, y])
        key = (self.group, self.horizon_days, self.base, self.gamma, self.scale)
        with _REPLAYS_LOCK:
            last = _REPLAYS.get(key)
        m = 0 if last is None else last[0].shape[0]
        if m and (m > len(y) or not np.array_equal(last[0], inputs[:m], equal_nan=True)):
            m = 0
        scores = np.empty((len(y), len(QUANTILES)))
        if m:
            scores[:m] = last[1]
        scores[m:] = self._scores(X.iloc[m:], mu[m:], r[m:], y[m:])
        if self.scale == "level":
            starts, bounds, strict = QUANTILES, ACI_LEVEL_BOUNDS, True
        else:
            starts, bounds, strict = (0.0,) * len(QUANTILES), (-np.inf, np.inf), False
        used, hits = _replay(
            scores, days, self.horizon_days, starts, QUANTILES, self.gamma, bounds, strict,
            prefix=(last[2][:m], last[3][: m + 1]) if m else None,
        )  # fmt: skip
        with _REPLAYS_LOCK:
            _REPLAYS[key] = (inputs, scores, used, hits)
        self.states_path_ = used
        self.states_ = _final_states(starts, QUANTILES, self.gamma, hits)
        return self

    def _scores(self, X: pd.DataFrame, mu, r, y) -> np.ndarray:
        """Per row and level, the score whose comparison with the state says whether the
        outcome lay at or below the issued quantile (:func:`online_quantile_states`)."""
        if self.scale == "level":
            # y <= Q(l) for an integer quantile Q exactly when F(ceil(y) - 1) < l
            below = stats.nbinom.cdf(np.ceil(y) - 1, r, r / (r + mu))
            return np.repeat(below[:, None], len(QUANTILES), axis=1)
        # y <= (q + 1) e^theta - 1 exactly when log1p(y) - log1p(q) <= theta
        return np.log1p(y)[:, None] - np.log1p(self.base_.predict_quantiles(X))

    def predict_quantiles(self, X: pd.DataFrame, q=QUANTILES) -> np.ndarray:
        check_is_fitted(self)
        if tuple(q) != QUANTILES:
            raise ValueError(f"q: the adaptive model tracks only {QUANTILES}")
        if self.scale == "log":
            qs = (self.base_.predict_quantiles(X) + 1) * np.exp(self.states_)[None, :] - 1
        else:
            mu, r = self.base_.predict_mean(X), self.base_.predict_dispersion(X)
            lv = np.clip(self.states_, *ACI_LEVEL_BOUNDS)
            qs = stats.nbinom.ppf(lv[None, :], r[:, None], (r / (r + mu))[:, None])
        return np.sort(qs, axis=1)

    def predict_mean(self, X: pd.DataFrame) -> np.ndarray:
        """The base's mean (a summary for reading, not scored: the forecast is the three
        quantiles). Not moved with the corrections: those differ by horizon, and a mean so
        moved fell with the horizon (2023-04-22, attack drones: 2.95 in one night, 2.19
        in three)."""
        check_is_fitted(self)
        return self.base_.predict_mean(X)

    def predict_dispersion(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), np.nan)


#: The launch models of the backtest: name -> (class, settings). Baselines first.
LAUNCH_MODELS: dict[str, tuple[type, dict]] = {
    "negbin_climatology": (None, {"use_features": False}),  # class filled below
    "recent_quantiles": (RecentQuantileLaunchModel, {}),
    "negbin_features": (None, {"use_features": True}),
    "window_negbin_45": (WindowNegBinLaunchModel, {"window_d": 45}),
    "window_negbin_90": (WindowNegBinLaunchModel, {"window_d": 90}),
    "nightly_draws_90": (WindowNegBinLaunchModel, {"window_d": 90, "nightly": True}),
    # v3.1 amendment (docs/warning-registration.md): a level that follows, and ACI.
    "level_draws_14": (
        WindowNegBinLaunchModel,
        {"window_d": 90, "nightly": True, "level_d": 14},
    ),
    "aci_draws_90": (AdaptiveConformalLaunchModel, {"base": "nightly_draws_90", "gamma": 0.005}),
    "aci_level_14": (AdaptiveConformalLaunchModel, {"base": "level_draws_14", "gamma": 0.005}),
    "track_draws_90": (
        AdaptiveConformalLaunchModel,
        {"base": "nightly_draws_90", "gamma": 0.05, "scale": "log"},
    ),
    "track_level_14": (
        AdaptiveConformalLaunchModel,
        {"base": "level_draws_14", "gamma": 0.05, "scale": "log"},
    ),
}
#: The adaptive launch models of the v3.1 amendment.
ADAPTIVE: tuple[str, ...] = ("aci_draws_90", "aci_level_14", "track_draws_90", "track_level_14")
LAUNCH_BASELINES: tuple[str, ...] = ("negbin_climatology", "recent_quantiles")


def make_launch_model(name: str, group: str, horizon_days: int):
    """A launch model of :data:`LAUNCH_MODELS` for one group and horizon."""
    if name not in LAUNCH_MODELS:
        raise ValueError(f"launch model: unknown {name!r}; expected one of {list(LAUNCH_MODELS)}")
    cls, settings = LAUNCH_MODELS[name]
    return (cls or NegBinLaunchModel)(group=group, horizon_days=horizon_days, **settings)
