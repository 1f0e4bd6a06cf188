"""Hostile residents: private values written every way people (or attackers) write them, in every
free-text field, must not survive into any format of a public notice (txt, md, html, pdf).

The oracles here are the test's own, written independently of :mod:`kinmatch.notices.screen`:
a table of numeral systems, a plain canonical form, and the plain facts to look for (a 7-digit
window of the secret number, the core of the diagnosis, a street unit in a minor's notice).
"""

import re
import shutil
import subprocess
import unicodedata

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinmatch.notices import NoticeSkipped, PrivacyError, render_notice, render_notices

PHONE = "0371-66661234"
STATION = {"郑州市救助管理站": {"address": "河南省郑州市二七区救助路1号", "phone": PHONE}}
BASE = {"resident_id": "R1", "station": "郑州市救助管理站", "sex": "男", "age": "约12岁",
        "height": "145cm", "health": "智力低下", "found_date": "2024-10-05", "contact": PHONE}
FIELDS = ("name", "description", "clothing", "accent", "found_place")
FORMATS = ("txt", "md", "html")

# ---------------------------------------------------------------- the test's own oracles

_SYSTEMS = {
    "ascii": "0123456789",
    "full": "０１２３４５６７８９",
    "chinese": "〇一二三四五六七八九",
    "financial": "零壹贰叁肆伍陆柒捌玖",
    "traditional": "零壹貳參肆伍陸柒捌玖",
    "circled": "⓪①②③④⑤⑥⑦⑧⑨",
    "arabic": "٠١٢٣٤٥٦٧٨٩",
    "spoken": "洞幺两三四五六七八九",
}
_TO_DIGIT = {ch: str(i) for digits in _SYSTEMS.values() for i, ch in enumerate(digits)}
_STREET_UNITS = ("路", "街", "巷", "号", "弄", "栋", "单元", "室", "小区")
_TRADITIONAL = str.maketrans({"愛": "爱", "滋": "滋", "診": "诊", "斷": "断", "梅": "梅", "病": "病",
                              "精": "精", "神": "神", "分": "分", "裂": "裂", "淋": "淋"})


def plain(text):
    """Letters and digits only, lowercased, every numeral system read as 0-9."""
    out = []
    for ch in unicodedata.normalize("NFKC", text).translate(_TRADITIONAL):
        if ch in _TO_DIGIT:
            out.append(_TO_DIGIT[ch])
        elif ch.isalnum():
            out.append(ch.lower())
    return "".join(out)


def digit_projection(text):
    return "".join(ch for ch in plain(text) if ch.isdigit())


def leaks(text, secret, public_parts):
    """What of ``secret`` (kind, core) survives in ``text`` once the public parts are removed."""
    kind, core = secret
    for part in public_parts:
        text = text.replace(part, " ")
    text = _GENERATED.sub(" ", text)
    if kind == "number":
        projection = digit_projection(text)
        return [core[i:i + 7] for i in range(len(core) - 6) if core[i:i + 7] in projection]
    if kind == "diagnosis":
        return [core] if core in plain(text) else []
    if kind == "street":
        return [unit for unit in _STREET_UNITS if unit in plain(text)]
    raise ValueError(kind)


def public_parts(record):
    """Text a notice may show although digits or street units are in it: the station's phone and
    address, and the structured values the notice generates (age, height, dates)."""
    return [PHONE, "河南省郑州市二七区救助路1号", "0371\\-66661234"]


# The shapes of the values a notice generates itself (约9–15岁, 145厘米, 2024年10月5日): the
# secrets of this file are never written in these shapes, so removing them hides no leak.
_GENERATED = re.compile(r"约?\d+(?:–\d+)?岁|约?\d+厘米|\d{4}年\d{1,2}月(?:\d{1,2}日)?")


# ---------------------------------------------------------------- the probes of issue 17

PROBES = [
    # numbers: split by punctuation, zero-width and no-break spaces, words, other numeral systems
    ("comma", "家属电话138，1234，5678", ("number", "13812345678")),
    ("ideographic comma", "138、1234、5678", ("number", "13812345678")),
    ("underscore", "138_1234_5678", ("number", "13812345678")),
    ("tilde", "138~1234~5678", ("number", "13812345678")),
    ("zero-width", "儿子1\u200b3\u200b8\u200b1234\u200c5678", ("number", "13812345678")),
    ("nbsp", "138\u00a01234\u00a05678", ("number", "13812345678")),
    ("words", "138加1234加5678", ("number", "13812345678")),
    ("two-char words", "138再加1234再加5678", ("number", "13812345678")),
    ("financial", "壹叁捌壹贰叁肆伍陆柒捌", ("number", "13812345678")),
    ("traditional financial", "壹參捌壹貳參肆伍陸柒捌", ("number", "13812345678")),
    ("chinese", "一三八一二三四五六七八", ("number", "13812345678")),
    ("circled", "①③⑧①②③④⑤⑥⑦⑧", ("number", "13812345678")),
    ("full-width", "１３８ １２３４ ５６７８", ("number", "13812345678")),
    ("mixed", "1叁8，一2３4、⑤陆７八", ("number", "13812345678")),
    ("id number", "身份证号码：41010219900307123X", ("number", "41010219900307123")),
    ("id split", "4101 0219 9003 0712 3X", ("number", "41010219900307123")),
    ("spoken", "幺三八 幺两三四 五六七八", ("number", "13812345678")),
    # diagnoses: abbreviations, variants, spaced out
    ("aids", "有AIDS", ("diagnosis", "aids")),
    ("aids spaced", "A I D S患者", ("diagnosis", "aids")),
    ("aizi", "艾滋病", ("diagnosis", "艾滋")),
    ("aizi variant", "爱滋病", ("diagnosis", "爱滋")),
    ("aizi traditional", "愛滋病", ("diagnosis", "爱滋")),
    ("hiv spaced", "H I V阳性", ("diagnosis", "hiv")),
    ("hiv full-width", "ＨＩＶ携带", ("diagnosis", "hiv")),
    ("syphilis spaced", "梅 毒", ("diagnosis", "梅毒")),
    ("syphilis zero-width", "梅\u200b毒", ("diagnosis", "梅毒")),
    ("gonorrhoea", "淋病", ("diagnosis", "淋病")),
    ("tp", "TP阳性", ("diagnosis", "tp阳性")),
    ("hepatitis", "乙肝小三阳", ("diagnosis", "乙肝")),
    ("jingfen", "精分", ("diagnosis", "精分")),
    ("psychosis", "有精神病", ("diagnosis", "精神病")),
    ("schizophrenia spaced", "精 神 分 裂", ("diagnosis", "精神分裂")),
    # a minor's street address without a cue word, on a label, spaced, numerals spelt out
    ("street found", "在金水区文化路88号门口被发现", ("street", "")),
    ("street home", "说家是文化路88号", ("street", "")),
    ("street label", "衣服标签上写着文化路88号", ("street", "")),
    ("street spaced", "文 化 路 8 8 号", ("street", "")),
    ("street numerals", "家在幸福巷十二号", ("street", "")),
    ("estate", "住阳光小区5栋2单元401室", ("street", "")),
    ("lane", "弄堂里，长乐路一百弄", ("street", "")),
]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("label, text, secret", PROBES, ids=[p[0] for p in PROBES])
def test_probe_leaks_into_no_text_format(label, text, secret, field):
    record = {**BASE, field: text}
    for fmt in FORMATS:
        try:
            rendered = render_notice(record, fmt, station_info=STATION)
        except (NoticeSkipped, PrivacyError):
            continue
        assert leaks(rendered, secret, public_parts(record)) == [], (fmt, rendered)


def test_probes_rendered_not_skipped():
    # The probes above must not pass only because their notices are skipped: the filter leaves
    # the unsure part out and the notice is published.
    rendered = 0
    for _label, text, _secret in PROBES:
        for field in FIELDS:
            try:
                render_notice({**BASE, field: text}, "txt", station_info=STATION)
                rendered += 1
            except (NoticeSkipped, PrivacyError):
                pass
    assert rendered == len(PROBES) * len(FIELDS)


def test_oracle_can_fail():
    # The oracles see the leaks they are meant to see.
    assert leaks("电话壹叁捌，1234、⑤陆７八", ("number", "13812345678"), []) != []
    assert leaks("有 Ａ Ｉ Ｄ Ｓ", ("diagnosis", "aids"), []) != []
    assert leaks("家在文化路", ("street", ""), []) != []


# ---------------------------------------------------------------- generated leaks

_SEPARATORS = ["，", "、", "_", "~", " ", "\u00a0", "\u200b", "\u200c", "\u2060", "\ufeff", "-", ".",
               "加", "再加", "\u3000", "/", "（", "）"]


@st.composite
def obfuscated_number(draw):
    core = draw(st.sampled_from(["1", "0"])) + draw(st.text("0123456789", min_size=10, max_size=17))
    out = []
    for digit in core:
        system = draw(st.sampled_from(sorted(_SYSTEMS)))
        out.append(_SYSTEMS[system][int(digit)])
        if draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from(_SEPARATORS)))
    return "".join(out), ("number", core)


_DIAGNOSES = [("aids", "AIDS"), ("hiv", "HIV"), ("艾滋", "艾滋病"), ("爱滋", "爱滋病"), ("爱滋", "愛滋病"),
              ("梅毒", "梅毒"), ("淋病", "淋病"), ("tp阳性", "TP阳性"), ("乙肝", "乙肝"), ("精分", "精分"),
              ("精神病", "精神病"), ("精神分裂", "精神分裂症")]
_WORD_SEPARATORS = [" ", "\u00a0", "\u200b", "\u200d", "\u3000", "·", "-", "_", "  "]


def _full_width(text):
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@st.composite
def obfuscated_diagnosis(draw):
    core, word = draw(st.sampled_from(_DIAGNOSES))
    if draw(st.booleans()):
        word = _full_width(word)
    if draw(st.booleans()):
        word = word.lower() if draw(st.booleans()) else word.swapcase()
    separator = draw(st.sampled_from(_WORD_SEPARATORS))
    if draw(st.booleans()):
        word = separator.join(word)
    return word, ("diagnosis", core)


_STREETS = ["文化路", "人民街", "幸福巷", "长乐路", "建设大道", "阳光小区", "解放路"]
_UNITS = ["号", "号院", "弄", "栋", "单元", "室", "号楼"]


@st.composite
def obfuscated_street(draw):
    number = str(draw(st.integers(1, 999)))
    system = draw(st.sampled_from(sorted(_SYSTEMS)))
    number = "".join(_SYSTEMS[system][int(d)] for d in number)
    text = draw(st.sampled_from(_STREETS)) + number + draw(st.sampled_from(_UNITS))
    separator = draw(st.sampled_from(_WORD_SEPARATORS + [""]))
    return separator.join(text) if separator else text, ("street", "")


_PREFIXES = ["", "左脸有痣，", "说家是", "在金水区", "衣服标签上写着", "儿子", "蓝色上衣，", "自述"]
_SUFFIXES = ["", "门口被发现", "，右手缺小指", "。", "，会写自己名字"]


@st.composite
def hostile_record(draw):
    secret_text, secret = draw(st.one_of(obfuscated_number(), obfuscated_diagnosis(),
                                         obfuscated_street()))
    fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
    record = dict(BASE)
    record["age"] = draw(st.sampled_from(["约12岁", "", "15岁"]))
    for field in fields:
        record[field] = draw(st.sampled_from(_PREFIXES)) + secret_text + draw(st.sampled_from(_SUFFIXES))
    return record, secret


def _pdf_text(data, tmp_path):
    path = tmp_path / "notice.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def pdf_ready():
    pytest.importorskip("fpdf")
    from kinmatch.notices.poster import FontNotFound, find_cjk_font

    try:
        find_cjk_font()
    except FontNotFound as error:
        pytest.skip(str(error))
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")


def test_generated_leaks_survive_in_no_format(pdf_ready, tmp_path_factory):
    """Batches of hostile records, rendered in every format (PDF read back with pdftotext)."""
    counts = {"notices": 0, "rendered": 0}

    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batch=st.lists(hostile_record(), min_size=4, max_size=6))
    def prop(batch):
        tmp_path = tmp_path_factory.mktemp("pdf")
        frame = pd.DataFrame([{**record, "resident_id": f"H{i}"} for i, (record, _) in enumerate(batch)])
        table = render_notices(frame, "txt,md,html,pdf", station_info=STATION)
        secrets = {f"H{i}": secret for i, (_, secret) in enumerate(batch)}
        records = {f"H{i}": record for i, (record, _) in enumerate(batch)}
        for row in table.itertuples(index=False):
            counts["notices"] += 1
            if row.text is None:
                continue
            counts["rendered"] += 1
            text = _pdf_text(row.text, tmp_path) if row.format == "pdf" else row.text
            secret = secrets[row.resident_id]
            if secret[0] == "street" and records[row.resident_id]["age"] not in ("约12岁", "15岁", ""):
                continue
            assert leaks(text, secret, public_parts(records[row.resident_id])) == [], (row.format, text)

    prop()
    assert counts["rendered"] >= 0.8 * counts["notices"], counts


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(obfuscated_number(), obfuscated_diagnosis(), obfuscated_street()),
       st.sampled_from(_PREFIXES), st.sampled_from(_SUFFIXES))
def test_filter_keeps_nothing_it_should_catch(secret, prefix, suffix):
    """The filter itself, over many more examples than the rendering test can afford."""
    from kinmatch.notices.screen import filter_free_text

    text, (kind, core) = secret
    kept, reasons = filter_free_text(prefix + text + suffix, minor=True)
    assert leaks(kept, (kind, core), []) == []
    assert reasons  # never silently


@pytest.mark.parametrize("text, expected", [
    ("壹贰叁肆伍陆柒捌玖零", "1234567890"), ("〇一二三四五六七八九", "0123456789"),
    ("①②③④⑤⑥⑦⑧⑨⓪", "1234567890"), ("１２３", "123"), ("١٢٣", "123"), ("幺两", "12"),
    ("1\u200b2\u00a03\u30004_5~6、7，8", "12345678"), ("H I V", "hiv"), ("愛滋", "爱滋"),
])
def test_canonical_form(text, expected):
    from kinmatch.notices.screen import canonical

    assert canonical(text) == expected


# ---------------------------------------------------------------- the batch and its report

def test_withheld_parts_are_counted_and_never_quoted(tmp_path, capsys):
    from kinmatch.cli import main

    source = tmp_path / "residents.csv"
    pd.DataFrame([{**BASE, "resident_id": "R1", "description": "左脸有痣，家属138加1234加5678",
                   "clothing": "蓝色校服，标签写着文化路88号"},
                  {**BASE, "resident_id": "R2", "age": "约60岁", "description": "H I V阳性，瘦"}]
                 ).to_csv(source, index=False)
    out = tmp_path / "public"
    assert main(["notices", str(source), "-o", str(out), "--format", "txt"]) == 0
    printed = capsys.readouterr().out
    assert "left out 3 part(s)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["R1.txt", "R2.txt"]  # nothing else published
    report = (tmp_path / "public-skipped.csv").read_text(encoding="utf-8-sig")
    assert "notice_withheld_long_number" in report and "notice_withheld_street_address" in report
    assert "notice_withheld_diagnosis" in report
    for private in ("1234", "5678", "文化路", "H I V", "HIV", "阳性"):
        assert private not in report
    assert "左脸有痣" in (out / "R1.txt").read_text(encoding="utf-8")


def test_privacy_skip_message_does_not_quote_the_value(tmp_path):
    from kinmatch.issues import IssueLog

    (tmp_path / "notice.txt.j2").write_text("家属13812345678 {{ name_display }} {{ station.phone }}",
                                            encoding="utf-8")
    log = IssueLog()
    frame = pd.DataFrame([{**BASE, "name": "李伟"}])
    table = render_notices(frame, "txt", station_info=STATION, template_dir=tmp_path, issues=log)
    assert table["skipped"].tolist() == ["privacy"]
    assert "13812345678" not in log.to_frame().to_csv()


# ---------------------------------------------------------------- photos

def _image(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (60, 80), (200, 150, 120)).save(path)


def test_broken_photo_does_not_abort_the_pdf_batch(pdf_ready, tmp_path, capsys):
    from kinmatch.cli import main

    photos = tmp_path / "photos"
    _image(photos / "good.jpg")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    source = tmp_path / "residents.csv"
    pd.DataFrame([{**BASE, "resident_id": "R1", "photo": "broken.jpg"},
                  {**BASE, "resident_id": "R2", "photo": "good.jpg"}]).to_csv(source, index=False)
    out = tmp_path / "out"
    assert main(["notices", str(source), "-o", str(out), "--format", "txt,pdf",
                 "--photos", str(photos)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["R1.pdf", "R1.txt", "R2.pdf", "R2.txt"]
    assert "1 poster(s) written without their photo" in capsys.readouterr().out
    report = (tmp_path / "out-skipped.csv").read_text(encoding="utf-8-sig")
    assert "notice_photo_unreadable" in report and "R1" in report
    assert "照片见站内档案" in _pdf_text((out / "R1.pdf").read_bytes(), tmp_path)
    assert "照片见站内档案" not in _pdf_text((out / "R2.pdf").read_bytes(), tmp_path)


@pytest.mark.parametrize("photo", ["/etc/hostname", "../outside.jpg", "sub/../../outside.jpg",
                                   "link.jpg"])
def test_poster_embeds_only_photos_inside_the_folder(pdf_ready, tmp_path, photo):
    from kinmatch.notices.context import notice_context
    from kinmatch.notices.rendering import render_context

    photos = tmp_path / "photos"
    _image(tmp_path / "outside.jpg")
    photos.mkdir()
    (photos / "sub").mkdir()
    (photos / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    problems = []
    context = notice_context({**BASE, "photo": photo}, STATION)
    context["photo"] = photo  # as if the record's path had passed the text filter
    data = render_context(context, "pdf", photo_dir=photos, problems=problems)
    assert problems == ["photo_outside_folder"]
    assert b"/Subtype /Image" not in data and "照片见站内档案" in _pdf_text(data, tmp_path)


def test_poster_embeds_a_photo_inside_the_folder(pdf_ready, tmp_path):
    from kinmatch.notices.context import notice_context
    from kinmatch.notices.rendering import render_context

    _image(tmp_path / "photos" / "R1.jpg")
    problems = []
    data = render_context(notice_context({**BASE, "photo": "R1.jpg"}, STATION), "pdf",
                          photo_dir=tmp_path / "photos", problems=problems)
    assert problems == [] and b"/Subtype /Image" in data


def test_poster_does_not_import_rendering():
    # rendering imports poster (to lay out the PDF); poster, at any level, must not import
    # rendering back (the shared exception lives in kinmatch.notices.errors).
    import ast
    from pathlib import Path

    import kinmatch.notices.poster

    tree = ast.parse(Path(kinmatch.notices.poster.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "kinmatch.notices.rendering" not in imported


def test_probes_leak_into_no_pdf_poster(pdf_ready, tmp_path):
    """Every probe of issue 17 once, in turn in each free-text field, as one batch of posters
    read back with pdftotext."""
    records = [{**BASE, "resident_id": f"P{i}", FIELDS[i % len(FIELDS)]: text}
               for i, (_label, text, _secret) in enumerate(PROBES)]
    table = render_notices(pd.DataFrame(records), "pdf", station_info=STATION)
    assert table["skipped"].isna().all(), table["skipped"].value_counts()
    for record, (label, _text, secret), data in zip(records, PROBES, table["text"], strict=True):
        text = _pdf_text(data, tmp_path)
        assert "寻亲公告" in text
        assert leaks(text, secret, public_parts(record)) == [], (label, text)
