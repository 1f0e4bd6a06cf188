"""Where true pairs are lost, and recall per distortion family, on simulated data with known truth.

    python bench/bench_quality.py                              # 2,000 residents x 20,000 reports, seed 7
    python bench/bench_quality.py --seeds 7 3 11               # several seeds, one table each
    python bench/bench_quality.py --seeds 7 3 11 --baseline    # without clothing, sex a wall
    python bench/bench_quality.py --residents 10000 --missing 1000000 --no-uncapped   # scale (~6-10 min, 5 GB)

For every resident with a true report, the best fate of its true pairs, in this order:

* ``top10``: a true report ranks 1-10;
* ``below10``: a true pair was compared (it is in ``run_link(...).vectors``) but ranks below 10;
* ``capped``: no true pair was compared, but the passes propose one when no cap applies (the same
  passes with every per-pass and union cap lifted; skipped with ``--no-uncapped``, then these
  count as ``never``);
* ``never``: no pass proposes a true pair even uncapped (its keys never meet, or a hard
  constraint such as a recorded-sex mismatch excludes it; ``sex_differs`` counts the residents
  whose recorded sex differs from every true report's).

Printed per distortion family (``Simulation.distortions``; a resident counts in each of its
families, plus ``name_survives_any_form`` and ``no_usable_name``), then recall@1/10/50 and false
leads (residents without a report with a candidate above 0.5).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_linkage import NAME_LOST, name_survives  # noqa: E402

from kinmatch.datasets import simulate  # noqa: E402
from kinmatch.match.candidates import CandidateSettings, candidate_pairs  # noqa: E402
from kinmatch.match.evaluate import evaluate_by_family, false_leads, first_true_rank  # noqa: E402
from kinmatch.match.pipeline import run_link  # noqa: E402
from kinmatch.match.settings import LinkSettings, default_comparisons  # noqa: E402

FATES = ("top10", "below10", "capped", "never")
RATES = {"age_in_birth_date": 0.2}
"""Simulator rates beyond the defaults: ages written in the birth-date cell (0 by default until
intake keeps such cells)."""
UNCAPPED = 10**7


def uncapped_settings(settings: CandidateSettings) -> CandidateSettings:
    """The same passes with every cap lifted (what the passes propose before any cap)."""
    passes = tuple(p.__class__(**(p.to_dict() | {"cap": UNCAPPED})) for p in settings.passes)
    return CandidateSettings(**(settings.to_dict() | {"passes": passes, "max_per_resident": UNCAPPED,
                                                       "nameless_max_per_resident": UNCAPPED}))


def families(sim) -> pd.DataFrame:
    """resident_id, family: the simulator's families plus two groupings by what is left of the name."""
    lost = sim.distortions[sim.distortions["family"].isin(NAME_LOST)][["resident_id"]].drop_duplicates()
    return pd.concat([sim.distortions[["resident_id", "family"]], name_survives(sim.distortions),
                      lost.assign(family="no_usable_name")], ignore_index=True)


def pair_keys(frame: pd.DataFrame) -> pd.Index:
    return pd.Index(frame["resident_id"].astype(str) + "\x1f" + frame["missing_id"].astype(str))


def fates(run, sim, uncapped: pd.DataFrame | None) -> pd.DataFrame:
    """One row per resident with a true report: its fate (:data:`FATES`) and whether its recorded
    sex differs from every true report's."""
    truth = sim.truth.astype(str)
    true_keys = pair_keys(truth)
    ranks = first_true_rank(run.table, truth)
    vectors = run.vectors.index.to_frame(index=False)
    vectors.columns = ["resident_id", "missing_id"]
    compared = set(truth["resident_id"][true_keys.isin(pair_keys(vectors.astype(str)))])
    proposed = (set(truth["resident_id"][true_keys.isin(pair_keys(uncapped.astype(str)))])
                if uncapped is not None else set())
    out = pd.DataFrame({"resident_id": ranks.index})
    out["fate"] = np.select([ranks.to_numpy() <= 10, out["resident_id"].isin(compared),
                             out["resident_id"].isin(proposed)], list(FATES[:3]), FATES[3])
    sex_r = run.residents.set_index(run.residents["resident_id"].astype(str))["sex_code"]
    sex_m = run.missing.set_index(run.missing["missing_id"].astype(str))["sex_code"]
    differs = (truth["resident_id"].map(sex_r).to_numpy() != truth["missing_id"].map(sex_m).to_numpy())
    known = truth["resident_id"].map(sex_r).notna().to_numpy() & truth["missing_id"].map(sex_m).notna().to_numpy()
    all_differ = pd.Series(differs & known, index=truth["resident_id"]).groupby(level=0).all()
    out["sex_differs"] = out["resident_id"].map(all_differ).fillna(False).astype(bool)
    return out


def fate_table(fate: pd.DataFrame, family: pd.DataFrame) -> pd.DataFrame:
    groups = pd.concat([fate.assign(family="overall"), fate.merge(family.drop_duplicates(), on="resident_id")])
    table = groups.pivot_table(index="family", columns="fate", values="resident_id", aggfunc="count", fill_value=0)
    table = table.reindex(columns=list(FATES), fill_value=0)
    table.insert(0, "residents", table.sum(axis=1))
    table["sex_differs"] = groups.groupby("family")["sex_differs"].sum()
    order = ["overall"] + sorted(i for i in table.index if i != "overall")
    return table.loc[order]


def baseline_settings() -> LinkSettings:
    """The settings before issue 12's evidence: no clothing comparisons, a sex mismatch excluded
    by every pass (for before/after tables on the same simulated data)."""
    candidates = CandidateSettings().with_pass("name_sound", any_sex=False)
    return LinkSettings(comparisons=[c for c in default_comparisons() if not c.name.startswith("clothing")],
                        candidates=candidates)


def one_seed(n_residents: int, n_missing: int, seed: int, with_uncapped: bool, baseline: bool = False) -> dict:
    started = time.perf_counter()
    sim = simulate(n_missing=n_missing, n_residents=n_residents, seed=seed, rates=RATES)
    run = run_link(sim.residents, sim.missing, top_k=50, progress=False,
                   settings=baseline_settings() if baseline else None)
    linked = time.perf_counter() - started
    uncapped = None
    if with_uncapped:
        with_truth = run.residents[run.residents["resident_id"].astype(str).isin(set(sim.truth["resident_id"]))]
        uncapped = candidate_pairs(with_truth, run.missing, uncapped_settings(run.settings.candidate_settings()),
                                   progress=False).pairs[["resident_id", "missing_id"]]
    family = families(sim)
    print(f"\n== {n_residents} x {n_missing}, seed {seed}: linked in {linked:.0f} s, "
          f"{len(run.vectors):,} candidate pairs" + (f", {len(uncapped):,} uncapped" if uncapped is not None else ""))
    print("-- where true pairs are lost (residents)")
    print(fate_table(fates(run, sim, uncapped), family).to_string())
    recall = evaluate_by_family(run.table, sim.truth, family, ks=(1, 10, 50))
    leads = false_leads(run.table, sim.truth, threshold=run.settings.review_threshold)
    print(f"-- recall; false leads: {leads['residents_with_any_above']} residents "
          f"({leads['pairs_above_threshold']} pairs) of {leads['residents_without_report']} without a report")
    print(recall.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return {"recall": recall, "false_leads": leads}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--missing", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--no-uncapped", action="store_true", help="skip the uncapped candidates (capped = never)")
    parser.add_argument("--baseline", action="store_true", help="without clothing, sex a wall (baseline_settings)")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    for seed in args.seeds:
        one_seed(args.residents, args.missing, seed, not args.no_uncapped, args.baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
