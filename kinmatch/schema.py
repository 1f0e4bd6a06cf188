"""The field tables of SCHEMA.md as data, and the header matcher intake uses.

Each record kind (``"resident"``, ``"missing"``) has an ordered table: canonical field → accepted
headers. Headers are compared after :func:`normalize_header`, so ``身高(cm)``, ``身高（厘米）``,
`` 身 高 `` and ``Height`` all find ``height``.

    >>> match_headers(["编号", "姓名", "身高（厘米）", "备注"], "resident")
    {'编号': 'resident_id', '姓名': 'name', '身高（厘米）': 'height'}
    >>> normalize_header(" 入站日期 ( 年-月-日 ) ")
    '入站日期'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "KINDS",
    "RESIDENT_FIELDS",
    "MISSING_FIELDS",
    "FIELDS",
    "ID_FIELD",
    "JOINED_FIELDS",
    "canonical_columns",
    "normalize_header",
    "header_lookup",
    "match_headers",
    "accepted_headers",
    "field_of_header",
    "photo_values",
]

KINDS = ("resident", "missing")

# Order matters twice: it is the column order of the canonical frame, and within a field it is the
# order in which several present headers are joined (see JOINED_FIELDS).
RESIDENT_FIELDS: dict[str, tuple[str, ...]] = {
    "resident_id": ("编号", "人员编号", "受助编号", "受助人员编号", "resident_id", "id"),
    "station": ("救助站", "救助管理站", "机构", "机构名称", "救助单位", "所属救助站", "station"),
    "name": ("姓名", "自报姓名", "名字", "受助人姓名", "受助人员姓名", "name"),
    "name_source": ("姓名来源", "name_source"),
    "alias": ("别名", "小名", "乳名", "曾用名", "alias", "aliases"),
    "sex": ("性别", "sex", "gender"),
    "age": ("年龄", "估计年龄", "目测年龄", "age"),
    "birth_date": ("出生日期", "出生年份", "出生年月", "出生年月日", "出生时间", "生日", "birth_date",
                   "date_of_birth", "dob", "birthdate"),
    "height": ("身高", "height"),
    "found_date": ("入站日期", "发现日期", "救助日期", "入站时间", "发现时间", "救助时间", "进站日期",
                   "进站时间", "found_date"),
    "found_place": ("发现地点", "救助地点", "发现地址", "救助地址", "found_place"),
    "accent": ("口音", "方言", "accent"),
    "description": ("体貌特征", "特征", "体貌", "外貌特征", "体貌特征描述", "description"),
    "clothing": ("衣着", "衣着特征", "发现时衣着", "衣着情况", "穿着", "clothing"),
    "health": ("健康状况", "精神状况", "智力状况", "health"),
    "statements": ("自述", "自述信息", "线索", "本人自述", "statements"),
    "photo": ("照片", "相片", "照片链接", "photo"),
    "contact": ("联系电话", "站点电话", "contact"),
}

MISSING_FIELDS: dict[str, tuple[str, ...]] = {
    "missing_id": ("编号", "寻人编号", "报案编号", "missing_id", "id"),
    "name": ("姓名", "走失人姓名", "失踪人姓名", "name"),
    "alias": ("小名", "乳名", "别名", "曾用名", "alias", "aliases"),
    "sex": ("性别", "sex", "gender"),
    "birth_date": ("出生日期", "出生年份", "出生年月", "出生年月日", "出生时间", "生日", "birth_date",
                   "date_of_birth", "dob", "birthdate"),
    "age": ("年龄", "走失时年龄", "失踪时年龄", "age"),
    "height": ("身高", "height"),
    "missing_date": ("走失日期", "失踪日期", "走失时间", "失踪时间", "missing_date"),
    "missing_place": ("走失地点", "失踪地点", "走失地址", "失踪地址", "missing_place"),
    "hometown": ("户籍地", "籍贯", "家庭住址", "户籍所在地", "户籍地址", "家乡", "老家", "hometown"),
    "dialect": ("方言", "口音", "dialect"),
    "description": ("体貌特征", "特征", "外貌特征", "体貌特征描述", "description"),
    "clothing": ("衣着", "走失时衣着", "失踪时衣着", "衣着情况", "穿着", "clothing"),
    "health": ("健康状况", "health"),
    "contact": ("联系人", "联系电话", "联系方式", "contact"),
    "source": ("来源", "信息来源", "source"),
    "photo": ("照片", "相片", "照片链接", "photo"),
}

FIELDS = {"resident": RESIDENT_FIELDS, "missing": MISSING_FIELDS}
ID_FIELD = {"resident": "resident_id", "missing": "missing_id"}

JOINED_FIELDS = {"health": "；", "alias": "、", "description": "；", "clothing": "；",
                 "statements": "；", "accent": "；", "dialect": "；", "contact": "；", "photo": "；"}
"""Free-text fields that may come from several columns at once (健康状况 + 精神状况 + 智力状况,
小名 + 曾用名, 联系人 + 联系电话, 照片 + 照片链接: several photos, each a path or URL, separated by ；
; or 、). Their non-blank texts are joined with the separator, in the order
of the field table, so matching sees all of them. Any other field present twice (ids, dates,
addresses, where two values would contradict or confuse) takes the first column; the later ones
are kept as unknown columns, with a ``duplicate_column`` issue."""

# Brackets and what they hold at the end of a header are units or hints: 身高(cm), 日期[年-月-日].
_BRACKET_SUFFIX = re.compile(r"[(\[{<《【〔][^)\]}>》】〕]*[)\]}>》】〕]$")
_STRIP_CHARS = "*:：#＊"  # required-field stars and trailing colons from form-like exports


def normalize_header(header: object) -> str:
    """The comparable form of a header: NFKC, no whitespace, no bracketed suffix, lower case.

    English names also lose ``_``/``-`` so ``Resident ID``, ``resident_id`` and ``RESIDENT-ID``
    meet.

    >>> [normalize_header(h) for h in ["身高（厘米）", "Found Date", " 性 别 ", "*编号:"]]
    ['身高', 'founddate', '性别', '编号']
    """
    # Repeated to a fixed point, so normalizing twice changes nothing (removing a space can
    # let NFKC compose two characters; 身高(cm)(估): loses one suffix per round).
    text = str(header)
    for _ in range(10):
        step = unicodedata.normalize("NFKC", text).lstrip("\ufeff")
        step = re.sub(r"[\s_\-]+", "", step).lower()
        stripped = _BRACKET_SUFFIX.sub("", step.strip(_STRIP_CHARS)).strip(_STRIP_CHARS)
        step = stripped or step
        if step == text:
            break
        text = step
    return text


_LOOKUPS: dict[str, dict[str, str]] = {}


def header_lookup(kind: str) -> dict[str, str]:
    """Normalized accepted header → canonical field, for ``kind`` ``"resident"`` or ``"missing"``."""
    if kind not in FIELDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if kind not in _LOOKUPS:
        lookup: dict[str, str] = {}
        for canonical, headers in FIELDS[kind].items():
            for header in (canonical, *headers):
                lookup.setdefault(normalize_header(header), canonical)
        _LOOKUPS[kind] = lookup
    return dict(_LOOKUPS[kind])


# A unit written straight after the name, without brackets: 身高cm, 身高/厘米, 年龄岁.
_UNIT_SUFFIX = re.compile(r"/?(cm|厘米|公分|米|m|岁|周岁)$")


def _lookup_header(header: object, lookup: dict[str, str]) -> str | None:
    key = normalize_header(header)
    canonical = lookup.get(key)
    if canonical is None:
        canonical = lookup.get(_UNIT_SUFFIX.sub("", key))
    return canonical


def match_headers(headers: Iterable[object], kind: str) -> dict[object, str]:
    """Map each recognised header of a file to its canonical field (unknown headers left out).

    A field found under several headers keeps only the first, except :data:`JOINED_FIELDS`,
    which keep all (the caller joins them). Use :func:`canonical_columns` for column order.

    >>> match_headers(["身高cm", "年龄/岁", "Resident ID"], "resident")
    {'身高cm': 'height', '年龄/岁': 'age', 'Resident ID': 'resident_id'}
    """
    lookup = _LOOKUPS.get(kind) or header_lookup(kind)
    matched: dict[object, str] = {}
    taken: set[str] = set()
    for header in headers:
        canonical = _lookup_header(header, lookup)
        if canonical is None:
            continue
        if canonical in taken and canonical not in JOINED_FIELDS:
            continue
        matched[header] = canonical
        taken.add(canonical)
    return matched


def canonical_columns(kind: str) -> list[str]:
    """The canonical columns of ``kind`` in frame order (id first)."""
    return list(FIELDS[kind])


def accepted_headers(field: str, kind: str) -> tuple[str, ...]:
    """The headers SCHEMA.md accepts for ``field`` (for error messages)."""
    return FIELDS[kind][field]


def field_of_header(header: object, kind: str) -> str | None:
    """The canonical field a single header means for ``kind``, or None.

    >>> field_of_header("口音", "missing"), field_of_header("备注", "resident")
    ('dialect', None)
    """
    return _lookup_header(header, _LOOKUPS.get(kind) or header_lookup(kind))


_PHOTO_SPLIT = re.compile(r"[;；、\n]+")


def photo_values(value: object) -> list[str]:
    """The photos a record's ``photo`` field names (paths or URLs), in order; several are
    separated by ``;``, ``；``, ``、`` or new lines (a list is taken as it is).

    >>> photo_values("M000487.jpg；https://example.org/p/2.jpg、 p3.png")
    ['M000487.jpg', 'https://example.org/p/2.jpg', 'p3.png']
    """
    if value is None or (isinstance(value, float) and value != value):
        return []
    parts = value if isinstance(value, (list, tuple)) else _PHOTO_SPLIT.split(str(value))
    return [str(p).strip() for p in parts if p is not None and str(p).strip()]
