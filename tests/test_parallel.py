"""Forked workers: same results as in-process, and a quiet fallback where processes are refused."""

import os

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
    def refuse(n):
        raise OSError("no more processes")

    monkeypatch.setattr(_parallel.FORK, "Pool", refuse)
    assert _parallel.fork_map(_double_shared, [1, 2], n_jobs=2, shared=3) == [3, 6]


@pytest.mark.parametrize("n_jobs, expected", [(1, 1), (0, 1), (3, 3)])
def test_resolve_jobs(n_jobs, expected):
    assert _parallel.resolve_jobs(n_jobs) == expected
    assert _parallel.resolve_jobs(None) >= 1
