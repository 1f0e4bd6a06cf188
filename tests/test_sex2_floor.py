"""A floor at ranking time for the pairs of a pass (``CandidatePass.min_weight``): a pair that only
such passes propose is left out of the linking table when the model weighs it below the floor, and
the ranking is otherwise the one without it (``candidates.weight_floors``, ``pipeline._ranked``)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from kinmatch.datasets import simulate
from kinmatch.match import engine, pipeline
from kinmatch.match.candidates import CandidateSettings, weight_floors
from kinmatch.match.passes import OTHER_SEX_PASSES, CandidatePass
from kinmatch.match.pipeline import run_link
from kinmatch.match.settings import LinkSettings


@pytest.fixture(scope="module")
def sim():
    return simulate(n_missing=1500, n_residents=150, seed=5)


def _settings(other_sex: bool, min_weight: float | None = None) -> LinkSettings:
    base = LinkSettings()
    candidates = base.candidate_settings()
    extra = ()
    if other_sex:
        extra = tuple(replace(p, min_weight=min_weight) for p in OTHER_SEX_PASSES)
    *regular, fallback = (p for p in candidates.passes if not p.other_sex)
    assert fallback.fallback
    return replace(base, candidates=replace(candidates, passes=(*regular, *extra, fallback)))


def _keys(table: pd.DataFrame) -> pd.Index:
    return pd.Index(table["resident_id"].astype(str) + "\x1f" + table["missing_id"].astype(str))


def test_a_pair_s_floor_is_the_lowest_of_its_passes_and_none_where_a_pass_has_none():
    passes = [CandidatePass("a", "marks", "marks", cap=5, min_weight=-3.0),
              CandidatePass("b", "marks", "marks", cap=5),
              CandidatePass("c", "marks", "marks", cap=5, min_weight=-1.0)]
    pairs = pd.DataFrame({"resident_id": ["R"] * 5, "missing_id": list("12345"),
                          "passes": ["a", "c", "a+b", "a+c", "b"]})
    floors = weight_floors(pairs, CandidateSettings(passes=passes))
    assert floors.tolist() == [-3.0, -1.0, -np.inf, -3.0, -np.inf]
    assert weight_floors(pairs, CandidateSettings(passes=[replace(p, min_weight=None) for p in passes])) is None


def test_min_weight_is_a_finite_number_and_survives_a_round_trip():
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="min_weight"):
            CandidatePass("a", "marks", "marks", cap=5, min_weight=bad)
    floored = CandidatePass("a", "marks", "marks", cap=5, min_weight=-2.5)
    assert CandidatePass.from_dict(floored.to_dict()) == floored


def test_the_floor_leaves_out_the_weak_pairs_of_its_passes_and_nothing_else(sim):
    every = 100_000  # every candidate in the table: what is left out is then exactly visible
    without = run_link(sim.residents, sim.missing, top_k=every, progress=False, settings=_settings(False), n_jobs=1)
    open_ = run_link(sim.residents, sim.missing, top_k=every, progress=False, settings=_settings(True), n_jobs=1)
    only_other = _keys(open_.table).difference(_keys(without.table))  # proposed by the other-sex passes alone
    assert len(only_other) > 20
    weights = open_.table.set_index(_keys(open_.table))["match_weight"]
    level = float(np.median(weights[only_other]))
    floored = run_link(sim.residents, sim.missing, top_k=every, progress=False, settings=_settings(True, level),
                       n_jobs=1)
    left_out = weights.index[weights.index.isin(only_other) & (weights < level).to_numpy()]
    assert 0 < len(left_out) < len(only_other)  # some weak pairs gone, the strong ones of the passes kept
    assert set(_keys(floored.table)) == set(_keys(open_.table)) - set(left_out)
    kept = open_.table[~_keys(open_.table).isin(left_out)].reset_index(drop=True)
    kept = kept.assign(rank=kept.groupby("resident_id").cumcount() + 1)  # the others move up, in their order
    # (the model's version names the settings, which differ by the floor)
    pd.testing.assert_frame_equal(floored.table.drop(columns="model_version"), kept.drop(columns="model_version"))


def test_a_floor_above_every_pair_gives_the_table_without_the_passes(sim):
    without = run_link(sim.residents, sim.missing, top_k=10, progress=False, settings=_settings(False), n_jobs=1)
    open_ = run_link(sim.residents, sim.missing, top_k=10, progress=False, settings=_settings(True), n_jobs=1)
    shut = run_link(sim.residents, sim.missing, top_k=10, progress=False, settings=_settings(True, 1000.0), n_jobs=1)
    assert not _keys(open_.table).equals(_keys(without.table))  # the passes' pairs reach the top 10 unfloored
    pd.testing.assert_frame_equal(shut.table.drop(columns="model_version"), without.table.drop(columns="model_version"))


def test_two_processes_floor_as_one_does(sim, monkeypatch):
    settings = _settings(True, -3.0)
    alone = run_link(sim.residents, sim.missing, top_k=10, progress=False, settings=settings, n_jobs=1)
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    started = []
    real_start = pipeline._TwoParts.start.__func__
    monkeypatch.setattr(pipeline._TwoParts, "start",
                        classmethod(lambda cls, *a, **k: started.append(real_start(cls, *a, **k)) or started[-1]))
    two = run_link(sim.residents, sim.missing, top_k=10, progress=False, settings=settings, n_jobs=2)
    assert started and started[0] is not None and started[0].floor is not None
    pd.testing.assert_frame_equal(alone.table, two.table)


def test_the_default_passes_ask_the_other_sex_before_the_fallback_with_the_floor():
    from kinmatch.match.passes import DEFAULT_PASSES, OTHER_SEX_MIN_WEIGHT

    names = [p.name for p in DEFAULT_PASSES]
    other = [p for p in DEFAULT_PASSES if p.other_sex]
    assert [p.name for p in other] == [p.name for p in OTHER_SEX_PASSES]
    assert all(p.min_weight == OTHER_SEX_MIN_WEIGHT and not p.fit and p.residents == "nameless" for p in other)
    assert max(names.index(p.name) for p in other) < names.index("last_resort")
