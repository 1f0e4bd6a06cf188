"""The whole pipeline at scale, from simulated canonical frames: simulate → normalize → link.

    python bench/bench_scale.py                                  # 10,000 residents x 1,000,000 reports
    python bench/bench_scale.py --residents 2000 --missing 200000 --seed 3   # a quicker look

Prints, per stage, wall time, CPU time of this process (on a shared machine wall time also
measures the neighbours; worker processes of the normalizers are counted as children) and peak
RSS (``resource.getrusage``), then the candidate pairs per pass and recall@1/10 against the
simulator's truth. Target (issue): 10k x 1M end to end under 15 min and under 8 GB.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import kinmatch
from kinmatch.datasets import simulate
from kinmatch.match.evaluate import false_leads, recall_at_k
from kinmatch.match.pipeline import run_link


def peak_rss_gb() -> float:
    """Peak RSS of this process and of its finished children (the normalizers' workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024 / 1024


def cpu_seconds() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


class Stage:
    """``with Stage("normalize"):`` prints the stage's wall and CPU seconds and the peak RSS so far."""

    rows: list[tuple[str, float, float, float]] = []

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        own, children = cpu_seconds()
        cpu = (own - self.cpu[0]) + (children - self.cpu[1])
        Stage.rows.append((self.name, wall, cpu, peak_rss_gb()))
        print(f"{self.name:<22} wall {wall:8.1f} s   cpu {cpu:8.1f} s   peak RSS {peak_rss_gb():5.2f} GB", flush=True)
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--missing", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--n-jobs", type=int, default=None, help="normalizer worker processes (default: theirs)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with Stage("simulate"):
        sim = simulate(n_missing=args.missing, n_residents=args.residents, seed=args.seed)
    print(f"  {len(sim.residents):,} residents x {len(sim.missing):,} reports, {len(sim.truth):,} true pairs")
    with Stage("normalize residents"):
        residents, _ = kinmatch.normalize_residents(sim.residents, n_jobs=args.n_jobs)
    with Stage("normalize reports"):
        missing, _ = kinmatch.normalize_missing(sim.missing, n_jobs=args.n_jobs)
    del sim.missing  # the canonical report frame is not needed any more: keep the peak down
    with Stage("link"):
        run = run_link(residents, missing, top_k=args.top_k, progress=False)
    total = time.perf_counter() - started
    print(f"{'end to end':<22} wall {total:8.1f} s   peak RSS {peak_rss_gb():5.2f} GB "
          f"(target < 900 s, < 8 GB: {'met' if total < 900 and peak_rss_gb() < 8 else 'NOT met'})")

    print("\ncandidate pairs per pass")
    print(run.candidate_counts.to_string(index=False))
    print(f"\ncompared pairs {len(run.vectors):,} ({len(run.vectors) / max(len(residents), 1):.0f} per resident)")
    recall = recall_at_k(run.table, sim.truth, ks=(1, 10))
    print(f"recall {recall}; false leads {false_leads(run.table, sim.truth)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
