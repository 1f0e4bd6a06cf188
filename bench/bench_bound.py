"""The information bound: how many true reports would rank in the top 10 if every report were
compared with every resident, under the pipeline's model and under m and u counted from the truth.

    python bench/bench_bound.py --quick                                           # 200 x 2,000, < 1 min
    python bench/bench_bound.py --seeds 7 3 11 --cache /tmp/scale/kq              # 2,000 x 20,000, all pairs
    /work/wt/heavy python bench/bench_bound.py --residents 10000 --missing 1000000 --seeds 7 \\
        --cache /tmp/scale/kq --sample 40 60 60 120 80 40                         # 10k x 1M, a sample

The data and the families are ``bench_quality``'s (``--cache``: its normalized pickles). Per seed:

1. ``run_link`` with the default settings (top 50): the pipeline's model, fitted as the pipeline
   fits it on its own candidates, and its linking table (the **pipeline**'s actual ranks).
2. Each chosen resident is compared with **every** report by the library's own comparisons
   (``engine.encode`` / ``engine.compare_positions``, a block of residents at a time), and its
   reports are ranked by (a) **em**: the pipeline's model scoring all of them, and (b) **truth**:
   the same naive-Bayes form (the pipeline's ``score``, term frequencies included) with m counted
   from every true pair, u from ``--u-pairs`` random pairs (all but a handful non-matching) and the
   prior the true pairs' share of all pairs — the bound of any ranking built on these
   comparisons as independent evidence. The rank of the best true report counts ties in its
   favour (1 + the reports scoring strictly higher).
3. Per comparison: the rank under (b) with that comparison left out (what it carries), its mean
   weight for the true pairs of the residents without and with a usable name (KL(m || u) in bits
   × the share with evidence, from the levels of every compared pair); finer comparisons computed
   here (:data:`FINE`: :class:`FineAge`, :class:`FineHeight`, today's level crossed with the
   absolute difference) put in place of today's in (b), and comparisons added to (b)
   (:data:`ADDED`: :class:`Route`, found province × home province; :class:`StatementSurname`, a
   relative's surname the resident said; the library's ``LaterClothingComparison``), their m
   cross-fitted (:data:`FOLDS`), their u from the same random pairs.
4. For the residents whose true report (b) ranks below 10: how many reports outrank it and on what
   they agree, against what the true report agrees on.

At 2,000 x 20,000 every resident is compared with every report (40 M pairs). At 10,000 x
1,000,000 (``--sample``) a stratified sample of residents is: disjoint strata, in this order,
sex misrecorded / deaf-mute / lost over 5 years / no usable name / a usable name / no report (the
last for false leads), each sampled without replacement with a fixed seed (``--sample-seed``);
figures are weighted back to the population (stratum size / sampled), with the binomial
(stratified ratio) standard error. The pipeline's figure for the same residents is weighted alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quality import simulated  # noqa: E402

from kinmatch.match import engine  # noqa: E402
from kinmatch.match.comparisons.age import AgeComparison  # noqa: E402
from kinmatch.match.comparisons.base import MISSING, Comparison  # noqa: E402
from kinmatch.match.comparisons.height import HeightComparison  # noqa: E402
from kinmatch.match.evaluate import first_true_rank  # noqa: E402
from kinmatch.match.model import FellegiSunter  # noqa: E402
from kinmatch.match.model.fitting import random_pairs  # noqa: E402
from kinmatch.match.pipeline import run_link, score  # noqa: E402
from kinmatch.match.settings import LinkSettings  # noqa: E402

THRESHOLD = 0.5
FAMILIES = ["no_usable_name", "name_survives_any_form", "deaf_mute", "found_far_from_home", "long_gap",
            "sex_misrecorded", "age_error", "height_error", "accent_contradiction", "mark_reworded"]
STRATA = ["sex_misrecorded", "deaf_mute", "long_gap", "no_usable_name", "named", "no_report"]


# ---------------------------------------------------------------------------------------------
# finer comparisons, computed here only


def _bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(edges, dtype=float), values, side="left")


class FineAge(Comparison):
    """Today's age level crossed with the distance between the two birth-year intervals' midpoints
    (≤1, ≤2.5, ≤5, ≤8, ≤12, more years): a strictly finer split of the same fields."""

    name, title = "age_fine", "年龄(细)"
    edges = [1.0, 2.5, 5.0, 8.0, 12.0]
    labels = {level: str(level) for level in range(-1, 4 * 6)}
    left_columns = right_columns = AgeComparison.left_columns

    def encode(self, residents, missing):
        return AgeComparison().encode(residents, missing)

    def levels(self, encoded, lp, rp):
        base = AgeComparison().levels(encoded, lp, rp).astype(np.int16)
        a, b = encoded[0][:, lp], encoded[1][:, rp]
        diff = np.abs((a[0] + a[1]) / 2 - (b[0] + b[1]) / 2)
        fine = _bins(np.nan_to_num(diff, nan=0.0), self.edges)
        return np.where(base < 0, MISSING, base * 6 + fine).astype(np.int16)


class FineHeight(Comparison):
    """Today's height level crossed with the absolute difference of the two heights (≤1, ≤2, ≤4,
    ≤6, ≤9, ≤13 cm, more)."""

    name, title = "height_fine", "身高(细)"
    edges = [1.0, 2.0, 4.0, 6.0, 9.0, 13.0]
    labels = {level: str(level) for level in range(-1, 5 * 7)}
    left_columns, right_columns = HeightComparison.left_columns, HeightComparison.right_columns

    def encode(self, residents, missing):
        return HeightComparison().encode(residents, missing)

    def levels(self, encoded, lp, rp):
        base = HeightComparison().levels(encoded, lp, rp).astype(np.int16)
        diff = np.abs(encoded[0][0, lp] - encoded[1][0, rp])
        fine = _bins(np.nan_to_num(diff, nan=0.0), self.edges)
        return np.where(base < 0, MISSING, base * 7 + fine).astype(np.int16)


class Route(Comparison):
    """The resident's found province against the report's home province, as one level per pair of
    provinces (its m learnt from the true pairs: where the simulated people travel from and to)."""

    name, title = "route", "路线"
    provinces = 40
    labels = {level: str(level) for level in range(-1, 40 * 40)}
    left_columns, right_columns = ("found_province",), ("home_province",)

    def encode(self, residents, missing):
        left = residents["found_province"].astype(object).where(residents["found_province"].notna(), None)
        right = missing["home_province"].astype(object).where(missing["home_province"].notna(), None)
        codes, uniques = pd.factorize(pd.concat([pd.Series(left), pd.Series(right)], ignore_index=True).map(
            lambda v: str(v)[:2] if v not in (None, "") else None))
        if len(uniques) > self.provinces:
            raise ValueError(f"Route: {len(uniques)} provinces, more than {self.provinces}")
        return codes[:len(left)], codes[len(left):]

    def levels(self, encoded, lp, rp):
        a, b = encoded[0][lp], encoded[1][rp]
        return np.where((a < 0) | (b < 0), MISSING, a * self.provinces + b).astype(np.int16)


class StatementSurname(Comparison):
    """The surname of a relative the resident named (说父亲叫王大山: ``statement_names``, read by the
    normalizer and compared by no comparison) against the report's surname: 1 the same, 0 not."""

    name, title = "statement_surname", "自述亲属姓氏"
    labels = {-1: "-", 0: "0", 1: "1"}
    left_columns, right_columns = ("statement_names",), ("name_surname",)

    def encode(self, residents, missing):
        left = [frozenset(str(n)[0] for n in names if n) if isinstance(names, tuple) and names else None
                for names in residents["statement_names"]]
        right = [str(v) if isinstance(v, str) and v else None for v in missing["name_surname"]]
        vocabulary = {}
        right_codes = np.array([vocabulary.setdefault(v, len(vocabulary)) if v else -1 for v in right])
        return left, right_codes, vocabulary

    def levels(self, encoded, lp, rp):
        left, right_codes, vocabulary = encoded
        out = np.full(len(lp), MISSING, np.int8)
        for i in np.unique(lp):
            if left[i] is None:
                continue
            at = np.flatnonzero(lp == i)
            codes = right_codes[rp[at]]
            wanted = [vocabulary[c] for c in left[i] if c in vocabulary]
            out[at] = np.where(codes < 0, MISSING, np.isin(codes, wanted)).astype(np.int8)
        return out


def later_clothing():
    from kinmatch.match.comparisons.clothing import LaterClothingComparison

    return LaterClothingComparison()


FINE = {"age": FineAge, "height": FineHeight}
"""Finer comparisons put in place of today's (key: the comparison they replace)."""
ADDED = {"route": Route, "statement_surname": StatementSurname, "later_clothing": later_clothing}
"""Comparisons added to today's: what the records carry that no comparison reads (or reads only
within a month: clothes found within the year)."""
FOLDS = 2
"""The weights of the comparisons computed here are cross-fitted: a resident's from the true pairs of
the other residents (resident position mod FOLDS), since a level per pair of provinces learnt from the
resident's own true pair would count it twice."""


# ---------------------------------------------------------------------------------------------
# counting levels


def level_counts(columns: dict, names: list[str], sizes: dict, weights: np.ndarray | None = None) -> dict:
    """Per comparison, the (weighted) count of each level, index 0 = missing (-1)."""
    return {n: np.bincount(np.asarray(columns[n], dtype=np.int64) + 1, weights=weights, minlength=sizes[n] + 1)
            for n in names}


def compare(encoded: engine.Encoded, fine: engine.Encoded, lp: np.ndarray, rp: np.ndarray) -> dict:
    """Levels (and extra columns) of today's comparisons and the finer ones for the pairs lp/rp."""
    columns = engine.compare_positions(encoded, lp, rp)
    for comparison, encoding in zip(fine.comparisons, fine.encodings):
        columns[comparison.name] = comparison.levels(encoding, lp, rp)
    return columns


def truth_model(encoded, fine, data, settings, em_model, u_pairs: int, seed: int) -> tuple:
    """The naive-Bayes model with m from every true pair and u from random pairs (the true ones
    among them left out), for today's comparisons (a FellegiSunter, scored by the pipeline's
    ``score``) and the finer ones (weight tables in bits)."""
    residents, missing, truth = data["residents"], data["missing"], data["truth"]
    names = list(em_model.comparisons_)
    sizes = {n: em_model.levels_[n] for n in names}
    sizes.update({c.name: c.n_levels for c in fine.comparisons})
    all_names = names + [c.name for c in fine.comparisons]
    true_lp, true_rp = encoded.positions(truth.astype(str))
    true_columns = compare(encoded, fine, true_lp, true_rp)
    m_counts = level_counts(true_columns, all_names, sizes)
    fold_counts = [level_counts(true_columns, all_names, sizes, weights=(true_lp % FOLDS == fold).astype(float))
                   for fold in range(FOLDS)]
    u_counts = {n: np.zeros(sizes[n] + 1) for n in all_names}
    true_keys = np.asarray(true_lp, np.int64) * len(missing) + true_rp
    for start in range(0, u_pairs, 2_000_000):
        pairs = random_pairs(residents, missing, min(2_000_000, u_pairs - start), random_state=seed + start)
        lp, rp = encoded.positions(pairs)
        keep = ~np.isin(np.asarray(lp, np.int64) * len(missing) + rp, true_keys)
        counts = level_counts(compare(encoded, fine, lp[keep], rp[keep]), all_names, sizes)
        for n in all_names:
            u_counts[n] += counts[n]
    m, u = {}, {}
    for n in all_names:
        mc = m_counts[n][1:] + 0.5
        uc = u_counts[n][1:] + 0.5
        m[n], u[n] = mc / mc.sum(), np.clip(uc / uc.sum(), em_model.min_prob, 1 - em_model.min_prob)
    prior = len(truth) / (len(residents) * len(missing))
    model = FellegiSunter.from_parameters({n: m[n] for n in names}, {n: u[n] for n in names}, prior,
                                          tf_columns=em_model.tf_columns, tf_levels=em_model.tf_levels,
                                          min_prob=em_model.min_prob)
    fine_weights = {}
    for n in all_names:
        if n in names:
            continue
        rows = []
        for fold in range(FOLDS):
            # m from the other folds' true pairs (their residents), u from the random pairs
            other = sum(fold_counts[f][n] for f in range(FOLDS) if f != fold)[1:] + 0.5
            rows.append(np.r_[0.0, np.log2(other / other.sum() / u[n])])
        fine_weights[n] = np.array(rows)
    return model, fine_weights, m, u


# ---------------------------------------------------------------------------------------------
# the sample


def strata_of(data: dict) -> pd.Series:
    """Each resident's stratum (the first of :data:`STRATA` it belongs to)."""
    residents = data["residents"]["resident_id"].astype(str)
    with_truth = set(data["truth"]["resident_id"].astype(str))
    members = data["family"].astype({"resident_id": str}).groupby("family")["resident_id"].apply(set)
    out = pd.Series("named", index=pd.Index(residents))
    for stratum in reversed(STRATA[:4]):
        out[out.index.isin(members.get(stratum, set()))] = stratum
    out[~out.index.isin(with_truth)] = "no_report"
    return out


def choose(data: dict, sizes: list[int] | None, sample_seed: int) -> tuple[pd.Series, pd.Series]:
    """The chosen residents' ids (all when ``sizes`` is None) and each one's weight."""
    strata = strata_of(data)
    if sizes is None:
        return pd.Series(strata.index), pd.Series(1.0, index=strata.index)
    rng = np.random.default_rng(sample_seed)
    chosen, weights = [], {}
    for stratum, n in zip(STRATA, sizes):
        ids = np.sort(strata.index[strata == stratum].to_numpy())
        take = rng.choice(ids, size=min(n, len(ids)), replace=False) if len(ids) else ids
        chosen.extend(take.tolist())
        weights.update({i: len(ids) / max(len(take), 1) for i in take})
    return pd.Series(chosen), pd.Series(weights)


# ---------------------------------------------------------------------------------------------
# ranking every report


def rank_all(args, data: dict, run, encoded, fine, truth_fs, fine_weights, chosen: pd.Series, settings) -> tuple:
    """For each chosen resident, compared with every report: the rank of its best true report under
    each ranking, the best probability (false leads), and for (b)'s misses what outranks the true
    report. Also level counts of true and other pairs by name evidence (the information table)."""
    em = run.model
    names = list(em.comparisons_)
    n_rep = len(data["missing"])
    res_pos = encoded.resident_ids.get_indexer(chosen.astype(str))
    truth = data["truth"].astype(str)
    true_rep = truth.assign(rp=encoded.report_ids.get_indexer(truth["missing_id"])).groupby("resident_id")["rp"] \
        .apply(np.array)
    nameless = set(data["family"].loc[data["family"]["family"] == "no_usable_name", "resident_id"].astype(str))
    sizes = {n: em.levels_[n] for n in names}
    sizes.update({c.name: c.n_levels for c in fine.comparisons})
    info = {group: {kind: {n: np.zeros(sizes[n] + 1) for n in sizes} for kind in ("true", "other")}
            for group in ("nameless", "named")}
    agree = {c.name: c.agree_from for c in encoded.comparisons}
    rows, misses = [], []
    block = max(1, args.block_pairs // n_rep)
    started, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(res_pos), block):
        positions = res_pos[first:first + block]
        lp = np.repeat(positions, n_rep)
        rp = np.tile(np.arange(n_rep), len(positions))
        columns = compare(encoded, fine, lp, rp)
        frame = pd.DataFrame({k: v for k, v in columns.items() if k not in fine_weights})
        w_em, s_em, p_em = score(em, frame, settings)
        w_tr, s_tr, p_tr = score(truth_fs, frame, settings)
        w_tr = w_tr.to_numpy()
        wcol = {n: list(settings.weight_columns).index(f"w_{n}") for n in names}
        for j, position in enumerate(positions):
            rid = str(encoded.resident_ids[position])
            sl = slice(j * n_rep, (j + 1) * n_rep)
            trues = true_rep.get(rid)
            row = {"resident_id": rid, "best_p_em": float(p_em[sl].max()), "best_p_truth": float(p_tr[sl].max())}
            if trues is None:
                rows.append(row)
                continue
            is_true = np.zeros(n_rep, bool)
            is_true[trues] = True
            group = "nameless" if rid in nameless else "named"
            for n in sizes:
                counts = np.bincount(np.asarray(columns[n][sl], np.int64) + 1, minlength=sizes[n] + 1)
                t = np.bincount(np.asarray(columns[n][sl][is_true], np.int64) + 1, minlength=sizes[n] + 1)
                info[group]["true"][n] += t
                info[group]["other"][n] += counts - t

            def rank(s: np.ndarray, is_true: np.ndarray = is_true) -> int:
                return int((s > s[is_true].max()).sum()) + 1

            row["em"] = rank(s_em[sl])
            row["em_true_weight"] = float(s_em[sl][is_true].max())
            b = s_tr[sl]
            row["truth"] = rank(b)
            wt = w_tr[sl]
            for n in names:
                row[f"without_{n}"] = rank(b - wt[:, wcol[n]])
            replaced = b.copy()
            fold = position % FOLDS
            for n, weights in fine_weights.items():
                extra_w = weights[fold][np.asarray(columns[n][sl], np.int64) + 1]
                base = n.removesuffix("_fine")
                if base in FINE:
                    row[f"fine_{base}"] = rank(b - wt[:, wcol[base]] + extra_w)
                    replaced += extra_w - wt[:, wcol[base]]
                else:
                    row[f"add_{n}"] = rank(b + extra_w)
                    replaced += extra_w
            row["all_changes"] = rank(replaced)
            rows.append(row)
            if row["truth"] > 10:
                best = np.flatnonzero(is_true)[np.argmax(b[is_true])]
                above = np.flatnonzero(b > b[best])
                top = above[np.argsort(-b[above])[:10]]
                miss = {"resident_id": rid, "nameless": group == "nameless", "rank": row["truth"],
                        "true_weight": float(b[best]), "tenth_weight": float(np.sort(b)[-10])}
                for n in names:
                    level = columns[n][sl]
                    miss[f"true_agree_{n}"] = bool(level[best] >= agree[n])
                    miss[f"top_agree_{n}"] = float((level[top] >= agree[n]).mean())
                    miss[f"true_w_{n}"] = float(wt[best, wcol[n]])
                    miss[f"top_w_{n}"] = float(wt[top, wcol[n]].mean())
                misses.append(miss)
        done = min(first + block, len(res_pos))
        if args.progress and (done // block) % args.progress == 0:
            print(f"   {done:,} / {len(res_pos):,} residents, {time.perf_counter() - started:.0f} s "
                  f"({time.process_time() - cpu:.0f} CPU s)", flush=True)
    per_pair = (time.process_time() - cpu) / max(len(res_pos) * n_rep, 1) * 1e6
    return pd.DataFrame(rows).set_index("resident_id"), pd.DataFrame(misses), info, per_pair


# ---------------------------------------------------------------------------------------------
# the report


def weighted_recall(hit: pd.Series, weight: pd.Series, strata: pd.Series, sampled: pd.Series) -> tuple[float, float]:
    """Weighted share of ``hit`` (booleans per sampled resident of one family) and its standard
    error under stratified sampling (the ratio estimator linearised: z = y - share for the family's
    residents, 0 for the stratum's other sampled residents; Σ N²(1 - n/N) s²(z) / n over the
    estimated family size²). ``sampled``: residents sampled per stratum."""
    if hit.empty:
        return float("nan"), float("nan")
    w = weight.reindex(hit.index).to_numpy()
    y = hit.to_numpy(dtype=float)
    estimate = float((w * y).sum() / w.sum())
    variance = 0.0
    where = strata.reindex(hit.index).to_numpy()
    for stratum in np.unique(where):
        at = where == stratum
        n = int(sampled.get(stratum, at.sum()))
        if n < 2:
            continue
        big_n = w[at][0] * n  # weight = N / n
        z = y[at] - estimate
        s2 = ((z ** 2).sum() - z.sum() ** 2 / n) / (n - 1)
        variance += big_n ** 2 * max(0.0, 1 - n / big_n) * s2 / n
    return estimate, float(np.sqrt(variance) / w.sum())


def family_table(ranks: pd.DataFrame, data: dict, weight: pd.Series, strata: pd.Series, sampled: pd.Series,
                 actual: pd.Series, columns: list[str]) -> pd.DataFrame:
    """recall@1 and @10 per family (weighted), for the pipeline's actual ranks and each ranking."""
    members = data["family"].astype({"resident_id": str}).groupby("family")["resident_id"].apply(set)
    with_truth = ranks.dropna(subset=["em"]) if "em" in ranks else ranks
    groups = {"overall": with_truth.index}
    for family in FAMILIES:
        groups[family] = with_truth.index[with_truth.index.isin(members.get(family, set()))]
    out = []
    for family, ids in groups.items():
        row = {"family": family, "sampled": len(ids)}
        actual_ranks = actual.reindex(ids).fillna(np.inf)
        for label, series in [("pipeline", actual_ranks)] + [(c, with_truth.loc[ids, c]) for c in columns]:
            r10, se = weighted_recall(series <= 10, weight, strata, sampled)
            r1, _ = weighted_recall(series <= 1, weight, strata, sampled)
            row[f"{label} r@1"], row[f"{label} r@10"], row[f"{label} se"] = r1, r10, se
        out.append(row)
    return pd.DataFrame(out).set_index("family")


def information_table(info: dict, m_all: dict, u_all: dict, rows: pd.DataFrame, names: list[str],
                      nameless_ids: pd.Index) -> pd.DataFrame:
    """Per comparison: the mean weight a true pair gets from it (KL(m||u) in bits, from the
    compared pairs' levels), for the residents without / with a usable name, the share of their true
    pairs with evidence at all, and the top-10 residents lost when it is left out of (b)."""
    out = []
    for n in list(info["nameless"]["true"]):
        row = {"comparison": n}
        for group in ("nameless", "named"):
            t, o = info[group]["true"][n], info[group]["other"][n]
            if t.sum() == 0:
                continue
            m = (t[1:] + 0.5) / (t[1:] + 0.5).sum()
            u = (o[1:] + 0.5) / (o[1:] + 0.5).sum()
            observed = t[1:].sum() / t.sum()
            row[f"{group} bits/true pair"] = float(observed * (m * np.log2(m / u)).sum())
            row[f"{group} observed"] = float(observed)
        for label, ids in (("nameless", nameless_ids), ("all", rows.index)):
            column = f"without_{n}"
            if column in rows:
                sub = rows.loc[rows.index.intersection(ids)]
                row[f"{label} lost@10 without"] = int((sub["truth"] <= 10).sum() - (sub[column] <= 10).sum())
        out.append(row)
    return pd.DataFrame(out).set_index("comparison")


def one_seed(args, seed: int) -> dict:
    n_res, n_mis = args.residents, args.missing
    wall, cpu = time.perf_counter(), time.process_time()
    data = simulated(n_res, n_mis, seed, args.cache)
    settings = LinkSettings()
    run = run_link(data["residents"], data["missing"], top_k=50, progress=False, settings=settings)
    actual = first_true_rank(run.table, data["truth"]).fillna(np.inf)
    actual.index = actual.index.astype(str)
    print(f"\n== {n_res} x {n_mis}, seed {seed}: linked in {time.perf_counter() - wall:.0f} s "
          f"({time.process_time() - cpu:.0f} CPU s; load {open('/proc/loadavg').read().split()[0]}); "
          f"EM π {run.model.share_with_report_:.3f}", flush=True)
    run = run._replace(vectors=None, candidate_counts=None)
    t0 = time.process_time()
    encoded = engine.encode(data["residents"], data["missing"], settings.comparisons)
    fine = engine.encode(data["residents"], data["missing"], [make() for make in [*FINE.values(), *ADDED.values()]])
    truth_fs, fine_weights, m_all, u_all = truth_model(encoded, fine, data, settings, run.model, args.u_pairs, seed)
    print(f"-- encoded and the truth's m / u counted ({args.u_pairs:,} random pairs): "
          f"{time.process_time() - t0:.0f} CPU s", flush=True)
    chosen, weight = choose(data, args.sample, args.sample_seed)
    strata = strata_of(data)
    t0 = time.perf_counter()
    rows, misses, info, per_pair = rank_all(args, data, run, encoded, fine, truth_fs, fine_weights, chosen, settings)
    print(f"-- {len(chosen):,} residents x {n_mis:,} reports ranked in {time.perf_counter() - t0:.0f} s, "
          f"{per_pair:.2f} CPU µs per pair (load {open('/proc/loadavg').read().split()[0]})", flush=True)
    with_truth = rows.dropna(subset=["em"])
    columns = ["em", "truth"] + [c for c in rows.columns if c.startswith(("fine_", "add_"))] + ["all_changes"]
    sampled = strata.reindex(chosen.astype(str)).value_counts()
    table = family_table(with_truth, data, weight, strata, sampled, actual, columns)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 60)
    shown = table[["sampled"] + [f"{c} r@10" for c in ["pipeline"] + columns]
                  + [f"{c} se" for c in ["pipeline", "em", "truth"]]]
    print("-- recall@10 by family (weighted to the population when sampled; se: standard error)")
    print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
    print("-- recall@1 by family")
    print(table[[f"{c} r@1" for c in ["pipeline"] + columns]].to_string(float_format=lambda v: f"{v:.3f}"))
    no_report = rows.drop(with_truth.index, errors="ignore")
    leads = {}
    for label in ("em", "truth"):
        hit = no_report[f"best_p_{label}"] > THRESHOLD
        estimate, se = weighted_recall(hit, weight, strata, sampled)
        leads[label] = (estimate * (strata == "no_report").sum(), se * (strata == "no_report").sum())
    print(f"-- false leads (residents without a report with any report above {THRESHOLD}, of "
          f"{int((strata == 'no_report').sum()):,}; {len(no_report)} compared): "
          + "; ".join(f"{k} {v[0]:.1f} ± {v[1]:.1f}" for k, v in leads.items()))
    names = list(run.model.comparisons_)
    nameless_ids = pd.Index(data["family"].loc[data["family"]["family"] == "no_usable_name", "resident_id"]
                            .astype(str))
    information = information_table(info, m_all, u_all, with_truth, names, nameless_ids)
    print("-- per comparison: bits a true pair gets (KL(m||u) × share observed), top-10 residents lost without it "
          "under (b) (sampled residents, unweighted)")
    print(information.to_string(float_format=lambda v: f"{v:.3f}"))
    summary = {}
    if not misses.empty:
        groups = {"all": misses, "nameless": misses[misses["nameless"]]}
        lines = []
        for label, frame in groups.items():
            if frame.empty:
                continue
            lines.append(f"   {label}: {len(frame)} residents; reports above the true one: median "
                         f"{frame['rank'].median() - 1:.0f} (quartiles {frame['rank'].quantile(0.25) - 1:.0f}–"
                         f"{frame['rank'].quantile(0.75) - 1:.0f}); true weight median "
                         f"{frame['true_weight'].median():.1f} bits, 10th best "
                         f"{frame['tenth_weight'].median():.1f} bits")
            profile = pd.DataFrame({n: {"true agrees": frame[f"true_agree_{n}"].mean(),
                                        "top-10 agree": frame[f"top_agree_{n}"].mean(),
                                        "true bits": frame[f"true_w_{n}"].mean(),
                                        "top-10 bits": frame[f"top_w_{n}"].mean()} for n in names}).T
            summary[label] = profile
            lines.append(profile.to_string(float_format=lambda v: f"{v:.2f}"))
        print("-- residents whose true report (b) ranks below 10: what outranks it (the 10 best reports above it)")
        print("\n".join(lines))
    result = {"seed": seed, "families": table.to_dict(), "information": information.to_dict(),
              "false_leads": leads, "per_pair_us": per_pair,
              "outranking": {k: v.to_dict() for k, v in summary.items()}}
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_name(f"{out.stem}_{n_res}_{n_mis}_{seed}.json").write_text(json.dumps(result, default=float))
        rows.to_pickle(out.with_name(f"{out.stem}_{n_res}_{n_mis}_{seed}_ranks.pkl"))
    result["ranks"] = rows
    result["table"] = run.table
    return result


def parse(argv=None) -> argparse.Namespace:
    """The command line's options (``--quick``: 200 x 2,000, one seed, 400,000 random pairs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--missing", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--cache", type=Path, help="bench_quality's folder of normalized simulated data")
    parser.add_argument("--quick", action="store_true", help="200 x 2,000, one seed, fewer random pairs")
    parser.add_argument("--sample", type=int, nargs=len(STRATA), metavar="N",
                        help="residents sampled per stratum: " + ", ".join(STRATA) + " (default: every resident)")
    parser.add_argument("--sample-seed", type=int, default=20261207)
    parser.add_argument("--u-pairs", type=int, default=10_000_000, help="random pairs for the truth's u")
    parser.add_argument("--block-pairs", type=int, default=2_000_000, help="pairs compared at once")
    parser.add_argument("--progress", type=int, default=0, help="print progress every N blocks (0: never)")
    parser.add_argument("--json", help="write the tables as JSON (one file per seed, beside this name)")
    args = parser.parse_args(argv)
    if args.quick:
        args.residents, args.missing, args.u_pairs, args.cache = 200, 2000, 400_000, None
        args.seeds = args.seeds[:1]
    return args


def main(argv=None) -> int:
    args = parse(argv)
    for seed in args.seeds:
        one_seed(args, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
