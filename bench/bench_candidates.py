"""Candidate generation: time and peak memory of ``candidate_pairs`` on simulated data, optionally
against another implementation of the module (e.g. an older commit's) with the outputs compared.

    python bench/bench_candidates.py                      # 2,000 residents x 20,000 reports, seed 7
    python bench/bench_candidates.py 200 2000 --seed 3
    python bench/bench_candidates.py --cache /work/scratch/norm7.pkl      # reuse the normalized frames
    git show 38800f3:kinmatch/match/candidates.py > /tmp/candidates_old.py
    python bench/bench_candidates.py --reference /tmp/candidates_old.py   # before/after, same output?

The frames go through ``kinmatch.match.rank._prepare`` first, as in ``run_link``. Prints the pairs,
wall and CPU seconds (best of ``--repeat``; on a shared machine the CPU figure is the steadier one)
and the peak memory traced during one more call (tracemalloc: numpy and pandas buffers included).
Exits non-zero if the reference's pairs, prescores or counts differ.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tracemalloc
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import normalized, timed  # noqa: E402
from kinmatch.match import candidates
from kinmatch.match.rank import _prepare


def peak_mb(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location("candidates_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_residents", type=int, nargs="?", default=2000)
    parser.add_argument("n_missing", type=int, nargs="?", default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=None, help="pickle of (simulation, residents, missing)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", type=Path, default=None, help="another candidates.py to compare with")
    args = parser.parse_args(argv)

    residents, missing = normalized(args.n_residents, args.n_missing, args.seed, args.cache)
    residents, missing = _prepare(residents, "resident"), _prepare(missing, "missing")
    print(f"{len(residents):,} residents x {len(missing):,} reports, seed {args.seed}")
    ways = {"current": candidates}
    if args.reference is not None:
        ways = {"reference": load_module(args.reference), **ways}
    results = {}
    for label, module in ways.items():
        def run(module=module):
            return module.candidate_pairs(residents, missing, progress=False)

        result, wall, cpu = timed(run, args.repeat)
        results[label] = result
        print(f"{label:>9}: {len(result.pairs):,} pairs  {wall:6.2f} s wall  {cpu:6.2f} s CPU  "
              f"peak {peak_mb(run):7.1f} MB traced")
    if "reference" in results:
        try:
            pd.testing.assert_frame_equal(results["current"].pairs, results["reference"].pairs, check_exact=True)
            pd.testing.assert_frame_equal(results["current"].counts, results["reference"].counts, check_exact=True)
        except AssertionError as error:
            print(f"outputs differ: {error}")
            return 1
        print("outputs identical (pairs in order, prescore, per-pass counts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
