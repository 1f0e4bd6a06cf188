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

from kinmatch.errors import InputError
from kinmatch.match import model as model_module
from kinmatch.match.model import (
    FellegiSunter,
    ModelNotFittedError,
    SupervisedLinker,
    _group_patterns,
    evaluate_scores,
)

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
            for name, level in zip(names, row):
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
            for row, post in zip(rows, posts):
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
    patterns, counts, inverse = _group_patterns(matrix)
    np.testing.assert_array_equal(patterns[inverse], matrix)
    assert counts.sum() == len(rows)
    assert len({tuple(p) for p in patterns}) == len(patterns)


def test_pattern_grouping_handles_too_many_levels_to_pack():
    # 20 comparisons of 30 levels do not fit in one int64 code: the row-wise path is used.
    rng = np.random.default_rng(0)
    matrix = rng.integers(-1, 30, size=(200, 20))
    matrix[100:] = matrix[:100]
    patterns, counts, inverse = _group_patterns(matrix)
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
    result = doctest.testmod(model_module, verbose=False)
    assert result.attempted >= 8
    assert result.failed == 0


def test_febrl4_unsupervised_f1_at_least_0_99():
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_febrl.py"
    spec = importlib.util.spec_from_file_location("bench_febrl", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(n_random_pairs=30_000, verbose=False)
    assert result["blocking_recall"] > 0.99
    assert result["f1"] >= 0.99  # at the principled threshold 0.5, no labels used to fit
    assert result["best_f1"] >= result["f1"]
