"""Accents and dialect areas: "四川口音" → Southwestern Mandarin, home province 四川.

An accent note on a resident record (口音) or a dialect note on a missing-person report (方言) is
turned into a dialect group code of the ``dialect_areas`` table (Yang et al. 2024 groups: ``N_Man``,
``JH_Man``, ``SW_Man``, ``Wu``, ``Xiang``, ``Gan``, ``Hakka``, ``Min``, ``Yue``, ``P_T``), an
optional finer sub-area (``N_Man_NE`` Northeastern, ``N_Man_Jin`` Jin), the likely home provinces
(6-digit codes) and a confidence. Notes that carry no regional information (普通话, 外地口音) give
``area=None`` and confidence 0: they must not count as evidence.

    >>> a = parse_accent("四川口音")
    >>> a.area, a.provinces
    ('SW_Man', ('510000',))
    >>> parse_accent("可能是云南或贵州口音").provinces
    ('530000', '520000')
    >>> parse_accent("普通话").area is None
    True
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from typing import NamedTuple

import pandas as pd

from kinmatch.data import load_table
from kinmatch.normalize.phonetics import area_families

__all__ = ["Accent", "parse_accent", "parse_accents", "county_dialect_area",
           "province_dialect_areas", "area_mergers", "PROVINCES"]


class Accent(NamedTuple):
    """A parsed accent: dialect group, likely home provinces, confidence 0–1, optional sub-area."""

    area: str | None
    provinces: tuple[str, ...]
    confidence: float
    subarea: str | None = None


NO_INFO = Accent(None, (), 0.0, None)

# Province code → (full name, short name, one-character abbreviation). Hong Kong, Macau and Taiwan
# are here although the county tables stop at the mainland, so "香港口音" still says something.
PROVINCES: dict[str, tuple[str, str, str]] = {
    "110000": ("北京市", "北京", "京"), "120000": ("天津市", "天津", "津"),
    "130000": ("河北省", "河北", "冀"), "140000": ("山西省", "山西", "晋"),
    "150000": ("内蒙古自治区", "内蒙古", "蒙"), "210000": ("辽宁省", "辽宁", "辽"),
    "220000": ("吉林省", "吉林", "吉"), "230000": ("黑龙江省", "黑龙江", "黑"),
    "310000": ("上海市", "上海", "沪"), "320000": ("江苏省", "江苏", "苏"),
    "330000": ("浙江省", "浙江", "浙"), "340000": ("安徽省", "安徽", "皖"),
    "350000": ("福建省", "福建", "闽"), "360000": ("江西省", "江西", "赣"),
    "370000": ("山东省", "山东", "鲁"), "410000": ("河南省", "河南", "豫"),
    "420000": ("湖北省", "湖北", "鄂"), "430000": ("湖南省", "湖南", "湘"),
    "440000": ("广东省", "广东", "粤"), "450000": ("广西壮族自治区", "广西", "桂"),
    "460000": ("海南省", "海南", "琼"), "500000": ("重庆市", "重庆", "渝"),
    "510000": ("四川省", "四川", "川"), "520000": ("贵州省", "贵州", "黔"),
    "530000": ("云南省", "云南", "滇"), "540000": ("西藏自治区", "西藏", "藏"),
    "610000": ("陕西省", "陕西", "陕"), "620000": ("甘肃省", "甘肃", "甘"),
    "630000": ("青海省", "青海", "青"), "640000": ("宁夏回族自治区", "宁夏", "宁"),
    "650000": ("新疆维吾尔自治区", "新疆", "新"), "710000": ("台湾省", "台湾", "台"),
    "810000": ("香港特别行政区", "香港", "港"), "820000": ("澳门特别行政区", "澳门", "澳"),
}
_P = {short: code for code, (_full, short, _abbr) in PROVINCES.items()}

# Regional and dialect words → (area, subarea, provinces, confidence). Longest match wins, so
# 广东白话 beats 广东, 闽南话 beats 闽. Confidence: a named dialect is strong evidence of the
# group; a broad region ("南方口音") weak. Hand-written: no licensed table maps these words.
_LEXICON: dict[str, tuple[str | None, str | None, tuple[str, ...], float]] = {
    "粤语": ("Yue", None, (_P["广东"], _P["广西"], _P["香港"], _P["澳门"]), 0.9),
    "白话": ("Yue", None, (_P["广东"], _P["广西"]), 0.85),
    "广东白话": ("Yue", None, (_P["广东"],), 0.9),
    "广西白话": ("Yue", None, (_P["广西"],), 0.9),
    "广府话": ("Yue", None, (_P["广东"],), 0.9),
    "广州话": ("Yue", None, (_P["广东"],), 0.9),
    "广东话": ("Yue", None, (_P["广东"],), 0.85),
    "香港话": ("Yue", None, (_P["香港"],), 0.9),
    "客家": ("Hakka", None, (_P["广东"], _P["江西"], _P["福建"]), 0.9),
    "闽南": ("Min", None, (_P["福建"],), 0.9),
    "闽北": ("Min", None, (_P["福建"],), 0.9),
    "闽东": ("Min", None, (_P["福建"],), 0.9),
    "闽语": ("Min", None, (_P["福建"],), 0.9),
    "福建话": ("Min", None, (_P["福建"],), 0.85),
    "福州话": ("Min", None, (_P["福建"],), 0.9),
    "潮汕": ("Min", None, (_P["广东"],), 0.9),
    "潮州话": ("Min", None, (_P["广东"],), 0.9),
    "雷州话": ("Min", None, (_P["广东"],), 0.9),
    "海南话": ("Min", None, (_P["海南"],), 0.9),
    "台湾话": ("Min", None, (_P["台湾"],), 0.8),
    "吴语": ("Wu", None, (_P["上海"], _P["江苏"], _P["浙江"]), 0.9),
    "江浙": ("Wu", None, (_P["江苏"], _P["浙江"]), 0.7),
    "苏南": ("Wu", None, (_P["江苏"],), 0.8),
    "苏北": ("JH_Man", None, (_P["江苏"],), 0.8),
    "皖南": ("Wu", None, (_P["安徽"],), 0.6),
    "皖北": ("N_Man", None, (_P["安徽"],), 0.7),
    "江淮": ("JH_Man", None, (_P["江苏"], _P["安徽"]), 0.8),
    "湘语": ("Xiang", None, (_P["湖南"],), 0.9),
    "赣语": ("Gan", None, (_P["江西"],), 0.9),
    "晋语": ("N_Man", "N_Man_Jin", (_P["山西"],), 0.9),
    "东北": ("N_Man", "N_Man_NE", (_P["辽宁"], _P["吉林"], _P["黑龙江"]), 0.85),
    "西北": ("N_Man", None, (_P["陕西"], _P["甘肃"], _P["宁夏"], _P["青海"], _P["新疆"]), 0.6),
    "西南": ("SW_Man", None, (_P["四川"], _P["重庆"], _P["贵州"], _P["云南"]), 0.8),
    "川渝": ("SW_Man", None, (_P["四川"], _P["重庆"]), 0.85),
    "云贵": ("SW_Man", None, (_P["云南"], _P["贵州"]), 0.85),
    "两广": (None, None, (_P["广东"], _P["广西"]), 0.5),
    "两湖": (None, None, (_P["湖南"], _P["湖北"]), 0.5),
    "胶东": ("N_Man", None, (_P["山东"],), 0.8),
    "北方": ("N_Man", None, (), 0.4),
    "南方": (None, None, (), 0.0),
    "平话": ("P_T", None, (_P["广西"],), 0.85),
    "土话": ("P_T", None, (_P["广西"], _P["湖南"]), 0.5),
}

# Notes that say nothing about where the person comes from.
_NO_INFO = re.compile(r"^(?:无|没有|不详|未知|不清楚?|听不[懂清出]|说不清|外地|外省|本地|普通|"
                      r"标准|正常|一般|口音不[详清明]|不会说话|哑|聋哑|无法交流|不能交流)")
_HEDGE = re.compile(r"可能|好像|似乎|疑似|像是|大概|估计|或许|[?？]|不确定")
_NOISE = re.compile(r"口音|方言|话|音|腔|语|说|讲|带有?|有点|一[点些]|的|是|为|人|地区|一带|那边|"
                    r"可能|好像|似乎|疑似|像是?|大概|估计|或许|不确定|[,，、。;；:：/\s()（）?？]")


@functools.lru_cache(maxsize=1)
def _opencc():
    import opencc  # local: only needed when text has traditional characters
    return opencc.OpenCC("t2s")


def _clean(text: object) -> str:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    s = unicodedata.normalize("NFKC", str(text)).strip()
    if not s:
        return ""
    try:
        return _opencc().convert(s)
    except Exception:  # noqa: BLE001 - a converter hiccup must not stop a batch
        return s


@functools.lru_cache(maxsize=1)
def _counties() -> pd.DataFrame:
    return load_table("counties").set_index("code", drop=False)


@functools.lru_cache(maxsize=1)
def _province_shares() -> dict[str, dict[str, float]]:
    c = _counties()
    cur = c[c["status"] == "current"]
    # counted with plain dicts (a pandas group and value_counts per province cost ~0.1 s a run):
    # provinces in code order, each one's areas most common first, ties in table order
    counts: dict[str, dict[str, int]] = {}
    for prov, area in zip(cur["province_code"].tolist(), cur["dialect_area"].tolist(), strict=True):
        if isinstance(prov, str) and isinstance(area, str):
            by_area = counts.setdefault(prov, {})
            by_area[area] = by_area.get(area, 0) + 1
    out: dict[str, dict[str, float]] = {}
    for prov in sorted(counts):
        total = sum(counts[prov].values())
        ranked = sorted(counts[prov].items(), key=lambda item: -item[1])
        out[prov] = {area: round(n / total, 3) for area, n in ranked}
    return out


@functools.lru_cache(maxsize=1)
def _place_lexicon() -> dict[str, tuple[str | None, str | None, tuple[str, ...], float]]:
    """Prefecture and county short names → area of their counties (温州话 → Wu, 浙江).

    The counties of a name are gathered with plain lists in one pass over the table (a pandas
    group per name cost ~2 s a run for 3,000 names): names in sorted order, each name's counties
    in table order, as a sorted groupby gives them."""
    c = _counties()
    cur = c[c["status"] == "current"]
    provinces = cur["province_code"].tolist()
    areas = cur["dialect_area"].tolist()
    subareas = cur["dialect_subarea"].fillna("").tolist()
    lex: dict[str, tuple] = {}
    for name_col in ("short_name", "prefecture"):
        by_value: dict[str, list[int]] = {}
        for position, value in enumerate(cur[name_col].tolist()):
            if isinstance(value, str):
                by_value.setdefault(value, []).append(position)
        groups: dict[str, list[int]] = {}
        for name in sorted(by_value):
            positions = by_value[name]
            if name_col == "prefecture":
                name = re.sub(r"(?:市|地区|盟|自治州|[^\s]{0,12}?族自治州)$", "", name)
            if len(name) < 2 or name in _P:
                continue
            groups.setdefault(name, []).extend(positions)
        for name, positions in groups.items():
            provs = tuple(dict.fromkeys(provinces[i] for i in positions))
            if len(provs) > 1 and name_col == "short_name":
                continue  # ambiguous county names (朝阳) say little about the accent
            area, n = Counter(areas[i] for i in positions).most_common(1)[0]
            sub = Counter(subareas[i] for i in positions).most_common(1)[0][0] or None
            conf = 0.85 * n / len(positions)
            if name not in lex or name_col == "prefecture":
                lex[name] = (area, sub if area == "N_Man" else None, provs, round(conf, 3))
    return lex


def province_dialect_areas(code: str) -> dict[str, float]:
    """Share of each dialect area among a province's current counties, largest first.

    >>> list(province_dialect_areas("410000"))[0]
    'N_Man'
    """
    code = str(code or "")[:2].ljust(6, "0")
    return dict(_province_shares().get(code, {}))


def county_dialect_area(code: str) -> str | None:
    """Dialect area of a county (current or abolished code), or None if unknown.

    >>> county_dialect_area("511621")   # 岳池县
    'SW_Man'
    """
    c = _counties()
    code = str(code or "")
    if code in c.index:
        value = c.at[code, "dialect_area"]
        return value if isinstance(value, str) and value else None
    return None


def area_mergers(area: str | None, subarea: str | None = None) -> tuple[str, ...]:
    """Sound-merger families of a dialect area (its sub-area when given).

    Delegates to :func:`kinmatch.normalize.phonetics.area_families`, the single source of truth,
    so name keys, places and this answer never disagree: a group area carries the families of its
    sub-areas (an accent placed only in ``N_Man`` may be Northeastern or Jin).

    >>> area_mergers("Xiang")
    ('n_l', 'retroflex', 'n_ng', 'f_h', 'h_x')
    >>> area_mergers("N_Man", "N_Man_NE")
    ('r_y_l',)
    """
    return area_families(subarea or area) or ()


def _province_hits(text: str) -> list[tuple[int, str]]:
    hits = []
    for code, (full, short, _abbr) in PROVINCES.items():
        for name in (full, short):
            pos = text.find(name)
            if pos >= 0:
                hits.append((pos, code))
                break
    # 陕西 contains 西, 山西 contains 山西 only: nothing to disambiguate beyond exact names.
    return hits


@functools.lru_cache(maxsize=65536)
def parse_accent(text: object) -> Accent:
    """Parse one accent or dialect note.

    >>> parse_accent("说河南话").provinces
    ('410000',)
    >>> parse_accent("客家话").area
    'Hakka'
    >>> parse_accent("外地口音").confidence
    0.0
    """
    s = _clean(text)
    if not s or _NO_INFO.match(s) or not re.search(r"[\u4e00-\u9fff]", s):
        return NO_INFO
    hedge = 0.7 if _HEDGE.search(s) else 1.0
    core = s
    found: list[tuple[int, tuple]] = []
    # 1) dialect / regional words, longest first, consumed so 广东白话 is not also 广东
    for word in sorted(_LEXICON, key=len, reverse=True):
        pos = core.find(word)
        if pos >= 0:
            found.append((pos, _LEXICON[word]))
            core = core.replace(word, "＿" * len(word))
    # 2) province names
    for pos, code in _province_hits(core):
        shares = province_dialect_areas(code)
        if shares:
            area, share = next(iter(shares.items()))
        else:
            area, share = None, 0.0
        sub = None
        if code in ("210000", "220000", "230000"):
            sub = "N_Man_NE"
        elif code == "140000":
            sub = "N_Man_Jin"
        found.append((pos, (area, sub, (code,), round(0.85 * max(share, 0.5), 3))))
        full, short, _ = PROVINCES[code]
        core = core.replace(full, "＿" * len(full)).replace(short, "＿" * len(short))
    # 3) prefecture / county names (温州话, 信阳口音)
    rest = _NOISE.sub(" ", core)
    if not found:
        lex = _place_lexicon()
        for chunk in rest.split():
            chunk = chunk.strip("＿")
            for n in range(min(len(chunk), 6), 1, -1):
                hit = next(((i, chunk[i:i + n]) for i in range(len(chunk) - n + 1)
                            if chunk[i:i + n] in lex), None)
                if hit:
                    found.append((s.find(hit[1]), lex[hit[1]]))
                    break
    if not found:
        return NO_INFO
    found.sort(key=lambda x: x[0])
    provinces = tuple(dict.fromkeys(p for _, f in found for p in f[2]))
    areas = [f[0] for _, f in found if f[0]]
    if not areas:
        return Accent(None, provinces, 0.0 if not provinces else round(0.3 * hedge, 3), None)
    area = Counter(areas).most_common(1)[0][0]
    agree = sum(1 for a in areas if a == area) / len(areas)
    conf = max(f[3] for _, f in found if f[0] == area) * hedge * agree
    if len(found) > 1 and agree == 1.0:
        conf *= 0.95  # several provinces named: the group is clear, the home less so
    subs = [f[1] for _, f in found if f[0] == area and f[1]]
    sub = subs[0] if subs and len(set(subs)) == 1 else None
    return Accent(area, provinces, round(conf, 3), sub)


def parse_accents(values: pd.Series) -> pd.DataFrame:
    """Vectorized :func:`parse_accent`: each distinct value is parsed once.

    Returns a frame aligned to ``values.index`` with columns ``accent_area``,
    ``accent_provinces`` (tuple), ``accent_confidence``, ``accent_subarea``.

    >>> parse_accents(pd.Series(["粤语", None]))["accent_area"].tolist()
    ['Yue', None]
    """
    values = pd.Series(values)
    keys = values.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    uniq = pd.unique(keys)
    parsed = {k: parse_accent(k) for k in uniq}
    out = pd.DataFrame({
        "accent_area": keys.map(lambda k: parsed[k].area),
        "accent_provinces": keys.map(lambda k: parsed[k].provinces),
        "accent_confidence": keys.map(lambda k: parsed[k].confidence).astype(float),
        "accent_subarea": keys.map(lambda k: parsed[k].subarea),
    }, index=values.index)
    out["accent_area"] = out["accent_area"].astype(object).where(out["accent_area"].notna(), None)
    out["accent_subarea"] = out["accent_subarea"].astype(object).where(out["accent_subarea"].notna(), None)
    return out
