"""Duplicate reports of one person: the report file linked with itself and clustered.

A person is often reported on several platforms (the family, the police, a volunteer group), so
one missing person can stand behind two or three reports. :func:`dedupe_reports` links the
normalized report frame with itself, as splink's dedupe does:

1. **Blocking** (:data:`DEDUPE_PASSES`): pairs of reports that share a name sound key (the
   normalizer's ``name_keys``) and the hometown's prefecture, or a name sound key and the birth-year
   band, or the hometown county and the day lost, or a family's phone number. Blocks larger than
   ``max_block_size`` are skipped (a common name in one prefecture is covered by the other passes),
   so the pairs grow with the reports, not with their square.
2. **Comparisons**: kinmatch's own comparison objects, reports on both sides (name and its sound,
   sex, birth year, height, marks, conditions), plus the report-only ones defined here: hometown,
   missing date and contact phone (and missing place, left out of the defaults: see
   :func:`default_report_comparisons`). :class:`RegionalNameComparison`, also left out, prices
   a shared name by its share among the reports of the pair's hometown province.
3. **Model**: a Fellegi–Sunter model. m comes from EM on the blocked pairs (with u free there, so
   the blocking cannot inflate the match class), floored at :data:`M_FLOOR`; the pairs are then
   scored with u from random report pairs and the prior of *any* pair of reports (the EM's
   expected number of duplicate pairs over all pairs), so the probability is that of a pair of
   reports picked from the whole file. A shared phone number is weighed with a declared m
   (:data:`PHONE_M_SHARED`), not fitted: simulated duplicates never share a phone, so there is
   nothing to learn it from. A phone in more than :data:`PHONE_MAX_REPORTS` reports is a hotline
   (a platform's or a volunteer group's), not a family's, and is ignored.
4. **Clusters**: links at or above ``threshold`` joined by connected components
   (``scipy.sparse.csgraph``). A component larger than ``max_cluster_size`` is a chain, not one
   person: its weakest links are cut until every piece fits; the cut links stay in the link table
   with ``kept=False`` (:func:`cluster_links`, which a standing index also calls on its stored
   links plus the new reports' links: :mod:`kinmatch.index.clusters`).

    >>> import kinmatch
    >>> from kinmatch.datasets import simulate
    >>> sim = simulate(n_missing=400, n_residents=20, seed=1)
    >>> missing = kinmatch.normalize_missing(sim.missing)[0]
    >>> found = dedupe_reports(missing)
    >>> found.clusters.columns.tolist()
    ['missing_id', 'cluster_id', 'cluster_size']
    >>> found.links.columns.tolist()[:5]
    ['missing_id_l', 'missing_id_r', 'match_probability', 'match_weight', 'explanation']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from kinmatch.errors import InputError
from kinmatch.match import engine
from kinmatch.match.comparisons.age import AgeComparison
from kinmatch.match.comparisons.base import (
    MISSING,
    Comparison,
    float_values,
    object_array,
    object_values,
    once_per_distinct,
)
from kinmatch.match.comparisons.conditions import ConditionsComparison
from kinmatch.match.comparisons.height import HeightComparison
from kinmatch.match.comparisons.marks import MarksComparison
from kinmatch.match.comparisons.name import NameComparison
from kinmatch.match.comparisons.sex import SexComparison

__all__ = ["DedupeSettings", "ReportClusters", "dedupe_reports", "report_pairs", "default_report_comparisons",
           "score_report_pairs", "cluster_links",
           "cluster_codes", "cluster_columns", "collapse_table", "evidence_sources", "fill_from_members",
           "rank_clusters", "Scored", "shipped",
           "HometownComparison", "MissingPlaceComparison", "MissingDateComparison", "PhoneComparison",
           "RegionalNameComparison"]

PHONE_M_SHARED = 0.3
"""Declared share of duplicate report pairs, both giving a phone, that give the same one (a family
posting on two platforms often leaves one number; a police record gives the station's)."""

M_FLOOR = 0.005
"""The least m of any level: a disagreement weighs at most about log2(M_FLOOR / u), some 7 bits."""

PHONE_MAX_REPORTS = 5
"""A phone number in more reports than this is a platform's or a volunteer group's hotline."""

LINK_COLUMNS = ["missing_id_l", "missing_id_r", "match_probability", "match_weight", "explanation", "passes",
                "cluster_id", "kept"]


# -------------------------------------------------------------------------------------------------
# report-only comparisons


class _AreaComparison(Comparison):
    """Two reports' places on the administrative ladder: same county 3, prefecture 2, province 1,
    else 0; -1 where either place is not recognised."""

    prefix: ClassVar[str] = ""
    ordered = True
    agree_from = 2

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        columns = [f"{self.prefix}_{level}" for level in ("province", "prefecture", "county")]
        codes = []
        for column in columns:
            both = np.concatenate([object_values(residents[column]), object_values(missing[column])])
            code, _ = pd.factorize(both)
            codes.append(code)
        stacked = np.stack(codes)
        return stacked[:, :len(residents)], stacked[:, len(residents):]

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        a, b = encoded[0][:, lp], encoded[1][:, rp]
        known = (a >= 0) & (b >= 0) & (a == b)
        level = np.where(known[2], 3, np.where(known[1], 2, np.where(known[0], 1, 0)))
        return np.where((a[0] < 0) | (b[0] < 0), MISSING, level).astype(np.int8)


class HometownComparison(_AreaComparison):
    """Hometown (户籍地) of two reports on the administrative ladder."""

    name, title, prefix = "hometown", "户籍地", "home"
    labels = {-1: "户籍地不详", 0: "户籍地不同省", 1: "户籍地同省", 2: "户籍地同地级市", 3: "户籍地同县"}
    left_columns = right_columns = ("home_province", "home_prefecture", "home_county")
    fields = (("户籍地", "hometown", "hometown"),)


class MissingPlaceComparison(_AreaComparison):
    """Where the two reports say the person was lost, on the administrative ladder."""

    name, title, prefix = "missing_place", "走失地点", "missing"
    labels = {-1: "走失地点不详", 0: "走失地点不同省", 1: "走失地点同省", 2: "走失地点同地级市", 3: "走失地点同县"}
    left_columns = right_columns = ("missing_province", "missing_prefecture", "missing_county")
    fields = (("走失地点", "missing_place", "missing_place"),)


class MissingDateComparison(Comparison):
    """Days between the two reports' dates of loss: 3 the same day, 2 within a month, 1 within a
    year, 0 further apart; -1 where either is blank. Two families rarely remember the day alike,
    so the month is the strong band, not the day alone."""

    name, title = "missing_date", "走失日期"
    labels = {-1: "走失日期不详", 0: "走失日期相差一年以上", 1: "走失日期相差一年内", 2: "走失日期相差一月内",
              3: "走失日期相同"}
    ordered = True
    agree_from = 2
    left_columns = right_columns = ("event_date",)
    fields = (("走失日期", "missing_date", "missing_date"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        def days(frame):
            values = pd.to_datetime(frame["event_date"], errors="coerce")
            return (values - pd.Timestamp("1900-01-01")).dt.days.to_numpy(dtype=float)

        return days(residents), days(missing)

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        gap = np.abs(encoded[0][lp] - encoded[1][rp])
        level = np.select([gap == 0, gap <= 31, gap <= 366], [3, 2, 1], 0)
        return np.where(np.isnan(gap), MISSING, level).astype(np.int8)

    def reasons(self, encoded, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        texts = self.label_array(levels)
        shown = np.flatnonzero(np.isin(levels, (1, 2)))
        if len(shown):
            gap = np.abs(encoded[0][lp[shown]] - encoded[1][rp[shown]])
            texts[shown] = object_array([f"走失日期相差{g:.0f}天" for g in gap.tolist()])
        return texts


_PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")


def phone_numbers(contacts: Any) -> np.ndarray:
    """The phone numbers written in each contact cell, as tuples of digits (hyphens dropped); each
    distinct cell is read once.

        >>> phone_numbers(["杨先生 13900006562", "0731-84561234；13900006562", None]).tolist()
        [('13900006562',), ('073184561234', '13900006562'), ()]
    """
    values = object_values(contacts)
    codes, distinct = pd.factorize(values)
    found = [tuple(sorted({m.replace("-", "") for m in _PHONE.findall(str(v))})) for v in distinct]
    return object_array(found + [()])[codes]


class PhoneComparison(Comparison):
    """The families' contact phones: 1 a number in common, 0 none in common, -1 where either
    report gives none. Hotline numbers (in more than :data:`PHONE_MAX_REPORTS` reports of the
    file) are dropped before comparing."""

    name, title = "phone", "联系电话"
    labels = {-1: "联系电话不详", 0: "联系电话不同", 1: "联系电话相同"}
    ordered = True
    left_columns = right_columns = ("contact",)
    fields = (("联系电话", "contact", "contact"),)

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        left, right = phone_numbers(residents["contact"]), phone_numbers(missing["contact"])
        counts = pd.Series([p for phones in right for p in phones], dtype=object).value_counts()
        hotlines = set(counts.index[counts > PHONE_MAX_REPORTS])

        def family(phones):
            codes, distinct = pd.factorize(phones)
            kept = [frozenset(p for p in value if p not in hotlines) for value in distinct]
            return object_array(kept + [frozenset()])[codes]

        return family(left), family(right)

    def levels(self, encoded, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        a, b = encoded[0][lp], encoded[1][rp]
        return np.fromiter(((MISSING if not x or not y else int(bool(x & y))) for x, y in zip(a, b)),
                           dtype=np.int8, count=len(lp))


class _RegionalNames(NamedTuple):
    names: Any  # the NameComparison's encoding
    left_province: np.ndarray  # province code per record, -1 unknown (both sides on one coding)
    right_province: np.ndarray
    shares: dict  # (province code, full-name key) → share of that province's reports with the key


class RegionalNameComparison(NameComparison):
    """:class:`~kinmatch.match.comparisons.name.NameComparison` whose ``tf_name``, for two reports
    of one hometown province that share a name sound key, is the key's share among that
    province's reports when that is higher than its share among all reports. Names cluster by
    region (依明·吐尔逊 is common in Xinjiang, rare in the country), and the hometown comparison
    already weighs "same county": priced by its national share, a regional name counts the
    region twice and two people of one county with one common local name look like one person.
    Levels and reasons are the name comparison's."""

    def encode(self, residents: pd.DataFrame, missing: pd.DataFrame) -> _RegionalNames:
        names = super().encode(residents, missing)
        both = np.concatenate([object_values(residents["home_province"]), object_values(missing["home_province"])])
        province, _ = pd.factorize(both)
        left, right = province[:len(residents)], province[len(residents):]
        side = names.right
        known = right >= 0
        per_province = np.bincount(right[known]) if known.any() else np.zeros(0, np.int64)
        pairs = pd.DataFrame({"p": right[known], "c": side.code[known]}).value_counts()
        counts: dict = {}
        # a loop over distinct (province, name) values: each name's sound keys are a small set
        for (p, c), count in zip(pairs.index.tolist(), pairs.to_numpy().tolist()):
            for key in side.forms[c].keys:
                counts[(p, key)] = counts.get((p, key), 0) + count
        shares = {key: count / per_province[key[0]] for key, count in counts.items()}
        return _RegionalNames(names, left, right, shares)

    def levels(self, encoded: _RegionalNames, lp: np.ndarray, rp: np.ndarray) -> np.ndarray:
        return super().levels(encoded.names, lp, rp)

    def reasons(self, encoded: _RegionalNames, lp: np.ndarray, rp: np.ndarray, levels: np.ndarray) -> np.ndarray:
        return super().reasons(encoded.names, lp, rp, levels)

    def extra(self, encoded: _RegionalNames, lp: np.ndarray, rp: np.ndarray,
              levels: np.ndarray) -> dict[str, np.ndarray]:
        out = super().extra(encoded.names, lp, rp, levels)
        lp, rp, levels = np.asarray(lp), np.asarray(rp), np.asarray(levels)
        province = encoded.left_province[lp]
        rows = np.flatnonzero((levels >= 4) & (province >= 0) & (province == encoded.right_province[rp]))
        if not len(rows):
            return out
        left, right, shares = encoded.names.left, encoded.names.right, encoded.shares
        n_provinces = int(max(encoded.left_province.max(initial=0), encoded.right_province.max(initial=0))) + 1
        left_code = left.code.astype(np.int64) * n_provinces + np.maximum(encoded.left_province, 0)

        def regional(a, b):
            values = np.full(len(a), np.nan)
            for k, (i, j, p) in enumerate(zip(left.code[a], right.code[b], encoded.left_province[a])):
                shared = left.forms[i].keys & right.forms[j].keys
                if shared:
                    values[k] = min(shares.get((p, key), 0.0) for key in shared)
            return values

        found = once_per_distinct(left_code, right.code, lp[rows], rp[rows], regional)
        tf = out["tf_name"].copy()
        tf[rows] = np.fmax(tf[rows], found)
        return {**out, "tf_name": tf}


def default_report_comparisons() -> list[Comparison]:
    """The comparisons of two reports, in weight-column order. :class:`MissingPlaceComparison` is
    not among them: most people are lost near home, so the missing place repeats the hometown's
    evidence, and a model that takes the two as independent counts it twice (two people of one
    county lost the same day then look like one person)."""
    return [NameComparison(), SexComparison(), AgeComparison(), HeightComparison(), HometownComparison(),
            MissingDateComparison(), PhoneComparison(), MarksComparison(), ConditionsComparison()]


# -------------------------------------------------------------------------------------------------
# settings and result


@dataclass
class DedupeSettings:
    """How reports are clustered. ``threshold``: the probability from which a link joins two
    reports; ``max_cluster_size``: the most reports one cluster may hold before its weakest links
    are cut; ``max_block_size``: blocks of more reports than this are skipped by a pass;
    ``n_random_pairs`` / ``random_state``: the random report pairs u is estimated from."""

    comparisons: list[Comparison] = field(default_factory=default_report_comparisons)
    threshold: float = 0.9
    max_cluster_size: int = 8
    max_block_size: int = 300
    n_random_pairs: int = 50_000
    random_state: int | None = 0

    def __post_init__(self):
        if not 0.0 < float(self.threshold) < 1.0:
            raise InputError(f"dedupe threshold must be a probability strictly between 0 and 1, not {self.threshold}")
        if int(self.max_cluster_size) < 2:
            raise InputError(f"max_cluster_size must be at least 2 (a cluster of one is no duplicate), not "
                             f"{self.max_cluster_size}")


class ReportClusters(NamedTuple):
    """What :func:`dedupe_reports` found. ``clusters``: one row per report, ``missing_id``,
    ``cluster_id`` (``D-`` and the smallest member id; every report has one, a report with no
    duplicate is a cluster of one) and ``cluster_size``. ``links``: the report pairs at or above
    the threshold, with ``match_probability``, ``match_weight``, the ``explanation`` (the same
    reasons the linking table writes), the blocking ``passes`` that proposed the pair, the
    ``cluster_id`` and ``kept`` (False: cut to keep a chain from growing past
    ``max_cluster_size``). ``model``: the fitted report-pair model; ``pass_counts``: pairs per
    blocking pass."""

    clusters: pd.DataFrame
    links: pd.DataFrame
    model: Any
    pass_counts: pd.DataFrame

    def members(self) -> pd.Series:
        """cluster_id → the member report ids joined by ``;`` (clusters of two or more)."""
        multi = self.clusters[self.clusters["cluster_size"] > 1]
        return multi.groupby("cluster_id", sort=True)["missing_id"].agg(lambda ids: ";".join(sorted(ids)))


# -------------------------------------------------------------------------------------------------
# blocking


class DedupePass(NamedTuple):
    """A blocking pass: reports agreeing on every one of ``columns`` are paired. A column named
    ``"birth_band"`` is the middle of the birth-year interval in five-year bands, ``"phone"`` the
    family phone numbers; tuple columns (``name_keys``) count as agreeing when any item meets."""

    name: str
    columns: tuple[str, ...]


DEDUPE_PASSES = (
    DedupePass("name_hometown", ("name_keys", "home_prefecture")),
    DedupePass("name_birth", ("name_keys", "sex_code", "birth_band")),
    DedupePass("hometown_date", ("home_county", "event_date")),
    DedupePass("phone", ("phone",)),
)


def _key_column(missing: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(record positions, integer key codes) of one column; a tuple cell gives one row per item,
    a blank cell none."""
    n = len(missing)
    if column == "birth_band":
        low, high = float_values(missing["birth_year_low"]), float_values(missing["birth_year_high"])
        middle = np.where(np.isnan(low), high, np.where(np.isnan(high), low, (low + high) / 2))
        ok = ~np.isnan(middle)
        return np.flatnonzero(ok), np.floor(middle[ok] / 5).astype(np.int64)
    if column == "phone":
        phones = PhoneComparison().encode(missing.iloc[:0], missing)[1]
        values = pd.Series(phones, dtype=object).map(tuple)
    elif column == "event_date":
        dates = pd.to_datetime(missing[column], errors="coerce")
        values = pd.Series(dates.to_numpy(), dtype=object).where(dates.notna().to_numpy(), None)
    else:
        values = pd.Series(object_values(missing[column]), dtype=object)
    if len(values) and isinstance(values.dropna().iloc[0] if values.notna().any() else None, tuple):
        exploded = values.explode()
        positions = exploded.index.to_numpy()
        values = exploded
    else:
        positions = np.arange(n)
    codes, _ = pd.factorize(values.to_numpy(dtype=object))
    ok = codes >= 0
    return positions[ok].astype(np.int64), codes[ok].astype(np.int64)


def _pass_keys(missing: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(record positions, combined key codes) of a pass: the cross product of its columns' keys."""
    positions, codes = _key_column(missing, columns[0])
    for column in columns[1:]:
        other_positions, other_codes = _key_column(missing, column)
        frame = pd.DataFrame({"record": positions, "a": codes}).merge(
            pd.DataFrame({"record": other_positions, "b": other_codes}), on="record")
        positions = frame["record"].to_numpy()
        codes = pd.factorize(frame["a"].to_numpy() * (int(other_codes.max(initial=0)) + 1)
                             + frame["b"].to_numpy())[0].astype(np.int64)
    return positions, codes


def _block_pairs(positions: np.ndarray, codes: np.ndarray, max_block_size: int,
                 touching: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Every pair of records within each block of equal code (blocks of 2..``max_block_size``),
    as ``i * 2**32 + j`` with i < j, and the number of blocks skipped as too large. ``touching``:
    a boolean per record position; only the pairs with at least one such record (the blocks'
    sizes still count every record)."""
    if len(codes) == 0:
        return np.zeros(0, np.int64), 0
    order = np.lexsort((positions, codes))
    codes, positions = codes[order], positions[order]
    keep = np.r_[True, (codes[1:] != codes[:-1]) | (positions[1:] != positions[:-1])]  # an item twice
    codes, positions = codes[keep], positions[keep]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    usable = (sizes >= 2) & (sizes <= max_block_size)
    if touching is not None:
        usable &= np.add.reduceat(touching[positions].astype(np.int64), starts) > 0
    block = np.repeat(np.arange(len(starts)), sizes)
    at = np.flatnonzero(usable[block])
    ends = (starts + sizes)[block[at]]
    count = ends - at - 1
    left = np.repeat(at, count)
    right = left + 1 + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    a, b = positions[left], positions[right]
    i, j = np.minimum(a, b), np.maximum(a, b)
    ok = i != j
    if touching is not None:
        ok &= touching[i] | touching[j]
    return np.unique((i[ok] << 32) | j[ok]), int(((sizes > max_block_size)).sum())


def report_pairs(missing: pd.DataFrame, settings: DedupeSettings | None = None,
                 passes: tuple[DedupePass, ...] = DEDUPE_PASSES,
                 touching: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The report pairs the blocking passes propose: a frame of record positions ``i < j`` with
    ``passes`` (bit k set: proposed by pass k), and the per-pass counts (``pairs``,
    ``blocks_skipped``). ``touching``: a boolean per report; only the pairs with at least one
    such report (the new reports of a standing index), out of the same blocks as without it."""
    settings = settings or DedupeSettings()
    found, counts = [], []
    for k, dedupe_pass in enumerate(passes):
        if not all(c in missing.columns or c in ("birth_band", "phone") for c in dedupe_pass.columns):
            counts.append({"pass": dedupe_pass.name, "pairs": 0, "blocks_skipped": 0})
            continue
        if "phone" in dedupe_pass.columns and "contact" not in missing.columns:
            counts.append({"pass": dedupe_pass.name, "pairs": 0, "blocks_skipped": 0})
            continue
        positions, codes = _pass_keys(missing, dedupe_pass.columns)
        pairs, skipped = _block_pairs(positions, codes, int(settings.max_block_size), touching)
        found.append(pd.DataFrame({"key": pairs, "bit": np.int64(1 << k)}))
        counts.append({"pass": dedupe_pass.name, "pairs": len(pairs), "blocks_skipped": skipped})
    if found:
        every = pd.concat(found, ignore_index=True).groupby("key", sort=True)["bit"].sum()
        keys, bits = every.index.to_numpy(dtype=np.int64), every.to_numpy(dtype=np.int64)
    else:
        keys, bits = np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = pd.DataFrame({"i": keys >> 32, "j": keys & 0xFFFFFFFF, "passes": bits})
    return pairs, pd.DataFrame(counts)


# -------------------------------------------------------------------------------------------------
# the model


def _encode(missing: pd.DataFrame, comparisons: list[Comparison]) -> engine.Encoded:
    """Both sides are the reports (the left side under the id name the engine reads)."""
    # only the columns the comparisons read: a copy of every column of a million reports costs seconds
    columns = [c for c in dict.fromkeys(c for comparison in comparisons for c in comparison.left_columns)
               if c in missing.columns]
    left = missing[columns].assign(resident_id=missing["missing_id"].astype(str))
    return engine.encode(left, missing, comparisons)


def _vectors(encoded: engine.Encoded, i: np.ndarray, j: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(engine.compare_positions(encoded, i, j))


def _fit(vectors: pd.DataFrame, random_vectors: pd.DataFrame, comparisons: list[Comparison], n_reports: int):
    """m by EM on the blocked pairs (u free there), then a model scoring with random-pair u and
    the prior of any report pair (see the module docstring)."""
    from kinmatch.match.model import FellegiSunter

    usable = [c for c in comparisons if (vectors[c.name] >= 0).any()]
    if not usable:
        raise InputError("the blocked report pairs carry no evidence to compare (no names, dates or places); "
                         "duplicate reports cannot be found — check that the report file was normalized")
    levels = {c.name: c.n_levels for c in usable}
    labels = {c.name: [c.labels[level] for level in range(c.n_levels)] for c in usable}
    fitted = {name: n for name, n in levels.items() if name != "phone"}
    tf = {"name": "tf_name"} if "name" in levels and "tf_name" in vectors.columns else None
    em = FellegiSunter(levels=fitted, u_fixed=False, max_iter=200, tol=1e-5, lambda_init=0.3,
                       ordered=[c.name for c in usable if c.ordered and c.name in fitted],
                       level_labels={name: labels[name] for name in fitted}).fit(vectors)
    random_u = FellegiSunter(levels=levels).estimate_u(random_vectors)
    m, u = {}, {}
    for name in levels:
        if name == "phone":
            m[name] = np.array([1.0 - PHONE_M_SHARED, PHONE_M_SHARED])
        else:
            # no single disagreement may veto a link outright: a level the simulated duplicates
            # never show (a recorded sex that differs) still happens in real files
            m[name] = np.maximum(em.m_[name], M_FLOOR) / np.maximum(em.m_[name], M_FLOOR).sum()
        # a level never seen among random pairs keeps the EM's non-match u (clipped, never 0)
        u[name] = random_u.u_random_.get(name, em.u_.get(name, np.full(levels[name], 1.0 / levels[name])))
    n_all_pairs = n_reports * (n_reports - 1) / 2
    duplicate_pairs = float(em.lambda_) * len(vectors)
    prior = float(np.clip(duplicate_pairs / max(n_all_pairs, 1.0), 1e-12, 0.5))
    return FellegiSunter.from_parameters(
        m, u, prior,
        fitted_on={"method": "em", "n_pairs": len(vectors), "n_iter": em.n_iter_, "converged": em.converged_,
                   "u_source": "random"},
        levels=levels, tf_columns=tf, tf_levels={"name": [4, 5, 6]} if tf else None, level_labels=labels,
        min_prob=1e-6)


# -------------------------------------------------------------------------------------------------
# clusters


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1]


def _cut_chains(n: int, i: np.ndarray, j: np.ndarray, weight: np.ndarray, max_size: int) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Component labels and the links kept, after cutting the weakest links of every component
    larger than ``max_size`` (a tenth of its links at a time, at least one) until none is."""
    kept = np.ones(len(i), dtype=bool)
    while True:
        labels = _components(n, i[kept], j[kept])
        sizes = np.bincount(labels, minlength=n)
        big = sizes[labels[i]] > max_size
        big &= kept
        if not big.any():
            return labels, kept
        component = labels[i[big]]
        rows = np.flatnonzero(big)
        order = np.lexsort((weight[rows], component))  # weakest first within each component
        component = component[order]
        starts = np.flatnonzero(np.r_[True, component[1:] != component[:-1]])
        lengths = np.diff(np.r_[starts, len(component)])
        cut = np.maximum(lengths // 10, 1)
        within = np.arange(len(component)) - np.repeat(starts, lengths)
        kept[rows[order[within < np.repeat(cut, lengths)]]] = False


def dedupe_reports(missing: pd.DataFrame, settings: DedupeSettings | None = None,
                   progress: bool = False, model: Any = None) -> ReportClusters:
    """Cluster the reports of a normalized report frame that describe one person (see the module
    docstring). ``missing``: what :func:`kinmatch.normalize_missing` (or
    :func:`~kinmatch.match.pipeline.prepare_records`) returns; ``settings``: a
    :class:`DedupeSettings` (None: the defaults); ``model``: a report-pair model fitted before
    (what an earlier call returned as ``model``), used as is instead of fitting one."""
    settings = settings or DedupeSettings()
    if not missing.index.equals(pd.RangeIndex(len(missing))):
        missing = missing.reset_index(drop=True)
    n = len(missing)
    ids = missing["missing_id"].astype(str).to_numpy(dtype=object)
    pairs, pass_counts = report_pairs(missing, settings)
    if n < 2 or len(pairs) == 0:
        return _result(ids, np.arange(n), pd.DataFrame(columns=LINK_COLUMNS), model, pass_counts)
    comparisons = list(settings.comparisons)
    encoded = _encode(missing, comparisons)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    vectors = _vectors(encoded, i, j)
    if model is None:
        rng = np.random.default_rng(settings.random_state)
        a = rng.integers(n, size=int(settings.n_random_pairs))
        b = (a + rng.integers(1, n, size=len(a))) % n  # never a report with itself
        random_vectors = _vectors(encoded, a, b)
        model = _fit(vectors, random_vectors, comparisons, n)
    links = _links(encoded, pairs, vectors, model, settings)
    return cluster_links(ids, links, settings, model, pass_counts)


def score_report_pairs(missing: pd.DataFrame, pairs: pd.DataFrame, model: Any,
                       settings: DedupeSettings | None = None) -> pd.DataFrame:
    """The links (``missing_id_l``, ``missing_id_r``, ``match_probability``, ``match_weight``,
    ``explanation``, ``passes``) among report ``pairs`` (positions ``i < j`` in ``missing``, as
    :func:`report_pairs` gives them) scored at or above the threshold by a fitted report-pair
    ``model``. The comparisons are encoded on the whole of ``missing``, so the rarity they read
    (names, marks, hotline phones) is that of every report."""
    settings = settings or DedupeSettings()
    if not missing.index.equals(pd.RangeIndex(len(missing))):
        missing = missing.reset_index(drop=True)
    if len(pairs) == 0:
        return pd.DataFrame(columns=LINK_COLUMNS[:6])
    encoded = _encode(missing, list(settings.comparisons))
    vectors = _vectors(encoded, pairs["i"].to_numpy(), pairs["j"].to_numpy())
    return _links(encoded, pairs, vectors, model, settings)


def _links(encoded: engine.Encoded, pairs: pd.DataFrame, vectors: pd.DataFrame, model: Any,
           settings: DedupeSettings) -> pd.DataFrame:
    """The scored pairs at or above the threshold, with their explanations (no cluster yet)."""
    from kinmatch.match.explain import explain_pairs

    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    weights = model.weight_table(vectors, prefix="w_")
    match_weight = weights.to_numpy().sum(axis=1) + float(model.prior_weight_)
    probability = 1.0 / (1.0 + np.exp2(-np.clip(match_weight, -1000, 1000)))
    linked = np.flatnonzero(probability >= settings.threshold)
    names = [c.name for c in encoded.comparisons]
    weight_matrix = weights.reindex(columns=[f"w_{name}" for name in names], fill_value=0.0).to_numpy()[linked]
    explanation = explain_pairs(encoded, i[linked], j[linked], vectors[names].to_numpy()[linked], weight_matrix)
    ids = np.asarray(encoded.report_ids, dtype=object)
    return pd.DataFrame({"missing_id_l": ids[i[linked]], "missing_id_r": ids[j[linked]],
                         "match_probability": probability[linked], "match_weight": match_weight[linked],
                         "explanation": explanation, "passes": _pass_text(pairs["passes"].to_numpy()[linked])},
                        columns=LINK_COLUMNS[:6])


def cluster_links(ids: Any, links: pd.DataFrame, settings: DedupeSettings | None = None, model: Any = None,
                  pass_counts: pd.DataFrame | None = None) -> ReportClusters:
    """The clusters of reports ``ids`` (in their frame's order) joined by ``links`` (rows of
    :func:`score_report_pairs`, any order; a link naming an id not in ``ids`` is dropped): connected
    components, chains longer than ``max_cluster_size`` cut at their weakest links. The links are
    taken in the order of their reports' positions in ``ids``, so the same ids and links give the
    same clusters however the links were gathered."""
    settings = settings or DedupeSettings()
    ids = np.asarray(ids, dtype=object)
    pass_counts = pass_counts if pass_counts is not None else pd.DataFrame(columns=["pass", "pairs",
                                                                                   "blocks_skipped"])
    position = pd.Index(ids)
    a = position.get_indexer(links["missing_id_l"].to_numpy(dtype=object)) if len(links) else np.zeros(0, np.int64)
    b = position.get_indexer(links["missing_id_r"].to_numpy(dtype=object)) if len(links) else np.zeros(0, np.int64)
    known = (a >= 0) & (b >= 0) & (a != b)
    links = links.iloc[np.flatnonzero(known)][LINK_COLUMNS[:6]]
    i, j = np.minimum(a[known], b[known]), np.maximum(a[known], b[known])
    order = np.lexsort((j, i))
    links, i, j = links.iloc[order].reset_index(drop=True), i[order], j[order]
    swap = ids[i] != links["missing_id_l"].to_numpy(dtype=object)
    if swap.any():
        left = np.where(swap, links["missing_id_r"], links["missing_id_l"])
        links = links.assign(missing_id_r=np.where(swap, links["missing_id_l"], links["missing_id_r"]),
                             missing_id_l=left)
    labels, kept = _cut_chains(len(ids), i, j, links["match_weight"].to_numpy(dtype=float),
                               int(settings.max_cluster_size))
    result = _result(ids, labels, None, model, pass_counts)
    cluster_of = result.clusters["cluster_id"].to_numpy(dtype=object)
    links = links.assign(cluster_id=np.where(kept, cluster_of[i], None), kept=kept)[LINK_COLUMNS]
    return result._replace(links=links.sort_values(["cluster_id", "missing_id_l", "missing_id_r"],
                                                   na_position="last", ignore_index=True))


def _pass_text(bits: np.ndarray) -> np.ndarray:
    names = [p.name for p in DEDUPE_PASSES]
    return object_array(["+".join(name for k, name in enumerate(names) if int(b) >> k & 1) for b in bits])


def _result(ids: np.ndarray, labels: np.ndarray, links: pd.DataFrame | None, model: Any,
            pass_counts: pd.DataFrame) -> ReportClusters:
    """The clusters frame from component labels: the cluster id is ``D-`` + the smallest member id."""
    labels = np.asarray(labels, dtype=np.int64)
    # integer sorts, not a groupby over text ids (pandas has no fast min of strings per group)
    id_rank = pd.factorize(ids, sort=True)[0] if len(ids) else np.zeros(0, np.int64)
    order = np.lexsort((id_rank, labels))
    first = np.r_[True, labels[order][1:] != labels[order][:-1]] if len(order) else np.zeros(0, bool)
    smallest = np.empty(labels.max(initial=-1) + 1, dtype=object)
    smallest[labels[order][first]] = ids[order][first]
    clusters = pd.DataFrame({"missing_id": ids,
                             "cluster_id": ("D-" + pd.Series(smallest[labels], dtype=object)).to_numpy(dtype=object),
                             "cluster_size": np.bincount(labels)[labels].astype(np.int64)})
    return ReportClusters(clusters, links if links is not None else pd.DataFrame(columns=LINK_COLUMNS), model,
                          pass_counts)


# -------------------------------------------------------------------------------------------------
# the linking table's view of the clusters


def cluster_codes(clusters: ReportClusters, report_ids: Any) -> np.ndarray:
    """An integer per report id, equal for the reports of one cluster (an id the clusters do not
    know gets a code of its own)."""
    codes, _ = pd.factorize(clusters.clusters["cluster_id"].to_numpy(dtype=object))
    by_id = pd.Series(codes, index=clusters.clusters["missing_id"].to_numpy(dtype=object))
    out = by_id.reindex(pd.Index(report_ids, dtype=object).astype(str)).to_numpy(dtype=float)
    unknown = np.isnan(out)
    out[unknown] = len(codes) + np.arange(unknown.sum())
    return out.astype(np.int64)


def cluster_columns(clusters: ReportClusters, report_ids: Any) -> dict[str, np.ndarray]:
    """``cluster_id`` and ``cluster_members`` (member ids joined by ``;``) of each report id,
    None for a report with no duplicate."""
    members = clusters.members()
    frame = clusters.clusters.set_index("missing_id")
    ids = pd.Index(report_ids, dtype=object).astype(str)
    cluster = frame["cluster_id"].reindex(ids).to_numpy(dtype=object)
    size = frame["cluster_size"].reindex(ids).fillna(1).to_numpy()
    cluster = np.where(size > 1, cluster, None)
    member_text = members.reindex(pd.Index(cluster, dtype=object)).to_numpy(dtype=object)
    member_text = np.where(size > 1, member_text, None)
    return {"cluster_id": cluster, "cluster_members": member_text}


def collapse_table(table: pd.DataFrame, clusters: ReportClusters, by: str = "resident") -> pd.DataFrame:
    """A finished linking table with the cluster columns added and, per resident (``by``
    ``"resident"``), only the best-ranked row of each cluster, ranks renumbered: for a table
    written without clusters (without ``--dedupe``, or by an older kinmatch). Rows keep their own
    scores (no union of the cluster's evidence, which needs the run's records), and a resident can
    have fewer than top_k rows."""
    table = table.assign(**cluster_columns(clusters, table["missing_id"]), cluster_evidence=None)
    if by != "resident" or table.empty:
        return table.reset_index(drop=True)
    table = table.sort_values(["resident_id", "rank"], kind="stable")
    one_person = table["cluster_id"].fillna("M:" + table["missing_id"].astype(str))
    table = table[~pd.DataFrame({"r": table["resident_id"], "c": one_person}).duplicated()]
    table = table.assign(rank=table.groupby("resident_id").cumcount() + 1)
    return table.reset_index(drop=True)


def fill_from_members(encoded: engine.Encoded, clusters: ReportClusters, lp: np.ndarray, rp: np.ndarray,
                      levels: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The union of a cluster's evidence, one report per comparison: for each pair of resident
    ``lp[i]`` and report ``rp[i]`` (positions in ``encoded``, what
    :func:`kinmatch.match.engine.encode` returned for the linking run) whose report has
    duplicates, every comparison the report gives no evidence for (level -1 in ``levels``, the
    pairs' comparison vectors) is read from the first other member, in the order of the report
    ids, that gives some (the ids' order, not the frame's: a standing index holds only the reports
    a run met, in its own order, and must read the same member a batch run reads). A comparison
    the report does answer is never replaced by a member's better answer, so no comparison picks
    the best of several tries and the model's weights keep their meaning.

    Returns the comparison vectors (``levels`` with the filled levels and their extra columns,
    such as ``tf_name``) and, per pair and comparison, the position of the report it was read
    from."""
    names = [c.name for c in encoded.comparisons]
    out = levels.reset_index(drop=True).copy()
    lp, rp = np.asarray(lp, dtype=np.int64), np.asarray(rp, dtype=np.int64)
    sources = np.repeat(rp[:, None], len(names), axis=1)
    code = cluster_codes(clusters, encoded.report_ids)
    size = np.bincount(code)[code]
    rows = np.flatnonzero(size[rp] > 1)
    if len(rows) == 0:
        return out, sources
    id_rank = pd.factorize(np.asarray(encoded.report_ids, dtype=object), sort=True)[0]
    by_cluster = np.lexsort((id_rank, code))  # members of each cluster together, in id order
    starts = np.searchsorted(code[by_cluster], code[rp[rows]])
    sizes = size[rp[rows]]
    row = np.repeat(rows, sizes)
    member = by_cluster[np.repeat(starts, sizes) + np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)]
    other = member != rp[row]
    row, member = row[other], member[other]
    for j, (comparison, encoding) in enumerate(zip(encoded.comparisons, encoded.encodings)):
        column = out[comparison.name].to_numpy()
        blank = column[row] < 0
        if not blank.any():
            continue
        r, m = row[blank], member[blank]
        found = np.asarray(comparison.levels(encoding, lp[r], m), dtype=np.int8)
        extra = comparison.extra(encoding, lp[r], m, found)
        answered = np.flatnonzero(found >= 0)
        first = answered[np.r_[True, r[answered][1:] != r[answered][:-1]]] if len(answered) else answered
        if len(first) == 0:
            continue
        column = column.copy()
        column[r[first]] = found[first]
        out[comparison.name] = column
        for name, values in extra.items():
            if name in out.columns:
                filled = out[name].to_numpy().copy()
                filled[r[first]] = np.asarray(values)[first]
                out[name] = filled
        sources[r[first], j] = m[first]
    return out, sources


def evidence_sources(sources: np.ndarray, rp: np.ndarray, names: list[str], report_ids: Any) -> np.ndarray:
    """Per pair, the comparisons read from another report of its cluster, as text
    ``"<comparison>=<missing_id>;…"`` in the comparisons' order (``""`` when the pair's own report
    answered them all). ``sources``: per pair and comparison, the position of the report the level
    was read from (what :func:`fill_from_members` returns); ``rp``: the pair's own report position.

        >>> evidence_sources(np.array([[0, 2, 0], [1, 1, 1]]), np.array([0, 1]), ["name", "marks", "age"],
        ...                  np.array(["M1", "M2", "M3"])).tolist()
        ['marks=M3', '']
    """
    sources = np.asarray(sources)
    rp = np.asarray(rp)
    ids = np.asarray(report_ids, dtype=object)
    out = np.full(len(rp), "", dtype=object)
    if sources.ndim != 2 or len(rp) == 0:
        return out
    filled = sources != rp[:, None]
    for i in np.flatnonzero(filled.any(axis=1)):  # few rows: only pairs with a duplicate read from it
        out[i] = ";".join(f"{names[j]}={ids[sources[i, j]]}" for j in np.flatnonzero(filled[i]))
    return out


CLUSTER_POOL = 3
"""Per resident, the best ``CLUSTER_POOL × top_k`` candidates (one per cluster) are scored again
with the union of their cluster's evidence before the top ``top_k`` are kept."""


class Scored(NamedTuple):
    """The candidate pairs as the model scored them, row for row: partial ``weights`` (a frame of
    ``w_<comparison>`` columns), ``match_weight``, ``probability``, and the candidate passes'
    ``prescore`` (None when absent), which breaks ties."""

    weights: pd.DataFrame
    match_weight: np.ndarray
    probability: np.ndarray
    prescore: np.ndarray | None


def rank_clusters(encoded: engine.Encoded, pairs: pd.DataFrame, vectors: pd.DataFrame, scored: Scored,
                  clusters: ReportClusters, model: Any, settings: Any, group: np.ndarray, other: np.ndarray,
                  top_k: int, score: Any) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Rank each resident's candidates as people: per cluster of duplicate reports the member that
    scores best on its own stands for it (:func:`~kinmatch.match.rank.best_per_cluster`); the best
    ``CLUSTER_POOL × top_k`` of those are scored again (``score(model, vectors, settings)``, the
    pipeline's) with what the other members say where it says nothing (:func:`fill_from_members`),
    and the top ``top_k`` by that score are kept. ``pairs`` and ``vectors``: the candidate pairs
    and their comparison vectors, row for row; ``group`` / ``other``: the resident / report codes
    of each row, sorting as the ids do.

    Returns the kept candidate rows, their ranks, and their probability, match weight, partial
    weights, levels and the report each comparison read (for the explanations)."""
    from kinmatch.match.candidates import weight_floors
    from kinmatch.match.rank import above_floor, best_per_cluster, rank_codes

    prescore = scored.prescore
    row_cluster = cluster_codes(clusters, vectors.index.levels[1])[vectors.index.codes[1]]
    floor = weight_floors(pairs, settings.candidate_settings())  # pairs below their passes' min_weight: not shown
    ranked = np.arange(len(group)) if floor is None else above_floor(scored.match_weight, floor)
    shown = ranked[best_per_cluster(group[ranked], row_cluster[ranked], other[ranked], scored.match_weight[ranked],
                                    None if prescore is None else prescore[ranked])]
    pool, _ = rank_codes(group[shown], other[shown], scored.match_weight[shown],
                         None if prescore is None else prescore[shown], CLUSTER_POOL * int(top_k))
    pool = shown[pool]
    lp, rp = encoded.positions(pairs.iloc[pool])
    merged, sources = fill_from_members(encoded, clusters, lp, rp, vectors.iloc[pool])
    weights = scored.weights.iloc[pool].reset_index(drop=True)
    match_weight, probability = scored.match_weight[pool].copy(), scored.probability[pool].copy()
    changed = np.flatnonzero((sources != rp[:, None]).any(axis=1))
    if len(changed):
        changed_weights, match_weight[changed], probability[changed] = score(model, merged.iloc[changed], settings)
        weights.iloc[changed] = changed_weights.to_numpy()
    order, ranks = rank_codes(group[pool], other[pool], match_weight, None if prescore is None else prescore[pool],
                              top_k)
    levels = merged[settings.names].to_numpy()[order]
    return pool[order], ranks, (probability[order], match_weight[order], weights.iloc[order].reset_index(drop=True),
                                levels, sources[order])


def shipped(clusters: ReportClusters) -> ReportClusters:
    """The clusters with only what ranking reads (the reports that have duplicates; no links, no
    model): what a run on a Dask cluster sends its workers. A report it does not list is a cluster
    of one to :func:`cluster_codes` and :func:`cluster_columns`, as in the full clusters."""
    multi = clusters.clusters[clusters.clusters["cluster_size"] > 1].reset_index(drop=True)
    return ReportClusters(multi, clusters.links.iloc[:0], None, clusters.pass_counts)
