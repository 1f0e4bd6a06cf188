"""Quantities written by hand: dates, ages, heights and sex.

Station staff and families write these the way people talk: ``2023年11月5日``, ``二〇二三年十一月``,
``约60岁``, ``五六十岁``, ``一米七二``, ``165-170``, ``男性``. Each parser here takes one value and
returns a small named tuple (or ``None`` when the text says nothing usable); each has a vectorized
twin on a :class:`pandas.Series` that parses every *distinct* value once and maps the results back,
so a million-row column with a few thousand distinct spellings costs a few thousand parses.

    >>> parse_date("2023年11月5日")
    ParsedDate(value=Timestamp('2023-11-05 00:00:00'), precision='day')
    >>> parse_height("一米七")
    Height(cm=170.0, tol_cm=5.0)
    >>> parse_age("60多岁")
    AgeRange(low=61.0, high=69.0, kind='decade', birth_year_low=None, birth_year_high=None)
    >>> parse_sex("女性")
    'F'

Nothing here mutates its input. Unknown markers (``未知``, ``不详``, ``-``) parse to ``None`` like
garbage does; :func:`is_unknown` tells the two apart so intake only complains about garbage.

Age widths (documented choice; comparisons may widen further)
-------------------------------------------------------------
==============================  ===========================  ==========================
text                            interval (years)             kind
==============================  ===========================  ==========================
``60`` / ``60岁`` (an estimate)  57–63 (±3; ±1 for a child, growing with age)  ``point``
``约60岁`` / ``六十岁左右``         55–65 (±5; ±2 for a child, growing with age)  ``approx``
``60多岁`` / ``60余岁``            61–69                        ``decade``
``3岁多``                         3–4                          ``decade``
``五六十岁`` / ``十几二十岁``          50–69 / 13–22                ``range``
``十七八岁``                       17–18                        ``range``
``60-65岁``                       60–65                        ``range``
``60岁以上``                       60–80                        ``open``
``1960年(估)``                    birth year 1960 (±3 if 估)   ``birth_year``
``80后``                          born 1980–1989               ``cohort``
``3个月`` / ``婴儿``                 0.17–0.33 / 0–1              ``months`` / ``category``
==============================  ===========================  ==========================

Ages are closed intervals of whole-year ages ("61–69" means any age from 61 up to 69), in years at
the record's reference date (found date for residents, missing date for reports).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
import unicodedata
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "ParsedDate",
    "AgeRange",
    "Height",
    "parse_date",
    "parse_dates",
    "parse_age",
    "parse_ages",
    "age_to_birth_years",
    "parse_height",
    "parse_heights",
    "parse_sex",
    "parse_sexes",
    "is_unknown",
    "UNKNOWN_MARKERS",
]


class ParsedDate(NamedTuple):
    """A date and how much of it was given: ``'day'``, ``'month'`` (value = 1st) or ``'year'``."""

    value: pd.Timestamp | None
    precision: str | None


class AgeRange(NamedTuple):
    """An age interval in whole years at a reference date.

    ``birth_year_low``/``birth_year_high`` are set when the text gave birth years (``1960年``,
    ``80后``): then they, not ``low``/``high``, are the evidence, and the ages depend on the
    reference date they were computed for.
    """

    low: float
    high: float
    kind: str
    birth_year_low: int | None = None
    birth_year_high: int | None = None


class Height(NamedTuple):
    """Height in centimetres with its ± precision (measured: 1, estimated or decimetre only: 5)."""

    cm: float
    tol_cm: float


_NONE_DATE = ParsedDate(None, None)

UNKNOWN_MARKERS = frozenset(
    {
        "未知", "不详", "不明", "不清", "不清楚", "不知道", "待查", "待定", "无", "没有", "空", "暂无",
        "未说明", "未填", "unknown", "unk", "n/a", "na", "none", "null", "nan", "nat", "-", "--",
        "---", "—", "——", "/", "?", "??", "？", "*",
    }
)
"""Texts that honestly say "not known". They parse to ``None`` but are not input errors."""


def _nfkc(text: str) -> str:
    # NFKC turns full-width digits, letters and brackets (１７２ｃｍ, （估）) into ASCII ones.
    return unicodedata.normalize("NFKC", text)


def _as_text(value: Any) -> str | None:
    """One cell as stripped text, or None for blank/NaN. Floats that are whole become ints."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        text = str(int(value))
    else:
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        text = str(value)
    text = text.strip()
    return text or None


def is_unknown(value: Any, field: str | None = None) -> bool:
    """True for blank cells and texts that honestly mean "unknown" (``未知``, ``不详``, ``-``).

    ``field="sex"`` also accepts the GB/T 2261.1 sex codes 0 (未知的性别) and 9 (未说明的性别),
    which are "unknown" only in a sex column (0 in a height column is garbage).

    >>> is_unknown("不详"), is_unknown(None), is_unknown("很高")
    (True, True, False)
    >>> is_unknown("9", field="sex"), is_unknown("9")
    (True, False)
    """
    if field == "sex":
        return _sex_is_unknown(value)
    text = _as_text(value)
    if text is None:
        return True
    return _nfkc(text).strip().lower().replace(" ", "") in UNKNOWN_MARKERS


# --- Chinese numerals -------------------------------------------------------------------------
# Hand-written because the few libraries that do this (cn2an) pull in more than we need and do not
# handle digit-by-digit years (二〇二三) and counted numbers (十一) in one pass.

_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_RUN = re.compile("[〇○零一二两三四五六七八九十百千]+")


def _cn_to_int(run: str) -> int:
    """``二〇二三`` → 2023 (digit by digit), ``十一`` → 11, ``一百零二`` → 102."""
    if not any(ch in _CN_UNITS for ch in run):
        return int("".join(str(_CN_DIGITS[ch]) for ch in run))
    total, current = 0, 0
    for ch in run:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            total += (current or 1) * unit
            current = 0
    return total + current


def _cn_numerals_to_arabic(text: str) -> str:
    return _CN_RUN.sub(lambda m: str(_cn_to_int(m.group())), text)


# An age, height or date written in more than this many characters is prose, not a quantity;
# the cap also keeps absurd digit strings away from float conversion.
_MAX_LEN = 40


def _clean(text: str) -> str:
    """NFKC, lower case, no whitespace, Chinese numerals left as they are."""
    return re.sub(r"\s+", "", _nfkc(text)).lower()


# --- dates ------------------------------------------------------------------------------------

# A time or weekday after the date: "2023-11-05 14:30", "2023年11月5日14时30分",
# "2023年11月5日下午", "2023年11月5日星期日", "2023-11-05(周日)".
_TIME_TAIL = r"(?:(?:\s+|t|(?<=[日号]))\d{1,2}[:时点].*|\s*[上下中晚早凌傍夜深午星周(].*)?"
_DATE_DAY = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?" + _TIME_TAIL + "$"
)
_DATE_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
_DATE_YEAR = re.compile(r"^(\d{4})\s*年?$")
_DATE_COMPACT_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})" + _TIME_TAIL + "$")
_DATE_COMPACT_MONTH = re.compile(r"^(\d{4})(\d{2})$")
_EXCEL_SERIAL = re.compile(r"^(\d{5})(?:\.\d+)?$")
# Approximation words around a date change nothing about the value we can use.
_DATE_QUALIFIERS = re.compile(
    r"[(\[]\s*(?:估|估计|约|大约|不详|\?)\s*[)\]]|^(?:约|大约|大概|估计|约于|于)|"
    r"(?:左右|前后|许|份|初|底|末|上旬|中旬|下旬|月中)$"
)
_MINGUO = re.compile(r"^民国\s*(\d{1,2})\s*(年.*)$")
_LUNAR = re.compile(r"^(?:农历|阴历|旧历)\s*(.+)$")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # serial 1 = 1900-01-01, incl. Excel's 1900 leap bug
_MIN_YEAR, _MAX_YEAR = 1678, 2261  # what pandas Timestamp[ns] can hold


def _make_date(year: int, month: int = 1, day: int = 1) -> pd.Timestamp | None:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    try:
        return pd.Timestamp(_dt.date(year, month, day))
    except ValueError:
        return None


# The day forms most files write (2023-11-05, 2023/11/5, 2023.11.05, 2023年11月5日, 20231105) in
# ASCII digits, nothing around them: what the full parse below makes of them, without its passes
# (NFKC, numerals, qualifiers, 民国, lunar), which change none of these characters.
_PLAIN_DAY = re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?|([0-9]{4})([0-9]{2})([0-9]{2})")


@functools.lru_cache(maxsize=65536)
def _parse_date_text(text: str) -> ParsedDate:
    if m := _PLAIN_DAY.fullmatch(text):
        value = _make_date(int(m[1]), int(m[2]), int(m[3])) if m[1] else _make_date(int(m[4]), int(m[5]), int(m[6]))
        return ParsedDate(value, "day") if value is not None else _NONE_DATE
    s = _nfkc(text).strip().lower()
    if len(s) > _MAX_LEN:
        return _NONE_DATE
    s = _cn_numerals_to_arabic(s)
    s = re.sub(r"\s+", " ", s)
    for _ in range(2):  # qualifiers may stack: 约2023年11月初
        s = _DATE_QUALIFIERS.sub("", s).strip()
    if m := _MINGUO.match(s):  # 民国38年 = 1949 (older people's birth years)
        s = f"{1911 + int(m[1])}{m[2]}"
    if m := _LUNAR.match(s):
        # A lunar (农历) date falls 3-7 weeks later in the solar calendar: only the year is
        # kept, the next one for the 12th lunar month (腊月 is mostly January).
        lunar = m[1].replace("正月", "1月").replace("冬月", "11月").replace("腊月", "12月")
        lunar = re.sub(r"(?<=月)初(?=\d)", "", lunar)  # 初八 → 8
        parsed = _parse_date_text(lunar)
        if parsed.value is None:
            return _NONE_DATE
        late = parsed.precision != "year" and parsed.value.month == 12
        return ParsedDate(_make_date(parsed.value.year + late), "year")
    if m := _DATE_DAY.match(s) or _DATE_COMPACT_DAY.match(s):
        value = _make_date(int(m[1]), int(m[2]), int(m[3]))
        return ParsedDate(value, "day") if value is not None else _NONE_DATE
    if m := _DATE_MONTH.match(s) or _DATE_COMPACT_MONTH.match(s):
        value = _make_date(int(m[1]), int(m[2]))
        return ParsedDate(value, "month") if value is not None else _NONE_DATE
    if m := _DATE_YEAR.match(s):
        value = _make_date(int(m[1]))
        return ParsedDate(value, "year") if value is not None else _NONE_DATE
    if m := _EXCEL_SERIAL.match(s):
        # A 5-digit number in a date column is an Excel serial day (45235 = 2023-11-05).
        return ParsedDate(_EXCEL_EPOCH + pd.Timedelta(days=int(m[1])), "day")
    return _NONE_DATE


def parse_date(value: Any) -> ParsedDate:
    """Parse one date as people and spreadsheets write it.

    Accepts ``2023-11-05``, ``2023/11/5``, ``2023年11月5日``, ``2023.11``, ``2023年11月``,
    ``20231105``, ``202311``, ``2023``, ``2023-11-05 14:30``, Excel serials (``45235``),
    ``datetime``/``Timestamp`` objects, full-width digits and Chinese numerals, 民国 years
    (民国38年 = 1949) and lunar dates (农历…, kept to year precision). Month and year precision
    give the first day of the period. Impossible dates give ``ParsedDate(None, None)``.

    >>> parse_date("二〇二三年十一月五日").value
    Timestamp('2023-11-05 00:00:00')
    >>> parse_date("2023.11")
    ParsedDate(value=Timestamp('2023-11-01 00:00:00'), precision='month')
    >>> parse_date("2023-02-30")
    ParsedDate(value=None, precision=None)
    """
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, OverflowError):
            return _NONE_DATE
        if pd.isna(stamp):
            return _NONE_DATE
        return ParsedDate(stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize(),
                          "day")
    text = _as_text(value)
    if text is None:
        return _NONE_DATE
    return _parse_date_text(text)


def _factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values of a Series of any cells (-1 for blank)."""
    values = series.to_numpy(dtype=object, na_value=None) if len(series) else np.array([], object)
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists...): fall back to their text
        codes, uniques = pd.factorize(np.array([None if v is None else str(v) for v in values],
                                               dtype=object), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _take(per_unique: list, codes: np.ndarray, blank: Any, dtype: Any = object) -> np.ndarray:
    """One result per row from one result per distinct value (numpy take; code -1 → ``blank``)."""
    table = np.empty(len(per_unique) + 1, dtype=dtype)
    table[:-1] = per_unique
    table[-1] = blank
    return table[codes]


def parse_dates(series: pd.Series) -> pd.DataFrame:
    """Vectorized :func:`parse_date`: a frame with ``value`` (datetime64) and ``precision``.

    >>> parse_dates(pd.Series(["2023-11-05", "2023年11月", None]))["precision"].tolist()
    ['day', 'month', None]
    """
    codes, uniques = _factorize(series)
    parsed = [parse_date(v) for v in uniques]
    stamps = [np.datetime64("NaT", "ns") if p.value is None else p.value.to_datetime64()
              for p in parsed]
    values = _take(stamps, codes, np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    precision = _take([p.precision for p in parsed], codes, None)
    return pd.DataFrame({"value": values, "precision": precision}, index=series.index)


# --- ages -------------------------------------------------------------------------------------

_AGE_APPROX = re.compile(r"约|左右|上下|许|估|大概|差不多|前后|来岁|大约")
_AGE_NOISE = re.compile(
    r"[(\[][^)\]]*[)\]]|走失时|失踪时|走失|失踪|当时|目测|估计|看起来|看上去|现年|年龄|年约|今年|"
    r"自称|自述|自报|据称|大约|大概|差不多|约莫|约|左右|上下|前后|许|来(?=岁|$)|周岁|虚岁|岁|估|"
    r"的样子|样子|看着有|看着像|看着|像是|了$|"
    r"[:,.;、]$"
)
_AGE_CATEGORIES = {
    "新生儿": (0.0, 0.1), "婴儿": (0.0, 1.0), "婴幼儿": (0.0, 3.0), "幼儿": (1.0, 3.0),
    "儿童": (3.0, 12.0), "小孩": (2.0, 12.0), "少年": (12.0, 17.0), "青少年": (12.0, 20.0),
    "青年": (18.0, 40.0), "中年": (40.0, 59.0), "中老年": (45.0, 75.0), "老年": (60.0, 95.0),
    "老人": (60.0, 95.0), "老年人": (60.0, 95.0),
}
_CN_1_9 = "一二三四五六七八九"
_AGE_CN_DECADES = re.compile(f"^([{_CN_1_9}])([{_CN_1_9}])十(多|几)?$")        # 五六十
_AGE_CN_TEENS = re.compile(f"^十([{_CN_1_9}])([{_CN_1_9}])$")                 # 十七八
_AGE_CN_TENS_PAIR = re.compile(f"^([{_CN_1_9}])十([{_CN_1_9}])([{_CN_1_9}])$")  # 三十五六
_AGE_CN_PAIR = re.compile(f"^([{_CN_1_9}])([{_CN_1_9}])$")                     # 三四
_AGE_CN_BRIDGE = re.compile(f"^([{_CN_1_9}]?)十几([{_CN_1_9}])十$")               # 十几二十
_AGE_RANGE = re.compile(r"^(\d+(?:\.\d+)?)(?:岁)?[-~〜至到—–]+(\d+(?:\.\d+)?)(多)?$")
_AGE_PLUS = re.compile(r"^(\d+)(多|余|好几|几|出头|\+)$")
# 年近七十 / 快七十了 / 不到三十 / 三十不到: just under a round age
_AGE_NEAR = re.compile(r"^(?:年近|将近|接近|快到|快|近|不到|不满|未满)(\d+)$|^(\d+)(?:不到|未满)$")
_AGE_OPEN = re.compile(r"^(\d+)(以上|以下|开外)$")
_AGE_HALF = re.compile(r"^(\d+)半$")
_AGE_PLAIN = re.compile(r"^(\d+(?:\.\d+)?)$")
_AGE_MONTHS = re.compile(r"^(\d+(?:\.\d+)?)个?(?:多)?月(?:大)?$")
_AGE_DAYS = re.compile(r"^(\d+)(天|日|周|星期)(?:大)?$")
_AGE_COHORT = re.compile(r"^(\d{2})后$")
_AGE_BIRTH_YEAR = re.compile(r"^(\d{4})(?:年)?(?:\d{1,2}月(?:\d{1,2}[日号])?)?(?:生|出生|生人)?$")

# (low, high, kind, birth_year_low, birth_year_high, stated); ages are NaN for birth-year kinds.
# ``stated`` is the single number given (60 in "约60岁"), NaN for ranges.
_AgeCore = tuple[float, float, str, int | None, int | None, float]


def _age_tol(age: float, approx: bool) -> float:
    """Half-width of an estimated age: it grows with age (a child's age is judged within a year
    or two, an adult's within several) and has no jump at any age, so 约11岁 and 约12岁 read alike."""
    if approx:
        return round(min(max(0.12 * age + 1.0, 2.0), 5.0), 1)
    return round(min(max(0.08 * age + 0.5, 1.0), 3.0), 1)


_AGE_YEARS_MONTHS = re.compile(r"^(\d+)岁(\d+)个?多?月(?:大)?$")


@functools.lru_cache(maxsize=65536)
def _parse_age_text(text: str) -> _AgeCore | None:
    s = _clean(text)
    if not s or s in UNKNOWN_MARKERS or len(s) > _MAX_LEN:
        return None
    core = _parse_age_clean(s)
    if core is not None and "虚岁" in s:
        # 虚岁 (nominal age) counts one year at birth: the real age is a year less.
        low, high, kind, by_low, by_high, stated = core
        if by_low is None:
            core = (max(low - 1, 0.0), max(high - 1, 0.0), kind, None, None, stated - 1)
    return core


def _parse_age_clean(s: str) -> _AgeCore | None:
    if m := _AGE_YEARS_MONTHS.match(_cn_numerals_to_arabic(s)):  # 1岁3个月
        age = int(m[1]) + int(m[2]) / 12
        return (age - 1 / 12, age + 1 / 12, "months", None, None, math.nan)
    approx = bool(_AGE_APPROX.search(s))
    s = _AGE_NOISE.sub("", s)
    if not s:
        return None
    if s in _AGE_CATEGORIES:
        low, high = _AGE_CATEGORIES[s]
        return (low, high, "category", None, None, math.nan)
    # Patterns that use the *shape* of Chinese numerals (五六十 = fifties or sixties) come first,
    # because turning them into digits would lose the shape.
    if m := _AGE_CN_DECADES.match(s):
        a, b = _CN_DIGITS[m[1]], _CN_DIGITS[m[2]]
        if a < b:
            return (a * 10.0, b * 10.0 + 9, "range", None, None, math.nan)
    if m := _AGE_CN_TEENS.match(s):
        a, b = _CN_DIGITS[m[1]], _CN_DIGITS[m[2]]
        if a < b:
            return (10.0 + a, 10.0 + b, "range", None, None, math.nan)
    if m := _AGE_CN_TENS_PAIR.match(s):
        t, a, b = _CN_DIGITS[m[1]], _CN_DIGITS[m[2]], _CN_DIGITS[m[3]]
        if a < b:
            return (t * 10.0 + a, t * 10.0 + b, "range", None, None, math.nan)
    if m := _AGE_CN_BRIDGE.match(s):  # 十几二十: late in one decade to early in the next
        a, b = _CN_DIGITS.get(m[1], 1), _CN_DIGITS[m[2]]
        if b == a + 1:
            return (a * 10.0 + 3, b * 10.0 + 2, "range", None, None, math.nan)
    if m := _AGE_CN_PAIR.match(s):
        a, b = _CN_DIGITS[m[1]], _CN_DIGITS[m[2]]
        if a < b:
            return (float(a), float(b), "range", None, None, math.nan)
    # 挂零 (六十挂零, "sixty and a bit") means 出头; its 零 must not be read as a digit
    s = _cn_numerals_to_arabic(s.replace("挂零", "出头"))
    if m := _AGE_COHORT.match(s):
        yy = int(m[1])
        start = (2000 if yy < 30 else 1900) + yy
        return (math.nan, math.nan, "cohort", start, start - start % 10 + 9, math.nan)
    if m := _AGE_BIRTH_YEAR.match(s):
        year = int(m[1])
        if 1800 <= year <= 2200:
            widen = 3 if approx else 0
            return (math.nan, math.nan, "birth_year", year - widen, year + widen, math.nan)
        return None
    if m := _AGE_MONTHS.match(s):
        months = float(m[1])
        return (max(months - 1, 0) / 12, (months + 1) / 12, "months", None, None, math.nan)
    if m := _AGE_DAYS.match(s):
        days = int(m[1]) * (7 if m[2] in ("周", "星期") else 1)
        return (max(days - 7, 0) / 365, (days + 7) / 365, "months", None, None, math.nan)
    if m := _AGE_RANGE.match(s):
        low, high = sorted((float(m[1]), float(m[2])))
        if m[3]:  # 50-60多岁
            high += 9 if high % 10 == 0 else 1
        return (low, high, "range", None, None, math.nan)
    if m := _AGE_PLUS.match(s):
        n = int(m[1])
        if m[2] == "出头":
            return (float(n), n + 3.0, "decade", None, None, math.nan)
        if m[2] == "好几" and n >= 10 and n % 10 == 0:  # 三十好几: well into the thirties
            return (n + 3.0, n + 9.0, "decade", None, None, math.nan)
        if n >= 10 and n % 10 == 0:
            return (n + 1.0, n + 9.0, "decade", None, None, math.nan)
        return (float(n), n + 1.0, "decade", None, None, math.nan)
    if m := _AGE_NEAR.match(s):
        n = float(m[1] or m[2])
        return (max(n - 4, 0.0), n, "open", None, None, math.nan)
    if m := _AGE_OPEN.match(s):
        n = float(m[1])
        if m[2] == "以下":
            return (max(n - 20, 0.0), n, "open", None, None, math.nan)
        if m[2] == "开外":  # 五十开外: a little over fifty
            return (n, n + 9, "open", None, None, math.nan)
        return (n, n + 20, "open", None, None, math.nan)
    if m := _AGE_HALF.match(s):
        n = float(m[1]) + 0.5
        return (n, n, "point", None, None, n)
    if m := _AGE_PLAIN.match(s):
        n = float(m[1])
        tol = _age_tol(n, approx)
        return (max(n - tol, 0.0), n + tol, "approx" if approx else "point", None, None, n)
    return None


def _ref_year(ref_date: Any) -> int:
    if ref_date is None:
        return _dt.date.today().year
    parsed = parse_date(ref_date)
    return parsed.value.year if parsed.value is not None else _dt.date.today().year


def _ages_from_birth_years(by_low: int, by_high: int, ref_year: int) -> tuple[float, float]:
    # Born in year B, at any date of year Y one is Y-B-1 (before the birthday) or Y-B.
    return (float(max(ref_year - by_high - 1, 0)), float(max(ref_year - by_low, 0)))


def parse_age(value: Any, ref_date: Any = None, point_tol: float | None = None) -> AgeRange | None:
    """Parse an age as stations and families write it; the interval is at ``ref_date``.

    ``ref_date`` (default today) only matters for texts that give a birth year (``1960年(估)``,
    ``80后``). See the module docstring for the width of each form. ``point_tol`` replaces the
    width of a plain number (kind ``point``): a family's "走失时年龄 68" is exact, so
    ``point_tol=0`` fits missing reports better than a station's ±3 estimate. Returns ``None``
    for unknown or unreadable text.

    >>> parse_age("约60岁")
    AgeRange(low=55.0, high=65.0, kind='approx', birth_year_low=None, birth_year_high=None)
    >>> parse_age("五六十岁")[:2]
    (50.0, 69.0)
    >>> parse_age("1960年", ref_date="2023-11-05")[:3]
    (62.0, 63.0, 'birth_year')
    >>> parse_age("68", point_tol=0)[:2]
    (68.0, 68.0)
    """
    text = _as_text(value)
    if text is None:
        return None
    core = _parse_age_text(text)
    if core is None:
        return None
    low, high, kind, by_low, by_high, stated = core
    if by_low is not None:
        low, high = _ages_from_birth_years(by_low, by_high, _ref_year(ref_date))
    if point_tol is not None and kind == "point":
        low, high = max(stated - point_tol, 0.0), stated + point_tol
    return AgeRange(low, high, kind, by_low, by_high)


def age_to_birth_years(age: AgeRange, ref_date: Any = None) -> tuple[int, int] | None:
    """The birth-year interval of an age interval taken at ``ref_date`` (default today).

    >>> age_to_birth_years(parse_age("60多岁"), "2023-11-05")
    (1953, 1962)
    >>> age_to_birth_years(parse_age("80后"))
    (1980, 1989)
    """
    if age is None:
        return None
    if age.birth_year_low is not None:
        return (age.birth_year_low, age.birth_year_high)
    year = _ref_year(ref_date)
    return (year - math.floor(age.high) - 1, year - math.floor(age.low))


def _ref_years(ref_dates: Any, index: pd.Index) -> np.ndarray:
    today = _dt.date.today().year
    if ref_dates is None:
        return np.full(len(index), today, dtype=float)
    if not isinstance(ref_dates, (pd.Series, np.ndarray, list, tuple, pd.Index)):
        return np.full(len(index), _ref_year(ref_dates), dtype=float)
    refs = pd.Series(ref_dates, index=index) if not isinstance(ref_dates, pd.Series) else ref_dates
    if not pd.api.types.is_datetime64_any_dtype(refs):
        refs = parse_dates(refs)["value"]
    years = refs.dt.year.to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(years), today, years)


def parse_ages(series: pd.Series, ref_dates: Any = None,
               point_tol: float | None = None) -> pd.DataFrame:
    """Vectorized :func:`parse_age` with birth years added.

    ``ref_dates``: None (today), one date, or a Series/array of dates or date texts aligned with
    ``series`` (blank → today). ``point_tol`` as in :func:`parse_age`. Columns: ``low``,
    ``high``, ``kind``, ``birth_year_low``, ``birth_year_high`` (floats, NaN when unknown).

    >>> frame = parse_ages(pd.Series(["60多岁", "80后"]), ref_dates="2023-11-05")
    >>> frame[["low", "high", "birth_year_low"]].values.tolist()
    [[61.0, 69.0, 1953.0], [33.0, 43.0, 1980.0]]
    """
    codes, uniques = _factorize(series)
    nan_core = (math.nan, math.nan, None, None, None, math.nan)
    cores = [c if (t := _as_text(v)) is not None and (c := _parse_age_text(t)) is not None
             else nan_core for v in uniques] + [nan_core]  # code -1 (blank) → the last entry
    per_unique = np.array([(c[0], c[1], np.nan if c[3] is None else c[3],
                            np.nan if c[4] is None else c[4], c[5]) for c in cores],
                          dtype=float).reshape(len(cores), 5)
    low, high, by_low, by_high, stated = per_unique[codes].T
    kind = np.array([c[2] for c in cores], dtype=object)[codes]
    if point_tol is not None:
        is_point = kind == "point"
        low = np.where(is_point, np.maximum(stated - point_tol, 0.0), low)
        high = np.where(is_point, stated + point_tol, high)
    years = _ref_years(ref_dates, series.index)
    from_birth = ~np.isnan(by_low)
    low = np.where(from_birth, np.maximum(years - by_high - 1, 0), low)
    high = np.where(from_birth, np.maximum(years - by_low, 0), high)
    has_age = ~np.isnan(low)
    by_low = np.where(from_birth, by_low, np.where(has_age, years - np.floor(high) - 1, np.nan))
    by_high = np.where(from_birth, by_high, np.where(has_age, years - np.floor(low), np.nan))
    return pd.DataFrame(
        {"low": low, "high": high, "kind": kind, "birth_year_low": by_low,
         "birth_year_high": by_high},
        index=series.index,
    )


# --- heights ----------------------------------------------------------------------------------

_CHI_CM = 100 / 3  # 1 市尺 = 1/3 m
_H_APPROX = re.compile(r"约|左右|上下|许|估|大概|大约|差不多|前后")
_H_NOISE = re.compile(r"[(\[][^)\]]*[)\]]|身高|约|左右|上下|许|估计|估|大概|大约|差不多|前后|[:,.;、]$")
_H_MORE = re.compile(r"多|几|余|\+")  # 一米六几, 160多厘米: somewhere in the next ten cm
_H_UNIT = r"(米|m|cm|厘米|公分|mm|毫米)?"
_H_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)" + _H_UNIT + "$")
_H_RANGE = re.compile(r"^(\d+(?:\.\d+)?)" + _H_UNIT + r"[-~〜至到—–]+(\d+(?:\.\d+)?)" + _H_UNIT + "$")
_H_METRE_CN = re.compile(r"^(\d)(?:米|m)(\d{1,2})(?:厘米|公分|cm)?$|^(\d)米$")
_H_CHI = re.compile(r"^(\d+)尺(?:(\d)寸?)?$")


def _to_cm(number: str, unit: str | None) -> tuple[float, float]:
    """A number and unit as (cm, tol). Without a unit, small numbers are metres (1.72)."""
    value = float(number)
    decimals = len(number.split(".")[1]) if "." in number else 0
    if unit in ("米", "m") or (unit is None and value < 3):
        return value * 100, (5.0 if decimals <= 1 else 1.0)
    if unit in ("mm", "毫米"):
        return value / 10, 1.0
    return value, 1.0


@functools.lru_cache(maxsize=65536)
def _parse_height_text(text: str) -> Height | None:
    s = _clean(text)
    if not s or s in UNKNOWN_MARKERS or len(s) > _MAX_LEN:
        return None
    approx = bool(_H_APPROX.search(s))
    s = _cn_numerals_to_arabic(_H_NOISE.sub("", s))
    more = bool(_H_MORE.search(s))
    s = _H_MORE.sub("", s)
    cm = tol = None
    if m := _H_RANGE.match(s):
        unit_a, unit_b = m[2] or m[4], m[4] or m[2]
        a, _ = _to_cm(m[1], unit_a)
        b, _ = _to_cm(m[3], unit_b)
        a, b = sorted((a, b))
        cm, tol = (a + b) / 2, max((b - a) / 2, 1.0)
    elif m := _H_METRE_CN.match(s):  # 1米72 / 1米7 (decimetres only) / 1米
        metres, rest = int(m[1] or m[3]), m[2] or ""
        cm = metres * 100 + (int(rest) * 10 if len(rest) == 1 else int(rest or 0))
        tol = 1.0 if len(rest) == 2 else 5.0
    elif m := _H_CHI.match(s):
        chi = int(m[1]) + (int(m[2]) / 10 if m[2] else 0)
        cm, tol = chi * _CHI_CM, 5.0
    elif m := _H_NUMBER.match(s):
        cm, tol = _to_cm(m[1], m[2])
    if cm is None:
        return None
    if more:  # 一米七多 / 170多: somewhere in the next ten centimetres
        cm, tol = cm + 5, max(tol, 5.0)
    if approx:
        tol = max(tol, 5.0)
    return Height(round(float(cm), 1), float(tol))


def parse_height(value: Any) -> Height | None:
    """Parse a height into centimetres with a ± tolerance.

    Measured values (``172cm``, ``1.72米``, ``一米七二``) get tol 1; ``约``/``左右`` and
    decimetre-only values (``一米七``, ``1米7``, ``1.7m``) tol 5; a range ``165-170`` its half
    width; old units ``五尺`` (1 尺 = 33.3 cm) tol 5. Words without a number (``很高``) → None.

    >>> parse_height("1.72米")
    Height(cm=172.0, tol_cm=1.0)
    >>> parse_height("165-170")
    Height(cm=167.5, tol_cm=2.5)
    >>> parse_height("约170")
    Height(cm=170.0, tol_cm=5.0)
    """
    text = _as_text(value)
    return None if text is None else _parse_height_text(text)


def parse_heights(series: pd.Series) -> pd.DataFrame:
    """Vectorized :func:`parse_height`: a frame with ``cm`` and ``tol_cm`` (NaN when unknown).

    >>> parse_heights(pd.Series(["172cm", "很高"])).values.tolist()
    [[172.0, 1.0], [nan, nan]]
    """
    codes, uniques = _factorize(series)
    parsed = [parse_height(v) for v in uniques]
    cm = _take([p.cm if p else np.nan for p in parsed], codes, np.nan, dtype=float)
    tol = _take([p.tol_cm if p else np.nan for p in parsed], codes, np.nan, dtype=float)
    return pd.DataFrame({"cm": cm, "tol_cm": tol}, index=series.index)


# --- sex --------------------------------------------------------------------------------------

_SEX = {
    "男": "M", "男性": "M", "男的": "M", "男子": "M", "男孩": "M", "男童": "M", "男士": "M",
    "男人": "M", "m": "M", "male": "M", "man": "M", "boy": "M", "1": "M", "♂": "M",
    "女": "F", "女性": "F", "女的": "F", "女子": "F", "女孩": "F", "女童": "F", "女士": "F",
    "女人": "F", "f": "F", "female": "F", "woman": "F", "girl": "F", "2": "F", "♀": "F",
}
# GB/T 2261.1 codes 0 (unknown) and 9 (unspecified) are honest "don't know", not errors.
_SEX_UNKNOWN = UNKNOWN_MARKERS | {"0", "9", "u", "未知性别", "性别不详"}


_SEX_NOISE = re.compile(r"[(\[][^)\]]*[)\]]|疑似|性别[:]?")


@functools.lru_cache(maxsize=4096)
def _parse_sex_text(text: str) -> str | None:
    cleaned = _clean(text)
    return _SEX.get(cleaned) or _SEX.get(_SEX_NOISE.sub("", cleaned))


def parse_sex(value: Any) -> str | None:
    """``'M'``, ``'F'`` or ``None`` from 男 女 male female M F 1 2 男性 女性; 未知 → None.

    >>> [parse_sex(v) for v in ["男", "Female", "2", "未知"]]
    ['M', 'F', 'F', None]
    """
    text = _as_text(value)
    return None if text is None else _parse_sex_text(text)


def _sex_is_unknown(value: Any) -> bool:
    text = _as_text(value)
    return text is None or _clean(text) in _SEX_UNKNOWN


def parse_sexes(series: pd.Series) -> pd.Series:
    """Vectorized :func:`parse_sex` (object Series of 'M'/'F'/None)."""
    codes, uniques = _factorize(series)
    parsed = [parse_sex(v) for v in uniques]
    return pd.Series(_take(parsed, codes, None), index=series.index, dtype=object)
