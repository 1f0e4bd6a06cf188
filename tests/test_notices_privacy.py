"""Privacy rules of public notices: each rule, on inputs and on rendered output."""

import doctest
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import kinmatch.notices.context
import kinmatch.notices.privacy
from kinmatch.notices import NoticeSkipped, PrivacyError, render_notice
from kinmatch.notices.privacy import (
    check_public_text,
    coarse_place,
    plain_health_words,
    redact_text,
)

STATION_PHONE = "0371-66661234"
BASE = {
    "resident_id": "R001", "station": "郑州市救助管理站", "name": "李伟", "name_source": "自报",
    "sex": "男", "age": "约60岁", "height": "170cm", "found_date": "2024-03-05",
    "found_place": "河南省郑州市二七区大学路12号附近", "description": "左脸有痣",
    "clothing": "蓝色棉袄", "health": "老年痴呆", "accent": "河南口音", "contact": STATION_PHONE,
    "photo": "photos/R001.jpg",
}
TEXT_FORMATS = ("txt", "md", "html")


def record(**changes):
    return {**BASE, **changes}


@pytest.mark.parametrize("module", [kinmatch.notices.privacy, kinmatch.notices.context])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("text, expected", [
    ("右臂有疤，家属电话13812345678", "右臂有疤，家属电话[已隐去]"),
    ("手机 138 1234 5678 找他儿子", "手机 [已隐去] 找他儿子"),
    ("电话+86-138-1234-5678", "电话[已隐去]"),
    ("身份证：11010119900307123X", "身份证：[已隐去]"),
    ("老身份证110101900307123", "老身份证[已隐去]"),
    ("全角：１３８１２３４５６７８", "全角：[已隐去]"),
    ("家里座机(0571)88881234", "家里座机[已隐去]"),
    ("本地电话8888123", "本地电话[已隐去]"),
    ("微信号：lw_19880101", "[已隐去]"),
    ("邮箱 someone@example.com 联系", "邮箱 [已隐去] 联系"),
    ("确诊精神分裂症，F20.0", "确诊[已隐去]症，[已隐去]"),
    ("乙肝携带，癫痫", "[已隐去]携带，[已隐去]"),
    ("身高170，60岁，1.72米", "身高170，60岁，1.72米"),
    ("2023.11.05入站", "2023.11.05入站"),
    ("门牌号12号，3号楼", "门牌号12号，3号楼"),
    ("家属电话 一三八一二三四五六七八", "家属电话 [已隐去]"),
    ("儿子手机幺三九 零零零零 幺幺幺幺", "儿子手机[已隐去]"),
    ("电话一三八1234五六七八", "电话[已隐去]"),
    ("座机六六六六一二三四", "座机[已隐去]"),
    ("二〇二三年十一月入站，排行老二", "二〇二三年十一月入站，排行老二"),
    ("一二三四五六岁", "一二三四五六岁"),
])
def test_redact_text(text, expected):
    assert redact_text(text) == expected


def test_station_phone_survives_redaction():
    assert redact_text("本站电话0371-66661234", ["037166661234"]) == "本站电话0371-66661234"
    # ... but an ID number never does, even when declared as the station's "phone".
    assert redact_text("110101199003071234", ["110101199003071234"]) == "[已隐去]"


@pytest.mark.parametrize("health, words", [
    ("精神分裂症（F20.0），长期服药", ["疑似精神障碍"]),
    ("智力低下，聋哑", ["智力障碍", "聋哑"]),
    ("老年痴呆，记忆力差", ["老年痴呆"]),
    ("双相情感障碍", ["疑似精神障碍"]),
    ("耳聋", ["听力障碍"]),
    ("右腿截肢，坐轮椅", ["肢体残疾"]),
    ("艾滋病病毒感染者", []),
    ("身体健康", ["身体状况良好"]),
    ("", []),
])
def test_health_reduced_to_plain_words(health, words):
    assert plain_health_words(health) == words


@pytest.mark.parametrize("place, coarse", [
    ("四川省成都市武侯区人民南路四段12号附近", "四川省成都市武侯区"),
    ("北京市朝阳区建国路88号", "北京市朝阳区"),
    ("浙江杭州市西湖区文三路", "浙江杭州市西湖区"),
    ("广西壮族自治区南宁市青秀区民族大道", "广西壮族自治区南宁市青秀区"),
    ("贵州省黔东南苗族侗族自治州凯里市大十字", "贵州省黔东南苗族侗族自治州凯里市"),
    ("人民路与解放路交叉口", ""),
    ("光明村东区", ""),
    ("", ""),
])
def test_coarse_place(place, coarse):
    assert coarse_place(place) == coarse


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_id_number_and_family_phone_never_published(fmt):
    text = render_notice(record(
        description="左脸有痣，身份证110101199003071234，儿子电话13812345678",
        statements="女儿叫李娟，电话021-55556666",
        name="李伟13900001111",
    ), fmt)
    assert "110101199003071234" not in text
    assert "13812345678" not in text and "13900001111" not in text
    # The filter leaves the unsure clauses out whole (no redaction mark to read around) and keeps
    # the rest of the field; the name with a number in it is not published at all.
    assert "左脸有痣" in text and "李伟" not in text and "姓名不详" in text
    assert STATION_PHONE in text


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_detailed_diagnosis_never_published(fmt):
    text = render_notice(record(health="精神分裂症（F20.0），乙肝", description="有癫痫病史"), fmt)
    for term in ("精神分裂", "F20", "乙肝", "癫痫"):
        assert term not in text
    assert "疑似精神障碍" in text


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("age, minor", [("15岁", True), ("十七八岁", True), ("约16岁", True),
                                         ("约60岁", False), ("30岁", False)])
def test_minor_found_place_cut_to_county(fmt, age, minor):
    text = render_notice(record(age=age), fmt)
    assert "河南省郑州市二七区" in text
    assert ("大学路" in text) is (not minor)


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("status", ["已返乡", "reunited", "已认领"])
def test_reunited_notice_is_withdrawn(fmt, status):
    text = render_notice(record(status=status, name="李伟强"), fmt)
    assert "撤回" in text
    assert "李伟强" not in text and "R001.jpg" not in text and "左脸有痣" not in text
    assert STATION_PHONE in text


@pytest.mark.parametrize("column, status", [("status", "未返乡"), ("去向", "尚未返乡"),
                                            ("状态", "在站"), ("status", "not reunited")])
def test_not_yet_reunited_is_not_withdrawn(column, status):
    assert "李伟" in render_notice(record(**{column: status}), "txt")


@pytest.mark.parametrize("column", ["状态", "去向", "人员状态"])
def test_reunited_in_chinese_status_columns(column):
    assert "撤回" in render_notice(record(**{column: "已返乡"}), "txt")


def test_station_info_from_csv(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text("救助站,地址,联系电话\n郑州市救助管理站,郑州市二七区救助路1号,0371-67778888\n",
                    encoding="utf-8")
    assert "0371-67778888" in render_notice(record(contact=""), "txt", station_info=path)


def test_station_info_phone_wins_and_is_allowed():
    info = {"郑州市救助管理站": {"address": "郑州市二七区救助路1号", "phone": "0371-67778888"}}
    text = render_notice(record(contact=""), "txt", station_info=info)
    assert "0371-67778888" in text and "救助路1号" in text


def test_id_number_as_station_phone_is_refused():
    with pytest.raises(NoticeSkipped) as caught:
        render_notice(record(contact="110101199003071234"), "txt")
    assert caught.value.reason == "no_station_phone"


@pytest.mark.parametrize("template, leaked", [
    ("家属电话：13812345678 {{ station.phone }}", "13812345678"),
    ("身份证 110101199003071234 {{ station.phone }}", "110101199003071234"),
    ("诊断：精神分裂症 {{ station.phone }}", "精神分裂"),
    ("QQ：123456 {{ station.phone }}", "QQ"),
])
def test_staff_template_cannot_leak(tmp_path, template, leaked):
    (tmp_path / "notice.txt.j2").write_text(template, encoding="utf-8")
    with pytest.raises(PrivacyError) as caught:
        render_notice(record(), "txt", template_dir=tmp_path)
    assert "not written" in str(caught.value)


def test_staff_template_cannot_reach_raw_record(tmp_path):
    # The context has no raw fields: a template asking for the statements or the family's
    # contact fails loudly (StrictUndefined) instead of printing them.
    (tmp_path / "notice.txt.j2").write_text("{{ statements }} {{ station.phone }}", encoding="utf-8")
    with pytest.raises(Exception, match="does not exist"):
        render_notice(record(statements="家在某村"), "txt", template_dir=tmp_path)


def test_withdrawn_template_cannot_show_name(tmp_path):
    (tmp_path / "withdrawn.txt.j2").write_text("已撤回：{{ name }}", encoding="utf-8")
    with pytest.raises(Exception, match="does not exist"):
        render_notice(record(status="已返乡"), "txt", template_dir=tmp_path)


@pytest.mark.parametrize("text", ["家属电话 一三八一二三四五六七八", "身份证一一〇一〇一一九九〇〇三〇七一二三四",
                                  "电话：幺三九-零零零零-幺幺幺幺"])
def test_check_public_text_reads_chinese_numerals(text):
    with pytest.raises(PrivacyError):
        check_public_text(text, station_phones=[STATION_PHONE])


def test_check_public_text_forbidden_values():
    with pytest.raises(PrivacyError):
        check_public_text("李伟强 0371-66661234", station_phones=[STATION_PHONE], forbidden=["李伟强"])
    assert check_public_text("电话 0371-66661234", station_phones=[STATION_PHONE])


# ---------------------------------------------------------------- property

# The test's own notion of "shaped like an ID number or a phone", written independently of the
# implementation: fold look-alike digits, glue digits separated by phone punctuation, then look
# for ID numbers (15 or 18), mobiles (1[3-9] + 9 digits) and landlines / local numbers.
_GLUE = re.compile(r"(?<=\d)[ \t\u3000\-‐‑–—./()（）·]{1,2}(?=\d)")
_SHAPES = re.compile(r"\d{17}[\dXx]|\d{15}|1[3-9]\d{9}|0\d{9,11}|[2-9]\d{6,7}")


def _fold(text):
    return "".join(unicodedata.normalize("NFKC", ch) if unicodedata.normalize("NFKC", ch).isdigit()
                   and len(unicodedata.normalize("NFKC", ch)) == 1 else ch for ch in text)


def private_shapes(text, station_phone):
    station = re.sub(r"\D", "", station_phone)
    glued = _GLUE.sub("", _fold(text))
    found = []
    for match in re.finditer(r"\d+[Xx]?", glued):
        run = match.group(0)
        if run == station:
            continue
        touching = glued[max(match.start() - 1, 0):match.start()] + glued[match.end():match.end() + 1]
        if len(run) <= 8 and re.search(r"[A-Za-z_]", touching):
            continue  # a record code such as ZZ2024-0031, not a phone
        if len(run) == 8 and run[:2] in ("19", "20") and 1 <= int(run[4:6]) <= 12 and 1 <= int(run[6:]) <= 31:
            continue  # a YYYYMMDD date
        if _SHAPES.search(run):
            found.append(run)
    return found


_id_numbers = st.builds(lambda a, b, c: f"{a}{b}{c}", st.integers(110000, 659999),
                        st.integers(19300101, 20231231), st.sampled_from(["1234", "567X", "0018"]))
_mobiles = st.builds(lambda p, n: f"1{p}{n:09d}", st.sampled_from("3456789"), st.integers(0, 10**9 - 1))
_landlines = st.builds(lambda a, n: f"0{a}-{n}", st.integers(10, 999), st.integers(2000000, 89999999))


def _styled(number):
    return st.sampled_from([
        number,
        " ".join(number[i:i + 4] for i in range(0, len(number), 4)),
        number.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "-".join(number[i:i + 3] for i in range(0, len(number), 3)),
        "+86 " + number,
    ])


_private = st.one_of(_id_numbers, _mobiles, _landlines).flatmap(_styled)
_filler = st.text(alphabet="左右脸痣疤手指缺 ，。、：:;-（）() 0123456789０１岁cm号楼",
                  max_size=20)
_field = st.one_of(
    _filler,
    st.builds(lambda a, p, b: a + p + b, _filler, _private, _filler),
    st.builds(lambda p, q: p + "，" + q, _private, _private),
)


PROPERTY_EXAMPLES = 60


def test_no_public_notice_contains_private_numbers():
    """No rendered notice contains an ID number or a phone other than the station's.

    A skipped notice (too empty) checks nothing, so the property counts the examples that really
    rendered, and those whose input really held a private number, and requires most of them: a
    strategy drifting to records that are always skipped would otherwise pass vacuously.
    """
    counts = {"examples": 0, "checked": 0, "with_private_input": 0}

    @settings(max_examples=PROPERTY_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(name=_field, description=_field, clothing=_field, accent=_field, found_place=_field,
           health=_field, address=_field, contact=st.sampled_from([STATION_PHONE, "13512345678"]),
           age=st.sampled_from(["约60岁", "15岁", "", "五六十岁"]), fmt=st.sampled_from(TEXT_FORMATS),
           extra=st.fixed_dictionaries({"name_source": _field, "height": _field,
                                        "found_date": _field, "photo": _field,
                                        "statements": _field, "alias": _field}),
           station=st.sampled_from(["郑州市救助管理站", "救助站13812345678"]))
    def prop(name, description, clothing, accent, found_place, health, address, contact, age, fmt,
             extra, station):
        counts["examples"] += 1
        info = {station: {"address": address, "phone": contact}}
        rec = record(name=name, description=description, clothing=clothing, accent=accent,
                     found_place=found_place, health=health, age=age, contact=contact,
                     station=station, **extra)
        try:
            text = render_notice(rec, fmt, station_info=info)
        except NoticeSkipped as skipped:
            event(f"skipped: {skipped.reason}")
            return
        except PrivacyError:
            # The rendered text as a whole still held a long number (digits from two fields
            # that stand side by side): the notice is not written, which is the safe outcome.
            event("skipped: privacy")
            return
        event("rendered")
        counts["checked"] += 1
        private_input = " ".join(str(v) for v in (*rec.values(), address))
        if private_shapes(private_input, contact):
            counts["with_private_input"] += 1
        assert private_shapes(text, contact) == []
        assert contact in text

    prop()
    # Measured (issue 17 filter): 55-70 % of examples render; the rest are skipped, mostly because
    # the digit-dense filler of two fields runs together into a long number in the rendered text
    # (the safe outcome). Demand a good share so a change that skips nearly everything fails.
    assert counts["checked"] >= 0.45 * counts["examples"], counts
    assert counts["with_private_input"] >= 0.4 * counts["examples"], counts


# ---------------------------------------------------------------- minors' addresses in free text

HOME = "自述家住河南省周口市太康县王庄村12号，爸爸叫王建国"


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("description, kept, gone", [
    (HOME, "河南省周口市太康县", "王庄村"),
    ("说老家在周口太康王庄村，会写自己名字", "会写自己名字", "王庄村"),
    ("家在四川省成都市武侯区人民南路四段12号附近", "四川省成都市武侯区", "人民南路"),
    ("住在郑州市金水区花园路88号院3号楼", "郑州市金水区", "花园路"),
    ("右耳后有痣；家庭住址：安徽省阜阳市临泉县杨桥镇", "右耳后有痣", "杨桥镇"),
])
def test_minor_address_in_free_text_cut_to_county(fmt, description, kept, gone):
    text = render_notice(record(age="12岁", description=description), fmt)
    assert kept in text and gone not in text


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_adult_address_in_free_text_is_kept(fmt):
    assert "王庄村12号" in render_notice(record(age="约60岁", description=HOME), fmt)


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("age, description, coarse", [
    ("", "小男孩，右手有疤", True),           # child word, no age
    ("", "左脸有痣", True),                   # nothing says adult: may be a minor
    ("不详", "圆脸，短发", True),
    ("", "老人，满头白发", False),            # clearly an adult
    ("", "中年男子，络腮胡", False),
    ("", "男子，带着一个小孩", True),          # a child word too: not clearly adult
])
def test_unknown_age_is_treated_as_possibly_minor(fmt, age, description, coarse):
    text = render_notice(record(age=age, health="", description=description), fmt)
    assert "河南省郑州市二七区" in text
    assert ("大学路" in text) is (not coarse)


def test_unknown_age_child_with_home_address():
    text = render_notice(record(age="", health="", height="130cm", description="小男孩。" + HOME))
    assert "王庄村" not in text and "太康县" in text
