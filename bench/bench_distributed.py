"""The linking run on one process, and on a local Dask cluster of 1 and 2 worker processes.

    python bench/bench_distributed.py 2000 20000          # residents × reports
    python bench/bench_distributed.py 10000 200000 --modes dask1 dask2
    python bench/bench_distributed.py 5000 100000 --costs  # a worker's per-chunk costs, in-process
    python bench/bench_distributed.py 10000 1000000 --csv /work/data/sim1m_s7 --modes single dask1 dask2

With ``--csv DIR`` the records are not simulated: the reports of ``DIR/missing.csv`` are built
once into a standing index (cached under ``bench/.cache/<DIR name>``, or ``--cache``) and the
first ``n_residents`` of ``DIR/residents.csv`` normalized once beside it; every mode then links
those residents against the index (``Index.run``): ``single``/``forked`` without a client,
``daskW`` on a LocalCluster of W workers with the reports in W partitions (``daskWxP``: P
partitions), the workers reading the index's segment files. ``n_missing`` is then ignored.

Simulated records are normalized once (cached under ``bench/.cache``), then each mode runs in a
fresh process so peak memory is its own: ``single`` is ``run_link(..., n_jobs=1)``, ``forked`` the
default ``run_link`` (candidates, comparisons and explanations in forked workers); ``dask1`` and
``dask2`` are ``run_link(..., client=…)`` on a LocalCluster of 1 or 2 worker processes, one thread
each. Printed per mode: the link's wall time (cluster start-up apart) and speed-up over
``single``, the CPU seconds of the client process and of each worker during the link (steadier
than wall time on a shared machine), the peak RSS of the client and of each worker; then per-chunk costs
(worker seconds per resident for phase 1 and 2, from the Dask task stream) for the paper estimate
in docs/distributed.md. The tables are checked equal to ``single``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import normalized  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_s() -> float:
    """CPU seconds of this process and its finished children (the forked workers of ``forked``)."""
    return _cpu_s() + _cpu_s(resource.RUSAGE_CHILDREN)


def _cache(n_residents: int, n_missing: int, seed: int) -> Path:
    return Path(__file__).parent / ".cache" / f"distributed_{n_residents}x{n_missing}_s{seed}.pkl"


def run_mode(mode: str, n_residents: int, n_missing: int, seed: int, out: Path) -> dict:
    """One mode, in this process: time it, write its table to ``out`` (Parquet), return figures."""
    from kinmatch.match.pipeline import run_link

    residents, missing = normalized(n_residents, n_missing, seed, _cache(n_residents, n_missing, seed))
    figures: dict = {"mode": mode}
    run = _timed(mode, figures, lambda n_jobs: run_link(residents, missing, progress=False, n_jobs=n_jobs),
                 lambda client, partitions: run_link(residents, missing, progress=False, client=client))
    figures["client_peak_mb"] = _peak_mb()
    figures["rows"] = len(run.table)
    figures["pairs"] = len(run.vectors)
    run.table.to_parquet(out)
    return figures



def _timed(mode: str, figures: dict, alone, on_cluster):
    """Run ``alone(n_jobs)`` (modes ``single``, ``forked``) or ``on_cluster(client, partitions)`` on a
    LocalCluster of the mode's workers (``daskW``, ``daskWxP``), filling ``figures`` with wall and
    CPU seconds (and the workers' CPU, peaks and task seconds); return the run."""
    if mode in ("single", "forked"):
        start, cpu = time.perf_counter(), _process_cpu_s()
        run = alone(1 if mode == "single" else None)
        figures["wall_s"] = time.perf_counter() - start
        figures["client_cpu_s"] = _process_cpu_s() - cpu
        figures["workers_peak_mb"], figures["workers_cpu_s"] = [], []
        return run
    from dask.distributed import Client, LocalCluster, get_task_stream

    n_workers, partitions = _dask_mode(mode)
    started = time.perf_counter()
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        figures["startup_s"] = time.perf_counter() - started
        workers_cpu = client.run(_cpu_s)
        start, cpu = time.perf_counter(), _cpu_s()
        with get_task_stream(client) as stream:
            run = on_cluster(client, partitions)
        figures["wall_s"] = time.perf_counter() - start
        figures["client_cpu_s"] = _cpu_s() - cpu
        figures["workers_cpu_s"] = sorted(after - workers_cpu[address]
                                          for address, after in client.run(_cpu_s).items())
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        figures["workers_peak_mb"] = sorted(peaks.values())
        figures["tasks"] = _task_seconds(stream.data)
    return run

def _dask_mode(mode: str) -> tuple[int, int]:
    """(workers, report partitions) of ``daskW`` (W partitions) or ``daskWxP``."""
    workers, _, partitions = mode.removeprefix("dask").partition("x")
    return int(workers), int(partitions or workers)


def csv_cache(csv_dir: Path, n_residents: int, cache: Path | None) -> tuple[Path, Path]:
    """(index folder, normalized residents Parquet) of the records in ``csv_dir``, built once."""
    from kinmatch import intake
    from kinmatch.index import Index
    from kinmatch.index.frames import write_frame
    from kinmatch.match.pipeline import prepare_records

    cache = cache or Path(__file__).parent / ".cache" / Path(csv_dir).name
    index_dir, residents_file = cache / "index", cache / f"residents_{n_residents}.parquet"
    if not (index_dir / "CURRENT").exists():
        started = time.perf_counter()
        Index.build(index_dir, missing=[Path(csv_dir) / "missing.csv"])
        print(f"index of {csv_dir}/missing.csv built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if not residents_file.exists():
        table = pd.read_csv(Path(csv_dir) / "residents.csv", dtype=str, keep_default_na=False).iloc[:n_residents]
        write_frame(prepare_records(intake.read_residents(table).frame, "resident"), residents_file)
    return index_dir, residents_file


def run_index_mode(mode: str, index_dir: Path, residents_file: Path, out: Path) -> dict:
    """One mode against the standing index, in this process (see the module docstring)."""
    from kinmatch.index import Index
    from kinmatch.index.frames import read_frame

    residents = read_frame(residents_file)
    figures: dict = {"mode": mode, "load_before": os.getloadavg()}
    started, cpu = time.perf_counter(), _cpu_s()
    index = Index.open(index_dir)
    figures["open_s"], figures["open_cpu_s"] = time.perf_counter() - started, _cpu_s() - cpu
    run = _timed(mode, figures, lambda n_jobs: index.run(residents, n_jobs=n_jobs),
                 lambda client, partitions: index.run(residents, client=client, report_partitions=partitions))
    figures["load_after"] = os.getloadavg()
    figures["client_peak_mb"] = _peak_mb()
    figures["rows"] = len(run.table)
    figures["pairs"] = len(run.vectors)
    run.table.to_parquet(out)
    return figures


def _task_seconds(records: list[dict]) -> dict[str, list[float]]:
    """Compute seconds of each task, by kind (``kinmatch-candidates-<run>-<n>`` → ``candidates``)."""
    seconds: dict[str, list[float]] = {}
    for record in records:
        parts = str(record["key"]).split("-")
        kind = parts[1] if parts[0] == "kinmatch" else parts[0]
        spent = sum(s["stop"] - s["start"] for s in record.get("startstops", ()) if s.get("action") == "compute")
        seconds.setdefault(kind, []).append(spent)
    return seconds


def chunk_costs(n_residents: int, n_missing: int, seed: int, chunk: int = 500) -> dict:
    """A worker's costs, measured in this process with the worker's own functions: CPU seconds and
    RSS growth of loading one run (read the Parquet files, encode, index the reports' side), then
    CPU seconds per chunk of ``chunk`` residents for phase 1 (candidates + vectors) and phase 2
    (score, rank, explain), the client's fit, and the pairs per resident."""
    import tempfile

    import psutil

    from kinmatch import distributed
    from kinmatch.match.model.fitting import fit_model, random_pairs
    from kinmatch.match.pipeline import EXTRA_COLUMNS, OUTPUT_COLUMNS, empty_table, model_version, score
    from kinmatch.match.settings import LinkSettings

    residents, missing = normalized(n_residents, n_missing, seed, _cache(n_residents, n_missing, seed))
    settings = LinkSettings()
    parts = distributed.TableParts(score, empty_table, model_version,
                                   OUTPUT_COLUMNS + settings.weight_columns + EXTRA_COLUMNS)
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as folder:
        cpu = _cpu_s()
        with distributed.shared_records(residents, missing, folder) as shared:
            write_s = _cpu_s() - cpu
            del residents, missing  # a worker holds only what it reads
            rss, cpu = process.memory_info().rss, _cpu_s()
            distributed._worker_records(shared, settings)
            load = {"load_cpu_s": _cpu_s() - cpu, "load_mb": (process.memory_info().rss - rss) / 2**20}
            results, phase1 = [], []
            for start in range(0, n_residents, chunk):
                cpu = _cpu_s()
                results.append(distributed.candidates_task(shared, settings, start, min(start + chunk, n_residents)))
                phase1.append(_cpu_s() - cpu)
            cpu = _cpu_s()
            all_residents, all_missing = distributed._worker_records(shared, settings)[:2]
            pairs = random_pairs(all_residents, all_missing, settings.n_random_pairs, settings.random_state)
            vectors = pd.concat([r.vectors for r in results])
            model = fit_model(vectors, distributed.compare_task(shared, settings, pairs), n_residents, settings,
                              n_reports=n_missing)
            fit_s = _cpu_s() - cpu
            phase2 = []
            for result in results:
                cpu = _cpu_s()
                distributed.rank_task(shared, settings, parts, result, model, model_version(model), 10)
                phase2.append(_cpu_s() - cpu)
    return {"write_cpu_s": write_s, **load, "chunk": chunk, "phase1_cpu_s": phase1, "phase2_cpu_s": phase2,
            "fit_cpu_s": fit_s, "pairs_per_resident": len(vectors) / n_residents,
            "vectors_mb": vectors.memory_usage(deep=True).sum() / 2**20}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_residents", type=int)
    parser.add_argument("n_missing", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["single", "dask1", "dask2"])
    parser.add_argument("--costs", action="store_true", help="measure a worker's per-chunk costs in this process")
    parser.add_argument("--csv", type=Path, help="link the residents.csv / missing.csv of this folder (through a "
                        "standing index built once) instead of simulated records")
    parser.add_argument("--cache", type=Path, help="with --csv: where the index and residents are kept")
    parser.add_argument("--run-mode", help=argparse.SUPPRESS)  # the child process of one mode
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.costs:
        costs = chunk_costs(args.n_residents, args.n_missing, args.seed)
        p1, p2 = costs["phase1_cpu_s"], costs["phase2_cpu_s"]
        print(f"{args.n_residents} residents × {args.n_missing} reports, chunks of {costs['chunk']} residents")
        print(f"client writes the Parquet files: {costs['write_cpu_s']:.1f} CPU s")
        print(f"worker load (read, encode, index reports): {costs['load_cpu_s']:.1f} CPU s, "
              f"+{costs['load_mb']:.0f} MB RSS")
        print(f"phase 1 per chunk: {sum(p1) / len(p1):.2f} CPU s (min {min(p1):.2f}, max {max(p1):.2f}), "
              f"{sum(p1) / args.n_residents * 1000:.2f} ms per resident")
        print(f"phase 2 per chunk: {sum(p2) / len(p2):.2f} CPU s, {sum(p2) / args.n_residents * 1000:.2f} ms per "
              f"resident")
        print(f"client fit: {costs['fit_cpu_s']:.1f} CPU s; {costs['pairs_per_resident']:.0f} pairs per resident, "
              f"vectors {costs['vectors_mb']:.0f} MB")
        return
    if args.run_mode:
        if args.csv:
            index_dir, residents_file = csv_cache(args.csv, args.n_residents, args.cache)
            figures = run_index_mode(args.run_mode, index_dir, residents_file, Path(args.out))
        else:
            figures = run_mode(args.run_mode, args.n_residents, args.n_missing, args.seed, Path(args.out))
        print(json.dumps(figures))
        return
    started = time.perf_counter()
    if args.csv:
        index_dir, _ = csv_cache(args.csv, args.n_residents, args.cache)
        out_base = index_dir.parent / f"run_{args.n_residents}"
        print(f"{args.n_residents} residents of {args.csv} against its reports (index {index_dir}; data ready in "
              f"{time.perf_counter() - started:.0f} s)")
    else:
        normalized(args.n_residents, args.n_missing, args.seed, _cache(args.n_residents, args.n_missing, args.seed))
        out_base = _cache(args.n_residents, args.n_missing, args.seed)
        print(f"{args.n_residents} residents × {args.n_missing} reports, seed {args.seed} "
              f"(data ready in {time.perf_counter() - started:.0f} s)")
    results, tables = [], {}
    for mode in args.modes:
        out = out_base.with_suffix(f".{mode}.parquet")
        command = [sys.executable, __file__, str(args.n_residents), str(args.n_missing), "--seed", str(args.seed),
                   "--run-mode", mode, "--out", str(out)]
        if args.csv:
            command += ["--csv", str(args.csv)] + (["--cache", str(args.cache)] if args.cache else [])
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        tables[mode] = pd.read_parquet(out)
        out.unlink()
    base = next((r["wall_s"] for r in results if r["mode"] == "single"), None)
    print(f"{'mode':8} {'wall s':>8} {'speed-up':>9} {'client CPU s':>13} {'workers CPU s':>14} "
          f"{'client MB':>10} {'workers peak MB':>16} {'pairs':>9}")
    for r in results:
        speed = f"{base / r['wall_s']:.2f}×" if base else "-"
        workers = ", ".join(f"{mb:.0f}" for mb in r["workers_peak_mb"]) or "-"
        workers_cpu = ", ".join(f"{s:.1f}" for s in r["workers_cpu_s"]) or "-"
        print(f"{r['mode']:8} {r['wall_s']:8.1f} {speed:>9} {r['client_cpu_s']:13.1f} {workers_cpu:>14} "
              f"{r['client_peak_mb']:10.0f} {workers:>16} {r['pairs']:9d}")
    for r in results:
        if r.get("tasks"):
            per = ", ".join(f"{kind} {len(v)}× {sum(v):.1f} s (max {max(v):.1f})"
                            for kind, v in sorted(r["tasks"].items()))
            print(f"{r['mode']}: task compute seconds: {per}; cluster start-up {r['startup_s']:.1f} s")
    for r in results:
        if "load_before" in r:
            print(f"{r['mode']}: load average before {', '.join(f'{x:.1f}' for x in r['load_before'])}, after "
                  f"{', '.join(f'{x:.1f}' for x in r['load_after'])}; Index.open {r['open_s']:.1f} s "
                  f"({r['open_cpu_s']:.1f} CPU s)")
    reference = tables.get("single")
    if reference is not None:
        for mode, table in tables.items():
            pd.testing.assert_frame_equal(table, reference, check_exact=True, obj=f"{mode}'s table")
        print("tables identical to the single-process run: yes")


if __name__ == "__main__":
    main()
