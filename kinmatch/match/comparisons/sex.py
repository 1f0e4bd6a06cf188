"""Sex: the same recorded sex on both records, or not.

    >>> import numpy as np, pandas as pd
    >>> comparison = SexComparison()
    >>> encoded = comparison.encode(pd.DataFrame({"sex_code": ["M", None]}), pd.DataFrame({"sex_code": ["M", "F"]}))
    >>> comparison.levels(encoded, np.array([0, 0, 1]), np.array([0, 1, 0])).tolist()
    [1, 0, -1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_values

SEX_CODES = {"M": 1, "F": 2}
"""``sex_code`` values as small integers (0: not recorded)."""


def sex_codes(values: Any) -> np.ndarray:
    """``sex_code`` values → 1 (M), 2 (F), 0 (not recorded), each distinct value looked up once."""
    codes, distinct = pd.factorize(object_values(values))
    table = np.array([SEX_CODES.get(v, 0) for v in distinct] + [0], dtype=np.int8)
    return table[codes]  # code -1 (blank) picks the last entry


class SexComparison(Comparison):
    """Recorded sex: 1 the same, 0 different, -1 not recorded on either side."""

    name = "sex"
    title = "性别"
    labels = {-1: "性别不详", 0: "性别记录不一致", 1: "性别相符"}
    agree_from = 1
    left_columns = right_columns = ("sex_code",)
    fields = (("性别", "sex", "sex"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return sex_codes(residents["sex_code"]), sex_codes(missing["sex_code"])

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        a, b = encoded[0][lp], encoded[1][rp]
        return np.where((a > 0) & (b > 0), (a == b).astype(np.int8), MISSING).astype(np.int8)
