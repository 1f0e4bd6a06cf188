"""The assignment EM's guard against the wide fixed point: a second start, kept only when it
reaches a clearly narrower match class that has not collapsed (``fit_assignment_em_restarted``,
``FellegiSunter(em_restart=True)``, the pipeline's model)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from kinmatch.match.model import FellegiSunter
from kinmatch.match.model.assignment import (
    DEFAULT_START,
    RESTART,
    AssignmentStart,
    fit_assignment_em,
    fit_assignment_em_restarted,
)


def two_explanations(seed: int = 1, n_residents: int = 300, candidates: int = 10) -> pd.DataFrame:
    """Candidates with two exclusive stories: in 80 % of residents one candidate agrees on a rare
    mark, in 40 % another agrees on the place; the rest agree on neither. Both are fixed points
    of the assignment EM: "the mark pairs are the matches", where the usual start goes, takes
    nearly every resident as matched (π ≈ 1, the wide one, also the more likely); "the place pairs
    are", from a start that believes in places, takes 63 %."""
    rng = np.random.default_rng(seed)
    has_mark = rng.random(n_residents) < 0.8
    has_place = rng.random(n_residents) < 0.4
    r, j = np.divmod(np.arange(n_residents * candidates), candidates)
    return pd.DataFrame({"mark": ((j == 0) & has_mark[r]).astype(int), "place": ((j == 1) & has_place[r]).astype(int),
                         "age": rng.integers(2, size=len(r))},
                        index=pd.MultiIndex.from_arrays([r, j], names=["resident_id", "missing_id"]))


U = {"mark": np.array([0.99, 0.01]), "place": np.array([0.99, 0.01]), "age": np.array([0.5, 0.5])}
PLACE_START = AssignmentStart(0.5, 2.0, {"mark": [0.5, 0.5], "place": [0.05, 0.95]})
"""A start that believes the place pairs are the matches."""


def fit(vectors, start, **options):
    return fit_assignment_em(vectors, U, 300, max_iter=500, tol=1e-6, estimate_u=True, start=start, **options)


def test_two_starts_two_fixed_points():
    vectors = two_explanations()
    wide, narrow = fit(vectors, DEFAULT_START), fit(vectors, PLACE_START)
    assert wide.pi > 0.95 and wide.m["mark"][1] > 0.7 and wide.m["place"][1] < 0.1
    assert 0.5 < narrow.pi < 0.75 and narrow.m["place"][1] > 0.5 and narrow.m["mark"][1] < 0.1
    # the likelihood prefers the wide one: it cannot be the guard's criterion
    assert wide.log_likelihood > narrow.log_likelihood + 50


def test_the_guard_escapes_the_wide_fixed_point():
    vectors = two_explanations()
    guarded = fit_assignment_em_restarted(vectors, U, 300, starts=(DEFAULT_START, PLACE_START), max_iter=500,
                                          tol=1e-6, estimate_u=True)
    assert guarded.start == PLACE_START
    assert 0.5 < guarded.pi < 0.75 and guarded.m["place"][1] > 0.5
    np.testing.assert_array_equal(guarded.posterior, fit(vectors, PLACE_START).posterior)


def test_a_collapsed_restart_is_not_kept():
    # from the steep, narrow start the EM here collapses (π at its floor): never kept
    vectors = two_explanations()
    assert fit(vectors, RESTART).pi < 0.01
    first = fit(vectors, DEFAULT_START)
    guarded = fit_assignment_em_restarted(vectors, U, 300, max_iter=500, tol=1e-6, estimate_u=True)
    assert guarded.start == DEFAULT_START
    np.testing.assert_array_equal(guarded.posterior, first.posterior)


def test_one_fixed_point_the_first_fit_unchanged():
    """Data simulated from one m, u and π: both starts reach the same fixed point, so the guard
    returns the default start's fit bit for bit."""
    rng = np.random.default_rng(3)
    n, k = 400, 8
    m = {"name": [0.1, 0.2, 0.7], "age": [0.1, 0.3, 0.6]}
    u = {"name": [0.85, 0.12, 0.03], "age": [0.5, 0.3, 0.2]}
    has = rng.random(n) < 0.6
    r, j = np.divmod(np.arange(n * k), k)
    true = (j == 0) & has[r]
    levels = {c: np.where(true, rng.choice(3, size=len(r), p=m[c]), rng.choice(3, size=len(r), p=u[c])) for c in m}
    vectors = pd.DataFrame(levels, index=pd.MultiIndex.from_arrays([r, j]))
    u_arrays = {c: np.array(v) for c, v in u.items()}
    first = fit_assignment_em(vectors, u_arrays, n, max_iter=500, tol=1e-6, estimate_u=True)
    other = fit_assignment_em(vectors, u_arrays, n, max_iter=500, tol=1e-6, estimate_u=True, start=RESTART)
    assert abs(other.pi - first.pi) < 0.01 and abs(other.log_likelihood - first.log_likelihood) < 1.0
    guarded = fit_assignment_em_restarted(vectors, u_arrays, n, max_iter=500, tol=1e-6, estimate_u=True)
    assert guarded.start == DEFAULT_START
    for c in m:
        np.testing.assert_array_equal(guarded.m[c], first.m[c])


def plain_log_likelihood(vectors: pd.DataFrame, m: dict, u: dict, pi: float, n_residents: int) -> float:
    """The assignment model's log likelihood, one resident and one candidate at a time."""
    total = 0.0
    groups = vectors.groupby(level=0)
    for _, group in groups:
        rows = [dict(zip(group.columns, values, strict=True)) for values in group.to_numpy()]
        none = (1 - pi) * math.prod(u[c][row[c]] for row in rows for c in row if row[c] >= 0)
        some = 0.0
        for i, row in enumerate(rows):
            term = pi / len(rows) * math.prod(m[c][row[c]] for c in row if row[c] >= 0)
            term *= math.prod(u[c][other[c]] for k, other in enumerate(rows) if k != i for c in other if other[c] >= 0)
            some += term
        total += math.log(none + some)
    return total + (n_residents - len(groups)) * math.log(1 - pi)


def test_log_likelihood_matches_a_plain_loop():
    rng = np.random.default_rng(5)
    rows = [(r, j) for r in range(6) for j in range(rng.integers(1, 5))]
    index = pd.MultiIndex.from_tuples(rows)
    vectors = pd.DataFrame({"name": rng.integers(-1, 3, size=len(rows)), "sex": rng.integers(0, 2, size=len(rows))},
                           index=index)
    u = {"name": np.array([0.7, 0.2, 0.1]), "sex": np.array([0.5, 0.5])}
    result = fit_assignment_em(vectors, u, n_residents=8, max_iter=3, estimate_u=True)
    expected = plain_log_likelihood(vectors, result.m, result.u, result.pi, n_residents=8)
    assert result.log_likelihood == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("restart", [False, True])
def test_fellegi_sunter_records_the_start_kept(restart):
    vectors = two_explanations()
    random_pairs = pd.DataFrame({"mark": [0] * 99 + [1], "place": [0] * 99 + [1], "age": [0, 1] * 50})
    model = FellegiSunter(levels={"mark": 2, "place": 2, "age": 2}, method="assignment", u_source="hybrid",
                          max_iter=200, tol=1e-5, em_restart=restart)
    model.fit(vectors, random_pairs, n_residents=300, n_reports=3000)
    assert model.em_start_ == DEFAULT_START
    assert np.isfinite(model.em_log_likelihood_)
    assert model.weights_["mark"][1] > model.weights_["place"][1]


def test_the_pipeline_fits_with_the_guard():
    from kinmatch.match.model.fitting import fit_model
    from kinmatch.match.settings import LinkSettings

    settings = LinkSettings()
    names = settings.names
    rng = np.random.default_rng(0)
    index = pd.MultiIndex.from_tuples(list(itertools.product(range(30), range(4))))
    vectors = pd.DataFrame({n: rng.integers(0, 2, size=len(index)) for n in names}, index=index)
    random_vectors = pd.DataFrame({n: rng.integers(0, 2, size=500) for n in names})
    model = fit_model(vectors, random_vectors, 30, settings, n_reports=1000)
    assert model.em_restart is True
    assert model.em_start_ in (DEFAULT_START, RESTART)


@pytest.mark.parametrize("threaded_min_pairs", [0, 10**9])
def test_the_starts_on_threads_give_the_fits_of_one_after_the_other(monkeypatch, threaded_min_pairs):
    # the restarted EM runs its starts on threads from THREADED_MIN_PAIRS pairs: every fit, and so
    # the one kept, is bit for bit the fit of fit_assignment_em from that start alone
    import kinmatch.match.model.assignment as assignment

    monkeypatch.setattr(assignment, "THREADED_MIN_PAIRS", threaded_min_pairs)
    monkeypatch.setattr(assignment, "THREADED_MAX_PAIRS", 10**9)
    vectors = two_explanations()
    alone = [fit_assignment_em(vectors, U, 300, max_iter=500, tol=1e-6, estimate_u=True, start=start)
             for start in (DEFAULT_START, PLACE_START)]
    seen = []
    original = assignment._fit_prepared
    monkeypatch.setattr(assignment, "_fit_prepared", lambda *a, **k: seen.append(original(*a, **k)) or seen[-1])
    guarded = fit_assignment_em_restarted(vectors, U, 300, starts=(DEFAULT_START, PLACE_START), max_iter=500,
                                          tol=1e-6, estimate_u=True)
    assert sorted(fit.start.pi for fit in seen) == sorted(start.pi for start in (DEFAULT_START, PLACE_START))
    for fit in seen:
        reference = alone[0] if fit.start == DEFAULT_START else alone[1]
        assert fit.pi == reference.pi and fit.n_iter == reference.n_iter
        np.testing.assert_array_equal(fit.posterior, reference.posterior)
        for name in reference.m:
            np.testing.assert_array_equal(fit.m[name], reference.m[name])
            np.testing.assert_array_equal(fit.u[name], reference.u[name])
    assert guarded.start in (DEFAULT_START, PLACE_START)


@pytest.mark.parametrize("block_codes", [1 << 20, 4])
def test_the_em_counts_the_distinct_rows_of_levels(monkeypatch, block_codes):
    # n_patterns from the EM's blocks is what group_patterns counts, in one block or several
    import kinmatch.match.model.assignment as assignment
    from kinmatch.match.model.base import group_patterns, level_matrix

    monkeypatch.setattr(assignment, "_BLOCK_CODES", block_codes)
    vectors = two_explanations()
    vectors["age"] = np.random.default_rng(2).integers(-1, 2, size=len(vectors))
    fit = fit_assignment_em(vectors, U, 300, max_iter=5, estimate_u=True)
    expected = len(group_patterns(level_matrix(vectors, list(U)))[0])
    assert fit.n_patterns == expected and expected > 4
    model = FellegiSunter(levels={"mark": 2, "place": 2, "age": 2}, method="assignment", max_iter=5)
    model.fit(vectors.assign(age=vectors["age"].clip(0, 1)), vectors.assign(age=vectors["age"].clip(0, 1)),
              n_residents=300, n_reports=3000)
    assert model.n_patterns_ == len(group_patterns(level_matrix(vectors.assign(age=vectors["age"].clip(0, 1)),
                                                                list(U)))[0])


@pytest.mark.parametrize("n_jobs", [1, 2, None])
def test_the_starts_use_threads_only_where_the_run_may_use_two_cpus(monkeypatch, n_jobs):
    # `--jobs 1` keeps the fit on one core: under jobs_limit(1) no thread is started; with two CPUs
    # allowed, the starts run beside each other
    import threading

    import kinmatch._parallel as parallel
    import kinmatch.match.model.assignment as assignment

    monkeypatch.setattr(assignment, "THREADED_MIN_PAIRS", 0)
    monkeypatch.setattr(assignment, "THREADED_MAX_PAIRS", 10**9)
    monkeypatch.setattr(parallel, "resolve_jobs", lambda n: 2 if n is None else max(1, int(n)))
    threads = []
    original = assignment._fit_prepared
    monkeypatch.setattr(assignment, "_fit_prepared",
                        lambda *a, **k: threads.append(threading.current_thread().name) or original(*a, **k))
    with parallel.jobs_limit(n_jobs):
        assert parallel.allowed_jobs() == (1 if n_jobs == 1 else 2)
        fit_assignment_em_restarted(two_explanations(), U, 300, starts=(DEFAULT_START, PLACE_START), max_iter=50)
    assert parallel.allowed_jobs() == 2  # the limit ends with the block
    on_threads = sum(name != threading.main_thread().name for name in threads)
    assert len(threads) == 2 and on_threads == (0 if n_jobs == 1 else 1)


@pytest.mark.parametrize("threaded_min_pairs", [0, 10**9])
def test_the_blocks_made_beside_give_the_same_model(monkeypatch, threaded_min_pairs):
    # FellegiSunter's assignment fit makes the EM's blocks on a thread while it checks the levels
    # (prepare_beside): the model is the one made without the thread, to the bit
    import threading

    import kinmatch._parallel as parallel
    import kinmatch.match.model.assignment as assignment

    monkeypatch.setattr(parallel, "resolve_jobs", lambda n: 2 if n is None else max(1, int(n)))
    monkeypatch.setattr(assignment, "THREADED_MAX_PAIRS", 10**9)
    vectors = two_explanations()
    random = two_explanations(seed=3).sample(frac=1.0, random_state=0)

    def model(threaded: int):
        monkeypatch.setattr(assignment, "THREADED_MIN_PAIRS", threaded)
        return FellegiSunter(levels={"mark": 2, "place": 2, "age": 2}, method="assignment", em_restart=True,
                             max_iter=200).fit(vectors, random, n_residents=300, n_reports=3000)

    names = []
    original = assignment._prepare
    monkeypatch.setattr(assignment, "_prepare",
                        lambda *a, **k: names.append(threading.current_thread().name) or original(*a, **k))
    beside = model(threaded_min_pairs)
    assert names == (["kinmatch-em-prepare"] if threaded_min_pairs == 0 else [threading.main_thread().name])
    alone = model(10**9)
    assert beside.to_json() == alone.to_json()
    # its error is raised where it is waited for
    monkeypatch.setattr(assignment, "_prepare", lambda *a, **k: (_ for _ in ()).throw(MemoryError("no room")))
    monkeypatch.setattr(assignment, "THREADED_MIN_PAIRS", 0)
    with pytest.raises(MemoryError, match="no room"):
        assignment.prepare_beside(vectors, list(U))()
