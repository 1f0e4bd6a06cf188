"""The probabilistic core: multi-level Fellegi–Sunter fitted by EM, and a supervised alternative.

Both models read the same **comparison vectors**: a DataFrame indexed by ``(resident_id,
missing_id)`` (any index works and is kept), one integer column per comparison whose values are
agreement levels ``0..L-1`` (0 = different, higher = stronger agreement) or ``-1`` for *missing / no
evidence*. A ``-1`` adds exactly zero weight and is skipped by EM for that comparison.

Both give the same scoring interface, so the ranking stage and the studio can swap them:

- ``match_weight(vectors)``: log2 Bayes factor / log2 odds (a float Series),
- ``predict_proba(vectors)``: match probability ``2**w / (1 + 2**w)``,
- ``weight_table(vectors)``: one column per comparison, the per-pair partial weight,
- ``predict(vectors, threshold=0.5)``: a boolean Series.

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

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import inspect

import numpy as np
import pandas as pd

from kinmatch._io import atomic_write
from kinmatch.errors import InputError, KinmatchError

__all__ = [
    "FellegiSunter",
    "SupervisedLinker",
    "ModelNotFittedError",
    "evaluate_scores",
    "MISSING",
]

MISSING = -1
"""The level that means "no evidence": it adds zero weight and EM skips it."""

JSON_FORMAT = "kinmatch.FellegiSunter"
JSON_VERSION = 1


class ModelNotFittedError(KinmatchError, ValueError, AttributeError):
    """A model was asked to score before it was fitted (or loaded from JSON). Same bases as
    scikit-learn's ``NotFittedError`` (ValueError, AttributeError), without importing it."""


class _Params:
    """``get_params`` / ``set_params`` and the parameter ``repr`` of scikit-learn estimators,
    following its estimator API, so :func:`sklearn.base.clone`, pipelines and grid searches take
    these models as they take any estimator.

    Why not ``sklearn.base.BaseEstimator``: importing scikit-learn (scipy.stats comes with it)
    takes ~0.6 s, a fifth of ``kinmatch link`` on 2,000 × 20,000, and scoring needs nothing else
    from it; scikit-learn is imported where it is used (the supervised model, the metrics)."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values()
                      if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters (and, with ``deep``, a nested estimator's as
        ``estimator__param``)."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{key}", v) for key, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any):
        """Set constructor parameters (``estimator__param`` reaches a nested estimator);
        returns self."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid "
                                 f"parameters are {sorted(self._get_param_names())}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        # only the parameters that differ from the defaults, as scikit-learn prints them
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name)
            default = defaults.get(name, inspect.Parameter.empty)
            same = value is default or (type(value) is type(default) and _equal_param(value, default))
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def _equal_param(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays
        return False


# --------------------------------------------------------------------------------------------
# Reading and checking comparison vectors
# --------------------------------------------------------------------------------------------


def _comparison_names(vectors: pd.DataFrame, levels: Mapping[str, int] | None,
                      tf_columns: Mapping[str, str] | None) -> list[str]:
    """Which columns are comparisons: the keys of ``levels`` if given, else every other column."""
    if not isinstance(vectors, pd.DataFrame):
        raise InputError(
            f"comparison vectors must be a pandas DataFrame (one integer column per comparison), "
            f"got {type(vectors).__name__}; build them with kinmatch.match.comparisons or wrap "
            f"your array in pd.DataFrame(array, columns=[...])."
        )
    if levels:
        return list(levels)
    tf_cols = set((tf_columns or {}).values())
    names = [c for c in vectors.columns if c not in tf_cols]
    if not names:
        raise InputError(
            "the comparison vectors have no comparison columns; pass a frame with one integer "
            "column per comparison (values 0..L-1, -1 for missing)."
        )
    return names


def _level_matrix(vectors: pd.DataFrame, names: Sequence[str],
                  levels: Mapping[str, int] | None = None) -> np.ndarray:
    """The comparison columns as an integer matrix (int16: levels are small, and a pair table
    has hundreds of thousands of rows); NaN becomes -1 (missing). Checks the range."""
    absent = [n for n in names if n not in vectors.columns]
    if absent:
        raise InputError(
            f"comparison vectors have no column(s) {absent}; the model uses comparisons "
            f"{list(names)}. Compute the same comparisons for these pairs before scoring."
        )
    # column-major: it is filled, and mostly read, one comparison at a time
    out = np.empty((len(vectors), len(names)), dtype=np.int16, order="F")
    for j, name in enumerate(names):
        column = vectors[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            raise InputError(
                f"comparison column {name!r} has dtype {column.dtype}, not integer levels; "
                f"levels must be 0..L-1 (or -1 for missing). If {name!r} is not a comparison, "
                f"pass levels={{...}} naming only the comparison columns."
            )
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
            ints = column.to_numpy().astype(np.int64)  # plain integers: nothing to coerce or round
        else:
            values = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
            values = np.where(np.isnan(values), MISSING, values)
            if len(values) and not np.all(values == np.round(values)):
                bad = values[values != np.round(values)][0]
                raise InputError(
                    f"comparison column {name!r} holds {bad!r}, not an integer level; map similarity "
                    f"scores to levels (e.g. np.digitize) before fitting."
                )
            ints = values.astype(np.int64)
        if len(ints) and ints.min() < MISSING:
            raise InputError(
                f"comparison column {name!r} holds level {ints.min()}; levels run from 0 "
                f"(different) up, and -1 means missing. Fix the comparison's level mapping."
            )
        if len(ints) and ints.max() > np.iinfo(out.dtype).max:
            raise InputError(f"comparison column {name!r} holds level {ints.max()}; levels are small "
                             f"integers (0..L-1). Map the values to levels before fitting.")
        if levels is not None and len(ints) and ints.max() >= levels[name]:
            raise InputError(
                f"comparison column {name!r} holds level {ints.max()} but the model knows "
                f"{levels[name]} levels (0..{levels[name] - 1}); refit the model on data with "
                f"this level or pass levels={{{name!r}: {ints.max() + 1}}}."
            )
        out[:, j] = ints
    return out


def _group_patterns(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows, their counts, and each row's pattern number.

    Millions of pairs have only a few hundred distinct level patterns, so EM runs over patterns
    weighted by counts. Rows are packed into one int64 (mixed radix) when that fits, which makes
    ``np.unique`` a fast 1-D sort instead of a row-wise lexicographic one.
    """
    if matrix.shape[0] == 0:
        return matrix.copy(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    radices = matrix.max(axis=0).astype(np.int64) + 2  # levels -1..L-1 -> digits 0..L
    if np.sum(np.log2(radices.astype(float))) < 62:
        multipliers = np.ones(len(radices), dtype=np.int64)
        for j in range(len(radices) - 2, -1, -1):
            multipliers[j] = multipliers[j + 1] * radices[j + 1]
        codes = np.zeros(matrix.shape[0], dtype=np.int64)
        for j in range(len(radices)):  # column by column: numpy has no fast integer matrix product
            codes += (matrix[:, j].astype(np.int64) + 1) * multipliers[j]
        # Hash-based factorize is O(n); np.unique would sort all n codes.
        inverse, unique_codes = pd.factorize(codes, sort=False)
        counts = np.bincount(inverse, minlength=len(unique_codes))
        patterns = np.empty((len(unique_codes), matrix.shape[1]), dtype=np.int64, order="F")
        rest = np.asarray(unique_codes, dtype=np.int64)
        for j in range(len(radices) - 1, -1, -1):
            rest, digit = np.divmod(rest, radices[j])
            patterns[:, j] = digit - 1
        return patterns, counts, inverse.astype(np.int64)
    patterns, inverse, counts = np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
    return patterns, counts, inverse.ravel()


def _clip_normalise(probs: np.ndarray, min_prob: float) -> np.ndarray:
    """Keep every probability inside [min_prob, 1-min_prob] and summing to one.

    A level never seen among matches (or non-matches) would otherwise get m=0 (or u=0) and an
    infinite weight; one unlucky pair would then decide a ranking.
    """
    probs = np.clip(probs, min_prob, 1.0 - min_prob)
    return probs / probs.sum()


def _log2_odds(proba: np.ndarray, min_prob: float) -> np.ndarray:
    proba = np.clip(proba, min_prob, 1.0 - min_prob)
    return np.log2(proba) - np.log2(1.0 - proba)


def _proba_from_weight(weight: np.ndarray) -> np.ndarray:
    # 2^w / (1 + 2^w) written as 1 / (1 + 2^-w), which does not overflow for large w.
    return 1.0 / (1.0 + np.exp2(-np.asarray(weight, dtype=float)))


# --------------------------------------------------------------------------------------------
# Fellegi–Sunter
# --------------------------------------------------------------------------------------------


class FellegiSunter(_Params):
    """Multi-level Fellegi–Sunter model with m, u and lambda estimated by EM.

    Parameters
    ----------
    levels : dict, optional
        ``{comparison: number_of_levels}``; its keys pick (and order) the comparison columns.
        Inferred from the data (max level + 1, columns in frame order) when omitted.
    max_iter, tol : EM stops after ``max_iter`` iterations or when no parameter (lambda, any m,
        any free u) moves by more than ``tol``.
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
    lambda_ : float, prior match probability among the candidate pairs,
    weights_ : dict ``{comparison: ndarray}`` of ``log2(m/u)``, ``prior_weight_`` = log2 odds,
    n_iter_, converged_, log_likelihood_ (per iteration, observed data, natural log),
    swapped_ (True when EM, with u free, converged to the mirror solution and the classes were
    swapped back so that the match class is the one that agrees more),
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
                 m_fixed=None, level_labels=None, tf_levels=None):
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
        names = _comparison_names(random_pairs_vectors, self.levels, self.tf_columns)
        matrix = _level_matrix(random_pairs_vectors, names, self.levels)
        levels = self._resolve_levels(names, matrix)
        u, u_counts = {}, {}
        for j, name in enumerate(names):
            column = matrix[:, j]
            observed = column[column != MISSING]
            if len(observed) == 0:
                # Not fatal: fit() falls back to EM for this comparison's u and warns.
                continue
            u_counts[name] = np.bincount(observed, minlength=levels[name]).astype(float)
            u[name] = _clip_normalise(u_counts[name] / u_counts[name].sum(), self.min_prob)
        self.u_random_ = u
        self.u_counts_ = u_counts
        self.n_random_pairs_ = int(len(random_pairs_vectors))
        self._random_levels = levels
        return self

    # ---- EM --------------------------------------------------------------------------------

    def fit(self, vectors: pd.DataFrame, u_vectors: pd.DataFrame | None = None) -> "FellegiSunter":
        """Fit m (per comparison and level), lambda and, unless fixed, u by EM.

        ``vectors`` are the candidate pairs' comparison vectors; ``u_vectors``, if given, are
        random pairs for :meth:`estimate_u`. A pair's missing (-1) comparison is marginalised
        out: it is skipped in both the E step (no factor) and the M step (no count).
        """
        if u_vectors is not None:
            self.estimate_u(u_vectors)
        names = _comparison_names(vectors, self.levels, self.tf_columns)
        matrix = _level_matrix(vectors, names, self.levels)
        levels = self._resolve_levels(names, matrix)
        if len(matrix) == 0:
            raise InputError("no candidate pairs to fit on; the comparison vectors are empty.")
        u_counts = getattr(self, "u_counts_", None)
        patterns, counts, _ = _group_patterns(matrix)
        counts = counts.astype(float)

        lam = 0.1 if self.lambda_init is None else float(self.lambda_init)
        m = self._initial_m(names, levels)
        u, u_free, sources = {}, {}, set()
        for j, n in enumerate(names):
            if u_counts is not None and n in u_counts:
                # A level never seen among the random pairs (e.g. only candidates reach it) has
                # u ~ 0: pad with zeros, then clip.
                padded = np.zeros(levels[n])
                padded[:len(u_counts[n])] = u_counts[n][:levels[n]]
                u[n] = _clip_normalise(padded / padded.sum(), self.min_prob)
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
            u[n] = _clip_normalise(freq / max(freq.sum(), 1.0), self.min_prob)
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
        for n_iter in range(1, int(self.max_iter) + 1):
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
        self.m_ = m
        self.u_ = u
        self.lambda_ = lam
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.log_likelihood_ = history
        self.n_pairs_ = int(len(matrix))
        self.n_patterns_ = int(len(patterns))
        if u_counts is None:
            self.n_random_pairs_ = 0
        self._finish()
        return self

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
        return _clip_normalise(expected_counts / total, self.min_prob)

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
            return {n: _clip_normalise(rng.dirichlet(np.ones(levels[n])), self.min_prob)
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
            m[n] = _clip_normalise(start / start.sum(), self.min_prob)
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
        """Derive weights from m and u (used by fit and from_json, so both score identically)."""
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
        matrix = _level_matrix(vectors, self.comparisons_, self.levels_)
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
        return pd.DataFrame(table, index=vectors.index)

    def match_weight(self, vectors: pd.DataFrame) -> pd.Series:
        """log2 Bayes factor plus prior: ``log2(lambda/(1-lambda)) + sum of partial weights``."""
        total = self.weight_table(vectors).to_numpy().sum(axis=1) + self.prior_weight_
        return pd.Series(total, index=vectors.index, name="match_weight")

    def predict_proba(self, vectors: pd.DataFrame) -> pd.Series:
        """Match probability ``2**w / (1 + 2**w)`` of each pair."""
        weight = self.match_weight(vectors)
        return pd.Series(_proba_from_weight(weight.to_numpy()), index=vectors.index,
                         name="match_probability")

    def predict(self, vectors: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
        """True for pairs whose match probability is at least ``threshold``."""
        return (self.predict_proba(vectors) >= threshold).rename("is_match")

    def parameter_table(self) -> pd.DataFrame:
        """One row per comparison level: label, m, u and weight, for audits and charts."""
        self._check_fitted()
        rows = []
        for n in self.comparisons_:
            for k in range(self.levels_[n]):
                rows.append({"comparison": n, "level": k, "label": self._label(n, k),
                             "m": self.m_[n][k], "u": self.u_[n][k],
                             "weight": self.weights_[n][k]})
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        """In a notebook: the parameters, then (when fitted) the prior and every level's m, u and
        weight, so the weights staff see in explanations can be traced to their source."""
        import html

        head = f"<p><code>{html.escape(repr(self))}</code></p>"
        if not hasattr(self, "m_"):
            return head + "<p>not fitted</p>"
        source = html.escape(str(getattr(self, "u_source_", "?")))
        prior = (f"<p>prior match probability λ = {self.lambda_:.4g} (prior weight {self.prior_weight_:+.2f}); "
                 f"{len(self.comparisons_)} comparisons, u from {source}</p>")
        return head + prior + self.parameter_table().to_html(index=False, float_format=lambda v: f"{v:.4g}")

    # ---- JSON ------------------------------------------------------------------------------

    def _label(self, name: str, level: int) -> str | None:
        labels = (self.level_labels or {}).get(name)
        if labels is None:
            return None
        if isinstance(labels, Mapping):
            label = labels.get(level, labels.get(str(level)))
        else:
            label = labels[level] if 0 <= level < len(labels) else None
        return None if label is None else str(label)

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain JSON-ready data (see :meth:`to_json`)."""
        self._check_fitted()
        comparisons = {}
        for n in self.comparisons_:
            entry = {
                "n_levels": self.levels_[n],
                "missing_label": self._label(n, MISSING),
                "levels": [
                    {"level": k, "label": self._label(n, k),
                     "m": float(self.m_[n][k]), "u": float(self.u_[n][k]),
                     "weight": float(self.weights_[n][k])}
                    for k in range(self.levels_[n])
                ],
            }
            if n in (self.tf_columns or {}):
                entry["tf_column"] = self.tf_columns[n]
                entry["tf_levels"] = self.tf_levels_[n]
            if n in (self.m_fixed or {}):
                entry["m_fixed"] = {str(k): float(v) for k, v in self.m_fixed[n].items()}
            comparisons[n] = entry
        return {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "lambda": float(self.lambda_),
            "prior_weight": float(self.prior_weight_),
            "comparisons": comparisons,
            "fitted_on": {
                "n_pairs": getattr(self, "n_pairs_", None),
                "n_patterns": getattr(self, "n_patterns_", None),
                "n_random_pairs": getattr(self, "n_random_pairs_", None),
                "u_source": getattr(self, "u_source_", None),
                "n_iter": getattr(self, "n_iter_", None),
                "converged": getattr(self, "converged_", None),
            },
            "params": {"max_iter": self.max_iter, "tol": self.tol, "u_fixed": self.u_fixed,
                       "min_prob": self.min_prob, "lambda_init": self.lambda_init},
        }

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """Readable JSON: per comparison, per level ``m``, ``u``, ``weight`` and ``label``.

        Written atomically when ``path`` is given; the text is returned either way. Never pickle:
        an auditor can read (and diff) these tables. Floats are written with full precision, so
        :meth:`from_json` gives identical scores.

            >>> import pandas as pd
            >>> m = FellegiSunter(u_fixed=False).fit(pd.DataFrame({"sex": [1, 1, 0, 1, 0, 0]}))
            >>> FellegiSunter.from_json(m.to_json()).lambda_ == m.lambda_
            True
        """
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
        if path is not None:
            with atomic_write(path) as handle:
                handle.write(text + "\n")
        return text

    @classmethod
    def from_json(cls, path_or_str: str | os.PathLike) -> "FellegiSunter":
        """Load a model saved by :meth:`to_json` (a path or the JSON text itself)."""
        text = str(path_or_str)
        if not text.lstrip().startswith("{"):
            path = Path(path_or_str)
            if not path.exists():
                raise InputError(f"model file {path} does not exist; pass the path written by "
                                 f"FellegiSunter.to_json or the JSON text.")
            text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"the model JSON cannot be parsed ({exc}); it must be the text "
                             f"written by FellegiSunter.to_json.") from exc
        if data.get("format") != JSON_FORMAT or data.get("version") != JSON_VERSION:
            raise InputError(
                f"this JSON is not a kinmatch Fellegi–Sunter model of version {JSON_VERSION} "
                f"(format={data.get('format')!r}, version={data.get('version')!r}); refit and "
                f"save it with this version of kinmatch."
            )
        comps = data["comparisons"]
        params = data.get("params", {})
        model = cls(
            levels={n: int(c["n_levels"]) for n, c in comps.items()},
            max_iter=params.get("max_iter", 100), tol=params.get("tol", 1e-6),
            lambda_init=params.get("lambda_init"), u_fixed=params.get("u_fixed", True),
            min_prob=params.get("min_prob", 1e-6),
            tf_columns={n: c["tf_column"] for n, c in comps.items() if "tf_column" in c} or None,
            tf_levels={n: c["tf_levels"] for n, c in comps.items() if "tf_levels" in c} or None,
            m_fixed={n: {int(k): v for k, v in c["m_fixed"].items()}
                     for n, c in comps.items() if "m_fixed" in c} or None,
            level_labels={n: {**({MISSING: c["missing_label"]}
                                 if c.get("missing_label") is not None else {}),
                              **{lv["level"]: lv["label"] for lv in c["levels"]
                                 if lv.get("label") is not None}}
                          for n, c in comps.items()
                          if c.get("missing_label") is not None
                          or any(lv.get("label") is not None for lv in c["levels"])} or None,
        )
        model.comparisons_ = list(comps)
        model.levels_ = dict(model.levels)
        model.m_ = {n: np.array([lv["m"] for lv in c["levels"]], dtype=float)
                    for n, c in comps.items()}
        model.u_ = {n: np.array([lv["u"] for lv in c["levels"]], dtype=float)
                    for n, c in comps.items()}
        model.lambda_ = float(data["lambda"])
        fitted = data.get("fitted_on", {})
        for key in ("n_pairs", "n_patterns", "n_random_pairs", "u_source", "n_iter", "converged"):
            setattr(model, key + "_", fitted.get(key))
        model._finish()
        return model


# --------------------------------------------------------------------------------------------
# Supervised alternative
# --------------------------------------------------------------------------------------------


class SupervisedLinker(_Params):
    """A calibrated classifier trained on reviewed pairs, with the Fellegi–Sunter interface.

    Once staff have confirmed or rejected a few hundred candidates, their decisions are labels.
    The comparison levels are one-hot encoded (a missing -1 becomes all zeros, so it carries no
    evidence), any scikit-learn classifier is fitted on them, and its scores are calibrated with
    ``CalibratedClassifierCV`` (``ensemble=False``: one classifier fitted on all pairs, the
    calibration map learnt on cross-validated predictions) so ``predict_proba`` is a probability
    staff can read.

    Parameters
    ----------
    estimator : scikit-learn classifier, optional
        Default ``LogisticRegression(max_iter=1000)``: its coefficients on the one-hot levels are
        log-odds weights per comparison level, the supervised twin of ``log2(m/u)``.
    calibration : "isotonic", "sigmoid" or None
        Calibration method; None trusts the estimator's own probabilities.
    cv : int
        Folds for calibration and for :meth:`cross_validate` (stratified, shuffled).
    random_state : int, optional
        Seeds the folds (and the default estimator).
    levels : dict, optional
        ``{comparison: number_of_levels}`` as for :class:`FellegiSunter`.

    How ``weight_table`` explains a pair (``weight_method_``):

    - ``"linear"`` (a linear model such as logistic regression, with sigmoid or no
      calibration): partial weight = Platt slope x coefficient of the pair's level, in log2
      units; rows plus ``prior_weight_`` sum exactly to ``match_weight``.
    - ``"linear_uncalibrated"`` (a linear model with isotonic calibration): the same
      coefficients without the calibration map, which is monotone but not additive, so rows
      plus ``prior_weight_`` give the *uncalibrated* log2 odds; the ranking is the same.
    - ``"drop_one"`` (any other estimator, e.g. gradient boosting, which has no additive
      decomposition in scikit-learn): ``match_weight(pair) - match_weight(pair with this
      comparison set to missing)``: how far this comparison moved the score. These do not sum
      to ``match_weight``.

    Example::

        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(1)
        >>> labels = rng.random(600) < 0.3
        >>> vectors = pd.DataFrame({"name": np.where(labels, 2, rng.choice(3, 600, p=[.7, .2, .1])),
        ...                         "sex": np.where(labels, 1, rng.choice(2, 600))})
        >>> linker = SupervisedLinker(calibration="sigmoid", random_state=0).fit(vectors, labels)
        >>> bool(linker.predict_proba(vectors.head(1)).iloc[0] > 0.5) == bool(labels[0])
        True
    """

    def __init__(self, estimator=None, calibration="isotonic", cv=5, random_state=None,
                 levels=None, min_prob=1e-6):
        self.estimator = estimator
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.levels = levels
        self.min_prob = min_prob

    def _labels(self, vectors, labels) -> np.ndarray:
        labels = pd.Series(np.asarray(labels).ravel() if not isinstance(labels, pd.Series)
                           else labels.to_numpy())
        if len(labels) != len(vectors):
            raise InputError(f"got {len(labels)} labels for {len(vectors)} pairs; give one "
                             f"reviewed decision (1 = same person, 0 = not) per pair.")
        if labels.isna().any():
            raise InputError(f"{int(labels.isna().sum())} labels are blank; drop unreviewed "
                             f"pairs before fitting.")
        values = labels.astype(int).to_numpy()
        if not np.isin(values, [0, 1]).all():
            raise InputError("labels must be 1 (same person) or 0 (not the same person).")
        folds = int(self.cv) if self.calibration is not None else 1
        for cls in (0, 1):
            if (values == cls).sum() < max(folds, 1):
                raise InputError(
                    f"only {int((values == cls).sum())} pairs are labelled {cls}; the supervised "
                    f"model needs at least {max(folds, 1)} of each (cv={self.cv}). Review more "
                    f"pairs or use the unsupervised FellegiSunter model."
                )
        return values

    def _encode(self, vectors) -> np.ndarray:
        matrix = _level_matrix(vectors, self.comparisons_, self.levels_)
        return self.encoder_.transform(matrix)

    def fit(self, vectors: pd.DataFrame, labels) -> "SupervisedLinker":
        """Fit (and calibrate) the classifier on reviewed pairs; labels 1 = same person."""
        from sklearn.base import clone
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.preprocessing import OneHotEncoder

        names = _comparison_names(vectors, self.levels, None)
        matrix = _level_matrix(vectors, names, self.levels)
        y = self._labels(vectors, labels)
        if self.levels:
            levels = {n: int(self.levels[n]) for n in names}
        else:
            levels = {n: max(int(matrix[:, j].max()) + 1, 2) for j, n in enumerate(names)}
        self.comparisons_ = names
        self.levels_ = levels
        # handle_unknown="ignore" turns the missing level -1 into an all-zero block: no evidence.
        self.encoder_ = OneHotEncoder(categories=[list(range(levels[n])) for n in names],
                                      handle_unknown="ignore", sparse_output=False)
        self.encoder_.fit(np.zeros((1, len(names)), dtype=np.int64))
        features = self.encoder_.transform(matrix)
        self._blocks = np.repeat(np.arange(len(names)), [levels[n] for n in names])

        if self.estimator is None:
            base = LogisticRegression(max_iter=1000, random_state=self.random_state)
        else:
            base = clone(self.estimator)
        if self.calibration not in (None, "isotonic", "sigmoid"):
            raise InputError(f"calibration={self.calibration!r}: use 'isotonic', 'sigmoid' or "
                             f"None.")
        slope, offset = 1.0, 0.0
        if self.calibration is None:
            self.estimator_ = base.fit(features, y)
            self.calibrated_ = None
        else:
            folds = StratifiedKFold(int(self.cv), shuffle=True, random_state=self.random_state)
            self.calibrated_ = CalibratedClassifierCV(base, method=self.calibration, cv=folds,
                                                      ensemble=False).fit(features, y)
            fitted = self.calibrated_.calibrated_classifiers_[0]
            self.estimator_ = fitted.estimator
            calibrator = fitted.calibrators[0]
            if self.calibration == "sigmoid":
                # Platt scaling: p = 1 / (1 + exp(a*f + b)), so the calibrated logit is -a*f - b.
                slope, offset = -float(calibrator.a_), -float(calibrator.b_)
        coef = getattr(self.estimator_, "coef_", None)
        linear = (coef is not None and np.ndim(coef) == 2 and coef.shape[0] == 1
                  and hasattr(self.estimator_, "decision_function"))
        if linear:
            self._coef = np.asarray(coef, dtype=float)[0] * slope / math.log(2)
            self.prior_weight_ = float((np.ravel(self.estimator_.intercept_)[0] * slope + offset)
                                       / math.log(2))
            self.weight_method_ = ("linear_uncalibrated" if self.calibration == "isotonic"
                                   else "linear")
        else:
            self._coef = None
            self.prior_weight_ = float(_log2_odds(np.array([y.mean()]), self.min_prob)[0])
            self.weight_method_ = "drop_one"
        self.n_pairs_ = int(len(y))
        self.n_matches_ = int(y.sum())
        return self

    def _check_fitted(self):
        if not hasattr(self, "encoder_"):
            raise ModelNotFittedError("this SupervisedLinker is not fitted yet; call "
                                      "fit(vectors, labels) with reviewed pairs first.")

    def _linear_table(self, features) -> np.ndarray:
        contributions = features * self._coef
        table = np.zeros((len(features), len(self.comparisons_)))
        for j in range(len(self.comparisons_)):
            table[:, j] = contributions[:, self._blocks == j].sum(axis=1)
        return table

    def predict_proba(self, vectors: pd.DataFrame) -> pd.Series:
        """Calibrated probability that each pair is the same person."""
        self._check_fitted()
        if self.weight_method_ == "linear":
            proba = _proba_from_weight(self.match_weight(vectors).to_numpy())
        else:
            model = self.calibrated_ if self.calibrated_ is not None else self.estimator_
            proba = model.predict_proba(self._encode(vectors))[:, 1]
        return pd.Series(proba, index=vectors.index, name="match_probability")

    def match_weight(self, vectors: pd.DataFrame) -> pd.Series:
        """log2 odds of the calibrated probability (exactly additive for ``"linear"``)."""
        self._check_fitted()
        if self.weight_method_ == "linear":
            total = self._linear_table(self._encode(vectors)).sum(axis=1) + self.prior_weight_
        else:
            total = _log2_odds(self.predict_proba(vectors).to_numpy(), self.min_prob)
        return pd.Series(total, index=vectors.index, name="match_weight")

    def weight_table(self, vectors: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
        """Per-comparison partial weights; see the class docstring for how they are defined."""
        self._check_fitted()
        if self._coef is not None:
            table = self._linear_table(self._encode(vectors))
        else:
            full = self.match_weight(vectors).to_numpy()
            table = np.zeros((len(vectors), len(self.comparisons_)))
            for j, name in enumerate(self.comparisons_):
                without = vectors[self.comparisons_].copy()
                without[name] = MISSING
                table[:, j] = full - self.match_weight(without).to_numpy()
        return pd.DataFrame(table, index=vectors.index,
                            columns=[prefix + n for n in self.comparisons_])

    def predict(self, vectors: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
        """True for pairs whose calibrated probability is at least ``threshold``."""
        return (self.predict_proba(vectors) >= threshold).rename("is_match")

    def cross_validate(self, vectors: pd.DataFrame, labels, threshold: float = 0.5
                       ) -> dict[str, float]:
        """Out-of-fold precision, recall, F1, ROC AUC, Brier (see :func:`evaluate_scores`).

        Each of ``cv`` stratified folds is scored by a linker fitted (and calibrated) on the
        others, so the numbers are honest estimates the studio can set beside the
        unsupervised model's ``evaluate_scores(model.predict_proba(vectors), labels)``.
        """
        from sklearn.base import clone
        from sklearn.model_selection import StratifiedKFold

        y = self._labels(vectors, labels)
        template = clone(self)
        if not self.levels:
            # Fix the level counts from all pairs, so a fold that lacks a rare top level still
            # scores the held-out pairs that have it.
            names = _comparison_names(vectors, None, None)
            matrix = _level_matrix(vectors, names)
            template.set_params(levels={n: max(int(matrix[:, j].max()) + 1, 2)
                                        for j, n in enumerate(names)})
        out_of_fold = np.zeros(len(y))
        folds = StratifiedKFold(int(self.cv), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.zeros(len(y)), y):
            fold_model = clone(template).fit(vectors.iloc[train], y[train])
            out_of_fold[test] = fold_model.predict_proba(vectors.iloc[test]).to_numpy()
        result = evaluate_scores(out_of_fold, y, threshold)
        result["folds"] = int(self.cv)
        return result


# --------------------------------------------------------------------------------------------
# Evaluation shared by both models
# --------------------------------------------------------------------------------------------


def evaluate_scores(proba, labels, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall, F1, ROC AUC, average precision, Brier and log loss of probabilities.

    The same numbers for any model (Fellegi–Sunter, supervised, or an external score), so the
    studio can compare them on one reviewed set.

        >>> evaluate_scores([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])["f1"]
        1.0
    """
    from sklearn import metrics

    proba = np.asarray(proba, dtype=float)
    labels = np.asarray(labels).astype(int)
    predicted = proba >= threshold
    both = len(np.unique(labels)) == 2
    return {
        "n_pairs": int(len(labels)),
        "n_matches": int(labels.sum()),
        "threshold": float(threshold),
        "precision": float(metrics.precision_score(labels, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(labels, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(labels, proba)) if both else float("nan"),
        "average_precision": (float(metrics.average_precision_score(labels, proba))
                              if both else float("nan")),
        "brier": float(metrics.brier_score_loss(labels, proba)),
        "log_loss": float(metrics.log_loss(labels, np.clip(proba, 1e-15, 1 - 1e-15),
                                           labels=[0, 1])),
    }
