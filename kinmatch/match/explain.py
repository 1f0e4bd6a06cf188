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
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.match import comparisons as cmp

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


def explain_pairs(pairs: pd.DataFrame, vectors: pd.DataFrame, weights: pd.DataFrame, residents: pd.DataFrame,
                  missing: pd.DataFrame, top: int = 6, mark_freq: Mapping[str, float] | None = None) -> list[str]:
    """Explanation strings for the rows of ``pairs`` (resident_id, missing_id), whose comparison
    levels are the rows of ``vectors`` and partial weights the rows of ``weights`` (same order)."""
    res_rows = _records(residents, "resident_id", pairs["resident_id"])
    rep_rows = _records(missing, "missing_id", pairs["missing_id"])
    level_rows = vectors.to_dict("records")
    weight_rows = weights.to_dict("records")
    return [explain_pair(lv, wt, r, m, top, mark_freq)
            for lv, wt, r, m in zip(level_rows, weight_rows, res_rows, rep_rows)]
