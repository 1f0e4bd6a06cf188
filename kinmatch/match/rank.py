"""Ranking: the best candidates of each resident (or report), and each resident's identification potential.

    >>> rows, ranks = rank_order(["R1", "R1", "R1"], ["M1", "M2", "M3"], [1.0, 5.0, 3.0], top_k=2)
    >>> rows.tolist(), ranks.tolist()
    ([1, 2], [1, 2])
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.match import _old_comparisons as cmp

NAME_TF_LEVELS = [1, 4, 5, 6]
NAME_TF_FLOOR_LEVELS = [1]

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

    def nonempty(values):  # text (str or None) and tuple columns alike (docs/contract.md §2)
        return np.array([bool(v) for v in values], dtype=bool)

    # a blank name_evidence (a frame without the column) does not make a name unusable
    evidence = np.array([v is None or bool(v) for v in col("name_evidence")], dtype=bool)
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


def random_pairs(residents: pd.DataFrame, missing: pd.DataFrame, n: int = 30_000,
                 random_state: int | None = 0) -> pd.DataFrame:
    """``n`` resident × report pairs drawn uniformly: almost all non-matches, so their comparison
    levels estimate the model's u."""
    rng = np.random.default_rng(random_state)
    n = int(min(n, len(residents) * len(missing)))
    return pd.DataFrame({"resident_id": residents["resident_id"].to_numpy()[rng.integers(len(residents), size=n)],
                         "missing_id": missing["missing_id"].to_numpy()[rng.integers(len(missing), size=n)]})


def _level_labels(names: list[str]) -> dict[str, list[str]]:
    return {name: [cmp.LEVEL_LABELS[name][level] for level in range(cmp.N_LEVELS[name])] for name in names}


class AssignmentFit(NamedTuple):
    """Result of :func:`fit_assignment_em`: m and u per comparison, π, and each candidate pair's
    posterior probability of being the resident's match (in ``vectors`` order)."""

    m: dict
    u: dict
    pi: float
    posterior: np.ndarray


def fit_assignment_em(vectors: pd.DataFrame, u: dict[str, np.ndarray], n_residents: int,
                      max_iter: int = 60, tol: float = 2e-4, min_prob: float = 1e-4,
                      estimate_u: bool = False) -> AssignmentFit:
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
    u is that of *candidate* non-matches: ``estimate_u=True`` is what :func:`fit_model` uses.
    ``tol``: stop when no m, u or π moves by more than this (on 370k simulated candidate pairs,
    2e-4 stops early with π within 0.001 and weights within 0.3 bit (on the rarest levels) of a
    fully converged fit, and the same recall@10).
    """
    names = list(u)
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
    u = {n: np.asarray(u[n], dtype=float) for n in names}
    m = {n: np.exp2(np.arange(len(u[n]), dtype=float)) for n in names}
    m = {n: v / v.sum() for n, v in m.items()}
    prior_m = {n: v.copy() for n, v in m.items()}
    # pairs at each level (matches + the rest), from the blocks' pattern counts
    level_count = {n: np.bincount(block.levels[j] + 1, weights=block.count, minlength=len(u[n]) + 1)[1:]
                   for block in blocks for j, n in enumerate(block.names)}
    pi = 0.5
    for _ in range(int(max_iter)):
        log_ratio = {n: np.r_[0.0, np.log(m[n]) - np.log(u[n])] for n in names}  # [0]: missing
        lr = np.zeros(len(groups))
        for block in blocks:
            block_lr = sum(log_ratio[n][block.levels[j] + 1] for j, n in enumerate(block.names))
            lr += block_lr[block.pattern]
        # E step: one unit of "is the match" shared by a resident's candidates and "none of
        # them", i.e. post = π e^lr / size over (1 - π) + Σ π e^lr / size. The weights are clipped
        # (min_prob), so e^lr stays far inside float range; the max-shifted form is the fallback.
        if np.abs(lr).max(initial=0.0) < _EXP_SAFE:
            e = pi * np.exp(lr) * inverse_size
            post = e / ((1 - pi) + np.add.reduceat(e, starts))[group_of]
        else:  # only with min_prob near 0
            a = math.log(pi) + lr + np.log(inverse_size)
            top = np.maximum.reduceat(a, starts)
            log_z = np.logaddexp(math.log(1 - pi), top + np.log(np.add.reduceat(np.exp(a - top[group_of]), starts)))
            post = np.exp(a - log_z[group_of])
        total = float(post.sum())
        new_pi = float(np.clip(total / max(n_residents, 1), 1e-3, 1 - 1e-3))
        prior_strength = max(2.0, 0.05 * total)
        change = abs(new_pi - pi)
        for block in blocks:
            post_by_pattern = np.bincount(block.pattern, weights=post, minlength=len(block.count))
            for j, n in enumerate(block.names):
                match_counts = np.bincount(block.levels[j] + 1, weights=post_by_pattern, minlength=len(u[n]) + 1)[1:]
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
            break
    posterior = np.empty(len(post))
    posterior[order] = post
    return AssignmentFit(m, u, pi, posterior)


class _LevelBlock(NamedTuple):
    names: list
    pattern: np.ndarray  # per pair (in the fit's order), its pattern number in this block
    levels: list  # per comparison of the block, the level (-1 missing) of each pattern
    count: np.ndarray  # pairs per pattern


_EXP_SAFE = 600.0
"""Largest |log likelihood ratio| the E step exponentiates directly (exp overflows past 709)."""

_BLOCK_CODES = 1 << 20
"""Largest number of joint level codes of one block (a lookup table of this many entries)."""


def _level_blocks(vectors: pd.DataFrame, names: list[str], order: np.ndarray) -> list[_LevelBlock]:
    """``names`` cut, in order, into blocks whose joint levels fit :data:`_BLOCK_CODES` codes,
    and each pair's pattern number within each block."""
    columns = [vectors[n].to_numpy() for n in names]
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
        code = np.zeros(len(order), dtype=np.int64)
        for j in block:
            code = code * radices[j] + (columns[j][order].astype(np.int64) + 1)
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


ORDINAL_COMPARISONS = frozenset(cmp.COMPARISONS) - {"name"}
"""Comparisons whose levels are strictly ordered, so a weaker agreement must never weigh more than
a stronger one. The name levels are kinds of agreement (a 小名 match, one character off) rather
than degrees, so they keep what EM found."""


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


def fit_model(vectors: pd.DataFrame, u_vectors: pd.DataFrame, n_residents: int,
              random_state: int | None = 0, u_source: str = "hybrid", n_reports: int | None = None):
    """A :class:`~kinmatch.match.model.FellegiSunter` for these candidates.

    m and π always come from :func:`fit_assignment_em` with u re-estimated among the candidates
    (so the passes' selection cannot inflate the match class). What the pairs are then *scored*
    against is ``u_source``:

    * ``"hybrid"`` (default): u from random pairs, and the prior of a pair is π / ``n_reports``
      (the chance that any one report is the resident's). Evidence the passes selected on (age
      window, accent province, marks) keeps its full weight, so an impossible age counts against
      a pair even among candidates, and the probability stays calibrated because the prior is
      that of any pair, not of a pre-selected candidate. On the simulator (2,000 × 20,000, seeds 7
      and 3) this ranks better than ``"candidates"``: recall@10 0.875/0.871 against 0.865/0.858,
      nameless residents +2–5 points, with false leads 3.6–4% against 2.4–3% of residents
      without a report.
    * ``"candidates"``: u of the candidate non-matches and the prior π / (mean candidates per
      resident): weights say how a pair stands out among its fellow candidates.
    * ``"random"``: random-pair u with the candidate prior (probabilities come out too high).

    Comparisons with no evidence at all in either set (e.g. no record describes marks) are left
    out of the model; their weights are 0."""
    from kinmatch.match.model import FellegiSunter

    usable = [name for name in cmp.COMPARISONS
              if name in vectors.columns and (vectors[name] >= 0).any() and (u_vectors[name] >= 0).any()]
    if not usable:
        raise InputError("no comparison has evidence on both the candidate and the random pairs, so no "
                         "model can be fitted; check that the inputs carry names, ages or places")
    if u_source not in ("candidates", "random", "hybrid"):
        raise InputError(f"u_source must be 'candidates', 'random' or 'hybrid', not {u_source!r}")
    levels = {name: cmp.N_LEVELS[name] for name in usable}
    min_prob = 1e-4
    u_model = FellegiSunter(levels=levels, min_prob=min_prob).estimate_u(u_vectors)
    fit = fit_assignment_em(vectors, u_model.u_random_, n_residents, min_prob=min_prob,
                            estimate_u=u_source in ("candidates", "hybrid"))
    u_scoring = u_model.u_random_ if u_source == "hybrid" else fit.u
    m = {n: (monotone_m(fit.m[n], u_scoring[n]) if n in ORDINAL_COMPARISONS else fit.m[n]) for n in usable}
    if u_source == "hybrid" and n_reports:
        # scored against random pairs, a pair's prior is that of any pair: π / (number of reports)
        per_resident = float(n_reports)
    else:
        per_resident = len(vectors) / max(vectors.index.get_level_values(0).nunique(), 1)
    tf = {"name": "tf_name"} if "name" in usable and "tf_name" in vectors.columns else None
    # m pinned to the assignment-EM estimate and max_iter=0: the FellegiSunter object is then
    # just the container that scores, explains its weights and saves to readable JSON
    model = FellegiSunter(levels=levels, tf_columns=tf, tf_levels={"name": NAME_TF_LEVELS} if tf else None,
                          lambda_init=fit.pi / max(per_resident, 1.0), max_iter=0, random_state=random_state,
                          min_prob=min_prob, level_labels=_level_labels(usable),
                          m_fixed={n: {k: float(v) for k, v in enumerate(m[n])} for n in usable})
    model.fit(vectors, u_vectors=u_vectors)
    if u_source == "candidates":
        # put the candidate u in through the model's own readable JSON format (its public door)
        data = model.to_dict()
        for name, entry in data["comparisons"].items():
            for level in entry["levels"]:
                level["u"] = float(fit.u[name][level["level"]])
        data["fitted_on"]["u_source"] = "candidates (one-to-many assignment EM)"
        model = FellegiSunter.from_json(json.dumps(data))
    model.share_with_report_ = fit.pi
    return model


def floor_name_tf(vectors: pd.DataFrame, model: Any) -> pd.DataFrame:
    """``vectors`` with ``tf_name`` raised to the model's own u at the name levels of
    :data:`NAME_TF_FLOOR_LEVELS`, so there term frequency can only lower a weight. Done here, not
    in the model, because the model's tf adjustment has no floor and the floor is the fitted u.

        >>> from types import SimpleNamespace
        >>> model = SimpleNamespace(u_={"name": np.array([0.9, 0.02, 0.08])})
        >>> vectors = pd.DataFrame({"name": [1, 1, 2], "tf_name": [0.001, 0.05, 0.001]})
        >>> floor_name_tf(vectors, model)["tf_name"].tolist()
        [0.02, 0.05, 0.001]
    """
    u = getattr(model, "u_", {}).get("name") if isinstance(getattr(model, "u_", None), dict) else None
    if u is None or "tf_name" not in vectors.columns or "name" not in vectors.columns:
        return vectors
    level = vectors["name"].to_numpy()
    tf = pd.to_numeric(vectors["tf_name"], errors="coerce").to_numpy(dtype=float)
    floored = tf.copy()
    for k in NAME_TF_FLOOR_LEVELS:
        if k < len(u):
            at = (level == k) & np.isfinite(tf)
            floored[at] = np.maximum(tf[at], float(u[k]))
    return vectors.assign(tf_name=floored)


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
    return rank_codes(group_codes, other_codes, match_weight, prescore, top_k)


def sorted_codes(index: pd.MultiIndex, level: int) -> np.ndarray:
    """Integer codes of one level of a pair index that sort as its ids do (a MultiIndex built
    from arrays holds its levels sorted, so its own codes serve, with no pass over the ids)."""
    if index.levels[level].is_monotonic_increasing:
        return np.asarray(index.codes[level])
    return pd.factorize(np.asarray(index.get_level_values(level), dtype=object), sort=True)[0]


def rank_codes(group_codes: np.ndarray, other_codes: np.ndarray, match_weight: Any, prescore: Any,
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


