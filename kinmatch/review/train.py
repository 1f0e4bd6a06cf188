"""Learning from reviewers' decisions: a supervised model on the decided pairs, which becomes the
store's default only when it is measurably better than the model in use.

Each decided pair (同一人 = 1, 非同一人 = 0; 不确定 is left out) contributes its comparison levels,
stored when the pairs were loaded. A :class:`kinmatch.match.model.SupervisedLinker` whose estimator
is :class:`~kinmatch.review.monotone.MonotoneLogisticRegression` is fitted on them: weights of
ordered comparisons stay in order, and each weight is pulled towards the current model's weight for
its level, so levels the decisions say little about keep their weights. Its out-of-fold quality is
set beside the current model's on the same pairs, and :func:`compare_models` says whether it beats
the current model by more than the noise of those few pairs::

    >>> from kinmatch.review import Store, train_from_store           # doctest: +SKIP
    >>> result = train_from_store(Store("cases.db"))                   # doctest: +SKIP
    >>> result.gate["beats"], result.gate["reason"]                    # doctest: +SKIP
    >>> save_model(result.model, "reviewed_model.json")               # doctest: +SKIP
    >>> kinmatch.link(residents, missing, model="reviewed_model.json")  # doctest: +SKIP

**When a trained model may become the default** (``kinmatch train --save M.json --make-default``):
at least :data:`MIN_DECISIONS_PER_CLASS` pairs decided each way, and its out-of-fold ROC AUC on
the decided pairs exceeds the current model's by more than :data:`NOISE_SDS` standard deviations
of the difference, measured by a paired bootstrap of the decided pairs (:data:`N_BOOTSTRAP`
resamples, stratified by decision). ROC AUC, not log loss or Brier: reviewers work down a ranked
queue, and the current model's probabilities are calibrated over all pairs, not over the top
candidates reviewers see, so a calibration score would favour any model trained on those.

The current model is the store's default model when one is recorded, else the linking run's model
as the reviewers saw it: the probabilities and partial weights stored with the pairs.

The saved JSON is a readable table (per comparison, per level: label and weight in log2 odds, plus
the prior), never a pickle, in the Fellegi–Sunter model format (written by the model's one JSON
writer), so the next run uses it with ``kinmatch link ... --model reviewed_model.json``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import select

from kinmatch.errors import InputError
from kinmatch.review import schema as s
from kinmatch.review.store import Store

__all__ = ["TrainResult", "decided_pairs", "train_from_store", "compare_models", "current_model",
           "save_model", "load_model", "CalibrationResult", "decided_weights", "calibrate_from_store",
           "calibrate_decisions", "too_few_to_calibrate", "top_heavy_warning", "TOP_RANKS",
           "MIN_DECISIONS_PER_CLASS", "NOISE_SDS", "N_BOOTSTRAP"]

MIN_DECISIONS_PER_CLASS = 20
"""A trained model becomes the default only with at least this many pairs decided 同一人 and as many
decided 非同一人: below that, a held-out ROC AUC moves by tenths from one decision to the next."""

NOISE_SDS = 2.0
"""A trained model becomes the default only when its held-out ROC AUC beats the current model's by
more than this many bootstrap standard deviations of the difference (one-sided, about 98 %)."""

N_BOOTSTRAP = 1000
"""Paired bootstrap resamples of the decided pairs that measure the noise of the AUC difference."""

TOP_RANKS = 3
"""Candidates a reviewer usually reads. A map learnt only from them is too high for the candidates
ranked below: at one weight a resident's fourth to tenth candidate is the person far less often than
its first (bench/RESULTS.md 2026-12-07: at 10,000 × 1,000,000, decisions on the top 3 of each decided
resident leave bands 0.06–0.14 off, decisions on all ten 0.02–0.04), so ``kinmatch train
--calibrate`` warns when the decided pairs hold far fewer of the lower candidates than the store."""


class TrainResult(NamedTuple):
    """``model`` (fitted SupervisedLinker), its out-of-fold ``supervised`` metrics, the ``unsupervised``
    metrics of the probabilities stored with the pairs (what reviewers saw), ``n_pairs`` used,
    ``n_skipped`` (decided pairs stored without comparison levels), and ``gate``: the comparison
    with the current model (:func:`compare_models`) that decides whether it may become the default."""

    model: Any
    supervised: dict
    unsupervised: dict
    n_pairs: int
    n_skipped: int
    gate: dict | None = None


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


def _run_weights(store: Store) -> dict[str, dict[int, float]]:
    """Per comparison and level, the median partial weight stored with the pairs (the linking run's
    model as reviewers saw it; a median because term frequency varies the weight of a name)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(s.candidates.c.levels_json, s.candidates.c.weights_json)).all()
    seen: dict[tuple[str, int], list[float]] = {}
    for levels_json, weights_json in rows:
        if not levels_json or not weights_json:
            continue
        levels, weights = json.loads(levels_json), json.loads(weights_json)
        for name, level in levels.items():
            weight = weights.get(name)
            if int(level) >= 0 and isinstance(weight, (int, float)) and math.isfinite(weight):
                seen.setdefault((name, int(level)), []).append(float(weight))
    out: dict[str, dict[int, float]] = {}
    for (name, level), values in seen.items():
        out.setdefault(name, {})[level] = float(np.median(values))
    return out


def current_model(store: Store, levels: pd.DataFrame, stored_probability: pd.Series
                  ) -> tuple[np.ndarray, dict[str, dict[int, float]], str]:
    """The model a trained one must beat: ``(its scores of the decided pairs, its weights per
    comparison and level in log2 odds, a description)``. The store's default model when one is
    recorded (and its file exists), else the linking run's: the probabilities and weights stored
    with the pairs."""
    recorded = store.default_model()
    if recorded and os.path.isfile(recorded["path"]):
        model = load_model(recorded["path"])
        vectors = levels.reindex(columns=model.comparisons_, fill_value=-1)
        weights = {name: dict(enumerate(model.weights_[name].tolist())) for name in model.comparisons_}
        return model.predict_proba(vectors).to_numpy(), weights, f"the store's default model {recorded['path']}"
    return stored_probability.to_numpy(dtype=float), _run_weights(store), "the linking run's model (stored scores)"


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann–Whitney) formula, ties counted half; NaN without both classes."""
    from scipy.stats import rankdata

    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def compare_models(trained: Any, current: Any, labels: Any, n_bootstrap: int = N_BOOTSTRAP,
                   random_state: int | None = 0, min_per_class: int = MIN_DECISIONS_PER_CLASS) -> dict:
    """Whether scores ``trained`` (out-of-fold) beat scores ``current`` on the decided ``labels``
    by more than the noise: ``{"trained", "current"`` (ROC AUC), ``"difference"``, ``"noise"``
    (bootstrap SD of the difference), ``"required"`` (:data:`NOISE_SDS` × noise), ``"n_same"``,
    ``"n_not_same"``, ``"beats"``, ``"reason"`` (Chinese, for the studio)}.

        >>> rng = np.random.default_rng(0)
        >>> labels = np.r_[np.ones(50), np.zeros(50)]
        >>> good, noisy = labels + rng.normal(0, 0.3, 100), labels + rng.normal(0, 1.5, 100)
        >>> compare_models(good, noisy, labels)["beats"], compare_models(noisy, good, labels)["beats"]
        (True, False)
    """
    trained = np.asarray(trained, dtype=float)
    current = np.nan_to_num(np.asarray(current, dtype=float), nan=0.0)
    labels = np.asarray(labels, dtype=int)
    n_same, n_not = int((labels == 1).sum()), int((labels == 0).sum())
    auc_trained, auc_current = _auc(trained, labels), _auc(current, labels)
    out = {"trained": auc_trained, "current": auc_current, "difference": auc_trained - auc_current,
           "noise": float("nan"), "required": float("nan"), "n_same": n_same, "n_not_same": n_not, "beats": False}
    if min(n_same, n_not) < min_per_class:
        out["reason"] = (f"决定太少：{n_same} 对同一人、{n_not} 对非同一人，每种至少需 {min_per_class} 对，"
                         f"才能在留出的决定上可靠地比较两个模型；请继续审核后再训练")
        return out
    draws = _resamples(labels, int(n_bootstrap), random_state, by_class=True)
    # a resample's AUC ranks its own rows: one resample at a time (a rank per row of a matrix would
    # hold n_bootstrap copies of the decisions at once)
    differences = np.array([_auc(trained[rows], labels[rows]) - _auc(current[rows], labels[rows]) for rows in draws])
    noise, beats = _beats_noise(auc_trained - auc_current, differences)
    out.update(noise=noise, required=NOISE_SDS * noise)
    figures = (f"留出决定上的 ROC AUC：新模型 {auc_trained:.3f}，现用模型 {auc_current:.3f}，"
               f"差 {auc_trained - auc_current:+.3f}，噪声（自助法标准差）{noise:.3f}")
    if beats:
        out["beats"] = True
        out["reason"] = f"新模型更好，超出噪声的 {NOISE_SDS:g} 倍：{figures}"
    else:
        out["reason"] = (f"新模型没有明显更好（需超出噪声的 {NOISE_SDS:g} 倍，即 {NOISE_SDS * noise:.3f}）：{figures}；"
                         f"现用模型保持不变")
    return out


def _resamples(labels: np.ndarray, n: int, random_state: int | None, by_class: bool) -> np.ndarray:
    """The rows of ``n`` paired bootstrap resamples of the decided pairs (an ``n`` × pairs array):
    both scores of a pair are drawn together. ``by_class``: the 同一人 and the 非同一人 pairs are
    drawn apart, each as many as there are (a ranking statistic such as the AUC needs both in every
    resample), the 同一人 first."""
    rng = np.random.default_rng(random_state)
    if not by_class:
        return rng.integers(0, len(labels), size=(n, len(labels)))
    same, other = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    return np.concatenate([rng.choice(same, (n, len(same))), rng.choice(other, (n, len(other)))], axis=1)


def _beats_noise(gain: float, differences: np.ndarray) -> tuple[float, bool]:
    """The noise of ``gain`` (the standard deviation of its bootstrap ``differences``) and whether
    the gain exceeds :data:`NOISE_SDS` times it: the one gate of both the trained model and the
    calibration."""
    noise = float(differences.std(ddof=1))
    return noise, bool(gain > NOISE_SDS * noise)


def _anchor(comparisons: list[str], n_levels: dict[str, int], weights: dict[str, dict[int, float]]) -> np.ndarray:
    """The current model's weight of every one-hot column (natural-log units; 0 where it has none)."""
    values = []
    for name in comparisons:
        known = weights.get(name, {})
        values += [float(known.get(level, 0.0)) * math.log(2) for level in range(n_levels[name])]
    return np.asarray(values)


def train_from_store(store: Store, cv: int = 5, random_state: int | None = 0, settings=None,
                     C: float = 1.0) -> TrainResult:
    """Fit a :class:`~kinmatch.match.model.SupervisedLinker` on the store's decided pairs, on the
    comparisons of ``settings`` (a :class:`~kinmatch.match.settings.LinkSettings`; None: the
    defaults): weights of ordered comparisons in order, pulled towards the current model's with
    strength ``1/C`` (see :mod:`kinmatch.review.monotone`). Scores it out of fold, and compares it
    with the current model (:func:`compare_models`, in ``result.gate``).

    Folds are reduced to the size of the smaller class when few pairs are decided (at least 2
    of each decision are needed). Raises :class:`~kinmatch.errors.InputError` otherwise.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    from kinmatch.match.model import SupervisedLinker, evaluate_scores
    from kinmatch.match.settings import resolve_settings
    from kinmatch.review.monotone import MonotoneLogisticRegression

    by_name = {c.name: c for c in resolve_settings(settings).comparisons}
    levels, labels, probability, skipped = decided_pairs(store)
    n_same, n_not = int(labels.sum()), int((labels == 0).sum())
    if min(n_same, n_not) < 2:
        raise InputError(f"the store has {n_same} pair(s) decided 同一人 and {n_not} decided 非同一人 "
                         f"(with comparison levels; {skipped} decided pair(s) had none); training needs at "
                         f"least 2 of each. Review more pairs, or load candidates with their records so "
                         f"levels are stored.")
    current_scores, current_weights, current_name = current_model(store, levels, probability)
    folds = max(2, min(int(cv), n_same, n_not))
    comparisons = [c for c in by_name if c in levels.columns]
    n_levels = {c: by_name[c].n_levels for c in comparisons}
    estimator = MonotoneLogisticRegression(blocks=tuple(n_levels[c] for c in comparisons),
                                           ordered=tuple(bool(by_name[c].ordered) for c in comparisons),
                                           anchor=tuple(_anchor(comparisons, n_levels, current_weights)), C=C)
    model = SupervisedLinker(estimator=estimator, calibration=None, cv=folds, random_state=random_state,
                             levels=n_levels)
    vectors, y = levels[comparisons], labels.to_numpy()
    out_of_fold = np.zeros(len(y))
    # A few hundred pairs x a few dozen one-hot columns: multi-threaded BLAS only adds thread
    # start-up and, on a busy machine, contention.
    with threadpool_limits(limits=1):
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=random_state).split(vectors, y):
            fold_model = clone(model).fit(vectors.iloc[train], y[train])
            out_of_fold[test] = fold_model.predict_proba(vectors.iloc[test]).to_numpy()
        model.fit(vectors, y)
    supervised = evaluate_scores(out_of_fold, y)
    supervised["folds"] = folds
    unsupervised = evaluate_scores(probability.to_numpy(), y)
    gate = compare_models(out_of_fold, current_scores, y, random_state=random_state)
    gate["current_model"] = current_name
    return TrainResult(model, supervised, unsupervised, int(len(labels)), skipped, gate)


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


# ---- recalibrating the probabilities of the model in use ---------------------------------------

class CalibrationResult(NamedTuple):
    """Result of :func:`calibrate_from_store`. ``model``: the model in use with the map fitted on
    every decided pair as its ``calibration_`` (weights, and so ranking, unchanged); ``before`` and
    ``after``: :func:`~kinmatch.match.model.metrics.calibration_table` of the decided pairs under
    the model's probabilities and under the map fitted without the pair's resident (out of fold);
    ``scores_before`` / ``scores_after``: :func:`~kinmatch.match.model.evaluate_scores` of the
    same; ``gate``: whether the out-of-fold Brier score improves by more than the noise
    (``{"before", "after", "difference", "noise", "beats", "reason"}``, the reason in Chinese);
    counts of pairs used, pairs decided without a stored weight and pairs another model scored;
    ``rank_coverage``: the share of candidates ranked below :data:`TOP_RANKS` among the decided pairs
    and among every stored pair (``{"decided", "stored"}``, :func:`calibrate_from_store` only)."""

    model: Any
    before: pd.DataFrame
    after: pd.DataFrame
    scores_before: dict
    scores_after: dict
    gate: dict
    n_pairs: int
    n_same: int
    n_no_weight: int
    n_other_model: int
    folds: int
    rank_coverage: dict | None = None


def decided_weights(store: Store, model) -> tuple[pd.DataFrame, int, int]:
    """The decided pairs (同一人 = 1, 非同一人 = 0) with the match weight the linking run stored for
    them: ``(frame of resident_id, missing_id, match_weight, label and rank, n_no_weight,
    n_other_model)``; ``frame.attrs["stored_ranks"]`` holds the rank of every stored pair.
    Only pairs scored by ``model`` count (its ``model_version``, with or without a calibration;
    pairs loaded without a version are taken as scored by it): another model's weights mean
    something else."""
    from kinmatch.match.pipeline import model_version

    versions = {model_version(model)}
    calibration = getattr(model, "calibration_", None)
    if calibration is not None:  # the same weights before this model's map was fitted
        model.calibration_ = None
        versions.add(model_version(model))
        model.calibration_ = calibration
    current = store.current_decisions()
    current = current[current["decision"].isin(["same", "not_same"])]
    with store.engine.connect() as conn:
        rows = conn.execute(select(s.candidates.c.resident_id, s.candidates.c.missing_id,
                                   s.candidates.c.match_weight, s.candidates.c.model_version,
                                   s.candidates.c.rank)).all()
    stored = {(r, m): (w, v, k) for r, m, w, v, k in rows}
    records, no_weight, other_model = [], 0, 0
    for resident_id, missing_id, decision in zip(current["resident_id"], current["missing_id"], current["decision"],
                                                 strict=True):
        weight, version, rank = stored.get((resident_id, missing_id), (None, None, None))
        if weight is None or not math.isfinite(float(weight)):
            no_weight += 1
        elif version and version not in versions:
            other_model += 1
        else:
            records.append((str(resident_id), str(missing_id), float(weight), int(decision == "same"), rank))
    frame = pd.DataFrame(records, columns=["resident_id", "missing_id", "match_weight", "label", "rank"])
    frame.attrs["stored_ranks"] = pd.Series([k for _, _, _, _, k in rows], dtype=float)
    return frame, no_weight, other_model


def too_few_to_calibrate(n_same: int, n_not: int, n_no_weight: int = 0, n_other_model: int = 0) -> str:
    """The studio's message when the decisions are too few to recalibrate on (Chinese).

        >>> too_few_to_calibrate(5, 100).split("；")[0]
        '已决定的配对太少，不能校准概率：105 对（同一人 5 对，非同一人 100 对）'
    """
    from kinmatch.match.model.calibration import MIN_CALIBRATION_PAIRS, MIN_PER_CLASS

    skipped = ""
    if n_no_weight or n_other_model:
        skipped = (f"（另有 {n_no_weight} 对没有保存匹配权重，{n_other_model} 对是别的模型打的分，未计入；"
                   f"用现用模型重新运行 kinmatch link 并 kinmatch review load 后可计入）")
    return (f"已决定的配对太少，不能校准概率：{n_same + n_not} 对（同一人 {n_same} 对，非同一人 {n_not} 对）{skipped}；"
            f"至少需要 {MIN_CALIBRATION_PAIRS} 对，其中同一人、非同一人各至少 {MIN_PER_CLASS} 对。决定太少时，"
            f"每个概率段里实际是同一人的比例会随一两个决定大幅变动，校准反而会让概率失真。现用模型的概率保持不变；"
            f"请继续审核候选（同一人 / 非同一人都要记录），再运行 kinmatch train --calibrate。")


def calibrate_from_store(store: Store, model, method: str = "sigmoid", cv: int = 5,
                         random_state: int | None = 0) -> CalibrationResult:
    """Fit the map from ``model``'s match weight to the share of decided pairs that were the same
    person (:meth:`~kinmatch.match.model.FellegiSunter.calibrate`, ``method`` sigmoid or
    isotonic) on the store's decided pairs that ``model`` scored, and measure it out of fold:
    folds of residents (a resident's pairs are never split between fitting and measuring), the
    calibration table and scores of the decided pairs before (the model's probabilities) and after
    (each fold's pairs by the map fitted on the other folds). ``model`` is changed in place (its
    ``calibration_``) and returned in the result; its weights and ranking are not touched.

    Raises :class:`~kinmatch.errors.InputError` (:func:`too_few_to_calibrate`) below
    :data:`~kinmatch.match.model.calibration.MIN_CALIBRATION_PAIRS` decided pairs or
    :data:`~kinmatch.match.model.calibration.MIN_PER_CLASS` of each decision.
    """
    from kinmatch.match.model.calibration import enough_decisions

    if not hasattr(model, "probability_of_weight") or not hasattr(model, "calibrate"):
        raise InputError(f"the model in use ({type(model).__name__}) has no match weight to calibrate; calibrate "
                         f"the Fellegi–Sunter model that `kinmatch link --save-model` writes")
    frame, n_no_weight, n_other = decided_weights(store, model)
    labels = frame["label"].to_numpy(dtype=int)
    if not enough_decisions(labels):
        raise InputError(too_few_to_calibrate(int(labels.sum()), int((labels == 0).sum()), n_no_weight, n_other))
    def below_top(ranks) -> float:
        ranks = pd.to_numeric(pd.Series(ranks), errors="coerce").dropna()
        return float((ranks > TOP_RANKS).mean()) if len(ranks) else float("nan")

    coverage = {"decided": below_top(frame["rank"]), "stored": below_top(frame.attrs["stored_ranks"])}
    return calibrate_decisions(model, frame["match_weight"].to_numpy(dtype=float), labels,
                               frame["resident_id"].to_numpy(), method, cv, random_state)._replace(
        n_no_weight=n_no_weight, n_other_model=n_other, rank_coverage=coverage)



def top_heavy_warning(coverage: dict | None) -> str | None:
    """The studio's warning (Chinese) when the decided pairs are mostly candidates ranked in the top
    :data:`TOP_RANKS`, while the store holds many below; None when they are not.

        >>> top_heavy_warning({"decided": 0.05, "stored": 0.7}).split("，")[0]
        '注意：已决定的配对中只有 5% 排在第 3 位之后'
        >>> top_heavy_warning({"decided": 0.6, "stored": 0.7}) is None
        True
    """
    if not coverage or not coverage["stored"] > 0 or coverage["decided"] >= coverage["stored"] / 2:
        return None
    return (f"注意：已决定的配对中只有 {coverage['decided']:.0%} 排在第 {TOP_RANKS} 位之后，而全部候选中有 "
            f"{coverage['stored']:.0%}。同样的权重，排名靠后的候选是同一人的可能小得多；只用前几位的决定校准，"
            f"会把靠后候选的概率算高。请把已审核住户的全部候选都标上决定（同一人 / 非同一人），再运行 "
            f"kinmatch train --calibrate。")


def calibrate_decisions(model, match_weight: Any, labels: Any, residents: Any, method: str = "sigmoid",
                        cv: int = 5, random_state: int | None = 0) -> CalibrationResult:
    """:func:`calibrate_from_store` on given decisions: ``match_weight`` of each decided pair as
    ``model`` scored it, ``labels`` (1 = 同一人), ``residents`` (the pair's resident, which keeps a
    resident's pairs in one fold). Raises ValueError when the decisions are too few."""
    from sklearn.model_selection import StratifiedGroupKFold

    from kinmatch.match.model import evaluate_scores
    from kinmatch.match.model.calibration import WeightCalibration, enough_decisions, shortfall
    from kinmatch.match.model.metrics import calibration_table

    weight, labels = np.asarray(match_weight, dtype=float), np.asarray(labels).astype(int)
    if not enough_decisions(labels):
        raise ValueError(shortfall(labels))
    n_same, n_not = int(labels.sum()), int((labels == 0).sum())
    before = np.asarray(model.probability_of_weight(weight), dtype=float)
    groups = pd.factorize(pd.Series(residents).astype(str))[0]
    folds = max(2, min(int(cv), n_same, n_not, int(groups.max()) + 1))
    after = np.full(len(weight), np.nan)
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=random_state)
    for train, test in splitter.split(weight, labels, groups):
        fold = WeightCalibration.fit(weight[train], labels[train], method, require_enough=False)
        after[test] = fold.probability(weight[test])
    model.calibrate(weight, labels, method)
    gate = _brier_gate(before, after, labels, random_state)
    return CalibrationResult(model, calibration_table(before, labels), calibration_table(after, labels),
                             evaluate_scores(before, labels), evaluate_scores(after, labels), gate,
                             int(len(weight)), n_same, 0, 0, folds)


def _brier_gate(before: np.ndarray, after: np.ndarray, labels: np.ndarray, random_state: int | None) -> dict:
    """Whether the recalibrated probabilities (out of fold) beat the model's on the decided pairs:
    the Brier score (mean squared error of the probability, a proper score: lower only when the
    probabilities are closer to the frequencies) lower by more than :data:`NOISE_SDS` paired
    bootstrap standard deviations of the difference (:data:`N_BOOTSTRAP` resamples)."""
    error_before, error_after = (before - labels) ** 2, (after - labels) ** 2
    draws = _resamples(labels, N_BOOTSTRAP, random_state, by_class=False)
    differences = error_before[draws].mean(axis=1) - error_after[draws].mean(axis=1)
    gain = float(error_before.mean() - error_after.mean())
    noise, beats = _beats_noise(gain, differences)
    figures = (f"留出决定上的 Brier 分数（越低越好）：校准前 {error_before.mean():.4f}，"
               f"校准后 {error_after.mean():.4f}，改善 {gain:+.4f}，噪声（自助法标准差）{noise:.4f}")
    reason = (f"校准后的概率更接近实际，改善超出噪声的 {NOISE_SDS:g} 倍：{figures}" if beats else
              f"校准后的概率没有明显更接近实际（需超出噪声的 {NOISE_SDS:g} 倍，即 {NOISE_SDS * noise:.4f}）：{figures}")
    return {"before": float(error_before.mean()), "after": float(error_after.mean()), "difference": gain,
            "noise": noise, "beats": beats, "reason": reason}
