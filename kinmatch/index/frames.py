"""Normalized frames as Parquet files, and back, cell for cell.

A normalized frame (docs/contract.md §2) holds text, floats, dates, flags and *tuples of text*.
Parquet has a type for each: tuple columns are written as ``list<string>`` columns and restored to
tuples on read, so the frame read back passes
:func:`~kinmatch.normalize.contract.check_normalized` and links exactly as the frame written.

Parquet (through pyarrow) because the files are columnar and compressed (a million normalized
reports in a few hundred MB), read column by column in seconds, and open in the tools a studio
already has — pandas, R (``arrow``), DuckDB, Excel's Power Query, Spark — without kinmatch.

    >>> import pandas as pd, tempfile, pathlib
    >>> frame = pd.DataFrame({"missing_id": ["M1", "M2"], "marks": [("痣:脸:左",), ()], "age_low": [60.0, None]})
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reports.parquet"
    >>> write_frame(frame, path)
    >>> read_frame(path).equals(frame)
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kinmatch.normalize.contract import NORMALIZED_COLUMNS

TEXTS_METADATA = b"kinmatch.tuple_columns"
"""Parquet schema metadata key listing the columns to restore to tuples (a JSON list)."""


def _tuple_column(values: pd.Series):
    """A ``list<string>`` array from a column of tuples: each distinct tuple converted once."""
    import pyarrow as pa

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    distinct = pa.array([list(u) for u in uniques], type=pa.list_(pa.string()))
    return distinct.take(pa.array(codes, type=pa.int64(), mask=codes < 0))


def _is_tuple_column(name: str, values: pd.Series) -> bool:
    if NORMALIZED_COLUMNS.get(name) == "texts":
        return True
    if values.dtype != object or not len(values):
        return False
    first = values.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], tuple)


def _text_column(values: pd.Series):
    """A column outside the contract (a canonical or unknown one) as Parquet can hold it: kept
    when pyarrow can type it, else its cells as text (blank stays blank)."""
    import pyarrow as pa

    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values],
                        type=pa.string())


def frame_to_table(frame: pd.DataFrame):
    """The pyarrow Table of a normalized frame (tuple columns as list columns)."""
    import json

    import pyarrow as pa

    arrays, names, tuple_columns = [], [], []
    for name in frame.columns:
        values = frame[name]
        if _is_tuple_column(name, values):
            arrays.append(_tuple_column(values))
            tuple_columns.append(name)
        elif values.dtype == object:
            arrays.append(_text_column(values))
        else:
            arrays.append(pa.array(values, from_pandas=True))
        names.append(str(name))
    table = pa.Table.from_arrays(arrays, names=names)
    return table.replace_schema_metadata({TEXTS_METADATA: json.dumps(tuple_columns).encode("utf-8")})


def write_frame(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` to ``path`` as Parquet (zstd), flushed to disk before returning."""
    import pyarrow.parquet as pq

    path = Path(path)
    with open(path, "wb") as handle:
        pq.write_table(frame_to_table(frame), handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())


def _tuples(column) -> np.ndarray:
    """A ``list<string>`` array → an object array of tuples. Rows with the same list share one
    tuple object, as the normalizers' own output does (the comparisons then look at each
    distinct value once): the lists are joined to one text per row, dictionary-encoded in Arrow
    (codes in order of first appearance, as ``pd.factorize`` gives them, without making a Python
    text of every row first), and each distinct text split once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    separator = "\x1f"  # a control character no normalized text holds
    encoded = pc.dictionary_encode(pc.binary_join(column, separator))
    if isinstance(encoded, pa.ChunkedArray):  # one dictionary over the chunks
        encoded = encoded.unify_dictionaries()
        chunks = encoded.chunks or [pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], pa.string()))]
        uniques = chunks[0].dictionary.to_pylist()
        codes = np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks])
    else:
        uniques = encoded.dictionary.to_pylist()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    distinct = np.empty(len(uniques) + 1, dtype=object)
    distinct[:-1] = [tuple(u.split(separator)) if u else () for u in uniques]
    distinct[-1] = ()  # a null list (never written by write_frame) reads as no values
    return distinct[codes]


def table_to_frame(table) -> pd.DataFrame:
    """The frame of a pyarrow Table written by :func:`frame_to_table`."""
    import json

    metadata = table.schema.metadata or {}
    tuple_columns = set(json.loads(metadata.get(TEXTS_METADATA, b"[]")))
    plain = table.drop_columns([c for c in table.column_names if c in tuple_columns])
    frame = plain.to_pandas(types_mapper=None, strings_to_categorical=False)
    # each tuple column inserted at its place: selecting the columns in order afterwards would copy
    # the whole frame (0.5 s of the 911,000 reports a 10,000-resident run meets at 1,000,000)
    for position, name in enumerate(table.column_names):
        if name in tuple_columns:
            frame.insert(position, name, _tuples(table.column(name)))
    return frame


def read_frame(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a frame :func:`write_frame` wrote: all its columns, or those of ``columns`` it has."""
    import pyarrow.parquet as pq

    if columns is not None:
        held = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in held]
    return table_to_frame(pq.read_table(path, columns=columns))


def live_records(frames: list[pd.DataFrame], id_column: str) -> pd.DataFrame:
    """The records of ``frames`` read in order, a later version of an id replacing an earlier one
    (a column one frame lacks reads as blank, None, as intake gives a blank cell)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({id_column: pd.Series(dtype=object)})
    if len(frames) == 1:
        return frames[0]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[~frame[id_column].duplicated(keep="last")].reset_index(drop=True)
    partial = [c for c in frame.columns if not all(c in f.columns for f in frames)]
    for column in partial:
        values = frame[column]
        if values.dtype.kind == "O":
            frame[column] = values.where(values.notna(), None)
    return frame
