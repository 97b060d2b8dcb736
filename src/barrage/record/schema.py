"""The record's columns, declared once and used for validation, the store and the docs.

Each entry: ``(name in the CSV, name in the store, store type, unit, description)``.
Times are Kyiv local time as the Air Force publishes them (stored as naive timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    csv_name: str
    store_name: str
    store_type: str
    unit: str
    description: str
    required: bool = False


RECORD_COLUMNS: tuple[Column, ...] = (
    Column(
        "time_start",
        "time_start",
        "TIMESTAMP",
        "Kyiv local",
        "window start; a date-only value is read as 00:00",
        True,
    ),
    Column(
        "time_end",
        "time_end",
        "TIMESTAMP",
        "Kyiv local",
        "window end; a date-only value is read as 23:59:59 (known only by day's end)",
        True,
    ),
    Column(
        "model", "model", "VARCHAR", "", "weapon model string as published (may name a group)", True
    ),
    Column("launch_place", "launch_place", "VARCHAR", "", "launch areas as published"),
    Column("target", "target", "VARCHAR", "", "target area as published"),
    Column("target_main", "target_main", "VARCHAR", "", "main target as published"),
    Column(
        "launched",
        "launched",
        "DOUBLE",
        "weapons",
        "weapons launched (group count for combined models)",
        True,
    ),
    Column("destroyed", "destroyed", "DOUBLE", "weapons", "weapons shot down", True),
    Column(
        "not_reach_goal",
        "not_reach_goal",
        "DOUBLE",
        "weapons",
        "lost to electronic warfare / did not reach target",
    ),
    Column(
        "still_attacking", "still_attacking", "DOUBLE", "weapons", "still in the air at report time"
    ),
    Column(
        "border_crossing", "border_crossing", "VARCHAR", "", "dict-like string of border crossings"
    ),
    Column("is_shahed", "is_shahed", "DOUBLE", "weapons", "Shahed share as published"),
    Column("num_hit_location", "num_hit_location", "DOUBLE", "locations", "locations hit"),
    Column(
        "num_fall_fragment_location",
        "num_fall_fragment_location",
        "DOUBLE",
        "locations",
        "locations where debris fell",
    ),
    Column("carrier", "carrier", "VARCHAR", "", "launch platform"),
    Column("turbojet", "turbojet", "DOUBLE", "weapons", "jet-powered Shahed variants launched"),
    Column(
        "turbojet_destroyed",
        "turbojet_destroyed",
        "DOUBLE",
        "weapons",
        "jet-powered Shahed variants destroyed",
    ),
    Column(
        "affected region", "affected_region", "VARCHAR", "", "list-like string of affected regions"
    ),
    Column(
        "destroyed_details",
        "destroyed_details",
        "VARCHAR",
        "",
        "dict-like string of destroyed by area",
    ),
    Column(
        "launched_details",
        "launched_details",
        "VARCHAR",
        "",
        "dict-like string of launched by area",
    ),
    Column(
        "launch_place_details",
        "launch_place_details",
        "VARCHAR",
        "",
        "dict-like string of launch places",
    ),
    Column("source", "source", "VARCHAR", "", "post the row was digitised from", True),
)

REQUIRED_CSV_COLUMNS: tuple[str, ...] = tuple(c.csv_name for c in RECORD_COLUMNS if c.required)
COUNT_COLUMNS: tuple[str, ...] = tuple(
    c.store_name for c in RECORD_COLUMNS if c.store_type == "DOUBLE"
)
#: Counts that must be whole, non-negative weapons.
WEAPON_COUNT_COLUMNS: tuple[str, ...] = (
    "launched",
    "destroyed",
    "not_reach_goal",
    "still_attacking",
)

#: Columns barrage derives at ingest (name, type, unit, description).
DERIVED_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    (
        "key_seq",
        "INTEGER",
        "",
        "1-based order among rows of one file sharing time_start, time_end, model, source; with them, the upsert key",
    ),
    ("start_is_date_only", "BOOLEAN", "", "time_start had no time of day"),
    ("end_is_date_only", "BOOLEAN", "", "time_end had no time of day"),
    (
        "night",
        "DATE",
        "Kyiv date",
        "attack night: the date of the evening the window started (start before 12:00 → previous evening)",
    ),
    (
        "family",
        "VARCHAR",
        "",
        "canonical weapon family (taxonomy.csv); combined groups join with '+'",
    ),
    (
        "weapon_class",
        "VARCHAR",
        "",
        "attack_drone, tactical_drone, recon_drone, cruise_missile, ballistic_missile, mixed_missile, guided_bomb, unknown",
    ),
    ("source_channel", "VARCHAR", "", "publishing channel (e.g. kpszsu, PvKPivden)"),
    (
        "source_level",
        "VARCHAR",
        "",
        "national (Air Force command) or regional (PvK... air commands)",
    ),
    ("source_file_sha256", "VARCHAR", "", "SHA-256 of the file this version of the row came from"),
    ("first_ingested_at", "TIMESTAMP", "UTC", "when the row first entered the store"),
    ("ingested_at", "TIMESTAMP", "UTC", "when this version of the row entered the store"),
)


def schema_markdown() -> str:
    """The store's ``attacks`` table as a Markdown table, for docs."""
    lines = ["| column | type | unit | description |", "|---|---|---|---|"]
    for c in RECORD_COLUMNS:
        lines.append(f"| `{c.store_name}` | {c.store_type} | {c.unit} | {c.description} |")
    for name, typ, unit, desc in DERIVED_COLUMNS:
        lines.append(f"| `{name}` | {typ} | {unit} | {desc} |")
    return "\n".join(lines)
