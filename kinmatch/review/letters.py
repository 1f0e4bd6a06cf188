"""The match-lead letter (比对线索函) of a pair confirmed by two reviewers, as PDF and Markdown.

A letter is written only for a pair with a ``confirmed`` case event and a later
``second_confirmed`` one recorded by **another** account (the four-eyes rule of the studio);
otherwise :class:`LetterRefused` says what is missing. The letter goes to police, not the public,
but it carries only what verification needs: summaries of both records (never the family's contact,
and numbers that look like ID or phone numbers are blanked), the model's probability and the reasons,
both reviewers and the date. The PDF leaves a box for the station's seal.

    >>> from kinmatch.review import Store                                          # doctest: +SKIP
    >>> letter = lead_letter(Store("studio.sqlite"), "R1", "M1")                  # doctest: +SKIP
    >>> write_letter(store, "R1", "M1", ["R1-M1.pdf", "R1-M1.md"], recorded_by="clerk")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kinmatch.errors import KinmatchError
from kinmatch.notices.context import load_station_info, station_of, text_of
from kinmatch.notices.privacy import redact_text

__all__ = ["LetterRefused", "RESIDENT_SUMMARY", "REPORT_SUMMARY", "second_review", "lead_letter",
           "letter_markdown", "letter_pdf", "write_letter"]

RESIDENT_SUMMARY = (
    ("name", "姓名"), ("name_source", "姓名来源"), ("sex", "性别"), ("age", "年龄"), ("height", "身高"),
    ("accent", "口音"), ("description", "体貌特征"), ("clothing", "衣着"), ("statements", "自述"),
    ("found_date", "入站日期"), ("found_place", "发现地点"), ("station", "救助站"),
)
"""Resident fields a letter shows (key, Chinese label), in order."""

REPORT_SUMMARY = (
    ("name", "姓名"), ("alias", "别名/小名"), ("sex", "性别"), ("birth_date", "出生日期"), ("age", "走失时年龄"),
    ("height", "身高"), ("dialect", "方言"), ("description", "体貌特征"), ("clothing", "衣着"),
    ("missing_date", "走失日期"), ("missing_place", "走失地点"), ("hometown", "户籍地"), ("source", "信息来源"),
)
"""Report fields a letter shows; the family's ``contact`` is never among them."""


class LetterRefused(KinmatchError):
    """The pair may not have a letter yet (no second review by another account, or revoked)."""


def _when(value: Any) -> dt.datetime:
    import pandas as pd

    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.to_pydatetime()


def _beijing_day(value: Any) -> str:
    day = _when(value).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    return f"{day.year}年{day.month}月{day.day}日"


def second_review(store, resident_id: str, missing_id: str) -> tuple[dict, dict]:
    """``(confirmed, second_confirmed)`` event rows of the pair, the second by another account.

    Raises :class:`LetterRefused` (in Chinese: what is missing and how to get it) when the pair
    has no ``confirmed`` event, no later ``second_confirmed`` by a different account, a DNA result
    that excludes it, or a current decision other than 同一人.
    """
    resident_id, missing_id = str(resident_id), str(missing_id)
    events = store.events(resident_id)
    events = events[events["missing_id"].astype(str) == missing_id]
    pair = f"受助人员 {resident_id} × 寻人信息 {missing_id}"
    confirmed = events[events["event"] == "confirmed"]
    if confirmed.empty:
        raise LetterRefused(f"{pair} 尚未确认为同一人，不能出具比对线索函。请先在审核页面确认（同一人），"
                            f"再由另一位审核人二次确认。")
    first = confirmed.iloc[-1].to_dict()
    later = events[(events["event"] == "second_confirmed") & (events["id"] > first["id"])]
    others = later[later["recorded_by"] != first["recorded_by"]]
    if others.empty:
        why = (f"只有确认人 {first['recorded_by']} 本人做了二次确认" if len(later)
               else "还没有二次确认")
        raise LetterRefused(f"{pair} {why}；比对线索函需要另一个账号的审核人二次确认。"
                            f"请另一位审核人登录后复核并二次确认，再出具线索函。")
    if (events["event"] == "dna_no_match").any():
        raise LetterRefused(f"{pair} 已有 DNA 比对排除的记录，不能再出具比对线索函。")
    current = store.candidate(resident_id, missing_id)
    if current is not None and current.get("decision") not in (None, "same"):
        raise LetterRefused(f"{pair} 的当前审核结论已改为“{current['decision']}”（不是同一人），"
                            f"确认已失效；如仍认为是同一人，请重新确认并二次确认。")
    return first, others.iloc[0].to_dict()


def _summary(record: Mapping[str, Any] | None, fields) -> list[dict[str, str]]:
    record = record or {}
    out = []
    for key, label in fields:
        value = redact_text(text_of(record.get(key)) or "")
        if value.strip():
            out.append({"key": key, "label": label, "value": value})
    return out


def lead_letter(store, resident_id: str, missing_id: str, *, police_unit: str = "",
                station_info: Any = None, today: dt.date | None = None) -> dict[str, Any]:
    """The content of the pair's letter (a dict the Markdown template and the PDF layout share).

    Keys: ``resident_id``, ``missing_id``, ``resident_fields`` and ``report_fields`` (lists of
    ``{"key", "label", "value"}``), ``reasons``, ``match_probability`` (text, ``""`` if unknown),
    ``reviewers`` (``[{"role", "name", "date"}]``, 确认人 then 复核人), ``station``, ``police_unit``,
    ``date``, ``number`` (the letter's reference). Raises :class:`LetterRefused` as :func:`second_review`.
    """
    first, second = second_review(store, resident_id, missing_id)
    resident = store.resident(resident_id) or {"resident_id": str(resident_id)}
    report = store.report(missing_id) or {"missing_id": str(missing_id)}
    candidate = store.candidate(resident_id, missing_id) or {}
    # the reasons and probability the reviewer decided on, not a later run's (older decisions
    # recorded no snapshot: the pair's current score then)
    explanation = text_of(candidate.get("seen_explanation") or candidate.get("explanation")) or ""
    reasons = [redact_text(part.strip()) for part in re.split(r"[;；\n]", explanation) if part.strip()]
    probability = candidate.get("seen_probability")
    if probability is None:
        probability = candidate.get("match_probability")
    today = today or dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    return {
        "resident_id": str(resident_id),
        "missing_id": str(missing_id),
        "resident_fields": _summary(resident, RESIDENT_SUMMARY),
        "report_fields": _summary(report, REPORT_SUMMARY),
        "reasons": reasons,
        "match_probability": "" if probability is None else f"{float(probability):.1%}",
        "reviewers": [{"role": "确认人", "name": str(first["recorded_by"]), "date": _beijing_day(first["event_date"])},
                      {"role": "复核人", "name": str(second["recorded_by"]),
                       "date": _beijing_day(second["event_date"])}],
        "station": station_of(resident, load_station_info(station_info)),
        "police_unit": police_unit or "公安机关",
        "date": f"{today.year}年{today.month}月{today.day}日",
        "number": f"{resident_id}-{missing_id}-{today:%Y%m%d}",
    }


def letter_markdown(letter: Mapping[str, Any], template_dir: str | Path | None = None) -> str:
    """The letter as Markdown (template ``match_letter.md.j2`` in ``notices/``)."""
    from kinmatch.notices.rendering import environment

    return environment(template_dir).get_template("match_letter.md.j2").render(**letter)


_A4_W, _MARGIN, _LABEL_W = 210.0, 18.0, 30.0
_SEAL = 42.0  # the seal box: an official round seal is 42 mm across


def letter_pdf(letter: Mapping[str, Any], font_path: str | None = None) -> bytes:
    """The letter as a printable A4 PDF (fpdf2, the notices' CJK font), with a seal box."""
    from fpdf import FPDF

    from kinmatch.notices.poster import find_cjk_font

    width = _A4_W - 2 * _MARGIN
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.add_font("cjk", fname=font_path or find_cjk_font())
    pdf.set_title(f"比对线索函 {letter['number']}")
    pdf.add_page()
    pdf.set_font("cjk", size=22)
    pdf.cell(width, 12, "比对线索函", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(width, 6, f"编号：{letter['number']}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("cjk", size=12)
    pdf.multi_cell(width, 7, f"{letter['police_unit']}：", new_x="LMARGIN", new_y="NEXT")
    station = letter["station"].get("name") or "我站"
    pdf.multi_cell(width, 7, f"    经{station}比对审核，下列受助人员与寻人信息可能为同一人。特函告贵单位，"
                   "请协助采集DNA样本并比对核验。比对结果仅为线索，身份以DNA核验结果为准。",
                   new_x="LMARGIN", new_y="NEXT")

    def table(title: str, fields: Sequence[Mapping[str, str]]) -> None:
        pdf.ln(2)
        pdf.set_font("cjk", size=13)
        pdf.cell(width, 7, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=10.5)
        pdf.set_draw_color(160, 160, 160)
        with pdf.table(col_widths=(_LABEL_W, width - _LABEL_W), width=width, first_row_as_headings=False,
                       line_height=5.6, text_align=("LEFT", "LEFT")) as rows:
            for field in fields or [{"label": "—", "value": "（无记录）"}]:
                row = rows.row()
                row.cell(field["label"])
                row.cell(field["value"])

    table(f"一、受助人员（编号 {letter['resident_id']}）", letter["resident_fields"])
    table(f"二、寻人信息（编号 {letter['missing_id']}）", letter["report_fields"])
    pdf.ln(3)
    pdf.set_font("cjk", size=13)
    pdf.cell(width, 7, "三、比对依据", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    for i, reason in enumerate(letter["reasons"] or ["（未附比对说明）"], start=1):
        pdf.multi_cell(width, 6, f"{i}. {reason}", new_x="LMARGIN", new_y="NEXT")
    if letter["match_probability"]:
        pdf.multi_cell(width, 6, f"模型估计的同一人概率：{letter['match_probability']}（仅供参考）",
                       new_x="LMARGIN", new_y="NEXT")
    # the review block: reviewers and signature on the left, the seal box on the right, kept
    # together on one page
    if pdf.get_y() + _SEAL + 14 > pdf.h - _MARGIN:
        pdf.add_page()
    pdf.ln(3)
    top = pdf.get_y()
    seal_x = _A4_W - _MARGIN - _SEAL
    left = seal_x - _MARGIN - 4
    pdf.set_font("cjk", size=13)
    pdf.cell(left, 8, "四、审核", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    for reviewer in letter["reviewers"]:
        pdf.cell(left, 6.5, f"{reviewer['role']}：{reviewer['name']}（{reviewer['date']}）",
                 new_x="LMARGIN", new_y="NEXT")
    contact = "，".join(part for part in (letter["station"].get("address"), letter["station"].get("phone"))
                       if part)
    if contact:
        pdf.multi_cell(left, 6.5, f"联系方式：{contact}", new_x="LMARGIN", new_y="NEXT")
    seal_top = top + 4
    pdf.set_draw_color(190, 190, 190)
    pdf.set_dash_pattern(dash=1.5, gap=1.5)
    pdf.rect(seal_x, seal_top, _SEAL, _SEAL)
    pdf.set_dash_pattern()
    pdf.set_font("cjk", size=9)
    pdf.set_text_color(150, 150, 150)
    pdf.set_xy(seal_x, seal_top + _SEAL / 2 - 3)
    pdf.cell(_SEAL, 6, "（盖章处）", align="C")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=12)
    pdf.set_xy(_MARGIN, max(pdf.get_y(), seal_top + _SEAL - 14))
    pdf.cell(left, 7, letter["station"].get("name") or "", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(left, 7, letter["date"], align="R")
    return bytes(pdf.output())


def write_letter(store, resident_id: str, missing_id: str, outputs: Sequence[str | os.PathLike], *,
                 recorded_by: str, police_unit: str = "", station_info: Any = None,
                 template_dir: str | Path | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Write the letter to each of ``outputs`` (``.pdf`` or ``.md``, by suffix) and append one
    ``letter_sent`` event to the case (detail: the files and the letter's number).

    Nothing is written and no event recorded if the pair may not have a letter
    (:class:`LetterRefused`) or a suffix is neither ``.pdf`` nor ``.md``.
    """
    from kinmatch._io import atomic_write, write_bytes_atomic
    from kinmatch.errors import InputError

    paths = [Path(p) for p in outputs]
    if not paths:
        raise InputError("没有给出输出文件；用 -o LETTER.pdf 或 -o LETTER.md（可重复）")
    for path in paths:
        if path.suffix.lower() not in (".pdf", ".md"):
            raise InputError(f"{path}：比对线索函只能写成 .pdf 或 .md 文件，请换一个文件名后缀")
    letter = lead_letter(store, resident_id, missing_id, police_unit=police_unit, station_info=station_info,
                         today=today)
    for path in paths:
        if path.suffix.lower() == ".pdf":
            write_bytes_atomic(letter_pdf(letter), path)
        else:
            with atomic_write(path) as handle:
                handle.write(letter_markdown(letter, template_dir))
    store.add_event(resident_id, "letter_sent", recorded_by, missing_id=missing_id,
                    detail={"number": letter["number"], "files": [p.name for p in paths],
                            "police_unit": letter["police_unit"]})
    return letter
