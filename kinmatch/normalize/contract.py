"""The normalized-frame contract (docs/contract.md §2), checked once at the boundary.

Normalizers emit strict types only, so whatever reads a normalized frame (linking, comparisons)
can trust a cell without re-cleaning it:

====================  ===================================================================
kind                  cells
====================  ===================================================================
``text``              ``str`` (non-empty) or ``None``; never ``NaN``, never ``''``
``texts``             ``tuple`` of non-empty ``str``; ``()`` when there are none
``number``            a float column (``float64``), ``NaN`` when missing (an integer column,
                      which has no missing values, is accepted)
``date``              a ``datetime64`` column, ``NaT`` when missing
``flag``              a bool column (or Python / numpy bools in an object column)
====================  ===================================================================

:data:`NORMALIZED_COLUMNS` maps every column the normalizers add to its kind, and
:func:`blank_value` gives the value that stands for "not recorded" in a column of a kind (what a
reader fills in for a column a frame lacks). :func:`check_normalized` verifies a frame::

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"resident_id": ["R1", "R2"], "marks": [("痣:脸:左",), ["疤痕:额头:"]]})
    >>> check_normalized(frame, "resident")
    Traceback (most recent call last):
    ...
    kinmatch.normalize.contract.NormalizedFrameError: column marks, row 1 (resident_id 'R2'): ['疤痕:额头:'] is ...

Columns a frame lacks are allowed (a reader fills them with :func:`blank_value`); columns outside
the contract are not looked at.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.normalize.records import MISSING_COLUMNS, RESIDENT_COLUMNS

__all__ = ["NORMALIZED_COLUMNS", "KINDS", "NormalizedFrameError", "blank_value", "check_normalized"]

KINDS = ("text", "texts", "number", "date", "flag")
"""The kinds of normalized column, see the module docstring."""

_TEXTS = {"name_keys", "surname_keys", "given_keys", "alias_norm", "alias_keys", "accent_provinces",
          "statement_places", "statement_names", "marks", "negated", "conditions", "clothing_items"}
_NUMBERS = {"age_low", "age_high", "birth_year_low", "birth_year_high", "height_cm", "height_tol_cm"} | {
    f"{prefix}_{field}" for prefix in ("found", "missing", "home") for field in ("lon", "lat", "place_score")}
_DATES = {"event_date", "birth_date_value"}
_FLAGS = {"name_evidence"}


def _kind_of(column: str) -> str:
    for kind, columns in (("texts", _TEXTS), ("number", _NUMBERS), ("date", _DATES), ("flag", _FLAGS)):
        if column in columns:
            return kind
    return "text"


NORMALIZED_COLUMNS: dict[str, str] = {
    column: _kind_of(column) for column in dict.fromkeys(RESIDENT_COLUMNS + MISSING_COLUMNS)}
"""Every column :func:`~kinmatch.normalize_residents` or :func:`~kinmatch.normalize_missing` adds,
mapped to its kind (``text``, ``texts``, ``number``, ``date`` or ``flag``)."""

_COLUMNS_OF = {"resident": RESIDENT_COLUMNS, "missing": MISSING_COLUMNS}
_ID_COLUMN = {"resident": "resident_id", "missing": "missing_id"}
_NORMALIZER = {"resident": "kinmatch.normalize_residents", "missing": "kinmatch.normalize_missing"}


def blank_value(kind: str) -> Any:
    """The value meaning "not recorded" in a column of ``kind``.

        >>> blank_value("texts"), blank_value("text"), blank_value("number"), blank_value("flag")
        ((), None, nan, False)

    ``flag`` is False: a record without a name gives no name evidence.
    """
    if kind == "text":
        return None
    if kind == "texts":
        return ()
    if kind == "number":
        return float("nan")
    if kind == "date":
        return pd.NaT
    if kind == "flag":
        return False
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


class NormalizedFrameError(InputError):
    """A normalized frame breaks the contract: ``column``, ``position`` (0-based row position),
    ``record_id`` and ``value`` say where (``position`` is None when the column's dtype is wrong
    as a whole)."""

    def __init__(self, message: str, column: str, position: int | None, record_id: Any, value: Any):
        super().__init__(message)
        self.column, self.position, self.record_id, self.value = column, position, record_id, value


def check_normalized(frame: pd.DataFrame, kind: str) -> None:
    """Raise :class:`NormalizedFrameError` (an :class:`~kinmatch.errors.InputError`) at the first
    cell of a contract column whose type breaks the contract; return None when all are sound.

    ``kind`` is ``"resident"`` or ``"missing"``: it says which contract columns to check and which
    id column names the row. Each column is checked with one vectorised test or one pass that
    looks at each distinct tuple object once: a column of a million rows takes 0.04–0.2 s.
    """
    if kind not in _COLUMNS_OF:
        raise ValueError(f"kind must be 'resident' or 'missing', not {kind!r}")
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"a normalized {kind} frame must be a pandas DataFrame, got {type(frame).__name__}; "
                         f"run {_NORMALIZER[kind]} on the canonical frame")
    present = [column for column in _COLUMNS_OF[kind] if column in frame.columns]
    if frame.columns.has_duplicates:
        doubled = [c for c in present if (frame.columns == c).sum() > 1]
        if doubled:
            raise InputError(f"column {doubled[0]} appears more than once in the normalized {kind} frame; "
                             f"keep one (normalize the canonical frame once, or drop the copy)")
    for column in present:
        problem = _CHECKS[NORMALIZED_COLUMNS[column]](frame[column])
        if problem is not None:
            position, value, what = problem
            raise _error(frame, kind, column, position, value, what)


# Each check returns None, or (position or None, offending value, what is wrong with it).
Problem = tuple[int | None, Any, str] | None


def _describe(value: Any) -> str:
    """What ``value`` is, for a message that already shows its repr."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return "a blank this column does not allow"
    if value.__class__ is str:
        return "an empty text" if not value else "a text"
    module = type(value).__module__
    return f"a {'' if module == 'builtins' else module + '.'}{type(value).__name__}"


def _first(bad: np.ndarray) -> int | None:
    positions = np.flatnonzero(bad)
    return int(positions[0]) if len(positions) else None


def _check_text(series: pd.Series) -> Problem:
    if series.dtype != object:
        return None if len(series) == 0 else (0, series.iloc[0], f"in a column of dtype {series.dtype}")
    values = series.to_numpy(dtype=object)
    # the usual case in two C-level passes: every cell's class is str or None, and no cell is ''
    if set(map(type, values)) <= _TEXT_TYPES and not (values == "").any():
        return None
    # one C-level pass classifying each cell by its class, then the empty strings among the str cells
    classes = _classify(values, _TEXT_CLASSES)
    is_str = classes == 1
    bad = classes == 0
    if is_str.any():
        bad[is_str] = values[is_str] == ""
    position = _first(bad)
    return None if position is None else (position, values[position], _describe(values[position]))


_TEXT_CLASSES = {str: 1, type(None): 2}
_TEXT_TYPES = {str, type(None)}
_FLAG_CLASSES = {bool: 1, np.bool_: 1}


def _classify(values: np.ndarray, classes: dict) -> np.ndarray:
    """The code ``classes`` gives each cell's exact class, 0 for any other class (subclasses too)."""
    return np.fromiter(map(classes.get, map(type, values), itertools.repeat(0)), dtype=np.int8, count=len(values))


def _check_texts(series: pd.Series) -> Problem:
    if series.dtype != object:
        return None if len(series) == 0 else (0, series.iloc[0], f"in a column of dtype {series.dtype}")
    values = series.to_numpy(dtype=object)
    if _sound_texts(values):
        return None
    # Where something is wrong, the first row that shows it. Normalizers take each distinct
    # value's tuple by code, so rows share tuple objects: a tuple object already found sound is not
    # looked into again (hand-written loop: no library checks "tuple of non-empty str" per distinct
    # object, and hashing every tuple would cost more).
    sound: set[int] = set()
    for position, value in enumerate(values):
        if id(value) in sound:
            continue
        if value.__class__ is not tuple:
            return position, value, _describe(value)
        for item in value:
            if item.__class__ is not str or not item:
                return position, value, f"a tuple holding {_describe(item)}"
        sound.add(id(value))
    return None


def _sound_texts(values: np.ndarray) -> bool:
    """Whether every cell is a tuple of non-empty str, seen in C-level passes: the cells' classes,
    then the set of every item (str hashes are cached) and its classes. False when anything else
    is there, or an item cannot be hashed: :func:`_check_texts` then finds the first such row."""
    if not set(map(type, values)) <= {tuple}:
        return False
    try:
        items = set(itertools.chain.from_iterable(values))
    except TypeError:  # an unhashable item (e.g. a list), which no tuple of text holds
        return False
    return set(map(type, items)) <= {str} and "" not in items


def _check_number(series: pd.Series) -> Problem:
    # an integer column (birth years typed by hand) is a number column without missing values
    if series.dtype.kind in "fiu":
        return None
    if len(series) == 0:
        return None if series.dtype == object else (None, None, f"dtype {series.dtype}")
    values = series.to_numpy(dtype=object)
    if series.dtype == object:
        for position, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, (float, int, np.floating, np.integer)):
                return position, value, _describe(value)
    return None, values[0], f"dtype {series.dtype}"


def _check_date(series: pd.Series) -> Problem:
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "M":
        return None
    if len(series) == 0:
        return None
    values = series.to_numpy(dtype=object)
    if series.dtype == object:
        for position, value in enumerate(values):
            if not (value is pd.NaT or isinstance(value, pd.Timestamp)):
                return position, value, _describe(value)
    return None, values[0], f"dtype {series.dtype}"


def _check_flag(series: pd.Series) -> Problem:
    if series.dtype == bool:
        return None
    values = series.to_numpy(dtype=object)
    if series.dtype == object:
        position = _first(_classify(values, _FLAG_CLASSES) == 0)
        if position is None:
            return None
        return position, values[position], _describe(values[position])
    return (None, values[0] if len(values) else None, f"dtype {series.dtype}")


_CHECKS = {"text": _check_text, "texts": _check_texts, "number": _check_number, "date": _check_date,
           "flag": _check_flag}

_RULES = {
    "text": ("normalized text columns hold a non-empty str, or None when not recorded (never NaN or '')",
             "or write None for each blank cell and str() of the others"),
    "texts": ("normalized multi-valued columns hold tuples of non-empty text, () when there are none",
              "or convert with tuple() and drop blank items"),
    "number": ("normalized numeric columns are float columns, NaN when not recorded",
               "or convert with pd.to_numeric(frame[column], errors='coerce').astype(float)"),
    "date": ("normalized date columns are datetime64 columns, NaT when not recorded",
             "or convert with pd.to_datetime(frame[column], errors='coerce')"),
    "flag": ("normalized flag columns hold True or False",
             "or convert with frame[column].fillna(False).astype(bool)"),
}


def _error(frame: pd.DataFrame, kind: str, column: str, position: int | None, value: Any,
           what: str) -> NormalizedFrameError:
    column_kind = NORMALIZED_COLUMNS[column]
    rule, conversion = _RULES[column_kind]
    fix = f"run {_NORMALIZER[kind]} on the canonical frame, {conversion}"
    if position is None:
        message = f"column {column} has {what}; {rule}; {fix}"
        return NormalizedFrameError(message, column, None, None, value)
    id_column = _ID_COLUMN[kind]
    record_id = frame[id_column].iloc[position] if id_column in frame.columns else None
    where = f"row {position} ({id_column} {record_id!r})" if id_column in frame.columns else f"row {position}"
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    message = f"column {column}, {where}: {shown} is {what}; {rule}; {fix}"
    return NormalizedFrameError(message, column, position, record_id, value)
