"""The clothing comparisons: levels by how much agrees, one comparison per band of the time gap,
reasons that show the pieces that met, and their place in a linking run."""

import numpy as np
import pandas as pd
import pytest

from kinmatch.match.comparisons.base import MISSING
from kinmatch.match.comparisons.clothing import ClothingComparison, LaterClothingComparison
from kinmatch.normalize.clothing import clothing_items


def frames(resident_text, report_text, found="2024-02-01", lost="2024-01-20"):
    residents = pd.DataFrame({"clothing_items": [clothing_items(resident_text)], "event_date": pd.to_datetime([found])})
    missing = pd.DataFrame({"clothing_items": [clothing_items(report_text)], "event_date": pd.to_datetime([lost])})
    return residents, missing


def level(comparison, *args, **kwargs):
    encoded = comparison.encode(*frames(*args, **kwargs))
    return int(comparison.levels(encoded, np.array([0]), np.array([0]))[0])


@pytest.mark.parametrize("resident, report, expected", [
    ("穿棕色棉衣、黑裤子、布鞋", "走失时上身穿咖啡色棉袄，下身穿黑色裤子，脚穿布鞋", 2),
    ("穿棕色棉衣", "走失时上身穿咖啡色棉袄，下身穿黑色裤子", 1),
    ("穿布鞋", "穿红色外套、布鞋", 1),                    # shoes alone: half a piece, one level
    ("穿蓝色上衣、黑色裤子", "穿蓝色毛衣、黑色牛仔裤", 1),   # generic words: half a piece each
    ("穿蓝色外套、灰色裤子", "穿红色外套、黑色裤子", 0),     # same kinds, nothing agrees
    ("穿蓝色外套", "穿布鞋", MISSING),                     # no kind of garment on both sides
    ("", "穿红色外套", MISSING),
    ("穿深色外套、黑色裤子", "穿深蓝色夹克、黑色长裤", 2),  # 深色 is dark blue to another observer
])
def test_levels_within_a_month(resident, report, expected):
    assert level(ClothingComparison(), resident, report) == expected


def test_each_band_has_its_own_comparison():
    same = ("穿棕色棉衣、黑裤子", "穿咖啡色棉袄、黑色裤子")
    assert level(ClothingComparison(), *same, found="2024-02-01") == 2
    assert level(LaterClothingComparison(), *same, found="2024-02-01") == MISSING
    assert level(ClothingComparison(), *same, found="2024-06-01") == MISSING
    assert level(LaterClothingComparison(), *same, found="2024-06-01") == 2
    # after a year clothes say nothing; nor without a date
    for comparison in (ClothingComparison(), LaterClothingComparison()):
        assert level(comparison, *same, found="2025-03-01") == MISSING
        assert level(comparison, *same, found=None) == MISSING


def test_reason_shows_the_report_pieces_that_met():
    comparison = ClothingComparison()
    encoded = comparison.encode(*frames("穿褐色棉服、黑布鞋", "走失时上身穿咖啡色棉袄，下身穿黑色裤子，脚穿布鞋"))
    levels = comparison.levels(encoded, np.array([0]), np.array([0]))
    assert comparison.reasons(encoded, np.array([0]), np.array([0]), levels).tolist() == [
        "一月内寻获，衣着部分相同(咖啡色棉袄、布鞋)"]  # a coat and the shoes: 1½ pieces
    encoded = comparison.encode(*frames("穿褐色棉服、黑色裤子", "走失时上身穿咖啡色棉袄，下身穿黑色裤子，脚穿布鞋"))
    levels = comparison.levels(encoded, np.array([0]), np.array([0]))
    assert comparison.reasons(encoded, np.array([0]), np.array([0]), levels).tolist() == [
        "一月内寻获，衣着多处相同(咖啡色棉袄、黑色裤子)"]


def test_levels_are_symmetric_in_what_agrees():
    comparison = ClothingComparison()
    texts = ["穿棕色棉衣、黑裤子、布鞋", "穿咖啡色棉袄", "穿红色外套、布鞋", "穿深色外套", "穿蓝色上衣、牛仔裤", ""]
    for a in texts:
        for b in texts:
            assert level(comparison, a, b) == level(comparison, b, a), (a, b)


def test_one_level_per_distinct_pair_of_values_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    texts = ["穿棕色棉衣、黑裤子、布鞋", "穿咖啡色棉袄", "穿红色外套、布鞋", "穿深色外套", "穿蓝色上衣、牛仔裤", None]
    found = pd.to_datetime("2024-02-01") + pd.to_timedelta(rng.integers(0, 60, 40), "D")
    residents = pd.DataFrame({"clothing_items": [clothing_items(t) for t in rng.choice(texts, 40)],
                              "event_date": found})
    missing = pd.DataFrame({"clothing_items": [clothing_items(t) for t in rng.choice(texts, 30)],
                            "event_date": pd.to_datetime(["2024-01-20"] * 30)})
    lp, rp = rng.integers(0, 40, 500), rng.integers(0, 30, 500)
    comparison = ClothingComparison()
    batch = comparison.levels(comparison.encode(residents, missing), lp, rp)
    one_by_one = [comparison.levels(comparison.encode(residents.iloc[[i]], missing.iloc[[j]]), np.array([0]),
                                    np.array([0]))[0] for i, j in zip(lp, rp)]
    assert batch.tolist() == list(one_by_one)


def test_the_clothing_comparisons_ship_in_the_default_settings():
    from kinmatch.match.settings import LinkSettings

    settings = LinkSettings()
    assert "clothing" in settings.names and "clothing_later" not in settings.names
    assert LinkSettings.from_json(settings.to_json()).names == settings.names


@pytest.fixture(scope="module")
def run():
    from kinmatch.datasets.simulate import simulate
    from kinmatch.match.pipeline import run_link

    sim = simulate(n_missing=3000, n_residents=300, seed=4)
    return run_link(sim.residents, sim.missing, top_k=10, progress=False, n_jobs=1), sim


def test_em_weighs_agreement_within_a_month_positive_and_difference_negative(run):
    link, _ = run
    weights = link.model.weights_["clothing"] if hasattr(link.model, "weights_") else None
    table = link.table
    agree = table["explanation"].str.contains("一月内寻获，衣着多处相同(", regex=False)
    differ = table["explanation"].str.contains("一月内寻获，衣着不同", regex=False)
    assert agree.any() and differ.any(), weights
    assert (table.loc[agree, "w_clothing"] > 0).all()
    assert (table.loc[differ, "w_clothing"] < 0).all()
