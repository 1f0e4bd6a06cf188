"""``kinmatch link RESIDENTS MISSING -o CANDIDATES.csv``: ranked, explained candidates.

    kinmatch link residents.xlsx missing.csv -o candidates.csv --top-k 10
    kinmatch link residents.xlsx missing.csv -o by_report.csv --by missing --model model.json
    kinmatch link residents.xlsx missing.csv -o candidates.csv --save-model model.json

The CSV is written atomically (UTF-8 with BOM so Excel shows the Chinese text): a failed or
interrupted run leaves any earlier file untouched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from kinmatch._io import write_csv_atomic
from kinmatch.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "link", help="rank missing-person reports for each resident, with explanations",
        description="Link residents (受助人员) to missing-person reports (寻人启事): candidates, comparisons, "
                    "a Fellegi-Sunter model, and the top-k candidates per resident with readable reasons.")
    parser.add_argument("residents", help="resident file (CSV or .xlsx, Chinese or English headers)")
    parser.add_argument("missing", help="missing-person report file (CSV or .xlsx)")
    parser.add_argument("-o", "--output", required=True, help="candidate table to write (CSV)")
    parser.add_argument("--top-k", type=int, default=10, help="candidates per resident (default 10)")
    parser.add_argument("--by", choices=["resident", "missing"], default="resident",
                        help="rank reports per resident (default) or residents per report")
    parser.add_argument("--model", help="use this fitted model (JSON from --save-model) instead of fitting one")
    parser.add_argument("--save-model", help="write the fitted model's JSON here (m/u tables an auditor can read)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _read(path: str, kind: str) -> pd.DataFrame:
    """Read an input file through intake; its issues are summarised on stderr."""
    from kinmatch import intake

    file = Path(path)
    if not file.is_file():
        raise InputError(f"{kind} file {path!r} does not exist; check the path")
    reader = intake.read_residents if kind == "resident" else intake.read_missing
    frame, issues = reader(file)
    if len(issues):
        print(f"{file.name}: {len(issues)} intake issue(s) (values kept blank or flagged); "
              f"see `kinmatch` intake for details", file=sys.stderr)
    return frame


def run(args: argparse.Namespace) -> int:
    from kinmatch.match.rank import run_link

    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, not {args.top_k}")
    if args.model and not Path(args.model).is_file():
        raise InputError(f"model file {args.model!r} does not exist; pass the JSON written by --save-model, "
                         f"or leave --model out to fit a model on these files")
    residents = _read(args.residents, "resident")
    missing = _read(args.missing, "missing")
    result = run_link(residents, missing, top_k=args.top_k, by=args.by, model=args.model,
                      progress=not args.no_progress)
    write_csv_atomic(result.table, args.output)
    if args.save_model and result.model is not None:
        if not hasattr(result.model, "to_json"):
            raise InputError("this model cannot be saved as JSON")
        result.model.to_json(args.save_model)
    counts = result.candidate_counts
    kept = int(counts.set_index("pass").loc["union", "kept"]) if len(counts) else 0
    print(f"{len(result.table)} candidate rows for {result.table['resident_id'].nunique()} residents "
          f"({kept} pairs compared) → {args.output}", file=sys.stderr)
    return 0
