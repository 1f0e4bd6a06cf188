"""Physical-description normalizer: wording tables, negations, vectorized form, properties."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.normalize.descriptions import (
    CONDITIONS,
    MARK_RARITY,
    MARK_TYPES,
    Description,
    Mark,
    describe_mark,
    mark_rarity_table,
    merge_marks,
    mirror,
    parse_conditions,
    parse_description,
    parse_descriptions,
)

# text → canonical marks (sorted). Station wording and family wording mixed, synthetic only.
MARK_CASES = [
    ("左脸颊有一颗黑痣", ("痣:脸:左",)),
    ("左侧面部有痦子", ("痣:脸:左",)),
    ("脸上左边有颗肉痣", ("痣:脸:左",)),
    ("痣在右脸", ("痣:脸:右",)),
    ("下巴有一黑点", ("痣:下巴:",)),
    ("额头有一道疤", ("疤痕:额头:",)),
    ("前额有刀疤约3厘米", ("疤痕:额头:",)),
    ("右手背有烫伤疤", ("疤痕:手背:右",)),
    ("腹部有手术疤痕", ("疤痕:腹:",)),
    ("左胳膊有伤疤", ("疤痕:臂:左",)),
    ("右手臂有一处疤痕", ("疤痕:臂:右",)),
    ("脖子上有块青色胎记", ("胎记:颈:",)),
    ("后背有红记", ("胎记:背:",)),
    ("右手臂纹有青龙", ("纹身:臂:右:龙",)),
    ("右胳膊刺青，图案为龙", ("纹身:臂:右:龙",)),
    ("左臂纹有忍字", ('纹身:臂:左:字"忍"',)),
    ("左手臂文身“忍”", ('纹身:臂:左:字"忍"',)),
    ("胸前纹身蝴蝶", ("纹身:胸::蝴蝶",)),
    ("胸口有蝴蝶纹身", ("纹身:胸::蝴蝶",)),
    ("左手小指缺失", ("缺指:手:左:小指",)),
    ("左手小拇指少一截", ("缺指:手:左:小指",)),
    ("左手缺一根小指", ("缺指:手:左:小指",)),
    ("右手食指断了一截", ("缺指:手:右:食指",)),
    ("右手大拇指残缺", ("缺指:手:右:拇指",)),
    ("左手断指", ("缺指:手:左",)),
    ("缺左脚小脚趾", ("缺指:脚:左",)),
    ("右手六指", ("六指:手:右",)),
    ("右手多一根手指", ("六指:手:右",)),
    ("走路一瘸一拐", ("跛:腿:",)),
    ("跛行", ("跛:腿:",)),
    ("左腿瘸", ("跛:腿:左",)),
    ("腿脚不便", ("跛:腿:",)),
    ("兔唇", ("兔唇:嘴:",)),
    ("唇裂修补过", ("兔唇:嘴:",)),
    ("豁嘴", ("兔唇:嘴:",)),
    ("门牙缺失", ("缺牙:牙:",)),
    ("缺一颗门牙", ("缺牙:牙:",)),
    ("镶两颗金牙", ("金牙:牙:",)),
    ("有颗金牙", ("金牙:牙:",)),
    ("龅牙", ("龅牙:牙:",)),
    ("左眼失明", ("独眼:眼:左",)),
    ("一只眼睛失明", ("独眼:眼:",)),
    ("斜视", ("斜视:眼:",)),
    ("谢顶", ()),  # hair, not a mark
    ("弯腰驼背", ("驼背:背:",)),
    ("左耳聋", ("耳聋:耳:左",)),
    ("聋哑人", ("聋哑::",)),
    ("后背有大片烧伤疤痕", ("烧伤:背:",)),
    ("脖子上有个肉瘤", ("肿块:颈:",)),
    ("右脸有痣和疤", ("疤痕:脸:右", "痣:脸:右")),
    ("左脸有痣右手有疤", ("疤痕:手:右", "痣:脸:左")),
    ("左脸颊有一颗黑痣，右手臂纹有青龙，右手小拇指少一截",
     ("痣:脸:左", "纹身:臂:右:龙", "缺指:手:右:小指")),
    ("有一颗痣，位于左脸", ("痣:脸:左",)),
    ("有痣，戴眼镜", ("痣::",)),  # a body part that does not locate the mark
    ("臉上有黑痣", ("痣:脸:",)),  # traditional characters
    ("左脸有痣　右臂有疤", ("疤痕:臂:右", "痣:脸:左")),  # full-width space
    ("左手无名指缺失", ("缺指:手:左:无名指",)),  # 无 of 无名指 is not a negation
    ("胳膊左侧刺龙", ("纹身:臂:左:龙",)),
    ("上臂右刺“忍”字", ('纹身:臂:右:字"忍"',)),
    ("门牙镶金", ("金牙:牙:",)),
    ("左手有六个指头", ("六指:手:左",)),
    ("左下肢跛行", ("跛:腿:左",)),
    ("走路跛，左腿不便", ("跛:腿:左",)),  # one limp, on the left
    ("唇边左有颗痣", ("痣:嘴:左",)),
    ("头发稀疏", ()),
    ("穿蓝色上衣", ()),
    ("", ()),
]


@pytest.mark.parametrize("text,expected", MARK_CASES)
def test_marks(text, expected):
    assert parse_description(text).mark_strings == tuple(sorted(expected))


# Same mark, family wording vs station wording: must give one canonical mark.
SAME_MARK = [
    ("左脸有个痦子", "左侧面颊黑痣一颗"),
    ("右胳膊上纹了一条龙", "右手臂青龙纹身"),
    ("左手小拇指少一截", "左手小指缺失"),
    ("瘸腿", "走路一瘸一拐"),
    ("豁嘴", "唇裂"),
    ("额头有个疤", "前额见陈旧性伤疤"),
    ("脖子上有个大包", "颈部肿块"),
    ("镶了金牙", "金牙一颗"),
    ("门牙掉了", "缺门牙"),
    ("罗锅", "驼背"),
    ("腿脚不便", "行走不便"),
    ("右脚瘸", "右腿跛"),
    ("右手多一指", "右手六指畸形"),
    ("脸右有颗痣", "右侧面部黑痣一颗"),
]


@pytest.mark.parametrize("family,station", SAME_MARK)
def test_family_and_station_wording_agree(family, station):
    family_marks = parse_description(family).mark_strings
    assert family_marks, family
    assert family_marks == parse_description(station).mark_strings


NEGATION_CASES = [
    ("无明显特征", (), ("特征",)),
    ("未见明显疤痕", (), ("疤痕",)),
    ("无纹身", (), ("纹身",)),
    ("无纹身、疤痕", (), ("疤痕", "纹身")),
    ("没有疤但有纹身", ("纹身::",), ("疤痕",)),
    ("无纹身，左脸有痣", ("痣:脸:左",), ("纹身",)),
    ("没有明显的胎记", (), ("胎记",)),
    ("左臂有疤，无其他特征", ("疤痕:臂:左",), ("特征",)),
    ("未发现纹身及疤痕", (), ("疤痕", "纹身")),
]


@pytest.mark.parametrize("text,marks,negated", NEGATION_CASES)
def test_negations(text, marks, negated):
    description = parse_description(text)
    assert description.mark_strings == marks
    assert description.negated == negated


ATTRIBUTE_CASES = [
    # text, build, hair, conditions
    ("体型偏瘦，短发", "瘦", "短发", ()),
    ("消瘦", "瘦", None, ()),
    ("身材中等", "中等", None, ()),
    ("体型匀称，头发花白", "中等", "白发", ()),
    ("身高中等，偏胖", "胖", None, ()),
    ("身体较壮", "胖", None, ()),
    ("壮族，光头", None, "光头", ()),
    ("长发，肥胖", "胖", "长发", ()),
    ("谢顶", None, "秃顶", ()),
    ("头顶秃", None, "秃顶", ()),
    ("头发稀少", None, "秃顶", ()),
    ("头发较长", None, "长发", ()),
    ("疑似老年痴呆", None, None, ("痴呆",)),
    ("记忆力差，说话糊涂", None, None, ("痴呆",)),
    ("智力低下 反应迟钝", None, None, ("智力障碍",)),
    ("疑似精神障碍，不会说话", None, None, ("精神障碍", "聋哑")),
    ("精神分裂症病史", None, None, ("精神障碍",)),
    ("哑巴", None, None, ("聋哑",)),
    ("有癫痫病史，行动不便", None, None, ("肢体残疾", "癫痫")),
    ("羊癫疯", None, None, ("癫痫",)),
    ("脑子不太灵光", None, None, ("智力障碍",)),
    ("言语混乱，精神状态差", None, None, ("精神障碍",)),
    ("不能言语，听力障碍", None, None, ("聋哑",)),
    ("行走不便", None, None, ("肢体残疾",)),
    ("精神正常，无残疾", None, None, ()),
    ("无精神病史", None, None, ()),
]


@pytest.mark.parametrize("text,build,hair,conditions", ATTRIBUTE_CASES)
def test_build_hair_conditions(text, build, hair, conditions):
    description = parse_description(text)
    assert (description.build, description.hair, description.conditions) == (build, hair, conditions)


def test_unrecognised_clauses_are_kept_in_other():
    description = parse_description("左脸有痣，戴眼镜，皮肤黝黑")
    assert description.other == ("戴眼镜", "皮肤黝黑")


def test_conditions_helper_and_tables():
    assert parse_conditions("阿尔茨海默症") == ("痴呆",)
    assert set(MARK_RARITY) == set(MARK_TYPES)
    table = mark_rarity_table()
    assert table["prior_frequency"].is_monotonic_increasing
    assert table["type"].iloc[0] in ("兔唇", "六指")
    assert set(CONDITIONS) == {"痴呆", "智力障碍", "精神障碍", "聋哑", "肢体残疾", "癫痫"}


@pytest.mark.parametrize("mark,mirrored", [
    ("痣:脸:左", "痣:脸:右"),
    ("缺指:手:右:小指", "缺指:手:左:小指"),
    ("疤痕:额头:", "疤痕:额头:"),
])
def test_mirror(mark, mirrored):
    assert mirror(mark) == mirrored
    assert mirror(Mark.from_string(mark)) == Mark.from_string(mirrored)
    assert mirror(mirror(mark)) == mark


def test_parse_descriptions_vectorized_matches_scalar():
    texts = pd.Series(["左脸有痣", None, "无纹身", "左脸有痣", float("nan"), "偏瘦，花白头发"],
                      index=[10, 11, 12, 13, 14, 15])
    before = texts.copy()
    frame = parse_descriptions(texts)
    pd.testing.assert_series_equal(texts, before)
    assert list(frame.columns) == ["marks", "negated", "build", "hair", "conditions"]
    assert list(frame.index) == [10, 11, 12, 13, 14, 15]
    assert frame.loc[10, "marks"] == ("痣:脸:左",)
    assert frame.loc[11, "marks"] == () and frame.loc[14, "conditions"] == ()
    assert frame.loc[12, "negated"] == ("纹身",)
    assert frame.loc[15, "build"] == "瘦" and frame.loc[15, "hair"] == "白发"
    for index, text in texts.items():
        d = parse_description(text if isinstance(text, str) else None)
        assert frame.loc[index, "marks"] == d.mark_strings


@pytest.mark.parametrize("groups,merged", [
    ((["跛:腿:左"], ["跛:腿:"]), ("跛:腿:左",)),
    ((["痣:脸:左"], ["痣:脸:右"]), ("痣:脸:右", "痣:脸:左")),  # two moles, both kept
    ((["纹身:臂:右"], ["纹身:臂:右:龙"], []), ("纹身:臂:右:龙",)),
    (([], []), ()),
])
def test_merge_marks(groups, merged):
    assert merge_marks(*groups) == merged


def test_parse_descriptions_odd_cells():
    frame = parse_descriptions(pd.Series([["左脸有痣"], 12, "右臂有疤"]))
    assert frame["marks"].tolist() == [("痣:脸:左",), (), ("疤痕:臂:右",)]


def test_parse_descriptions_empty_series():
    frame = parse_descriptions(pd.Series([], dtype=object))
    assert len(frame) == 0 and "marks" in frame.columns


# ---- properties ---------------------------------------------------------------------------

_PARTS_FOR = {"痣": "脸", "疤痕": "额头", "胎记": "颈", "纹身": "臂", "烧伤": "背", "肿块": "腿"}
_marks = st.one_of(
    st.builds(lambda t, side: Mark(t, _PARTS_FOR[t], side if t != "疤痕" else ""),
              st.sampled_from(sorted(_PARTS_FOR)), st.sampled_from(["左", "右", ""])),
    st.builds(lambda side, finger: Mark("缺指", "手", side, finger),
              st.sampled_from(["左", "右"]), st.sampled_from(["拇指", "食指", "中指", "无名指", "小指"])),
    st.builds(lambda side, motif: Mark("纹身", "臂", side, motif),
              st.sampled_from(["左", "右"]), st.sampled_from(["龙", "蝴蝶", "虎", "鹰"])),
    st.sampled_from([Mark("跛", "腿"), Mark("兔唇", "嘴"), Mark("金牙", "牙"), Mark("驼背", "背"),
                     Mark("独眼", "眼", "左")]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_marks, min_size=1, max_size=3, unique_by=lambda m: m.type))
def test_rendered_marks_parse_back(marks):
    """describe_mark → parse_description is the identity on canonical marks."""
    text = "，".join(describe_mark(m) for m in marks)
    assert parse_description(text).marks == tuple(sorted(marks))
    # and parsing the re-rendered description once more changes nothing (idempotent)
    again = "，".join(describe_mark(m) for m in parse_description(text).marks)
    assert parse_description(again).marks == tuple(sorted(marks))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_never_raises(text):
    description = parse_description(text)
    assert isinstance(description, Description)
    assert set(description.conditions) <= set(CONDITIONS)
    for mark in description.marks:
        assert mark.type in MARK_TYPES
        assert mark.side in ("左", "右", "")
        assert Mark.from_string(str(mark)) == mark


_cjk = st.text(alphabet="左右脸手臂有痣疤纹身龙无没未见缺小指一截，、胎记瘦胖头发白聋哑", max_size=25)


@settings(max_examples=150, deadline=None)
@given(_cjk)
def test_domain_alphabet_never_raises_and_series_is_untouched(text):
    series = pd.Series([text, None, text])
    copy = series.copy()
    frame = parse_descriptions(series)
    pd.testing.assert_series_equal(series, copy)
    assert frame.loc[0, "marks"] == frame.loc[2, "marks"] == parse_description(text).mark_strings
