"""``kinmatch link RESIDENTS MISSING -o CANDIDATES.csv``: ranked, explained candidates.

    kinmatch link residents.xlsx missing.csv -o candidates.csv --top-k 10
    kinmatch link residents.xlsx missing.csv -o by_report.csv --by missing --model model.json
    kinmatch link residents.xlsx missing.csv -o candidates.csv --save-model model.json
    kinmatch link residents.xlsx missing.csv -o candidates.csv --db cases.db   # the store's current model
    kinmatch link residents.xlsx --index studio-index -o candidates.csv       # against a standing index
    kinmatch link new-reports.csv --by missing --index studio-index -o by_report.csv

The CSV is written atomically (UTF-8 with BOM so Excel shows the Chinese text; text cells that a
spreadsheet would run as a formula are escaped, see :func:`kinmatch._io.write_csv`): a failed or
interrupted run leaves any earlier file untouched. The issues file is written after the
candidates, so it only ever describes a finished run. New files follow the user's umask.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import pandas as pd

from kinmatch._gc import gc_paused
from kinmatch._io import CsvParts, write_csv
from kinmatch.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "link", help="rank missing-person reports for each resident, with explanations",
        description="Link residents (受助人员) to missing-person reports (寻人启事): candidates, comparisons, "
                    "a Fellegi-Sunter model, and the top-k candidates per resident with readable reasons.")
    parser.add_argument("residents", help="resident file (CSV or .xlsx, Chinese or English headers)")
    parser.add_argument("missing", nargs="?", help="missing-person report file (CSV or .xlsx); with --index, "
                        "leave it out (or, with --by missing, give the new reports as the one file)")
    parser.add_argument("-o", "--output", required=True, help="candidate table to write (CSV)")
    parser.add_argument("--top-k", type=int, default=10, help="candidates per resident (default 10)")
    parser.add_argument("--by", choices=["resident", "missing"], default="resident",
                        help="rank reports per resident (default) or residents per report")
    parser.add_argument("--model", help="use this fitted model (JSON from --save-model) instead of fitting one")
    parser.add_argument("--db", help="a case store (file path or postgresql+psycopg:// URL): use the model "
                        "`kinmatch train --save M.json --make-default` last recorded there, unless --model is given")
    parser.add_argument("--index", metavar="DIR", help="link the one file given against a standing index "
                        "(`kinmatch index build`): residents against its reports, or with --by missing new "
                        "reports against its residents; the index's model is used unless --model is given")
    parser.add_argument("--save-model", help="write the fitted model's JSON here (m/u tables an auditor can read)")
    parser.add_argument("--issues", help="where to write the input files' issues table (CSV); default: "
                        "next to the output as <output>.issues.csv, written only when there are issues")
    parser.add_argument("--jobs", type=int, metavar="N", help="worker processes for large runs (default: every "
                        "CPU up to 300,000 reports, one process above, where memory is the limit)")
    # issue 14: the run on a Dask cluster (kinmatch.distributed)
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, metavar="N", help="run on a new local Dask cluster of N worker "
                         "processes (needs pip install \"kinmatch[dask]\")")
    cluster.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run on this Dask cluster's scheduler")
    parser.add_argument("--shared-dir", metavar="DIR", help="with --scheduler: a folder or URL (s3://…) every "
                        "worker can read, where the normalized records are written once")
    parser.add_argument("--report-partitions", type=int, default=1, metavar="P", help="with --index and --workers "
                        "or --scheduler: split the indexed reports in P partitions, each loaded by one worker "
                        "(for reports larger than a worker's memory; the output is the same)")
    parser.add_argument("--on-duplicate", choices=["stop", "first", "last"], default="stop",
                        help="rows that share an id: stop and say which (default), or keep the first / last row "
                             "of each id (the others go to the issues table as row_skipped)")
    parser.add_argument("--dedupe", action="store_true",
                        help="cluster the reports that describe one person (the family's, the police's, a volunteer "
                             "group's) and show each cluster as one candidate, with cluster_id and cluster_members "
                             "columns (default: every report is its own candidate)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _freeze_if_exiting(args: argparse.Namespace, result: object = None) -> None:
    """When the process ends after this command (``kinmatch link`` as a program, see
    :func:`kinmatch.cli.main`), freeze the run's objects out of the collector before it resumes:
    its first collection would otherwise scan them all only to find them alive; and keep the
    run's ``result`` (its frames and tables) to the end, which the process leaves without
    freeing anything, rather than free it object by object when the command returns."""
    if getattr(args, "exits_after", False):
        gc.freeze()
        args.kept_to_the_end = result


def _check_input(path: str, kind: str) -> Path:
    """``path`` as a Path, or an InputError when it is a folder or no file."""
    file = Path(path)
    if file.is_dir():
        raise InputError(f"{kind} file {path!r} is a folder; give the CSV or .xlsx file inside it")
    if not file.is_file():
        raise InputError(f"{kind} file {path!r} does not exist; check the path")
    return file


def _read_with_issues(path: str, kind: str, on_duplicate: str = "stop") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an input file through intake; return the frame and its issues (with a ``file`` column)."""
    from kinmatch import intake

    file = _check_input(path, kind)
    frame, issues = intake.read_records(file, kind, on_duplicate)
    return frame, issues.assign(file=file.name)


def read_input(path: str, kind: str) -> pd.DataFrame:
    """Read an input file through intake; its issues are summarised on stderr."""
    frame, issues = _read_with_issues(path, kind)
    if len(issues):
        print(f"{Path(path).name}: {len(issues)} intake issue(s) (values kept blank or flagged)", file=sys.stderr)
    return frame


def _write_issues(issues: pd.DataFrame, output: str, target: str | None) -> Path | None:
    """Write the intake issues of both files (what happened to every touched row) beside the output."""
    if issues.empty:
        return None
    out = Path(target) if target else Path(output).with_name(Path(output).stem + ".issues.csv")
    write_csv(issues, out)
    by_reason = issues.groupby("reason").size().sort_values(ascending=False)
    summary = ", ".join(f"{reason} {count}" for reason, count in by_reason.items())
    print(f"{len(issues)} intake issue(s) ({summary}) → {out}", file=sys.stderr)
    return out


def _store_model(db: str) -> str | None:
    """The path of the model ``kinmatch train --save`` recorded as the store's current one."""
    from kinmatch.review.store import Store

    store = Store(db, create=False)  # a typo in --db must not create an empty store
    try:
        current = store.default_model()
    finally:
        store.close()
    if current is None:
        print(f"{db}: no model recorded yet (`kinmatch train --db {db} --save MODEL.json --make-default` "
              f"records one when it is better); "
              f"fitting a model on these files", file=sys.stderr)
        return None
    if not Path(current["path"]).is_file():
        raise InputError(f"the store's current model {current['path']!r} no longer exists; run "
                         f"`kinmatch train --db {db} --save MODEL.json --make-default` again, or pass --model")
    print(f"using the store's current model {current['path']} (saved {current['saved_at']})", file=sys.stderr)
    return current["path"]


def run(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, not {args.top_k}")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, not {args.jobs}")
    if args.db and not args.model:
        args.model = _store_model(args.db)
    if args.model and not Path(args.model).is_file():
        raise InputError(f"model file {args.model!r} does not exist; pass the JSON written by --save-model, "
                         f"or leave --model out to fit a model on these files")
    if args.index:
        return _run_against_index(args)
    if args.missing is None:
        raise InputError("give both a resident file and a missing-person report file, or link one file "
                         "against a standing index with --index DIR")
    # The collector stays paused from reading to the written files: the run's millions of small
    # objects (parsed values, keys, explanations) would otherwise be scanned by every full
    # collection only to be found alive (~0.5 s at 2,000 × 20,000).
    with gc_paused():
        result = _link_files(args)
        _freeze_if_exiting(args, result)
    if args.save_model and result.model is not None:
        if not hasattr(result.model, "to_json"):
            raise InputError("this model cannot be saved as JSON")
        result.model.to_json(args.save_model)
    counts = result.candidate_counts
    kept = int(counts.set_index("pass").loc["union", "kept"]) if len(counts) else 0
    print(f"{len(result.table)} candidate rows for {result.table['resident_id'].nunique()} residents "
          f"({kept} pairs compared) → {args.output}", file=sys.stderr)
    return 0


def _link_files(args: argparse.Namespace):
    """The batch run: both files read, normalized, linked; the candidates and issues written."""
    from kinmatch.distributed import cluster_client  # issue 14: a Dask client, or None without the options
    from kinmatch.match.pipeline import prepare_pair, run_link

    residents, resident_issues = _read_with_issues(args.residents, "resident", args.on_duplicate)
    read: dict = {}

    def read_missing() -> pd.DataFrame:
        read["missing"], read["issues"] = _read_with_issues(args.missing, "missing", args.on_duplicate)
        return read["missing"]

    # the reports are read and normalized while a worker normalizes the residents
    residents, missing = prepare_pair(residents, read_missing, args.on_duplicate, args.jobs)
    # the rows are made into text where they were ranked and, when the ranking ran in two processes,
    # written into the output's temporary file there (CsvParts); else the table is written here
    output = CsvParts(args.output)
    try:
        with cluster_client(workers=args.workers, scheduler=args.scheduler) as client:
            result = run_link(residents, missing, top_k=args.top_k, by=args.by, model=args.model,
                              progress=not args.no_progress, n_jobs=args.jobs, on_duplicate=args.on_duplicate,
                              client=client, shared_dir=args.shared_dir, prepared=("resident", "missing"),
                              dedupe_reports=True if args.dedupe else None, render_rows=output)
        if output.complete:
            output.commit()
        else:
            output.discard()
            rows = result.rendered if result.rendered is not None and None not in result.rendered else None
            write_csv(result.table, args.output, rows=rows)
    except BaseException:  # noqa: B036 - failed (or Ctrl-C): no temporary file is left beside the output
        output.discard()
        raise
    # After the candidates: an interrupted or failed run leaves no issues file that looks like
    # the report of a finished one.
    _write_issues(pd.concat([resident_issues, read["issues"]], ignore_index=True), args.output, args.issues)
    return result


def _run_against_index(args: argparse.Namespace) -> int:
    """``kinmatch link FILE --index DIR``: the one file against the records the index holds."""
    from kinmatch.index import Index

    if args.missing is not None:
        raise InputError("with --index give one file: the residents to link against the indexed reports, or "
                         "with --by missing the new reports to link against the indexed residents")
    kind = "resident" if args.by == "resident" else "missing"
    records, issues = _read_with_issues(args.residents, kind, args.on_duplicate)
    index = Index.open(args.index)
    if args.model:
        from kinmatch.match.model import FellegiSunter

        index.model = FellegiSunter.from_json(args.model)
    elif index.model is None:
        print(f"index {args.index} has no model yet: fitting one on this run (results can differ from day to "
              f"day; `kinmatch index refit {args.index} --residents FILE` stores one)", file=sys.stderr)
    from kinmatch.distributed import cluster_client  # issue 14: the workers read the index's own files

    cluster = {"shared_dir": args.shared_dir, "report_partitions": args.report_partitions}
    with cluster_client(workers=args.workers, scheduler=args.scheduler) as client:
        result = index.run(records, top_k=args.top_k, by=args.by, progress=not args.no_progress, n_jobs=args.jobs,
                           client=client, dedupe_reports=True if args.dedupe else None,
                           **(cluster if client is not None else {}))
    write_csv(result.table, args.output)
    # after the candidates, as for a batch run: no issues file describes an unfinished run
    _write_issues(issues, args.output, args.issues)
    if args.save_model and result.model is not None:
        result.model.to_json(args.save_model)
    print(f"{len(result.table)} candidate rows against index {args.index} ({index.manifest['counts']['missing']} "
          f"reports, {index.manifest['counts']['residents']} residents) → {args.output}", file=sys.stderr)
    return 0
