"""Places: garbled place text → ranked counties (6-digit codes), with coordinates and a score.

Residents remember places in pieces, by sound, and by names that no longer exist. This module
reads them against the shipped gazetteer (tables ``counties``, ``townships``, ``place_history``,
``villages``; see ``kinmatch/data/SOURCES/gazetteer.md``):

- full addresses (河南省周口市太康县十里铺村) and short names (太康, 周口太康);
- pre-reform units (XX公社, XX大队, 第三生产队) are read as township / village hints;
- historical names (襄樊, 崇文区, 南市区) map to their successors, flagged ``old``;
- township names (一渡水 → 一渡水镇 and its county) and village names under a named county;
- fragments (太康十里铺 → 太康县; 邻 → 邻水县, 邻鄂镇, ...);
- sound candidates by pinyin and dialect-merged pinyin (瑶池县 → 岳池县, 湖州 ~ 福州).

    >>> m = parse_place("河南省周口市太康县十里铺村")
    >>> m.county_code, m.prefecture_code, m.province_code
    ('411627', '411600', '410000')
    >>> parse_place("襄樊").prefecture_code, parse_place("襄樊").old
    ('420600', True)
    >>> "511621" in place_candidates("瑶池县")["county_code"].tolist()
    True

Indexes are built once per process on first use (about a second) and cached.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
import unicodedata
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch._gc import gc_paused
from kinmatch.data import BuiltTable, library_version, load_table
from kinmatch.geo import haversine_km
from kinmatch.normalize.text import char_default_pinyin, han_pinyin, reads_by_character

__all__ = ["PlaceMatch", "parse_place", "place_candidates", "candidate_counties", "parse_places",
           "warm_up", "county_distance_km",
           "county_distances_km", "haversine_km", "county_info"]

CANDIDATE_COLUMNS = ["rank", "level", "county_code", "prefecture_code", "province_code", "name",
                     "township", "village", "lon", "lat", "score", "old", "matched_by", "reason"]


class PlaceMatch(NamedTuple):
    """Best reading of one place text. Codes are 6-digit strings or None; score is 0–1."""

    text: str
    province_code: str | None
    prefecture_code: str | None
    county_code: str | None
    township: str | None
    village: str | None
    name: str | None          # display name, e.g. 河南省周口市太康县
    lon: float
    lat: float
    score: float
    old: bool                 # matched through an abolished / renamed unit
    matched_by: str           # e.g. county_full+prefecture+province, township_short, sound, none


def _empty(text: str) -> PlaceMatch:
    return PlaceMatch(text, None, None, None, None, None, None, math.nan, math.nan, 0.0, False, "none")


# ------------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------------

def county_distance_km(code_a: str | None, code_b: str | None) -> float:
    """Distance between two county seats (current or abolished codes; prefecture or province codes
    use the mean of their counties). NaN when either is unknown.

    >>> round(county_distance_km("411627", "511621"))   # 太康县 – 岳池县
    881
    """
    xy = _geo()
    a, b = xy.get(str(code_a or "")), xy.get(str(code_b or ""))
    if a is None or b is None:
        return math.nan
    return float(haversine_km(a[0], a[1], b[0], b[1]))


def county_distances_km(codes_a: pd.Series, codes_b: pd.Series) -> pd.Series:
    """Vectorized :func:`county_distance_km` over two aligned Series of codes."""
    xy = _geo()
    codes_a, codes_b = pd.Series(codes_a), pd.Series(codes_b, index=pd.Series(codes_a).index)
    la = codes_a.map(lambda c: xy.get(str(c), (math.nan, math.nan)) if isinstance(c, str) else (math.nan, math.nan))
    lb = codes_b.map(lambda c: xy.get(str(c), (math.nan, math.nan)) if isinstance(c, str) else (math.nan, math.nan))
    a = np.array(la.tolist(), dtype=float).reshape(-1, 2)
    b = np.array(lb.tolist(), dtype=float).reshape(-1, 2)
    return pd.Series(haversine_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1]), index=codes_a.index)


# ------------------------------------------------------------------------------------------------
# text cleaning
# ------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _opencc():
    import opencc  # traditional → simplified (臺灣 → 台湾, 縣 → 县)
    return opencc.OpenCC("t2s")


def _simplified_all(texts) -> dict[str, str]:
    """text → its OpenCC t2s form for many texts in one conversion (one call per text costs
    ~3 µs of Python wrapping each; the gazetteer converts ~100k names). Newlines end OpenCC's
    phrases, so each line converts as it would alone; should a count ever differ, each text is
    converted on its own."""
    texts = [t for t in dict.fromkeys(texts) if isinstance(t, str) and "\n" not in t]
    converter = _opencc()
    converted = converter.convert("\n".join(texts)).split("\n")
    if len(converted) != len(texts):
        converted = [converter.convert(t) for t in texts]
    return dict(zip(texts, converted, strict=True))


_SEP = "|"
_NON_HAN = re.compile(r"[^\u3400-\u9fff0-9]+")
_PRODUCTION_TEAM = re.compile(r"第?[一二三四五六七八九十百零〇两0-9]+(?:生产)?[队组]|生产[队组]")
_COMMUNE = re.compile(r"(?:人民)?公社|区公所")
_BRIGADE = re.compile(r"(?:生产)?大队")
_EDGE_FILLER = re.compile(r"^(?:老家|家住|家在|住在|来自|说是|自称|好像|大概|可能|是|在|说)+|"
                          r"(?:的?人|附近|一带|那边|这边|地方|一个|老家)+$")
_NO_PLACE = re.compile(r"不知道?|不详|不清楚?|未知|无|没有|说不清|不记得|忘了|记不清|记不得|外地|本地")
_UNIT_SUFFIX = re.compile(r"(自治县|自治州|地区|街道|县|市|区|旗|州|镇|乡|村|屯|庄|寨|社区)$")


def _clean(text: object) -> str:
    """Simplified, half-width, pre-reform unit words turned into separators."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    if not s.strip():
        return ""
    try:
        s = _opencc().convert(s)
    except Exception:  # noqa: BLE001 - one odd value must not stop a batch
        pass
    # the unit words' patterns only where their last character occurs (most texts have none)
    if "队" in s or "组" in s:
        s = _PRODUCTION_TEAM.sub(_SEP, s)
        s = _BRIGADE.sub(_SEP, s)      # XX大队 ≈ village XX
    if "社" in s or "所" in s:
        s = _COMMUNE.sub(_SEP, s)      # XX公社 ≈ township XX
    s = _NON_HAN.sub(_SEP, s)
    return s.strip(_SEP)


# ------------------------------------------------------------------------------------------------
# gazetteer and indexes (built lazily, once)
# ------------------------------------------------------------------------------------------------

_GENERIC = {"城区", "郊区", "市郊区", "矿区", "市区", "新区", "市中", "经开区", "高新区", "开发区", "市辖区",
            "城关", "中心", "东区", "西区", "南区", "北区", "中区"}
# The 55 minority peoples' names as they appear in autonomous units (各族 for 各族自治县).
ETHNIC_GROUPS = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 "
    "东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 "
    "乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺 各").split()
_ETHNIC = "(?:" + "|".join(sorted(ETHNIC_GROUPS, key=len, reverse=True)) + ")族?"
_PREF_SUFFIX = re.compile(rf"(?:(?:{_ETHNIC})*自治州|地区|市|盟|林区)$")


class _Entry(NamedTuple):
    level: str        # province / prefecture / county / township / village
    code: str         # province, prefecture or county code (townships/villages: their county)
    kind: str         # full / short
    old: bool
    label: str        # the gazetteer name that matched (township/village names shown to users)


@functools.lru_cache(maxsize=1)
def _county_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(all counties with numeric coordinates, current counties, prefectures) from ``counties``."""
    counties = load_table("counties").copy()
    counties["lon"] = pd.to_numeric(counties["lon"], errors="coerce")
    counties["lat"] = pd.to_numeric(counties["lat"], errors="coerce")
    cur = counties[counties["status"] == "current"]
    pref = cur.groupby("prefecture_code").agg(name=("prefecture", "first"),
                                              province_code=("province_code", "first"),
                                              lon=("lon", "mean"), lat=("lat", "mean"))
    return counties, cur, pref


def _current_towns() -> pd.DataFrame:
    towns = load_table("townships")
    current = set(_county_frames()[1]["code"])
    return towns[towns["county_code"].isin(current)].reset_index(drop=True)


_KEY_COLUMNS = ["key", "level", "code", "kind", "old", "label"]


def _gazetteer_keys() -> pd.DataFrame:
    """The gazetteer's name index as a table, one row per (key, reading) in index order: every
    province, prefecture, county (current and former) and township name, full and short, under
    its own spelling and its OpenCC t2s spelling. :data:`GAZETTEER_KEYS` ships it built."""
    from kinmatch.normalize.dialects import PROVINCES

    counties, cur, pref = _county_frames()
    current = set(cur["code"])
    index: dict[str, list[_Entry]] = defaultdict(list)
    hist = load_table("place_history")
    towns = load_table("townships")
    simplified = _simplified_all([*(n for names in PROVINCES.values() for n in names[:2]), *counties["name"],
                                  *counties["short_name"], *pref["name"], *hist["old_name"], *towns["name"],
                                  *towns["short_name"]])
    converter = _opencc()

    def convert(key: str) -> str:
        alt = simplified.get(key)
        return alt if alt is not None else converter.convert(key)

    def add(key: str, entry: _Entry) -> None:
        if len(key) < 2:
            return
        if key in _GENERIC:
            if entry.level != "county" or entry.kind != "full":
                return
            # 城区, 郊区, 东区: real districts, but only with their prefecture named
            entry = _Entry(entry.level, entry.code, "generic", entry.old, entry.label)
        if entry not in index[key]:
            index[key].append(entry)
        # input is converted traditional → simplified, and opencc also rewrites a few
        # simplified names (乾县 → 干县): index the converted spelling as well
        alt = convert(key)
        if alt != key and entry not in index[alt]:
            index[alt].append(entry)

    for code, (full, short, _abbr) in PROVINCES.items():
        add(full, _Entry("province", code, "full", False, full))
        add(short, _Entry("province", code, "short", False, full))
    for code, r in pref.iterrows():
        if code[:2] in ("11", "12", "31", "50"):
            continue  # municipality "prefectures" are the province itself
        add(r["name"], _Entry("prefecture", code, "full", False, r["name"]))
        add(_PREF_SUFFIX.sub("", r["name"]), _Entry("prefecture", code, "short", False, r["name"]))
    for r in cur.itertuples(index=False):
        add(r.name, _Entry("county", r.code, "full", False, r.name))
        if not re.search(r"开发区|高新|经开|园区|示范区|管理", r.name):
            add(r.short_name, _Entry("county", r.code, "short", False, r.name))
    hist = hist[hist["rank"] == "0"]
    for r in hist.itertuples(index=False):
        level = "county" if r.level == "county" else "prefecture"
        if level == "county" and r.new_code not in current:
            continue
        if level == "prefecture" and r.new_code not in pref.index:
            continue
        short = (re.sub(r"(?:自治县|县|区|市|旗)$", "", r.old_name) if level == "county"
                 else _PREF_SUFFIX.sub("", r.old_name))
        for key, kind in ((r.old_name, "full"), (short, "short")):
            existing = index.get(key, [])
            # an old name that is also a current name of the same level is not "old" there
            if any(e.level == level and not e.old and e.code == r.new_code for e in existing):
                continue
            add(key, _Entry(level, r.new_code, kind, True, r.old_name))
    towns = towns[towns["county_code"].isin(current)]
    for r in towns.itertuples(index=False):
        add(r.name, _Entry("township", r.county_code, "full", False, r.name))
        if r.short_name != r.name:  # a short form shared with a county is resolved in _scan
            add(r.short_name, _Entry("township", r.county_code, "short", False, r.name))
    rows = [(key, *entry) for key, entries in index.items() for entry in entries]
    return pd.DataFrame(rows, columns=_KEY_COLUMNS).astype({"old": bool})


def _gazetteer_recipe() -> str:
    import opencc

    from kinmatch.normalize.dialects import PROVINCES

    # what the keys depend on besides the input tables: these constants and OpenCC's dictionaries
    return repr((1, sorted(PROVINCES.items()), sorted(_GENERIC), _PREF_SUFFIX.pattern, opencc.__version__))


GAZETTEER_KEYS = BuiltTable("gazetteer_keys", ("counties", "place_history", "townships"), _gazetteer_recipe,
                            _gazetteer_keys)
"""The gazetteer's name index (:func:`_gazetteer_keys`), shipped built."""


def _records(frame: pd.DataFrame) -> list[dict]:
    """``frame.to_dict("records")`` (the same Python values) from whole-column ``tolist()``: pandas
    boxes cell by cell, several times slower on the 7,000 county rows read at every load."""
    columns = [frame[column].tolist() for column in frame.columns]
    return [dict(zip(frame.columns, row)) for row in zip(*columns)]


class _KeyHashes(NamedTuple):
    """The name index hashed for :func:`_share_spans` (see :attr:`_Gazetteer.key_hashes`)."""

    nodes: np.ndarray      # sorted uint64 hashes of the keys and their proper prefixes
    key: np.ndarray        # per node: the key number of the node's text, or -1 (a prefix only)
    more: np.ndarray       # per node: a longer key begins with it
    coarse: np.ndarray     # per key: the coarsest level order of its non-generic readings, or 9
    count: np.ndarray      # per key: how many readings it has
    level: np.ndarray      # per key: the level order of its first reading


class _RowTable(NamedTuple):
    """The name index's readings as arrays (see :attr:`_Gazetteer.row_table`)."""

    level: np.ndarray        # per row: level order
    code: np.ndarray         # per row: code number
    kind: np.ndarray         # per row: kind (_KINDS)
    old: np.ndarray          # per row
    first: np.ndarray        # per key: its first row
    codes: list[str]         # code number → code
    is_current: np.ndarray   # per code: a current county
    prefecture: np.ndarray   # per code: a current county's prefecture code number, or -1
    province: np.ndarray     # per code: a current county's province code number, or -1
    province_of: np.ndarray  # per code: the code number of its first two digits + 0000
    label: np.ndarray        # per row: label number
    labels: list[str]        # label number → label


_KINDS = ("full", "short", "generic", "shadow", "shadow_province")
_KIND_IDS = {kind: number for number, kind in enumerate(_KINDS)}


_HASH_BASE = np.uint64(0x100000001B3)
"""Multiplier of the rolling hash (odd, so a step h → h·B + c loses nothing)."""


class _Gazetteer:
    def __init__(self) -> None:
        from kinmatch.normalize.dialects import PROVINCES

        counties, cur, pref = _county_frames()
        self.counties = counties.set_index("code", drop=False)
        self.current = cur.set_index("code", drop=False)
        self.provinces = {code: full for code, (full, _s, _a) in PROVINCES.items()}
        self.prefectures = pref
        # plain dicts for the hot path: pandas row access costs ~0.3 ms a call
        self.info = {r["code"]: r for r in _records(counties)}
        self.cur_info = {c: self.info[c] for c in cur["code"]}
        self.pref_info = {c: dict(r, code=c) for c, r in pref.to_dict("index").items()}
        prov = cur.groupby("province_code").agg(lon=("lon", "mean"), lat=("lat", "mean"))
        self.province_xy = {c: (r.lon, r.lat) for c, r in prov.iterrows()}
        # outside the county tables: capitals, so a "台湾" reading still has a place on the map
        self.province_xy.update({"710000": (121.56, 25.04), "810000": (114.17, 22.32),
                                 "820000": (113.54, 22.19)})
        # The name index is read as plain column lists; the scanner's trie is filled one first
        # character at a time, when the scanner first meets that character (fill_trie): a run
        # builds the part its texts use, a small run a few hundred of the 70k keys.
        keys = GAZETTEER_KEYS.columns()
        self._keys = keys
        # the rows of one key are adjacent (the table lists the index key by key): cut the entry
        # list at each change of key instead of appending entry by entry
        key_column = keys["key"]
        starts = [0] + [i for i in range(1, len(key_column)) if key_column[i] != key_column[i - 1]]
        self._names = [key_column[i] for i in starts]
        self._bounds = list(zip(starts, starts[1:] + [len(key_column)], strict=True))
        self.max_len = max(map(len, self._names))
        # piece of text → (hits as (entry, level order), whether a longer key can follow, the
        # coarsest level order of its non-generic hits or 9): one dict lookup per scanned piece;
        # it holds the keys of the first characters in trie_chars
        self.trie: dict[str, tuple[tuple, bool, int]] = {}
        self.trie_chars: set[str] = set()
        # (id of a trie key's readings, coarsest level around its span) → the readings the span
        # keeps (_span_readings): the trie keeps those readings alive, so an id names one key
        self.span_readings: dict[tuple[int, int], tuple[_Entry, ...]] = {}
        # the same for the share scan (_share_hits) as (rows, kinds), by (key number, coarsest
        # level around)
        self.share_span_rows: dict[tuple[int, int], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        # and for the texts scanned together (_hits_together) as entries, by (key number, coarsest
        # level around)
        self.span_entries: dict[tuple[int, int], tuple[_Entry, ...]] = {}
        # key number → its readings as the trie holds them; row of the name index → its reading
        self._key_readings: dict[int, tuple[tuple[_Entry, int], ...]] = {}
        self._row_entries: dict[int, _Entry] = {}
        # (level, code) of a reading → its codes, coordinates and display name (_place_of)
        self.places: dict[tuple[str, str], tuple] = {}

    @functools.cached_property
    def _by_first(self) -> dict[str, list[int]]:
        """First character → the numbers of the keys it begins (for :meth:`fill_trie` only: texts
        scanned together need no trie)."""
        by_first: dict[str, list[int]] = defaultdict(list)
        for number, name in enumerate(self._names):
            by_first[name[0]].append(number)
        return dict(by_first)

    def fill_trie(self, chars=None) -> dict[str, tuple[tuple, bool, int]]:
        """Add to :attr:`trie` every key beginning with one of ``chars`` (default: every key) and
        the proper prefixes of those keys (which let the scanner stop as soon as no key can
        follow); returns the trie. Keys of different first characters share no prefix, so the
        trie filled character by character equals the one filled at once."""
        chars = self._by_first.keys() if chars is None else chars
        names, bounds = self._names, self._bounds
        trie, filled = self.trie, self.trie_chars
        with gc_paused():  # thousands of small acyclic tuples
            for char in chars:
                if char in filled:
                    continue
                filled.add(char)
                numbers = self._by_first.get(char, ())
                group = [names[k] for k in numbers]
                prefixes = {name[:i] for name in group for i in range(1, len(name))}
                trie.update(dict.fromkeys(prefixes, ((), True, 9)))
                spans = [bounds[k] for k in numbers]
                hits, coarse = self._readings([row for a, b in spans for row in range(a, b)])
                # most keys have one reading: no slice, tuple or min() for those
                start = 0
                for name, (a, b) in zip(group, spans, strict=True):
                    stop = start + b - a
                    trie[name] = (((hits[start],), name in prefixes, coarse[start]) if stop - start == 1 else
                                  (tuple(hits[start:stop]), name in prefixes, min(coarse[start:stop])))
                    start = stop
        return trie

    def _readings(self, rows: list[int]) -> tuple[list[tuple[_Entry, int]], list[int]]:
        """Some rows of the name index as (entry, level order) and their level order for "coarsest"
        (9 for a generic name), made per first character as the trie is filled: a run that reads
        a few texts makes a few hundred of the 96k readings."""
        keys = self._keys
        # each column's rows by one C-level map; the entries made by tuple.__new__ (the
        # namedtuple's own __new__ is Python code, run for every reading filled)
        levels = list(map(keys["level"].__getitem__, rows))
        kinds = list(map(keys["kind"].__getitem__, rows))
        orders = list(map(_LEVEL_ORDER.__getitem__, levels))
        entries = map(functools.partial(tuple.__new__, _Entry),
                      zip(levels, map(keys["code"].__getitem__, rows), kinds,
                          map(bool, map(keys["old"].__getitem__, rows)), map(keys["label"].__getitem__, rows)))
        return (list(zip(entries, orders)),
                [9 if kind == "generic" else order for kind, order in zip(kinds, orders, strict=True)])

    @functools.cached_property
    def key_hashes(self) -> _KeyHashes | None:
        """The name index as sorted 64-bit hashes of every key and every proper prefix of a key
        (two characters or more), for :func:`_share_spans`; None in the (never seen) case of two
        keys with one hash, where texts are read one by one."""
        names = self._names
        lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        chars = np.frombuffer("".join(names).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        starts = np.cumsum(lengths) - lengths
        numbers = np.arange(len(names), dtype=np.int64)
        hashes, keys, more = [], [], []
        state = np.zeros(len(names), dtype=np.uint64)
        for length in range(1, self.max_len + 1):
            live = lengths >= length
            numbers, starts, lengths, state = numbers[live], starts[live], lengths[live], state[live]
            state = state * _HASH_BASE + chars[starts + length - 1]
            if length >= 2:
                hashes.append(state)
                keys.append(np.where(lengths == length, numbers, -1))
                more.append(lengths > length)
        hashes, keys, more = np.concatenate(hashes), np.concatenate(keys), np.concatenate(more)
        order = np.argsort(hashes, kind="stable")
        hashes, keys, more = hashes[order], keys[order], more[order]
        first = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
        if (np.add.reduceat((keys >= 0).astype(np.int64), first) > 1).any():
            return None
        rows = np.array(self._bounds, dtype=np.int64).reshape(-1, 2)
        level = np.array(list(map(_LEVEL_ORDER.__getitem__, self._keys["level"])), dtype=np.int64)
        coarse = np.where(np.array(self._keys["kind"], dtype=object) == "generic", 9, level)
        return _KeyHashes(hashes[first], np.maximum.reduceat(keys, first), np.logical_or.reduceat(more, first),
                          np.minimum.reduceat(coarse, rows[:, 0]), rows[:, 1] - rows[:, 0], level[rows[:, 0]])

    @functools.cached_property
    def row_table(self) -> _RowTable:
        """The name index's readings as arrays (for :func:`_score_share`), with every code they
        and the current counties name."""
        keys = self._keys
        codes: dict[str, int] = {}
        code = np.array([codes.setdefault(c, len(codes)) for c in keys["code"]], dtype=np.int64)
        for r in self.cur_info.values():
            codes.setdefault(r["prefecture_code"], len(codes))
            codes.setdefault(r["province_code"], len(codes))
        for c in list(codes):
            codes.setdefault(c[:2] + "0000", len(codes))
        n = len(codes)
        is_current = np.zeros(n, dtype=bool)
        prefecture = np.full(n, -1, dtype=np.int64)
        province = np.full(n, -1, dtype=np.int64)
        for c, r in self.cur_info.items():
            number = codes[c]
            is_current[number] = True
            prefecture[number] = codes[r["prefecture_code"]]
            province[number] = codes[r["province_code"]]
        province_of = np.array([codes[c[:2] + "0000"] for c in codes], dtype=np.int64)
        level = np.array(list(map(_LEVEL_ORDER.__getitem__, keys["level"])), dtype=np.int64)
        kind = np.array(list(map(_KIND_IDS.__getitem__, keys["kind"])), dtype=np.int64)
        old = np.array(list(map(bool, keys["old"])), dtype=bool)
        first = np.array([a for a, _b in self._bounds], dtype=np.int64)
        labels: dict[str, int] = {}
        label = np.array([labels.setdefault(name, len(labels)) for name in keys["label"]], dtype=np.int64)
        return _RowTable(level, code, kind, old, first, list(codes), is_current, prefecture, province,
                         province_of, label, list(labels))

    @functools.cached_property
    def code_numbers(self) -> np.ndarray:
        """Per code of :attr:`row_table`: the code as a number (-1 if not six digits)."""
        return np.array([int(c) if len(c) == 6 and c.isdigit() else -1 for c in self.row_table.codes],
                        dtype=np.int64)

    def row_entry(self, row: int) -> _Entry:
        """The reading of one row of the name index."""
        entry = self._row_entries.get(row)
        if entry is None:
            entry = self._row_entries[row] = self._readings([row])[0][0][0]
        return entry

    def key_readings(self, number: int) -> tuple[tuple[_Entry, int], ...]:
        """The readings of key ``number`` as (entry, level order), as the trie holds them."""
        readings = self._key_readings.get(number)
        if readings is None:
            a, b = self._bounds[number]
            readings = self._key_readings[number] = tuple(self._readings(list(range(a, b)))[0])
        return readings

    @functools.cached_property
    def index(self) -> dict[str, list[_Entry]]:
        """key → its readings (:class:`_Entry`), in the built table's order."""
        entries = [entry for entry, _order in self._readings(list(range(len(self._keys["key"]))))[0]]
        return {key: entries[a:b] for key, (a, b) in zip(self._names, self._bounds, strict=True)}

    @functools.cached_property
    def towns(self) -> pd.DataFrame:
        """Townships of current counties (for fragments and sound matching)."""
        return _current_towns()

    # -- villages: per county on demand (634k names; a global index is built only if asked) --
    @functools.cached_property
    def _village_rows(self) -> dict[str, str]:
        import pyarrow as pa
        import pyarrow.csv

        from kinmatch.data import table_file

        try:
            path = table_file("villages")
        except Exception:  # noqa: BLE001 - villages are optional in a slim install
            return {}
        # read with pyarrow, not load_table: the 2.4 MB table is two text columns (county, its
        # village names |-joined, none blank), read at every run; pandas' reader takes twice as long
        with path.open("rb") as handle:
            table = pyarrow.csv.read_csv(
                pa.CompressedInputStream(handle, "gzip") if path.name.endswith(".gz") else handle,
                read_options=pyarrow.csv.ReadOptions(use_threads=False),
                convert_options=pyarrow.csv.ConvertOptions(column_types={"county_code": pa.string(),
                                                                         "names": pa.string()}))
        return dict(zip(table.column("county_code").to_pylist(), table.column("names").to_pylist(), strict=True))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance per process (_gazetteer / _sound_index): nothing leaks
    def villages_of(self, county: str) -> dict[str, str]:
        """village key (full and short) → full name, for one county."""
        out: dict[str, str] = {}
        for name in _village_names_of(county, self).split("|"):
            if not name:
                continue
            out[name] = name
            # the suffix (村民委员会, 村委会, 居委会, 社区, 村) by its last character first: this
            # runs for every village of every county met, so no regex and few endswith calls
            last = name[-1]
            if last == "村":
                cut = 1
            elif last == "区":
                cut = 2 if name.endswith("社区") else 0
            elif last == "会":
                cut = 5 if name.endswith("村民委员会") else 3 if name.endswith(("村委会", "居委会")) else 0
            else:
                continue
            if cut and len(name) - cut >= 2:
                out.setdefault(name[:-cut], name)
        return out

    @functools.lru_cache(maxsize=16384)  # noqa: B019 - one instance per process (_gazetteer / _sound_index): nothing leaks
    def village_syllables(self, county: str, length: int) -> list[tuple[str, str, tuple[str, ...]]]:
        """One county's village keys of one length with their pinyin (for sound matching), from
        the built table :data:`VILLAGE_PINYIN` (or worked out here when that is stale)."""
        villages = self.villages_of(county)
        if not villages:
            return []
        groups = _village_pinyin_groups()
        if groups is None or county not in groups:
            return [(key, full, _syllables(key)) for key, full in villages.items() if len(key) == length]
        syllables = _village_pinyin_group(groups[county])[county]
        return [(key, full, tuple(syl.split())) for (key, full), syl
                in zip(villages.items(), syllables.split("|"), strict=True) if len(key) == length]

    def name_of(self, county: str | None, prefecture: str | None, province: str | None) -> str | None:
        if county and county in self.info:
            r = self.info[county]
            parts = [r["province"], r["prefecture"] if r["prefecture"] != r["province"] else "", r["name"]]
            if r["prefecture"] == r["name"]:
                parts[1] = ""
            return "".join(p for p in parts if isinstance(p, str))
        if prefecture and prefecture in self.pref_info:
            r = self.pref_info[prefecture]
            return self.provinces.get(r["province_code"], "") + r["name"]
        if province:
            return self.provinces.get(province)
        return None


@functools.lru_cache(maxsize=1)
def _gaz() -> _Gazetteer:
    # ~100k small acyclic objects: full collections while creating them would double the load
    with gc_paused():
        return _Gazetteer()


@functools.lru_cache(maxsize=1)
def _geo() -> dict[str, tuple[float, float]]:
    g = _gaz()
    xy = {c: (lon, lat) for c, lon, lat in zip(g.counties["code"], g.counties["lon"], g.counties["lat"], strict=True)
          if not (math.isnan(lon) or math.isnan(lat))}
    for c, r in g.prefectures.iterrows():
        xy.setdefault(c, (r["lon"], r["lat"]))
    for c, v in g.province_xy.items():
        xy.setdefault(c, v)
    return xy


def warm_up() -> None:
    """Build every lazily built index now (gazetteer, sound index, all counties' village tables and
    their pinyin; about a second). Call it before forking worker processes so that they share the
    indexes instead of each building its own; single-process use never needs it.

    >>> warm_up()
    """
    g = _gaz()
    g.fill_trie()
    for county in g.cur_info:
        g.villages_of(county)
    for group in sorted(set((_village_pinyin_groups() or {}).values())):
        _village_pinyin_group(group)
    _sound_index()._vocab_arrays(_families_for(None))


def county_info(code: str) -> dict | None:
    """The ``counties`` row of a code as a dict (None if unknown).

    >>> county_info("411627")["name"]
    '太康县'
    """
    g = _gaz()
    if code in g.counties.index:
        return g.counties.loc[code].to_dict()
    return None


# ------------------------------------------------------------------------------------------------
# exact scanning and scoring
# ------------------------------------------------------------------------------------------------

# evidence weights (see _score_counties); the ratios matter more than the values
_W_COUNTY = {("full", False): 1.0, ("short", False): 0.85, ("full", True): 0.85, ("short", True): 0.7,
             ("shadow", False): 0.5, ("shadow", True): 0.4,
             ("shadow_province", False): 0.3, ("shadow_province", True): 0.25,
             ("generic", False): 0.8, ("generic", True): 0.6}
_W_TOWN = {"full": 0.6, "short": 0.45, "shadow": 0.4}
_W_VILLAGE = {"full": 0.35, "short": 0.25}
_W_PREF, _W_PROV = 0.4, 0.25
_COUNTY_PART = {(kind, old): "county_" + kind + ("_old" if old else "") for kind, old in _W_COUNTY}
"""The ``parts`` label of a county reading by (kind, old)."""
_SHARPNESS = 6.0


_LEVEL_ORDER = {"province": 0, "prefecture": 1, "county": 2, "township": 3, "village": 4}


class _Hit(NamedTuple):
    start: int
    end: int
    entry: _Entry


def _scan(s: str, g: _Gazetteer) -> list[_Hit]:
    """Every gazetteer key found in ``s`` (overlaps allowed; containment resolved later): from
    :data:`_SCANNED` when ``s`` was scanned with others (:func:`scanning_together`), else by a
    walk of the trie."""
    n = len(s)
    if n < 2:
        return []
    if _SCANNED:
        hits = _SCANNED.get(s)
        if hits is not None:
            return list(hits)
    trie = g.trie
    # the last character begins no walk, so its part of the trie is not filled
    new = set(s[:-1]).difference(g.trie_chars)
    if new:  # the trie holds the keys of the characters met so far
        g.fill_trie(new)
    get = trie.get
    # no key has one character, and the trie holds every proper prefix of a key: a walk starts
    # at the node of the two characters at ``i`` (looked up for the whole text in one map), and
    # a position whose two characters begin no key is skipped without a slice
    spans = []   # (start, end, hits as (entry, level order)), each span once, in scan order
    # a key inside a longer key at the same place (周口 inside 周口市) adds nothing: ``outer``
    # holds (start, end, coarsest level) of each span with a non-generic key
    outer: list[tuple[int, int, int]] = []
    for i, node in enumerate(map(get, map(operator.add, s, s[1:]))):
        if node is None:
            continue
        j = i + 2
        while True:
            entries, more, coarsest = node
            if entries:
                spans.append((i, j, entries))
                if coarsest < 9:
                    outer.append((i, j, coarsest))
            # a node with ``more`` is a proper prefix of a key: shorter than the longest key
            if not more or j == n:
                break
            j += 1
            node = get(s[i:j])
            if node is None:
                break
    if not spans:
        return []
    # per span, the coarsest level of a strictly larger span around it: a hit survives when its
    # own level is coarser (same rule as comparing it with every outer span in turn)
    out = []
    span_cache = g.span_readings
    new_hit = tuple.__new__  # _Hit(i, j, entry) without the namedtuple's Python-level __new__
    for i, j, entries in spans:
        around = 9
        for a, b, o in outer:  # in scan order: by start, so none after the first that starts later
            if a > i:
                break
            if o < around and j <= b and (a != i or b != j):
                around = o
        if len(entries) == 1:  # most spans: one reading, nothing to compare it with
            entry, level = entries[0]
            if around > level:
                out.append(new_hit(_Hit, (i, j, entry)))
            continue
        # the readings a span keeps depend on its readings and ``around`` only: worked out once
        # per (key, around) (城关镇 alone is a township of hundreds of counties)
        cache_key = (id(entries), around)  # the trie holds each key's readings for the process
        kept = span_cache.get(cache_key)
        if kept is None:
            kept = span_cache[cache_key] = _span_readings(entries, around)
        out.extend([new_hit(_Hit, (i, j, entry)) for entry in kept])
    return out


_SCANNED: dict[str, tuple[_Hit, ...]] = {}
"""Cleaned text → its hits, for the texts :func:`scanning_together` scanned at once (read by
:func:`_scan`; emptied when that block ends)."""
_SCAN_TOGETHER_MIN = 64
"""From this many distinct texts :func:`scanning_together` scans them at once, also where the hashed
keys (:attr:`_Gazetteer.key_hashes`, a few hundredths of a second) are not built yet."""


@contextmanager
def scanning_together(texts):
    """Within the block, :func:`_scan` takes the hits of ``texts`` (cleaned as :func:`_candidates`
    cleans them) from one scan of them all (:func:`_share_spans`: arrays, no trie), instead of
    walking the trie text by text: the trie is filled for each first character met (~0.3 ms a
    character), which a few hundred short texts (the residents' statements) spend most of their
    scan on. Below :data:`_SCAN_TOGETHER_MIN` distinct texts, unless the hashed keys are built
    already, nothing is scanned ahead."""
    cleaned = list(dict.fromkeys(s for s in map(_clean, texts) if len(s) >= 2 and s not in _SCANNED))
    g = _gaz()
    if len(cleaned) >= _SCAN_TOGETHER_MIN or (cleaned and "key_hashes" in g.__dict__):
        _SCANNED.update(_hits_together(cleaned, g))
    try:
        yield
    finally:
        _SCANNED.clear()


def _hits_together(texts: list[str], g: _Gazetteer) -> dict[str, tuple[_Hit, ...]]:
    """Text → the hits :func:`_scan` finds in it, for ``texts`` scanned at once by
    :func:`_share_spans` (the same spans in the same order, and the same rule for the readings a
    span keeps); empty when the hashed keys are not usable."""
    spans = _share_spans(texts, g)
    if spans is None:
        return {}
    _chars, _offsets, text_of, local, size, key, around = spans
    hits: list[list[_Hit]] = [[] for _ in texts]
    kept_of = g.span_entries
    new_hit = tuple.__new__
    for t, i, n, k, o in zip(text_of.tolist(), local.tolist(), size.tolist(), key.tolist(), around.tolist(),
                             strict=True):
        readings = g.key_readings(k)
        if len(readings) == 1:
            entry, level = readings[0]
            if o > level:
                hits[t].append(new_hit(_Hit, (i, i + n, entry)))
            continue
        kept = kept_of.get((k, o))
        if kept is None:
            kept = kept_of[(k, o)] = _span_readings(readings, o)
        hits[t].extend([new_hit(_Hit, (i, i + n, entry)) for entry in kept])
    return dict(zip(texts, map(tuple, hits), strict=True))


class _ShareHits(NamedTuple):
    """The hits of a share's texts as arrays, in scan order (text by text, as :func:`_scan`)."""

    text: np.ndarray     # the text's number in the share
    start: np.ndarray    # in the text
    end: np.ndarray
    row: np.ndarray      # the reading's row of the name index
    kind: np.ndarray     # its kind (_KINDS), as the span keeps it (shadow readings)
    chars: np.ndarray    # the share's texts as code points, a NUL after each
    offsets: np.ndarray  # where each text begins in ``chars``


def _share_spans(texts: list[str], g: _Gazetteer):
    """The spans of ``texts`` that are keys, in scan order: (chars, offsets, text, start in the
    text, length, key number, coarsest level around), or None when the hashed keys are not
    usable (the caller scans text by text).

    The texts are joined (a NUL after each, which no key holds) into one array of code points;
    the trie walks of every start position advance together one character per step, each step a
    sorted search of the rolling hashes of the pieces among the hashed keys and prefixes
    (:attr:`_Gazetteer.key_hashes`); a hash found is a key only if the text equals it."""
    table = g.key_hashes
    if table is None:
        return None
    joined = "\0".join(texts) + "\0"
    chars = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    offsets = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
    nodes, node_key, node_more = table.nodes, table.key, table.more
    last = len(nodes) - 1
    # every position with two characters of one text begins a walk
    pos = np.flatnonzero((chars[:-1] != 0) & (chars[1:] != 0))
    state = chars[pos] * _HASH_BASE + chars[pos + 1]
    found_pos, found_len, found_key = [], [], []
    length = 2
    while len(pos):
        at = np.minimum(np.searchsorted(nodes, state), last)
        known = nodes[at] == state
        pos, state, at = pos[known], state[known], at[known]
        key = node_key[at]
        is_key = key >= 0
        found_pos.append(pos[is_key])
        found_key.append(key[is_key])
        found_len.append(np.full(int(is_key.sum()), length, dtype=np.int64))
        # a walk goes on while a longer key can follow and the text goes on (NUL ends it)
        on = node_more[at] & (chars[pos + length] != 0)
        pos, state = pos[on], state[on]
        state = state * _HASH_BASE + chars[pos + length]
        length += 1
    empty = np.zeros(0, dtype=np.int64)
    start = np.concatenate(found_pos) if found_pos else empty
    size = np.concatenate(found_len) if found_len else empty
    key = np.concatenate(found_key) if found_key else empty
    order = np.lexsort((size, start))   # scan order: by start, then by end
    start, size, key = start[order], size[order], key[order]
    if any(map(operator.ne, map(joined.__getitem__, map(slice, start.tolist(), (start + size).tolist())),
               map(g._names.__getitem__, key.tolist()))):
        return None  # a hash shared by a piece and a key (never seen): scan text by text
    end = start + size
    coarse = table.coarse[key]
    # per span, the coarsest level of a strictly larger span around it. A span around another
    # either starts before it (and ends no earlier), or starts with it and is longer; a span of
    # an earlier text ends before the span starts, so the texts need no separating. Per level,
    # the latest end of its spans starting before each span (a running maximum in scan order)
    # and of its spans with the same start say whether one lies around it.
    around = np.full(len(start), 9, dtype=np.int64)
    if len(start):
        group = np.flatnonzero(np.r_[True, start[1:] != start[:-1]])     # first span of each start
        sizes = np.diff(np.r_[group, len(start)])
        first_of = np.repeat(group, sizes)
        before = first_of - 1
        for level in sorted(set(coarse[coarse < 9].tolist()), reverse=True):
            ends = np.where(coarse == level, end, -1)
            latest = np.maximum.accumulate(ends)
            holds = (before >= 0) & (latest[np.maximum(before, 0)] >= end)
            holds |= np.repeat(np.maximum.reduceat(ends, group), sizes) > end
            around[holds] = level
    text_of = np.searchsorted(offsets, start, side="right") - 1
    return chars, offsets, text_of, start - offsets[text_of], size, key, around


def _share_hits(texts: list[str], g: _Gazetteer) -> _ShareHits | None:
    """The hits :func:`_scan` finds in each of ``texts``, as arrays in the same order (see
    :func:`_share_spans`): no Python object per hit."""
    spans = _share_spans(texts, g)
    if spans is None:
        return None
    chars, offsets, text_of, local, size, key, around = spans
    table, rows = g.key_hashes, g.row_table
    count = table.count[key]
    single = count == 1
    # a span with one reading keeps it when the span around it is coarser than the reading
    n_hits = (single & (around > table.level[key])).astype(np.int64)
    several = np.flatnonzero(~single)
    kept_rows: list[int] = []
    kept_kinds: list[int] = []
    if len(several):
        span_rows = g.share_span_rows
        numbers = []
        for k, o in zip(key[several].tolist(), around[several].tolist(), strict=True):
            kept = span_rows.get((k, o))
            if kept is None:
                kept = span_rows[(k, o)] = _span_rows(g, k, o)
            numbers.append(len(kept[0]))
            kept_rows.extend(kept[0])
            kept_kinds.extend(kept[1])
        n_hits[several] = numbers
    span = np.repeat(np.arange(len(key)), n_hits)
    row = rows.first[key[span]]
    from_several = ~single[span]
    row[from_several] = kept_rows
    kind = rows.kind[row]
    kind[from_several] = kept_kinds
    start = local[span]
    return _ShareHits(text_of[span], start, start + size[span], row, kind, chars, offsets)


def _span_rows(g: _Gazetteer, number: int, around: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """:func:`_span_readings` of key ``number`` as (rows, kinds): the readings kept are the key's
    readings in order, some of them with another kind."""
    readings = g.key_readings(number)
    kept = _span_readings(readings, around)
    first = g._bounds[number][0]
    out_rows, out_kinds = [], []
    j = 0
    for entry in kept:
        while readings[j][0][:2] != entry[:2] or readings[j][0][3:] != entry[3:]:
            j += 1
        out_rows.append(first + j)
        out_kinds.append(_KIND_IDS[entry.kind])
        j += 1
    return tuple(out_rows), tuple(out_kinds)


def _span_readings(entries: tuple, around: int) -> tuple[_Entry, ...]:
    """The readings one span of several keeps, given the coarsest level of a span around it."""
    span = [entry for entry, level in entries if around > level]
    # a span with one reading keeps it as is, since the rules below compare the readings of one
    # span with each other
    if len(span) <= 1:
        return tuple(span)
    current = [e for e in span if not e.old]
    if current:  # a name in use today beats the same name's past (襄阳市 over 襄阳县)
        span = current
    higher = {e.code for e in span if e.level in ("province", "prefecture")}
    by_province = any(e.level == "province" for e in span)
    has_coarse = any(e.level in ("province", "prefecture", "county") for e in span)
    out = []
    for e in span:
        if e.level == "county" and e.kind == "short" and higher and e.code not in higher:
            # 河南 is a province before it is 河南县; 周口 a prefecture before a district
            e = _Entry(e.level, e.code, "shadow_province" if by_province else "shadow", e.old, e.label)
        elif e.level == "township" and has_coarse:
            # 河南街道 only when the text also names its county (公主岭河南)
            e = _Entry(e.level, e.code, "shadow", e.old, e.label)
        out.append(e)
    return tuple(out)


@dataclass
class _Cand:
    level: str
    code: str                  # county code, or prefecture / province code for coarse levels
    evidence: float = 0.0
    parts: list = field(default_factory=list)
    township: str | None = None
    village: str | None = None
    old: bool = False
    sound: bool = False


def _overlaps(a: _Hit, b: _Hit) -> bool:
    return a.start < b.end and b.start < a.end


def _clear(h: _Hit, used: list[_Hit]) -> bool:
    """True when ``h`` overlaps none of ``used`` (a loop, not any(): this runs per hit per county)."""
    for u in used:
        if h.start < u.end and u.start < h.end:
            return False
    return True


def _score_counties(s: str, hits: list[_Hit], g: _Gazetteer) -> tuple[list[_Cand], list[_Hit]]:
    """The county readings of a text's hits (villages added), and its province and prefecture
    hits in scan order (for :func:`_coarse`)."""
    text_len = len(s) - s.count(_SEP)
    prov_hits, pref_hits, coarse_hits = [], [], []
    # per county code its county hits and its township hits, each in scan order
    by_county: dict[str, tuple[list[_Hit], list[_Hit]]] = {}
    for h in hits:  # one pass, by level
        entry = h.entry
        level = entry.level
        if level == "county" or level == "township":
            chits = by_county.get(entry.code)
            if chits is None:
                chits = by_county[entry.code] = ([], [])
            chits[level == "township"].append(h)
        elif level == "province":
            prov_hits.append(h)
            coarse_hits.append(h)
        elif level == "prefecture":
            pref_hits.append(h)
            coarse_hits.append(h)
    cands: list[_Cand] = []
    cur_info = g.cur_info
    for county, (county_hits, town_hits) in by_county.items():
        row = cur_info.get(county)
        if row is None:
            continue
        # the strongest county reading (the first of equals, as max() picks)
        best_county, best_weight = None, 0.0
        for h in county_hits:
            weight = _W_COUNTY[(h.entry.kind, h.entry.old)]
            if best_county is None or weight > best_weight:
                best_county, best_weight = h, weight
        prefecture_code = row["prefecture_code"]
        if best_county is not None and best_county.entry.kind == "generic":
            if not any(h.entry.code == prefecture_code for h in pref_hits):
                best_county = None
                if not town_hits:
                    continue
        # the evidence is summed in this order (float sums: the order is part of the result);
        # ``used`` is the hits already read as this county or its township (at most two)
        evidence, old, parts, township = 0.0, False, [], None
        if best_county is not None:
            evidence += best_weight
            old = best_county.entry.old
            used = [best_county]
            parts.append((_COUNTY_PART[(best_county.entry.kind, old)], s[best_county.start:best_county.end]))
            # a hit is clear of ``used`` when it does not overlap the county hit
            lo, hi = best_county.start, best_county.end
        else:
            used = []
            lo = hi = -1  # nothing read yet: every hit is clear
        pref_ok = [h for h in pref_hits if h.entry.code == prefecture_code
                   and (h.end <= lo or hi <= h.start)] if pref_hits else pref_hits
        province_code = row["province_code"]
        prov_ok = [h for h in prov_hits if h.entry.code == province_code
                   and (h.end <= lo or hi <= h.start)] if prov_hits else prov_hits
        # the strongest township reading by (weight, length), the first of equals as max() picks
        town, town_key = None, None
        for h in town_hits:
            if h.end <= lo or hi <= h.start:
                key = (_W_TOWN[h.entry.kind], h.end - h.start)
                if town is None or key > town_key:
                    town, town_key = h, key
        if town is not None:
            kind = town.entry.kind
            if kind == "shadow":
                supported = bool(best_county is not None or pref_ok)
            else:
                supported = bool(best_county is not None or pref_ok or prov_ok
                                 or (town.end - town.start) >= text_len - 1 or kind == "full")
            if supported:
                evidence += town_key[0]
                township = town.entry.label
                used.append(town)
                parts.append(("township_" + kind, s[town.start:town.end]))
        if best_county is None and township is None:
            continue
        if pref_ok:
            evidence += _W_PREF
            old = old or pref_ok[0].entry.old
            parts.append(("prefecture" + ("_old" if pref_ok[0].entry.old else ""),
                          s[pref_ok[0].start:pref_ok[0].end]))
        elif pref_hits:
            for h in pref_hits:
                if _clear(h, used):
                    evidence -= 0.1   # the text names another prefecture (maybe its old one)
                    break
        if prov_ok:
            evidence += _W_PROV
            parts.append(("province", s[prov_ok[0].start:prov_ok[0].end]))
        elif prov_hits or pref_hits:
            # the provinces the text names outside this reading (loops, not set comprehensions:
            # this runs for every rival county of a text that names a province or prefecture)
            others = set()
            for h in prov_hits:
                if _clear(h, used):
                    others.add(h.entry.code)
            for h in pref_hits:
                if _clear(h, used):
                    others.add(h.entry.code[:2] + "0000")
            if others and province_code not in others:
                evidence -= 0.3   # the text names another province
        cands.append(_Cand("county", county, evidence, parts, township, None, old))
    if cands:
        _add_villages(s, hits, cands, g)
    return cands, coarse_hits


_W_COUNTY_BY_KIND = np.full(2 * len(_KINDS), np.nan)
for (_kind, _old), _weight in _W_COUNTY.items():
    _W_COUNTY_BY_KIND[2 * _KIND_IDS[_kind] + _old] = _weight
_W_TOWN_BY_KIND = np.array([_W_TOWN.get(kind, np.nan) for kind in _KINDS])


def _first_of_groups(group: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(groups, position of each group's first item) ordering the items of each group by
    ``keys`` (the first key most significant; ties by position, as a stable sort)."""
    order = np.lexsort((np.arange(len(group)), *reversed(keys), group))
    grouped = group[order]
    first = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if len(order) else order
    return grouped[first], order[first]


def _score_share(texts: list[str], g: _Gazetteer):
    """:func:`_score_counties` of a share's texts at once, in arrays: per text its county
    readings with their villages (:func:`_share_villages`), its province and prefecture hits (for
    :func:`_coarse`) and None; or, when :data:`VILLAGE_KEYS` is not usable, its county readings
    *before* villages and its text with every province, prefecture and county hit blanked (for
    :func:`_villages_in`); and its text for village sound matching. None when the hashed keys are
    not usable. The evidence is summed in the same order as :func:`_score_counties` (each float
    addition is the same)."""
    hits = _share_hits(texts, g)
    if hits is None:
        return None
    rows = g.row_table
    t, hs, he, row, kind = hits.text, hits.start, hits.end, hits.row, hits.kind
    lev, code, old = rows.level[row], rows.code[row], rows.old[row]
    n_codes = len(rows.codes)
    labels = rows.labels
    text_len = np.array([len(s) - s.count(_SEP) for s in texts], dtype=np.int64)
    # county and township hits of current counties, grouped by (text, county) in order of first hit
    ct = np.flatnonzero(((lev == 2) | (lev == 3)) & rows.is_current[code])
    groups, group_of = np.unique(t[ct] * n_codes + code[ct], return_inverse=True)
    n = len(groups)
    gt, gcode = groups // n_codes, groups % n_codes
    first_hit = np.full(n, len(t), dtype=np.int64)
    np.minimum.at(first_hit, group_of, ct)
    # the strongest county reading, the first of equals
    is_county = lev[ct] == 2
    county_hits, county_group = ct[is_county], group_of[is_county]
    weight = _W_COUNTY_BY_KIND[2 * kind[county_hits] + old[county_hits]]
    best = np.full(n, -1, dtype=np.int64)
    best_weight = np.zeros(n)
    found, at = _first_of_groups(county_group, -weight)
    best[found], best_weight[found] = county_hits[at], weight[at]
    town_hits, town_group = ct[~is_county], group_of[~is_county]
    has_towns = np.zeros(n, dtype=bool)
    has_towns[town_group] = True
    # a generic county name (城区) only with its prefecture named
    pref = lev == 1
    named = np.unique(t[pref] * n_codes + code[pref])
    county_pref = rows.prefecture[gcode]
    generic = (best >= 0) & (kind[np.maximum(best, 0)] == _KIND_IDS["generic"])
    generic &= ~((county_pref >= 0) & np.isin(gt * n_codes + county_pref, named))
    best[generic] = -1
    dropped = generic & ~has_towns
    has_best = best >= 0
    lo = np.where(has_best, hs[np.maximum(best, 0)], -1)
    hi = np.where(has_best, he[np.maximum(best, 0)], -1)
    # (group, province or prefecture hit of its text) pairs, in scan order per group
    coarse = np.flatnonzero(lev <= 1)
    coarse_text = t[coarse]
    lo_pair, hi_pair = np.searchsorted(coarse_text, gt, "left"), np.searchsorted(coarse_text, gt, "right")
    count = hi_pair - lo_pair
    pair_group = np.repeat(np.arange(n), count)
    pair = coarse[lo_pair[pair_group] + np.arange(len(pair_group)) - np.repeat(np.cumsum(count) - count, count)]
    clear = (he[pair] <= lo[pair_group]) | (hi[pair_group] <= hs[pair])
    pref_ok = np.full(n, -1, dtype=np.int64)
    ok = np.flatnonzero((lev[pair] == 1) & (code[pair] == county_pref[pair_group]) & clear)
    found, at = _first_of_groups(pair_group[ok])
    pref_ok[found] = pair[ok[at]]
    county_prov = rows.province[gcode]
    prov_ok = np.full(n, -1, dtype=np.int64)
    ok = np.flatnonzero((lev[pair] == 0) & (code[pair] == county_prov[pair_group]) & clear)
    found, at = _first_of_groups(pair_group[ok])
    prov_ok[found] = pair[ok[at]]
    has_pref_ok, has_prov_ok = pref_ok >= 0, prov_ok >= 0
    # the strongest township reading clear of the county hit by (weight, length), first of equals
    clear_town = (he[town_hits] <= lo[town_group]) | (hi[town_group] <= hs[town_hits])
    town_hits, town_group = town_hits[clear_town], town_group[clear_town]
    town_weight = _W_TOWN_BY_KIND[kind[town_hits]]
    town = np.full(n, -1, dtype=np.int64)
    found, at = _first_of_groups(town_group, -town_weight, -(he[town_hits] - hs[town_hits]))
    town[found] = town_hits[at]
    has_town = town >= 0
    town_at = np.maximum(town, 0)
    town_kind = kind[town_at]
    supported = has_town & np.where(
        town_kind == _KIND_IDS["shadow"], has_best | has_pref_ok,
        has_best | has_pref_ok | has_prov_ok | (he[town_at] - hs[town_at] >= text_len[gt] - 1)
        | (town_kind == _KIND_IDS["full"]))
    keep = ~dropped & (has_best | supported)
    # the other prefectures and provinces the text names outside this reading (clear of the
    # county hit and of the township hit read)
    clear_used = clear & (~supported[pair_group] | (he[pair] <= hs[town_at[pair_group]])
                          | (he[town_at[pair_group]] <= hs[pair]))
    other_pref = np.zeros(n, dtype=bool)
    other_pref[pair_group[clear_used & (lev[pair] == 1)]] = True
    named_province = np.where(lev[pair] == 0, code[pair], rows.province_of[code[pair]])
    other_prov = np.zeros(n, dtype=bool)
    other_prov[pair_group[clear_used]] = True
    own_prov = np.zeros(n, dtype=bool)
    own_prov[pair_group[clear_used & (named_province == county_prov[pair_group])]] = True
    # the evidence, added in the order of _score_counties
    evidence = 0.0 + np.where(has_best, best_weight, 0.0)
    evidence = evidence + np.where(supported, _W_TOWN_BY_KIND[town_kind], 0.0)
    evidence = evidence + np.where(has_pref_ok, _W_PREF, np.where(other_pref, -0.1, 0.0))
    evidence = evidence + np.where(has_prov_ok, _W_PROV, np.where(other_prov & ~own_prov, -0.3, 0.0))
    cand_old = (has_best & old[np.maximum(best, 0)]) | (has_pref_ok & old[np.maximum(pref_ok, 0)])
    # the rest of each text for villages: province, prefecture and county hits blanked
    chars, offsets = hits.chars, hits.offsets
    blank = lev <= 2
    depth = np.zeros(len(chars) + 1, dtype=np.int64)
    np.add.at(depth, offsets[t[blank]] + hs[blank], 1)
    np.add.at(depth, offsets[t[blank]] + he[blank], -1)
    covered = np.cumsum(depth)[:-1] > 0
    rest = np.where(covered, np.uint64(ord(_SEP)), chars)
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(first_hit[kept], kind="stable")]
    # villages: of each text's three strongest county readings (a stable sort by evidence, as
    # _villages_in), looked up in arrays when the village keys are shipped, else text by text
    keys = _village_keys()
    villages: dict[int, tuple[str, str, str]] = {}
    if keys is not None:
        rests: list[str | None] = [None] * len(texts)
        by_strength = kept[np.lexsort((first_hit[kept], -evidence[kept], gt[kept]))]
        text_start = np.r_[True, gt[by_strength][1:] != gt[by_strength][:-1]]
        first_of_text = np.flatnonzero(text_start)
        place = np.arange(len(by_strength)) - first_of_text[np.cumsum(text_start) - 1]
        per_text = np.diff(np.r_[first_of_text, len(by_strength)])[np.cumsum(text_start) - 1]
        tried = by_strength[(per_text <= 3) | (place < 3)]
        codes = rows.codes
        found = _share_villages(rest, offsets, texts, gt[tried], g.code_numbers[gcode[tried]],
                                [codes[c] for c in gcode[tried].tolist()], keys)
        villages = {int(tried[cand]): value for cand, value in found.items()}
    else:
        rests = rest.astype(np.uint32).tobytes().decode("utf-32-le").split("\0")
    # ... and, for village sound matching (_rest_chunks), the township hits read as a candidate's
    # township blanked as well
    label = rows.label[row]
    read = supported & keep
    town_read = np.flatnonzero(lev == 3)
    town_read = town_read[np.isin(t[town_read] * len(labels) + label[town_read],
                                  gt[read] * len(labels) + label[town[read]])]
    np.add.at(depth, offsets[t[town_read]] + hs[town_read], 1)
    np.add.at(depth, offsets[t[town_read]] + he[town_read], -1)
    covered = np.cumsum(depth)[:-1] > 0
    leftovers = np.where(covered, ord(_SEP), chars).astype(np.uint32).tobytes().decode("utf-32-le").split("\0")
    # per text: its county readings in order of first hit, its province and prefecture hits
    out_cands: list[list[_Cand]] = [[] for _ in texts]
    codes = rows.codes
    kind, old, hs, he, row, label = (kind.tolist(), old.tolist(), hs.tolist(), he.tolist(), row.tolist(),
                                     label.tolist())
    for (i, text, county, ev, is_old, b, tw, sup, pok, prok) in zip(
            kept.tolist(), gt[kept].tolist(), gcode[kept].tolist(), evidence[kept].tolist(),
            cand_old[kept].tolist(), best[kept].tolist(), town[kept].tolist(), supported[kept].tolist(),
            pref_ok[kept].tolist(), prov_ok[kept].tolist(), strict=True):
        s = texts[text]
        parts = []
        township = None
        if b >= 0:
            parts.append((_COUNTY_PART[(_KINDS[kind[b]], old[b])], s[hs[b]:he[b]]))
        if sup:
            township = labels[label[tw]]
            parts.append(("township_" + _KINDS[kind[tw]], s[hs[tw]:he[tw]]))
        if pok >= 0:
            parts.append(("prefecture" + ("_old" if old[pok] else ""), s[hs[pok]:he[pok]]))
        if prok >= 0:
            parts.append(("province", s[hs[prok]:he[prok]]))
        village = None
        if i in villages:
            village, village_kind, piece = villages[i]
            ev += _W_VILLAGE[village_kind]
            parts.append(("village_" + village_kind, piece))
        out_cands[text].append(_Cand("county", codes[county], ev, parts, township, village, is_old))
    out_coarse: list[list[_Hit]] = [[] for _ in texts]
    entry_of, new_hit = g.row_entry, tuple.__new__
    for text, i in zip(t[coarse].tolist(), coarse.tolist(), strict=True):
        out_coarse[text].append(new_hit(_Hit, (hs[i], he[i], entry_of(row[i]))))
    return out_cands, out_coarse, rests, leftovers


def _add_villages(s: str, hits: list[_Hit], cands: list[_Cand], g: _Gazetteer) -> None:
    """Village names in the uncovered rest of the text, looked up in candidate counties only."""
    if not cands:
        return
    rest_chars = list(s)
    for h in hits:
        if h.entry.level in ("province", "prefecture", "county"):
            rest_chars[h.start:h.end] = _SEP * (h.end - h.start)
    _villages_in("".join(rest_chars), cands, g)


def _villages_in(rest: str, cands: list[_Cand], g: _Gazetteer) -> None:
    """:func:`_add_villages` given the text with its province, prefecture and county hits blanked."""
    chunks = [c for c in rest.split(_SEP) if len(c) >= 2]
    if not chunks:
        return
    # the pieces tried, in order: chunk by chunk, longest first, left to right; the first piece
    # that names a village of a county is its village (made once, tried in up to three counties)
    pieces = [chunk[i:i + n] for chunk in chunks for n in range(min(len(chunk), _VILLAGE_PIECE_MAX), 1, -1)
              for i in range(len(chunk) - n + 1)]
    # the three strongest (a stable sort by -evidence); each county's village is its own, so
    # with three candidates or fewer the order they are tried in does not matter
    tried = cands if len(cands) <= 3 else sorted(cands, key=_EVIDENCE, reverse=True)[:3]
    keys = _village_keys()
    if keys is None:  # no village table: each county's village dict
        for c in tried:
            vil = g.villages_of(c.code)
            # most texts name no village: one membership pass in C before the ordered search
            if not vil or vil.keys().isdisjoint(pieces):
                continue
            for found in pieces:
                if found in vil:
                    _add_village(c, vil[found], "full" if found == vil[found] else "short", found)
                    break
        return
    hashes = np.array(_piece_hashes(chunks), dtype=np.int64)
    for c in tried:
        if not c.code.isdigit():
            continue
        values = hashes | (int(c.code) << 32)
        at = np.searchsorted(keys, values)
        found = np.flatnonzero(keys[np.minimum(at, len(keys) - 1)] == values)
        for number in found.tolist():  # a value found is a village only if the county's names say so
            named = _village_named(c.code, pieces[number])
            if named is not None:
                _add_village(c, *named, pieces[number])
                break


def _add_village(c: _Cand, village: str, kind: str, piece: str) -> None:
    c.evidence += _W_VILLAGE[kind]
    c.village = village
    c.parts.append(("village_" + kind, piece))


_HASH_MASK = (1 << 64) - 1


def _piece_hashes(chunks: list[str]) -> list[int]:
    """The low 32 bits of :func:`_village_lookups` of the pieces :func:`_villages_in` tries, in
    its order, worked out in Python (the same 64-bit steps as the arrays; one text's few pieces
    cost less so than as arrays)."""
    base, mix, mask = int(_HASH_BASE), int(_VILLAGE_MIX), _HASH_MASK
    out: list[int] = []
    for chunk in chunks:
        codes = list(map(ord, chunk))
        # by_start[i][n - 1]: the hash of chunk[i:i + n]
        by_start = []
        for i in range(len(codes)):
            state, row = 0, []
            for code in codes[i:i + _VILLAGE_PIECE_MAX]:
                state = (state * base + code) & mask
                row.append(((state * mix) & mask) >> 32)
            by_start.append(row)
        for n in range(min(len(codes), _VILLAGE_PIECE_MAX), 1, -1):
            out += [by_start[i][n - 1] for i in range(len(codes) - n + 1)]
    return out


def _coarse(hits: list[_Hit], g: _Gazetteer) -> list[_Cand]:
    """Prefecture- or province-level readings when no county is named (``hits``: a text's hits,
    or only its province and prefecture hits, in scan order)."""
    out = []
    provs = {h.entry.code for h in hits if h.entry.level == "province"}
    for h in hits:
        e = h.entry
        if e.level == "prefecture":
            ev = (0.75 if e.kind == "full" else 0.65) - (0.1 if e.old else 0)
            parts = [("prefecture_" + e.kind + ("_old" if e.old else ""), e.label)]
            if e.code[:2] + "0000" in provs:
                ev += _W_PROV
                parts.append(("province", g.provinces.get(e.code[:2] + "0000", "")))
            elif provs:
                ev -= 0.3
            out.append(_Cand("prefecture", e.code, ev, parts, old=e.old))
        elif e.level == "province":
            out.append(_Cand("province", e.code, 0.4 if e.kind == "full" else 0.35,
                             [("province", e.label)]))
    best: dict[tuple, _Cand] = {}
    for c in out:
        key = (c.level, c.code)
        if key not in best or c.evidence > best[key].evidence:
            best[key] = c
    return list(best.values())


# ------------------------------------------------------------------------------------------------
# sound candidates (pinyin with dialect mergers)
# ------------------------------------------------------------------------------------------------

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
             "r", "z", "c", "s", "y", "w")


@functools.lru_cache(maxsize=4096)
def _split(syl: str) -> tuple[str, str]:
    for ini in _INITIALS:
        if syl.startswith(ini) and len(syl) > len(ini):
            return ini, syl[len(ini):]
    return "", syl


@functools.lru_cache(maxsize=65536)
def _keys(syl: str, families: tuple[str, ...]) -> frozenset:
    """The syllable and its dialect-merged forms; two syllables "meet" when these intersect.
    Same rules as the names' keys (:func:`kinmatch.normalize.phonetics.merged_keys` of one
    syllable: one fold per merger set of the families)."""
    from kinmatch.normalize.phonetics import fold_syllable, merger_sets
    return frozenset([fold_syllable(syl, ops) for ops in merger_sets(families)]) | {syl}


@functools.lru_cache(maxsize=512)
def _families_for(accent_area: str | None) -> tuple[str, ...]:
    """Merger families for a speaker's dialect area (all of them when the area is unknown)."""
    from kinmatch.normalize.phonetics import FAMILIES, area_families
    if not isinstance(accent_area, str) or not accent_area:
        return tuple(FAMILIES)
    return tuple(area_families(accent_area) or ())


@functools.lru_cache(maxsize=131072)
def _syllables(text: str) -> tuple[str, ...]:
    # pypinyin's reading, mostly from the shipped per-character table (see han_pinyin), else for a
    # name of the gazetteer from KEY_PINYIN: pypinyin itself, with its phrase dictionary, loads only
    # for another text that holds a phrase read otherwise
    if reads_by_character(text):
        readings = [reading for reading in map(char_default_pinyin, text) if reading]
    else:
        known = _key_pinyin().get(text)
        readings = known.split() if known is not None else han_pinyin(text)
    return tuple(p for p in readings if p.isalpha())


def _key_pinyin_rows() -> pd.DataFrame:
    """The gazetteer's names (keys of :data:`GAZETTEER_KEYS`) that pypinyin reads by phrase (重庆
    chong qing, 都江堰 du jiang yan), with that reading (space-joined), in index order: sound
    matching sounds out the names the scanner found, and these few hundred would otherwise import
    pypinyin and its phrase dictionary (a few tenths of a second) in a run that meets one of them.
    :data:`KEY_PINYIN` ships them built."""
    keys = dict.fromkeys(GAZETTEER_KEYS.columns()["key"])
    rows = [(key, " ".join(han_pinyin(key))) for key in keys if not reads_by_character(key)]
    return pd.DataFrame(rows, columns=["key", "pinyin"])


KEY_PINYIN = BuiltTable("key_pinyin", ("counties", "place_history", "townships"),
                        lambda: _gazetteer_recipe() + _pinyin_recipe(), _key_pinyin_rows)
"""Pinyin of the gazetteer's names that pypinyin reads by phrase (:func:`_key_pinyin_rows`), shipped built."""


@functools.lru_cache(maxsize=1)
def _key_pinyin() -> dict[str, str]:
    table = KEY_PINYIN.columns()
    return dict(zip(table["key"], table["pinyin"], strict=True))


def _sound_rows() -> pd.DataFrame:
    """Every county, prefecture and township short name with its pinyin (syllables space-joined),
    the rows :class:`_SoundIndex` reads; :data:`SOUND_NAMES` ships them built. County and
    township pinyin comes from the gazetteer where it spells the short name, else pypinyin."""
    g = _gaz()
    rows = []  # (level, code, short, full, syllables)
    for r in g.current.itertuples(index=False):
        if r.short_name in _GENERIC or re.search(r"开发区|高新|经开|园区|示范区|管理", r.name):
            continue
        syl = tuple(r.pinyin.split()) if isinstance(r.pinyin, str) and r.pinyin else ()
        if len(syl) > len(r.short_name) and r.name.startswith(r.short_name):
            syl = syl[: len(r.short_name)]  # AreaCity spells some full names (nai man qi)
        if len(syl) != len(r.short_name):
            syl = _syllables(r.short_name)
        if len(syl) == len(r.short_name):
            rows.append(("county", r.code, r.short_name, r.name, syl))
    for code, r in g.prefectures.iterrows():
        if code[:2] in ("11", "12", "31", "50"):
            continue
        short = _PREF_SUFFIX.sub("", r["name"])
        rows.append(("prefecture", code, short, r["name"], _syllables(short)))
    for r in g.towns.itertuples(index=False):
        syl = tuple(r.pinyin.split()) if isinstance(r.pinyin, str) and r.pinyin else ()
        rows.append(("township", r.county_code, r.short_name, r.name, syl or _syllables(r.short_name)))
    return pd.DataFrame([(*row[:4], " ".join(row[4])) for row in rows],
                        columns=["level", "code", "short", "full", "syllables"])


def _pinyin_recipe() -> str:
    """What pinyin tables depend on besides their inputs: pypinyin's dictionaries (its version),
    read without importing pypinyin (its phrase dictionary takes a few tenths of a second)."""
    return repr((1, library_version("pypinyin")))


SOUND_NAMES = BuiltTable("sound_names", ("counties", "place_history", "townships"),
                         lambda: _gazetteer_recipe() + _pinyin_recipe(), _sound_rows)
"""Short names with their pinyin for sound matching (:func:`_sound_rows`), shipped built."""


def _village_pinyin(counties: list[str] | None = None) -> pd.DataFrame:
    """Per county (default: every county with villages), the pinyin of every key of
    :meth:`_Gazetteer.villages_of` in its order (syllables space-joined, keys ``|``-joined): what
    :meth:`_Gazetteer.village_syllables` reads. :data:`VILLAGE_PINYIN` ships it built."""
    g = _gaz()
    rows = [(county, "|".join(" ".join(_syllables(key)) for key in g.villages_of(county)))
            for county in (g._village_rows if counties is None else counties)]
    return pd.DataFrame(rows, columns=["county_code", "syllables"])


VILLAGE_PINYIN = BuiltTable("village_pinyin", ("villages",), _pinyin_recipe, _village_pinyin, row_group_size=64)
"""Pinyin of every county's village names (:func:`_village_pinyin`), shipped built in row groups of
64 counties: a run reads the groups of the counties it sounds out, not 13 MB of pinyin."""


def _village_names() -> pd.DataFrame:
    """The shipped ``villages`` table (county code, its village names ``|``-joined), in its order:
    :data:`VILLAGE_NAMES` ships it in row groups, so that a run reads the groups of the counties
    it meets instead of the whole table."""
    villages = load_table("villages")
    return pd.DataFrame({"county_code": villages["county_code"].tolist(), "names": villages["names"].tolist()})


VILLAGE_NAMES = BuiltTable("village_names", ("villages",), lambda: "1", _village_names, row_group_size=64)
"""The village names of every county (:func:`_village_names`), shipped built in row groups of 64
counties (a run that meets a few counties reads a few groups, not the 2.4 MB table)."""


def _county_row_groups(parquet: Any) -> dict[str, int]:
    """county → the row group of a built table (rows sorted by ``county_code``) that holds it."""
    counties = parquet.read(columns=["county_code"], use_threads=False).column(0).to_pylist()
    sizes = [parquet.metadata.row_group(group).num_rows for group in range(parquet.num_row_groups)]
    return dict(zip(counties, np.repeat(np.arange(len(sizes)), sizes).tolist(), strict=True))


@functools.lru_cache(maxsize=1)
def _village_name_groups() -> dict[str, int] | None:
    """county → its row group in :data:`VILLAGE_NAMES`; None when that table is stale or absent (then
    the whole villages table is read)."""
    try:
        parquet = VILLAGE_NAMES.open()
    except Exception:  # noqa: BLE001 - villages are optional in a slim install
        return None
    if parquet is None:
        return None
    return _county_row_groups(parquet)


@functools.lru_cache(maxsize=None)
def _village_name_group(group: int) -> dict[str, str]:
    """county → its village names, for one row group of :data:`VILLAGE_NAMES` (the file is opened
    per read: forked workers share no file position)."""
    import pyarrow.parquet as pq

    from kinmatch.data import built_path

    table = pq.ParquetFile(built_path(VILLAGE_NAMES.name), memory_map=True).read_row_group(
        group, columns=["county_code", "names"], use_threads=False)
    return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def _village_names_of(county: str, g: _Gazetteer) -> str:
    """One county's village names, ``|``-joined ("" when it has none)."""
    groups = _village_name_groups()
    if groups is None:
        return g._village_rows.get(county, "")
    group = groups.get(county)
    return "" if group is None else _village_name_group(group).get(county, "")


_VILLAGE_PIECE_MAX = 8
"""The longest piece of a text looked up as a village name (:func:`_villages_in`)."""
_VILLAGE_MIX = np.uint64(0x9E3779B97F4A7C15)
"""Multiplier that spreads a piece's rolling hash before its high 32 bits are kept."""
_VILLAGE_SUFFIXES = frozenset(("村", "社区", "村委会", "居委会", "村民委员会"))
"""What :meth:`_Gazetteer.villages_of` cuts off a village name for its short key."""


def _village_lookups(state: np.ndarray, county: np.ndarray) -> np.ndarray:
    """The values :data:`VILLAGE_KEYS` holds for texts in counties: the county (a 6-digit code as
    a number) in the high 32 bits, a 32-bit hash of the text in the low ones. ``state`` is the
    text's rolling hash (h → h·B + c from 0 over its code points, B = :data:`_HASH_BASE`, as
    :func:`_share_spans` steps it), spread by a multiplication; never Python's salted ``hash``."""
    return (county.astype(np.int64) << 32) | ((state * _VILLAGE_MIX) >> np.uint64(32)).astype(np.int64)


def _village_key_table() -> pd.DataFrame:
    """:data:`VILLAGE_KEYS`: the distinct lookup values (:func:`_village_lookups`) of every
    county's village keys (:meth:`_Gazetteer.villages_of`, full names and short forms) of 2 to
    :data:`_VILLAGE_PIECE_MAX` characters, sorted."""
    g = _gaz()
    keys: list[str] = []
    county: list[int] = []
    for code in load_table("villages")["county_code"].tolist():
        found = [key for key in g.villages_of(code) if 2 <= len(key) <= _VILLAGE_PIECE_MAX]
        keys += found
        county += [int(code)] * len(found)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    chars = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.cumsum(lengths) - lengths
    state = np.zeros(len(keys), dtype=np.uint64)
    for offset in range(_VILLAGE_PIECE_MAX):
        live = np.flatnonzero(lengths > offset)
        state[live] = state[live] * _HASH_BASE + chars[starts[live] + offset]
    return pd.DataFrame({"lookup": np.unique(_village_lookups(state, np.array(county, dtype=np.int64)))})


VILLAGE_KEYS = BuiltTable(
    "village_keys", ("villages",), lambda: f"1 {_HASH_BASE} {_VILLAGE_MIX} {_VILLAGE_PIECE_MAX}", _village_key_table,
    # sorted 64-bit values: stored as deltas (4 MB instead of 10, read in ~5 ms), not compressed
    options={"compression": "none", "use_dictionary": False, "column_encoding": {"lookup": "DELTA_BINARY_PACKED"}})
"""Every county's village keys as sorted 64-bit values (:func:`_village_key_table`): a share's
pieces of text are looked up among them in arrays (:func:`_share_villages`) instead of building
each county's village dict; a value found is checked against the county's names
(:func:`_village_named`), since two texts may share a hash."""


@functools.lru_cache(maxsize=1)
def _village_keys() -> np.ndarray | None:
    """The values of :data:`VILLAGE_KEYS`; None when the shipped table is stale or absent (then
    villages are looked up text by text in :meth:`_Gazetteer.villages_of`)."""
    import pyarrow.parquet as pq

    from kinmatch.data import built_path

    try:
        fresh = VILLAGE_KEYS.open() is not None
    except Exception:  # noqa: BLE001 - villages are optional in a slim install
        return None
    if not fresh:
        return None
    # memory-mapped: the 4 MB file is not copied into a buffer first (~5 ms instead of 15-30)
    return pq.ParquetFile(built_path(VILLAGE_KEYS.name), memory_map=True).read(use_threads=False).column(
        "lookup").to_numpy()


@functools.lru_cache(maxsize=4096)
def _village_list(county: str) -> str:
    """One county's village names with a bar before and after each."""
    return "|" + _village_names_of(county, _gaz()) + "|"


def _village_named(county: str, piece: str) -> tuple[str, str] | None:
    """``(village, "full" or "short")`` that ``piece`` names in ``county``, as
    ``villages_of(county).get(piece)`` reads it, or None, from the county's names alone: a piece
    that is a village's name is that village, else the first village whose name is the piece
    and one of :data:`_VILLAGE_SUFFIXES` (the name the short key stands for)."""
    names = _village_list(county)
    if "|" + piece + "|" in names:
        return piece, "full"
    head = "|" + piece
    at = names.find(head)
    while at >= 0:
        end = names.find("|", at + len(head))
        if names[at + len(head):end] in _VILLAGE_SUFFIXES:
            return names[at + 1:end], "short"
        at = names.find(head, end)
    return None


def _share_villages(rest: np.ndarray, offsets: np.ndarray, texts: list[str], cand_text: np.ndarray,
                    cand_county: np.ndarray, cand_code: list[str], keys: np.ndarray) -> dict[int, tuple[str, str, str]]:
    """:func:`_villages_in` for some county readings of a share's texts at once: reading number
    → (village, "full" or "short", the piece read as it), for the readings whose county has a
    village that a piece of its text names (the first such piece in :func:`_villages_in`'s order:
    chunk by chunk, longest first, left to right).

    ``rest``: the share's code points (a NUL after each text) with the province, prefecture and
    county hits blanked; ``cand_text``, ``cand_county``, ``cand_code``: each reading's text, county
    code as a number and as text. Every piece of 2 to :data:`_VILLAGE_PIECE_MAX` characters of a
    chunk is hashed; a (county, piece) whose value is in ``keys`` is read by
    :func:`_village_named`, which says whether the piece really names a village there."""
    if not len(cand_text):
        return {}
    text_of = np.repeat(np.arange(len(texts)), np.diff(np.r_[offsets, len(rest)]))   # per code point
    wanted = np.zeros(len(texts), dtype=bool)
    wanted[cand_text] = True
    valid = wanted[text_of] & (rest != ord(_SEP)) & (rest != 0)   # in the texts with a reading to try
    pos = np.flatnonzero(valid)
    if not len(pos):
        return {}
    gaps = np.flatnonzero(~valid)             # every text ends with a NUL: each chunk has an end
    after = np.searchsorted(gaps, pos)
    run_end = gaps[after]
    chunk = np.where(after > 0, gaps[np.maximum(after - 1, 0)] + 1, 0)
    state = rest[pos]
    found_pos, found_len, found_state, found_chunk = [], [], [], []
    for length in range(2, _VILLAGE_PIECE_MAX + 1):
        fits = pos + length <= run_end
        pos, run_end, chunk, state = pos[fits], run_end[fits], chunk[fits], state[fits]
        if not len(pos):
            break
        state = state * _HASH_BASE + rest[pos + length - 1]
        found_pos.append(pos)
        found_len.append(np.full(len(pos), length, dtype=np.int64))
        found_state.append(state)
        found_chunk.append(chunk)
    if not found_pos:
        return {}
    p, n, h = np.concatenate(found_pos), np.concatenate(found_len), np.concatenate(found_state)
    order = np.lexsort((p, -n, np.concatenate(found_chunk)))     # _villages_in's order of pieces
    p, n, h = p[order], n[order], h[order]
    piece_text = text_of[p]
    # (reading, piece of its text) pairs, in the pieces' order per reading
    lo, hi = np.searchsorted(piece_text, cand_text, "left"), np.searchsorted(piece_text, cand_text, "right")
    count = hi - lo
    pair_cand = np.repeat(np.arange(len(cand_text)), count)
    piece = lo[pair_cand] + np.arange(len(pair_cand)) - np.repeat(np.cumsum(count) - count, count)
    lookup = _village_lookups(h[piece], cand_county[pair_cand])
    # searched in sorted order: each search then starts where the last ended, in memory already
    # read (several times faster over the 10 MB of keys than searching in the pairs' order)
    by_value = np.argsort(lookup)
    at = np.empty(len(lookup), dtype=np.intp)
    at[by_value] = np.minimum(np.searchsorted(keys, lookup[by_value]), len(keys) - 1)
    found = keys[at] == lookup
    out: dict[int, tuple[str, str, str]] = {}
    hit = np.flatnonzero(found)
    local = p[piece[hit]] - offsets[piece_text[piece[hit]]]
    for cand, start, length in zip(pair_cand[hit].tolist(), local.tolist(), n[piece[hit]].tolist(), strict=True):
        if cand in out:
            continue
        text = texts[cand_text[cand]]
        named = _village_named(cand_code[cand], text[start:start + length])
        if named is not None:
            out[cand] = (*named, text[start:start + length])
    return out


@functools.lru_cache(maxsize=1)
def _village_pinyin_groups() -> dict[str, int] | None:
    """county → its row group in :data:`VILLAGE_PINYIN`; None when the shipped table is stale (then
    each county is sounded out when first met, as the builder does)."""
    parquet = VILLAGE_PINYIN.open()
    if parquet is None:
        return None
    return _county_row_groups(parquet)


@functools.lru_cache(maxsize=None)
def _village_pinyin_group(group: int) -> dict[str, str]:
    """county → syllables of one row group of :data:`VILLAGE_PINYIN` (the file is opened per read:
    forked workers share no file position)."""
    import pyarrow.parquet as pq

    from kinmatch.data import built_path

    table = pq.ParquetFile(built_path(VILLAGE_PINYIN.name)).read_row_group(
        group, columns=["county_code", "syllables"], use_threads=False)
    return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


class _SoundGroup(NamedTuple):
    """The short names of one syllable count, as columns (one row per name, table order)."""
    ids: np.ndarray        # (names × syllables) syllable ids
    level: np.ndarray      # object arrays: county / prefecture / township,
    code: np.ndarray       # the county (of a township too) or prefecture code,
    short: np.ndarray      # short name
    full: np.ndarray       # and full name
    township: np.ndarray   # bool: a township's name
    around: np.ndarray     # (names × 3) numbers (_SoundIndex.code_ids) of the code, its province
    #                        and its prefecture (a prefecture's: itself; -1: none), for context


@functools.lru_cache(maxsize=1)
def _sound_name_table():
    """:data:`SOUND_NAMES` as a ``pyarrow.Table``, read once (the sound index and the fragment
    index); computed here, with a warning, when the shipped file is stale."""
    import pyarrow as pa

    parquet = SOUND_NAMES.open()
    if parquet is not None:
        return parquet.read(use_threads=False)
    return pa.Table.from_pandas(SOUND_NAMES.compute(), preserve_index=False)


@functools.lru_cache(maxsize=1)
def _sound_name_arrays() -> dict[str, np.ndarray]:
    """The level, code, short and full name columns of :data:`SOUND_NAMES` as object arrays."""
    table = _sound_name_table()
    return {name: table.column(name).to_numpy(zero_copy_only=False).astype(object, copy=False)
            for name in ("level", "code", "short", "full")}


class _SoundIndex:
    """Pinyin of every county / prefecture / township short name as syllable-id arrays, one group
    per syllable count; distances between syllables as one matrix per set of merger families."""

    def __init__(self, g: _Gazetteer) -> None:
        import pyarrow.compute as pc

        table = _sound_name_table()
        # every syllable of every name numbered in one pass (arrow's dictionary encoding; the
        # numbering is internal: distances are looked up by number); a group keeps the names of
        # n = 2-5 syllables, one per character
        spelled = pc.split_pattern(table.column("syllables").combine_chunks(), " ")
        counts = pc.list_value_length(spelled).to_numpy(zero_copy_only=False).astype(np.int64)
        encoded = pc.list_flatten(spelled).dictionary_encode()
        flat = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        starts = np.cumsum(counts) - counts
        lengths = pc.utf8_length(table.column("short")).to_numpy(zero_copy_only=False)
        columns = _sound_name_arrays()
        self.words: list[str] = encoded.dictionary.to_pylist()
        self.vocab = {word: number for number, word in enumerate(self.words)}
        around = self._around(table.column("code").combine_chunks().dictionary_encode(), columns["level"], g)
        self.groups: dict[int, _SoundGroup] = {}
        for n in range(2, 6):
            rows = np.flatnonzero((counts == n) & (lengths == n))
            if not len(rows):
                continue
            level = columns["level"][rows]
            self.groups[n] = _SoundGroup(flat[starts[rows][:, None] + np.arange(n)], level, columns["code"][rows],
                                         columns["short"][rows], columns["full"][rows], level == "township",
                                         around[rows])

    def _around(self, encoded, level: np.ndarray, g: _Gazetteer) -> np.ndarray:
        """Per name (table order): the numbers of its code, its province's code and its
        prefecture's code (a county's or township's from the gazetteer, a prefecture's its own),
        numbered in :attr:`code_ids`: a reading is "in context" when one of them is."""
        distinct = encoded.dictionary.to_pylist()
        self.code_ids: dict[str, int] = {code: number for number, code in enumerate(distinct)}
        ids = self.code_ids
        province, prefecture = [], []
        for code in distinct:  # a few thousand codes, not one lookup per name
            province.append(ids.setdefault(code[:2] + "0000", len(ids)))
            info = g.cur_info.get(code)
            prefecture.append(-1 if info is None else ids.setdefault(info["prefecture_code"], len(ids)))
        own = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        of_prefecture = np.where(level == "prefecture", own, np.array(prefecture, dtype=np.int64)[own])
        return np.stack([own, np.array(province, dtype=np.int64)[own], of_prefecture], axis=1)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one instance per process (_gazetteer / _sound_index): nothing leaks
    def _vocab_arrays(self, families: tuple[str, ...]):
        parts = [_split(w) for w in self.words]
        key_ids: dict[str, int] = {}
        word_of, key_of = [], []   # incidence pairs: vocabulary syllable × merged key
        for k, w in enumerate(self.words):
            for key in _keys(w, families):
                word_of.append(k)
                key_of.append(key_ids.setdefault(key, len(key_ids)))
        return (np.array(self.words, dtype=object), np.array([p[0] for p in parts], dtype=object),
                np.array([p[1] for p in parts], dtype=object), key_ids,
                np.array(word_of, dtype=np.int64), np.array(key_of, dtype=np.int64))

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - one instance per process (_gazetteer / _sound_index): nothing leaks
    def distance_row(self, syl: str, families: tuple[str, ...]) -> np.ndarray:
        """Distance of ``syl`` to every vocabulary syllable: 0 same, 0.25 same after a dialect
        merger, 0.5 one of initial/final differs (yao~yue), 1 otherwise."""
        words, inis, fins, key_ids, word_of, key_of = self._vocab_arrays(families)
        qi, qf = _split(syl)
        wanted = [key_ids[k] for k in _keys(syl, families) if k in key_ids]
        merged = np.zeros(len(words), dtype=bool)
        merged[word_of[np.isin(key_of, wanted)]] = True
        one_part = (inis == qi) | (fins == qf)
        out = np.where(words == syl, 0.0, np.where(merged, 0.25, np.where(one_part, 0.5, 1.0)))
        return out.astype(np.float32)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one instance per process (_gazetteer / _sound_index): nothing leaks
    def distances(self, families: tuple[str, ...]) -> np.ndarray:
        """:meth:`distance_row` of every vocabulary syllable at once (row ``i``: from syllable ``i``),
        the same values: a few array operations per set of families instead of one row per syllable."""
        from kinmatch.normalize.phonetics import merger_sets

        # merged key → the syllables that have it (a syllable's keys: :func:`_keys`, itself and its
        # fold by each merger set, the folds shared by every set of families that holds the set)
        sharing: dict[str, set[int]] = defaultdict(set)
        for i, word in enumerate(self.words):
            sharing[word].add(i)
        for ops in merger_sets(families):
            for i, key in enumerate(self._folds(ops)):
                sharing[key].add(i)
        out = self._one_part.copy()
        rows: list[int] = []
        cols: list[int] = []
        for members in sharing.values():  # every pair of syllables sharing a key, set at once
            if len(members) > 1:
                for i in members:
                    rows.extend([i] * len(members))
                    cols.extend(members)
        out[rows, cols] = 0.25
        np.fill_diagonal(out, 0.0)
        return out

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one instance per process (_gazetteer / _sound_index): nothing leaks
    def _folds(self, ops: tuple[str, ...]) -> list[str]:
        """Every vocabulary syllable folded by one merger set (``phonetics.fold_syllable``)."""
        from kinmatch.normalize.phonetics import fold_syllable

        return [fold_syllable(word, ops) for word in self.words]

    @functools.cached_property
    def _one_part(self) -> np.ndarray:
        """0.5 between two vocabulary syllables of the same initial or the same final, else 1
        (float32): the distances before any merger."""
        parts = [_split(word) for word in self.words]
        ini = np.unique([p[0] for p in parts], return_inverse=True)[1]
        fin = np.unique([p[1] for p in parts], return_inverse=True)[1]
        one_part = (ini[:, None] == ini[None, :]) | (fin[:, None] == fin[None, :])
        return np.where(one_part, 0.5, 1.0).astype(np.float32)

    @functools.lru_cache(maxsize=8)  # noqa: B019 - one instance per process (_gazetteer / _sound_index): nothing leaks
    def _by_first(self, n: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, list[int]]:
        """Group ``n`` sorted by first syllable (stable): the rows in that order, each position's
        syllable ids in that order (contiguous), positions 0..len, and where each vocabulary
        syllable's rows begin and end."""
        ids = self.groups[n].ids
        order = np.argsort(ids[:, 0], kind="stable")
        columns = [np.ascontiguousarray(ids[order, pos]) for pos in range(n)]
        bounds = np.concatenate(([0], np.cumsum(np.bincount(ids[:, 0], minlength=len(self.words))))).tolist()
        return order, columns, np.arange(len(order)), bounds

    def search_rows(self, syl: tuple[str, ...], families: tuple[str, ...], min_sim: float
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the group of ``len(syl)`` syllables whose similarity ``1 - mean distance`` is at
        least ``min_sim`` (ascending), and those similarities (float32)."""
        n = len(syl)
        group = self.groups.get(n)
        if group is None:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        table = self.distances(families)
        vocab = self.vocab
        rows_from = [table[vocab[s]] if s in vocab else self.distance_row(s, families) for s in syl]
        if n * (1.0 - min_sim) < 0.99:
            # one syllable at distance 1 already puts a name below min_sim: only the names whose
            # first syllable is near (distance < 1) can reach it, ~15% of the rows
            order, columns, positions, bounds = self._by_first(n)
            near = np.flatnonzero(rows_from[0] < 1.0).tolist()
            if not near:
                return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
            picked = np.concatenate([positions[bounds[u]:bounds[u + 1]] for u in near])
            d = np.zeros(len(picked), dtype=np.float32)
            for pos in range(n):
                d += rows_from[pos].take(columns[pos].take(picked))
        else:
            ids = group.ids
            d = np.zeros(len(ids), dtype=np.float32)
            for pos in range(n):
                d += rows_from[pos][ids[:, pos]]
            picked = None
        sim = 1.0 - d / n
        keep = np.flatnonzero(sim >= min_sim)
        if picked is None:
            return keep, sim[keep]
        found = order.take(picked.take(keep))
        ascending = np.argsort(found, kind="stable")
        return found.take(ascending), sim.take(keep).take(ascending)


@functools.lru_cache(maxsize=1)
def _sound_index() -> _SoundIndex:
    g = _gaz()
    with gc_paused():
        return _SoundIndex(g)


def _sound_candidates(chunks: list[str], context: set[str], g: _Gazetteer,
                      families: tuple[str, ...], limit: int = 30) -> list[_Cand]:
    """The ``limit`` strongest sound readings of ``chunks`` (a stable sort: equals in the order
    found, chunk by chunk, names in table order).

    A chunk's core (its unit word cut off) is compared with the short names of as many syllables
    (similarity ≥ 0.7; its own exact name skipped); a reading's evidence is 0.55 · similarity +
    0.15 · fuzz ratio, +0.08 when the full name ends in the chunk's unit word, else −0.1 for a
    county unit word on a township or a township unit word on a county or prefecture; +0.15 when
    the province, prefecture or county is in ``context``; without context a township counts only
    from a similarity of 0.85 and loses 0.1. The evidence of a chunk's readings is worked out as
    arrays, each step the same float operation in the same order as for one reading."""
    from rapidfuzz import fuzz

    idx = _sound_index()
    found = []  # per chunk: (evidence, group, rows, similarities, chunk, syllables)
    for chunk in chunks:
        chunk = _EDGE_FILLER.sub("", chunk)
        m = _UNIT_SUFFIX.search(chunk)
        suffix = m.group(1) if m else ""
        core = chunk[: m.start()] if m and len(chunk) - len(suffix) >= 2 else chunk
        if not 2 <= len(core) <= 5:
            continue
        syl = _syllables(core)
        if len(syl) != len(core):
            continue
        rows, sim32 = idx.search_rows(syl, families, 0.7)
        if not len(rows):
            continue
        group = idx.groups[len(syl)]
        keep = group.short[rows] != core  # exact names are the exact stage's business
        sim = sim32.astype(np.float64)
        township = group.township[rows]
        if not context:
            # 40k townships: without context only a dialect-merger match counts
            keep &= ~(township & (sim < 0.85))
        if not keep.all():
            rows, sim32, sim, township = rows[keep], sim32[keep], sim[keep], township[keep]
            if not len(rows):
                continue
        row_list = rows.tolist()
        shorts = group.short[rows].tolist()
        ratio = np.array([fuzz.ratio(core, short) for short in shorts], dtype=np.float64) / 100.0
        ev = 0.55 * sim + 0.15 * ratio
        if suffix:
            ends = np.array([full.endswith(suffix) for full in group.full[rows].tolist()], dtype=bool)
            ev[ends] += 0.08
            if suffix in ("县", "市", "区", "旗"):
                ev[~ends & township] -= 0.1
            elif suffix in ("镇", "乡", "街道"):
                ev[~ends & ~township] -= 0.1
        if context:
            # the reading's province, its code, or its prefecture (a prefecture's: itself) named
            wanted = [idx.code_ids[code] for code in context if code in idx.code_ids]
            if wanted:
                ev[np.isin(group.around[rows], wanted).any(axis=1)] += 0.15
        else:
            ev[township] -= 0.1
        found.append((ev, group, row_list, sim32, chunk, syl))
    if not found:
        return []
    # the strongest ``limit`` (a stable sort: equals in the order found), made into candidates;
    # their chunk, place in it, evidence and similarity taken as lists at once
    if len(found) > 1:
        evidence = np.concatenate([f[0] for f in found])
        sims = np.concatenate([f[3] for f in found])
        sizes = [len(f[0]) for f in found]
        chunk_of = np.repeat(np.arange(len(found)), sizes)
        start = np.cumsum([0] + sizes)
    else:
        evidence, sims, chunk_of, start = found[0][0], found[0][3], None, None
    best = np.argsort(-evidence, kind="stable")[:limit]
    if chunk_of is None:
        kept = zip(itertools.repeat(0), best.tolist())
    else:
        kept_chunk = chunk_of[best]
        kept = zip(kept_chunk.tolist(), (best - start[kept_chunk]).tolist())
    spelled = [" ".join(f[5]) for f in found]
    out = []
    for (n, j), ev, sim in zip(kept, evidence[best].tolist(), sims[best].tolist(), strict=True):
        _ev, group, row_list, _sim32, chunk, _syl = found[n]
        i = row_list[j]
        level, code, full = group.level[i], group.code[i], group.full[i]
        c = _Cand("county" if level in ("county", "township") else "prefecture", code, ev,
                  [("sound", f"{chunk}~{full} ({spelled[n]}, sim {sim:.2f})")], sound=True)
        if level == "township":
            c.township = full
        out.append(c)
    return out


def _village_sound(chunks: list[str], county: str, g: _Gazetteer, families) -> _Cand | None:
    """Best sound match of a leftover fragment among one county's villages (主猫鸭 ~ 朱马院)."""
    if not g.villages_of(county):
        return None
    best = None
    for chunk in chunks:
        core = _UNIT_SUFFIX.sub("", _EDGE_FILLER.sub("", chunk)) or chunk
        syl = _syllables(core)
        if not 2 <= len(syl) <= 5 or len(syl) != len(core):
            continue
        # per syllable of the fragment, its memo of distances to village syllables: one dict
        # lookup per pair instead of an lru_cache call that hashes the families tuple each time
        memos = [_distances_from(a, families) for a in syl]
        for _key, full, ks in g.village_syllables(county, len(core)):  # pinyin cached per county
            if len(ks) != len(syl):
                continue
            d = 0
            for memo, a, b in zip(memos, syl, ks, strict=True):
                step = memo.get(b)
                if step is None:
                    step = memo[b] = _syl_distance(a, b, families)
                d += step
            d /= len(syl)
            sim = 1 - d
            if sim >= 0.6 and (best is None or sim > best[0]):
                best = (sim, full, chunk)
    if best is None:
        return None
    return best


@functools.lru_cache(maxsize=4096)
def _distances_from(a: str, families: tuple[str, ...]) -> dict[str, float]:
    """A memo of :func:`_syl_distance` from ``a`` (filled as syllables are met)."""
    return {}


@functools.lru_cache(maxsize=65536)
def _syl_distance(a: str, b: str, families: tuple[str, ...]) -> float:
    if a == b:
        return 0.0
    if _keys(a, families) & _keys(b, families):
        return 0.25
    ai, af = _split(a)
    bi, bf = _split(b)
    return 0.5 if ai == bi or af == bf else 1.0


# ------------------------------------------------------------------------------------------------
# fragments (邻 → 邻水县, 邻鄂镇)
# ------------------------------------------------------------------------------------------------

_FRAGMENT_HINT = re.compile(r"(?:有个|带|带有|叫什么)?([\u4e00-\u9fff])字")


def _fragment_candidates(s: str, g: _Gazetteer) -> tuple[list[_Cand], _Cand | None]:
    """Counties whose name, or one of whose townships' names, holds the fragment's character.

    One candidate per county, as :func:`_rank` would keep of them (the first of its strongest
    names; a one-character fragment meets up to ~1,000 names), in the order the counties are
    first met; and the candidate that was the first of the strongest names overall (the reading
    a village sound match starts from), or None."""
    core = _EDGE_FILLER.sub("", s.replace(_SEP, ""))
    m = _FRAGMENT_HINT.search(core)
    chars = m.group(1) if m else (core if len(core) == 1 else "")
    if not chars:
        return [], None
    rows, top_code = _fragment_rows(chars)
    out, top = [], None
    for code, evidence, level, name in rows:
        c = _Cand("county", code, evidence, [("fragment", f"{chars} in {name}")])
        if level != "county":
            c.township = name
        out.append(c)
        if code == top_code:
            top = c
    return out, top


# a fragment's evidence: a county's name or a township's, +0.05 when the short name begins with it
_FRAGMENT_EVIDENCE = {(True, True): 0.35 + 0.05, (True, False): 0.35 + 0, (False, True): 0.25 + 0.05,
                      (False, False): 0.25 + 0}


_FRAGMENT_EVIDENCE_BY_NUMBER = np.array([_FRAGMENT_EVIDENCE[county, begins] for county in (False, True)
                                         for begins in (False, True)])
""":data:`_FRAGMENT_EVIDENCE` by 2 · (a county's name) + (the short name begins with the fragment)."""


@functools.lru_cache(maxsize=4096)
def _fragment_rows(chars: str) -> tuple[tuple[tuple[str, float, str, str], ...], str | None]:
    """Per county whose name or township names hold ``chars`` (one character): (county, evidence,
    level, name) of the first of its strongest names, in the order the counties are first met;
    and the county of the first of the strongest names overall."""
    names = _fragment_names()
    rows, evidence, top = _fragment_counties(chars)
    return (tuple(zip(map(names.code.__getitem__, rows.tolist()), evidence.tolist(),
                      ["county" if county else "township" for county in names.county[rows].tolist()],
                      map(names.name.__getitem__, rows.tolist()), strict=True)),
            None if top < 0 else names.code[top])


@functools.lru_cache(maxsize=4096)
def _fragment_counties(chars: str) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`_fragment_rows` as arrays: per county, in the order the counties are first met, the
    row of :class:`_FragmentNames` of the first of its strongest names and its evidence; and the
    row of the first of the strongest names overall (-1: none)."""
    names = _fragment_names()
    seg = names.rows_with(chars)
    if not len(seg):
        return seg, np.zeros(0), -1
    evidence = _FRAGMENT_EVIDENCE_BY_NUMBER[2 * names.county[seg] + (names.first[seg] == ord(chars))]
    county = names.county_id[seg]
    # the first of the strongest names of each county: sorted by county, evidence (strongest
    # first), then position
    order = np.lexsort((np.arange(len(seg)), -evidence, county))
    by_county = county[order]
    starts = np.flatnonzero(np.concatenate(([True], by_county[1:] != by_county[:-1])))
    # the counties in the order they are first met (each county's first position)
    best = order[starts][np.argsort(np.minimum.reduceat(order, starts), kind="stable")]
    return seg[best], evidence[best], int(seg[int(np.argmax(evidence))])


class _FragmentNames(NamedTuple):
    """Every current county's name, then every township's (table order), for fragments: the
    county code, name, whether a county's, the first character's code point, and the rows that
    hold each character."""
    code: list
    name: list
    county: np.ndarray
    county_id: np.ndarray
    first: np.ndarray
    row_of: np.ndarray       # per character of the joined short names, sorted by character: its row
    bounds: dict             # character → (start, end) in row_of

    def rows_with(self, chars: str) -> np.ndarray:
        """Rows whose short name holds ``chars`` (one character), ascending, each once."""
        start, end = self.bounds.get(chars, (0, 0))
        rows = self.row_of[start:end]
        return rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if len(rows) > 1 else rows


@functools.lru_cache(maxsize=1)
def _fragment_names() -> _FragmentNames:
    """:class:`_FragmentNames` of the current counties and the townships of :data:`SOUND_NAMES`
    (all of them, in the townships' order, already read for sound matching; the townships table
    itself is not read)."""
    g = _gaz()
    current = g.current
    columns = _sound_name_arrays()
    towns = columns["level"] == "township"
    code = current["code"].tolist() + columns["code"][towns].tolist()
    name = current["name"].tolist() + columns["full"][towns].tolist()
    short = current["short_name"].tolist() + columns["short"][towns].tolist()
    lengths = np.fromiter(map(len, short), dtype=np.int64, count=len(short))
    points = np.frombuffer("".join(short).encode("utf-32-le"), dtype=np.uint32)
    row_of = np.repeat(np.arange(len(short)), lengths)
    # each name's first character's code point (0 for an empty name)
    first = np.zeros(len(short), dtype=np.uint32)
    named = lengths > 0
    first[named] = points[(np.cumsum(lengths) - lengths)[named]]
    # by character, each character's rows ascending (a stable sort)
    order = np.argsort(points, kind="stable")
    points, row_of = points[order], row_of[order]
    cuts = np.flatnonzero(points[1:] != points[:-1]) + 1
    starts = np.r_[0, cuts].tolist()
    ends = np.r_[cuts, len(points)].tolist()
    bounds = {chr(point): (a, b) for point, a, b in zip(points[starts].tolist(), starts, ends, strict=True)}
    county = np.zeros(len(short), dtype=bool)
    county[:len(current)] = True
    county_id = pd.factorize(np.array(code, dtype=object))[0]
    return _FragmentNames(code, name, county, county_id, first, row_of, bounds)


# ------------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------------

_EVIDENCE = operator.attrgetter("evidence")
_SCORE = operator.itemgetter(1)


def _rank(cands: list[_Cand]) -> list[tuple[_Cand, float]]:
    """Evidence → 0–1 scores: a strength term times a share among rivals (ties split)."""
    if not cands:
        return []
    if len(cands) == 1:  # its share is 1: the score is its strength (the general case below says the same)
        c = cands[0]
        return [(c, round(min(1.0, max(0.0, 0.1 + 0.8 * c.evidence)), 4))]
    # one row per (level, code, township): keep the strongest reading
    best: dict[tuple, _Cand] = {}
    for c in cands:
        key = (c.level, c.code, c.township if c.sound else None)
        kept = best.get(key)
        if kept is None or c.evidence > kept.evidence:
            best[key] = c
    # strongest first, equals in their order (a sort with reverse=True is stable too)
    cands = sorted(best.values(), key=_EVIDENCE, reverse=True)
    if len(cands) > _RANK_BY_VALUE_MIN:
        return _rank_by_value(cands)
    # plain floats, not numpy: a handful of candidates per text, where array overhead dominates
    top = cands[0].evidence
    share = [math.exp(_SHARPNESS * (c.evidence - top)) for c in cands]
    any_exact = not all(c.sound for c in cands)
    # sound candidates do not dilute exact readings: they are alternatives, not rivals
    denom = sum(sh for c, sh in zip(cands, share, strict=True) if not c.sound) if any_exact else sum(share)
    out = []
    for c, sh in zip(cands, share, strict=True):
        strength = min(1.0, max(0.0, 0.1 + 0.8 * c.evidence))
        p = min(1.0, sh / denom) if not c.sound or not any_exact else min(1.0, sh)
        if c.sound and any_exact:
            p *= 0.6
        out.append([c, float(strength * p)])
    if any_exact:
        # a sound alternative never outranks a reading of what was actually written
        floor = min(score for c, score in out if not c.sound)
        for item in out:
            if item[0].sound:
                item[1] = min(item[1], 0.9 * floor)
    out = [(c, round(score, 4)) for c, score in out]
    out.sort(key=_SCORE, reverse=True)
    return out


_RANK_BY_VALUE_MIN = 16
"""From this many distinct readings :func:`_rank` works per distinct (evidence, sound) value."""


def _rank_by_value(cands: list[_Cand]) -> list[tuple[_Cand, float]]:
    """:func:`_rank` of many readings sorted strongest first (a fragment of one character meets
    hundreds of counties, with a few distinct evidence values): a reading's score depends only on
    its evidence, whether it is a sound reading and the sum of the shares, so each distinct
    (evidence, sound) pair is scored once; the sum runs over every reading in the same order."""
    top = cands[0].evidence
    keys = [(c.evidence, c.sound) for c in cands]
    distinct = dict.fromkeys(keys)
    share = {key: math.exp(_SHARPNESS * (key[0] - top)) for key in distinct}
    any_exact = not all(sound for _evidence, sound in keys)
    denom = (sum([share[key] for key in keys if not key[1]]) if any_exact
             else sum([share[key] for key in keys]))
    score = {}
    for key in distinct:
        evidence, sound = key
        strength = min(1.0, max(0.0, 0.1 + 0.8 * evidence))
        p = min(1.0, share[key] / denom) if not sound or not any_exact else min(1.0, share[key])
        if sound and any_exact:
            p *= 0.6
        score[key] = float(strength * p)
    if any_exact:
        floor = min(value for key, value in score.items() if not key[1])
        for key in score:
            if key[1]:
                score[key] = min(score[key], 0.9 * floor)
    rounded = {key: round(value, 4) for key, value in score.items()}
    out = [(c, rounded[key]) for c, key in zip(cands, keys, strict=True)]
    out.sort(key=_SCORE, reverse=True)
    return out


def _rest_chunks(s: str, hits: list[_Hit], cands: list[_Cand]) -> list[str]:
    """The pieces of ``s`` no hit was read as (a township hit stays unless a candidate took it)."""
    rest_chars = list(s)
    townships = {c.township for c in cands}
    for h in hits:
        if h.entry.level != "township" or h.entry.label in townships:
            rest_chars[h.start:h.end] = _SEP * (h.end - h.start)
    return [c for c in "".join(rest_chars).split(_SEP) if len(c) >= 1]


def _candidates(text: object, accent_area: str | None, sound: str) -> tuple[str, list[tuple[_Cand, float]]]:
    g = _gaz()
    scored = _SHARE_SCORES.pop(text, None) if _SHARE_SCORES and isinstance(text, str) else None
    hits: list[_Hit] | None
    if scored is not None:  # read with its share (_score_share); the hits are scanned if needed
        s, cands, coarse_hits, rest, leftover_text = scored
        hits = None
        if cands and rest is not None:  # villages not yet read with the share
            _villages_in(rest, cands, g)
    else:
        s = _clean(text)
        if not s or _NO_PLACE.fullmatch(s):
            return s, []
        hits = _scan(s, g)
        cands, coarse_hits = _score_counties(s, hits, g)
        leftover_text = None
    if not cands or coarse_hits:
        # a prefecture or province is only a rival reading when no stronger county inside it is
        # named (周口太康 is 太康县, not "周口 or 太康")
        inner = cands[:]  # the county readings (every reading so far is one)
        for coarse in _coarse(coarse_hits, g):
            n = 4 if coarse.level == "prefecture" else 2
            code, evidence = coarse.code[:n], coarse.evidence
            for c in inner:
                if c.code[:n] == code and c.evidence >= evidence:
                    break
            else:
                cands.append(coarse)
    best_ev = cands[0].evidence if cands else 0.0  # max() in a loop
    for c in cands:
        if c.evidence > best_ev:
            best_ev = c.evidence
    # the rest of the text (made when a step below reads it): the candidates' townships as they
    # are before sound candidates are added
    rest_chunks = None
    fragment_top, exact_end = None, None
    if sound == "always" or (sound == "auto" and best_ev < 0.75):
        if hits is None:
            hits = _scan(s, g)
        rest_chunks = _rest_chunks(s, hits, cands)
        context = {h.entry.code for h in hits if h.entry.level in ("province", "prefecture")}
        context |= {c.code for c in cands if c.level == "county"}
        chunks = [c for c in rest_chunks if len(c) >= 2]
        if sound == "always" or best_ev < 0.75:
            # exact readings may be the mishearing (临水镇 for 邻水县): sound them out as well
            chunks += [s[h.start:h.end] for h in hits if h.entry.level in ("county", "prefecture", "township")]
            chunks += [c for c in s.split(_SEP) if 2 <= len(c) <= 6]
        cands += _sound_candidates(list(dict.fromkeys(chunks)), context, g, _families_for(accent_area))
        if not cands or best_ev < 0.3:
            fragments, fragment_top = _fragment_candidates(s, g)
            exact_end = len(cands)
            cands += fragments
    # a leftover fragment under a known county: try its villages by sound (主猫鸭 ~ 朱马院); the
    # county is the first of the strongest exact county readings (the fragments come last)
    top_county = None
    for c in cands if exact_end is None else cands[:exact_end]:
        if c.level == "county" and not c.sound and (top_county is None or c.evidence > top_county.evidence):
            top_county = c
    if fragment_top is not None and (top_county is None or fragment_top.evidence > top_county.evidence):
        top_county = fragment_top
    if (top_county is not None and top_county.village is None and top_county.township is None
            and sound != "never"):
        if rest_chunks is None:
            # the text's hits not read by a candidate blanked, from its share when read there
            # (the candidates' townships are those of its county readings)
            rest_chunks = (leftover_text.split(_SEP) if leftover_text is not None
                           else _rest_chunks(s, hits if hits is not None else _scan(s, g), cands))
        leftover = [c for c in rest_chunks if len(c) >= 2]
        if leftover:
            found = _village_sound(leftover, top_county.code, g, _families_for(accent_area))
            if found:
                sim, full, chunk = found
                top_county.village = full
                top_county.evidence += 0.1 * sim
                top_county.parts.append(("village_sound", f"{chunk}~{full}"))
    return s, _rank(cands)


def _describe(parts: list) -> tuple[str, str]:
    kinds = list(dict.fromkeys(kind for kind, _ in parts))
    reason = "; ".join(f"{k}: {v}" for k, v in parts)
    return "+".join(kinds), reason


def _place_of(c: _Cand, g: _Gazetteer) -> tuple[str | None, str | None, str | None, float, float, str | None]:
    """(county, prefecture, province codes, lon, lat, display name) of a candidate's (level,
    code), worked out once per process (a run reads the same few thousand counties many times)."""
    key = (c.level, c.code)
    place = g.places.get(key)
    if place is not None:
        return place
    county = prefecture = province = None
    lon = lat = math.nan
    if c.level == "county":
        r = g.cur_info[c.code]
        county, prefecture, province = c.code, r["prefecture_code"], r["province_code"]
        lon, lat = float(r["lon"]), float(r["lat"])
    elif c.level == "prefecture":
        prefecture, province = c.code, c.code[:2] + "0000"
        if c.code in g.pref_info:
            lon, lat = float(g.pref_info[c.code]["lon"]), float(g.pref_info[c.code]["lat"])
    else:
        province = c.code
        lon, lat = g.province_xy.get(c.code, (math.nan, math.nan))
    place = g.places[key] = (county, prefecture, province, lon, lat, g.name_of(county, prefecture, province))
    return place


def _row(c: _Cand, score: float, g: _Gazetteer) -> dict:
    county, prefecture, province, lon, lat, name = _place_of(c, g)
    matched_by, reason = _describe(c.parts or [])
    return dict(level=c.level, county_code=county, prefecture_code=prefecture, province_code=province,
                name=name, township=c.township, village=c.village,
                lon=lon, lat=lat, score=score, old=bool(c.old), matched_by=matched_by, reason=reason)


def place_candidates(text: object, k: int = 5, accent_area: str | None = None) -> pd.DataFrame:
    """Ranked readings of a place text, best first, with scores and reasons.

    ``accent_area`` (a ``dialect_areas`` code) limits the sound mergers to those typical of the
    speaker's area; without it every merger family is tried.

    >>> c = place_candidates("湖州", accent_area="Min")
    >>> c["name"].tolist()[:2]
    ['浙江省湖州市', '福建省福州市']
    """
    g = _gaz()
    _s, ranked = _candidates(text, accent_area, sound="always")
    rows = [_row(c, score, g) for c, score in ranked[:k]]
    if not rows:
        frame = pd.DataFrame([], columns=CANDIDATE_COLUMNS[1:])
        frame.insert(0, "rank", range(1, 1))
        return frame
    # columns from lists, not a list of row dicts: pandas infers the same dtypes much faster
    frame = pd.DataFrame({"rank": np.arange(1, len(rows) + 1, dtype=np.int64),
                          **{name: [r[name] for r in rows] for name in CANDIDATE_COLUMNS[1:]}},
                         columns=CANDIDATE_COLUMNS)
    return frame


def candidate_counties(text: object, k: int = 5, accent_area: str | None = None) -> list[tuple[str, float]]:
    """``(county_code, score)`` of the county-level readings among the top ``k`` of
    :func:`place_candidates`, best first, without building a frame (for batch use).

    >>> candidate_counties("邻水县")[0]
    ('511623', 0.9)
    """
    if isinstance(text, str) and len(text) <= 2 and len(_clean(text)) <= 1:
        # one character holds no gazetteer name, no chunk to sound out (two characters at least)
        # and no leftover for a village: the dialect area changes nothing, so each character is
        # read once (statements name 山, 河, 新 under many areas)
        return list(_one_character_counties(text, k))
    return _county_readings(text, k, accent_area)


def _county_readings(text: object, k: int, accent_area: str | None) -> list[tuple[str, float]]:
    _s, ranked = _candidates(text, accent_area, sound="always")
    # a reading's county is its code when it is a county-level reading (as _where says)
    return [(c.code, float(score)) for c, score in ranked[:k] if c.level == "county"]


@functools.lru_cache(maxsize=4096)
def _one_character_counties(text: str, k: int) -> tuple[tuple[str, float], ...]:
    """:func:`_county_readings` of a text that cleans to one character or none (any area). Such a
    text holds no gazetteer name (two characters at least), no chunk to sound out and no leftover
    for a village, so :func:`_candidates` reads it by its fragment readings alone (the counties
    whose names hold the character, :func:`_fragment_counties`), ranked by :func:`_rank`: here
    they are scored from the arrays, without a candidate object and its reason text per county
    (a character meets hundreds)."""
    s = _clean(text)
    if len(s) > 1:  # not a text of one character after all: read in full
        return tuple(_county_readings(text, k, None))
    core = _EDGE_FILLER.sub("", s) if s and not _NO_PLACE.fullmatch(s) else ""
    if len(core) != 1:
        return ()
    rows, evidence, _top = _fragment_counties(core)
    if not len(rows):
        return ()
    # _rank of these readings (exact county readings, one per county): strongest first, equals in
    # the order met; a reading's score is its strength times its share exp(6 · (evidence − top))
    # over the sum of every reading's share in that order. The score rises with the evidence, so
    # the first k in that order are _rank's first k (the exhaustive test of every character of
    # the names holds the two equal)
    ranked = np.argsort(-evidence, kind="stable")
    values = evidence[ranked].tolist()
    top = values[0]
    share = {value: math.exp(_SHARPNESS * (value - top)) for value in set(values)}
    total = sum([share[value] for value in values])
    code = _fragment_names().code
    return tuple([(code[row], round(float(min(1.0, max(0.0, 0.1 + 0.8 * value)) * min(1.0, share[value] / total)), 4))
                  for row, value in zip(rows[ranked[:k]].tolist(), values[:k], strict=True)])


@functools.lru_cache(maxsize=200_000)
def _parse_cached(text: str, accent_area: str | None) -> PlaceMatch:
    g = _gaz()
    _s, ranked = _candidates(text, accent_area, sound="auto")
    if not ranked:
        return _empty(text)
    c, score = ranked[0]
    county, prefecture, province, lon, lat, name = _place_of(c, g)
    matched_by = "+".join(dict.fromkeys([kind for kind, _ in c.parts])) if c.parts else ""
    if c.sound and "sound" not in matched_by:
        matched_by += "+sound"
    return PlaceMatch(text, province, prefecture, county, c.township, c.village, name, lon, lat, score,
                      bool(c.old), matched_by)


def parse_place(text: object, accent_area: str | None = None) -> PlaceMatch:
    """Best reading of one place text (see :func:`place_candidates` for the alternatives).

    Never raises on odd input: blanks and unreadable text give a match with score 0.

    >>> parse_place("太康十里铺").county_code
    '411627'
    >>> parse_place("一渡水").township
    '一渡水镇'
    >>> parse_place(None).score
    0.0
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return _empty("")
    return _parse_cached(str(text), accent_area)


_SHARE_SCORES: dict[str, tuple[str, list[_Cand], list[_Hit], str | None, str]] = {}
"""Place text → (its cleaned form, its county readings, its province and prefecture hits, its rest
for villages (None: the readings' villages are read already), its rest for village sound
matching) for the texts :func:`parse_places`
is parsing, read together by :func:`_score_share` (each taken once by :func:`_candidates`; emptied
after each call)."""
_READ_AHEAD_MIN = 16
"""From this many distinct texts :func:`parse_places` reads them together."""


def _read_ahead(texts) -> None:
    """Clean ``texts`` and score them together into :data:`_SHARE_SCORES` (texts without a place
    left out)."""
    if len(texts) < _READ_AHEAD_MIN:
        return
    cleaned = {}
    for text in texts:
        s = _clean(text)
        if s and not _NO_PLACE.fullmatch(s):
            cleaned[text] = s
    scored = _score_share(list(cleaned.values()), _gaz()) if cleaned else None
    if scored is not None:
        _SHARE_SCORES.update(zip(cleaned, zip(cleaned.values(), *scored), strict=False))


PLACE_FIELDS = ["province", "prefecture", "county", "township", "village", "lon", "lat",
                "place_score", "place_old", "place_matched_by"]
_PLACE_MATCH_FIELDS = ["province_code", "prefecture_code", "county_code", "township", "village", "lon", "lat",
                       "score", "old", "matched_by"]
"""The :class:`PlaceMatch` field of each of :data:`PLACE_FIELDS`."""


def parse_places(values: pd.Series, prefix: str | None = None,
                 accent_areas: pd.Series | None = None) -> pd.DataFrame:
    """Vectorized :func:`parse_place`: each distinct (text, accent area) is parsed once. From 16
    distinct texts they are scanned and their county readings scored together in arrays
    (:func:`_score_share`); the rest of each reading is :func:`parse_place`'s, and so is the result.

    Columns (with ``prefix="found"``: ``found_province``, ``found_prefecture``, ``found_county``,
    ``found_township``, ``found_village``, ``found_lon``, ``found_lat``, ``found_place_score``,
    ``found_place_old``, ``found_place_matched_by``), aligned to ``values.index``.

    >>> parse_places(pd.Series(["太康县", None]), prefix="home")["home_county"].tolist()
    ['411627', None]
    """
    values = pd.Series(values)
    texts = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values.tolist()]
    # each distinct (text, accent area) once: codes from a dict, not pandas' factorize of a
    # MultiIndex (a share of 256 texts is parsed at a time, where its fixed cost shows)
    if accent_areas is not None:
        keys = list(zip(texts, [a if isinstance(a, str) and a else None
                                for a in pd.Series(accent_areas, index=values.index).tolist()], strict=True))
    else:
        keys = [(t, None) for t in texts]
    first: dict[tuple[str, str | None], int] = {}
    codes = np.fromiter((first.setdefault(key, len(first)) for key in keys), dtype=np.intp, count=len(keys))
    _read_ahead(dict.fromkeys(t for t, _a in first if t))
    try:
        parsed = [_parse_cached(t, a) if t else _empty("") for t, a in first]
    finally:
        _SHARE_SCORES.clear()
    # PlaceMatch's fields, column by column (one transposition instead of a pass per field)
    columns = list(zip(*parsed)) if parsed else [()] * len(PlaceMatch._fields)
    out = {}
    for name, field_name in zip(PLACE_FIELDS, _PLACE_MATCH_FIELDS, strict=True):
        arr = np.array(columns[PlaceMatch._fields.index(field_name)],
                       dtype=float if name in ("lon", "lat", "place_score") else object)
        out[f"{prefix}_{name}" if prefix else name] = arr[codes] if len(codes) else arr[:0]
    return pd.DataFrame(out, index=values.index)
