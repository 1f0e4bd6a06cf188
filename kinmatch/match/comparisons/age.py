"""Age: the resident's estimated birth-year interval against the report's.

Intervals carry each estimate's uncertainty (约60岁, 五六十岁, a birth year only); the tolerance
grows with age, because a 70-year-old's face is misjudged by more years than a child's (and long
homelessness ages a face).

    >>> import numpy as np, pandas as pd
    >>> comparison = AgeComparison()
    >>> resident = pd.DataFrame({"birth_year_low": [1960.0], "birth_year_high": [1965.0], "age_high": [64.0]})
    >>> reports = pd.DataFrame({"birth_year_low": [1963.0, 1940.0], "birth_year_high": [1963.0, 1940.0],
    ...                         "age_high": [61.0, 84.0]})
    >>> encoded = comparison.encode(resident, reports)
    >>> levels = comparison.levels(encoded, np.array([0, 0]), np.array([0, 1]))
    >>> levels.tolist(), comparison.reasons(encoded, np.array([0, 0]), np.array([0, 1]), levels).tolist()
    ([3, 1], ['年龄相符', '年龄相差约20岁'])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, float_values, object_array


def interval_gap(low_a, high_a, low_b, high_b) -> np.ndarray:
    """Distance between two intervals (0 when they overlap; NaN when either is missing)."""
    low_a, high_a, low_b, high_b = (np.asarray(v, dtype=float) for v in (low_a, high_a, low_b, high_b))
    return np.maximum(0.0, np.maximum(low_a - high_b, low_b - high_a))


def _bounds(frame: pd.DataFrame) -> np.ndarray:
    """Birth-year interval per record (a missing bound takes the other's value), and the age."""
    low, high = float_values(frame["birth_year_low"]), float_values(frame["birth_year_high"])
    return np.stack([np.where(np.isnan(low), high, low), np.where(np.isnan(high), low, high),
                     float_values(frame["age_high"])])


class AgeComparison(Comparison):
    """Birth-year intervals: 3 overlap, 2 near, 1 far, 0 impossible; -1 missing. Near and far
    are 2 + 0.1 × age and three times that (age: the older of the two records' ages, 40 when
    neither is known)."""

    name = "age"
    title = "年龄"
    labels = {-1: "年龄不详", 0: "年龄不可能", 1: "年龄相差大", 2: "年龄相近", 3: "年龄相符"}
    agree_from = 2
    left_columns = right_columns = ("birth_year_low", "birth_year_high", "age_high")
    fields = (("年龄", "age", "age"), ("出生日期", "birth_date", "birth_date"))

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return _bounds(residents), _bounds(missing)

    def gap(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """Years between the two birth-year intervals of each pair (NaN where either is missing)."""
        (low_a, high_a, _), (low_b, high_b, _) = encoded
        return interval_gap(low_a[lp], high_a[lp], low_b[rp], high_b[rp])

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        gap = self.gap(encoded, lp, rp)
        age = np.fmax(encoded[0][2][lp], encoded[1][2][rp])
        tolerance = 2.0 + 0.1 * np.where(np.isnan(age), 40.0, age)
        # gap is >= 0 (or NaN): past 0, "within tolerance" implies "within three times it"
        levels = (gap <= tolerance).astype(np.int8)
        levels += gap <= 3 * tolerance
        levels[gap <= 0] = 3
        levels[np.isnan(gap)] = MISSING
        return levels

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        texts = self.label_array(levels)
        shown = np.flatnonzero(np.isin(levels, (0, 1)))
        if len(shown):
            gap = self.gap(encoded, lp[shown], rp[shown])
            texts[shown] = object_array([f"年龄相差约{g:.0f}岁" for g in gap.tolist()])
        return texts
