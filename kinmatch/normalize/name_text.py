"""The written form of a personal name: clean it as written, and split it by the surname lexicon.

Both :mod:`kinmatch.normalize.names` (what kind of name it is) and
:mod:`kinmatch.normalize.phonetics` (how it reads) build on these, so they live here, below both::

    >>> clean_name(" 歐陽 建國（音）"), split_name("欧阳建国"), is_surname("欧阳")
    ('欧阳建国', ('', ('欧阳',), '建国'), True)
"""

from __future__ import annotations

import functools
import re

import pandas as pd

from kinmatch.normalize.text import (
    as_text,
    char_default_pinyin,
    collapse_whitespace,
    is_han,
    is_latin_name,
    to_halfwidth,
    to_simplified,
)

__all__ = [
    "MINORITY_SEPARATORS", "MAX_SURNAME_RANK", "COMMON_SURNAME_RANK", "NAME_PREFIXES", "clean_name",
    "surname_readings", "surname_rank", "common_surnames", "is_surname", "split_name", "is_minority",
]

# ---------------------------------------------------------------------------------------------
# cleaning

# Separators people type between the parts of a transliterated minority name.  '·' is the
# standard (GB/T 28039); the others are look-alikes from other keyboards and encodings.
MINORITY_SEPARATORS = "·.・•‧∙⋅･‐-–—_"
_SEP_BETWEEN_HAN = re.compile(rf"(?<=[\u3400-\u9fff])\s*[{re.escape(MINORITY_SEPARATORS)}]+\s*(?=[\u3400-\u9fff])")
_BRACKETED = re.compile(r"\([^()]*\)|【[^【】]*】|\[[^\[\]]*\]|〔[^〔〕]*〕|〈[^〈〉]*〉|《[^《》]*》")
# Words written next to a name to say how it was obtained; they are not part of the name.
_ANNOTATION_SUFFIX = re.compile(r"(音译|谐音|同音|自报|自称|化名|暂名|代名|待核实|待查|等人|等)+$")
_ANNOTATION_PREFIX = re.compile(r"^(自报姓名|自称|自报|名叫|叫做|姓名[:：]?|名字[:：]?)")
_TITLE_SUFFIX = re.compile(r"(先生|女士|小姐|同志|师傅|老师|大夫|医生)$")
_QUOTES_AND_MARKS = re.compile(r"[\"'“”‘’「」『』?？*×□○〇�!！,，;；:：、/\\|]")
_SPACE = re.compile(r"\s+")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# 张三2 / 张三-2: a number a register appends to tell two people of the same name apart.
# Not for 无名1号 or 男1 (a placeholder; kept so that parse_name sees the number).
_DEDUP_NUMBER = re.compile(r"^([\u4e00-\u9fff]{2,}?)[-_#]?\d+$")


def _separators(text: str) -> str:
    # A space between Han runs is a separator only if one run is long (阿卜杜拉 买买提); in 张 三 or
    # 欧阳 娜娜 it is padding typed to align two-character names, so it is dropped.
    runs = [run for run in text.split(" ") if run]
    if len(runs) > 1 and all(is_han(run[0]) and is_han(run[-1]) for run in runs):
        text = ("·" if max(len(run) for run in runs) >= 3 else "").join(runs)
    text = _SEP_BETWEEN_HAN.sub("·", text).strip("".join(MINORITY_SEPARATORS) + " ")
    if "·" in text and len(text) <= 4:
        text = text.replace("·", "")  # 张.三: a stray dot in a Han name, not a transliteration
    return text


def _clean_once(text: str) -> str:
    text = to_simplified(to_halfwidth(text))
    text = _BRACKETED.sub("", text)
    text = text.replace("(", "").replace(")", "")
    text = _QUOTES_AND_MARKS.sub("", text)
    text = collapse_whitespace(text)
    if not text:
        return ""
    if is_latin_name(text):
        # Romanised names: one space between words, each word capitalised (CHAN tai-man → Chan Tai-man).
        words = _SPACE.split(text.replace("·", " ").replace(".", " ").strip())
        return " ".join(word[:1].upper() + word[1:].lower() for word in words if word)
    if _LATIN_WORD.search(text):
        # 张三 Zhang San: the romanisation repeats the Chinese name; keep the Chinese
        text = collapse_whitespace(_LATIN_WORD.sub(" ", text))
    text = _DEDUP_NUMBER.sub(r"\1", text)
    text = _ANNOTATION_PREFIX.sub("", text)
    text = _ANNOTATION_SUFFIX.sub("", text)
    title = _TITLE_SUFFIX.search(text)
    if title and title.start() > 0:  # 王先生 → 王; a bare 先生 stays (a placeholder)
        text = text[: title.start()]
    return _separators(collapse_whitespace(text))


_PLAIN_HAN = re.compile(r"^[\u4e00-\u9fff]+$")


@functools.lru_cache(maxsize=500_000)
def clean_name(text: object) -> str:
    """Normalise one name as written: half-width, simplified, separators unified, notes removed.

    - NFKC (full-width → half-width), OpenCC t2s (traditional → simplified);
    - whitespace removed inside Chinese names (``张 三`` → ``张三``), collapsed in Latin ones;
    - minority-name separators (``· . ・ • ‧`` and a space between long parts) → ``·``;
    - annotations dropped: ``(音)``, ``（自报）``, ``音译``, ``自称``, ``先生/女士`` titles, quotes.

    Returns ``""`` for blank input. Idempotent: ``clean_name(clean_name(x)) == clean_name(x)``.

        >>> clean_name("阿卜杜拉・麦麦提(音译)"), clean_name(" 張 三 "), clean_name("王先生")
        ('阿卜杜拉·麦麦提', '张三', '王')
    """
    text = as_text(text)
    if _PLAIN_HAN.match(text):
        # fast path for the common case (only CJK ideographs: no width, space or separator work);
        # NFKC leaves this block unchanged, and t2s keeps it inside the block
        text = to_simplified(text)
        for _ in range(4):
            cleaned = _ANNOTATION_SUFFIX.sub("", _ANNOTATION_PREFIX.sub("", text))
            title = _TITLE_SUFFIX.search(cleaned)
            cleaned = cleaned[: title.start()] if title and title.start() > 0 else cleaned
            if cleaned == text:
                break
            text = cleaned
        return text
    # A few cleaning steps can expose new work for an earlier one (a bracket inside quotes, a
    # title behind an annotation); repeating until nothing changes makes the result a fixed point.
    for _ in range(4):
        cleaned = _clean_once(text)
        if cleaned == text:
            break
        text = cleaned
    return text


# ---------------------------------------------------------------------------------------------
# surname lexicon (table surname_readings, built by tools/build_readings.py)

MAX_SURNAME_RANK = 500
"""One-character surnames up to this frequency rank start a name (table ``surname_readings``)."""

COMMON_SURNAME_RANK = 300
"""Only surnames this common count as the first part of a married double surname (蕭廖美玉)."""


@functools.lru_cache(maxsize=1)
def surname_readings() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Surname → its readings (each a tuple of toneless syllables, usual reading first).

        >>> surname_readings()["单"], surname_readings()["尉迟"]
        ((('shan',),), (('yu', 'chi'),))
    """
    from kinmatch.data import load_table

    table = load_table("surname_readings")
    readings = {}
    for surname, pinyin in zip(table["surname"], table["pinyin"], strict=True):
        if isinstance(pinyin, str) and pinyin:
            readings[surname] = tuple(tuple(alt.split()) for alt in pinyin.split(";"))
    return readings


def _everyday_reading(char: str) -> str:
    """pypinyin's default reading of one character (the character itself when it has none)."""
    if not is_han(char):  # outside the shipped table: ask pypinyin
        from pypinyin import Style, lazy_pinyin

        return lazy_pinyin(char, style=Style.NORMAL)[0]
    return char_default_pinyin(char) or char


@functools.lru_cache(maxsize=1)
def _surname_sets() -> tuple[frozenset, frozenset, frozenset]:
    from kinmatch.data import load_table

    table = load_table("surname_readings")
    rank = pd.to_numeric(table["rank"], errors="coerce").fillna(10**6)
    # Rare one-character "surnames" (建, 永, 伟...) are far more often the first character of a
    # given name, so only the common ones split a name; rare surnames whose surname reading
    # differs from the everyday one (繁 po, 秘 bi) are kept so their reading is corrected.
    singles = frozenset(
        s for s, r, p in zip(table["surname"], rank, table["pinyin"], strict=True)
        if len(s) == 1 and (r <= MAX_SURNAME_RANK or str(p).split(";")[0] != _everyday_reading(s))
    )
    compounds = frozenset(s for s in table["surname"] if len(s) == 2)
    common = frozenset(s for s, r in zip(table["surname"], rank, strict=True)
                       if len(s) == 1 and r <= COMMON_SURNAME_RANK)
    return singles, compounds, common


@functools.lru_cache(maxsize=1)
def _surname_ranks() -> dict[str, int]:
    from kinmatch.data import load_table

    table = load_table("surname_readings")
    ranks = pd.to_numeric(table["rank"], errors="coerce").fillna(10**6).astype(int)
    return dict(zip(table["surname"], ranks, strict=True))


def surname_rank(surname: str) -> int:
    """Frequency rank of a surname (1 = 王), a large number if unknown."""
    return _surname_ranks().get(surname, 10**6)


def common_surnames() -> frozenset:
    """One-character surnames of rank up to :data:`COMMON_SURNAME_RANK`."""
    return _surname_sets()[2]


def is_surname(text: str) -> bool:
    """True if ``text`` (simplified) is a known single or compound surname.

        >>> is_surname("欧阳"), is_surname("张"), is_surname("建")
        (True, True, False)
    """
    singles, compounds, _ = _surname_sets()
    return text in singles or text in compounds


NAME_PREFIXES = ("阿", "老", "小")
"""Prefixes of a familiar name: 阿X, 老X, 小X."""


@functools.lru_cache(maxsize=500_000)
def split_name(norm: str) -> tuple[str, tuple[str, ...], str]:
    """Lexical split of a cleaned Chinese name into ``(prefix, surname_parts, given)``.

    Only the shape of the name is used (no name source, no placeholder rules): ``parse_name``
    builds on it, and the phonetics module uses it to read surname characters correctly.

        >>> split_name("欧阳娜娜"), split_name("老单"), split_name("萧廖美玉"), split_name("建国")
        (('', ('欧阳',), '娜娜'), ('老', ('单',), ''), ('', ('萧', '廖'), '美玉'), ('', (), '建国'))
    """
    singles, compounds, common = _surname_sets()
    if not norm or "·" in norm or not is_han(norm[0]):
        return "", (), norm
    if len(norm) == 2 and norm[0] in NAME_PREFIXES and norm[1] in singles:
        return norm[0], (norm[1],), ""
    if norm[:2] in compounds and len(norm) <= 4:
        return "", (norm[:2],), norm[2:]
    if len(norm) == 4 and norm[0] in common and norm[1] in common:
        return "", (norm[0], norm[1]), norm[2:]
    if norm[0] in singles and len(norm) <= 4:
        return "", (norm[0],), norm[1:]
    return "", (), norm



# Characters that mostly occur in transliterated Uyghur, Tibetan, Yi, Mongolian... names.
_TRANSLIT_CHARS = frozenset("阿卜杜拉买麦提江古丽尔克甫吐逊艾依木罕扎西卓玛次仁达瓦格桑曲珍顿珠"
                            "尼玛巴特乌日娜吉斯坦汗穆默德塔努里")


def is_minority(norm: str) -> bool:
    """True if a cleaned name has the shape of a transliterated minority name: a ``·``, five or
    more characters, or four with at least two characters typical of transliterations.

    Shape only: :func:`kinmatch.normalize.names.parse_name` looks for a known surname first.

        >>> is_minority("阿卜杜拉·买买提"), is_minority("古丽娜尔"), is_minority("张建国")
        (True, True, False)
    """
    if "·" in norm:
        return True
    if len(norm) >= 5:
        return True
    return len(norm) == 4 and sum(char in _TRANSLIT_CHARS for char in norm) >= 2
