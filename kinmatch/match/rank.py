"""Linking end to end: candidates → comparisons → model → ranked, explained candidates.

    >>> import kinmatch                                                      # doctest: +SKIP
    >>> candidates = kinmatch.link("residents.xlsx", "missing.csv", top_k=10)  # doctest: +SKIP
    >>> candidates.columns[:6].tolist()                                       # doctest: +SKIP
    ['resident_id', 'missing_id', 'rank', 'match_probability', 'match_weight', 'explanation']

The output is the SCHEMA.md linking table: at most ``top_k`` rows per resident (or per report with
``by="missing"``), ``rank`` 1 = best, ``match_probability`` and ``match_weight`` from the model,
``explanation`` (``姓名同音(李伟/李玮) +6.1; 年龄相符 +2.0; 身高差12cm −3.2``), one ``w_<comparison>``
column per comparison, and the resident's ``identification_potential`` (1–5).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch._gc import gc_paused
from kinmatch._parallel import fork_call, fork_map, resolve_jobs, shared
from kinmatch.errors import InputError
from kinmatch.match import batch
from kinmatch.match import comparisons as cmp
from kinmatch.match.candidates import CandidateSettings, packed_candidate_pairs
from kinmatch.match.explain import explain_pairs
from kinmatch.match.model.fitting import fit_model, floor_name_tf, random_pairs

OUTPUT_COLUMNS = ["resident_id", "missing_id", "rank", "match_probability", "match_weight", "explanation"]
WEIGHT_COLUMNS = [f"w_{name}" for name in cmp.COMPARISONS]

# a frame that has these was normalized already (docs/contract.md §2)
_NORMALIZED_MARKERS = ("sex_code", "birth_year_low", "event_date")


class LinkRun(NamedTuple):
    """Everything one linking run produced: the ranked ``table`` (what :func:`link` returns), the
    fitted ``model``, the candidates' comparison ``vectors``, the per-pass ``candidate_counts``,
    and the normalized ``residents`` and ``missing`` frames (for review screens)."""

    table: pd.DataFrame
    model: Any
    vectors: pd.DataFrame
    candidate_counts: pd.DataFrame
    residents: pd.DataFrame
    missing: pd.DataFrame


# ---------------------------------------------------------------------------------------------
# inputs


def _load(src: Any, kind: str) -> pd.DataFrame:
    if isinstance(src, pd.DataFrame):
        return src
    if isinstance(src, (str, os.PathLike)):
        from kinmatch import intake

        reader = intake.read_residents if kind == "resident" else intake.read_missing
        return reader(src).frame
    raise InputError(f"{kind} input must be a DataFrame or a file path, not {type(src).__name__}; "
                     f"pass a path to a CSV/xlsx file or the frame kinmatch.read_{kind}s returned")


def _prepare(src: Any, kind: str) -> pd.DataFrame:
    frame = _load(src, kind)
    id_column = "resident_id" if kind == "resident" else "missing_id"
    if id_column not in frame.columns:
        raise InputError(f"the {kind} table has no {id_column!r} column, so candidates could not be "
                         f"named; read it with kinmatch.read_{kind}s (which maps Chinese headers such as 编号) "
                         f"or add the column")
    if not all(column in frame.columns for column in _NORMALIZED_MARKERS):
        from kinmatch.normalize import records

        normalize = records.normalize_residents if kind == "resident" else records.normalize_missing
        frame, _issues = normalize(frame)
    ids = frame[id_column]
    if ids.dtype != object or not ids.map(type).eq(str).all():
        frame = frame.assign(**{id_column: ids.astype(str)})
    duplicated = frame[id_column][frame[id_column].duplicated()]
    if len(duplicated):
        raise InputError(f"{len(duplicated)} {kind} ids occur more than once (first: {duplicated.iloc[0]!r}); "
                         f"each {id_column} must be unique so a candidate names one record — fix or renumber them")
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        frame = frame.reset_index(drop=True)
    return frame


# ---------------------------------------------------------------------------------------------
# identification potential


def identification_potential(residents: pd.DataFrame) -> pd.Series:
    """How much usable evidence each resident's record holds, 1 (almost none) to 5, as NamUs
    scores unidentified cases: one point each for a usable name, an age estimate, a height,
    marks, and place clues (accent, stated places); at least 1.

        >>> frame = pd.DataFrame({"resident_id": ["R1", "R2"], "name_evidence": [True, False],
        ...                       "name_norm": ["李伟", "党新"], "birth_year_low": [1960, None],
        ...                       "height_cm": [170, None], "marks": [("痣:脸:左",), ()],
        ...                       "accent_provinces": [("510000",), ()]})
        >>> identification_potential(frame).tolist()
        [5, 1]
    """
    n = len(residents)

    def col(name, default=None):
        return residents[name].to_numpy() if name in residents.columns else np.full(n, default, dtype=object)

    def nonempty(values):
        return np.array([bool(cmp._tuple(v)) for v in values], dtype=bool)

    evidence = np.array([cmp._truthy(v, True) for v in col("name_evidence")], dtype=bool)
    has_name = evidence & (nonempty(col("name_norm")) | nonempty(col("alias_norm")))
    has_age = ~np.isnan(pd.to_numeric(pd.Series(col("birth_year_low")), errors="coerce").to_numpy(float))
    has_age |= ~np.isnan(pd.to_numeric(pd.Series(col("age_low")), errors="coerce").to_numpy(float))
    has_height = ~np.isnan(pd.to_numeric(pd.Series(col("height_cm")), errors="coerce").to_numpy(float))
    has_marks = nonempty(col("marks"))
    has_place = nonempty(col("accent_provinces")) | nonempty(col("accent_area")) | nonempty(col("statement_places"))
    score = has_name.astype(int) + has_age + has_height + has_marks + has_place
    return pd.Series(np.maximum(score, 1), index=residents["resident_id"].astype(str).to_numpy(),
                     name="identification_potential")


# ---------------------------------------------------------------------------------------------
# model


def _resolve_model(model: Any):
    if model is None or hasattr(model, "weight_table"):
        return model
    if isinstance(model, (str, os.PathLike)):
        from kinmatch.match.model import FellegiSunter

        path = Path(model)
        if not path.is_file():
            raise InputError(f"model file {str(path)!r} does not exist; pass the JSON written by "
                             f"`kinmatch link --save-model` or FellegiSunter.to_json, or omit the model "
                             f"to fit one on these data")
        return FellegiSunter.from_json(path)
    raise InputError(f"model must be a fitted FellegiSunter / SupervisedLinker or a JSON path, not "
                     f"{type(model).__name__}")


# ---------------------------------------------------------------------------------------------
# ranking


def rank_order(group_ids: Any, other_ids: Any, match_weight: Any, prescore: Any = None,
               top_k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``top_k`` best rows per group, best first within each group (groups in
    id order), and their ranks 1..k: by ``match_weight`` descending, then ``prescore``
    descending when given, then the other id ascending (the order of :func:`rank_pairs`).

        >>> rows, ranks = rank_order(["R1", "R1", "R1"], ["M1", "M2", "M3"], [1.0, 5.0, 3.0], top_k=2)
        >>> rows.tolist(), ranks.tolist()
        ([1, 2], [1, 2])
    """
    group_codes = pd.factorize(np.asarray(group_ids, dtype=object), sort=True)[0]
    other_codes = pd.factorize(np.asarray(other_ids, dtype=object), sort=True)[0]
    return _rank_codes(group_codes, other_codes, match_weight, prescore, top_k)


def _sorted_codes(index: pd.MultiIndex, level: int) -> np.ndarray:
    """Integer codes of one level of a pair index that sort as its ids do (a MultiIndex built
    from arrays holds its levels sorted, so its own codes serve, with no pass over the ids)."""
    if index.levels[level].is_monotonic_increasing:
        return np.asarray(index.codes[level])
    return pd.factorize(np.asarray(index.get_level_values(level), dtype=object), sort=True)[0]


def _rank_codes(group_codes: np.ndarray, other_codes: np.ndarray, match_weight: Any, prescore: Any,
                top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rank_order` on integer codes that sort as the ids do."""
    # numpy lexsort on integer codes rather than DataFrame.sort_values: the pair table of a run
    # has hundreds of thousands of rows and the sort was a tenth of the link stage
    keys = [other_codes]
    if prescore is not None:
        keys.append(-np.asarray(prescore, dtype=float))
    # weights equal but for float noise are ties (levels that monotone_m capped to one weight differ in
    # the last bits, by the order the fit summed in): the pre-score, then the id, decides them
    keys += [-np.round(np.asarray(match_weight, dtype=float), 9), group_codes]
    order = np.lexsort(keys)
    sorted_groups = group_codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1] if len(order) else np.zeros(0, dtype=np.int64)
    ranks = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)])) + 1
    keep = ranks <= int(top_k)
    return order[keep], ranks[keep]


def rank_pairs(scored: pd.DataFrame, top_k: int = 10, by: str = "resident") -> pd.DataFrame:
    """Keep the ``top_k`` best pairs per resident (``by="resident"``) or per report
    (``by="missing"``) by ``match_weight``, and number them 1..k (ties: by a ``prescore`` column
    when there is one, the candidate passes' support, higher first; then by the other id).

        >>> scored = pd.DataFrame({"resident_id": ["R1", "R1", "R1"], "missing_id": ["M1", "M2", "M3"],
        ...                        "match_weight": [1.0, 5.0, 3.0]})
        >>> rank_pairs(scored, top_k=2)[["missing_id", "rank"]].values.tolist()
        [['M2', 1], ['M3', 2]]
        >>> tied = scored.assign(match_weight=3.0, prescore=[-4.0, -1.0, -2.5])
        >>> rank_pairs(tied, top_k=2)["missing_id"].tolist()
        ['M2', 'M3']
    """
    if by not in ("resident", "missing"):
        raise InputError(f"by must be 'resident' or 'missing', not {by!r}")
    group, other = ("resident_id", "missing_id") if by == "resident" else ("missing_id", "resident_id")
    # equal weights (common for nameless residents, whose few comparisons have few levels): the
    # candidate passes' pre-score (years, cm and km of gap, shared marks) breaks the tie
    prescore = scored["prescore"] if "prescore" in scored.columns else None
    rows, ranks = rank_order(scored[group], scored[other], scored["match_weight"], prescore, top_k)
    return scored.iloc[rows].assign(rank=ranks).reset_index(drop=True)


PARALLEL_MIN_EXPLAINED = 500_000
"""From this many ranked rows the explanations are written by worker processes, a range each.
Explaining is fast (98,690 rows in 0.17 s in one process); below this, forking and sending the
texts back cost more than the second worker saves (0.30 s against 0.20 s at 98,690 rows)."""


def _explain(ranked: pd.DataFrame, levels: pd.DataFrame, weights: pd.DataFrame, residents: pd.DataFrame,
             missing: pd.DataFrame, mark_freq: Any, n_jobs: int) -> list[str]:
    """:func:`explain_pairs` of the ranked rows; a row's text depends on that row alone, so ranges
    of rows can be explained apart."""
    n = len(ranked)
    if n_jobs < 2 or n < PARALLEL_MIN_EXPLAINED:
        return explain_pairs(ranked, levels, weights, residents, missing, mark_freq=mark_freq)
    edges = np.linspace(0, n, 2 * n_jobs + 1).astype(int)
    bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    parts = fork_map(_explain_range, bounds, n_jobs, shared=(ranked, levels, weights, residents, missing, mark_freq))
    return [text for part in parts for text in part]


def _explain_range(bounds: tuple[int, int]) -> list[str]:
    ranked, levels, weights, residents, missing, mark_freq = shared()
    start, stop = bounds
    return explain_pairs(ranked.iloc[start:stop], levels.iloc[start:stop], weights.iloc[start:stop], residents,
                         missing, mark_freq=mark_freq)


PARALLEL_MAX_REPORTS = 300_000
"""Above this many reports ``n_jobs=None`` means one process: each worker reads the prepared
records of every report, and reading a Python object writes its reference count, so the forked
copies stop being shared — at 10,000 × 1,000,000 the workers took the whole run from 6.0 to
7.8 GB (target 8) for 25% less time. Pass ``n_jobs`` explicitly on a machine with room."""

BACKGROUND_MIN_REPORTS = 5_000
"""From this many reports candidate generation runs in a worker process beside the preparation of
the comparisons (below it, forking costs more than it saves)."""


def _candidates_task():
    # packed: integer arrays pickle back to the parent in a few ms, the pairs frame in ~50
    residents, missing, settings, progress = shared()
    return packed_candidate_pairs(residents, missing, settings=settings, progress=progress)


@gc_paused()
def run_link(residents: Any, missing: Any, top_k: int = 10, by: str = "resident", model: Any = None,
             progress: bool = True, candidate_settings: CandidateSettings | None = None,
             n_random_pairs: int = 30_000, random_state: int | None = 0, n_jobs: int | None = None) -> LinkRun:
    """Like :func:`link`, but returns the whole :class:`LinkRun` (model, vectors, counts).

    ``n_jobs``: worker processes for large runs — candidates are generated in one while the
    comparisons are prepared, then the comparisons and the explanations are spread over
    ``n_jobs`` (None: every CPU this process may use, up to :data:`PARALLEL_MAX_REPORTS`
    reports; 1: everything in this process)."""
    if int(top_k) < 1:
        raise InputError(f"top_k must be at least 1, not {top_k}")
    if by not in ("resident", "missing"):
        raise InputError(f"by must be 'resident' or 'missing', not {by!r}")
    residents = _prepare(residents, "resident")
    missing = _prepare(missing, "missing")
    fitted = _resolve_model(model)
    if len(residents) == 0 or len(missing) == 0:
        return LinkRun(_empty_table(), fitted, pd.DataFrame(), pd.DataFrame(), residents, missing)

    # candidates in a forked worker while this process prepares the comparisons' arrays: the two
    # need nothing from each other (on 2,000 × 20,000 each takes about a second)
    if n_jobs is None and len(missing) > PARALLEL_MAX_REPORTS:
        n_jobs = 1  # memory, not time, is the limit there (see PARALLEL_MAX_REPORTS)
    background = resolve_jobs(n_jobs) > 1 and len(missing) >= BACKGROUND_MIN_REPORTS
    pending = fork_call(_candidates_task, shared=(residents, missing, candidate_settings, progress and not background),
                        enabled=background)
    try:
        features = cmp.features_for(missing)
        mark_freq = next((f.frequency for f in features if isinstance(f, cmp.MarksComparison)), None)
        prepared = batch.prepare_records(residents, missing, features)
        # name_key_frequency(missing), from the key sets just cleaned (a column the reports lack
        # was filled with empty sets, which count for nothing)
        name_freq = (cmp.key_frequency([prepared.right.arrays[c] for c in cmp.PARTIAL_FORM_COLUMNS
                                        if c in prepared.right.arrays])
                     if "name_keys" in missing.columns else None)
    finally:  # also on an error here: the worker is waited for, not left behind
        candidates = pending().unpack()
    pairs = candidates.pairs[["resident_id", "missing_id"]]
    n_candidates = len(pairs)
    if fitted is None and n_candidates:
        # the random pairs of the u estimate are compared in the same pass (and worker processes)
        pairs = pd.concat([pairs, random_pairs(residents, missing, n_random_pairs, random_state)], ignore_index=True)
    compared = batch.compare_pairs(pairs, residents, missing, features, name_freq, progress=progress,
                                   prepared=prepared, n_jobs=n_jobs)
    vectors = compared.iloc[:n_candidates]
    if len(vectors) == 0:
        return LinkRun(_empty_table(), fitted, vectors, candidates.counts, residents, missing)
    if fitted is None:
        fitted = fit_model(vectors, compared.iloc[n_candidates:], len(residents), random_state,
                           n_reports=len(missing))

    weights = fitted.weight_table(floor_name_tf(vectors, fitted), prefix="w_")
    match_weight = weights.to_numpy().sum(axis=1) + float(getattr(fitted, "prior_weight_", 0.0))
    if hasattr(fitted, "prior_weight_"):
        probability = 1.0 / (1.0 + np.exp2(-np.clip(match_weight, -1000, 1000)))
    else:  # e.g. SupervisedLinker: its own calibrated probabilities
        probability = fitted.predict_proba(vectors).to_numpy(dtype=float)
        match_weight = fitted.match_weight(vectors).to_numpy(dtype=float)
    # compare_pairs keeps the candidate pairs' order, so their prescore lines up row for row
    prescore = candidates.pairs["prescore"].to_numpy(dtype=float) if "prescore" in candidates.pairs.columns else None
    resident_codes, missing_codes = _sorted_codes(vectors.index, 0), _sorted_codes(vectors.index, 1)
    group, other = (resident_codes, missing_codes) if by == "resident" else (missing_codes, resident_codes)
    rows, ranks = _rank_codes(group, other, match_weight, prescore, top_k)
    # only the kept rows' ids are looked up
    resident_ids = vectors.index.levels[0].to_numpy()[vectors.index.codes[0][rows]]
    missing_ids = vectors.index.levels[1].to_numpy()[vectors.index.codes[1][rows]]
    ranked = pd.DataFrame({"resident_id": resident_ids, "missing_id": missing_ids, "rank": ranks,
                           "match_probability": probability[rows], "match_weight": match_weight[rows]})
    # every comparison gets its weight column (0 for one the model left out), on the kept rows only
    kept_weights = weights.iloc[rows].reset_index(drop=True).reindex(columns=WEIGHT_COLUMNS, fill_value=0.0)
    ranked = pd.concat([ranked, kept_weights], axis=1)
    ranked["explanation"] = _explain(ranked, vectors.iloc[rows][cmp.COMPARISONS].reset_index(drop=True),
                                     kept_weights, residents, missing, mark_freq, resolve_jobs(n_jobs))
    potential = identification_potential(residents)
    ranked["identification_potential"] = potential.reindex(ranked["resident_id"]).to_numpy()
    ranked["model_version"] = model_version(fitted)
    table = ranked[OUTPUT_COLUMNS + WEIGHT_COLUMNS + EXTRA_COLUMNS]
    table = table.astype({"rank": int, "identification_potential": int})
    return LinkRun(table, fitted, vectors, candidates.counts, residents, missing)


EXTRA_COLUMNS = ["identification_potential", "model_version"]
"""After the weights: the resident's identification potential (1–5) and the version of the model
that scored the pair (the review store keeps it with every candidate)."""


def model_version(model: Any) -> str:
    """``kinmatch-<package version>-<first 12 hex of the SHA-256 of the model's JSON>``: the same
    parameters give the same version, any change of m, u or the prior gives another.

        >>> from kinmatch.match.model import FellegiSunter
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


def _empty_table() -> pd.DataFrame:
    columns = OUTPUT_COLUMNS + WEIGHT_COLUMNS + EXTRA_COLUMNS
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("resident_id", "missing_id", "explanation",
                                                            "model_version") else float)
                         for c in columns})


def link(residents: Any, missing: Any, top_k: int = 10, by: str = "resident", model: Any = None,
         progress: bool = True, **options: Any) -> pd.DataFrame:
    """Rank missing-person reports for each resident (or residents for each report).

    ``residents`` / ``missing``: canonical frames (as :func:`kinmatch.read_residents` returns; the
    normalizers run when their columns are absent), already normalized frames, or file paths.
    ``model``: ``None`` fits a Fellegi–Sunter model by EM on these data (u from random pairs); a
    fitted model or the path of its JSON is used as is. ``options`` go to :func:`run_link`
    (``candidate_settings``, ``n_random_pairs``, ``random_state``, ``n_jobs``).

    Returns the SCHEMA.md linking table (see the module docstring).

        >>> import pandas as pd
        >>> residents = pd.DataFrame({"resident_id": ["R1"], "name": ["吴春花"], "sex": ["女"]})  # doctest: +SKIP
        >>> link(residents, "missing.csv", top_k=5).head()                                         # doctest: +SKIP
    """
    return run_link(residents, missing, top_k=top_k, by=by, model=model, progress=progress, **options).table
