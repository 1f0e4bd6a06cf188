"""Personal names: clean, split into surname and given name, and say what kind of name it is.

Station staff write names by ear, stations invent names for people who cannot say theirs, and
families write the registered name or a 小名. ``parse_name`` tells these apart so that the matcher
weighs a real name and never counts a station-assigned one (党X, 吴民X) or a placeholder (无名氏)::

    >>> parse_name("歐陽 建國（音）")
    ParsedName(norm='欧阳建国', surname='欧阳', given='建国', kind='full', evidence=True, surname_parts=('欧阳',))
    >>> parse_name("党小红", name_source="站内代名").kind, parse_name("党小红", name_source="自报").kind
    ('assigned', 'full')
    >>> parse_name("蕭廖美玉").surname_parts      # married double surname: maiden name is the last part
    ('萧', '廖')
    >>> parse_name("无名3号").kind, parse_name("二娃").kind, parse_name("阿卜杜拉.买买提").norm
    ('placeholder', 'nickname', '阿卜杜拉·买买提')

Kinds (docs/contract.md §2): ``full``, ``surname_only``, ``given_only``, ``partial`` (阿X 老X 小X),
``nickname`` (二娃, 狗蛋), ``minority``, ``assigned``, ``placeholder``, ``blank``. ``evidence`` is False
for ``assigned``, ``placeholder`` and ``blank``: such names must add zero weight.

A romanised name (``Chan Tai Man``) keeps its Latin letters; it is ``full`` with the first word as
surname when it has two or more words (Hong Kong / pinyin order), ``partial`` when it has one.

Cleaning a name as written and the surname lexicon live in :mod:`kinmatch.normalize.name_text`
(shared with :mod:`kinmatch.normalize.phonetics`); ``clean_name``, ``split_name``, ``is_surname``,
``surname_rank`` and ``surname_readings`` are re-exported here. :func:`name_columns` adds the
readings and sound keys of :mod:`kinmatch.normalize.phonetics` to the parse.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from kinmatch.normalize import phonetics
from kinmatch.normalize.name_text import (
    NAME_PREFIXES,
    clean_name,
    common_surnames,
    is_minority,
    is_surname,
    split_name,
    surname_rank,
    surname_readings,
)
from kinmatch.normalize.text import as_text, collapse_whitespace, is_han, is_latin_name, to_halfwidth, to_simplified

__all__ = [
    "ParsedName", "StationConvention", "STATION_CONVENTIONS", "clean_name", "parse_name",
    "parse_names", "name_columns", "split_name", "surname_readings", "is_surname", "surname_rank",
]

# ---------------------------------------------------------------------------------------------
# station-assigned names


@dataclass(frozen=True)
class StationConvention:
    """A naming convention a station uses for people who cannot say their name.

    ``prefix`` is the house surname or prefix; the assigned name is ``prefix`` + one or two
    characters. ``strong`` conventions are unusual enough as real names (吴民X, 魏同X) to mark a
    name as assigned even when the name source is unknown; weak ones (党X) need the name source
    ``站内代名`` because 党, 同, 宁, 祝 are also ordinary surnames.
    """

    prefix: str
    stations: str
    strong: bool = False


STATION_CONVENTIONS: tuple[StationConvention, ...] = (
    StationConvention("党", "延安、天津"),
    StationConvention("同", "铜川"),
    StationConvention("宁", "多地"),
    StationConvention("祝", "多地"),
    StationConvention("吴民", "凯里", strong=True),
    StationConvention("魏同", "大同", strong=True),
)
"""Default conventions (from published station practice); pass your own list to ``parse_name``."""

_ASSIGNED_SOURCES = {"站内代名", "代名", "站内", "站内取名", "站内命名", "assigned", "station"}
_REAL_SOURCES = {"自报", "证件", "身份证", "户籍", "self", "self-reported", "document", "id"}


def _source_kind(name_source: object) -> str | None:
    source = collapse_whitespace(to_simplified(to_halfwidth(as_text(name_source)))).lower()
    if not source:
        return None
    if source in _ASSIGNED_SOURCES or "代名" in source:
        return "assigned"
    if source in _REAL_SOURCES or "自报" in source or "证件" in source:
        return "real"
    return None


def _matches_convention(norm: str, convention: StationConvention) -> bool:
    extra = len(norm) - len(convention.prefix)
    if not norm.startswith(convention.prefix) or "·" in norm:
        return False
    return extra == 1 if convention.strong else 1 <= extra <= 2


# ---------------------------------------------------------------------------------------------
# placeholders, nicknames, minority names

_PLACEHOLDERS = frozenset("""
无名氏 无名 佚名 匿名 不详 不知 不知道 不清楚 未知 未详 不祥 待查 某某 某 无 空 无名字 没名字 没有名字
流浪男 流浪女 流浪汉 流浪者 流浪人员 流浪老人 乞讨人员 拾荒者 男子 女子 男 女 男性 女性 男人 女人
老人 老汉 老头 老太 老太太 老大爷 老大娘 老奶奶 老爷爷 大爷 大妈 大娘 大叔 大婶 阿姨 阿婆 阿公 阿伯
婆婆 奶奶 爷爷 先生 女士 小姐 师傅 小孩 小伙 小伙子 男孩 女孩 男童 女童 婴儿 弃婴 姑娘 聋哑人 哑巴 傻子 精神病人 智障
""".split())
_PROVINCE_WORDS = (
    "北京|天津|河北|山西|内蒙古?|辽宁|吉林|黑龙江|上海|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|"
    "广西|海南|重庆|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|东北|外地|本地|南方|北方|"
    "川|湘|鄂|豫|皖|粤|桂|黔|滇|赣|闽|苏|浙|鲁|晋|陕|甘|冀|辽|吉|黑|蒙|藏|新|沪|京|津|渝|琼"
)
_GENERIC_PERSON = (
    "婆|佬|仔|妹|哥|嫂|叔|伯|爷|奶|婶|姐|娘|汉|男|女|人|老人|老汉|老头|老太|大爷|大妈|大娘|大叔|"
    "阿姨|小伙|姑娘|男孩|女孩|妹子|妹仔"
)
_PLACE_PERSON = re.compile(rf"^({_PROVINCE_WORDS})({_GENERIC_PERSON})$")
_DESCRIPTIVE = re.compile(
    r"^(无名|未知|不详|流浪|乞讨|拾荒|聋哑|哑巴|智障|精神病|走失|痴呆|受助|救助)"
    r"(氏|男|女|人|者|汉|老人|人员|男子|女子|男孩|女孩|老汉|老太|儿童)?[一二三四五六七八九十百零\d]*号?$"
)
_NUMBERED = re.compile(r"\d|[一二三四五六七八九十百零]+号$")
# the three above in one search (the first two are anchored at the start, as their match is)
_PLACEHOLDER_SHAPE = re.compile("|".join(f"(?:{p.pattern})" for p in (_PLACE_PERSON, _DESCRIPTIVE, _NUMBERED)))

_NICKNAME_FULL = frozenset("""
狗蛋 铁蛋 二蛋 狗娃 石头 柱子 栓子 锁子 丫头 丫蛋 胖子 胖墩 小胖 黑子 傻蛋 憨子 狗剩 铁柱 二狗 小狗
""".split())
_ORDINALS = "大二三四五六七八九十幺细满"
_NICK_SUFFIX = "娃妞蛋丫妹宝毛狗牛柱娃仔崽"
_NICKNAME = re.compile(rf"^([{_ORDINALS}][{_NICK_SUFFIX}子]|.[娃妞蛋丫崽]|.娃子|.蛋子|老[{_ORDINALS}])$")

class ParsedName(NamedTuple):
    """Result of :func:`parse_name`. ``surname_parts`` lists the surnames in a married double
    surname (``('萧', '廖')``: the maiden surname is the last part) or the single surname."""

    norm: str
    surname: str | None
    given: str | None
    kind: str
    evidence: bool
    surname_parts: tuple[str, ...] = ()


def _parsed(norm, surname, given, kind, parts=None):
    evidence = kind not in ("assigned", "placeholder", "blank")
    parts = parts if parts is not None else ((surname,) if surname else ())
    return ParsedName(norm, surname or None, given or None, kind, evidence, tuple(parts))


def _parse(norm: str, source_kind: str | None, conventions: tuple[StationConvention, ...]) -> ParsedName:
    return _parse_cached(norm, source_kind, _convention_set(conventions))


class _ConventionSet:
    """A conventions tuple that hashes once: the tuple's own hash re-hashes every dataclass on
    every cache probe of ``_parse_cached``. Equality is the tuple's, so two sets whose hashes
    collide still stay apart in the cache."""

    __slots__ = ("conventions", "strong", "_hash")

    def __init__(self, conventions: tuple[StationConvention, ...]):
        self.conventions = conventions
        self.strong = tuple(c for c in conventions if c.strong)
        self._hash = hash(conventions)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ConventionSet) and (
            other is self or other.conventions == self.conventions)


@functools.lru_cache(maxsize=64)
def _convention_set(conventions: tuple[StationConvention, ...]) -> _ConventionSet:
    return _ConventionSet(conventions)


@functools.lru_cache(maxsize=500_000)
def _parse_cached(norm: str, source_kind: str | None, convention_set: _ConventionSet) -> ParsedName:
    conventions = convention_set.conventions
    if not norm:
        return _parsed(norm, None, None, "blank")
    # a name starting in the basic CJK block holds a Han character: it is not Latin-script (is_latin_name)
    starts_han = "\u4e00" <= norm[0] <= "\u9fff"
    if not starts_han and is_latin_name(norm):
        words = norm.split(" ")
        if len(words) >= 2:
            return _parsed(norm, words[0], " ".join(words[1:]), "full")
        return _parsed(norm, None, norm, "partial")
    if norm in _PLACEHOLDERS or _PLACEHOLDER_SHAPE.search(norm):
        return _parsed(norm, None, None, "placeholder")
    if not starts_han and not any(is_han(char) for char in norm):
        return _parsed(norm, None, None, "placeholder")
    if source_kind == "assigned":
        prefix = next((c.prefix for c in conventions if _matches_convention(norm, c)), norm[0])
        return _parsed(norm, prefix, norm[len(prefix):], "assigned")
    if source_kind != "real":
        for convention in convention_set.strong:
            if _matches_convention(norm, convention):
                return _parsed(norm, convention.prefix, norm[len(convention.prefix):], "assigned")
    if "·" not in norm and (norm in _NICKNAME_FULL or _NICKNAME.match(norm)
                            or (len(norm) == 2 and norm[0] == norm[1])):
        return _parsed(norm, None, norm, "nickname")
    prefix, parts, given = split_name(norm)
    if len(norm) == 2 and norm[0] in NAME_PREFIXES:
        # 老王 is nearly always a surname; 小红 / 阿明 nearly always a given name, unless X is one
        # of the most common surnames (小王, 阿陈)
        if prefix and (norm[0] == "老" or norm[1] in common_surnames() and surname_rank(norm[1]) <= 100):
            return _parsed(norm, norm[1], None, "partial")
        return _parsed(norm, None, norm[1], "partial")
    if len(norm) == 3 and norm[-1] == "氏" and all(c in common_surnames() for c in norm[:2]):
        return _parsed(norm, norm[:2], None, "surname_only", (norm[0], norm[1]))  # 张王氏: 夫姓+父姓+氏
    if len(norm) in (2, 3) and norm[-1] in "氏某" and norm[:-1] and is_surname(norm[:-1]):
        return _parsed(norm, norm[:-1], None, "surname_only")
    if norm.endswith("某某") and is_surname(norm[:-2]):
        return _parsed(norm, norm[:-2], None, "surname_only")
    if not parts and is_minority(norm) or (parts and len(parts[0]) == 1 and len(parts) == 1 and is_minority(norm)):
        return _parsed(norm, None, norm, "minority")
    if parts and not given:
        return _parsed(norm, "".join(parts), None, "surname_only", parts)
    if parts:
        return _parsed(norm, "".join(parts), given, "full", parts)
    return _parsed(norm, None, norm, "given_only")


def parse_name(text: object, station_conventions: Sequence[StationConvention] | None = None,
               name_source: object = None) -> ParsedName:
    """Clean ``text`` and split it into surname and given name, with its kind and evidence flag.

    ``name_source`` is the record's 姓名来源 (自报 / 站内代名 / 证件 / 不详). A name is ``assigned``
    when the source says 站内代名, or when it follows a *strong* station convention (吴民X, 魏同X)
    and the source does not say it is real; a plain 党X with source 自报 is a real name.
    ``station_conventions`` replaces :data:`STATION_CONVENTIONS`.

        >>> parse_name("吴民华").kind, parse_name("吴民华", name_source="自报").kind
        ('assigned', 'full')
        >>> parse_name("老王")
        ParsedName(norm='老王', surname='王', given=None, kind='partial', evidence=True, surname_parts=('王',))
        >>> parse_name("廖氏").kind
        'surname_only'
    """
    conventions = tuple(STATION_CONVENTIONS if station_conventions is None else station_conventions)
    return _parse(clean_name(text), _source_kind(name_source), conventions)


PARSE_COLUMNS = ["name_norm", "name_surname", "name_given", "name_kind", "name_evidence", "name_surname_parts"]


def _as_series(values, index) -> pd.Series:
    if values is None or isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        return pd.Series([values] * len(index), index=index, dtype=object)
    if isinstance(values, pd.Series):
        return values.reindex(index) if not values.index.equals(index) else values
    return pd.Series(list(values), index=index, dtype=object)


def parse_names(names: Iterable, name_source=None,
                station_conventions: Sequence[StationConvention] | None = None) -> pd.DataFrame:
    """Vectorized :func:`parse_name` over a Series; each distinct (name, source) is parsed once.

    ``name_source`` is a Series aligned with ``names``, one value for all rows, or ``None``.
    Returns a frame on the same index with columns ``name_norm, name_surname, name_given,
    name_kind, name_evidence, name_surname_parts`` (contract §2).

        >>> parse_names(pd.Series(["张三", "党明", None]), name_source=["自报", "站内代名", None])["name_kind"].tolist()
        ['full', 'assigned', 'blank']
    """
    names = _name_series(names)
    inverse, parsed = _parse_unique(names, name_source, station_conventions)
    return _parse_frame(inverse, parsed, names.index)


def _name_series(names) -> pd.Series:
    return names if isinstance(names, pd.Series) else pd.Series(list(names), dtype=object)


def _factorize(values: pd.Series) -> tuple[np.ndarray, list]:
    """Codes and distinct values, blanks (None/NaN) included as one more value (C-speed)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = list(uniques)
    # pandas hashes an all-string column as C strings, so "\x00A" and "" become one value; a set
    # count (cheap next to factorize) catches that, and a plain dict then factorizes exactly.
    listed = values.tolist()
    if len(set(listed)) > len(uniques) + int((codes < 0).any()):
        table: dict = {}
        blank = [v is None or (isinstance(v, float) and v != v) for v in listed]
        codes = np.array([-1 if b else table.setdefault(v, len(table)) for v, b in zip(listed, blank, strict=True)],
                         dtype=np.int64)
        uniques = list(table)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(uniques), codes)
        uniques.append(None)
    return codes.astype(np.int64), uniques


def _parse_unique(names: pd.Series, name_source, station_conventions):
    """Row → distinct (name, source kind) index, and the ParsedName of each distinct pair."""
    conventions = tuple(STATION_CONVENTIONS if station_conventions is None else station_conventions)
    key = _convention_set(conventions)
    name_codes, name_values = _factorize(names.astype(object))
    source_codes, source_values = _factorize(_as_series(name_source, names.index).astype(object))
    kinds = np.array([_SOURCE_KINDS.index(_source_kind(v)) for v in source_values], dtype=np.int64)
    combined = name_codes * len(_SOURCE_KINDS) + kinds[source_codes]
    distinct, inverse = np.unique(combined, return_inverse=True)
    parsed = [_parse_cached(clean_name(name_values[c // len(_SOURCE_KINDS)]),
                            _SOURCE_KINDS[c % len(_SOURCE_KINDS)], key) for c in distinct.tolist()]
    return inverse.reshape(-1), parsed


_SOURCE_KINDS = (None, "assigned", "real")


def _parse_frame(inverse: np.ndarray, parsed: list, index) -> pd.DataFrame:
    return pd.DataFrame(_spread(parsed, PARSE_COLUMNS, inverse, evidence=True), index=index)


def _spread(rows: Sequence[tuple], names: Sequence[str], inverse: np.ndarray, evidence: bool = False) -> dict:
    """Per name, the column of that field of ``rows`` (distinct rows) taken at ``inverse`` (row →
    its distinct row), as object arrays (the cells themselves: tuples stay tuples);
    ``name_evidence`` as booleans when ``evidence``."""
    columns = {}
    fields = zip(*rows) if len(rows) else [()] * len(names)
    for name, values in zip(names, fields, strict=True):
        column = np.empty(len(values), dtype=object)
        column[:] = values
        columns[name] = column[inverse] if len(inverse) else column[:0]
    if evidence:
        columns["name_evidence"] = columns["name_evidence"].astype(bool)
    return columns


def name_columns(names: Iterable, name_source=None, area=None,
                 station_conventions: Sequence[StationConvention] | None = None,
                 side: str | None = None) -> pd.DataFrame:
    """All name columns of the normalized frame (contract §2) for a Series of names.

    Adds to :func:`parse_names`: ``name_pinyin``, ``name_keys``, ``surname_keys``, ``given_keys``
    and ``name_jyutping``. ``area`` (a dialect-area code per row, one code, or None) chooses the
    merger families of the keys. ``side`` is ``"resident"`` for residents (their keys also carry the
    fold of every merger family, see :func:`kinmatch.normalize.phonetics.name_keys`) and
    ``"report"`` or None for missing-person reports. Names without evidence (assigned,
    placeholder, blank) get empty key tuples, so they can never meet another name.

        >>> frame = name_columns(pd.Series(["胡春花", "吴春花", "无名氏"]), area="Wu")
        >>> bool(set(frame.loc[0, "name_keys"]) & set(frame.loc[1, "name_keys"])), frame.loc[2, "name_keys"]
        (True, ())
    """
    resident = phonetics.is_resident_side(side)  # checked before any work: a typo must not cost a batch
    names = _name_series(names)
    inverse, parsed = _parse_unique(names, name_source, station_conventions)
    area_codes, area_values = _factorize(_as_series(area, names.index).astype(object))
    area_values = [as_text(v) or None for v in area_values]
    combined = inverse.astype(np.int64) * len(area_values) + area_codes
    distinct, row_to_distinct = np.unique(combined, return_inverse=True)
    rows = np.empty(len(distinct), dtype=object)
    n_areas = len(area_values)
    for i, c in enumerate(distinct.tolist()):
        norm, surname, given, kind, _evidence, parts = parsed[c // n_areas]
        rows[i] = _name_row(norm, kind, surname, given, parts, area_values[c % n_areas], resident)
    columns = _spread(parsed, PARSE_COLUMNS, inverse, evidence=True)
    columns.update(_spread(rows, _KEY_COLUMNS, row_to_distinct.reshape(-1)))
    return pd.DataFrame(columns, index=names.index)


_KEY_COLUMNS = ["name_pinyin", "name_keys", "surname_keys", "given_keys", "name_jyutping"]


def read_ahead(names: Iterable, name_source=None,
               station_conventions: Sequence[StationConvention] | None = None) -> None:
    """Parse the distinct names and read them aloud (pinyin, Jyutping) into this process's caches,
    so that a later :func:`name_columns` of the same names, given the same ``name_source`` and
    conventions, has only the dialect keys left to make. None of this depends on the dialect area:
    a batch calls it before the reports' hometowns are parsed (which the area needs), while the
    second process still has place texts to share. Returns nothing; results never depend on it."""
    names = _name_series(names)
    _inverse, parsed = _parse_unique(names, name_source, station_conventions)
    for p in parsed:
        if p.norm:
            _readings_of_clean(p.norm)


@functools.lru_cache(maxsize=200_000)
def _readings_of_clean(norm: str) -> tuple[str | None, str | None]:
    return phonetics.clean_name_pinyin(norm) or None, phonetics.clean_jyutping(norm) or None


@functools.lru_cache(maxsize=500_000)
def _name_row(norm, kind, surname, given, parts, area, resident=False):
    if not norm:
        return (None, (), (), (), None)
    # norm and its parts are already clean: use the phonetics entry points that skip cleaning
    pinyin, jyut = _readings_of_clean(norm)
    if kind in ("assigned", "placeholder", "blank"):
        return (pinyin, (), (), (), jyut)
    keys_of = phonetics.area_name_keys(area, "resident" if resident else None)
    keys = keys_of(norm)
    surname_keys: tuple = ()
    if surname:
        pieces = [surname] + [p for p in (parts or ()) if p != surname]
        surname_keys = keys_of(surname) if len(pieces) == 1 else tuple(
            dict.fromkeys(k for piece in pieces for k in keys_of(piece)))
    given_keys: tuple = ()
    if kind == "minority":
        # a part without a reading (a symbol, a rare character) has an empty key: not a key
        given_keys = tuple(dict.fromkeys(k for k in map(phonetics.minority_key, norm.split("·")) if k))
    elif kind == "partial" and not given and len(norm) == 2:
        given_keys = keys_of(norm[1])  # 老王: the 王 may be a given name too
    elif given:
        given_keys = keys_of(given)
    return (pinyin, keys, surname_keys, given_keys, jyut)
