"""The time-gap comparison: its bands, against a plain one-pair definition, and its labels."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.match.comparisons.time_gap import DATE_TOLERANCE_DAYS, TimeGapComparison

COMPARISON = TimeGapComparison()


def level_of(found: date | None, lost: date | None) -> int:
    """The slow obvious definition: whole days from the missing date to the found date."""
    if found is None or lost is None:
        return -1
    days = (found - lost).days
    if days < -DATE_TOLERANCE_DAYS:
        return 0
    if days < 0:
        return 1
    for level, upper in ((7, 30), (6, 91), (5, 366), (4, 1096), (3, 3653)):
        if days <= upper:
            return level
    return 2


def levels(pairs: list[tuple[date | None, date | None]]) -> list[int]:
    residents = pd.DataFrame({"event_date": pd.to_datetime([found for found, _ in pairs])})
    missing = pd.DataFrame({"event_date": pd.to_datetime([lost for _, lost in pairs])})
    positions = np.arange(len(pairs))
    return COMPARISON.levels(COMPARISON.encode(residents, missing), positions, positions).tolist()


FOUND = date(2024, 3, 1)


@pytest.mark.parametrize("lost, level, label", [
    (date(2024, 3, 1), 7, "走失一月内发现"),                 # found the day it was reported
    (date(2024, 1, 31), 7, "走失一月内发现"),                # 30 days
    (date(2024, 1, 30), 6, "走失一至三月后发现"),             # 31 days
    (date(2023, 12, 1), 6, "走失一至三月后发现"),             # 91 days
    (date(2023, 6, 1), 5, "走失三月至一年后发现"),
    (date(2023, 3, 1), 5, "走失三月至一年后发现"),            # 366 days (2024 is a leap year)
    (date(2022, 1, 1), 4, "走失一至三年后发现"),
    (date(2019, 3, 1), 3, "走失三至十年后发现"),
    (date(2014, 3, 3), 3, "走失三至十年后发现"),              # 3,651 days
    (date(2010, 5, 1), 2, "走失十年以上后发现"),
    (date(2024, 3, 2), 1, "发现早于报失日期(一月内)"),        # found a day before the reported date
    (date(2024, 3, 31), 1, "发现早于报失日期(一月内)"),       # 30 days before
    (date(2024, 4, 1), 0, "发现早于走失"),                  # 31 days before: a contradiction
    (None, -1, "日期不详"),
])
def test_bands(lost, level, label):
    assert levels([(FOUND, lost)]) == [level] == [level_of(FOUND, lost)]
    assert COMPARISON.label_array(np.array([level])).tolist() == [label]


def test_an_unknown_found_date_gives_no_evidence():
    assert levels([(None, date(2024, 1, 1)), (None, None)]) == [-1, -1]


def test_every_level_has_a_chinese_label_and_the_levels_are_not_ordered():
    assert sorted(COMPARISON.labels) == list(range(-1, COMPARISON.n_levels))
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in COMPARISON.labels.values())
    # level 1 (dates that disagree by weeks) may weigh anything between 0 and 7: EM decides
    assert COMPARISON.ordered is False


dates = st.one_of(st.none(), st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(dates, dates), min_size=1, max_size=20))
def test_levels_equal_the_one_pair_definition(pairs):
    assert levels(pairs) == [level_of(found, lost) for found, lost in pairs]


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)), st.integers(0, 8000), st.integers(0, 8000))
def test_a_longer_gap_never_lands_in_a_shorter_band(found, a, b):
    """Among gaps of zero days or more, the level never rises as the gap grows."""
    short, long = sorted((a, b))
    got = levels([(found, found - timedelta(days=short)), (found, found - timedelta(days=long))])
    assert got[0] >= got[1] >= 2
