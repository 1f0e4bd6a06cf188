"""Whole-record normalization: canonical frame in, normalized frame (+ issues) out.

This is the one place that knows which field feeds which normalizer (docs/contract.md §2). Each
stage calls the vectorized form of a field normalizer, which parses every *distinct* value once,
so a million reports that repeat a few hundred thousand spellings cost that many parses::

    >>> import pandas as pd
    >>> residents = pd.DataFrame({"resident_id": ["R1"], "sex": ["男"], "age": ["约60岁"],
    ...                           "found_date": ["2023-11-05"], "description": ["左脸有黑痣，偏瘦"]})
    >>> normalized, issues = normalize_residents(residents)
    >>> normalized[["sex_code", "age_low", "age_high", "marks", "build"]].to_dict("records")
    [{'sex_code': 'M', 'age_low': 55.0, 'age_high': 65.0, 'marks': ('痣:脸:左',), 'build': '瘦'}]

The input frame is never mutated and its columns are never overwritten: the contract columns are
added to a copy. Normalizing an already normalized frame recomputes the added columns from the
original ones, so it gives the same result (idempotent).
"""

from __future__ import annotations

import re
import time
from typing import Callable

import numpy as np
import pandas as pd

from kinmatch.issues import IssueLog, concat_issues
from kinmatch.normalize import descriptions, dialects, quantities

__all__ = ["normalize_residents", "normalize_missing", "RESIDENT_COLUMNS", "MISSING_COLUMNS"]

_ID = {"resident": "resident_id", "missing": "missing_id"}
_EVENT = {"resident": "found_date", "missing": "missing_date"}

_QUANTITY_COLUMNS = ["sex_code", "age_low", "age_high", "birth_year_low", "birth_year_high",
                     "height_cm", "height_tol_cm", "event_date", "event_date_precision",
                     "birth_date_value", "birth_date_precision"]
_ACCENT_COLUMNS = ["accent_area", "accent_provinces"]
# ``negated`` (mark types explicitly denied, 无纹身) is an addition to contract §2: the mark
# comparison reads it to tell "no tattoo" from "tattoo not mentioned".
_DESCRIPTION_COLUMNS = ["marks", "negated", "build", "hair", "conditions"]

RESIDENT_COLUMNS: list[str] = _QUANTITY_COLUMNS + _ACCENT_COLUMNS + _DESCRIPTION_COLUMNS
"""Columns :func:`normalize_residents` adds (contract §2), in order."""
MISSING_COLUMNS: list[str] = _QUANTITY_COLUMNS + _ACCENT_COLUMNS + _DESCRIPTION_COLUMNS
"""Columns :func:`normalize_missing` adds (contract §2), in order."""

_ALL_ADDED = set(RESIDENT_COLUMNS) | set(MISSING_COLUMNS)


class _Context:
    """What a stage needs: the original fields (blank → None), where to write, where to complain."""

    def __init__(self, frame: pd.DataFrame, kind: str):
        self.kind = kind
        self.frame = frame
        self.index = frame.index
        self.out: dict[str, object] = {}
        self.log = IssueLog()
        if "source_row" in frame.columns:
            self.rows = pd.to_numeric(frame["source_row"], errors="coerce").to_numpy()
        else:  # same numbering intake uses for a DataFrame: positional index + 2
            self.rows = np.arange(len(frame)) + 2
        id_column = _ID[kind]
        self.ids = (frame[id_column].to_numpy(dtype=object) if id_column in frame.columns
                    else np.full(len(frame), None, dtype=object))

    def field(self, name: str) -> pd.Series:
        """The original text of a field, or an all-None column when the frame lacks it."""
        if name in self.frame.columns:
            return self.frame[name]
        return pd.Series([None] * len(self.index), index=self.index, dtype=object)

    def flag_unparsed(self, column: str, parsed_missing, reason: str, what: str) -> None:
        """Log an issue for each cell that has text which is not an "unknown" marker but that
        the normalizer could not read (intake blanks such cells; a frame built by hand may not)."""
        values = self.field(column)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if not len(uniques):
            return
        readable = np.zeros(len(uniques), dtype=bool)
        parsed_missing = np.asarray(parsed_missing, dtype=bool)
        # a distinct text is unreadable if it parsed to nothing on any row (all rows agree)
        readable[codes[~parsed_missing & (codes >= 0)]] = True
        bad_unique = np.array([not ok and not quantities.is_unknown(u) for u, ok in zip(uniques, readable)])
        positions = np.flatnonzero((codes >= 0) & bad_unique[np.maximum(codes, 0)])
        self.issue(positions, column, reason,
                   f"'{{value}}' in {column} is not {what}; it was kept as text but cannot be "
                   f"compared; correct it or leave it blank")

    def issue(self, positions, column: str, reason: str, message: str, action: str = "kept"):
        values = self.field(column).to_numpy(dtype=object)
        for position in positions:
            row = self.rows[position]
            self.log.add(row=None if pd.isna(row) else int(row), record_id=self.ids[position],
                         column=column, value=values[position], reason=reason, action=action,
                         message=message.format(value=values[position]))


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------


def _stage_quantities(ctx: _Context) -> None:
    out = ctx.out
    out["sex_code"] = quantities.parse_sexes(ctx.field("sex"))
    ctx.flag_unparsed("sex", out["sex_code"].isna(), "bad_sex", "a sex (男/女/M/F)")
    event = quantities.parse_dates(ctx.field(_EVENT[ctx.kind]))
    ctx.flag_unparsed(_EVENT[ctx.kind], event["value"].isna(), "bad_date", "a date (e.g. 2023-11-05)")
    out["event_date"] = event["value"]
    out["event_date_precision"] = event["precision"]
    birth = quantities.parse_dates(ctx.field("birth_date"))
    ctx.flag_unparsed("birth_date", birth["value"].isna(), "bad_date", "a date or year (e.g. 1960)")
    out["birth_date_value"] = birth["value"]
    out["birth_date_precision"] = birth["precision"]

    # Age from the age text, taken at the event date (found / lost).
    ages = quantities.parse_ages(ctx.field("age"), ref_dates=event["value"])
    ctx.flag_unparsed("age", ages["low"].isna(), "bad_age", "an age (e.g. 约60岁, 五六十岁)")
    age_low, age_high = ages["low"].to_numpy(), ages["high"].to_numpy()
    by_low, by_high = ages["birth_year_low"].to_numpy(), ages["birth_year_high"].to_numpy()
    # Without an event date an age cannot be turned into birth years (parse_ages would use
    # today's date, which for an old report is years off): leave them unknown.
    no_event = event["value"].isna().to_numpy()
    from_age_text = ages["kind"].to_numpy(dtype=object)
    gave_birth_year = np.isin(from_age_text, ["birth_year", "cohort"])
    by_low = np.where(no_event & ~gave_birth_year, np.nan, by_low)
    by_high = np.where(no_event & ~gave_birth_year, np.nan, by_high)

    # A stated birth date gives the birth year exactly (year precision or better). For missing
    # reports the family's birth date beats their "age when lost"; for residents a self-stated
    # birth date is used only when staff gave no estimate.
    birth_year = birth["value"].dt.year.to_numpy(dtype=float, na_value=np.nan)
    event_year = event["value"].dt.year.to_numpy(dtype=float, na_value=np.nan)
    has_birth = ~np.isnan(birth_year)
    use_birth = has_birth if ctx.kind == "missing" else has_birth & np.isnan(age_low)
    by_low = np.where(use_birth, birth_year, by_low)
    by_high = np.where(use_birth, birth_year, by_high)
    birth_age_low = np.maximum(event_year - birth_year - 1, 0)
    birth_age_high = np.maximum(event_year - birth_year, 0)
    age_low = np.where(use_birth, birth_age_low, age_low)
    age_high = np.where(use_birth, birth_age_high, age_high)
    out["age_low"], out["age_high"] = age_low.astype(float), age_high.astype(float)
    out["birth_year_low"], out["birth_year_high"] = by_low.astype(float), by_high.astype(float)

    heights = quantities.parse_heights(ctx.field("height"))
    ctx.flag_unparsed("height", heights["cm"].isna(), "bad_height", "a height (e.g. 172cm, 一米七)")
    out["height_cm"] = heights["cm"].to_numpy(dtype=float)
    out["height_tol_cm"] = heights["tol_cm"].to_numpy(dtype=float)


def _stage_accents(ctx: _Context) -> None:
    # Residents: what staff heard (口音); missing reports: the dialect the family names (方言).
    column = "accent" if ctx.kind == "resident" else "dialect"
    accents = dialects.parse_accents(ctx.field(column))
    ctx.out["accent_area"] = accents["accent_area"]
    ctx.out["accent_provinces"] = accents["accent_provinces"].to_numpy(dtype=object)
    ctx.accent_subarea = accents["accent_subarea"]


# --- statements (自述) -------------------------------------------------------------------------
# What a resident said, as staff wrote it: "说家在邻水县，父亲叫王大山", "反复说“主猫鸭”（音）",
# "提到红旗公社". Relatives' names and place-like fragments are pulled out with the tables below.

_RELATIVES = ("父亲|爸爸|母亲|妈妈|哥哥|姐姐|弟弟|妹妹|丈夫|老公|妻子|老婆|媳妇|儿子|女儿|闺女|爷爷|奶奶|"
              "外公|外婆|姥姥|姥爷|叔叔|伯伯|舅舅|姑姑|阿姨|孙子|孙女|侄子|大哥|二哥|大姐|二姐|爸|妈|爹|娘|"
              "哥|姐|弟|妹")
_NAME_INTRO = re.compile(
    rf"(?:(?:{_RELATIVES})(?:的)?(?:名字|姓名)?(?:叫做|名叫|叫|是|为)|我叫|自称叫?|自报姓名(?:为|是)?|名叫)"
    # the name is read in a lookahead so the next relative's intro is still found:
    # "父亲叫王大山母亲叫李秀英" gives both names
    r"[:：]?\s*[“\"「『']?(?=(?P<name>[\u4e00-\u9fff·]{2,8}))"
)
_NAME_STOP = re.compile(rf"(?:{_RELATIVES}|家住|住在|家在|老家|今年|在|是|的|人|，|。|（|\().*$")
_QUOTED_NAME = re.compile(r"提到[“\"「『']([\u4e00-\u9fff·]{2,4})[”\"」』']")

_PLACE_SUFFIX = re.compile(r"[省市县区镇乡村屯庄寨堡坝坪湾沟营集铺]|公社|大队|生产队|街道|地区|自治州|盟|旗")
_PLACE_INTRO = re.compile(r"(?:家在|家住|住在|老家(?:是|在)?|来自|家乡(?:是|在)?|户口在|说是|是)(?P<place>[^，。；,;]{2,12}?)(?:人|的)?$")
_QUOTED = re.compile(r"[“\"「『']([^”\"」』']{1,12})[”\"」』']")
_LEAD = re.compile(r"^(?:自述|自称|反复说|多次念叨|经常说|说|提到|只记得|记得|地名听着像|听着像|好像是|好像|可能是)+")
_TAIL = re.compile(r"(?:\(音\)|（音）|音|人|一带|附近|那边|那里|这边)+$")
_VAGUE = re.compile(r"(?:什么|啥|之类|等)+$")
_STATEMENT_SPLIT = re.compile(r"[，,。；;！!？?\n、]+")


def statement_names(text: object) -> tuple[str, ...]:
    """Relatives' names (and a self-stated name) mentioned in a statement, raw text, in order.

        >>> statement_names("说家在邻水县，父亲叫王大山，母亲叫李秀英")
        ('王大山', '李秀英')
    """
    if not isinstance(text, str) or not text.strip():
        return ()
    found = []
    for piece in _STATEMENT_SPLIT.split(text):
        for m in _NAME_INTRO.finditer(piece):
            name = _NAME_STOP.sub("", m.group("name"))
            if len(name) >= 2:
                found.append(name)
        found += _QUOTED_NAME.findall(piece)
    return tuple(dict.fromkeys(found))


def statement_place_fragments(text: object) -> tuple[str, ...]:
    """Place-like fragments of a statement, cleaned of the words around them.

    A fragment is place-like when it ends in a place word (县, 镇, 村, 公社, 大队…), follows a
    "home" phrase (家在, 老家是, 来自), or is quoted (staff quote sounds they could not place).

        >>> statement_place_fragments("说家在邻水县，父亲叫王大山，反复说“主猫鸭”（音）")
        ('邻水县', '主猫鸭')
    """
    if not isinstance(text, str) or not text.strip():
        return ()
    fragments = []
    for piece in _STATEMENT_SPLIT.split(text):
        piece = piece.strip()
        if not piece or _NAME_INTRO.search(piece):
            continue
        quoted = _QUOTED.findall(piece)
        if quoted:
            fragments += [_VAGUE.sub("", q) for q in quoted]
            continue
        core = _TAIL.sub("", _LEAD.sub("", piece))
        intro = _PLACE_INTRO.search(core)
        if intro:
            fragments.append(_TAIL.sub("", intro.group("place")))
        elif _PLACE_SUFFIX.search(core) and len(core) <= 14:
            fragments.append(core)
    return tuple(dict.fromkeys(f for f in fragments if f))


def _union(a: tuple, b: tuple) -> tuple:
    return a + tuple(x for x in b if x not in a) if b else a


def _stage_descriptions(ctx: _Context) -> None:
    described = descriptions.parse_descriptions(ctx.field("description"))
    # Health text also carries marks (左腿残疾，走路一瘸一拐) and most of the conditions.
    health = descriptions.parse_descriptions(ctx.field("health"))
    ctx.out["marks"] = [tuple(sorted(_union(a, b))) for a, b in
                        zip(described["marks"].to_numpy(), health["marks"].to_numpy())]
    ctx.out["negated"] = [tuple(sorted(set(a) | set(b))) for a, b in
                          zip(described["negated"].to_numpy(), health["negated"].to_numpy())]
    ctx.out["build"] = described["build"].where(described["build"].notna(), health["build"])
    ctx.out["hair"] = described["hair"].where(described["hair"].notna(), health["hair"])
    order = {c: i for i, c in enumerate(descriptions.CONDITIONS)}
    ctx.out["conditions"] = [tuple(sorted(_union(a, b), key=order.__getitem__)) for a, b in
                             zip(described["conditions"].to_numpy(), health["conditions"].to_numpy())]


_STAGES: list[tuple[str, Callable[[_Context], None]]] = [
    ("quantities", _stage_quantities),
    ("accents", _stage_accents),
    ("descriptions", _stage_descriptions),
]


def _normalize(frame: pd.DataFrame, kind: str, columns: list[str], progress: bool):
    if not isinstance(frame, pd.DataFrame):
        from kinmatch.errors import InputError

        raise InputError(f"normalize_{'residents' if kind == 'resident' else 'missing'} needs a "
                         f"pandas DataFrame (as kinmatch.read_{'residents' if kind == 'resident' else 'missing'} "
                         f"returns), got {type(frame).__name__}; read the file with intake first")
    # Columns this module added on an earlier pass are recomputed, never read as input.
    originals = frame[[c for c in frame.columns if c not in _ALL_ADDED]]
    ctx = _Context(originals, kind)
    stages = _STAGES
    if progress:
        from tqdm.auto import tqdm

        stages = tqdm(_STAGES, desc=f"normalize {kind}", unit="stage")
    seconds = {}
    for name, stage in stages:
        if progress:
            stages.set_postfix_str(name)
        started = time.perf_counter()
        stage(ctx)
        seconds[name] = round(time.perf_counter() - started, 3)
    added = pd.DataFrame({name: _as_column(ctx.out[name], originals.index) for name in columns},
                         index=originals.index)
    normalized = pd.concat([originals, added], axis=1)
    normalized.attrs = dict(frame.attrs)
    normalized.attrs.setdefault("kind", kind)
    normalized.attrs["normalize_seconds"] = seconds  # per stage, for benchmarks and logs
    return normalized, concat_issues(ctx.log.to_frame())


def _as_column(values, index: pd.Index) -> pd.Series:
    if isinstance(values, pd.Series):
        return pd.Series(values.to_numpy(), index=index, dtype=values.dtype)
    if isinstance(values, np.ndarray) and values.dtype != object:
        return pd.Series(values, index=index)
    column = np.empty(len(index), dtype=object)
    column[:] = list(values)  # element-wise: keeps tuples as cells instead of a 2-D array
    return pd.Series(column, index=index, dtype=object)


def normalize_residents(frame: pd.DataFrame, *, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the contract §2 columns to a canonical resident frame.

    Returns ``(normalized, issues)``: a copy of ``frame`` with the columns of
    :data:`RESIDENT_COLUMNS` appended, and an issues table (``kinmatch.issues.ISSUE_COLUMNS``)
    listing values that could not be normalized (kept as they were, flagged). ``progress=True``
    shows a progress bar over the stages.
    """
    return _normalize(frame, "resident", RESIDENT_COLUMNS, progress)


def normalize_missing(frame: pd.DataFrame, *, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the contract §2 columns to a canonical missing-person frame; see
    :func:`normalize_residents`.

        >>> import pandas as pd
        >>> reports = pd.DataFrame({"missing_id": ["M1"], "birth_date": ["1958年"],
        ...                         "missing_date": ["2020-03"], "health": ["老年痴呆"]})
        >>> normalized, _ = normalize_missing(reports)
        >>> normalized[["birth_year_low", "age_low", "age_high", "conditions"]].to_dict("records")
        [{'birth_year_low': 1958.0, 'age_low': 61.0, 'age_high': 62.0, 'conditions': ('痴呆',)}]
    """
    return _normalize(frame, "missing", MISSING_COLUMNS, progress)
