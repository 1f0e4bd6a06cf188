"""Hair (发型发色): the hair words both records use.

Weak evidence whose weight EM learns: hair greys, and stations cut or shave it, so no level is a
contradiction. Each record's words are a few bits (as the conditions' are): pairs are compared on
integers, and the words are read back only to explain a pair.

    >>> import numpy as np, pandas as pd
    >>> comparison = HairComparison()
    >>> encoded = comparison.encode(pd.DataFrame({"hair": ["白发、短发", "光头"]}),
    ...                             pd.DataFrame({"hair": ["白发", "秃顶", "长发", None]}))
    >>> lp, rp = np.array([0, 1, 1, 0]), np.array([0, 1, 2, 3])
    >>> levels = comparison.levels(encoded, lp, rp)
    >>> levels.tolist()
    [1, 2, 0, -1]
    >>> comparison.reasons(encoded, lp, rp, levels).tolist()
    ['发型相同(白发)', '发型发色相符(光头/秃顶)', '发型发色不同(光头/长发)', '发型发色不详']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import Comparison
from kinmatch.match.comparisons.conditions import (
    WordSets,
    distinctive_mask,
    encode_word_sets,
    shared_word_levels,
    texts_per_distinct,
)

SAME_HAIR = {"光头": "光头秃顶", "秃顶": "光头秃顶"}
"""Hair words that name the same head: stations and families write 光头 and 秃顶 alike."""

COMMON_HAIR = frozenset({"短发", "白发"})
"""Shared hair words that say little: most men's hair is short, and grey hair comes with age
(which the age comparison counts already)."""


def hair_words(text: str | None) -> frozenset:
    """The words of a ``hair`` cell (separated by 、 or a comma), 光头 and 秃顶 as one.

        >>> sorted(hair_words("白发、秃顶"))
        ['光头秃顶', '白发']
    """
    if not text:
        return frozenset()
    return frozenset(SAME_HAIR.get(w, w) for w in text.replace(",", "、").split("、") if w)


class HairComparison(Comparison):
    """Hair words (白发, 短发, 长发, 光头/秃顶) shared by both records: 2 a distinctive one (长发,
    光头/秃顶), 1 only a common one (:data:`COMMON_HAIR`), 0 both describe hair with nothing in
    common, -1 either does not describe hair. Symmetric: the sides can be swapped. The reason
    shows the hair words both records wrote at levels 1 and 2, else both records' hair.

        >>> import numpy as np, pandas as pd
        >>> comparison = HairComparison()
        >>> encoded = comparison.encode(pd.DataFrame({"hair": ["长发"]}), pd.DataFrame({"hair": ["短发"]}))
        >>> comparison.reasons(encoded, np.array([0]), np.array([0]), np.array([0])).tolist()
        ['发型发色不同(长发/短发)']
    """

    name = "hair"
    title = "发型发色"
    labels = {-1: "发型发色不详", 0: "发型发色不同", 1: "发型相同", 2: "发型发色相符"}
    agree_from = 1
    left_columns = right_columns = ("hair",)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[WordSets, WordSets, np.ndarray]:
        left, right, vocabulary = encode_word_sets(residents["hair"], missing["hair"], hair_words)
        return left, right, distinctive_mask(vocabulary, lambda word: word not in COMMON_HAIR)

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right, distinctive = encoded
        return shared_word_levels(left, right, distinctive, lp, rp)

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        left, right, _ = encoded
        out = self.label_array(levels)
        shown = np.flatnonzero(np.asarray(levels) >= 0)

        def text(a: int, b: int, level: int) -> str:
            label, mine, theirs = self.labels.get(level, self.name), left.values[a], right.values[b]
            if level >= 1:
                # the words as written (光头 and 秃顶 stay apart here: the reviewer sees both)
                shared = sorted(set(mine.split("、")) & set(theirs.split("、")))
                if shared:
                    return f"{label}({'、'.join(shared)})"
            return f"{label}({mine}/{theirs})"

        out[shown] = texts_per_distinct(left.code[lp[shown]], right.code[rp[shown]], np.asarray(levels)[shown], text)
        return out
