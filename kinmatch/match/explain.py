"""Explanations: short readable reasons for each candidate, strongest first.

``姓名同音(李伟/李玮) +6.1; 年龄相符 +2.0; 身高差12cm −3.2`` — each reason is written by its
comparison (:meth:`~kinmatch.match.comparisons.base.Comparison.reasons`) from the very values it
decided the level on, followed by the partial weight (log2 Bayes factor) the level added.
Comparisons with no evidence (-1) or a weight under :data:`MIN_SHOWN_WEIGHT` are left out; at most
``top`` reasons are kept, by absolute weight (ties: comparison order).

    >>> import pandas as pd
    >>> from kinmatch.match import engine
    >>> from kinmatch.match.comparisons.height import HeightComparison
    >>> from kinmatch.match.comparisons.sex import SexComparison
    >>> residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["F"], "height_cm": [160.0]})
    >>> missing = pd.DataFrame({"missing_id": ["M1"], "sex_code": ["F"], "height_cm": [172.0]})
    >>> encoded = engine.encode(residents, missing, [SexComparison(), HeightComparison()])
    >>> explain_pairs(encoded, np.array([0]), np.array([0]), np.array([[1, 1]]), np.array([[0.6, -3.2]]))
    ['身高差12cm −3.2; 性别相符 +0.6']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kinmatch.errors import InputError

MINUS = "\u2212"  # a true minus sign, as in the studio's printed lists
MIN_SHOWN_WEIGHT = 0.05
"""Reasons whose weight is smaller than this (in bits) are left out: they would not move a rank."""


def format_weight(weight: float) -> str:
    """``6.1`` → ``'+6.1'``, ``-3.2`` → ``'−3.2'`` (true minus sign).

        >>> format_weight(6.14), format_weight(-3.2)
        ('+6.1', '−3.2')
    """
    return f"+{weight:.1f}" if weight >= 0 else f"{MINUS}{abs(weight):.1f}"


def explain_pairs(encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray, weights: np.ndarray,
                  top: int = 6) -> list[str]:
    """The explanation of each pair at record positions ``lp``/``rp`` of ``encoded`` (what
    :func:`kinmatch.match.engine.encode` returned), given its ``levels`` and partial ``weights``
    (arrays of pairs × comparisons, in the comparisons' order). ``rp`` may also be such an array:
    the report each comparison of a pair read (a cluster of duplicate reports whose members lent
    evidence, :func:`kinmatch.match.dedupe.fill_from_members`)."""
    rp = np.asarray(rp)
    levels = np.asarray(levels)
    weights = np.asarray(weights, dtype=float)
    n, k = len(lp), len(encoded.comparisons)
    if levels.shape != (n, k) or weights.shape != (n, k):
        raise InputError(f"explain_pairs: {n} pairs of {k} comparisons, but levels of shape {levels.shape} and "
                         f"weights of shape {weights.shape}; pass one row per pair and one column per comparison")
    if n == 0:
        return []
    shown = (levels >= 0) & ~(np.abs(weights) < MIN_SHOWN_WEIGHT)
    # each pair's comparisons, strongest first; a stable sort keeps the comparison order on ties
    key = np.where(shown, -np.abs(np.nan_to_num(weights, nan=0.0)), np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :top]
    kept_reasons = np.zeros((n, k), dtype=bool)
    np.put_along_axis(kept_reasons, order, True, axis=1)
    kept_reasons &= shown
    pieces = np.empty((n, k), dtype=object)
    for j, (comparison, encoding) in enumerate(zip(encoded.comparisons, encoded.encodings)):
        rows = np.flatnonzero(kept_reasons[:, j])  # the pairs where this reason is kept
        if len(rows) == 0:
            continue
        report = rp[rows, j] if rp.ndim == 2 else rp[rows]
        texts = comparison.reasons(encoding, lp[rows], report, levels[rows, j].astype(np.int64))
        # object arrays add element by element in C: text + " +6.1", each distinct weight's text made once
        pieces[rows, j] = np.asarray(texts, dtype=object) + _weight_suffixes(weights[rows, j])
    kept = np.minimum(shown.sum(axis=1), top)
    ordered = np.take_along_axis(pieces, order, axis=1).tolist()
    return ["; ".join(row[:m]) for row, m in zip(ordered, kept.tolist())]


def _weight_suffixes(weights: np.ndarray) -> np.ndarray:
    """``" "`` + :func:`format_weight` of each weight (an object array), each distinct weight
    written once."""
    codes, distinct = pd.factorize(weights, use_na_sentinel=False)  # a hash, not a sort
    texts = np.empty(len(distinct), dtype=object)
    texts[:] = [" " + format_weight(w) for w in distinct.tolist()]
    return texts[codes]
