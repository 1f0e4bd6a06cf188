"""Time gap: how long after the reported missing date the resident was found.

    >>> import numpy as np, pandas as pd
    >>> comparison = TimeGapComparison()
    >>> found = pd.DataFrame({"event_date": pd.to_datetime(["2024-03-01"])})
    >>> lost = pd.DataFrame({"event_date": pd.to_datetime(["2024-02-20", "2020-01-01", None])})
    >>> comparison.levels(comparison.encode(found, lost), np.array([0, 0, 0]), np.array([0, 1, 2])).tolist()
    [4, 2, -1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_values

DATE_TOLERANCE_DAYS = 30
"""Found up to this many days *before* the reported missing date still counts (dates are often
remembered wrong by weeks)."""


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
    """Days from the missing date to the found date: 4 ≤ 30 days, 3 ≤ 1 year, 2 ≤ 10 years, 1
    longer, 0 found more than :data:`DATE_TOLERANCE_DAYS` before the person went missing."""

    name = "time_gap"
    title = "时间间隔"
    labels = {-1: "日期不详", 0: "发现早于走失", 1: "走失十年以上后发现", 2: "走失一至十年后发现",
              3: "走失一年内发现", 4: "走失一月内发现"}
    agree_from = 2
    left_columns = right_columns = ("event_date",)
    fields = (("入站日期 / 走失日期", "found_date", "missing_date"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return day_numbers(residents["event_date"]), day_numbers(missing["event_date"])

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        days = encoded[0][lp] - encoded[1][rp]
        levels = np.select([days < -DATE_TOLERANCE_DAYS, days <= 30, days <= 366, days <= 3653], [0, 4, 3, 2], 1)
        return np.where(np.isnan(days), MISSING, levels).astype(np.int8)
