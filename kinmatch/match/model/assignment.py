"""The one-to-many assignment EM the linking pipeline fits, and the monotone adjustment of m.

:func:`fit_assignment_em` estimates m (per comparison and level) and π (the share of residents
whose report is among their candidates) from candidate pairs, each resident matching at most one
report. :class:`~kinmatch.match.model.FellegiSunter` runs it with ``method="assignment"``;
:func:`monotone_m` keeps the weights of ordered levels ordered.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["AssignmentFit", "AssignmentStart", "DEFAULT_START", "RESTART", "NARROWER_BY", "MIN_SHARE",
           "fit_assignment_em", "fit_assignment_em_restarted", "monotone_m", "prepare_beside"]


class AssignmentFit(NamedTuple):
    """Result of :func:`fit_assignment_em`: m and u per comparison, π, each candidate pair's
    posterior probability of being the resident's match (in ``vectors`` order), the number of
    iterations run and whether they converged (no parameter moved by more than ``tol`` in the
    last one); ``n_patterns``: how many distinct rows of levels the pairs have (None: not counted,
    e.g. more joint levels than an integer holds)."""

    m: dict
    u: dict
    pi: float
    posterior: np.ndarray
    n_iter: int
    converged: bool
    log_likelihood: float = float("nan")
    start: "AssignmentStart | None" = None
    n_patterns: int | None = None


class AssignmentStart(NamedTuple):
    """Where the assignment EM starts: π, and m of every comparison proportional to
    ``m_base ** level`` (above 1: rising with the level, as agreement is likelier among matches),
    or as ``m`` gives it for the comparisons it names (``{comparison: [m_0, ..., m_{L-1}]}``)."""

    pi: float
    m_base: float
    m: dict | None = None


DEFAULT_START = AssignmentStart(pi=0.5, m_base=2.0)
"""The EM's usual start: π 0.5, m doubling with each level."""

RESTART = AssignmentStart(pi=0.1, m_base=8.0)
"""The second start of :func:`fit_assignment_em_restarted`: few residents matched and m steep, so
the match class starts narrow (the pairs agreeing at the top levels)."""

NARROWER_BY = 0.05
"""How much lower π the restarted fit must have to replace the first: two starts that reach one
fixed point stop within ``tol`` of it (π 0.256 and 0.254 at 10,000 × 1,000,000), so there the
first fit, and the ranking, stay as they were."""

MIN_SHARE = 0.01
"""A restarted fit with π below this has collapsed (no resident matched) and is never kept."""


def fit_assignment_em(vectors: pd.DataFrame, u: dict[str, np.ndarray], n_residents: int,
                      max_iter: int = 60, tol: float = 2e-4, min_prob: float = 1e-4,
                      estimate_u: bool = False, offset: np.ndarray | None = None,
                      start: AssignmentStart | None = None, prepared: Callable[[], Any] | None = None
                      ) -> AssignmentFit:
    """m (per comparison and level) and π (share of residents whose report is among the
    candidates) by EM under a one-to-many assignment model; u is kept as given (from random
    pairs) or, with ``estimate_u``, re-estimated among the candidates that are not the match
    (starting from ``u``).

    Why not the plain Fellegi–Sunter EM: it treats candidate pairs as independent draws, but the
    candidates were *selected* for agreeing on a name sound, a place or an age window, so almost
    every candidate looks unlike a random pair and EM either calls them all matches (λ → 1) or
    splits them by the pass that proposed them. Here each resident matches at most one report
    (prior π spread evenly over all ``n_reports``), so the E step shares one unit of "is the
    match" among a resident's candidates and "none of them": selection can no longer inflate the
    match class. This is the bipartite model of Jaro/Sadinle reduced to its E step per resident.
    The prior π is spread evenly over the resident's candidates (being proposed by a pass is
    itself evidence; a report that no pass proposed is taken as not the match), so the matching
    u is that of *candidate* non-matches: ``estimate_u=True`` is what
    :func:`kinmatch.match.model.fitting.fit_model` uses.
    ``tol``: stop when neither π nor any m moves by more than this (bench/RESULTS.md records how
    far the default stops from a fully converged fit). ``start``: π and m to start from (None:
    :data:`DEFAULT_START`). The fit's ``log_likelihood`` is that of the candidates' levels under
    the final m, u and π (the assignment model's: per resident, (1 − π) Π u + Σ_j π / size · m_j
    Π_{k≠j} u_k, a resident without candidates 1 − π; the weak prior on m left out), so fits
    from two starts can be compared. ``prepared``: what :func:`prepare_beside` returned for these
    ``vectors`` and the comparisons of ``u`` (None: made here).
    """
    return _fit_prepared(_prepared(vectors, u, prepared), u, n_residents, max_iter, tol, min_prob, estimate_u,
                         offset, start)


def _prepared(vectors: pd.DataFrame, u: dict, prepared: Callable[[], Any] | None) -> _Prepared:
    return _prepare(vectors, list(u)) if prepared is None else prepared()


def prepare_beside(vectors: pd.DataFrame, names: list[str]) -> Callable[[], Any]:
    """Start making ready what every EM run on these pairs shares (the pairs sorted by resident,
    the level blocks) for the comparisons ``names``, on a thread beside the caller's own work
    (its numpy operations let go of the interpreter) when the pairs are as many as
    :func:`fit_assignment_em_restarted` runs its starts on threads for and two CPUs are allowed;
    returns a function that waits for it (and raises its error), to pass as ``prepared=``."""
    from kinmatch._parallel import allowed_jobs, on_thread

    if not THREADED_MIN_PAIRS <= len(vectors) <= THREADED_MAX_PAIRS or allowed_jobs() < 2:
        return lambda: _prepare(vectors, names)
    return on_thread(lambda: _prepare(vectors, names), "kinmatch-em-prepare")


class _Prepared(NamedTuple):
    """What every EM run on one set of candidate pairs shares, whatever its start: the pairs
    sorted by resident (``order``), each resident's first pair and number of pairs, each pair's
    resident and 1 / its resident's number of pairs, the level blocks, and each block's levels
    plus one (the index into a table of log ratios whose entry 0 is "missing")."""

    names: list
    order: np.ndarray
    starts: np.ndarray
    group_of: np.ndarray
    inverse_size: np.ndarray
    blocks: list
    level_rows: list
    n_patterns: int | None


def _prepare(vectors: pd.DataFrame, names: list[str]) -> _Prepared:
    index = vectors.index
    # the resident of each pair as an integer: a MultiIndex has the codes already
    resident_codes = (index.codes[0] if isinstance(index, pd.MultiIndex)
                      else pd.factorize(index.get_level_values(0))[0])
    order = np.argsort(resident_codes, kind="stable")
    groups = np.asarray(resident_codes)[order]
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    sizes = np.diff(np.r_[starts, len(groups)])
    group_of = np.repeat(np.arange(len(starts)), sizes)
    inverse_size = np.repeat(1.0 / sizes, sizes)
    # Pairs are grouped by their levels on a block of comparisons at a time (a block's joint
    # levels take a few hundred values; all twelve together take as many values as there are
    # pairs): a pair's log likelihood ratio is the sum of its blocks', and a level's expected
    # count is a sum over the block's patterns, so each iteration costs a few passes over the
    # pairs plus work on small tables.
    blocks = _level_blocks(vectors, names, order)
    level_rows = [[levels + 1 for levels in block.levels] for block in blocks]
    return _Prepared(names, order, starts, group_of, inverse_size, blocks, level_rows, _distinct_rows(blocks))


def _distinct_rows(blocks: list) -> int | None:
    """How many distinct rows of levels the pairs have: the blocks' pattern numbers joined into
    one integer per pair, counted (None when the joint numbers would not fit in 62 bits)."""
    if not blocks:
        return None
    if sum(math.log2(max(len(block.count), 1)) for block in blocks) >= 62:
        return None
    # 32-bit numbers where they fit: hashed in about half the time of 64-bit ones
    span = math.prod(len(block.count) for block in blocks)
    code = blocks[0].pattern.astype(np.int32 if span < 2**31 else np.int64)
    for block in blocks[1:]:
        code *= len(block.count)
        code += block.pattern.astype(code.dtype, copy=False)
    return int(len(pd.unique(code)))


def _fit_prepared(prepared: _Prepared, u: dict[str, np.ndarray], n_residents: int, max_iter: int, tol: float,
                  min_prob: float, estimate_u: bool, offset: np.ndarray | None, start: AssignmentStart | None
                  ) -> AssignmentFit:
    """:func:`fit_assignment_em` on pairs :func:`_prepare` made ready.

    Each iteration works on per-pair arrays made once (``out=``) and its arithmetic is, value for
    value, that of the plain form ``post = π e^lr / size / ((1 − π) + Σ π e^lr / size)`` with
    ``lr = Σ_blocks block_lr[pattern]``: the same operations on the same operands in the same
    order, so the fit's digits do not depend on how the arrays are kept."""
    if int(max_iter) < 1:
        raise ValueError(f"max_iter={max_iter}: the assignment EM needs at least one iteration")
    names, order, starts, group_of, inverse_size, blocks, level_rows, n_patterns = prepared
    start = DEFAULT_START if start is None else start
    u = {n: np.asarray(u[n], dtype=float) for n in names}
    # the weak prior of the M step stays m doubling with the level, whatever the start
    prior_m = {n: np.exp2(np.arange(len(u[n]), dtype=float)) for n in names}
    prior_m = {n: v / v.sum() for n, v in prior_m.items()}
    m = {n: np.asarray((start.m or {}).get(n, np.power(float(start.m_base), np.arange(len(u[n])))), dtype=float)
         for n in names}
    m = {n: v / v.sum() for n, v in m.items()}
    # pairs at each level (matches + the rest), from the blocks' pattern counts
    level_count = {n: np.bincount(rows[j], weights=block.count, minlength=len(u[n]) + 1)[1:]
                   for block, rows in zip(blocks, level_rows) for j, n in enumerate(block.names)}
    # a per-pair log likelihood ratio the comparisons' levels do not carry (e.g. the correction
    # for their dependence), in the pairs' sorted order
    offset_sorted = None if offset is None else np.asarray(offset, dtype=float)[order]
    offset_bound = 0.0 if offset_sorted is None else float(np.abs(offset_sorted).max(initial=0.0))
    n_pairs = len(order)
    lr, term, e, post = (np.empty(n_pairs) for _ in range(4))
    pi = float(start.pi)
    n_iter, converged = 0, False
    while n_iter < int(max_iter):
        n_iter += 1
        log_ratio = {n: np.r_[0.0, np.log(m[n]) - np.log(u[n])] for n in names}  # [0]: missing
        # lr = 0 (or the offset) + each block's ratio of the pair's pattern, added in block order;
        # 0 + x is x (up to the sign of a zero, which exp and the sums below do not see)
        bound = offset_bound
        for b, (block, rows) in enumerate(zip(blocks, level_rows)):
            block_lr = sum(log_ratio[n][rows[j]] for j, n in enumerate(block.names))
            bound += float(np.abs(block_lr).max(initial=0.0))
            if b == 0 and offset_sorted is None:
                np.take(block_lr, block.pattern, out=lr, mode=_GATHER)
            else:
                np.take(block_lr, block.pattern, out=term, mode=_GATHER)
                np.add(offset_sorted if b == 0 else lr, term, out=lr)
        if not blocks:
            lr[:] = 0.0 if offset_sorted is None else offset_sorted
        # E step: one unit of "is the match" shared by a resident's candidates and "none of
        # them", i.e. post = π e^lr / size over (1 - π) + Σ π e^lr / size. The weights are clipped
        # (min_prob), so e^lr stays far inside float range; the max-shifted form is the fallback.
        # |lr| is at most the sum of the blocks' largest |ratio| (with a margin for rounding), so
        # the pairs need not be scanned to know e^lr is safe.
        if bound < _EXP_SAFE - 1.0 or np.abs(lr).max(initial=0.0) < _EXP_SAFE:
            np.exp(lr, out=e)
            np.multiply(e, pi, out=e)
            np.multiply(e, inverse_size, out=e)
            denominator = np.add.reduceat(e, starts)
            np.add(denominator, 1 - pi, out=denominator)
            np.take(denominator, group_of, out=term, mode=_GATHER)
            np.divide(e, term, out=post)
        else:  # only with min_prob near 0
            a = math.log(pi) + lr + np.log(inverse_size)
            top = np.maximum.reduceat(a, starts)
            log_z = np.logaddexp(math.log(1 - pi), top + np.log(np.add.reduceat(np.exp(a - top[group_of]), starts)))
            post[:] = np.exp(a - log_z[group_of])
        total = float(post.sum())
        new_pi = float(np.clip(total / max(n_residents, 1), 1e-3, 1 - 1e-3))
        prior_strength = max(2.0, 0.05 * total)
        change = abs(new_pi - pi)
        for block, rows in zip(blocks, level_rows):
            post_by_pattern = np.bincount(block.pattern, weights=post, minlength=len(block.count))
            for j, n in enumerate(block.names):
                match_counts = np.bincount(rows[j], weights=post_by_pattern, minlength=len(u[n]) + 1)[1:]
                # a weak prior (m rising with the level, worth 5% of the expected matches) keeps a
                # level that no likely match showed from getting a weight of -13
                counts = match_counts + prior_strength * prior_m[n]
                new_m = np.clip(counts / counts.sum(), min_prob, 1 - min_prob)
                new_m = new_m / new_m.sum()
                change = max(change, float(np.max(np.abs(new_m - m[n]))))
                m[n] = new_m
                if estimate_u:
                    counts = level_count[n] - match_counts + 1.0
                    new_u = np.clip(counts / counts.sum(), min_prob, 1 - min_prob)
                    u[n] = new_u / new_u.sum()
        pi = new_pi
        if change < tol:
            converged = True
            break
    posterior = np.empty(len(post))
    posterior[order] = post
    log_likelihood = _log_likelihood(blocks, m, u, pi, offset_sorted, inverse_size, starts, n_residents)
    return AssignmentFit(m, u, pi, posterior, n_iter, converged, log_likelihood, start, n_patterns)


def fit_assignment_em_restarted(vectors: pd.DataFrame, u: dict[str, np.ndarray], n_residents: int,
                                starts: tuple[AssignmentStart, ...] = (DEFAULT_START, RESTART),
                                narrower_by: float = NARROWER_BY, min_share: float = MIN_SHARE,
                                prepared: Callable[[], Any] | None = None, **options) -> AssignmentFit:
    """:func:`fit_assignment_em` from each of ``starts``; a later fit replaces the kept one when
    it reaches a clearly narrower match class (π lower by more than ``narrower_by``) that has not
    collapsed (π at least ``min_share``). ``options`` and ``prepared``: as
    :func:`fit_assignment_em` takes them.

    A guard against the wide fixed point: with hundreds of candidates per resident, all selected
    for agreeing on something, the EM can also settle on a match class of the pairs agreeing on
    the commonest levels (π ≈ 0.5 at 10,000 × 1,000,000 where the narrow fit has 0.26; exact names
    then rank worse, bench/RESULTS.md). That wide fit explains the selection, not the matches, and
    its likelihood is *higher* (by about 12,000 nats there), so the likelihood cannot choose; the
    assignment model's premise (at most one report per resident, a match class that agrees more
    than the candidates around it) says to keep the narrow one. Where both starts reach one fixed
    point the first fit is returned as it is.

        >>> rng = np.random.default_rng(0)
        >>> index = pd.MultiIndex.from_arrays([np.repeat(np.arange(200), 5), np.tile(np.arange(5), 200)])
        >>> vectors = pd.DataFrame({"name": (rng.random(1000) < 0.2).astype(int)}, index=index)
        >>> fit = fit_assignment_em_restarted(vectors, {"name": np.array([0.9, 0.1])}, 200)
        >>> fit.start == DEFAULT_START, bool(np.isfinite(fit.log_likelihood))
        (True, True)
    """
    prepared = _prepared(vectors, u, prepared)  # the same pairs from every start
    options = {"max_iter": 60, "tol": 2e-4, "min_prob": 1e-4, "estimate_u": False, "offset": None} | options
    fits = _each_start(prepared, u, n_residents, starts, options)
    kept = None
    for fit in fits:
        if kept is None or (min_share <= fit.pi < kept.pi - narrower_by):
            kept = fit
    return kept


THREADED_MIN_PAIRS = 100_000
"""From this many pairs :func:`fit_assignment_em_restarted` runs its starts on threads beside
each other (numpy lets go of the interpreter inside its operations on whole arrays, which are
most of an iteration); below it, one after the other."""

THREADED_MAX_PAIRS = 1_500_000
"""Above this many pairs the starts run one after the other: each start holds four arrays of a
float per pair, and a thread's allocator keeps what it freed; at 10,000 × 1,000,000 (4.1M pairs)
two starts at once raised the run's peak memory (bench/RESULTS.md)."""


def _each_start(prepared: _Prepared, u: dict, n_residents: int, starts: tuple, options: dict) -> list[AssignmentFit]:
    """The EM's fit from each of ``starts``, in their order; each fit is the same whether the
    starts run one after the other or on threads (each has its own arrays). Threads only where
    this process may use two CPUs (:func:`kinmatch._parallel.allowed_jobs`: not under ``--jobs 1``)."""
    from kinmatch._parallel import allowed_jobs

    if (len(starts) < 2 or not THREADED_MIN_PAIRS <= len(prepared.order) <= THREADED_MAX_PAIRS
            or allowed_jobs() < 2):
        return [_fit_prepared(prepared, u, n_residents, start=start, **options) for start in starts]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(starts) - 1) as pool:
        others = [pool.submit(_fit_prepared, prepared, u, n_residents, start=start, **options) for start in starts[1:]]
        first = _fit_prepared(prepared, u, n_residents, start=starts[0], **options)
        return [first] + [other.result() for other in others]


def _log_likelihood(blocks: list, m: dict, u: dict, pi: float, offset_sorted: np.ndarray | None,
                    inverse_size: np.ndarray, starts: np.ndarray, n_residents: int) -> float:
    """The assignment model's log likelihood of the candidates' levels (see
    :func:`fit_assignment_em`), on the pairs in the fit's sorted order."""
    log_ratio = {n: np.r_[0.0, np.log(m[n]) - np.log(u[n])] for n in m}
    log_u = {n: np.r_[0.0, np.log(u[n])] for n in u}
    lr = np.zeros(len(inverse_size)) if offset_sorted is None else offset_sorted.copy()
    total_log_u = 0.0
    for block in blocks:
        lr += sum(log_ratio[n][block.levels[j] + 1] for j, n in enumerate(block.names))[block.pattern]
        # a product and a sum, not np.dot: BLAS splits a long dot over its threads, which then wait
        # spinning for more work (a tenth of a second of a core taken from the other process)
        block_log_u = sum(log_u[n][block.levels[j] + 1] for j, n in enumerate(block.names))
        total_log_u += float((block.count * block_log_u).sum())
    # per resident log((1 - π) + Σ π e^lr / size), max-shifted so no term overflows
    a = math.log(pi) + lr + np.log(inverse_size)
    top = np.maximum(np.maximum.reduceat(a, starts), math.log(1 - pi))
    sizes = np.diff(np.r_[starts, len(a)])
    per_resident = top + np.log(np.exp(math.log(1 - pi) - top)
                                + np.add.reduceat(np.exp(a - np.repeat(top, sizes)), starts))
    without_candidates = max(int(n_residents) - len(starts), 0)
    return float(per_resident.sum() + total_log_u + without_candidates * math.log(1 - pi))


class _LevelBlock(NamedTuple):
    names: list
    pattern: np.ndarray  # per pair (in the fit's order), its pattern number in this block
    levels: list  # per comparison of the block, the level (-1 missing) of each pattern
    count: np.ndarray  # pairs per pattern


_GATHER = "clip"
"""``np.take``'s mode in the EM's gathers, whose indices are always in range (pattern numbers, a
pair's resident), so "clip" changes no value: with ``out=`` the default mode ("raise") writes
through a buffer, and the gather took about three times as long (0.8 against 0.28 ms at 465,192
pairs)."""

_EXP_SAFE = 600.0
"""Largest |log likelihood ratio| the E step exponentiates directly (exp overflows past 709)."""

_BLOCK_CODES = 1 << 20
"""Largest number of joint level codes of one block (a lookup table of this many entries)."""


def _level_blocks(vectors: pd.DataFrame, names: list[str], order: np.ndarray) -> list[_LevelBlock]:
    """``names`` cut, in order, into blocks whose joint levels fit :data:`_BLOCK_CODES` codes,
    and each pair's pattern number within each block."""
    columns = [vectors[n].to_numpy() for n in names]
    if len(order) and not np.any(order != np.arange(len(order))):  # sorted already (the candidates are)
        order = None
    radices = [int(c.max(initial=-1)) + 2 for c in columns]  # levels -1..L-1 -> 0..L
    blocks, current, size = [], [], 1
    for j, radix in enumerate(radices):
        if current and size * radix > _BLOCK_CODES:
            blocks.append(current)
            current, size = [], 1
        current.append(j)
        size *= radix
    if current:
        blocks.append(current)
    out = []
    for block in blocks:
        # code = code * radix + (level + 1), column by column, in place (integers: exact in any order)
        code = None
        for j in block:
            column = columns[j] if order is None else columns[j][order]
            if column.dtype.kind not in "iu":
                column = column.astype(np.int64)
            if code is None:
                code = column.astype(np.int64)
            else:
                code *= radices[j]
                code += column
            code += 1
        # codes are dense and small: a lookup table numbers the patterns without sorting or hashing
        span = 1
        for j in block:
            span *= radices[j]
        present = np.zeros(span, dtype=bool)
        present[code] = True
        number = np.cumsum(present) - 1
        pattern = number[code]
        rest = np.flatnonzero(present)
        levels = [None] * len(block)
        for k in range(len(block) - 1, -1, -1):
            rest, digit = np.divmod(rest, radices[block[k]])
            levels[k] = digit - 1
        out.append(_LevelBlock([names[j] for j in block], pattern, levels,
                               np.bincount(pattern, minlength=int(present.sum())).astype(float)))
    return out


def monotone_m(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Adjust m so the weights log2(m/u) never decrease with the level (from the top down, each
    weight is capped by the one above it), then renormalize. Fixes e.g. a contradiction level
    that random pairs never showed (tiny u) getting a positive weight.

        >>> monotone_m(np.array([0.05, 0.15, 0.8]), np.array([0.001, 0.5, 0.499])).round(3).tolist()
        [0.0, 0.158, 0.842]
    """
    weights = np.log2(m) - np.log2(u)
    for level in range(len(weights) - 2, -1, -1):
        weights[level] = min(weights[level], weights[level + 1])
    adjusted = u * np.exp2(weights)
    return adjusted / adjusted.sum()
