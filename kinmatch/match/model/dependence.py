"""Comparisons that are not independent: pairwise corrections of the Fellegi–Sunter weights, and
the expected number of true pairs among the candidates.

Fellegi–Sunter multiplies one likelihood ratio per comparison, as if the comparisons were
independent among non-matches. They are not: among two unrelated records, an elderly resident
and an elderly missing person agree on age *and* on 痴呆 *and* on grey hair more often together
than the three frequencies multiplied say, and found place, accent and spoken places all follow
where the two come from. The product then counts one coincidence several times and the
probabilities come out overconfident (bench/RESULTS.md, issue 12).

The correction is a log-linear model with two-way terms: for every pair of comparisons ``a, b``,
``lift[a, b][i, j] = log2(P(a=i, b=j) / (P(a=i) P(b=j)))`` among non-matches, estimated from
counts with ``SHRINK`` pseudo-pairs at independence in every cell (a cell seen a handful of times
keeps a lift near 0). A pair's weight loses ``lift`` for each pair of comparisons both of its
levels are known on (:func:`interaction_weight`); :class:`~kinmatch.match.model.FellegiSunter`
spreads it half on each of the two comparisons, so the partial weights still add up to the total.

    >>> import numpy as np
    >>> matrix = np.array([[1, 1]] * 50 + [[0, 0]] * 50 + [[1, 0]] * 5 + [[0, 1]] * 5)
    >>> lifts = pairwise_lifts(matrix, ["age", "conditions"], {"age": 2, "conditions": 2}, shrink=0)
    >>> round(float(lifts[("age", "conditions")][1, 1]), 2)    # together 50 times, not 27.5: log2(50/27.5)
    0.86
    >>> interaction_weight(np.array([[1, 1], [-1, 1]]), ["age", "conditions"], lifts).round(2).tolist()
    [-0.86, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

__all__ = ["SHRINK", "pairwise_lifts", "tree_lifts", "mutual_information", "interaction_weight",
           "interaction_by_comparison", "candidate_match_share"]

SHRINK = 5.0
"""Pseudo-pairs at independence added to every cell of a two-way table (and to its expectation):
a cell needs well over this many pairs before its lift moves far from 0."""


def pairwise_lifts(matrix: np.ndarray, names: Sequence[str], levels: Mapping[str, int],
                   weights: np.ndarray | None = None, shrink: float = SHRINK
                   ) -> dict[tuple[str, str], np.ndarray]:
    """``{(a, b): lift table (levels of a x levels of b), log2}`` for every pair of comparisons of
    ``names`` (the columns of the integer level ``matrix``, -1 missing), from pairs that are
    (``weights``: how much each pair is) non-matches. A pair counts in a table only where both
    levels are known."""
    tables = {}
    for (i, a), (j, b) in combinations(enumerate(names), 2):
        la, lb = int(levels[a]), int(levels[b])
        x, y = matrix[:, i].astype(np.int64), matrix[:, j].astype(np.int64)
        known = (x >= 0) & (y >= 0)
        w = None if weights is None else weights[known]
        counts = np.bincount(x[known] * lb + y[known], weights=w, minlength=la * lb).reshape(la, lb).astype(float)
        total = counts.sum()
        if total <= 0:
            continue
        expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / total
        with np.errstate(divide="ignore"):  # shrink=0 and a cell never seen: -inf, as the counts say
            lift = np.log2((counts + shrink) / (expected + shrink))
        if np.any(np.abs(lift) > 1e-12):
            tables[(a, b)] = lift
    return tables


def mutual_information(matrix: np.ndarray, names: Sequence[str], levels: Mapping[str, int]) -> np.ndarray:
    """Symmetric matrix of the expected mutual information (nats) between the levels of every two
    comparisons of ``names``: the mutual information among the pairs where both are known, times
    the share of pairs where both are known (what the pair of comparisons tells per pair scored).

        >>> matrix = np.array([[1, 1, 0]] * 50 + [[0, 0, 1]] * 50 + [[1, 0, 0]] * 50 + [[0, 1, 1]] * 50)
        >>> mutual_information(matrix, ["a", "b", "c"], {"a": 2, "b": 2, "c": 2}).round(3)[0].tolist()
        [0.0, 0.0, 0.693]
    """
    k = len(names)
    out = np.zeros((k, k))
    for (i, a), (j, b) in combinations(enumerate(names), 2):
        la, lb = int(levels[a]), int(levels[b])
        x, y = matrix[:, i].astype(np.int64), matrix[:, j].astype(np.int64)
        known = (x >= 0) & (y >= 0)
        counts = np.bincount(x[known] * lb + y[known], minlength=la * lb).reshape(la, lb).astype(float)
        if counts.sum() <= 0:
            continue
        p = counts / counts.sum()
        expected = np.outer(p.sum(axis=1), p.sum(axis=0))
        seen = p > 0
        out[i, j] = out[j, i] = float(np.sum(p[seen] * np.log(p[seen] / expected[seen]))) * float(known.mean())
    return out


def tree_lifts(matrix: np.ndarray, names: Sequence[str], levels: Mapping[str, int], shrink: float = SHRINK
               ) -> dict[tuple[str, str], np.ndarray]:
    """:func:`pairwise_lifts` of the pairs along the Chow–Liu tree of the comparisons (the spanning
    tree of largest :func:`mutual_information`), so the non-match distribution is the best
    tree-shaped one: ``P(x) = prod P(x_i) * prod over edges of lift``.

    Why a tree and not every pair: when several comparisons follow one cause (old age shows in
    age, 痴呆, grey hair and height together), the lifts of all pairs count that cause once per
    pair of them — six times for four comparisons where three corrections are due — and turn
    true matches, which agree on all four, into doubtful ones (bench/RESULTS.md). A tree has one
    edge less than there are comparisons, so each comparison is corrected for its strongest
    dependence only.

        >>> matrix = np.array([[1, 1, 1]] * 45 + [[0, 0, 0]] * 45 + [[1, 0, 1]] * 5 + [[0, 1, 0]] * 5)
        >>> sorted(tree_lifts(matrix, ["age", "hair", "conditions"], {"age": 2, "hair": 2, "conditions": 2}))
        [('age', 'conditions'), ('age', 'hair')]
    """
    from scipy.sparse.csgraph import minimum_spanning_tree

    names = list(names)
    information = mutual_information(matrix, names, levels)
    # the spanning tree of largest information is the minimum spanning tree of its negation; a tiny
    # constant keeps edges of zero information (a zero is no edge to scipy)
    tree = minimum_spanning_tree(-(information + 1e-12) * (1 - np.eye(len(names)))).tocoo()
    edges = {tuple(sorted((names[i], names[j]), key=names.index)) for i, j in zip(tree.row, tree.col)}
    return {pair: lift for pair, lift in pairwise_lifts(matrix, names, levels, shrink=shrink).items()
            if pair in edges}


def interaction_by_comparison(matrix: np.ndarray, names: Sequence[str],
                              lifts: Mapping[tuple[str, str], np.ndarray]) -> np.ndarray:
    """Per pair and comparison (same shape as ``matrix``), the log2 correction for dependence,
    each pair of comparisons' ``-lift`` spread half on each of the two; 0 where a level is
    missing."""
    column = {name: j for j, name in enumerate(names)}
    out = np.zeros(matrix.shape, dtype=float)
    for (a, b), lift in lifts.items():
        if a not in column or b not in column:
            continue
        x, y = matrix[:, column[a]].astype(np.int64), matrix[:, column[b]].astype(np.int64)
        known = (x >= 0) & (y >= 0)
        half = np.where(known, -0.5 * lift[np.maximum(x, 0), np.maximum(y, 0)], 0.0)
        out[:, column[a]] += half
        out[:, column[b]] += half
    return out


def interaction_weight(matrix: np.ndarray, names: Sequence[str],
                       lifts: Mapping[tuple[str, str], np.ndarray]) -> np.ndarray:
    """Per pair, the total log2 correction for dependence (the row sums of
    :func:`interaction_by_comparison`)."""
    return interaction_by_comparison(matrix, names, lifts).sum(axis=1)


def candidate_match_share(log_ratio: np.ndarray, tol: float = 1e-9, max_iter: int = 500) -> float:
    """The share of candidate pairs that are matches, by EM on a two-class mixture whose classes are
    fixed (``log_ratio``: each pair's natural-log likelihood ratio, match vs non-match) and only the
    share is free.

    Why not π of the assignment EM: it allows one match per resident, but a person reported by
    the family, the police and a volunteer group has three reports, all true; the prior of a pair
    must count every true pair (the log likelihood in the share is concave, so this converges from
    any start).

        >>> rng = np.random.default_rng(0)
        >>> truth = rng.random(20_000) < 0.05
        >>> score = np.where(truth, rng.normal(4, 2, 20_000), rng.normal(-4, 2, 20_000))
        >>> round(candidate_match_share(2 * score), 2)   # N(4, 2) against N(-4, 2): ln ratio 2x
        0.05
    """
    ratio = np.exp(np.clip(log_ratio, -700.0, 700.0))
    share = 0.01
    for _ in range(int(max_iter)):
        e = share * ratio
        new = float(np.mean(e / (1.0 - share + e)))
        if abs(new - share) < tol:
            return new
        share = min(max(new, 1e-9), 1 - 1e-9)
    return share
