"""bench/bench_bound.py on a small simulation: every report compared with every resident reproduces
the pipeline's own scores, the ranks count what they say, and the sample is weighted back."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_bound  # noqa: E402


@pytest.fixture(scope="module")
def result():
    args = bench_bound.parse(["--quick", "--u-pairs", "200000"])
    args.residents, args.missing = 120, 1200
    return bench_bound.one_seed(args, 7)


@pytest.mark.slow
def test_all_pairs_scores_are_the_pipelines(result):
    """The pipeline's model scoring every report gives the true pair the weight the linking table
    gave it, and the all-pairs rank is never better than the rank among the candidates."""
    ranks, table = result["ranks"].dropna(subset=["em"]), result["table"]
    truth_rows = table.merge(bench_bound.simulated(120, 1200, 7, None)["truth"].astype(str),
                             on=["resident_id", "missing_id"])
    best = truth_rows.groupby("resident_id")["match_weight"].max()
    common = best.index.intersection(ranks.index)
    assert len(common) > 50
    np.testing.assert_allclose(ranks.loc[common, "em_true_weight"], best[common], rtol=1e-6, atol=1e-6)
    above = table.merge(best.rename("true_weight"), left_on="resident_id", right_index=True)
    above = above[above["match_weight"] > above["true_weight"]].groupby("resident_id").size()
    assert (ranks.loc[common, "em"] >= above.reindex(common, fill_value=0) + 1).all()


@pytest.mark.slow
def test_bound_ranks_and_families(result):
    ranks = result["ranks"].dropna(subset=["em"])
    for column in ("em", "truth", "fine_age", "all_changes", "without_name"):
        assert (ranks[column] >= 1).all() and (ranks[column] <= 1200).all()
    families = pd.DataFrame(result["families"])
    # with a surviving name the truth's weights put the true report in the top 10 almost always
    assert families.loc["name_survives_any_form", "truth r@10"] >= 0.9
    # leaving the name out costs the named residents, not the nameless
    named = ranks.index.isin(bench_bound.simulated(120, 1200, 7, None)["family"].query(
        "family == 'name_survives_any_form'")["resident_id"].astype(str))
    assert (ranks.loc[named, "without_name"] >= ranks.loc[named, "truth"]).mean() > 0.9


def test_weighted_recall_census_and_sample():
    strata = pd.Series(["a"] * 4 + ["b"] * 6, index=[f"R{i}" for i in range(10)])
    hit = pd.Series([True, False, True, True, False, False], index=["R0", "R1", "R2", "R4", "R5", "R6"])
    census = pd.Series(1.0, index=strata.index)
    estimate, se = bench_bound.weighted_recall(hit, census, strata, strata.value_counts())
    assert estimate == pytest.approx(3 / 6) and se == 0.0
    # stratum b sampled 3 of 6 (weight 2): its hits count twice, and the estimate has an error
    weight = pd.Series({"R0": 1.0, "R1": 1.0, "R2": 1.0, "R4": 2.0, "R5": 2.0, "R6": 2.0})
    estimate, se = bench_bound.weighted_recall(hit, weight, strata, pd.Series({"a": 4, "b": 3}))
    assert estimate == pytest.approx((2 + 2) / (3 + 6)) and se > 0


def test_fine_levels_refine_todays():
    residents = pd.DataFrame({"birth_year_low": [1960.0, np.nan], "birth_year_high": [1965.0, np.nan],
                              "age_high": [64.0, np.nan]})
    reports = pd.DataFrame({"birth_year_low": [1963.0, 1940.0, 1950.0], "birth_year_high": [1963.0, 1940.0, 1958.0],
                            "age_high": [61.0, 84.0, 70.0]})
    lp, rp = np.repeat([0, 1], 3), np.tile([0, 1, 2], 2)
    fine = bench_bound.FineAge()
    levels = fine.levels(fine.encode(residents, reports), lp, rp)
    today = bench_bound.AgeComparison()
    base = today.levels(today.encode(residents, reports), lp, rp)
    assert (np.where(levels < 0, -1, levels // 6) == base).all()
    assert levels[0] != levels[2]  # overlap-or-near split by the midpoints' distance
