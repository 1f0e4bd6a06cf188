"""Benchmark: name normalization throughput (parse_names + name keys) on simulated-like names.

Usage: ``python bench/bench_names.py [N] [--seed S]`` (default N = 1,000,000).

``python bench/bench_names.py --meet [N_MISSING N_RESIDENTS]`` measures instead how often the
name keys of true pairs meet on the simulator (``simulate(20000, 2000, seed=7)`` by default),
overall and for residents with a ``dialect_merger`` distortion, and the collision volume (mean
number of reports sharing a name key with a resident).

Names are drawn like real registers: surnames by frequency rank (Zipf over the shipped
``surname_readings`` table), given names of one or two characters from a Zipf-weighted pool, plus
the noise the domain sees (traditional characters, full-width spaces, (音) notes, placeholders,
station-assigned names, minority names). Each row also gets a dialect area (or none), because keys
depend on the area. Prints rows/s and unique values/s for each stage and the total.

Target (task brief): the whole normalization of 1M reports in < 2 min on 2 cores, so names
should take a small part of that.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from kinmatch.data import load_table
from kinmatch.normalize import names as names_mod
from kinmatch.normalize import phonetics
from kinmatch.normalize.text import to_traditional

GIVEN_POOL = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国文辉力春梅海燕鹏飞"
    "志强小红建华玲雪梅琴云峰波斌宇浩凯鑫晨阳佳怡欣悦子涵梓轩雨萱思彤一诺俊杰嘉豪永德福林"
    "金凤翠花淑珍素芬玉珍桂兰凤英桂芝秀珍玉英兴江山耀星忠宏成龙庆生荣发长顺祥贵宝富喜"
)
NOISE = ["无名氏", "流浪男", "安徽婆", "无名{n}号", "阿卜杜拉·买买提", "阿布都拉.麦麦提", "扎西顿珠",
         "二娃", "狗蛋", "老王", "阿明", "小红", "吴民{c}", "魏同{c}", "Chan Tai Man", "Zhang San"]
AREAS = [None, "N_Man", "N_Man_NE", "N_Man_Jin", "JH_Man", "SW_Man", "Wu", "Xiang", "Gan", "Hakka",
         "Min", "Yue", "P_T"]


def simulate_names(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    surnames = load_table("surname_readings")
    surnames = surnames[surnames["surname"].str.len() == 1].head(400)["surname"].to_numpy()
    s_weight = 1 / np.arange(1, len(surnames) + 1) ** 1.1
    pool = np.array(list(GIVEN_POOL))
    g_weight = 1 / np.arange(1, len(pool) + 1) ** 0.8
    sur = rng.choice(surnames, size=n, p=s_weight / s_weight.sum())
    g1 = rng.choice(pool, size=n, p=g_weight / g_weight.sum())
    g2 = rng.choice(pool, size=n, p=g_weight / g_weight.sum())
    two = rng.random(n) < 0.7
    names = np.where(two, np.char.add(np.char.add(sur, g1), g2), np.char.add(sur, g1)).astype(object)
    kind = rng.random(n)
    noisy = np.flatnonzero(kind < 0.08)
    for i in noisy:
        template = NOISE[rng.integers(len(NOISE))]
        names[i] = template.format(n=rng.integers(1, 500), c=pool[rng.integers(len(pool))])
    trad = np.flatnonzero((kind >= 0.08) & (kind < 0.11))
    names[trad] = [to_traditional(x) for x in names[trad]] if len(trad) else names[trad]
    noted = np.flatnonzero((kind >= 0.11) & (kind < 0.13))
    names[noted] = [x + "（音）" for x in names[noted]]
    spaced = np.flatnonzero((kind >= 0.13) & (kind < 0.14))
    names[spaced] = [x[0] + "\u3000" + x[1:] for x in names[spaced]]
    blank = kind >= 0.99
    names[blank] = None
    sources = rng.choice(np.array(["自报", "站内代名", "不详", None], dtype=object), size=n, p=[0.6, 0.1, 0.1, 0.2])
    areas = rng.choice(np.array(AREAS, dtype=object), size=n)
    return pd.DataFrame({"name": names, "name_source": sources, "area": areas})


def meet_figures(residents: pd.DataFrame, missing: pd.DataFrame, truth: pd.DataFrame,
                 distortions: pd.DataFrame) -> dict[str, float]:
    """Share of true pairs whose ``name_keys`` intersect (all pairs where both names are evidence;
    dialect_merger residents), keys per record, and reports sharing a key per resident."""
    res_keys = dict(zip(residents["resident_id"], residents["name_keys"]))
    res_ev = dict(zip(residents["resident_id"], residents["name_evidence"]))
    mis_keys = dict(zip(missing["missing_id"], missing["name_keys"]))
    pairs = truth[truth["resident_id"].map(res_ev).fillna(False).astype(bool)]
    met = np.array([bool(set(res_keys[r]) & set(mis_keys[m]))
                    for r, m in zip(pairs["resident_id"], pairs["missing_id"])])
    merged = set(distortions.loc[distortions["family"] == "dialect_merger", "resident_id"])
    in_merged = pairs["resident_id"].isin(merged).to_numpy()
    index: dict[str, set] = {}
    for position, keys in enumerate(missing["name_keys"]):
        for key in keys:
            index.setdefault(key, set()).add(position)
    volume = [len(set().union(*[index.get(k, set()) for k in keys])) if keys else 0
              for keys, ev in zip(residents["name_keys"], residents["name_evidence"]) if ev]
    return {"pairs": len(pairs), "met": met.mean(), "merger_pairs": int(in_merged.sum()),
            "merger_met": met[in_merged].mean() if in_merged.any() else float("nan"),
            "resident_keys": residents["name_keys"].map(len).mean(),
            "report_keys": missing["name_keys"].map(len).mean(),
            "reports_per_resident": float(np.mean(volume))}


def meet_main(n_missing: int, n_residents: int) -> None:
    from kinmatch.datasets import simulate
    from kinmatch.normalize.records import normalize_missing, normalize_residents

    sim = simulate(n_missing, n_residents, seed=7)
    residents, _ = normalize_residents(sim.residents)
    missing, _ = normalize_missing(sim.missing)
    # as normalize_residents made them, then with the resident-side keys (side="resident")
    resident_side = residents.copy()
    resident_side["name_keys"] = names_mod.name_columns(
        residents["name"], name_source=residents["name_source"], area=residents["accent_area"],
        side="resident")["name_keys"].to_numpy()
    for label, frame in (("as normalized", residents), ('side="resident"', resident_side)):
        figures = meet_figures(frame, missing, sim.truth, sim.distortions)
        print(f"[{label}] true pairs with a resident name: {figures['pairs']:,}, name keys meet "
              f"{figures['met']:.3f}; dialect_merger pairs: {figures['merger_pairs']:,}, meet "
              f"{figures['merger_met']:.3f}")
        print(f"[{label}] keys per record: residents {figures['resident_keys']:.2f}, reports "
              f"{figures['report_keys']:.2f}; reports sharing a name key with a resident: "
              f"{figures['reports_per_resident']:.2f} (mean)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="*", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--meet", action="store_true", help="measure key meets on the simulator")
    args = parser.parse_args()
    if args.meet:
        meet_main(*(args.n or [20000, 2000]))
        return
    args.n = args.n[0] if args.n else 1_000_000

    frame = simulate_names(args.n, args.seed)
    n_unique = frame["name"].nunique()
    n_pairs = len(frame[["name", "area"]].drop_duplicates())
    print(f"rows {len(frame):,}; distinct names {n_unique:,}; distinct (name, area) {n_pairs:,}")

    start = time.perf_counter()
    load_table("char_readings"), phonetics.name_keys("张三")  # table loading, reported apart
    print(f"table load + warm-up: {time.perf_counter() - start:.2f} s")

    # CPU time is reported next to wall time: the benchmark machine is shared, so wall time
    # includes waiting for other processes.
    start, cpu = time.perf_counter(), time.process_time()
    names_mod.parse_names(frame["name"], name_source=frame["name_source"])
    t_parse, c_parse = time.perf_counter() - start, time.process_time() - cpu
    print(f"parse_names: {t_parse:.1f} s wall, {c_parse:.1f} s CPU "
          f"({len(frame) / c_parse:,.0f} rows/s, {n_unique / c_parse:,.0f} distinct/s of CPU)")

    start, cpu = time.perf_counter(), time.process_time()
    columns = names_mod.name_columns(frame["name"], name_source=frame["name_source"], area=frame["area"])
    t_all, c_all = time.perf_counter() - start, time.process_time() - cpu
    print(f"name_columns (parse + pinyin + keys + jyutping, warm parse cache): {t_all:.1f} s wall, "
          f"{c_all:.1f} s CPU ({len(frame) / c_all:,.0f} rows/s, "
          f"{n_pairs / c_all:,.0f} distinct (name, area)/s of CPU)")
    keys = columns["name_keys"].map(len)
    print(f"keys per name: mean {keys.mean():.1f}, p99 {keys.quantile(0.99):.0f}, max {keys.max()}")
    print(columns["name_kind"].value_counts().to_string())
    print(f"total: {t_parse + t_all:.1f} s wall, {c_parse + c_all:.1f} s CPU for {len(frame):,} names")


if __name__ == "__main__":
    main()
