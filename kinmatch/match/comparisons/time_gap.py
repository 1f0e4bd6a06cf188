"""Time gap: how long after the reported missing date the resident was found.

How long a person stays lost falls off steeply with time: most are found within weeks (elderly
people with dementia near home, children), fewer after months, and long-stay residents
(滞留人员) years later. So the bands grow with the gap — a month, a quarter, a year, three years,
ten years — and EM learns each band's weight: a report lost a week before the resident was found
is a far more likely match than one lost four years before, which is itself more likely than one
lost nine years before.

A found date up to :data:`DATE_TOLERANCE_DAYS` *before* the reported missing date is a level of
its own: families remember dates wrong by weeks, but on data where they rarely do, such a pair is
nearly a contradiction. EM learns which, so the levels are not ordered (that level's weight may
lie anywhere between the contradiction's and the month's).

    >>> import numpy as np, pandas as pd
    >>> comparison = TimeGapComparison()
    >>> found = pd.DataFrame({"event_date": pd.to_datetime(["2024-03-01"])})
    >>> lost = pd.DataFrame({"event_date": pd.to_datetime(["2024-02-20", "2022-01-01", "2024-03-20", None])})
    >>> levels = comparison.levels(comparison.encode(found, lost), np.array([0, 0, 0, 0]), np.array([0, 1, 2, 3]))
    >>> levels.tolist()
    [7, 4, 1, -1]
    >>> comparison.label_array(levels).tolist()
    ['走失一月内发现', '走失一至三年后发现', '发现早于报失日期(一月内)', '日期不详']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_values

DATE_TOLERANCE_DAYS = 30
"""Found up to this many days *before* the reported missing date is not a contradiction (dates are
often remembered wrong by weeks)."""

GAP_BANDS_DAYS = (30, 91, 366, 1096, 3653)
"""Upper ends (days, inclusive) of the time-gap bands, shortest first: a month, three months, a
year, three years, ten years; longer gaps are the last band."""


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
    """Days from the missing date to the found date, in the bands of :data:`GAP_BANDS_DAYS`: 7 up to
    30 days, 6 up to three months, 5 up to a year, 4 up to three years, 3 up to ten years, 2 longer;
    1 found 1–:data:`DATE_TOLERANCE_DAYS` days before the reported missing date, 0 found earlier
    still (a contradiction). Not ordered (see the module docstring). A month- or year-precision date
    is its first day, as the normalizer reads it (a report lost "2024年3月" is lost on 1 March).

        >>> import numpy as np, pandas as pd
        >>> comparison = TimeGapComparison()
        >>> encoded = comparison.encode(pd.DataFrame({"event_date": pd.to_datetime(["2024-03-01"])}),
        ...                             pd.DataFrame({"event_date": pd.to_datetime(["2023-12-15", "2018-06-01"])}))
        >>> comparison.reasons(encoded, np.array([0, 0]), np.array([0, 1]), np.array([6, 2])).tolist()
        ['走失一至三月后发现', '走失十年以上后发现']
    """

    name = "time_gap"
    title = "时间间隔"
    labels = {-1: "日期不详", 0: "发现早于走失", 1: "发现早于报失日期(一月内)", 2: "走失十年以上后发现",
              3: "走失三至十年后发现", 4: "走失一至三年后发现", 5: "走失三月至一年后发现", 6: "走失一至三月后发现",
              7: "走失一月内发现"}
    ordered = False
    agree_from = 3
    left_columns = right_columns = ("event_date",)
    fields = (("入站日期 / 走失日期", "found_date", "missing_date"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return day_numbers(residents["event_date"]), day_numbers(missing["event_date"])

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        days = encoded[0][lp] - encoded[1][rp]
        # band k of GAP_BANDS_DAYS (0 = the shortest) → level 7 - k; past the last band → level 2
        after = 7 - np.searchsorted(np.asarray(GAP_BANDS_DAYS, dtype=float), np.maximum(days, 0), side="left")
        levels = np.select([days < -DATE_TOLERANCE_DAYS, days < 0], [0, 1], after)
        return np.where(np.isnan(days), MISSING, levels).astype(np.int8)
