"""The time-gap comparison: its bands (default and finer), against a plain one-pair definition,
its labels, and its settings round trip."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.errors import InputError
from kinmatch.match.comparisons.time_gap import DATE_TOLERANCE_DAYS, GAP_BANDS_DAYS, TimeGapComparison
from kinmatch.match.settings import LinkSettings, default_comparisons

DEFAULT = TimeGapComparison()
FINE = TimeGapComparison(bands=GAP_BANDS_DAYS, before_level=True)


def level_of(found: date | None, lost: date | None, fine: bool) -> int:
    """The slow obvious definition: whole days from the missing date to the found date."""
    if found is None or lost is None:
        return -1
    days = (found - lost).days
    if days < -DATE_TOLERANCE_DAYS:
        return 0
    if fine:
        if days < 0:
            return 1
        bands = ((7, 30), (6, 91), (5, 366), (4, 1096), (3, 3653))
    else:
        bands = ((4, 30), (3, 366), (2, 3653))
    for level, upper in bands:
        if days <= upper:
            return level
    return 2 if fine else 1


def levels(comparison: TimeGapComparison, pairs: list[tuple[date | None, date | None]]) -> list[int]:
    residents = pd.DataFrame({"event_date": pd.to_datetime([found for found, _ in pairs])})
    missing = pd.DataFrame({"event_date": pd.to_datetime([lost for _, lost in pairs])})
    positions = np.arange(len(pairs))
    return comparison.levels(comparison.encode(residents, missing), positions, positions).tolist()


FOUND = date(2024, 3, 1)


@pytest.mark.parametrize("lost, default, fine", [
    # lost on, default level and label, finer bands' level and label
    (date(2024, 3, 1), (4, "走失一月内发现"), (7, "走失一月内发现")),          # found the day it was reported
    (date(2024, 1, 31), (4, "走失一月内发现"), (7, "走失一月内发现")),         # 30 days
    (date(2024, 1, 30), (3, "走失一年内发现"), (6, "走失一至三月后发现")),      # 31 days
    (date(2023, 12, 1), (3, "走失一年内发现"), (6, "走失一至三月后发现")),      # 91 days
    (date(2023, 6, 1), (3, "走失一年内发现"), (5, "走失三月至一年后发现")),
    (date(2023, 3, 1), (3, "走失一年内发现"), (5, "走失三月至一年后发现")),     # 366 days (2024 is a leap year)
    (date(2022, 1, 1), (2, "走失一至十年后发现"), (4, "走失一至三年后发现")),
    (date(2019, 3, 1), (2, "走失一至十年后发现"), (3, "走失三至十年后发现")),
    (date(2014, 3, 3), (2, "走失一至十年后发现"), (3, "走失三至十年后发现")),   # 3,651 days
    (date(2010, 5, 1), (1, "走失十年以上后发现"), (2, "走失十年以上后发现")),
    (date(2024, 3, 2), (4, "走失一月内发现"), (1, "发现早于报失日期(一月内)")),  # a day before the reported date
    (date(2024, 3, 31), (4, "走失一月内发现"), (1, "发现早于报失日期(一月内)")),  # 30 days before
    (date(2024, 4, 1), (0, "发现早于走失"), (0, "发现早于走失")),              # 31 days before: a contradiction
    (None, (-1, "日期不详"), (-1, "日期不详")),
])
def test_bands(lost, default, fine):
    for comparison, (level, label), is_fine in ((DEFAULT, default, False), (FINE, fine, True)):
        assert levels(comparison, [(FOUND, lost)]) == [level] == [level_of(FOUND, lost, is_fine)]
        assert comparison.label_array(np.array([level])).tolist() == [label]


def test_the_default_levels_are_ordered_and_the_finer_ones_not():
    assert (DEFAULT.n_levels, DEFAULT.ordered, DEFAULT.agree_from) == (5, True, 2)
    # level 1 of the finer bands (dates that disagree by weeks) may weigh anything: EM decides
    assert (FINE.n_levels, FINE.ordered, FINE.agree_from) == (8, False, 3)
    for comparison in (DEFAULT, FINE):
        assert sorted(comparison.labels) == list(range(-1, comparison.n_levels))


def test_an_unknown_found_date_gives_no_evidence():
    assert levels(FINE, [(None, date(2024, 1, 1)), (None, None)]) == [-1, -1]


@pytest.mark.parametrize("bands", [(30, 100, 3653), (60, 366, 3653), (30, 366), ()])
def test_bands_without_a_label_are_refused_with_a_fix(bands):
    with pytest.raises(InputError, match="cannot be labelled.*use"):
        _ = TimeGapComparison(bands=bands).labels


def test_the_finer_bands_travel_in_the_settings():
    settings_ = LinkSettings(comparisons=[FINE if c.name == "time_gap" else c for c in default_comparisons()])
    again = LinkSettings.from_json(settings_.to_json()).comparison("time_gap")
    assert (list(again.bands), again.before_level, again.labels) == (list(GAP_BANDS_DAYS), True, FINE.labels)
    assert LinkSettings().comparison("time_gap").labels == DEFAULT.labels


dates = st.one_of(st.none(), st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(dates, dates), min_size=1, max_size=20))
def test_levels_equal_the_one_pair_definition(pairs):
    assert levels(DEFAULT, pairs) == [level_of(found, lost, False) for found, lost in pairs]
    assert levels(FINE, pairs) == [level_of(found, lost, True) for found, lost in pairs]


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)), st.integers(0, 8000), st.integers(0, 8000))
def test_a_longer_gap_never_lands_in_a_shorter_band(found, a, b):
    """Among gaps of zero days or more, the level never rises as the gap grows."""
    short, long = sorted((a, b))
    pairs = [(found, found - timedelta(days=short)), (found, found - timedelta(days=long))]
    for comparison, lowest in ((DEFAULT, 1), (FINE, 2)):
        got = levels(comparison, pairs)
        assert got[0] >= got[1] >= lowest
