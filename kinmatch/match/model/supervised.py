"""A supervised alternative to Fellegi–Sunter: a calibrated classifier trained on reviewed pairs,
with the same scoring interface (``match_weight``, ``predict_proba``, ``weight_table``,
``predict``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.match.model.base import (
    MISSING,
    EstimatorParams,
    ModelNotFittedError,
    check_levels,
    comparison_names,
    level_matrix,
    log2_odds,
    proba_from_weight,
)
from kinmatch.match.model.fellegi_sunter import FellegiSunter
from kinmatch.match.model.metrics import evaluate_scores

__all__ = ["SupervisedLinker"]


class SupervisedLinker(EstimatorParams):
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
        matrix = level_matrix(vectors, self.comparisons_, self.levels_)
        return self.encoder_.transform(matrix)

    def fit(self, vectors: pd.DataFrame, labels) -> "SupervisedLinker":
        """Fit (and calibrate) the classifier on reviewed pairs; labels 1 = same person."""
        from sklearn.base import clone
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.preprocessing import OneHotEncoder

        names = comparison_names(vectors, self.levels, None)
        matrix = level_matrix(vectors, names, self.levels)
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
            self.prior_weight_ = float(log2_odds(np.array([y.mean()]), self.min_prob)[0])
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
            proba = proba_from_weight(self.match_weight(vectors).to_numpy())
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
            total = log2_odds(self.predict_proba(vectors).to_numpy(), self.min_prob)
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

    def check_compatible(self, comparisons: Mapping[str, Mapping[int, str]]) -> None:
        """Raise :class:`~kinmatch.match.model.ModelMismatchError` unless the data about to be
        scored (``{comparison: {level: label}}``) have the comparisons and level counts this model
        was fitted on (it keeps no labels to compare)."""
        self._check_fitted()
        check_levels(self.levels_, None, comparisons)

    def to_fellegi_sunter(self, level_labels: Mapping[str, Any] | None = None,
                          metrics: Mapping[str, Any] | None = None,
                          settings: Mapping[str, Any] | None = None) -> FellegiSunter:
        """This linear, sigmoid-calibrated model as a :class:`FellegiSunter` that scores exactly
        as it does, to be saved and used as ``kinmatch link --model``.

        Its score is a prior plus one weight per comparison level, in log2 odds: the form of a
        Fellegi–Sunter model. ``m`` and ``u`` are chosen so that ``log2(m/u)`` is the learnt
        weight (the larger of the two is 1; they are not frequencies) and ``lambda`` gives the
        learnt prior. The model's ``fitted_on`` says ``method: "supervised"`` with the logistic
        regression's own iteration count and convergence; ``supervised_`` (written to the JSON)
        says how the weights were learnt, with ``metrics`` added; ``settings`` (the link settings
        whose comparisons made the levels, as JSON data) travel in the model.
        """
        self._check_fitted()
        if self.weight_method_ != "linear":
            raise InputError("only a linear, sigmoid-calibrated SupervisedLinker can be written as a weight "
                             "table; fit one with calibration='sigmoid' (or None) and a linear estimator")
        m, u = {}, {}
        for name in self.comparisons_:
            n_levels = self.levels_[name]
            probe = pd.DataFrame({c: [MISSING] * n_levels for c in self.comparisons_})
            probe[name] = range(n_levels)
            weights = self.weight_table(probe)[name].to_numpy()
            m[name] = [float(min(1.0, 2.0 ** w)) for w in weights]
            u[name] = [float(min(1.0, 2.0 ** -w)) for w in weights]
        n_iter = getattr(self.estimator_, "n_iter_", None)
        n_iter = None if n_iter is None else int(np.max(n_iter))
        max_iter = getattr(self.estimator_, "max_iter", None)
        fitted_on = {"method": "supervised", "u_source": "supervised", "n_pairs": self.n_pairs_, "n_iter": n_iter,
                     "converged": None if n_iter is None or max_iter is None else bool(n_iter < max_iter)}
        supervised = {
            "method": f"SupervisedLinker: {type(self.estimator_).__name__} on one-hot comparison levels, "
                      + ("Platt-calibrated" if self.calibration == "sigmoid" else "not calibrated"),
            "note": "weights are learnt from reviewers' decisions; m and u only encode them (log2(m/u) = weight)",
            "n_pairs": self.n_pairs_, "n_matches": self.n_matches_, **(metrics or {})}
        return FellegiSunter.from_parameters(m, u, 1.0 / (1.0 + 2.0 ** -self.prior_weight_), fitted_on=fitted_on,
                                             supervised=supervised, levels=dict(self.levels_),
                                             level_labels=level_labels, min_prob=self.min_prob, settings=settings)

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
            names = comparison_names(vectors, None, None)
            matrix = level_matrix(vectors, names)
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

