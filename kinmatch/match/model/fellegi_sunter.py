"""Multi-level Fellegi–Sunter: m, u and lambda per comparison level, fitted by EM (the classic one,
or the one-to-many assignment EM for candidates a blocking step selected), scored as log2 weights
(with term-frequency adjustment), checked against the data it scores, saved to readable JSON.

Example (two comparisons, u from random pairs, m and lambda by EM)::

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> is_match = rng.random(2000) < 0.2
    >>> name = np.where(is_match, rng.choice(3, 2000, p=[.05, .15, .8]),
    ...                 rng.choice(3, 2000, p=[.8, .15, .05]))
    >>> age = np.where(is_match, rng.choice(2, 2000, p=[.1, .9]), rng.choice(2, 2000, p=[.7, .3]))
    >>> vectors = pd.DataFrame({"name": name, "age": age})
    >>> random_pairs = pd.DataFrame({"name": rng.choice(3, 5000, p=[.8, .15, .05]),
    ...                              "age": rng.choice(2, 5000, p=[.7, .3])})
    >>> model = FellegiSunter(levels={"name": 3, "age": 2}).fit(vectors, u_vectors=random_pairs)
    >>> round(model.lambda_, 1)
    0.2
    >>> model.weight_table(pd.DataFrame({"name": [2, -1], "age": [1, 1]})).round(1).values.tolist()
    [[3.8, 1.6], [0.0, 1.6]]
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.match.model import io
from kinmatch.match.model.assignment import (
    fit_assignment_em,
    fit_assignment_em_restarted,
    monotone_m,
    prepare_beside,
)
from kinmatch.match.model.base import (
    MISSING,
    EstimatorParams,
    ModelNotFittedError,
    check_levels,
    clip_normalise,
    comparison_names,
    group_patterns,
    level_matrix,
    proba_from_weight,
)
from kinmatch.match.model.calibration import WeightCalibration, enough_decisions, shortfall
from kinmatch.match.model.dependence import (
    candidate_match_share,
    interaction_by_comparison,
    interaction_weight,
    pairwise_lifts,
    tree_lifts,
)
from kinmatch.match.model.posterior import MAX_REPORTS, fit_report_shares, resident_posterior

__all__ = ["FellegiSunter", "METHODS", "U_SOURCES", "M_ESTIMATES", "POOLED_NOTE", "pooled_levels", "held_out_m",
           "observed_together"]

POOLED_NOTE = ("与相邻更强的一级合并为同一权重：有序比对中较弱的一级不得比较强的一级更重，"
               "拟合出的权重违反了这一顺序，故两级取同一权重")
"""(issue 16) Why levels of an ordered comparison share one weight; shown once with the pooled row."""


def pooled_levels(table: pd.DataFrame, tolerance: float = 1e-6) -> pd.DataFrame:
    """:meth:`FellegiSunter.parameter_table` with adjacent levels of one comparison that share a
    weight (pooled by the ordering: :func:`~kinmatch.match.model.assignment.monotone_m`, or the
    bounds of a trained model) merged into one row: ``levels`` (tuple), ``label`` (``a / b``), m and
    u summed, the shared ``weight``, and ``pooled`` (True for a merged row).

        >>> table = pd.DataFrame({"comparison": ["x"] * 3, "level": [0, 1, 2], "label": ["不符", "相差大", "相符"],
        ...                       "m": [.1, .1, .8], "u": [.4, .4, .2], "weight": [-2.0, -2.0, 2.0]})
        >>> pooled_levels(table)[["levels", "label", "pooled"]].values.tolist()
        [[(0, 1), '不符 / 相差大', True], [(2,), '相符', False]]
    """
    rows = []
    for name, group in table.groupby("comparison", sort=False):
        group = group.sort_values("level")
        weights = group["weight"].to_numpy(dtype=float)
        same_as_next = np.r_[np.abs(np.diff(weights)) <= tolerance, False]
        labels = [str(label) if label is not None and label == label else f"{name} {level}"
                  for label, level in zip(group["label"], group["level"])]
        start = 0
        for i in range(len(group)):
            if same_as_next[i]:
                continue  # merged into the next level's row
            block = group.iloc[start:i + 1]
            rows.append({"comparison": name, "levels": tuple(int(v) for v in block["level"]),
                         "label": " / ".join(labels[start:i + 1]), "m": float(block["m"].sum()),
                         "u": float(block["u"].sum()), "weight": float(weights[i]), "pooled": i > start})
            start = i + 1
    return pd.DataFrame(rows, columns=["comparison", "levels", "label", "m", "u", "weight", "pooled"])

METHODS = ("em", "assignment")
"""How :meth:`FellegiSunter.fit` estimates m and lambda: ``"em"``, the classic EM over independent
pairs; ``"assignment"``, the one-to-many assignment EM of
:func:`~kinmatch.match.model.assignment.fit_assignment_em` (each resident matches at most one of
its candidates)."""

U_SOURCES = ("hybrid", "candidates", "random")
"""What a model fitted with ``method="assignment"`` scores against (see :class:`FellegiSunter`)."""

DEPENDENCE = (None, "pairwise", "tree")
"""How :class:`FellegiSunter` treats comparisons that are not independent (see
:mod:`~kinmatch.match.model.dependence`)."""

PRIORS = ("one_per_resident", "every_pair")
"""How a model fitted with ``method="assignment"`` sets the prior of a pair (see
:class:`FellegiSunter`)."""

M_ESTIMATES = ("em", "held_out")
"""How a model fitted with ``method="assignment"`` takes m from the EM (see :class:`FellegiSunter`)."""

POSTERIORS = ("pair", "person", "person_em")
"""What a pair's probability is conditioned on (see :class:`FellegiSunter`)."""


def held_out_m(matrix: np.ndarray, names: Sequence[str], m: dict, u: dict, pi: float, residents: np.ndarray,
               min_prob: float, offset: np.ndarray | None = None, decisive: float = 0.9,
               rounds: int = 2, comparisons: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """m of every comparison estimated from the pairs that the *rest* of the evidence already
    calls the resident's match.

    The assignment EM counts a level's m over pairs weighted by their posterior, and that posterior
    contains the level's own weight: among residents with thin evidence, a candidate at a level
    the model already favours becomes the likely match *because* of that level, and counts towards
    it again (a fit that confirms itself). Here, for comparison k, each pair's posterior p is the
    assignment E step (one unit of "is the match" shared by the resident's candidates and "none of
    them", prior ``pi``) on the log likelihood ratio of the other comparisons, also leaving out
    those whose being observed depends on k's level (:func:`observed_together`: clothing compared
    only within a month of the loss says nothing about the time gap that it does not already
    contain). m_k is the share of each level among the pairs with p at least ``decisive``,
    weighted by p: if the comparisons are independent given the class, k's level is drawn from m
    whatever the other evidence, and at most ``1 - decisive`` of that weight is a non-match's. The
    counts get the assignment EM's weak prior (m rising with the level, worth 5% of the pairs'
    weight, at least 2 pairs), so a level no decisive pair showed does not weigh -13 bits.
    ``rounds`` repeats this with the new m (the posteriors without k change as the others' m do).
    ``comparisons``: the comparisons whose m is estimated so (None: all); the others keep ``m``.
    ``matrix``: the pairs' levels (-1 missing), columns in ``names`` order; ``u``: the u the EM
    used; ``residents``: each pair's resident as an integer; ``offset``: a per-pair natural-log
    ratio the levels do not carry, added to every posterior.

    Example: three comparisons, true m of ``a`` 0.1 / 0.2 / 0.7, the fit starting from an m of ``a``
    that is far too sure of its top level::

        >>> rng = np.random.default_rng(0)
        >>> residents = np.repeat(np.arange(3000), 5)
        >>> match = np.zeros(len(residents), bool)
        >>> match[::5] = rng.random(3000) < 0.6
        >>> def levels(p_match, p_other):
        ...     return np.where(match, rng.choice(len(p_match), len(match), p=p_match),
        ...                     rng.choice(len(p_match), len(match), p=p_other))
        >>> matrix = np.column_stack([levels([.1, .2, .7], [.7, .2, .1]), levels([.05, .95], [.95, .05]),
        ...                           levels([.1, .3, .6], [.6, .3, .1])])
        >>> u = {n: np.array(p) for n, p in zip("abc", ([.7, .2, .1], [.95, .05], [.6, .3, .1]))}
        >>> m = {n: np.array(p) for n, p in zip("abc", ([.02, .08, .9], [.05, .95], [.1, .3, .6]))}
        >>> held_out_m(matrix, list("abc"), m, u, 0.6, residents, 1e-4)["a"].round(1).tolist()
        [0.1, 0.2, 0.7]
    """
    names = list(names)
    order = np.argsort(residents, kind="stable")
    groups = np.asarray(residents)[order]
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    sizes = np.diff(np.r_[starts, len(groups)])
    group_of = np.repeat(np.arange(len(starts)), sizes)
    prior = pi * np.repeat(1.0 / sizes, sizes)
    levels = matrix[order]
    base = np.zeros(len(levels)) if offset is None else np.asarray(offset, dtype=float)[order]
    together = observed_together(levels, names)
    m = {n: np.asarray(m[n], dtype=float) for n in names}
    for _ in range(int(rounds)):
        tables = [np.r_[0.0, np.log(m[n]) - np.log(u[n])] for n in names]  # [0]: missing
        total = base.copy()
        for j, table in enumerate(tables):
            total += table[levels[:, j] + 1]
        new_m = dict(m)
        for k, name in enumerate(names):
            if comparisons is not None and name not in comparisons:
                continue
            # one per-pair array at a time: at a million reports the pairs are tens of millions
            lr = total.copy()
            for j, table in enumerate(tables):
                if j == k or not together[k, j]:
                    lr -= table[levels[:, j] + 1]
            e = prior * np.exp(np.clip(lr, -_MAX_LOG_RATIO, _MAX_LOG_RATIO))
            p = e / ((1 - pi) + np.add.reduceat(e, starts))[group_of]
            chosen = (levels[:, k] >= 0) & (p >= decisive)
            counts = np.bincount(levels[chosen, k], weights=p[chosen], minlength=len(m[name]))
            rising = np.exp2(np.arange(len(m[name]), dtype=float))
            counts = counts + max(2.0, 0.05 * counts.sum()) * rising / rising.sum()
            estimate = np.clip(counts / counts.sum(), min_prob, 1 - min_prob)
            new_m[name] = estimate / estimate.sum()
        m = new_m
    return m


_MAX_LOG_RATIO = 600.0
"""Largest |natural-log ratio| :func:`held_out_m` exponentiates (exp overflows past 709)."""


def observed_together(levels: np.ndarray, names: Sequence[str], min_share: float = 0.01) -> np.ndarray:
    """``[k, j]`` False where comparison j's being observed depends on comparison k's level (or
    k's on j's): among the pairs where k is observed, some level of k holding at least
    ``min_share`` of them never has j observed. Such a j is evidence about k's level, not beside it.

        >>> levels = np.array([[2, 1], [2, 0], [1, -1], [0, -1], [1, -1]])
        >>> observed_together(levels, ["time_gap", "clothing"]).tolist()
        [[True, False], [False, True]]
    """
    n = len(names)
    together = np.ones((n, n), dtype=bool)
    seen = levels >= 0
    for k in range(n):
        at_k = levels[seen[:, k], k]
        if len(at_k) == 0:
            continue
        common = np.flatnonzero(np.bincount(at_k) >= min_share * len(at_k))
        for j in range(n):
            if j == k:
                continue
            with_j = np.bincount(levels[seen[:, k] & seen[:, j], k], minlength=int(at_k.max()) + 1)
            if (with_j[common] == 0).any():
                together[k, j] = together[j, k] = False
    return together


def _valid_m_estimate(value: Any) -> bool:
    """Whether ``value`` is an ``m_estimate`` :class:`FellegiSunter` accepts: one of
    :data:`M_ESTIMATES` or a list of comparison names."""
    if isinstance(value, str):
        return value in M_ESTIMATES
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _resident_codes(pairs: Any) -> np.ndarray:
    """The resident of each pair as an integer: from a ``(resident_id, missing_id)`` index (its
    first level) or a sequence of resident ids."""
    if isinstance(pairs, pd.MultiIndex):
        return np.asarray(pairs.codes[0])
    return pd.factorize(pd.Index(pairs))[0]


class FellegiSunter(EstimatorParams):
    """Multi-level Fellegi–Sunter model with m, u and lambda estimated by EM.

    Parameters
    ----------
    levels : dict, optional
        ``{comparison: number_of_levels}``; its keys pick (and order) the comparison columns.
        Inferred from the data (max level + 1, columns in frame order) when omitted.
    max_iter, tol : EM stops after ``max_iter`` iterations or when no parameter (lambda, any m,
        any free u; with ``method="assignment"``: π or any m) moves by more than ``tol``.
        ``n_iter_`` and ``converged_`` record what happened.
    method : "em" or "assignment"
        ``"em"``: the classic EM, pairs taken as independent draws from a two-class mixture.
        ``"assignment"``: the one-to-many assignment EM
        (:func:`~kinmatch.match.model.assignment.fit_assignment_em`) for candidate pairs that a
        blocking step *selected*: each resident matches at most one of its candidates, so the
        selection cannot inflate the match class. It needs ``fit(vectors, u_vectors,
        n_residents=...)``; m starts rising with the level and π at 0.5 (``m_init``,
        ``m_fixed`` and ``lambda_init`` are for ``"em"`` only), and u is re-estimated among the
        candidates that are not the match unless ``u_source="random"``.
    u_source : "hybrid", "candidates" or "random"
        With ``method="assignment"``, what the fitted model scores against. ``"hybrid"``: u from
        the random pairs, and lambda = π / ``n_reports`` (the chance that any one report is the
        resident's), so evidence the candidate passes selected on keeps its full weight and the
        probability stays that of any pair. ``"candidates"``: u of the candidate non-matches and
        lambda = π / (mean candidates per resident): weights say how a pair stands out among its
        fellow candidates. ``"random"``: random-pair u (kept fixed during EM) with the candidate
        prior. Ignored by ``method="em"`` (see ``u_fixed``).
    ordered : list of str, optional
        Comparisons whose levels are ordered, so a weaker agreement must never weigh more than a
        stronger one: after fitting, their m is adjusted by
        :func:`~kinmatch.match.model.assignment.monotone_m` (after any ``m_fixed`` pins).
    dependence : None or "pairwise"
        With ``method="assignment"``, ``"pairwise"`` corrects the weights for comparisons that are
        not independent among non-matches (:mod:`~kinmatch.match.model.dependence`): two-way
        lifts of every pair of comparisons without term frequencies, from the random pairs for
        scoring (``dependence_``) and from the candidates inside the EM. ``"tree"``: the same
        lifts from the random pairs, but only along the Chow–Liu tree of the comparisons
        (:func:`~kinmatch.match.model.dependence.tree_lifts`: each comparison's dependence counted
        once, not once per pair of comparisons sharing a common cause), used in scoring only; the
        EM is the independent one. None: independence.
    prior : "one_per_resident" or "every_pair"
        With ``method="assignment"``, the prior of a pair. ``"one_per_resident"``: π spread over
        the reports (or candidates), as the assignment EM assumes. ``"every_pair"``: the expected
        number of true pairs among the candidates
        (:func:`~kinmatch.match.model.dependence.candidate_match_share`), which also counts the
        second and third report of a person reported several times; ``expected_true_pairs_``
        records it.
    posterior : "pair" or "person"
        With ``method="assignment"``, what a pair's probability is conditioned on. ``"pair"``: the
        pair's own weight, ``2**w / (1 + 2**w)``. ``"person"``: all the candidates of its resident,
        who is one person with zero to three reports among them
        (:mod:`~kinmatch.match.model.posterior`): the shares of residents with 0..3 true reports
        among their candidates are fitted after the EM (``report_shares_``, on the candidates'
        own weights) and :meth:`person_probability` gives each pair's posterior; the pipeline's
        :func:`~kinmatch.match.pipeline.score` uses it. Weights and ranking do not change.
        ``"person_em"``: as ``"person"``, and m is then refitted by EM with that posterior as the E
        step (the assignment EM's m counts one report per resident; here a person's second and
        third report count too), the shares refitted in every iteration. Weights change, and so
        may ranking. Without a ``dependence`` correction this EM explains look-alike strangers as
        further reports of the person and runs away (bench/RESULTS.md); use it with
        ``dependence="tree"``.
    m_estimate : "em", "held_out" or list of str
        With ``method="assignment"``, where m comes from. ``"em"``: the assignment EM's m.
        ``"held_out"``: after the EM, each comparison's m from the pairs that the *other*
        comparisons already call the resident's match (:func:`held_out_m`), so a level's m is not
        counted over pairs that are likely matches only because of that level (the EM's m confirms
        itself among residents with thin evidence). A list of comparison names: only those get the
        held-out m, the others keep the EM's. u, π and the prior are the EM's either way.
    em_restart : bool
        With ``method="assignment"``, also run the EM from a second start (few matches, m steep:
        :data:`~kinmatch.match.model.assignment.RESTART`) and keep that fit only when it reaches a
        clearly narrower match class
        (:func:`~kinmatch.match.model.assignment.fit_assignment_em_restarted`): a guard against the
        wide fixed point. ``em_start_`` records the start kept and ``em_log_likelihood_`` its log
        likelihood. The pipeline's model sets it (:func:`~kinmatch.match.model.fitting.fit_model`).
    settings : dict, optional
        The settings the model was fitted with (any JSON-able dict, e.g. the comparisons and
        their levels, the candidate passes), stored as given and written to the JSON, so a saved
        model says what it was fitted on. When present, :meth:`check_compatible` also compares
        level labels.
    lambda_init : float, optional
        Starting prior match probability among candidate pairs (default 0.1).
    m_init : dict or "random", optional
        ``{comparison: [m_0, ..., m_{L-1}]}`` starting m. Default: rising with the level
        (``m_l ∝ 2**l``), the usual "agreement is more likely among matches" start. ``"random"``
        draws a start from a Dirichlet with ``random_state`` (useful to check EM does not depend
        on the start).
    u_fixed : bool
        Keep u as estimated from random pairs (``estimate_u`` or ``fit(u_vectors=...)``) during
        EM, as splink does. When no random-pair u exists, EM estimates u as well, starting from
        the level frequencies of the candidate pairs (non-matches dominate those too);
        ``u_source_`` records which happened.
    tf_columns : dict, optional
        ``{comparison: tf_column}``: a per-pair column holding the probability that two random
        records agree on this pair's exact value (e.g. the frequency of the shared name sound).
        **How it is used** (splink's term-frequency adjustment): for pairs at an exact-agreement
        level (``tf_levels``, default the top level) with a finite tf value, the u in
        ``log2(m/u)`` becomes that value (clipped to ``[min_prob, 1-min_prob]``) instead of the
        level's average u. Agreeing on a rare name thus weighs more than on a common one. EM
        itself ignores tf values (m is a property of the level, not of the value), again as
        splink does. Missing tf (NaN) falls back to the level's u.
    tf_levels : dict, optional
        ``{comparison: [levels]}`` that count as exact agreement for tf adjustment.
    m_fixed : dict, optional
        ``{comparison: {level: m}}`` pins m for some levels; EM shares the remaining mass among
        the free levels in proportion to their estimates.
    level_labels : dict, optional
        ``{comparison: [label_0, ..., label_{L-1}]}`` or ``{comparison: {level: label}}`` (as
        ``kinmatch.match.comparisons.LEVEL_LABELS``; a ``-1`` entry labels "missing"), readable
        names stored in the JSON and in :meth:`parameter_table`.
    random_state : int or Generator, optional
        Only used by ``m_init="random"``; the fit is otherwise deterministic.
    min_prob : float
        m, u and lambda are clipped into ``[min_prob, 1-min_prob]`` so no weight is infinite.

    Attributes (after ``fit``)
    --------------------------
    comparisons_ : list of comparison names, ``levels_`` : dict,
    m_, u_ : dict ``{comparison: ndarray of length L}``,
    lambda_ : float, prior match probability of a pair,
    weights_ : dict ``{comparison: ndarray}`` of ``log2(m/u)``, ``prior_weight_`` = log2 odds,
    fit_method_ : how m and lambda were obtained (``"em"``, ``"assignment"``, or, for a model
    built by :meth:`from_parameters`, what its maker recorded, e.g. ``"supervised"``),
    n_iter_, converged_ : the iterations the fit ran and whether it stopped because it converged
    (False: it stopped at ``max_iter``),
    log_likelihood_ (``"em"``: per iteration, observed data, natural log; empty for
    ``"assignment"``),
    swapped_ (True when EM, with u free, converged to the mirror solution and the classes were
    swapped back so that the match class is the one that agrees more),
    share_with_report_ (``"assignment"``: π, the share of residents whose report is among their
    candidates; None for ``"em"``),
    n_pairs_, n_patterns_, n_random_pairs_, u_source_.

    Why hand-written: recordlinkage's ECM classifier handles binary comparison vectors only, and
    splink's EM needs its own linker and SQL backend; kinmatch's comparisons are multi-level with
    explicit missing values, so the EM (a few dozen lines of numpy over distinct patterns) is
    written here and checked in the tests against a plain-loop reference and simulated data.

    Example::

        >>> import pandas as pd
        >>> vectors = pd.DataFrame({"name": [2, 2, 0, 0, 1, 0, 2, 0], "sex": [1, 1, 0, 1, 1, 0, 1, -1]})
        >>> model = FellegiSunter(u_fixed=False, max_iter=50).fit(vectors)
        >>> model.predict_proba(vectors).round(2).tolist()[:3]
        [1.0, 1.0, 0.0]
    """

    def __init__(self, levels=None, max_iter=100, tol=1e-6, lambda_init=None, m_init=None,
                 u_fixed=True, tf_columns=None, random_state=None, min_prob=1e-6,
                 m_fixed=None, level_labels=None, tf_levels=None, method="em", u_source="hybrid",
                 ordered=None, settings=None, dependence=None, prior="one_per_resident", posterior="pair",
                 m_estimate="em", em_restart=False):
        self.levels = levels
        self.max_iter = max_iter
        self.tol = tol
        self.lambda_init = lambda_init
        self.m_init = m_init
        self.u_fixed = u_fixed
        self.tf_columns = tf_columns
        self.random_state = random_state
        self.min_prob = min_prob
        self.m_fixed = m_fixed
        self.level_labels = level_labels
        self.tf_levels = tf_levels
        self.method = method
        self.u_source = u_source
        self.ordered = ordered
        self.settings = settings
        self.dependence = dependence
        self.prior = prior
        self.posterior = posterior
        self.m_estimate = m_estimate
        self.em_restart = em_restart

    # ---- u from random pairs ---------------------------------------------------------------

    def estimate_u(self, random_pairs_vectors: pd.DataFrame) -> "FellegiSunter":
        """Estimate u (level frequencies among non-matches) from random record pairs.

        Random pairs are almost all non-matches (a pair drawn at random is the same person with
        probability ~1/N), so their level frequencies estimate u without labels. Missing (-1)
        values are left out of each comparison's count. Returns ``self``; ``fit`` then keeps
        this u fixed when ``u_fixed=True``.

            >>> import pandas as pd
            >>> pairs = pd.DataFrame({"sex": [0, 1, 1, 0, -1]})
            >>> FellegiSunter().estimate_u(pairs).u_random_["sex"].round(3).tolist()
            [0.5, 0.5]
        """
        names = comparison_names(random_pairs_vectors, self.levels, self.tf_columns)
        matrix = level_matrix(random_pairs_vectors, names, self.levels)
        levels = self._resolve_levels(names, matrix)
        u, u_counts = {}, {}
        for j, name in enumerate(names):
            column = matrix[:, j]
            observed = column[column != MISSING]
            if len(observed) == 0:
                # Not fatal: fit() falls back to EM for this comparison's u and warns.
                continue
            u_counts[name] = np.bincount(observed, minlength=levels[name]).astype(float)
            u[name] = clip_normalise(u_counts[name] / u_counts[name].sum(), self.min_prob)
        self.u_random_ = u
        self.u_counts_ = u_counts
        self.n_random_pairs_ = int(len(random_pairs_vectors))
        self._random_levels = levels
        return self

    # ---- EM --------------------------------------------------------------------------------

    def fit(self, vectors: pd.DataFrame, u_vectors: pd.DataFrame | None = None,
            n_residents: int | None = None, n_reports: int | None = None) -> "FellegiSunter":
        """Fit m (per comparison and level), lambda and, unless fixed, u by EM (``method``).

        ``vectors`` are the candidate pairs' comparison vectors; ``u_vectors``, if given, are
        random pairs for :meth:`estimate_u`. A pair's missing (-1) comparison is marginalised
        out: it is skipped in both the E step (no factor) and the M step (no count).
        ``method="assignment"`` needs ``u_vectors``, the pairs indexed by ``(resident_id,
        missing_id)`` and ``n_residents`` (all residents linked, also those without candidates);
        ``n_reports`` (all reports) sets the prior of ``u_source="hybrid"``.
        """
        if self.method not in METHODS:
            raise InputError(f"method={self.method!r} is not one of {list(METHODS)}; use 'em' for pairs drawn "
                             f"independently or 'assignment' for candidates a blocking step selected.")
        if self.method == "assignment":
            return self._fit_assignment(vectors, u_vectors, n_residents, n_reports)
        if u_vectors is not None:
            self.estimate_u(u_vectors)
        names = comparison_names(vectors, self.levels, self.tf_columns)
        matrix = level_matrix(vectors, names, self.levels)
        levels = self._resolve_levels(names, matrix)
        if len(matrix) == 0:
            raise InputError("no candidate pairs to fit on; the comparison vectors are empty.")
        u_counts = getattr(self, "u_counts_", None)
        patterns, counts, _ = group_patterns(matrix)
        counts = counts.astype(float)

        lam = 0.1 if self.lambda_init is None else float(self.lambda_init)
        m = self._initial_m(names, levels)
        u, u_free, sources = {}, {}, set()
        for j, n in enumerate(names):
            if u_counts is not None and n in u_counts:
                u[n] = self._random_pair_u(n, levels[n])
                u_free[n] = not self.u_fixed
                sources.add("random_pairs" if self.u_fixed else "random_pairs+em")
                continue
            if u_counts is not None:
                warnings.warn(
                    f"comparison {n!r} is missing (-1) in every random pair, so its u is "
                    f"estimated by EM from the candidate pairs instead.", stacklevel=2)
            # Candidate pairs are still mostly non-matches: their level frequencies are a
            # sensible start for u.
            col = patterns[:, j]
            seen = col != MISSING
            freq = np.bincount(col[seen], weights=counts[seen], minlength=levels[n])
            u[n] = clip_normalise(freq / max(freq.sum(), 1.0), self.min_prob)
            u_free[n] = True
            sources.add("em")
        self.u_source_ = sources.pop() if len(sources) == 1 else "mixed"
        fixed = self._fixed_m(names, levels)
        for n in names:
            m[n] = self._apply_fixed(m[n], fixed.get(n))

        # Shift levels by one so that code 0 is "missing": a lookup table with a 0.0 in front
        # then adds nothing for missing values, and bincount's bin 0 collects (and drops) them,
        # with no masking inside the loop.
        codes = [np.ascontiguousarray(patterns[:, j] + 1) for j in range(len(names))]
        history = []
        converged = False
        n_iter = 0
        while n_iter < int(self.max_iter):
            n_iter += 1
            post, loglik = self._e_step(codes, counts, names, m, u, lam)
            history.append(loglik)
            match_weight = counts * post
            non_weight = counts - match_weight
            new_lam = float(np.clip(match_weight.sum() / counts.sum(),
                                    self.min_prob, 1 - self.min_prob))
            new_m, new_u = {}, {}
            change = abs(new_lam - lam)
            for j, n in enumerate(names):
                est_m = np.bincount(codes[j], weights=match_weight, minlength=levels[n] + 1)[1:]
                new_m[n] = self._apply_fixed(self._m_step(est_m), fixed.get(n))
                change = max(change, float(np.max(np.abs(new_m[n] - m[n]))))
                if u_free[n]:
                    est_u = np.bincount(codes[j], weights=non_weight, minlength=levels[n] + 1)[1:]
                    new_u[n] = self._m_step(est_u)
                    change = max(change, float(np.max(np.abs(new_u[n] - u[n]))))
                else:
                    new_u[n] = u[n]
            lam, m, u = new_lam, new_m, new_u
            if change < self.tol:
                converged = True
                break

        self.swapped_ = False
        if all(u_free.values()) and not fixed and self._agreement_gap(names, levels, m, u) < -1e-9:
            # A mixture of two classes is symmetric: EM (e.g. from a random start) can converge
            # to the mirror solution in which the "match" class is the one that disagrees.
            # Levels are ordered (higher = more agreement), so the class that agrees more is
            # the matches; swap the labels back.
            m, u, lam = u, m, 1.0 - lam
            self.swapped_ = True
        self.comparisons_ = names
        self.levels_ = levels
        self.m_ = self._ordered_m(names, m, u)
        self.u_ = u
        self.lambda_ = lam
        self.fit_method_ = "em"
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.log_likelihood_ = history
        self.share_with_report_ = None
        self.n_pairs_ = int(len(matrix))
        self.n_patterns_ = int(len(patterns))
        if u_counts is None:
            self.n_random_pairs_ = 0
        self.supervised_ = None
        self.calibration_ = None
        self._finish()
        return self

    def _fit_assignment(self, vectors: pd.DataFrame, u_vectors: pd.DataFrame | None, n_residents: int | None,
                        n_reports: int | None) -> "FellegiSunter":
        """``fit`` with ``method="assignment"`` (see the class docstring)."""
        for name in ("m_init", "m_fixed", "lambda_init"):
            if getattr(self, name) is not None:
                raise InputError(f"{name} is used by method='em' only; the assignment EM starts m rising with "
                                 f"the level and π at 0.5. Leave {name} unset or fit with method='em'.")
        if self.u_source not in U_SOURCES:
            raise InputError(f"u_source={self.u_source!r} is not one of {list(U_SOURCES)}")
        if u_vectors is None or n_residents is None:
            raise InputError("method='assignment' needs random pairs for u and the number of residents: "
                             "fit(vectors, u_vectors=random_pair_vectors, n_residents=...)")
        self.estimate_u(u_vectors)
        names = comparison_names(vectors, self.levels, self.tf_columns)
        # the EM's sorted pairs and level blocks made beside the checks below (a thread, when it pays)
        prepared = prepare_beside(vectors, names) if len(vectors) else None
        matrix = level_matrix(vectors, names, self.levels)
        levels = self._resolve_levels(names, matrix)
        if len(matrix) == 0:
            raise InputError("no candidate pairs to fit on; the comparison vectors are empty.")
        unobserved = [n for n in names if n not in self.u_counts_]
        if unobserved:
            raise InputError(f"comparison(s) {unobserved} are missing (-1) in every random pair, so the "
                             f"assignment EM has no u for them; leave them out of levels= or draw more random "
                             f"pairs.")
        if not _valid_m_estimate(self.m_estimate):
            raise InputError(f"m_estimate={self.m_estimate!r} is neither one of {list(M_ESTIMATES)} nor a list of "
                             f"comparison names")
        if self.dependence not in DEPENDENCE or self.prior not in PRIORS or self.posterior not in POSTERIORS:
            raise InputError(f"dependence={self.dependence!r} / prior={self.prior!r} / posterior={self.posterior!r}: "
                             f"use dependence in {list(DEPENDENCE)}, prior in {list(PRIORS)} and posterior in "
                             f"{list(POSTERIORS)}")
        u_random = {n: self._random_pair_u(n, levels[n]) for n in names}
        dependent = [n for n in names if n not in (self.tf_columns or {})]
        columns = [names.index(n) for n in dependent]
        offset = None
        self.dependence_ = {}
        if self.dependence == "pairwise":
            # inside the EM, the lifts among the candidates (the EM's u is theirs); for scoring,
            # among random pairs (the u scored against is theirs)
            candidate_lifts = pairwise_lifts(matrix[:, columns], dependent, levels)
            offset = interaction_weight(matrix[:, columns], dependent, candidate_lifts) * math.log(2)
            self.dependence_ = pairwise_lifts(level_matrix(u_vectors, dependent, levels), dependent, levels)
        elif self.dependence == "tree":
            self.dependence_ = tree_lifts(level_matrix(u_vectors, dependent, levels), dependent, levels)
        em = fit_assignment_em_restarted if self.em_restart else fit_assignment_em
        fit = em(vectors, u_random, n_residents, max_iter=self.max_iter, tol=self.tol, min_prob=self.min_prob,
                 estimate_u=self.u_source in ("candidates", "hybrid"), offset=offset, prepared=prepared)
        self.em_start_, self.em_log_likelihood_ = fit.start, fit.log_likelihood
        if self.m_estimate != "em":
            chosen = None if self.m_estimate == "held_out" else [n for n in self.m_estimate if n in names]
            fit = fit._replace(m=held_out_m(matrix, names, fit.m, fit.u, fit.pi, _resident_codes(vectors.index),
                                            self.min_prob, offset=offset, comparisons=chosen))
        u = u_random if self.u_source == "hybrid" else fit.u
        self.expected_true_pairs_ = None
        if self.prior == "every_pair":
            log_ratio = np.zeros(len(matrix)) if offset is None else offset.copy()
            for j, n in enumerate(names):
                log_ratio += np.r_[0.0, np.log(fit.m[n]) - np.log(fit.u[n])][matrix[:, j] + 1]
            self.expected_true_pairs_ = candidate_match_share(log_ratio) * len(matrix)
            matched = self.expected_true_pairs_ / max(n_residents, 1)  # true pairs per resident
        else:
            matched = fit.pi
        if self.u_source == "hybrid" and n_reports:
            # scored against random pairs, a pair's prior is that of any pair: (true pairs per
            # resident) / (number of reports)
            per_resident = float(n_reports)
        else:
            per_resident = len(vectors) / max(vectors.index.get_level_values(0).nunique(), 1)
        self.swapped_ = False
        self.comparisons_ = names
        self.levels_ = levels
        self.m_ = self._ordered_m(names, fit.m, u)
        self.u_ = u
        self.lambda_ = min(matched / max(per_resident, 1.0), 1 - self.min_prob)
        self.fit_method_ = "assignment"
        self.n_iter_ = fit.n_iter
        self.converged_ = fit.converged
        self.log_likelihood_ = []
        self.share_with_report_ = fit.pi
        self.n_pairs_ = int(len(matrix))
        # the EM's blocks counted the distinct rows already when the levels are integers as they are
        integer = all(vectors[n].dtype.kind in "iu" for n in names)
        self.n_patterns_ = fit.n_patterns if integer and fit.n_patterns is not None else \
            int(len(group_patterns(matrix)[0]))
        self.u_source_ = "candidates" if self.u_source == "candidates" else "random_pairs"
        self.supervised_ = None
        self.calibration_ = None
        self._finish()
        self.report_shares_, self.n_reports_ = None, None
        if self.posterior in ("person", "person_em"):
            # the shares of residents with 0..MAX_REPORTS true reports among their candidates, on the
            # candidates' own Bayes factors (the weights without the prior)
            self.n_reports_ = int(n_reports) if n_reports else len(vectors)
            codes = _resident_codes(vectors.index)
            bayes = self.weight_table(vectors).to_numpy().sum(axis=1)
            shares, _ = fit_report_shares(codes, bayes, self.n_reports_, n_residents, MAX_REPORTS)
            if self.posterior == "person_em":
                shares = self._person_em(vectors, matrix, codes, shares, n_residents)
            self.report_shares_ = [float(v) for v in shares]
        return self

    def _person_em(self, vectors: pd.DataFrame, matrix: np.ndarray, codes: np.ndarray, shares: np.ndarray,
                   n_residents: int) -> np.ndarray:
        """``posterior="person_em"``: m refitted by EM whose E step is the person posterior (u, the
        prior weight and the dependence tables kept); returns the shares of the last E step and
        records ``n_iter_``/``converged_`` of this EM (the assignment EM's are in
        ``assignment_n_iter_``). The M step is the assignment EM's: expected counts per level plus a
        weak prior rising with the level worth 5 % of the expected matches, clipped, and the
        ordered comparisons kept monotone."""
        self.assignment_n_iter_ = self.n_iter_
        names = self.comparisons_
        prior_m = {n: np.exp2(np.arange(self.levels_[n], dtype=float)) for n in names}
        prior_m = {n: v / v.sum() for n, v in prior_m.items()}
        ordered = set(self.ordered or ())
        n_iter, converged = 0, False
        while n_iter < int(self.max_iter):
            n_iter += 1
            bayes = self.weight_table(vectors).to_numpy().sum(axis=1)
            shares, _ = fit_report_shares(codes, bayes, self.n_reports_, n_residents, MAX_REPORTS)
            post = resident_posterior(codes, bayes, self.n_reports_, shares)
            strength = max(2.0, 0.05 * float(post.sum()))
            change, new_m = 0.0, {}
            for j, n in enumerate(names):
                column = matrix[:, j]
                seen = column >= 0
                counts = np.bincount(column[seen], weights=post[seen], minlength=self.levels_[n])
                counts = counts + strength * prior_m[n]
                m = clip_normalise(counts / counts.sum(), self.min_prob)
                new_m[n] = monotone_m(m, self.u_[n]) if n in ordered else m
                change = max(change, float(np.max(np.abs(new_m[n] - self.m_[n]))))
            self.m_ = new_m
            self._finish()
            if change < self.tol:
                converged = True
                break
        self.n_iter_, self.converged_ = n_iter, converged
        bayes = self.weight_table(vectors).to_numpy().sum(axis=1)
        return fit_report_shares(codes, bayes, self.n_reports_, n_residents, MAX_REPORTS)[0]

    def _random_pair_u(self, name: str, n_levels: int) -> np.ndarray:
        """u of one comparison from the random pairs' level counts. A level never seen among them
        (e.g. only candidates reach it) has u ~ 0: the counts are padded with zeros, then
        clipped."""
        padded = np.zeros(n_levels)
        padded[:len(self.u_counts_[name])] = self.u_counts_[name][:n_levels]
        return clip_normalise(padded / padded.sum(), self.min_prob)

    def _ordered_m(self, names: Sequence[str], m: dict, u: dict) -> dict[str, np.ndarray]:
        """m with :func:`monotone_m` applied to the comparisons of ``ordered``."""
        ordered = list(self.ordered or ())
        unknown = [n for n in ordered if n not in names]
        if unknown:
            raise InputError(f"ordered names comparison(s) {unknown} that are not among {list(names)}")
        return {n: monotone_m(m[n], u[n]) if n in ordered else m[n] for n in names}

    @staticmethod
    def _agreement_gap(names, levels, m, u) -> float:
        """Mean over comparisons of E[level | match] - E[level | non-match], levels scaled 0..1."""
        gaps = []
        for n in names:
            scale = np.arange(levels[n]) / (levels[n] - 1)
            gaps.append(float(np.dot(m[n], scale) - np.dot(u[n], scale)))
        return float(np.mean(gaps))

    def _m_step(self, expected_counts: np.ndarray) -> np.ndarray:
        total = expected_counts.sum()
        if total <= 0:  # comparison never observed: no information, uniform
            return np.full(len(expected_counts), 1.0 / len(expected_counts))
        return clip_normalise(expected_counts / total, self.min_prob)

    def _e_step(self, codes, counts, names, m, u, lam):
        """Posterior match probability of each pattern and the observed-data log-likelihood.

        ``codes`` are the patterns' levels plus one (0 = missing, which adds log 1 = 0).
        """
        log_match = np.full(len(counts), math.log(lam))
        log_non = np.full(len(counts), math.log(1 - lam))
        for j, n in enumerate(names):
            log_match += np.concatenate(([0.0], np.log(m[n])))[codes[j]]
            log_non += np.concatenate(([0.0], np.log(u[n])))[codes[j]]
        log_total = np.logaddexp(log_match, log_non)
        post = np.exp(log_match - log_total)
        return post, float(np.dot(counts, log_total))

    def _initial_m(self, names, levels) -> dict[str, np.ndarray]:
        if isinstance(self.m_init, str):
            if self.m_init != "random":
                raise InputError(f"m_init={self.m_init!r} is not understood; pass a dict of "
                                 f"per-level m values, 'random', or None.")
            rng = np.random.default_rng(self.random_state)
            return {n: clip_normalise(rng.dirichlet(np.ones(levels[n])), self.min_prob)
                    for n in names}
        m = {}
        given = self.m_init or {}
        for n in names:
            if n in given:
                start = np.asarray(given[n], dtype=float)
                if start.shape != (levels[n],) or np.any(start < 0) or start.sum() <= 0:
                    raise InputError(
                        f"m_init[{n!r}] must be {levels[n]} non-negative numbers (one per level), "
                        f"got {list(given[n])}."
                    )
            else:
                start = np.exp2(np.arange(levels[n], dtype=float))
            m[n] = clip_normalise(start / start.sum(), self.min_prob)
        return m

    def _fixed_m(self, names, levels) -> dict[str, dict[int, float]]:
        fixed = {}
        for n, pins in (self.m_fixed or {}).items():
            if n not in names:
                raise InputError(f"m_fixed names comparison {n!r}, which is not among {names}.")
            pins = {int(k): float(v) for k, v in pins.items()}
            if any(not 0 <= k < levels[n] for k in pins) or sum(pins.values()) > 1 + 1e-12:
                raise InputError(
                    f"m_fixed[{n!r}] = {pins} must pin levels 0..{levels[n] - 1} with values "
                    f"summing to at most 1."
                )
            fixed[n] = pins
        return fixed

    def _apply_fixed(self, probs: np.ndarray, pins: dict[int, float] | None) -> np.ndarray:
        if not pins:
            return probs
        probs = probs.copy()
        free = np.array([k not in pins for k in range(len(probs))])
        rest = 1.0 - sum(pins.values())
        if free.any():
            mass = probs[free].sum()
            probs[free] = rest * (probs[free] / mass if mass > 0 else 1.0 / free.sum())
        for k, v in pins.items():
            probs[k] = v
        return probs

    def _resolve_levels(self, names, matrix) -> dict[str, int]:
        if self.levels:
            return {n: int(self.levels[n]) for n in names}
        inferred = {}
        random_levels = getattr(self, "_random_levels", {}) or {}
        for j, n in enumerate(names):
            top = int(matrix[:, j].max()) + 1 if len(matrix) else 1
            inferred[n] = max(top, 2, random_levels.get(n, 0))
        return inferred

    def _finish(self):
        """Derive weights from m and u (used by fit and from_parameters, so a fitted and a loaded
        model score identically)."""
        self.weights_ = {n: np.log2(self.m_[n]) - np.log2(self.u_[n]) for n in self.comparisons_}
        self.prior_weight_ = math.log2(self.lambda_) - math.log2(1 - self.lambda_)
        tf_levels = {}
        for n in (self.tf_columns or {}):
            given = (self.tf_levels or {}).get(n)
            tf_levels[n] = [int(x) for x in given] if given is not None else [self.levels_[n] - 1]
        self.tf_levels_ = tf_levels

    # ---- scoring ---------------------------------------------------------------------------

    def _check_fitted(self):
        if not hasattr(self, "m_"):
            raise ModelNotFittedError(
                "this FellegiSunter model is not fitted yet; call fit(vectors) or load one with "
                "FellegiSunter.from_json(path) before scoring."
            )

    def weight_table(self, vectors: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
        """Per-pair partial weights ``log2(m/u)``, one column per comparison, 0 where missing.

        Term-frequency adjusted where ``tf_columns`` says so (see the class docstring). Rows sum,
        with ``prior_weight_``, to :meth:`match_weight`. ``prefix="w_"`` gives the linking
        output's column names.
        """
        self._check_fitted()
        matrix = level_matrix(vectors, self.comparisons_, self.levels_)
        table = {}
        for j, n in enumerate(self.comparisons_):
            col = matrix[:, j]
            weight = np.r_[0.0, self.weights_[n]][col + 1]  # a missing level (-1) weighs 0
            tf_col = (self.tf_columns or {}).get(n)
            if tf_col is not None:
                if tf_col not in vectors.columns:
                    raise InputError(
                        f"term-frequency column {tf_col!r} for comparison {n!r} is not in the "
                        f"vectors; add it (the frequency of the shared value) or refit without "
                        f"tf_columns."
                    )
                tf = pd.to_numeric(vectors[tf_col], errors="coerce").to_numpy(dtype=float)
                use = np.isin(col, self.tf_levels_[n]) & np.isfinite(tf) & (tf > 0)
                tf_u = np.clip(np.where(use, tf, 0.5), self.min_prob, 1 - self.min_prob)
                weight = np.where(use, np.log2(self.m_[n][np.maximum(col, 0)]) - np.log2(tf_u), weight)
            table[prefix + n] = weight
        lifts = getattr(self, "dependence_", None)
        if lifts:
            correction = interaction_by_comparison(matrix, self.comparisons_, lifts)
            for j, n in enumerate(self.comparisons_):
                table[prefix + n] = table[prefix + n] + correction[:, j]
        return pd.DataFrame(table, index=vectors.index)

    def match_weight(self, vectors: pd.DataFrame) -> pd.Series:
        """log2 Bayes factor plus prior: ``log2(lambda/(1-lambda)) + sum of partial weights``."""
        total = self.weight_table(vectors).to_numpy().sum(axis=1) + self.prior_weight_
        return pd.Series(total, index=vectors.index, name="match_weight")

    def predict_proba(self, vectors: pd.DataFrame) -> pd.Series:
        """Match probability of each pair: ``2**w / (1 + 2**w)`` of its match weight, or the
        studio's calibration of it (:meth:`calibrate`)."""
        weight = self.match_weight(vectors)
        return pd.Series(self.probability_of_weight(weight.to_numpy()), index=vectors.index,
                         name="match_probability")

    def probability_of_weight(self, match_weight: Any) -> np.ndarray:
        """The probability of match weights (log2 odds): ``2**w / (1 + 2**w)``, or, after
        :meth:`calibrate`, the monotone map learnt from the studio's decisions."""
        calibration = getattr(self, "calibration_", None)
        if calibration is not None:
            return calibration.probability(match_weight)
        return proba_from_weight(np.asarray(match_weight, dtype=float))

    def calibrate(self, match_weight: Any, labels: Any, method: str = "sigmoid") -> "FellegiSunter":
        """Recalibrate the probabilities from decided pairs: ``match_weight`` of each pair as
        this model scored it, ``labels`` 1 (同一人) or 0 (非同一人). With enough decisions
        (:func:`~kinmatch.match.model.calibration.enough_decisions`) a monotone map from weight
        to probability (``method``: ``"sigmoid"`` or ``"isotonic"``, see
        :mod:`~kinmatch.match.model.calibration`) becomes ``calibration_``, and every probability
        this model gives (also in ``kinmatch link --model`` and its JSON) goes through it; weights
        and ranking do not change. With too few, the model is left as it is and a warning says why. Returns self.

            >>> import numpy as np
            >>> model = FellegiSunter.from_parameters({"sex": [0.05, 0.95]}, {"sex": [0.5, 0.5]}, 0.01)
            >>> model.calibrate(np.linspace(-8, 8, 300), np.arange(300) % 2).calibration_.n_pairs
            300
        """
        self._check_fitted()
        if not enough_decisions(labels):
            warnings.warn(shortfall(labels), stacklevel=2)
            return self
        self.calibration_ = WeightCalibration.fit(match_weight, labels, method)
        return self

    def person_probability(self, match_weight: Any, pairs: Any) -> np.ndarray:
        """With ``posterior="person"`` (or ``"person_em"``): each pair's probability given all the
        candidates of its resident (:func:`~kinmatch.match.model.posterior.resident_posterior` with
        ``report_shares_``); ``match_weight`` the pairs' match weights, ``pairs`` their
        ``(resident_id, missing_id)`` index (or the resident of each pair). Every candidate of a
        resident must be among them. Otherwise, and for a model without shares, the pair's own
        probability (:meth:`probability_of_weight`).

            >>> model = FellegiSunter.from_parameters({"sex": [0.05, 0.95]}, {"sex": [0.5, 0.5]}, 1e-4,
            ...                                       fitted_on={"report_shares": [0.5, 0.5], "n_reports": 10_000},
            ...                                       posterior="person")
            >>> model.person_probability(np.array([0.0, 0.0]), ["R1", "R1"]).round(2).tolist()
            [0.33, 0.33]
        """
        weight = np.asarray(match_weight, dtype=float)
        shares = getattr(self, "report_shares_", None)
        if self.posterior not in ("person", "person_em") or not shares:
            return self.probability_of_weight(weight)
        codes = _resident_codes(pairs)
        return resident_posterior(codes, weight - self.prior_weight_, int(self.n_reports_), np.asarray(shares))

    def predict(self, vectors: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
        """True for pairs whose match probability is at least ``threshold``."""
        return (self.predict_proba(vectors) >= threshold).rename("is_match")

    def parameter_table(self) -> pd.DataFrame:
        """One row per comparison level: label, m, u and weight, for audits and charts."""
        self._check_fitted()
        rows = []
        for n in self.comparisons_:
            for k in range(self.levels_[n]):
                rows.append({"comparison": n, "level": k, "label": self.level_label(n, k),
                             "m": self.m_[n][k], "u": self.u_[n][k],
                             "weight": self.weights_[n][k]})
        return pd.DataFrame(rows)

    # (issue 16) a fitted model's repr opens with the readable table, not the parameter dump
    def _summary_line(self) -> str:
        line = (f"FellegiSunter: {len(self.comparisons_)} comparisons, prior match probability λ = {self.lambda_:.3g} "
                f"(prior weight {self.prior_weight_:+.2f}), u from {getattr(self, 'u_source_', None) or '?'}")
        if getattr(self, "n_iter_", None) is not None:
            outcome = "converged" if self.converged_ else "stopped at max_iter, not converged"
            line += f", fitted by {self.fit_method_} in {self.n_iter_} iterations ({outcome})"
        elif getattr(self, "fit_method_", None):
            line += f", fitted by {self.fit_method_}"
        return line

    def _short_params(self) -> str:
        """The constructor parameters that differ from the defaults, long ones summarised."""
        text = super().__repr__()
        if len(text) <= 300:
            return text
        shown = []
        for name in ("method", "u_source", "max_iter", "tol", "min_prob"):
            shown.append(f"{name}={getattr(self, name)!r}")
        for name in ("levels", "ordered", "tf_columns", "level_labels", "m_fixed"):
            value = getattr(self, name)
            if value:
                shown.append(f"{name}=<{len(value)} comparisons>")
        if self.settings:
            shown.append(f"settings=<{len((self.settings or {}).get('comparisons', []))} comparisons; model.settings>")
        return f"{type(self).__name__}({', '.join(shown)})"

    def readable_table(self) -> pd.DataFrame:
        """:meth:`parameter_table` with levels that share a weight shown once (:func:`pooled_levels`)."""
        return pooled_levels(self.parameter_table())

    def __repr__(self) -> str:
        if not hasattr(self, "m_"):
            return self._short_params()
        table = self.readable_table()
        shown = table.assign(levels=[("–".join(map(str, (lv[0], lv[-1]))) if len(lv) > 1 else str(lv[0]))
                                     for lv in table["levels"]],
                             label=[label + (" *" if pooled else "") for label, pooled in
                                    zip(table["label"], table["pooled"])])
        text = shown.drop(columns="pooled").to_string(index=False, float_format=lambda v: f"{v:.4g}")
        note = f"\n* {POOLED_NOTE}" if table["pooled"].any() else ""
        return f"{self._summary_line()}\n{text}{note}\n{self._short_params()}"

    def _repr_html_(self) -> str:
        """In a notebook: the prior and every level's m, u and weight (levels pooled to one weight
        shown once, with the reason), then the parameters, so the weights staff see in
        explanations can be traced to their source."""
        import html

        head = f"<p><code>{html.escape(self._short_params())}</code></p>"
        if not hasattr(self, "m_"):
            return head + "<p>not fitted</p>"
        table = self.readable_table()
        note = f"<p>* {html.escape(POOLED_NOTE)}</p>" if table["pooled"].any() else ""
        table = table.assign(label=[label + (" *" if pooled else "") for label, pooled in
                                    zip(table["label"], table["pooled"])]).drop(columns="pooled")
        body = table.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<p>{html.escape(self._summary_line())}</p>" + body + note + head

    def level_label(self, name: str, level: int) -> str | None:
        """The readable label of one level of a comparison (``level_labels``), or None."""
        labels = (self.level_labels or {}).get(name)
        if labels is None:
            return None
        if isinstance(labels, Mapping):
            label = labels.get(level, labels.get(str(level)))
        else:
            label = labels[level] if 0 <= level < len(labels) else None
        return None if label is None else str(label)

    # ---- the data a model may score ---------------------------------------------------------

    def check_compatible(self, comparisons: Mapping[str, Mapping[int, str]]) -> None:
        """Raise :class:`ModelMismatchError` unless the data about to be scored have the
        comparisons and levels the model was fitted on.

        ``comparisons`` maps each comparison of the data to its levels, ``{level: label}``
        (``-1``, missing, may be included; it is not counted as a level). Compared: the
        comparison names and the number of levels of each; and, when the model carries
        ``settings`` (models saved before settings existed do not), the label of every level
        both sides label. The error names each difference.

            >>> from kinmatch.match.model import ModelMismatchError
            >>> model = FellegiSunter.from_parameters({"sex": [0.05, 0.95]}, {"sex": [0.5, 0.5]}, 0.01,
            ...                                       level_labels={"sex": ["性别不符", "性别相符"]}, settings={})
            >>> model.check_compatible({"sex": {0: "性别不符", 1: "性别相符"}})
            >>> try:  # doctest: +NORMALIZE_WHITESPACE
            ...     model.check_compatible({"sex": {0: "性别不符", 1: "性别相符", 2: "性别不详"}})
            ... except ModelMismatchError as error:
            ...     print(error)
            the model does not fit these data: the model was fitted with 2 levels of 'sex' (0 性别不符,
            1 性别相符), these data have 3 (0 性别不符, 1 性别相符, 2 性别不详); refit the model (kinmatch link
            without --model) or use a model saved by this kinmatch version
        """
        self._check_fitted()
        declared = None
        if isinstance(self.settings, Mapping) and self.settings.get("format") == "kinmatch.LinkSettings":
            declared = self.settings.get("comparisons")
        if declared:
            # the settings list every comparison of the run, also those the fit left out for lack
            # of evidence (weight 0): the data must have exactly those, with the same labels
            levels = {c["name"]: sum(1 for level in c["levels"] if int(level) != MISSING) for c in declared}
            labels = {c["name"]: {int(level): label for level, label in c["levels"].items()} for c in declared}
            check_levels(levels, labels, comparisons)
            return
        labels = None
        if self.settings is not None:
            labels = {name: {level: self.level_label(name, level) for level in range(MISSING, self.levels_[name])}
                      for name in self.comparisons_}
            check_levels(self.levels_, labels, comparisons)
            return
        # a model saved without settings: the comparisons it was fitted on must be there alike;
        # others the data have weigh 0, as they did when the model left them out
        check_levels(self.levels_, None, {name: levels for name, levels in comparisons.items()
                                           if name in self.levels_})

    # ---- building and saving ----------------------------------------------------------------

    @classmethod
    def from_parameters(cls, m: Mapping[str, Sequence[float]], u: Mapping[str, Sequence[float]], lambda_: float,
                        fitted_on: Mapping[str, Any] | None = None, supervised: Mapping[str, Any] | None = None,
                        dependence_tables: Mapping[tuple[str, str], Sequence[Sequence[float]]] | None = None,
                        calibration: Mapping[str, Any] | None = None, **params: Any) -> "FellegiSunter":
        """A fitted model with the given m, u (per comparison, one value per level) and prior
        match probability, without fitting: a model read from JSON, or weights learnt by another
        estimator (the supervised model of ``kinmatch train``).

        ``fitted_on`` records how the parameters were obtained, with the keys of the JSON's
        ``"fitted_on"`` (``method``, ``n_pairs``, ``n_iter``, ``converged``, ``u_source``, ...;
        absent keys are None); ``supervised`` describes a supervised fit (written to the JSON as
        is); ``dependence_tables`` gives the two-way lifts ``{(a, b): table}`` of the correction for
        dependence (see ``dependence_``); ``calibration`` the map of :meth:`calibrate` as its JSON
        data; ``params`` are constructor arguments.

            >>> model = FellegiSunter.from_parameters({"sex": [0.05, 0.95]}, {"sex": [0.5, 0.5]}, 0.01)
            >>> model.weights_["sex"].round(2).tolist(), model.n_iter_
            ([-3.32, 0.93], None)
        """
        model = cls(**params)
        names = list(m)
        if set(u) != set(names):
            raise InputError(f"m names comparisons {names} but u names {list(u)}; give both for the same "
                             f"comparisons")
        for name in names:
            if len(m[name]) != len(u[name]) or (model.levels and int(model.levels[name]) != len(m[name])):
                raise InputError(f"comparison {name!r} has {len(m[name])} m values and {len(u[name])} u values"
                                 + (f" for {model.levels[name]} levels" if model.levels else "")
                                 + "; give one m and one u per level")
        model.comparisons_ = names
        model.levels_ = {name: len(m[name]) for name in names}
        model.m_ = {name: np.asarray(m[name], dtype=float) for name in names}
        model.u_ = {name: np.asarray(u[name], dtype=float) for name in names}
        model.lambda_ = float(lambda_)
        for key, attribute in io.FITTED_ON.items():
            setattr(model, attribute, (fitted_on or {}).get(key))
        # the person posterior's shares (posterior="person"), written apart in the JSON
        model.report_shares_ = (fitted_on or {}).get("report_shares")
        model.n_reports_ = (fitted_on or {}).get("n_reports")
        model.supervised_ = None if supervised is None else dict(supervised)
        model.calibration_ = None if calibration is None else WeightCalibration.from_dict(calibration)
        model.dependence_ = {}
        for (a, b), table in (dependence_tables or {}).items():
            table = np.asarray(table, dtype=float)
            if a not in model.levels_ or b not in model.levels_ or table.shape != (model.levels_[a], model.levels_[b]):
                raise InputError(f"the dependence table of {a!r} x {b!r} has shape {table.shape}, not the levels "
                                 f"of those comparisons; give one lift per pair of their levels")
            model.dependence_[(a, b)] = table
        model._finish()
        return model

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain JSON-ready data (see :meth:`to_json`)."""
        self._check_fitted()
        return io.model_to_dict(self)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """Readable JSON: per comparison, per level ``m``, ``u``, ``weight`` and ``label``, how
        the model was fitted (``"fitted_on"``: method, iterations, convergence) and its
        ``"settings"``; see :func:`kinmatch.match.model.io.write_model`.

        Written atomically when ``path`` is given; the text is returned either way. Never pickle:
        an auditor can read (and diff) these tables. Floats are written with full precision, so
        :meth:`from_json` gives identical scores.

            >>> import pandas as pd
            >>> m = FellegiSunter(u_fixed=False).fit(pd.DataFrame({"sex": [1, 1, 0, 1, 0, 0]}))
            >>> FellegiSunter.from_json(m.to_json()).lambda_ == m.lambda_
            True
        """
        self._check_fitted()
        return io.write_model(self, path)

    @classmethod
    def from_json(cls, path_or_str: str | os.PathLike) -> "FellegiSunter":
        """Load a model saved by :meth:`to_json` (a path or the JSON text itself)."""
        record = io.read_model(path_or_str)
        return cls.from_parameters(record.m, record.u, record.lambda_, fitted_on=record.fitted_on,
                                   supervised=record.supervised, dependence_tables=record.dependence_tables,
                                   calibration=record.calibration, **record.params)

