"""The indexed reports' side of linking, built once and reused by every query and every link.

A batch run encodes every report for the comparisons and files every report's candidate keys on
every run. Against a standing index only the new residents change, so an opened
:class:`~kinmatch.index.core.Index` keeps a :class:`ReportSide`:

* the candidate passes' report side (:func:`kinmatch.match.candidates.report_side`: each pass's
  sorted key index and the reports' flat arrays);
* the rarity tables the comparisons compute from the whole report frame (name-key, mark and build
  frequencies, :data:`RARITY`), so the comparisons can encode the few hundred reports a run's
  candidates name and still price a name as a batch run over every report does;
* the reports' columns the comparisons read, row by row (``rows``, an Arrow table), so the
  reports a run meets are taken alone instead of reading every report.

A run then does only its own records' work: normalize them, look their keys up, read and encode
the reports they met, compare, score, rank and explain (:func:`run_against_reports`).

An ``add`` of reports updates the stored side by the reports it adds or replaces
(:meth:`ReportSide.updated`): the rarity tables from the counts they are made of, the rows
appended; only the candidate passes' side is computed from every report (its key shares, key
centres and mark-feature ranking are statistics of all of them), from the few columns it reads
(:data:`PASS_COLUMNS`). The updated side equals the one computed from every report.

Writers (build, add, rebuild) store the report side beside the segments: a file of numpy arrays
and a JSON skeleton (:func:`write_arrays`; no pickles, so opening an index runs no code from it)
and an uncompressed Arrow IPC file of the rows, named in the manifest with the
:func:`fingerprint` of the code and settings they were built with. Both are mapped into memory
when the index is opened: nothing is read until a run touches it, and a run touches only the
reports it meets. An index without them, or with ones another kinmatch wrote, is still linked
exactly: the report side is then computed from the reports when first needed (seconds per
100,000 reports, with a warning), until :meth:`~kinmatch.index.core.Index.refresh` or the next
``kinmatch index add`` of reports stores it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from kinmatch._gc import gc_paused

SIDE_VERSION = 1
"""The layout of the stored report side; a stored side of another version is computed again."""


def _name_rarity(missing: pd.DataFrame) -> Mapping[str, float]:
    from kinmatch.match.comparisons.name import key_frequency

    return key_frequency(missing)


def _mark_rarity(missing: pd.DataFrame) -> Mapping[str, float]:
    from kinmatch.match.comparisons.marks import mark_frequency

    return mark_frequency(missing["marks"])


def _build_rarity(missing: pd.DataFrame) -> Mapping[str, float]:
    from kinmatch.match.comparisons.build import build_frequency

    return build_frequency(missing["build"])


def _clothing_rarity(missing: pd.DataFrame) -> Mapping[str, float]:
    from kinmatch.match.comparisons.clothing import clothing_frequency

    return clothing_frequency(missing["clothing_items"])


def _clothing_described(missing: pd.DataFrame) -> int:
    """The reports among ``missing`` that describe a piece of clothing: the denominator of
    :func:`~kinmatch.match.comparisons.clothing.clothing_frequency` (each distinct value asked once)."""
    from kinmatch.match.comparisons.clothing import clothing_frequency

    values = pd.Series(missing["clothing_items"].to_numpy(dtype=object), dtype=object)
    counts = values.value_counts(sort=False, dropna=False)
    return int(sum(int(count) for value, count in counts.items() if clothing_frequency(pd.Series([value]))))


RARITY: dict[str, Callable[[pd.DataFrame], Mapping[str, float]]] = {
    "kinmatch.match.comparisons.name.NameComparison": _name_rarity,
    "kinmatch.match.comparisons.marks.MarksComparison": _mark_rarity,
    "kinmatch.match.comparisons.build.BuildComparison": _build_rarity,
    "kinmatch.match.comparisons.clothing.ClothingComparison": _clothing_rarity,
    "kinmatch.match.comparisons.clothing.LaterClothingComparison": _clothing_rarity,
}
"""Comparison class → the rarity table it computes from the report frame when its ``frequency``
is None (what its ``encode`` would compute over every report). A comparison that reads the report
frame as a whole in another way has no fast path: a run with it encodes every report."""

RARITY_DENOMINATOR: dict[str, Callable[[pd.DataFrame], int]] = {
    "kinmatch.match.comparisons.clothing.ClothingComparison": _clothing_described,
    "kinmatch.match.comparisons.clothing.LaterClothingComparison": _clothing_described,
}
"""Each rarity table is a count per key divided by a number of reports: all of them (the default,
``len``), or those this function counts. An index keeps the counts, so an ``add`` updates a table
by the added and replaced reports alone (:meth:`ReportSide.updated`), to the same floats."""


def _rarity_counts(comparison: Any, frame: pd.DataFrame) -> tuple[dict[str, float], dict[str, int], int]:
    """(rarity table, count per key, denominator) of ``frame`` for ``comparison``. The counts are
    the table times its denominator, rounded: exact, as each share is a count divided by it."""
    name = _class_name(comparison)
    table = RARITY[name](frame)
    total = RARITY_DENOMINATOR.get(name, len)(frame)
    scale = max(total, 1)
    return table, {key: int(round(share * scale)) for key, share in table.items()}, total


def _table_of(counts: Mapping[str, int], total: int) -> dict[str, float]:
    """The rarity table of ``counts`` over ``total`` reports, keys in sorted order (as stored)."""
    scale = max(total, 1)
    return {key: counts[key] / scale for key in sorted(counts) if counts[key] > 0}

PASS_COLUMNS = ("missing_id", "alias_keys", "birth_year_high", "birth_year_low", "clothing_items", "conditions",
                "event_date", "given_keys", "height_cm", "home_county", "home_dialect_area", "home_lat", "home_lon",
                "home_prefecture", "home_province", "marks", "missing_county", "missing_lat", "missing_lon",
                "missing_prefecture", "name_keys", "name_norm", "sex_code", "surname_keys")
"""The report columns the candidate passes' side (:func:`kinmatch.match.candidates.report_side`)
reads: an ``add`` reads only these of every indexed report (``tests/test_robust_add.py`` checks
that the passes' side of these columns is that of the whole frame)."""

_SOURCES = ("candidates.py", "passes.py")
"""Modules of :mod:`kinmatch.match` whose code shapes the stored report side (its fingerprint)."""


def _class_name(comparison: Any) -> str:
    return f"{type(comparison).__module__}.{type(comparison).__qualname__}"


def fingerprint(settings: Any) -> str:
    """What a stored report side depends on besides the reports: :data:`SIDE_VERSION`, the
    kinmatch version, the candidate settings, the comparisons and the code of the candidate
    passes (first 16 hex of a SHA-256)."""
    from kinmatch import __version__

    digest = hashlib.sha256()
    described = {"side": SIDE_VERSION, "kinmatch": __version__,
                 "candidates": settings.candidate_settings().to_dict(),
                 "comparisons": [c.to_dict() for c in settings.comparisons]}
    digest.update(json.dumps(described, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    package = resources.files("kinmatch.match")
    for name in _SOURCES:
        digest.update(package.joinpath(name).read_bytes())
    return digest.hexdigest()[:16]


def has_fast_path(settings: Any) -> bool:
    """Whether every comparison of ``settings`` that prices by rarity (has a ``frequency``) has its
    table given or known to :data:`RARITY`, so a subset of the reports encodes as among them all."""
    return all(not hasattr(c, "frequency") or c.frequency is not None or _class_name(c) in RARITY
               for c in settings.comparisons)


# ---------------------------------------------------------------------------------------------
# plain data ↔ arrays and a JSON skeleton (no pickles)


class RarityTable(Mapping):
    """A rarity table (text → share) read from the index: sorted ``keys`` and their ``values``,
    looked up by binary search, so opening the index converts nothing; after
    :attr:`LOOKUPS_BEFORE_DICT` lookups (a large run) it turns itself into a dict once.

        >>> table = RarityTable(np.array(["li wei", "wang fang"]), np.array([0.25, 0.5]))
        >>> table.get("wang fang"), "zhang san" in table, len(table)
        (0.5, False, 2)
    """

    LOOKUPS_BEFORE_DICT = 20_000

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.keys, self.values = keys, values
        self._width = keys.dtype.itemsize // 4 if keys.dtype.kind == "U" else 1 << 30
        self._dict: dict[str, float] | None = None
        self._lookups = 0

    def _position(self, key: Any) -> int:
        if not isinstance(key, str) or len(key) > self._width:
            return -1
        # the key as the keys' own fixed-width type: a str would make numpy cast every key
        at = int(np.searchsorted(self.keys, np.array(key, dtype=self.keys.dtype)))
        return at if at < len(self.keys) and self.keys[at] == key else -1

    def _as_dict(self) -> dict[str, float] | None:
        if self._dict is None:
            self._lookups += 1
            if self._lookups > self.LOOKUPS_BEFORE_DICT:
                self._dict = dict(zip(self.keys.tolist(), self.values.tolist(), strict=True))
        return self._dict

    def __getitem__(self, key: str) -> float:
        table = self._as_dict()
        if table is not None:
            return table[key]
        at = self._position(key)
        if at < 0:
            raise KeyError(key)
        return float(self.values[at])

    def get(self, key: str, default: Any = None) -> Any:
        table = self._as_dict()
        if table is not None:
            return table.get(key, default)
        at = self._position(key)
        return default if at < 0 else float(self.values[at])

    def __contains__(self, key: object) -> bool:
        table = self._as_dict()
        return key in table if table is not None else self._position(key) >= 0

    def __iter__(self):
        return iter(self.keys.tolist())

    def __len__(self) -> int:
        return len(self.keys)


def _strings(values: np.ndarray) -> np.ndarray:
    # pandas' inference is a C loop: a Python check of each of a million ids cost ~2 s an add
    if len(values) and pd.api.types.infer_dtype(values, skipna=False) != "string":
        raise TypeError("only text can be stored in an object array")
    return values.astype(str) if len(values) else np.empty(0, dtype="U1")


def _to_skeleton(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    def put(array: np.ndarray) -> str:
        name = f"a{len(arrays)}"
        arrays[name] = array
        return name

    if isinstance(value, pd.DataFrame):
        return {"$frame": {"index": _to_skeleton(value.index, arrays),
                           "columns": {str(c): put(value[c].to_numpy()) for c in value.columns}}}
    if isinstance(value, pd.Index):
        if value.dtype != object:
            return {"$index": put(value.to_numpy()), "name": value.name}
        return {"$index": put(_strings(value.to_numpy())), "name": value.name, "text": True}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"$text": put(_strings(value))}
        return {"$array": put(value)}
    if isinstance(value, RarityTable):  # read from an index: stored as it was read
        return {"$table": put(value.keys), "values": put(value.values)}
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only text keys can be stored")
        if len(value) > 64 and all(type(v) is float for v in value.values()):
            keys = _strings(np.array(list(value), dtype=object))
            order = np.argsort(keys, kind="stable")
            return {"$table": put(keys[order]), "values": put(np.array(list(value.values()), dtype=float)[order])}
        return {"$dict": {k: _to_skeleton(v, arrays) for k, v in value.items()}}
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return {"$scalar": value.item(), "dtype": value.dtype.str}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a {type(value).__name__} cannot be stored in the report side")


def _from_skeleton(node: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if not isinstance(node, dict):
        return node
    if "$frame" in node:
        spec = node["$frame"]
        return pd.DataFrame({c: arrays[name] for c, name in spec["columns"].items()},
                            index=_from_skeleton(spec["index"], arrays))
    if "$index" in node:
        values = arrays[node["$index"]]
        if node.get("text"):
            return pd.Index(values.astype(object), dtype=object, name=node["name"])
        return pd.Index(values, name=node["name"])
    if "$text" in node:
        return arrays[node["$text"]].astype(object)
    if "$array" in node:
        return arrays[node["$array"]]
    if "$table" in node:
        return RarityTable(arrays[node["$table"]], arrays[node["values"]])
    if "$dict" in node:
        return {k: _from_skeleton(v, arrays) for k, v in node["$dict"].items()}
    if "$scalar" in node:
        return np.dtype(node["dtype"]).type(node["$scalar"])
    raise ValueError(f"unknown node in a stored report side: {sorted(node)}")


ARRAYS_MAGIC = b"KINMATCH-ARRAYS\n"
"""The first bytes of a stored report side's arrays file (:func:`write_arrays`)."""

_ALIGN = 64


def write_arrays(handle: BinaryIO, skeleton: dict, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` (no object arrays) and the JSON ``skeleton`` naming them as one file:
    :data:`ARRAYS_MAGIC`, the length of a JSON header (8 bytes, little-endian), the header (the
    skeleton, and each array's dtype, shape and offset), then each array's bytes at an offset
    aligned to 64 bytes, so a reader maps the file and views the arrays in place. (An ``.npz``
    places its arrays at unaligned offsets, and numpy copies an unaligned array on each search.)"""
    layout, offset = {}, 0
    contiguous = {}
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise TypeError(f"{name}: object arrays are not stored")
        contiguous[name] = np.ascontiguousarray(array)
        offset = -(-offset // _ALIGN) * _ALIGN
        layout[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset += contiguous[name].nbytes
    header = json.dumps({"skeleton": skeleton, "arrays": layout}, ensure_ascii=False).encode("utf-8")
    start = -(-(len(ARRAYS_MAGIC) + 8 + len(header)) // _ALIGN) * _ALIGN
    handle.write(ARRAYS_MAGIC + len(header).to_bytes(8, "little") + header)
    handle.write(b"\0" * (start - len(ARRAYS_MAGIC) - 8 - len(header)))
    written = 0
    for name, array in contiguous.items():
        handle.write(b"\0" * (layout[name]["offset"] - written))
        handle.write(memoryview(array).cast("B") if array.nbytes else b"")
        written = layout[name]["offset"] + array.nbytes


def read_arrays(handle: BinaryIO) -> tuple[dict, dict[str, np.ndarray]]:
    """(skeleton, arrays) of a file :func:`write_arrays` wrote: the arrays read-only views of the
    file mapped into memory, read only when used, and readable after the file is removed."""
    skeleton, arrays, _mapped = _read_arrays(handle)
    return skeleton, arrays


def _read_arrays(handle: BinaryIO) -> tuple[dict, dict[str, np.ndarray], Any]:
    """:func:`read_arrays` and the mapping (an ``mmap.mmap``) the arrays view."""
    import mmap

    handle.seek(0)
    if handle.read(len(ARRAYS_MAGIC)) != ARRAYS_MAGIC:
        raise ValueError("not a kinmatch arrays file")
    length = int.from_bytes(handle.read(8), "little")
    header = json.loads(handle.read(length).decode("utf-8"))
    start = -(-(len(ARRAYS_MAGIC) + 8 + length) // _ALIGN) * _ALIGN
    mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"])
        if dtype.hasobject:
            raise ValueError(f"{name}: object arrays are not read")
        count = int(np.prod(spec["shape"], dtype=np.int64))
        arrays[name] = np.frombuffer(mapped, dtype=dtype, count=count,
                                     offset=start + spec["offset"]).reshape(spec["shape"])
    return header["skeleton"], arrays, mapped


# ---------------------------------------------------------------------------------------------
# the report side


class ReportSide:
    """The indexed reports' side of linking (see the module docstring): ``reports`` (the
    candidate passes' side), ``rarity`` (comparison name → rarity table), ``rows`` (the reports'
    columns the comparisons read, a pyarrow Table in the order of ``reports``), ``order`` (the
    positions sorting the report ids) and ``fingerprint``."""

    RELEASE_SHARE = 0.1
    """A take of at least this share of the rows releases the mapped rows file's pages afterwards
    (:meth:`frame`)."""

    def __init__(self, reports: Any, rarity: dict[str, Mapping[str, float]], rows: Any, order: np.ndarray,
                 fingerprint: str, mapped: Any = None, counts: dict[str, dict] | None = None):
        self.reports, self.rarity, self.rows, self.order, self.fingerprint = reports, rarity, rows, order, fingerprint
        # comparison name → {"keys": text array, "counts": int64 array, "total": int}: what each rarity
        # table is made of (:meth:`updated`); None in a side stored before they were kept
        self.counts = counts
        self.default = False  # built for the default settings (set by the index that holds it)
        self._sorted_ids: np.ndarray | None = None
        self._mapped = mapped  # the rows file's mapping (an mmap.mmap) when ``rows`` was read from one
        self._mapped_arrays: Any = None  # the arrays file's mapping when the side was loaded from one

    @classmethod
    def compute(cls, missing: pd.DataFrame, settings: Any) -> "ReportSide":
        """The report side of the normalized report frame ``missing``."""
        from kinmatch.index.frames import frame_to_table
        from kinmatch.match.candidates import report_side
        from kinmatch.match.engine import with_columns

        rarity, counts = {}, {}
        for comparison in _priced(settings):
            table, count, total = _rarity_counts(comparison, with_columns(missing, comparison.right_columns))
            rarity[comparison.name] = {key: table[key] for key in sorted(table)}  # the order stored
            counts[comparison.name] = _stored_counts(count, total)
        reports = report_side(missing, settings.candidate_settings())
        rows = frame_to_table(missing[_row_columns(settings, missing)])
        return cls(reports, rarity, rows, np.argsort(reports.ids, kind="stable"), fingerprint(settings),
                   counts=counts)

    def updated(self, missing: pd.DataFrame, added: pd.DataFrame, settings: Any) -> "ReportSide | None":
        """The report side of ``missing`` (every report: this side's, less those ``added`` replaces,
        in this side's order, then ``added``) for ``settings``, from this side and ``added`` alone
        where that gives the same result as :meth:`compute`: the rarity tables from their counts
        less the replaced reports' and plus the added ones'; the rows as this side's (less the
        replaced) followed by the added reports'. The candidate passes' side is computed from
        ``missing`` (:func:`~kinmatch.match.candidates.report_side`): its key shares, key centres
        and mark-feature ranking are statistics of all reports. None when this side cannot be
        updated (no counts kept, other settings, or ``missing`` not in the order above)."""
        import pyarrow as pa

        from kinmatch.index.frames import frame_to_table
        from kinmatch.match.candidates import report_side
        from kinmatch.match.engine import with_columns

        priced = _priced(settings)
        if (self.counts is None or self.fingerprint != fingerprint(settings)
                or set(self.counts) != {c.name for c in priced}):
            return None
        old_ids = np.asarray(self.reports.ids).astype(str)
        added_ids = added["missing_id"].to_numpy(dtype=object).astype(str)
        replaced = self._find(added_ids)
        replaced = replaced[replaced >= 0]
        keep = np.ones(len(old_ids), dtype=bool)
        keep[replaced] = False
        live_ids = missing["missing_id"].to_numpy(dtype=object).astype(str)
        if not np.array_equal(live_ids, np.concatenate([old_ids[keep], added_ids])):
            return None
        rows = frame_to_table(added[_row_columns(settings, added)])
        try:
            rows = rows.select(self.rows.schema.names).cast(self.rows.schema)
        except (KeyError, ValueError, pa.ArrowException):  # another layout of columns: computed anew
            return None
        kept = self.rows if keep.all() else self.rows.filter(pa.array(keep))
        rows = pa.concat_tables([kept, rows]).combine_chunks()
        old = self.frame(np.sort(replaced)) if len(replaced) else None
        rarity, counts = {}, {}
        for comparison in priced:
            stored = self.counts[comparison.name]
            count = dict(zip(np.asarray(stored["keys"]).astype(str).tolist(), stored["counts"].tolist(),
                             strict=True))
            total = int(stored["total"])
            _table, plus, plus_total = _rarity_counts(comparison, with_columns(added, comparison.right_columns))
            total += plus_total
            for key, value in plus.items():
                count[key] = count.get(key, 0) + value
            if old is not None:
                _table, minus, minus_total = _rarity_counts(comparison, with_columns(old, comparison.right_columns))
                total -= minus_total
                for key, value in minus.items():
                    count[key] -= value
            count = {key: value for key, value in count.items() if value > 0}
            rarity[comparison.name] = _table_of(count, total)
            counts[comparison.name] = _stored_counts(count, total)
        reports = report_side(missing, settings.candidate_settings())
        return type(self)(reports, rarity, rows, np.argsort(reports.ids, kind="stable"), self.fingerprint,
                          counts=counts)

    def _find(self, ids: np.ndarray) -> np.ndarray:
        """The position of each of ``ids`` in this side, -1 where it holds none."""
        if not len(ids) or not len(self.order):
            return np.full(len(ids), -1, dtype=np.int64)
        if self._sorted_ids is None:
            self._sorted_ids = self.reports.ids[self.order]
        sorted_ids = np.asarray(self._sorted_ids).astype(str)
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return np.where(sorted_ids[at] == ids, self.order[at], -1).astype(np.int64)

    def comparisons(self, settings: Any) -> list:
        """The comparisons of ``settings``, each that prices by rarity given the whole reports' table."""
        out = []
        for comparison in settings.comparisons:
            if comparison.name in self.rarity:
                comparison = copy.copy(comparison)
                comparison.frequency = self.rarity[comparison.name]
            out.append(comparison)
        return out

    def positions(self, ids: Any) -> np.ndarray:
        """The positions (ascending) of the reports with these ``ids`` (all indexed)."""
        return np.sort(self.rows_of(ids))

    def rows_of(self, ids: Any) -> np.ndarray:
        """The position of the report with each of these ``ids`` (all indexed), in their order."""
        if self._sorted_ids is None:
            self._sorted_ids = self.reports.ids[self.order]
        ids = np.asarray(ids, dtype=self._sorted_ids.dtype if self._sorted_ids.dtype != object else object)
        return self.order[np.searchsorted(self._sorted_ids, ids)]

    def frame(self, positions: np.ndarray) -> pd.DataFrame:
        """The normalized reports at ``positions``, the comparisons' columns (copied out of the rows).

        After a take of many rows (:attr:`RELEASE_SHARE` of them) the mapped rows file's pages are
        given back (``madvise(MADV_DONTNEED)``): they are the file's, read again from the page
        cache if touched again, but while mapped they count in the process's resident memory, and
        at 10,000 × 1,000,000 a run reads most of the 0.4 GB file and then holds it through
        scoring, the run's peak. So is the memory Arrow's allocator kept from the taken rows
        (``release_unused``): the taken table is freed once it is a frame, but its allocator
        (mimalloc) keeps the pages for Arrow's next use, and the run makes no further Arrow
        tables: at 10,000 × 1,000,000 that was 0.5 GB of the run's peak."""
        import pyarrow as pa

        from kinmatch.index.frames import table_to_frame

        positions = np.asarray(positions, dtype=np.int64)
        frame = table_to_frame(self.rows.take(pa.array(positions)))
        if len(positions) >= self.RELEASE_SHARE * self.rows.num_rows:
            pa.default_memory_pool().release_unused()
            _release_pages(self._mapped)
        return frame

    def release_arrays(self) -> None:
        """Give back the pages of the mapped arrays file (the candidate passes' side) this process
        read (``madvise(MADV_DONTNEED)``): after a lookup of many records they are not read again
        by the run, and they would count in its resident memory through scoring. Pages touched
        again are read from the page cache."""
        _release_pages(self._mapped_arrays)

    # -- stored -----------------------------------------------------------------------------

    def save(self, arrays_path: Path, rows_path: Path) -> None:
        """Write the report side: its arrays to ``arrays_path`` (:func:`write_arrays`), its
        rows to ``rows_path`` (an uncompressed Arrow IPC file), each flushed to disk."""
        import pyarrow as pa

        from kinmatch.match.candidates import report_side_state

        arrays: dict[str, np.ndarray] = {}
        state = report_side_state(self.reports)
        if state["ids"].dtype == object:
            state["ids"] = _strings(state["ids"])  # kept as fixed-width text: never converted on opening
        skeleton = {"version": SIDE_VERSION, "fingerprint": self.fingerprint,
                    "reports": _to_skeleton(state, arrays), "rarity": _to_skeleton(self.rarity, arrays),
                    "order": _to_skeleton(self.order, arrays)}
        if self.counts is not None:
            skeleton["counts"] = _to_skeleton(self.counts, arrays)
        with open(arrays_path, "wb") as handle:
            write_arrays(handle, skeleton, arrays)
            handle.flush()
            os.fsync(handle.fileno())
        with open(rows_path, "wb") as handle:
            with pa.ipc.new_file(handle, self.rows.schema) as writer:
                writer.write_table(self.rows)
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, arrays: BinaryIO, rows: Any) -> "ReportSide":
        """The report side :meth:`save` wrote: ``arrays`` the open arrays file, ``rows`` the Arrow
        file mapped into memory (an ``mmap.mmap``, see :func:`map_rows`, or a
        ``pyarrow.memory_map``). Nothing is copied until a run uses it, and no pickles are read."""
        import mmap

        import pyarrow as pa

        from kinmatch.match.candidates import report_side_from_state

        skeleton, stored, mapped_arrays = _read_arrays(arrays)
        if skeleton.get("version") != SIDE_VERSION:
            raise ValueError(f"report side of version {skeleton.get('version')}, this kinmatch reads {SIDE_VERSION}")
        mapped = rows if isinstance(rows, mmap.mmap) else None
        if mapped is not None:
            table = pa.ipc.open_file(pa.py_buffer(mapped)).read_all()
        else:
            rows.seek(0)
            table = pa.ipc.open_file(rows).read_all()
        side = cls(report_side_from_state(_from_skeleton(skeleton["reports"], stored)),
                   _from_skeleton(skeleton["rarity"], stored), table, _from_skeleton(skeleton["order"], stored),
                   skeleton["fingerprint"], mapped, _from_skeleton(skeleton.get("counts"), stored))
        side._mapped_arrays = mapped_arrays
        return side


def _release_pages(mapped: Any) -> None:
    """``madvise(MADV_DONTNEED)`` of a read-only file mapping (an ``mmap.mmap``; None: nothing):
    its pages leave the process's resident memory and are read again from the page cache if
    touched. Linux, the BSDs and macOS; elsewhere the pages stay."""
    import mmap

    if mapped is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


def _priced(settings: Any) -> list:
    """The comparisons of ``settings`` that price by a rarity table computed from the reports."""
    return [c for c in settings.comparisons
            if _class_name(c) in RARITY and getattr(c, "frequency", None) is None]


def _row_columns(settings: Any, missing: pd.DataFrame) -> list[str]:
    """The columns of ``missing`` a side's rows keep: the id and what the comparisons read."""
    columns = ("missing_id", *_comparison_columns(settings.comparisons, "right"))
    return [c for c in dict.fromkeys(columns) if c in missing.columns]


def _stored_counts(counts: Mapping[str, int], total: int) -> dict[str, Any]:
    keys = sorted(counts)
    return {"keys": np.array(keys, dtype=object) if keys else np.empty(0, dtype=object),
            "counts": np.array([counts[k] for k in keys], dtype=np.int64), "total": int(total)}


def map_rows(path: Path) -> Any:
    """The stored rows file at ``path`` mapped read-only (an ``mmap.mmap``; readable after the file
    is removed), for :meth:`ReportSide.load`."""
    import mmap

    with open(path, "rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


class SegmentFiles:
    """A kind's segments as files held open from when the index was opened (so a generation
    removed by later writers can still be read), read as frames when first needed."""

    def __init__(self, handles: list[BinaryIO], id_column: str):
        self.handles, self.id_column = handles, id_column

    def frames(self) -> list[pd.DataFrame]:
        """Each segment's whole frame."""
        from kinmatch.index.frames import read_frame

        out = []
        for handle in self.handles:
            handle.seek(0)
            out.append(read_frame(handle))
        return out


# ---------------------------------------------------------------------------------------------
# the runs


def _comparison_columns(comparisons: Any, side: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for comparison in comparisons for c in getattr(comparison, f"{side}_columns")))


@gc_paused()
def run_against_reports(records: Any, side: ReportSide, model: Any, top_k: int = 10, progress: bool = False,
                        n_jobs: int | None = None, version: str | None = None, report_clusters: Any = None):
    """:func:`~kinmatch.match.pipeline.run_link` of residents ``records`` against the indexed
    reports with a fitted ``model``, doing only the residents' work: their candidates are looked
    up in ``side.reports``, and only the reports they met are read (``side.rows``) and encoded,
    the comparisons priced with ``side.rarity``. The table is the batch run's; the run's ``missing``
    frame holds the reports met (the comparisons' columns). ``version``: the model's version, when
    known (:func:`~kinmatch.match.pipeline.model_version` hashes the model's JSON).
    ``report_clusters``: the indexed reports' clusters (:mod:`kinmatch.index.clusters`), to rank
    each cluster as one candidate (the reports met and their clusters' other members are read);
    None: every report on its own."""
    from kinmatch._parallel import resolve_jobs
    from kinmatch.match import engine
    from kinmatch.match.pipeline import PARALLEL_MAX_REPORTS, LinkRun, empty_table, prepare_records, rank_candidates
    from kinmatch.match.settings import resolve_settings

    settings = _with_dedupe(resolve_settings(None), report_clusters is not None)
    _check_run(model, settings, top_k)
    residents = _without_attrs(prepare_records(records, "resident"))
    if len(residents) == 0:
        return LinkRun(empty_table(settings), model, pd.DataFrame(), pd.DataFrame(), residents,
                       pd.DataFrame({"missing_id": pd.Series(dtype=object)}), settings)
    candidates, met = _candidates(residents, side, settings.candidate_settings(), progress, n_jobs)
    if len(residents) >= PARALLEL_MIN_RECORDS:
        side.release_arrays()  # the lookup's pages: the run reads them no more (a query's stay for the next)
    if report_clusters is not None:
        from kinmatch.index.clusters import members_of

        met = side.positions(members_of(report_clusters, side.reports.ids[met].astype(object)))
    missing = side.frame(met)
    encoded = engine.encode(residents, missing, side.comparisons(settings))
    if n_jobs is None and len(missing) > PARALLEL_MAX_REPORTS:
        # one forked worker beside this process (it compares half the pairs, and explains half the
        # rows), not one per CPU: a worker's reads of the encodings of that many reports copy the
        # pages they touch (run_link keeps one process there). At 10,000 × 1,000,000 the comparisons
        # were a third of this process's CPU after the lookup, and the worker's copies stay below the
        # peak, which is this process's scoring after the comparisons
        n_jobs = min(2, resolve_jobs(None))
    return rank_candidates(residents, missing, candidates, encoded, model, settings, top_k, "resident", progress,
                           n_jobs, version, report_clusters=report_clusters)


@gc_paused()
def run_against_residents(records: Any, residents: pd.DataFrame, model: Any, top_k: int = 10,
                          progress: bool = False, n_jobs: int | None = None, version: str | None = None,
                          dedupe_reports: bool = False):
    """:func:`~kinmatch.match.pipeline.run_link` with ``by="missing"`` of new reports ``records``
    against the indexed ``residents`` with a fitted ``model``: the candidates as a batch run finds
    them, then only the residents they met encoded. The run's ``residents`` frame holds those.
    ``version``: the model's version, when known; ``dedupe_reports``: the new reports clustered
    among themselves, as a batch run clusters its report file."""
    from kinmatch.match import engine
    from kinmatch.match.candidates import packed_candidate_pairs
    from kinmatch.match.pipeline import LinkRun, empty_table, prepare_records, rank_candidates
    from kinmatch.match.settings import resolve_settings

    settings = _with_dedupe(resolve_settings(None), dedupe_reports)
    _check_run(model, settings, top_k)
    missing = _without_attrs(prepare_records(records, "missing"))
    if len(missing) == 0:
        return LinkRun(empty_table(settings), model, pd.DataFrame(), pd.DataFrame(), residents, missing, settings)
    candidates = packed_candidate_pairs(residents, missing, settings=settings.candidate_settings(),
                                        progress=progress).unpack()
    met = residents["resident_id"].isin(candidates.pairs["resident_id"]).to_numpy()
    residents = residents[met].reset_index(drop=True)
    encoded = engine.encode(residents, missing, settings.comparisons)
    return rank_candidates(residents, missing, candidates, encoded, model, settings, top_k, "missing", progress,
                           n_jobs, version)


def _with_dedupe(settings: Any, dedupe: bool) -> Any:
    """``settings`` with ``dedupe_reports`` set as the run asks (an index run never clusters only
    the reports it met)."""
    if bool(settings.dedupe_reports) == bool(dedupe):
        return settings
    return type(settings)(**(vars(settings) | {"dedupe_reports": bool(dedupe)}))


PARALLEL_MIN_RECORDS = 1_000
"""From this many records a run's candidates are looked up by forked worker processes, a
contiguous range of records each: each record's candidates depend on that record alone, and the
workers inherit the report side (mapped from the index's files) instead of receiving it."""

LOOKUP_RANGE = 500
"""Records per range of a forked lookup (at least two ranges per worker), handed to the workers
as they free up. Records differ in cost (a nameless resident is capped wider, and one with few
pairs runs the fallback passes): with two large ranges per worker, a file whose costly records
lie together leaves one worker alone on the last range. (The simulator's residents are even:
its 500-resident ranges cost the same within ±15%, so there both splits take the same time.)"""


LOOKUP_MEMORY: dict[str, int] = {"max_pairs_in_memory": 2_000_000}
"""Overrides of :class:`~kinmatch.match.candidates.CandidateSettings` for the lookup against the
index (the pairs do not depend on them): a pass expands at most this many pairs at once, so its
temporary arrays (16 MB of int64) stay below glibc's mmap threshold in the workers
(:func:`_keep_freed_memory`) and reuse freed memory; at 8,000,000 (64 MB arrays) each was mapped
and zeroed afresh, and at 10,000 × 1,000,000 the workers spent as much system CPU as user CPU."""


def _candidates(residents: pd.DataFrame, side: ReportSide, candidate_settings: Any, progress: bool,
                n_jobs: int | None) -> tuple[Any, np.ndarray]:
    """:func:`~kinmatch.match.candidates.candidate_pairs` of ``residents`` against the report
    side, in ranges of :data:`LOOKUP_RANGE` residents over ``n_jobs`` worker processes when there
    are many (the ranges' pairs in order and their counts added are the pairs and counts of one
    call), and the positions (ascending) of the reports the pairs meet. The pairs' id columns are
    categorical (over the residents' ids and the met reports' ids, in that order), made from
    positions: each range's reports are found by id where the range was looked up (in the worker),
    and its pairs come back as positions (:func:`_positions`). At 10,000 × 1,000,000 there are four
    million pairs: spelling their ids as text only to replace them, or hashing them again, took
    seconds of the parent's time while the workers' cores idled."""
    from kinmatch._parallel import fork_map, resolve_jobs
    from kinmatch.match.candidates import Candidates

    jobs = resolve_jobs(n_jobs)
    if jobs < 2 or len(residents) < PARALLEL_MIN_RECORDS:
        bounds = [(0, len(residents))]
        packed = [_positions(_lookup(residents, side.reports, candidate_settings, progress), side)]
    else:
        n_ranges = max(2 * jobs, -(-len(residents) // LOOKUP_RANGE))
        edges = np.linspace(0, len(residents), n_ranges + 1).astype(int)
        bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
        side.rows_of(side.reports.ids[:0])  # the sorted ids made once, before the workers inherit the side
        from kinmatch.match.candidates import KERNEL_MIN_PRODUCT, prepare_kernel

        if LOOKUP_RANGE * side.reports.n >= KERNEL_MIN_PRODUCT:  # the kernel's layout, shared likewise
            prepare_kernel(side.reports)
        try:
            packed = fork_map(_candidates_range, bounds, jobs, shared=(residents, side, candidate_settings))
        finally:  # the layout only served the workers: its memory back before comparing and ranking
            from kinmatch.match._packing import release

            release(side.reports)
    parts = [part.unpack() for part in packed]
    counts = parts[0].counts.set_index("pass")
    for part in parts[1:]:
        counts = counts + part.counts.set_index("pass")
    pairs = pd.concat([part.pairs for part in parts], ignore_index=True)
    lp = np.concatenate([part.pairs["resident_id"].to_numpy(dtype=np.int64) + start
                         for part, (start, _) in zip(parts, bounds)]) if parts else np.empty(0, np.int64)
    rows = pairs["missing_id"].to_numpy(dtype=np.int64)
    # the met reports and each pair's place among them: a mark per report (positions are bounded
    # by the reports' count), where a sort of the four million positions took a second
    met_mask = np.zeros(side.reports.n, dtype=bool)
    met_mask[rows] = True
    met = np.flatnonzero(met_mask)
    rp = (np.cumsum(met_mask) - 1)[rows]
    resident_ids = pd.Index(residents["resident_id"].to_numpy(dtype=object))
    report_ids = pd.Index(side.reports.ids[met].astype(object))
    pairs["resident_id"] = pd.Categorical.from_codes(lp, categories=resident_ids)
    pairs["missing_id"] = pd.Categorical.from_codes(rp, categories=report_ids)
    return Candidates(pairs, counts.reset_index()), met


def _lookup(residents: pd.DataFrame, reports: Any, candidate_settings: Any, progress: bool) -> Any:
    from kinmatch.match.candidates import packed_candidate_pairs

    return packed_candidate_pairs(residents, None, settings=candidate_settings, progress=progress, reports=reports,
                                  **LOOKUP_MEMORY)


def _positions(packed: Any, side: ReportSide) -> Any:
    """``packed`` (:class:`~kinmatch.match.candidates.PackedCandidates`) with positions for ids:
    each resident's position among the looked-up residents, each report's among the indexed
    reports, so its ``unpack()`` gives positions in the id columns."""
    return packed._replace(resident_ids=np.arange(len(packed.resident_ids), dtype=np.int64),
                           missing_ids=side.rows_of(packed.missing_ids).astype(np.int64))


def _candidates_range(bounds: tuple[int, int]):
    from kinmatch._parallel import shared

    _keep_freed_memory()
    residents, side, candidate_settings = shared()
    start, stop = bounds
    return _positions(_lookup(residents.iloc[start:stop].reset_index(drop=True), side.reports, candidate_settings,
                              False), side)


def _keep_freed_memory() -> None:
    """In a forked lookup worker: :func:`kinmatch._parallel.keep_freed_memory`, with
    :data:`LOOKUP_MEMORY` keeping the lookup's temporaries below the 32 MB threshold."""
    from kinmatch._parallel import keep_freed_memory

    keep_freed_memory()


def _without_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (not a copy of its data) without its ``attrs``: pandas deep-copies them into every
    column read, and a run reads a few thousand (a tenth of a one-record query's time)."""
    if not frame.attrs:
        return frame
    frame = frame.copy(deep=False)
    frame.attrs = {}
    return frame


def _check_run(model: Any, settings: Any, top_k: int) -> None:
    from kinmatch.errors import InputError

    if int(top_k) < 1:
        raise InputError(f"top_k must be at least 1, not {top_k}")
    if hasattr(model, "check_compatible"):
        model.check_compatible(settings.level_labels())


def open_handles(directory: Path, files: list[str]) -> list[BinaryIO]:
    """Open the files (paths relative to ``directory``) for reading."""
    handles = []
    try:
        for name in files:
            handles.append(open(Path(directory) / name, "rb"))
    except OSError:
        for handle in handles:
            handle.close()
        raise
    return handles

