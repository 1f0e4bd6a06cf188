"""One resident's or report's record, with its candidate pairs."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template

from kinmatch.review.web.common import current_store, display_text
from kinmatch.review.web.photos import photo_of

bp = Blueprint("records", __name__)


@bp.get("/record/<kind>/<record_id>")
def record(kind: str, record_id: str):
    if kind not in ("resident", "report"):
        abort(404)
    store = current_store()
    data = store.resident(record_id) if kind == "resident" else store.report(record_id)
    if data is None:
        abort(404, description=f"没有记录 {record_id}。")
    store.log_access(g.user["username"], "view", kind, record_id, detail="record")
    data = {k: display_text(v) for k, v in data.items() if k != "contact" or kind == "resident"}
    pairs = store.candidates_of(kind, record_id)
    return render_template("record.html", kind=kind, record_id=record_id, data=data,
                           pairs=pairs.to_dict("records"),
                           photo=photo_of(data, record_id) if kind == "resident" else None)
