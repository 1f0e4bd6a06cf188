"""Place parsing against the shipped gazetteer: addresses, short and old names, townships,
fragments and sound candidates (the DOMAIN.md cases), plus properties and distances."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.data import load_table
from kinmatch.normalize.places import (
    county_distance_km,
    county_distances_km,
    haversine_km,
    parse_place,
    parse_places,
    place_candidates,
)

# text, county, prefecture, province, old  (None = that level must be empty)
PARSE_CASES = [
    # full addresses
    ("河南省周口市太康县十里铺村", "411627", "411600", "410000", False),
    ("四川省广安市岳池县", "511621", "511600", "510000", False),
    ("广东省东莞市", "441900", "441900", "440000", False),
    ("湖北省仙桃市", "429004", "429004", "420000", False),
    ("北京市朝阳区", "110105", "110100", "110000", False),
    ("辽宁省朝阳市朝阳县", "211321", "211300", "210000", False),
    ("浙江省温州市鹿城区", "330302", "330300", "330000", False),
    ("西藏拉萨城关区", "540102", "540100", "540000", False),
    ("甘肃兰州城关区", "620102", "620100", "620000", False),
    ("云南省临沧市双江拉祜族佤族布朗族傣族自治县", "530925", "530900", "530000", False),
    ("新疆伊犁伊宁市", "654002", "654000", "650000", False),
    ("山西省阳泉市郊区", "140311", "140300", "140000", False),
    ("陕西咸阳乾县", "610424", "610400", "610000", False),
    ("家住湖南省长沙县", "430121", "430100", "430000", False),
    # short names
    ("太康", "411627", "411600", "410000", False),
    ("周口太康", "411627", "411600", "410000", False),
    ("邻水", "511623", "511600", "510000", False),
    ("诸城", "370782", "370700", "370000", False),
    ("哈尔滨道里", "230102", "230100", "230000", False),
    ("广东梅县", "441403", "441400", "440000", False),
    ("東莞", "441900", "441900", "440000", False),
    # pre-reform units
    ("河南省太康县城关公社第三生产队", "411627", "411600", "410000", False),
    ("湖南新宁县一渡水公社", "430528", "430500", "430000", False),
    ("太康县高朗公社十里铺大队", "411627", "411600", "410000", False),
    # historical names → successors, flagged old
    ("崇文区", "110101", "110100", "110000", True),
    ("北京市宣武区", "110102", "110100", "110000", True),
    ("上海南市区", "310101", "310100", "310000", True),
    ("河北省保定市南市区", "130606", "130600", "130000", True),
    ("襄樊", None, "420600", "420000", True),
    ("襄樊市樊城区", "420606", "420600", "420000", True),
    ("玉环县", "331083", "331000", "330000", True),
    ("山东省莱芜市", "370116", "370100", "370000", True),
    # townships
    ("一渡水", "430528", "430500", "430000", False),
    ("一渡水镇", "430528", "430500", "430000", False),
    ("邻鄂镇", "500114", "500100", "500000", False),
    ("重庆黔江邻鄂", "500114", "500100", "500000", False),
    # fragments in speech
    ("太康十里铺", "411627", "411600", "410000", False),
    ("说是老家在四川邻水那边", "511623", "511600", "510000", False),
    ("山东诸城主猫鸭", "370782", "370700", "370000", False),
    # prefecture / province only
    ("周口", None, "411600", "410000", False),
    ("湖北襄阳", None, "420600", "420000", False),
    ("延边", None, "222400", "220000", False),
    ("河南", None, None, "410000", False),
    ("臺灣", None, None, "710000", False),
    # same sound, different character (sound stage)
    ("岳迟县", "511621", "511600", "510000", False),
    ("太糠县", "411627", "411600", "410000", False),
]


@pytest.mark.parametrize("text, county, prefecture, province, old", PARSE_CASES)
def test_parse_place(text, county, prefecture, province, old):
    m = parse_place(text)
    assert (m.county_code, m.prefecture_code, m.province_code) == (county, prefecture, province)
    assert m.old is old
    assert 0.0 < m.score <= 1.0
    assert not math.isnan(m.lon) and 73 < m.lon < 136 and 3 < m.lat < 54


@pytest.mark.parametrize("text, township", [
    ("一渡水", "一渡水镇"),
    ("湖南新宁县一渡水公社", "一渡水镇"),
    ("太康县高朗公社", "高朗乡"),
    ("河南太康朱口", "朱口镇"),
    ("公主岭河南街道", "河南街道"),
])
def test_township_is_reported(text, township):
    assert parse_place(text).township == township


@pytest.mark.parametrize("text, accent, expected_county_or_pref", [
    ("瑶池县", None, "511621"),     # yao/yue: one pinyin component off → 岳池县
    ("邻", None, "511623"),         # a fragment: 邻水县 ...
    ("邻", None, "500114"),         # ... and 邻鄂镇 (黔江区)
    ("南市区", None, "310101"),     # two abolished 南市区: both offered
    ("南市区", None, "130606"),
    ("湖州", "Min", "350100"),      # f/h: 湖州 heard as 福州
    ("福州", "Xiang", "330500"),
    ("临水县", None, "511623"),     # 临水 ~ 邻水
    ("朝阳", None, "110105"),
])
def test_candidates_include(text, accent, expected_county_or_pref):
    cands = place_candidates(text, k=8, accent_area=accent)
    codes = set(cands["county_code"].dropna()) | set(cands["prefecture_code"].dropna())
    assert expected_county_or_pref in codes
    assert list(cands["rank"]) == list(range(1, len(cands) + 1))
    assert cands["score"].is_monotonic_decreasing


def test_exact_reading_outranks_its_sound_alternatives():
    cands = place_candidates("湖州", accent_area="Min")
    assert cands.iloc[0]["prefecture_code"] == "330500"
    fuzhou = cands[cands["prefecture_code"] == "350100"].iloc[0]
    assert fuzhou["matched_by"] == "sound" and fuzhou["score"] < cands.iloc[0]["score"]


def test_accent_limits_mergers():
    # 湖州 → 福州 needs the f/h merger: typical of Min, not of Northern Mandarin
    min_score = place_candidates("湖州", k=10, accent_area="Min").set_index("prefecture_code")["score"]
    north = place_candidates("湖州", k=10, accent_area="N_Man").set_index("prefecture_code")["score"]
    assert min_score.get("350100", 0) > north.get("350100", 0)


def test_candidates_columns_and_reasons():
    cands = place_candidates("河南省周口市太康县十里铺村")
    assert list(cands.columns) == ["rank", "level", "county_code", "prefecture_code", "province_code",
                                   "name", "township", "village", "lon", "lat", "score", "old",
                                   "matched_by", "reason"]
    top = cands.iloc[0]
    assert top["county_code"] == "411627" and top["score"] > 0.95
    assert "太康县" in top["reason"] and "prefecture" in top["matched_by"]


@pytest.mark.parametrize("text", [None, "", "   ", float("nan"), "abc", "???", "12345", "不知道"])
def test_unreadable_gives_empty_match(text):
    m = parse_place(text)
    assert m.county_code is None and m.province_code is None and m.score == 0.0


def test_full_address_beats_short_name():
    assert parse_place("河南省周口市太康县").score > parse_place("太康").score > parse_place("太康县城").score * 0


def test_ambiguous_short_name_has_low_score():
    # 朝阳: a prefecture in Liaoning and districts in Beijing and Changchun
    assert parse_place("朝阳").score < 0.5 < parse_place("北京朝阳").score


@pytest.mark.parametrize("code", ["411627", "511621", "110105", "441900", "429004", "530925",
                                  "140311", "654002", "610424", "370782"])
def test_display_name_round_trip(code):
    m = parse_place(parse_place(code_name(code)).name)
    assert m.county_code == code


def code_name(code):
    counties = load_table("counties").set_index("code")
    return counties.at[code, "name"] if code != "140311" else "阳泉市郊区"


_CURRENT = load_table("counties").query("status == 'current'")
_SAMPLE = _CURRENT[~_CURRENT["name"].str.contains("开发区|高新|园区|管理|新星")].sample(
    400, random_state=7)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(zip(_SAMPLE["code"], _SAMPLE["province"], _SAMPLE["prefecture"],
                                _SAMPLE["name"]))))
def test_idempotent_on_gazetteer_names(row):
    code, province, prefecture, name = row
    first = parse_place(province + (prefecture if prefecture not in (province, name) else "") + name)
    assert first.county_code == code
    again = parse_place(first.name)
    assert again[1:4] == first[1:4] and again.name == first.name


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=25))
def test_never_raises_on_any_text(text):
    m = parse_place(text)
    assert 0.0 <= m.score <= 1.0
    for code in (m.province_code, m.prefecture_code, m.county_code):
        assert code is None or (len(code) == 6 and code.isdigit())


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="太康周口河南省市县十里铺邻水一渡水镇公社大队第三生产队襄樊岳池瑶 ", max_size=14))
def test_never_raises_on_place_like_text(text):
    cands = place_candidates(text)
    assert (cands["score"] >= 0).all() and (cands["score"] <= 1).all()


def test_parse_places_vectorized_equals_scalar_and_keeps_input():
    values = pd.Series(["太康", None, "襄樊", "太康", "abc", "一渡水", "灵水县", "岳迟县"],
                       index=list("abcdefgh"))
    before = values.copy()
    out = parse_places(values, prefix="home")
    pd.testing.assert_series_equal(values, before)
    assert list(out.index) == list("abcdefgh")
    assert out.columns.tolist() == ["home_province", "home_prefecture", "home_county", "home_township",
                                    "home_village", "home_lon", "home_lat", "home_place_score",
                                    "home_place_old", "home_place_matched_by"]
    for idx, text in values.items():
        m = parse_place(text)
        assert out.at[idx, "home_county"] == m.county_code
        assert out.at[idx, "home_prefecture"] == m.prefecture_code
        assert out.at[idx, "home_place_score"] == pytest.approx(m.score)
    assert out.at["c", "home_place_old"] is True or out.at["c", "home_place_old"] == True  # noqa: E712


@pytest.mark.parametrize("empty", [pd.Series([], dtype=object), pd.Series([], dtype=float), pd.Series([]),
                                   pd.Series(["太康"]).iloc[:0], pd.Series([], dtype="string")])
def test_parse_places_empty_has_the_columns_and_dtypes(empty):
    out = parse_places(empty, prefix="home", accent_areas=pd.Series([], dtype=object))
    full = parse_places(pd.Series(["太康"]), prefix="home")
    assert out.empty and out.dtypes.to_dict() == full.dtypes.to_dict()
    assert out.index.equals(empty.index)


def test_parse_places_with_accent_areas_and_empty():
    assert parse_places(pd.Series([], dtype=object)).empty
    out = parse_places(pd.Series(["湖州", "湖州"]), accent_areas=pd.Series(["Min", None]))
    assert out["prefecture"].tolist() == ["330500", "330500"]


def test_parse_places_unique_values_once():
    from kinmatch.normalize import places

    places._parse_cached.cache_clear()
    parse_places(pd.Series(["太康", "岳池", "太康"] * 50))
    assert places._parse_cached.cache_info().misses == 2


@pytest.mark.parametrize("a, b, km, tol", [
    ("110101", "310101", 1067, 25),   # Beijing Dongcheng – Shanghai Huangpu
    ("440104", "440304", 105, 25),    # Guangzhou Yuexiu – Shenzhen Futian
    ("411627", "411627", 0, 0.001),
    ("110103", "110101", 6, 6),       # abolished 崇文区 next to 东城区
])
def test_county_distance(a, b, km, tol):
    assert county_distance_km(a, b) == pytest.approx(km, abs=tol)
    assert county_distance_km(a, b) == pytest.approx(county_distance_km(b, a))


def test_county_distance_unknown_is_nan():
    assert math.isnan(county_distance_km("999999", "110101"))
    assert math.isnan(county_distance_km(None, "110101"))


def test_county_distances_vectorized():
    a = pd.Series(["110101", "411627", None])
    b = pd.Series(["310101", "511621", "110101"])
    d = county_distances_km(a, b)
    assert d.iloc[0] == pytest.approx(county_distance_km("110101", "310101"))
    assert d.iloc[1] == pytest.approx(county_distance_km("411627", "511621"))
    assert math.isnan(d.iloc[2])


def test_haversine_vectorized():
    d = haversine_km(np.array([116.4, 0.0]), np.array([39.9, 0.0]), np.array([116.4, 1.0]),
                     np.array([40.9, 0.0]))
    assert d[0] == pytest.approx(111.2, abs=0.5) and d[1] == pytest.approx(111.2, abs=0.5)
