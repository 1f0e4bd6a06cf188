"""The start page (review queue, overdue deadlines), the "next pair" shortcut, bulk dismissal and search."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from kinmatch.review.store import StoreError
from kinmatch.review.web.common import current_store, order_arg, pair_url

bp = Blueprint("queue", __name__)


def grouped(rows: list[dict], groups: dict[str, list[str]]) -> list[dict]:
    """Queue rows with a resident's candidates that are one duplicated report folded into the
    first of them (its ``duplicates`` lists the others); ``members``: the other reports a row
    stands for when the linking run clustered duplicate reports (its ``cluster_members``)."""
    out, seen = [], {}
    for row in rows:
        group = groups.get(row["missing_id"])
        key = (row["resident_id"], tuple(group)) if group else None
        if key is not None and key in seen:
            if row["missing_id"] not in seen[key]["members"]:
                seen[key]["duplicates"].append(row["missing_id"])
            continue
        members = [m for m in str(row.get("cluster_members") or "").split(";") if m and m != row["missing_id"]]
        row = {**row, "duplicates": [], "members": members}
        if key is not None:
            seen[key] = row
        out.append(row)
    return out


@bp.get("/")
def queue():
    store = current_store()
    order = order_arg()
    mine = request.args.get("mine") == "1"
    queued = store.queue(order=order)
    total = len(queued)
    assignments = store.assignments()
    rows = queued.to_dict("records")
    for row in rows:
        row["assignee"] = assignments.get((row["resident_id"], row["missing_id"]))
    if mine:
        rows = [r for r in rows if r["assignee"] == g.user["username"]]
    # a run's clusters of duplicate reports (--dedupe) before the store's own guess by name sound
    rows = grouped(rows, {**store.report_groups(), **store.report_clusters()})[:200]
    overdue = store.overdue_deadlines()
    # the queue shows names of both sides: who looked at which list is logged too
    store.log_access(g.user["username"], "view_queue", detail=f"{order}: {len(rows)} pairs")
    return render_template("queue.html", rows=rows, order=order, total=total, mine=mine,
                           overdue=overdue.head(50).to_dict("records"), n_overdue=len(overdue))


@bp.get("/next")
def next_pair():
    order = order_arg()
    first = current_store().queue(limit=1, order=order)
    if first.empty:
        flash("队列已审完：没有待审核的候选。")
        return redirect(url_for("queue.queue", order=order))
    return redirect(pair_url((first.iloc[0]["resident_id"], first.iloc[0]["missing_id"]), order))


def _threshold() -> float:
    text = (request.values.get("below") or "").strip().rstrip("%")
    try:
        value = float(text) / 100
    except ValueError:
        abort(400, description=f"概率阈值“{text[:20]}”不是数字；请填写百分数，如 5 表示 5%。")
    if not 0 < value < 1:
        abort(400, description="概率阈值须在 0% 与 100% 之间。")
    return value


@bp.route("/dismiss", methods=["GET", "POST"])
def dismiss():
    """Bulk exclusion below a probability: the count is shown first, then confirmed."""
    store = current_store()
    below = _threshold()
    if request.method == "GET":
        return render_template("dismiss.html", below=below, count=store.dismiss_below(below, "", dry_run=True))
    try:
        count = store.dismiss_below(below, g.user["username"])
    except StoreError as error:
        abort(400, description=str(error))
    store.log_access(g.user["username"], "bulk_dismiss", detail=f"< {below:.0%}: {count} pairs")
    flash(f"已批量排除 {count} 对（概率低于 {below:.0%}）；每一对都记入审核记录，可逐对改判。")
    return redirect(url_for("queue.queue"))


@bp.get("/search")
def search():
    query = (request.args.get("q") or "").strip()
    results = current_store().search(query) if query else None
    if query:
        # who searched is logged, never what: search terms are names of real people
        current_store().log_access(g.user["username"], "search", detail=f"{len(results)} results")
    return render_template("search.html", query=query,
                           results=[] if results is None else results.to_dict("records"))
