"""The indexed reports' side of linking, built once and reused by every query and every link.

A batch run encodes every report for the comparisons and files every report's candidate keys on
every run. Against a standing index only the new residents change, so an opened
:class:`~kinmatch.index.core.Index` keeps a :class:`ReportSide`:

* the candidate passes' report side (:func:`kinmatch.match.candidates.report_side`: each pass's
  sorted key index and the reports' flat arrays);
* the rarity tables the comparisons compute from the whole report frame (name-key, mark and build
  frequencies, :data:`RARITY`), so the comparisons can encode the few hundred reports a run's
  candidates name and still price a name as a batch run over every report does;
* where each report lives (``live``: its row among the segments' rows read in order) and its id,
  so those reports are read alone from the segments (:class:`SegmentRows`).

A run then does only its own records' work: normalize them, look their keys up, read and encode
the reports they met, compare, score, rank and explain (:func:`run_against_reports`).

Writers (build, add, rebuild) store the report side beside the segments as one uncompressed
``.npz`` (numpy arrays and a JSON skeleton; read with ``allow_pickle=False``, so opening an index
runs no code from it), named in the manifest with the :func:`fingerprint` of the code and
settings it was built with. An index without it, or with one another kinmatch built, is still
linked exactly: the report side is then computed from the reports when first needed (seconds per
100,000 reports) and the next ``kinmatch index add`` or ``rebuild`` stores it again.
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


RARITY: dict[str, Callable[[pd.DataFrame], Mapping[str, float]]] = {
    "kinmatch.match.comparisons.name.NameComparison": _name_rarity,
    "kinmatch.match.comparisons.marks.MarksComparison": _mark_rarity,
    "kinmatch.match.comparisons.build.BuildComparison": _build_rarity,
}
"""Comparison class → the rarity table it computes from the report frame when its ``frequency``
is None (what its ``encode`` would compute over every report). A comparison that reads the report
frame as a whole in another way has no fast path: a run with it encodes every report."""

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


def _strings(values: np.ndarray) -> np.ndarray:
    if not all(type(v) is str for v in values.tolist()):
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
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only text keys can be stored")
        if len(value) > 64 and all(type(v) in (int, float) for v in value.values()):
            numbers = np.array(list(value.values()))
            return {"$table": put(_strings(np.array(list(value), dtype=object))), "values": put(numbers)}
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
        return dict(zip(arrays[node["$table"]].tolist(), arrays[node["values"]].tolist(), strict=True))
    if "$dict" in node:
        return {k: _from_skeleton(v, arrays) for k, v in node["$dict"].items()}
    if "$scalar" in node:
        return np.dtype(node["dtype"]).type(node["$scalar"])
    raise ValueError(f"unknown node in a stored report side: {sorted(node)}")


# ---------------------------------------------------------------------------------------------
# the report side


class ReportSide:
    """The indexed reports' side of linking (see the module docstring): ``reports`` (the
    candidate passes' side), ``rarity`` (comparison name → rarity table), ``ids`` (report ids by
    position), ``live`` (each report's row among the segments' rows read in order) and
    ``fingerprint``."""

    def __init__(self, reports: Any, rarity: dict[str, Mapping[str, float]], live: np.ndarray, fingerprint: str):
        self.reports, self.rarity, self.live, self.fingerprint = reports, rarity, live, fingerprint
        self.default = False  # built for the default settings (set by the index that holds it)
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def ids(self) -> np.ndarray:
        return self.reports.ids

    @classmethod
    def compute(cls, missing: pd.DataFrame, live: np.ndarray, settings: Any) -> "ReportSide":
        """The report side of the live report frame ``missing`` (its rows at ``live``)."""
        from kinmatch.match.candidates import report_side
        from kinmatch.match.engine import with_columns

        rarity = {}
        for comparison in settings.comparisons:
            compute = RARITY.get(_class_name(comparison))
            if compute is not None and getattr(comparison, "frequency", None) is None:
                rarity[comparison.name] = compute(with_columns(missing, comparison.right_columns))
        return cls(report_side(missing, settings.candidate_settings()), rarity, np.asarray(live, dtype=np.int64),
                   fingerprint(settings))

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
        if self._sorted is None:
            order = np.argsort(self.ids, kind="stable")
            self._sorted = (self.ids[order], order)
        values, order = self._sorted
        ids = np.asarray(ids, dtype=object)
        at = np.searchsorted(values, ids)
        return np.sort(order[at])

    # -- stored -----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the report side to ``path`` (one ``.npz``), flushed to disk before returning."""
        from kinmatch.match.candidates import report_side_state

        arrays: dict[str, np.ndarray] = {}
        skeleton = {"version": SIDE_VERSION, "fingerprint": self.fingerprint,
                    "reports": _to_skeleton(report_side_state(self.reports), arrays),
                    "rarity": _to_skeleton(self.rarity, arrays), "live": _to_skeleton(self.live, arrays)}
        arrays["skeleton"] = np.frombuffer(json.dumps(skeleton, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, source: BinaryIO | str | os.PathLike) -> "ReportSide":
        """The report side :meth:`save` wrote (no pickles are read)."""
        from kinmatch.match.candidates import report_side_from_state

        if hasattr(source, "seek"):
            source.seek(0)
        with np.load(source, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        skeleton = json.loads(arrays.pop("skeleton").tobytes().decode("utf-8"))
        if skeleton.get("version") != SIDE_VERSION:
            raise ValueError(f"report side of version {skeleton.get('version')}, this kinmatch reads {SIDE_VERSION}")
        return cls(report_side_from_state(_from_skeleton(skeleton["reports"], arrays)),
                   _from_skeleton(skeleton["rarity"], arrays), _from_skeleton(skeleton["live"], arrays),
                   skeleton["fingerprint"])


def live_rows(id_columns: list[np.ndarray]) -> np.ndarray:
    """The rows (numbered across the segments read in order) whose id no later row repeats: the
    records :func:`~kinmatch.index.frames.live_records` keeps, in its order."""
    ids = pd.Series(np.concatenate(id_columns) if id_columns else np.empty(0, dtype=object))
    return np.flatnonzero(~ids.duplicated(keep="last").to_numpy())


class SegmentRows:
    """Rows of a kind's segments read by position in the live frame, from file handles opened with
    the index (so a generation removed by later writers is still readable), each segment's
    columns read once, when first needed."""

    def __init__(self, handles: list[BinaryIO], id_column: str):
        self.handles, self.id_column = handles, id_column
        self._tables: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._offsets: np.ndarray | None = None

    def _table(self, number: int, columns: tuple[str, ...]):
        key = (number, columns)
        if key not in self._tables:
            import pyarrow.parquet as pq

            handle = self.handles[number]
            handle.seek(0)
            schema = pq.read_schema(handle)
            handle.seek(0)
            present = [c for c in columns if c in schema.names]
            self._tables[key] = pq.read_table(handle, columns=present)
        return self._tables[key]

    def ids(self) -> list[np.ndarray]:
        """Each segment's ids."""
        return [self._table(n, (self.id_column,)).column(0).to_numpy(zero_copy_only=False).astype(object)
                for n in range(len(self.handles))]

    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            import pyarrow.parquet as pq

            counts = []
            for handle in self.handles:
                handle.seek(0)
                counts.append(pq.ParquetFile(handle).metadata.num_rows)
            self._offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        return self._offsets

    def frames(self) -> list[pd.DataFrame]:
        """Each segment's whole frame."""
        from kinmatch.index.frames import read_frame

        out = []
        for handle in self.handles:
            handle.seek(0)
            out.append(read_frame(handle))
        return out

    def take(self, rows: np.ndarray, columns: tuple[str, ...]) -> pd.DataFrame:
        """The records at ``rows`` (ascending, numbered across the segments in order) with those of
        ``columns`` their segments hold, as :func:`~kinmatch.index.frames.live_records` of the
        segments' frames would give them."""
        from kinmatch.index.frames import live_records, table_to_frame

        columns = tuple(dict.fromkeys((self.id_column, *columns)))
        offsets = self.offsets()
        segment = np.searchsorted(offsets, rows, side="right") - 1
        frames = []
        for number in range(len(self.handles)):
            mine = rows[segment == number] - offsets[number]
            if len(mine):
                import pyarrow as pa

                frames.append(table_to_frame(self._table(number, columns).take(pa.array(mine))))
        return live_records(frames, self.id_column)


# ---------------------------------------------------------------------------------------------
# the runs


def _comparison_columns(comparisons: Any, side: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for comparison in comparisons for c in getattr(comparison, f"{side}_columns")))


@gc_paused()
def run_against_reports(records: Any, side: ReportSide, rows: SegmentRows, model: Any, top_k: int = 10,
                        progress: bool = False, n_jobs: int | None = None):
    """:func:`~kinmatch.match.pipeline.run_link` of residents ``records`` against the indexed
    reports with a fitted ``model``, doing only the residents' work: their candidates are looked
    up in ``side.reports``, and only the reports they met are read (``rows``) and encoded, the
    comparisons priced with ``side.rarity``. The table is the batch run's; the run's ``missing``
    frame holds the reports met (the comparisons' columns)."""
    from kinmatch.match import engine
    from kinmatch.match.candidates import packed_candidate_pairs
    from kinmatch.match.pipeline import LinkRun, empty_table, prepare_records, rank_candidates
    from kinmatch.match.settings import resolve_settings

    settings = resolve_settings(None)
    _check_run(model, settings, top_k)
    residents = _without_attrs(prepare_records(records, "resident"))
    if len(residents) == 0:
        return LinkRun(empty_table(settings), model, pd.DataFrame(), pd.DataFrame(), residents,
                       pd.DataFrame({"missing_id": pd.Series(dtype=object)}), settings)
    candidates = packed_candidate_pairs(residents, None, settings=settings.candidate_settings(), progress=progress,
                                        reports=side.reports).unpack()
    positions = side.positions(pd.unique(candidates.pairs["missing_id"].to_numpy(dtype=object)))
    comparisons = side.comparisons(settings)
    missing = rows.take(side.live[positions], _comparison_columns(comparisons, "right"))
    encoded = engine.encode(residents, missing, comparisons)
    return rank_candidates(residents, missing, candidates, encoded, model, settings, top_k, "resident", progress,
                           n_jobs)


@gc_paused()
def run_against_residents(records: Any, residents: pd.DataFrame, model: Any, top_k: int = 10,
                          progress: bool = False, n_jobs: int | None = None):
    """:func:`~kinmatch.match.pipeline.run_link` with ``by="missing"`` of new reports ``records``
    against the indexed ``residents`` with a fitted ``model``: the candidates as a batch run finds
    them, then only the residents they met encoded. The run's ``residents`` frame holds those."""
    from kinmatch.match import engine
    from kinmatch.match.candidates import packed_candidate_pairs
    from kinmatch.match.pipeline import LinkRun, empty_table, prepare_records, rank_candidates
    from kinmatch.match.settings import resolve_settings

    settings = resolve_settings(None)
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
                           n_jobs)


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

