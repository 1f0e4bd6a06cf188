"""The linking run on a Dask cluster (kinmatch.distributed) gives the single-process table.

One LocalCluster of two worker processes serves the module; the runs use small chunks of
residents so several tasks run on each worker and any dependence of a chunk on the others shows.
"""

import dataclasses
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

import kinmatch.distributed  # noqa: E402
from kinmatch.distributed import RecordFiles, chunk_bounds, read_part, read_records, write_records  # noqa: E402
from kinmatch.match.pipeline import prepare_records, run_link  # noqa: E402


def _small_chunks(monkeypatch, per_worker: int) -> None:
    """Chunks of ceil(200 / (2 workers × per_worker)) residents instead of the default 500 at least."""
    monkeypatch.setattr(kinmatch.distributed, "MIN_CHUNK_RESIDENTS", 1)
    monkeypatch.setattr(kinmatch.distributed, "CHUNKS_PER_WORKER", per_worker)


@pytest.fixture(scope="module")
def sim():
    from kinmatch.datasets.simulate import simulate

    sim = simulate(n_missing=2000, n_residents=200, seed=14)
    # residents out of id order: the chunks follow the frame, the table the ids
    return dataclasses.replace(sim, residents=sim.residents.sample(frac=1, random_state=14).reset_index(drop=True))


@pytest.fixture(scope="module")
def prepared(sim):
    return prepare_records(sim.residents, "resident"), prepare_records(sim.missing, "missing")


@pytest.fixture(scope="module")
def single(sim):
    return {by: run_link(sim.residents, sim.missing, top_k=10, by=by, progress=False, n_jobs=1)
            for by in ("resident", "missing")}


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


def _same_run(got, expected):
    pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)
    pd.testing.assert_frame_equal(got.vectors, expected.vectors, check_exact=True)
    pd.testing.assert_frame_equal(got.candidate_counts, expected.candidate_counts, check_exact=True)
    assert got.model.to_json() == expected.model.to_json()


def test_records_survive_parquet(prepared, tmp_path):
    residents, missing = prepared
    for frame, name in ((residents, "r.parquet"), (missing, "m.parquet")):
        write_records(frame, str(tmp_path / name))
        back = read_records(str(tmp_path / name))
        pd.testing.assert_frame_equal(back, frame, check_exact=True)
        # a slice of the records, as a report partition reads it
        files = RecordFiles((str(tmp_path / name),), "", None, len(frame))
        part = read_part(files, 17, 61)
        pd.testing.assert_frame_equal(part, frame.iloc[17:61].reset_index(drop=True), check_exact=True)
        tuples = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, tuple)).any()]
        assert "marks" in tuples
        assert all(back[c].map(lambda v: v is None or isinstance(v, tuple)).all() for c in tuples)


def test_chunk_bounds_cover_every_resident_once():
    for n, workers, size in ((0, 2, None), (1, 2, None), (4001, 2, None), (200, 2, 30), (5, 1, 7)):
        bounds = chunk_bounds(n, workers, size)
        covered = np.concatenate([np.arange(a, b) for a, b in bounds]) if bounds else np.empty(0, int)
        assert covered.tolist() == list(range(n))


@pytest.mark.parametrize("by", ["resident", "missing"])
def test_local_cluster_equals_single_process(client, sim, single, by, monkeypatch):
    _small_chunks(monkeypatch, 4)  # 200 residents → 8 chunks of 25
    got = run_link(sim.residents, sim.missing, top_k=10, by=by, progress=False, client=client)
    assert got.table["resident_id"].nunique() > 100
    _same_run(got, single[by])


def test_link_front_door_with_a_given_model(client, sim, single):
    """``run_link(..., client=)`` with the single run's model: no fit, same table."""
    expected = single["resident"]
    got = run_link(sim.residents, sim.missing, top_k=10, model=expected.model, progress=False, client=client)
    pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)


def _chunk_holder(client) -> str | None:
    """The address of a worker holding a finished candidates chunk, if any."""
    def holders(dask_scheduler):
        return [next(iter(ts.who_has)).address for key, ts in dask_scheduler.tasks.items()
                if str(key).startswith("kinmatch-candidates-") and ts.state == "memory" and ts.who_has]

    found = client.run_on_scheduler(holders)
    return found[0] if found else None


@pytest.mark.slow
def test_a_killed_worker_loses_and_duplicates_nothing(client, prepared, single, monkeypatch):
    residents, missing = prepared
    outcome = {}
    _small_chunks(monkeypatch, 7)  # 200 residents → 14 chunks of 15

    def run():
        try:
            outcome["run"] = run_link(residents, missing, top_k=10, progress=False, client=client)
        except BaseException as error:  # noqa: B036 - handed to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    holder = None
    while holder is None and thread.is_alive() and time.monotonic() < deadline:
        holder = _chunk_holder(client)
        time.sleep(0.005)
    assert holder is not None and thread.is_alive(), "the run ended before a worker could be killed"
    pid = client.run(os.getpid, workers=[holder])[holder]
    os.kill(pid, signal.SIGKILL)  # the results it held are gone; the scheduler recomputes them
    thread.join(120)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    got = outcome["run"]
    assert not got.table.duplicated(["resident_id", "missing_id"]).any()
    _same_run(got, single["resident"])
    client.wait_for_workers(2, timeout=60)


def test_cli_scheduler_writes_the_single_process_table(client, prepared, tmp_path, monkeypatch):
    import kinmatch.commands.link as command
    from kinmatch.cli import main

    residents, missing = prepared
    frames = {"res": residents, "mis": missing}
    # the command reads files through intake; hand it the normalized frames instead
    monkeypatch.setattr(command, "_read_with_issues", lambda path, kind, *options: (frames[path], pd.DataFrame()))
    alone, on_cluster = tmp_path / "alone.csv", tmp_path / "cluster.csv"
    assert main(["link", "res", "mis", "-o", str(alone), "--no-progress", "--jobs", "1"]) == 0
    address = client.scheduler.address
    assert main(["link", "res", "mis", "-o", str(on_cluster), "--no-progress", "--scheduler", address]) == 0
    assert on_cluster.read_bytes() == alone.read_bytes()
    assert main(["link", "res", "mis", "-o", str(on_cluster), "--workers", "0"]) == 2
