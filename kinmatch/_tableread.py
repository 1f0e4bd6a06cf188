"""Reading a table file as it is: CSV bytes of any office encoding, or an .xlsx workbook, or a
DataFrame, into headers + text columns (``RawTable``) and the issues found while reading.

Kept apart from :mod:`kinmatch.intake`, which applies the schema (field names, validation, ids)
to what this module reads. What this module handles:

- encodings: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK, charset-normalizer as a
  last resort; undecodable bytes become '\ufffd' with an ``encoding_replaced`` issue;
- broken CSV rows: unclosed quotes (``unbalanced_quote``), too many or too few cells; cells of
  any length (the csv module's 131,072-character limit is raised, so a long quoted cell is not
  split into other columns);
- NUL characters, which databases refuse (PostgreSQL) and no person typed: removed, with a
  ``nul_removed`` issue per cell;
- headers written twice: kept apart as ``姓名`` and ``姓名.1``, and the pair remembered
  (``RawTable.renamed``) so intake can report it;
- the header row: title rows above it (``above_header``), the data sheet of a workbook;
- memory: rows become deduplicated text columns chunk by chunk.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import itertools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from kinmatch import schema
from kinmatch._io import excel_unescape
from kinmatch.errors import InputError
from kinmatch.issues import IssueLog

# --- reading cells ----------------------------------------------------------------------------


_MAX_SHOWN = 200


def shown_value(value: Any) -> Any:
    """A cell as an issue row shows it: at most 200 characters, then "…" (a pasted essay must
    not go into the issues table whole)."""
    if isinstance(value, str) and len(value) > _MAX_SHOWN:
        return value[:_MAX_SHOWN] + "…"
    return value


def cell_text(value: Any) -> str | None:
    """One cell as the text a person sees: stripped, None for blank; 172.0 → '172'."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (pd.Timestamp, _dt.datetime)):
        if pd.isna(value):
            return None
        if (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value).strip() or None


def factorize_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells from a DataFrame input
        codes, uniques = pd.factorize(np.array([None if v is None else repr(v) for v in values],
                                               dtype=object), use_na_sentinel=True)
        uniques = np.array([values[np.argmax(codes == i)] for i in range(len(uniques))],
                           dtype=object)
    return codes, np.asarray(uniques, dtype=object)


def map_unique(values: np.ndarray, func: Callable[[Any], Any]) -> np.ndarray:
    """Apply ``func`` once per distinct value (blank → func(None)) and map back; object array."""
    codes, uniques = factorize_values(values)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [func(v) for v in uniques]
    table[-1] = func(None)
    return table[codes]


def as_text_column(values: np.ndarray) -> np.ndarray:
    return map_unique(values, cell_text)


# --- the raw table ----------------------------------------------------------------------------


@dataclass
class RawTable:
    """Headers and columns as read, before any schema is applied."""

    headers: list[str]
    columns: list[np.ndarray]  # object arrays, one per header, all the same length
    source_rows: np.ndarray  # 1-based row number in the source of each data row
    source: str
    issues: IssueLog = field(default_factory=IssueLog)
    encoding: str | None = None
    original: pd.DataFrame | None = None  # a DataFrame input, so unknown columns keep their dtype
    header_row: int = 1
    stripped: set[str] = field(default_factory=set)  # headers whose cells are already clean text
    # A header written again in the same file, as renamed here ("姓名.1") → (header as written,
    # its first position, this position); positions are 0-based columns of the table.
    renamed: dict[str, tuple[str, int, int]] = field(default_factory=dict)


def _unique_headers(headers: list[Any]) -> list[str]:
    """Headers as strings, blank ones named like pandas does, repeats suffixed .1, .2."""
    return _renamed_headers(headers)[0]


def _renamed_headers(headers: list[Any]) -> tuple[list[str], dict[str, tuple[str, int, int]]]:
    """:func:`_unique_headers` and, for each renamed repeat, (header as written, position of its
    first use, its own position)."""
    seen: dict[str, int] = {}
    first: dict[str, int] = {}
    result = []
    renamed: dict[str, tuple[str, int, int]] = {}
    for position, header in enumerate(headers):
        name = cell_text(header) if not isinstance(header, str) else header
        if name is None or not str(name).strip():
            name = f"Unnamed: {position}"
        name = str(name).replace("\x00", "")
        if name in seen:
            seen[name] += 1
            written, name = name, f"{name}.{seen[name]}"
            renamed[name] = (written, first[written], position)
        else:
            seen[name] = 0
            first[name] = position
        result.append(name)
    return result, renamed


def column_letter(position: int) -> str:
    """The spreadsheet letter of a 0-based column position: 0 → A, 27 → AB.

    >>> column_letter(0), column_letter(25), column_letter(27)
    ('A', 'Z', 'AB')
    """
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _nul_issue(issues: IssueLog, row: int, header: str | None, value: Any) -> None:
    where = f"column {header} row {row}" if header else f"row {row}"
    issues.add(row=row, column=header, value=shown_value(value), reason="nul_removed", action="kept",
               message=f"{where}: the cell held NUL characters (\\x00, from a damaged export or "
                       "pasted binary data), which were removed; the rest of the cell is kept. "
                       "Check the cell in the source file.")


def _remove_nul(table: "RawTable") -> None:
    """Remove NUL characters from every text cell of a DataFrame input, one ``nul_removed`` issue
    per cell (CSV text is cleaned before parsing, see :func:`_read_csv`).

    A NUL is never typed by a person (it comes from a damaged export or a binary pasted into a
    cell), and PostgreSQL refuses text that holds one. It must go before any ``pd.factorize``:
    pandas' string hashing stops at a NUL, so "" and "\\x000" would become one value.
    """
    copied = False
    for index, (header, column) in enumerate(zip(table.headers, table.columns, strict=True)):
        if column.dtype != object:
            continue
        hit = np.fromiter((v.__class__ is str and "\x00" in v for v in column), dtype=bool,
                          count=len(column))
        if not hit.any():
            continue
        new_column = column.copy()
        for position in np.flatnonzero(hit):
            new_column[position] = column[position].replace("\x00", "")
            _nul_issue(table.issues, int(table.source_rows[position]), header, new_column[position])
        table.columns[index] = new_column
        if table.original is not None:
            if not copied:
                table.original, copied = table.original.copy(), True
            table.original.isetitem(index, new_column)


def _from_frame(frame: pd.DataFrame) -> RawTable:
    rows = np.arange(len(frame)) + 2
    if "source_row" in frame.columns and pd.api.types.is_integer_dtype(frame["source_row"]):
        # A frame intake made before (or a filtered piece of one): its rows keep pointing at
        # the original file, so reading it again changes nothing.
        rows = frame["source_row"].to_numpy(dtype="int64")
        frame = frame.drop(columns="source_row")
    headers, renamed = _renamed_headers(list(frame.columns))
    columns = [frame.iloc[:, i].to_numpy(dtype=object) for i in range(frame.shape[1])]
    # Otherwise spreadsheet numbering: header row 1, first data row 2, by position (not by label).
    table = RawTable(headers, columns, rows, "DataFrame", original=frame, renamed=renamed)
    _remove_nul(table)
    return table


def _from_rows(rows: list[tuple[int, list[Any]]], header_width: int) -> tuple[list[np.ndarray], np.ndarray]:
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(header_width)], np.empty(0, dtype=int)
    numbers = np.fromiter((n for n, _ in rows), dtype=int, count=len(rows))
    columns = [np.array(col, dtype=object) for col in zip(*(r for _, r in rows), strict=False)]
    return columns, numbers


_HEADER_SEARCH_ROWS = 10


def _find_header(records: list[tuple[int, list[Any]]], kind: str, issues: IssueLog) -> int | None:
    """Index of the header record; logs the rows above it.

    The header is the first of the first few non-blank rows that holds an id header (编号...), so
    a title row above it ("XX救助管理站受助人员名单", common in office exports) does not hide it.
    Without an id header anywhere the first non-blank row is the header (and the caller's error
    lists what it holds).
    """
    non_blank = [i for i, (_, cells) in enumerate(records[: _HEADER_SEARCH_ROWS * 5])
                 if any(cell_text(c) is not None for c in cells)][:_HEADER_SEARCH_ROWS]
    if not non_blank:
        return None
    id_field = schema.ID_FIELD[kind]
    chosen = next((i for i in non_blank
                   if any(schema.field_of_header(c, kind) == id_field
                          for c in records[i][1] if cell_text(c) is not None)),
                  non_blank[0])
    for number, cells in records[:chosen]:
        texts = [t for t in (cell_text(c) for c in cells) if t is not None]
        if texts:
            issues.add(row=number, column=None, value=shown_value(" ".join(texts)), reason="above_header",
                       action="row_skipped",
                       message=f"row {number} is above the header row "
                               f"{records[chosen][0]} (a title?); skipped")
        else:
            issues.add(row=number, column=None, value=None, reason="blank_row",
                       action="row_skipped", message=f"row {number} is blank; skipped")
    return chosen


def _read_xlsx(path: Path, data: bytes, kind: str) -> RawTable:
    import openpyxl  # only needed for workbooks

    try:
        # From the bytes: openpyxl would refuse a workbook saved under a .csv name.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputError(
            f"{path}: cannot open the workbook ({exc}). Open it in Excel or WPS, save it again as "
            f".xlsx (or export CSV UTF-8) and retry."
        ) from exc
    try:
        sheet = _data_sheet(workbook, kind)
        records = [(number, list(cells))
                   for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()
    issues = IssueLog()
    start = _find_header(records, kind, issues)
    if start is None:
        raise InputError(f"{path}: the sheet {sheet.title!r} is empty. Put the header row "
                         f"(编号, 姓名, ...) on top of the first sheet and retry.")
    header, rows = records[start][1], records[start + 1:]
    width = max([len(header)] + [len(r) for _, r in rows])
    header = header + [None] * (width - len(header))
    rows = [(n, r + [None] * (width - len(r))) for n, r in rows]
    columns, numbers = _from_rows(rows, width)
    # A column with neither a header nor any value is only Excel's formatting: drop it.
    keep = [i for i in range(width)
            if cell_text(header[i]) is not None or pd.notna(as_text_column(columns[i])).any()]
    headers, renamed = _renamed_headers([header[i] for i in keep])
    return RawTable(headers, [columns[i] for i in keep], numbers, f"{path} [{sheet.title}]", issues,
                     header_row=records[start][0], renamed=renamed)


def _data_sheet(workbook: Any, kind: str) -> Any:
    """The first sheet with an id header near its top (a cover or 说明 sheet may come first);
    the first sheet when none has one."""
    id_field = schema.ID_FIELD[kind]
    for sheet in workbook.worksheets:
        # Some exporters write a wrong size tag ("A1"); reading would then stop at A1.
        sheet.reset_dimensions()
        for cells in sheet.iter_rows(max_row=_HEADER_SEARCH_ROWS * 5, values_only=True):
            if any(isinstance(c, str) and schema.field_of_header(c, kind) == id_field
                   for c in cells):
                return sheet
    return workbook.worksheets[0]


# --- CSV: encoding ----------------------------------------------------------------------------

_decode_state = threading.local()


def _record_bad_bytes(error: UnicodeDecodeError) -> tuple[str, int]:
    _decode_state.offsets.append(error.start)
    return ("\ufffd", error.end)


codecs.register_error("kinmatch.record_bad_bytes", _record_bad_bytes)


def _decode_counting(data: bytes, encoding: str) -> tuple[str, list[int]]:
    _decode_state.offsets = []
    text = data.decode(encoding, errors="kinmatch.record_bad_bytes")
    offsets, _decode_state.offsets = _decode_state.offsets, []
    return text, offsets


def decode_bytes(data: bytes) -> tuple[str, str, list[int], bytes]:
    """Decode CSV bytes; returns text, encoding, offsets of undecodable bytes, and the bytes the
    offsets refer to (the BOM removed).

    The order follows what Chinese offices produce: a BOM says UTF-8 (Excel "CSV UTF-8"); valid
    UTF-8 is UTF-8; otherwise GB18030, the superset of GBK/GB2312 that Excel and WPS write on a
    Chinese Windows. charset-normalizer is asked only when neither fits.
    """
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8):]
        text, bad = _decode_counting(body, "utf-8")
        return text, "utf-8-sig", bad, body
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export. Offsets are not tracked in UTF-16 (bad bytes are rare).
        text = data.decode("utf-16", errors="replace")
        return text, "utf-16", [], data
    try:
        return data.decode("utf-8"), "utf-8", [], data
    except UnicodeDecodeError:
        pass
    # Damaged files: decide which encoding the file *mostly* is, then decode it with replacement
    # (and issues). A UTF-8 file with a few damaged bytes can decode "fine" as GB18030 into
    # garbage, so UTF-8 is judged first: by the share of its non-ASCII bytes that fail (real GBK
    # text read as UTF-8 fails on nearly all), then by the share of non-ASCII lines that fail.
    non_ascii = len(data) - len(data.translate(None, bytes(range(0x80, 0x100))))
    utf8_damage = _line_damage(data, "utf-8")
    if _few_utf8_failures(data, non_ascii) or (utf8_damage < 0.5 and not _reads_better_as_gb(data)):
        text, bad = _decode_counting(data, "utf-8")
        return text, "utf-8", bad, data
    try:
        return data.decode("gb18030"), "gb18030", [], data
    except UnicodeDecodeError:
        pass
    gb_damage = _line_damage(data, "gb18030")
    if min(utf8_damage, gb_damage) <= 0.5:
        encoding = "gb18030" if gb_damage < utf8_damage else "utf-8"
        text, bad = _decode_counting(data, encoding)
        return text, encoding, bad, data
    try:  # neither: Big5, UTF-16 without BOM...
        import charset_normalizer

        best = charset_normalizer.from_bytes(data).best()
        # Only an encoding a Chinese office could have used; for damaged data charset-normalizer
        # happily answers mac_iceland or cp1252, which would garble every Chinese character.
        if best is not None and best.encoding in _PLAUSIBLE_ENCODINGS:
            return data.decode(best.encoding), best.encoding, [], data
    except (UnicodeDecodeError, LookupError):
        pass
    failures = {enc: data.decode(enc, errors="replace").count("\ufffd")
                for enc in ("utf-8", "gb18030")}  # a tie goes to UTF-8
    encoding = min(failures, key=failures.get)
    text, bad = _decode_counting(data, encoding)
    return text, encoding, bad, data


_FAILURE_SHARE = 0.02
_COUNT_CHUNK = 1 << 18


def _few_utf8_failures(data: bytes, non_ascii: int) -> bool:
    """Whether the bytes that fail as UTF-8 ('\ufffd' once replaced) are under 2% of the non-ASCII
    ones: a UTF-8 file with a few damaged bytes. Counted in pieces cut after a line end (where no
    UTF-8 sequence continues, so the pieces' counts add up to the whole file's), stopping as soon as
    the count says no: a GBK file says so in its first piece."""
    failures, start = 0, 0
    while start < len(data):
        end = data.find(b"\n", start + _COUNT_CHUNK)
        end = len(data) if end < 0 else end + 1
        failures += data[start:end].decode("utf-8", errors="replace").count("\ufffd")  # at C speed
        if not failures / non_ascii < _FAILURE_SHARE:
            return False
        start = end
    return True


def _reads_better_as_gb(data: bytes, sample: int = 65_536) -> bool:
    """Whether the bytes decode as GB18030 without error and read there as more common Chinese
    characters than as UTF-8 (the first ``sample`` bytes). A GBK line with one or two Chinese
    characters can be valid UTF-8 by chance (一 is D2 BB in GBK, a valid UTF-8 pair), so in a small
    GBK file most lines may "decode" as UTF-8 into Cyrillic or Armenian letters; a damaged UTF-8
    file read as GB18030 gives rare characters instead (:func:`_common_share`)."""
    head = data[:sample]
    try:
        as_gb = head.decode("gb18030")
    except UnicodeDecodeError:
        if len(data) <= sample:
            return False
        as_gb = head.decode("gb18030", errors="ignore")  # the cut may split the last character
    as_utf8 = head.decode("utf-8", errors="replace")
    return _common_share([as_gb]) > _common_share([as_utf8])


def _line_damage(data: bytes, encoding: str, sample_lines: int = 5000) -> float:
    """Share of the non-ASCII lines (the first ``sample_lines``) that ``encoding`` cannot decode.

    Lines are a steadier vote than bytes when a file has few non-ASCII characters.
    """
    checked = bad = 0
    for line in io.BytesIO(data):  # lazily: only the first lines are needed
        if line.isascii():
            continue
        checked += 1
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            bad += 1
        if checked >= sample_lines:
            break
    return bad / checked if checked else 1.0


_PLAUSIBLE_ENCODINGS = {"utf_8", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "gb2312", "gbk",
                        "gb18030", "hz", "big5", "big5hkscs", "cp950", "cp936"}


# --- CSV: records -----------------------------------------------------------------------------

_DELIMITERS = ",\t;|"
_MAX_RECORD_LINES = 50  # a quoted cell longer than this many lines is an unclosed quote


_CELL_LIMIT = 2**31 - 1  # the largest value csv.field_size_limit accepts on every platform


def _allow_long_cells() -> None:
    """Raise the csv module's cell limit (131,072 characters by default).

    Over the limit the reader fails, and the fallback that re-reads a broken row without quotes
    would cut the long cell at its commas and shift the pieces into other columns. The limit is
    process-wide; raising it only lets longer cells be read (the file is in memory already).
    """
    if csv.field_size_limit() < _CELL_LIMIT:
        csv.field_size_limit(_CELL_LIMIT)


def _guess_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_records(lines: list[str], delimiter: str, width_of: Callable[[], int | None]):
    """Yield (first line number, fields, problem) for each record.

    The csv module handles quoting; this loop adds recovery from an unclosed quote, which would
    otherwise swallow the rest of the file into one cell: such a record is re-read as its first
    line alone, quotes ignored, and reading restarts on the next line.
    """
    position = 0
    while position < len(lines):
        reader = csv.reader(itertools.islice(lines, position, None), delimiter=delimiter)
        consumed = 0
        restart = None
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error:
                restart = position + consumed
                break
            span = reader.line_num - consumed
            width = width_of()
            if span > 1 and (span > _MAX_RECORD_LINES or (width is not None and len(fields) != width)):
                restart = position + consumed
                break
            yield position + consumed + 1, fields, None
            consumed = reader.line_num
        if restart is None:
            return
        line = lines[restart].rstrip("\r\n")
        try:
            single = next(csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE), [])
        except csv.Error:  # e.g. a cell over the csv module's size limit
            single = line.split(delimiter)
        yield restart + 1, single, "unbalanced_quote"
        position = restart + 1


def _has_id_header(records: list[tuple[int, list[str], str | None]], kind: str) -> bool:
    id_field = schema.ID_FIELD[kind]
    return any(schema.field_of_header(cell, kind) == id_field
               for _number, cells, _problem in records[:_HEADER_SEARCH_ROWS * 5] for cell in cells if cell)


def _read_csv(path: Path, data: bytes, kind: str,
              decoded: tuple[str, str, list[int], bytes] | None = None) -> RawTable:
    text, encoding, bad_offsets, body = decoded or decode_bytes(data)
    _allow_long_cells()
    lines = io.StringIO(text, newline="").readlines()
    # NULs go before parsing (pandas' hashing would merge cells that differ after a NUL); the
    # lines that had them are kept aside to say which cells they were in.
    nul_lines: dict[int, str] = {}
    if "\x00" in text:
        for index, line in enumerate(lines):
            if "\x00" in line:
                nul_lines[index] = line
                lines[index] = line.replace("\x00", "")
    del text  # memory: a million-row file is held as lines, then rows, then columns
    issues = IssueLog()
    # The header (and so the delimiter and the row width) is found on the first lines; the few
    # lines above it are read once more below, which costs nothing.
    head_lines = lines[: _HEADER_SEARCH_ROWS * 5]
    # The header is the line with the most separators among the first ones (a title row above
    # it has none, or as many trailing commas as the header has cells).
    delimiter = _guess_delimiter(max(head_lines or [""],
                                     key=lambda line: sum(map(line.count, _DELIMITERS))))
    head = list(_csv_records(head_lines, delimiter, lambda: None))
    if not _has_id_header(head, kind):
        # A quoted cell with tabs or semicolons in it can out-vote the header's commas: the
        # delimiter that shows an id header wins, else the first guess stands.
        for other in _DELIMITERS:
            retry = list(_csv_records(head_lines, other, lambda: None)) if other != delimiter else []
            if _has_id_header(retry, kind):
                delimiter, head = other, retry
                break
    start = _find_header([(n, f) for n, f, _ in head], kind, issues)
    if start is None:
        raise InputError(f"{path}: the file has no header row (it is empty or blank). Export the "
                         f"table again with its header (编号, 姓名, ...) as the first line.")
    header = head[start][1]
    big5 = encoding.startswith("big5") or encoding == "cp950"
    if big5:
        header = _simplified_headers(header, kind)
    if not big5 and not encoding.startswith("utf") and not any(
            schema.field_of_header(h, kind) == schema.ID_FIELD[kind] for h in header):
        # GB18030 decodes nearly any bytes, so a Big5 (Taiwan/HK) file "decodes" into rare
        # characters and then no header matches. Only now, when reading has failed anyway, is
        # the other decoding tried: a clean Big5 file is then read as Big5.
        retried = _retry_as_big5(path, data, kind, encoding, header)
        if retried is not None:
            return retried
    width = len(header)
    known = {i for i, h in enumerate(header) if schema.field_of_header(h, kind) is not None}
    # data starts on the line after the header record (which may span lines if a cell is quoted)
    data_start = head[start + 1][0] - 1 if start + 1 < len(head) else len(head_lines)
    rows: list[tuple[int, list[Any]]] = []
    chunks: list[tuple[list[np.ndarray], np.ndarray]] = []

    for number, fields, problem in _csv_records(lines[data_start:], delimiter, lambda: width):
        number += data_start
        if problem:
            issues.add(row=number, column=None, value=shown_value(lines[number - 1].rstrip("\r\n")),
                       reason=problem, action="row_kept",
                       message=f"row {number}: a quote (\") opens a cell that never closes; the "
                               f"row was read with quotes ignored. Check the quotes in this row "
                               f"of {path.name}.")
        if len(fields) > width:
            extra = fields[width:]
            if any(f.strip() for f in extra) and not any(f.strip() for f in fields[:width]):
                # nothing under the header: only stray cells far right, kept in the issue
                issues.add(row=number, column=None, value=shown_value(delimiter.join(extra)),
                           reason="too_many_fields", action="row_skipped",
                           message=f"row {number}: cells only beyond the header's {width} "
                                   f"columns ({shown_value(delimiter.join(extra))!r}); the row was skipped. "
                                   f"Move them under a header or delete them.")
                continue
            if any(f.strip() for f in extra):
                issues.add(row=number, column=None, value=shown_value(delimiter.join(extra)),
                           reason="too_many_fields", action="row_kept",
                           message=f"row {number}: {len(fields)} cells but the header has "
                                   f"{width}; the extra cells {shown_value(delimiter.join(extra))!r} were dropped. "
                                   f"A stray comma inside a cell is the usual cause: quote that cell.")
            fields = fields[:width]
        elif len(fields) < width and any(f.strip() for f in fields):
            issues.add(row=number, column=None, value=shown_value(delimiter.join(fields)),
                       reason="too_few_fields", action="row_kept",
                       message=f"row {number}: {len(fields)} cells but the header has {width}; "
                               f"the missing cells at the end were left blank. Check the row "
                               f"for a lost separator.")
            fields = fields + [""] * (width - len(fields))
        elif len(fields) < width:
            fields = fields + [""] * (width - len(fields))
        rows.append((number, fields))
        if len(rows) == _CHUNK_ROWS:
            chunks.append(_dedup_chunk(rows, width, known))
            rows = []

    nul_context = lines if nul_lines else None  # only a file with NULs keeps its lines longer
    del lines
    chunks.append(_dedup_chunk(rows, width, known))
    columns = [np.concatenate([chunk[0][i] for chunk in chunks]) for i in range(width)]
    numbers = np.concatenate([chunk[1] for chunk in chunks])
    del chunks
    if bad_offsets:
        _log_bad_bytes(issues, body, bad_offsets, numbers, _unique_headers(header), columns,
                       encoding, path)
    headers, renamed = _renamed_headers(header)
    table = RawTable(headers, columns, numbers, str(path), issues, encoding,
                      header_row=head[start][0], stripped={headers[i] for i in known}, renamed=renamed)
    if nul_lines:
        _log_nul_cells(issues, nul_lines, nul_context, numbers, headers, columns, delimiter,
                       head[start][0])
    return table


def _log_nul_cells(issues: IssueLog, nul_lines: dict[int, str], lines: list[str], numbers: np.ndarray,
                   headers: list[str], columns: list[np.ndarray], delimiter: str, header_row: int) -> None:
    """One ``nul_removed`` issue per cell whose NULs were removed before parsing: the record
    holding each such line is parsed again as written to find the cells."""
    done: set[int] = set()
    for index in sorted(nul_lines):
        line_number = index + 1
        position = int(np.searchsorted(numbers, line_number, side="right")) - 1
        if position < 0 or line_number <= header_row:
            _nul_issue(issues, line_number, None, None)
            continue
        if position in done:
            continue
        done.add(position)
        first = int(numbers[position]) - 1
        last = int(numbers[position + 1]) - 1 if position + 1 < len(numbers) else len(lines)
        original = "".join(nul_lines.get(i, lines[i]) if i < len(lines) else "" for i in range(first, last))
        try:
            cells = next(csv.reader(io.StringIO(original, newline=""), delimiter=delimiter), [])
        except csv.Error:
            cells = []
        row = int(numbers[position])
        hits = [i for i, cell in enumerate(cells[:len(headers)]) if "\x00" in cell]
        for i in hits or [None]:
            header = headers[i] if i is not None else None
            _nul_issue(issues, row, header, columns[i][position] if i is not None else None)


_HEADER_PUNCTUATION = set("（）【】〔〕《》、：；，。·．／＿－ ")


def _common_share(cells: list[Any]) -> float:
    """Share of the header's Chinese characters among the 3,755 most common (GB2312 level 1).

    Real headers (编号, 姓名, 發現地點 once simplified) are nearly all common characters; bytes
    of another encoding read as GB18030 come out mostly as rare ones (絪腹, ﹎, ┦).
    """
    chars = [c for c in "".join(c for c in cells if isinstance(c, str))
             if not c.isascii() and c not in _HEADER_PUNCTUATION]
    if not chars:
        return 1.0
    if any(0xE000 <= ord(c) <= 0xF8FF for c in chars):  # private use: never in a real header
        return 0.0
    common = 0
    for char in chars:
        try:
            encoded = char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 0xB0 <= encoded[0] <= 0xD7
    return common / len(chars)


def _t2s(text: str) -> str:
    import opencc  # only for Big5 files

    converter = getattr(_decode_state, "t2s", None)
    if converter is None:
        converter = _decode_state.t2s = opencc.OpenCC("t2s")
    return converter.convert(text)


def _simplified_headers(header: list[Any], kind: str) -> list[Any]:
    """Traditional headers (編號, 性別) as their simplified form where only that is known."""
    out = []
    for cell in header:
        if isinstance(cell, str) and schema.field_of_header(cell, kind) is None:
            simplified = _t2s(cell)
            if schema.field_of_header(simplified, kind) is not None:
                cell = simplified
        out.append(cell)
    return out


_GARBLED_SHARE = 0.6


def _retry_as_big5(path: Path, data: bytes, kind: str, encoding: str, header: list[Any]) -> RawTable | None:
    """The table read as Big5 when its header, read as ``encoding``, looks garbled and the bytes
    are clean Big5; ``None`` when the header does not look garbled. Raises :class:`InputError`
    with an encoding hint when it looks garbled and is not Big5 either."""
    if _common_share(header) >= _GARBLED_SHARE:
        return None
    for big5 in ("cp950", "big5hkscs"):  # cp950: Windows' Big5; HKSCS adds Hong Kong characters
        try:
            text = data.decode(big5)
        except UnicodeDecodeError:
            continue
        first = next((line for line in text.splitlines() if line.strip()), "")
        if _common_share([_t2s(first)]) >= _GARBLED_SHARE:
            return _read_csv(path, data, kind, decoded=(text, big5, [], data))
    shown = ", ".join(str(h) for h in header if h) or "(none)"
    raise InputError(f"{path}: no id column found, and the headers look garbled ({shown_value(shown)}) when "
                     f"read as {encoding}: the file may be in another encoding (e.g. Big5 or Shift-JIS); "
                     f"re-save it as UTF-8 ('CSV UTF-8' in Excel or WPS) and read it again.")


# Rows are turned into deduplicated columns every few thousand rows. Small chunks keep few row
# lists alive at once, so the cyclic garbage collector has little to scan: at 200k rows, 5k-row
# chunks read in 1.65 s CPU with the collector on, against 2.9 s for 100k-row chunks (and 2.1 s
# with the collector switched off, which this module must not do: it is process-wide).
_CHUNK_ROWS = 5_000


def _csv_cell(value: str | None) -> str | None:
    """A CSV cell as its text: "" → None; Excel's keep-as-text wrapper ="00123" → 00123; the
    formula escape kinmatch (and other careful tools) write, '=… / '-… / '@…, → =… / -… / @…
    (:func:`kinmatch._io.excel_unescape`), so a file kinmatch wrote reads back as it was."""
    if not value:
        return None
    if value.startswith('="') and value.endswith('"') and len(value) >= 3:
        return value[2:-1]
    if value.startswith("'"):
        return excel_unescape(value)
    return value


def _clean_csv_cell(value: str | None) -> str | None:
    text = _csv_cell(value)
    return text.strip() or None if text else None


def _dedup_chunk(rows: list[tuple[int, list[Any]]], width: int,
                 known: set[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """A chunk of rows as columns whose repeated texts share one string object ("" → None).

    Memory: the csv module makes a new string per cell; a million-row file held that way needs
    gigabytes, while its columns have few distinct values (sexes, dates, places). Columns of
    known fields (positions in ``known``) are stripped in the same pass; others stay untouched.
    """
    columns, numbers = _from_rows(rows, width)
    return [_cells_of(column, i in known) for i, column in enumerate(columns)], numbers


def _cells_of(column: np.ndarray, clean: bool) -> np.ndarray:
    """:func:`map_unique` of :func:`_clean_csv_cell` (``clean``) or :func:`_csv_cell` over a column
    of CSV cells. Written out because it runs on every distinct cell of a file: a cell that is not
    blank and starts with neither = nor ' is itself (stripped, when ``clean``); only the others
    take the function call."""
    codes, uniques = factorize_values(column)
    table = np.empty(len(uniques) + 1, dtype=object)
    if clean:
        table[:-1] = [(v.strip() or None) if v and v[0] not in "='" else _clean_csv_cell(v) for v in uniques]
    else:
        table[:-1] = [v if v and v[0] not in "='" else _csv_cell(v) for v in uniques]
    table[-1] = None  # both functions' blank
    return table[codes]


def _log_bad_bytes(issues: IssueLog, body: bytes, offsets: list[int], numbers: np.ndarray,
                   headers: list[str], columns: list[np.ndarray], encoding: str,
                   path: Path) -> None:
    newlines = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 0x0A)
    bad_lines = np.unique(np.searchsorted(newlines, np.asarray(offsets)) + 1)
    # A record may span several lines (quoted line breaks): report the record's first line.
    positions = np.searchsorted(numbers, bad_lines, side="right") - 1
    for line, position in zip(bad_lines, positions, strict=False):
        if position < 0:  # in the header itself
            issues.add(row=int(line), column=None, value=None, reason="encoding_replaced",
                       action="kept", message=f"header row: some bytes are not valid {encoding} "
                       f"and were replaced by '\ufffd'. Re-save {path.name} as 'CSV UTF-8'.")
            continue
        row = int(numbers[position])
        hit = [(h, c[position]) for h, c in zip(headers, columns, strict=False)
               if isinstance(c[position], str) and "\ufffd" in c[position]]
        for header, value in hit or [(None, None)]:
            issues.add(row=row, column=header, value=shown_value(value), reason="encoding_replaced",
                       action="kept",
                       message=f"{'column ' + header + ' ' if header else ''}row {row}: some "
                               f"bytes are not valid {encoding} and were replaced by '\ufffd'; "
                               f"the rest of the row is kept. Re-save {path.name} as "
                               f"'CSV UTF-8' or retype this cell.")


def load_table_file(src: Any, kind: str) -> RawTable:
    if isinstance(src, pd.DataFrame):
        return _from_frame(src)
    if hasattr(src, "read"):  # an open file or an upload (werkzeug FileStorage has .filename)
        content = src.read()
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        path = Path(str(getattr(src, "filename", None) or getattr(src, "name", None) or "upload"))
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data, path = bytes(src), Path("upload")
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise InputError(f"{path}: no such file. Check the path (and that the file was copied "
                             f"completely).")
        data = path.read_bytes()
    else:
        raise InputError(f"cannot read {type(src).__name__}: give a path to a .csv or .xlsx file, "
                         f"an open file, or a pandas DataFrame.")
    # The bytes decide the format, not the file name: an .xlsx is a ZIP archive.
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, data, kind)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(f"{path}: this is an old Excel .xls workbook, which kinmatch does not "
                         f"read. Open it in Excel or WPS and save it as .xlsx or 'CSV UTF-8'.")
    return _read_csv(path, data, kind)
