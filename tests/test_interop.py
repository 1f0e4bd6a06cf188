"""recordlinkage interop: the comparisons as features of a recordlinkage.Compare give the levels
the engine gives, on kinmatch's own normalized frames (residents have no hometown columns)."""

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def normalized():
    from kinmatch.datasets.simulate import simulate
    from kinmatch.match.pipeline import prepare_records

    sim = simulate(n_missing=400, n_residents=40, seed=9)
    residents = prepare_records(sim.residents, "resident").set_index("resident_id", drop=False)
    missing = prepare_records(sim.missing, "missing").set_index("missing_id", drop=False)
    return residents, missing, sim.truth


def test_build_compare_equals_the_engine_on_normalized_frames(normalized):
    import recordlinkage

    from kinmatch.match import engine
    from kinmatch.match.comparisons.interop import build_compare

    residents, missing, truth = normalized
    indexer = recordlinkage.Index()
    indexer.sortedneighbourhood("sex_code", window=3)
    pairs = indexer.index(residents, missing)[:3000]
    pairs = pairs.union(pd.MultiIndex.from_frame(truth[["resident_id", "missing_id"]]))
    levels = build_compare().compute(pairs, residents, missing)
    # marks and build levels read rarity tables computed from the reports each side is given (the
    # adapter sees the pairs' reports, repeated): those two are compared in shape only
    frame = pairs.to_frame(index=False, name=["resident_id", "missing_id"])
    expected = engine.compare_pairs(frame, residents.reset_index(drop=True),
                                    missing.loc[frame["missing_id"]].reset_index(drop=True).drop_duplicates("missing_id"))
    names = [c for c in levels.columns if c not in ("marks", "build")]  # their rarity tables differ
    got = levels[names].reset_index(drop=True)
    want = expected.reset_index(drop=True)[names]
    assert (got.to_numpy() == want.to_numpy()).all()
    assert levels.shape[1] == 12 and (levels >= -1).all().all()


def test_a_comparison_is_a_recordlinkage_feature():
    import recordlinkage

    from kinmatch.match.comparisons.interop import to_recordlinkage
    from kinmatch.match.comparisons.sex import SexComparison

    feature = to_recordlinkage(SexComparison())
    assert isinstance(feature, recordlinkage.base.BaseCompareFeature)
    left = pd.DataFrame({"sex_code": ["M", "F", None]}, index=["a", "b", "c"])
    right = pd.DataFrame({"sex_code": ["M", "M"]}, index=["x", "y"])
    pairs = pd.MultiIndex.from_tuples([("a", "x"), ("b", "x"), ("c", "y")])
    compare = recordlinkage.Compare([feature])
    assert compare.compute(pairs, left, right)["sex"].tolist() == [1, 0, -1]
