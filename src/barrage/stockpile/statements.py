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
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from barrage.errors import InputError
from barrage.files import decode_utf8, read_bounded

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


#: Statements must be about and made within the war the record covers (and not absurdly
#: far ahead: plans run at most to the end of 2030).
EARLIEST = dt.date(2022, 2, 24)
LATEST = dt.date(2030, 12, 31)


class Statement(BaseModel):
    """One dated statement about a family's production or stock (units, units/month)."""

    # NaN passed every check below (comparisons are false) and inf reached the fit
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

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
    #: where it was read ("file line N (statement 'id')"), for error messages
    origin: str = ""

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
        # messages start with the field they are about (the loader names the row)
        if self.low < 0:
            raise ValueError(f"low: expected a number >= 0, got {self.low}")
        if self.low > self.high:
            raise ValueError(f"low: {self.low} is above high {self.high}: expected low <= high")
        if self.high <= 0:
            raise ValueError(f"high: expected a positive number, got {self.high}")
        if self.sd_extra < 0:
            raise ValueError(f"sd_extra: expected a number >= 0, got {self.sd_extra}")
        start = self.refers_from or self.refers_to
        if start > self.refers_to:
            raise ValueError(
                f"refers_from: {start} is after refers_to {self.refers_to}: expected a period"
            )
        for name in ("stated_on", "refers_from", "refers_to"):
            d = getattr(self, name)
            if d is not None and not EARLIEST <= d <= LATEST:
                raise ValueError(
                    f"{name}: {d} is outside the record's era: expected a date from "
                    f"{EARLIEST} (the full-scale invasion) to {LATEST}"
                )
        if self.coverage == "part" and self.kind == "upper_bound":
            raise ValueError("coverage: a ceiling on part of a family bounds nothing")
        if self.metric in ("monthly_production", "total_supplied") and self.refers_from is None:
            raise ValueError(
                f"refers_from: {self.metric} needs the start of the period the figure is about"
            )
        return self


def _parse(text: str, origin: str) -> list[Statement]:
    """Every row or nothing: the first bad row raises one line naming row and field."""
    from barrage.stockpile.families import STOCK_FAMILIES

    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{origin}: missing column(s) {', '.join(missing)}")
    out: list[Statement] = []
    for line, row in enumerate(reader, start=2):
        where = f"{origin} line {line} (statement {row.get('statement_id')!r})"
        data = {k: v for k, v in row.items() if k is not None}
        try:
            s = Statement.model_validate({**data, "origin": where})
        except ValidationError as exc:
            err = exc.errors()[0]
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["loc"]:
                field = ".".join(str(p) for p in err["loc"])
                raise InputError(f"{where}: {field}: {msg} (got {err.get('input')!r})") from None
            raise InputError(f"{where}: {msg}") from None
        if s.use and s.family not in STOCK_FAMILIES:
            raise InputError(
                f"{where}: family: {s.family!r} is not one of {', '.join(STOCK_FAMILIES)} "
                "(set use=no to keep it for the record only)"
            )
        out.append(s)
    return out


def packaged_statements() -> list[Statement]:
    """The prior table shipped with barrage."""
    text = resources.files("barrage.stockpile").joinpath("statements.csv").read_text("utf-8")
    return _parse(text, "barrage/stockpile/statements.csv")


def load_statements(path: str | os.PathLike[str] | None = None) -> list[Statement]:
    """The packaged statements, with a user's file added (same ``statement_id`` replaces).

    A bad row anywhere raises :class:`InputError` naming file, line and field, and nothing
    is returned (no half-loaded table)."""
    base = {s.statement_id: s for s in packaged_statements()}
    if path is not None:
        p = Path(path)
        own = _parse(_read_text(p), str(p))
        ids = Counter(s.statement_id for s in own)
        twice = [s for s in own if ids[s.statement_id] > 1]
        if twice:  # the last one replaced the first without a word
            raise InputError(
                f"{twice[-1].origin}: statement_id: {twice[-1].statement_id!r} is given "
                f"{ids[twice[-1].statement_id]} times: expected each id once"
            )
        base.update((s.statement_id, s) for s in own)
    return list(base.values())


MAX_STATEMENTS_BYTES = 4 * 2**20
"""A statements file larger than this is refused before reading (the packaged table of
about a hundred rows is 21 kB)."""


def _read_text(p: Path) -> str:
    """A user's statements file as text, its size bounded and its encoding checked."""
    return decode_utf8(p, read_bounded(p, MAX_STATEMENTS_BYTES, "statements file"))


def statements_frame(statements: list[Statement]):
    """The statements as a DataFrame (one row each), for docs and inspection."""
    import pandas as pd

    return pd.DataFrame([s.model_dump() for s in statements])
