"""Time and peak memory of the simulator at studio/national scale.

    python bench/bench_simulate.py                      # 1,000,000 reports x 10,000 residents
    python bench/bench_simulate.py --missing 100000 --residents 2000
    python bench/bench_simulate.py --missing 100000 --tracemalloc   # Python-level peak too

``--tracemalloc`` slows the run about 30x (every allocation is traced): use it on 10^5 reports.

Prints wall time, rows per second, the process's peak resident memory (``ru_maxrss``), the
deep size of the frames, and with ``--tracemalloc`` the peak of Python allocations.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kinmatch.datasets import simulate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", type=int, default=1_000_000)
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tracemalloc", action="store_true", help="also measure peak Python allocations")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    simulate(n_missing=100, n_residents=10, seed=args.seed)  # load reference tables and the char pool
    warmup = time.perf_counter() - start
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.tracemalloc:
        tracemalloc.start()
    start = time.perf_counter()
    sim = simulate(n_missing=args.missing, n_residents=args.residents, seed=args.seed)
    elapsed = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    if args.tracemalloc:
        tracemalloc.stop()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    frames = {name: getattr(sim, name) for name in ("missing", "residents", "truth", "distortions", "people")}
    sizes = {name: frame.memory_usage(deep=True).sum() / 2**20 for name, frame in frames.items()}
    print(f"simulate(n_missing={args.missing:,}, n_residents={args.residents:,}, seed={args.seed})")
    print(f"  reference data + char pool load: {warmup:.1f} s")
    print(f"  wall time: {elapsed:.1f} s ({args.missing / elapsed:,.0f} reports/s)"
          + (" [under tracemalloc]" if args.tracemalloc else ""))
    print(f"  peak RSS: {rss_peak:,.0f} MiB (after loading: {rss_before:,.0f} MiB)")
    if traced_peak is not None:
        print(f"  peak traced Python allocations: {traced_peak:,.0f} MiB")
    print("  frames (deep): " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in sizes.items()))
    print(f"  {sim!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
