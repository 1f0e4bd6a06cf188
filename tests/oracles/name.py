"""The name comparison one pair at a time: the plain functions the batch code was checked against
before comparisons became declared objects (moved here unchanged from ``kinmatch/match/comparisons.py``
and ``explain.py``), so :class:`kinmatch.match.comparisons.name.NameComparison` can be held to them.

``name_level`` (level), ``partial_match`` (what met at level 1), ``reason`` (the explanation without
the weight), ``name_key_frequency`` (the rarity table) and ``tf_name`` (the pair's ``tf_name``) take
two normalized records as dicts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

MISSING = -1
LABELS = {-1: "无可用姓名", 0: "姓名不同", 1: "部分姓名或小名相符", 2: "姓名一字之差",
          3: "粤语读音相同", 4: "方言音近", 5: "姓名同音", 6: "姓名相同"}


def _is_blank(value: Any) -> bool:
    cls = value.__class__
    if cls is str or cls is tuple:
        return len(value) == 0
    if value is None:
        return True
    if cls is bool or cls is np.bool_:  # name_evidence: one per record, pd.isna is slow on it
        return False
    if cls is float:
        return value != value
    if isinstance(value, (str, tuple, list, set, frozenset)):
        return len(value) == 0
    return bool(pd.isna(value)) if np.isscalar(value) else False


def _tuple(value: Any) -> tuple:
    if value.__class__ is tuple:
        for v in value:
            if v.__class__ is not str or not v:
                break
        else:  # already clean: the common case, no copy
            return value
    if _is_blank(value):
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if not _is_blank(v))


def _str(value: Any) -> str:
    if value.__class__ is str:
        return value
    return "" if _is_blank(value) else str(value)


def _truthy(value: Any, default: bool = True) -> bool:
    if _is_blank(value):
        return default
    return bool(value)


def _get(record: Mapping, key: str, default: Any = None) -> Any:
    try:
        value = record[key]
    except (KeyError, IndexError):
        return default
    return value



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


_PARTIAL_KINDS = frozenset({"given_only", "partial", "nickname", "surname_only"})
_EMPTY: frozenset = frozenset()


def _as_set(value: Any) -> frozenset:
    """Hashable set of the non-blank strings of a tuple cell (fast when already a frozenset)."""
    if value.__class__ is frozenset:
        return value
    return frozenset(_tuple(value))


def _as_str(value: Any) -> str:
    return value if value.__class__ is str else _str(value)


def _last_syllable_meets(single: frozenset, given: frozenset) -> bool:
    syllables = {k for k in single if " " not in k}
    return bool(syllables) and any(k.rsplit(" ", 1)[-1] in syllables for k in given)


def _name_core(ev_a, name_a, pinyin_a, keys_a, jyut_a, alias_a, alias_keys_a, given_a, surname_a, kind_a,
               ev_b, name_b, pinyin_b, keys_b, jyut_b, alias_b, alias_keys_b, given_b, surname_b, kind_b) -> int:
    """The name level from cleaned values (str / frozenset); see :func:`name_level`."""
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
        if (kind_a not in _PARTIAL_KINDS and kind_b not in _PARTIAL_KINDS
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
    if kind_a in _PARTIAL_KINDS or kind_b in _PARTIAL_KINDS:
        if not given_a.isdisjoint(given_b):
            return 1
        # 阿英 / 小英 for 秀英: one syllable against the last syllable of the other's given name
        if kind_a in _PARTIAL_KINDS and _last_syllable_meets(given_a, given_b):
            return 1
        if kind_b in _PARTIAL_KINDS and _last_syllable_meets(given_b, given_a):
            return 1
        if "surname_only" in (kind_a, kind_b) and not surname_a.isdisjoint(surname_b):
            return 1
        # 老薛 / 小黄: the syllable after 老 or 小 is usually the surname (薛宇宏, 黄芳)
        if kind_a in _PARTIAL_KINDS and _prefixed_surname(name_a) and not given_a.isdisjoint(surname_b):
            return 1
        if kind_b in _PARTIAL_KINDS and _prefixed_surname(name_b) and not given_b.isdisjoint(surname_a):
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


def _partial_core(ev_a, name_a, pinyin_a, keys_a, jyut_a, alias_a, alias_keys_a, given_a, surname_a, kind_a,
                  ev_b, name_b, pinyin_b, keys_b, jyut_b, alias_b, alias_keys_b, given_b, surname_b, kind_b,
                  ) -> PartialMatch | None:
    """The level-1 branch of :func:`_name_core` that fired, or None; same order of tests, so the
    form shown is the one that decided the level."""
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
    if kind_a in _PARTIAL_KINDS or kind_b in _PARTIAL_KINDS:
        if not given_a.isdisjoint(given_b):
            return PartialMatch(name_a, name_b, "given", given_a & given_b)
        for single, whole, applies in ((given_a, given_b, kind_a in _PARTIAL_KINDS),
                                       (given_b, given_a, kind_b in _PARTIAL_KINDS)):
            if applies and _last_syllable_meets(single, whole):
                syllables = {k for k in single if " " not in k}
                met = frozenset(k.rsplit(" ", 1)[-1] for k in whole) & syllables
                return PartialMatch(name_a, name_b, "given", met)
        if "surname_only" in (kind_a, kind_b) and not surname_a.isdisjoint(surname_b):
            return PartialMatch(name_a, name_b, "surname", surname_a & surname_b)
        if kind_a in _PARTIAL_KINDS and _prefixed_surname(name_a) and not given_a.isdisjoint(surname_b):
            return PartialMatch(name_a, name_b, "surname", given_a & surname_b)
        if kind_b in _PARTIAL_KINDS and _prefixed_surname(name_b) and not given_b.isdisjoint(surname_a):
            return PartialMatch(name_a, name_b, "surname", given_b & surname_a)
    return None


def partial_match(resident: Mapping, report: Mapping) -> PartialMatch | None:
    """What met when the name level is 1 (partial name or 小名), else None — so an explanation
    can show 二娃/二娃 rather than the two full names, and the tf weight can price the shared key.
    """
    return partial_match_cleaned(clean_name_values(resident), clean_name_values(report))


def clean_name_values(record: Mapping) -> list:
    """A record's :data:`NAME_COLUMNS` values cleaned as the name comparison reads them."""
    return [clean(_get(record, c)) for c, clean in zip(NAME_COLUMNS, _NAME_CLEAN)]


def partial_match_cleaned(a: list, b: list) -> PartialMatch | None:
    """:func:`partial_match` on values :func:`clean_name_values` returned (clean each record
    once when explaining many pairs)."""
    if _name_core(*a, *b) != 1:
        return None
    return _partial_core(*a, *b)


def _prefixed_surname(name: str) -> bool:
    """老薛, 小黄, 阿陈: a familiar prefix and one character, which is usually a surname."""
    return isinstance(name, str) and len(name) == 2 and name[0] in "老小阿"


NAME_COLUMNS = ["name_evidence", "name_norm", "name_pinyin", "name_keys", "name_jyutping", "alias_norm",
                "alias_keys", "given_keys", "surname_keys", "name_kind"]
_NAME_CLEAN = [None, _as_str, _as_str, _as_set, _as_str, _as_set, _as_set, _as_set, _as_set, _as_str]


def _evidence(value: Any) -> bool:
    return _truthy(value, True)


_NAME_CLEAN[0] = _evidence


def name_level(resident: Mapping, report: Mapping) -> int:
    """Level of the name comparison for one pair (see ``LEVEL_LABELS['name']``)."""
    a = [clean(_get(resident, c)) for c, clean in zip(NAME_COLUMNS, _NAME_CLEAN)]
    b = [clean(_get(report, c)) for c, clean in zip(NAME_COLUMNS, _NAME_CLEAN)]
    return _name_core(*a, *b)


PARTIAL_KEY = "partial:"
"""Prefix of the frequency-table entries for level-1 keys (小名, given name, surname), kept apart
from the full-name sound keys so a 小名 二娃 does not change what a full name 二娃 weighs."""

PARTIAL_FORM_COLUMNS = ("name_keys", "alias_keys", "given_keys", "surname_keys")
"""The report columns whose keys a level-1 (partial or 小名) name match reads."""


def name_key_frequency(missing: pd.DataFrame) -> dict[str, float]:
    """Share of reports whose ``name_keys`` contain each key, and (under ``PARTIAL_KEY + key``)
    share of reports that carry the key in any form a level-1 name match reads — name, 小名,
    given name or surname — i.e. how often a random report meets a 小名 二娃 at all.

        >>> reports = pd.DataFrame({"name_keys": [("wu lei",), ("li wei",)], "alias_keys": [("er wa",), ()]})
        >>> freq = name_key_frequency(reports)
        >>> freq["li wei"], freq[PARTIAL_KEY + "er wa"]
        (0.5, 0.5)
    """
    columns = ["name_keys"] + [c for c in PARTIAL_FORM_COLUMNS[1:] if c in missing.columns]
    return key_frequency([[_as_set(v) for v in missing[c].to_numpy(dtype=object)] for c in columns])


def key_frequency(key_sets: list) -> dict[str, float]:
    """:func:`name_key_frequency` from the reports' key sets (frozensets), one sequence per column
    of ``name_keys``, ``alias_keys``, ``given_keys``, ``surname_keys`` (the first is ``name_keys``;
    absent columns may be left out). :func:`kinmatch.link` passes the sets it has cleaned already."""
    # collections.Counter over the chained key sets counts in C; explode + value_counts built
    # a 100k-row object Series first
    n = max(len(key_sets[0]), 1)
    frequency = {key: count / n for key, count in Counter(chain.from_iterable(key_sets[0])).items()}
    forms = (frozenset().union(*row) for row in zip(*key_sets))
    frequency.update({PARTIAL_KEY + k: count / n for k, count in Counter(chain.from_iterable(forms)).items()})
    return frequency


def partial_tf(left: list, right: list, frequency: Mapping[str, float]) -> float:
    """``tf_name`` of one level-1 pair (precleaned name columns): the share of reports carrying
    the rarest key that met, in any level-1 form; NaN when no key met or none is in the table
    (then the level's own u applies)."""
    met = _partial_core(*left, *right)
    if met is None:
        return float("nan")
    shares = [frequency[PARTIAL_KEY + k] for k in met.keys if PARTIAL_KEY + k in frequency]
    return min(shares) if shares else float("nan")


def name_tf(keys_a, keys_b, frequency: Mapping[str, float]) -> np.ndarray:
    """For pairs whose names meet on a sound key: the share of reports with the rarest shared key
    (a 王伟 sound match is weaker evidence than a 龚炅 one); NaN where no key is shared."""
    out = np.full(len(keys_a), np.nan)
    for i, (a, b) in enumerate(zip(keys_a, keys_b)):
        if not isinstance(a, (set, frozenset)):
            a = set(_tuple(a))
        if not a:  # a nameless resident (a third of them) shares nothing: skip the other side
            continue
        shared = a & (b if isinstance(b, (set, frozenset)) else set(_tuple(b)))
        if shared:
            out[i] = min(frequency.get(k, 0.0) for k in shared)
    return out



def tf_name(level: int, resident: Mapping, report: Mapping, frequency: Mapping[str, float]) -> float:
    """The pair's ``tf_name`` as ``batch._compare_chunk`` gave it: the rarest shared full-name key's
    share at levels 4-6, the rarest met key's share at level 1, else NaN."""
    if level >= 4:
        return float(name_tf([resident.get("name_keys")], [report.get("name_keys")], frequency)[0])
    if level == 1:
        return partial_tf(clean_name_values(resident), clean_name_values(report), frequency)
    return float("nan")


# ---------------------------------------------------------------------------------------------
# the explanation (explain.py)

_HOW = {"alias": " 小名", "given": " 名字", "surname": " 同姓"}


def _get_value(record: Mapping, key: str) -> Any:
    try:
        value = record[key]
    except (KeyError, IndexError):
        return None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _display_name(record: Mapping) -> str:
    name = _get_value(record, "name_norm") or _get_value(record, "name")
    if name:
        return str(name)
    aliases = _tuple(_get_value(record, "alias_norm"))
    return aliases[0] if aliases else "?"


def reason(level: int, resident: Mapping, report: Mapping) -> str:
    """Readable reason for the name comparison of one pair (without the weight)."""
    label = LABELS.get(int(level), "name")
    if level == 1:
        # show what met (二娃/二娃, 老薛/薛宇宏 同姓), not the two full names, so a reviewer can check it
        met = partial_match(resident, report)
        if met is not None:
            return f"{label}({met.left}/{met.right}{_HOW[met.how]})"
    if level >= 0:
        return f"{label}({_display_name(resident)}/{_display_name(report)})"
    return label
