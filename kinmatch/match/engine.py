"""The batch engine: every comparison for hundreds of thousands of pairs at once.

A loop over comparison objects (:mod:`kinmatch.match.comparisons`), with no knowledge of any one
of them: each comparison encodes both record sets once (:func:`encode`), then gives the levels of
pairs of record positions. From :data:`PARALLEL_MIN_PAIRS` pairs, ranges of pairs go to forked
worker processes, which inherit the encodings instead of receiving them pickled.

    >>> from kinmatch.match.settings import default_comparisons
    >>> residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["M"]})
    >>> missing = pd.DataFrame({"missing_id": ["M1"], "sex_code": ["M"]})
    >>> vectors = compare_pairs(pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M1"]}), residents, missing)
    >>> int(vectors.loc[("R1", "M1"), "sex"]), int(vectors.loc[("R1", "M1"), "name"])
    (1, -1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch._parallel import FORK, fork_map, resolve_jobs, shared
from kinmatch.errors import InputError
from kinmatch.match.comparisons.base import Comparison
from kinmatch.normalize.contract import NORMALIZED_COLUMNS, blank_value


class Encoded(NamedTuple):
    """Both record sets encoded once by every comparison: reused by every :func:`compare_pairs`
    call on the same frames (the candidate pairs, the random pairs of the u estimate, the
    explanations of the ranked pairs)."""

    comparisons: tuple
    encodings: tuple
    resident_ids: pd.Index
    report_ids: pd.Index

    def positions(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The record positions of ``pairs`` (columns ``resident_id``, ``missing_id``). An id
        column may be categorical (as :func:`~kinmatch.index.side.run_against_reports` gives its
        candidates): then only its categories are looked up, not every pair's id."""
        lp = _id_positions(self.resident_ids, pairs["resident_id"])
        rp = _id_positions(self.report_ids, pairs["missing_id"])
        if (lp < 0).any() or (rp < 0).any():
            raise InputError("compare_pairs: some pair ids are not in the resident or missing frame; pass the "
                             "frames the pairs were made from")
        return lp, rp


def _id_positions(ids: pd.Index, column: pd.Series) -> np.ndarray:
    """The position in ``ids`` of each id of ``column`` (-1 where absent). Of a categorical column
    the distinct ids (its categories) are looked up once and spread by its codes: millions of
    candidate pairs name a few hundred thousand reports, and hashing every pair's id string was
    seconds of a large run."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        found = ids.get_indexer(column.cat.categories.astype(str))
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, np.append(found, -1)[codes], -1)
    return ids.get_indexer(column.astype(str))


def with_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with every column of ``columns`` present: an absent one is added blank, with the
    blank of its kind in docs/contract.md §2 (None, an empty tuple, NaN)."""
    absent = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if not absent:
        return frame
    return frame.assign(**{c: _blank_column(c, len(frame)) for c in absent})


def _blank_value(column: str) -> Any:
    if column == "name_evidence":
        return True  # a frame without the column carries no station-assigned names
    return blank_value(NORMALIZED_COLUMNS.get(column, "text"))


def _blank_column(column: str, n: int) -> Any:
    if NORMALIZED_COLUMNS.get(column) == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    value = _blank_value(column)
    if isinstance(value, tuple):
        out = np.empty(n, dtype=object)
        out[:] = [value] * n
        return out
    return [value] * n if not isinstance(value, float) else np.full(n, value)


def encode(residents: pd.DataFrame, missing: pd.DataFrame, comparisons: Sequence[Comparison]) -> Encoded:
    """Encode both normalized frames for ``comparisons`` (see :class:`Encoded`)."""
    residents = with_columns(residents, [c for comparison in comparisons for c in comparison.left_columns])
    missing = with_columns(missing, [c for comparison in comparisons for c in comparison.right_columns])
    encodings = tuple(comparison.encode(residents, missing) for comparison in comparisons)
    return Encoded(tuple(comparisons), encodings, pd.Index(residents["resident_id"].astype(str)),
                   pd.Index(missing["missing_id"].astype(str)))


def compare_positions(encoded: Encoded, lp: np.ndarray, rp: np.ndarray) -> dict[str, np.ndarray]:
    """Levels of every comparison (and their extra columns) for the pairs at positions lp/rp."""
    out: dict[str, np.ndarray] = {}
    for comparison, encoding in zip(encoded.comparisons, encoded.encodings):
        levels = np.asarray(comparison.levels(encoding, lp, rp), dtype=np.int8)
        out[comparison.name] = levels
        out.update(comparison.extra(encoding, lp, rp, levels))
    return out


PARALLEL_MIN_PAIRS = 150_000
"""Below this many pairs :func:`compare_pairs` runs in-process: forking costs more than it saves."""


def _compare_range(bounds: tuple[int, int]) -> dict[str, np.ndarray]:
    encoded, lp, rp = shared()
    start, stop = bounds
    return compare_positions(encoded, lp[start:stop], rp[start:stop])


def compare_pairs(pairs: pd.DataFrame, residents: pd.DataFrame | None = None, missing: pd.DataFrame | None = None,
                  comparisons: Sequence[Comparison] | None = None, progress: bool = False,
                  encoded: Encoded | None = None, n_jobs: int | None = 1, chunk_size: int = 200_000) -> pd.DataFrame:
    """Comparison vectors for ``pairs`` (columns ``resident_id``, ``missing_id``): a frame indexed
    by (resident_id, missing_id) with one int8 level column per comparison and the comparisons'
    extra columns (``tf_name``).

    ``comparisons``: default :func:`~kinmatch.match.settings.default_comparisons`. ``encoded``:
    what :func:`encode` returned for these frames (saves encoding them again). ``n_jobs``:
    worker processes for :data:`PARALLEL_MIN_PAIRS` pairs or more (None: every CPU).
    """
    if encoded is None:
        if residents is None or missing is None:
            raise InputError("compare_pairs needs the resident and missing frames, or what encode() returned")
        if comparisons is None:
            from kinmatch.match.settings import default_comparisons

            comparisons = default_comparisons()
        encoded = encode(residents, missing, comparisons)
    lp, rp = encoded.positions(pairs)
    n = len(lp)
    bounds = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    jobs = resolve_jobs(n_jobs)
    if jobs > 1 and n >= PARALLEL_MIN_PAIRS and FORK is not None:
        # pieces small enough that the workers finish together, and at most chunk_size each
        edges = np.linspace(0, n, max(len(bounds), 4 * jobs) + 1).astype(int)
        bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    else:
        jobs = 1
    bar = None
    if progress and len(bounds) > 1:
        from functools import partial

        from tqdm.auto import tqdm

        bar = partial(tqdm, total=len(bounds), desc="比对 comparisons", unit="chunk", leave=False)
    chunks = fork_map(_compare_range, bounds, jobs, shared=(encoded, lp, rp), progress=bar)
    if chunks:
        columns = {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}
    else:
        columns = compare_positions(encoded, lp, rp)
    return pd.DataFrame(columns, index=pair_index(encoded, lp, rp))


def pair_index(encoded: Encoded, lp: np.ndarray, rp: np.ndarray) -> pd.MultiIndex:
    """The (resident_id, missing_id) index of pairs given as record positions, built from the
    positions (levels sorted, as ``MultiIndex.from_arrays`` makes them) instead of hashing
    hundreds of thousands of id strings again."""
    levels, codes = [], []
    for ids, positions in ((encoded.resident_ids, lp), (encoded.report_ids, rp)):
        order = np.argsort(ids.to_numpy(dtype=object), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        levels.append(ids[order])
        codes.append(rank[positions])
    return pd.MultiIndex(levels=levels, codes=codes, names=["resident_id", "missing_id"], verify_integrity=False)
