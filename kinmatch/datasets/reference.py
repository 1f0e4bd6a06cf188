"""Reference data the simulator draws from, loaded once per process: the gazetteer (current
counties of the 31 provinces with their townships and abolished names) and the name pools.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kinmatch.data import load_table
from kinmatch.datasets import vocab


@dataclass(frozen=True)
class Gazetteer:
    counties: pd.DataFrame      # current counties of the 31 provinces, sorted by code
    province_keys: np.ndarray   # 2-digit province prefixes
    province_weights: np.ndarray
    county_start: np.ndarray    # per province: first row in counties, number of rows
    county_count: np.ndarray
    town_names: np.ndarray      # townships sorted by county row
    town_short: np.ndarray
    town_start: np.ndarray      # per county row
    town_count: np.ndarray
    old_names: dict             # county code -> abolished names now inside it


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    counties = load_table("counties")
    counties = counties[(counties["status"] == "current") & counties["code"].notna()]
    counties = counties[counties["code"].str[:2].isin(list(vocab.PROVINCE_POPULATION))]
    # statistical units (示范区, 开发区 ...) are nobody's hometown in a family's words
    counties = counties[~counties["name"].str.contains("示范|开发|管理区|管委|经济|高新|园区|新区|林区", regex=True)]
    counties = counties.sort_values("code").reset_index(drop=True)
    counties["merger_area"] = counties["dialect_subarea"].fillna(counties["dialect_area"]).fillna("N_Man")
    counties["province_key"] = counties["code"].str[:2]
    counties["short_name"] = counties["short_name"].fillna(counties["name"])
    keys = np.array(sorted(counties["province_key"].unique()))
    weights = np.array([vocab.PROVINCE_POPULATION[k] for k in keys])
    starts = np.searchsorted(counties["province_key"].to_numpy(), keys, side="left")
    ends = np.searchsorted(counties["province_key"].to_numpy(), keys, side="right")
    towns = load_table("townships")
    row_of = pd.Series(np.arange(len(counties)), index=counties["code"])
    towns = towns.assign(row=towns["county_code"].map(row_of)).dropna(subset=["row", "name"])
    towns = towns.sort_values(["row", "name"], kind="stable")
    town_rows = towns["row"].to_numpy().astype(int)
    town_start = np.searchsorted(town_rows, np.arange(len(counties)), side="left")
    town_count = np.searchsorted(town_rows, np.arange(len(counties)), side="right") - town_start
    history = load_table("place_history")
    history = history[(history.get("level", "county") == "county") & history["old_name"].notna()
                      & (history["old_name"] != history["new_name"])]
    old_names: dict[str, list[str]] = {}
    for new_code, old_name in zip(history["new_code"], history["old_name"]):
        old_names.setdefault(new_code, []).append(old_name)
    return Gazetteer(counties, keys, weights / weights.sum(), starts, ends - starts,
                      towns["name"].to_numpy(dtype=object),
                      towns["short_name"].fillna(towns["name"]).to_numpy(dtype=object),
                      town_start, town_count, {k: sorted(set(v)) for k, v in old_names.items()})


@functools.lru_cache(maxsize=1)
def name_pools():
    surnames = load_table("surname_freq", dtype={"weight": float})
    given = load_table("given_name_freq", dtype={"weight": float})
    pools = {}
    for (kind, sex), rows in given.groupby(["kind", "sex"]):
        pools[kind, sex] = (rows["given_name"].to_numpy(dtype=object),
                            (rows["weight"] / rows["weight"].sum()).to_numpy())
    return (surnames["surname"].to_numpy(dtype=object),
            (surnames["weight"] / surnames["weight"].sum()).to_numpy(), pools)


def pick(rng: np.random.Generator, values, n: int, p=None) -> np.ndarray:
    values = np.asarray(values, dtype=object)
    return values[rng.choice(len(values), size=n, p=p)]


def pick_weighted(rng: np.random.Generator, pool: tuple, n: int) -> np.ndarray:
    values, p = pool
    return pick(rng, values, n, p)
