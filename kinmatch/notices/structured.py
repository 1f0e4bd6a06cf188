"""Structured, allow-listed readings of a resident's free text, for public notices.

A notice can always show these, because they are built from fixed vocabularies, never copied
from the record: marks as normalized types and body parts (:mod:`kinmatch.normalize.descriptions`),
clothing as normalized colours and garments (the tables below), the accent as a province or a
dialect area (:mod:`kinmatch.normalize.dialects`). The notice shows the record's own wording
instead only where it passed :func:`kinmatch.notices.screen.filter_free_text`.

    >>> public_marks("左脸颊有一颗黑痣，电话13812345678，右手小拇指少一截")
    ['左脸痣', '右手缺小指']
    >>> public_garments("穿灰色棉袄、黑色裤子，解放鞋，衣服上写着文化路88号")
    ['灰色棉袄', '黑色裤子', '解放鞋']
    >>> public_accent("说话带河南口音，电话…")
    '河南口音'
"""

from __future__ import annotations

import re

# Garments, longest first within the table so that 羽绒服 wins over 服. Canonical word first.
GARMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("羽绒服", ("羽绒服", "羽绒衣")), ("棉袄", ("棉袄", "棉衣", "棉服")), ("大衣", ("大衣", "风衣")),
    ("夹克", ("夹克", "茄克")), ("西装", ("西装", "西服")), ("外套", ("外套", "外衣")),
    ("毛衣", ("毛衣", "针织衫", "线衣")), ("卫衣", ("卫衣",)), ("衬衫", ("衬衫", "衬衣")),
    ("T恤", ("T恤", "t恤", "体恤", "短袖")), ("背心", ("背心", "马甲")), ("校服", ("校服",)),
    ("运动服", ("运动服",)), ("睡衣", ("睡衣",)), ("上衣", ("上衣", "长袖")),
    ("牛仔裤", ("牛仔裤",)), ("运动裤", ("运动裤",)), ("短裤", ("短裤",)), ("裤子", ("裤子", "长裤", "裤")),
    ("裙子", ("连衣裙", "裙子", "裙")), ("解放鞋", ("解放鞋",)), ("运动鞋", ("运动鞋", "球鞋")),
    ("布鞋", ("布鞋",)), ("皮鞋", ("皮鞋",)), ("拖鞋", ("拖鞋",)), ("凉鞋", ("凉鞋",)), ("靴子", ("靴子", "靴")),
    ("鞋", ("鞋",)), ("帽子", ("帽子", "帽")), ("围巾", ("围巾",)), ("手套", ("手套",)), ("眼镜", ("眼镜",)),
)
COLOURS = ("黑", "白", "灰", "红", "橙", "黄", "绿", "青", "蓝", "紫", "粉", "棕", "褐", "咖啡", "米",
           "卡其", "藏青", "深蓝", "浅蓝", "深灰", "浅灰", "军绿", "花")
_COLOUR = re.compile("(" + "|".join(sorted(COLOURS, key=len, reverse=True)) + ")色?$")
_SPLIT = re.compile(r"[，,。；;、/\s]+")


def public_marks(text: str | None) -> list[str]:
    """Marks of a description as short phrases from the mark vocabulary (side, part, type).

    Free-form details (a tattoo's written characters) are left out: they are copied words.
    """
    if not text:
        return []
    from kinmatch.normalize.descriptions import Mark, describe_mark, parse_description

    phrases = []
    for mark in parse_description(str(text)).marks:
        plain = Mark(mark.type, mark.part, mark.side, None) if mark.type == "纹身" else mark
        phrases.append(describe_mark(plain))
    return list(dict.fromkeys(phrases))


def public_garments(text: str | None) -> list[str]:
    """Garments of a clothing note with their colour, from :data:`GARMENTS` and :data:`COLOURS`."""
    if not text:
        return []
    found = []
    for part in _SPLIT.split(str(text)):
        for word, spellings in GARMENTS:
            position = next((part.find(s) for s in spellings if s in part), -1)
            if position < 0:
                continue
            colour = _COLOUR.search(part[:position])
            found.append(f"{colour.group(1)}色{word}" if colour else word)
            break
    return list(dict.fromkeys(found))


def public_accent(text: str | None) -> str:
    """``河南口音`` / ``河南、安徽口音`` from the provinces an accent note names, else ''."""
    if not text:
        return ""
    from kinmatch.normalize.dialects import PROVINCES, parse_accent

    provinces = [PROVINCES[code][1] for code in parse_accent(str(text)).provinces if code in PROVINCES]
    return "、".join(provinces[:2]) + "口音" if provinces else ""
