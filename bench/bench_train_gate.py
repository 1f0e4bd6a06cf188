"""When does a model trained on reviewers' decisions become the default? (kinmatch train --make-default)

Simulate, link, decide every ranked pair by the simulator's truth, train, and print the gate of
kinmatch.review.train.compare_models: out-of-fold ROC AUC of the trained model, the linking run's
AUC on the same decided pairs, the difference, its bootstrap noise and the verdict.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_train_gate.py
"""

import sys
import tempfile
import time
from pathlib import Path

import kinmatch
from kinmatch.review.store import Store
from kinmatch.review.train import train_from_store

CASES = ((1, 60, 3), (2, 200, 3), (3, 400, 4))  # (seed, residents, top K); reports = 10 × residents


def main() -> int:
    folder = Path(tempfile.mkdtemp())
    for seed, n_residents, top_k in CASES:
        sim = kinmatch.datasets.simulate(n_missing=n_residents * 10, n_residents=n_residents, seed=seed)
        candidates = kinmatch.link(sim.residents, sim.missing, top_k=top_k, progress=False)
        store = Store(folder / f"s{seed}.db")
        store.load_candidates(candidates, sim.residents, sim.missing, run_id="bench")
        truth = set(zip(sim.truth["resident_id"].astype(str), sim.truth["missing_id"].astype(str)))
        for resident_id, missing_id in zip(candidates["resident_id"], candidates["missing_id"]):
            store.decide(resident_id, missing_id, "same" if (resident_id, missing_id) in truth else "not_same", "bench")
        start = time.perf_counter()
        result = train_from_store(store)
        seconds = time.perf_counter() - start
        gate = result.gate
        print(f"seed {seed}: {result.n_pairs} decisions ({gate['n_same']} 同一人); ROC AUC trained (CV) "
              f"{gate['trained']:.3f}, current {gate['current']:.3f}, difference {gate['difference']:+.3f}, "
              f"noise (bootstrap SD) {gate['noise']:.3f}; becomes default: {gate['beats']}; train {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
