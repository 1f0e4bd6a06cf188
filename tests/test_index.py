"""The standing index (issue 13): the same answers as a batch run, built at once or day by day,
and safe when a writer is killed or two writers meet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kinmatch
from kinmatch.cli import main
from kinmatch.errors import InputError
from kinmatch.index import Index, IndexBusyError, IndexFormatError
from kinmatch.index.frames import read_frame, write_frame
from kinmatch.match.pipeline import model_version, prepare_records
from kinmatch.normalize.contract import check_normalized


@pytest.fixture(scope="module")
def sim():
    return kinmatch.datasets.simulate(n_missing=800, n_residents=80, seed=13)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.drop(columns=["source_row"], errors="ignore").to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def files(sim, tmp_path_factory):
    """The simulation as station files, a model fitted on them (JSON) and the built index."""
    root = tmp_path_factory.mktemp("index_files")
    residents = _csv(sim.residents, root / "residents.csv")
    missing = _csv(sim.missing, root / "missing.csv")
    model = root / "model.json"
    assert main(["link", str(residents), str(missing), "-o", str(root / "fit.csv"), "--save-model", str(model),
                 "--no-progress"]) == 0
    return {"root": root, "residents": residents, "missing": missing, "model": model}


def _sorted(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    return frame.sort_values(id_column, kind="stable").reset_index(drop=True)


# --- Parquet frames ---------------------------------------------------------------------------


def test_a_normalized_frame_reads_back_cell_for_cell(sim, tmp_path):
    normalized = prepare_records(sim.missing, "missing")
    write_frame(normalized, tmp_path / "m.parquet")
    back = read_frame(tmp_path / "m.parquet")
    assert back.equals(normalized)
    assert list(back.dtypes) == list(normalized.dtypes)
    check_normalized(back, "missing")
    for column in ("marks", "name_keys", "conditions", "alias_norm"):
        assert back[column].map(type).eq(tuple).all(), column


def test_rows_with_the_same_list_share_one_tuple(tmp_path):
    frame = pd.DataFrame({"missing_id": ["M1", "M2", "M3"], "marks": [("痣:脸:左",), ("痣:脸:左",), ()],
                          "event_date": pd.to_datetime(["2020-01-02", None, "2021-05-06"]),
                          "name_evidence": [True, False, True], "hair": [None, "短发", None]})
    write_frame(frame, tmp_path / "f.parquet")
    back = read_frame(tmp_path / "f.parquet")
    assert back.equals(frame)
    assert back["marks"][0] is back["marks"][1]
    assert back["marks"][2] == ()
    assert back["hair"][0] is None


def test_the_files_are_plain_parquet(files, tmp_path):
    import pyarrow.parquet as pq

    Index.build(tmp_path / "idx", missing=[files["missing"]], model=files["model"])
    segments = list((tmp_path / "idx" / "segments").glob("missing-*.parquet"))
    assert len(segments) == 1
    table = pq.read_table(segments[0])
    assert str(table.schema.field("marks").type) == "list<element: string>"
    assert table.num_rows == 800


# --- the same answers -------------------------------------------------------------------------


def test_index_link_equals_batch_link_with_the_same_model(files, tmp_path):
    batch, through_index = tmp_path / "batch.csv", tmp_path / "index.csv"
    assert main(["link", str(files["residents"]), str(files["missing"]), "--model", str(files["model"]),
                 "-o", str(batch), "--no-progress"]) == 0
    assert main(["index", "build", str(files["missing"]), "-o", str(tmp_path / "idx"),
                 "--model", str(files["model"]), "--no-progress"]) == 0
    assert main(["link", str(files["residents"]), "--index", str(tmp_path / "idx"), "-o", str(through_index),
                 "--no-progress"]) == 0
    expected = pd.read_csv(batch)
    assert len(expected) > 500
    assert batch.read_bytes() == through_index.read_bytes()


def test_new_reports_against_indexed_residents_equal_batch_by_missing(files, sim, tmp_path):
    index, _ = Index.build(tmp_path / "idx", residents=[files["residents"]], model=files["model"])
    new_reports = sim.missing.iloc[:300]
    through_index = index.link(new_reports, top_k=5, by="missing")
    batch = kinmatch.link(sim.residents, new_reports, top_k=5, by="missing", model=str(files["model"]),
                          progress=False)
    assert len(batch) > 100
    pd.testing.assert_frame_equal(through_index, batch)


def test_cli_new_reports_against_indexed_residents_equal_batch(files, sim, tmp_path, capsys):
    new_reports = _csv(sim.missing.iloc[100:400], tmp_path / "new_reports.csv")
    batch, through_index = tmp_path / "batch.csv", tmp_path / "index.csv"
    assert main(["link", str(files["residents"]), str(new_reports), "--by", "missing", "--model", str(files["model"]),
                 "-o", str(batch), "--no-progress"]) == 0
    assert main(["index", "build", "-o", str(tmp_path / "idx"), "--residents", str(files["residents"]),
                 "--model", str(files["model"])]) == 0
    assert main(["link", str(new_reports), "--by", "missing", "--index", str(tmp_path / "idx"),
                 "-o", str(through_index), "--no-progress"]) == 0
    assert len(pd.read_csv(batch)) > 100
    assert batch.read_bytes() == through_index.read_bytes()
    # one report at the desk against the indexed residents
    index = Index.open(tmp_path / "idx")
    report = sim.missing.iloc[[150]]
    pd.testing.assert_frame_equal(index.query(report.drop(columns="source_row").iloc[0].dropna().to_dict(),
                                              kind="missing"), index.link(report, by="missing"))
    capsys.readouterr()
    assert main(["link", str(files["residents"]), str(new_reports), "--index", str(tmp_path / "idx"),
                 "-o", str(tmp_path / "x.csv")]) == 2
    assert "with --index give one file" in capsys.readouterr().err


def test_ten_daily_adds_equal_one_build(files, sim, tmp_path):
    at_once, _ = Index.build(tmp_path / "once", missing=[files["missing"]], model=files["model"])
    Index.build(tmp_path / "daily", missing=[_csv(sim.missing.iloc[:80], tmp_path / "day0.csv")],
                model=files["model"])
    for day in range(1, 10):
        part = sim.missing.iloc[day * 80:(day + 1) * 80]
        issues = Index.add(tmp_path / "daily", missing=[_csv(part, tmp_path / f"day{day}.csv")])
        assert not (issues["reason"] == "index_replaced").any()
    daily = Index.open(tmp_path / "daily")
    assert daily.manifest["counts"]["missing"] == 800
    assert len(daily.manifest["segments"]["missing"]) == 10
    # the stored frames hold the same records (source_row differs: each day's file starts at row 2)
    a = _sorted(daily.missing, "missing_id").drop(columns="source_row")
    b = _sorted(at_once.missing, "missing_id").drop(columns="source_row")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(daily.link(sim.residents), at_once.link(sim.residents))


def test_an_add_of_an_indexed_id_replaces_it_and_says_so(files, sim, tmp_path):
    Index.build(tmp_path / "idx", missing=[files["missing"]], model=files["model"])
    edited = sim.missing.iloc[[5, 6]].copy()
    edited["name"] = ["欧阳春花", "司马建国"]
    issues = Index.add(tmp_path / "idx", missing=[_csv(edited, tmp_path / "edited.csv")])
    replaced = issues[issues["reason"] == "index_replaced"]
    assert sorted(replaced["record_id"]) == sorted(edited["missing_id"])
    assert replaced["file"].eq("edited.csv").all()
    assert replaced["message"].str.contains("missing.csv").all()
    index = Index.open(tmp_path / "idx")
    assert index.manifest["counts"]["missing"] == 800
    assert len(index.missing) == 800
    stored = index.missing.set_index("missing_id").loc[edited["missing_id"], "name"].tolist()
    assert stored == ["欧阳春花", "司马建国"]
    # and linking equals a batch run on the edited set of reports
    current = pd.concat([sim.missing[~sim.missing["missing_id"].isin(edited["missing_id"])], edited])
    batch = kinmatch.link(sim.residents, current, model=str(files["model"]), progress=False)
    pd.testing.assert_frame_equal(index.link(sim.residents), batch)


def test_query_of_one_record_equals_link_of_that_record(files, sim, tmp_path):
    index, _ = Index.build(tmp_path / "idx", missing=[files["missing"]], model=files["model"])
    one = sim.residents.iloc[[3]]
    record = one.drop(columns="source_row").iloc[0].dropna().to_dict()
    queried = index.query(record, top_k=10)
    assert 0 < len(queried) <= 10
    pd.testing.assert_frame_equal(queried, index.link(one, top_k=10))
    assert index.query({"name": "吴春花", "sex": "女"})["resident_id"].eq("query").all()


def test_build_with_residents_fits_and_keeps_the_model(files, sim, tmp_path):
    index, _ = Index.build(tmp_path / "idx", missing=[files["missing"]], residents=[files["residents"]])
    assert index.model is not None
    assert index.manifest["model_origin"]["how"] == "fitted"
    version = index.info()["model_version"]
    Index.add(tmp_path / "idx", missing=[_csv(sim.missing.iloc[:5].assign(missing_id=lambda f: f["missing_id"] + "x"),
                                              tmp_path / "more.csv")])
    assert Index.open(tmp_path / "idx").info()["model_version"] == version  # an add does not refit
    # fitted at build as a batch run fits it on the same files
    assert version == model_version(kinmatch.FellegiSunter.from_json(files["model"]))
    refitted = Index.refit(tmp_path / "idx", residents=[sim.residents.iloc[:40]])
    assert refitted.info()["model_version"] != version
    assert refitted.manifest["model_origin"]["residents"] == 40
    given = Index.refit(tmp_path / "idx", model=files["model"])
    assert given.info()["model_version"] == version
    assert given.manifest["model_origin"]["how"] == "given"


def test_an_index_of_another_version_is_refused_with_what_to_do(files, tmp_path):
    Index.build(tmp_path / "idx", missing=[files["missing"]], model=files["model"])
    directory = tmp_path / "idx"
    name = (directory / "CURRENT").read_text().strip()
    manifest = json.loads((directory / name).read_text())
    (directory / name).write_text(json.dumps(manifest | {"reference_data_version": "0000000000000000"}))
    with pytest.raises(IndexFormatError, match="reference data 0000000000000000.*index rebuild"):
        Index.open(directory)
    rebuilt = Index.rebuild(directory)
    assert rebuilt.manifest["counts"]["missing"] == 800
    assert rebuilt.model is not None
    (directory / (directory / "CURRENT").read_text().strip()).write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(IndexFormatError, match="format version 99"):
        Index.open(directory)
    assert main(["index", "info", str(directory)]) == 2


def test_cli_info_and_a_missing_model(files, tmp_path, capsys):
    assert main(["index", "build", str(files["missing"]), "-o", str(tmp_path / "idx"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["index", "info", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert "800 寻人启事 reports" in out and "missing.csv" in out and "none yet" in out
    assert main(["link", str(files["residents"]), "--index", str(tmp_path / "idx"), "-o", str(tmp_path / "c.csv"),
                 "--no-progress"]) == 0
    assert "has no model yet" in capsys.readouterr().err
    assert main(["index", "build", str(files["missing"]), "-o", str(tmp_path / "idx")]) == 2
    assert "an index already" in capsys.readouterr().err
    assert main(["index", "info", str(tmp_path / "nowhere")]) == 2


# --- safe in an office --------------------------------------------------------------------------

# A writer that stops at a chosen point of an add (after writing part of its segment, or with
# the segment written but before the new generation is committed), signals it is there, and waits
# to be killed.
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import kinmatch.index.core as core
    import kinmatch.index.frames as frames
    from kinmatch.index import Index

    index, new_file, ready, where = sys.argv[1:5]

    def pause():
        Path(ready).write_text("here")
        while True:
            time.sleep(1)

    if where == "segment":
        def write_frame(frame, path):
            with open(path, "wb") as handle:
                handle.write(b"PAR1" + b"x" * 1000)
                handle.flush()
                pause()
        core.write_frame = write_frame
    else:
        def commit(directory, manifest):
            pause()
        core.storage.commit = commit
    Index.add(index, missing=[new_file])
""")


def _paused_writer(index: Path, new_file: Path, where: str, tmp_path: Path) -> subprocess.Popen:
    ready = tmp_path / f"ready-{where}"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    process = subprocess.Popen([sys.executable, str(script), str(index), str(new_file), str(ready), where],
                               env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None, "the writer stopped before reaching the pause"
        assert time.monotonic() < deadline, "the writer did not reach the pause"
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("where", ["segment", "commit"])
def test_a_killed_add_leaves_the_index_usable_and_readers_link_meanwhile(files, sim, tmp_path, where):
    directory = tmp_path / "idx"
    index, _ = Index.build(directory, missing=[files["missing"]], model=files["model"])
    before = index.link(sim.residents)
    new = _csv(sim.missing.iloc[:50].assign(missing_id=lambda f: f["missing_id"] + "-new"), tmp_path / "new.csv")
    writer = _paused_writer(directory, new, where, tmp_path)
    try:
        # a reader while the add is under way: the previous generation, whole
        during = Index.open(directory)
        assert during.manifest["counts"]["missing"] == 800
        pd.testing.assert_frame_equal(during.link(sim.residents), before)
        # a second writer meanwhile: it waits, then stops with a clear message; nothing changes
        with pytest.raises(IndexBusyError, match="being written by another process"):
            Index.add(directory, missing=[new], wait=0.5)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    after = Index.open(directory)
    assert after.manifest["counts"]["missing"] == 800
    pd.testing.assert_frame_equal(after.link(sim.residents), before)
    # the lock died with the writer: the next add goes through and clears the leftovers
    issues = Index.add(directory, missing=[new], wait=5)
    assert not (issues["reason"] == "index_replaced").any()
    final = Index.open(directory)
    assert final.manifest["counts"]["missing"] == 850
    named = {s["file"] for s in final.manifest["segments"]["missing"]}
    on_disk = {f"segments/{p.name}" for p in (directory / "segments").iterdir()}
    assert on_disk == named  # the killed writer's segment is gone
    assert set(final.missing["missing_id"]) >= set(pd.read_csv(new)["missing_id"])


def test_the_cli_says_when_another_writer_holds_the_index(files, sim, tmp_path, capsys):
    directory = tmp_path / "idx"
    Index.build(directory, missing=[files["missing"]], model=files["model"])
    new = _csv(sim.missing.iloc[:5].assign(missing_id=lambda f: f["missing_id"] + "-b"), tmp_path / "b.csv")
    writer = _paused_writer(directory, new, "commit", tmp_path)
    try:
        assert main(["index", "add", str(directory), str(new), "--wait", "0.2"]) == 2
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    err = capsys.readouterr().err
    assert "being written by another process" in err and "--wait" in err


def test_many_segments_are_compacted(files, sim, tmp_path, monkeypatch):
    import kinmatch.index.core as core

    monkeypatch.setattr(core, "COMPACT_AFTER", 3)
    Index.build(tmp_path / "idx", missing=[_csv(sim.missing.iloc[:100], tmp_path / "d0.csv")], model=files["model"])
    for day in range(1, 4):
        part = sim.missing.iloc[day * 100:(day + 1) * 100]
        Index.add(tmp_path / "idx", missing=[_csv(part, tmp_path / f"d{day}.csv")])
    index = Index.open(tmp_path / "idx")
    assert len(index.manifest["segments"]["missing"]) < 3
    assert sorted(index.missing["missing_id"]) == sorted(sim.missing["missing_id"].iloc[:400])
    assert np.all(index.missing["missing_id"].value_counts() == 1)


# --- fixed costs out of the run ---------------------------------------------------------------


def _place_lexicon_reference():
    """The accent place lexicon as pandas groups give it: the slow, obvious oracle."""
    import re
    from collections import Counter

    from kinmatch.normalize import dialects

    cur = dialects._counties()[lambda c: c["status"] == "current"]
    lex = {}
    for name_col in ("short_name", "prefecture"):
        groups = {}
        for name, frame in cur.groupby(name_col):
            if name_col == "prefecture":
                name = re.sub(r"(?:市|地区|盟|自治州|[^\s]{0,12}?族自治州)$", "", name)
            if len(name) < 2 or name in dialects._P:
                continue
            groups.setdefault(name, []).append(frame)
        for name, frames in groups.items():
            frame = pd.concat(frames)
            provs = tuple(dict.fromkeys(frame["province_code"]))
            if len(provs) > 1 and name_col == "short_name":
                continue
            area, n = Counter(frame["dialect_area"]).most_common(1)[0]
            sub = Counter(frame["dialect_subarea"].fillna("")).most_common(1)[0][0] or None
            if name not in lex or name_col == "prefecture":
                lex[name] = (area, sub if area == "N_Man" else None, provs, round(0.85 * n / len(frame), 3))
    return lex


def test_the_accent_place_lexicon_equals_the_grouped_reference():
    from kinmatch.normalize import dialects

    lexicon = dialects._place_lexicon()
    reference = _place_lexicon_reference()
    assert len(lexicon) > 2000
    assert list(lexicon.items()) == list(reference.items())


def test_a_build_goes_into_a_new_folder_or_over_an_interrupted_build(files, tmp_path):
    interrupted = tmp_path / "interrupted"
    (interrupted / "segments").mkdir(parents=True)
    (interrupted / ".lock").write_text("")
    (interrupted / "segments" / "missing-000000-dead.parquet").write_bytes(b"PAR1half")
    index, _ = Index.build(interrupted, missing=[files["missing"]], model=files["model"])
    assert index.manifest["counts"]["missing"] == 800
    assert [p.name for p in (interrupted / "segments").iterdir()] == [
        s["file"].split("/")[-1] for s in index.manifest["segments"]["missing"]]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("案卷")
    with pytest.raises(InputError, match="not an empty folder"):
        Index.build(other, missing=[files["missing"]])
