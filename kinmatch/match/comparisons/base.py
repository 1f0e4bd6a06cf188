"""What a comparison is: one object that owns everything about one kind of evidence.

A comparison (:class:`Comparison`) says which normalized columns it reads on each side, encodes
both sides once (vectorised: one value per record, not per pair), assigns an integer level to each
pair from those encodings, names its levels in Chinese, and explains a pair's level from the very
values it decided the level on. The batch engine (:mod:`kinmatch.match.engine`), the explanations
(:mod:`kinmatch.match.explain`), the notebook display, the review page and the model read
everything from these objects: adding a comparison is one new class and one entry in
:class:`~kinmatch.match.settings.LinkSettings`.

Levels run ``0 .. n_levels-1``, higher = stronger agreement where the comparison is ``ordered``;
``-1`` (:data:`MISSING`) means no evidence and gets weight 0 (a station-assigned name such as 党X
is never evidence).

    >>> import numpy as np, pandas as pd
    >>> class SameStation(Comparison):
    ...     name, title = "same_station", "救助站"
    ...     labels = {-1: "救助站不详", 0: "救助站不同", 1: "救助站相同"}
    ...     left_columns = right_columns = ("station",)
    ...     def encode(self, residents, missing):
    ...         return encode_text_codes(residents["station"], missing["station"])
    ...     def levels(self, encoded, lp, rp):
    ...         a, b = encoded[0][lp], encoded[1][rp]
    ...         return np.where((a < 0) | (b < 0), MISSING, a == b).astype(np.int8)
    >>> comparison = SameStation()
    >>> encoded = comparison.encode(pd.DataFrame({"station": ["甲", None]}), pd.DataFrame({"station": ["甲"]}))
    >>> comparison.levels(encoded, np.array([0, 1]), np.array([0, 0])).tolist()
    [1, -1]
    >>> comparison.reasons(encoded, np.array([0]), np.array([0]), np.array([1])).tolist()
    ['救助站相同']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

MISSING = -1
"""The level of a pair that gives no evidence either way (weight 0)."""


class Comparison:
    """Base of every comparison. Override :meth:`encode` and :meth:`levels`; override
    :meth:`reasons` when a reason should show values (distances, the marks that met), and
    :meth:`extra` for per-pair columns the model reads besides the level (term frequencies).

    Class attributes (data, not code):

    * ``name``: the identifier (``w_<name>`` columns, model JSON, settings);
    * ``title``: the Chinese title shown to reviewers (姓名, 地点…);
    * ``labels``: level → Chinese label, ``-1`` included;
    * ``ordered``: whether a higher level is always at least as strong evidence (the model keeps
      the weights of ordered levels monotone);
    * ``agree_from``: the first level that counts as agreement on a side-by-side view (green);
      level 0 is shown as a conflict (red) when the comparison is ordered;
    * ``left_columns`` / ``right_columns``: the normalized resident / report columns it reads;
    * ``fields``: rows of a side-by-side view it colours, as (row title, resident column, report
      column) of the canonical (intake) frames; None where one side has no such field.

    Constructor arguments are stored as given (scikit-learn style) and are the comparison's
    settings: :meth:`to_dict` writes them to JSON with the labels.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    labels: ClassVar[Mapping[int, str]] = {}
    ordered: ClassVar[bool] = True
    agree_from: ClassVar[int] = 1
    left_columns: ClassVar[tuple[str, ...]] = ()
    right_columns: ClassVar[tuple[str, ...]] = ()
    fields: ClassVar[tuple[tuple[str, str | None, str | None], ...]] = ()

    @property
    def n_levels(self) -> int:
        """Number of non-missing levels (0 .. n_levels-1)."""
        return max(self.labels) + 1

    # -- the three things a comparison does ------------------------------------------------------

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> Any:
        """Both sides' values in the form :meth:`levels` reads, computed once per record (or once
        per distinct value). ``residents`` / ``missing`` are normalized frames holding at least
        :attr:`left_columns` / :attr:`right_columns`. Whatever is returned is passed back to
        :meth:`levels`, :meth:`reasons` and :meth:`extra` unchanged."""
        raise NotImplementedError(f"{type(self).__name__} must define encode()")

    def levels(self, encoded: Any, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """The level (int8) of each pair: resident at position ``lp[i]`` with report ``rp[i]``."""
        raise NotImplementedError(f"{type(self).__name__} must define levels()")

    def reasons(self, encoded: Any, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """The reason text of each pair (object array), without its weight. By default the label of
        the level; a comparison that shows values computes them from ``encoded``, the very values
        :meth:`levels` read."""
        return self.label_array(levels)

    def extra(self, encoded: Any, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> dict[str, np.ndarray]:
        """Per-pair columns besides the level that the model reads (e.g. ``tf_name``)."""
        return {}

    # -- helpers ------------------------------------------------------------------------------------

    def label_array(self, levels: np.ndarray) -> np.ndarray:
        """The label of each level as an object array."""
        table = np.array([self.labels.get(level, self.name) for level in range(-1, self.n_levels)], dtype=object)
        return table[np.asarray(levels, dtype=np.int64) + 1]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as stored."""
        parameters = inspect.signature(type(self).__init__).parameters
        return {p: getattr(self, p) for p in parameters if p != "self" and hasattr(self, p)}

    def to_dict(self) -> dict[str, Any]:
        """The comparison as readable JSON data: its class, parameters, labels and order."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "params": {k: _jsonable(v) for k, v in self.get_params().items()},
                "title": self.title, "ordered": bool(self.ordered),
                "levels": {str(level): label for level, label in sorted(self.labels.items())}}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v is not None)
        return f"{type(self).__name__}({params})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


# -------------------------------------------------------------------------------------------------
# encodings shared by several comparisons


def object_values(values: Any) -> np.ndarray:
    """A column (Series, array or list) as an object array."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values.astype(object)


def object_array(items: list) -> np.ndarray:
    """A list as a 1-d object array (numpy would turn a list of tuples into a 2-d array)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def float_values(values: Any) -> np.ndarray:
    """A column as floats, NaN where blank."""
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.dtype.kind in "fiub":
        return array.astype(float)
    return pd.to_numeric(pd.Series(object_values(array)), errors="coerce").to_numpy(dtype=float)


def encode_text_codes(left: Any, right: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two text columns as integer codes over one shared vocabulary (-1 where blank)."""
    left, right = object_values(left), object_values(right)
    codes, _ = pd.factorize(np.concatenate([left, right]))
    both = np.where(np.concatenate([[v is None or v == "" for v in left], [v is None or v == "" for v in right]]),
                    -1, codes)
    return both[:len(left)], both[len(left):]


def signature(columns: list[np.ndarray]) -> np.ndarray:
    """One integer per record, equal where the records' values in ``columns`` are equal (values
    must be hashable: str, float, tuple, frozenset; None and NaN share a code)."""
    if not columns or len(columns[0]) == 0:
        return np.zeros(len(columns[0]) if columns else 0, np.int64)
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for values in columns:
        column_codes, uniques = pd.factorize(object_values(values), use_na_sentinel=False)
        codes = codes * (len(uniques) + 1) + column_codes
        codes = pd.factorize(codes)[0].astype(np.int64)  # keep the combined code small
    return codes


def once_per_distinct(left_code: np.ndarray, right_code: np.ndarray, lp: np.ndarray, rp: np.ndarray,
                      compute: Callable[[np.ndarray, np.ndarray], Any]) -> np.ndarray:
    """``compute(resident positions, report positions)`` run once per distinct (resident code,
    report code) among the pairs ``lp``/``rp``, spread back to every pair. A level depends only on
    the two records' values, and pairs repeat the same few values (reports from one county, the
    same one or two marks), so this is the one "compute once per distinct value" helper.

        >>> calls = []
        >>> def compute(a, b):
        ...     calls.append(len(a))
        ...     return a * 10 + b
        >>> once_per_distinct(np.array([0, 0]), np.array([5, 5, 6]), np.array([0, 1, 0]),
        ...                   np.array([0, 1, 2]), compute).tolist(), calls
        ([0, 0, 2], [2])
    """
    if len(lp) == 0:
        return np.asarray(compute(lp, rp))
    codes, first = distinct_rows(left_code[lp], right_code[rp])
    return np.asarray(compute(lp[first], rp[first]))[codes]


class PairwiseComparison(Comparison):
    """A comparison whose level is a plain function of the two records' values (sets of sound
    keys, accent provinces, condition words: no numpy form), run once per distinct pair of values.

    Subclasses define :meth:`clean` (one record's values → the cleaned tuple :meth:`level` reads;
    called once per distinct record value), :meth:`level` (two cleaned tuples → level) and
    optionally :meth:`blank` (a cleaned tuple that gives -1 whatever the other side holds) and
    :meth:`reason` (two cleaned tuples and the level → text)."""

    def clean(self, values: tuple, side: str) -> tuple:
        """One record's raw values (in ``left_columns`` / ``right_columns`` order) cleaned."""
        return values

    def blank(self, cleaned: tuple) -> bool:
        """Whether this record can give no evidence whatever the other record holds."""
        return False

    def level(self, left: tuple, right: tuple) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define level()")

    def reason(self, left: tuple, right: tuple, level: int) -> str:
        return self.labels.get(level, self.name)

    def encode_side(self, frame: pd.DataFrame, columns: tuple[str, ...], side: str) -> dict:
        """Per record a code into the distinct cleaned values, the values, and the blank mask."""
        arrays = [object_values(frame[c]) for c in columns]
        keys = np.empty(len(frame), dtype=object)
        keys[:] = list(zip(*arrays)) if arrays else [()] * len(frame)
        try:
            code, distinct = pd.factorize(keys)
        except TypeError:  # an unhashable cell (a list): every record on its own
            code, distinct = np.arange(len(keys)), keys
        values = [self.clean(tuple(v), side) for v in distinct]
        blank = np.array([self.blank(v) for v in values], dtype=bool)
        return {"code": code.astype(np.int64), "values": values, "blank": blank[code] if len(code) else blank}

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> Any:
        return (self.encode_side(residents, self.left_columns, "left"),
                self.encode_side(missing, self.right_columns, "right"))

    def levels(self, encoded: Any, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded
        out = np.full(len(lp), MISSING, dtype=np.int8)
        todo = np.flatnonzero(~(left["blank"][lp] | right["blank"][rp])) if len(lp) else np.zeros(0, np.int64)
        if len(todo):
            out[todo] = self._distinct_levels(encoded, lp[todo], rp[todo])
        return out

    def _distinct_levels(self, encoded: Any, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded

        def compute(a, b):
            lv, rv = left["values"], right["values"]
            return np.fromiter((self.level(lv[i], rv[j]) for i, j in zip(left["code"][a], right["code"][b])),
                               dtype=np.int8, count=len(a))

        return once_per_distinct(left["code"], right["code"], lp, rp, compute)

    def reasons(self, encoded: Any, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        left, right = encoded
        levels = np.asarray(levels, dtype=np.int64)
        codes, first = distinct_rows(left["code"][lp], right["code"][rp], levels + 1)
        texts = [self.reason(left["values"][left["code"][lp[k]]], right["values"][right["code"][rp[k]]],
                             int(levels[k])) for k in first.tolist()]
        return object_array(texts)[codes]


def distinct_rows(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows described by several non-negative integer ``keys``: a code per row, equal where
    all keys are equal, and the first row of each code (which stands for all rows of the code).

        >>> codes, first = distinct_rows(np.array([3, 3, 1]), np.array([0, 0, 0]))
        >>> codes.tolist(), first.tolist()
        ([0, 0, 1], [0, 2])
    """
    n = len(keys[0]) if keys else 0
    combined = np.zeros(n, dtype=np.int64)
    bound = 1  # combined < bound
    for key in keys:
        key = np.asarray(key, dtype=np.int64)
        width = int(key.max(initial=0)) + 1
        if bound * width >= 2 ** 62:  # renumber first, to keep the combined code within int64
            combined = pd.factorize(combined)[0].astype(np.int64)
            bound = int(combined.max(initial=0)) + 1
        combined = combined * width + key
        bound *= width
    codes, uniques = pd.factorize(combined)
    first = np.zeros(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(n - 1, -1, -1)
    return codes.astype(np.int64), first
