"""Helpers the stage benchmarks share: normalized simulated data (cached on request) and best-of-n
timing in wall and CPU seconds."""

from __future__ import annotations

import pickle
import resource
import time
from pathlib import Path

import pandas as pd

import kinmatch
from kinmatch.datasets import simulate


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def normalized(n_residents: int, n_missing: int, seed: int, cache: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated residents and reports, normalized (~5 s at full size: cached when asked)."""
    if cache is not None and cache.exists():
        sim, residents, missing = pickle.loads(cache.read_bytes())
        if (len(residents), len(missing), getattr(sim, "seed", seed)) == (n_residents, n_missing, seed):
            return residents, missing
        print(f"{cache} holds another simulation than {n_residents} x {n_missing} seed {seed}: simulating")
    sim = simulate(n_missing=n_missing, n_residents=n_residents, seed=seed)
    residents, _ = kinmatch.normalize_residents(sim.residents)
    missing, _ = kinmatch.normalize_missing(sim.missing)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((sim, residents, missing)))
    return residents, missing


def timed(function, repeat: int):
    """``function()``'s result and its best wall and CPU seconds over ``repeat`` runs."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_s()
        result = function()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, cpu_s() - cpu)
    return result, best_wall, best_cpu
