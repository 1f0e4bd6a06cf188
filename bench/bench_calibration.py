"""Do the match probabilities mean what they say? Predicted against observed, by probability band,
for every pair of the linking table (the top k per resident), on simulated data with known truth.

    python bench/bench_calibration.py                                   # 2,000 x 20,000, seeds 7 3 11
    python bench/bench_calibration.py --configuration southwest_silent  # the held-out simulator world
    python bench/bench_calibration.py --sim /work/data/sim1m_s7/sim.pkl --residents 10000   # 10k x 1M
    python bench/bench_calibration.py --cache /tmp/calib --markdown     # cache the normalized data
    python bench/bench_calibration.py --variant dependence              # the model's dependence options
    python bench/bench_calibration.py --decided-share 0.25              # recalibrated from decisions
    python bench/bench_calibration.py --save-runs /tmp/runs             # keep each run's vectors and model
    python bench/bench_calibration.py --rescore /tmp/runs/run_*.pkl --variants person person_tree
    python bench/bench_calibration.py --rescore RUN.pkl --frames FRAMES.pkl --variants person_clusters --bound
    python bench/bench_calibration.py --quality-cache /tmp/scale/kq --save-runs /tmp/runs   # bench_quality's data
    python bench/bench_calibration.py --rescore /tmp/runs/run_*.pkl --causes --decided-share 0.05 0.1 0.25

Per run: the band table (pairs, mean predicted probability, observed share true, difference
observed - predicted; a band is within target when |difference| <= 0.05, judged where it holds at
least 100 pairs), recall@1/10, false leads (residents without a report that get a candidate above
0.5) and how the model was fitted (π, λ, iterations, converged). ``--cache`` keeps the simulated,
normalized frames so another checkout (``PYTHONPATH=/work/main``) can be measured on the very same
data; ``--sim`` reads a pickled :class:`~kinmatch.datasets.Simulation` (its first ``--residents``
residents).

``--variants`` refits further models (``VARIANTS``: FellegiSunter options, e.g. ``person``, the
person posterior, and ``person_tree``, with the Chow–Liu correction for dependence) on the same
candidates and prints a table for each; ``--save-runs`` pickles each run's candidate vectors,
model, table, truth and the random pairs the pipeline drew, and ``--rescore`` prints the variants
of saved runs without linking again (at 1M a refit takes under a minute, a link several).
``person_clusters`` and ``person_linked`` (``DUPLICATE_VARIANTS``) also compare the reports with
each other and need the normalized reports (``--frames``: the file ``--cache`` wrote for the run).
``--bound`` prints, under each table, what a sigmoid of its weights fitted on the truth would give
(worst band, false leads): honest probabilities at that ranking, the least false leads they allow.
``--variant dependence`` refits the model on the same candidates with
``FellegiSunter(dependence="pairwise", prior="every_pair")`` (the correction for dependent
comparisons and the prior that counts every true pair; 30,000 random pairs for u, as the pipeline
draws) and ranks again. ``--decided-share S`` plays the studio: every ranked pair of a random
share S of the residents is decided (by the simulator's truth), the model is recalibrated on them
(:meth:`~kinmatch.match.model.FellegiSunter.calibrate`, ``--calibration`` sigmoid or isotonic),
and the tables are printed for the other residents' pairs only, before and after recalibration,
with the out-of-fold gate ``kinmatch train --calibrate --make-default`` would apply (several shares:
a table each; also on saved runs). ``--causes`` (with ``--rescore``) fits oracles on the truth at
the run's ranking — one shift of the prior, a sigmoid of the weight (prior and scale), a shift per
rank group — to show which cause of miscalibration dominates and what honest probabilities cost in
false leads. ``--quality-cache`` links bench_quality's cached data (its ``--cache`` folder), so the
tables are that bench's runs.
"""

from __future__ import annotations

import argparse
import pickle
import re
import resource
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

import kinmatch
from kinmatch.datasets import simulate
from kinmatch.match.evaluate import false_leads, recall_at_k
from kinmatch.match.pipeline import run_link

try:  # the checkout measured may predate calibration_table (a before/after run on main)
    from kinmatch.match.model.metrics import calibration_table
except ImportError:  # pragma: no cover - only on an older checkout
    calibration_table = None

VARIANTS = {
    "pipeline": {},
    "dependence": {"dependence": "pairwise", "prior": "every_pair"},
    "tree": {"dependence": "tree"},
    "person": {"posterior": "person"},
    "person_tree": {"posterior": "person", "dependence": "tree"},
    "person_em_tree": {"posterior": "person_em", "dependence": "tree"},
    "every_pair": {"prior": "every_pair"},
}
"""The models ``--variant`` / ``--variants`` refit on the same candidates: FellegiSunter options."""

DUPLICATE_VARIANTS = {"person_clusters": {}, "person_linked": {},
                      "tree_clusters": {"dependence": "tree"}, "tree_linked": {"dependence": "tree"}}
"""Variants scored with the reports' resemblance to each other (the duplicate-report model of
:mod:`kinmatch.match.dedupe`, fitted on the run's reports; the pipeline's model for the pairs):
``person_clusters``, :func:`~kinmatch.match.model.posterior.cluster_posterior` over the clusters
of each resident's best candidates whose reports the duplicate-report model calls one person (its
probability, with its prior of any two reports of the file, at least ``SAME_PERSON``);
``person_linked``, :func:`~kinmatch.match.model.posterior.linked_posterior` where a set of reports
weighing below ``-LINK_PENALTY_FROM`` bits to each other pays the rest of that weight; ``tree_*``,
the same on the weights of ``dependence="tree"`` (the value: the FellegiSunter options of the
model of the pairs). They need the
run's normalized reports (a run linked here has them; ``--rescore`` reads them from ``--frames``)."""

SAME_PERSON = 0.5
LINK_PENALTY_FROM = 10.0

BANDS = (0.0, 0.2, 0.5, 0.8, 0.95, 0.99, 1.0)
TOLERANCE = 0.05
MIN_PAIRS = 100


def band_table(proba: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """:func:`~kinmatch.match.model.metrics.calibration_table` (re-done here on a checkout without it)."""
    if calibration_table is not None:
        return calibration_table(proba, labels, BANDS)
    edges = np.asarray(BANDS)
    band = np.clip(np.searchsorted(edges, proba, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for i in range(len(edges) - 1):
        inside = band == i
        n = int(inside.sum())
        name = (f"<{edges[1]:g}" if i == 0 else f"≥{edges[i]:g}" if i == len(edges) - 2
                else f"{edges[i]:g}–{edges[i + 1]:g}")
        p = float(proba[inside].mean()) if n else float("nan")
        o = float(labels[inside].mean()) if n else float("nan")
        rows.append({"band": name, "pairs": n, "mean_predicted": p, "observed": o, "difference": o - p})
    return pd.DataFrame(rows)


def load_data(args, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Normalized residents and reports, the truth, and a label for the run."""
    if args.quality_cache and not args.sim and args.configuration == "default":
        # bench_quality's cache of the same simulation (its rates), so the tables match its figures
        path = Path(args.quality_cache) / f"quality_{args.residents}x{args.missing}_s{seed}.pkl"
        data = pickle.loads(path.read_bytes())
        label = f"{args.residents:,} x {args.missing:,} seed {seed} (bench_quality's data)"
        truth = data["truth"][["resident_id", "missing_id"]].astype(str).reset_index(drop=True)
        return data["residents"], data["missing"], truth, label
    if args.sim:
        label = f"{Path(args.sim).parent.name} (first {args.residents:,} residents)"
        key = f"{Path(args.sim).parent.name}_{args.residents}"
    else:
        label = f"{args.residents:,} x {args.missing:,} seed {seed} configuration {args.configuration}"
        key = f"{args.configuration}_{args.residents}_{args.missing}_{seed}"
    cache = Path(args.cache) / f"{key}.pkl" if args.cache else None
    if cache is not None and cache.exists():
        residents, missing, truth = pickle.loads(cache.read_bytes())
        return residents, missing, truth, label
    if args.sim:
        sim = pickle.loads(Path(args.sim).read_bytes())
        raw_residents = sim.residents.iloc[:args.residents]
        raw_missing = sim.missing
        truth = sim.truth[sim.truth["resident_id"].isin(set(raw_residents["resident_id"]))]
    else:
        sim = simulate(n_missing=args.missing, n_residents=args.residents, seed=seed, configuration=args.configuration)
        raw_residents, raw_missing, truth = sim.residents, sim.missing, sim.truth
    residents, _ = kinmatch.normalize_residents(raw_residents)
    missing, _ = kinmatch.normalize_missing(raw_missing)
    truth = truth[["resident_id", "missing_id"]].reset_index(drop=True)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((residents, missing, truth), protocol=pickle.HIGHEST_PROTOCOL))
    return residents, missing, truth, label


def model_line(model) -> str:
    pi = getattr(model, "share_with_report_", None)
    parts = [f"λ {getattr(model, 'lambda_', float('nan')):.3g}"]
    if pi is not None:
        parts.append(f"π {pi:.3f}")
    if getattr(model, "n_iter_", None) is not None:
        parts.append(f"{model.n_iter_} iterations ({'converged' if model.converged_ else 'NOT converged'})")
    if getattr(model, "calibration_", None) is not None:
        parts.append(f"calibration: {model.calibration_.method} from {model.calibration_.n_pairs} decided pairs")
    if getattr(model, "dependence_", None):
        parts.append(f"dependence: {len(model.dependence_)} two-way tables")
    if getattr(model, "report_shares_", None):
        parts.append("report shares 0..3: " + "/".join(f"{v:.3f}" for v in model.report_shares_))
    return ", ".join(parts)


def refit_table(run, top_k: int, variant: str, random_state: int | None = None,
                encoded=None, n_random_pairs: int | None = None, random_vectors=None,
                prescore=None) -> tuple[pd.DataFrame, object]:
    """The linking table of the same candidates scored by a model refitted on them with the
    options of ``VARIANTS[variant]`` (``"pipeline"``: the pipeline's model; with another
    ``random_state``, u from other random pairs). ``random_vectors``: the random pairs' vectors
    when known (else drawn and compared here); ``prescore``: the candidates' pre-score, which
    breaks ties in ranking as in the pipeline."""
    from dataclasses import replace

    from kinmatch.match import engine
    from kinmatch.match.model.fitting import fit_model, random_pairs
    from kinmatch.match.pipeline import score
    from kinmatch.match.rank import rank_order

    settings = run.settings
    if random_vectors is None:
        state = settings.random_state if random_state is None else random_state
        pairs = random_pairs(run.residents, run.missing, n_random_pairs or settings.n_random_pairs, state)
        if encoded is None:
            encoded = engine.encode(run.residents, run.missing, settings.comparisons)
        random_vectors = engine.compare_pairs(pairs, progress=False, encoded=encoded, n_jobs=1)
    vectors = run.vectors
    options = DUPLICATE_VARIANTS[variant] if variant in DUPLICATE_VARIANTS else VARIANTS[variant]
    # the pipeline's own fit (its EM restart included), with the variant's model options
    model = fit_model(vectors, random_vectors, run.n_residents,
                      replace(settings, model_options={**(settings.model_options or {}), **options}),
                      n_reports=run.n_reports)
    _, weight, probability = score(model, vectors, settings)
    if variant in DUPLICATE_VARIANTS:
        probability = duplicate_probability(run, variant, weight - model.prior_weight_)
    index = vectors.index.to_frame(index=False)
    rows, ranks = rank_order(index.iloc[:, 0].astype(str), index.iloc[:, 1].astype(str), weight, prescore, top_k)
    table = pd.DataFrame({"resident_id": index.iloc[rows, 0].astype(str).to_numpy(),
                          "missing_id": index.iloc[rows, 1].astype(str).to_numpy(), "rank": ranks,
                          "match_probability": probability[rows], "match_weight": weight[rows]})
    return table, model


def duplicate_probability(run, variant: str, log2_bayes: np.ndarray) -> np.ndarray:
    """The probabilities of ``DUPLICATE_VARIANTS`` for the run's candidate pairs (Bayes factors in
    bits, in the order of ``run.vectors``)."""
    from kinmatch.match.dedupe import DedupeSettings, _encode, _vectors, dedupe_reports
    from kinmatch.match.model import posterior

    missing = getattr(run, "missing", None)
    if missing is None:
        raise SystemExit(f"{variant} compares reports with each other: give the run's normalized frames (--frames)")
    missing = missing.reset_index(drop=True)
    wall, cpu = time.perf_counter(), time.process_time()
    report_model = dedupe_reports(missing).model
    index = run.vectors.index
    groups = pd.factorize(index.get_level_values(0).astype(str))[0]
    position = pd.Series(np.arange(len(missing)), index=missing["missing_id"].astype(str))
    report_at = position.reindex(index.get_level_values(1).astype(str)).to_numpy()
    left, right = posterior.linked_candidates(groups, log2_bayes)
    # the bench reads dedupe's own encoding of report pairs (no public call scores all pairs)
    encoded = _encode(missing, list(DedupeSettings().comparisons))
    link = report_model.weight_table(_vectors(encoded, report_at[left], report_at[right])).to_numpy().sum(axis=1)
    n_reports, n_residents = run.n_reports, run.n_residents
    if variant.endswith("_clusters"):
        same = link + report_model.prior_weight_ >= np.log2(SAME_PERSON / (1 - SAME_PERSON))
        clusters = posterior.candidate_clusters(len(groups), left, right, same)
        shares, _ = posterior.fit_cluster_share(groups, log2_bayes, n_reports, n_residents, clusters)
        probability = posterior.cluster_posterior(groups, log2_bayes, n_reports, shares, clusters)
    else:
        bits = np.minimum(link + LINK_PENALTY_FROM, 0.0)
        shares, _ = posterior.fit_linked_shares(groups, log2_bayes, n_reports, n_residents, left, right, bits)
        probability = posterior.linked_posterior(groups, log2_bayes, n_reports, shares, left, right, bits)
    print(f"   [{variant}] {len(left):,} report pairs among the residents' best {posterior.MAX_LINKED} candidates "
          f"compared; shares {np.round(shares, 3).tolist()}; {time.perf_counter() - wall:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU (with fitting the duplicate-report model)")
    return probability


def honest_bound(table: pd.DataFrame, truth: pd.DataFrame) -> str:
    """What honest probabilities of these very weights would give: a sigmoid of the match weight
    fitted on the truth, in sample (an oracle: it shows how many false leads calibration costs
    at this ranking, not a model to use)."""
    from sklearn.linear_model import LogisticRegression

    labels = truth_of(table, truth)
    weight = table["match_weight"].to_numpy(dtype=float)[:, None]
    if labels.all() or not labels.any():
        return "honest bound: not defined (one class)"
    fitted = LogisticRegression(C=1e6, max_iter=1000).fit(weight, labels).predict_proba(weight)[:, 1]
    bands = band_table(fitted, labels)
    judged = bands[bands["pairs"] >= MIN_PAIRS]
    leads = false_leads(table.assign(match_probability=fitted), truth)
    return (f"honest bound (a sigmoid of the weight fitted on the truth, in sample): worst band "
            f"{float(judged['difference'].abs().max()):.3f}, false leads {leads['residents_with_any_above']} "
            f"residents ({leads['pairs_above_threshold']} pairs)")


def causes(table: pd.DataFrame, truth: pd.DataFrame) -> None:
    """Which cause of miscalibration dominates (oracles fitted on the truth, in sample, at the same
    ranking): the prior alone (a shift of every weight by one number, slope 1), the prior and the
    scale (a sigmoid of the weight: the honest bound), a shift per rank group (rank 1 / 2-3 /
    4-10: competition within a resident) and a shift per group of a resident's number of
    candidates above 0.2 among its ranked pairs. Prints, for each, the shift(s) in bits, the worst
    band and the false leads."""
    from sklearn.linear_model import LogisticRegression

    labels = truth_of(table, truth)
    weight = table["match_weight"].to_numpy(dtype=float)
    ranks = table["rank"].to_numpy()

    def shift_of(chosen: np.ndarray) -> float:
        # the intercept of a logistic regression with the weight as an offset (slope fixed at 1):
        # solved by Newton's method on one number (scikit-learn has no offset)
        c = 0.0
        w, y = weight[chosen] * np.log(2), labels[chosen]
        for _ in range(50):
            p = 1 / (1 + np.exp(-(w + c)))
            step = (y - p).sum() / max((p * (1 - p)).sum(), 1e-9)
            c += step
            if abs(step) < 1e-9:
                break
        return c / np.log(2)

    def report(name: str, probability: np.ndarray, detail: str) -> None:
        bands = band_table(probability, labels)
        judged = bands[bands["pairs"] >= MIN_PAIRS]
        leads = false_leads(table.assign(match_probability=probability), truth)
        print(f"   [causes] {name}: {detail}; worst band {float(judged['difference'].abs().max()):.3f}, "
              f"false leads {leads['residents_with_any_above']}; " + "  ".join(
                  f"{r.band} {r.pairs}: {r.mean_predicted:.2f}→{r.observed:.2f}" for r in bands.itertuples()
                  if r.pairs >= MIN_PAIRS))

    everything = np.ones(len(table), bool)
    c = shift_of(everything)
    report("today", 1 / (1 + np.exp2(-weight)), "as linked")
    report("prior only (oracle)", 1 / (1 + np.exp2(-(weight + c))), f"shift {c:+.2f} bits")
    fitted = LogisticRegression(C=1e6, max_iter=1000).fit(weight[:, None] * np.log(2), labels)
    slope, intercept = float(fitted.coef_[0, 0]), float(fitted.intercept_[0] / np.log(2))
    report("prior and scale (oracle sigmoid)", 1 / (1 + np.exp2(-(slope * weight + intercept))),
           f"slope {slope:.2f}, shift {intercept:+.2f} bits")
    groups = {"1": ranks == 1, "2-3": (ranks >= 2) & (ranks <= 3), "4-10": ranks >= 4}
    shifted, parts = weight.copy(), []
    for name, chosen in groups.items():
        if labels[chosen].any() and not labels[chosen].all():
            shifted[chosen] = weight[chosen] + shift_of(chosen)
            parts.append(f"rank {name} {shift_of(chosen):+.2f}")
    report("prior per rank group (oracle)", 1 / (1 + np.exp2(-shifted)), ", ".join(parts))


def print_bands(args, bands: pd.DataFrame, title: str) -> float:
    judged = bands[bands["pairs"] >= MIN_PAIRS]
    worst = float(judged["difference"].abs().max()) if len(judged) else float("nan")
    print(f"-- {title}")
    if args.markdown:
        print("\n| band | pairs | mean predicted | observed | difference |\n|---|---:|---:|---:|---:|")
        for row in bands.itertuples():
            print(f"| {row.band} | {row.pairs:,} | {row.mean_predicted:.3f} | {row.observed:.3f} "
                  f"| {row.difference:+.3f} |")
    else:
        print(bands.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"   worst |difference| in bands with >= {MIN_PAIRS} pairs: {worst:.3f} "
          f"({'within' if worst <= TOLERANCE else 'OUTSIDE'} ±{TOLERANCE})")
    return worst


def truth_of(table: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    keys = set(zip(truth["resident_id"].astype(str), truth["missing_id"].astype(str)))
    return np.fromiter(((r, m) in keys for r, m in zip(table["resident_id"].astype(str),
                                                       table["missing_id"].astype(str))), bool, len(table))


def leads_line(table: pd.DataFrame, truth: pd.DataFrame) -> str:
    recall = recall_at_k(table, truth, ks=(1, 10))
    leads = false_leads(table, truth)
    return (f"recall@1 {recall['recall@1']:.3f}, recall@10 {recall['recall@10']:.3f}; false leads "
            f"{leads['residents_with_any_above']} residents ({leads['pairs_above_threshold']} pairs) of "
            f"{leads['residents_without_report']} without a report")


def print_run(args, label: str, variant: str, table: pd.DataFrame, truth: pd.DataFrame, model) -> float:
    """The band table of one linking table (all ranked pairs, then by rank), its recall and false leads."""
    is_true = truth_of(table, truth)
    print(f"   [{variant}] model: {model_line(model)}")
    print(f"   [{variant}] {leads_line(table, truth)}")
    if args.bound:
        print(f"   [{variant}] {honest_bound(table, truth)}")
    worst = print_bands(args, band_table(table["match_probability"].to_numpy(dtype=float), is_true),
                        f"{label}: {variant}, all ranked pairs")
    ranks = table["rank"].to_numpy()
    by_rank = (("rank 1", ranks == 1), ("ranks 2-3", (ranks >= 2) & (ranks <= 3)), ("ranks 4-10", ranks >= 4))
    for name, chosen in by_rank:
        bands = band_table(table["match_probability"].to_numpy(dtype=float)[chosen], is_true[chosen])
        print(f"   {name:10s} " + "  ".join(f"{row.band} {row.pairs}: {row.mean_predicted:.2f}→{row.observed:.2f}"
                                         for row in bands.itertuples() if row.pairs))
    return worst


def with_counts(run, n_residents: int, n_reports: int):
    """The run's fields (a LinkRun or a saved run's dict) plus its resident and report counts."""
    fields = run._asdict() if hasattr(run, "_asdict") else dict(run)
    return SimpleNamespace(**fields, n_residents=n_residents, n_reports=n_reports)


def one_run(args, seed: int) -> dict:
    residents, missing, truth, label = load_data(args, seed)
    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    run = run_link(residents, missing, top_k=args.top_k, progress=False)
    after = resource.getrusage(resource.RUSAGE_SELF)
    seconds = time.perf_counter() - wall
    cpu_seconds = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    run = with_counts(run, len(residents), len(missing))
    table, model = run.table, run.model
    if args.save_runs:
        save_run(args, seed, run, truth)
    print(f"\n== {label}: linked in {seconds:.0f} s wall, {cpu_seconds:.0f} s CPU of this process "
          f"(load {open('/proc/loadavg').read().split()[0]}), {len(table):,} ranked pairs")
    if args.variant != "pipeline":
        table, model = refit_table(run, args.top_k, args.variant)
    worst = print_run(args, label, args.variant, table, truth, model)
    for variant in args.variants:
        v_table, v_model = refit_table(run, args.top_k, variant)
        print_run(args, label, variant, v_table, truth, v_model)
    if args.oracle:
        oracle(args, run, truth)
    if args.refit_seeds:
        stability(args, run, truth, model)
    for share in args.decided_share:
        worst = decided_run(args, seed, table, truth, model, share)
    return {"worst": worst}


def rescore(args, path: str, frames: str | None = None) -> None:
    """The variants of ``--variants`` on a run saved by ``--save-runs``, without linking again
    (``frames``: the run's normalized frames, for the variants that compare reports)."""
    saved = pickle.loads(Path(path).read_bytes())
    run = with_counts({k: v for k, v in saved.items() if k not in ("n_residents", "n_reports")},
                      saved["n_residents"], saved["n_reports"])
    if frames:
        run.missing = pickle.loads(Path(frames).read_bytes())[1]
    label = Path(path).stem
    print(f"\n== {label} (saved run; load {open('/proc/loadavg').read().split()[0]})")
    print_run(args, label, "pipeline (as linked)", run.table, run.truth, run.model)
    if args.causes:
        causes(run.table, run.truth)
    for share in args.decided_share:
        seed = re.search(r"(\d+)$", label)  # the seed ends the saved run's name
        decided_run(args, int(seed.group(1)) if seed else None, run.table, run.truth, run.model, share)
    for variant in args.variants:
        wall, cpu = time.perf_counter(), time.process_time()
        v_table, v_model = refit_table(run, args.top_k, variant, random_vectors=run.random_vectors)
        print(f"   [{variant}] refitted and ranked in {time.perf_counter() - wall:.0f} s wall, "
              f"{time.process_time() - cpu:.0f} s CPU")
        print_run(args, label, variant, v_table, run.truth, v_model)


def save_run(args, seed, run, truth: pd.DataFrame) -> None:
    """Pickle what a refit or a rescoring of this run needs (its vectors, model, table, truth,
    counts) to ``--save-runs``, so variants can be scored without linking again."""
    key = Path(args.sim).parent.name if args.sim else f"{args.configuration}_{args.residents}_{args.missing}_{seed}"
    if args.quality_cache and not args.sim and args.configuration == "default":
        key = f"quality_{args.residents}x{args.missing}_s{seed}"
    path = Path(args.save_runs) / f"run_{key}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    from kinmatch.match import engine
    from kinmatch.match.model.fitting import random_pairs

    # the very random pairs the pipeline drew for u (same count and seed), compared again
    encoded = engine.encode(run.residents, run.missing, run.settings.comparisons)
    random_vectors = engine.compare_pairs(random_pairs(run.residents, run.missing, run.settings.n_random_pairs,
                                                       run.settings.random_state), progress=False, encoded=encoded)
    del encoded
    path.write_bytes(pickle.dumps({"vectors": run.vectors, "random_vectors": random_vectors, "model": run.model,
                                   "table": run.table, "truth": truth, "n_residents": run.n_residents,
                                   "n_reports": run.n_reports, "settings": run.settings},
                                  protocol=pickle.HIGHEST_PROTOCOL))


def oracle(args, run, truth: pd.DataFrame) -> None:
    """Diagnosis: the model with m counted from the true candidate pairs and the true number of
    true pairs as prior (u from the random pairs, as the pipeline's), scored over every candidate
    pair, with and without the correction for dependence. What is left wrong is the model's form,
    not its estimates."""
    from kinmatch.match import engine
    from kinmatch.match.model import FellegiSunter
    from kinmatch.match.model.base import level_matrix
    from kinmatch.match.model.dependence import pairwise_lifts
    from kinmatch.match.model.fitting import random_pairs
    from kinmatch.match.pipeline import score

    settings, model, vectors = run.settings, run.model, run.vectors
    encoded = engine.encode(run.residents, run.missing, settings.comparisons)
    random_vectors = engine.compare_pairs(random_pairs(run.residents, run.missing, settings.n_random_pairs,
                                                       settings.random_state), progress=False, encoded=encoded)
    index = vectors.index.to_frame(index=False).astype(str)
    keys = set(zip(truth["resident_id"].astype(str), truth["missing_id"].astype(str)))
    is_true = np.fromiter(((r, m) in keys for r, m in zip(index.iloc[:, 0], index.iloc[:, 1])), bool, len(index))
    m_true = {}
    for name in model.comparisons_:
        levels = vectors[name].to_numpy()
        counts = np.bincount(levels[is_true & (levels >= 0)], minlength=model.levels_[name]) + 0.5
        m_true[name] = counts / counts.sum()
    prior = is_true.sum() / len(run.residents) / len(run.missing)
    dependent = [n for n in model.comparisons_ if n not in (model.tf_columns or {})]
    lifts = pairwise_lifts(level_matrix(random_vectors, dependent, model.levels_), dependent, model.levels_)
    print(f"-- oracle: m from the {is_true.sum():,} true candidate pairs, prior {prior:.3g} (the model's "
          f"{model.lambda_:.3g}), all {len(vectors):,} candidate pairs")
    for title, tables in (("independent", None), ("pairwise dependence", lifts)):
        known = FellegiSunter.from_parameters(m_true, model.u_, prior, dependence_tables=tables,
                                              tf_columns=model.tf_columns, tf_levels=model.tf_levels,
                                              min_prob=model.min_prob)
        _, _, probability = score(known, vectors, settings)
        print_bands(args, band_table(probability, is_true), f"oracle, {title}")


def stability(args, run, truth: pd.DataFrame, model) -> None:
    """Refit on the same candidates with u from other random pairs: how far the model moves."""
    from kinmatch.match import engine

    encoded = engine.encode(run.residents, run.missing, run.settings.comparisons)
    n_pairs = args.refit_random_pairs or run.settings.n_random_pairs
    print(f"-- refits with {n_pairs:,} random pairs drawn with other seeds (the run's own: "
          f"{run.settings.n_random_pairs:,}, random_state {run.settings.random_state})")
    for state in args.refit_seeds:
        table, refit = refit_table(run, args.top_k, args.variant, state, encoded, n_pairs)
        moved = max(float(np.max(np.abs(refit.weights_[n] - model.weights_[n]))) for n in model.comparisons_)
        print(f"   random_state {state}: {model_line(refit)}; largest change of a level's weight {moved:.2f} bits "
              f"(prior {refit.prior_weight_ - model.prior_weight_:+.2f}); {leads_line(table, truth)}")
    if args.compare_model:
        from kinmatch.match.model import FellegiSunter

        other = FellegiSunter.from_json(args.compare_model)
        rows = []
        for n in model.comparisons_:
            if n in other.weights_ and len(other.weights_[n]) == len(model.weights_[n]):
                rows.append((n, float(np.max(np.abs(other.weights_[n] - model.weights_[n])))))
        print("   against " + args.compare_model + ": largest change per comparison (bits) "
              + ", ".join(f"{n} {d:.2f}" for n, d in rows))
    if args.save_model:
        model.to_json(args.save_model)


def decided_run(args, seed, table: pd.DataFrame, truth: pd.DataFrame, model, share: float | None = None) -> float:
    """Recalibrate on the ranked pairs of a share of the residents (``share``; None: the first
    ``--decided-share``); tables for the others."""
    share = args.decided_share[0] if share is None else share
    rng = np.random.default_rng(1000 + (seed or 0))
    residents = np.sort(table["resident_id"].astype(str).unique())
    decided_residents = set(residents[rng.random(len(residents)) < share])
    print(f"-- decided share {share:g}")
    is_decided_resident = table["resident_id"].astype(str).isin(decided_residents).to_numpy()
    decided = is_decided_resident & (table["rank"].to_numpy() <= args.decided_top)
    labels = truth_of(table, truth)
    from kinmatch.review.train import calibrate_decisions

    # what `kinmatch train --calibrate` does: the map, and its out-of-fold check on the decisions
    model.calibration_ = None  # the model as linked (an earlier share's map is not the model's)
    gate = calibrate_decisions(model, table["match_weight"].to_numpy(dtype=float)[decided], labels[decided],
                               table["resident_id"].to_numpy()[decided], args.calibration).gate
    print(f"   gate for --make-default: {'ADOPTED' if gate['beats'] else 'refused'} (out-of-fold Brier "
          f"{gate['before']:.4f} → {gate['after']:.4f}, noise {gate['noise']:.4f})")
    rest = table[~is_decided_resident]
    print(f"   {decided.sum():,} pairs decided ({labels[decided].sum():,} 同一人) of {len(decided_residents):,} "
          f"residents; the tables below are the other {rest['resident_id'].nunique():,} residents' {len(rest):,} pairs")
    rest_truth = truth[~truth["resident_id"].astype(str).isin(decided_residents)]
    print(f"   the model's: {leads_line(rest, rest_truth)}")
    before = band_table(rest["match_probability"].to_numpy(dtype=float), labels[~is_decided_resident])
    print_bands(args, before, "other residents, the model's probabilities")
    after = rest.assign(match_probability=model.probability_of_weight(rest["match_weight"].to_numpy(dtype=float)))
    print(f"   recalibrated: {leads_line(after, rest_truth)}")
    return print_bands(args, band_table(after["match_probability"].to_numpy(dtype=float), labels[~is_decided_resident]),
                       "other residents, recalibrated from the decisions")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--missing", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 3, 11])
    parser.add_argument("--configuration", default="default", help="a simulator configuration (CONFIGURATIONS)")
    parser.add_argument("--sim", help="a pickled Simulation to use instead of simulating (one run)")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--cache", help="folder for the normalized frames (reused when present)")
    parser.add_argument("--quality-cache", help="bench_quality's --cache folder: link its normalized data "
                        "(configuration default) instead of simulating here")
    parser.add_argument("--markdown", action="store_true", help="band tables as markdown")
    parser.add_argument("--variant", choices=tuple(VARIANTS), default="pipeline",
                        help="the model whose table is the run's (refitted on the same candidates)")
    parser.add_argument("--variants", nargs="*", choices=tuple(VARIANTS) + tuple(DUPLICATE_VARIANTS), default=[],
                        help="further models refitted on the same candidates, a table each")
    parser.add_argument("--rescore", nargs="*", default=[],
                        help="runs saved by --save-runs: print --variants for them without linking")
    parser.add_argument("--frames", nargs="*", default=[],
                        help="with --rescore, one per run: the normalized frames --cache wrote for it (for "
                             f"{', '.join(DUPLICATE_VARIANTS)})")
    parser.add_argument("--decided-share", type=float, nargs="*", default=[],
                        help="recalibrate on the ranked pairs of this share of the residents (several: a "
                             "table for each)")
    parser.add_argument("--decided-top", type=int, default=10,
                        help="with --decided-share: only the decided residents' candidates ranked this high are "
                             "decided (reviewers read the top few); default all ranked pairs")
    parser.add_argument("--calibration", choices=("sigmoid", "isotonic"), default="sigmoid")
    parser.add_argument("--oracle", action="store_true", help="diagnosis: m and prior from the truth")
    parser.add_argument("--refit-seeds", type=int, nargs="*", default=[],
                        help="refit with random pairs drawn with these random_states (stability)")
    parser.add_argument("--refit-random-pairs", type=int, help="random pairs of the refits (default: the run's)")
    parser.add_argument("--save-model", help="write the run's model JSON here (with --refit-seeds)")
    parser.add_argument("--compare-model", help="a model JSON to compare the run's weights with (--refit-seeds)")
    parser.add_argument("--bound", action="store_true",
                        help="also print the false leads of an oracle recalibration of each table's weights")
    parser.add_argument("--causes", action="store_true",
                        help="with --rescore: oracle shifts of the prior (all pairs, per rank group) and the "
                             "honest sigmoid, to see which cause of miscalibration dominates")
    parser.add_argument("--save-runs", help="folder to pickle each run's vectors, model and table into")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    if args.rescore:
        if args.frames and len(args.frames) != len(args.rescore):
            parser.error("--frames takes one file per --rescore run")
        for i, path in enumerate(args.rescore):
            rescore(args, path, args.frames[i] if args.frames else None)
        return 0
    for seed in ([None] if args.sim else args.seeds):
        one_run(args, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
