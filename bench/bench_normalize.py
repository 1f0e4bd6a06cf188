"""Benchmark: record-level normalizers over many missing-person reports.

    python bench/bench_normalize.py                 # 1,000,000 reports (the target: < 2 min, 2 cores)
    python bench/bench_normalize.py --n 50000       # quick run while developing
    python bench/bench_normalize.py --fixed-cost 5 --baseline-tree /work/main   # import + reference data

Prints records/s per stage and overall, and the peak resident memory (``resource.getrusage``).

Input: canonical missing-report frames built from a base of varied rows. The base comes from the
simulator (``kinmatch.datasets.simulate``, default) or from the hand-written pools below
(``--source hand``). The big frame samples every column independently from the base, so each
column keeps the base's number of distinct values (``--base`` rows) while rows are new
combinations: the cost of the unique-value caches is then realistic for a studio holding
``--base`` distinct spellings. ``--jobs`` is passed to ``normalize_missing(n_jobs=...)``.

``--fixed-cost N`` measures instead what every link run pays before its records: in a new process,
importing the CLI's link path, then normalizing one resident and one report (which loads every
reference table normalization reads: gazetteer, sound index, village pinyin, readings, dialect
lexicon), N times; with ``--baseline-tree`` alternating with another checkout (e.g. main).

Figures on the shared 2-core development machine (1,000,000 reports, base 200,000, --jobs 2;
105,738 distinct place texts over 走失地点 + 户籍地):

- before the places speed-up (3a02384): 48.1 s CPU in all (parent + workers), 45.7 s wall at
  load average 2.4 (62.2 s CPU, 214 s wall at load 6.7); places stage 27.7 s CPU / 25.9 s wall.
- after (a6a0144): 38.2 s CPU, 31.3 s wall at load average 2.2, peak RSS 2.6 GiB; places stage
  17.1 s CPU / 13.7 s wall (in one process: 27.0 -> 16.6 s CPU, identical output).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
                "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英文华建国红梅玉兰春花志强德福海燕永兴金山大山小明")
NICK = ["二娃", "狗蛋", "铁蛋", "毛毛", "小宝", "丫头", "大妞", "石头", "柱子", None, None, None]
PLACES = ["四川省广安市邻水县", "广安市岳池县", "河南省周口市太康县", "周口市", "安徽省黄山市歙县", "黄山市屯溪区",
          "山东省潍坊市诸城市", "诸城", "湖南省邵阳市隆回县", "贵州省毕节市", "云南省昭通市镇雄县",
          "江西省赣州市于都县", "广东省梅州市", "黑龙江省齐齐哈尔市", "重庆市万州区", "湖北省荆州市监利县",
          "河北省保定市", "甘肃省天水市秦安县", "广西玉林市", "浙江省温州市", "新疆喀什地区", "某地", None]
DIALECTS = ["四川话", "河南口音", "安徽口音", "山东话", "湖南话", "贵州口音", "云南口音", "客家话", "东北口音",
            "普通话", "粤语", "温州话", None, None]
DESCRIPTION_CLAUSES = [
    "左脸有黑痣", "右脸颊有痦子", "额头有疤", "前额有刀疤", "右手臂纹有青龙", "左臂纹身“忍”字", "胸前纹身蝴蝶",
    "左手小指缺失", "右手食指少一截", "走路一瘸一拐", "腿脚不便", "兔唇", "门牙缺失", "镶金牙", "龅牙",
    "左眼失明", "斜视", "谢顶", "驼背", "脖子上有肉瘤", "后背有烧伤疤痕", "右手背有胎记", "无明显特征",
    "无纹身", "偏瘦", "体型中等", "偏胖", "短发", "头发花白", "光头", "戴眼镜", "皮肤黝黑", "身体较壮",
]
HEALTH = ["老年痴呆", "疑似精神障碍", "智力低下", "聋哑", "癫痫", "健康", "记忆力差", "腿脚不便", "精神分裂",
          "反应迟钝", None, None, None]


def _hand_base(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Varied canonical missing-report rows from the hand pools (no real people)."""
    def pick(pool, size=n):
        return [pool[i] for i in rng.integers(0, len(pool), size)]

    years = rng.integers(1940, 2015, n)
    months = rng.integers(1, 13, n)
    days = rng.integers(1, 29, n)
    birth = []
    for y, m, d, style in zip(years, months, days, rng.integers(0, 5, n)):
        birth.append([f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日", f"{y}.{m}", f"{y}", None][style])
    miss_years = rng.integers(2005, 2024, n)
    missing_date = [f"{y}/{m}/{d}" if s else f"{y}年{m}月" for y, m, d, s in
                    zip(miss_years, months, days, rng.integers(0, 3, n))]
    age = [None if b else f"{a}岁" if s else f"约{a}岁" for b, a, s in
           zip(birth, rng.integers(3, 90, n), rng.integers(0, 2, n))]
    heights = [f"{h}cm" if s == 0 else f"约{h}" if s == 1 else f"1.{h - 100}米" if s == 2 else None
               for h, s in zip(rng.integers(120, 190, n), rng.integers(0, 4, n))]
    descriptions = []
    for k in rng.integers(0, 4, n):
        clauses = pick(DESCRIPTION_CLAUSES, k)
        descriptions.append("，".join(clauses) if clauses else None)
    names = [s + "".join(pick(GIVEN, g)) for s, g in zip(pick(SURNAMES), rng.integers(1, 3, n))]
    return pd.DataFrame({
        "missing_id": [f"B{i:07d}" for i in range(n)],
        "name": names, "alias": pick(NICK), "sex": pick(["男", "女", "女性", "1", "未知"]),
        "birth_date": birth, "age": age, "height": heights, "missing_date": missing_date,
        "missing_place": pick(PLACES), "hometown": pick(PLACES), "dialect": pick(DIALECTS),
        "description": descriptions, "clothing": pick(["蓝色上衣", "黑色外套", None]),
        "health": pick(HEALTH), "contact": None, "source": pick(["家属", "公安", "平台"]),
    })


def build_reports(n: int, base: int, seed: int = 7, source: str = "simulate") -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(seed)
    origin = "hand pools"
    if source == "simulate":
        from kinmatch.datasets import simulate

        base_frame = simulate(n_missing=base, n_residents=10, seed=seed).missing
        origin = "kinmatch.datasets.simulate"
    else:
        base_frame = _hand_base(base, rng)
    base_frame = base_frame.reset_index(drop=True)
    columns = {}
    for column in base_frame.columns:
        if column == "missing_id":
            continue
        picks = rng.integers(0, len(base_frame), n)
        columns[column] = base_frame[column].to_numpy(dtype=object)[picks]
    frame = pd.DataFrame(columns)
    frame.insert(0, "missing_id", [f"M{i:08d}" for i in range(n)])
    frame["source_row"] = np.arange(n) + 2
    frame.attrs["kind"] = "missing"
    return frame, origin


FIXED_COST_RUN = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import kinmatch.cli, kinmatch.commands.link, kinmatch.match.pipeline
import pandas as pd
t1, c1 = time.perf_counter(), time.process_time()
from kinmatch.normalize import records
resident = pd.DataFrame({"resident_id": ["R1"], "name": ["张伟"], "sex": ["男"], "age": ["约60岁"],
                         "found_date": ["2023-11-05"], "found_place": ["河南省周口市太康县十里铺村"],
                         "accent": ["河南口音"], "description": ["左脸有黑痣"], "statements": ["老家好像是邻水那边"]})
report = pd.DataFrame({"missing_id": ["M1"], "name": ["张伟"], "sex": ["男"], "birth_date": ["1960年"],
                       "missing_date": ["2020-03"], "missing_place": ["太康县"], "hometown": ["河南省周口市太康县"],
                       "description": ["左脸有黑痣"]})
records.normalize_residents(resident, n_jobs=1)
records.normalize_missing(report, n_jobs=1)
t2, c2 = time.perf_counter(), time.process_time()
print(t1 - t0, c1 - c0, t2 - t1, c2 - c1)
"""


def fixed_cost(runs: int, baseline_tree: str | None) -> None:
    """Import plus reference-data load in new processes (see the module docstring)."""
    import subprocess
    import tempfile

    trees = {"this checkout": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    if baseline_tree:
        trees[os.path.basename(os.path.abspath(baseline_tree))] = baseline_tree
    results: dict[str, list[list[float]]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
            # run outside any checkout: ``python -c`` puts the working folder first on the import path
            out = subprocess.run([sys.executable, "-c", FIXED_COST_RUN], env=env, check=True, capture_output=True,
                                 text=True, cwd=tempfile.gettempdir()).stdout.split()
            results[name].append([float(v) for v in out])
            print(f"{name:<14} import {results[name][-1][0]:.2f} s wall {results[name][-1][1]:.2f} s cpu; "
                  f"reference data {results[name][-1][2]:.2f} s wall {results[name][-1][3]:.2f} s cpu; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    for name, rows in results.items():
        median = np.median(np.array(rows), axis=0)
        print(f"== {name}: median import {median[0]:.2f} s wall / {median[1]:.2f} s cpu, reference data "
              f"{median[2]:.2f} s wall / {median[3]:.2f} s cpu, total cpu {median[1] + median[3]:.2f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="reports to normalize")
    parser.add_argument("--base", type=int, default=200_000, help="distinct rows sampled from")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (n_jobs)")
    parser.add_argument("--source", choices=["simulate", "hand"], default="simulate",
                        help="where the base rows come from")
    parser.add_argument("--fixed-cost", type=int, metavar="N", help="measure import + reference-data load N times")
    parser.add_argument("--baseline-tree", help="with --fixed-cost: alternate with this checkout (e.g. /work/main)")
    args = parser.parse_args(argv)
    if args.fixed_cost:
        fixed_cost(args.fixed_cost, args.baseline_tree)
        return

    from kinmatch.normalize import records

    t0 = time.perf_counter()
    reports, origin = build_reports(args.n, min(args.base, args.n), args.seed, args.source)
    built = time.perf_counter() - t0
    uniques = {c: reports[c].nunique() for c in ("name", "birth_date", "hometown", "description")}
    print(f"input: {len(reports):,} reports from {origin} (built in {built:.1f}s); "
          f"distinct: {uniques}")

    def cpu_seconds():
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    t0, cpu0 = time.perf_counter(), cpu_seconds()
    normalized, issues = records.normalize_missing(reports, n_jobs=args.jobs)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    load = os.getloadavg()[0]
    # CPU time is what the code costs; wall time also counts waiting for a shared machine.
    print(f"  {'stage':<14} {'wall s':>8} {'cpu s':>8} {'records/s (cpu)':>16}")
    for stage, (wall, stage_cpu) in normalized.attrs.get("normalize_seconds", {}).items():
        rate = f"{len(reports) / stage_cpu:,.0f}" if stage_cpu > 0.05 else "-"
        print(f"  {stage:<14} {wall:8.1f} {stage_cpu:8.1f} {rate:>16}")
    print(f"normalize_missing: {elapsed:.1f}s wall, {cpu:.1f}s cpu, {len(reports) / elapsed:,.0f} records/s "
          f"(wall), {len(reports) / cpu:,.0f} records/s (cpu); {len(issues):,} issues, "
          f"{normalized.shape[1] - reports.shape[1]} columns added")
    print(f"machine load average during the run: {load:.1f} on {os.cpu_count()} cores "
          f"(wall time grows with other people's jobs; cpu time does not)")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(f"peak memory (ru_maxrss): {peak_kb / 1024:,.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
