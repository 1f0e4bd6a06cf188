"""Atomic file writes: a partial run never leaves a half-written file that looks complete.

Every file kinmatch writes for a user (candidate tables, notices, demo files) goes through
:func:`atomic_write`: the content is written to a temporary file in the same directory, flushed
and fsynced, then renamed over the target (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

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
    path.parent.mkdir(parents=True, exist_ok=True)
    if "b" in mode:
        encoding = None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
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


def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike, encoding: str = "utf-8-sig",
                     **to_csv_kwargs) -> Path:
    """Write ``frame`` as CSV atomically. UTF-8 with BOM by default so Excel opens Chinese text."""
    with atomic_write(path, "w", encoding=encoding, newline="") as handle:
        frame.to_csv(handle, index=False, **to_csv_kwargs)
    return Path(path)


def write_bytes_atomic(data: bytes, path: str | os.PathLike) -> Path:
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)
