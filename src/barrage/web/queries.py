"""What each read endpoint computes from an open store: one library call each, wrapped
in its response model. No calculation lives here; the library does it as for the CLI."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from barrage import ATTRIBUTION
from barrage.errors import BarrageError, InputError
from barrage.indicators import (
    INDICATORS,
    Hooks,
    KnownRecord,
    default_weather_path,
    indicator_frame,
    load_weather,
    percentile_of_last,
    resolve_target,
)
from barrage.record import massive_nights, nightly_by_class, summarise
from barrage.web.models import (
    Assessment,
    Backtest,
    Indicators,
    IndicatorValue,
    Night,
    NightsPage,
    Scorecard,
    Summary,
)


class NotAvailable(BarrageError):
    """A part of the library this endpoint needs is not in this build (503)."""

    exit_code = 4


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def summary(con) -> Summary:
    return Summary(**summarise(con), attribution=ATTRIBUTION)


def nights(
    con,
    *,
    start: dt.date | None,
    end: dt.date | None,
    weapon_class: str | None,
    offset: int,
    limit: int,
) -> NightsPage:
    launched = nightly_by_class(con, "launched", full_calendar=False)
    destroyed = nightly_by_class(con, "destroyed", full_calendar=False)
    massive = set(massive_nights(con))
    keep = launched.index == launched.index
    if start is not None:
        keep &= launched.index.date >= start
    if end is not None:
        keep &= launched.index.date <= end
    classes = [c for c in launched.columns if c != "missiles"]
    if weapon_class is not None:
        keep &= launched[weapon_class].to_numpy() > 0
        classes = [weapon_class]
    sel = launched[keep]
    page = sel.iloc[offset : offset + limit]
    items = []
    for night, row in page.iterrows():
        d = destroyed.loc[night] if night in destroyed.index else None
        items.append(
            Night(
                night=night.date(),
                launched_by_class={c: int(row[c]) for c in classes},
                destroyed_by_class={c: int(d[c]) if d is not None else 0 for c in classes},
                missiles_launched=int(row["missiles"]),
                massive=night.date().isoformat() in massive,
            )
        )
    return NightsPage(
        total=len(sel),
        offset=offset,
        limit=limit,
        start=start,
        end=end,
        weapon_class=weapon_class,
        items=items,
    )


def indicator_table(con, *, as_of: dt.date | None, target: str | None):
    """(as_of, Target, indicator frame, percentiles) from the indicators library."""
    tgt = resolve_target(target)
    record = KnownRecord.from_store(con)
    day = record.last_known_day if as_of is None else check_as_of(record, as_of)
    panel = record.panel(day)
    frame = indicator_frame(panel, tgt, hooks=Hooks(weather=load_weather(default_weather_path())))
    return panel.as_of, tgt, frame, percentile_of_last(frame)


def check_as_of(record, as_of: dt.date) -> dt.date:
    """Refuse an issue date after the store's knowledge ends: the record would read as
    quiet nights there, and the answer would look like a forecast it is not."""
    last = dt.date.fromisoformat(str(record.last_known_day))
    if as_of > last:
        raise InputError(
            f"as_of {as_of}: after the last date this store knows in full ({last}); "
            "ingest a newer record or ask for an earlier date"
        )
    return as_of


def indicators(con, *, as_of: dt.date | None, target: str | None, days: int) -> Indicators:
    day, tgt, frame, pct = indicator_table(con, as_of=as_of, target=target)
    recent = frame.iloc[-days:]
    dates = [ts.date() for ts in recent.index]
    out = []
    for name in frame.columns:
        meta = INDICATORS[name]
        values = recent[name].to_numpy(float)
        out.append(
            IndicatorValue(
                name=name,
                unit=meta.unit,
                meaning=meta.meaning,
                value=_finite(frame[name].iloc[-1]),
                percentile=_finite(pct.get(name)),
                history=[(d, _finite(v)) for d, v in zip(dates, values, strict=True)],
            )
        )
    return Indicators(
        as_of=dt.date.fromisoformat(str(day)),
        target=tgt.name,
        target_expression=tgt.expression,
        days=days,
        indicators=out,
    )


# --- the warning layer (written alongside; its absence is a clean 503) ---------------


def _warning_function(name: str):
    """The warning layer's entry point ``name`` (module ``barrage.warning.<module>``)."""
    import importlib

    module, _, attr = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(f"barrage.warning.{module}"), attr, None)
    except ImportError:
        found = None
    if found is None:
        raise NotAvailable(f"this build has no barrage.warning.{name} yet: the endpoint needs it")
    return found


def _available(name: str) -> bool:
    try:
        _warning_function(name)
    except NotAvailable:
        return False
    return True


def assessment_available() -> bool:
    return _available("assess.assess")


def backtest_available() -> bool:
    return _available("backtest_store.latest_backtest")


def _assess_inputs(con, target: str | None):
    """The assessment's inputs as ``barrage assess`` builds them (one implementation:
    :func:`barrage.warning.assess.inputs_from_store`)."""
    return _warning_function("assess.inputs_from_store")(con, target)


def assessment(con, *, as_of: dt.date | None, target: str | None) -> Assessment:
    run_assess = _warning_function("assess.assess")
    inputs = _assess_inputs(con, target)
    if as_of is not None:
        check_as_of(inputs.record, as_of)
    return Assessment.model_validate(run_assess(inputs, as_of))


def current_assessment(con) -> Assessment:
    """The assessment as of the latest day, default target: the one the server warms."""
    return assessment(con, as_of=None, target=None)


def backtest(con, *, target: str | None) -> Backtest:
    """The newest stored backtest (``barrage backtest --save`` or ``barrage run``): a
    backtest refits every model for minutes, so the server never runs one per request.
    None stored: :class:`barrage.warning.backtest_store.BacktestMissing` (404)."""
    stored = _warning_function("backtest_store.latest_backtest")(con, target)
    return Backtest.model_validate(_warning_function("backtest_store.backtest_view")(stored))


def backtest_head(con) -> int:
    """The newest stored backtest run (0: none); it changes on every save."""
    return _warning_function("backtest_store.backtest_head")(con)


def scorecard(con) -> Scorecard:
    """The live forecast log scored beside the backtest (``barrage scorecard``)."""
    return Scorecard.model_validate(_warning_function("scorecard.scorecard")(con))


def log_head(con) -> tuple[int, str]:
    """(entries, newest entry hash) of the forecast log: it changes on every append."""
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    if "forecast_log" not in tables:
        return (0, "")
    row = con.execute(
        "SELECT seq, entry_hash FROM forecast_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return (0, "") if row is None else (int(row[0]), str(row[1]))
