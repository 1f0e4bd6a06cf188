"""A compiled kernel for one candidate pass: the pass's pairs of each resident expanded, deduped,
filtered and capped in one sweep, without the per-pair arrays of the numpy path.

:func:`kinmatch.match.candidates._run_pass` calls :func:`pass_survivors` when numba can be imported
and a large run's pass proposes enough pairs for the compiled code to pay (``KERNEL_MIN_PRODUCT``
and ``KERNEL_MIN_PAIRS`` there); else, and always for small links, it takes the numpy path. numba
is imported by this module only, and this module only when the kernel is wanted, so ``import
kinmatch`` and a small link never load it. ``KINMATCH_KERNEL=0`` turns the kernel off.

What the kernel returns is not the pass's kept pairs but a superset of them, the *survivors*: every
pair the constraints and the year window allow, except those a resident's cap drops for certain.
The numpy code then scores the survivors with :func:`~kinmatch.match.candidates.prescore` and
caps them with :func:`~kinmatch.match.candidates._cap` as it caps all pairs, so the kept pairs, their
scores and the counts are the numpy path's bit for bit. Why not score in the kernel: numpy's
``arcsin`` and ``log1p`` on AVX-512 machines (its own SIMD code) differ from the C library's, which
numba calls, in the last bits for some inputs; a cap's ties are broken by report position, so a
score off by one bit may keep another report. The kernel's score is that score up to rounding (its
distance from the places as unit vectors, its log of the years lost from a table), and a pair is
dropped only when at least ``cap`` other pairs of its resident score more than it by over
:data:`MARGIN` (relative) — far more than such rounding, far less than any difference the
pre-score's terms make.

How a resident's pairs are found without a sort: each report met is stamped with the resident,
and the strongest class of the keys that proposed it kept in a per-report array (reports are
positions, so both arrays are indexed directly); the pairs over a cap are then chosen with a
partial sort (``np.partition``) of their scores, and only the survivors are sorted by report.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import numpy as np

from kinmatch.match._packing import kernel_allowed, pack

try:
    import numba
except ImportError:  # the numpy path runs instead (:func:`compiled` says None)
    numba = None

MARGIN = 1e-9
"""Relative slack below a cap's threshold within which a pair survives (see the module's doc)."""

compile_seconds: float | None = None
"""Seconds the kernel's first call took in this process: loading it from numba's cache (or
compiling it), and the call itself."""


def njit(func: Any = None, **options: Any) -> Any:
    """``numba.njit`` with its cache: compiled once per machine, loaded by later processes. Where numba
    finds no writable cache directory (the package's ``__pycache__``, else the user's
    ``~/.cache/numba`` or ``NUMBA_CACHE_DIR``) it compiles in each process instead. ``inline="always"``
    for the per-pair helpers: a call that passes arrays counts their references (atomic operations),
    which cost more than the helper's arithmetic."""
    if func is None:
        return lambda f: njit(f, **options)
    if numba is None:
        return func
    try:
        return numba.njit(cache=True, nogil=True, **options)(func)
    except RuntimeError:  # "cannot cache function …: no locator available"
        return numba.njit(nogil=True, **options)(func)


def _prefetch_intrinsic() -> Any:
    """``prefetch_row(array, row)``: asks the CPU to bring the first cache line of ``array[row]``
    in (LLVM's ``llvm.prefetch``). Why: the reports a resident meets are spread over arrays of
    tens of MB, so each read waits on memory; asked for sixteen entries ahead, the lines arrive
    while earlier entries are worked on (at 10,000 × 1,000,000 the kernel took 40% less time)."""
    import llvmlite.ir as ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def prefetch_row(typingctx, array, row):
        def codegen(context, builder, signature, args):
            array_type = signature.args[0]
            values = context.make_array(array_type)(context, builder, args[0])
            zero = ir.Constant(ir.IntType(64), 0)
            pointer = cgutils.get_item_pointer2(
                context, builder, data=values.data, shape=cgutils.unpack_tuple(builder, values.shape),
                strides=cgutils.unpack_tuple(builder, values.strides), layout=array_type.layout,
                inds=[args[1]] + [zero] * (array_type.ndim - 1), wraparound=False, boundscheck=False)
            byte_pointer = ir.IntType(8).as_pointer()
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer] + [ir.IntType(32)] * 3),
                "llvm.prefetch.p0")
            # read, highest locality, data cache
            builder.call(function, [builder.bitcast(pointer, byte_pointer), ir.Constant(ir.IntType(32), 0),
                                    ir.Constant(ir.IntType(32), 3), ir.Constant(ir.IntType(32), 1)])
            return context.get_dummy_value()

        return types.void(array, row), codegen

    return prefetch_row


if numba is not None:
    prefetch_row = _prefetch_intrinsic()
else:
    def prefetch_row(array: Any, row: Any) -> None:
        return None


@njit(inline="always")
def popcount(x):
    x = np.uint64(x)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))

@njit(inline="always")
def not_nan_or(value, blank):
    if value != value:
        return blank
    if value > 1.7976931348623157e308:
        return 1.7976931348623157e308
    if value < -1.7976931348623157e308:
        return -1.7976931348623157e308
    return value

@njit(inline="always")
def year_gap(res_low, res_high, rep_low, rep_high):
    a = res_low - rep_high
    b = rep_low - res_high
    if a != a or b != b:
        return np.nan
    g = a if a > b else b
    return g if g > 0.0 else 0.0

@njit
def grow(array, size):
    if size <= len(array):
        return array
    out = np.empty(max(size, 2 * len(array)), dtype=array.dtype)
    out[:len(array)] = array
    return out

@njit
def kernel(q_r, starts, ends, q_class, entries, res_f, res_i, res_age, res_cap, rep_f, rep_i,
           by_year, window, per_age, sex_checked, tolerance, other_cap, split_other, far_ok, far_units,
           weights, class_scores, home_bonus, name_bonus, blanks, units, lost_table):
    w_year, w_height, w_distance, w_lost, w_shared = weights[0], weights[1], weights[2], weights[3], weights[4]
    n_reports = rep_f.shape[0]
    stamp = np.full(n_reports, -1, dtype=np.int32)
    best = np.zeros(n_reports, dtype=np.int8)
    # buffers for one resident's pairs, as large as the most any resident can meet: allocated once,
    # never replaced inside the loops (replacing an array there costs reference counting per use)
    most = 0
    row = 0
    while row < len(q_r):
        last = row
        total = 0
        while last < len(q_r) and q_r[last] == q_r[row]:
            total += ends[last] - starts[last]
            last += 1
        most = max(most, total)
        row = last
    most = min(most, n_reports) + 1
    reps = np.empty((2, most), dtype=np.int64)  # row 0: pairs whose sexes agree (or all), 1: the other sex
    scores = np.empty(most, dtype=np.float64)
    keep = np.empty(most, dtype=np.int64)
    out_r = np.empty(1024, dtype=np.int64)
    out_m = np.empty(1024, dtype=np.int64)
    out_c = np.empty(1024, dtype=np.int64)
    n_out = 0
    proposed = 0
    removed = 0
    allowed = 0
    n_rows = len(q_r)
    row = 0
    while row < n_rows:
        r = q_r[row]
        last = row
        while last < n_rows and q_r[last] == r:
            last += 1
        tag = np.int32(r)
        # the resident's distinct reports, each with the strongest class of the keys that met it;
        # a report met first is checked against the year window and the constraints there and
        # then, while its row is read in the order of the index (ascending within a key's range)
        n_same = 0
        n_other = 0
        sex_r = res_f[r, 7]
        low_r, high_r, day_r = res_f[r, 0], res_f[r, 1], res_f[r, 2]
        widen = window + per_age * res_age[r]
        for j in range(row, last):
            key_class = np.int8(q_class[j])
            ahead = ends[j] - 16
            for e in range(starts[j], ends[j]):
                if e < ahead:
                    ahead_m = np.int64(entries[e + 16]) >> 2
                    prefetch_row(rep_f, ahead_m)
                    prefetch_row(stamp, ahead_m)
                m = np.int64(entries[e]) >> 2
                if stamp[m] == tag:
                    if key_class > best[m]:
                        best[m] = key_class
                    continue
                stamp[m] = tag
                best[m] = key_class
                low_m, high_m, day_m, sex_m = rep_f[m, 0], rep_f[m, 1], rep_f[m, 2], rep_f[m, 7]
                a = low_r - high_m
                b = low_m - high_r
                gap = max(max(a, b), 0.0)  # a NaN end (the gap NaN) leaves the pair in the window
                asked = not (by_year and gap > widen and a == a and b == b)
                possible = not (day_r - day_m < -tolerance) and (sex_checked or sex_r == 0 or sex_m == 0
                                                                   or sex_r == sex_m)
                other = split_other and sex_r != 0 and sex_m != 0 and sex_r != sex_m
                kept = asked and possible
                proposed += asked
                removed += asked and not possible
                # written without a branch (whether a pair passes is as good as random); the
                # counts step past those that pass
                reps[0, n_same] = m
                reps[1, n_other] = m
                n_same += kept and not other
                n_other += kept and other
        row = last
        # each part's cap: only the pairs of a part over its cap are scored
        allowed += n_same + n_other
        n_keep = 0
        for part in range(2 if split_other else 1):
            count = n_same if part == 0 else n_other
            cap = res_cap[r] if part == 0 else other_cap
            if cap <= 0 or count == 0:
                continue
            if count <= cap:
                for i in range(count):
                    keep[n_keep] = reps[part, i]
                    n_keep += 1
                continue
            for i in range(count):
                if i + 16 < count:
                    ahead_m = reps[part, i + 16]
                    prefetch_row(rep_f, ahead_m)
                    prefetch_row(rep_i, ahead_m)
                m = reps[part, i]
                key_class = best[m]
                gap = year_gap(res_f[r, 0], res_f[r, 1], rep_f[m, 0], rep_f[m, 1])
                score = w_year * not_nan_or(gap, blanks[0])
                height = abs(res_f[r, 3] - rep_f[m, 3]) - units[0]
                if height == height and height < 0.0:
                    height = 0.0
                score += w_height * not_nan_or(height / units[1], blanks[1])
                if not far_ok:
                    # the haversine's ``a`` is a quarter of the squared chord between the unit vectors
                    dx, dy, dz = res_f[r, 4] - rep_f[m, 4], res_f[r, 5] - rep_f[m, 5], res_f[r, 6] - rep_f[m, 6]
                    a = (dx * dx + dy * dy + dz * dz) / 4.0
                    if a < 0.0:
                        a = 0.0
                    elif a > 1.0:
                        a = 1.0
                    distance = not_nan_or(units[3] * 2 * np.arcsin(np.sqrt(a)) / units[2], blanks[2])
                    if distance > far_units:
                        distance = far_units
                    score += w_distance * distance
                lost = res_f[r, 2] - rep_f[m, 2]
                if lost != lost:
                    score += w_lost * np.log1p(blanks[3])
                else:
                    if lost < 0.0:
                        lost = 0.0
                    day = np.int64(lost)
                    if day == lost and day < len(lost_table):
                        score += w_lost * lost_table[day]
                    else:
                        score += w_lost * np.log1p(not_nan_or(lost / 365.25, blanks[3]))
                score += w_shared * popcount(res_i[r, 0] & rep_i[m, 0])
                sex_r, sex_m = res_f[r, 7], rep_f[m, 7]
                if sex_r != 0 and sex_m != 0 and sex_r != sex_m:
                    score -= units[4]
                score += class_scores[key_class]
                if home_bonus != 0.0:
                    if (res_i[r, 1] & rep_i[m, 1]) != 0:
                        score += home_bonus
                    elif (res_i[r, 2] & rep_i[m, 2]) != 0 or (res_i[r, 3] & rep_i[m, 3]) != 0:
                        score += home_bonus * units[5]
                if name_bonus != 0.0:
                    if res_i[r, 4] >= 0 and res_i[r, 4] == rep_i[m, 4]:
                        score += name_bonus
                    if res_i[r, 5] >= 0 and res_i[r, 5] == rep_i[m, 5]:
                        score += name_bonus
                scores[i] = score
            worst = -np.partition(-scores[:count], cap - 1)[cap - 1]
            threshold = worst - MARGIN * (1.0 + abs(worst))
            for i in range(count):
                value = scores[i]
                if value >= threshold or value != value:
                    keep[n_keep] = reps[part, i]
                    n_keep += 1
        if n_keep == 0:
            continue
        kept = np.sort(keep[:n_keep])
        out_r = grow(out_r, n_out + n_keep)
        out_m = grow(out_m, n_out + n_keep)
        out_c = grow(out_c, n_out + n_keep)
        for i in range(n_keep):
            out_r[n_out] = r
            out_m[n_out] = kept[i]
            out_c[n_out] = best[kept[i]]
            n_out += 1
    return out_r[:n_out].copy(), out_m[:n_out].copy(), out_c[:n_out].copy(), proposed, removed, allowed


def compiled() -> Any:
    """The kernel, or None when numba cannot be imported or ``KINMATCH_KERNEL=0`` turns it off
    (the numpy path then runs). Compiled, or loaded from numba's cache, on its first call."""
    if numba is None or _broken or not kernel_allowed():
        return None
    return kernel


_broken = False


_LOST_DAYS = 200 * 366  # the table of log1p(years lost) covers two centuries of days


@lru_cache(maxsize=1)
def _lost_table() -> np.ndarray:
    return np.log1p(np.arange(_LOST_DAYS, dtype=np.float64) / 365.25)


def pass_survivors(q_r: np.ndarray, starts: np.ndarray, ends: np.ndarray, q_class: np.ndarray, entries: np.ndarray,
                   res: Any, rep: Any, res_cap: np.ndarray, *, by_year: bool, window: float, per_age: float,
                   sex_checked: bool, tolerance: float, other_cap: int | None, far_ok: bool, far_units: float,
                   weights: np.ndarray, class_scores: np.ndarray, home_bonus: float, name_bonus: float,
                   blanks: np.ndarray, units: np.ndarray) -> tuple | None:
    """(residents, reports, key classes, proposed, removed by the constraints, allowed) of one
    pass's query rows: the survivors (see the module's doc) by resident then report, the counts
    over all pairs. None when the kernel is not available."""
    global compile_seconds, _broken
    kernel = compiled()
    if kernel is None:
        return None
    started = time.perf_counter()
    f8, i8 = np.float64, np.int64

    order = None
    if len(q_r) > 1 and np.any(q_r[1:] < q_r[:-1]):
        order = np.argsort(q_r, kind="stable")
    rows = [np.ascontiguousarray(a if order is None else a[order], dtype=i8) for a in (q_r, starts, ends, q_class)]
    try:
        out = kernel(*rows, entries, *pack(res), np.ascontiguousarray(res.age, dtype=f8),
                     np.ascontiguousarray(res_cap, dtype=i8), *pack(rep), bool(by_year), float(window), float(per_age),
                     bool(sex_checked), float(tolerance),
                     int(other_cap or 0), other_cap is not None, bool(far_ok), float(far_units),
                     weights, class_scores, float(home_bonus), float(name_bonus), blanks, units, _lost_table())
    except numba.core.errors.NumbaError as error:  # a numba this kernel does not build with: numpy runs
        import warnings

        _broken = True
        warnings.warn(f"kinmatch: the compiled candidate kernel could not be built ({type(error).__name__}); "
                      f"the numpy path runs instead (same answers, slower)", RuntimeWarning, stacklevel=2)
        return None
    if compile_seconds is None:
        compile_seconds = time.perf_counter() - started
    return out
