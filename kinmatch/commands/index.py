"""``kinmatch index``: a standing index of normalized reports (and residents) to link against daily.

    kinmatch index build reports.csv more-reports.xlsx -o studio-index --residents station.csv
    kinmatch index add studio-index reports-2026-12-06.csv
    kinmatch index add studio-index --residents new-arrivals.csv
    kinmatch index info studio-index
    kinmatch index refit studio-index --residents station.csv     # or --model MODEL.json
    kinmatch index rebuild studio-index                           # after a kinmatch upgrade
    kinmatch link todays-residents.csv --index studio-index -o candidates.csv
    kinmatch link new-reports.csv --by missing --index studio-index -o by_report.csv

Each write is a new generation that replaces the previous one in one atomic step; the input files'
problems and the replaced ids go to ``INDEX_DIR/issues-<generation>.csv``. docs/index.md has more.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from kinmatch._io import write_csv
from kinmatch.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "index", help="a standing index of normalized reports to link new records against",
        description="Normalize missing-person reports (and residents) once into an index folder (Parquet files), "
                    "then link each day's new records against it with `kinmatch link FILE --index DIR`.")
    commands = parser.add_subparsers(title="index commands", dest="index_command", metavar="ACTION")

    build = commands.add_parser("build", help="create an index from report (and resident) files")
    build.add_argument("missing", nargs="*", help="missing-person report files (CSV or .xlsx)")
    build.add_argument("-o", "--output", required=True, help="index folder to create (new or empty)")
    _common(build, model_help="store this fitted model (JSON) instead of fitting one")
    build.add_argument("--dedupe", action="store_true",
                       help="also cluster duplicate reports of one person and keep the clusters up to date on every "
                            "add, for `kinmatch link --index DIR --dedupe` (about 100 CPU s per million reports)")
    build.set_defaults(func=run_build)

    add = commands.add_parser("add", help="add new or edited reports (or residents); an indexed id is replaced")
    add.add_argument("index", help="index folder")
    add.add_argument("missing", nargs="*", help="missing-person report files (CSV or .xlsx)")
    _common(add, model_help=None)
    add.set_defaults(func=run_add)

    info = commands.add_parser("info", help="counts, sources, model, format and reference-data version")
    info.add_argument("index", help="index folder")
    info.add_argument("--json", action="store_true", help="print the information as JSON")
    info.set_defaults(func=run_info)

    refit = commands.add_parser("refit", help="fit the index's model again (on request only)")
    refit.add_argument("index", help="index folder")
    _common(refit, model_help="store this fitted model (JSON) instead of fitting one", residents_help=(
        "fit on these resident files against the indexed reports (default: the indexed residents)"), issues=False)
    refit.set_defaults(func=run_refit)

    rebuild = commands.add_parser("rebuild", help="normalize the stored records again (after a kinmatch upgrade)")
    rebuild.add_argument("index", help="index folder")
    rebuild.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                         help="wait this long for another writer to finish (default 60)")
    rebuild.set_defaults(func=run_rebuild)
    parser.set_defaults(func=lambda args: parser.print_help())


def _common(parser: argparse.ArgumentParser, model_help: str | None, residents_help: str | None = None,
            issues: bool = True) -> None:
    parser.add_argument("--residents", action="append", default=[], metavar="FILE",
                        help=residents_help or "resident files to index (for linking new reports against them)")
    if model_help:
        parser.add_argument("--model", help=model_help)
    if issues:
        parser.add_argument("--issues", help="where to write the issues table (CSV; default "
                            "INDEX_DIR/issues-<generation>.csv, written only when there are issues)")
    parser.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                        help="wait this long for another writer of the index to finish (default 60)")
    if issues:
        parser.add_argument("--on-duplicate", choices=["stop", "first", "last"], default="stop",
                            help="rows of one file that share an id: stop and say which (default), or keep the "
                                 "first / last row of each id (the others go to the issues table as row_skipped)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _report_issues(issues: pd.DataFrame, directory: Path, target: str | None) -> None:
    if issues.empty:
        return
    from kinmatch.index.storage import read_manifest

    generation = read_manifest(directory)["generation"]
    out = Path(target) if target else directory / f"issues-{generation:06d}.csv"
    write_csv(issues, out)
    summary = ", ".join(f"{reason} {count}" for reason, count in issues.groupby("reason").size().items())
    print(f"{len(issues)} issue(s) ({summary}) → {out}", file=sys.stderr)


def _summary(index) -> str:
    counts = index.manifest["counts"]
    model = "model fitted" if index.model is not None else "no model yet (`kinmatch index refit`)"
    return f"{counts['missing']} reports, {counts['residents']} residents, {model}"


def run_build(args: argparse.Namespace) -> int:
    from kinmatch.index import Index

    if not args.missing and not args.residents:
        raise InputError("give at least one report file (or --residents FILE) to build an index from")
    index, issues = Index.build(args.output, missing=args.missing, residents=args.residents, model=args.model,
                                wait=args.wait, progress=not args.no_progress, on_duplicate=args.on_duplicate,
                                dedupe_reports=args.dedupe)
    _report_issues(issues, Path(args.output), args.issues)
    print(f"index {args.output}: {_summary(index)}", file=sys.stderr)
    return 0


def run_add(args: argparse.Namespace) -> int:
    from kinmatch.index import Index

    if not args.missing and not args.residents:
        raise InputError("give at least one report file (or --residents FILE) to add")
    issues = Index.add(args.index, missing=args.missing, residents=args.residents, wait=args.wait,
                       on_duplicate=args.on_duplicate)
    _report_issues(issues, Path(args.index), args.issues)
    replaced = int((issues["reason"] == "index_replaced").sum()) if len(issues) else 0
    index = Index.open(args.index)
    print(f"index {args.index}: {_summary(index)} ({replaced} replaced by a newer version)", file=sys.stderr)
    return 0


def run_info(args: argparse.Namespace) -> int:
    from kinmatch.index import Index

    info = Index.open(args.index).info()
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=1))
        return 0
    counts = info["counts"]
    print(f"索引 index        {info['path']}")
    print(f"记录 records      {counts['missing']} 寻人启事 reports, {counts['residents']} 受助人员 residents")
    print(f"格式 format       version {info['format_version']} (kinmatch {info['kinmatch_version']}), "
          f"reference data {info['reference_data_version']}, generation {info['generation']}")
    print(f"更新 updated      {info['updated_at']} (created {info['created_at']})")
    origin = info["model_origin"] or {}
    if info["model_version"]:
        how = (f"fitted on {origin.get('residents')} residents × {origin.get('reports')} reports"
               if origin.get("how") == "fitted" else f"given ({origin.get('source')})")
        print(f"模型 model        {info['model_version']}, {how}, {origin.get('at')}")
    else:
        print("模型 model        none yet: `kinmatch index refit DIR --residents FILE` fits one")
    print("来源 sources")
    for source in info["sources"]:
        print(f"  {source['added_at']}  {source['kind']:<9} {source['file']}: {source['rows']} rows"
              + (f", {source['replaced']} replaced earlier versions" if source["replaced"] else ""))
    return 0


def run_refit(args: argparse.Namespace) -> int:
    from kinmatch.index import Index

    index = Index.refit(args.index, residents=args.residents or None, model=args.model, wait=args.wait,
                        progress=not args.no_progress)
    print(f"index {args.index}: {_summary(index)}", file=sys.stderr)
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    from kinmatch.index import Index

    index = Index.rebuild(args.index, wait=args.wait)
    print(f"index {args.index}: {_summary(index)}", file=sys.stderr)
    return 0
