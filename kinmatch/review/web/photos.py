"""Resident photos: local files only from inside the photo folder; URLs shown as links, never fetched."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, g, send_file, url_for

from kinmatch.review.web.common import current_store, display_text

bp = Blueprint("photos", __name__)

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}


def photo_of(record: dict, resident_id: str) -> dict | None:
    """How the page shows a resident's photo: ``{"kind": "url"|"local", "url"}``, or None."""
    value = display_text(record.get("photo"))
    if not value:
        return None
    if value.lower().startswith(("http://", "https://")):
        return {"kind": "url", "url": value}
    if local_photo(value) is None:
        return None
    return {"kind": "local", "url": url_for("photos.photo", resident_id=resident_id)}


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


@bp.get("/photo/<id:resident_id>")
def photo(resident_id: str):
    record = current_store().resident(resident_id) or {}
    path = local_photo(display_text(record.get("photo")))
    if path is None:
        abort(404, description="没有可显示的照片。")
    current_store().log_access(g.user["username"], "view_photo", "resident", resident_id)
    return send_file(path)
