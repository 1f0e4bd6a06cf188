"""Time gap: how long after the reported missing date the resident was found.

Most lost people are found within weeks (elderly people with dementia near home, children), fewer
after months, long-stay residents (滞留人员) years later, so the gap is read in bands that grow
with it and EM learns each band's weight. The default bands are a month, a year and ten years, and
a found date up to :data:`DATE_TOLERANCE_DAYS` before the reported date counts as "within a month"
(families remember dates wrong by weeks).

Finer bands (:data:`GAP_BANDS_DAYS`: a month, three months, a year, three years, ten years) with
``before_level=True`` (a found date 1–30 days before the reported one is a level of its own, whose
weight EM learns) rank more true reports into the top 10 at a million reports, but with the
model's current fit they also add false leads; they are an option, not the default (figures in
``bench/RESULTS.md``, issue 12). To use them::

    from kinmatch.match.comparisons.time_gap import GAP_BANDS_DAYS, TimeGapComparison
    from kinmatch.match.settings import LinkSettings, default_comparisons
    fine = TimeGapComparison(bands=GAP_BANDS_DAYS, before_level=True)
    settings = LinkSettings(comparisons=[fine if c.name == "time_gap" else c for c in default_comparisons()])

    >>> import numpy as np, pandas as pd
    >>> found = pd.DataFrame({"event_date": pd.to_datetime(["2024-03-01"])})
    >>> lost = pd.DataFrame({"event_date": pd.to_datetime(["2024-02-20", "2022-01-01", "2024-03-20", None])})
    >>> lp, rp = np.array([0, 0, 0, 0]), np.array([0, 1, 2, 3])
    >>> comparison = TimeGapComparison()
    >>> comparison.label_array(comparison.levels(comparison.encode(found, lost), lp, rp)).tolist()
    ['走失一月内发现', '走失一至十年后发现', '走失一月内发现', '日期不详']
    >>> fine = TimeGapComparison(bands=GAP_BANDS_DAYS, before_level=True)
    >>> fine.label_array(fine.levels(fine.encode(found, lost), lp, rp)).tolist()
    ['走失一月内发现', '走失一至三年后发现', '发现早于报失日期(一月内)', '日期不详']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.match.comparisons.base import MISSING, Comparison, object_values

DATE_TOLERANCE_DAYS = 30
"""Found up to this many days *before* the reported missing date is not a contradiction (dates are
often remembered wrong by weeks)."""

DEFAULT_BANDS_DAYS = (30, 366, 3653)
"""The default bands' upper ends (days, inclusive), shortest first: a month, a year, ten years."""

GAP_BANDS_DAYS = (30, 91, 366, 1096, 3653)
"""Finer bands: a month, three months, a year, three years, ten years."""

BAND_LABELS = {(None, 30): "走失一月内发现", (30, 91): "走失一至三月后发现", (30, 366): "走失一年内发现",
               (91, 366): "走失三月至一年后发现", (366, 1096): "走失一至三年后发现", (366, 3653): "走失一至十年后发现",
               (1096, 3653): "走失三至十年后发现", (3653, None): "走失十年以上后发现"}
"""The label of each band (lower end exclusive, upper end inclusive, in days) bands may be made of."""


def day_numbers(dates: Any) -> np.ndarray:
    """Dates → days since 1970 as floats (NaN when missing); fast for datetime64 columns."""
    values = dates.to_numpy() if isinstance(dates, pd.Series) else np.asarray(dates)
    if not np.issubdtype(values.dtype, np.datetime64):
        values = pd.to_datetime(pd.Series(object_values(values)), errors="coerce").to_numpy()
    values = values.astype("datetime64[D]")
    days = values.astype(np.int64).astype(float)
    days[np.isnat(values)] = np.nan
    return days


class TimeGapComparison(Comparison):
    """Days from the missing date to the found date, in ``bands`` (upper ends in days, shortest
    first, each band's label in :data:`BAND_LABELS`): the top level is the first band, one level
    lower per band after it, and past the last band the level above 0; level 0 is a found date
    more than :data:`DATE_TOLERANCE_DAYS` before the reported one (a contradiction).

    With the default ``before_level=False`` a found date up to :data:`DATE_TOLERANCE_DAYS` before
    the reported one is in the first band, and the levels are ordered: 4 ≤ 30 days, 3 ≤ 1 year,
    2 ≤ 10 years, 1 longer, 0 the contradiction. With ``before_level=True`` it is level 1 and the
    bands start at 2; the levels are then not ordered (dates that disagree by weeks may weigh
    anything between the contradiction and the first band: EM learns how often families
    misremember the date). It sits at level 1 rather than on top because the EM's weak prior
    favours higher levels. A month- or year-precision date is its first day, as the normalizer
    reads it (a report lost "2024年3月" is lost on 1 March).

        >>> import numpy as np, pandas as pd
        >>> comparison = TimeGapComparison(bands=GAP_BANDS_DAYS, before_level=True)
        >>> comparison.labels[7], comparison.labels[2], comparison.ordered, comparison.agree_from
        ('走失一月内发现', '走失十年以上后发现', False, 3)
        >>> encoded = comparison.encode(pd.DataFrame({"event_date": pd.to_datetime(["2024-03-01"])}),
        ...                             pd.DataFrame({"event_date": pd.to_datetime(["2023-12-15", "2018-06-01"])}))
        >>> comparison.reasons(encoded, np.array([0, 0]), np.array([0, 1]), np.array([6, 3])).tolist()
        ['走失一至三月后发现', '走失三至十年后发现']
    """

    name = "time_gap"
    title = "时间间隔"
    left_columns = right_columns = ("event_date",)
    fields = (("入站日期 / 走失日期", "found_date", "missing_date"),)

    def __init__(self, bands: Sequence[int] = DEFAULT_BANDS_DAYS, before_level: bool = False):
        self.bands = bands
        self.before_level = before_level

    # -- the levels follow from the bands -------------------------------------------------------------

    @property
    def labels(self) -> dict[int, str]:
        bands = self._checked_bands()
        ends = [None, *bands, None]
        first = 2 if self.before_level else 1  # the level of the longest band
        out = {MISSING: "日期不详", 0: "发现早于走失"}
        if self.before_level:
            out[1] = "发现早于报失日期(一月内)"
        for k in range(len(bands) + 1):  # band k, shortest first, is level first + len(bands) - k
            out[first + len(bands) - k] = BAND_LABELS[(ends[k], ends[k + 1])]
        return out

    @property
    def ordered(self) -> bool:
        return not self.before_level

    @property
    def agree_from(self) -> int:
        """Agreement (green on a side-by-side view) from the band that ends at ten years up."""
        return (2 if self.before_level else 1) + 1

    def _checked_bands(self) -> tuple[int, ...]:
        bands = tuple(int(b) for b in self.bands)
        ends = [None, *bands, None]
        unknown = [(ends[k], ends[k + 1]) for k in range(len(ends) - 1) if (ends[k], ends[k + 1]) not in BAND_LABELS]
        if not bands or bands[0] != DATE_TOLERANCE_DAYS or bands[-1] != 3653 or unknown:
            raise InputError(f"TimeGapComparison: bands {list(bands)} cannot be labelled (bands without a Chinese "
                             f"label: {unknown}); use {list(DEFAULT_BANDS_DAYS)}, {list(GAP_BANDS_DAYS)} or another "
                             f"run of the days in BAND_LABELS from 30 to 3653")
        return bands

    # -- encode and levels ----------------------------------------------------------------------------------

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return day_numbers(residents["event_date"]), day_numbers(missing["event_date"])

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        bands = np.asarray(self._checked_bands(), dtype=float)
        days = encoded[0][lp] - encoded[1][rp]
        top = len(bands) + (2 if self.before_level else 1)
        # a gap in band k (0 = the shortest) → level top - k; past the last band → the lowest band level
        levels = top - np.searchsorted(bands, np.maximum(days, 0), side="left")
        before = 1 if self.before_level else top
        levels = np.select([days < -DATE_TOLERANCE_DAYS, days < 0], [0, before], levels)
        return np.where(np.isnan(days), MISSING, levels).astype(np.int8)
