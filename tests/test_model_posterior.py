"""The person posterior (kinmatch.match.model.posterior), the Chow-Liu tree correction for dependence,
and the FellegiSunter options that use them."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from kinmatch.match.model import FellegiSunter
from kinmatch.match.model.dependence import mutual_information, pairwise_lifts, tree_lifts
from kinmatch.match.model.posterior import (
    candidate_clusters,
    cluster_posterior,
    fit_cluster_share,
    fit_linked_shares,
    fit_report_shares,
    linked_candidates,
    linked_posterior,
    resident_posterior,
)


def brute_force(log2_bayes: np.ndarray, n_reports: int, shares: np.ndarray) -> np.ndarray:
    """Every set of at most len(shares) - 1 candidates enumerated: P(pair in the person's set)."""
    return brute_force_linked(log2_bayes, n_reports, shares, top=len(log2_bayes), links={})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resident_posterior_equals_the_enumeration_of_sets(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=6)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(groups)  # pairs of one resident need not be adjacent
    log2_bayes = rng.normal(8, 6, size=len(groups))
    shares = rng.dirichlet(np.ones(4))
    got = resident_posterior(groups, log2_bayes, 5_000, shares)
    for g in range(len(sizes)):
        at = groups == g
        np.testing.assert_allclose(got[at], brute_force(log2_bayes[at], 5_000, shares), rtol=1e-7, atol=1e-12)


def test_one_candidate_and_one_report_is_the_pairs_own_probability():
    log2_bayes = np.array([-5.0, 3.0, 14.0, 40.0])
    shares = np.array([0.4, 0.6])
    n_reports = 20_000
    prior_odds = shares[1] / n_reports / shares[0]
    expected = prior_odds * np.exp2(log2_bayes) / (1 + prior_odds * np.exp2(log2_bayes))
    np.testing.assert_allclose(resident_posterior(np.arange(4), log2_bayes, n_reports, shares), expected, rtol=1e-9)


def test_extreme_weights_stay_finite_and_ordered():
    groups = np.array([0, 0, 0, 1, 1])
    log2_bayes = np.array([400.0, 390.0, -300.0, 700.0, 0.0])
    got = resident_posterior(groups, log2_bayes, 1_000_000, np.array([0.3, 0.4, 0.2, 0.1]))
    assert np.all(np.isfinite(got)) and np.all((got >= 0) & (got <= 1))
    assert got[0] == pytest.approx(1.0) and got[1] == pytest.approx(1.0) and got[2] < 1e-6
    assert got[3] == pytest.approx(1.0) and got[4] < 1e-3


def test_competition_and_duplicates():
    # two equally strong candidates: with one report per person they share the probability; when
    # people often have two reports, both are likely
    groups, bits = np.array([0, 0]), np.array([25.0, 25.0])
    one = resident_posterior(groups, bits, 1_000_000, np.array([0.3, 0.7]))
    two = resident_posterior(groups, bits, 1_000_000, np.array([0.3, 0.2, 0.5]))
    assert one[0] == pytest.approx(0.5, abs=0.01)
    assert two[0] > 0.9


def test_fit_report_shares_recovers_the_shares_of_a_known_model():
    rng = np.random.default_rng(3)
    n_residents, n_reports, per = 3000, 100_000, 8
    true_shares = np.array([0.3, 0.4, 0.2, 0.1])
    k = rng.choice(4, size=n_residents, p=true_shares)
    groups = np.repeat(np.arange(n_residents), per)
    is_true = np.zeros(n_residents * per, dtype=bool)
    for r in range(n_residents):
        is_true[r * per: r * per + k[r]] = True
    bits = np.where(is_true, rng.normal(30, 2, len(groups)), rng.normal(0, 2, len(groups)))
    shares, n_iter = fit_report_shares(groups, bits, n_reports, n_residents, max_reports=3)
    np.testing.assert_allclose(shares, true_shares, atol=0.03)
    assert 1 <= n_iter < 500
    # residents without any candidate count as having none
    with_empty, _ = fit_report_shares(groups, bits, n_reports, 2 * n_residents, max_reports=3)
    assert with_empty[0] == pytest.approx(0.5 + shares[0] / 2, abs=0.01)


def test_mutual_information_and_tree_pick_the_strongest_dependence():
    rng = np.random.default_rng(4)
    n = 20_000
    cause = rng.random(n) < 0.3  # e.g. old age, shown by three comparisons
    a = np.where(rng.random(n) < 0.9, cause, rng.random(n) < 0.3).astype(int)
    b = np.where(rng.random(n) < 0.8, cause, rng.random(n) < 0.3).astype(int)
    c = np.where(rng.random(n) < 0.7, cause, rng.random(n) < 0.3).astype(int)
    d = (rng.random(n) < 0.5).astype(int)  # independent of the rest
    matrix = np.column_stack([a, b, c, d])
    names, levels = ["a", "b", "c", "d"], {"a": 2, "b": 2, "c": 2, "d": 2}
    information = mutual_information(matrix, names, levels)
    assert information[0, 1] > information[0, 2] > information[0, 3] >= 0
    lifts = tree_lifts(matrix, names, levels)
    everything = pairwise_lifts(matrix, names, levels)
    assert len(lifts) == 3 < len(everything)  # a tree: one edge less than comparisons
    assert ("a", "b") in lifts and ("a", "c") in lifts and ("b", "c") not in lifts
    for edge, table in lifts.items():
        np.testing.assert_array_equal(table, everything[edge])


def _fitted(posterior="person", dependence=None):
    rng = np.random.default_rng(5)
    n_residents, per = 400, 12
    residents = np.repeat([f"R{i:03d}" for i in range(n_residents)], per)
    reports = [f"M{i:05d}" for i in range(n_residents * per)]
    has = rng.random(n_residents) < 0.7
    n_true = np.where(has, rng.choice([1, 2, 3], size=n_residents, p=[0.6, 0.3, 0.1]), 0)
    is_true = np.zeros(n_residents * per, dtype=bool)
    for r in range(n_residents):
        is_true[r * per: r * per + n_true[r]] = True
    name = np.where(is_true, rng.choice(3, len(is_true), p=[.1, .2, .7]), rng.choice(3, len(is_true), p=[.6, .3, .1]))
    age = np.where(is_true, rng.choice(3, len(is_true), p=[.05, .25, .7]),
                   rng.choice(3, len(is_true), p=[.4, .4, .2]))
    vectors = pd.DataFrame({"name": name, "age": age},
                           index=pd.MultiIndex.from_arrays([residents, reports], names=["resident_id", "missing_id"]))
    # the reports are the candidates (every resident against the same number of reports): random
    # pairs are non-matches like theirs
    random_vectors = pd.DataFrame({"name": rng.choice(3, 20_000, p=[.6, .3, .1]),
                                   "age": rng.choice(3, 20_000, p=[.4, .4, .2])})
    model = FellegiSunter(levels={"name": 3, "age": 3}, method="assignment", max_iter=60, tol=1e-4, min_prob=1e-4,
                          posterior=posterior, dependence=dependence)
    return model.fit(vectors, random_vectors, n_residents=n_residents, n_reports=per), vectors, is_true


def test_person_posterior_model_fits_shares_and_keeps_weights():
    model, vectors, is_true = _fitted()
    pair_model, _, _ = _fitted(posterior="pair")
    assert len(model.report_shares_) == 4 and sum(model.report_shares_) == pytest.approx(1.0)
    assert model.n_reports_ == 12 and pair_model.report_shares_ is None
    np.testing.assert_allclose(model.match_weight(vectors), pair_model.match_weight(vectors))  # ranking unchanged
    weight = model.match_weight(vectors).to_numpy()
    person = model.person_probability(weight, vectors.index)
    pair = pair_model.person_probability(weight, vectors.index)  # a pair model: its own probability
    np.testing.assert_allclose(pair, pair_model.probability_of_weight(weight))
    assert not np.allclose(person, pair)
    # one person per resident: at most three reports, and the shares say how many on average
    per_resident = pd.Series(person).groupby(vectors.index.get_level_values(0)).sum()
    assert per_resident.max() <= 3 + 1e-9
    expected = float(np.dot(np.arange(4), model.report_shares_)) * vectors.index.get_level_values(0).nunique()
    assert person.sum() == pytest.approx(expected, rel=0.05)


def test_person_posterior_is_calibrated_where_the_weights_are_exact():
    # m and u known (the model's own world): the shares fitted on the weights, and the posterior
    # matches the share of true pairs in total and among the pairs it calls likely
    rng = np.random.default_rng(6)
    n_residents, per = 2000, 10
    m, u = np.array([0.1, 0.2, 0.7]), np.array([0.7, 0.25, 0.05])
    k = rng.choice(4, size=n_residents, p=[0.3, 0.4, 0.2, 0.1])
    is_true = (np.arange(n_residents * per) % per) < np.repeat(k, per)
    levels = np.column_stack([np.where(is_true, rng.choice(3, len(is_true), p=m), rng.choice(3, len(is_true), p=u))
                              for _ in range(3)])
    model = FellegiSunter.from_parameters({c: m for c in "abc"}, {c: u for c in "abc"}, 0.01, posterior="person")
    vectors = pd.DataFrame(levels, columns=list("abc"),
                           index=pd.MultiIndex.from_arrays([np.repeat(np.arange(n_residents), per),
                                                            np.arange(n_residents * per)]))
    weight = model.match_weight(vectors).to_numpy()
    shares, _ = fit_report_shares(vectors.index.codes[0], weight - model.prior_weight_, per, n_residents)
    model.report_shares_, model.n_reports_ = [float(v) for v in shares], per
    person = model.person_probability(weight, vectors.index)
    assert person.sum() == pytest.approx(is_true.sum(), rel=0.05)
    likely = person > 0.5
    assert is_true[likely].mean() == pytest.approx(person[likely].mean(), abs=0.03)


def test_person_posterior_survives_the_json():
    model, vectors, _ = _fitted()
    loaded = FellegiSunter.from_json(model.to_json())
    assert loaded.posterior == "person" and loaded.report_shares_ == model.report_shares_
    weight = model.match_weight(vectors).to_numpy()
    np.testing.assert_array_equal(loaded.person_probability(weight, vectors.index),
                                  model.person_probability(weight, vectors.index))


def test_tree_dependence_option_keeps_fewer_tables_than_pairwise():
    tree, _, _ = _fitted(dependence="tree")
    pairwise, _, _ = _fitted(dependence="pairwise")
    assert 0 < len(tree.dependence_) <= len(tree.comparisons_) - 1 <= len(pairwise.dependence_)


def test_unknown_posterior_is_refused():
    with pytest.raises(Exception, match="posterior"):
        _fitted(posterior="resident")


def test_pipeline_score_gives_the_person_posterior():
    from kinmatch.match.pipeline import score
    from kinmatch.match.settings import LinkSettings

    model, vectors, _ = _fitted()
    _, weight, probability = score(model, vectors, LinkSettings())
    np.testing.assert_allclose(probability, model.person_probability(weight, vectors.index))


def test_person_em_refits_m_and_keeps_u_and_the_prior():
    start, vectors, _ = _fitted(posterior="person", dependence="tree")
    model, _, _ = _fitted(posterior="person_em", dependence="tree")
    assert model.converged_ and model.assignment_n_iter_ == start.n_iter_
    for name in model.comparisons_:
        np.testing.assert_array_equal(model.u_[name], start.u_[name])
        assert model.m_[name].sum() == pytest.approx(1.0)
    assert model.lambda_ == start.lambda_
    assert any(not np.allclose(model.m_[n], start.m_[n]) for n in model.comparisons_)
    assert len(model.report_shares_) == 4 and sum(model.report_shares_) == pytest.approx(1.0)
    loaded = FellegiSunter.from_json(model.to_json())
    weight = model.match_weight(vectors).to_numpy()
    np.testing.assert_array_equal(loaded.person_probability(weight, vectors.index),
                                  model.person_probability(weight, vectors.index))


def test_only_a_person_models_json_carries_the_posterior():
    import json

    pair, _, _ = _fitted(posterior="pair")
    person, _, _ = _fitted(posterior="person")
    assert "posterior" not in json.loads(pair.to_json())  # the pipeline's model and its version unchanged
    block = json.loads(person.to_json())["posterior"]
    assert block == {"kind": "person", "report_shares": person.report_shares_, "n_reports": 12}


def brute_force_linked(log2_bayes: np.ndarray, n_reports: int, shares: np.ndarray, top: int,
                       links: dict) -> np.ndarray:
    """Every set enumerated: one candidate alone from all, two or more only among the ``top`` best,
    each weighted by 2 ** the links of its pairs (``links[(i, j)]``, rows of this resident; 0 when
    absent)."""
    n, k_max = len(log2_bayes), len(shares) - 1
    best = sorted(range(n), key=lambda i: (-log2_bayes[i], i))[:top]
    total, inside = shares[0], np.zeros(n)
    for k in range(1, k_max + 1):
        pool = range(n) if k == 1 else best
        for subset in itertools.combinations(pool, k):
            pairs = itertools.combinations(subset, 2)
            bits = sum(log2_bayes[list(subset)]) + sum(links.get(tuple(sorted(p)), 0.0) for p in pairs)
            weight = shares[k] / math.comb(n_reports, k) * 2.0 ** bits
            total += weight
            inside[list(subset)] += weight
    return inside / total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linked_posterior_equals_the_enumeration_of_sets(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, size=6)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(groups)
    log2_bayes = rng.normal(8, 6, size=len(groups))
    log2_bayes[np.flatnonzero(groups == groups[0])[:2]] = 5.0  # a tie among the best
    shares = rng.dirichlet(np.ones(4))
    left, right = linked_candidates(groups, log2_bayes, top=4)
    assert np.all(groups[left] == groups[right])
    bits = rng.normal(-3, 4, size=len(left))
    got = linked_posterior(groups, log2_bayes, 5_000, shares, left, right, bits, top=4)
    for g in range(len(sizes)):
        rows = np.flatnonzero(groups == g)
        position = {row: i for i, row in enumerate(rows)}
        links = {tuple(sorted((position[a], position[b]))): v for a, b, v in zip(left, right, bits)
                 if a in position}
        np.testing.assert_allclose(got[rows], brute_force_linked(log2_bayes[rows], 5_000, shares, 4, links),
                                   rtol=1e-7, atol=1e-12)


def test_linked_posterior_with_neutral_links_is_the_person_posterior_on_few_candidates():
    groups = np.array([0, 0, 0, 1, 1, 2])
    log2_bayes = np.array([14.0, 11.0, 2.0, 9.0, 13.0, 15.0])
    shares = np.array([0.3, 0.4, 0.2, 0.1])
    left, right = linked_candidates(groups, log2_bayes)
    got = linked_posterior(groups, log2_bayes, 20_000, shares, left, right, np.zeros(len(left)))
    np.testing.assert_allclose(got, resident_posterior(groups, log2_bayes, 20_000, shares), rtol=1e-9)
    # links that say "not one person" leave only the sets of one: each candidate alone
    apart = linked_posterior(groups, log2_bayes, 20_000, shares, left, right, np.full(len(left), -60.0))
    np.testing.assert_allclose(apart, resident_posterior(groups, log2_bayes, 20_000, shares[:2] / shares[:2].sum()
                                                         * (shares[0] + shares[1])), rtol=1e-6)
    assert apart[1] < got[1] and apart[5] == pytest.approx(got[5])
    fitted, _ = fit_linked_shares(groups, log2_bayes, 20_000, 5, left, right, np.zeros(len(left)))
    np.testing.assert_allclose(fitted, fit_report_shares(groups, log2_bayes, 20_000, 5)[0], atol=1e-6)


def test_linked_posterior_refuses_links_outside_the_top_candidates():
    groups = np.array([0, 0, 1])
    with pytest.raises(ValueError, match="top candidates"):
        linked_posterior(groups, np.array([3.0, 2.0, 1.0]), 100, np.array([0.5, 0.3, 0.2]),
                         np.array([0]), np.array([2]), np.array([0.0]))


def test_cluster_posterior_is_one_hypothesis_per_person():
    groups = np.array([0, 0, 0, 0, 1, 1])
    log2_bayes = np.array([15.0, 12.0, 11.0, 3.0, 9.0, 10.0])
    # pairs 0-1 and 1-2 are one person (transitively 0, 1, 2); resident 1's two reports are not linked
    clusters = candidate_clusters(6, np.array([0, 1, 4]), np.array([1, 2, 5]), np.array([True, True, False]))
    assert clusters[0] == clusters[1] == clusters[2] != clusters[3] and clusters[4] != clusters[5]
    shares = np.array([0.35, 0.65])
    got = cluster_posterior(groups, log2_bayes, 20_000, shares, clusters)
    assert got[0] == got[1] == got[2]
    # the person's cluster weighs as its best report; by hand, t_0 against t_1 / N · B per cluster
    odds = shares[1] / 20_000 / shares[0]
    person, other = odds * 2.0 ** 15, odds * 2.0 ** 3
    assert got[0] == pytest.approx(person / (1 + person + other))
    assert got[3] == pytest.approx(other / (1 + person + other))
    # unlinked reports are the pair posterior of one report per resident
    np.testing.assert_allclose(got[4:], resident_posterior(groups[4:], log2_bayes[4:], 20_000, shares))
    fitted, _ = fit_cluster_share(groups, log2_bayes, 20_000, 10, clusters)
    assert fitted.shape == (2,) and fitted.sum() == pytest.approx(1.0) and 0 < fitted[1] < 0.2 + 1e-9
    with pytest.raises(ValueError, match="two"):
        cluster_posterior(groups, log2_bayes, 20_000, np.array([0.3, 0.5, 0.2]), clusters)


def test_posterior_module_examples_hold():
    import doctest

    from kinmatch.match.model import posterior

    result = doctest.testmod(posterior, verbose=False)
    assert result.failed == 0 and result.attempted >= 8


def test_bench_scores_the_duplicate_variants_on_a_small_run():
    import importlib.util
    from pathlib import Path

    import kinmatch
    from kinmatch.datasets import simulate
    from kinmatch.match.pipeline import run_link

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_calibration.py"
    spec = importlib.util.spec_from_file_location("bench_calibration", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sim = simulate(n_missing=600, n_residents=60, seed=5)
    residents, _ = kinmatch.normalize_residents(sim.residents)
    missing, _ = kinmatch.normalize_missing(sim.missing)
    run = bench.with_counts(run_link(residents, missing, top_k=10, progress=False), len(residents), len(missing))
    truth = sim.truth[["resident_id", "missing_id"]]
    for variant in bench.DUPLICATE_VARIANTS:
        table, _ = bench.refit_table(run, 10, variant)
        probability = table["match_probability"].to_numpy()
        assert len(table) > 0 and np.all((probability >= 0) & (probability <= 1))
        if bench.DUPLICATE_VARIANTS[variant]:
            continue  # a model of its own (dependence="tree"): its own ranking
        # the same ranking as the pipeline's model: only the probabilities differ
        pipeline, _ = bench.refit_table(run, 10, "pipeline")
        assert table[["resident_id", "missing_id"]].equals(pipeline[["resident_id", "missing_id"]])
        assert not np.allclose(probability, pipeline["match_probability"].to_numpy())
    assert "false leads" in bench.honest_bound(table, truth)
    run.missing = None
    with pytest.raises(SystemExit, match="frames"):
        bench.duplicate_probability(run, "person_clusters", np.zeros(len(run.vectors)))
