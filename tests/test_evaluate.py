import math

import pandas as pd
import pytest

from kinmatch.match.evaluate import evaluate_by_family, false_leads, mean_reciprocal_rank, recall_at_k


@pytest.fixture
def tables():
    candidates = pd.DataFrame({
        "resident_id": ["R1", "R1", "R1", "R2", "R2", "R3", "R4"],
        "missing_id": ["M7", "M1", "M8", "M2", "M9", "M4", "M6"],
        "rank": [1, 2, 3, 1, 2, 1, 1],
        "match_probability": [0.9, 0.8, 0.1, 0.95, 0.2, 0.3, 0.7],
    })
    # R1's true report is ranked 2; R2 has two true reports (one ranked 1); R3's is absent.
    truth = pd.DataFrame({"resident_id": ["R1", "R2", "R2", "R3"], "missing_id": ["M1", "M3", "M2", "M5"]})
    distortions = pd.DataFrame({"resident_id": ["R1", "R3", "R2"], "family": ["homophone", "homophone", "age_error"]})
    return candidates, truth, distortions


def test_recall_and_mrr_by_hand(tables):
    candidates, truth, _ = tables
    assert recall_at_k(candidates, truth, ks=(1, 2, 10)) == {"recall@1": 1 / 3, "recall@2": 2 / 3, "recall@10": 2 / 3}
    assert mean_reciprocal_rank(candidates, truth) == pytest.approx((0.5 + 1 + 0) / 3)


def test_per_family_denominators(tables):
    candidates, truth, distortions = tables
    table = evaluate_by_family(candidates, truth, distortions, ks=(1, 10)).set_index("family")
    assert table.loc["homophone", "residents"] == 2
    assert table.loc["homophone", "recall@10"] == 0.5
    assert table.loc["age_error", "recall@1"] == 1.0


def test_false_leads_counts_only_residents_without_truth(tables):
    candidates, truth, _ = tables
    leads = false_leads(candidates, truth, threshold=0.5)
    assert leads["residents_without_report"] == 1  # R4
    assert leads["pairs_above_threshold"] == 1


def test_empty_candidates_give_zero_recall(tables):
    _, truth, _ = tables
    empty = pd.DataFrame(columns=["resident_id", "missing_id", "rank", "match_probability"])
    assert recall_at_k(empty, truth, ks=(10,))["recall@10"] == 0.0
    assert math.isnan(recall_at_k(empty, truth.iloc[:0], ks=(10,))["recall@10"])
