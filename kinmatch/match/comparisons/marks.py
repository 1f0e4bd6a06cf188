"""Marks (体貌特征): scars, moles, tattoos, missing fingers, compared on type, part and side.

A mark is ``type:part:side[:detail]`` (``痣:脸:左``, ``疤痕:额头:``); a blank part or side agrees with
anything. Two marks agree when type and part agree and the sides agree (level 3, or 4 when the
mark is rare, or 5 when two or more marks of each record agree); the same type and part on
mirrored sides (左/右: families and staff see the person from opposite sides) is level 2; two
described records with nothing shared are level 1. An explicit absence — a ``无纹身`` mark, or
``纹身`` in the ``negated`` column, as the description normalizer lists denied mark types —
against that mark is a contradiction (0). A mark that names a condition (``聋哑::``) is the
conditions comparison's evidence and is never counted here.

Most records carry no mark or the same one or two: each distinct (marks, negated) value is parsed
once, and pairs are decided on integers — type bit masks settle contradictions and pairs with no
type in common; the rest compare type, part and side codes, once per distinct pair of values.

    >>> import numpy as np, pandas as pd
    >>> comparison = MarksComparison()
    >>> residents = pd.DataFrame({"marks": [("痣:脸:左", "疤痕:额头:"), ()], "negated": [(), ("纹身",)]})
    >>> missing = pd.DataFrame({"marks": [("疤痕:额头:", "痣:脸:"), ("痣:脸:右",), ("纹身:臂:右:龙",)],
    ...                         "negated": [(), (), ()]})
    >>> encoded = comparison.encode(residents, missing)
    >>> lp, rp = np.array([0, 0, 1]), np.array([0, 1, 2])
    >>> levels = comparison.levels(encoded, lp, rp)
    >>> levels.tolist()
    [5, 2, 0]
    >>> comparison.reasons(encoded, lp, rp, levels).tolist()
    ['多处特征相符(痣:脸:左、疤痕:额头)', '特征部位相同方向相反(痣:脸:左)', '体貌特征矛盾(无纹身/纹身)']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_array, object_values
from kinmatch.match.comparisons.conditions import CONDITION_NAMES, meets, number_words, texts_per_distinct, word_masks

MARK_RARITY = {"痣": 0.30, "疤痕": 0.25, "胎记": 0.08, "纹身": 0.05, "缺指": 0.01, "缺牙": 0.10,
               "六指": 0.002, "烫伤": 0.04, "烧伤": 0.04, "斑": 0.10, "驼背": 0.03, "跛": 0.03}
"""Rough share of people with a mark of each type, used for a ``type:part`` the frequency table
lacks (other types: 0.1): agreement on a rare mark (a missing finger) counts more than on a mole."""

RARE_MARK_SHARE = 0.06
"""A mark carried by at most this share of reports is rare: agreeing on it is level 4."""

_MIRROR = {"左": "右", "右": "左"}


def parse_mark(mark: str) -> tuple[str, str, str]:
    """A mark's type, part and side (blank where not given; a detail after the side is dropped).

        >>> parse_mark("缺指:手:左:小指"), parse_mark("痣")
        (('缺指', '手', '左'), ('痣', '', ''))
    """
    parts = (mark.split(":") + ["", "", ""])[:3]
    return parts[0], parts[1], parts[2]


def mark_frequency(marks: pd.Series) -> dict[str, float]:
    """Share of records carrying each ``type:part`` mark (for rarity weighting); each distinct
    value of ``marks`` is parsed once.

        >>> mark_frequency(pd.Series([("痣:脸:左",), ("痣:脸:右", "缺指:左手:小指"), ()]))["痣:脸"]
        0.6666666666666666
    """
    n = max(len(marks), 1)
    counts: dict[str, int] = {}
    for value, count in pd.Series(object_values(marks), dtype=object).value_counts(sort=False).items():
        for key in {":".join(parse_mark(m)[:2]) for m in value}:
            counts[key] = counts.get(key, 0) + int(count)
    return {key: count / n for key, count in counts.items()}


def is_rare(mark_type: str, part: str, frequency: Mapping[str, float]) -> bool:
    """Whether a mark of this type on this part is rare: its share in ``frequency`` (``type:part``),
    else :data:`MARK_RARITY` of its type, at most :data:`RARE_MARK_SHARE`."""
    return frequency.get(f"{mark_type}:{part}", MARK_RARITY.get(mark_type, 0.1)) <= RARE_MARK_SHARE


def deciding_mark(parsed_a: tuple, absent_a: frozenset, parsed_b: tuple, absent_b: frozenset,
           frequency: Mapping[str, float]) -> tuple[int, str]:
    """The level of two records' marks and the mark that decided it, as the reason shows it:
    ``无纹身/纹身`` for a contradiction, ``痣:脸:左`` for the best agreeing or mirrored mark, the
    agreeing marks joined with 、 at level 5. ``parsed_*``: the (type, part, side) of each mark,
    conditions left out; ``absent_*``: the denied mark types.

    :meth:`MarksComparison.levels` finds the same levels on integer codes; this runs once per
    distinct pair of values whose reason is shown."""
    for absent, other in ((absent_a, parsed_b), (absent_b, parsed_a)):
        for mark_type, _, _ in other:
            if mark_type in absent:
                return 0, f"无{mark_type}/{mark_type}"
    if not parsed_a or not parsed_b:
        return MISSING, ""
    best, best_mark = 1, ""
    agreeing_a, agreeing_b, shown = set(), set(), []
    for i, (ta, pa, sa) in enumerate(parsed_a):
        if ta.startswith("无"):
            continue
        for j, (tb, pb, sb) in enumerate(parsed_b):
            if ta != tb or not (pa == pb or not pa or not pb):
                continue
            mark = ":".join(x for x in (ta, pa or pb, sa or sb) if x)
            if sa == sb or not sa or not sb:
                level = 4 if is_rare(ta, pa or pb, frequency) else 3
                if i not in agreeing_a:
                    shown.append(mark)
                agreeing_a.add(i)
                agreeing_b.add(j)
            elif _MIRROR.get(sa) == sb:
                level = 2
            else:
                continue
            if level > best:
                best, best_mark = level, mark
    if min(len(agreeing_a), len(agreeing_b)) >= 2:
        return 5, "、".join(dict.fromkeys(shown))
    return best, best_mark


class MarkSide(NamedTuple):
    """One side's marks, once per distinct (``marks``, ``negated``) value: ``code`` per record into
    the distinct values; per distinct value the ``parsed`` marks (conditions left out), the
    ``absent`` (denied) types, ``active`` (any mark or denial: else never evidence),
    ``described`` (any mark), type bit masks (:func:`~.conditions.word_masks`) of every mark
    (``types``), of the marks not written 无X (``positive``) and of the denied types (``denied``),
    and the type, part and side code of each mark: row ``i`` of ``type_codes`` holds the type of
    each value's ``i``-th mark (-1 where it has fewer; -1 also for a 无X mark, which agrees with
    nothing)."""

    code: np.ndarray
    parsed: list
    absent: list
    active: np.ndarray
    described: np.ndarray
    types: np.ndarray
    positive: np.ndarray
    denied: np.ndarray
    type_codes: np.ndarray
    part_codes: np.ndarray
    side_codes: np.ndarray


class MarksEncoding(NamedTuple):
    """Both sides' :class:`MarkSide`, the rarity of each (type code, part code) and the frequency
    table it came from."""

    left: MarkSide
    right: MarkSide
    rare: np.ndarray
    frequency: Mapping[str, float]


def _distinct_values(frame: pd.DataFrame) -> tuple[np.ndarray, list, list]:
    """Per record a code into the distinct (marks, negated) values, their parsed marks and absent types."""
    keys = object_array(list(zip(object_values(frame["marks"]), object_values(frame["negated"]), strict=True)))
    code, distinct = pd.factorize(keys)
    parsed, absent = [], []
    for marks, negated in distinct:
        own = tuple(p for p in map(parse_mark, marks) if p[0] not in CONDITION_NAMES)
        parsed.append(own)
        absent.append(frozenset(t[1:] for t, _, _ in own if t.startswith("无") and len(t) > 1) | frozenset(negated))
    return code.astype(np.int64), parsed, absent


def _mark_side(code: np.ndarray, parsed: list, absent: list, types: dict, parts: dict, sides: dict) -> MarkSide:
    n_types = len(types)
    width = max((len(p) for p in parsed), default=0) or 1
    type_codes, part_codes, side_codes = (np.full((width, len(parsed)), -1, dtype=np.int32) for _ in range(3))
    for i, marks in enumerate(parsed):
        for j, (mark_type, part, side) in enumerate(marks):
            type_codes[j, i] = -1 if mark_type.startswith("无") else types[mark_type]
            part_codes[j, i] = parts[part]
            side_codes[j, i] = sides[side]
    described = np.array([bool(p) for p in parsed], dtype=bool)
    denied = word_masks([[types[t] for t in a] for a in absent], n_types)
    return MarkSide(code, parsed, absent, described | (denied != 0).any(axis=1), described,
                    word_masks([[types[t] for t, _, _ in p] for p in parsed], n_types),
                    word_masks([[types[t] for t, _, _ in p if not t.startswith("无")] for p in parsed], n_types),
                    denied, type_codes, part_codes, side_codes)


def _distinct_levels(left: MarkSide, right: MarkSide, rare: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels of the pairs of distinct values ``a``/``b`` (both with a mark or a denial)."""
    # settled by type masks alone: a contradiction (0), one side undescribed (-1), no type in common (1)
    contradiction = meets(left.denied[a], right.types[b]) | meets(right.denied[b], left.types[a])
    undescribed = ~(left.described[a] & right.described[b])
    out = np.where(contradiction, 0, np.where(undescribed, MISSING, 1)).astype(np.int8)
    rest = np.flatnonzero(~(contradiction | undescribed) & meets(left.positive[a], right.positive[b]))
    if len(rest):
        out[rest] = _levels_by_codes(left, right, rare, a[rest], b[rest])
    return out


def _levels_by_codes(left: MarkSide, right: MarkSide, rare: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels of described, uncontradicted pairs of distinct values ``a``/``b`` sharing a mark type:
    every mark of one against every mark of the other on integer codes, one (mark, mark) position
    at a time (a record has a few marks; whole columns per position keep numpy's loops long)."""
    n = len(a)
    level = np.ones(n, dtype=np.int8)
    theirs = [(t[b], p[b], s[b]) for t, p, s in zip(right.type_codes, right.part_codes, right.side_codes, strict=True)]
    agreeing_b = [np.zeros(n, dtype=bool) for _ in theirs]
    agreeing_a = np.zeros(n, dtype=np.int8)
    for ta, pa, sa in zip(left.type_codes, left.part_codes, left.side_codes, strict=True):
        ta, pa, sa = ta[a], pa[a], sa[a]
        agrees = np.zeros(n, dtype=bool)
        for (tb, pb, sb), agreeing in zip(theirs, agreeing_b, strict=True):
            same = np.flatnonzero((ta == tb) & (ta >= 0) & ((pa == pb) | (pa == 0) | (pb == 0)))
            if len(same) == 0:
                continue
            s1, s2 = sa[same], sb[same]
            agree = (s1 == s2) | (s1 == 0) | (s2 == 0)
            mirrored = ((s1 == 1) & (s2 == 2)) | ((s1 == 2) & (s2 == 1))
            part = np.where(pa[same] == 0, pb[same], pa[same])
            score = np.where(agree, np.where(rare[ta[same], part], 4, 3), np.where(mirrored, 2, 1))
            level[same] = np.maximum(level[same], score)
            agrees[same[agree]] = True
            agreeing[same[agree]] = True
        agreeing_a += agrees
    # several marks agreeing: at least two marks of each record agree with one of the other's
    several = np.minimum(agreeing_a, np.sum(agreeing_b, axis=0, dtype=np.int8)) >= 2
    return np.where(several, 5, level).astype(np.int8)


class MarksComparison(Comparison):
    """Marks: 5 several marks agree, 4 a rare mark agrees, 3 a mark agrees, 2 the same mark on the
    mirrored side, 1 both described with nothing shared, 0 a denied mark against that mark, -1
    neither contradiction nor two described records. Symmetric: the sides can be swapped. The
    reason of levels 0 and 2–5 shows the mark that decided it.

    ``frequency`` maps ``type:part`` to the share of reports with that mark (:func:`mark_frequency`);
    None: the shares among the reports being compared. A ``type:part`` it lacks takes the rough
    rarity of its type (:data:`MARK_RARITY`).

        >>> import numpy as np, pandas as pd
        >>> comparison = MarksComparison(frequency={"痣:脸": 0.01})
        >>> frame = pd.DataFrame({"marks": [("痣:脸:左",)], "negated": [()]})
        >>> encoded = comparison.encode(frame, frame)
        >>> comparison.reasons(encoded, np.array([0]), np.array([0]), comparison.levels(encoded, np.array([0]),
        ...                    np.array([0]))).tolist()
        ['罕见特征相符(痣:脸:左)']
    """

    name = "marks"
    title = "体貌特征"
    labels = {-1: "体貌特征不详", 0: "体貌特征矛盾", 1: "体貌特征无共同点", 2: "特征部位相同方向相反",
              3: "体貌特征相符", 4: "罕见特征相符", 5: "多处特征相符"}
    agree_from = 3
    left_columns = right_columns = ("marks", "negated")
    fields = (("体貌特征", "description", "description"),)

    def __init__(self, frequency: Mapping[str, float] | None = None):
        self.frequency = frequency

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> MarksEncoding:
        frequency = self.frequency if self.frequency is not None else mark_frequency(missing["marks"])
        sides = [_distinct_values(frame) for frame in (residents, missing)]
        # one vocabulary for both sides; part and side 0 = blank, which agrees with anything, and
        # sides 1 (左) and 2 (右) mirror each other
        types: dict[str, int] = {}
        parts: dict[str, int] = {"": 0}
        side_codes: dict[str, int] = {"": 0, "左": 1, "右": 2}
        for _, parsed, absent in sides:
            number_words(([t for t, _, _ in p] for p in parsed), types)
            number_words(absent, types)
            number_words(([part for _, part, _ in p] for p in parsed), parts)
            number_words(([side for _, _, side in p] for p in parsed), side_codes)
        rare = np.zeros((max(len(types), 1), len(parts)), dtype=bool)
        for mark_type, ti in types.items():
            for part, pi in parts.items():
                rare[ti, pi] = is_rare(mark_type, part, frequency)
        left, right = (_mark_side(*side, types, parts, side_codes) for side in sides)
        return MarksEncoding(left, right, rare, frequency)

    def levels(self, encoded: MarksEncoding, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded.left, encoded.right
        out = np.full(len(lp), MISSING, dtype=np.int8)
        a, b = left.code[lp], right.code[rp]
        # a record with neither a mark nor a denial gives no evidence (many describe no mark); the others
        # repeat the same few values: each distinct pair of values is decided once
        todo = np.flatnonzero(left.active[a] & right.active[b])
        if len(todo):
            n_right = len(right.parsed)
            codes, distinct = pd.factorize(a[todo] * n_right + b[todo])
            out[todo] = _distinct_levels(left, right, encoded.rare, *np.divmod(distinct, n_right))[codes]
        return out

    def reasons(self, encoded: MarksEncoding, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        left, right = encoded.left, encoded.right
        levels = np.asarray(levels)
        out = self.label_array(levels)
        shown = np.flatnonzero((levels >= 2) | (levels == 0))

        def text(a: int, b: int, level: int) -> str:
            label = self.labels.get(level, self.name)
            mark = deciding_mark(left.parsed[a], left.absent[a], right.parsed[b], right.absent[b], encoded.frequency)[1]
            return f"{label}({mark})" if mark else label

        out[shown] = texts_per_distinct(left.code[lp[shown]], right.code[rp[shown]], levels[shown], text)
        return out
