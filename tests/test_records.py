"""Record-level normalizers: contract columns, types, no mutation, idempotence, issues."""


import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from procs import reaped

from kinmatch.issues import ISSUE_COLUMNS
from kinmatch.normalize.contract import NORMALIZED_COLUMNS, check_normalized
from kinmatch.normalize.records import (
    MISSING_COLUMNS,
    RESIDENT_COLUMNS,
    normalize_missing,
    normalize_residents,
    statement_names,
    statement_place_fragments,
)

# Contract §2 transcribed from docs/contract.md: column → kind of value. "str" cells are non-empty
# str or None; "tuple" cells are tuples of non-empty str; "float" columns are float dtype;
# "datetime" columns are datetime64; "bool" is bool.
CONTRACT = {
    "name_norm": "str", "name_surname": "str", "name_given": "str", "name_kind": "str",
    "name_evidence": "bool", "name_pinyin": "str", "name_keys": "tuple", "surname_keys": "tuple",
    "given_keys": "tuple", "name_jyutping": "str", "alias_norm": "tuple", "alias_keys": "tuple",
    "sex_code": "str", "age_low": "float", "age_high": "float", "birth_year_low": "float",
    "birth_year_high": "float", "height_cm": "float", "height_tol_cm": "float",
    "event_date": "datetime", "event_date_precision": "str", "birth_date_value": "datetime",
    "birth_date_precision": "str", "accent_area": "str", "accent_provinces": "tuple",
    "marks": "tuple", "negated": "tuple", "build": "str", "hair": "str", "conditions": "tuple",
    "clothing_items": "tuple",
    "statement_places": "tuple", "statement_names": "tuple", "home_dialect_area": "str",
}
for prefix in ("found", "missing", "home"):
    CONTRACT.update({f"{prefix}_province": "str", f"{prefix}_prefecture": "str",
                     f"{prefix}_county": "str", f"{prefix}_lon": "float", f"{prefix}_lat": "float",
                     f"{prefix}_place_score": "float"})

RESIDENT_ONLY = {"statement_places", "statement_names", "found_province", "found_prefecture", "found_county",
                 "found_lon", "found_lat", "found_place_score"}
MISSING_ONLY = {"home_dialect_area", "missing_province", "missing_prefecture", "missing_county",
                "missing_lon", "missing_lat", "missing_place_score", "home_province",
                "home_prefecture", "home_county", "home_lon", "home_lat", "home_place_score"}


def residents_frame():
    """A small canonical resident frame as intake returns it (synthetic people)."""
    frame = pd.DataFrame({
        "resident_id": ["R001", "R002", "R003", "R004", "R005"],
        "station": ["郑州市救助管理站"] * 5,
        "name": ["李伟", "党新生", None, "吴春花", "阿卜杜拉"],
        "name_source": ["自报", "站内代名", None, "自报", "自报"],
        "alias": [None, None, "二娃", "春儿、花花", None],
        "sex": ["男", "男", "男", "女", "男"],
        "age": ["约60岁", "五六十岁", "十七八岁", None, "40多岁"],
        "birth_date": [None, None, None, "1970年", None],
        "height": ["172cm", "一米六五", None, "约160", "1.80米"],
        "found_date": ["2023-11-05", "2023年3月", "2022/7/1", "2021", None],
        "found_place": ["郑州市二七区火车站", "郑州市金水区", None, "郑州", "乌鲁木齐市天山区"],
        "accent": ["四川口音", "河南口音", None, "安徽口音", "新疆口音"],
        "description": ["左脸有黑痣，偏瘦", "右手小指缺失", None, "无明显特征，头发花白", "右臂纹有青龙"],
        "clothing": ["蓝色上衣", None, None, "黑色外套", None],
        "health": ["疑似老年痴呆", "智力低下", "聋哑", None, "精神正常"],
        "statements": ["说家在邻水县，父亲叫王大山", "提到红旗公社", None, "说儿子叫胡建国", "说家在喀什"],
        "photo": [None] * 5,
        "contact": [None] * 5,
        "source_row": [2, 3, 4, 5, 6],
        "备注": ["x", None, None, None, None],
    })
    frame.attrs["kind"] = "resident"
    return frame


def missing_frame():
    frame = pd.DataFrame({
        "missing_id": ["M001", "M002", "M003", "M004"],
        "name": ["李玮", "胡春花", "王小明", None],
        "alias": ["伟伟", None, "二娃", None],
        "sex": ["男", "女", "男", "未知"],
        "birth_date": ["1963-05-01", "1970", None, None],
        "age": [None, None, "16岁", "70多岁"],
        "height": ["170左右", "一米六", None, None],
        "missing_date": ["2020年8月", "2019-01-02", "2022-06-15", None],
        "missing_place": ["成都市金牛区", "黄山市屯溪区", "广安市邻水县", None],
        "hometown": ["四川省广安市邻水县", "安徽省黄山市歙县", None, "某地"],
        "dialect": ["四川话", None, "四川口音", None],
        "description": ["左脸颊有痦子，瘦", "无纹身", "左手小拇指少一截", None],
        "clothing": [None] * 4,
        "health": ["老年痴呆", None, "智力障碍", "腿脚不便"],
        "contact": ["138xxxx0000", None, None, None],
        "source": ["家属", "公安", "平台", None],
        "source_row": [2, 3, 4, 5],
    })
    frame.attrs["kind"] = "missing"
    return frame


def _check_types(normalized: pd.DataFrame, columns: list[str]):
    for column in columns:
        assert column in normalized.columns, column
        kind = CONTRACT[column]
        series = normalized[column]
        if kind == "float":
            assert pd.api.types.is_float_dtype(series), column
        elif kind == "datetime":
            assert pd.api.types.is_datetime64_any_dtype(series), column
        elif kind == "bool":
            assert pd.api.types.is_bool_dtype(series), column
        elif kind == "tuple":
            assert all(isinstance(v, tuple) and all(isinstance(x, str) and x for x in v) for v in series), column
        else:
            assert all(v is None or (isinstance(v, str) and v) for v in series), column
    # the boundary check agrees with this transcription of the contract table
    check_normalized(normalized, "resident" if columns is RESIDENT_COLUMNS else "missing")


def test_contract_kinds_match_the_documented_table():
    as_kind = {"str": "text", "tuple": "texts", "float": "number", "datetime": "date", "bool": "flag"}
    assert NORMALIZED_COLUMNS == {column: as_kind[CONTRACT[column]] for column in NORMALIZED_COLUMNS}
    assert set(NORMALIZED_COLUMNS) == set(CONTRACT)


@pytest.mark.parametrize("normalize,make,columns,kind_only", [
    (normalize_residents, residents_frame, RESIDENT_COLUMNS, RESIDENT_ONLY),
    (normalize_missing, missing_frame, MISSING_COLUMNS, MISSING_ONLY),
])
def test_contract_columns_and_types(normalize, make, columns, kind_only):
    frame = make()
    normalized, issues = normalize(frame)
    other_only = MISSING_ONLY if kind_only is RESIDENT_ONLY else RESIDENT_ONLY
    # exactly the contract's columns for this kind (+ negated, read by the mark comparison)
    assert set(columns) == set(CONTRACT) - other_only
    _check_types(normalized, columns)
    assert list(normalized.columns[: len(frame.columns)]) == list(frame.columns)
    assert list(issues.columns) == ISSUE_COLUMNS
    assert normalized.attrs["kind"] == frame.attrs["kind"]


@pytest.mark.parametrize("normalize,make", [(normalize_residents, residents_frame),
                                            (normalize_missing, missing_frame)])
def test_input_not_mutated_and_originals_kept(normalize, make):
    frame = make()
    before = frame.copy(deep=True)
    normalized, _ = normalize(frame)
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(normalized[list(frame.columns)], before)


@pytest.mark.parametrize("normalize,make,columns", [
    (normalize_residents, residents_frame, RESIDENT_COLUMNS),
    (normalize_missing, missing_frame, MISSING_COLUMNS),
])
def test_idempotent(normalize, make, columns):
    once, issues_once = normalize(make())
    twice, issues_twice = normalize(once)
    pd.testing.assert_frame_equal(once, twice)
    pd.testing.assert_frame_equal(issues_once, issues_twice)


def test_resident_values():
    normalized, _ = normalize_residents(residents_frame())
    row = normalized.set_index("resident_id")
    assert row.loc["R001", "sex_code"] == "M"
    assert (row.loc["R001", "age_low"], row.loc["R001", "age_high"]) == (55.0, 65.0)
    # birth years follow from the age at the found date (2023): 55–65 → 1957–1968
    assert (row.loc["R001", "birth_year_low"], row.loc["R001", "birth_year_high"]) == (1957.0, 1968.0)
    assert row.loc["R001", "height_cm"] == 172.0
    assert row.loc["R001", "event_date"] == pd.Timestamp("2023-11-05")
    assert row.loc["R002", "event_date_precision"] == "month"
    assert row.loc["R001", "marks"] == ("痣:脸:左",) and row.loc["R001", "build"] == "瘦"
    assert row.loc["R001", "conditions"] == ("痴呆",)
    assert row.loc["R002", "marks"] == ("缺指:手:右:小指",)
    assert row.loc["R003", "conditions"] == ("聋哑",)
    assert row.loc["R004", "hair"] == "白发"
    # resident without an age estimate but with a stated birth year: age from the birth year
    assert row.loc["R004", "birth_year_low"] == 1970.0 and row.loc["R004", "age_low"] == 50.0
    # no found date: the age stays, birth years cannot be known
    assert row.loc["R005", "age_low"] == 41.0 and np.isnan(row.loc["R005", "birth_year_low"])
    assert row.loc["R005", "marks"] == ("纹身:臂:右:龙",)
    assert row.loc["R001", "accent_area"] == "SW_Man" and row.loc["R001", "accent_provinces"] == ("510000",)
    assert row.loc["R003", "accent_area"] is None and row.loc["R003", "accent_provinces"] == ()
    # names: station-assigned names carry no evidence and no keys; aliases are split and keyed
    assert row.loc["R001", "name_kind"] == "full" and row.loc["R001", "name_evidence"]
    assert row.loc["R002", "name_kind"] == "assigned" and row.loc["R002", "name_keys"] == ()
    assert not row.loc["R002", "name_evidence"]
    assert row.loc["R003", "name_kind"] == "blank" and row.loc["R003", "name_norm"] is None
    assert row.loc["R004", "alias_norm"] == ("春儿", "花花") and len(row.loc["R004", "alias_keys"]) >= 2
    assert row.loc["R001", "found_province"] == "410000" and row.loc["R001", "found_county"] == "410103"
    assert row.loc["R001", "statement_names"] == ("王大山",)
    assert row.loc["R001", "statement_places"][0] == "511623"  # 邻水县
    assert row.loc["R005", "statement_places"][0] == "653101"  # 喀什市


def test_missing_values():
    normalized, _ = normalize_missing(missing_frame())
    row = normalized.set_index("missing_id")
    # the birth date wins over the age, and ages are taken at the missing date
    assert (row.loc["M001", "birth_year_low"], row.loc["M001", "birth_year_high"]) == (1963.0, 1963.0)
    assert (row.loc["M001", "age_low"], row.loc["M001", "age_high"]) == (56.0, 57.0)
    assert row.loc["M001", "birth_date_precision"] == "day"
    assert row.loc["M001", "event_date_precision"] == "month"
    assert row.loc["M001", "marks"] == ("痣:脸:左",)
    assert row.loc["M003", "age_low"] <= 16.0 <= row.loc["M003", "age_high"]
    assert row.loc["M003", "marks"] == ("缺指:手:左:小指",)
    assert row.loc["M003", "conditions"] == ("智力障碍",)
    assert row.loc["M004", "sex_code"] is None
    assert row.loc["M004", "marks"] == ("跛:腿:",)  # from the health text
    assert np.isnan(row.loc["M004", "birth_year_low"])
    assert row.loc["M001", "accent_area"] == "SW_Man"  # from the dialect field
    assert row.loc["M002", "negated"] == ("纹身",)
    assert row.loc["M001", "home_county"] == "511623" and row.loc["M001", "home_dialect_area"] == "SW_Man"
    assert row.loc["M002", "home_dialect_area"] == "Wu"  # 歙县 is Hui/Wu country, no dialect given
    assert row.loc["M001", "missing_province"] == "510000"
    assert row.loc["M001", "alias_norm"] == ("伟伟",)
    # 某地 reads as nothing: codes blank, score kept low, area from the (blank) dialect → None
    assert row.loc["M004", "home_county"] is None and row.loc["M004", "home_place_score"] < 0.3
    assert row.loc["M004", "home_dialect_area"] is None


@pytest.mark.parametrize("hometown,dialect,area", [
    ("四川省广安市邻水县", None, "SW_Man"),     # the county's area
    ("四川省广安市邻水县", "粤语", "SW_Man"),   # the county beats the dialect note
    ("河南省", None, "N_Man"),                 # no county: one area covers the province
    ("广东省", None, None),                    # no county, the province is split
    ("广东省", "客家话", "Hakka"),             # the dialect note before the province
    (None, "四川话", "SW_Man"),
    (None, None, None),
])
def test_home_dialect_area(hometown, dialect, area):
    frame = pd.DataFrame({"missing_id": ["M1"], "hometown": [hometown], "dialect": [dialect]})
    normalized, _ = normalize_missing(frame)
    assert normalized.loc[0, "home_dialect_area"] == area


@pytest.mark.parametrize("description,health,marks,conditions", [
    ("左腿瘸", "走路一瘸一拐，疑似智力障碍", ("跛:腿:左",), ("智力障碍",)),
    ("无纹身", "聋哑", ("聋哑::",), ("聋哑",)),
    (None, "老年痴呆，右手小指缺失", ("缺指:手:右:小指",), ("痴呆",)),
    ("右臂有疤", None, ("疤痕:臂:右",), ()),
])
def test_description_and_health_are_read_together(description, health, marks, conditions):
    frame = pd.DataFrame({"resident_id": ["R1"], "description": [description], "health": [health]})
    normalized, _ = normalize_residents(frame)
    assert normalized.loc[0, "marks"] == marks
    assert normalized.loc[0, "conditions"] == conditions


def test_list_cells_from_a_hand_built_frame():
    frame = pd.DataFrame({"missing_id": ["M1"], "name": ["胡春花"], "alias": [["春儿", "花花"]]})
    normalized, _ = normalize_missing(frame)
    assert normalized.loc[0, "alias_norm"] == ("春儿", "花花")


def test_birth_date_without_missing_date_keeps_the_age_text():
    frame = pd.DataFrame({"missing_id": ["M1"], "birth_date": ["1950年"], "age": ["70多岁"]})
    normalized, _ = normalize_missing(frame)
    row = normalized.loc[0]
    assert (row["birth_year_low"], row["birth_year_high"]) == (1950.0, 1950.0)
    assert (row["age_low"], row["age_high"]) == (71.0, 79.0)


def test_unreadable_values_become_issues_not_silence():
    frame = missing_frame()
    frame.loc[0, "height"] = "很高"
    frame.loc[1, "missing_date"] = "去年冬天"
    frame.loc[2, "sex"] = "不详"  # an honest "unknown": no issue
    normalized, issues = normalize_missing(frame)
    assert normalized.loc[0, "height"] == "很高" and np.isnan(normalized.loc[0, "height_cm"])
    flagged = issues[["row", "record_id", "column", "value", "reason", "action"]].values.tolist()
    assert [2, "M001", "height", "很高", "bad_height", "kept"] in flagged
    assert [3, "M002", "missing_date", "去年冬天", "bad_date", "kept"] in flagged
    assert not (issues["column"] == "sex").any()
    assert issues["message"].str.contains("很高").any()
    assert [5, "M004", "hometown", "某地", "place_unmatched", "kept"] in flagged


def test_name_keys_use_the_right_dialect_area():
    """Residents' keys fold the mergers of their accent; reports' those of the home county
    (歙县 → Wu), falling back to the dialect note when the hometown is unreadable."""
    from kinmatch.normalize.names import name_columns

    residents, _ = normalize_residents(residents_frame())
    reports, _ = normalize_missing(missing_frame())
    report = reports.set_index("missing_id").loc["M002"]
    expected = name_columns(pd.Series(["胡春花"]), area="Wu").loc[0, "name_keys"]
    assert report["name_keys"] == expected
    assert report["name_keys"] != name_columns(pd.Series(["胡春花"]), area="N_Man").loc[0, "name_keys"]
    resident = residents.set_index("resident_id").loc["R001"]  # 四川口音 → SW_Man
    assert resident["name_keys"] == name_columns(pd.Series(["李伟"]), area="SW_Man").loc[0, "name_keys"]


def test_empty_frame_and_wrong_input():
    frame = residents_frame().iloc[0:0]
    normalized, issues = normalize_residents(frame)
    assert len(normalized) == 0 and set(RESIDENT_COLUMNS) <= set(normalized.columns)
    assert len(issues) == 0
    _check_types(normalized, RESIDENT_COLUMNS)
    reports, _ = normalize_missing(missing_frame().iloc[0:0])
    _check_types(reports, MISSING_COLUMNS)
    # the added columns have the dtypes a non-empty frame gets
    full, _ = normalize_missing(missing_frame())
    assert reports[MISSING_COLUMNS].dtypes.to_dict() == full[MISSING_COLUMNS].dtypes.to_dict()
    from kinmatch.errors import InputError

    with pytest.raises(InputError, match="DataFrame"):
        normalize_residents([{"resident_id": "R1"}])


def test_minimal_frame_with_only_ids_and_progress_bar(capsys):
    normalized, _ = normalize_missing(pd.DataFrame({"missing_id": ["M1", "M2"]}), progress=True)
    assert "normalize missing" in capsys.readouterr().err
    _check_types(normalized, MISSING_COLUMNS)
    assert normalized["marks"].tolist() == [(), ()]


STATEMENTS = [
    # statement, relatives' names, place fragments
    ("说家在邻水县，父亲叫王大山，母亲叫李秀英", ("王大山", "李秀英"), ("邻水县",)),
    ("父亲叫王大山母亲叫李秀英", ("王大山", "李秀英"), ()),
    ("说儿子叫胡建国", ("胡建国",), ()),
    ("提到“刘岩”", ("刘岩",), ()),  # a name, not a place
    ("提到“清水河”", (), ("清水河",)),
    ("哥哥是王刚", ("王刚",), ()),
    ("我叫张三，家住黄山市歙县", ("张三",), ("黄山市歙县",)),
    ("说家在“主猫鸭”（音）", (), ("主猫鸭",)),
    ("多次念叨“祖玛雅”（音）", (), ("祖玛雅",)),
    ("只记得地名里有“一渡水”", (), ("一渡水",)),
    ("说家那边有个“邻”字", (), ("邻",)),
    ("说老家叫“朱马什么”", (), ("朱马",)),
    ("说是红旗公社人", (), ("红旗公社",)),
    ("提到五星大队", (), ("五星大队",)),
    ("自述老家是河南周口", (), ("河南周口",)),
    ("说是诸城人", (), ("诸城",)),
    ("无法正常交流", (), ()),
    ("问话不答", (), ()),
    (None, (), ()),
    ("自称老家在湖南一渡水，记不清了", (), ("湖南一渡水",)),
    ("自称住在南市区", (), ("南市区",)),
    ("说家在四川邻水那边", (), ("四川邻水",)),
    ("老家河南周口太康十里铺", (), ("河南周口太康十里铺",)),
    ("说自己是安徽阜阳人，父亲叫王大山", ("王大山",), ("安徽阜阳",)),
    ("只会说'主猫鸭'", (), ("主猫鸭",)),
    ("自称叫李大海，家是湖南新宁的", ("李大海",), ("湖南新宁",)),
    ("自称李大海", ("李大海",), ()),
]


@pytest.mark.parametrize("text,names,places", STATEMENTS)
def test_statement_fragments(text, names, places):
    assert statement_names(text) == names
    assert statement_place_fragments(text) == places


@pytest.mark.parametrize("statement, county, within", [
    ("自称老家在湖南一渡水，记不清了", "430528", 1),   # 一渡水镇, 新宁县
    ("说家在四川邻水那边", "511623", 1),
    ("老家河南周口太康十里铺", "411627", 1),
    ("自称住在南市区", "310101", 2),    # two abolished 南市区 (上海 → 黄浦区, 保定 → 竞秀区)
    ("自称住在南市区", "130606", 2),
    ("自称叫李大海，家是湖南新宁的", "430528", 1),
])
def test_statement_places_find_the_county(statement, county, within):
    frame = pd.DataFrame({"resident_id": ["R1"], "statements": [statement]})
    normalized, _ = normalize_residents(frame, n_jobs=1)
    assert county in normalized.loc[0, "statement_places"][:within]


@pytest.mark.parametrize("sex", ["0", "9", 0, 9])
def test_gb_unknown_sex_codes_are_not_issues(sex):
    frame = pd.DataFrame({"missing_id": ["M1"], "sex": [sex]})
    normalized, issues = normalize_missing(frame, n_jobs=1)
    assert normalized.loc[0, "sex_code"] is None
    assert not (issues["column"] == "sex").any()


def test_worker_processes_give_the_same_result(monkeypatch):
    from kinmatch.normalize import records

    serial, serial_issues = normalize_residents(residents_frame(), n_jobs=1)
    monkeypatch.setattr(records, "PARALLEL_MIN_DISTINCT", 2)
    monkeypatch.setattr(records, "STATEMENT_MIN_DISTINCT", 2)
    parallel, parallel_issues = normalize_residents(residents_frame(), n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)
    pd.testing.assert_frame_equal(serial_issues, parallel_issues)


_field_text = st.one_of(st.none(), st.text(max_size=12),
                        st.text(alphabet="男女约岁六十五年月日米厘左脸痣省市县镇村说叫父亲“”，、0123456789-",
                                max_size=12))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({column: _field_text for column in
                                       ("name", "alias", "sex", "age", "birth_date", "height", "found_date",
                                        "found_place", "accent", "description", "health", "statements")}),
                min_size=1, max_size=4))
def test_arbitrary_resident_text_never_crashes(rows):
    frame = pd.DataFrame(rows)
    frame.insert(0, "resident_id", [f"R{i}" for i in range(len(frame))])
    before = frame.copy()
    normalized, issues = normalize_residents(frame, n_jobs=1)
    pd.testing.assert_frame_equal(frame, before)
    assert len(normalized) == len(frame)
    _check_types(normalized, RESIDENT_COLUMNS)
    assert set(issues["record_id"].dropna()) <= set(frame["resident_id"])


def test_resident_heard_through_another_dialect_meets_the_report():
    """DOMAIN.md: a Huangshan woman said 吴春花; the report (Wu-area hometown) says 胡春花. The
    resident's accent note says Jianghuai, so only the resident side's all-family fold makes the
    keys meet."""
    residents = pd.DataFrame({"resident_id": ["R1"], "name": ["吴春花"], "accent": ["合肥口音"], "sex": ["女"]})
    reports = pd.DataFrame({"missing_id": ["M1"], "name": ["胡春花"], "hometown": ["浙江省绍兴市柯桥区"],
                            "sex": ["女"]})
    resident_norm, _ = normalize_residents(residents)
    report_norm, _ = normalize_missing(reports)
    assert resident_norm.loc[0, "accent_area"] != report_norm.loc[0, "home_dialect_area"]
    assert set(resident_norm.loc[0, "name_keys"]) & set(report_norm.loc[0, "name_keys"])


def test_a_pair_normalized_on_two_processes_is_the_same_as_in_one(monkeypatch):
    # the residents' worker and this process share out the reports' place texts (a few texts per
    # share, so both take some); frames, issues and the stages' columns as one process makes them
    import time

    from kinmatch import _parallel
    from kinmatch.datasets import simulate
    from kinmatch.normalize import records

    sim = simulate(n_missing=400, n_residents=60, seed=3)
    serial = (normalize_residents(sim.residents, n_jobs=1), normalize_missing(sim.missing, n_jobs=1))
    monkeypatch.setattr(records, "PAIR_MIN_RESIDENTS", 10)
    monkeypatch.setattr(records, "PLACE_SHARE_TEXTS", 7)
    parse, taken = records._PlaceShares.parse, []

    def after_the_worker_took_one(shares):
        deadline = time.monotonic() + 60
        while shares.bounds[1] == shares.n_shares and time.monotonic() < deadline:
            time.sleep(0.01)
        result = parse(shares)
        taken.append((shares.bounds[0], shares.n_shares))
        return result

    monkeypatch.setattr(records._PlaceShares, "parse", after_the_worker_took_one)
    paired = records.normalize_pair(sim.residents, lambda: sim.missing, n_jobs=2)  # read after the fork
    (by_this_process, n_shares), = taken
    assert 0 < by_this_process < n_shares  # both processes parsed shares
    for (frame, issues), (serial_frame, serial_issues) in zip(paired, serial, strict=True):
        assert list(frame.columns) == list(serial_frame.columns)
        pd.testing.assert_frame_equal(frame, serial_frame)
        pd.testing.assert_frame_equal(issues, serial_issues)
    # one process when n_jobs says so, or when both frames are small
    monkeypatch.setattr(_parallel.os, "fork", lambda: pytest.fail("forked"))
    monkeypatch.setattr(records, "PAIR_MIN_RESIDENTS", 500)
    for n_jobs, residents in ((1, sim.residents), (2, sim.residents.head(20))):
        (frame, _), (reports, _) = records.normalize_pair(residents, lambda: sim.missing.head(50), n_jobs=n_jobs)
        pd.testing.assert_frame_equal(frame, normalize_residents(residents, n_jobs=1)[0])
        pd.testing.assert_frame_equal(reports, normalize_missing(sim.missing.head(50), n_jobs=1)[0])


def test_a_pair_whose_worker_fails_raises_its_error_and_leaves_no_process(monkeypatch):
    from kinmatch import _parallel
    from kinmatch.normalize import records

    workers, real_call = [], _parallel.fork_call

    def recorded(*args, **kwargs):
        workers.append(real_call(*args, **kwargs))
        return workers[-1]

    def fails(frame, **kwargs):
        raise ValueError("the residents could not be read")

    def unreadable():
        raise OSError("the report file could not be read")

    monkeypatch.setattr(_parallel, "fork_call", recorded)
    monkeypatch.setattr(records, "PAIR_MIN_RESIDENTS", 1)
    with monkeypatch.context() as patch:
        patch.setattr(records, "normalize_residents", fails)
        with pytest.raises(ValueError, match="could not be read"):
            records.normalize_pair(residents_frame(), pd.DataFrame({"missing_id": ["M1"], "hometown": ["邻水县"]}),
                                   n_jobs=2)
    # the reports fail to be read while the worker waits for their place texts: it is stopped
    with pytest.raises(OSError, match="report file"):
        records.normalize_pair(residents_frame(), unreadable, n_jobs=2)
    assert len(workers) == 2 and all(reaped(waiting) for waiting in workers)


def test_names_read_half_by_a_worker_are_the_same(monkeypatch):
    from kinmatch.datasets import simulate
    from kinmatch.normalize import records

    reports = simulate(n_missing=200, n_residents=10, seed=8).missing
    serial, serial_issues = normalize_missing(reports, n_jobs=1)
    from kinmatch import _parallel

    monkeypatch.setattr(records, "NAMES_SPLIT_MIN", 2)
    calls, real = [], _parallel.fork_call
    monkeypatch.setattr(_parallel, "fork_call", lambda func, **kwargs: calls.append(func) or real(func, **kwargs))
    split, split_issues = normalize_missing(reports, n_jobs=2)
    assert calls == [records._compute_shared]
    pd.testing.assert_frame_equal(serial, split)
    pd.testing.assert_frame_equal(serial_issues, split_issues)
    monkeypatch.setattr(records, "_compute_shared", lambda: pytest.fail("forked with n_jobs=1"))
    normalize_missing(reports, n_jobs=1)
