"""Rolling-origin backtest: expanding window, weekly refits, a k-day gap, no look-ahead.

The as-of rule (see :mod:`barrage.indicators.panel`): a forecast issued on D uses the
rows with ``time_end < D 12:00``. The design row of every origin is computed from the
panel as known on that origin ("real-time" features), the training outcomes of a refit
on R from the panel as known on R, and the scores from the final panel. A refit on R
trains on origins up to ``R - k - 1`` (a gap of k days, so the last training window
closes before R) and forecasts origins ``R .. R + refit_every_d - 1``. Every transform,
threshold and calibrator is fitted inside the refit.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.indicators import (
    NO_HOOKS,
    Hooks,
    KnownRecord,
    Target,
    event_flags,
    launch_totals,
    outcomes,
    to_day,
)
from barrage.warning.launches import (
    LAUNCH_GROUPS,
    LAUNCH_MODELS,
    crps_negbin,
    make_launch_model,
    pinball_loss,
)
from barrage.warning.models import (
    ENSEMBLE_MEMBERS,
    MODELS,
    EnsembleModel,
    design_matrix,
    design_rows,
    make_model,
    with_isotonic,
)

HORIZONS_D: tuple[int, ...] = (1, 3, 7)
Progress = Callable[[int, int], None]


def _as_date(value: object, name: str) -> date:
    return to_day(value, name).astype(date)  # ISO text only, as --as-of


@dataclass(frozen=True)
class ForecastWindow:
    """One refit: train on origins up to ``train_last_origin`` (outcomes known on
    ``forecast_first``), forecast origins ``forecast_first .. forecast_last``."""

    train_last_origin: date
    forecast_first: date
    forecast_last: date
    horizon_days: int

    def __post_init__(self) -> None:
        if self.horizon_days < 1:
            raise InputError(f"horizon_days: expected >= 1, got {self.horizon_days}")
        gap = (self.forecast_first - self.train_last_origin).days
        if gap <= self.horizon_days:
            raise InputError(
                f"window: last training origin {self.train_last_origin} is {gap} day(s) before "
                f"the forecast {self.forecast_first}; a {self.horizon_days}-day horizon needs more "
                f"than {self.horizon_days} (its outcome would not be known yet)"
            )
        if self.forecast_last < self.forecast_first:
            raise InputError(
                f"window: forecast_last {self.forecast_last} is before forecast_first "
                f"{self.forecast_first}"
            )


@dataclass(frozen=True)
class BacktestPlan:
    """Origins ``start .. end`` (inclusive), refits every ``refit_every_d`` days."""

    start: date
    end: date
    horizons: tuple[int, ...] = HORIZONS_D
    refit_every_d: int = 7
    min_train_origins: int = 60
    models: tuple[str, ...] = field(default_factory=lambda: tuple(MODELS))

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError(f"backtest: end {self.end} is before start {self.start}")
        if not self.horizons or any(int(k) < 1 for k in self.horizons):
            raise InputError(f"horizon: expected whole days >= 1, got {self.horizons}")
        if not 1 <= self.refit_every_d <= 7:
            raise InputError(
                f"refit_every_d: expected 1..7 (refit at least weekly), got {self.refit_every_d}"
            )
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise InputError(f"models: unknown {unknown}; expected some of {list(MODELS)}")

    def windows(self, horizon_days: int) -> list[ForecastWindow]:
        out = []
        first = self.start
        while first <= self.end:
            last = min(first + timedelta(days=self.refit_every_d - 1), self.end)
            out.append(
                ForecastWindow(first - timedelta(days=horizon_days + 1), first, last, horizon_days)
            )
            first = last + timedelta(days=1)
        return out


def input_hooks(inputs: object) -> Hooks:
    """The weather, production and stockpile hooks of an inputs bundle (an
    :class:`barrage.warning.assess.AssessInputs` or any object with those attributes; the
    stockpile is optional), as the ``hooks`` of :func:`run_backtest`,
    :func:`realtime_design` and their chunked twin in :mod:`barrage.compute`."""
    return Hooks(
        weather=inputs.weather,  # type: ignore[attr-defined]
        production=inputs.production,  # type: ignore[attr-defined]
        stockpile=getattr(inputs, "stockpile", None),
    )


#: Real-time designs computed in this process, newest last: key (see :func:`_design_key`)
#: -> the design up to the latest last origin asked for. Row D depends on nothing after
#: D, so the design serves every earlier last origin as its first rows.
_DESIGNS: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_DESIGNS_MAX = 8
#: Held while the kept designs are read or changed (the dashboard assesses from threads);
#: never while one is computed. A kept design is never changed in place.
_DESIGNS_LOCK = threading.Lock()


def _design_key(record: KnownRecord, target: Target, hooks: Hooks) -> tuple | None:
    """What a real-time design reads: the record's rows, the target, the weather and the
    stockpile hook's inputs (the code is this process's); None for a hook that cannot
    say what it reads (a production hook, a stockpile hook of another kind)."""
    sp = hooks.stockpile
    if hooks.production is not None or not (sp is None or hasattr(sp, "cache_key")):
        return None
    wx = hooks.weather
    weather = (
        None
        if wx is None
        else hashlib.sha256(pd.util.hash_pandas_object(wx).to_numpy().tobytes()).hexdigest()
        + "|".join(map(str, wx.columns))
    )
    stockpile = None if sp is None else sp.cache_key()
    return (record.fingerprint(), target.name, target.expression, weather, stockpile)


def realtime_design(
    record: KnownRecord,
    target: Target,
    last_origin: object,
    *,
    hooks: Hooks = NO_HOOKS,
) -> pd.DataFrame:
    """Design rows for origins ``first_night + 1 .. last_origin``, row D computed from the
    panel as known on D (so no row ever uses a later revision). ``hooks.stockpile``: the hook
    of :class:`barrage.warning.stock.StockpileFeatures` (its refits are as known on r <= D).

    Computing it revisits every origin a late row revised (seconds), and every assessment
    needs it; so the design of a record, target and hooks is kept in the process: an
    earlier last origin gets its first rows, a later one only the rows it adds (the same
    numbers: tested)."""
    last = to_day(last_origin)
    n = record.day_index(last)
    if n < 1:
        raise InputError(f"as_of {last}: before the record starts ({record.first_night})")
    key = _design_key(record, target, hooks)
    if key is None:
        return _realtime_design(record, target, last, hooks)
    with _DESIGNS_LOCK:
        kept = _DESIGNS.pop(key, None)
    if kept is None:
        kept = _realtime_design(record, target, last, hooks)
    elif len(kept) < n:
        kept = _joined(kept, _realtime_design(record, target, last, hooks, first=len(kept) + 1))
    with _DESIGNS_LOCK:
        if len(_DESIGNS.get(key, ())) <= len(kept):
            _DESIGNS[key] = kept
        while len(_DESIGNS) > _DESIGNS_MAX:
            _DESIGNS.popitem(last=False)
    return kept.iloc[:n].copy()


def _joined(head: pd.DataFrame, tail: pd.DataFrame) -> pd.DataFrame:
    """A design and the rows that follow it, as one design (a daily index, as computed)."""
    rows = np.vstack([head.to_numpy(float), tail.to_numpy(float)])
    index = pd.date_range(head.index[0], periods=len(rows), freq="D", name=head.index.name)
    return pd.DataFrame(rows, index=index, columns=head.columns)


def _realtime_design(
    record: KnownRecord, target: Target, last: np.datetime64, hooks: Hooks, first: int = 1
) -> pd.DataFrame:
    """:func:`realtime_design` computed, for origins ``first .. last`` (no reuse)."""
    n = record.day_index(last)
    origins = None if first == 1 else np.arange(first, n + 1)
    final = design_matrix(record.panel(last), target, hooks=hooks, origins=origins)
    rows = final.to_numpy(float).copy()
    # Only origins with a row settling after them differ from the final vintage.
    settle, night = record.settled_from, record.night
    gap = (settle > night + 1) & (night + 1 <= n)
    pairs = np.unique(np.column_stack([night[gap] + 1, np.minimum(settle[gap], n + 1)]), axis=0)
    unsettled_origins = {int(t) for a, b in pairs for t in range(a, b)}
    for t in sorted(o for o in unsettled_origins if first <= o <= n):
        # The panel as known on t; only its last origin (t) is needed.
        rows[t - first] = design_rows(
            record.panel(record.first_night + np.timedelta64(t, "D")),
            target,
            np.array([t]),
            hooks=hooks,
        )[0]
    return pd.DataFrame(rows, index=final.index, columns=final.columns)


@dataclass
class BacktestResult:
    forecasts: pd.DataFrame  # as_of, model, horizon_days, p, outcome
    #: as_of, group, model, horizon_days, mean, dispersion, q10, q50, q90, outcome, crps,
    #: pinball, covered_80
    launches: pd.DataFrame
    event_days: np.ndarray  # integer days (from first night) of target nights
    first_night: np.datetime64
    plan: BacktestPlan
    target: Target


def _fit(name: str, k: int, X: pd.DataFrame, y: np.ndarray, fitted: dict):
    """Model ``name`` fitted on (X, y); the ensemble takes its members, and the isotonic
    feature model its regressions, from ``fitted`` when the loop has fitted them on the
    same rows already (the same numbers, once)."""
    if name == "ensemble" and all(m in fitted for m in ENSEMBLE_MEMBERS):
        return EnsembleModel.from_fitted([fitted[m] for m in ENSEMBLE_MEMBERS], k)
    if name == "feature_isotonic" and "feature_stock" in fitted:
        return with_isotonic(fitted["feature_stock"])
    return make_model(name, k).fit(X, y)


def _frame(parts: list[dict]) -> pd.DataFrame:
    """One frame from per-window column dicts (a scalar is repeated over the window's
    origins), as ``pd.concat`` of one frame per part would give, without building
    thousands of small frames."""
    sizes = [len(p["as_of"]) for p in parts]
    cols = {}
    for c in parts[0]:
        if np.ndim(parts[0][c]) == 0:
            cols[c] = np.repeat(np.array([p[c] for p in parts]), sizes)
        else:
            cols[c] = np.concatenate([np.asarray(p[c]) for p in parts])
    return pd.DataFrame(cols)


def _score_launches(launches: pd.DataFrame) -> pd.DataFrame:
    """CRPS (negative-binomial models; NaN for the quantile-only baseline), pinball loss
    at 10/50/90% and whether the 10-90% interval held the outcome, per forecast."""
    launches["crps"] = np.nan
    ok = launches["outcome"].notna()
    y = launches["outcome"].to_numpy(float)
    q = launches[["q10", "q50", "q90"]].to_numpy(float)
    launches["pinball"] = np.where(ok, pinball_loss(q, np.nan_to_num(y)), np.nan)
    launches["covered_80"] = np.where(ok, (q[:, 0] <= y) & (y <= q[:, 2]), np.nan)
    has_nb = ok & launches["dispersion"].notna()
    for _key, part in launches[has_nb].groupby(["group", "model", "horizon_days"]):
        launches.loc[part.index, "crps"] = crps_negbin(
            part["mean"].to_numpy(), part["dispersion"].to_numpy(), part["outcome"].to_numpy()
        )
    return launches


def run_backtest(
    record: KnownRecord,
    plan: BacktestPlan,
    target: Target,
    *,
    hooks: Hooks = NO_HOOKS,
    progress: Progress | None = None,
    launches_from: BacktestResult | None = None,
) -> BacktestResult:
    """Run every model of ``plan`` at every horizon over the plan's origins.

    BLAS runs single-threaded here: the fits are tiny, and threads only contend. The
    stockpile refits (one per month) are computed once, before the loop.
    ``launches_from``: a backtest of another target with the same plan on the same
    record, whose launch forecasts are reused (they do not depend on the target: the
    same training origins, the same tempo columns), instead of refitting them.
    """
    from threadpoolctl import threadpool_limits

    if launches_from is not None and (
        launches_from.plan != plan or launches_from.first_night != record.first_night
    ):
        raise InputError("launches_from: a backtest with another plan or record")
    with threadpool_limits(1):
        return _run_backtest(
            record,
            plan,
            target,
            hooks=hooks,
            progress=progress,
            reuse=launches_from,
        )


def run_registered_backtests(
    record: KnownRecord, plan: BacktestPlan, targets: tuple[Target, ...], hooks: Hooks = NO_HOOKS
) -> dict[str, BacktestResult]:
    """The backtest of each target (by name), the launch forecasts computed once."""
    out: dict[str, BacktestResult] = {}
    first = None
    for target in targets:
        out[target.name] = run_backtest(record, plan, target, launches_from=first, hooks=hooks)
        first = first or out[target.name]
    return out


def _check_start(record, plan) -> None:
    """Refuse a backtest that starts before ``min_train_origins`` training origins."""
    first_ok = record.first_night + np.timedelta64(
        plan.min_train_origins + max(plan.horizons) + 1, "D"
    )
    if to_day(plan.start) < first_ok:
        raise InputError(
            f"backtest start {plan.start}: needs {plan.min_train_origins} training "
            f"origins; the first possible start is {first_ok}"
        )


def _launch_parts(k: int, Xtr, Xte, ok, train_idx, test_idx, l_known, l_final) -> list[dict]:
    """Every launch model's forecasts of each launch group at horizon ``k`` for one
    window (trained on the launches known at its origin, scored on the final record's)."""
    parts = []
    as_of = test_idx.to_numpy()
    for g in LAUNCH_GROUPS:
        ltr = l_known[g][k].reindex(train_idx[ok])
        lok = ltr.notna().to_numpy()
        l_test = l_final[g][k].reindex(test_idx).to_numpy()
        for mname in LAUNCH_MODELS:
            m = make_launch_model(mname, g, k).fit(Xtr[lok], ltr.to_numpy()[lok])
            q = m.predict_quantiles(Xte)
            parts.append(
                {
                    "as_of": as_of,
                    "group": g,
                    "model": mname,
                    "horizon_days": k,
                    "mean": m.predict_mean(Xte),
                    "dispersion": m.predict_dispersion(Xte),
                    "q10": q[:, 0],
                    "q50": q[:, 1],
                    "q90": q[:, 2],
                    "outcome": l_test,
                }
            )
    return parts


def _run_backtest(record, plan, target, *, hooks: Hooks, progress, reuse=None) -> BacktestResult:
    final_day = record.last_known_day
    last_origin = min(to_day(plan.end), final_day)
    _check_start(record, plan)
    X = realtime_design(record, target, last_origin, hooks=hooks)
    final_panel = record.panel(final_day)
    y_final = outcomes(final_panel, target, plan.horizons).reindex(X.index)
    l_final = {
        g: df.reindex(X.index) for g, df in launch_totals(final_panel, plan.horizons).items()
    }
    windows = {k: plan.windows(k) for k in plan.horizons}
    total = sum(len(w) for w in windows.values())
    done = 0
    fc_parts, ln_parts = [], []
    label_cache: dict[np.datetime64, tuple] = {}
    for k, wins in windows.items():
        for w in wins:
            R = np.datetime64(w.forecast_first, "D")
            if R > last_origin:
                break
            if R not in label_cache:
                pr = record.panel(R)
                label_cache[R] = (
                    outcomes(pr, target, plan.horizons),
                    launch_totals(pr, plan.horizons),
                )
            y_known, l_known = label_cache[R]
            train_idx = X.index[X.index <= pd.Timestamp(w.train_last_origin)]
            yk = y_known[k].reindex(train_idx)
            ok = yk.notna().to_numpy()
            Xtr, ytr = X.loc[train_idx[ok]], yk.to_numpy()[ok]
            test_idx = X.index[
                (X.index >= pd.Timestamp(w.forecast_first))
                & (X.index <= pd.Timestamp(min(w.forecast_last, last_origin.astype(date))))
            ]
            if len(Xtr) < plan.min_train_origins or len(test_idx) == 0:
                continue
            Xte = X.loc[test_idx]
            as_of, y_test = test_idx.to_numpy(), y_final[k].reindex(test_idx).to_numpy()
            fitted: dict = {}
            for name in plan.models:
                fitted[name] = _fit(name, k, Xtr, ytr, fitted)
                p = fitted[name].predict_proba(Xte)[:, 1]
                fc_parts.append(
                    {"as_of": as_of, "model": name, "horizon_days": k, "p": p, "outcome": y_test}
                )
            if reuse is None:
                ln_parts += _launch_parts(k, Xtr, Xte, ok, train_idx, test_idx, l_known, l_final)
            done += 1
            if progress is not None:
                progress(done, total)
    if not fc_parts:
        raise InputError("backtest: no forecast origin has enough training data in the window")
    forecasts = _frame(fc_parts)
    launches = reuse.launches if reuse is not None else _score_launches(_frame(ln_parts))
    ev_days = np.flatnonzero(event_flags(final_panel, target))
    if progress is not None:
        progress(total, total)
    return BacktestResult(forecasts, launches, ev_days, record.first_night, plan, target)
