"""How a name sounds: pinyin with correct surname readings, heteronyms, dialect-merged keys,
Cantonese (Jyutping, Hong Kong romanisation) and Latin-script names.

Two names *meet* when their key tuples intersect. Keys are toneless syllables joined by spaces
(``"hu chun hua"``); dialect-merged keys fold both names the same way, so a sound that a speaker
of the area may have produced for either spelling gives the same key::

    >>> name_pinyin("单雄信"), name_pinyin("尉迟恭")
    ('shan xiong xin', 'yu chi gong')
    >>> bool(set(name_keys("胡春花", "Wu")) & set(name_keys("吴春花", "Wu")))     # hu → wu
    True
    >>> bool(set(name_keys("张伟")) & set(name_keys("王伟")))
    False
    >>> bool(set(latin_keys("Chan Tai Man")) & set(name_keys("陈大文", "Yue")))  # HKID spelling
    True

Merger families (the column ``mergers`` of the ``dialect_areas`` table, plus ``h_x`` below):

- ``n_l``: n → l (南 nan = 蓝 lan).
- ``retroflex``: zh ch sh → z c s.
- ``n_ng``: -eng → -en, -ing → -in (and weng → wen). **an/ang and ian/iang stay apart**: the
  southern and Jin dialects that merge en/eng and in/ing mostly keep an/ang distinct, and folding
  them too would make half of all names meet.
- ``f_h``: f ↔ hu (湖 hu = 福 fu; 飞 fei = 灰 hui; 风 feng = 红 hong): f-syllables fold to hu-forms.
- ``hu_wu``: hu- → w- (胡 hu = 吴 wu, 黄 huang = 王 wang, 惠 hui = 魏 wei).
- ``r_y_l``: r → y (人 ren = 银 yin, 肉 rou = 又 you) and, separately, r → l (如 ru = 卢 lu).
- ``h_x`` (added here, not in ``dialect_areas``): old velar readings before i. Southern dialects
  keep g/k/h where Mandarin palatalised them to j/q/x (咸 xian ~ han, 街 jie ~ gai, 鞋 xie ~ hai,
  江 jiang ~ gang), so one speaker's "xian" can be another's 韩 han. j/q/x + ia/ian/iang/iao/ie
  fold to g/k/h + a/an/ang/ao/ai. Added for JH_Man, Wu, Xiang, Gan, Hakka, Min and Yue.
  ``merged_keys`` applies it to any syllable; ``name_keys`` only to characters that were velar in
  Middle Chinese (their Cantonese reading starts with g/k/h: 咸 haam yes, 小 siu no), because
  Mandarin x also continues old s- (小, 先), which no dialect reads as h.

Regional surname readings (``REGIONAL_READINGS``) cover single documented surnames that no
family explains: in Sichuan (``SW_Man``) 龚 is read "jiong" and was written 炅.

When the area is unknown (``None``) a name gets every single-family key plus the combined key of
every known area, so it meets a name from any area under that area's own mergers.

Dialect asymmetry: a resident's name was written from their own speech, but the station's accent
note is often missing or wrong, while a report's hometown says where the person grew up. Folds
are canonical (胡 hu and 吴 wu both fold to ``wu``), so with ``side="resident"`` a resident's name
also carries the single-family fold of every family, and meets a report under any merger of the
report's area: 吴春花 noted with a Jianghuai accent meets 胡春花 from a Wu hometown.

Data notice: the Mandarin readings of table ``char_readings`` are **modified** Unicode Unihan 15.0
data (subset of fields, tones removed, reshaped; © Unicode, Inc., Unicode License, see
``kinmatch/data/LICENSES/Unicode-Unihan.txt`` and ``kinmatch/data/SOURCES/readings.md``).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from typing import Callable, Iterable, Sequence

import jellyfish
import pandas as pd
from rapidfuzz.distance import Levenshtein

from kinmatch.data import BuiltTable
from kinmatch.normalize import name_text
from kinmatch.normalize.text import as_text, char_default_pinyin, is_han, is_latin_name

__all__ = [
    "FAMILIES", "REGIONAL_READINGS", "char_mandarin", "name_pinyin", "reading_variants",
    "fold_syllable", "merged_keys", "merger_sets", "area_families", "name_keys", "clean_name_keys", "SIDES",
    "clean_name_pinyin", "clean_jyutping", "area_name_keys",
    "minority_key",
    "jyutping",
    "cantonese_keys", "hk_roman_keys", "latin_keys", "char_diff_count", "pinyin_series",
    "name_keys_series", "is_resident_side",
]

FAMILIES = ("n_l", "retroflex", "n_ng", "f_h", "hu_wu", "r_y_l", "h_x")
"""Every merger family ``merged_keys`` understands."""

# h_x is not part of the dialect_areas table (its owner lists the six classic mergers); these
# areas keep velar readings before i in their colloquial layer.
EXTRA_AREA_FAMILIES = {area: ("h_x",) for area in ("JH_Man", "Wu", "Xiang", "Gan", "Hakka", "Min", "Yue")}

REGIONAL_READINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "SW_Man": {"龚": ("jiong",)},  # Sichuan: 龚 read "jiong", written 炅 (documented case)
}
"""Area → character → extra readings used for that area's keys (and for unknown areas)."""

DEFAULT_MAX_VARIANTS = 8

# ---------------------------------------------------------------------------------------------
# readings of one character


_READING_COLUMNS = ("mandarin", "jyutping", "hk_roman")


def _char_reading_cells() -> pd.DataFrame:
    """The ``char_readings`` table in one row: ``chars``, every character of the table in code-point
    order as one text, and per reading column (Mandarin, Jyutping, HK romanisation) its cells as
    written, in that order, one line each (an empty line for a blank cell). :data:`CHAR_READING_CELLS`
    ships it built.

    One row of long texts, not one row per character: a run reads it and splits its lines in a few
    milliseconds, where 44,000 rows of four cells took ~40 ms to become Python objects, and a
    character is found by bisecting the sorted ``chars`` (only a few thousand are ever looked up).
    A character listed twice keeps its last row; an entry that is not one character is never
    looked up and is left out."""
    from kinmatch.data import load_table

    table = load_table("char_readings")
    rows = {char: cells for char, *cells in zip(table["char"].tolist(), *[table[c].tolist() for c in _READING_COLUMNS],
                                                strict=True) if isinstance(char, str) and len(char) == 1}
    chars = sorted(rows)
    columns = {}
    for position, column in enumerate(_READING_COLUMNS):
        cells = [rows[char][position] if isinstance(rows[char][position], str) else "" for char in chars]
        if any("\n" in cell for cell in cells):
            raise ValueError(f"a {column} cell of char_readings holds a line break; it cannot be shipped as lines")
        columns[column] = ["\n".join(cells)]
    return pd.DataFrame({"chars": ["".join(chars)], **columns})


CHAR_READING_CELLS = BuiltTable("char_reading_cells", ("char_readings",), lambda: "1", _char_reading_cells)
"""The ``char_readings`` cells as lines (:func:`_char_reading_cells`), shipped built."""


@functools.lru_cache(maxsize=1)
def _char_cells() -> tuple[str, tuple[list[str], ...]]:
    """(every character in code-point order, each reading column's cells in that order)."""
    table = CHAR_READING_CELLS.columns()
    return table["chars"][0], tuple(table[column][0].split("\n") for column in _READING_COLUMNS)


def _split_readings(value: object) -> tuple[str, ...]:
    return tuple(value.split(";")) if isinstance(value, str) and value else ()


_NO_READINGS: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())


@functools.lru_cache(maxsize=None)
def _char_readings(char: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(Mandarin, Jyutping, HK romanisation) readings of one character in ``char_readings``."""
    chars, cells = _char_cells()
    position = bisect.bisect_left(chars, char)
    if len(char) != 1 or position == len(chars) or chars[position] != char:
        return _NO_READINGS
    return tuple(_split_readings(column[position]) for column in cells)


@functools.lru_cache(maxsize=None)
def char_mandarin(char: str) -> tuple[str, ...]:
    """Toneless Mandarin readings of one character: pypinyin's default first, then the modern
    dictionary readings of the ``char_readings`` table (Unihan). Empty for non-Han characters.

        >>> char_mandarin("单"), char_mandarin("乐"), char_mandarin("A")
        (('dan', 'chan', 'shan'), ('le', 'yue'), ())
    """
    if not is_han(char):
        return ()
    default = [char_default_pinyin(char)]
    readings = [r for r in default if r] + list(_char_readings(char)[0])
    return tuple(dict.fromkeys(r for r in readings if r))


def _char_jyutping(char: str) -> tuple[str, ...]:
    return _char_readings(char)[1]


def _char_hk(char: str) -> tuple[str, ...]:
    return _char_readings(char)[2]


@functools.lru_cache(maxsize=1)
def _surname_cantonese() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    from kinmatch.data import load_table

    table = load_table("surname_readings")
    out = {}
    for surname, jyut, roman in zip(table["surname"], table["jyutping"], table["hk_roman"], strict=True):
        out[surname] = (tuple((jyut or "").split()) if isinstance(jyut, str) else (),
                        tuple((roman or "").split()) if isinstance(roman, str) else ())
    return out


# ---------------------------------------------------------------------------------------------
# units: the surname reads as one unit, every other Han character alone


@functools.lru_cache(maxsize=500_000)
def _units(norm: str) -> tuple[tuple[str, bool], ...]:
    """(text, is_surname) units of a cleaned name; non-Han characters are skipped."""
    prefix, parts, given = name_text.split_name(norm)
    units = [(prefix, False)] if prefix else []
    units += [(part, True) for part in parts]
    units += [(char, False) for char in given if is_han(char)]
    return tuple(units)


@functools.lru_cache(maxsize=256)
def _reading_profile(area: str | None) -> tuple[bool, tuple[str, ...]]:
    """What of an area changes readings (not folds): h_x, and which REGIONAL_READINGS apply.
    Variants are cached per profile, so the 12 areas share most of the work."""
    if area is None or area_families(area) is None:
        return True, tuple(REGIONAL_READINGS)
    regions = tuple(r for r in REGIONAL_READINGS if area == r or _area_root(area) == r)
    return "h_x" in (area_families(area) or ()), regions


@functools.lru_cache(maxsize=200_000)
def _mandarin_options(unit: str, is_surname: bool, profile: tuple) -> tuple[tuple[str, ...], ...]:
    uses_h_x, regions = profile
    options: list[tuple[str, ...]] = []
    if is_surname:
        options += list(name_text.surname_readings().get(unit, ()))
    if len(unit) == 1:
        regional = [(r,) for region in regions for r in REGIONAL_READINGS[region].get(unit, ())]
        readings = [(r,) for r in char_mandarin(unit)]
        if uses_h_x:
            regional += [(v,) for v in _velar_readings(unit)]
        # the first reading stays first; regional readings come right after it so a variant cap
        # never cuts them off
        options += readings[:1] + regional + readings[1:]
    elif not options:
        options = [tuple(r for char in unit for r in char_mandarin(char)[:1])]
    return tuple(dict.fromkeys(o for o in options if o and all(o)))


@functools.lru_cache(maxsize=None)
def _velar_readings(char: str) -> tuple[str, ...]:
    """Old velar readings (咸 xian → han) of a character, for the ``h_x`` family.

    Mandarin merged two sources into j/q/x: old velars (咸 匣母, 街 见母) and old sibilants (小
    心母, 先 心母). Southern dialects keep the velars only; Cantonese does too, so a Jyutping
    reading starting with g/k/h marks the characters that get a velar alternative.
    """
    if not any(j[:1] in ("g", "k", "h") for j in _char_jyutping(char)[:2]):
        return ()
    out = []
    for reading in char_mandarin(char)[:2]:
        initial, final = _split_syllable(reading)
        if initial in _PALATAL_TO_VELAR and final in _PALATAL_FINALS:
            out.append(_PALATAL_TO_VELAR[initial] + _PALATAL_FINALS[final])
    return tuple(out)


def _enumerate(options: Sequence[Sequence[tuple[str, ...]]], limit: int) -> list[tuple[str, ...]]:
    """Combinations of per-unit options, fewest departures from the first option first."""
    options = [opts for opts in options if opts]
    if not options or limit <= 0:
        return []
    # a unit with one option departs nowhere: only the units with several choose positions (the
    # order of their combinations is that of all units', less the empty products)
    varying = [i for i, opts in enumerate(options) if len(opts) > 1]
    if not varying:  # the common case: one reading per unit
        return [tuple([s for opts in options for s in opts[0]])]
    if len(varying) == 1:  # one unit with several readings: its options in order
        i = varying[0]
        head = tuple([s for opts in options[:i] for s in opts[0]])
        tail = tuple([s for opts in options[i + 1:] for s in opts[0]])
        return [head + option + tail for option in options[i][:limit]]
    out: list[tuple[str, ...]] = []
    chain = itertools.chain.from_iterable
    for departures in range(len(varying) + 1):
        for positions in itertools.combinations(varying, departures):
            choices = [opts[1:] if i in positions else opts[:1] for i, opts in enumerate(options)]
            for combo in itertools.product(*choices):
                out.append(tuple(chain(combo)))
                if len(out) >= limit:
                    return out
    return out


_PLAIN_PROFILE = (False, ())


@functools.lru_cache(maxsize=None)
def _profile_sensitive(unit: str) -> bool:
    """True if an area can change this unit's readings (regional or velar readings)."""
    return len(unit) == 1 and (any(unit in table for table in REGIONAL_READINGS.values())
                               or bool(_velar_readings(unit)))


@functools.lru_cache(maxsize=100_000)  # a bool per name: small, and cheap to work out again
def _name_sensitive(norm: str) -> bool:
    """True if an area can change the readings of some unit of this cleaned name."""
    return any(_profile_sensitive(unit) for unit, _ in _units(norm))


def _variants(norm: str, area: str | None, limit: int) -> tuple[tuple[str, ...], ...]:
    profile = _reading_profile(area)
    if profile != _PLAIN_PROFILE and not _name_sensitive(norm):
        profile = _PLAIN_PROFILE  # most names read the same everywhere: share one cache entry
    return _profile_variants(norm, profile, limit)


@functools.lru_cache(maxsize=500_000)
def _profile_variants(norm: str, profile: tuple, limit: int) -> tuple[tuple[str, ...], ...]:
    options = [_mandarin_options(unit, is_surname, profile) for unit, is_surname in _units(norm)]
    return tuple(dict.fromkeys(_enumerate(options, limit)))


def _norm(text: object) -> str:
    return name_text.clean_name(text)


def name_pinyin(text: object) -> str:
    """Toneless pinyin of a name, syllables space-separated, surname read as a surname.

    ü is written ``v`` (pypinyin's convention). Latin-script names come back lower-cased.

        >>> name_pinyin("曾国藩"), name_pinyin("區志明"), name_pinyin("吕女士")
        ('zeng guo fan', 'ou zhi ming', 'lv')
    """
    return clean_name_pinyin(_norm(text))


def _starts_han(norm: str) -> bool:
    """True when a non-empty name starts with a character of the basic CJK block: then it is not a
    Latin-script name (:func:`is_latin_name` looks for any Han character first), and most names do."""
    return "\u4e00" <= norm[0] <= "\u9fff"


def clean_name_pinyin(norm: str) -> str:
    """:func:`name_pinyin` of a name already passed through ``clean_name`` (skips cleaning)."""
    if not norm:
        return ""
    if not _starts_han(norm) and is_latin_name(norm):
        return " ".join(_latin_tokens(norm))
    # the usual reading: each unit's first option, which no area's readings change (regional and
    # velar readings come after it), so the plain profile's options serve every area
    return " ".join([syllable for unit, is_surname in _units(norm)
                     for syllable in _first_option(unit, is_surname)])


@functools.lru_cache(maxsize=200_000)
def _first_option(unit: str, is_surname: bool) -> tuple[str, ...]:
    options = _mandarin_options(unit, is_surname, _PLAIN_PROFILE)
    return options[0] if options else ()


def reading_variants(text: object, max_variants: int = DEFAULT_MAX_VARIANTS) -> list[str]:
    """All readings of a name (heteronyms), usual reading first, at most ``max_variants``.

    Variants that change fewer characters come first, so the cap drops the least likely ones.

        >>> reading_variants("单文")
        ['shan wen', 'dan wen', 'chan wen']
    """
    norm = _norm(text)
    if not norm or is_latin_name(norm):
        return [name_pinyin(norm)] if norm else []
    return [" ".join(v) for v in _variants(norm, None, max_variants)]


# ---------------------------------------------------------------------------------------------
# dialect mergers

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
             "r", "z", "c", "s", "y", "w")
_F_TO_HU = {"fa": "hua", "fan": "huan", "fang": "huang", "fei": "hui", "fen": "hun", "feng": "hong",
            "fo": "huo", "fou": "hou", "fu": "hu"}
_HU_TO_W = {"hu": "wu", "hua": "wa", "huai": "wai", "huan": "wan", "huang": "wang", "hui": "wei",
            "hun": "wen", "huo": "wo"}
_R_TO_Y = {"ri": "yi", "re": "ye", "ren": "yin", "reng": "ying", "rang": "yang", "rao": "yao",
           "rou": "you", "ru": "yu", "ruan": "yuan", "run": "yun", "ruo": "yue", "rong": "yong",
           "rua": "ya"}
_PALATAL_TO_VELAR = {"j": "g", "q": "k", "x": "h"}
_PALATAL_FINALS = {"ia": "a", "ian": "an", "iang": "ang", "iao": "ao", "ie": "ai"}
# Fixed order in which combined folds are applied (f→hu must precede hu→w; r→y precedes n→l).
_OP_ORDER = ("h_x", "r_y", "r_l", "f_h", "hu_wu", "n_l", "retroflex", "n_ng")
_FAMILY_OPS = {"n_l": ("n_l",), "retroflex": ("retroflex",), "n_ng": ("n_ng",), "f_h": ("f_h",),
               "hu_wu": ("hu_wu",), "r_y_l": ("r_y", "r_l"), "h_x": ("h_x",)}


def _split_syllable(syllable: str) -> tuple[str, str]:
    for initial in _INITIALS:
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial):]
    return "", syllable


@functools.lru_cache(maxsize=None)
def _fold_op(syllable: str, op: str) -> str:
    initial, final = _split_syllable(syllable)
    if op == "n_l":
        return "l" + final if initial == "n" else syllable
    if op == "retroflex":
        return initial[0] + final if initial in ("zh", "ch", "sh") else syllable
    if op == "n_ng":
        if final.endswith("eng") or final.endswith("ing"):
            return syllable[:-1]
        return syllable
    if op == "f_h":
        return _F_TO_HU.get(syllable, syllable)
    if op == "hu_wu":
        return _HU_TO_W.get(syllable, syllable)
    if op == "r_y":
        return _R_TO_Y.get(syllable, syllable)
    if op == "r_l":
        return "l" + final if initial == "r" else syllable
    if op == "h_x":
        if initial in _PALATAL_TO_VELAR and final in _PALATAL_FINALS:
            return _PALATAL_TO_VELAR[initial] + _PALATAL_FINALS[final]
        return syllable
    raise ValueError(f"unknown merger {op!r}; use one of {', '.join(_OP_ORDER)}")


@functools.lru_cache(maxsize=None)
def fold_syllable(syllable: str, ops: tuple[str, ...]) -> str:
    """Apply merger operations (``n_l``, ``retroflex``, ``n_ng``, ``f_h``, ``hu_wu``, ``r_y``,
    ``r_l``, ``h_x``) to one toneless syllable, in the module's fixed order.

        >>> fold_syllable("huang", ("hu_wu",)), fold_syllable("fu", ("f_h",)), fold_syllable("xian", ("h_x",))
        ('wang', 'hu', 'han')
    """
    for op in _OP_ORDER:
        if op in ops:
            syllable = _fold_op(syllable, op)
    return syllable


def _ops_for(families: Iterable[str]) -> list[tuple[str, ...]]:
    """Single-family op sets, then the combined op sets (one per r→y / r→l choice)."""
    families = set(families)
    for family in families:
        if family not in _FAMILY_OPS:
            raise ValueError(f"unknown merger family {family!r}; use some of {', '.join(FAMILIES)}")
    families = [f for f in FAMILIES if f in families]
    singles = [(op,) for f in families for op in _FAMILY_OPS[f]]
    combined = [tuple(sorted(set(ops)))
                for ops in itertools.product(*[_FAMILY_OPS[f] for f in families])] if len(families) > 1 else []
    return list(dict.fromkeys(singles + combined))


@functools.lru_cache(maxsize=512)
def merger_sets(families: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The merger operation sets :func:`merged_keys` applies for ``families`` (one per family, then
    the combined ones): one key of a syllable per set, by :func:`fold_syllable`.

        >>> merger_sets(("n_l", "f_h"))
        (('n_l',), ('f_h',), ('f_h', 'n_l'))
    """
    return tuple(_ops_for(families))


def merged_keys(syllables: Sequence[str] | str, families: Iterable[str]) -> tuple[str, ...]:
    """Dialect-merged keys of one reading: one key per family, plus the key with all of them.

    ``syllables`` is a list of toneless syllables or a space-separated string.

        >>> merged_keys("hu zhou", ["f_h"]) == merged_keys("fu zhou", ["f_h"])
        True
        >>> merged_keys("nan ren", ["n_l", "r_y_l"])
        ('lan ren', 'nan yin', 'nan len', 'lan yin', 'lan len')
    """
    if isinstance(syllables, str):
        syllables = syllables.split()
    keys = [" ".join(fold_syllable(s, ops) for s in syllables) for ops in _ops_for(families)]
    return tuple(dict.fromkeys(keys))


@functools.lru_cache(maxsize=1)
def _area_table() -> dict[str, tuple[str, ...]]:
    from kinmatch import data
    from kinmatch.errors import KinmatchError

    # No fallback to "every area unknown": that would quietly switch off every sound merger and
    # lose true matches without a word. A broken install must be fixed, so say so.
    try:
        table = data.load_table("dialect_areas")
    except KinmatchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file raises many types; re-raised below
        raise KinmatchError(
            f"cannot read the reference table 'dialect_areas' ({type(exc).__name__}: {exc}). "
            "Without it no dialect sound merger (胡/吴, 南/蓝...) can be applied to names. "
            "Reinstall kinmatch or rebuild the tables with `python tools/build_data.py`.") from exc
    missing = {"area", "mergers"} - set(table.columns)
    if missing:
        raise KinmatchError(
            f"the reference table 'dialect_areas' lacks the column(s) {', '.join(sorted(missing))} "
            f"(has: {', '.join(map(str, table.columns))}), so no dialect sound merger can be "
            "applied to names. Rebuild the tables with `python tools/build_data.py`.")
    mergers = {area: tuple(m for m in (value or "").split(";") if m) if isinstance(value, str) else ()
               for area, value in zip(table["area"], table["mergers"], strict=True)}
    parents = dict(zip(table["area"], table["parent"], strict=True)) if "parent" in table else {}
    out = {}
    for area in mergers:
        families = list(mergers[area])
        parent = parents.get(area)
        while isinstance(parent, str) and parent in mergers:
            families += mergers[parent]
            parent = parents.get(parent)
        # A group area (N_Man) stands for any of its sub-areas (N_Man_Jin, N_Man_NE): an accent
        # or hometown placed only in the group may carry a sub-area's merger.
        families += [f for child, p in parents.items() if p == area for f in mergers.get(child, ())]
        out[area] = tuple(dict.fromkeys(families))
    return out


@functools.lru_cache(maxsize=256)
def _area_root(area: str) -> str:
    table = _area_table()
    for candidate in sorted(table, key=len, reverse=True):
        if area != candidate and area.startswith(candidate + "_"):
            return candidate
    return area


@functools.lru_cache(maxsize=256)
def area_families(area: str | None) -> tuple[str, ...] | None:
    """Merger families of a dialect area (table ``dialect_areas`` + ``h_x``); None if unknown.

    **The single source of truth** for which sound mergers an area carries: name keys, and any
    other module that needs an area's mergers (``dialects.area_mergers`` should delegate here),
    must ask this function rather than read the table. It adds what the raw ``mergers`` column
    does not say: a sub-area inherits its parent's families (``N_Man_NE`` + ``N_Man``), a group
    area carries every family of its sub-areas (an accent placed only in ``N_Man`` may be
    Northeastern ``r_y_l`` or Jin ``n_ng``), a sub-area code not in the table (``Wu_Taihu``)
    falls back to its root, and ``h_x`` is added for the areas of ``EXTRA_AREA_FAMILIES``.

        >>> area_families("N_Man")
        ('r_y_l', 'n_ng')
        >>> area_families("Wu")
        ('retroflex', 'n_ng', 'hu_wu', 'h_x')
    """
    if not area:
        return None
    table = _area_table()
    if area not in table:
        root = _area_root(area)
        if root not in table:
            return None
        area = root
    families = table[area] + EXTRA_AREA_FAMILIES.get(area, ())
    if area not in EXTRA_AREA_FAMILIES:
        families += EXTRA_AREA_FAMILIES.get(_area_root(area), ())
    return tuple(f for f in dict.fromkeys(families) if f in FAMILIES)


@functools.lru_cache(maxsize=256)
def _fold_sets(area: str | None) -> tuple[tuple[str, ...], ...]:
    families = area_families(area)
    if families is not None:
        return tuple(_ops_for(families))
    # unknown area: each family alone, and each known area's combination
    sets = [(op,) for family in FAMILIES for op in _FAMILY_OPS[family]]
    for known in _area_table():
        sets += _ops_for(area_families(known) or ())
    return tuple(dict.fromkeys(sets))


SIDES = ("report", "resident")
"""Which side of a pair a name is on (``side`` of :func:`name_keys`); None means ``report``."""

# Every single-operation fold, for the resident side (h_x is a reading, not a fold: see below).
_SINGLE_FOLDS = tuple((op,) for family in FAMILIES for op in _FAMILY_OPS[family] if op != "h_x")


@functools.lru_cache(maxsize=256)
def _key_fold_sets(area: str | None, resident: bool = False) -> tuple[tuple[str, ...], ...]:
    # h_x is applied per character (see _velar_readings), never as a blind syllable fold: a
    # syllable fold would also merge 小 xiao (an old sibilant) with 好 hao
    sets = [tuple(op for op in ops if op != "h_x") for ops in _fold_sets(area)]
    if resident:
        # The resident is the speaker, but the station's accent note is often missing or wrong,
        # while the report's hometown says which dialect the person grew up with. Every fold is
        # canonical (胡 hu and 吴 wu both fold to wu), so a resident that carries the fold of every
        # family meets a report under any family of the report's own area.
        sets += _SINGLE_FOLDS
    return tuple(dict.fromkeys(ops for ops in sets if ops))


@functools.lru_cache(maxsize=256)
def _key_plan(area: str | None, resident: bool) -> tuple[tuple, tuple[tuple[str, ...], ...], dict, bool]:
    """What an area's keys need, looked up once per (area, side): its reading profile
    (:data:`_PLAIN_PROFILE` itself when plain), its fold sets, a table (filled as syllables are met)
    of each syllable folded by every one of them (:func:`_syllable_folds`), and whether Hong Kong
    romanisations are keys too."""
    profile = _reading_profile(area)
    return (_PLAIN_PROFILE if profile == _PLAIN_PROFILE else profile, _key_fold_sets(area, resident), {},
            _is_cantonese_area(area))


def _syllable_folds(syllable: str, fold_sets: tuple[tuple[str, ...], ...], table: dict) -> tuple[str, ...]:
    """The syllable folded by each fold set, kept in ``table``."""
    table[syllable] = folded = tuple(fold_syllable(syllable, ops) for ops in fold_sets)
    return folded


def is_resident_side(side: str | None) -> bool:
    """True for ``side="resident"``, False for ``"report"`` or None; anything else is an error.

        >>> is_resident_side("resident"), is_resident_side(None)
        (True, False)
    """
    if side is None or side == "report":
        return False
    if side == "resident":
        return True
    raise ValueError(f"side must be one of {', '.join(SIDES)} or None, not {side!r}")


@functools.lru_cache(maxsize=256)
def _is_cantonese_area(area: str | None) -> bool:
    return area is None or area == "Yue" or _area_root(area) == "Yue"


@functools.lru_cache(maxsize=500_000)
def _name_keys(norm: str, area: str | None, max_variants: int, resident: bool = False) -> tuple[str, ...]:
    if not norm:
        return ()
    if not _starts_han(norm) and is_latin_name(norm):
        return latin_keys(norm)
    profile, fold_sets, folds, cantonese = _key_plan(area, resident)
    if profile is not _PLAIN_PROFILE and not _name_sensitive(norm):
        profile = _PLAIN_PROFILE  # as in _variants
    variants = _profile_variants(norm, profile, max_variants)
    keys = [" ".join(v) for v in variants]
    get = folds.get
    for variant in variants:
        # one key per fold set: the variant's syllables each folded by it (a fold set that
        # changes no syllable gives the reading itself, already a key)
        keys += map(" ".join, zip(*[get(s) or _syllable_folds(s, fold_sets, folds) for s in variant]))
    if name_text.is_minority(norm):
        key = minority_key(norm)
        # vowels of transliterations vary most (卡德尔/卡迪尔): also a consonant skeleton, when it
        # is long enough to stay specific
        skeleton = re.sub("[aeiouvyw]", "", key)
        keys += [key, skeleton] if len(skeleton) >= 4 else [key]
    if cantonese:
        keys += hk_roman_keys(norm, max_variants=6)
    distinct = dict.fromkeys(keys)
    distinct.pop("", None)
    return tuple(distinct)


def name_keys(text: object, area: str | None = None, max_variants: int = DEFAULT_MAX_VARIANTS,
              side: str | None = None) -> tuple[str, ...]:
    """Phonetic keys of a name: its readings (heteronyms, surname readings) and their
    dialect-merged forms for the merger families of ``area`` (every area when ``None``).

    ``side="resident"`` adds the single-family fold of *every* family (at most a few more keys):
    a resident's name was written from their own speech, and their dialect is best known from
    the report's hometown, so the pair meets under any merger of the report's area (``side``
    ``"report"`` or None: own area only) even when the station noted the accent wrong or not at
    all. Two reports, or two residents, still meet only under their own areas' mergers.

        >>> hometown_wu = name_keys("胡春花", "Wu")                     # the report
        >>> bool(set(name_keys("吴春花", "JH_Man", side="resident")) & set(hometown_wu))
        True
        >>> bool(set(name_keys("吴春花", "JH_Man")) & set(hometown_wu))  # JH_Man has no hu/wu
        False

    Also: a minority-name key (:func:`minority_key`) for transliterated names, Hong Kong
    romanisations for Cantonese (``Yue``) or unknown areas, and :func:`latin_keys` when the name
    itself is in Latin letters. An unknown area code counts as ``None``.

        >>> "wang xiao ming" in name_keys("黄小明", "Wu")
        True
    """
    return _name_keys(_norm(text), _key_area(area), max_variants, is_resident_side(side))


@functools.lru_cache(maxsize=256)
def _key_area(area: object) -> str | None:
    area = as_text(area) or None
    return area if area is not None and area_families(area) is not None else None


def clean_name_keys(norm: str, area: str | None = None, side: str | None = None) -> tuple[str, ...]:
    """:func:`name_keys` for a name already passed through ``clean_name`` (skips cleaning)."""
    return _name_keys(norm, _key_area(area), DEFAULT_MAX_VARIANTS, is_resident_side(side))


@functools.lru_cache(maxsize=256)
def area_name_keys(area: str | None = None, side: str | None = None) -> Callable[[str], tuple[str, ...]]:
    """:func:`clean_name_keys` with ``area`` and ``side`` fixed (each checked once): a function of a
    cleaned name, for a caller that makes the keys of many names in one area.

        >>> area_name_keys("Wu")("胡春花") == clean_name_keys("胡春花", "Wu")
        True
    """
    key_area, resident = _key_area(area), is_resident_side(side)

    def keys_of(norm: str) -> tuple[str, ...]:
        return _name_keys(norm, key_area, DEFAULT_MAX_VARIANTS, resident)

    return keys_of


def char_diff_count(a: object, b: object) -> int:
    """Characters to change to turn one cleaned name into the other (Levenshtein on characters).

    For the "one character off" case (王兴江 was really 王山江), which is not phonetic.

        >>> char_diff_count("王兴江", "王山江"), char_diff_count("林耀星", "林耀忠"), char_diff_count("李伟", "李伟")
        (1, 1, 0)
    """
    return Levenshtein.distance(_norm(a), _norm(b))


# ---------------------------------------------------------------------------------------------
# minority names


def _minority_fold(letters: str) -> str:
    # Transliterations of the same foreign sound vary in aspiration (卜/普, 杜/图, 提/迪),
    # in -ou/-u (都 dou/杜 du) and in -n/-ng; fold them all.
    letters = letters.replace("ou", "u").replace("ng", "n")
    return letters.translate(str.maketrans({"p": "b", "t": "d", "k": "g", "q": "j", "c": "z"}))


def _minority_syllable(syllable: str) -> str:
    # 卜 is "bo" in 萝卜 but "bu" in 阿卜杜拉: a bare -o after a labial folds to -u; the vowel
    # written 阿 a / 艾 ai / 额 e (艾力 = 阿里) folds to a
    if syllable in ("bo", "po", "mo", "fo"):
        return syllable[:-1] + "u"
    return "a" if syllable in ("ai", "e", "ei") else syllable


def _minority_part(part: str) -> str:
    # the Uyghur endearment suffix -jan (江) comes and goes: 努尔江 = 努尔
    return part[:-1] if len(part) >= 3 and part.endswith("江") else part


@functools.lru_cache(maxsize=200_000)
def minority_key(text: object) -> str:
    """Separator-free, variant-folded key of a transliterated name.

        >>> minority_key("阿卜杜拉·买买提") == minority_key("阿布都拉.麦麦提") == minority_key("Abudula Maimaiti")
        True
    """
    norm = _norm(text)
    if is_latin_name(norm):
        letters = "".join(_latin_tokens(norm))
    else:
        chars = "".join(_minority_part(part) for part in norm.split("·"))
        letters = "".join(_minority_syllable(char_mandarin(char)[0]) for char in chars if char_mandarin(char))
    return _minority_fold(letters)


# ---------------------------------------------------------------------------------------------
# Cantonese


@functools.lru_cache(maxsize=100_000)
def _cantonese_unit(unit: str, is_surname: bool, which: int) -> tuple[tuple[str, ...], ...]:
    surnames = _surname_cantonese()
    opts: list[tuple[str, ...]] = []
    if is_surname and unit in surnames and surnames[unit][which]:
        opts.append(surnames[unit][which])
    if len(unit) == 1:
        lookup = _char_jyutping if which == 0 else _char_hk
        opts += [(r,) for r in lookup(unit)]
    return tuple(dict.fromkeys(opts))


def _cantonese_options(norm: str, which: int) -> list[tuple[tuple[str, ...], ...]]:
    return [_cantonese_unit(unit, is_surname, which) for unit, is_surname in _units(norm)]


@functools.lru_cache(maxsize=200_000)
def _jyutping_variants(norm: str, limit: int) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(_enumerate(_cantonese_options(norm, 0), limit)))


@functools.lru_cache(maxsize=200_000)
def _hk_variants(norm: str, limit: int) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(_enumerate(_cantonese_options(norm, 1), limit)))


def jyutping(text: object) -> str:
    """Toneless Jyutping of a name (rime-cantonese default readings; surname readings corrected).

        >>> jyutping("陳大文"), jyutping("曾志伟")
        ('can daai man', 'zang zi wai')
    """
    return clean_jyutping(_norm(text))


def clean_jyutping(norm: str) -> str:
    """:func:`jyutping` of a name already passed through ``clean_name`` (skips cleaning)."""
    if not norm or not _starts_han(norm) and is_latin_name(norm):
        return ""
    return " ".join([s for unit, is_surname in _units(norm) for s in _first_jyutping(unit, is_surname)])


@functools.lru_cache(maxsize=100_000)
def _first_jyutping(unit: str, is_surname: bool) -> tuple[str, ...]:
    options = _cantonese_unit(unit, is_surname, 0)
    return options[0] if options else ()


def hk_roman_keys(text: object, max_variants: int = DEFAULT_MAX_VARIANTS) -> tuple[str, ...]:
    """Hong Kong Government romanisations of a name, as on HKID cards, lower case.

        >>> "chan tai man" in hk_roman_keys("陈大文")
        True
    """
    norm = _norm(text)
    if not norm or is_latin_name(norm):
        return ()
    return tuple(" ".join(v) for v in _hk_variants(norm, max_variants))


def cantonese_keys(text: object, max_variants: int = DEFAULT_MAX_VARIANTS) -> tuple[str, ...]:
    """Cantonese keys: Jyutping readings (all heteronyms, default first) and HK romanisations.

        >>> cantonese_keys("区志明")[:2]
        ('au zi ming', 'keoi zi ming')
    """
    norm = _norm(text)
    if not norm or is_latin_name(norm):
        return latin_keys(norm) if norm else ()
    jyut = [" ".join(v) for v in _jyutping_variants(norm, max_variants)]
    return tuple(dict.fromkeys(jyut + list(hk_roman_keys(norm, max_variants))))


# ---------------------------------------------------------------------------------------------
# Latin-script names


@functools.lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset:
    syllables = {r for mandarin in _char_cells()[1][0] for r in _split_readings(mandarin)}
    # bare consonant interjections (n, m, ng, hm) would let any string "segment"
    return frozenset(s for s in syllables if len(s) >= 2 and re.search("[aeiouv]", s))


@functools.lru_cache(maxsize=100_000)
def _segment(token: str) -> tuple[str, ...]:
    """Split a run-together pinyin word (``sanfeng`` → san feng); unchanged if it is not pinyin."""
    syllables = _pinyin_syllables()
    if token in syllables or len(token) < 4:
        return (token,)
    best: list[tuple[str, ...] | None] = [None] * (len(token) + 1)
    best[0] = ()
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 6), end - 1):
            head = best[start]
            piece = token[start:end]
            if head is not None and piece in syllables:
                candidate = head + (piece,)
                if best[end] is None or len(candidate) < len(best[end]):
                    best[end] = candidate
    return best[-1] or (token,)


def _latin_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.lower().replace("ü", "v"))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return re.findall("[a-z]+", text)


@functools.lru_cache(maxsize=200_000)
def latin_keys(text: object) -> tuple[str, ...]:
    """Keys of a romanised name (pinyin, HK romanisation, Wade–Giles, English order...).

    - the words lower-cased and space-joined (meets :func:`name_keys` of the Chinese name:
      ``Zhang San`` ↔ 张三; ``Chan Tai Man`` ↔ 陈大文 via HK romanisation), run-together pinyin
      split (``Zhang Sanfeng`` → ``zhang san feng``), and the surname-last order rotated
      (``Taiman Chan``);
    - a :func:`minority_key` (``Abudula Maimaiti`` ↔ 阿卜杜拉·买买提);
    - jellyfish phonetic codes for Latin ↔ Latin spelling variants, prefixed so they only meet
      each other: ``metaphone:``, ``nysiis:``, ``mra:`` (match rating codex).

        >>> latin_keys("ZHANG Sanfeng")[:2]
        ('zhang san feng', 'zhang sanfeng')
    """
    tokens = _latin_tokens(as_text(text))
    if not tokens:
        return ()
    split = [s for token in tokens for s in _segment(token)]
    keys = [" ".join(split), " ".join(tokens)]
    if len(tokens) >= 2:
        last = _segment(tokens[-1])
        rest = [s for token in tokens[:-1] for s in _segment(token)]
        keys.append(" ".join(list(last) + rest))
    joined = "".join(tokens)
    keys.append(_minority_fold(joined))
    keys.append("metaphone:" + jellyfish.metaphone(" ".join(tokens)).replace(" ", ""))
    keys.append("nysiis:" + " ".join(jellyfish.nysiis(token) for token in tokens))
    keys.append("mra:" + jellyfish.match_rating_codex(joined))
    return tuple(dict.fromkeys(k for k in keys if k and not k.endswith(":")))


# ---------------------------------------------------------------------------------------------
# vectorized forms


def _series(values) -> pd.Series:
    return values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)


def pinyin_series(names: Iterable) -> pd.Series:
    """:func:`name_pinyin` over a Series (each distinct value computed once)."""
    names = _series(names)
    codes, uniques = pd.factorize(names.map(as_text))
    values = [name_pinyin(u) for u in uniques]
    return pd.Series([values[c] for c in codes], index=names.index, dtype=object)


def name_keys_series(names: Iterable, area=None, side: str | None = None) -> pd.Series:
    """:func:`name_keys` over a Series; ``area`` is one code, None, or a Series aligned with names;
    ``side`` as in :func:`name_keys`.

        >>> name_keys_series(pd.Series(["李伟", "李玮"])).map(lambda k: "li wei" in k).tolist()
        [True, True]
    """
    names = _series(names)
    if isinstance(area, pd.Series):
        areas = area.reindex(names.index).map(lambda v: as_text(v) or None)
    else:
        areas = pd.Series([area] * len(names), index=names.index, dtype=object)
    pairs = list(zip(names.map(as_text), areas, strict=True))
    cache: dict = {}
    out = []
    for pair in pairs:
        if pair not in cache:
            cache[pair] = name_keys(pair[0], pair[1], side=side)
        out.append(cache[pair])
    return pd.Series(out, index=names.index, dtype=object)
