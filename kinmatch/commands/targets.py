"""``kinmatch targets RESIDENTS``: suspected home counties for geo-targeted notice pushes."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "targets",
        help="rank suspected home counties per resident for geo-targeted pushes",
        description="For each resident, the suspected home counties (or provinces) from accent, "
        "place fragments of what they said, and name forms typical of a dialect area, with the "
        "reason for each. Example: kinmatch targets residents.xlsx -o targets.csv --top 5",
    )
    parser.add_argument("residents", help="resident file (CSV or XLSX)")
    parser.add_argument("-o", "--output", metavar="CSV", help="write the table here (else print it)")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="targets per resident (5)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from kinmatch._io import csv_text, write_csv
    from kinmatch.errors import InputError
    from kinmatch.intake import read_residents
    from kinmatch.targeting import suspected_home_counties

    if args.top < 1:
        raise InputError(f"--top must be at least 1 (got {args.top})")
    residents, _issues = read_residents(args.residents)
    targets = suspected_home_counties(residents, k=args.top)
    if args.output:
        write_csv(targets, args.output)
        untargeted = len(set(residents["resident_id"]) - set(targets["resident_id"]))
        print(f"wrote {len(targets)} target(s) for {targets['resident_id'].nunique()} resident(s) "
              f"to {args.output}; {untargeted} resident(s) had nothing to target on")
    else:
        print(csv_text(targets), end="")
    return 0
