"""The record as known at any date: rows with their knowledge dates, and night panels.

:class:`KnownRecord` holds every stored row as arrays, with the day from which it is
known (``time_end`` before 12:00 Kyiv of that day) and the day from which it stops
counting as a regional duplicate. :meth:`KnownRecord.panel` gives the per-night totals
that a store ingested at 12:00 of ``as_of`` would hold — the single as-of rule of the
warning layer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from barrage.errors import InputError
from barrage.record.nights import known_rows
from barrage.record.taxonomy import MISSILE_CLASSES, WEAPON_CLASSES

#: Oblasts and cities with critical energy sites (nuclear, large thermal and hydro plants,
#: 750/330 kV substations, gas storage) matched in ``target`` / ``affected_region``.
ENERGY_REGION_PATTERN = re.compile(
    r"kyiv|kharkiv|dnipro|zaporizh|odesa|lviv|khmelnyts|rivne|ivano|burshtyn|vinnyts|"
    r"ladyzhyn|poltava|cherkas|kaniv|mykolaiv|kirovohrad|kryvyi|chernihiv|sumy|zhytomyr",
    re.IGNORECASE,
)
_NO_DUP = np.iinfo(np.int64).max // 4
#: The per-row arrays of :class:`KnownRecord` that every panel is computed from.
ROW_ARRAYS: tuple[str, ...] = (
    "night",
    "known_from",
    "duplicate_from",
    "class_index",
    "family_index",
    "launched",
    "destroyed",
    "recon_energy",
    "missiles_energy",
)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]*([+-][0-9:]+|Z)?)?")


def to_day(value: object, name: str = "as_of") -> np.datetime64:
    """A date-like value as a numpy day (raises InputError naming ``name`` on garbage).

    Text must be ISO (YYYY-MM-DD): 01/06/2025 is 1 June to a Kyiv reader and 6 January
    to pandas, so any other form is refused rather than guessed."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value.strip()):
        raise InputError(f"{name}: expected a date YYYY-MM-DD (ISO only), got {value!r}")
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise InputError(f"{name}: expected a date YYYY-MM-DD, got {value!r}") from None
    if ts is pd.NaT:
        raise InputError(f"{name}: expected a date YYYY-MM-DD, got {value!r}")
    return np.datetime64(ts.date(), "D")


@dataclass(frozen=True)
class NightPanel:
    """Per-night totals known as of a date: nights ``first_night .. as_of - 1``.

    ``launched`` and ``destroyed`` are (nights, classes) in :data:`WEAPON_CLASSES` order;
    ``recon_energy`` and ``missiles_energy`` are launches per night aimed at regions with
    critical energy sites.
    """

    first_night: np.datetime64
    as_of: np.datetime64
    launched: np.ndarray
    destroyed: np.ndarray
    recon_energy: np.ndarray
    missiles_energy: np.ndarray

    @property
    def n_nights(self) -> int:
        return int(self.launched.shape[0])

    @property
    def nights(self) -> pd.DatetimeIndex:
        return pd.date_range(pd.Timestamp(self.first_night), periods=self.n_nights, freq="D")

    def by_class(self, value: str = "launched") -> dict[str, np.ndarray]:
        arr = getattr(self, value)
        return {c: arr[:, i] for i, c in enumerate(WEAPON_CLASSES)}

    def frame(self) -> pd.DataFrame:
        """Wide launched-by-class table with a ``missiles`` column (like nightly_by_class)."""
        df = pd.DataFrame(self.launched, index=self.nights, columns=list(WEAPON_CLASSES))
        df.index.name = "night"
        df["missiles"] = df[list(MISSILE_CLASSES)].sum(axis=1)
        return df


class KnownRecord:
    """All stored rows as arrays, each with the day it became known (see module doc)."""

    def __init__(self, rows: pd.DataFrame) -> None:
        if rows.empty:
            raise InputError("the store holds no usable rows: ingest a record first")
        self.first_night = np.datetime64(rows["night"].min().date(), "D")
        self.last_night = np.datetime64(rows["night"].max().date(), "D")
        day0 = self.first_night

        def days(col: str) -> np.ndarray:
            v = rows[col].to_numpy("datetime64[D]")
            out = (v - day0).astype(np.int64)
            return np.where(np.isnat(v), _NO_DUP, out)

        self.night = days("night")
        self.known_from = days("known_from")
        self.duplicate_from = days("duplicate_from")
        self.class_index = pd.Categorical(rows["weapon_class"], categories=WEAPON_CLASSES).codes
        if (self.class_index < 0).any():
            raise InputError("attacks: weapon_class outside the taxonomy's classes")
        fam = pd.Categorical(rows["family"].fillna("").astype(str))
        self.family_names = np.asarray(fam.categories, dtype=object)
        self.family_index = fam.codes
        self.launched = rows["launched"].to_numpy(float)
        self.destroyed = rows["destroyed"].to_numpy(float)
        text = rows["target"].fillna("") + " " + rows["affected_region"].fillna("")
        energy = text.str.contains(ENERGY_REGION_PATTERN).to_numpy(bool)
        cls = np.asarray(WEAPON_CLASSES)[self.class_index]
        self.recon_energy = np.where(energy & (cls == "recon_drone"), self.launched, 0.0)
        self.missiles_energy = np.where(energy & np.isin(cls, MISSILE_CLASSES), self.launched, 0.0)
        # A row is settled (its contribution final) from this day on.
        self.settled_from = np.maximum(
            self.known_from, np.where(self.duplicate_from == _NO_DUP, 0, self.duplicate_from)
        )

    @classmethod
    def from_store(cls, con) -> KnownRecord:
        return cls(known_rows(con))

    def fingerprint(self) -> str:
        """SHA-256 of the rows and their knowledge dates, in a fixed order (the store
        returns rows in none): two records with the same fingerprint give the same panels
        on every date, so what is computed from one serves the other."""
        names = ROW_ARRAYS
        order = np.lexsort([getattr(self, n) for n in reversed(names)])
        h = hashlib.sha256(str(self.first_night).encode())
        for name in names:
            h.update(name.encode())
            h.update(np.ascontiguousarray(getattr(self, name)[order]).tobytes())
        h.update("|".join(map(str, self.family_names)).encode())
        return h.hexdigest()

    def day_index(self, day: np.datetime64) -> int:
        return int((day - self.first_night).astype(np.int64))

    @property
    def last_known_day(self) -> np.datetime64:
        """The first as-of date at which every stored row is known."""
        return self.first_night + np.timedelta64(int(self.known_from.max()), "D")

    def counted(self, as_of: object) -> np.ndarray:
        """Which rows count in the totals as of 12:00 Kyiv on ``as_of`` (bool per row)."""
        t = self.day_index(to_day(as_of))
        return (self.night < t) & (self.known_from <= t) & ~(self.duplicate_from <= t)

    def night_totals(self, as_of: object) -> pd.DataFrame:
        """Per (night, weapon_class, family) launches as known on ``as_of``, in the shape of
        :func:`barrage.record.night_totals` (for models that need weapon families)."""
        counts = self.counted(as_of)
        df = pd.DataFrame(
            {
                "night": self.first_night + self.night[counts].astype("timedelta64[D]"),
                "weapon_class": np.asarray(WEAPON_CLASSES, dtype=object)[self.class_index[counts]],
                "family": self.family_names[self.family_index[counts]],
                "launched": self.launched[counts],
            }
        )
        df["night"] = df["night"].astype("datetime64[ns]")
        return (
            df.groupby(["night", "weapon_class", "family"], as_index=False, sort=True)["launched"]
            .sum()
            .reset_index(drop=True)
        )

    def panel(self, as_of: object) -> NightPanel:
        """Night totals as a store ingested at 12:00 Kyiv on ``as_of`` would hold them."""
        day = to_day(as_of)
        t = self.day_index(day)
        if t < 1:
            raise InputError(
                f"as_of {day}: before the record starts (first night {self.first_night}); "
                f"the first usable date is {self.first_night + np.timedelta64(1, 'D')}"
            )
        counts = (self.night < t) & (self.known_from <= t) & ~(self.duplicate_from <= t)
        idx = self.night[counts]
        cidx = self.class_index[counts]
        n_classes = len(WEAPON_CLASSES)
        flat = idx * n_classes + cidx
        size = t * n_classes
        launched = np.bincount(flat, self.launched[counts], size).reshape(t, n_classes)
        destroyed = np.bincount(flat, self.destroyed[counts], size).reshape(t, n_classes)
        recon = np.bincount(idx, self.recon_energy[counts], t)
        miss = np.bincount(idx, self.missiles_energy[counts], t)
        return NightPanel(self.first_night, day, launched, destroyed, recon, miss)
