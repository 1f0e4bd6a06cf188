"""Intake: read a station's resident list or a missing-person export into a canonical frame.

Files arrive as CSV in whatever encoding the office PC used (UTF-8, UTF-8 with BOM, GBK/GB18030),
or as Excel workbooks, with Chinese or English headers written a dozen ways. Intake turns each into
the canonical frame of ``docs/contract.md`` §1 plus an issues table, and never loses a row quietly:

    >>> import pandas as pd
    >>> raw = pd.DataFrame({"编号": ["R1", "R2"], "性别": ["男", "x"], "身高(cm)": ["172", "很高"]})
    >>> residents, issues = read_residents(raw)
    >>> residents[["resident_id", "sex", "height", "source_row"]].values.tolist()
    [['R1', '男', '172', 2], ['R2', None, None, 3]]
    >>> issues["reason"].tolist()
    ['bad_sex', 'bad_height']

Every input row ends up either in the frame or in the issues table with action ``row_skipped``.
Reading the file itself (encodings, broken CSV rows, the header row, workbooks) is done by
:mod:`kinmatch._tableread`; this module applies the schema: fields, validation, ids.
Values keep their original text (stripped); only dates, heights, sex and ages are checked, and a
value that fails the check is blanked with an issue that says how to fix it.

Reason codes (action in brackets):

- values: ``bad_date``, ``bad_height``, ``bad_sex``, ``bad_age`` (unreadable),
  ``future_date``, ``implausible_date`` (before 1900), ``implausible_height`` (outside 40–250
  cm), ``implausible_age`` (over 120, or born before 1900) [``kept_blank``]. Honest unknowns
  (未知, 不详, -) are not issues.
- ids: ``missing_id`` (a ``row<N>`` id is generated), ``duplicate_id`` [``row_kept`` with
  ``on_duplicate="stop"``, and linking then refuses the file; ``row_skipped`` for the rows
  ``on_duplicate="first"`` or ``"last"`` leaves out] — see :data:`ON_DUPLICATE`.
- rows: ``blank_row``, ``above_header`` (title rows), ``summary_row`` (合计, 制表人)
  [``row_skipped``]; ``too_many_fields``, ``too_few_fields``, ``unbalanced_quote``
  [``row_kept``, or ``row_skipped`` when nothing is left under the header].
- file: ``encoding_replaced`` (undecodable bytes became '\ufffd') [``kept``],
  ``nul_removed`` (NUL characters taken out of a cell) [``kept``],
  ``duplicate_column`` (two headers for one field, or one header written twice; the message says
  which column is used, the other stays an extra column) [``kept``].
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd

from kinmatch import schema
from kinmatch._tableread import (
    RawTable,
    as_text_column,
    cell_text,
    column_letter,
    factorize_values,
    load_table_file,
    map_unique,
    shown_value,
)
from kinmatch.errors import InputError
from kinmatch.issues import IssueLog
from kinmatch.normalize import quantities as q

__all__ = ["Intake", "read_residents", "read_missing", "read_records", "ON_DUPLICATE"]

ON_DUPLICATE = ("stop", "first", "last")
"""What to do with rows that share an id (issue 16: intake and linking say the same). ``"stop"``
(default): keep every row and flag them; linking refuses the file until each id is unique.
``"first"`` / ``"last"``: keep the first / last row of each id, the others are skipped with an
issue (``kinmatch link --on-duplicate first|last``)."""

_KIND_NOUN = {"resident": "resident (受助人员)", "missing": "missing-person report (寻人启事)"}
_EVENT_DATE = {"resident": "found_date", "missing": "missing_date"}
_MIN_HEIGHT_CM, _MAX_HEIGHT_CM = 40.0, 250.0
_MAX_AGE = 120.0
_MIN_YEAR = 1900


class Intake(NamedTuple):
    """What intake returns: the canonical ``frame`` and the ``issues`` table.

    It unpacks like a tuple (``residents, issues = read_residents(path)``); in a notebook its repr
    summarises what was read.
    """

    frame: pd.DataFrame
    issues: pd.DataFrame

    def summary(self) -> str:
        kind = self.frame.attrs.get("kind", "?")
        source = self.frame.attrs.get("source", "")
        lines = [f"Intake of {kind} records{f' from {source}' if source else ''}: "
                 f"{len(self.frame)} rows kept, {len(self.issues)} issues"]
        if len(self.issues):
            counts = self.issues.groupby(["reason", "action"], sort=False).size()
            for (reason, action), count in counts.sort_values(ascending=False).items():
                lines.append(f"  {reason:<20} {action:<12} {count}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython/Jupyter
        printer.text(self.summary())


# --- validation -------------------------------------------------------------------------------


def _today() -> pd.Timestamp:
    return pd.Timestamp(_dt.date.today())


_MONTH_DAY = re.compile(r"(\d{4})\D{0,2}?(\d{1,2})(?:\D{1,2}?(\d{1,2}))?")


def _date_problem(value: str, today: pd.Timestamp) -> tuple[str, str] | None:
    """(reason, advice) when ``value`` is not a usable date; None when fine or honestly unknown."""
    if q.is_unknown(value):
        return None
    parsed = q.parse_date(value)
    if parsed.value is None:
        # Only for the advice: NFKC turns full-width digits into ASCII; a date in Chinese
        # numerals (二〇二三年十三月) gets the general advice (quantities has no public converter)
        m = _MONTH_DAY.search(unicodedata.normalize("NFKC", value))
        if m and m[2] and not 1 <= int(m[2]) <= 12:
            advice = "fix the month or leave it blank"
        elif m and m[3]:
            advice = "fix the day (that month has fewer days) or leave it blank"
        else:
            advice = "write it like 2023-11-05, 2023年11月 or 2023, or leave it blank"
        return "bad_date", f"{shown_value(value)!r} is not a date; {advice}"
    if parsed.value > today:
        return "future_date", f"{shown_value(value)!r} is in the future; check the year or leave it blank"
    if parsed.value.year < _MIN_YEAR:
        return "implausible_date", (f"{shown_value(value)!r} is before {_MIN_YEAR}; check the year or leave "
                                    f"it blank")
    return None


def _birth_date_problem(value: str, today: pd.Timestamp) -> tuple[str, str] | None:
    """:func:`_date_problem`, except that a cell with a clear meaning in the wrong column is kept:
    an age such as 走失时约75岁 or 约40岁(走失时) in 出生日期 reaches the normalizer, which reads it
    as the age (or birth year) and records in the issues table how it was read."""
    problem = _date_problem(value, today)
    if problem is None or problem[0] != "bad_date" or q.parse_age(value) is None:
        return problem
    if _MONTH_DAY.search(unicodedata.normalize("NFKC", value)):
        return problem  # a year with a month that is wrong (2023年13月) is a date to fix, not an age
    return None


def _height_problem(value: str, today: pd.Timestamp) -> tuple[str, str] | None:
    if q.is_unknown(value):
        return None
    parsed = q.parse_height(value)
    if parsed is None:
        return "bad_height", (f"{shown_value(value)!r} is not a height; write it like 172cm, 1.72米 or 约170, "
                              f"or leave it blank")
    if not _MIN_HEIGHT_CM <= parsed.cm <= _MAX_HEIGHT_CM:
        return "implausible_height", (
            f"{shown_value(value)!r} reads as {parsed.cm:g} cm, outside {_MIN_HEIGHT_CM:g}–{_MAX_HEIGHT_CM:g} "
            f"cm; check the unit (1.72米 = 172cm) or leave it blank")
    return None


def _sex_problem(value: str, today: pd.Timestamp) -> tuple[str, str] | None:
    if q.parse_sex(value) is not None or q.is_unknown(value, field="sex"):
        return None
    return "bad_sex", f"{shown_value(value)!r} is not a sex; write 男 or 女 (or 未知), or leave it blank"


def _age_problem(value: str, today: pd.Timestamp) -> tuple[str, str] | None:
    if q.is_unknown(value):
        return None
    parsed = q.parse_age(value, ref_date=today)
    if parsed is None:
        return "bad_age", (f"{shown_value(value)!r} is not an age; write it like 60, 约60岁, 60多岁, 五六十岁 or "
                           f"1960年(估), or leave it blank")
    if parsed.birth_year_low is not None:
        if parsed.birth_year_low > today.year:
            return "future_date", f"{shown_value(value)!r} gives a birth year in the future; check the year"
        if parsed.birth_year_high < _MIN_YEAR:
            return "implausible_age", f"{shown_value(value)!r} gives a birth year before {_MIN_YEAR}; check it"
    if parsed.low > _MAX_AGE:
        return "implausible_age", (f"{shown_value(value)!r} is over {_MAX_AGE:g} years; check the number or "
                                   f"leave it blank")
    return None


def _validators(kind: str) -> dict[str, Callable[[str, pd.Timestamp], tuple[str, str] | None]]:
    return {
        "birth_date": _birth_date_problem,
        _EVENT_DATE[kind]: _date_problem,
        "height": _height_problem,
        "sex": _sex_problem,
        "age": _age_problem,
    }


def _validate(column: np.ndarray, header: str, check: Callable, rows: np.ndarray,
              ids: np.ndarray, field_name: str, issues: IssueLog) -> np.ndarray:
    """Blank the values ``check`` rejects and log one issue per affected row (vectorized: each
    distinct value is checked once)."""
    today = _today()
    codes, uniques = factorize_values(column)
    problems = [check(v, today) for v in uniques]
    bad_codes = np.array([i for i, p in enumerate(problems) if p is not None], dtype=int)
    if not len(bad_codes):
        return column
    bad_rows = np.flatnonzero(np.isin(codes, bad_codes))
    for position in bad_rows:
        reason, advice = problems[codes[position]]
        row = int(rows[position])
        issues.add(row=row, record_id=ids[position], column=field_name,
                   value=shown_value(uniques[codes[position]]), reason=reason, action="kept_blank",
                   message=f"column {header} row {row}: {advice}")
    column = column.copy()
    column[bad_rows] = None
    return column


# --- assembling the canonical frame -----------------------------------------------------------


def _missing_id_error(raw: RawTable, kind: str) -> InputError:
    id_field = schema.ID_FIELD[kind]
    accepted = ", ".join(schema.accepted_headers(id_field, kind))
    found = ", ".join(raw.headers) or "(none)"
    return InputError(
        f"{raw.source}: no id column for {_KIND_NOUN[kind]} records. kinmatch needs one column "
        f"that names each record uniquely, so candidates and reviews can point back to it. "
        f"Headers found: {found}. Accepted id headers: {accepted}. Fix: rename the id column to "
        f"one of these (or add a column 编号 with a unique number per row)."
    )


def read_records(src: Any, kind: str, on_duplicate: str = "stop") -> Intake:
    """Read ``src`` (CSV/.xlsx path, open file, bytes or DataFrame) as ``kind`` ``"resident"`` or
    ``"missing"``; ``on_duplicate``: see :data:`ON_DUPLICATE`."""
    if kind not in schema.FIELDS:
        raise ValueError(f"kind must be one of {schema.KINDS}, not {kind!r}")
    check_on_duplicate(on_duplicate)
    return _read_records(src, kind, on_duplicate)


def check_on_duplicate(on_duplicate: str) -> None:
    """Refuse an ``on_duplicate`` that is not one of :data:`ON_DUPLICATE`."""
    if on_duplicate not in ON_DUPLICATE:
        raise InputError(f"on_duplicate must be one of {list(ON_DUPLICATE)}, not {on_duplicate!r}: 'stop' refuses "
                         f"duplicate ids, 'first' / 'last' keeps the first / last row of each id")


def _read_records(src: Any, kind: str, on_duplicate: str = "stop") -> Intake:
    raw = load_table_file(src, kind)
    issues = raw.issues
    matched = schema.match_headers(raw.headers, kind)
    id_field = schema.ID_FIELD[kind]
    if id_field not in matched.values():
        raise _missing_id_error(raw, kind)

    n = len(raw.source_rows)
    by_header = dict(zip(raw.headers, raw.columns, strict=False))
    def to_text(header: str) -> np.ndarray:  # strip, blank → None ("  " is blank too)
        values = by_header[header]
        return values if header in raw.stripped else as_text_column(values)

    table = schema.FIELDS[kind]
    canonical: dict[str, np.ndarray] = {}
    first_header: dict[str, str] = {}
    for field_name in schema.canonical_columns(kind):
        sources = [h for h, f in matched.items() if f == field_name]
        if not sources:
            canonical[field_name] = np.full(n, None, dtype=object)
            continue
        if len(sources) > 1:  # a joined field: 健康状况；精神状况；智力状况 in table order
            rank = {schema.normalize_header(h): i for i, h in enumerate(table[field_name])}
            sources.sort(key=lambda h: rank.get(schema.normalize_header(h), len(rank)))
            parts = [to_text(h) for h in sources]
            sep = schema.JOINED_FIELDS[field_name]
            joined = [sep.join(p for p in cells if p is not None) or None
                      for cells in zip(*parts, strict=True)]
            canonical[field_name] = np.array(joined, dtype=object)
        else:
            canonical[field_name] = to_text(sources[0])
        first_header[field_name] = sources[0]

    # The same header written twice (姓名 … 姓名): reading kept them apart as 姓名 and 姓名.1;
    # said here in the words of the file, with the spreadsheet letters of both columns.
    for renamed, (written, first, position) in raw.renamed.items():
        field_name = schema.field_of_header(written, kind)
        if field_name is not None and matched.get(written) == field_name:
            use = (f"column {column_letter(first)} is used as {field_name}; column "
                   f"{column_letter(position)} is kept as the extra column {renamed} and not used "
                   f"for matching")
        else:
            use = (f"both are kept, column {column_letter(first)} as {written} and column "
                   f"{column_letter(position)} as {renamed}")
        issues.add(row=raw.header_row, column=written, value=None, reason="duplicate_column",
                   action="kept",
                   message=f"columns {column_letter(first)} and {column_letter(position)} are both "
                           f"headed {written}: {use}. Rename or remove one of them.")
    # A field given twice (e.g. 编号 and 人员编号) keeps its first column; the others stay visible
    # as unknown columns, and the user hears about it.
    for header in raw.headers:
        field_name = schema.field_of_header(header, kind)
        if field_name is not None and header not in matched:
            issues.add(row=raw.header_row, column=header, value=None, reason="duplicate_column",
                       action="kept",
                       message=f"columns {first_header[field_name]} and {header} both mean "
                               f"{field_name}; {first_header[field_name]} is used and {header} "
                               f"is kept as an extra column. Rename or remove one of them.")
    unknown_headers = [h for h in raw.headers if h not in matched]
    taken = set(canonical) | {"source_row"}
    unknown: dict[str, Any] = {}
    for header in unknown_headers:
        name, k = header, 0
        while name in taken:
            k += 1
            name = f"{header}.{k}"
        taken.add(name)
        if raw.original is not None:  # untouched: the input's own values and dtype
            unknown[name] = raw.original.iloc[:, raw.headers.index(header)].reset_index(drop=True)
        else:
            unknown[name] = by_header[header]

    # The raw columns are no longer needed (canonical text is deduplicated): free them early.
    by_header.clear()
    raw.columns.clear()

    # Blank rows: nothing in any column.
    filled = np.zeros(n, dtype=bool)
    for values in canonical.values():
        filled |= pd.notna(values)
    for values in unknown.values():
        filled |= map_unique(np.asarray(values, dtype=object),
                              lambda v: cell_text(v) is not None).astype(bool)
    rows = raw.source_rows
    for row in rows[~filled]:
        issues.add(row=int(row), column=None, value=None, reason="blank_row", action="row_skipped",
                   message=f"row {row} is blank; skipped")
    # Totals and sign-off lines under the table (合计: 120人, 制表人: ...) are not records.
    summary = map_unique(canonical[id_field],
                          lambda v: v is not None and bool(_SUMMARY_ID.match(v))).astype(bool)
    for position in np.flatnonzero(summary):
        row = int(rows[position])
        issues.add(row=row, column=first_header[id_field], value=shown_value(canonical[id_field][position]),
                   reason="summary_row", action="row_skipped",
                   message=f"row {row} looks like a total or sign-off line "
                           f"({canonical[id_field][position]!r} in {first_header[id_field]}), not "
                           f"a record; skipped. If it is a record, give it a real id.")
    filled &= ~summary
    if not filled.all():
        canonical = {k: v[filled] for k, v in canonical.items()}
        unknown = {k: v[filled].reset_index(drop=True) if isinstance(v, pd.Series) else v[filled]
                   for k, v in unknown.items()}
        rows = rows[filled]

    ids = _fill_ids(canonical[id_field], rows, first_header[id_field], issues)
    canonical[id_field] = ids
    kept = _flag_duplicate_ids(ids, rows, first_header[id_field], issues, on_duplicate)
    if not kept.all():
        canonical = {k: v[kept] for k, v in canonical.items()}
        unknown = {k: v[kept].reset_index(drop=True) if isinstance(v, pd.Series) else v[kept]
                   for k, v in unknown.items()}
        rows, ids = rows[kept], ids[kept]

    validators = _validators(kind)
    for field_name in schema.canonical_columns(kind):  # column order, so issues read left to right
        check = validators.get(field_name)
        if check is not None and field_name in first_header:
            canonical[field_name] = _validate(canonical[field_name], first_header[field_name],
                                              check, rows, ids, field_name, issues)

    frame = pd.DataFrame({**canonical, **unknown})
    frame["source_row"] = rows.astype("int64")
    frame.attrs["kind"] = kind
    frame.attrs["source"] = raw.source
    if raw.encoding:
        frame.attrs["encoding"] = raw.encoding
    issue_frame = issues.to_frame()
    if len(issue_frame):
        # Problems found while reading (encoding, broken rows) learn their record's id now, and
        # every issue names the canonical field where there is one.
        id_of_row = dict(zip(rows.tolist(), ids.tolist(), strict=False))
        no_id = issue_frame["record_id"].isna() & issue_frame["reason"].ne("blank_row")
        issue_frame.loc[no_id, "record_id"] = issue_frame.loc[no_id, "row"].map(id_of_row)
        issue_frame["column"] = issue_frame["column"].map(lambda c: matched.get(c, c))
    if len(issue_frame):
        issue_frame = issue_frame.sort_values("row", kind="stable", na_position="first")
        issue_frame = issue_frame.reset_index(drop=True)
    return Intake(frame, issue_frame)


_SUMMARY_ID = re.compile(r"^(合计|总计|小计|共计|制表|填表|审核|统计人|统计时间|说明|注[:：]|备注[:：])")


def _fill_ids(ids: np.ndarray, rows: np.ndarray, header: str, issues: IssueLog) -> np.ndarray:
    blank = np.array([v is None for v in ids], dtype=bool)
    if not blank.any():
        return ids
    ids = ids.copy()
    used = set(v for v in ids if v is not None)
    for position in np.flatnonzero(blank):
        row = int(rows[position])
        new_id, k = f"row{row}", 0
        while new_id in used:
            k += 1
            new_id = f"row{row}_{k}"
        used.add(new_id)
        ids[position] = new_id
        issues.add(row=row, record_id=new_id, column=header, value=None, reason="missing_id",
                   action="row_kept",
                   message=f"column {header} row {row}: the id is blank; the row is kept with the "
                           f"generated id {new_id!r}. Fill in the id in the source file so "
                           f"reviews stay linked to this person.")
    return ids


def _flag_duplicate_ids(ids: np.ndarray, rows: np.ndarray, header: str, issues: IssueLog,
                        on_duplicate: str = "stop") -> np.ndarray:
    """Flag rows whose id an earlier (or, with ``"last"``, a later) row has; returns the rows to keep."""
    series = pd.Series(ids)
    keep_which = "last" if on_duplicate == "last" else "first"
    duplicated = series.duplicated(keep=keep_which).to_numpy()
    if not duplicated.any():
        return np.ones(len(ids), dtype=bool)
    kept_row = pd.Series(rows).groupby(series.to_numpy()).agg(keep_which).to_dict()
    for position in np.flatnonzero(duplicated):
        row, record_id = int(rows[position]), ids[position]
        other = kept_row[record_id]
        if on_duplicate == "stop":
            issues.add(row=row, record_id=record_id, column=header, value=shown_value(record_id),
                       reason="duplicate_id", action="row_kept",
                       message=f"column {header} row {row}: id {record_id!r} is already used on row {other}; both "
                               f"rows are kept here, but linking refuses a file whose ids repeat. Give each record "
                               f"its own id (or merge the rows if they are the same person), or choose which row "
                               f"to keep: on_duplicate='first' or 'last' (kinmatch link --on-duplicate first|last).")
        else:
            issues.add(row=row, record_id=record_id, column=header, value=shown_value(record_id),
                       reason="duplicate_id", action="row_skipped",
                       message=f"column {header} row {row}: id {record_id!r} is also used on row {other}; the "
                               f"{on_duplicate} row with this id is kept (on_duplicate={on_duplicate!r}) and this "
                               f"one is skipped. Check that they are the same person.")
    return ~duplicated if on_duplicate != "stop" else np.ones(len(ids), dtype=bool)


def read_residents(src: Any, on_duplicate: str = "stop") -> Intake:
    """Read a station's resident list (受助人员) into the canonical resident frame + issues.

    ``src``: a path to a CSV (any of UTF-8, UTF-8 BOM, GB18030/GBK) or .xlsx file, an open
    binary file or upload of one (or its bytes), or a DataFrame.

    >>> import pandas as pd
    >>> residents, issues = read_residents(pd.DataFrame({"人员编号": ["R1"], "目测年龄": ["约60岁"]}))
    >>> residents.loc[0, "age"], residents.attrs["kind"]
    ('约60岁', 'resident')

    ``on_duplicate``: rows sharing an id are kept and flagged (``"stop"``: linking will refuse
    them), or only the ``"first"`` / ``"last"`` of each is kept (:data:`ON_DUPLICATE`).
    """
    return read_records(src, "resident", on_duplicate)


def read_missing(src: Any, on_duplicate: str = "stop") -> Intake:
    """Read a missing-person export (寻人启事) into the canonical missing frame + issues.

    >>> import pandas as pd
    >>> reports, issues = read_missing(pd.DataFrame({"寻人编号": ["M1"], "口音": ["四川口音"]}))
    >>> reports.loc[0, "dialect"], len(issues)
    ('四川口音', 0)

    ``on_duplicate``: as for :func:`read_residents`.
    """
    return read_records(src, "missing", on_duplicate)
