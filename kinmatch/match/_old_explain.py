"""Explanations: short readable reasons for each candidate, strongest first.

``姓名同音(李伟/李玮) +6.1; 年龄相符 +2.0; 身高差12cm −3.2`` — each reason is the Chinese label of a
comparison's level, with the values that decided it where they help a reviewer, and the partial
weight (log2 Bayes factor) it added. Comparisons with no evidence (-1, weight 0) are left out.

    >>> import pandas as pd
    >>> levels = pd.DataFrame({"name": [5], "age": [3], "height": [1]})
    >>> weights = pd.DataFrame({"w_name": [6.1], "w_age": [2.0], "w_height": [-3.2]})
    >>> resident = {"name_norm": "李伟", "height_cm": 160.0}
    >>> report = {"name_norm": "李玮", "height_cm": 172.0}
    >>> explain_pair(levels.iloc[0], weights.iloc[0], resident, report)
    '姓名同音(李伟/李玮) +6.1; 身高差12cm −3.2; 年龄相符 +2.0'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from kinmatch._gc import gc_paused
from kinmatch.errors import InputError
from kinmatch.match import _old_comparisons as cmp

MINUS = "\u2212"  # a true minus sign, as in the studio's printed lists
MIN_SHOWN_WEIGHT = 0.05
_HOW = {"alias": " 小名", "given": " 名字", "surname": " 同姓"}
"""What a level-1 name match met on, after the two forms shown: ``(二娃/二娃 小名)``."""


def _get(record: Mapping, key: str) -> Any:
    try:
        value = record[key]
    except (KeyError, IndexError):
        return None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _display_name(record: Mapping) -> str:
    name = _get(record, "name_norm") or _get(record, "name")
    if name:
        return str(name)
    aliases = cmp._tuple(_get(record, "alias_norm"))
    return aliases[0] if aliases else "?"


def reason(comparison: str, level: int, resident: Mapping, report: Mapping,
           mark_freq: Mapping[str, float] | None = None) -> str:
    """Readable reason for one comparison of one pair (without the weight)."""
    label = cmp.LEVEL_LABELS.get(comparison, {}).get(int(level), comparison)
    if comparison == "name" and level == 1:
        # show what met (二娃/二娃, 老薛/薛宇宏 同姓), not the two full names, so a reviewer can check it
        met = cmp.partial_match(resident, report)
        if met is not None:
            return f"{label}({met.left}/{met.right}{_HOW[met.how]})"
    if comparison == "name" and level >= 0:
        return f"{label}({_display_name(resident)}/{_display_name(report)})"
    if comparison == "height" and level in (0, 1, 2):
        a, b = _get(resident, "height_cm"), _get(report, "height_cm")
        if a is not None and b is not None:
            return f"身高差{abs(float(a) - float(b)):.0f}cm"
    if comparison == "age" and level in (0, 1):
        gap = cmp.interval_gap(*([_num(_get(r, c))] for r in (resident,) for c in ("birth_year_low", "birth_year_high")),
                               *([_num(_get(report, c))] for c in ("birth_year_low", "birth_year_high")))[0]
        if np.isfinite(gap):
            return f"年龄相差约{gap:.0f}岁"
    if comparison == "geography" and level >= 0:
        km = _km(_num(_get(resident, "found_lon")), _num(_get(resident, "found_lat")),
                 _num(_get(report, "missing_lon")), _num(_get(report, "missing_lat")))
        if np.isfinite(km) and level < 5:
            return f"发现地距走失地{km:.0f}km"
    if comparison == "marks" and level >= 2:
        _, mark = cmp.mark_comparison(_get(resident, "marks"), _get(report, "marks"), mark_freq)
        if mark:
            return f"{label}({mark})"
    if comparison == "marks" and level == 0:
        _, mark = cmp.mark_comparison(_get(resident, "marks"), _get(report, "marks"), mark_freq,
                                      _get(resident, "negated") or (), _get(report, "negated") or ())
        if mark:
            return f"{label}({mark})"
    if comparison == "conditions" and level >= 1:
        shared = set(cmp._tuple(_get(resident, "conditions"))) & set(cmp._tuple(_get(report, "conditions")))
        if shared:
            return f"{label}({'、'.join(sorted(shared))})"
    if comparison in ("build", "hair") and level >= 0:
        a, b = _get(resident, comparison), _get(report, comparison)
        if a and b:
            if comparison == "hair" and level >= 1:
                shared = sorted(set(str(a).split("、")) & set(str(b).split("、")))
                if shared:
                    return f"{label}({'、'.join(shared)})"
            return f"{label}({a}/{b})"
    return label


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle km for one pair: ``math`` on four floats (numpy's per-call overhead on
    one-element arrays was a sixth of explaining 100k pairs); same formula as cmp.haversine_km."""
    if any(v != v for v in (lon1, lat1, lon2, lat2)):
        return float("nan")
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def format_weight(weight: float) -> str:
    """``6.1`` → ``'+6.1'``, ``-3.2`` → ``'−3.2'`` (true minus sign)."""
    return f"+{weight:.1f}" if weight >= 0 else f"{MINUS}{abs(weight):.1f}"


def explain_pair(levels: Mapping, weights: Mapping, resident: Mapping, report: Mapping, top: int = 6,
                 mark_freq: Mapping[str, float] | None = None) -> str:
    """Reasons for one pair, strongest (by absolute weight) first, at most ``top``.

    ``levels`` maps comparison → level, ``weights`` maps ``w_<comparison>`` (or comparison) → weight."""
    items = []
    for comparison in levels.keys():
        if comparison not in cmp.LEVEL_LABELS:
            continue
        level = int(levels[comparison])
        weight = weights.get(f"w_{comparison}", weights.get(comparison, 0.0))
        weight = float(weight) if weight is not None else 0.0
        if level < 0 or abs(weight) < MIN_SHOWN_WEIGHT:
            continue
        items.append((abs(weight), comparison, level, weight))
    items.sort(key=lambda item: (-item[0], cmp.COMPARISONS.index(item[1])))
    return "; ".join(f"{reason(c, lvl, resident, report, mark_freq)} {format_weight(w)}"
                     for _, c, lvl, w in items[:top])


def _records(frame: pd.DataFrame, id_column: str, ids: pd.Series) -> list[dict]:
    """The record dict of each id in ``ids``, each distinct record converted once (a resident
    appears in up to ``top_k`` pairs; converting a million-row frame to dicts would dominate)."""
    wanted = pd.Index(ids.astype(str))
    distinct = wanted.unique()
    positions = pd.Index(frame[id_column].astype(str)).get_indexer(distinct)
    if (positions < 0).any():
        raise KeyError(f"explain_pairs: {id_column} not found: {list(distinct[positions < 0][:5])}")
    records = frame.iloc[positions].to_dict("records")
    return [records[i] for i in distinct.get_indexer(wanted)]


def _explain_pairs_reference(pairs: pd.DataFrame, vectors: pd.DataFrame, weights: pd.DataFrame,
                             residents: pd.DataFrame, missing: pd.DataFrame, top: int = 6,
                             mark_freq: Mapping[str, float] | None = None) -> list[str]:
    """:func:`explain_pair` row by row: the slow obvious definition :func:`explain_pairs` must equal
    (kept for the equivalence tests and the benchmark, and for rows the fast path cannot take)."""
    res_rows = _records(residents, "resident_id", pairs["resident_id"])
    rep_rows = _records(missing, "missing_id", pairs["missing_id"])
    level_rows = vectors.to_dict("records")
    weight_rows = weights.to_dict("records")
    return [explain_pair(lv, wt, r, m, top, mark_freq)
            for lv, wt, r, m in zip(level_rows, weight_rows, res_rows, rep_rows)]


# ---------------------------------------------------------------------------------------------
# the column-wise path: explain_pair's result for every row, computed per comparison on arrays

_MARK_COLUMNS = ["marks", "negated"]
_CONDITION_COLUMNS = ["conditions"]
_BY_COMBINATION = {"marks": _MARK_COLUMNS, "conditions": _CONDITION_COLUMNS, "build": ["build"], "hair": ["hair"]}
"""Comparisons whose reason shows values of a few columns with few distinct values."""
_LABEL_ONLY = frozenset(cmp.COMPARISONS) - {"name", "height", "age", "geography"} - set(_BY_COMBINATION)
"""Comparisons whose reason is always their level's label (see :func:`reason`)."""


class _Side:
    """One side (residents or reports) of the pairs: the frame, each pair's integer position in
    it (a column's values at the pairs are ``column.to_numpy()[positions]``), and each pair's
    record number among the distinct records the pairs use (work per record is done once)."""

    def __init__(self, frame: pd.DataFrame, id_column: str, ids: pd.Series):
        if id_column not in frame.columns:
            raise InputError(f"explain_pairs: the {id_column} column is missing from the records, so the "
                             f"pairs cannot be matched to them; pass the normalized frame that was linked")
        self.frame = frame
        # ids compared as text, as everywhere in kinmatch
        values = ids.to_numpy(dtype=object)
        known = pd.Index(frame[id_column].astype(str))
        found = known.get_indexer(values)
        if (found >= 0).all():
            # every id is a record's id as it is, so already text (the usual case): looked up
            # directly, then numbered by record (hashing the record numbers is cheaper than
            # numbering the ids and looking up the distinct ones)
            self.record_of_row, self.records_at = pd.factorize(found)
        else:  # ids that are not text, or unknown: each distinct id converted and looked up once
            self.record_of_row, distinct = pd.factorize(values, use_na_sentinel=False)
            distinct = pd.Index(distinct).astype(str)
            self.records_at = known.get_indexer(distinct)
            if (self.records_at < 0).any():
                raise KeyError(f"explain_pairs: {id_column} not found: {list(distinct[self.records_at < 0][:5])}")
        self.positions = self.records_at[self.record_of_row]
        self._codes: dict[tuple, tuple[np.ndarray, list[dict]] | None] = {}
        self._display: np.ndarray | None = None

    def floats(self, column: str, rows: np.ndarray) -> np.ndarray | None:
        """The column's values at ``rows`` as floats (NaN where blank or when the column is absent),
        or None when the column holds anything but plain numbers (the per-row path decides then)."""
        if column not in self.frame.columns:
            return np.full(len(rows), np.nan)
        values = self.frame[column]
        if not isinstance(values.dtype, np.dtype) or values.dtype.kind not in "fiu":
            return None
        floats = values.to_numpy(dtype=float)[self.positions[rows]]
        if np.isinf(floats).any():  # math on ±inf may raise in explain_pair; let it
            return None
        return floats

    def _values(self, columns: list[str], records: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
        present = [c for c in columns if c in self.frame.columns]
        return present, [self.frame[c].to_numpy(dtype=object)[self.records_at[records]] for c in present]

    def codes(self, columns: list[str], rows: np.ndarray) -> tuple[np.ndarray, list[dict]] | None:
        """For each of ``rows``, a code shared by the records equal on ``columns``, and one small
        record dict (just those columns) per code; None when a value is not hashable."""
        key = tuple(columns)
        if key not in self._codes:
            present, arrays = self._values(columns, np.arange(len(self.records_at)))
            try:
                per_record = np.zeros(len(self.records_at), np.int64)
                for values in arrays:
                    codes = _value_codes(values)
                    per_record = per_record * (int(codes.max(initial=0)) + 1) + codes
            except TypeError:
                self._codes[key] = None
            else:
                per_record, first = _first_of_each(per_record)
                records = [dict(zip(present, values)) for values in zip(*(a[first] for a in arrays))]
                self._codes[key] = per_record, records if present else [{}]
        found = self._codes[key]
        return None if found is None else (found[0][self.record_of_row[rows]], found[1])

    def display_names(self, rows: np.ndarray) -> np.ndarray:
        """:func:`_display_name` of the record of each of ``rows`` (each distinct record once)."""
        if self._display is None:
            columns = ["name_norm", "name", "alias_norm"]
            present, arrays = self._values(columns, np.arange(len(self.records_at)))
            names = arrays[0].copy() if present[:1] == ["name_norm"] else np.full(len(self.records_at), None, object)
            # a non-empty str name_norm is shown as it is (the common case); the rest _display_name's way
            for i in [i for i, name in enumerate(names.tolist()) if name.__class__ is not str or not name]:
                names[i] = _display_name({c: values[i] for c, values in zip(present, arrays)})
            self._display = names
        return self._display[self.record_of_row[rows]]

    def cleaned_names(self, rows: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
        """For each of ``rows``, a code shared by the records with the same name values, and
        :func:`cmp.clean_name_values` of one record per code (reports share names: each distinct
        set of values is cleaned, and compared, once), cleaned column by column (a record dict
        each cost more than the cleaning)."""
        inverse, records = pd.factorize(self.record_of_row[rows])
        at = self.records_at[records]
        same = np.zeros(len(at), np.int64)
        columns = []
        for column, clean in zip(cmp.NAME_COLUMNS, cmp._NAME_CLEAN):
            if column in self.frame.columns:
                codes, cleaned = _cleaned_column(clean, self.frame[column].to_numpy(dtype=object)[at])
                same = pd.factorize(same * len(cleaned) + codes)[0]
            else:
                codes, cleaned = np.zeros(len(at), np.int64), [clean(None)]
            columns.append((codes, cleaned))
        same, first = _first_of_each(same)
        cleaned = list(zip(*(np.fromiter(values, dtype=object, count=len(values))[codes[first]].tolist()
                             if len(values) > 1 else values * len(first) for codes, values in columns)))
        return same[inverse], cleaned

    def records(self, rows: np.ndarray, columns: list[str] | None = None) -> list[dict]:
        """Record dicts (as :func:`explain_pair` gets them, cut to ``columns`` if given) for ``rows``."""
        inverse, records = pd.factorize(self.record_of_row[rows])
        if columns is None:
            converted = self.frame.iloc[self.records_at[records]].to_dict("records")
        else:  # a few columns: zip their values (to_dict's per-value boxing costs more than the names' work)
            present, arrays = self._values(columns, records)
            converted = [dict(zip(present, values)) for values in zip(*arrays)] if present else [{}] * len(records)
        return [converted[i] for i in inverse]


def _first_of_each(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0, 1, ... of ``keys`` in order of first appearance, and the position of each code's
    first key (its record stands for all records with that key)."""
    codes, distinct = pd.factorize(keys)
    first = np.zeros(len(distinct), np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return codes, first


def _cleaned_column(clean: Any, values: np.ndarray) -> tuple[np.ndarray, list]:
    """``clean(v)`` (a name cleaner of comparisons) for each of ``values``, as a code per value
    into the cleaned distinct values.

    Values are numbered as equal only in the common case, where the distinct values are all
    texts, all flags or all tuples of non-empty texts and the cleaner returns each as it is or as
    ``frozenset(value)`` (checked on the distinct values at once; a call per value cost more than
    the rest of explaining the partial names); otherwise (blanks, numbers, lists...) each value
    is cleaned on its own. Values pandas counts as equal are then equal to Python too (a value
    equal to True or to a text is True or that text)."""
    try:
        codes, distinct = pd.factorize(values)
    except TypeError:  # an unhashable value
        codes = None
    if codes is not None and len(values) and not (codes < 0).any():
        distinct = distinct.tolist()
        kinds = set(map(type, distinct))
        if (clean is cmp._as_str and kinds <= {str}) or (clean is cmp._evidence and kinds <= {bool}):
            return codes, distinct
        if clean is cmp._as_set and kinds <= {tuple}:
            items = set(chain.from_iterable(distinct))
            if set(map(type, items)) <= {str} and "" not in items:
                return codes, list(map(frozenset, distinct))
    return np.arange(len(values)), list(map(clean, values.tolist()))


def _value_codes(values: np.ndarray) -> np.ndarray:
    """A code per value, equal for equal values (hashing in pandas, not a Python loop over the
    records); raises TypeError for an unhashable value. Blanks, which pandas counts as one: None
    and NaN share a code (reason() reads a NaN as None); when there are others (pd.NA, NaT), which
    reason() does not treat alike, each blank keeps its own code, as in a dict."""
    codes, distinct = pd.factorize(values)
    blank = codes < 0
    if blank.any():
        blanks = values[blank].tolist()
        if set(map(type, blanks)) <= {type(None), float}:
            codes[blank] = len(distinct)
        else:
            seen: dict[Any, int] = {}
            codes[blank] = len(distinct) + np.fromiter((seen.setdefault(v, len(seen)) for v in blanks),
                                                       dtype=codes.dtype, count=len(blanks))
    return codes.astype(np.int64, copy=False)


def _formatted_codes(values: np.ndarray, form: Any) -> tuple[np.ndarray, list[str]]:
    """``form.format(v)`` (a template) or ``form(v)`` (a function) for each float, as a code per
    value into the texts of the distinct values (by their bits, so -0.0 and each NaN keep their
    own text), each formatted once."""
    codes, uniques = pd.factorize(np.ascontiguousarray(values, dtype=float).view(np.int64))
    write = form.format if isinstance(form, str) else form
    return codes, [write(v) for v in uniques.view(float).tolist()]


def _weight_codes(weights: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """:func:`_formatted_codes` of the weights with :func:`format_weight`, checking first the
    common case where the weight is the same for every pair at a level (a model without term
    frequencies): then the levels are the codes, with no hashing of the weights."""
    bits = np.ascontiguousarray(weights, dtype=float).view(np.int64)
    at_level = np.zeros(int(levels.max()) + 1, dtype=np.int64)
    at_level[levels] = bits  # one weight per level, if there is one
    if np.array_equal(at_level[levels], bits):
        return levels, [format_weight(w) for w in at_level.view(float).tolist()]
    return _formatted_codes(weights, format_weight)


def _whole_codes(values: np.ndarray, template: str) -> tuple[np.ndarray, list[str]]:
    """:func:`_formatted_codes` for a template that shows a finite value as a whole number
    (``{:.0f}``): the values rounded first, as ``.0f`` rounds them (to nearest, ties to even, on
    the exact binary value; -0.3 keeps its sign, -0), so there are a few hundred values to write
    rather than one per pair (distances in km)."""
    return _formatted_codes(np.rint(values), template)


def _formatted(values: np.ndarray, form: Any) -> np.ndarray:
    """:func:`_formatted_codes` as the text of each value."""
    codes, texts = _formatted_codes(values, form)
    return np.array(texts, dtype=object)[codes]


def _objects(texts: list[str]) -> np.ndarray:
    """The texts as an array of objects (f-strings in a comprehension are written about twice as
    fast as ``str.format`` over the columns, and numpy would make a list of texts fixed-width)."""
    return np.fromiter(texts, dtype=object, count=len(texts))


def _label_table(comparison: str, levels: np.ndarray) -> list[str]:
    """The label of each level from 0 to the highest of ``levels`` (all ≥ 0), as :func:`reason`
    finds it: ``levels`` are the codes of their labels in this table."""
    labels = cmp.LEVEL_LABELS.get(comparison, {})
    return [labels.get(level, comparison) for level in range(int(levels.max()) + 1)]


def _labels(comparison: str, levels: np.ndarray) -> np.ndarray:
    """The label of each level (all ≥ 0), as :func:`reason` finds it."""
    return np.array(_label_table(comparison, levels), dtype=object)[levels]


def _by_combination(comparison: str, rows: np.ndarray, levels: np.ndarray, res: _Side, rep: _Side,
                    columns: list[str], mark_freq: Mapping[str, float] | None) -> tuple[np.ndarray, list[str]] | None:
    """:func:`reason` once per distinct (resident values, report values, level) on ``columns`` — the
    only columns ``reason`` reads for this comparison (marks, conditions: few distinct sets): a
    code per pair into the distinct reasons, or None when a value is not hashable."""
    left, right = res.codes(columns, rows), rep.codes(columns, rows)
    if left is None or right is None:
        return None
    (left_codes, left_records), (right_codes, right_records) = left, right
    n_levels = int(levels.max()) + 1
    combined = (left_codes * len(right_records) + right_codes) * n_levels + levels
    inverse, distinct = pd.factorize(combined)
    key_pairs, key_levels = np.divmod(distinct, n_levels)
    key_left, key_right = np.divmod(key_pairs, len(right_records))
    if comparison == "marks":
        return inverse, _mark_reasons(key_levels, key_left, key_right, left_records, right_records, mark_freq)
    keys = zip(key_levels.tolist(), key_left.tolist(), key_right.tolist())
    return inverse, [reason(comparison, level, left_records[a], right_records[b], mark_freq) for level, a, b in keys]


def _mark_reasons(levels: np.ndarray, left: np.ndarray, right: np.ndarray, left_records: list[dict],
                  right_records: list[dict], mark_freq: Mapping[str, float] | None) -> list[str]:
    """``reason("marks", level, left_records[a], right_records[b])`` for each level, a, b of
    ``levels``, ``left``, ``right``, with each record's marks parsed once (the parsing was half
    the time of explaining the marks of a link run's candidates).

    Where neither record lists a denied mark (无纹身) and the level is not 0 (a contradiction,
    which reads the ``negated`` column), :func:`cmp.mark_comparison` finds no contradiction and
    returns :func:`cmp._best_shared_mark` of the two parsed lists: that is called directly; in
    every other case ``reason`` itself is.

    A mark whose type the other record lacks never meets one of the other's, so the best shared
    mark is that of the two lists cut to their shared types (order kept): pairs of records are
    many, pairs of cut lists few (a record has a mark or two), so each is compared once. Which
    types two records share is found on arrays (a bit per type): most share exactly one, whose
    cut lists are looked up; the others are cut one by one."""
    labels, best = cmp.LEVEL_LABELS["marks"], cmp._best_shared_mark
    kinds: dict[str, int] = {}  # mark type -> its bit
    cuts: dict[tuple, int] = {}  # a record's marks of one type -> their number
    (parsed_l, usable_l, mask_l, cut_l), (parsed_r, usable_r, mask_r, cut_r) = [
        _mark_arrays(records, kinds, cuts) for records in (left_records, right_records)]
    shown = np.full(len(levels), None, dtype=object)  # the mark shown, where reason() is not asked
    able = (levels >= 2) & usable_l[left] & usable_r[right]
    cut_one_by_one = able
    if len(kinds) <= 62:  # a bit for each type
        shared = mask_l[left] & mask_r[right]
        shown[able & (shared == 0)] = ""  # _best_shared_mark of lists with no type in common
        one = able & (shared != 0) & ((shared & (shared - 1)) == 0)
        cut_one_by_one = able & (shared != 0) & ~one
        single = np.flatnonzero(one)
        if len(single):
            bit = np.log2(shared[single]).astype(np.int64)  # exact for a power of two
            inverse, pairs = pd.factorize(cut_l[left[single], bit] * len(cuts) + cut_r[right[single], bit])
            cut_list = list(cuts)
            found = [best(cut_list[x], cut_list[y], mark_freq)[1]
                     for x, y in zip(*(c.tolist() for c in np.divmod(pairs, len(cuts))))]
            shown[single] = np.array(found, dtype=object)[inverse]
    several: dict[tuple, str] = {}
    for i in np.flatnonzero(cut_one_by_one).tolist():
        (x, x_types), (y, y_types) = parsed_l[left[i]], parsed_r[right[i]]
        common = x_types.keys() & y_types.keys()
        cut = (tuple(p for p in x if p[0] in common), tuple(p for p in y if p[0] in common))
        if cut not in several:
            several[cut] = best(*cut, mark_freq)[1] if x and y else ""
        shown[i] = several[cut]
    # the label and the mark, once per distinct (level, mark); reason() where the mark is not known
    mark_codes, marks = pd.factorize(shown)  # None (reason() asked) → -1
    texts = np.empty(len(levels), dtype=object)
    known = mark_codes >= 0
    if known.any():
        n_levels = int(levels.max()) + 1
        inverse, keys = pd.factorize(mark_codes[known] * n_levels + levels[known])
        composed = []
        for mark, level in zip(marks[keys // n_levels].tolist(), (keys % n_levels).tolist()):
            label = labels.get(level, "marks")
            composed.append(f"{label}({mark})" if mark else label)
        texts[known] = np.array(composed, dtype=object)[inverse]
    for i in np.flatnonzero(~known).tolist():
        texts[i] = reason("marks", int(levels[i]), left_records[left[i]], right_records[right[i]], mark_freq)
    return texts.tolist()


def _mark_arrays(records: list[dict], kinds: dict[str, int], cuts: dict[tuple, int]
                 ) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Each record's :func:`_parsed_marks`, whether it has no denied mark, the bits of its mark
    types (``kinds`` numbers the types; the 63rd and later have none: the caller then cuts every
    pair one by one) and the number in ``cuts`` of its marks of each type (-1: none of that type)."""
    parsed = [_parsed_marks(r) for r in records]
    usable = np.array([p is not None for p in parsed], dtype=bool)
    mask = np.zeros(len(records), dtype=np.int64)
    cells = []
    for i, p in enumerate(parsed):
        for kind, marks in (p[1].items() if p is not None else ()):
            bit = kinds.setdefault(kind, len(kinds))
            if bit < 62:
                mask[i] |= 1 << bit
            cells.append((i, bit, cuts.setdefault(marks, len(cuts))))
    cut = np.full((len(records), min(len(kinds), 62) or 1), -1, dtype=np.int64)
    for i, bit, number in cells:
        if bit < 62:
            cut[i, bit] = number
    return parsed, usable, mask, cut


def _parsed_marks(record: Mapping) -> tuple[list, dict[str, tuple]] | None:
    """The record's marks as mark_comparison parses them (conditions left out) and those of each
    type, or None when one of them is a denied mark (无纹身), which mark_comparison treats as a
    contradiction."""
    parsed = [p for p in map(cmp._parse_mark, cmp._tuple(_get(record, "marks"))) if p[0] not in cmp.CONDITION_NAMES]
    if any(t.startswith("无") and len(t) > 1 for t, _, _ in parsed):
        return None
    by_type: dict[str, tuple] = {}
    for p in parsed:
        by_type[p[0]] = by_type.get(p[0], ()) + (p,)
    return parsed, by_type


def _km_rows(res: _Side, rep: _Side, rows: np.ndarray) -> np.ndarray | None:
    """Great-circle km for the pairs at ``rows``: :func:`cmp.haversine_km`, except that a distance
    within a hair of rounding the other way (x.5 km) is recomputed with :func:`_km`, which
    explain_pair uses, so the whole km shown are the same (numpy's sin/cos and the order of the
    operations may differ in the last bits)."""
    coordinates = [res.floats("found_lon", rows), res.floats("found_lat", rows),
                   rep.floats("missing_lon", rows), rep.floats("missing_lat", rows)]
    if any(c is None for c in coordinates):
        return None
    lon1, lat1, lon2, lat2 = coordinates
    km = cmp.haversine_km(lon1, lat1, lon2, lat2)
    with np.errstate(invalid="ignore"):
        near_half = np.abs(km - np.floor(km) - 0.5) < 1e-6
    for i in np.flatnonzero(near_half):
        km[i] = _km(lon1[i], lat1[i], lon2[i], lat2[i])
    return km


def _reasons(comparison: str, rows: np.ndarray, levels: np.ndarray, res: _Side, rep: _Side,
             mark_freq: Mapping[str, float] | None) -> tuple[np.ndarray, list[str]]:
    """``reason(comparison, level, resident, report)`` for the pairs at ``rows`` (``levels`` ≥ 0),
    branch by branch as :func:`reason` takes them, on whole columns: a code per pair into a list
    of texts (the level's label, or a text that shows values, each distinct one written once)."""
    codes, table = levels.copy(), _label_table(comparison, levels)

    def show(where: np.ndarray, found: tuple[np.ndarray, list[str]]) -> tuple[np.ndarray, list[str]]:
        codes[where] = len(table) + found[0]
        return codes, table + found[1]

    if comparison == "height":
        a, b = res.floats("height_cm", rows), rep.floats("height_cm", rows)
        if a is not None and b is not None:
            detailed = np.isin(levels, (0, 1, 2)) & ~np.isnan(a) & ~np.isnan(b)
            if detailed.any():
                return show(detailed, _whole_codes(np.abs(a[detailed] - b[detailed]), "身高差{:.0f}cm"))
            return codes, table
    elif comparison == "age":
        bounds = [side.floats(c, rows) for side in (res, rep) for c in ("birth_year_low", "birth_year_high")]
        if all(b is not None for b in bounds):
            gap = cmp.interval_gap(*bounds)
            detailed = np.isin(levels, (0, 1)) & np.isfinite(gap)
            if detailed.any():
                return show(detailed, _whole_codes(gap[detailed], "年龄相差约{:.0f}岁"))
            return codes, table
    elif comparison == "geography":
        near = levels < 5
        km = _km_rows(res, rep, rows[near]) if near.any() else np.empty(0)
        if km is not None:
            detailed = near.copy()
            detailed[near] = np.isfinite(km)
            if detailed.any():
                return show(detailed, _whole_codes(km[np.isfinite(km)], "发现地距走失地{:.0f}km"))
            return codes, table
    elif comparison in _BY_COMBINATION:
        needs = {"marks": (levels >= 2) | (levels == 0), "conditions": levels >= 1}.get(comparison, levels >= 0)
        if not needs.any():
            return codes, table
        columns = _BY_COMBINATION[comparison]
        found = _by_combination(comparison, rows[needs], levels[needs], res, rep, columns, mark_freq)
        if found is not None:
            return show(needs, found)
    else:
        return codes, table  # the other comparisons' reasons are their labels
    # a column holding something other than plain numbers or hashable values: explain_pair's way
    texts = [reason(comparison, int(level), r, m, mark_freq)
             for level, r, m in zip(levels, res.records(rows), rep.records(rows))]
    codes, distinct = pd.factorize(np.array(texts, dtype=object))
    return codes, distinct.tolist()


def _name_pieces(rows: np.ndarray, levels: np.ndarray, weights: np.ndarray, res: _Side, rep: _Side) -> np.ndarray:
    """The name's ``f"{reason} {format_weight(w)}"`` for the pairs at ``rows`` (``levels`` ≥ 0), as
    :func:`reason` writes it: the pieces show the two names, so nearly all differ; each is
    written by one ``str.format`` (no intermediate reason strings)."""
    weight_texts = _formatted(weights, format_weight)
    pieces = np.empty(len(rows), dtype=object)
    whole = np.ones(len(rows), dtype=bool)
    partial = np.flatnonzero(levels == 1)
    if len(partial):
        # what met at level 1 is name logic (partial_match): one call per distinct pair of name
        # values, on names cleaned once each; where nothing partial met, reason() shows the two
        # names (as below)
        picked = rows[partial]
        (left, left_names), (right, right_names) = res.cleaned_names(picked), rep.cleaned_names(picked)
        inverse, distinct = pd.factorize(left * len(right_names) + right)
        a, b = np.divmod(distinct, len(right_names))
        met = map(cmp.partial_match_cleaned, [left_names[i] for i in a.tolist()], [right_names[i] for i in b.tolist()])
        label = cmp.LEVEL_LABELS["name"][1]
        shown = [None if m is None else f"{label}({m.left}/{m.right}{_HOW[m.how]})" for m in met]
        found = np.array([text is not None for text in shown], dtype=bool)[inverse]
        met_rows = partial[found]
        if len(met_rows):
            texts = np.array(shown, dtype=object)[inverse[found]].tolist()
            pieces[met_rows] = _objects([f"{text} {weight}" for text, weight in
                                         zip(texts, weight_texts[met_rows].tolist())])
            whole[met_rows] = False
    shows = np.flatnonzero(whole)  # the label and the two names
    if len(shows):
        columns = (_labels("name", levels[shows]).tolist(), res.display_names(rows[shows]).tolist(),
                   rep.display_names(rows[shows]).tolist(), weight_texts[shows].tolist())
        pieces[shows] = _objects([f"{label}({a}/{b}) {weight}" for label, a, b, weight in zip(*columns)])
    return pieces


def _pieces(comparison: str, rows: np.ndarray, levels: np.ndarray, weights: np.ndarray, res: _Side, rep: _Side,
            mark_freq: Mapping[str, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """``f"{reason} {format_weight(w)}"`` for the pairs at ``rows``, as a code per pair into a
    table of distinct pieces, each built once: most reasons are few distinct texts (labels, whole
    cm, km, marks), and so are the weights."""
    if comparison == "name":
        return np.arange(len(rows)), _name_pieces(rows, levels, weights, res, rep)
    reason_codes, reasons = (levels, _label_table(comparison, levels)) if comparison in _LABEL_ONLY else \
        _reasons(comparison, rows, levels, res, rep, mark_freq)
    weight_codes, weight_texts = _weight_codes(weights, levels)
    keys = reason_codes * len(weight_texts) + weight_codes
    if len(reasons) * len(weight_texts) <= min(256, len(keys)):
        # few combinations (weights that depend on the level alone): a piece for each, unused or not
        inverse, keys = keys, np.arange(len(reasons) * len(weight_texts))
    else:
        inverse, keys = pd.factorize(keys)
    key_reasons, key_weights = np.divmod(keys, len(weight_texts))
    texts = _objects([f"{reasons[r]} {weight_texts[w]}" for r, w in zip(key_reasons.tolist(), key_weights.tolist())])
    return inverse, texts


def _weight_column(weights: pd.DataFrame, comparison: str) -> np.ndarray:
    """``weights.get(f"w_{c}", weights.get(c, 0.0))`` of explain_pair for a whole column."""
    for name in (f"w_{comparison}", comparison):
        if name in weights.columns:
            values = weights[name]
            if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiub":
                return values.to_numpy(dtype=float)
            return np.array([0.0 if v is None else float(v) for v in values], dtype=float)
    return np.zeros(len(weights))


def explain_pairs(pairs: pd.DataFrame, vectors: pd.DataFrame, weights: pd.DataFrame, residents: pd.DataFrame,
                  missing: pd.DataFrame, top: int = 6, mark_freq: Mapping[str, float] | None = None) -> list[str]:
    """Explanation strings for the rows of ``pairs`` (resident_id, missing_id), whose comparison
    levels are the rows of ``vectors`` and partial weights the rows of ``weights`` (same order).

    Each string is exactly :func:`explain_pair` of its row, built column by column (a link run
    explains ``top_k`` candidates of every resident: 100,000 rows took 4.6 s one by one): each
    comparison's distinct pieces are written once and each row joins its pieces, strongest first
    (the 98,690 candidates of 2,000 residents × 20,000 reports at top_k 50: ~0.18 s).

        >>> pairs = pd.DataFrame({"resident_id": ["R1", "R1"], "missing_id": ["M1", "M2"]})
        >>> levels = pd.DataFrame({"name": [5, -1], "height": [1, 3]})
        >>> weights = pd.DataFrame({"w_name": [6.1, 0.0], "w_height": [-3.2, 1.1]})
        >>> residents = pd.DataFrame({"resident_id": ["R1"], "name_norm": ["李伟"], "height_cm": [160.0]})
        >>> missing = pd.DataFrame({"missing_id": ["M1", "M2"], "name_norm": ["李玮", None],
        ...                         "height_cm": [172.0, 161.0]})
        >>> explain_pairs(pairs, levels, weights, residents, missing)
        ['姓名同音(李伟/李玮) +6.1; 身高差12cm −3.2', '身高相符 +1.1']
    """
    with gc_paused():
        return _explain_pairs(pairs, vectors, weights, residents, missing, top, mark_freq)


def _explain_pairs(pairs: pd.DataFrame, vectors: pd.DataFrame, weights: pd.DataFrame, residents: pd.DataFrame,
                   missing: pd.DataFrame, top: int, mark_freq: Mapping[str, float] | None) -> list[str]:
    n = len(pairs)
    if len(vectors) != n or len(weights) != n:
        raise InputError(f"explain_pairs: {n} pairs but {len(vectors)} rows of levels and {len(weights)} rows "
                         f"of weights; they must be the same rows in the same order")
    if n == 0:
        return []
    res = _Side(residents, "resident_id", pairs["resident_id"])
    rep = _Side(missing, "missing_id", pairs["missing_id"])
    # columns in comparison order, so a stable sort on -|w| breaks ties as explain_pair does
    present = set(vectors.columns)
    comparisons = [c for c in cmp.COMPARISONS if c in present]
    if not comparisons:
        return [""] * n
    # one row per comparison, one column per pair: a comparison's values are contiguous
    levels = np.stack([vectors[c].to_numpy() for c in comparisons])
    if levels.dtype.kind not in "iu":  # (whole numbers as they come: int8 from compare_pairs, small to scan)
        levels = levels.astype(float)
        if np.isnan(levels).any():
            raise InputError("explain_pairs: a comparison level is blank (NaN); levels come from "
                             "compare_pairs as whole numbers, -1 for no evidence; pass its vectors unchanged")
        levels = levels.astype(np.int64)
    weight = np.stack([_weight_column(weights, c) for c in comparisons])
    key = np.abs(weight)
    np.negative(key, out=key)  # -|w|: strongest first
    shown = (levels >= 0) & ~(key > -MIN_SHOWN_WEIGHT)  # a NaN weight is "shown", as in explain_pair
    unordered = (shown & np.isnan(weight)).any(axis=0) if np.isnan(key.sum()) else np.zeros(n, bool)
    shown[:, unordered] = False  # how a NaN sorts is explain_pair's business: those rows are done its way
    key[~shown] = np.inf
    order = np.argsort(key.T, axis=1, kind="stable")  # each pair's comparisons, strongest first
    n_shown = np.count_nonzero(shown, axis=0)
    kept = n_shown if top is None else (np.minimum(n_shown, top) if top >= 0 else np.maximum(n_shown + top, 0))
    width = int(kept.max())
    if width == 0:
        texts = [""] * n
    else:
        # place_of[j, i]: where comparison j's piece goes in pair i's text (width: nowhere);
        # (comparison, pair) as one flat index, cheaper than two index arrays
        place_of = np.full(shown.shape, width, dtype=np.min_scalar_type(width))
        pair = np.arange(n)
        for place in range(width):
            place_of.ravel()[order[:, place] * n + pair] = np.where(place < kept, place, width)
        # each pair's piece of each comparison as a number in one table of distinct pieces, put
        # straight at its place: the pieces are moved around as integers, and looked up once,
        # when the rows are joined
        ordered = np.zeros((width, n), dtype=np.int64)  # the code at each place
        tables, offset = [], 0
        for j, comparison in enumerate(comparisons):
            rows = np.flatnonzero(place_of[j] < width)
            if len(rows):
                row_codes, table = _pieces(comparison, rows, levels[j, rows].astype(np.int64), weight[j, rows], res,
                                           rep, mark_freq)
                ordered.ravel()[place_of[j, rows].astype(np.int64) * n + rows] = row_codes + offset
                tables.append(table)
                offset += len(table)
        table = np.concatenate(tables)
        # the rows with k pieces joined together over the places' columns (no per-row slicing)
        joined = np.full(n, "", dtype=object)
        for k in range(1, width + 1):
            rows = np.flatnonzero(kept == k)
            if len(rows):
                columns = zip(*(table[ordered[place][rows]].tolist() for place in range(k)))
                joined[rows] = np.fromiter(map("; ".join, columns), dtype=object, count=len(rows))
        texts = joined.tolist()
    for i in np.flatnonzero(unordered):
        texts[i] = _explain_pairs_reference(pairs.iloc[[i]], vectors.iloc[[i]], weights.iloc[[i]],
                                            residents, missing, top, mark_freq)[0]
    return texts
