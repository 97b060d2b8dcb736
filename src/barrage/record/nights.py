"""Attack nights: per-night totals by class and family, and the record's summary.

A row's night is the Kyiv date of the evening its window started (a window starting
before 12:00 belongs to the previous evening). Regional duplicates are left out (see
the ``attack_rows`` view in :mod:`barrage.record.store`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from barrage.errors import InputError
from barrage.record.store import (
    DEFAULT_DB,
    REPEATS_NATIONAL,
    flag_duplicates_sql,
    night_totals_sql,
    open_store,
)
from barrage.record.taxonomy import MISSILE_CLASSES, WEAPON_CLASSES

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

#: Default massive-strike threshold: missiles (cruise + ballistic + mixed) in one night.
MASSIVE_MISSILES = 30


def _missile_list() -> str:
    return ", ".join(f"'{c}'" for c in MISSILE_CLASSES)


def per_night(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """A query with a ``night`` column as a frame, ``night`` as datetime64[ns]."""
    df = con.execute(sql).df()
    df["night"] = df["night"].astype("datetime64[ns]")
    return df


def load_per_night(db: str | os.PathLike[str], sql: str) -> pd.DataFrame:
    """:func:`per_night` on a store file (opened read-only)."""
    with open_store(db) as con:
        return per_night(con, sql)


def night_totals(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (night, weapon_class, family): launched, destroyed, not_reach_goal."""
    return per_night(
        con,
        "SELECT night, weapon_class, family, launched, destroyed, not_reach_goal, rows "
        "FROM night_totals ORDER BY night, weapon_class, family",
    )


def load_night_totals(db: str | os.PathLike[str] = DEFAULT_DB) -> pd.DataFrame:
    """:func:`night_totals` from a store file (opened read-only)."""
    with open_store(db) as con:
        return night_totals(con)


def nightly_by_class(
    con: duckdb.DuckDBPyConnection, value: str = "launched", *, full_calendar: bool = True
) -> pd.DataFrame:
    """Wide table: one row per night (every calendar night if ``full_calendar``), one
    column per weapon class, plus ``missiles`` (cruise + ballistic + mixed)."""
    if value not in ("launched", "destroyed", "not_reach_goal"):
        raise InputError(f"value: expected launched, destroyed or not_reach_goal, got {value!r}")
    df = con.execute(
        f"SELECT night, weapon_class, sum({value}) AS n FROM night_totals GROUP BY ALL"
    ).df()
    import pandas as pd

    if df.empty:
        return pd.DataFrame(columns=[*WEAPON_CLASSES, "missiles"])
    wide = df.pivot_table(index="night", columns="weapon_class", values="n", aggfunc="sum")
    wide = wide.reindex(columns=list(WEAPON_CLASSES)).fillna(0.0)
    wide.index = pd.to_datetime(wide.index)
    if full_calendar:
        wide = wide.reindex(
            pd.date_range(wide.index.min(), wide.index.max(), freq="D"), fill_value=0.0
        )
    wide.index.name = "night"
    wide["missiles"] = wide[list(MISSILE_CLASSES)].sum(axis=1)
    return wide


def massive_nights(con: duckdb.DuckDBPyConnection, threshold: int = MASSIVE_MISSILES) -> list[str]:
    """Nights with ``threshold`` or more missiles launched (cruise + ballistic + mixed)."""
    rows = con.execute(
        f"SELECT night FROM night_totals WHERE weapon_class IN ({_missile_list()}) "
        "GROUP BY night HAVING sum(launched) >= ? ORDER BY night",
        [threshold],
    ).fetchall()
    return [r[0].isoformat() for r in rows]


def summarise(con: duckdb.DuckDBPyConnection, *, largest: int = 10) -> dict:
    """The store at a glance: span, nights, massive nights, launches by class and year."""
    first, last, nights = con.execute(
        "SELECT min(night), max(night), count(DISTINCT night) FROM night_totals"
    ).fetchone()
    if nights == 0:
        raise InputError("the store holds no usable rows: ingest a record first")

    def by_class_year(value: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for cls, year, n in con.execute(
            f"SELECT weapon_class, year(night)::VARCHAR, sum({value}) FROM night_totals "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            out.setdefault(cls, {})[year] = int(n)
        return out

    largest_rows = con.execute(
        "WITH t AS (SELECT night, weapon_class, sum(launched) AS n FROM night_totals "
        "WHERE weapon_class <> 'recon_drone' GROUP BY ALL), "
        "r AS (SELECT night, sum(n) AS total FROM t GROUP BY night ORDER BY total DESC, night LIMIT ?) "
        "SELECT r.night, r.total, t.weapon_class, t.n FROM r JOIN t USING (night) "
        "ORDER BY r.total DESC, r.night, t.weapon_class",
        [largest],
    ).fetchall()
    largest_nights: list[dict] = []
    for night, total, cls, n in largest_rows:
        if not largest_nights or largest_nights[-1]["night"] != night.isoformat():
            largest_nights.append(
                {"night": night.isoformat(), "launched_total": int(total), "launched_by_class": {}}
            )
        largest_nights[-1]["launched_by_class"][cls] = int(n)
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_regional_duplicate) FROM attack_rows"
    ).fetchone()
    quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    return {
        "first_night": first.isoformat(),
        "last_night": last.isoformat(),
        "nights": int(nights),
        "massive_nights": len(massive_nights(con)),
        "massive_threshold_missiles": MASSIVE_MISSILES,
        "launched_by_class_year": by_class_year("launched"),
        "destroyed_by_class_year": by_class_year("destroyed"),
        "largest_nights": largest_nights,
        "rows_stored": int(counts[0]),
        "rows_regional_duplicate": int(counts[1]),
        "rows_quarantined": int(quarantined),
    }


def summary(db: str | os.PathLike[str] = DEFAULT_DB, *, largest: int = 10) -> dict:
    """:func:`summarise` on a store file (opened read-only)."""
    with open_store(Path(db)) as con:
        return summarise(con, largest=largest)


# --- As-of views (used by the warning layer; one documented rule) ----------------------
#
# A forecast issued "as of D" is issued at 12:00 Kyiv time on D and may use only the rows
# whose ``time_end`` is before that moment. A row is therefore *known from* the first date
# D with ``time_end < D 12:00``; a regional row stops counting (it is a regional
# duplicate) from the first date its national counterpart is known.

_KNOWN_FROM_SQL = (
    "CASE WHEN {t} < CAST({t} AS DATE) + INTERVAL 12 HOUR "
    "THEN CAST({t} AS DATE) ELSE CAST({t} AS DATE) + 1 END"
)


def known_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored row with the dates from which it is known and (for a regional
    duplicate) from which it is left out, so that any as-of view is a filter.

    Columns: night, weapon_class, family, launched, destroyed, not_reach_goal, target,
    affected_region, source_level, known_from (date), duplicate_from (date or NaT). A row
    counts in the totals as of D when ``night < D`` and ``known_from <= D`` and not
    ``duplicate_from <= D``.
    """
    kf_a = _KNOWN_FROM_SQL.format(t="a.time_end")
    kf_n = _KNOWN_FROM_SQL.format(t="n.time_end")
    df = con.execute(
        f"""
        SELECT a.night, a.weapon_class, a.family,
               coalesce(a.launched, 0) AS launched, coalesce(a.destroyed, 0) AS destroyed,
               coalesce(a.not_reach_goal, 0) AS not_reach_goal,
               a.target, a.affected_region, a.source_level,
               {kf_a} AS known_from,
               CASE WHEN a.source_level = 'regional' THEN (
                   SELECT min({kf_n}) FROM attacks n WHERE {REPEATS_NATIONAL}
               ) END AS duplicate_from
        FROM attacks a
        ORDER BY a.night, a.time_start, a.model, a.source, a.key_seq
        """
    ).df()
    for col in ("night", "known_from", "duplicate_from"):
        df[col] = df[col].astype("datetime64[ns]")
    return df


def night_totals_as_of(con: duckdb.DuckDBPyConnection, cutoff: object) -> pd.DataFrame:
    """:func:`night_totals` from only the rows with ``time_end < cutoff`` (a timestamp,
    Kyiv local), with regional duplicates judged among those rows alone: what a store
    ingested at ``cutoff`` would hold."""
    df = con.execute(
        "WITH k AS (SELECT * FROM attacks WHERE time_end < CAST(? AS TIMESTAMP)), "
        f"r AS ({flag_duplicates_sql('k')}) "
        f"{night_totals_sql('r')} ORDER BY night, weapon_class, family",
        [str(cutoff)],
    ).df()
    df["night"] = df["night"].astype("datetime64[ns]")
    return df
