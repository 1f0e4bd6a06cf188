"""The report side laid out for the compiled candidate kernel (:mod:`kinmatch.match._kernels`),
apart from it so that a parent process can lay it out before its workers fork without importing
numba (about 60 MB of memory it would then keep for the rest of the run)."""

from __future__ import annotations

import os
import weakref
from importlib.util import find_spec
from typing import Any

import numpy as np

_packs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def kernel_allowed() -> bool:
    """Whether the compiled kernel may run here: numba is installed and ``KINMATCH_KERNEL=0`` does not
    turn it off (whether numba can build it shows only on its first call)."""
    return os.environ.get("KINMATCH_KERNEL", "1") != "0" and find_spec("numba") is not None


def pack(side: Any) -> tuple[np.ndarray, np.ndarray]:
    """One side's per-record values as two row-major tables, so that a pair reads two or three
    cache lines of a report rather than one from each of fifteen arrays: floats (birth-year interval,
    event day, height, the place as a unit vector, sex) and integers (feature bits, home, dialect
    area and prefecture bits, surname and given-name codes). Kept per side object while it lives."""
    packed = _packs.get(side)
    if packed is None:
        floats = np.empty((side.n, 8), dtype=np.float64)
        for column, name in enumerate(("year_low", "year_high", "day", "height")):
            floats[:, column] = getattr(side, name)
        floats[:, 4] = side.cos_lat * np.cos(side.lon_rad)
        floats[:, 5] = side.cos_lat * np.sin(side.lon_rad)
        floats[:, 6] = np.sin(side.lat_rad)
        floats[:, 7] = side.sex
        integers = np.empty((side.n, 6), dtype=np.int64)
        for column, name in enumerate(("feature_bits", "home_bits", "area_bits", "prefecture_bits", "surname_code",
                                       "given_code")):
            integers[:, column] = getattr(side, name)
        packed = (floats, integers)
        try:
            _packs[side] = packed
        except TypeError:  # a side that takes no weak reference: packed again next time
            pass
    return packed


def release(side: Any) -> None:
    """Forget ``side``'s layout (112 bytes a record): a parent calls it once its workers are done."""
    try:
        _packs.pop(side, None)
    except TypeError:  # a side that takes no weak reference was never kept
        pass
