"""Slow, obvious one-pair references for the place comparisons (geography, accent, statement
places): the functions the package computed pair by pair before the comparisons became declared
objects, kept as test oracles. Each takes two plain dicts of normalized values (absent key = blank).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from kinmatch.geo import haversine_km

MISSING = -1
DISTANCE_BANDS_KM = (10.0, 50.0, 200.0, 500.0, 1000.0)

LABELS = {
    "geography": {-1: "地点不详", 0: "发现地很远", 1: "发现地在千公里内", 2: "发现地在五百公里内",
                  3: "发现地同省或两百公里内", 4: "发现地同市或五十公里内", 5: "发现地即走失地或家乡"},
    "accent": {-1: "口音不详", 0: "口音与家乡不符", 1: "口音属家乡方言区", 2: "口音与家乡省份相符"},
    "statement_places": {-1: "无自述地名", 0: "自述地名与家乡不符", 1: "自述地名同省",
                         2: "自述地名同市", 3: "自述地名同县"},
}


def _str(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _float(value) -> float:
    return float("nan") if value is None else float(value)


def prefecture_of(code) -> str:
    code = _str(code)
    return code[:4] + "00" if len(code) == 6 else ""


def province_of(code) -> str:
    code = _str(code)
    return code[:2] + "0000" if len(code) == 6 else ""


# -- geography ---------------------------------------------------------------------------------

def _code(value) -> int | None:
    """A 6-digit adcode as a number, None when blank or not one."""
    try:
        number = float(_str(value))
    except ValueError:
        return None
    return int(number) if 100000 <= number <= 999999 else None


def geography_place(resident: Mapping, report: Mapping, place: str) -> tuple[int, float, int, str | None]:
    """For one report place ("missing" or "home"): (level, km, level of the distance band alone,
    the widest code rank the two adcodes share)."""
    km = float(haversine_km(_float(resident.get("found_lon")), _float(resident.get("found_lat")),
                            _float(report.get(f"{place}_lon")), _float(report.get(f"{place}_lat"))))
    if math.isnan(km):
        band = MISSING
    else:
        band = next((5 - i for i, bound in enumerate(DISTANCE_BANDS_KM) if km <= bound), 0)
    a, b = _code(resident.get("found_county")), _code(report.get(f"{place}_county"))
    shared = None
    if a is not None and b is not None:
        for rank, divisor in (("county", 1), ("prefecture", 100), ("province", 10000)):
            if a // divisor == b // divisor:
                shared = rank
                break
    level = max(band, {"county": 5, "prefecture": 4, "province": 3, None: MISSING}[shared])
    return level, km, band, shared


def geography_level(resident: Mapping, report: Mapping) -> int:
    """The better of the missing place's and the hometown's level."""
    return max(geography_place(resident, report, place)[0] for place in ("missing", "home"))


def geography_reason(resident: Mapping, report: Mapping) -> str:
    """The place that decided the level (the missing place on a tie) and the distance to it, or
    the same-code rule that raised the level above the distance band."""
    places = {place: geography_place(resident, report, place) for place in ("missing", "home")}
    level = max(p[0] for p in places.values())
    if level < 0:
        return LABELS["geography"][MISSING]
    place = "missing" if places["missing"][0] == level else "home"
    _, km, band, _ = places[place]
    where = {"missing": "走失地", "home": "家乡"}[place]
    if band == level:
        return f"发现地距{where}{km:.0f}km"
    rule = {5: "同县", 4: "同市", 3: "同省"}[level]
    return f"发现地与{where}{rule}" + ("" if math.isnan(km) else f"(距{km:.0f}km)")


# -- accent ------------------------------------------------------------------------------------

_AREA_GROUPS = ("N_Man", "JH_Man", "SW_Man", "Wu", "Xiang", "Gan", "Hakka", "Min", "Yue", "P_T")


def area_group(area) -> str:
    area = _str(area)
    for group in _AREA_GROUPS:
        if area == group or area.startswith(group + "_"):
            return group
    return area


def accent_level(resident: Mapping, report: Mapping) -> int:
    """2 an accent province is the home province, 1 same dialect group, 0 neither; -1 missing.
    Each side's accent against the other side's home; the better direction wins."""
    def side(record):
        return (frozenset(record.get("accent_provinces") or ()), _str(record.get("accent_area")),
                province_of(record.get("home_province")) or _str(record.get("home_province")),
                _str(record.get("home_dialect_area")))

    a, b = side(resident), side(report)
    best = MISSING
    for (provinces, area, _, _), (other, other_area, home, home_area) in ((a, b), (b, a)):
        if not (provinces or area):
            continue
        home_area = home_area or other_area
        if not (other or home or home_area):
            continue
        if provinces and (home in provinces or not provinces.isdisjoint(other)):
            level = 2
        elif area and home_area and area_group(area) == area_group(home_area):
            level = 1
        else:
            level = 0
        best = max(best, level)
    return best


# -- statement places --------------------------------------------------------------------------

def statement_places_level(resident: Mapping, report: Mapping) -> int:
    """3 a stated county is the home (or missing) county, 2 same prefecture, 1 same province, 0 none;
    -1 when the resident stated no place or the report has no usable place."""
    stated = [c for c in (resident.get("statement_places") or ()) if len(_str(c)) == 6]
    if not stated:
        return MISSING
    counties = {_str(report.get(c)) for c in ("home_county", "missing_county")} - {""}
    prefectures = {prefecture_of(c) for c in counties} | {_str(report.get("home_prefecture"))}
    home = report.get("home_province")
    provinces = {province_of(c) for c in counties} | {province_of(home) or _str(home)}
    prefectures.discard("")
    provinces.discard("")
    if not (counties or prefectures or provinces):
        return MISSING
    if set(stated) & counties:
        return 3
    if {prefecture_of(c) for c in stated} & prefectures:
        return 2
    if {province_of(c) for c in stated} & provinces:
        return 1
    return 0


def statement_places_met(resident: Mapping, report: Mapping) -> str | None:
    """The first stated county that meets the report at the pair's level (None at 0 and -1)."""
    level = statement_places_level(resident, report)
    if level < 1:
        return None
    counties = {_str(report.get(c)) for c in ("home_county", "missing_county")} - {""}
    home = report.get("home_province")
    reach = {3: (lambda c: c, counties),
             2: (prefecture_of, {prefecture_of(c) for c in counties} | {_str(report.get("home_prefecture"))}),
             1: (province_of, {province_of(c) for c in counties} | {province_of(home) or _str(home)})}
    cut, theirs = reach[level]
    theirs = theirs - {""}
    return next(c for c in resident.get("statement_places") or () if len(_str(c)) == 6 and cut(c) in theirs)


REASONS = {
    "accent": lambda resident, report: LABELS["accent"][accent_level(resident, report)],
    "statement_places": lambda resident, report: LABELS["statement_places"][statement_places_level(resident, report)],
    "geography": geography_reason,
}
"""The one-pair reason of each comparison (without the weight)."""

LEVELS = {"geography": geography_level, "accent": accent_level, "statement_places": statement_places_level}
"""The one-pair level of each comparison."""
