"""Launches over the next k nights as a negative-binomial predictive distribution.

``log mean = b0 + b1 log1p(k * tempo_7d) + b2 log1p(k * tempo_90d) + b3 heating``, with
one dispersion, fitted by maximum likelihood (scipy). The climatology baseline keeps only
the intercept. Scored with the CRPS, computed exactly on the integer support.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize
from scipy.special import digamma, gammaln
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

#: Launch groups forecast, each with the prefix of its tempo indicators. "missiles" is
#: cruise + ballistic + mixed; the two classes are forecast on their own as well.
LAUNCH_GROUPS = {
    "attack_drone": "tempo_attack_drone",
    "missiles": "tempo_missiles",
    "cruise_missile": "tempo_cruise_missile",
    "ballistic_missile": "tempo_ballistic_missile",
}


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

    def predict_quantiles(self, X: pd.DataFrame, q=(0.1, 0.5, 0.9)) -> np.ndarray:
        """Predictive quantiles, shape (rows, len(q))."""
        mu = self.predict_mean(X)
        r = self.dispersion_
        return stats.nbinom.ppf(np.asarray(q)[None, :], r, (r / (r + mu))[:, None])


def crps_negbin(mean: np.ndarray, dispersion: float, y: np.ndarray) -> np.ndarray:
    """CRPS of negative-binomial forecasts (mean, dispersion r) for integer outcomes y:
    the sum over x >= 0 of (F(x) - 1[x >= y])^2, on a support wide enough for both."""
    mean, y = np.asarray(mean, float), np.asarray(y, float)
    r = float(dispersion)
    p = r / (r + mean)
    hi = int(max(np.max(y), np.max(stats.nbinom.ppf(0.99999, r, p)))) + 1
    x = np.arange(hi + 1)
    cdf = stats.nbinom.cdf(x[None, :], r, p[:, None])
    step = (x[None, :] >= y[:, None]).astype(float)
    return ((cdf - step) ** 2).sum(axis=1)
