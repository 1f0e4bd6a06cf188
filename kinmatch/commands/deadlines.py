"""``kinmatch deadlines RESIDENTS``: notice, DNA, long-stay, refresh and placement deadlines."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "deadlines",
        help="list each resident's case deadlines (notice 24 h, DNA 7 working days, …)",
        description="Per resident: publish a notice within 24 hours of intake, ask police for DNA "
        "within 7 working days (official holidays and make-up workdays), long-stay at 10 days, "
        "refresh the notice monthly, hukou/placement after 3 months. Status is done (a column "
        "says so), overdue, due, upcoming, unknown (a found date known only to the month or year, "
        "with the window of possible due dates), unrecorded (the file has no column saying whether "
        "the step was done, so a passed deadline cannot be called overdue) or closed (reunited). "
        "Example: kinmatch deadlines residents.csv --today 2024-10-09 --open",
    )
    parser.add_argument("residents", help="resident file (CSV or XLSX)")
    parser.add_argument("--today", metavar="DATE", help="the date to judge at (default: today)")
    parser.add_argument("-o", "--output", metavar="CSV", help="write the table here (else print it)")
    parser.add_argument("--open", action="store_true",
                        help="only rows still to act on (overdue, due, upcoming, unknown)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import warnings

    import pandas as pd

    from kinmatch._io import csv_text, write_csv
    from kinmatch.deadlines import deadlines
    from kinmatch.intake import read_residents

    residents, intake_issues = read_residents(args.residents)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # intake's issues carry the found dates it blanked as "future": judged at --today here
        table, issues = deadlines(residents, today=args.today, intake_issues=intake_issues)
    for warning in caught:
        print(f"warning: {warning.message}")
    if args.open:
        table = table[table["status"].isin(["overdue", "due", "upcoming", "unknown"])]
    if args.output:
        write_csv(table, args.output)
        print(f"wrote {len(table)} row(s) to {args.output}")
    else:
        print(csv_text(table), end="")
    for issue in issues.itertuples(index=False):
        where = "file" if pd.isna(issue.row) else f"row {issue.row} ({issue.record_id})"
        print(f"{where}: {issue.message}")
    return 0
