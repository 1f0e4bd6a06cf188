"""The sigmoid map from decisions is fitted where reviewers read probabilities: the decided pairs the
model itself gives 1 %-99.9 %; the one-class tails do not set its slope."""

from __future__ import annotations

import numpy as np
import pytest

from kinmatch.match.model import FellegiSunter
from kinmatch.match.model.calibration import MIN_PER_CLASS, SIGMOID_FIT_PROBABILITIES, WeightCalibration


def decisions_with_tail_exceptions(n: int = 6000, seed: int = 0):
    """Inside the window a pair of weight w is the person with probability 1 / (1 + 2**-(w/2 - 1));
    below it, at -12 to -25 bits, nearly all are strangers but 4 % are true reports ranked low
    (a person's report written badly): in a fit by likelihood on every pair those few flatten the
    slope."""
    rng = np.random.default_rng(seed)
    inside = rng.uniform(-6, 9.5, n)
    same_inside = rng.random(n) < 1 / (1 + 2.0 ** -(inside / 2 - 1))
    tail = rng.uniform(-25, -12, 4 * n)
    same_tail = rng.random(4 * n) < 0.04
    return np.r_[inside, tail], np.r_[same_inside, same_tail]


def test_the_tails_do_not_bend_the_map_where_reviewers_read_it():
    weight, same = decisions_with_tail_exceptions()
    calibration = WeightCalibration.fit(weight, same)
    assert calibration.n_pairs == len(weight) and calibration.n_fitted == 6000
    assert calibration.slope == pytest.approx(0.5, abs=0.08) and calibration.intercept == pytest.approx(-1, abs=0.3)
    grid = np.linspace(-4, 8, 7)
    assert np.abs(calibration.probability(grid) - 1 / (1 + 2.0 ** -(grid / 2 - 1))).max() < 0.06
    # the same regression on every pair (what the window avoids) is far off in the middle
    from sklearn.linear_model import LogisticRegression

    everything = LogisticRegression(C=1e6, max_iter=1000).fit(weight[:, None] * np.log(2), same)
    assert everything.coef_[0, 0] < 0.4


def test_with_too_few_decisions_inside_the_window_every_pair_is_used():
    rng = np.random.default_rng(1)
    low, high = SIGMOID_FIT_PROBABILITIES
    inside_weight = np.log2(low / (1 - low)) + 1  # just inside the window: 15 pairs, too few of each decision
    weight = np.r_[np.full(15, inside_weight), rng.uniform(-20, -8, 300), rng.uniform(11, 20, 300)]
    same = np.r_[np.arange(15) % 2 == 0, rng.random(300) < 0.05, rng.random(300) < 0.95]
    assert MIN_PER_CLASS > 8
    calibration = WeightCalibration.fit(weight, same)
    assert calibration.n_fitted == calibration.n_pairs == 615


def test_the_fitted_count_travels_with_the_model():
    model = FellegiSunter.from_parameters({"sex": [0.05, 0.95]}, {"sex": [0.5, 0.5]}, 0.01)
    weight, same = decisions_with_tail_exceptions(1000)
    model.calibrate(weight, same)
    again = FellegiSunter.from_json(model.to_json())
    assert again.calibration_ == model.calibration_ and again.calibration_.n_fitted == 1000
    # a map written before the count existed reads as fitted on every pair
    data = model.calibration_.to_dict()
    del data["n_fitted"]
    assert WeightCalibration.from_dict(data).n_fitted == data["n_pairs"]
