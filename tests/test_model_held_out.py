"""m estimated held out (``FellegiSunter(m_estimate=...)``, :func:`held_out_m`): each comparison's m
from the pairs the other comparisons call the match, against a plain-loop reference and known m."""

from __future__ import annotations

import numpy as np
import pytest

from kinmatch.match.model.fellegi_sunter import held_out_m, observed_together


def _simulated(seed=0, n_residents=4000, per_resident=5, share=0.6):
    """Residents with ``per_resident`` candidates, the first of which is the match for ``share`` of
    them; three comparisons with known m and u."""
    rng = np.random.default_rng(seed)
    residents = np.repeat(np.arange(n_residents), per_resident)
    match = np.zeros(len(residents), bool)
    match[::per_resident] = rng.random(n_residents) < share
    m = {"a": [.1, .2, .7], "b": [.05, .95], "c": [.1, .3, .6]}
    u = {"a": [.7, .2, .1], "b": [.95, .05], "c": [.6, .3, .1]}
    matrix = np.column_stack([np.where(match, rng.choice(len(m[n]), len(match), p=m[n]),
                                       rng.choice(len(u[n]), len(match), p=u[n])) for n in "abc"])
    return matrix, residents, {n: np.array(v) for n, v in m.items()}, {n: np.array(v) for n, v in u.items()}


def _loop_reference(matrix, names, m, u, pi, residents, k, decisive, min_prob):
    """One held-out m, pair by pair: the posterior without comparison k, resident by resident."""
    weights = np.zeros(len(m[names[k]]))
    for r in np.unique(residents):
        rows = np.flatnonzero(residents == r)
        ratio = []
        for i in rows:
            lr = sum(np.log(m[n][matrix[i, j]]) - np.log(u[n][matrix[i, j]])
                     for j, n in enumerate(names) if j != k and matrix[i, j] >= 0)
            ratio.append(pi / len(rows) * np.exp(lr))
        total = (1 - pi) + sum(ratio)
        for i, e in zip(rows, ratio):
            p = e / total
            if p >= decisive and matrix[i, k] >= 0:
                weights[matrix[i, k]] += p
    rising = 2.0 ** np.arange(len(weights))
    weights = weights + max(2.0, 0.05 * weights.sum()) * rising / rising.sum()
    estimate = np.clip(weights / weights.sum(), min_prob, 1 - min_prob)
    return estimate / estimate.sum()


def test_held_out_m_equals_a_plain_loop():
    matrix, residents, m, u = _simulated(seed=1, n_residents=150)
    matrix[::7, 2] = -1  # missing values are left out, not counted
    start = {"a": np.array([.02, .08, .9]), "b": m["b"], "c": m["c"]}
    fitted = held_out_m(matrix, list("abc"), start, u, 0.6, residents, 1e-4, rounds=1)
    for k, name in enumerate("abc"):
        np.testing.assert_allclose(fitted[name], _loop_reference(matrix, list("abc"), start, u, 0.6, residents, k,
                                                                 0.9, 1e-4), atol=1e-12)


@pytest.mark.parametrize("start_a", [[.02, .08, .9], [.3, .3, .4], [.1, .2, .7]])
def test_held_out_m_recovers_known_m_whatever_the_start(start_a):
    matrix, residents, m, u = _simulated(seed=2)
    start = {"a": np.array(start_a), "b": m["b"], "c": m["c"]}
    fitted = held_out_m(matrix, list("abc"), start, u, 0.6, residents, 1e-4)
    # "a" and "c" are held out against "b", which decides; "b" against the two weaker ones, where
    # up to 1 - decisive of the weight is a non-match's
    for name, tolerance in (("a", 0.03), ("c", 0.03), ("b", 0.12)):
        np.testing.assert_allclose(fitted[name], m[name], atol=tolerance)


def test_only_the_comparisons_named_are_held_out():
    matrix, residents, m, u = _simulated(seed=3, n_residents=500)
    start = {"a": np.array([.02, .08, .9]), "b": np.array([.2, .8]), "c": np.array([.3, .3, .4])}
    fitted = held_out_m(matrix, list("abc"), start, u, 0.6, residents, 1e-4, comparisons=["a"])
    assert fitted["b"] is start["b"] and fitted["c"] is start["c"]
    assert fitted["a"][2] < 0.85  # moved from the start towards the true 0.7


def test_a_comparison_observed_only_at_some_levels_of_another_is_left_out_of_its_posterior():
    # "late" is observed only where "gap" is at its top level: it says nothing about the gap that the
    # gap does not contain, so neither counts in the other's held-out posterior
    levels = np.array([[2, 1, 0], [2, 0, 1], [1, -1, 1], [0, -1, 0], [1, -1, 1], [0, -1, 1]])
    together = observed_together(levels, ["gap", "late", "other"])
    assert together.tolist() == [[True, False, True], [False, True, True], [True, True, True]]
    # a rare level (below min_share of the pairs) without the other comparison does not count
    many = np.vstack([np.tile([[2, 1], [1, 0], [0, 1]], (200, 1)), [[3, -1]]])
    assert observed_together(many, ["gap", "late"]).all()
