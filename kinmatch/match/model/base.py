"""What the models share: comparison vectors read into a level matrix, the missing level, the
errors, and the scikit-learn parameter API.

**Comparison vectors** are a DataFrame indexed by ``(resident_id, missing_id)`` (any index works and
is kept), one integer column per comparison whose values are agreement levels ``0..L-1`` (0 =
different, higher = stronger agreement) or ``-1`` for *missing / no evidence*. A ``-1`` adds exactly
zero weight and is skipped by EM for that comparison.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError, KinmatchError

MISSING = -1
"""The level that means "no evidence": it adds zero weight and EM skips it."""


class ModelNotFittedError(KinmatchError, ValueError, AttributeError):
    """A model was asked to score before it was fitted (or loaded from JSON). Same bases as
    scikit-learn's ``NotFittedError`` (ValueError, AttributeError), without importing it."""


class ModelMismatchError(KinmatchError, ValueError):
    """A fitted model was asked to score data whose comparisons or levels differ from the ones it
    was fitted on (see :meth:`FellegiSunter.check_compatible`); its message names every
    difference."""


class EstimatorParams:
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
            same = value is default or (type(value) is type(default) and equal_param(value, default))
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def equal_param(a: Any, b: Any) -> bool:
    """``a == b`` as one bool, False where the comparison is not a bool (e.g. arrays)."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays
        return False


# --------------------------------------------------------------------------------------------
# Reading and checking comparison vectors
# --------------------------------------------------------------------------------------------


def comparison_names(vectors: pd.DataFrame, levels: Mapping[str, int] | None,
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


def level_matrix(vectors: pd.DataFrame, names: Sequence[str],
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


def group_patterns(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def clip_normalise(probs: np.ndarray, min_prob: float) -> np.ndarray:
    """Keep every probability inside [min_prob, 1-min_prob] and summing to one.

    A level never seen among matches (or non-matches) would otherwise get m=0 (or u=0) and an
    infinite weight; one unlucky pair would then decide a ranking.
    """
    probs = np.clip(probs, min_prob, 1.0 - min_prob)
    return probs / probs.sum()


def log2_odds(proba: np.ndarray, min_prob: float) -> np.ndarray:
    """log2(p / (1 - p)) of probabilities clipped into [min_prob, 1-min_prob]."""
    proba = np.clip(proba, min_prob, 1.0 - min_prob)
    return np.log2(proba) - np.log2(1.0 - proba)


def proba_from_weight(weight: np.ndarray) -> np.ndarray:
    """The probability ``2**w / (1 + 2**w)`` of log2 odds ``w``."""
    # 2^w / (1 + 2^w) written as 1 / (1 + 2^-w), which does not overflow for large w.
    return 1.0 / (1.0 + np.exp2(-np.asarray(weight, dtype=float)))


# --------------------------------------------------------------------------------------------
# The data a fitted model may score
# --------------------------------------------------------------------------------------------


def check_levels(levels: Mapping[str, int], labels: Mapping[str, Mapping[int, str | None]] | None,
                 comparisons: Mapping[str, Mapping[int, str]]) -> None:
    """Raise :class:`ModelMismatchError` naming every difference between a model's comparisons
    (``levels``: ``{name: number of levels}``; ``labels``: ``{name: {level: label}}``, or None to
    compare names and level counts only) and the data's ``comparisons`` (``{name: {level:
    label}}``, ``-1`` allowed and not counted as a level). Labels are compared where both sides
    have one.

        >>> check_levels({"sex": 2}, None, {"sex": {0: "性别不符", 1: "性别相符"}})
        >>> try:  # doctest: +NORMALIZE_WHITESPACE
        ...     check_levels({"sex": 2}, None, {"age": {0: "年龄不符"}})
        ... except ModelMismatchError as error:
        ...     print(error)
        the model does not fit these data: the model has a comparison 'sex' that these data lack; these data
        have a comparison 'age' that the model lacks; refit the model (kinmatch link without --model) or use a
        model saved by this kinmatch version
    """
    problems = [f"the model has a comparison {name!r} that these data lack" for name in levels
                if name not in comparisons]
    problems += [f"these data have a comparison {name!r} that the model lacks" for name in comparisons
                 if name not in levels]
    for name, n_levels in levels.items():
        if name not in comparisons:
            continue
        data_labels = {int(level): label for level, label in comparisons[name].items()}
        model_labels = dict((labels or {}).get(name) or {})
        n_data = sum(1 for level in data_labels if level != MISSING)
        if n_data != n_levels:
            problems.append(f"the model was fitted with {n_levels} levels of {name!r} "
                            f"({_describe_levels(model_labels, n_levels)}), these data have {n_data} "
                            f"({_describe_levels(data_labels, n_data)})")
            continue
        if labels is None:
            continue
        for level in sorted(set(model_labels) & set(data_labels)):
            ours, theirs = model_labels[level], data_labels[level]
            if ours is not None and theirs is not None and str(ours) != str(theirs):
                problems.append(f"level {level} of {name!r} is {ours!r} in the model but {theirs!r} in these data")
    if problems:
        raise ModelMismatchError("the model does not fit these data: " + "; ".join(problems)
                                 + "; refit the model (kinmatch link without --model) or use a model saved by this "
                                 "kinmatch version")


def _describe_levels(labels: Mapping[int, str | None], n_levels: int) -> str:
    """``0 姓名不同, 1 小名相同, …`` for an error message; unlabelled levels by number."""
    return ", ".join(f"{level} {labels[level]}" if labels.get(level) is not None else str(level)
                     for level in range(n_levels))
