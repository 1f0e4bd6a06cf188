"""Low-level text helpers shared by the normalizers: width, whitespace, traditional → simplified.

Every function takes any value (``None``, NaN, numbers) and returns a ``str``; they never raise on
odd input, because one bad cell must not stop a batch.

    >>> to_simplified("蕭廖美玉")
    '萧廖美玉'
    >>> clean_text("  張　三 ")
    '张 三'
    >>> is_han("张") and not is_han("A")
    True
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata

import opencc
import pandas as pd

from kinmatch.data import BuiltTable, library_version

_SPACE_RUN = re.compile(r"\s+")
_HAN_SEARCH = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af]")

# CJK Unified Ideographs + extension A + compatibility ideographs + extensions B..I.  Written as
# ranges (not unicodedata names) because the name lookup is ~20x slower and runs per character.
_HAN_RANGES = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF),
)


def as_text(value: object) -> str:
    """``value`` as a string; ``None``/NaN/pd.NA become ``""``.

    >>> as_text(None), as_text(float("nan")), as_text(12)
    ('', '', '12')
    """
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, str):
        return value
    try:  # pd.NA / NaT raise on bool(); they are blanks, not text
        if value != value:  # noqa: PLR0124  (NaN-like)
            return ""
    except TypeError:
        return ""
    return str(value)


def text_of(value: object) -> str | None:
    """A table cell as stripped text, or ``None`` when it is blank (None, NaN, pd.NA, NaT, spaces).

    The one cell-to-text helper of every stage (``str(pd.NA)`` would be the text ``'<NA>'``).

    >>> text_of(" R1 "), text_of(float("nan")), text_of(""), text_of(12)
    ('R1', None, None, '12')
    """
    if value is None:
        return None
    if not isinstance(value, str):
        try:  # NaN, pd.NA and NaT are blanks; list-like cells are text
            if value != value:  # noqa: PLR0124
                return None
        except (TypeError, ValueError):
            if _is_na_scalar(value):
                return None
        value = str(value)
    return value.strip() or None


def _is_na_scalar(value: object) -> bool:
    import pandas as pd  # only for the odd cells that are neither text nor comparable

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def to_halfwidth(text: object) -> str:
    """NFKC-normalise: full-width Latin/digits/punctuation → half-width, compatibility forms folded.

    >>> to_halfwidth("ＡＢＣ１２３（音）")
    'ABC123(音)'
    """
    return unicodedata.normalize("NFKC", as_text(text))


def collapse_whitespace(text: object) -> str:
    """Strip and collapse every whitespace run (incl. U+3000 ideographic space) to one space."""
    return _SPACE_RUN.sub(" ", as_text(text)).strip()


@functools.lru_cache(maxsize=4)
def _converter(config: str) -> opencc.OpenCC:
    # Building an OpenCC converter loads its dictionaries (~ms); one per config per process.
    return opencc.OpenCC(config)


@functools.lru_cache(maxsize=200_000)
def to_simplified(text: object) -> str:
    """Traditional → simplified Chinese with OpenCC ``t2s`` (character and phrase level).

    >>> to_simplified("陳大文")
    '陈大文'
    """
    text = as_text(text)
    if not text or text.isascii():
        return text
    try:
        return _converter("t2s").convert(text)
    except UnicodeEncodeError:  # lone surrogates (broken decoding upstream): drop them, keep the rest
        return _converter("t2s").convert(text.encode("utf-8", "ignore").decode("utf-8"))


def to_traditional(text: object) -> str:
    """Simplified → traditional with OpenCC ``s2t`` (used to look up HK/Taiwan readings)."""
    text = as_text(text).encode("utf-8", "ignore").decode("utf-8")
    return _converter("s2t").convert(text) if text else text


def clean_text(text: object) -> str:
    """Half-width, simplified, whitespace collapsed: the common first step of every normalizer."""
    return collapse_whitespace(to_simplified(to_halfwidth(text)))


def is_han(char: str) -> bool:
    """True if ``char`` (one character) is a CJK ideograph."""
    if "\u4e00" <= char <= "\u9fff":  # fast path: the basic block holds nearly every name character
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _HAN_RANGES)


def han_count(text: str) -> int:
    """Number of CJK ideographs in ``text``."""
    return sum(1 for char in text if is_han(char))


def is_latin_name(text: str) -> bool:
    """True if ``text`` is written in Latin letters (a romanised name such as ``Chan Tai Man``).

    >>> is_latin_name("Chan Tai-man"), is_latin_name("陈大文"), is_latin_name("123")
    (True, False, False)
    """
    if _HAN_SEARCH.search(text):
        return False
    return _is_latin(text)


@functools.lru_cache(maxsize=100_000)
def _is_latin(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return False
    latin = sum(1 for char in letters if unicodedata.name(char, "").startswith("LATIN"))
    return latin / len(letters) >= 0.8


# ---------------------------------------------------------------------------------------------
# pinyin of one character

def _char_pinyin_rows() -> pd.DataFrame:
    """pypinyin's default toneless reading of every Han character that has one (one character at
    a time, so its phrase dictionary plays no part). :data:`CHAR_PINYIN` ships it built."""
    from pypinyin import Style, lazy_pinyin

    rows = []
    for low, high in _HAN_RANGES:
        for code in range(low, high + 1):
            char = chr(code)
            if is_han(char):
                reading = lazy_pinyin(char, style=Style.NORMAL, errors=lambda _: [""])[0]
                if reading:
                    rows.append((char, reading))
    return pd.DataFrame(rows, columns=["char", "pinyin"])


CHAR_PINYIN = BuiltTable("char_pinyin", (), lambda: repr((1, _HAN_RANGES, library_version("pypinyin"))),
                         _char_pinyin_rows)
"""Default pinyin per character (:func:`_char_pinyin_rows`), shipped built: names are read without
importing pypinyin, whose phrase dictionary alone takes a few tenths of a second to load."""


@functools.lru_cache(maxsize=1)
def _char_pinyin() -> dict[str, str]:
    table = CHAR_PINYIN.columns()
    return dict(zip(table["char"], table["pinyin"], strict=True))


def char_default_pinyin(char: str) -> str:
    """pypinyin's default toneless reading of one Han character ("" when it has none).

        >>> char_default_pinyin("单"), char_default_pinyin("乐")
        ('dan', 'le')
    """
    return _char_pinyin().get(char, "")


def _pinyin_phrase_rows() -> pd.DataFrame:
    """The phrases of pypinyin's phrase dictionary that read otherwise than their characters'
    default readings (重庆 chong qing, not zhong qing): the only ones that make a text's pinyin
    differ from reading it character by character. :data:`PINYIN_PHRASES` ships them built."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.constants import PHRASES_DICT

    def by_character(phrase: str) -> list[str]:
        return [lazy_pinyin(char, style=Style.NORMAL, errors=lambda _: [""])[0] for char in phrase]

    rows = sorted(phrase for phrase in PHRASES_DICT
                  if lazy_pinyin(phrase, style=Style.NORMAL, errors="ignore") != by_character(phrase))
    return pd.DataFrame({"phrase": rows})


PINYIN_PHRASES = BuiltTable("pinyin_phrases", (), lambda: repr((1, library_version("pypinyin"))),
                            _pinyin_phrase_rows)
"""Phrases whose pinyin is not their characters' (:func:`_pinyin_phrase_rows`), shipped built."""


@functools.lru_cache(maxsize=1)
def _pinyin_phrases() -> tuple[frozenset, int]:
    phrases = frozenset(PINYIN_PHRASES.columns()["phrase"])
    return phrases, max(map(len, phrases), default=0)


def reads_by_character(text: str) -> bool:
    """True when pypinyin reads ``text`` character by character: every character is Han or ASCII
    (which pypinyin's ``errors="ignore"`` drops, and which ends a run of Han characters) and no
    phrase of :data:`PINYIN_PHRASES` occurs in it (then its phrase segmentation cannot change any
    reading).

        >>> reads_by_character("八五0农场"), reads_by_character("重庆")
        (True, False)
    """
    if not all(is_han(char) or char.isascii() for char in text):
        return False
    phrases, longest = _pinyin_phrases()
    n = len(text)
    return not any(text[i:j] in phrases for i in range(n) for j in range(i + 2, min(n, i + longest) + 1))


def han_pinyin(text: str) -> list[str]:
    """pypinyin's ``lazy_pinyin(text, style=Style.NORMAL, errors="ignore")``, read from the
    shipped tables when :func:`reads_by_character`, else from pypinyin.

        >>> han_pinyin("太康十里铺"), han_pinyin("重庆"), han_pinyin("八五0农场")
        (['tai', 'kang', 'shi', 'li', 'pu'], ['chong', 'qing'], ['ba', 'wu', 'nong', 'chang'])
    """
    if reads_by_character(text):
        return [reading for reading in map(char_default_pinyin, text) if reading]
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(text, style=Style.NORMAL, errors="ignore")
