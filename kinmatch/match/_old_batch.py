"""The batch engine behind :func:`compare_pairs`: every comparison for hundreds of thousands of
candidate pairs at once.

The comparisons themselves (levels, labels, the recordlinkage features and their one-pair
functions) are in :mod:`kinmatch.match.comparisons`; this module makes them fast on many pairs
without changing a single level:

* both record sets are cleaned and indexed once (:func:`prepare_records`), and reused for the
  candidate pairs and the random pairs of the u estimate;
* numeric comparisons run straight on the gathered columns;
* shortcuts decide most pairs on integer codes — records that can give no evidence, names with no
  character or syllable in common (a sparse overlap test), mark types as bits and codes, stated
  places as codes — and the rest run once per distinct pair of values;
* from :data:`PARALLEL_MIN_PAIRS` pairs, ranges of pairs go to forked worker processes.

``tests/test_comparisons.py`` holds every shortcut to the plain one-pair functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch._parallel import FORK, fork_map, resolve_jobs, shared
from kinmatch.match._old_comparisons import (
    _ACCENT_CLEAN, _NAME_CLEAN, ACCENT_COLUMNS, CONDITION_NAMES, MARK_RARITY, MISSING, NAME_COLUMNS, RARE_MARK_SHARE,
    AccentComparison, AgeComparison, BuildComparison, ConditionsComparison, GeographyComparison, HairComparison,
    HeightComparison, MarksComparison, NameComparison, SexComparison, StatementPlacesComparison, TimeGapComparison,
    DISTANCE_BANDS_KM, _as_set, _build_codes, _code_numbers, _Feature, _parse_mark, _sex_codes, _str, _tuple,
    default_features, name_tf, partial_tf, prefecture_of, province_of,
)


def _ensure_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    missing_columns = [c for c in columns if c not in frame.columns]
    if not missing_columns:
        return frame
    frame = frame.copy()
    for column in missing_columns:
        frame[column] = None
    return frame


class PreparedSide(NamedTuple):
    """One side's records made ready for :func:`compare_pairs`: ``ids`` (position of each id),
    ``arrays`` (each needed column cleaned once per record), ``signatures`` (per comparison, one
    integer per record, equal when the record's values for that comparison are equal), ``blank``
    (per comparison, records that can give no evidence whatever the other side holds) and
    ``derived`` (integer forms some comparisons read)."""

    ids: pd.Index
    arrays: dict
    signatures: dict
    blank: dict
    derived: dict


class PreparedRecords(NamedTuple):
    """Both sides prepared once by :func:`prepare_records`, reused by every :func:`compare_pairs`
    call on the same frames (the candidate pairs and the random pairs of the u estimate)."""

    left: PreparedSide
    right: PreparedSide
    labels: tuple
    joint: dict = {}
    """Per comparison, what both sides were indexed on together (name tokens, mark type bits)."""


def _uses_default_columns(feature: _Feature) -> bool:
    """Whether ``feature`` reads the columns its class reads by default (the shortcuts of
    :func:`compare_pairs` know those columns' meaning, not a caller's own)."""
    try:
        default = type(feature)()
    except TypeError:
        return False
    return (_listify(feature.labels_left) == _listify(default.labels_left)
            and _listify(feature.labels_right) == _listify(default.labels_right))


def _blank_masks(feature: _Feature, arrays: dict) -> np.ndarray | None:
    """Records that make this comparison -1 whatever the other record holds, or None when the
    comparison has no such rule. Each rule restates its level function's own first test."""
    n = len(next(iter(arrays.values()))) if arrays else 0

    def empty(column):
        return np.fromiter((len(v) == 0 for v in arrays[column]), dtype=bool, count=n)

    if isinstance(feature, NameComparison):
        evidence = np.fromiter((bool(v) for v in arrays["name_evidence"]), dtype=bool, count=n)
        return ~evidence | (empty("name_norm") & empty("alias_norm"))
    if isinstance(feature, AccentComparison):
        return empty("accent_provinces") & empty("accent_area") & empty("home_province") & empty("home_dialect_area")
    if isinstance(feature, MarksComparison):
        return empty("marks") & empty("negated")
    if isinstance(feature, ConditionsComparison):
        return empty("conditions")
    if isinstance(feature, HairComparison):
        return np.fromiter((not _str(v) for v in arrays["hair"]), dtype=bool, count=n)
    return None


def _statement_codes(left_arrays: dict, right_arrays: dict) -> tuple[dict, dict]:
    """The place strings :func:`statement_places_level` compares, as integer codes over one
    vocabulary (-1 = blank): per resident its stated counties and their prefectures and
    provinces (-1 padded), per report its counties, prefectures and provinces."""
    stated = [[_str(c) for c in places if len(_str(c)) == 6] for places in left_arrays["statement_places"]]
    width = max((len(s) for s in stated), default=0) or 1
    left_counties = np.full((len(stated), width), "", dtype=object)
    for i, codes in enumerate(stated):
        left_counties[i, :len(codes)] = codes
    n = len(right_arrays["home_county"])
    right_counties = np.empty((n, 2), dtype=object)
    right_counties[:, 0] = [_str(v) for v in right_arrays["home_county"]]
    right_counties[:, 1] = [_str(v) for v in right_arrays["missing_county"]]
    # prefecture and province of each distinct county string (a few thousand among all records),
    # then one vocabulary over every string; numbering them all at once replaced a loop that
    # set the codes one element at a time
    county_of, distinct = pd.factorize(np.concatenate([left_counties.ravel(), right_counties.ravel()]))
    k = len(distinct)
    strings = np.concatenate([np.asarray(distinct, dtype=object),
                              np.array([prefecture_of(c) for c in distinct] + [province_of(c) for c in distinct]
                                       + [_str(v) for v in right_arrays["home_prefecture"]]
                                       + [_str(v) for v in right_arrays["home_province"]], dtype=object)])
    vocabulary, words = pd.factorize(strings)
    blank = np.flatnonzero(np.asarray(words, dtype=object) == "")
    if len(blank):
        vocabulary = np.where(vocabulary == blank[0], -1, vocabulary)
    county, prefecture, province = (vocabulary[offset:offset + k][county_of] for offset in (0, k, 2 * k))
    n_left = left_counties.size
    left = {name: codes[:n_left].reshape(left_counties.shape).astype(np.int64)
            for name, codes in (("counties", county), ("prefectures", prefecture), ("provinces", province))}
    own = {name: codes[n_left:].reshape(n, 2).astype(np.int64)
           for name, codes in (("counties", county), ("prefectures", prefecture), ("provinces", province))}
    extra = vocabulary[3 * k:].astype(np.int64)
    right = {"counties": own["counties"],
             "prefectures": np.column_stack([own["prefectures"], extra[:n]]),
             "provinces": np.column_stack([own["provinces"], extra[n:]])}
    return left, right


def _statement_levels_fast(left: dict, right: dict, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
    """:func:`statement_places_level` for many pairs at once, on integer codes (the per-pair
    set logic was a third of all comparison time)."""
    out = np.full(len(lp), MISSING, dtype=np.int8)
    has_stated = (left["counties"][:, 0] >= 0)[lp]
    has_place = ((right["counties"] >= 0).any(axis=1) | (right["prefectures"] >= 0).any(axis=1)
                 | (right["provinces"] >= 0).any(axis=1))[rp]
    todo = np.flatnonzero(has_stated & has_place)
    if len(todo) == 0:
        return out

    def meets(rank: str) -> np.ndarray:
        mine = left[rank][lp[todo]][:, :, None]
        theirs = right[rank][rp[todo]][:, None, :]
        return ((mine == theirs) & (mine >= 0)).any(axis=(1, 2))

    level = np.zeros(len(todo), dtype=np.int8)
    level[meets("provinces")] = 1
    level[meets("prefectures")] = 2
    level[meets("counties")] = 3
    out[todo] = level
    return out


def _name_tokens(arrays: dict) -> list[set]:
    """Every character and syllable a record's name forms are made of. Each test of
    :func:`_name_core` that can give a level above 0 needs the two records to share one of these
    (a character of equal names, a syllable of equal sound keys, an alias, a given name…), so
    records with disjoint token sets are ``姓名不同`` without running those tests."""
    columns = [arrays[c] for c in ("name_norm", "alias_norm", "name_pinyin", "name_jyutping", "name_keys",
                                   "alias_keys", "given_keys", "surname_keys")]
    tokens = []
    for name, aliases, pinyin, jyutping, *keys in zip(*columns):
        own = set(name)
        for alias in aliases:
            own.update(alias)
        own.update(pinyin.split())
        own.update("j:" + s for s in jyutping.split())
        for group in keys:
            for key in group:
                own.update(key.split())
        tokens.append(own)
    return tokens


def _token_matrices(left_tokens: list[set], right_tokens: list[set]):
    """Record × token incidence matrices (scipy CSR) over one shared vocabulary."""
    from scipy import sparse

    # every token of every record in one flat array, numbered by one factorize (hashing in C)
    sizes = np.fromiter((len(own) for own in chain(left_tokens, right_tokens)), dtype=np.int64,
                        count=len(left_tokens) + len(right_tokens))
    flat = np.empty(int(sizes.sum()), dtype=object)
    flat[:] = list(chain.from_iterable(chain(left_tokens, right_tokens)))
    indices = pd.factorize(flat)[0] if len(flat) else np.zeros(0, dtype=np.int64)
    width = max(int(indices.max(initial=-1)) + 1, 1)
    n_left = len(left_tokens)
    split = int(sizes[:n_left].sum())
    return [sparse.csr_matrix((np.ones(len(ix), dtype=np.int8), ix, np.r_[0, np.cumsum(rows)]),
                              shape=(len(rows), width))
            for rows, ix in ((sizes[:n_left], indices[:split]), (sizes[n_left:], indices[split:]))]


def _share_a_token(left, right, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
    """For each pair, whether the two records' token rows overlap (exact, sparse)."""
    return np.asarray(left[lp].multiply(right[rp]).getnnz(axis=1) > 0)


_MARK_BITS = 63


class _MarkVocabulary:
    """Integer codes of mark types, parts and sides, shared by both sides of a comparison (part
    and side 0 = blank, which agrees with anything; sides 1 左 and 2 右 mirror each other)."""

    def __init__(self):
        self.types: dict[str, int] = {}
        self.parts: dict[str, int] = {"": 0}
        self.sides: dict[str, int] = {"": 0, "左": 1, "右": 2}


def _mark_masks(arrays: dict, vocabulary: _MarkVocabulary) -> dict | None:
    """Bit masks of mark types per record: ``types`` (every parsed mark type, as
    :func:`mark_comparison` reads them), ``positive`` (those not written 无X), ``denied`` (无X and
    the description's negations) and ``described`` (any parsed mark). None when the types do not
    fit in 63 bits (then every pair takes the plain path)."""
    # most records carry no mark or the same one or two: each distinct (marks, negated) is parsed
    # once, in order of first appearance (so the codes are those a record-by-record pass gives)
    keys = np.empty(len(arrays["marks"]), dtype=object)
    keys[:] = list(zip(arrays["marks"], arrays["negated"]))
    record_of, distinct = pd.factorize(keys)
    marks, negated = np.empty(len(distinct), dtype=object), np.empty(len(distinct), dtype=object)
    marks[:] = [m for m, _ in distinct]
    negated[:] = [g for _, g in distinct]
    masks = _distinct_mark_masks({"marks": marks, "negated": negated}, vocabulary)
    return None if masks is None else {key: value[record_of] for key, value in masks.items()}


def _distinct_mark_masks(arrays: dict, vocabulary: _MarkVocabulary) -> dict | None:
    n = len(arrays["marks"])
    masks = {k: np.zeros(n, dtype=np.int64) for k in ("types", "positive", "denied")}
    described = np.zeros(n, dtype=bool)
    parsed_marks = np.empty(n, dtype=object)

    def bit(t):
        index = vocabulary.types.setdefault(t, len(vocabulary.types))
        return 1 << index if index < _MARK_BITS else None

    for i, (marks, negated) in enumerate(zip(arrays["marks"], arrays["negated"])):
        types = positive = denied = 0
        parsed = [p for p in map(_parse_mark, marks) if p[0] not in CONDITION_NAMES]
        parsed_marks[i] = parsed
        for t, _, _ in parsed:
            described[i] = True
            b = bit(t)
            if b is None:
                return None
            types |= b
            if t.startswith("无") and len(t) > 1:
                d = bit(t[1:])
                if d is None:
                    return None
                denied |= d
            elif not t.startswith("无"):
                positive |= b
        for t in negated:
            d = bit(t)
            if d is None:
                return None
            denied |= d
        masks["types"][i], masks["positive"][i], masks["denied"][i] = types, positive, denied
    masks["described"] = described
    # (type, part, side) codes of each record's marks, -1 padded; 无X marks get type -1 since
    # they never agree with anything
    width = max((len(p) for p in parsed_marks), default=0) or 1
    for key in ("type_codes", "part_codes", "side_codes"):
        masks[key] = np.full((n, width), -1, dtype=np.int64)
    parts, sides = vocabulary.parts, vocabulary.sides
    for i, parsed in enumerate(parsed_marks):
        for j, (t, part, side) in enumerate(parsed):
            masks["type_codes"][i, j] = -1 if t.startswith("无") else vocabulary.types[t]
            masks["part_codes"][i, j] = parts.setdefault(part, len(parts))
            masks["side_codes"][i, j] = sides.setdefault(side, len(sides))
    return masks


def _rare_table(vocabulary: _MarkVocabulary, frequency: Mapping[str, float] | None) -> np.ndarray:
    """``[type code, part code]`` → whether a mark of that type on that part is rare (share of
    reports ≤ :data:`RARE_MARK_SHARE`), as :func:`_best_shared_mark` decides it."""
    types, parts = vocabulary.types, vocabulary.parts
    table = np.zeros((max(types.values(), default=0) + 1, max(parts.values()) + 1), dtype=bool)
    for t, ti in types.items():
        for part, pi in parts.items():
            share = (frequency or {}).get(f"{t}:{part}", MARK_RARITY.get(t, 0.1))
            table[ti, pi] = share <= RARE_MARK_SHARE
    return table


def _marks_by_codes(left: dict, right: dict, rare: np.ndarray, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
    """:func:`_best_shared_mark` for many pairs at once: every mark of one record against every
    mark of the other, on integer codes (pairs × marks × marks booleans)."""
    ta, pa, sa = (left[k][lp][:, :, None] for k in ("type_codes", "part_codes", "side_codes"))
    tb, pb, sb = (right[k][rp][:, None, :] for k in ("type_codes", "part_codes", "side_codes"))
    same = (ta == tb) & (ta >= 0) & ((pa == pb) | (pa == 0) | (pb == 0))
    same_side = (sa == sb) | (sa == 0) | (sb == 0)
    mirrored = ((sa == 1) & (sb == 2)) | ((sa == 2) & (sb == 1))
    part = np.where(pa == 0, pb, pa)
    is_rare = rare[np.clip(ta, 0, None), np.clip(part, 0, None)]
    agree = same & same_side
    level = np.where(agree, np.where(is_rare, 4, 3), np.where(same & mirrored, 2, 1)).max(axis=(1, 2))
    # several marks agreeing: at least two marks of each record agree with one of the other's
    several = np.minimum(agree.any(axis=2).sum(axis=1), agree.any(axis=1).sum(axis=1)) >= 2
    return np.where(several, 5, level).astype(np.int8)


def _marks_settled(left: dict, right: dict, lp: np.ndarray, rp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Levels :func:`mark_comparison` would give, for the pairs decided by type masks alone
    (a contradiction → 0, one side undescribed → -1, no type in common → 1); the rest
    (``settled`` False) need the part and side of each mark."""
    contradiction = ((left["denied"][lp] & right["types"][rp]) | (right["denied"][rp] & left["types"][lp])) != 0
    undescribed = ~(left["described"][lp] & right["described"][rp])
    disjoint = (left["positive"][lp] & right["positive"][rp]) == 0
    level = np.where(contradiction, 0, np.where(undescribed, MISSING, 1)).astype(np.int8)
    settled = contradiction | undescribed | disjoint
    return level, settled


_CODE_DIVISORS = {"county": 1, "prefecture": 100, "province": 10000}


def _geography_forms(arrays: dict, columns: list[str]) -> dict:
    """Per record, what :func:`geography_detail` computes from each place column: adcodes as
    numbers cut to county, prefecture and province; coordinates in radians, and the cosine of
    each latitude. Computed per record and gathered per pair, they are the very numbers the
    one-pair path computes per pair."""
    forms = {}
    with np.errstate(invalid="ignore"):
        for column in columns:
            if column.endswith("_county"):
                code = _code_numbers(arrays[column])
                forms.update({(column, rank): np.floor(code / divisor)
                              for rank, divisor in _CODE_DIVISORS.items()})
            else:
                forms[column] = np.radians(np.asarray(arrays[column], dtype=float))
                if column.endswith("_lat"):
                    forms[(column, "cos")] = np.cos(forms[column])
    return forms


def _geography_levels_fast(left: dict, right: dict, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
    """:func:`geography_detail`'s levels from :func:`_geography_forms` of both sides: the same
    haversine, bands and same-code rules, without converting degrees and codes once per pair."""
    lon1, lat1, cos1 = left["found_lon"][lp], left["found_lat"][lp], left[("found_lat", "cos")][lp]
    best = np.full(len(lp), MISSING, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for place in ("missing", "home"):
            lon2, lat2 = right[f"{place}_lon"][rp], right[f"{place}_lat"][rp]
            cos2 = right[(f"{place}_lat", "cos")][rp]
            a = np.sin((lat2 - lat1) / 2) ** 2 + cos1 * cos2 * np.sin((lon2 - lon1) / 2) ** 2
            km = 6371.0 * 2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
            # bands: <= 10 km -> 5 ... > 1000 km -> 0 (NaN sorts last, then becomes missing)
            levels = 5 - np.searchsorted(np.asarray(DISTANCE_BANDS_KM), km, side="left")
            levels = np.where(np.isnan(km), MISSING, levels)
            same = {rank: left[("found_county", rank)][lp] == right[(f"{place}_county", rank)][rp]
                    for rank in _CODE_DIVISORS}
            levels = np.where(same["province"], np.maximum(levels, 3), levels)
            levels = np.where(same["prefecture"], np.maximum(levels, 4), levels)
            levels = np.where(same["county"], 5, levels)
            best = np.maximum(best, levels).astype(np.int8)
    return best


_DIRECT_FEATURES = (SexComparison, AgeComparison, HeightComparison, TimeGapComparison, GeographyComparison,
                    BuildComparison)
"""Comparisons computed straight on the gathered columns of every pair (numeric, vectorized in
numpy): grouping their pairs by distinct values would cost more than it saves."""


def prepare_side(frame: pd.DataFrame, id_column: str, features: list[_Feature], side: str) -> PreparedSide:
    labels = "labels_left" if side == "left" else "labels_right"
    columns = sorted({c for f in features for c in _listify(getattr(f, labels))} | {"name_keys"})
    frame = _ensure_columns(frame, columns)
    arrays = {c: _preclean(c, frame[c].to_numpy()) for c in columns}
    signatures, blank, derived = {}, {}, {}
    for feature in features:
        own = [arrays[c] for c in _listify(getattr(feature, labels))]
        if not isinstance(feature, _DIRECT_FEATURES):
            signatures[feature.label] = _signature(own)
        if not _uses_default_columns(feature):
            continue
        # values read as numbers or codes once per record, not once per pair (the level functions
        # take these forms as they are)
        if isinstance(feature, GeographyComparison):
            derived[feature.label] = _geography_forms(arrays, _listify(getattr(feature, labels)))
        elif isinstance(feature, SexComparison):
            derived[feature.label] = {c: _sex_codes(arrays[c]) for c in _listify(getattr(feature, labels))}
        elif isinstance(feature, BuildComparison):
            derived[feature.label] = {c: _build_codes(arrays[c]) for c in _listify(getattr(feature, labels))}
        mask = _blank_masks(feature, arrays)
        if mask is not None:
            blank[feature.label] = mask
    return PreparedSide(pd.Index(frame[id_column].astype(str)), arrays, signatures, blank, derived)


def prepare_records(residents: pd.DataFrame, missing: pd.DataFrame,
                    features: list[_Feature] | None = None) -> PreparedRecords:
    """Clean and index both frames once for :func:`compare_pairs` (pass the result as
    ``prepared`` to every call on the same frames and features)."""
    features = features if features is not None else default_features()
    left = prepare_side(residents, "resident_id", features, "left")
    right = prepare_side(missing, "missing_id", features, "right")
    joint = {}
    for feature in features:
        if not _uses_default_columns(feature):
            continue
        if isinstance(feature, StatementPlacesComparison):
            joint[feature.label] = _statement_codes(left.arrays, right.arrays)
        elif isinstance(feature, NameComparison):
            joint[feature.label] = ("tokens", *_token_matrices(_name_tokens(left.arrays), _name_tokens(right.arrays)))
        elif isinstance(feature, MarksComparison):
            vocabulary = _MarkVocabulary()
            masks = (_mark_masks(left.arrays, vocabulary), _mark_masks(right.arrays, vocabulary))
            if masks[0] is not None and masks[1] is not None:
                rare = _rare_table(vocabulary, getattr(feature, "frequency", None))
                joint[feature.label] = ("mark_bits", *masks, rare)
    return PreparedRecords(left, right, tuple(f.label for f in features), joint)


def _feature_levels(feature: _Feature, prepared: PreparedRecords,
                    lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
    label, left, right = feature.label, prepared.left, prepared.right
    if isinstance(feature, StatementPlacesComparison) and label in prepared.joint:
        return _statement_levels_fast(*prepared.joint[label], lp, rp)
    if isinstance(feature, GeographyComparison) and label in left.derived and label in right.derived:
        return _geography_levels_fast(left.derived[label], right.derived[label], lp, rp)
    left_cols, right_cols = _listify(feature.labels_left), _listify(feature.labels_right)
    if isinstance(feature, _DIRECT_FEATURES):
        left_arrays = left.arrays | left.derived.get(label, {})
        right_arrays = right.arrays | right.derived.get(label, {})
        values = [left_arrays[c][lp] for c in left_cols] + [right_arrays[c][rp] for c in right_cols]
        return np.asarray(feature._compute_vectorized(*values), dtype=np.int8)
    out = np.full(len(lp), MISSING, dtype=np.int8)
    todo = np.arange(len(lp))
    if label in left.blank and label in right.blank:
        todo = np.flatnonzero(~(left.blank[label][lp] | right.blank[label][rp]))
    joint = prepared.joint.get(label)
    if joint is not None and len(todo):
        if joint[0] == "tokens":
            # names made of no common character or syllable differ: no need to run the tests
            share = _share_a_token(joint[1], joint[2], lp[todo], rp[todo])
            out[todo[~share]] = 0
            todo = todo[share]
        elif joint[0] == "mark_bits":
            level, settled = _marks_settled(joint[1], joint[2], lp[todo], rp[todo])
            out[todo[settled]] = level[settled]
            todo = todo[~settled]
            # the rest share a mark type: compare parts and sides on integer codes
            out[todo] = _once_per_distinct(left.signatures[label], right.signatures[label], lp[todo],
                                           rp[todo], lambda a, b: _marks_by_codes(*joint[1:4], a, b))
            return out
    if len(todo) == 0:
        return out

    def levels(ulp, urp):
        left_values = tuple(pd.Series(left.arrays[c][ulp]) for c in left_cols)
        right_values = tuple(pd.Series(right.arrays[c][urp]) for c in right_cols)
        if hasattr(feature, "compute_precleaned"):
            return np.asarray(feature.compute_precleaned(left_values, right_values), dtype=np.int8)
        return np.asarray(feature._compute(left_values, right_values), dtype=np.int8).ravel()

    out[todo] = _once_per_distinct(left.signatures[label], right.signatures[label], lp[todo], rp[todo], levels)
    return out


def _once_per_distinct(left_code: np.ndarray, right_code: np.ndarray, lp: np.ndarray, rp: np.ndarray,
                       compute) -> np.ndarray:
    """``compute(resident positions, report positions)`` run once per distinct (resident values,
    report values) of the pairs ``lp``/``rp`` and spread back to every pair. A level depends only
    on the two records' values: reports from one county meet a resident's statement places alike,
    and most reports carry the same one or two marks."""
    n_sig = int(right_code.max()) + 1 if len(right_code) else 1
    codes, uniques = pd.factorize(left_code[lp].astype(np.int64) * n_sig + right_code[rp])
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes] = np.arange(len(lp))  # any pair of a group stands for it
    return np.asarray(compute(lp[first], rp[first]))[codes]


PARALLEL_MIN_PAIRS = 150_000
"""Below this many pairs :func:`compare_pairs` runs in-process: forking costs more than it saves."""


def _compare_chunk(prepared: PreparedRecords, features: list, name_frequency: Mapping[str, float] | None,
                   lp: np.ndarray, rp: np.ndarray) -> tuple[dict, np.ndarray | None]:
    """Levels (and ``tf_name``) of the pairs at resident positions ``lp`` and report positions ``rp``."""
    left, right = prepared.left, prepared.right
    out = {feature.label: _feature_levels(feature, prepared, lp, rp) for feature in features}
    if name_frequency is None:
        return out, None
    tf = np.full(len(lp), np.nan)
    if "name" in out:
        # only a sound-key match (levels 4-6) is priced by the full-name keys; below 4 no key is
        # shared, and at -1 the name is no evidence at all
        sound = np.flatnonzero(out["name"] >= 4)
        tf[sound] = name_tf(left.arrays["name_keys"][lp[sound]], right.arrays["name_keys"][rp[sound]], name_frequency)
    else:
        tf[:] = name_tf(left.arrays["name_keys"][lp], right.arrays["name_keys"][rp], name_frequency)
    if "name" in out and all(c in left.arrays and c in right.arrays for c in NAME_COLUMNS):
        # a shared 小名 or given name: price the key that met (二娃 is common, 铁蛋儿 rare), one plain
        # call per distinct pair of name values when the name signatures cover exactly those columns
        level_1 = np.flatnonzero(out["name"] == 1)

        def shares(ulp, urp):
            return np.array([partial_tf([left.arrays[c][a] for c in NAME_COLUMNS],
                                        [right.arrays[c][b] for c in NAME_COLUMNS], name_frequency)
                             for a, b in zip(ulp, urp)], dtype=float)

        name_feature = next(f for f in features if f.label == "name")
        if isinstance(name_feature, NameComparison) and _uses_default_columns(name_feature) and len(level_1):
            tf[level_1] = _once_per_distinct(left.signatures["name"], right.signatures["name"], lp[level_1],
                                             rp[level_1], shares)
        elif len(level_1):
            tf[level_1] = shares(lp[level_1], rp[level_1])
    return out, tf


def _compare_range(bounds: tuple[int, int]) -> tuple[dict, np.ndarray | None]:
    """:func:`_compare_chunk` of pairs ``start:stop``, in a forked worker (see :mod:`kinmatch._parallel`)."""
    prepared, features, name_frequency, left_pos, right_pos = shared()
    start, stop = bounds
    return _compare_chunk(prepared, features, name_frequency, left_pos[start:stop], right_pos[start:stop])


def compare_pairs(pairs: pd.DataFrame, residents: pd.DataFrame, missing: pd.DataFrame,
                  features: list[_Feature] | None = None,
                  name_frequency: Mapping[str, float] | None = None,
                  chunk_size: int = 200_000, progress: bool = False,
                  prepared: PreparedRecords | None = None, n_jobs: int | None = None) -> pd.DataFrame:
    """Comparison vectors for ``pairs`` (columns ``resident_id``, ``missing_id``).

    Returns a frame indexed by (resident_id, missing_id) with one int8 column per comparison and,
    when ``name_frequency`` is given, a float ``tf_name`` column: for name levels 4–6 the share of
    reports with the rarest shared full-name sound key, for level 1 (partial name or 小名) the
    share of reports carrying the key that met in any form (:func:`partial_tf`), else NaN (also
    at level -1: a station-assigned name's keys are not priced).
    Residents and reports are looked up by id; work is done in chunks so memory stays bounded.
    ``prepared``: what :func:`prepare_records` returned for these frames and features (saves
    cleaning them again when several pair sets are compared). ``n_jobs``: worker processes for
    :data:`PARALLEL_MIN_PAIRS` pairs or more (None: every CPU this process may use; 1: none).

        >>> residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["M"]})
        >>> missing = pd.DataFrame({"missing_id": ["M1"], "sex_code": ["M"]})
        >>> vectors = compare_pairs(pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M1"]}), residents, missing)
        >>> int(vectors.loc[("R1", "M1"), "sex"]), int(vectors.loc[("R1", "M1"), "name"])
        (1, -1)
    """
    features = features if features is not None else default_features()
    if prepared is None or prepared.labels != tuple(f.label for f in features):
        prepared = prepare_records(residents, missing, features)
    left_pos = prepared.left.ids.get_indexer(pairs["resident_id"].astype(str))
    right_pos = prepared.right.ids.get_indexer(pairs["missing_id"].astype(str))
    if (left_pos < 0).any() or (right_pos < 0).any():
        raise ValueError("compare_pairs: some pair ids are not in the resident or missing frame")
    n = len(pairs)
    bounds = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    n_jobs = resolve_jobs(n_jobs)
    if n_jobs > 1 and n >= PARALLEL_MIN_PAIRS and FORK is not None:
        # pieces small enough that the workers finish together, and at most chunk_size each
        pieces = max(len(bounds), 4 * n_jobs)
        edges = np.linspace(0, n, pieces + 1).astype(int)
        bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    else:
        n_jobs = 1
    bar = None
    if progress and len(bounds) > 1:
        from functools import partial

        from tqdm.auto import tqdm

        bar = partial(tqdm, total=len(bounds), desc="comparisons", unit="chunk", leave=False)

    chunks = fork_map(_compare_range, bounds, n_jobs, shared=(prepared, features, name_frequency, left_pos, right_pos),
                      progress=bar)
    out = {f.label: np.concatenate([c[0][f.label] for c in chunks]) if chunks else np.empty(0, np.int8)
           for f in features}
    tf = None
    if name_frequency is not None:
        tf = np.concatenate([c[1] for c in chunks]) if chunks else np.empty(0)
    vectors = pd.DataFrame(out, index=_pair_index(prepared, left_pos, right_pos))
    if tf is not None:
        vectors["tf_name"] = tf
    return vectors


def _pair_index(prepared: PreparedRecords, left_pos: np.ndarray, right_pos: np.ndarray) -> pd.MultiIndex:
    """The (resident_id, missing_id) index of pairs given as record positions, built from the
    positions (levels sorted, as ``MultiIndex.from_arrays`` makes them) instead of hashing
    hundreds of thousands of id strings again."""
    levels, codes = [], []
    for ids, positions in ((prepared.left.ids, left_pos), (prepared.right.ids, right_pos)):
        order = np.argsort(ids.to_numpy(dtype=object), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        levels.append(ids[order])
        codes.append(rank[positions])
    return pd.MultiIndex(levels=levels, codes=codes, names=["resident_id", "missing_id"], verify_integrity=False)


def _signature(columns: list[np.ndarray]) -> np.ndarray:
    """One integer per record: equal when the record's values in ``columns`` are equal (sets and
    tuples by their sorted contents, NaN equal to NaN)."""
    if not columns:
        return np.zeros(0, np.int64)
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, np.int64)
    codes = np.zeros(n, dtype=np.int64)
    for values in columns:
        # precleaned cells are str, float, tuple or frozenset: hashable as they are (None and NaN
        # share a code: every comparison reads both as "not recorded")
        try:
            column_codes, uniques = pd.factorize(values, use_na_sentinel=False)
        except TypeError:  # a list or set cell from a caller that did not preclean
            keys = [_hashable(v) for v in values]
            column_codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=False)
        codes = codes * (len(uniques) + 1) + column_codes
        codes = pd.factorize(codes)[0].astype(np.int64)  # keep the combined code small
    return codes


def _hashable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return ("set",) + tuple(sorted(map(str, value)))
    if isinstance(value, (list, tuple)):
        return ("tuple",) + tuple(_hashable(v) for v in value)
    if isinstance(value, float) and value != value:
        return ("nan",)
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


_PRECLEAN = dict(zip(NAME_COLUMNS, _NAME_CLEAN)) | dict(zip(ACCENT_COLUMNS, _ACCENT_CLEAN)) | {
    "marks": _tuple, "negated": _tuple, "conditions": _tuple, "statement_places": _tuple}


def _preclean(column: str, values: np.ndarray) -> np.ndarray:
    clean = _PRECLEAN.get(column)
    if clean is None:
        return values
    if clean is _as_set:  # the sound-key columns: one call per cell instead of two
        def clean(v):
            return frozenset(_tuple(v)) if v.__class__ is not frozenset else v
    try:
        # each distinct value cleaned once (most records share their accent, marks, key sets…)
        codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    except TypeError:  # unhashable cells (lists): clean each one
        codes, distinct = np.arange(len(values)), values
    out = np.empty(len(distinct) + 1, dtype=object)
    out[:-1] = [clean(v) for v in distinct]
    out = out[codes]
    blank = np.flatnonzero(codes < 0)  # None and NaN, which factorize leaves out
    if len(blank):
        out[blank] = [clean(values[i]) for i in blank]
    return out


def _listify(labels) -> list:
    if labels is None:
        return []
    return list(labels) if isinstance(labels, (list, tuple)) else [labels]
