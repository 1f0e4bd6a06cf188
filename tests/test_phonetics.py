"""Phonetics: surname readings, heteronyms, dialect mergers, Cantonese, Latin script (synthetic names)."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.normalize.phonetics import (
    FAMILIES,
    area_families,
    cantonese_keys,
    char_diff_count,
    fold_syllable,
    hk_roman_keys,
    jyutping,
    latin_keys,
    merged_keys,
    minority_key,
    name_keys,
    name_keys_series,
    name_pinyin,
    pinyin_series,
    reading_variants,
)


def meet(a, b, area_a=None, area_b="same"):
    area_b = area_a if area_b == "same" else area_b
    return bool(set(name_keys(a, area_a)) & set(name_keys(b, area_b)))


@pytest.mark.parametrize("name, pinyin", [
    ("单雄信", "shan xiong xin"), ("曾国藩", "zeng guo fan"), ("仇英", "qiu ying"), ("解缙", "xie jin"),
    ("区志明", "ou zhi ming"), ("朴正浩", "piao zheng hao"), ("查良镛", "zha liang yong"),
    ("盖聂", "ge nie"), ("覃明", "qin ming"), ("尉迟恭", "yu chi gong"), ("万俟卨", "mo qi xie"),
    ("乐嘉", "yue jia"), ("缪明", "miao ming"), ("繁漪", "po yi"), ("员伟", "yun wei"),
    ("种师道", "chong shi dao"), ("召忠", "shao zhong"), ("翟志刚", "zhai zhi gang"), ("秘明", "bi ming"),
    ("过客", "guo ke"), ("折克行", "she ke xing"), ("长孙无忌", "zhang sun wu ji"),
    ("張三", "zhang san"), ("吕女士", "lv"), ("欧阳娜娜", "ou yang na na"), ("老单", "lao shan"),
    ("", ""),
])
def test_name_pinyin_reads_surnames_as_surnames(name, pinyin):
    assert name_pinyin(name) == pinyin


def test_reading_variants_lists_heteronyms_usual_first():
    variants = reading_variants("单文")
    assert variants[0] == "shan wen" and {"dan wen", "chan wen"} <= set(variants)
    assert len(reading_variants("单长乐行", max_variants=3)) == 3


@pytest.mark.parametrize("syllable, ops, folded", [
    ("nan", ("n_l",), "lan"), ("lan", ("n_l",), "lan"), ("zhang", ("retroflex",), "zang"),
    ("shi", ("retroflex",), "si"), ("cheng", ("n_ng",), "chen"), ("ling", ("n_ng",), "lin"),
    ("wang", ("n_ng",), "wang"),                            # an/ang deliberately kept apart
    ("fu", ("f_h",), "hu"), ("feng", ("f_h",), "hong"), ("huang", ("hu_wu",), "wang"),
    ("hui", ("hu_wu",), "wei"), ("ren", ("r_y",), "yin"), ("rou", ("r_y",), "you"), ("ru", ("r_l",), "lu"),
    ("xian", ("h_x",), "han"), ("jie", ("h_x",), "gai"), ("fu", ("f_h", "hu_wu"), "wu"),
])
def test_fold_syllable(syllable, ops, folded):
    assert fold_syllable(syllable, ops) == folded


@pytest.mark.parametrize("a, b, families", [
    ("hu chun hua", "wu chun hua", ["hu_wu"]),
    ("hu zhou", "fu zhou", ["f_h"]),
    ("nan jing", "lan jing", ["n_l"]),
    ("zhang san", "zang san", ["retroflex"]),
    ("chen ming", "cheng ming", ["n_ng"]),
    ("ren min", "yin min", ["r_y_l"]),
    ("xian", "han", ["h_x"]),
])
def test_merged_keys_meet(a, b, families):
    assert set(merged_keys(a, families)) & set(merged_keys(b, families))


def test_merged_keys_rejects_unknown_family():
    with pytest.raises(ValueError, match="unknown merger family"):
        merged_keys("li wei", ["nl"])


@pytest.mark.parametrize("a, b, area", [
    ("胡春花", "吴春花", "Wu"),        # h → w (Huangshan case)
    ("胡春花", "吴春花", None),
    ("韩", "咸", "JH_Man"),            # old velar reading "xian"-like
    ("韩明", "咸明", None),
    ("龚", "炅", "SW_Man"),            # Sichuan: 龚 read jiong, written 炅
    ("龚", "炅", None),
    ("湖州", "福州", "Xiang"),          # f/h
    ("湖州", "福州", None),
    ("李伟", "李玮", "N_Man"),          # homophones
    ("李伟", "李威", "N_Man"),
    ("李玮", "李威", None),
    ("黄小明", "王小明", "Wu"),         # huang/wang
    ("南京", "蓝京", "SW_Man"),         # n/l
    ("陈明", "程明", "Wu"),             # en/eng
    ("人杰", "银杰", "N_Man_NE"),       # r → y (Northeast)
    ("阿卜杜拉·买买提", "阿布都拉.麦麦提", None),
    ("阿卜杜拉买买提", "阿布都拉·麦麦提", "N_Man"),
    ("艾力·依明", "阿里依明", "N_Man"),
    ("米热古丽·卡德尔", "米热古丽·卡迪尔", "N_Man"),   # vowel variant: consonant skeleton
    ("王玲", "王霖", "N_Man"),          # a group area stands for its sub-areas (Jin: -n/-ng)
    ("張三", "张三", "N_Man"),
])
def test_documented_cases_meet(a, b, area):
    assert meet(a, b, area)


@pytest.mark.parametrize("a, b, area", [
    ("张伟", "王伟", None),             # different surnames never meet
    ("张伟", "王伟", "Yue"),
    ("胡春花", "吴春花", "N_Man"),       # no hu/wu merger in the north
    ("韩", "咸", "N_Man"),
    ("龚", "炅", "N_Man"),
    ("湖州", "福州", "N_Man"),
    ("好", "小", None),                 # 小 is an old sibilant: no velar reading
    ("王兴江", "王山江", None),          # one character off is not phonetic
    ("李伟", "刘伟", None),
    ("阿卜杜拉·买买提", "艾力·吐尔逊", None),
    ("王玲", "王霖", "N_Man_NE"),       # the Northeast keeps -n/-ng apart
])
def test_names_that_must_not_meet(a, b, area):
    assert not meet(a, b, area)


def test_unknown_area_meets_known_area():
    assert meet("胡春花", "吴春花", None, "Wu") and meet("南京", "蓝京", "Xiang", None)


@pytest.mark.parametrize("area, family, present", [
    ("Wu", "hu_wu", True), ("Wu", "h_x", True), ("N_Man", "n_l", False), ("N_Man_NE", "r_y_l", True),
    ("N_Man", "n_ng", True), ("N_Man_NE", "n_ng", False),
    ("Xiang", "f_h", True), ("SW_Man", "n_l", True),
])
def test_area_families(area, family, present):
    assert (family in area_families(area)) is present
    assert set(area_families(area)) <= set(FAMILIES)


def test_unknown_area_is_treated_as_all_areas():
    assert area_families("Atlantis") is None
    assert name_keys("胡春花", "Atlantis") == name_keys("胡春花", None)


@pytest.mark.parametrize("a, b, count", [
    ("王兴江", "王山江", 1), ("林耀星", "林耀忠", 1), ("李伟", "李伟", 0), ("李伟", "李伟明", 1),
    ("張三", "张三", 0), ("张三", "李四", 2),
])
def test_char_diff_count(a, b, count):
    assert char_diff_count(a, b) == count


@pytest.mark.parametrize("name, expected", [
    ("陈大文", "can daai man"), ("陳大文", "can daai man"), ("曾志伟", "zang zi wai"),
    ("区志明", "au zi ming"), ("黄小明", "wong siu ming"), ("单明", "sin ming"),
])
def test_jyutping(name, expected):
    assert jyutping(name) == expected


@pytest.mark.parametrize("latin, han", [
    ("Chan Tai Man", "陈大文"), ("CHAN Tai-man", "陳大文"), ("Tai Man Chan", "陈大文"),
    ("Wong Siu Ming", "黄小明"), ("Tsang Chi Wai", "曾志伟"),
])
def test_hk_romanised_names_meet_chinese(latin, han):
    assert set(latin_keys(latin)) & set(hk_roman_keys(han))
    assert meet(latin, han, None) and meet(han, latin, "Yue", None)


def test_cantonese_keys_hold_jyutping_and_hk_roman():
    keys = cantonese_keys("陈大文")
    assert keys[0] == "can daai man" and "chan tai man" in keys


@pytest.mark.parametrize("latin, han", [
    ("Zhang San", "张三"), ("ZHANG San", "張三"), ("San Zhang", "张三"), ("Zhang Sanfeng", "张三丰"),
    ("Ouyang Nana", "欧阳娜娜"), ("Lü Bu", "吕布"), ("Abudula Maimaiti", "阿卜杜拉·买买提"),
])
def test_latin_names_meet_chinese_via_pinyin(latin, han):
    assert meet(latin, han, None, "N_Man")


def test_latin_phonetic_codes_meet_spelling_variants():
    assert set(latin_keys("Chan Tai Man")) & set(latin_keys("Chen Tai Man"))
    assert not set(latin_keys("Chan Tai Man")) & set(latin_keys("Wong Siu Ming"))


@pytest.mark.parametrize("a, b", [
    ("阿卜杜拉·买买提", "阿布都拉·麦麦提"), ("阿卜杜拉", "阿布都拉"), ("买买提", "麦麦提"),
    ("阿卜杜拉・买买提", "阿卜杜拉买买提"), ("艾买提·努尔", "艾买提努尔江"), ("艾力·依明", "阿里依明"),
])
def test_minority_key_folds_transliteration_variants(a, b):
    assert minority_key(a) == minority_key(b)


def test_minority_key_keeps_different_names_apart():
    assert minority_key("阿卜杜拉·买买提") != minority_key("艾力·吐尔逊")


def test_vectorized_equals_scalar():
    names = pd.Series(["胡春花", "吴春花", None, "陈大文", "Chan Tai Man", "胡春花"], index=[5, 3, 1, 0, 2, 4])
    areas = pd.Series(["Wu", None, None, "Yue", None, "N_Man"], index=names.index)
    keys = name_keys_series(names, areas)
    assert keys.tolist() == [name_keys(n, a) for n, a in zip(names, areas, strict=True)]
    assert pinyin_series(names).tolist() == [name_pinyin(n) for n in names]
    assert keys.index.equals(names.index)


_any_text = st.text(alphabet=st.one_of(st.sampled_from(list("张王胡吴单曾龚炅韩咸·. 阿卜杜拉Chan")), st.characters()),
                    max_size=10)


@settings(max_examples=150, deadline=None)
@given(_any_text, st.sampled_from([None, "Wu", "Yue", "SW_Man", "N_Man_NE", "bogus"]))
def test_keys_never_raise_and_are_tuples_of_strings(text, area):
    keys = name_keys(text, area)
    assert isinstance(keys, tuple) and all(isinstance(k, str) and k for k in keys)
    assert isinstance(name_pinyin(text), str) and isinstance(jyutping(text), str)
    assert isinstance(latin_keys(text), tuple) and isinstance(cantonese_keys(text), tuple)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("张王李胡吴陈黄单曾龚韩明伟华春花小")), min_size=1, max_size=4),
       st.sampled_from([None, "Wu", "Xiang", "SW_Man"]))
def test_exact_reading_is_always_a_key(text, area):
    assert name_pinyin(text) in name_keys(text, area)


@pytest.fixture
def fresh_area_table():
    from kinmatch.normalize import phonetics

    def clear():
        phonetics._area_table.cache_clear()
        phonetics.area_families.cache_clear()

    clear()
    yield
    clear()


@pytest.mark.parametrize("broken", [
    OSError("disk read error"),                                   # unreadable file
    pd.DataFrame({"area": ["Wu"], "name_zh": ["吴语"]}),           # mergers column lost
])
def test_broken_dialect_areas_table_fails_loudly(monkeypatch, fresh_area_table, broken):
    import kinmatch.data
    from kinmatch.errors import KinmatchError
    from kinmatch.normalize.phonetics import area_families

    def fake_load_table(name, dtype=None):
        if isinstance(broken, Exception):
            raise broken
        return broken

    monkeypatch.setattr(kinmatch.data, "load_table", fake_load_table)
    # silently returning "unknown area" would switch off every sound merger
    with pytest.raises(KinmatchError, match="dialect_areas"):
        area_families("Wu")


# --- dialect asymmetry: the speaker's area may be known only on the report side ----------------


def resident_meets_report(resident, resident_area, report, report_area):
    return bool(set(name_keys(resident, resident_area, side="resident"))
                & set(name_keys(report, report_area, side="report")))


@pytest.mark.parametrize("resident, resident_area, report, report_area", [
    ("吴春花", "JH_Man", "胡春花", "Wu"),      # a Wu speaker whose accent the station noted wrong
    ("吴春花", "N_Man", "胡春花", "Wu"),
    ("王小明", "SW_Man", "黄小明", "Yue"),
    ("蓝京", "Wu", "南京", "SW_Man"),          # n/l: Wu has none, the Sichuan hometown has it
    ("福州", "N_Man", "湖州", "Xiang"),
    ("银杰", "JH_Man", "人杰", "N_Man_NE"),
    ("吴春花", None, "胡春花", "Wu"),
    ("吴春花", "JH_Man", "胡春花", None),
])
def test_resident_meets_report_under_the_hometown_merger(resident, resident_area, report, report_area):
    assert resident_meets_report(resident, resident_area, report, report_area)


@pytest.mark.parametrize("resident, resident_area, report, report_area", [
    ("吴春花", "JH_Man", "胡春花", "N_Man"),   # the report's northern hometown merges no hu/wu
    ("湖州", "Wu", "福州", "N_Man"),
    # (the reverse, resident 福州 vs report 湖州, does meet: the f→hu fold of 福 is 湖's own
    # reading. Folds are one-way, so a resident's extra keys can hit a report's plain reading.)
    ("张伟", "Wu", "王伟", "Wu"),
    ("李伟", None, "刘伟", None),
])
def test_resident_side_keys_stay_apart_without_a_merger(resident, resident_area, report, report_area):
    assert not resident_meets_report(resident, resident_area, report, report_area)


@pytest.mark.parametrize("name, area", [
    ("胡春花", "Wu"), ("张伟", "N_Man"), ("南宁", "SW_Man"), ("阿卜杜拉·买买提", None), ("Chan Tai Man", "Yue"),
])
def test_resident_side_adds_keys_and_keeps_its_own(name, area):
    own, resident = name_keys(name, area), name_keys(name, area, side="resident")
    assert set(own) <= set(resident) and len(resident) <= len(own) + 8
    assert name_keys(name, area, side="report") == own


def test_unknown_side_is_an_error():
    with pytest.raises(ValueError, match="side"):
        name_keys("胡春花", "Wu", side="station")


@pytest.mark.parametrize("side,expected", [("resident", True), ("report", False), (None, False)])
def test_is_resident_side(side, expected):
    from kinmatch.normalize.phonetics import is_resident_side

    assert is_resident_side(side) is expected


def test_is_resident_side_rejects_a_typo():
    from kinmatch.normalize.phonetics import is_resident_side

    with pytest.raises(ValueError, match="side must be one of"):
        is_resident_side("residents")
