"""How a station record garbles a true identity: names written by sound, dialect mergers, partial
and assigned names, traditional characters, minority-name variants.

Homophones come from a character pool (common characters with Unihan kHanyuPinlu frequencies,
given-name characters and surnames) grouped by their pypinyin reading. The grouping is built
here on purpose and not taken from :mod:`kinmatch.normalize`, so that the simulator tests the
normalizers instead of echoing them.

    >>> import numpy as np
    >>> pool = char_pool()
    >>> new = pool.homophone("李伟", np.random.default_rng(1))
    >>> new != "李伟" and pool.reading(new[-1]) == pool.reading("伟") or new[0] != "李"
    True
"""

from __future__ import annotations

import functools

import numpy as np
import opencc
from pypinyin import Style, pinyin

from kinmatch.data import load_table
from kinmatch.datasets import vocab

# Syllable rewrites per merger family (toneless pinyin). Each maps a standard syllable to what
# a speaker of a merging dialect says, or what a clerk hears; both directions occur
# (hypercorrection), except where noted.
_F_H = {"fu": "hu", "fa": "hua", "fei": "hui", "fen": "hun", "fang": "huang", "feng": "hong",
        "fan": "huan", "fo": "huo"}
_HU_WU = {"hu": "wu", "hua": "wa", "huai": "wai", "huan": "wan", "huang": "wang", "hui": "wei",
          "hun": "wen", "huo": "wo"}
_R_Y = {"ren": "yin", "rou": "you", "ri": "yi", "ruan": "yuan", "rang": "yang", "re": "ye", "ru": "yu",
        "rong": "yong", "run": "yun", "rao": "yao", "rui": "lui", "reng": "leng"}


def merge_syllable(syllable: str, family: str) -> list[str]:
    """The syllables a dialect merger turns ``syllable`` into (may be empty).

    >>> merge_syllable("hu", "hu_wu"), merge_syllable("nan", "n_l"), merge_syllable("cheng", "n_ng")
    (['wu'], ['lan'], ['chen'])
    """
    s = syllable
    out: list[str] = []
    if family == "n_l":
        if s.startswith("n") and not s.startswith("ng"):
            out.append("l" + s[1:])
        elif s.startswith("l"):
            out.append("n" + s[1:])
    elif family == "retroflex":
        for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
            if s.startswith(a):
                out.append(b + s[2:])
                break
        else:
            for b, a in (("z", "zh"), ("c", "ch"), ("s", "sh")):
                if s.startswith(b):
                    out.append(a + s[1:])
                    break
    elif family == "n_ng":
        if s.endswith(("eng", "ing")):
            out.append(s[:-1])
        elif s.endswith(("en", "in")) and not s.endswith(("ien",)):
            out.append(s + "g")
    elif family == "f_h":
        inverse = {v: k for k, v in _F_H.items()}
        if s in _F_H:
            out.append(_F_H[s])
        elif s in inverse:
            out.append(inverse[s])
    elif family == "hu_wu":
        if s in _HU_WU:
            out.append(_HU_WU[s])
        elif s == "wang":  # huang/wang is heard both ways
            out.append("huang")
    elif family == "r_y_l":
        if s in _R_Y:
            out.append(_R_Y[s])
    return out


class CharPool:
    """Characters a clerk might write, grouped by toneless pypinyin reading.

    Only characters with a single toneless reading are used, both as the character replaced and
    as its replacement, so that "same sound" is unambiguous (单 reads dan/shan/chan and is left
    alone).
    """

    def __init__(self) -> None:
        chars = load_table("common_chars", dtype={"pinlu": float})
        given = load_table("given_name_freq", dtype={"weight": float})
        surnames = load_table("surname_freq", dtype={"weight": float})
        weight: dict[str, float] = {}
        # sqrt damping: a clerk picks a common character, but not always the commonest one.
        for char, count in zip(chars["char"], chars["pinlu"]):
            weight[char] = weight.get(char, 0.0) + 0.2 * float(np.sqrt(count))
        for table, column in ((given[given["kind"] != "name"], "given_name"),
                              (surnames[surnames["surname"].str.len() == 1], "surname")):
            for char, w in zip(table[column], table["weight"]):
                # name characters are what a clerk reaches for when writing a name
                weight[char] = weight.get(char, 0.0) + 50.0 + 2000.0 * w
        # the 300 commonest surnames: a clerk who hears "wu" writes 吴 or 伍, not 毋
        self.surname_set = frozenset(surnames.sort_values("weight", ascending=False)["surname"].head(300))
        # Characters seen in given names, plus the commonest characters: what a clerk writes in a
        # given name. Rare characters (肪, 鵑) stay out of given names.
        common = chars.sort_values("pinlu", ascending=False)["char"].head(1000)
        self.given_set = frozenset(given.loc[given["kind"] != "name", "given_name"]) | frozenset(common)
        self._reading: dict[str, str] = {}
        groups: dict[str, list[tuple[str, float]]] = {}
        for char, w in weight.items():
            readings = {r for r in pinyin(char, style=Style.NORMAL, heteronym=True)[0]}
            if len(readings) != 1:
                continue
            reading = readings.pop()
            if not reading.isascii() or not reading.isalpha():
                continue
            self._reading[char] = reading
            groups.setdefault(reading, []).append((char, w))
        self._groups = {
            r: (np.array([c for c, _ in items]), np.array([w for _, w in items]) / sum(w for _, w in items))
            for r, items in groups.items()
        }

    def reading(self, char: str) -> str | None:
        """Toneless reading of a single-reading pool character, else None."""
        return self._reading.get(char)

    def _pick(self, reading: str, exclude: str, rng: np.random.Generator, surname: bool = False) -> str | None:
        group = self._groups.get(reading)
        if group is None:
            return None
        chars, probs = group
        # a surname becomes another surname (胡 → 吴), a given-name character another character
        # fit for a name; never an odd character no clerk would write
        allowed = self.surname_set if surname else self.given_set
        keep = (chars != exclude) & np.array([c in allowed for c in chars])
        if not keep.any():
            return None
        p = probs[keep] / probs[keep].sum()
        return str(rng.choice(chars[keep], p=p))

    def homophone(self, name: str, rng: np.random.Generator, surname_len: int = 1) -> str | None:
        """``name`` with one character replaced by another of the same reading, or None.

        Given-name characters are replaced more often than the surname (a clerk asks "which 李?"
        more readily than "which 伟?").
        """
        positions = [i for i, c in enumerate(name) if self.reading(c)]
        if not positions:
            return None
        weights = np.array([1.0 if i < surname_len else 3.0 for i in positions])
        for i in rng.permutation(positions).tolist() if rng.random() < 0.2 else \
                [positions[k] for k in rng.choice(len(positions), size=len(positions), replace=False,
                                                  p=weights / weights.sum())]:
            new = self._pick(self._reading[name[i]], name[i], rng, surname=i < surname_len)
            if new:
                return name[:i] + new + name[i + 1:]
        return None

    def mergeable(self, name: str, families: tuple[str, ...], surname_len: int = 1) -> bool:
        """Whether a merger of ``families`` can rewrite some character of ``name``.

        >>> char_pool().mergeable("胡春花", ("hu_wu",)), char_pool().mergeable("胡春花", ())
        (True, False)
        """
        for i, char in enumerate(name):
            reading = self.reading(char)
            allowed = self.surname_set if i < surname_len else self.given_set
            for family in families if reading else ():
                for target in merge_syllable(reading, family):
                    chars = self._groups.get(target, ((),))[0]
                    if any(c != char and c in allowed for c in chars):
                        return True
        return False

    def merge(self, name: str, families: tuple[str, ...], rng: np.random.Generator,
              surname_len: int = 1) -> tuple[str, str] | None:
        """``(new_name, family)``: one character rewritten by a merger of ``families``, or None."""
        options = []
        for i, char in enumerate(name):
            reading = self.reading(char)
            if not reading:
                continue
            for family in families:
                for target in merge_syllable(reading, family):
                    if target in self._groups:
                        options.append((i, target, family))
        rng.shuffle(options)
        for i, target, family in options:
            new = self._pick(target, name[i], rng, surname=i < surname_len)
            if new:
                return name[:i] + new + name[i + 1:], family
        return None


@functools.lru_cache(maxsize=1)
def char_pool() -> CharPool:
    """The shared :class:`CharPool` (built once per process, ~0.3 s)."""
    return CharPool()


@functools.lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def traditional(name: str) -> str:
    """``name`` in traditional characters, converted character by character.

    Per character on purpose: phrase conversion turns 华发 into 華髮 (hair), which no clerk writes
    for a name.

    >>> traditional("刘国华")
    '劉國華'
    """
    convert = _s2t().convert
    return "".join(convert(c) for c in name)


def minority_variant(name: str, rng: np.random.Generator) -> str | None:
    """Another transliteration of a Uyghur name: a variant spelling and/or another separator.

    >>> minority_variant("阿卜杜拉·买买提", np.random.default_rng(0)) != "阿卜杜拉·买买提"
    True
    """
    parts = [p for p in _split_minority(name)]
    if not parts:
        return None
    groups = {v: g for g in vocab.UYGHUR_MALE + vocab.UYGHUR_FEMALE for v in g}
    changed = list(parts)
    swappable = [i for i, p in enumerate(parts) if p in groups and len(groups[p]) > 1]
    if swappable and rng.random() < 0.8:
        i = int(rng.choice(swappable))
        changed[i] = str(rng.choice([v for v in groups[parts[i]] if v != parts[i]]))
    old_sep = _separator(name)
    seps = [s for s in vocab.MINORITY_SEPARATORS if s != old_sep]
    sep = old_sep if changed != parts and rng.random() < 0.5 else str(rng.choice(seps))
    new = sep.join(changed)
    return new if new != name else None


def _separator(name: str) -> str:
    for sep in vocab.MINORITY_SEPARATORS:
        if sep and sep in name:
            return sep
    return ""


def _split_minority(name: str) -> list[str]:
    sep = _separator(name)
    if sep:
        return name.split(sep)
    # no separator: split by known components, longest first
    known = sorted({v for g in vocab.UYGHUR_MALE + vocab.UYGHUR_FEMALE for v in g}, key=len, reverse=True)
    parts, rest = [], name
    while rest:
        for k in known:
            if rest.startswith(k):
                parts.append(k)
                rest = rest[len(k):]
                break
        else:
            return []
    return parts


def reword_clothing(clothing: str, rng: np.random.Generator, worn: bool = False) -> str:
    """The same clothes as a family listed them, as staff describe them a few days later: near
    colours, other garment words, an item left out, and often a word on their state.

    >>> text = reword_clothing("穿蓝色外套、黑色裤子、布鞋", np.random.default_rng(3))
    >>> text != "穿蓝色外套、黑色裤子、布鞋" and text.startswith("穿") or text.startswith(vocab.WORN_WORDS)
    True
    """
    items = clothing.removeprefix("穿").split("、")
    out = []
    for item in items:
        colour = next((c for c in sorted(vocab.COLOUR_WORDS, key=len, reverse=True) if item.startswith(c)), "")
        garment = item[len(colour):]
        if colour and rng.random() < 0.5:
            colour = str(rng.choice(vocab.COLOUR_WORDS[colour]))
        if garment in vocab.GARMENT_WORDS and rng.random() < 0.5:
            garment = str(rng.choice(vocab.GARMENT_WORDS[garment]))
        out.append(colour + garment)
    if len(out) > 1 and rng.random() < 0.4:
        del out[int(rng.integers(len(out)))]
    text = "穿" + "、".join(out)
    if text == clothing:  # staff never copy the family's words exactly
        text = "身穿" + "、".join(out)
    if worn or rng.random() < 0.2:
        text = f"{rng.choice(vocab.WORN_WORDS)}，{text}"
    return text
