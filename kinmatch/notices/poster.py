"""The printable A4 poster (PDF) of a notice, laid out with fpdf2.

The words come from the ``notice.pdf.j2`` template (already checked by the privacy guard); this
module only lays them out: a title, the photo (a framed "照片见站内档案" when the photo file or URL
cannot be read offline; nothing when the record has no photo), a table of fields, and a boxed
contact block. Free text is shortened before layout (``POSTER_BUDGET``) so the poster is one page.

Chinese text needs a CJK font. It is looked up in this order: the ``KINMATCH_FONT`` environment
variable (a .ttf/.ttc/.otf path), then common system locations of WenQuanYi Micro Hei
(Debian package ``fonts-wqy-microhei``) and Noto Sans CJK (``fonts-noto-cjk``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path

from kinmatch.errors import KinmatchError
from kinmatch.notices.errors import NoticeSkipped

FONT_ENV = "KINMATCH_FONT"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)

_A4_W, _MARGIN = 210.0, 18.0
_LABEL_W = 34.0
_PHOTO_W, _PHOTO_H = 60.0, 80.0


class FontNotFound(KinmatchError):
    """No CJK font: a Chinese poster cannot be drawn."""


@functools.lru_cache(maxsize=None)
def find_cjk_font() -> str:
    """Path of a font that has Chinese glyphs, or :class:`FontNotFound` saying what to install."""
    env = os.environ.get(FONT_ENV)
    if env:
        if Path(env).is_file():
            return env
        raise FontNotFound(f"{FONT_ENV}={env!r} is not a file; point it at a .ttf/.ttc font "
                           "with Chinese glyphs, or unset it")
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise FontNotFound(
        "no Chinese (CJK) font found, so the PDF poster cannot be drawn; install one "
        "(Debian/Ubuntu: `apt-get install fonts-wqy-microhei`, or fonts-noto-cjk) or set "
        f"{FONT_ENV} to the path of a .ttf/.ttc font with Chinese glyphs"
    )


_PLACEHOLDER = "照片见站内档案"


def subset_font(chars: Iterable[str], font: str | None = None) -> str:
    """A copy of the CJK font with only ``chars`` (plus ASCII), written once to a temp folder.

    Parsing the full 5 MB CJK font costs about a second per poster; a batch subsets it once to the
    characters its posters use and each poster then loads the small copy (~0.15 s). Every
    character of the batch is kept, so rare name characters still print.
    """
    import hashlib
    import logging
    import tempfile

    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = font or find_cjk_font()
    wanted = set(chars) | set(_PLACEHOLDER) | {chr(c) for c in range(0x20, 0x7F)}
    key = hashlib.sha1((font + str(os.path.getmtime(font)) + "".join(sorted(wanted))).encode("utf-8"))
    target = Path(tempfile.gettempdir()) / f"kinmatch-font-{key.hexdigest()[:16]}.ttf"
    if target.is_file():
        return str(target)
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    options = subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = []
    with TTFont(font, fontNumber=0) as ttfont:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in wanted])
        subsetter.subset(ttfont)
        partial = target.with_suffix(f".{os.getpid()}.part")
        ttfont.save(str(partial))
    os.replace(partial, target)  # atomic: a parallel batch never loads half a font
    return str(target)


@functools.lru_cache(maxsize=8)
def font_chars(font: str) -> frozenset[int]:
    """The code points ``font`` has glyphs for (its cmap; the first font of a .ttc)."""
    from fontTools.ttLib import TTFont

    with TTFont(font, fontNumber=0, lazy=True) as ttfont:
        return frozenset(ttfont.getBestCmap())


def missing_glyphs(text: str, font: str | None = None) -> list[str]:
    """The characters of ``text`` (spaces aside) that ``font`` cannot draw, in order, once each
    (the example needs the CJK font; WenQuanYi lacks 䶮).

    >>> missing_glyphs("李伟 刘䶮")  # doctest: +SKIP
    ['䶮']
    """
    chars = font_chars(font or find_cjk_font())
    return [ch for ch in dict.fromkeys(text) if not ch.isspace() and ord(ch) not in chars]


def resolve_photo(photo: str | None, photo_dir: str | Path | None) -> tuple[Path | None, str | None]:
    """``(the photo file to embed, or None; a problem code, or None)``.

    Only files inside ``photo_dir`` (``--photos``) are embedded: a record is data, and a path in
    it must not pull any other file of the machine into a public poster. An absolute path, a
    ``..`` that leaves the folder, or a symlink pointing out of it gives ``photo_outside_folder``;
    no ``photo_dir``, a URL (not fetched: the poster is made offline) or a missing file give no
    photo and no problem (the poster shows the "照片见站内档案" frame).

    >>> resolve_photo("/etc/passwd", "/srv/photos")
    (None, 'photo_outside_folder')
    >>> resolve_photo("../secret.jpg", "/srv/photos")
    (None, 'photo_outside_folder')
    """
    if not photo or "://" in photo or photo_dir is None:
        return None, None
    relative = Path(photo)
    if relative.is_absolute() or relative.drive or ".." in relative.parts:
        return None, "photo_outside_folder"
    folder = Path(photo_dir).resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        return None, "photo_outside_folder"
    return (path if path.is_file() else None), None


def poster_pdf(text: str, photo: str | None = None, photo_dir: str | Path | None = None,
               font_path: str | None = None, problems: list[str] | None = None) -> bytes:
    """Lay out the lines of a rendered ``notice.pdf.j2`` on one A4 page; return the PDF bytes.

    ``font_path``: a font to use instead of the system CJK font (e.g. from :func:`subset_font`).
    The photo is embedded only from inside ``photo_dir`` (:func:`resolve_photo`); a photo that is
    refused or cannot be read as an image gets the placeholder frame, and its problem code
    (``photo_outside_folder``, ``photo_unreadable``) is appended to ``problems``: one bad photo
    never costs the poster.
    """
    from fpdf import FPDF

    font = font_path or find_cjk_font()
    missing = missing_glyphs(text.replace("[photo]", ""), font)
    if missing:
        # A missing glyph prints as an empty box (tofu): a poster with a wrong name is worse
        # than none, so this one poster is skipped (the text formats still carry the name).
        shown = "、".join(f"{ch} (U+{ord(ch):04X})" for ch in missing)
        raise NoticeSkipped("missing_glyphs", (
            f"the poster font {Path(find_cjk_font()).name} has no glyph for {shown}, "
            "which would print as empty boxes; install a font that has them (Debian/Ubuntu: "
            f"fonts-noto-cjk-extra, or fonts-hanazono for rare characters) and set {FONT_ENV} "
            "to its path; the txt/md/html notices are not affected"))
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.add_font("cjk", fname=font)
    pdf.add_page()
    width = _A4_W - 2 * _MARGIN
    photo_path, problem = resolve_photo(photo, photo_dir) if photo else (None, None)
    if problem and problems is not None:
        problems.append(problem)
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            pdf.ln(3)
        elif line.startswith("# "):
            pdf.set_font("cjk", size=30)
            pdf.set_text_color(170, 0, 0)
            pdf.cell(width, 16, line[2:].strip(), align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.set_draw_color(170, 0, 0)
            pdf.set_line_width(0.8)
            pdf.line(_MARGIN, pdf.get_y() + 1, _A4_W - _MARGIN, pdf.get_y() + 1)
            pdf.set_text_color(0, 0, 0)
            pdf.ln(5)
        elif line.strip() == "[photo]":
            if photo is None:
                continue  # withdrawn notices and templates without a photo
            x = (_A4_W - _PHOTO_W) / 2
            y = pdf.get_y()
            drawn = False
            if photo_path is not None:
                try:
                    pdf.image(str(photo_path), x=x, y=y, w=_PHOTO_W, h=_PHOTO_H, keep_aspect_ratio=True)
                    drawn = True
                except Exception:  # any broken or unsupported image: the poster gets the frame
                    if problems is not None:
                        problems.append("photo_unreadable")
            if not drawn:
                pdf.set_draw_color(150, 150, 150)
                pdf.set_line_width(0.3)
                pdf.rect(x, y, _PHOTO_W, _PHOTO_H)
                pdf.set_font("cjk", size=11)
                pdf.set_xy(x, y + _PHOTO_H / 2 - 4)
                pdf.cell(_PHOTO_W, 8, _PLACEHOLDER, align="C")
            pdf.set_xy(_MARGIN, y + _PHOTO_H + 5)
        elif line.startswith("- ") and "：" in line:
            label, value = line[2:].split("：", 1)
            pdf.set_font("cjk", size=13)
            pdf.set_draw_color(180, 180, 180)
            pdf.set_line_width(0.2)
            with pdf.table(col_widths=(_LABEL_W, width - _LABEL_W), width=width,
                           first_row_as_headings=False, line_height=7,
                           borders_layout="ALL", text_align=("LEFT", "LEFT")) as table:
                row = table.row()
                row.cell(label.strip())
                row.cell(value.strip())
        elif line.startswith("! "):
            pdf.set_font("cjk", size=15)
            pdf.set_fill_color(255, 240, 240)
            pdf.multi_cell(width, 9, line[2:].strip(), fill=True, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("cjk", size=11)
            pdf.multi_cell(width, 6, line.strip(), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
