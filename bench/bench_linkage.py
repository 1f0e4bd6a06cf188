"""Linkage quality and speed on simulated data with known truth, against two baselines.

    python bench/bench_linkage.py                     # 2,000 residents x 20,000 reports, seed 7
    python bench/bench_linkage.py --residents 10000 --missing 1000000 --no-baselines   # scale run

Prints recall@1/@10/@50 and MRR overall and per distortion family for kinmatch, a splink model
(DuckDB; pinyin of the name, sex, birth year, province, height) and exact-name lookup; false leads
(candidates above 0.5 for residents with no report); wall time and peak memory of each method.
Needs the bench extra: ``pip install ".[bench]"``.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import sys
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--missing", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--out", type=Path, help="write the comparison table as CSV")
    args = parser.parse_args(argv)

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
