"""Ranking: the best candidates of each resident (or report), and each resident's identification potential.

    >>> rows, ranks = rank_order(["R1", "R1", "R1"], ["M1", "M2", "M3"], [1.0, 5.0, 3.0], top_k=2)
    >>> rows.tolist(), ranks.tolist()
    ([1, 2], [1, 2])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError


def identification_potential(residents: pd.DataFrame) -> pd.Series:
    """How much usable evidence each resident's record holds, 1 (almost none) to 5, as NamUs
    scores unidentified cases: one point each for a usable name, an age estimate, a height,
    marks, and place clues (accent, stated places); at least 1.

        >>> frame = pd.DataFrame({"resident_id": ["R1", "R2"], "name_evidence": [True, False],
        ...                       "name_norm": ["李伟", "党新"], "birth_year_low": [1960, None],
        ...                       "height_cm": [170, None], "marks": [("痣:脸:左",), ()],
        ...                       "accent_provinces": [("510000",), ()]})
        >>> identification_potential(frame).tolist()
        [5, 1]
    """
    n = len(residents)

    def col(name, default=None):
        return residents[name].to_numpy() if name in residents.columns else np.full(n, default, dtype=object)

    def nonempty(values):  # text (str or None) and tuple columns alike (docs/contract.md §2)
        return np.array([bool(v) for v in values], dtype=bool)

    # a blank name_evidence (a frame without the column) does not make a name unusable
    evidence = np.array([v is None or bool(v) for v in col("name_evidence")], dtype=bool)
    has_name = evidence & (nonempty(col("name_norm")) | nonempty(col("alias_norm")))
    has_age = ~np.isnan(pd.to_numeric(pd.Series(col("birth_year_low")), errors="coerce").to_numpy(float))
    has_age |= ~np.isnan(pd.to_numeric(pd.Series(col("age_low")), errors="coerce").to_numpy(float))
    has_height = ~np.isnan(pd.to_numeric(pd.Series(col("height_cm")), errors="coerce").to_numpy(float))
    has_marks = nonempty(col("marks"))
    has_place = nonempty(col("accent_provinces")) | nonempty(col("accent_area")) | nonempty(col("statement_places"))
    score = has_name.astype(int) + has_age + has_height + has_marks + has_place
    return pd.Series(np.maximum(score, 1), index=residents["resident_id"].astype(str).to_numpy(),
                     name="identification_potential")


# ---------------------------------------------------------------------------------------------
# ranking


def rank_order(group_ids: Any, other_ids: Any, match_weight: Any, prescore: Any = None,
               top_k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``top_k`` best rows per group, best first within each group (groups in
    id order), and their ranks 1..k: by ``match_weight`` descending, then ``prescore``
    descending when given, then the other id ascending (the order of :func:`rank_pairs`).

        >>> rows, ranks = rank_order(["R1", "R1", "R1"], ["M1", "M2", "M3"], [1.0, 5.0, 3.0], top_k=2)
        >>> rows.tolist(), ranks.tolist()
        ([1, 2], [1, 2])
    """
    group_codes = pd.factorize(np.asarray(group_ids, dtype=object), sort=True)[0]
    other_codes = pd.factorize(np.asarray(other_ids, dtype=object), sort=True)[0]
    return rank_codes(group_codes, other_codes, match_weight, prescore, top_k)


def sorted_codes(index: pd.MultiIndex, level: int) -> np.ndarray:
    """Integer codes of one level of a pair index that sort as its ids do (a MultiIndex built
    from arrays holds its levels sorted, so its own codes serve, with no pass over the ids)."""
    if index.levels[level].is_monotonic_increasing:
        return np.asarray(index.codes[level])
    return pd.factorize(np.asarray(index.get_level_values(level), dtype=object), sort=True)[0]


def above_floor(match_weight: Any, floor: np.ndarray) -> np.ndarray:
    """The rows whose match weight is not below their ``floor``
    (``kinmatch.match.candidates.weight_floors``); a NaN weight is kept, as the ranking keeps it."""
    return np.flatnonzero(~(np.asarray(match_weight, dtype=float) < floor))


def rank_codes(group_codes: np.ndarray, other_codes: np.ndarray, match_weight: Any, prescore: Any,
                top_k: int, floor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rank_order` on integer codes that sort as the ids do. ``floor``: per row the match
    weight below which the row is not ranked (``kinmatch.match.candidates.weight_floors``)."""
    if floor is not None:
        kept = above_floor(match_weight, floor)
        rows, ranks = rank_codes(group_codes[kept], other_codes[kept], np.asarray(match_weight)[kept],
                                 None if prescore is None else np.asarray(prescore)[kept], top_k)
        return kept[rows], ranks
    # numpy lexsort on integer codes rather than DataFrame.sort_values: the pair table of a run
    # has hundreds of thousands of rows and the sort was a tenth of the link stage
    keys = [other_codes]
    if prescore is not None:
        keys.append(-np.asarray(prescore, dtype=float))
    # weights equal but for float noise are ties (levels that monotone_m capped to one weight differ in
    # the last bits, by the order the fit summed in): the pre-score, then the id, decides them
    keys += [-np.round(np.asarray(match_weight, dtype=float), 9), group_codes]
    order = np.lexsort(keys)
    sorted_groups = group_codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1] if len(order) else np.zeros(0, dtype=np.int64)
    ranks = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)])) + 1
    keep = ranks <= int(top_k)
    return order[keep], ranks[keep]


def best_per_cluster(group_codes: np.ndarray, cluster_codes: np.ndarray, other_codes: np.ndarray, match_weight: Any,
                     prescore: Any = None) -> np.ndarray:
    """A mask of the rows that stand for their cluster: per group (resident) and cluster of
    reports (:mod:`kinmatch.match.dedupe`), the row :func:`rank_codes` would rank first; a report
    in no cluster has a cluster code of its own, so its row is always kept.

        >>> best_per_cluster(np.array([0, 0, 0, 1]), np.array([7, 7, 8, 7]), np.array([0, 1, 2, 0]),
        ...                  [2.0, 5.0, 1.0, 3.0]).tolist()
        [False, True, True, True]
    """
    keys = [np.asarray(other_codes)]
    if prescore is not None:
        keys.append(-np.asarray(prescore, dtype=float))
    keys += [-np.round(np.asarray(match_weight, dtype=float), 9), np.asarray(cluster_codes), np.asarray(group_codes)]
    order = np.lexsort(keys)
    group, cluster = np.asarray(group_codes)[order], np.asarray(cluster_codes)[order]
    first = np.r_[True, (group[1:] != group[:-1]) | (cluster[1:] != cluster[:-1])] if len(order) else np.zeros(0, bool)
    keep = np.zeros(len(order), dtype=bool)
    keep[order[first]] = True
    return keep


def rank_pairs(scored: pd.DataFrame, top_k: int = 10, by: str = "resident") -> pd.DataFrame:
    """Keep the ``top_k`` best pairs per resident (``by="resident"``) or per report
    (``by="missing"``) by ``match_weight``, and number them 1..k (ties: by a ``prescore`` column
    when there is one, the candidate passes' support, higher first; then by the other id).

        >>> scored = pd.DataFrame({"resident_id": ["R1", "R1", "R1"], "missing_id": ["M1", "M2", "M3"],
        ...                        "match_weight": [1.0, 5.0, 3.0]})
        >>> rank_pairs(scored, top_k=2)[["missing_id", "rank"]].values.tolist()
        [['M2', 1], ['M3', 2]]
        >>> tied = scored.assign(match_weight=3.0, prescore=[-4.0, -1.0, -2.5])
        >>> rank_pairs(tied, top_k=2)["missing_id"].tolist()
        ['M2', 'M3']
    """
    if by not in ("resident", "missing"):
        raise InputError(f"by must be 'resident' or 'missing', not {by!r}")
    group, other = ("resident_id", "missing_id") if by == "resident" else ("missing_id", "resident_id")
    # equal weights (common for nameless residents, whose few comparisons have few levels): the
    # candidate passes' pre-score (years, cm and km of gap, shared marks) breaks the tie
    prescore = scored["prescore"] if "prescore" in scored.columns else None
    rows, ranks = rank_order(scored[group], scored[other], scored["match_weight"], prescore, top_k)
    return scored.iloc[rows].assign(rank=ranks).reset_index(drop=True)


