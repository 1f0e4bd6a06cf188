"""Accent notes → dialect area and home provinces; county and province dialect areas."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.data import load_table
from kinmatch.normalize.dialects import (
    Accent,
    area_mergers,
    county_dialect_area,
    parse_accent,
    parse_accents,
    province_dialect_areas,
)

# text, expected area, expected provinces (order-insensitive subset that must be present), subarea
ACCENT_CASES = [
    ("四川口音", "SW_Man", {"510000"}, None),
    ("说河南话", "N_Man", {"410000"}, None),
    ("東北口音", "N_Man", {"210000", "220000", "230000"}, "N_Man_NE"),
    ("客家话", "Hakka", {"440000", "360000", "350000"}, None),
    ("西南口音", "SW_Man", {"510000", "500000", "520000", "530000"}, None),
    ("广东白话", "Yue", {"440000"}, None),
    ("粤语", "Yue", {"440000"}, None),
    ("闽南话", "Min", {"350000"}, None),
    ("温州话", "Wu", {"330000"}, None),
    ("湖南口音", "Xiang", {"430000"}, None),
    ("江浙口音", "Wu", {"320000", "330000"}, None),
    ("山东话", "N_Man", {"370000"}, None),
    ("陕西口音", "N_Man", {"610000"}, None),
    ("可能是云南或贵州口音", "SW_Man", {"530000", "520000"}, None),
    ("山西话", "N_Man", {"140000"}, "N_Man_Jin"),
    ("潮汕话", "Min", {"440000"}, None),
    ("上海话", "Wu", {"310000"}, None),
    ("重庆话", "SW_Man", {"500000"}, None),
    ("江西口音", "Gan", {"360000"}, None),
    ("信阳口音", "N_Man", {"410000"}, None),
    ("苏北口音", "JH_Man", {"320000"}, None),
    ("說四川話", "SW_Man", {"510000"}, None),
    ("黑龙江口音", "N_Man", {"230000"}, "N_Man_NE"),
]

NO_INFO_CASES = ["外地口音", "普通话", "", None, float("nan"), "听不懂", "口音不详", "???", "abc"]


@pytest.mark.parametrize("text, area, provinces, subarea", ACCENT_CASES)
def test_parse_accent(text, area, provinces, subarea):
    accent = parse_accent(text)
    assert accent.area == area
    assert provinces <= set(accent.provinces)
    assert accent.subarea == subarea
    assert 0.3 < accent.confidence <= 1.0


@pytest.mark.parametrize("text", NO_INFO_CASES)
def test_no_information(text):
    accent = parse_accent(text)
    assert accent.area is None and accent.provinces == () and accent.confidence == 0.0


def test_both_provinces_kept_in_order():
    assert parse_accent("可能是云南或贵州口音").provinces == ("530000", "520000")


def test_hedge_and_contradiction_lower_confidence():
    plain = parse_accent("贵州口音").confidence
    assert parse_accent("疑似贵州口音").confidence < plain
    mixed = parse_accent("河南口音，有时说云南")
    assert set(mixed.provinces) == {"410000", "530000"}
    assert mixed.confidence < parse_accent("河南口音").confidence


@pytest.mark.parametrize("code, area", [
    ("411627", "N_Man"),   # 太康县
    ("511621", "SW_Man"),  # 岳池县
    ("330302", "Wu"),      # 温州 鹿城区
    ("441403", "Hakka"),   # 梅县区
    ("440104", "Yue"),     # 广州 越秀区
    ("430121", "Xiang"),   # 长沙县
    ("360121", "Gan"),     # 南昌县
    ("340123", "JH_Man"),  # 肥西县
    ("350203", "Min"),     # 厦门 思明区
    ("110103", "N_Man"),   # 崇文区 (abolished code still answers)
    ("999999", None),
    ("", None),
])
def test_county_dialect_area(code, area):
    assert county_dialect_area(code) == area


def test_every_county_has_a_known_area():
    counties = load_table("counties")
    areas = set(load_table("dialect_areas")["area"])
    assert counties["dialect_area"].isin(areas).all()
    sub = counties["dialect_subarea"].dropna()
    assert sub.isin(areas).all()


@pytest.mark.parametrize("province, top", [
    ("410000", "N_Man"), ("430000", "Xiang"), ("440000", "Yue"), ("350000", "Min"),
    ("510000", "SW_Man"), ("330000", "Wu"), ("360000", "Gan"),
])
def test_province_dialect_areas(province, top):
    shares = province_dialect_areas(province)
    assert list(shares)[0] == top
    assert abs(sum(shares.values()) - 1.0) < 0.01


@pytest.mark.parametrize("area, sub, families", [
    ("Xiang", None, {"n_l", "f_h", "retroflex", "n_ng", "h_x"}),
    ("Wu", None, {"hu_wu", "retroflex", "n_ng", "h_x"}),
    ("N_Man", "N_Man_NE", {"r_y_l"}),
    ("N_Man", "N_Man_Jin", {"n_ng"}),
    # a bare Northern Mandarin accent may be Northeastern (r→y) or Jin (-n/-ng)
    ("N_Man", None, {"r_y_l", "n_ng"}),
    (None, None, set()),
])
def test_area_mergers(area, sub, families):
    assert set(area_mergers(area, sub)) == families


def test_parse_accents_vectorized_matches_scalar():
    values = pd.Series(["四川口音", None, "粤语", "四川口音", "普通话"], index=[10, 11, 12, 13, 14])
    before = values.copy()
    out = parse_accents(values)
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert out["accent_area"].tolist() == ["SW_Man", None, "Yue", "SW_Man", None]
    assert out.loc[12, "accent_provinces"] == parse_accent("粤语").provinces
    pd.testing.assert_series_equal(values, before)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_never_raises_on_any_text(text):
    accent = parse_accent(text)
    assert isinstance(accent, Accent)
    assert 0.0 <= accent.confidence <= 1.0
    assert all(len(p) == 6 and p.isdigit() for p in accent.provinces)


def test_province_shares_equal_pandas_value_counts():
    """The shares counted with plain dicts equal pandas' groupby + value_counts(normalize=True),
    in the same order (the dominant area of a tie is the first one)."""
    from kinmatch.normalize import dialects

    counties = load_table("counties")
    current = counties[counties["status"] == "current"]
    expected = {prov: {area: round(float(share), 3) for area, share in areas.value_counts(normalize=True).items()}
                for prov, areas in current.groupby("province_code")["dialect_area"]}
    shares = dialects._province_shares()
    assert len(shares) > 30
    assert list(shares) == list(expected)
    assert all(list(shares[prov].items()) == list(expected[prov].items()) for prov in expected)
