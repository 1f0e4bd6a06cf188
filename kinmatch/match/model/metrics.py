"""Quality of match probabilities against reviewed labels, the same numbers for any model."""

from __future__ import annotations

import numpy as np

__all__ = ["evaluate_scores", "calibration_table", "CALIBRATION_BANDS"]

CALIBRATION_BANDS = (0.0, 0.2, 0.5, 0.8, 0.95, 0.99, 1.0)
"""Edges of the probability bands of :func:`calibration_table` (the last band includes 1.0)."""


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


def calibration_table(proba, labels, bands=CALIBRATION_BANDS):
    """Predicted against observed by probability band: per band the pairs, their mean predicted
    probability, the share that are true and the difference (observed - predicted; negative:
    the model is overconfident there).

    Read a band with few pairs with care: its observed share moves by ±1/√pairs.

        >>> calibration_table([0.1, 0.15, 0.9, 0.92, 0.97], [0, 0, 1, 0, 1]).to_dict("records")[0]
        {'band': '<0.2', 'pairs': 2, 'mean_predicted': 0.125, 'observed': 0.0, 'difference': -0.125}
    """
    import pandas as pd

    proba = np.asarray(proba, dtype=float)
    labels = np.asarray(labels).astype(int)
    edges = np.asarray(bands, dtype=float)
    # the top band is closed on both sides, so a probability of exactly 1.0 counts in it
    band = np.clip(np.searchsorted(edges, proba, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for i in range(len(edges) - 1):
        low, high = edges[i], edges[i + 1]
        name = (f"<{high:g}" if i == 0 else f"≥{low:g}" if i == len(edges) - 2 else f"{low:g}–{high:g}")
        inside = band == i
        n = int(inside.sum())
        predicted = float(proba[inside].mean()) if n else float("nan")
        observed = float(labels[inside].mean()) if n else float("nan")
        rows.append({"band": name, "pairs": n, "mean_predicted": predicted, "observed": observed,
                     "difference": observed - predicted})
    return pd.DataFrame(rows)
