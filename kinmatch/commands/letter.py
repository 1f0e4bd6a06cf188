"""``kinmatch letter``: the match-lead letter (比对线索函) of a pair confirmed by two reviewers.

    kinmatch letter --db studio.sqlite R1 M1 -o R1-M1.pdf -o R1-M1.md
"""

from __future__ import annotations

import getpass


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "letter",
        help="比对线索函 match-lead letter (PDF/Markdown) of a pair confirmed by two reviewers",
        description="写出比对线索函：仅限已确认（同一人）并由另一账号二次确认的比对。"
        "Writes the match-lead letter of a pair with a confirmation and a second confirmation by "
        "another account, as a printable PDF (room for the seal) and/or Markdown, and records a "
        "letter_sent event. Example: kinmatch letter --db studio.sqlite R1 M1 -o R1-M1.pdf -o R1-M1.md",
    )
    parser.add_argument("--db", required=True, help="案件库 case store: SQLite path or postgresql+psycopg:// URL")
    parser.add_argument("resident_id", help="受助人员编号 resident id")
    parser.add_argument("missing_id", help="寻人信息编号 report id")
    parser.add_argument("-o", "--output", action="append", required=True, metavar="LETTER.pdf|LETTER.md",
                        help="输出文件 output file, .pdf or .md (repeat for both)")
    parser.add_argument("--police-unit", default="", help="收函公安机关 addressee (default: 公安机关)")
    parser.add_argument("--station-info", metavar="CSV", help="救助站信息 station name/address/phone table")
    parser.add_argument("--templates", metavar="DIR", help="站点自定义模板目录 template folder overriding notices/")
    parser.add_argument("--by", default=None, help="记录人 who sends the letter (default: the login name)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from kinmatch.review.letters import write_letter
    from kinmatch.review.store import Store

    with Store(args.db, create=False) as store:
        letter = write_letter(store, args.resident_id, args.missing_id, args.output,
                              recorded_by=args.by or getpass.getuser(), police_unit=args.police_unit,
                              station_info=args.station_info, template_dir=args.templates)
    print(f"已写出比对线索函 {letter['number']}: {', '.join(args.output)} (wrote the letter; letter_sent recorded)")
    return 0
