"""The review queue, the "next pair" shortcut and name search."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from kinmatch.review.web.common import current_store, order_arg, pair_url

bp = Blueprint("queue", __name__)


@bp.get("/")
def queue():
    order = order_arg()
    queued = current_store().queue(limit=200, order=order)
    # the queue shows names of both sides: who looked at which list is logged too
    current_store().log_access(g.user["username"], "view_queue", detail=f"{order}: {len(queued)} pairs")
    return render_template("queue.html", rows=queued.to_dict("records"), order=order,
                           total=len(current_store().queue(order=order)))


@bp.get("/next")
def next_pair():
    order = order_arg()
    first = current_store().queue(limit=1, order=order)
    if first.empty:
        flash("队列已审完：没有待审核的候选。")
        return redirect(url_for("queue.queue", order=order))
    return redirect(pair_url((first.iloc[0]["resident_id"], first.iloc[0]["missing_id"]), order))


@bp.get("/search")
def search():
    query = (request.args.get("q") or "").strip()
    results = current_store().search(query) if query else None
    if query:
        current_store().log_access(g.user["username"], "search", detail=query[:200])
    return render_template("search.html", query=query,
                           results=[] if results is None else results.to_dict("records"))
