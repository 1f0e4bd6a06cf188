"""One resident's or report's record, with its candidate pairs.

Columns the site does not recognise are shown as they were written, except anything that may be
someone's contact: a header that suggests one (电话, 手机, 联系, 身份证, 证件, 住址...) or a value that
looks like a phone or ID number. Families' contacts are private; reviewers decide without them.
"""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, abort, g, render_template

from kinmatch.review.web.common import current_store, display_text
from kinmatch.review.web.pairs import FIELD_ROWS
from kinmatch.review.web.photos import photos_of

bp = Blueprint("records", __name__)

CONTACT_HEADER = re.compile(
    r"电话|手机|联系|身份证|证件|住址|地址|户口|微信|邮箱|QQ|phone|mobile|tel|contact|mail|address|wechat|"
    r"id_?card|id_?no|id_?number|passport", re.IGNORECASE)
"""Headers that suggest a contact or an identity document (报案人手机, 家属身份证号, contact...)."""

_SEPARATORS = re.compile(r"[\s\-_.,，、·/()（）+~:：]")
_DATE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?")
_NUMBER = re.compile(r"\d{7,}|\d{6}(19|20)\d{2}\d{7}[\dX]", re.IGNORECASE)
"""Seven digits or more (a phone number, however split), or an 18-character ID number."""

SHOWN_FIELDS = ({"resident_id", "missing_id", "photo", "source_row"}
                | {field for _, left, right, _ in FIELD_ROWS for field in (left, right) if field})
"""Fields the site knows and shows as they are (the side-by-side fields, ids, photo)."""


def looks_like_contact(header: str, value: str) -> bool:
    """True if a column (``header``: ``value``) may hold someone's contact or ID number.

        >>> looks_like_contact("报案人手机", "请致电")
        True
        >>> looks_like_contact("备注", "家属电话 138 0000 0001")
        True
        >>> looks_like_contact("登记日期", "2023-11-05")
        False
    """
    if CONTACT_HEADER.search(header):
        return True
    text = unicodedata.normalize("NFKC", value)
    text = _SEPARATORS.sub("", _DATE.sub(" ", text))
    return bool(_NUMBER.search(text))


def shown_fields(record: dict) -> tuple[dict[str, str], int]:
    """The record's fields to show (as text) and how many were withheld as possible contacts."""
    shown, withheld = {}, 0
    for header, value in record.items():
        text = display_text(value)
        if header in SHOWN_FIELDS and not CONTACT_HEADER.search(header):
            shown[header] = text
        elif text and looks_like_contact(str(header), text):
            withheld += 1
        else:
            shown[header] = text
    return shown, withheld


@bp.get("/record/<kind>/<id:record_id>")
def record(kind: str, record_id: str):
    if kind not in ("resident", "report"):
        abort(404)
    store = current_store()
    data = store.resident(record_id) if kind == "resident" else store.report(record_id)
    if data is None:
        abort(404, description=f"没有记录 {record_id}。")
    store.log_access(g.user["username"], "view", kind, record_id, detail="record")
    photos = photos_of(data, kind, record_id)
    data, withheld = shown_fields({k: v for k, v in data.items() if k != "photo"})  # photos are shown as photos
    pairs = store.candidates_of(kind, record_id)
    return render_template("record.html", kind=kind, record_id=record_id, data=data, withheld=withheld,
                           pairs=pairs.to_dict("records"), photos=photos)
