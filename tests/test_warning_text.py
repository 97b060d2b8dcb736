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
