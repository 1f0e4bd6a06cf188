"""Push targeting: suspected home counties from accent, statement fragments and name cues."""

import doctest

import pandas as pd
import pytest

import kinmatch.targeting
from kinmatch.targeting import TARGET_COLUMNS, name_cues, place_fragments, suspected_home_counties

RESIDENTS = pd.DataFrame([
    {"resident_id": "R1", "name": "二娃", "accent": "湖南口音", "statements": "自称老家在湖南一渡水，父亲叫王大山"},
    {"resident_id": "R2", "name": "李伟", "accent": "四川口音", "statements": "说家在邻水县"},
    {"resident_id": "R3", "name": "阿强", "accent": "广东话", "statements": ""},
    {"resident_id": "R4", "name": "阿卜杜拉·买买提", "accent": "", "statements": None},
    {"resident_id": "R5", "name": "张三", "accent": "普通话", "statements": "不记得了"},
    {"resident_id": "R6", "name": None, "accent": "四川口音", "statements": "说家在瑶池县"},
])


@pytest.fixture(scope="module")
def targets():
    return suspected_home_counties(RESIDENTS).set_index(["resident_id", "rank"])


def test_docstring_examples():
    assert doctest.testmod(kinmatch.targeting).failed == 0


@pytest.mark.parametrize("resident, code, name, reason_parts", [
    ("R1", "430528", "湖南省邵阳市新宁县", ["一渡水", "口音“湖南口音”→湖南省", "湘语"]),
    ("R2", "511623", "四川省广安市邻水县", ["county_full", "口音“四川口音”→四川省", "西南官话"]),
    ("R6", "511621", "四川省广安市岳池县", ["瑶池县", "sound", "西南官话"]),
])
def test_top_county_and_reasons(targets, resident, code, name, reason_parts):
    top = targets.loc[(resident, 1)]
    assert top["county_code"] == code and top["level"] == "county"
    assert top["name"] == name
    for part in reason_parts:
        assert part in top["reasons"], part


def test_accent_breaks_ties_between_sound_alikes(targets):
    # 邻水县 is read exactly; the Sichuan accent adds to it, not to 陵水 (Hainan) or 涞水 (Hebei).
    rows = targets.loc["R2"]
    assert rows.iloc[0]["score"] > 3 * rows.iloc[1]["score"]
    assert "口音" not in rows.iloc[1]["reasons"]


def test_ranks_are_ordered(targets):
    for _, rows in targets.groupby(level=0):
        assert list(rows["score"]) == sorted(rows["score"], reverse=True)
        assert list(rows.index.get_level_values(1)) == list(range(1, len(rows) + 1))


def test_accent_only_gives_province_target_with_name_cue(targets):
    row = targets.loc[("R3", 1)]
    assert row["level"] == "province" and row["province_code"] == "440000"
    assert pd.isna(row["county_code"]) and "阿X" in row["reasons"]


def test_minority_name_points_to_xinjiang(targets):
    row = targets.loc[("R4", 1)]
    assert row["province_code"] == "650000" and "少数民族" in row["reasons"]


def test_no_evidence_no_rows(targets):
    assert "R5" not in targets.index.get_level_values(0)


def test_columns():
    assert list(suspected_home_counties(RESIDENTS.iloc[:0]).columns) == TARGET_COLUMNS


@pytest.mark.parametrize("name, reason", [
    ("阿珍", "阿X"), ("狗娃", "X娃"), ("细妹", "X妹"), ("小伢", "X伢"), ("阿囡", "阿X"),
    ("依妹", "依X"), ("铁蛋", "X蛋"), ("买买提·艾力", "少数民族"),
])
def test_name_cues(name, reason):
    assert any(reason in why for _a, _p, why in name_cues(name))


@pytest.mark.parametrize("name", ["李伟", "王山江", "", "阿"])
def test_plain_names_have_no_cue(name):
    assert name_cues(name) == []


@pytest.mark.parametrize("statement, fragment", [
    ("自称老家在湖南一渡水，父亲叫王大山", "湖南一渡水"),
    ("说家在邻水县，母亲叫李秀英", "邻水县"),
])
def test_place_fragments(statement, fragment):
    fragments = place_fragments(statement)
    assert fragment in fragments
    assert not any("王大山" in f or "李秀英" in f for f in fragments)


def test_cli_targets(tmp_path, capsys):
    from kinmatch.cli import main

    source = tmp_path / "residents.csv"
    RESIDENTS.rename(columns={"resident_id": "人员编号", "name": "姓名", "accent": "口音",
                              "statements": "自述"}).to_csv(source, index=False)
    out = tmp_path / "targets.csv"
    assert main(["targets", str(source), "-o", str(out), "--top", "2"]) == 0
    table = pd.read_csv(out, dtype=str)
    assert table.groupby("resident_id").size().max() == 2
    assert "nothing to target on" in capsys.readouterr().out


@pytest.mark.parametrize("statement, accent, code, name", [
    ("说家在湛江", "", "440800", "广东省湛江市"),
    ("说家在湛江", "广东话", "440800", "广东省湛江市"),
    ("自称老家在周口", "河南口音", "411600", "河南省周口市"),
])
def test_prefecture_named_in_statement_is_a_target(statement, accent, code, name):
    rows = suspected_home_counties(pd.DataFrame([{"resident_id": "P1", "accent": accent,
                                                  "statements": statement}]))
    top = rows.iloc[0]
    assert (top["level"], top["prefecture_code"], top["name"]) == ("prefecture", code, name)
    assert pd.isna(top["county_code"]) and top["province_code"] == code[:2] + "0000"
    assert "自述" in top["reasons"]


# ---------------------------------------------------------------- normalized frames

@pytest.fixture(scope="module")
def normalized():
    from kinmatch.normalize.records import normalize_residents

    extra = pd.DataFrame([{"resident_id": "R7", "name": None, "accent": "", "statements": "说家在湛江"}])
    frame, _issues = normalize_residents(pd.concat([RESIDENTS, extra], ignore_index=True), n_jobs=1)
    return frame


def test_normalized_frame_gives_the_same_top_targets(targets, normalized):
    again = suspected_home_counties(normalized).set_index(["resident_id", "rank"])
    for resident in ("R1", "R2", "R3", "R4", "R6"):
        assert again.loc[(resident, 1), "name"] == targets.loc[(resident, 1), "name"], resident
    assert again.loc[("R7", 1), "prefecture_code"] == "440800"  # not dropped with normalization


def test_normalized_statement_places_are_not_read_again(normalized, monkeypatch):
    import kinmatch.normalize.places as places

    calls = []
    real = places.place_candidates
    monkeypatch.setattr(places, "place_candidates", lambda *a, **k: calls.append(a) or real(*a, **k))
    # R7 ("说家在湛江") is read again: statement_places cannot carry a prefecture.
    with_places = normalized[(normalized["statement_places"].map(len) > 0)
                             & (normalized["resident_id"] != "R7")]
    rows = suspected_home_counties(with_places)
    assert set(rows["resident_id"]) == set(with_places["resident_id"])
    assert calls == []
    suspected_home_counties(normalized[normalized["resident_id"] == "R7"])
    assert calls  # and the prefecture-only fragment is read
