"""Probabilities that mean what they say: the calibration table, recalibration from decided pairs,
the correction for dependent comparisons and the every-pair prior, and the held-out simulator
configuration they are checked on (bench/bench_calibration.py measures them at scale)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from kinmatch.datasets import simulate
from kinmatch.datasets.config import CONFIGURATIONS
from kinmatch.errors import InputError
from kinmatch.match.model import FellegiSunter
from kinmatch.match.model.calibration import MIN_CALIBRATION_PAIRS, WeightCalibration, enough_decisions
from kinmatch.match.model.dependence import candidate_match_share, interaction_weight, pairwise_lifts
from kinmatch.match.model.metrics import calibration_table

# --------------------------------------------------------------------------------------------
# the calibration table


def test_calibration_table_counts_each_band_and_the_sign_of_the_difference():
    proba = [0.1, 0.3, 0.6, 0.7, 0.9, 0.97, 0.995, 1.0]
    labels = [0, 1, 0, 0, 1, 1, 1, 1]
    table = calibration_table(proba, labels).set_index("band")
    assert table["pairs"].tolist() == [1, 1, 2, 1, 1, 2]  # 1.0 counts in the top band
    assert table.loc["0.5–0.8", "mean_predicted"] == pytest.approx(0.65)
    assert table.loc["0.5–0.8", "observed"] == 0.0
    assert table.loc["0.5–0.8", "difference"] == pytest.approx(-0.65)  # overconfident: negative
    assert table.loc["0.2–0.5", "difference"] == pytest.approx(0.7)


def test_calibration_table_of_calibrated_probabilities_is_within_noise():
    rng = np.random.default_rng(3)
    proba = rng.uniform(0, 1, 40_000)
    table = calibration_table(proba, rng.random(40_000) < proba)
    assert table["difference"].abs().max() < 0.03


# --------------------------------------------------------------------------------------------
# recalibration from decided pairs


def overconfident_decisions(n: int, seed: int = 0):
    """Weights of a model whose log2 odds are twice what they should be, and decisions drawn from
    the true probability."""
    rng = np.random.default_rng(seed)
    weight = rng.uniform(-8, 12, n)
    truth = 1 / (1 + 2.0 ** -(weight / 2 - 1))
    return weight, rng.random(n) < truth, truth


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_recovers_the_true_probability(method):
    weight, labels, _ = overconfident_decisions(4000)
    calibration = WeightCalibration.fit(weight, labels, method)
    grid = np.linspace(-6, 10, 9)
    true = 1 / (1 + 2.0 ** -(grid / 2 - 1))
    assert np.abs(calibration.probability(grid) - true).max() < 0.12
    assert np.all(np.diff(calibration.probability(np.linspace(-30, 30, 400))) >= 0)  # monotone everywhere


def test_outside_the_decided_weights_the_models_probability_is_kept_within_the_maps_ends():
    calibration = WeightCalibration("isotonic", math.nan, math.nan, (0.0, 5.0), (0.2, 0.9), 300, 100)
    far_low, far_high = calibration.probability(np.array([-40.0, 40.0]))
    assert far_low == pytest.approx(2.0 ** -40, rel=1e-6)  # the model's own, below the map's 0.2
    assert far_high == pytest.approx(1.0)
    # just below the decided weights the model says 0.41, but the map's lowest value is 0.2
    assert calibration.probability(np.array([-0.5]))[0] == pytest.approx(0.2)


@pytest.mark.parametrize("n_same, n_other, enough", [(20, 180, True), (19, 300, False), (150, 49, False),
                                                     (100, 100, True)])
def test_enough_decisions(n_same, n_other, enough):
    assert enough_decisions([1] * n_same + [0] * n_other) is enough
    assert (n_same + n_other >= MIN_CALIBRATION_PAIRS) or not enough


def model_for_calibration() -> FellegiSunter:
    return FellegiSunter.from_parameters({"name": [0.1, 0.2, 0.7], "age": [0.2, 0.8]},
                                         {"name": [0.9, 0.09, 0.01], "age": [0.7, 0.3]}, 0.01)


def test_too_few_decisions_leave_the_model_as_it_is_with_a_warning():
    model = model_for_calibration()
    vectors = pd.DataFrame({"name": [2, 1, 0], "age": [1, 1, 0]})
    before = model.predict_proba(vectors)
    with pytest.warns(UserWarning, match="too few"):
        model.calibrate([1.0, 2.0, 3.0] * 20, [1, 0, 1] * 20)
    assert model.calibration_ is None
    pd.testing.assert_series_equal(model.predict_proba(vectors), before)
    with pytest.raises(ValueError, match="too few"):
        WeightCalibration.fit([1.0] * 30, [1] * 30)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrated_model_changes_probabilities_not_weights_and_survives_json(method):
    model = model_for_calibration()
    vectors = pd.DataFrame({"name": [2, 2, 1, 1, 0, 0], "age": [1, 0, 1, 0, 1, 0]})
    weights_before = model.match_weight(vectors)
    weight, labels, _ = overconfident_decisions(2000, seed=1)
    model.calibrate(weight, labels, method)
    assert model.calibration_ is not None and model.calibration_.n_pairs == 2000
    pd.testing.assert_series_equal(model.match_weight(vectors), weights_before)
    calibrated = model.predict_proba(vectors)
    assert not np.allclose(calibrated, 1 / (1 + 2.0 ** -weights_before))
    order = np.argsort(-weights_before.to_numpy(), kind="stable")
    assert np.all(np.diff(calibrated.to_numpy()[order]) <= 1e-12)  # same order as the weights
    again = FellegiSunter.from_json(model.to_json())
    pd.testing.assert_series_equal(again.predict_proba(vectors), calibrated)
    assert '"calibration"' in model.to_json()


def test_a_refit_drops_the_calibration():
    rng = np.random.default_rng(0)
    vectors = pd.DataFrame({"sex": rng.integers(0, 2, 200), "age": rng.integers(0, 3, 200)})
    model = FellegiSunter(u_fixed=False, max_iter=20).fit(vectors)
    weight, labels, _ = overconfident_decisions(400)
    model.calibrate(weight, labels)
    assert model.calibration_ is not None
    assert model.fit(vectors).calibration_ is None


def test_link_with_a_calibrated_model_shows_the_calibrated_probabilities(tmp_path):
    import kinmatch
    from kinmatch.match.pipeline import run_link

    sim = simulate(n_missing=1_500, n_residents=150, seed=3)
    run = run_link(sim.residents, sim.missing, top_k=5, progress=False)
    keys = set(zip(sim.truth["resident_id"], sim.truth["missing_id"]))
    labels = np.array([(r, m) in keys for r, m in zip(run.table["resident_id"], run.table["missing_id"])])
    model = run.model.calibrate(run.table["match_weight"].to_numpy(), labels)
    assert model.calibration_ is not None
    path = tmp_path / "calibrated.json"
    model.to_json(path)
    table = kinmatch.link(sim.residents, sim.missing, top_k=5, model=str(path), progress=False)
    expected = model.calibration_.probability(table["match_weight"].to_numpy())
    np.testing.assert_allclose(table["match_probability"].to_numpy(), expected)
    pd.testing.assert_series_equal(table["missing_id"], run.table["missing_id"])  # ranking unchanged


# --------------------------------------------------------------------------------------------
# dependent comparisons


def test_pairwise_lifts_find_dependence_and_leave_independent_comparisons_alone():
    rng = np.random.default_rng(5)
    region = rng.integers(0, 2, 50_000)
    place = np.where(rng.random(50_000) < 0.8, region, 1 - region)  # both follow the region
    accent = np.where(rng.random(50_000) < 0.8, region, 1 - region)
    age = rng.integers(0, 3, 50_000)
    matrix = np.column_stack([place, accent, age])
    lifts = pairwise_lifts(matrix, ["place", "accent", "age"], {"place": 2, "accent": 2, "age": 3})
    both = (0.8 * 0.8 + 0.2 * 0.2) / 2  # P(place=1, accent=1) = 0.34 against 0.25 independent
    assert lifts[("place", "accent")][1, 1] == pytest.approx(math.log2(both / 0.25), abs=0.05)
    assert np.abs(lifts.get(("place", "age"), np.zeros((2, 3)))).max() < 0.05


def test_a_comparison_counted_twice_weighs_once_after_the_correction():
    # two copies of one comparison: independence counts the coincidence twice among non-matches;
    # the two-way term takes the second count back out
    rng = np.random.default_rng(2)
    level = rng.choice(3, 30_000, p=[0.8, 0.15, 0.05])
    matrix = np.column_stack([level, level])
    u = np.bincount(level, minlength=3) / len(level)
    lifts = pairwise_lifts(matrix, ["a", "b"], {"a": 3, "b": 3}, shrink=0)
    correction = interaction_weight(np.array([[2, 2], [1, 1], [-1, 2]]), ["a", "b"], lifts)
    assert correction[0] == pytest.approx(math.log2(u[2]), abs=1e-9)  # -log2(1/u) back
    assert correction[1] == pytest.approx(math.log2(u[1]), abs=1e-9)
    assert correction[2] == 0.0  # a missing level: no correction


def duplicated_evidence(n_residents: int = 400, n_candidates: int = 60, seed: int = 0):
    """Candidates of residents, each resident's report among them with probability 0.7 and
    sometimes twice (a person reported twice); ``place`` and ``accent`` both follow the region, so
    among non-matches they agree together more often than independence says."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_residents):
        n_true = rng.choice([0, 1, 2], p=[0.3, 0.5, 0.2])
        for c in range(n_candidates):
            true = c < n_true
            same_region = true or rng.random() < 0.2
            place = int(same_region and rng.random() < (0.85 if true else 0.7))
            accent = int(same_region and rng.random() < (0.85 if true else 0.7))
            age = int(rng.random() < (0.9 if true else 0.3))
            name = int(rng.random() < (0.9 if true else 0.02))
            rows.append((f"R{r}", f"M{r}_{c}", place, accent, age, name, true))
    frame = pd.DataFrame(rows, columns=["resident_id", "missing_id", "place", "accent", "age", "name", "true"])
    vectors = frame.set_index(["resident_id", "missing_id"])[["place", "accent", "age", "name"]]
    random_rows = []
    for _ in range(20_000):
        same_region = rng.random() < 0.2
        random_rows.append((int(same_region and rng.random() < 0.7), int(same_region and rng.random() < 0.7),
                            int(rng.random() < 0.3), int(rng.random() < 0.02)))
    random_vectors = pd.DataFrame(random_rows, columns=["place", "accent", "age", "name"])
    return vectors, random_vectors, frame["true"].to_numpy()


def test_the_dependence_option_and_the_every_pair_prior_fit_and_round_trip():
    vectors, random_vectors, _ = duplicated_evidence()
    levels = {"place": 2, "accent": 2, "age": 2, "name": 2}
    plain = FellegiSunter(levels=levels, method="assignment", u_source="candidates").fit(
        vectors, random_vectors, n_residents=400)
    model = FellegiSunter(levels=levels, method="assignment", u_source="candidates", dependence="pairwise",
                          prior="every_pair").fit(vectors, random_vectors, n_residents=400)
    one_each = FellegiSunter(levels=levels, method="assignment", u_source="candidates", dependence="pairwise").fit(
        vectors, random_vectors, n_residents=400)
    assert ("place", "accent") in model.dependence_ and model.dependence_[("place", "accent")][1, 1] > 1
    assert plain.dependence_ == {} and plain.expected_true_pairs_ is None
    # the every-pair prior counts the second report of a person: more true pairs than residents matched
    assert model.expected_true_pairs_ > 1.1 * one_each.share_with_report_ * 400
    assert model.lambda_ > one_each.lambda_
    # the partial weights still add up to the match weight
    table = model.weight_table(vectors)
    np.testing.assert_allclose(table.sum(axis=1) + model.prior_weight_, model.match_weight(vectors))
    both = pd.DataFrame({"place": [1], "accent": [1], "age": [-1], "name": [-1]})
    assert model.weight_table(both).sum(axis=1).iloc[0] < plain.weight_table(both).sum(axis=1).iloc[0]
    again = FellegiSunter.from_json(model.to_json())
    pd.testing.assert_series_equal(again.predict_proba(vectors), model.predict_proba(vectors))
    assert again.dependence == "pairwise" and again.prior == "every_pair"


def test_unknown_dependence_or_prior_is_refused():
    vectors, random_vectors, _ = duplicated_evidence(n_residents=20, n_candidates=5)
    with pytest.raises(InputError, match="dependence"):
        FellegiSunter(method="assignment", dependence="joint").fit(vectors, random_vectors, n_residents=20)
    with pytest.raises(InputError, match="prior"):
        FellegiSunter(method="assignment", prior="some").fit(vectors, random_vectors, n_residents=20)


def test_candidate_match_share_counts_every_true_pair():
    rng = np.random.default_rng(1)
    truth = rng.random(50_000) < 0.02
    score = np.where(truth, rng.normal(3, 1.5, 50_000), rng.normal(-3, 1.5, 50_000))
    # N(3, 1.5) against N(-3, 1.5): ln ratio = 6x / 2.25
    assert candidate_match_share(score * 6 / 2.25) == pytest.approx(0.02, abs=0.003)


# --------------------------------------------------------------------------------------------
# the held-out simulator configuration


def fingerprint(sim) -> str:
    digest = hashlib.sha256()
    for frame in (sim.residents, sim.missing, sim.truth, sim.distortions):
        digest.update(pd.util.hash_pandas_object(frame.astype(str), index=True).values.tobytes())
    return digest.hexdigest()


def test_the_default_configuration_is_the_default_simulation():
    assert fingerprint(simulate(n_missing=800, n_residents=80, seed=4)) == fingerprint(
        simulate(n_missing=800, n_residents=80, seed=4, configuration="default"))
    assert CONFIGURATIONS["default"] == {}


def test_the_southwest_configuration_is_another_world():
    base = simulate(n_missing=6_000, n_residents=600, seed=4)
    other = simulate(n_missing=6_000, n_residents=600, seed=4, configuration="southwest_silent")
    assert fingerprint(base) != fingerprint(other)
    share = {name: sim.missing["hometown"].fillna("").str.contains("四川|重庆|贵州|云南").mean()
             for name, sim in (("base", base), ("other", other))}
    assert share["other"] > 1.5 * share["base"]
    silent = {name: sim.distortions["family"].isin(["assigned_name", "blank_name"]).groupby(
        sim.distortions["resident_id"]).any().sum() / len(sim.residents) for name, sim in (("base", base),
                                                                                           ("other", other))}
    assert silent["other"] > silent["base"]
    no_report = {name: 1 - sim.truth["resident_id"].nunique() / len(sim.residents)
                 for name, sim in (("base", base), ("other", other))}
    assert no_report["other"] > no_report["base"] + 0.05


def test_an_unknown_configuration_is_refused():
    with pytest.raises(InputError, match="southwest_silent"):
        simulate(n_missing=100, n_residents=10, configuration="nowhere")
