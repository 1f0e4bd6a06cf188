"""Privacy rules for public notices (寻亲公告), enforced twice.

The free text of a notice is screened by :mod:`kinmatch.notices.screen` (canonical form, clauses
left out whole); the rules here prepare the fields (plain health words, county-level places for
minors) and check the rendered text once more. :func:`redact_text` is also what PFIF export uses.

1. **On the way in** (:func:`redact_text`, :func:`plain_health_words`, :func:`coarse_place`): the
   values handed to a template are already safe. What each rule does, per field:

   ==================  =========================================================================
   field               rule
   ==================  =========================================================================
   every text field    ID numbers (15/18 digits, 身份证), phone numbers other than the station's,
                       e-mail addresses and WeChat/QQ handles are **redacted** to ``[已隐去]``;
                       detailed diagnoses (精神分裂症, 乙肝, ICD codes …) are **redacted** too.
   health              **reduced** to a fixed list of plain words (疑似精神障碍, 智力障碍, 聋哑,
                       老年痴呆 …); anything not on the list is dropped.
   found_place         for a possible minor (lowest age estimate < 18, or no age and nothing
                       that clearly says adult) **cut** to province / city / county.
   free text           for a possible minor, address clauses (家住/家在/住在/老家在/住址：…)
                       **cut** to province / city / county (:func:`cut_address_clauses`).
   name, photo         a reunited (已返乡) person's notice is rendered from the *withdrawn*
                       template, whose context has no name, no photo and no description.
   station phone       must look like a phone number; an ID-shaped "phone" is dropped.
   ==================  =========================================================================

2. **On the way out** (:func:`check_public_text`): the rendered text itself is scanned, so a
   staff-edited template that hard-codes or reconstructs a private value cannot leak it. A
   violation **raises** :class:`PrivacyError` (the batch turns that into a skipped notice with
   the reason; nothing is written).

What counts as a private number: after Unicode NFKC (full-width digits become ASCII) and folding
runs of 7+ Chinese-numeral digits (一三八… , 幺 and 两 included) to ASCII, digits joined
by spaces (not line breaks), hyphens, dots, slashes or brackets are read as one number. A number of 9 or more digits
(mobile, landline with area code, ID number, bank card) or of 7–8 digits (a local landline) is
private unless it is the station's own phone. Exceptions: an 8-digit ``YYYYMMDD`` date, and a 7–8
digit run touching a Latin letter or ``_`` (a record code such as ``ZZ2024-0031``).
Shorter numbers (ages, heights, house numbers) are fine.

    >>> redact_text("右臂有疤，家属电话13812345678")
    '右臂有疤，家属电话[已隐去]'
    >>> plain_health_words("精神分裂症（F20.0），智力低下，聋哑")
    ['疑似精神障碍', '智力障碍', '聋哑']
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from typing import Iterable

from kinmatch.errors import KinmatchError

REDACTED = "[已隐去]"


class PrivacyError(KinmatchError):
    """A public notice would publish something private (ID number, family phone, diagnosis …)."""


# Digits joined by separators people type inside phone and ID numbers. Separators are single
# characters so that "身高170 60岁" (two numbers with a word between) stays two numbers.
_SEP = r"[ \t\u3000\-‐‑–—.·/()（）]"
_NUMBER = re.compile(rf"[(（+]?\d(?:{_SEP}{{0,2}}\d)*[Xx]?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_HANDLE = re.compile(r"(?:微信号?|[Vv][Xx]|[Ww][Xx]|[Qq]{2}号?|QQ)\s*[:：]?\s*[A-Za-z0-9_\-]{5,}")

# Detailed diagnoses that identification does not need. Plain words (see _PLAIN_HEALTH) are what
# families recognise; the clinical terms below are health data under PIPL and stay off notices.
DIAGNOSIS_TERMS = (
    "精神分裂", "分裂症", "双相", "躁郁", "躁狂", "抑郁症", "焦虑症", "强迫症", "人格障碍",
    "妄想症", "癫痫", "艾滋", "HIV", "梅毒", "乙肝", "丙肝", "肝炎", "结核", "性病", "糖尿病",
    "高血压", "冠心病", "癌", "肿瘤", "阿尔茨海默", "帕金森", "唐氏", "脑瘫", "自闭症", "孤独症",
    "诊断", "病历", "住院号", "病案号",
)
_ICD = re.compile(r"(?<![A-Za-z])[FGfg]\d{2}(?:\.\d{1,2})?(?!\d)")
_DIAGNOSIS = re.compile("|".join(re.escape(t) for t in DIAGNOSIS_TERMS), re.IGNORECASE)

# Health text -> plain words, by keyword. Order is the order words are shown in.
_PLAIN_HEALTH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("疑似精神障碍", ("精神", "分裂", "双相", "躁", "抑郁", "妄想", "幻听", "幻觉", "胡言乱语", "言语错乱")),
    ("智力障碍", ("智力", "智障", "弱智", "低智", "唐氏", "反应迟钝")),
    ("老年痴呆", ("老年痴呆", "阿尔茨海默", "失智", "认知障碍", "记忆力差", "记忆力减退", "健忘")),
    ("聋哑", ("聋哑",)),
    ("听力障碍", ("聋", "听力", "耳背")),
    ("不能说话", ("哑", "不会说话", "不能说话", "失语")),
    ("表达不清", ("口齿不清", "表达不清", "说话不清", "语言不清", "吐字不清")),
    ("视力障碍", ("失明", "盲", "视力")),
    ("肢体残疾", ("肢体", "残疾", "瘸", "跛", "截肢", "偏瘫", "瘫痪", "轮椅", "拄拐")),
)
_HEALTHY = ("正常", "良好", "健康", "无异常")


def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 1 and folded.isascii() and (folded.isalnum() or folded in "@.-_+"):
        return folded
    return ch


# Digits written as Chinese numerals ("一三八一二三四五六七八", 幺 = 1 and 两 = 2 as said on the
# phone, 〇/○ = 0). Only runs of 7 or more digits (mixed with ASCII digits and phone separators
# allowed) are folded: a phone or ID number is that long, while dates (二〇二三年), ages and
# ordinals (老二) are shorter and stay as written.
_CN_DIGITS = {**{ch: str(i) for i, ch in enumerate("〇一二三四五六七八九")},
              "零": "0", "○": "0", "幺": "1", "两": "2"}
_DIGIT_CLASS = "[0-9" + "".join(_CN_DIGITS) + "]"
_CN_RUN = re.compile(rf"{_DIGIT_CLASS}(?:{_SEP}{{0,2}}{_DIGIT_CLASS})*")
MIN_NUMERAL_RUN = 7


def _fold_numeral_run(match: re.Match) -> str:
    run = match.group(0)
    digits = sum(1 for ch in run if ch.isascii() and ch.isdigit() or ch in _CN_DIGITS)
    if digits < MIN_NUMERAL_RUN or not any(ch in _CN_DIGITS for ch in run):
        return run
    return "".join(_CN_DIGITS.get(ch, ch) for ch in run)


def fold_chinese_digits(text: str) -> str:
    """Runs of 7+ digits written as Chinese numerals, folded to ASCII digits.

    >>> fold_chinese_digits("家属电话 一三八一二三四五六七八，排行老二，二〇二三年")
    '家属电话 13812345678，排行老二，二〇二三年'
    """
    if text.isascii():
        return text
    return _CN_RUN.sub(_fold_numeral_run, text)


def _nfkc(text: str) -> str:
    """Full-width and other look-alike digits and letters folded to ASCII (１３８ → 138, ① → 1),
    and long runs of Chinese-numeral digits too (一三八… → 138…, see :func:`fold_chinese_digits`).

    Character by character, so Chinese punctuation (，（）) is kept as written.
    """
    if text.isascii():
        return text
    return fold_chinese_digits("".join(_fold_char(ch) for ch in text))


def digits_of(text: str) -> str:
    """Only the digits of ``text`` (after NFKC): how phone numbers are compared.

    >>> digits_of("０５７１-8888 1234")
    '057188881234'
    """
    return "".join(ch for ch in _nfkc(text) if ch.isdigit())


def _is_date_digits(digits: str) -> bool:
    if len(digits) != 8 or digits[:2] not in ("19", "20"):
        return False
    try:
        _dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return True


def is_private_number(digits: str, allowed: Iterable[str] = (), in_code: bool = False) -> bool:
    """Whether a run of digits is shaped like an ID number or a phone not in ``allowed``.

    ``in_code``: the digits touch a Latin letter or ``_`` (``ZZ2024-0031``, ``IMG_20240105``):
    a 7–8 digit run there is a record code, not a local phone number.

    >>> is_private_number("110101199003071234")
    True
    >>> is_private_number("20231105"), is_private_number("170"), is_private_number("20240031", in_code=True)
    (False, False, False)
    """
    if len(digits) < 7 or _is_date_digits(digits) or (in_code and len(digits) <= 8):
        return False
    if len(digits) in (15, 17, 18):  # ID numbers are never allowed, even as a "station phone"
        return True
    return digits not in set(allowed)


def _in_code(text: str, match: re.Match) -> bool:
    before = text[match.start() - 1] if match.start() > 0 else ""
    after = text[match.end()] if match.end() < len(text) else ""
    return any(ch.isascii() and (ch.isalpha() or ch == "_") for ch in (before, after) if ch)


def looks_like_phone(text: str | None) -> bool:
    """Whether ``text`` can be published as the station's phone (7–12 digits, not an ID).

    >>> looks_like_phone("0571-88881234"), looks_like_phone("110101199003071234")
    (True, False)
    """
    if not text:
        return False
    digits = digits_of(text)
    return 7 <= len(digits) <= 12 and len(_NUMBER.findall(_nfkc(text))) <= 3


def redact_text(text: str | None, allowed_numbers: Iterable[str] = ()) -> str:
    """``text`` with private numbers, e-mails, chat handles and diagnoses replaced by ``[已隐去]``.

    ``allowed_numbers`` are digit strings that may stay (the station's phone).

    >>> redact_text("身份证110101199003071234，站内电话0571-88881234", ["057188881234"])
    '身份证[已隐去]，站内电话0571-88881234'
    """
    if text is None:
        return ""
    allowed = set(allowed_numbers)
    # Full-width digits and letters are folded first so that "１３８…" cannot slip through.
    text = _nfkc(str(text))
    text = _EMAIL.sub(REDACTED, text)
    text = _HANDLE.sub(REDACTED, text)

    def _number(match: re.Match) -> str:
        digits = digits_of(match.group(0))
        if is_private_number(digits, allowed, _in_code(text, match)):
            return REDACTED
        return match.group(0)

    # Until nothing changes: a redaction changes what the next number touches
    # ("…567X0000000": once the ID is gone, 0000000 no longer touches a letter).
    previous = None
    while previous != text:
        previous, text = text, _NUMBER.sub(_number, text)
    text = _ICD.sub(REDACTED, text)
    text = _DIAGNOSIS.sub(REDACTED, text)
    # Two redactions side by side read as one.
    while REDACTED + REDACTED in text:
        text = text.replace(REDACTED + REDACTED, REDACTED)
    return text


def plain_health_words(text: str | None) -> list[str]:
    """Health / intellect / mental state reduced to plain words a family understands.

    Detailed diagnoses are deliberately lost: the notice needs only what helps recognise the
    person.

    >>> plain_health_words("老年痴呆，右腿跛行")
    ['老年痴呆', '肢体残疾']
    >>> plain_health_words("身体健康")
    ['身体状况良好']
    >>> plain_health_words("乙肝携带")
    []
    """
    if not text:
        return []
    text = _nfkc(str(text))
    words: list[str] = []
    for word, keys in _PLAIN_HEALTH:
        if any(key in text for key in keys):
            words.append(word)
    # 聋哑 already says both; 老年痴呆 is the plain word for 痴呆 in the elderly, so drop the
    # overlapping milder words.
    if "聋哑" in words:
        words = [w for w in words if w not in ("听力障碍", "不能说话")]
    if "老年痴呆" in words and "智力障碍" in words and not any(
        k in text for k in ("智力", "智障", "弱智", "低智", "唐氏")
    ):
        words.remove("智力障碍")
    if not words and any(word in text for word in _HEALTHY):
        words.append("身体状况良好")
    return words


# Address units from coarse to fine. Everything after the county-level unit is detail a minor's
# notice must not show (street, village, building, "附近").
_PROVINCE = r"(?:[^省市区县]{2,8}?(?:省|自治区|特别行政区))"
_PREFECTURE = r"(?:[^省市区县盟]{1,10}?(?:市|自治州|州(?![市区县])|地区|盟))"
_COUNTY = r"(?:[^省市区县旗]{1,10}?(?:县|区|市|旗))"
_COARSE = re.compile(rf"^(?:{_PROVINCE})?(?:{_PREFECTURE})?(?:{_COUNTY})?")
_DETAIL_WORDS = ("镇", "乡", "村", "街道", "街", "路", "巷", "号", "弄", "站", "场", "园", "桥",
                 "小区", "社区", "附近", "门口", "旁", "楼", "院", "店", "大道", "广场", "码头")


def coarse_place(text: str | None) -> str:
    """Only the province / city / county part of an address (for minors' notices).

    Hand-written rather than the gazetteer lookup because it must work on any text, including
    places the gazetteer does not know, and must never return more than it was given.

    >>> coarse_place("四川省成都市武侯区人民南路四段12号附近")
    '四川省成都市武侯区'
    >>> coarse_place("浙江杭州市西湖区文三路")
    '浙江杭州市西湖区'
    >>> coarse_place("郑州火车站广场")
    '郑州'
    >>> coarse_place("火车站")
    ''
    """
    if not text:
        return ""
    text = _nfkc(str(text)).strip()
    match = _COARSE.match(text)
    coarse = match.group(0) if match else ""
    if coarse and not any(word in coarse for word in _DETAIL_WORDS):
        return coarse
    # No administrative unit written: keep a leading city name only if it is followed by a
    # detail word ("郑州火车站" -> 郑州市), else publish nothing.
    city = re.match(r"^([\u4e00-\u9fff]{2,3}?)(?:火车站|汽车站|高铁站|东站|西站|南站|北站)", text)
    if city:
        return city.group(1) + "市"
    return ""


# Words that introduce a home address in free text. Longest first, so that 家住在 is one cue.
_ADDRESS_CUES = ("家庭住址", "家庭地址", "户籍地址", "户口所在地", "户籍地", "户口在", "住址", "地址",
                 "老家在", "老家是", "老家", "家住在", "家住", "家在", "住在", "来自")
_ADDRESS_CLAUSE = re.compile(
    "(" + "|".join(_ADDRESS_CUES) + r")([:：]?\s*)([^，,。；;！!？?\s、]+)")


def cut_address_clauses(text: str | None) -> tuple[str, list[str]]:
    """``(text with every stated address cut to county level, the exact addresses removed)``.

    Used on a possible minor's public free text: the clause after 家住/家在/住在/老家/住址 keeps
    only its province / city / county part (:func:`coarse_place`); an address with no such part
    is replaced by ``[已隐去]``.

    >>> cut_address_clauses("自述家住河南省周口市太康县王庄村12号，爸爸叫王建国")
    ('自述家住河南省周口市太康县，爸爸叫王建国', ['河南省周口市太康县王庄村12号'])
    >>> cut_address_clauses("说老家在王庄村")
    ('说老家在[已隐去]', ['王庄村'])
    """
    if not text:
        return "", []
    removed: list[str] = []

    def _cut(match: re.Match) -> str:
        place = match.group(3)
        if place.startswith(REDACTED):
            return match.group(0)
        coarse = coarse_place(place)
        if coarse == place:
            return match.group(0)
        removed.append(place)
        return match.group(1) + match.group(2) + (coarse or REDACTED)

    return _ADDRESS_CLAUSE.sub(_cut, str(text)), removed


def check_public_text(text: str, *, station_phones: Iterable[str] = (),
                      forbidden: Iterable[str] = (), what: str = "notice") -> str:
    """Raise :class:`PrivacyError` if rendered public ``text`` contains anything private.

    ``station_phones`` are the phone numbers that may appear; ``forbidden`` are values that must
    not appear at all (a withdrawn notice's name and photo, a minor's exact address).
    Returns ``text`` unchanged when it is clean.

    >>> check_public_text("联系电话：0571-88881234", station_phones=["0571-88881234"])
    '联系电话：0571-88881234'
    >>> check_public_text("家属电话13812345678")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    kinmatch.notices.privacy.PrivacyError: the rendered notice contains a phone or ID number (11 digits) ...
    """
    allowed = {digits_of(p) for p in station_phones if p}
    folded = _nfkc(text)
    # What was found is named by kind and length, never quoted: the message goes to logs and
    # to skipped.csv, which are not meant to hold the private value either.
    problems: list[str] = []
    for match in _NUMBER.finditer(folded):
        digits = digits_of(match.group(0))
        if is_private_number(digits, allowed, _in_code(folded, match)):
            problems.append(f"a phone or ID number ({len(digits)} digits)")
    for _match in _EMAIL.finditer(folded):
        problems.append("an e-mail address")
    for _match in _HANDLE.finditer(folded):
        problems.append("a chat handle")
    for _match in list(_DIAGNOSIS.finditer(folded)) + list(_ICD.finditer(folded)):
        problems.append("a detailed diagnosis")
    for value in forbidden:
        if value and _nfkc(value) in folded:
            problems.append("a value this notice must not show (a minor's exact address or a "
                            "reunited person's name or photo)")
    if problems:
        raise PrivacyError(
            f"the rendered {what} contains {problems[0]} (and {len(problems) - 1} more problem(s)); "
            "public notices must not carry ID numbers, family contacts, phones other than the "
            "station's, detailed diagnoses, a minor's exact address or a reunited person's "
            "identity. Fix the template or the record; the notice was not written."
        )
    return text
