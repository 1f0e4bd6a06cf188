"""normalize_pair on two processes: the residents' worker parses place shares, then makes half of the
reports' name columns; frames and issues as one process makes them, and no process left behind."""

import os

import pandas as pd
import pytest
from procs import reaped

from kinmatch import _parallel
from kinmatch.datasets import simulate
from kinmatch.normalize import records
from kinmatch.normalize.records import normalize_missing, normalize_residents


@pytest.fixture(scope="module")
def sim():
    return simulate(n_missing=400, n_residents=60, seed=5)


@pytest.fixture(scope="module")
def serial(sim):
    return normalize_residents(sim.residents, n_jobs=1), normalize_missing(sim.missing, n_jobs=1)


@pytest.fixture
def small_shares(monkeypatch):
    monkeypatch.setattr(records, "PAIR_MIN_RESIDENTS", 10)
    monkeypatch.setattr(records, "PLACE_SHARE_TEXTS", 7)


def _report_names_made(monkeypatch, tmp_path):
    """Record, in a file both processes append to, which process made how many report name rows."""
    made_by = tmp_path / "made_by.txt"
    parent, names_of = os.getpid(), records._names_of

    def recorded(keys):
        if len(keys) and keys["side"].iloc[0] == "report":
            with open(made_by, "a") as out:
                out.write(f"{'worker' if os.getpid() != parent else 'here'} {len(keys)}\n")
        return names_of(keys)

    monkeypatch.setattr(records, "_names_of", recorded)

    def counts() -> dict[str, int]:
        total: dict[str, int] = {}
        for line in made_by.read_text().splitlines() if made_by.exists() else []:
            who, n = line.split()
            total[who] = total.get(who, 0) + int(n)
        return total

    return counts


def _same(paired, serial):
    for (frame, issues), (serial_frame, serial_issues) in zip(paired, serial, strict=True):
        frame, serial_frame = frame.copy(), serial_frame.copy()
        frame.attrs, serial_frame.attrs = {}, {}
        assert list(frame.columns) == list(serial_frame.columns)
        pd.testing.assert_frame_equal(frame, serial_frame)
        pd.testing.assert_frame_equal(issues, serial_issues)


def test_the_worker_makes_half_the_report_names_and_the_frames_are_the_same(sim, serial, small_shares,
                                                                            monkeypatch, tmp_path):
    monkeypatch.setattr(records, "NAMES_SHARE_MIN", 10)
    counts = _report_names_made(monkeypatch, tmp_path)
    paired = records.normalize_pair(sim.residents, lambda: sim.missing, n_jobs=2)
    made = counts()
    # the distinct (name, source, area) rows are cut in two near the middle, between two names
    assert made.get("worker", 0) > 0 and made.get("here", 0) > 0
    assert abs(made["worker"] - made["here"]) <= 0.2 * (made["worker"] + made["here"])
    _same(paired, serial)


def test_few_names_are_all_made_here(sim, serial, small_shares, monkeypatch, tmp_path):
    monkeypatch.setattr(records, "NAMES_SHARE_MIN", 10**9)
    counts = _report_names_made(monkeypatch, tmp_path)
    paired = records.normalize_pair(sim.residents, sim.missing, n_jobs=2)
    assert counts().get("worker", 0) == 0 and counts().get("here", 0) > 0
    _same(paired, serial)


def test_where_no_process_can_be_started_the_pair_is_normalized_here(sim, serial, small_shares, monkeypatch):
    def no_fork():
        raise OSError("no processes here")

    monkeypatch.setattr(_parallel.os, "fork", no_fork)
    _same(records.normalize_pair(sim.residents, lambda: sim.missing, n_jobs=2), serial)


def _recorded_workers(monkeypatch) -> list:
    workers, real_call = [], _parallel.fork_call

    def recorded(*args, **kwargs):
        workers.append(real_call(*args, **kwargs))
        return workers[-1]

    monkeypatch.setattr(_parallel, "fork_call", recorded)
    return workers


def test_a_worker_failing_on_its_names_raises_its_error_and_isreaped(sim, small_shares, monkeypatch):
    monkeypatch.setattr(records, "NAMES_SHARE_MIN", 10)
    parent, names_of = os.getpid(), records._names_of

    def fails_in_the_worker(keys):
        if os.getpid() != parent and len(keys) and keys["side"].iloc[0] == "report":
            raise ValueError("the worker's names failed")
        return names_of(keys)

    monkeypatch.setattr(records, "_names_of", fails_in_the_worker)
    workers = _recorded_workers(monkeypatch)
    with pytest.raises(ValueError, match="the worker's names failed"):
        records.normalize_pair(sim.residents, sim.missing, n_jobs=2)
    assert len(workers) == 1 and reaped(workers[0])


def test_this_process_failing_while_the_worker_makes_names_stops_it(sim, small_shares, monkeypatch):
    monkeypatch.setattr(records, "NAMES_SHARE_MIN", 10)

    def fails(*args, **kwargs):
        raise RuntimeError("the aliases failed")

    monkeypatch.setattr(records, "_alias_columns", fails)  # runs here while the worker makes its half
    workers = _recorded_workers(monkeypatch)
    with pytest.raises(RuntimeError, match="the aliases failed"):
        records.normalize_pair(sim.residents, sim.missing, n_jobs=2)
    assert len(workers) == 1 and reaped(workers[0])


def test_many_names_are_read_ahead_and_made_by_forked_workers(sim, serial, small_shares, monkeypatch):
    from kinmatch.normalize import names

    monkeypatch.setattr(records, "PARALLEL_MIN_DISTINCT", 50)
    read_ahead, asked = names.read_ahead, []
    monkeypatch.setattr(names, "read_ahead", lambda *args, **kwargs: asked.append(1) or read_ahead(*args, **kwargs))
    maps, fork_map = [], _parallel.fork_map
    monkeypatch.setattr(_parallel, "fork_map", lambda *args, **kwargs: maps.append(1) or fork_map(*args, **kwargs))
    _same(records.normalize_pair(sim.residents, sim.missing, n_jobs=2), serial)
    assert asked and maps


def test_prepare_pair_checks_the_frames_while_the_worker_ends_and_reaps_it(sim, serial, small_shares, monkeypatch):
    # the residents' worker has answered when the frames are checked; it is reaped after the
    # check, also when the check fails
    from kinmatch.match import pipeline
    from kinmatch.normalize.contract import NormalizedFrameError
    from tests.procs import children

    before = children()
    left = []
    checked = pipeline._checked

    def seen(frame, kind, on_duplicate):
        left.append(children() - before)
        return checked(frame, kind, on_duplicate)

    monkeypatch.setattr(pipeline, "_checked", seen)
    residents, missing = pipeline.prepare_pair(sim.residents, lambda: sim.missing, n_jobs=2)
    assert len(left) == 2 and len(left[0]) == 1  # the worker, answered, not reaped yet during the check
    assert children() - before == set()
    _same([(residents, serial[0][1]), (missing, serial[1][1])],
          [(pipeline._checked(serial[0][0], "resident", "stop"), serial[0][1]),
           (pipeline._checked(serial[1][0], "missing", "stop"), serial[1][1])])

    def broken(frame, kind, on_duplicate):
        raise NormalizedFrameError("broken", "name_keys", 0, "M1", None)

    monkeypatch.setattr(pipeline, "_checked", broken)
    with pytest.raises(NormalizedFrameError):
        pipeline.prepare_pair(sim.residents, sim.missing, n_jobs=2)
    assert children() - before == set()
