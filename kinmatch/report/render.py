"""The campaign report written as HTML (charts inline, no web resources), PDF or XLSX.

All three show the same sections (:func:`report_sections`): the summary, counts by station and by
month, deadline compliance, and the charts of :mod:`kinmatch.report.charts`.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

import pandas as pd

from kinmatch.report.charts import CHARTS
from kinmatch.report.counts import COMPLIANCE, DEADLINES, METRICS, CampaignCounts

__all__ = ["FORMATS", "TITLE", "report_sections", "report_html", "report_pdf", "report_xlsx", "write_report"]

FORMATS = ("html", "pdf", "xlsx")
TITLE = "救助寻亲专项行动统计报告"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

NOTES = (
    "接收受助人员：入站日期（精确到日）在统计期间内的人员；入站日期只知年或月的不计入。",
    "24小时内发布公告：入站次日（含）之前已记录“发布寻亲公告”（或公告时限已办）的人员。",
    "7个工作日内采集DNA：入站后7个工作日内（按国务院节假日及调休安排）已记录“申请DNA比对”（或DNA时限已办）的人员。",
    "审核候选：统计期间内有审核结论的候选比对（每对只计一次）；确认同一人：期间内记录“确认同一人”的比对。",
    "返乡团聚、落户安置：期间内记录相应事项的人员；滞留人员：入站满10天之日在期间内且此前未返乡或安置的人员。",
    "时限执行：逾期未办指期末前已到期但尚未办理；未到期指期末时尚未到期。",
    "地图按县级行政区坐标离线绘制（无在线底图），来源地取已确认比对的寻人信息户籍地。",
)


def _share(value: int, received: int) -> str:
    return f"{value / received:.0%}" if received else "—"


def _day(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def report_sections(counts: CampaignCounts) -> dict[str, Any]:
    """The report's words and tables (format-independent): ``title``, ``period``, ``summary``
    (rows of label, value, share), ``tables`` (heading, headers, rows), ``notes``."""
    received = counts.summary["received"]
    summary = [{"label": label, "value": counts.summary[code],
                "share": _share(counts.summary[code], received) if code in ("notice_on_time", "dna_on_time") else ""}
               for code, label in METRICS.items()]

    def counted(frame: pd.DataFrame, first: str) -> dict[str, Any]:
        rows = [[index, *(int(v) for v in row)] for index, row in zip(frame.index, frame.to_numpy(), strict=True)]
        if rows:
            rows.append(["合计", *(int(v) for v in frame.sum().to_numpy())])
        return {"headers": [first, *METRICS.values()], "rows": rows}

    compliance_rows = [[DEADLINES[kind], *(int(v) for v in counts.compliance.loc[kind]),
                        _share(int(counts.compliance.loc[kind, COMPLIANCE[0]]), received)]
                       for kind in DEADLINES]
    residents = counts.residents
    detail_rows = [[r.resident_id, r.station, _day(r.found_date), _day(r.notice_done), r.notice,
                    _day(r.dna_due), _day(r.dna_done), r.dna] for r in residents.itertuples()]
    tables = [
        {"heading": "二、按救助站统计", **counted(counts.by_station, "救助站")},
        {"heading": "三、按月份统计", **counted(counts.by_month, "月份")},
        {"heading": "四、时限执行情况", "headers": ["时限", *COMPLIANCE, "按时率"], "rows": compliance_rows},
        {"heading": "五、接收人员时限明细", "headers": ["编号", "救助站", "入站日期", "公告日期", "公告时限",
                                                "DNA截止日", "DNA采集日期", "DNA时限"], "rows": detail_rows},
    ]
    return {"title": TITLE, "period": f"{counts.start:%Y年%m月%d日} 至 {counts.end:%Y年%m月%d日}",
            "generated": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M（北京时间）"),
            "summary": summary, "tables": tables, "charts_heading": "六、图表", "notes": list(NOTES)}


def report_html(counts: CampaignCounts, charts: dict[str, bytes]) -> str:
    """One self-contained HTML page: charts are inline PNG data, nothing is fetched."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    sections = report_sections(counts)
    images = [{"title": CHARTS[code], "data": base64.b64encode(png).decode("ascii")} for code, png in charts.items()]
    return env.get_template("report.html.j2").render(**sections, charts=images)


def report_pdf(counts: CampaignCounts, charts: dict[str, bytes], font_path: str | None = None) -> bytes:
    """The report as an A4 PDF (fpdf2, the notices' CJK font)."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    from kinmatch.notices.poster import find_cjk_font

    sections = report_sections(counts)
    margin, page_w = 15.0, 210.0
    width = page_w - 2 * margin
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=margin)
    pdf.set_margins(margin, margin, margin)
    pdf.add_font("cjk", fname=font_path or find_cjk_font())
    pdf.set_title(sections["title"])
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(width, 12, sections["title"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(width, 6, f"统计期间：{sections['period']}　　生成时间：{sections['generated']}", align="C",
             new_x="LMARGIN", new_y="NEXT")

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("cjk", size=13)
        pdf.cell(width, 8, text, new_x="LMARGIN", new_y="NEXT")

    def table(headers: list[str], rows: list[list[Any]], size: float = 8.5) -> None:
        pdf.set_font("cjk", size=size)
        pdf.set_draw_color(170, 170, 170)
        first = min(40.0, width / len(headers) * 1.6)
        widths = (first, *([(width - first) / (len(headers) - 1)] * (len(headers) - 1)))
        # the CJK font has no bold face: headings are shaded instead
        with pdf.table(col_widths=widths, width=width, line_height=5, text_align="CENTER", repeat_headings=1,
                       headings_style=FontFace(emphasis=None, fill_color=(235, 235, 235))) as out:
            for row in [headers, *(rows or [["（本期无记录）", *([""] * (len(headers) - 1))]])]:
                cells = out.row()
                for cell in row:
                    cells.cell(str(cell))

    heading("一、总体情况")
    table(["项目", "数量", "占接收人数"], [[r["label"], r["value"], r["share"]] for r in sections["summary"]], 10)
    for section in sections["tables"]:
        heading(section["heading"])
        table(section["headers"], section["rows"], 7.5 if len(section["headers"]) > 6 else 9)
    pdf.add_page()
    heading(sections["charts_heading"])
    for code, png in charts.items():
        if pdf.get_y() > 170:
            pdf.add_page()
        pdf.image(io.BytesIO(png), x=margin, w=width)
        pdf.set_font("cjk", size=9)
        pdf.cell(width, 6, CHARTS[code], align="C", new_x="LMARGIN", new_y="NEXT")
    heading("说明")
    pdf.set_font("cjk", size=9)
    for line in sections["notes"]:
        pdf.multi_cell(width, 5, f"· {line}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def report_xlsx(counts: CampaignCounts, charts: dict[str, bytes]) -> bytes:
    """The report as a workbook: 汇总, 按救助站, 按月份, 时限执行, 时限明细 and 图表 sheets."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Font

    from kinmatch.review.referral import excel_text

    sections = report_sections(counts)
    workbook = Workbook()
    summary = workbook.active
    summary.title = "汇总"
    summary.append([sections["title"]])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([f"统计期间：{sections['period']}"])
    summary.append(["项目", "数量", "占接收人数"])
    for row in sections["summary"]:
        summary.append([row["label"], row["value"], row["share"]])
    summary.column_dimensions["A"].width = 24
    names = ["按救助站", "按月份", "时限执行", "时限明细"]
    for name, section in zip(names, sections["tables"], strict=True):
        sheet = workbook.create_sheet(name)
        sheet.append(section["headers"])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in section["rows"]:
            # counts stay numbers; names and ids are text (never read as a formula)
            sheet.append([cell if isinstance(cell, int) else excel_text(cell) for cell in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        sheet.column_dimensions["A"].width = 22
        sheet.freeze_panes = "B2"
    images = workbook.create_sheet("图表")
    row = 1
    for code, png in charts.items():
        images.cell(row=row, column=1, value=CHARTS[code]).font = Font(bold=True)
        picture = Image(io.BytesIO(png))
        images.add_image(picture, f"A{row + 1}")
        row += int(picture.height / 20) + 4
    notes = workbook.create_sheet("说明")
    for line in sections["notes"]:
        notes.append([line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_report(counts: CampaignCounts, path: str | os.PathLike, charts: dict[str, bytes] | None = None) -> Path:
    """Write the report to ``path``; the format is the suffix (``.html``, ``.pdf``, ``.xlsx``)."""
    from kinmatch._io import atomic_write, write_bytes_atomic
    from kinmatch.errors import InputError
    from kinmatch.report.charts import report_charts

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"{path}：统计报告只能写成 .html、.pdf 或 .xlsx 文件，请换一个文件名后缀")
    charts = report_charts(counts) if charts is None else charts
    if fmt == "html":
        with atomic_write(path) as handle:
            handle.write(report_html(counts, charts))
    elif fmt == "pdf":
        write_bytes_atomic(report_pdf(counts, charts), path)
    else:
        write_bytes_atomic(report_xlsx(counts, charts), path)
    return path
