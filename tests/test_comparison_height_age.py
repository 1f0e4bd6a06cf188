"""Height and age levels equal the plain band-by-band selection (np.select over the conditions in
order of strength) on random values with blanks, children and odd ages."""

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.age import AgeComparison, interval_gap
from kinmatch.match.comparisons.base import MISSING
from kinmatch.match.comparisons.height import GROWTH_CM_PER_YEAR, HEIGHT_CLOSE_CM, HeightComparison


def _blanked(rng, values, share=0.15):
    values = np.asarray(values, dtype=float)
    values[rng.random(len(values)) < share] = np.nan
    return values


def test_height_levels_equal_the_band_selection():
    rng = np.random.default_rng(5)
    n, m = 300, 400
    dates = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, n + m), "D")
    dates = pd.Series(dates).mask(rng.random(n + m) < 0.1)
    residents = pd.DataFrame({"height_cm": _blanked(rng, rng.normal(160, 20, n).round()),
                              "height_tol_cm": _blanked(rng, rng.choice([1.0, 2.0, 5.0], n), 0.5),
                              "event_date": dates[:n].to_numpy()})
    missing = pd.DataFrame({"height_cm": _blanked(rng, rng.normal(155, 25, m).round()),
                            "height_tol_cm": _blanked(rng, rng.choice([3.0, 5.0, 10.0], m), 0.5),
                            "age_high": _blanked(rng, rng.integers(2, 80, m)),
                            "event_date": dates[n:].to_numpy()})
    comparison = HeightComparison()
    encoded = comparison.encode(residents, missing)
    lp, rp = rng.integers(0, n, 20_000), rng.integers(0, m, 20_000)
    got = comparison.levels(encoded, lp, rp)

    a, b = encoded[0][:, lp], encoded[1][:, rp]  # the plain way
    diff = a[0] - b[0]
    years = (a[2] - b[3]) / 365.25
    growth = GROWTH_CM_PER_YEAR * np.clip(np.minimum(np.nan_to_num(years, nan=0.0),
                                                     18.0 - np.nan_to_num(b[2], nan=18.0)), 0, None)
    excess = np.maximum(0.0, np.where(diff > 0, np.maximum(0.0, diff - growth), -diff) - a[1] - b[1])
    levels = np.select([np.abs(diff) <= HEIGHT_CLOSE_CM, excess <= 0, excess <= 5, excess <= 12], [4, 3, 2, 1], 0)
    expected = np.where(np.isnan(diff), MISSING, levels)
    assert got.dtype == np.int8
    assert got.tolist() == expected.tolist()
    assert set(got.tolist()) == {MISSING, 0, 1, 2, 3, 4}


def test_age_levels_equal_the_band_selection():
    rng = np.random.default_rng(6)
    n = 500
    low = rng.integers(1930, 2020, n).astype(float)
    frame = pd.DataFrame({"birth_year_low": _blanked(rng, low),
                          "birth_year_high": _blanked(rng, low + rng.integers(0, 15, n)),
                          "age_high": _blanked(rng, rng.integers(-40, 100, n))})  # odd ages make a negative tolerance
    comparison = AgeComparison()
    encoded = comparison.encode(frame, frame.sample(frac=1, random_state=1))
    lp, rp = rng.integers(0, n, 30_000), rng.integers(0, n, 30_000)
    got = comparison.levels(encoded, lp, rp)

    a, b = encoded[0][:, lp], encoded[1][:, rp]
    gap = interval_gap(a[0], a[1], b[0], b[1])
    age = np.fmax(a[2], b[2])
    tolerance = 2.0 + 0.1 * np.where(np.isnan(age), 40.0, age)
    levels = np.select([gap <= 0, gap <= tolerance, gap <= 3 * tolerance], [3, 2, 1], 0)
    expected = np.where(np.isnan(gap), MISSING, levels)
    assert got.dtype == np.int8
    assert got.tolist() == expected.tolist()
    assert set(got.tolist()) == {MISSING, 0, 1, 2, 3} and (tolerance < 0).any()
