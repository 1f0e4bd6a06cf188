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


# -- how common the agreeing clothes are (tf_clothing) ------------------------------------------------

def priced(resident_texts, report_texts, pairs, frequency=None):
    """tf_clothing and levels of ``pairs`` (resident position, report position), all found within a month."""
    from kinmatch.match.comparisons.clothing import ClothingComparison

    residents = pd.DataFrame({"clothing_items": [clothing_items(t) for t in resident_texts],
                              "event_date": pd.to_datetime(["2024-02-01"] * len(resident_texts))})
    missing = pd.DataFrame({"clothing_items": [clothing_items(t) for t in report_texts],
                            "event_date": pd.to_datetime(["2024-01-20"] * len(report_texts))})
    comparison = ClothingComparison(frequency=frequency)
    encoded = comparison.encode(residents, missing)
    lp, rp = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    levels = comparison.levels(encoded, lp, rp)
    return comparison.extra(encoded, lp, rp, levels)["tf_clothing"], levels


def test_a_common_agreement_is_priced_as_more_likely_by_chance_than_a_rare_one():
    common, rare = "穿黑色裤子、布鞋、灰色外套", "穿咖啡色棉袄、红色裤子"
    reports = [common] * 60 + [rare] * 2 + ["穿白色T恤、蓝色短裤、拖鞋"] * 38
    tf, levels = priced(["穿黑色长裤、布鞋、灰色外套", "穿褐色棉服、红色裤子"], reports, [(0, 0), (1, 60)])
    assert levels.tolist() == [2, 2]
    # 灰色外套 and 黑色裤子 are each on 60 of 100 reports (布鞋 too), the coat and red trousers on 2
    assert tf[0] == pytest.approx(0.6 * 0.6 * 0.6)
    assert tf[1] == pytest.approx(0.02 * 0.02)


def test_tf_is_given_where_something_agrees_and_is_blank_elsewhere():
    reports = ["穿红色外套、黑色裤子", "穿蓝色外套、灰色裤子", ""]
    tf, levels = priced(["穿红色外套、白色裤子"], reports, [(0, 0), (0, 1), (0, 2)])
    assert levels.tolist() == [1, 0, MISSING]
    assert tf[0] == pytest.approx(0.5) and np.isnan(tf[1:]).all()  # one of the two describing reports


def test_a_vague_or_generic_piece_is_met_by_more_reports():
    reports = ["穿黑色外套", "穿蓝色外套", "穿白色外套", "穿黑色毛衣"]
    tf, _ = priced(["穿深色外套", "穿黑色外套", "穿黑色上衣"], reports, [(0, 0), (1, 0), (2, 0)])
    assert tf.tolist() == pytest.approx([0.5, 0.25, 0.5])  # 深色: black or blue; 上衣: coat or jumper


def test_the_index_prices_a_subset_of_reports_as_among_them_all():
    from kinmatch.match.comparisons.clothing import clothing_frequency

    reports = ["穿黑色裤子、布鞋"] * 8 + ["穿咖啡色棉袄、布鞋"] * 2
    everyone = clothing_frequency(pd.Series([clothing_items(t) for t in reports]))
    subset, _ = priced(["穿咖啡色棉袄、黑色裤子、布鞋"], reports[7:9], [(0, 0), (0, 1)], frequency=everyone)
    full, _ = priced(["穿咖啡色棉袄、黑色裤子、布鞋"], reports, [(0, 7), (0, 8)])
    assert subset.tolist() == pytest.approx(full.tolist())


def test_the_model_weighs_a_rare_agreement_above_a_common_one(run):
    link, _ = run
    model = link.model
    assert model.tf_columns.get("clothing") == "tf_clothing" and model.tf_levels_["clothing"] == [2]
    vectors = pd.DataFrame({name: [-1, -1] for name in model.comparisons_}).assign(
        clothing=[2, 2], tf_clothing=[0.05, 0.0005], tf_name=np.nan)
    weights = model.weight_table(vectors)["clothing"].tolist()
    assert weights[1] - weights[0] == pytest.approx(np.log2(100))
    assert weights[0] == pytest.approx(np.log2(model.m_["clothing"][2] / 0.05))


def _random_pairs(seed=0, n_residents=60, n_reports=50, n_pairs=800):
    rng = np.random.default_rng(seed)
    texts = ["穿棕色棉衣、黑裤子、布鞋", "穿咖啡色棉袄", "穿红色外套、布鞋", "穿深色外套", "穿蓝色上衣、牛仔裤",
             "穿布鞋", "上身穿灰色外套，下身穿黑色裤子", "穿黑色棉袄、蓝色裤子、黑色皮鞋", "穿红色毛衣", None]
    found = pd.to_datetime("2024-02-01") + pd.to_timedelta(rng.integers(0, 60, n_residents), "D")
    residents = pd.DataFrame({"clothing_items": [clothing_items(t) for t in rng.choice(texts, n_residents)],
                              "event_date": found})
    missing = pd.DataFrame({"clothing_items": [clothing_items(t) for t in rng.choice(texts, n_reports)],
                            "event_date": pd.to_datetime(["2024-01-20"] * n_reports)})
    return residents, missing, rng.integers(0, n_residents, n_pairs), rng.integers(0, n_reports, n_pairs)


@pytest.mark.parametrize("meets_max", [None, 0])
def test_levels_and_tf_equal_the_plain_pairing_of_pieces(monkeypatch, meets_max):
    from kinmatch.match.comparisons import clothing as module

    if meets_max is not None:  # no table of which pieces meet: every pair in the band is paired
        monkeypatch.setattr(module, "MEETS_MAX_CELLS", meets_max)
    residents, missing, lp, rp = _random_pairs()
    comparison = ClothingComparison()
    encoded = comparison.encode(residents, missing)
    assert (encoded.meets is None) == (meets_max == 0)
    levels = comparison.levels(encoded, lp, rp)
    tf = comparison.extra(encoded, lp, rp, levels)["tf_clothing"]
    days = encoded.left.days[lp] - encoded.right.days[rp]
    for k, (i, j) in enumerate(zip(lp.tolist(), rp.tolist())):
        mine, theirs = encoded.left.pieces[encoded.left.code[i]], encoded.right.pieces[encoded.right.code[j]]
        points = module.meeting(mine, theirs)[0]
        in_band = comparison.days[0] <= days[k] <= comparison.days[1]
        assert levels[k] == (MISSING if not in_band or points < 0 else module.amount(points)), (i, j)
        if levels[k] >= 1:
            chance = 1.0
            for a, _, score in module.pairing(mine, theirs):
                chance *= module.chance_of_meeting(mine[a], score, encoded.frequency)
            assert tf[k] == chance
        else:
            assert np.isnan(tf[k])
    assert set(levels.tolist()) == {MISSING, 0, 1, 2}


def test_piece_scores_equal_piece_score_for_every_garment_and_colour():
    from kinmatch.match.comparisons import clothing as module
    from kinmatch.normalize.clothing import COLOUR_FAMILIES, GARMENTS, colour_family, garment_kind

    colours = [""] + [words[0] for words in COLOUR_FAMILIES.values()]
    pieces = [module._Piece(c, colour_family(c), g, garment_kind(g)) for g in GARMENTS for c in colours
              if garment_kind(g)]
    table = module.piece_scores(pieces, pieces[::-1])
    assert table.tolist() == [[module.piece_score(a, b) for b in pieces[::-1]] for a in pieces]
    assert {0.0, 0.5, 1.0} == set(table.ravel().tolist())


def test_the_frequency_of_an_encoded_side_is_clothing_frequency():
    from kinmatch.match.comparisons import clothing as module

    _, missing, _, _ = _random_pairs(seed=1, n_reports=300)
    made = module._side_frequency(module._side(missing))
    assert list(made.items()) == list(module.clothing_frequency(missing["clothing_items"]).items())
    assert len(made) > 5
