"""Index.link on a Dask cluster (kinmatch.distributed.run_on_index), and report partitions.

The workers read the index's own segment files; with ``report_partitions`` each loads a share
of the reports, and the chunks' candidate lists are merged before ranking. Every table must be
the one ``Index.link`` gives without a client, row for row.
"""

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

import kinmatch.distributed  # noqa: E402
from kinmatch.index import Index  # noqa: E402
from kinmatch.match import candidates as C  # noqa: E402
from kinmatch.match.pipeline import prepare_records  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    from kinmatch.datasets.simulate import simulate

    return simulate(n_missing=2400, n_residents=240, seed=15)


@pytest.fixture(scope="module")
def index(sim, tmp_path_factory):
    """An index of two segments: the reports in two adds, the second replacing 30 of the first's."""
    path = tmp_path_factory.mktemp("index") / "idx"
    first, second = sim.missing.iloc[:1500], sim.missing.iloc[1470:]
    Index.build(path, missing=[first])
    Index.add(path, missing=[second], on_duplicate="stop")
    opened = Index.open(path)
    assert len(opened.manifest["segments"]["missing"]) == 2 and len(opened.missing) == len(sim.missing)
    return opened


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def alone(index, sim):
    return index.run(sim.residents, top_k=10)


def _same_run(got, expected):
    pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)
    pd.testing.assert_frame_equal(got.vectors, expected.vectors, check_exact=True)
    pd.testing.assert_frame_equal(got.candidate_counts, expected.candidate_counts, check_exact=True)
    assert got.model.to_json() == expected.model.to_json()


@pytest.mark.parametrize("partitions", [1, 3])
def test_index_on_a_cluster_equals_the_index_alone(index, sim, client, alone, partitions):
    got = index.run(sim.residents, top_k=10, client=client, report_partitions=partitions, chunk_size=70)
    assert got.table["resident_id"].nunique() > 150
    _same_run(got, alone)


def test_the_workers_read_the_index_files_not_a_copy(index, sim, client, monkeypatch):
    """Only the residents are written for the run; the reports are read from the segments."""
    written = []
    real = kinmatch.distributed.write_records
    monkeypatch.setattr(kinmatch.distributed, "write_records", lambda frame, url: (written.append(url),
                                                                                    real(frame, url))[1])
    table = index.link(sim.residents.iloc[:50], top_k=3, client=client, report_partitions=2)
    assert len(table) and [url.rsplit("/", 1)[-1] for url in written] == ["residents.parquet"]


def test_by_missing_on_a_cluster(sim, client, tmp_path):
    path = tmp_path / "residents-index"
    Index.build(path, missing=[sim.missing.iloc[:1200]], residents=[sim.residents])
    index = Index.open(path)
    new_reports = sim.missing.iloc[1200:1500]
    expected = index.link(new_reports, by="missing", top_k=5)
    got = index.link(new_reports, by="missing", top_k=5, client=client)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    with pytest.raises(kinmatch.errors.InputError, match="report_partitions=1"):
        index.link(new_reports, by="missing", client=client, report_partitions=2)


def _with_candidate_options(settings):
    """The issue-12 candidate options: passes for the nameless / the named only, fitted pre-score."""
    from dataclasses import replace

    from kinmatch.match.passes import CONDITION_PASSES

    regular = [p for p in settings.passes if not p.fallback]
    fallback = [p for p in settings.passes if p.fallback]
    return replace(settings, passes=(*regular, *CONDITION_PASSES, *fallback),
                   prescore_weights=dict(C.FITTED_PRESCORE_WEIGHTS))


@pytest.mark.parametrize("partitions, chunk, options", [(2, 40, False), (5, 17, False), (9, 240, False),
                                                        (3, 60, True)])
def test_partitioned_candidates_equal_the_whole(sim, partitions, chunk, options):
    """In one process: each pass against each partition, merged, is the one run over all reports —
    pairs, pass sets, pre-scores and every per-pass count. Small caps make the merges cut."""
    residents, missing = prepare_records(sim.residents, "resident"), prepare_records(sim.missing, "missing")
    settings = C.CandidateSettings(max_per_resident=25, few_candidates=40, chunk_size=100)
    settings = settings.with_pass("name_sound", cap=8)
    if options:
        settings = _with_candidate_options(settings).with_pass("conditions", cap=6)
    whole = C.packed_candidate_pairs(residents, missing, settings, progress=False)
    statistics = C.report_statistics(missing[C.statistics_columns(settings)], settings)
    edges = kinmatch.distributed.partition_edges(len(missing), partitions)
    sides = [(a, C.report_side(missing.iloc[a:b].reset_index(drop=True), settings, statistics))
             for a, b in zip(edges[:-1], edges[1:])]
    got, counts = [], []
    for start in range(0, len(residents), chunk):
        part = residents.iloc[start:start + chunk].reset_index(drop=True)
        first = [C.partition_pairs(part, side, settings, offset) for offset, side in sides]
        needy = C.needy_residents(first, settings)
        more = [C.partition_pairs(part, side, settings, offset, fallback=True, targets=needy) for offset, side in sides]
        r, m, bits, prescore, count = C.merge_partitions(first, more, len(missing), settings)
        got.append((r + start, m, bits, prescore))
        counts.append(count.set_index("pass"))
    r, m, bits, prescore = (np.concatenate(arrays) for arrays in zip(*got))
    ids = residents["resident_id"].astype(str).to_numpy()
    assert np.array_equal(ids[r], whole.resident_ids[whole.residents])
    assert np.array_equal(missing["missing_id"].astype(str).to_numpy()[m], whole.missing_ids[whole.reports])
    assert np.array_equal(bits, whole.pass_bits) and np.array_equal(prescore, whole.prescore)
    pd.testing.assert_frame_equal(sum(counts[1:], counts[0]).reset_index(), whole.counts, check_dtype=False)
    assert whole.counts.set_index("pass").loc["name_sound", "capped"] > 0  # the caps did cut


def test_partition_statistics_matter(sim):
    """Without the statistics of all reports a partition indexes differently (so the test above
    would fail without them): the rare-surname pass's key shares differ in a small partition."""
    missing = prepare_records(sim.missing, "missing")
    settings = C.CandidateSettings()
    whole = C.report_statistics(missing, settings)
    part = C.report_statistics(missing.iloc[:300], settings)
    assert whole.shares["surname_sounds"] != part.shares["surname_sounds"]


def test_cli_index_with_workers_writes_the_table_of_the_index_alone(index, sim, client, tmp_path):
    from kinmatch.cli import main

    residents = tmp_path / "residents.csv"
    sim.residents.iloc[:60].to_csv(residents, index=False)
    alone, on_cluster = tmp_path / "alone.csv", tmp_path / "cluster.csv"
    assert main(["link", str(residents), "--index", str(index.path), "-o", str(alone), "--no-progress",
                 "--jobs", "1"]) == 0
    assert main(["link", str(residents), "--index", str(index.path), "-o", str(on_cluster), "--no-progress",
                 "--scheduler", client.scheduler.address, "--report-partitions", "2"]) == 0
    assert on_cluster.read_bytes() == alone.read_bytes()


def test_partitions_refuse_other_sex_pairs_capped_apart(sim):
    residents, missing = prepare_records(sim.residents, "resident"), prepare_records(sim.missing, "missing")
    settings = C.CandidateSettings().with_pass("name_sound", other_sex_cap=5)
    side = C.report_side(missing, settings, C.report_statistics(missing, settings))
    with pytest.raises(ValueError, match="other_sex_cap"):
        C.partition_pairs(residents.iloc[:10], side, settings, 0)
