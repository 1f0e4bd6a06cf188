"""The end of a batch run on two processes (pipeline._TwoParts): the comparisons' worker ranks,
explains and renders the last residents' candidates; the table, the vectors and the written
bytes are those of one process, and a failure on either side leaves no worker behind."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from kinmatch._io import CsvParts, csv_rows, write_csv
from kinmatch.datasets import simulate
from kinmatch.match import engine, pipeline


@pytest.fixture(scope="module")
def sim():
    return simulate(n_missing=300, n_residents=40, seed=5)


def test_two_parts_give_the_one_process_table_vectors_and_bytes(sim, monkeypatch, tmp_path, no_worker_left):
    alone = pipeline.run_link(sim.residents, sim.missing, top_k=7, progress=False, n_jobs=1, render_rows=csv_rows)
    assert alone.rendered is None  # one process: nothing rendered ahead, the writer makes the text
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    started = []
    real_start = pipeline._TwoParts.start.__func__
    monkeypatch.setattr(pipeline._TwoParts, "start",
                        classmethod(lambda cls, *a, **k: started.append(real_start(cls, *a, **k)) or started[-1]))
    two = pipeline.run_link(sim.residents, sim.missing, top_k=7, progress=False, n_jobs=2, render_rows=csv_rows)
    assert started and started[0] is not None
    parts = started[0]
    assert parts.n_mine > 0 and parts.n_theirs > 0  # both processes ranked some residents
    pd.testing.assert_frame_equal(alone.table, two.table)
    pd.testing.assert_frame_equal(alone.vectors, two.vectors)
    assert len(two.rendered) == 2 and all(len(part) for part in two.rendered)
    assert b"".join(two.rendered) == csv_rows(alone.table)
    write_csv(alone.table, tmp_path / "alone.csv")
    write_csv(two.table, tmp_path / "two.csv", rows=two.rendered)
    assert (tmp_path / "alone.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()


def test_the_cut_falls_between_residents_and_evens_out_the_comparisons(sim, monkeypatch):
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    started = []
    real_start = pipeline._TwoParts.start.__func__
    monkeypatch.setattr(pipeline._TwoParts, "start",
                        classmethod(lambda cls, *a, **k: started.append(real_start(cls, *a, **k)) or started[-1]))
    run = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2)
    parts = started[0]
    n_candidates = parts.n_mine + parts.n_theirs
    assert n_candidates == len(run.vectors)
    residents = parts.index.codes[0]
    mine, theirs = residents[parts.mine[:parts.n_mine]], residents[parts.theirs[:parts.n_theirs]]
    assert theirs.max() < mine.min()  # every candidate of a resident on one side, the first ones the worker's
    assert sorted(np.concatenate([parts.mine, parts.theirs]).tolist()) == list(range(len(parts.lp)))
    assert abs(len(parts.mine) - len(parts.theirs)) <= max(2, abs(parts.n_mine - parts.n_theirs))


def test_by_report_or_one_job_keeps_one_process_ranking(sim, monkeypatch):
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    started = []
    monkeypatch.setattr(pipeline._TwoParts, "start", classmethod(lambda cls, *a, **k: started.append(1)))
    pipeline.run_link(sim.residents, sim.missing, top_k=5, by="missing", progress=False, n_jobs=2)
    pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=1)
    assert started == []


def test_a_failing_worker_is_raised_and_reaped(sim, monkeypatch, no_worker_left):
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    parent = os.getpid()
    real_ranked = pipeline._ranked

    def fails_in_the_worker(*args, **kwargs):
        if os.getpid() != parent:
            raise ValueError("the worker's part broke")
        return real_ranked(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_ranked", fails_in_the_worker)
    with pytest.raises(ValueError, match="the worker's part broke"):
        pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2)


def test_a_failing_fit_stops_the_waiting_worker(sim, monkeypatch, no_worker_left):
    from kinmatch.match.model import fitting

    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)

    def broken_fit(*args, **kwargs):
        raise RuntimeError("no fit today")

    monkeypatch.setattr(fitting, "fit_model", broken_fit)
    with pytest.raises(RuntimeError, match="no fit today"):
        pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2)


def test_no_fork_falls_back_to_one_process(sim, monkeypatch):
    import kinmatch._parallel as parallel

    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    monkeypatch.setattr(parallel.os, "fork", lambda: (_ for _ in ()).throw(OSError("no processes")))
    alone = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=1).table
    refused = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2,
                                render_rows=csv_rows)
    pd.testing.assert_frame_equal(alone, refused.table)
    assert refused.rendered is None


def test_no_temporary_file_falls_back_to_one_process(sim, monkeypatch, no_worker_left):
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    alone = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=1).table

    def full_disk():
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline.tempfile, "TemporaryFile", full_disk)
    refused = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2, render_rows=csv_rows)
    pd.testing.assert_frame_equal(alone, refused.table)
    assert refused.rendered is None


def _started_parts(monkeypatch):
    """Every _TwoParts.start's result, in a list the test reads."""
    started = []
    real_start = pipeline._TwoParts.start.__func__
    monkeypatch.setattr(pipeline._TwoParts, "start",
                        classmethod(lambda cls, *a, **k: started.append(real_start(cls, *a, **k)) or started[-1]))
    return started


def _left_beside(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_each_process_writes_its_rows_into_the_output(sim, monkeypatch, tmp_path, no_worker_left):
    alone = pipeline.run_link(sim.residents, sim.missing, top_k=7, progress=False, n_jobs=1)
    write_csv(alone.table, tmp_path / "alone.csv")
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    started = _started_parts(monkeypatch)
    out = tmp_path / "out" / "candidates.csv"
    output = CsvParts(out)
    two = pipeline.run_link(sim.residents, sim.missing, top_k=7, progress=False, n_jobs=2, render_rows=output)
    assert started[0] is not None and started[0].sink is output
    assert output.complete and two.rendered is None  # the rows went into the file, not back
    assert not out.exists()  # nothing at the output's name before the commit
    pd.testing.assert_frame_equal(alone.table, two.table)
    assert output.commit() == out
    assert out.read_bytes() == (tmp_path / "alone.csv").read_bytes()
    assert _left_beside(out.parent) == ["candidates.csv"]  # no temporary file left


def test_the_command_writes_the_parts_file_as_one_process_writes_the_table(sim, monkeypatch, tmp_path,
                                                                           no_worker_left):
    from kinmatch.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    sim.residents.to_csv(inputs / "r.csv", index=False, encoding="utf-8-sig")
    sim.missing.to_csv(inputs / "m.csv", index=False, encoding="utf-8-sig")
    argv = ["link", str(inputs / "r.csv"), str(inputs / "m.csv"), "--top-k", "6", "--no-progress"]
    assert main([*argv, "-o", str(tmp_path / "one" / "c.csv"), "--jobs", "1"]) == 0
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    started = _started_parts(monkeypatch)
    assert main([*argv, "-o", str(tmp_path / "two" / "c.csv"), "--jobs", "2"]) == 0
    assert started[0] is not None and started[0].sink is not None
    assert (tmp_path / "two" / "c.csv").read_bytes() == (tmp_path / "one" / "c.csv").read_bytes()
    assert _left_beside(tmp_path / "two") == ["c.csv"]


def test_a_worker_that_cannot_write_its_rows_leaves_no_file(sim, monkeypatch, tmp_path, no_worker_left):
    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    parent = os.getpid()
    real_write = CsvParts.write_part

    def full_disk_in_the_worker(self, *args, **kwargs):
        if os.getpid() != parent:
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(CsvParts, "write_part", full_disk_in_the_worker)
    (tmp_path / "candidates.csv").write_text("yesterday's")
    output = CsvParts(tmp_path / "candidates.csv")
    with pytest.raises(OSError, match="No space left"):
        pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2, render_rows=output)
    assert not output.complete
    output.discard()  # what the command does on any error
    assert _left_beside(tmp_path) == ["candidates.csv"]
    assert (tmp_path / "candidates.csv").read_text() == "yesterday's"


def test_rows_csv_rows_does_not_cover_are_left_to_the_writer(sim, monkeypatch, tmp_path, no_worker_left):
    import kinmatch._io as io_module

    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)
    parent = os.getpid()
    real_columns = io_module._plain_columns
    monkeypatch.setattr(io_module, "_plain_columns",
                        lambda *args: real_columns(*args) if os.getpid() != parent else None)
    output = CsvParts(tmp_path / "candidates.csv")
    two = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2, render_rows=output)
    assert not output.complete  # the worker wrote its rows, this process could not: the file is not used
    assert two.rendered is not None and two.rendered[1] is None
    output.discard()
    assert _left_beside(tmp_path) == []


def test_an_output_folder_without_room_for_the_temporary_file_falls_back(sim, monkeypatch, tmp_path, no_worker_left):
    import kinmatch._io as io_module

    monkeypatch.setattr(engine, "PARALLEL_MIN_PAIRS", 0)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io_module.tempfile, "mkstemp", refused)
    output = CsvParts(tmp_path / "candidates.csv")
    two = pipeline.run_link(sim.residents, sim.missing, top_k=5, progress=False, n_jobs=2, render_rows=output)
    assert not output.complete and output.fd is None
    assert len(two.rendered) == 2 and all(two.rendered)  # rendered and handed back, as without a file
    output.discard()


def test_write_csv_rows_refuses_other_options(tmp_path):
    frame = pd.DataFrame({"id": ["=1", "b"], "w": [0.5, -0.0]})
    with pytest.raises(ValueError, match="default encoding and options"):
        write_csv(frame, tmp_path / "x.csv", rows=[csv_rows(frame)], float_format="%.2f")
    with pytest.raises(ValueError, match="default encoding and options"):
        write_csv(frame, tmp_path / "x.csv", encoding="gbk", rows=[csv_rows(frame)])
    write_csv(frame, tmp_path / "whole.csv")
    write_csv(frame, tmp_path / "parts.csv", rows=[csv_rows(frame.iloc[:1]), csv_rows(frame.iloc[1:])])
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "parts.csv").read_bytes()
    assert csv_rows(pd.DataFrame({"when": pd.to_datetime(["2020-01-01"])})) is None  # pandas writes dates
