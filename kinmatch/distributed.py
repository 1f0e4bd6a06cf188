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
    """Write a normalized frame to Parquet at ``url`` (a path or fsspec URL). Tuple cells are
    stored as lists and the names of those columns in the file's metadata, so :func:`read_records`
    gives back the same frame.

        >>> import tempfile, os
        >>> frame = pd.DataFrame({"missing_id": ["M1", "M2"], "marks": [("痣:脸:左",), ()]})
        >>> path = os.path.join(tempfile.mkdtemp(), "m.parquet")
        >>> write_records(frame, path)
        >>> read_records(path).equals(frame)
        True
    """
    import fsspec
    import pyarrow as pa
    import pyarrow.parquet as pq

    tuple_columns = [c for c in frame.columns if frame[c].dtype == object and _holds_tuples(frame[c].to_numpy())]
    stored = frame.assign(**{c: [list(v) if isinstance(v, tuple) else v for v in frame[c].to_numpy()]
                             for c in tuple_columns})
    table = pa.Table.from_pandas(stored, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[TUPLE_COLUMNS_KEY] = "\t".join(tuple_columns).encode("utf-8")
    with fsspec.open(url, "wb") as out:
        pq.write_table(table.replace_schema_metadata(metadata), out)


def _holds_tuples(values: np.ndarray) -> bool:
    """Whether a column's first non-blank cell is a tuple (a normalized frame's tuple columns hold a
    tuple in every cell, docs/contract.md §2; a cell of another kind there fails the Parquet write)."""
    for value in values:
        if value is not None and value == value:  # NaN is blank too
            return isinstance(value, tuple)
    return False


def read_records(url: str) -> pd.DataFrame:
    """The frame :func:`write_records` wrote at ``url``, tuple columns restored."""
    import fsspec
    import pyarrow.parquet as pq

    columns = {}
    with fsspec.open(url, "rb") as source:
        # a column at a time: the Arrow copy of one column, not of the whole frame, at once
        parquet = pq.ParquetFile(source)
        tuple_columns = set((parquet.schema_arrow.metadata or {}).get(TUPLE_COLUMNS_KEY, b"").decode("utf-8")
                            .split("\t"))
        for column in parquet.schema_arrow.names:
            values = parquet.read(columns=[column]).column(0).to_pandas().to_numpy()
            if column in tuple_columns:
                # equal tuples as one object (and their strings with them), as the normalizers leave
                # them: a tuple per cell would take several times the memory of the frame written
                seen: dict = {}
                restored = np.empty(len(values), dtype=object)
                restored[:] = [seen.setdefault(t, t) for t in (tuple(v) if v is not None else None for v in values)]
                values = restored
            columns[column] = values
    frame = pd.DataFrame(columns)
    return frame


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name if "://" in folder else os.path.join(folder, name)


class SharedRecords(NamedTuple):
    """Where one run's normalized frames are, and a name for the run (keys of its tasks)."""

    residents_url: str
    missing_url: str
    token: str


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
# the worker side: frames and encodings loaded once per worker process and run

_LOADED: dict[str, tuple] = {}
_LOAD_LOCK = threading.Lock()


def _worker_records(shared: SharedRecords, settings: Any) -> tuple:
    """(residents, missing, encoded, the reports' side of the candidate passes) of this run, read,
    encoded and indexed once per worker process; another run's are dropped, so a long-lived worker
    holds one run's frames at a time."""
    from kinmatch.match import engine
    from kinmatch.match.candidates import report_side

    with _LOAD_LOCK:
        loaded = _LOADED.get(shared.token)
        if loaded is None:
            _LOADED.clear()
            residents, missing = read_records(shared.residents_url), read_records(shared.missing_url)
            loaded = (residents, missing, engine.encode(residents, missing, settings.comparisons),
                      report_side(missing, settings.candidate_settings()))
            _LOADED[shared.token] = loaded
        return loaded


def _forget(token: str) -> None:
    with _LOAD_LOCK:
        _LOADED.pop(token, None)


class ChunkPairs(NamedTuple):
    """Phase 1 of one chunk: its candidate pairs (``resident_id``, ``missing_id``, ``passes``,
    ``prescore``), their comparison vectors (same rows, same order) and the per-pass counts."""

    pairs: pd.DataFrame
    vectors: pd.DataFrame
    counts: pd.DataFrame


def candidates_task(shared: SharedRecords, settings: Any, start: int, stop: int) -> ChunkPairs:
    """Phase 1 for residents ``start:stop`` (positions in the residents' frame)."""
    from kinmatch.match import engine
    from kinmatch.match.candidates import packed_candidate_pairs

    residents, missing, encoded, reports = _worker_records(shared, settings)
    chunk = residents.iloc[start:stop].reset_index(drop=True)
    candidates = packed_candidate_pairs(chunk, missing, settings=settings.candidate_settings(), progress=False,
                                        reports=reports).unpack()
    vectors = engine.compare_pairs(candidates.pairs[["resident_id", "missing_id"]], encoded=encoded, n_jobs=1)
    return ChunkPairs(candidates.pairs, vectors, candidates.counts)


def vectors_of(result: ChunkPairs) -> tuple[pd.DataFrame, np.ndarray]:
    """The vectors and pre-scores of a phase-1 result (what the client gathers). The index keeps
    only the ids the chunk's pairs use: as built, its levels hold every id of the run."""
    vectors = result.vectors.set_axis(result.vectors.index.remove_unused_levels(), axis=0)
    return vectors, result.pairs["prescore"].to_numpy(dtype=float)


def counts_of(result: ChunkPairs) -> pd.DataFrame:
    """The per-pass counts of a phase-1 result."""
    return result.counts


def compare_task(shared: SharedRecords, settings: Any, pairs: pd.DataFrame) -> pd.DataFrame:
    """Comparison vectors of ``pairs`` (the random pairs of the u estimate)."""
    from kinmatch.match import engine

    encoded = _worker_records(shared, settings)[2]
    return engine.compare_pairs(pairs, encoded=encoded, n_jobs=1)


def rank_task(shared: SharedRecords, settings: Any, parts: TableParts, result: ChunkPairs, model: Any,
              version: str, top_k: int, clusters: Any = None) -> pd.DataFrame:
    """Phase 2 of one chunk with ``by="resident"``: its ranked, explained table, residents in id
    order (the rows :func:`~kinmatch.match.pipeline.run_link` gives for these residents);
    ``clusters``: the duplicate reports (:func:`kinmatch.match.dedupe.rank_clusters` ranks)."""
    from kinmatch.match.rank import rank_codes, sorted_codes

    encoded = _worker_records(shared, settings)[2]
    if len(result.vectors) == 0:
        return parts.empty_table(settings)
    weights, match_weight, probability = parts.score(model, result.vectors, settings)
    prescore = result.pairs["prescore"].to_numpy(dtype=float) if "prescore" in result.pairs.columns else None
    if clusters is not None:
        from kinmatch.match.dedupe import Scored, cluster_columns, rank_clusters

        rows, ranks, (probability, match_weight, weights, levels, sources) = rank_clusters(
            encoded, result.pairs, result.vectors, Scored(weights, match_weight, probability, prescore), clusters,
            model, settings, sorted_codes(result.vectors.index, 0), sorted_codes(result.vectors.index, 1), top_k,
            parts.score)
        table = _table(shared, settings, parts, encoded, result.pairs.iloc[rows], None, ranks, probability,
                       match_weight, weights, version, levels=levels, sources=sources)
        return table.assign(**cluster_columns(clusters, table["missing_id"]))
    # the vectors' index levels are every id of the run, sorted: codes compare as in one machine's run
    rows, ranks = rank_codes(sorted_codes(result.vectors.index, 0), sorted_codes(result.vectors.index, 1),
                             match_weight, prescore, top_k)
    return _table(shared, settings, parts, encoded, result.pairs.iloc[rows], result.vectors.iloc[rows], ranks,
                  probability[rows], match_weight[rows], weights.iloc[rows], version)


def explain_task(shared: SharedRecords, settings: Any, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray,
                 weights: np.ndarray) -> list[str]:
    """Explanations of ranked rows given as record positions, levels and partial weights."""
    from kinmatch.match.explain import explain_pairs

    encoded = _worker_records(shared, settings)[2]
    return explain_pairs(encoded, lp, rp, levels, weights)


def _table(shared: SharedRecords, settings: Any, parts: TableParts, encoded: Any, pairs: pd.DataFrame,
           vectors: pd.DataFrame, ranks: np.ndarray, probability: np.ndarray, match_weight: np.ndarray,
           weights: pd.DataFrame, version: str, levels: np.ndarray | None = None,
           sources: np.ndarray | None = None) -> pd.DataFrame:
    """The linking table of ranked rows, built as :func:`~kinmatch.match.pipeline.run_link` builds it
    (``levels``: the rows' levels when not ``vectors``'; ``sources``: the report each comparison
    read, for a cluster's rows)."""
    from kinmatch.match.explain import explain_pairs
    from kinmatch.match.rank import identification_potential

    residents = _worker_records(shared, settings)[0]
    lp, rp = encoded.positions(pairs)
    ranked = pd.DataFrame({"resident_id": encoded.resident_ids[lp], "missing_id": encoded.report_ids[rp],
                           "rank": ranks, "match_probability": probability, "match_weight": match_weight})
    kept_weights = weights.reset_index(drop=True)
    ranked = pd.concat([ranked, kept_weights], axis=1)
    levels = vectors[settings.names].to_numpy() if levels is None else levels
    ranked["explanation"] = explain_pairs(encoded, lp, rp if sources is None else sources, levels,
                                          kept_weights.to_numpy())
    potential = identification_potential(residents.iloc[np.unique(lp)])
    ranked["identification_potential"] = potential.reindex(ranked["resident_id"]).to_numpy()
    ranked["model_version"] = version
    return ranked[parts.columns].astype({"rank": int, "identification_potential": int})


# ---------------------------------------------------------------------------------------------
# the client side


def _n_workers(client: Any) -> int:
    return max(1, len(client.scheduler_info(n_workers=-1).get("workers", {}))) if hasattr(client, "scheduler_info") \
        else 1


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


@contextlib.contextmanager
def shared_records(residents: pd.DataFrame, missing: pd.DataFrame, shared_dir: str | None) -> Iterator[SharedRecords]:
    """Write both frames to a run folder under ``shared_dir`` (None: a temporary folder on this
    machine, which only workers on this machine can read) and remove it afterwards."""
    token = uuid.uuid4().hex[:12]
    with contextlib.ExitStack() as stack:
        if shared_dir is None:
            shared_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="kinmatch-dask-"))
        folder = _join(str(shared_dir), f"kinmatch-run-{token}")
        import fsspec

        fs, path = fsspec.core.url_to_fs(folder)
        fs.makedirs(path, exist_ok=True)
        stack.callback(fs.rm, path, recursive=True)
        shared = SharedRecords(_join(folder, "residents.parquet"), _join(folder, "missing.parquet"), token)
        write_records(residents, shared.residents_url)
        write_records(missing, shared.missing_url)
        yield shared


def _check_reachable(client: Any, shared: SharedRecords) -> None:
    """Every worker can open the run's files, or an error that says which folder to share."""
    import fsspec

    def reachable(url: str) -> bool:
        fs, path = fsspec.core.url_to_fs(url)
        return fs.exists(path)

    answers = client.run(reachable, shared.missing_url)
    blind = sorted(address for address, seen in answers.items() if not seen)
    if blind:
        raise InputError(f"the workers {blind} cannot read {shared.missing_url!r}, so they could not load the "
                         f"reports; pass shared_dir= (CLI: --shared-dir) a folder or URL every worker can reach, "
                         f"such as a shared filesystem path or s3://bucket/prefix")


def _progress(futures: list, desc: str, enabled: bool) -> None:
    """Wait for ``futures``, with a bar over completed ones when ``enabled``."""
    from dask.distributed import as_completed, wait

    if not enabled:
        wait(futures)
        return
    from tqdm.auto import tqdm

    for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, unit="chunk", leave=False):
        pass


class ClusterRun(NamedTuple):
    """What :func:`run_on_cluster` gives back to :func:`~kinmatch.match.pipeline.run_link`: the
    ranked ``table``, the ``model`` (fitted here when none was given), the candidates' ``vectors``
    and the per-pass ``counts``."""

    table: pd.DataFrame
    model: Any
    vectors: pd.DataFrame
    counts: pd.DataFrame


def run_on_cluster(residents: pd.DataFrame, missing: pd.DataFrame, client: Any, settings: Any, model: Any,
                   parts: TableParts, top_k: int = 10, by: str = "resident", progress: bool = True,
                   shared_dir: str | None = None, chunk_size: int | None = None, clusters: Any = None) -> ClusterRun:
    """The linking run of ``residents`` × ``missing`` (normalized frames, as
    :func:`~kinmatch.match.pipeline.prepare_records` returns them, both non-empty) on the Dask
    ``client``'s cluster; ``settings`` a resolved LinkSettings, ``model`` a fitted model or None
    (fitted here). Called by ``run_link(..., client=client)``, which returns it as a ``LinkRun``;
    use that. ``chunk_size``: residents per task (default: see :func:`chunk_bounds`). ``clusters``:
    the duplicate reports (:func:`kinmatch.match.dedupe.dedupe_reports`), sent to the workers
    once."""
    if progress and getattr(client, "dashboard_link", None):
        print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
    bounds = chunk_bounds(len(residents), _n_workers(client), chunk_size)
    with shared_records(residents, missing, shared_dir) as shared:
        _check_reachable(client, shared)
        try:
            phase1 = [client.submit(candidates_task, shared, settings, start, stop, pure=False,
                                    key=f"kinmatch-candidates-{shared.token}-{number}")
                      for number, (start, stop) in enumerate(bounds)]
            random_vectors = None
            if model is None:
                from kinmatch.match.model.fitting import random_pairs

                pairs = random_pairs(residents, missing, settings.n_random_pairs, settings.random_state)
                random_vectors = client.submit(compare_task, shared, settings, pairs, pure=False,
                                               key=f"kinmatch-random-pairs-{shared.token}")
            _progress(phase1, "候选 candidates", progress)
            gathered = client.gather([client.submit(vectors_of, f, pure=False,
                                                    key=f"kinmatch-vectors-{shared.token}-{n}")
                                      for n, f in enumerate(phase1)])
            counts = _sum_counts(client.gather([client.submit(counts_of, f, pure=False,
                                                              key=f"kinmatch-counts-{shared.token}-{n}")
                                                for n, f in enumerate(phase1)]))
            vectors = pd.concat([v for v, _ in gathered]) if gathered else pd.DataFrame()
            if len(vectors) == 0:
                return ClusterRun(parts.empty_table(settings), model, vectors, counts)
            if model is None:
                from kinmatch.match.model.fitting import fit_model

                model = fit_model(vectors, random_vectors.result(), len(residents), settings,
                                  n_reports=len(missing))
            version = parts.model_version(model)
            if by == "resident":
                if clusters is not None:
                    from kinmatch.match.dedupe import shipped

                    clusters = client.scatter(shipped(clusters), broadcast=True)
                phase2 = [client.submit(rank_task, shared, settings, parts, f, model, version, int(top_k), clusters,
                                        pure=False, key=f"kinmatch-rank-{shared.token}-{n}")
                          for n, f in enumerate(phase1)]
                _progress(phase2, "排序 ranking", progress)
                table = _in_resident_order(client.gather(phase2), parts, settings)
            else:
                prescore = np.concatenate([p for _, p in gathered])
                table = _rank_by_missing(client, shared, settings, parts, residents, missing, vectors, prescore, model,
                                         version, int(top_k), progress)
        finally:
            with contextlib.suppress(Exception):
                client.run(_forget, shared.token)
    return ClusterRun(table, model, vectors, counts)


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


def _rank_by_missing(client: Any, shared: SharedRecords, settings: Any, parts: TableParts, residents: pd.DataFrame,
                     missing: pd.DataFrame, vectors: pd.DataFrame, prescore: np.ndarray, model: Any, version: str,
                     top_k: int, progress: bool) -> pd.DataFrame:
    """``by="missing"``: a report's candidates come from every chunk, so the client scores and
    ranks all pairs (vectors it holds already) and the workers explain the ranked rows."""
    from kinmatch.match.rank import identification_potential, rank_codes, sorted_codes

    weights, match_weight, probability = parts.score(model, vectors, settings)
    rows, ranks = rank_codes(sorted_codes(vectors.index, 1), sorted_codes(vectors.index, 0), match_weight,
                             prescore, top_k)
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
    texts = [client.submit(explain_task, shared, settings, lp[a:b], rp[a:b], levels[a:b], weight_array[a:b],
                           pure=False, key=f"kinmatch-explain-{shared.token}-{n}")
             for n, (a, b) in enumerate(slices)]
    _progress(texts, "解释 explanations", progress)
    ranked["explanation"] = [text for part in client.gather(texts) for text in part]
    potential = identification_potential(residents)
    ranked["identification_potential"] = potential.reindex(ranked["resident_id"]).to_numpy()
    ranked["model_version"] = version
    return ranked[parts.columns].astype({"rank": int, "identification_potential": int})


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
