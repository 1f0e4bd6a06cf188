"""recordlinkage interop: any kinmatch comparison as a feature of a :class:`recordlinkage.Compare`.

A thin adapter over the same comparison objects: recordlinkage hands a feature the two sides'
columns at the candidate pairs, and the adapter encodes them and asks the comparison for the
levels of pair ``i`` = (row ``i`` of the left columns, row ``i`` of the right columns). Built on
first use, so linking itself never imports recordlinkage (and with it scikit-learn and scipy).

    >>> from kinmatch.match.comparisons.sex import SexComparison
    >>> feature = to_recordlinkage(SexComparison())
    >>> type(feature).__name__, feature.label
    ('CompareSex', 'sex')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import Comparison

_classes: dict[type, type] = {}


def recordlinkage_class(comparison_class: type) -> type:
    """The :class:`recordlinkage.base.BaseCompareFeature` subclass for a comparison class
    (``CompareSex`` for ``SexComparison``), built once."""
    from recordlinkage.base import BaseCompareFeature

    if comparison_class not in _classes:
        public = "Compare" + comparison_class.__name__.removesuffix("Comparison")

        def __init__(self, comparison: Comparison):
            BaseCompareFeature.__init__(self, list(comparison.left_columns), list(comparison.right_columns),
                                        label=comparison.name)
            self.comparison = comparison

        def _compute_vectorized(self, *series):
            n_left = len(self.labels_left)
            left = _frame(self.labels_left, series[:n_left])
            right = _frame(self.labels_right, series[n_left:])
            encoded = self.comparison.encode(left, right)
            positions = np.arange(len(left))
            return np.asarray(self.comparison.levels(encoded, positions, positions), dtype=np.int8)

        _classes[comparison_class] = type(public, (BaseCompareFeature,), {
            "__init__": __init__, "_compute_vectorized": _compute_vectorized, "__module__": __name__,
            "__qualname__": public, "__doc__": comparison_class.__doc__})
    return _classes[comparison_class]


def _frame(columns: list[str], series: tuple) -> pd.DataFrame:
    return pd.DataFrame({c: np.asarray(s.to_numpy() if isinstance(s, pd.Series) else s)
                         for c, s in zip(columns, series)})


def to_recordlinkage(comparison: Comparison) -> Any:
    """The comparison as a recordlinkage feature (same columns, label and parameters)."""
    return recordlinkage_class(type(comparison))(comparison)


def build_compare(settings: Any = None) -> Any:
    """A :class:`recordlinkage.Compare` holding every comparison of ``settings`` (default: the
    shipped ones), for use with recordlinkage's own index objects. Columns a frame lacks (a
    resident has no hometown) are added blank before comparing, as :func:`kinmatch.link` does.

        >>> compare = build_compare()
        >>> [feature.label for feature in compare.features][:3]
        ['name', 'sex', 'age']
    """
    import recordlinkage

    from kinmatch.match.engine import with_columns
    from kinmatch.match.settings import resolve_settings

    settings = resolve_settings(settings)
    features = [to_recordlinkage(c) for c in settings.comparisons]
    left_columns = [c for comparison in settings.comparisons for c in comparison.left_columns]
    right_columns = [c for comparison in settings.comparisons for c in comparison.right_columns]

    class KinmatchCompare(recordlinkage.Compare):
        """recordlinkage's Compare, filling the columns a normalized frame may lack."""

        def _compute(self, pairs, x, x_link=None):
            if x_link is None:
                return super()._compute(pairs, with_columns(x, left_columns + right_columns))
            return super()._compute(pairs, with_columns(x, left_columns), with_columns(x_link, right_columns))

    return KinmatchCompare(features)
