"""Admin pages: users, the access log, the CSV export."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_file, url_for

from kinmatch.review.store import StoreError
from kinmatch.review.web.common import admin_required, current_store

bp = Blueprint("admin", __name__, url_prefix="/admin")

EXPORT_CHOICES = ("same", "not_same", "unsure", "all")
"""``/admin/export?which=``: the pairs whose current decision is this one, or all decided pairs."""


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def admin_users():
    store = current_store()
    if request.method == "POST":
        try:
            store.add_user(request.form.get("username", "").strip(), request.form.get("password", ""),
                           request.form.get("role", "reviewer"))
            store.log_access(g.user["username"], "add_user", detail=request.form.get("username", ""))
            flash("已保存用户。")
        except StoreError as error:
            flash(f"未保存：{error}")
        return redirect(url_for("admin.admin_users"))
    return render_template("admin_users.html", users=store.users().to_dict("records"),
                           default_model=store.default_model())


@bp.post("/users/<username>/active")
@admin_required
def admin_user_active(username: str):
    current_store().set_active(username, request.form.get("active") == "1")
    current_store().log_access(g.user["username"], "set_active", detail=username)
    return redirect(url_for("admin.admin_users"))


@bp.get("/log")
@admin_required
def admin_log():
    log = current_store().access_log().tail(500).iloc[::-1]
    return render_template("admin_log.html", rows=log.to_dict("records"))


@bp.get("/export")
@admin_required
def admin_export():
    from kinmatch._io import csv_text
    from kinmatch.review.export import export_decisions

    which = request.args.get("which", "same")
    if which not in EXPORT_CHOICES:
        abort(400, description=f"导出类别只能是 {'、'.join(EXPORT_CHOICES)}（which={which[:40]!r} 无效）。")
    frame = export_decisions(current_store(), which=None if which == "all" else which)
    current_store().log_access(g.user["username"], "export", detail=f"{which}: {len(frame)} rows")
    # the one Excel-safe writer: a note a reviewer typed as =HYPERLINK(...) stays text in Excel
    data = io.BytesIO(csv_text(frame).encode("utf-8-sig"))
    name = f"reviewed_{which}.csv"
    return send_file(data, mimetype="text/csv", as_attachment=True, download_name=name)


@bp.get("/report")
@admin_required
def report():
    """The campaign report (专项行动统计) of a period, as the HTML ``kinmatch report`` writes (charts
    inline, no external resource): ``?from=DATE&to=DATE``, the last 90 days by default."""
    import datetime as dt

    from kinmatch.report.charts import report_charts
    from kinmatch.report.counts import campaign_counts
    from kinmatch.report.render import report_html

    today = dt.date.today()
    try:
        start = dt.date.fromisoformat(request.args.get("from") or str(today - dt.timedelta(days=90)))
        end = dt.date.fromisoformat(request.args.get("to") or str(today))
    except ValueError:
        abort(400, description="日期须写成 2024-11-01 这样的格式（from=…&to=…）。")
    counts = campaign_counts(current_store(), start, end)
    current_store().log_access(g.user["username"], "report", detail=f"{start}–{end}")
    page = Response(report_html(counts, report_charts(counts)), mimetype="text/html")
    # a self-contained page: its charts are inline images (data: URLs), and it runs no script
    page.headers["Content-Security-Policy"] = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    return page
