"""Build (体型: 瘦, 中等, 胖): the same, one step apart, or opposite.

Weak evidence whose weight EM learns: the national family-search site filters on build, but people
living rough get thinner. Agreement on a build few reports share counts more, with the shares
counted on the reports themselves (:func:`build_frequency`).

    >>> import numpy as np, pandas as pd
    >>> comparison = BuildComparison()
    >>> encoded = comparison.encode(pd.DataFrame({"build": ["胖", "瘦", None]}),
    ...                             pd.DataFrame({"build": ["胖", "瘦", "瘦", "中等"]}))
    >>> lp, rp = np.array([0, 1, 1, 0, 2]), np.array([0, 1, 3, 1, 0])
    >>> levels = comparison.levels(encoded, lp, rp)
    >>> levels.tolist()
    [3, 2, 1, 0, -1]
    >>> comparison.reasons(encoded, lp, rp, levels).tolist()[:2]
    ['少见体型相同(胖/胖)', '体型相同(瘦/瘦)']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_array, object_values

BUILD_ORDER = {"瘦": 0, "中等": 1, "胖": 2}
"""The description normalizer's build words, thin to heavy."""

BUILD_SHARES = {"瘦": 0.40, "中等": 0.45, "胖": 0.15}
"""Rough share of people described with each build, used when the reports describe none."""

RARE_BUILD_SHARE = 0.25
"""A build described on at most this share of reports is rare: agreeing on it is level 3."""

_WORDS = sorted(BUILD_ORDER, key=BUILD_ORDER.get)


def build_frequency(builds: pd.Series) -> dict[str, float]:
    """Share of records with each build word (blank values count in the total, not as a value).

        >>> build_frequency(pd.Series(["瘦", "胖", None, "瘦"]))
        {'瘦': 0.5, '胖': 0.25}
    """
    n = max(len(builds), 1)
    return {str(k): v / n for k, v in builds.dropna().astype(str).value_counts().items() if k}


def build_codes(values: Any) -> np.ndarray:
    """Build words → 0 (瘦), 1 (中等), 2 (胖), -1 blank or another word; each distinct value read once."""
    codes, distinct = pd.factorize(object_values(values))
    table = np.array([BUILD_ORDER.get(v, -1) for v in distinct] + [-1], dtype=np.int8)
    return table[codes]  # code -1 (blank) picks the last entry


class BuildEncoding(NamedTuple):
    """Both sides' build codes (:func:`build_codes`) and the level of each pair of codes
    (``table[a + 1, b + 1]``), which holds the rarity of each build."""

    left: np.ndarray
    right: np.ndarray
    table: np.ndarray


class BuildComparison(Comparison):
    """Build: 3 the same build and a rare one (胖 in most tables), 2 the same, 1 one step apart
    (瘦/中等), 0 opposite (瘦/胖), -1 either record does not describe a build. Symmetric: the
    sides can be swapped. The reason shows both records' build.

    ``frequency`` maps each build word to its share among reports; None: the shares of the reports
    being compared (:func:`build_frequency`), or :data:`BUILD_SHARES` when they describe no build.

        >>> import numpy as np, pandas as pd
        >>> comparison = BuildComparison(frequency={"胖": 0.6, "瘦": 0.2})
        >>> encoded = comparison.encode(pd.DataFrame({"build": ["胖", "瘦"]}), pd.DataFrame({"build": ["胖", "瘦"]}))
        >>> comparison.levels(encoded, np.array([0, 1]), np.array([0, 1])).tolist()
        [2, 3]
    """

    name = "build"
    title = "体型"
    labels = {-1: "体型不详", 0: "体型相反", 1: "体型相近", 2: "体型相同", 3: "少见体型相同"}
    agree_from = 2
    left_columns = right_columns = ("build",)

    def __init__(self, frequency: Mapping[str, float] | None = None):
        self.frequency = frequency

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> BuildEncoding:
        frequency = self.frequency if self.frequency is not None else build_frequency(missing["build"])
        shares = frequency or BUILD_SHARES
        rare = np.array([shares.get(word, 1.0) <= RARE_BUILD_SHARE for word in _WORDS], dtype=bool)
        codes = np.arange(-1, len(_WORDS))
        a, b = codes[:, None], codes[None, :]
        table = np.select([a == b, np.abs(a - b) == 1], [2, 1], 0)
        table = np.where((a == b) & (a >= 0) & rare[np.clip(a, 0, None)], 3, table)
        table = np.where((a < 0) | (b < 0), MISSING, table).astype(np.int8)
        return BuildEncoding(build_codes(residents["build"]), build_codes(missing["build"]), table)

    def levels(self, encoded: BuildEncoding, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        return encoded.table[encoded.left[lp] + 1, encoded.right[rp] + 1]

    def reasons(self, encoded: BuildEncoding, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        # every (level, resident build, report build) written once: 5 x 4 x 4 texts
        n = len(_WORDS) + 1
        texts = []
        for level in range(-1, self.n_levels):
            label = self.labels.get(level, self.name)
            texts += [f"{label}({_WORDS[a - 1]}/{_WORDS[b - 1]})" if level >= 0 and a and b else label
                      for a in range(n) for b in range(n)]
        key = ((np.asarray(levels, dtype=np.int64) + 1) * n + encoded.left[lp] + 1) * n + encoded.right[rp] + 1
        return object_array(texts)[key]
