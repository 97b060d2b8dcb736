"""The attack record: taxonomy, ingest, store and attack nights.

Public API::

    from barrage.record import ingest_record, summary, load_night_totals, open_store
"""

from barrage.record.ingest import IngestReport, ingest_record
from barrage.record.locate import locate_record
from barrage.record.nights import (
    MASSIVE_MISSILES,
    load_night_totals,
    massive_nights,
    night_totals,
    nightly_by_class,
    summarise,
    summary,
)
from barrage.record.store import DEFAULT_DB, connect, open_store
from barrage.record.taxonomy import MISSILE_CLASSES, WEAPON_CLASSES, classify_model

__all__ = [
    "DEFAULT_DB",
    "MASSIVE_MISSILES",
    "MISSILE_CLASSES",
    "WEAPON_CLASSES",
    "IngestReport",
    "classify_model",
    "connect",
    "ingest_record",
    "load_night_totals",
    "locate_record",
    "massive_nights",
    "night_totals",
    "nightly_by_class",
    "open_store",
    "summarise",
    "summary",
]
