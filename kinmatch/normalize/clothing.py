"""Clothing text → (colour, garment) items, as a family or a station writes what was worn.

A family writes what the person wore when lost ("走失时上身穿咖啡色棉袄，下身穿黑色裤子，脚穿布鞋"),
a station what the resident wore on arrival ("穿棕色棉衣、布鞋", "衣衫褴褛，身穿深色外套"). Both
become a tuple of items ``"<colour>:<garment>"``: the colour word as written (so a reason can show
咖啡色棉袄), blank when not said; the garment as its canonical word (棉衣, 棉服 and 棉袄 are ``棉袄``),
shoes included (``":布鞋"``). :func:`colour_family` puts the colour words in families (咖啡色, 棕色
and 褐色 are all ``棕``; 深色 and 浅色 are ``深`` / ``浅``, which agree with several families, see
:func:`colours_agree`).

    >>> clothing_items("走失时上身穿咖啡色棉袄，下身穿黑色裤子，脚穿布鞋")
    ('咖啡色:棉袄', '黑色:裤子', ':布鞋')
    >>> clothing_items("衣衫褴褛，身穿褐色棉服、黑布鞋")
    ('褐色:棉袄', '黑:布鞋')
    >>> clothing_items("不详")
    ()

Why hand-written: no maintained library parses Chinese garment descriptions; the vocabulary is a
few dozen words, listed here with the class each belongs to.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from kinmatch.normalize.text import clean_text

COLOUR_FAMILIES: dict[str, tuple[str, ...]] = {
    "黑": ("黑色", "黑", "乌黑", "漆黑"),
    "白": ("白色", "白", "米白色", "米白", "乳白色", "米色"),
    "灰": ("灰色", "灰", "深灰色", "深灰", "浅灰色", "浅灰", "银灰色"),
    "蓝": ("蓝色", "蓝", "深蓝色", "深蓝", "浅蓝色", "浅蓝", "藏青色", "藏青", "藏蓝色", "藏蓝", "天蓝色", "湖蓝色"),
    "红": ("红色", "红", "暗红色", "暗红", "大红色", "大红", "酒红色", "枣红色"),
    "绿": ("绿色", "绿", "军绿色", "军绿", "墨绿色", "墨绿", "草绿色", "浅绿色"),
    "棕": ("咖啡色", "咖啡", "棕色", "棕", "褐色", "褐", "驼色", "卡其色", "土黄色"),
    "紫": ("紫色", "紫", "紫红色", "紫红", "深紫色", "深紫"),
    "黄": ("黄色", "黄", "橙色", "橘黄色"),
    "粉": ("粉色", "粉红色", "粉红"),
    "花": ("花色", "碎花", "格子", "条纹"),
    "深": ("深色",),
    "浅": ("浅色",),
}
"""Colour family → the words written for it. 深 and 浅 name no family: see :data:`VAGUE_COLOURS`."""

VAGUE_COLOURS: dict[str, frozenset[str]] = {
    "深": frozenset({"黑", "蓝", "灰", "棕", "紫", "绿", "红"}),
    "浅": frozenset({"白", "灰", "黄", "粉", "蓝", "绿"}),
}
"""深色 / 浅色: the families each agrees with (a dark blue coat is 深色 to another observer)."""

GARMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # canonical: (kind, words)
    "棉袄": ("上", ("棉袄", "棉衣", "棉服", "羽绒服", "羽绒衣", "棉大衣", "大衣", "袄")),
    "外套": ("上", ("外套", "夹克衫", "夹克", "褂子", "风衣", "中山装", "中山服", "旧式外套", "西装")),
    "毛衣": ("上", ("毛衣", "毛线衣", "针织衫", "卫衣")),
    "T恤": ("上", ("T恤", "t恤", "短袖", "半袖", "背心")),
    "衬衫": ("上", ("衬衫", "衬衣")),
    "运动服": ("上", ("运动服", "运动衣", "运动外套")),
    "上衣": ("上", ("上衣", "衣服")),
    "裤子": ("下", ("裤子", "长裤", "裤")),
    "运动裤": ("下", ("运动裤", "休闲裤", "宽松裤")),
    "棉裤": ("下", ("棉裤子", "棉裤", "厚裤子")),
    "牛仔裤": ("下", ("牛仔长裤", "牛仔裤", "仔裤")),
    "短裤": ("下", ("短裤",)),
    "裙子": ("下", ("连衣裙", "裙子", "裙")),
    "布鞋": ("鞋", ("老布鞋", "布鞋")),
    "运动鞋": ("鞋", ("运动鞋", "球鞋", "旅游鞋")),
    "拖鞋": ("鞋", ("拖鞋", "凉拖", "拖板")),
    "皮鞋": ("鞋", ("皮鞋",)),
    "解放鞋": ("鞋", ("军用胶鞋", "解放鞋", "胶鞋")),
    "棉鞋": ("鞋", ("厚棉鞋", "棉鞋", "棉靴")),
    "凉鞋": ("鞋", ("凉鞋",)),
    "鞋": ("鞋", ("鞋子", "鞋")),
}
"""Canonical garment → (kind: 上 top, 下 bottom, 鞋 shoes; the words written for it)."""

GENERIC_GARMENTS = frozenset({"上衣", "裤子", "鞋"})
"""Garment words that agree with any garment of their kind (上衣 is a 外套 to another observer)."""

_COLOUR_OF = {word: family for family, words in COLOUR_FAMILIES.items() for word in words}
_GARMENT_OF = {word: canonical for canonical, (_, words) in GARMENTS.items() for word in words}
_GARMENT_RE = re.compile("|".join(map(re.escape, sorted(_GARMENT_OF, key=len, reverse=True))))
_COLOUR_RE = re.compile("|".join(map(re.escape, sorted(_COLOUR_OF, key=len, reverse=True))))
# a colour belongs to the garment after it only within one clause
_CLAUSE_BREAK = re.compile(r"[、，,；;。/\s和及]|穿|戴")


def colour_family(colour: str) -> str:
    """The family of a colour word (blank for a blank or unknown word).

        >>> colour_family("咖啡色"), colour_family("褐色"), colour_family("深色"), colour_family("")
        ('棕', '棕', '深', '')
    """
    return _COLOUR_OF.get(colour, "")


def garment_kind(garment: str) -> str:
    """上, 下 or 鞋 (blank for an unknown word).

        >>> garment_kind("棉袄"), garment_kind("布鞋")
        ('上', '鞋')
    """
    return GARMENTS.get(garment, ("", ()))[0]


def colours_agree(a: str, b: str) -> bool:
    """Whether two colour families can be the same colour (深 agrees with 黑, 蓝, 灰…).

        >>> colours_agree("棕", "棕"), colours_agree("深", "蓝"), colours_agree("红", "蓝")
        (True, True, False)
    """
    if not a or not b:
        return False
    if a == b:
        return True
    return b in VAGUE_COLOURS.get(a, ()) or a in VAGUE_COLOURS.get(b, ()) or (a in VAGUE_COLOURS and b in VAGUE_COLOURS)


def garments_agree(a: str, b: str) -> bool:
    """Whether two canonical garments can be the same piece: equal, or one generic of the other's kind.

        >>> garments_agree("棉袄", "棉袄"), garments_agree("上衣", "外套"), garments_agree("裤子", "外套")
        (True, True, False)
    """
    if a == b:
        return True
    kind = garment_kind(a)
    return kind != "" and kind == garment_kind(b) and (a in GENERIC_GARMENTS or b in GENERIC_GARMENTS)


@lru_cache(maxsize=50_000)
def clothing_items(text: object) -> tuple[str, ...]:
    """The (colour, garment) items of one clothing text, in written order, each once (see the
    module docstring). Blank, unknown or garment-less text gives ``()``."""
    if not isinstance(text, str) or not text.strip():
        return ()
    text = clean_text(text)
    items, start = [], 0
    for match in _GARMENT_RE.finditer(text):
        before = text[start:match.start()]
        breaks = list(_CLAUSE_BREAK.finditer(before))
        clause = before[breaks[-1].end():] if breaks else before
        colours = _COLOUR_RE.findall(clause)
        colour = colours[-1] if colours else ""
        items.append(f"{colour}:{_GARMENT_OF[match.group()]}")
        start = match.end()
    return tuple(dict.fromkeys(items))


def parse_clothing(values: pd.Series) -> pd.Series:
    """:func:`clothing_items` of a column, each distinct text parsed once; tuples shared among
    rows of one value (the contract's ``texts`` kind)."""
    values = pd.Series(values, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:] = [clothing_items(v) for v in uniques] + [()]  # element-wise: tuples stay cells
    return pd.Series(table[codes], index=values.index, dtype=object)  # code -1 (blank) takes ()


def parse_item(item: str) -> tuple[str, str]:
    """An item's colour word and canonical garment.

        >>> parse_item("咖啡色:棉袄"), parse_item(":布鞋")
        (('咖啡色', '棉袄'), ('', '布鞋'))
    """
    colour, _, garment = item.partition(":")
    return colour, garment
