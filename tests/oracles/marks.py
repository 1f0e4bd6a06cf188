"""One-pair oracles of the marks, conditions, build and hair comparisons: the plain functions the
comparisons were defined by (moved from ``kinmatch/match/comparisons.py`` and the one-pair
``reason`` of ``kinmatch/match/explain.py``). Slow and obvious on purpose; the comparison objects
must give exactly their levels and reasons. Records are dicts of normalized columns (an absent
column is blank)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.build import BUILD_ORDER, BUILD_SHARES, RARE_BUILD_SHARE, BuildComparison
from kinmatch.match.comparisons.conditions import CONDITION_NAMES, DISTINCTIVE_CONDITIONS, ConditionsComparison
from kinmatch.match.comparisons.hair import COMMON_HAIR, HairComparison
from kinmatch.match.comparisons.marks import MARK_RARITY, RARE_MARK_SHARE, MarksComparison

MISSING = -1
LEVEL_LABELS = {c.name: c.labels for c in (MarksComparison, ConditionsComparison, BuildComparison, HairComparison)}
_MIRROR = {"左": "右", "右": "左"}
_HAIR_SAME = {"光头": "光头秃顶", "秃顶": "光头秃顶"}


def _get(record: Mapping, key: str) -> Any:
    value = record.get(key)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _tuple(value: Any) -> tuple:
    return tuple(value) if value else ()


# -- marks ------------------------------------------------------------------------------------------

def _parse_mark(mark: str) -> tuple[str, str, str]:
    parts = (str(mark).split(":") + ["", "", ""])[:3]
    return parts[0], parts[1], parts[2]


def mark_comparison(marks_a: Iterable[str], marks_b: Iterable[str], frequency: Mapping[str, float] | None = None,
                    negated_a: Iterable[str] = (), negated_b: Iterable[str] = ()) -> tuple[int, str]:
    """Level and the mark that decided it."""
    parsed_a = [p for p in map(_parse_mark, _tuple(marks_a)) if p[0] not in CONDITION_NAMES]
    parsed_b = [p for p in map(_parse_mark, _tuple(marks_b)) if p[0] not in CONDITION_NAMES]
    for negated, denied, other in ((parsed_a, _tuple(negated_a), parsed_b), (parsed_b, _tuple(negated_b), parsed_a)):
        absent = {t[1:] for t, _, _ in negated if t.startswith("无") and len(t) > 1} | set(denied)
        for t, _, _ in other:
            if t in absent:
                return 0, f"无{t}/{t}"
    if not parsed_a or not parsed_b:
        return MISSING, ""
    return _best_shared_mark(parsed_a, parsed_b, frequency)


def _best_shared_mark(parsed_a: list, parsed_b: list, frequency: Mapping[str, float] | None) -> tuple[int, str]:
    best, best_mark = 1, ""
    agreeing_a, agreeing_b, shown = set(), set(), []
    for i, (ta, pa, sa) in enumerate(parsed_a):
        if ta.startswith("无"):
            continue
        for j, (tb, pb, sb) in enumerate(parsed_b):
            if ta != tb or not (pa == pb or not pa or not pb):
                continue
            if sa == sb or not sa or not sb:
                share = (frequency or {}).get(f"{ta}:{pa or pb}", MARK_RARITY.get(ta, 0.1))
                level = 4 if share <= RARE_MARK_SHARE else 3
                mark = ":".join(x for x in (ta, pa or pb, sa or sb) if x)
                if i not in agreeing_a:
                    shown.append(mark)
                agreeing_a.add(i)
                agreeing_b.add(j)
            elif _MIRROR.get(sa) == sb:
                level = 2
            else:
                continue
            if level > best:
                best, best_mark = level, ":".join(x for x in (ta, pa or pb, sa or sb) if x)
    if min(len(agreeing_a), len(agreeing_b)) >= 2:
        return 5, "、".join(dict.fromkeys(shown))
    return best, best_mark


def marks_level(resident: Mapping, report: Mapping, frequency: Mapping[str, float] | None = None) -> int:
    return mark_comparison(_get(resident, "marks"), _get(report, "marks"), frequency,
                           _get(resident, "negated") or (), _get(report, "negated") or ())[0]


def mark_frequency(marks: pd.Series) -> dict[str, float]:
    n = max(len(marks), 1)
    counts: dict[str, int] = {}
    for value in marks:
        for key in {":".join(_parse_mark(m)[:2]) for m in _tuple(value)}:
            counts[key] = counts.get(key, 0) + 1
    return {key: count / n for key, count in counts.items()}


# -- conditions -------------------------------------------------------------------------------------

def conditions_level(resident: Mapping, report: Mapping) -> int:
    a, b = set(_tuple(_get(resident, "conditions"))), set(_tuple(_get(report, "conditions")))
    if not a or not b:
        return MISSING
    shared = a & b
    if shared & DISTINCTIVE_CONDITIONS:
        return 2
    return 1 if shared else 0


# -- build ------------------------------------------------------------------------------------------

def _build_codes(values: Any) -> np.ndarray:
    return np.array([BUILD_ORDER.get(v if isinstance(v, str) else "", -1) for v in values], dtype=np.int8)


def build_levels(build_a, build_b, frequency: Mapping[str, float] | None = None) -> np.ndarray:
    a, b = _build_codes(build_a), _build_codes(build_b)
    shares = frequency or BUILD_SHARES
    rare = np.array([shares.get(word, 1.0) <= RARE_BUILD_SHARE
                     for word in sorted(BUILD_ORDER, key=BUILD_ORDER.get)], dtype=bool)
    levels = np.select([a == b, np.abs(a.astype(int) - b) == 1], [2, 1], 0).astype(np.int8)
    levels = np.where((a == b) & (a >= 0) & rare[np.clip(a, 0, None)], 3, levels)
    return np.where((a < 0) | (b < 0), MISSING, levels).astype(np.int8)


def build_level(resident: Mapping, report: Mapping, frequency: Mapping[str, float] | None = None) -> int:
    return int(build_levels([_get(resident, "build")], [_get(report, "build")], frequency)[0])


def value_frequency(values: pd.Series) -> dict[str, float]:
    n = max(len(values), 1)
    return {str(k): v / n for k, v in values.dropna().astype(str).value_counts().items() if k}


# -- hair -------------------------------------------------------------------------------------------

def _hair_words(value: Any) -> frozenset:
    text = value if isinstance(value, str) else ""
    return frozenset(_HAIR_SAME.get(w, w) for w in text.replace(",", "、").split("、") if w)


def hair_level(resident: Mapping, report: Mapping) -> int:
    a, b = _hair_words(_get(resident, "hair")), _hair_words(_get(report, "hair"))
    if not a or not b:
        return MISSING
    shared = a & b
    if shared - COMMON_HAIR:
        return 2
    return 1 if shared else 0


# -- reasons (explain.reason, these four comparisons) ----------------------------------------------

def reason(comparison: str, level: int, resident: Mapping, report: Mapping,
           mark_freq: Mapping[str, float] | None = None) -> str:
    label = LEVEL_LABELS[comparison].get(int(level), comparison)
    if comparison == "marks" and level >= 2:
        _, mark = mark_comparison(_get(resident, "marks"), _get(report, "marks"), mark_freq)
        if mark:
            return f"{label}({mark})"
    if comparison == "marks" and level == 0:
        _, mark = mark_comparison(_get(resident, "marks"), _get(report, "marks"), mark_freq,
                                  _get(resident, "negated") or (), _get(report, "negated") or ())
        if mark:
            return f"{label}({mark})"
    if comparison == "conditions" and level >= 1:
        shared = set(_tuple(_get(resident, "conditions"))) & set(_tuple(_get(report, "conditions")))
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
