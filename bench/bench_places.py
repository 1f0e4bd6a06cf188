"""Benchmark: place parsing throughput on a large Series with realistic repetition.

Draws ``--unique`` distinct place texts from the shipped gazetteer (full addresses, short names,
county + township, township only, old names, pre-reform units), repeats them with a Zipf-like
frequency to ``--rows`` rows, and times :func:`kinmatch.normalize.places.parse_places`.

    python bench/bench_places.py                      # 1M rows, 50k distinct
    python bench/bench_places.py --rows 100000 --unique 5000
    python bench/bench_places.py --quality-only         # only the garbling recall table
    python bench/bench_places.py --reports 寻人启事.csv --baseline-tree /tmp/base --repeat 3
                                                        # the reports' place stage, this tree against another

Figures on the shared 2-core machine (defaults: 1M rows, 49,894 distinct, one process):
before the speed-up (3a02384) 4,038 distinct places/s CPU (12.4 s); after (a6a0144) 4,981/s
(10.0 s), identical readings and quality table. On the simulator's reports (bench_normalize:
full addresses, fewer sound look-ups) the places stage of normalize_missing in one process went
from 27.0 to 16.6 s CPU for 105,738 distinct texts over 2M cells (3,900 -> 6,400 distinct/s).

The quality table garbles county names the way DOMAIN.md describes (a homophone character, a
dialect merger of the county's own area, an abolished name) and reports how often the true county
is the top reading and among the top 5 candidates.
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
                    "commune": (r["short_name_county"] + r["short_name"] + "公社第"
                                + "一二三四五"[rng.integers(5)] + "生产队"),
                    "town_village": r["prefecture"] + r["short_name_county"] + r["short_name"] + "村"}[kind]
        texts.add(text)
    return pd.Series(sorted(texts))


_MERGER_SWAPS = {  # family → (from initial/final, to) applied to one syllable of the short name
    "n_l": [("n", "l"), ("l", "n")],
    "retroflex": [("zh", "z"), ("ch", "c"), ("sh", "s"), ("z", "zh"), ("c", "ch"), ("s", "sh")],
    "f_h": [("hu", "fu"), ("fu", "hu"), ("hui", "fei"), ("fei", "hui"), ("huang", "fang")],
    "hu_wu": [("hu", "wu"), ("huang", "wang"), ("wu", "hu"), ("wang", "huang")],
    "n_ng": [("eng", "en"), ("en", "eng"), ("ing", "in"), ("in", "ing")],
    "r_y_l": [("r", "y")],
}


def _syllable_swaps(syl: str, families) -> list[str]:
    out = []
    for fam in families:
        for a, b in _MERGER_SWAPS.get(fam, []):
            if fam == "n_ng" and syl.endswith(a) and not syl.endswith("g" + a[-1:]) or \
                    fam == "n_ng" and a.endswith("g") and syl.endswith(a):
                out.append(syl[: -len(a)] + b)
            elif fam != "n_ng" and syl.startswith(a) and (len(a) > 1 or not syl.startswith(("zh", "ch", "sh"))):
                out.append(b + syl[len(a):])
    return [o for o in out if o != syl]


def quality(seed: int, n: int = 300, verbose: bool = False) -> None:
    from pypinyin import lazy_pinyin

    from kinmatch.normalize import places
    from kinmatch.normalize.dialects import area_mergers

    rng = np.random.default_rng(seed)
    chars = load_table("common_chars")["char"].tolist()
    by_reading: dict[str, list[str]] = {}
    for ch in chars:
        by_reading.setdefault(lazy_pinyin(ch)[0], []).append(ch)
    counties = load_table("counties")
    cur = counties[(counties["status"] == "current")
                   & ~counties["name"].str.contains("开发区|高新|园区|管理|示范")
                   & (counties["short_name"].str.len() == 2)].reset_index(drop=True)

    pref_of = dict(zip(counties["code"], counties["prefecture_code"]))
    failures: list[str] = []

    def hit(county, prefecture, truth) -> bool:
        # a county-level city that became a prefecture (阜阳市 342101 → 阜阳市 341200) is read
        # right when the reading is that prefecture with no county
        return county in truth or (county is None and prefecture in {pref_of.get(t) for t in truth})

    def evaluate(label, cases):
        top1 = top5 = 0
        for text, truth, area in cases:
            m = places.parse_place(text, accent_area=area)
            top1 += hit(m.county_code, m.prefecture_code, truth)
            cands = places.place_candidates(text, k=5, accent_area=area)
            found = any(hit(c, p, truth) for c, p in zip(cands["county_code"], cands["prefecture_code"]))
            top5 += found
            if not found and len(failures) < 40:
                failures.append(f"{label[:10]} {text} → {m.name} (truth {sorted(truth)})")
        k = max(len(cases), 1)
        print(f"  {label:34} n={len(cases):4d}  top-1 {top1 / k:6.1%}  top-5 {top5 / k:6.1%}")

    homophone, merged = [], []
    for r in cur.sample(frac=1.0, random_state=seed).itertuples(index=False):
        suffix = r.name[-1] if r.name[-1] in "县市区旗" else ""
        pos = int(rng.integers(2))
        syl = lazy_pinyin(r.short_name)[pos]
        alts = [c for c in by_reading.get(syl, []) if c != r.short_name[pos]]
        if alts and len(homophone) < n:
            ch = alts[int(rng.integers(len(alts)))]
            homophone.append((r.short_name[:pos] + ch + r.short_name[pos + 1:] + suffix, {r.code}, None))
        fams = area_mergers(r.dialect_area, r.dialect_subarea if isinstance(r.dialect_subarea, str) else None)
        swaps = [s for s in _syllable_swaps(syl, fams) if s in by_reading]
        if swaps and len(merged) < n:
            new = swaps[int(rng.integers(len(swaps)))]
            ch = by_reading[new][0]
            merged.append((r.short_name[:pos] + ch + r.short_name[pos + 1:] + suffix, {r.code}, r.dialect_area))
    hist = load_table("place_history")
    hist = hist[(hist["level"] == "county") & ~hist["old_name"].isin(set(cur["name"]))
                & ~hist["old_name"].str.contains("郊区|城区|矿区")]
    succ = hist.groupby("old_code")["new_code"].agg(set)
    first = hist[hist["rank"] == "0"].drop_duplicates("old_code").sample(n, random_state=seed)
    old = [(r.old_name, succ[r.old_code], None) for r in first.itertuples(index=False)]
    print("garbled county names (truth = the county; top-5 = among place_candidates(k=5)):")
    evaluate("homophone character (no accent)", homophone)
    evaluate("dialect merger (speaker's area)", merged)
    evaluate("abolished county name", old)
    if verbose:
        print("\n".join(failures))


_STAGE_SCRIPT = r"""
import gc, sys, time
gc.disable()  # as in `kinmatch link`, which normalizes with the collector paused
import pandas as pd
texts = open(sys.argv[1], encoding="utf-8").read().split("\n")
share = 256  # the pipeline parses the reports' places in shares of this many distinct texts
from kinmatch.normalize import places
def parse():
    for start in range(0, len(texts), share):
        places.parse_places(pd.Series(texts[start:start + share], dtype=object))
started = time.process_time()
parse()
cold = time.process_time() - started
places._parse_cached.cache_clear()
started = time.process_time()
parse()
print(cold, time.process_time() - started)
"""


def report_places(path: str) -> list[str]:
    """The distinct place texts (走失地点, 户籍地) of a report file, sorted as the pipeline shares them."""
    import kinmatch

    reports = kinmatch.read_missing(path)
    reports = reports[0] if isinstance(reports, tuple) else reports
    texts = pd.concat([reports[column] for column in ("missing_place", "hometown") if column in reports])
    return sorted({text for text in texts if isinstance(text, str) and text})


def stage_ab(reports: str, baseline: str | None, repeat: int) -> None:
    """CPU seconds of the reports' place stage alone, in a fresh process per run (cold: the tables
    loaded as the texts meet them; warm: the same texts again with the tables loaded), this tree
    and ``baseline`` alternately."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    if reports.endswith(".txt"):  # distinct texts already, one a line
        texts = sorted({text for text in open(reports, encoding="utf-8").read().split("\n") if text})
    else:
        texts = report_places(reports)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
        handle.write("\n".join(texts))
    trees = {"this tree": str(Path(__file__).resolve().parents[1])}
    if baseline:
        trees["baseline"] = str(Path(baseline).resolve())
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    try:
        for _round in range(repeat):
            for name, tree in trees.items():
                out = subprocess.run([sys.executable, "-c", _STAGE_SCRIPT, handle.name], check=True, text=True,
                                     capture_output=True, env={**os.environ, "PYTHONPATH": tree}, cwd=tree)
                runs[name].append(tuple(map(float, out.stdout.split())))
    finally:
        os.unlink(handle.name)
    print(f"{len(texts):,} distinct place texts of {reports}, in shares of 256, collector paused; "
          f"CPU s per run, {repeat} alternating rounds (load {os.getloadavg()[0]:.1f})")
    for name, values in runs.items():
        cold, warm = sorted(v[0] for v in values), sorted(v[1] for v in values)
        print(f"  {name:10} cold median {cold[len(cold) // 2]:.2f} (min {cold[0]:.2f})   "
              f"warm median {warm[len(warm) // 2]:.2f} (min {warm[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", help="time the place stage of this report file's place texts instead (a .txt "
                        "file: the texts, one a line)")
    parser.add_argument("--baseline-tree", help="with --reports: also time this checkout, alternately")
    parser.add_argument("--repeat", type=int, default=3, help="with --reports: rounds")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--unique", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="list quality failures")
    args = parser.parse_args()
    if args.reports:
        stage_ab(args.reports, args.baseline_tree, args.repeat)
        return
    if args.quality_only:
        quality(args.seed, verbose=args.verbose)
        return

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
    print("matched_by (top 8 of distinct):")
    first = out.loc[~rows.duplicated()]
    print(first["home_place_matched_by"].value_counts().head(8).to_string())
    quality(args.seed)


if __name__ == "__main__":
    main()
