"""PFIF 1.4: export, import, round trips, and a checker of the PFIF 1.4 field rules."""

import datetime as dt
import doctest
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

import kinmatch.pfif
from kinmatch.errors import InputError
from kinmatch.pfif import NOTE_FIELDS, PERSON_FIELDS, PFIF_NS, export_pfif, read_pfif

NOW = dt.datetime(2024, 11, 20, 9, 30, 15, tzinfo=dt.timezone.utc)
DOMAIN = "studio.example.cn"

RESIDENTS = pd.DataFrame([
    {"resident_id": "ZZ2024-0031", "station": "郑州市救助管理站", "name": "吴春花",
     "name_source": "自报（音）", "alias": "春儿", "sex": "女", "age": "五六十岁",
     "height": "一米五八", "found_date": "2024-10-03", "found_place": "郑州市二七区大学路",
     "accent": "安徽口音", "description": "左眉上方有疤", "clothing": "灰色棉袄",
     "health": "老年痴呆", "photo": "https://example.cn/p/31.jpg", "contact": "0371-66661234"},
    {"resident_id": "ZZ2024-0032", "station": "郑州市救助管理站", "name": "郑安",
     "name_source": "站内代名", "sex": "男", "age": "约12岁", "contact": "0371-66661234"},
    {"resident_id": "ZZ2024-0033", "station": "郑州市救助管理站", "name": None, "sex": "未知"},
])
MISSING = pd.DataFrame([
    {"missing_id": "AH-88", "name": "胡春花", "alias": "春儿、花妹", "sex": "女",
     "birth_date": "1962-03", "age": None, "height": "158cm", "missing_date": "2019-05-01",
     "missing_place": "黄山市屯溪区老街", "hometown": "安徽省黄山市歙县", "dialect": "徽州话",
     "description": "左眉上方有疤，门牙缺一颗", "clothing": "蓝色外套", "health": "记忆力差",
     "contact": "13900001111", "source": "公安"},
    {"missing_id": "SC-7", "name": "欧阳娜娜", "alias": None, "sex": "F", "birth_date": None,
     "age": "15岁", "height": None, "missing_date": "2023-08-15", "missing_place": None,
     "hometown": "重庆市万州区", "dialect": None, "description": None, "clothing": None,
     "health": None, "contact": "family@example.cn", "source": "家属"},
])
MATCHES = pd.DataFrame([
    {"resident_id": "ZZ2024-0031", "missing_id": "AH-88", "decision": "likely",
     "explanation": "姓名方言音近(吴/胡) +5.2; 年龄相符 +1.8", "reviewer": "张工"},
    {"resident_id": "ZZ2024-0032", "missing_id": "SC-7", "decision": "排除"},
])

UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DOB = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
AGE = re.compile(r"^\d+(-\d+)?$")
RECORD_ID = re.compile(r"^[A-Za-z0-9.\-]+/\S+$")


def check_pfif_14(xml_text):
    """The PFIF 1.4 field rules, checked independently of the exporter. Returns problems."""
    problems = []
    root = ET.fromstring(xml_text.encode("utf-8"))
    ns = "{" + PFIF_NS + "}"
    if root.tag != ns + "pfif":
        return [f"root is {root.tag}"]

    def fields(element, allowed, required, kind):
        names = [child.tag[len(ns):] if child.tag.startswith(ns) else child.tag for child in element
                 if not child.tag.endswith("}note")]
        for child in element:
            if not child.tag.startswith(ns):
                problems.append(f"{kind}: element {child.tag} outside the PFIF namespace")
        unknown = [n for n in names if n not in allowed]
        if unknown:
            problems.append(f"{kind}: unknown fields {unknown}")
        order = [allowed.index(n) for n in names if n in allowed]
        if order != sorted(order):
            problems.append(f"{kind}: fields out of order {names}")
        if len(set(names)) != len(names):
            problems.append(f"{kind}: repeated fields")
        values = {child.tag[len(ns):]: (child.text or "") for child in element
                  if child.tag.startswith(ns)}
        for name in required:
            if not values.get(name):
                problems.append(f"{kind}: required {name} missing")
        for name in ("entry_date", "expiry_date", "source_date"):
            if name in values and not UTC.match(values[name]):
                problems.append(f"{kind}: {name}={values[name]!r} is not YYYY-MM-DDTHH:MM:SSZ")
        for name in ("person_record_id", "note_record_id", "linked_person_record_id"):
            if name in values and not RECORD_ID.match(values[name]):
                problems.append(f"{kind}: {name}={values[name]!r} is not domain/id")
        return values

    persons = root.findall(ns + "person")
    for person in persons:
        values = fields(person, PERSON_FIELDS, ("person_record_id", "source_date", "full_name"), "person")
        if "sex" in values and values["sex"] not in ("female", "male", "other"):
            problems.append(f"person: sex {values['sex']!r}")
        if "date_of_birth" in values and not DOB.match(values["date_of_birth"]):
            problems.append(f"person: date_of_birth {values['date_of_birth']!r}")
        if "age" in values:
            match = AGE.match(values["age"])
            if not match or (match.group(1) and int(values["age"].split("-")[0]) > int(values["age"].split("-")[1])):
                problems.append(f"person: age {values['age']!r}")
        for note in person.findall(ns + "note"):
            fields(note, NOTE_FIELDS, ("note_record_id", "author_name", "source_date"), "note")
    for note in root.findall(ns + "note"):
        note_values = fields(note, NOTE_FIELDS,
                             ("note_record_id", "person_record_id", "author_name", "source_date"), "note")
        del note_values
    for note in root.iter(ns + "note"):
        status = note.findtext(ns + "status")
        if status is not None and status not in ("information_sought", "is_note_author",
                                                 "believed_alive", "believed_missing", "believed_dead"):
            problems.append(f"note: status {status!r}")
    return problems


def export(**kwargs):
    return export_pfif(residents=RESIDENTS, missing=MISSING, matches=MATCHES, domain=DOMAIN,
                       now=NOW, **kwargs)


def test_docstring_examples():
    assert doctest.testmod(kinmatch.pfif).failed == 0


def test_export_is_valid_pfif_14():
    assert check_pfif_14(export(expiry_days=365)) == []


def test_checker_catches_broken_documents():
    good = export()
    assert check_pfif_14(good.replace("<pfif:sex>female</pfif:sex>", "<pfif:sex>女</pfif:sex>"))
    assert check_pfif_14(good.replace("2024-11-20T09:30:15Z", "2024-11-20 09:30", 1))
    swapped = re.sub(r"(<pfif:source_name>.*?</pfif:source_name>)(\s*)(<pfif:source_date>.*?</pfif:source_date>)",
                     r"\3\2\1", good, count=1)
    assert swapped != good and check_pfif_14(swapped)
    assert check_pfif_14(re.sub(r"<pfif:full_name>.*?</pfif:full_name>", "", good, count=1))
    assert check_pfif_14(good.replace("<pfif:age>50-69</pfif:age>", "<pfif:age>约60</pfif:age>"))


def _persons(xml_text):
    ns = "{" + PFIF_NS + "}"
    root = ET.fromstring(xml_text.encode("utf-8"))
    return {p.findtext(ns + "person_record_id"): {c.tag[len(ns):]: c.text for c in p
                                                  if not c.tag.endswith("}note")}
            for p in root.findall(ns + "person")}, root


def test_export_field_values():
    persons, _ = _persons(export(expiry_days=30))
    wu = persons[f"{DOMAIN}/resident.ZZ2024-0031"]
    assert (wu["full_name"], wu["family_name"], wu["given_name"]) == ("吴春花", "吴", "春花")
    assert wu["sex"] == "female" and wu["age"] == "50-69"
    assert wu["entry_date"] == wu["source_date"] == "2024-11-20T09:30:15Z"
    assert wu["expiry_date"] == "2024-12-20T09:30:15Z"
    assert wu["photo_url"] == "https://example.cn/p/31.jpg"
    assert "姓名来源：自报（音）" in wu["description"] and "口音：安徽口音" in wu["description"]
    zheng = persons[f"{DOMAIN}/resident.ZZ2024-0032"]
    assert "family_name" not in zheng  # a station-assigned name is not a family name
    nameless = persons[f"{DOMAIN}/resident.ZZ2024-0033"]
    assert nameless["full_name"] == "（姓名不详）" and "sex" not in nameless
    hu = persons[f"{DOMAIN}/missing.AH-88"]
    assert hu["date_of_birth"] == "1962-03" and "age" not in hu
    assert hu["alternate_names"] == "春儿\n花妹"
    assert (hu["home_state"], hu["home_city"]) == ("安徽省", "黄山市歙县")
    ouyang = persons[f"{DOMAIN}/missing.SC-7"]
    assert (ouyang["family_name"], ouyang["given_name"], ouyang["age"]) == ("欧阳", "娜娜", "13-17")
    assert (ouyang["home_state"], ouyang["home_city"]) == ("重庆市", "万州区")


def test_family_contact_only_when_asked():
    public = export()
    assert "13900001111" not in public and "family@example.cn" not in public
    closed = export(include_contact=True)
    persons, _ = _persons(closed)
    assert persons[f"{DOMAIN}/missing.AH-88"]["author_phone"] == "13900001111"
    assert persons[f"{DOMAIN}/missing.SC-7"]["author_email"] == "family@example.cn"
    assert check_pfif_14(closed) == []


def test_reviewed_match_becomes_linked_note_and_excluded_pair_does_not():
    _, root = _persons(export())
    ns = "{" + PFIF_NS + "}"
    notes = list(root.iter(ns + "note"))
    assert len(notes) == 1
    note = {c.tag[len(ns):]: c.text for c in notes[0]}
    assert note["person_record_id"] == f"{DOMAIN}/resident.ZZ2024-0031"
    assert note["linked_person_record_id"] == f"{DOMAIN}/missing.AH-88"
    assert note["status"] == "believed_alive" and note["author_name"] == "张工"
    assert "姓名方言音近" in note["text"]


def test_bad_note_status_is_refused():
    with pytest.raises(InputError, match="PFIF 1.4 status"):
        export_pfif(residents=RESIDENTS, matches=pd.DataFrame(
            [{"resident_id": "ZZ2024-0031", "missing_id": "AH-88", "status": "found"}]))


ROUND_TRIP_FIELDS = ["missing_id", "name", "alias", "sex", "birth_date", "height", "missing_date",
                     "missing_place", "hometown", "dialect", "description", "clothing", "health",
                     "source"]


def test_round_trip_missing_reports():
    xml_text = export_pfif(missing=MISSING, domain=DOMAIN, now=NOW)
    back = read_pfif(xml_text, domain=DOMAIN)
    assert back.frame.attrs["kind"] == "missing" and len(back.issues) == 0
    got = back.frame.set_index("missing_id")
    hu = got.loc["AH-88"]
    expected = MISSING.iloc[0]
    for field in ROUND_TRIP_FIELDS[1:]:
        assert hu[field] == expected[field], field
    assert pd.isna(hu["contact"])  # not exported, so not imported
    ouyang = got.loc["SC-7"]
    assert (ouyang["name"], ouyang["sex"], ouyang["age"]) == ("欧阳娜娜", "女", "13-17")


def test_round_trip_with_contact():
    back = read_pfif(export_pfif(missing=MISSING, domain=DOMAIN, now=NOW, include_contact=True),
                     domain=DOMAIN).frame.set_index("missing_id")
    assert back.loc["AH-88", "contact"] == "13900001111"


def test_import_is_a_canonical_missing_frame():
    from kinmatch.schema import canonical_columns

    frame = read_pfif(export(), domain=DOMAIN).frame
    assert list(frame.columns[: len(canonical_columns("missing"))]) == canonical_columns("missing")
    # Residents exported by a station are found people, not reports: left out, each with an issue row.
    assert not frame["missing_id"].str.contains("resident.").any()


@pytest.mark.parametrize("domain", [DOMAIN, None])
def test_import_of_own_export_returns_reports_only(domain):
    back = read_pfif(export_pfif(RESIDENTS, MISSING, domain=DOMAIN, now=NOW), domain=domain)
    assert len(back.frame) == len(MISSING)
    skipped = back.issues[back.issues["reason"] == "resident_record"]
    assert sorted(skipped["record_id"]) == sorted(f"{DOMAIN}/resident.{r}" for r in RESIDENTS["resident_id"])
    assert set(skipped["action"]) == {"row_skipped"}


def test_import_leaves_out_residents_of_another_station_too():
    xml_text = export_pfif(RESIDENTS.head(1), MISSING.head(1), domain="other.example.cn", now=NOW)
    back = read_pfif(xml_text, domain=DOMAIN)
    assert back.frame["missing_id"].tolist() == ["other.example.cn/missing.AH-88"]


def test_import_foreign_pfif_13_and_notes(tmp_path):
    text = """<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.3">
  <pfif:person>
    <pfif:person_record_id>other.example.org/p.42</pfif:person_record_id>
    <pfif:source_date>2011-03-12T00:00:00Z</pfif:source_date>
    <pfif:full_name>王山江</pfif:full_name>
    <pfif:sex>male</pfif:sex>
    <pfif:age>40-50</pfif:age>
    <pfif:home_state>湖南省</pfif:home_state>
    <pfif:other>description: 右手缺无名指</pfif:other>
    <pfif:note>
      <pfif:note_record_id>other.example.org/n.1</pfif:note_record_id>
      <pfif:author_name>志愿者</pfif:author_name>
      <pfif:source_date>2011-03-13T00:00:00Z</pfif:source_date>
      <pfif:status>believed_missing</pfif:status>
      <pfif:text>仍在寻找</pfif:text>
    </pfif:note>
  </pfif:person>
  <pfif:person><pfif:full_name>无编号</pfif:full_name></pfif:person>
</pfif:pfif>"""
    path = tmp_path / "feed.xml"
    path.write_text(text, encoding="utf-8")
    result = read_pfif(path)
    assert result.frame["missing_id"].tolist() == ["other.example.org/p.42"]
    row = result.frame.iloc[0]
    assert (row["name"], row["sex"], row["age"], row["hometown"]) == ("王山江", "男", "40-50", "湖南省")
    assert "右手缺无名指" in row["description"]
    assert result.notes.loc[0, "status"] == "believed_missing"
    assert result.notes.loc[0, "person_record_id"] == "other.example.org/p.42"
    assert result.issues["reason"].tolist() == ["missing_id"]


@pytest.mark.parametrize("attack", [
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    '<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">&lol2;</pfif:pfif>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    '<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person><pfif:full_name>&xxe;'
    '</pfif:full_name></pfif:person></pfif:pfif>',
])
def test_import_refuses_entities(attack):
    with pytest.raises(InputError, match="DOCTYPE"):
        read_pfif(attack)


@pytest.mark.parametrize("text, message", [
    ("<pfif:pfif xmlns:pfif='http://zesty.ca/pfif/1.4'><unclosed>", "well-formed"),
    ("<feed xmlns='http://www.w3.org/2005/Atom'/>", "not a PFIF"),
])
def test_import_bad_documents(text, message):
    with pytest.raises(InputError, match=message):
        read_pfif(text)


def test_control_characters_do_not_break_xml():
    residents = RESIDENTS.assign(description="疤\x00痕\x1b")
    xml_text = export_pfif(residents=residents, domain=DOMAIN, now=NOW)
    assert check_pfif_14(xml_text) == []


# ---------------------------------------------------------------- hostile records

HOSTILE_RESIDENTS = pd.DataFrame([
    {"resident_id": "H1", "station": "郑州市救助管理站", "name": "李伟13900001111", "sex": "男",
     "age": "约40岁", "alias": "老李，身份证110101199003071234",
     "description": "左脸有痣，身份证110101199003071234，儿子电话13812345678",
     "clothing": "蓝色棉袄，家属电话 一三八一二三四五六七八", "health": "精神分裂症（F20.0），HIV阳性",
     "accent": "河南口音，微信号：lw_19880101", "height": "170cm", "found_date": "2024-10-03",
     "found_place": "郑州市二七区大学路12号", "contact": "0371-66661234"},
    {"resident_id": "H2", "station": "郑州市救助管理站", "name": "小宝", "sex": "男", "age": "约12岁",
     "description": "自述家住河南省周口市太康县王庄村12号，爸爸叫王建国", "health": "乙肝携带，智力低下",
     "found_date": "2024-10-05", "found_place": "河南省周口市太康县王庄村东头", "contact": "0371-66661234"},
    {"resident_id": "H3", "station": "郑州市救助管理站", "name": None, "sex": "男", "age": None,
     "description": "小男孩，身高130厘米", "found_date": "2024-10-06",
     "found_place": "河南省郑州市金水区花园路88号院", "contact": "身份证110101199003071234"},
])
HOSTILE_MISSING = pd.DataFrame([
    {"missing_id": "HM1", "name": "王芳", "sex": "女", "age": "35岁", "source": "家属",
     "description": "身份证410123198801011234，右手有疤", "health": "抑郁症，癫痫",
     "missing_place": "郑州火车站", "contact": "13700001111", "clothing": "红外套 电话13700001111"},
])
PRIVATE = ("110101199003071234", "13812345678", "13900001111", "13700001111", "410123198801011234",
           "一三八一二三四五六七八", "lw_19880101", "精神分裂", "F20", "HIV", "乙肝", "抑郁症", "癫痫",
           "王庄村", "花园路")


@pytest.mark.parametrize("private", PRIVATE)
def test_export_of_hostile_records_leaks_nothing(private):
    xml_text = export_pfif(residents=HOSTILE_RESIDENTS, missing=HOSTILE_MISSING, domain=DOMAIN, now=NOW)
    assert private not in xml_text
    assert check_pfif_14(xml_text) == []


def test_export_of_hostile_records_keeps_what_identifies():
    persons, _ = _persons(export_pfif(residents=HOSTILE_RESIDENTS, domain=DOMAIN, now=NOW))
    h1, h2, h3 = (persons[f"{DOMAIN}/resident.{rid}"] for rid in ("H1", "H2", "H3"))
    assert "左脸有痣" in h1["description"] and "疑似精神障碍" in h1["description"]
    assert "发现地点：郑州市二七区大学路12号" in h1["description"]  # an adult: exact place kept
    assert h1["author_phone"] == "0371-66661234"
    assert "河南省周口市太康县" in h2["description"] and "智力障碍" in h2["description"]
    assert "发现地点：河南省郑州市金水区" in h3["description"]  # no age, a boy: county only
    assert "author_phone" not in h3  # an ID number is not a station phone


def test_export_dates_from_timestamps_and_withdrawn_resident():
    residents = pd.DataFrame([
        {"resident_id": "T1", "name": "李伟", "found_date": pd.Timestamp("2024-10-03"),
         "contact": "0371-66661234", "description": "左脸有痣"},
        {"resident_id": "T2", "name": "张强", "found_date": "2024-10-04", "status": "已返乡",
         "photo": "https://example.cn/p/t2.jpg", "description": "左脸有痣", "contact": "0371-66661234"},
    ])
    persons, _ = _persons(export_pfif(residents=residents, domain=DOMAIN, now=NOW))
    assert "发现日期：2024-10-03" in persons[f"{DOMAIN}/resident.T1"]["description"]
    back_home = persons[f"{DOMAIN}/resident.T2"]
    assert "photo_url" not in back_home and "description" not in back_home


# Name fields follow kinmatch.normalize.names.parse_name: only a full Han name is split; a
# station-assigned name or a placeholder is no name at all (marked, never passed off as a name).
BASE_RESIDENT = {"resident_id": "N1", "station": "郑州市救助管理站", "sex": "男", "age": "约40岁",
                 "height": "170cm", "contact": "0371-66661234"}


@pytest.mark.parametrize("name, source, full, family, given, alternate, described", [
    ("李伟", "自报", "李伟", "李", "伟", None, "姓名来源：自报"),
    ("李威", "自报（音）", "李威", "李", "威", None, "姓名来源：自报（音）"),
    ("欧阳建国", None, "欧阳建国", "欧阳", "建国", None, None),
    ("小明", "自报", "小明", None, None, None, "姓名来源：自报"),
    ("阿英", None, "阿英", None, None, None, None),
    ("老王", "自报", "老王", None, None, None, None),
    ("阿卜杜拉·买买提", "自报", "阿卜杜拉·买买提", None, None, None, None),
    ("无名氏", None, "（姓名不详）", None, None, None, "无名氏"),
    ("党三", "站内代名", "（姓名不详）", None, None, "党三（站内代名）", "姓名来源：站内代名"),
    ("吴民华", None, "（姓名不详）", None, None, "吴民华（站内代名）", "姓名来源：站内代名"),
])
def test_export_name_fields(name, source, full, family, given, alternate, described):
    resident = pd.DataFrame([{**BASE_RESIDENT, "name": name, "name_source": source}])
    xml = export_pfif(residents=resident, domain=DOMAIN, now=NOW)
    assert check_pfif_14(xml) == []
    person = _persons(xml)[0][f"{DOMAIN}/resident.N1"]
    assert person["full_name"] == full
    assert (person.get("family_name"), person.get("given_name")) == (family, given)
    assert person.get("alternate_names") == alternate
    if described:
        assert described in person.get("description", "")
    if full == "（姓名不详）":  # not a name: nowhere a name field
        assert name not in (person.get("full_name", "") + person.get("family_name", "")
                            + person.get("given_name", ""))


@pytest.mark.parametrize("name, family, given", [
    ("吴民华", "吴", "民华"),  # a family's report: a real name even if it looks like a convention
    ("小明", None, None),
    ("胡春花", "胡", "春花"),
])
def test_export_report_name_fields(name, family, given):
    report = pd.DataFrame([{"missing_id": "M9", "name": name, "sex": "男", "source": "家属"}])
    person = _persons(export_pfif(missing=report, domain=DOMAIN, now=NOW))[0][f"{DOMAIN}/missing.M9"]
    assert person["full_name"] == name
    assert (person.get("family_name"), person.get("given_name")) == (family, given)


def test_cli_export_and_import_through_files(tmp_path, capsys):
    from kinmatch.cli import main

    RESIDENTS.to_csv(tmp_path / "residents.csv", index=False, encoding="utf-8-sig")
    MISSING.to_csv(tmp_path / "missing.csv", index=False, encoding="utf-8-sig")
    reviewed = pd.DataFrame([
        {"resident_id": "ZZ2024-0031", "missing_id": "AH-88", "decision": "same", "explanation": "姓名方言音近 +5.2"},
        {"resident_id": "ZZ2024-0032", "missing_id": "SC-7", "decision": "unsure"},
    ])
    reviewed.to_csv(tmp_path / "reviewed.csv", index=False, encoding="utf-8-sig")
    out = tmp_path / "studio.pfif.xml"
    assert main(["pfif", "export", "--residents", str(tmp_path / "residents.csv"), "--missing",
                 str(tmp_path / "missing.csv"), "--matches", str(tmp_path / "reviewed.csv"),
                 "--domain", DOMAIN, "-o", str(out)]) == 0
    xml = out.read_text(encoding="utf-8")
    assert check_pfif_14(xml) == []
    assert "13900001111" not in xml and "family@example.cn" not in xml  # families' contacts stay home
    notes = re.findall(r"<pfif:linked_person_record_id>([^<]+)<", xml)
    assert notes == [f"{DOMAIN}/missing.AH-88"]  # the unsure pair is not a lead
    assert "3 residents, 2 reports, 1 confirmed matches" in capsys.readouterr().err

    # a candidate list (no decisions) is refused rather than exported as leads
    pd.DataFrame({"resident_id": ["ZZ2024-0031"], "missing_id": ["AH-88"]}).to_csv(tmp_path / "cands.csv", index=False)
    assert main(["pfif", "export", "--residents", str(tmp_path / "residents.csv"), "--matches",
                 str(tmp_path / "cands.csv"), "--domain", DOMAIN, "-o", str(tmp_path / "x.xml")]) == 2
    assert "reviewed matches only" in capsys.readouterr().err and not (tmp_path / "x.xml").exists()

    reports = tmp_path / "reports.csv"
    assert main(["pfif", "import", str(out), "-o", str(reports), "--domain", DOMAIN]) == 0
    back = pd.read_csv(reports, dtype=str, encoding="utf-8-sig")
    assert sorted(back["missing_id"]) == ["AH-88", "SC-7"]  # the 3 residents are not reports
    assert "3 rescue-station resident(s) left out" in capsys.readouterr().err
    assert main(["pfif", "import", str(tmp_path / "nope.xml"), "-o", str(reports)]) == 2
