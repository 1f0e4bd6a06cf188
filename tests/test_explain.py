"""Explanations: each comparison writes its reason, explain_pairs orders and joins them.

The reasons themselves are tested with their comparisons (tests/test_comparison_*.py, against the
one-pair oracles); here: which reasons are shown, in which order, with which weight text."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.errors import InputError
from kinmatch.match import engine
from kinmatch.match.comparisons.age import AgeComparison
from kinmatch.match.comparisons.height import HeightComparison
from kinmatch.match.comparisons.sex import SexComparison
from kinmatch.match.comparisons.time_gap import TimeGapComparison
from kinmatch.match.explain import MIN_SHOWN_WEIGHT, MINUS, explain_pairs, format_weight

COMPARISONS = [SexComparison(), AgeComparison(), HeightComparison(), TimeGapComparison()]


def encoded_pair():
    residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["F"], "birth_year_low": [1950.0],
                              "birth_year_high": [1955.0], "age_high": [74.0], "height_cm": [160.0],
                              "height_tol_cm": [2.0], "event_date": pd.to_datetime(["2024-01-10"])})
    missing = pd.DataFrame({"missing_id": ["M1"], "sex_code": ["F"], "birth_year_low": [1953.0],
                            "birth_year_high": [1953.0], "age_high": [70.0], "height_cm": [172.0],
                            "height_tol_cm": [5.0], "event_date": pd.to_datetime(["2024-01-01"])})
    return engine.encode(residents, missing, COMPARISONS)


def explain(levels, weights, top=6):
    encoded = encoded_pair()
    return explain_pairs(encoded, np.array([0]), np.array([0]), np.array([levels]), np.array([weights]), top=top)[0]


@pytest.mark.parametrize("weights, text", [
    ([0.6, 2.0, -3.2, 1.1], "身高差12cm −3.2; 年龄相符 +2.0; 走失一月内发现 +1.1; 性别相符 +0.6"),
    ([0.6, 0.0, 0.0, 0.0], "性别相符 +0.6"),
    ([0.04, -0.04, 0.0, 0.0], ""),  # below MIN_SHOWN_WEIGHT: would not move a rank
    # ties: comparison order
    ([1.0, -1.0, 1.0, -1.0], "性别相符 +1.0; 年龄相符 −1.0; 身高差12cm +1.0; 走失一月内发现 −1.0"),
])
def test_reasons_strongest_first(weights, text):
    assert explain([1, 3, 1, 4], weights) == text


def test_missing_levels_are_never_explained():
    assert explain([-1, -1, 1, -1], [5.0, 5.0, -3.2, 5.0]) == "身高差12cm −3.2"


def test_top_keeps_the_strongest():
    assert explain([1, 3, 1, 4], [0.6, 2.0, -3.2, 1.1], top=2) == "身高差12cm −3.2; 年龄相符 +2.0"


def test_format_weight_uses_a_true_minus():
    assert format_weight(-0.26) == f"{MINUS}0.3" and format_weight(0.0) == "+0.0"
    assert MIN_SHOWN_WEIGHT > 0


def test_mismatched_shapes_are_refused():
    encoded = encoded_pair()
    with pytest.raises(InputError, match="one row per pair"):
        explain_pairs(encoded, np.array([0]), np.array([0]), np.array([[1, 3]]), np.array([[1.0, 1.0]]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([-1, 0, 1, 2, 3]), st.floats(-12, 12, allow_nan=False)),
                min_size=4, max_size=4),
       st.integers(1, 6))
def test_explain_pairs_equals_the_obvious_definition(items, top):
    """Against a plain one-pair definition: shown = level ≥ 0 and |w| ≥ MIN_SHOWN_WEIGHT, sorted by
    |w| descending then comparison order, the first ``top``."""
    levels = [min(level, c.n_levels - 1) for (level, _), c in zip(items, COMPARISONS)]
    weights = [w for _, w in items]
    encoded = encoded_pair()
    texts = {j: c.reasons(e, np.array([0]), np.array([0]), np.array([levels[j]]))[0]
             for j, (c, e) in enumerate(zip(encoded.comparisons, encoded.encodings)) if levels[j] >= 0}
    shown = sorted((j for j in texts if abs(weights[j]) >= MIN_SHOWN_WEIGHT), key=lambda j: (-abs(weights[j]), j))
    expected = "; ".join(f"{texts[j]} {format_weight(weights[j])}" for j in shown[:top])
    assert explain(levels, weights, top=top) == expected
