"""``kinmatch pfif export|import``: exchange records with other family-search systems as PFIF 1.4.

    kinmatch pfif export --residents residents.xlsx --missing missing.csv --matches reviewed.csv \\
        --domain studio.example.cn -o studio.pfif.xml
    kinmatch pfif import other.pfif.xml -o reports.csv --domain other.example.cn

Export writes only publishable text (see :mod:`kinmatch.pfif`): never a family's contact, ID
numbers or diagnoses. ``--matches`` takes the reviewed pairs `kinmatch review export` writes; only
pairs whose current decision is ``same`` (同一人) become PFIF notes, so unreviewed candidates can
never travel as leads. Import turns PFIF person records into a missing-report table that
`kinmatch link` reads; records it cannot take go to an issues table beside the output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pfif", help="export residents, reports and confirmed matches as PFIF 1.4, or import PFIF persons",
        description="PFIF 1.4 (People Finder Interchange Format) exchange with other family-search systems.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="{export,import}")
    export = actions.add_parser("export", help="write a PFIF 1.4 XML file",
                                description="Residents and reports as PFIF person records, reviewed "
                                            "'same' decisions as notes linking them. Public text only.")
    export.add_argument("--residents", help="resident file (CSV or .xlsx)")
    export.add_argument("--missing", help="missing-person report file (CSV or .xlsx)")
    export.add_argument("--matches", help="reviewed pairs from `kinmatch review export` (CSV); only "
                                          "decision 'same' is exported")
    export.add_argument("--domain", required=True, help="your domain for record ids, e.g. studio.example.cn")
    export.add_argument("--source-name", default="kinmatch", help="source_name of every record")
    export.add_argument("--expiry-days", type=int, help="records expire this many days after export")
    export.add_argument("-o", "--output", required=True, help="PFIF XML file to write")
    export.set_defaults(func=run_export)
    imported = actions.add_parser("import", help="read a PFIF file as missing-person reports",
                                  description="PFIF 1.2-1.4 person records as a missing-report CSV.")
    imported.add_argument("source", help="PFIF XML file")
    imported.add_argument("-o", "--output", required=True, help="missing-report CSV to write")
    imported.add_argument("--domain", help="strip <domain>/missing. from record ids of this domain")
    imported.set_defaults(func=run_import)


def _confirmed(path: str) -> pd.DataFrame:
    from kinmatch.errors import InputError

    matches = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    if "decision" not in matches.columns:
        raise InputError(f"{path} has no decision column: PFIF notes are for reviewed matches only; "
                         f"pass the file `kinmatch review export` writes, not a candidate list")
    return matches[matches["decision"].str.strip().str.lower() == "same"]


def run_export(args: argparse.Namespace) -> int:
    from kinmatch._io import atomic_write
    from kinmatch.errors import InputError
    from kinmatch.intake import read_missing, read_residents
    from kinmatch.pfif import export_pfif

    if not (args.residents or args.missing):
        raise InputError("nothing to export: give --residents and/or --missing")
    residents = read_residents(args.residents).frame if args.residents else None
    missing = read_missing(args.missing).frame if args.missing else None
    matches = _confirmed(args.matches) if args.matches else None
    xml = export_pfif(residents, missing, matches, domain=args.domain, source_name=args.source_name,
                      expiry_days=args.expiry_days)
    with atomic_write(args.output) as handle:
        handle.write(xml)
    counts = [f"{len(frame)} {what}" for frame, what in ((residents, "residents"), (missing, "reports"),
                                                           (matches, "confirmed matches")) if frame is not None]
    print(f"PFIF 1.4: {', '.join(counts)} → {args.output}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from kinmatch._io import write_csv
    from kinmatch.errors import InputError
    from kinmatch.pfif import read_pfif

    if not Path(args.source).is_file():
        raise InputError(f"PFIF file {args.source!r} does not exist; check the path")
    result = read_pfif(args.source, domain=args.domain)
    write_csv(result.frame, args.output)
    message = f"{len(result.frame)} missing-person report(s) → {args.output}"
    residents = int((result.issues["reason"] == "resident_record").sum()) if len(result.issues) else 0
    if residents:
        message += f"; {residents} rescue-station resident(s) left out (not missing-person reports)"
    if len(result.issues):
        issues_path = Path(args.output).with_name(Path(args.output).stem + ".issues.csv")
        write_csv(result.issues, issues_path)
        message += f"; {len(result.issues)} issue(s) → {issues_path}"
    print(message, file=sys.stderr)
    return 0
