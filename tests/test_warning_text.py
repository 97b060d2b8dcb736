"""Sentences a person reads: ordinals in the drivers, yes/no flags, the terms' sum."""

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

    class Flat:  # a model whose log-odds rise with the flag only
        def log_odds_terms(self, X):
            return np.full(len(X), -1.0), {"heating_season": 0.5 * X["heating_season"].to_numpy()}

    idx = pd.DatetimeIndex(["2025-10-01"])
    row = pd.DataFrame({"heating_season": [1.0]}, index=idx)
    pct = pd.Series({"heating_season": 80.0})
    att = _drivers(Flat(), row, pct, "flat")
    got = {d["indicator"]: d for d in att["terms"]}
    sentence = got["heating_season"]["sentence"]
    assert ": yes;" in sentence and "percentile" not in sentence and "0/1" not in sentence
    assert got["heating_season"]["log_odds"] == 0.5
    assert att["log_odds"] == -0.5 and att["p"] == 1 / (1 + np.exp(0.5))
