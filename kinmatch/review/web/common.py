"""What the blueprints share: the store of the running app, text for display, queue order, pair URLs."""

from __future__ import annotations

import functools
import re
from typing import Any

from flask import abort, current_app, g, request, url_for
from werkzeug.routing import BaseConverter

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


class RecordIdConverter(BaseConverter):
    """A record id as one path segment, whatever it holds (``<id:resident_id>`` in a route).

    Ids come from the studios' files: ``京2024/001`` is a plausible one. A ``/`` cannot travel
    percent-encoded (the server decodes the path before routing), so ``~`` escapes it: ``/`` is
    ``~2F``, ``~`` itself ``~7E``, and an id of dots only (``.``, ``..``, which browsers would
    resolve away) has its dots as ``~2E``. Everything else is percent-encoded as usual.

        >>> converter = RecordIdConverter(None)
        >>> converter.to_url("京2024/001~x")
        '%E4%BA%AC2024~2F001~7Ex'
        >>> converter.to_python("京2024~2F001~7Ex")
        '京2024/001~x'
    """

    _ESCAPES = {"7E": "~", "2F": "/", "2E": "."}

    def to_python(self, value: str) -> str:
        return re.sub(r"~(7E|2F|2E)", lambda m: self._ESCAPES[m.group(1)], value)

    def to_url(self, value: Any) -> str:
        text = str(value).replace("~", "~7E").replace("/", "~2F")
        if not text.strip("."):
            text = text.replace(".", "~2E")
        return super().to_url(text)
