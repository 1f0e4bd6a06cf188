"""Health conditions (健康状况): dementia, intellectual disability, deaf-mute… named on both records.

Conditions are a handful of words (:data:`CONDITION_NAMES`), so each record's set of them is a few
bits: pairs are compared on integers, and the words are read back only to explain a pair.

    >>> import numpy as np, pandas as pd
    >>> comparison = ConditionsComparison()
    >>> residents = pd.DataFrame({"conditions": [("聋哑", "痴呆"), ()]})
    >>> missing = pd.DataFrame({"conditions": [("聋哑",), ("痴呆",), ("癫痫",)]})
    >>> encoded = comparison.encode(residents, missing)
    >>> lp, rp = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 0])
    >>> levels = comparison.levels(encoded, lp, rp)
    >>> levels.tolist()
    [2, 1, 0, -1]
    >>> comparison.reasons(encoded, lp, rp, levels).tolist()
    ['特殊残疾相符(聋哑)', '健康状况相符(痴呆)', '健康状况不同', '健康状况不详']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, distinct_rows, object_array, object_values

CONDITION_NAMES = frozenset({"痴呆", "智力障碍", "精神障碍", "聋哑", "肢体残疾", "癫痫"})
"""The condition words the normalizers write (``conditions`` column). A mark of one of these types
(``聋哑::``) is a condition, compared here and never again by the marks comparison."""

DISTINCTIVE_CONDITIONS = frozenset({"聋哑", "癫痫", "肢体残疾"})
"""Conditions whose agreement is level 2 (特殊残疾相符): visible, lasting disabilities, where sharing
dementia, an intellectual disability or a mental illness is level 1."""

WORD_BITS = 63
"""Bits used in each int64 word of a :func:`word_masks` row (the sign bit is left alone)."""


def number_words(word_sets: Iterable[Iterable[str]], vocabulary: dict[str, int]) -> list[list[int]]:
    """The number of each word of each set in ``vocabulary``, words new to it numbered as met."""
    return [[vocabulary.setdefault(word, len(vocabulary)) for word in words] for words in word_sets]


def word_masks(numbers: list[list[int]], n_words: int) -> np.ndarray:
    """Sets of word numbers as bit rows: a ``(len(numbers), ceil(n_words / 63))`` int64 array with bit
    ``i % 63`` of word ``i // 63`` set for word number ``i``. Any vocabulary size fits; one int64 per
    row in practice (a few condition words, a few dozen mark types).

        >>> word_masks([[0, 2], [], [64]], 65).tolist()
        [[5, 0], [0, 0], [0, 2]]
    """
    out = np.zeros((len(numbers), max(1, -(-n_words // WORD_BITS))), dtype=np.int64)
    for row, words in enumerate(numbers):
        for number in words:
            out[row, number // WORD_BITS] |= 1 << (number % WORD_BITS)
    return out


def meets(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For rows of two :func:`word_masks` arrays (or one array and one row), whether they share a bit."""
    both = a & b
    if both.ndim == 2 and both.shape[1] == 1:
        return both[:, 0] != 0
    return (both != 0).any(axis=-1)


class WordSets(NamedTuple):
    """One side's word sets, once per distinct value: ``code`` per record into the distinct cells
    (``values``), their ``words`` (frozensets), ``bits`` (:func:`word_masks`) and ``empty`` (no word)."""

    code: np.ndarray
    values: list
    words: list
    bits: np.ndarray
    empty: np.ndarray


def encode_word_sets(left: Any, right: Any, words_of: Any) -> tuple[WordSets, WordSets, dict[str, int]]:
    """Both sides' columns as :class:`WordSets` over one vocabulary (returned too): ``words_of``
    turns one distinct cell into its frozenset of words, each distinct cell once."""
    vocabulary: dict[str, int] = {}
    sides = []
    for values in (left, right):
        code, distinct = pd.factorize(object_values(values))
        distinct = list(distinct)
        if (code < 0).any():  # None: pandas leaves it out of the distinct values (and would make it NaN)
            code = np.where(code < 0, len(distinct), code)
            distinct.append(None)
        words = [words_of(value) for value in distinct]
        sides.append((code.astype(np.int64), distinct, words, number_words(words, vocabulary)))
    return (*(WordSets(code, values, words, word_masks(numbers, len(vocabulary)),
                       np.array([not w for w in words], dtype=bool))
              for code, values, words, numbers in sides), vocabulary)


def shared_word_levels(left: WordSets, right: WordSets, distinctive: np.ndarray, lp: np.ndarray,
                       rp: np.ndarray) -> np.ndarray:
    """2 where the two records share a word with a bit in ``distinctive`` (one mask row), 1 where
    they share another, 0 where both have words but none in common, -1 where either has none."""
    a, b = left.code[lp], right.code[rp]
    shared = left.bits[a] & right.bits[b]
    level = np.where(meets(shared, distinctive), 2, (shared != 0).any(axis=1))
    return np.where(left.empty[a] | right.empty[b], MISSING, level).astype(np.int8)


def distinctive_mask(vocabulary: dict[str, int], distinctive: Any) -> np.ndarray:
    """The mask row of the words of ``vocabulary`` for which ``distinctive(word)`` holds."""
    return word_masks([[i for word, i in vocabulary.items() if distinctive(word)]], len(vocabulary))[0]


def texts_per_distinct(left_code: np.ndarray, right_code: np.ndarray, levels: np.ndarray,
                       text: Any) -> np.ndarray:
    """``text(left value code, right value code, level)`` for each pair, called once per distinct
    triple (a reason depends on nothing else)."""
    levels = np.asarray(levels, dtype=np.int64)
    if len(levels) == 0:
        return np.empty(0, dtype=object)
    codes, first = distinct_rows(left_code, right_code, levels + 1)
    keys = zip(left_code[first].tolist(), right_code[first].tolist(), levels[first].tolist(), strict=True)
    return object_array([text(a, b, level) for a, b, level in keys])[codes]


class ConditionsComparison(Comparison):
    """Conditions named on both records: 2 they share a distinctive one (:data:`DISTINCTIVE_CONDITIONS`),
    1 they share another, 0 both name conditions but none in common, -1 either names none.
    Symmetric: the sides can be swapped. The reason of levels 1 and 2 shows the shared conditions.

        >>> import numpy as np, pandas as pd
        >>> comparison = ConditionsComparison()
        >>> encoded = comparison.encode(pd.DataFrame({"conditions": [("癫痫",)]}),
        ...                             pd.DataFrame({"conditions": [("痴呆", "癫痫")]}))
        >>> comparison.reasons(encoded, np.array([0]), np.array([0]), np.array([2])).tolist()
        ['特殊残疾相符(癫痫)']
    """

    name = "conditions"
    title = "健康状况"
    labels = {-1: "健康状况不详", 0: "健康状况不同", 1: "健康状况相符", 2: "特殊残疾相符"}
    agree_from = 1
    left_columns = right_columns = ("conditions",)
    fields = (("健康状况", "health", "health"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[WordSets, WordSets, np.ndarray]:
        left, right, vocabulary = encode_word_sets(residents["conditions"], missing["conditions"], frozenset)
        return left, right, distinctive_mask(vocabulary, DISTINCTIVE_CONDITIONS.__contains__)

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right, distinctive = encoded
        return shared_word_levels(left, right, distinctive, lp, rp)

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        left, right, _ = encoded
        out = self.label_array(levels)
        shown = np.flatnonzero(np.asarray(levels) >= 1)

        def text(a: int, b: int, level: int) -> str:
            shared = left.words[a] & right.words[b]
            label = self.labels.get(level, self.name)
            return f"{label}({'、'.join(sorted(shared))})" if shared else label

        out[shown] = texts_per_distinct(left.code[lp[shown]], right.code[rp[shown]], np.asarray(levels)[shown], text)
        return out
