"""``kinmatch notices RESIDENTS -o DIR``: write a public notice (寻亲公告) per resident.

DIR holds only the notices, so the whole folder can be published. What was skipped or left out,
and why (never the private value), goes beside it: ``DIR-skipped.csv``.
"""

from __future__ import annotations

import sys

_HINTS = {
    "no_station_phone": "give --station-info a CSV with columns 救助站, 地址, 联系电话 (station, "
                        "address, phone); one row serves every record, or add a 联系电话 column",
    "too_empty": "fill in at least 3 of name, sex, age, height, features, clothing, accent, health",
    "missing_glyphs": "set KINMATCH_FONT to a font with the characters listed in <DIR>-skipped.csv",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "notices",
        help="write public family-search notices (寻亲公告), one per resident",
        description="Write one public notice per resident who needs one (withdrawn notices for "
        "reunited residents). Records too empty to publish, or that would leak private data, "
        "are skipped and listed; free text the privacy filter is unsure of is left out and "
        "counted. The list (reasons only, never the values) is written beside the folder as "
        "DIR-skipped.csv, so the folder itself can be published. Example: kinmatch notices "
        "residents.xlsx -o out/ --format txt,pdf --station-info stations.csv",
    )
    parser.add_argument("residents", help="resident file (CSV or XLSX, Chinese or English headers)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write into")
    parser.add_argument("--format", default="txt,md,html", metavar="LIST",
                        help="comma-separated formats: txt, md, html, pdf (default txt,md,html)")
    parser.add_argument("--templates", metavar="DIR",
                        help="folder with the station's own templates (missing ones come from kinmatch)")
    parser.add_argument("--station-info", metavar="CSV",
                        help="CSV with columns station, address, phone (救助站, 地址, 联系电话)")
    parser.add_argument("--photos", metavar="DIR",
                        help="folder the photo paths are relative to; posters embed only photos "
                             "inside it (absolute paths and .. are refused)")
    parser.add_argument("--db", metavar="STORE",
                        help="case store (studio.sqlite or a PostgreSQL URL): residents it records as reunited "
                             "(已返乡) get the withdrawn notice, without a status column in the file / "
                             "案件库：已返乡者自动改为撤回版公告")
    parser.add_argument("--max-chars", type=int, default=500,
                        help="length budget of the txt notice (default 500)")
    parser.set_defaults(func=run)


def mark_reunited(residents, db: str):
    """``residents`` with ``status`` 已返乡 for everyone the case store records as reunited (a
    ``reunited`` event), so their notice renders as the withdrawn version."""
    from kinmatch.review.store import Store

    store = Store(db)
    try:
        states = store.case_states()
    finally:
        store.close()
    if states.empty or "reunited" not in states.columns:
        return residents
    reunited = set(states.loc[states["reunited"].fillna(False).astype(bool), "resident_id"].astype(str))
    if not reunited:
        return residents
    status = residents["status"] if "status" in residents.columns else None
    marked = residents["resident_id"].astype(str).isin(reunited)
    new_status = [("已返乡" if m else (None if status is None else status.iloc[i])) for i, m in enumerate(marked)]
    print(f"{int(marked.sum())} resident(s) reunited in the case store: withdrawn notices", file=sys.stderr)
    return residents.assign(status=new_status)


def run(args) -> int:
    from kinmatch._io import write_csv
    from kinmatch.intake import read_residents
    from kinmatch.notices import write_notices
    from kinmatch.notices.batch import skipped_report_path

    residents, intake_issues = read_residents(args.residents)
    if args.db:
        residents = mark_reunited(residents, args.db)
    notices, issues = write_notices(
        residents, args.output, args.format, station_info=args.station_info,
        template_dir=args.templates, photo_dir=args.photos, max_chars=args.max_chars,
        progress=sys.stderr.isatty(),
    )
    written = int(notices["path"].notna().sum())
    skipped = notices[notices["skipped"].notna()]
    print(f"wrote {written} notice file(s) to {args.output}")
    withheld = issues[issues["reason"].str.startswith("notice_withheld_")]
    if len(withheld):
        by_reason = withheld.groupby("reason").size()
        shown = ", ".join(f"{reason.removeprefix('notice_withheld_')} {count}"
                          for reason, count in by_reason.items())
        print(f"left out {len(withheld)} part(s) of free text the privacy filter was not sure of, "
              f"in {withheld['record_id'].nunique()} resident(s) ({shown}); the notices show "
              "the rest and the structured fields")
    photos = issues[issues["reason"].isin(["notice_photo_unreadable", "notice_photo_outside_folder"])]
    if len(photos):
        print(f"{len(photos)} poster(s) written without their photo (unreadable, or outside --photos)")
    if len(skipped):
        print(f"skipped {len(skipped)} notice(s):")
        for reason, group in skipped.groupby("skipped"):
            ids = sorted(set(group["resident_id"]))
            shown = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
            print(f"  {reason}: {len(ids)} resident(s): {shown}")
            if reason in _HINTS:
                print(f"    fix: {_HINTS[reason]}")
    if len(issues):
        # Beside the folder, not in it: the folder is what gets published.
        report = skipped_report_path(args.output)
        write_csv(issues, report)
        print(f"details: {report}")
    if len(intake_issues):
        print(f"({len(intake_issues)} intake issue(s) in the resident file)")
    if written == 0:
        # A run that publishes nothing is a failure to fix, not a success to script around.
        hint = ""
        if (skipped["skipped"] == "no_station_phone").any():
            hint = (" Records without a station phone need --station-info with a CSV of columns "
                    "救助站, 地址, 联系电话 (station, address, phone); one row serves every record.")
        print(f"error: no notice was written ({len(residents)} resident(s) read; reasons above)."
              + hint, file=sys.stderr)
        return 1
    return 0
