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

Besides the level, the comparison gives the model ``tf_clothing`` (:meth:`ClothingComparison.extra`):
the chance that a report meets the resident on the pieces that met, priced from the share of reports
carrying each piece (:func:`clothing_frequency`; a standing index passes the table of all its reports
as ``frequency``). The default settings price level 2 by it: 灰色外套 and 黑色裤子 worn by thousands
of reports weigh less than a 咖啡色棉袄 with 红色裤子. It also keeps the weight of level 2 honest at a
million reports, where the few random pairs that fall within a month of each other rarely reach it
and the level's own u is too small to measure.

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

from collections.abc import Mapping
from itertools import chain
from typing import NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import MISSING, Comparison, object_array, object_values, once_per_distinct
from kinmatch.match.comparisons.conditions import texts_per_distinct
from kinmatch.match.comparisons.time_gap import DATE_TOLERANCE_DAYS, day_numbers
from kinmatch.normalize.clothing import (
    GARMENTS,
    colour_family,
    colours_agree,
    garment_kind,
    garments_agree,
    parse_item,
)

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
    tuple its ``pieces``; the records' ``days`` (event date, days since 1970, NaN when unknown).
    The side's distinct pieces are numbered (``distinct``): per distinct tuple its pieces'
    numbers (``numbers``) and the kinds of garment it describes as bits (``kinds``, 0: none)."""

    code: np.ndarray
    pieces: list
    days: np.ndarray
    distinct: list
    numbers: list
    kinds: np.ndarray


_KIND_BITS = {kind: 1 << k for k, kind in enumerate(sorted({kind for kind, _ in GARMENTS.values()} - {""}))}
"""The bit of each kind of garment (上, 下, 鞋) in :attr:`ClothingSide.kinds`."""


def _piece(item: str) -> _Piece | None:
    """The piece of one item (``colour:garment``); None for a garment of no known kind."""
    colour, garment = parse_item(item)
    kind = garment_kind(garment)
    return _Piece(colour, colour_family(colour), garment, kind) if kind else None


def _side(frame: pd.DataFrame) -> ClothingSide:
    code, distinct = pd.factorize(object_values(frame["clothing_items"]))
    # each distinct item made a piece once: the tuples of a side repeat a few hundred items
    piece_of = {item: _piece(item) for item in set(chain.from_iterable(distinct))}
    pieces = [tuple(piece for piece in map(piece_of.__getitem__, items) if piece is not None) for items in distinct]
    number: dict[_Piece, int] = {}
    numbers = [tuple(number.setdefault(piece, len(number)) for piece in own) for own in pieces]
    bits = [_KIND_BITS[piece.kind] for piece in number]
    kinds = np.array([sum({bits[n] for n in own}) for own in numbers], dtype=np.int64)
    return ClothingSide(code.astype(np.int64), pieces, day_numbers(frame["event_date"]), list(number), numbers,
                        kinds)


class ClothingEncoding(NamedTuple):
    """Both sides' :class:`ClothingSide`, the table of piece shares among reports
    (:func:`clothing_frequency`) and, filled as pairs are priced, the chance that a report meets
    a resident piece at a score (``(family, garment, score)`` → share). ``scores``: the
    :func:`piece_score` of every resident piece against every report piece (by their numbers,
    nested lists); ``meets``: whether a resident tuple meets a report piece at all (distinct
    resident tuples × report pieces and a last column of False; None when too large), and
    ``padded`` each report tuple's piece numbers padded with that last column."""

    left: ClothingSide
    right: ClothingSide
    frequency: Mapping[str, float]
    chances: dict
    scores: list
    meets: np.ndarray | None
    padded: np.ndarray


def piece_key(family: str, garment: str) -> str:
    """The key of a piece in a frequency table: colour family and garment (``棕:棉袄``, ``:布鞋``)."""
    return f"{family}:{garment}"


def clothing_frequency(clothing_items: pd.Series) -> dict[str, float]:
    """Share of the reports describing clothing that carry each piece (:func:`piece_key`: colour
    family and garment, so 咖啡色 and 褐色 count as one); each distinct value is parsed once.

        >>> table = clothing_frequency(pd.Series([("咖啡色:棉袄", ":布鞋"), ("褐色:棉袄",), ("黑色:裤子",), ()]))
        >>> table["棕:棉袄"], table[":布鞋"]
        (0.6666666666666666, 0.3333333333333333)
    """
    counts: dict[str, int] = {}
    described = 0
    for items, count in pd.Series(object_values(clothing_items), dtype=object).value_counts(sort=False).items():
        keys = {piece_key(colour_family(c), g) for c, g in map(parse_item, items) if garment_kind(g)}
        if keys:
            described += int(count)
        for key in keys:
            counts[key] = counts.get(key, 0) + int(count)
    return {key: count / described for key, count in counts.items()}


def _side_frequency(side: ClothingSide) -> dict[str, float]:
    """:func:`clothing_frequency` of an encoded report side (its distinct values already parsed)."""
    counts: dict[str, int] = {}
    described = 0
    for pieces, count in zip(side.pieces, np.bincount(side.code, minlength=len(side.pieces)).tolist()):
        keys = {piece_key(piece.family, piece.garment) for piece in pieces}
        if keys:
            described += count
        for key in keys:
            counts[key] = counts.get(key, 0) + count
    return {key: count / described for key, count in counts.items()}


def chance_of_meeting(piece: _Piece, score: float, frequency: Mapping[str, float]) -> float:
    """The share of reports (describing clothing) with a piece that meets ``piece`` at ``score``
    or more: the shares of every piece in ``frequency`` that does, at most 1. A piece no report
    is known to meet takes the smallest share in the table (it is at least that rare).

        >>> table = {"棕:棉袄": 0.02, "黑:棉袄": 0.05, "棕:外套": 0.1}
        >>> chance_of_meeting(_Piece("褐色", "棕", "棉袄", "上"), 1.0, table)
        0.02
        >>> round(chance_of_meeting(_Piece("深色", "深", "上衣", "上"), 0.5, table), 2)  # 深色上衣: any dark top
        0.17
    """
    total = 0.0
    for key, share in frequency.items():
        family, _, garment = key.partition(":")
        if piece_score(piece, _Piece("", family, garment, garment_kind(garment))) >= score:
            total += share
    return min(total, 1.0) if total > 0 else min(frequency.values(), default=1.0)


def pairing(resident: tuple, report: tuple) -> list[tuple[int, int, float]]:
    """The pieces that meet, as (resident piece, report piece, score): the same garment with both
    colours agreeing 1; a generic garment (上衣, 裤子) of the kind with agreeing colours, or the same
    specific garment without a colour on one side, ½. Each report piece meets once; pieces that
    meet nothing are left out.

        >>> pairing((_Piece("褐色", "棕", "棉袄", "上"), _Piece("", "", "布鞋", "鞋")),
        ...         (_Piece("", "", "布鞋", "鞋"), _Piece("咖啡色", "棕", "棉袄", "上")))
        [(0, 1, 1.0), (1, 0, 0.5)]
    """
    return _greedy([[piece_score(mine, theirs) for theirs in report] for mine in resident])


def _numbered_pairing(scores: list, resident: tuple, report: tuple) -> list[tuple[int, int, float]]:
    """:func:`pairing` of two tuples of piece numbers, with ``scores[i][j]`` the
    :func:`piece_score` of resident piece i and report piece j."""
    return _greedy([[scores[mine][theirs] for theirs in report] for mine in resident])


def _greedy(rows: list[list[float]]) -> list[tuple[int, int, float]]:
    """The pairing of :func:`pairing` given ``rows[i][j]``, the score of resident piece i and report
    piece j: each resident piece in turn takes the best report piece not taken yet (the first of
    equal scores), when it scores above 0."""
    out, used = [], set()
    for i, row in enumerate(rows):
        best, best_j = 0.0, -1
        for j, score in enumerate(row):
            if score > best and j not in used:
                best, best_j = score, j
        if best_j >= 0:
            used.add(best_j)
            out.append((i, best_j, best))
    return out


def piece_scores(left: list, right: list) -> np.ndarray:
    """:func:`piece_score` of every piece of ``left`` against every piece of ``right`` (a float
    matrix), from the tables of garments and colour families that agree: a piece's score depends
    on the two garments and the two colour families alone."""
    garments = list(dict.fromkeys(piece.garment for piece in chain(left, right)))
    families = list(dict.fromkeys(piece.family for piece in chain(left, right)))
    garment_agree = np.array([[garment_kind(a) == garment_kind(b) and garments_agree(a, b) for b in garments]
                              for a in garments], dtype=bool).reshape(len(garments), len(garments))
    colour_agree = np.array([[colours_agree(a, b) for b in families] for a in families],
                            dtype=bool).reshape(len(families), len(families))
    has_colour = np.array([bool(family) for family in families], dtype=bool)
    garment_at, family_at = {g: k for k, g in enumerate(garments)}, {f: k for k, f in enumerate(families)}
    lg = np.array([garment_at[piece.garment] for piece in left], dtype=np.int64)[:, None]
    lf = np.array([family_at[piece.family] for piece in left], dtype=np.int64)[:, None]
    rg = np.array([garment_at[piece.garment] for piece in right], dtype=np.int64)[None, :]
    rf = np.array([family_at[piece.family] for piece in right], dtype=np.int64)[None, :]
    same = lg == rg
    coloured = np.where(colour_agree[lf, rf], np.where(same, 1.0, 0.5), 0.0)
    return np.where(garment_agree[lg, rg], np.where(has_colour[lf] & has_colour[rf], coloured,
                                                    np.where(same, 0.5, 0.0)), 0.0)


MEETS_MAX_CELLS = 20_000_000
"""Up to this many (resident tuple, report piece) combinations the encoding holds whether each
meets (:class:`ClothingEncoding`), so pairs whose pieces meet nothing are level 0 without
:func:`pairing`."""


def piece_score(mine: _Piece, theirs: _Piece) -> float:
    """How far two pieces meet: 1, ½ or 0 (see :func:`pairing`)."""
    if mine.kind != theirs.kind or not garments_agree(mine.garment, theirs.garment):
        return 0.0
    if mine.family and theirs.family:
        # a generic word (上衣, 裤子) agrees with any garment of its kind: half a piece
        if not colours_agree(mine.family, theirs.family):
            return 0.0
        return 1.0 if mine.garment == theirs.garment else 0.5
    # no colour on one side: the garment alone, if it is specific (not 上衣 / 裤子 / 鞋)
    return 0.5 if mine.garment == theirs.garment else 0.0


def meeting(resident: tuple, report: tuple) -> tuple[float, list[str]]:
    """Points of the pieces that meet (:func:`pairing`) and the report's words for them; -1 when
    no kind of garment is described on both sides.

        >>> meeting((_Piece("褐色", "棕", "棉袄", "上"),), (_Piece("咖啡色", "棕", "棉袄", "上"),))
        (1.0, ['咖啡色棉袄'])
    """
    if not ({p.kind for p in resident} & {p.kind for p in report}):
        return -1.0, []
    met = pairing(resident, report)
    return sum(score for _, _, score in met), [report[j].colour + report[j].garment for _, j, _ in met]


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
    described or found outside the band (see the module docstring).

    ``frequency`` maps each piece (:func:`piece_key`) to its share among the reports describing
    clothing (:func:`clothing_frequency`), which ``tf_clothing`` is priced from; None: the shares
    among the reports being compared."""

    name = "clothing"
    title = "衣着"
    days: tuple[float, float] = (-DATE_TOLERANCE_DAYS, 30)  # found this many days after the loss
    labels = {MISSING: "衣着不详或不在一月内寻获", 0: "一月内寻获，衣着不同", 1: "一月内寻获，衣着部分相同",
              2: "一月内寻获，衣着多处相同"}
    agree_from = 1
    left_columns = right_columns = ("clothing_items", "event_date")
    fields = (("衣着", "clothing", "clothing"),)

    def __init__(self, frequency: Mapping[str, float] | None = None):
        self.frequency = frequency

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> ClothingEncoding:
        left, right = _side(residents), _side(missing)
        frequency = self.frequency if self.frequency is not None else _side_frequency(right)
        scores = piece_scores(left.distinct, right.distinct)
        width = len(right.distinct)
        padded = np.full((len(right.numbers), max(map(len, right.numbers), default=0)), width, dtype=np.int64)
        for k, numbers in enumerate(right.numbers):
            padded[k, :len(numbers)] = numbers
        meets = None
        if len(left.numbers) * (width + 1) <= MEETS_MAX_CELLS:
            # per resident tuple, OR of its pieces' rows (a zero row closes the last tuple's range)
            flat = np.array([n for numbers in left.numbers for n in numbers], dtype=np.int64)
            rows = np.vstack([scores > 0, np.zeros((1, width), dtype=bool)])[np.append(flat, len(left.distinct))]
            starts = np.cumsum([0] + [len(numbers) for numbers in left.numbers[:-1]], dtype=np.int64)
            meets = np.zeros((len(left.numbers), width + 1), dtype=bool)
            if len(starts):
                meets[:, :width] = np.logical_or.reduceat(rows, starts, axis=0)
        return ClothingEncoding(left, right, frequency, {}, scores.tolist(), meets, padded)

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded.left, encoded.right
        out = np.full(len(lp), MISSING, dtype=np.int8)
        if len(lp) == 0:
            return out
        days = left.days[lp] - right.days[rp]
        todo = np.flatnonzero((days >= self.days[0]) & (days <= self.days[1]))  # NaN: neither
        a, b = left.code[lp[todo]], right.code[rp[todo]]
        # -1 where no kind of garment is described on both sides (as meeting() says)
        todo, a, b = (v[(left.kinds[a] & right.kinds[b]) != 0] for v in (todo, a, b))
        out[todo] = 0
        if encoded.meets is not None:  # only pairs with a resident piece that meets a report piece
            meet = encoded.meets[a[:, None], encoded.padded[b]].any(axis=1)
            todo = todo[meet]
        if len(todo):
            scores = encoded.scores

            def compute(a, b):
                met = (_numbered_pairing(scores, left.numbers[i], right.numbers[j])
                       for i, j in zip(left.code[a], right.code[b]))
                return np.fromiter((amount(sum(score for _, _, score in pieces)) for pieces in met), dtype=np.int8,
                                   count=len(a))

            out[todo] = once_per_distinct(left.code, right.code, lp[todo], rp[todo], compute)
        return out

    @property
    def tf_column(self) -> str:
        """The per-pair column :meth:`extra` writes: ``tf_<name>``."""
        return f"tf_{self.name}"

    def extra(self, encoded: ClothingEncoding, lp: np.ndarray, rp: np.ndarray,
              levels: np.ndarray) -> dict[str, np.ndarray]:
        """``tf_<name>``: for levels 1 and 2 the chance that a report meets the resident's clothing
        on the pieces that met in this pair, at their scores: the product over those pieces of
        :func:`chance_of_meeting` (pieces priced as independent of each other); NaN at the other
        levels (then the level's own u applies)."""
        left, right = encoded.left, encoded.right
        tf = np.full(len(lp), np.nan)
        rows = np.flatnonzero(np.asarray(levels) >= 1)

        def chance(i: int, j: int) -> float:
            out = 1.0
            for a, _, score in _numbered_pairing(encoded.scores, left.numbers[i], right.numbers[j]):
                piece = left.pieces[i][a]
                key = (piece.family, piece.garment, score)
                if key not in encoded.chances:
                    encoded.chances[key] = chance_of_meeting(piece, score, encoded.frequency)
                out *= encoded.chances[key]
            return out

        if len(rows):
            def compute(a, b):
                return np.fromiter((chance(i, j) for i, j in zip(left.code[a], right.code[b])), dtype=float,
                                   count=len(a))

            tf[rows] = once_per_distinct(left.code, right.code, lp[rows], rp[rows], compute)
        return {self.tf_column: tf}

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        left, right = encoded.left, encoded.right
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
