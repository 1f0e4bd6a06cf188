"""Linking end to end: intake → normalize → candidates → comparisons → model → ranked, explained candidates.

    >>> import kinmatch                                                      # doctest: +SKIP
    >>> candidates = kinmatch.link("residents.xlsx", "missing.csv", top_k=10)  # doctest: +SKIP
    >>> candidates.columns[:6].tolist()                                       # doctest: +SKIP
    ['resident_id', 'missing_id', 'rank', 'match_probability', 'match_weight', 'explanation']

The output is the SCHEMA.md linking table: at most ``top_k`` rows per resident (or per report with
``by="missing"``), ``rank`` 1 = best, ``match_probability`` and ``match_weight`` from the model,
``explanation`` (``姓名同音(李伟/李玮) +6.1; 年龄相符 +2.0; 身高差12cm −3.2``), one ``w_<comparison>``
column per comparison of the settings, the resident's ``identification_potential`` (1–5) and the
``model_version``; then, when duplicate reports are clustered (``dedupe_reports``, off by
default), ``cluster_id`` and ``cluster_members``: a resident's candidates that are reports of one
person show as one row, the best-scoring member standing for the cluster
(:mod:`kinmatch.match.dedupe`).

A reader following one resident record through :func:`run_link` visits each room once, in order:
:func:`prepare_records` (intake, normalizers, the contract check), the candidate index
(:mod:`kinmatch.match.candidates`), the engine (:mod:`kinmatch.match.engine`), the model
(:mod:`kinmatch.match.model`), the ranking (:mod:`kinmatch.match.rank`) and the explanations
(:mod:`kinmatch.match.explain`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch._gc import gc_paused
from kinmatch._parallel import (
    claim_share,
    fork_call,
    fork_map,
    pickle_from_file,
    pickle_to_file,
    read_from_file,
    resolve_jobs,
    shared,
    write_to_file,
)
from kinmatch.errors import InputError
from kinmatch.match import engine
from kinmatch.match.candidates import ChunkedCandidates, pack_chunks, packed_candidate_pairs, weight_floors
from kinmatch.match.explain import explain_pairs
from kinmatch.match.rank import identification_potential, rank_codes, sorted_codes
from kinmatch.match.settings import LinkSettings, resolve_settings
from kinmatch.normalize.contract import check_normalized

OUTPUT_COLUMNS = ["resident_id", "missing_id", "rank", "match_probability", "match_weight", "explanation"]
EXTRA_COLUMNS = ["identification_potential", "model_version"]
"""After the weights: the resident's identification potential (1–5) and the version of the model
that scored the pair (the review store keeps it with every candidate)."""
CLUSTER_COLUMNS = ["cluster_id", "cluster_members", "cluster_evidence"]
"""Last, when duplicate reports are clustered (``LinkSettings.dedupe_reports``, off by default): the
report's cluster (blank when it has no duplicate), every member report id, ``;``-separated, and the
comparisons the row read from another member, ``<comparison>=<missing_id>;…``
(:mod:`kinmatch.match.dedupe`)."""

# a frame that has these was normalized already (docs/contract.md §2)
_NORMALIZED_MARKERS = ("sex_code", "birth_year_low", "event_date")


class LinkRun(NamedTuple):
    """Everything one linking run produced: the ranked ``table`` (what :func:`link` returns), the
    fitted ``model``, the candidates' comparison ``vectors``, the per-pass ``candidate_counts``,
    the normalized ``residents`` and ``missing`` frames (for review screens) and the ``settings``;
    ``rendered``: when :func:`run_link` was given ``render_rows`` and ranked the table in two parts,
    what it returned for each part, in the table's order (None otherwise, and when a
    :class:`kinmatch._io.CsvParts` wrote them into its file; bytes from the worker come back as a
    ``bytearray``)."""

    table: pd.DataFrame
    model: Any
    vectors: pd.DataFrame
    candidate_counts: pd.DataFrame
    residents: pd.DataFrame
    missing: pd.DataFrame
    settings: LinkSettings | None = None
    report_clusters: Any = None
    rendered: list | None = None


# ---------------------------------------------------------------------------------------------
# inputs


def _load(src: Any, kind: str, on_duplicate: str = "stop") -> pd.DataFrame:
    if isinstance(src, pd.DataFrame):
        return src
    if isinstance(src, (str, os.PathLike)):
        from kinmatch import intake

        return intake.read_records(src, kind, on_duplicate).frame
    raise InputError(f"{kind} input must be a DataFrame or a file path, not {type(src).__name__}; "
                     f"pass a path to a CSV/xlsx file or the frame kinmatch.read_{kind}s returned")


def prepare_records(src: Any, kind: str, on_duplicate: str = "stop", n_jobs: int | None = None) -> pd.DataFrame:
    """A file path, canonical frame or normalized frame → the normalized frame linking reads
    (``kind``: ``"resident"`` or ``"missing"``): read, normalized when its normalized columns are
    absent, ids as unique text, checked against the normalized-frame contract
    (:func:`~kinmatch.normalize.contract.check_normalized` names the column and row that break it).

    ``on_duplicate`` (:data:`kinmatch.intake.ON_DUPLICATE`): ids that repeat stop the run
    (``"stop"``), or the ``"first"`` / ``"last"`` row of each id is kept, as intake does.
    ``n_jobs``: the normalizers' worker processes (None: as they choose by the work's size)."""
    frame = _loaded(src, kind, on_duplicate)
    if not _is_normalized(frame):
        from kinmatch.normalize import records

        normalize = records.normalize_residents if kind == "resident" else records.normalize_missing
        frame, _issues = normalize(frame, n_jobs=n_jobs)
    return _checked(frame, kind, on_duplicate)


def prepare_pair(residents: Any, missing: Any, on_duplicate: str = "stop", n_jobs: int | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`prepare_records` of the residents and the reports. When both need normalizing they are
    normalized together (:func:`kinmatch.normalize.records.normalize_pair`: on two processes when
    ``n_jobs`` and their size allow); the frames are the same either way. ``missing`` may also be a
    function that returns the reports (a path or frame): it is called once the residents'
    normalization has begun, so reading the reports' file overlaps it."""
    residents = _loaded(residents, "resident", on_duplicate)
    if _is_normalized(residents) or not callable(missing):
        missing = _loaded(missing() if callable(missing) else missing, "missing", on_duplicate)
    if not _is_normalized(residents) and (callable(missing) or not _is_normalized(missing)):
        from kinmatch.normalize import records

        loader = (lambda: _loaded(missing(), "missing", on_duplicate)) if callable(missing) else missing
        (residents, _), (missing, _), reap = records.normalize_pair_unreaped(residents, loader, n_jobs)
        try:  # the frames checked while the residents' worker ends
            return (prepare_records(residents, "resident", on_duplicate, n_jobs),
                    prepare_records(missing, "missing", on_duplicate, n_jobs))
        finally:
            reap()
    return (prepare_records(residents, "resident", on_duplicate, n_jobs),
            prepare_records(missing, "missing", on_duplicate, n_jobs))


def _loaded(src: Any, kind: str, on_duplicate: str) -> pd.DataFrame:
    from kinmatch.intake import check_on_duplicate

    check_on_duplicate(on_duplicate)
    frame = _load(src, kind, on_duplicate)
    id_column = "resident_id" if kind == "resident" else "missing_id"
    if id_column not in frame.columns:
        raise InputError(f"the {kind} table has no {id_column!r} column, so candidates could not be "
                         f"named; read it with kinmatch.read_{kind}s (which maps Chinese headers such as 编号) "
                         f"or add the column")
    return frame


def _is_normalized(frame: pd.DataFrame) -> bool:
    return all(column in frame.columns for column in _NORMALIZED_MARKERS)


def _checked(frame: pd.DataFrame, kind: str, on_duplicate: str) -> pd.DataFrame:
    """Ids as unique text (or the first / last row of each), a fresh index, the contract checked."""
    id_column = "resident_id" if kind == "resident" else "missing_id"
    ids = frame[id_column]
    if ids.dtype != object or not ids.map(type).eq(str).all():
        frame = frame.assign(**{id_column: ids.astype(str)})
    duplicated = frame[id_column][frame[id_column].duplicated()]
    if len(duplicated) and on_duplicate != "stop":
        import warnings

        warnings.warn(f"{len(duplicated)} {kind} row(s) share an id with another row (first: {duplicated.iloc[0]!r}); "
                      f"the {on_duplicate} row of each id is kept (on_duplicate={on_duplicate!r})", stacklevel=4)
        frame = frame[~frame[id_column].duplicated(keep=on_duplicate)]
    elif len(duplicated):
        raise InputError(f"{len(duplicated)} {kind} ids occur more than once (first: {duplicated.iloc[0]!r}); "
                         f"each {id_column} must be unique so a candidate names one record — fix or renumber them, "
                         f"or choose which row to keep: on_duplicate='first' or 'last' "
                         f"(kinmatch link --on-duplicate first|last)")
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        frame = frame.reset_index(drop=True)
    # the one boundary check: from here on no comparison re-cleans a value
    check_normalized(frame, kind)
    return frame


# ---------------------------------------------------------------------------------------------
# model


def _resolve_model(model: Any):
    if model is None or hasattr(model, "weight_table"):
        return model
    if isinstance(model, (str, os.PathLike)):
        from pathlib import Path

        from kinmatch.match.model import FellegiSunter

        path = Path(model)
        if not path.is_file():
            raise InputError(f"model file {str(path)!r} does not exist; pass the JSON written by "
                             f"`kinmatch link --save-model` or FellegiSunter.to_json, or omit the model "
                             f"to fit one on these data")
        return FellegiSunter.from_json(path)
    raise InputError(f"model must be a fitted FellegiSunter / SupervisedLinker or a JSON path, not "
                     f"{type(model).__name__}")


def model_version(model: Any) -> str:
    """``kinmatch-<package version>-<first 12 hex of the SHA-256 of the model's JSON>``: the same
    parameters give the same version, any change of m, u or the prior gives another.

        >>> model_version(None)
        'none'
    """
    if model is None:
        return "none"
    from kinmatch import __version__

    to_json = getattr(model, "to_json", None)
    if to_json is None:
        return f"kinmatch-{__version__}-{type(model).__name__}"
    digest = hashlib.sha256(to_json().encode("utf-8")).hexdigest()[:12]
    return f"kinmatch-{__version__}-{digest}"


def score(model: Any, vectors: pd.DataFrame, settings: LinkSettings) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Partial weights (``w_<name>`` per comparison of the settings, 0 for one the model left out),
    the match weight and the match probability of each pair of ``vectors``."""
    from kinmatch.match.model.fitting import adjusted_vectors

    weights = model.weight_table(adjusted_vectors(vectors, model, settings), prefix="w_")
    if hasattr(model, "prior_weight_"):
        match_weight = weights.to_numpy().sum(axis=1) + float(model.prior_weight_)
        if getattr(model, "posterior", None) in ("person", "person_em"):  # given all the resident's candidates
            probability = model.person_probability(match_weight, vectors.index)
        elif hasattr(model, "probability_of_weight"):  # a FellegiSunter: calibrated from decisions where it was
            probability = model.probability_of_weight(match_weight)
        else:
            probability = 1.0 / (1.0 + np.exp2(-np.clip(match_weight, -1000, 1000)))
    else:  # e.g. SupervisedLinker: its own calibrated probabilities
        probability = model.predict_proba(vectors).to_numpy(dtype=float)
        match_weight = model.match_weight(vectors).to_numpy(dtype=float)
    # in place rather than reset_index/reindex, which copy the whole table (4M pairs x 20 columns of
    # float64 at 10k x 1M: 0.7 GB each, the link's peak)
    weights.index = pd.RangeIndex(len(weights))
    if list(weights.columns) != list(settings.weight_columns):
        weights = weights.reindex(columns=settings.weight_columns, fill_value=0.0)
    return weights, match_weight, probability


# ---------------------------------------------------------------------------------------------
# the run

PARALLEL_MIN_EXPLAINED = 500_000
"""From this many ranked rows the explanations are written by worker processes, a range each."""

SPLIT_MIN_EXPLAINED = 50_000
"""From this many ranked rows (below :data:`PARALLEL_MIN_EXPLAINED`) one forked worker explains the
second half while this process explains the first; below it, forking and sending the texts back
cost more than the second core saves."""

PARALLEL_MAX_REPORTS = 300_000
"""Above this many reports ``n_jobs=None`` means one process: each worker reads the encoded
records of every report, and reading a Python object writes its reference count, so the forked
copies stop being shared and memory, not time, becomes the limit. Pass ``n_jobs`` explicitly on a
machine with room."""

BACKGROUND_MIN_REPORTS = 5_000
"""From this many reports candidate generation runs in a worker process beside the encoding of
the comparisons (below it, forking costs more than it saves)."""


COMPARE_CHUNK = 200_000
"""Pairs compared at a time (the comparisons' temporaries are this many rows)."""


def _compare(pairs: pd.DataFrame, encoded: engine.Encoded, progress: bool, n_jobs: int | None) -> pd.DataFrame:
    """:func:`engine.compare_pairs` of ``pairs``; from :data:`engine.PARALLEL_MIN_PAIRS` pairs (and
    ``n_jobs`` > 1) a forked worker compares the second half while this process compares the
    first (a pool of two workers would leave this process idle and fork twice)."""
    if resolve_jobs(n_jobs) < 2 or len(pairs) < engine.PARALLEL_MIN_PAIRS:
        return engine.compare_pairs(pairs, progress=progress, encoded=encoded, n_jobs=1, chunk_size=COMPARE_CHUNK)
    lp, rp = encoded.positions(pairs)
    half = len(lp) // 2
    waiting = fork_call(_compare_share, shared=(encoded, lp[half:], rp[half:]))
    try:
        first = _compare_positions(encoded, lp[:half], rp[:half])
    except BaseException:  # noqa: B036 - this half failed (or Ctrl-C): the worker is stopped, not awaited
        waiting.cancel()
        raise
    second = waiting()
    columns = {name: np.concatenate([first[name], second[name]]) for name in first}
    return pd.DataFrame(columns, index=engine.pair_index(encoded, lp, rp))


def _compare_share() -> dict[str, np.ndarray]:
    encoded, lp, rp = shared()
    return _compare_positions(encoded, lp, rp)


def _compare_positions(encoded: engine.Encoded, lp: np.ndarray, rp: np.ndarray) -> dict[str, np.ndarray]:
    chunks = [engine.compare_positions(encoded, lp[start:start + COMPARE_CHUNK], rp[start:start + COMPARE_CHUNK])
              for start in range(0, len(lp), COMPARE_CHUNK)] or [engine.compare_positions(encoded, lp, rp)]
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}


def _candidates_task():
    # packed: integer arrays pickle back to the parent in a few ms, a pairs frame in ~50
    residents, missing, candidate_settings, progress, n_jobs, shares = shared()
    if shares is None or os.getpid() == shares.parent:  # not shared, or fork_call could start no process
        return packed_candidate_pairs(residents, missing, settings=candidate_settings, progress=progress,
                                      n_jobs=n_jobs, ids=shares is None)
    shares.worker_part(ChunkedCandidates(residents, missing, candidate_settings))
    return None


def _import_fitting() -> None:
    import kinmatch.match.model.fitting  # noqa: F401


class _CandidateShares:
    """The candidates of a batch run on both processes. A forked worker makes the two sides and the
    residents' query keys (:class:`~kinmatch.match.candidates.ChunkedCandidates`) while this process
    encodes the records for the comparisons, writes them to a temporary file and runs chunks of
    residents from the front; this process, its encoding done, reads them and runs chunks from the
    back (a pair of counters in shared memory says what is left). Then it reads the worker's pairs
    from a second file, whose size comes up a pipe just before the worker ends (so this process
    does not wait for the worker's exit, which unmaps a copy of this process: ~15 ms at
    2,000 × 20,000), and packs every chunk's pairs in the order of the chunks: the pack of one
    process, the pairs as positions in the frames. Why: the encoding takes less time than the
    candidates (~0.35 against ~0.55 s at 2,000 × 20,000) and this process used to wait for the
    rest (``bench/RESULTS.md``)."""

    def __init__(self):
        from kinmatch._parallel import FORK

        self.parent = os.getpid()
        self.files = []
        try:
            self.files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]  # the sides, the worker's pairs
        except OSError:
            self.close()
            raise
        self.read_end, self.write_end = FORK.Pipe(duplex=False)
        self.bounds = FORK.Array("q", [0, 0])  # next chunk from the front, end of those left

    def forked(self) -> None:
        """In this process, once the worker is forked: only the worker holds the pipe's write end,
        so the pipe ends when the worker does."""
        self.write_end.close()

    def _claim(self, front: bool) -> int | None:
        return claim_share(self.bounds, front)

    def worker_part(self, run: ChunkedCandidates) -> None:
        """In the worker, the sides made (``run``): they go to this process when there is more than
        one chunk, then the worker runs chunks from the front and sends their pairs up."""
        self.read_end.close()
        with self.bounds.get_lock():
            self.bounds[1] = run.n_chunks
        if run.n_chunks > 1:
            try:
                self.write_end.send(("sides", pickle_to_file(self.files[0].fileno(), run.state())))
            except OSError:  # no room for them (a full disk): the worker runs every chunk
                pass
        parts = {}
        while (number := self._claim(front=True)) is not None:
            parts[number] = run.chunk(number)
        try:
            self.write_end.send(("pairs", pickle_to_file(self.files[1].fileno(), parts)))
        except OSError:  # no room for them: up the pipe
            self.write_end.send(("parts", parts))
        self.write_end.close()

    def receive(self, pending: Any, residents: pd.DataFrame, settings: Any, meanwhile: Any = None) -> Any:
        """In this process: chunks from the back while any is left, then the worker's, packed
        (:func:`~kinmatch.match.candidates.pack_chunks` with positions). When the worker sent
        nothing (``fork_call`` ran the task here, or the worker failed): what ``pending``
        (``fork_call``'s waiting function) gives or raises. ``meanwhile()``, if given, is called
        once this process has no chunk left, before it waits for the worker's last one."""
        try:
            parts, run = {}, None
            try:
                kind, size = self.read_end.recv()  # ("pairs" or "sides", bytes in the file), or ("parts", them)
                if kind == "sides":
                    while (number := self._claim(front=False)) is not None:
                        if run is None:
                            state = pickle_from_file(self.files[0].fileno(), size)
                            run = ChunkedCandidates.from_state(state, residents)
                        parts[number] = run.chunk(number)
                    if meanwhile is not None:
                        meanwhile()
                        meanwhile = None
                    kind, size = self.read_end.recv()
            except EOFError:
                kind = None
            if meanwhile is not None:
                meanwhile()
            if kind is None:
                return pending()
            parts.update(pickle_from_file(self.files[1].fileno(), size) if kind == "pairs" else size)
            return pack_chunks([parts[number] for number in sorted(parts)], settings)
        finally:
            self.close()

    def close(self) -> None:
        for end in (getattr(self, "read_end", None), getattr(self, "write_end", None), *self.files):
            if end is not None:
                end.close()


def _explain(encoded: engine.Encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray, weights: np.ndarray,
             n_jobs: int) -> list[str]:
    """:func:`explain_pairs` of the ranked rows; a row's text depends on that row alone, so ranges
    of rows can be explained apart."""
    n = len(lp)
    if n_jobs < 2 or n < min(SPLIT_MIN_EXPLAINED, PARALLEL_MIN_EXPLAINED):
        return explain_pairs(encoded, lp, rp, levels, weights)
    if n < PARALLEL_MIN_EXPLAINED:
        half = n // 2
        waiting = fork_call(_explain_range, shared=(encoded, lp, rp, levels, weights, (half, n)))
        try:
            first = explain_pairs(encoded, lp[:half], rp[:half], levels[:half], weights[:half])
        except BaseException:  # noqa: B036 - this half failed (or Ctrl-C): the worker is stopped, not awaited
            waiting.cancel()
            raise
        return first + waiting()
    edges = np.linspace(0, n, 2 * n_jobs + 1).astype(int)
    bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    parts = fork_map(_explain_range, bounds, n_jobs, shared=(encoded, lp, rp, levels, weights))
    return [text for part in parts for text in part]


def _explain_range(bounds: tuple[int, int] | None = None) -> list[str]:
    """In a worker: the explanations of the rows ``bounds`` (None: the bounds shared with the rest)."""
    encoded, lp, rp, levels, weights, *shared_bounds = shared()
    start, stop = bounds if bounds is not None else shared_bounds[0]
    return explain_pairs(encoded, lp[start:stop], rp[start:stop], levels[start:stop], weights[start:stop])


RANKED_ROW_PAIRS = 12
"""In the ranking after the fit, a ranked row (explained and written) costs about as much as this
many scored pairs (2,000 × 20,000: 466k pairs scored and ranked in 0.35 s, 98k rows explained and
made into text in 0.9 s): :class:`_TwoParts` weighs a resident by both."""

OWN_SHARE = 0.53
"""The share of the ranking's work :class:`_TwoParts` leaves in this process: the worker's part is
also written and handed back (its table pickled, written and read here)."""


class _TwoParts:
    """The end of a batch run on two processes, cut by resident. A forked worker takes the
    candidates of the first residents (in the order of their ids), this process those of the
    others, each about its share of the ranking's work (:data:`RANKED_ROW_PAIRS`,
    :data:`OWN_SHARE`); the other pairs compared (the random pairs of the u estimate, the fit's own
    pairs) go where they even out the comparisons.

    The worker compares its pairs and hands their levels up (through a file; a pipe carries the
    size and, down, the model); this process puts every pair's levels together in their order (the
    fit and :attr:`LinkRun.vectors` get what one process makes), fits the model and sends it down;
    then each scores, ranks, explains and renders its own residents' candidates, and this process's
    part follows the worker's. A resident's rows depend on its own candidates alone and the table
    is ordered by resident first, so the two parts joined are the one-process table. The worker is
    the comparisons' worker kept on: no process is forked from this one once it is large (a fork's
    copy-on-write faults cost more than the rendering saves, see bench/RESULTS.md).

    When ``render_rows`` is a :class:`kinmatch._io.CsvParts` (a file written in parts), each
    process writes its rendered rows into it where they were made: the worker the header and the
    first rows as soon as they are made, this process its own after them, at the offset the worker
    sends up; the worker's rows are not handed back."""

    def __init__(self, encoded: engine.Encoded, lp: np.ndarray, rp: np.ndarray, index: pd.MultiIndex,
                 mine: np.ndarray, theirs: np.ndarray, n_mine: int, n_theirs: int, prescore: np.ndarray | None,
                 residents: pd.DataFrame, settings: LinkSettings, top_k: int, render_rows: Any,
                 floor: np.ndarray | None = None):
        self.floor = floor  # the candidates' weight floors (candidates.weight_floors), or None
        self.encoded, self.lp, self.rp, self.index = encoded, lp, rp, index
        self.mine, self.theirs, self.n_mine, self.n_theirs = mine, theirs, n_mine, n_theirs
        self.prescore, self.residents, self.settings, self.top_k = prescore, residents, settings, top_k
        self.render_rows = render_rows
        self.sink = None  # render_rows when it writes the parts into a file (kinmatch._io.CsvParts)
        self.parent, self.forked, self.waiting = os.getpid(), True, None

    @classmethod
    def start(cls, encoded: engine.Encoded, pairs: pd.DataFrame, n_candidates: int, prescore: np.ndarray | None,
              residents: pd.DataFrame, settings: LinkSettings, top_k: int, render_rows: Any,
              positions: tuple[np.ndarray, np.ndarray] | None = None, floor: np.ndarray | None = None
              ) -> _TwoParts | None:
        """Cut the ``pairs`` (the first ``n_candidates`` the candidates, whose record positions
        ``positions`` may give) and fork the worker, which starts comparing; None when there is no
        fork or the candidates name one resident."""
        from kinmatch._parallel import FORK

        if FORK is None:
            return None
        if positions is None:
            lp, rp = encoded.positions(pairs)
        else:
            lp, rp = encoded.positions(pairs.iloc[n_candidates:])
            lp, rp = np.concatenate([positions[0], lp]), np.concatenate([positions[1], rp])
        index = engine.pair_index(encoded, lp, rp)
        groups = np.asarray(index.codes[0][:n_candidates])  # residents numbered in the order of their ids
        counts = np.bincount(groups, minlength=len(encoded.resident_ids))
        cost = np.cumsum(np.minimum(counts, top_k) * RANKED_ROW_PAIRS + counts)
        # the first residents to the worker, which writes its rows first; the others here
        mine_candidates = groups > int(np.searchsorted(cost, cost[-1] * (1.0 - OWN_SHARE)))
        if mine_candidates.all() or not mine_candidates.any():
            return None
        n_mine = int(mine_candidates.sum())
        n_extra = len(pairs) - n_candidates
        extra = int(np.clip(len(pairs) // 2 - n_mine, 0, n_extra))  # the first of the other pairs: here
        mine = np.concatenate([np.flatnonzero(mine_candidates), n_candidates + np.arange(extra)])
        theirs = np.concatenate([np.flatnonzero(~mine_candidates), n_candidates + np.arange(extra, n_extra)])
        try:
            # the worker's levels and then its part come back through a file, not a pipe: 40 MB
            # through a pipe's 64 KiB take a tenth of a second of switching between the two processes
            answer = tempfile.TemporaryFile()
        except OSError:  # no temporary file here (a full or read-only disk): one process
            return None
        parts = cls(encoded, lp, rp, index, mine, theirs, n_mine, n_candidates - n_mine, prescore, residents,
                    settings, top_k, render_rows, floor)
        parts.answer = answer
        if callable(getattr(render_rows, "write_part", None)) and render_rows.open():  # before the fork: shared
            parts.sink = render_rows
        parts.up = FORK.Pipe(duplex=False)  # (read, write): the size of the worker's levels
        parts.down = FORK.Pipe(duplex=False)  # the model
        parts.waiting = fork_call(_two_parts_worker, shared=parts)
        parts.up[1].close()
        parts.down[0].close()
        if not parts.forked:  # no process could be started: it ran here and did nothing
            parts.close()
            return None
        return parts

    def compare(self) -> pd.DataFrame:
        """In this process: every pair's levels (this process's, then the worker's put in place)."""
        try:
            mine = _compare_positions(self.encoded, self.lp[self.mine], self.rp[self.mine])
            try:
                theirs = pickle_from_file(self.answer.fileno(), self.up[0].recv())
            except EOFError:  # the worker ended without its levels: its error, if it sent one
                self.waiting()
                raise ChildProcessError("the comparisons' worker ended without its pairs' levels") from None
            columns = {}
            for name, values in mine.items():
                column = np.empty(len(self.lp), dtype=values.dtype)
                column[self.mine], column[self.theirs] = values, theirs[name]
                columns[name] = column
        except BaseException:  # noqa: B036 - failed (or Ctrl-C): the worker is stopped, not awaited
            self.cancel()
            raise
        return pd.DataFrame(columns, index=self.index)

    def rank(self, vectors: pd.DataFrame, fitted: Any, version: str) -> tuple[pd.DataFrame, list | None]:
        """In this process: the model to the worker, this process's part ranked (and rendered, or
        written into the :attr:`sink` after the worker's), the worker's part before it; the table
        and the rendered parts (None without ``render_rows``, or when they went into the sink)."""
        self.down[1].send((fitted, version))
        self.down[1].close()
        rows = self.mine[:self.n_mine]
        table = self._part(vectors.iloc[rows], rows, fitted, version)
        rendered = self.render_rows(table) if self.render_rows is not None else None
        try:
            # the sizes come up the pipe before the worker ends: its part is read while it exits
            size, rendered_size, end = self.up[0].recv()
        except EOFError:  # the worker ended without its part: its error, if it sent one
            size = None
        if size is not None:
            if end is not None and rendered is not None:  # the worker's rows are in the sink: these after them
                self.sink.complete = self.sink.write_part(table, end, rows=rendered) is not None
                if self.sink.complete:  # flushed to disk while the worker's table is read
                    self.sink.sync_soon()
            their_table, their_rendered = pickle_from_file(self.answer.fileno(), size)
            if rendered_size is not None:
                their_rendered = read_from_file(self.answer.fileno(), size, rendered_size)
        self.waiting()  # the worker reaped (its error raised)
        if size is None:
            raise ChildProcessError("the ranking's worker ended without its part of the table")
        self.close()
        table = pd.concat([their_table, table], ignore_index=True)
        if self.render_rows is None or (self.sink is not None and self.sink.complete):
            return table, None
        return table, [their_rendered, rendered]

    def worker_side(self) -> tuple[pd.DataFrame, Any]:
        """In the worker: its pairs compared and sent up, then its part ranked once the model comes."""
        self.up[0].close()
        self.down[1].close()
        columns = _compare_positions(self.encoded, self.lp[self.theirs], self.rp[self.theirs])
        self.up[1].send(pickle_to_file(self.answer.fileno(), columns))
        fitted, version = self.down[0].recv()
        rows = self.theirs[:self.n_theirs]
        vectors = pd.DataFrame({name: values[:self.n_theirs] for name, values in columns.items()},
                               index=self.index[rows])
        table = self._part(vectors, rows, fitted, version)
        rendered = self.render_rows(table) if self.render_rows is not None else None
        end = None
        if self.sink is not None and rendered is not None:  # the header and these rows first in the file
            end = self.sink.write_part(table, 0, rows=rendered)
            rendered = None
        # this process read the levels already; rendered bytes go as they are, after the table's
        # pickle (pickling them would copy them twice more)
        raw = isinstance(rendered, (bytes, memoryview))
        size = pickle_to_file(self.answer.fileno(), (table, None if raw else rendered))
        if raw:
            write_to_file(self.answer.fileno(), rendered, size)
        self.up[1].send((size, len(rendered) if raw else None, end))
        return size

    def _part(self, vectors: pd.DataFrame, rows: np.ndarray, fitted: Any, version: str) -> pd.DataFrame:
        lp, rp = self.lp[rows], self.rp[rows]
        prescore = self.prescore[rows] if self.prescore is not None else None
        floor = self.floor[rows] if self.floor is not None else None
        return _ranked(vectors, lambda kept: (lp[kept], rp[kept]), prescore, fitted, version, self.encoded,
                       self.residents, self.settings, self.top_k, "resident", 1, floor=floor)

    def cancel(self) -> None:
        """Stop the worker (this process failed)."""
        self.waiting.cancel()
        self.close()

    def close(self) -> None:
        for end in (*self.up, *self.down, self.answer):
            end.close()


def _packed_positions(encoded: engine.Encoded, packed: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The record positions in ``encoded`` of the pairs of ``packed``
    (:class:`~kinmatch.match.candidates.PackedCandidates`): its ids looked up once each, not once
    per pair. None when an id is not in ``encoded``."""
    resident_at = encoded.resident_ids.get_indexer(pd.Index(packed.resident_ids, dtype=object))
    report_at = encoded.report_ids.get_indexer(pd.Index(packed.missing_ids, dtype=object))
    if (resident_at < 0).any() or (report_at < 0).any():
        return None
    return resident_at[packed.residents], report_at[packed.reports]


def _stacked_pairs(*frames: pd.DataFrame) -> pd.DataFrame:
    """``pd.concat`` of the ``resident_id`` and ``missing_id`` columns of ``frames`` (index
    0 … n - 1); when they are all object columns, by joining their arrays (pd.concat of 500,000
    pairs took ~20 ms, about four times as long)."""
    columns = ("resident_id", "missing_id")
    if not all(frame[column].dtype == object for frame in frames for column in columns):
        return pd.concat([frame[list(columns)] for frame in frames], ignore_index=True)
    return pd.DataFrame({column: pd.Series(np.concatenate([frame[column].to_numpy() for frame in frames]),
                                           dtype=object, copy=False) for column in columns}, copy=False)


def _two_parts_worker() -> Any:
    parts = shared()
    if os.getpid() == parts.parent:  # fork_call could start no process and runs this here
        parts.forked = False
        return None
    return parts.worker_side()


@gc_paused()
def run_link(residents: Any, missing: Any, top_k: int = 10, by: str = "resident", model: Any = None,
             progress: bool = True, settings: LinkSettings | None = None, candidate_settings: Any = None,
             n_random_pairs: int | None = None, random_state: int | None = None,
             n_jobs: int | None = None, on_duplicate: str = "stop", prepared: tuple[str, ...] = (),
             client: Any = None, shared_dir: str | None = None, dedupe_reports: bool | None = None,
             report_clusters: Any = None, render_rows: Any = None) -> LinkRun:
    """Like :func:`link`, but returns the whole :class:`LinkRun` (model, vectors, counts, settings).

    ``settings``: a :class:`~kinmatch.match.settings.LinkSettings` (None: the defaults);
    ``candidate_settings``, ``n_random_pairs``, ``random_state`` override its fields. ``n_jobs``:
    worker processes for large runs — the normalizers use up to ``n_jobs`` (None: as they choose
    by the work's size), candidates are generated in one while the comparisons
    encode the records, then the comparisons and the explanations are spread over ``n_jobs``
    (None: every CPU this process may use, up to :data:`PARALLEL_MAX_REPORTS` reports; 1:
    everything in this process). ``on_duplicate``: ids that repeat stop the run (``"stop"``), or
    the ``"first"`` / ``"last"`` row of each id is kept (see :func:`prepare_records`). ``prepared``:
    the kinds (``"resident"``, ``"missing"``) whose frame is what :func:`prepare_records` returned
    already and is passed as is (a standing index checks its frames once, when it writes them,
    instead of on every run). ``client``: a ``dask.distributed.Client``; the same run, same table,
    on its cluster (:mod:`kinmatch.distributed`; ``shared_dir``: a folder or fsspec URL every worker
    can read, where the normalized frames are written once). ``dedupe_reports`` overrides the
    settings' field of that name; ``report_clusters``: what
    :func:`~kinmatch.match.dedupe.dedupe_reports` returned for these reports (None: clustered here
    when the settings ask for it). ``render_rows``: a function of a part of the table (e.g.
    :func:`kinmatch._io.csv_rows`), applied where the part is made when the ranking runs on two
    processes (see :func:`rank_candidates`); the results are :attr:`LinkRun.rendered`."""
    if int(top_k) < 1:
        raise InputError(f"top_k must be at least 1, not {top_k}")
    if by not in ("resident", "missing"):
        raise InputError(f"by must be 'resident' or 'missing', not {by!r}")
    settings = resolve_settings(settings)
    overrides = {k: v for k, v in (("candidates", candidate_settings), ("n_random_pairs", n_random_pairs),
                                    ("random_state", random_state), ("dedupe_reports", dedupe_reports))
                 if v is not None}
    if overrides:
        settings = LinkSettings(**(vars(settings) | overrides))
    if "resident" not in prepared and "missing" not in prepared:
        residents, missing = prepare_pair(residents, missing, on_duplicate, n_jobs)
    elif "resident" not in prepared:
        residents = prepare_records(residents, "resident", on_duplicate, n_jobs)
    elif "missing" not in prepared:
        missing = prepare_records(missing, "missing", on_duplicate, n_jobs)
    fitted = _resolve_model(model)
    if fitted is not None and hasattr(fitted, "check_compatible"):
        fitted.check_compatible(settings.level_labels())
    if len(residents) == 0 or len(missing) == 0:
        return LinkRun(empty_table(settings), fitted, pd.DataFrame(), pd.DataFrame(), residents, missing, settings)
    if client is not None:  # issue 14: the same run on a Dask cluster
        from kinmatch.distributed import TableParts, run_on_cluster

        # the table's makings go along: kinmatch.distributed does not import this module (no cycle)
        parts = TableParts(score, empty_table, model_version, OUTPUT_COLUMNS + settings.weight_columns + EXTRA_COLUMNS)
        if settings.dedupe_reports:
            raise InputError("clustering duplicate reports (dedupe_reports / --dedupe) does not run on a Dask "
                             "cluster yet; link without --workers/--scheduler (client=None) to cluster them")
        if settings.fit_candidate_settings() is not None and fitted is None:
            raise InputError("fitting the model on other candidates than those scored (LinkSettings.fit_candidates) "
                             "does not run on a Dask cluster yet; link without --workers/--scheduler, or fit the "
                             "model first and pass it (model=...)")
        on_cluster = run_on_cluster(residents, missing, client, settings, fitted, parts, top_k, by, progress,
                                    shared_dir)
        return LinkRun(*on_cluster, residents=residents, missing=missing, settings=settings)

    # candidates in a forked worker while this process encodes the records for the comparisons:
    # the two need nothing from each other (on 2,000 × 20,000 each takes about a second)
    candidate_jobs = n_jobs  # the candidates' chunks share numpy arrays only: not limited by memory as below
    if n_jobs is None and len(missing) > PARALLEL_MAX_REPORTS:
        n_jobs = 1  # memory, not time, is the limit there (see PARALLEL_MAX_REPORTS)
    background = resolve_jobs(n_jobs) > 1 and len(missing) >= BACKGROUND_MIN_REPORTS
    shares = None
    if background:
        from kinmatch._parallel import FORK

        try:
            shares = _CandidateShares() if FORK is not None else None
        except OSError:  # no temporary file here (a full or read-only disk): the worker's pairs up its pipe
            shares = None
    pending = fork_call(_candidates_task, shared=(residents, missing, settings.candidate_settings(),
                                                  progress and not background, candidate_jobs, shares),
                        enabled=background)
    if shares is not None:
        shares.forked()
    fit_settings = settings.fit_candidate_settings() if fitted is None else None
    pending_fit = None
    try:
        if fit_settings is not None:  # the pairs the model is fitted on, in a second worker
            pending_fit = fork_call(_candidates_task, shared=(fit_residents(residents, settings), missing,
                                                              fit_settings, False, candidate_jobs, None),
                                    enabled=background)
        encoded = engine.encode(residents, missing, settings.comparisons)
        # the model's modules, while the candidates' worker finishes
        meanwhile = _import_fitting if fitted is None else None
        if shares is not None:
            packed = shares.receive(pending, residents, settings.candidate_settings(), meanwhile)
        else:
            if meanwhile is not None:
                meanwhile()
            packed = pending()
        fit_candidates = pending_fit() if pending_fit is not None else None
        positions = None
        if packed.resident_ids is None:  # positions in the frames, which encoded keeps in their order
            positions = (packed.residents.astype(np.int64), packed.reports.astype(np.int64))
            packed = packed._replace(resident_ids=encoded.resident_ids.to_numpy(),
                                     missing_ids=encoded.report_ids.to_numpy())
        candidates = packed.unpack()
        if resolve_jobs(n_jobs) < 2 or by != "resident" or settings.dedupe_reports:  # what _TwoParts reads
            positions = None
        elif positions is None:
            positions = _packed_positions(encoded, packed)
        pass_bits = packed.pass_bits
        del packed  # its arrays are not kept through the ranking (4M pairs at 10,000 × 1,000,000)
        run = rank_candidates(residents, missing, candidates, encoded, fitted, settings, top_k, by, progress, n_jobs,
                              report_clusters=report_clusters, fit_candidates=fit_candidates,
                              render_rows=render_rows, in_two=True, positions=positions, pass_bits=pass_bits)
    except BaseException:  # noqa: B036 - failed (or Ctrl-C): the workers are stopped, not left behind
        pending.cancel()
        if pending_fit is not None:
            pending_fit.cancel()
        if shares is not None:
            shares.close()
        raise
    pending()  # the candidates' worker, whose pairs came through a file, has ended by now: reaped
    return run


def rank_candidates(residents: pd.DataFrame, missing: pd.DataFrame, candidates: Any, encoded: engine.Encoded,
                    fitted: Any, settings: LinkSettings, top_k: int, by: str, progress: bool,
                    n_jobs: int | None, version: str | None = None, report_clusters: Any = None,
                    fit_candidates: Any = None, render_rows: Any = None, in_two: bool = False,
                    positions: tuple[np.ndarray, np.ndarray] | None = None,
                    pass_bits: np.ndarray | None = None) -> LinkRun:
    """The second half of :func:`run_link`: compare the ``candidates``
    (:class:`~kinmatch.match.candidates.Candidates`) with the records as ``encoded``, fit a model
    when ``fitted`` is None (u from random pairs of ``residents`` × ``missing``), score, rank and
    explain. ``encoded`` may hold only the records the candidates name (a standing index encodes
    just those); every level, weight and rank is the same, as each depends on the pair alone.
    ``version``: :func:`model_version` of ``fitted`` when the caller knows it already;
    ``report_clusters``: as :func:`run_link` takes them; ``fit_candidates``: the
    :class:`~kinmatch.match.candidates.Candidates` the model is fitted on when it is fitted here
    (``LinkSettings.fit_candidates``, as :class:`~kinmatch.match.candidates.PackedCandidates` for
    the residents :func:`fit_residents` names; None: the scored ``candidates``).

    ``in_two``: when ``n_jobs`` and the size allow it (:class:`_TwoParts`), a forked worker takes
    the candidates of the first residents (by id) from the comparisons to the explained rows while
    this process takes the last ones and fits the model; ``render_rows`` (a function of a table,
    e.g. :func:`kinmatch._io.csv_rows`) is then applied to each part where it was made, and
    :attr:`LinkRun.rendered` holds the results (a :class:`kinmatch._io.CsvParts` writes them into
    its file instead). The table is the same either way. ``positions``:
    the candidates' record positions in ``encoded`` when the caller has them (None: looked up by id);
    ``pass_bits``: their :attr:`~kinmatch.match.candidates.PackedCandidates.pass_bits`, when the
    caller has them (the fit's rows and the weight floors are read from them, not from the names)."""
    n_candidates = n_compared = len(candidates.pairs)
    pairs = candidates.pairs
    fit_rows, n_fit_residents = None, len(residents)
    if not (fitted is None and n_candidates):
        pairs = candidates.pairs[["resident_id", "missing_id"]]
    else:
        from kinmatch.match.candidates import fit_rows as fitted_pass_rows
        from kinmatch.match.model.fitting import random_pairs

        if fit_candidates is not None:  # the fit's pairs not scored are compared too, after the scored ones
            n_fit_residents = min(len(residents), settings.fit_sample or len(residents))
            fit_pairs = fit_candidates.unpack().pairs
            chosen = fitted_pass_rows(fit_pairs, settings.fit_candidate_settings())
            fit_pairs = fit_pairs if chosen is None else fit_pairs.iloc[chosen]
            fit_rows, extra = _fit_pairs(pairs[["resident_id", "missing_id"]], fit_pairs[["resident_id", "missing_id"]])
            pairs = _stacked_pairs(pairs, extra)
            n_compared = len(pairs)
        else:  # the pairs of passes without ``fit`` are scored, not fitted on
            fit_rows = fitted_pass_rows(candidates.pairs, settings.candidate_settings(), pass_bits)
        # the random pairs of the u estimate are compared in the same pass (and worker processes)
        pairs = _stacked_pairs(pairs, random_pairs(residents, missing, settings.n_random_pairs, settings.random_state))
    # compare_pairs keeps the candidate pairs' order, so their prescore lines up row for row
    prescore = candidates.pairs["prescore"].to_numpy(dtype=float) if "prescore" in candidates.pairs.columns else None
    floor = weight_floors(candidates.pairs, settings.candidate_settings(), pass_bits)  # passes' min_weight, or None
    parts = None
    if (in_two and by == "resident" and not settings.dedupe_reports and resolve_jobs(n_jobs) >= 2
            and len(pairs) >= engine.PARALLEL_MIN_PAIRS):
        parts = _TwoParts.start(encoded, pairs, n_candidates, prescore, residents, settings, top_k, render_rows,
                                positions, floor)
    if parts is None:
        compared = _compare(pairs, encoded, progress, n_jobs)
    else:
        compared = parts.compare()
    try:
        vectors = compared.iloc[:n_candidates]
        if len(vectors) == 0:
            if parts is not None:
                parts.cancel()
            return LinkRun(empty_table(settings), fitted, vectors, candidates.counts, residents, missing, settings)
        clusters = _report_clusters(missing, settings, report_clusters, progress)
        if fitted is None:
            from kinmatch._parallel import jobs_limit
            from kinmatch.match.model.fitting import fit_model

            fit_vectors = vectors
            if fit_rows is not None:
                fit_vectors = pd.concat([vectors.iloc[fit_rows], compared.iloc[n_candidates:n_compared]])
            with jobs_limit(n_jobs):  # the fit's threads keep to the run's jobs
                fitted = fit_model(fit_vectors, compared.iloc[n_compared:], n_fit_residents, settings,
                                   n_reports=len(missing))
        version = version if version is not None else model_version(fitted)
        if parts is not None:
            table, rendered = parts.rank(vectors, fitted, version)
            return LinkRun(table, fitted, vectors, candidates.counts, residents, missing, settings, None, rendered)
    except BaseException:  # noqa: B036 - this process failed (or Ctrl-C): the worker is stopped, not awaited
        if parts is not None:
            parts.cancel()
        raise

    def positions(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return encoded.positions(candidates.pairs.iloc[rows])

    if clusters is not None and by == "resident":
        from kinmatch.match.dedupe import Scored, rank_clusters

        weights, match_weight, probability = score(fitted, vectors, settings)
        resident_codes, missing_codes = sorted_codes(vectors.index, 0), sorted_codes(vectors.index, 1)
        scored = Scored(weights, match_weight, probability, prescore)
        rows, ranks, (row_probability, row_weight, kept_weights, levels, sources) = rank_clusters(
            encoded, candidates.pairs, vectors, scored, clusters, fitted, settings, resident_codes, missing_codes,
            top_k, score)
        table = _table(encoded, *positions(rows), ranks, row_probability, row_weight, kept_weights, levels,
                       sources, residents, version, settings, resolve_jobs(n_jobs), clusters)
    else:
        table = _ranked(vectors, positions, prescore, fitted, version, encoded, residents, settings, top_k, by,
                        resolve_jobs(n_jobs), clusters, floor)
    return LinkRun(table, fitted, vectors, candidates.counts, residents, missing, settings, clusters)


def _ranked(vectors: pd.DataFrame, positions: Any, prescore: np.ndarray | None, fitted: Any,
            version: str, encoded: engine.Encoded, residents: pd.DataFrame, settings: LinkSettings, top_k: int,
            by: str, jobs: int, clusters: Any = None, floor: np.ndarray | None = None) -> pd.DataFrame:
    """The linking table of the candidate pairs whose comparison ``vectors`` (their pair index as
    :func:`engine.pair_index` makes it) and ``prescore`` are given (``positions(rows)``: the record
    positions of those of ``rows``): scored with ``fitted``, the ``top_k`` of each resident (or
    report, ``by``), explained, with the cluster columns of ``clusters`` when given. Every
    candidate of a resident (report) must be among them; a table of some residents' candidates
    holds those residents' rows of the whole table, in its order. ``floor``: per pair the match
    weight below which it is not ranked (:func:`~kinmatch.match.candidates.weight_floors`)."""
    weights, match_weight, probability = score(fitted, vectors, settings)
    resident_codes, missing_codes = sorted_codes(vectors.index, 0), sorted_codes(vectors.index, 1)
    group, other = (resident_codes, missing_codes) if by == "resident" else (missing_codes, resident_codes)
    rows, ranks = rank_codes(group, other, match_weight, prescore, top_k, floor)
    kept_weights = weights.iloc[rows].reset_index(drop=True)
    levels = vectors.iloc[rows][settings.names].to_numpy()
    lp, rp = positions(rows)
    return _table(encoded, lp, rp, ranks, probability[rows], match_weight[rows], kept_weights, levels, rp, residents,
                  version, settings, jobs, clusters)


def _table(encoded: engine.Encoded, lp: np.ndarray, rp: np.ndarray, ranks: np.ndarray, probability: np.ndarray,
           match_weight: np.ndarray, kept_weights: pd.DataFrame, levels: np.ndarray, sources: np.ndarray,
           residents: pd.DataFrame, version: str, settings: LinkSettings, jobs: int, clusters: Any = None
           ) -> pd.DataFrame:
    """The linking table's columns for the ranked pairs at record positions ``lp``/``rp``."""
    ranked = pd.DataFrame({"resident_id": encoded.resident_ids[lp], "missing_id": encoded.report_ids[rp], "rank": ranks,
                           "match_probability": probability, "match_weight": match_weight})
    ranked = pd.concat([ranked, kept_weights], axis=1)
    ranked["explanation"] = _explain(encoded, lp, sources, levels, kept_weights.to_numpy(), jobs)
    potential = identification_potential(residents)
    ranked["identification_potential"] = potential.reindex(ranked["resident_id"]).to_numpy()
    ranked["model_version"] = version
    columns = OUTPUT_COLUMNS + settings.weight_columns + EXTRA_COLUMNS
    if clusters is not None:
        from kinmatch.match.dedupe import cluster_columns, evidence_sources

        ranked = ranked.assign(**cluster_columns(clusters, ranked["missing_id"]))
        evidence = evidence_sources(sources, rp, settings.names, encoded.report_ids)
        ranked["cluster_evidence"] = np.where(evidence == "", None, evidence)
        columns = columns + CLUSTER_COLUMNS
    table = ranked[columns]
    return table.astype({"rank": int, "identification_potential": int})


def fit_residents(residents: pd.DataFrame, settings: LinkSettings) -> pd.DataFrame:
    """The residents whose ``fit_candidates`` the model is fitted on: all, or a sample of
    ``fit_sample`` drawn with ``random_state`` (in their order in ``residents``)."""
    if settings.fit_sample is None or len(residents) <= settings.fit_sample:
        return residents
    rng = np.random.default_rng(settings.random_state)
    rows = np.sort(rng.choice(len(residents), size=int(settings.fit_sample), replace=False))
    return residents.iloc[rows].reset_index(drop=True)


def _fit_pairs(scored: pd.DataFrame, fit: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """The rows of ``scored`` that are also among the ``fit`` pairs, and the ``fit`` pairs not
    scored (pairs told apart by a 64-bit hash of both ids)."""
    scored_keys = pd.util.hash_pandas_object(scored, index=False).to_numpy()
    fit_keys = pd.util.hash_pandas_object(fit, index=False).to_numpy()
    return np.flatnonzero(np.isin(scored_keys, fit_keys)), fit[~np.isin(fit_keys, scored_keys)]


def _report_clusters(missing: pd.DataFrame, settings: LinkSettings, given: Any, progress: bool) -> Any:
    """The clusters of duplicate reports when the settings ask for them: ``given`` when passed,
    else :func:`~kinmatch.match.dedupe.dedupe_reports` of the reports."""
    if not settings.dedupe_reports:
        return None
    if given is not None:
        return given
    from kinmatch.match.dedupe import dedupe_reports

    return dedupe_reports(missing, progress=progress)


def empty_table(settings: LinkSettings | None = None) -> pd.DataFrame:
    """The linking table with no rows (its columns and types)."""
    settings = settings or LinkSettings()
    columns = OUTPUT_COLUMNS + settings.weight_columns + EXTRA_COLUMNS
    columns += CLUSTER_COLUMNS if settings.dedupe_reports else []
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("resident_id", "missing_id", "explanation",
                                                            "model_version", *CLUSTER_COLUMNS) else float)
                         for c in columns})


def link(residents: Any, missing: Any, top_k: int = 10, by: str = "resident", model: Any = None,
         progress: bool = True, **options: Any) -> pd.DataFrame:
    """Rank missing-person reports for each resident (or residents for each report).

    ``residents`` / ``missing``: canonical frames (as :func:`kinmatch.read_residents` returns; the
    normalizers run when their columns are absent), already normalized frames, or file paths.
    ``model``: ``None`` fits a Fellegi–Sunter model by EM on these data (u from random pairs); a
    fitted model or the path of its JSON is used as is (refused when it was fitted on other
    comparisons or levels). ``options`` go to :func:`run_link` (``settings``,
    ``candidate_settings``, ``n_random_pairs``, ``random_state``, ``n_jobs``, ``on_duplicate``,
    ``dedupe_reports``, ``report_clusters``,
    and ``client`` / ``shared_dir`` to run on a Dask cluster).

    Returns the SCHEMA.md linking table (see the module docstring).

        >>> import pandas as pd
        >>> residents = pd.DataFrame({"resident_id": ["R1"], "name": ["吴春花"], "sex": ["女"]})  # doctest: +SKIP
        >>> link(residents, "missing.csv", top_k=5).head()                                         # doctest: +SKIP
    """
    return run_link(residents, missing, top_k=top_k, by=by, model=model, progress=progress, **options).table
