"""``kinmatch report``: the campaign report (救助寻亲专项行动统计报告) of a period, from a case store.

    kinmatch report --db studio.sqlite --from 2024-11-01 --to 2025-02-28 -o 报告.html -o 报告.pdf
"""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="专项行动统计报告 campaign report (HTML/PDF/XLSX) of a period from a case store",
        description="统计期间内接收人员、24小时公告、7个工作日DNA采集、审核与确认、返乡、滞留与安置，"
        "按救助站和月份，并附图表与离线地图。Counts of a period (received, notices within 24 h, DNA "
        "within 7 working days, reviewed, confirmed, reunited, long-stay, placed) by station and month, "
        "with charts and an offline map. Example: kinmatch report --db studio.sqlite --from 2024-11-01 "
        "--to 2025-02-28 -o report.html",
    )
    parser.add_argument("--db", required=True, help="案件库 case store: SQLite path or postgresql+psycopg:// URL")
    parser.add_argument("--from", dest="start", required=True, metavar="DATE", help="开始日期 first day, 2024-11-01")
    parser.add_argument("--to", dest="end", required=True, metavar="DATE", help="结束日期 last day (included)")
    parser.add_argument("-o", "--output", action="append", required=True, metavar="REPORT.html|pdf|xlsx",
                        help="输出文件 output file; the suffix picks the format (repeat for several)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from kinmatch.errors import InputError
    from kinmatch.report.charts import report_charts
    from kinmatch.report.counts import METRICS, campaign_counts
    from kinmatch.report.render import FORMATS, write_report
    from kinmatch.review.store import Store

    for output in args.output:
        if Path(output).suffix.lower().lstrip(".") not in FORMATS:
            raise InputError(f"{output}：统计报告只能写成 .html、.pdf 或 .xlsx 文件 (use .html, .pdf or .xlsx)")
    with Store(args.db, create=False) as store:
        counts = campaign_counts(store, args.start, args.end)
    charts = report_charts(counts)
    for output in args.output:
        write_report(counts, output, charts)
    print("；".join(f"{label} {counts.summary[code]}" for code, label in METRICS.items()))
    print(f"已写出 {', '.join(args.output)} (wrote the report)")
    return 0
