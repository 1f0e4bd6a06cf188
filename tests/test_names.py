"""Name cleaning and parsing: kinds, surnames, station-assigned names, placeholders (synthetic names)."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.normalize.names import (
    STATION_CONVENTIONS,
    StationConvention,
    clean_name,
    name_columns,
    parse_name,
    parse_names,
    split_name,
)


@pytest.mark.parametrize("raw, expected", [
    ("張三", "张三"),                                  # traditional → simplified
    ("张\u3000三", "张三"),                            # ideographic space inside a Chinese name
    (" 李 伟 ", "李伟"),
    ("ＷＡＮＧ　ｆａｎｇ", "Wang Fang"),                 # full-width Latin, word case unified
    ("李伟(音)", "李伟"),
    ("李伟（自报）", "李伟"),
    ("王建国音译", "王建国"),
    ("自称李四", "李四"),
    ("“张三”", "张三"),
    ("王先生", "王"),
    ("自称自称张三先生", "张三"),                      # repeated notes: cleaning reaches a fixed point
    ("阿卜杜拉.买买提", "阿卜杜拉·买买提"),
    ("阿卜杜拉・买买提", "阿卜杜拉·买买提"),
    ("阿卜杜拉•买买提", "阿卜杜拉·买买提"),
    ("阿卜杜拉‧买买提", "阿卜杜拉·买买提"),
    ("阿卜杜拉 买买提", "阿卜杜拉·买买提"),           # a space between long parts is a separator
    ("阿卜杜拉买买提", "阿卜杜拉买买提"),              # no separator stays none
    ("欧阳 娜娜", "欧阳娜娜"),                          # a space between short parts is padding
    ("蕭廖美玉", "萧廖美玉"),
    ("张.三", "张三"),                                  # a stray dot in a Han name is no separator
    ("张三2", "张三"),                                  # register de-duplication number
    ("张三 Zhang San", "张三"),                         # romanisation repeated after the name
    ("无名1号", "无名1号"),                             # numbered placeholders keep their number
    (None, ""),
    (float("nan"), ""),
    ("   ", ""),
])
def test_clean_name(raw, expected):
    assert clean_name(raw) == expected


@pytest.mark.parametrize("raw, surname, given_name, kind", [
    ("张三", "张", "三", "full"),
    ("张三丰", "张", "三丰", "full"),
    ("欧阳娜娜", "欧阳", "娜娜", "full"),
    ("司马光", "司马", "光", "full"),
    ("诸葛亮", "诸葛", "亮", "full"),
    ("上官婉儿", "上官", "婉儿", "full"),
    ("尉迟恭", "尉迟", "恭", "full"),
    ("长孙无忌", "长孙", "无忌", "full"),
    ("慕容复", "慕容", "复", "full"),
    ("令狐冲", "令狐", "冲", "full"),
    ("皇甫嵩", "皇甫", "嵩", "full"),
    ("夏侯惇", "夏侯", "惇", "full"),
    ("司徒雷", "司徒", "雷", "full"),
    ("东方明", "东方", "明", "full"),
    ("公孙胜", "公孙", "胜", "full"),
    ("宇文泰", "宇文", "泰", "full"),
    ("蕭廖美玉", "萧廖", "美玉", "full"),
    ("诸葛", "诸葛", None, "surname_only"),
    ("廖", "廖", None, "surname_only"),
    ("廖氏", "廖", None, "surname_only"),
    ("张某", "张", None, "surname_only"),
    ("王先生", "王", None, "surname_only"),
    ("建国", None, "建国", "given_only"),
    ("老王", "王", None, "partial"),
    ("小王", "王", None, "partial"),
    ("小红", None, "红", "partial"),
    ("阿明", None, "明", "partial"),
    ("二娃", None, "二娃", "nickname"),
    ("狗蛋", None, "狗蛋", "nickname"),
    ("大妞", None, "大妞", "nickname"),
    ("石娃", None, "石娃", "nickname"),
    ("老三", None, "老三", "nickname"),
    ("阿卜杜拉·买买提", None, "阿卜杜拉·买买提", "minority"),
    ("阿布都拉麦麦提", None, "阿布都拉麦麦提", "minority"),
    ("扎西顿珠", None, "扎西顿珠", "minority"),
    ("Chan Tai Man", "Chan", "Tai Man", "full"),
])
def test_parse_name_kinds(raw, surname, given_name, kind):
    parsed = parse_name(raw)
    assert (parsed.surname, parsed.given, parsed.kind) == (surname, given_name, kind)
    assert parsed.evidence is True


@pytest.mark.parametrize("raw", [
    "无名氏", "不详", "流浪男", "流浪女", "某某", "未知", "男子", "老人", "安徽婆", "四川佬", "无名1号",
    "2023-015号", "无名氏3", "无名男", "聋哑人", "阿婆", "小孩", "流浪人员2号", "男1", "流浪男12",
])
def test_placeholders_carry_no_evidence(raw):
    parsed = parse_name(raw)
    assert parsed.kind == "placeholder" and parsed.evidence is False and parsed.surname is None


@pytest.mark.parametrize("raw", ["", None, "  ", "（音）"])
def test_blank(raw):
    assert parse_name(raw)[3:5] == ("blank", False)


@pytest.mark.parametrize("raw, source, kind", [
    ("党明", "站内代名", "assigned"),
    ("党明", "自报", "full"),              # a real 党 surname
    ("党明", None, "full"),                # weak convention needs the source
    ("党明", "不详", "full"),
    ("同心", "站内代名", "assigned"),
    ("宁静", "站内代名", "assigned"),
    ("祝福", "自报", "full"),
    ("吴民华", None, "assigned"),           # strong convention (Kaili)
    ("吴民华", "不详", "assigned"),
    ("吴民华", "自报", "full"),             # the source wins over the pattern
    ("魏同山", None, "assigned"),           # strong convention (Datong)
    ("魏同山", "证件", "full"),
    ("张三", "站内代名", "assigned"),        # any name the station gave
    ("无名氏", "站内代名", "placeholder"),
])
def test_station_assigned_names(raw, source, kind):
    parsed = parse_name(raw, name_source=source)
    assert parsed.kind == kind
    assert parsed.evidence is (kind == "full")


def test_assigned_name_keeps_house_surname():
    parsed = parse_name("魏同山")
    assert (parsed.surname, parsed.given) == ("魏同", "山")


def test_station_conventions_can_be_overridden():
    custom = [StationConvention("福", "某站", strong=True)]
    assert parse_name("福安", station_conventions=custom).kind == "assigned"
    assert parse_name("吴民华", station_conventions=custom).kind == "full"
    assert any(c.prefix == "党" for c in STATION_CONVENTIONS)


def test_married_double_surname_keeps_maiden_surname():
    parsed = parse_name("蕭廖美玉")
    assert parsed.surname_parts == ("萧", "廖") and parsed.surname_parts[-1] == "廖"
    old_style = parse_name("张王氏")
    assert (old_style.kind, old_style.surname_parts) == ("surname_only", ("张", "王"))


@pytest.mark.parametrize("norm, expected", [
    ("欧阳娜娜", ("", ("欧阳",), "娜娜")),
    ("萧廖美玉", ("", ("萧", "廖"), "美玉")),
    ("老单", ("老", ("单",), "")),
    ("建国", ("", (), "建国")),
    ("阿卜杜拉·买买提", ("", (), "阿卜杜拉·买买提")),
])
def test_split_name(norm, expected):
    assert split_name(norm) == expected


def test_parse_names_vectorized_matches_scalar():
    names = pd.Series(["张三", "党明", "党明", None, "無名氏", "蕭廖美玉", "吴民华"], index=list("abcdefg"))
    sources = pd.Series(["自报", "站内代名", "自报", None, None, "自报", None], index=names.index)
    frame = parse_names(names, name_source=sources)
    assert list(frame.index) == list(names.index)
    for idx in names.index:
        expected = parse_name(names[idx], name_source=sources[idx])
        row = frame.loc[idx]
        assert (row["name_norm"], row["name_kind"], bool(row["name_evidence"])) == (
            expected.norm, expected.kind, expected.evidence)
        assert row["name_surname_parts"] == expected.surname_parts


def test_name_columns_contract():
    frame = name_columns(pd.Series(["蕭廖美玉", "廖", "党明", "单雄信"]), name_source=["自报", None, "站内代名", None])
    assert {"name_norm", "name_surname", "name_given", "name_kind", "name_evidence", "name_pinyin",
            "name_keys", "surname_keys", "given_keys", "name_jyutping"} <= set(frame.columns)
    assert set(frame.loc[0, "surname_keys"]) & set(frame.loc[1, "surname_keys"])   # maiden 廖 meets
    assert frame.loc[2, "name_keys"] == () and frame.loc[2, "name_evidence"] == False  # noqa: E712
    assert frame.loc[3, "name_pinyin"] == "shan xiong xin"
    assert all(isinstance(v, tuple) for v in frame["name_keys"])


_name_text = st.text(alphabet=st.one_of(
    st.sampled_from(list("张王李欧阳蕭廖美玉党吴民华阿卜杜拉买提·.・ 　（）()音译自称报先生女士号氏某1２")),
    st.characters()),
    max_size=12)


@settings(max_examples=150, deadline=None)
@given(_name_text)
def test_clean_name_idempotent(text):
    once = clean_name(text)
    assert clean_name(once) == once


@settings(max_examples=150, deadline=None)
@given(_name_text, st.sampled_from([None, "自报", "站内代名", "不详", "xx"]))
def test_parse_name_never_raises_and_norm_is_stable(text, source):
    parsed = parse_name(text, name_source=source)
    assert parse_name(parsed.norm, name_source=source).norm == parsed.norm
    assert parsed.evidence == (parsed.kind not in ("assigned", "placeholder", "blank"))


@settings(max_examples=25, deadline=None)
@given(st.lists(_name_text, max_size=8), st.sampled_from([None, "自报", "站内代名"]))
def test_parse_names_equals_scalar(texts, source):
    frame = parse_names(pd.Series(texts, dtype=object), name_source=source)
    assert frame["name_kind"].tolist() == [parse_name(t, name_source=source).kind for t in texts]
    assert frame["name_norm"].tolist() == [parse_name(t, name_source=source).norm for t in texts]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_name_text, st.sampled_from([None, "Wu", "Yue", "SW_Man", "bogus"])), max_size=6))
def test_name_columns_equals_scalar(rows):
    from kinmatch.normalize.phonetics import name_keys, name_pinyin

    names = pd.Series([r[0] for r in rows], dtype=object)
    areas = pd.Series([r[1] for r in rows], dtype=object)
    frame = name_columns(names, area=areas)
    for i, (text, area) in enumerate(rows):
        parsed = parse_name(text)
        expected = name_keys(parsed.norm, area) if parsed.evidence else ()
        assert frame["name_keys"].iloc[i] == expected
        assert (frame["name_pinyin"].iloc[i] or "") == name_pinyin(parsed.norm)


def test_name_columns_accepts_empty_and_scalar_inputs():
    assert len(name_columns(pd.Series([], dtype=object))) == 0
    frame = name_columns(["胡春花", "吴春花"], name_source="自报", area="Wu")
    assert list(frame["name_kind"]) == ["full", "full"]


class _CollidingConvention(StationConvention):
    """A convention whose hash collides with every other one (hash collisions must not leak)."""

    def __hash__(self):
        return 1


def test_conventions_with_equal_hashes_stay_apart():
    first = (_CollidingConvention("甲乙", "甲站", strong=True),)
    second = (_CollidingConvention("丙丁", "丙站", strong=True),)
    assert hash(first) == hash(second) and first != second
    assert parse_name("甲乙华", station_conventions=first).kind == "assigned"
    # with the old int-keyed registry the second set got the first set's conventions
    assert parse_name("甲乙华", station_conventions=second).kind != "assigned"
    assert parse_name("丙丁华", station_conventions=second).kind == "assigned"


def test_name_columns_keeps_names_pandas_would_merge():
    # pandas hashes all-string columns as C strings: "\x00A" and "" would become one value
    frame = name_columns(pd.Series(["", "\x00A", None], dtype=object))
    assert frame["name_keys"].iloc[0] == () and "a" in frame["name_keys"].iloc[1]


@pytest.mark.parametrize("resident_name, resident_area, report_name, report_area", [
    ("吴春花", "JH_Man", "胡春花", "Wu"),      # the accent note missed the Wu hometown
    ("王春华", "N_Man", "黄春华", "Yue"),      # huang/wang: Cantonese hometown, northern accent note
])
def test_name_columns_resident_side_meets_the_hometown_merger(resident_name, resident_area,
                                                               report_name, report_area):
    resident = name_columns(pd.Series([resident_name]), name_source="自报", area=resident_area, side="resident")
    report = name_columns(pd.Series([report_name]), area=report_area, side="report")
    plain = name_columns(pd.Series([resident_name]), name_source="自报", area=resident_area)
    assert set(resident.loc[0, "name_keys"]) & set(report.loc[0, "name_keys"])
    assert not set(plain.loc[0, "name_keys"]) & set(report.loc[0, "name_keys"])
    assert set(resident.loc[0, "surname_keys"]) & set(report.loc[0, "surname_keys"])


def test_name_text_is_the_one_definition_names_and_phonetics_share():
    from kinmatch.normalize import name_text, names, phonetics

    for shared in ("clean_name", "split_name", "surname_readings", "is_surname", "surname_rank"):
        assert getattr(names, shared) is getattr(name_text, shared)
    assert phonetics.name_text is name_text
    assert name_text.is_minority("阿卜杜拉·买买提") and not name_text.is_minority("张建国")
    assert name_text.common_surnames() >= {"王", "李", "张"} and "欧阳" not in name_text.common_surnames()
