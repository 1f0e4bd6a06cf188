"""The case of one resident, read from the store's append-only event log and decisions.

A case moves through these stages (:data:`STAGES`); each step is one event of
:data:`~kinmatch.review.schema.CASE_EVENTS`, and the stage is recomputed from the log every time:

==================  ======================================================================
``open``            no report is confirmed (or the confirmed one was excluded by DNA)
``confirmed``       a reviewer decided 同一人 (``confirmed``: written with the decision)
``second_confirmed`` another reviewer confirmed it (``second_confirmed``): the case counts
``dna_requested``   a DNA comparison was requested (``dna_requested``, with its date)
``dna_match``       the DNA result matches (``dna_match``); ``dna_no_match`` excludes the pair
``reunited``        the person went home (``reunited``): the public notice is withdrawn
``placed``          after three months unidentified, hukou and placement (``placed``)
==================  ======================================================================

Steps that need an earlier one are refused by :func:`check_step` with a message that says what is
missing, so the log never holds a DNA result without a request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

__all__ = ["STAGES", "STEPS", "BEIJING", "case_state", "check_step", "deadline_record", "beijing_today"]

BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")
"""China Standard Time: UTC+8 all year (China keeps no summer time), so no time-zone database is needed."""

STAGES = {
    "open": "待确认", "confirmed": "已确认同一人，待二次确认", "second_confirmed": "已二次确认，待申请DNA比对",
    "dna_requested": "已申请DNA比对，待结果", "dna_match": "DNA比对一致，待返乡", "reunited": "已返乡",
    "placed": "已落户安置",
}
"""Stage code → Chinese name, in lifecycle order."""

STEPS = ("dna_requested", "dna_match", "dna_no_match", "reunited", "placed")
"""Events recorded on the case page as lifecycle steps (validated by :func:`check_step`)."""

_ORDER = list(STAGES)


def _day(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert(BEIJING).date()


def beijing_today() -> dt.date:
    """Today's date in Beijing (deadlines are kept by the stations' calendar)."""
    return dt.datetime.now(BEIJING).date()


def case_state(resident_id: str, decisions: pd.DataFrame, events: pd.DataFrame) -> dict:
    """The state of one resident's case from its current decisions and its events (oldest first).

    ``decisions``: the resident's current decision per pair (:meth:`Store.current_decisions` rows);
    ``events``: the resident's events (:meth:`Store.events`). The confirmed report is the latest
    current 同一人; the events that count for it are those after the ``confirmed`` event written with
    that decision, so a re-decided pair starts its second review afresh.
    """
    state = {"resident_id": str(resident_id), "stage": "open", "missing_id": None, "confirmed_by": None,
             "confirmed_date": None, "second_confirmed": False, "second_by": None, "second_date": None,
             "dna_requested": None, "dna_result": None, "dna_result_date": None,
             "reunited": False, "reunited_date": None, "placed": False, "placed_date": None,
             "notice_published": None, "notice_refreshed": None}
    records = events.to_dict("records")
    for event in records:
        if event["event"] == "reunited":
            state["reunited"], state["reunited_date"] = True, _day(event["event_date"])
        elif event["event"] == "placed":
            state["placed"], state["placed_date"] = True, _day(event["event_date"])
        elif event["event"] == "notice_published" and state["notice_published"] is None:
            state["notice_published"] = _day(event["event_date"])
        elif event["event"] == "notice_refreshed":
            state["notice_refreshed"] = _day(event["event_date"])
    same = decisions[decisions["decision"] == "same"].sort_values("id")
    if len(same):
        current = same.iloc[-1]
        state.update(missing_id=str(current["missing_id"]), confirmed_by=current["reviewer"],
                     confirmed_date=_day(current["decided_at"]), stage="confirmed")
        start = next((i for i, e in enumerate(records) if e["event"] == "confirmed"
                      and (e["detail"] or {}).get("decision_id") == int(current["id"])), None)
        later = [e for e in records[start + 1:] if e["missing_id"] == state["missing_id"]] if start is not None else []
        for event in later:
            if event["event"] == "second_confirmed":
                state.update(second_confirmed=True, second_by=event["recorded_by"],
                             second_date=_day(event["event_date"]))
            elif event["event"] == "dna_requested":
                state["dna_requested"] = _day(event["event_date"])
            elif event["event"] in ("dna_match", "dna_no_match"):
                state["dna_result"] = "match" if event["event"] == "dna_match" else "no_match"
                state["dna_result_date"] = _day(event["event_date"])
        if state["second_confirmed"]:
            state["stage"] = "second_confirmed"
        if state["dna_requested"]:
            state["stage"] = "dna_requested"
        if state["dna_result"] == "match":
            state["stage"] = "dna_match"
    if state["reunited"]:
        state["stage"] = "reunited"
    elif state["placed"]:
        state["stage"] = "placed"
    state["stage_label"] = STAGES[state["stage"]]
    return state


def check_step(state: dict, event: str, placement_due: bool = False) -> str | None:
    """Why ``event`` cannot be recorded on a case in ``state`` (a Chinese sentence), or None if it can."""
    stage = state["stage"]
    if event in ("dna_requested", "dna_match", "dna_no_match", "reunited") and state["missing_id"] is None:
        return "此人尚无确认的同一人寻人信息：请先在比对页确认同一人，并由另一位审核人二次确认。"
    if state["reunited"] and event != "reunited":
        return "此人已返乡，案件已结束；如记录有误，请联系管理员。"
    if event == "dna_requested" and not state["second_confirmed"]:
        return "同一人结论须先由另一位审核人二次确认，才能申请DNA比对。"
    if event in ("dna_match", "dna_no_match") and not state["dna_requested"]:
        return "尚未记录DNA比对申请：请先记录申请日期，再记录比对结果。"
    if event == "reunited" and not state["second_confirmed"]:
        return "同一人结论须先由另一位审核人二次确认，才能记录返乡。"
    if event == "reunited" and state["reunited"]:
        return "此人已记录返乡。"
    if event == "placed":
        if state["placed"]:
            return "此人已记录落户安置。"
        if _ORDER.index(stage) >= _ORDER.index("dna_requested"):
            return "此人的寻亲比对仍在进行（已申请DNA比对），暂不能落户安置。"
        if not placement_due:
            return "入站未满三个月，尚不能落户安置（满三个月仍未查明身份方可办理）。"
    return None


DONE_FIELDS = {"notice": "notice_date", "dna_request": "dna_request_date", "long_stay": "long_stay_date",
               "notice_refresh": "notice_refresh_date", "placement": "placement_date"}
"""Deadline → the record column :func:`kinmatch.deadlines.deadlines` reads its done date from."""

_DONE_BY_EVENT = {"notice_published": "notice", "dna_requested": "dna_request", "notice_refreshed": "notice_refresh",
                  "placed": "placement"}


def deadline_record(record: dict, events: pd.DataFrame) -> dict:
    """The resident record as :func:`kinmatch.deadlines.deadlines` reads it, with the done dates
    the case events give (a published notice, a DNA request, a ``deadline_done`` mark) and the
    reunion as its status. Monthly refresh keeps the latest date (the next is due a month after)."""
    # every done column is present: the store records each step, so a passed deadline without
    # its event is overdue (not "unrecorded", as for a file that has no column for the step)
    out = {**{column: None for column in DONE_FIELDS.values()}, **record}
    done: dict[str, dt.date] = {}
    for event in events.to_dict("records"):
        deadline = _DONE_BY_EVENT.get(event["event"])
        if event["event"] == "deadline_done":
            deadline = (event["detail"] or {}).get("deadline")
        if deadline not in DONE_FIELDS:
            continue
        day = _day(event["event_date"])
        if deadline == "notice_refresh" or deadline not in done:
            done[deadline] = day
    for deadline, day in done.items():
        out[DONE_FIELDS[deadline]] = day.isoformat()
    if any(events["event"] == "reunited"):
        out["status"] = "已返乡"
    return out
