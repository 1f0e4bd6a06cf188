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

import os
import re
import time
from typing import Callable

import numpy as np
import pandas as pd

from kinmatch._gc import gc_paused
from kinmatch._parallel import FORK, claim_share, resolve_jobs
from kinmatch.issues import IssueLog, concat_issues
from kinmatch.normalize import clothing, descriptions, dialects, names, places, quantities

__all__ = ["normalize_residents", "normalize_missing", "RESIDENT_COLUMNS", "MISSING_COLUMNS"]

_ID = {"resident": "resident_id", "missing": "missing_id"}
_EVENT = {"resident": "found_date", "missing": "missing_date"}

_QUANTITY_COLUMNS = ["sex_code", "age_low", "age_high", "birth_year_low", "birth_year_high",
                     "height_cm", "height_tol_cm", "event_date", "event_date_precision",
                     "birth_date_value", "birth_date_precision"]
_NAME_COLUMNS = ["name_norm", "name_surname", "name_given", "name_kind", "name_evidence",
                 "name_pinyin", "name_keys", "surname_keys", "given_keys", "name_jyutping",
                 "alias_norm", "alias_keys"]
_ACCENT_COLUMNS = ["accent_area", "accent_provinces"]
_PLACE_FIELDS = ["province", "prefecture", "county", "lon", "lat", "place_score"]
# ``negated`` (mark types explicitly denied, 无纹身) is an addition to contract §2: the mark
# comparison reads it to tell "no tattoo" from "tattoo not mentioned".
_DESCRIPTION_COLUMNS = ["marks", "negated", "build", "hair", "conditions"]
# ``clothing_items``: what was worn when lost (reports) or on arrival (residents), as
# ``colour:garment`` items (kinmatch.normalize.clothing).
_CLOTHING_COLUMNS = ["clothing_items"]

RESIDENT_COLUMNS: list[str] = (
    _NAME_COLUMNS + _QUANTITY_COLUMNS + [f"found_{f}" for f in _PLACE_FIELDS] + _ACCENT_COLUMNS
    + ["statement_places", "statement_names"] + _DESCRIPTION_COLUMNS + _CLOTHING_COLUMNS)
"""Columns :func:`normalize_residents` adds (contract §2), in order."""
MISSING_COLUMNS: list[str] = (
    _NAME_COLUMNS + _QUANTITY_COLUMNS + [f"missing_{f}" for f in _PLACE_FIELDS]
    + [f"home_{f}" for f in _PLACE_FIELDS] + _ACCENT_COLUMNS + ["home_dialect_area"]
    + _DESCRIPTION_COLUMNS + _CLOTHING_COLUMNS)
"""Columns :func:`normalize_missing` adds (contract §2), in order."""

_ALL_ADDED = set(RESIDENT_COLUMNS) | set(MISSING_COLUMNS)


class _Context:
    """What a stage needs: the original fields (blank → None), where to write, where to complain."""

    def __init__(self, frame: pd.DataFrame, kind: str, n_jobs: int = 1, place_shares: _PlaceShares | None = None):
        self.kind = kind
        self.n_jobs = n_jobs
        self.place_shares = place_shares
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

    def flag_unparsed(self, column: str, parsed_missing, reason: str, what: str,
                      field: str | None = None) -> None:
        """Log an issue for each cell that has text which is not an "unknown" marker but that
        the normalizer could not read (intake blanks such cells; a frame built by hand may not).
        ``field`` picks field-specific unknown markers (``"sex"``: GB/T 2261.1 codes 0 and 9)."""
        values = self.field(column)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if not len(uniques):
            return
        readable = np.zeros(len(uniques), dtype=bool)
        parsed_missing = np.asarray(parsed_missing, dtype=bool)
        # a distinct text is readable if it parsed on some row (the parse of a text does not
        # depend on its row, so in practice all its rows agree)
        readable[codes[~parsed_missing & (codes >= 0)]] = True
        bad_unique = np.array([not ok and not quantities.is_unknown(u, field=field)
                               for u, ok in zip(uniques, readable, strict=True)])
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
# Distinct values, optionally on several cores
# ---------------------------------------------------------------------------------------------

PARALLEL_MIN_DISTINCT = 20_000
"""Below this many distinct values a stage runs in-process: forking costs more than it saves."""


def _by_distinct(keys: pd.DataFrame, compute: Callable[[pd.DataFrame], pd.DataFrame],
                 n_jobs: int, min_distinct: int | None = None, split_min: int | None = None,
                 meanwhile: Callable[[], None] | None = None) -> pd.DataFrame:
    """Run a vectorized normalizer once per distinct row of ``keys`` and spread the result back.

    ``compute`` takes a frame of distinct key rows (same columns as ``keys``) and returns one
    result row per key row, in order. With ``n_jobs > 1`` and at least ``min_distinct`` (default
    :data:`PARALLEL_MIN_DISTINCT`) distinct values the distinct
    rows are split across forked worker processes; the parent warms the normalizer's tables
    first so every worker shares them instead of loading its own. From ``split_min`` distinct
    rows (below that pool's size) one forked worker takes the second half while this process
    does the first; ``meanwhile`` (if given) runs in this process while that worker still works, and
    otherwise right after ``compute``.
    """
    codes, _distinct, table = _distinct_table(keys, compute, n_jobs, min_distinct, split_min=split_min,
                                              meanwhile=meanwhile)
    return table.iloc[codes].set_axis(keys.index)


def _distinct_table(keys: pd.DataFrame, compute: Callable[[pd.DataFrame], pd.DataFrame],
                    n_jobs: int, min_distinct: int | None = None,
                    prepare: Callable[[], None] | None = None, split_min: int | None = None,
                    meanwhile: Callable[[], None] | None = None,
                    factorized: tuple[np.ndarray, pd.DataFrame] | None = None):
    """:func:`_by_distinct` before spreading back: ``(codes, distinct key rows, results)``, for a
    stage that takes only a few result columns (spreading a wide frame over a million rows
    costs more than the take of the columns needed). ``prepare`` runs before forking workers;
    ``factorized`` is :func:`_factorize_rows` of ``keys`` when already made."""
    codes, distinct = _factorize_rows(keys) if factorized is None else factorized
    enough = len(distinct) >= (PARALLEL_MIN_DISTINCT if min_distinct is None else min_distinct)
    if n_jobs > 1 and not enough and split_min is not None and len(distinct) >= split_min and FORK is not None:
        from kinmatch._parallel import fork_call

        compute(distinct.iloc[-1:])  # the tables loaded before forking, so the worker shares them
        half = len(distinct) // 2
        waiting = fork_call(_compute_shared, shared=(compute, distinct.iloc[half:]))
        try:
            first = compute(distinct.iloc[:half])
            if meanwhile is not None:
                meanwhile()
                meanwhile = None
        finally:  # also on an error here: the worker is waited for, not left behind
            second = waiting()
        table = pd.concat([first, second], ignore_index=True)
    elif n_jobs > 1 and enough and FORK is not None:
        # load gazetteers / readings once, before forking; the last distinct row, because the
        # first is the blank one whenever a cell is blank, and a blank loads nothing
        compute(distinct.iloc[-1:])
        if prepare is not None:
            prepare()
        bounds = np.linspace(0, len(distinct), n_jobs * 4 + 1).astype(int)
        chunks = [distinct.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        from kinmatch._parallel import fork_map  # in-process where no process may be started

        table = pd.concat(fork_map(compute, chunks, n_jobs), ignore_index=True)
    else:
        table = compute(distinct).reset_index(drop=True)
    if meanwhile is not None:
        meanwhile()
    return codes, distinct, table


def _compute_shared() -> pd.DataFrame:
    from kinmatch._parallel import shared

    compute, rows = shared()
    return compute(rows)


def _factorize_rows(keys: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes of each row of ``keys`` and the frame of distinct rows (blank cells → None).

    Each column is factorized on its own and the codes combined as one integer per row, which
    is much faster than hashing row tuples on a million rows."""
    combined = np.zeros(len(keys), dtype=np.int64)
    tables = []
    for column in keys.columns:
        try:
            codes, uniques = pd.factorize(keys[column], use_na_sentinel=True)
        except TypeError:  # list cells in a hand-built frame (alias=["春儿", "花花"]): as text
            as_text = keys[column].map(_cell_text)
            codes, uniques = pd.factorize(as_text, use_na_sentinel=True)
        tables.append(np.concatenate([np.array([None], dtype=object), np.asarray(uniques, dtype=object)]))
        combined = combined * len(tables[-1]) + (codes + 1)  # code 0 = blank
    distinct_codes, codes = np.unique(combined, return_inverse=True)
    columns = {}
    for column, table in zip(reversed(keys.columns), reversed(tables), strict=True):
        columns[column] = table[distinct_codes % len(table)]
        distinct_codes = distinct_codes // len(table)
    distinct = pd.DataFrame({c: columns[c] for c in keys.columns}, dtype=object)
    return codes.reshape(-1), distinct


def _cell_text(value: object) -> str | None:
    """A list cell as text joined with 、, a blank (None, NaN, pd.NA) as None, anything else as str."""
    if isinstance(value, (list, tuple, set)):
        return "、".join(str(v) for v in value if not _is_missing(v))
    if value is None or isinstance(value, str):
        return value
    return None if _is_missing(value) else str(value)


def _is_missing(value: object) -> bool:
    return value is None or (np.ndim(value) == 0 and bool(pd.isna(value)))


def _places_of(keys: pd.DataFrame) -> pd.DataFrame:
    return places.parse_places(keys["text"].reset_index(drop=True))


def _names_of(keys: pd.DataFrame) -> pd.DataFrame:
    frame = keys.reset_index(drop=True)
    # A resident's keys also carry every merger family's fold, so a name heard through any
    # dialect meets the report's correctly written name (phonetics.name_keys, side="resident").
    side = frame["side"].iloc[0] if "side" in frame.columns and len(frame) else None
    return names.name_columns(frame["name"], name_source=frame["source"], area=frame["area"], side=side)


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------


def _stage_quantities(ctx: _Context) -> None:
    out = ctx.out
    out["sex_code"] = quantities.parse_sexes(ctx.field("sex"))
    ctx.flag_unparsed("sex", out["sex_code"].isna(), "bad_sex", "a sex (男/女/M/F)", field="sex")
    event = quantities.parse_dates(ctx.field(_EVENT[ctx.kind]))
    ctx.flag_unparsed(_EVENT[ctx.kind], event["value"].isna(), "bad_date", "a date (e.g. 2023-11-05)")
    out["event_date"] = event["value"]
    out["event_date_precision"] = event["precision"]
    birth = quantities.parse_dates(ctx.field("birth_date"))
    # an age written in the birth-date cell (走失时约75岁, 约40岁(走失时), 1950年生) is an age at the
    # event date, or a birth year: read as the age text would be
    birth_as_age = quantities.parse_ages(ctx.field("birth_date").where(birth["value"].isna()),
                                         ref_dates=event["value"])
    ctx.flag_unparsed("birth_date", birth["value"].isna() & birth_as_age["low"].isna(), "bad_date",
                      "a date or year (e.g. 1960)")
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
    age_low, age_high, by_low, by_high = _age_in_birth_date(ctx, birth_as_age, no_event, age_low, age_high,
                                                            by_low, by_high)

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
    # without an event date the birth date gives no age; an age text, if any, still does
    age_from_birth = use_birth & ~np.isnan(event_year)
    age_low = np.where(age_from_birth, birth_age_low, age_low)
    age_high = np.where(age_from_birth, birth_age_high, age_high)
    out["age_low"], out["age_high"] = age_low.astype(float), age_high.astype(float)
    out["birth_year_low"], out["birth_year_high"] = by_low.astype(float), by_high.astype(float)

    heights = quantities.parse_heights(ctx.field("height"))
    ctx.flag_unparsed("height", heights["cm"].isna(), "bad_height", "a height (e.g. 172cm, 一米七)")
    out["height_cm"] = heights["cm"].to_numpy(dtype=float)
    out["height_tol_cm"] = heights["tol_cm"].to_numpy(dtype=float)


def _age_in_birth_date(ctx: _Context, as_age: pd.DataFrame, no_event: np.ndarray, age_low, age_high,
                       by_low, by_high):
    """Ages and birth years with those read from an age in the birth-date cell (where the age cell
    gives none), and an issue per such cell saying how it was read."""
    read = as_age["low"].notna().to_numpy()
    if not read.any():
        return age_low, age_high, by_low, by_high
    gave_year = np.isin(as_age["kind"].to_numpy(dtype=object), ["birth_year", "cohort"])
    # a birth year beats a report's age, as a birth date does (see _stage_quantities)
    used = read & (np.isnan(age_low) | (gave_year & (ctx.kind == "missing")))
    age_low = np.where(used, as_age["low"].to_numpy(dtype=float), age_low)
    age_high = np.where(used, as_age["high"].to_numpy(dtype=float), age_high)
    years = used & (gave_year | ~no_event)
    by_low = np.where(years, as_age["birth_year_low"].to_numpy(dtype=float), by_low)
    by_high = np.where(years, as_age["birth_year_high"].to_numpy(dtype=float), by_high)
    when = "when lost" if ctx.kind == "missing" else "when found"
    for mask, year_word in ((used & gave_year, "a birth year"), (used & ~gave_year, f"the age {when}")):
        ctx.issue(np.flatnonzero(mask), "birth_date", "age_in_birth_date",
                  f"'{{value}}' in birth_date is not a date; it was read as {year_word} and compared as the "
                  f"age; move it to the age column (or write the birth date) to silence this", action="read_as_age")
    ctx.issue(np.flatnonzero(read & ~used), "birth_date", "age_in_birth_date",
              "'{value}' in birth_date is an age, not a date; the age column gives the age, so it was not "
              "used; write the birth date or leave the cell blank", action="ignored")
    return age_low, age_high, by_low, by_high


def _stage_accents(ctx: _Context) -> None:
    # Residents: what staff heard (口音); missing reports: the dialect the family names (方言).
    column = "accent" if ctx.kind == "resident" else "dialect"
    # dialects.parse_accents maps every row through Python lambdas; a million rows repeat a few
    # hundred accent notes, so parse the distinct ones and take by code instead.
    codes, uniques = pd.factorize(ctx.field(column), use_na_sentinel=True)
    parsed = [dialects.parse_accent(u) for u in uniques]
    ctx.out["accent_area"] = _take([a.area for a in parsed], codes, None)
    ctx.out["accent_provinces"] = _take([tuple(a.provinces) for a in parsed], codes, ())


PLACE_SCORE_THRESHOLD = 0.3
"""A place text whose best reading scores below this is logged as ``place_unmatched`` (kept)."""
STATEMENT_PLACES_PER_FRAGMENT = 5
"""Candidate counties kept per place fragment of a statement (ranked by score overall)."""

_PLACE_SOURCES = {"resident": (("found", "found_place"),),
                  "missing": (("missing", "missing_place"), ("home", "hometown"))}


def _place_keys(ctx: _Context) -> pd.DataFrame:
    """The place texts of every row, one column under the other: 走失地点 and 户籍地 repeat each
    other's spellings, and each distinct spelling is then parsed once."""
    return pd.DataFrame({"text": pd.concat([ctx.field(column) for _, column in _PLACE_SOURCES[ctx.kind]],
                                           ignore_index=True)})


def _stage_places(ctx: _Context) -> None:
    sources = _PLACE_SOURCES[ctx.kind]
    if ctx.place_shares is not None:  # parsed with the residents' worker (normalize_pair)
        codes, distinct, readings = ctx.place_shares.parse()
    else:
        # before forking, every place index is built once, so workers share it instead of each
        # building its own (a blank or a plain county name would not build the sound index)
        codes, distinct, readings = _distinct_table(_place_keys(ctx), _places_of, ctx.n_jobs, prepare=places.warm_up)
    # Everything below is decided once per distinct text, then taken by code: a million rows
    # repeat a hundred thousand spellings.
    score = readings["place_score"].to_numpy(dtype=float)
    weak_distinct = ~(score >= PLACE_SCORE_THRESHOLD)
    has_text_distinct = np.array([isinstance(v, str) and bool(v.strip()) for v in distinct["text"]],
                                 dtype=bool)
    # A reading that weak is a guess (某地 → some county in Yunnan): keep its score, drop its
    # codes and coordinates so blocking and distances never rest on it.
    columns = {}
    for field in _PLACE_FIELDS:
        if field in ("lon", "lat", "place_score"):
            column = readings[field].to_numpy(dtype=float)
            if field != "place_score":
                column = np.where(weak_distinct, np.nan, column)
        else:
            column = readings[field].to_numpy(dtype=object).copy()
            column[weak_distinct] = None
        columns[field] = column
    for number, (prefix, column) in enumerate(sources):
        text = ctx.field(column)
        row_codes = codes[number * len(text):(number + 1) * len(text)]
        for field in _PLACE_FIELDS:
            ctx.out[f"{prefix}_{field}"] = columns[field][row_codes]
        weak, has_text = weak_distinct[row_codes], has_text_distinct[row_codes]
        unmatched = np.flatnonzero(has_text & weak)
        ctx.issue(unmatched, column, "place_unmatched",
                  f"'{{value}}' in {column} matched no county of the gazetteer well enough (score < "
                  f"{PLACE_SCORE_THRESHOLD}); it was kept as text, but place comparisons cannot use it. "
                  "Write the province, prefecture or county name (e.g. 四川省广安市邻水县)")
    if ctx.kind == "missing":
        # The family's home county says which dialect the person speaks; their dialect note is
        # the fallback when the hometown names no county, then the home province when one
        # dialect area covers most of it (河南省 → N_Man; not 广东省, split between Yue, Hakka and Min).
        counties = pd.Series(ctx.out["home_county"], index=ctx.index)
        areas = {code: dialects.county_dialect_area(code) for code in counties.dropna().unique()}
        home_area = counties.map(areas).astype(object)
        home_area = home_area.where(home_area.notna(), pd.Series(ctx.out["accent_area"], index=ctx.index))
        provinces = pd.Series(ctx.out["home_province"], index=ctx.index).where(home_area.isna())
        dominant = {code: _dominant_area(code) for code in provinces.dropna().unique()}
        home_area = home_area.where(home_area.notna(), provinces.map(dominant))
        ctx.out["home_dialect_area"] = home_area.astype(object).where(home_area.notna(), None)


DOMINANT_AREA_SHARE = 0.7
"""A province stands for one dialect area when that area covers at least this share of it."""


def _dominant_area(province_code: str) -> str | None:
    shares = dialects.province_dialect_areas(province_code)
    if not shares:
        return None
    area, share = max(shares.items(), key=lambda item: item[1])
    return area if share >= DOMINANT_AREA_SHARE else None


def _stage_names(ctx: _Context) -> None:
    # Dialect area chooses which sound mergers the keys fold: the resident's own accent, or for
    # a report the dialect of the home county (see _stage_places).
    area = ctx.out["accent_area"] if ctx.kind == "resident" else ctx.out["home_dialect_area"]
    area = pd.Series(area, index=ctx.index).astype(object)
    area = area.where(area.notna(), None)
    side = "resident" if ctx.kind == "resident" else "report"
    keys = pd.DataFrame({"name": ctx.field("name"), "source": ctx.field("name_source"), "area": area,
                         "side": side})
    aliases: list = []  # read while a worker reads the second half of the names, if one does

    def read_aliases() -> None:
        aliases.extend(_alias_columns(ctx.field("alias"), area, ctx.n_jobs, side))

    if ctx.place_shares is not None:  # the residents' worker, done with its place shares, may read half
        columns = ctx.place_shares.names(keys, ctx.n_jobs, meanwhile=read_aliases)
    else:
        columns = _by_distinct(keys, _names_of, ctx.n_jobs, split_min=NAMES_SPLIT_MIN, meanwhile=read_aliases)
    for name in _NAME_COLUMNS[:10]:
        values = columns[name]
        if name == "name_evidence":
            ctx.out[name] = values.to_numpy(dtype=bool)
        elif name.endswith("_keys"):
            ctx.out[name] = values.to_numpy(dtype=object)
        else:  # contract: a missing text value is None, not ""
            ctx.out[name] = values.astype(object).where(values.notna() & (values != ""), None).to_numpy(dtype=object)
    ctx.out["alias_norm"], ctx.out["alias_keys"] = aliases


def _read_names_ahead(ctx: _Context) -> None:
    """What of the names does not depend on the dialect area (see :func:`names.read_ahead`), when there
    are so many that worker processes will make their keys after the places (from
    :data:`PARALLEL_MIN_DISTINCT` distinct names: forked workers share what this process read).
    Fewer are made half here, half by the residents' worker (:meth:`_PlaceShares.names`), each
    process reading its own."""
    if ctx.field("name").nunique(dropna=False) >= PARALLEL_MIN_DISTINCT:
        names.read_ahead(ctx.field("name"), name_source=ctx.field("name_source"))


NAMES_SPLIT_MIN = 5_000
"""From this many distinct names (below :data:`PARALLEL_MIN_DISTINCT`) one forked worker reads half."""

_ALIAS_SPLIT = re.compile(r"[、,，;；/／|｜]+|\s{2,}")


def _alias_columns(aliases: pd.Series, area: pd.Series, n_jobs: int, side: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Every alias of a row cleaned (tuple), and the union of their phonetic keys."""
    result = _by_distinct(pd.DataFrame({"alias": aliases, "area": area, "side": side}), _aliases_of, n_jobs)
    return result["alias_norm"].to_numpy(dtype=object), result["alias_keys"].to_numpy(dtype=object)


def _aliases_of(keys: pd.DataFrame) -> pd.DataFrame:
    """alias_norm and alias_keys for distinct (alias text, dialect area) rows."""
    pieces = [tuple(p for p in _ALIAS_SPLIT.split(v) if p.strip()) if isinstance(v, str) else ()
              for v in keys["alias"].to_numpy(dtype=object)]
    lengths = np.array([len(p) for p in pieces], dtype=int)
    flat = pd.Series([p for row in pieces for p in row], dtype=object)
    if len(flat):
        flat_area = pd.Series(np.repeat(keys["area"].to_numpy(dtype=object), lengths), dtype=object)
        side = keys["side"].iloc[0] if "side" in keys.columns else None
        columns = _names_of(pd.DataFrame({"name": flat, "source": None, "area": flat_area, "side": side}))
        norms, name_keys = columns["name_norm"].to_numpy(dtype=object), columns["name_keys"].to_numpy(dtype=object)
    else:
        norms, name_keys = np.array([], dtype=object), np.array([], dtype=object)
    alias_norm, alias_keys, start = [], [], 0
    for length in lengths:
        alias_norm.append(tuple(dict.fromkeys(n for n in norms[start:start + length] if n)))
        alias_keys.append(tuple(dict.fromkeys(k for row in name_keys[start:start + length] for k in row)))
        start += length
    return pd.DataFrame({"alias_norm": _object_column(alias_norm), "alias_keys": _object_column(alias_keys)})


def _object_column(values: list) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values  # element-wise: tuples stay cells instead of becoming a 2-D array
    return column


def _stage_statements(ctx: _Context) -> None:
    if ctx.kind != "resident":
        return
    # Places depend on the speaker's dialect area too (sound candidates), so key by both.
    area = pd.Series(ctx.out["accent_area"], index=ctx.index, dtype=object)
    codes, distinct = _factorize_rows(pd.DataFrame({"statement": ctx.field("statements"), "area": area}))
    statements, areas = distinct["statement"].to_numpy(dtype=object), distinct["area"].to_numpy(dtype=object)
    found_names = [tuple(dict.fromkeys(n for n in (names.clean_name(raw) for raw in statement_names(text)) if n))
                   for text in statements]
    ctx.out["statement_names"] = _object_column(found_names)[codes]
    # Each distinct (fragment, area) is read once, on worker processes when there are many.
    fragments = [statement_place_fragments(text) for text in statements]
    pairs = pd.DataFrame({"fragment": [f for row in fragments for f in row],
                          "area": [a for row, a in zip(fragments, areas, strict=True) for _ in row]}, dtype=object)
    # a fragment costs about a millisecond (sound candidates), and each worker loads the sound
    # tables it reads on its own (a few tenths of a second, more under load): workers pay off
    # from a couple of thousand fragments
    readings = (_by_distinct(pairs, _fragment_readings, ctx.n_jobs, min_distinct=STATEMENT_MIN_DISTINCT)
                ["counties"].to_numpy(dtype=object)
                if len(pairs) else np.array([], dtype=object))
    counties, start = [], 0
    for row in fragments:
        best: dict[str, float] = {}
        for reading in readings[start:start + len(row)]:
            for county, score in reading:
                best[county] = max(score, best.get(county, 0.0))
        counties.append(tuple(sorted(best, key=lambda c: (-best[c], c))))
        start += len(row)
    ctx.out["statement_places"] = _object_column(counties)[codes]


STATEMENT_MIN_DISTINCT = 2_000
"""Below this many distinct (place fragment, dialect area) pairs, statements are read in-process."""


def _fragment_readings(keys: pd.DataFrame) -> pd.DataFrame:
    """Candidate (county, score) pairs of distinct (place fragment, dialect area) rows."""
    readings = []
    with places.scanning_together(keys["fragment"]):  # the fragments' gazetteer names found at once
        for fragment, area in zip(keys["fragment"], keys["area"], strict=True):
            readings.append(tuple(places.candidate_counties(fragment, k=STATEMENT_PLACES_PER_FRAGMENT,
                                                            accent_area=area)))
    return pd.DataFrame({"counties": _object_column(readings)})


def _take(per_unique: list, codes: np.ndarray, blank) -> list:
    table = list(per_unique) + [blank]  # code -1 (blank cell) → last entry
    return [table[c] for c in codes]


# --- statements (自述) -------------------------------------------------------------------------
# What a resident said, as staff wrote it: "说家在邻水县，父亲叫王大山", "反复说“主猫鸭”（音）",
# "提到红旗公社". Relatives' names and place-like fragments are pulled out with the tables below.

_RELATIVES = ("父亲|爸爸|母亲|妈妈|哥哥|姐姐|弟弟|妹妹|丈夫|老公|妻子|老婆|媳妇|儿子|女儿|闺女|爷爷|奶奶|"
              "外公|外婆|姥姥|姥爷|叔叔|伯伯|舅舅|姑姑|阿姨|孙子|孙女|侄子|大哥|二哥|大姐|二姐|爸|妈|爹|娘|"
              "哥|姐|弟|妹")
# 自称 introduces a name (自称李大海) unless a home phrase follows (自称老家在…, 自称住在…)
_NOT_HOME = r"(?!老家|家在|家住|家是|住在|住|来自|家乡|户口|是)"
_NAME_INTRO = re.compile(
    rf"(?:(?:{_RELATIVES})(?:的)?(?:名字|姓名)?(?:叫做|名叫|叫|是|为)|我叫|自称叫?{_NOT_HOME}|自报姓名(?:为|是)?|名叫)"
    # the name is read in a lookahead so the next relative's intro is still found:
    # "父亲叫王大山母亲叫李秀英" gives both names
    r"[:：]?\s*[“\"「『']?(?=(?P<name>[\u4e00-\u9fff·]{2,8}))"
)
_NAME_STOP = re.compile(rf"(?:{_RELATIVES}|家住|住在|家在|老家|今年|在|是|的|人|，|。|（|\().*$")
_QUOTED_NAME = re.compile(r"提到[“\"「『']([\u4e00-\u9fff·]{2,4})[”\"」』']")

_PLACE_SUFFIX = re.compile(r"[省市县区镇乡村屯庄寨堡坝坪湾沟营集铺]|公社|大队|生产队|街道|地区|自治州|盟|旗")
_PLACE_INTRO = re.compile(r"(?:家在|家住|住在|老家(?:是|在)?|来自|家乡(?:是|在)?|户口在|说是|是)"
                          r"(?P<place>[^，。；,;]{2,12}?)(?:人|的)?$")
_QUOTED = re.compile(r"[“\"「『']([^”\"」』']{1,12})[”\"」』']")
_LEAD = re.compile(r"^(?:自述|自称|反复说|多次念叨|经常说|说|提到|只记得|记得|地名听着像|听着像|好像是|好像|可能是)+")
_TAIL = re.compile(r"(?:\(音\)|（音）|音|人|一带|附近|那边|那里|这边)+$")
_VAGUE = re.compile(r"(?:什么|啥|之类|等)+$")
_STATEMENT_SPLIT = re.compile(r"[，,。；;！!？?\n、]+")


def _reads_as_name(word: str) -> bool:
    """A quoted 2–3 character word starting with a known surname (提到“刘岩”) is taken as a name."""
    return 2 <= len(word) <= 3 and names.is_surname(word[0])


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
        found += [q for q in _QUOTED_NAME.findall(piece) if _reads_as_name(q)]
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
            # 提到“刘岩”: a quoted word that reads as a person's name (a known surname first) is
            # taken as a relative's name (statement_names), not as a place.
            mentioned = {q for q in _QUOTED_NAME.findall(piece) if _reads_as_name(q)}
            fragments += [_VAGUE.sub("", q) for q in quoted if q not in mentioned]
            continue
        core = _TAIL.sub("", _LEAD.sub("", piece))
        intro = _PLACE_INTRO.search(core)
        if intro:
            fragments.append(_TAIL.sub("", intro.group("place")))
        elif _PLACE_SUFFIX.search(core) and len(core) <= 14:
            fragments.append(core)
    return tuple(dict.fromkeys(f for f in fragments if f))


def _stage_descriptions(ctx: _Context) -> None:
    keys = pd.DataFrame({"description": ctx.field("description"), "health": ctx.field("health")})
    # in-process: parsing is cheap and cached per clause, forking would cost more than it saves
    described = _by_distinct(keys, _descriptions_of, n_jobs=1)
    for column in _DESCRIPTION_COLUMNS:
        ctx.out[column] = described[column].to_numpy(dtype=object)


def _descriptions_of(keys: pd.DataFrame) -> pd.DataFrame:
    """Marks, negations, build, hair and conditions of distinct (description, health) rows."""
    described = descriptions.parse_descriptions(keys["description"].reset_index(drop=True))
    # Health text also carries marks (左腿残疾，走路一瘸一拐) and most of the conditions.
    health = descriptions.parse_descriptions(keys["health"].reset_index(drop=True))
    order = {c: i for i, c in enumerate(descriptions.CONDITIONS)}
    return pd.DataFrame({
        # a text's marks are already sorted and reduced (merge_marks of one group gives it back):
        # merged only when both texts hold some
        "marks": _object_column([descriptions.merge_marks(a, b) if a and b else a or b for a, b in
                                 zip(described["marks"], health["marks"], strict=True)]),
        "negated": _object_column([tuple(sorted(set(a) | set(b))) for a, b in
                                   zip(described["negated"], health["negated"], strict=True)]),
        "build": described["build"].where(described["build"].notna(), health["build"]).to_numpy(dtype=object),
        "hair": described["hair"].where(described["hair"].notna(), health["hair"]).to_numpy(dtype=object),
        "conditions": _object_column([tuple(sorted(set(a) | set(b), key=order.__getitem__)) for a, b in
                                      zip(described["conditions"], health["conditions"], strict=True)]),
    })


def _stage_clothing(ctx: _Context) -> None:
    ctx.out["clothing_items"] = clothing.parse_clothing(ctx.field("clothing")).to_numpy(dtype=object)


_STAGES: list[tuple[str, Callable[[_Context], None]]] = [
    ("quantities", _stage_quantities),
    ("accents", _stage_accents),
    ("places", _stage_places),
    ("names", _stage_names),
    ("statements", _stage_statements),
    ("descriptions", _stage_descriptions),
    ("clothing", _stage_clothing),
]


# the reference tables and a million rows' parsed values are many small acyclic objects: full
# collections while they are created rescan them for nothing (as around the link stages)
def _check_frame(frame: object, kind: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        from kinmatch.errors import InputError

        raise InputError(f"normalize_{'residents' if kind == 'resident' else 'missing'} needs a "
                         f"pandas DataFrame (as kinmatch.read_{'residents' if kind == 'resident' else 'missing'} "
                         f"returns), got {type(frame).__name__}; read the file with intake first")


def _context(frame: pd.DataFrame, kind: str, n_jobs: int | None) -> _Context:
    # Columns this module added on an earlier pass are recomputed, never read as input.
    originals = frame[[c for c in frame.columns if c not in _ALL_ADDED]]
    return _Context(originals, kind, resolve_jobs(n_jobs))


@gc_paused()
def _normalize(frame: pd.DataFrame, kind: str, columns: list[str], progress: bool, n_jobs: int | None = 1,
               ctx: _Context | None = None):
    _check_frame(frame, kind)
    if ctx is None:
        ctx = _context(frame, kind, n_jobs)
    originals = ctx.frame
    stages = _STAGES
    if ctx.place_shares is not None:
        # the stages that read no place first, so the worker has its own records done before the
        # places are shared out (their outputs and issues are the same in any order); and many
        # names read ahead, so that only their dialect keys are left after the places
        stages = sorted(_STAGES, key=lambda stage: stage[0] not in _BEFORE_SHARED_PLACES)
        first_place = next(i for i, (name, _) in enumerate(stages) if name not in _BEFORE_SHARED_PLACES)
        stages.insert(first_place, ("name_readings", _read_names_ahead))
    if progress:
        from tqdm.auto import tqdm

        stages = tqdm(stages, desc=f"normalize {kind}", unit="stage")
    seconds = {}
    for name, stage in stages:
        if progress:
            stages.set_postfix_str(name)
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        stage(ctx)
        seconds[name] = (round(time.perf_counter() - started, 3), round(_cpu_seconds() - cpu_started, 3))
    added = pd.DataFrame({name: _as_column(ctx.out[name], originals.index) for name in columns},
                         index=originals.index)
    normalized = pd.concat([originals, added], axis=1)
    normalized.attrs = dict(frame.attrs)
    normalized.attrs.setdefault("kind", kind)
    # per stage (wall, cpu) seconds, for benchmarks and logs
    normalized.attrs["normalize_seconds"] = seconds
    return normalized, concat_issues(ctx.log.to_frame())


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers (the stage cost, whatever the load)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN) if resource is not None else None
    return time.process_time() + (children.ru_utime + children.ru_stime if children else 0.0)


try:
    import resource
except ImportError:  # Windows
    resource = None


def _as_column(values, index: pd.Index) -> pd.Series:
    if isinstance(values, pd.Series):
        return pd.Series(values.to_numpy(), index=index, dtype=values.dtype)
    if isinstance(values, np.ndarray) and values.dtype != object:
        return pd.Series(values, index=index)
    column = np.empty(len(index), dtype=object)
    column[:] = list(values)  # element-wise: keeps tuples as cells instead of a 2-D array
    return pd.Series(column, index=index, dtype=object)


def normalize_residents(frame: pd.DataFrame, *, progress: bool = False,
                        n_jobs: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the contract §2 columns to a canonical resident frame.

    Returns ``(normalized, issues)``: a copy of ``frame`` with the columns of
    :data:`RESIDENT_COLUMNS` appended, and an issues table (``kinmatch.issues.ISSUE_COLUMNS``)
    listing values that could not be normalized (kept as they were, flagged). ``progress=True``
    shows a progress bar over the stages. ``n_jobs`` caps the worker processes used for the
    expensive stages (places, names) when a frame has many distinct values; ``None`` uses every
    core this process may run on, ``1`` stays in-process. Results do not depend on it.
    """
    return _normalize(frame, "resident", RESIDENT_COLUMNS, progress, n_jobs)


def normalize_missing(frame: pd.DataFrame, *, progress: bool = False,
                      n_jobs: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the contract §2 columns to a canonical missing-person frame; see
    :func:`normalize_residents`.

        >>> import pandas as pd
        >>> reports = pd.DataFrame({"missing_id": ["M1"], "birth_date": ["1958年"],
        ...                         "missing_date": ["2020-03"], "health": ["老年痴呆"]})
        >>> normalized, _ = normalize_missing(reports)
        >>> normalized[["birth_year_low", "age_low", "age_high", "conditions"]].to_dict("records")
        [{'birth_year_low': 1958.0, 'age_low': 61.0, 'age_high': 62.0, 'conditions': ('痴呆',)}]
    """
    return _normalize(frame, "missing", MISSING_COLUMNS, progress, n_jobs)


# ---------------------------------------------------------------------------------------------
# Both sides at once, on two cores
# ---------------------------------------------------------------------------------------------

_BEFORE_SHARED_PLACES = {"quantities", "accents", "descriptions", "clothing"}
"""Report stages that read no place and log no issue after the places stage's: run first when the
places are shared, so this process is busy while the residents' worker does its own records."""

PAIR_MIN_RESIDENTS = 500
PAIR_MIN_REPORTS = 5_000
"""From this many residents or reports :func:`normalize_pair` uses a second process; below both,
the second process's own reference-data load costs more than it saves."""

PLACE_SHARE_TEXTS = 256
"""Distinct report place texts per share (what one process claims at a time)."""


NAMES_SHARE_MIN = 1_000
"""From this many distinct (name, source, dialect area) rows the residents' worker makes half of the
reports' name columns (:meth:`_PlaceShares.names`)."""


class _PlaceShares:
    """The reports' distinct place texts, sorted (texts of one province and county lie together, so
    each process loads the villages of fewer counties) and cut in shares of
    :data:`PLACE_SHARE_TEXTS`. This process claims shares from the front; the residents' worker,
    its own records done, claims from the back; a pair of counters in shared memory says what is
    left. Each share is parsed once, by whichever process claimed it. The worker then sends its
    shares and makes half of the reports' name columns (:meth:`names`), which need every hometown's
    reading (a name's sound keys depend on the dialect area of its hometown).

    Made before the worker is forked, when the reports may not be read yet: :meth:`publish` hands
    the texts to the worker later (a queue, whose feeding thread does not hold this process up);
    the shares and names go back and forth on a pipe, whose ends each process closes on its side
    (:meth:`forked`)."""

    def __init__(self):
        from kinmatch._parallel import FORK

        self.bounds = FORK.Array("q", [0, 0])  # next share from the front, end of those left
        self.texts = FORK.Queue(1)
        self.texts.cancel_join_thread()  # a worker that died unread must not hold up this process's exit
        self.published = False
        self.parent = os.getpid()
        self.here, self.there = FORK.Pipe()  # this process's end, the worker's end
        self.names_sent = True  # until the worker's shares are received: nothing to tell it
        self.waiting: Callable[[], object] | None = None  # the worker's answer (fork_call)
        self.in_process = False  # set when the "worker" ran in this process (no fork possible)

    def forked(self, in_worker: bool) -> None:
        """Right after the fork, in each process: close the other process's end of the pipe, so a
        process that ends is seen (its end closed) instead of waited for."""
        (self.here if in_worker else self.there).close()

    def publish(self, ctx: _Context | None) -> None:
        """In this process: the reports' place texts (of ``ctx``; None: there are none to share)."""
        self.published = True
        if ctx is None:
            self.texts.put(None)
            return
        self.codes, self.distinct = _factorize_rows(_place_keys(ctx))
        text = self.distinct["text"].to_numpy(dtype=object)
        self.order = np.argsort(np.array([t if isinstance(t, str) else "" for t in text], dtype=object),
                                kind="stable")
        self.n_shares = -(-len(text) // PLACE_SHARE_TEXTS)
        with self.bounds.get_lock():
            self.bounds[1] = self.n_shares
        self.sorted_texts = text[self.order].tolist()
        self.texts.put(self.sorted_texts)

    def _claim(self, front: bool) -> int | None:
        return claim_share(self.bounds, front)

    def _parse_share(self, share: int) -> pd.DataFrame:
        texts = self.sorted_texts[share * PLACE_SHARE_TEXTS:(share + 1) * PLACE_SHARE_TEXTS]
        return _places_of(pd.DataFrame({"text": texts}, dtype=object))

    def worker_part(self) -> None:
        """In the residents' worker: once the texts are published, parse shares from the back until
        none is left, send them, then make the names this process asks for (:meth:`names`)."""
        self.sorted_texts = self._published_texts()
        if self.sorted_texts is None:
            return
        parsed = {}
        while (share := self._claim(front=False)) is not None:
            parsed[share] = self._parse_share(share)
        self.there.send(parsed)
        try:
            asked = self.there.recv()
        except EOFError:  # this process ended (it failed): nothing is asked
            return
        if asked is not None:
            self.there.send(_names_of(asked))

    def _published_texts(self) -> list | None:
        import queue

        while True:
            try:
                return self.texts.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != self.parent:  # the parent was killed: nothing will come
                    return None

    def _from_worker(self):
        """The worker's next message; its error (or its death) raised if it ended without one."""
        try:
            return self.here.recv()
        except EOFError:
            self.waiting()  # raises the worker's own error
            raise ChildProcessError("the residents' worker ended without its place shares") from None

    def parse(self) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
        """In this process: parse shares from the front until none is left, then take the worker's;
        ``(codes, distinct key rows, readings)`` as :func:`_distinct_table` returns them."""
        parsed = {}
        while (share := self._claim(front=True)) is not None:
            parsed[share] = self._parse_share(share)
        parsed.update(self._from_worker())
        self.names_sent = False  # the worker now waits to be told which names to make
        if not parsed:
            return self.codes, self.distinct, _places_of(self.distinct)
        in_order = pd.concat([parsed[share] for share in range(self.n_shares)], ignore_index=True)
        readings = in_order.iloc[np.argsort(self.order, kind="stable")].reset_index(drop=True)
        return self.codes, self.distinct, readings

    def names(self, keys: pd.DataFrame, n_jobs: int, meanwhile: Callable[[], None]) -> pd.DataFrame:
        """In this process, after :meth:`parse`: :func:`_by_distinct` of ``keys`` (the reports'
        name, source, dialect area) with :func:`_names_of`, the distinct rows of the second half made
        by the worker (cut between two names, so each process reads a name once); ``meanwhile``
        runs while the worker makes them. From :data:`PARALLEL_MIN_DISTINCT` distinct rows the worker
        ends and :func:`_by_distinct`'s workers make them (on ``n_jobs`` processes), as for one frame."""
        codes, distinct = _factorize_rows(keys)
        if len(distinct) >= PARALLEL_MIN_DISTINCT:
            self.tell(None)
            self.waiting()  # the worker ends (its answer kept) before others are forked
            codes, distinct, table = _distinct_table(keys, _names_of, n_jobs, meanwhile=meanwhile,
                                                     factorized=(codes, distinct))
            return table.iloc[codes].set_axis(keys.index)
        cut = len(distinct) // 2 if len(distinct) >= NAMES_SHARE_MIN else len(distinct)
        name = distinct["name"].to_numpy(dtype=object)
        while 0 < cut < len(distinct) and name[cut] == name[cut - 1]:  # a name's rows lie together
            cut += 1
        self.tell(distinct.iloc[cut:] if cut < len(distinct) else None)
        parts = [_names_of(distinct.iloc[:cut])]
        meanwhile()
        if cut < len(distinct):
            parts.append(self._from_worker())
        table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        return table.iloc[codes].set_axis(keys.index)

    def tell(self, asked: pd.DataFrame | None) -> None:
        """Send the worker the names it is to make (None: none; it then ends)."""
        if not self.names_sent:
            self.names_sent = True
            self.here.send(asked)


def _pair_worker() -> tuple:
    """The residents' worker of :func:`normalize_pair`: the residents, then place shares and names."""
    from kinmatch._parallel import shared

    residents, shares = shared()
    if os.getpid() == shares.parent:  # no process could be started: run in this one, nothing shared
        shares.in_process = True
        return normalize_residents(residents, n_jobs=1)
    shares.forked(in_worker=True)
    result = normalize_residents(residents, n_jobs=1)
    shares.worker_part()
    return result


def normalize_pair(residents: pd.DataFrame, missing: pd.DataFrame | Callable[[], pd.DataFrame], *,
                   n_jobs: int | None = None
                   ) -> tuple[tuple[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]:
    """:func:`normalize_residents` and :func:`normalize_missing` of both frames, the same results,
    using two processes when ``n_jobs`` allows (None: when this process may use two CPUs) and the
    frames are large enough (:data:`PAIR_MIN_RESIDENTS`, :data:`PAIR_MIN_REPORTS`): a forked worker
    normalizes the residents while this process normalizes the reports, then the worker parses
    the reports' place texts from one end while this process parses them from the other
    (:class:`_PlaceShares`), so both cores stay busy whatever either side's size; once every
    hometown is read (a name's sound keys depend on its dialect area), the worker makes half of the
    reports' name columns while this process makes the other half.

    ``missing`` may be a function that returns the reports' frame (e.g. reads their file): it is
    called once the residents' worker has started, so that reading overlaps their normalization.

    Returns ``((residents, issues), (missing, issues))``.
    """
    residents_result, missing_result, reap = normalize_pair_unreaped(residents, missing, n_jobs)
    reap()
    return residents_result, missing_result


def normalize_pair_unreaped(residents: pd.DataFrame, missing: pd.DataFrame | Callable[[], pd.DataFrame],
                    n_jobs: int | None) -> tuple[tuple, tuple, Callable[[], object]]:
    """:func:`normalize_pair`'s results and a function that reaps the residents' worker, which
    has answered and is ending (its exit, tens of milliseconds for a copy of a large parent,
    overlaps what the caller does next); call it in any case."""
    from kinmatch._parallel import FORK, fork_call

    _check_frame(residents, "resident")
    two = resolve_jobs(n_jobs) >= 2 and FORK is not None and len(residents) > 0
    if callable(missing) and not (two and len(residents) >= PAIR_MIN_RESIDENTS):
        missing = missing()  # read now, to see whether the reports alone make a second process pay
    if not callable(missing):
        _check_frame(missing, "missing")
        two = two and (len(residents) >= PAIR_MIN_RESIDENTS or len(missing) >= PAIR_MIN_REPORTS)
    if not two:
        return (normalize_residents(residents, n_jobs=n_jobs), normalize_missing(missing, n_jobs=n_jobs),
                _nothing_to_reap)
    shares = _PlaceShares()
    try:
        waiting = fork_call(_pair_worker, shared=(residents, shares))
    except BaseException:  # noqa: B036 - no worker (or Ctrl-C): neither end of the pipe is needed
        shares.here.close()
        raise
    finally:
        shares.forked(in_worker=False)
    if shares.in_process:
        shares.here.close()
        return (waiting(), normalize_missing(missing() if callable(missing) else missing, n_jobs=n_jobs),
                _nothing_to_reap)
    shares.waiting = waiting
    try:
        if callable(missing):
            missing = missing()
            _check_frame(missing, "missing")
        # the other stages may still use workers (descriptions of a million reports)
        ctx = _context(missing, "missing", n_jobs)
        ctx.place_shares = shares
        shares.publish(ctx)
        missing_result = _normalize(missing, "missing", MISSING_COLUMNS, False, ctx=ctx)
        shares.tell(None)  # if the names did not ask the worker for any
    except BaseException:  # noqa: B036 - the reports failed (or Ctrl-C): the worker is stopped, not awaited
        waiting.cancel()
        raise
    finally:
        if not shares.published:  # tell the worker (if still there) that no texts will come
            shares.publish(None)
        shares.here.close()
    return waiting(reap=False), missing_result, waiting


def _nothing_to_reap() -> None:
    """No worker was started."""
