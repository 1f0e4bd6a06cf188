"""Candidate pairs: which missing-person reports are worth comparing with each resident.

Recall comes first: a true pair dropped here is lost for good. So several independent passes
each propose pairs, and their union is compared. The passes are data: a list of
:class:`~kinmatch.match.passes.CandidatePass` in :attr:`CandidateSettings.passes` (the defaults
and what each proposes: :mod:`kinmatch.match.passes`); this module runs them. Each pass names the
key set it reads on either side (:data:`RESIDENT_KEY_SETS`, :data:`REPORT_KEY_SETS`, or a column).

Hard constraints apply only where near-certain: the resident cannot have been found more than
:data:`~kinmatch.match.comparisons.DATE_TOLERANCE_DAYS` days before the person went missing, and
the sexes must agree when both are known, except in a pass with ``any_sex`` (the whole name's
sound) or ``other_sex`` (which asks for the other sex only): sex is recorded wrongly now and then,
and the model weighs the mismatch.

Every pass is capped per resident (keeping the best-supported pairs by a cheap pre-score: birth
years, height, distance, time) and the union is capped again; what was capped is counted, never
silently dropped. Residents are processed in chunks so memory stays bounded, and all keys are
integer-coded; keys travel as flat (record, key) arrays with their codes, hashed once and rewritten
once per distinct key rather than once per record. Why not ``recordlinkage.index.Block``: it
materialises every pair of a block at once, and a block such as (四川, 男, 1960s) against a million
reports has tens of millions of pairs; the sorted inverted index here (each report filed once per
key, sex and first birth-year bin) expands, dedupes and caps them one chunk of residents at a time.
A worker process returns :func:`packed_candidate_pairs` (integer arrays; cheap to pickle) and its
parent unpacks it into the same :class:`Candidates`. Example: :func:`candidate_pairs`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from kinmatch.geo import EARTH_RADIUS_KM, haversine_km, haversine_radians
from kinmatch.match.comparisons.conditions import CONDITION_NAMES
from kinmatch.match.comparisons.time_gap import DATE_TOLERANCE_DAYS
from kinmatch.match.passes import DEFAULT_PASSES, CandidatePass

PASSES = [p.name for p in DEFAULT_PASSES]
"""Names of the default passes, in order (:data:`kinmatch.match.passes.DEFAULT_PASSES`)."""

_YEAR0, _YEAR1, _BIN_YEARS = 1880, 2040, 2
_N_BINS = (_YEAR1 - _YEAR0) // _BIN_YEARS + 2  # bin 0 = unknown birth year
_N_SEX = 3  # 0 unknown, 1 M, 2 F

KEY_CLASSES = ("dialect_area", "plain", "given_name", "prefecture")
"""Classes of query keys, weakest first: a key proposing a pair for a dialect area only (``A…``),
a plain key (an accent province ``P…``, one given syllable ``L…``, any key without such a
prefix), a whole given name or 小名 (``G…``), a stated prefecture (``C…``). A pair proposed by
several keys of a pass takes the strongest."""

_KEY_CLASS = {"C": 3, "G": 2, "P": 1, "L": 1, "A": 0}  # key prefix → index in KEY_CLASSES


def _default_key_class_scores() -> dict[str, float]:
    # a stated prefecture is the most specific place clue and a whole given name beats one
    # syllable of it; a dialect area spans several provinces, so it counts against the pair
    return {"dialect_area": -1.0, "plain": 0.0, "given_name": 2.0, "prefecture": 4.0}


@dataclass
class CandidateSettings:
    """How candidate pairs are generated: the passes, and the knobs they share (defaults sized for
    10k residents × 1M reports). :meth:`to_dict` gives readable JSON values, :meth:`from_dict`
    takes them back (a saved model carries the settings it was linked with).

    ``passes``: the :class:`~kinmatch.match.passes.CandidatePass` list, run in order (a list or
    tuple; kept as a tuple). Change one pass with :meth:`with_pass`.

    ``max_per_resident``: most pairs kept per resident over the union of the passes;
    ``nameless_max_per_resident`` for a resident without a usable name, whose name passes propose
    nothing and whose true report is found only among reports alike in place, marks and age.
    When the union is capped a pair's support is its pre-score, plus ``per_pass_support`` for each
    pass that proposed it (independent passes agreeing are evidence), plus the ``union_bonus`` of
    those passes.

    ``year_window_per_age``: a pass's ``year_window`` widens by this many years per year of the
    resident's estimated age: an older face is misjudged by more years (at 0.1, a 70-year-old by
    ±7 more than a child).

    ``few_candidates``: a resident with fewer pairs than this from the other passes (or with little
    evidence: no usable name, no place clue, no mark) gets the fallback passes.

    ``home_bonus`` / ``name_bonus``: what a pass's cap adds to a pair's pre-score for evidence the
    pass itself need not have used (see :func:`_agreement`): the accent province meeting the
    report's home (half for only the dialect area or a stated prefecture), and each of the surname
    and the last given syllable meeting the report's; 0 turns it off. Why: at 10k × 1M a pass's key
    alone is shared by thousands of reports, and two independent clues meeting at once pick the
    true report among them.

    ``cap_far_km``: in the caps of passes whose ``distance`` is ``"capped"``, a distance counts up
    to this far only (None: no limit): most residents are found far from home (true pairs on the
    simulator: median 830 km, unrelated ones 1,060), so far beyond it distance says little.

    ``key_class_scores``: what the class of the key that proposed a pair (:data:`KEY_CLASSES`)
    adds to its pre-score in a pass's cap; they must ascend in the order of :data:`KEY_CLASSES`.

    ``prescore_weights``: points per unit of each term of :func:`prescore`
    (:data:`PRESCORE_TERMS`); :data:`FITTED_PRESCORE_WEIGHTS` unless told otherwise
    (:data:`HAND_PRESCORE_WEIGHTS`, set by hand, is the option).

    ``chunk_size``: residents processed at once; ``max_pairs_in_memory``: a chunk whose keys
    would expand to more pairs than this is expanded in groups of residents.

    Figures behind the defaults: ``bench/RESULTS.md``."""

    passes: tuple[CandidatePass, ...] = DEFAULT_PASSES
    max_per_resident: int = 400
    nameless_max_per_resident: int = 1200
    per_pass_support: float = 2.0
    few_candidates: int = 30
    year_window_per_age: float = 0.1
    home_bonus: float = 8.0
    name_bonus: float = 8.0
    cap_far_km: float | None = 600.0
    key_class_scores: dict[str, float] = field(default_factory=_default_key_class_scores)
    prescore_weights: dict[str, float] = field(default_factory=lambda: _default_prescore_weights())
    chunk_size: int = 500
    max_pairs_in_memory: int = 8_000_000

    def __post_init__(self) -> None:
        self.passes = tuple(CandidatePass.from_dict(p) if isinstance(p, dict) else p for p in self.passes)
        problems = []
        names = [p.name for p in self.passes if isinstance(p, CandidatePass)]
        if len(names) < len(self.passes):
            problems.append("every entry of passes must be a CandidatePass (or its to_dict())")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            problems.append(f"pass names {repeated} occur more than once (a pair's passes are told apart by name)")
        for p in self.passes:
            if not isinstance(p, CandidatePass):
                continue
            for side, key_set, known in (("resident_keys", p.resident_keys, RESIDENT_KEY_SETS),
                                         ("report_keys", p.report_keys, REPORT_KEY_SETS)):
                if not (key_set in known or (key_set.startswith("column:") and len(key_set) > len("column:"))):
                    problems.append(f"pass {p.name!r}: {side} {key_set!r} is neither one of {sorted(known)} "
                                    f"nor 'column:<a column of the normalized frame>'")
        if set(self.key_class_scores) != set(KEY_CLASSES):
            problems.append(f"key_class_scores must give a score for exactly {list(KEY_CLASSES)}, "
                            f"not {sorted(self.key_class_scores)}")
        elif list(self._class_scores()) != sorted(self._class_scores()):
            problems.append(f"key_class_scores must ascend in the order {list(KEY_CLASSES)} (a pair proposed "
                            f"by several keys takes the strongest class): {self.key_class_scores}")
        if set(self.prescore_weights) != set(PRESCORE_TERMS):
            problems.append(f"prescore_weights must give a weight for exactly {list(PRESCORE_TERMS)}, "
                            f"not {sorted(self.prescore_weights)}")
        if problems:
            raise ValueError("CandidateSettings: " + "; ".join(problems) + ".")

    def _class_scores(self) -> np.ndarray:
        return np.array([float(self.key_class_scores[name]) for name in KEY_CLASSES])

    def with_pass(self, name: str, **changes: Any) -> CandidateSettings:
        """A copy whose pass ``name`` has ``changes`` (``settings.with_pass("place", cap=5)``)."""
        if name not in [p.name for p in self.passes]:
            raise KeyError(f"no candidate pass {name!r}; the passes are {[p.name for p in self.passes]}")
        return replace(self, passes=tuple(replace(p, **changes) if p.name == name else p for p in self.passes))

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-ready values, passes included.

            >>> import json
            >>> settings = CandidateSettings(max_per_resident=300)
            >>> CandidateSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
            True
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["passes"] = [p.to_dict() for p in self.passes]
        out["key_class_scores"] = dict(self.key_class_scores)
        out["prescore_weights"] = dict(self.prescore_weights)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CandidateSettings:
        """The settings :meth:`to_dict` gave (passes as dicts or :class:`CandidatePass`)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"CandidateSettings: unknown settings {unknown}; known are {sorted(known)}. Settings "
                             f"saved by another version of kinmatch may need updating by hand.")
        return cls(**values)


class Candidates(NamedTuple):
    """``pairs``: resident_id, missing_id, passes (pass names joined by ``+``), prescore.
    ``counts``: one row per pass: pairs proposed, kept after the per-pass cap, capped, and pairs
    removed by the hard constraints."""

    pairs: pd.DataFrame
    counts: pd.DataFrame


class PackedCandidates(NamedTuple):
    """:class:`Candidates` as integer arrays, for a worker process to send back: pair ``i`` is
    resident ``resident_ids[residents[i]]``, report ``missing_ids[reports[i]]``, proposed by the
    passes whose bits are set in row ``pass_bits[i]`` (bit ``j``, little-endian across the row's
    bytes, is pass ``pass_names[j]``; see :func:`pass_names`). ``unpack()`` gives the
    :class:`Candidates` that :func:`candidate_pairs` returns, the same frame.

    Why: the frame's three object columns are pickled element by element, on the critical path of
    ``run_link``, whose main process waits for the worker; these arrays and the ids they use
    pickle and unpickle several times faster (figures in ``bench/RESULTS.md``).

    Why pass membership as rows of bits: one bit a pass, as many bytes as the passes need (one byte
    for up to 8 passes, two for 16 …), so the number of passes has no limit and a pair's passes
    take two bytes for the ten default passes; the union ORs them, and the names are spelled once
    per distinct combination that occurs (:func:`_combination_names`).
    """

    resident_ids: np.ndarray
    missing_ids: np.ndarray
    residents: np.ndarray
    reports: np.ndarray
    pass_bits: np.ndarray
    prescore: np.ndarray
    counts: pd.DataFrame
    pass_names: tuple[str, ...] = tuple(PASSES)

    def unpack(self) -> Candidates:
        if len(self.residents) == 0:
            return Candidates(_empty_pairs(), self.counts)
        columns = {"resident_id": self.resident_ids[self.residents], "missing_id": self.missing_ids[self.reports],
                   "passes": _combination_names(self.pass_bits, self.pass_names), "prescore": self.prescore}
        # columns as Series, not copied: the frame constructor would otherwise scan every object
        # column for dates and copy them into one block (longer than a chunk's union step)
        pairs = pd.DataFrame({name: pd.Series(values, dtype=values.dtype, copy=False)
                              for name, values in columns.items()}, copy=False)
        return Candidates(pairs, self.counts)


def fit_rows(pairs: pd.DataFrame, settings: CandidateSettings, pass_bits: np.ndarray | None = None
             ) -> np.ndarray | None:
    """The rows of ``pairs`` (:class:`Candidates`' pairs, with their ``passes``) a model is fitted
    on: those proposed by at least one pass with ``fit`` (:class:`~kinmatch.match.passes.CandidatePass`).
    None when every pass has ``fit`` (all rows). ``pass_bits``: the pairs' rows of
    :attr:`PackedCandidates.pass_bits` (bit ``j`` the ``j``-th of ``settings.passes``), read
    instead of the names when given (the same rows)."""
    unfitted = {p.name for p in settings.passes if not p.fit}
    if not unfitted or len(pairs) == 0 or "passes" not in pairs.columns:
        return None
    codes, combinations = _pass_combinations(pairs, settings, pass_bits)
    fitted = np.array([any(name not in unfitted for name in str(c).split("+")) for c in combinations], dtype=bool)
    return np.flatnonzero(fitted[codes])


def weight_floors(pairs: pd.DataFrame, settings: CandidateSettings, pass_bits: np.ndarray | None = None
                  ) -> np.ndarray | None:
    """Per row of ``pairs`` (:class:`Candidates`' pairs, with their ``passes``) the lowest match
    weight it is ranked with (:attr:`~kinmatch.match.passes.CandidatePass.min_weight`): the lowest
    floor of the passes proposing it when every one of them has one, -inf when any has none. None
    when no pass has a floor (every pair is ranked). ``pass_bits``: as :func:`fit_rows` takes them."""
    floors = {p.name: p.min_weight for p in settings.passes if p.min_weight is not None}
    if not floors or len(pairs) == 0 or "passes" not in pairs.columns:
        return None
    codes, combinations = _pass_combinations(pairs, settings, pass_bits)
    floor = np.array([min((floors.get(name, -np.inf) for name in str(c).split("+")), default=-np.inf)
                      for c in combinations], dtype=float)
    return floor[codes]


def _pass_combinations(pairs: pd.DataFrame, settings: CandidateSettings,
                       pass_bits: np.ndarray | None) -> tuple[np.ndarray, Any]:
    """(code per row, the distinct combinations of pass names joined by ``+``) of the rows of
    ``pairs``: from their pass bits when given (few distinct rows of bits among hundreds of
    thousands of pairs, and hashing each pair's text was most of the time), else from the names."""
    if pass_bits is not None and pass_bits.ndim == 2 and 1 <= pass_bits.shape[1] <= 8:
        names = tuple(p.name for p in settings.passes)
        n_bytes = pass_bits.shape[1]
        if n_bytes <= 2:  # the row read as one number: a table over every possible one, no sort
            code = np.ascontiguousarray(pass_bits).view("<u1" if n_bytes == 1 else "<u2").ravel()
            present = np.flatnonzero(np.bincount(code, minlength=1 << 8 * n_bytes))
            inverse = np.zeros(1 << 8 * n_bytes, dtype=np.int64)
            inverse[present] = np.arange(len(present))
            return inverse[code], [pass_names(int(c), names) for c in present]
        code = np.zeros(len(pass_bits), dtype=np.uint64)
        for j in range(n_bytes):
            code |= pass_bits[:, j].astype(np.uint64) << np.uint64(8 * j)
        distinct, codes = np.unique(code, return_inverse=True)
        return codes.ravel(), [pass_names(int(c), names) for c in distinct]
    return pd.factorize(pairs["passes"])



def pass_names(bits: int | np.ndarray, names: tuple[str, ...] | list[str] = tuple(PASSES)) -> str:
    """The names of the passes whose bits are set, joined by ``+``: ``bits`` an int (bit ``j`` is
    ``names[j]``) or one row of :attr:`PackedCandidates.pass_bits`.

        >>> pass_names(5)
        'name_sound+one_char'
    """
    if isinstance(bits, np.ndarray):
        bits = int.from_bytes(bits.astype(np.uint8).tobytes(), "little")
    return "+".join(name for j, name in enumerate(names) if bits >> j & 1)


@lru_cache(maxsize=16)
def _every_combination(names: tuple[str, ...]) -> np.ndarray:
    """:func:`pass_names` of every combination of ``names`` (2 ** len(names) of them)."""
    table = np.empty(1 << len(names), dtype=object)
    table[:] = [pass_names(bits, names) for bits in range(len(table))]
    return table


def _combination_names(pass_bits: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """:func:`pass_names` of every row of ``pass_bits`` (object array), spelled once per distinct
    row: few combinations of passes occur among hundreds of thousands of pairs."""
    n_bytes = pass_bits.shape[1] if pass_bits.ndim == 2 else 0
    if n_bytes == 0 or len(pass_bits) == 0:
        return np.full(len(pass_bits), "", dtype=object)
    if n_bytes <= 2:
        code = np.ascontiguousarray(pass_bits).view("<u1" if n_bytes == 1 else "<u2").ravel()
        if len(names) <= 10:  # every combination spelled once per set of names (1,024 at most)
            return _every_combination(tuple(names))[code]
        # a table over every possible combination (at most 65,536), spelled where used
        present = np.flatnonzero(np.bincount(code, minlength=1 << 8 * n_bytes))
        table = np.empty(1 << 8 * n_bytes, dtype=object)
        table[present] = [pass_names(int(c), names) for c in present]
        return table[code]
    if n_bytes <= 8:
        code = np.zeros(len(pass_bits), dtype=np.uint64)
        for j in range(n_bytes):
            code |= pass_bits[:, j].astype(np.uint64) << np.uint64(8 * j)
        distinct, inverse = np.unique(code, return_inverse=True)
        spelled = [pass_names(int(c), names) for c in distinct]
    else:
        distinct, inverse = np.unique(pass_bits, axis=0, return_inverse=True)
        spelled = [pass_names(row, names) for row in distinct]
    table = np.empty(len(spelled), dtype=object)
    table[:] = spelled
    return table[inverse.ravel()]


# ---------------------------------------------------------------------------------------------
# column access that tolerates absent normalized columns (a frame without marks has no marks pass)


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy()
    return np.full(len(frame), None, dtype=object)


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _days(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    column = frame[name]
    if column.dtype == np.dtype("datetime64[ns]"):
        # normalized frames hold datetime64 already; to_datetime would still scan them for a cache
        ns = column.to_numpy().view(np.int64)
        days = np.floor_divide(ns, 86_400 * 10**9).astype(float)  # floor, as Timedelta.days
        days[ns == np.iinfo(np.int64).min] = np.nan  # NaT
        return days
    dates = pd.to_datetime(column, errors="coerce")
    days = (dates - pd.Timestamp("1970-01-01")).dt.days
    return days.to_numpy(dtype=float)


def _sex(frame: pd.DataFrame) -> np.ndarray:
    codes = _col(frame, "sex_code")
    return np.where(codes == "M", 1, np.where(codes == "F", 2, 0)).astype(np.int8)


def _bin(year: np.ndarray) -> np.ndarray:
    b = np.floor((year - _YEAR0) / _BIN_YEARS).astype("float") + 1
    return np.where(np.isnan(year), 0, np.clip(np.nan_to_num(b, nan=0), 1, _N_BINS - 1)).astype(np.int64)


def _masked(name: Any) -> tuple:
    """Written name with each character in turn masked: 李丹玲 → (?丹玲, 李?玲, 李丹?). Only names of
    three or more characters (a masked two-character name is just a surname or a given name)."""
    if not isinstance(name, str) or len(name) < 3 or len(name) > 5 or "·" in name:
        return ()
    return tuple(name[:i] + "?" + name[i + 1:] for i in range(len(name)))


# ---------------------------------------------------------------------------------------------
# flat keys: the keys of many records as two parallel arrays (record position, key). Built once per
# column by C-level flattening, with rewrites applied once per distinct key and dedupes done by
# sorting, instead of a Python loop per record: the report side has a million rows at full scale.
# The keys' integer codes travel with them once known, so a flat is hashed (factorized) once, not
# again by every rewrite, dedupe and index built from it.


class _Flat(NamedTuple):
    """Keys of many records: ``keys[i]`` belongs to record ``positions[i]``. Positions ascend and
    each record's keys keep their order (first column first, a cell's own order within it).
    ``codes``/``vocabulary``, when known: ``vocabulary[codes] == keys``, the vocabulary's entries
    distinct (it may hold keys no longer present)."""

    positions: np.ndarray
    keys: np.ndarray
    codes: np.ndarray | None = None
    vocabulary: np.ndarray | None = None


def _coded(flat: _Flat) -> _Flat:
    """``flat`` with its keys' codes (factorized now if not known yet)."""
    if flat.codes is not None:
        return flat
    codes, vocabulary = pd.factorize(flat.keys)
    return _Flat(flat.positions, flat.keys, codes.astype(np.int64), np.asarray(vocabulary, dtype=object))


def _take(flat: _Flat, rows: np.ndarray) -> _Flat:
    """The entries ``rows`` of ``flat``, codes kept."""
    codes = None if flat.codes is None else flat.codes[rows]
    return _Flat(flat.positions[rows], flat.keys[rows], codes, flat.vocabulary)


def _sorted_vocabulary(flat: _Flat) -> tuple[np.ndarray, np.ndarray]:
    """(the vocabulary sorted, each code's rank in it) of a coded flat: ``factorize(sort=True)``
    without hashing the keys again."""
    order = np.argsort(flat.vocabulary, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return flat.vocabulary[order], rank


def _empty_flat() -> _Flat:
    return _Flat(np.empty(0, np.int64), np.empty(0, dtype=object))


def _object_array(items: list) -> np.ndarray:
    # fromiter, not np.array: a list of equal-length tuples must stay a 1-D array of tuples
    return np.fromiter(items, dtype=object, count=len(items))


def _cell_items(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(number of items per cell, the items) of one column: a tuple or list cell gives its items, a
    string cell itself, a blank cell nothing."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and len(values) \
            and pd.api.types.infer_dtype(values, skipna=True) == "string":
        # a column of codes such as home_province: one item per non-blank cell
        present = ~pd.isna(values)
        return present.astype(np.int64), values[present].astype(object)
    values = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if not all(type(v) is tuple for v in values):  # normalized frames hold tuples: no per-cell fix-up
        values = [(v,) if isinstance(v, str) else tuple(v) if isinstance(v, (tuple, list, np.ndarray)) else ()
                  for v in values]
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    return lengths, _object_array(list(chain.from_iterable(values)))


def _is_key(items: np.ndarray) -> np.ndarray:
    """True where an item is a non-empty string (anything else in a key cell is ignored)."""
    if len(items) == 0:
        return np.zeros(0, dtype=bool)
    if pd.api.types.infer_dtype(items, skipna=False) == "string":
        return np.asarray(items != "", dtype=bool)
    return np.fromiter((isinstance(x, str) and x != "" for x in items), dtype=bool, count=len(items))


def _raw(values: Any) -> _Flat:
    """The keys of each record in one column, blanks dropped, duplicates kept: what :func:`_flat`
    starts from, for a column that goes into several flats (flattened once)."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and len(values) \
            and pd.api.types.infer_dtype(values, skipna=True) == "string":
        # a column of codes such as home_province: one key per non-blank cell, coded here by a
        # factorize of the column, so the flats made from it need not hash their keys again
        codes, uniques = pd.factorize(values)
        uniques = np.asarray(uniques, dtype=object)
        valid = uniques != ""
        code_of = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last: blank cells (code -1)
        code_of[np.flatnonzero(valid)] = np.arange(int(valid.sum()))
        codes = code_of[codes]
        rows = np.flatnonzero(codes >= 0)
        vocabulary = uniques[valid]
        return _Flat(rows.astype(np.int64), vocabulary[codes[rows]], codes[rows], vocabulary)
    lengths, items = _cell_items(values)
    ok = _is_key(items)
    return _Flat(np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)[ok], items[ok])


def _flat(*columns: Any) -> _Flat:
    """The keys of each record over ``columns`` (arrays of cells, or :func:`_raw` of them), in
    order, blanks dropped, each key once per record where it first occurs: ``dict.fromkeys`` of
    each record's items, for all records at once.

        >>> flat = _flat(np.array([("a", "b"), ()], dtype=object), np.array(["b", "c"], dtype=object))
        >>> flat.positions.tolist(), flat.keys.tolist()
        ([0, 0, 1], ['a', 'b', 'c'])
    """
    raws = [values if isinstance(values, _Flat) else _raw(values) for values in columns]
    if not raws:
        return _empty_flat()
    if len(raws) == 1:
        flat = raws[0]
    elif all(raw.codes is not None for raw in raws):
        flat = _concat(*raws)  # codes kept
    else:
        flat = _by_record(_Flat(np.concatenate([raw.positions for raw in raws]),
                                np.concatenate([raw.keys for raw in raws])))
    return _first_per_record(flat)


def _by_record(flat: _Flat) -> _Flat:
    """Record by record; within a record, the order the keys came in (a stable sort)."""
    return _take(flat, np.argsort(flat.positions, kind="stable"))


def _concat(*flats: _Flat) -> _Flat:
    """Flat keys of the same records as one, record by record, each record's keys in argument order.
    Codes are kept when every part has them (their vocabularies merged: a factorize of the
    vocabularies, not of the keys)."""
    positions = np.concatenate([f.positions for f in flats])
    keys = np.concatenate([f.keys for f in flats])
    codes = vocabulary = None
    if all(f.codes is not None for f in flats):
        merged, vocabulary = pd.factorize(np.concatenate([f.vocabulary for f in flats]))
        offsets = np.cumsum([0] + [len(f.vocabulary) for f in flats])
        codes = np.concatenate([merged[f.codes + offset]
                                for f, offset in zip(flats, offsets[:-1], strict=True)]).astype(np.int64)
        vocabulary = np.asarray(vocabulary, dtype=object)
    return _by_record(_Flat(positions, keys, codes, vocabulary))


def _first_per_record(flat: _Flat) -> _Flat:
    """Each key once per record, where it first occurs."""
    if len(flat.keys) < 2:
        return flat
    flat = _coded(flat)
    pair = flat.positions * len(flat.vocabulary) + flat.codes
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    first = np.r_[True, pair[1:] != pair[:-1]]
    if first.all():
        return flat
    return _take(flat, np.sort(order[first]))


def _sorted_per_record(flat: _Flat) -> _Flat:
    """Each record's distinct keys in sorted order (``tuple(sorted(set(keys)))`` per record)."""
    if len(flat.keys) == 0:
        return flat
    flat = _coded(flat)
    vocabulary, rank = _sorted_vocabulary(flat)
    width = len(vocabulary)
    pair = _sorted_unique(flat.positions * width + rank[flat.codes])
    codes = pair % width
    return _Flat(pair // width, vocabulary[codes], codes, vocabulary)


def _map_keys(flat: _Flat, rewrite) -> _Flat:
    """``rewrite`` applied once per distinct key; keys rewritten to None are dropped. No dedupe: two
    keys of a record may become one (``places`` relies on that, see :func:`_centres`)."""
    if len(flat.keys) == 0:
        return flat
    flat = _coded(flat)
    rewritten = _object_array([rewrite(k) for k in flat.vocabulary])
    valid = ~pd.isna(rewritten)
    # two keys may be rewritten alike: the new vocabulary is a factorize of the rewritten one
    new_codes, vocabulary = pd.factorize(rewritten[valid])
    code_of = np.full(len(rewritten), -1, dtype=np.int64)
    code_of[valid] = new_codes
    codes = code_of[flat.codes]
    rows = np.flatnonzero(codes >= 0)
    codes = codes[rows]
    vocabulary = np.asarray(vocabulary, dtype=object)
    return _Flat(flat.positions[rows], vocabulary[codes], codes, vocabulary)


def _map_values(values: np.ndarray, rewrite) -> np.ndarray:
    """``rewrite`` applied once per distinct cell of a column of strings; blank cells give None."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return _object_array([rewrite(u) for u in uniques] + [None])[codes]


def _mapped_keys(values: np.ndarray, rewrite) -> _Flat:
    """The key ``rewrite`` gives each cell of a column of strings (once per distinct cell; None or
    "" gives none), as :func:`_raw` keys with their codes: what ``_raw(_map_values(values,
    rewrite))`` gives, without hashing the rewritten column again."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    rewritten = _object_array([rewrite(u) for u in uniques])
    valid = np.fromiter((isinstance(k, str) and k != "" for k in rewritten), dtype=bool, count=len(rewritten))
    new_codes, vocabulary = pd.factorize(rewritten[valid])
    code_of = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last: blank cells (code -1)
    code_of[np.flatnonzero(valid)] = new_codes
    codes = code_of[codes]
    rows = np.flatnonzero(codes >= 0)
    vocabulary = np.asarray(vocabulary, dtype=object)
    return _Flat(rows.astype(np.int64), vocabulary[codes[rows]], codes[rows], vocabulary)


def _code_prefix(values: np.ndarray, cut: int) -> _Flat:
    """The first ``cut`` digits of each 6-digit code (:func:`_mapped_keys`)."""
    return _mapped_keys(values, lambda v: v[:cut] if isinstance(v, str) and len(v) == 6 else None)


def _masked_flat(names: np.ndarray) -> _Flat:
    """:func:`_masked` of every written name (once per distinct name). The masked names are made
    as numpy fixed-width text, a character column at a time (Python slicing per distinct name costs
    a tenth of the reports' set-up); a name holding "?" itself (its masks may repeat) or a NUL
    (numpy text drops trailing ones) goes through :func:`_masked`."""
    codes, uniques = pd.factorize(np.asarray(names, dtype=object))
    uniques = np.asarray(uniques, dtype=object)
    table = np.full((len(uniques) + 1, 5), None, dtype=object)  # last row: blank names (code -1)
    present = np.zeros(table.shape, dtype=bool)
    eligible = [i for i, u in enumerate(uniques) if isinstance(u, str) and 3 <= len(u) <= 5 and "·" not in u]
    simple = np.array([i for i in eligible if "?" not in uniques[i] and "\x00" not in uniques[i]], dtype=np.int64)
    if len(simple):
        text = uniques[simple].astype("U5")
        size = np.strings.str_len(text)
        grid = text.view(np.uint32).reshape(-1, 5)
        for i in range(5):
            rows = np.flatnonzero(size > i)
            masked = grid[rows]
            masked[:, i] = ord("?")
            table[simple[rows], i] = masked.view("U5").ravel().astype(object)
            present[simple[rows], i] = True
    for i in set(eligible) - set(simple.tolist()):
        for j, key in enumerate(dict.fromkeys(_masked(uniques[i]))):
            table[i, j], present[i, j] = key, True
    records, slots = np.nonzero(present[codes])
    return _Flat(records.astype(np.int64), table[codes[records], slots])


def _mark_key(mark: str) -> str | None:
    """Mark type and part, side dropped (``痣:脸:左`` → ``痣:脸``); None for a denied mark (无纹身)
    or a condition."""
    if mark.startswith("无") or mark.split(":")[0] in CONDITION_NAMES:
        return None
    return ":".join(mark.split(":")[:2])


def _feature_key(mark: str) -> str | None:
    if mark.startswith("无"):
        return None
    key = ":".join(mark.split(":")[:2])
    kind = key.split(":")[0]
    return f"!{kind}" if kind in CONDITION_NAMES else key


def _mark_features(marks: Any, conditions: np.ndarray) -> _Flat:
    """Mark types-and-parts (side dropped) and conditions (``!聋哑``) of each record, sorted, for the
    shared-feature bonus of :func:`prescore`. ``marks``: the column, or its :func:`_flat` keys."""
    marks = marks if isinstance(marks, _Flat) else _flat(marks)
    return _sorted_per_record(_concat(_map_keys(marks, _feature_key),
                                      _map_keys(_flat(conditions), lambda c: f"!{c}")))


def _bitmask(features: _Flat, vocabulary: dict[str, int], n: int) -> np.ndarray:
    """One int64 per record with a bit per feature (a feature beyond the 63 most frequent shares
    its bit with another: a rare false overlap only moves a pre-score)."""
    out = np.zeros(n, dtype=np.int64)
    if len(features.keys) == 0 or not vocabulary:
        return out
    found = pd.Index(list(vocabulary), dtype=object).get_indexer(features.keys)
    codes = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))[found[found >= 0]]
    np.bitwise_or.at(out, features.positions[found >= 0], np.left_shift(np.int64(1), codes % 63))
    return out


def _key_bits(flat: _Flat, bit_of, n: int) -> np.ndarray:
    """One int64 per record: OR of ``1 << bit_of(key)`` over its keys (``bit_of`` once per distinct
    key, returning 0 … 62 or None to ignore the key)."""
    out = np.zeros(n, dtype=np.int64)
    if len(flat.keys) == 0:
        return out
    bits = _map_keys(flat, lambda k: None if (b := bit_of(k)) is None else str(b))
    if len(bits.keys) == 0:
        return out
    values = np.left_shift(np.int64(1), np.array([int(b) for b in bits.vocabulary], dtype=np.int64))
    np.bitwise_or.at(out, bits.positions, values[bits.codes])
    return out


def _code_bit(digits: int):
    """Bit of a place code by its first ``digits`` digits (provinces 11 … 82 mod 63 are distinct;
    prefectures may share a bit: a rare false agreement only moves a pre-score)."""
    def bit_of(code: str) -> int | None:
        head = code[:digits]
        return int(head) % 63 if len(head) == digits and head.isdigit() else None
    return bit_of


def _first_codes(flat: _Flat, vocabulary: pd.Index, n: int, rewrite=None) -> np.ndarray:
    """Each record's first key (``rewrite`` of it) coded in ``vocabulary``; -1 for none or unknown."""
    out = np.full(n, -1, dtype=np.int64)
    first = _first_key(flat)
    if rewrite is not None:
        first = _map_keys(first, rewrite)
    if len(first.keys):
        out[first.positions] = vocabulary.get_indexer(pd.Index(first.keys, dtype=object))
    return out


def _last_syllable(key: str) -> str:
    return key.split()[-1]


def _mark_pair_flat(marks: _Flat) -> _Flat:
    """Every pair of a record's first six distinct marks (``marks`` sorted per record, side dropped;
    a mirrored 左/右 still meets): (疤痕:额头, 痣:脸) → 疤痕:额头|痣:脸. At most 15 keys a record."""
    positions = marks.positions
    if len(positions) < 2:
        return _empty_flat()
    starts = np.r_[0, np.flatnonzero(positions[1:] != positions[:-1]) + 1]
    sizes = np.minimum(np.diff(np.r_[starts, len(positions)]), 6)
    pair_positions, first, second = [], [], []
    for size in range(2, 7):
        records = starts[sizes == size]
        if len(records) == 0:
            continue
        i, j = np.triu_indices(size, 1)  # (0,1), (0,2) … (1,2) …: the order of the nested loops
        first.append((records[:, None] + i).ravel())
        second.append((records[:, None] + j).ravel())
        pair_positions.append(np.repeat(positions[records], len(i)))
    if not pair_positions:
        return _empty_flat()
    _, _, codes, vocabulary = _coded(marks)
    width = len(vocabulary)
    pair = codes[np.concatenate(first)] * width + codes[np.concatenate(second)]
    distinct, inverse = np.unique(pair, return_inverse=True)
    names = _object_array([f"{vocabulary[p // width]}|{vocabulary[p % width]}" for p in distinct])
    return _by_record(_Flat(np.concatenate(pair_positions), names[inverse.ravel()]))


def _crossed(first: _Flat, second: _Flat) -> _Flat:
    """Every key of ``first`` joined with every key of ``second`` of the same record, in that order:
    (P510000, A SW_Man) × (痴呆,) → P510000|痴呆, ASW_Man|痴呆. A record without keys on either side
    has none."""
    if len(first.positions) == 0 or len(second.positions) == 0:
        return _empty_flat()
    a, b = _coded(first), _coded(second)
    starts = np.searchsorted(b.positions, a.positions, "left")
    lengths = np.searchsorted(b.positions, a.positions, "right") - starts
    rows_a, rows_b = np.repeat(np.arange(len(a.positions)), lengths), _ranges(starts, lengths)
    if len(rows_a) == 0:
        return _empty_flat()
    width = len(b.vocabulary)
    distinct, inverse = np.unique(a.codes[rows_a] * width + b.codes[rows_b], return_inverse=True)
    names = _object_array([f"{a.vocabulary[p // width]}|{b.vocabulary[p % width]}" for p in distinct])
    return _Flat(a.positions[rows_a], names[inverse.ravel()])


CLOTHING_PERIOD_DAYS = 30
"""The length of the periods :func:`_dated_clothing` files clothes under: a report under the period of
its loss, a resident under the period it was found in and the one before (so clothes found on a
resident up to a month after the loss, and some up to two, meet the report's)."""


def _dated_clothing(items: Any, days: np.ndarray, periods_back: int) -> _Flat:
    """Each coloured piece of clothing (``咖啡色:棉袄``; a garment without its colour is too common)
    joined with the period (:data:`CLOTHING_PERIOD_DAYS`) of the record's date and of the
    ``periods_back`` periods before it: 咖啡色:棉袄@684, 咖啡色:棉袄@683. A record without a date
    has none. Why: a colour and garment alone is worn by thousands of the million reports, but worn
    when lost within a month of the day a resident was found in it, by a handful; and the clothes
    are worthless as evidence a year later (the clothing comparisons weigh them only then)."""
    flat = _map_keys(_flat(items), lambda k: k if ":" in k and not k.startswith(":") else None)
    if len(flat.keys) == 0:
        return _empty_flat()
    period = np.floor(days / CLOTHING_PERIOD_DAYS)
    dated = ~np.isnan(period.take(flat.positions))
    flat = _take(flat, np.flatnonzero(dated))
    if len(flat.keys) == 0:
        return _empty_flat()
    own = period.take(flat.positions).astype(np.int64)
    back = np.arange(periods_back + 1)
    positions = np.repeat(flat.positions, len(back))
    codes = np.repeat(flat.codes, len(back))
    periods = (own[:, None] - back[None, :]).ravel()
    low = int(periods.min())
    width = int(periods.max()) - low + 1
    distinct, inverse = np.unique(codes * width + (periods - low), return_inverse=True)
    names = _object_array([f"{flat.vocabulary[p // width]}@{p % width + low}" for p in distinct])
    return _first_per_record(_Flat(positions, names[inverse.ravel()]))


REPORT_KEY_SETS = {
    "name_sounds": "sound keys of the name and 小名 (name_keys, alias_keys)",
    "given_sounds": "whole given names and 小名 as G:…, and the last syllable of a longer one as L:…",
    "masked_names": "the written name with each character in turn masked (李?玲; names of 3-5 characters)",
    "surname_sounds": "surname sound keys",
    "home_clues": "home province P…, home prefecture C… (also from the home county), dialect area A…",
    "lost_prefectures": "prefecture of the missing place (or of its county) and of the home",
    "lost_provinces": "home province and the province of the missing county",
    "marks": "mark type and body part, side dropped (痣:脸); denied marks and conditions left out",
    "mark_pairs": "every pair of the first six distinct marks (疤痕:额头|痣:脸)",
    "conditions": "conditions (聋哑, 智力障碍, 痴呆 …)",
    "home_conditions": "each home_clues key with each condition (P510000|痴呆)",
    "dated_clothing": "each coloured piece of clothing worn when lost with the period of the loss "
                      "(咖啡色:棉袄@684; :func:`_dated_clothing`)",
}
"""The reports' key sets a pass may name as ``report_keys``."""

RESIDENT_KEY_SETS = {
    "name_sounds": "sound keys of the name and 小名",
    "given_sounds": "given-name, 小名 and whole-name keys as G:…, and a partial name's single syllable "
                    "(阿英, 小宝) as L:…, to meet a report's last given syllable",
    "masked_names": "the written name with each character in turn masked (李?玲; names of 3-5 characters)",
    "surname_sounds": "surname sound keys",
    "prefixed_surname": "the given syllable of 老薛 / 小黄 / 阿陈 as a surname sound",
    "home_clues": "accent provinces P…, stated places' prefecture C… and province P…, and the dialect "
                  "area A… when the accent named no province",
    "found_prefecture": "the prefecture where the resident was found",
    "found_province": "the province where the resident was found",
    "marks": "mark type and body part, side dropped (痣:脸); denied marks and conditions left out",
    "mark_pairs": "every pair of the first six distinct marks (疤痕:额头|痣:脸)",
    "conditions": "conditions (聋哑, 智力障碍, 痴呆 …)",
    "home_conditions": "each home_clues key with each condition (P510000|痴呆)",
    "dated_clothing": "each coloured piece of clothing worn on arrival with the period the resident was "
                      "found in and the one before (:func:`_dated_clothing`)",
}
"""The residents' key sets a pass may name as ``resident_keys``. The name keys (the first five)
are empty for a resident whose name is no evidence (无名氏, an assigned 党X)."""

_COLUMN = "column:"


def _key_set(key_sets: dict[str, _Flat], name: str, frame: pd.DataFrame) -> _Flat:
    """Key set ``name`` of one side: a built one, or ``column:<name>`` flattened now (and kept). An
    absent column has no keys, as an absent normalized column has none in the built key sets."""
    if name not in key_sets:
        key_sets[name] = _flat(_col(frame, name[len(_COLUMN):]))
    return key_sets[name]


# ---------------------------------------------------------------------------------------------
# the report side: integer-coded, sorted inverted indexes


class _ReportIndex:
    """Sorted composite keys → report positions for one pass.

    Where the composite key space is small (places, provinces, marks: a few hundred keys × sex ×
    birth-year bin) the first position of every possible key is tabulated, so a range is two array
    lookups instead of two binary searches, and the sorted keys themselves are not kept; name keys,
    with a large vocabulary, are searched. The reports are kept as ``entries`` = position << 2, the
    low bits of a pair code (:func:`_distinct_pairs`), as uint32 when they fit: 4 bytes an entry
    rather than 16 for int64 keys and positions (at 10k × 1M the indexes hold tens of millions)."""

    _TABLE_LIMIT = 1 << 20  # keys tabulated at most (4 MB of int32 per pass)
    span = 0  # birth-year bins beyond its first that a report's interval may cover (by-year indexes)

    def __init__(self, vocabulary: pd.Index, composite: np.ndarray, positions: np.ndarray):
        self.vocabulary = vocabulary
        n = int(positions.max()) + 1 if len(positions) else 1
        if len(composite) and int(composite.max()) < 2**62 // n:
            # one value sort of (key, position) codes: several times faster than a stable argsort
            packed = np.sort(composite.astype(np.int64) * n + positions)
            packed = packed[np.r_[True, packed[1:] != packed[:-1]]]  # an entry twice: once
            keys, positions = packed // n, packed % n
        else:
            order = np.argsort(composite, kind="stable")
            keys, positions = composite[order], positions[order].astype(np.int64)
            once = np.ones(len(keys), dtype=bool)
            once[1:] = (keys[1:] != keys[:-1]) | (positions[1:] != positions[:-1])
            keys, positions = keys[once], positions[once]
        entries = positions << 2
        self.entries = entries.astype(np.uint32) if n << 2 <= 2**32 else entries
        self.space = int(keys[-1]) + 1 if len(keys) else 0
        self.first, self.keys = None, keys
        if self.space <= self._TABLE_LIMIT and len(keys) < 2**31:
            # entries before each key: counts then a running sum (a search per possible key was slower)
            self.first = np.zeros(self.space + 1, dtype=np.int32)
            np.cumsum(np.bincount(keys, minlength=self.space)[:self.space], out=self.first[1:])
            self.keys = None

    def only(self, keep: np.ndarray) -> _ReportIndex:
        """A copy holding only the entries of the reports where ``keep`` (a boolean per report) is True."""
        out = copy.copy(self)
        selected = keep[(self.entries >> 2).astype(np.int64)]
        out.entries = self.entries[selected]
        if self.first is None:
            out.keys = self.keys[selected]
        else:
            keys = np.repeat(np.arange(self.space, dtype=np.int64), np.diff(self.first))[selected]
            out.first = np.zeros(self.space + 1, dtype=np.int32)
            np.cumsum(np.bincount(keys, minlength=self.space)[:self.space], out=out.first[1:])
        return out

    def ranges(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) in ``entries`` of the entries whose key is in ``low`` … ``high`` (inclusive)."""
        if self.first is not None:
            return (self.first[np.minimum(low, self.space)].astype(np.int64),
                    self.first[np.minimum(high + 1, self.space)].astype(np.int64))
        return np.searchsorted(self.keys, low, "left"), np.searchsorted(self.keys, high, "right")


def _composite(key_code: np.ndarray, sex: np.ndarray, year_bin: np.ndarray) -> np.ndarray:
    return (key_code.astype(np.int64) * _N_SEX + sex.astype(np.int64)) * _N_BINS + year_bin.astype(np.int64)


class _Side:
    """What both sides share: :meth:`position`."""

    ids: np.ndarray

    def position(self, ids: Any) -> np.ndarray:
        """Positions of ``ids`` on this side (-1 for an id not here)."""
        return pd.Index(self.ids).get_indexer(pd.Index(np.asarray(ids, dtype=object).astype(str)))


def _set_person_arrays(side, frame: pd.DataFrame, id_column: str) -> None:
    """What both sides share as flat arrays: ids, sex, birth-year interval (one end standing in for a
    missing other), event day, height."""
    side.n = len(frame)
    side.ids = frame[id_column].astype(str).to_numpy()
    side.sex = _sex(frame)
    low, high = _num(frame, "birth_year_low"), _num(frame, "birth_year_high")
    side.year_low = np.where(np.isnan(low), high, low)
    side.year_high = np.where(np.isnan(high), low, high)
    side.day = _days(frame, "event_date")
    side.height = _num(frame, "height_cm")


class _Reports(_Side):
    """Everything about the reports that the passes need, as flat arrays."""

    def __init__(self, missing: pd.DataFrame, settings: CandidateSettings,
                 statistics: ReportStatistics | None = None):
        _set_person_arrays(self, missing, "missing_id")
        self.lon, self.lat = _report_places(missing)
        _set_trig(self)
        # birth-year bins a report's interval covers when narrow, else "unknown" (bin 0)
        width = self.year_high - self.year_low
        narrow = ~np.isnan(width) & (width <= 12)
        first = np.where(narrow, _bin(self.year_low), 0)
        last = np.where(narrow, _bin(self.year_high), 0)
        self.bin_count = (last - first + 1).astype(np.int64)
        self.bin_first = first

        # local: once indexed, the key sets are not needed (held, they raised the peak memory)
        key_sets = _ReportKeySets(missing)
        if statistics is None:
            statistics = _statistics(key_sets, settings, self.lon, self.lat, self.n)
        self.feature_codes = statistics.feature_codes
        self.feature_bits = _bitmask(key_sets["features"], self.feature_codes, self.n)
        # each pass's index, and for a pass that widens the residents' keys by nearness the centre
        # of each of its keys
        self.indexes, self.centres = {}, {}
        for candidate_pass in settings.passes:
            flat = _shared_keys(key_sets, candidate_pass, statistics.shares)
            self.indexes[candidate_pass.name] = self._index(flat, by_year=candidate_pass.year_window is not None)
            if candidate_pass.near_km is not None:
                self.centres[candidate_pass.name] = statistics.centres[candidate_pass.name]
        # for the caps' agreement bonus (:func:`_agreement`): the report's home as bits, its first
        # surname and the last syllable of its first given name (or 小名) as codes
        home_province, home_prefecture = _col(missing, "home_province"), _col(missing, "home_prefecture")
        self.home_bits = _key_bits(_flat(home_province), _code_bit(2), self.n)
        self.prefecture_bits = _key_bits(_flat(home_prefecture), _code_bit(4), self.n)
        self.area_vocabulary = statistics.area_vocabulary
        self.area_bits = _key_bits(_flat(_col(missing, "home_dialect_area")),
                                   lambda a: self.area_vocabulary.get_loc(a) % 63, self.n)
        first_surname, first_given = _first_key(key_sets["surname_sounds"]), _map_keys(_first_key(key_sets["given"]),
                                                                                        _last_syllable)
        self.surname_vocabulary = pd.Index(pd.unique(first_surname.keys), dtype=object)
        self.given_vocabulary = pd.Index(pd.unique(first_given.keys), dtype=object)
        self.surname_code = _first_codes(first_surname, self.surname_vocabulary, self.n)
        self.given_code = _first_codes(first_given, self.given_vocabulary, self.n)

    def _index(self, flat: _Flat, by_year: bool = True) -> _ReportIndex:
        # a key twice in a report (a prefecture given both as such and as a county's prefix) would
        # only propose the same pair twice: _ReportIndex drops such entries after its sort
        positions, _, codes, vocabulary = _coded(flat)
        if not by_year:
            return _ReportIndex(pd.Index(vocabulary), codes, positions)
        # each report once, under the first bin its birth years cover; the index remembers how many
        # bins further a report's interval reaches, and queries start that many bins lower
        # (:func:`_query`). Filed under every bin it covers instead, a report came once per bin a
        # query shared with it, and half the pairs expanded were repeats, sorted only to be dropped
        index = _ReportIndex(pd.Index(vocabulary), _composite(codes, self.sex[positions], self.bin_first[positions]),
                             positions)
        index.span = int(self.bin_count[positions].max()) - 1 if len(positions) else 0
        return index


class ReportStatistics(NamedTuple):
    """What the reports' side of the passes takes from all reports at once, so that a partition of
    the reports indexed with it (:func:`report_side`) proposes exactly the pairs the whole would
    for its reports: the mark features' bits (ranked by frequency; beyond 63 features bits are
    shared, so the ranking must be the whole's), each key's share for passes with
    ``max_key_share``, the centres of the keys of passes with ``near_km``, and the dialect areas'
    vocabulary (bits of the agreement bonus). Computed by :func:`report_statistics`."""

    feature_codes: dict[str, int]
    shares: dict[str, dict[str, float]]
    centres: dict[str, pd.DataFrame]
    area_vocabulary: pd.Index


_KEY_SET_COLUMNS = {
    "name_sounds": ("name_keys", "alias_keys"), "given_sounds": ("given_keys", "alias_keys"),
    "masked_names": ("name_norm",), "surname_sounds": ("surname_keys",),
    "home_clues": ("home_province", "home_prefecture", "home_county", "home_dialect_area"),
    "lost_prefectures": ("missing_prefecture", "missing_county", "home_prefecture"),
    "lost_provinces": ("home_province", "missing_county"), "marks": ("marks",), "mark_pairs": ("marks",),
    "conditions": ("conditions",),
    "home_conditions": ("home_province", "home_prefecture", "home_county", "home_dialect_area", "conditions"),
    "dated_clothing": ("clothing_items", "event_date")}


def statistics_columns(settings: CandidateSettings | None = None) -> list[str]:
    """The report columns :func:`report_statistics` reads (a reader of a large report table need
    load only these)."""
    settings = settings or CandidateSettings()
    columns = ["missing_id", "marks", "conditions", "home_dialect_area", "missing_lon", "missing_lat", "home_lon",
               "home_lat"]
    for candidate_pass in settings.passes:
        if candidate_pass.max_key_share is not None or candidate_pass.near_km is not None:
            key_set = candidate_pass.report_keys
            columns += [key_set[len(_COLUMN):]] if key_set.startswith(_COLUMN) else list(_KEY_SET_COLUMNS[key_set])
    return list(dict.fromkeys(columns))


def report_statistics(missing: pd.DataFrame, settings: CandidateSettings | None = None) -> ReportStatistics:
    """The :class:`ReportStatistics` of all reports ``missing`` (it needs only the columns
    :func:`statistics_columns` names): what :func:`report_side` of a partition of them takes to
    index the partition as the whole would."""
    settings = settings or CandidateSettings()
    lon, lat = _report_places(missing)
    return _statistics(_ReportKeySets(missing), settings, lon, lat, len(missing))


def _report_places(missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each report's place: where the person went missing, else the home."""
    lon, lat = _num(missing, "missing_lon"), _num(missing, "missing_lat")
    return (np.where(np.isnan(lon), _num(missing, "home_lon"), lon),
            np.where(np.isnan(lat), _num(missing, "home_lat"), lat))


def _statistics(key_sets: _ReportKeySets, settings: CandidateSettings, lon: np.ndarray, lat: np.ndarray,
                n: int) -> ReportStatistics:
    features = key_sets["features"]
    ranked = pd.Series(features.keys, dtype=object).value_counts().index if len(features.keys) else []
    shares: dict[str, dict[str, float]] = {}
    for candidate_pass in settings.passes:
        if candidate_pass.max_key_share is not None and candidate_pass.report_keys not in shares:
            shares[candidate_pass.report_keys] = _share(key_sets[candidate_pass.report_keys], n)
    centres = {p.name: _centres(_shared_keys(key_sets, p, shares), lon, lat)
               for p in settings.passes if p.near_km is not None}
    return ReportStatistics({k: i for i, k in enumerate(ranked)}, shares, centres,
                            pd.Index(pd.unique(key_sets["areas"].keys), dtype=object))


def _share(flat: _Flat, n: int) -> dict[str, float]:
    """Share of the ``n`` reports holding each key (keys held once per report)."""
    if len(flat.keys) == 0:
        return {}
    flat = _coded(flat)
    counts = np.bincount(flat.codes, minlength=len(flat.vocabulary))
    held = np.flatnonzero(counts)
    return dict(zip(flat.vocabulary[held].tolist(), (counts[held] / max(n, 1)).tolist(), strict=True))


def _shared_keys(key_sets: _ReportKeySets, candidate_pass: CandidatePass, shares: dict) -> _Flat:
    """The pass's report keys, less those held by ``max_key_share`` of the reports or more."""
    flat = key_sets[candidate_pass.report_keys]
    if candidate_pass.max_key_share is None:
        return flat
    share, top = shares[candidate_pass.report_keys], candidate_pass.max_key_share
    return _map_keys(flat, lambda k: k if share.get(k, 1.0) < top else None)


class _ReportKeySets(dict):
    """The reports' key sets (:data:`REPORT_KEY_SETS`, ``column:…``, and the parts they are made
    of), each built when first asked for and then kept."""

    def __init__(self, missing: pd.DataFrame):
        super().__init__()
        self.missing = missing

    def __contains__(self, name: object) -> bool:
        return name in REPORT_KEY_SETS or (isinstance(name, str) and name.startswith(_COLUMN)) or super().__contains__(
            name)

    def __missing__(self, name: str) -> _Flat:
        self[name] = flat = self._build(name)
        return flat

    def _build(self, name: str) -> _Flat:
        missing = self.missing
        if name.startswith(_COLUMN):
            return _flat(_col(missing, name[len(_COLUMN):]))
        if name == "alias":
            return _raw(_col(missing, "alias_keys"))
        if name == "name_sounds":
            return _flat(_col(missing, "name_keys"), self["alias"])
        if name == "given":
            return _flat(_col(missing, "given_keys"), self["alias"])
        if name == "given_sounds":
            # whole given names and 小名 (G:), and the last syllable of a longer one (L:) for 阿英 / 秀英
            given = self["given"]
            return _first_per_record(_concat(_map_keys(given, lambda k: f"G:{k}"),
                                             _map_keys(given, lambda k: f"L:{k.split()[-1]}" if " " in k else None)))
        if name == "masked_names":
            return _masked_flat(_col(missing, "name_norm"))
        if name == "surname_sounds":
            return _flat(_col(missing, "surname_keys"))
        if name == "home_clues":
            return _flat(_mapped_keys(_col(missing, "home_province"),
                                      lambda v: f"P{v}" if isinstance(v, str) and v else None),
                         _mapped_keys(_col(missing, "home_prefecture"),
                                      lambda v: f"C{v}" if isinstance(v, str) and v else None),
                         _mapped_keys(_col(missing, "home_county"),
                                      lambda v: f"C{v[:4]}00" if isinstance(v, str) and len(v) == 6 else None),
                         _mapped_keys(_col(missing, "home_dialect_area"),
                                      lambda v: f"A{v}" if isinstance(v, str) and v else None))
        if name == "lost_prefectures":
            # padded after the dedupe: a report whose missing prefecture and county prefix agree holds
            # that prefecture twice, which weighs it twice in the prefecture centres
            return _map_keys(_flat(_col(missing, "missing_prefecture"),
                                   _code_prefix(_col(missing, "missing_county"), 4), _col(missing, "home_prefecture")),
                             lambda p: p if len(p) == 6 else p + "00")
        if name == "all_marks":  # for the marks passes and the pre-score's features
            return _flat(_col(missing, "marks"))
        if name == "marks":
            return _sorted_per_record(_map_keys(self["all_marks"], _mark_key))
        if name == "mark_pairs":
            return _mark_pair_flat(self["marks"])
        if name == "lost_provinces":
            return _map_keys(_flat(_col(missing, "home_province"), _code_prefix(_col(missing, "missing_county"), 2)),
                             lambda p: p if len(p) == 6 else p + "0000")
        if name == "features":
            return _mark_features(self["all_marks"], _col(missing, "conditions"))
        if name == "areas":
            return _flat(_col(missing, "home_dialect_area"))
        if name == "conditions":
            return _flat(_col(missing, "conditions"))
        if name == "home_conditions":
            return _crossed(self["home_clues"], self["conditions"])
        if name == "dated_clothing":
            return _dated_clothing(_col(missing, "clothing_items"), _days(missing, "event_date"), 0)
        raise KeyError(name)


def _centres(flat: _Flat, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """Mean place of the reports holding each key (index ``key``, sorted; columns lon, lat).
    Grouped by integer codes: a frame holding the object keys is scanned by its constructor and
    hashed again by groupby. Pandas' group means, not bincount sums: a centre off in its last bit
    can move a place across the edge of ``near_km``."""
    flat = _coded(flat)
    lon, lat = lon[flat.positions], lat[flat.positions]
    rows = np.flatnonzero(~(np.isnan(lon) | np.isnan(lat)))
    vocabulary, rank = _sorted_vocabulary(flat)
    means = pd.DataFrame({"lon": lon[rows], "lat": lat[rows]}).groupby(rank[flat.codes[rows]]).mean()
    means.index = pd.Index(vocabulary[means.index.to_numpy()], dtype=object, name="key")
    return means


# ---------------------------------------------------------------------------------------------
# the resident side


class _Residents(_Side):
    """Everything about the residents that the passes need: flat arrays, and each pass's query keys
    as :class:`_Flat` (positions are resident positions)."""

    def __init__(self, residents: pd.DataFrame):
        _set_person_arrays(self, residents, "resident_id")
        self.lon, self.lat = _num(residents, "found_lon"), _num(residents, "found_lat")
        _set_trig(self)
        evidence = _col(residents, "name_evidence")
        self.name_evidence = np.array([True if v is None or (isinstance(v, float) and v != v) else bool(v)
                                       for v in evidence], dtype=bool)
        name_norm = _col(residents, "name_norm")
        # columns that go into several flats are flattened once
        name_keys, alias_keys, given_keys = (_raw(_col(residents, column))
                                             for column in ("name_keys", "alias_keys", "given_keys"))
        self.names = self._with_name(_flat(name_keys, alias_keys))
        # given-name, 小名 and whole-name keys as given-name queries (G:), plus the single syllable of a
        # partial name (阿英, 小宝) against reports' last given syllable (L:)
        given = _flat(given_keys, alias_keys, name_keys)
        self.givens = self._with_name(_first_per_record(_concat(
            _map_keys(given, lambda k: f"G:{k}"), _map_keys(given, lambda k: None if " " in k else f"L:{k}"))))
        self.masked = self._with_name(_masked_flat(name_norm))
        found_year = pd.to_datetime(pd.Series(self.day * 86400e9), errors="coerce").dt.year.to_numpy(dtype=float)
        age = found_year - (self.year_low + self.year_high) / 2
        # for the age-scaled year window (:func:`_window`); unknown: a middle age
        self.age = np.where(np.isnan(age), 40.0, np.clip(age, 0, 100))
        self.surnames = self._with_name(_flat(_col(residents, "surname_keys")))
        # 老薛 / 小黄: the given syllable as a surname query
        prefixed = np.array([isinstance(n, str) and len(n) == 2 and n[0] in "老小阿" for n in name_norm], dtype=bool)
        self.prefixed = _select(self._with_name(_flat(given_keys)), prefixed)
        provinces = _flat(_col(residents, "accent_provinces"))
        stated = _flat(_col(residents, "statement_places"))
        # a dialect area only when the accent named no province
        area = _map_values(_col(residents, "accent_area"), lambda v: f"A{v}" if isinstance(v, str) and v else None)
        area[np.bincount(provinces.positions, minlength=self.n) > 0] = None
        self.hometown = _first_per_record(_concat(
            _map_keys(provinces, lambda p: f"P{p}"),
            _map_keys(stated, lambda s: f"C{s[:4]}00" if len(s) == 6 else None),
            _map_keys(stated, lambda s: f"P{s[:2]}0000" if len(s) == 6 else None),
            _flat(area)))
        self.found_prefecture = _map_keys(_first_key(_flat(_col(residents, "found_prefecture"),
                                                           _code_prefix(_col(residents, "found_county"), 4))),
                                          lambda p: p if len(p) == 6 else p + "00")
        self.found_province = _map_keys(_first_key(_flat(_col(residents, "found_province"),
                                                          _code_prefix(_col(residents, "found_county"), 2))),
                                         lambda p: p if len(p) == 6 else p + "0000")
        self.marks = _sorted_per_record(_map_keys(_flat(_col(residents, "marks")), _mark_key))
        self.mark_pairs = _mark_pair_flat(self.marks)
        # little evidence: no usable name, and neither place clues nor marks
        clues = sum(np.bincount(f.positions, minlength=self.n) for f in (self.names, self.hometown, self.marks))
        self.little_evidence = clues == 0
        self.key_sets = {"name_sounds": self.names, "given_sounds": self.givens, "masked_names": self.masked,
                         "surname_sounds": self.surnames, "prefixed_surname": self.prefixed,
                         "home_clues": self.hometown, "found_prefecture": self.found_prefecture,
                         "found_province": self.found_province, "marks": self.marks, "mark_pairs": self.mark_pairs,
                         "conditions": _flat(_col(residents, "conditions"))}
        self.key_sets["home_conditions"] = _crossed(self.hometown, self.key_sets["conditions"])
        self.key_sets["dated_clothing"] = _dated_clothing(_col(residents, "clothing_items"), self.day, 1)

    def set_agreement(self, residents: pd.DataFrame, rep: _Reports) -> None:
        """The resident's side of :func:`_agreement`, coded as the reports' side is."""
        self.home_bits = _key_bits(_flat(_col(residents, "accent_provinces")), _code_bit(2), self.n)
        self.prefecture_bits = _key_bits(_flat(_col(residents, "statement_places")), _code_bit(4), self.n)
        known = set(rep.area_vocabulary)
        self.area_bits = _key_bits(_flat(_col(residents, "accent_area")),
                                   lambda a: rep.area_vocabulary.get_loc(a) % 63 if a in known else None, self.n)
        # 老薛 / 小黄 without a surname key: the given syllable stands for the surname
        self.surname_code = _first_codes(_concat(self.surnames, self.prefixed), rep.surname_vocabulary, self.n)
        given = self._with_name(_flat(_col(residents, "given_keys"), _col(residents, "alias_keys")))
        self.given_code = _first_codes(given, rep.given_vocabulary, self.n, rewrite=_last_syllable)

    def _with_name(self, flat: _Flat) -> _Flat:
        """Only residents whose name is evidence (not 无名氏, not an assigned 党X) query by name."""
        return _select(flat, self.name_evidence)


def _select(flat: _Flat, records: np.ndarray) -> _Flat:
    """The keys of the records where ``records`` (a boolean per record) is True."""
    return _take(flat, np.flatnonzero(records[flat.positions]))


def _first_key(flat: _Flat) -> _Flat:
    """Each record's first key only."""
    first = np.r_[True, flat.positions[1:] != flat.positions[:-1]] if len(flat.positions) else np.zeros(0, bool)
    return _take(flat, np.flatnonzero(first))


# ---------------------------------------------------------------------------------------------
# joining, filtering, pre-scoring and capping


def _near(res: _Residents, chunk: np.ndarray, own: _Flat, centres: pd.DataFrame, km: float) -> _Flat:
    """For the residents of ``chunk``: their own keys (``own``, for all residents) plus every key
    whose centre is within ``km`` of where they were found, each key once. One distance matrix for
    the chunk (chunk × centres) instead of one distance vector per resident."""
    mine = _select(own, np.isin(np.arange(res.n), chunk))
    if centres.empty or len(chunk) == 0:
        return mine
    lon, lat = res.lon[chunk], res.lat[chunk]
    centre_lon, centre_lat = centres["lon"].to_numpy(dtype=float), centres["lat"].to_numpy(dtype=float)
    if np.nanmax(np.abs(np.r_[lat, centre_lat, 0.0])) <= 90.0:
        # a great-circle distance is at least the arc of the latitude difference, so only the pairs
        # closer than ``km`` in latitude alone (plus a margin for rounding) are measured: at 150 km
        # most of the chunk × centres matrix is ruled out by one subtraction. Valid latitudes only:
        # beyond ±90° a cosine turns negative and the bound no longer holds
        reach = np.degrees(km / EARTH_RADIUS_KM) * (1 + 1e-9) + 1e-9
        rows, cols = np.nonzero(np.abs(lat[:, None] - centre_lat[None, :]) <= reach)
    else:
        rows, cols = np.divmod(np.arange(len(chunk) * len(centre_lat)), len(centre_lat))
    near = haversine_km(lon[rows], lat[rows], centre_lon[cols], centre_lat[cols]) <= km  # NaN is never near
    rows, cols = rows[near], cols[near]
    keys = centres.index.to_numpy(dtype=object)  # distinct: the centres' groups
    near = _Flat(chunk[rows].astype(np.int64), keys[cols], cols.astype(np.int64), keys)
    return _first_per_record(_concat(mine, near))


def _window(res: _Residents, r: np.ndarray, window: float, per_age: float) -> np.ndarray:
    """Years allowed beyond both birth-year intervals for residents ``r``: the pass's window plus
    ``per_age`` years per year of estimated age (``CandidateSettings.year_window_per_age``)."""
    return window + per_age * res.age.take(r)


class _Queries(NamedTuple):
    """One pass's query keys, coded against its report index: ``codes[i]`` (class ``classes[i]``)
    belongs to resident ``residents[i]``; residents ascend, ``offsets[r]:offsets[r + 1]`` are
    resident ``r``'s rows. Keys the reports never hold are dropped."""

    offsets: np.ndarray
    residents: np.ndarray
    codes: np.ndarray
    classes: np.ndarray


def _encode(flat: _Flat, index: _ReportIndex, n: int, classed: bool = True) -> _Queries:
    """Residents' query keys (``flat``, ``n`` residents) coded against a pass's report index.
    ``classed``: the keys carry their class as a prefix (the built key sets); otherwise (a column's
    keys, which may begin with any letter) every key is plain."""
    if flat.codes is not None:  # looked up once per distinct key
        codes = index.vocabulary.get_indexer(pd.Index(flat.vocabulary, dtype=object)).astype(np.int64)[flat.codes]
        classes = _key_classes(flat.vocabulary, classed)[flat.codes]
    else:
        codes = index.vocabulary.get_indexer(pd.Index(flat.keys, dtype=object)).astype(np.int64)
        classes = _key_classes(flat.keys, classed)
    keep = codes >= 0
    residents = flat.positions[keep]
    return _Queries(np.searchsorted(residents, np.arange(n + 1)), residents, codes[keep], classes[keep])


def _key_classes(keys: np.ndarray, classed: bool = True) -> np.ndarray:
    """Class of each key (index in :data:`KEY_CLASSES`) by its first character (keys are non-empty
    strings), compared as a numpy one-character array; all plain unless ``classed``."""
    classes = np.ones(len(keys), dtype=np.int64)
    if not classed:
        return classes
    first = keys.astype("U1")
    for prefix, key_class in _KEY_CLASS.items():
        classes[first == prefix] = key_class
    return classes


def _rows_of(queries: _Queries, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(resident, code, class) rows of the residents of ``chunk``."""
    starts = queries.offsets[chunk]
    rows = _ranges(starts, queries.offsets[chunk + 1] - starts)
    return queries.residents[rows], queries.codes[rows], queries.classes[rows]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``starts[0] … starts[0]+lengths[0]-1, starts[1] …`` concatenated, without a Python loop."""
    total = int(lengths.sum())
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total, dtype=np.int64)


def _query(res: _Residents, r_pos: np.ndarray, codes: np.ndarray, classes: np.ndarray, by_year: bool,
           window: float, per_age: float, span: int = 0,
           other_sex: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Composite key ranges for the (resident, key code, key class) rows → (resident position,
    lowest and highest composite key, key class). ``span``: the index's :attr:`_ReportIndex.span`.
    ``other_sex``: ask for the other recorded sex only (``CandidatePass.other_sex``)."""
    if not by_year or len(r_pos) == 0:
        return r_pos, codes, codes, classes
    if other_sex:
        return _other_sex_query(res, r_pos, codes, classes, window, per_age, span)
    # each resident asks for its own sex and "unknown", and for each of them the bins of its widened
    # interval plus "unknown" (a resident of unknown age asks for every bin). The bin is the last
    # part of the composite key, so a run of bins is one range: two ranges per sex, not one query
    # per bin. Reports are filed under their first bin only, so the range starts ``span`` bins
    # lower: a report whose interval meets the widened one starts at most that far below it. What
    # the range takes in beyond (intervals that end before it) the exact year window drops, as it
    # drops pairs whose bins meet but whose years do not: the pairs kept are the same
    sex = res.sex[r_pos].astype(np.int64)
    widen = _window(res, r_pos, window, per_age)
    unknown = np.isnan(res.year_low[r_pos])
    first_bins = np.where(unknown, 1, np.maximum(_bin(res.year_low[r_pos] - widen) - span, 1))
    last_bins = np.where(unknown, _N_BINS - 1, _bin(res.year_high[r_pos] + widen))
    n_sex = np.where(sex == 0, 3, 2)
    row = np.repeat(np.arange(len(r_pos)), 2 * n_sex)
    slot = np.arange(len(row), dtype=np.int64) - np.repeat(np.cumsum(2 * n_sex) - 2 * n_sex, 2 * n_sex)
    sex_slot, part = slot >> 1, slot & 1
    sexes = np.where(n_sex[row] == 3, sex_slot, np.where(sex_slot == 0, sex[row], 0))
    low_bins = np.where(part == 0, 0, first_bins[row])
    high_bins = np.where(part == 0, 0, last_bins[row])
    code = codes[row]
    return r_pos[row], _composite(code, sexes, low_bins), _composite(code, sexes, high_bins), classes[row]


def _other_sex_query(res: _Residents, r_pos: np.ndarray, codes: np.ndarray, classes: np.ndarray, window: float,
                     per_age: float, span: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_query`'s ranges for the reports of the other recorded sex only: the query of a
    resident of that sex less its "unknown sex" ranges (the pass of the resident's own sex asks for
    those); residents of unknown sex ask nothing."""
    known = np.flatnonzero(res.sex[r_pos] != 0)
    flipped = copy.copy(res)
    flipped.sex = np.where(res.sex == 0, 0, 3 - res.sex).astype(res.sex.dtype)
    q_r, low, high, q_class = _query(flipped, r_pos[known], codes[known], classes[known], True, window, per_age, span)
    asked = (low // _N_BINS) % _N_SEX == flipped.sex[q_r]  # drop the "unknown sex" ranges
    return q_r[asked], low[asked], high[asked], q_class[asked]


def _pass_cap(candidate_pass: CandidatePass, name_evidence: np.ndarray) -> int | np.ndarray:
    """A pass's cap for pairs whose residents have ``name_evidence`` (True: a usable name): its
    ``cap`` times ``named_factor`` or ``nameless_factor``; one number when both factors are 1."""
    cap = int(candidate_pass.cap)
    if candidate_pass.nameless_factor == 1 and candidate_pass.named_factor == 1:
        return cap
    return np.where(name_evidence, int(cap * candidate_pass.named_factor), int(cap * candidate_pass.nameless_factor))


def _report_bits(n_reports: int) -> int:
    """Bits a report position takes in a packed (resident, report) pair code."""
    return max(int(n_reports - 1).bit_length(), 1)


def _distinct_pairs(r_pos: np.ndarray, starts: np.ndarray, ends: np.ndarray, index: _ReportIndex,
                   classes: np.ndarray, n_reports: int):
    """The pairs of the query rows (resident ``r_pos`` meets the index entries ``starts`` …
    ``ends``), each once with the strongest key class that proposed it, sorted by resident then
    report: (residents, reports, classes).

    Each pair is packed into one code (resident, report, 3 - class) as it is expanded, sorted and
    deduped; shifts rather than multiplications, and a sort rather than ``np.unique`` (numpy 2's
    hash-based unique is ~50× slower on millions of int64). The resident is counted from the
    group's first one, so the code fits 32 bits whenever the group spans under 2**(30 - report
    bits) residents (512 at a million reports, so any default chunk): numpy sorts uint32 ~3× faster
    than int64, and this sort is the largest of a pass (the ranges overlap: a report in several
    birth-year bins of a query comes once per bin)."""
    if len(r_pos) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    shift = _report_bits(n_reports)
    lengths = ends - starts
    r0 = int(r_pos.min())
    narrow = (int(r_pos.max()) - r0).bit_length() + shift + 2 <= 32
    dtype = np.uint32 if narrow else np.int64
    entries = index.entries[_ranges(starts, lengths)]  # report << 2
    if entries.dtype != dtype:  # uint32 entries in a wide (int64) code: a group spanning many residents
        entries = entries.astype(dtype)
    row_code = (((r_pos - r0).astype(dtype) << shift) << 2) | (3 - classes).astype(dtype)
    values = np.sort(np.repeat(row_code, lengths) | entries)
    if len(values) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    pair = values >> 2
    first = np.empty(len(pair), dtype=bool)
    first[0] = True
    np.not_equal(pair[1:], pair[:-1], out=first[1:])
    # indices, then takes: one boolean mask applied to several arrays costs more than this
    values = values[np.flatnonzero(first)]
    pair = values >> 2
    return ((pair >> shift).astype(np.int64) + r0, (pair & ((1 << shift) - 1)).astype(np.int64),
            3 - (values & 3).astype(np.int64))


# per-pair gathers below are ``take``s: ~15-20% faster than indexing with an array, and the pre-score
# and filters are mostly gathers


def _constraints(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray, sex_checked: bool = False) -> np.ndarray:
    """True where the pair is possible: sexes agree when both known; found no earlier than missing
    (less the date tolerance). ``sex_checked``: the pairs come from a by-year index, whose queries
    ask only for the resident's own sex and "unknown" (so their sexes agree already), or for the
    other sex only in a pass with ``other_sex`` (which wants them to differ)."""
    gap_days = res.day.take(r) - rep.day.take(m)
    ok = ~(gap_days < -DATE_TOLERANCE_DAYS)
    if not sex_checked:
        sex_r, sex_m = res.sex.take(r), rep.sex.take(m)
        ok &= (sex_r == 0) | (sex_m == 0) | (sex_r == sex_m)
    return ok


def _year_gap(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.maximum(res.year_low.take(r) - rep.year_high.take(m),
                                      rep.year_low.take(m) - res.year_high.take(r)))


def _set_trig(side) -> None:
    """Radians and cosine of the latitude of each record's place, once per record for
    :func:`_distance_km` (per pair they were a third of the pre-score's time)."""
    side.lon_rad, side.lat_rad = np.radians(side.lon), np.radians(side.lat)
    side.cos_lat = np.cos(side.lat_rad)


def _distance_km(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``haversine_km(res.lon[r], res.lat[r], rep.lon[m], rep.lat[m])`` bit for bit (the same
    operations in the same order; a test holds them equal), from the per-record parts of
    :func:`_set_trig` instead of converting and taking cosines per pair."""
    return haversine_radians(res.lon_rad.take(r), res.lat_rad.take(r), res.cos_lat.take(r),
                             rep.lon_rad.take(m), rep.lat_rad.take(m), rep.cos_lat.take(m))


_LARGEST = np.finfo(float).max


def _nan_to(values: np.ndarray, nan: float) -> np.ndarray:
    """``np.nan_to_num(values, nan=nan)`` of a float array (±inf become ± the largest float, as
    there) in two passes, where nan_to_num makes six: the pre-score calls it four times per pair."""
    out = np.clip(values, -_LARGEST, _LARGEST)
    np.copyto(out, nan, where=np.isnan(out))
    return out


# The pre-score's terms: the birth-year gap in years (beyond both intervals); the height gap beyond
# 8 cm (a stated or guessed height is often that far off) in 5 cm; the distance in 300 km; the log of
# one plus the years lost; the number of shared mark types-and-parts and conditions. A blank counts
# as a middling value: neither kept first nor dropped first.
_HEIGHT_SLACK_CM, _CM_PER_UNIT, _KM_PER_UNIT = 8.0, 5.0, 300.0
_BLANK_YEAR_GAP, _BLANK_HEIGHT, _BLANK_DISTANCE, _BLANK_YEARS_LOST = 2.0, 0.5, 1.5, 2.0

PRESCORE_TERMS = ("year_gap", "height_gap", "distance", "years_lost", "shared_features")
"""The terms of :func:`prescore`, each weighted by ``CandidateSettings.prescore_weights``."""


HAND_PRESCORE_WEIGHTS = {"year_gap": -1.0, "height_gap": -1.0, "distance": -1.0, "years_lost": -0.5,
                         "shared_features": 1.0}
"""Weights set by hand so that one point is about as telling in each term: a year of birth-year
gap, 5 cm of height gap, 300 km, the log of one plus the years lost at half weight, one shared mark
or condition (so one shared mark outweighs 300 km). An option:
``CandidateSettings(prescore_weights=HAND_PRESCORE_WEIGHTS)``."""

FITTED_PRESCORE_WEIGHTS = {"year_gap": -0.2, "height_gap": -4.2, "distance": -1.5, "years_lost": -4.15,
                           "shared_features": 4.3}
"""The default weights, fitted to the simulator (``python bench/bench_quality.py --seeds 7 3
--condition-passes --fit-prescore``: a logistic regression of true against other pairs over every
pair the passes propose with no cap, 2,000 residents x 20,000 reports, coefficients doubled, so a
point is half a unit of log-odds). Within a year window the birth-year gap says little; time lost,
height and a shared mark say much, so the caps keep the pairs the model would rank high, most of all
for residents without a usable name (figures in bench/RESULTS.md). Together with
:data:`kinmatch.match.passes.CONDITION_PASSES` the model's fit went wrong, so those passes stay an
option."""


def _default_prescore_weights() -> dict[str, float]:
    return dict(FITTED_PRESCORE_WEIGHTS)


SEX_MISMATCH_POINTS = 30.0
"""What a recorded-sex mismatch costs a pair in the pre-score (only passes with ``any_sex``
propose such pairs): in a cap they share with pairs whose sexes agree, and in the union's cap,
they come only after every such pair (a pass's ``other_sex_cap`` keeps some of them apart)."""


def prescore(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray, far_ok: bool = False,
             gap: np.ndarray | None = None, far_km: float | None = None,
             weights: dict[str, float] | None = None) -> np.ndarray:
    """Cheap support score used only to choose which pairs to keep when a pass or the union is
    capped: the terms of :data:`PRESCORE_TERMS` (birth-year gap, height gap, distance, time lost,
    shared marks and conditions) weighted by ``weights`` (``CandidateSettings.prescore_weights``;
    None: the defaults), less :data:`SEX_MISMATCH_POINTS` where the recorded sexes differ.
    ``gap``: the pairs' :func:`_year_gap` when the caller has it already (the window filter
    computed it). ``far_ok``: the distance is not counted (pairs proposed because the accent or
    statements point to the report's home: the resident was found far from it by definition).
    ``far_km``: distances beyond it count as it (None: no limit)."""
    w = _default_prescore_weights() if weights is None else weights
    gap = _nan_to(_year_gap(res, rep, r, m) if gap is None else gap, _BLANK_YEAR_GAP)
    height = _nan_to(np.maximum(0.0, np.abs(res.height.take(r) - rep.height.take(m)) - _HEIGHT_SLACK_CM)
                     / _CM_PER_UNIT, _BLANK_HEIGHT)
    score = w["year_gap"] * gap + w["height_gap"] * height
    if not far_ok:
        distance = _nan_to(_distance_km(res, rep, r, m) / _KM_PER_UNIT, _BLANK_DISTANCE)
        if far_km is not None:
            np.minimum(distance, far_km / _KM_PER_UNIT, out=distance)
        score += w["distance"] * distance
    years = _nan_to(np.maximum(res.day.take(r) - rep.day.take(m), 0) / 365.25, _BLANK_YEARS_LOST)
    score += w["years_lost"] * np.log1p(years)
    shared = np.bitwise_count(res.feature_bits.take(r) & rep.feature_bits.take(m))
    score += w["shared_features"] * shared
    sex_r, sex_m = res.sex.take(r), rep.sex.take(m)
    other_sex = (sex_r != 0) & (sex_m != 0) & (sex_r != sex_m)
    return score - SEX_MISMATCH_POINTS * other_sex


# a dialect area spans several provinces and a stated prefecture may be where the resident once
# worked rather than home: either counts half of an accent province meeting the report's home
_WEAK_HOME = 0.5


def _agreement(res: _Residents, rep: _Reports, r: np.ndarray, m: np.ndarray, settings: CandidateSettings,
               clues: tuple[str, ...] = ("home", "name")) -> np.ndarray:
    """Bonus, when a pass's cap chooses among a resident's pairs, for evidence beyond the pass's own
    key (``clues``, see :data:`kinmatch.match.passes.SECOND_CLUES`): ``home_bonus`` when an accent
    province is the report's home province (half when only the dialect area or a stated
    prefecture meets its home), ``name_bonus`` each for the surname and for the last given
    syllable meeting the report's first ones.

    Why: at 10k × 1M a pass's key alone is shared by thousands of reports (the given-name sound
    秀英, the surname of 老张, an accent province, a mole on the face), and the plain pre-score
    (age, height, distance, time) cannot tell the true report among them; two independent clues
    meeting at once can. A pair the cap drops here is lost for good."""
    home_bonus = settings.home_bonus if "home" in clues else 0
    name_bonus = settings.name_bonus if "name" in clues else 0
    if home_bonus == 0 and name_bonus == 0:
        return np.zeros(len(r))
    province = (res.home_bits.take(r) & rep.home_bits.take(m)) != 0
    weak = ((res.area_bits.take(r) & rep.area_bits.take(m)) != 0) \
        | ((res.prefecture_bits.take(r) & rep.prefecture_bits.take(m)) != 0)
    home = np.where(province, 1.0, np.where(weak, _WEAK_HOME, 0.0))
    surname, given = res.surname_code.take(r), res.given_code.take(r)
    names = ((surname >= 0) & (surname == rep.surname_code.take(m))).astype(float) \
        + ((given >= 0) & (given == rep.given_code.take(m)))
    return home_bonus * home + name_bonus * names


def _sortable(values: np.ndarray) -> np.ndarray:
    """int64 keys that sort as the floats do (no NaN): the IEEE bit pattern, negatives' magnitude
    bits flipped; ``+ 0.0`` first so -0.0 ties with 0.0 as it compares. Sorting these is ~2× faster
    than sorting the floats in ``np.lexsort``."""
    bits = (np.asarray(values, dtype=float) + 0.0).view(np.int64)
    return bits ^ ((bits >> 63) & np.int64(0x7FFF_FFFF_FFFF_FFFF))


def _best_first(run: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Order of the rows by ``run`` (ascending, rows already grouped by it), then ``score``
    descending, ties in row order: ``np.lexsort((-score, run))``.

    One value sort of packed (run, top 32 bits of the score, row within the run) codes, then an
    exact order of only the rows that share their run's coarse score: a stable argsort of 64-bit
    keys (what lexsort and :func:`_order_within` do) is a merge sort, ~5× slower than numpy's
    vectorized value sort."""
    n = len(run)
    fine = _sortable(-score)  # ascending = best first
    if n == 0:
        return np.empty(0, np.int64)
    starts, sizes = _runs(run)
    within_bits, run_bits = int(sizes.max() - 1).bit_length(), int(len(starts) - 1).bit_length()
    if run_bits + 32 + within_bits > 63:
        return _order_within(run, fine)
    within = np.arange(n, dtype=np.int64) - np.repeat(starts, sizes)
    coarse = (fine >> 32) + 2**31  # order-preserving, 0 … 2**32 - 1
    run_of = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    packed = np.sort((run_of << (32 + within_bits)) | (coarse << within_bits) | within)
    key = packed >> within_bits
    order = (packed & ((1 << within_bits) - 1)) + starts[key >> 32]
    # rows of a run sharing a coarse score lie together, in row order: order them by the exact score
    same = key[1:] == key[:-1]
    if same.any():
        tied = np.zeros(n, dtype=bool)
        tied[:-1] = same
        tied[1:] |= same
        at = np.flatnonzero(tied)
        group = np.cumsum(np.r_[True, key[at[1:]] != key[at[:-1]]])
        rows = order[at]
        order[at] = rows[_order_within(group, fine[rows])]
    return order


def _order_within(run: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Order of the rows by ``run`` then int ``key`` ascending, ties in row order, as two stable sorts
    (the run numbers fit 16 bits in a chunk, which numpy radix-sorts)."""
    order = np.argsort(key, kind="stable")
    run = run[order]
    if len(run) and run.max() < 2**16:
        run = run.astype(np.uint16)
    return order[np.argsort(run, kind="stable")]


def _runs(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of each run of equal values in ``r``."""
    starts = np.r_[0, np.flatnonzero(r[1:] != r[:-1]) + 1] if len(r) else np.empty(0, np.int64)
    return starts, np.diff(np.r_[starts, len(r)])


def _cap(r: np.ndarray, cap, score_of) -> np.ndarray:
    """Indices of the best ``cap`` pairs per resident, in input order. The pairs must be sorted by
    resident then report (as :func:`_distinct_pairs` leaves them), so ties are broken by report position
    and the result does not depend on chunking. ``cap`` is a number or an array of per-pair caps (the
    same for all pairs of a resident); ``score_of(rows)`` gives the scores of those rows.

    Most residents have fewer pairs than the cap and keep them all: only the pairs of residents over
    it are scored. Those are not fully sorted (at 10k x 1M a pass proposes tens of millions of
    pairs): one fast value sort of (resident, top 32 bits of the score) finds each resident's
    cap-th best coarse score; pairs above it are kept, below it dropped, and only the few pairs that
    share it are ordered exactly."""
    if len(r) == 0:
        return np.empty(0, np.int64)
    starts, sizes = _runs(r)
    resident_cap = cap[starts] if isinstance(cap, np.ndarray) else np.full(len(starts), cap)
    over = sizes > resident_cap
    if not over.any():
        return np.arange(len(r))
    rows = _ranges(starts[over], sizes[over])
    n_runs, run_sizes, run_caps = int(over.sum()), sizes[over], resident_cap[over]
    run = np.repeat(np.arange(n_runs, dtype=np.int64), run_sizes)
    fine = _sortable(-score_of(rows))  # ascending = best first
    coarse = (fine >> 32) + 2**31  # order-preserving, 0 … 2**32 - 1
    packed = np.sort((run << 32) | coarse)
    run_starts = np.cumsum(run_sizes) - run_sizes
    # a resident capped at 0 keeps none: its threshold 0 keeps nothing above it, and no room is left
    threshold = np.where(run_caps > 0, packed[run_starts + np.maximum(run_caps, 1) - 1] & 0xFFFF_FFFF, 0)[run]
    keep = coarse < threshold
    tied = np.flatnonzero(coarse == threshold)
    # the tied pairs fill what is left of each resident's cap, best first, then by report
    left = run_caps - np.bincount(run[keep], minlength=n_runs)
    order = tied[_order_within(run[tied], fine[tied])]
    tied_runs, tied_sizes = _runs(run[order])
    rank = np.arange(len(order)) - np.repeat(tied_runs, tied_sizes)
    keep[order[rank < left[run[order]]]] = True
    out = np.ones(len(r), dtype=bool)
    out[rows[~keep]] = False
    return np.flatnonzero(out)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy 2's hash-based unique is ~50× slower on millions of int64."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


KERNEL_MIN_PAIRS = 2_000_000
"""A pass whose query ranges hold at least this many entries (pairs before the dedupe) is run by
the compiled kernel (:mod:`kinmatch.match._kernels`) when numba can be imported and the run is
large (:data:`KERNEL_MIN_PRODUCT`); other passes, and every pass without numba, by numpy. The
answers are the same either way (a test holds them so). Why: the kernel takes 0.4-0.9 s to load
from numba's cache once per process (its first compile on a machine 11-19 s), and it saves about
half of numpy's ~140 ns per entry, so it pays from several million entries in a process. Figures
in ``bench/RESULTS.md``."""

KERNEL_MIN_PRODUCT = 200_000_000
"""Residents × reports of a call from which its passes may use the kernel: a range of 500
residents against a million reports (the standing index's lookup) does, 2,000 × 20,000 does not
(there a few passes reach :data:`KERNEL_MIN_PAIRS`, and loading numba cost more than they saved).
A small link and ``import kinmatch`` never import numba."""


def prepare_kernel(reports: Any) -> None:
    """Lay out :func:`report_side`'s ``reports`` for the compiled kernel now (as it would on its
    first pass): called before worker processes fork, they share the one layout (112 bytes a
    report) instead of each making its own; :func:`kinmatch.match._packing.release` forgets it once
    they are done. Does nothing without numba or with ``KINMATCH_KERNEL=0``; numba itself is not
    imported here (the workers load the kernel)."""
    from kinmatch.match._packing import kernel_allowed, pack

    if kernel_allowed():
        pack(reports)


def _kernel_survivors(candidate_pass: CandidatePass, res: _Residents, rep: _Reports, index: _ReportIndex,
                      q_r: np.ndarray, starts: np.ndarray, ends: np.ndarray, q_class: np.ndarray,
                      settings: CandidateSettings, class_scores: np.ndarray, far_ok: bool,
                      far_km: float | None) -> tuple | None:
    """:func:`kinmatch.match._kernels.pass_survivors` of one pass's query ranges, or None when the
    kernel cannot run (no numba): a superset of the pairs the pass's cap keeps, by resident then
    report, and the pass's counts over all its pairs."""
    weights = np.array([float(settings.prescore_weights[term]) for term in PRESCORE_TERMS])
    bonuses = (settings.home_bonus if "home" in candidate_pass.second_clues else 0.0,
               settings.name_bonus if "name" in candidate_pass.second_clues else 0.0)
    if not (np.isfinite(weights).all() and np.isfinite(class_scores).all() and np.isfinite(bonuses).all()):
        return None
    from kinmatch.match import _kernels

    res_cap = _pass_cap(candidate_pass, res.name_evidence)
    if not isinstance(res_cap, np.ndarray):
        res_cap = np.full(res.n, res_cap, dtype=np.int64)
    by_year = candidate_pass.year_window is not None
    return _kernels.pass_survivors(
        q_r, starts, ends, q_class, index.entries, res, rep, res_cap, by_year=by_year,
        window=float(candidate_pass.year_window or 0.0), per_age=float(settings.year_window_per_age),
        sex_checked=by_year or candidate_pass.any_sex, tolerance=float(DATE_TOLERANCE_DAYS),
        other_cap=None if candidate_pass.other_sex_cap is None else int(candidate_pass.other_sex_cap),
        far_ok=far_ok, far_units=np.inf if far_km is None else far_km / _KM_PER_UNIT, weights=weights,
        class_scores=np.asarray(class_scores, dtype=float), home_bonus=float(bonuses[0]),
        name_bonus=float(bonuses[1]),
        blanks=np.array([_BLANK_YEAR_GAP, _BLANK_HEIGHT, _BLANK_DISTANCE, _BLANK_YEARS_LOST]),
        units=np.array([_HEIGHT_SLACK_CM, _CM_PER_UNIT, _KM_PER_UNIT, EARTH_RADIUS_KM, SEX_MISMATCH_POINTS,
                        _WEAK_HOME]))


def _run_pass(candidate_pass: CandidatePass, res: _Residents, rep: _Reports, rows: tuple,
              settings: CandidateSettings, counts: dict, class_scores: np.ndarray, kept_scores: list | None = None):
    """One pass for the query ``rows`` (resident, key code, key class; residents ascending) →
    (resident, report) positions of the pairs kept. ``kept_scores``: a list to which the scores the
    cap ranked the kept pairs by are appended (in the order of the pairs)."""
    name, window = candidate_pass.name, candidate_pass.year_window
    by_year = window is not None
    index = rep.indexes[name]
    q_r, q_low, q_high, q_class = _query(res, *rows, by_year, window, settings.year_window_per_age, index.span,
                                         candidate_pass.other_sex)
    if len(q_r) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts, ends = index.ranges(q_low, q_high)
    # expand in groups of residents so a chunk with very common keys stays within memory
    run_starts = np.r_[0, np.flatnonzero(q_r[1:] != q_r[:-1]) + 1]
    per_resident = np.add.reduceat(ends - starts, run_starts)
    group_of = np.cumsum(per_resident) // max(settings.max_pairs_in_memory, 1)
    if group_of[-1] == group_of[0]:
        groups = [slice(None)]
    else:
        group_of_row = np.repeat(group_of, np.diff(np.r_[run_starts, len(q_r)]))
        groups = [group_of_row == g for g in _sorted_unique(group_of)]
    far_ok = candidate_pass.distance == "ignored"
    far_km = None if candidate_pass.distance == "full" else settings.cap_far_km
    survivors = None
    if res.n * rep.n >= KERNEL_MIN_PRODUCT and int(np.sum(ends - starts)) >= KERNEL_MIN_PAIRS:
        survivors = _kernel_survivors(candidate_pass, res, rep, index, q_r, starts, ends, q_class, settings,
                                      class_scores, far_ok, far_km)
    if survivors is not None:  # the kernel expanded, filtered and pre-capped every pair at once
        groups = [slice(None)]
    kept_r, kept_m = [], []
    for sel in groups:
        if survivors is not None:
            r, m, classes, proposed, removed, allowed = survivors
            counts[name]["proposed"] += int(proposed)
            counts[name]["removed_by_constraints"] += int(removed)
            gap = _year_gap(res, rep, r, m) if by_year else None
        else:
            r, m, classes = _distinct_pairs(q_r[sel], starts[sel], ends[sel], index, q_class[sel], rep.n)
            ok = _constraints(res, rep, r, m, sex_checked=by_year or candidate_pass.any_sex)
            gap = None
            if by_year:
                gap = _year_gap(res, rep, r, m)
                in_window = ~(gap > _window(res, r, window, settings.year_window_per_age))  # NaN (unknown year) stays
                counts[name]["proposed"] += int(np.count_nonzero(in_window))
                counts[name]["removed_by_constraints"] += int(np.count_nonzero(in_window & ~ok))
                ok &= in_window
            else:
                counts[name]["proposed"] += len(r)
                counts[name]["removed_by_constraints"] += len(r) - int(np.count_nonzero(ok))
            # one index array taken from three arrays: cheaper than three boolean masks
            rows = np.flatnonzero(ok)
            r, m, classes = r[rows], m[rows], classes[rows]
            gap = gap[rows] if gap is not None else None
            allowed = len(r)

        def scorer(r, m, classes, gap):
            """The cap's score of the pairs ``chosen`` of (r, m, classes, gap)."""
            def score(chosen):
                return (prescore(res, rep, r[chosen], m[chosen], far_ok=far_ok,
                                 gap=None if gap is None else gap[chosen], far_km=far_km,
                                 weights=settings.prescore_weights)
                        + class_scores[classes[chosen]]
                        + _agreement(res, rep, r[chosen], m[chosen], settings, candidate_pass.second_clues))
            return score

        score_of = scorer(r, m, classes, gap)
        if candidate_pass.min_score is not None and len(r):
            # below the pass's least score a pair is not kept whatever the cap (the kernel's pre-cap
            # kept each resident's best by this very score, so filtering its survivors is exact)
            rows = np.flatnonzero(~(score_of(np.arange(len(r))) < candidate_pass.min_score))
            r, m, classes = r[rows], m[rows], classes[rows]
            gap = gap[rows] if gap is not None else None
            score_of = scorer(r, m, classes, gap)
        cap = _pass_cap(candidate_pass, res.name_evidence[r])

        if candidate_pass.other_sex_cap is None:
            keep = _cap(r, cap, score_of)
        else:  # the pairs whose recorded sexes differ capped apart
            sex_r, sex_m = res.sex.take(r), rep.sex.take(m)
            other = (sex_r != 0) & (sex_m != 0) & (sex_r != sex_m)
            keep = []
            parts = ((np.flatnonzero(~other), cap), (np.flatnonzero(other), candidate_pass.other_sex_cap))
            for part, part_cap in parts:
                part_cap = part_cap[part] if isinstance(part_cap, np.ndarray) else int(part_cap)
                keep.append(part[_cap(r[part], part_cap,
                                      lambda rows, part=part, score_of=score_of: score_of(part[rows]))])
            keep = np.sort(np.concatenate(keep))
        counts[name]["capped"] += allowed - len(keep)
        if kept_scores is not None:
            kept_scores.append(score_of(keep))
        kept_r.append(r[keep])
        kept_m.append(m[keep])
    r, m = np.concatenate(kept_r), np.concatenate(kept_m)
    counts[name]["kept"] += len(r)
    return r, m


def candidate_pairs(residents: pd.DataFrame, missing: pd.DataFrame, settings: CandidateSettings | None = None,
                    progress: bool = True, **overrides: Any) -> Candidates:
    """Union of all passes for normalized residents × normalized reports.

    ``overrides`` set fields of :class:`CandidateSettings` (``chunk_size=200``,
    ``max_per_resident=300``…; a pass's own fields through ``settings.with_pass``). Returns
    :class:`Candidates` (``pairs`` sorted by resident then support, and the per-pass ``counts``
    table).

        >>> import pandas as pd
        >>> residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["F"],
        ...                           "name_keys": [("wu chun hua", "hu chun hua")], "name_evidence": [True]})
        >>> missing = pd.DataFrame({"missing_id": ["M1", "M2"], "sex_code": ["F", "F"],
        ...                         "name_keys": [("hu chun hua",), ("li wei",)]})
        >>> result = candidate_pairs(residents, missing, progress=False)
        >>> result.pairs[["resident_id", "missing_id", "passes"]].values.tolist()
        [['R1', 'M1', 'name_sound']]
    """
    return packed_candidate_pairs(residents, missing, settings, progress, **overrides).unpack()


def report_side(missing: pd.DataFrame, settings: CandidateSettings | None = None,
                statistics: ReportStatistics | None = None) -> Any:
    """The reports' side of the passes (their keys indexed), for :func:`packed_candidate_pairs`'s
    ``reports``: built once when many chunks of residents meet the same reports (issue 14).
    ``statistics``: :func:`report_statistics` of all reports when ``missing`` is a partition of
    them (None: ``missing`` are all the reports)."""
    return _Reports(missing, settings or CandidateSettings(), statistics)


def pair_sides(residents: pd.DataFrame, missing: pd.DataFrame, settings: CandidateSettings | None = None,
               reports: Any = None) -> tuple[Any, Any]:
    """(residents' side, reports' side) as the passes read them: what :func:`prescore` takes, with
    ``position(ids)`` giving the positions of ids on either side (for a bench that scores given
    pairs). ``reports``: :func:`report_side`'s, when built already."""
    rep = _Reports(missing, settings or CandidateSettings()) if reports is None else reports
    res = _Residents(residents)
    res.feature_bits = _bitmask(_mark_features(_col(residents, "marks"), _col(residents, "conditions")),
                                rep.feature_codes, res.n)
    res.set_agreement(residents, rep)
    return res, rep


def report_side_of(reports: Any, missing_ids: Any) -> Any:
    """A copy of :func:`report_side`'s ``reports`` whose indexes hold only the reports
    ``missing_ids``: everything else (the key centres of the passes that widen by nearness, the key
    shares, the pre-score's arrays) is that of all the reports. A query against it proposes exactly
    the pairs with these reports that the full side proposes, so asking whether the passes propose
    known true pairs with every cap lifted costs a few pairs per resident, not millions
    (``bench/bench_quality.py``)."""
    keep = np.isin(reports.ids, np.asarray(list(missing_ids), dtype=object).astype(str))
    out = copy.copy(reports)
    out.indexes = {name: index.only(keep) for name, index in reports.indexes.items()}
    return out


def report_side_state(reports: Any) -> dict[str, Any]:
    """What :func:`report_side` built, as plain data — numpy arrays, pandas indexes and frames,
    numbers, text and dicts of them — for a standing index to store (:mod:`kinmatch.index.side`);
    :func:`report_side_from_state` restores it."""
    state = dict(vars(reports))
    state["indexes"] = {name: dict(vars(index)) for name, index in reports.indexes.items()}
    return state


def report_side_from_state(state: dict[str, Any]) -> Any:
    """The report side :func:`report_side_state` described."""
    reports = _Reports.__new__(_Reports)
    vars(reports).update(state)
    reports.indexes = {}
    for name, values in state["indexes"].items():
        index = _ReportIndex.__new__(_ReportIndex)
        vars(index).update(values)
        reports.indexes[name] = index
    return reports


def packed_candidate_pairs(residents: pd.DataFrame, missing: pd.DataFrame, settings: CandidateSettings | None = None,
                           progress: bool = True, reports: Any = None, n_jobs: int | None = None,
                           ids: bool = True, **overrides: Any) -> PackedCandidates:
    """:func:`candidate_pairs` as :class:`PackedCandidates` (integer arrays, cheap to pickle): for
    a worker process whose result goes back to its parent; the parent calls ``.unpack()``.
    ``reports``: what :func:`report_side` gave for ``missing`` and the same settings (None: built here;
    when given, ``missing`` itself is not read and may be None). ``n_jobs``: at most this many
    processes for a large run's chunks (None: the CPUs this process may use; 1: this process only).
    ``ids`` False: no ids travel (``resident_ids`` and ``missing_ids`` are None) and ``reports``
    are the reports' positions in ``missing`` (or ``reports``), as ``residents`` are the residents'
    positions, for a parent that holds both frames: it sets the ids (``_replace``) before
    ``unpack()``, and has the pairs' record positions without looking the ids up.

        >>> import pandas as pd
        >>> residents = pd.DataFrame({"resident_id": ["R1"], "sex_code": ["F"], "name_keys": [("li wei",)]})
        >>> missing = pd.DataFrame({"missing_id": ["M1"], "sex_code": ["F"], "name_keys": [("li wei",)]})
        >>> packed_candidate_pairs(residents, missing, progress=False).unpack().pairs["missing_id"].tolist()
        ['M1']
    """
    run = ChunkedCandidates(residents, missing, settings, reports, **overrides)
    settings, res, rep = run.settings, run.res, run.rep
    jobs = _chunk_jobs(run.n_chunks, res.n, rep.n, n_jobs)
    parts = []
    if jobs > 1:  # the chunks over forked workers; their pairs in chunk order and their counts added
        from kinmatch._parallel import fork_map
        from kinmatch.match._packing import release

        if res.n * rep.n >= KERNEL_MIN_PRODUCT:
            prepare_kernel(rep)  # laid out once, shared by the workers
        try:
            parts = fork_map(_chunk_task, run.chunks, jobs, shared=(res, rep, residents, run.queries, settings))
        finally:  # the layout only served the workers
            release(rep)
    else:
        iterator = range(run.n_chunks)
        if progress and run.n_chunks:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc="candidates", unit="chunk", leave=False)
        parts = [run.chunk(number) for number in iterator]
    return pack_chunks(parts, settings, run if ids else None)


class ChunkedCandidates:
    """:func:`packed_candidate_pairs` step by step, so that two processes can share its chunks of
    residents: the two sides and the residents' query keys, made once (``settings``, ``res``,
    ``rep``, ``queries``, ``chunks``); :meth:`chunk` the pairs of one chunk; :func:`pack_chunks`
    the chunks' pairs in their order. The chunks need nothing from each other, so which process
    runs which changes nothing. :meth:`state` is what another process needs to run chunks too
    (:meth:`from_state`), without the residents' frame, which it holds already.
    ``settings``, ``reports`` and ``overrides`` as :func:`packed_candidate_pairs` takes them."""

    def __init__(self, residents: pd.DataFrame, missing: pd.DataFrame, settings: CandidateSettings | None = None,
                 reports: Any = None, **overrides: Any):
        settings = settings or CandidateSettings()
        known = {f.name for f in fields(CandidateSettings)}
        for key in overrides:
            if key not in known:
                raise TypeError(f"candidate_pairs: unknown setting {key!r}; the settings are {sorted(known)} (a "
                                f"pass's cap, window or keys are changed with settings.with_pass(name, cap=…))")
        self.settings = replace(settings, **overrides)  # a copy: the caller's settings stay as they were
        self.residents = residents
        self.res, self.rep = pair_sides(residents, missing, self.settings, reports)
        # every resident's query keys coded once (a resident has a few dozen keys at most); a pass
        # that widens them by nearness codes them per chunk
        self.queries = {p.name: _encode(_key_set(self.res.key_sets, p.resident_keys, residents),
                                        self.rep.indexes[p.name], self.res.n,
                                        classed=not p.resident_keys.startswith(_COLUMN))
                        for p in self.settings.passes if p.near_km is None}
        size = self.settings.chunk_size
        self.chunks = [np.arange(s, min(s + size, self.res.n)) for s in range(0, self.res.n, size)]

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)

    def chunk(self, number: int) -> tuple[tuple, dict]:
        """The pairs of chunk ``number`` (resident, report, pass bits, pre-score; positions as int32)
        and its counts."""
        counts = _empty_counts(self.settings)
        pairs = _chunk_pairs(self.res, self.rep, self.residents, self.queries, self.chunks[number], self.settings,
                             counts)
        return _narrow(*pairs), counts

    def state(self) -> dict[str, Any]:
        """What :meth:`from_state` takes: what the chunks read. Left out: the residents' frame (the
        other process holds it), the reports' ids and the key vocabularies of the passes that do
        not widen the residents' keys by nearness (their queries are coded already): object
        arrays, pickled an element at a time, most of the time of sending the rest."""
        rep = copy.copy(self.rep)
        rep.ids, rep.indexes = None, dict(rep.indexes)
        for candidate_pass in self.settings.passes:
            if candidate_pass.near_km is None:
                rep.indexes[candidate_pass.name] = index = copy.copy(rep.indexes[candidate_pass.name])
                index.vocabulary = None
        return {name: value for name, value in vars(self).items() if name != "residents"} | {"rep": rep}

    @classmethod
    def from_state(cls, state: dict[str, Any], residents: pd.DataFrame) -> ChunkedCandidates:
        """The run :meth:`state` described, for the same ``residents``."""
        run = cls.__new__(cls)
        vars(run).update(state, residents=residents)
        return run


def pack_chunks(parts: list[tuple[tuple, dict]], settings: CandidateSettings,
                sides: ChunkedCandidates | None = None) -> PackedCandidates:
    """The :class:`PackedCandidates` of the chunks' ``parts`` (what :meth:`ChunkedCandidates.chunk`
    gave, in the order of the chunks): their pairs joined, their counts added. ``sides``: the run
    (not one restored from its state), for the ids; None: as ``ids=False`` gives them
    (:func:`packed_candidate_pairs`)."""
    passes = settings.passes
    counts = _empty_counts(settings)
    for _, part_counts in parts:
        for name, values in part_counts.items():
            for key, value in values.items():
                counts[name][key] += value
    count_table = pd.DataFrame.from_dict(counts, orient="index").rename_axis("pass").reset_index()
    # one frame at the end (in unpack), from the chunks' integer arrays: a frame per chunk and
    # their concat cost more than the whole union step of a chunk
    if parts:
        r, m, pass_bits, score = (np.concatenate(arrays) for arrays in zip(*(part for part, _ in parts), strict=True))
        del parts
    else:  # no residents
        r, m, score = np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0)
        pass_bits = np.zeros((0, _pass_bytes(len(passes))), dtype=np.uint8)
    names = tuple(p.name for p in passes)
    if sides is None:
        return PackedCandidates(None, None, r, m, pass_bits, score, count_table, names)
    # only the reports that have a pair travel (a million ids pickled cost more than their pairs)
    used = np.zeros(sides.rep.n, dtype=bool)
    used[m] = True
    code = (np.cumsum(used) - 1).astype(np.int32)
    return PackedCandidates(sides.res.ids, sides.rep.ids[used], r, code[m], pass_bits, score, count_table, names)


POOL_MIN_PRODUCT = 1_000_000_000
"""Residents × reports from which :func:`packed_candidate_pairs` spreads its chunks of residents
over forked worker processes (one per CPU it may use), when it runs in a main process with no
other thread (a worker of :mod:`kinmatch._parallel`, a Dask worker or a process with threads keeps
them in-process).
At 10,000 × 1,000,000 the candidates took 111 s of one core; the chunks need nothing from each
other and the workers share the report side, so two cores take about half. Below it the pool's
start costs more than it saves."""


def _chunk_jobs(n_chunks: int, n_residents: int, n_reports: int, n_jobs: int | None = None) -> int:
    """Worker processes for the chunks (1: in-process), at most ``n_jobs`` (None: the CPUs)."""
    import multiprocessing
    import threading

    from kinmatch._parallel import resolve_jobs, shared

    if n_chunks < 2 or n_residents * n_reports < POOL_MIN_PRODUCT:
        return 1
    # in a worker already (a pool's, or fork_call's, which holds what its parent shared), or beside
    # threads that a fork would not copy: the chunks stay in this process
    if multiprocessing.current_process().daemon or shared() is not None or threading.active_count() > 1:
        return 1
    return min(resolve_jobs(n_jobs), n_chunks)


def _narrow(r: np.ndarray, m: np.ndarray, pass_bits: np.ndarray, score: np.ndarray) -> tuple:
    # kept narrow (positions as int32, pass bits as bytes) while the other chunks run
    return r.astype(np.int32), m.astype(np.int32), pass_bits, score


def _chunk_task(chunk: np.ndarray) -> tuple[tuple, dict]:
    """One chunk's pairs (:func:`_narrow`) and counts, in a worker of :func:`packed_candidate_pairs`."""
    from kinmatch._parallel import shared

    res, rep, residents, queries, settings = shared()
    counts = _empty_counts(settings)
    return _narrow(*_chunk_pairs(res, rep, residents, queries, chunk, settings, counts)), counts


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({"resident_id": pd.Series(dtype=str), "missing_id": pd.Series(dtype=str),
                         "passes": pd.Series(dtype=str), "prescore": pd.Series(dtype=float)})


def _pass_bytes(n_passes: int) -> int:
    """Bytes a row of pass bits takes: one bit a pass."""
    return max((n_passes + 7) // 8, 1)


def _pass_rows(res: _Residents, rep: _Reports, residents: pd.DataFrame, candidate_pass: CandidatePass,
               queries: dict, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (resident, key code, key class) query rows of one pass for the residents ``targets``."""
    if candidate_pass.near_km is None:
        return _rows_of(queries[candidate_pass.name], targets)
    own = _key_set(res.key_sets, candidate_pass.resident_keys, residents)
    centres = rep.centres[candidate_pass.name]
    near = _near(res, targets, own, centres, candidate_pass.near_km)
    if candidate_pass.everywhere_when_none_near:
        # nothing near (or no found place): every key that has a centre
        lost = targets[np.bincount(near.positions, minlength=res.n)[targets] == 0]
        every = centres.index.to_numpy(dtype=object)
        near = _concat(near, _Flat(np.repeat(lost, len(every)).astype(np.int64), np.tile(every, len(lost))))
    index = rep.indexes[candidate_pass.name]
    return _rows_of(_encode(near, index, res.n, classed=not candidate_pass.resident_keys.startswith(_COLUMN)), targets)


def _chunk_pairs(res: _Residents, rep: _Reports, residents: pd.DataFrame, queries: dict, chunk: np.ndarray,
                 settings: CandidateSettings, counts: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kept pairs of the residents of ``chunk`` as (resident, report, pass bits, pre-score)
    arrays, by resident then best first."""
    found_r, found_m, found_pass = _pass_pairs(res, rep, residents, queries, chunk, settings, counts, fallback=False)
    if any(candidate_pass.fallback for candidate_pass in settings.passes):
        # residents with little evidence or few pairs from the other passes
        needy = _needy(res.little_evidence, found_r, found_pass, chunk, res.n, settings)
        if len(needy):
            more = _pass_pairs(res, rep, residents, queries, needy, settings, counts, fallback=True)
            found_r, found_m, found_pass = found_r + more[0], found_m + more[1], found_pass + more[2]
    r_all = np.concatenate(found_r) if found_r else np.empty(0, np.int64)
    m_all = np.concatenate(found_m) if found_m else np.empty(0, np.int64)
    pass_of = np.concatenate(found_pass) if found_pass else np.empty(0, np.int64)
    return _union(r_all, m_all, pass_of, res.n, rep.n,
                  lambda r, m: prescore(res, rep, r, m, weights=settings.prescore_weights), res.name_evidence,
                  settings, counts)


def _pass_pairs(res: _Residents, rep: _Reports, residents: pd.DataFrame, queries: dict, targets: np.ndarray,
                settings: CandidateSettings, counts: dict, fallback: bool,
                scores: list | None = None) -> tuple[list, list, list]:
    """The pairs each pass (the fallback passes, or the others) keeps for the residents
    ``targets``: lists of resident, report and pass-number arrays, one entry per pass run.
    ``scores``: a list to which (cap score, pre-score) arrays of each pass's kept pairs are appended."""
    class_scores = settings._class_scores()
    found_r, found_m, found_pass = [], [], []
    for number, candidate_pass in enumerate(settings.passes):
        if candidate_pass.fallback != fallback:
            continue
        pass_targets = targets
        if candidate_pass.residents != "all":  # a pass for the nameless or for the named only
            pass_targets = targets[res.name_evidence[targets] == (candidate_pass.residents == "named")]
        rows = _pass_rows(res, rep, residents, candidate_pass, queries, pass_targets)
        kept_scores = [] if scores is not None else None
        r, m = _run_pass(candidate_pass, res, rep, rows, settings, counts, class_scores, kept_scores)
        found_r.append(r)
        found_m.append(m)
        found_pass.append(np.full(len(r), number, dtype=np.int64))
        if scores is not None:
            cap_score = np.concatenate(kept_scores) if kept_scores else np.empty(0)
            scores.append((cap_score, prescore(res, rep, r, m, weights=settings.prescore_weights)))
    return found_r, found_m, found_pass


def _needy(little_evidence: np.ndarray, found_r: list, found_pass: list, chunk: np.ndarray, n: int,
           settings: CandidateSettings) -> np.ndarray:
    """The residents of ``chunk`` the fallback passes run for: little evidence, or fewer than
    ``few_candidates`` pairs kept by the other passes (``found_r``: their residents, a pair once
    per pass that kept it; ``found_pass``: the pass numbers alike). The pairs of a pass with
    ``other_sex`` or without ``fit`` are not counted: they are a long shot (a recorded sex wrong on
    one side is rare) or extra to the others' (the model is not fitted on them), and counted, they
    stopped the fallback for a resident whose true report only it proposed."""
    if not found_r:
        return chunk[little_evidence[chunk] | (settings.few_candidates > 0)]
    r = np.concatenate(found_r)
    uncounted = [number for number, p in enumerate(settings.passes) if p.other_sex or not p.fit]
    if uncounted:
        r = r[~np.isin(np.concatenate(found_pass), uncounted)]
    so_far = np.bincount(r, minlength=n)[chunk]
    return chunk[little_evidence[chunk] | (so_far < settings.few_candidates)]


def _union(r_all: np.ndarray, m_all: np.ndarray, pass_of: np.ndarray, n_residents: int, n_reports: int,
           score_of: Any, name_evidence: np.ndarray, settings: CandidateSettings,
           counts: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The union of the passes' pairs (resident, report, pass number), capped per resident:
    (resident, report, pass bits, pre-score) by resident then best first. ``score_of(r, m)``: the
    pre-score of pairs."""
    passes = settings.passes
    n_bytes = _pass_bytes(len(passes))
    if len(r_all) == 0:
        return r_all, r_all.copy(), np.zeros((0, n_bytes), dtype=np.uint8), np.empty(0)
    # union: one sort of packed (resident, report, pass number) codes groups each distinct pair's passes
    shift, pass_shift = _report_bits(n_reports), max((len(passes) - 1).bit_length(), 1)
    if int(n_residents - 1).bit_length() + shift + pass_shift <= 63:
        packed = np.sort((((r_all << shift) | m_all) << pass_shift) | pass_of)
        code, pass_of = packed >> pass_shift, packed & ((1 << pass_shift) - 1)
    else:  # too many residents, reports and passes for one int64 code: a sort of the pairs' codes and passes
        code = (r_all << shift) | m_all
        order = np.lexsort((pass_of, code))
        code, pass_of = code[order], pass_of[order]
    starts = np.r_[0, np.flatnonzero(code[1:] != code[:-1]) + 1]
    # each distinct pair's passes as bits: byte b ORs 1 << (pass % 8) of its passes 8b … 8b + 7
    if len(passes) <= 64:  # one OR of int64 bits, read as its low bytes (little-endian)
        bits = np.bitwise_or.reduceat(np.left_shift(np.uint64(1), pass_of.astype(np.uint64)), starts)
        pass_bits = bits.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8)[:, :n_bytes]
    else:
        bit = np.left_shift(np.uint8(1), (pass_of & 7).astype(np.uint8))
        pass_bits = np.empty((len(starts), n_bytes), dtype=np.uint8)
        for byte in range(n_bytes):
            pass_bits[:, byte] = np.bitwise_or.reduceat(np.where(pass_of >> 3 == byte, bit, np.uint8(0)), starts)
    n_passes = np.diff(np.r_[starts, len(code)])  # a pass proposes a pair once
    code = code[starts]
    r, m = code >> shift, code & ((1 << shift) - 1)
    counts["union"]["proposed"] += len(r)
    score = score_of(r, m)
    # pairs proposed by more passes first, pairs of passes with a union bonus before them, then the
    # pre-score; kept pairs in that order (report position breaks ties: the pairs come sorted by
    # resident then report)
    support = score + settings.per_pass_support * n_passes
    for number, candidate_pass in enumerate(passes):
        if candidate_pass.union_bonus:
            support += candidate_pass.union_bonus * ((pass_bits[:, number >> 3] >> (number & 7)) & 1 > 0)
    run_starts, sizes = _runs(r)
    order = _best_first(r, support)
    rank = np.arange(len(order)) - np.repeat(run_starts, sizes)
    limit = np.where(name_evidence[r[order]], settings.max_per_resident, settings.nameless_max_per_resident)
    keep = order[rank < limit]
    counts["union"]["capped"] += len(r) - len(keep)
    counts["union"]["kept"] += len(keep)
    return r[keep], m[keep], pass_bits[keep], score[keep]


# ---------------------------------------------------------------------------------------------
# report partitions: a chunk of residents against each partition of the reports, merged exactly


class PartitionPairs(NamedTuple):
    """What each pass keeps for a chunk of residents against one partition of the reports
    (:func:`partition_pairs`): pair ``i`` is resident ``residents[i]`` (position in the chunk),
    report ``reports[i]`` (position among all reports), kept by pass number ``passes[i]`` whose cap
    ranked it by ``cap_score[i]``; ``prescore[i]`` its pre-score. ``counts``: per pass, pairs
    proposed, removed by the constraints and ``pre_cap`` (before the pass's cap).
    ``name_evidence`` / ``little_evidence``: per resident of the chunk."""

    residents: np.ndarray
    reports: np.ndarray
    passes: np.ndarray
    cap_score: np.ndarray
    prescore: np.ndarray
    counts: dict
    name_evidence: np.ndarray
    little_evidence: np.ndarray


def partition_pairs(residents: pd.DataFrame, reports: Any, settings: CandidateSettings | None = None,
                    offset: int = 0, fallback: bool = False, targets: np.ndarray | None = None) -> PartitionPairs:
    """The pairs each pass keeps for ``residents`` (a chunk, normalized) against one partition of
    the reports: ``reports`` is :func:`report_side` of the partition with the
    :func:`report_statistics` of all reports, ``offset`` the partition's first position among all
    reports. ``fallback``: the fallback passes (for the residents at positions ``targets``, which
    :func:`needy_residents` names), else the others (for every resident).

    Why this is exact: a pass's pairs for a resident depend on that resident and each report
    alone (given the statistics), and its cap keeps the best ``cap`` by score with ties broken by
    report position; the best ``cap`` of the whole are among the partitions' best ``cap``, so
    :func:`merge_partitions` capping again over the partitions' pairs (by the same score and the
    positions among all reports) keeps what one run over all reports keeps."""
    settings = settings or CandidateSettings()
    apart = [p.name for p in settings.passes if p.other_sex_cap is not None]
    if apart:  # the merge caps each pass's pairs again in one cap
        raise ValueError(f"report partitions cannot merge passes whose other-sex pairs are capped apart "
                         f"(other_sex_cap): {apart}; link with report_partitions=1")
    res = _Residents(residents)
    res.feature_bits = _bitmask(_mark_features(_col(residents, "marks"), _col(residents, "conditions")),
                                reports.feature_codes, res.n)
    res.set_agreement(residents, reports)
    passes = [p for p in settings.passes if p.fallback == fallback]
    queries = {p.name: _encode(_key_set(res.key_sets, p.resident_keys, residents), reports.indexes[p.name], res.n,
                               classed=not p.resident_keys.startswith(_COLUMN))
               for p in passes if p.near_km is None}
    counts = {p.name: {"proposed": 0, "removed_by_constraints": 0, "capped": 0, "kept": 0} for p in passes}
    targets = np.arange(res.n) if targets is None else np.asarray(targets, dtype=np.int64)
    scores: list = []
    found_r, found_m, found_pass = [], [], []
    for start in range(0, len(targets), settings.chunk_size):  # as packed_candidate_pairs bounds its memory
        found = _pass_pairs(res, reports, residents, queries, targets[start:start + settings.chunk_size], settings,
                            counts, fallback, scores)
        found_r, found_m, found_pass = found_r + found[0], found_m + found[1], found_pass + found[2]

    def joined(arrays: list, dtype: Any) -> np.ndarray:
        return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.empty(0, dtype)

    counts = {name: {"proposed": c["proposed"], "removed_by_constraints": c["removed_by_constraints"],
                     "pre_cap": c["kept"] + c["capped"]} for name, c in counts.items()}
    return PartitionPairs(joined(found_r, np.int32), joined(found_m, np.int64) + int(offset),
                          joined(found_pass, np.int16),
                          joined([s for s, _ in scores], float), joined([p for _, p in scores], float), counts,
                          res.name_evidence, res.little_evidence)


def _merged_passes(parts: list[PartitionPairs], settings: CandidateSettings,
                   counts: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(resident, report, pass number, pre-score) of the pairs each pass keeps over all the
    partitions: the partitions' kept pairs capped again per pass. Adds the counts."""
    r = np.concatenate([p.residents for p in parts]).astype(np.int64)
    m = np.concatenate([p.reports for p in parts])
    pass_of = np.concatenate([p.passes for p in parts]).astype(np.int64)
    cap_score = np.concatenate([p.cap_score for p in parts])
    pre = np.concatenate([p.prescore for p in parts])
    name_evidence = parts[0].name_evidence
    kept = []
    for number, candidate_pass in enumerate(settings.passes):
        name = candidate_pass.name
        if not any(name in p.counts for p in parts):
            continue
        for p in parts:
            counts[name]["proposed"] += p.counts[name]["proposed"]
            counts[name]["removed_by_constraints"] += p.counts[name]["removed_by_constraints"]
        pre_cap = sum(p.counts[name]["pre_cap"] for p in parts)
        rows = np.flatnonzero(pass_of == number)
        rows = rows[np.lexsort((m[rows], r[rows]))]  # by resident, then report (as the cap wants them)
        cap = _pass_cap(candidate_pass, name_evidence[r[rows]])
        keep = rows[_cap(r[rows], cap, lambda chosen, rows=rows: cap_score[rows[chosen]])]
        counts[name]["capped"] += pre_cap - len(keep)
        counts[name]["kept"] += len(keep)
        kept.append(keep)
    keep = np.concatenate(kept) if kept else np.empty(0, np.int64)
    return r[keep], m[keep], pass_of[keep], pre[keep]


def _empty_counts(settings: CandidateSettings) -> dict:
    names = [p.name for p in settings.passes] + ["union"]
    return {name: {"proposed": 0, "removed_by_constraints": 0, "capped": 0, "kept": 0} for name in names}


def needy_residents(parts: list[PartitionPairs], settings: CandidateSettings | None = None) -> np.ndarray:
    """Positions in the chunk of the residents the fallback passes run for, from the other passes'
    :func:`partition_pairs` of every partition (merged as one run over all reports would keep them)."""
    settings = settings or CandidateSettings()
    r, _, pass_of, _ = _merged_passes(parts, settings, _empty_counts(settings))
    n = len(parts[0].name_evidence)
    return _needy(parts[0].little_evidence, [r], [pass_of], np.arange(n), n, settings)


def merge_partitions(parts: list[PartitionPairs], fallback_parts: list[PartitionPairs], n_reports: int,
                     settings: CandidateSettings | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray, pd.DataFrame]:
    """The chunk's candidate pairs from the :func:`partition_pairs` of every partition (the other
    passes' ``parts`` and the fallback passes' ``fallback_parts``, for the residents
    :func:`needy_residents` named), as one run of :func:`packed_candidate_pairs` over all
    ``n_reports`` reports gives them: (resident positions in the chunk, report positions among
    all reports, pass bits, pre-score) by resident then best first, and the per-pass counts."""
    settings = settings or CandidateSettings()
    counts = _empty_counts(settings)
    found = [_merged_passes(parts, settings, counts)]
    if fallback_parts:
        found.append(_merged_passes(fallback_parts, settings, counts))
    r_all, m_all, pass_of, pre = (np.concatenate(arrays) for arrays in zip(*found, strict=True))
    key = r_all * int(n_reports) + m_all
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]

    def score_of(r: np.ndarray, m: np.ndarray) -> np.ndarray:
        # a pair kept by several passes has the same pre-score in each (it depends on the pair alone)
        return pre[order[np.searchsorted(sorted_key, r * int(n_reports) + m)]]

    n = len(parts[0].name_evidence)
    r, m, pass_bits, score = _union(r_all, m_all, pass_of, n, int(n_reports), score_of, parts[0].name_evidence,
                                    settings, counts)
    count_table = pd.DataFrame.from_dict(counts, orient="index").rename_axis("pass").reset_index()
    return r, m, pass_bits, score, count_table
