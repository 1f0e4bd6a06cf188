"""Duplicate reports of one person: cluster quality, and linking with and without clusters.

    python bench/bench_dedupe.py quality --seeds 7 3 11           # 2,000 residents x 20,000 reports
    python bench/bench_dedupe.py scale --sim /work/data/sim1m_s7 --missing 100000
    /work/wt/heavy python bench/bench_dedupe.py scale --sim /work/data/sim1m_s7   # 1,000,000 reports
    /work/wt/heavy python bench/bench_dedupe.py scale --residents 10000   # and link 10,000 residents
    python bench/bench_dedupe.py index --data /tmp/kq/quality_2000x20000_s7.pkl --seed 7 --added 1000
    /work/wt/heavy python bench/bench_dedupe.py index --data /tmp/kq/quality_10000x1000000_s7.pkl --seed 7
    /work/wt/heavy python bench/bench_dedupe.py names --data /tmp/kq/quality_10000x1000000_s7.pkl --seed 7

``quality``: per seed, pair precision and recall of the clusters (a pair of reports in one
cluster is right when the simulator drew both for one person), then recall@1/10 and false leads of
``run_link`` without clusters (``before``; with the number of its rows that repeat a cluster the
resident already has a row of), with one row per cluster but without the members' evidence
(``collapsed``, an ablation) and as shipped (``after``): the same normalized frames and clusters;
recall counts a cluster row as a hit for any member. ``scale``: the clustering alone on the first N
reports of a saved simulation (wall, CPU, peak RSS), with its pair precision and recall, then the
link of its first residents against those reports without and with the clusters. ``index``: the
standing index's side of it (:mod:`kinmatch.index.clusters`) on the normalized data
``bench_quality.py --cache`` keeps: the clusters at build (every report), an ``add`` of the last
``--added`` reports to an index of the others (only their pairs scored; agreement with the build
of all), writing and reading them, then the residents linked through the index's fast path with
and without the clusters (its table checked against the batch run's) and their recall and false
leads. ``names``: the clusters of such data with the name priced by its national share and by its
share in the hometown province (:class:`~kinmatch.match.dedupe.RegionalNameComparison`).

The simulator draws a person's reports one after another (``kinmatch.datasets.reports``) and
keeps no person column; :func:`report_persons` redraws the reports-per-person counts from the
seed as :func:`kinmatch.datasets.simulate` does and checks them against the truth table.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

import kinmatch
from kinmatch.datasets import simulate
from kinmatch.datasets.config import DEFAULT_RATES
from kinmatch.datasets.simulate import reports_per_person
from kinmatch.match import dedupe
from kinmatch.match.dedupe import dedupe_reports
from kinmatch.match.evaluate import false_leads, recall_at_k
from kinmatch.match.pipeline import run_link


def report_persons(sim, n_missing: int | None = None) -> np.ndarray:
    """The simulated person behind each report (0, 0, 1, 2, 2, 2, ...), checked against the truth."""
    n_missing = len(sim.missing) if n_missing is None else n_missing
    rates = {**DEFAULT_RATES, **(sim.rates or {})}
    counts = reports_per_person(n_missing, rates, np.random.default_rng(sim.seed))
    person = np.repeat(np.arange(len(counts)), counts)
    position = pd.Series(np.arange(n_missing), index=sim.missing["missing_id"].to_numpy()[:n_missing])
    truth = sim.truth[sim.truth["missing_id"].isin(position.index)]
    check = truth.assign(person=person[position[truth["missing_id"]].to_numpy()])
    if not ((check.groupby("resident_id")["person"].nunique() == 1).all()
            and (check.groupby("person")["resident_id"].nunique() == 1).all()):
        raise RuntimeError("the redrawn reports-per-person counts disagree with the truth table; the simulator "
                           "changed how it draws them — update report_persons")
    return person


def pair_quality(cluster_ids: np.ndarray, person: np.ndarray) -> dict[str, float]:
    """Precision and recall of the report pairs that share a cluster, against the true persons."""
    def pair_count(labels):
        sizes = np.bincount(pd.factorize(labels)[0])
        return int((sizes * (sizes - 1) // 2).sum())

    both = pd.factorize(pd.Series(cluster_ids).astype(str) + "|" + pd.Series(person).astype(str))[0]
    right, predicted, true = pair_count(both), pair_count(cluster_ids), pair_count(person)
    return {"pairs_predicted": predicted, "pairs_true": true, "pair_precision": right / max(predicted, 1),
            "pair_recall": right / max(true, 1)}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_dedupe(missing: pd.DataFrame, regional: bool = False):
    wall, cpu = time.perf_counter(), cpu_seconds()
    settings = None
    if regional:  # the name priced by its share in the reports' hometown province
        comparisons = [dedupe.RegionalNameComparison() if c.name == "name" else c
                       for c in dedupe.default_report_comparisons()]
        settings = dedupe.DedupeSettings(comparisons=comparisons)
    found = dedupe_reports(missing, settings)
    return found, time.perf_counter() - wall, cpu_seconds() - cpu


def load_sim(path: str):
    with open(Path(path) / "sim.pkl", "rb") as handle:
        return pickle.load(handle)


def _no_fill(encoded, clusters, lp, rp, levels):
    return levels.reset_index(drop=True), np.repeat(np.asarray(rp)[:, None], len(encoded.comparisons), axis=1)


def _repeated_rows(table: pd.DataFrame, found) -> int:
    """Rows of a table without clusters whose report is in a cluster the resident already has a row of."""
    cluster = found.clusters.set_index("missing_id")["cluster_id"].reindex(table["missing_id"]).to_numpy()
    return int(pd.DataFrame({"r": table["resident_id"].to_numpy(), "c": cluster}).duplicated().sum())


def quality(args) -> None:
    rows = []
    for seed in args.seeds:
        sim = simulate(n_missing=args.missing, n_residents=args.residents, seed=seed)
        residents = kinmatch.normalize_residents(sim.residents)[0]
        missing = kinmatch.normalize_missing(sim.missing)[0]
        found, wall, cpu = timed_dedupe(missing)
        row = {"seed": seed, "dedupe_s": round(wall, 1), "dedupe_cpu_s": round(cpu, 1)}
        row.update(pair_quality(found.clusters["cluster_id"].to_numpy(), report_persons(sim)))
        row["links_cut"] = int((~found.links["kept"]).sum())
        for label, on in (("before", False), ("collapsed", True), ("after", True)):
            # "collapsed": one row per cluster, without the members' evidence (an ablation)
            fill = dedupe.fill_from_members
            if label == "collapsed":
                dedupe.fill_from_members = _no_fill
            try:
                table = run_link(residents, missing, top_k=10, progress=False, prepared=("resident", "missing"),
                                 dedupe_reports=on, report_clusters=found if on else None).table
            finally:
                dedupe.fill_from_members = fill
            if not on:
                row[f"{label}_rows_of_a_shown_cluster"] = _repeated_rows(table, found)
            recall = recall_at_k(table, sim.truth, ks=(1, 10))
            multi = sim.distortions.loc[sim.distortions["family"] == "multiple_reports", "resident_id"]
            recall_multi = recall_at_k(table, sim.truth, ks=(1, 10), residents=multi)
            leads = false_leads(table, sim.truth)
            row.update({f"{label}_r@1": recall["recall@1"], f"{label}_r@10": recall["recall@10"],
                        f"{label}_multi_r@10": recall_multi["recall@10"],
                        f"{label}_rows": len(table), f"{label}_false_pairs": leads["pairs_above_threshold"],
                        f"{label}_false_residents": leads["residents_with_any_above"]})
        rows.append(row)
        print(pd.Series(row).to_string(), flush=True)
    print(pd.DataFrame(rows).round(4).to_string(index=False))


def scale(args) -> None:
    sim = load_sim(args.sim)
    n = min(args.missing or len(sim.missing), len(sim.missing))
    person = report_persons(sim, n)
    wall, cpu = time.perf_counter(), cpu_seconds()
    missing = kinmatch.normalize_missing(sim.missing.iloc[:n].reset_index(drop=True))[0]
    print(f"normalize {n:,} reports: wall {time.perf_counter() - wall:.1f} s, cpu {cpu_seconds() - cpu:.1f} s",
          flush=True)
    found, wall, cpu = timed_dedupe(missing, args.regional_names)
    print(f"dedupe {n:,} reports: wall {wall:.1f} s, cpu {cpu:.1f} s, peak RSS {peak_rss_gb():.2f} GB")
    print(found.pass_counts.to_string(index=False))
    print(pd.Series(pair_quality(found.clusters["cluster_id"].to_numpy(), person)).to_string())
    print(found.clusters["cluster_size"].value_counts().sort_index().to_string())
    print(f"links {len(found.links):,}, cut by the size guard {int((~found.links['kept']).sum()):,}", flush=True)
    if not args.residents:
        return
    # the whole link of the saved residents against these reports, without and with clusters
    residents = kinmatch.normalize_residents(sim.residents.iloc[:args.residents])[0]
    sim.missing = sim.missing.iloc[:0]
    truth = sim.truth[sim.truth["resident_id"].isin(residents["resident_id"])
                      & sim.truth["missing_id"].isin(missing["missing_id"])]
    for on in (False, True):
        wall, cpu = time.perf_counter(), cpu_seconds()
        table = run_link(residents, missing, top_k=10, progress=False, prepared=("resident", "missing"),
                         dedupe_reports=on, report_clusters=found if on else None).table
        recall, leads = recall_at_k(table, truth, ks=(1, 10)), false_leads(table, truth)
        print(f"link dedupe={on} (clusters given): wall {time.perf_counter() - wall:.1f} s, cpu "
              f"{cpu_seconds() - cpu:.1f} s, peak RSS {peak_rss_gb():.2f} GB, {recall}, false-lead pairs "
              f"{leads['pairs_above_threshold']}, residents {leads['residents_with_any_above']}"
              + ("" if on else f", rows repeating a shown cluster {_repeated_rows(table, found)}"), flush=True)


def _persons_of(missing_ids: np.ndarray, truth: pd.DataFrame, seed: int, rates: dict) -> np.ndarray:
    """:func:`report_persons` for saved normalized data (no Simulation object): the person of each
    report, from the seed's first draw, checked against the truth table."""
    counts = reports_per_person(len(missing_ids), {**DEFAULT_RATES, **rates}, np.random.default_rng(seed))
    person = np.repeat(np.arange(len(counts)), counts)
    check = truth.assign(person=pd.Series(person, index=missing_ids).reindex(truth["missing_id"]).to_numpy())
    if not (check.groupby("resident_id")["person"].nunique() == 1).all():
        raise RuntimeError("the redrawn reports-per-person counts disagree with the truth table")
    return person


def index_mode(args) -> None:
    import tempfile

    from kinmatch.index import clusters as stored
    from kinmatch.index.side import ReportSide, run_against_reports
    from kinmatch.match.settings import resolve_settings

    with open(args.data, "rb") as handle:
        data = pickle.load(handle)
    residents, missing, truth = data["residents"], data["missing"].reset_index(drop=True), data["truth"]
    ids = missing["missing_id"].astype(str).to_numpy(dtype=object)
    rates = {"age_in_birth_date": 0.2} if args.quality_rates else {}
    person = _persons_of(ids, truth, args.seed, rates)
    directory = Path(tempfile.mkdtemp(prefix="bench_dedupe_index_"))
    (directory / "derived").mkdir()

    def timed(label, call):
        wall, cpu = time.perf_counter(), cpu_seconds()
        out = call()
        print(f"{label}: wall {time.perf_counter() - wall:.1f} s, cpu {cpu_seconds() - cpu:.1f} s, "
              f"peak RSS {peak_rss_gb():.2f} GB", flush=True)
        return out

    n, added = len(missing), int(args.added)
    full, _ = timed(f"build: cluster all {n:,} reports", lambda: stored.update(missing, None, directory))
    print(pd.Series(pair_quality(full.clusters["cluster_id"].to_numpy(), person)).to_string())
    before = missing.iloc[:n - added].reset_index(drop=True)
    first, _ = timed(f"build of the first {n - added:,}", lambda: stored.update(before, None, directory))
    manifest = {"generation": 1}
    timed("write the clusters", lambda: stored.save(directory, manifest, first, "built"))
    previous, changed = manifest["report_clusters"], set(ids[n - added:])
    incremental, how = timed(f"add {added:,} reports (their pairs only)",
                             lambda: stored.update(missing, previous, directory, changed))
    assert how == "updated"
    quality = pair_quality(incremental.clusters["cluster_id"].to_numpy(), person)
    print("after the add:", pd.Series(quality).to_string().replace("\n", ", "))
    same = pair_quality(incremental.clusters["cluster_id"].to_numpy(), full.clusters["cluster_id"].to_numpy())
    print(f"the add against one build of all: {same['pair_precision']:.4f} of its pairs are the build's, "
          f"{same['pair_recall']:.4f} of the build's pairs are its")
    manifest = {"generation": 2}
    stored.save(directory, manifest, full, "built")
    loaded = timed("read the clusters (reports with duplicates)", lambda: stored.load(directory, manifest))
    if not args.residents:
        return
    residents = residents.iloc[:args.residents].reset_index(drop=True)
    truth = truth[truth["resident_id"].isin(residents["resident_id"])]
    settings = resolve_settings(None)
    side = timed("report side (index build)", lambda: ReportSide.compute(missing, settings))
    batch = timed("batch link with clusters (model fitted)", lambda: run_link(
        residents, missing, top_k=10, progress=False, prepared=("resident", "missing"), dedupe_reports=True,
        report_clusters=full))
    for on in (False, True):
        run = timed(f"index link dedupe={on}", lambda on=on: run_against_reports(
            residents, side, batch.model, top_k=10, report_clusters=loaded if on else None))
        recall, leads = recall_at_k(run.table, truth, ks=(1, 10)), false_leads(run.table, truth)
        print(f"  {recall}, false leads: {leads['residents_with_any_above']} residents "
              f"({leads['pairs_above_threshold']} pairs), rows {len(run.table):,}, reports read {len(run.missing):,}",
              flush=True)
        if on:
            pd.testing.assert_frame_equal(run.table, batch.table)
            print("  the index's table is the batch run's", flush=True)


def names(args) -> None:
    """The clusters of saved normalized data with the name priced nationally and by province."""
    with open(args.data, "rb") as handle:
        data = pickle.load(handle)
    missing = data["missing"].reset_index(drop=True)
    person = _persons_of(missing["missing_id"].astype(str).to_numpy(dtype=object), data["truth"], args.seed,
                         {"age_in_birth_date": 0.2})
    del data
    for regional in (False, True):
        found, wall, cpu = timed_dedupe(missing, regional)
        quality = pair_quality(found.clusters["cluster_id"].to_numpy(), person)
        sizes = found.clusters["cluster_size"]
        print(f"regional names {regional}: wall {wall:.1f} s, cpu {cpu:.1f} s, peak RSS {peak_rss_gb():.2f} GB, "
              f"{quality}, reports in clusters of 4-8 {int((sizes >= 4).sum())}, "
              f"links cut {int((~found.links['kept']).sum())}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    q = commands.add_parser("quality")
    q.add_argument("--seeds", type=int, nargs="+", default=[7, 3, 11])
    q.add_argument("--residents", type=int, default=2000)
    q.add_argument("--missing", type=int, default=20000)
    s = commands.add_parser("scale")
    s.add_argument("--sim", default="/work/data/sim1m_s7")
    s.add_argument("--missing", type=int, default=None, help="the first N reports (default: all)")
    s.add_argument("--residents", type=int, default=0, help="then link the first N residents (default 0: no link)")
    s.add_argument("--regional-names", action="store_true", help="dedupe.RegionalNameComparison for the name")
    x = commands.add_parser("index")
    x.add_argument("--data", required=True, help="a pickle bench_quality.py --cache wrote (read only)")
    x.add_argument("--seed", type=int, required=True, help="the simulation's seed (to know each report's person)")
    x.add_argument("--added", type=int, default=10000, help="reports added to an index of the others")
    x.add_argument("--residents", type=int, default=100000, help="link the first N residents (0: no link)")
    x.add_argument("--quality-rates", action="store_true", default=True,
                   help="the data were simulated with bench_quality.RATES (its cache's are)")
    c = commands.add_parser("names")
    c.add_argument("--data", required=True, help="a pickle bench_quality.py --cache wrote (read only)")
    c.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    {"quality": quality, "scale": scale, "index": index_mode, "names": names}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
