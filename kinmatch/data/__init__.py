"""Reference tables shipped with kinmatch, built by ``tools/build_data.py`` from ``../shared/data``.

Each table is a compact CSV (optionally gzipped) in this folder; ``SOURCES.md`` here gives origin,
licence and build date of each. Tables load lazily, once per process, via
:mod:`importlib.resources`. The cached frame is shared: treat it as read-only (copy before
changing it). ``load_table`` returns every column as string unless ``dtype`` says otherwise.

*Built tables* (``NAME.parquet``, :func:`load_built`) are worked out from the shipped tables
by kinmatch's own code (the gazetteer's name index, pinyin of village names, ...) so that a run
reads them instead of computing them again. Each records a fingerprint of what it was computed
from; one that no longer matches is stale, and the run computes the table itself (same result,
slower) and warns that ``python tools/build_data.py --only built`` should be run.

    >>> from kinmatch.data import available_tables
    >>> isinstance(available_tables(), list)
    True
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

import pandas as pd

from kinmatch.errors import KinmatchError

_SUFFIXES = (".csv.gz", ".csv", ".tsv.gz", ".tsv")


def available_tables() -> list[str]:
    """Names of the tables shipped in this installation."""
    names = []
    for entry in resources.files(__name__).iterdir():
        for suffix in _SUFFIXES:
            if entry.name.endswith(suffix):
                names.append(entry.name[: -len(suffix)])
    return sorted(set(names))


@functools.lru_cache(maxsize=None)
def _load(name: str, dtype_items: tuple) -> pd.DataFrame:
    base = resources.files(__name__)
    for suffix in _SUFFIXES:
        entry = base / f"{name}{suffix}"
        if entry.is_file():
            sep = "\t" if ".tsv" in suffix else ","
            dtype = dict(dtype_items) if dtype_items else str
            with resources.as_file(entry) as path:
                return pd.read_csv(path, sep=sep, dtype=dtype, keep_default_na=False,
                                   na_values=[""], compression="infer", comment=None)
    raise KinmatchError(
        f"reference table {name!r} is not in this kinmatch installation "
        f"(have: {', '.join(available_tables()) or 'none'}); rebuild with "
        "`python tools/build_data.py` from a checkout that has ../shared/data"
    )


def load_table(name: str, dtype: dict | None = None) -> pd.DataFrame:
    """Load a shipped reference table by name (cached; do not modify the result in place)."""
    return _load(name, tuple(sorted((dtype or {}).items())))


# ---------------------------------------------------------------------------------------------
# built tables


FINGERPRINT_KEY = b"kinmatch_fingerprint"
"""Parquet schema metadata key holding a built table's fingerprint."""


def table_file(name: str):
    """The shipped file of the reference table ``name`` (an ``importlib.resources`` entry), for a
    reader that parses it itself.

        >>> table_file("dialect_areas").name
        'dialect_areas.csv'
    """
    base = resources.files(__name__)
    for suffix in _SUFFIXES:
        entry = base / f"{name}{suffix}"
        if entry.is_file():
            return entry
    raise KinmatchError(f"reference table {name!r} is not in this kinmatch installation; rebuild with "
                        "`python tools/build_data.py` from a checkout that has ../shared/data")


@functools.lru_cache(maxsize=None)
def _file_digest(name: str) -> str:
    return hashlib.sha256(table_file(name).read_bytes()).hexdigest()


def fingerprint(inputs: tuple[str, ...], recipe: str) -> str:
    """What a built table depends on, as one hex digest: the bytes of each shipped input table and
    ``recipe`` (the builder's own parameters: a format number, library versions it reads).

        >>> fingerprint(("dialect_areas",), "1") == fingerprint(("dialect_areas",), "1")
        True
    """
    digest = hashlib.sha256(recipe.encode("utf-8"))
    for name in inputs:
        digest.update(f"|{name}:{_file_digest(name)}".encode())
    return digest.hexdigest()


def library_version(name: str) -> str:
    """The installed version of a library a built table reads (e.g. pypinyin's dictionaries),
    without importing it.

        >>> library_version("pandas") == pd.__version__
        True
    """
    from importlib.metadata import version

    return version(name)


def built_path(name: str, folder: Path | None = None) -> Path:
    """Where the built table ``name`` lives (``folder``: this package's data folder)."""
    if folder is None:
        with resources.as_file(resources.files(__name__)) as base:
            folder = Path(base)
    return Path(folder) / f"{name}.parquet"


def _fresh_file(name: str, expected: str, folder: Path | None = None):
    """The built table's ``pyarrow.parquet.ParquetFile`` if its fingerprint is ``expected``."""
    import pyarrow.parquet as pq

    path = built_path(name, folder)
    if not path.is_file():
        return None
    parquet = pq.ParquetFile(path)
    if (parquet.schema_arrow.metadata or {}).get(FINGERPRINT_KEY, b"").decode() != expected:
        return None
    return parquet


def _read_arrow(name: str, expected: str, folder: Path | None = None):
    parquet = _fresh_file(name, expected, folder)
    # one thread: these tables are small, and a thread pool costs more than it saves
    return None if parquet is None else parquet.read(use_threads=False)


def read_built(name: str, expected: str, folder: Path | None = None) -> pd.DataFrame | None:
    """The built table ``name`` if it exists and its fingerprint is ``expected``, else None."""
    table = _read_arrow(name, expected, folder)
    return None if table is None else table.to_pandas()


def write_built(name: str, frame: pd.DataFrame, stamp: str, folder: Path | None = None,
                row_group_size: int | None = None, options: dict | None = None) -> Path:
    """Write ``frame`` as the built table ``name`` with fingerprint ``stamp`` (zstd Parquet;
    ``row_group_size`` rows per row group, for a reader that reads only the groups it needs;
    ``options``: other arguments of ``pyarrow.parquet.write_table``, e.g. a column's encoding)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), FINGERPRINT_KEY: stamp.encode()})
    path = built_path(name, folder)
    pq.write_table(table, path, **{"compression": "zstd", "row_group_size": row_group_size, **(options or {})})
    return path


BUILT: dict[str, "BuiltTable"] = {}
"""Every built table by name (filled as the modules that declare them are imported)."""


@dataclass(frozen=True)
class BuiltTable:
    """A table worked out from shipped tables by kinmatch's own code, shipped as ``NAME.parquet``.

    ``inputs``: the shipped tables it is computed from; ``recipe``: anything else its content
    depends on (a format number, the version of a library it reads); ``compute``: the function
    that works it out (also the fallback when the shipped file is stale); ``options``: how the file
    is written (:func:`write_built`). Declaring one registers it in :data:`BUILT`, where
    ``tools/build_built.py`` finds it."""

    name: str
    inputs: tuple[str, ...]
    recipe: Callable[[], str]
    compute: Callable[[], pd.DataFrame]
    row_group_size: int | None = None
    options: dict | None = field(default=None, compare=False)  # a dict: left out of the hash

    def __post_init__(self) -> None:
        BUILT[self.name] = self

    def stamp(self) -> str:
        """The fingerprint the shipped file must carry to be read."""
        return fingerprint(self.inputs, self.recipe())

    def read(self, folder: Path | None = None) -> pd.DataFrame | None:
        """The shipped file when its fingerprint matches; else None, with a warning that it is
        stale or absent (for a caller that has a cheaper way than computing the whole table)."""
        frame = read_built(self.name, self.stamp(), folder)
        if frame is None:
            self._warn_stale(folder)
        return frame

    def columns(self, folder: Path | None = None, compute: bool = True) -> dict[str, list] | None:
        """The table as plain lists by column (no pandas objects: a loader that builds Python
        dicts from it saves the conversion); when the shipped file is stale, the computed table's
        columns (``compute=False``: None), with a warning."""
        table = _read_arrow(self.name, self.stamp(), folder)
        if table is not None:
            return {name: table.column(name).to_pylist() for name in table.column_names}
        self._warn_stale(folder)
        if not compute:
            return None
        frame = self.compute()
        return {name: frame[name].tolist() for name in frame.columns}

    def _warn_stale(self, folder: Path | None) -> None:
        state = ("is out of date (its input tables or builder changed)" if built_path(self.name, folder).is_file()
                 else "is missing")
        warnings.warn(f"the built reference table {self.name}.parquet {state}, so this run works out what it "
                      f"needs itself: same results, slower; rebuild it with `python tools/build_data.py --only "
                      f"built`", stacklevel=4)

    def load(self, folder: Path | None = None) -> pd.DataFrame:
        """The shipped file when its fingerprint matches, else the table computed in this process
        (with a warning). Callers cache the result."""
        frame = self.read(folder)
        return self.compute() if frame is None else frame

    def write(self, folder: Path | None = None) -> Path:
        """Compute the table and write it with its fingerprint (what ``tools/build_built.py`` does)."""
        return write_built(self.name, self.compute(), self.stamp(), folder, self.row_group_size, self.options)

    def open(self, folder: Path | None = None):
        """The shipped file as a ``pyarrow.parquet.ParquetFile`` (to read some row groups only)
        when its fingerprint matches; else None, with a warning."""
        parquet = _fresh_file(self.name, self.stamp(), folder)
        if parquet is None:
            self._warn_stale(folder)
        return parquet
