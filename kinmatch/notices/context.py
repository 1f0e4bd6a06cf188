"""From a canonical resident record to the safe values a notice template sees.

The context is the *only* thing a template gets: every value in it has already passed the
privacy rules of :mod:`kinmatch.notices.privacy`. A template cannot reach the raw record.

    >>> record = {"resident_id": "R1", "name": "李伟", "name_source": "自报", "sex": "男",
    ...           "age": "约60岁", "height": "170cm", "found_date": "2024-03-05",
    ...           "found_place": "郑州市二七区", "station": "郑州市救助管理站",
    ...           "contact": "0371-66661234"}
    >>> ctx = notice_context(record)
    >>> ctx["name_display"], ctx["station"]["phone"]
    ('李伟（自报）', '0371-66661234')
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from kinmatch.errors import InputError
from kinmatch.normalize.text import text_of as shared_text_of
from kinmatch.notices.privacy import (
    REDACTED,
    coarse_place,
    cut_address_clauses,
    digits_of,
    looks_like_phone,
    plain_health_words,
    redact_text,
)
from kinmatch.notices.screen import canonical, filter_free_text, findings
from kinmatch.notices.structured import public_accent, public_garments, public_marks

# Status words that mean the person went home: the notice is withdrawn (no name, no photo).
REUNITED_WORDS = ("已返乡", "返乡", "已团聚", "团聚", "已认领", "认领", "已寻亲", "寻亲成功",
                  "reunited", "returned home", "已送返", "已接回", "接回")

# Names that stations give when nobody knows the name: never presented as a real name.
PLACEHOLDER_NAMES = ("无名氏", "无名", "未知", "不详", "流浪男", "流浪女", "流浪汉", "流浪人员",
                     "无名男", "无名女", "某某", "佚名")

# Fields that identify a person to a family; a notice with fewer than MIN_IDENTIFIERS of them
# (photo counts double) is too empty to publish.
MIN_IDENTIFIERS = 3

_STATION_COLUMNS = {
    "station": ("station", "救助站", "救助管理站", "机构", "机构名称", "站点", "name", "名称"),
    "address": ("address", "地址", "站点地址", "机构地址"),
    "phone": ("phone", "电话", "联系电话", "站点电话", "公开电话", "contact"),
    "display_name": ("display_name", "全称", "公告名称"),
}


def _blank(value: Any) -> bool:
    return shared_text_of(value) is None


def text_of(value: Any) -> str:
    """A cell as stripped text ('' for blank / NaN): :func:`kinmatch.normalize.text.text_of`."""
    return shared_text_of(value) or ""


STATUS_COLUMNS = ("status", "状态", "当前状态", "在站状态", "人员状态", "去向", "离站原因")
"""Columns that may say a resident went home (unknown columns keep their original header)."""


def is_reunited(record: Mapping[str, Any]) -> bool:
    """Whether a status column of the record says the person is back with the family.

    >>> is_reunited({"status": "已返乡"}), is_reunited({"状态": "在站"}), is_reunited({"去向": "尚未返乡"})
    (True, False, False)
    """
    for column in STATUS_COLUMNS:
        status = text_of(record.get(column)).lower()
        if not status or re.search(r"未|没|不|not|no ", status):
            continue
        if any(word in status for word in REUNITED_WORDS):
            return True
    return False


# ---------------------------------------------------------------- station information

def load_station_info(source: Any) -> dict[str, dict[str, str]]:
    """Station name → {name, address, phone} from a mapping, a DataFrame or a CSV/XLSX path.

    Columns may be English (station, address, phone) or Chinese (救助站, 地址, 联系电话).

    >>> info = load_station_info({"郑州市救助管理站": {"address": "郑州市二七区某路1号",
    ...                                                "phone": "0371-66661234"}})
    >>> info["郑州市救助管理站"]["phone"]
    '0371-66661234'
    """
    if source is None:
        return {}
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise InputError(
                f"station info file {path!r} does not exist; give a CSV with columns "
                "station, address, phone (or 救助站, 地址, 联系电话)"
            )
        if path.lower().endswith((".xlsx", ".xls")):
            source = pd.read_excel(path, dtype=str)
        else:
            source = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    if isinstance(source, pd.DataFrame):
        columns = {}
        for key, names in _STATION_COLUMNS.items():
            for column in source.columns:
                if str(column).strip().lower() in {n.lower() for n in names}:
                    columns[key] = column
                    break
        if "station" not in columns:
            raise InputError(
                "station info has no station column; name one of its columns 'station' or "
                f"'救助站' (found: {', '.join(map(str, source.columns))})"
            )
        mapping = {}
        for row in source.to_dict("records"):
            name = text_of(row[columns["station"]])
            if name:
                mapping[name] = {key: text_of(row[col]) for key, col in columns.items()
                                 if key != "station"}
        source = mapping
    if not isinstance(source, Mapping):
        raise InputError("station_info must be a mapping, a DataFrame or a path to a CSV file")
    result = {}
    for name, entry in source.items():
        entry = dict(entry) if isinstance(entry, Mapping) else {"phone": text_of(entry)}
        result[str(name).strip()] = {
            "name": text_of(entry.get("display_name")) or text_of(entry.get("name")) or str(name).strip(),
            "address": text_of(entry.get("address")),
            "phone": text_of(entry.get("phone")),
        }
    return result


def station_of(record: Mapping[str, Any], station_info: Mapping[str, Mapping[str, str]] | None) -> dict:
    """The station footer for ``record``: station_info first, then the record's own fields.

    A record whose station is blank or not in ``station_info`` gets the only station when
    ``station_info`` has exactly one (never a guess among several).

    >>> station_of({"name": "李伟"}, {"某县救助站": {"phone": "0371-12345678"}})["phone"]
    '0371-12345678'
    """
    name = text_of(record.get("station"))
    station_info = station_info or {}
    entry = station_info.get(name, {}) if name else {}
    if not entry and len(station_info) == 1:
        # A station's own file often has no station column (every record is its own): its one
        # station-info row is the only station these records can belong to.
        entry = next(iter(station_info.values()))
    phone = text_of(entry.get("phone")) or text_of(record.get("contact"))
    if not looks_like_phone(phone):
        phone = ""  # an ID number or free text in the phone column is never printed
    return {
        "name": text_of(entry.get("name")) or name,
        "address": text_of(entry.get("address")),
        "phone": phone,
    }


# ---------------------------------------------------------------- quantities

def _quantities():
    from kinmatch.normalize import quantities

    return quantities


def parse_day(text: Any) -> tuple[dt.date | None, str | None]:
    """``(date, precision)`` or ``(None, None)``: ``parse_date`` with a plain ``datetime.date``.

    >>> parse_day("2023年11月5日")
    (datetime.date(2023, 11, 5), 'day')
    """
    text = text_of(text)
    if not text:
        return None, None
    parsed = _quantities().parse_date(text)
    if parsed is None:
        return None, None
    value, precision = parsed[0], parsed[1]
    if value is None or _blank(value):
        return None, None
    if isinstance(value, pd.Timestamp):
        value = value.date()
    elif isinstance(value, dt.datetime):
        value = value.date()
    elif not isinstance(value, dt.date):
        try:
            value = pd.Timestamp(value).date()
        except (ValueError, TypeError):
            return None, None
    return value, precision or "day"


def format_day(value: dt.date | None, precision: str | None) -> str:
    """``2024年3月5日`` / ``2024年3月`` / ``2024年`` (Chinese form: no long digit run).

    >>> format_day(dt.date(2024, 3, 5), "day"), format_day(dt.date(2024, 3, 1), "month")
    ('2024年3月5日', '2024年3月')
    """
    if value is None:
        return ""
    if precision == "year":
        return f"{value.year}年"
    if precision == "month":
        return f"{value.year}年{value.month}月"
    return f"{value.year}年{value.month}月{value.day}日"


def age_range(record: Mapping[str, Any], ref_date: dt.date | None) -> tuple[float | None, float | None]:
    """The age interval in years at ``ref_date`` from ``age`` (else ``birth_date``)."""
    q = _quantities()
    text = text_of(record.get("age"))
    ref = ref_date or dt.date.today()
    if text:
        parsed = q.parse_age(text, ref)
        if parsed is not None and not _blank(parsed[0]) and not _blank(parsed[1]):
            return float(parsed[0]), float(parsed[1])
    born, precision = parse_day(record.get("birth_date"))
    if born is not None:
        years = ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))
        if precision == "year":
            return float(max(ref.year - born.year - 1, 0)), float(ref.year - born.year)
        return float(years), float(years)
    return None, None


def format_age(low: float | None, high: float | None) -> str:
    """``约55–65岁`` / ``60岁`` (ages are shown as ranges, as estimates are).

    >>> format_age(55, 65), format_age(60, 60), format_age(None, None)
    ('约55–65岁', '约60岁', '')
    """
    if low is None or high is None or not (0 <= low <= high <= 125):
        return ""  # not a human age: a typo is not published
    low_i, high_i = int(math.floor(low)), int(math.ceil(high))
    if low_i == high_i:
        return f"约{low_i}岁"
    return f"约{low_i}–{high_i}岁"


def format_height(text: Any) -> str:
    """``约170厘米`` from any height text; '' when it cannot be read."""
    text = text_of(text)
    if not text:
        return ""
    parsed = _quantities().parse_height(text)
    if parsed is None or _blank(parsed[0]):
        return ""
    cm, tol = parsed[0], parsed[1]
    if not 30 <= float(cm) <= 250:
        return ""  # not a human height: a typo is not published
    prefix = "约" if not _blank(tol) and float(tol) >= 2 else ""
    return f"{prefix}{float(cm):.0f}厘米"


# ---------------------------------------------------------------- names and sex

def name_label(name: str, source: str) -> str:
    """How the name is marked on a notice: 自报 / 音 / 站内代名 / 证件 / 不详.

    >>> name_label("李伟", "自报"), name_label("李威", "自报（音）"), name_label("党宁", "站内代名")
    ('自报', '音', '站内代名')
    >>> name_label("无名氏", "")
    '站内代名'
    """
    source = source.lower()
    if name in PLACEHOLDER_NAMES or re.fullmatch(r"(无名|流浪)[男女氏]?\d*", name or ""):
        return "站内代名"
    if any(word in source for word in ("代名", "站内", "站取", "assigned", "代")):
        return "站内代名"
    if "音" in source or "sound" in source:
        return "音"
    if any(word in source for word in ("证件", "身份证", "document", "户籍")):
        return "证件"
    if any(word in source for word in ("自报", "自述", "self", "本人")):
        return "自报"
    return "不详"


def sex_word(value: Any) -> str:
    """男 / 女 / '' from any way of writing sex (男性, F, 2 …)."""
    return {"M": "男", "F": "女"}.get(_quantities().parse_sex(text_of(value)) or "", "")


# ---------------------------------------------------------------- the context

# With no readable age, a record is treated as possibly a minor (its addresses are cut to county
# level) unless it clearly says adult: an adult word and no child word anywhere in it.
CHILD_WORDS = ("孩", "童", "少年", "少女", "婴", "幼", "学生", "未成年", "娃", "小朋友")
ADULT_WORDS = ("老人", "老年", "老汉", "老头", "老太", "大爷", "大妈", "大娘", "爷爷", "奶奶",
               "中年", "成年", "妇女", "男子", "女子", "白发", "花白")
_AGE_HINT_COLUMNS = ("age", "name", "description", "clothing", "health", "statements")


def may_be_minor(record: Mapping[str, Any], low: float | None) -> bool:
    """Whether a notice must treat the person as a possible minor (addresses cut to county).

    True when the lowest age estimate is under 18, and when there is no age at all unless the
    record clearly says adult (老人, 中年男子 … and no child word such as 小男孩).

    >>> may_be_minor({}, 15.0), may_be_minor({}, 40.0), may_be_minor({"description": "小男孩"}, None)
    (True, False, True)
    >>> may_be_minor({"description": "老人，满头白发"}, None)
    False
    """
    if low is not None:
        return low < 18
    words = " ".join(text_of(record.get(column)) for column in _AGE_HINT_COLUMNS)
    adult = any(word in words for word in ADULT_WORDS)
    child = any(word in words for word in CHILD_WORDS)
    return child or not adult

def _clean(value: Any, phones: list[str]) -> str:
    text = redact_text(text_of(value), phones)
    text = re.sub(r"\s+", " ", text).strip()
    return "" if text == REDACTED else text


FREE_TEXT_FIELDS = ("name", "features", "clothing", "accent", "found_place", "photo",
                    "station.name", "station.address")
"""Context fields that may carry the record's (or station file's) own words; each has passed
:func:`kinmatch.notices.screen.filter_free_text` or been replaced by its structured reading."""


class _Screen:
    """Runs the free-text filter over one record's fields and remembers what it left out."""

    def __init__(self, minor: bool, phones: list[str]):
        self.minor, self.phones = minor, phones
        self.withheld: list[dict[str, str]] = []

    def __call__(self, field: str, text: str, *, minor: bool | None = None,
                 fallback: str = "", contacts: bool = True, whole: bool = False) -> str:
        """The filtered ``text``; ``whole=True``: all of it or nothing (a name cut in half would
        mislead a family)."""
        minor = self.minor if minor is None else minor
        kept, reasons = filter_free_text(text, minor=minor, allowed_numbers=self.phones,
                                         contacts=contacts)
        for reason in dict.fromkeys(reasons):
            self.withheld.append({"field": field, "reason": reason})
        if whole and reasons:
            return ""
        if kept or not reasons or not fallback:
            return kept
        kept, _reasons = filter_free_text(fallback, minor=minor, allowed_numbers=self.phones)
        return kept


def notice_context(record: Mapping[str, Any], station_info: Mapping | None = None,
                   today: dt.date | None = None) -> dict[str, Any]:
    """The safe template context of one resident's public notice.

    Keys: ``withdrawn``, ``name``, ``name_label``, ``name_display``, ``sex``, ``age``,
    ``height``, ``health``, ``features``, ``clothing``, ``accent``, ``found_date``,
    ``found_place``, ``is_minor`` (age under 18), ``possibly_minor`` (addresses cut: a minor, or
    no age and nothing clearly adult), ``photo``, ``station`` (name, address, phone), ``issued``,
    the structured readings ``marks``, ``garments``, ``accent_area`` (lists / text from fixed
    vocabularies, :mod:`kinmatch.notices.structured`), plus ``identifiers`` (how many
    identifying fields are filled), ``forbidden`` (values the rendered text must not contain),
    ``structured`` (the generated values the rendered text is allowed to repeat) and ``withheld``
    (``{"field", "reason"}`` for every part of the free text the filter left out).

    Free text (:data:`FREE_TEXT_FIELDS`) is published only where
    :func:`~kinmatch.notices.screen.filter_free_text` is sure of it; where it left everything out,
    ``features``, ``clothing`` and ``accent`` show the structured reading instead. A reunited
    person's context has no personal fields at all.
    """
    today = today or dt.date.today()
    station = station_of(record, station_info)
    phones = [digits_of(station["phone"])] if station["phone"] else []
    station = {key: _clean(value, phones) for key, value in station.items()}
    screen = _Screen(False, phones)
    # The station's own name and address are public (the one street address a minor's notice
    # may show: where to call or come); they still pass the filter for numbers and diagnoses.
    # Contact words are fine there ("无电话站"): the station's own contact is the point.
    station["name"] = screen("station.name", station["name"], minor=False, contacts=False)
    station["address"] = screen("station.address", station["address"], minor=False, contacts=False)
    context: dict[str, Any] = {"station": station, "issued": format_day(today, "day")}

    name_raw = text_of(record.get("name"))
    photo_raw = text_of(record.get("photo"))
    found_raw = text_of(record.get("found_place"))
    if is_reunited(record):
        # Built from nothing personal, so no template can show the name or photo.
        context.update(withdrawn=True, identifiers=0, withheld=screen.withheld,
                       structured=[context["issued"]],
                       forbidden=[v for v in (name_raw, photo_raw) if len(v) >= 2])
        return context

    found_value, found_precision = parse_day(record.get("found_date"))
    low, high = age_range(record, found_value)
    is_minor = low is not None and low < 18
    protect_address = may_be_minor(record, low)
    screen.minor = protect_address
    description_raw = text_of(record.get("description"))
    clothing_raw = text_of(record.get("clothing"))
    accent_raw = text_of(record.get("accent"))
    name = screen("name", name_raw, whole=True)
    found_place = found_raw
    features, clothing, accent = description_raw, clothing_raw, accent_raw
    forbidden: list[str] = []
    if protect_address:
        public = station["name"] + " " + station["address"]  # found at the station: public

        def _forbid(exact: str) -> None:
            # The exact address must not reappear anywhere in the output; checked only when it
            # says something (not just redaction marks and punctuation, which others may share).
            meaningful = re.sub(r"\[已隐去\]|[\W\d_]", "", exact)
            if len(meaningful) >= 4 and exact not in public and exact not in forbidden:
                forbidden.append(exact)

        coarse = coarse_place(found_place)
        if coarse != found_place:
            _forbid(found_place)
        found_place = coarse
        cut = [cut_address_clauses(value) for value in (features, clothing, accent)]
        features, clothing, accent = (value for value, _removed in cut)
        for exact in (exact for _value, removed in cut for exact in removed):
            _forbid(exact)
    marks = [m for m in public_marks(description_raw) if not findings(m, minor=protect_address)]
    garments = [g for g in public_garments(clothing_raw) if not findings(g, minor=protect_address)]
    accent_area = public_accent(accent_raw)
    features = screen("features", features, fallback="，".join(marks))
    clothing = screen("clothing", clothing, fallback="，".join(garments))
    accent = screen("accent", accent, fallback=accent_area)
    found_place = screen("found_place", found_place, fallback=coarse_place(found_raw))
    # A photo is usually named after the record id ("photos/ZZ2024-0031.jpg"): those digits may
    # stay; any other long number, diagnosis or (for a minor) address in the path may not.
    record_digits = [re.sub(r"\D", "", canonical(text_of(record.get("resident_id"))))]
    photo = photo_raw
    if photo and findings(photo, minor=protect_address, allowed_numbers=phones + record_digits,
                          contacts=False):
        screen.withheld.append({"field": "photo", "reason": "photo_path"})
        photo = ""
    health = "，".join(plain_health_words(text_of(record.get("health"))))
    for exact in sorted(forbidden, key=len, reverse=True):  # repeated elsewhere: gone too
        features, clothing, accent, name = (
            value.replace(exact, "") for value in (features, clothing, accent, name))
    label = name_label(name, text_of(record.get("name_source"))) if name else ""
    context.update(
        withdrawn=False,
        name=name,
        name_label=label,
        name_display=f"{name}（{label}）" if name else "姓名不详",
        sex=sex_word(record.get("sex")),
        age=format_age(low, high),
        height=format_height(record.get("height")),
        health=health,
        features=features,
        clothing=clothing,
        accent=accent,
        marks=marks,
        garments=garments,
        accent_area=accent_area,
        found_date=format_day(found_value, found_precision),
        found_place=found_place,
        is_minor=is_minor,
        possibly_minor=protect_address,
        photo=photo,
        forbidden=forbidden,
        withheld=screen.withheld,
    )
    context["structured"] = [v for v in (context["age"], context["height"], context["found_date"],
                                         context["issued"], photo) if v]
    evidence_name = bool(name) and label != "站内代名"
    filled = [evidence_name, bool(context["sex"]), bool(context["age"]), bool(context["height"]),
              bool(features), bool(clothing), bool(accent), bool(health)]
    context["identifiers"] = sum(filled) + (2 if photo else 0)
    return context


def skip_reason(context: Mapping[str, Any]) -> str | None:
    """Why a notice should not be published, or None. Codes: ``no_station_phone``, ``too_empty``."""
    if not context["station"]["phone"]:
        return "no_station_phone"
    if not context["withdrawn"] and context["identifiers"] < MIN_IDENTIFIERS:
        return "too_empty"
    return None
