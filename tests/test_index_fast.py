"""The standing index's fast path (kinmatch/index/side.py): a run against the index does only its
own records' work, and its table is still the batch run's, in both directions, after adds and
replaced records, with the report side stored, computed, stale or left behind by later writers."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kinmatch
from kinmatch.index import Index
from kinmatch.index.side import RarityTable, ReportSide, read_arrays, write_arrays
from kinmatch.match.candidates import report_side_state
from kinmatch.match.settings import resolve_settings


@pytest.fixture(scope="module")
def sim():
    return kinmatch.datasets.simulate(n_missing=900, n_residents=90, seed=29)


@pytest.fixture(scope="module")
def model(sim, tmp_path_factory):
    """A model fitted by a batch run, saved as JSON (the index and the batch runs share it)."""
    path = tmp_path_factory.mktemp("fast_model") / "model.json"
    kinmatch.match.pipeline.run_link(sim.residents, sim.missing, progress=False).model.to_json(path)
    return path


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.drop(columns=["source_row"], errors="ignore").to_csv(path, index=False)
    return path


def _edited(frame: pd.DataFrame, column: str, values: list[str]) -> pd.DataFrame:
    edited = frame.copy()
    edited[column] = values
    return edited


def _rewrite_manifest(directory: Path, change) -> None:
    name = (directory / "CURRENT").read_text().strip()
    manifest = json.loads((directory / name).read_text())
    (directory / name).write_text(json.dumps(change(manifest), ensure_ascii=False))


# --- the same answers as the batch run ---------------------------------------------------------


def test_residents_against_reports_after_adds_and_a_replaced_report_equal_batch(sim, model, tmp_path):
    edited = _edited(sim.missing.iloc[[10, 11, 400]], "name", ["欧阳春花", "司马建国", "诸葛秀英"])
    Index.build(tmp_path / "idx", missing=[_csv(sim.missing.iloc[:500], tmp_path / "day0.csv")], model=model)
    Index.add(tmp_path / "idx", missing=[_csv(sim.missing.iloc[500:], tmp_path / "day1.csv")])
    issues = Index.add(tmp_path / "idx", missing=[_csv(edited, tmp_path / "edited.csv")])
    assert (issues["reason"] == "index_replaced").sum() == 3
    current = pd.concat([sim.missing[~sim.missing["missing_id"].isin(edited["missing_id"])], edited])
    batch = kinmatch.link(sim.residents, current, model=str(model), progress=False)
    assert len(batch) > 300

    index = Index.open(tmp_path / "idx")
    with warnings.catch_warnings(action="error"):  # the report side the last add stored is read, not computed
        run = index.run(sim.residents, progress=False)
    pd.testing.assert_frame_equal(run.table, batch)
    # only the reports the residents met were read and encoded
    assert 0 < len(run.missing) < 900
    assert set(run.missing["missing_id"]) == set(run.vectors.index.get_level_values("missing_id"))
    # each resident alone, through query, gives its rows of the same table
    for position in (0, 7, 33):
        record = sim.residents.drop(columns="source_row").iloc[position].dropna().to_dict()
        queried = index.query(record, top_k=10)
        expected = batch[batch["resident_id"] == record["resident_id"]].reset_index(drop=True)
        pd.testing.assert_frame_equal(queried, expected)


def test_new_reports_against_residents_after_adds_and_a_replaced_resident_equal_batch(sim, model, tmp_path):
    edited = _edited(sim.residents.iloc[[3, 60]], "name", ["吴春花", "李建国"])
    Index.build(tmp_path / "idx", residents=[_csv(sim.residents.iloc[:50], tmp_path / "r0.csv")], model=model)
    Index.add(tmp_path / "idx", residents=[_csv(sim.residents.iloc[50:], tmp_path / "r1.csv")])
    Index.add(tmp_path / "idx", residents=[_csv(edited, tmp_path / "edited.csv")])
    current = pd.concat([sim.residents[~sim.residents["resident_id"].isin(edited["resident_id"])], edited])
    new_reports = sim.missing.iloc[200:600]
    batch = kinmatch.link(current, new_reports, top_k=5, by="missing", model=str(model), progress=False)
    assert len(batch) > 200

    index = Index.open(tmp_path / "idx")
    run = index.run(new_reports, top_k=5, by="missing")
    pd.testing.assert_frame_equal(run.table, batch)
    assert 0 < len(run.residents) <= 90
    report = new_reports.drop(columns="source_row").iloc[5].dropna().to_dict()
    expected = batch[batch["missing_id"] == report["missing_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(index.query(report, top_k=5, kind="missing"), expected)


def test_an_index_without_a_stored_report_side_links_the_same_and_says_how_to_store_it(sim, model, tmp_path):
    index, _ = Index.build(tmp_path / "idx", missing=[_csv(sim.missing, tmp_path / "m.csv")], model=model)
    stored = index.link(sim.residents)
    # as an older kinmatch left it: no report side named in the manifest
    _rewrite_manifest(tmp_path / "idx", lambda m: {k: v for k, v in m.items() if k != "report_side"})
    with pytest.warns(UserWarning, match=r"Index\.refresh"):
        computed = Index.open(tmp_path / "idx").link(sim.residents)
    pd.testing.assert_frame_equal(computed, stored)
    refreshed = Index.refresh(tmp_path / "idx")
    assert refreshed.manifest["report_side"]["fingerprint"] == index.manifest["report_side"]["fingerprint"]
    with warnings.catch_warnings(action="error"):
        pd.testing.assert_frame_equal(refreshed.link(sim.residents), stored)
    # one of another kinmatch (another fingerprint) is computed again as well
    _rewrite_manifest(tmp_path / "idx", lambda m: m | {"report_side": m["report_side"] | {"fingerprint": "0" * 16}})
    with pytest.warns(UserWarning, match="older kinmatch"):
        pd.testing.assert_frame_equal(Index.open(tmp_path / "idx").link(sim.residents), stored)


def test_the_stored_report_side_is_the_computed_one(sim, model, tmp_path):
    index, _ = Index.build(tmp_path / "idx", missing=[_csv(sim.missing, tmp_path / "m.csv")], model=model)
    loaded = index.report_side()
    computed = ReportSide.compute(index.missing, resolve_settings(None))
    assert loaded.fingerprint == computed.fingerprint

    def same(a, b, where):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, obj=where)
        elif isinstance(a, pd.Index):
            pd.testing.assert_index_equal(a, b, obj=where)
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype or {a.dtype.kind, b.dtype.kind} == {"U", "O"}, where
            np.testing.assert_array_equal(a, b, err_msg=where)
        elif isinstance(a, dict):
            assert a.keys() == b.keys(), where
            for key in a:
                same(a[key], b[key], f"{where}.{key}")
        else:
            assert a == b, where

    same(report_side_state(loaded.reports), report_side_state(computed.reports), "reports")
    for name, table in computed.rarity.items():
        assert dict(loaded.rarity[name].items()) == table, name
    assert loaded.rows.equals(computed.rows)
    np.testing.assert_array_equal(loaded.order, computed.order)


def test_an_opened_index_still_links_what_it_opened_after_writers_removed_those_files(sim, model, tmp_path):
    first = _csv(sim.missing.iloc[:600], tmp_path / "m0.csv")
    Index.build(tmp_path / "idx", missing=[first], model=model)
    opened = Index.open(tmp_path / "idx")  # nothing read yet
    for day in range(3):
        Index.add(tmp_path / "idx", missing=[_csv(sim.missing.iloc[600 + 100 * day:700 + 100 * day],
                                                   tmp_path / f"m{day + 1}.csv")])
    derived = {p.name for p in (tmp_path / "idx" / "derived").iterdir() if p.suffix in (".arrays", ".arrow")}
    assert len(derived) == 4  # the two kept generations' arrays and rows: the opened one's are gone
    assert opened.manifest["report_side"]["arrays"].split("/")[1] not in derived
    batch = kinmatch.link(sim.residents, sim.missing.iloc[:600], model=str(model), progress=False)
    pd.testing.assert_frame_equal(opened.link(sim.residents), batch)
    assert len(opened.missing) == 600


# --- the stored arrays -------------------------------------------------------------------------


def test_arrays_are_stored_aligned_and_read_back_in_place():
    arrays = {"ids": np.array(["M1", "M22", "M333"]), "day": np.array([1.5, np.nan, 3.0]),
              "bits": np.arange(7, dtype=np.uint32), "empty": np.empty(0, dtype=np.int64),
              "grid": np.arange(6, dtype=np.int8).reshape(2, 3)}
    path = Path(__import__("tempfile").mkdtemp()) / "a.arrays"
    with open(path, "wb") as handle:
        write_arrays(handle, {"note": "二"}, arrays)
    with open(path, "rb") as handle:
        skeleton, back = read_arrays(handle)
    assert skeleton == {"note": "二"}
    for name, array in arrays.items():
        np.testing.assert_array_equal(back[name], array)
        assert back[name].dtype == array.dtype and back[name].flags.aligned
        assert not back[name].flags.writeable
    path.unlink()  # the arrays stay readable once mapped
    assert back["ids"][2] == "M333"


def test_object_arrays_are_neither_written_nor_read(tmp_path):
    with pytest.raises(TypeError, match="object arrays"):
        write_arrays(io.BytesIO(), {}, {"ids": np.array(["M1", None], dtype=object)})
    path = tmp_path / "a.arrays"
    with open(path, "wb") as handle:
        write_arrays(handle, {}, {"ids": np.array([1, 2])})
    data = path.read_bytes().replace(b'"<i8"', b'"|O" ', 1)
    path.write_bytes(data)
    with open(path, "rb") as handle, pytest.raises(ValueError, match="object arrays are not read"):
        read_arrays(handle)
    path.write_bytes(b"PK\x03\x04" + data[4:])
    with open(path, "rb") as handle, pytest.raises(ValueError, match="not a kinmatch arrays file"):
        read_arrays(handle)


@pytest.mark.parametrize("key, expected", [
    ("li wei", 0.25), ("wang fang", 0.5), ("zhang", None), ("", None), ("a" * 40, None), (7, None),
])
def test_a_rarity_table_answers_as_its_dict(key, expected, monkeypatch):
    table = {"li wei": 0.25, "wang fang": 0.5, "zz": 0.125}
    keys = np.array(sorted(table))
    rarity = RarityTable(keys, np.array([table[k] for k in keys.tolist()]))
    assert rarity.get(key) == expected
    assert (key in rarity) == (expected is not None)
    assert len(rarity) == 3 and list(rarity) == sorted(table)
    if expected is None:
        with pytest.raises(KeyError):
            rarity[key]
    # past the lookups it answers one by one, it turns itself into a dict, with the same answers
    monkeypatch.setattr(RarityTable, "LOOKUPS_BEFORE_DICT", 2)
    for _ in range(3):
        assert rarity.get(key, -1.0) == (expected if expected is not None else -1.0)
    assert rarity._dict == table


def test_candidates_looked_up_by_worker_processes_are_those_of_one_process(sim, model, tmp_path, monkeypatch):
    from kinmatch.index import side

    index, _ = Index.build(tmp_path / "idx", missing=[_csv(sim.missing, tmp_path / "m.csv")], model=model)
    one = index.run(sim.residents, n_jobs=1)
    monkeypatch.setattr(side, "PARALLEL_MIN_RECORDS", 10)
    forked = index.run(sim.residents, n_jobs=2)
    pd.testing.assert_frame_equal(forked.table, one.table)
    pd.testing.assert_frame_equal(forked.candidate_counts, one.candidate_counts)
    assert one.candidate_counts.set_index("pass").loc["union", "kept"] == len(one.vectors) > 0


def test_an_index_closes_the_files_it_holds(sim, model, tmp_path):
    Index.build(tmp_path / "idx", missing=[_csv(sim.missing, tmp_path / "m.csv")], model=model)
    with warnings.catch_warnings(action="error"):  # an unclosed file would warn (ResourceWarning)
        with Index.open(tmp_path / "idx") as index:
            table = index.link(sim.residents.iloc[:20])
            handles = index._segments["missing"].handles
        assert all(handle.closed for handle in handles)
        opened = Index.open(tmp_path / "idx")
        del opened
        import gc

        gc.collect()
    assert len(table) > 0


def test_a_model_given_to_an_opened_index_is_the_one_its_tables_name(sim, model, tmp_path):
    index, _ = Index.build(tmp_path / "idx", missing=[_csv(sim.missing, tmp_path / "m.csv")], model=model)
    first = index.link(sim.residents.iloc[:10])
    other = json.loads(Path(model).read_text())
    other["lambda"] = other["lambda"] / 2  # as `kinmatch link --index DIR --model OTHER.json` gives
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other))
    index.model = kinmatch.FellegiSunter.from_json(other_path)
    second = index.link(sim.residents.iloc[:10])
    assert first["model_version"].nunique() == second["model_version"].nunique() == 1
    assert second["model_version"].iloc[0] == kinmatch.match.pipeline.model_version(index.model)
    assert second["model_version"].iloc[0] != first["model_version"].iloc[0]


def test_a_large_run_gives_back_the_lookups_pages_and_compares_on_two_processes(sim, model, tmp_path, monkeypatch):
    """Above PARALLEL_MIN_RECORDS residents the run releases the arrays file's pages after the
    lookup, and above PARALLEL_MAX_REPORTS reports met it compares on two processes: the table is
    the batch run's (the thresholds lowered so a small index takes those paths)."""
    from kinmatch.index import side as index_side
    from kinmatch.match import pipeline

    index_path = tmp_path / "idx"
    Index.build(index_path, missing=[_csv(sim.missing, tmp_path / "missing.csv")], model=model)
    batch = kinmatch.link(sim.residents, sim.missing, model=str(model), progress=False)
    released, jobs = [], []
    release = index_side.ReportSide.release_arrays
    monkeypatch.setattr(index_side.ReportSide, "release_arrays", lambda self: (released.append(1), release(self)))
    rank = pipeline.rank_candidates

    def spied(*args, **kwargs):
        jobs.append(args[9])
        return rank(*args, **kwargs)

    monkeypatch.setattr(pipeline, "rank_candidates", spied)
    monkeypatch.setattr(index_side, "PARALLEL_MIN_RECORDS", 10)
    monkeypatch.setattr(pipeline, "PARALLEL_MAX_REPORTS", 10)
    monkeypatch.setattr(pipeline.engine, "PARALLEL_MIN_PAIRS", 10)
    table = Index.open(index_path).link(sim.residents, progress=False)
    pd.testing.assert_frame_equal(table, batch)
    assert released == [1] and jobs == [min(2, kinmatch._parallel.resolve_jobs(None))]
