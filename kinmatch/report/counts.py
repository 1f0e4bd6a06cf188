"""The campaign report's counts, from the case store and its append-only case event log.

Every count is of the period ``[start, end]`` (both days included, Beijing dates):

==================  =================================================================================
count (heading)     what is counted
==================  =================================================================================
接收受助人员         residents whose found date (``found_date``, known to the day) is in the period
24小时内发布公告     of those, residents whose first ``notice_published`` event (or ``deadline_done``
                    with ``{"deadline": "notice"}``) is no later than the day after the found date
7个工作日内采集DNA   of those, residents whose first ``dna_requested`` event (or ``deadline_done`` with
                    ``{"deadline": "dna"}`` / ``"dna_request"``) is within 7 working days
                    (:func:`kinmatch.deadlines.add_working_days`, official holidays and 调休)
审核候选            distinct pairs with a decision recorded in the period
确认同一人          distinct pairs with a ``confirmed`` event in the period
返乡团聚            distinct residents with a ``reunited`` event in the period
滞留人员            residents whose 10th day after the found date is in the period and who had not
                    gone home (``reunited``) or been placed (``placed``) before it
落户安置            distinct residents with a ``placed`` event in the period
==================  =================================================================================

"By station" counts each under the resident's ``station`` (未填救助站 when blank); "by month" under
the month of the day that put it in the period (found date, event date, or the 10th day).
Deadline compliance (:attr:`CampaignCounts.compliance`) sorts the residents received into 按时办理,
逾期办理, 逾期未办 (due before the end of the period, not done) and 未到期 (not yet due at its end);
a resident found on an unknown day is not received in any period.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

__all__ = ["METRICS", "COMPLIANCE", "CampaignCounts", "campaign_counts", "stored_residents", "NO_STATION"]

METRICS = {
    "received": "接收受助人员", "notice_on_time": "24小时内发布公告", "dna_on_time": "7个工作日内采集DNA",
    "reviewed": "审核候选", "confirmed": "确认同一人", "reunited": "返乡团聚", "long_stay": "滞留人员",
    "placed": "落户安置",
}
"""Count codes and their Chinese headings, in report order."""

COMPLIANCE = ("按时办理", "逾期办理", "逾期未办", "未到期")
DEADLINES = {"notice": "24小时内发布寻亲公告", "dna": "7个工作日内采集DNA"}
NO_STATION = "未填救助站"
BEIJING = "Asia/Shanghai"
LONG_STAY_DAYS = 10

_DONE_KEYS = {"notice": ("notice",), "dna": ("dna", "dna_request")}
_DONE_EVENTS = {"notice": "notice_published", "dna": "dna_requested"}


class CampaignCounts(NamedTuple):
    """``summary``: count code → number; ``by_station`` / ``by_month``: one row per station / month
    (``YYYY-MM``), one column per count code; ``compliance``: rows ``notice`` / ``dna``, columns
    :data:`COMPLIANCE`; ``residents``: one row per resident received (station, found date, due and
    done days, status of each deadline); ``flows``: residents with a confirmed or reunited report
    (``found_place``, ``hometown``) for the map; ``start``, ``end``."""

    summary: dict[str, int]
    by_station: pd.DataFrame
    by_month: pd.DataFrame
    compliance: pd.DataFrame
    residents: pd.DataFrame
    flows: pd.DataFrame
    start: dt.date
    end: dt.date


def stored_residents(store) -> list[dict]:
    """Every resident record of the store (read-only query over ``store.engine``).

    The store has no public method listing all residents yet; this belongs there."""
    from sqlalchemy import select

    from kinmatch.review import schema as s

    with store.engine.connect() as conn:
        rows = conn.execute(select(s.residents.c.record_json).order_by(s.residents.c.resident_id)).scalars().all()
    return [json.loads(row) for row in rows]


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    return pd.Timestamp(value).date()


def _beijing_days(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, utc=True)  # naive (SQLite) times are stored in UTC
    return stamps.dt.tz_convert(BEIJING).dt.date


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _done_days(events: pd.DataFrame, kind: str) -> dict[str, dt.date]:
    """resident → first day the ``kind`` deadline was done (its event, or ``deadline_done``)."""
    def marks(detail: Any) -> bool:
        return isinstance(detail, Mapping) and detail.get("deadline") in _DONE_KEYS[kind]

    done = events[(events["event"] == _DONE_EVENTS[kind])
                  | ((events["event"] == "deadline_done") & events["detail"].map(marks))]
    return done.groupby("resident_id")["day"].min().to_dict()


def _status(due: dt.date, done: dt.date | None, end: dt.date) -> str:
    if done is not None:
        return COMPLIANCE[0] if done <= due else COMPLIANCE[1]
    return COMPLIANCE[2] if due < end else COMPLIANCE[3]


def campaign_counts(store, start: Any, end: Any) -> CampaignCounts:
    """The report's counts for the days ``start``–``end`` (dates or ``YYYY-MM-DD`` text)."""
    from kinmatch.deadlines import DNA_WORKING_DAYS, add_working_days
    from kinmatch.errors import InputError
    from kinmatch.notices.context import parse_day

    try:
        start, end = _day(start), _day(end)
    except (ValueError, TypeError) as error:
        raise InputError(f"报告期间的日期无法识别（{error}）；请写成 2024-11-01 这样的日期") from None
    if end < start:
        raise InputError(f"报告期间 {start} 至 {end}：结束日期早于开始日期；请交换 --from 和 --to")

    def in_period(day: dt.date | None) -> bool:
        return day is not None and start <= day <= end

    records = stored_residents(store)
    station_of = {str(r["resident_id"]): (str(r.get("station") or "").strip() or NO_STATION) for r in records}
    events = store.events()
    events["day"] = _beijing_days(events["event_date"]) if len(events) else pd.Series(dtype=object)
    decisions = store.history()
    decisions["day"] = _beijing_days(decisions["decided_at"]) if len(decisions) else pd.Series(dtype=object)

    items: list[tuple[str, str, dt.date]] = []  # (count code, station, day) of everything counted
    notice_done, dna_done = _done_days(events, "notice"), _done_days(events, "dna")
    left = events[events["event"].isin(["reunited", "placed"])].groupby("resident_id")["day"].min().to_dict()
    rows = []
    for record in records:
        resident_id = str(record["resident_id"])
        station = station_of[resident_id]
        found, precision = parse_day(record.get("found_date"))
        if found is None or precision != "day":
            continue
        stay_day = found + dt.timedelta(days=LONG_STAY_DAYS)
        if in_period(stay_day) and not (resident_id in left and left[resident_id] < stay_day):
            items.append(("long_stay", station, stay_day))
        if not in_period(found):
            continue
        items.append(("received", station, found))
        notice_due = found + dt.timedelta(days=1)
        dna_due = add_working_days(found, DNA_WORKING_DAYS)[0]
        row = {"resident_id": resident_id, "station": station, "found_date": found,
               "found_place": record.get("found_place"),
               "notice_due": notice_due, "notice_done": notice_done.get(resident_id),
               "dna_due": dna_due, "dna_done": dna_done.get(resident_id)}
        row["notice"] = _status(notice_due, row["notice_done"], end)
        row["dna"] = _status(dna_due, row["dna_done"], end)
        if row["notice"] == COMPLIANCE[0]:
            items.append(("notice_on_time", station, found))
        if row["dna"] == COMPLIANCE[0]:
            items.append(("dna_on_time", station, found))
        rows.append(row)

    def station_key(resident_id: Any) -> str:
        return station_of.get(str(resident_id), NO_STATION)

    def count(code: str, frame: pd.DataFrame) -> None:
        items.extend((code, station_key(r), d) for r, d in zip(frame["resident_id"], frame["day"], strict=True))

    if len(decisions):
        reviewed = decisions[decisions["day"].map(in_period)].sort_values("id")
        reviewed = reviewed.drop_duplicates(["resident_id", "missing_id"], keep="first")
        count("reviewed", reviewed)
    if len(events):
        period_events = events[events["day"].map(in_period)].sort_values("id")
        confirmed = period_events[period_events["event"] == "confirmed"].drop_duplicates(["resident_id", "missing_id"])
        count("confirmed", confirmed)
        for code in ("reunited", "placed"):
            count(code, period_events[period_events["event"] == code].drop_duplicates("resident_id"))

    counted = pd.DataFrame(items, columns=["count", "station", "day"])
    counted["month"] = counted["day"].map(_month)
    summary = {code: int((counted["count"] == code).sum()) for code in METRICS}

    def table(by: str) -> pd.DataFrame:
        out = counted.pivot_table(index=by, columns="count", values="day", aggfunc="count", fill_value=0)
        return out.reindex(columns=list(METRICS), fill_value=0).astype(int).sort_index()

    by_station, by_month = table("station"), table("month")
    months = pd.period_range(start, end, freq="M").strftime("%Y-%m")
    by_month = by_month.reindex(sorted(set(months) | set(by_month.index)), fill_value=0)
    residents = pd.DataFrame(rows, columns=["resident_id", "station", "found_date", "found_place",
                                            "notice_due", "notice_done",
                                            "notice", "dna_due", "dna_done", "dna"])
    compliance = pd.DataFrame({kind: residents[kind].value_counts().reindex(list(COMPLIANCE), fill_value=0)
                               for kind in DEADLINES}).T.astype(int)
    return CampaignCounts(summary, by_station, by_month, compliance, residents, _flows(store, events, in_period),
                          start, end)


def _flows(store, events: pd.DataFrame, in_period) -> pd.DataFrame:
    """Residents with a pair confirmed or reunited in the period: where found, where from."""
    columns = ["resident_id", "missing_id", "found_place", "hometown", "reunited"]
    if not len(events):
        return pd.DataFrame(columns=columns)
    wanted = events[events["event"].isin(["confirmed", "reunited"]) & events["day"].map(in_period)
                    & events["missing_id"].notna()]
    rows = []
    for (resident_id, missing_id), group in wanted.groupby(["resident_id", "missing_id"], sort=True):
        resident = store.resident(resident_id) or {}
        report = store.report(missing_id) or {}
        rows.append({"resident_id": resident_id, "missing_id": missing_id,
                     "found_place": resident.get("found_place"),
                     "hometown": report.get("hometown") or report.get("missing_place"),
                     "reunited": bool((group["event"] == "reunited").any())})
    return pd.DataFrame(rows, columns=columns)
