"""Candidate generation: time and peak memory of ``candidate_pairs`` on simulated data, optionally
against another implementation of the module (e.g. an older commit's) with the outputs compared.

    python bench/bench_candidates.py                      # 2,000 residents x 20,000 reports, seed 7
    python bench/bench_candidates.py 200 2000 --seed 3
    python bench/bench_candidates.py --cache /work/scratch/norm7.pkl      # reuse the normalized frames
    git show 38800f3:kinmatch/match/candidates.py > /tmp/candidates_old.py
    python bench/bench_candidates.py --reference /tmp/candidates_old.py   # before/after, same output?
    python bench/bench_candidates.py --reference /tmp/candidates_old.py --recall  # … and which finds more
    python bench/bench_candidates.py --save /tmp/pairs7.pkl     # keep this output (pairs, counts)
    python bench/bench_candidates.py --expect /tmp/pairs7.pkl   # … and check a later one against it

The frames go through ``kinmatch.match.rank._prepare`` first, as in ``run_link``. Prints the pairs,
the median and best wall seconds and the best CPU seconds of ``--repeat`` runs (with a reference,
the two are run in turn, so both see the same load on a shared machine), the peak memory traced
during one more call (tracemalloc: numpy and pandas buffers included), and what sending the result
from a worker process costs (pickle, unpickle; for ``packed_candidate_pairs`` also the unpack).
Exits non-zero if the reference's pairs, prescores or counts differ (unless ``--recall``: then
a change of output is expected, and what is printed is candidate recall, the share of residents
with a true report among their candidates, overall and per distortion family; a true pair dropped
here is lost for good). ``--save`` pickles the pairs and counts; ``--expect`` exits non-zero if
they differ from a saved output (compared in order and sorted by resident and report), so a refactor
can be checked against the output of the code before it.
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import cpu_s, normalized  # noqa: E402

from kinmatch.match import candidates
from kinmatch.match.rank import _prepare


def peak_mb(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def transfer(value, unpack: bool = False) -> str:
    """Pickle and unpickle times of ``value`` (what a forked worker's result costs to send)."""
    start = time.perf_counter()
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    dumped = time.perf_counter()
    back = pickle.loads(data)
    loaded = time.perf_counter()
    text = f"pickle {dumped - start:.3f} s, unpickle {loaded - dumped:.3f} s ({len(data) / 2**20:.1f} MB)"
    if unpack:
        back.unpack()
        text += f", unpack {time.perf_counter() - loaded:.3f} s"
    return text


FAMILIES = ["name_exact", "partial_name", "nickname", "name_one_char_off", "assigned_name", "blank_name",
            "age_error", "long_gap"]


def candidate_recall(pairs: pd.DataFrame, truth: pd.DataFrame, distortions: pd.DataFrame) -> dict[str, float]:
    """Share of residents with a true report whose candidates hold one, overall and per family."""
    true = truth[["resident_id", "missing_id"]].astype(str)
    found = true.merge(pairs[["resident_id", "missing_id"]].astype(str).assign(hit=True), how="left",
                       on=["resident_id", "missing_id"])
    hit = found.groupby("resident_id")["hit"].apply(lambda s: s.notna().any())
    out = {"overall": float(hit.mean())}
    for family in FAMILIES:
        ids = distortions.loc[distortions["family"] == family, "resident_id"].astype(str).unique()
        ids = hit.index.intersection(ids)
        out[family] = float(hit[ids].mean()) if len(ids) else float("nan")
    return out


def assert_same_output(pairs: pd.DataFrame, counts: pd.DataFrame, expected_pairs: pd.DataFrame,
                       expected_counts: pd.DataFrame) -> None:
    """Raise AssertionError unless the pairs (in order, and sorted by resident then report) and the
    per-pass counts are exactly the expected ones."""
    pd.testing.assert_frame_equal(pairs, expected_pairs, check_exact=True)
    def by_pair(frame):
        return frame.sort_values(["resident_id", "missing_id"], kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(by_pair(pairs), by_pair(expected_pairs), check_exact=True)
    pd.testing.assert_frame_equal(counts, expected_counts, check_exact=True)


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
    parser.add_argument("--save", type=Path, default=None, help="pickle the pairs and counts here")
    parser.add_argument("--expect", type=Path, default=None, help="a --save output that this one must equal")
    parser.add_argument("--recall", action="store_true",
                        help="print candidate recall per distortion family (simulates again for the truth)")
    args = parser.parse_args(argv)

    residents, missing = normalized(args.n_residents, args.n_missing, args.seed, args.cache)
    residents, missing = _prepare(residents, "resident"), _prepare(missing, "missing")
    print(f"{len(residents):,} residents x {len(missing):,} reports, seed {args.seed}")
    ways = {"current": candidates}
    if args.reference is not None:
        ways = {"reference": load_module(args.reference), **ways}
    results, walls, cpus = {}, {label: [] for label in ways}, {label: [] for label in ways}
    for _ in range(args.repeat):
        for label, module in ways.items():
            wall, cpu = time.perf_counter(), cpu_s()
            results[label] = module.candidate_pairs(residents, missing, progress=False)
            walls[label].append(time.perf_counter() - wall)
            cpus[label].append(cpu_s() - cpu)
    for label, module in ways.items():
        def run(module=module):
            return module.candidate_pairs(residents, missing, progress=False)

        print(f"{label:>9}: {len(results[label].pairs):,} pairs  {statistics.median(walls[label]):6.3f} s wall "
              f"(median of {args.repeat}; best {min(walls[label]):.3f})  {min(cpus[label]):6.3f} s CPU  "
              f"peak {peak_mb(run):7.1f} MB traced")
        print(f"{'':>9}  to a parent process: {transfer(results[label])}")
        if hasattr(module, "packed_candidate_pairs"):
            packed = module.packed_candidate_pairs(residents, missing, progress=False)
            print(f"{'':>9}  packed: {transfer(packed, unpack=True)}")
    if args.recall:
        from kinmatch.datasets import simulate

        sim = simulate(n_missing=args.n_missing, n_residents=args.n_residents, seed=args.seed)
        table = pd.DataFrame({label: candidate_recall(result.pairs, sim.truth, sim.distortions)
                              for label, result in results.items()})
        print("candidate recall (residents with a true report among their candidates)")
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
        return 0
    if args.save is not None:
        args.save.write_bytes(pickle.dumps((results["current"].pairs, results["current"].counts)))
        print(f"saved to {args.save}")
    if args.expect is not None:
        pairs, counts = pickle.loads(args.expect.read_bytes())
        try:
            assert_same_output(results["current"].pairs, results["current"].counts, pairs, counts)
        except AssertionError as error:
            print(f"output differs from {args.expect}: {error}")
            return 1
        print(f"output identical to {args.expect}")
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
