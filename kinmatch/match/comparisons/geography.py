"""Where the resident was found against where the person went missing and where they come from.

A pair's level is the better of two places of the report, the missing place and the hometown: a
wanderer is found near where they were lost, or turns up near home. Each place scores by the
great-circle distance from the found place (:data:`DISTANCE_BANDS_KM`) and is raised to at least
"same province" / "same prefecture" / "same county" when the 6-digit adcodes share that prefix
(a county's coordinates are its seat's: two villages of one large county may lie 60 km apart).

The reason names the place that decided the level, with the distance measured to that place, and
says when a same-code rule rather than the distance gave the level.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.geo import haversine_radians
from kinmatch.match.comparisons.base import MISSING, Comparison, distinct_rows, object_array, object_values

DISTANCE_BANDS_KM = (10.0, 50.0, 200.0, 500.0, 1000.0)
"""Upper bounds (km, inclusive) of the distance bands: within 10 km is level 5, within 50 km
level 4 … within 1000 km level 1, beyond it level 0."""

CODE_RANKS = {"county": 1, "prefecture": 100, "province": 10000}
"""Divisor of a 6-digit adcode that keeps its county, prefecture or province prefix."""

CODE_LEVELS = {"province": 3, "prefecture": 4, "county": 5}
"""The least level of a pair whose adcodes share the county, prefecture or province prefix."""

PLACES = {"missing": "走失地", "home": "家乡"}
"""The report's places, in the order that wins a tie, with the word a reason calls them by."""

_RULE_WORDS = {5: "同县", 4: "同市", 3: "同省"}


def band_level(km: np.ndarray) -> np.ndarray:
    """The distance band of each distance: 5 within 10 km … 1 within 1000 km, 0 beyond, -1 for
    NaN (no coordinates)."""
    levels = 5 - np.searchsorted(np.asarray(DISTANCE_BANDS_KM), km, side="left")  # NaN sorts last
    return np.where(np.isnan(km), MISSING, levels)


def code_numbers(codes: Any) -> np.ndarray:
    """6-digit adcodes (str or None) as floats, NaN where blank or not a 6-digit number, so that
    prefixes compare by division. Each distinct code is parsed once."""
    position, distinct = pd.factorize(pd.Series(object_values(codes), dtype=object))
    parsed = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce").to_numpy(dtype=float)
    numbers = parsed[np.maximum(position, 0)] if len(parsed) else np.full(len(position), np.nan)
    numbers = np.where(position >= 0, numbers, np.nan)
    return np.where((numbers >= 100000) & (numbers <= 999999), numbers, np.nan)


def place_forms(frame: pd.DataFrame, place: str) -> dict[str, np.ndarray]:
    """One place of every record (``<place>_county``, ``_lon``, ``_lat``) in the form the levels
    read: the adcode cut to county, prefecture and province; lon/lat in radians and the cosine of
    the latitude (computed once per record, not once per pair)."""
    code = code_numbers(frame[f"{place}_county"])
    lon = np.radians(frame[f"{place}_lon"].to_numpy(dtype=float))
    lat = np.radians(frame[f"{place}_lat"].to_numpy(dtype=float))
    with np.errstate(invalid="ignore"):
        forms = {rank: np.floor(code / divisor) for rank, divisor in CODE_RANKS.items()}
    return forms | {"lon": lon, "lat": lat, "cos": np.cos(lat)}


def place_level(found: dict[str, np.ndarray], other: dict[str, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For places given as :func:`place_forms` (one pair per row): the level, the distance (km,
    NaN without coordinates) and the level of the distance band alone."""
    with np.errstate(invalid="ignore"):
        km = haversine_radians(found["lon"], found["lat"], found["cos"], other["lon"], other["lat"], other["cos"])
        band = band_level(km)
        level = band
        for rank, least in CODE_LEVELS.items():  # NaN codes are never equal
            level = np.where(found[rank] == other[rank], np.maximum(level, least), level)
    return level.astype(np.int8), km, band


TABLE_MAX_CELLS = 1_000_000
"""Up to this many (found place, report place) combinations the encoding holds the level of each
(:class:`LevelTable`): a batch's residents are found at a few stations' places and its reports
name a few thousand places, so the levels of hundreds of thousands of pairs are a lookup."""


class LevelTable(NamedTuple):
    """The level of every distinct found place against every distinct report place (``levels``,
    flat, ``width`` report places a row) and each record's place numbers: ``found`` per resident,
    ``missing`` and ``home`` per report (both places numbered in one list)."""

    levels: np.ndarray
    width: int
    found: np.ndarray
    missing: np.ndarray
    home: np.ndarray


def _place_numbers(*forms: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One number per record of ``forms`` (concatenated), equal where the adcode, longitude and
    latitude are equal (NaN equal to NaN: every level test reads those three alone), and the
    first record of each number."""
    columns = [np.concatenate([f[key] for f in forms]) for key in ("county", "lon", "lat")]
    return distinct_rows(*(pd.factorize(column, use_na_sentinel=False)[0] for column in columns))


def _level_table(encoded: dict) -> LevelTable | None:
    """The :class:`LevelTable` of the encoded places; None above :data:`TABLE_MAX_CELLS` cells."""
    found, found_first = _place_numbers(encoded["found"])
    report, report_first = _place_numbers(*(encoded[place] for place in PLACES))
    height, width = len(found_first), len(report_first)
    if height * width > TABLE_MAX_CELLS or height * width == 0:
        return None
    rows, columns = np.repeat(found_first, width), np.tile(report_first, height)
    n = len(report) // len(PLACES)
    other = {key: np.concatenate([encoded[place][key] for place in PLACES])[columns] for key in encoded["found"]}
    levels = place_level({key: values[rows] for key, values in encoded["found"].items()}, other)[0]
    return LevelTable(levels, width, found.astype(np.intp), report[:n].astype(np.intp), report[n:].astype(np.intp))


class GeographyComparison(Comparison):
    """Found place vs the report's missing place and hometown: distance bands on lon/lat and same
    county / prefecture / province by adcode, the better place deciding. 5 = same county or within
    10 km … 0 = beyond 1000 km; -1 when no place of the report can be measured or coded.

        >>> found = pd.DataFrame({"found_county": ["420106"], "found_lon": [114.31], "found_lat": [30.55]})
        >>> report = pd.DataFrame({"missing_county": ["110105"], "missing_lon": [116.44], "missing_lat": [39.92],
        ...                        "home_county": ["420115"], "home_lon": [114.32], "home_lat": [30.37]})
        >>> geography = GeographyComparison()
        >>> encoded = geography.encode(found, report)
        >>> lp = rp = np.array([0])
        >>> levels = geography.levels(encoded, lp, rp)
        >>> levels.tolist(), geography.reasons(encoded, lp, rp, levels).tolist()
        ([4], ['发现地距家乡20km'])
    """

    name = "geography"
    title = "地理距离"
    labels = {-1: "地点不详", 0: "发现地很远", 1: "发现地在千公里内", 2: "发现地在五百公里内",
              3: "发现地同省或两百公里内", 4: "发现地同市或五十公里内", 5: "发现地即走失地或家乡"}
    ordered = True
    agree_from = 3
    left_columns = ("found_county", "found_lon", "found_lat")
    right_columns = ("missing_county", "missing_lon", "missing_lat", "home_county", "home_lon", "home_lat")
    fields = (("发现地点 / 走失地点", "found_place", "missing_place"), ("户籍地", None, "hometown"))

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> dict[str, Any]:
        encoded = {"found": place_forms(residents, "found"), **{place: place_forms(missing, place) for place in PLACES}}
        return encoded | {"table": _level_table(encoded)}

    def place_levels(self, encoded: dict, lp: np.ndarray, rp: np.ndarray) -> dict[str, tuple[np.ndarray, ...]]:
        """Per report place (:data:`PLACES`): the level it gives each pair, the distance (km, NaN
        without coordinates) and the level of the distance band alone."""
        found = {key: values[lp] for key, values in encoded["found"].items()}
        return {place: place_level(found, {key: values[rp] for key, values in encoded[place].items()})
                for place in PLACES}

    def levels(self, encoded: dict, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        table = encoded.get("table")
        if table is not None:  # each pair's level looked up by its two places' numbers
            found = table.found[lp] * table.width
            return np.maximum(table.levels[found + table.missing[rp]], table.levels[found + table.home[rp]])
        by_place = self.place_levels(encoded, lp, rp)
        return np.maximum.reduce([level for level, _, _ in by_place.values()]).astype(np.int8)

    def reasons(self, encoded: dict, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """``发现地距家乡20km`` (the distance band gave the level), ``发现地与家乡同省(距620km)`` (the
        same-code rule raised it above the band), ``发现地与走失地同县`` (no coordinates); the place
        is the one whose level is the pair's, the missing place on a tie; ``地点不详`` at -1."""
        by_place = self.place_levels(encoded, lp, rp)
        levels = np.asarray(levels, dtype=np.int64)
        names = list(PLACES)
        deciding = np.full(len(lp), len(names), dtype=np.int64)  # none: the label
        for k in reversed(range(len(names))):  # the first place in PLACES wins a tie
            deciding = np.where((by_place[names[k]][0] == levels) & (levels >= 0), k, deciding)
        km = np.full(len(lp), np.nan)
        band = np.full(len(lp), MISSING, dtype=np.int64)
        for k, place in enumerate(names):
            km = np.where(deciding == k, by_place[place][1], km)
            band = np.where(deciding == k, by_place[place][2], band)
        shown = np.where(np.isnan(km), -1, np.rint(np.nan_to_num(km, nan=0.0))).astype(np.int64)
        raised = band < levels
        codes, first = distinct_rows(deciding, levels + 1, shown + 1, raised)
        texts = [self._reason(int(deciding[i]), int(levels[i]), int(shown[i]), bool(raised[i]))
                 for i in first.tolist()]
        return object_array(texts)[codes]

    def _reason(self, place: int, level: int, km: int, raised: bool) -> str:
        if place >= len(PLACES):
            return self.labels.get(level, self.name)
        where = list(PLACES.values())[place]
        if not raised:
            return f"发现地距{where}{km}km"
        measured = f"(距{km}km)" if km >= 0 else ""
        return f"发现地与{where}{_RULE_WORDS[level]}{measured}"
