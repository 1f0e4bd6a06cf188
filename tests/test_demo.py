"""`kinmatch demo` runs end to end and writes the files a station would have."""

from __future__ import annotations

import pandas as pd
import pytest

from kinmatch.cli import main
from kinmatch.commands import demo as demo_module
from kinmatch.commands.demo import MISSING_FILE, MISSING_HEADERS, RESIDENT_HEADERS, RESIDENTS_FILE, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    lines: list[str] = []
    run = run_demo(tmp_path_factory.mktemp("demo"), n_residents=40, n_missing=400, seed=5, echo=lines.append)
    run.lines = lines
    return run


def test_writes_station_files_with_chinese_headers(demo):
    residents = pd.read_csv(demo.out_dir / RESIDENTS_FILE, encoding="utf-8-sig", dtype=str)
    missing = pd.read_csv(demo.out_dir / MISSING_FILE, encoding="gb18030", dtype=str)
    assert list(residents.columns) == list(RESIDENT_HEADERS.values())
    assert list(missing.columns) == list(MISSING_HEADERS.values())
    assert len(residents) == 40 and len(missing) == 400


def test_missing_file_is_gbk_not_utf8(demo):
    raw = (demo.out_dir / MISSING_FILE).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert (demo.out_dir / RESIDENTS_FILE).read_bytes().startswith(b"\xef\xbb\xbf")


def test_no_partial_files_left(demo):
    assert not list(demo.out_dir.rglob("*.part"))


def test_answer_key_matches_the_files(demo):
    truth = pd.read_csv(demo.files["truth"], dtype=str)
    residents = pd.read_csv(demo.out_dir / RESIDENTS_FILE, encoding="utf-8-sig", dtype=str)
    missing = pd.read_csv(demo.out_dir / MISSING_FILE, encoding="gb18030", dtype=str)
    assert truth["resident_id"].isin(residents["编号"]).all()
    assert truth["missing_id"].isin(missing["寻人编号"]).all()


def test_same_seed_same_files(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(demo_module, "STEPS", demo_module.STEPS[:2])  # simulate and write only
    run_demo(tmp_path, n_residents=40, n_missing=400, seed=5, echo=lambda s: None)
    for name in (RESIDENTS_FILE, MISSING_FILE):
        assert (tmp_path / name).read_bytes() == (demo.out_dir / name).read_bytes()


def test_reads_back_through_intake(demo):
    residents = demo.results["residents_frame"]
    missing = demo.results["missing_frame"]
    assert len(residents) == 40 and len(missing) == 400
    sim = demo.results["simulation"]
    # intake gives back the simulated text (blank values aside)
    assert residents["name"].tolist() == sim.residents["name"].tolist()
    assert missing["hometown"].tolist() == sim.missing["hometown"].tolist()
    assert any(line.startswith("intake ") and "issues" in line for line in demo.lines)


def test_every_stage_ran(demo):
    # each stage leaves its result: files, frames, candidates with the recall against the key, notices
    assert {"residents", "missing", "truth", "candidates"} <= set(demo.files)
    assert {"residents_normalized", "missing_normalized", "candidates", "recall", "notices"} <= set(demo.results)
    assert any(line.startswith("notices: ") for line in demo.lines)


def test_cli(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "out"), "--residents", "10", "--missing", "80", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "simulated 10 residents and 80 missing-person reports" in out
    assert (tmp_path / "out" / MISSING_FILE).is_file()


def test_cli_rejects_negative_sizes(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path), "--residents", "-1"]) == 2
    assert "--residents" in capsys.readouterr().err


def test_simulate_command_writes_files_and_answer_key(tmp_path, capsys):
    assert main(["simulate", "-o", str(tmp_path), "--residents", "12", "--missing", "90", "--seed", "4"]) == 0
    assert "12 residents" in capsys.readouterr().out
    truth = pd.read_csv(tmp_path / "answer_key" / "truth.csv", encoding="utf-8-sig", dtype=str)
    missing = pd.read_csv(tmp_path / MISSING_FILE, encoding="gb18030", dtype=str)
    assert len(missing) == 90 and truth["missing_id"].isin(missing["寻人编号"]).all()


def test_simulate_command_refuses_negative_sizes(tmp_path, capsys):
    assert main(["simulate", "-o", str(tmp_path), "--missing", "-5"]) == 2
    assert "n_missing" in capsys.readouterr().err


def test_shows_top_candidates_with_reasons(demo):
    shown = [line for line in demo.lines if line.startswith("  ") and " p=" in line]
    assert shown, "the demo should print residents' top candidates"
    # every shown candidate line carries its explanation, and the truth marks are the answer key's
    assert all(("+" in line or "−" in line) for line in shown)
    assert any(line.lstrip().startswith("✓") for line in shown)
