"""Duplicate reports in the standing index (kinmatch/index/clusters.py): stored at build, updated
on add from the pairs of the new and replaced reports only, and a run with clusters against the
index gives the batch run's table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import kinmatch
from kinmatch.index import Index
from kinmatch.index import clusters as stored_clusters
from kinmatch.match.dedupe import dedupe_reports
from kinmatch.match.pipeline import prepare_records, run_link


@pytest.fixture(scope="module")
def sim():
    return kinmatch.datasets.simulate(n_missing=1200, n_residents=120, seed=23)


@pytest.fixture(scope="module")
def model(sim, tmp_path_factory):
    path = tmp_path_factory.mktemp("dedupe_index_model") / "model.json"
    run_link(sim.residents, sim.missing, progress=False).model.to_json(path)
    return path


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.drop(columns=["source_row"], errors="ignore").to_csv(path, index=False)
    return path


def _pairs(clusters: pd.DataFrame) -> set:
    """The report pairs that share a cluster."""
    multi = clusters[clusters["cluster_size"] > 1]
    out = set()
    for ids in multi.groupby("cluster_id")["missing_id"].agg(sorted):
        out.update((a, b) for k, a in enumerate(ids) for b in ids[k + 1:])
    return out


def _stored(directory: Path) -> tuple[dict, pd.DataFrame]:
    """The manifest's record and the full clusters file, as another tool reads them."""
    manifest = kinmatch.index.storage.read_manifest(directory)
    record = manifest["report_clusters"]
    return record, pq.read_table(directory / record["clusters"]).to_pandas()


@pytest.fixture(scope="module")
def built(sim, model, tmp_path_factory):
    directory = tmp_path_factory.mktemp("dedupe_index") / "idx"
    Index.build(directory, missing=[_csv(sim.missing, directory.parent / "m.csv")], model=model, dedupe_reports=True)
    return directory


def test_build_stores_the_batch_clusters(sim, built):
    record, stored = _stored(built)
    batch = dedupe_reports(prepare_records(sim.missing, "missing"))
    assert record["how"] == "built" and record["reports"] == len(sim.missing)
    pd.testing.assert_frame_equal(stored, batch.clusters)
    links = stored_clusters.links(built, kinmatch.index.storage.read_manifest(built))
    assert len(links) == len(batch.links) > 100
    assert record["clusters_with_duplicates"] == batch.clusters.loc[batch.clusters["cluster_size"] > 1,
                                                                    "cluster_id"].nunique()


def test_link_with_dedupe_against_the_index_equals_batch(sim, model, built, tmp_path):
    batch = run_link(sim.residents, sim.missing, model=str(model), progress=False, dedupe_reports=True).table
    assert batch["cluster_members"].notna().sum() > 20
    index = Index.open(built)
    run = index.run(sim.residents, progress=False, dedupe_reports=True)
    pd.testing.assert_frame_equal(run.table, batch)
    # the fast path read the reports met and their clusters' other members, not all of them
    assert len(run.missing) < len(sim.missing)
    # without dedupe the index gives the batch table without clusters
    plain = run_link(sim.residents, sim.missing, model=str(model), progress=False).table
    pd.testing.assert_frame_equal(index.link(sim.residents), plain)
    # the same through the CLI
    from kinmatch.cli import main

    out = tmp_path / "c.csv"
    assert main(["link", str(_csv(sim.residents, tmp_path / "r.csv")), "--index", str(built), "--dedupe", "-o",
                 str(out), "--no-progress", "--jobs", "1"]) == 0
    written = pd.read_csv(out, dtype=str)
    assert written["cluster_members"].fillna("").tolist() == batch["cluster_members"].fillna("").tolist()
    assert written["missing_id"].tolist() == batch["missing_id"].tolist()


def test_new_reports_by_missing_are_clustered_among_themselves(sim, model, tmp_path):
    Index.build(tmp_path / "idx", residents=[_csv(sim.residents, tmp_path / "r.csv")], model=model)
    index = Index.open(tmp_path / "idx")
    table = index.link(sim.missing.iloc[:600], by="missing", dedupe_reports=True)
    batch = run_link(sim.residents, sim.missing.iloc[:600], by="missing", model=str(model), progress=False,
                     dedupe_reports=True).table
    pd.testing.assert_frame_equal(table, batch)
    assert "cluster_members" in table.columns


def test_adds_update_the_clusters_from_the_new_pairs(sim, built, tmp_path):
    """Built in two adds, the clusters are those of all the reports under the build's model
    (the pairs of the first file kept, the new file's pairs scored), and a replaced report is
    clustered again."""
    first, second = sim.missing.iloc[::2], sim.missing.iloc[1::2]  # most people reported twice are in both
    directory = tmp_path / "idx"
    Index.build(directory, missing=[_csv(first, tmp_path / "a.csv")], dedupe_reports=True)
    record0, _ = _stored(directory)
    Index.add(directory, missing=[_csv(second, tmp_path / "b.csv")])
    record, stored = _stored(directory)
    assert record["how"] == "updated" and record["model"] == record0["model"]
    model = stored_clusters._model_from(record)
    everything = prepare_records(sim.missing, "missing")
    same_model = dedupe_reports(everything, model=model)
    incremental, at_once = _pairs(stored), _pairs(same_model.clusters)
    # where they may differ (kinmatch/index/clusters.py): rarity that moved with the file, blocks
    # that outgrew the cap; on this file they agree on all but a few pairs
    assert len(incremental ^ at_once) <= 0.01 * len(at_once)
    # a person reported in both files is one cluster
    persons = _persons(sim)
    across = [(a, b) for a, b in at_once if (a in set(first["missing_id"])) != (b in set(first["missing_id"]))
              and persons[a] == persons[b]]
    assert across and all(pair in incremental for pair in across)
    # one fit on everything finds about the same people (the model is the only other difference)
    fitted = _pairs(_stored(built)[1])
    assert len(incremental & fitted) >= 0.97 * len(fitted)

    # a replaced report: renamed, moved and born elsewhere, it leaves its cluster; its old partners stay
    member = stored[stored["cluster_size"] == 2].iloc[0]
    partner = stored[(stored["cluster_id"] == member["cluster_id"])
                     & (stored["missing_id"] != member["missing_id"])]["missing_id"].item()
    row = sim.missing[sim.missing["missing_id"] == member["missing_id"]].copy()
    row["name"], row["sex"] = "欧阳春花", "女" if row["sex"].item() == "男" else "男"
    row["hometown"], row["birth_date"], row["missing_date"] = "新疆喀什地区疏附县", "1931-02-03", "2001-01-01"
    Index.add(directory, missing=[_csv(row, tmp_path / "edit.csv")])
    record2, after = _stored(directory)
    by_id = after.set_index("missing_id")
    assert by_id.loc[member["missing_id"], "cluster_size"] == 1
    assert by_id.loc[partner, "cluster_size"] == 1
    links = stored_clusters.links(directory, kinmatch.index.storage.read_manifest(directory))
    assert not (links[["missing_id_l", "missing_id_r"]] == member["missing_id"]).any(axis=None)
    # and back: the report as it was joins its partner again
    Index.add(directory, missing=[_csv(sim.missing[sim.missing["missing_id"] == member["missing_id"]],
                                       tmp_path / "back.csv")])
    _, again = _stored(directory)
    assert again.set_index("missing_id").loc[partner, "cluster_id"] == member["cluster_id"]


def _persons(sim) -> dict:
    """Report id → the simulated person who drew it (the simulator draws a person's reports one
    after another; bench/bench_dedupe.py checks this against the truth table)."""
    from kinmatch.datasets.config import DEFAULT_RATES
    from kinmatch.datasets.simulate import reports_per_person

    counts = reports_per_person(len(sim.missing), {**DEFAULT_RATES, **(sim.rates or {})},
                                np.random.default_rng(sim.seed))
    return dict(zip(sim.missing["missing_id"], np.repeat(np.arange(len(counts)), counts)))


def test_refresh_clusters_again_and_old_files_are_collected(sim, built, tmp_path):
    directory = tmp_path / "idx"
    Index.build(directory, missing=[_csv(sim.missing.iloc[:700], tmp_path / "a.csv")], dedupe_reports=True)
    Index.add(directory, missing=[_csv(sim.missing.iloc[700:], tmp_path / "b.csv")])
    Index.refresh(directory)
    record, stored = _stored(directory)
    assert record["how"] == "built"
    pd.testing.assert_frame_equal(stored, _stored(built)[1])
    # two generations are kept; the clusters of older ones are removed with their manifests
    Index.refresh(directory)
    Index.refresh(directory)
    files = {p.name for p in (directory / "derived").iterdir()}
    assert sum(name.endswith(".clusters.parquet") for name in files) == 2


def test_an_index_without_stored_clusters_computes_them_with_a_warning(sim, built, tmp_path):
    import json
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(built, copy)
    name = (copy / "CURRENT").read_text().strip()
    manifest = json.loads((copy / name).read_text())
    manifest["report_clusters"] = None
    (copy / name).write_text(json.dumps(manifest, ensure_ascii=False))
    index = Index.open(copy)
    with pytest.warns(UserWarning, match="stores no clusters"):
        found = index.report_clusters()
    expected = Index.open(built).report_clusters()
    pd.testing.assert_frame_equal(found.clusters[found.clusters["cluster_size"] > 1].reset_index(drop=True),
                                  expected.clusters)


def test_dedupe_on_a_dask_cluster_is_refused_with_the_index(built):
    index = Index.open(built)
    with pytest.raises(kinmatch.errors.InputError, match="Dask"):
        index.run(pd.DataFrame({"resident_id": ["R1"], "name": ["张三"]}), client=object(), dedupe_reports=True)


def test_members_of():
    frame = kinmatch.match.dedupe.ReportClusters(
        pd.DataFrame({"missing_id": ["A", "B", "C", "D"], "cluster_id": ["D-A", "D-A", "D-C", "D-C"],
                      "cluster_size": [2, 2, 2, 2]}), pd.DataFrame(), None, pd.DataFrame())
    assert stored_clusters.members_of(frame, ["B", "X"]).tolist() == ["B", "X", "A"]
    assert sorted(stored_clusters.members_of(frame, np.array(["C", "D"], dtype=object))) == ["C", "D"]


def test_an_add_after_the_clustering_settings_changed_clusters_everything_again(sim, tmp_path):
    import json

    directory = tmp_path / "idx"
    Index.build(directory, missing=[_csv(sim.missing.iloc[:600], tmp_path / "a.csv")], dedupe_reports=True)
    name = (directory / "CURRENT").read_text().strip()
    manifest = json.loads((directory / name).read_text())
    manifest["report_clusters"]["settings"]["threshold"] = 0.5  # stored by another kinmatch's settings
    (directory / name).write_text(json.dumps(manifest, ensure_ascii=False))
    Index.add(directory, missing=[_csv(sim.missing.iloc[600:], tmp_path / "b.csv")])
    record, stored = _stored(directory)
    assert record["how"] == "built" and record["settings"]["threshold"] == 0.9
    pd.testing.assert_frame_equal(stored, dedupe_reports(prepare_records(sim.missing, "missing")).clusters)


def test_an_index_keeps_clusters_only_when_asked(sim, built, tmp_path):
    directory = tmp_path / "plain"
    Index.build(directory, missing=[_csv(sim.missing.iloc[:700], tmp_path / "a.csv")])
    Index.add(directory, missing=[_csv(sim.missing.iloc[700:], tmp_path / "b.csv")])
    manifest = kinmatch.index.storage.read_manifest(directory)
    assert manifest["report_clusters"] is None and not manifest["dedupe_reports"]
    assert not any(p.name.endswith(".clusters.parquet") for p in (directory / "derived").iterdir())
    Index.refresh(directory, dedupe_reports=True)  # from now on kept, and the same as a build with them
    record, stored = _stored(directory)
    assert record["how"] == "built"
    pd.testing.assert_frame_equal(stored, _stored(built)[1])
    Index.add(directory, missing=[_csv(sim.missing.iloc[:5], tmp_path / "c.csv")])  # replaced reports
    assert _stored(directory)[0]["how"] == "updated"
