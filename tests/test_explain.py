"""Explanations: each reason shows the values that decided it, so a reviewer can check it."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.errors import InputError
from kinmatch.match import explain


def rec(name, keys=(), alias=(), alias_keys=(), given=(), surname=(), kind="full"):
    return {"name_norm": name, "name_keys": tuple(keys), "alias_norm": tuple(alias), "alias_keys": tuple(alias_keys),
            "given_keys": tuple(given), "surname_keys": tuple(surname), "name_kind": kind, "name_evidence": True}


NAME_REASONS = [
    # resident, report, level, reason
    (rec("周俊翰", ["zhou jun han"], ["二娃"], ["er wa"]), rec("吴雷", ["wu lei"], ["二娃"], ["er wa"]), 1,
     "部分姓名或小名相符(二娃/二娃 小名)"),
    (rec("二娃", ["er wa"], kind="nickname"), rec("张建国", ["zhang jian guo"], ["二娃"], ["er wa"]), 1,
     "部分姓名或小名相符(二娃/二娃 小名)"),
    (rec("钱海", ["qian hai"], ["铁蛋儿"], ["tie dan"]), rec("孙福", ["sun fu"], ["铁旦"], ["tie dan"]), 1,
     "部分姓名或小名相符(铁蛋儿/铁旦 小名)"),
    (rec("老薛", ["lao xue"], given=["xue"], kind="partial"),
     rec("薛宇宏", ["xue yu hong"], given=["yu hong"], surname=["xue"]), 1, "部分姓名或小名相符(老薛/薛宇宏 同姓)"),
    (rec("明廷", ["ming ting"], given=["ting"], surname=["ming"]),
     rec("陈明廷", ["chen ming ting"], given=["ming ting"], surname=["chen"]), 1, "部分姓名或小名相符(明廷/陈明廷 名字)"),
    (rec("李伟", ["li wei"]), rec("李玮", ["li wei"]), 5, "姓名同音(李伟/李玮)"),
    (rec("赵大山", ["zhao da shan"]), rec("钱小红", ["qian xiao hong"]), 0, "姓名不同(赵大山/钱小红)"),
]


@pytest.mark.parametrize("resident, report, level, text", NAME_REASONS)
def test_name_reason_shows_what_met(resident, report, level, text):
    assert explain.reason("name", level, resident, report) == text


def test_alias_reason_never_shows_the_unrelated_full_names():
    resident, report = NAME_REASONS[0][:2]
    levels = pd.Series({"name": 1, "age": 0})
    weights = pd.Series({"w_name": 2.3, "w_age": -5.5})
    text = explain.explain_pair(levels, weights, resident, report)
    assert text.startswith("年龄不可能 −5.5; 部分姓名或小名相符(二娃/二娃")
    assert "周俊翰" not in text and "吴雷" not in text


# ---------------------------------------------------------------------------------------------
# explain_pairs (column-wise) equals explain_pair row by row

NAN = float("nan")
ALIAS_RESIDENT, ALIAS_REPORT = NAME_REASONS[0][:2]

EDGE_CASES = [
    # resident fields, report fields, levels, weights, explanation
    ({"height_cm": None}, {"height_cm": 170.0}, {"height": 1}, {"w_height": -1.5}, "身高差较大 −1.5"),
    ({"height_cm": 160.0}, {"height_cm": 172.4}, {"height": 1}, {"w_height": -3.2}, "身高差12cm −3.2"),
    ({"height_cm": 160.0}, {"height_cm": 161.0}, {"height": 3}, {"w_height": 1.1}, "身高相符 +1.1"),
    ({"found_lon": NAN, "found_lat": 39.9}, {"missing_lon": 117.2, "missing_lat": 39.13}, {"geography": 2},
     {"w_geography": 0.8}, "发现地在五百公里内 +0.8"),
    ({"found_lon": 116.4, "found_lat": 39.9}, {"missing_lon": 117.2, "missing_lat": 39.13}, {"geography": 3},
     {"w_geography": 1.2}, "发现地距走失地110km +1.2"),
    ({"found_lon": 116.4, "found_lat": 39.9}, {"missing_lon": 116.4, "missing_lat": 39.9}, {"geography": 5},
     {"w_geography": 3.0}, "发现地即走失地或家乡 +3.0"),
    ({}, {}, {"name": -1, "sex": -1, "age": -1, "marks": -1}, {"w_name": 0.0, "w_sex": 0.0, "w_age": 0.0}, ""),
    ({}, {}, {"sex": 1, "age": 3, "height": 3}, {"w_sex": 0.04, "w_age": -0.049, "w_height": 0.05}, "身高相符 +0.1"),
    ({}, {}, {"sex": 1, "age": 3}, {"w_sex": 0.01, "w_age": 0.0}, ""),
    ({"conditions": ("痴呆",)}, {"conditions": ("痴呆",)}, {"conditions": 1, "time_gap": 3, "sex": 1},
     {"w_conditions": 2.0, "w_time_gap": 2.0, "w_sex": -2.0}, "性别相符 −2.0; 走失一年内发现 +2.0; 健康状况相符(痴呆) +2.0"),
    ({"birth_year_low": 1990.0, "birth_year_high": 1995.0}, {"birth_year_low": 1960.0, "birth_year_high": 1965.0},
     {"age": 0}, {"w_age": -5.5}, "年龄相差约25岁 −5.5"),
    ({"birth_year_low": NAN, "birth_year_high": 1995.0}, {"birth_year_low": 1960.0, "birth_year_high": 1965.0},
     {"age": 1}, {"w_age": -2.0}, "年龄相差大 −2.0"),
    (ALIAS_RESIDENT, ALIAS_REPORT, {"name": 1, "age": 0}, {"w_name": 2.3, "w_age": -5.5},
     "年龄不可能 −5.5; 部分姓名或小名相符(二娃/二娃 小名) +2.3"),
    (rec("赵大山", ["zhao da shan"]), rec("钱小红", ["qian xiao hong"]), {"name": 0}, {"w_name": -1.0},
     "姓名不同(赵大山/钱小红) −1.0"),
    (rec(None, alias=["二娃"], alias_keys=["er wa"]), rec("钱小红", ["qian xiao hong"]), {"name": 0}, {"w_name": -1.0},
     "姓名不同(二娃/钱小红) −1.0"),
    ({"marks": (), "negated": ("纹身",)}, {"marks": ("纹身:臂:右:龙",), "negated": ()}, {"marks": 0},
     {"w_marks": -4.0}, "体貌特征矛盾(无纹身/纹身) −4.0"),
    ({"marks": ("痣:脸:左",)}, {"marks": ("痣:脸:左",)}, {"marks": 4}, {"w_marks": 3.6}, "罕见特征相符(痣:脸:左) +3.6"),
    ({"marks": ("疤痕:手背:左",)}, {"marks": ("疤痕:手背:右",)}, {"marks": 2}, {"w_marks": 0.7},
     "特征部位相同方向相反(疤痕:手背:左) +0.7"),
    ({"marks": ("疤痕:手背:左",)}, {"marks": ("胎记:背:",)}, {"marks": 1}, {"w_marks": -0.3}, "体貌特征无共同点 −0.3"),
    ({"conditions": ("聋哑", "痴呆")}, {"conditions": ("聋哑",)}, {"conditions": 2}, {"w_conditions": 4.2},
     "特殊残疾相符(聋哑) +4.2"),
    ({}, {}, {"sex": 1, "accent": 2}, {"sex": 0.9, "accent": 4.1}, "口音与家乡省份相符 +4.1; 性别相符 +0.9"),
    ({"height_cm": "170"}, {"height_cm": 160.0}, {"height": 1}, {"w_height": -2.0}, "身高差10cm −2.0"),
    ({"marks": ["痣:脸:左"]}, {"marks": ("痣:脸:左",)}, {"marks": 3}, {"w_marks": 1.0}, "体貌特征相符(痣:脸:左) +1.0"),
    ({}, {}, {"sex": 1, "statement_places": 3, "age": 9}, {"w_sex": 0.9, "w_statement_places": 5.0, "w_age": 1.0},
     "自述地名同县 +5.0; age +1.0; 性别相符 +0.9"),
    ({"build": "瘦"}, {"build": "胖"}, {"build": 0}, {"w_build": -1.5}, "体型相反(瘦/胖) −1.5"),
    ({"build": "胖"}, {"build": "胖"}, {"build": 3}, {"w_build": 2.1}, "少见体型相同(胖/胖) +2.1"),
    ({"hair": "白发、短发"}, {"hair": "白发"}, {"hair": 2}, {"w_hair": 1.4}, "发型发色相符(白发) +1.4"),
    ({"hair": "光头"}, {"hair": "秃顶"}, {"hair": 2}, {"w_hair": 1.4}, "发型发色相符(光头/秃顶) +1.4"),
    ({"hair": "长发"}, {"hair": "短发"}, {"hair": 0}, {"w_hair": -0.6}, "发型发色不同(长发/短发) −0.6"),
    ({"hair": "长发"}, {"hair": None}, {"hair": -1}, {"w_hair": 0.0}, ""),
    # whole numbers as .0f rounds them: ties to even
    ({"height_cm": 170.5}, {"height_cm": 168.0}, {"height": 2}, {"w_height": 0.5}, "身高差2cm +0.5"),
    ({"height_cm": 171.5}, {"height_cm": 168.0}, {"height": 2}, {"w_height": 0.5}, "身高差4cm +0.5"),
    ({"birth_year_low": 1990.0, "birth_year_high": 1990.5}, {"birth_year_low": 1991.0, "birth_year_high": 1992.0},
     {"age": 1}, {"w_age": -2.0}, "年龄相差约0岁 −2.0"),
    # marks: a denied mark written among the marks, several shared types, a level the marks do not bear out
    ({"marks": ("无纹身", "痣:脸:左")}, {"marks": ("纹身:臂:右", "痣:脸:左")}, {"marks": 3}, {"w_marks": 1.0},
     "体貌特征相符(无纹身/纹身) +1.0"),
    ({"marks": ("痣:脸:左", "疤痕:手背:左")}, {"marks": ("疤痕:手背:", "痣:脸:")}, {"marks": 5}, {"w_marks": 5.0},
     "多处特征相符(痣:脸:左、疤痕:手背:左) +5.0"),
    ({"marks": ("痣:脸:左",)}, {"marks": ("疤痕:手背:左",)}, {"marks": 3}, {"w_marks": 1.0}, "体貌特征相符 +1.0"),
    ({"marks": ("聋哑::", "痣:脸:左")}, {"marks": ("聋哑::", "痣:脸:右")}, {"marks": 2}, {"w_marks": 0.7},
     "特征部位相同方向相反(痣:脸:左) +0.7"),
    # name values the column-wise cleaning must hand to the name logic as the per-record one does
    ({**ALIAS_RESIDENT, "alias_keys": ["er wa"]}, ALIAS_REPORT, {"name": 1}, {"w_name": 2.3},
     "部分姓名或小名相符(二娃/二娃 小名) +2.3"),
    ({**ALIAS_RESIDENT, "alias_keys": ("er wa", "")}, ALIAS_REPORT, {"name": 1}, {"w_name": 2.3},
     "部分姓名或小名相符(二娃/二娃 小名) +2.3"),
    (rec("赵大山", ["zhao da shan"], alias_keys=[""]), rec("钱小红", ["qian xiao hong"], given=[""]), {"name": 1},
     {"w_name": 1.0}, "部分姓名或小名相符(赵大山/钱小红) +1.0"),
    ({**ALIAS_RESIDENT, "name_evidence": None}, ALIAS_REPORT, {"name": 1}, {"w_name": 2.3},
     "部分姓名或小名相符(二娃/二娃 小名) +2.3"),
    ({**ALIAS_RESIDENT, "alias_norm": (), "alias_keys": ()}, ALIAS_REPORT, {"name": 1}, {"w_name": 2.3},
     "部分姓名或小名相符(周俊翰/吴雷) +2.3"),
]


def one_pair_frames(resident, report, levels, weights, i=0):
    pairs = pd.DataFrame({"resident_id": [f"R{i}"], "missing_id": [f"M{i}"]})
    residents = pd.DataFrame([{"resident_id": f"R{i}", **resident}])
    missing = pd.DataFrame([{"missing_id": f"M{i}", **report}])
    return pairs, pd.DataFrame([levels]), pd.DataFrame([weights]), residents, missing


@pytest.mark.parametrize("resident, report, levels, weights, text", EDGE_CASES)
def test_explain_pairs_edge_cases(resident, report, levels, weights, text):
    frames = one_pair_frames(resident, report, levels, weights)
    assert explain.explain_pairs(*frames) == [text]
    assert explain._explain_pairs_reference(*frames) == [text]


def test_explain_pairs_edge_cases_in_one_batch():
    """All edge cases side by side: columns blank on most rows, mixed types, levels absent on most."""
    # (a bare "sex" weight column is only read when no "w_sex" column exists: not in a batch)
    cases = [case for case in EDGE_CASES if all(key.startswith("w_") for key in case[3])]
    parts = [one_pair_frames(*case[:4], i=i) for i, case in enumerate(cases)]
    frames = [pd.concat([part[k] for part in parts], ignore_index=True) for k in range(5)]
    frames[1] = frames[1].fillna(-1).astype(int)
    frames[2] = frames[2].fillna(0.0)
    expected = explain._explain_pairs_reference(*frames)
    assert explain.explain_pairs(*frames) == expected
    assert expected == [case[-1] for case in cases]
    for top in (0, 1, 2, -1, None):
        assert explain.explain_pairs(*frames, top=top) == explain._explain_pairs_reference(*frames, top=top)


def test_a_nan_weight_is_explained_as_explain_pair_does():
    frames = one_pair_frames({}, {}, {"sex": 1, "age": 3, "height": 3}, {"w_sex": NAN, "w_age": 1.0, "w_height": 2.0})
    assert explain.explain_pairs(*frames) == explain._explain_pairs_reference(*frames)
    assert "身高相符 +2.0" in explain.explain_pairs(*frames)[0]


def test_ids_that_are_not_text_are_matched_as_text():
    pairs = pd.DataFrame({"resident_id": [1, 1, 2], "missing_id": ["M1", "M2", "M1"]})
    residents = pd.DataFrame({"resident_id": ["1", "2"], "height_cm": [160.0, 150.0]})
    missing = pd.DataFrame({"missing_id": ["M1", "M2"], "height_cm": [172.0, 161.0]})
    levels = pd.DataFrame({"height": [1, 1, 1]})
    weights = pd.DataFrame({"w_height": [-3.2, -1.0, -5.0]})
    frames = (pairs, levels, weights, residents, missing)
    assert explain.explain_pairs(*frames) == ["身高差12cm −3.2", "身高差1cm −1.0", "身高差22cm −5.0"]
    assert explain.explain_pairs(*frames) == explain._explain_pairs_reference(*frames)


def test_reports_sharing_name_values_are_each_explained():
    """Partial names are compared once per distinct pair of name values: every pair still gets its own text."""
    pairs = pd.DataFrame({"resident_id": ["R1", "R1", "R2", "R2"], "missing_id": ["M1", "M2", "M1", "M3"]})
    residents = pd.DataFrame([{"resident_id": "R1", **ALIAS_RESIDENT},
                              {"resident_id": "R2", **rec("老薛", ["lao xue"], given=["xue"], kind="partial")}])
    xue = rec("薛宇宏", ["xue yu hong"], given=["yu hong"], surname=["xue"])
    missing = pd.DataFrame([{"missing_id": "M1", **ALIAS_REPORT}, {"missing_id": "M2", **ALIAS_REPORT},
                            {"missing_id": "M3", **xue}])
    levels = pd.DataFrame({"name": [1, 1, 0, 1]})
    weights = pd.DataFrame({"w_name": [2.3, 2.0, -1.0, 1.5]})
    frames = (pairs, levels, weights, residents, missing)
    expected = ["部分姓名或小名相符(二娃/二娃 小名) +2.3", "部分姓名或小名相符(二娃/二娃 小名) +2.0",
                "姓名不同(老薛/吴雷) −1.0", "部分姓名或小名相符(老薛/薛宇宏 同姓) +1.5"]
    assert explain.explain_pairs(*frames) == expected == explain._explain_pairs_reference(*frames)


def test_explain_pairs_refuses_mismatched_rows_and_unknown_ids():
    pairs, levels, weights, residents, missing = one_pair_frames({}, {}, {"sex": 1}, {"w_sex": 0.9})
    with pytest.raises(InputError, match="same rows"):
        explain.explain_pairs(pairs, pd.concat([levels, levels]), weights, residents, missing)
    with pytest.raises(KeyError, match="M9"):
        explain.explain_pairs(pairs.assign(missing_id="M9"), levels, weights, residents, missing)
    assert explain.explain_pairs(pairs.iloc[:0], levels.iloc[:0], weights.iloc[:0], residents, missing) == []


@pytest.fixture(scope="module")
def simulated_run():
    import kinmatch
    from kinmatch.datasets import simulate
    from kinmatch.match.rank import run_link

    sim = simulate(n_missing=2000, n_residents=200, seed=5)
    residents, _ = kinmatch.normalize_residents(sim.residents)
    missing, _ = kinmatch.normalize_missing(sim.missing)
    return run_link(residents, missing, top_k=20, progress=False)


@pytest.mark.parametrize("top, with_mark_freq", [(6, True), (3, True), (10, False)])
def test_explain_pairs_equals_explain_pair_on_a_simulated_link_run(simulated_run, top, with_mark_freq):
    from kinmatch.match import comparisons as cmp
    from kinmatch.match.rank import WEIGHT_COLUMNS

    table = simulated_run.table
    keys = pd.MultiIndex.from_frame(table[["resident_id", "missing_id"]])
    levels = simulated_run.vectors.reindex(keys)[cmp.COMPARISONS].reset_index(drop=True)
    weights = table[WEIGHT_COLUMNS].reset_index(drop=True)
    mark_freq = cmp.mark_frequency(simulated_run.missing["marks"]) if with_mark_freq else None
    args = (table, levels, weights, simulated_run.residents, simulated_run.missing, top, mark_freq)
    reference = [explain.explain_pair(lv, wt, r, m, top, mark_freq) for lv, wt, r, m in zip(
        levels.to_dict("records"), weights.to_dict("records"),
        explain._records(simulated_run.residents, "resident_id", table["resident_id"]),
        explain._records(simulated_run.missing, "missing_id", table["missing_id"]))]
    assert explain.explain_pairs(*args) == reference
    if top == 6 and with_mark_freq:
        assert reference == table["explanation"].tolist()  # what link wrote
    # the run reaches every branch that shows values, so the equality above covers them
    text = "\n".join(reference)
    for shown in ("小名", "(", "身高差", "年龄相差约", "发现地距走失地", "健康状况相符(", "特征相符("):
        assert shown in text, shown


# ---------------------------------------------------------------------------------------------
# property: on any small batch of records drawn from real-looking values (blanks, partial names,
# denied marks, ties in the weights), the column-wise texts are explain_pair's

_NAMES = [
    {}, {"name_norm": None, "name_evidence": False}, ALIAS_RESIDENT, ALIAS_REPORT,
    rec("老薛", ["lao xue"], given=["xue"], kind="partial"),
    rec("薛宇宏", ["xue yu hong"], given=["yu hong"], surname=["xue"]),
    rec("李伟", ["li wei"], given=["wei"], surname=["li"]), rec("李玮", ["li wei"], given=["wei"], surname=["li"]),
    rec(None, alias=["二娃"], alias_keys=["er wa"], kind="nickname"),
    rec("明廷", ["ming ting"], given=["ting"], kind="given_only"),
]
_SHARED = {
    "height_cm": st.sampled_from([None, 150.0, 160.0, 160.5, 172.4, 180.0]),
    "birth_year_low": st.sampled_from([None, 1950.0, 1960.0, 1990.0]),
    "birth_year_high": st.sampled_from([None, 1965.0, 1995.5, 2000.0]),
    "marks": st.sampled_from([None, (), ("痣:脸:左",), ("痣:脸:右", "疤痕:手背:"), ("无纹身",), ("纹身:臂:右:龙", "痣:脸:"),
                              ("聋哑::",), ["缺指:左手:小指"]]),
    "negated": st.sampled_from([(), ("纹身",), None]),
    "conditions": st.sampled_from([(), ("痴呆",), ("聋哑", "痴呆"), None]),
    "build": st.sampled_from([None, "瘦", "胖", ""]),
    "hair": st.sampled_from([None, "白发、短发", "白发", "光头", "长发"]),
}
_COORDINATES = st.sampled_from([(None, None), (116.4, 39.9), (117.2, 39.13), (113.26, 23.13)])
_WEIGHTS = st.sampled_from([0.0, 0.04, 0.05, -0.05, 1.0, -1.0, 2.5, -2.5, 6.1, 0.4999])


@st.composite
def _record(draw, id_column, i, where):
    lon, lat = draw(_COORDINATES)
    values = {key: draw(strategy) for key, strategy in _SHARED.items()}
    return {id_column: f"{id_column[0]}{i}", **draw(st.sampled_from(_NAMES)), **values,
            f"{where}_lon": lon, f"{where}_lat": lat}


@st.composite
def _batches(draw):
    from kinmatch.match import comparisons as cmp

    residents = [draw(_record("resident_id", i, "found")) for i in range(draw(st.integers(1, 3)))]
    missing = [draw(_record("missing_id", i, "missing")) for i in range(draw(st.integers(1, 4)))]
    n = draw(st.integers(1, 8))
    pairs = pd.DataFrame({"resident_id": [f"r{draw(st.integers(0, len(residents) - 1))}" for _ in range(n)],
                          "missing_id": [f"m{draw(st.integers(0, len(missing) - 1))}" for _ in range(n)]})
    levels = pd.DataFrame({c: [draw(st.integers(-1, max(labels))) for _ in range(n)]
                           for c, labels in cmp.LEVEL_LABELS.items()})
    weights = pd.DataFrame({f"w_{c}": [draw(_WEIGHTS) for _ in range(n)] for c in cmp.LEVEL_LABELS})
    return pairs, levels, weights, pd.DataFrame(residents), pd.DataFrame(missing)


@settings(max_examples=60, deadline=None)
@given(_batches(), st.sampled_from([6, 2]))
def test_explain_pairs_equals_explain_pair_on_any_batch(frames, top):
    assert explain.explain_pairs(*frames, top=top) == explain._explain_pairs_reference(*frames, top=top)
