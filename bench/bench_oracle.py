"""Where ranking loses the true pairs that were compared: the fitting, the independence
assumption, or the comparisons' information. One linking run, its candidates ranked four ways.

    python bench/bench_oracle.py --seeds 7                                   # 2,000 x 20,000
    /work/wt/heavy python bench/bench_oracle.py --residents 10000 --missing 1000000 --seeds 7 \\
        --cache /tmp/scale/kq --runs /tmp/oracle                             # 10k x 1M
    python bench/bench_oracle.py ... --runs /tmp/oracle                      # again, from the saved run
    python bench/bench_oracle.py ... --refits '{}' '{"m_estimate": "held_out"}' --no-supervised
    python bench/bench_oracle.py ... --prescore-share 0.5 --tag share05      # another candidate set

The data and the families are ``bench_quality``'s (``--cache``: its normalized pickles); the run is
``run_link`` with the default settings (``--model-options`` as ``bench_quality``'s;
``--prescore-share`` as its, saved under ``--tag``). ``--runs DIR``
pickles the run (the candidate vectors, the model, the linking table, the truth, the random pairs of
the u estimate and a larger random sample, as ``bench_calibration.save_run`` keeps them) and reads it
back on the next call, so the rankings can be redone without linking again.

Every resident's compared candidates ranked by:

* ``em``: the pipeline's model (the assignment EM's m, u from 30,000 random pairs) — the linking
  table's ranking, so its figures are ``bench_quality``'s;
* ``truth_nb``: the same naive-Bayes form with m counted from the true candidate pairs and u from
  the truth (the candidate pairs that are not true, counted exactly, plus the pairs no pass
  proposed, estimated from ``--truth-random-pairs`` random pairs), the prior the number of true
  pairs — the bound of fitting; ``truth_m`` (that m, the model's u) and ``truth_u`` (the model's m,
  that u) split it;
* ``supervised`` and ``pairwise_lr``: a gradient-boosted classifier
  (``HistGradientBoostingClassifier``) on the comparisons' levels (categorical), the term
  frequencies and the EM's weights, which models any interaction among them, and a logistic
  regression on the levels one-hot and every two comparisons' joint levels
  (:func:`pairwise_logistic_scores`), each cross-fitted: fitted on half the residents, ranking the
  other half, and swapped — the bound of the independence assumption for these comparisons (what
  is still lost there, the comparisons do not carry);
* ``refit {...}`` (``--refits``): the pipeline's fit again on the same pairs and random pairs, with
  those model options (``{}``: today's fit; ranks here count a tie in the true pair's favour);
* per comparison level, the EM's weight against the truth's (bits) and how recall@10 moves when
  that level alone gets the truth's weight, sorted by that move (then per comparison).

Printed: recall@1/@10 per distortion family (``bench_quality``'s families) and false leads
(residents without a report with a candidate above 0.5) for each ranking, and the residents whose
true pair was compared: in the top 10 / below.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_calibration import save_run, with_counts  # noqa: E402
from bench_quality import candidate_experiment, pair_keys, simulated  # noqa: E402

from kinmatch.match import engine  # noqa: E402
from kinmatch.match.evaluate import evaluate_by_family, false_leads, first_true_rank  # noqa: E402
from kinmatch.match.model import FellegiSunter  # noqa: E402
from kinmatch.match.model.base import level_matrix  # noqa: E402
from kinmatch.match.model.fitting import fit_model, random_pairs  # noqa: E402
from kinmatch.match.pipeline import run_link, score  # noqa: E402
from kinmatch.match.settings import LinkSettings  # noqa: E402

THRESHOLD = 0.5


# ---------------------------------------------------------------------------------------------
# the run


def load_run(args, seed: int) -> dict:
    """The run of ``seed`` (linked here, or read from ``--runs``) with the truth, the families and
    whether each resident has a usable name."""
    n_res, n_mis = args.residents, args.missing
    data = simulated(n_res, n_mis, seed, args.cache)
    key = f"quality_{n_res}_{n_mis}_{seed}" + (f"_{args.tag}" if args.tag else "")
    path = Path(args.runs) / f"run_{key}.pkl" if args.runs else None
    if path is not None and path.exists():
        saved = pickle.loads(path.read_bytes())
        print(f"\n== {n_res} x {n_mis}, seed {seed}: run read from {path}")
    else:
        settings = LinkSettings(model_options=args.model_options) if args.model_options else LinkSettings()
        if args.prescore_share is not None:
            settings = candidate_experiment(settings, False, False, None, prescore_share=args.prescore_share)
        wall, cpu = time.perf_counter(), time.process_time()
        run = run_link(data["residents"], data["missing"], top_k=50, progress=False, settings=settings)
        print(f"\n== {n_res} x {n_mis}, seed {seed}: linked in {time.perf_counter() - wall:.0f} s "
              f"({time.process_time() - cpu:.0f} CPU s; load {open('/proc/loadavg').read().split()[0]}), "
              f"{len(run.vectors):,} candidate pairs")
        run = with_counts(run, len(data["residents"]), len(data["missing"]))
        if path is not None:
            # bench_calibration's pickle: vectors, the pipeline's random pairs, model, table, truth
            save_run(SimpleNamespace(save_runs=str(path.parent), sim=None, configuration="quality",
                                     residents=n_res, missing=n_mis), f"{seed}_{args.tag}" if args.tag else seed,
                     run, data["truth"])
            saved = pickle.loads(path.read_bytes())
        else:
            saved = {"vectors": run.vectors, "model": run.model, "table": run.table, "truth": data["truth"],
                     "settings": run.settings, "n_residents": run.n_residents, "n_reports": run.n_reports}
        del run
    if "large_random_vectors" not in saved or "random_vectors" not in saved:
        # the records as the run compared them (bench_quality's frames are normalized already)
        encoded = engine.encode(data["residents"], data["missing"], saved["settings"].comparisons)
        if "random_vectors" not in saved:
            saved["random_vectors"] = engine.compare_pairs(random_pairs(
                data["residents"], data["missing"], saved["settings"].n_random_pairs, saved["settings"].random_state),
                progress=False, encoded=encoded)
        large = random_pairs(data["residents"], data["missing"], args.truth_random_pairs, random_state=12345)
        saved["large_random_vectors"] = engine.compare_pairs(large, progress=False, encoded=encoded)
        del encoded
        if path is not None:
            path.write_bytes(pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL))
    residents = data["residents"]
    saved["named"] = (residents.set_index(residents["resident_id"].astype(str))["name_evidence"]
                      .fillna(True).astype(bool))
    saved["family"] = data["family"]
    return saved


# ---------------------------------------------------------------------------------------------
# ranking


class Ranker:
    """The candidate pairs' residents and truth, and the rank of each resident's best true pair
    under any score (1 + the resident's pairs scoring strictly higher)."""

    def __init__(self, vectors: pd.DataFrame, truth: pd.DataFrame):
        index = vectors.index
        self.resident_codes = np.asarray(index.codes[0])
        self.resident_ids = pd.Index(index.levels[0].astype(str))
        self.n = len(self.resident_ids)
        truth = truth.astype(str)
        keys = pd.Index(index.get_level_values(0).astype(str) + "\x1f" + index.get_level_values(1).astype(str))
        self.is_true = keys.isin(pair_keys(truth))
        self.with_truth = pd.Index(truth["resident_id"].unique())
        has_truth = self.resident_ids.isin(self.with_truth)
        self.without_truth = np.flatnonzero(~has_truth)

    def ranks(self, score: np.ndarray) -> pd.Series:
        """Rank of the best true pair per resident with a true report (inf: none compared)."""
        best = np.full(self.n, -np.inf)
        np.maximum.at(best, self.resident_codes[self.is_true], score[self.is_true])
        above = np.bincount(self.resident_codes, weights=(score > best[self.resident_codes]), minlength=self.n)
        rank = np.where(np.isfinite(best), above + 1, np.inf)
        return pd.Series(rank, index=self.resident_ids).reindex(self.with_truth, fill_value=np.inf)

    def false_leads(self, probability: np.ndarray) -> int:
        """Residents without a true report with a candidate above :data:`THRESHOLD`."""
        top = np.zeros(self.n)
        np.maximum.at(top, self.resident_codes, probability)
        return int((top[self.without_truth] > THRESHOLD).sum())


def family_recall(ranks: pd.Series, family: pd.DataFrame) -> pd.DataFrame:
    """recall@1 and @10 overall and per family (a resident counts in each of its families)."""
    groups = {"overall": ranks}
    members = family.astype({"resident_id": str}).drop_duplicates().groupby("family")["resident_id"]
    for name, ids in members:
        inside = ranks.reindex(pd.Index(ids).intersection(ranks.index))
        if len(inside):
            groups[name] = inside
    return pd.DataFrame({"residents": {k: len(v) for k, v in groups.items()},
                         "r1": {k: float((v <= 1).mean()) for k, v in groups.items()},
                         "r10": {k: float((v <= 10).mean()) for k, v in groups.items()}})


# ---------------------------------------------------------------------------------------------
# the models


def truth_parameters(saved: dict, ranker: Ranker) -> tuple[dict, dict, float]:
    """m from the true candidate pairs; u over all non-matching pairs: the candidate pairs that are
    not true counted exactly, plus the pairs no pass proposed, estimated from the large random
    sample (its pairs that are candidates left out); the prior, true pairs over all pairs."""
    model, vectors = saved["model"], saved["vectors"]
    large = saved["large_random_vectors"]
    candidate_keys = pd.Index(vectors.index.get_level_values(0).astype(str) + "\x1f"
                              + vectors.index.get_level_values(1).astype(str))
    large_keys = pd.Index(large.index.get_level_values(0).astype(str) + "\x1f"
                          + large.index.get_level_values(1).astype(str))
    outside = large[~large_keys.isin(candidate_keys)]
    n_all = saved["n_residents"] * saved["n_reports"]
    n_true = len(saved["truth"])
    n_outside = n_all - len(vectors) - (n_true - int(ranker.is_true.sum()))
    m, u = {}, {}
    for name in model.comparisons_:
        levels = model.levels_[name]
        column = vectors[name].to_numpy()
        true_counts = np.bincount(column[ranker.is_true & (column >= 0)], minlength=levels) + 0.5
        m[name] = true_counts / true_counts.sum()
        other = column[~ranker.is_true & (column >= 0)]
        candidate_other = np.bincount(other, minlength=levels).astype(float)
        out = outside[name].to_numpy()
        seen = out[out >= 0]
        # the share missing among pairs outside the candidates, so the observed pairs are weighed alike
        observed_outside = n_outside * len(seen) / max(len(out), 1)
        out_share = np.bincount(seen, minlength=levels) / max(len(seen), 1)
        counts = candidate_other + observed_outside * out_share
        u[name] = np.clip(counts / counts.sum(), model.min_prob, 1 - model.min_prob)
    prior = n_true / n_all
    return m, u, prior


def fs_model(model, m: dict, u: dict, prior: float) -> FellegiSunter:
    return FellegiSunter.from_parameters(m, u, prior, tf_columns=model.tf_columns, tf_levels=model.tf_levels,
                                         min_prob=model.min_prob)


def supervised_scores(saved: dict, ranker: Ranker, random_state: int = 0,
                      negatives: int = 600_000) -> tuple[np.ndarray, float]:
    """Cross-fitted probabilities of a gradient-boosted classifier on the levels (categorical,
    missing = its own category) and the term frequencies: residents split in two halves at random,
    each half ranked by the model fitted on the other. The negatives of a fit are subsampled to
    ``negatives`` rows, weighted back (``sample_weight``), so probabilities stay those of the full
    candidate set."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model, vectors = saved["model"], saved["vectors"]
    names = list(model.comparisons_)
    extra = [c for c in (model.tf_columns or {}).values() if c in vectors.columns]
    # the EM's partial weights and their sum as features too (label-free), so the classifier can
    # start from the naive-Bayes ranking and add what the interactions bring
    em_weights = score(model, vectors, saved["settings"])[0].to_numpy()
    features = np.column_stack([level_matrix(vectors, names, model.levels_) + 1]
                               + [np.log(pd.to_numeric(vectors[c], errors="coerce").to_numpy(dtype=float))
                                  for c in extra] + [em_weights, em_weights.sum(axis=1)]).astype(np.float32)
    del em_weights
    categorical = [True] * len(names) + [False] * (features.shape[1] - len(names))

    def classifier() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(categorical_features=categorical, max_iter=300, learning_rate=0.1,
                                              max_leaf_nodes=31, l2_regularization=1.0, early_stopping=True,
                                              validation_fraction=0.1, random_state=random_state)

    return _cross_fitted(features, ranker, classifier, random_state, negatives)


def _cross_fitted(features: Any, ranker: Ranker, classifier: Callable[[], Any], random_state: int,
                  negatives: int) -> tuple[np.ndarray, float]:
    """P(true) of every candidate from ``classifier()`` fitted on a random half of the residents and
    applied to the other half, and the other way round; the non-true pairs of the training half
    subsampled to about ``negatives`` and weighted back. Also the CPU seconds of the fits."""
    rng = np.random.default_rng(random_state)
    half = rng.integers(2, size=ranker.n)[ranker.resident_codes]
    probability = np.zeros(features.shape[0])
    started = time.process_time()
    for fold in (0, 1):
        train = np.flatnonzero(half != fold)
        positive = train[ranker.is_true[train]]
        negative = train[~ranker.is_true[train]]
        rate = min(1.0, negatives / max(len(negative), 1))
        negative = rng.choice(negative, size=int(round(len(negative) * rate)), replace=False) if rate < 1 else negative
        rows = np.r_[positive, negative]
        weight = np.r_[np.ones(len(positive)), np.full(len(negative), 1.0 / rate)]
        fitted = classifier().fit(features[rows], ranker.is_true[rows], sample_weight=weight)
        test = np.flatnonzero(half == fold)
        probability[test] = fitted.predict_proba(features[test])[:, 1]
    return probability, time.process_time() - started


def pairwise_logistic_scores(saved: dict, ranker: Ranker, random_state: int = 0, negatives: int = 300_000,
                             strength: float = 0.1) -> tuple[np.ndarray, float]:
    """Cross-fitted probabilities of a logistic regression on the levels one-hot (missing its own
    level), every pair of comparisons' joint levels one-hot (the two-way interactions), the EM's
    match weight and the log term frequencies; L2 penalty ``1 / strength``. Halves and negatives
    as :func:`supervised_scores`."""
    import scipy.sparse as sparse
    from sklearn.linear_model import LogisticRegression

    model, vectors = saved["model"], saved["vectors"]
    names = list(model.comparisons_)
    sizes = [model.levels_[n] + 1 for n in names]
    matrix = level_matrix(vectors, names, model.levels_) + 1
    columns = [matrix[:, j] + sum(sizes[:j]) for j in range(len(names))]
    offset = sum(sizes)
    for a, b in itertools.combinations(range(len(names)), 2):
        columns.append(offset + matrix[:, a] * sizes[b] + matrix[:, b])
        offset += sizes[a] * sizes[b]
    codes = np.column_stack(columns)
    n = len(codes)
    one_hot = sparse.csr_matrix((np.ones(codes.size, np.float32), codes.ravel(),
                                 np.arange(0, codes.size + 1, codes.shape[1])), shape=(n, offset))
    dense = [score(model, vectors, saved["settings"])[1] / 10]
    dense += [np.nan_to_num(np.log(pd.to_numeric(vectors[c], errors="coerce").to_numpy(dtype=float)), nan=0.0)
              for c in (model.tf_columns or {}).values() if c in vectors.columns]
    features = sparse.hstack([one_hot, sparse.csr_matrix(np.column_stack(dense))]).tocsr()
    return _cross_fitted(features, ranker, lambda: LogisticRegression(C=strength, max_iter=300), random_state,
                         negatives)


# ---------------------------------------------------------------------------------------------
# the report


def level_damage(saved: dict, ranker: Ranker, em_weights: pd.DataFrame, truth_weights: pd.DataFrame,
                 m_true: dict, u_true: dict, families: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per level and per comparison: the EM's weight against the truth's, and recall@10 with that
    level's (comparison's) weights alone replaced by the truth model's."""
    model, vectors = saved["model"], saved["vectors"]
    base = em_weights.to_numpy().sum(axis=1)
    base_recall = float((ranker.ranks(base) <= 10).mean())
    nameless = families.loc[families["family"] == "no_usable_name", "resident_id"].astype(str)
    rows, by_comparison = [], []
    true_level = {}
    for name in model.comparisons_:
        column = vectors[name].to_numpy()
        delta = truth_weights[name].to_numpy() - em_weights[name].to_numpy()
        tf_levels = set((model.tf_levels_ or {}).get(name, [])) if name in (model.tf_columns or {}) else set()
        true_level[name] = np.bincount(column[ranker.is_true & (column >= 0)], minlength=model.levels_[name])
        for level in range(model.levels_[name]):
            at = column == level
            if not at.any():
                continue
            ranks = ranker.ranks(base + np.where(at, delta, 0.0))
            w_em = float(np.log2(model.m_[name][level] / model.u_[name][level]))
            w_true = float(np.log2(m_true[name][level] / u_true[name][level]))
            rows.append({"comparison": name, "level": level, "label": model.level_label(name, level),
                         "tf": level in tf_levels, "true_pairs": int(true_level[name][level]),
                         "candidate_pairs": int(at.sum()), "m_em": model.m_[name][level], "m_true": m_true[name][level],
                         "u_em": model.u_[name][level], "u_true": u_true[name][level],
                         "w_em": w_em, "w_true": w_true, "w_diff": w_em - w_true,
                         "d_r10": float((ranks <= 10).mean()) - base_recall,
                         "d_top10": int((ranks <= 10).sum() - (ranker.ranks(base) <= 10).sum())})
        ranks = ranker.ranks(base + delta)
        by_comparison.append({"comparison": name, "d_r10": float((ranks <= 10).mean()) - base_recall,
                              "d_nameless_r10": float((ranks.reindex(pd.Index(nameless).intersection(ranks.index))
                                                       <= 10).mean()
                                                      - (ranker.ranks(base).reindex(
                                                          pd.Index(nameless).intersection(ranks.index)) <= 10).mean())})
    levels = pd.DataFrame(rows).sort_values("d_r10", ascending=False)
    return levels, pd.DataFrame(by_comparison).sort_values("d_r10", ascending=False)


def one_seed(args, seed: int) -> None:
    saved = load_run(args, seed)
    model, vectors, settings, truth = saved["model"], saved["vectors"], saved["settings"], saved["truth"]
    ranker = Ranker(vectors, truth)
    print(f"-- model: EM {model.n_iter_} iterations, converged {model.converged_}, π {model.share_with_report_:.3f}, "
          f"λ {model.lambda_:.3g}; {len(vectors):,} candidate pairs, {int(ranker.is_true.sum()):,} true; "
          f"{len(saved['large_random_vectors']):,} random pairs for the truth's u")
    # (a) the pipeline's ranking, checked against its own table
    em_weights, em_match, em_probability = score(model, vectors, settings)
    em_weights.columns = [c[2:] for c in em_weights.columns]
    em_weights = em_weights[model.comparisons_]
    m_true, u_true, prior = truth_parameters(saved, ranker)
    u_em = {n: model.u_[n] for n in model.comparisons_}
    m_em = {n: model.m_[n] for n in model.comparisons_}
    em_prior = model.lambda_
    variants = {"em": (em_match, em_probability)}
    for label, (m, u, p) in {"truth_nb": (m_true, u_true, prior), "truth_m": (m_true, u_em, em_prior),
                             "truth_u": (m_em, u_true, em_prior)}.items():
        known = fs_model(model, m, u, p)
        weights, match, probability = score(known, vectors, settings)
        variants[label] = (match, probability)
        if label == "truth_nb":
            truth_weights = weights
            truth_weights.columns = [c[2:] for c in truth_weights.columns]
            truth_weights = truth_weights[model.comparisons_]
    for options in args.refits or ():
        # the pipeline's fit again on the same candidates and random pairs, with these model options
        started = time.process_time()
        refitted = fit_model(vectors, saved["random_vectors"], saved["n_residents"],
                             replace(settings, model_options=options), n_reports=saved["n_reports"])
        _, match, probability = score(refitted, vectors, settings)
        label = "refit " + json.dumps(options, ensure_ascii=False, separators=(",", ":"))
        variants[label] = (match, probability)
        print(f"-- {label}: EM {refitted.n_iter_} iterations, π {refitted.share_with_report_:.3f}, start "
              f"{tuple(getattr(refitted, 'em_start_', None) or ())}, {time.process_time() - started:.0f} CPU s")
    if args.no_supervised:
        return report(args, seed, saved, ranker, variants, truth_weights, em_weights, m_true, u_true)
    supervised, cpu = supervised_scores(saved, ranker, negatives=args.negatives)
    variants["supervised"] = (supervised, supervised)
    pairwise, lr_cpu = pairwise_logistic_scores(saved, ranker)
    variants["pairwise_lr"] = (pairwise, pairwise)
    print(f"-- supervised: cross-fitted in {cpu:.0f} CPU s (gradient boosting), {lr_cpu:.0f} (logistic, pairwise)")
    report(args, seed, saved, ranker, variants, truth_weights, em_weights, m_true, u_true)


def report(args, seed, saved, ranker, variants, truth_weights, em_weights, m_true, u_true) -> None:
    """Print (and with ``--json`` write) the rankings' tables."""
    truth, families = saved["truth"], saved["family"]
    table_recall = evaluate_by_family(saved["table"], truth, families, ks=(1, 10))
    table_leads = false_leads(saved["table"], truth, THRESHOLD)["residents_with_any_above"]
    results, summary = {}, []
    # the linking table's ranks where it has them (ties there are broken by the candidates' pre-score,
    # which the vectors do not carry), so "em" is bench_quality's ranking
    table_ranks = first_true_rank(saved["table"], truth)
    for label, (match, probability) in variants.items():
        ranks = ranker.ranks(match)
        if label == "em":
            ranks = table_ranks.reindex(ranks.index).where(lambda r: r <= 50, ranks)
        results[label] = family_recall(ranks, families)
        compared = np.isfinite(ranks)
        below = pd.Series(compared & (ranks > 10), index=ranks.index)
        summary.append({"ranking": label, "recall@1": float((ranks <= 1).mean()),
                        "recall@10": float((ranks <= 10).mean()),
                        "compared": int(compared.sum()), "top10": int((ranks <= 10).sum()),
                        "below10": int((compared & (ranks > 10)).sum()),
                        "below10_nameless": int(below[below.index.isin(
                            families.loc[families["family"] == "no_usable_name", "resident_id"].astype(str))].sum()),
                        "false_leads": ranker.false_leads(probability)})
    overall = table_recall.set_index("family").loc["overall"]
    print(f"-- the linking table (bench_quality's figures): recall@1 {overall['recall@1']:.3f}, "
          f"@10 {overall['recall@10']:.3f}, false leads {table_leads}")
    print(pd.DataFrame(summary).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("-- recall@1 / recall@10 by family")
    joined = pd.concat({label: frame[["r1", "r10"]] for label, frame in results.items()}, axis=1)
    joined.insert(0, "residents", results["em"]["residents"])
    order = ["overall"] + sorted(i for i in joined.index if i != "overall")
    print(joined.loc[order].to_string(float_format=lambda v: f"{v:.3f}"))
    levels, comparisons = level_damage(saved, ranker, em_weights, truth_weights, m_true, u_true, families)
    pd.set_option("display.width", 250)
    print("-- per comparison: recall@10 with its weights from the truth (the rest the EM's)")
    print(comparisons.to_string(index=False, float_format=lambda v: f"{v:+.4f}"))
    print("-- per level, sorted by the move of recall@10 when that level alone takes the truth's weight "
          "(w_* in bits; tf: the level's u is the value's frequency, so only m counts there)")
    print(levels.head(args.levels).to_string(index=False, formatters={
        "m_em": "{:.4f}".format, "m_true": "{:.4f}".format, "u_em": "{:.2e}".format, "u_true": "{:.2e}".format,
        "w_em": "{:+.2f}".format, "w_true": "{:+.2f}".format, "w_diff": "{:+.2f}".format,
        "d_r10": "{:+.4f}".format}))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        key = f"{args.residents}_{args.missing}_{seed}"
        out.with_name(f"{out.stem}_{key}.json").write_text(json.dumps({
            "summary": summary, "families": {k: v.to_dict() for k, v in results.items()},
            "levels": levels.to_dict("records"), "comparisons": comparisons.to_dict("records")}, default=float))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--missing", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--cache", type=Path, help="bench_quality's folder of normalized simulated data")
    parser.add_argument("--runs", help="folder to keep each run in (read back when there)")
    parser.add_argument("--tag", help="a name for the saved run of these options")
    parser.add_argument("--model-options", type=json.loads, help="LinkSettings.model_options as JSON")
    parser.add_argument("--truth-random-pairs", type=int, default=1_000_000,
                        help="random pairs for the truth's u of the pairs no pass proposed")
    parser.add_argument("--negatives", type=int, default=600_000,
                        help="non-true candidate pairs each supervised fit is trained on (weighted back)")
    parser.add_argument("--prescore-share", type=float,
                        help="the caps ranked by weights this share of the way from the hand to the fitted ones")
    parser.add_argument("--save-only", action="store_true", help="link and save the run (--runs), nothing else")
    parser.add_argument("--refits", type=json.loads, nargs="+",
                        help="also rank by the pipeline's fit with these model options (JSON), on the same pairs")
    parser.add_argument("--no-supervised", action="store_true", help="skip the two cross-fitted classifiers")
    parser.add_argument("--levels", type=int, default=25, help="levels printed, the most damaging first")
    parser.add_argument("--json", help="also write the tables as JSON (one file per seed, beside this name)")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 250)
    for seed in args.seeds:
        if args.save_only:
            load_run(args, seed)
        else:
            one_seed(args, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
