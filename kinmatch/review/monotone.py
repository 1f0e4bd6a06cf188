"""A logistic regression on one-hot comparison levels whose weights keep ordered levels in order
and stay near the current model's weights unless the decisions say otherwise.

Used by :func:`kinmatch.review.train.train_from_store` as the estimator of a
:class:`~kinmatch.match.model.SupervisedLinker`. Two things keep a few hundred (or a few dozen,
one-sided) reviewer decisions from making linking worse:

* **order**: for a comparison whose levels are ordered (``Comparison.ordered``: 性别相符 above 性别不符,
  发现地即走失地 above 发现地很远), the weight of a level is never below the weight of a weaker one.
  The weights are parametrised as the weakest level's weight plus non-negative steps, so the
  constraint is exact (bounds of L-BFGS-B), not a repair after the fit;
* **anchor**: the ridge penalty pulls each weight towards the current model's weight for that
  level (``anchor``), not towards zero, so a level the decisions say little about keeps the weight
  the studio has been working with.

Why hand-written: scikit-learn's ``LogisticRegression`` has neither bounds on coefficients nor a
penalty centred elsewhere than zero; the objective here is the same penalised log-likelihood,
minimised with scipy's L-BFGS-B (scipy comes with scikit-learn).

    >>> import numpy as np
    >>> X = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=float)   # one comparison, two levels
    >>> y = np.array([1, 0, 1, 0])                                     # decisions against the order
    >>> model = MonotoneLogisticRegression(blocks=(2,), ordered=(True,)).fit(X, y)
    >>> bool(model.coef_[0, 1] >= model.coef_[0, 0])                  # level 1 still weighs no less
    True
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["MonotoneLogisticRegression"]


class MonotoneLogisticRegression(ClassifierMixin, BaseEstimator):
    """Penalised logistic regression on one-hot blocks (one block of ``blocks[j]`` columns per
    comparison, in order), the coefficients of each block with ``ordered[j]`` non-decreasing.

    Parameters: ``blocks`` (columns per comparison), ``ordered`` (one bool per block), ``anchor``
    (coefficients, natural-log units, the penalty pulls towards; None: zeros), ``C`` (inverse
    penalty strength, as scikit-learn's), ``max_iter``. Fitted: ``coef_`` (1 × columns),
    ``intercept_``, ``classes_``, ``n_iter_`` (array of one), ``converged_``.
    """

    def __init__(self, blocks=(), ordered=(), anchor=None, C=1.0, max_iter=1000):
        self.blocks = blocks
        self.ordered = ordered
        self.anchor = anchor
        self.C = C
        self.max_iter = max_iter

    def _transform(self, n_features: int) -> tuple[np.ndarray, list[tuple[float | None, float | None]]]:
        """``T`` with coefficients = T @ theta, and the bounds of theta (steps of ordered blocks >= 0)."""
        blocks = [int(b) for b in self.blocks]
        ordered = list(self.ordered) if len(self.ordered) else [False] * len(blocks)
        if sum(blocks) != n_features or len(ordered) != len(blocks):
            raise ValueError(f"blocks {blocks} (ordered {ordered}) do not describe {n_features} columns")
        transform = np.zeros((n_features, n_features))
        bounds: list[tuple[float | None, float | None]] = []
        start = 0
        for size, is_ordered in zip(blocks, ordered, strict=True):
            if is_ordered:
                # coefficient k = theta_start + steps 1..k
                transform[start:start + size, start:start + size] = np.tril(np.ones((size, size)))
                bounds += [(None, None)] + [(0.0, None)] * (size - 1)
            else:
                transform[start:start + size, start:start + size] = np.eye(size)
                bounds += [(None, None)] * size
            start += size
        return transform, bounds

    def fit(self, X, y):
        from scipy.optimize import minimize

        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        self.classes_ = np.array([0, 1])
        transform, bounds = self._transform(X.shape[1])
        anchor = np.zeros(X.shape[1]) if self.anchor is None else np.asarray(self.anchor, dtype=float)
        penalty = 1.0 / float(self.C)

        def objective(params):
            theta, intercept = params[:-1], params[-1]
            coef = transform @ theta
            z = X @ coef + intercept
            # log(1 + e^z) - y z, written stably
            loss = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * penalty * np.sum((coef - anchor) ** 2)
            residual = 1.0 / (1.0 + np.exp(-z)) - y
            grad_coef = X.T @ residual + penalty * (coef - anchor)
            return loss, np.r_[transform.T @ grad_coef, residual.sum()]

        # start from the anchor, its ordered blocks put in order (steps clipped at zero)
        start = np.linalg.solve(transform, anchor)
        start = np.array([max(v, lo) if lo is not None else v for v, (lo, _) in zip(start, bounds, strict=True)])
        result = minimize(objective, np.r_[start, 0.0], jac=True, method="L-BFGS-B",
                          bounds=bounds + [(None, None)], options={"maxiter": int(self.max_iter)})
        self.coef_ = (transform @ result.x[:-1])[None, :]
        self.intercept_ = np.array([result.x[-1]])
        self.n_iter_ = np.array([int(result.nit)])
        self.converged_ = bool(result.success)
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=float) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.c_[1.0 - p, p]

    def predict(self, X):
        return (self.decision_function(X) >= 0).astype(int)
