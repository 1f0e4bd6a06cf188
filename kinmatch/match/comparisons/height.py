"""Height: the measured height of the resident against the family's estimate.

Allows for growth when the person was lost as a child; not symmetric on purpose, because growth
only goes one way in time.

    >>> import numpy as np, pandas as pd
    >>> comparison = HeightComparison()
    >>> resident = pd.DataFrame({"height_cm": [160.0], "height_tol_cm": [2.0],
    ...                          "event_date": pd.to_datetime(["2024-01-01"])})
    >>> reports = pd.DataFrame({"height_cm": [161.0, 175.0], "height_tol_cm": [5.0, 5.0], "age_high": [70.0, 70.0],
    ...                         "event_date": pd.to_datetime(["2023-12-01", "2023-12-01"])})
    >>> encoded = comparison.encode(resident, reports)
    >>> levels = comparison.levels(encoded, np.array([0, 0]), np.array([0, 1]))
    >>> levels.tolist(), comparison.reasons(encoded, np.array([0, 0]), np.array([0, 1]), levels).tolist()
    ([4, 1], ['身高几乎相同', '身高差15cm'])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, float_values, object_array
from kinmatch.match.comparisons.time_gap import day_numbers

GROWTH_CM_PER_YEAR = 6.0
"""Rough upper bound of a child's yearly growth; a child lost at 8 and found at 14 may be 36 cm taller."""

HEIGHT_CLOSE_CM = 3.0
"""Heights this close are a level of their own: for a nameless resident a near-identical height
separates candidates that all merely fall within the family's ±5 cm guess."""

RESIDENT_TOLERANCE_CM = 2.0
"""Tolerance of a station's measurement when the record gives none."""
REPORT_TOLERANCE_CM = 5.0
"""Tolerance of a family's estimate when the record gives none."""


class HeightComparison(Comparison):
    """4 within 3 cm, 3 within both tolerances, 2 ≤ 5 cm beyond, 1 ≤ 12 cm beyond, 0 more; -1
    missing. A report of a person lost under 18 allows the resident to be taller by up to
    :data:`GROWTH_CM_PER_YEAR` per year between the missing and the found date (until 18)."""

    name = "height"
    title = "身高"
    labels = {-1: "身高不详", 0: "身高不符", 1: "身高差较大", 2: "身高相近", 3: "身高相符", 4: "身高几乎相同"}
    agree_from = 2
    left_columns = ("height_cm", "height_tol_cm", "event_date")
    right_columns = ("height_cm", "height_tol_cm", "age_high", "event_date")
    fields = (("身高", "height", "height"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        left = np.stack([float_values(residents["height_cm"]),
                         np.nan_to_num(float_values(residents["height_tol_cm"]), nan=RESIDENT_TOLERANCE_CM),
                         day_numbers(residents["event_date"])])
        age_high = float_values(missing["age_high"])
        right = np.stack([float_values(missing["height_cm"]),
                          np.nan_to_num(float_values(missing["height_tol_cm"]), nan=REPORT_TOLERANCE_CM),
                          age_high, day_numbers(missing["event_date"]),
                          18.0 - np.nan_to_num(age_high, nan=18.0)])  # the years of growth left
        return left, right

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        (height, tolerance, day), right = encoded[0], encoded[1]
        diff = height[lp] - right[0][rp]
        years = (day[lp] - right[3][rp]) / 365.25
        growth_years = np.clip(np.minimum(np.nan_to_num(years, nan=0.0), right[4][rp]), 0, None)
        growth = GROWTH_CM_PER_YEAR * growth_years
        excess = np.maximum(0.0, np.where(diff > 0, np.maximum(0.0, diff - growth), -diff) - tolerance[lp]
                            - right[1][rp])
        # excess is >= 0 where diff is not NaN: its bands nest, so a level is a count of bands
        levels = (excess <= 0).astype(np.int8)
        levels += excess <= 5
        levels += excess <= 12
        levels[np.abs(diff) <= HEIGHT_CLOSE_CM] = 4
        levels[np.isnan(diff)] = MISSING
        return levels

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        texts = self.label_array(levels)
        shown = np.flatnonzero(np.isin(levels, (0, 1, 2)))
        if len(shown):
            diff = np.abs(encoded[0][0, lp[shown]] - encoded[1][0, rp[shown]])
            texts[shown] = object_array([f"身高差{d:.0f}cm" for d in diff.tolist()])
        return texts
