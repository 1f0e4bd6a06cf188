"""Forked workers: same results as in-process, and a quiet fallback where processes are refused."""

import os
import threading

import pandas as pd
import pytest

from kinmatch import _parallel


def _double_shared(x):
    return x * _parallel.shared()


def _pid(_):
    return os.getpid()


def test_fork_map_uses_workers_and_shares_state():
    assert set(_parallel.fork_map(_pid, [0, 1, 2, 3], n_jobs=1)) == {os.getpid()}
    assert os.getpid() not in _parallel.fork_map(_pid, [0, 1, 2, 3], n_jobs=2)
    assert _parallel.fork_map(_double_shared, [1, 2, 3], n_jobs=2, shared=10) == [10, 20, 30]
    assert _parallel.shared() is None  # cleared after the run


def test_fork_map_falls_back_in_process_when_forking_is_refused(monkeypatch):
    def refuse():
        raise OSError("no more processes")

    monkeypatch.setattr(_parallel.os, "fork", refuse)
    assert _parallel.fork_map(_double_shared, [1, 2], n_jobs=2, shared=3) == [3, 6]


@pytest.mark.parametrize("n_jobs, expected", [(1, 1), (0, 1), (3, 3)])
def test_resolve_jobs(n_jobs, expected):
    assert _parallel.resolve_jobs(n_jobs) == expected
    assert _parallel.resolve_jobs(None) >= 1


def _shared_pid_and_value():
    return os.getpid(), _parallel.shared() * 2


def _raises():
    raise ValueError("bad input in the worker")


def test_fork_call_runs_beside_the_parent_and_returns_its_result():
    result = _parallel.fork_call(_shared_pid_and_value, shared=21)
    assert _parallel.shared() is None  # the parent's copy is cleared at once
    pid, value = result()
    assert value == 42 and pid != os.getpid()
    pid, value = _parallel.fork_call(_shared_pid_and_value, shared=5, enabled=False)()
    assert (pid, value) == (os.getpid(), 10)


def test_fork_call_raises_the_workers_error_in_the_parent(monkeypatch):
    with pytest.raises(ValueError, match="bad input in the worker"):
        _parallel.fork_call(_raises)()
    monkeypatch.setattr(_parallel.os, "fork", lambda: (_ for _ in ()).throw(OSError("no processes")))
    assert _parallel.fork_call(_shared_pid_and_value, shared=1)() == (os.getpid(), 2)


def _interrupted():
    raise KeyboardInterrupt


def _dies():
    os._exit(3)


def test_fork_call_reaps_a_worker_that_was_interrupted_or_died():
    # Ctrl-C reaches the worker too: the parent's wait raises it instead of waiting for ever
    waiting = _parallel.fork_call(_interrupted)
    with pytest.raises(KeyboardInterrupt):
        waiting()
    with pytest.raises(ChildProcessError, match="without an answer"):
        _parallel.fork_call(_dies)()
    with pytest.raises(ChildProcessError):  # no zombie left: the worker was reaped by the wait
        os.waitpid(waiting.pid, os.WNOHANG)


def test_link_jobs_reach_the_normalizers(monkeypatch):
    # `kinmatch link --jobs 1` means one process from intake on: the normalizers get the run's n_jobs
    from kinmatch.datasets import simulate
    from kinmatch.match.pipeline import run_link
    from kinmatch.normalize import records

    sim = simulate(n_missing=60, n_residents=10, seed=5)
    seen = []
    for name in ("normalize_residents", "normalize_missing"):
        original = getattr(records, name)

        def spy(frame, *, _original=original, **kwargs):
            seen.append(kwargs.get("n_jobs"))
            return _original(frame, **kwargs)

        monkeypatch.setattr(records, name, spy)
    for n_jobs in (1, None):
        seen.clear()
        run_link(sim.residents, sim.missing, top_k=3, progress=False, n_jobs=n_jobs)
        assert seen == [n_jobs, n_jobs]


def test_link_cli_jobs_one_forks_nothing_and_two_give_the_same_file(tmp_path, monkeypatch):
    # every fork threshold at 0: `--jobs 1` must still run in this one process, `--jobs 2` use
    # workers (residents beside the reports, candidates, comparisons, explanations), same bytes
    from kinmatch.cli import main
    from kinmatch.commands.demo import write_station_files
    from kinmatch.datasets import simulate
    from kinmatch.match import candidates, engine, pipeline
    from kinmatch.normalize import records

    files = write_station_files(simulate(n_missing=120, n_residents=15, seed=4), tmp_path)
    for module, name in ((candidates, "POOL_MIN_PRODUCT"), (records, "PAIR_MIN_RESIDENTS"),
                         (records, "PARALLEL_MIN_DISTINCT"),
                         (records, "PLACE_SHARE_TEXTS"), (pipeline, "BACKGROUND_MIN_REPORTS"),
                         (engine, "PARALLEL_MIN_PAIRS"), (pipeline, "PARALLEL_MIN_EXPLAINED")):
        monkeypatch.setattr(module, name, 1 if name == "PLACE_SHARE_TEXTS" else 0)
    real_fork, forks = os.fork, []

    def counted_fork():
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    outputs = {}
    for jobs in ("1", "2"):
        forks.clear()
        out = tmp_path / f"jobs{jobs}.csv"
        assert main(["link", str(files["residents"]), str(files["missing"]), "-o", str(out), "--top-k", "5",
                     "--no-progress", "--jobs", jobs]) == 0
        outputs[jobs] = (out.read_bytes(), len(forks))
    assert outputs["1"][1] == 0
    assert outputs["2"][1] >= 4
    assert outputs["1"][0] == outputs["2"][0]


def test_explanations_in_two_halves_are_the_same(monkeypatch):
    # below PARALLEL_MIN_EXPLAINED and from SPLIT_MIN_EXPLAINED ranked rows a forked worker explains
    # the second half while this process explains the first: the same texts, in the same order
    from kinmatch.datasets import simulate
    from kinmatch.match import pipeline

    sim = simulate(n_missing=150, n_residents=20, seed=6)
    alone = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=1).table
    monkeypatch.setattr(pipeline, "SPLIT_MIN_EXPLAINED", 0)
    calls, real_call = [], pipeline.fork_call
    monkeypatch.setattr(pipeline, "fork_call", lambda func, *a, **k: calls.append(func.__name__)
                        or real_call(func, *a, **k))
    halves = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2).table
    assert "_explain_range" in calls
    pd.testing.assert_frame_equal(alone, halves)
    assert halves["explanation"].str.len().gt(0).all()


def test_candidate_chunks_keep_to_n_jobs(monkeypatch):
    # with the chunks' pool threshold at 0, n_jobs=1 forks nothing and n_jobs=2 gives the same pairs
    from kinmatch.datasets import simulate
    from kinmatch.match import candidates
    from kinmatch.normalize.records import normalize_missing, normalize_residents

    sim = simulate(n_missing=200, n_residents=30, seed=5)
    (residents, _), (missing, _) = normalize_residents(sim.residents), normalize_missing(sim.missing)
    monkeypatch.setattr(candidates, "POOL_MIN_PRODUCT", 0)
    real_fork, forks = os.fork, []

    def counted_fork():
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    one = candidates.packed_candidate_pairs(residents, missing, progress=False, n_jobs=1, chunk_size=7).unpack()
    assert forks == []
    two = candidates.packed_candidate_pairs(residents, missing, progress=False, n_jobs=2, chunk_size=7).unpack()
    pd.testing.assert_frame_equal(one.pairs, two.pairs)


def test_fork_call_answer_first_and_reap_later():
    # reap=False: the answer is read and the worker left to end on its own; a later call (or
    # cancel) reaps it, and gives the same answer again
    from tests.procs import children

    before = children()
    waiting = _parallel.fork_call(_shared_pid_and_value, shared=4)
    pid, value = waiting(reap=False)
    assert value == 8 and str(waiting.pid) in children() - before
    assert waiting() == (pid, value)
    assert children() - before == set()
    waiting = _parallel.fork_call(_shared_pid_and_value, shared=1)
    waiting(reap=False)
    waiting.cancel()  # answered, then no longer wanted: reaped, not left a zombie
    assert children() - before == set()
    # a worker that failed is reaped at once, whatever reap says
    waiting = _parallel.fork_call(_raises)
    with pytest.raises(ValueError, match="bad input"):
        waiting(reap=False)
    assert children() - before == set()
    with pytest.raises(ChildProcessError):
        _parallel.fork_call(_dies)(reap=False)
    assert children() - before == set()


def test_on_thread_gives_the_result_and_raises_the_error_in_the_caller():
    from kinmatch._parallel import on_thread

    seen = []
    wait = on_thread(lambda: seen.append(threading.current_thread().name) or len(seen), "kinmatch-test")
    assert wait() == 1 and seen == ["kinmatch-test"]

    def fails():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        on_thread(fails, "kinmatch-test")()
