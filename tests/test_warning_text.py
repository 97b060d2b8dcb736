"""Sentences a person reads: ordinals in the drivers."""

from barrage.warning.assess import _ordinal


def test_ordinals():
    got = [_ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 23, 91, 100, 111)]
    assert got == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "23rd",
        "91st",
        "100th",
        "111th",
    ]


def test_a_yes_no_indicator_reads_yes_or_no_without_a_percentile():
    """The heating-season flag is said as yes/no; a percentile of a 0/1 flag means nothing."""
    import numpy as np
    import pandas as pd

    from barrage.warning.assess import _drivers
    from barrage.warning.models import STOCK_FEATURE_COLUMNS

    class Flat:  # a model whose probability rises with the flag only
        def predict_proba(self, X):
            p = 0.2 + 0.1 * X["heating_season"].to_numpy(dtype=float)
            return np.column_stack([1 - p, p])

    cols = list(STOCK_FEATURE_COLUMNS)
    assert "heating_season" in cols
    idx = pd.DatetimeIndex(["2025-10-01"])
    row = pd.DataFrame({c: [1.0] for c in cols}, index=idx)
    train = pd.DataFrame({c: [0.0, 0.0, 1.0] for c in cols})
    pct = pd.Series({c: 80.0 for c in cols})
    got = {d["indicator"]: d for d in _drivers(Flat(), row, train, pct, top=len(cols))}
    sentence = got["heating_season"]["sentence"]
    assert ": yes;" in sentence and "percentile" not in sentence and "0/1" not in sentence
    assert got["heating_season"]["effect"] > 0.09
