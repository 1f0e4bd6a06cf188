"""Quality of match probabilities against reviewed labels, the same numbers for any model."""

from __future__ import annotations

import numpy as np

__all__ = ["evaluate_scores"]


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
