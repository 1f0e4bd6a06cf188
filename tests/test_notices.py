"""Notice rendering: golden files per format, the text budget, templates, the letter, the PDF."""

import datetime as dt
import doctest
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import kinmatch.notices
import kinmatch.notices.rendering
from kinmatch.errors import InputError
from kinmatch.notices import TEMPLATE_DIR, NoticeSkipped, render_letter, render_notice

GOLDEN = Path(__file__).parent / "golden"
TODAY = dt.date(2024, 11, 20)
STATIONS = {"郑州市救助管理站": {"address": "河南省郑州市二七区救助路1号", "phone": "0371-66661234"}}

RECORDS = {
    "adult": {
        "resident_id": "ZZ2024-0031", "station": "郑州市救助管理站", "name": "吴春花",
        "name_source": "自报（音）", "sex": "女", "age": "五六十岁", "height": "一米五八",
        "found_date": "2024年10月3日", "found_place": "河南省郑州市二七区大学路12号公交站",
        "accent": "安徽口音", "description": "左眉上方有约2厘米疤痕，右手小指缺失，门牙缺一颗",
        "clothing": "灰色棉袄，黑色裤子，解放鞋", "health": "老年痴呆，记忆力差",
        "statements": "说家在“一渡水”，儿子叫小军", "photo": "photos/ZZ2024-0031.jpg",
        "contact": "0371-66661234",
    },
    "minor": {
        "resident_id": "ZZ2024-0032", "station": "郑州市救助管理站", "name": "郑安",
        "name_source": "站内代名", "sex": "男", "age": "约12岁", "height": "145cm",
        "found_date": "2024-10-05", "found_place": "河南省郑州市金水区花园路88号商场门口",
        "accent": "四川口音", "description": "圆脸，左耳后有黑痣", "clothing": "蓝色校服",
        "health": "智力低下，不会说话", "contact": "0371-66661234",
    },
    "withdrawn": {
        "resident_id": "ZZ2024-0001", "station": "郑州市救助管理站", "name": "胡春花",
        "name_source": "自报", "sex": "女", "age": "约60岁", "found_date": "2024-01-05",
        "photo": "photos/ZZ2024-0001.jpg", "status": "已返乡", "contact": "0371-66661234",
    },
}


def test_docstring_examples():
    for module in (kinmatch.notices, kinmatch.notices.rendering):
        assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("case", sorted(RECORDS))
@pytest.mark.parametrize("fmt", ["txt", "md", "html"])
def test_golden(case, fmt):
    text = render_notice(RECORDS[case], fmt, station_info=STATIONS, today=TODAY)
    path = GOLDEN / f"notice_{case}.{fmt}"
    if os.environ.get("KINMATCH_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["txt", "md", "html"])
def test_notice_content(fmt):
    text = render_notice(RECORDS["adult"], fmt, station_info=STATIONS, today=TODAY)
    for expected in ("吴春花（音）", "女", "约50–69岁", "158厘米", "老年痴呆", "右手小指缺失",
                     "解放鞋", "2024年10月3日", "大学路12号公交站", "郑州市救助管理站",
                     "救助路1号", "0371-66661234"):
        assert expected in text, expected
    # Statements (relatives' names) are not part of a public notice.
    assert "小军" not in text


@pytest.mark.parametrize("source, label", [("自报", "自报"), ("自报（音）", "音"), ("站内代名", "站内代名"),
                                           ("证件", "证件"), ("", "不详")])
def test_name_marked_by_source(source, label):
    text = render_notice({**RECORDS["adult"], "name_source": source}, "txt", today=TODAY)
    assert f"吴春花（{label}）" in text


LONG = "左脸颊有一颗黑痣，右手缺小指，门牙缺两颗，头发花白稀疏，背部有大面积烫伤疤痕，" * 12


@pytest.mark.parametrize("budget", [500, 300, 200])
def test_text_budget_truncates_free_text_keeps_contact(budget):
    record = {**RECORDS["adult"], "description": LONG, "clothing": "灰色棉袄" * 40}
    text = render_notice(record, "txt", station_info=STATIONS, max_chars=budget, today=TODAY)
    assert len(text) <= budget
    assert "…" in text
    assert "0371-66661234" in text and "吴春花" in text and "2024年10月3日" in text


def test_text_budget_leaves_short_notice_alone():
    text = render_notice(RECORDS["adult"], "txt", station_info=STATIONS, today=TODAY)
    assert "…" not in text and len(text) < 500


def test_text_budget_impossible_is_skipped(tmp_path):
    (tmp_path / "notice.txt.j2").write_text("寻亲" * 300 + "{{ station.phone }}", encoding="utf-8")
    with pytest.raises(NoticeSkipped) as caught:
        render_notice(RECORDS["adult"], "txt", template_dir=tmp_path)
    assert caught.value.reason == "over_budget"


def test_station_template_folder_overrides_one_template(tmp_path):
    (tmp_path / "notice.txt.j2").write_text("{{ station.name }}寻亲：{{ name_display }} "
                                            "电话{{ station.phone }}", encoding="utf-8")
    text = render_notice(RECORDS["adult"], "txt", template_dir=tmp_path)
    assert text == "郑州市救助管理站寻亲：吴春花（音） 电话0371-66661234"
    # Formats the station did not override come from kinmatch.
    assert "<table>" in render_notice(RECORDS["adult"], "html", template_dir=tmp_path)


def test_missing_template_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        render_notice(RECORDS["adult"], "txt", template_dir=tmp_path / "nope")


def test_html_escapes_record_text():
    text = render_notice({**RECORDS["adult"], "clothing": "<script>alert(1)</script>"}, "html")
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_too_empty_record_is_skipped():
    with pytest.raises(NoticeSkipped) as caught:
        render_notice({"resident_id": "X", "sex": "男", "contact": "0371-66661234"}, "txt")
    assert caught.value.reason == "too_empty"


def test_default_templates_are_the_repository_folder():
    assert (TEMPLATE_DIR / "notice.txt.j2").is_file()
    repo_notices = Path(__file__).parent.parent / "notices"
    assert (repo_notices / "notice.txt.j2").read_bytes() == (TEMPLATE_DIR / "notice.txt.j2").read_bytes()


# ---------------------------------------------------------------- letter

@pytest.mark.parametrize("fmt", ["md", "txt"])
def test_match_lead_letter(fmt):
    report = {"missing_id": "AH-2019-88", "name": "胡春花", "sex": "女", "birth_date": "1962",
              "hometown": "安徽省黄山市歙县", "contact": "13900001111", "source": "公安"}
    letter = render_letter(RECORDS["adult"], report, "姓名方言音近(吴/胡) +5.2; 年龄相符 +1.8",
                           fmt=fmt, station_info=STATIONS, match_probability=0.87,
                           reviewer="张工", police_unit="郑州市公安局二七分局", today=TODAY)
    for expected in ("比对线索函", "郑州市公安局二七分局", "DNA", "ZZ2024-0031", "AH-2019-88",
                     "吴春花", "胡春花", "安徽省黄山市歙县", "姓名方言音近(吴/胡) +5.2",
                     "年龄相符 +1.8", "87%", "张工", "0371-66661234", "2024年11月20日"):
        assert expected in letter, expected
    assert "13900001111" not in letter
    with_contact = render_letter(RECORDS["adult"], report, "", fmt=fmt, include_family_contact=True)
    assert "13900001111" in with_contact and "未附比对说明" in with_contact


# ---------------------------------------------------------------- PDF poster

def _photo(tmp_path):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (300, 400), (220, 225, 235))
    draw = ImageDraw.Draw(image)
    draw.ellipse((100, 60, 200, 170), fill=(180, 150, 130))
    draw.rectangle((70, 180, 230, 400), fill=(60, 80, 120))
    (tmp_path / "photos").mkdir()
    image.save(tmp_path / "photos" / "ZZ2024-0031.jpg")


def _pdf_text(data, tmp_path):
    path = tmp_path / "poster.pdf"
    path.write_bytes(data)
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
    pypdf = pytest.importorskip("pypdf", reason="needs pdftotext (poppler-utils) or pypdf")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)


@pytest.fixture
def poster(tmp_path):
    pytest.importorskip("fpdf")
    from kinmatch.notices.poster import FontNotFound, find_cjk_font

    try:
        find_cjk_font()
    except FontNotFound as error:
        pytest.skip(str(error))
    _photo(tmp_path)
    record = {**RECORDS["adult"], "description": LONG}
    return render_notice(record, "pdf", station_info=STATIONS, today=TODAY, photo_dir=tmp_path)


def test_pdf_poster_contains_the_fields(poster, tmp_path):
    assert poster.startswith(b"%PDF")
    text = _pdf_text(poster, tmp_path).replace(" ", "")
    for expected in ("寻亲公告", "吴春花（音）", "约50–69岁", "158厘米", "老年痴呆", "灰色棉袄",
                     "2024年10月3日", "郑州市救助管理站", "救助路1号", "0371-66661234"):
        assert expected in text, expected


def test_pdf_poster_is_one_page_and_not_blank(poster, tmp_path):
    """Page 1 as PNG has ink (text and photo) spread over the page, and there is only one page.

    What a person looks for on the poster is checked by
    :func:`test_pdf_poster_has_every_glyph_and_stays_inside_the_margins`: no tofu boxes (every
    drawn character is in the font's cmap) and no ink outside the margins. Here: the page is
    not blank, the title is near the top and the contact block low on the page.
    """
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) not installed")
    from PIL import Image

    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(poster)
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1
    image = Image.open(pages[0]).convert("L")
    width, height = image.size
    dark = [(x, y) for y in range(0, height, 2) for x in range(0, width, 2)
            if image.getpixel((x, y)) < 200]
    assert len(dark) > 500
    ys = [y for _, y in dark]
    assert min(ys) < height * 0.15 and max(ys) > height * 0.6  # title at top, contact low


def test_missing_font_error_names_the_package(monkeypatch):
    from kinmatch.notices import poster

    poster.find_cjk_font.cache_clear()
    monkeypatch.setattr(poster, "FONT_CANDIDATES", ())
    monkeypatch.delenv(poster.FONT_ENV, raising=False)
    try:
        with pytest.raises(poster.FontNotFound, match="fonts-wqy-microhei"):
            poster.find_cjk_font()
        monkeypatch.setenv(poster.FONT_ENV, "/nonexistent/font.ttc")
        with pytest.raises(poster.FontNotFound, match="KINMATCH_FONT"):
            poster.find_cjk_font()
    finally:
        poster.find_cjk_font.cache_clear()


# ---------------------------------------------------------------- the poster looked at as an image

def _cmap(font_path):
    from fontTools.ttLib import TTFont

    with TTFont(font_path, fontNumber=0, lazy=True) as font:
        return set(font.getBestCmap())


def _drawn_chars(record):
    """The characters the poster draws: its public text without the layout markers."""
    from kinmatch.notices.context import notice_context
    from kinmatch.notices.rendering import public_text

    text = public_text(notice_context(record, STATIONS, today=TODAY), "pdf")
    return {ch for ch in text.replace("[photo]", "") if not ch.isspace()}


POSTER_CASES = {
    "adult-long": RECORDS["adult"] | {"description": LONG},
    "minor": RECORDS["minor"],
    "rare-in-font": RECORDS["adult"] | {"name": "王堃", "description": "喆字纹身，戴玥字项链"},
    "unbroken-latin": RECORDS["adult"] | {"clothing": "X" * 160, "accent": "ABCDEFGHIJ" * 12},
    "long-place": RECORDS["adult"] | {"found_place": "河南省郑州市二七区" + "大学路南段" * 30},
}


@pytest.fixture(scope="module")
def poster_batch(tmp_path_factory):
    """The posters of POSTER_CASES rendered as one batch (as the demo does: one font subset, a
    few seconds in all instead of about 5 s per poster), and the font they actually use."""
    pytest.importorskip("fpdf")
    import pandas as pd

    from kinmatch.notices.batch import _batch_font, render_notices
    from kinmatch.notices.context import notice_context
    from kinmatch.notices.poster import FontNotFound, find_cjk_font
    from kinmatch.notices.rendering import environment

    try:
        find_cjk_font()
    except FontNotFound as error:
        pytest.skip(str(error))
    folder = tmp_path_factory.mktemp("posters")
    _photo(folder)
    records = pd.DataFrame([{**r, "resident_id": key} for key, r in POSTER_CASES.items()])
    table = render_notices(records, "pdf", station_info=STATIONS, today=TODAY, photo_dir=folder)
    contexts = [(notice_context(r, STATIONS, today=TODAY), None) for r in records.to_dict("records")]
    font = _batch_font(contexts, environment(), ["pdf"])
    assert font is not None  # a batch this size uses a subset: that is the font to check
    return table.set_index("resident_id")["text"].to_dict(), font


@pytest.mark.parametrize("case", list(POSTER_CASES))
def test_pdf_poster_has_every_glyph_and_stays_inside_the_margins(case, poster_batch, tmp_path):
    """The poster looked at as an image, checked by machine.

    1. No tofu: every character the poster draws has a glyph in the font actually used (the
       batch's font subset; its cmap read with fontTools); a missing glyph prints as an empty box.
    2. Nothing overflows: page 1 rendered by ``pdftoppm -r 40 -png`` has all its ink (pixels
       darker than near-white) inside the page margins (18 mm, less 2 px for anti-aliasing), and
       the poster is one page.
    """
    posters, font = poster_batch
    data = posters[case]
    assert isinstance(data, bytes), data
    missing = sorted(ch for ch in _drawn_chars(POSTER_CASES[case]) if ord(ch) not in _cmap(font))
    assert missing == [], f"no glyph in {font} for {missing}: the poster would print tofu"

    left, top, right, bottom, width, height, margin = _ink_box(data, tmp_path)
    assert left >= margin and top >= margin, (left, top, margin)
    assert right <= width - margin and bottom <= height - margin, (right, bottom, margin)


def _ink_box(data, tmp_path):
    """Page 1 of the PDF at 40 dpi: its ink's bounding box, the page size and the margin (px)."""
    from PIL import Image

    from kinmatch.notices.poster import _MARGIN

    if not shutil.which("pdftoppm"):
        if os.environ.get("CI"):
            pytest.fail("pdftoppm (poppler-utils) is required in CI for the poster image check")
        pytest.skip("pdftoppm (poppler-utils) not installed: poster image check not run")
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1, f"{len(pages)} pages"
    image = Image.open(pages[0]).convert("L")
    ink = image.point(lambda v: 255 if v < 235 else 0).getbbox()
    assert ink is not None, "blank page"
    margin = _MARGIN / 25.4 * 40 - 2  # mm -> px at 40 dpi, less anti-aliasing slack
    return (*ink, *image.size, margin)


def test_ink_check_sees_text_in_the_margin(tmp_path):
    # The check above must be able to fail: text drawn 5 mm from the left edge is caught.
    fpdf = pytest.importorskip("fpdf")
    document = fpdf.FPDF(format="A4", unit="mm")
    document.add_page()
    document.set_font("helvetica", size=14)
    document.text(5, 100, "OVERFLOW")
    left, *_rest, margin = _ink_box(bytes(document.output()), tmp_path)
    assert left < margin


@pytest.mark.parametrize("name, char", [("刘䶮", "䶮"), ("𠮷祥", "𠮷")])
def test_pdf_poster_with_a_character_the_font_lacks_is_skipped_not_tofu(name, char):
    pytest.importorskip("fpdf")
    from kinmatch.notices.poster import FontNotFound, find_cjk_font

    try:
        font = find_cjk_font()
    except FontNotFound as error:
        pytest.skip(str(error))
    if ord(char) in _cmap(font):
        pytest.skip(f"{font} has {char}: nothing to check")
    record = RECORDS["adult"] | {"name": name}
    with pytest.raises(NoticeSkipped) as caught:
        render_notice(record, "pdf", station_info=STATIONS, today=TODAY)
    assert caught.value.reason == "missing_glyphs"
    assert char in str(caught.value) and "KINMATCH_FONT" in str(caught.value)
    assert name in render_notice(record, "txt", station_info=STATIONS, today=TODAY)
