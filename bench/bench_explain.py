"""Explaining a link run's candidates: the column-wise ``explain_pairs`` against ``explain_pair``
row by row, on the same inputs (the candidates ``run_link`` ranked), with the outputs compared.

    python bench/bench_explain.py                      # 2,000 residents x 20,000 reports, seed 7, top_k 50
    python bench/bench_explain.py 200 2000 --seed 3 --top-k 20
    python bench/bench_explain.py --cache /work/scratch/explain/norm7.pkl   # reuse the normalized frames

Prints the rows explained, and wall and CPU seconds of each way (median and best of ``--repeat``;
on a shared machine the CPU figure is the steadier one). Exits non-zero if any explanation differs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import cpu_s, normalized  # noqa: E402

from kinmatch.match import comparisons as cmp
from kinmatch.match import explain
from kinmatch.match.rank import WEIGHT_COLUMNS, run_link


def timed(function, repeat: int):
    """``function()``'s result and its wall and CPU seconds over ``repeat`` runs, each as
    (median, best)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_s()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_s() - cpu)
    return result, (statistics.median(walls), min(walls)), (statistics.median(cpus), min(cpus))


def seconds(figures: tuple[float, float]) -> str:
    return f"{figures[0]:.3f} s (best {figures[1]:.3f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n_residents", type=int, nargs="?", default=2000)
    parser.add_argument("n_missing", type=int, nargs="?", default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each way; median and best are printed")
    parser.add_argument("--cache", type=Path, help="pickle of (simulation, residents, missing) to reuse")
    args = parser.parse_args(argv)

    residents, missing = normalized(args.n_residents, args.n_missing, args.seed, args.cache)
    start = time.perf_counter()
    run = run_link(residents, missing, top_k=args.top_k, progress=False)
    print(f"link: {len(run.table):,} ranked rows in {time.perf_counter() - start:.1f} s")

    # the inputs run_link gave explain_pairs: its ranked pairs, their levels and partial weights
    table = run.table
    keys = pd.MultiIndex.from_frame(table[["resident_id", "missing_id"]])
    levels = run.vectors.reindex(keys)[cmp.COMPARISONS].reset_index(drop=True)
    weights = table[WEIGHT_COLUMNS].reset_index(drop=True)
    mark_freq = cmp.mark_frequency(run.missing["marks"])
    inputs = (table, levels, weights, run.residents, run.missing)

    old, old_wall, old_cpu = timed(lambda: explain._explain_pairs_reference(*inputs, mark_freq=mark_freq),
                                   args.repeat)
    new, new_wall, new_cpu = timed(lambda: explain.explain_pairs(*inputs, mark_freq=mark_freq), args.repeat)
    print(f"rows explained: {len(new):,}")
    print(f"old (explain_pair per row): {seconds(old_wall)} wall, {seconds(old_cpu)} CPU")
    print(f"new (explain_pairs):        {seconds(new_wall)} wall, {seconds(new_cpu)} CPU  "
          f"({old_wall[0] / new_wall[0]:.1f}x)")
    differ = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    if len(old) != len(new) or differ:
        print(f"DIFFERENT: {len(differ)} rows, e.g. row {differ[:1]}: {old[differ[0]]!r} vs {new[differ[0]]!r}"
              if differ else f"DIFFERENT lengths {len(old)} vs {len(new)}")
        return 1
    same_as_link = new == table["explanation"].tolist()
    print(f"identical: all {len(new):,} explanations; same as link's explanation column: {same_as_link}")
    return 0 if same_as_link else 1


if __name__ == "__main__":
    sys.exit(main())
