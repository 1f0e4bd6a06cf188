"""Clothing: what the person wore when lost against what the resident wore on arrival, read in the
light of how long after the loss the resident was found.

Clothes are strong evidence within weeks (people are found in what they left in), weaker after a
season (clothes are changed, given, worn out) and none after a year. So a level combines how much
of the clothing agrees (nothing, one piece or the shoes, several pieces) with the band of the time
gap (within a month, within four months, within a year), and EM learns each combination's weight;
a gap over a year (or unknown) gives no evidence (-1). The comparison is not ordered: agreement
after a season may be worth less than disagreement within weeks costs.

A piece agrees when the garments agree (:func:`~kinmatch.normalize.clothing.garments_agree`: 棉衣
is a 棉袄, 上衣 any top) and both colours are stated and can be one colour
(:func:`~kinmatch.normalize.clothing.colours_agree`: 咖啡色 and 褐色, 深色 and 蓝色); shoes or
another garment without a colour on one side count as half a piece. The reason shows the pieces
that met, in the report's words.

    >>> import numpy as np, pandas as pd
    >>> comparison = ClothingComparison()
    >>> residents = pd.DataFrame({"clothing_items": [("褐色:棉袄", ":布鞋")],
    ...                           "event_date": pd.to_datetime(["2024-01-20"])})
    >>> missing = pd.DataFrame({"clothing_items": [("咖啡色:棉袄", "黑色:裤子", ":布鞋"), ("红色:外套",)],
    ...                         "event_date": pd.to_datetime(["2024-01-05", "2024-01-05"])})
    >>> encoded = comparison.encode(residents, missing)
    >>> lp, rp = np.array([0, 0]), np.array([0, 1])
    >>> levels = comparison.levels(encoded, lp, rp)
    >>> levels.tolist()
    [2, 0]
    >>> comparison.reasons(encoded, lp, rp, levels).tolist()
    ['一月内寻获，衣着多处相同(咖啡色棉袄、布鞋)', '一月内寻获，衣着不同']
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_array, object_values, once_per_distinct
from kinmatch.match.comparisons.conditions import texts_per_distinct
from kinmatch.match.comparisons.time_gap import DATE_TOLERANCE_DAYS, day_numbers
from kinmatch.normalize.clothing import colour_family, colours_agree, garment_kind, garments_agree, parse_item

GAP_BANDS = (("一月内寻获", 30), ("四月内寻获", 120), ("一年内寻获", 366))
"""The bands of days between the reported loss and the finding, as (label, last day); a longer
(or unknown) gap gives no clothing evidence."""

AMOUNTS = ("衣着不同", "衣着一处相同", "衣着多处相同")
"""How much agrees: nothing (both describe a garment of one kind, top, trousers or shoes, and no
piece meets), one piece (or only pieces without a colour), several."""


class _Piece(NamedTuple):
    colour: str  # as written
    family: str
    garment: str
    kind: str


class ClothingSide(NamedTuple):
    """One side's clothing: per record a ``code`` into the distinct item tuples, and per distinct
    tuple its ``pieces``; the records' ``days`` (event date, days since 1970, NaN when unknown)."""

    code: np.ndarray
    pieces: list
    days: np.ndarray


def _side(frame: pd.DataFrame) -> ClothingSide:
    code, distinct = pd.factorize(object_values(frame["clothing_items"]))
    pieces = []
    for items in distinct:
        parsed = [parse_item(item) for item in items]
        pieces.append(tuple(_Piece(c, colour_family(c), g, garment_kind(g)) for c, g in parsed if garment_kind(g)))
    return ClothingSide(code.astype(np.int64), pieces, day_numbers(frame["event_date"]))


def meeting(resident: tuple, report: tuple) -> tuple[float, list[str]]:
    """Pieces that meet (a piece with both colours agreeing 1, one without a colour ½; each
    report piece meets once) and the report's words for them; -1 when no kind of garment is
    described on both sides.

        >>> meeting((_Piece("褐色", "棕", "棉袄", "上"),), (_Piece("咖啡色", "棕", "棉袄", "上"),))
        (1.0, ['咖啡色棉袄'])
    """
    if not ({p.kind for p in resident} & {p.kind for p in report}):
        return -1.0, []
    points, shown, used = 0.0, [], set()
    for mine in resident:
        best, best_j = 0.0, -1
        for j, theirs in enumerate(report):
            if j in used or mine.kind != theirs.kind or not garments_agree(mine.garment, theirs.garment):
                continue
            if mine.family and theirs.family:
                score = 1.0 if colours_agree(mine.family, theirs.family) else 0.0
            else:  # no colour on one side: the garment alone, if it is specific (not 上衣 / 裤子 / 鞋)
                score = 0.5 if mine.garment == theirs.garment else 0.0
            if score > best:
                best, best_j = score, j
        if best_j >= 0:
            used.add(best_j)
            points += best
            theirs = report[best_j]
            shown.append(theirs.colour + theirs.garment)
    return points, shown


def amount(points: float) -> int:
    """0 nothing met, 1 one piece (or pieces without a colour), 2 several (1½ points or more)."""
    return 2 if points >= 1.5 else 1 if points >= 0.5 else 0


class ClothingComparison(Comparison):
    """Clothing against the time gap: level ``3 × band + amount`` (:data:`GAP_BANDS`,
    :data:`AMOUNTS`), -1 when either side describes no garment, no kind of garment is described
    on both, or the gap is over a year or unknown (see the module docstring)."""

    name = "clothing"
    title = "衣着"
    labels = {MISSING: "衣着不详或寻获时已隔一年以上",
              **{3 * band + level: f"{label}，{words}" for band, (label, _) in enumerate(GAP_BANDS)
                 for level, words in enumerate(AMOUNTS)}}
    ordered = False
    agree_from = 1
    left_columns = right_columns = ("clothing_items", "event_date")
    fields = (("衣着", "clothing", "clothing"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[ClothingSide, ClothingSide]:
        return _side(residents), _side(missing)

    def _band(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded
        days = left.days[lp] - right.days[rp]
        band = np.select([days < -DATE_TOLERANCE_DAYS] + [days <= last for _, last in GAP_BANDS],
                         [MISSING] + list(range(len(GAP_BANDS))), MISSING)
        return np.where(np.isnan(days), MISSING, band)

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded
        out = np.full(len(lp), MISSING, dtype=np.int8)
        if len(lp) == 0:
            return out
        band = self._band(encoded, lp, rp)
        todo = np.flatnonzero(band >= 0)
        if len(todo):
            def compute(a, b):
                return np.fromiter((-1 if p < 0 else amount(p) for p in
                                    (meeting(left.pieces[i], right.pieces[j])[0]
                                     for i, j in zip(left.code[a], right.code[b]))), dtype=np.int8, count=len(a))

            met = once_per_distinct(left.code, right.code, lp[todo], rp[todo], compute)
            out[todo] = np.where(met < 0, MISSING, 3 * band[todo] + met)
        return out

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        left, right = encoded
        levels = np.asarray(levels)
        out = self.label_array(levels)
        shown = np.flatnonzero((levels >= 0) & (levels % 3 > 0))

        def text(a: int, b: int, level: int) -> str:
            pieces = meeting(left.pieces[a], right.pieces[b])[1]
            return f"{self.labels[level]}({'、'.join(pieces)})" if pieces else self.labels[level]

        if len(shown):
            out[shown] = texts_per_distinct(left.code[lp[shown]], right.code[rp[shown]], levels[shown], text)
        return object_array(list(out))
