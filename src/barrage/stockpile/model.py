"""Production and stock per family: a state-space prior, sourced statements and launches.

For one stock family, on a daily grid from the first night of the record::

    log r(t)   piecewise linear between knots every ``knot_months`` months (units/month);
               knots follow a Gaussian random walk, theta_0 ~ N(mu_0, level_sd^2),
               theta_k - theta_{k-1} ~ N(0, step_sd^2)
    S(t)     = S_0 + sum_{u<=t} r(u) / 30.4375  -  sum_{nights n<=t} launched(n)
    S(t)    >= 0 for every day before the as-of date  (a stock cannot go negative)
    log S_0  ~ N(log(3 x monthly launches over the first 91 days), stock_sd^2)

Statements are observations with their own error (see :mod:`.statements`): a rate
estimate or plan is Gaussian on the mean log-rate over the period it refers to (a
``low``-``high`` range read as a 90% interval, plus ``source_sd``; plans are shifted down
by ``plan_bias`` and widened; figures counting only part of the family are scaled by
``part_factor``); a reported stock or cumulative supply is log-normal on ``S`` or on the
production summed over its period; ceilings and floors are one-sided (probit) terms.

The fit is population Monte Carlo (adaptive importance sampling): the first proposal is
the exact Gaussian posterior of the knots given the Gaussian rate statements (a Kalman
smoother in closed form); each further round refits a Gaussian to the weighted draws;
the last round weighs by the full target with the hard non-negativity constraint, then
resamples to equal weights. Everything is vectorised over draws (no loop per draw).
The last round's mean unnormalised weight estimates the evidence p(launches, statements |
step_sd, source_sd) (``FamilyPosterior.log_evidence``; the hard constraint is the launches'
likelihood), by which :mod:`.evidence` chose the default ``STEP_SD`` and ``SOURCE_SD``.

No look-ahead: a fit as of ``D`` uses statements with ``stated_on < D`` and launches on
nights before ``D`` only; its grid may run past ``D`` (``horizon``) where launches enter
the bookkeeping of the stock but never the weights.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from barrage.budget import check_memory
from barrage.errors import InputError
from barrage.stockpile.families import STOCK_ESTIMABLE, STOCK_FAMILIES

if TYPE_CHECKING:
    import pandas as pd

    from barrage.stockpile.statements import Statement

DAYS_PER_MONTH = 30.4375
QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_NAMES: tuple[str, ...] = ("p05", "p25", "p50", "p75", "p95")
_Z90 = 1.6448536269514722
MIN_ESS_FRACTION = 0.15
BYTES_PER_DRAW_DAY = 12
"""Peak bytes a fit holds per draw, grid day and family (tracemalloc, as of the record's
end: about 10.5 for one family and 8.4 a family for all eight, from 1,000 to 4,000
draws), with a margin."""
MAX_EXTRA_ROUNDS = 4
#: The random walk's step sd (log-rate change a quarter) and the statements' source sd,
#: chosen by the evidence rule of :mod:`barrage.stockpile.evidence` (fixed 5 x 4 grid, one
#: pair for all families, largest summed log evidence) on the snapshot to 2025-09-30
#: (as of 2025-10-01, 2,000 draws, seed 0): (0.7, 0.7) at -146.4, next (0.5, 0.7) at
#: -146.7 and (0.7, 0.5) at -146.8; the hand-set (0.35, 0.35) at -155.2. Defaults, not a
#: search in every fit (docs/stockpile.md, "Step sd and source sd chosen by the evidence").
STEP_SD = 0.7
SOURCE_SD = 0.7
#: The tempo anchor's log-sd (see :meth:`StockpileModel._tempo_anchor`): weak.
TEMPO_SD = 1.0
#: A knot interval with at least this many days covered by rate or supply statements
#: gets no tempo anchor (the statements speak for it).
ANCHOR_SILENT_D = 30
#: Draws per adaptation round (at least): a few effective draws make a poor proposal.
MIN_ADAPT_DRAWS = 2000
#: Latest as-of date or horizon, in days after the last launch night: the day grid and
#: the draws grow with it (stockpile --as-of 9999-12-31 failed in the grid).
MAX_AHEAD_D = 366


def _day_number(d: pd.Timestamp | dt.date) -> int:
    return (np.datetime64(d, "D") - np.datetime64("1970-01-01", "D")).astype(int).item()


def check_fit_memory(n_samples: int, n_days: int, n_families: int) -> None:
    """Refuse, naming ``n_samples``, a fit whose draws would pass the memory budget,
    before any is drawn (``--samples 10**12`` was numpy's 116 TiB MemoryError)."""
    check_memory(
        "n_samples",
        n_samples,
        BYTES_PER_DRAW_DAY * n_days * n_families,
        f"{n_samples:,} draws x {n_days:,} days x {n_families} families",
        "draws",
    )


def interp_weights(days: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Dense (len(days), len(knots)) matrix of linear interpolation weights (clamped)."""
    days = np.clip(np.asarray(days, dtype=float), knots[0], knots[-1])
    hi = np.clip(np.searchsorted(knots, days, side="right"), 1, len(knots) - 1)
    lo = hi - 1
    frac = (days - knots[lo]) / (knots[hi] - knots[lo])
    w = np.zeros((len(days), len(knots)))
    rows = np.arange(len(days))
    w[rows, lo] = 1.0 - frac
    w[rows, hi] += frac
    return w


@dataclass
class _Obs:
    """The statements of one family, prepared as arrays for the vectorised target."""

    g_rows: list[np.ndarray] = field(default_factory=list)  # Gaussian on mean log-rate
    g_y: list[float] = field(default_factory=list)
    g_sd: list[float] = field(default_factory=list)
    b_rows: list[np.ndarray] = field(default_factory=list)  # one-sided on mean log-rate
    b_y: list[float] = field(default_factory=list)
    b_sd: list[float] = field(default_factory=list)
    b_sign: list[float] = field(default_factory=list)  # +1 floor, -1 ceiling
    # stock statements (time point, continuous days) and supply (period ends)
    s_t: list[float] = field(default_factory=list)
    s_y: list[float] = field(default_factory=list)
    s_sd: list[float] = field(default_factory=list)
    s_sign: list[float] = field(default_factory=list)  # 0 two-sided, +1 floor, -1 ceiling
    p_from: list[float] = field(default_factory=list)
    p_to: list[float] = field(default_factory=list)
    p_y: list[float] = field(default_factory=list)
    p_sd: list[float] = field(default_factory=list)
    p_sign: list[float] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    # periods (first day, last day + 1; day numbers) of rate and supply statements: the
    # tempo anchor gives way to them
    said: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class FamilyPosterior:
    """What a fit says about one family on its output days (stock at the end of each day).

    Quantile arrays have shape (len(days), 5) for :data:`QUANTILES`. ``stock_q``,
    ``built_q`` and the night arrays are None/empty for a family without recorded launches
    (decoys). Per-draw month-end arrays have shape (n_draws, len(month_ends)).
    """

    family: str
    as_of: pd.Timestamp
    days: pd.DatetimeIndex
    production_q: np.ndarray  # units/month
    stock_q: np.ndarray | None
    built_q: np.ndarray | None  # stock built since the last massive night (after its launches)
    last_massive: np.ndarray  # datetime64[D] per output day, NaT when none
    month_ends: pd.DatetimeIndex
    month_end_stock: np.ndarray | None
    month_end_cum_production: np.ndarray  # from the record's first night
    night_days: pd.DatetimeIndex  # launch nights before as_of
    night_launched: np.ndarray
    night_stock_min: np.ndarray  # smallest stock over the draws after each launch night
    night_stock_before_q: np.ndarray | None  # stock before each launch night's salvo
    launches: pd.Series  # per grid day
    ess: float
    statements_used: list[str]
    # the equal-weight posterior draws, kept so any period's production or stock can be
    # summed draw by draw (statement checks, trends, all-missile totals)
    theta: np.ndarray  # (n_draws, n_knots) log-rate at the knots
    s0: np.ndarray  # (n_draws,) stock at the start of the grid (nan for decoys)
    knots: np.ndarray  # knot day numbers
    anchored_intervals: int = 0  # knot intervals the tempo anchor applied to
    # log p(launches, statements | hyperparameters): the final round's mean unnormalised
    # importance weight, and its Monte Carlo standard error (see StockpileModel)
    log_evidence: float = math.nan
    log_evidence_se: float = math.nan

    _cum: np.ndarray | None = field(default=None, init=False, repr=False)

    def cum_production(self, day_numbers: np.ndarray) -> np.ndarray:
        """Units produced from the grid start to the *start* of each day number, per draw.

        Shape (n_draws, len(day_numbers)); days before the grid give 0, days past its end
        hold the last day's rate. The daily path is computed once and kept.
        """
        day0 = _day_number(self.days_grid_start)
        last = int(max(np.max(day_numbers), day0 + 1))
        if self._cum is None or self._cum.shape[1] < last - day0:
            n_days = max(last - day0, len(self.launches))
            w = interp_weights(day0 + np.arange(n_days) + 0.5, self.knots)
            self._cum = cumulative_production(self.theta, w)
        idx = np.asarray(day_numbers, dtype=int) - day0
        return _at_start(self._cum, idx)

    def rate_at(self, date: pd.Timestamp | dt.date | str) -> np.ndarray:
        """Production rate per draw (units/month) on ``date`` (its midpoint)."""
        d = _day_number(pd_timestamp(date)) + 0.5
        return np.exp(self.theta @ interp_weights(np.array([d]), self.knots)[0])

    def stock_at(self, date: pd.Timestamp | dt.date | str) -> np.ndarray:
        """Stock per draw at the end of the night before ``date`` (the as-of reading)."""
        import pandas as pd

        if self.stock_q is None:
            raise InputError(f"family {self.family!r} has no recorded launches: no stock")
        d = pd.Timestamp(date).normalize()
        n = _day_number(d)
        launched = float(self.launches[self.launches.index < d].sum())
        return self.s0 + self.cum_production(np.array([n]))[:, 0] - launched

    @property
    def days_grid_start(self) -> pd.Timestamp:
        return self.launches.index[0]

    def row(self, date: pd.Timestamp | dt.date | str) -> int:
        """Output row of the stock *as of* ``date`` (the end of the day before)."""
        import pandas as pd

        i = int(self.days.get_indexer([pd.Timestamp(date) - pd.Timedelta(days=1)])[0])
        if i < 0:
            raise InputError(
                f"as-of {pd.Timestamp(date).date()} is not among the fitted output days "
                f"({self.days[0].date()}..{(self.days[-1] + pd.Timedelta(days=1)).date()})"
            )
        return i


def pd_timestamp(date: pd.Timestamp | dt.date | str) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(date).normalize()


def cumulative_production(theta: np.ndarray, day_weights: np.ndarray) -> np.ndarray:
    """Units produced from the grid start to the end of each day, per draw.

    The day's rate is the (log-linear) rate at its midpoint, held over the day; shape
    (n_draws, n_days). ``day_weights``: :func:`interp_weights` at the day midpoints.
    """
    return np.cumsum(np.exp(theta @ day_weights.T), axis=1) / DAYS_PER_MONTH


def _at_start(cum_end: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Cumulative production at the *start* of grid days ``idx`` (0 before the grid)."""
    padded = np.concatenate([np.zeros((len(cum_end), 1)), cum_end], axis=1)
    return padded[:, np.clip(idx, 0, cum_end.shape[1])]


def _center_sd(low: float, high: float) -> tuple[float, float]:
    """Log-centre and log-sd of a ``low``-``high`` range read as a 90% interval."""
    if low > 0:
        return 0.5 * (math.log(low) + math.log(high)), math.log(high / low) / (2 * _Z90)
    return math.log(high / 2.0), math.log(2.0) / _Z90


@dataclass(frozen=True)
class _Target:
    """One family's log posterior over (log-rate knots, log initial stock), ready to
    evaluate on many draws at once: the random-walk prior, rate statements (Gaussian),
    bounds (one-sided), stock and supply statements, and the launches the stock must
    cover (a soft penalty while adapting, a hard wall after)."""

    n_k: int
    diff: np.ndarray
    prec_d: np.ndarray
    b_d: np.ndarray
    log_norm: float
    s0_mu: float
    stock_sd: float
    a_g: np.ndarray
    y_g: np.ndarray
    sd_g: np.ndarray
    a_b: np.ndarray
    b_y: np.ndarray
    b_sd: np.ndarray
    b_sign: np.ndarray
    w_fit: np.ndarray
    nights: np.ndarray
    night_cum_l: np.ndarray
    soft_scale: float
    s_idx: np.ndarray
    s_cum_l: np.ndarray
    s_y: np.ndarray
    s_sd: np.ndarray
    s_sign: np.ndarray
    p_from: np.ndarray
    p_to: np.ndarray
    p_y: np.ndarray
    p_sd: np.ndarray
    p_sign: np.ndarray
    mean0: np.ndarray
    cov0: np.ndarray

    def log(self, z: np.ndarray, hard: bool) -> np.ndarray:
        """The log target of each row of ``z`` (knots, then log initial stock)."""
        from scipy.special import log_ndtr

        n_k, prec_d = self.n_k, self.prec_d
        theta, log_s0 = z[:, :n_k], z[:, -1]
        r = theta @ self.diff.T - self.b_d
        lt = self.log_norm - 0.5 * (r**2 * prec_d).sum(axis=1)
        lt += -0.5 * ((log_s0 - self.s0_mu) / self.stock_sd) ** 2
        if len(self.y_g):
            lt += -0.5 * (((theta @ self.a_g.T - self.y_g) / self.sd_g) ** 2).sum(axis=1)
        if len(self.b_y):
            lt += log_ndtr(self.b_sign * (theta @ self.a_b.T - self.b_y) / self.b_sd).sum(axis=1)
        cum_p = cumulative_production(theta, self.w_fit)
        s0 = np.exp(log_s0)[:, None]
        if len(self.nights):
            deficit = np.maximum(-(s0 + cum_p[:, self.nights] - self.night_cum_l).min(axis=1), 0.0)
            if hard:
                lt = np.where(deficit > 0, -np.inf, lt)
            else:
                lt += -0.5 * (deficit / self.soft_scale) ** 2
        if len(self.s_idx):
            lt += _statement_terms(
                s0 + _at_start(cum_p, self.s_idx) - self.s_cum_l, self.s_y, self.s_sd, self.s_sign
            )
        if len(self.p_y):
            supplied = _at_start(cum_p, self.p_to) - _at_start(cum_p, self.p_from)
            lt += _statement_terms(supplied, self.p_y, self.p_sd, self.p_sign)
        return lt


def _statement_terms(
    value: np.ndarray, y: np.ndarray, sd: np.ndarray, sign: np.ndarray
) -> np.ndarray:
    """Log-likelihood of stated quantities (log scale): Gaussian where ``sign`` is 0, a
    one-sided bound (log normal CDF) where it is +1 or -1; summed per draw."""
    from scipy.special import log_ndtr

    lv = np.log(np.maximum(value, 1e-9))
    return np.where(
        sign == 0,
        -0.5 * ((lv - y) / sd) ** 2,
        log_ndtr(sign * (lv - y) / sd),
    ).sum(axis=1)


def _last_massive(
    days: pd.DatetimeIndex, massive: pd.DatetimeIndex, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``rows`` of the day grid: the grid row of the last massive night on or
    before it (-1: none yet) and its date (NaT: none)."""
    n_days = len(days)
    m_rows = np.array([(m - days[0]).days for m in massive], dtype=int)
    m_rows = m_rows[(m_rows >= 0) & (m_rows < n_days)]
    pos = np.searchsorted(m_rows, rows, side="right") - 1
    last_row = np.where(pos >= 0, m_rows[np.maximum(pos, 0)] if len(m_rows) else -1, -1)
    grid64 = days.to_numpy().astype("datetime64[D]")
    last_massive = np.where(
        last_row >= 0, grid64[np.maximum(last_row, 0)], np.datetime64("NaT", "D")
    )
    return last_row, last_massive


class StockpileModel:
    """Production rate and stock per family, fitted by adaptive importance sampling.

    Follows the estimator contract: ``__init__`` stores parameters, :meth:`fit` validates
    and returns ``self``, learned state ends in ``_``.
    """

    def __init__(
        self,
        *,
        n_samples: int = 2000,
        n_rounds: int = 3,
        knot_months: int = 3,
        level_sd: float = 1.5,
        step_sd: float = STEP_SD,
        stock_sd: float = 1.0,
        source_sd: float = SOURCE_SD,
        plan_bias: float = math.log(1.5),
        plan_sd: float = 0.4,
        part_factor: dict[str, float] | None = None,
        part_sd: float = 0.35,
        tempo_sd: float | None = TEMPO_SD,
        seed: int = 0,
    ) -> None:
        self.n_samples = n_samples
        self.n_rounds = n_rounds
        self.knot_months = knot_months
        self.level_sd = level_sd
        self.step_sd = step_sd
        self.stock_sd = stock_sd
        self.source_sd = source_sd
        self.plan_bias = plan_bias
        self.plan_sd = plan_sd
        self.part_factor = part_factor
        self.part_sd = part_sd
        self.tempo_sd = tempo_sd
        self.seed = seed

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        for name in ("n_samples", "n_rounds", "knot_months"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected a positive integer, got {v!r}")
        if self.n_samples < 100:
            raise InputError(f"n_samples: expected at least 100, got {self.n_samples}")
        if not isinstance(self.seed, int) or self.seed < 0:  # was numpy's ValueError
            raise InputError(f"seed: expected a non-negative integer, got {self.seed!r}")
        for name in ("level_sd", "step_sd", "stock_sd", "source_sd", "plan_sd", "part_sd"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and v > 0):
                raise InputError(f"{name}: expected a positive number, got {v!r}")

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        launches: pd.DataFrame,
        statements: list[Statement],
        *,
        as_of: pd.Timestamp | dt.date | str,
        massive_nights: pd.DatetimeIndex | None = None,
        families: list[str] | tuple[str, ...] | None = None,
        horizon: pd.Timestamp | dt.date | str | None = None,
        output_as_of: pd.DatetimeIndex | None = None,
    ) -> StockpileModel:
        """Fit every family (or ``families``) as of ``as_of``.

        ``launches``: :func:`barrage.stockpile.families.family_launches` output (nights
        from ``as_of`` on are ignored except for bookkeeping up to ``horizon``).
        ``massive_nights``: for "built since the last massive strike".
        ``horizon``: last grid day is ``horizon - 1`` (default ``as_of``).
        ``output_as_of``: summarise only at these as-of dates (default: every day).
        """
        import pandas as pd

        self._check_params()
        as_of_ts = pd.Timestamp(as_of).normalize()
        horizon_ts = as_of_ts if horizon is None else pd.Timestamp(horizon).normalize()
        if horizon_ts < as_of_ts:
            raise InputError(f"horizon {horizon_ts.date()} is before as_of {as_of_ts.date()}")
        if launches.empty:
            raise InputError("no launches: ingest a record first")
        start = pd.Timestamp(launches.index.min()).normalize()
        latest = pd.Timestamp(launches.index.max()).normalize() + pd.Timedelta(days=MAX_AHEAD_D)
        if horizon_ts > latest:
            # the day grid runs to the horizon: 9999-12-31 was a traceback
            raise InputError(
                f"as-of date {horizon_ts.date()}: more than {MAX_AHEAD_D} days after the "
                f"record's last night; expected a date up to {latest.date()}"
            )
        if as_of_ts <= start + pd.Timedelta(days=1):
            raise InputError(
                f"as-of date {as_of_ts.date()}: expected a date after "
                f"{(start + pd.Timedelta(days=1)).date()} (the record starts {start.date()})"
            )
        families = list(STOCK_FAMILIES) if families is None else list(families)
        for f in families:
            if f not in STOCK_FAMILIES:
                raise InputError(f"family {f!r}: expected one of {', '.join(STOCK_FAMILIES)}")
        massive = pd.DatetimeIndex([] if massive_nights is None else massive_nights)
        massive = massive[massive < horizon_ts]  # the anchor of a day D-1 is a night < D

        days = pd.date_range(start, horizon_ts - pd.Timedelta(days=1), freq="D")
        check_fit_memory(self.n_samples, len(days), len(families))
        launch_grid = launches.reindex(days, fill_value=0.0)
        out_rows = None
        if output_as_of is not None:
            out = pd.DatetimeIndex(output_as_of).normalize()
            if len(out) == 0 or out.min() <= start or out.max() > horizon_ts:
                raise InputError(
                    f"output_as_of: expected dates in ({start.date()}, {horizon_ts.date()}]"
                )
            out_rows = np.asarray((out - start).days - 1, dtype=int)
        children = np.random.SeedSequence(self.seed).spawn(len(STOCK_FAMILIES))
        order = list(STOCK_FAMILIES)
        self.as_of_ = as_of_ts
        self.posteriors_: dict[str, FamilyPosterior] = {}
        for f in families:
            rng = np.random.default_rng(children[order.index(f)])
            own = [
                s
                for s in statements
                if s.use and s.family == f and pd.Timestamp(s.stated_on) < as_of_ts
            ]
            lf = launch_grid[f].to_numpy(dtype=float) if f in launch_grid else np.zeros(len(days))
            self.posteriors_[f] = self._fit_family(
                f, days, lf, as_of_ts, own, massive, rng, out_rows
            )
        return self

    def _fit_family(
        self,
        family: str,
        days: pd.DatetimeIndex,
        launched: np.ndarray,
        as_of: pd.Timestamp,
        statements: list[Statement],
        massive: pd.DatetimeIndex,
        rng: np.random.Generator,
        out_rows: np.ndarray | None = None,
    ) -> FamilyPosterior:
        t_obs = int((as_of - days[0]).days)  # grid rows [0, t_obs) are before as_of
        day0 = float(_day_number(days[0]))
        knots = self._knots(days, as_of, statements)
        obs = self._prepare(family, statements, days, knots, t_obs)
        n_anchored = self._tempo_anchor(obs, launched, day0, knots, t_obs)
        target = self._target(family, obs, launched, day0, knots, t_obs)
        z, w, logw = self._sample(target, family, as_of, rng)
        ess = float(1.0 / np.sum(w**2))
        log_evidence, log_evidence_se = _evidence(logw)
        z = z[_systematic_resample(w, self.n_samples, rng)]
        fit = {
            "ess": ess,
            "statements_used": obs.used,
            "anchored_intervals": n_anchored,
            "log_evidence": log_evidence,
            "log_evidence_se": log_evidence_se,
        }
        return self._posterior(
            family, days, launched, as_of, massive, knots, target.nights, z, out_rows, fit
        )

    def _knots(
        self, days: pd.DatetimeIndex, as_of: pd.Timestamp, statements: list[Statement]
    ) -> np.ndarray:
        """Knot days of the log-rate spline: first of the record's month, every
        ``knot_months``, past every date needed (set by as_of and the statements only, so
        a longer horizon draws the same knots; past the last knot the rate is held flat)."""
        import pandas as pd

        last_needed = max(
            [as_of] + [pd.Timestamp(s.refers_to) for s in statements]
        ) + pd.DateOffset(months=self.knot_months)
        knot_dates = pd.date_range(
            days[0].to_period("M").to_timestamp(), last_needed, freq=f"{self.knot_months}MS"
        )
        return np.array([_day_number(d) for d in knot_dates], dtype=float)

    def _target(
        self,
        family: str,
        obs: _Obs,
        launched: np.ndarray,
        day0: float,
        knots: np.ndarray,
        t_obs: int,
    ) -> _Target:
        """The log posterior to sample, and its first proposal: the closed-form Gaussian
        posterior of the knots under the random-walk prior and the rate statements, with
        the initial stock's prior beside it."""
        cum_l = np.cumsum(launched)
        months_seen = max(t_obs / DAYS_PER_MONTH, 1.0)
        mean_rate = max(cum_l[t_obs - 1] / months_seen, 1.0)
        n_k = len(knots)
        diff, prec_d, b_d, mean_theta, cov_theta = self._knot_posterior(obs, n_k, mean_rate)
        a_g = np.array(obs.g_rows).reshape(-1, n_k)
        y_g, sd_g = np.array(obs.g_y), np.array(obs.g_sd)
        first = min(t_obs, 91)
        early_rate = cum_l[first - 1] / (first / DAYS_PER_MONTH)
        s0_mu = math.log(max(3.0 * early_rate, 5.0))

        dim = n_k + 1
        mean0 = np.append(mean_theta, s0_mu)
        cov0 = np.zeros((dim, dim))
        cov0[:n_k, :n_k] = cov_theta
        cov0[-1, -1] = self.stock_sd**2
        estimable = family in STOCK_ESTIMABLE

        # points where the stock is needed during the fit: after every launch night before
        # as_of (the stock is lowest there) and at each stock statement
        nights = np.flatnonzero(launched[:t_obs] > 0) if estimable else np.array([], int)
        s_idx = np.array(obs.s_t, dtype=float).astype(int) - int(day0)  # start of that day
        s_sd, s_sign = np.array(obs.s_sd), np.array(obs.s_sign)
        p_from = np.array(obs.p_from, dtype=float).astype(int) - int(day0)
        p_to = np.array(obs.p_to, dtype=float).astype(int) - int(day0)
        p_sd, p_sign = np.array(obs.p_sd), np.array(obs.p_sign)
        n_ext = max([t_obs, *p_to.tolist()])

        two_sided_sd = np.concatenate([sd_g, s_sd[s_sign == 0], p_sd[p_sign == 0]])
        log_norm = self._log_norm(prec_d, two_sided_sd)
        return _Target(
            n_k=n_k,
            diff=diff,
            prec_d=prec_d,
            b_d=b_d,
            log_norm=log_norm,
            s0_mu=s0_mu,
            stock_sd=self.stock_sd,
            a_g=a_g,
            y_g=y_g,
            sd_g=sd_g,
            a_b=np.array(obs.b_rows).reshape(-1, n_k),
            b_y=np.array(obs.b_y),
            b_sd=np.array(obs.b_sd),
            b_sign=np.array(obs.b_sign),
            w_fit=interp_weights(day0 + np.arange(n_ext) + 0.5, knots),
            nights=nights,
            night_cum_l=cum_l[nights],
            soft_scale=max(1.0, 0.02 * float(cum_l[t_obs - 1])),
            s_idx=s_idx,
            s_cum_l=np.where(s_idx > 0, cum_l[np.maximum(s_idx - 1, 0)], 0.0),
            s_y=np.array(obs.s_y),
            s_sd=s_sd,
            s_sign=s_sign,
            p_from=p_from,
            p_to=p_to,
            p_y=np.array(obs.p_y),
            p_sd=p_sd,
            p_sign=p_sign,
            mean0=mean0,
            cov0=cov0,
        )

    def _knot_posterior(self, obs: _Obs, n_k: int, mean_rate: float) -> tuple[np.ndarray, ...]:
        """The random-walk prior on the log-rate knots (its difference matrix, step
        precisions and mean steps) and the closed-form Gaussian posterior (mean,
        covariance) with the rate statements."""
        diff = np.eye(n_k) - np.eye(n_k, k=-1)
        prec_d = np.full(n_k, self.step_sd**-2)
        prec_d[0] = self.level_sd**-2
        b_d = np.zeros(n_k)
        b_d[0] = math.log(mean_rate)
        q_prior = diff.T @ (prec_d[:, None] * diff)
        h_prior = diff.T @ (prec_d * b_d)
        a_g = np.array(obs.g_rows).reshape(-1, n_k)
        y_g, sd_g = np.array(obs.g_y), np.array(obs.g_sd)
        q_post = q_prior + a_g.T @ (a_g / sd_g[:, None] ** 2)
        h_post = h_prior + a_g.T @ (y_g / sd_g**2)
        cov_theta = np.linalg.inv(q_post)
        return diff, prec_d, b_d, cov_theta @ h_post, cov_theta

    def _log_norm(self, prec_d: np.ndarray, two_sided_sd: np.ndarray) -> float:
        """Normalising constants of the Gaussian terms: they depend on step_sd and
        source_sd, so the evidence keeps them (one-sided terms are probabilities)."""
        n_k = len(prec_d)
        return (
            0.5 * np.log(prec_d).sum()
            - math.log(self.stock_sd)
            - np.log(two_sided_sd).sum()
            - 0.5 * (n_k + 1 + len(two_sided_sd)) * math.log(2 * math.pi)
        )

    def _sample(
        self, target: _Target, family: str, as_of: pd.Timestamp, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Population Monte Carlo on ``target``: the last round's draws, their normalised
        weights and their log weights.

        Soft constraint while adapting, hard from round ``n_rounds``; extra hard rounds (up
        to MAX_EXTRA_ROUNDS) while the effective sample size is under
        MIN_ESS_FRACTION * n.
        """
        base = (1.0, target.mean0, np.linalg.cholesky(target.cov0 * 1.3**2))
        components = [base]
        n = self.n_samples
        dim = target.n_k + 1
        adapting = True
        for rnd in range(self.n_rounds + MAX_EXTRA_ROUNDS):
            hard = rnd >= self.n_rounds - 1
            last = rnd == self.n_rounds + MAX_EXTRA_ROUNDS - 1
            final = hard and (not adapting or last)
            z = _mixture_draw(components, n if final else max(n, MIN_ADAPT_DRAWS), rng)
            logw = target.log(z, hard) - _mixture_logpdf(components, z)
            if not np.isfinite(logw).any():
                raise InputError(
                    f"stockpile fit for {family!r} as of {as_of.date()}: no draw can supply the "
                    "recorded launches; check the statements for this family"
                )
            w = np.exp(logw - logw.max())
            w /= w.sum()
            ess_frac = 1.0 / np.sum(w**2) / len(w)
            if hard and ((ess_frac >= MIN_ESS_FRACTION and len(w) == n) or last):
                break
            # a good hard round on more draws than n: one more round with n draws answers
            adapting = not (hard and ess_frac >= MIN_ESS_FRACTION)
            m = w @ z
            c = ((z - m) * w[:, None]).T @ (z - m) + 1e-6 * np.eye(dim)
            components = [(0.85, m, np.linalg.cholesky(c * 1.2**2)), (0.15, *base[1:])]
        return z, w, logw

    def _posterior(
        self,
        family: str,
        days: pd.DatetimeIndex,
        launched: np.ndarray,
        as_of: pd.Timestamp,
        massive: pd.DatetimeIndex,
        knots: np.ndarray,
        nights: np.ndarray,
        z: np.ndarray,
        out_rows: np.ndarray | None,
        fit: dict,
    ) -> FamilyPosterior:
        """The resampled draws ``z`` as daily production, stock and built-since-massive
        quantiles on ``out_rows`` of the grid; ``fit``: the sampler's own fields (effective
        sample size, evidence, statements used, anchored intervals)."""
        import pandas as pd

        n_days, n_k = len(days), len(knots)
        day0 = float(_day_number(days[0]))
        cum_l = np.cumsum(launched)
        estimable = family in STOCK_ESTIMABLE
        theta, s0 = z[:, :n_k], np.exp(z[:, -1])[:, None]
        rows = np.arange(n_days) if out_rows is None else np.asarray(out_rows, dtype=int)
        out_days = days[rows]
        log_rate = theta @ interp_weights(day0 + np.arange(n_days) + 0.5, knots).T
        production_q = np.exp(np.quantile(log_rate[:, rows], QUANTILES, axis=0).T)
        last_row, last_massive = _last_massive(days, massive, rows)
        month_rows = np.flatnonzero(days.is_month_end)
        cum_p = np.cumsum(np.exp(log_rate), axis=1) / DAYS_PER_MONTH
        del log_rate
        me_cum = cum_p[:, month_rows]
        if estimable:
            stock = s0 + cum_p - cum_l
            stock_q = np.quantile(stock[:, rows], QUANTILES, axis=0).T
            built = stock[:, rows] - stock[:, np.maximum(last_row, 0)]
            built_q = np.quantile(built, QUANTILES, axis=0).T
            built_q[last_row < 0] = np.nan
            night_after = stock[:, nights]
            night_min = night_after.min(axis=0) if len(nights) else np.array([])
            before_q = np.quantile(night_after + launched[nights], QUANTILES, axis=0).T
            me_stock = stock[:, month_rows]
        else:
            stock_q = built_q = me_stock = before_q = None
            night_min = np.array([])
        post = FamilyPosterior(
            family=family,
            as_of=as_of,
            days=out_days,
            production_q=production_q,
            stock_q=stock_q,
            built_q=built_q,
            last_massive=last_massive,
            month_ends=days[month_rows],
            month_end_stock=me_stock,
            month_end_cum_production=me_cum,
            night_days=days[nights],
            night_launched=launched[nights],
            night_stock_min=night_min,
            night_stock_before_q=before_q,
            launches=pd.Series(launched, index=days),
            theta=theta,
            s0=s0[:, 0] if estimable else np.full(len(theta), np.nan),
            knots=knots,
            **fit,
        )
        post._cum = cum_p  # the same path cum_production would compute: keep it
        return post

    def _tempo_anchor(
        self, obs: _Obs, launched: np.ndarray, day0: float, knots: np.ndarray, t_obs: int
    ) -> int:
        """Where nothing is said, production tracks launches within a factor ~e^tempo_sd.

        A pseudo-observation (not a statement), log-normal around the knot interval's
        launch rate, on each knot interval that rate or supply statements cover for fewer
        than ``ANCHOR_SILENT_D`` days: the statements lead and the anchor only fills gaps
        (a floor such as RUSI's "more than 700" is not pulled back to the launch tempo),
        while a family or a stretch nobody spoke about still has an upper limit. Weak on
        purpose (``tempo_sd`` = 1.0, a factor e = 2.7 either way at one sd): the log-sd
        of the sourced production-to-launch ratios is 0.82 (ratios 0.2 to 4.6; see
        docs/stockpile.md). Intervals with under 30 observed days are skipped. Returns
        how many intervals it applied to. (A one-sided anchor under floors was tried:
        one term a quarter outweighed a year's floor, so gaps only.)
        """
        if self.tempo_sd is None or not launched.any():
            return 0
        t_end = day0 + t_obs
        applied = 0
        for a, b in zip(knots[:-1], knots[1:], strict=True):
            lo, hi = max(a, day0), min(b, t_end)
            if hi - lo < 30:
                continue
            said = sum(max(0.0, min(hi, e) - max(lo, f)) for f, e in obs.said)
            if said >= ANCHOR_SILENT_D:
                continue
            n = launched[int(lo - day0) : int(hi - day0)].sum()
            rate = max(n / ((hi - lo) / DAYS_PER_MONTH), 0.5)
            obs.g_rows.append(interp_weights(np.arange(lo, hi) + 0.5, knots).mean(axis=0))
            obs.g_y.append(math.log(rate))
            obs.g_sd.append(self.tempo_sd)
            applied += 1
        return applied

    def marginal_log_likelihood(self) -> float:
        """log p(launches, statements | hyperparameters), summed over the fitted families.

        Families are fitted independently, so their evidences multiply. Each is the mean
        unnormalised importance weight of the fit's final round (the hard non-negativity
        constraint read as the launches' likelihood, the Gaussian terms' constants kept);
        ``posteriors_[f].log_evidence_se`` gives each one's Monte Carlo error.
        """
        if not hasattr(self, "posteriors_"):
            raise InputError("marginal_log_likelihood: fit the model first")
        return float(sum(p.log_evidence for p in self.posteriors_.values()))

    def reading(self, family: str, s: Statement) -> tuple[float, float, float] | None:
        """How the fit reads a statement: (log-centre y, log-sd, sign), sign 0 two-sided,
        +1 a floor, -1 a ceiling; None when it bounds nothing (a floor at 0)."""
        part = (self.part_factor or {"attack_drones": 1.4}).get(family, 1.0)
        kind = s.kind
        if s.coverage == "more" and kind in ("estimate", "plan"):
            kind = "upper_bound"
        if kind in ("estimate", "plan"):
            y, sd = _center_sd(s.low, s.high)
            sd = math.hypot(sd, self.source_sd, s.sd_extra)
            if kind == "plan":
                y, sd = y - self.plan_bias, math.hypot(sd, self.plan_sd)
            if s.coverage == "part":
                y, sd = y + math.log(part), math.hypot(sd, self.part_sd)
            return y, sd, 0.0
        if kind == "upper_bound":
            return math.log(s.high), math.hypot(self.source_sd, s.sd_extra), -1.0
        if s.low <= 0:
            return None
        return math.log(s.low), math.hypot(self.source_sd, s.sd_extra), 1.0

    def _prepare(
        self,
        family: str,
        statements: list[Statement],
        days: pd.DatetimeIndex,
        knots: np.ndarray,
        t_obs: int,
    ) -> _Obs:
        """Turn statements into observation terms (see the module docstring)."""
        obs = _Obs()
        day0 = _day_number(days[0])
        for s in statements:
            first = _day_number(s.refers_from or s.refers_to)
            last = _day_number(s.refers_to)
            if last < day0:
                raise InputError(
                    f"{s.origin or 'statement ' + repr(s.statement_id)}: refers_to: "
                    f"{s.refers_to} is before the record's first night {days[0].date()}: "
                    "expected a period the record covers (set use=no to keep it unused)"
                )
            first = max(first, day0)
            read = self.reading(family, s)
            if read is None:
                continue
            y, sd, sign = read
            if s.metric != "stockpile":
                obs.said.append((float(first), float(last + 1)))
            if s.metric == "monthly_production":
                row = interp_weights(np.arange(first, last + 1) + 0.5, knots).mean(axis=0)
                if sign == 0:
                    obs.g_rows.append(row)
                    obs.g_y.append(y)
                    obs.g_sd.append(sd)
                else:
                    obs.b_rows.append(row)
                    obs.b_y.append(y)
                    obs.b_sd.append(sd)
                    obs.b_sign.append(sign)
            elif s.metric == "stockpile":
                obs.s_t.append(float(min(max(last, day0), day0 + t_obs)))
                obs.s_y.append(y)
                obs.s_sd.append(sd)
                obs.s_sign.append(sign)
            else:  # total_supplied
                obs.p_from.append(float(first))
                obs.p_to.append(float(last + 1))
                obs.p_y.append(y)
                obs.p_sd.append(sd)
                obs.p_sign.append(sign)
            obs.used.append(s.statement_id)
        return obs


def _evidence(logw: np.ndarray) -> tuple[float, float]:
    """log of the mean importance weight (an unbiased estimate of the evidence given the
    proposal) and its delta-method standard error, sqrt(var(w) / n) / mean(w)."""
    from scipy.special import logsumexp

    n = len(logw)
    log_mean = float(logsumexp(logw) - math.log(n))
    w = np.exp(logw - logw.max())
    rel_var = float(np.mean(w**2) / np.mean(w) ** 2 - 1.0)
    return log_mean, math.sqrt(max(rel_var, 0.0) / n)


def _mixture_draw(components, n: int, rng: np.random.Generator) -> np.ndarray:
    weights = np.array([c[0] for c in components])
    counts = rng.multinomial(n, weights / weights.sum())
    parts = []
    for (_, mean, chol), k in zip(components, counts, strict=True):
        parts.append(mean + rng.standard_normal((k, len(mean))) @ chol.T)
    return np.concatenate(parts)


def _mixture_logpdf(components, z: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular
    from scipy.special import logsumexp

    total = sum(c[0] for c in components)
    terms = []
    for wgt, mean, chol in components:
        u = solve_triangular(chol, (z - mean).T, lower=True)
        logdet = np.log(np.diag(chol)).sum()
        terms.append(
            math.log(wgt / total)
            - 0.5 * (u**2).sum(axis=0)
            - logdet
            - 0.5 * len(mean) * math.log(2 * math.pi)
        )
    return logsumexp(np.vstack(terms), axis=0)


def _systematic_resample(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)
