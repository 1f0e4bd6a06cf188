"""The case page of one resident (candidates, decisions, lifecycle, deadlines, notice, suspected
home counties, history) and the forms that move the case on."""

from __future__ import annotations

import datetime as dt
import io

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_file, url_for

from kinmatch.deadlines import DEADLINE_LABELS
from kinmatch.review.lifecycle import STAGES, STEPS, beijing_today
from kinmatch.review.schema import CASE_EVENTS
from kinmatch.review.store import DECISION_LABELS, StoreError
from kinmatch.review.web.common import current_store

bp = Blueprint("cases", __name__)

STATUS_LABELS = {"overdue": "已逾期", "due": "即将到期", "upcoming": "未到期", "done": "已办", "closed": "已结案",
                 "unknown": "日期不确定"}
NOTICE_EVENTS = ("notice_published", "notice_refreshed")


def _form_date(name: str = "event_date") -> dt.date | None:
    """A date typed in a form (``2024-01-05``); blank is today in Beijing."""
    text = (request.form.get(name) or "").strip()
    if not text:
        return beijing_today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"日期“{text[:20]}”无法识别，请写成 2024-01-05 的形式。")


def _utc(moment) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def _detail_text(detail: dict | None) -> str:
    from kinmatch.deadlines import DEADLINE_LABELS

    detail = detail or {}
    if detail.get("deadline"):
        return DEADLINE_LABELS.get(detail["deadline"], detail["deadline"])
    if "to" in detail:
        return f"分派给 {detail['to']}" if detail["to"] else "取消分派"
    return str(detail.get("text") or detail.get("reference") or detail.get("note") or "")


def _resident_or_404(store, resident_id: str) -> dict:
    """The resident's record, or a 404 page that names the id."""
    record = store.resident(resident_id)
    if record is None:
        abort(404, description=f"没有受助人员 {resident_id}。")
    return record


def notice_status(state: dict) -> str:
    """The public notice's state in words: withdrawn once the person is reunited."""
    if state["reunited"]:
        return f"已撤回（{state['reunited_date']} 已返乡，公告自动改为撤回版本）"
    if state["notice_refreshed"]:
        return f"已发布，最近更新 {state['notice_refreshed']}"
    if state["notice_published"]:
        return f"已发布（{state['notice_published']}）"
    return "尚未记录发布"


@bp.get("/case/<id:resident_id>")
def case(resident_id: str):
    from kinmatch.targeting import suspected_home_counties

    store = current_store()
    resident = _resident_or_404(store, resident_id)
    store.log_access(g.user["username"], "view_case", "resident", resident_id)
    state = store.case_state(resident_id)
    candidates = store.candidates_of("resident", resident_id)
    excluded = store.derived_exclusions(resident_id)
    derived = dict(zip(excluded["missing_id"], excluded["reason"], strict=True))
    try:
        targets = suspected_home_counties([resident]).to_dict("records")
    except Exception:  # a record targeting cannot read still has a case page
        targets = []
    # events and decisions in one history, in the order they were recorded
    events = [{"date": e["event_date"], "what": CASE_EVENTS.get(e["event"], e["event"]), "missing_id": e["missing_id"],
               "note": _detail_text(e["detail"]), "by": e["recorded_by"], "at": e["recorded_at"]}
              for e in store.events(resident_id).to_dict("records")]
    events += [{"date": h["decided_at"], "what": "结论：" + DECISION_LABELS.get(h["decision"], h["decision"]),
                "missing_id": h["missing_id"], "note": h["reason"] or "", "by": h["reviewer"], "at": h["decided_at"]}
               for h in store.history(resident_id).to_dict("records")]
    events.sort(key=lambda row: _utc(row["at"]))
    return render_template(
        "case.html", resident_id=resident_id, resident=resident, state=state, stages=STAGES,
        candidates=candidates.to_dict("records"), derived=derived,
        deadlines=store.case_deadlines(resident_id).to_dict("records"), status_labels=STATUS_LABELS,
        notice=notice_status(state), targets=targets, events=events, event_labels=CASE_EVENTS,
        steps=STEPS, today=beijing_today())


@bp.post("/case/<id:resident_id>/step")
def step(resident_id: str):
    store = current_store()
    event = request.form.get("event", "")
    _resident_or_404(store, resident_id)
    when = _form_date()
    reference = (request.form.get("reference") or "").strip()
    try:
        if event in NOTICE_EVENTS:
            store.add_event(resident_id, event, g.user["username"], event_date=when)
        else:
            store.advance_case(resident_id, event, g.user["username"], event_date=when,
                               detail={"reference": reference[:200]} if reference else None)
    except StoreError as error:
        flash(f"未记录：{error}")
        return redirect(url_for("cases.case", resident_id=resident_id))
    store.log_access(g.user["username"], "case_event", "resident", resident_id, detail=event)
    flash(f"已记录：{CASE_EVENTS.get(event, event)}（{when}）")
    return redirect(url_for("cases.case", resident_id=resident_id))


@bp.post("/case/<id:resident_id>/done")
def deadline_done(resident_id: str):
    store = current_store()
    deadline = request.form.get("deadline", "")
    _resident_or_404(store, resident_id)
    try:
        store.mark_deadline_done(resident_id, deadline, g.user["username"], event_date=_form_date())
    except StoreError as error:
        flash(f"未记录：{error}")
        return redirect(url_for("cases.case", resident_id=resident_id))
    store.log_access(g.user["username"], "deadline_done", "resident", resident_id, detail=deadline)
    flash(f"已标记办结：{DEADLINE_LABELS[deadline]}")
    return redirect(request.form.get("back") == "queue" and url_for("queue.queue")
                    or url_for("cases.case", resident_id=resident_id))


@bp.post("/case/<id:resident_id>/comment")
def comment(resident_id: str):
    store = current_store()
    _resident_or_404(store, resident_id)
    try:
        store.comment(resident_id, None, g.user["username"], request.form.get("text", ""))
        store.log_access(g.user["username"], "comment", "resident", resident_id)
        flash("已保存备注。")
    except StoreError as error:
        flash(f"未保存：{error}")
    return redirect(url_for("cases.case", resident_id=resident_id))


@bp.get("/case/<id:resident_id>/letter/<id:missing_id>")
def letter(resident_id: str, missing_id: str):
    """The match-lead letter (比对线索函) of a pair two reviewers confirmed, as a printable PDF;
    refused with the reason (shown on the case page) otherwise. Appends a ``letter_sent`` event."""
    from kinmatch.review.letters import LetterRefused, lead_letter, letter_pdf

    store = current_store()
    try:
        content = lead_letter(store, resident_id, missing_id)
    except LetterRefused as refused:
        flash(str(refused))
        return redirect(url_for("cases.case", resident_id=resident_id))
    data = letter_pdf(content)
    store.add_event(resident_id, "letter_sent", g.user["username"], missing_id=missing_id,
                    detail={"number": content["number"], "files": ["review site"]})
    store.log_access(g.user["username"], "letter", "resident", resident_id, detail=str(missing_id))
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=False,
                     download_name=f"letter-{content['number']}.pdf")


@bp.get("/case/<id:resident_id>/notice")
def notice(resident_id: str):
    """The resident's public notice (寻亲公告) as it would be published now: the withdrawn version
    (no name, no photo) once the case store records the reunion."""
    from kinmatch.notices import render_notice
    from kinmatch.notices.errors import NoticeSkipped

    store = current_store()
    record = _resident_or_404(store, resident_id)
    if store.case_state(resident_id).get("reunited"):
        record = dict(record, status="已返乡")
    store.log_access(g.user["username"], "view_notice", "resident", resident_id)
    try:
        page = render_notice(record, "html")
    except NoticeSkipped as skipped:
        abort(400, description=f"这份公告不能发布：{skipped}")
    return Response(page, mimetype="text/html")
