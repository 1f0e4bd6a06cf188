"""The place comparisons (geography, accent, statement places) as declared objects: their levels
and reasons equal the one-pair oracles of ``tests/oracles/places.py`` on simulated and hand-made
pairs, and a geography reason never explains a positive level with a distance beyond its band."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles.places import LABELS, LEVELS, REASONS, statement_places_met

from kinmatch.match.comparisons.accent import AccentComparison
from kinmatch.match.comparisons.geography import DISTANCE_BANDS_KM, GeographyComparison
from kinmatch.match.comparisons.statement_places import StatementPlacesComparison
from kinmatch.match.engine import compare_pairs, with_columns

COMPARISONS = (GeographyComparison(), AccentComparison(), StatementPlacesComparison())
NAN = float("nan")


def _frames(residents: list[dict], reports: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalized frames of made-up rows, every column the place comparisons read present."""
    left = pd.DataFrame([{"resident_id": f"R{i}", **row} for i, row in enumerate(residents)])
    right = pd.DataFrame([{"missing_id": f"M{i}", **row} for i, row in enumerate(reports)])
    return (with_columns(left, [c for comparison in COMPARISONS for c in comparison.left_columns]),
            with_columns(right, [c for comparison in COMPARISONS for c in comparison.right_columns]))


def _run(comparison, residents: pd.DataFrame, reports: pd.DataFrame, lp, rp):
    encoded = comparison.encode(residents, reports)
    lp, rp = np.asarray(lp, dtype=np.int64), np.asarray(rp, dtype=np.int64)
    levels = comparison.levels(encoded, lp, rp)
    return levels, comparison.reasons(encoded, lp, rp, levels), encoded


def _one(comparison, resident: dict, report: dict) -> tuple[int, str]:
    levels, reasons, _ = _run(comparison, *_frames([resident], [report]), [0], [0])
    return int(levels[0]), reasons[0]


# -- simulated pairs ------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[5, 8])
def simulated(request):
    from kinmatch import normalize_missing, normalize_residents
    from kinmatch.datasets.simulate import simulate

    sim = simulate(n_missing=3000, n_residents=300, seed=request.param)
    residents, _ = normalize_residents(sim.residents, n_jobs=1)
    reports, _ = normalize_missing(sim.missing, n_jobs=1)
    residents = with_columns(residents, [c for comparison in COMPARISONS for c in comparison.left_columns])
    reports = with_columns(reports, [c for comparison in COMPARISONS for c in comparison.right_columns])
    rng = np.random.default_rng(request.param)
    resident_at = pd.Index(residents["resident_id"])
    report_at = pd.Index(reports["missing_id"])
    true_pairs = (resident_at.get_indexer(sim.truth["resident_id"]), report_at.get_indexer(sim.truth["missing_id"]))
    random_pairs = (rng.integers(0, len(residents), 3000), rng.integers(0, len(reports), 3000))
    # pairs sharing a key: the found prefecture is the report's home or missing prefecture
    shared = residents[["found_prefecture"]].reset_index(names="lp").merge(
        pd.concat([reports[[column]].rename(columns={column: "found_prefecture"}).reset_index(names="rp")
                   for column in ("home_prefecture", "missing_prefecture")]).dropna(), on="found_prefecture")
    shared = shared.sample(n=min(len(shared), 3000), random_state=request.param)
    lp = np.concatenate([true_pairs[0], random_pairs[0], shared["lp"].to_numpy()])
    rp = np.concatenate([true_pairs[1], random_pairs[1], shared["rp"].to_numpy()])
    return residents, reports, lp, rp


@pytest.mark.parametrize("comparison", COMPARISONS, ids=lambda c: c.name)
def test_levels_and_reasons_equal_the_oracle_on_simulated_pairs(simulated, comparison):
    residents, reports, lp, rp = simulated
    levels, reasons, _ = _run(comparison, residents, reports, lp, rp)
    left, right = residents.to_dict("records"), reports.to_dict("records")
    expected = [LEVELS[comparison.name](left[i], right[j]) for i, j in zip(lp, rp, strict=True)]
    assert levels.dtype == np.int8
    assert levels.tolist() == expected
    assert reasons.tolist() == [REASONS[comparison.name](left[i], right[j]) for i, j in zip(lp, rp, strict=True)]
    # the set reached the levels that matter, so the equality above says something
    reached = {"geography": {0, 1, 2, 3, 4, 5}, "accent": {-1, 0, 1, 2}, "statement_places": {-1, 0, 1, 2}}
    assert set(levels.tolist()) >= reached[comparison.name]


def test_statement_places_keep_the_county_that_met(simulated):
    residents, reports, lp, rp = simulated
    comparison = StatementPlacesComparison()
    encoded = comparison.encode(residents, reports)
    met = comparison.met_codes(encoded, lp, rp)
    left, right = residents.to_dict("records"), reports.to_dict("records")
    assert met.tolist() == [statement_places_met(left[i], right[j]) for i, j in zip(lp, rp, strict=True)]
    assert any(code is not None for code in met)


def test_geography_reasons_name_the_hometown_where_it_decided(simulated):
    residents, reports, lp, rp = simulated
    _, reasons, _ = _run(GeographyComparison(), residents, reports, lp, rp)
    assert any("家乡" in text for text in reasons)
    assert any("走失地" in text for text in reasons)


def test_engine_gives_the_oracle_levels(simulated):
    residents, reports, lp, rp = simulated
    pairs = pd.DataFrame({"resident_id": residents["resident_id"].to_numpy()[lp],
                          "missing_id": reports["missing_id"].to_numpy()[rp]}).drop_duplicates()
    vectors = compare_pairs(pairs, residents, reports, comparisons=list(COMPARISONS))
    left = residents.set_index("resident_id")
    right = reports.set_index("missing_id")
    for comparison in COMPARISONS:
        expected = [LEVELS[comparison.name](left.loc[r].to_dict(), right.loc[m].to_dict())
                    for r, m in vectors.index[:600]]
        assert vectors[comparison.name].iloc[:600].tolist() == expected, comparison.name


# -- hand-made cases ------------------------------------------------------------------------------

GEO_CASES = [
    # found (county, lon, lat), missing place, hometown, level
    (("330106", 120.13, 30.27), ("330106", 120.13, 30.27), (None, NAN, NAN), 5),
    (("330106", 120.13, 30.27), ("330110", 119.9, 30.42), (None, NAN, NAN), 4),
    (("330106", 120.13, 30.27), ("331002", 121.42, 28.65), (None, NAN, NAN), 3),
    (("330106", 120.13, 30.27), ("370102", 117.0, 36.65), (None, NAN, NAN), 1),
    (("330106", 120.13, 30.27), ("110101", 116.41, 39.91), (None, NAN, NAN), 0),
    (("330106", 120.13, 30.27), ("110101", 116.41, 39.91), ("330108", 120.14, 30.26), 5),
    (("460105", 110.3, 20.0), ("230102", 126.6, 45.7), (None, NAN, NAN), 0),
    ((None, NAN, NAN), ("110101", 116.41, 39.91), (None, NAN, NAN), -1),
    (("330106", NAN, NAN), ("330102", NAN, NAN), (None, NAN, NAN), 4),
    (("330106", NAN, NAN), (None, 120.1, 30.2), ("330106", NAN, NAN), 5),
]


def _geo_records(found, lost, home) -> tuple[dict, dict]:
    resident = dict(zip(("found_county", "found_lon", "found_lat"), found, strict=True))
    report = (dict(zip(("missing_county", "missing_lon", "missing_lat"), lost, strict=True))
              | dict(zip(("home_county", "home_lon", "home_lat"), home, strict=True)))
    return resident, report


@pytest.mark.parametrize("found, lost, home, level", GEO_CASES)
def test_geography_levels(found, lost, home, level):
    resident, report = _geo_records(found, lost, home)
    got, reason = _one(GeographyComparison(), resident, report)
    assert got == level == LEVELS["geography"](resident, report)
    assert reason == REASONS["geography"](resident, report)


GEO_REASONS = [
    # found, missing place, hometown, reason
    (("330106", 120.13, 30.27), ("330106", 120.13, 30.27), (None, NAN, NAN), "发现地距走失地0km"),
    (("330106", 120.13, 30.27), ("331002", 121.42, 28.65), (None, NAN, NAN), "发现地与走失地同省(距219km)"),
    (("330106", 120.13, 30.27), ("110101", 116.41, 39.91), (None, NAN, NAN), "发现地距走失地1124km"),
    (("330106", 120.13, 30.27), ("110101", 116.41, 39.91), ("330108", 120.14, 30.26), "发现地距家乡1km"),
    (("330106", NAN, NAN), ("330102", NAN, NAN), (None, NAN, NAN), "发现地与走失地同市"),
    (("330106", NAN, NAN), (None, 120.1, 30.2), ("330106", NAN, NAN), "发现地与家乡同县"),
    ((None, NAN, NAN), ("110101", 116.41, 39.91), (None, NAN, NAN), "地点不详"),
    # 哈尔滨 and 漠河: one province, some 860 km apart: the province, not the distance, gave level 3
    (("230102", 126.6, 45.7), ("110101", 116.41, 39.91), ("232701", 122.5, 52.97), "发现地与家乡同省(距861km)"),
    # same level from both places: the missing place is named
    (("330106", 120.13, 30.27), ("330102", 120.17, 30.25), ("330108", 120.14, 30.26), "发现地距走失地4km"),
]


@pytest.mark.parametrize("found, lost, home, text", GEO_REASONS)
def test_geography_reasons(found, lost, home, text):
    resident, report = _geo_records(found, lost, home)
    assert _one(GeographyComparison(), resident, report)[1] == text == REASONS["geography"](resident, report)


def test_geography_found_in_wuchang_home_jiangxia_lost_in_beijing():
    # issue 11: the pair is scored by the hometown (江夏, ~20 km from 武昌), so its text must not
    # measure to the missing place (北京, ~1060 km), as the old 发现地距走失地1059km did
    resident = {"found_county": "420106", "found_lon": 114.32, "found_lat": 30.55}
    report = {"missing_county": "110105", "missing_lon": 116.44, "missing_lat": 39.92,
              "home_county": "420115", "home_lon": 114.32, "home_lat": 30.37}
    level, reason = _one(GeographyComparison(), resident, report)
    assert level == 4
    assert reason == "发现地距家乡20km"
    # without the hometown's coordinates the shared prefecture decides, and the text says so
    level, reason = _one(GeographyComparison(), resident, report | {"home_lon": NAN, "home_lat": NAN})
    assert (level, reason) == (4, "发现地与家乡同市")


_BAND_FLOOR = {5: 0.0, 4: DISTANCE_BANDS_KM[0], 3: DISTANCE_BANDS_KM[1], 2: DISTANCE_BANDS_KM[2],
               1: DISTANCE_BANDS_KM[3], 0: DISTANCE_BANDS_KM[4]}
_BAND_CEILING = {5: DISTANCE_BANDS_KM[0], 4: DISTANCE_BANDS_KM[1], 3: DISTANCE_BANDS_KM[2], 2: DISTANCE_BANDS_KM[3],
                 1: DISTANCE_BANDS_KM[4], 0: math.inf}
_RULE_LEVEL = {"同县": 5, "同市": 4, "同省": 3}
# counties of one prefecture, another prefecture of the same province, other provinces
_COUNTIES = st.sampled_from([None, "420106", "420115", "420111", "420600", "420602", "110105", "230102", "232701"])
_COORDINATE = st.one_of(st.just(NAN), st.floats(min_value=-1.0, max_value=1.0))
_PLACE = st.tuples(_COUNTIES, _COORDINATE, _COORDINATE, st.sampled_from([0.001, 0.05, 0.5, 3.0, 12.0]))


def _place(columns: str, place: tuple) -> dict:
    county, dx, dy, scale = place
    # around 武汉, from next door to across the country; a NaN offset leaves the place without coordinates
    return {f"{columns}_county": county, f"{columns}_lon": 114.3 + dx * scale, f"{columns}_lat": 30.5 + dy * scale}


@settings(max_examples=60, deadline=None)
@given(st.lists(_PLACE, min_size=1, max_size=12), st.lists(st.tuples(_PLACE, _PLACE), min_size=1, max_size=12))
def test_a_positive_geography_level_is_never_explained_by_a_distance_beyond_its_band(found, reports):
    residents = [_place("found", place) for place in found]
    records = [_place("missing", lost) | _place("home", home) for lost, home in reports]
    lp, rp = (a.ravel() for a in np.meshgrid(np.arange(len(residents)), np.arange(len(records)), indexing="ij"))
    levels, reasons, _ = _run(GeographyComparison(), *_frames(residents, records), lp, rp)
    for level, reason, i, j in zip(levels.tolist(), reasons.tolist(), lp, rp, strict=True):
        assert (level, reason) == (LEVELS["geography"](residents[i], records[j]),
                                   REASONS["geography"](residents[i], records[j]))
        measured = re.fullmatch(r"发现地距(走失地|家乡)(\d+)km", reason)
        by_rule = re.fullmatch(r"发现地与(走失地|家乡)(同县|同市|同省)(?:\(距(\d+)km\))?", reason)
        if level < 0:
            assert reason == "地点不详"
        elif measured:
            km = int(measured.group(2))  # whole km: within half a km of the band
            assert _BAND_FLOOR[level] - 0.5 <= km <= _BAND_CEILING[level] + 0.5, reason
        else:
            assert by_rule is not None and level >= 3, reason
            assert _RULE_LEVEL[by_rule.group(2)] == level, reason
            if by_rule.group(3) is not None:  # the distance alone would have given less
                assert int(by_rule.group(3)) >= _BAND_CEILING[level] - 0.5, reason


ACCENT_CASES = [
    ({"accent_provinces": ("510000",), "accent_area": "SW_Man"}, {"home_province": "510000"}, 2),
    ({"accent_provinces": ("500000",), "accent_area": "SW_Man"},
     {"home_province": "520000", "home_dialect_area": "SW_Man"}, 1),
    ({"accent_provinces": ("230000",), "accent_area": "N_Man"},
     {"home_province": "440000", "home_dialect_area": "Yue"}, 0),
    ({"accent_provinces": (), "accent_area": None}, {"home_province": "440000"}, -1),
    ({"accent_provinces": ("440000",), "accent_area": "Yue"}, {"home_province": None}, -1),
    ({"accent_provinces": ("510000",)}, {"home_province": "510104"}, 2),  # a county code in the province column
    ({"accent_area": "JH_Man_Hu"}, {"home_province": "340000", "home_dialect_area": "JH_Man"}, 1),
    ({"accent_area": "Wu"}, {"accent_area": "Wu_TH"}, 1),  # no home: each side's accent is the other's home area
    ({"accent_provinces": ("340000",)}, {"accent_provinces": ("340000",)}, 2),
    ({"home_province": "340000"}, {"home_province": "340000"}, -1),  # homes alone say nothing of an accent
]


@pytest.mark.parametrize("resident, report, level", ACCENT_CASES)
def test_accent_levels(resident, report, level):
    got, reason = _one(AccentComparison(), resident, report)
    assert got == level == LEVELS["accent"](resident, report)
    assert reason == AccentComparison.labels[level] == REASONS["accent"](resident, report)


_ACCENT_RECORD = st.fixed_dictionaries({
    "accent_provinces": st.lists(st.sampled_from(["340000", "510000", "440000"]), max_size=2, unique=True).map(tuple),
    "accent_area": st.sampled_from([None, "JH_Man", "JH_Man_Hu", "SW_Man", "Yue", "X_1"]),
    "home_province": st.sampled_from([None, "340000", "510000", "510104", "440000"]),
    "home_dialect_area": st.sampled_from([None, "JH_Man_Hu", "SW_Man_GZ", "Yue"]),
})


@settings(max_examples=40, deadline=None)
@given(st.lists(_ACCENT_RECORD, min_size=1, max_size=10), st.lists(_ACCENT_RECORD, min_size=1, max_size=10))
def test_accent_is_symmetric_and_equals_the_oracle(left, right):
    lp, rp = (a.ravel() for a in np.meshgrid(np.arange(len(left)), np.arange(len(right)), indexing="ij"))
    levels, reasons, _ = _run(AccentComparison(), *_frames(left, right), lp, rp)
    swapped, _, _ = _run(AccentComparison(), *_frames(right, left), rp, lp)
    assert levels.tolist() == swapped.tolist()
    assert levels.tolist() == [LEVELS["accent"](left[i], right[j]) for i, j in zip(lp, rp, strict=True)]
    assert reasons.tolist() == [REASONS["accent"](left[i], right[j]) for i, j in zip(lp, rp, strict=True)]


STATEMENT_CASES = [
    (("341021",), {"home_county": "341021"}, 3),
    (("341021",), {"home_county": "341022"}, 2),
    (("341021",), {"home_county": "340102"}, 1),
    (("341021",), {"home_province": "340000"}, 1),
    (("341021",), {"home_county": "370782"}, 0),
    ((), {"home_county": "370782"}, -1),
    (("341021",), {}, -1),
    (("370782", "341021"), {"missing_county": "341021"}, 3),  # the missing county counts as well
    (("341021",), {"home_prefecture": "341000"}, 2),
    (("341021",), {"home_province": "341004"}, 1),  # a county code in the province column: its province
    (("3410",), {"home_county": "3410"}, -1),  # not a county code
]


@pytest.mark.parametrize("stated, report, level", STATEMENT_CASES)
def test_statement_places_levels(stated, report, level):
    resident = {"statement_places": stated}
    got, reason = _one(StatementPlacesComparison(), resident, report)
    assert got == level == LEVELS["statement_places"](resident, report)
    assert reason == StatementPlacesComparison.labels[level]


@pytest.mark.parametrize("stated, report, met", [
    (("500151", "341021"), {"home_county": "500112"}, "500151"),
    (("500151", "341021"), {"home_county": "341021", "missing_county": "500151"}, "500151"),
    (("500151", "341021"), {"home_county": "341022", "missing_county": "500151"}, "500151"),
    (("341021", "500151"), {"home_county": "341022", "missing_county": "500151"}, "500151"),  # county before prefecture
    (("341021",), {"home_county": "370782"}, None),
])
def test_statement_places_met_codes(stated, report, met):
    comparison = StatementPlacesComparison()
    encoded = comparison.encode(*_frames([{"statement_places": stated}], [report]))
    assert comparison.met_codes(encoded, np.array([0]), np.array([0])).tolist() == [met]


@pytest.mark.parametrize("comparison", COMPARISONS, ids=lambda c: c.name)
def test_declared_like_the_old_tables(comparison):
    assert comparison.labels == LABELS[comparison.name]
    assert set(comparison.labels) == set(range(-1, comparison.n_levels))
    assert comparison.to_dict()["levels"]["-1"] == comparison.labels[-1]
    for _, resident_column, report_column in comparison.fields:
        assert resident_column or report_column


def test_no_pairs_give_no_levels():
    residents, reports = _frames([{"statement_places": ("341021",)}], [{"home_county": "341021"}])
    empty = np.zeros(0, dtype=np.int64)
    for comparison in COMPARISONS:
        levels, reasons, _ = _run(comparison, residents, reports, empty, empty)
        assert len(levels) == len(reasons) == 0


@pytest.mark.parametrize("comparison, limit", [(GeographyComparison(), "TABLE_MAX_CELLS"),
                                               (StatementPlacesComparison(), "HELD_MAX_CELLS")],
                         ids=["geography", "statement_places"])
def test_levels_by_lookup_equal_the_levels_pair_by_pair(simulated, monkeypatch, comparison, limit):
    """The encodings' tables (found place × report place; which resident stated which place) give
    the levels the pairwise tests give without them."""
    import importlib

    residents, reports, lp, rp = simulated
    looked_up = comparison.levels(comparison.encode(residents, reports), lp, rp)
    monkeypatch.setattr(importlib.import_module(type(comparison).__module__), limit, 0)
    encoded = comparison.encode(residents, reports)
    assert (encoded["table"] if comparison.name == "geography" else encoded.held) is None
    pairwise = comparison.levels(encoded, lp, rp)
    assert looked_up.dtype == pairwise.dtype == np.int8
    assert looked_up.tolist() == pairwise.tolist()
