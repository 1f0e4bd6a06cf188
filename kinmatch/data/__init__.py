"""Reference tables shipped with kinmatch, built by ``tools/build_data.py`` from ``../shared/data``.

Each table is a compact CSV (optionally gzipped) in this folder; ``SOURCES.md`` here gives origin,
licence and build date of each. Tables load lazily, once per process, via
:mod:`importlib.resources`. The cached frame is shared: treat it as read-only (copy before
changing it). ``load_table`` returns every column as string unless ``dtype`` says otherwise.

    >>> from kinmatch.data import available_tables
    >>> isinstance(available_tables(), list)
    True
"""

from __future__ import annotations

import functools
from importlib import resources

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
