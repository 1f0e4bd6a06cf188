"""Atomic file writes and the one CSV writer.

Every file kinmatch writes for a user (candidate tables, notices, demo files) goes through
:func:`atomic_write`: the content is written to a temporary file in the same directory, flushed
and fsynced, then renamed over the target (``os.replace`` is atomic on POSIX and Windows), so a
partial run never leaves a half-written file that looks complete.

Permissions: a new file gets the mode any program of the user would give it (``0666`` less the
user's umask, so ``-rw-r--r--`` under the usual umask 022, and group-writable under 002), so
colleagues on a shared folder can read the results; a file that already exists keeps its mode.
To keep results private, set a stricter umask (``umask 077``) before running kinmatch.

Every CSV goes through :func:`write_csv`, which escapes text cells a spreadsheet would run as a
formula (:func:`excel_safe`).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pandas as pd


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it onto ``path`` on success.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target) as fh:
    ...     _ = fh.write("寻亲")
    >>> target.read_text(encoding="utf-8")
    '寻亲'
    """
    path = Path(path)
    if "b" in mode:
        encoding = None
    fd, tmp_name = _temporary_sibling(path)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _temporary_sibling(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (its folder made when missing): its descriptor and
    name. mkstemp creates the file 0600; it gets the mode any other file the user makes would
    (or that of the file it replaces)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp_name, _mode_for(path))
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return fd, tmp_name


def _umask() -> int:
    # /proc tells without changing anything; os.umask() must set a value to read one (not
    # thread-safe), so it is only the fallback off Linux.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is read as a formula by Excel, LibreOffice and Google
Sheets (``=HYPERLINK(…)``, ``@SUM(…)``, ``-2+3``); :func:`excel_safe` escapes it."""

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def excel_cell(value):
    """One cell made safe to open in a spreadsheet (the OWASP recipe for CSV injection).

    Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    single quote, which spreadsheets show as text instead of running it; a text that is just a
    number (``-3``, ``+1.5``) stays as it is, and so does anything that is not text.

    >>> excel_cell("=SUM(A1:A9)"), excel_cell("-1+1"), excel_cell("-3.5"), excel_cell(-2)
    ("'=SUM(A1:A9)", "'-1+1", '-3.5', -2)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def excel_unescape(value):
    """The cell :func:`excel_cell` escaped, as it was: what reading kinmatch's own CSV back needs.

    >>> excel_unescape("'=SUM(A1:A9)"), excel_unescape("'ok"), excel_unescape(3)
    ('=SUM(A1:A9)', "'ok", 3)
    """
    if (isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES)
            and not _NUMBER.fullmatch(value[1:])):
        return value[1:]
    return value


def excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are escaped with :func:`excel_cell`.

    Numeric, boolean and date columns are untouched: numbers stay numbers.

    >>> excel_safe(pd.DataFrame({"note": ["=1+1", "ok"], "score": [-1.5, 2.0]})).values.tolist()
    [["'=1+1", -1.5], ['ok', 2.0]]
    """
    safe = frame.copy()
    for position, dtype in enumerate(safe.dtypes):
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)):
            column = safe.iloc[:, position]
            if isinstance(dtype, pd.CategoricalDtype):
                column = column.astype(object)
            safe.isetitem(position, column.map(excel_cell, na_action="ignore"))
    safe.columns = [excel_cell(column) for column in safe.columns]
    return safe


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, encoding: str = "utf-8-sig",
              rows: list[str] | None = None, **to_csv_kwargs) -> Path:
    """Write ``frame`` as CSV, atomically and spreadsheet-safe (:func:`excel_safe`).

    UTF-8 with BOM by default so Excel opens Chinese text. Lines end in CRLF (RFC 4180), which
    also makes the csv module quote a cell holding a lone carriage return instead of letting it
    split the row. The one way kinmatch writes a CSV.

    ``rows``: the frame's rows written already, what :func:`csv_rows` gave for consecutive parts
    of ``frame`` (made where the parts were, e.g. by a worker process); only the header is made
    here. With the default encoding and options only.
    """
    to_csv_kwargs.setdefault("lineterminator", "\r\n")
    if rows is not None and (to_csv_kwargs != {"lineterminator": "\r\n"} or encoding not in ("utf-8-sig", "utf-8")):
        raise ValueError("write_csv: rows made by csv_rows are written with the default encoding and options only; "
                         "leave out the encoding and to_csv options, or the rows")
    with atomic_write(path, "w", encoding=encoding, newline="") as handle:
        if rows is not None:
            handle.write(_header(frame, to_csv_kwargs["lineterminator"]))
            handle.flush()
            for data in rows:
                handle.buffer.write(data)
        elif not _write_plain(frame, handle, to_csv_kwargs):
            _floats_as_text(excel_safe(frame), to_csv_kwargs).to_csv(handle, index=False, **to_csv_kwargs)
    return Path(path)


def csv_text(frame: pd.DataFrame, **to_csv_kwargs) -> str:
    """``frame`` as spreadsheet-safe CSV text (for stdout or an HTTP download), as :func:`write_csv`."""
    to_csv_kwargs.setdefault("lineterminator", "\r\n")
    text = io.StringIO(newline="")
    if _write_plain(frame, text, to_csv_kwargs):
        return text.getvalue()
    return _floats_as_text(excel_safe(frame), to_csv_kwargs).to_csv(index=False, **to_csv_kwargs)


def csv_rows(frame: pd.DataFrame) -> bytes | None:
    """The rows of ``frame`` (no header) as :func:`write_csv` writes them with its defaults (UTF-8
    bytes: a worker process sends bytes back faster than text), or None for a frame whose column
    types pandas writes (then give :func:`write_csv` the frame alone). A row's text depends on
    that row alone, so the rows of a table's consecutive parts, made apart and joined, are the
    table's.

        >>> csv_rows(pd.DataFrame({"id": ["=A1", "B"], "w": [0.5, -1.0]}))
        b"'=A1,0.5\\r\\nB,-1.0\\r\\n"
    """
    columns = _plain_columns(frame, "\r\n")
    if columns is None:
        return None
    return b"".join(_row_blocks(columns, len(frame), "\r\n"))


def _rows_unjoined(frame: pd.DataFrame) -> bytes | memoryview | None:
    """:func:`csv_rows`, without copying the rows of a frame of one block out of Arrow's memory
    (a bytes-like view of it; 24 MB copied, into pages the process touches afresh, for half of the
    candidate table of 2,000 × 20,000)."""
    columns = _plain_columns(frame, "\r\n")
    if columns is None:
        return None
    blocks = list(_row_blocks(columns, len(frame), "\r\n"))
    return blocks[0] if len(blocks) == 1 else b"".join(blocks)


class CsvParts:
    """The file :func:`write_csv` makes of a table (its defaults: UTF-8 with BOM, CRLF, escaped
    and quoted as there), written in consecutive parts by the processes that ranked them, at the
    offsets they are given, into one temporary sibling of ``path`` that :meth:`commit` fsyncs and
    renames onto ``path`` once every part is in (:meth:`discard` removes it otherwise): atomic as
    :func:`atomic_write`. Called with a frame it is :func:`csv_rows`, so it serves as the
    ``render_rows`` of :func:`kinmatch.match.pipeline.run_link`, which then writes the parts here
    when it ranks the table in two processes (the worker's rows are not sent back to be written).

    The temporary file is made by :meth:`open`, in the process that forks the writers (they share
    its descriptor); :attr:`complete` is set by whoever wrote the last part, who may start the
    flush to disk then (:meth:`sync_soon`) while the process does other work.

        >>> import tempfile, pathlib
        >>> frame = pd.DataFrame({"id": ["=A1", "B"], "w": [0.5, -1.0]})
        >>> parts = CsvParts(pathlib.Path(tempfile.mkdtemp()) / "out.csv")
        >>> parts.open()
        True
        >>> end = parts.write_part(frame.iloc[:1], 0)
        >>> parts.write_part(frame.iloc[1:], end) is not None
        True
        >>> parts.complete = True
        >>> parts.commit().read_bytes() == b"\\xef\\xbb\\xbfid,w\\r\\n'=A1,0.5\\r\\nB,-1.0\\r\\n"
        True
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.fd: int | None = None
        self.tmp_name: str | None = None
        self.complete = False
        self._syncing = None  # sync_soon's flush: a function that waits for it

    def __call__(self, frame: pd.DataFrame) -> bytes | memoryview | None:
        return _rows_unjoined(frame)

    def open(self) -> bool:
        """Make the temporary file; False (nothing made) when it cannot be made here (the error
        then comes from the writer that tries again)."""
        if self.fd is None:
            try:
                self.fd, self.tmp_name = _temporary_sibling(self.path)
            except OSError:
                return False
        return True

    def write_part(self, frame: pd.DataFrame, offset: int, rows: bytes | memoryview | None = None) -> int | None:
        """Write the rows of ``frame`` (``rows``: what calling this gave for it already) at
        ``offset`` (at 0: the BOM and the header first); the offset where they end, or None,
        having written nothing, for a frame :func:`csv_rows` does not cover."""
        if rows is None:
            rows = self(frame)
        if rows is None:
            return None
        if offset == 0:
            header = _header(frame, "\r\n").encode("utf-8-sig")
            _write_at(self.fd, header, 0)
            offset = len(header)
        _write_at(self.fd, rows, offset)
        return offset + len(rows)

    def sync_soon(self) -> None:
        """Start flushing the file to disk in a thread (every part written): :meth:`commit` waits
        for it. The flush waits on the disk, not on this process, which goes on meanwhile."""
        from kinmatch._parallel import on_thread

        fd = self.fd
        self._syncing = on_thread(lambda: os.fsync(fd), "kinmatch-fsync")  # its error raised by commit

    def _synced(self) -> bool:
        """Wait for :meth:`sync_soon`'s flush (its error raised); False when none was started."""
        if self._syncing is None:
            return False
        wait, self._syncing = self._syncing, None
        wait()
        return True

    def commit(self) -> Path:
        """The file flushed to disk and renamed onto ``path`` (every part written)."""
        if not self.complete:
            raise ValueError(f"CsvParts.commit: a part of {self.path} is missing; discard it and write the table")
        try:
            if not self._synced():
                os.fsync(self.fd)
        except BaseException:
            self.discard()
            raise
        fd, self.fd = self.fd, None
        os.close(fd)
        try:
            os.replace(self.tmp_name, self.path)
        except BaseException:
            self.discard()
            raise
        self.tmp_name = None
        return self.path

    def discard(self) -> None:
        """The temporary file closed and removed (nothing to do when none was made)."""
        if self._syncing is not None:
            wait, self._syncing = self._syncing, None
            with contextlib.suppress(OSError):  # the file is removed: its flush no longer matters
                wait()
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
        if self.tmp_name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp_name)
            self.tmp_name = None


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view, written = memoryview(data), 0
    while written < len(view):
        written += os.pwrite(fd, view[written:], offset + written)


def _header(frame: pd.DataFrame, terminator: str) -> str:
    # one column: csv.writer quotes a row that is one empty cell
    return (",".join(_quoted([excel_cell(c) for c in frame.columns], ',"' + terminator)) or '""') + terminator


def _write_plain(frame: pd.DataFrame, handle: IO[str], to_csv_kwargs: dict) -> bool:
    """Write ``frame`` as ``excel_safe(frame).to_csv(handle, index=False, lineterminator=…)`` would,
    the same characters; False, having written nothing, when the frame holds a column type or a
    ``to_csv`` option this does not cover (pandas then writes it).

    Why by hand: pandas prepares every chunk of rows block by block, converts each cell once more
    and hands the rows to ``csv.writer``, which copies every character; for the 100k-row candidate
    table of a link run (1.5M float cells, 45 MB of text) that is most of the run's writing time.
    Here each column becomes text once (:func:`_plain_columns`) and the rows are put together by
    Arrow (:func:`_row_blocks`)."""
    terminator = to_csv_kwargs["lineterminator"]
    if set(to_csv_kwargs) - {"lineterminator"}:
        return False
    columns = _plain_columns(frame, terminator)
    if columns is None:
        return False
    handle.write(_header(frame, terminator))
    # a UTF-8 file takes the rows' bytes as they are (the header went through the text layer,
    # which wrote the BOM); other encodings and text buffers take them as text
    encoding = (getattr(handle, "encoding", None) or "").lower().replace("_", "-")
    as_bytes = encoding in ("utf-8", "utf-8-sig", "utf8") and hasattr(handle, "buffer")
    if as_bytes:
        handle.flush()
    for block in _row_blocks(columns, len(frame), terminator):
        if as_bytes:
            handle.buffer.write(block)
        else:
            handle.write(str(block, "utf-8"))
    return True


def _plain_columns(frame: pd.DataFrame, terminator: str) -> list | None:
    """Each column of ``frame`` as its cells' text (an Arrow ``large_string`` array), or None when
    a column type, a name or a text (one Arrow cannot hold as UTF-8) is not covered. A number
    column's distinct values are made into text once each (the weight columns hold a few dozen),
    text is escaped by :func:`excel_cell` and quoted by ``csv.writer``'s own rule
    (``QUOTE_MINIMAL``: a delimiter, a quote character or a line-ending character; quotes doubled),
    each only in the cells that need it. Blanks (None, NaN, NA) are empty cells, numbers and
    booleans ``str`` of their Python value (for a float its shortest round-trip ``repr``, as
    numpy's ``astype(str)`` that pandas uses)."""
    if not len(frame.columns) or not terminator or not all(isinstance(c, str) for c in frame.columns):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = _arrow_pool()
    special = ',"' + terminator
    columns = []
    for position, dtype in enumerate(frame.dtypes):
        values = frame.iloc[:, position].to_numpy()
        if dtype == np.dtype(object) and _one_text(values):  # the same text in every row (the model version)
            column = _text_column([values[0]], special)
            if column is None:
                return None
            column = pa.repeat(column[0], len(values), memory_pool=pool)
        elif dtype == np.dtype(object):
            cells = values.copy()
            cells[pd.isna(values)] = ""
            cells = cells.tolist()
            if not set(map(type, cells)) <= {str}:
                cells = [v if type(v) is str else str(v) for v in cells]
            column = _text_column(cells, special)
            if column is None:
                return None
        elif dtype == np.float64:
            # distinct bit patterns, not values: 0.0 and -0.0 are written apart
            codes, uniques = pd.factorize(values.view(np.int64))
            column = pc.take(_float_texts(uniques.view(np.float64)), codes, memory_pool=pool)
        elif dtype.kind in "iub" and isinstance(dtype, np.dtype):
            codes, uniques = pd.factorize(values)
            column = pc.take(pa.array([str(v) for v in uniques.tolist()], type=pa.large_string(), memory_pool=pool),
                             codes, memory_pool=pool)
        else:
            return None
        columns.append(column)
    return columns


def _arrow_pool():
    """The memory pool of the Arrow arrays made here: the C library's allocator, not Arrow's default
    (mimalloc). Why: mimalloc maps fresh memory for the arrays and hands freed pages back to the
    system soon after, so each run of these functions touches its tens of MB of pages anew; in a
    large process on this machine (2,000 × 20,000, after the fit) that was 0.1–0.17 s of page
    clearing in the kernel for 24 MB of rows, where the C allocator reuses memory the process
    freed already (bench/RESULTS.md, 2026-12-07 late session)."""
    import pyarrow as pa

    return pa.system_memory_pool()


def _one_text(values: np.ndarray) -> bool:
    """Whether ``values`` (an object array of two or more) hold one text in every row."""
    first = values[0] if len(values) > 1 else None
    if type(first) is not str or values[-1] is not first:
        return False
    try:
        return bool((values == first).all())
    except (TypeError, ValueError):  # a cell whose comparison is no boolean (pd.NA)
        return False


FLOATS_BY_ARROW = 1_000
"""From this many distinct values a float column is written by Arrow (:func:`_float_texts`)."""


def _float_texts(values: np.ndarray):
    """Each float's text as pandas writes it (an Arrow array): Python's ``repr`` (its shortest
    round-trip digits; fixed notation from 1e-4 to 1e16, else ``1.5e-07``), NaN a blank cell.

    Why not ``repr`` alone: it takes ~0.5 µs a value, and a candidate table's probabilities and
    match weights hold one distinct value a row. Arrow writes the same shortest digits about four
    times faster, in its own layout: where it differs from Python's by a missing ``.0`` (fixed
    notation, in Python's fixed range), an exponent of one digit (``1.5e-7``) or fixed notation
    from 1e-6 to 1e-4 (``0.0000123``) it is rewritten; the other values (``1e+15``, zeros, NaN,
    infinities) are written by ``repr``. Tests compare the two on random bit patterns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text, pool = pa.large_string(), _arrow_pool()
    if len(values) < FLOATS_BY_ARROW:
        return pa.array(["" if v != v else repr(v) for v in values.tolist()], type=text, memory_pool=pool)
    size = np.abs(values)
    fixed_range = (size >= 1e-4) & (size < 1e16)  # NaN is in neither range
    exponent_range = ((size > 0) & (size < 1e-4)) | ((size >= 1e16) & (size < np.inf))
    written = pc.cast(pa.array(values, memory_pool=pool), text, memory_pool=pool)
    exponent = pc.match_substring(written, "e", memory_pool=pool).to_numpy(zero_copy_only=False)
    groups = [np.flatnonzero(fixed_range & ~exponent), np.flatnonzero(exponent_range & exponent),
              np.flatnonzero(exponent_range & ~exponent & (size >= 1e-6))]
    fixed, exponents, small = (pc.take(written, group, memory_pool=pool) for group in groups)
    has_point = pc.match_substring(fixed, ".", memory_pool=pool)
    fixed = pc.if_else(has_point, fixed, pc.binary_join_element_wise(fixed, pa.scalar(".0", text), pa.scalar("", text),
                                                                     memory_pool=pool), memory_pool=pool)
    exponents = pc.replace_substring_regex(exponents, pattern=r"e([+-])(\d)$", replacement="e\\10\\2",
                                           memory_pool=pool)
    # Arrow writes 1e-6 to 1e-4 in fixed notation (0.0000123), Python with an exponent (1.23e-05)
    for zeros, power in (("0000", "05"), ("00000", "06")):
        small = pc.replace_substring_regex(small, pattern=rf"^(-?)0\.{zeros}([1-9])(\d+)$",
                                           replacement=rf"\1\2.\3e-{power}", memory_pool=pool)
        small = pc.replace_substring_regex(small, pattern=rf"^(-?)0\.{zeros}([1-9])$", replacement=rf"\1\2e-{power}",
                                           memory_pool=pool)
    by_repr = np.ones(len(values), dtype=bool)
    source = np.empty(len(values), dtype=np.int64)
    start = 0
    for group in groups:
        by_repr[group] = False
        source[group] = np.arange(start, start + len(group))
        start += len(group)
    by_repr = np.flatnonzero(by_repr)
    source[by_repr] = np.arange(start, start + len(by_repr))
    others = pa.array(["" if v != v else repr(v) for v in values[by_repr].tolist()], type=text, memory_pool=pool)
    return pc.take(pa.concat_arrays([fixed, exponents, small, others], memory_pool=pool), source, memory_pool=pool)


def _text_column(cells: list[str], special: str):
    """``cells`` (text) escaped (:func:`excel_cell`) and quoted (:func:`_quoted`) as an Arrow
    array, or None when Arrow cannot hold a text (e.g. a lone surrogate). Most columns hold no
    cell that needs either, which is found without a pass in Python over the cells."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = _arrow_pool()
    try:
        column = pa.array(cells, type=pa.large_string(), memory_pool=pool)
    except (pa.ArrowException, UnicodeError):
        return None
    text = pa.large_string()
    formula = pc.any(pc.is_in(pc.utf8_slice_codeunits(column, 0, 1, memory_pool=pool),
                              value_set=pa.array(FORMULA_PREFIXES, text), memory_pool=pool))
    # the special characters are ASCII: in UTF-8 a byte below 0x80 is always that character
    data = column.buffers()[2]
    data = data.to_pybytes() if data is not None else b""
    quoted = any(character.encode("utf-8") in data for character in special)
    if not formula.as_py() and not quoted:
        return column
    if formula.as_py():
        cells = [excel_cell(v) for v in cells]
    return pa.array(_quoted(cells, special), type=text, memory_pool=pool)


def _row_blocks(columns: list, n_rows: int, terminator: str) -> Iterator[memoryview]:
    """The rows' text as UTF-8 bytes (a view of Arrow's memory), :data:`ROW_BLOCK` rows at a time,
    from the columns' text (what :func:`_plain_columns` made).

    Why Arrow: joining a row's cells is a tuple and a ``str.join`` in Python (21 cells a row in
    the candidate table), and the cells' text is copied once into each row and once more into
    the block; Arrow's element-wise join writes each block's bytes in one pass."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = _arrow_pool()
    last = columns[-1]
    if len(columns) == 1:  # csv.writer quotes a row that is one empty cell
        last = pc.if_else(pc.equal(last, "", memory_pool=pool), pa.scalar('""', pa.large_string()), last,
                          memory_pool=pool)
    text = pa.large_string()
    columns = columns[:-1] + [pc.binary_join_element_wise(last, pa.scalar(terminator, text), pa.scalar("", text),
                                                          memory_pool=pool)]
    for start in range(0, n_rows, ROW_BLOCK):
        length = min(ROW_BLOCK, n_rows - start)
        block = columns[0].slice(start, length)
        if len(columns) > 1:
            block = pc.binary_join_element_wise(*(column.slice(start, length) for column in columns),
                                                pa.scalar(",", text), memory_pool=pool)
        _, offsets, data = block.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int64)[block.offset:block.offset + length + 1]
        yield memoryview(data[int(bounds[0]):int(bounds[-1])]).cast("B")


ROW_BLOCK = 200_000
"""Rows put together at a time (a block's text is a few tens of MB at most)."""


def _quoted(cells: list[str], special: str) -> list[str]:
    """``cells`` as ``csv.writer`` (``QUOTE_MINIMAL``, doubled quotes) writes them; ``special``
    holds the characters that make it quote a cell."""
    joined = "".join(cells)
    if not any(character in joined for character in special):  # str.__contains__: no regex pass
        return cells
    return ['"' + v.replace('"', '""') + '"' if any(character in v for character in special) else v
            for v in cells]


def _floats_as_text(safe: pd.DataFrame, to_csv_kwargs: dict) -> pd.DataFrame:
    """``safe`` (a copy :func:`excel_safe` made) with its float64 columns as the text ``to_csv``
    would write for them: Python's shortest round-trip ``repr``, NaN as a blank cell.

    Why by hand: pandas formats float cells with numpy's ``astype(str)``, which is about twice as
    slow as ``repr`` for the same digits (a 100k-row candidate table has 1.5M float cells). Only
    with pandas' own defaults (no ``float_format``, ``decimal``, ``quoting`` or ``na_rep``), where
    the two give the same characters.

    >>> _floats_as_text(pd.DataFrame({"w": [0.1, float("nan"), 1e-05]}), {})["w"].tolist()
    ['0.1', None, '1e-05']
    """
    if any(key in to_csv_kwargs for key in ("float_format", "decimal", "quoting", "na_rep")):
        return safe
    for position, dtype in enumerate(safe.dtypes):
        if dtype == "float64":
            values = safe.iloc[:, position].to_numpy()
            text = np.array(list(map(repr, values.tolist())), dtype=object)
            text[np.isnan(values)] = None
            safe.isetitem(position, text)
    return safe


def write_bytes_atomic(data: bytes, path: str | os.PathLike) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)
