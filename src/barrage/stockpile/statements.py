"""The prior table: dated, sourced production and stock statements mapped onto families.

The packaged table (``statements.csv`` beside this file) keeps every statement of the
shared ``production_estimates.csv`` with its citation, and adds how barrage reads it:

- ``family``: the stock family it informs (see :data:`barrage.stockpile.families.STOCK_FAMILIES`);
  ``all_missiles`` rows are aggregates kept for the record and not used (``use = no``).
- ``kind``: ``estimate`` (a figure, ``low``-``high`` read as a 90% range), ``plan`` (a
  target or capacity: plans outrun output), ``upper_bound`` / ``lower_bound``.
- ``coverage``: ``family``; ``part`` (counts only part of the family, e.g. Shahed without
  decoys); ``more`` (counts more than the family: only a ceiling).
- ``stated_on``: when it was said (a month-only date is taken as the month's last day),
  the date the no-look-ahead rule uses; ``refers_from``/``refers_to``: the period the
  figure is about (a stock: ``refers_to``).
- ``sd_extra``: extra log-error for a statement known to be weak.

Users add or override statements with their own CSV of the same columns (a row with an
existing ``statement_id`` replaces it); citation columns may be left empty.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from barrage.errors import InputError

METRICS = ("monthly_production", "stockpile", "total_supplied")
KINDS = ("estimate", "plan", "upper_bound", "lower_bound")
COVERAGES = ("family", "part", "more")
CITATION_COLUMNS = (
    "unit",
    "weapon_as_reported",
    "date_as_reported",
    "source_publisher",
    "source_url",
    "who_said",
    "key_phrase",
    "source_title",
    "note",
)
REQUIRED_COLUMNS = (
    "statement_id",
    "family",
    "metric",
    "kind",
    "low",
    "high",
    "stated_on",
    "refers_to",
)


class Statement(BaseModel):
    """One dated statement about a family's production or stock (units, units/month)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    statement_id: str
    family: str
    metric: Literal["monthly_production", "stockpile", "total_supplied"]
    kind: Literal["estimate", "plan", "upper_bound", "lower_bound"]
    coverage: Literal["family", "part", "more"] = "family"
    low: float
    high: float
    stated_on: dt.date
    refers_from: dt.date | None = None
    refers_to: dt.date
    sd_extra: float = 0.0
    use: bool = True
    unit: str = ""
    weapon_as_reported: str = ""
    date_as_reported: str = ""
    source_publisher: str = ""
    source_url: str = ""
    who_said: str = ""
    key_phrase: str = ""
    source_title: str = ""
    note: str = ""

    @field_validator("refers_from", mode="before")
    @classmethod
    def _empty_date(cls, v: object) -> object:
        return None if v in ("", None) else v

    @field_validator("sd_extra", mode="before")
    @classmethod
    def _empty_sd(cls, v: object) -> object:
        return 0.0 if v in ("", None) else v

    @field_validator("use", mode="before")
    @classmethod
    def _yes_no(cls, v: object) -> object:
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("yes", "true", "1", ""):
                return True
            if low in ("no", "false", "0"):
                return False
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Statement:
        if not 0 <= self.low <= self.high:
            raise ValueError(f"need 0 <= low <= high, got low={self.low}, high={self.high}")
        if self.high <= 0:
            raise ValueError("high must be positive")
        if self.sd_extra < 0:
            raise ValueError(f"sd_extra must be >= 0, got {self.sd_extra}")
        start = self.refers_from or self.refers_to
        if start > self.refers_to:
            raise ValueError(f"refers_from {start} is after refers_to {self.refers_to}")
        if self.coverage == "part" and self.kind == "upper_bound":
            raise ValueError("a ceiling on part of a family (coverage part) bounds nothing")
        if self.metric in ("monthly_production", "total_supplied") and self.refers_from is None:
            raise ValueError(f"{self.metric} needs refers_from (the period the figure is about)")
        return self


def _parse(text: str, origin: str) -> list[Statement]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{origin}: missing column(s) {', '.join(missing)}")
    out: list[Statement] = []
    for line, row in enumerate(reader, start=2):
        try:
            out.append(Statement.model_validate({k: v for k, v in row.items() if k is not None}))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = f"{origin} line {line} (statement {row.get('statement_id')!r})"
            if err["loc"]:
                field = ".".join(str(p) for p in err["loc"])
                raise InputError(
                    f"{where}: {field}: {err['msg']} (got {err.get('input')!r})"
                ) from None
            raise InputError(f"{where}: {err['msg']}") from None
    return out


def packaged_statements() -> list[Statement]:
    """The prior table shipped with barrage."""
    text = resources.files("barrage.stockpile").joinpath("statements.csv").read_text("utf-8")
    return _parse(text, "barrage/stockpile/statements.csv")


def load_statements(path: str | os.PathLike[str] | None = None) -> list[Statement]:
    """The packaged statements, with a user's file added (same ``statement_id`` replaces)."""
    from barrage.stockpile.families import STOCK_FAMILIES

    base = {s.statement_id: s for s in packaged_statements()}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"statements file {p} not found")
        for s in _parse(p.read_text("utf-8"), str(p)):
            base[s.statement_id] = s
    for s in base.values():
        if s.use and s.family not in STOCK_FAMILIES:
            raise InputError(
                f"statement {s.statement_id!r}: family {s.family!r} is not one of "
                f"{', '.join(STOCK_FAMILIES)} (set use=no to keep it for the record only)"
            )
    return list(base.values())


def statements_frame(statements: list[Statement]):
    """The statements as a DataFrame (one row each), for docs and inspection."""
    import pandas as pd

    return pd.DataFrame([s.model_dump() for s in statements])
