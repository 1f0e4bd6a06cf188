"""Scale of the linking stages (candidates → comparisons → model → ranking) on synthetic
*normalized* frames, so the figure measures kinmatch.match alone (normalizers are benchmarked in
bench_normalize.py).

    python bench/bench_link_scale.py 10000 1000000     # the target: < 15 min, < 8 GB for the link

Prints the time of each stage, the pairs per pass, the peak memory (RSS) and recall@1/10 of the
planted true pairs (each resident has one true report, distorted: homophone or dialect-merged name
keys for some, blank/assigned names for others, age estimates off by up to 10 years).
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from kinmatch.data import load_table
from kinmatch.match import comparisons as cmp
from kinmatch.match.candidates import candidate_pairs
from kinmatch.match.evaluate import recall_at_k
from kinmatch.match.model.fitting import fit_model, random_pairs
from kinmatch.match.rank import rank_pairs

MARKS = ["痣:脸:左", "痣:脸:右", "疤痕:额头:", "疤痕:手背:左", "缺指:左手:小指", "纹身:右臂:龙", "胎记:背:"]
CONDITIONS = ["痴呆", "智力障碍", "精神障碍", "聋哑"]


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def cpu_s() -> float:
    """CPU seconds of this process: on a shared machine wall time mostly measures the neighbours."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def vocabulary(rng: np.random.Generator, size: int = 20000):
    surnames = load_table("surname_freq")
    weights = surnames["weight"].astype(float).to_numpy()
    surname = rng.choice(len(surnames), size, p=weights / weights.sum())
    given = rng.integers(0, 3000, size)  # given names as sound ids
    keys = [f"s{s} g{g}" for s, g in zip(surname, given)]
    return surname, given, keys


def make_reports(n: int, rng: np.random.Generator, counties: pd.DataFrame, vocab) -> pd.DataFrame:
    surname, given, keys = vocab
    name = rng.integers(0, len(keys), n)
    county = rng.integers(0, len(counties), n)
    born = rng.integers(1935, 2015, n).astype(float)
    lost = pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 7000, n), unit="D")
    c = counties.iloc[county]
    return pd.DataFrame({
        "missing_id": [f"M{i:07d}" for i in range(n)],
        "name_norm": [keys[k] for k in name], "name_pinyin": [keys[k] for k in name],
        "name_keys": [(keys[k],) for k in name], "surname_keys": [(f"s{surname[k]}",) for k in name],
        "given_keys": [(f"g{given[k]}",) for k in name], "alias_keys": [()] * n, "alias_norm": [()] * n,
        "name_kind": "full", "name_evidence": True,
        "sex_code": np.where(rng.random(n) < 0.55, "M", "F"),
        "birth_year_low": born, "birth_year_high": born, "age_high": (lost.year - born).astype(float),
        "event_date": lost, "height_cm": rng.normal(165, 9, n).round(), "height_tol_cm": 5.0,
        "missing_county": c["code"].to_numpy(), "missing_prefecture": c["prefecture_code"].to_numpy(),
        "missing_province": c["province_code"].to_numpy(), "missing_lon": c["lon"].astype(float).to_numpy(),
        "missing_lat": c["lat"].astype(float).to_numpy(),
        "home_county": c["code"].to_numpy(), "home_prefecture": c["prefecture_code"].to_numpy(),
        "home_province": c["province_code"].to_numpy(), "home_lon": c["lon"].astype(float).to_numpy(),
        "home_lat": c["lat"].astype(float).to_numpy(), "home_dialect_area": c["dialect_area"].to_numpy(),
        "marks": [tuple(rng.choice(MARKS, rng.integers(0, 3), replace=False)) for _ in range(n)],
        "conditions": [tuple(rng.choice(CONDITIONS, rng.integers(0, 2), replace=False)) for _ in range(n)],
    })


def make_residents(reports: pd.DataFrame, n: int, rng: np.random.Generator, counties: pd.DataFrame):
    """One resident per report for the first n reports, distorted; found elsewhere half the time."""
    truth = reports.iloc[:n]
    kind = rng.random(n)
    name_keys = []
    for k, keys in zip(kind, truth["name_keys"]):
        if k < 0.4:
            name_keys.append(keys)                         # same sound
        elif k < 0.6:
            name_keys.append(keys + (keys[0] + "~d",))     # dialect-merged keys include the true one
        elif k < 0.75:
            name_keys.append((keys[0].split()[1],))        # given name only
        else:
            name_keys.append(())                           # blank or station-assigned
    evidence = kind < 0.75
    far = rng.random(n) < 0.5
    county = np.where(far, rng.integers(0, len(counties), n), counties.index.get_indexer(
        counties.set_index("code").index.get_indexer(truth["missing_county"])))
    c = counties.iloc[np.clip(county, 0, len(counties) - 1)]
    found = truth["event_date"] + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    error = rng.normal(0, 5, n)
    born = truth["birth_year_low"].to_numpy() + error
    residents = pd.DataFrame({
        "resident_id": [f"R{i:06d}" for i in range(n)],
        "name_norm": [k[0] if k else None for k in name_keys], "name_pinyin": [k[0] if k else None for k in name_keys],
        "name_keys": name_keys, "given_keys": [(k[0].split()[-1],) if k else () for k in name_keys],
        "surname_keys": [(k[0].split()[0],) if k and " " in k[0] else () for k in name_keys],
        "alias_keys": [()] * n, "alias_norm": [()] * n, "name_kind": np.where(kind < 0.6, "full", "given_only"),
        "name_evidence": evidence, "sex_code": truth["sex_code"].to_numpy(),
        "birth_year_low": born - 5, "birth_year_high": born + 5, "age_high": found.dt.year - born + 5,
        "event_date": found.to_numpy(), "height_cm": truth["height_cm"].to_numpy() + rng.normal(0, 3, n).round(),
        "height_tol_cm": 1.0,
        "found_county": c["code"].to_numpy(), "found_prefecture": c["prefecture_code"].to_numpy(),
        "found_province": c["province_code"].to_numpy(), "found_lon": c["lon"].astype(float).to_numpy(),
        "found_lat": c["lat"].astype(float).to_numpy(),
        "accent_provinces": [(p,) if rng.random() < 0.6 else () for p in truth["home_province"]],
        "accent_area": truth["home_dialect_area"].to_numpy(),
        "statement_places": [(cty,) if rng.random() < 0.2 else () for cty in truth["home_county"]],
        "marks": [m[:1] if rng.random() < 0.6 else () for m in truth["marks"]],
        "conditions": truth["conditions"].to_numpy(),
    })
    return residents, pd.DataFrame({"resident_id": residents["resident_id"],
                                    "missing_id": truth["missing_id"].to_numpy()})


def main(n_residents: int = 2000, n_reports: int = 100_000) -> None:
    rng = np.random.default_rng(0)
    counties = load_table("counties")
    counties = counties[(counties["status"] == "current") & counties["lon"].notna()].reset_index(drop=True)
    t = time.time()
    vocab = vocabulary(rng)
    reports = make_reports(n_reports, rng, counties, vocab)
    residents, truth = make_residents(reports, n_residents, rng, counties)
    reports = reports.sample(frac=1.0, random_state=1).reset_index(drop=True)
    print(f"synthetic normalized frames: {n_residents} residents × {n_reports} reports in {time.time() - t:.0f} s, "
          f"peak {peak_gb():.2f} GB")
    start, cpu_start = time.time(), cpu_s()
    t = time.time()
    candidates = candidate_pairs(residents, reports, progress=True)
    print(f"candidates: {len(candidates.pairs)} pairs in {time.time() - t:.0f} s ({cpu_s() - cpu_start:.0f} s CPU), "
          f"peak {peak_gb():.2f} GB")
    print(candidates.counts.to_string(index=False))
    t = time.time()
    mark_freq = cmp.mark_frequency(reports["marks"])
    name_freq = cmp.name_key_frequency(reports)
    features = cmp.default_features(mark_freq)
    vectors = cmp.compare_pairs(candidates.pairs, residents, reports, features, name_freq)
    print(f"comparisons: {len(vectors)} vectors in {time.time() - t:.0f} s, peak {peak_gb():.2f} GB")
    t = time.time()
    u_vectors = cmp.compare_pairs(random_pairs(residents, reports, 30_000), residents, reports, features, name_freq)
    model = fit_model(vectors, u_vectors, len(residents))
    print(f"model: π={model.share_with_report_:.2f} in {time.time() - t:.0f} s")
    t = time.time()
    weights = model.weight_table(vectors, prefix="w_")
    scored = pd.DataFrame({"resident_id": vectors.index.get_level_values(0),
                           "missing_id": vectors.index.get_level_values(1),
                           "match_weight": weights.to_numpy().sum(axis=1) + model.prior_weight_})
    ranked = rank_pairs(scored, 10)
    print(f"ranking: {len(ranked)} rows in {time.time() - t:.0f} s")
    print(f"total link stages: {time.time() - start:.0f} s wall, {cpu_s() - cpu_start:.0f} s CPU, "
          f"peak RSS {peak_gb():.2f} GB")
    candidate_recall = len(candidates.pairs.merge(truth)) / len(truth)
    print(f"true pair among candidates: {candidate_recall:.3f}; ranked: {recall_at_k(ranked, truth, ks=(1, 10))}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
