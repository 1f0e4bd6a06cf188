"""Case deadlines of each resident (受助人员办理时限), from the found date.

==================  =============================  ===========================  ===========
deadline            what                           due                          kind
==================  =============================  ===========================  ===========
``notice``          publish a 寻亲公告              24 hours after intake        deadline
``dna_request``     ask police to collect DNA       7 working days after intake  deadline
``long_stay``       long-stay resident (滞留人员)    10 days after intake         milestone
``notice_refresh``  refresh the online notice       1 month after intake, then   deadline
                                                    1 month after each refresh
``placement``       hukou and placement (落户安置)   3 months after intake        milestone
==================  =============================  ===========================  ===========

Working days follow the official calendar (holidays and make-up workdays, 调休) from the
``chinese_calendar`` package. Outside the years it knows, Monday–Friday is used, a
:class:`UserWarning` says so and the row's ``calendar`` column says ``mon_fri``.

Status: ``done`` when a column of the record says so (see :data:`DONE_COLUMNS`; a date or a yes-word
such as 已/是/完成), ``closed`` when the person went home (a status column says 已返乡, see
:func:`kinmatch.notices.context.is_reunited`), otherwise for a
*deadline* ``overdue`` after the due date, ``due`` within :data:`DUE_SOON_DAYS` days of it,
``upcoming`` before that; a *milestone* is ``due`` from its date on and ``upcoming`` before.

A file with **no column at all** for a step (none of its :data:`DONE_COLUMNS`) does not say
whether the step was done, so a passed deadline is ``unrecorded``, not ``overdue``, and the
monthly notice refresh is counted from the found date to the next monthly date on or after the
judging day (not from a refresh years ago); the issues table says once per step which column to
add. A file that has the column but leaves a resident's cell blank means "not done yet".

A found date known only to the month or year (``2024年3月``, ``2024``) is not treated as its
first day: ``due_date`` is the earliest and ``due_latest`` the latest possible due date, and the
status is ``unknown`` (with a ``reason``) whenever it depends on the unknown day; a status that
holds for every possible day (overdue even if found on the last day of the month) is kept.

    >>> import pandas as pd
    >>> residents = pd.DataFrame([{"resident_id": "R1", "found_date": "2024-09-28"}])
    >>> table = deadlines(residents, today="2024-10-09").frame
    >>> table.set_index("deadline").loc["dna_request", ["due_date", "status"]].tolist()
    [datetime.date(2024, 10, 12), 'upcoming']
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any, NamedTuple

import pandas as pd

from kinmatch.errors import InputError
from kinmatch.issues import IssueLog
from kinmatch.normalize.text import text_of
from kinmatch.notices.context import is_reunited

DUE_SOON_DAYS = 2
"""A deadline is ``due`` (not ``upcoming``) from this many days before it."""

DNA_WORKING_DAYS = 7

MAX_WORKING_DAYS = 366
""":func:`add_working_days` refuses longer spans (no case deadline is that far)."""

DEADLINE_LABELS = {
    "notice": "发布寻亲公告",
    "dna_request": "申请公安采集DNA",
    "long_stay": "滞留人员（满10天）",
    "notice_refresh": "更新网上寻亲公告",
    "placement": "落户安置（满3个月）",
}
_KIND = {"notice": "deadline", "dna_request": "deadline", "long_stay": "milestone",
         "notice_refresh": "deadline", "placement": "milestone"}

DONE_COLUMNS = {
    "notice": ("notice_date", "notice_status", "notice_done", "公告日期", "公告发布日期", "公告状态"),
    "dna_request": ("dna_date", "dna_status", "dna_request_date", "dna_done", "DNA采集日期",
                    "DNA状态", "采血日期", "DNA采集"),
    "long_stay": ("long_stay_date", "long_stay_status", "滞留上报日期", "滞留上报"),
    "notice_refresh": ("notice_refresh_date", "notice_refreshed", "公告更新日期"),
    "placement": ("placement_date", "placement_status", "hukou_date", "落户日期", "安置日期",
                  "落户状态", "安置状态"),
}
"""Columns whose non-blank value (a date, or 已/是/完成/done/yes) marks a deadline done."""

STATUSES = ("done", "closed", "overdue", "due", "upcoming", "unknown", "unrecorded")

DEADLINE_COLUMNS = ["resident_id", "deadline", "label", "found_date", "due_date", "days_left",
                    "status", "calendar", "found_precision", "due_latest", "reason"]
"""``found_precision``: day / month / year; ``due_latest``: the latest possible due date (the
same as ``due_date`` for an exact found date); ``days_left`` counts to ``due_latest``;
``reason``: why a status is ``unknown`` or a window ('' otherwise)."""

_PRECISION_WORDS = {"month": "月", "year": "年"}

_YES = ("已", "是", "完成", "办结", "done", "yes", "y", "true", "1", "✓", "√")
_NO = ("未", "否", "没", "无", "no", "n", "false", "0", "待")


class Deadlines(NamedTuple):
    """``frame``: one row per resident and deadline (:data:`DEADLINE_COLUMNS`); ``issues``."""

    frame: pd.DataFrame
    issues: pd.DataFrame


def _text(value: Any) -> str:
    return text_of(value) or ""  # str(pd.NA) would be the text "<NA>"


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like cells are not blanks
        return False


def _as_day(value: Any) -> tuple[dt.date | None, str | None]:
    """``(date, precision)``; a month or year precision gives its first day."""
    from kinmatch.normalize.quantities import parse_date

    # pd.NaT is a datetime subclass whose .date() is NaT again: blanks must be caught first.
    if _missing(value):
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), "day"
    if isinstance(value, dt.date):
        return value, "day"
    text = _text(value)
    if not text:
        return None, None
    parsed = parse_date(text)
    if parsed is None or parsed[0] is None or pd.isna(parsed[0]):
        return None, None
    return pd.Timestamp(parsed[0]).date(), parsed[1] or "day"


def _as_date(value: Any) -> dt.date | None:
    return _as_day(value)[0]


def _period_end(start: dt.date, precision: str | None) -> dt.date:
    """The last day a date known to ``precision`` can be."""
    if precision == "year":
        return dt.date(start.year, 12, 31)
    if precision == "month":
        return (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    return start


def _dues(found: dt.date) -> tuple[dict[str, dt.date], bool]:
    dna_due, official = add_working_days(found, DNA_WORKING_DAYS)
    found_ts = pd.Timestamp(found)
    return {
        "notice": found + dt.timedelta(days=1),
        "dna_request": dna_due,
        "long_stay": found + dt.timedelta(days=10),
        "notice_refresh": (found_ts + pd.DateOffset(months=1)).date(),
        "placement": (found_ts + pd.DateOffset(months=3)).date(),
    }, official


def is_workday(day: dt.date) -> tuple[bool, bool]:
    """``(is a working day, from the official calendar)``; Mon–Fri outside its years.

    >>> is_workday(dt.date(2024, 10, 12))  # Saturday, a make-up workday after 国庆
    (True, True)
    >>> is_workday(dt.date(2024, 10, 3))
    (False, True)
    """
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_working_days(start: dt.date, days: int) -> tuple[dt.date, bool]:
    """The ``days``-th working day after ``start``; ``(date, all days from the official calendar)``.

    >>> add_working_days(dt.date(2024, 2, 8), 7)  # across 春节 2024 (make-up Sunday 2月18日)
    (datetime.date(2024, 2, 23), True)

    Raises :class:`~kinmatch.errors.InputError` (a ``ValueError``) for a blank ``start`` or more
    than :data:`MAX_WORKING_DAYS` days, rather than looping for ever.
    """
    if _missing(start) or not isinstance(start, dt.date):
        raise InputError(f"cannot count working days from {start!r}: it is not a date; "
                         "fill in the found date like 2024-10-09")
    if not 0 <= days <= MAX_WORKING_DAYS:
        raise InputError(f"cannot count {days} working days: case deadlines are between 0 and "
                         f"{MAX_WORKING_DAYS} working days")
    if isinstance(start, dt.datetime):
        start = start.date()
    # Never more than 2 calendar days per working day plus the longest holiday run (about 9
    # days): a hard cap, so a calendar bug cannot hang a batch.
    limit = 2 * days + 31
    day, count, official = start, 0, True
    for _step in range(limit):
        if count >= days:
            break
        day += dt.timedelta(days=1)
        working, known = is_workday(day)
        official = official and known
        count += working
    if count < days:
        raise InputError(f"found only {count} of {days} working days in the {limit} days after "
                         f"{start}; the holiday calendar looks broken (upgrade chinese-calendar)")
    return day, official


def _done_value(record: dict, deadline: str) -> tuple[bool, dt.date | None]:
    for column in DONE_COLUMNS[deadline]:
        text = _text(record.get(column))
        if not text:
            continue
        when = _as_date(text)
        if when is not None:
            return True, when
        lowered = text.lower()
        if lowered.startswith(_NO):
            return False, None
        if lowered.startswith(_YES) or any(word in lowered for word in ("已", "完成")):
            return True, None
    return False, None


def _next_monthly(found: dt.date, today: dt.date) -> dt.date:
    """The first of ``found`` + 1 month, + 2 months … that is on or after ``today``.

        >>> _next_monthly(dt.date(2014, 3, 31), dt.date(2024, 10, 9))
        datetime.date(2024, 10, 31)
        >>> _next_monthly(dt.date(2024, 9, 30), dt.date(2024, 10, 1))
        datetime.date(2024, 10, 30)
    """
    months = max((today.year - found.year) * 12 + today.month - found.month, 1)
    for step in (months - 1, months, months + 1):
        candidate = (pd.Timestamp(found) + pd.DateOffset(months=max(step, 1))).date()
        if candidate >= today:
            return candidate
    return (pd.Timestamp(found) + pd.DateOffset(months=months + 2)).date()


def _status(kind: str, due: dt.date, today: dt.date) -> str:
    if kind == "milestone":
        return "due" if today >= due else "upcoming"
    if today > due:
        return "overdue"
    if (due - today).days <= DUE_SOON_DAYS:
        return "due"
    return "upcoming"


def _blanked_by_intake(intake_issues: pd.DataFrame | None) -> dict[Any, str]:
    """Source row → the raw found date intake blanked as ``future_date`` (after the day it ran)."""
    if intake_issues is None or not len(intake_issues):
        return {}
    wanted = intake_issues[(intake_issues["column"] == "found_date")
                           & (intake_issues["reason"] == "future_date")]
    return {_text(row.row): _text(row.value) for row in wanted.itertuples(index=False)}


def deadlines(residents: pd.DataFrame, today: Any = None,
              intake_issues: pd.DataFrame | None = None) -> Deadlines:
    """The deadlines of every resident at ``today`` (default: the current date).

    Residents without a readable ``found_date`` get no rows and an issue (``bad_found_date``);
    a found date after ``today`` gets no rows and a ``future_found_date`` issue.

    Intake (:func:`kinmatch.read_residents`) blanks a date after the day it runs. Pass its issues
    table as ``intake_issues`` and such a found date is read back from it and judged against
    ``today`` instead: a plan checked at a later ``today`` (``--today``) still has its deadlines.

    >>> from kinmatch.intake import read_residents
    >>> residents, intake = read_residents(pd.DataFrame({"编号": ["R1"], "入站日期": ["2099-01-02"],
    ...                                                  "公告状态": [None]}))
    >>> table = deadlines(residents, today="2099-01-05", intake_issues=intake).frame
    >>> table.set_index("deadline").loc["notice", "status"]
    'overdue'
    """
    if "resident_id" not in residents.columns:
        raise InputError("the resident table has no resident_id column; read it with "
                         "kinmatch.read_residents or name the id column 'resident_id'")
    today_date = dt.date.today() if today is None else _as_date(today)
    if today_date is None:
        raise InputError(f"--today {today!r} is not a date; write it like 2024-10-09")
    log = IssueLog()
    rows = []
    outside_calendar = 0
    # steps the file has no column for: whether they were done is not recorded (see the module docstring)
    unrecorded = {deadline for deadline, columns in DONE_COLUMNS.items()
                  if not any(column in residents.columns for column in columns)}
    for deadline in sorted(unrecorded, key=list(DONE_COLUMNS).index):
        log.add(row=None, record_id=None, column=DONE_COLUMNS[deadline][0], value=None, reason="no_done_column",
                action="kept",
                message=f"the file has no column recording whether 「{DEADLINE_LABELS[deadline]}」 was done "
                        f"(e.g. {DONE_COLUMNS[deadline][0]} or "
                        f"{next(c for c in DONE_COLUMNS[deadline] if not c.isascii())}), so a passed "
                        f"deadline is shown as unrecorded, not overdue; add the column to track it")
    blanked = _blanked_by_intake(intake_issues)
    for position, record in enumerate(residents.to_dict("records")):
        resident_id = _text(record.get("resident_id"))
        found_value = record.get("found_date")
        if _missing(found_value) or not _text(found_value):
            # intake's "future" was the wall clock; here the judging day is ``today``
            found_value = blanked.get(_text(record.get("source_row")), found_value)
        found, precision = _as_day(found_value)
        row_number = record.get("source_row")
        row_number = int(row_number) if _text(row_number).isdigit() else position + 2
        if found is None:
            log.add(row=row_number, record_id=resident_id, column="found_date",
                    value=record.get("found_date"), reason="bad_found_date", action="kept",
                    message="no readable found date (入站日期), so no deadlines can be computed; "
                            "fill it in like 2024-10-09")
            continue
        if found > today_date:
            log.add(row=row_number, record_id=resident_id, column="found_date",
                    value=found_value, reason="future_found_date", action="kept",
                    message=f"found date (入站日期) {_text(found_value)} is after the day the "
                            f"deadlines are judged at ({today_date}), so none are computed; "
                            "check the year, or judge at a later day with --today")
            continue
        reunited = is_reunited(record)
        # An imprecise found date spans a window: every due date is a window too.
        dues, official = _dues(found)
        latest_dues, official_latest = _dues(_period_end(found, precision))
        official = official and official_latest
        if not official:
            outside_calendar += 1
        for deadline, due in dues.items():
            due_latest = latest_dues[deadline]
            done, when = _done_value(record, deadline)
            if deadline == "notice_refresh" and done and when is not None:
                # A refresh is monthly: the next one is due a month after the last.
                due = due_latest = (pd.Timestamp(when) + pd.DateOffset(months=1)).date()
                done = False
            if deadline == "notice_refresh" and deadline in unrecorded:
                # no refresh is recorded: the next monthly date on or after today, not the first one
                due = _next_monthly(found, today_date)
                due_latest = _next_monthly(_period_end(found, precision), today_date)
            reason = ""
            if due != due_latest:
                reason = (f"入站日期只知道到{_PRECISION_WORDS.get(precision, '日')}"
                          f"（{_text(record.get('found_date'))}），应办日期在{due}至{due_latest}之间")
            if reunited:
                status = "closed"
            elif done:
                status = "done"
            else:
                status = _status(_KIND[deadline], due, today_date)
                if _status(_KIND[deadline], due_latest, today_date) != status:
                    status = "unknown"  # depends on the day nobody recorded
                if deadline in unrecorded and status in ("overdue", "unknown") and today_date > due:
                    status = "unrecorded"
                    reason = (reason + "；" if reason else "") + "文件中没有记录此项是否已办的列，无法判断是否逾期"
            rows.append({
                "resident_id": resident_id, "deadline": deadline,
                "label": DEADLINE_LABELS[deadline], "found_date": found, "due_date": due,
                "days_left": (due_latest - today_date).days, "status": status,
                "calendar": "official" if (deadline != "dna_request" or official) else "mon_fri",
                "found_precision": precision, "due_latest": due_latest, "reason": reason,
            })
    if outside_calendar:
        warnings.warn(
            f"{outside_calendar} resident(s) have DNA deadlines in years the chinese_calendar "
            "package does not cover; Monday–Friday was used there (rows with calendar=mon_fri). "
            "Upgrade chinese-calendar to get the official holidays.",
            UserWarning, stacklevel=2,
        )
    frame = pd.DataFrame(rows, columns=DEADLINE_COLUMNS)
    return Deadlines(frame, log.to_frame())
