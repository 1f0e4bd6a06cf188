"""Learning from reviewers' decisions: a supervised model on the decided pairs.

Each decided pair (同一人 = 1, 非同一人 = 0; 不确定 is left out) contributes its comparison levels,
stored when the pairs were loaded. :class:`kinmatch.match.model.SupervisedLinker` (logistic
regression on one-hot levels, Platt-calibrated) is fitted on them, and its cross-validated quality
is set beside the unsupervised model's stored probabilities on the same pairs::

    >>> from kinmatch.review import Store, train_from_store           # doctest: +SKIP
    >>> result = train_from_store(Store("cases.db"))                   # doctest: +SKIP
    >>> result.supervised["roc_auc"], result.unsupervised["roc_auc"]   # doctest: +SKIP
    >>> save_model(result.model, "reviewed_model.json")               # doctest: +SKIP
    >>> kinmatch.link(residents, missing, model="reviewed_model.json")  # doctest: +SKIP

The saved JSON is a readable table (per comparison, per level: label and weight in log2 odds, plus
the prior), never a pickle, in the Fellegi–Sunter model format (written by the model's one JSON
writer), so the next run uses it with ``kinmatch link ... --model reviewed_model.json``.
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import select

from kinmatch.errors import InputError
from kinmatch.review import schema as s
from kinmatch.review.store import Store

__all__ = ["TrainResult", "decided_pairs", "train_from_store", "save_model", "load_model"]


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
    for resident_id, missing_id, decision in zip(current["resident_id"], current["missing_id"], current["decision"],
                                                 strict=True):
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


def train_from_store(store: Store, cv: int = 5, random_state: int | None = 0, settings=None) -> TrainResult:
    """Fit a :class:`~kinmatch.match.model.SupervisedLinker` on the store's decided pairs, on the
    comparisons of ``settings`` (a :class:`~kinmatch.match.settings.LinkSettings`; None: the defaults).

    Folds are reduced to the size of the smaller class when few pairs are decided (at least 2
    of each decision are needed). Raises :class:`~kinmatch.errors.InputError` otherwise.
    """
    from kinmatch.match.model import SupervisedLinker, evaluate_scores
    from kinmatch.match.settings import resolve_settings

    n_levels = {c.name: c.n_levels for c in resolve_settings(settings).comparisons}

    levels, labels, probability, skipped = decided_pairs(store)
    n_same, n_not = int(labels.sum()), int((labels == 0).sum())
    if min(n_same, n_not) < 2:
        raise InputError(f"the store has {n_same} pair(s) decided 同一人 and {n_not} decided 非同一人 "
                         f"(with comparison levels; {skipped} decided pair(s) had none); training needs at "
                         f"least 2 of each. Review more pairs, or load candidates with their records so "
                         f"levels are stored.")
    from threadpoolctl import threadpool_limits

    folds = max(2, min(int(cv), n_same, n_not))
    comparisons = [c for c in n_levels if c in levels.columns]
    model = SupervisedLinker(calibration="sigmoid", cv=folds, random_state=random_state,
                             levels={c: n_levels[c] for c in comparisons})
    # A few hundred pairs x a few dozen one-hot columns: multi-threaded BLAS only adds thread
    # start-up and, on a busy machine, contention (measured 15x slower than one thread).
    with threadpool_limits(limits=1):
        supervised = model.cross_validate(levels[comparisons], labels)
        model.fit(levels[comparisons], labels)
    unsupervised = evaluate_scores(probability.to_numpy(), labels.to_numpy())
    return TrainResult(model, supervised, unsupervised, int(len(labels)), skipped)


def save_model(model, path: str | os.PathLike | None = None, metrics: dict | None = None, settings=None) -> str:
    """Write a linear SupervisedLinker as a model ``kinmatch link --model`` reads.

    A calibrated logistic model on one-hot levels scores a pair as a prior plus one weight per
    comparison level, in log2 odds: exactly the form of a Fellegi–Sunter model. So the model is
    converted by :meth:`~kinmatch.match.model.SupervisedLinker.to_fellegi_sunter` (per comparison,
    per level: label and learnt weight; ``fitted_on`` says ``method: "supervised"``;
    ``"supervised"`` says how the weights were learnt, with ``metrics``) and written by the one
    model writer, :meth:`~kinmatch.match.model.FellegiSunter.to_json`. ``FellegiSunter.from_json``
    then scores exactly as the fitted model does. Written atomically when ``path`` is given; the
    text is returned either way. ``settings``: the link settings whose comparisons made the
    levels (None: the defaults); their labels and JSON go into the model.
    """
    from kinmatch.match.settings import resolve_settings

    settings = resolve_settings(settings)
    by_name = {c.name: c for c in settings.comparisons}

    if getattr(model, "weight_method_", None) != "linear":
        raise InputError("only a linear, sigmoid-calibrated SupervisedLinker can be saved as a weight "
                         "table; train it with train_from_store (which fits one)")
    labels = {name: dict(by_name[name].labels) for name in model.comparisons_ if name in by_name}
    return model.to_fellegi_sunter(level_labels=labels or None, metrics=metrics,
                                   settings=settings.to_dict()).to_json(path)


def load_model(path_or_text: str | os.PathLike):
    """Load a model written by :func:`save_model` (a FellegiSunter, as ``kinmatch link --model`` does)."""
    from kinmatch.match.model import FellegiSunter

    return FellegiSunter.from_json(path_or_text)
