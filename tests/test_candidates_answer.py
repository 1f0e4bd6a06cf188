"""The candidates of a batch run on both processes (pipeline._CandidateShares): the worker makes
the sides and runs chunks of residents from the front, this process, its encoding done, runs chunks
from the back; the pairs travel as positions through files, the fit's rows and the weight floors are
read from their pass bits, and the table is the one-process table whatever goes wrong on the way;
no worker is left behind."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinmatch.datasets import simulate
from kinmatch.match import candidates as cand
from kinmatch.match import pipeline
from kinmatch.match.passes import CandidatePass
from kinmatch.match.settings import LinkSettings


@pytest.fixture(scope="module")
def sim():
    return simulate(n_missing=400, n_residents=50, seed=11)


@pytest.fixture(scope="module")
def alone(sim):
    return pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=1)


def test_pairs_as_positions_are_the_pairs_of_the_ids(sim):
    by_ids = cand.packed_candidate_pairs(sim.residents, sim.missing, progress=False)
    by_positions = cand.packed_candidate_pairs(sim.residents, sim.missing, progress=False, ids=False)
    assert by_positions.resident_ids is None and by_positions.missing_ids is None
    resident_ids = sim.residents["resident_id"].astype(str).to_numpy()
    missing_ids = sim.missing["missing_id"].astype(str).to_numpy()
    assert (resident_ids[by_positions.residents] == by_ids.resident_ids[by_ids.residents]).all()
    assert (missing_ids[by_positions.reports] == by_ids.missing_ids[by_ids.reports]).all()
    assert len(by_ids.missing_ids) < len(missing_ids)  # the id pack names only the reports with a pair
    for field in ("pass_bits", "prescore"):
        assert np.array_equal(getattr(by_positions, field), getattr(by_ids, field))
    unpacked = by_positions._replace(resident_ids=resident_ids, missing_ids=missing_ids).unpack()
    pd.testing.assert_frame_equal(unpacked.pairs, by_ids.unpack().pairs, check_exact=True)
    pd.testing.assert_frame_equal(unpacked.counts, by_ids.counts)


@pytest.mark.parametrize("background", [True, False])
def test_the_worker_s_pairs_through_the_file_give_the_one_process_table(sim, alone, monkeypatch, background,
                                                                        no_worker_left):
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0 if background else 10**9)
    forked, read = [], []
    real_task, real_receive = pipeline._candidates_task, pipeline._CandidateShares.receive
    parent = os.getpid()

    def task():
        value = real_task()
        if os.getpid() == parent:
            forked.append(False)
        return value

    def receive(self, pending, *args):
        value = real_receive(self, pending, *args)
        read.append(value)
        return value

    monkeypatch.setattr(pipeline, "_candidates_task", task)
    monkeypatch.setattr(pipeline._CandidateShares, "receive", receive)
    two = pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(alone.table, two.table)
    pd.testing.assert_frame_equal(alone.vectors, two.vectors)
    if background:  # forked, and its pairs read from the file as positions
        assert forked == [] and len(read) == 1 and read[0].resident_ids is None
    else:  # in this process, no file
        assert forked == [False] and read == []


def test_a_failing_candidates_worker_is_raised_and_reaped(sim, monkeypatch, no_worker_left):
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)
    parent = os.getpid()
    real = cand.ChunkedCandidates.__init__

    def fails_in_the_worker(self, *args, **kwargs):
        if os.getpid() != parent:
            raise ValueError("the candidates broke")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cand.ChunkedCandidates, "__init__", fails_in_the_worker)
    with pytest.raises(ValueError, match="the candidates broke"):
        pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=2)


def test_a_failing_encoding_stops_the_worker(sim, monkeypatch, no_worker_left):
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)

    def broken_encode(*args, **kwargs):
        raise RuntimeError("no encoding today")

    monkeypatch.setattr(pipeline.engine, "encode", broken_encode)
    with pytest.raises(RuntimeError, match="no encoding today"):
        pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=2)


def test_no_fork_or_no_temporary_file_gives_the_same_table(sim, alone, monkeypatch, no_worker_left):
    import kinmatch._parallel as parallel

    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)
    with monkeypatch.context() as patch:
        patch.setattr(parallel.os, "fork", lambda: (_ for _ in ()).throw(OSError("no processes")))
        pd.testing.assert_frame_equal(alone.table, pipeline.run_link(sim.residents, sim.missing, top_k=6,
                                                                     progress=False, n_jobs=2).table)

    def full_disk():
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline.tempfile, "TemporaryFile", full_disk)
    pd.testing.assert_frame_equal(alone.table, pipeline.run_link(sim.residents, sim.missing, top_k=6,
                                                                 progress=False, n_jobs=2).table)


@pytest.mark.parametrize("where", ["worker", "here"])
def test_a_failing_chunk_is_raised_and_the_worker_reaped(sim, monkeypatch, where, no_worker_left):
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)
    parent = os.getpid()
    real_chunk = cand.ChunkedCandidates.chunk

    def chunk(self, number):
        if (os.getpid() == parent) == (where == "here"):
            raise ValueError(f"a chunk broke {where}")
        if where == "here":  # the worker slow enough for this process to claim one
            time.sleep(0.3)
        return real_chunk(self, number)

    monkeypatch.setattr(cand.ChunkedCandidates, "chunk", chunk)
    base = LinkSettings()
    small_chunks = replace(base, candidates=replace(base.candidate_settings(), chunk_size=10))
    with pytest.raises(ValueError, match=f"a chunk broke {where}"):
        pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=2, settings=small_chunks)


def test_both_processes_run_chunks_and_the_pack_is_one_process_s(sim, monkeypatch, no_worker_left):
    base = LinkSettings()
    small_chunks = replace(base, candidates=replace(base.candidate_settings(), chunk_size=10))
    one = pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=1, settings=small_chunks)
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)
    parent = os.getpid()
    real_chunk = cand.ChunkedCandidates.chunk
    here = []

    def chunk(self, number):
        if os.getpid() == parent:
            here.append(number)
        else:  # the worker slow: this process, its encoding done, takes chunks from the back
            time.sleep(0.3)
        return real_chunk(self, number)

    monkeypatch.setattr(cand.ChunkedCandidates, "chunk", chunk)
    two = pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=2, settings=small_chunks)
    n_chunks = -(-len(sim.residents) // 10)
    assert here and len(here) < n_chunks  # both ran some
    assert here == sorted(here, reverse=True) and here[0] == n_chunks - 1  # from the back
    pd.testing.assert_frame_equal(one.table, two.table)
    pd.testing.assert_frame_equal(one.vectors, two.vectors)
    pd.testing.assert_frame_equal(one.candidate_counts, two.candidate_counts)


def test_a_run_restored_from_its_state_runs_the_same_chunks(sim):
    import pickle

    run = cand.ChunkedCandidates(sim.residents, sim.missing, chunk_size=15)
    assert run.n_chunks == 4
    restored = cand.ChunkedCandidates.from_state(pickle.loads(pickle.dumps(run.state())), sim.residents)
    assert "residents" not in run.state()
    parts = [restored.chunk(number) for number in range(run.n_chunks)]
    for number, (arrays, counts) in enumerate(parts):
        expected_arrays, expected_counts = run.chunk(number)
        assert counts == expected_counts
        for got, expected in zip(arrays, expected_arrays, strict=True):
            assert np.array_equal(got, expected)
    packed = cand.pack_chunks(parts, run.settings, run)
    whole = cand.packed_candidate_pairs(sim.residents, sim.missing, progress=False, chunk_size=15)
    pd.testing.assert_frame_equal(packed.unpack().pairs, whole.unpack().pairs, check_exact=True)
    pd.testing.assert_frame_equal(packed.counts, whole.counts)


def test_the_fit_s_own_candidates_beside_the_worker(sim, monkeypatch, no_worker_left):
    # LinkSettings.fit_candidates: a second worker makes the fit's pairs (by ids, as before)
    base = LinkSettings()
    fit_settings = replace(base, fit_candidates=replace(base.candidate_settings(), max_per_resident=20))
    one = pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=1, settings=fit_settings)
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)
    two = pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=2, settings=fit_settings)
    pd.testing.assert_frame_equal(one.table, two.table)


@settings(max_examples=40, deadline=None)
@given(n_passes=st.sampled_from([1, 3, 8, 9, 14, 16, 17, 30]), data=st.data())
def test_fit_rows_and_floors_from_the_bits_equal_those_from_the_names(n_passes, data):
    fits = data.draw(st.lists(st.booleans(), min_size=n_passes, max_size=n_passes))
    floors = data.draw(st.lists(st.one_of(st.none(), st.sampled_from([-4.0, -2.5, 0.0, 3.0])),
                                min_size=n_passes, max_size=n_passes))
    passes = [CandidatePass(f"p{j}", "marks", "marks", cap=5, fit=fit, min_weight=floor)
              for j, (fit, floor) in enumerate(zip(fits, floors, strict=True))]
    settings_ = cand.CandidateSettings(passes=passes)
    rows = data.draw(st.lists(st.integers(0, (1 << n_passes) - 1), min_size=1, max_size=60))
    n_bytes = cand._pass_bytes(n_passes)
    pass_bits = np.array([list(bits.to_bytes(n_bytes, "little")) for bits in rows], dtype=np.uint8)
    names = tuple(p.name for p in passes)
    pairs = pd.DataFrame({"resident_id": "R", "missing_id": [str(i) for i in range(len(rows))],
                          "passes": [cand.pass_names(bits, names) for bits in rows]})
    by_names, by_bits = cand.fit_rows(pairs, settings_), cand.fit_rows(pairs, settings_, pass_bits)
    assert (by_names is None) == (by_bits is None) and (by_names is None or by_names.tolist() == by_bits.tolist())
    by_names, by_bits = cand.weight_floors(pairs, settings_), cand.weight_floors(pairs, settings_, pass_bits)
    assert (by_names is None) == (by_bits is None)
    if by_names is not None:
        assert by_names.tolist() == by_bits.tolist()


def test_stacked_pairs_are_the_concatenated_pairs():
    candidates = pd.DataFrame({"resident_id": ["R1", "R2"], "missing_id": ["M1", "M9"], "passes": ["a", "b"],
                               "prescore": [1.0, 2.0]}, index=[5, 7])
    drawn = pd.DataFrame({"resident_id": ["R2", "R1", "R1"], "missing_id": ["M3", "M1", "M2"]})
    expected = pd.concat([candidates[["resident_id", "missing_id"]], drawn], ignore_index=True)
    pd.testing.assert_frame_equal(pipeline._stacked_pairs(candidates, drawn), expected)
    categorical = drawn.astype({"missing_id": "category"})  # not object columns: pd.concat itself
    pd.testing.assert_frame_equal(pipeline._stacked_pairs(candidates, categorical),
                                  pd.concat([candidates[["resident_id", "missing_id"]], categorical],
                                            ignore_index=True))


@pytest.mark.parametrize("full", ["sides", "pairs", "both"])
def test_no_room_in_the_files_gives_the_same_table(sim, alone, monkeypatch, full, no_worker_left):
    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)
    real_write = pipeline.pickle_to_file

    def write(fd, value):
        sides = isinstance(value, dict) and "rep" in value
        pairs = isinstance(value, dict) and bool(value) and all(isinstance(key, int) for key in value)
        if (sides or pairs) and (full == "both" or (full == "sides") == sides):
            raise OSError(28, "No space left on device")
        return real_write(fd, value)

    monkeypatch.setattr(pipeline, "pickle_to_file", write)
    base = LinkSettings()
    small_chunks = replace(base, candidates=replace(base.candidate_settings(), chunk_size=10))
    one = pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=1, settings=small_chunks)
    two = pipeline.run_link(sim.residents, sim.missing, top_k=6, progress=False, n_jobs=2, settings=small_chunks)
    pd.testing.assert_frame_equal(one.table, two.table)


def test_without_fork_the_candidates_run_here(sim, alone, monkeypatch):
    import kinmatch._parallel as parallel

    monkeypatch.setattr(pipeline, "BACKGROUND_MIN_REPORTS", 0)
    monkeypatch.setattr(parallel, "FORK", None)
    pd.testing.assert_frame_equal(alone.table, pipeline.run_link(sim.residents, sim.missing, top_k=6,
                                                                 progress=False, n_jobs=2).table)
