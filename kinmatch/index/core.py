"""The standing index: records normalized once, linked against every day.

    >>> import kinmatch, tempfile                                                  # doctest: +SKIP
    >>> index, issues = kinmatch.Index.build(tempfile.mkdtemp(), missing=["reports.csv"],
    ...                                      residents=["station.csv"])             # doctest: +SKIP
    >>> issues = kinmatch.Index.add(index.path, missing=["reports-2026-12-06.csv"])  # doctest: +SKIP
    >>> index = kinmatch.Index.open(index.path)                                    # doctest: +SKIP
    >>> candidates = index.link(todays_residents, top_k=10)                        # doctest: +SKIP
    >>> index.query({"name": "吴春花", "sex": "女", "age": "六十多岁"}).head(3)     # doctest: +SKIP

:meth:`Index.link` returns the table :func:`kinmatch.link` returns for the same records and the
same model. With a model, a run does only its own records' work (:mod:`kinmatch.index.side`): the
reports' side of the candidate passes, the rarity tables the comparisons compute from the whole
report frame (marks, builds, name-key frequencies) and the reports' comparison columns are built
once, stored with each generation and mapped into memory on opening; a run looks its records'
keys up, reads and encodes only the reports they meet, then compares, scores, ranks and explains
as :func:`~kinmatch.match.pipeline.run_link` does. Without a model the run fits one, as a batch
run does, on the stored frames (:func:`~kinmatch.match.pipeline.run_link` itself).

The model is fitted once, when the index is built with both reports and residents (or given with
``model=``), and refitted only by :meth:`Index.refit`, so a day's results do not drift with the
day's additions. The on-disk layout and its safety are in :mod:`kinmatch.index.storage`.
"""

from __future__ import annotations

import contextlib
import json
import os
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import pandas as pd

from kinmatch.errors import InputError
from kinmatch.index import storage
from kinmatch.index.frames import live_records, read_frame, write_frame
from kinmatch.index.side import (
    PASS_COLUMNS,
    SIDE_VERSION,
    ReportSide,
    SegmentFiles,
    fingerprint,
    has_fast_path,
    map_rows,
    open_handles,
    run_against_reports,
    run_against_residents,
)
from kinmatch.issues import IssueLog, concat_issues

COMPACT_AFTER = 16
"""From this many segments of one kind, an ``add`` writes all the kind's records as one new
segment instead of appending a segment, so opening the index keeps reading a few files."""

Source = "str | os.PathLike | pd.DataFrame"
_KIND_OF = {"missing": "missing", "residents": "resident"}
_WORD = {"missing": "report", "residents": "resident"}


def _as_list(sources: Any) -> list:
    if sources is None:
        return []
    if isinstance(sources, (str, os.PathLike, pd.DataFrame)):
        return [sources]
    return list(sources)


def _read_source(source: Any, kind: str, on_duplicate: str = "stop") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(canonical frame, intake issues with a ``file`` column, source name) of a path or frame;
    ``on_duplicate`` as for :func:`kinmatch.intake.read_records`."""
    from kinmatch import intake

    def reader(src):
        return intake.read_records(src, _KIND_OF[kind], on_duplicate)

    if isinstance(source, pd.DataFrame):
        frame, issues = reader(source)
        return frame, issues.assign(file="<frame>"), "<frame>"
    path = Path(source)
    if path.is_dir():
        raise InputError(f"{_WORD[kind]} file {str(path)!r} is a folder; give the CSV or .xlsx file inside it")
    if not path.is_file():
        raise InputError(f"{_WORD[kind]} file {str(path)!r} does not exist; check the path")
    frame, issues = reader(path)
    return frame, issues.assign(file=path.name), path.name


def _normalized(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    from kinmatch.match.pipeline import prepare_records

    return prepare_records(frame, _KIND_OF[kind])


def _live(frames: Sequence[pd.DataFrame], kind: str) -> pd.DataFrame:
    """The records of ``frames`` read in order, a later version of an id replacing an earlier one."""
    return live_records(list(frames), storage.ID_COLUMNS[kind])


def _read_kind(directory: Path, manifest: dict[str, Any], kind: str,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The live records of ``kind`` (all their columns, or those of ``columns``)."""
    return _live([read_frame(directory / segment["file"], columns) for segment in manifest["segments"][kind]],
                 kind)


def _model_from_manifest(manifest: dict[str, Any]):
    if manifest.get("model") is None:
        return None
    from kinmatch.match.model import FellegiSunter

    return FellegiSunter.from_json(json.dumps(manifest["model"], ensure_ascii=False))


def _model_record(model: Any) -> dict[str, Any]:
    """The model as the JSON object the manifest embeds."""
    return json.loads(model.to_json())


def _load_model(model: Any):
    """A fitted model from a model object or the path of its JSON, checked against the settings."""
    from kinmatch.match.model import FellegiSunter
    from kinmatch.match.settings import resolve_settings

    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise InputError(f"model file {str(path)!r} does not exist; pass the JSON written by "
                             f"`kinmatch link --save-model` or `kinmatch train --save`")
        model = FellegiSunter.from_json(path)
    if not hasattr(model, "to_json"):
        raise InputError(f"an index stores its model as JSON; a {type(model).__name__} cannot be saved that way")
    if hasattr(model, "check_compatible"):
        model.check_compatible(resolve_settings(None).level_labels())
    return model


class Index:
    """An index opened for linking: its normalized ``missing`` reports, its ``residents`` (when
    indexed; both read when first asked for), its ``model`` and ``manifest``. Open with
    :meth:`open`; write with :meth:`build`, :meth:`add`, :meth:`refit`, :meth:`refresh`,
    :meth:`rebuild` (each a new generation on disk; an open :class:`Index` keeps linking the
    generation it opened, whose files it holds open)."""

    def __init__(self, path: Path, manifest: dict[str, Any], missing: pd.DataFrame | None,
                 residents: pd.DataFrame | None, model: Any, segments: dict[str, SegmentFiles] | None = None,
                 stored_side: tuple | None = None):
        self.path, self.manifest, self.model = path, manifest, model
        self._frames = {"missing": missing, "residents": residents}
        self._segments = segments or {}
        self._stored_side, self._side = stored_side, None
        self._clusters = None  # the stored clusters of duplicate reports, read when first asked for
        self._version: tuple | None = None  # (model, its version): see _model_version
        handles = [h for files in self._segments.values() for h in files.handles]
        handles += [stored_side[0]] if stored_side is not None else []
        # the files are closed with the index (or by close()); what they mapped stays readable
        self._closer = weakref.finalize(self, _close_files, handles)

    def close(self) -> None:
        """Close the files the index holds open (the records and report side it read stay usable;
        records not read yet cannot be read after this)."""
        self._closer()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def missing(self) -> pd.DataFrame:
        """The normalized reports, read from the segments when first asked for."""
        return self._frame("missing")

    @property
    def residents(self) -> pd.DataFrame:
        """The normalized residents, read from the segments when first asked for."""
        return self._frame("residents")

    def _frame(self, kind: str) -> pd.DataFrame:
        if self._frames[kind] is None:
            self._frames[kind] = _live(self._segments[kind].frames(), kind)
        return self._frames[kind]

    # -- reading ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Index":
        """Open the index at ``path``: its manifest and model now, its records when a run first
        needs them (from files held open, so later writers' clean-ups cannot take them away).
        Refused, with what to do, when it was written in another format version or normalized
        with other reference data."""
        directory = Path(path)
        for attempt in range(3):
            manifest = storage.read_manifest(directory)
            storage.check_manifest(manifest, directory)
            handles: list[BinaryIO] = []
            try:
                segments = {}
                for kind in storage.KINDS:
                    files = [segment["file"] for segment in manifest["segments"][kind]]
                    segments[kind] = SegmentFiles(open_handles(directory, files), storage.ID_COLUMNS[kind])
                    handles += segments[kind].handles
                break
            except FileNotFoundError:
                # two writes finished while this reader opened: the generation it read is gone
                for handle in handles:
                    handle.close()
                if attempt == 2:
                    raise
        return cls(directory, manifest, None, None, _model_from_manifest(manifest), segments,
                   _open_stored_side(directory, manifest))

    def report_side(self, settings: Any = None) -> ReportSide:
        """The indexed reports' side of linking (:class:`~kinmatch.index.side.ReportSide`): read
        from the index when it was stored for this kinmatch and these settings, else computed from
        the reports (once per opened index)."""
        from kinmatch.match.settings import resolve_settings

        if settings is None and self._side is not None and self._side.default:
            return self._side  # the fingerprint of the default settings is taken once per opened index
        default, settings = settings is None, resolve_settings(settings)
        wanted = fingerprint(settings)
        if self._side is not None and self._side.fingerprint == wanted:
            return self._side
        stored, side = self.manifest.get("report_side") or {}, None
        if self._stored_side is not None and stored.get("fingerprint") == wanted:
            try:
                side = ReportSide.load(*self._stored_side)
            except (ValueError, KeyError, OSError):  # damaged or of another layout: computed below
                side = None
        if side is None:
            import time
            import warnings

            started = time.perf_counter()
            side = ReportSide.compute(self.missing, settings)
            if default:
                warnings.warn(f"index {str(self.path)!r} holds no report side for this kinmatch (an older kinmatch "
                              f"wrote it), so it was computed from the {len(self.missing):,} reports in "
                              f"{time.perf_counter() - started:.0f} s, as it will be whenever the index is opened; "
                              f"kinmatch.Index.refresh({str(self.path)!r}) stores it once (as does the next "
                              f"`kinmatch index add` of reports)", stacklevel=3)
        side.default = default
        self._side = side
        return side

    def report_clusters(self):
        """The clusters of duplicate reports the index stores (:mod:`kinmatch.index.clusters`), the
        reports with duplicates only (a report not listed is a cluster of one); computed from the
        reports, with a warning, when the index stores none for this kinmatch."""
        if self._clusters is None:
            from kinmatch.index import clusters

            found = clusters.load(self.path, self.manifest)
            self._clusters = found if found is not None else clusters.compute_for(self)
        return self._clusters

    def info(self) -> dict[str, Any]:
        """What the index holds: format, versions, counts, sources and the model's version."""
        from kinmatch.match.pipeline import model_version

        keys = ("format_version", "kinmatch_version", "reference_data_version", "generation", "created_at",
                "updated_at", "counts", "sources", "model_origin")
        out = {"path": str(self.path)} | {key: self.manifest.get(key) for key in keys}
        out["model_version"] = model_version(self.model) if self.model is not None else None
        return out

    def __repr__(self) -> str:
        counts = self.manifest["counts"]
        return (f"Index({str(self.path)!r}: {counts['missing']} reports, {counts['residents']} residents, "
                f"model {'fitted' if self.model is not None else 'none'})")

    def run(self, records: Any, top_k: int = 10, by: str = "resident", progress: bool = False,
            n_jobs: int | None = None, fit_missing_model: bool = True, client: Any = None,
            dedupe_reports: bool | None = None, **cluster: Any):
        """:func:`~kinmatch.match.pipeline.run_link` of ``records`` against the index: residents
        against the indexed reports (``by="resident"``), or new reports against the indexed
        residents (``by="missing"``). Without a model in the index one is fitted on this run, as a
        batch run without ``--model`` does. ``client``: a ``dask.distributed.Client``; the same run on
        its cluster, the workers reading this index's files (``cluster``: ``shared_dir``,
        ``report_partitions``, ``chunk_size`` of :func:`kinmatch.distributed.run_on_index`).
        ``dedupe_reports`` (None: the settings' default): duplicate reports shown as one candidate,
        as ``run_link(dedupe_reports=True)`` shows them — residents against the clusters the index
        stores (:meth:`report_clusters`), new reports clustered among themselves."""
        from kinmatch.match.pipeline import run_link
        from kinmatch.match.settings import resolve_settings

        if by not in ("resident", "missing"):
            raise InputError(f"by must be 'resident' or 'missing', not {by!r}")
        if self.model is None and not fit_missing_model:
            raise InputError(f"index {str(self.path)!r} has no model; fit one with `kinmatch index refit "
                             f"{self.path} --residents RESIDENTS.csv` (or give one with --model)")
        dedupe = resolve_settings(None).dedupe_reports if dedupe_reports is None else bool(dedupe_reports)
        if client is not None and dedupe:
            raise InputError("clustering duplicate reports (dedupe_reports / --dedupe) does not run on a Dask "
                             "cluster yet; link without --workers/--scheduler (client=None) to cluster them")
        if client is not None:  # issue 14
            from kinmatch.distributed import run_on_index
            from kinmatch.match import pipeline

            if not self.manifest["counts"]["missing" if by == "resident" else "residents"]:
                return self.run(records, top_k, by, progress, n_jobs, fit_missing_model)  # the error without a client
            return run_on_index(self, records, client, pipeline, top_k=top_k, by=by, progress=progress, **cluster)
        counts = self.manifest["counts"]
        # with a model, only the given records' work is done (kinmatch.index.side); without one,
        # the model is fitted on the run, with random pairs drawn from every indexed record
        fast = self.model is not None and has_fast_path(resolve_settings(None))
        if by == "resident":
            if not counts["missing"]:
                raise InputError(f"index {str(self.path)!r} holds no reports to link residents against; add "
                                 f"some with `kinmatch index add {self.path} REPORTS.csv`")
            clusters = self.report_clusters() if dedupe else None
            if fast:
                return run_against_reports(records, self.report_side(), self.model, top_k=top_k, progress=progress,
                                           n_jobs=n_jobs, version=self._model_version(), report_clusters=clusters)
            return run_link(records, self.missing, top_k=top_k, by="resident", model=self.model,
                            progress=progress, n_jobs=n_jobs, prepared=("missing",), dedupe_reports=dedupe,
                            report_clusters=clusters)
        if not counts["residents"]:
            raise InputError(f"index {str(self.path)!r} holds no residents to link new reports against; add "
                             f"them with `kinmatch index add {self.path} --residents RESIDENTS.csv`")
        if fast:
            return run_against_residents(records, self.residents, self.model, top_k=top_k, progress=progress,
                                         n_jobs=n_jobs, version=self._model_version(), dedupe_reports=dedupe)
        return run_link(self.residents, records, top_k=top_k, by="missing", model=self.model,
                        progress=progress, n_jobs=n_jobs, prepared=("resident",), dedupe_reports=dedupe)

    def _model_version(self) -> str:
        """:func:`~kinmatch.match.pipeline.model_version` of ``self.model``, hashed once per model
        object (a query would otherwise serialise the model each time)."""
        from kinmatch.match.pipeline import model_version

        if self._version is None or self._version[0] is not self.model:
            self._version = (self.model, model_version(self.model))
        return self._version[1]

    def link(self, records: Any, top_k: int = 10, by: str = "resident", progress: bool = False,
             n_jobs: int | None = None, client: Any = None, dedupe_reports: bool | None = None,
             **cluster: Any) -> pd.DataFrame:
        """The linking table (as :func:`kinmatch.link` returns) of ``records`` — residents (a
        canonical or normalized frame, or a file path) against the indexed reports, or with
        ``by="missing"`` new reports against the indexed residents; ``client``: on a Dask cluster,
        ``dedupe_reports``: duplicate reports as one candidate (:meth:`run`)."""
        return self.run(records, top_k=top_k, by=by, progress=progress, n_jobs=n_jobs, client=client,
                        dedupe_reports=dedupe_reports, **cluster).table

    def query(self, record: Any, top_k: int = 10, kind: str = "resident") -> pd.DataFrame:
        """The candidates of one record — a dict, a Series or a one-row frame of canonical fields
        (``name``, ``sex``, ``age``, … as :func:`kinmatch.read_residents` names them) — against the
        index: a resident against the reports (``kind="resident"``), or a report against the
        residents (``kind="missing"``).

            >>> index.query({"resident_id": "R9", "name": "吴春花", "sex": "女"}, top_k=3)  # doctest: +SKIP
        """
        if kind not in ("resident", "missing"):
            raise InputError(f"kind must be 'resident' or 'missing', not {kind!r}")
        if isinstance(record, pd.DataFrame):
            frame = record
        elif isinstance(record, pd.Series):
            frame = record.to_frame().T
        elif isinstance(record, dict):
            frame = pd.DataFrame([record])
        else:
            raise InputError(f"query takes one record as a dict, Series or one-row DataFrame, not "
                             f"{type(record).__name__}")
        if len(frame) != 1:
            raise InputError(f"query takes one record, not {len(frame)}; use Index.link for several")
        id_column = "resident_id" if kind == "resident" else "missing_id"
        if id_column not in frame.columns:
            frame = frame.assign(**{id_column: "query"})
        if "source_row" not in frame.columns:
            from kinmatch import intake

            frame = (intake.read_residents if kind == "resident" else intake.read_missing)(frame).frame
        return self.link(frame, top_k=top_k, by=kind, n_jobs=1)

    # -- writing ---------------------------------------------------------------------------

    @classmethod
    def build(cls, path: str | os.PathLike, missing: Any = (), residents: Any = (), model: Any = None,
              wait: float = 60.0, progress: bool = False,
              on_duplicate: str = "stop", dedupe_reports: bool = False) -> tuple["Index", pd.DataFrame]:
        """Create an index at ``path`` (a new or empty folder) from report and resident sources
        (file paths or canonical frames). The model: ``model`` (a fitted model or its JSON path)
        when given, else fitted here by EM when both reports and residents are indexed, else none
        until :meth:`refit`. ``on_duplicate``: rows of one source sharing an id stop the build
        (``"stop"``) or the first / last is kept (:func:`kinmatch.intake.read_records`).
        ``dedupe_reports``: also cluster the duplicate reports of one person and keep the clusters
        up to date on every later ``add`` (:mod:`kinmatch.index.clusters`; about 100 CPU s per
        million reports at build), for ``link(..., dedupe_reports=True)``. Returns the opened index
        and the issues table."""
        directory = Path(path)
        _check_buildable(directory)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = storage.new_manifest() | {"dedupe_reports": bool(dedupe_reports)}
        prepared = _prepare(_as_list(missing), _as_list(residents), on_duplicate)
        with storage.writer_lock(directory, wait):
            _check_buildable(directory)  # another build may have finished while this one waited
            storage.collect_garbage(directory)  # what an interrupted build left
            issues = _write_generation(directory, manifest, prepared)
            if model is not None:
                _give_model(manifest, model)
            elif manifest["counts"]["missing"] and manifest["counts"]["residents"]:
                _fit_into(directory, manifest, None, progress)
            storage.commit(directory, manifest)
        return cls.open(directory), issues

    @classmethod
    def add(cls, path: str | os.PathLike, missing: Any = (), residents: Any = (),
            wait: float = 60.0, on_duplicate: str = "stop") -> pd.DataFrame:
        """Add reports and/or residents to the index at ``path``; a record whose id is indexed
        already replaces the old version, and the issues table (returned) says so. The model is
        kept. Atomic: a reader sees the index before or after the add, never part of it.
        ``on_duplicate`` as for :meth:`build`."""
        directory = Path(path)
        storage.check_manifest(storage.read_manifest(directory), directory)  # before normalizing anything
        prepared = _prepare(_as_list(missing), _as_list(residents), on_duplicate)
        with _next_generation(directory, wait) as manifest:
            issues = _write_generation(directory, manifest, prepared)
        return issues

    @classmethod
    def refit(cls, path: str | os.PathLike, residents: Any = None, model: Any = None, wait: float = 60.0,
              progress: bool = False) -> "Index":
        """Replace the index's model: ``model`` (a fitted model or its JSON path) when given, else
        one fitted by EM on the indexed reports and ``residents`` (file paths or frames; None: the
        indexed residents). Returns the opened index."""
        directory = Path(path)
        with _next_generation(directory, wait) as manifest:
            if model is not None:
                _give_model(manifest, model)
            else:
                _fit_into(directory, manifest, _as_list(residents) or None, progress)
        return cls.open(directory)

    @classmethod
    def refresh(cls, path: str | os.PathLike, wait: float = 60.0, dedupe_reports: bool | None = None) -> "Index":
        """Store the reports' side of linking (:mod:`kinmatch.index.side`) computed by this
        kinmatch, as a new generation with the same records, sources and model: for an index an
        older kinmatch wrote, which otherwise computes it whenever it is opened. In an index that
        keeps clusters of duplicate reports (``dedupe_reports``: True starts keeping them, False
        stops; None leaves it as built), they are clustered again, the report-pair model fitted
        anew on every report (:mod:`kinmatch.index.clusters`). Returns the opened index."""
        directory = Path(path)
        with _next_generation(directory, wait) as manifest:
            if dedupe_reports is not None:
                manifest["dedupe_reports"] = bool(dedupe_reports)
            _store_report_clusters(directory, manifest, _store_report_side(directory, manifest), None)
        return cls.open(directory)

    @classmethod
    def rebuild(cls, path: str | os.PathLike, wait: float = 60.0) -> "Index":
        """Normalize the stored records again with this kinmatch's normalizers and reference data
        (the canonical fields are stored beside the normalized ones), keeping sources and model:
        what to run when :meth:`open` refuses an index of another version."""
        from kinmatch.normalize.contract import NORMALIZED_COLUMNS

        directory = Path(path)
        with storage.writer_lock(directory, wait):
            old = storage.read_manifest(directory)
            if old.get("format") != storage.FORMAT:
                raise storage.IndexFormatError(f"{str(directory)!r} is not a kinmatch index")
            manifest = storage.new_manifest() | {k: old.get(k) for k in ("created_at", "sources", "model",
                                                                          "model_origin", "dedupe_reports")}
            manifest["generation"] = int(old.get("generation", 0)) + 1
            for kind in storage.KINDS:
                frame = _read_kind(directory, old, kind)
                if not len(frame):
                    continue
                canonical = frame.drop(columns=[c for c in frame.columns if c in NORMALIZED_COLUMNS])
                normalized = _normalized(canonical, kind)
                target = storage.segment_path(directory, kind, manifest["generation"])
                target.parent.mkdir(exist_ok=True)
                write_frame(normalized, target)
                manifest["segments"][kind] = [{"file": f"{storage.SEGMENTS}/{target.name}", "rows": len(normalized),
                                               "generation": manifest["generation"]}]
                manifest["counts"][kind] = len(normalized)
            if manifest.get("model") is not None:
                _load_model(_model_from_manifest(manifest))  # still fits this kinmatch's comparisons
            _store_report_clusters(directory, manifest, _store_report_side(directory, manifest), None)
            storage.commit(directory, manifest)
        return cls.open(directory)


@contextlib.contextmanager
def _next_generation(directory: Path, wait: float):
    """A writer's next generation of the index at ``directory``: under the writer lock, the current
    manifest (checked) with its generation counted up, committed when the block ends without an
    error (an error leaves the previous generation current)."""
    with storage.writer_lock(directory, wait):
        manifest = storage.read_manifest(directory)
        storage.check_manifest(manifest, directory)
        manifest["generation"] += 1
        yield manifest
        storage.commit(directory, manifest)


def _give_model(manifest: dict[str, Any], model: Any) -> None:
    """Store ``model`` (a fitted model or its JSON path) as the index's, with where it came from."""
    manifest["model"] = _model_record(_load_model(model))
    manifest["model_origin"] = {"how": "given", "source": str(model) if isinstance(
        model, (str, os.PathLike)) else type(model).__name__, "at": storage.now()}


def _close_files(handles: list) -> None:
    for handle in handles:
        handle.close()


def _open_stored_side(directory: Path, manifest: dict[str, Any]) -> tuple | None:
    """The stored report side's files, opened (arrays file) and mapped (rows), or None when the
    manifest names none of this layout or its files cannot be read (it is then computed)."""
    stored = manifest.get("report_side") or {}
    if stored.get("version") != SIDE_VERSION or not {"arrays", "rows"} <= set(stored):
        return None
    try:
        arrays = open(directory / stored["arrays"], "rb")
    except OSError:
        return None
    try:
        return arrays, map_rows(directory / stored["rows"])
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        arrays.close()
        return None


def _check_buildable(directory: Path) -> None:
    """Refuse to build into an index or a folder holding other files (an interrupted build's
    leftovers — the lock file, segments without a manifest — are fine)."""
    if not directory.exists():
        return
    if storage.is_index(directory):
        raise InputError(f"{str(directory)!r} is an index already; add records with `kinmatch index add "
                         f"{directory} FILE`, or build into a new folder")
    leftovers = {storage.LOCK, storage.SEGMENTS, storage.DERIVED}
    if not directory.is_dir() or any(p.name not in leftovers and not p.name.endswith(".part")
                                     for p in directory.iterdir()):
        raise InputError(f"{str(directory)!r} is not an empty folder; build the index into a new or empty folder")


def _fit_into(directory: Path, manifest: dict[str, Any], residents: list | None, progress: bool) -> None:
    """Fit a model by EM on the indexed reports and residents (or the given resident sources) and
    put it in ``manifest``."""
    from kinmatch.match.pipeline import run_link

    missing = _read_kind(directory, manifest, "missing")
    if residents is None:
        resident_frame = _read_kind(directory, manifest, "residents")
        what = "the indexed residents"
    else:
        resident_frame = _live([_normalized(_read_source(s, "residents")[0], "residents") for s in residents],
                               "residents")
        what = ", ".join(str(s) if not isinstance(s, pd.DataFrame) else "<frame>" for s in residents)
    if not len(missing) or not len(resident_frame):
        raise InputError("a model is fitted on reports and residents together, and the index holds no "
                         f"{'reports' if not len(missing) else 'residents'}; give residents with --residents "
                         "RESIDENTS.csv, or a fitted model with --model MODEL.json")
    run = run_link(resident_frame, missing, top_k=1, model=None, progress=progress)
    if run.model is None:
        raise InputError("no candidate pairs were found between these residents and the indexed reports, so no "
                         "model could be fitted; give more residents, or a fitted model with --model MODEL.json")
    manifest["model"] = _model_record(run.model)
    manifest["model_origin"] = {"how": "fitted", "residents": len(resident_frame), "reports": len(missing),
                                "on": what, "at": storage.now()}


def _indexed_origins(directory: Path, manifest: dict[str, Any], kind: str,
                     among: set | None = None) -> dict[str, str]:
    """Each indexed id of ``kind`` (of those ``among``, when given) → the file(s) its current
    version came from (only the id column of each segment is read)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    id_column = storage.ID_COLUMNS[kind]
    origin: dict[str, str] = {}
    wanted = None if among is None else pa.array(sorted(str(i) for i in among), type=pa.string())
    for segment in manifest["segments"][kind]:
        column = pq.read_table(directory / segment["file"], columns=[id_column]).column(id_column)
        if wanted is not None:  # a few new ids against a million: looked up in Arrow, not as Python text
            column = column.filter(pc.is_in(column, value_set=wanted.cast(column.type)))
        ids = column.to_pylist()
        where = " + ".join(segment.get("sources") or ["an earlier file"])
        origin.update(dict.fromkeys(ids, where))
    return origin


class _Prepared(NamedTuple):
    """One source read and normalized, ready to be written: its kind, file name, normalized
    frame and intake issues."""

    kind: str
    name: str
    normalized: pd.DataFrame
    issues: pd.DataFrame


def _prepare(missing: Iterable, residents: Iterable, on_duplicate: str = "stop") -> list[_Prepared]:
    """Read and normalize every source (before the write lock is taken: normalizing a large file
    takes minutes, and another writer need not wait for that)."""
    prepared = []
    for kind, sources in (("missing", list(missing)), ("residents", list(residents))):
        for source in sources:
            frame, issues, name = _read_source(source, kind, on_duplicate)
            prepared.append(_Prepared(kind, name, _normalized(frame, kind), issues))
    return prepared


def _write_generation(directory: Path, manifest: dict[str, Any], prepared: Sequence[_Prepared]) -> pd.DataFrame:
    """Write the prepared sources of each kind as one new segment of ``manifest``'s generation;
    note replaced ids in the issues table. Updates ``manifest`` (not yet committed)."""
    issue_tables = []
    (directory / storage.SEGMENTS).mkdir(exist_ok=True)
    generation = manifest["generation"]
    for kind in storage.KINDS:
        sources = [p for p in prepared if p.kind == kind]
        if not sources:
            continue
        id_column = storage.ID_COLUMNS[kind]
        incoming = {i for p in sources for i in p.normalized[id_column]}
        origin = _indexed_origins(directory, manifest, kind, among=incoming)
        known = set(origin)
        count = int(manifest["counts"][kind]) + len(incoming - known)
        new_frames = []
        for _kind, name, normalized, intake_issues in sources:
            issue_tables.append(intake_issues)
            rows = normalized["source_row"] if "source_row" in normalized.columns else pd.Series(
                range(2, len(normalized) + 2))
            log = IssueLog()
            for record_id, row in zip(normalized[id_column], rows):
                if record_id in known:
                    log.add(row=int(row), record_id=record_id, column=id_column, value=record_id,
                            reason="index_replaced", action="row_kept",
                            message=f"{_WORD[kind]} {record_id} was already in the index (from "
                                    f"{origin.get(record_id, 'an earlier file')}); this version from {name} "
                                    f"replaces it")
                origin[record_id] = name
            known.update(normalized[id_column])
            issue_tables.append(log.to_frame().assign(file=name))
            manifest["sources"].append({"kind": kind, "file": name, "rows": len(normalized), "replaced": len(log),
                                        "generation": generation, "added_at": storage.now()})
            new_frames.append(normalized)
        segments = manifest["segments"][kind]
        if len(segments) + 1 >= COMPACT_AFTER:
            new = _live([_read_kind(directory, manifest, kind), *new_frames], kind)
            segments = []
        else:
            new = _live(new_frames, kind)
        target = storage.segment_path(directory, kind, generation)
        write_frame(new, target)
        segments.append({"file": f"{storage.SEGMENTS}/{target.name}", "rows": len(new), "generation": generation,
                         "sources": [s["file"] for s in manifest["sources"] if s["generation"] == generation
                                     and s["kind"] == kind]})
        manifest["segments"][kind] = segments
        manifest["counts"][kind] = count
        if kind == "missing":
            missing = _store_report_side(directory, manifest, _live(new_frames, kind))
            _store_report_clusters(directory, manifest, missing, {i for f in new_frames for i in f[id_column]})
    tables = [t for t in issue_tables if len(t)]
    if not tables:
        return concat_issues().assign(file=pd.Series(dtype=object))
    files = pd.concat([t["file"] for t in tables], ignore_index=True)
    return concat_issues(*tables).assign(file=files.to_numpy())


def _store_report_side(directory: Path, manifest: dict[str, Any], added: pd.DataFrame | None = None) -> pd.DataFrame:
    """Compute the report side (:class:`~kinmatch.index.side.ReportSide`) of the reports
    ``manifest`` names, from its segments as a reader reads them, and write it with the
    generation (named in the manifest once committed). With ``added`` (the reports this generation
    adds or replaces), the side the manifest named before is updated by them where it can be
    (:meth:`~kinmatch.index.side.ReportSide.updated`: the same side, at a cost that grows with the
    added reports but for the candidate passes' side). Returns those reports."""
    from kinmatch.match.settings import resolve_settings

    previous = manifest.get("report_side")
    manifest["report_side"] = None
    settings = resolve_settings(None)
    side = None
    if added is not None and len(added) and previous:
        # the passes' columns are enough, unless the clusters are updated too (they read every column)
        columns = None if _keeps_clusters(manifest) else PASS_COLUMNS
        missing = _read_kind(directory, manifest, "missing", columns)
        side = _updated_side(directory, previous, missing, added, settings)
    if side is None:
        missing = _read_kind(directory, manifest, "missing")
        if not len(missing):
            return missing
        side = ReportSide.compute(missing, settings)
    arrays = storage.derived_path(directory, "missing", manifest["generation"], "arrays")
    rows = arrays.with_suffix(".arrow")
    arrays.parent.mkdir(exist_ok=True)
    side.save(arrays, rows)
    manifest["report_side"] = {"arrays": f"{storage.DERIVED}/{arrays.name}", "rows": f"{storage.DERIVED}/{rows.name}",
                               "version": SIDE_VERSION, "fingerprint": side.fingerprint}
    return missing


def _updated_side(directory: Path, previous: dict[str, Any], missing: pd.DataFrame, added: pd.DataFrame,
                  settings: Any) -> ReportSide | None:
    """The stored side ``previous`` (a manifest's ``report_side``) updated to ``missing`` by
    ``added``, or None when it cannot be read or updated."""
    opened = _open_stored_side(directory, {"report_side": previous})
    if opened is None:
        return None
    arrays, rows = opened
    try:
        return ReportSide.load(arrays, rows).updated(missing, added, settings)
    except (OSError, ValueError, KeyError):  # unreadable or of another layout: computed anew
        return None
    finally:
        arrays.close()


def _keeps_clusters(manifest: dict[str, Any]) -> bool:
    """Whether the index keeps clusters of duplicate reports (an index written before the flag
    existed keeps them when it stored some)."""
    return bool(manifest.get("dedupe_reports", manifest.get("report_clusters") is not None))


def _store_report_clusters(directory: Path, manifest: dict[str, Any], missing: pd.DataFrame,
                           changed: set | None) -> None:
    """In an index that keeps clusters (built with ``dedupe_reports``), cluster the duplicate
    reports among ``missing`` (every report ``manifest`` names) and write the clusters with the
    generation (:mod:`kinmatch.index.clusters`): only the pairs of the ``changed`` ids (added or
    replaced) against the stored clusters, or all of them (None)."""
    from kinmatch.index import clusters

    keeps = _keeps_clusters(manifest)
    previous = manifest.get("report_clusters")
    manifest["report_clusters"] = None
    if not len(missing) or not keeps:
        return
    found, how = clusters.update(missing, previous, directory, changed)
    clusters.save(directory, manifest, found, how)
