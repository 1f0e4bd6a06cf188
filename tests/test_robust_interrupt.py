"""Ctrl-C at any moment (issue 13, "safe to use in an office"): the run exits with 130 and a short
Chinese message, leaves no process behind, and an interrupted ``index add`` leaves the previous
index as it was.

Written as an attacker: each command runs in its own session with every fork threshold at 0 (so
every stage that can fork does, on small synthetic data), and is interrupted at random moments — a
SIGINT to its whole process group (what a terminal's Ctrl-C sends), a SIGINT to the parent alone,
or a SIGKILL of the parent (``kill -9``) — then the exit code, the processes left in its session and
the index are checked. ``KINMATCH_ROBUST_ROUNDS`` (default 1) multiplies the rounds. Linux (``/proc``).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import kinmatch
from kinmatch import _parallel
from kinmatch.index import Index

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")

ROUNDS = max(1, int(os.environ.get("KINMATCH_ROBUST_ROUNDS", "1")))
HANG_SECONDS = 180
"""A command still running this long after its interrupt is taken to hang."""

DRIVER = textwrap.dedent("""
    import sys
    from kinmatch.index import side
    from kinmatch.match import candidates, engine, pipeline
    from kinmatch.normalize import records

    for module, name, value in ((candidates, "POOL_MIN_PRODUCT", 0), (records, "PARALLEL_MIN_DISTINCT", 0),
                                (records, "PAIR_MIN_RESIDENTS", 0), (records, "PAIR_MIN_REPORTS", 0),
                                (records, "PLACE_SHARE_TEXTS", 1), (pipeline, "BACKGROUND_MIN_REPORTS", 0),
                                (engine, "PARALLEL_MIN_PAIRS", 0), (pipeline, "PARALLEL_MIN_EXPLAINED", 0),
                                (side, "PARALLEL_MIN_RECORDS", 0)):
        setattr(module, name, value)
    import runpy

    sys.argv = ["kinmatch", *sys.argv[1:]]
    print("READY", file=sys.stderr, flush=True)
    runpy.run_module("kinmatch", run_name="__main__", alter_sys=True)
""")
"""Runs ``python -m kinmatch ARGS`` with every fork threshold at 0; says READY on stderr once the
thresholds are set (the interrupts are timed from then)."""


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.drop(columns=["source_row"], errors="ignore").to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """An index of 1,200 reports (model fitted on 60 residents), 1,200 new reports for an add,
    and 40 new residents to link."""
    root = tmp_path_factory.mktemp("robust")
    sim = kinmatch.datasets.simulate(n_missing=1200, n_residents=100, seed=21)
    later = kinmatch.datasets.simulate(n_missing=1200, n_residents=10, seed=22).missing.copy()
    later["missing_id"] = "new-" + later["missing_id"].astype(str)
    files = {"missing": _csv(sim.missing, root / "missing.csv"),
             "fit": _csv(sim.residents.iloc[:60], root / "fit.csv"),
             "residents": _csv(sim.residents.iloc[60:], root / "residents.csv"),
             "new_reports": _csv(later, root / "new_reports.csv")}
    index, _ = Index.build(root / "index", missing=[files["missing"]], residents=[files["fit"]])
    before = _link(root / "index", files["residents"])
    after_dir = root / "after"
    shutil.copytree(root / "index", after_dir)
    Index.add(after_dir, missing=[files["new_reports"]])
    after = _link(after_dir, files["residents"])
    assert not before.equals(after)  # the add changes the answers: an interrupted add can be told apart
    return {"root": root, "files": files, "before": before, "after": after}


def _link(directory: Path, residents: Path) -> pd.DataFrame:
    with Index.open(directory) as index:
        return index.link(str(residents), top_k=5, n_jobs=1)


def _processes() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, session) of every process, from ``/proc`` (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (command) "
        found.append((int(entry.name), fields[0], int(fields[1]), int(fields[3])))
    return found


def _session_processes(session: int) -> list[str]:
    """The live (not zombie) processes of the session ``session``, described."""
    return [f"{pid} {state}" for pid, state, _parent, sid in _processes() if sid == session and state != "Z"]


def _attack(argv: list[str], delay: float, how: str, cwd: Path) -> tuple[int, str, list[str]]:
    """Run ``kinmatch ARGV`` (thresholds at 0) in a new session; after ``delay`` seconds send
    ``how`` ("group": SIGINT to the process group; "parent": SIGINT to the parent alone; "kill":
    SIGKILL to the parent). Returns the exit code, stderr and what of its session still runs a
    moment after it ended."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-c", DRIVER, *argv], cwd=cwd, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr.readline().strip() == "READY"
        time.sleep(delay)
        if process.poll() is None:
            if how == "group":
                os.killpg(process.pid, signal.SIGINT)
            elif how == "parent":
                os.kill(process.pid, signal.SIGINT)
            else:
                os.kill(process.pid, signal.SIGKILL)
        try:
            _out, err = process.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            left = _session_processes(process.pid)
            pytest.fail(f"kinmatch {' '.join(argv[:2])} hung {HANG_SECONDS} s after a {how} interrupt at "
                        f"{delay:.2f} s; its session: {left}")
        left = []
        for _ in range(20):  # a worker killed a moment ago may take a few ms to go
            left = _session_processes(process.pid)
            if not left:
                break
            time.sleep(0.1)
        return process.returncode, err, left
    finally:
        with_left = _session_processes(process.pid)
        if with_left:  # do not leave them to the next test
            os.killpg(process.pid, signal.SIGKILL)


def _full_run_seconds(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", DRIVER, *argv], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return time.perf_counter() - start


def _delays(seed: int, longest: float, n: int) -> list[float]:
    """``n`` moments spread over the run (from READY), drawn at random."""
    draw = random.Random(seed)
    return [draw.uniform(0.0, max(0.5, longest * 0.95)) for _ in range(n)]


def _assert_whole(linked: pd.DataFrame, station: dict, finished: bool, where: str) -> None:
    """The index links exactly as after the add (it finished), or, interrupted, exactly as before it
    or exactly as after it: an interrupt that lands after the add made its new generation current
    (one atomic rename) but before the process ended finds the add done. Anything else (a mix of the
    two, a broken index) fails."""
    if finished:
        pd.testing.assert_frame_equal(linked, station["after"], obj=f"the index {where}")
        return
    try:
        pd.testing.assert_frame_equal(linked, station["before"], obj=f"the index {where}")
    except AssertionError:
        pd.testing.assert_frame_equal(linked, station["after"], obj=f"the index {where}, neither before nor after")


def test_an_interrupted_index_add_exits_130_leaves_no_process_and_the_index_as_before(station, tmp_path):
    files, root = station["files"], station["root"]
    trial = tmp_path / "trial"
    shutil.copytree(root / "index", trial)
    longest = _full_run_seconds(["index", "add", str(trial), str(files["new_reports"])], tmp_path)
    hows = ["group", "parent"] * 3 * ROUNDS
    interrupted = 0
    for number, (delay, how) in enumerate(zip(_delays(13, longest, len(hows)), hows)):
        target = tmp_path / f"index{number}"
        shutil.copytree(root / "index", target)
        code, err, left = _attack(["index", "add", str(target), str(files["new_reports"])], delay, how, tmp_path)
        where = f"({how} SIGINT at {delay:.2f} s of ~{longest:.1f} s)"
        assert not left, f"processes left running {where}: {left}"
        assert code in (0, 130), f"exit code {code} {where}: {err[-2000:]}"
        if code == 130:
            interrupted += 1
            assert "已中断" in err and "Traceback" not in err, f"{where}: {err[-2000:]}"
        _assert_whole(_link(target, files["residents"]), station, finished=code == 0, where=where)
    # at least one moment fell inside the run (the timed run can be slower than the attacked ones, a
    # cold first run, so "most of them" would depend on the machine's load)
    assert interrupted >= 1


def test_a_killed_index_add_leaves_no_worker_running_and_the_index_usable(station, tmp_path):
    # kill -9 of the writer: its forked workers die with it, and the index is the previous one
    files, root = station["files"], station["root"]
    for number, delay in enumerate(_delays(17, 4.0, 2 * ROUNDS)):
        target = tmp_path / f"index{number}"
        shutil.copytree(root / "index", target)
        code, _err, left = _attack(["index", "add", str(target), str(files["new_reports"])], delay, "kill",
                                   tmp_path)
        assert not left, f"processes left running after kill -9 at {delay:.2f} s: {left}"
        _assert_whole(_link(target, files["residents"]), station, finished=code == 0,
                      where=f"(kill -9 at {delay:.2f} s)")


@pytest.mark.parametrize("through_index", [False, True], ids=["batch", "index"])
def test_an_interrupted_link_exits_130_and_writes_nothing_partial(station, tmp_path, through_index):
    files, root = station["files"], station["root"]
    source = [f"--index={root / 'index'}"] if through_index else [str(files["missing"])]
    out = tmp_path / "out.csv"
    argv = ["link", str(files["residents"]), *source, "-o", str(out), "--no-progress", "--top-k", "5"]
    longest = _full_run_seconds(argv, tmp_path)
    finished = out.read_bytes()
    out.unlink()
    hows = ["group", "parent"] * 2 * ROUNDS
    for delay, how in zip(_delays(29 + through_index, longest, len(hows)), hows):
        code, err, left = _attack(argv, delay, how, tmp_path)
        where = f"({how} SIGINT at {delay:.2f} s of ~{longest:.1f} s)"
        assert not left, f"processes left running {where}: {left}"
        assert code in (0, 130), f"exit code {code} {where}: {err[-2000:]}"
        if code == 130:
            assert "已中断" in err and "Traceback" not in err, f"{where}: {err[-2000:]}"
            # nothing, or (an interrupt that lands after the atomic rename, while the process ends)
            # the whole file; never a part of it
            if out.exists():
                assert out.read_bytes() == finished, f"a partial output file {where}"
                out.unlink()
        else:
            assert out.read_bytes() == finished
            out.unlink()


# --- the workers themselves, in this process ---------------------------------------------------


def _sleep(seconds):
    time.sleep(seconds)
    return seconds


def _interrupt_me_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


_EARLIER: set[int] = set()


@pytest.fixture(autouse=True)
def _earlier_children():
    """The children this process already had (a server or cluster an earlier test of the suite
    left running), which the tests here did not fork and do not count."""
    _EARLIER.clear()
    _EARLIER.update(pid for pid, state, parent, _sid in _processes() if parent == os.getpid())
    yield


def _children() -> list[int]:
    """This process's live (not zombie) child processes forked since the test began."""
    return [pid for pid, state, parent, _sid in _processes()
            if parent == os.getpid() and state != "Z" and pid not in _EARLIER]


@pytest.mark.parametrize("n_jobs", [2, 3])
def test_fork_map_interrupted_in_the_parent_raises_at_once_and_reaps_its_workers(n_jobs):
    handler = signal.getsignal(signal.SIGINT)
    start = time.perf_counter()
    timer = _interrupt_me_after(0.5)
    with pytest.raises(KeyboardInterrupt):
        _parallel.fork_map(_sleep, [30] * 4, n_jobs=n_jobs)
    timer.join()
    assert time.perf_counter() - start < 10
    assert not _children() and not _parallel._LIVE
    assert signal.getsignal(signal.SIGINT) is handler  # the parent's own handler is back


def test_fork_call_interrupted_while_the_parent_works_does_not_wait_for_the_worker():
    # the parent is doing its own half when Ctrl-C comes and waits for the worker in a `finally`
    # (as the normalizers' split does): the worker is killed, not awaited for its 30 s
    start = time.perf_counter()
    waiting = _parallel.fork_call(lambda: _sleep(30))
    timer = _interrupt_me_after(0.5)
    with pytest.raises(KeyboardInterrupt):
        try:
            time.sleep(30)
        finally:
            waiting()
    timer.join()
    assert time.perf_counter() - start < 10
    assert not _children() and not _parallel._LIVE


def test_a_worker_ignores_sigint_and_its_parent_decides():
    # a SIGINT that reaches only the worker does not lose its answer; the parent alone stops work
    waiting = _parallel.fork_call(lambda: _sleep(1.0) + 41)
    time.sleep(0.3)
    os.kill(waiting.pid, signal.SIGINT)
    assert waiting() == 42.0
    assert _parallel.fork_map(_sleep, [0.01, 0.02, 0.03], n_jobs=2) == [0.01, 0.02, 0.03]
    assert not _children()


def test_fork_map_gives_results_in_order_and_a_workers_error():
    assert _parallel.fork_map(abs, list(range(-40, 0)), n_jobs=3) == list(range(40, 0, -1))
    with pytest.raises(ZeroDivisionError):
        _parallel.fork_map(lambda x: 1 / x, [2, 1, 0, 3], n_jobs=2)
    assert not _children() and not _parallel._LIVE


def test_a_ctrl_c_a_library_turned_into_its_own_error_still_exits_130(station, tmp_path, monkeypatch, capsys):
    # pandas' C parser, interrupted reading a file, raises ParserError and drops the KeyboardInterrupt
    import kinmatch.match.pipeline
    from kinmatch.cli import main

    def swallowed(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise ValueError("Calling read(nbytes) on source failed. Try engine='python'.") from None

    def failing(*args, **kwargs):
        raise ValueError("a real error")

    files = station["files"]
    argv = ["link", str(files["residents"]), str(files["missing"]), "-o", str(tmp_path / "c.csv"), "--no-progress"]
    monkeypatch.setattr(kinmatch.match.pipeline, "run_link", swallowed)
    assert main(argv) == 130
    assert "已中断" in capsys.readouterr().err
    monkeypatch.setattr(kinmatch.match.pipeline, "run_link", failing)
    with pytest.raises(ValueError, match="a real error"):  # without a Ctrl-C an error stays an error
        main(argv)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
