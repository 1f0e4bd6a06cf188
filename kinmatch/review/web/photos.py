"""Photos of both sides: local files only from inside the photo folder; URLs shown as links, never fetched."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, g, send_file, url_for

from kinmatch.review.web.common import current_store
from kinmatch.schema import photo_values

bp = Blueprint("photos", __name__)

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}
KINDS = ("resident", "report")


def photos_of(record: dict, kind: str, record_id: str) -> list[dict]:
    """How the page shows a record's photos: ``{"kind": "url"|"local", "url", "n"}`` each, in
    the record's order; a local path outside the photo folder (or not an image) is left out."""
    shown = []
    for n, value in enumerate(photo_values(record.get("photo"))):
        if value.lower().startswith(("http://", "https://")):
            shown.append({"kind": "url", "url": value, "n": n})
        elif local_photo(value) is not None:
            shown.append({"kind": "local", "n": n,
                          "url": url_for("photos.record_photo", kind=kind, record_id=record_id, n=n)})
    return shown


def photo_of(record: dict, resident_id: str) -> dict | None:
    """The first of :func:`photos_of` a resident (or None)."""
    shown = photos_of(record, "resident", resident_id)
    return shown[0] if shown else None


def local_photo(value: str) -> Path | None:
    """The image file a record's photo path names, if it lies inside the photo folder."""
    root = current_app.config["KINMATCH_PHOTO_DIR"]
    try:
        path = (root / value).resolve()
    except (OSError, ValueError):
        return None
    # the path comes from a record, not the request, but a record may come from anywhere:
    # serve only image files inside the photo folder
    if not path.is_relative_to(root) or path.suffix.lower() not in PHOTO_SUFFIXES or not path.is_file():
        return None
    return path


def _send(kind: str, record_id: str, n: int):
    store = current_store()
    record = (store.resident(record_id) if kind == "resident" else store.report(record_id)) or {}
    values = photo_values(record.get("photo"))
    path = local_photo(values[n]) if 0 <= n < len(values) else None
    if path is None:
        abort(404, description="没有可显示的照片（照片须在设定的照片文件夹内）。")
    store.log_access(g.user["username"], "view_photo", kind, record_id)
    return send_file(path)


@bp.get("/photo/<id:resident_id>")
def photo(resident_id: str):
    """The resident's first photo."""
    return _send("resident", resident_id, 0)


@bp.get("/photo/<kind>/<id:record_id>/<int:n>")
def record_photo(kind: str, record_id: str, n: int):
    if kind not in KINDS:
        abort(404)
    return _send(kind, record_id, n)
