"""PFIF 1.4 (People Finder Interchange Format) export and import.

Export residents and missing-person reports as PFIF 1.4 ``person`` records and reviewed matches as
``note`` records linking them (``linked_person_record_id``, ``status``); import PFIF person
records as missing-person reports (a canonical frame, as :func:`kinmatch.read_missing` returns).

Field mapping (export):

=================  ======================================================================
PFIF               kinmatch
=================  ======================================================================
person_record_id   ``<domain>/resident.<resident_id>`` or ``<domain>/missing.<missing_id>``
entry_date         export time (UTC)
expiry_date        export time + ``expiry_days`` (omitted when ``expiry_days`` is None)
author_name        station (residents) / source (reports)
author_phone       a report's family contact **only** with ``include_contact=True``;
                   a resident's station phone (public)
source_name        ``source_name`` argument
source_date        export time (UTC), ``YYYY-MM-DDTHH:MM:SSZ``
full_name          name (``（姓名不详）`` when blank, a placeholder such as 无名氏, or a
                   station-assigned name: the field is required; see :func:`name_fields`)
given_name,        a full name split at the surname by
family_name        :func:`kinmatch.normalize.names.parse_name` (compound surnames such as 欧阳
                   kept whole); left out for partial (小明, 阿英), minority, placeholder and
                   station-assigned names
alternate_names    alias, one per line; a station-assigned name as ``党三（站内代名）``
description        labelled lines: ``体貌特征：…``, ``衣着：…``, ``健康状况：…``, ``口音：…``,
                   ``发现日期/走失日期：…``, ``发现地点/走失地点：…``, ``身高：…``, ``姓名来源：…``
sex                ``male`` / ``female`` (unknown: omitted)
date_of_birth      ``YYYY-MM-DD`` / ``YYYY-MM`` / ``YYYY`` by the precision given
age                ``N`` or ``N-M`` as estimated at intake (residents) or when lost (reports)
home_state,        a report's hometown (户籍地) split at the province
home_city
photo_url          the first photo given as an http(s) URL (a record may list several)
=================  ======================================================================

Only publishable text is exported: residents' fields come from the public-notice context
(:func:`kinmatch.notices.context.notice_context`: ID numbers, family phones, chat handles and
diagnoses redacted, health reduced to plain words, a possible minor's places cut to county level,
a reunited person without description or photo); reports' free text is redacted the same way.
Every public field then passes :func:`kinmatch.notices.privacy.check_public_text`.

Import reverses this: labelled description lines go back to their fields, so an export → import
round trip of reports keeps every field PFIF can carry. Untrusted XML is parsed with
``defusedxml`` when installed; in any case documents with a DOCTYPE or entity declarations are
refused (PFIF needs neither, and they are how XML bombs and external-entity reads work).

    >>> import pandas as pd
    >>> reports = pd.DataFrame([{"missing_id": "M1", "name": "胡春花", "sex": "女",
    ...                          "birth_date": "1958", "hometown": "安徽省黄山市歙县"}])
    >>> xml = export_pfif(missing=reports, domain="studio.example.cn",
    ...                   now=dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc))
    >>> back = read_pfif(xml, domain="studio.example.cn").frame
    >>> back.loc[0, ["missing_id", "name", "sex", "birth_date"]].tolist()
    ['M1', '胡春花', '女', '1958']
"""

from __future__ import annotations

import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import pandas as pd

from kinmatch.errors import InputError
from kinmatch.issues import IssueLog
from kinmatch.normalize.text import text_of
from kinmatch.schema import photo_values

PFIF_NS = "http://zesty.ca/pfif/1.4"

PERSON_FIELDS = (
    "person_record_id", "entry_date", "expiry_date", "author_name", "author_email",
    "author_phone", "source_name", "source_date", "source_url", "full_name", "given_name",
    "family_name", "alternate_names", "description", "sex", "date_of_birth", "age",
    "home_street", "home_neighborhood", "home_city", "home_state", "home_postal_code",
    "home_country", "photo_url", "profile_urls",
)
"""The fields of a PFIF 1.4 ``person``, in the order the standard requires."""

NOTE_FIELDS = (
    "note_record_id", "person_record_id", "linked_person_record_id", "entry_date",
    "author_name", "author_email", "author_phone", "source_date", "author_made_contact",
    "status", "email_of_found_person", "phone_of_found_person", "last_known_location", "text",
    "photo_url",
)
"""The fields of a PFIF 1.4 ``note``, in order."""

PERSON_REQUIRED = ("person_record_id", "source_date", "full_name")
NOTE_REQUIRED = ("note_record_id", "author_name", "source_date")
NOTE_STATUS_VALUES = ("information_sought", "is_note_author", "believed_alive",
                      "believed_missing", "believed_dead")
SEX_VALUES = ("female", "male", "other")

# Review decisions that mean "not the same person": such pairs are never exported as links.
_EXCLUDED = ("excluded", "exclude", "reject", "rejected", "no_match", "not_match", "排除", "否",
             "不是", "dna_excluded")

# Description lines: label -> field, per kind (residents are exported only; reports round-trip).
_RESIDENT_LINES = (("name_source", "姓名来源"), ("height", "身高"), ("description", "体貌特征"),
                   ("clothing", "衣着"), ("health", "健康状况"), ("accent", "口音"),
                   ("found_date", "发现日期"), ("found_place", "发现地点"))
_MISSING_LINES = (("height", "身高"), ("description", "体貌特征"), ("clothing", "衣着"),
                  ("health", "健康状况"), ("dialect", "方言"), ("missing_date", "走失日期"),
                  ("missing_place", "走失地点"))
# Person fields anyone may read; checked by the public-text check after they are built.
# (author_phone/author_email carry the family contact only with include_contact=True.)
_PUBLIC_PERSON_FIELDS = ("full_name", "given_name", "family_name", "alternate_names",
                         "description", "home_city", "home_state", "author_name")
_PROVINCE = re.compile(r"^(.{2,8}?(?:省|自治区|特别行政区)|北京市?|天津市?|上海市?|重庆市?)")


class PfifImport(NamedTuple):
    """``frame``: canonical missing-report frame; ``notes``: note records; ``issues``."""

    frame: pd.DataFrame
    notes: pd.DataFrame
    issues: pd.DataFrame


def _text(value: Any) -> str:
    return text_of(value) or ""


def format_utc(moment: dt.datetime) -> str:
    """PFIF date-time: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC.

    >>> format_utc(dt.datetime(2024, 5, 1, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    '2024-05-01T08:30:00Z'
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


NAMELESS = "（姓名不详）"
"""``full_name`` when there is no name (PFIF requires the field)."""


def split_name(name: str, name_source: Any = None) -> tuple[str, str]:
    """``(family_name, given_name)`` of a full name; ``("", "")`` when it must not be split.

    The name is read by :func:`kinmatch.normalize.names.parse_name`: only a ``full`` name is split
    (compound surnames such as 欧阳 kept whole). A partial name (小明, 阿英, 老王), a nickname, a
    minority name, a placeholder (无名氏) or a station-assigned name (站内代名) is not.

    >>> split_name("欧阳娜娜"), split_name("李伟"), split_name("阿卜杜拉·买买提")
    (('欧阳', '娜娜'), ('李', '伟'), ('', ''))
    >>> split_name("小明"), split_name("无名氏"), split_name("党三", "站内代名")
    (('', ''), ('', ''), ('', ''))
    """
    from kinmatch.normalize.names import parse_name

    parsed = parse_name(name, name_source=name_source)
    if parsed.kind != "full" or not parsed.surname or not parsed.given:
        return "", ""
    return parsed.surname, parsed.given


def name_fields(name: str, name_source: Any = None) -> dict[str, str]:
    """The PFIF name fields of ``name``: ``full_name``, ``family_name``, ``given_name``, plus
    ``alternate_name`` and ``name_source`` (the 姓名来源 description line) when the name needs
    marking.

    A placeholder (无名氏) or a station-assigned name (站内代名, or a strong station convention
    such as 吴民X without a real source) is not the person's name: ``full_name`` is
    ``（姓名不详）``, and the assigned name is kept only as a marked alternate name (the station
    knows the person by it), per DOMAIN.md "name as stated (mark it: 自报 / 音 / 站内代名)".

    >>> name_fields("党三", "站内代名")["alternate_name"], name_fields("小明")["family_name"]
    ('党三（站内代名）', '')
    """
    from kinmatch.normalize.names import parse_name

    parsed = parse_name(name, name_source=name_source)
    fields = {"full_name": name or NAMELESS, "family_name": "", "given_name": "",
              "alternate_name": "", "name_source": ""}
    if parsed.kind in ("blank", "placeholder", "assigned"):
        fields["full_name"] = NAMELESS
        if parsed.kind == "assigned":
            fields["alternate_name"] = f"{name}（站内代名）"
            fields["name_source"] = "站内代名"
        elif parsed.kind == "placeholder" and name:
            fields["name_source"] = f"不详（站内登记为“{name}”，不是姓名）"
    elif parsed.kind == "full" and parsed.surname and parsed.given:
        fields["family_name"], fields["given_name"] = parsed.surname, parsed.given
    return fields


def _dob(text: str) -> str:
    from kinmatch.normalize.quantities import parse_date

    parsed = parse_date(text) if text else None
    if parsed is None or parsed[0] is None or pd.isna(parsed[0]):
        return ""
    value = pd.Timestamp(parsed[0])
    return {"year": f"{value.year:04d}", "month": f"{value.year:04d}-{value.month:02d}"}.get(
        parsed[1], f"{value.year:04d}-{value.month:02d}-{value.day:02d}")


def _age(text: str, ref: Any) -> str:
    from kinmatch.normalize.quantities import parse_age

    parsed = parse_age(text, ref) if text else None
    if parsed is None or _text(parsed[0]) == "" or _text(parsed[1]) == "":
        return ""
    low, high = int(math.floor(float(parsed[0]))), int(math.ceil(float(parsed[1])))
    return str(low) if low == high else f"{low}-{high}"


def _sex(text: str) -> str:
    from kinmatch.normalize.quantities import parse_sex

    code = parse_sex(text) if text else None
    return {"M": "male", "F": "female"}.get(code or "", "")


def _description(record: Mapping[str, Any], lines: Iterable[tuple[str, str]]) -> str:
    parts = []
    for field, label in lines:
        value = re.sub(r"\s*\n\s*", " ", _text(record.get(field)))
        if value:
            parts.append(f"{label}：{value}")
    return "\n".join(parts)


def _redacted(value: Any, allowed: Iterable[str] = ()) -> str:
    """Free text with private numbers and diagnoses redacted; '' when nothing else is left."""
    from kinmatch.notices.privacy import redact_text

    text = redact_text(_text(value), allowed)
    return text if re.sub(r"\[已隐去\]|[\W_]", "", text) else ""


def _checked(value: str, allowed: Iterable[str]) -> str:
    """``value`` after the notices' final public-text check; on a violation, redacted again.

    Values are built from redacted text already: this is the second line of defence, so a gap in
    one rule cannot publish an ID number or a diagnosis through PFIF.
    """
    from kinmatch.notices.privacy import REDACTED, PrivacyError, check_public_text, redact_text

    allowed = list(allowed)
    for candidate in (value, redact_text(value, allowed)):
        try:
            return check_public_text(candidate, station_phones=allowed, what="PFIF field")
        except PrivacyError:
            continue
    return REDACTED


def _day(value: Any) -> str:
    """A date cell as ``YYYY-MM-DD`` / ``YYYY-MM`` / ``YYYY`` by its precision (a Timestamp's
    ``00:00:00`` would otherwise read as one long number); unreadable text redacted as is."""
    from kinmatch.notices.context import parse_day

    day, precision = parse_day(value)
    if day is None:
        return _redacted(value)
    return {"year": f"{day.year:04d}", "month": f"{day.year:04d}-{day.month:02d}"}.get(
        precision or "day", day.isoformat())


def _resident_public(record: dict) -> tuple[dict[str, str], str]:
    """The publishable fields of a resident, from the notice context (which redacts), and the
    station phone (checked to look like a phone)."""
    from kinmatch.notices.context import notice_context

    context = notice_context(record)
    phone = context["station"]["phone"]
    allowed = [phone] if phone else []
    if context["withdrawn"]:  # back home: nothing personal beyond the record's existence
        return {"name": _redacted(record.get("name"), allowed), "withdrawn": "1"}, phone
    return {
        "name": context["name"],
        "alias": _redacted(record.get("alias"), allowed),
        "name_source": _redacted(record.get("name_source"), allowed),
        "height": context["height"],
        "description": context["features"],
        "clothing": context["clothing"],
        "health": context["health"],  # plain words only (疑似精神障碍 …), never a diagnosis
        "accent": context["accent"],
        "found_date": _day(record.get("found_date")),
        "found_place": context["found_place"],  # county level for a possible minor
    }, phone


def _report_public(record: dict) -> dict[str, str]:
    """The publishable fields of a missing report: numbers and diagnoses redacted; for a
    possible minor, addresses in the description cut to county level."""
    from kinmatch.notices.context import age_range, may_be_minor, parse_day
    from kinmatch.notices.privacy import coarse_place, cut_address_clauses

    public = {field: _redacted(record.get(field)) for field in (
        "name", "alias", "height", "description", "clothing", "health", "dialect",
        "missing_place", "hometown")}
    public["missing_date"] = _day(record.get("missing_date"))
    low, _high = age_range(record, parse_day(record.get("missing_date"))[0])
    if may_be_minor(record, low):
        public["description"] = cut_address_clauses(public["description"])[0]
        public["hometown"] = coarse_place(public["hometown"]) or public["hometown"]
    return public


def _person(record: dict, kind: str, domain: str, stamp: str, expiry: str, source_name: str,
            include_contact: bool) -> dict[str, str]:
    id_field = "resident_id" if kind == "resident" else "missing_id"
    # Every free-text field comes from redacted text: PFIF records are shared beyond the station.
    if kind == "resident":
        public, station_phone = _resident_public(record)
    else:
        public, station_phone = _report_public(record), ""
    name = public.get("name", "")
    # A family's report names a real person: no station convention can make it 站内代名.
    source = record.get("name_source") if kind == "resident" else (
        _text(record.get("name_source")) or "户籍")
    names = name_fields(name, source)
    if kind == "resident" and names["name_source"] and not public.get("withdrawn"):
        stated = public.get("name_source", "")
        if names["name_source"] not in stated:
            public = {**public, "name_source": names["name_source"]}
    aliases = [a.strip() for a in re.split(r"[、,，;；/]+", public.get("alias", "")) if a.strip()]
    if names["alternate_name"]:
        aliases.insert(0, names["alternate_name"])
    person = {
        "person_record_id": f"{domain}/{kind}.{_text(record.get(id_field))}",
        "entry_date": stamp,
        "expiry_date": expiry,
        "source_name": source_name,
        "source_date": stamp,
        "full_name": names["full_name"],
        "family_name": names["family_name"],
        "given_name": names["given_name"],
        "alternate_names": "\n".join(aliases),
        "sex": _sex(_text(record.get("sex"))),
        "date_of_birth": _dob(_text(record.get("birth_date"))),
    }
    photos = [] if public.get("withdrawn") else photo_values(record.get("photo"))
    urls = [p for p in photos if re.match(r"https?://", p)]
    if urls:  # PFIF has one photo_url: the first photo given as a URL (local files are not public)
        person["photo_url"] = urls[0]
    if kind == "resident":
        person["author_name"] = _text(record.get("station"))
        person["author_phone"] = station_phone  # the station's public phone, never an ID number
        person["description"] = _description(public, _RESIDENT_LINES)
        person["age"] = _age(_text(record.get("age")), _text(record.get("found_date")) or None)
    else:
        person["author_name"] = _text(record.get("source"))
        if include_contact:
            contact = _text(record.get("contact"))
            key = "author_email" if "@" in contact else "author_phone"
            person[key] = contact
        person["description"] = _description(public, _MISSING_LINES)
        person["age"] = "" if person["date_of_birth"] else _age(
            _text(record.get("age")), _text(record.get("missing_date")) or None)
        hometown = public["hometown"]
        match = _PROVINCE.match(hometown)
        if match:
            person["home_state"] = match.group(1)
            person["home_city"] = hometown[match.end():].strip()
        elif hometown:
            person["home_city"] = hometown
    allowed = [station_phone] if station_phone else []
    for field in _PUBLIC_PERSON_FIELDS:
        if person.get(field):
            person[field] = "\n".join(_checked(line, allowed) for line in person[field].split("\n"))
    return person


def _append(parent: ET.Element, tag: str, fields: Iterable[str], values: dict[str, str],
            required: Iterable[str]) -> ET.Element:
    element = ET.SubElement(parent, f"{{{PFIF_NS}}}{tag}")
    for field in fields:
        value = values.get(field, "")
        if value or field in required:
            # XML 1.0 cannot carry most control characters: drop them rather than fail.
            clean = re.sub(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "", value)
            ET.SubElement(element, f"{{{PFIF_NS}}}{field}").text = clean
    return element


def export_pfif(residents: pd.DataFrame | None = None, missing: pd.DataFrame | None = None,
                matches: pd.DataFrame | None = None, *, domain: str = "kinmatch.invalid",
                source_name: str = "kinmatch", include_contact: bool = False,
                expiry_days: int | None = None, now: dt.datetime | None = None,
                author_name: str = "") -> str:
    """A PFIF 1.4 XML document (str) of residents, missing reports and reviewed matches.

    ``matches`` has ``resident_id, missing_id`` and optionally ``status`` (a PFIF note status;
    default ``believed_alive``: the missing person is believed alive at the station),
    ``decision`` (rows whose decision says excluded / 排除 are left out), ``explanation``,
    ``reviewer``. Each becomes a note on the resident linked to the report.

    Family contacts are never exported unless ``include_contact=True`` (for a closed channel,
    never for public-facing PFIF).
    """
    if not re.fullmatch(r"[A-Za-z0-9.\-]+", domain or ""):
        raise InputError(f"PFIF domain {domain!r} must be a domain name like studio.example.cn")
    now = now or dt.datetime.now(dt.timezone.utc)
    stamp = format_utc(now)
    expiry = format_utc(now + dt.timedelta(days=expiry_days)) if expiry_days else ""
    ET.register_namespace("pfif", PFIF_NS)
    root = ET.Element(f"{{{PFIF_NS}}}pfif")
    resident_elements: dict[str, ET.Element] = {}
    for kind, frame in (("resident", residents), ("missing", missing)):
        if frame is None:
            continue
        id_field = "resident_id" if kind == "resident" else "missing_id"
        if id_field not in frame.columns:
            raise InputError(f"the {kind} table has no {id_field} column")
        for record in frame.to_dict("records"):
            person = _person(record, kind, domain, stamp, expiry, source_name, include_contact)
            element = _append(root, "person", PERSON_FIELDS, person, PERSON_REQUIRED)
            if kind == "resident":
                resident_elements[_text(record.get(id_field))] = element
    if matches is not None and len(matches):
        for column in ("resident_id", "missing_id"):
            if column not in matches.columns:
                raise InputError(f"the matches table has no {column} column")
        for match in matches.to_dict("records"):
            decision = _text(match.get("decision")).lower()
            if decision and any(word in decision for word in _EXCLUDED):
                continue
            status = _text(match.get("status")) or "believed_alive"
            if status not in NOTE_STATUS_VALUES:
                raise InputError(f"note status {status!r} is not a PFIF 1.4 status; use one of "
                                 f"{', '.join(NOTE_STATUS_VALUES)}")
            resident_id, missing_id = _text(match["resident_id"]), _text(match["missing_id"])
            note = {
                "note_record_id": f"{domain}/note.{resident_id}.{missing_id}",
                "person_record_id": f"{domain}/resident.{resident_id}",
                "linked_person_record_id": f"{domain}/missing.{missing_id}",
                "entry_date": stamp,
                "author_name": _text(match.get("reviewer")) or author_name or source_name,
                "source_date": stamp,
                "status": status,
                "text": "比对线索（待DNA核验）" + (
                    f"：{_redacted(match.get('explanation'))}"
                    if _redacted(match.get("explanation")) else ""),
            }
            parent = resident_elements.get(resident_id, root)
            _append(parent, "note", NOTE_FIELDS, note, NOTE_REQUIRED)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------- import

def _parse_xml(source: str | bytes) -> ET.Element:
    data = source.encode("utf-8") if isinstance(source, str) else source
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise InputError("this PFIF document declares a DOCTYPE or entities; PFIF needs neither "
                         "and they can be used to attack the reader, so it was refused")
    try:
        from defusedxml.ElementTree import fromstring  # hardened parser when available
    except ImportError:  # pragma: no cover - stdlib fallback, DOCTYPE already refused above
        fromstring = ET.fromstring
    try:
        return fromstring(data)
    except ET.ParseError as error:
        raise InputError(f"not well-formed XML ({error}); is this a PFIF file?") from error


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _fields_of(element: ET.Element) -> dict[str, str]:
    values = {}
    for child in element:
        ns, local = _local(child.tag)
        if local in ("note", "person"):
            continue
        values[local] = (child.text or "").strip()
    return values


def _is_resident_record(record_id: str) -> bool:
    """True for ``<domain>/resident.<id>``, the record id :func:`export_pfif` gives a resident (from
    any station's kinmatch, whatever its domain).

        >>> _is_resident_record("station.example.cn/resident.R1"), _is_resident_record("a.cn/missing.M1")
        (True, False)
    """
    _, slash, rest = record_id.partition("/")
    return bool(slash) and rest.startswith("resident.")


def read_pfif(source: Any, *, domain: str | None = None) -> PfifImport:
    """Import PFIF person records as missing-person reports (canonical frame, raw text values).

    Residents in the file (record ids ``<domain>/resident.<id>``, as :func:`export_pfif` writes
    them, whatever the domain) are found people, not reports: they are left out, each with a
    ``resident_record`` row in the issues table.

    ``source`` is XML text/bytes or a path. With ``domain``, ids ``<domain>/missing.<id>``
    come back as ``<id>``; other ids are kept whole (they are unique by construction).
    PFIF 1.2–1.4 namespaces are accepted (1.2/1.3 ``first_name``/``last_name``/``other`` are
    mapped). Notes are returned as a frame of their fields.
    """
    from kinmatch.schema import canonical_columns

    if isinstance(source, (bytes, str)) and (isinstance(source, bytes) or source.lstrip().startswith("<")):
        data = source
    else:
        with open(source, "rb") as handle:
            data = handle.read()
    root = _parse_xml(data)
    ns, local = _local(root.tag)
    if local != "pfif" or not ns.startswith("http://zesty.ca/pfif/"):
        raise InputError(f"the root element is {root.tag!r}, not a PFIF <pfif:pfif> document")
    log = IssueLog()
    rows, notes = [], []
    for position, person in enumerate(root.iter(f"{{{ns}}}person"), start=1):
        values = _fields_of(person)
        record_id = values.get("person_record_id", "")
        if not record_id:
            log.add(row=position, record_id=None, column="person_record_id", value=None,
                    reason="missing_id", action="row_skipped",
                    message=f"person #{position} has no person_record_id; PFIF requires one")
            continue
        if _is_resident_record(record_id):
            # a resident of a station (kinmatch's own export writes them as <domain>/resident.<id>) is a
            # found person, not a missing-person report: linking it as one would match residents to themselves
            log.add(row=position, record_id=record_id, column="person_record_id", value=record_id,
                    reason="resident_record", action="row_skipped",
                    message=f"person #{position} ({record_id}) is a rescue-station resident exported by kinmatch, "
                            f"not a missing-person report; it is left out of the reports (link it as a resident "
                            f"from the station's own file)")
            continue
        prefix = f"{domain}/missing." if domain else None
        missing_id = record_id[len(prefix):] if prefix and record_id.startswith(prefix) else record_id
        name = values.get("full_name") or " ".join(
            v for v in (values.get("family_name") or values.get("last_name"),
                        values.get("given_name") or values.get("first_name")) if v)
        if name == NAMELESS:
            name = ""
        row = {"missing_id": missing_id, "name": name or None,
               "alias": "、".join(a.strip() for a in values.get("alternate_names", "").splitlines()
                                 if a.strip()) or None,
               "sex": {"male": "男", "female": "女"}.get(values.get("sex", ""), None),
               "birth_date": values.get("date_of_birth") or None,
               "age": values.get("age") or None,
               "source": values.get("author_name") or values.get("source_name") or None,
               "contact": values.get("author_phone") or values.get("author_email") or None,
               "photo_url": values.get("photo_url") or None,
               "pfif_person_record_id": record_id}
        if values.get("sex") and values["sex"] not in SEX_VALUES:
            log.add(row=position, record_id=missing_id, column="sex", value=values["sex"],
                    reason="bad_sex", message=f"PFIF sex {values['sex']!r} is not female/male/other")
        hometown = "".join(values.get(f, "") for f in ("home_state", "home_city",
                                                        "home_neighborhood", "home_street"))
        row["hometown"] = hometown or None
        description = values.get("description") or values.get("other") or ""
        free = []
        labels = {label: field for field, label in _MISSING_LINES}
        for line in description.splitlines():
            label, sep, value = line.partition("：")
            if sep and label.strip() in labels and value.strip():
                row[labels[label.strip()]] = value.strip()
            elif line.strip():
                free.append(line.strip())
        if free:
            row["description"] = "；".join(([row["description"]] if row.get("description") else []) + free)
        row["source_row"] = position
        rows.append(row)
        for note in person.iter(f"{{{ns}}}note"):
            note_values = _fields_of(note)
            note_values.setdefault("person_record_id", record_id)
            notes.append(note_values)
    for note in root.findall(f"{{{ns}}}note"):
        notes.append(_fields_of(note))
    columns = canonical_columns("missing")
    frame = pd.DataFrame(rows)
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    extra = [c for c in frame.columns if c not in columns and c != "source_row"]
    frame = frame[columns + extra + ["source_row"]] if len(frame) else frame.reindex(
        columns=columns + ["source_row"])
    frame = frame.astype(object).where(frame.notna(), None)
    frame.attrs["kind"] = "missing"
    return PfifImport(frame, pd.DataFrame(notes, columns=list(NOTE_FIELDS)), log.to_frame())
