"""Push targeting: the suspected home counties of each resident, ranked, with a reason each.

Geo-targeted pushes (头条寻人, 抖音寻人) send a notice to the people of one county. Choosing that
county from a resident's accent and the fragments of what they said is manual work today; this
module ranks candidates from three kinds of evidence:

========================  ======  ==============================================================
evidence                  weight  source
========================  ======  ==============================================================
statement place fragment  3 × s   :func:`kinmatch.normalize.places.place_candidates` on each
                                  place fragment of 自述 (s = its score 0–1, sound readings
                                  limited to the mergers of the speaker's dialect area); on a
                                  normalized frame its ``statement_places`` are used instead
                                  (s = 0.5 ** rank, see :data:`NORMALIZED_RANK_DECAY`) and only
                                  fragments of this module's extra clause rule are read
accent → home province    1 × c   :func:`kinmatch.normalize.dialects.parse_accent` (c = confidence)
accent → dialect area     1 × c   the county's dialect area equals the accent's
name cue                  0.5     a name form typical of a dialect area (阿X south, X娃 southwest
                                  and northwest, X仔/X妹 Yue and Hakka, X伢 Jianghuai, X囡 Wu, 依X
                                  Min, minority names with "·" Xinjiang)
========================  ======  ==============================================================

A fragment that names only a prefecture (``说家在湛江``) gives a ``level="prefecture"`` target
(``county_code`` blank, ``prefecture_code`` set; a push can target a city), scored like a county
with the prefecture's main dialect area. The accent's provinces are also returned as
``level="province"`` targets (a push can target a
province): they are the only targets when nothing names a county, and they rank above counties
read from weak fragments; counties inside the accent's province always outrank them. Weights are judgement, documented
here so reviewers can discount them; the reasons say which evidence produced each row.

    >>> import pandas as pd
    >>> residents = pd.DataFrame([{"resident_id": "R1", "accent": "湖南口音",
    ...                            "statements": "说家在一渡水"}])
    >>> targets = suspected_home_counties(residents)
    >>> targets.loc[0, "name"], int(targets.loc[0, "rank"])
    ('湖南省邵阳市新宁县', 1)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from kinmatch.data import load_table
from kinmatch.errors import InputError
from kinmatch.normalize.text import text_of

TARGET_COLUMNS = ["resident_id", "rank", "level", "county_code", "prefecture_code", "province_code",
                  "name", "score", "reasons"]

W_STATEMENT, W_PROVINCE, W_AREA, W_NAME = 3.0, 1.0, 1.0, 0.5
PROVINCE_SHARE = 0.9
"""A province target scores this share of the accent's province weight."""
FRAGMENT_CANDIDATES = 30
"""Place readings considered per statement fragment before ranking."""
NORMALIZED_RANK_DECAY = 0.5
"""A normalized frame's ``statement_places`` are ranked without scores: the i-th (from 0) counts
as a reading of score ``0.5 ** i`` (judgement: the first reading is usually the exact one)."""

# (pattern on the name, dialect areas, provinces, plain-words reason)
NAME_CUES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (r"^阿[\u4e00-\u9fff]{1,2}$", ("Yue", "Min", "Wu", "Hakka"), (), "“阿X”称呼多见于南方方言区"),
    (r"娃$", ("SW_Man", "N_Man"), (), "“X娃”多见于西南、西北"),
    (r"(仔|妹)$", ("Yue", "Hakka", "P_T"), (), "“X仔/X妹”多见于粤、客家地区"),
    (r"伢$", ("JH_Man", "Gan"), (), "“X伢”多见于江淮、赣语地区"),
    (r"囡$", ("Wu",), (), "“X囡”多见于吴语地区"),
    (r"^依[\u4e00-\u9fff]$", ("Min",), (), "“依X”多见于闽东"),
    (r"(蛋|柱|妞)$", ("N_Man",), (), "“X蛋/X柱/X妞”多见于北方"),
    (r"[·・.]", (), ("650000",), "少数民族音译名（多见于新疆）"),
)

# Clauses that talk about a home place even when the fragment extractor misses them.
_PLACE_WORDS = re.compile(r"家在|家住|老家|住在|来自|[省县镇乡村屯寨]|公社|大队")


def _text(value: Any) -> str:
    return text_of(value) or ""


@functools.lru_cache(maxsize=1)
def _counties() -> pd.DataFrame:
    table = load_table("counties")
    return table.drop_duplicates("code").set_index("code")


@functools.lru_cache(maxsize=1)
def _prefecture_areas() -> dict[str, str]:
    """Prefecture code → the dialect area most of its counties are in."""
    table = _counties().dropna(subset=["prefecture_code", "dialect_area"])
    return {str(code): group.mode().iloc[0]
            for code, group in table.groupby("prefecture_code")["dialect_area"]}


@functools.lru_cache(maxsize=1)
def _area_names() -> dict[str, str]:
    table = load_table("dialect_areas")
    return dict(zip(table["area"], table["name_zh"]))


@functools.lru_cache(maxsize=1)
def _prefecture_names() -> dict[str, str]:
    """Prefecture name (湛江市, and 湛江 for a 市) → prefecture code."""
    table = _counties().dropna(subset=["prefecture_code", "prefecture"])
    names: dict[str, str] = {}
    for code, name in zip(table["prefecture_code"].astype(str), table["prefecture"].astype(str)):
        if code.endswith("00") and not code.endswith("0000"):
            names[name] = code
            if name.endswith("市") and len(name) >= 3:
                names[name[:-1]] = code
    return names


def _prefectures_in(fragment: str) -> set[str]:
    return {code for name, code in _prefecture_names().items() if name in fragment}


def _county_name(code: str) -> str:
    """``湖南省邵阳市新宁县`` (a municipality's districts: ``北京市东城区``)."""
    counties = _counties()
    if code not in counties.index:
        return code
    info = counties.loc[code]
    parts = [info["province"], info["prefecture"], info["name"]]
    return "".join(dict.fromkeys(p for p in parts if isinstance(p, str) and p))


def _province_name(code: str) -> str:
    from kinmatch.normalize.dialects import PROVINCES

    return PROVINCES.get(code, (code,))[0]


def place_fragments(statements: str) -> tuple[str, ...]:
    """Place fragments of a statement: the normalizer's extractor plus clauses with place words.

    >>> place_fragments("自称老家在湖南一渡水，父亲叫王大山")
    ('湖南一渡水',)
    """
    from kinmatch.normalize.records import statement_place_fragments

    fragments = list(statement_place_fragments(statements))
    for clause in re.split(r"[，,。；;！!？?\n]+", statements):
        clause = clause.strip()
        if not clause or re.search(r"叫|名字", clause) or not _PLACE_WORDS.search(clause):
            continue
        # The words around a place ("自称老家在") are not part of it.
        clause = re.sub(r"^.*?(?:家在|家住|老家在?|住在|来自)", "", clause) or clause
        if not any(clause in f or f in clause for f in fragments):
            fragments.append(clause)
    return tuple(dict.fromkeys(f for f in fragments if f))


def name_cues(name: str) -> list[tuple[tuple[str, ...], tuple[str, ...], str]]:
    """The dialect-area cues of a name form: ``[(areas, provinces, reason), ...]``.

    >>> [reason for _a, _p, reason in name_cues("二娃")]
    ['“X娃”多见于西南、西北']
    """
    return [(areas, provinces, reason) for pattern, areas, provinces, reason in NAME_CUES
            if name and re.search(pattern, name)]


def _targets_of(record: dict, k: int) -> list[dict]:
    from kinmatch.normalize.dialects import parse_accent, province_dialect_areas
    from kinmatch.normalize.places import place_candidates

    accent_text = _text(record.get("accent"))
    accent = parse_accent(accent_text)
    area = accent.area
    counties = _counties()
    cues = name_cues(_text(record.get("name")))
    scores: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    best_statement: dict[str, float] = {}
    levels: dict[str, str] = {}
    place_provinces: dict[str, str] = {}

    def _evidence(code: str, level: str, province: str, name: str, score: float, why: str) -> None:
        # The best reading of each place counts once, however many fragments name it.
        levels.setdefault(code, level)
        place_provinces.setdefault(code, province)
        previous = best_statement.get(code, 0.0)
        if score <= previous:
            return
        best_statement[code] = score
        scores[code] = scores.get(code, 0.0) + W_STATEMENT * (score - previous)
        names[code] = name
        reasons.setdefault(code, []).append(why)

    statements = _text(record.get("statements"))
    fragments = place_fragments(statements)
    stated = record.get("statement_places")
    if isinstance(stated, (tuple, list)) and len(stated):
        from kinmatch.normalize.records import statement_place_fragments

        codes = [c for c in map(_text, stated) if len(c) == 6]
        read = statement_place_fragments(statements)
        # statement_places holds counties only: when a fragment names a prefecture none of whose
        # counties is listed ("湛江" → 邗江区, 镇江新区 …), the list is sound-alikes and the
        # prefecture was dropped, so the fragments are read again below, with their scores.
        listed = {c[:4] for c in codes}
        if not any(p[:4] not in listed for f in read for p in _prefectures_in(f)):
            # A normalized frame: its fragments were read already (with the accent's dialect
            # area), best first, without scores; ranks stand in for them. Only fragments found
            # by this module's extra clause rule are read here.
            shown = statements if len(statements) <= 20 else statements[:19] + "…"
            for position, code in enumerate(codes):
                name = _county_name(code)
                province = (str(counties.loc[code, "province_code"]) if code in counties.index
                            else code[:2] + "0000")
                _evidence(code, "county", province, name, NORMALIZED_RANK_DECAY ** position,
                          f"自述“{shown}”→{name}（自述地名第{position + 1}位）")
            fragments = tuple(f for f in fragments if f not in set(read))

    for fragment in fragments:
        # Short fragments ("县", "金") tie across hundreds of places: take many, let the accent
        # and name evidence sort them, keep the top k at the end.
        candidates = place_candidates(fragment, k=max(k, FRAGMENT_CANDIDATES), accent_area=area)
        for row in candidates.itertuples(index=False):
            # A fragment naming only a prefecture ("家在湛江") is a prefecture target: dropping it
            # would leave sound-alike counties elsewhere to win.
            code = row.county_code if isinstance(row.county_code, str) and row.county_code else (
                row.prefecture_code if isinstance(row.prefecture_code, str) else "")
            if not code or row.score <= 0:
                continue
            how = str(row.reason or row.matched_by)
            _evidence(code, "county" if code == row.county_code else "prefecture",
                      str(row.province_code), row.name, float(row.score),
                      f"自述“{fragment}”→{row.name}（{how}）")

    rows = []
    for code in list(scores):
        level = levels[code]
        if level == "county":
            info = counties.loc[code] if code in counties.index else None
            province = info["province_code"] if info is not None else code[:2] + "0000"
            county_area = info["dialect_area"] if info is not None else None
            prefecture = info["prefecture_code"] if info is not None else code[:4] + "00"
        else:
            province = place_provinces.get(code) or code[:2] + "0000"
            county_area = _prefecture_areas().get(code)
            prefecture = code
        if accent.provinces and province in accent.provinces:
            scores[code] += W_PROVINCE * accent.confidence
            reasons[code].append(f"口音“{accent_text}”→{_province_name(province)}")
        if area and isinstance(county_area, str) and county_area == area:
            scores[code] += W_AREA * accent.confidence
            reasons[code].append(f"方言区相符（{_area_names().get(area, area)}）")
        for cue_areas, cue_provinces, why in cues:
            if (isinstance(county_area, str) and county_area in cue_areas) or province in cue_provinces:
                scores[code] += W_NAME
                reasons[code].append(f"姓名“{_text(record.get('name'))}”：{why}")
        rows.append({"level": level, "county_code": code if level == "county" else None,
                     "prefecture_code": prefecture, "province_code": province,
                     "name": names[code], "score": round(scores[code], 3),
                     "reasons": "；".join(reasons[code])})

    if accent.provinces:
        # The accent's provinces are push targets too: the only ones when nothing names a county,
        # and above counties read from weak fragments. Counties inside the province outrank them.
        for position, province in enumerate(accent.provinces):
            score = PROVINCE_SHARE * W_PROVINCE * accent.confidence / (1 + 0.1 * position)
            why = [f"口音“{accent_text}”→{_province_name(province)}（按省推送）"]
            main_areas = list(province_dialect_areas(province))[:1]
            for cue_areas, cue_provinces, reason in cues:
                if province in cue_provinces or any(a in cue_areas for a in main_areas):
                    score += W_NAME
                    why.append(f"姓名“{_text(record.get('name'))}”：{reason}")
            rows.append({"level": "province", "county_code": None, "prefecture_code": None,
                         "province_code": province,
                         "name": _province_name(province), "score": round(score, 3),
                         "reasons": "；".join(why)})
    if not rows:
        for _areas, cue_provinces, reason in cues:
            for province in cue_provinces:
                rows.append({"level": "province", "county_code": None, "prefecture_code": None,
                             "province_code": province,
                             "name": _province_name(province), "score": W_NAME,
                             "reasons": f"姓名“{_text(record.get('name'))}”：{reason}"})
    rows.sort(key=lambda r: (-r["score"], r["county_code"] or r["prefecture_code"] or r["province_code"]))
    return rows[:k]


def suspected_home_counties(residents: pd.DataFrame | Iterable[dict], k: int = 5) -> pd.DataFrame:
    """Ranked suspected home counties (or provinces) per resident, with reasons.

    Columns: :data:`TARGET_COLUMNS`. Residents with no usable accent, statement or name cue get
    no rows (there is nothing to target).
    """
    if isinstance(residents, pd.DataFrame):
        if "resident_id" not in residents.columns:
            raise InputError("the resident table has no resident_id column; read it with "
                             "kinmatch.read_residents or name the id column 'resident_id'")
        records = residents.to_dict("records")
    else:
        records = list(residents)
    out = []
    for record in records:
        for rank, row in enumerate(_targets_of(record, k), start=1):
            out.append({"resident_id": _text(record.get("resident_id")), "rank": rank, **row})
    return pd.DataFrame(out, columns=TARGET_COLUMNS)
