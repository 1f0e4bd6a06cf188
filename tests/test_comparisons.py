"""Comparison levels: one line per real-looking case; symmetry; missing → -1."""

import numpy as np
import pandas as pd
import pytest
import recordlinkage
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.match import comparisons as cmp


def person(name="", pinyin="", keys=(), jyut="", alias=(), alias_keys=(), given=(), surname=(), kind="full",
           evidence=True):
    return {"name_norm": name or None, "name_pinyin": pinyin or None, "name_keys": tuple(keys),
            "name_jyutping": jyut or None, "alias_norm": tuple(alias), "alias_keys": tuple(alias_keys),
            "given_keys": tuple(given), "surname_keys": tuple(surname), "name_kind": kind,
            "name_evidence": evidence}


NAME_CASES = [
    # resident, report, level
    (person("李伟", "li wei", ["li wei"]), person("李伟", "li wei", ["li wei"]), 6),
    (person("李伟", "li wei", ["li wei"]), person("李玮", "li wei", ["li wei"]), 5),
    (person("吴春花", "wu chun hua", ["wu chun hua", "hu chun hua"]),
     person("胡春花", "hu chun hua", ["hu chun hua", "wu chun hua"]), 4),
    (person("刘兰", "liu lan", ["liu lan", "niu nan"]), person("牛南", "niu nan", ["niu nan", "liu lan"]), 4),
    (person("陈家明", "chen jia ming", ["chen jia ming"], "can gaa ming"),
     person("陈嘉铭", "chen jia ming2", ["chen jia ming2"], "can gaa ming"), 3),
    (person("王兴江", "wang xing jiang", ["wang xing jiang"]),
     person("王山江", "wang shan jiang", ["wang shan jiang"]), 2),
    (person("二娃", "er wa", ["er wa"], kind="nickname"),
     person("张建国", "zhang jian guo", ["zhang jian guo"], alias=["二娃"], alias_keys=["er wa"]), 1),
    (person("小军", "xiao jun", ["xiao jun"], given=["jun"], kind="partial"),
     person("刘军", "liu jun", ["liu jun"], given=["jun"], surname=["liu"]), 1),
    (person("廖", "liao", ["liao"], surname=["liao"], kind="surname_only"),
     person("萧廖", "xiao liao", ["xiao liao"], surname=["liao", "xiao liao"]), 1),
    (person("阿英", "a ying", ["a ying"], given=["ying"], kind="partial"),
     person("陈秀英", "chen xiu ying", ["chen xiu ying"], given=["xiu ying"], surname=["chen"]), 1),
    (person("明廷", "ming ting", ["ming ting"], given=["ting"], surname=["ming"]),
     person("陈明廷", "chen ming ting", ["chen ming ting"], given=["ming ting"], surname=["chen"]), 1),
    (person("阿英", "a ying", ["a ying"], given=["ying"], kind="partial"),
     person("陈英华", "chen ying hua", ["chen ying hua"], given=["ying hua"], surname=["chen"]), 0),
    (person("老薛", "lao xue", ["lao xue"], given=["xue"], kind="partial"),
     person("薛宇宏", "xue yu hong", ["xue yu hong"], given=["yu hong"], surname=["xue"]), 1),
    (person("小黄", "xiao huang", ["xiao huang"], given=["huang"], kind="partial"),
     person("黄芳", "huang fang", ["huang fang"], given=["fang"], surname=["huang"]), 1),
    (person("老薛", "lao xue", ["lao xue"], given=["xue"], kind="partial"),
     person("李宇宏", "li yu hong", ["li yu hong"], given=["yu hong"], surname=["li"]), 0),
    (person("赵大山", "zhao da shan", ["zhao da shan"]), person("钱小红", "qian xiao hong", ["qian xiao hong"]), 0),
    (person("党新", "dang xin", ["dang xin"], kind="assigned", evidence=False),
     person("党新", "dang xin", ["dang xin"]), -1),
    (person("无名氏", kind="placeholder", evidence=False), person("李伟", "li wei", ["li wei"]), -1),
    (person(kind="blank", evidence=False), person("李伟", "li wei", ["li wei"]), -1),
    (person("李伟", "li wei", ["li wei"]), person(kind="blank"), -1),
]


@pytest.mark.parametrize("resident, report, level", NAME_CASES)
def test_name_levels(resident, report, level):
    assert cmp.compare_name(resident, report) == level


@pytest.mark.parametrize("resident, report, level", [c for c in NAME_CASES if c[0]["name_evidence"]])
def test_name_symmetric(resident, report, level):
    assert cmp.compare_name(report, resident) == cmp.compare_name(resident, report)


def test_name_feature_inside_recordlinkage_compare():
    residents = pd.DataFrame([person("李伟", "li wei", ["li wei"]), person("党新", "dang xin", ["dang xin"],
                                                                     kind="assigned", evidence=False)],
                             index=["R1", "R2"])
    missing = pd.DataFrame([person("李玮", "li wei", ["li wei"])], index=["M1"])
    pairs = pd.MultiIndex.from_tuples([("R1", "M1"), ("R2", "M1")])
    features = recordlinkage.Compare([cmp.CompareName()]).compute(pairs, residents, missing)
    assert features["name"].tolist() == [5, -1]


def test_every_comparison_is_also_a_recordlinkage_feature_with_the_same_levels():
    from recordlinkage.base import BaseCompareFeature

    residents = pd.DataFrame([person("李伟", "li wei", ["li wei"]) | {"sex_code": "M", "build": "瘦"},
                              person("王芳", "wang fang", ["wang fang"]) | {"sex_code": "F", "build": "胖"}],
                             index=["R1", "R2"])
    missing = pd.DataFrame([person("李玮", "li wei", ["li wei"]) | {"sex_code": "M", "build": "胖"}], index=["M1"])
    plain = cmp.default_features()
    public = [cmp.to_recordlinkage(f) for f in plain]
    for feature, converted in zip(plain, public):
        public_class = getattr(cmp, "Compare" + type(feature).__name__.removesuffix("Comparison"))
        assert type(converted) is public_class and issubclass(public_class, BaseCompareFeature)
        assert isinstance(converted, type(feature)) and converted.label == feature.label
    for frame, side in ((residents, "labels_left"), (missing, "labels_right")):
        for column in {c for f in plain for c in np.atleast_1d(getattr(f, side))} - set(frame.columns):
            frame[column] = None  # recordlinkage wants every column a feature reads
    pairs = pd.MultiIndex.from_tuples([("R1", "M1"), ("R2", "M1")])
    features = cmp.build_compare().compute(pairs, residents, missing)
    assert features[["name", "sex", "build"]].values.tolist() == [[5, 1, 0], [0, 0, 3]]  # 3: both 胖 (rare)
    assert list(features.columns) == cmp.COMPARISONS
    batch = cmp.compare_pairs(pd.DataFrame({"resident_id": ["R1", "R2"], "missing_id": ["M1", "M1"]}),
                              residents.rename_axis("resident_id").reset_index(),
                              missing.rename_axis("missing_id").reset_index(), plain)
    assert features.to_numpy().tolist() == batch[cmp.COMPARISONS].to_numpy().tolist()


def test_linking_imports_neither_recordlinkage_nor_scikit_learn():
    # importing them costs ~0.7 s, a fifth of a 2,000 x 20,000 link; only their own features need them
    import subprocess
    import sys

    code = ("import sys, pandas as pd, kinmatch\n"
            "from kinmatch.match import rank\n"
            "r = pd.DataFrame({'resident_id': ['R1'], 'name': ['李伟'], 'sex': ['男']})\n"
            "m = pd.DataFrame({'missing_id': ['M1', 'M2'], 'name': ['李玮', '王芳'], 'sex': ['男', '女']})\n"
            "table = kinmatch.link(r, m, top_k=2, progress=False)\n"
            "assert len(table) >= 1, table\n"
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'sklearn', 'recordlinkage'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("a, b, level", [("M", "M", 1), ("F", "M", 0), ("F", None, -1), (None, None, -1),
                                         ("M", "", -1), ("F", float("nan"), -1), ("X", "X", -1),
                                         (np.str_("F"), "F", 1)])
def test_sex_levels(a, b, level):
    assert cmp.compare_sex({"sex_code": a}, {"sex_code": b}) == level
    assert cmp.compare_sex({"sex_code": b}, {"sex_code": a}) == level


AGE_CASES = [
    # resident birth-year interval (est. 约60岁 in 2023), report birth year, ages, level
    ((1958, 1968, 65), (1960, 1960, 55), 3),
    ((1958, 1968, 65), (1955, 1955, 60), 2),
    ((1990, 1995, 33), (1978, 1978, 40), 1),
    ((2005, 2010, 18), (1950, 1950, 60), 0),
    ((None, None, None), (1950, 1950, 60), -1),
    ((1970, None, 50), (1970, 1970, 45), 3),
]


@pytest.mark.parametrize("res, rep, level", AGE_CASES)
def test_age_levels(res, rep, level):
    a = {"birth_year_low": res[0], "birth_year_high": res[1], "age_high": res[2]}
    b = {"birth_year_low": rep[0], "birth_year_high": rep[1], "age_high": rep[2]}
    assert cmp.compare_age(a, b) == level
    assert cmp.compare_age(b, a) == level


HEIGHT_CASES = [
    # resident cm, tol, report cm, tol, report age when lost, found, missing, level
    (170, 1, 172, 5, 40, "2023-05-01", "2022-01-01", 4),   # within 3 cm
    (173, 1, 170, 5, 40, "2023-05-01", "2022-01-01", 4),   # 3 cm is still close
    (168, 1, 172, 5, 40, "2023-05-01", "2022-01-01", 3),   # within tolerance, not close
    (165, 1, 172, 3, 40, "2023-05-01", "2022-01-01", 2),
    (158, 1, 172, 3, 40, "2023-05-01", "2022-01-01", 1),
    (150, 1, 180, 3, 40, "2023-05-01", "2022-01-01", 0),
    (160, 1, 130, 5, 9, "2021-05-01", "2016-01-01", 3),   # a child grows
    (160, 1, 130, 5, 30, "2021-05-01", "2016-01-01", 0),  # an adult does not
    (None, 1, 172, 5, 40, "2023-05-01", "2022-01-01", -1),
]


@pytest.mark.parametrize("h_a, t_a, h_b, t_b, age_b, found, lost, level", HEIGHT_CASES)
def test_height_levels(h_a, t_a, h_b, t_b, age_b, found, lost, level):
    a = {"height_cm": h_a, "height_tol_cm": t_a, "event_date": pd.Timestamp(found)}
    b = {"height_cm": h_b, "height_tol_cm": t_b, "age_high": age_b, "event_date": pd.Timestamp(lost)}
    assert cmp.compare_height(a, b) == level


@pytest.mark.parametrize("found, lost, level", [
    ("2023-05-10", "2023-05-01", 4), ("2023-04-20", "2023-05-01", 4), ("2023-01-01", "2023-05-01", 0),
    ("2023-09-01", "2023-05-01", 3), ("2028-09-01", "2023-05-01", 2), ("2023-09-01", "1998-05-01", 1),
    (None, "2023-05-01", -1),
])
def test_time_gap_levels(found, lost, level):
    assert cmp.compare_time_gap({"event_date": found}, {"event_date": lost}) == level


GEO_CASES = [
    # found county, lon, lat; missing county, lon, lat; home county, lon, lat; level
    (("330106", 120.13, 30.27), ("330106", 120.13, 30.27), (None, None, None), 5),
    (("330106", 120.13, 30.27), ("330110", 119.9, 30.42), (None, None, None), 4),
    (("330106", 120.13, 30.27), ("331002", 121.42, 28.65), (None, None, None), 3),
    (("330106", 120.13, 30.27), ("370102", 117.0, 36.65), (None, None, None), 1),
    (("330106", 120.13, 30.27), ("110101", 116.41, 39.91), (None, None, None), 0),
    (("330106", 120.13, 30.27), ("110101", 116.41, 39.91), ("330108", 120.14, 30.26), 5),
    (("460105", 110.3, 20.0), ("230102", 126.6, 45.7), (None, None, None), 0),
    ((None, None, None), ("110101", 116.41, 39.91), (None, None, None), -1),
]


@pytest.mark.parametrize("found, lost, home, level", GEO_CASES)
def test_geography_levels(found, lost, home, level):
    a = dict(zip(["found_county", "found_lon", "found_lat"], found))
    b = dict(zip(["missing_county", "missing_lon", "missing_lat"], lost)) | dict(
        zip(["home_county", "home_lon", "home_lat"], home))
    assert cmp.compare_geography(a, b) == level


ACCENT_CASES = [
    ({"accent_provinces": ("510000",), "accent_area": "SW_Man"}, {"home_province": "510000"}, 2),
    ({"accent_provinces": ("500000",), "accent_area": "SW_Man"},
     {"home_province": "520000", "home_dialect_area": "SW_Man"}, 1),
    ({"accent_provinces": ("230000",), "accent_area": "N_Man"},
     {"home_province": "440000", "home_dialect_area": "Yue"}, 0),
    ({"accent_provinces": (), "accent_area": None}, {"home_province": "440000"}, -1),
    ({"accent_provinces": ("440000",), "accent_area": "Yue"}, {"home_province": None}, -1),
]


@pytest.mark.parametrize("resident, report, level", ACCENT_CASES)
def test_accent_levels(resident, report, level):
    assert cmp.compare_accent(resident, report) == level


def test_accent_symmetric_when_both_sides_carry_accent_and_home():
    a = {"accent_provinces": ("510000",), "accent_area": "SW_Man", "home_province": None}
    b = {"accent_provinces": (), "accent_area": "N_Man", "home_province": "510000"}
    assert cmp.compare_accent(a, b) == cmp.compare_accent(b, a) == 2


@pytest.mark.parametrize("stated, report, level", [
    (("341021",), {"home_county": "341021"}, 3),
    (("341021",), {"home_county": "341022"}, 2),
    (("341021",), {"home_county": "340102"}, 1),
    (("341021",), {"home_province": "340000"}, 1),
    (("341021",), {"home_county": "370782"}, 0),
    ((), {"home_county": "370782"}, -1),
    (("341021",), {}, -1),
])
def test_statement_places_levels(stated, report, level):
    assert cmp.compare_statement_places({"statement_places": stated}, report) == level


MARK_CASES = [
    (("缺指:左手:小指",), ("缺指:左手:小指",), 4),
    (("痣:脸:左",), ("痣:脸:左", "疤痕:额头:"), 3),
    (("痣:脸:左",), ("痣:脸:",), 3),
    (("痣:脸:左",), ("痣:脸:右",), 2),
    (("痣:脸:左",), ("疤痕:额头:",), 1),
    (("无纹身::",), ("纹身:右臂:龙",), 0),
    ((), ("纹身:右臂:龙",), -1),
    (("聋哑::",), ("聋哑::", "痣:脸:左"), -1),   # a condition is compared by the conditions comparison
    (("痣:脸:左", "疤痕:额头:"), ("疤痕:额头:", "痣:脸:"), 5),   # two marks agree
    (("痣:脸:左", "痣:脸:"), ("痣:脸:左",), 3),                  # two marks of one record, one of the other
    (("痣:脸:左", "疤痕:额头:"), ("痣:脸:右", "疤痕:额头:"), 3),  # one agrees, one mirrored
]


@pytest.mark.parametrize("a, b, level", MARK_CASES)
def test_marks_levels_and_symmetry(a, b, level):
    assert cmp.compare_marks({"marks": a}, {"marks": b}) == level
    assert cmp.compare_marks({"marks": b}, {"marks": a}) == level


def test_marks_negated_column_contradicts():
    assert cmp.compare_marks({"marks": (), "negated": ("纹身",)}, {"marks": ("纹身:右臂:龙",)}) == 0
    assert cmp.compare_marks({"marks": ("纹身:右臂:龙",)}, {"marks": ("痣:脸:左",), "negated": ("纹身",)}) == 0
    assert cmp.compare_marks({"marks": (), "negated": ("疤痕",)}, {"marks": ("纹身:右臂:龙",)}) == -1


def test_mark_rarity_from_frequency_table():
    common = {"痣:脸": 0.3}
    rare = {"痣:脸": 0.01}
    assert cmp.mark_comparison(("痣:脸:左",), ("痣:脸:左",), common)[0] == 3
    assert cmp.mark_comparison(("痣:脸:左",), ("痣:脸:左",), rare)[0] == 4


@pytest.mark.parametrize("a, b, level", [
    (("聋哑",), ("聋哑", "智力障碍"), 2), (("痴呆",), ("痴呆",), 1), (("痴呆",), ("聋哑",), 0),
    ((), ("聋哑",), -1),
])
def test_conditions_levels(a, b, level):
    assert cmp.compare_conditions({"conditions": a}, {"conditions": b}) == level
    assert cmp.compare_conditions({"conditions": b}, {"conditions": a}) == level


MARKS = st.lists(st.sampled_from(["痣:脸:左", "痣:脸:右", "痣:脸:", "疤痕:额头:", "缺指:左手:小指", "无纹身::",
                                  "纹身:右臂:龙"]), max_size=3).map(tuple)


@settings(max_examples=60, deadline=None)
@given(MARKS, MARKS)
def test_marks_symmetric_property(a, b):
    assert cmp.compare_marks({"marks": a}, {"marks": b}) == cmp.compare_marks({"marks": b}, {"marks": a})


YEARS = st.one_of(st.none(), st.integers(1930, 2020))


@settings(max_examples=60, deadline=None)
@given(YEARS, st.integers(0, 15), YEARS, st.integers(0, 15))
def test_age_symmetric_property(low_a, width_a, low_b, width_b):
    a = {"birth_year_low": low_a, "birth_year_high": None if low_a is None else low_a + width_a}
    b = {"birth_year_low": low_b, "birth_year_high": None if low_b is None else low_b + width_b}
    assert cmp.compare_age(a, b) == cmp.compare_age(b, a)


def test_compare_pairs_vectors_and_tf():
    residents = pd.DataFrame([person("李伟", "li wei", ["li wei"]) | {"resident_id": "R1", "sex_code": "M"},
                              person("党新", kind="assigned", evidence=False) | {"resident_id": "R2",
                                                                                  "sex_code": "M"}])
    missing = pd.DataFrame([person("李玮", "li wei", ["li wei"]) | {"missing_id": "M1", "sex_code": "M"},
                            person("李伟", "li wei", ["li wei"]) | {"missing_id": "M2", "sex_code": None}])
    pairs = pd.DataFrame({"resident_id": ["R1", "R1", "R2"], "missing_id": ["M1", "M2", "M1"]})
    freq = cmp.name_key_frequency(missing)
    vectors = cmp.compare_pairs(pairs, residents, missing, name_frequency=freq, chunk_size=2)
    assert list(vectors.columns) == cmp.COMPARISONS + ["tf_name"]
    assert vectors["name"].tolist() == [5, 6, -1]
    assert vectors["sex"].tolist() == [1, -1, 1]
    assert vectors["tf_name"].iloc[0] == pytest.approx(1.0)
    assert np.isnan(vectors["tf_name"].iloc[2])
    assert (vectors[cmp.COMPARISONS].dtypes == np.int8).all()


def test_compare_pairs_shared_report_values_equal_pair_by_pair():
    # reports with identical marks / home codes are compared once per resident; every pair must
    # still get the level compare_one gives it
    rng = np.random.default_rng(11)
    marks = [(), ("痣:脸:左",), ("痣:脸:右",), ("疤痕:额头:", "痣:脸:左"), ("聋哑::",)]
    homes = ["341021", "341022", "340102", "370782", None]
    residents = pd.DataFrame([{"resident_id": f"R{i}", "marks": marks[i % 5], "statement_places": (homes[i % 4],),
                               "sex_code": "MF"[i % 2], "accent_provinces": ("340000",) if i % 3 else ()}
                              for i in range(6)])
    missing = pd.DataFrame([{"missing_id": f"M{j}", "marks": marks[rng.integers(5)],
                             "home_county": homes[rng.integers(5)], "sex_code": "MF"[rng.integers(2)],
                             "home_province": "340000" if j % 2 else "370000"} for j in range(30)])
    pairs = pd.DataFrame([(r, m) for r in residents["resident_id"] for m in missing["missing_id"]],
                         columns=["resident_id", "missing_id"])
    vectors = cmp.compare_pairs(pairs, residents, missing, chunk_size=50)
    res, rep = residents.set_index("resident_id"), missing.set_index("missing_id")
    for (rid, mid), row in vectors.iterrows():
        expected = cmp.compare_one(res.loc[rid].to_dict(), rep.loc[mid].to_dict())
        assert {k: int(row[k]) for k in cmp.COMPARISONS} == expected, (rid, mid)


# what met at level 1: (resident, report, shown left, shown right, how, keys that met)
PARTIAL_CASES = [
    (person("周俊翰", "zhou jun han", ["zhou jun han"], alias=["二娃"], alias_keys=["er wa"]),
     person("吴雷", "wu lei", ["wu lei"], alias=["二娃"], alias_keys=["er wa"]), "二娃", "二娃", "alias", {"er wa"}),
    (person("二娃", "er wa", ["er wa"], kind="nickname"),
     person("张建国", "zhang jian guo", ["zhang jian guo"], alias=["二娃"], alias_keys=["er wa"]),
     "二娃", "二娃", "alias", {"er wa"}),
    (person("钱海", "qian hai", ["qian hai"], alias=["铁蛋儿"], alias_keys=["tie dan"]),
     person("孙福", "sun fu", ["sun fu"], alias=["铁旦"], alias_keys=["tie dan"]), "铁蛋儿", "铁旦", "alias", {"tie dan"}),
    (person("明廷", "ming ting", ["ming ting"], given=["ting"], surname=["ming"]),
     person("陈明廷", "chen ming ting", ["chen ming ting"], given=["ming ting"], surname=["chen"]),
     "明廷", "陈明廷", "given", {"ming ting"}),
    (person("阿英", "a ying", ["a ying"], given=["ying"], kind="partial"),
     person("陈秀英", "chen xiu ying", ["chen xiu ying"], given=["xiu ying"], surname=["chen"]),
     "阿英", "陈秀英", "given", {"ying"}),
    (person("老薛", "lao xue", ["lao xue"], given=["xue"], kind="partial"),
     person("薛宇宏", "xue yu hong", ["xue yu hong"], given=["yu hong"], surname=["xue"]),
     "老薛", "薛宇宏", "surname", {"xue"}),
    (person("廖", "liao", ["liao"], surname=["liao"], kind="surname_only"),
     person("萧廖", "xiao liao", ["xiao liao"], surname=["liao", "xiao liao"]), "廖", "萧廖", "surname", {"liao"}),
]


@pytest.mark.parametrize("resident, report, left, right, how, keys", PARTIAL_CASES)
def test_partial_match_says_what_met(resident, report, left, right, how, keys):
    assert cmp.compare_name(resident, report) == 1
    assert tuple(cmp.partial_match(resident, report)) == (left, right, how, frozenset(keys))
    swapped = cmp.partial_match(report, resident)
    assert (swapped.left, swapped.right, swapped.how, swapped.keys) == (right, left, how, frozenset(keys))


@pytest.mark.parametrize("resident, report, level", [c for c in NAME_CASES if c[2] != 1])
def test_partial_match_only_at_level_1(resident, report, level):
    assert cmp.partial_match(resident, report) is None


def _reports_with_nicknames(n_erwa: int, n_other: int) -> pd.DataFrame:
    rows = [person(f"王{i}", f"wang {i}", [f"wang {i}"], alias=["二娃"], alias_keys=["er wa"]) for i in range(n_erwa)]
    rows += [person(f"李{i}", f"li {i}", [f"li {i}"], alias=["铁蛋儿"] if i == 0 else [],
                    alias_keys=["tie dan"] if i == 0 else []) for i in range(n_other)]
    return pd.DataFrame([r | {"missing_id": f"M{j}"} for j, r in enumerate(rows)])


def test_name_key_frequency_counts_partial_forms_apart_from_full_names():
    missing = _reports_with_nicknames(30, 70)
    missing.at[99, "name_norm"] = "二娃"  # one report is *named* 二娃
    missing.at[99, "name_keys"] = ("er wa",)
    freq = cmp.name_key_frequency(missing)
    assert freq["er wa"] == pytest.approx(0.01)  # full-name table: only the report named 二娃
    assert freq[cmp.PARTIAL_KEY + "er wa"] == pytest.approx(0.31)  # 30 小名 + 1 name
    assert freq[cmp.PARTIAL_KEY + "tie dan"] == pytest.approx(0.01)


def test_tf_name_of_a_shared_nickname_is_its_share_of_reports():
    # a shared 二娃 (a third of reports) must weigh less than a shared 铁蛋儿 (one report):
    # tf_name carries each key's share so the model's tf adjustment can price it
    missing = _reports_with_nicknames(30, 70)
    residents = pd.DataFrame([
        person("周俊翰", "zhou jun han", ["zhou jun han"], alias=["二娃"], alias_keys=["er wa"]) | {"resident_id": "R1"},
        person("赵刚", "zhao gang", ["zhao gang"], alias=["铁蛋儿"], alias_keys=["tie dan"]) | {"resident_id": "R2"},
        person("王0", "wang 0", ["wang 0"]) | {"resident_id": "R3"}])
    pairs = pd.DataFrame({"resident_id": ["R1", "R2", "R1", "R3"], "missing_id": ["M0", "M30", "M31", "M0"]})
    vectors = cmp.compare_pairs(pairs, residents, missing, name_frequency=cmp.name_key_frequency(missing),
                                chunk_size=3)
    assert vectors["name"].tolist() == [1, 1, 0, 6]
    assert vectors["tf_name"].iloc[0] == pytest.approx(0.30)
    assert vectors["tf_name"].iloc[1] == pytest.approx(0.01)
    assert np.isnan(vectors["tf_name"].iloc[2])
    assert vectors["tf_name"].iloc[3] == pytest.approx(0.01)  # full-name tf unchanged


def _random_records(rng, n, side):
    """Records mixing everything the shortcuts of compare_pairs decide on: names sharing or not
    sharing characters and syllables, aliases, assigned names; marks with blank parts and sides,
    mirrored sides, 无X and negations, conditions written as marks; stated places and home codes
    that are blank, malformed or of another rank."""
    names = [person("李伟", "li wei", ["li wei"]), person("李玮", "li wei", ["li wei", "ni wei"]),
             person("吴春花", "wu chun hua", ["wu chun hua", "hu chun hua"]),
             person("胡春花", "hu chun hua", ["hu chun hua"]), person("王兴江", "wang xing jiang", ["wang xing jiang"]),
             person("王山江", "wang shan jiang", ["wang shan jiang"]),
             person("陈家明", "chen jia ming", ["chen jia ming"], "can gaa ming"),
             person("二娃", "er wa", ["er wa"], kind="nickname"),
             person("张建国", "zhang jian guo", ["zhang jian guo"], alias=["二娃"], alias_keys=["er wa"]),
             person("阿英", "a ying", ["a ying"], given=["ying"], kind="partial"),
             person("陈秀英", "chen xiu ying", ["chen xiu ying"], given=["xiu ying"], surname=["chen"]),
             person("老薛", "lao xue", ["lao xue"], given=["xue"], kind="partial"),
             person("薛宇宏", "xue yu hong", ["xue yu hong"], given=["yu hong"], surname=["xue"]),
             person("党新", "dang xin", ["dang xin"], kind="assigned", evidence=False), person()]
    marks = ["痣:脸:左", "痣:脸:右", "痣:脸:", "痣::", "疤痕:额头:", "疤痕:额头:左:3cm", "缺指:左手:小指",
             "六指:右手:", "无纹身::", "纹身:手臂:左", "聋哑::", "胎记:腿:右", "胎记:腿:左"]
    codes = ["341021", "341022", "340102", "340100", "340000", "370782", "3410", "abcdef", "341000x", None, ""]
    geo = np.random.default_rng([n, side == "left"])  # its own stream: the draws above stay as they were
    rows = []
    for i in range(n):
        row = dict(names[rng.integers(len(names))])
        row["marks"] = tuple(rng.choice(marks, size=rng.integers(0, 4), replace=False))
        row["negated"] = ("纹身",) if rng.random() < 0.15 else ()
        row["conditions"] = tuple(rng.choice(["痴呆", "聋哑", "智力障碍"], size=rng.integers(0, 2), replace=False))
        row["accent_provinces"] = ("340000",) if rng.random() < 0.4 else ()
        row["accent_area"] = "JH_Man" if rng.random() < 0.3 else None
        row["build"] = [None, "瘦", "中等", "胖"][(i + (side == "left")) % 4]  # every combination, no draw
        row["sex_code"] = ["M", "F", None, "", float("nan"), "X"][(i + 2 * (side == "left")) % 6]
        # places from next door to across the country, some without coordinates
        for place in (("found",) if side == "left" else ("missing", "home")):
            row[f"{place}_lon"], row[f"{place}_lat"] = ((float("nan"), float("nan")) if geo.random() < 0.15 else
                                                        (117.0 + geo.normal(0, 4), 31.0 + geo.normal(0, 3)))
        row["hair"] = [None, "短发", "白发、短发", "白发", "光头", "秃顶", "长发"][(3 * i + len(side)) % 7]
        if side == "left":
            row["resident_id"] = f"R{i}"
            row["statement_places"] = tuple(c for c in rng.choice(codes, size=rng.integers(0, 4)) if c)
            row["found_county"] = codes[geo.integers(len(codes))]
        else:
            row["missing_id"] = f"M{i}"
            for column in ("home_county", "home_prefecture", "home_province", "missing_county"):
                row[column] = codes[rng.integers(len(codes))]
            row["home_dialect_area"] = "JH_Man_Hu" if rng.random() < 0.3 else None
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed, by_frequency", [(1, True), (2, False)])
def test_compare_pairs_shortcuts_equal_the_plain_functions(seed, by_frequency):
    # compare_pairs decides most pairs without the one-pair functions (token overlap for names,
    # mark type bits and codes, integer adcodes for stated places); every level must still be
    # what the plain function says
    rng = np.random.default_rng(seed)
    residents, missing = _random_records(rng, 40, "left"), _random_records(rng, 60, "right")
    pairs = pd.DataFrame([(r, m) for r in residents["resident_id"] for m in missing["missing_id"]],
                         columns=["resident_id", "missing_id"])
    freq = cmp.mark_frequency(missing["marks"]) if by_frequency else None
    vectors = cmp.compare_pairs(pairs, residents, missing, cmp.default_features(freq), chunk_size=700)
    res, rep = residents.set_index("resident_id"), missing.set_index("missing_id")
    plain = {"name": cmp.name_level, "statement_places": cmp.statement_places_level,
             "marks": lambda a, b: cmp.marks_level(a, b, freq), "accent": cmp.accent_level,
             "conditions": cmp.conditions_level, "hair": cmp.hair_level, "build": cmp.compare_build,
             "sex": cmp.compare_sex, "geography": cmp.compare_geography}
    seen = {name: set() for name in plain}
    for (rid, mid), row in vectors.iterrows():
        a, b = res.loc[rid].to_dict(), rep.loc[mid].to_dict()
        for name, level in plain.items():
            assert int(row[name]) == level(a, b), (name, rid, mid)
            seen[name].add(int(row[name]))
    # the table really reached the levels the shortcuts decide and the ones they pass on
    assert seen["name"] >= {-1, 0, 1, 2, 4, 5, 6}
    assert seen["marks"] >= {-1, 0, 1, 2, 3, 4, 5}
    assert seen["geography"] >= {-1, 0, 1, 2, 3, 4, 5}
    assert seen["statement_places"] >= {-1, 0, 1, 2, 3}


BUILD_HAIR_CASES = [
    # comparison, resident value, report value, level
    ("build", "瘦", "瘦", 2), ("build", "胖", "胖", 3), ("build", "中等", "瘦", 1), ("build", "胖", "瘦", 0),
    ("build", None, "瘦", -1), ("build", "瘦", "", -1),
    ("hair", "白发、短发", "白发", 1), ("hair", "长发、白发", "长发", 2), ("hair", "短发", "短发", 1),
    ("hair", "光头", "秃顶", 2),
    ("hair", "长发", "短发", 0), ("hair", "白发", None, -1), ("hair", float("nan"), "短发", -1),
]


@pytest.mark.parametrize("comparison, a, b, level", BUILD_HAIR_CASES)
def test_build_and_hair_levels_symmetric(comparison, a, b, level):
    compare = cmp.compare_build if comparison == "build" else cmp.compare_hair
    assert compare({comparison: a}, {comparison: b}) == level
    assert compare({comparison: b}, {comparison: a}) == level


def test_build_rarity_follows_the_reports():
    # where most reports say 胖, a shared 胖 is the common case and a shared 瘦 the rare one
    frequency = cmp.value_frequency(pd.Series(["胖"] * 8 + ["瘦"] * 2))
    assert cmp.compare_build({"build": "胖"}, {"build": "胖"}, frequency) == 2
    assert cmp.compare_build({"build": "瘦"}, {"build": "瘦"}, frequency) == 3


def test_compare_pairs_in_worker_processes_equals_in_process(monkeypatch):
    # forked workers each compare a range of pairs; the assembled vectors must be the same
    rng = np.random.default_rng(4)
    residents, missing = _random_records(rng, 30, "left"), _random_records(rng, 50, "right")
    pairs = pd.DataFrame([(r, m) for r in residents["resident_id"] for m in missing["missing_id"]],
                         columns=["resident_id", "missing_id"])
    freq = cmp.name_key_frequency(missing)
    alone = cmp.compare_pairs(pairs, residents, missing, name_frequency=freq, n_jobs=1)
    import kinmatch.match.batch as batch

    monkeypatch.setattr(batch, "PARALLEL_MIN_PAIRS", 0)
    forked = []
    import kinmatch._parallel as parallel

    real_pool = parallel.FORK.Pool

    def counting_pool(n):
        forked.append(n)
        return real_pool(n)

    monkeypatch.setattr(parallel.FORK, "Pool", counting_pool)
    together = cmp.compare_pairs(pairs, residents, missing, name_frequency=freq, n_jobs=2, chunk_size=400)
    assert forked == [2]
    pd.testing.assert_frame_equal(alone, together)
