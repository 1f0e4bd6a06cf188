"""Candidate pairs: which missing-person reports are worth comparing with each resident.

Recall comes first: a true pair dropped here is lost for good. So several independent passes
each propose pairs, and their union is compared:

========================  ===================================================================
pass                      a report is proposed when …
========================  ===================================================================
``name_sound``            any sound key of its name or 小名 meets the resident's (dialect-merged
                          keys included, so 吴春花 meets 胡春花)
``given_sound``           the given name or 小名 alone meets (二娃, 小军, 阿伟 — 阿英 meets 秀英 on
                          its last syllable; a resident who said only 明廷 meets 陈明廷), same
                          sex, birth years within a wide window
``one_char``              the written names differ in one character (李丹玲 / 李桂玲; names of
                          three or more characters), same sex, birth years within the window
``rare_surname``          a rare surname sound meets, same sex, birth years within the window
``prefixed_surname``      the resident gave only 老薛 / 小黄 / 阿陈 and the report's surname sound
                          is 薛 / 黄 / 陈, same sex, birth years within the window
``hometown``              the resident's accent provinces / dialect area / stated places point to
                          the report's home, same sex, birth years within the window
``place``                 its missing place or hometown is in the prefecture where the resident
                          was found or one near it, same sex, birth years within the window
``marks``                 it shares a mark type and body part (缺指:左手, 痣:额头), same sex, birth
                          years within the wide window; pairs sharing more marks and conditions
                          are kept first when capped
``mark_pairs``            it shares two marks at once (疤痕:额头 and 胎记:脸, either side), same
                          sex, birth years within the wide window: a combination of two common
                          marks is rare, and for a nameless resident found far from home it is
                          often the only clue
``last_resort``           for residents with little evidence: same sex, birth years in the
                          window, nearest missing places first
========================  ===================================================================

Hard constraints apply only where near-certain: the resident cannot have been found more than
:data:`~kinmatch.match.comparisons.DATE_TOLERANCE_DAYS` days before the person went missing, and
the sexes must agree when both are known.

Every pass is capped per resident (keeping the best-supported pairs by a cheap pre-score: birth
years, height, distance, time) and the union is capped again; what was capped is counted, never
silently dropped. Residents are processed in chunks so memory stays bounded, and all keys are
integer-coded. Why not ``recordlinkage.index.Block``: it materialises every pair of a block at once,
and a block such as (四川, 男, 1960s) against a million reports has tens of millions of pairs; the
sorted inverted index here expands and caps them one chunk of residents at a time.

    >>> import pandas as pd
    >>> residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["F"],
    ...                           "name_keys": [("wu chun hua", "hu chun hua")], "name_evidence": [True]})
    >>> missing = pd.DataFrame({"missing_id": ["M1", "M2"], "sex_code": ["F", "F"],
    ...                         "name_keys": [("hu chun hua",), ("li wei",)]})
    >>> result = candidate_pairs(residents, missing, progress=False)
    >>> result.pairs[["resident_id", "missing_id", "passes"]].values.tolist()
    [['R1', 'M1', 'name_sound']]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons import CONDITION_NAMES, DATE_TOLERANCE_DAYS, haversine_km

PASSES = ["name_sound", "given_sound", "one_char", "rare_surname", "prefixed_surname", "hometown", "place", "marks",
          "mark_pairs", "last_resort"]
"""Pass names, in order; ``passes`` in the result joins the names of the passes that proposed a pair."""

_BIT = {name: 1 << i for i, name in enumerate(PASSES)}

_YEAR0, _YEAR1, _BIN_YEARS = 1880, 2040, 2
_N_BINS = (_YEAR1 - _YEAR0) // _BIN_YEARS + 2  # bin 0 = unknown birth year
_N_SEX = 3  # 0 unknown, 1 M, 2 F


@dataclass
class CandidateSettings:
    """Knobs of candidate generation (defaults sized for 10k residents × 1M reports).

    ``year_window``: years allowed beyond both birth-year intervals; ``wide_year_window`` for the
    weak given-name and marks passes. ``caps``: most pairs kept per resident by each pass;
    ``max_per_resident``: most pairs kept per resident overall. ``rare_share``: a surname sound shared
    by fewer than this share of reports counts as rare; ``rare_mark_share`` likewise for the marks
    pass (1.0: every mark, because on simulated data with 30% nameless residents a shared common
    mark, capped by the shared-feature pre-score, raised candidate recall from 0.89 to 0.93).
    ``last_resort_km``: the last-resort pass looks this far for provinces (a nameless resident is
    often found a thousand kilometres from home). ``near_km``: prefectures whose
    centre is within this distance of the found place count as near. ``few_candidates``: residents
    with fewer pairs than this after the other passes (or with little evidence) get the last-resort
    pass. ``nameless_place_factor``: residents without a usable name keep this many times more
    pairs from the hometown and place passes."""

    year_window: float = 5.0
    wide_year_window: float = 10.0
    caps: dict | None = None
    max_per_resident: int = 400
    rare_share: float = 0.003
    rare_mark_share: float = 1.0
    near_km: float = 150.0
    last_resort_km: float = 1500.0
    few_candidates: int = 30
    nameless_place_factor: int = 3
    chunk_size: int = 500
    max_pairs_in_memory: int = 8_000_000

    def cap(self, name: str) -> int:
        caps = {"name_sound": 200, "given_sound": 60, "one_char": 40, "rare_surname": 60, "prefixed_surname": 60,
                "hometown": 60, "place": 60,
                "marks": 100, "mark_pairs": 60, "last_resort": 120}
        caps.update(self.caps or {})
        return int(caps[name])


class Candidates(NamedTuple):
    """``pairs``: resident_id, missing_id, passes (pass names joined by ``+``), prescore.
    ``counts``: one row per pass: pairs proposed, kept after the per-pass cap, capped, and pairs
    removed by the hard constraints."""

    pairs: pd.DataFrame
    counts: pd.DataFrame


# ---------------------------------------------------------------------------------------------
# column access that tolerates absent normalized columns (a frame without marks has no marks pass)


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy()
    return np.full(len(frame), None, dtype=object)


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _days(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    dates = pd.to_datetime(frame[name], errors="coerce")
    days = (dates - pd.Timestamp("1970-01-01")).dt.days
    return days.to_numpy(dtype=float)


def _sex(frame: pd.DataFrame) -> np.ndarray:
    codes = _col(frame, "sex_code")
    return np.array([1 if s == "M" else 2 if s == "F" else 0 for s in codes], dtype=np.int8)


def _tuples(values: np.ndarray, *more: np.ndarray) -> list[tuple]:
    out = []
    for row in zip(values, *more) if more else ((v,) for v in values):
        items: list = []
        for v in row:
            if v is None or (isinstance(v, float) and v != v):
                continue
            if isinstance(v, str):
                if v:
                    items.append(v)
            else:
                items.extend(x for x in v if isinstance(x, str) and x)
        out.append(tuple(dict.fromkeys(items)))
    return out


def _code_prefix(values: np.ndarray, cut: int) -> np.ndarray:
    return np.array([v[:cut] if isinstance(v, str) and len(v) == 6 else None for v in values], dtype=object)


def _bin(year: np.ndarray) -> np.ndarray:
    b = np.floor((year - _YEAR0) / _BIN_YEARS).astype("float") + 1
    return np.where(np.isnan(year), 0, np.clip(np.nan_to_num(b, nan=0), 1, _N_BINS - 1)).astype(np.int64)


def _masked(name: Any) -> tuple:
    """Written name with each character in turn masked: 李丹玲 → (?丹玲, 李?玲, 李丹?). Only names of
    three or more characters (a masked two-character name is just a surname or a given name)."""
    if not isinstance(name, str) or len(name) < 3 or len(name) > 5 or "·" in name:
        return ()
    return tuple(name[:i] + "?" + name[i + 1:] for i in range(len(name)))


def _mark_pairs(marks: tuple) -> tuple:
    """Every pair of distinct mark types-and-parts, side dropped (a mirrored 左/右 still meets):
    (疤痕:额头, 痣:脸) → ('疤痕:额头|痣:脸',). At most 6 marks are paired (15 keys)."""
    parts = sorted({m for m in marks if m})[:6]
    return tuple(f"{a}|{b}" for i, a in enumerate(parts) for b in parts[i + 1:])


def _mark_features(marks: np.ndarray, conditions: np.ndarray) -> list[tuple]:
    """Mark types-and-parts (side dropped) and conditions (``!聋哑``) of each record, for the
    shared-feature bonus of :func:`prescore`."""
    out = []
    for ms, cs in zip(_tuples(marks), _tuples(conditions)):
        keys = {":".join(m.split(":")[:2]) for m in ms if not m.startswith("无")}
        keys = {f"!{k.split(':')[0]}" if k.split(":")[0] in CONDITION_NAMES else k for k in keys}
        keys |= {f"!{c}" for c in cs}
        out.append(tuple(sorted(keys)))
    return out


def _bitmask(features: list[tuple], vocabulary: dict[str, int]) -> np.ndarray:
    """One int64 per record with a bit per feature (a feature beyond the 63 most frequent shares
    its bit with another: a rare false overlap only moves a pre-score)."""
    out = np.zeros(len(features), dtype=np.int64)
    for i, keys in enumerate(features):
        bits = 0
        for k in keys:
            code = vocabulary.get(k)
            if code is not None:
                bits |= 1 << (code % 63)
        out[i] = bits
    return out


def _resident_given_keys(keys: tuple) -> tuple:
    """A resident's given-name, 小名 and whole-name keys as given-name queries (``G:``), plus the
    single syllable of a partial name (阿英, 小宝) against reports' last given syllable (``L:``)."""
    out = [f"G:{k}" for k in keys]
    out += [f"L:{k}" for k in keys if k and " " not in k]
    return tuple(dict.fromkeys(out))


# how strongly a query key supports a pair, by its prefix: a stated prefecture (C) beats an accent
# province (P) beats a dialect area (A); a whole given name (G) beats one syllable of it (L)
_PLACE_PASSES = frozenset({"hometown", "place"})
_KEY_CLASS = {"C": 3, "G": 2, "P": 1, "L": 1, "A": 0}
_CLASS_SCORE = np.array([-1.0, 0.0, 2.0, 4.0])


# ---------------------------------------------------------------------------------------------
# the report side: integer-coded, sorted inverted indexes


class _ReportIndex:
    """Sorted composite keys → report positions for one pass."""

    def __init__(self, vocabulary: pd.Index, composite: np.ndarray, positions: np.ndarray):
        order = np.argsort(composite, kind="stable")
        self.vocabulary = vocabulary
        self.keys = composite[order]
        self.positions = positions[order].astype(np.int64)

    def ranges(self, composite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.searchsorted(self.keys, composite, "left"), np.searchsorted(self.keys, composite, "right"))


def _explode(key_lists: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Per-record tuples → (record position, key) flat arrays."""
    lengths = np.fromiter((len(k) for k in key_lists), dtype=np.int64, count=len(key_lists))
    positions = np.repeat(np.arange(len(key_lists), dtype=np.int64), lengths)
    keys = np.array([k for keys in key_lists for k in keys], dtype=object)
    return positions, keys


def _composite(key_code: np.ndarray, sex: np.ndarray, year_bin: np.ndarray) -> np.ndarray:
    return (key_code.astype(np.int64) * _N_SEX + sex.astype(np.int64)) * _N_BINS + year_bin.astype(np.int64)


def _set_person_arrays(side, frame: pd.DataFrame, id_column: str) -> None:
    """What both sides share as flat arrays: ids, sex, birth-year interval (one end standing in for a
    missing other), event day, height."""
    side.n = len(frame)
    side.ids = frame[id_column].astype(str).to_numpy()
    side.sex = _sex(frame)
    low, high = _num(frame, "birth_year_low"), _num(frame, "birth_year_high")
    side.year_low = np.where(np.isnan(low), high, low)
    side.year_high = np.where(np.isnan(high), low, high)
    side.day = _days(frame, "event_date")
    side.height = _num(frame, "height_cm")


class _Reports:
    """Everything about the reports that the passes need, as flat arrays."""

    def __init__(self, missing: pd.DataFrame, settings: CandidateSettings):
        _set_person_arrays(self, missing, "missing_id")
        self.lon = np.where(np.isnan(_num(missing, "missing_lon")), _num(missing, "home_lon"), _num(missing, "missing_lon"))
        self.lat = np.where(np.isnan(_num(missing, "missing_lat")), _num(missing, "home_lat"), _num(missing, "missing_lat"))
        self.settings = settings
        # birth-year bins a report sits in: every bin its interval covers when narrow, else "unknown"
        width = self.year_high - self.year_low
        narrow = ~np.isnan(width) & (width <= 12)
        first = np.where(narrow, _bin(self.year_low), 0)
        last = np.where(narrow, _bin(self.year_high), 0)
        self.bin_count = (last - first + 1).astype(np.int64)
        self.bin_first = first

        names = _tuples(_col(missing, "name_keys"), _col(missing, "alias_keys"))
        givens = [tuple(f"G:{k}" for k in ks) + tuple(dict.fromkeys(f"L:{k.split()[-1]}" for k in ks if " " in k))
                  for ks in _tuples(_col(missing, "given_keys"), _col(missing, "alias_keys"))]
        masked = [_masked(n) for n in _col(missing, "name_norm")]
        surnames = _tuples(_col(missing, "surname_keys"))
        home_province = _col(missing, "home_province")
        home_prefecture = _col(missing, "home_prefecture")
        home_county = _col(missing, "home_county")
        hometown = _tuples(np.array([f"P{v}" if isinstance(v, str) and v else None for v in home_province], dtype=object),
                           np.array([f"C{v}" if isinstance(v, str) and v else None for v in home_prefecture], dtype=object),
                           np.array([f"C{v[:4]}00" if isinstance(v, str) and len(v) == 6 else None for v in home_county],
                                    dtype=object),
                           np.array([f"A{v}" if isinstance(v, str) and v else None
                                     for v in _col(missing, "home_dialect_area")], dtype=object))
        places = _tuples(_col(missing, "missing_prefecture"), _code_prefix(_col(missing, "missing_county"), 4),
                         home_prefecture)
        places = [tuple(p if len(p) == 6 else p + "00" for p in ps) for ps in places]
        marks = [tuple(sorted({":".join(str(m).split(":")[:2]) for m in ms if not str(m).startswith("无")
                               and str(m).split(":")[0] not in CONDITION_NAMES}))
                 for ms in _tuples(_col(missing, "marks"))]
        provinces = _tuples(home_province, _code_prefix(_col(missing, "missing_county"), 2))
        provinces = [tuple(p if len(p) == 6 else p + "0000" for p in ps) for ps in provinces]

        surname_share = self._share(surnames)
        rare_surnames = [tuple(k for k in ks if surname_share.get(k, 1.0) < settings.rare_share) for ks in surnames]
        self.mark_share = self._share(marks)
        rare_marks = [tuple(k for k in ks if self.mark_share.get(k, 1.0) < settings.rare_mark_share) for ks in marks]
        self.surname_share = surname_share
        features = _mark_features(_col(missing, "marks"), _col(missing, "conditions"))
        _, flat = _explode(features)
        ranked = pd.Series(flat, dtype=object).value_counts().index if len(flat) else []
        self.feature_codes = {k: i for i, k in enumerate(ranked)}
        self.feature_bits = _bitmask(features, self.feature_codes)
        self.indexes = {
            "name_sound": self._index(names, by_year=False),
            "given_sound": self._index(givens),
            "one_char": self._index(masked),
            "rare_surname": self._index(rare_surnames),
            "prefixed_surname": self._index(surnames),
            "hometown": self._index(hometown),
            "place": self._index(places),
            "marks": self._index(rare_marks),
            "mark_pairs": self._index([_mark_pairs(ks) for ks in marks]),
            "last_resort": self._index(provinces),
        }
        self.prefecture_centres = _centres(places, self.lon, self.lat)
        self.province_centres = _centres(provinces, self.lon, self.lat)

    def _share(self, key_lists: list[tuple]) -> dict[str, float]:
        _, keys = _explode(key_lists)
        if len(keys) == 0:
            return {}
        return (pd.Series(keys).value_counts() / max(self.n, 1)).to_dict()

    def _index(self, key_lists: list[tuple], by_year: bool = True) -> _ReportIndex:
        positions, keys = _explode(key_lists)
        codes, vocabulary = pd.factorize(pd.Series(keys, dtype=object))
        codes = codes.astype(np.int64)
        if not by_year:
            return _ReportIndex(pd.Index(vocabulary), codes, positions)
        counts = self.bin_count[positions]
        positions = np.repeat(positions, counts)
        codes = np.repeat(codes, counts)
        offsets = np.arange(len(positions)) - np.repeat(np.cumsum(counts) - counts, counts)
        bins = self.bin_first[positions] + offsets
        return _ReportIndex(pd.Index(vocabulary), _composite(codes, self.sex[positions], bins), positions)


def _centres(key_lists: list[tuple], lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    positions, keys = _explode(key_lists)
    frame = pd.DataFrame({"key": keys, "lon": lon[positions], "lat": lat[positions]}).dropna()
    return frame.groupby("key")[["lon", "lat"]].mean()


# ---------------------------------------------------------------------------------------------
# the resident side


class _Residents:
    def __init__(self, residents: pd.DataFrame):
        _set_person_arrays(self, residents, "resident_id")
        self.lon, self.lat = _num(residents, "found_lon"), _num(residents, "found_lat")
        evidence = _col(residents, "name_evidence")
        self.name_evidence = np.array([True if v is None or (isinstance(v, float) and v != v) else bool(v)
                                       for v in evidence], dtype=bool)
        self.names = [k if e else () for k, e in zip(_tuples(_col(residents, "name_keys"),
                                                             _col(residents, "alias_keys")), self.name_evidence)]
        givens = _tuples(_col(residents, "given_keys"), _col(residents, "alias_keys"), _col(residents, "name_keys"))
        self.givens = [_resident_given_keys(k) if e else () for k, e in zip(givens, self.name_evidence)]
        self.masked = [_masked(n) if e else () for n, e in zip(_col(residents, "name_norm"), self.name_evidence)]
        found_year = pd.to_datetime(pd.Series(self.day * 86400e9), errors="coerce").dt.year.to_numpy(dtype=float)
        age = found_year - (self.year_low + self.year_high) / 2
        # an older face is misjudged by more years (a 70-year-old by ±7 more than a child)
        self.age = np.where(np.isnan(age), 40.0, np.clip(age, 0, 100))
        self.surnames = [k if e else () for k, e in zip(_tuples(_col(residents, "surname_keys")), self.name_evidence)]
        # 老薛 / 小黄: the given syllable as a surname query
        self.prefixed = [k if e and isinstance(n, str) and len(n) == 2 and n[0] in "老小阿" else ()
                         for k, e, n in zip(_tuples(_col(residents, "given_keys")), self.name_evidence,
                                            _col(residents, "name_norm"))]
        provinces = _tuples(_col(residents, "accent_provinces"))
        stated = _tuples(_col(residents, "statement_places"))
        areas = _col(residents, "accent_area")
        hometown = []
        for ps, ss, area in zip(provinces, stated, areas):
            keys = [f"P{p}" for p in ps] + [f"C{s[:4]}00" for s in ss if len(s) == 6]
            keys += [f"P{s[:2]}0000" for s in ss if len(s) == 6]
            if not ps and isinstance(area, str) and area:
                keys.append(f"A{area}")
            hometown.append(tuple(dict.fromkeys(keys)))
        self.hometown = hometown
        found_pref = _tuples(_col(residents, "found_prefecture"), _code_prefix(_col(residents, "found_county"), 4))
        self.found_prefecture = [tuple(p if len(p) == 6 else p + "00" for p in ps)[:1] for ps in found_pref]
        found_prov = _tuples(_col(residents, "found_province"), _code_prefix(_col(residents, "found_county"), 2))
        self.found_province = [tuple(p if len(p) == 6 else p + "0000" for p in ps)[:1] for ps in found_prov]
        self.marks = [tuple(sorted({":".join(str(m).split(":")[:2]) for m in ms if not str(m).startswith("无")
                               and str(m).split(":")[0] not in CONDITION_NAMES}))
                      for ms in _tuples(_col(residents, "marks"))]
        self.mark_pairs = [_mark_pairs(ms) for ms in self.marks]
        # little evidence: no usable name, and neither place clues nor marks
        self.little_evidence = np.array([not n and not h and not m for n, h, m in
                                         zip(self.names, self.hometown, self.marks)], dtype=bool)


# ---------------------------------------------------------------------------------------------
# joining, filtering, pre-scoring and capping


def _near(keys: tuple, centres: pd.DataFrame, lon: float, lat: float, km: float) -> tuple:
    """The given keys plus every key whose centre is within ``km`` of (lon, lat)."""
    if np.isnan(lon) or np.isnan(lat) or centres.empty:
        return keys
    dist = haversine_km(np.full(len(centres), lon), np.full(len(centres), lat),
                        centres["lon"].to_numpy(), centres["lat"].to_numpy())
    near = centres.index[dist <= km]
    return tuple(dict.fromkeys(list(keys) + list(near)))


def _window(res: _Residents, r: np.ndarray, window: float) -> np.ndarray:
    """Years allowed beyond both birth-year intervals for residents ``r``: the base window plus a
    tenth of the estimated age."""
    return window + 0.1 * res.age[r]


def _query(res: _Residents, chunk: np.ndarray, key_lists: list[tuple], index: _ReportIndex, by_year: bool,
           window: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Composite query codes for the residents of ``chunk`` → (resident position, query code,
    key class)."""
    rows = [(r, k) for r in chunk for k in key_lists[r]]
    empty = np.empty(0, np.int64)
    if not rows:
        return empty, empty, empty
    r_pos = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
    classes = np.fromiter((_KEY_CLASS.get(k[:1], 1) for _, k in rows), dtype=np.int64, count=len(rows))
    codes = index.vocabulary.get_indexer(pd.Index([k for _, k in rows], dtype=object)).astype(np.int64)
    keep = codes >= 0
    r_pos, codes, classes = r_pos[keep], codes[keep], classes[keep]
    if not by_year or len(r_pos) == 0:
        return r_pos, codes, classes
    # each resident asks for its own sex and "unknown", and every bin of its widened interval plus
    # "unknown" (a resident of unknown age asks for every bin)
    sex = res.sex[r_pos].astype(np.int64)
    widen = _window(res, r_pos, window)
    first_bins = _bin(res.year_low[r_pos] - widen)
    last_bins = _bin(res.year_high[r_pos] + widen)
    unknown = np.isnan(res.year_low[r_pos])
    # one query per (key, sex, bin), expanded with repeat/offsets rather than a Python loop
    n_bins = np.where(unknown, _N_BINS, last_bins - first_bins + 2)
    n_sex = np.where(sex == 0, 3, 2)
    total = n_bins * n_sex
    row = np.repeat(np.arange(len(r_pos)), total)
    offset = np.arange(int(total.sum()), dtype=np.int64) - np.repeat(np.cumsum(total) - total, total)
    sex_slot, bin_slot = offset // n_bins[row], offset % n_bins[row]
    bins = np.where(unknown[row], bin_slot, np.where(bin_slot == 0, 0, first_bins[row] + bin_slot - 1))
    sexes = np.where(n_sex[row] == 3, sex_slot, np.where(sex_slot == 0, sex[row], 0))
    return r_pos[row], _composite(codes[row], sexes, bins), classes[row]


def _expand(r_pos: np.ndarray, starts: np.ndarray, ends: np.ndarray, positions: np.ndarray, classes: np.ndarray):
    lengths = ends - starts
    total = int(lengths.sum())
    r = np.repeat(r_pos, lengths)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return r, positions[np.repeat(starts, lengths) + offsets], np.repeat(classes, lengths)


def _dedupe_best(r: np.ndarray, m: np.ndarray, classes: np.ndarray, n_reports: int):
    """Distinct pairs, each with the strongest key class that proposed it (sort-based: numpy 2's
    hash-based ``np.unique`` is ~50× slower on millions of int64)."""
    n = max(n_reports, 1)
    values = np.sort((r.astype(np.int64) * n + m) * 4 + (3 - classes))
    pair = values // 4
    first = np.r_[True, pair[1:] != pair[:-1]] if len(pair) else np.empty(0, bool)
    values, pair = values[first], pair[first]
    return pair // n, pair % n, 3 - values % 4


def _constraints(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray) -> np.ndarray:
    """True where the pair is possible: sexes agree when both known; found no earlier than missing
    (less the date tolerance)."""
    sex_r, sex_m = res.sex[r], rep.sex[m]
    ok = (sex_r == 0) | (sex_m == 0) | (sex_r == sex_m)
    gap_days = res.day[r] - rep.day[m]
    ok &= ~(gap_days < -DATE_TOLERANCE_DAYS)
    return ok


def _year_gap(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.maximum(res.year_low[r] - rep.year_high[m], rep.year_low[m] - res.year_high[r]))


def prescore(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray, far_ok: bool = False) -> np.ndarray:
    """Cheap support score used only to choose which pairs to keep when a pass is capped:
    years of birth-year gap, centimetres of height gap beyond 8, hundreds of km, years lost; each
    shared mark type-and-part or condition (疤痕:额头, 聋哑) counts for 300 km, because a nameless
    resident found far from home otherwise loses its true report to nearer strangers."""
    gap = np.nan_to_num(_year_gap(res, rep, r, m), nan=2.0)
    height = np.nan_to_num(np.maximum(0.0, np.abs(res.height[r] - rep.height[m]) - 8.0) / 5.0, nan=0.5)
    km = haversine_km(res.lon[r], res.lat[r], rep.lon[m], rep.lat[m])
    # ``far_ok``: pairs proposed because the accent or statements point to the report's home:
    # the resident was found far from it by definition, so distance must not decide the cap
    distance = np.zeros(len(r)) if far_ok else np.nan_to_num(km / 300.0, nan=1.5)
    years = np.nan_to_num(np.maximum(res.day[r] - rep.day[m], 0) / 365.25, nan=2.0)
    shared = np.bitwise_count(res.feature_bits[r] & rep.feature_bits[m]).astype(float)
    return -(gap + height + distance + 0.5 * np.log1p(years)) + 1.0 * shared


def _cap(r: np.ndarray, m: np.ndarray, score: np.ndarray, cap) -> np.ndarray:
    """Indices of the best ``cap`` pairs per resident (ties broken by report position, so the
    result does not depend on chunking). ``cap`` is a number or an array of per-pair caps."""
    if len(r) == 0:
        return np.empty(0, np.int64)
    order = np.lexsort((m, -score, r))
    r_sorted = r[order]
    first = np.r_[0, np.flatnonzero(np.diff(r_sorted)) + 1]
    counts = np.diff(np.r_[first, len(r_sorted)])
    rank = np.arange(len(r_sorted)) - np.repeat(first, counts)
    cap = cap[order] if isinstance(cap, np.ndarray) else cap
    return order[rank < cap]


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy 2's hash-based unique is ~50× slower on millions of int64."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _run_pass(name: str, res: _Residents, rep: _Reports, chunk: np.ndarray, key_lists: list[tuple],
              settings: CandidateSettings, counts: dict, by_year: bool = True, window: float | None = None):
    index = rep.indexes[name]
    window = settings.year_window if window is None else window
    q_r, q_code, q_class = _query(res, chunk, key_lists, index, by_year, window)
    if len(q_r) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts, ends = index.ranges(q_code)
    # expand in groups of residents so a chunk with very common keys stays within memory
    per_resident = pd.Series(ends - starts).groupby(q_r).sum()
    group_of = (per_resident.cumsum() // max(settings.max_pairs_in_memory, 1))
    groups = group_of.reindex(q_r).to_numpy()
    kept_r, kept_m = [], []
    for g in _sorted_unique(groups):
        sel = groups == g
        r, m, classes = _expand(q_r[sel], starts[sel], ends[sel], index.positions, q_class[sel])
        r, m, classes = _dedupe_best(r, m, classes, rep.n)
        if by_year:
            gap = _year_gap(res, rep, r, m)
            in_window = ~(gap > _window(res, r, window))  # NaN (unknown year) stays
            r, m, classes = r[in_window], m[in_window], classes[in_window]
        counts[name]["proposed"] += len(r)
        ok = _constraints(res, rep, r, m)
        counts[name]["removed_by_constraints"] += int((~ok).sum())
        r, m, classes = r[ok], m[ok], classes[ok]
        cap = settings.cap(name)
        if name in _PLACE_PASSES:
            # a resident with no usable name has room: its name passes propose nothing
            cap = np.where(res.name_evidence[r], cap, cap * settings.nameless_place_factor)
        score = prescore(res, rep, r, m, far_ok=name == "hometown") + _CLASS_SCORE[classes]
        keep = _cap(r, m, score, cap)
        counts[name]["capped"] += len(r) - len(keep)
        kept_r.append(r[keep])
        kept_m.append(m[keep])
    r, m = np.concatenate(kept_r), np.concatenate(kept_m)
    counts[name]["kept"] += len(r)
    return r, m


def candidate_pairs(residents: pd.DataFrame, missing: pd.DataFrame, settings: CandidateSettings | None = None,
                    progress: bool = True, **overrides: Any) -> Candidates:
    """Union of all passes for normalized residents × normalized reports.

    ``overrides`` set fields of :class:`CandidateSettings` (``chunk_size=200``, ``year_window=8``…).
    Returns :class:`Candidates` (``pairs`` sorted by resident then pre-score, and the per-pass
    ``counts`` table).
    """
    settings = settings or CandidateSettings()
    for key, value in overrides.items():
        if not hasattr(settings, key):
            raise TypeError(f"candidate_pairs: unknown setting {key!r}")
        setattr(settings, key, value)
    rep = _Reports(missing, settings)
    res = _Residents(residents)
    res.feature_bits = _bitmask(_mark_features(_col(residents, "marks"), _col(residents, "conditions")),
                                rep.feature_codes)
    counts = {name: {"proposed": 0, "removed_by_constraints": 0, "capped": 0, "kept": 0} for name in PASSES}
    counts["union"] = {"proposed": 0, "removed_by_constraints": 0, "capped": 0, "kept": 0}
    frames = []
    chunks = [np.arange(s, min(s + settings.chunk_size, res.n)) for s in range(0, res.n, settings.chunk_size)]
    iterator = chunks
    if progress and chunks:
        from tqdm.auto import tqdm

        iterator = tqdm(chunks, desc="candidates", unit="chunk", leave=False)
    for chunk in iterator:
        frames.append(_chunk_pairs(res, rep, chunk, settings, counts))
    pairs = pd.concat(frames, ignore_index=True) if frames else _empty_pairs()
    count_table = pd.DataFrame.from_dict(counts, orient="index").rename_axis("pass").reset_index()
    return Candidates(pairs, count_table)


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({"resident_id": pd.Series(dtype=str), "missing_id": pd.Series(dtype=str),
                         "passes": pd.Series(dtype=str), "prescore": pd.Series(dtype=float)})


def _chunk_pairs(res: _Residents, rep: _Reports, chunk: np.ndarray, settings: CandidateSettings,
                 counts: dict) -> pd.DataFrame:
    found_near = [_near(res.found_prefecture[r], rep.prefecture_centres, res.lon[r], res.lat[r], settings.near_km)
                  for r in chunk]
    near_lists: list[tuple] = [()] * res.n
    for r, keys in zip(chunk, found_near):
        near_lists[r] = keys
    results = {
        "name_sound": _run_pass("name_sound", res, rep, chunk, res.names, settings, counts, by_year=False),
        "given_sound": _run_pass("given_sound", res, rep, chunk, res.givens, settings, counts,
                                 window=settings.wide_year_window),
        "one_char": _run_pass("one_char", res, rep, chunk, res.masked, settings, counts),
        "rare_surname": _run_pass("rare_surname", res, rep, chunk, res.surnames, settings, counts),
        "prefixed_surname": _run_pass("prefixed_surname", res, rep, chunk, res.prefixed, settings, counts),
        "hometown": _run_pass("hometown", res, rep, chunk, res.hometown, settings, counts),
        "place": _run_pass("place", res, rep, chunk, near_lists, settings, counts),
        "marks": _run_pass("marks", res, rep, chunk, res.marks, settings, counts,
                           window=settings.wide_year_window),
        "mark_pairs": _run_pass("mark_pairs", res, rep, chunk, res.mark_pairs, settings, counts,
                                window=settings.wide_year_window),
    }
    r_all = np.concatenate([v[0] for v in results.values()])
    m_all = np.concatenate([v[1] for v in results.values()])
    bits = np.concatenate([np.full(len(v[0]), _BIT[k], dtype=np.int64) for k, v in results.items()])
    # last resort: residents with little evidence or few pairs so far
    so_far = np.bincount(r_all, minlength=res.n)[chunk] if len(r_all) else np.zeros(len(chunk), int)
    needy = chunk[res.little_evidence[chunk] | (so_far < settings.few_candidates)]
    if len(needy):
        province_lists: list[tuple] = [()] * res.n
        every_province = tuple(rep.province_centres.index)
        for r in needy:
            near = _near(res.found_province[r], rep.province_centres, res.lon[r], res.lat[r], settings.last_resort_km)
            province_lists[r] = near if near else every_province
        lr_r, lr_m = _run_pass("last_resort", res, rep, needy, province_lists, settings, counts)
        r_all = np.concatenate([r_all, lr_r])
        m_all = np.concatenate([m_all, lr_m])
        bits = np.concatenate([bits, np.full(len(lr_r), _BIT["last_resort"], dtype=np.int64)])
    if len(r_all) == 0:
        return _empty_pairs()
    # union: OR the pass bits of each distinct pair
    code = r_all * max(rep.n, 1) + m_all
    order = np.argsort(code, kind="stable")
    code, bits = code[order], bits[order]
    starts = np.r_[0, np.flatnonzero(np.diff(code)) + 1]
    code = code[starts]
    bits = np.bitwise_or.reduceat(bits, starts)
    r, m = code // max(rep.n, 1), code % max(rep.n, 1)
    counts["union"]["proposed"] += len(r)
    score = prescore(res, rep, r, m)
    n_passes = np.array([bin(b).count("1") for b in bits])
    # name-sound pairs first, then pairs proposed by more passes, then the pre-score
    support = score + 2.0 * n_passes + 20.0 * ((bits & _BIT["name_sound"]) > 0)
    keep = _cap(r, m, support, settings.max_per_resident)
    keep = keep[np.lexsort((m[keep], -support[keep], r[keep]))]
    counts["union"]["capped"] += len(r) - len(keep)
    counts["union"]["kept"] += len(keep)
    return pd.DataFrame({
        "resident_id": res.ids[r[keep]],
        "missing_id": rep.ids[m[keep]],
        "passes": _pass_name_column(bits[keep]),
        "prescore": score[keep],
    })


def _pass_name_column(bits: np.ndarray) -> np.ndarray:
    """:func:`pass_names` of each element, each distinct combination spelled once."""
    distinct, inverse = np.unique(bits, return_inverse=True)
    return np.array([pass_names(int(b)) for b in distinct], dtype=object)[inverse.ravel()]


def pass_names(bits: int) -> str:
    """``5`` → ``'name_sound+rare_surname'``."""
    return "+".join(name for name in PASSES if bits & _BIT[name])
