"""The standing index at scale: build, link new residents against it, query one record.

    python bench/bench_index.py                          # 100,000 reports (seed 7)
    python bench/bench_index.py --missing 1000000        # the issue's scale
    python bench/bench_index.py --missing 20000 --compare-batch
    python bench/bench_index.py --data /work/data/sim1m_s7 --workdir /tmp/ib1m [--index /tmp/ib1m/index]

Prints, each measured in its own process (wall time, CPU seconds and peak RSS, the process's
forked workers included, and the machine's 1-minute load average before and after, since on a
shared machine wall time says little without it): ``kinmatch index build`` of N reports (the model fitted at build on
2,000 residents), ``kinmatch link NEW.csv --index DIR`` for 30 and for 10,000 new residents end
to end from CSV, and ``Index.open`` plus ``Index.query`` of single new residents (p50 / p95 of
wall and CPU time over ``--queries``). Recall@10 of the 10,000 against the simulation's truth is
printed; ``--compare-batch`` also runs the batch ``kinmatch link NEW.csv MISSING.csv --model M``
on the 30 (and with ``--compare-batch-all`` on the 10,000) and checks the files are identical.

``--add N [N …] --index DIR`` measures instead ``kinmatch index add COPY NEW_REPORTS.csv`` of N new
reports (the first N of the reports file under new ids, ``add-…``) into a fresh copy of the index
at DIR (copied to ``--workdir``; DIR itself is only read), and checks that the index after the add
links the 30 new residents as the batch link does over the same reports with the same model.

``--data DIR`` reads ``residents.csv``, ``missing.csv`` and ``truth.csv`` from DIR (as
``kinmatch.datasets`` writes them) instead of simulating: the first 2,000 residents fit the
model, the rest are new. ``--index DIR`` uses an index built already (from the same files)
instead of building one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FIT_RESIDENTS = 2000


def _measure(args: list[str]) -> dict:
    """Run ``python -m kinmatch ARGS`` and return its wall time and peak RSS (with its children).

    The peak is the process's own high-water mark (``VmHWM``) and its forked workers' maximum:
    ``ru_maxrss`` of a freshly started process would carry over the RSS of this (large) bench
    process that started it, as Linux keeps it across ``exec``."""
    # The figures are printed by an exit handler: run as the program, kinmatch ends its process
    # with os._exit once its exit handlers ran (cli._end_program), so code after run_module would
    # not run; the handler runs on either path, once.
    code = ("import atexit, resource, runpy, sys, time, json\n"
            "t = time.perf_counter()\n"
            f"sys.argv = ['kinmatch'] + {args!r}\n"
            "done = []\n"
            "def report():\n"
            "    if done:\n"
            "        return\n"
            "    done.append(1)\n"
            "    wall = time.perf_counter() - t\n"
            "    try:\n"
            "        own = next(int(line.split()[1]) for line in open('/proc/self/status')\n"
            "                   if line.startswith('VmHWM'))\n"
            "    except OSError:\n"
            "        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "    peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024\n"
            "    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "    cpu = sum(u.ru_utime + u.ru_stime for u in usage)\n"
            "    print('BENCH ' + json.dumps({'seconds': wall, 'peak_mb': peak, 'cpu': cpu}), file=sys.stderr)\n"
            "    sys.stderr.flush()\n"
            "atexit.register(report)\n"
            "code = 0\n"
            "try:\n"
            "    runpy.run_module('kinmatch', run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    code = e.code\n"
            "report()\n"
            "sys.exit(code)\n")
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    total = time.perf_counter() - start
    lines = [line for line in done.stderr.splitlines() if line.startswith("BENCH ")]
    if done.returncode or not lines:
        sys.exit(f"kinmatch {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][6:])
    result["process_seconds"] = total  # interpreter start and imports included
    result["load"] = f"load {load_before:.1f} → {os.getloadavg()[0]:.1f}"  # 1-minute averages, this run's own included
    return result


def _queries(directory: Path, records: pd.DataFrame, n: int) -> dict:
    """Open the index and time ``Index.query`` of ``n`` single records (after one warm-up, which
    loads the reference data and the index's report side), wall and CPU time."""
    from kinmatch.index import Index

    start = time.perf_counter()
    index = Index.open(directory)
    opened = time.perf_counter() - start
    rows = [r.dropna().to_dict() for _, r in records.drop(columns=["source_row"], errors="ignore").iterrows()]
    start = time.perf_counter()
    index.query(rows[0])
    first = time.perf_counter() - start
    times, cpu = [], []
    for row in rows[1:n + 1]:
        start, cpu_start = time.perf_counter(), time.process_time()
        index.query(row, top_k=10)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"open_seconds": opened, "first_seconds": first,
            "p50_ms": 1000 * float(np.percentile(times, 50)), "p95_ms": 1000 * float(np.percentile(times, 95)),
            "cpu_p50_ms": 1000 * float(np.percentile(cpu, 50)), "cpu_p95_ms": 1000 * float(np.percentile(cpu, 95)),
            "n": len(times), "peak_mb": peak}


def _adds(args: argparse.Namespace) -> int:
    """``--add``: time ``kinmatch index add`` of each N new reports into a fresh copy of the index."""
    import shutil

    from kinmatch.index import Index

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_index_add_"))
    work.mkdir(parents=True, exist_ok=True)
    source = Path(args.index)
    data = Path(args.data) if args.data else None
    reports_file = data / "missing.csv" if data else source.parent / "missing.csv"
    residents_file = data / "residents.csv" if data else source.parent / "new_residents.csv"
    failed = 0
    for n in args.add:
        reports = pd.read_csv(reports_file, dtype=str, nrows=n, keep_default_na=False)
        reports["missing_id"] = "add-" + reports["missing_id"]
        new_reports = work / f"add{n}_reports.csv"
        reports.to_csv(new_reports, index=False)
        copy = work / f"index_add{n}"
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(source, copy)
        run = _measure(["index", "add", str(copy), str(new_reports)])
        print(f"index add of {n:,} new reports to {Index.open(copy).info()['counts']['missing'] - n:,}: "
              f"{run['seconds']:.1f} s ({run['process_seconds']:.1f} s with start-up, {run['cpu']:.1f} CPU s), "
              f"peak {run['peak_mb']:,.0f} MB; {run['load']}")
        # the index after the add links as the batch link over the same reports (same model)
        new30 = work / "new30_residents.csv"
        pd.read_csv(residents_file, dtype=str, keep_default_na=False).iloc[FIT_RESIDENTS:FIT_RESIDENTS + 30].to_csv(
            new30, index=False)
        through = work / f"add{n}_index30.csv"
        _measure(["link", str(new30), "--index", str(copy), "-o", str(through), "--no-progress"])
        if args.compare_batch:
            model, everything = work / "index_model.json", work / f"add{n}_all_reports.csv"
            Index.open(copy).model.to_json(model)
            with open(everything, "wb") as out:
                out.write(Path(reports_file).read_bytes())
                out.write(b"".join(new_reports.read_bytes().splitlines(keepends=True)[1:]))
            batch = work / f"add{n}_batch30.csv"
            _measure(["link", str(new30), str(everything), "--model", str(model), "-o", str(batch), "--no-progress"])
            same = batch.read_bytes() == through.read_bytes()
            print(f"  the 30 residents through the index after the add = the batch link over the same reports: {same}")
            failed += not same
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=10_000, help="new residents in the large link run")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", help="keep the files here (default: a temporary folder)")
    parser.add_argument("--data", help="read residents.csv, missing.csv, truth.csv from this folder")
    parser.add_argument("--index", help="an index built already from the same files (skips the build)")
    parser.add_argument("--compare-batch", action="store_true",
                        help="also run the batch link on the 30 new residents and compare the files")
    parser.add_argument("--compare-batch-all", action="store_true",
                        help="with --compare-batch, also the batch link of all the new residents")
    parser.add_argument("--add", type=int, nargs="+", metavar="N",
                        help="measure `kinmatch index add` of N new reports into a copy of --index")
    args = parser.parse_args(argv)
    if args.add:
        if not args.index:
            parser.error("--add needs --index DIR (the index to copy)")
        return _adds(args)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_index_"))
    work.mkdir(parents=True, exist_ok=True)
    files = {"missing": work / "missing.csv", "fit": work / "fit_residents.csv", "new": work / "new_residents.csv",
             "new30": work / "new30_residents.csv"}
    start = time.perf_counter()
    if args.data:
        data = Path(args.data)
        residents = pd.read_csv(data / "residents.csv", dtype=str)
        truth = pd.read_csv(data / "truth.csv", dtype=str)
        files["missing"] = data / "missing.csv"
        residents = residents.drop(columns="source_row", errors="ignore")
        residents = residents.iloc[:FIT_RESIDENTS + args.new]
        described = f"read {data}"
    else:
        import kinmatch

        sim = kinmatch.datasets.simulate(n_missing=args.missing, n_residents=FIT_RESIDENTS + args.new,
                                         seed=args.seed)
        residents, truth = sim.residents.drop(columns="source_row"), sim.truth
        sim.missing.drop(columns="source_row").to_csv(files["missing"], index=False)
        described = f"simulated {args.missing:,} reports (seed {args.seed})"
    fit, new = residents.iloc[:FIT_RESIDENTS], residents.iloc[FIT_RESIDENTS:]
    fit.to_csv(files["fit"], index=False)
    new.to_csv(files["new"], index=False)
    new.iloc[:30].to_csv(files["new30"], index=False)
    print(f"{described}, {FIT_RESIDENTS:,} + {len(new):,} residents in {time.perf_counter() - start:.1f} s → {work}")

    if args.index:
        directory = Path(args.index)
    else:
        directory = work / "index"
        if directory.exists():
            import shutil

            shutil.rmtree(directory)
        build = _measure(["index", "build", str(files["missing"]), "--residents", str(files["fit"]), "-o",
                          str(directory), "--no-progress"])
        size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 2**20
        print(f"index build, reports + model fit on {FIT_RESIDENTS:,} residents: {build['seconds']:.1f} s "
              f"({build['process_seconds']:.1f} s with start-up, {build['cpu']:.1f} CPU s), "
              f"peak {build['peak_mb']:,.0f} MB, {size:,.0f} MB on disk; {build['load']}")

    for label, source in (("30", files["new30"]), (f"{len(new):,}", files["new"])):
        out = work / f"candidates_{label.replace(',', '')}.csv"
        run = _measure(["link", str(source), "--index", str(directory), "-o", str(out), "--no-progress"])
        print(f"link {label} new residents --index, end to end from CSV: {run['process_seconds']:.1f} s "
              f"(in-process {run['seconds']:.1f} s, {run['cpu']:.1f} CPU s), peak {run['peak_mb']:,.0f} MB; "
              f"{run['load']}")

    candidates = pd.read_csv(work / f"candidates_{len(new)}.csv", dtype={"resident_id": str, "missing_id": str})
    truth = truth[truth["resident_id"].astype(str).isin(new["resident_id"].astype(str))]
    truth = truth.astype({"resident_id": str, "missing_id": str})
    found = truth.merge(candidates[candidates["rank"] <= 10], on=["resident_id", "missing_id"])
    print(f"recall@10 of the {len(new):,} new residents through the index: {len(found) / max(len(truth), 1):.3f} "
          f"({len(found)} of {len(truth)} true pairs)")

    # the queries' residents are new ones the 30-resident link did not see; with --new 30 there are
    # none left, so they come from the 30 themselves
    q = _queries(directory, new.iloc[30:] if len(new) > 30 else new, args.queries)
    print(f"Index.open: {q['open_seconds']:.2f} s; first query (reference data, report side): "
          f"{q['first_seconds']:.1f} s; Index.query of one new resident (n={q['n']}): p50 {q['p50_ms']:.0f} ms, "
          f"p95 {q['p95_ms']:.0f} ms (CPU p50 {q['cpu_p50_ms']:.0f} ms, p95 {q['cpu_p95_ms']:.0f} ms); "
          f"peak {q['peak_mb']:,.0f} MB")

    if args.compare_batch:
        model = work / "index_model.json"
        from kinmatch.index import Index

        Index.open(directory).model.to_json(model)
        compared = [("30", files["new30"])] + ([(f"{len(new):,}", files["new"])] if args.compare_batch_all else [])
        for label, source in compared:
            batch_out = work / f"candidates_batch{label.replace(',', '')}.csv"
            batch = _measure(["link", str(source), str(files["missing"]), "--model", str(model),
                              "-o", str(batch_out), "--no-progress"])
            same = batch_out.read_bytes() == (work / f"candidates_{label.replace(',', '')}.csv").read_bytes()
            print(f"batch link of the {label} (same model), end to end: {batch['process_seconds']:.1f} s "
                  f"({batch['cpu']:.1f} CPU s), peak {batch['peak_mb']:,.0f} MB; the same file as through the "
                  f"index: {same}; {batch['load']}")
            if not same:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
