"""Public family-search notices (寻亲公告) and match-lead letters (比对线索函).

- :func:`render_notice` one resident, one format (txt, md, html, pdf);
- :func:`render_notices` / :func:`write_notices` a whole resident table;
- :func:`render_letter` the letter asking police to verify a reviewed pair by DNA;
- :mod:`kinmatch.notices.screen` the conservative filter every piece of free text passes, and
  :mod:`kinmatch.notices.structured` the allow-listed readings (marks, garments, accent) a notice
  shows instead where the filter left the words out;
- :mod:`kinmatch.notices.privacy` the older per-field rules (ID/phone redaction, plain health
  words, county-level places) and the check of the rendered text.

    >>> from kinmatch.notices import render_notice
    >>> text = render_notice({"resident_id": "R1", "name": "李伟", "name_source": "自报",
    ...                       "sex": "男", "age": "约60岁", "height": "170cm",
    ...                       "station": "某市救助管理站", "contact": "0371-66661234"})
    >>> text.splitlines()[1]
    '李伟（自报），男，约55–65岁，身高170厘米。'
"""

from kinmatch.notices.batch import render_notices, write_notices
from kinmatch.notices.context import load_station_info, notice_context
from kinmatch.notices.privacy import PrivacyError, check_public_text
from kinmatch.notices.rendering import (
    FORMATS,
    TEMPLATE_DIR,
    NoticeSkipped,
    render_context,
    render_letter,
    render_notice,
)

__all__ = [
    "FORMATS",
    "TEMPLATE_DIR",
    "NoticeSkipped",
    "PrivacyError",
    "check_public_text",
    "load_station_info",
    "notice_context",
    "render_context",
    "render_letter",
    "render_notice",
    "render_notices",
    "write_notices",
]
