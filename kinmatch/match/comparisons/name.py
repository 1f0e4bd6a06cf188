"""Name: the same characters, the same sound, a dialect-merged sound, one character off, a shared
小名 or partial name — or different. A station-assigned name (党X) or a placeholder is no evidence.

The level tests run on each record's name forms (:class:`NameForms`: the normalized name, its
pinyin, sound keys, Jyutping, aliases and their keys, given-name and surname keys, the kind of
name), cleaned once per distinct record value. Two shortcuts decide most pairs without the tests:
a record without a usable name gives -1, and two records whose names share no character and no
syllable give 0, since every test above 0 needs one in common.

Besides the level, the comparison gives the model ``tf_name``: how common the evidence is among the
reports (a shared 王伟 sound is weaker evidence than a shared 龚炅 one; a shared 小名 二娃 weaker than
铁蛋儿), read from :func:`key_frequency`.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.match.comparisons.base import (
    MISSING,
    Comparison,
    distinct_rows,
    object_array,
    object_values,
    once_per_distinct,
)
from kinmatch.match.engine import with_columns

NAME_COLUMNS = ("name_evidence", "name_norm", "name_pinyin", "name_keys", "name_jyutping", "alias_norm",
                "alias_keys", "given_keys", "surname_keys", "name_kind")
"""The normalized columns the name level reads, in :class:`NameForms` order."""

PARTIAL_KINDS = frozenset({"given_only", "partial", "nickname", "surname_only"})
"""Kinds of name (``name_kind``) that are only part of a name: they are never "one character off"
a full name, and may meet another name on its given name or surname alone."""

PARTIAL_KEY = "partial:"
"""Prefix of the frequency-table entries for level-1 keys (小名, given name, surname), kept apart
from the full-name sound keys so a 小名 二娃 does not change what a full name 二娃 weighs."""

HOW_SHOWN = {"alias": " 小名", "given": " 名字", "surname": " 同姓"}
"""What a level-1 match met on, written after the two forms shown: ``(二娃/二娃 小名)``."""

_EMPTY: frozenset = frozenset()


class NameForms(NamedTuple):
    """One record's name as the level tests read it (blank strings are ``""``, key sets frozensets)."""

    evidence: bool
    name: str
    pinyin: str
    keys: frozenset
    jyutping: str
    aliases: frozenset
    alias_keys: frozenset
    given_keys: frozenset
    surname_keys: frozenset
    kind: str


def _text(value: Any) -> str:
    return value if value.__class__ is str else ""


def _keys(value: Any) -> frozenset:
    return frozenset(value) if value else _EMPTY


def _evidence(value: Any) -> bool:
    return value is None or bool(value)  # a record that does not say is taken as evidence


_CLEAN = (_evidence, _text, _text, _keys, _text, _keys, _keys, _keys, _keys, _text)
"""How each of :data:`NAME_COLUMNS` becomes a :class:`NameForms` field."""


def name_forms(record: Mapping) -> NameForms:
    """:class:`NameForms` of one normalized record (a dict or Series; an absent column is blank).

        >>> name_forms({"name_norm": "李伟", "name_keys": ("li wei",)}).keys
        frozenset({'li wei'})
    """
    return NameForms(*(clean(record.get(column)) for column, clean in zip(NAME_COLUMNS, _CLEAN)))


# -------------------------------------------------------------------------------------------------
# the level tests, on two records' NameForms


def _one_char_off(a: str, b: str, pinyin_a: str, pinyin_b: str) -> bool:
    """Same length, exactly one position that differs in both character and sound."""
    if len(a) != len(b) or len(a) < 2:
        return False
    syl_a, syl_b = pinyin_a.split(), pinyin_b.split()
    same_sound = len(syl_a) == len(a) and len(syl_b) == len(b)
    differing = 0
    for i, (ca, cb) in enumerate(zip(a, b)):
        if ca == cb or (same_sound and syl_a[i] == syl_b[i]):
            continue
        differing += 1
    return differing == 1


def _last_syllable_meets(single: frozenset, given: frozenset) -> bool:
    """A one-syllable key of ``single`` is the last syllable of a key of ``given`` (阿英 for 秀英)."""
    syllables = {k for k in single if " " not in k}
    return bool(syllables) and any(k.rsplit(" ", 1)[-1] in syllables for k in given)


def _prefixed_surname(name: str) -> bool:
    """老薛, 小黄, 阿陈: a familiar prefix and one character, which is usually a surname."""
    return len(name) == 2 and name[0] in "老小阿"


def forms_level(a: NameForms, b: NameForms) -> int:
    """The name level of two records' :class:`NameForms` (symmetric), tests in order of strength.

        >>> li_wei = name_forms({"name_norm": "李伟", "name_pinyin": "li wei", "name_keys": ("li wei",)})
        >>> li_wei2 = name_forms({"name_norm": "李玮", "name_pinyin": "li wei", "name_keys": ("li wei",)})
        >>> NameComparison.labels[forms_level(li_wei, li_wei2)]
        '姓名同音'
    """
    ev_a, name_a, pinyin_a, keys_a, jyut_a, alias_a, alias_keys_a, given_a, surname_a, kind_a = a
    ev_b, name_b, pinyin_b, keys_b, jyut_b, alias_b, alias_keys_b, given_b, surname_b, kind_b = b
    if not ev_a or not ev_b:
        return MISSING
    if not (name_a or alias_a) or not (name_b or alias_b):
        return MISSING
    if name_a and name_b:
        if name_a == name_b:
            return 6
        if pinyin_a and pinyin_a == pinyin_b:
            return 5
        if not keys_a.isdisjoint(keys_b):
            return 4
        if jyut_a and jyut_a == jyut_b:
            return 3
        if (kind_a not in PARTIAL_KINDS and kind_b not in PARTIAL_KINDS
                and _one_char_off(name_a, name_b, pinyin_a, pinyin_b)):
            return 2
    # partial names and 小名: any alias against any name or alias, or given name alone
    if alias_a and (name_b in alias_a or not alias_a.isdisjoint(alias_b)):
        return 1
    if alias_b and name_a in alias_b:
        return 1
    if alias_keys_a and not (alias_keys_a.isdisjoint(keys_b) and alias_keys_a.isdisjoint(alias_keys_b)
                             and alias_keys_a.isdisjoint(given_b)):
        return 1
    if alias_keys_b and not (alias_keys_b.isdisjoint(keys_a) and alias_keys_b.isdisjoint(given_a)):
        return 1
    # one side gave only the given name (明廷 for 陈明廷)
    if not keys_a.isdisjoint(given_b) or not keys_b.isdisjoint(given_a):
        return 1
    if kind_a in PARTIAL_KINDS or kind_b in PARTIAL_KINDS:
        if not given_a.isdisjoint(given_b):
            return 1
        # 阿英 / 小英 for 秀英: one syllable against the last syllable of the other's given name
        if kind_a in PARTIAL_KINDS and _last_syllable_meets(given_a, given_b):
            return 1
        if kind_b in PARTIAL_KINDS and _last_syllable_meets(given_b, given_a):
            return 1
        if "surname_only" in (kind_a, kind_b) and not surname_a.isdisjoint(surname_b):
            return 1
        # 老薛 / 小黄: the syllable after 老 or 小 is usually the surname (薛宇宏, 黄芳)
        if kind_a in PARTIAL_KINDS and _prefixed_surname(name_a) and not given_a.isdisjoint(surname_b):
            return 1
        if kind_b in PARTIAL_KINDS and _prefixed_surname(name_b) and not given_b.isdisjoint(surname_a):
            return 1
    return 0


class PartialMatch(NamedTuple):
    """What met at name level 1: the form shown for each side, how they met, and the sound keys
    that met (whose frequency among reports is the pair's ``tf_name``)."""

    left: str
    right: str
    how: str  # "alias" (小名/别名), "given" (given name alone), "surname" (老薛 for 薛宇宏)
    keys: frozenset


def _alias_shown(aliases: frozenset, name: str) -> str:
    """The alias to show: the one spelled like ``name`` if any, else all of them (the keys are
    pooled over a record's aliases, so a sound match cannot say which alias it was)."""
    if name and name in aliases:
        return name
    return "、".join(sorted(aliases)) or name or "?"


def forms_partial_match(a: NameForms, b: NameForms) -> PartialMatch | None:
    """What met when :func:`forms_level` is 1, else None: the level-1 tests in the same order, so
    the form shown is the one that decided the level."""
    if forms_level(a, b) != 1:
        return None
    return _met_at_level_1(a, b)


def _met_at_level_1(a: NameForms, b: NameForms) -> PartialMatch | None:
    """:func:`forms_partial_match` of two forms whose :func:`forms_level` is 1."""
    _, name_a, _, keys_a, _, alias_a, alias_keys_a, given_a, surname_a, kind_a = a
    _, name_b, _, keys_b, _, alias_b, alias_keys_b, given_b, surname_b, kind_b = b
    a_forms = keys_a | alias_keys_a | given_a
    b_forms = keys_b | alias_keys_b | given_b
    shared_alias = alias_a & alias_b if alias_a and alias_b else _EMPTY
    if alias_a and (name_b in alias_a or shared_alias):
        shown = name_b if name_b in alias_a else min(shared_alias)
        return PartialMatch(shown, shown, "alias", (alias_keys_a & b_forms) or (a_forms & b_forms))
    if alias_b and name_a in alias_b:
        return PartialMatch(name_a, name_a, "alias", (alias_keys_b & a_forms) or (a_forms & b_forms))
    if alias_keys_a:
        for other, shown in ((keys_b, name_b), (alias_keys_b, None), (given_b, name_b)):
            if not alias_keys_a.isdisjoint(other):
                right = shown if shown else _alias_shown(alias_b, "")
                return PartialMatch(_alias_shown(alias_a, ""), right, "alias", alias_keys_a & other)
    if alias_keys_b:
        for other in (keys_a, given_a):
            if not alias_keys_b.isdisjoint(other):
                return PartialMatch(name_a, _alias_shown(alias_b, ""), "alias", alias_keys_b & other)
    if not keys_a.isdisjoint(given_b):
        return PartialMatch(name_a, name_b, "given", keys_a & given_b)
    if not keys_b.isdisjoint(given_a):
        return PartialMatch(name_a, name_b, "given", keys_b & given_a)
    if kind_a in PARTIAL_KINDS or kind_b in PARTIAL_KINDS:
        if not given_a.isdisjoint(given_b):
            return PartialMatch(name_a, name_b, "given", given_a & given_b)
        for single, whole, applies in ((given_a, given_b, kind_a in PARTIAL_KINDS),
                                       (given_b, given_a, kind_b in PARTIAL_KINDS)):
            if applies and _last_syllable_meets(single, whole):
                syllables = {k for k in single if " " not in k}
                met = frozenset(k.rsplit(" ", 1)[-1] for k in whole) & syllables
                return PartialMatch(name_a, name_b, "given", met)
        if "surname_only" in (kind_a, kind_b) and not surname_a.isdisjoint(surname_b):
            return PartialMatch(name_a, name_b, "surname", surname_a & surname_b)
        if kind_a in PARTIAL_KINDS and _prefixed_surname(name_a) and not given_a.isdisjoint(surname_b):
            return PartialMatch(name_a, name_b, "surname", given_a & surname_b)
        if kind_b in PARTIAL_KINDS and _prefixed_surname(name_b) and not given_b.isdisjoint(surname_a):
            return PartialMatch(name_a, name_b, "surname", given_b & surname_a)
    return None


def partial_match(resident: Mapping, report: Mapping) -> PartialMatch | None:
    """What met when the name level of two normalized records is 1 (partial name or 小名), else
    None — so an explanation shows 二娃/二娃 rather than the two full names, and ``tf_name`` prices
    the key that met.

        >>> erwa = {"alias_norm": ("二娃",), "alias_keys": ("er wa",)}
        >>> r = {"name_norm": "周俊翰", "name_keys": ("zhou jun han",), **erwa}
        >>> m = {"name_norm": "吴雷", "name_keys": ("wu lei",), **erwa}
        >>> partial_match(r, m)[:3]
        ('二娃', '二娃', 'alias')
    """
    return forms_partial_match(name_forms(resident), name_forms(report))


# -------------------------------------------------------------------------------------------------
# each side encoded once: forms per distinct name, the blank mask, the tokens, the display columns


class NameSide(NamedTuple):
    """One side's names: ``code`` (per record, equal where the name values are equal), ``forms``
    (the :class:`NameForms` of each code), ``blank`` (per record: no usable name, -1 whatever the
    other side holds), and per record the columns an explanation shows (``name_norm``, the raw
    ``name``, ``alias_norm``). ``fields``: per :class:`NameForms` field, its cleaned distinct
    values and each form's number among them (a value may appear twice: two raw values clean
    alike)."""

    code: np.ndarray
    forms: list
    blank: np.ndarray
    name_norm: np.ndarray
    name: np.ndarray
    alias_norm: np.ndarray
    fields: tuple = ()


def _encode_side(frame: pd.DataFrame) -> NameSide:
    """:class:`NameSide` of a normalized frame holding :data:`NAME_COLUMNS` and ``name``. Each
    column's distinct values are cleaned once (records share kinds, keys and aliases), then each
    distinct combination becomes one :class:`NameForms`."""
    n = len(frame)
    cleaned_columns, column_codes = [], []
    for column, clean in zip(NAME_COLUMNS, _CLEAN):
        codes, distinct = pd.factorize(object_values(frame[column]), use_na_sentinel=False)
        cleaned_columns.append(object_array([clean(v) for v in distinct]))
        column_codes.append(codes)
    code, first = distinct_rows(*column_codes) if n else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    fields = tuple((cleaned, codes[first]) for cleaned, codes in zip(cleaned_columns, column_codes))
    forms = list(map(NameForms._make, zip(*(cleaned[codes] for cleaned, codes in fields)))) if n else []
    blank = np.array([not f.evidence or not (f.name or f.aliases) for f in forms], dtype=bool)
    return NameSide(code, forms, blank[code] if n else np.zeros(0, bool), object_values(frame["name_norm"]),
                    object_values(frame["name"]), object_values(frame["alias_norm"]), fields)


def _side_frequency(side: NameSide) -> dict[str, float]:
    """:func:`key_frequency` from an encoded report side: the keys of each distinct name value
    counted once, weighted by the number of reports holding that value."""
    counts = np.bincount(side.code, minlength=len(side.forms))
    n = max(len(side.code), 1)

    columns = list(zip(*side.forms)) if side.forms else [()] * len(NameForms._fields)

    def shares(*fields: str) -> tuple[list, list]:
        # every (form, key) of the fields once, the forms' counts summed per key
        key_sets = [columns[NameForms._fields.index(field)] for field in fields]
        sizes = np.concatenate([np.fromiter(map(len, sets), dtype=np.int64, count=len(sets)) for sets in key_sets])
        codes, keys = pd.factorize(object_array(list(chain.from_iterable(chain.from_iterable(key_sets)))))
        form = np.repeat(np.tile(np.arange(len(side.forms)), len(fields)), sizes)
        held = pd.unique(form * max(len(keys), 1) + codes)  # a key in two fields of a form counts once
        summed = np.bincount(held % max(len(keys), 1), weights=counts[held // max(len(keys), 1)],
                             minlength=len(keys)).astype(np.int64)
        return list(keys), (summed / n).tolist()

    full_keys, full_shares = shares("keys")
    partial_keys, partial_shares = shares("keys", "alias_keys", "given_keys", "surname_keys")
    frequency = dict(zip(full_keys, full_shares))
    frequency.update(zip([PARTIAL_KEY + key for key in partial_keys], partial_shares))
    return frequency


def key_frequency(missing: pd.DataFrame) -> dict[str, float]:
    """The rarity table of ``tf_name``: the share of reports whose ``name_keys`` contain each key,
    and (under ``PARTIAL_KEY + key``) the share of reports that carry the key in any form a level-1
    name match reads — name, 小名, given name or surname — i.e. how often a random report meets a
    小名 二娃 at all. Of the key columns (``name_keys``, ``alias_keys``, ``given_keys``,
    ``surname_keys``), those the frame lacks count as empty.

        >>> reports = pd.DataFrame({"name_keys": [("wu lei",), ("li wei",)], "alias_keys": [("er wa",), ()]})
        >>> frequency = key_frequency(reports)
        >>> frequency["li wei"], frequency[PARTIAL_KEY + "er wa"]
        (0.5, 0.5)
    """
    return _side_frequency(_encode_side(with_columns(missing, (*NAME_COLUMNS, "name"))))


def _name_tokens(forms: NameForms) -> set:
    """Every character and syllable a record's name forms are made of. Each test of
    :func:`forms_level` that can give a level above 0 needs the two records to share one of these
    (a character of equal names, a syllable of equal sound keys, an alias, a given name…), so
    records with disjoint token sets are ``姓名不同`` without running those tests."""
    own = set(forms.name)
    for alias in forms.aliases:
        own.update(alias)
    own.update(forms.pinyin.split())
    own.update("j:" + s for s in forms.jyutping.split())
    for group in (forms.keys, forms.alias_keys, forms.given_keys, forms.surname_keys):
        for key in group:
            own.update(key.split())
    return own


def _syllables(keys: frozenset) -> list[str]:
    return " ".join(keys).split()


_TOKEN_FIELDS = {
    "name": list,  # its characters
    "aliases": lambda aliases: list("".join(aliases)),
    "pinyin": str.split,
    "jyutping": lambda jyutping: ("j:" + jyutping.replace(" ", " j:")).split() if jyutping else [],
    "keys": _syllables,
    "alias_keys": _syllables,
    "given_keys": _syllables,
    "surname_keys": _syllables,
}
"""The :class:`NameForms` fields :func:`_name_tokens` reads, each with the tokens of one value (the
tokens of a value may repeat: they are bits of a signature)."""

SIGNATURE_BITS = 512
"""Bits of a name's token signature (:func:`_form_signatures`): token ``k`` of the shared
vocabulary sets bit ``k mod SIGNATURE_BITS``. More bits tell more pairs of names apart but make each
test longer (figures in ``bench/RESULTS.md``)."""


def _form_signatures(left: NameSide, right: NameSide) -> tuple[np.ndarray, np.ndarray]:
    """Each form's token signature, ``(forms, SIGNATURE_BITS // 64)`` uint64: the bits of the tokens
    of :func:`_name_tokens`, numbered over one vocabulary of both sides. Forms that share a token
    share a bit, so forms whose signatures share no bit share no token (the converse need not
    hold: tokens share bits). Made from each field's distinct values (:attr:`NameSide.fields`): the
    forms of a side repeat the same keys, aliases and given names, so each distinct value is split
    once and a form's signature is the OR of its fields' values'."""
    sides = (left, right)
    words = SIGNATURE_BITS // 64
    parts = []  # (side, field codes, tokens per distinct value)
    flat: list = []
    for field, tokens_of in _TOKEN_FIELDS.items():
        at = NameForms._fields.index(field)
        for side in (0, 1):
            distinct, codes = sides[side].fields[at]
            tokens = [tokens_of(value) for value in distinct]
            parts.append((side, codes, tokens))
            flat.extend(chain.from_iterable(tokens))
    bits = (pd.factorize(object_array(flat))[0] % SIGNATURE_BITS) if flat else np.zeros(0, dtype=np.int64)
    out = [np.zeros((len(side.forms), words), dtype=np.uint64) for side in sides]
    start = 0
    for side, codes, tokens in parts:
        sizes = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        stop = start + int(sizes.sum())
        value_bits = bits[start:stop]
        start = stop
        values = np.zeros((len(tokens), words), dtype=np.uint64)
        np.bitwise_or.at(values, (np.repeat(np.arange(len(tokens)), sizes), value_bits // 64),
                         np.left_shift(np.uint64(1), (value_bits % 64).astype(np.uint64)))
        if len(codes):
            out[side] |= values[codes]
    return out[0], out[1]


def _may_share_a_token(left: np.ndarray, right: np.ndarray, left_rows: np.ndarray,
                       right_rows: np.ndarray) -> np.ndarray:
    """For each pair of rows, whether their signatures (:func:`_form_signatures`) share a bit:
    False means the two names share no token."""
    out = np.zeros(len(left_rows), dtype=bool)
    for word in range(left.shape[1]):
        out |= (left[left_rows, word] & right[right_rows, word]) != 0
    return out


def display_name(name_norm: Any, name: Any, aliases: tuple) -> str:
    """The name an explanation shows for a record: the normalized name, else the name as written,
    else its first alias, else ``?``."""
    for value in (name_norm, name):
        if value is not None and value == value and value:  # value == value: not NaN
            return str(value)
    return aliases[0] if aliases else "?"


class NameEncoding(NamedTuple):
    """Both sides' names (:class:`NameSide`), their token signatures (:func:`_form_signatures`,
    rows = name codes) and the rarity table ``tf_name`` reads."""

    left: NameSide
    right: NameSide
    left_signature: np.ndarray
    right_signature: np.ndarray
    frequency: Mapping[str, float]


# -------------------------------------------------------------------------------------------------
# the comparison


class NameComparison(Comparison):
    """Name agreement: same characters / same pinyin / dialect-merged sound / Cantonese /
    one character off / partial or 小名 / different; -1 if either name is blank or assigned.
    Symmetric: the sides can be swapped. Not ordered: a shared 小名 (1) can be stronger evidence
    than a name one character off (2), so the model fits each level freely.

    ``frequency``: the rarity table of ``tf_name`` (:func:`key_frequency`); None: computed from
    the reports being compared.

        >>> comparison = NameComparison()
        >>> residents = pd.DataFrame({"name_norm": ["李伟"], "name_pinyin": ["li wei"], "name_keys": [("li wei",)]})
        >>> missing = pd.DataFrame({"name_norm": ["李玮", "王芳"], "name_pinyin": ["li wei", "wang fang"],
        ...                         "name_keys": [("li wei",), ("wang fang",)]})
        >>> from kinmatch.match.engine import with_columns
        >>> encoded = comparison.encode(with_columns(residents, comparison.left_columns),
        ...                             with_columns(missing, comparison.right_columns))
        >>> lp, rp = np.array([0, 0]), np.array([0, 1])
        >>> levels = comparison.levels(encoded, lp, rp)
        >>> levels.tolist(), comparison.reasons(encoded, lp, rp, levels).tolist()
        ([5, 0], ['姓名同音(李伟/李玮)', '姓名不同(李伟/王芳)'])
        >>> comparison.extra(encoded, lp, rp, levels)["tf_name"].tolist()
        [0.5, nan]
    """

    name = "name"
    title = "姓名"
    labels = {-1: "无可用姓名", 0: "姓名不同", 1: "部分姓名或小名相符", 2: "姓名一字之差",
              3: "粤语读音相同", 4: "方言音近", 5: "姓名同音", 6: "姓名相同"}
    ordered = False
    agree_from = 4
    left_columns = right_columns = (*NAME_COLUMNS, "name")
    fields = (("姓名", "name", "name"), ("别名/小名", "alias", "alias"))

    def __init__(self, frequency: Mapping[str, float] | None = None):
        self.frequency = frequency

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> NameEncoding:
        left, right = _encode_side(residents), _encode_side(missing)
        left_signature, right_signature = _form_signatures(left, right)
        frequency = self.frequency if self.frequency is not None else _side_frequency(right)
        return NameEncoding(left, right, left_signature, right_signature, frequency)

    def levels(self, encoded: NameEncoding, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        left, right = encoded.left, encoded.right
        out = np.full(len(lp), MISSING, dtype=np.int8)
        todo = np.flatnonzero(~(left.blank[lp] | right.blank[rp]))
        if len(todo) == 0:
            return out
        # names made of no common character or syllable differ: no need to run the tests
        share = _may_share_a_token(encoded.left_signature, encoded.right_signature, left.code[lp[todo]],
                                   right.code[rp[todo]])
        out[todo[~share]] = 0
        todo = todo[share]
        if len(todo):
            def compute(a, b):
                lf, rf = left.forms, right.forms
                return np.fromiter((forms_level(lf[i], rf[j]) for i, j in zip(left.code[a], right.code[b])),
                                   dtype=np.int8, count=len(a))

            out[todo] = once_per_distinct(left.code, right.code, lp[todo], rp[todo], compute)
        return out

    def extra(self, encoded: NameEncoding, lp: np.ndarray, rp: np.ndarray,
              levels: np.ndarray) -> dict[str, np.ndarray]:
        """``tf_name``: for levels 4–6 (a shared sound key) the share of reports with the rarest
        shared full-name key; for level 1 (partial name or 小名) the share of reports carrying the
        rarest key that met in any level-1 form (:class:`PartialMatch`); else NaN (then the level's
        own u applies: below 4 no full-name key is shared, and at -1 the name is no evidence)."""
        left, right, frequency = encoded.left, encoded.right, encoded.frequency
        tf = np.full(len(lp), np.nan)

        def sound(a, b):
            out = np.full(len(a), np.nan)
            for k, (i, j) in enumerate(zip(left.code[a], right.code[b])):
                shared = left.forms[i].keys & right.forms[j].keys
                if shared:
                    out[k] = min(frequency.get(key, 0.0) for key in shared)
            return out

        def partial(a, b):
            out = np.full(len(a), np.nan)
            for k, (i, j) in enumerate(zip(left.code[a], right.code[b])):
                met = _met_at_level_1(left.forms[i], right.forms[j])  # the pairs at level 1
                shares = [] if met is None else [frequency[PARTIAL_KEY + key] for key in met.keys
                                                 if PARTIAL_KEY + key in frequency]
                if shares:
                    out[k] = min(shares)
            return out

        for rows, compute in ((np.flatnonzero(levels >= 4), sound), (np.flatnonzero(levels == 1), partial)):
            if len(rows):
                tf[rows] = once_per_distinct(left.code, right.code, lp[rows], rp[rows], compute)
        return {"tf_name": tf}

    def reasons(self, encoded: NameEncoding, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Level 1 shows what met (二娃/二娃 小名, 老薛/薛宇宏 同姓); the other levels from 0 show the
        two names (:func:`display_name`), -1 the label alone."""
        left, right = encoded.left, encoded.right
        levels = np.asarray(levels, dtype=np.int64)
        out = self.label_array(levels)
        shown = np.flatnonzero(levels >= 0)
        if len(shown) == 0:
            return out
        texts = [None] * len(shown)
        partial = np.flatnonzero(levels[shown] == 1)
        if len(partial):
            label = self.labels[1]

            def compute(a, b):
                met = (forms_partial_match(left.forms[i], right.forms[j]) for i, j in zip(left.code[a], right.code[b]))
                return object_array([None if m is None else f"{label}({m.left}/{m.right}{HOW_SHOWN[m.how]})"
                                     for m in met])

            for k, text in zip(partial.tolist(), once_per_distinct(left.code, right.code, lp[shown[partial]],
                                                                  rp[shown[partial]], compute).tolist()):
                texts[k] = text
        rest = [k for k, text in enumerate(texts) if text is None]
        if rest:
            rows = shown[rest]
            names = zip(out[rows].tolist(), _display_names(left, lp[rows]), _display_names(right, rp[rows]))
            for k, (label, a, b) in zip(rest, names):
                texts[k] = f"{label}({a}/{b})"
        out[shown] = object_array(texts)
        return out


def _display_names(side: NameSide, positions: np.ndarray) -> list[str]:
    """:func:`display_name` of the record at each position, each distinct record once."""
    records, inverse = np.unique(positions, return_inverse=True)
    names = [display_name(side.name_norm[i], side.name[i], side.alias_norm[i]) for i in records.tolist()]
    return object_array(names)[inverse].tolist()
