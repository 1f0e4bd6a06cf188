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


def beijing(moment: Any, with_time: bool = True) -> str:
    """A stored time as Beijing time text (``2024-01-05 17:30``); a stored time without a zone is UTC.

        >>> import datetime as dt
        >>> beijing(dt.datetime(2024, 1, 5, 9, 30))
        '2024-01-05 17:30'
    """
    import datetime as dt

    from kinmatch.review.lifecycle import BEIJING

    if moment is None or moment == "":
        return ""
    if isinstance(moment, dt.date) and not isinstance(moment, dt.datetime):
        return moment.isoformat()
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    local = moment.astimezone(BEIJING)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _field_labels() -> dict[str, str]:
    from kinmatch.schema import MISSING_FIELDS, RESIDENT_FIELDS

    labels = {"source_row": "原表行号", "resident_id": "受助人员编号", "missing_id": "寻人编号"}
    for fields in (RESIDENT_FIELDS, MISSING_FIELDS):
        for field, headers in fields.items():
            labels.setdefault(field, headers[0])
    return labels


FIELD_LABELS = _field_labels()
"""Canonical field → the Chinese header staff know it by (``found_place`` → 发现地点)."""

ACTION_LABELS = {
    "login": "登录", "logout": "退出", "login_failed": "登录失败", "login_locked": "登录锁定",
    "view": "查看记录", "view_queue": "查看队列", "view_photo": "查看照片", "view_case": "查看案件",
    "search": "搜索", "add_user": "添加用户", "set_active": "启用/停用账号", "export": "导出",
    "decide": "作出结论", "second_confirm": "二次确认", "case_event": "记录案件进程", "deadline_done": "标记时限已办",
    "comment": "备注", "assign": "分派", "bulk_dismiss": "批量排除",
    "letter": "出具比对线索函", "view_notice": "查看公告", "report": "生成统计报告",
}
"""Access-log action code → Chinese name shown on the log page (the code is what is stored)."""
