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
    """Both sides' places as codes into ``words`` (-1 = none). Per resident (rows, padded with -1)
    its stated counties and their prefectures and provinces; per report its counties (hometown,
    missing place), prefectures (theirs and ``home_prefecture``) and provinces (theirs and
    ``home_province``)."""

    stated: dict[str, np.ndarray]
    report: dict[str, np.ndarray]
    words: np.ndarray


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
    fields = (("自述/户籍", "statements", "hometown"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> StatementCodes:
        stated = [[c for c in places if len(c) == 6] for places in object_values(residents["statement_places"])]
        width = max((len(s) for s in stated), default=0) or 1
        left_counties = np.full((len(stated), width), "", dtype=object)
        for i, codes in enumerate(stated):
            left_counties[i, :len(codes)] = codes
        n = len(missing)
        right_counties = np.empty((n, 2), dtype=object)
        right_counties[:, 0] = [v or "" for v in object_values(missing["home_county"])]
        right_counties[:, 1] = [v or "" for v in object_values(missing["missing_county"])]
        # prefecture and province of each distinct county string (a few thousand among all
        # records), then one vocabulary over every string
        county_of, distinct = pd.factorize(np.concatenate([left_counties.ravel(), right_counties.ravel()]))
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
        n_left = left_counties.size
        left = {rank: codes[:n_left].reshape(left_counties.shape) for rank, codes in by_rank.items()}
        own = {rank: codes[n_left:].reshape(n, 2) for rank, codes in by_rank.items()}
        extra = vocabulary[3 * k:]
        right = {"counties": own["counties"],
                 "prefectures": np.column_stack([own["prefectures"], extra[:n]]),
                 "provinces": np.column_stack([own["provinces"], extra[n:]])}
        return StatementCodes(left, right, words)

    def _todo(self, encoded: StatementCodes, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """The pairs that can give evidence: a stated county on one side, a place on the other."""
        has_stated = encoded.stated["counties"][:, 0] >= 0
        has_place = np.logical_or.reduce([(codes >= 0).any(axis=1) for codes in encoded.report.values()])
        return np.flatnonzero(has_stated[lp] & has_place[rp])

    def _meets(self, encoded: StatementCodes, rank: str, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """Per pair and stated county: whether it meets a report code of this rank."""
        mine = encoded.stated[rank][lp][:, :, None]
        theirs = encoded.report[rank][rp][:, None, :]
        return ((mine == theirs) & (mine >= 0)).any(axis=2)

    def levels(self, encoded: StatementCodes, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        out = np.full(len(lp), MISSING, dtype=np.int8)
        todo = self._todo(encoded, lp, rp)
        if len(todo) == 0:
            return out
        level = np.zeros(len(todo), dtype=np.int8)
        for value, rank in enumerate(RANKS, start=1):
            level[self._meets(encoded, rank, lp[todo], rp[todo]).any(axis=1)] = value
        out[todo] = level
        return out

    def met_codes(self, encoded: StatementCodes, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """The stated county that decided each pair's level (the first, in the resident's order of
        likelihood, that meets the report at the pair's rank), None at levels -1 and 0."""
        out = np.full(len(lp), None, dtype=object)
        todo = self._todo(encoded, lp, rp)
        decided = np.zeros(len(todo), dtype=bool)
        for rank in reversed(RANKS):
            meets = self._meets(encoded, rank, lp[todo], rp[todo]) & ~decided[:, None]
            hit = np.flatnonzero(meets.any(axis=1))
            county = encoded.stated["counties"][lp[todo[hit]], meets[hit].argmax(axis=1)]
            out[todo[hit]] = encoded.words[county]
            decided[hit] = True
        return out
