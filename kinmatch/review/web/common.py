"""What the blueprints share: the store of the running app, text for display, queue order, pair URLs."""

from __future__ import annotations

import functools
from typing import Any

from flask import abort, current_app, g, request, url_for

from kinmatch.review.store import Store


def current_store() -> Store:
    """The case store the running app serves."""
    return current_app.config["KINMATCH_STORE"]


def display_text(value: Any) -> str:
    """A stored field as one line of text (lists joined with 、, None as empty)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(display_text(v) for v in value if v is not None)
    return str(value).strip()


def order_arg() -> str:
    """The queue order the request asks for: ``informative`` or (default) ``probability``."""
    return "informative" if request.values.get("order") == "informative" else "probability"


def pair_url(key, order: str) -> str | None:
    """The pair page of ``key = (resident_id, missing_id)``, keeping a non-default queue order."""
    if key is None:
        return None
    args = {"order": order} if order != "probability" else {}
    return url_for("pairs.pair", resident_id=key[0], missing_id=key[1], **args)


def admin_required(view):
    """403 for anyone but an admin (the login check itself runs before every request)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None or g.user["role"] != "admin":
            abort(403, description="此页面仅限管理员。")
        return view(*args, **kwargs)
    return wrapped
