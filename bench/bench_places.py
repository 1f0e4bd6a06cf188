"""Benchmark: place parsing throughput on a large Series with realistic repetition.

Draws ``--unique`` distinct place texts from the shipped gazetteer (full addresses, short names,
county + township, township only, old names, pre-reform units), repeats them with a Zipf-like
frequency to ``--rows`` rows, and times :func:`kinmatch.normalize.places.parse_places`.

    python bench/bench_places.py                      # 1M rows, 50k distinct
    python bench/bench_places.py --rows 100000 --unique 5000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from kinmatch.data import load_table


def make_places(n_unique: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    counties = load_table("counties")
    current = counties[counties["status"] == "current"].reset_index(drop=True)
    old = load_table("place_history")
    towns = load_table("townships").merge(
        current[["code", "name", "short_name", "province", "prefecture"]],
        left_on="county_code", right_on="code", suffixes=("", "_county"))
    texts: set[str] = set()
    kinds = ["full", "short", "pref_short", "county_town", "town", "old", "commune", "town_village"]
    weights = [0.25, 0.15, 0.1, 0.2, 0.1, 0.05, 0.1, 0.05]
    while len(texts) < n_unique:
        kind = rng.choice(kinds, p=weights)
        if kind in ("full", "short", "pref_short"):
            r = current.iloc[rng.integers(len(current))]
            pref = r["prefecture"] if r["prefecture"] not in (r["province"], r["name"]) else ""
            text = {"full": r["province"] + pref + r["name"], "short": r["short_name"],
                    "pref_short": pref.rstrip("市") + r["short_name"]}[kind]
        elif kind == "old":
            r = old.iloc[rng.integers(len(old))]
            text = r["old_name"]
        else:
            r = towns.iloc[rng.integers(len(towns))]
            text = {"county_town": r["name_county"] + r["name"],
                    "town": r["name"],
                    "commune": r["short_name_county"] + r["short_name"] + "公社第" + "一二三四五"[rng.integers(5)] + "生产队",
                    "town_village": r["prefecture"] + r["short_name_county"] + r["short_name"] + "村"}[kind]
        texts.add(text)
    return pd.Series(sorted(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--unique", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    from kinmatch.normalize import places

    t0 = time.perf_counter()
    places.parse_place("河南省周口市太康县")  # builds the indexes
    places.parse_place("瑶池县")               # builds the sound index
    t_index = time.perf_counter() - t0

    distinct = make_places(args.unique, args.seed)
    rng = np.random.default_rng(args.seed)
    # Zipf-like repetition: a few places (big cities, common stations) dominate
    weights = 1.0 / np.arange(1, len(distinct) + 1) ** 0.8
    rows = distinct.iloc[rng.choice(len(distinct), size=args.rows, p=weights / weights.sum())]
    rows = rows.reset_index(drop=True)
    n_distinct = rows.nunique()

    places._parse_cached.cache_clear()
    t0, c0 = time.perf_counter(), time.process_time()
    out = places.parse_places(rows, prefix="home")
    t_parse, c_parse = time.perf_counter() - t0, time.process_time() - c0

    print(f"index build (first call):   {t_index:8.2f} s")
    print(f"rows:                       {len(rows):8d}   distinct: {n_distinct}")
    print(f"parse_places:               {t_parse:8.2f} s   "
          f"{len(rows) / t_parse:,.0f} rows/s   {n_distinct / t_parse:,.0f} distinct places/s")
    print(f"  CPU time (shared machine): {c_parse:8.2f} s   {n_distinct / c_parse:,.0f} distinct places/s")
    print(f"county found:               {out['home_county'].notna().mean():8.1%}")
    print(f"any level found:            {out['home_province'].notna().mean():8.1%}")
    print(f"mean score:                 {out['home_place_score'].mean():8.3f}")
    print(f"matched_by (top 8 of distinct):")
    first = out.loc[~rows.duplicated()]
    print(first["home_place_matched_by"].value_counts().head(8).to_string())


if __name__ == "__main__":
    main()
