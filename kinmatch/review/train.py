"""Learning from reviewers' decisions: a supervised model on the decided pairs.

Each decided pair (同一人 = 1, 非同一人 = 0; 不确定 is left out) contributes its comparison levels,
stored when the pairs were loaded. :class:`kinmatch.match.model.SupervisedLinker` (logistic
regression on one-hot levels, Platt-calibrated) is fitted on them, and its cross-validated quality
is set beside the unsupervised model's stored probabilities on the same pairs::

    >>> from kinmatch.review import Store, train_from_store           # doctest: +SKIP
    >>> result = train_from_store(Store("cases.db"))                   # doctest: +SKIP
    >>> result.supervised["roc_auc"], result.unsupervised["roc_auc"]   # doctest: +SKIP
    >>> save_model(result.model, "reviewed_model.json")               # doctest: +SKIP
    >>> kinmatch.link(residents, missing, model=load_model("reviewed_model.json"))  # doctest: +SKIP

The saved JSON is a readable table (per comparison, per level: label and weight in log2 odds, plus
the prior), never a pickle. :func:`load_model` gives an object with the scoring interface
``kinmatch.link`` accepts (``weight_table``, ``match_weight``, ``predict_proba``, ``prior_weight_``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import select

from kinmatch._io import atomic_write
from kinmatch.errors import InputError
from kinmatch.review import schema as s
from kinmatch.review.store import Store

__all__ = ["TrainResult", "decided_pairs", "train_from_store", "save_model", "load_model", "LinearLinkModel"]

JSON_FORMAT = "kinmatch.SupervisedLinker.linear"
JSON_VERSION = 1


class TrainResult(NamedTuple):
    """``model`` (fitted SupervisedLinker), cross-validated ``supervised`` metrics, the
    ``unsupervised`` model's metrics on the same pairs, ``n_pairs`` used and ``n_skipped``
    (decided pairs stored without comparison levels)."""

    model: Any
    supervised: dict
    unsupervised: dict
    n_pairs: int
    n_skipped: int


def decided_pairs(store: Store) -> tuple[pd.DataFrame, pd.Series, pd.Series, int]:
    """``(levels, labels, stored_probability, n_skipped)`` for pairs currently decided same
    (1) or not_same (0); levels is indexed by ``(resident_id, missing_id)``."""
    current = store.current_decisions()
    current = current[current["decision"].isin(["same", "not_same"])]
    with store.engine.connect() as conn:
        rows = conn.execute(select(s.candidates.c.resident_id, s.candidates.c.missing_id,
                                   s.candidates.c.levels_json, s.candidates.c.match_probability)).all()
    stored = {(r, m): (levels, p) for r, m, levels, p in rows}
    records, labels, probability, skipped = [], [], [], 0
    keys = []
    for resident_id, missing_id, decision in zip(current["resident_id"], current["missing_id"], current["decision"]):
        levels, p = stored.get((resident_id, missing_id), (None, None))
        if not levels:
            skipped += 1
            continue
        records.append(json.loads(levels))
        labels.append(1 if decision == "same" else 0)
        probability.append(p)
        keys.append((resident_id, missing_id))
    index = pd.MultiIndex.from_tuples(keys, names=["resident_id", "missing_id"]) if keys else None
    levels = pd.DataFrame(records, index=index).fillna(-1).astype(int)
    return (levels, pd.Series(labels, index=index, name="label", dtype=int),
            pd.Series(probability, index=index, name="match_probability", dtype=float), skipped)


def train_from_store(store: Store, cv: int = 5, random_state: int | None = 0) -> TrainResult:
    """Fit a :class:`~kinmatch.match.model.SupervisedLinker` on the store's decided pairs.

    Folds are reduced to the size of the smaller class when few pairs are decided (at least 2
    of each decision are needed). Raises :class:`~kinmatch.errors.InputError` otherwise.
    """
    from kinmatch.match.comparisons import N_LEVELS
    from kinmatch.match.model import SupervisedLinker, evaluate_scores

    levels, labels, probability, skipped = decided_pairs(store)
    n_same, n_not = int(labels.sum()), int((labels == 0).sum())
    if min(n_same, n_not) < 2:
        raise InputError(f"the store has {n_same} pair(s) decided 同一人 and {n_not} decided 非同一人 "
                         f"(with comparison levels; {skipped} decided pair(s) had none); training needs at "
                         f"least 2 of each. Review more pairs, or load candidates with their records so "
                         f"levels are stored.")
    from threadpoolctl import threadpool_limits

    folds = max(2, min(int(cv), n_same, n_not))
    comparisons = [c for c in N_LEVELS if c in levels.columns]
    model = SupervisedLinker(calibration="sigmoid", cv=folds, random_state=random_state,
                             levels={c: N_LEVELS[c] for c in comparisons})
    # A few hundred pairs x a few dozen one-hot columns: multi-threaded BLAS only adds thread
    # start-up and, on a busy machine, contention (measured 15x slower than one thread).
    with threadpool_limits(limits=1):
        supervised = model.cross_validate(levels[comparisons], labels)
        model.fit(levels[comparisons], labels)
    unsupervised = evaluate_scores(probability.to_numpy(), labels.to_numpy())
    return TrainResult(model, supervised, unsupervised, int(len(labels)), skipped)


def save_model(model, path: str | os.PathLike | None = None, metrics: dict | None = None) -> str:
    """Write a linear SupervisedLinker as readable JSON (weights per comparison level, log2 odds).

    Written atomically when ``path`` is given; the text is returned either way."""
    from kinmatch.match.comparisons import LEVEL_LABELS

    if getattr(model, "weight_method_", None) != "linear":
        raise InputError("only a linear, sigmoid-calibrated SupervisedLinker can be saved as a weight "
                         "table; train it with train_from_store (which fits one)")
    comparisons = {}
    for name in model.comparisons_:
        n_levels = model.levels_[name]
        probe = pd.DataFrame({c: [-1] * n_levels for c in model.comparisons_})
        probe[name] = range(n_levels)
        weights = model.weight_table(probe)[name].to_numpy()
        comparisons[name] = {"n_levels": n_levels, "levels": [
            {"level": k, "label": LEVEL_LABELS.get(name, {}).get(k), "weight": float(weights[k])}
            for k in range(n_levels)]}
    data = {"format": JSON_FORMAT, "version": JSON_VERSION, "prior_weight": float(model.prior_weight_),
            "comparisons": comparisons,
            "trained_on": {"n_pairs": model.n_pairs_, "n_matches": model.n_matches_, **(metrics or {})}}
    text = json.dumps(data, ensure_ascii=False, indent=2, default=float)
    if path is not None:
        with atomic_write(path) as handle:
            handle.write(text + "\n")
    return text


class LinearLinkModel:
    """A saved supervised model: per-level weights plus a prior, scored like FellegiSunter.

    A missing level (-1) adds zero weight, as in training (its one-hot block was all zeros)."""

    def __init__(self, weights: dict[str, np.ndarray], prior_weight: float):
        self.weights_ = {name: np.asarray(values, dtype=float) for name, values in weights.items()}
        self.prior_weight_ = float(prior_weight)
        self.comparisons_ = list(self.weights_)

    def weight_table(self, vectors: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
        table = {}
        for name, weights in self.weights_.items():
            if name not in vectors.columns:
                raise InputError(f"the vectors have no {name!r} column, which this model scores; compute "
                                 f"the same comparisons (kinmatch.match.comparisons) first")
            levels = pd.to_numeric(vectors[name], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
            if levels.max(initial=-1) >= len(weights):
                raise InputError(f"comparison {name!r} has level {levels.max()} but the model knows "
                                 f"{len(weights)} levels; retrain it on the current comparisons")
            table[prefix + name] = np.where(levels >= 0, weights[np.maximum(levels, 0)], 0.0)
        return pd.DataFrame(table, index=vectors.index)

    def match_weight(self, vectors: pd.DataFrame) -> pd.Series:
        return pd.Series(self.weight_table(vectors).to_numpy().sum(axis=1) + self.prior_weight_,
                         index=vectors.index, name="match_weight")

    def predict_proba(self, vectors: pd.DataFrame) -> pd.Series:
        weight = self.match_weight(vectors).to_numpy()
        return pd.Series(1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000))), index=vectors.index,
                         name="match_probability")


def load_model(path_or_text: str | os.PathLike) -> LinearLinkModel:
    """Load a model written by :func:`save_model` (a path or the JSON text)."""
    text = str(path_or_text)
    if not text.lstrip().startswith("{"):
        path = Path(path_or_text)
        if not path.is_file():
            raise InputError(f"model file {path} does not exist; write it with `kinmatch train --save`")
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"the model JSON cannot be parsed ({error}); use the file `kinmatch train --save` wrote") from error
    if data.get("format") != JSON_FORMAT or data.get("version") != JSON_VERSION:
        raise InputError(f"this JSON is not a reviewed-pairs model (format={data.get('format')!r}); "
                         f"write one with `kinmatch train --save`")
    weights = {name: [level["weight"] for level in entry["levels"]] for name, entry in data["comparisons"].items()}
    return LinearLinkModel(weights, data["prior_weight"])
