"""The conservative filter every piece of free text passes before it reaches a public notice.

A public notice is built from structured fields (:mod:`kinmatch.notices.context`); free text
(features, clothing, accent, the found place, the name) is shown only where this filter finds
nothing it is unsure of. The filter does not try to *repair* text: a clause that might carry
something private is left out whole, and the reason is reported (never the value).

Everything is decided on the **canonical form** of the text (:func:`canonical`), so the way a
number or a word is written does not matter:

- Unicode NFKC (full-width ``１３８`` and ``ＨＩＶ``, circled ``①``, superscripts → ASCII);
- traditional characters → simplified (OpenCC), so ``愛滋`` is ``爱滋``;
- every decimal digit of any script (Arabic-Indic, Devanagari …) → ``0-9``; Chinese numerals
  (``〇一二三…``, ``零``, ``幺`` and ``两`` as said on the phone) and financial numerals
  (``壹贰叁肆伍陆柒捌玖``, traditional forms too) → ``0-9``;
- zero-width and other invisible characters, spaces of every kind, punctuation and symbols are
  removed, so separators (``，`` ``、`` ``_`` ``~`` ``-`` NBSP …) collapse; letters are lowercased.

What the filter looks for in that form (:func:`findings`):

==================  =========================================================================
reason code         what is caught
==================  =========================================================================
``long_number``     7 or more digits in a run, where digit groups joined by up to
                    ``MAX_GAP`` (2) other characters count as one run: ``138加1234加5678``,
                    ``壹叁捌、壹贰叁肆…``, ``1 3 8 …``. Phone, ID, bank-card and QQ numbers are
                    all that long; ages, heights and house numbers are not.
``diagnosis``       a word of :data:`DIAGNOSES` (a curated lexicon with abbreviations and
                    variants: AIDS, HIV, 艾滋病/爱滋病, 梅毒, 淋病, TP阳性, 乙肝, 精分,
                    精神病, 精神分裂 …) or an ICD-10 code of a sensitive chapter.
``contact``         a word that introduces a contact (电话, 手机, 微信, QQ, 身份证, 邮箱,
                    ``@`` …): the rest of the clause is a number or a handle.
``street_address``  only for a possible minor: a street-level address unit (路 街 巷 号 弄 栋
                    幢 单元 室 小区 胡同 村 组 …, road, street, lane), with or without a name or
                    a number. A minor's notice says where at county level, never where exactly.
==================  =========================================================================

    >>> canonical("电话：壹叁捌 1234\\u200b5678，ＨＩＶ")
    '电话13812345678hiv'
    >>> findings("家属138加1234加5678")
    ['long_number']
    >>> filter_free_text("左脸有痣，H I V阳性，蓝色上衣")
    ('左脸有痣，蓝色上衣', ['diagnosis'])
    >>> filter_free_text("在金水区文化路88号门口被发现", minor=True)
    ('', ['street_address'])
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

MAX_GAP = 2
"""Digit groups separated by at most this many other characters (after canonicalisation) are
read as one number: enough for ``138加1234加5678`` and ``138再加1234``; two numbers with a
real word between them (``身高170厘米体重60``) stay apart."""

MIN_PRIVATE_DIGITS = 7
"""A run of this many digits or more is private: the shortest local landline has 7."""

# Chinese, financial and spoken numerals (simplified and traditional). 十/百/千 are not digits:
# a phone number is read digit by digit.
_NUMERALS = {
    **dict.fromkeys("〇○零洞", "0"), **dict.fromkeys("一壹弌幺", "1"), **dict.fromkeys("二贰貳弍两兩", "2"),
    **dict.fromkeys("三叁參叄弎", "3"), **dict.fromkeys("四肆", "4"), **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆陸", "6"), **dict.fromkeys("七柒", "7"), **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}
_NUMERAL_TABLE = str.maketrans(_NUMERALS)

DIAGNOSES = (
    # HIV / AIDS and sexually transmitted infections
    "艾滋", "爱滋", "aids", "hiv", "hiv阳性", "人类免疫缺陷", "免疫缺陷病毒", "梅毒", "tp阳性", "rpr阳性",
    "淋病", "淋球菌", "性病", "尖锐湿疣", "生殖器疱疹", "衣原体", "aizibing", "meidu",
    # hepatitis, tuberculosis
    "乙肝", "乙型肝炎", "丙肝", "丙型肝炎", "肝炎", "大三阳", "小三阳", "hbsag", "hbv", "hcv",
    "结核", "痨病",
    # mental illness (the plain word 疑似精神障碍 comes from the structured health field only)
    "精神病", "精神疾病", "精神分裂", "精分", "分裂症", "双相", "躁郁", "躁狂", "抑郁症", "焦虑症",
    "强迫症", "人格障碍", "妄想症", "偏执", "癔症", "癫痫", "羊癫疯", "羊角风", "疯病", "神经病",
    "自闭症", "孤独症", "多动症", "阿尔茨海默", "帕金森", "唐氏", "脑瘫",
    # other diagnoses and medical records
    "糖尿病", "高血压", "冠心病", "心脏病", "癌", "肿瘤", "白血病", "麻风", "吸毒", "戒毒", "毒瘾",
    "诊断", "确诊", "病历", "病史", "住院号", "病案号", "服药",
)
"""Words (in canonical form: simplified, lowercase, no spaces) that never appear on a public
notice. Families need plain words (疑似精神障碍, 智力障碍); diagnoses are health data under PIPL."""

# ICD-10 codes of sensitive chapters: F (mental), A50-A64 (STIs), B15-B24 (hepatitis, HIV),
# G30/G40 (Alzheimer, epilepsy), C (cancer); in canonical form, where "F20.0" is "f200".
_ICD = re.compile(r"(?<![a-z])(?:f\d{2}|a[56]\d|b1[5-9]|b2[0-4]|g[34]0|c\d{2})")
_PLUS_POSITIVE = re.compile(r"(?:tp|hiv|rpr|hbsag)[+＋]")

CONTACT_WORDS = (
    "电话", "手机", "座机", "号码", "联系方式", "联系人", "微信", "威信", "薇信", "vx", "wx", "wechat",
    "weixin", "qq", "扣扣", "邮箱", "email", "mail", "tel", "phone", "身份证", "证件号", "银行卡",
    "卡号", "支付宝", "抖音", "快手",
)

STREET_UNITS = ("路", "街", "巷", "号", "弄", "栋", "幢", "单元", "室", "小区", "胡同", "大道", "村",
                "组", "屯", "社区", "公寓", "大厦", "门牌", "楼", "院")
_STREET_LATIN = re.compile(r"road|street|avenue|lane|alley|\d+rd|\d+st(?![a-z])|no\d")
# Everyday words with a street unit in them that say nothing about an address.
_STREET_BENIGN = re.compile(r"走路|路过|一路|迷路|号码|型号|尺码|大号|小号|中号|码号|楼梯")

_CLAUSE = re.compile(r"[^，,。；;！!？?\n]*[，,。；;！!？?\n]*")


@functools.lru_cache(maxsize=1)
def _to_simplified():
    try:
        import opencc  # well-kept traditional→simplified tables; a hand-written map would drift

        return opencc.OpenCC("t2s").convert
    except Exception:  # pragma: no cover - opencc is a dependency; keep working without it
        return lambda text: text


def _canonical_char(ch: str) -> str:
    if ch in _NUMERALS:
        return _NUMERALS[ch]
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    category = unicodedata.category(ch)
    if category[0] in "LM" or category == "Nd":
        return ch.lower()
    return ""  # separators, punctuation, symbols, invisible (Cf) characters and spaces


class _CharTable(dict):
    """``str.translate`` table filled on first sight of each character (a notice batch sees a
    few thousand distinct ones; the per-character rules then cost a dict lookup)."""

    def __missing__(self, code: int) -> str:
        self[code] = value = _canonical_char(chr(code))
        return value


_CANONICAL_CHARS = _CharTable()


def canonical(text: str | None) -> str:
    """The form the filter reads: NFKC, simplified, digits of every numeral system as 0-9,
    letters lowercased, everything else (spaces, zero-width, punctuation, symbols) removed.

    >>> canonical("①③⑧ 一二三四 伍陆柒捌"), canonical("梅 毒"), canonical("H\\u200bI\\u00a0V")
    ('13812345678', '梅毒', 'hiv')
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", str(text))
    # Numerals first: simplifying would turn the financial 參 (3) into 参, which is no numeral.
    folded = _to_simplified()(folded.translate(_NUMERAL_TABLE))
    # NFKC turns some symbols into several characters ("⒈" → "1."): map per character after it.
    return folded.translate(_CANONICAL_CHARS)


_RUN = re.compile(rf"\d+(?:\D{{0,{MAX_GAP}}}\d+)*")


def long_numbers(canon: str, allowed: Iterable[str] = ()) -> list[str]:
    """The digit runs of canonical text that are private (``MIN_PRIVATE_DIGITS`` or more digits,
    not exactly one of the ``allowed`` digit strings such as the station's phone).

    >>> long_numbers("身高170体重60"), long_numbers("138加1234加5678")
    ([], ['13812345678'])
    """
    # An allowed number becomes a one-letter word: it neither counts nor glues its neighbours
    # into one run ("张三 0371…" is not one number), yet digits on both sides of it still join.
    for number in sorted({a for a in allowed if a}, key=len, reverse=True):
        canon = canon.replace(number, "某")
    found = []
    for match in _RUN.finditer(canon):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= MIN_PRIVATE_DIGITS:
            found.append(digits)
    return found


def _has_street(canon: str) -> bool:
    canon = _STREET_BENIGN.sub("", canon)
    return any(unit in canon for unit in STREET_UNITS) or bool(_STREET_LATIN.search(canon))


def findings(text: str | None, *, minor: bool = False, allowed_numbers: Iterable[str] = (),
             contacts: bool = True) -> list[str]:
    """Reason codes (see the module docstring) of what ``text`` might carry; [] when clean.

    ``contacts=False`` skips the contact words (for a rendered notice, whose template says 电话
    for the station's phone).

    >>> findings("左脸有痣"), findings("儿子微信 abc"), findings("TP+"), findings("住人民街", minor=True)
    ([], ['contact'], ['diagnosis'], ['street_address'])
    """
    if not text:
        return []
    canon = canonical(text)
    reasons = []
    if long_numbers(canon, allowed_numbers):
        reasons.append("long_number")
    spaced = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()
    if (any(word in canon for word in DIAGNOSES) or _ICD.search(canon)
            or _PLUS_POSITIVE.search(spaced)):
        reasons.append("diagnosis")
    if contacts and (any(word in canon for word in CONTACT_WORDS) or "@" in spaced):
        reasons.append("contact")
    if minor and _has_street(canon):
        reasons.append("street_address")
    return reasons


def filter_free_text(text: str | None, *, minor: bool = False, allowed_numbers: Iterable[str] = (),
                     contacts: bool = True) -> tuple[str, list[str]]:
    """``(the clauses of text the filter is sure of, reason codes of the clauses left out)``.

    Clauses (split at ，。；！？ and line breaks) are kept in order while the text kept *so far,
    as a whole* has no :func:`findings`: a number split over several clauses (``138，1234，5678``)
    is caught when the clauses come together, and the result never contains what the filter
    would flag. ``contacts`` as in :func:`findings`.

    >>> filter_free_text("身份证一一〇一〇一一九九〇〇三〇七一二三四，右手缺小指")
    ('右手缺小指', ['long_number', 'contact'])
    >>> filter_free_text("138，1234，5678")
    ('138', ['long_number', 'long_number'])
    """
    if not text:
        return "", []
    text = re.sub(r"\s+", " ", str(text)).strip()
    kept, reasons = "", []
    for clause in _CLAUSE.findall(text):
        if not clause:
            continue
        found = findings(kept + clause, minor=minor, allowed_numbers=allowed_numbers, contacts=contacts)
        if found:
            # Only what this clause adds is its reason (the kept text was clean already).
            reasons.extend(found)
        else:
            kept += clause
    return kept.strip().rstrip("，,；;、 "), reasons
