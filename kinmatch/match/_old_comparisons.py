"""Comparisons: turn a (resident, missing report) pair into integer agreement levels.

Each comparison is a small class that overrides ``_compute_vectorized`` (``NameComparison``,
``SexComparison`` ...), and each has a :class:`recordlinkage.base.BaseCompareFeature` subclass of
the same logic that works inside any :class:`recordlinkage.Compare` (``CompareName``,
``CompareSex`` ...; :func:`to_recordlinkage` turns one into the other). Levels run
``0 .. L-1`` with higher = stronger agreement; ``-1`` means missing / no evidence and must get zero
weight in the model (a station-assigned name such as 党X is never evidence). Every comparison also
has a plain function for one pair (``compare_name(resident, report)`` with two dicts / Series),
and a table of Chinese labels used in explanations (``LEVEL_LABELS``).

    >>> r = {"name_norm": "李伟", "name_pinyin": "li wei", "name_keys": ("li wei",), "name_evidence": True}
    >>> m = {"name_norm": "李玮", "name_pinyin": "li wei", "name_keys": ("li wei",)}
    >>> compare_name(r, m), LEVEL_LABELS["name"][compare_name(r, m)]
    (5, '姓名同音')

All comparisons read the normalized columns of docs/contract.md §2. Residents are the left side,
missing reports the right side; the symmetric ones (name, sex, age, accent, marks, conditions, build, hair)
give the same level when the sides are swapped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

MISSING = -1

LEVEL_LABELS: dict[str, dict[int, str]] = {
    "name": {-1: "无可用姓名", 0: "姓名不同", 1: "部分姓名或小名相符", 2: "姓名一字之差",
             3: "粤语读音相同", 4: "方言音近", 5: "姓名同音", 6: "姓名相同"},
    "sex": {-1: "性别不详", 0: "性别不符", 1: "性别相符"},
    "age": {-1: "年龄不详", 0: "年龄不可能", 1: "年龄相差大", 2: "年龄相近", 3: "年龄相符"},
    "height": {-1: "身高不详", 0: "身高不符", 1: "身高差较大", 2: "身高相近", 3: "身高相符",
               4: "身高几乎相同"},
    "time_gap": {-1: "日期不详", 0: "发现早于走失", 1: "走失十年以上后发现", 2: "走失一至十年后发现",
                 3: "走失一年内发现", 4: "走失一月内发现"},
    "geography": {-1: "地点不详", 0: "发现地很远", 1: "发现地在千公里内", 2: "发现地在五百公里内",
                  3: "发现地同省或两百公里内", 4: "发现地同市或五十公里内", 5: "发现地即走失地或家乡"},
    "accent": {-1: "口音不详", 0: "口音与家乡不符", 1: "口音属家乡方言区", 2: "口音与家乡省份相符"},
    "statement_places": {-1: "无自述地名", 0: "自述地名与家乡不符", 1: "自述地名同省",
                         2: "自述地名同市", 3: "自述地名同县"},
    "marks": {-1: "体貌特征不详", 0: "体貌特征矛盾", 1: "体貌特征无共同点", 2: "特征部位相同方向相反",
              3: "体貌特征相符", 4: "罕见特征相符", 5: "多处特征相符"},
    "conditions": {-1: "健康状况不详", 0: "健康状况不同", 1: "健康状况相符", 2: "特殊残疾相符"},
    "build": {-1: "体型不详", 0: "体型相反", 1: "体型相近", 2: "体型相同", 3: "少见体型相同"},
    "hair": {-1: "发型发色不详", 0: "发型发色不同", 1: "发型相同", 2: "发型发色相符"},
}
"""Chinese label of each level of each comparison, for explanations and review screens."""

COMPARISONS = list(LEVEL_LABELS)
"""Comparison names, in output order (``w_<name>`` columns follow this order)."""

N_LEVELS = {name: max(labels) + 1 for name, labels in LEVEL_LABELS.items()}
"""Number of non-missing levels per comparison (the model's ``levels`` argument)."""


# ---------------------------------------------------------------------------------------------
# small helpers on object columns


def _values(series: Any) -> np.ndarray:
    return series.to_numpy(dtype=object) if isinstance(series, pd.Series) else np.asarray(series, dtype=object)


def _floats(series: Any) -> np.ndarray:
    values = series.to_numpy() if isinstance(series, pd.Series) else series
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(float)
    return pd.to_numeric(pd.Series(_values(series)), errors="coerce").to_numpy(dtype=float)


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


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km (vectorized; NaN where a coordinate is missing).

    Hand-written because it is four lines of numpy and every geo library pulls in far more."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def prefecture_of(code: Any) -> str:
    """6-digit adcode → its prefecture code (``'330104'`` → ``'330100'``)."""
    code = _str(code)
    return code[:4] + "00" if len(code) == 6 else ""


def province_of(code: Any) -> str:
    """6-digit adcode → its province code (``'330104'`` → ``'330000'``)."""
    code = _str(code)
    return code[:2] + "0000" if len(code) == 6 else ""


def _get(record: Mapping, key: str, default: Any = None) -> Any:
    try:
        value = record[key]
    except (KeyError, IndexError):
        return default
    return value


# ---------------------------------------------------------------------------------------------
# name


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

        >>> r = {"name_norm": "周俊翰", "name_keys": ("zhou jun han",), "alias_norm": ("二娃",), "alias_keys": ("er wa",)}
        >>> m = {"name_norm": "吴雷", "name_keys": ("wu lei",), "alias_norm": ("二娃",), "alias_keys": ("er wa",)}
        >>> partial_match(r, m)[:3]
        ('二娃', '二娃', 'alias')
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


def _rows(columns: list[str], series: tuple) -> list[dict]:
    arrays = [_values(s) for s in series]
    return [dict(zip(columns, values)) for values in zip(*arrays)]


class _Feature:
    """What recordlinkage's ``BaseCompareFeature`` holds and does for a comparison (the columns it
    reads on each side, its label, ``_compute``), without importing recordlinkage.

    Why not subclass ``recordlinkage.base.BaseCompareFeature`` directly: importing recordlinkage
    imports scikit-learn and scipy.stats (~0.7 s), a fifth of ``kinmatch link`` on 2,000 × 20,000,
    and :func:`kinmatch.match.batch.compare_pairs` needs only the comparisons' logic. The
    recordlinkage features (``CompareName`` ...) are these classes with ``BaseCompareFeature``
    added as a base, built when first asked for (see :func:`recordlinkage_class`)."""

    name: str | None = None
    description: str | None = None

    def __init__(self, labels_left, labels_right, args=(), kwargs=None, label=None):
        self.labels_left = labels_left
        self.labels_right = labels_right
        self.args = args
        self.kwargs = {} if kwargs is None else kwargs
        self.label = label
        self._f_compare_vectorized = None

    def _compute_vectorized(self, *args):  # pragma: no cover - every comparison overrides it
        raise NotImplementedError

    def _compute(self, left_on, right_on):
        # as BaseCompareFeature._compute: the left columns' values, then the right columns'
        return self._compute_vectorized(*tuple(left_on + right_on))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r}>"


class _PairwiseFeature(_Feature):
    """A comparison computed by a plain one-pair function over dict rows (for the tuple columns,
    which have no vectorized form in numpy or pandas)."""

    columns: list[str] = []
    name = ""

    def __init__(self, left_on: list[str] | None = None, right_on: list[str] | None = None,
                 label: str | None = None):
        super().__init__(left_on or list(self.columns), right_on or list(self.columns),
                         label=label or self.name)

    @staticmethod
    def level(resident: Mapping, report: Mapping) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def _compute_vectorized(self, *series):
        n = len(self.labels_left)
        left = _rows(list(self.columns), series[:n])
        right = _rows(list(self.columns), series[n:])
        return np.fromiter((self.level(a, b) for a, b in zip(left, right)), dtype=np.int8, count=len(left))


class NameComparison(_PairwiseFeature):
    """Name agreement: same characters / same pinyin / dialect-merged sound / Cantonese /
    one character off / partial or 小名 / different; -1 if either name is blank or assigned.

        >>> import recordlinkage
        >>> compare = recordlinkage.Compare([CompareName()])  # doctest: +SKIP
    """

    columns = NAME_COLUMNS
    name = "name"
    level = staticmethod(name_level)

    def _compute_vectorized(self, *series):
        # clean each column once (cheap when compare_pairs already cleaned the frames), then one
        # plain loop: set intersections of sound keys have no numpy form
        cleaners = _NAME_CLEAN + _NAME_CLEAN
        columns = [[clean(v) for v in _values(s)] for s, clean in zip(series, cleaners)]
        count = len(columns[0]) if columns else 0
        return np.fromiter((_name_core(*row) for row in zip(*columns)), dtype=np.int8, count=count)

    def compute_precleaned(self, left: tuple, right: tuple) -> np.ndarray:
        """Levels for columns that :func:`compare_pairs` cleaned once per record already
        (cleaning again per pair took half the name comparison's time)."""
        columns = [_values(s) for s in (*left, *right)]
        count = len(columns[0]) if columns else 0
        return np.fromiter((_name_core(*row) for row in zip(*columns)), dtype=np.int8, count=count)


# ---------------------------------------------------------------------------------------------
# sex


def sex_levels(sex_a, sex_b) -> np.ndarray:
    a, b = _sex_codes(sex_a), _sex_codes(sex_b)
    return np.where((a > 0) & (b > 0), (a == b).astype(np.int8), MISSING).astype(np.int8)


_SEX_CODES = {"M": 1, "F": 2}


def _sex_codes(values: Any) -> np.ndarray:
    """``sex_code`` values → 1 (M), 2 (F), 0 (unknown); int8 codes pass through (compare_pairs
    codes each record once, not each pair)."""
    if isinstance(values, np.ndarray) and values.dtype == np.int8:
        return values
    values = _values(values)
    return np.fromiter((_SEX_CODES.get(s, 0) if isinstance(s, str) else 0 for s in values), dtype=np.int8,
                       count=len(values))


class SexComparison(_Feature):
    """Sex: 1 same, 0 different, -1 unknown on either side."""

    name = "sex"

    def __init__(self, left_on="sex_code", right_on="sex_code", label="sex"):
        super().__init__(left_on, right_on, label=label)

    def _compute_vectorized(self, sex_a, sex_b):
        return sex_levels(sex_a, sex_b)


def compare_sex(resident: Mapping, report: Mapping) -> int:
    return int(sex_levels([_get(resident, "sex_code")], [_get(report, "sex_code")])[0])


# ---------------------------------------------------------------------------------------------
# age (birth-year intervals, which carry each estimate's uncertainty)


def interval_gap(low_a, high_a, low_b, high_b) -> np.ndarray:
    """Distance between two intervals (0 when they overlap; NaN when either is missing)."""
    low_a, high_a, low_b, high_b = (np.asarray(v, dtype=float) for v in (low_a, high_a, low_b, high_b))
    return np.maximum(0.0, np.maximum(low_a - high_b, low_b - high_a))


def age_levels(low_a, high_a, low_b, high_b, age_a=None, age_b=None) -> np.ndarray:
    """Birth-year intervals → 3 overlap, 2 near, 1 far, 0 impossible, -1 missing.

    The tolerance grows with age: a 70-year-old's face is misjudged by more years than a child's
    (and long homelessness ages a face)."""
    low_a, high_a, low_b, high_b = (_floats(v) for v in (low_a, high_a, low_b, high_b))
    low_a = np.where(np.isnan(low_a), high_a, low_a)
    high_a = np.where(np.isnan(high_a), low_a, high_a)
    low_b = np.where(np.isnan(low_b), high_b, low_b)
    high_b = np.where(np.isnan(high_b), low_b, high_b)
    gap = interval_gap(low_a, high_a, low_b, high_b)
    ages = []
    for age in (age_a, age_b):
        ages.append(np.full(len(gap), np.nan) if age is None else _floats(age))
    age = np.fmax(ages[0], ages[1])
    age = np.where(np.isnan(age), 40.0, age)
    tolerance = 2.0 + 0.1 * age
    levels = np.select([gap <= 0, gap <= tolerance, gap <= 3 * tolerance], [3, 2, 1], 0)
    return np.where(np.isnan(gap), MISSING, levels).astype(np.int8)


class AgeComparison(_Feature):
    """Age: the resident's estimated birth-year interval vs the report's (from birth date or age
    when lost). Levels: 3 overlap, 2 near, 1 far, 0 impossible; -1 missing."""

    name = "age"
    columns = ["birth_year_low", "birth_year_high", "age_high"]

    def __init__(self, left_on=None, right_on=None, label="age"):
        super().__init__(left_on or list(self.columns), right_on or list(self.columns), label=label)

    def _compute_vectorized(self, low_a, high_a, age_a, low_b, high_b, age_b):
        return age_levels(low_a, high_a, low_b, high_b, age_a, age_b)


def compare_age(resident: Mapping, report: Mapping) -> int:
    cols = AgeComparison.columns
    return int(age_levels(*([_get(resident, c)] for c in cols[:2]), *([_get(report, c)] for c in cols[:2]),
                          [_get(resident, "age_high")], [_get(report, "age_high")])[0])


# ---------------------------------------------------------------------------------------------
# height (with growth for a child)

GROWTH_CM_PER_YEAR = 6.0
"""Rough upper bound of a child's yearly growth; a child lost at 8 and found at 14 may be 36 cm taller."""


def height_difference(height_a, tol_a, height_b, tol_b, age_b=None, years_between=None) -> tuple[np.ndarray, np.ndarray]:
    """Resident minus report height, and the difference left after tolerances and growth (cm).

    Growth: when the report's person was under 18 when lost, the resident may be taller by up to
    ``GROWTH_CM_PER_YEAR`` per year since then (until 18)."""
    height_a, height_b = _floats(height_a), _floats(height_b)
    tol_a = np.nan_to_num(_floats(tol_a), nan=2.0)
    tol_b = np.nan_to_num(_floats(tol_b), nan=5.0)
    diff = height_a - height_b
    n = len(diff)
    age_b = np.full(n, np.nan) if age_b is None else _floats(age_b)
    years = np.full(n, np.nan) if years_between is None else _floats(years_between)
    growth_years = np.clip(np.minimum(np.nan_to_num(years, nan=0.0), 18.0 - np.nan_to_num(age_b, nan=18.0)), 0, None)
    growth = GROWTH_CM_PER_YEAR * growth_years
    excess = np.where(diff > 0, np.maximum(0.0, diff - growth), -diff) - tol_a - tol_b
    return diff, np.maximum(0.0, excess)


HEIGHT_CLOSE_CM = 3.0
"""Heights this close are a level of their own: for a nameless resident a near-identical height
separates candidates that all merely fall within the family's ±5 cm guess."""


def height_levels(height_a, tol_a, height_b, tol_b, age_b=None, years_between=None) -> np.ndarray:
    """4 within 3 cm, 3 within tolerance, 2 ≤ 5 cm beyond, 1 ≤ 12 cm beyond, 0 more; -1 missing."""
    diff, excess = height_difference(height_a, tol_a, height_b, tol_b, age_b, years_between)
    levels = np.select([np.abs(diff) <= HEIGHT_CLOSE_CM, excess <= 0, excess <= 5, excess <= 12], [4, 3, 2, 1], 0)
    return np.where(np.isnan(diff), MISSING, levels).astype(np.int8)


def _day_numbers(dates: Any) -> np.ndarray:
    """Dates → days since 1970 as floats (NaN when missing); fast for datetime64 columns."""
    values = dates.to_numpy() if isinstance(dates, pd.Series) else np.asarray(dates)
    if not np.issubdtype(values.dtype, np.datetime64):
        values = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").to_numpy()
    values = values.astype("datetime64[D]")
    days = values.astype(np.int64).astype(float)
    days[np.isnat(values)] = np.nan
    return days


def _years_between(found, missing) -> np.ndarray:
    return (_day_numbers(found) - _day_numbers(missing)) / 365.25


class HeightComparison(_Feature):
    """Height: measured resident height vs the family's estimate, allowing for growth when the
    person was lost as a child. Not symmetric on purpose: growth only goes one way in time."""

    name = "height"
    left_columns = ["height_cm", "height_tol_cm", "event_date"]
    right_columns = ["height_cm", "height_tol_cm", "age_high", "event_date"]

    def __init__(self, left_on=None, right_on=None, label="height"):
        super().__init__(left_on or list(self.left_columns), right_on or list(self.right_columns), label=label)

    def _compute_vectorized(self, height_a, tol_a, found_date, height_b, tol_b, age_b, missing_date):
        return height_levels(height_a, tol_a, height_b, tol_b, age_b, _years_between(found_date, missing_date))


def compare_height(resident: Mapping, report: Mapping) -> int:
    years = _years_between([_get(resident, "event_date")], [_get(report, "event_date")])
    return int(height_levels([_get(resident, "height_cm")], [_get(resident, "height_tol_cm")],
                             [_get(report, "height_cm")], [_get(report, "height_tol_cm")],
                             [_get(report, "age_high")], years)[0])


# ---------------------------------------------------------------------------------------------
# time gap

DATE_TOLERANCE_DAYS = 30
"""Found up to this many days *before* the reported missing date still counts (dates are often
remembered wrong by weeks)."""


def time_gap_levels(found_date, missing_date) -> np.ndarray:
    """4 ≤ 30 days, 3 ≤ 1 year, 2 ≤ 10 years, 1 longer, 0 found before missing; -1 missing."""
    days = _day_numbers(found_date) - _day_numbers(missing_date)
    levels = np.select([days < -DATE_TOLERANCE_DAYS, days <= 30, days <= 366, days <= 3653], [0, 4, 3, 2], 1)
    return np.where(np.isnan(days), MISSING, levels).astype(np.int8)


class TimeGapComparison(_Feature):
    """Time between the missing date and the found date."""

    name = "time_gap"

    def __init__(self, left_on="event_date", right_on="event_date", label="time_gap"):
        super().__init__(left_on, right_on, label=label)

    def _compute_vectorized(self, found_date, missing_date):
        return time_gap_levels(found_date, missing_date)


def compare_time_gap(resident: Mapping, report: Mapping) -> int:
    return int(time_gap_levels([_get(resident, "event_date")], [_get(report, "event_date")])[0])


# ---------------------------------------------------------------------------------------------
# geography

DISTANCE_BANDS_KM = (10.0, 50.0, 200.0, 500.0, 1000.0)


def _code_numbers(codes: Any) -> np.ndarray:
    """6-digit adcodes → floats (NaN when blank or malformed), so prefixes compare by division."""
    if isinstance(codes, np.ndarray) and codes.dtype.kind == "f":  # parsed already (compare_pairs)
        return np.where((codes >= 100000) & (codes <= 999999), codes, np.nan)
    # parse each distinct code once: a pair table repeats the same few thousand codes
    position, distinct = pd.factorize(pd.Series(_values(codes), dtype=object))
    parsed = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce").to_numpy(dtype=float)
    numbers = np.where(position >= 0, parsed[np.maximum(position, 0)] if len(parsed) else np.nan, np.nan)
    return np.where((numbers >= 100000) & (numbers <= 999999), numbers, np.nan)


def _same_code(a: np.ndarray, b: np.ndarray, level: str) -> np.ndarray:
    divisor = {"county": 1, "prefecture": 100, "province": 10000}[level]
    a, b = _code_numbers(a), _code_numbers(b)
    with np.errstate(invalid="ignore"):
        return np.floor(a / divisor) == np.floor(b / divisor)


def geography_detail(found_county, found_lon, found_lat, places: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Best level and the distance (km) from the found place to the nearest of ``places``
    (each a (county, lon, lat) triple of arrays: missing place, hometown)."""
    found_county = _code_numbers(found_county)
    n = len(found_county)
    best = np.full(n, MISSING, dtype=np.int8)
    best_km = np.full(n, np.nan)
    for county, lon, lat in places:
        county = _code_numbers(county)
        km = haversine_km(_floats(found_lon), _floats(found_lat), _floats(lon), _floats(lat))
        levels = np.select([km <= b for b in DISTANCE_BANDS_KM], [5, 4, 3, 2, 1], 0)
        levels = np.where(np.isnan(km), MISSING, levels)
        levels = np.where(_same_code(found_county, county, "province"), np.maximum(levels, 3), levels)
        levels = np.where(_same_code(found_county, county, "prefecture"), np.maximum(levels, 4), levels)
        levels = np.where(_same_code(found_county, county, "county"), 5, levels)
        best = np.maximum(best, levels).astype(np.int8)
        best_km = np.fmin(best_km, km)
    return best, best_km


class GeographyComparison(_Feature):
    """Found place vs the report's missing place and hometown, in distance bands (lon/lat) and
    same county / prefecture / province by adcode. 5 = same county or < 10 km … 0 ≥ 1000 km."""

    name = "geography"
    left_columns = ["found_county", "found_lon", "found_lat"]
    right_columns = ["missing_county", "missing_lon", "missing_lat", "home_county", "home_lon", "home_lat"]

    def __init__(self, left_on=None, right_on=None, label="geography"):
        super().__init__(left_on or list(self.left_columns), right_on or list(self.right_columns), label=label)

    def _compute_vectorized(self, found_county, found_lon, found_lat, *places):
        triples = [places[i:i + 3] for i in range(0, len(places), 3)]
        return geography_detail(found_county, found_lon, found_lat, triples)[0]


def compare_geography(resident: Mapping, report: Mapping) -> int:
    left = [[_get(resident, c)] for c in GeographyComparison.left_columns]
    right = [[_get(report, c)] for c in GeographyComparison.right_columns]
    return int(geography_detail(*left, [right[0:3], right[3:6]])[0][0])


# ---------------------------------------------------------------------------------------------
# accent vs hometown


_AREA_GROUPS = ("N_Man", "JH_Man", "SW_Man", "Wu", "Xiang", "Gan", "Hakka", "Min", "Yue", "P_T")


def area_group(area: Any) -> str:
    """Dialect sub-area → its group (``'N_Man_NE'`` → ``'N_Man'``); unknown codes map to themselves."""
    area = _str(area)
    for group in _AREA_GROUPS:
        if area == group or area.startswith(group + "_"):
            return group
    return area


def _home_province(value: Any) -> str:
    return province_of(value) or _str(value)


def _accent_core(provinces_a, area_a, home_a, home_area_a, provinces_b, area_b, home_b, home_area_b) -> int:
    best = MISSING
    for provinces, area, other, home, home_area, other_area in (
            (provinces_a, area_a, provinces_b, home_b, home_area_b, area_b),
            (provinces_b, area_b, provinces_a, home_a, home_area_a, area_a)):
        if not (provinces or area):
            continue
        home_area = home_area or other_area
        if not (other or home or home_area):
            continue
        if provinces and (home in provinces or not provinces.isdisjoint(other)):
            level = 2
        elif area and home_area and area_group(area) == area_group(home_area):
            level = 1
        else:
            level = 0
        best = max(best, level)
    return best


ACCENT_COLUMNS = ["accent_provinces", "accent_area", "home_province", "home_dialect_area"]
_ACCENT_CLEAN = [_as_set, _as_str, _home_province, _as_str]


def accent_level(resident: Mapping, report: Mapping) -> int:
    """2 an accent province is the home province, 1 same dialect group, 0 neither; -1 missing.

    Symmetric: each side's accent evidence (accent provinces / area) is held against the other
    side's home (home province / home dialect area, else its own accent) and the better of the two
    directions wins."""
    a = [clean(_get(resident, c)) for c, clean in zip(ACCENT_COLUMNS, _ACCENT_CLEAN)]
    b = [clean(_get(report, c)) for c, clean in zip(ACCENT_COLUMNS, _ACCENT_CLEAN)]
    return _accent_core(*a, *b)


class AccentComparison(_PairwiseFeature):
    """Accent (resident) against the report's home province / dialect area of the hometown."""

    columns = ACCENT_COLUMNS
    name = "accent"
    level = staticmethod(accent_level)

    def _compute_vectorized(self, *series):
        cleaners = _ACCENT_CLEAN + _ACCENT_CLEAN
        columns = [[clean(v) for v in _values(s)] for s, clean in zip(series, cleaners)]
        count = len(columns[0]) if columns else 0
        return np.fromiter((_accent_core(*row) for row in zip(*columns)), dtype=np.int8, count=count)


# ---------------------------------------------------------------------------------------------
# statement places (self-reported fragments, already resolved to candidate county codes)


def statement_places_level(resident: Mapping, report: Mapping) -> int:
    """3 a stated county is the home (or missing) county, 2 same prefecture, 1 same province, 0 none;
    -1 when the resident stated no place or the report has no usable place."""
    stated = [c for c in _tuple(_get(resident, "statement_places")) if len(_str(c)) == 6]
    if not stated:
        return MISSING
    counties = {_str(_get(report, c)) for c in ("home_county", "missing_county")} - {""}
    prefectures = {prefecture_of(c) for c in counties} | {_str(_get(report, "home_prefecture"))}
    # read as the accent comparison reads it: a county code in the province column means its province
    provinces = {province_of(c) for c in counties} | {_home_province(_get(report, "home_province"))}
    prefectures.discard("")
    provinces.discard("")
    if not (counties or prefectures or provinces):
        return MISSING
    if set(stated) & counties:
        return 3
    if {prefecture_of(c) for c in stated} & prefectures:
        return 2
    if {province_of(c) for c in stated} & provinces:
        return 1
    return 0


class StatementPlacesComparison(_Feature):
    """What the resident said (place fragments → candidate counties) vs the report's hometown."""

    name = "statement_places"
    left_columns = ["statement_places"]
    right_columns = ["home_county", "home_prefecture", "home_province", "missing_county"]

    def __init__(self, left_on=None, right_on=None, label="statement_places"):
        super().__init__(left_on or list(self.left_columns), right_on or list(self.right_columns), label=label)

    def _compute_vectorized(self, stated, *report_columns):
        right = _rows(self.right_columns, report_columns)
        return np.fromiter((statement_places_level({"statement_places": s}, r) for s, r in zip(_values(stated), right)),
                           dtype=np.int8, count=len(right))


# ---------------------------------------------------------------------------------------------
# marks

MARK_RARITY = {"痣": 0.30, "疤痕": 0.25, "胎记": 0.08, "纹身": 0.05, "缺指": 0.01, "缺牙": 0.10,
               "六指": 0.002, "烫伤": 0.04, "烧伤": 0.04, "斑": 0.10, "驼背": 0.03, "跛": 0.03}
"""Rough share of people with a mark of each type, used when no frequency table is given:
agreement on a rare mark (a missing finger) counts more than on a mole."""

RARE_MARK_SHARE = 0.06
CONDITION_NAMES = frozenset({"痴呆", "智力障碍", "精神障碍", "聋哑", "肢体残疾", "癫痫"})
_MIRROR = {"左": "右", "右": "左"}


def _parse_mark(mark: str) -> tuple[str, str, str]:
    parts = (str(mark).split(":") + ["", "", ""])[:3]
    return parts[0], parts[1], parts[2]


def mark_comparison(marks_a: Iterable[str], marks_b: Iterable[str],
                    frequency: Mapping[str, float] | None = None,
                    negated_a: Iterable[str] = (), negated_b: Iterable[str] = ()) -> tuple[int, str]:
    """Level and the mark that decided it (for the explanation).

    Agreement on type+part+side (a blank part or side agrees with anything) → 3, or 4 when the mark
    is rare, or 5 when two or more marks of each record agree (a mole *and* a scar where the other
    record has them); same type+part on mirrored sides (左/右, as families and staff see the person from
    opposite sides) → 2; both described with nothing shared → 1; an explicit absence (无纹身, in
    ``negated_*`` as the description normalizer lists denied mark types, or a ``无纹身`` mark)
    against that mark → 0 (contradiction); -1 when neither contradiction nor two sets of marks."""
    # a condition written as a mark (聋哑::) is the conditions comparison's evidence: never count it twice
    parsed_a = [p for p in map(_parse_mark, _tuple(marks_a)) if p[0] not in CONDITION_NAMES]
    parsed_b = [p for p in map(_parse_mark, _tuple(marks_b)) if p[0] not in CONDITION_NAMES]
    marks_a, marks_b = parsed_a, parsed_b
    for negated, denied, other in ((parsed_a, _tuple(negated_a), parsed_b), (parsed_b, _tuple(negated_b), parsed_a)):
        absent = {t[1:] for t, _, _ in negated if t.startswith("无") and len(t) > 1} | set(denied)
        for t, part, side in other:
            if t in absent:
                return 0, f"无{t}/{t}"
    if not marks_a or not marks_b:
        return MISSING, ""
    return _best_shared_mark(parsed_a, parsed_b, frequency)


def _best_shared_mark(parsed_a: list, parsed_b: list, frequency: Mapping[str, float] | None) -> tuple[int, str]:
    """Best agreement between two described, uncontradicted mark lists ((type, part, side)
    triples): 5 several marks agreeing, 4 rare / 3 common mark agreeing, 2 mirrored side, else 1."""
    best, best_mark = 1, ""
    agreeing_a, agreeing_b, shown = set(), set(), []
    for i, (ta, pa, sa) in enumerate(parsed_a):
        if ta.startswith("无"):
            continue
        for j, (tb, pb, sb) in enumerate(parsed_b):
            if ta != tb or not (pa == pb or not pa or not pb):
                continue
            if sa == sb or not sa or not sb:
                share = (frequency or {}).get(f"{ta}:{pa or pb}", MARK_RARITY.get(ta, 0.1))
                level = 4 if share <= RARE_MARK_SHARE else 3
                mark = ":".join(x for x in (ta, pa or pb, sa or sb) if x)
                if i not in agreeing_a:
                    shown.append(mark)
                agreeing_a.add(i)
                agreeing_b.add(j)
            elif _MIRROR.get(sa) == sb:
                level = 2
            else:
                continue
            if level > best:
                best, best_mark = level, ":".join(x for x in (ta, pa or pb, sa or sb) if x)
    if min(len(agreeing_a), len(agreeing_b)) >= 2:
        return 5, "、".join(dict.fromkeys(shown))
    return best, best_mark


def marks_level(resident: Mapping, report: Mapping, frequency: Mapping[str, float] | None = None) -> int:
    return mark_comparison(_get(resident, "marks"), _get(report, "marks"), frequency,
                           _get(resident, "negated", ()), _get(report, "negated", ()))[0]


class MarksComparison(_Feature):
    """Scars, moles, tattoos, missing fingers: type+part+side, weighted by rarity.

    ``frequency`` maps ``type:part`` to the share of reports with that mark (see
    :func:`mark_frequency`); without it a built-in rough rarity by type is used."""

    name = "marks"

    def __init__(self, left_on=("marks", "negated"), right_on=("marks", "negated"),
                 frequency: Mapping[str, float] | None = None, label="marks"):
        super().__init__(list(left_on), list(right_on), label=label)
        self.frequency = frequency

    def _compute_vectorized(self, marks_a, negated_a, marks_b, negated_b):
        rows = zip(_values(marks_a), _values(negated_a), _values(marks_b), _values(negated_b))
        return np.fromiter((mark_comparison(a, b, self.frequency, na, nb)[0] for a, na, b, nb in rows),
                           dtype=np.int8, count=len(marks_a))


def mark_frequency(marks: pd.Series) -> dict[str, float]:
    """Share of records carrying each ``type:part`` mark (for rarity weighting).

        >>> mark_frequency(pd.Series([("痣:脸:左",), ("痣:脸:右", "缺指:左手:小指"), ()]))["痣:脸"]
        0.6666666666666666
    """
    n = max(len(marks), 1)
    counts: dict[str, int] = {}
    for value in marks:
        seen = {":".join(_parse_mark(m)[:2]) for m in _tuple(value)}
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    return {key: count / n for key, count in counts.items()}


# ---------------------------------------------------------------------------------------------
# conditions

DISTINCTIVE_CONDITIONS = frozenset({"聋哑", "癫痫", "肢体残疾"})


def conditions_level(resident: Mapping, report: Mapping) -> int:
    """2 share a distinctive condition (聋哑, 癫痫, 肢体残疾), 1 share another, 0 both described
    but disjoint; -1 when either side names none."""
    a, b = set(_tuple(_get(resident, "conditions"))), set(_tuple(_get(report, "conditions")))
    if not a or not b:
        return MISSING
    shared = a & b
    if shared & DISTINCTIVE_CONDITIONS:
        return 2
    return 1 if shared else 0


class ConditionsComparison(_PairwiseFeature):
    """Dementia, intellectual disability, deaf-mute… named on both records."""

    columns = ["conditions"]
    name = "conditions"
    level = staticmethod(conditions_level)

    def _compute_vectorized(self, conditions_a, conditions_b):
        return np.fromiter((conditions_level({"conditions": a}, {"conditions": b})
                            for a, b in zip(_values(conditions_a), _values(conditions_b))),
                           dtype=np.int8, count=len(conditions_a))


# ---------------------------------------------------------------------------------------------
# build and hair (体型, 发型发色): the national family-search site filters on build, NCIC
# compares weight ranges; both drift (people living rough get thinner, hair greys, stations
# shave heads), so they are weak evidence whose weight EM learns


BUILD_ORDER = {"瘦": 0, "中等": 1, "胖": 2}
"""The description normalizer's build words, thin to heavy."""

BUILD_SHARES = {"瘦": 0.40, "中等": 0.45, "胖": 0.15}
"""Rough share of people described with each build, used when no frequency table is given."""

RARE_BUILD_SHARE = 0.25


def _build_codes(values: Any) -> np.ndarray:
    """Build words → 0 (瘦) / 1 (中等) / 2 (胖), -1 blank or unknown; each distinct value read once.
    int8 codes pass through (compare_pairs codes each record once, not each pair)."""
    if isinstance(values, np.ndarray) and values.dtype == np.int8:
        return values
    codes, distinct = pd.factorize(pd.Series(_values(values), dtype=object))
    table = np.array([BUILD_ORDER.get(_str(v), -1) for v in distinct] + [-1], dtype=np.int8)
    return table[codes]  # code -1 (blank) picks the last entry


def build_levels(build_a, build_b, frequency: Mapping[str, float] | None = None) -> np.ndarray:
    """3 same build and a rare one (胖 in most tables), 2 same, 1 one step apart (瘦/中等),
    0 opposite (瘦/胖); -1 when either record does not describe a build."""
    a, b = _build_codes(build_a), _build_codes(build_b)
    shares = frequency or BUILD_SHARES
    rare = np.array([shares.get(word, 1.0) <= RARE_BUILD_SHARE
                     for word in sorted(BUILD_ORDER, key=BUILD_ORDER.get)], dtype=bool)
    levels = np.select([a == b, np.abs(a.astype(int) - b) == 1], [2, 1], 0).astype(np.int8)
    levels = np.where((a == b) & (a >= 0) & rare[np.clip(a, 0, None)], 3, levels)
    return np.where((a < 0) | (b < 0), MISSING, levels).astype(np.int8)


class BuildComparison(_Feature):
    """Build (瘦/中等/胖): same, one step apart, opposite; agreement on a rare build counts more.

    ``frequency`` maps each build word to its share among reports (see :func:`value_frequency`);
    without it :data:`BUILD_SHARES` is used."""

    name = "build"

    def __init__(self, left_on="build", right_on="build", frequency: Mapping[str, float] | None = None,
                 label="build"):
        super().__init__(left_on, right_on, label=label)
        self.frequency = frequency

    def _compute_vectorized(self, build_a, build_b):
        return build_levels(build_a, build_b, self.frequency)


def compare_build(resident: Mapping, report: Mapping, frequency: Mapping[str, float] | None = None) -> int:
    return int(build_levels([_get(resident, "build")], [_get(report, "build")], frequency)[0])


def value_frequency(values: pd.Series) -> dict[str, float]:
    """Share of records with each value (blank values count in the total, not as a value).

        >>> value_frequency(pd.Series(["瘦", "胖", None, "瘦"]))
        {'瘦': 0.5, '胖': 0.25}
    """
    n = max(len(values), 1)
    return {str(k): v / n for k, v in values.dropna().astype(str).value_counts().items() if k}


_HAIR_SAME = {"光头": "光头秃顶", "秃顶": "光头秃顶"}
"""Stations and families write 光头 and 秃顶 for the same head (see the description normalizer)."""
COMMON_HAIR = frozenset({"短发", "白发"})
"""Shared hair words that say little: most men's hair is short, and grey hair comes with age
(counting it as distinctive doubled the age evidence: 20% more false leads on the simulator)."""


def _hair_words(value: Any) -> frozenset:
    text = _str(value)
    return frozenset(_HAIR_SAME.get(w, w) for w in text.replace(",", "、").split("、") if w) if text else _EMPTY


def hair_level(resident: Mapping, report: Mapping) -> int:
    """2 share a distinctive hair word (长发, 光头/秃顶), 1 share only a common one (短发, or
    白发, which mostly says the person is old — the age comparison counts that already), 0 both
    described with nothing in common; -1 when either record does not describe hair. No level is a
    contradiction: hair greys, and stations cut or shave it."""
    a, b = _hair_words(_get(resident, "hair")), _hair_words(_get(report, "hair"))
    if not a or not b:
        return MISSING
    shared = a & b
    if shared - COMMON_HAIR:
        return 2
    return 1 if shared else 0


class HairComparison(_PairwiseFeature):
    """Hair words (白发, 短发, 长发, 光头/秃顶) shared by both records."""

    columns = ["hair"]
    name = "hair"
    level = staticmethod(hair_level)


# ---------------------------------------------------------------------------------------------
# term frequency of the name sound


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
    for i, (a, b) in enumerate(zip(_values(keys_a), _values(keys_b))):
        if not isinstance(a, (set, frozenset)):
            a = set(_tuple(a))
        if not a:  # a nameless resident (a third of them) shares nothing: skip the other side
            continue
        shared = a & (b if isinstance(b, (set, frozenset)) else set(_tuple(b)))
        if shared:
            out[i] = min(frequency.get(k, 0.0) for k in shared)
    return out


# ---------------------------------------------------------------------------------------------
# all comparisons at once

def default_features(mark_freq: Mapping[str, float] | None = None,
                     build_freq: Mapping[str, float] | None = None) -> list[_Feature]:
    """One comparison object per comparison, in :data:`COMPARISONS` order (``mark_freq`` from
    :func:`mark_frequency`, ``build_freq`` from :func:`value_frequency` of the reports' builds), as
    :func:`kinmatch.match.batch.compare_pairs` takes them; :func:`to_recordlinkage` makes one a
    recordlinkage feature, :func:`build_compare` a whole :class:`recordlinkage.Compare`."""
    return [NameComparison(), SexComparison(), AgeComparison(), HeightComparison(), TimeGapComparison(),
            GeographyComparison(), AccentComparison(), StatementPlacesComparison(),
            MarksComparison(frequency=mark_freq), ConditionsComparison(), BuildComparison(frequency=build_freq),
            HairComparison()]


def features_for(missing: pd.DataFrame) -> list[_Feature]:
    """:func:`default_features` with the rarity tables (marks, builds) taken from these reports,
    as :func:`kinmatch.link` and the review store compute them."""
    mark_freq = mark_frequency(missing["marks"]) if "marks" in missing.columns else None
    build_freq = value_frequency(missing["build"]) if "build" in missing.columns else None
    return default_features(mark_freq, build_freq or None)


# ---------------------------------------------------------------------------------------------
# the recordlinkage features

_RECORDLINKAGE_NAMES = {f"Compare{kind}": f"{kind}Comparison" for kind in (
    "Name", "Sex", "Age", "Height", "TimeGap", "Geography", "Accent", "StatementPlaces", "Marks", "Conditions",
    "Build", "Hair")}
_recordlinkage_classes: dict[type, type] = {}


def recordlinkage_class(comparison: type) -> type:
    """The :class:`recordlinkage.base.BaseCompareFeature` subclass of a comparison class (e.g.
    ``CompareName`` for :class:`NameComparison`): the same logic, and what recordlinkage's own
    ``Compare`` expects. Built once, on first use, so that linking never imports recordlinkage.

        >>> import recordlinkage
        >>> issubclass(recordlinkage_class(SexComparison), recordlinkage.base.BaseCompareFeature)
        True
    """
    from recordlinkage.base import BaseCompareFeature

    if issubclass(comparison, BaseCompareFeature):
        return comparison
    if comparison not in _recordlinkage_classes:
        public = "Compare" + comparison.__name__.removesuffix("Comparison")
        _recordlinkage_classes[comparison] = type(public, (comparison, BaseCompareFeature), {
            "__module__": __name__, "__qualname__": public, "__doc__": comparison.__doc__})
    return _recordlinkage_classes[comparison]


def to_recordlinkage(feature: _Feature) -> Any:
    """The same comparison (same columns, label and rarity tables) as a recordlinkage feature.

        >>> to_recordlinkage(SexComparison())
        <CompareSex 'sex'>
    """
    converted = object.__new__(recordlinkage_class(type(feature)))
    converted.__dict__.update(feature.__dict__)
    return converted


def build_compare(mark_freq: Mapping[str, float] | None = None,
                  build_freq: Mapping[str, float] | None = None) -> Any:
    """A :class:`recordlinkage.Compare` holding every comparison (for use with recordlinkage's own
    index objects; :func:`compare_pairs` is the faster path used by :func:`kinmatch.link`)."""
    import recordlinkage

    return recordlinkage.Compare([to_recordlinkage(f) for f in default_features(mark_freq, build_freq)])


def compare_one(resident: Mapping, report: Mapping, mark_freq: Mapping[str, float] | None = None) -> dict[str, int]:
    """Every comparison for one pair of normalized records (dicts or Series).

        >>> compare_one({"sex_code": "F"}, {"sex_code": "F"})["sex"]
        1
    """
    from kinmatch.match._old_batch import compare_pairs

    residents = pd.DataFrame([dict(resident) | {"resident_id": "r"}])
    missing = pd.DataFrame([dict(report) | {"missing_id": "m"}])
    vectors = compare_pairs(pd.DataFrame({"resident_id": ["r"], "missing_id": ["m"]}), residents, missing,
                            default_features(mark_freq))
    return {k: int(v) for k, v in vectors.iloc[0].items()}


# plain one-pair functions, named like the classes
compare_name = name_level
compare_accent = accent_level
compare_statement_places = statement_places_level
compare_marks = marks_level
compare_conditions = conditions_level
compare_hair = hair_level


_BATCH_NAMES = frozenset({"compare_pairs", "prepare_records", "PreparedRecords", "PARALLEL_MIN_PAIRS"})


def __getattr__(name: str) -> Any:
    """The batch engine (:mod:`kinmatch.match.batch`: every comparison for many pairs at once)
    lives in its own module; its entry points stay importable from here, where the comparisons
    are (imported on first use: the engine imports this module). The recordlinkage features
    (``CompareName`` ...) are built here on first use (:func:`recordlinkage_class`)."""
    if name in _BATCH_NAMES:
        from kinmatch.match import _old_batch as batch

        return getattr(batch, name)
    if name in _RECORDLINKAGE_NAMES:
        return recordlinkage_class(globals()[_RECORDLINKAGE_NAMES[name]])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
