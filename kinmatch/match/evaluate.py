"""Quality of a candidate table against known truth: recall@k, MRR, false leads.

Used by ``bench/bench_linkage.py`` on simulated data, and by a studio on its own confirmed reunions.

    >>> import pandas as pd
    >>> candidates = pd.DataFrame({"resident_id": ["R1", "R1", "R2"],
    ...                            "missing_id": ["M9", "M1", "M5"], "rank": [1, 2, 1]})
    >>> truth = pd.DataFrame({"resident_id": ["R1", "R2"], "missing_id": ["M1", "M2"]})
    >>> first_true_rank(candidates, truth).to_dict()
    {'R1': 2.0, 'R2': nan}
    >>> recall_at_k(candidates, truth, ks=(1, 10))
    {'recall@1': 0.0, 'recall@10': 0.5}
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd


def first_true_rank(candidates: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """Rank of the best-ranked true report per resident that has one (NaN: not in the table). A
    row that stands for a cluster of duplicate reports (a ``cluster_members`` column, as
    :func:`kinmatch.link` writes by default) is a hit when any of its members is true.

        >>> clustered = pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M9"], "rank": [1],
        ...                           "cluster_members": ["M1;M9"]})
        >>> first_true_rank(clustered, pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M1"]})).tolist()
        [1.0]
    """
    residents = pd.Index(truth["resident_id"].astype(str).unique(), name="resident_id")
    if candidates.empty:
        return pd.Series(np.nan, index=residents, name="first_true_rank")
    pairs = candidates[["resident_id", "missing_id", "rank"]].astype({"resident_id": str, "missing_id": str})
    if "cluster_members" in candidates.columns and candidates["cluster_members"].notna().any():
        members = candidates["cluster_members"]
        clustered = candidates.loc[members.notna(), ["resident_id", "rank"]].astype({"resident_id": str})
        clustered = clustered.assign(missing_id=members[members.notna()].astype(str).str.split(";"))
        pairs = pd.concat([pairs, clustered.explode("missing_id")[["resident_id", "missing_id", "rank"]]],
                          ignore_index=True)
    hits = pairs.merge(truth[["resident_id", "missing_id"]].astype(str), on=["resident_id", "missing_id"])
    best = hits.groupby("resident_id")["rank"].min().astype(float)
    return best.reindex(residents).rename("first_true_rank")


def recall_at_k(candidates: pd.DataFrame, truth: pd.DataFrame, ks: Iterable[int] = (1, 10, 50),
                residents: Iterable[str] | None = None) -> dict[str, float]:
    """Share of residents with a true report that have one within the top k (per k).

    ``residents`` restricts the denominator (e.g. to one distortion family)."""
    ranks = first_true_rank(candidates, truth)
    if residents is not None:
        ranks = ranks.reindex(pd.Index(list(residents), dtype=str).intersection(ranks.index))
    if len(ranks) == 0:
        return {f"recall@{k}": float("nan") for k in ks}
    return {f"recall@{k}": float((ranks <= k).mean()) for k in ks}


def mean_reciprocal_rank(candidates: pd.DataFrame, truth: pd.DataFrame,
                         residents: Iterable[str] | None = None) -> float:
    """Mean of 1/rank of the first true report (0 when it is not in the table)."""
    ranks = first_true_rank(candidates, truth)
    if residents is not None:
        ranks = ranks.reindex(pd.Index(list(residents), dtype=str).intersection(ranks.index))
    if len(ranks) == 0:
        return float("nan")
    return float((1.0 / ranks).fillna(0.0).mean())


def false_leads(candidates: pd.DataFrame, truth: pd.DataFrame, threshold: float = 0.5) -> dict[str, float]:
    """For residents with no true report: how many candidates score above ``threshold``."""
    with_truth = set(truth["resident_id"].astype(str))
    others = candidates[~candidates["resident_id"].astype(str).isin(with_truth)]
    above = others[others["match_probability"] > threshold]
    n_residents = others["resident_id"].nunique()
    return {
        "residents_without_report": int(n_residents),
        "pairs_above_threshold": int(len(above)),
        "residents_with_any_above": int(above["resident_id"].nunique()),
        "share_residents_with_any_above": (float(above["resident_id"].nunique() / n_residents)
                                           if n_residents else float("nan")),
    }


def evaluate_by_family(candidates: pd.DataFrame, truth: pd.DataFrame, distortions: pd.DataFrame,
                       ks: Iterable[int] = (1, 10, 50)) -> pd.DataFrame:
    """recall@k and MRR overall and per distortion family (a resident counts in every family it has)."""
    ks = tuple(ks)
    rows = []
    with_truth = truth["resident_id"].astype(str).unique()
    groups = {"overall": list(with_truth)}
    family_members = (distortions.astype({"resident_id": str}).groupby("family")["resident_id"]
                      .apply(lambda ids: sorted(set(ids) & set(with_truth))))
    groups.update({family: ids for family, ids in family_members.items() if ids})
    for family, ids in groups.items():
        row = {"family": family, "residents": len(ids)}
        row.update(recall_at_k(candidates, truth, ks, residents=ids))
        row["mrr"] = mean_reciprocal_rank(candidates, truth, residents=ids)
        rows.append(row)
    return pd.DataFrame(rows)
