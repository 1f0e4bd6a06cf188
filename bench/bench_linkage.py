"""Linkage quality and speed on simulated data with known truth, against two baselines.

    python bench/bench_linkage.py                     # 2,000 residents x 20,000 reports, seed 7
    python bench/bench_linkage.py --residents 10000 --missing 1000000 --no-baselines   # scale run
    python bench/bench_linkage.py --end-to-end --repeat 3    # from the station CSVs, each in a new process

Prints recall@1/@10/@50 and MRR overall and per distortion family for kinmatch, a splink model
(DuckDB; pinyin of the name, sex, birth year, province, height) and exact-name lookup; false leads
(candidates above 0.5 for residents with no report); wall time and peak memory of each method.
Needs the bench extra: ``pip install ".[bench]"``.

``--end-to-end`` times what a user waits for, from the same station files (``kinmatch simulate``'s
``受助人员.csv`` and ``寻人启事.csv``), each run in a fresh process with its imports: ``kinmatch link``
(the CLI, batch path) against the splink model run the way an analyst would (pandas reads the
CSVs, pypinyin spells the names, regexes take sex, birth year, province and height; then the
same splink model). The two alternate ``--repeat`` times; wall and CPU seconds (the process and
its children, so worker processes and DuckDB's threads count) and the load average are printed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kinmatch  # noqa: E402
from kinmatch.datasets import simulate  # noqa: E402
from kinmatch.match.evaluate import evaluate_by_family, false_leads  # noqa: E402

NAME_SURVIVES = {"name_exact", "homophone", "dialect_merger", "partial_name", "nickname", "traditional",
                 "minority_variant"}
NAME_LOST = {"assigned_name", "blank_name"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def name_survives(distortions: pd.DataFrame) -> pd.DataFrame:
    families = distortions.groupby("resident_id")["family"].agg(set)
    keep = families[families.map(lambda f: bool(f & NAME_SURVIVES) and not (f & NAME_LOST))]
    return pd.DataFrame({"resident_id": keep.index, "family": "name_survives_any_form"})


def report(method: str, candidates: pd.DataFrame, sim, seconds: float) -> pd.DataFrame:
    distortions = pd.concat([sim.distortions[["resident_id", "family"]], name_survives(sim.distortions)])
    table = evaluate_by_family(candidates, sim.truth, distortions, ks=(1, 10, 50))
    table.insert(0, "method", method)
    leads = false_leads(candidates, sim.truth) if "match_probability" in candidates else {}
    print(f"\n== {method}: {seconds:.1f} s, peak RSS so far {peak_rss_mb():.0f} MB; false leads: {leads}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return table


# ---------------------------------------------------------------------------------------------
# end to end from the station files

_PROVINCES = ("北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 "
              "广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾 香港 澳门").split()
_PROVINCE = re.compile("|".join(_PROVINCES))
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}


def _height_cm(text: pd.Series) -> pd.Series:
    """172, 172cm, 1.72米, 一米七二 → cm (what an analyst's regexes would catch)."""
    cm = pd.to_numeric(text.str.extract(r"(1\d\d)(?!\d)", expand=False), errors="coerce")
    metres = pd.to_numeric(text.str.extract(r"(1\.\d{1,2})\s*米", expand=False), errors="coerce") * 100
    spoken = text.str.extract(r"一米([一二三四五六七八九])([一二三四五六七八九零])?", expand=True)
    tens = spoken[0].map(_CN_DIGITS)
    units = spoken[1].map(_CN_DIGITS).fillna(0)
    return cm.fillna(metres).fillna(100 + tens * 10 + units).round().astype("Int64")


def _analyst_fields(frame: pd.DataFrame, id_column: str, event_column: str, place_column: str) -> pd.DataFrame:
    """The splink fields from a station file's Chinese columns, with pandas, regexes and pypinyin."""
    from pypinyin import Style, lazy_pinyin

    frame = frame.fillna("")
    names = frame["姓名"].str.replace(r"[^\u4e00-\u9fff]", "", regex=True)
    readings = {n: lazy_pinyin(n, style=Style.NORMAL) for n in names.unique() if n}
    event_year = pd.to_numeric(frame[event_column].str.extract(r"((?:19|20)\d\d)", expand=False), errors="coerce")
    birth_year = pd.to_numeric(frame["出生日期"].str.extract(r"((?:19|20)\d\d)", expand=False), errors="coerce")
    ages = frame["年龄"].str.findall(r"\d+").map(lambda a: sum(map(int, a)) / len(a) if a else float("nan"))
    birth_year = birth_year.fillna(event_year - ages.astype(float))
    province = frame[place_column].str.extract(f"({_PROVINCE.pattern})", expand=False)
    return pd.DataFrame({
        "unique_id": frame[id_column].astype(str),
        "name_pinyin": names.map(lambda n: "".join(readings[n]) if n else None),
        "surname_pinyin": names.map(lambda n: readings[n][0] if n else None),
        "sex": frame["性别"].map({"男": "M", "女": "F"}),
        "birth_year": birth_year.round().astype("Int64"),
        "province": province,
        "height": _height_cm(frame["身高"]),
    })


def splink_end_to_end(residents_csv: Path, missing_csv: Path, output: Path, top_k: int) -> int:
    """The analyst's splink run: read the station files, prepare the fields, link, write the CSV."""
    from baselines import splink_link_fields

    residents = pd.read_csv(residents_csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = pd.read_csv(missing_csv, dtype=str, keep_default_na=False, encoding="gb18030")
    left = _analyst_fields(residents, "编号", "入站日期", "发现地点")
    right = _analyst_fields(missing, "寻人编号", "走失日期", "户籍地")
    splink_link_fields(left, right, top_k=top_k).to_csv(output, index=False)
    return 0


def _timed_run(command: list[str], env: dict | None, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (the child and its own children) of one command, run in ``cwd`` (not a
    checkout: ``python -m`` puts the working folder first on the import path)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def end_to_end(args) -> int:
    from kinmatch.commands.demo import write_station_files
    from kinmatch.match.evaluate import recall_at_k

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_linkage_")).resolve()
    sim = simulate(n_missing=args.missing, n_residents=args.residents, seed=args.seed)
    files = write_station_files(sim, workdir)
    print(f"{len(sim.residents)} residents x {len(sim.missing)} reports in {workdir}")
    commands = {
        "kinmatch link": [sys.executable, "-m", "kinmatch", "link", str(files["residents"]), str(files["missing"]),
                          "-o", str(workdir / "kinmatch.csv"), "--top-k", str(args.top_k), "--no-progress"],
        "splink (own preprocessing)": [sys.executable, str(Path(__file__).resolve()), "--splink-run",
                                       str(files["residents"]), str(files["missing"]), str(workdir / "splink.csv"),
                                       "--top-k", str(args.top_k)],
    }
    # this checkout's kinmatch, whatever the caller's PYTHONPATH
    envs = {name: dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])) for name in commands}
    if args.baseline_tree:  # the same CLI from another checkout (e.g. main), interleaved for a fair before/after
        name = f"kinmatch link ({Path(args.baseline_tree).name})"
        ours = commands["kinmatch link"]
        commands[name] = [*ours[:-4], str(workdir / "baseline.csv"), *ours[-3:]]
        envs[name] = dict(os.environ, PYTHONPATH=str(Path(args.baseline_tree).resolve()))
    if not args.no_compile:
        # `pip install .` compiles kinmatch's modules to bytecode, as splink's and pandas' are in
        # the environment; a checkout run with PYTHONDONTWRITEBYTECODE set (or from a read-only
        # tree) would compile every module again in every run (~0.1 s). Compiled as installed, both
        # checkouts alike.
        for tree in {Path(env["PYTHONPATH"]) for env in envs.values()}:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "kinmatch")], check=True,
                           stdout=subprocess.DEVNULL)
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for _round in range(args.repeat):
        for name, command in commands.items():
            wall, cpu = _timed_run(command, envs.get(name), workdir)
            times[name].append((wall, cpu, os.getloadavg()[0]))
            print(f"{name:<28} wall {wall:6.2f} s  cpu {cpu:6.2f} s  load {os.getloadavg()[0]:.2f}", flush=True)
    for name, runs in times.items():
        walls, cpus = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
        print(f"== {name}: wall min {walls[0]:.2f} / median {walls[len(walls) // 2]:.2f} s, "
              f"cpu min {cpus[0]:.2f} / median {cpus[len(cpus) // 2]:.2f} s")
    for name, path in (("kinmatch link", "kinmatch.csv"), ("splink (own preprocessing)", "splink.csv")):
        candidates = pd.read_csv(workdir / path, dtype={"resident_id": str, "missing_id": str})
        recall = {k: round(v, 3) for k, v in recall_at_k(candidates, sim.truth, ks=(1, 10)).items()}
        print(f"{name}: recall {recall}")
    if args.baseline_tree:
        same = (workdir / "kinmatch.csv").read_bytes() == (workdir / "baseline.csv").read_bytes()
        print(f"candidate files of the two kinmatch checkouts {'identical' if same else 'DIFFER'}")
    return 0


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--splink-run":
        residents_csv, missing_csv, output = sys.argv[2:5]
        top_k = int(sys.argv[6]) if len(sys.argv) > 6 else 10
        return splink_end_to_end(Path(residents_csv), Path(missing_csv), Path(output), top_k)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--missing", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--out", type=Path, help="write the comparison table as CSV")
    parser.add_argument("--end-to-end", action="store_true", help="time kinmatch link and the analyst's splink "
                        "run from the station CSVs, each in a new process")
    parser.add_argument("--repeat", type=int, default=3, help="with --end-to-end: alternating runs of each")
    parser.add_argument("--no-compile", action="store_true",
                        help="with --end-to-end: time the checkouts without compiling their bytecode first "
                             "(pip install compiles it; a checkout under PYTHONDONTWRITEBYTECODE compiles each run)")
    parser.add_argument("--workdir", help="with --end-to-end: where to write the files (default: a new temp folder)")
    parser.add_argument("--baseline-tree", help="with --end-to-end: also run `kinmatch link` from this checkout "
                        "(e.g. /work/main), interleaved, and check that both write the same candidates")
    args = parser.parse_args(argv)
    if args.end_to_end:
        return end_to_end(args)

    started = time.perf_counter()
    sim = simulate(n_missing=args.missing, n_residents=args.residents, seed=args.seed)
    print(f"simulated {len(sim.residents)} residents x {len(sim.missing)} reports, "
          f"{len(sim.truth)} true pairs in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    residents_norm, _ = kinmatch.normalize_residents(sim.residents)
    missing_norm, _ = kinmatch.normalize_missing(sim.missing)
    normalize_seconds = time.perf_counter() - started
    print(f"normalized in {normalize_seconds:.1f} s (shared by kinmatch and splink)")

    tables = []
    started = time.perf_counter()
    importlib.import_module("kinmatch.match.rank")  # timed apart below; counted in the end-to-end time
    imported = sorted({name.split(".")[0] for name in sys.modules} & {"sklearn", "recordlinkage", "scipy"})
    import_seconds = time.perf_counter() - started
    candidates = kinmatch.link(residents_norm, missing_norm, top_k=args.top_k)
    link_seconds = time.perf_counter() - started
    tables.append(report("kinmatch", candidates, sim, normalize_seconds + link_seconds))
    loaded = ", ".join(imported) or "no scikit-learn, recordlinkage or scipy"
    print(f"kinmatch link stage {link_seconds:.2f} s, of which importing the linking modules "
          f"{import_seconds:.2f} s (loaded by then: {loaded})")

    if not args.no_baselines:
        from baselines import exact_name_lookup, splink_link

        started = time.perf_counter()
        splink_candidates = splink_link(residents_norm, missing_norm, top_k=args.top_k)
        splink_seconds = time.perf_counter() - started
        tables.append(report("splink", splink_candidates, sim, normalize_seconds + splink_seconds))
        print(f"splink link stage {splink_seconds:.2f} s (its imports included)")
        started = time.perf_counter()
        exact = exact_name_lookup(sim.residents, sim.missing, top_k=args.top_k)
        tables.append(report("exact_name", exact, sim, time.perf_counter() - started))

    combined = pd.concat(tables, ignore_index=True)
    if len(tables) > 1:
        wide = combined.pivot_table(index="family", columns="method", values="recall@10")
        print("\n== recall@10 by family and method")
        print(wide.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.out:
        combined.to_csv(args.out, index=False)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
