"""The residents' statements stage (``records._stage_statements``) alone, cold and warm.

Each run is a fresh process (the tree given first on ``PYTHONPATH``) that reads the residents'
CSV as ``kinmatch link`` does, normalizes them in-process (``n_jobs=1``, the collector paused as
in the CLI) and prints the stage seconds the normalizer records: *cold* is the first pass (the
sound index and the tables built in that process, as the CLI meets them), *warm* the statements
stage of a second pass over the same frame. With ``--baseline-tree`` the runs alternate (base,
branch, base, ...) and the two trees' statement columns are compared.

    PYTHONPATH=$PWD python bench/bench_statements.py --residents /tmp/final7/e2e/受助人员.csv \
        --baseline-tree /tmp/base --repeat 3
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, pickle, sys, time
import kinmatch.normalize.records as records
from kinmatch.intake import read_residents

frame, _issues = read_residents(sys.argv[1])
cold, _ = records.normalize_residents(frame, n_jobs=1)
warm = {}
if sys.argv[3] == "1":
    # the statements stage alone again, on a fresh context (the caches warm), the collector
    # paused as in the first pass
    import gc
    gc.disable()
    ctx = records._context(frame, "resident", 1)
    for name, stage in records._STAGES:
        if name == "statements":
            started, cpu = time.perf_counter(), records._cpu_seconds()
            stage(ctx)
            warm = {"statements": (time.perf_counter() - started, records._cpu_seconds() - cpu)}
        else:
            stage(ctx)
with open(sys.argv[2], "wb") as out:
    pickle.dump({"seconds": cold.attrs["normalize_seconds"], "warm": warm,
                 "statement_places": cold["statement_places"].tolist(),
                 "statement_names": cold["statement_names"].tolist()}, out)
"""


def _run(tree: Path, residents: str, warm: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    with tempfile.NamedTemporaryFile(suffix=".pkl") as out:
        subprocess.run([sys.executable, "-c", _CHILD, residents, out.name, "1" if warm else "0"],
                       env=env, check=True, cwd=tree)
        with open(out.name, "rb") as f:
            return pickle.load(f)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", default="/tmp/final7/e2e/受助人员.csv")
    parser.add_argument("--baseline-tree", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-warm", action="store_true")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    trees = [("base", args.baseline_tree)] if args.baseline_tree else []
    trees.append(("branch", here))
    figures: dict[str, list] = {name: [] for name, _ in trees}
    outputs = {}
    for _ in range(args.repeat):
        for name, tree in trees:
            result = _run(tree, args.residents, not args.no_warm)
            wall, cpu = result["seconds"]["statements"]
            places = result["seconds"]["places"]
            warm = result["warm"].get("statements", (float("nan"), float("nan")))
            figures[name].append((cpu, wall, warm[1], places[1]))
            outputs[name] = (result["statement_places"], result["statement_names"])
            print(json.dumps({"tree": name, "statements_cold_cpu": cpu, "cold_wall": wall,
                              "warm_cpu": round(warm[1], 3), "places_cpu": places[1],
                              "load": os.getloadavg()[0]}), flush=True)
    for name, rows in figures.items():
        cold = [r[0] for r in rows]
        warm = [r[2] for r in rows]
        print(f"{name}: statements cold CPU min {min(cold):.3f} median {statistics.median(cold):.3f} s; "
              f"warm min {min(warm):.3f} median {statistics.median(warm):.3f} s; "
              f"residents' places CPU median {statistics.median(r[3] for r in rows):.3f} s")
    if "base" in outputs:
        same = outputs["base"] == outputs["branch"]
        print("statement columns identical:", same)
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
