"""The candidate lookup against a standing index (kinmatch/index/side.py ``_candidates``): the pairs
it gives with categorical ids and the report positions it computes from the lookup's own positions
are the pairs of one plain lookup, in one process or in forked ranges, and the lookup's memory
settings do not change them; pair positions of categorical id columns are those of text columns
(kinmatch/match/engine.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kinmatch
from kinmatch import _parallel as parallel
from kinmatch.errors import InputError
from kinmatch.index import Index
from kinmatch.index import side as index_side
from kinmatch.match import engine
from kinmatch.match.candidates import packed_candidate_pairs
from kinmatch.match.pipeline import prepare_records
from kinmatch.match.settings import resolve_settings


@pytest.fixture(scope="module")
def sim():
    return kinmatch.datasets.simulate(n_missing=700, n_residents=60, seed=31)


@pytest.fixture(scope="module")
def indexed(sim, tmp_path_factory):
    """An index of the reports (no model: only the report side is read here) and its report side."""
    root = tmp_path_factory.mktemp("lookup")
    path = root / "missing.csv"
    sim.missing.drop(columns=["source_row"], errors="ignore").to_csv(path, index=False)
    index, _ = Index.build(root / "idx", missing=[Path(path)])
    return index, index.report_side()


@pytest.fixture(scope="module")
def residents(sim):
    return prepare_records(sim.residents, "resident")


def _plain(residents, side, **overrides):
    settings = resolve_settings(None).candidate_settings()
    return packed_candidate_pairs(residents, None, settings=settings, progress=False, reports=side.reports,
                                  **overrides).unpack()


@pytest.mark.parametrize("forked, range_size", [(False, None), (True, None), (True, 7)])
def test_the_lookup_gives_the_pairs_and_met_reports_of_one_plain_lookup(indexed, residents, forked, range_size,
                                                                        monkeypatch):
    _, side = indexed
    if forked:
        monkeypatch.setattr(index_side, "PARALLEL_MIN_RECORDS", 10)
    if range_size is not None:  # many ranges, more than the workers: handed out as they free up
        monkeypatch.setattr(index_side, "LOOKUP_RANGE", range_size)
    ranges = []
    real_fork_map = parallel.fork_map
    monkeypatch.setattr(parallel, "fork_map", lambda func, items, *args, **kwargs: ranges.append(list(items))
                        or real_fork_map(func, ranges[-1], *args, **kwargs))
    candidates, met = index_side._candidates(residents, side, resolve_settings(None).candidate_settings(), False,
                                             2 if forked else 1)
    expected = _plain(residents, side)
    assert len(expected.pairs) > 100
    pairs = candidates.pairs
    assert isinstance(pairs["missing_id"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(pairs.astype({"resident_id": object, "missing_id": object}), expected.pairs)
    pd.testing.assert_frame_equal(candidates.counts, expected.counts)
    # the met reports: ascending positions of exactly the reports the pairs name
    assert np.all(np.diff(met) > 0)
    assert set(side.reports.ids[met].tolist()) == set(expected.pairs["missing_id"])
    np.testing.assert_array_equal(met, side.positions(pd.unique(expected.pairs["missing_id"])))
    if forked:  # contiguous ranges covering every resident once; with small ranges more of them than workers
        bounds = ranges[0]
        assert bounds[0][0] == 0 and bounds[-1][1] == len(residents)
        assert all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:]))
        assert len(bounds) == (4 if range_size is None else -(-len(residents) // range_size))
    else:
        assert ranges == []


def test_the_lookups_memory_settings_do_not_change_its_pairs(indexed, residents):
    _, side = indexed
    small = _plain(residents, side, max_pairs_in_memory=50, chunk_size=7)
    pd.testing.assert_frame_equal(small.pairs, _plain(residents, side).pairs)
    default = resolve_settings(None).candidate_settings().max_pairs_in_memory
    assert index_side.LOOKUP_MEMORY["max_pairs_in_memory"] < default


def test_pair_positions_of_categorical_ids_are_those_of_text_ids():
    residents = pd.DataFrame({"resident_id": ["R1", "R2", "R3"]})
    missing = pd.DataFrame({"missing_id": ["M1", "M2", "M3", "M4"]})
    encoded = engine.encode(residents, missing, [])
    text = pd.DataFrame({"resident_id": ["R3", "R1", "R3"], "missing_id": ["M4", "M2", "M1"]})
    # categories in another order than the frames, and one category no pair uses
    categorical = pd.DataFrame({
        "resident_id": pd.Categorical(text["resident_id"], categories=["R3", "R2", "R1"]),
        "missing_id": pd.Categorical(text["missing_id"], categories=["M4", "M9", "M1", "M2"])})
    lp, rp = encoded.positions(categorical)
    assert (lp.tolist(), rp.tolist()) == ([2, 0, 2], [3, 1, 0])
    assert [a.tolist() for a in encoded.positions(text)] == [[2, 0, 2], [3, 1, 0]]
    absent = categorical.assign(missing_id=pd.Categorical(["M4", "M9", "M1"], categories=["M4", "M9", "M1"]))
    with pytest.raises(InputError, match="not in the resident or missing frame"):
        encoded.positions(absent)


def _resident_kb(mapped) -> int:
    """Resident kB of the mapping ``mapped`` (an mmap.mmap), from /proc/self/smaps."""
    address = np.frombuffer(mapped, dtype=np.uint8).ctypes.data
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            low, high = (int(x, 16) for x in fields[0].split("-"))
            inside = low <= address < high
        elif inside and fields[:1] == ["Rss:"]:
            return int(fields[1])
    raise AssertionError("the mapping is not in /proc/self/smaps")


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads the mapped pages from /proc/self/smaps")
def test_a_large_take_gives_back_the_mapped_rows_pages_and_keeps_them_readable(indexed):
    index, _ = indexed
    opened = Index.open(index.path)
    side = opened.report_side()
    assert side._mapped is not None
    everything = np.arange(side.rows.num_rows)
    first = side.frame(everything)  # reads every row's pages, then gives them back
    assert _resident_kb(side._mapped) == 0
    pd.testing.assert_frame_equal(side.frame(everything), first)  # read again from the file
    assert _resident_kb(side._mapped) == 0
    one = side.frame(everything[:1])  # a small take (one query) keeps what it read
    assert _resident_kb(side._mapped) > 0
    pd.testing.assert_frame_equal(one, first.iloc[:1])
    assert first["missing_id"].tolist() == side.reports.ids.tolist()


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads the mapped pages from /proc/self/smaps")
def test_the_arrays_files_pages_are_given_back_and_stay_readable(indexed, residents):
    index, _ = indexed
    side = Index.open(index.path).report_side()
    assert side._mapped_arrays is not None
    settings = resolve_settings(None).candidate_settings()
    before = _plain(residents, side)
    assert _resident_kb(side._mapped_arrays) > 0  # the lookup read the passes' arrays
    side.release_arrays()
    assert _resident_kb(side._mapped_arrays) == 0
    after = packed_candidate_pairs(residents, None, settings=settings, progress=False, reports=side.reports).unpack()
    pd.testing.assert_frame_equal(after.pairs, before.pairs)  # read again from the file
    assert _resident_kb(side._mapped_arrays) > 0
    side.release_arrays()
    assert side.rows_of(side.reports.ids[[3, 1]]).tolist() == [3, 1]
