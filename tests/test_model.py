"""Tests of the probabilistic core: multi-level Fellegi–Sunter EM and the supervised linker."""

from __future__ import annotations

import doctest
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.errors import InputError, KinmatchError
from kinmatch.match.model import (
    FellegiSunter,
    ModelMismatchError,
    ModelNotFittedError,
    SupervisedLinker,
    assignment,
    evaluate_scores,
)
from kinmatch.match.model.base import group_patterns
from kinmatch.match.model.fitting import adjusted_vectors, fit_model

# Known parameters for simulation: several comparisons with 2–5 levels (level 0 = different).
TRUE_M = {
    "name": [0.05, 0.10, 0.15, 0.70],
    "sex": [0.03, 0.97],
    "age": [0.10, 0.20, 0.70],
    "place": [0.10, 0.10, 0.20, 0.25, 0.35],
}
TRUE_U = {
    "name": [0.80, 0.12, 0.05, 0.03],
    "sex": [0.50, 0.50],
    "age": [0.60, 0.25, 0.15],
    "place": [0.50, 0.25, 0.15, 0.07, 0.03],
}
MISSING_RATE = {"name": 0.05, "sex": 0.0, "age": 0.20, "place": 0.30}
TRUE_LAMBDA = 0.15


def simulate(n: int, lam: float, seed: int, missing: bool = True):
    """Comparison vectors drawn from known m/u; returns (vectors, is_match)."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < lam
    columns = {}
    for name in TRUE_M:
        levels = len(TRUE_M[name])
        from_m = rng.choice(levels, n, p=TRUE_M[name])
        from_u = rng.choice(levels, n, p=TRUE_U[name])
        values = np.where(is_match, from_m, from_u)
        if missing:
            values = np.where(rng.random(n) < MISSING_RATE[name], -1, values)
        columns[name] = values
    index = pd.MultiIndex.from_arrays([[f"R{i:05d}" for i in range(n)],
                                       [f"M{i:05d}" for i in range(n)]],
                                      names=["resident_id", "missing_id"])
    return pd.DataFrame(columns, index=index), is_match


LEVELS = {name: len(m) for name, m in TRUE_M.items()}


# ---------------------------------------------------------------------------------------------
# EM recovers the parameters it was simulated with (splink's convergence test)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("u_source", ["random_pairs", "em"])
def test_em_recovers_known_m_u_lambda(u_source):
    vectors, _ = simulate(60_000, TRUE_LAMBDA, seed=1)
    model = FellegiSunter(levels=LEVELS, max_iter=500, tol=1e-8)
    if u_source == "random_pairs":
        random_pairs, _ = simulate(60_000, 0.0, seed=2)  # lam=0: all non-matches
        model.fit(vectors, u_vectors=random_pairs)
    else:
        model.set_params(u_fixed=False).fit(vectors)
    assert model.u_source_ == u_source
    assert model.converged_
    assert abs(model.lambda_ - TRUE_LAMBDA) < 0.01
    for name in TRUE_M:
        np.testing.assert_allclose(model.m_[name], TRUE_M[name], atol=0.025, err_msg=name)
        np.testing.assert_allclose(model.u_[name], TRUE_U[name], atol=0.015, err_msg=name)


def test_em_recovery_does_not_depend_on_a_random_start():
    vectors, _ = simulate(40_000, 0.3, seed=3)
    fits = [FellegiSunter(levels=LEVELS, m_init="random", random_state=seed, u_fixed=False,
                          lambda_init=0.3, max_iter=1000, tol=1e-9).fit(vectors)
            for seed in (0, 1)]
    for name in TRUE_M:
        np.testing.assert_allclose(fits[0].m_[name], fits[1].m_[name], atol=1e-3)
    assert abs(fits[0].lambda_ - 0.3) < 0.015


def test_em_separates_matches_in_the_simulation():
    vectors, is_match = simulate(20_000, TRUE_LAMBDA, seed=4)
    model = FellegiSunter(levels=LEVELS, u_fixed=False).fit(vectors)
    scores = evaluate_scores(model.predict_proba(vectors), is_match)
    assert scores["roc_auc"] > 0.95
    # Posterior probabilities are calibrated when the model is right: mean prob ~ match rate.
    assert abs(model.predict_proba(vectors).mean() - is_match.mean()) < 0.01


def test_em_log_likelihood_never_decreases():
    vectors, _ = simulate(5_000, 0.2, seed=5)
    model = FellegiSunter(levels=LEVELS, u_fixed=False, max_iter=60, tol=0).fit(vectors)
    steps = np.diff(model.log_likelihood_)
    assert len(steps) == 59
    assert steps.min() > -1e-6


# ---------------------------------------------------------------------------------------------
# Vectorized EM equals a plain-loop reference EM
# ---------------------------------------------------------------------------------------------


def reference_em(rows, levels, m, u, lam, n_iter, u_free, min_prob):
    """The slow obvious EM: one pair at a time, products of probabilities, no patterns."""

    def clip_normalise(p):
        p = [min(max(x, min_prob), 1 - min_prob) for x in p]
        total = sum(p)
        return [x / total for x in p]

    m = {k: list(v) for k, v in m.items()}
    u = {k: list(v) for k, v in u.items()}
    names = list(levels)
    for _ in range(n_iter):
        posts = []
        for row in rows:
            p_match, p_non = lam, 1 - lam
            for name, level in zip(names, row, strict=True):
                if level == -1:
                    continue
                p_match *= m[name][level]
                p_non *= u[name][level]
            posts.append(p_match / (p_match + p_non))
        new_lam = min(max(sum(posts) / len(rows), min_prob), 1 - min_prob)
        new_m, new_u = {}, {}
        for j, name in enumerate(names):
            match_counts = [0.0] * levels[name]
            non_counts = [0.0] * levels[name]
            for row, post in zip(rows, posts, strict=True):
                if row[j] == -1:
                    continue
                match_counts[row[j]] += post
                non_counts[row[j]] += 1 - post
            new_m[name] = clip_normalise([c / sum(match_counts) for c in match_counts])
            new_u[name] = (clip_normalise([c / sum(non_counts) for c in non_counts])
                           if u_free else u[name])
        lam, m, u = new_lam, new_m, new_u
    if u_free:
        # The match class is the one whose levels are higher on average (levels scaled 0..1).
        gap = 0.0
        for name in names:
            top = levels[name] - 1
            gap += sum((m[name][k] - u[name][k]) * k / top for k in range(levels[name]))
        if gap < -1e-9:  # as the model: a tie (m == u) is left alone
            m, u, lam = u, m, 1 - lam
    return lam, m, u


@st.composite
def small_vector_sets(draw):
    n_comparisons = draw(st.integers(1, 3))
    levels = {f"c{j}": draw(st.integers(2, 4)) for j in range(n_comparisons)}
    n_rows = draw(st.integers(5, 40))
    rows = [tuple(draw(st.integers(-1, levels[name] - 1)) for name in levels)
            for _ in range(n_rows)]
    # Every comparison needs at least one observed value for its M step.
    rows.append(tuple(levels[name] - 1 for name in levels))
    rows.append(tuple(0 for _ in levels))
    return levels, rows


@settings(max_examples=30, deadline=None)
@given(data=small_vector_sets(), u_free=st.booleans(), n_iter=st.integers(1, 8),
       lam=st.floats(0.05, 0.6))
def test_vectorized_em_equals_plain_loop_em(data, u_free, n_iter, lam):
    levels, rows = data
    vectors = pd.DataFrame(rows, columns=list(levels))
    m_init = {n: [float(k + 1) for k in range(levels[n])] for n in levels}
    model = FellegiSunter(levels=levels, m_init=m_init, lambda_init=lam, max_iter=n_iter,
                          tol=0.0, u_fixed=not u_free)
    # u starts from "random pairs" (here: the same rows), then stays fixed or moves with EM.
    model.estimate_u(vectors)
    u_start = {n: list(model.u_random_[n]) for n in levels}
    model.fit(vectors)

    m_start = {n: [x / sum(m_init[n]) for x in m_init[n]] for n in levels}
    ref_lam, ref_m, ref_u = reference_em(rows, levels, m_start, u_start, lam, model.n_iter_,
                                         u_free, model.min_prob)
    assert model.n_iter_ <= n_iter
    assert abs(model.lambda_ - ref_lam) < 1e-9
    for name in levels:
        np.testing.assert_allclose(model.m_[name], ref_m[name], rtol=0, atol=1e-9)
        np.testing.assert_allclose(model.u_[name], ref_u[name], rtol=0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 3), st.integers(-1, 1), st.integers(-1, 6)),
                min_size=1, max_size=60))
def test_pattern_grouping_reconstructs_every_row(rows):
    matrix = np.array(rows, dtype=np.int64)
    patterns, counts, inverse = group_patterns(matrix)
    np.testing.assert_array_equal(patterns[inverse], matrix)
    assert counts.sum() == len(rows)
    assert len({tuple(p) for p in patterns}) == len(patterns)


def test_pattern_grouping_handles_too_many_levels_to_pack():
    # 20 comparisons of 30 levels do not fit in one int64 code: the row-wise path is used.
    rng = np.random.default_rng(0)
    matrix = rng.integers(-1, 30, size=(200, 20))
    matrix[100:] = matrix[:100]
    patterns, counts, inverse = group_patterns(matrix)
    np.testing.assert_array_equal(patterns[inverse], matrix)
    assert len(patterns) == 100 and set(counts) == {2}


# ---------------------------------------------------------------------------------------------
# Missing values carry no weight
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    vectors, _ = simulate(10_000, TRUE_LAMBDA, seed=6)
    labels = {"name": ["different", "similar sound", "same sound", "same characters"]}
    return FellegiSunter(levels=LEVELS, u_fixed=False, level_labels=labels).fit(vectors)


def test_all_missing_vector_gets_the_prior_only(fitted):
    blank = pd.DataFrame({name: [-1] for name in LEVELS})
    assert fitted.weight_table(blank).to_numpy().tolist() == [[0.0] * len(LEVELS)]
    assert fitted.match_weight(blank).iloc[0] == fitted.prior_weight_
    assert fitted.prior_weight_ == pytest.approx(math.log2(fitted.lambda_ / (1 - fitted.lambda_)))
    assert fitted.predict_proba(blank).iloc[0] == pytest.approx(fitted.lambda_)


@settings(max_examples=40, deadline=None)
@given(row=st.tuples(*[st.integers(0, len(m) - 1) for m in TRUE_M.values()]),
       drop=st.sampled_from(list(TRUE_M)))
def test_setting_a_comparison_missing_removes_exactly_its_weight(fitted, row, drop):
    full = pd.DataFrame([row], columns=list(LEVELS))
    partial = full.copy()
    partial[drop] = -1
    table = fitted.weight_table(full)
    assert fitted.weight_table(partial)[drop].iloc[0] == 0.0
    expected = fitted.match_weight(full).iloc[0] - table[drop].iloc[0]
    assert fitted.match_weight(partial).iloc[0] == pytest.approx(expected, abs=1e-12)
    assert table.iloc[0][drop] == fitted.weights_[drop][row[list(LEVELS).index(drop)]]


def test_nan_counts_as_missing(fitted):
    with_nan = pd.DataFrame({"name": [3.0, np.nan], "sex": [1, 1], "age": [np.nan, 2],
                             "place": [4, 4]})
    with_minus = pd.DataFrame({"name": [3, -1], "sex": [1, 1], "age": [-1, 2], "place": [4, 4]})
    np.testing.assert_array_equal(fitted.match_weight(with_nan), fitted.match_weight(with_minus))


def test_scores_keep_the_pair_index_and_sum_up(fitted):
    vectors, _ = simulate(50, TRUE_LAMBDA, seed=7)
    weight = fitted.match_weight(vectors)
    assert weight.index.equals(vectors.index)
    np.testing.assert_allclose(fitted.weight_table(vectors).sum(axis=1) + fitted.prior_weight_,
                               weight, atol=1e-12)
    proba = fitted.predict_proba(vectors)
    np.testing.assert_allclose(proba, 2 ** weight / (1 + 2 ** weight), atol=1e-12)
    assert fitted.predict(vectors, threshold=0.5).equals(proba >= 0.5)
    assert list(fitted.weight_table(vectors, prefix="w_").columns) == [f"w_{n}" for n in LEVELS]


def test_weights_are_finite_even_for_levels_never_seen():
    # Level 2 of "name" never occurs: m and u are clipped away from 0, so its weight is finite.
    vectors = pd.DataFrame({"name": [0, 1, 0, 1, 0, 0], "sex": [0, 1, 1, 1, 0, 0]})
    model = FellegiSunter(levels={"name": 3, "sex": 2}, u_fixed=False).fit(vectors)
    for name in ("name", "sex"):
        assert np.all(np.isfinite(model.weights_[name]))
        assert np.all((model.m_[name] > 0) & (model.m_[name] < 1))
        assert np.all((model.u_[name] > 0) & (model.u_[name] < 1))


def test_random_pairs_without_a_top_level_or_a_comparison_still_fit():
    vectors, _ = simulate(5_000, TRUE_LAMBDA, seed=18)
    random_pairs, _ = simulate(5_000, 0.0, seed=19)
    random_pairs["name"] = random_pairs["name"].clip(upper=2)  # exact names never met at random
    random_pairs["place"] = -1  # never observed among random pairs
    model = FellegiSunter(u_fixed=True)
    with pytest.warns(UserWarning, match="'place' is missing"):
        model.fit(vectors, u_vectors=random_pairs)
    assert model.levels_["name"] == 4 and model.u_source_ == "mixed"
    assert model.u_["name"][3] == pytest.approx(model.min_prob, rel=1e-3)
    assert np.isfinite(model.weights_["name"]).all() and model.weights_["name"][3] > 10
    np.testing.assert_allclose(model.u_["place"], TRUE_U["place"], atol=0.03)


def test_m_fixed_levels_stay_pinned():
    vectors, _ = simulate(5_000, TRUE_LAMBDA, seed=8)
    model = FellegiSunter(levels=LEVELS, u_fixed=False, m_fixed={"sex": {0: 0.01}}).fit(vectors)
    assert model.m_["sex"][0] == 0.01
    assert model.m_["sex"].sum() == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Input errors teach
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"name": [0, 4], "sex": [0, 1]}), "holds level 4"),
        (pd.DataFrame({"name": [0, -2], "sex": [0, 1]}), "holds level -2"),
        (pd.DataFrame({"name": [0, 1.5], "sex": [0, 1]}), "not an integer level"),
        (pd.DataFrame({"name": ["同音", "0"], "sex": [0, 1]}), "not integer levels"),
        (pd.DataFrame({"name": [0, 1]}), "no column"),
    ],
)
def test_bad_vectors_raise_input_error_that_says_what_to_do(frame, message):
    model = FellegiSunter(levels={"name": 4, "sex": 2}, u_fixed=False)
    with pytest.raises(InputError, match=message):
        model.fit(frame)


def test_scoring_before_fit_says_so():
    with pytest.raises(ModelNotFittedError, match="not fitted"):
        FellegiSunter().predict_proba(pd.DataFrame({"name": [1]}))
    with pytest.raises(ModelNotFittedError):
        FellegiSunter().to_json()


def test_constructor_only_stores_arguments():
    model = FellegiSunter(levels={"name": 3}, tol=1e-3)
    assert model.get_params()["levels"] == {"name": 3}
    assert not [k for k in vars(model) if k.endswith("_")]


def test_model_shows_its_levels_in_a_notebook():
    assert "not fitted" in FellegiSunter(max_iter=5)._repr_html_()
    vectors = pd.DataFrame({"name": [2, 2, 0, 0, 1, 0, 2, 0], "sex": [1, 1, 0, 1, 1, 0, 1, -1]})
    model = FellegiSunter(u_fixed=False, max_iter=50, level_labels={"name": ["不同", "部分", "相同"]}).fit(vectors)
    page = model._repr_html_()
    assert "FellegiSunter(" in page and "prior match probability" in page
    assert page.count("<tr") == 1 + 3 + 2  # header, 3 name levels, 2 sex levels
    assert "部分" in page


def test_models_follow_the_scikit_learn_estimator_api_without_importing_it():
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    model = FellegiSunter(levels={"name": 3}, tol=1e-3)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert repr(model) == "FellegiSunter(levels={'name': 3}, tol=0.001)"
    assert model.set_params(max_iter=7) is model and model.max_iter == 7
    with pytest.raises(ValueError, match="invalid parameter 'maxiter'"):
        model.set_params(maxiter=7)
    linker = SupervisedLinker(estimator=LogisticRegression(C=2.0))
    assert linker.get_params()["estimator__C"] == 2.0
    linker.set_params(estimator__C=0.5)
    assert linker.estimator.C == 0.5 and clone(linker).estimator.C == 0.5
    # an unfitted model's error is what scikit-learn's NotFittedError is: ValueError and AttributeError
    with pytest.raises(ValueError):
        FellegiSunter().predict_proba(pd.DataFrame({"name": [1]}))
    with pytest.raises(AttributeError):
        FellegiSunter().predict_proba(pd.DataFrame({"name": [1]}))


# ---------------------------------------------------------------------------------------------
# JSON round trip
# ---------------------------------------------------------------------------------------------


def test_json_round_trip_gives_identical_scores(fitted, tmp_path):
    path = tmp_path / "model.json"
    text = fitted.to_json(path)
    assert path.read_text(encoding="utf-8").strip() == text
    loaded_from_path = FellegiSunter.from_json(path)
    loaded_from_text = FellegiSunter.from_json(text)
    vectors, _ = simulate(2_000, TRUE_LAMBDA, seed=9)
    for loaded in (loaded_from_path, loaded_from_text):
        np.testing.assert_array_equal(loaded.match_weight(vectors), fitted.match_weight(vectors))
        np.testing.assert_array_equal(loaded.weight_table(vectors), fitted.weight_table(vectors))
        np.testing.assert_array_equal(loaded.predict_proba(vectors),
                                      fitted.predict_proba(vectors))


def test_json_is_readable_per_comparison_and_level(fitted):
    data = json.loads(fitted.to_json())
    assert data["format"] == "kinmatch.FellegiSunter" and data["version"] == 1
    assert set(data["comparisons"]) == set(LEVELS)
    name_levels = data["comparisons"]["name"]["levels"]
    assert [lv["level"] for lv in name_levels] == [0, 1, 2, 3]
    assert name_levels[3]["label"] == "same characters"
    assert name_levels[3]["m"] == fitted.m_["name"][3]
    assert name_levels[3]["weight"] == pytest.approx(math.log2(fitted.m_["name"][3]
                                                               / fitted.u_["name"][3]))
    assert data["lambda"] == fitted.lambda_
    assert data["fitted_on"]["n_pairs"] == 10_000
    assert "\n" in fitted.to_json()  # indented, one key per line, for diffs and audits


def test_json_keeps_chinese_level_labels_given_as_a_dict(tmp_path):
    # The comparisons module labels levels as {level: label}, with -1 for "missing".
    labels = {"sex": {-1: "性别不详", 0: "性别不符", 1: "性别相符"}}
    vectors, _ = simulate(3_000, TRUE_LAMBDA, seed=16)
    model = FellegiSunter(levels=LEVELS, u_fixed=False, level_labels=labels).fit(vectors)
    text = model.to_json(tmp_path / "model.json")
    assert "性别相符" in text  # written as characters, not \u escapes
    sex = json.loads(text)["comparisons"]["sex"]
    assert sex["missing_label"] == "性别不详"
    assert [lv["label"] for lv in sex["levels"]] == ["性别不符", "性别相符"]
    loaded = FellegiSunter.from_json(tmp_path / "model.json")
    assert loaded.parameter_table().query("comparison == 'sex'")["label"].tolist() == [
        "性别不符", "性别相符"]
    assert loaded.to_json() == text


@pytest.mark.parametrize("text, message", [
    ("{not json", "cannot be parsed"),
    ('{"format": "something else", "version": 1}', "not a kinmatch"),
    ("/nonexistent/model.json", "does not exist"),
])
def test_from_json_rejects_what_it_cannot_read(text, message):
    with pytest.raises(InputError, match=message):
        FellegiSunter.from_json(text)


# ---------------------------------------------------------------------------------------------
# Term-frequency adjustment
# ---------------------------------------------------------------------------------------------


def _tf_model():
    vectors, _ = simulate(10_000, TRUE_LAMBDA, seed=10)
    vectors["tf_name"] = 0.01
    return FellegiSunter(levels=LEVELS, u_fixed=False, tf_columns={"name": "tf_name"}).fit(vectors)


@pytest.mark.parametrize(
    "level, tf_rare, tf_common, rare_wins",
    [
        (3, 0.0005, 0.02, True),     # exact agreement on 欧阳 vs on 王: rare weighs more
        (3, 0.00001, 0.0001, True),
        (2, 0.0005, 0.02, False),    # not an exact level: tf does not apply, weights equal
        (0, 0.0005, 0.02, False),
    ],
)
def test_rare_value_agreement_weighs_more_than_common(level, tf_rare, tf_common, rare_wins):
    model = _tf_model()
    pairs = pd.DataFrame({"name": [level, level], "sex": [1, 1], "age": [2, 2], "place": [4, 4],
                          "tf_name": [tf_rare, tf_common]})
    weights = model.weight_table(pairs)["name"].to_numpy()
    if rare_wins:
        assert weights[0] > weights[1]
        assert weights[0] == pytest.approx(math.log2(model.m_["name"][level] / tf_rare))
    else:
        assert weights[0] == weights[1] == model.weights_["name"][level]


def test_tf_missing_value_falls_back_and_round_trips(tmp_path):
    model = _tf_model()
    pairs = pd.DataFrame({"name": [3, 3], "sex": [1, 1], "age": [2, 2], "place": [4, 4],
                          "tf_name": [np.nan, 0.001]})
    table = model.weight_table(pairs)
    assert table["name"].iloc[0] == model.weights_["name"][3]
    loaded = FellegiSunter.from_json(model.to_json())
    np.testing.assert_array_equal(loaded.match_weight(pairs), model.match_weight(pairs))
    with pytest.raises(InputError, match="term-frequency column"):
        model.weight_table(pairs.drop(columns="tf_name"))


# ---------------------------------------------------------------------------------------------
# The one-to-many assignment EM and the model the linking pipeline fits
# ---------------------------------------------------------------------------------------------


def test_assignment_em_recovers_m_and_share_with_report():
    # 400 residents, 30 candidates each; 70% have their true report among them
    rng = np.random.default_rng(3)
    true_m = {"name": np.array([0.05, 0.15, 0.8]), "age": np.array([0.15, 0.85]),
              "place": np.array([0.2, 0.3, 0.5])}
    u = {"name": np.array([0.9, 0.08, 0.02]), "age": np.array([0.6, 0.4]), "place": np.array([0.7, 0.2, 0.1])}
    rows, index = [], []
    for i in range(400):
        has = rng.random() < 0.7
        for j in range(30):
            probs = true_m if (has and j == 0) else u
            rows.append({n: rng.choice(len(p), p=p) for n, p in probs.items()})
            index.append((f"R{i}", f"M{i}_{j}"))
    vectors = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index))
    fit = assignment.fit_assignment_em(vectors, u, n_residents=400)
    m, pi, posterior = fit.m, fit.pi, fit.posterior
    assert posterior.shape == (len(vectors),) and ((posterior >= 0) & (posterior <= 1)).all()
    assert pi == pytest.approx(0.7, abs=0.15)
    assert m["name"] == pytest.approx(true_m["name"], abs=0.1)
    assert m["age"] == pytest.approx(true_m["age"], abs=0.1)
    assert m["place"] == pytest.approx(true_m["place"], abs=0.1)


def _assignment_em_reference(vectors, u, n_residents, iterations, min_prob=1e-4):
    """The assignment EM written plainly: one resident, one pair, one comparison at a time."""
    names = list(u)
    u = {n: np.asarray(u[n], dtype=float) for n in names}
    m = {n: np.exp2(np.arange(len(u[n]))) / np.exp2(np.arange(len(u[n]))).sum() for n in names}
    prior = {n: v.copy() for n, v in m.items()}
    rows = [(key[0], {n: int(vectors[n].iloc[i]) for n in names}) for i, key in enumerate(vectors.index)]
    by_resident = {}
    for i, (resident_id, _) in enumerate(rows):
        by_resident.setdefault(resident_id, []).append(i)
    pi = 0.5
    for _ in range(iterations):
        post = np.zeros(len(rows))
        for members in by_resident.values():
            scores = []
            for i in members:
                ratio = 1.0
                for n in names:
                    level = rows[i][1][n]
                    if level >= 0:
                        ratio *= m[n][level] / u[n][level]
                scores.append(pi / len(members) * ratio)
            for i, score in zip(members, scores, strict=True):
                post[i] = score / ((1 - pi) + sum(scores))
        strength = max(2.0, 0.05 * post.sum())
        new_m, new_u = {}, {}
        for n in names:
            match, rest = np.zeros(len(u[n])), np.zeros(len(u[n]))
            for i, (_, levels) in enumerate(rows):
                if levels[n] >= 0:
                    match[levels[n]] += post[i]
                    rest[levels[n]] += 1 - post[i]
            counts = match + strength * prior[n]
            new_m[n] = np.clip(counts / counts.sum(), min_prob, 1 - min_prob)
            new_m[n] /= new_m[n].sum()
            counts = rest + 1.0
            new_u[n] = np.clip(counts / counts.sum(), min_prob, 1 - min_prob)
            new_u[n] /= new_u[n].sum()
        m, u = new_m, new_u
        pi = float(np.clip(post.sum() / n_residents, 1e-3, 1 - 1e-3))
    return m, u, pi, post


@pytest.mark.parametrize("block_codes, exp_safe", [(1 << 20, 600.0), (16, 600.0), (16, -1.0)])
def test_assignment_em_equals_a_plain_loop_reference(monkeypatch, block_codes, exp_safe):
    # small blocks (each comparison alone) and the max-shifted E step must give the same fit
    monkeypatch.setattr(assignment, "_BLOCK_CODES", block_codes)
    monkeypatch.setattr(assignment, "_EXP_SAFE", exp_safe)
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 9, size=40)
    index = [(f"R{i:02d}", f"M{i}_{j}") for i, size in enumerate(sizes) for j in range(size)]
    rng.shuffle(index)  # pairs of a resident need not be next to each other
    vectors = pd.DataFrame({"name": rng.integers(-1, 4, len(index)), "sex": rng.integers(-1, 2, len(index)),
                            "age": rng.integers(0, 5, len(index))},
                           index=pd.MultiIndex.from_tuples(index)).astype("int8")
    u = {"name": [0.7, 0.2, 0.07, 0.03], "sex": [0.5, 0.5], "age": [0.4, 0.3, 0.15, 0.1, 0.05]}
    fit = assignment.fit_assignment_em(vectors, u, n_residents=50, max_iter=6, tol=0.0, estimate_u=True)
    m, u_ref, pi, post = _assignment_em_reference(vectors, u, 50, iterations=6)
    assert fit.pi == pytest.approx(pi, rel=1e-9)
    assert fit.posterior == pytest.approx(post, rel=1e-9, abs=1e-12)
    for name in u:
        assert fit.m[name] == pytest.approx(m[name], rel=1e-9)
        assert fit.u[name] == pytest.approx(u_ref[name], rel=1e-9)
    assert fit.n_iter == 6 and not fit.converged  # tol=0: it ran out of iterations


def candidate_world(n_residents=300, n_candidates=20, share=0.7, seed=3):
    """Candidate pairs of residents, ``share`` of whom have their true report among the candidates,
    and random pairs (non-matches) for u, drawn from TRUE_M / TRUE_U."""
    rng = np.random.default_rng(seed)
    rows, index = [], []
    for i in range(n_residents):
        has = rng.random() < share
        for j in range(n_candidates):
            probs = TRUE_M if (has and j == 0) else TRUE_U
            rows.append({n: rng.choice(len(p), p=p) for n, p in probs.items()})
            index.append((f"R{i:04d}", f"M{i:04d}_{j:02d}"))
    vectors = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["resident_id", "missing_id"]))
    random_pairs, _ = simulate(20_000, 0.0, seed=seed + 1, missing=False)
    return vectors, random_pairs


@pytest.mark.parametrize("u_source", ["hybrid", "candidates", "random"])
def test_assignment_method_is_the_assignment_em_then_monotone_m(u_source):
    # the model holds exactly what the EM found: m made monotone for ordered comparisons, u as the
    # u_source says, lambda = π over the reports (hybrid) or the candidates per resident
    vectors, random_pairs = candidate_world()
    model = FellegiSunter(levels=LEVELS, method="assignment", u_source=u_source, ordered=["age", "place"],
                          max_iter=60, tol=2e-4, min_prob=1e-4)
    model.fit(vectors, random_pairs, n_residents=300, n_reports=3_000)
    u_random = FellegiSunter(levels=LEVELS, min_prob=1e-4).estimate_u(random_pairs).u_random_
    fit = assignment.fit_assignment_em(vectors, u_random, 300, max_iter=60, tol=2e-4, min_prob=1e-4,
                                       estimate_u=u_source != "random")
    u = u_random if u_source == "hybrid" else fit.u
    for name in LEVELS:
        expected_m = assignment.monotone_m(fit.m[name], u[name]) if name in ("age", "place") else fit.m[name]
        np.testing.assert_array_equal(model.m_[name], expected_m)
        np.testing.assert_array_equal(model.u_[name], u[name])
        assert np.all(np.diff(model.weights_[name]) >= -1e-12) or name in ("name", "sex")
    per_resident = 3_000 if u_source == "hybrid" else 20
    assert model.lambda_ == fit.pi / per_resident and model.share_with_report_ == fit.pi
    assert (model.n_iter_, model.converged_) == (fit.n_iter, fit.converged)
    assert model.converged_ and 0 < model.n_iter_ < 60 and model.fit_method_ == "assignment"
    assert model.u_source_ == ("candidates" if u_source == "candidates" else "random_pairs")
    assert model.share_with_report_ == pytest.approx(0.7, abs=0.1)


def test_an_assignment_fit_stopped_at_max_iter_says_it_did_not_converge():
    vectors, random_pairs = candidate_world(n_residents=100)
    model = FellegiSunter(levels=LEVELS, method="assignment", max_iter=2, tol=1e-12)
    model.fit(vectors, random_pairs, n_residents=100)
    assert model.n_iter_ == 2 and model.converged_ is False
    fitted_on = json.loads(model.to_json())["fitted_on"]
    assert fitted_on["n_iter"] == 2 and fitted_on["converged"] is False and fitted_on["method"] == "assignment"


@pytest.mark.parametrize("params, fit_args, message", [
    ({"m_fixed": {"sex": {0: 0.01}}}, {}, "m_fixed is used by method='em' only"),
    ({"lambda_init": 0.1}, {}, "lambda_init is used by method='em' only"),
    ({}, {"u_vectors": None}, "needs random pairs"),
    ({"u_source": "both"}, {}, "u_source='both'"),
    ({"method": "gibbs"}, {}, "method='gibbs'"),
    ({"ordered": ["height"]}, {}, "ordered names comparison"),
])
def test_assignment_method_misuse_says_what_to_do(params, fit_args, message):
    vectors, random_pairs = candidate_world(n_residents=20)
    model = FellegiSunter(levels=LEVELS, **{"method": "assignment", **params})
    with pytest.raises(InputError, match=message):
        model.fit(vectors, **{"u_vectors": random_pairs, "n_residents": 20, **fit_args})


def test_pipeline_model_converged_and_says_so():
    from kinmatch.datasets.simulate import simulate as simulate_people
    from kinmatch.match.pipeline import run_link

    sim = simulate_people(n_missing=1000, n_residents=100, seed=5)
    run = run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=1)
    model = run.model
    from kinmatch.match.model.fitting import MAX_EM_ITERATIONS

    assert model.fit_method_ == "assignment" and model.max_iter == MAX_EM_ITERATIONS
    assert model.converged_ is True and 0 < model.n_iter_ < model.max_iter
    data = json.loads(model.to_json())
    assert data["fitted_on"]["converged"] is True and data["fitted_on"]["n_iter"] == model.n_iter_
    assert data["params"]["max_iter"] == MAX_EM_ITERATIONS and data["params"]["method"] == "assignment"
    assert not any("m_fixed" in entry for entry in data["comparisons"].values())  # m is fitted, not pinned


def test_fit_model_keeps_settings_and_leaves_out_comparisons_without_evidence():
    vectors, random_pairs = candidate_world(n_residents=50)
    vectors = vectors.rename(columns={"place": "geography"}).assign(marks=-1)
    random_pairs = random_pairs.rename(columns={"place": "geography"}).assign(marks=-1)
    vectors["name"] = vectors["name"].clip(upper=3)
    from kinmatch.match.settings import LinkSettings, default_comparisons

    settings = LinkSettings(comparisons=[c for c in default_comparisons()
                                         if c.name in ("name", "sex", "age", "geography", "marks")])
    model = fit_model(vectors, random_pairs, n_residents=50, settings=settings)
    assert model.comparisons_ == ["name", "sex", "age", "geography"]  # marks: no evidence, left out
    assert model.settings == settings.to_dict()  # the settings list marks all the same
    assert model.level_label("sex", 1) == "性别相符"
    model.check_compatible(settings.level_labels())  # data with marks fit the model that left them out


class _Model:
    u_ = {"name": np.array([0.9, 0.02, 0.01, 0.01, 0.02, 0.03, 0.01])}



@pytest.mark.parametrize("level, tf, floored", [
    (1, 0.0005, 0.02),   # a rare 小名 cannot weigh more than the level
    (1, 0.2, 0.2),       # a common one weighs less
    (1, np.nan, np.nan), # no tf: the level's own u applies
    (5, 0.0005, 0.0005), # sound levels keep their full tf adjustment
    (-1, np.nan, np.nan),
])
def test_floor_name_tf_only_lowers_partial_name_weights(level, tf, floored):
    out = adjusted_vectors(pd.DataFrame({"name": [level], "tf_name": [tf]}), _Model())["tf_name"].iloc[0]
    assert out == pytest.approx(floored, nan_ok=True)


# ---------------------------------------------------------------------------------------------
# What the JSON records, and the data a model may score
# ---------------------------------------------------------------------------------------------


SETTINGS = {"comparisons": {"sex": {"levels": 2}}, "passes": [{"name": "同音", "cap": 200}], "u_source": "hybrid",
            "n_random_pairs": 30000, "tf": None}


@pytest.mark.parametrize("method", ["em", "assignment"])
def test_json_round_trip_keeps_fit_record_and_settings(method, tmp_path):
    vectors, random_pairs = candidate_world(n_residents=100)
    model = FellegiSunter(levels=LEVELS, method=method, settings=SETTINGS, ordered=["age"])
    model.fit(vectors, random_pairs, n_residents=100, n_reports=1_000)
    loaded = FellegiSunter.from_json(model.to_json(tmp_path / "model.json"))
    for attribute in ("n_iter_", "converged_", "fit_method_", "share_with_report_", "n_pairs_", "u_source_",
                      "lambda_"):
        assert getattr(loaded, attribute) == getattr(model, attribute), attribute
    assert loaded.n_iter_ > 0 and loaded.fit_method_ == method
    assert loaded.converged_ is (method == "assignment")  # EM on selected candidates: slow, stops at max_iter
    assert loaded.settings == SETTINGS and loaded.method == method and loaded.ordered == ["age"]
    np.testing.assert_array_equal(loaded.match_weight(vectors), model.match_weight(vectors))
    assert loaded.to_json() == model.to_json()
    assert "同音" in (tmp_path / "model.json").read_text(encoding="utf-8")


def test_settings_that_are_not_plain_data_cannot_be_saved():
    model = FellegiSunter.from_parameters({"sex": [0.1, 0.9]}, {"sex": [0.5, 0.5]}, 0.1, settings={"when": object()})
    with pytest.raises(InputError, match="settings must be plain data"):
        model.to_json()
    numbers = FellegiSunter.from_parameters({"sex": [0.1, 0.9]}, {"sex": [0.5, 0.5]}, 0.1,
                                            settings={"cap": np.int64(200), "share": np.float64(0.5)})
    assert json.loads(numbers.to_json())["settings"] == {"cap": 200, "share": 0.5}


def test_an_older_file_without_settings_or_fit_method_still_reads():
    model = FellegiSunter(levels=LEVELS, u_fixed=False).fit(simulate(3_000, TRUE_LAMBDA, seed=21)[0])
    data = json.loads(model.to_json())
    for key in ("settings",):
        del data[key]
    for key in ("method", "share_with_report"):
        del data["fitted_on"][key]
    for key in ("method", "u_source", "ordered"):
        del data["params"][key]
    old = FellegiSunter.from_json(json.dumps(data))
    assert old.settings is None and old.fit_method_ is None and old.n_iter_ == model.n_iter_
    np.testing.assert_array_equal(old.weights_["name"], model.weights_["name"])


SEX_LABELS = {-1: "性别不详", 0: "性别不符", 1: "性别相符"}
AGE_LABELS = {0: "年龄不符", 1: "年龄相近", 2: "年龄相符"}


def labelled_model(settings):
    m = {"sex": [0.05, 0.95], "age": [0.1, 0.2, 0.7]}
    u = {"sex": [0.5, 0.5], "age": [0.6, 0.3, 0.1]}
    return FellegiSunter.from_parameters(m, u, 0.01, level_labels={"sex": SEX_LABELS, "age": AGE_LABELS},
                                         settings=settings)


@pytest.mark.parametrize("data, messages", [
    ({"sex": SEX_LABELS}, ["the model has a comparison 'age' that these data lack"]),
    ({"sex": SEX_LABELS, "age": AGE_LABELS, "marks": {0: "无共同记号", 1: "记号相同"}},
     ["these data have a comparison 'marks' that the model lacks"]),
    ({"sex": SEX_LABELS, "age": {**AGE_LABELS, 3: "年龄完全相同"}},
     ["the model was fitted with 3 levels of 'age' (0 年龄不符, 1 年龄相近, 2 年龄相符), these data have 4 "
      "(0 年龄不符, 1 年龄相近, 2 年龄相符, 3 年龄完全相同)"]),
    ({"sex": {**SEX_LABELS, 1: "性别一致"}, "age": AGE_LABELS},
     ["level 1 of 'sex' is '性别相符' in the model but '性别一致' in these data"]),
    ({"sex": {**SEX_LABELS, -1: "未填性别"}, "age": {**AGE_LABELS, 0: "年龄差距大"}},
     ["level -1 of 'sex' is '性别不详' in the model but '未填性别' in these data",
      "level 0 of 'age' is '年龄不符' in the model but '年龄差距大' in these data"]),
    ({"age": {0: "a", 1: "b"}, "height": {0: "x", 1: "y"}},
     ["the model has a comparison 'sex' that these data lack",
      "these data have a comparison 'height' that the model lacks",
      "the model was fitted with 3 levels of 'age'"]),
])
def test_check_compatible_names_every_difference(data, messages):
    model = labelled_model(SETTINGS)
    with pytest.raises(ModelMismatchError) as caught:
        model.check_compatible(data)
    text = str(caught.value)
    for message in messages:
        assert message in text
    assert text.endswith("refit the model (kinmatch link without --model) or use a model saved by this kinmatch "
                         "version")
    assert isinstance(caught.value, KinmatchError) and isinstance(caught.value, ValueError)


def test_check_compatible_accepts_the_data_a_model_was_fitted_on():
    model = labelled_model(SETTINGS)
    model.check_compatible({"sex": SEX_LABELS, "age": AGE_LABELS})
    model.check_compatible({"sex": {0: "性别不符", 1: "性别相符"}, "age": AGE_LABELS})  # no missing label given
    loaded = FellegiSunter.from_json(model.to_json())
    loaded.check_compatible({"age": AGE_LABELS, "sex": SEX_LABELS})  # order does not matter


def test_a_model_without_settings_checks_names_and_level_counts_only():
    old = labelled_model(None)
    old.check_compatible({"sex": {0: "性别一致", 1: "性别相符"}, "age": {0: "x", 1: "y", 2: "z"}})  # labels unchecked
    with pytest.raises(ModelMismatchError, match="fitted with 2 levels of 'sex'"):
        old.check_compatible({"sex": {0: "a", 1: "b", 2: "c"}, "age": AGE_LABELS})
    with pytest.raises(ModelMismatchError, match="'age' that these data lack"):
        old.check_compatible({"sex": SEX_LABELS})
    with pytest.raises(ModelNotFittedError):
        FellegiSunter().check_compatible({"sex": SEX_LABELS})


def test_the_supervised_model_checks_names_and_level_counts():
    vectors, labels = labelled(600, seed=23)
    linker = SupervisedLinker(calibration="sigmoid", random_state=0).fit(vectors, labels)
    linker.check_compatible({name: {k: f"level {k}" for k in range(n)} for name, n in LEVELS.items()})
    with pytest.raises(ModelMismatchError, match="'place' that these data lack.*fitted with 2 levels of 'sex'"):
        linker.check_compatible({"name": {k: "" for k in range(4)}, "sex": {0: "", 1: "", 2: ""}, "age": AGE_LABELS})


# ---------------------------------------------------------------------------------------------
# Supervised linker
# ---------------------------------------------------------------------------------------------


def labelled(n, seed):
    vectors, is_match = simulate(n, 0.3, seed=seed)
    return vectors, is_match.astype(int)


def brier(proba, labels):
    return float(np.mean((np.asarray(proba) - labels) ** 2))


def test_calibration_lowers_brier_of_a_miscalibrated_classifier():
    from sklearn.linear_model import LogisticRegression

    train, y_train = labelled(4_000, seed=11)
    test, y_test = labelled(4_000, seed=12)
    # Heavy regularisation squeezes the probabilities towards the base rate: miscalibrated.
    squeezed = LogisticRegression(C=0.002, max_iter=1000)
    raw = SupervisedLinker(estimator=squeezed, calibration=None).fit(train, y_train)
    for method in ("isotonic", "sigmoid"):
        calibrated = SupervisedLinker(estimator=squeezed, calibration=method,
                                      random_state=0).fit(train, y_train)
        proba = calibrated.predict_proba(test)
        assert proba.between(0, 1).all()
        assert brier(proba, y_test) < brier(raw.predict_proba(test), y_test) - 0.005, method


def test_supervised_probability_rises_with_the_true_signal():
    train, y_train = labelled(4_000, seed=13)
    linker = SupervisedLinker(calibration="sigmoid", random_state=0).fit(train, y_train)
    # Walk "name" from different (0) to same characters (3), everything else fixed.
    ladder = pd.DataFrame({"name": [0, 1, 2, 3], "sex": 1, "age": 1, "place": 2})
    proba = linker.predict_proba(ladder).to_numpy()
    assert np.all(np.diff(proba) > 0)
    assert linker.weight_method_ == "linear"
    # Linear + sigmoid: partial weights and prior add up exactly to the match weight.
    np.testing.assert_allclose(linker.weight_table(train).sum(axis=1) + linker.prior_weight_,
                               linker.match_weight(train), atol=1e-9)
    np.testing.assert_allclose(linker.predict_proba(train),
                               linker.calibrated_.predict_proba(linker._encode(train))[:, 1],
                               atol=1e-9)
    # Missing adds zero weight here too.
    blank = pd.DataFrame({name: [-1] for name in LEVELS})
    assert linker.weight_table(blank).to_numpy().tolist() == [[0.0] * len(LEVELS)]


def test_supervised_isotonic_keeps_linear_weights_in_the_same_order():
    train, y_train = labelled(3_000, seed=17)
    linker = SupervisedLinker(calibration="isotonic", random_state=0).fit(train, y_train)
    assert linker.weight_method_ == "linear_uncalibrated"
    uncalibrated = linker.weight_table(train).sum(axis=1) + linker.prior_weight_
    calibrated = linker.match_weight(train)
    # Isotonic calibration is monotone: a higher uncalibrated score never gets a lower
    # calibrated one.
    order = np.argsort(uncalibrated.to_numpy(), kind="stable")
    assert np.all(np.diff(calibrated.to_numpy()[order]) >= -1e-9)


def test_supervised_with_a_non_linear_estimator_explains_by_dropping_one():
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, y_train = labelled(1_000, seed=14)
    linker = SupervisedLinker(estimator=HistGradientBoostingClassifier(max_iter=20),
                              calibration="isotonic", cv=3, random_state=0).fit(train, y_train)
    assert linker.weight_method_ == "drop_one"
    table = linker.weight_table(train.head(20))
    assert list(table.columns) == list(LEVELS)
    assert np.isfinite(table.to_numpy()).all()
    strong = pd.DataFrame({"name": [3], "sex": [1], "age": [2], "place": [4]})
    assert linker.weight_table(strong)["name"].iloc[0] > 0


@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid", None])
def test_cross_validate_reports_the_metrics(calibration):
    vectors, labels = labelled(3_000, seed=15)
    result = SupervisedLinker(calibration=calibration, cv=3,
                              random_state=0).cross_validate(vectors, labels)
    for key in ("precision", "recall", "f1", "roc_auc", "brier", "log_loss"):
        assert 0 <= result[key] <= (1 if key != "log_loss" else 10), key
    assert result["roc_auc"] > 0.95
    assert result["brier"] < 0.06
    assert result["folds"] == 3 and result["n_pairs"] == 3_000


@pytest.mark.parametrize("labels, message", [
    ([1] * 10, "labelled 0"),
    ([0, 1] * 4 + [np.nan, 1], "blank"),
    ([0, 1, 2, 1, 0, 1, 0, 1, 0, 1], "1 \\(same person\\) or 0"),
    ([0, 1], "2 labels for 10 pairs"),
])
def test_supervised_rejects_unusable_labels(labels, message):
    vectors = pd.DataFrame({"name": [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]})
    with pytest.raises(InputError, match=message):
        SupervisedLinker(cv=2).fit(vectors, labels)


# ---------------------------------------------------------------------------------------------
# Docs and the FEBRL4 benchmark
# ---------------------------------------------------------------------------------------------


def test_module_docstring_examples_run():
    import kinmatch.match.model as package

    attempted = 0
    for name in ("base", "fellegi_sunter", "assignment", "fitting", "supervised", "io", "metrics"):
        result = doctest.testmod(importlib.import_module(f"kinmatch.match.model.{name}"), verbose=False)
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted >= 12
    assert doctest.testmod(package, verbose=False).failed == 0


def test_febrl4_unsupervised_f1_at_least_0_99():
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_febrl.py"
    spec = importlib.util.spec_from_file_location("bench_febrl", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(n_random_pairs=30_000, verbose=False)
    assert result["blocking_recall"] > 0.99
    assert result["f1"] >= 0.99  # at the principled threshold 0.5, no labels used to fit
    assert result["best_f1"] >= result["f1"]
