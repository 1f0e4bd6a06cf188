"""The linking run on a Dask cluster: the same table as one machine, split by chunks of residents.

    >>> from dask.distributed import Client                                    # doctest: +SKIP
    >>> import kinmatch                                                         # doctest: +SKIP
    >>> client = Client("tcp://scheduler:8786")                                 # doctest: +SKIP
    >>> table = kinmatch.link(residents, missing, client=client,                # doctest: +SKIP
    ...                       shared_dir="/mnt/shared/kinmatch")

:func:`kinmatch.match.pipeline.run_link` hands off here when given a ``client``; it has already
read, normalized and checked both tables and resolved the settings and any given model. Then:

1. Both normalized frames are written once to Parquet in ``shared_dir`` (a folder, or an fsspec
   URL such as ``s3://bucket/tmp``, that every worker can read): the reports never travel through
   the scheduler. Each worker reads them once and encodes them once for the comparisons
   (:func:`kinmatch.match.engine.encode` on the whole frames, so every frequency table is the
   single-machine one).
2. Phase 1, a task per chunk of residents (contiguous, in the residents' order): the chunk's
   candidate pairs against all reports and their comparison vectors. A resident's candidates depend
   on that resident and the reports only (every pass and the union are capped per resident), so
   the chunks' pairs, concatenated in order, are the single-machine pairs in the same order.
3. On the client: the vectors are gathered, the random pairs of the u estimate are drawn exactly
   as :func:`~kinmatch.match.pipeline.run_link` draws them (and compared on a worker), and the model
   is fitted once (:func:`~kinmatch.match.model.fitting.fit_model`) on the same rows in the same
   order, so its parameters are bit for bit the single-machine ones.
4. Phase 2, a task per chunk: scoring with that model (sent with the task), ranking and
   explanations. With ``by="resident"`` a chunk ranks its own residents; the chunks' tables are
   put in resident-id order as one machine orders them. ``by="missing"`` needs every chunk's
   candidates of a report, so the client scores and ranks all pairs and the workers write the
   explanations of the ranked rows, a slice each.

A worker that dies loses what it held; Dask runs those tasks again elsewhere from the same inputs,
so nothing is lost or counted twice. Tasks are pure: a chunk's result depends only on its bounds,
the files and the settings. The standing index (``kinmatch/index/``) will take the place of the
Parquet files of step 1. How to start a cluster, memory per worker and measured times:
``docs/distributed.md``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.errors import InputError

CHUNKS_PER_WORKER = 4
"""Default chunks of residents per worker: enough for the workers to finish together and for a
lost chunk to cost little, few enough that each chunk's rebuild of the report side of the
candidate index (a sixth of the candidate time at 2,000 × 20,000) stays small."""

MIN_CHUNK_RESIDENTS = 500
"""Fewest residents in a default chunk (the candidate index's own chunk size)."""

TUPLE_COLUMNS_KEY = b"kinmatch.tuple_columns"
"""Parquet schema metadata naming the columns whose cells are tuples (stored as lists)."""


# ---------------------------------------------------------------------------------------------
# the shared files


def write_records(frame: pd.DataFrame, url: str) -> None:
    """Write a normalized frame to Parquet at ``url`` (a path or fsspec URL), as the standing
    index writes its segments (:func:`kinmatch.index.frames.frame_to_table`: tuple cells stored as
    lists, restored on read), so :func:`read_records` gives back the same frame.

        >>> import tempfile, os
        >>> frame = pd.DataFrame({"missing_id": ["M1", "M2"], "marks": [("痣:脸:左",), ()]})
        >>> path = os.path.join(tempfile.mkdtemp(), "m.parquet")
        >>> write_records(frame, path)
        >>> read_records(path).equals(frame)
        True
    """
    import fsspec
    import pyarrow.parquet as pq

    from kinmatch.index.frames import frame_to_table

    with fsspec.open(url, "wb") as out:
        pq.write_table(frame_to_table(frame), out, compression="zstd")


def read_records(url: str) -> pd.DataFrame:
    """The frame :func:`write_records` (or the index's ``write_frame``) wrote at ``url``."""
    return read_part(RecordFiles((url,), ""))


class RecordFiles(NamedTuple):
    """Where one side's normalized records are: Parquet ``urls`` read in order (one file a run
    wrote, or the segments of a standing index), and for each file the row numbers of its records
    that are current (``live``; None: every row), a later segment's version of an id replacing an
    earlier one as :meth:`kinmatch.index.Index.open` reads them. ``rows``: how many records."""

    urls: tuple[str, ...]
    id_column: str
    live: tuple | None = None
    rows: int = -1


def _parquet_rows(url: str) -> int:
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(url, "rb") as source:
        return pq.ParquetFile(source).metadata.num_rows


def index_files(directory: str | os.PathLike, manifest: dict, kind: str) -> RecordFiles:
    """The :class:`RecordFiles` of the ``kind`` (``"missing"``, ``"residents"``) records of the
    index generation ``manifest`` describes: its segment files, read by the workers in place.
    With several segments the current rows of each are found from the id columns alone."""
    import pyarrow.parquet as pq

    id_column = "missing_id" if kind == "missing" else "resident_id"
    urls = tuple(os.path.join(os.fspath(directory), segment["file"]) for segment in manifest["segments"][kind])
    if len(urls) <= 1:
        return RecordFiles(urls, id_column, None, sum(_parquet_rows(u) for u in urls))
    ids = [pq.read_table(url, columns=[id_column]).column(id_column).to_numpy(zero_copy_only=False) for url in urls]
    number = np.concatenate([np.full(len(values), i) for i, values in enumerate(ids)])
    latest = ~pd.Series(np.concatenate(ids)).duplicated(keep="last").to_numpy()
    row = np.concatenate([np.arange(len(values)) for values in ids])
    live = tuple(row[latest & (number == i)] for i in range(len(urls)))
    return RecordFiles(urls, id_column, live, int(latest.sum()))


def read_part(files: RecordFiles, start: int = 0, stop: int | None = None,
              columns: list[str] | None = None) -> pd.DataFrame:
    """Records ``start:stop`` (positions among the current records) of ``files``, ``columns``
    only when given (those the files hold). A column at a time: the Arrow copy of one column,
    not of the whole file, is held at once; equal tuples come back as one object (as the
    normalizers and :func:`kinmatch.index.frames.read_frame` leave them)."""
    import fsspec
    import pyarrow.parquet as pq

    from kinmatch.index.frames import table_to_frame

    pieces, seen = [], 0
    for number, url in enumerate(files.urls):
        with fsspec.open(url, "rb") as source:
            parquet = pq.ParquetFile(source)
            n = parquet.metadata.num_rows
            rows = None if files.live is None else np.asarray(files.live[number])
            count = n if rows is None else len(rows)
            low, high = max(start - seen, 0), count if stop is None else min(stop - seen, count)
            seen += count
            if high <= low and not (number == len(files.urls) - 1 and not pieces):
                continue
            high = max(high, low)
            take = np.arange(low, high) if rows is None else rows[low:high]
            whole = rows is None and low == 0 and high == n
            schema = parquet.schema_arrow
            names = [c for c in schema.names if columns is None or c in columns]
            frame = {}
            for column in names:
                table = parquet.read(columns=[column]).replace_schema_metadata(schema.metadata)
                if not whole:
                    table = table.take(take)
                frame[column] = table_to_frame(table)[column]
            pieces.append(pd.DataFrame(frame, index=pd.RangeIndex(len(take))) if frame else pd.DataFrame(
                index=pd.RangeIndex(len(take))))
    if len(pieces) == 1:
        return pieces[0]
    pieces = [p for p in pieces if len(p)] or pieces[:1]
    if len(pieces) == 1:
        return pieces[0]
    frame = pd.concat(pieces, ignore_index=True)
    # a column one segment lacked reads as blank (None), as the index reads it
    for column in [c for c in frame.columns if not all(c in p.columns for p in pieces)]:
        if frame[column].dtype.kind == "O":
            frame[column] = frame[column].where(frame[column].notna(), None)
    return frame


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name if "://" in folder else os.path.join(folder, name)


class SharedRecords(NamedTuple):
    """Where one run's normalized frames are, a name for the run (keys of its tasks), and the
    report partitions: ``edges[p]:edges[p + 1]`` are partition ``p``'s report positions."""

    residents: RecordFiles
    missing: RecordFiles
    token: str
    edges: tuple[int, ...]

    @property
    def n_partitions(self) -> int:
        return len(self.edges) - 1


class TableParts(NamedTuple):
    """What the linking table is made with, handed over by :func:`~kinmatch.match.pipeline.run_link`
    (so this module needs no import of the pipeline, which imports it): ``score(model, vectors,
    settings)`` → (partial weights, match weight, probability); ``empty_table(settings)``;
    ``model_version(model)``; ``columns`` of the table, in order."""

    score: Callable[..., tuple]
    empty_table: Callable[..., pd.DataFrame]
    model_version: Callable[[Any], str]
    columns: list[str]


# ---------------------------------------------------------------------------------------------
# the worker side: one partition of the reports loaded, encoded and indexed once per worker process


class PartitionStatistics(NamedTuple):
    """What a partition of the reports takes from all of them to give the pairs and levels the
    whole would: the candidate passes' statistics (:func:`report_statistics_task`) and the
    comparisons with the rarity tables they would compute from all reports (name keys, marks,
    builds) filled in (:func:`comparison_tables_task`)."""

    reports: Any
    comparisons: list


class Loaded(NamedTuple):
    """One partition of one run on a worker: the residents, both sides encoded for the
    comparisons, and the reports' side of the candidate passes. The report frame itself is not
    kept: the encodings and the index hold what the tasks read."""

    residents: pd.DataFrame
    encoded: Any
    reports: Any


_LOADED: dict[tuple[str, int], Loaded] = {}
def _tune_malloc() -> None:
    """Give this worker process glibc's allocation behaviour of a plain Python process, once
    (:func:`kinmatch._parallel.keep_freed_memory`).

    Why: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``; setting it also turns
    off glibc's growing mmap threshold, so every numpy temporary above 128 kB is mapped and
    page-faulted afresh. The candidate search allocates many such arrays: at 2,000 × 20,000 the
    worker spent 1.0–1.1 s of system CPU against 0.02–0.14 s with these settings, and one process
    0.2 s (bench/RESULTS.md)."""
    from kinmatch._parallel import keep_freed_memory

    keep_freed_memory()
_RESIDENTS: dict[str, pd.DataFrame] = {}
_LOAD_LOCK = threading.RLock()


def _worker_residents(shared: SharedRecords) -> pd.DataFrame:
    with _LOAD_LOCK:
        _tune_malloc()
        residents = _RESIDENTS.get(shared.token)
        if residents is None:
            _RESIDENTS.clear()
            residents = _RESIDENTS[shared.token] = read_part(shared.residents)
        return residents


def _worker_part(shared: SharedRecords, settings: Any, part: int = 0,
                 statistics: PartitionStatistics | None = None) -> Loaded:
    """Partition ``part`` of this run's reports, read, encoded and indexed once per worker
    process; another run's are dropped, so a long-lived worker holds one run's records at a time.
    ``statistics``: those of all reports (needed when there are several partitions)."""
    from kinmatch.match import engine
    from kinmatch.match.candidates import report_side

    with _LOAD_LOCK:
        loaded = _LOADED.get((shared.token, part))
        if loaded is None:
            for key in [key for key in _LOADED if key[0] != shared.token]:
                del _LOADED[key]
            residents = _worker_residents(shared)
            missing = read_part(shared.missing, shared.edges[part], shared.edges[part + 1])
            comparisons = settings.comparisons if statistics is None else statistics.comparisons
            loaded = Loaded(residents, engine.encode(residents, missing, comparisons),
                            report_side(missing, settings.candidate_settings(),
                                        None if statistics is None else statistics.reports))
            del missing
            _LOADED[(shared.token, part)] = loaded
        return loaded


def _forget(token: str) -> None:
    with _LOAD_LOCK:
        for key in [key for key in _LOADED if key[0] == token]:
            del _LOADED[key]
        _RESIDENTS.pop(token, None)


class ChunkPairs(NamedTuple):
    """Phase 1 of one chunk: its candidate pairs (``resident_id``, ``missing_id``, ``passes``,
    ``prescore``), their comparison vectors (same rows, same order) and the per-pass counts."""

    pairs: pd.DataFrame
    vectors: pd.DataFrame
    counts: pd.DataFrame


def candidates_task(shared: SharedRecords, settings: Any, start: int, stop: int) -> ChunkPairs:
    """Phase 1 for residents ``start:stop`` (positions in the residents' frame), one partition."""
    from kinmatch.match import engine
    from kinmatch.match.candidates import packed_candidate_pairs

    loaded = _worker_part(shared, settings)
    chunk = loaded.residents.iloc[start:stop].reset_index(drop=True)
    candidates = packed_candidate_pairs(chunk, None, settings=settings.candidate_settings(), progress=False,
                                        reports=loaded.reports).unpack()
    vectors = engine.compare_pairs(candidates.pairs[["resident_id", "missing_id"]], encoded=loaded.encoded,
                                   n_jobs=1)
    return ChunkPairs(candidates.pairs, vectors, candidates.counts)


def report_statistics_task(shared: SharedRecords, settings: Any) -> Any:
    """The candidate passes' statistics of all reports
    (:func:`kinmatch.match.candidates.report_statistics`), from the columns they need only."""
    from kinmatch.match.candidates import report_statistics, statistics_columns

    candidate_settings = settings.candidate_settings()
    missing = read_part(shared.missing, columns=statistics_columns(candidate_settings))
    return report_statistics(missing, candidate_settings)


def comparison_tables_task(shared: SharedRecords, settings: Any) -> list:
    """The comparisons of ``settings`` with the rarity tables they would compute from all reports
    filled in (:func:`_frequency_fills`), from the columns those need only."""
    from kinmatch.match.engine import with_columns

    fills = _frequency_fills(settings.comparisons)
    if not fills:
        return list(settings.comparisons)
    columns = sorted({column for comparison, _ in fills for column in comparison.right_columns})
    missing = read_part(shared.missing, columns=columns)
    tables = {id(comparison): table_of for comparison, table_of in fills}
    comparisons = []
    for comparison in settings.comparisons:
        table_of = tables.get(id(comparison))
        if table_of is not None:
            comparison = copy.copy(comparison)
            comparison.frequency = table_of(with_columns(missing, comparison.right_columns))
        comparisons.append(comparison)
    return comparisons


def _frequency_fills(comparisons: list) -> list[tuple[Any, Callable]]:
    """The comparisons that compute a rarity table from the reports they are given (their
    ``frequency`` left None), each with the function that computes it from all reports. A
    comparison of another kind that does so cannot be split by reports: an error says so."""
    from kinmatch.match.comparisons.build import BuildComparison, build_frequency
    from kinmatch.match.comparisons.clothing import ClothingComparison, LaterClothingComparison, clothing_frequency
    from kinmatch.match.comparisons.marks import MarksComparison, mark_frequency
    from kinmatch.match.comparisons.name import NameComparison, key_frequency

    tables = {NameComparison: key_frequency, MarksComparison: lambda missing: mark_frequency(missing["marks"]),
              BuildComparison: lambda missing: build_frequency(missing["build"]),
              ClothingComparison: lambda missing: clothing_frequency(missing["clothing_items"]),
              LaterClothingComparison: lambda missing: clothing_frequency(missing["clothing_items"])}
    fills = []
    for comparison in comparisons:
        if getattr(comparison, "frequency", "") is not None:
            continue
        if type(comparison) not in tables:
            raise InputError(f"comparison {comparison.name!r} ({type(comparison).__name__}) computes a rarity table "
                             f"from the reports it is given, and kinmatch does not know how to compute it from all "
                             f"reports for a partition of them; give it its table (frequency=…) or run with "
                             f"report_partitions=1")
        fills.append((comparison, tables[type(comparison)]))
    return fills


def pairs_task(shared: SharedRecords, settings: Any, statistics: PartitionStatistics, part: int, start: int,
               stop: int, fallback: bool = False, needy: np.ndarray | None = None) -> Any:
    """What each pass keeps for residents ``start:stop`` against report partition ``part``
    (:func:`kinmatch.match.candidates.partition_pairs`)."""
    from kinmatch.match.candidates import partition_pairs

    loaded = _worker_part(shared, settings, part, statistics)
    chunk = loaded.residents.iloc[start:stop].reset_index(drop=True)
    return partition_pairs(chunk, loaded.reports, settings.candidate_settings(), shared.edges[part], fallback, needy)


def needy_task(settings: Any, parts: list) -> np.ndarray:
    from kinmatch.match.candidates import needy_residents

    return needy_residents(parts, settings.candidate_settings())


def union_task(settings: Any, n_reports: int, parts: list, fallback_parts: list) -> tuple:
    from kinmatch.match.candidates import merge_partitions

    return merge_partitions(parts, fallback_parts, n_reports, settings.candidate_settings())


def part_vectors_task(shared: SharedRecords, settings: Any, statistics: PartitionStatistics, part: int, start: int,
                      union: tuple) -> tuple[np.ndarray, np.ndarray, dict]:
    """The comparison levels of the chunk's pairs whose report is in partition ``part``: (their
    rows among the chunk's pairs, their report ids, the levels by comparison)."""
    from kinmatch.match.engine import compare_positions

    loaded = _worker_part(shared, settings, part, statistics)
    r, m = union[0], union[1]
    rows = np.flatnonzero((m >= shared.edges[part]) & (m < shared.edges[part + 1]))
    rp = m[rows] - shared.edges[part]
    columns = compare_positions(loaded.encoded, r[rows] + start, rp)
    return rows, loaded.encoded.report_ids.to_numpy()[rp], columns


def assemble_task(shared: SharedRecords, settings: Any, start: int, stop: int, union: tuple,
                  parts: list) -> ChunkPairs:
    """The chunk's :class:`ChunkPairs` from the merged pairs and each partition's levels: what
    :func:`candidates_task` gives over all reports."""
    from kinmatch.match.candidates import PackedCandidates

    r, m, pass_bits, prescore, counts = union
    residents = _worker_residents(shared)
    resident_ids = residents["resident_id"].iloc[start:stop].astype(str).to_numpy()
    missing_ids = np.empty(len(r), dtype=object)
    columns: dict[str, np.ndarray] = {}
    for rows, ids, levels in parts:
        missing_ids[rows] = ids
        for name, values in levels.items():
            if name not in columns:
                columns[name] = np.empty(len(r), dtype=values.dtype)
            columns[name][rows] = values
    names = tuple(p.name for p in settings.candidate_settings().passes)
    candidates = PackedCandidates(resident_ids, missing_ids, r.astype(np.int64), np.arange(len(r)), pass_bits,
                                  prescore, counts, names).unpack()
    index = pd.MultiIndex.from_arrays([resident_ids[r], missing_ids.astype(str)], names=["resident_id", "missing_id"])
    return ChunkPairs(candidates.pairs, pd.DataFrame(columns, index=index), counts)


def vectors_of(result: ChunkPairs) -> tuple[pd.DataFrame, np.ndarray]:
    """The vectors and pre-scores of a phase-1 result (what the client gathers). The index keeps
    only the ids the chunk's pairs use: as built, its levels hold every id of the run."""
    vectors = result.vectors.set_axis(result.vectors.index.remove_unused_levels(), axis=0)
    return vectors, result.pairs["prescore"].to_numpy(dtype=float)


def floors_of(result: ChunkPairs, settings: Any) -> np.ndarray:
    """The match weight each pair of a phase-1 result is ranked from (its passes' ``min_weight``)."""
    from kinmatch.match.candidates import weight_floors

    floor = weight_floors(result.pairs, settings.candidate_settings())
    return np.full(len(result.pairs), -np.inf) if floor is None else floor


def fitted_of(result: ChunkPairs, settings: Any) -> np.ndarray:
    """Which pairs of a phase-1 result the model is fitted on (those of a pass with ``fit``, as
    :func:`~kinmatch.match.pipeline.rank_candidates` fits it)."""
    from kinmatch.match.candidates import fit_rows

    rows = fit_rows(result.pairs, settings.candidate_settings())
    mask = np.ones(len(result.pairs), dtype=bool)
    if rows is not None:
        mask[:] = False
        mask[rows] = True
    return mask


def counts_of(result: ChunkPairs) -> pd.DataFrame:
    """The per-pass counts of a phase-1 result."""
    return result.counts


def compare_task(shared: SharedRecords, settings: Any, pairs: pd.DataFrame) -> pd.DataFrame:
    """Comparison vectors of ``pairs`` (the random pairs of the u estimate), one partition."""
    from kinmatch.match import engine

    return engine.compare_pairs(pairs, encoded=_worker_part(shared, settings).encoded, n_jobs=1)


def part_compare_task(shared: SharedRecords, settings: Any, statistics: PartitionStatistics, part: int,
                      lp: np.ndarray, rp: np.ndarray) -> dict:
    """Levels of pairs given as resident positions and report positions in partition ``part``."""
    from kinmatch.match.engine import compare_positions

    return compare_positions(_worker_part(shared, settings, part, statistics).encoded, lp, rp)


class RankedRows(NamedTuple):
    """Phase 2 of one chunk before the explanations: its pairs kept (ids and levels), their
    ranks, probabilities, match weights and partial weights; what the explanations and the table
    need, without the chunk's other pairs."""

    resident_ids: np.ndarray
    missing_ids: np.ndarray
    levels: np.ndarray
    ranks: np.ndarray
    probability: np.ndarray
    match_weight: np.ndarray
    weights: pd.DataFrame


def _ranked_rows(settings: Any, parts: TableParts, result: ChunkPairs, model: Any, top_k: int) -> RankedRows:
    from kinmatch.match.candidates import weight_floors
    from kinmatch.match.rank import rank_codes, sorted_codes

    weights, match_weight, probability = parts.score(model, result.vectors, settings)
    prescore = result.pairs["prescore"].to_numpy(dtype=float) if "prescore" in result.pairs.columns else None
    # the vectors' index levels are sorted ids: codes compare as in one machine's run
    rows, ranks = rank_codes(sorted_codes(result.vectors.index, 0), sorted_codes(result.vectors.index, 1),
                             match_weight, prescore, top_k, weight_floors(result.pairs, settings.candidate_settings()))
    pairs = result.pairs.iloc[rows]
    return RankedRows(pairs["resident_id"].astype(str).to_numpy(dtype=object),
                      pairs["missing_id"].astype(str).to_numpy(dtype=object),
                      result.vectors.iloc[rows][settings.names].to_numpy(), ranks, probability[rows],
                      match_weight[rows], weights.iloc[rows])


def rank_task(shared: SharedRecords, settings: Any, parts: TableParts, result: ChunkPairs, model: Any,
              version: str, top_k: int) -> pd.DataFrame:
    """Phase 2 of one chunk with ``by="resident"``, one partition: its ranked, explained table,
    residents in id order (the rows :func:`~kinmatch.match.pipeline.run_link` gives for them)."""
    from kinmatch.match.explain import explain_pairs

    if len(result.vectors) == 0:
        return parts.empty_table(settings)
    encoded = _worker_part(shared, settings).encoded
    ranked = _ranked_rows(settings, parts, result, model, top_k)
    lp = encoded.resident_ids.get_indexer(ranked.resident_ids)
    rp = encoded.report_ids.get_indexer(ranked.missing_ids)
    texts = explain_pairs(encoded, lp, rp, ranked.levels, ranked.weights.to_numpy())
    return _table(_worker_residents(shared), settings, parts, ranked, texts, version)


def ranked_task(settings: Any, parts: TableParts, result: ChunkPairs, model: Any, top_k: int) -> RankedRows | None:
    """Phase 2 of one chunk, several partitions: the ranking (no reports needed)."""
    return _ranked_rows(settings, parts, result, model, top_k) if len(result.vectors) else None


def part_explain_task(shared: SharedRecords, settings: Any, statistics: PartitionStatistics, part: int,
                      ranked: RankedRows | None) -> tuple[np.ndarray, list[str]]:
    """Explanations of the chunk's ranked rows whose report is in partition ``part``: (their
    positions among the ranked rows, the texts)."""
    from kinmatch.match.explain import explain_pairs

    if ranked is None:
        return np.empty(0, np.int64), []
    encoded = _worker_part(shared, settings, part, statistics).encoded
    rp = encoded.report_ids.get_indexer(ranked.missing_ids)
    mine = np.flatnonzero(rp >= 0)
    lp = encoded.resident_ids.get_indexer(ranked.resident_ids[mine])
    return mine, explain_pairs(encoded, lp, rp[mine], ranked.levels[mine], ranked.weights.iloc[mine].to_numpy())


def table_task(shared: SharedRecords, settings: Any, parts: TableParts, ranked: RankedRows | None, explained: list,
               version: str) -> pd.DataFrame:
    """The chunk's ranked table from its ranking and the partitions' explanations."""
    if ranked is None:
        return parts.empty_table(settings)
    texts = np.empty(len(ranked.ranks), dtype=object)
    for rows, part_texts in explained:
        texts[rows] = part_texts
    return _table(_worker_residents(shared), settings, parts, ranked, list(texts), version)


def _table(residents: pd.DataFrame, settings: Any, parts: TableParts, ranked: RankedRows, explanations: list[str],
           version: str) -> pd.DataFrame:
    """The linking table of ranked rows, built as :func:`~kinmatch.match.pipeline.run_link` builds it."""
    from kinmatch.match.rank import identification_potential

    table = pd.DataFrame({"resident_id": ranked.resident_ids, "missing_id": ranked.missing_ids,
                          "rank": ranked.ranks, "match_probability": ranked.probability,
                          "match_weight": ranked.match_weight})
    table = pd.concat([table, ranked.weights.reset_index(drop=True)], axis=1)
    table["explanation"] = explanations
    positions = pd.Index(residents["resident_id"].astype(str)).get_indexer(pd.unique(table["resident_id"]))
    potential = identification_potential(residents.iloc[np.sort(positions)])
    table["identification_potential"] = potential.reindex(table["resident_id"]).to_numpy()
    table["model_version"] = version
    return table[parts.columns].astype({"rank": int, "identification_potential": int})


def explain_task(shared: SharedRecords, settings: Any, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray,
                 weights: np.ndarray) -> list[str]:
    """Explanations of ranked rows given as record positions, levels and partial weights."""
    from kinmatch.match.explain import explain_pairs

    return explain_pairs(_worker_part(shared, settings).encoded, lp, rp, levels, weights)


# ---------------------------------------------------------------------------------------------
# the client side


def _workers(client: Any) -> list[str]:
    if not hasattr(client, "scheduler_info"):
        return []
    return sorted(client.scheduler_info(n_workers=-1).get("workers", {}))


def _n_workers(client: Any) -> int:
    return max(1, len(_workers(client)))


def chunk_bounds(n_residents: int, n_workers: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` ranges of resident positions, one task each: ``chunk_size``
    residents, or by default :data:`CHUNKS_PER_WORKER` chunks per worker of at least
    :data:`MIN_CHUNK_RESIDENTS`.

        >>> chunk_bounds(1200, 1)
        [(0, 500), (500, 1000), (1000, 1200)]
        >>> chunk_bounds(10, 2, chunk_size=4)
        [(0, 4), (4, 8), (8, 10)]
    """
    if chunk_size is None:
        chunk_size = max(MIN_CHUNK_RESIDENTS, math.ceil(n_residents / (CHUNKS_PER_WORKER * max(1, n_workers))))
    if int(chunk_size) < 1:
        raise InputError(f"chunk_size must be at least 1 resident, not {chunk_size}")
    return [(start, min(start + int(chunk_size), n_residents)) for start in range(0, n_residents, int(chunk_size))]


def partition_edges(n_reports: int, partitions: int) -> tuple[int, ...]:
    """Report positions where each of ``partitions`` contiguous, near-equal partitions starts (and
    the end).

        >>> partition_edges(10, 3)
        (0, 4, 7, 10)
    """
    if int(partitions) < 1:
        raise InputError(f"report_partitions must be at least 1, not {partitions}")
    partitions = min(int(partitions), max(n_reports, 1))
    size, extra = divmod(n_reports, partitions)
    return tuple(int(x) for x in np.cumsum([0] + [size + (p < extra) for p in range(partitions)]))


@contextlib.contextmanager
def shared_records(residents: pd.DataFrame, missing: pd.DataFrame | RecordFiles, shared_dir: str | None,
                   partitions: int = 1, residents_on_disk: RecordFiles | None = None) -> Iterator[SharedRecords]:
    """The run's :class:`SharedRecords`: each frame written to a run folder under ``shared_dir``
    (None: a temporary folder on this machine, which only workers on this machine can read),
    removed afterwards; a side given as :class:`RecordFiles` (an index's segments) is read where
    it is (``residents_on_disk``: the residents so, with ``residents`` their frame)."""
    token = uuid.uuid4().hex[:12]
    with contextlib.ExitStack() as stack:
        def folder() -> str:
            nonlocal shared_dir
            if shared_dir is None:
                shared_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="kinmatch-dask-"))
            import fsspec

            run_folder = _join(str(shared_dir), f"kinmatch-run-{token}")
            fs, path = fsspec.core.url_to_fs(run_folder)
            if not fs.exists(path):
                fs.makedirs(path, exist_ok=True)
                stack.callback(fs.rm, path, recursive=True)
            return run_folder

        def written(frame: pd.DataFrame, name: str, id_column: str) -> RecordFiles:
            url = _join(folder(), name)
            write_records(frame, url)
            return RecordFiles((url,), id_column, None, len(frame))

        resident_files = residents_on_disk or written(residents, "residents.parquet", "resident_id")
        missing_files = missing if isinstance(missing, RecordFiles) else written(missing, "missing.parquet",
                                                                                "missing_id")
        yield SharedRecords(resident_files, missing_files, token, partition_edges(missing_files.rows, partitions))


def _check_reachable(client: Any, shared: SharedRecords) -> None:
    """Every worker can open the run's files, or an error that says which folder to share."""
    import fsspec

    def reachable(url: str) -> bool:
        fs, path = fsspec.core.url_to_fs(url)
        return fs.exists(path)

    for url in (*shared.missing.urls[:1], *shared.residents.urls[:1]):
        answers = client.run(reachable, url)
        blind = sorted(address for address, seen in answers.items() if not seen)
        if blind:
            raise InputError(f"the workers {blind} cannot read {url!r}, so they could not load the records; pass "
                             f"shared_dir= (CLI: --shared-dir) a folder or URL every worker can reach, such as a "
                             f"shared filesystem path or s3://bucket/prefix, and keep a standing index there too")


def _progress(futures: list, desc: str, enabled: bool) -> None:
    """Wait for ``futures``, with a bar over completed ones when ``enabled``."""
    from dask.distributed import as_completed, wait

    if not enabled:
        wait(futures)
        return
    from tqdm.auto import tqdm

    for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, unit="task", leave=False):
        pass


class ClusterRun(NamedTuple):
    """What :func:`run_on_cluster` gives back to :func:`~kinmatch.match.pipeline.run_link`: the
    ranked ``table``, the ``model`` (fitted here when none was given), the candidates' ``vectors``
    and the per-pass ``counts``."""

    table: pd.DataFrame
    model: Any
    vectors: pd.DataFrame
    counts: pd.DataFrame


class _Submitter:
    """``client.submit`` with the run's task keys, and each report partition's tasks sent to one
    worker (another may take them if it is lost), so a worker loads the partitions it is given."""

    def __init__(self, client: Any, shared: SharedRecords):
        self.client, self.token = client, shared.token
        workers = _workers(client)
        self.home = [workers[p % len(workers)] for p in range(shared.n_partitions)] if workers else []

    def __call__(self, kind: str, number: Any, function: Callable, *args: Any, part: int | None = None) -> Any:
        options: dict[str, Any] = {}
        if part is not None and self.home and len(self.home) > 1:
            options = {"workers": [self.home[part]], "allow_other_workers": True}
        return self.client.submit(function, *args, pure=False, key=f"kinmatch-{kind}-{self.token}-{number}", **options)


def run_on_cluster(residents: pd.DataFrame, missing: pd.DataFrame, client: Any, settings: Any, model: Any,
                   parts: TableParts, top_k: int = 10, by: str = "resident", progress: bool = True,
                   shared_dir: str | None = None, chunk_size: int | None = None, report_partitions: int = 1,
                   on_disk: dict[str, RecordFiles] | None = None) -> ClusterRun:
    """The linking run of ``residents`` × ``missing`` (normalized frames, as
    :func:`~kinmatch.match.pipeline.prepare_records` returns them, both non-empty) on the Dask
    ``client``'s cluster; ``settings`` a resolved LinkSettings, ``model`` a fitted model or None
    (fitted here). Called by ``run_link(..., client=client)``, which returns it as a ``LinkRun``,
    and by :func:`run_on_index`; use those. ``chunk_size``: residents per task (default: see
    :func:`chunk_bounds`). ``report_partitions``: the reports split in that many partitions, each
    loaded by one worker (``by="resident"`` only). ``on_disk``: ``{"missing": …, "residents": …}``
    sides the workers read where they are (an index's segments) instead of a copy written here."""
    on_disk = on_disk or {}
    if int(report_partitions) > 1 and by != "resident":
        raise InputError("report partitions split the reports that residents are linked against; with "
                         "by='missing' the reports are the new ones, so run with report_partitions=1")
    if progress and getattr(client, "dashboard_link", None):
        print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
    bounds = chunk_bounds(len(residents), _n_workers(client), chunk_size)
    with shared_records(residents, on_disk.get("missing", missing), shared_dir, int(report_partitions),
                        on_disk.get("residents")) as shared:
        _check_reachable(client, shared)
        submit = _Submitter(client, shared)
        try:
            statistics = None
            if shared.n_partitions > 1:
                # two tasks, on two workers where there are two: neither needs the other
                statistics = submit("statistics", 0, PartitionStatistics,
                                    submit("report-statistics", 0, report_statistics_task, shared, settings, part=0),
                                    submit("comparison-tables", 0, comparison_tables_task, shared, settings, part=1))
                phase1 = _partitioned_candidates(submit, shared, settings, statistics, bounds, len(missing))
            else:
                phase1 = [submit("candidates", n, candidates_task, shared, settings, start, stop)
                          for n, (start, stop) in enumerate(bounds)]
            random_vectors = None
            if model is None:
                from kinmatch.match.model.fitting import random_pairs

                pairs = random_pairs(residents, missing, settings.n_random_pairs, settings.random_state)
                random_vectors = _random_vectors(submit, shared, settings, statistics, pairs, residents, missing)
            _progress(phase1, "候选 candidates", progress)
            gathered = client.gather([submit("vectors", n, vectors_of, f) for n, f in enumerate(phase1)])
            counts = _sum_counts(client.gather([submit("counts", n, counts_of, f) for n, f in enumerate(phase1)]))
            vectors = pd.concat([v for v, _ in gathered]) if gathered else pd.DataFrame()
            if len(vectors) == 0:
                return ClusterRun(parts.empty_table(settings), model, vectors, counts)
            if model is None:
                from kinmatch.match.model.fitting import fit_model

                fit_vectors = vectors
                if any(not p.fit for p in settings.candidate_settings().passes):
                    fitted = client.gather([submit("fitted", n, fitted_of, f, settings) for n, f in enumerate(phase1)])
                    fit_vectors = vectors[np.concatenate(fitted)]
                model = fit_model(fit_vectors, random_vectors(), len(residents), settings, n_reports=len(missing))
            version = parts.model_version(model)
            if by == "resident":
                if shared.n_partitions > 1:
                    phase2 = _partitioned_tables(submit, shared, settings, statistics, parts, phase1, model,
                                                 version, int(top_k))
                else:
                    phase2 = [submit("rank", n, rank_task, shared, settings, parts, f, model, version, int(top_k))
                              for n, f in enumerate(phase1)]
                _progress(phase2, "排序 ranking", progress)
                table = _in_resident_order(client.gather(phase2), parts, settings)
            else:
                prescore = np.concatenate([p for _, p in gathered])
                floor = None
                if any(p.min_weight is not None for p in settings.candidate_settings().passes):
                    floor = np.concatenate(client.gather([submit("floors", n, floors_of, f, settings)
                                                          for n, f in enumerate(phase1)]))
                table = _rank_by_missing(client, submit, shared, settings, parts, residents, missing, vectors,
                                         prescore, model, version, int(top_k), progress, floor)
        finally:
            with contextlib.suppress(Exception):
                client.run(_forget, shared.token)
    return ClusterRun(table, model, vectors, counts)


def _partitioned_candidates(submit: _Submitter, shared: SharedRecords, settings: Any, statistics: Any,
                            bounds: list[tuple[int, int]], n_reports: int) -> list:
    """Phase 1 with several report partitions, per chunk: each pass's pairs against each
    partition, merged (the fallback passes then run for the residents the merge names), their
    union capped, each partition's levels of the pairs with its reports, and the chunk's
    :class:`ChunkPairs` assembled from them."""
    fallback = any(p.fallback for p in settings.candidate_settings().passes)
    parts_range = range(shared.n_partitions)
    phase1 = []
    for n, (start, stop) in enumerate(bounds):
        first = [submit("pairs", f"{n}-{p}", pairs_task, shared, settings, statistics, p, start, stop, part=p)
                 for p in parts_range]
        second = []
        if fallback:
            needy = submit("needy", n, needy_task, settings, first)
            second = [submit("fallback", f"{n}-{p}", pairs_task, shared, settings, statistics, p, start, stop, True,
                             needy, part=p) for p in parts_range]
        union = submit("union", n, union_task, settings, n_reports, first, second)
        levels = [submit("levels", f"{n}-{p}", part_vectors_task, shared, settings, statistics, p, start, union,
                         part=p) for p in parts_range]
        phase1.append(submit("candidates", n, assemble_task, shared, settings, start, stop, union, levels))
    return phase1


def _partitioned_tables(submit: _Submitter, shared: SharedRecords, settings: Any, statistics: Any,
                        parts: TableParts, phase1: list, model: Any, version: str, top_k: int) -> list:
    """Phase 2 with several report partitions, per chunk: the ranking, each partition's
    explanations of the ranked rows with its reports, and the chunk's table."""
    tables = []
    for n, result in enumerate(phase1):
        ranked = submit("ranked", n, ranked_task, settings, parts, result, model, top_k)
        explained = [submit("explain", f"{n}-{p}", part_explain_task, shared, settings, statistics, p, ranked, part=p)
                     for p in range(shared.n_partitions)]
        tables.append(submit("rank", n, table_task, shared, settings, parts, ranked, explained, version))
    return tables


def _random_vectors(submit: _Submitter, shared: SharedRecords, settings: Any, statistics: Any, pairs: pd.DataFrame,
                    residents: pd.DataFrame, missing: pd.DataFrame) -> Callable[[], pd.DataFrame]:
    """The comparison vectors of the u estimate's random pairs, computed on the workers (by report
    partition when there are several); returns a function that waits for them."""
    if shared.n_partitions == 1:
        future = submit("random-pairs", 0, compare_task, shared, settings, pairs)
        return future.result
    lp = pd.Index(residents["resident_id"].astype(str)).get_indexer(pairs["resident_id"].astype(str))
    rp = pd.Index(missing["missing_id"].astype(str)).get_indexer(pairs["missing_id"].astype(str))
    part_of = np.searchsorted(np.asarray(shared.edges), rp, side="right") - 1
    rows = [np.flatnonzero(part_of == p) for p in range(shared.n_partitions)]
    futures = [submit("random-pairs", p, part_compare_task, shared, settings, statistics, p, lp[rows[p]],
                      rp[rows[p]] - shared.edges[p], part=p) for p in range(shared.n_partitions)]

    def gathered() -> pd.DataFrame:
        levels = [f.result() for f in futures]
        columns = {}
        for name in levels[0]:
            values = np.empty(len(pairs), dtype=levels[0][name].dtype)
            for part_rows, part_levels in zip(rows, levels):
                values[part_rows] = part_levels[name]
            columns[name] = values
        index = pd.MultiIndex.from_arrays([pairs["resident_id"].astype(str).to_numpy(),
                                           pairs["missing_id"].astype(str).to_numpy()],
                                          names=["resident_id", "missing_id"])
        return pd.DataFrame(columns, index=index)

    return gathered


def _sum_counts(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The per-pass counts of all chunks: the chunks' counts added (each counts its own pairs)."""
    if not parts:
        return pd.DataFrame()
    total = parts[0].set_index("pass")
    for part in parts[1:]:
        total = total + part.set_index("pass")
    return total.reset_index()


def _in_resident_order(tables: list[pd.DataFrame], parts: TableParts, settings: Any) -> pd.DataFrame:
    """The chunks' tables as one, residents in id order (as one machine ranks them), each
    resident's rows kept in rank order (a stable sort; a resident's rows come from one chunk)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return parts.empty_table(settings)
    table = pd.concat(tables, ignore_index=True)
    codes = pd.factorize(table["resident_id"].to_numpy(dtype=object), sort=True)[0]
    return table.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)


def _rank_by_missing(client: Any, submit: _Submitter, shared: SharedRecords, settings: Any, parts: TableParts,
                     residents: pd.DataFrame, missing: pd.DataFrame, vectors: pd.DataFrame, prescore: np.ndarray,
                     model: Any, version: str, top_k: int, progress: bool, floor: np.ndarray | None = None
                     ) -> pd.DataFrame:
    """``by="missing"``: a report's candidates come from every chunk, so the client scores and
    ranks all pairs (vectors it holds already) and the workers explain the ranked rows."""
    from kinmatch.match.rank import identification_potential, rank_codes, sorted_codes

    weights, match_weight, probability = parts.score(model, vectors, settings)
    rows, ranks = rank_codes(sorted_codes(vectors.index, 1), sorted_codes(vectors.index, 0), match_weight,
                             prescore, top_k, floor)
    kept = vectors.index[rows]
    lp = pd.Index(residents["resident_id"]).get_indexer(kept.get_level_values(0))
    rp = pd.Index(missing["missing_id"]).get_indexer(kept.get_level_values(1))
    ranked = pd.DataFrame({"resident_id": residents["resident_id"].to_numpy()[lp],
                           "missing_id": missing["missing_id"].to_numpy()[rp], "rank": ranks,
                           "match_probability": probability[rows], "match_weight": match_weight[rows]})
    kept_weights = weights.iloc[rows].reset_index(drop=True)
    ranked = pd.concat([ranked, kept_weights], axis=1)
    levels = vectors.iloc[rows][settings.names].to_numpy()
    weight_array = kept_weights.to_numpy()
    edges = np.linspace(0, len(rows), max(2, CHUNKS_PER_WORKER * _n_workers(client)) + 1).astype(int)
    slices = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    texts = [submit("explain", n, explain_task, shared, settings, lp[a:b], rp[a:b], levels[a:b], weight_array[a:b])
             for n, (a, b) in enumerate(slices)]
    _progress(texts, "解释 explanations", progress)
    ranked["explanation"] = [text for part in client.gather(texts) for text in part]
    potential = identification_potential(residents)
    ranked["identification_potential"] = potential.reindex(ranked["resident_id"]).to_numpy()
    ranked["model_version"] = version
    return ranked[parts.columns].astype({"rank": int, "identification_potential": int})


def run_on_index(index: Any, records: Any, client: Any, pipeline: Any, top_k: int = 10, by: str = "resident",
                 progress: bool = False, shared_dir: str | None = None, report_partitions: int = 1,
                 chunk_size: int | None = None) -> Any:
    """:meth:`kinmatch.index.Index.run` on the Dask ``client``'s cluster: the workers read the
    index's own segment files (its folder must be a path every worker can reach), never the
    indexed records through the scheduler; the model is the index's (fitted on this run, as
    without a client, when the index has none). ``records``: the residents (``by="resident"``)
    or new reports (``by="missing"``), written once to ``shared_dir`` (None: a temporary folder
    on this machine). ``report_partitions``: with ``by="resident"``, the indexed reports split in
    that many partitions, each loaded by one worker (a worker then holds a share of the reports;
    the output is the same). Returns the ``LinkRun`` that :meth:`~kinmatch.index.Index.run`
    returns without a client. ``pipeline``: the module :mod:`kinmatch.match.pipeline`, handed
    over by the caller (it imports this module, so this module does not import it)."""
    from kinmatch.match.settings import resolve_settings

    if int(top_k) < 1:
        raise InputError(f"top_k must be at least 1, not {top_k}")
    settings = resolve_settings(None)
    model = index.model
    if model is not None and hasattr(model, "check_compatible"):
        model.check_compatible(settings.level_labels())
    kind = "resident" if by == "resident" else "missing"
    records = pipeline.prepare_records(records, kind)
    if by == "resident":
        residents, missing = records, index.missing
        on_disk = {"missing": index_files(index.path, index.manifest, "missing")}
    else:
        residents, missing = index.residents, records
        on_disk = {"residents": index_files(index.path, index.manifest, "residents")}
    if len(residents) == 0 or len(missing) == 0:
        return pipeline.LinkRun(pipeline.empty_table(settings), model, pd.DataFrame(), pd.DataFrame(), residents,
                                missing, settings)
    parts = TableParts(pipeline.score, pipeline.empty_table, pipeline.model_version,
                       pipeline.OUTPUT_COLUMNS + settings.weight_columns + pipeline.EXTRA_COLUMNS)
    run = run_on_cluster(residents, missing, client, settings, model, parts, top_k, by, progress, shared_dir,
                         chunk_size, report_partitions, on_disk)
    return pipeline.LinkRun(*run, residents=residents, missing=missing, settings=settings)


@contextlib.contextmanager
def cluster_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client for the CLI: on the cluster of ``scheduler`` (``tcp://HOST:8786``), or on a
    new ``LocalCluster`` of ``workers`` worker processes (one thread each), closed afterwards;
    None when neither is given (the run stays in this process).

        >>> with cluster_client() as client:
        ...     print(client)
        None
    """
    if workers is None and not scheduler:
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:
        raise InputError("running on a Dask cluster needs dask.distributed, which is not installed; install it "
                         "with pip install \"kinmatch[dask]\"") from error
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    if workers is None or int(workers) < 1:
        raise InputError(f"workers must be at least 1, not {workers}")
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True) as cluster, \
            Client(cluster) as client:
        yield client
