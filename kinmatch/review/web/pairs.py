"""The side-by-side view of one candidate pair, and the decision form it posts."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from kinmatch.review.store import DECISION_LABELS, EXCLUSION_REASONS, DecisionConflict, StoreError
from kinmatch.review.web.common import current_store, display_text, order_arg, pair_url
from kinmatch.review.web.photos import photos_of

bp = Blueprint("pairs", __name__)

PLAIN_ROWS = (
    # label, resident field, report field, the row it follows (None: at the end); no comparison colours them
    ("姓名来源", "name_source", None, "别名/小名"),
    ("衣着", "clothing", "clothing", None),
    ("救助站 / 信息来源", "station", "source", None),
)
"""Rows of the side-by-side view that no comparison decides. The report's family contact is
private and never shown."""


def field_rows(settings=None) -> list[tuple[str, str | None, str | None, str | None]]:
    """Rows of the side-by-side view: (label, resident field, report field, comparison whose
    weight colours the row), from the ``fields`` of the comparisons of ``settings`` (a run's
    :class:`~kinmatch.match.settings.LinkSettings`; None: the defaults), and the plain rows.

        >>> [row[0] for row in field_rows()][:4]
        ['姓名', '别名/小名', '姓名来源', '性别']
    """
    from kinmatch.match.settings import resolve_settings

    rows = [(label, left, right, comparison.name) for comparison in resolve_settings(settings).comparisons
            for label, left, right in comparison.fields]
    shown = {field for row in rows for field in row[1:3] if field}
    for label, left, right, after in PLAIN_ROWS:
        if (left and left in shown) or (right and right in shown):
            continue  # a comparison of the run shows this field already
        at = next((i + 1 for i, row in enumerate(rows) if row[0] == after), len(rows))
        rows.insert(at, (label, left, right, None))
    return rows


def comparison_names(settings=None) -> dict[str, str]:
    """Chinese title of each comparison, for the explanation chart."""
    from kinmatch.match.settings import resolve_settings

    return {comparison.name: comparison.title for comparison in resolve_settings(settings).comparisons}


FIELD_ROWS = tuple(field_rows())
"""The rows of the default comparisons (the fields the site knows)."""
COMPARISON_NAMES = comparison_names()


ROW_STATES = {"agree": "相符", "differ": "有出入", "conflict": "矛盾"}
"""How a row of the side-by-side view is marked. 矛盾 only where the comparison's level is its
clearest disagreement (level 0 of an ordered comparison: 身高不符, 性别不符); a mild difference
(170cm / 一米七五, level 身高相近) is 有出入 at most, so a clerk is not sent after a non-problem."""


def row_state(comparison, level: int | None, weight: float | None) -> str:
    """``agree``, ``differ``, ``conflict`` or ``""`` for one row (see :data:`ROW_STATES`)."""
    if comparison is not None and level is not None and level >= 0:
        if level >= getattr(comparison, "agree_from", 1):
            return "agree"
        if comparison.ordered and level == 0:
            return "conflict"
        return "differ" if weight is not None and weight < -0.05 else ""
    if weight is None:
        return ""
    # no level stored (a run loaded without levels): the sign says which way, never 矛盾
    return "agree" if weight > 0.05 else "differ" if weight < -0.05 else ""


def _rows(resident: dict, report: dict, weights: dict, levels: dict, settings=None,
          members: dict | None = None) -> list[dict]:
    """The side-by-side rows. ``members``: comparison → (missing_id, record) of the other report
    of the same person the run read that comparison from (``kinmatch link --dedupe``); the row
    shows that report's value, which the score used, and says where it came from."""
    from kinmatch.match.settings import resolve_settings

    comparisons = {c.name: c for c in resolve_settings(settings).comparisons}
    members = members or {}
    rows = []
    for label, left, right, comparison in field_rows(settings):
        left_value = display_text(resident.get(left)) if left else ""
        right_value = display_text(report.get(right)) if right else ""
        source = None
        if comparison in members and right:
            source, record = members[comparison]
            right_value = display_text(record.get(right))
        if not left_value and not right_value:
            continue
        weight = weights.get(comparison) if comparison else None
        state = ""
        if comparison and left_value and right_value:
            state = row_state(comparisons.get(comparison), levels.get(comparison), weight)
        level = levels.get(comparison) if comparison else None
        known = comparisons.get(comparison) if comparison else None
        rows.append({"label": label, "left": left_value, "right": right_value, "state": state,
                     "level": known.labels.get(level, "") if known is not None and level is not None else "",
                     "weight": weight, "source": source})
    return rows


def _member_values(store, evidence: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """comparison → (missing_id, stored record) of the member report it was read from, each
    member read from the store once."""
    records = {member: store.report(member) or {} for member in set(evidence.values())}
    return {name: (member, records[member]) for name, member in evidence.items()}


def strength(weight: float) -> str:
    """Plain words for a comparison's weight (its number is shown on hover).

        >>> strength(4.2), strength(-0.3)
        ('明显支持同一人', '略微反对')
    """
    size = abs(weight)
    word = "支持同一人" if weight > 0 else "反对同一人"
    if size < 0.05:
        return "无影响"
    if size < 1:
        return "略微支持" if weight > 0 else "略微反对"
    if size < 3:
        return "较支持同一人" if weight > 0 else "较反对同一人"
    return "明显" + word


def _bars(weights: dict, levels: dict, settings=None) -> list[dict]:
    from kinmatch.match.settings import resolve_settings

    comparisons = {c.name: c for c in resolve_settings(settings).comparisons}
    largest = max([abs(float(w)) for w in weights.values() if w is not None] + [1.0])
    bars = []
    for comparison, weight in weights.items():
        if weight is None:
            continue
        level = levels.get(comparison)
        known = comparisons.get(comparison)
        bars.append({"name": known.title if known else comparison, "weight": float(weight),
                     "width": round(50 * abs(float(weight)) / largest, 1), "words": strength(float(weight)),
                     "level": known.labels.get(level, "") if known and level is not None else ""})
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
    settings = store.run_settings(candidate["run_id"])
    resident = store.resident(resident_id) or {}
    report = store.report(missing_id) or {}
    for kind, record_id in (("resident", resident_id), ("report", missing_id)):
        store.log_access(g.user["username"], "view", kind, record_id, detail="pair")
    previous, following = store.neighbours(resident_id, missing_id, order)
    # the resident's other candidates: a report already confirmed for them is worth knowing
    others = store.candidates_of("resident", resident_id)
    others = others[others["missing_id"] != str(missing_id)].to_dict("records")
    events = store.events(resident_id)
    comments = [e for e in events.to_dict("records") if e["event"] == "comment" and e["missing_id"] == str(missing_id)]
    members = candidate["members"]  # the run clustered these reports with this one (--dedupe)
    duplicates = [m for m in store.report_groups().get(str(missing_id), [])
                  if m != str(missing_id) and m not in members]
    return render_template(
        "pair.html", candidate=candidate, resident=resident, report=report,
        rows=_rows(resident, report, candidate["weights"] or {}, candidate["levels"] or {}, settings,
                   _member_values(store, candidate["evidence"])),
        bars=_bars(candidate["weights"] or {}, candidate["levels"] or {}, settings), others=others,
        history=store.history(resident_id, missing_id).to_dict("records"),
        reasons=EXCLUSION_REASONS, order=order,
        resident_photos=photos_of(resident, "resident", resident_id),
        report_photos=photos_of(report, "report", missing_id),
        case=store.case_state(resident_id), comments=comments, duplicates=duplicates, members=members,
        assignee=store.assignments().get((str(resident_id), str(missing_id))),
        reviewers=[u["username"] for u in store.users().to_dict("records") if u["active"]],
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
    store.log_access(g.user["username"], "decide", "pair", f"{resident_id} × {missing_id}", detail=decision)
    flash(f"已记录：{resident_id} × {missing_id} → {DECISION_LABELS[decision]}")
    if decision == "same":
        flash("同一人结论须由另一位审核人二次确认后才算确认；该受助人员的其他候选已移出队列。")
    _, following = store.neighbours(resident_id, missing_id, order)
    if following is None:
        flash("队列已审完：没有待审核的候选。")
        return redirect(url_for("queue.queue", order=order))
    return redirect(pair_url(following, order))


@bp.post("/pair/<id:resident_id>/<id:missing_id>/second")
def second_confirm(resident_id: str, missing_id: str):
    """A second reviewer (another account) confirms the 同一人."""
    store = current_store()
    try:
        store.second_confirm(resident_id, missing_id, g.user["username"],
                             note=(request.form.get("note") or "").strip() or None)
    except StoreError as error:
        flash(f"未二次确认：{error}")
        return redirect(url_for("pairs.pair", resident_id=resident_id, missing_id=missing_id))
    store.log_access(g.user["username"], "second_confirm", "pair", f"{resident_id} × {missing_id}")
    flash(f"已二次确认：{resident_id} × {missing_id} 为同一人。下一步：申请DNA比对（在案件页记录）。")
    return redirect(url_for("cases.case", resident_id=resident_id))


@bp.post("/pair/<id:resident_id>/<id:missing_id>/comment")
def comment(resident_id: str, missing_id: str):
    store = current_store()
    if store.candidate(resident_id, missing_id) is None:
        abort(404, description=f"没有候选 {resident_id} × {missing_id}。")
    try:
        store.comment(resident_id, missing_id, g.user["username"], request.form.get("text", ""))
        store.log_access(g.user["username"], "comment", "pair", f"{resident_id} × {missing_id}")
        flash("已保存备注。")
    except StoreError as error:
        flash(f"未保存：{error}")
    return redirect(url_for("pairs.pair", resident_id=resident_id, missing_id=missing_id))


@bp.post("/pair/<id:resident_id>/<id:missing_id>/assign")
def assign(resident_id: str, missing_id: str):
    store = current_store()
    if store.candidate(resident_id, missing_id) is None:
        abort(404, description=f"没有候选 {resident_id} × {missing_id}。")
    assignee = (request.form.get("assignee") or "").strip()
    try:
        store.assign(resident_id, missing_id, assignee, g.user["username"])
        store.log_access(g.user["username"], "assign", "pair", f"{resident_id} × {missing_id}", detail=assignee)
        flash(f"已分派给 {assignee}。" if assignee else "已取消分派。")
    except StoreError as error:
        flash(f"未分派：{error}")
    return redirect(url_for("pairs.pair", resident_id=resident_id, missing_id=missing_id))
