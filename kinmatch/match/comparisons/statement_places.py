"""What the resident said about where they come from against the report's hometown.

A resident's fragments (``土桥``, ``铜梁``) are resolved by the normalizer to candidate county codes
(``statement_places``); a pair scores by the closest meeting of any candidate county with the
report's counties (hometown, missing place), prefecture and province.

Every code is numbered once over one vocabulary shared by both sides, so a pair's level is a few
integer comparisons; the vocabulary is kept in the encoding, so the county that met can be named
(:meth:`StatementPlacesComparison.met_codes`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.accent import home_province
from kinmatch.match.comparisons.base import MISSING, Comparison, object_values

RANKS = ("provinces", "prefectures", "counties")
"""The ranks a stated county can meet the report at, weakest first: level 1, 2, 3."""


def prefecture_of(code: str) -> str:
    """A 6-digit adcode's prefecture (``'330104'`` → ``'330100'``); '' for anything else."""
    return code[:4] + "00" if len(code) == 6 else ""


def province_of(code: str) -> str:
    """A 6-digit adcode's province (``'330104'`` → ``'330000'``); '' for anything else."""
    return code[:2] + "0000" if len(code) == 6 else ""


class StatementCodes(NamedTuple):
    """Both sides' places as codes into ``words``. Per resident, its stated counties in its own
    order (``offsets[i]:offsets[i + 1]`` of each rank's flat array: the counties, their
    prefectures, their provinces). Per report and rank, the codes it holds (-1 padded): counties
    (hometown, missing place), prefectures (theirs and ``home_prefecture``), provinces (theirs
    and ``home_province``)."""

    offsets: np.ndarray
    stated: dict[str, np.ndarray]
    report: dict[str, np.ndarray]
    has_place: np.ndarray
    words: np.ndarray
    held: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def met(self, rank: str, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """Per pair, whether a county the resident stated meets the report at this rank (from
        :attr:`held`: per rank, each word's column among the words residents stated, and per
        resident whether it stated each; a word nobody stated is the last, empty, column)."""
        column, table = self.held[rank]
        return table[lp[:, None], column[self.report[rank][rp]]].any(axis=1)

    def stated_rows(self, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For the residents at ``lp``, one row per stated county: the index into ``lp`` it
        belongs to and its position in the flat arrays (in the resident's order)."""
        counts = self.offsets[lp + 1] - self.offsets[lp]
        owner = np.repeat(np.arange(len(lp)), counts)
        before = np.cumsum(counts) - counts
        return owner, np.arange(int(counts.sum())) - np.repeat(before - self.offsets[lp], counts)

    def meets(self, rank: str, owner: np.ndarray, position: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """Per stated row: whether its code of this rank is among the codes of report ``rp[owner]``."""
        # a stated code is never -1, so the padding meets nothing
        return (self.report[rank][rp[owner]] == self.stated[rank][position][:, None]).any(axis=1)


HELD_MAX_CELLS = 20_000_000
"""Up to this many (resident, stated word) cells per rank the encoding holds which resident stated
which word (:attr:`StatementCodes.held`), so a pair's level is a few lookups."""


def _held(offsets: np.ndarray, stated: dict[str, np.ndarray], n_words: int
          ) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """:attr:`StatementCodes.held`; None above :data:`HELD_MAX_CELLS` cells in a rank."""
    n = len(offsets) - 1
    owner = np.repeat(np.arange(n), np.diff(offsets))
    held = {}
    for rank, codes in stated.items():
        words, at = np.unique(codes, return_inverse=True)
        if n * (len(words) + 1) > HELD_MAX_CELLS:
            return None
        column = np.full(n_words + 1, len(words), dtype=np.intp)  # the last entry: a report's -1
        column[words] = np.arange(len(words))
        table = np.zeros((n, len(words) + 1), dtype=bool)
        table[owner, at.reshape(-1)] = True
        held[rank] = (column, table)
    return held


class StatementPlacesComparison(Comparison):
    """Stated places vs the report's places: 3 a stated county is the hometown or missing county,
    2 same prefecture, 1 same province, 0 none; -1 when the resident stated no county or the
    report has no place.

        >>> resident = pd.DataFrame({"statement_places": [("500151", "341021")]})
        >>> report = pd.DataFrame({"home_county": ["500112"], "home_prefecture": [None],
        ...                        "home_province": [None], "missing_county": [None]})
        >>> statement = StatementPlacesComparison()
        >>> encoded = statement.encode(resident, report)
        >>> statement.levels(encoded, np.array([0]), np.array([0])).tolist()
        [2]
        >>> statement.met_codes(encoded, np.array([0]), np.array([0])).tolist()
        ['500151']
    """

    name = "statement_places"
    title = "自述地名"
    labels = {-1: "无自述地名", 0: "自述地名与家乡不符", 1: "自述地名同省", 2: "自述地名同市", 3: "自述地名同县"}
    ordered = True
    agree_from = 2
    left_columns = ("statement_places",)
    right_columns = ("home_county", "home_prefecture", "home_province", "missing_county")
    fields = (("自述", "statements", None),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> StatementCodes:
        stated = [[c for c in places if len(c) == 6] for places in object_values(residents["statement_places"])]
        offsets = np.zeros(len(stated) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(codes) for codes in stated])
        n = len(missing)
        right_counties = np.array([v or "" for column in ("home_county", "missing_county")
                                   for v in object_values(missing[column])], dtype=object)
        # prefecture and province of each distinct county string (a few thousand among all
        # records), then one vocabulary over every string, "" (none) numbered -1
        county_of, distinct = pd.factorize(np.concatenate([np.array([c for codes in stated for c in codes],
                                                                    dtype=object), right_counties]))
        k = len(distinct)
        strings = np.concatenate([
            np.asarray(distinct, dtype=object),
            np.array([prefecture_of(c) for c in distinct] + [province_of(c) for c in distinct]
                     + [v or "" for v in object_values(missing["home_prefecture"])]
                     + [home_province(v) for v in object_values(missing["home_province"])], dtype=object)])
        vocabulary, words = pd.factorize(strings)
        words = np.asarray(words, dtype=object)
        blank = np.flatnonzero(words == "")
        if len(blank):
            vocabulary = np.where(vocabulary == blank[0], -1, vocabulary)
        vocabulary = vocabulary.astype(np.int64)
        by_rank = {rank: vocabulary[offset:offset + k][county_of]
                   for rank, offset in (("counties", 0), ("prefectures", k), ("provinces", 2 * k))}
        n_stated = int(offsets[-1])
        extra = vocabulary[3 * k:]
        own = {rank: codes[n_stated:].reshape(2, n).T for rank, codes in by_rank.items()}
        report = {"counties": own["counties"],
                  "prefectures": np.column_stack([own["prefectures"], extra[:n]]),
                  "provinces": np.column_stack([own["provinces"], extra[n:]])}
        has_place = np.logical_or.reduce([(codes >= 0).any(axis=1) for codes in report.values()])
        stated_codes = {rank: codes[:n_stated] for rank, codes in by_rank.items()}
        return StatementCodes(offsets, stated_codes, report, has_place, words,
                              _held(offsets, stated_codes, len(words)))

    def _todo(self, encoded: StatementCodes, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """The pairs that can give evidence: a stated county on one side, a place on the other."""
        has_stated = encoded.offsets[1:] > encoded.offsets[:-1]
        return np.flatnonzero(has_stated[lp] & encoded.has_place[rp])

    def levels(self, encoded: StatementCodes, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        out = np.full(len(lp), MISSING, dtype=np.int8)
        todo = self._todo(encoded, lp, rp)
        level = np.zeros(len(todo), dtype=np.int8)
        if encoded.held is not None:
            for value, rank in enumerate(RANKS, start=1):
                level[encoded.met(rank, lp[todo], rp[todo])] = value
        else:
            owner, position = encoded.stated_rows(lp[todo])
            for value, rank in enumerate(RANKS, start=1):
                level[owner[encoded.meets(rank, owner, position, rp[todo])]] = value
        out[todo] = level
        return out

    def met_codes(self, encoded: StatementCodes, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """The stated county that decided each pair's level (the first, in the resident's order of
        likelihood, that meets the report at the pair's rank), None at levels -1 and 0."""
        out = np.full(len(lp), None, dtype=object)
        todo = self._todo(encoded, lp, rp)
        owner, position = encoded.stated_rows(lp[todo])
        decided = np.zeros(len(todo), dtype=bool)
        for rank in reversed(RANKS):
            rows = np.flatnonzero(encoded.meets(rank, owner, position, rp[todo]) & ~decided[owner])
            pair, first = np.unique(owner[rows], return_index=True)  # rows run in the resident's order
            out[todo[pair]] = encoded.words[encoded.stated["counties"][position[rows[first]]]]
            decided[pair] = True
        return out
