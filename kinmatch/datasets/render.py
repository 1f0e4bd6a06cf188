"""Write simulated facts as the raw Chinese text stations and families write: dates in mixed
formats, heights like 一米七左右, ages like 五六十岁, marks in several wordings.

Array functions take numpy arrays and return object arrays of ``str`` (``None`` for blank), so a
million reports are formatted without a Python loop per row.

    >>> import numpy as np
    >>> list(format_dates(np.array([1958]), np.array([3]), np.array([12]), np.array([1])))
    ['1958年3月12日']
    >>> height_chinese(165), height_chinese(170)
    ('一米六五', '一米七')
"""

from __future__ import annotations

import numpy as np

from kinmatch.datasets import vocab

_DIGITS = "零一二三四五六七八九"

DATE_FORMATS = ("{y}-{m2}-{d2}", "{y}年{m}月{d}日", "{y}/{m}/{d}", "{y}{m2}{d2}", "{y}.{m}.{d}",
                "{y}年{m}月", "{y}.{m}", "{y}年")
"""Index 0–4 are day precision, 5–6 month, 7 year."""


def _str(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64).astype(str).astype(object)


def _pad2(values: np.ndarray) -> np.ndarray:
    return np.char.zfill(values.astype(np.int64).astype(str), 2).astype(object)


def format_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray, fmt: np.ndarray) -> np.ndarray:
    """Dates as text, format ``DATE_FORMATS[fmt[i]]`` for row i (vectorized)."""
    if len(year) == 0:  # numpy's string functions refuse empty arrays
        return np.empty(0, dtype=object)
    y, m, d, m2, d2 = _str(year), _str(month), _str(day), _pad2(month), _pad2(day)
    out = np.empty(len(year), dtype=object)
    pieces = {"y": y, "m": m, "d": d, "m2": m2, "d2": d2}
    for index, template in enumerate(DATE_FORMATS):
        rows = fmt == index
        if not rows.any():
            continue
        out[rows] = _fill(template, {k: v[rows] for k, v in pieces.items()}, rows.sum())
    return out


def _fill(template: str, pieces: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Fill ``{name}`` slots of ``template`` with arrays, by object-array concatenation."""
    result = np.full(n, "", dtype=object)
    rest = template
    while rest:
        start = rest.find("{")
        if start < 0:
            result = result + rest
            break
        end = rest.index("}", start)
        result = result + rest[:start] + pieces[rest[start + 1:end]]
        rest = rest[end + 1:]
    return result


def split_dates(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day int arrays of a datetime64[D] array."""
    years = dates.astype("datetime64[Y]")
    months = dates.astype("datetime64[M]")
    return (years.astype(int) + 1970, (months - years).astype(int) + 1,
            (dates - months).astype(int) + 1)


def height_chinese(cm: int) -> str:
    """165 → 一米六五, 170 → 一米七 (how people say heights)."""
    metres, rest = divmod(int(cm), 100)
    tens, units = divmod(rest, 10)
    text = _DIGITS[metres] + "米"
    if tens or units:
        text += _DIGITS[tens]
    if units:
        text += _DIGITS[units]
    return text.replace("二米", "两米")


_HEIGHT_CN = np.array([height_chinese(h) if h >= 100 else f"{h}厘米" for h in range(0, 260)], dtype=object)


def format_heights(cm: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Heights as text. Styles: 0 ``170cm``, 1 ``1.70米``, 2 ``一米七左右``, 3 ``约170``, 4 ``170``,
    5 ``一米七``; style -1 leaves the value blank."""
    if len(cm) == 0:
        return np.empty(0, dtype=object)
    cm = np.clip(cm.astype(np.int64), 40, 250)
    s = _str(cm)
    metres = np.char.add(np.char.add((cm // 100).astype(str), "."), np.char.zfill((cm % 100).astype(str), 2))
    out = np.full(len(cm), None, dtype=object)
    choices = (s + "cm", metres.astype(object) + "米", _HEIGHT_CN[cm] + "左右", "约" + s, s, _HEIGHT_CN[cm])
    for index, texts in enumerate(choices):
        rows = style == index
        out[rows] = texts[rows]
    return out


def format_height(cm: int, style: int) -> str | None:
    """One height as text, styles as :func:`format_heights`.

    >>> format_height(172, 1), format_height(165, 2)
    ('1.72米', '一米六五左右')
    """
    return format_heights(np.array([cm]), np.array([style]))[0] if style >= 0 else None


def age_chinese_range(age: int) -> str:
    """A decade span as people say it: 57 → 五六十岁, 34 → 三四十岁."""
    decade = int(age) // 10
    if decade <= 0:
        return "十岁以下"
    if decade >= 9:
        return "九十多岁"
    return f"{_DIGITS[decade]}{_DIGITS[decade + 1]}十岁".replace("一二十岁", "十几二十岁")


def format_age_estimate(age: int, style: int) -> str | None:
    """Staff wording of an estimated age: 约60岁, 60多岁, 五六十岁, 60-65岁, 60岁左右."""
    age = int(max(age, 1))
    if style == 0:
        return f"约{age}岁"
    if style == 1:
        return f"{age // 10 * 10}多岁" if age >= 20 else f"约{age}岁"
    if style == 2:
        return age_chinese_range(age)
    if style == 3:
        low = age // 5 * 5
        return f"{low}-{low + 5}岁"
    if style == 4:
        return f"{age}岁左右"
    return None


# ---- marks -------------------------------------------------------------------------------------

def _catalog():
    entries = []
    for kind, part, sided, extras in vocab.MARK_KINDS:
        for extra in extras:
            for side in (("左", "右") if sided else ("",)):
                entries.append((kind, part, side, extra))
    return entries


MARK_CATALOG = _catalog()
"""Every distinct mark: (type, part, side, extra), e.g. ('痣', '脸', '左', '')."""

_INDEX = {entry: i for i, entry in enumerate(MARK_CATALOG)}
MARK_MIRROR = np.array([
    _INDEX[(k, p, {"左": "右", "右": "左"}[s], x)] if s else -1 for (k, p, s, x) in MARK_CATALOG])
"""Index of the same mark on the other side, -1 for marks without a side."""
MARK_SIDED = MARK_MIRROR >= 0
N_WORDINGS = 4


def _render(entry, wording: int) -> str:
    kind, part, side, extra = entry
    template = vocab.MARK_TEMPLATES[kind][wording % len(vocab.MARK_TEMPLATES[kind])]
    side_text = vocab.SIDE_WORDS[side][wording % 3] if side else ""
    part_text = vocab.PART_WORDS[part][(wording + 1) % 3]
    if kind == "牙齿":
        return vocab.TOOTH_WORDS[extra][wording % 4]
    if kind == "纹身":
        extra = vocab.TATTOO_WORDS[extra]
    return template.format(s=side_text, p=part_text, x=extra, x_t="")


MARK_TEXT = [[_render(entry, w) for w in range(N_WORDINGS)] for entry in MARK_CATALOG]
"""``MARK_TEXT[mark][wording]``: the sentence for one mark in one wording."""


def mark_key(index: int) -> str:
    """Canonical ``type:part:side`` of a catalog mark (the normalizers' form in docs/contract.md)."""
    kind, part, side, extra = MARK_CATALOG[index]
    if kind == "缺指":
        return f"缺指:{side}手:{extra}"
    if kind == "纹身":
        return f"纹身:{side}臂:{extra}"
    return f"{kind}:{part}:{side}"


# Mark popularity: moles and scars are what families and staff note most.
MARK_WEIGHTS = np.array([
    {"痣": 5.0, "疤痕": 5.0, "胎记": 2.0, "缺指": 1.0, "纹身": 1.5, "牙齿": 2.0, "六指": 0.2, "跛脚": 1.0}[k]
    / sum(1 for e in MARK_CATALOG if e[:2] == (k, p))
    for (k, p, s, x) in MARK_CATALOG])
MARK_WEIGHTS = MARK_WEIGHTS / MARK_WEIGHTS.sum()
SCAR_MARKS = np.array([i for i, e in enumerate(MARK_CATALOG) if e[0] == "疤痕"])
