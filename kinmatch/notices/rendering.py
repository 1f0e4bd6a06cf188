"""Render public notices (寻亲公告) and match-lead letters (比对线索函) from Jinja2 templates.

Templates live in the top-level ``notices/`` folder of the repository (installed as
``kinmatch/notices/templates``); a station can override any of them by passing its own folder
(``template_dir=`` / ``--templates DIR``): files found there win, the others come from the
defaults. Templates use ``StrictUndefined``, so a misspelt field fails loudly instead of printing
nothing.

==================  ==============================================================
template            used for
==================  ==============================================================
notice.txt.j2       SMS / WeChat text, at most ``max_chars`` (500) characters
notice.md.j2        Markdown
notice.html.j2      a printable HTML page (autoescaped)
notice.pdf.j2       the lines of the A4 poster (see :mod:`kinmatch.notices.poster`)
withdrawn.*.j2      the same formats for a reunited person (no name, no photo)
letter.md.j2        the match-lead letter to police (not public)
letter.txt.j2       the same as plain text
==================  ==============================================================

    >>> record = {"resident_id": "R1", "name": "李伟", "name_source": "自报", "sex": "男",
    ...           "age": "约60岁", "height": "170cm", "found_date": "2024-03-05",
    ...           "found_place": "郑州市二七区", "description": "左脸有痣",
    ...           "station": "郑州市救助管理站", "contact": "0371-66661234"}
    >>> text = render_notice(record, "txt")
    >>> "李伟（自报）" in text and "0371-66661234" in text
    True
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from kinmatch.errors import InputError
from kinmatch.notices.context import load_station_info, notice_context, skip_reason, text_of
from kinmatch.notices.errors import NoticeSkipped
from kinmatch.notices.poster import poster_pdf
from kinmatch.notices.privacy import REDACTED, PrivacyError, check_public_text
from kinmatch.notices.screen import canonical, findings

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
"""The default templates (a symlink to the repository's ``notices/`` folder in a checkout)."""

FORMATS = ("txt", "md", "html", "pdf")
TEXT_BUDGET = 500
"""Default length budget of the plain-text notice (characters): SMS / WeChat friendly."""
POSTER_BUDGET = 600
"""Length budget of the poster's text, so that the A4 poster stays one page with the photo."""
POSTER_FIELD_CAPS = {"features": 110, "clothing": 60, "accent": 30, "found_place": 50, "health": 40}
"""Per-field caps (characters) on the poster: long fields are cut with "…" so one wordy field
cannot push the contact block off the page."""

# Free-text fields that may be shortened to fit the text budget, least important first.
_TRUNCATABLE = ("clothing", "features", "accent", "found_place", "health")
_ELLIPSIS = "…"


def _md_escape(value: Any) -> str:
    """Escape Markdown control characters in a value (so a record cannot inject markup)."""
    escaped = re.sub(r"([\\`*_\[\]#<>|!~])", r"\\\1", str(value))
    # The redaction mark is not a link and reads better unescaped.
    return escaped.replace("\\[已隐去\\]", REDACTED)


def _fold_text(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def environment(template_dir: str | Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment: station folder first (if given), then the defaults."""
    loaders = []
    if template_dir is not None:
        template_dir = Path(template_dir)
        if not template_dir.is_dir():
            raise InputError(
                f"template folder {str(template_dir)!r} does not exist; copy kinmatch's notices/ "
                "folder there and edit the copies, or leave --templates out to use the defaults"
            )
        loaders.append(jinja2.FileSystemLoader(str(template_dir)))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATE_DIR)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html")),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _md_escape
    env.filters["oneline"] = _fold_text
    return env


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound as error:
        raise InputError(f"notice template {name!r} not found in the template folder(s)") from error
    try:
        return template.render(**context)
    except jinja2.UndefinedError as error:
        raise InputError(
            f"template {name!r} uses a field that does not exist ({error}); fields a notice "
            f"template can use: {', '.join(sorted(context))}"
        ) from error


def _truncate(text: str, keep: int) -> str:
    if keep <= 0:
        return ""
    cut = text[:keep]
    # Never end on part of a number (a cut date could look like another number).
    cut = re.sub(r"[\d\-.\s/]+$", "", cut)
    return cut + _ELLIPSIS if cut else ""


def _fit(env: jinja2.Environment, name: str, context: dict[str, Any], budget: int) -> str:
    """Render, shortening the longest free-text fields until the text fits ``budget``."""
    text = _render(env, name, context)
    context = dict(context)
    while len(text) > budget:
        over = len(text) - budget
        candidates = [(len(context.get(f) or ""), f) for f in _TRUNCATABLE if context.get(f)]
        if not candidates:
            raise NoticeSkipped(
                "over_budget",
                f"the text notice is {len(text)} characters even with every free-text field "
                f"dropped; the budget is {budget}: shorten template {name!r}",
            )
        length, field = max(candidates)
        context[field] = _truncate(context[field].rstrip(_ELLIPSIS), length - over - 1)
        text = _render(env, name, context)
    return text


def public_text(context: Mapping[str, Any], fmt: str = "txt", *,
                env: jinja2.Environment | None = None, template_dir: str | Path | None = None,
                max_chars: int = TEXT_BUDGET) -> str:
    """The checked text of a notice: for ``pdf`` the poster's lines, before layout.

    Raises :class:`NoticeSkipped` if the record cannot be published and
    :class:`~kinmatch.notices.privacy.PrivacyError` if the rendered text would leak.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown notice format {fmt!r}; choose from {', '.join(FORMATS)}")
    reason = skip_reason(context)
    if reason == "no_station_phone":
        raise NoticeSkipped(reason, "no public station phone, and a notice nobody can answer is "
                                    "not published: add a phone (联系电话/contact) column, or give "
                                    "--station-info (station_info=) a CSV with columns 救助站, 地址, "
                                    "联系电话 (station, address, phone); with one row it serves "
                                    "every record")
    if reason == "too_empty":
        raise NoticeSkipped(reason, "fewer than 3 identifying fields (name, sex, age, height, "
                                    "features, clothing, accent, health; a photo counts 2)")
    env = env or environment(template_dir)
    kind = "withdrawn" if context["withdrawn"] else "notice"
    name = f"{kind}.{fmt}.j2"
    if fmt == "txt":
        text = _fit(env, name, dict(context), max_chars)
    elif fmt == "pdf":
        capped = dict(context)
        for field, cap in POSTER_FIELD_CAPS.items():
            if len(capped.get(field) or "") > cap:
                capped[field] = _truncate(capped[field], cap - 1)
        text = _fit(env, name, capped, POSTER_BUDGET)
    else:
        text = _render(env, name, context)
    check_public_text(text, station_phones=[context["station"]["phone"]],
                      forbidden=context.get("forbidden", ()), what=f"{fmt} notice")
    return check_rendered(text, context, what=f"{fmt} notice")


_MASK = "某"  # a letter: masked values still separate (not join) what stands around them


def check_rendered(text: str, context: Mapping[str, Any], what: str = "notice") -> str:
    """Raise :class:`~kinmatch.notices.privacy.PrivacyError` if the rendered ``text`` has, in
    its canonical form (:func:`kinmatch.notices.screen.canonical`), a long number other than the
    station's phone, a diagnosis, or (for a possible minor) a street-level address.

    The values the context generated itself (age, height, dates, the checked photo path) and the
    station's name and address are masked first; everything else, including what a station's
    own template prints, is read as the public will read it. Numbers split across two fields
    are caught here, since the fields stand side by side in the rendered text.
    """
    import html

    station = context["station"]
    # The phone first, so a short value (a photo named "0") cannot break it apart.
    masked = text.replace(station["phone"], _MASK) if station.get("phone") else text
    values = [*context.get("structured", ()), station.get("name", ""), station.get("address", "")]
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        for form in dict.fromkeys((value, html.escape(value), _md_escape(value))):
            masked = masked.replace(form, _MASK)
    phone = re.sub(r"\D", "", canonical(station.get("phone", "")))
    reasons = findings(masked, minor=bool(context.get("possibly_minor")), allowed_numbers=[phone],
                       contacts=False)
    if reasons:
        raise PrivacyError(
            f"the rendered {what} contains {' and '.join(_READABLE[r] for r in reasons)} "
            "(in its canonical form: every way of writing digits, spacing or spelling read alike); "
            "public notices must not carry phone or ID numbers, diagnoses or a minor's street "
            "address. Fix the template or the record; the notice was not written."
        )
    return text


_READABLE = {"long_number": "a number of 7 or more digits", "diagnosis": "a diagnosis",
             "street_address": "a street-level address (the person may be a minor)",
             "contact": "a contact"}


def render_context(context: Mapping[str, Any], fmt: str = "txt", *,
                   template_dir: str | Path | None = None, max_chars: int = TEXT_BUDGET,
                   env: jinja2.Environment | None = None, photo_dir: str | Path | None = None,
                   font_path: str | None = None, problems: list[str] | None = None):
    """Render a prepared :func:`notice_context` in one format (str, or bytes for ``pdf``).

    Errors as :func:`public_text`. ``font_path`` overrides the poster font (see
    :func:`kinmatch.notices.poster.subset_font`); photo problems of a poster
    (``photo_outside_folder``, ``photo_unreadable``) are appended to ``problems``.
    """
    text = public_text(context, fmt, env=env, template_dir=template_dir, max_chars=max_chars)
    if fmt != "pdf":
        return text
    photo = None if context["withdrawn"] else context.get("photo") or None
    return poster_pdf(text, photo=photo, photo_dir=photo_dir, font_path=font_path, problems=problems)


def render_notice(record: Mapping[str, Any], fmt: str = "txt", *, station_info: Any = None,
                  template_dir: str | Path | None = None, max_chars: int = TEXT_BUDGET,
                  today: dt.date | None = None, photo_dir: str | Path | None = None):
    """Render one resident's public notice (寻亲公告) as ``txt``, ``md``, ``html`` or ``pdf``.

    ``record`` is one row of a canonical resident frame (a dict or a Series); ``station_info``
    a mapping, DataFrame or CSV path (see :func:`~kinmatch.notices.context.load_station_info`).
    Returns text, or PDF bytes for ``pdf``. See :func:`render_context` for the errors.
    """
    if hasattr(record, "to_dict"):
        record = record.to_dict()
    context = notice_context(record, load_station_info(station_info), today=today)
    return render_context(context, fmt, template_dir=template_dir, max_chars=max_chars,
                          photo_dir=photo_dir)


# ---------------------------------------------------------------- the match-lead letter

_LETTER_FIELDS = (
    ("name", "姓名"), ("alias", "别名/小名"), ("sex", "性别"), ("age", "年龄"),
    ("birth_date", "出生日期"), ("height", "身高"), ("accent", "口音"), ("dialect", "方言"),
    ("description", "体貌特征"), ("clothing", "衣着"), ("health", "健康状况"),
    ("statements", "自述"), ("found_date", "入站日期"), ("found_place", "发现地点"),
    ("missing_date", "走失日期"), ("missing_place", "走失地点"), ("hometown", "户籍地"),
    ("source", "信息来源"),
)


def _fields(record: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": key, "label": label, "value": text_of(record.get(key))}
            for key, label in _LETTER_FIELDS if text_of(record.get(key))]


def render_letter(resident: Mapping[str, Any], report: Mapping[str, Any], explanation: str = "",
                  *, fmt: str = "md", station_info: Mapping | None = None,
                  match_probability: float | None = None, reviewer: str = "",
                  police_unit: str = "", include_family_contact: bool = False,
                  template_dir: str | Path | None = None, today: dt.date | None = None) -> str:
    """The match-lead letter (比对线索函) asking police to verify a reviewed pair by DNA.

    This letter goes to police, not the public, so fields are shown as recorded; the family's
    contact is still left out unless ``include_family_contact=True``.

    >>> letter = render_letter({"resident_id": "R1", "name": "吴春花", "station": "黄山市救助站",
    ...                         "contact": "0559-1234567"},
    ...                        {"missing_id": "M9", "name": "胡春花", "source": "公安"},
    ...                        "姓名方言音近(吴/胡)", police_unit="黄山市公安局")
    >>> "胡春花" in letter and "DNA" in letter
    True
    """
    if fmt not in ("md", "txt"):
        raise InputError(f"the letter is written as 'md' or 'txt', not {fmt!r}")
    if hasattr(resident, "to_dict"):
        resident = resident.to_dict()
    if hasattr(report, "to_dict"):
        report = report.to_dict()
    from kinmatch.notices.context import station_of

    station = station_of(resident, load_station_info(station_info))
    reasons = [part.strip() for part in re.split(r"[;；\n]", explanation or "") if part.strip()]
    context = {
        "resident_id": text_of(resident.get("resident_id")),
        "missing_id": text_of(report.get("missing_id")),
        "resident_fields": _fields(resident),
        "report_fields": _fields(report),
        "reasons": reasons,
        "match_probability": ("" if match_probability is None
                              else f"{float(match_probability):.0%}"),
        "reviewer": reviewer,
        "police_unit": police_unit or "公安机关",
        "station": station,
        "family_contact": text_of(report.get("contact")) if include_family_contact else "",
        "date": f"{(today or dt.date.today()).year}年{(today or dt.date.today()).month}月"
                f"{(today or dt.date.today()).day}日",
    }
    return _render(environment(template_dir), f"letter.{fmt}.j2", context)
