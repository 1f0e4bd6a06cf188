"""Clothing: what the person wore when lost against what the resident wore on arrival, read in the
light of how long after the loss the resident was found.

Clothes are strong evidence within weeks (people are found in what they left in), weaker after a
season (clothes are changed, given, worn out) and none after a year. So there are two comparisons,
one per band of the time gap: :class:`ClothingComparison` for residents found within a month of
the loss, :class:`LaterClothingComparison` for those found within the year after; each gives -1
outside its band (and when either side describes no garment, or no kind of garment is described on
both). EM learns each band's weights on its own pairs. Why two comparisons and not one whose
levels also name the band: the model weighs a level by how much more often true pairs reach it
than unrelated ones, and "found within a month" is itself far more common among true pairs; levels
naming the band would count the time gap a second time (the time-gap comparison already does), and
a pair whose clothes differ would gain weight for being found soon.

Only :class:`ClothingComparison` is in the default settings: after the first month a chance
agreement among the many more reports lost within the year weighs as much as a true one, and on
the simulator it made more false leads than it found true reports (figures in
``bench/RESULTS.md``); add ``LaterClothingComparison()`` to ``LinkSettings.comparisons`` to use it.

Levels: 2 several pieces agree with their colours, 1 one piece (or only pieces without a colour,
such as the shoes), 0 both describe a garment of one kind (top, trousers, shoes) and nothing
agrees. A piece agrees when the garments agree (:func:`~kinmatch.normalize.clothing.garments_agree`:
棉衣 is a 棉袄, 上衣 any top) and both colours are stated and can be one colour
(:func:`~kinmatch.normalize.clothing.colours_agree`: 咖啡色 and 褐色, 深色 and 蓝色); a generic word
(上衣, 裤子) met by any garment of its kind, and shoes or another garment without a colour on one
side, count as half a piece. The reason shows the pieces that met, in the report's words.

    >>> import numpy as np, pandas as pd
    >>> comparison = ClothingComparison()
    >>> residents = pd.DataFrame({"clothing_items": [("褐色:棉袄", ":布鞋")],
    ...                           "event_date": pd.to_datetime(["2024-01-20"])})
    >>> missing = pd.DataFrame({"clothing_items": [("咖啡色:棉袄", "黑色:裤子", ":布鞋"), ("红色:外套",)],
    ...                         "event_date": pd.to_datetime(["2024-01-05", "2023-06-05"])})
    >>> encoded = comparison.encode(residents, missing)
    >>> lp, rp = np.array([0, 0]), np.array([0, 1])
    >>> comparison.levels(encoded, lp, rp).tolist(), LaterClothingComparison().levels(encoded, lp, rp).tolist()
    ([1, -1], [-1, 0])
    >>> comparison.reasons(encoded, lp, rp, comparison.levels(encoded, lp, rp)).tolist()
    ['一月内寻获，衣着部分相同(咖啡色棉袄、布鞋)', '衣着不详或不在一月内寻获']
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_array, object_values, once_per_distinct
from kinmatch.match.comparisons.conditions import texts_per_distinct
from kinmatch.match.comparisons.time_gap import DATE_TOLERANCE_DAYS, day_numbers
from kinmatch.normalize.clothing import colour_family, colours_agree, garment_kind, garments_agree, parse_item

AMOUNTS = ("衣着不同", "衣着部分相同", "衣着多处相同")
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
    """Pieces that meet (the same garment with both colours agreeing 1; a generic garment, or one
    without a colour, ½; each report piece meets once) and the report's words for them; -1 when no kind of garment is
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
                # a generic word (上衣, 裤子) agrees with any garment of its kind: half a piece
                exact = mine.garment == theirs.garment
                score = (1.0 if exact else 0.5) if colours_agree(mine.family, theirs.family) else 0.0
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
    """0 nothing met, 1 one piece (or pieces without a colour), 2 several pieces with their colours
    (2 points or more: shoes, mostly written without a colour, are too common to make it several).

        >>> amount(0.0), amount(0.5), amount(1.5), amount(2.0)
        (0, 1, 1, 2)
    """
    return 2 if points >= 2 else 1 if points >= 0.5 else 0


class ClothingComparison(Comparison):
    """Clothing of residents found within a month of the loss (up to ``DATE_TOLERANCE_DAYS``
    before the reported date): 2 several pieces agree, 1 one piece, 0 nothing agrees, -1 not
    described or found outside the band (see the module docstring)."""

    name = "clothing"
    title = "衣着"
    days: tuple[float, float] = (-DATE_TOLERANCE_DAYS, 30)  # found this many days after the loss
    labels = {MISSING: "衣着不详或不在一月内寻获", 0: "一月内寻获，衣着不同", 1: "一月内寻获，衣着部分相同",
              2: "一月内寻获，衣着多处相同"}
    agree_from = 1
    left_columns = right_columns = ("clothing_items", "event_date")
    fields = (("衣着", "clothing", "clothing"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[ClothingSide, ClothingSide]:
        return _side(residents), _side(missing)

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded
        out = np.full(len(lp), MISSING, dtype=np.int8)
        if len(lp) == 0:
            return out
        days = left.days[lp] - right.days[rp]
        todo = np.flatnonzero((days >= self.days[0]) & (days <= self.days[1]))  # NaN: neither
        if len(todo):
            def compute(a, b):
                return np.fromiter((-1 if p < 0 else amount(p) for p in
                                    (meeting(left.pieces[i], right.pieces[j])[0]
                                     for i, j in zip(left.code[a], right.code[b]))), dtype=np.int8, count=len(a))

            out[todo] = once_per_distinct(left.code, right.code, lp[todo], rp[todo], compute)
        return out

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        left, right = encoded
        levels = np.asarray(levels)
        out = self.label_array(levels)
        shown = np.flatnonzero(levels > 0)

        def text(a: int, b: int, level: int) -> str:
            pieces = meeting(left.pieces[a], right.pieces[b])[1]
            return f"{self.labels[level]}({'、'.join(pieces)})" if pieces else self.labels[level]

        if len(shown):
            out[shown] = texts_per_distinct(left.code[lp[shown]], right.code[rp[shown]], levels[shown], text)
        return object_array(list(out))


class LaterClothingComparison(ClothingComparison):
    """Clothing of residents found one month to a year after the loss: the same levels as
    :class:`ClothingComparison`, with weights of their own (clothes are changed in that time)."""

    name = "clothing_later"
    title = "衣着(一年内)"
    days = (30.000001, 366)
    labels = {MISSING: "衣着不详或不在一月至一年内寻获", 0: "一年内寻获，衣着不同", 1: "一年内寻获，衣着部分相同",
              2: "一年内寻获，衣着多处相同"}
