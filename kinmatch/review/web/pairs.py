"""The side-by-side view of one candidate pair, and the decision form it posts."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from kinmatch.review.store import DECISION_LABELS, EXCLUSION_REASONS, DecisionConflict, StoreError
from kinmatch.review.web.common import current_store, display_text, order_arg, pair_url
from kinmatch.review.web.photos import photo_of

bp = Blueprint("pairs", __name__)

COMPARISON_NAMES = {
    "name": "姓名", "sex": "性别", "age": "年龄", "height": "身高", "time_gap": "时间间隔",
    "geography": "地理距离", "accent": "口音", "statement_places": "自述地名", "marks": "体貌特征",
    "conditions": "健康状况", "build": "体型", "hair": "发型发色",
}
"""Chinese name of each comparison, for the explanation chart."""

FIELD_ROWS = (
    # label, resident field, report field, comparison whose weight colours the row
    ("姓名", "name", "name", "name"),
    ("别名/小名", "alias", "alias", "name"),
    ("姓名来源", "name_source", None, None),
    ("性别", "sex", "sex", "sex"),
    ("年龄", "age", "age", "age"),
    ("出生日期", "birth_date", "birth_date", "age"),
    ("身高", "height", "height", "height"),
    ("入站日期 / 走失日期", "found_date", "missing_date", "time_gap"),
    ("发现地点 / 走失地点", "found_place", "missing_place", "geography"),
    ("户籍地", None, "hometown", "geography"),
    ("口音 / 方言", "accent", "dialect", "accent"),
    ("自述", "statements", None, "statement_places"),
    ("体貌特征", "description", "description", "marks"),
    ("衣着", "clothing", "clothing", None),
    ("健康状况", "health", "health", "conditions"),
    ("救助站 / 信息来源", "station", "source", None),
)
"""Rows of the side-by-side view. The report's family contact is private and never shown."""


def _rows(resident: dict, report: dict, weights: dict) -> list[dict]:
    rows = []
    for label, left, right, comparison in FIELD_ROWS:
        left_value = display_text(resident.get(left)) if left else ""
        right_value = display_text(report.get(right)) if right else ""
        if not left_value and not right_value:
            continue
        weight = weights.get(comparison) if comparison else None
        state = ""
        if weight is not None and left_value and right_value:
            state = "agree" if weight > 0.05 else "conflict" if weight < -0.05 else ""
        rows.append({"label": label, "left": left_value, "right": right_value, "state": state})
    return rows


def _bars(weights: dict, levels: dict) -> list[dict]:
    from kinmatch.match.comparisons import LEVEL_LABELS

    largest = max([abs(float(w)) for w in weights.values() if w is not None] + [1.0])
    bars = []
    for comparison, weight in weights.items():
        if weight is None:
            continue
        level = levels.get(comparison)
        bars.append({"name": COMPARISON_NAMES.get(comparison, comparison), "weight": float(weight),
                     "width": round(50 * abs(float(weight)) / largest, 1),
                     "level": LEVEL_LABELS.get(comparison, {}).get(level, "") if level is not None else ""})
    return bars


@bp.get("/pair/<id:resident_id>/<id:missing_id>")
def pair(resident_id: str, missing_id: str):
    return _pair_page(resident_id, missing_id)


def _pair_page(resident_id: str, missing_id: str, conflict: dict | None = None, status: int = 200):
    store = current_store()
    order = order_arg()
    candidate = store.candidate(resident_id, missing_id)
    if candidate is None:
        abort(404, description=f"没有候选 {resident_id} × {missing_id}。")
    resident = store.resident(resident_id) or {}
    report = store.report(missing_id) or {}
    for kind, record_id in (("resident", resident_id), ("report", missing_id)):
        store.log_access(g.user["username"], "view", kind, record_id, detail="pair")
    previous, following = store.neighbours(resident_id, missing_id, order)
    # the resident's other candidates: a report already confirmed for them is worth knowing
    others = store.candidates_of("resident", resident_id)
    others = others[others["missing_id"] != str(missing_id)].to_dict("records")
    return render_template(
        "pair.html", candidate=candidate, resident=resident, report=report,
        rows=_rows(resident, report, candidate["weights"] or {}),
        bars=_bars(candidate["weights"] or {}, candidate["levels"] or {}), others=others,
        history=store.history(resident_id, missing_id).to_dict("records"),
        reasons=EXCLUSION_REASONS, order=order, photo=photo_of(resident, resident_id),
        prev_url=pair_url(previous, order), next_url=pair_url(following, order), conflict=conflict), status


@bp.post("/pair/<id:resident_id>/<id:missing_id>/decide")
def decide(resident_id: str, missing_id: str):
    store = current_store()
    order = order_arg()
    decision = request.form.get("decision", "")
    reason = (request.form.get("reason") or "").strip()
    note = (request.form.get("note") or "").strip()
    if decision == "not_same" and not reason:
        flash("排除（非同一人）须选择原因。")
        return redirect(pair_url((resident_id, missing_id), order))
    # the id of the decision the page showed as current ("" if none): a colleague's decision
    # recorded since then is shown to this reviewer for confirmation, never silently overridden
    based_on = request.form.get("based_on")
    if based_on is None or not (based_on == "" or based_on.isdigit()):
        abort(400, description="表单缺少所依据的当前结论（based_on），请刷新页面后重新提交。")
    try:
        store.decide(resident_id, missing_id, decision, g.user["username"],
                     reason=reason or None, note=note or None, based_on=int(based_on) if based_on else None)
    except DecisionConflict as error:
        return _pair_page(resident_id, missing_id, status=409, conflict={
            "current": error.current, "decision": decision, "reason": reason, "note": note})
    except StoreError as error:
        abort(400, description=str(error))
    flash(f"已记录：{resident_id} × {missing_id} → {DECISION_LABELS[decision]}")
    _, following = store.neighbours(resident_id, missing_id, order)
    if following is None:
        flash("队列已审完：没有待审核的候选。")
        return redirect(url_for("queue.queue", order=order))
    return redirect(pair_url(following, order))
