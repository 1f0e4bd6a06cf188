"""Probabilities recalibrated from the studio's decisions: a monotone map from match weight to the
share of pairs reviewers found to be the same person.

An unsupervised model's probability rests on assumptions (comparisons independent among
non-matches, the prior of a pair) that real records bend; the studio's decided pairs say how often
a pair of a given weight really was the person. :class:`WeightCalibration` fits a monotone map of
the decisions on the weights, and is used only when there are enough decisions: at least
:data:`MIN_CALIBRATION_PAIRS` decided pairs with :data:`MIN_PER_CLASS` of each decision. Ranking
does not change (the map is monotone and ties are broken by the weight); only the probability shown
does.

Two maps (``method``): ``"sigmoid"`` (default; Platt scaling, a logistic regression of the
decisions on the weight: ``p = 1 / (1 + 2**-(slope * w + intercept))``, two numbers, steady with a
few hundred decisions; fitted on the decided pairs whose own probability lies in
:data:`SIGMOID_FIT_PROBABILITIES`, see there) and ``"isotonic"`` (scikit-learn's ``IsotonicRegression``: any monotone
shape, but its steps follow the noise of a few hundred decisions; bench/RESULTS.md compares them).
Outside the weights the decisions cover, the isotonic map keeps the model's own probability,
bounded by the map's end values so the whole stays monotone.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> weight = rng.uniform(-6, 12, 3000)
    >>> same = rng.random(3000) < 1 / (1 + 2.0 ** -(weight / 2 - 1))   # the model is overconfident
    >>> calibration = WeightCalibration.fit(weight, same)
    >>> round(calibration.slope, 1), round(calibration.intercept, 1)   # the truth: 0.5 and -1
    (0.5, -1.0)
    >>> model_says = 1 / (1 + 2.0 ** -2)                                  # at weight 2: 0.8
    >>> bool(abs(calibration.probability(np.array([2.0]))[0] - 0.5) < 0.15)  # truly 0.5
    True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from kinmatch.match.model.base import proba_from_weight

__all__ = ["WeightCalibration", "MIN_CALIBRATION_PAIRS", "MIN_PER_CLASS", "SIGMOID_FIT_PROBABILITIES",
           "enough_decisions", "shortfall"]

MIN_CALIBRATION_PAIRS = 200
"""Decided pairs needed before probabilities are recalibrated: with fewer, the observed share in a
band of 0.3 moves by more than ±0.1 from one decision to the next."""

MIN_PER_CLASS = 20
"""Pairs decided 同一人 needed, and as many 非同一人 (as for training, ``kinmatch.review.train``)."""

SIGMOID_FIT_PROBABILITIES = (0.01, 0.999)
"""The sigmoid map is fitted on the decided pairs to which the model itself gives a probability in
this range (weights from about −6.6 to +10 bits), when at least :data:`MIN_PER_CLASS` of each
decision lie there; else on all of them. The pairs beyond are nearly all of one decision (a
resident's tenth candidate, a report with the same name, home and day of loss), and in a fit by
likelihood their few exceptions (a true report ranked tenth at −15 bits) set the slope where no
reviewer reads a probability, bending it where they do (bench/RESULTS.md, 2026-12-07)."""


def enough_decisions(labels: Any) -> bool:
    """Whether ``labels`` (1 = same person, 0 = not) are enough to recalibrate on.

        >>> enough_decisions([1] * 30 + [0] * 300), enough_decisions([1] * 5 + [0] * 300)
        (True, False)
    """
    labels = np.asarray(labels).astype(int)
    return (len(labels) >= MIN_CALIBRATION_PAIRS and int(labels.sum()) >= MIN_PER_CLASS
            and int((labels == 0).sum()) >= MIN_PER_CLASS)


def shortfall(labels: Any) -> str:
    """Why ``labels`` are too few to recalibrate on (for a warning or an error).

        >>> shortfall([1] * 5 + [0] * 100).split(":")[0]
        '105 decided pairs (5 同一人, 100 非同一人) are too few to recalibrate on'
    """
    labels = np.asarray(labels).astype(int)
    same, other = int(labels.sum()), int((labels == 0).sum())
    return (f"{len(labels)} decided pairs ({same} 同一人, {other} 非同一人) are too few "
            f"to recalibrate on: at least {MIN_CALIBRATION_PAIRS} pairs with {MIN_PER_CLASS} of each decision are "
            f"needed; the model's probabilities are kept until more pairs are decided")


class WeightCalibration(NamedTuple):
    """A monotone map from match weight (log2 odds) to probability: ``method`` ``"sigmoid"``
    (``slope``, ``intercept`` in log2 odds) or ``"isotonic"`` (the fit's knots ``knot_weight``,
    ``knot_probability``, increasing), and the decisions it was learnt from."""

    method: str
    slope: float
    intercept: float
    knot_weight: tuple
    knot_probability: tuple
    n_pairs: int
    n_same: int
    n_fitted: int = 0

    @classmethod
    def fit(cls, match_weight: Any, labels: Any, method: str = "sigmoid",
            require_enough: bool = True) -> "WeightCalibration":
        """The ``method`` map of ``labels`` (1 = same person) on ``match_weight``. Raises
        ValueError when :func:`enough_decisions` says there are too few (``require_enough=False``
        skips that check, for the folds of a cross-validation of a map that passed it; both
        decisions must still be present)."""
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        weight = np.asarray(match_weight, dtype=float)
        labels = np.asarray(labels).astype(int)
        if len(weight) != len(labels):
            raise ValueError(f"{len(weight)} weights but {len(labels)} decisions; give one decision per pair")
        if require_enough and not enough_decisions(labels):
            raise ValueError(shortfall(labels))
        if labels.min(initial=1) == labels.max(initial=0):
            raise ValueError("the decisions are all of one kind; a map needs pairs decided both ways")
        if method not in ("sigmoid", "isotonic"):
            raise ValueError(f"method={method!r}: use 'sigmoid' or 'isotonic'")
        keep = np.isfinite(weight)
        n_pairs, n_same = int(keep.sum()), int(labels[keep].sum())
        if method == "sigmoid":
            low, high = SIGMOID_FIT_PROBABILITIES
            own = proba_from_weight(np.where(keep, weight, 0.0))
            window = keep & (own >= low) & (own <= high)
            if min(int(labels[window].sum()), int((labels[window] == 0).sum())) < MIN_PER_CLASS:
                window = keep
            # natural-log odds in the regression, log2 in the map; a large C: no penalty on two numbers
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(weight[window, None] * np.log(2), labels[window])
            return cls("sigmoid", float(platt.coef_[0, 0]), float(platt.intercept_[0] / np.log(2)), (), (),
                       n_pairs, n_same, int(window.sum()))
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        iso.fit(weight[keep], labels[keep])
        return cls("isotonic", float("nan"), float("nan"), tuple(float(v) for v in iso.X_thresholds_),
                   tuple(float(v) for v in iso.y_thresholds_), n_pairs, n_same, n_pairs)

    def probability(self, match_weight: Any) -> np.ndarray:
        """The calibrated probability of each weight: the sigmoid of ``slope * w + intercept``; or
        the isotonic map inside the decided weights, below them the model's own probability, at
        most the map's lowest value, and above them the model's own, at least the map's highest."""
        weight = np.asarray(match_weight, dtype=float)
        if self.method == "sigmoid":
            return proba_from_weight(self.slope * weight + self.intercept)
        knots_w, knots_p = np.asarray(self.knot_weight), np.asarray(self.knot_probability)
        model = proba_from_weight(weight)
        inside = np.interp(weight, knots_w, knots_p)
        out = np.where(weight < knots_w[0], np.minimum(model, knots_p[0]), inside)
        return np.where(weight > knots_w[-1], np.maximum(model, knots_p[-1]), out)

    def to_dict(self) -> dict[str, Any]:
        """The map as JSON data (the knots and how many decisions made it)."""
        if self.method == "sigmoid":
            return {"method": "sigmoid", "slope": self.slope, "intercept": self.intercept, "n_pairs": self.n_pairs,
                    "n_same": self.n_same, "n_fitted": self.n_fitted}
        return {"method": "isotonic", "weight": list(self.knot_weight), "probability": list(self.knot_probability),
                "n_pairs": self.n_pairs, "n_same": self.n_same}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WeightCalibration":
        """The map :meth:`to_dict` wrote."""
        n_pairs = int(data.get("n_pairs", 0))
        counts = n_pairs, int(data.get("n_same", 0)), int(data.get("n_fitted", n_pairs))
        if data.get("method") == "sigmoid":
            return cls("sigmoid", float(data["slope"]), float(data["intercept"]), (), (), *counts)
        weight, probability = tuple(map(float, data["weight"])), tuple(map(float, data["probability"]))
        increasing = not np.any(np.diff(weight) < 0) and not np.any(np.diff(probability) < 0)
        if len(weight) != len(probability) or not weight or not increasing:
            raise ValueError("the calibration's knots must be two equally long, non-empty, increasing lists; "
                             "refit it from the decisions")
        return cls("isotonic", float("nan"), float("nan"), weight, probability, *counts)
